/* make_frames.c - synthetic desk-camera frames of ID cards, with a manifest of
 * the payload each frame holds, for measuring the read rate (tools/readrate)
 * and for the demo.
 *
 *   make_frames OUTDIR [--seed N] [--per-category N] [--charset-report] [--verbose]
 *   make_frames --samples OUTDIR
 *
 * --charset-report prints each card payload that ZBar's default text mode
 * returns altered, and what it returns; --verbose prints each frame's
 * parameters (size, module size, angle, tilt, blur, noise, exposure, JPEG,
 * and where used motion blur and the phone screen's levels).
 *
 * OUTDIR/manifest.tsv gets one line per code: category, file, payload in hex
 * (empty for a frame that holds no code). Frame i of a category depends only
 * on the seed, the category and i, so --per-category can change without
 * changing the frames both runs make.
 *
 * Every frame: a desk, one or two cards (or a printed sheet, or a phone
 * showing a card's code in dark mode) projected by a camera pose, lighting,
 * a little lens blur and sensor noise; then what the category is about.
 * Payloads are valid CCCD payloads (tools/common/cccd_gen.c), nearly half
 * drawn from words that ZBar's default text mode garbles into Big5, so the
 * binary-mode decoder is exercised on them.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "card_render.h"
#include "cccd_gen.h"
#include "base/image_io.h"
#include "imgops.h"
#include "rng.h"
#include "zbar_text.h"

#define MAX_CODES 2
#define PATH_MAX_LEN 4096
#define PER_CATEGORY_MAX 10000
/* Share of card payloads drawn from the Big5-garbled word lists. */
#define BIG5_SHARE 0.45

enum content {
    CONTENT_CARD,      /* one card with its code */
    CONTENT_TWO_CARDS, /* two cards side by side, two codes */
    CONTENT_NOT_CARD,  /* a printed sheet with a non-card code */
    CONTENT_EMPTY,     /* desk only, a card without code, or a QR-like decoy */
    CONTENT_PHONE,     /* a phone showing a card's code in dark mode: light on dark */
};

/* What a category varies, as ranges the generator draws from uniformly. */
struct category {
    const char *name;
    enum content content;
    double module_lo, module_hi; /* frame pixels per module at the symbol's centre */
    double angle_max;            /* in-plane rotation within +-angle_max degrees; 180 = any */
    double tilt_lo, tilt_hi;     /* tilt out of the image plane, degrees */
    double blur_lo, blur_hi;     /* extra gaussian blur sigma; 0 = lens blur only */
    double noise_lo, noise_hi;   /* sensor noise sigma */
    bool glare;
    int dark_lo, dark_hi;        /* underexposure: brightest output level; 0 = none */
    int jpeg_lo, jpeg_hi;        /* JPEG quality; 0 = lossless file */
    double motion_lo, motion_hi; /* motion blur length in frame pixels; 0 = none */
};

/* Difficulty was tuned against ZBar 0.23.92 (docs/read-rate.md has the table):
 * the ranges straddle where ZBar starts to fail, so a category is neither
 * trivially read nor hopeless, and a better decoder shows up as a higher rate.
 * Measured edges: about 2.1 px/module (small), tilt above ~25 degrees
 * (perspective), blur sigma above ~1.5 px at 4 px/module (blur), noise sigma
 * above ~20 (noise), noise sigma above ~3 when the signal spans only 25-60
 * levels (dark). JPEG at quality 30 does not hurt ZBar at 3 px/module.
 * motion and dark-mode came later and are appended, so the older categories
 * keep their index, hence their random streams and frames. */
