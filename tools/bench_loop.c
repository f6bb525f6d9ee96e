/* bench_loop.c - what the terminal's loop costs on top of ZBar, and how fast
 * the desk reacts.
 *
 *   bench_loop MANIFEST [--rounds N] [--samples N] [--markdown OUT.md]
 *
 * MANIFEST is make_frames' manifest.tsv; its pictures are loaded into memory
 * once, so neither measurement includes file decoding.
 *
 * 1. Cost per frame: the same frames, in the same process, alternately
 *    through bare ZBar (QR only, binary: the least a program must do) and
 *    through scan_loop_step() (decode, parse, de-duplicate, desk), rounds
 *    interleaved so that drift hits both alike. Reported as a ratio.
 * 2. Latency: from the moment the camera hands a frame with a new card to
 *    the moment the first GPIO line changes, through the real desk thread;
 *    median and 99th percentile over --samples cards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zbar.h>

#include "base/image_io.h"
#include "base/log.h"
#include "config/config.h"
#include "drivers/camera.h"
#include "loop/desk.h"
#include "machine.h"
#include "loop/scan_loop.h"

#define MAX_FRAMES 4096

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- frames in memory, served as a camera ------------------------------- */

struct frameset {
    struct gray_image img[MAX_FRAMES];
    char category[MAX_FRAMES][32];
    int n;
};

struct camera {
    const struct frameset *set;
    const int *order; /* indexes into set */
    int n, next;
    int64_t arrival_us; /* when the last frame was handed out */
};

static struct camera mem_cam;

static int mem_open(struct camera **out, const struct camera_config *cfg, char *err, size_t errlen)
{
    (void)cfg, (void)err, (void)errlen;
    mem_cam.next = 0;
    *out = &mem_cam;
    return 0;
}

static void mem_close(struct camera *c)
{
    (void)c;
}

static int mem_next(struct camera *c, struct frame *out, int timeout_ms, char *err, size_t errlen)
{
    (void)timeout_ms, (void)err, (void)errlen;
    if (c->next >= c->n)
        return CAMERA_END;
    *out = gray_image_frame(&c->set->img[c->order[c->next++]]);
    c->arrival_us = now_us();
    return CAMERA_FRAME;
}

static const struct camera_ops mem_ops = { "mem", mem_open, mem_close, mem_next };

/* ---- GPIO that notes when a line first changes -------------------------- */

struct gpio_dev {
    int unused;
};
static struct gpio_dev bench_dev;
static volatile int64_t first_change_us;

static int bg_open(struct gpio_dev **out, const struct gpio_config *cfg, char *err, size_t errlen)
{
    (void)cfg, (void)err, (void)errlen;
    *out = &bench_dev;
    return 0;
}
static void bg_close(struct gpio_dev *d)
{
    (void)d;
}
static int bg_set(struct gpio_dev *d, enum gpio_out line, bool on)
{
    (void)d, (void)line;
    if (on && first_change_us == 0)
        __atomic_store_n(&first_change_us, now_us(), __ATOMIC_SEQ_CST);
    return 0;
}
static int bg_fd(struct gpio_dev *d)
{
    (void)d;
    return -1;
}
static int bg_presses(struct gpio_dev *d)
{
    (void)d;
    return 0;
}
static const struct gpio_ops bench_gpio = { "bench", bg_open, bg_close, bg_set, bg_fd, bg_presses };

static int null_accept(void *ctx, const struct cccd_record *rec, const struct sighting *how)
{
    (void)ctx, (void)rec, (void)how;
    return 0;
}
static const struct record_sink null_sink = { NULL, null_accept };

/* ---- loading ------------------------------------------------------------- */

static int load_manifest(const char *path, struct frameset *set)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_loop: %s: cannot open\n", path);
        return -1;
    }
    char dir[1024], line[8192], last[1024] = "";
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    while (fgets(line, sizeof(line), f) && set->n < MAX_FRAMES) {
        char *cat = strtok(line, "\t\n"), *file = strtok(NULL, "\t\n");
        if (!cat || !file || strcmp(file, last) == 0 || cat[0] == '#')
            continue; /* a frame with two codes has two lines */
        snprintf(last, sizeof(last), "%s", file);
        char p[2100], err[512];
        snprintf(p, sizeof(p), "%s/%s", dir, file);
        if (image_load(p, &set->img[set->n], err, sizeof(err)) != IMAGE_OK) {
            fprintf(stderr, "bench_loop: %s\n", err);
            fclose(f);
            return -1;
        }
        snprintf(set->category[set->n], sizeof(set->category[0]), "%s", cat);
        set->n++;
    }
    fclose(f);
    return set->n > 0 ? 0 : -1;
}

