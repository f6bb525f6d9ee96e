/* test_qr_reader.c - the terminal's decoder (qr_reader.h) and its locator
 * (qr_locate.h) on frames with real QR codes drawn in known places. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "card_render.h"
#include "base/clock.h"
#include "base/image_io.h"
#include "imgops.h"
#include "qr_frame.h"
#include "decode/qr_locate.h"
#include "decode/qr_reader.h"
#include "rng.h"

/* Vietnamese UTF-8 that ZBar's text mode would garble (test_qr_decode.c). */
static const char *card_a = "001090012345||Ngô Bảo Châu|05011990|Nam|Số 7, Phường Kim Mã, Ba Đình, Hà Nội|15062021";
static const char *card_b = "079301004321||Lê Thị Hồng|12031993|Nữ|Phường Bến Nghé, Quận 1, TP Hồ Chí Minh|20052022";

#define INK 20
#define PAPER 235

/* ---- helpers --------------------------------------------------------------- */

static void new_frame(struct gray_image *img, int w, int h, int bg)
{
    assert_int_equal(gray_image_alloc(img, w, h, bg), IMAGE_OK);
}

static struct qr_reader *open_reader(const struct qr_reader_opts *opts)
{
    struct qr_reader *r = NULL;
    char err[256] = "";
    assert_int_equal(qr_reader_open(&r, opts, err, sizeof(err)), 0);
    assert_non_null(r);
    return r;
}

static int scan(struct qr_reader *r, const struct gray_image *img)
{
    struct frame f = gray_image_frame(img);
    return qr_reader_scan(r, &f);
}

/* Index of the code holding exactly `payload`, -1 when none; fails when it
 * was reported more than once. */
static int find_code(const struct qr_reader *r, int n, const char *payload)
{
    int at = -1;
    for (int i = 0; i < n; i++) {
        const struct qr_code *c = qr_reader_code(r, i);
        assert_non_null(c);
        assert_true(c->len <= QR_DATA_MAX);
        if (c->len == strlen(payload) && memcmp(c->data, payload, c->len) == 0) {
            if (at >= 0)
                fail_msg("payload reported twice (codes %d and %d)", at, i);
            at = i;
        }
    }
    return at;
}

static const struct qr_code *assert_one_code(const struct qr_reader *r, int n, const char *payload)
{
    assert_int_equal(n, 1);
    const struct qr_code *c = qr_reader_code(r, 0);
    assert_non_null(c);
    assert_int_equal(c->len, strlen(payload));
    assert_memory_equal(c->data, payload, c->len);
    assert_null(qr_reader_code(r, 1));
    assert_null(qr_reader_code(r, -1));
    return c;
}

/* Each corner of the symbol [x0, x1] x [y0, y1] (pixels, inclusive) has one
 * of the code's corners within tol px. */
static void assert_corners_near(const struct qr_code *c, double x0, double y0, double x1, double y1, double tol)
{
    assert_int_equal(c->ncorners, 4);
    const double want[4][2] = { { x0, y0 }, { x1, y0 }, { x1, y1 }, { x0, y1 } };
    for (int k = 0; k < 4; k++) {
        double best = 1e9;
        for (int j = 0; j < 4; j++)
            best = fmin(best, hypot(c->corners[j].x - want[k][0], c->corners[j].y - want[k][1]));
        if (best > tol)
            fail_msg("symbol corner (%.0f, %.0f): nearest reported corner %.1f px away; corners (%d,%d) (%d,%d) "
                     "(%d,%d) (%d,%d)",
                     want[k][0], want[k][1], best, c->corners[0].x, c->corners[0].y, c->corners[1].x,
                     c->corners[1].y, c->corners[2].x, c->corners[2].y, c->corners[3].x, c->corners[3].y);
    }
}

static void invert_image(struct gray_image *img)
{
    for (size_t i = 0; i < (size_t)img->width * (size_t)img->height; i++)
        img->pixels[i] = (uint8_t)(255 - img->pixels[i]);
}

/* ---- reading clean codes --------------------------------------------------- */

