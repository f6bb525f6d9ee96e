/* qr_locate.c - finder patterns on sparse rows, grouped into symbols.
 *
 * Three steps: a threshold per block of the frame (local, so lighting does
 * not matter); a run-length scan of every second or third row for the
 * 1:1:3:1:1 finder ratio in either polarity, each hit confirmed along its
 * column and row (which also centres it and measures the module); then
 * finders grouped in threes (corner with two legs of similar length) or, when
 * one was missed, in twos. */
#include "decode/qr_locate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FINDERS 256
/* Finders considered for grouping (by hits): 24 give 2,024 triples at most. */
#define MAX_GROUPED 24
/* A block whose pixels span less than this is flat: no edge inside it. */
#define FLAT_RANGE 12
/* A finder's centre and ring must differ by this much in mean level: desk
 * grain and sensor noise make 1:1:3:1:1 runs by chance, but faintly.
 * Underexposed frames still give ~25. */
#define MIN_FINDER_CONTRAST 14
/* Finders seen on fewer rows are noise; a 2 px module finder spans 3. */
#define MIN_HITS 2
/* Symbol geometry, in modules: finder centres of a version 1 symbol are 14
 * apart, of a version 20 symbol 90; the finder's centre is 3.5 modules from
 * the symbol's edge and the quiet zone adds 4. Slack for perspective. */
#define LEG_MIN_MODULES 10.0f
#define LEG_MAX_MODULES 90.0f
#define EDGE_MODULES 9.0f
/* Lone finders: how many are tried, how sure they must be (rows), and how
 * far their symbol may reach (a version 7 symbol, what card payloads need). */
#define SINGLES_MAX 2
#define SINGLE_MIN_HITS 3
#define SINGLE_REACH_MODULES 40.0f

struct finder {
    float x, y, module;
    bool inverted;
    int hits; /* rows that found it */
};

struct qr_locator {
    const struct frame *f; /* during qr_locate() only */
    bool smooth;           /* second pass: rows smoothed (dark_at) */
    int block, nbx, nby;
    uint8_t *avg, *thresh;
    size_t blocks_cap;
    int nfinders;
    struct finder finders[MAX_FINDERS];
    float xy[2 * MAX_FINDERS];
};

int qr_locator_open(struct qr_locator **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : -1;
}

void qr_locator_close(struct qr_locator *loc)
{
    if (!loc)
        return;
    free(loc->avg);
    free(loc->thresh);
    free(loc);
}

/* ---- threshold map -------------------------------------------------------- */

static int blocks_alloc(struct qr_locator *loc, const struct frame *f)
{
    /* ~80 blocks across: a finder of the largest module size a desk camera
     * gives (13 px at 1080p) still spans several blocks. */
    loc->block = f->width / 80 < 8 ? 8 : f->width / 80;
    loc->nbx = (f->width + loc->block - 1) / loc->block;
    loc->nby = (f->height + loc->block - 1) / loc->block;
    size_t need = (size_t)loc->nbx * (size_t)loc->nby;
    if (need <= loc->blocks_cap)
        return 0;
    uint8_t *a = realloc(loc->avg, need), *t = a ? realloc(loc->thresh, need) : NULL;
    if (a)
        loc->avg = a;
    if (!t)
        return -1;
    loc->thresh = t;
    loc->blocks_cap = need;
    return 0;
}

/* One block's mean, or (ZXing's rule) for a flat block a value that makes
 * it light, unless its neighbours show it sits in something darker. */
