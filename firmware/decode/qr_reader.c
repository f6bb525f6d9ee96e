/* qr_reader.c - locator, crops and ZBar, within a time budget. */
#include "decode/qr_reader.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "decode/deblur.h"
#include "decode/gray_ops.h"
#include "decode/qr_grid.h"
#include "decode/qr_locate.h"

/* ZBar reads best at 3.5-7 px per module: larger crops are shrunk towards it. */
#define WORKING_MODULE_PX 3.5f
/* Below this many px per module at working scale, enlarging is worth a try. */
#define ENLARGE_BELOW_PX 5.0f

struct qr_reader {
    struct qr_reader_opts opts;
    struct qr_decoder *dec;
    struct qr_locator *loc;
    struct deblur *deblur;
    struct gray_buf base, work, small; /* small: the frame, then the deblurred region, for the smear probe */
    int64_t started_ms;
    int ncodes;
    struct qr_code codes[QR_MAX_CODES];
    uint8_t data[QR_MAX_CODES][QR_DATA_MAX];
    struct qr_reader_stats stats;
    struct qr_grid grid;       /* the current candidate's, when have_grid */
    bool have_grid;
    bool base_rectified;       /* base holds the rectified picture, not the crop */
    struct qr_candidate track; /* where the last code was */
    int track_age;             /* frames since it was read; -1 = nothing to track */
};

/* Rectified symbols come out at this many px per module, with this many
 * modules of the frame around them: the quiet zone ZBar needs is 4, and a
 * size misjudged by 4 modules still fits. */
#define RECTIFIED_MODULE_PX 4.0f
#define RECTIFIED_MARGIN_MODULES 6.0f
/* The smear probe takes a card's module to be about this wide (the desk
 * distance the terminal is set up for), and deblurs this much of the frame
 * around where it measured the smear (a card and its surroundings at that
 * distance, within deblur.h's limit). */
#define PROBE_MODULE_PX 4.0f
#define PROBE_REGION_W 640
#define PROBE_REGION_H 480
/* Redrawn symbols: 3 px per module is plenty for a picture without noise. */
#define RESAMPLED_MODULE_PX 3
/* Below this grid score (qr_grid.h) the grid's size or place is doubtful,
 * and a redrawn symbol would only be noise. */
#define RESAMPLE_MIN_SCORE 0.8f

/* How a crop is turned into the buffer ZBar gets. */
struct crop {
    struct gray_rect rect;
    int num, den; /* scale */
    bool inverted;
    float to_src[9]; /* buffer pixel -> frame pixel (projective), for the outline */
};

static const char *const shape_names[QR_SHAPE_COUNT] = { "plain",    "deblurred", "rectified", "normalized",
                                                          "enlarged", "smoothed",  "sharpened", "resampled" };

const char *qr_shape_name(enum qr_shape s)
{
    return (unsigned)s < QR_SHAPE_COUNT ? shape_names[s] : "none";
}

int qr_reader_open(struct qr_reader **out, const struct qr_reader_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    struct qr_reader *r = calloc(1, sizeof(*r));
    if (!r || qr_locator_open(&r->loc) != 0 || deblur_open(&r->deblur) != 0) {
        if (r)
            qr_locator_close(r->loc);
        free(r);
        snprintf(err, errlen, "out of memory for the QR reader");
        return QR_ERR_NOMEM;
    }
    int rc = qr_decoder_open(&r->dec, err, errlen);
    if (rc != 0) {
        qr_reader_close(r);
        return rc;
    }
    r->opts = opts ? *opts
                   : (struct qr_reader_opts){ .budget_ms = QR_READER_DEFAULT_BUDGET_MS,
                                              .track_frames = QR_READER_DEFAULT_TRACK_FRAMES };
    r->track_age = -1;
    *out = r;
    return 0;
}

void qr_reader_close(struct qr_reader *r)
{
    if (!r)
        return;
    qr_decoder_close(r->dec);
    qr_locator_close(r->loc);
    deblur_close(r->deblur);
    gray_buf_free(&r->base);
    gray_buf_free(&r->work);
    gray_buf_free(&r->small);
    free(r);
}

void qr_reader_forget(struct qr_reader *r)
{
    r->track_age = -1;
}

static bool out_of_time(const struct qr_reader *r)
{
    return r->opts.budget_ms > 0 && clock_ms() - r->started_ms >= r->opts.budget_ms;
}

static bool already_have(const struct qr_reader *r, const struct qr_code *c)
{
    for (int i = 0; i < r->ncodes; i++)
        if (r->codes[i].len == c->len && memcmp(r->codes[i].data, c->data, c->len) == 0)
            return true;
    return false;
}