static void test_clean_code_vga(void **state)
{
    (void)state;
    struct gray_image img;
    new_frame(&img, 640, 480, PAPER);
    int n_mod = qr_frame_modules(card_a);
    assert_true(n_mod >= 21);
    assert_int_equal(qr_frame_draw(&img, card_a, 4, 100, 60), 0);
    struct qr_reader *r = open_reader(NULL);
    const struct qr_code *c = assert_one_code(r, scan(r, &img), card_a);
    assert_false(c->inverted);
    const struct qr_reader_stats *s = qr_reader_last(r);
    assert_true(s->candidates >= 1);
    assert_true(s->attempts >= 1);
    assert_int_equal(s->read_by, QR_SHAPE_PLAIN);
    assert_false(s->tracked);
    /* Drawn on [100, 100 + 4 n) x [60, 60 + 4 n). */
    assert_corners_near(c, 100, 60, 100 + 4 * n_mod - 1, 60 + 4 * n_mod - 1, 3.0);
    qr_reader_close(r);
    gray_image_free(&img);
}

static void test_clean_code_720p(void **state)
{
    (void)state;
    struct gray_image img;
    new_frame(&img, 1280, 720, PAPER);
    int n_mod = qr_frame_modules(card_b);
    assert_int_equal(qr_frame_draw(&img, card_b, 6, 610, 250), 0);
    struct qr_reader *r = open_reader(NULL);
    const struct qr_code *c = assert_one_code(r, scan(r, &img), card_b);
    assert_false(c->inverted);
    assert_corners_near(c, 610, 250, 610 + 6 * n_mod - 1, 250 + 6 * n_mod - 1, 4.0);
    /* ZBar saw crops, not the frame. */
    assert_true(qr_reader_last(r)->zbar_pixels > 0);
    qr_reader_close(r);
    gray_image_free(&img);
}

/* 10 px modules at 1080p: the crop is shrunk 2x before ZBar, and the
 * outline comes back in frame pixels. */
static void test_corners_of_downscaled_crop(void **state)
{
    (void)state;
    struct gray_image img;
    new_frame(&img, 1920, 1080, PAPER);
    int n_mod = qr_frame_modules(card_a), side = 10 * n_mod;
    assert_int_equal(qr_frame_draw(&img, card_a, 10, 700, 300), 0);
    struct qr_reader *r = open_reader(NULL);
    const struct qr_code *c = assert_one_code(r, scan(r, &img), card_a);
    /* Fewer pixels than the symbol itself at full size: it was shrunk. */
    assert_true(qr_reader_last(r)->zbar_pixels < (long)side * side);
    assert_corners_near(c, 700, 300, 700 + side - 1, 300 + side - 1, 4.0);

    /* 16 px modules: shrunk 4x, still within a few px. */
    gray_image_free(&img);
    new_frame(&img, 1920, 1080, PAPER);
    side = 16 * n_mod;
    assert_int_equal(qr_frame_draw(&img, card_a, 16, 900, 150), 0);
    c = assert_one_code(r, scan(r, &img), card_a);
    assert_true(qr_reader_last(r)->zbar_pixels < (long)side * side / 4);
    assert_corners_near(c, 900, 150, 900 + side - 1, 150 + side - 1, 5.0);
    qr_reader_close(r);
    gray_image_free(&img);
}

/* A phone in dark mode: the same frame with light and dark swapped. */
static void test_inverted_code_is_flagged(void **state)
{
    (void)state;
    struct gray_image img;
    new_frame(&img, 640, 480, PAPER);
    int n_mod = qr_frame_modules(card_b);
    assert_int_equal(qr_frame_draw(&img, card_b, 4, 200, 100), 0);
    struct qr_reader *r = open_reader(NULL);
    const struct qr_code *c = assert_one_code(r, scan(r, &img), card_b);
    assert_false(c->inverted);

    invert_image(&img);
    qr_reader_forget(r);
    c = assert_one_code(r, scan(r, &img), card_b);
    assert_true(c->inverted);
    /* Clean, it reads in the first shape, as its printed twin does. */
    assert_int_equal(qr_reader_last(r)->read_by, QR_SHAPE_PLAIN);
    assert_corners_near(c, 200, 100, 200 + 4 * n_mod - 1, 100 + 4 * n_mod - 1, 3.0);

    /* And back: the flag belongs to the read, not to the reader. */
    invert_image(&img);
    c = assert_one_code(r, scan(r, &img), card_b);
    assert_false(c->inverted);
    qr_reader_close(r);
    gray_image_free(&img);
}