static uint8_t block_average(const struct qr_locator *loc, int bx, int by)
{
    const struct frame *f = loc->f;
    int x0 = bx * loc->block, y0 = by * loc->block;
    int x1 = x0 + loc->block < f->width ? x0 + loc->block : f->width;
    int y1 = y0 + loc->block < f->height ? y0 + loc->block : f->height;
    unsigned sum = 0, mn = 255, mx = 0;
    for (int y = y0; y < y1; y++) {
        const uint8_t *p = f->pixels + (size_t)y * (size_t)f->stride;
        for (int x = x0; x < x1; x++) {
            sum += p[x];
            mn = p[x] < mn ? p[x] : mn;
            mx = p[x] > mx ? p[x] : mx;
        }
    }
    unsigned avg = sum / (unsigned)((x1 - x0) * (y1 - y0));
    if (mx - mn > FLAT_RANGE)
        return (uint8_t)avg;
    avg = mn / 2;
    if (bx > 0 && by > 0) {
        const uint8_t *a = loc->avg;
        size_t i = (size_t)by * (size_t)loc->nbx + (size_t)bx;
        unsigned around = (a[i - (size_t)loc->nbx] + 2u * a[i - 1] + a[i - (size_t)loc->nbx - 1]) / 4;
        if (mn < around)
            avg = around;
    }
    return (uint8_t)avg;
}

/* Each block's threshold is the mean of the 5 x 5 block averages around it. */
static void threshold_map(struct qr_locator *loc)
{
    for (int by = 0; by < loc->nby; by++)
        for (int bx = 0; bx < loc->nbx; bx++)
            loc->avg[(size_t)by * (size_t)loc->nbx + (size_t)bx] = block_average(loc, bx, by);
    for (int by = 0; by < loc->nby; by++)
        for (int bx = 0; bx < loc->nbx; bx++) {
            unsigned sum = 0, n = 0;
            for (int y = by - 2; y <= by + 2; y++)
                for (int x = bx - 2; x <= bx + 2; x++)
                    if (y >= 0 && y < loc->nby && x >= 0 && x < loc->nbx) {
                        sum += loc->avg[(size_t)y * (size_t)loc->nbx + (size_t)x];
                        n++;
                    }
            loc->thresh[(size_t)by * (size_t)loc->nbx + (size_t)bx] = (uint8_t)(sum / n);
        }
}

/* Dark or not against the block's threshold; in the second pass on a
 * [1 2 1] smoothing along the direction of travel. Sensor noise splits runs
 * unsmoothed, but smoothing takes the light ring of a 2 px finder under the
 * threshold: each pass finds what the other misses (measured on make_frames'
 * small and noise categories). */
static bool dark_at(const struct qr_locator *loc, int x, int y, bool vertical)
{
    const struct frame *f = loc->f;
    const uint8_t *p = f->pixels + (size_t)y * (size_t)f->stride + (size_t)x;
    int v = 4 * p[0];
    if (loc->smooth) {
        if (vertical)
            v = (y > 0 ? p[-f->stride] : p[0]) + 2 * p[0] + (y + 1 < f->height ? p[f->stride] : p[0]);
        else
            v = (x > 0 ? p[-1] : p[0]) + 2 * p[0] + (x + 1 < f->width ? p[1] : p[0]);
    }
    return v < 4 * loc->thresh[(size_t)(y / loc->block) * (size_t)loc->nbx + (size_t)(x / loc->block)];
}

/* ---- one finder ----------------------------------------------------------- */

/* Runs (outer, ring, centre, ring, outer) in the ratio 1:1:3:1:1, each within
 * half a module (the centre within 1.5). */
static bool finder_ratio(const int r[5])
{
    int total = r[0] + r[1] + r[2] + r[3] + r[4];
    /* Under 1.7 px a module is beyond ZBar anyway, and sensor noise makes
     * such tiny patterns everywhere. */
    if (total < 12)
        return false;
    /* In 1/7 px: module = total, tolerance = total / 2. */
    int m = total, tol = total / 2 + 3;
    return abs(7 * r[0] - m) < tol && abs(7 * r[1] - m) < tol && abs(7 * r[2] - 3 * m) < 3 * tol &&
           abs(7 * r[3] - m) < tol && abs(7 * r[4] - m) < tol;
}

/* Walks from (x, y) along a row or column through a finder whose centre has
 * colour `dark`, filling the five runs; *centre gets the middle of the centre
 * run. False when the runs do not make a finder. */