/* The crop's map for a plain scale: pixel centres aligned. */
static void scale_map(struct crop *c)
{
    float s = (float)c->den / (float)c->num;
    float m[9] = { s, 0, (float)c->rect.x0 + (s - 1) / 2, 0, s, (float)c->rect.y0 + (s - 1) / 2, 0, 0, 1 };
    memcpy(c->to_src, m, sizeof(m));
}

static void keep_codes(struct qr_reader *r, int n, const struct crop *c)
{
    for (int i = 0; i < n && r->ncodes < QR_MAX_CODES; i++) {
        const struct qr_code *src = qr_decoder_code(r->dec, i);
        if (already_have(r, src))
            continue;
        struct qr_code *dst = &r->codes[r->ncodes];
        memcpy(r->data[r->ncodes], src->data, src->len);
        *dst = *src;
        dst->data = r->data[r->ncodes++];
        dst->inverted = c->inverted;
        for (int k = 0; k < dst->ncorners; k++) {
            float x, y;
            if (!qr_grid_point(c->to_src, (float)src->corners[k].x, (float)src->corners[k].y, &x, &y) ||
                !(fabsf(x) < 1e6f && fabsf(y) < 1e6f)) {
                dst->ncorners = 0; /* a degenerate map: no outline rather than a wrong one */
                break;
            }
            dst->corners[k].x = (int)lroundf(x);
            dst->corners[k].y = (int)lroundf(y);
        }
    }
}

/* One ZBar call on view, counted; its codes kept through c's map, and
 * `shape` (-1: none) recorded as what read the frame's first code. Returns
 * how many codes ZBar found, or a negative qr_status. */
static int scan_view(struct qr_reader *r, const struct frame *view, const struct crop *c, int shape)
{
    int n = qr_decoder_scan(r->dec, view);
    r->stats.attempts++;
    r->stats.zbar_pixels += (long)view->width * view->height;
    if (n <= 0)
        return n;
    if (shape >= 0 && r->stats.read_by < 0)
        r->stats.read_by = shape;
    keep_codes(r, n, c);
    return n;
}

/* The map of a buffer that shows the grid's modules at p px each after a
 * margin of `margin` modules: buffer pixel (x, y) -> module ((x + 0.5) / p -
 * margin, ...) -> frame. */
static void grid_buffer_map(const struct qr_grid *g, float p, float margin, float out[9])
{
    float off = 0.5f / p - margin, s = 1.0f / p;
    const float *h = g->map;
    for (int row = 0; row < 3; row++) {
        out[3 * row] = h[3 * row] * s;
        out[3 * row + 1] = h[3 * row + 1] * s;
        out[3 * row + 2] = (h[3 * row] + h[3 * row + 1]) * off + h[3 * row + 2];
    }
}

/* Samples the symbol through its fitted grid onto an upright square of
 * RECTIFIED_MODULE_PX per module with a quiet zone, into dst: a code
 * tilted out of the plane comes out frontal, the way ZBar reads best. */
static struct gray_buf *rectify(struct qr_reader *r, const struct frame *f, const struct qr_candidate *cand,
                                struct crop *c, struct gray_buf *dst)
{
    if (cand->nfinders < 2 || qr_grid_fit(f, cand, &r->grid) != 0)
        return NULL;
    grid_buffer_map(&r->grid, RECTIFIED_MODULE_PX, RECTIFIED_MARGIN_MODULES, c->to_src);
    int n = (int)(((float)r->grid.dim + 2 * RECTIFIED_MARGIN_MODULES) * RECTIFIED_MODULE_PX);
    if (gray_warp(f, c->to_src, n, n, c->inverted ? 0 : 255, dst) != 0)
        return NULL;
    if (c->inverted)
        gray_invert(dst);
    r->have_grid = true;
    return dst;
}

/* The symbol redrawn module by module (qr_grid_resample), when the grid's
 * function patterns say its size and place are right. */
static struct gray_buf *resample(struct qr_reader *r, const struct frame *f, struct crop *c)
{
    if (!r->have_grid || r->grid.score < RESAMPLE_MIN_SCORE ||
        qr_grid_resample(f, &r->grid, c->inverted, RESAMPLED_MODULE_PX, &r->work) != 0)
        return NULL;
    grid_buffer_map(&r->grid, RESAMPLED_MODULE_PX, 4, c->to_src);
    return &r->work;
}

