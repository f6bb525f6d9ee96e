/* test_scan_loop.c - the loop end to end on replayed and piped frames. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "config/config.h"
#include "loop/desk.h"
#include "fake_gpio.h"
#include "base/image_io.h"
#include "qr_frame.h"
#include "loop/scan_loop.h"

static const char *card_a = "079090001234|025123456|Ngô Bảo Châu|28061990|Nam|Số 12 Hoàng Hoa Thám, Hà Nội|15062021";
static const char *card_bad = "079190001234|025123456|Ngô Bảo Châu|28061990|Nam|Hà Nội|15062021"; /* sex mismatch */
static const char *not_card = "https://vneid.gov.vn/";

static char dir[64];

static struct cccd_record received[8];
static int nreceived;
static bool sink_full;

static bool received_screen[8];

static int sink_accept(void *ctx, const struct cccd_record *rec, const struct sighting *how)
{
    (void)ctx;
    if (nreceived < 8)
        received_screen[nreceived] = how->screen;
    if (sink_full)
        return -1;
    if (nreceived < 8)
        received[nreceived++] = *rec;
    return 0;
}

static const struct record_sink sink = { NULL, sink_accept };

/* A phone in dark mode: the same picture, light and dark swapped. */
static int save_inverted(const char *from, const char *to)
{
    char p[128], err[256];
    struct gray_image img;
    snprintf(p, sizeof(p), "%s/%s", dir, from);
    if (image_load(p, &img, err, sizeof(err)) != IMAGE_OK)
        return -1;
    for (size_t i = 0; i < (size_t)img.width * (size_t)img.height; i++)
        img.pixels[i] = (uint8_t)(255 - img.pixels[i]);
    snprintf(p, sizeof(p), "%s/%s", dir, to);
    int rc = image_save(p, &img, 0, err, sizeof(err));
    gray_image_free(&img);
    return rc == IMAGE_OK ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cccd-loop-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char p[128];
    const char *names[] = { "a.png", "bad.png", "url.png", "empty.png" };
    const char *payloads[] = { card_a, card_bad, not_card, NULL };
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        if (qr_frame_save(p, payloads[i]) != 0)
            return -1;
    }
    return save_inverted("a.png", "a-dark.png");
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A clip: numbered links in dir/clip-N to the pictures, played in order as
 * a camera would deliver them. */
static char clip_dir[128];
static int clip_frames;

static const char *clip_begin(int n)
{
    static char source[160];
    snprintf(clip_dir, sizeof(clip_dir), "%s/clip-%d", dir, n);
    assert_int_equal(mkdir(clip_dir, 0700), 0);
    clip_frames = 0;
    snprintf(source, sizeof(source), "files:%s", clip_dir);
    return source;
}

static void add(const char *name, int count)
{
    for (int i = 0; i < count; i++) {
        char from[160], to[160];
        snprintf(from, sizeof(from), "%s/%s", dir, name);
        snprintf(to, sizeof(to), "%s/%04d.png", clip_dir, clip_frames++);
        assert_int_equal(symlink(from, to), 0);
    }
}

static void make_config_threads(struct config *cfg, const char *source, int fps, int threads)
{
    char text[320], err[256];
    snprintf(text, sizeof(text),
             "[camera]\nfps = %d\nloop = false\nreopen_min_ms = 50\nreopen_max_ms = 200\n"
             "stall_timeout_ms = 300\nwidth = 320\nheight = 320\n[scan]\ndecode_threads = %d\n",
             fps, threads);
    assert_int_equal(config_parse_string(text, "t.conf", cfg, err, sizeof(err)), 0);
    assert_true(strlen(source) < sizeof(cfg->camera_source));
    strcpy(cfg->camera_source, source);
    config_relink(cfg);
}

/* One decoder per core (the default), as the terminal runs. */
static void make_config(struct config *cfg, const char *source, int fps)
{
    make_config_threads(cfg, source, fps, 0);
}

static struct desk *open_desk(void)
{
    struct gpio_config g;
    memset(&g, 0, sizeof(g));
    struct desk *d;
    char err[128];
    fake_gpio_clear();
    assert_int_equal(desk_open(&d, &fake_gpio_ops, &g, BUTTON_REPEAT, err, sizeof(err)), 0);
    return d;
}

/* A card held up for three frames is one check-in; shown again after it
 * left the view, it is a duplicate; a bad card and a URL are told apart. */
static void test_outcomes_from_replayed_frames(void **state)
{
    (void)state;
    const char *list = clip_begin(1);
    add("a.png", 3);
    add("empty.png", 90); /* 1.8 s at 50 fps: the card has left */
    add("a.png", 2);
    add("empty.png", 90);
    add("bad.png", 1);
    add("url.png", 1);
    add("empty.png", 3);
    static struct config cfg;
    make_config(&cfg, list, 50);
    struct desk *d = open_desk();
    struct scan_loop *l;
    char err[256];
    nreceived = 0;
    assert_int_equal(scan_loop_open(&l, &cfg.scan, NULL, d, &sink, err, sizeof(err)), 0);
    int steps = 0, rc;
    while ((rc = scan_loop_step(l)) != SCAN_STEP_END && steps++ < 2000)
        assert_true(rc >= 0);
    const struct scan_stats *s = scan_loop_stats(l);
    assert_int_equal(s->frames, 190);
    assert_int_equal(s->accepted, 1);
    assert_int_equal(s->duplicates, 1);
    assert_int_equal(s->rejected, 1);
    assert_int_equal(s->not_cards, 1);
    assert_int_equal(s->codes, 4);
    assert_int_equal(s->camera_failures, 0);
    assert_int_equal(nreceived, 1);
    assert_string_equal(received[0].id_number, "079090001234");
    assert_string_equal(received[0].full_name, "Ngô Bảo Châu");
    scan_loop_close(l);
    desk_close(d);
}