static bool cross_check(const struct qr_locator *loc, int x, int y, bool vertical, bool dark, float max_module,
                        float *centre, int *total)
{
    int n = vertical ? loc->f->height : loc->f->width, at = vertical ? y : x;
    int maxrun = (int)(3.0f * max_module) + 2, r[5] = { 0 }, ends[2] = { at, at };
    for (int side = 0; side < 2; side++) {
        int dir = side ? 1 : -1, i = at;
        /* centre, ring, outer: the colours alternate starting from `dark` */
        for (int k = 0; k < 3; k++) {
            bool want = (k % 2 == 0) ? dark : !dark;
            int idx = side ? 2 + k : 2 - k, cnt = 0;
            if (k == 0 && side) { /* the centre's first pixel was counted going up */
                i += dir;
            }
            while (i >= 0 && i < n && cnt <= maxrun * (k == 0 ? 2 : 1) &&
                   dark_at(loc, vertical ? x : i, vertical ? i : y, vertical) == want) {
                cnt++;
                i += dir;
            }
            if (k == 0)
                ends[side] = i - dir;
            r[idx] += cnt;
            /* The centre may end right where the walk up started. */
            if ((cnt == 0 && !(k == 0 && side)) || cnt > maxrun * (k == 0 ? 2 : 1))
                return false;
        }
    }
    if (!finder_ratio(r))
        return false;
    *centre = (ends[0] + ends[1]) / 2.0f;
    *total = r[0] + r[1] + r[2] + r[3] + r[4];
    return true;
}

static void add_finder(struct qr_locator *loc, float x, float y, float module, bool inverted)
{
    for (int i = 0; i < loc->nfinders; i++) {
        struct finder *g = &loc->finders[i];
        float m = g->module > module ? g->module : module;
        if (g->inverted != inverted || fabsf(g->x - x) > 2 * m || fabsf(g->y - y) > 2 * m ||
            g->module > 2 * module || module > 2 * g->module)
            continue;
        float w = (float)g->hits;
        g->x = (g->x * w + x) / (w + 1);
        g->y = (g->y * w + y) / (w + 1);
        g->module = (g->module * w + module) / (w + 1);
        g->hits++;
        return;
    }
    struct finder fresh = { x, y, module, inverted, 1 };
    if (loc->nfinders < MAX_FINDERS) {
        loc->finders[loc->nfinders++] = fresh;
        return;
    }
    /* Full of noise: a finder seen once makes room (a real one is seen on
     * several rows and would have merged above). */
    for (int i = 0; i < loc->nfinders; i++)
        if (loc->finders[i].hits == 1) {
            loc->finders[i] = fresh;
            return;
        }
}

/* A row's run ended at x: five runs in, is it a finder? Confirm along the
 * column through its centre, then along the row through the new centre. */
static int mean_level(const struct qr_locator *loc, int x0, int x1, int y)
{
    const uint8_t *p = loc->f->pixels + (size_t)y * (size_t)loc->f->stride;
    int sum = 0;
    for (int x = x0; x < x1; x++)
        sum += p[x];
    return x1 > x0 ? sum / (x1 - x0) : 0;
}

/* The centre run against the two ring runs, on the row as found. */
static bool contrast_ok(const struct qr_locator *loc, const int runs[5], int x_end, int y)
{
    int c1 = x_end - runs[4] - runs[3], c0 = c1 - runs[2];
    int centre = mean_level(loc, c0, c1, y);
    int ring = (mean_level(loc, c0 - runs[1], c0, y) + mean_level(loc, c1, c1 + runs[3], y)) / 2;
    return abs(centre - ring) >= MIN_FINDER_CONTRAST;
}

/* Along the diagonal through (x, y): a real finder shows its rings there
 * too; text strokes that pass the row and column tests rarely do. */