/* The plain crop at twice (or half the shrinking of) its working scale. */
static struct gray_buf *enlarge(struct qr_reader *r, const struct frame *f, struct crop *c, float working)
{
    if (r->base_rectified || working >= ENLARGE_BELOW_PX)
        return NULL; /* the rectified picture has its modules at 4 px already */
    struct crop big = { c->rect, c->den > 1 ? 1 : 2, c->den > 2 ? c->den / 2 : 1, c->inverted, { 0 } };
    if (big.den > 1)
        big.num = 1;
    if (gray_crop_scale(f, big.rect, big.num, big.den, &r->work) != 0)
        return NULL;
    if (big.inverted)
        gray_invert(&r->work);
    *c = big; /* the codes' corners are mapped with this scale */
    scale_map(c);
    return &r->work;
}

/* Makes the buffer for one shape of the candidate; NULL when the shape does
 * not apply (enlarging what is large already, no grid to rectify by) or
 * memory ran out. *base is the crop in r->base (plain, later rectified);
 * *used gets the map of the buffer returned. */
static struct gray_buf *shape_buffer(struct qr_reader *r, const struct frame *f, enum qr_shape s,
                                     const struct qr_candidate *cand, struct crop *base, struct crop *used)
{
    float working = r->base_rectified ? RECTIFIED_MODULE_PX : cand->module_px * (float)base->num / (float)base->den;
    *used = *base;
    switch (s) {
    case QR_SHAPE_PLAIN:
        if (gray_crop_scale(f, base->rect, base->num, base->den, &r->base) != 0)
            return NULL;
        if (base->inverted)
            gray_invert(&r->base);
        return &r->base;
    case QR_SHAPE_DEBLURRED: {
        /* The estimate gives up in a millisecond or two on a crop that is
         * not smeared: then no ZBar call. */
        float length, angle;
        if (r->base_rectified || r->base.width > DEBLUR_MAX_SIDE || r->base.height > DEBLUR_MAX_SIDE ||
            deblur_estimate(r->deblur, &r->base, working, &length, &angle) != 0)
            return NULL;
        return gray_copy(&r->work, &r->base) == 0 && deblur_motion(r->deblur, &r->work, length, angle) == 0
                   ? &r->work
                   : NULL;
    }
    case QR_SHAPE_RECTIFIED: {
        /* A pair's grid rests on a guessed finder: the filters keep to the
         * plain crop there (measured: one glare frame in 100 lost else). */
        bool whole = cand->nfinders == 3;
        struct gray_buf *b = rectify(r, f, cand, used, &r->work);
        /* A doubtful grid (part of it outside the frame, a wrong size) would
         * only distort what the filters work on. */
        if (b && whole && r->grid.score >= RESAMPLE_MIN_SCORE) {
            struct gray_buf t = r->base; /* the rectified picture becomes the base */
            r->base = r->work;
            r->work = t;
            b = &r->base;
            *base = *used;
            r->base_rectified = true;
        }
        return b;
    }
    case QR_SHAPE_NORMALIZED: {
        int block = (int)(4.0f * working);
        return gray_copy(&r->work, &r->base) == 0 && gray_normalize_local(&r->work, block < 8 ? 8 : block) == 0
                   ? &r->work
                   : NULL;
    }
    case QR_SHAPE_ENLARGED:
        return enlarge(r, f, used, working);
    case QR_SHAPE_SMOOTHED:
        return gray_copy(&r->work, &r->base) == 0 && gray_smooth3(&r->work) == 0 ? &r->work : NULL;
    case QR_SHAPE_SHARPENED:
        return gray_copy(&r->work, &r->base) == 0 && gray_sharpen(&r->work, 4) == 0 ? &r->work : NULL;
    case QR_SHAPE_RESAMPLED:
        return resample(r, f, used);
    default:
        return NULL;
    }
}

/* Tries the shapes of one candidate in order until one reads. */
static int read_candidate(struct qr_reader *r, const struct frame *f, const struct qr_candidate *cand)
{
    int den = cand->module_px >= 2 * WORKING_MODULE_PX ? (int)(cand->module_px / WORKING_MODULE_PX) : 1;
    struct crop base = { cand->rect, 1, den > 4 ? 4 : den, cand->inverted, { 0 } };
    scale_map(&base);
    r->have_grid = r->base_rectified = false;
    /* A remembered place (no finders seen there now) is a cheap hint: one
     * try. Every shape on it would make each empty frame after a card as
     * costly as a hard card (measured: 10x bare ZBar on the memory loop). */
    int shapes = cand->nfinders == 0 ? 1 : QR_SHAPE_COUNT;
    for (int s = 0; s < shapes; s++) {
        if (s > 0 && out_of_time(r)) {
            r->stats.over_budget = true;
            return 0;
        }
        struct crop c;
        struct gray_buf *b = shape_buffer(r, f, (enum qr_shape)s, cand, &base, &c);
        if (!b) {
            if (s == QR_SHAPE_PLAIN)
                return 0;
            continue;
        }
        struct frame view = gray_buf_frame(b);
        int n = scan_view(r, &view, &c, s);
        if (n != 0)
            return n;
    }
    return 0;
}