static const struct category CATEGORIES[] = {
    /* name          content            module     angle tilt     blur      noise    glare dark    jpeg    motion */
    { "clean",       CONTENT_CARD,      4.0, 6.0,  4,    0, 8,    0, 0,     1.5, 3,  false, 0, 0,   0, 0,   0, 0 },
    { "small",       CONTENT_CARD,      2.0, 3.0,  4,    0, 8,    0, 0,     1.5, 3,  false, 0, 0,   0, 0,   0, 0 },
    { "rotation",    CONTENT_CARD,      3.5, 5.0,  180,  0, 8,    0, 0,     1.5, 3,  false, 0, 0,   0, 0,   0, 0 },
    { "perspective", CONTENT_CARD,      3.5, 5.0,  15,   15, 40,  0, 0,     1.5, 3,  false, 0, 0,   0, 0,   0, 0 },
    { "blur",        CONTENT_CARD,      3.6, 4.4,  4,    0, 8,    1.0, 2.0, 1.5, 3,  false, 0, 0,   0, 0,   0, 0 },
    { "glare",       CONTENT_CARD,      4.0, 5.0,  10,   0, 15,   0, 0,     1.5, 3,  true,  0, 0,   0, 0,   0, 0 },
    { "dark",        CONTENT_CARD,      4.0, 5.0,  10,   0, 15,   0, 0,     2, 4,    false, 25, 60, 0, 0,   0, 0 },
    { "noise",       CONTENT_CARD,      4.0, 5.0,  10,   0, 15,   0, 0,     10, 25,  false, 0, 0,   0, 0,   0, 0 },
    { "jpeg",        CONTENT_CARD,      3.0, 4.5,  10,   0, 15,   0, 0,     1.5, 3,  false, 0, 0,   30, 60, 0, 0 },
    { "multi",       CONTENT_TWO_CARDS, 3.0, 4.0,  10,   0, 10,   0, 0,     1.5, 3,  false, 0, 0,   0, 0,   0, 0 },
    { "not-card",    CONTENT_NOT_CARD,  4.0, 5.5,  20,   0, 15,   0, 0,     1.5, 3,  false, 0, 0,   0, 0,   0, 0 },
    { "empty",       CONTENT_EMPTY,     3.5, 5.0,  20,   0, 15,   0, 0,     1.5, 3,  false, 0, 0,   0, 0,   0, 0 },
    { "motion",      CONTENT_CARD,      3.6, 4.4,  4,    0, 8,    0, 0,     1.5, 3,  false, 0, 0,   0, 0,   4, 10 },
    { "dark-mode",   CONTENT_PHONE,     3.5, 5.0,  10,   0, 15,   0, 0,     1.5, 3,  false, 0, 0,   0, 0,   0, 0 },
};
#define NCATEGORIES ((int)(sizeof(CATEGORIES) / sizeof(CATEGORIES[0])))

/* Everything about one frame, decided before any pixel is drawn. */
struct frame_plan {
    int width, height;
    enum content content;
    int ncodes;
    char payload[MAX_CODES][CCCD_GEN_MAX];
    enum card_look look[MAX_CODES];
    enum card_code empty_code; /* CONTENT_EMPTY: what the card shows, if any */
    bool empty_has_card;
    double module_px, angle_deg, tilt_deg, tilt_dir_deg;
    double blur_sigma, noise_sigma;
    bool glare;
    int dark_hi;
    int jpeg_quality; /* 0: not JPEG */
    const char *ext;  /* "png", "pgm" or "jpg" */
    double motion_px, motion_deg; /* motion blur: path length (0: none), direction */
    struct screen_colors screen;  /* CONTENT_PHONE */
};

struct options {
    const char *outdir;
    uint64_t seed;
    int per_category;
    bool samples;
    bool charset_report;
    bool verbose;
};

/* ---- planning ------------------------------------------------------------ */

static double draw_range(struct rng *r, double lo, double hi)
{
    return hi > lo ? rng_range(r, lo, hi) : lo;
}

static int plan_card_payload(struct rng *r, char *out, enum card_look *look)
{
    bool is_2024 = rng_chance(r, 0.5);
    enum cccd_gen_text text = rng_chance(r, BIG5_SHARE) ? CCCD_GEN_TEXT_BIG5 : CCCD_GEN_TEXT_ANY;
    *look = is_2024 ? CARD_LOOK_2024 : CARD_LOOK_2021;
    return cccd_gen_card(r, is_2024 ? CCCD_GEN_2024 : CCCD_GEN_2021, text, out, CCCD_GEN_MAX) < 0 ? -1 : 0;
}