/* A VNeID screen in dark mode is read and handed on as such, whether one
 * thread decodes or several; a printed card is not a screen. Frames come
 * faster than one decoder could take them: none is acted on twice. */
static void test_dark_mode_screen(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 3; threads++) {
        const char *list = clip_begin(10 + threads);
        add("a-dark.png", 4);
        add("empty.png", 180); /* 1.8 s at 100 fps: the code has left the view */
        add("a.png", 1);
        static struct config cfg;
        make_config_threads(&cfg, list, 100, threads);
        cfg.scan.duplicate_window_s = 0;
        struct desk *d = open_desk();
        struct scan_loop *l;
        char err[256];
        nreceived = 0;
        assert_int_equal(scan_loop_open(&l, &cfg.scan, NULL, d, &sink, err, sizeof(err)), 0);
        while (scan_loop_step(l) != SCAN_STEP_END)
            ;
        const struct scan_stats *s = scan_loop_stats(l);
        assert_int_equal(s->frames, 185);
        assert_int_equal(s->accepted, 2);
        assert_int_equal(nreceived, 2);
        assert_true(received_screen[0]);
        assert_false(received_screen[1]);
        assert_string_equal(received[0].id_number, "079090001234");
        scan_loop_close(l);
        desk_close(d);
    }
}

static void test_queue_full_is_not_accepted(void **state)
{
    (void)state;
    const char *list = clip_begin(2);
    add("a.png", 1);
    static struct config cfg;
    make_config(&cfg, list, 50);
    struct desk *d = open_desk();
    struct scan_loop *l;
    char err[256];
    sink_full = true;
    nreceived = 0;
    assert_int_equal(scan_loop_open(&l, &cfg.scan, NULL, d, &sink, err, sizeof(err)), 0);
    while (scan_loop_step(l) != SCAN_STEP_END)
        ;
    sink_full = false;
    assert_int_equal(scan_loop_stats(l)->accepted, 0);
    assert_int_equal(scan_loop_stats(l)->refused, 1);
    scan_loop_close(l);
    desk_close(d);
}

/* A camera that is not there: fault pattern, retries with backoff, no exit. */
static void test_missing_camera_is_retried(void **state)
{
    (void)state;
    const char *sources[] = { "v4l2:/dev/video-none", "files:/nonexistent-dir", "pipe:exit 3" };
    for (int i = 0; i < 3; i++) {
        static struct config cfg;
        make_config(&cfg, sources[i], 10);
        struct desk *d = open_desk();
        struct scan_loop *l;
        char err[256];
        assert_int_equal(scan_loop_open(&l, &cfg.scan, NULL, d, &sink, err, sizeof(err)), 0);
        int64_t t0 = clock_ms();
        while (clock_ms() - t0 < 700)
            assert_int_equal(scan_loop_step(l), SCAN_STEP_IDLE);
        assert_int_equal(scan_loop_stats(l)->camera_failures, 1); /* one fault, however many retries */
        struct fake_event ev[64];
        int n = fake_gpio_events(ev, 64);
        int red_on = 0;
        for (int k = 0; k < n; k++)
            red_on += ev[k].line == GPIO_RED && ev[k].on;
        assert_true(red_on >= 1);
        scan_loop_close(l);
        desk_close(d);
    }
}

/* Raw YUV420 frames from a command: the path for Pi camera modules. */
static void test_pipe_source_reads_a_card(void **state)
{
    (void)state;
    struct gray_image img;
    assert_int_equal(gray_image_alloc(&img, 320, 320, 235), 0);
    assert_int_equal(qr_frame_draw(&img, card_a, 3, 30, 30), 0);
    char raw[128], source[256];
    snprintf(raw, sizeof(raw), "%s/frames.yuv", dir);
    FILE *f = fopen(raw, "wb");
    assert_non_null(f);
    static uint8_t chroma[320 * 160];
    memset(chroma, 128, sizeof(chroma));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fwrite(img.pixels, 1, 320 * 320, f), 320 * 320);
        assert_int_equal(fwrite(chroma, 1, sizeof(chroma), f), sizeof(chroma));
    }
    fclose(f);
    gray_image_free(&img);
    snprintf(source, sizeof(source), "pipe:cat %s; sleep 5", raw);
    static struct config cfg;
    make_config(&cfg, source, 10);
    struct desk *d = open_desk();
    struct scan_loop *l;
    char err[256];
    nreceived = 0;
    assert_int_equal(scan_loop_open(&l, &cfg.scan, NULL, d, &sink, err, sizeof(err)), 0);
    int64_t t0 = clock_ms();
    while (scan_loop_stats(l)->accepted == 0 && clock_ms() - t0 < 3000)
        assert_true(scan_loop_step(l) >= 0);
    assert_int_equal(scan_loop_stats(l)->accepted, 1);
    assert_string_equal(received[0].id_number, "079090001234");
    scan_loop_close(l); /* stops the command */
    desk_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcomes_from_replayed_frames),
        cmocka_unit_test(test_dark_mode_screen),
        cmocka_unit_test(test_queue_full_is_not_accepted),
        cmocka_unit_test(test_missing_camera_is_retried),
        cmocka_unit_test(test_pipe_source_reads_a_card),
    };
    return cmocka_run_group_tests_name("scan_loop", tests, setup, teardown);
}