/* The code's outline as an inclusive box; false when ZBar gave none. */
static bool code_bounds(const struct qr_code *c, struct gray_rect *b)
{
    if (c->ncorners != 4)
        return false;
    *b = (struct gray_rect){ c->corners[0].x, c->corners[0].y, c->corners[0].x, c->corners[0].y };
    for (int k = 1; k < 4; k++) {
        b->x0 = c->corners[k].x < b->x0 ? c->corners[k].x : b->x0;
        b->x1 = c->corners[k].x > b->x1 ? c->corners[k].x : b->x1;
        b->y0 = c->corners[k].y < b->y0 ? c->corners[k].y : b->y0;
        b->y1 = c->corners[k].y > b->y1 ? c->corners[k].y : b->y1;
    }
    return true;
}

/* True when the rect's centre lies within the outline of a code read this frame. */
static bool inside_read_code(const struct qr_reader *r, const struct gray_rect *rect)
{
    int cx = (rect->x0 + rect->x1) / 2, cy = (rect->y0 + rect->y1) / 2;
    for (int i = 0; i < r->ncodes; i++) {
        const struct qr_code *c = &r->codes[i];
        struct gray_rect b;
        if (code_bounds(c, &b) && cx >= b.x0 && cx <= b.x1 && cy >= b.y0 && cy <= b.y1)
            return true;
    }
    return false;
}

/* The first code's outline, widened by two thirds of its size, is where to
 * look next frame if the locator comes back empty. */
static void remember(struct qr_reader *r, const struct frame *f)
{
    const struct qr_code *c = &r->codes[0];
    struct gray_rect b;
    if (!code_bounds(c, &b))
        return;
    int x0 = b.x0, x1 = b.x1, y0 = b.y0, y1 = b.y1;
    int mx = (x1 - x0) / 3 + 8, my = (y1 - y0) / 3 + 8;
    float module = (float)(x1 - x0 > y1 - y0 ? x1 - x0 : y1 - y0) / 29.0f; /* a version-3 size guess */
    /* Clipped here: the crop's map is built from the rect as stored, and an
     * unclipped corner would shift the outline read there. */
    struct gray_rect t = { x0 - mx, y0 - my, x1 + mx, y1 + my };
    t.x0 = t.x0 < 0 ? 0 : t.x0, t.y0 = t.y0 < 0 ? 0 : t.y0;
    t.x1 = t.x1 > f->width ? f->width : t.x1, t.y1 = t.y1 > f->height ? f->height : t.y1;
    r->track = (struct qr_candidate){ t, module, c->inverted, 0, { { 0, 0 } } };
    r->track_age = 0;
}

/* Reads what the locator finds in the deblurred region (a view; its
 * top-left at (ox, oy) in the frame): each candidate's crop of it, or the
 * whole region when the locator finds nothing even there. */
static int read_deblurred_region(struct qr_reader *r, const struct frame *region, int ox, int oy)
{
    struct qr_candidate cands[QR_LOCATE_MAX];
    int n = qr_locate(r->loc, region, cands, QR_LOCATE_MAX);
    if (n <= 0)
        cands[0].rect = (struct gray_rect){ 0, 0, region->width, region->height }, cands[0].inverted = false, n = 1;
    for (int i = 0; i < n && !out_of_time(r); i++) {
        struct gray_rect in = cands[i].rect;
        struct crop crop = { { in.x0 + ox, in.y0 + oy, in.x1 + ox, in.y1 + oy }, 1, 1, cands[i].inverted, { 0 } };
        scale_map(&crop);
        if (gray_crop_scale(region, in, 1, 1, &r->base) != 0)
            continue;
        if (crop.inverted)
            gray_invert(&r->base);
        struct frame view = gray_buf_frame(&r->base);
        int got = scan_view(r, &view, &crop, QR_SHAPE_DEBLURRED);
        if (got < 0)
            return got;
    }
    return 0;
}