static int plan_content(struct rng *r, int index, struct frame_plan *p)
{
    switch (p->content) {
    case CONTENT_CARD:
        p->ncodes = 1;
        return plan_card_payload(r, p->payload[0], &p->look[0]);
    case CONTENT_TWO_CARDS:
        p->ncodes = 2;
        if (plan_card_payload(r, p->payload[0], &p->look[0]) != 0)
            return -1;
        /* Two different people: regenerate on the (unlikely) tie. */
        do {
            if (plan_card_payload(r, p->payload[1], &p->look[1]) != 0)
                return -1;
        } while (strcmp(p->payload[0], p->payload[1]) == 0);
        return 0;
    case CONTENT_NOT_CARD:
        p->ncodes = 1;
        p->look[0] = CARD_LOOK_PAPER;
        return cccd_gen_not_card(r, p->payload[0], CCCD_GEN_MAX) < 0 ? -1 : 0;
    case CONTENT_PHONE:
        /* The app shows the same payload as the card's own code. */
        p->ncodes = 1;
        return plan_card_payload(r, p->payload[0], &p->look[0]);
    case CONTENT_EMPTY:
        /* A third each: bare desk, card seen without code, card with a decoy. */
        p->ncodes = 0;
        p->empty_has_card = index % 3 != 0;
        p->empty_code = index % 3 == 2 ? CARD_CODE_DECOY : CARD_CODE_NONE;
        p->look[0] = rng_chance(r, 0.5) ? CARD_LOOK_2021 : CARD_LOOK_2024;
        return 0;
    }
    return -1;
}

/* Dark mode: a near-black screen, light grey modules, and sometimes the
 * room's light reflected in the glass. */
static void plan_screen(struct rng *r, struct screen_colors *s)
{
    s->background = rng_int(r, 20, 40);
    s->ink = rng_int(r, 170, 230);
    s->glow = rng_chance(r, 0.5) ? rng_range(r, 5, 30) : 0.0;
    s->glow_deg = rng_range(r, 0, 360);
}

/* Drawn after everything else, and only for the categories that use them,
 * so the random draws of the older categories are what they always were. */
static void plan_additions(const struct category *c, struct rng *r, struct frame_plan *p)
{
    if (c->motion_hi > 0) {
        p->motion_px = draw_range(r, c->motion_lo, c->motion_hi);
        p->motion_deg = rng_range(r, 0, 180); /* the blur is symmetric: a line, not an arrow */
    }
    if (c->content == CONTENT_PHONE)
        plan_screen(r, &p->screen);
}

static int plan_from_category(const struct category *c, int index, struct rng *r, struct frame_plan *p)
{
    memset(p, 0, sizeof(*p));
    /* Mostly VGA, every fifth frame (and every two-card frame) 720p. */
    bool hd = c->content == CONTENT_TWO_CARDS || index % 5 == 2;
    p->width = hd ? 1280 : 640;
    p->height = hd ? 720 : 480;
    p->content = c->content;
    if (plan_content(r, index, p) != 0)
        return -1;
    p->module_px = draw_range(r, c->module_lo, c->module_hi);
    p->angle_deg = c->angle_max >= 180 ? rng_range(r, 0, 360) : rng_range(r, -c->angle_max, c->angle_max);
    p->tilt_deg = draw_range(r, c->tilt_lo, c->tilt_hi);
    p->tilt_dir_deg = rng_range(r, 0, 360);
    /* Every camera blurs a little; the blur category adds a focus error. */
    p->blur_sigma = c->blur_hi > 0 ? draw_range(r, c->blur_lo, c->blur_hi) : rng_range(r, 0.4, 0.7);
    p->noise_sigma = draw_range(r, c->noise_lo, c->noise_hi);
    p->glare = c->glare;
    p->dark_hi = c->dark_hi > 0 ? rng_int(r, c->dark_lo, c->dark_hi) : 0;
    p->jpeg_quality = c->jpeg_hi > 0 ? rng_int(r, c->jpeg_lo, c->jpeg_hi) : 0;
    p->ext = p->jpeg_quality ? "jpg" : index % 4 == 1 ? "pgm" : "png";
    plan_additions(c, r, p);
    return 0;
}

/* ---- rendering ----------------------------------------------------------- */

/* Texture resolution: about 1.5x the frame's, so the warp mostly shrinks. */
static int texture_px_per_module(double module_px)
{
    int s = (int)ceil(module_px * 1.5);
    return s < 4 ? 4 : s > 12 ? 12 : s;
}

static struct card_pose pose_for(const struct frame_plan *p, double module_px)
{
    double dir = p->tilt_dir_deg * M_PI / 180.0;
    struct card_pose pose = { .module_px = module_px,
                              .angle_deg = p->angle_deg,
                              .tilt_x_deg = p->tilt_deg * cos(dir),
                              .tilt_y_deg = p->tilt_deg * sin(dir),
                              .focal_px = 0.9 * p->width };
    return pose;
}