/* Codes turned by quarter turns all read, with the right outline. */
static void test_turned_codes_read(void **state)
{
    (void)state;
    struct qr_reader *r = open_reader(NULL);
    int n_mod = qr_frame_modules(card_a);
    for (int t = 0; t < 4; t++) {
        struct gray_image img;
        new_frame(&img, 640, 480, PAPER);
        assert_int_equal(qr_frame_draw_turned(&img, card_a, 4, 150, 80, t, INK, PAPER), 0);
        qr_reader_forget(r);
        int n = scan(r, &img);
        if (n != 1)
            fail_msg("turned %d x 90 degrees: %d codes", t, n);
        assert_one_code(r, n, card_a);
        assert_corners_near(qr_reader_code(r, 0), 150, 80, 150 + 4 * n_mod - 1, 80 + 4 * n_mod - 1, 3.0);
        gray_image_free(&img);
    }
    qr_reader_close(r);
}

/* A card on a desk, turned and tilted, through the camera model the
 * read-rate tools use. */
static void test_card_on_desk(void **state)
{
    (void)state;
    struct rng g;
    rng_seed(&g, 20261127);
    struct qr_matrix qr;
    char err[256];
    assert_int_equal(qr_matrix_encode((const uint8_t *)card_a, strlen(card_a), &qr, err, sizeof(err)), 0);
    struct card_texture tex;
    assert_int_equal(card_texture_render(&tex, CARD_LOOK_2021, CARD_CODE_QR, &qr, 6, &g), 0);
    qr_matrix_free(&qr);
    struct gray_image img;
    new_frame(&img, 1280, 720, 0);
    desk_render(&img, &g);
    struct card_pose pose = { .cx = 500, .cy = 380, .module_px = 5.0, .angle_deg = 25, .tilt_x_deg = 12,
                              .tilt_y_deg = -8, .focal_px = 1150 };
    assert_int_equal(card_draw(&img, &tex, &pose), 0);
    assert_int_equal(img_gaussian_blur(&img, 0.6), 0);
    img_add_noise(&img, &g, 2.0);
    struct point2 q[4];
    assert_true(card_pose_qr_corners(&tex, &pose, q));

    struct qr_reader *r = open_reader(NULL);
    const struct qr_code *c = assert_one_code(r, scan(r, &img), card_a);
    assert_false(c->inverted);
    assert_int_equal(c->ncorners, 4);
    /* Every symbol corner has a reported corner within a module and a half. */
    for (int k = 0; k < 4; k++) {
        double best = 1e9;
        for (int j = 0; j < 4; j++)
            best = fmin(best, hypot(c->corners[j].x - q[k].x, c->corners[j].y - q[k].y));
        if (best > 1.5 * pose.module_px)
            fail_msg("symbol corner (%.1f, %.1f): nearest reported corner %.1f px away", q[k].x, q[k].y, best);
    }
    qr_reader_close(r);
    card_texture_free(&tex);
    gray_image_free(&img);
}

/* ---- frames without codes -------------------------------------------------- */

/* The point of the locator: nothing that looks like a finder, no ZBar call. */
static void test_empty_frames_cost_no_zbar(void **state)
{
    (void)state;
    struct qr_reader *r = open_reader(NULL);
    struct rng g;
    rng_seed(&g, 42);
    const int sizes[][2] = { { 640, 480 }, { 1280, 720 } };
    for (size_t s = 0; s < 2; s++) {
        struct gray_image img;
        /* flat dark, mid and light */
        for (int level = 0; level <= 255; level += 85) {
            new_frame(&img, sizes[s][0], sizes[s][1], level);
            assert_int_equal(scan(r, &img), 0);
            assert_int_equal(qr_reader_last(r)->candidates, 0);
            assert_int_equal(qr_reader_last(r)->attempts, 0);
            assert_int_equal(qr_reader_last(r)->zbar_pixels, 0);
            assert_int_equal(qr_reader_last(r)->read_by, -1);
            assert_false(qr_reader_last(r)->tracked);
            gray_image_free(&img);
        }
        /* sensor noise, light to heavy, and a desk surface */
        for (double sigma = 3; sigma <= 48; sigma *= 2) {
            new_frame(&img, sizes[s][0], sizes[s][1], 128);
            img_add_noise(&img, &g, sigma);
            int n = scan(r, &img);
            if (n != 0 || qr_reader_last(r)->attempts != 0)
                fail_msg("%dx%d noise sigma %.0f: %d codes, %d candidates, %d ZBar calls", img.width, img.height,
                         sigma, n, qr_reader_last(r)->candidates, qr_reader_last(r)->attempts);
            gray_image_free(&img);
        }
        new_frame(&img, sizes[s][0], sizes[s][1], 0);
        desk_render(&img, &g);
        img_add_noise(&img, &g, 2.5);
        assert_int_equal(scan(r, &img), 0);
        assert_int_equal(qr_reader_last(r)->attempts, 0);
        assert_false(qr_reader_last(r)->smeared); /* the desk's grain is no smear */
        gray_image_free(&img);
    }
    qr_reader_close(r);
}