/* The PROBE_REGION around the centre of rect, moved inside the frame. */
static struct gray_rect probe_region(const struct frame *f, struct gray_rect rect)
{
    int w = f->width < PROBE_REGION_W ? f->width : PROBE_REGION_W;
    int h = f->height < PROBE_REGION_H ? f->height : PROBE_REGION_H;
    int x0 = (rect.x0 + rect.x1) / 2 - w / 2, y0 = (rect.y0 + rect.y1) / 2 - h / 2;
    x0 = x0 < 0 ? 0 : x0 + w > f->width ? f->width - w : x0;
    y0 = y0 < 0 ? 0 : y0 + h > f->height ? f->height - h : y0;
    return (struct gray_rect){ x0, y0, x0 + w, y0 + h };
}

/* No finder anywhere: a card moving across the picture smears them beyond
 * the locator's reach (it found none on 36 of 50 such frames it missed).
 * The frame (halved when a side exceeds 1920 px) is probed for a smear where it has the
 * most edges (about 1.5 ms; no smear on any empty, clean or focus-blurred
 * test frame); only a smeared frame has the region around that place
 * deblurred and read. */
static int read_smeared(struct qr_reader *r, const struct frame *f)
{
    int side = f->width > f->height ? f->width : f->height;
    int den = (side + DEBLUR_ESTIMATE_MAX_SIDE - 1) / DEBLUR_ESTIMATE_MAX_SIDE;
    float length, angle;
    struct frame probe = *f;
    /* Beyond halving, modules come out under the 1.5 px the estimate needs. */
    if (den > 2)
        return 0;
    if (den > 1) {
        if (gray_crop_scale(f, (struct gray_rect){ 0, 0, f->width, f->height }, 1, den, &r->small) != 0)
            return 0;
        probe = gray_buf_frame(&r->small);
    }
    if (deblur_estimate_frame(r->deblur, &probe, PROBE_MODULE_PX / (float)den, &length, &angle) != 0)
        return 0;
    struct gray_rect at = deblur_where(r->deblur);
    at = (struct gray_rect){ at.x0 * den, at.y0 * den, at.x1 * den, at.y1 * den };
    struct gray_rect region = probe_region(f, at);
    if (gray_crop_scale(f, region, 1, 1, &r->small) != 0 ||
        deblur_motion(r->deblur, &r->small, length * (float)den, angle) != 0)
        return 0;
    r->stats.smeared = true;
    struct frame view = gray_buf_frame(&r->small);
    return read_deblurred_region(r, &view, region.x0, region.y0);
}

int qr_reader_scan(struct qr_reader *r, const struct frame *f)
{
    r->ncodes = 0;
    r->stats = (struct qr_reader_stats){ .read_by = -1 };
    r->started_ms = clock_ms();
    struct qr_candidate cands[QR_LOCATE_MAX];
    if (!f || !f->pixels || f->width <= 0 || f->height <= 0 || f->width > FRAME_MAX_SIDE ||
        f->height > FRAME_MAX_SIDE || f->stride < f->width)
        return QR_ERR_FRAME;
    int n = qr_locate(r->loc, f, cands, QR_LOCATE_MAX);
    if (n < 0)
        return f->width < 21 || f->height < 21 ? 0 : QR_ERR_NOMEM;
    r->stats.candidates = n;
    if (n == 0 && r->track_age >= 0 && r->track_age < r->opts.track_frames) {
        cands[n++] = r->track;
        r->stats.tracked = true;
    }
    for (int i = 0; i < n; i++) {
        if (inside_read_code(r, &cands[i].rect))
            continue; /* finder-like patterns in a read symbol's own modules */
        if (i > 0 && out_of_time(r)) {
            r->stats.over_budget = true;
            break;
        }
        int rc = read_candidate(r, f, &cands[i]);
        if (rc < 0)
            return rc;
    }
    /* Finders were there but no crop read (a wrong grouping, a code larger
     * than its crop): ZBar on the whole frame, as without the locator, if
     * time is left. Empty frames never get here. */
    if (r->ncodes == 0 && n > 0 && !r->stats.tracked && !out_of_time(r)) {
        struct crop whole = { { 0, 0, f->width, f->height }, 1, 1, false, { 0 } };
        scale_map(&whole);
        int rc = scan_view(r, f, &whole, -1);
        if (rc < 0)
            return rc;
    }
    if (r->ncodes == 0 && r->stats.candidates == 0 && !out_of_time(r)) {
        int rc = read_smeared(r, f);
        if (rc < 0)
            return rc;
    }
    if (r->ncodes > 0)
        remember(r, f);
    else if (r->track_age >= 0)
        r->track_age++;
    return r->ncodes;
}

const struct qr_code *qr_reader_code(const struct qr_reader *r, int i)
{
    return i >= 0 && i < r->ncodes ? &r->codes[i] : NULL;
}

const struct qr_reader_stats *qr_reader_last(const struct qr_reader *r)
{
    return &r->stats;
}