/* Places a card inside [x0, x1) (full height); the QR symbol and two modules
 * around it must be in view, or with whole_card the whole card. When it
 * cannot fit, the card is shrunk a little and tried again. */
static int place_card(const struct frame_plan *p, const struct card_texture *t, double x0, double x1,
                      bool whole_card, struct rng *r, struct card_pose *pose)
{
    double module = p->module_px;
    for (int attempt = 0; attempt < 8; attempt++, module *= 0.9) {
        *pose = pose_for(p, module);
        if (card_pose_place(t, pose, x0, 0, x1, p->height, 2.0, whole_card, r) == 0)
            return 0;
    }
    return -1;
}

/* Where a drawn code landed in the frame: glare is aimed at it. */
struct code_spot {
    struct point2 center;
    double side; /* 0 when no card was drawn */
};

/* The flat texture of card i, or of the phone that shows its code. */
static int render_texture(const struct frame_plan *p, int i, enum card_code code, struct rng *r,
                          struct card_texture *tex, char *err, size_t errlen)
{
    struct qr_matrix qr = { 0 };
    if (code == CARD_CODE_QR &&
        qr_matrix_encode((const uint8_t *)p->payload[i], strlen(p->payload[i]), &qr, err, errlen) != 0)
        return -1;
    int ppm = texture_px_per_module(p->module_px);
    int rc = p->content == CONTENT_PHONE
                 ? phone_texture_render(tex, &qr, ppm, &p->screen, r)
                 : card_texture_render(tex, p->look[i], code, code == CARD_CODE_QR ? &qr : NULL, ppm, r);
    qr_matrix_free(&qr);
    if (rc != 0)
        snprintf(err, errlen, "out of memory for a card texture");
    return rc;
}

/* Draws card i (with its code, without, or with a decoy) inside [x0, x1).
 * Two-card frames keep each whole card in its half, so neither covers the
 * other's code. */
static int draw_one_card(struct gray_image *frame, const struct frame_plan *p, int i, enum card_code code,
                         double x0, double x1, struct rng *r, struct code_spot *spot, char *err, size_t errlen)
{
    struct card_texture tex;
    if (render_texture(p, i, code, r, &tex, err, errlen) != 0)
        return -1;
    struct card_pose pose;
    struct point2 c[4];
    int rc = place_card(p, &tex, x0, x1, p->content == CONTENT_TWO_CARDS, r, &pose);
    if (rc == 0)
        rc = card_draw(frame, &tex, &pose);
    if (rc == 0 && card_pose_qr_corners(&tex, &pose, c)) {
        spot->center.x = (c[0].x + c[1].x + c[2].x + c[3].x) / 4.0;
        spot->center.y = (c[0].y + c[1].y + c[2].y + c[3].y) / 4.0;
        spot->side = hypot(c[1].x - c[0].x, c[1].y - c[0].y);
    }
    card_texture_free(&tex);
    if (rc != 0)
        snprintf(err, errlen, "card %d does not fit a %dx%d frame at %.1f px/module", i, p->width, p->height,
                 p->module_px);
    return rc;
}

static int draw_content(struct gray_image *frame, const struct frame_plan *p, struct rng *r, struct code_spot *spot,
                        char *err, size_t errlen)
{
    double w = p->width;
    switch (p->content) {
    case CONTENT_CARD:
    case CONTENT_NOT_CARD:
    case CONTENT_PHONE:
        return draw_one_card(frame, p, 0, CARD_CODE_QR, 0, w, r, spot, err, errlen);
    case CONTENT_TWO_CARDS:
        if (draw_one_card(frame, p, 0, CARD_CODE_QR, 0, w / 2, r, spot, err, errlen) != 0)
            return -1;
        return draw_one_card(frame, p, 1, CARD_CODE_QR, w / 2, w, r, spot, err, errlen);
    case CONTENT_EMPTY:
        return p->empty_has_card ? draw_one_card(frame, p, 0, p->empty_code, 0, w, r, spot, err, errlen) : 0;
    }
    return -1;
}

/* A highlight of the ceiling light on the laminate: centred somewhere over the
 * symbol, a fifth to a third of its width, with a burnt-out core. */