/* ---- a card moving while the shutter is open ------------------------------- */

/* A card smeared by a 10.5 px movement (at 4.2 px a module; 8 to 13 px all
 * read, so the test does not hang on one edge):
 * the locator finds no finder in the smear, ZBar reads nothing, and the
 * reader's smear probe deblurs the frame and reads it. The same card sharp
 * never goes near the probe. */
static void test_smeared_card_is_deblurred(void **state)
{
    (void)state;
    struct rng g;
    rng_seed(&g, 2026112701);
    struct qr_matrix qr;
    char err[256];
    assert_int_equal(qr_matrix_encode((const uint8_t *)card_b, strlen(card_b), &qr, err, sizeof(err)), 0);
    struct card_texture tex;
    assert_int_equal(card_texture_render(&tex, CARD_LOOK_2024, CARD_CODE_QR, &qr, 6, &g), 0);
    qr_matrix_free(&qr);
    struct gray_image img;
    new_frame(&img, 640, 480, 0);
    desk_render(&img, &g);
    struct card_pose pose = { .cx = 330, .cy = 250, .module_px = 4.2, .angle_deg = 3, .tilt_x_deg = 4,
                              .tilt_y_deg = -3, .focal_px = 576 };
    assert_int_equal(card_draw(&img, &tex, &pose), 0);
    assert_int_equal(img_gaussian_blur(&img, 0.6), 0);
    struct gray_image sharp;
    new_frame(&sharp, 640, 480, 0);
    memcpy(sharp.pixels, img.pixels, 640 * 480);
    assert_int_equal(img_motion_blur(&img, 10.5, 80 * M_PI / 180), 0);
    img_add_noise(&img, &g, 2.0);
    img_add_noise(&sharp, &g, 2.0);

    /* No time budget: under qemu-user (make test-cross) a frame takes 20 times
     * as long, and the default 150 ms ran out before the probe. */
    const struct qr_reader_opts unlimited = { .budget_ms = 0, .track_frames = QR_READER_DEFAULT_TRACK_FRAMES };
    struct qr_reader *r = open_reader(&unlimited);
    assert_int_equal(scan(r, &sharp), 1);
    assert_false(qr_reader_last(r)->smeared);
    qr_reader_forget(r);

    struct frame f = gray_image_frame(&img);
    struct qr_decoder *dec = NULL;
    assert_int_equal(qr_decoder_open(&dec, err, sizeof(err)), 0);
    assert_int_equal(qr_decoder_scan(dec, &f), 0); /* bare ZBar: nothing */
    qr_decoder_close(dec);
    struct qr_locator *loc = NULL;
    assert_int_equal(qr_locator_open(&loc), 0);
    struct qr_candidate c[QR_LOCATE_MAX];
    assert_int_equal(qr_locate(loc, &f, c, QR_LOCATE_MAX), 0);
    qr_locator_close(loc);

    assert_one_code(r, scan(r, &img), card_b);
    const struct qr_reader_stats *st = qr_reader_last(r);
    assert_true(st->smeared);
    assert_int_equal(st->read_by, QR_SHAPE_DEBLURRED);
    assert_string_equal(qr_shape_name(QR_SHAPE_DEBLURRED), "deblurred");
    qr_reader_close(r);
    card_texture_free(&tex);
    gray_image_free(&img);
    gray_image_free(&sharp);
}