/* ---- 1. cost per frame ---------------------------------------------------- */

static double time_zbar(zbar_image_scanner_t *sc, const struct frameset *set)
{
    int64_t t0 = now_us();
    for (int i = 0; i < set->n; i++) {
        zbar_image_t *zi = zbar_image_create();
        zbar_image_set_format(zi, zbar_fourcc('Y', '8', '0', '0'));
        zbar_image_set_size(zi, (unsigned)set->img[i].width, (unsigned)set->img[i].height);
        zbar_image_set_data(zi, set->img[i].pixels, (unsigned long)set->img[i].width * set->img[i].height, NULL);
        zbar_scan_image(sc, zi);
        zbar_image_destroy(zi);
    }
    return (double)(now_us() - t0);
}

static double time_loop(struct scan_loop *l, struct camera *cam, int n)
{
    cam->next = 0;
    cam->n = n;
    int64_t t0 = now_us();
    while (scan_loop_step(l) == SCAN_STEP_FRAME)
        ;
    return (double)(now_us() - t0);
}

static zbar_image_scanner_t *bare_zbar(void)
{
    zbar_image_scanner_t *sc = zbar_image_scanner_create();
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
    zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
    zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1);
    return sc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct results {
    int frames, rounds, samples;
    double zbar_ms, loop_ms;
    double lat_median_ms, lat_p99_ms, lat_max_ms;
};