static void add_glare(struct gray_image *frame, const struct code_spot *spot, struct rng *r)
{
    double cx = spot->center.x + rng_range(r, -0.35, 0.35) * spot->side;
    double cy = spot->center.y + rng_range(r, -0.35, 0.35) * spot->side;
    double rx = rng_range(r, 0.18, 0.35) * spot->side, ry = rx * rng_range(r, 0.45, 1.0);
    img_add_glare(frame, cx, cy, rx, ry, rng_range(r, 0, M_PI), rng_range(r, 200, 280));
}

/* Blur from the card moving during the exposure, then from the lens. The
 * whole frame smears, desk included: the desk's grain is too smooth for
 * that to matter, and the card's edges blend into it as a moving card's do. */
static int add_blur(struct gray_image *frame, const struct frame_plan *p, char *err, size_t errlen)
{
    if (p->motion_px > 0 && img_motion_blur(frame, p->motion_px, p->motion_deg * M_PI / 180.0) != 0) {
        snprintf(err, errlen, "out of memory for motion blur");
        return -1;
    }
    if (p->blur_sigma > 0 && img_gaussian_blur(frame, p->blur_sigma) != 0) {
        snprintf(err, errlen, "out of memory for blur");
        return -1;
    }
    return 0;
}

/* Camera order: scene light, optics, exposure, sensor noise. */
static int render_plan(const struct frame_plan *p, struct rng *r, struct gray_image *frame, char *err, size_t errlen)
{
    if (gray_image_alloc(frame, p->width, p->height, 0) != IMAGE_OK) {
        snprintf(err, errlen, "out of memory for a %dx%d frame", p->width, p->height);
        return -1;
    }
    desk_render(frame, r);
    struct code_spot spot = { { 0, 0 }, 0.0 };
    if (draw_content(frame, p, r, &spot, err, errlen) != 0)
        return -1;
    img_illuminate(frame, rng_range(r, -0.3, 0.3), rng_range(r, -0.3, 0.3), rng_range(r, 0.0, 0.25));
    if (p->glare && spot.side > 0)
        add_glare(frame, &spot, r);
    if (add_blur(frame, p, err, errlen) != 0)
        return -1;
    if (p->dark_hi > 0)
        img_levels(frame, 0, p->dark_hi);
    img_add_noise(frame, r, p->noise_sigma);
    return 0;
}

/* ---- output -------------------------------------------------------------- */

static int write_manifest_line(FILE *m, const char *category, const char *file, const char *payload)
{
    if (fprintf(m, "%s\t%s\t", category, file) < 0)
        return -1;
    for (const unsigned char *s = (const unsigned char *)payload; s && *s; s++)
        if (fprintf(m, "%02x", *s) < 0)
            return -1;
    return fputc('\n', m) == EOF ? -1 : 0;
}

/* Counts card payloads that ZBar's default text mode returns altered; with
 * report, prints each such payload and what ZBar made of it. */
struct charset_tally {
    int cards, altered, unread;
};

static int tally_charset(const struct frame_plan *p, bool report, struct charset_tally *t)
{
    if (p->content != CONTENT_CARD && p->content != CONTENT_TWO_CARDS && p->content != CONTENT_PHONE)
        return 0;
    for (int i = 0; i < p->ncodes; i++) {
        char err[256], got[2 * CCCD_GEN_MAX];
        struct qr_matrix qr;
        size_t len = strlen(p->payload[i]);
        if (qr_matrix_encode((const uint8_t *)p->payload[i], len, &qr, err, sizeof(err)) != 0) {
            fprintf(stderr, "make_frames: %s\n", err);
            return -1;
        }
        int rc = zbar_text_mode_alters(&qr, (const uint8_t *)p->payload[i], len, got, sizeof(got));
        qr_matrix_free(&qr);
        t->cards++;
        t->altered += rc == 1;
        t->unread += rc < 0;
        if (report && rc == 1)
            printf("altered: %s\n     => %s\n", p->payload[i], got);
    }
    return 0;
}

static void print_plan(const char *file, const struct frame_plan *p)
{
    printf("%s: %dx%d module %.2f px, angle %.1f, tilt %.1f, blur %.2f, noise %.1f, dark %d, jpeg %d", file, p->width,
           p->height, p->module_px, p->angle_deg, p->tilt_deg, p->blur_sigma, p->noise_sigma, p->dark_hi,
           p->jpeg_quality);
    if (p->motion_px > 0)
        printf(", motion %.1f px at %.0f deg", p->motion_px, p->motion_deg);
    if (p->content == CONTENT_PHONE)
        printf(", screen %d, modules %d, glow %.0f at %.0f deg", p->screen.background, p->screen.ink, p->screen.glow,
               p->screen.glow_deg);
    putchar('\n');
}