/* ---- the locator ----------------------------------------------------------- */

/* Where the symbol's own top-left, top-right and bottom-left finder centres
 * land when a symbol of n modules drawn at (x0, y0), s px a module, is
 * turned clockwise t quarter turns: a clockwise turn takes (u, v) to
 * (n - v, u), in modules. */
static void expected_finders(int n, int s, int x0, int y0, int t, double out[3][2])
{
    const double canon[3][2] = { { 3.5, 3.5 }, { n - 3.5, 3.5 }, { 3.5, n - 3.5 } };
    for (int i = 0; i < 3; i++) {
        double u = canon[i][0], v = canon[i][1];
        for (int k = 0; k < t; k++) {
            double nu = n - v, nv = u;
            u = nu, v = nv;
        }
        out[i][0] = x0 + u * s;
        out[i][1] = y0 + v * s;
    }
}

static void test_locator_orders_finders(void **state)
{
    (void)state;
    struct qr_locator *loc = NULL;
    assert_int_equal(qr_locator_open(&loc), 0);
    static const char *const names[3] = { "top-left", "top-right", "bottom-left" };
    int n_mod = qr_frame_modules(card_a);
    for (int inv = 0; inv < 2; inv++)
        for (int t = 0; t < 4; t++) {
            struct gray_image img;
            new_frame(&img, 640, 480, PAPER);
            assert_int_equal(qr_frame_draw_turned(&img, card_a, 4, 180, 90, t, INK, PAPER), 0);
            if (inv)
                invert_image(&img);
            struct frame f = gray_image_frame(&img);
            struct qr_candidate cands[QR_LOCATE_MAX];
            int n = qr_locate(loc, &f, cands, QR_LOCATE_MAX);
            assert_in_range(n, 1, QR_LOCATE_MAX);
            const struct qr_candidate *c = &cands[0]; /* whole symbols first */
            if (c->nfinders != 3)
                fail_msg("turn %d, inverted %d: best candidate has %d finders", t, inv, c->nfinders);
            assert_int_equal(c->inverted, inv);
            assert_true(fabsf(c->module_px - 4.0f) < 0.6f);
            double want[3][2];
            expected_finders(n_mod, 4, 180, 90, t, want);
            for (int i = 0; i < 3; i++) {
                double d = hypot(c->finder[i].x - want[i][0], c->finder[i].y - want[i][1]);
                if (d > 2.0)
                    fail_msg("turn %d, inverted %d: %s finder at (%.1f, %.1f), expected (%.1f, %.1f)", t, inv,
                             names[i], c->finder[i].x, c->finder[i].y, want[i][0], want[i][1]);
            }
            /* Handedness in image coordinates (y down). */
            double cross = (c->finder[1].x - c->finder[0].x) * (c->finder[2].y - c->finder[0].y) -
                           (c->finder[1].y - c->finder[0].y) * (c->finder[2].x - c->finder[0].x);
            assert_true(cross > 0);
            /* The rect holds the whole symbol and lies in the frame. */
            assert_true(c->rect.x0 >= 0 && c->rect.y0 >= 0 && c->rect.x1 <= 640 && c->rect.y1 <= 480);
            assert_true(c->rect.x0 <= 180 && c->rect.y0 <= 90);
            assert_true(c->rect.x1 >= 180 + 4 * n_mod && c->rect.y1 >= 90 + 4 * n_mod);
            /* The finders it reports include the three. */
            const float *xy = NULL;
            int nf = qr_locator_finders(loc, &xy);
            assert_true(nf >= 3);
            assert_non_null(xy);
            gray_image_free(&img);
        }
    struct frame bad = { 20, 20, 20, NULL };
    struct qr_candidate one;
    assert_int_equal(qr_locate(loc, &bad, &one, 1), -1);
    qr_locator_close(loc);
}

/* ---- several codes --------------------------------------------------------- */