static bool diagonal_ok(const struct qr_locator *loc, int x, int y, bool dark, float module)
{
    int r[5] = { 0 }, maxrun = (int)(4.0f * module) + 2;
    for (int side = 0; side < 2; side++) {
        int d = side ? 1 : -1, i = side ? 1 : 0;
        for (int k = 0; k < 3; k++) {
            bool want = (k % 2 == 0) ? dark : !dark;
            int cnt = 0;
            while (x + d * i >= 0 && x + d * i < loc->f->width && y + d * i >= 0 && y + d * i < loc->f->height &&
                   cnt <= maxrun && dark_at(loc, x + d * i, y + d * i, false) == want) {
                cnt++;
                i++;
            }
            if ((cnt == 0 && !(k == 0 && side)) || cnt > maxrun)
                return false;
            r[side ? 2 + k : 2 - k] += cnt;
        }
    }
    return finder_ratio(r);
}

static void try_finder(struct qr_locator *loc, const int runs[5], int x_end, int y, bool centre_dark)
{
    if (!finder_ratio(runs) || !contrast_ok(loc, runs, x_end, y))
        return;
    int htotal = runs[0] + runs[1] + runs[2] + runs[3] + runs[4];
    float module = htotal / 7.0f;
    int cx = (int)(x_end - runs[4] - runs[3] - runs[2] / 2.0f);
    float cy, cx2;
    int vtotal, htotal2;
    /* Perspective may shorten one direction: the column gets 2.5x slack. */
    if (!cross_check(loc, cx, y, true, centre_dark, module * 2.5f, &cy, &vtotal))
        return;
    if (vtotal * 5 < htotal * 2 || vtotal * 2 > htotal * 5)
        return;
    if (!cross_check(loc, cx, (int)cy, false, centre_dark, module * 2.5f, &cx2, &htotal2))
        return;
    if (!diagonal_ok(loc, (int)cx2, (int)cy, centre_dark, module * 2.5f))
        return;
    add_finder(loc, cx2, cy, (htotal2 + vtotal) / 14.0f, !centre_dark);
}

static void scan_row(struct qr_locator *loc, int y)
{
    int w = loc->f->width, runs[5] = { 0 }, nruns = 0, len = 0;
    bool cur = dark_at(loc, 0, y, false);
    for (int x = 0; x <= w; x++) {
        bool d = x < w ? dark_at(loc, x, y, false) : !cur;
        if (d == cur) {
            len++;
            continue;
        }
        memmove(runs, runs + 1, 4 * sizeof(int));
        runs[4] = len;
        if (++nruns >= 5)
            try_finder(loc, runs, x, y, cur); /* runs[2] has the colour that just ended */
        cur = d;
        len = 1;
    }
}

/* ---- grouping ------------------------------------------------------------- */

static float dist(const struct finder *a, const struct finder *b)
{
    return hypotf(a->x - b->x, a->y - b->y);
}

static bool alike(const struct finder *a, const struct finder *b)
{
    return a->inverted == b->inverted && a->module < 2 * b->module && b->module < 2 * a->module;
}

static bool leg_ok(float d, float module)
{
    return d >= LEG_MIN_MODULES * module && d <= LEG_MAX_MODULES * module;
}

/* Three finders make a symbol when two legs from one corner are about equal
 * and about square to each other (perspective bends both a little). Returns
 * the corner's index among i, j, k, or -1. */
static int triple_corner(const struct finder *f[3])
{
    if (!alike(f[0], f[1]) || !alike(f[1], f[2]))
        return -1;
    float d[3] = { dist(f[1], f[2]), dist(f[0], f[2]), dist(f[0], f[1]) }; /* d[i]: side opposite i */
    int c = d[0] >= d[1] && d[0] >= d[2] ? 0 : d[1] >= d[2] ? 1 : 2;
    float l1 = d[(c + 1) % 3], l2 = d[(c + 2) % 3], m = (f[0]->module + f[1]->module + f[2]->module) / 3;
    if (l1 > 1.8f * l2 || l2 > 1.8f * l1 || !leg_ok(l1, m) || !leg_ok(l2, m))
        return -1;
    float hyp = sqrtf(l1 * l1 + l2 * l2);
    return d[c] > 0.8f * hyp && d[c] < 1.2f * hyp ? c : -1;
}