/* Renders, saves and lists one frame. */
static int emit_frame(const struct options *o, FILE *manifest, const char *category, const char *file,
                      const struct frame_plan *p, struct rng *r)
{
    char path[PATH_MAX_LEN], err[512];
    int n = snprintf(path, sizeof(path), "%s/%s", o->outdir, file);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        fprintf(stderr, "make_frames: path too long: %s/%s\n", o->outdir, file);
        return -1;
    }
    struct gray_image frame = { 0 };
    if (o->verbose)
        print_plan(file, p);
    int rc = render_plan(p, r, &frame, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "make_frames: %s: %s\n", path, err);
    else if ((rc = image_save(path, &frame, p->jpeg_quality ? p->jpeg_quality : 90, err, sizeof(err))) != IMAGE_OK)
        fprintf(stderr, "make_frames: %s\n", err);
    gray_image_free(&frame);
    if (rc != 0 || !manifest)
        return rc != 0 ? -1 : 0;
    for (int i = 0; i < (p->ncodes ? p->ncodes : 1); i++)
        if (write_manifest_line(manifest, category, file, p->ncodes ? p->payload[i] : NULL) != 0) {
            fprintf(stderr, "make_frames: %s/manifest.tsv: %s\n", o->outdir, strerror(errno));
            return -1;
        }
    return 0;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_frames: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- the two modes --------------------------------------------------------- */

static int make_category(const struct options *o, FILE *manifest, int ci, struct charset_tally *tally)
{
    const struct category *c = &CATEGORIES[ci];
    int codes = 0;
    for (int i = 0; i < o->per_category; i++) {
        struct rng r;
        struct frame_plan plan;
        char file[128];
        rng_seed_stream(&r, o->seed, (uint64_t)ci, (uint64_t)i);
        if (plan_from_category(c, i, &r, &plan) != 0) {
            fprintf(stderr, "make_frames: cannot make a payload for %s frame %d\n", c->name, i);
            return -1;
        }
        snprintf(file, sizeof(file), "%s-%03d.%s", c->name, i, plan.ext);
        if (emit_frame(o, manifest, c->name, file, &plan, &r) != 0 || tally_charset(&plan, o->charset_report, tally) != 0)
            return -1;
        codes += plan.ncodes;
    }
    printf("%-12s %4d frames %4d codes\n", c->name, o->per_category, codes);
    return 0;
}