static void test_two_codes_each_once(void **state)
{
    (void)state;
    struct gray_image img;
    new_frame(&img, 1280, 720, PAPER);
    assert_int_equal(qr_frame_draw(&img, card_a, 5, 80, 120), 0);
    assert_int_equal(qr_frame_draw(&img, card_b, 5, 760, 260), 0);
    for (int budget = 0; budget <= QR_READER_DEFAULT_BUDGET_MS; budget += QR_READER_DEFAULT_BUDGET_MS) {
        struct qr_reader_opts o = { .budget_ms = budget, .track_frames = 0 };
        struct qr_reader *r = open_reader(&o);
        int n = scan(r, &img);
        assert_int_equal(n, 2);
        int a = find_code(r, n, card_a), b = find_code(r, n, card_b);
        assert_true(a >= 0 && b >= 0 && a != b);
        assert_true(qr_reader_code(r, a)->corners[0].x < 640);
        assert_true(qr_reader_code(r, b)->corners[0].x >= 640);
        assert_null(qr_reader_code(r, 2));
        qr_reader_close(r);
    }
    gray_image_free(&img);
}

/* The same payload twice in view is one code. */
static void test_same_payload_twice_is_one_code(void **state)
{
    (void)state;
    struct gray_image img;
    new_frame(&img, 1280, 720, PAPER);
    assert_int_equal(qr_frame_draw(&img, card_b, 5, 80, 120), 0);
    assert_int_equal(qr_frame_draw(&img, card_b, 5, 760, 260), 0);
    struct qr_reader_opts o = { .budget_ms = 0, .track_frames = 0 };
    struct qr_reader *r = open_reader(&o);
    assert_one_code(r, scan(r, &img), card_b);
    qr_reader_close(r);
    gray_image_free(&img);
}

/* ---- time budget ----------------------------------------------------------- */

/* A code whose finders are whole but whose data is noise: the locator
 * proposes it, no shape reads it. */
static void draw_unreadable(struct gray_image *img, int scale, int x0, int y0)
{
    assert_int_equal(qr_frame_draw(img, card_a, scale, x0, y0), 0);
    int n = qr_frame_modules(card_a);
    struct rng g;
    rng_seed(&g, 99);
    for (int v = 9; v < n - 9; v++)
        for (int u = 9; u < n - 9; u++) {
            uint8_t p = rng_chance(&g, 0.5) ? INK : PAPER;
            img_fill_rect(img, x0 + u * scale, y0 + v * scale, x0 + (u + 1) * scale, y0 + (v + 1) * scale, p);
        }
}

static void test_budget_stops_shapes(void **state)
{
    (void)state;
    struct gray_image img;
    new_frame(&img, 1280, 720, PAPER);
    draw_unreadable(&img, 4, 400, 200);

    struct qr_reader_opts unlimited = { .budget_ms = 0, .track_frames = 0 };
    struct qr_reader *r = open_reader(&unlimited);
    int64_t t0 = clock_ms();
    assert_int_equal(scan(r, &img), 0);
    int64_t all_ms = clock_ms() - t0;
    struct qr_reader_stats all = *qr_reader_last(r);
    qr_reader_close(r);
    assert_true(all.candidates >= 1);
    assert_false(all.over_budget);
    assert_int_equal(all.read_by, -1);
    /* plain, rectified, normalized, enlarged (4 px modules), smoothed,
     * sharpened: every shape of the whole symbol at least. */
    assert_true(all.attempts >= QR_SHAPE_COUNT);

    struct qr_reader_opts tight = { .budget_ms = 1, .track_frames = 0 };
    r = open_reader(&tight);
    t0 = clock_ms();
    assert_int_equal(scan(r, &img), 0);
    int64_t tight_ms = clock_ms() - t0;
    struct qr_reader_stats cut = *qr_reader_last(r);
    qr_reader_close(r);
    /* The locator alone on 720p takes more than 1 ms: only the first shape of
     * the first candidate runs (a ZBar call under way is not cut short). */
    assert_true(cut.over_budget);
    assert_int_equal(cut.attempts, 1);
    assert_true(cut.attempts < all.attempts);
    assert_true(cut.zbar_pixels < all.zbar_pixels);
    print_message("budget 0: %d ZBar calls, %lld ms; budget 1 ms: %d, %lld ms\n", all.attempts,
                  (long long)all_ms, cut.attempts, (long long)tight_ms);
    gray_image_free(&img);
}

/* ---- tracking -------------------------------------------------------------- */

/* A faint code (contrast 10): ZBar reads it, the locator (flat-block and
 * finder-contrast rules) does not take its finders. */