static struct gray_rect bounds(const float *px, const float *py, int n, float margin, const struct frame *f)
{
    float x0 = px[0], x1 = px[0], y0 = py[0], y1 = py[0];
    for (int i = 1; i < n; i++) {
        x0 = fminf(x0, px[i]), x1 = fmaxf(x1, px[i]);
        y0 = fminf(y0, py[i]), y1 = fmaxf(y1, py[i]);
    }
    struct gray_rect r = { (int)(x0 - margin), (int)(y0 - margin), (int)(x1 + margin) + 1, (int)(y1 + margin) + 1 };
    r.x0 = r.x0 < 0 ? 0 : r.x0;
    r.y0 = r.y0 < 0 ? 0 : r.y0;
    r.x1 = r.x1 > f->width ? f->width : r.x1;
    r.y1 = r.y1 > f->height ? f->height : r.y1;
    return r;
}

static struct qr_candidate triple_candidate(const struct finder *f[3], int c, const struct frame *fr)
{
    const struct finder *a = f[(c + 1) % 3], *b = f[c], *d = f[(c + 2) % 3];
    /* Top-right is the leg for which (tr - tl) x (bl - tl) > 0 (y down): a
     * mirrored symbol would not decode. */
    if ((a->x - b->x) * (d->y - b->y) - (a->y - b->y) * (d->x - b->x) < 0) {
        const struct finder *t = a;
        a = d;
        d = t;
    }
    float px[4] = { a->x, b->x, d->x, a->x + d->x - b->x };
    float py[4] = { a->y, b->y, d->y, a->y + d->y - b->y };
    float m = (a->module + b->module + d->module) / 3, leg = fmaxf(dist(a, b), dist(b, d));
    struct qr_candidate q = { bounds(px, py, 4, EDGE_MODULES * m + 0.15f * leg, fr), m, b->inverted, 3, { { 0, 0 } } };
    q.finder[0].x = b->x, q.finder[0].y = b->y;
    q.finder[1].x = a->x, q.finder[1].y = a->y;
    q.finder[2].x = d->x, q.finder[2].y = d->y;
    return q;
}

static struct qr_candidate pair_candidate(const struct finder *a, const struct finder *b, const struct frame *fr)
{
    float px[2] = { a->x, b->x }, py[2] = { a->y, b->y }, m = (a->module + b->module) / 2;
    /* The third finder lies on either side, up to one leg away. */
    return (struct qr_candidate){ bounds(px, py, 2, dist(a, b) + EDGE_MODULES * m, fr),
                                  m,
                                  a->inverted,
                                  2,
                                  { { a->x, a->y }, { b->x, b->y }, { 0, 0 } } };
}

/* A lone finder seen on many rows: a symbol whose other finders blur,
 * glare or tilt out of the locator's reach may still be within ZBar's. The
 * symbol lies on one side of it, up to a large code's size away. */
static int group_singles(struct qr_locator *loc, int n, struct qr_candidate *out, int max)
{
    int count = 0;
    for (int i = 0; i < n && count < max && count < SINGLES_MAX; i++) {
        const struct finder *a = &loc->finders[i];
        if (a->hits < SINGLE_MIN_HITS)
            break; /* sorted by hits */
        float m = a->module, reach = (SINGLE_REACH_MODULES + EDGE_MODULES) * m;
        out[count++] = (struct qr_candidate){ bounds(&a->x, &a->y, 1, reach, loc->f), m, a->inverted, 1,
                                              { { 0, 0 } } };
    }
    return count;
}

static int by_hits(const void *pa, const void *pb)
{
    const struct finder *a = pa, *b = pb;
    return b->hits - a->hits;
}

