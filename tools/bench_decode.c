/* bench_decode.c - the decoder against bare ZBar: the baseline of issue 6.
 *
 *   bench_decode [--frames N] [--seed S] [--rounds N] [--clips N]
 *                [--memory-frames N] [--markdown OUT.md]
 *
 * Everything is generated in memory (tools/common), so nothing here measures
 * file decoding, and one seed gives the same payloads everywhere.
 *
 * 1. Time per frame: empty desks and desks with a card at 640x480, 1280x720
 *    and 1920x1080, each frame through (a) bare ZBar configured as the project
 *    does (QR only, binary), (b) ZBar's own defaults (every symbology, text
 *    mode) and (c) qr_reader_scan(), the terminal's reader. The three run back to back on the same
 *    frame, in an order that rotates with the frame and the round, so drift
 *    (the CI next door, frequency scaling) hits all alike. Ratios against (a).
 *    Plus card frames at 640x480 inverted as a phone in dark mode shows them.
 * 2. Reads on those frames, exact bytes only (ZBar's text mode garbles
 *    Vietnamese). Read rate per category is tools/readrate's job.
 * 3. Time-to-first-read: clips of a card sliding in from an edge, blurred
 *    at first, at 1280x720; frame index of the first exact read for (a), (c).
 * 4. Resident size over --memory-frames small frames (half with a code):
 *    through qr_reader_scan (its decoder renews the scanner: flat) and through one bare
 *    scanner never renewed (ZBar's per-decode leak, upstream issue #258).
 */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zbar.h>

#include "card_render.h"
#include "cccd_gen.h"
#include "base/image_io.h"
#include "imgops.h"
#include "machine.h"
#include "decode/qr_decode.h"
#include "decode/qr_reader.h"
#include "rng.h"

enum { DEC_BARE, DEC_DEFAULTS, DEC_OURS, NDEC };
static const char *const dec_name[NDEC] = { "bare ZBar (a)", "ZBar defaults (b)", "qr_reader_scan (c)" };

#define NSIZES 3
static const int sizes[NSIZES][2] = { { 640, 480 }, { 1280, 720 }, { 1920, 1080 } };
/* Empty and card at each size, then one set of phone screens in dark mode. */
#define NSETS (2 * NSIZES + 1)

#define CLIP_FRAMES 30
#define CLIP_W 1280
#define CLIP_H 720
#define MAX_CLIPS 64

#define MEM_W 320
#define MEM_H 240
#define MEM_CODES 8
#define MEM_EVERY 10000

/* Random streams: each kind of item draws from its own, so adding frames of
 * one kind does not change the others. */
enum { STREAM_SET = 100, STREAM_CLIP = 200, STREAM_MEM = 300 };

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the decoders ---------------------------------------------------------- */

struct decoders {
    zbar_image_scanner_t *zb[NDEC]; /* DEC_BARE and DEC_DEFAULTS; DEC_OURS unused */
    struct qr_reader *ours; /* the terminal's reader, its default budget and tracking */
};

/* What the project configures (firmware/decode/qr_decode.c), without its wrapper. */
static zbar_image_scanner_t *bare_zbar(void)
{
    zbar_image_scanner_t *sc = zbar_image_scanner_create();
    if (!sc)
        return NULL;
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
    zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
    zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1);
    return sc;
}

/* What a program gets that configures nothing: every symbology on. */
static zbar_image_scanner_t *default_zbar(void)
{
    zbar_image_scanner_t *sc = zbar_image_scanner_create();
    if (sc)
        zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 1);
    return sc;
}