static void faint_frame(struct gray_image *img)
{
    new_frame(img, 640, 480, 133);
    assert_int_equal(qr_frame_draw_turned(img, card_a, 4, 240, 140, 0, 123, 133), 0);
}

static void test_tracking_reads_what_locator_misses(void **state)
{
    (void)state;
    struct gray_image clear, faint;
    new_frame(&clear, 640, 480, PAPER);
    assert_int_equal(qr_frame_draw(&clear, card_a, 4, 240, 140), 0);
    faint_frame(&faint);

    struct qr_reader *r = open_reader(NULL);
    /* Alone, the faint frame gives the locator nothing and ZBar no call. */
    assert_int_equal(scan(r, &faint), 0);
    assert_int_equal(qr_reader_last(r)->candidates, 0);
    assert_int_equal(qr_reader_last(r)->attempts, 0);
    assert_false(qr_reader_last(r)->tracked);

    /* After a read at the same place, it is looked for there and read. */
    assert_one_code(r, scan(r, &clear), card_a);
    assert_false(qr_reader_last(r)->tracked);
    assert_one_code(r, scan(r, &faint), card_a);
    assert_int_equal(qr_reader_last(r)->candidates, 0);
    assert_true(qr_reader_last(r)->tracked);
    assert_true(qr_reader_last(r)->attempts >= 1);
    /* A read by tracking renews the place: it goes on being read. */
    for (int i = 0; i < QR_READER_DEFAULT_TRACK_FRAMES + 2; i++)
        assert_one_code(r, scan(r, &faint), card_a);

    /* forget(): the next frame is unrelated. */
    qr_reader_forget(r);
    assert_int_equal(scan(r, &faint), 0);
    assert_false(qr_reader_last(r)->tracked);
    assert_int_equal(qr_reader_last(r)->attempts, 0);
    qr_reader_close(r);

    /* track_frames = 0: off. */
    struct qr_reader_opts off = { .budget_ms = QR_READER_DEFAULT_BUDGET_MS, .track_frames = 0 };
    r = open_reader(&off);
    assert_one_code(r, scan(r, &clear), card_a);
    assert_int_equal(scan(r, &faint), 0);
    assert_false(qr_reader_last(r)->tracked);
    assert_int_equal(qr_reader_last(r)->attempts, 0);
    qr_reader_close(r);
    gray_image_free(&clear);
    gray_image_free(&faint);
}

/* The place is tried for exactly track_frames frames without a read. */
static void test_tracking_expires(void **state)
{
    (void)state;
    struct gray_image clear, empty;
    new_frame(&clear, 640, 480, PAPER);
    assert_int_equal(qr_frame_draw(&clear, card_b, 4, 240, 140), 0);
    new_frame(&empty, 640, 480, PAPER);
    struct qr_reader_opts o = { .budget_ms = QR_READER_DEFAULT_BUDGET_MS, .track_frames = 3 };
    struct qr_reader *r = open_reader(&o);
    assert_int_equal(scan(r, &empty), 0);
    assert_false(qr_reader_last(r)->tracked); /* nothing read yet */
    assert_one_code(r, scan(r, &clear), card_b);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(scan(r, &empty), 0);
        if (!qr_reader_last(r)->tracked)
            fail_msg("empty frame %d after the read was not tracked", i + 1);
        assert_int_equal(qr_reader_last(r)->candidates, 0);
        assert_true(qr_reader_last(r)->attempts >= 1);
    }
    assert_int_equal(scan(r, &empty), 0);
    assert_false(qr_reader_last(r)->tracked);
    assert_int_equal(qr_reader_last(r)->attempts, 0);

    /* A new read starts the count again; forget() ends it at once. */
    assert_one_code(r, scan(r, &clear), card_b);
    assert_int_equal(scan(r, &empty), 0);
    assert_true(qr_reader_last(r)->tracked);
    qr_reader_forget(r);
    assert_int_equal(scan(r, &empty), 0);
    assert_false(qr_reader_last(r)->tracked);
    assert_int_equal(qr_reader_last(r)->attempts, 0);
    qr_reader_close(r);
    gray_image_free(&clear);
    gray_image_free(&empty);
}

/* ---- frames the reader refuses or skips ------------------------------------ */