/* Greedy: the triple with the most hits first, its finders taken out. */
static int group_triples(struct qr_locator *loc, bool *used, int n, struct qr_candidate *out, int max)
{
    int count = 0;
    while (count < max) {
        int best = -1, bi = 0, bj = 0, bk = 0, bc = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n && !used[i]; j++)
                for (int k = j + 1; k < n && !used[j]; k++) {
                    if (used[k])
                        continue;
                    const struct finder *f[3] = { &loc->finders[i], &loc->finders[j], &loc->finders[k] };
                    int c = triple_corner(f), score = f[0]->hits + f[1]->hits + f[2]->hits;
                    if (c >= 0 && score > best)
                        best = score, bi = i, bj = j, bk = k, bc = c;
                }
        if (best < 0)
            break;
        const struct finder *f[3] = { &loc->finders[bi], &loc->finders[bj], &loc->finders[bk] };
        out[count++] = triple_candidate(f, bc, loc->f);
        used[bi] = used[bj] = used[bk] = true;
    }
    return count;
}

static int group_pairs(struct qr_locator *loc, bool *used, int n, struct qr_candidate *out, int max)
{
    int count = 0;
    for (int i = 0; i < n && count < max; i++)
        for (int j = i + 1; j < n && count < max && !used[i]; j++) {
            const struct finder *a = &loc->finders[i], *b = &loc->finders[j];
            float m = (a->module + b->module) / 2;
            if (used[j] || !alike(a, b) || !leg_ok(dist(a, b), m * 0.7f) || dist(a, b) > LEG_MAX_MODULES * 1.5f * m)
                continue;
            out[count++] = pair_candidate(a, b, loc->f);
            used[i] = used[j] = true;
        }
    return count;
}

/* A 2 px module makes a 6 px finder centre: every second row at VGA,
 * every third above (where such small codes are rarer and rows cost). */
static void scan_rows(struct qr_locator *loc)
{
    int step = loc->f->width <= 800 ? 2 : 3;
    for (int y = step / 2; y < loc->f->height; y += step)
        scan_row(loc, y);
}

/* Finders seen on enough rows, by hits, grouped: whole symbols first. */
static int group(struct qr_locator *loc, struct qr_candidate *out, int max)
{
    qsort(loc->finders, (size_t)loc->nfinders, sizeof(loc->finders[0]), by_hits);
    int n = 0;
    while (n < loc->nfinders && n < MAX_GROUPED && loc->finders[n].hits >= MIN_HITS)
        n++;
    bool used[MAX_GROUPED] = { false };
    int count = group_triples(loc, used, n, out, max);
    count += group_pairs(loc, used, n, out + count, max - count);
    return count > 0 ? count : group_singles(loc, n, out, max);
}

int qr_locate(struct qr_locator *loc, const struct frame *f, struct qr_candidate *out, int max)
{
    loc->nfinders = 0;
    if (!f || !f->pixels || f->width < 21 || f->height < 21 || f->stride < f->width || max < 0)
        return -1;
    loc->f = f;
    if (blocks_alloc(loc, f) != 0)
        return -1;
    threshold_map(loc);
    if (max > QR_LOCATE_MAX)
        max = QR_LOCATE_MAX;
    int count = 0;
    /* The smoothed pass only when the plain one saw no whole symbol. */
    for (int pass = 0; pass < 2 && (count == 0 || out[0].nfinders < 3); pass++) {
        loc->smooth = pass == 1;
        scan_rows(loc);
        count = group(loc, out, max);
    }
    for (int i = 0; i < loc->nfinders; i++) {
        loc->xy[2 * i] = loc->finders[i].x;
        loc->xy[2 * i + 1] = loc->finders[i].y;
    }
    loc->f = NULL;
    return count;
}

int qr_locator_finders(const struct qr_locator *loc, const float **xy)
{
    *xy = loc->xy;
    return loc->nfinders;
}