static int decoders_open(struct decoders *d)
{
    char err[256];
    memset(d, 0, sizeof(*d));
    d->zb[DEC_BARE] = bare_zbar();
    d->zb[DEC_DEFAULTS] = default_zbar();
    if (!d->zb[DEC_BARE] || !d->zb[DEC_DEFAULTS] || qr_reader_open(&d->ours, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_decode: cannot set up the decoders\n");
        return -1;
    }
    return 0;
}

static void decoders_close(struct decoders *d)
{
    for (int k = 0; k < NDEC; k++)
        if (d->zb[k])
            zbar_image_scanner_destroy(d->zb[k]);
    qr_reader_close(d->ours);
}

/* Outcome of one decode: exact = the expected payload came back byte for
 * byte; other = symbols that are not it (garbled text, false reads). */
struct outcome {
    int exact, other;
};

static bool same_bytes(const void *data, size_t len, const char *payload)
{
    return payload && len == strlen(payload) && memcmp(data, payload, len) == 0;
}

static struct outcome zbar_decode(zbar_image_scanner_t *sc, const struct gray_image *img, const char *payload)
{
    struct outcome o = { 0, 0 };
    zbar_image_t *zi = zbar_image_create();
    if (!zi)
        return o;
    zbar_image_set_format(zi, zbar_fourcc('Y', '8', '0', '0'));
    zbar_image_set_size(zi, (unsigned)img->width, (unsigned)img->height);
    zbar_image_set_data(zi, img->pixels, (unsigned long)img->width * (unsigned long)img->height, NULL);
    if (zbar_scan_image(sc, zi) > 0)
        for (const zbar_symbol_t *s = zbar_image_first_symbol(zi); s; s = zbar_symbol_next(s)) {
            bool hit = same_bytes(zbar_symbol_get_data(s), zbar_symbol_get_data_length(s), payload);
            o.exact += hit;
            o.other += !hit;
        }
    zbar_image_destroy(zi);
    return o;
}

static struct outcome ours_decode(struct qr_reader *dec, const struct gray_image *img, const char *payload)
{
    struct outcome o = { 0, 0 };
    struct frame f = gray_image_frame(img);
    int n = qr_reader_scan(dec, &f);
    for (int i = 0; i < n; i++) {
        const struct qr_code *c = qr_reader_code(dec, i);
        bool hit = same_bytes(c->data, c->len, payload);
        o.exact += hit;
        o.other += !hit;
    }
    return o;
}

static struct outcome decode_with(struct decoders *d, int which, const struct gray_image *img, const char *payload)
{
    if (which == DEC_OURS)
        return ours_decode(d->ours, img, payload);
    return zbar_decode(d->zb[which], img, payload);
}

/* ---- scenes ------------------------------------------------------------------ */

/* Texture resolution about 1.5x the frame's, as make_frames draws it, so the
 * warp mostly shrinks and modules average like camera pixels. */
static int texture_ppm(double module_px)
{
    int s = (int)ceil(module_px * 1.5);
    return s < 4 ? 4 : s > 12 ? 12 : s;
}

static int card_texture_for(const char *payload, enum card_look look, double module_px, struct rng *r,
                            struct card_texture *tex)
{
    struct qr_matrix qr;
    char err[256];
    if (qr_matrix_encode((const uint8_t *)payload, strlen(payload), &qr, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_decode: %s\n", err);
        return -1;
    }
    int rc = card_texture_render(tex, look, CARD_CODE_QR, &qr, texture_ppm(module_px), r);
    qr_matrix_free(&qr);
    return rc;
}

/* A card held still in front of a desk camera: upright within a few degrees,
 * slightly tilted. The module size grows with the resolution, since the same
 * card at the same distance covers the same part of the view. */
static struct card_pose desk_pose(int width, struct rng *r)
{
    double dir = rng_range(r, 0, 2 * M_PI), tilt = rng_range(r, 0, 8);
    struct card_pose p = { .module_px = rng_range(r, 3.5, 4.5) * width / 640.0,
                           .angle_deg = rng_range(r, -4, 4),
                           .tilt_x_deg = tilt * cos(dir),
                           .tilt_y_deg = tilt * sin(dir),
                           .focal_px = 0.9 * width };
    return p;
}

/* Camera order, as make_frames: scene light, optics, sensor noise. */
static int camera_finish(struct gray_image *img, double blur_sigma, struct rng *r)
{
    img_illuminate(img, rng_range(r, -0.3, 0.3), rng_range(r, -0.3, 0.3), rng_range(r, 0.0, 0.25));
    if (img_gaussian_blur(img, blur_sigma) != 0)
        return -1;
    img_add_noise(img, r, rng_range(r, 1.5, 3.0));
    return 0;
}

/* Share of payloads from cccd_gen's Big5-prone word lists, as make_frames
 * draws them: without these, ZBar's text mode would look harmless. */
#define BIG5_SHARE 0.45

static void random_payload(struct rng *r, char *out)
{
    enum cccd_gen_card kind = rng_chance(r, 0.5) ? CCCD_GEN_2021 : CCCD_GEN_2024;
    enum cccd_gen_text text = rng_chance(r, BIG5_SHARE) ? CCCD_GEN_TEXT_BIG5 : CCCD_GEN_TEXT_ANY;
    cccd_gen_card(r, kind, text, out, CCCD_GEN_MAX);
}

/* Desk with a card whose code is fully in view. payload must be set. */
static int render_card_frame(struct gray_image *img, const char *payload, struct rng *r)
{
    desk_render(img, r);
    struct card_pose pose = desk_pose(img->width, r);
    enum card_look look = rng_chance(r, 0.5) ? CARD_LOOK_2021 : CARD_LOOK_2024;
    struct card_texture tex;
    if (card_texture_for(payload, look, pose.module_px, r, &tex) != 0)
        return -1;
    int rc = card_pose_place(&tex, &pose, 0, 0, img->width, img->height, 2.0, false, r);
    if (rc == 0)
        rc = card_draw(img, &tex, &pose);
    card_texture_free(&tex);
    return rc == 0 ? camera_finish(img, rng_range(r, 0.4, 0.7), r) : -1;
}

static int render_empty_frame(struct gray_image *img, struct rng *r)
{
    desk_render(img, r);
    return camera_finish(img, rng_range(r, 0.4, 0.7), r);
}

/* ---- 1. and 2. time per frame and reads ------------------------------------ */

struct frame_set {
    int width, height;
    bool card, inverted;
    int n;
    struct gray_image *img;
    char (*payload)[CCCD_GEN_MAX]; /* "" on empty frames */
    double *ms[NDEC];              /* per frame, summed over rounds */
    int exact[NDEC], other[NDEC];  /* from the first round */
};

static int set_alloc(struct frame_set *s, int n)
{
    s->n = n;
    s->img = calloc((size_t)n, sizeof(*s->img));
    s->payload = calloc((size_t)n, sizeof(*s->payload));
    bool ok = s->img && s->payload;
    for (int k = 0; k < NDEC; k++)
        ok = (s->ms[k] = calloc((size_t)n, sizeof(double))) && ok;
    return ok ? 0 : -1;
}

static void set_free(struct frame_set *s)
{
    for (int i = 0; s->img && i < s->n; i++)
        gray_image_free(&s->img[i]);
    free(s->img);
    free(s->payload);
    for (int k = 0; k < NDEC; k++)
        free(s->ms[k]);
}

/* A phone screen in dark mode shows light modules on black. The whole frame
 * is inverted (the desk too), which is all a decoder needs to face. */
static void invert(struct gray_image *img)
{
    for (size_t i = 0; i < (size_t)img->width * (size_t)img->height; i++)
        img->pixels[i] = (uint8_t)(255 - img->pixels[i]);
}

static int set_render(struct frame_set *s, int index, int n, uint64_t seed)
{
    if (set_alloc(s, n) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        struct rng r;
        rng_seed_stream(&r, seed, STREAM_SET + (uint64_t)index, (uint64_t)i);
        if (gray_image_alloc(&s->img[i], s->width, s->height, 0) != IMAGE_OK)
            return -1;
        if (s->card)
            random_payload(&r, s->payload[i]);
        int rc = s->card ? render_card_frame(&s->img[i], s->payload[i], &r) : render_empty_frame(&s->img[i], &r);
        if (rc != 0)
            return -1;
        if (s->inverted)
            invert(&s->img[i]);
    }
    return 0;
}

static int sets_render(struct frame_set sets[NSETS], int n, uint64_t seed)
{
    for (int i = 0; i < NSETS; i++) {
        bool dark = i == 2 * NSIZES;
        sets[i].width = sizes[dark ? 0 : i / 2][0];
        sets[i].height = sizes[dark ? 0 : i / 2][1];
        sets[i].card = dark || i % 2 == 1;
        sets[i].inverted = dark;
        if (set_render(&sets[i], i, n, seed) != 0) {
            fprintf(stderr, "bench_decode: cannot render the %dx%d frames\n", sets[i].width, sets[i].height);
            return -1;
        }
    }
    return 0;
}

/* One frame through all three decoders back to back; the starting decoder
 * rotates so none always runs first (with cold caches) or last. */
static void time_frame(struct decoders *d, struct frame_set *s, int i, int round)
{
    for (int k = 0; k < NDEC; k++) {
        int which = (k + i + round) % NDEC;
        double t0 = now_ms();
        struct outcome o = decode_with(d, which, &s->img[i], s->payload[i]);
        s->ms[which][i] += now_ms() - t0;
        if (round == 0) {
            s->exact[which] += o.exact;
            s->other[which] += o.other;
        }
    }
}

static int measure_time(struct frame_set sets[NSETS], int rounds)
{
    struct decoders d;
    if (decoders_open(&d) != 0) {
        decoders_close(&d);
        return -1;
    }
    for (int i = 0; i < NSETS; i++) /* warm-up: caches, allocator, page faults */
        for (int k = 0; k < NDEC; k++)
            decode_with(&d, k, &sets[i].img[0], sets[i].payload[0]);
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < NSETS; i++) {
            /* The sets are unrelated scenes: no remembered place from the last. */
            qr_reader_forget(d.ours);
            for (int f = 0; f < sets[i].n; f++)
                time_frame(&d, &sets[i], f, r);
        }
    decoders_close(&d);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct timing {
    double median, mean;
};

static struct timing summarize(const double *sum_ms, int n, int rounds)
{
    struct timing t = { 0, 0 };
    double *v = malloc((size_t)n * sizeof(double));
    if (!v)
        return t;
    for (int i = 0; i < n; i++) {
        v[i] = sum_ms[i] / rounds;
        t.mean += v[i] / n;
    }
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    t.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    free(v);
    return t;
}

/* ---- 3. time-to-first-read ---------------------------------------------------- */

struct clip_result {
    char edge;         /* L, R, T, B: where the card comes in */
    double module_px;  /* at rest */
    int in_view;       /* first frame with the whole symbol inside the frame, -1 never */
    int first[NDEC];   /* first exact read, -1 never (DEC_DEFAULTS unused) */
};

struct clip {
    struct gray_image desk; /* background, the same in every frame */
    struct card_texture tex;
    struct card_pose rest;
    double dx, dy; /* offset at frame 0: the card just outside the edge */
    double light[3]; /* gradient x, y and vignette: the same in every frame */
    char payload[CCCD_GEN_MAX];
};

static bool card_box(const struct card_texture *t, const struct card_pose *p, double box[4])
{
    struct homography h;
    if (!card_pose_transform(t, p, &h))
        return false;
    double c[4][2] = { { 0, 0 }, { t->img.width, 0 }, { t->img.width, t->img.height }, { 0, t->img.height } };
    box[0] = box[1] = INFINITY;
    box[2] = box[3] = -INFINITY;
    for (int i = 0; i < 4; i++) {
        struct point2 q;
        if (!homography_apply(&h, (struct point2){ c[i][0], c[i][1] }, &q))
            return false;
        box[0] = fmin(box[0], q.x), box[1] = fmin(box[1], q.y);
        box[2] = fmax(box[2], q.x), box[3] = fmax(box[3], q.y);
    }
    return true;
}

/* Sets the starting offset so that the whole card lies just past one edge. */
static int clip_start(struct clip *c, struct clip_result *res, struct rng *r)
{
    double box[4];
    if (!card_box(&c->tex, &c->rest, box))
        return -1;
    res->edge = "LRTB"[rng_int(r, 0, 3)];
    c->dx = res->edge == 'L' ? -box[2] - 1 : res->edge == 'R' ? CLIP_W - box[0] + 1 : 0;
    c->dy = res->edge == 'T' ? -box[3] - 1 : res->edge == 'B' ? CLIP_H - box[1] + 1 : 0;
    return 0;
}

static int clip_setup(struct clip *c, struct clip_result *res, uint64_t seed, int index)
{
    struct rng r;
    rng_seed_stream(&r, seed, STREAM_CLIP, (uint64_t)index);
    random_payload(&r, c->payload);
    if (gray_image_alloc(&c->desk, CLIP_W, CLIP_H, 0) != IMAGE_OK)
        return -1;
    desk_render(&c->desk, &r);
    /* Held farther than the still frames (modules 4-5 px, where the make_frames
     * categories sit): at 7-9 px the blur would not matter. */
    c->rest = desk_pose(CLIP_W, &r);
    c->rest.module_px = rng_range(&r, 4.0, 5.0);
    res->module_px = c->rest.module_px;
    c->light[0] = rng_range(&r, -0.3, 0.3), c->light[1] = rng_range(&r, -0.3, 0.3);
    c->light[2] = rng_range(&r, 0.0, 0.25);
    enum card_look look = rng_chance(&r, 0.5) ? CARD_LOOK_2021 : CARD_LOOK_2024;
    if (card_texture_for(c->payload, look, c->rest.module_px, &r, &c->tex) != 0)
        return -1;
    if (card_pose_place(&c->tex, &c->rest, 0, 0, CLIP_W, CLIP_H, 2.0, false, &r) != 0)
        return -1;
    return clip_start(c, res, &r);
}

static void clip_free(struct clip *c)
{
    gray_image_free(&c->desk);
    card_texture_free(&c->tex);
}

/* The hand slows down as it arrives (ease-out), at 60 % of the clip; the
 * camera's focus catches up a little later: sigma 3.0 down to 0.5 at 80 %. */
static void clip_motion(int i, struct clip *c, struct card_pose *pose, double *sigma)
{
    double u = fmin(1.0, i / (0.6 * (CLIP_FRAMES - 1))), left = (1 - u) * (1 - u);
    *pose = c->rest;
    pose->cx += c->dx * left;
    pose->cy += c->dy * left;
    *sigma = 3.0 - 2.5 * fmin(1.0, i / (0.8 * (CLIP_FRAMES - 1)));
}

static bool symbol_in_view(const struct card_texture *t, const struct card_pose *p)
{
    struct point2 q[4];
    if (!card_pose_qr_corners(t, p, q))
        return false;
    for (int k = 0; k < 4; k++)
        if (q[k].x < 0 || q[k].y < 0 || q[k].x >= CLIP_W || q[k].y >= CLIP_H)
            return false;
    return true;
}

static int clip_frame(struct clip *c, int i, struct gray_image *img, struct rng *r, bool *in_view)
{
    struct card_pose pose;
    double sigma;
    clip_motion(i, c, &pose, &sigma);
    memcpy(img->pixels, c->desk.pixels, (size_t)CLIP_W * CLIP_H);
    *in_view = symbol_in_view(&c->tex, &pose);
    if (card_draw(img, &c->tex, &pose) != 0)
        return -1;
    img_illuminate(img, c->light[0], c->light[1], c->light[2]);
    if (img_gaussian_blur(img, sigma) != 0)
        return -1;
    img_add_noise(img, r, 2.0);
    return 0;
}

static int run_clip(struct decoders *d, uint64_t seed, int index, struct clip_result *res)
{
    struct clip c;
    memset(&c, 0, sizeof(c));
    memset(res, 0, sizeof(*res));
    res->in_view = res->first[DEC_BARE] = res->first[DEC_OURS] = -1;
    struct gray_image img = { 0, 0, NULL };
    int rc = clip_setup(&c, res, seed, index) == 0 && gray_image_alloc(&img, CLIP_W, CLIP_H, 0) == IMAGE_OK ? 0 : -1;
    struct rng noise;
    rng_seed_stream(&noise, seed, STREAM_CLIP + 1, (uint64_t)index);
    qr_reader_forget(d->ours);
    for (int i = 0; rc == 0 && i < CLIP_FRAMES; i++) {
        bool in_view;
        rc = clip_frame(&c, i, &img, &noise, &in_view);
        if (in_view && res->in_view < 0)
            res->in_view = i;
        for (int k = 0; rc == 0 && k < NDEC; k++)
            if (k != DEC_DEFAULTS && res->first[k] < 0 && decode_with(d, k, &img, c.payload).exact)
                res->first[k] = i;
    }
    gray_image_free(&img);
    clip_free(&c);
    return rc;
}

static int measure_clips(struct clip_result *res, int nclips, uint64_t seed)
{
    struct decoders d;
    int rc = decoders_open(&d);
    for (int i = 0; rc == 0 && i < nclips; i++)
        if ((rc = run_clip(&d, seed, i, &res[i])) != 0)
            fprintf(stderr, "bench_decode: cannot render clip %d\n", i);
    decoders_close(&d);
    return rc;
}

/* ---- 4. memory ------------------------------------------------------------------ */

struct mem_result {
    int frames, nsamples;
    long *rss_kib[2]; /* [0] qr_reader_scan, [1] bare ZBar never renewed */
    long reads[2];
    double seconds[2];
};

static long rss_kib(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A clean code on a plain sheet, drawn directly (no card, no warp), so that
 * 100,000 frames take a minute or two and ZBar decodes every one. */
static int draw_plain_code(struct gray_image *img, const char *payload)
{
    struct qr_matrix m;
    char err[256];
    if (qr_matrix_encode((const uint8_t *)payload, strlen(payload), &m, err, sizeof(err)) != 0)
        return -1;
    int side = m.width + 2 * QR_QUIET_ZONE, px = (MEM_H - 8) / side;
    px = px > 3 ? 3 : px;
    int x0 = (MEM_W - side * px) / 2 + QR_QUIET_ZONE * px, y0 = (MEM_H - side * px) / 2 + QR_QUIET_ZONE * px;
    int rc = px >= 2 && gray_image_alloc(img, MEM_W, MEM_H, 200) == IMAGE_OK ? 0 : -1;
    for (int y = 0; rc == 0 && y < m.width * px; y++)
        for (int x = 0; x < m.width * px; x++)
            if (m.dark[(y / px) * m.width + x / px])
                img->pixels[(size_t)(y0 + y) * MEM_W + (size_t)(x0 + x)] = 30;
    qr_matrix_free(&m);
    return rc;
}

struct mem_frames {
    struct gray_image code[MEM_CODES], empty;
    char payload[MEM_CODES][CCCD_GEN_MAX];
};

static void mem_frames_free(struct mem_frames *m)
{
    for (int i = 0; i < MEM_CODES; i++)
        gray_image_free(&m->code[i]);
    gray_image_free(&m->empty);
}

static int mem_frames_make(struct mem_frames *m, uint64_t seed)
{
    struct rng r;
    rng_seed_stream(&r, seed, STREAM_MEM, 0);
    for (int i = 0; i < MEM_CODES; i++) {
        random_payload(&r, m->payload[i]);
        if (draw_plain_code(&m->code[i], m->payload[i]) != 0)
            return -1;
    }
    /* The empty half: the same plain sheet without its code. A desk texture
     * or sensor noise would double the run time and tell nothing more here:
     * ZBar only leaks on frames it reads. */
    return gray_image_alloc(&m->empty, MEM_W, MEM_H, 200) == IMAGE_OK ? 0 : -1;
}

/* Every other frame holds a code; RSS sampled before the first frame and
 * every MEM_EVERY frames (and after the last). */
static void mem_loop(struct decoders *d, int which, const struct mem_frames *m, struct mem_result *res, int slot)
{
    /* Hand free heap back first: a leak would otherwise fill pages that
     * earlier work left resident and not show in RSS at all. */
    malloc_trim(0);
    double t0 = now_ms();
    int s = 0;
    res->rss_kib[slot][s++] = rss_kib();
    for (int i = 0; i < res->frames; i++) {
        const struct gray_image *img = i % 2 == 0 ? &m->code[(i / 2) % MEM_CODES] : &m->empty;
        const char *payload = i % 2 == 0 ? m->payload[(i / 2) % MEM_CODES] : NULL;
        res->reads[slot] += decode_with(d, which, img, payload).exact;
        if ((i + 1) % MEM_EVERY == 0 || i + 1 == res->frames)
            res->rss_kib[slot][s++] = rss_kib();
    }
    res->seconds[slot] = (now_ms() - t0) / 1000.0;
}

static int measure_memory(struct mem_result *res, uint64_t seed)
{
    res->nsamples = 1 + (res->frames + MEM_EVERY - 1) / MEM_EVERY;
    for (int k = 0; k < 2; k++)
        if (!(res->rss_kib[k] = calloc((size_t)res->nsamples, sizeof(long))))
            return -1;
    struct mem_frames m;
    memset(&m, 0, sizeof(m));
    struct decoders d;
    memset(&d, 0, sizeof(d));
    int rc = mem_frames_make(&m, seed) == 0 && decoders_open(&d) == 0 ? 0 : -1;
    if (rc == 0) {
        /* Ours first: the bare scanner's leak would otherwise be heap that
         * ours reuses, hiding its own growth. */
        mem_loop(&d, DEC_OURS, &m, res, 0);
        mem_loop(&d, DEC_BARE, &m, res, 1);
    }
    decoders_close(&d);
    mem_frames_free(&m);
    return rc;
}

/* ---- report ---------------------------------------------------------------------- */

struct bench {
    int frames, rounds, nclips;
    uint64_t seed;
    struct frame_set sets[NSETS];
    struct clip_result clips[MAX_CLIPS];
    struct mem_result mem;
    double seconds[4]; /* wall time of each part */
};

static void report_machine(FILE *o, const struct bench *b)
{
    struct utsname u;
    char cpu[128], date[32];
    unsigned maj = 0, min = 0, pat = 0;
    time_t t = time(NULL);
    uname(&u);
    machine_cpu_model(cpu, sizeof(cpu));
    zbar_version(&maj, &min, &pat);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&t));
    fprintf(o, "## Decoding against bare ZBar (`bench_decode`, %s)\n\n", date);
    fprintf(o, "Machine: `%s %s %s %s`, %s, %ld cores online; libzbar %u.%u.%u.\n", u.sysname, u.nodename,
            u.release, u.machine, cpu, sysconf(_SC_NPROCESSORS_ONLN), maj, min, pat);
    fprintf(o, "Options: --frames %d --rounds %d --clips %d --seed %llu --memory-frames %d.\n\n", b->frames,
            b->rounds, b->nclips, (unsigned long long)b->seed, b->mem.frames);
}

static const char *set_kind(const struct frame_set *s)
{
    return s->inverted ? "dark-mode card" : s->card ? "card" : "empty";
}

static void report_time(FILE *o, const struct bench *b)
{
    fprintf(o, "### 1. Time per frame (%d frames per row, %d rounds, decoders interleaved per frame; %.0f s)\n\n",
            b->frames, b->rounds, b->seconds[0]);
    fprintf(o, "ms per frame, median / mean over frames; ratios are of the means (medians in brackets).\n\n");
    fprintf(o, "| frames | %s | %s | %s | defaults / bare | ours / bare |\n", dec_name[0], dec_name[1], dec_name[2]);
    fprintf(o, "| --- | --: | --: | --: | --: | --: |\n");
    for (int i = 0; i < NSETS; i++) {
        const struct frame_set *s = &b->sets[i];
        struct timing t[NDEC];
        for (int k = 0; k < NDEC; k++)
            t[k] = summarize(s->ms[k], s->n, b->rounds);
        fprintf(o, "| %s %dx%d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2fx (%.2fx) | **%.2fx** (%.2fx) |\n",
                set_kind(s), s->width, s->height, t[0].median, t[0].mean, t[1].median, t[1].mean,
                t[2].median, t[2].mean, t[1].mean / t[0].mean, t[1].median / t[0].median, t[2].mean / t[0].mean,
                t[2].median / t[0].median);
    }
    fprintf(o, "\n");
}

static void report_reads(FILE *o, const struct bench *b)
{
    fprintf(o, "### 2. Reads on these frames (first round; exact bytes / anything else returned)\n\n");
    fprintf(o, "| frames | codes | %s | %s | %s |\n| --- | --: | --: | --: | --: |\n", dec_name[0], dec_name[1],
            dec_name[2]);
    for (int i = 0; i < NSETS; i++) {
        const struct frame_set *s = &b->sets[i];
        fprintf(o, "| %s %dx%d | %d | %d / %d | %d / %d | %d / %d |\n", set_kind(s), s->width,
                s->height, s->card ? s->n : 0, s->exact[0], s->other[0], s->exact[1], s->other[1], s->exact[2],
                s->other[2]);
    }
    fprintf(o, "\nRead rate per category (clean, small, rotation, perspective, blur, glare, dark, noise, jpeg,\n"
               "multi, not-card, empty): `tools/readrate` on `tools/make_frames` frames, docs/read-rate.md.\n\n");
}

static void fmt_index(char *out, size_t size, int v)
{
    if (v < 0)
        snprintf(out, size, "never");
    else
        snprintf(out, size, "%d", v);
}

/* Mean of the first-read indexes, counting a clip never read as CLIP_FRAMES. */
static double clip_mean(const struct bench *b, int k, int *never)
{
    double sum = 0;
    *never = 0;
    for (int i = 0; i < b->nclips; i++) {
        int v = k < 0 ? b->clips[i].in_view : b->clips[i].first[k];
        *never += v < 0;
        sum += v < 0 ? CLIP_FRAMES : v;
    }
    return b->nclips ? sum / b->nclips : 0;
}

static void report_clips(FILE *o, const struct bench *b)
{
    if (b->nclips == 0)
        return;
    fprintf(o, "### 3. Time to first read (%d clips of %d frames at %dx%d; %.0f s)\n\n", b->nclips, CLIP_FRAMES,
            CLIP_W, CLIP_H, b->seconds[1]);
    fprintf(o, "A card slides in from an edge and stops at frame %d; blur sigma falls from 3.0 to 0.5 at frame %d.\n"
               "Frame index (0-based) of the first exact read; `in view` = first frame with the whole symbol inside.\n\n",
            (int)lround(0.6 * (CLIP_FRAMES - 1)), (int)lround(0.8 * (CLIP_FRAMES - 1)));
    fprintf(o, "| clip | from | module px | in view | %s | %s |\n| --: | :-: | --: | --: | --: | --: |\n",
            dec_name[DEC_BARE], dec_name[DEC_OURS]);
    for (int i = 0; i < b->nclips; i++) {
        const struct clip_result *c = &b->clips[i];
        char v[16], a[16], z[16];
        fmt_index(v, sizeof(v), c->in_view);
        fmt_index(a, sizeof(a), c->first[DEC_BARE]);
        fmt_index(z, sizeof(z), c->first[DEC_OURS]);
        fprintf(o, "| %d | %c | %.1f | %s | %s | %s |\n", i, c->edge, c->module_px, v, a, z);
    }
    int nv, na, nz;
    double mv = clip_mean(b, -1, &nv), ma = clip_mean(b, DEC_BARE, &na), mz = clip_mean(b, DEC_OURS, &nz);
    fprintf(o, "| **mean** | | | %.1f | **%.1f** (%d never) | **%.1f** (%d never) |\n\n", mv, ma, na, mz, nz);
}

static void report_memory(FILE *o, const struct bench *b)
{
    const struct mem_result *m = &b->mem;
    if (m->frames <= 0)
        return;
    fprintf(o, "### 4. Resident size over %d frames of %dx%d, every other one with a code\n\n", m->frames, MEM_W,
            MEM_H);
    fprintf(o, "RSS from /proc/self/statm, MiB. qr_reader_scan: %.0f s, %ld exact reads; "
               "bare ZBar, one scanner never renewed: %.0f s, %ld exact reads.\n\n",
            m->seconds[0], m->reads[0], m->seconds[1], m->reads[1]);
    fprintf(o, "| frames | qr_reader_scan | bare ZBar, never renewed |\n| --: | --: | --: |\n");
    for (int s = 0; s < m->nsamples; s++) {
        int f = s * MEM_EVERY < m->frames ? s * MEM_EVERY : m->frames;
        fprintf(o, "| %d | %.1f | %.1f |\n", f, m->rss_kib[0][s] / 1024.0, m->rss_kib[1][s] / 1024.0);
    }
    int w = m->nsamples > 2 ? 1 : 0; /* growth after the first sample past warm-up */
    fprintf(o, "| **growth from %d frames** | **%+.1f** | **%+.1f** |\n\n", w ? MEM_EVERY : 0,
            (m->rss_kib[0][m->nsamples - 1] - m->rss_kib[0][w]) / 1024.0,
            (m->rss_kib[1][m->nsamples - 1] - m->rss_kib[1][w]) / 1024.0);
}

static void report(FILE *o, const struct bench *b)
{
    report_machine(o, b);
    report_time(o, b);
    report_reads(o, b);
    report_clips(o, b);
    report_memory(o, b);
}

/* ---- main ------------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct bench *b, const char **md)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return -1;
        if (strcmp(a, "--frames") == 0)
            b->frames = atoi(v);
        else if (strcmp(a, "--seed") == 0)
            b->seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--rounds") == 0)
            b->rounds = atoi(v);
        else if (strcmp(a, "--clips") == 0)
            b->nclips = atoi(v);
        else if (strcmp(a, "--memory-frames") == 0)
            b->mem.frames = atoi(v);
        else if (strcmp(a, "--markdown") == 0)
            *md = v;
        else
            return -1;
        i++;
    }
    bool ok = b->frames >= 1 && b->frames <= 10000 && b->rounds >= 1 && b->nclips >= 0 && b->nclips <= MAX_CLIPS &&
              b->mem.frames >= 0;
    return ok ? 0 : -1;
}

/* The memory part runs first, on a heap that nothing large has used yet: freed
 * frames would leave resident pages that a leak fills without RSS growing. */
static int run(struct bench *b)
{
    double t0 = now_ms();
    if (b->mem.frames > 0) {
        fprintf(stderr, "bench_decode: memory over %d frames, twice...\n", b->mem.frames);
        if (measure_memory(&b->mem, b->seed) != 0)
            return -1;
    }
    double t1 = now_ms();
    b->seconds[2] = (t1 - t0) / 1000;
    fprintf(stderr, "bench_decode: rendering %d frames per set...\n", b->frames);
    if (sets_render(b->sets, b->frames, b->seed) != 0 || measure_time(b->sets, b->rounds) != 0)
        return -1;
    double t2 = now_ms();
    b->seconds[0] = (t2 - t1) / 1000;
    fprintf(stderr, "bench_decode: time per frame done (%.0f s); clips...\n", b->seconds[0]);
    if (measure_clips(b->clips, b->nclips, b->seed) != 0)
        return -1;
    b->seconds[1] = (now_ms() - t2) / 1000;
    return 0;
}

static int write_markdown(const char *path, const struct bench *b)
{
    FILE *o = fopen(path, "w");
    if (!o) {
        fprintf(stderr, "bench_decode: %s: cannot write\n", path);
        return -1;
    }
    report(o, b);
    return fclose(o) == 0 ? 0 : -1;
}

static void bench_free(struct bench *b)
{
    for (int i = 0; i < NSETS; i++)
        set_free(&b->sets[i]);
    for (int k = 0; k < 2; k++)
        free(b->mem.rss_kib[k]);
}

int main(int argc, char **argv)
{
    static struct bench b = { .frames = 20, .rounds = 3, .nclips = 8, .seed = 1, .mem = { .frames = 100000 } };
    const char *md = NULL;
    if (parse_args(argc, argv, &b, &md) != 0) {
        fprintf(stderr, "usage: bench_decode [--frames N] [--seed S] [--rounds N] [--clips N (<= %d)]\n"
                        "                    [--memory-frames N] [--markdown OUT.md]\n",
                MAX_CLIPS);
        return 2;
    }
    int rc = run(&b);
    if (rc == 0) {
        report(stdout, &b);
        if (md)
            rc = write_markdown(md, &b);
    } else {
        fprintf(stderr, "bench_decode: measurement failed\n");
    }
    bench_free(&b);
    return rc == 0 ? 0 : 1;
}