static void test_invalid_frames(void **state)
{
    (void)state;
    uint8_t px[64 * 64];
    memset(px, 128, sizeof(px));
    struct qr_reader *r = open_reader(NULL);
    const struct frame bad[] = {
        { 32, 32, 32, NULL },                              /* no pixels */
        { 32, 32, 31, px },                                /* stride < width */
        { 0, 32, 32, px },                                 /* width 0 */
        { 32, 0, 32, px },                                 /* height 0 */
        { -4, 32, 32, px },                                /* negative */
        { FRAME_MAX_SIDE + 1, 2, FRAME_MAX_SIDE + 1, px }, /* 8193 wide */
        { 2, FRAME_MAX_SIDE + 1, 2, px },                  /* 8193 high */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = qr_reader_scan(r, &bad[i]);
        if (rc != QR_ERR_FRAME)
            fail_msg("frame %zu (%dx%d stride %d): %d, want QR_ERR_FRAME", i, bad[i].width, bad[i].height,
                     bad[i].stride, rc);
        assert_null(qr_reader_code(r, 0));
    }
    assert_int_equal(qr_reader_scan(r, NULL), QR_ERR_FRAME);

    /* Under 21 px no symbol fits: no codes, no error. */
    const int small[][2] = { { 20, 20 }, { 1, 1 }, { 20, 64 }, { 64, 20 }, { 21, 20 } };
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        struct frame f = { small[i][0], small[i][1], 64, px };
        assert_int_equal(qr_reader_scan(r, &f), 0);
        assert_int_equal(qr_reader_last(r)->attempts, 0);
    }
    /* 21 x 21 is scanned (and holds nothing). */
    struct frame f21 = { 21, 21, 64, px };
    assert_int_equal(qr_reader_scan(r, &f21), 0);
    qr_reader_close(r);
}

/* Row padding in the camera buffer is not part of the picture. */
static void test_frame_with_stride(void **state)
{
    (void)state;
    struct gray_image img;
    new_frame(&img, 400, 400, PAPER);
    assert_int_equal(qr_frame_draw(&img, card_b, 3, 150, 120), 0);
    int stride = 448;
    uint8_t *padded = malloc((size_t)stride * 400);
    assert_non_null(padded);
    for (int y = 0; y < 400; y++) {
        memcpy(padded + (size_t)y * stride, img.pixels + (size_t)y * 400, 400);
        memset(padded + (size_t)y * stride + 400, 0, (size_t)(stride - 400));
    }
    struct frame f = { 400, 400, stride, padded };
    struct qr_reader *r = open_reader(NULL);
    assert_one_code(r, qr_reader_scan(r, &f), card_b);
    qr_reader_close(r);
    free(padded);
    gray_image_free(&img);
}

static void test_shape_names(void **state)
{
    (void)state;
    assert_string_equal(qr_shape_name(QR_SHAPE_PLAIN), "plain");
    assert_string_equal(qr_shape_name(QR_SHAPE_RECTIFIED), "rectified");
    assert_string_equal(qr_shape_name(QR_SHAPE_SHARPENED), "sharpened");
    assert_string_equal(qr_shape_name(QR_SHAPE_COUNT), "none");
    assert_string_equal(qr_shape_name((enum qr_shape)-1), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_code_vga),
        cmocka_unit_test(test_clean_code_720p),
        cmocka_unit_test(test_corners_of_downscaled_crop),
        cmocka_unit_test(test_inverted_code_is_flagged),
        cmocka_unit_test(test_turned_codes_read),
        cmocka_unit_test(test_card_on_desk),
        cmocka_unit_test(test_empty_frames_cost_no_zbar),
        cmocka_unit_test(test_smeared_card_is_deblurred),
        cmocka_unit_test(test_locator_orders_finders),
        cmocka_unit_test(test_two_codes_each_once),
        cmocka_unit_test(test_same_payload_twice_is_one_code),
        cmocka_unit_test(test_budget_stops_shapes),
        cmocka_unit_test(test_tracking_reads_what_locator_misses),
        cmocka_unit_test(test_tracking_expires),
        cmocka_unit_test(test_invalid_frames),
        cmocka_unit_test(test_frame_with_stride),
        cmocka_unit_test(test_shape_names),
    };
    return cmocka_run_group_tests_name("qr_reader", tests, NULL, NULL);
}