static int make_all(const struct options *o)
{
    char path[PATH_MAX_LEN];
    if (make_dir(o->outdir) != 0)
        return -1;
    int n = snprintf(path, sizeof(path), "%s/manifest.tsv", o->outdir);
    FILE *m = n > 0 && (size_t)n < sizeof(path) ? fopen(path, "w") : NULL;
    if (!m) {
        fprintf(stderr, "make_frames: cannot write %s/manifest.tsv: %s\n", o->outdir, strerror(errno));
        return -1;
    }
    struct charset_tally tally = { 0 };
    int rc = 0;
    for (int ci = 0; ci < NCATEGORIES && rc == 0; ci++)
        rc = make_category(o, m, ci, &tally);
    if (fclose(m) != 0 && rc == 0) {
        fprintf(stderr, "make_frames: %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0)
        printf("charset: %d of %d card payloads (%.0f%%) come back altered from ZBar's default text mode%s\n",
               tally.altered, tally.cards, tally.cards ? 100.0 * tally.altered / tally.cards : 0.0,
               tally.unread ? " (some clean symbols unread!)" : "");
    return rc;
}

/* A base plan for the demo frames: clean, VGA, upright. */
static struct frame_plan sample_plan(enum content content, enum card_look look, const char *payload)
{
    struct frame_plan p = { .width = 640, .height = 480, .content = content, .ncodes = payload ? 1 : 0,
                            .module_px = 5.0, .angle_deg = 3.0, .tilt_deg = 5.0, .tilt_dir_deg = 30.0,
                            .blur_sigma = 0.5, .noise_sigma = 2.0, .ext = "png" };
    p.look[0] = look;
    if (payload)
        snprintf(p.payload[0], sizeof(p.payload[0]), "%s", payload);
    return p;
}

/* Seven frames a person can look at, each read reliably: the demo and the
 * CLI test scan them. Names say what is in them. No manifest: the folder
 * holds images only. */
static int make_samples(const struct options *o)
{
    struct sample {
        const char *file;
        struct frame_plan plan;
    } s[7] = {
        { "01-card-2021.png",
          sample_plan(CONTENT_CARD, CARD_LOOK_2021,
                      "001190012345||Nguyễn Thị Hồng Nhung|05011990|Nữ|Số 12 ngõ 34 phố Hoàng Hoa Thám, "
                      "Phường Ngọc Hà, Quận Ba Đình, Hà Nội|15062021") },
        /* ZBar's default text mode returns this one as Big5. */
        { "02-card-2024-big5-name.png",
          sample_plan(CONTENT_CARD, CARD_LOOK_2024,
                      "092195004821|362145789|Trần Phương Thảo|14031995|Nữ|Ấp Phú Lợi, Xã Tân Phú Thạnh, "
                      "Cần Thơ|20082024||||") },
        { "03-card-rotated.png",
          sample_plan(CONTENT_CARD, CARD_LOOK_2021,
                      "038086001357|173456982|Lê Hữu Tùng|02091986|Nam|Thôn Tây Sơn, Xã Xuân Lâm, Tĩnh Gia, "
                      "Thanh Hóa|11042022") },
        { "04-card-jpeg.jpg",
          sample_plan(CONTENT_CARD, CARD_LOOK_2021,
                      "079303009876||Võ Tuyết Mai|23072003|Nữ|Số 5 đường Nguyễn Trãi, Phường 3, Quận 5, "
                      "Thành phố Hồ Chí Minh|17112021") },
        { "05-not-card-url.png",
          sample_plan(CONTENT_NOT_CARD, CARD_LOOK_PAPER, "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html") },
        { "06-empty.png", sample_plan(CONTENT_EMPTY, CARD_LOOK_2021, NULL) },
        /* Card-shaped, but digits 5-6 of the ID (90) disagree with the birth
         * year (1991): the verifier rejects it (id-year-mismatch). */
        { "07-card-rejected.png",
          sample_plan(CONTENT_CARD, CARD_LOOK_2021,
                      "001090012345||Phạm Văn Bình|05011991|Nam|Số 3 phố Huế, Quận Hai Bà Trưng, Hà Nội|15062021") },
    };
    s[2].plan.angle_deg = 137.0;
    s[3].plan.ext = "jpg";
    s[3].plan.jpeg_quality = 50;
    s[5].plan.empty_has_card = true;
    s[5].plan.empty_code = CARD_CODE_NONE;
    if (make_dir(o->outdir) != 0)
        return -1;
    for (int i = 0; i < 7; i++) {
        struct rng r;
        rng_seed_stream(&r, o->seed, 1000, (uint64_t)i);
        if (emit_frame(o, NULL, "sample", s[i].file, &s[i].plan, &r) != 0)
            return -1;
        printf("%s/%s\n", o->outdir, s[i].file);
    }
    return 0;
}

/* ---- command line ---------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: make_frames OUTDIR [--seed N] [--per-category N] [--charset-report] [--verbose]\n"
               "       make_frames --samples OUTDIR\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){ .seed = 1, .per_category = 20 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v;
        if (strcmp(a, "--samples") == 0)
            o->samples = true;
        else if (strcmp(a, "--charset-report") == 0)
            o->charset_report = true;
        else if (strcmp(a, "--verbose") == 0)
            o->verbose = true;
        else if (strcmp(a, "--seed") == 0 && i + 1 < argc && parse_u64(argv[i + 1], &v))
            o->seed = v, i++;
        else if (strcmp(a, "--per-category") == 0 && i + 1 < argc && parse_u64(argv[i + 1], &v) && v >= 1 &&
                 v <= PER_CATEGORY_MAX)
            o->per_category = (int)v, i++;
        else if (a[0] != '-' && !o->outdir)
            o->outdir = a;
        else {
            fprintf(stderr, "make_frames: bad argument: %s\n", a);
            return -1;
        }
    }
    return o->outdir ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct options o;
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    int rc = o.samples ? make_samples(&o) : make_all(&o);
    return rc == 0 ? 0 : 1;
}