static int open_loop(struct config *cfg, struct desk **d, struct scan_loop **l)
{
    char err[256];
    config_defaults(cfg);
    cfg->scan.duplicate_window_s = 0; /* every showing of a card is a check-in */
    config_relink(cfg);
    if (desk_open(d, &bench_gpio, &cfg->gpio, BUTTON_REPEAT, err, sizeof(err)) != 0 ||
        scan_loop_open(l, &cfg->scan, &mem_ops, *d, &null_sink, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_loop: %s\n", err);
        return -1;
    }
    return 0;
}

static int measure_cost(const struct frameset *set, int rounds, struct results *res)
{
    static int order[MAX_FRAMES];
    for (int i = 0; i < set->n; i++)
        order[i] = i;
    mem_cam.set = set;
    mem_cam.order = order;
    static struct config cfg;
    struct desk *d;
    struct scan_loop *l;
    if (open_loop(&cfg, &d, &l) != 0)
        return -1;
    zbar_image_scanner_t *sc = bare_zbar();
    double z = 0, lp = 0;
    time_zbar(sc, set); /* warm-up: caches, allocator */
    time_loop(l, &mem_cam, set->n);
    for (int r = 0; r < rounds; r++) {
        z += time_zbar(sc, set);
        lp += time_loop(l, &mem_cam, set->n);
    }
    zbar_image_scanner_destroy(sc);
    scan_loop_close(l);
    desk_close(d);
    res->frames = set->n;
    res->rounds = rounds;
    res->zbar_ms = z / 1000.0 / rounds / set->n;
    res->loop_ms = lp / 1000.0 / rounds / set->n;
    return 0;
}

/* ---- 2. latency ------------------------------------------------------------ */

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int measure_latency(const struct frameset *set, int samples, struct results *res)
{
    static int order[MAX_FRAMES];
    int n = 0;
    for (int i = 0; i < set->n && n < samples; i++)
        if (strcmp(set->category[i], "clean") == 0 || strcmp(set->category[i], "rotation") == 0 ||
            strcmp(set->category[i], "jpeg") == 0)
            order[n++] = i;
    if (n == 0)
        return -1;
    mem_cam.set = set;
    mem_cam.order = order;
    static struct config cfg;
    struct desk *d;
    struct scan_loop *l;
    if (open_loop(&cfg, &d, &l) != 0)
        return -1;
    static int64_t lat[MAX_FRAMES];
    int got = 0;
    mem_cam.next = 0;
    mem_cam.n = n;
    for (int i = 0; i < n; i++) {
        __atomic_store_n(&first_change_us, 0, __ATOMIC_SEQ_CST);
        uint64_t before = scan_loop_stats(l)->accepted;
        if (scan_loop_step(l) != SCAN_STEP_FRAME || scan_loop_stats(l)->accepted == before)
            continue; /* not read: no signal to time */
        for (int w = 0; w < 200 && __atomic_load_n(&first_change_us, __ATOMIC_SEQ_CST) == 0; w++)
            sleep_ms(1);
        int64_t t = __atomic_load_n(&first_change_us, __ATOMIC_SEQ_CST);
        if (t)
            lat[got++] = t - mem_cam.arrival_us;
        sleep_ms(1100); /* let the pattern end: the next change starts from dark */
    }
    scan_loop_close(l);
    desk_close(d);
    if (got == 0)
        return -1;
    qsort(lat, (size_t)got, sizeof(lat[0]), cmp_i64);
    res->samples = got;
    res->lat_median_ms = lat[got / 2] / 1000.0;
    res->lat_p99_ms = lat[(got * 99) / 100 < got ? (got * 99) / 100 : got - 1] / 1000.0;
    res->lat_max_ms = lat[got - 1] / 1000.0;
    return 0;
}

/* ---- report ----------------------------------------------------------------- */

static void report(FILE *o, const struct results *r)
{
    struct utsname u;
    char cpu[128], date[32];
    time_t t = time(NULL);
    uname(&u);
    machine_cpu_model(cpu, sizeof(cpu));
    strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&t));
    fprintf(o, "## Loop cost and desk latency (`make bench`, %s)\n\n", date);
    fprintf(o, "Machine: %s %s, %s, %ld cores online.\n\n", u.sysname, u.machine, cpu, sysconf(_SC_NPROCESSORS_ONLN));
    fprintf(o, "| measure | value |\n| --- | --: |\n");
    fprintf(o, "| frames (make_frames, all categories, in memory) | %d x %d rounds |\n", r->frames, r->rounds);
    fprintf(o, "| bare ZBar, ms per frame | %.3f |\n", r->zbar_ms);
    fprintf(o, "| scan loop (decode, parse, de-duplicate, desk), ms per frame | %.3f |\n", r->loop_ms);
    fprintf(o, "| **loop / bare ZBar** (target <= 1.10) | **%.3f** |\n", r->loop_ms / r->zbar_ms);
    fprintf(o, "| latency frame -> first GPIO change, median ms (%d cards) | %.2f |\n", r->samples, r->lat_median_ms);
    fprintf(o, "| latency, 99th percentile ms | %.2f |\n", r->lat_p99_ms);
    fprintf(o, "| latency, max ms | %.2f |\n", r->lat_max_ms);
}

int main(int argc, char **argv)
{
    const char *manifest = NULL, *md = NULL;
    int rounds = 5, samples = 30;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            samples = atoi(argv[++i]);
        else if (strcmp(argv[i], "--markdown") == 0 && i + 1 < argc)
            md = argv[++i];
        else if (!manifest && argv[i][0] != '-')
            manifest = argv[i];
        else
            manifest = NULL, i = argc;
    }
    if (!manifest || rounds < 1 || samples < 1 || samples > MAX_FRAMES) {
        fprintf(stderr, "usage: bench_loop MANIFEST [--rounds N] [--samples N] [--markdown OUT.md]\n");
        return 2;
    }
    log_set_level(LOG_WARNING); /* one line per card would drown the report */
    static struct frameset set;
    static struct results res;
    if (load_manifest(manifest, &set) != 0 || measure_cost(&set, rounds, &res) != 0 ||
        measure_latency(&set, samples, &res) != 0) {
        fprintf(stderr, "bench_loop: measurement failed\n");
        return 1;
    }
    report(stdout, &res);
    if (md) {
        FILE *o = fopen(md, "w");
        if (!o) {
            fprintf(stderr, "bench_loop: %s: cannot write\n", md);
            return 1;
        }
        report(o, &res);
        fclose(o);
    }
    for (int i = 0; i < set.n; i++)
        gray_image_free(&set.img[i]);
    return 0;
}
