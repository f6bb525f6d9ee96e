/* qr_grid.c - the projective map of a located symbol's modules. */
#include "decode/qr_grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode/gray_ops.h"

#define DIM_MIN 21
#define DIM_MAX 177
/* The alignment pattern is looked for within this many modules of where an
 * affine map puts it: at 35-40 degrees of tilt it lay up to 8 modules away
 * on the generated perspective frames, 9-10 on large symbols (version 9-10)
 * seen at 32-42 degrees. */
#define SEARCH_MODULES 12.0f
/* Its light ring must be this much brighter than its dark parts (levels):
 * below, noise makes patterns of its own. */
#define ALIGN_MIN_CONTRAST 16.0f
/* A pair's guessed third finder must make this share of the timing and
 * alignment modules right (a wrong guess scores about half), on a symbol of
 * at least PAIR_MIN_DIM modules: the best of the ~1,800 fits a pair gets
 * scored 1.0 on random blocks when version 1 (10 timing modules) was
 * allowed. Cards are version 5 and up. */
#define PAIR_MIN_SCORE 0.9f
#define PAIR_MIN_DIM 25
/* Moves per step size when a guessed finder is moved into place, and the
 * score a guess must have to be moved at all (a wrong one scores about half;
 * moving it would cost a few hundred fits for nothing). */
#define REFINE_MOVES 4
#define REFINE_MIN_SCORE 0.6f
/* How many look-alikes of the alignment pattern are weighed. */
#define ALIGN_KEEP 6
/* The symbol sizes tried around the finders' estimate: under strong
 * perspective the finders look smaller than the modules between them. */
static const int dim_tries[] = { 0, -4, 4, -8, 8, 12, 16 }; /* likeliest first */

bool qr_grid_point(const float m[9], float u, float v, float *x, float *y)
{
    float q = m[6] * u + m[7] * v + m[8];
    if (!(q > 0))
        return false;
    *x = (m[0] * u + m[1] * v + m[2]) / q;
    *y = (m[3] * u + m[4] * v + m[5]) / q;
    return true;
}

/* The map taking the unit square's corners (0,0) (1,0) (1,1) (0,1) to
 * p[0..3] (Heckbert's closed form). False for a degenerate quad. */
static bool square_to_quad(const double p[4][2], double m[9])
{
    double dx3 = p[0][0] - p[1][0] + p[2][0] - p[3][0], dy3 = p[0][1] - p[1][1] + p[2][1] - p[3][1];
    double dx1 = p[1][0] - p[2][0], dx2 = p[3][0] - p[2][0];
    double dy1 = p[1][1] - p[2][1], dy2 = p[3][1] - p[2][1];
    double den = dx1 * dy2 - dx2 * dy1;
    if (fabs(den) < 1e-9)
        return false;
    double g = (dx3 * dy2 - dx2 * dy3) / den, h = (dx1 * dy3 - dx3 * dy1) / den;
    m[0] = p[1][0] - p[0][0] + g * p[1][0];
    m[1] = p[3][0] - p[0][0] + h * p[3][0];
    m[2] = p[0][0];
    m[3] = p[1][1] - p[0][1] + g * p[1][1];
    m[4] = p[3][1] - p[0][1] + h * p[3][1];
    m[5] = p[0][1];
    m[6] = g, m[7] = h, m[8] = 1;
    return true;
}

/* The adjugate: the inverse up to scale, which is all a projective map needs. */
static void adjugate(const double a[9], double r[9])
{
    r[0] = a[4] * a[8] - a[5] * a[7], r[1] = a[2] * a[7] - a[1] * a[8], r[2] = a[1] * a[5] - a[2] * a[4];
    r[3] = a[5] * a[6] - a[3] * a[8], r[4] = a[0] * a[8] - a[2] * a[6], r[5] = a[2] * a[3] - a[0] * a[5];
    r[6] = a[3] * a[7] - a[4] * a[6], r[7] = a[1] * a[6] - a[0] * a[7], r[8] = a[0] * a[4] - a[1] * a[3];
}

static void mul3(const double a[9], const double b[9], double r[9])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
}

/* The map taking from[k] to to[k], k = 0..3 (corners in square order). */
static bool quad_to_quad(const double from[4][2], const double to[4][2], float out[9])
{
    double s[9], t[9], inv[9], m[9];
    if (!square_to_quad(from, s) || !square_to_quad(to, t))
        return false;
    adjugate(s, inv);
    mul3(t, inv, m);
    if (fabs(m[8]) < 1e-12)
        return false;
    for (int i = 0; i < 9; i++)
        out[i] = (float)(m[i] / m[8]);
    return true;
}

/* The finders' layout: the corner finder and the two edges leaving it. */
struct frame_axes {
    float ox, oy;           /* top-left finder centre */
    float ax, ay, bx, by;   /* to the top-right and bottom-left finder centres */
};

static void affine_point(const struct frame_axes *a, int dim, float u, float v, float *x, float *y)
{
    float s = (u - 3.5f) / (float)(dim - 7), t = (v - 3.5f) / (float)(dim - 7);
    *x = a->ox + s * a->ax + t * a->bx;
    *y = a->oy + s * a->ay + t * a->by;
}

/* How well the 5 x 5 modules around (x, y) look like an alignment pattern:
 * mean of the light ring minus mean of the dark centre and outer ring, in
 * levels, with the printed polarity (dark on light). */
static float alignment_score(const struct frame *f, float x, float y, const float e[4], bool inverted)
{
    float dark = 0, light = 0;
    for (int j = -2; j <= 2; j++)
        for (int i = -2; i <= 2; i++) {
            int v = gray_sample(f, x + (float)i * e[0] + (float)j * e[2], y + (float)i * e[1] + (float)j * e[3], -1);
            if (v < 0)
                return 0;
            int ring = abs(i) > abs(j) ? abs(i) : abs(j);
            if (ring == 1)
                light += (float)v;
            else
                dark += (float)v;
        }
    float s = light / 8 - dark / 17;
    return inverted ? -s : s;
}

/* Places that look like an alignment pattern, best first. */
struct align_set {
    int n;
    struct {
        float x, y, score;
    } at[ALIGN_KEEP];
};

/* Keeps the ALIGN_KEEP best places at least `apart` px from each other: a
 * pattern scores nearly as well one step off its centre. */
static void align_keep(struct align_set *set, float x, float y, float score, float apart)
{
    for (int i = 0; i < set->n; i++)
        if (hypotf(set->at[i].x - x, set->at[i].y - y) < apart) {
            if (score <= set->at[i].score)
                return;
            memmove(&set->at[i], &set->at[i + 1], (size_t)(set->n - i - 1) * sizeof(set->at[0]));
            set->n--;
            break;
        }
    if (set->n == ALIGN_KEEP && score <= set->at[ALIGN_KEEP - 1].score)
        return;
    int i = set->n < ALIGN_KEEP ? set->n++ : ALIGN_KEEP - 1;
    for (; i > 0 && set->at[i - 1].score < score; i--)
        set->at[i] = set->at[i - 1];
    set->at[i].x = x, set->at[i].y = y, set->at[i].score = score;
}

/* Looks for the bottom-right alignment pattern around where the finders put
 * it, in steps of a quarter module. Data modules can mimic the pattern, so
 * several places are kept and the timing and alignment patterns choose
 * between them (pattern_score). */
static void find_alignment(const struct frame *f, const struct frame_axes *a, int dim, bool inverted,
                           struct align_set *set)
{
    float px, py;
    affine_point(a, dim, (float)dim - 6.5f, (float)dim - 6.5f, &px, &py);
    float e[4] = { a->ax / (float)(dim - 7), a->ay / (float)(dim - 7), a->bx / (float)(dim - 7),
                   a->by / (float)(dim - 7) };
    float module = (hypotf(e[0], e[1]) + hypotf(e[2], e[3])) / 2, step = module / 4;
    int reach = (int)(SEARCH_MODULES * 4);
    set->n = 0;
    for (int j = -reach; j <= reach; j++)
        for (int i = -reach; i <= reach; i++) {
            float x = px + (float)i * step, y = py + (float)j * step;
            float s = alignment_score(f, x, y, e, inverted);
            if (s >= ALIGN_MIN_CONTRAST)
                align_keep(set, x, y, s, 2 * module);
        }
}

/* The alignment pattern centres along one side for a version (the
 * standard's table, as its generating rule); returns how many. */
static int alignment_positions(int version, int pos[7])
{
    if (version < 2)
        return 0;
    int n = version / 7 + 2;
    int step = version == 32 ? 26 : (version * 4 + n * 2 + 1) / (n * 2 - 2) * 2;
    pos[0] = 6;
    for (int i = n - 1, p = version * 4 + 10; i >= 1; i--, p -= step)
        pos[i] = p;
    return n;
}

/* The ring (Chebyshev distance) of (x, y) around (cx, cy). */
static int ring_of(int x, int y, int cx, int cy)
{
    int dx = abs(x - cx), dy = abs(y - cy);
    return dx > dy ? dx : dy;
}

/* 1 dark, 0 light for a module of a function pattern (finder with its
 * separator, timing, alignment); -1 for everything else. */
static int function_module(int dim, const int *apos, int napos, int x, int y)
{
    const int fx[3] = { 3, dim - 4, 3 }, fy[3] = { 3, 3, dim - 4 };
    for (int k = 0; k < 3; k++) {
        int r = ring_of(x, y, fx[k], fy[k]);
        if (r <= 4)
            return r != 2 && r != 4;
    }
    for (int i = 0; i < napos; i++)
        for (int j = 0; j < napos; j++) {
            int r = ring_of(x, y, apos[i], apos[j]);
            bool under_finder = (i == 0 && j == 0) || (i == 0 && j == napos - 1) || (i == napos - 1 && j == 0);
            if (!under_finder && r <= 2)
                return r != 1;
        }
    if (y == 6 || x == 6)
        return (x + y) % 2 == 0;
    return -1;
}

/* Lists the timing modules and every alignment pattern's modules with the
 * shade the standard gives them (1 dark); returns how many. */
static int pattern_modules(int dim, int (*m)[3], int max)
{
    int n = 0, apos[7], napos = alignment_positions((dim - 17) / 4, apos);
    for (int k = 8; k < dim - 8 && n + 2 <= max; k++) {
        m[n][0] = k, m[n][1] = 6, m[n++][2] = k % 2 == 0;
        m[n][0] = 6, m[n][1] = k, m[n++][2] = k % 2 == 0;
    }
    for (int i = 0; i < napos; i++)
        for (int j = 0; j < napos; j++) {
            if ((i == 0 && j == 0) || (i == 0 && j == napos - 1) || (i == napos - 1 && j == 0))
                continue; /* under a finder */
            for (int y = apos[j] - 2; y <= apos[j] + 2 && n < max; y++)
                for (int x = apos[i] - 2; x <= apos[i] + 2 && n < max; x++)
                    m[n][0] = x, m[n][1] = y, m[n++][2] = ring_of(x, y, apos[i], apos[j]) != 1;
        }
    return n;
}

/* The share of timing and alignment modules that read as the standard
 * draws them through this map: near 1 for the right grid, about half for a
 * wrong size or a look-alike taken for the alignment pattern. */
static float pattern_score(const struct frame *f, const float map[9], int dim, bool inverted)
{
    enum { MAX = 2 * DIM_MAX + 46 * 25 };
    int m[MAX][3], val[MAX], n = pattern_modules(dim, m, MAX);
    long sum[2] = { 0, 0 };
    int count[2] = { 0, 0 };
    for (int i = 0; i < n; i++) {
        float x, y;
        int v = qr_grid_point(map, (float)m[i][0] + 0.5f, (float)m[i][1] + 0.5f, &x, &y) ? gray_sample(f, x, y, -1)
                                                                                          : -1;
        if (v < 0)
            return 0;
        val[i] = inverted ? 255 - v : v;
        sum[m[i][2]] += val[i];
        count[m[i][2]]++;
    }
    if (count[0] == 0 || count[1] == 0)
        return 0;
    /* Between the mean of what should be dark and of what should be light. */
    float mid = ((float)sum[0] / (float)count[0] + (float)sum[1] / (float)count[1]) / 2;
    int good = 0;
    for (int i = 0; i < n; i++)
        good += ((float)val[i] < mid) == (m[i][2] == 1);
    return (float)good / (float)n;
}

/* The corner finder and the edges to the other two, from a candidate. */
static struct frame_axes axes_of(const struct qr_candidate *c)
{
    return (struct frame_axes){ c->finder[0].x,
                                c->finder[0].y,
                                c->finder[1].x - c->finder[0].x,
                                c->finder[1].y - c->finder[0].y,
                                c->finder[2].x - c->finder[0].x,
                                c->finder[2].y - c->finder[0].y };
}

/* The grid for one symbol size, through the alignment pattern when there is
 * one (x, y valid), else through the corner the affine map predicts. */
static bool fit_dim(const struct frame *f, const struct frame_axes *a, int dim, bool inverted, const float *align,
                    struct qr_grid *g)
{
    double to[4][2], from[4][2] = { { 3.5, 3.5 }, { dim - 3.5, 3.5 }, { dim - 6.5, dim - 6.5 }, { 3.5, dim - 3.5 } };
    to[0][0] = a->ox, to[0][1] = a->oy;
    to[1][0] = a->ox + a->ax, to[1][1] = a->oy + a->ay;
    to[3][0] = a->ox + a->bx, to[3][1] = a->oy + a->by;
    float x, y;
    if (align)
        x = align[0], y = align[1];
    else
        affine_point(a, dim, (float)dim - 6.5f, (float)dim - 6.5f, &x, &y);
    to[2][0] = x, to[2][1] = y;
    if (!quad_to_quad(from, to, g->map))
        return false;
    g->dim = dim;
    g->aligned = align != NULL;
    g->score = pattern_score(f, g->map, dim, inverted);
    return true;
}

/* The size the finders' spacing suggests: modules between the finder
 * centres plus 7, made 4k + 1 as every QR size is. */
static int estimate_dim(const struct frame_axes *a, float module_px)
{
    float legs = (hypotf(a->ax, a->ay) + hypotf(a->bx, a->by)) / 2 / module_px;
    if (!(legs < 2 * DIM_MAX))
        return -1;
    int dim = (int)lroundf(legs) + 7;
    switch (dim & 3) {
    case 0: return dim + 1;
    case 2: return dim - 1;
    case 3: return dim + 2;
    default: return dim;
    }
}

/* min_dim: the smallest size tried (a pair's guesses skip version 1, whose
 * ten timing modules a wrong guess matches by chance). */
static int fit_triple(const struct frame *f, const struct qr_candidate *c, int min_dim, struct qr_grid *g,
                      struct align_set *set)
{
    struct frame_axes a = axes_of(c);
    /* Finders (nearly) on one line or too close for a symbol; NaN fails too. */
    if (!(fabsf(a.ax * a.by - a.ay * a.bx) >= 64 * c->module_px * c->module_px))
        return -1;
    int dim0 = estimate_dim(&a, c->module_px);
    if (dim0 < 0 || dim0 > DIM_MAX + 8)
        return -1;
    set->n = 0;
    if (dim0 >= 25)
        find_alignment(f, &a, dim0, c->inverted, set);
    bool fitted = false;
    /* k == set->n: no alignment pattern, the affine corner. */
    for (int k = 0; k <= set->n; k++)
        for (size_t d = 0; d < sizeof(dim_tries) / sizeof(dim_tries[0]); d++) {
            int dim = dim0 + dim_tries[d];
            struct qr_grid t;
            /* Version 1 has no alignment pattern: what was found is data. */
            if (dim < min_dim || dim > DIM_MAX || (k < set->n && dim < 25))
                continue;
            float at[2] = { k < set->n ? set->at[k].x : 0, k < set->n ? set->at[k].y : 0 };
            if (!fit_dim(f, &a, dim, c->inverted, k < set->n ? at : NULL, &t))
                continue;
            /* Ties go to the likelier: the better pattern, the estimated size. */
            if (!fitted || t.score > g->score)
                *g = t, fitted = true;
        }
    return fitted ? 0 : -1;
}

/* Orders three finder centres as the symbol has them: corner first, then
 * top-right and bottom-left by handedness (as the locator does). */
static void order_finders(struct qr_candidate *t, float cx, float cy, float px, float py, float qx, float qy)
{
    if ((px - cx) * (qy - cy) - (py - cy) * (qx - cx) < 0) {
        float sx = px, sy = py;
        px = qx, py = qy, qx = sx, qy = sy;
    }
    t->finder[0].x = cx, t->finder[0].y = cy;
    t->finder[1].x = px, t->finder[1].y = py;
    t->finder[2].x = qx, t->finder[2].y = qy;
}

/* Moves a guessed finder (finder[role] of t) to where the function
 * patterns read best, the size and alignment pattern of g kept: steps of 2,
 * 1, 1/2 and 1/4 module in eight directions. The guess assumed a square
 * symbol; perspective moves the hidden finder by a few modules from there. */
static void refine_guess(const struct frame *f, struct qr_candidate *t, int role, struct qr_grid *g)
{
    static const int dir[8][2] = { { 1, 0 }, { 1, 1 }, { 0, 1 }, { -1, 1 }, { -1, 0 }, { -1, -1 }, { 0, -1 }, { 1, -1 } };
    float ap[2];
    bool aligned = g->aligned && qr_grid_point(g->map, (float)g->dim - 6.5f, (float)g->dim - 6.5f, &ap[0], &ap[1]);
    for (float step = 2 * t->module_px; step >= t->module_px / 4; step /= 2)
        for (int moves = 0, moved = 1; moved && moves < REFINE_MOVES; moves++) {
            moved = 0;
            for (int k = 0; k < 8; k++) {
                struct qr_candidate u = *t;
                u.finder[role].x += step * (float)dir[k][0];
                u.finder[role].y += step * (float)dir[k][1];
                struct frame_axes a = axes_of(&u);
                struct qr_grid trial;
                if (fit_dim(f, &a, g->dim, u.inverted, aligned ? ap : NULL, &trial) && trial.score > g->score) {
                    *g = trial, *t = u;
                    moved = 1;
                }
            }
        }
}

/* Fits one guess of a pair's hidden finder (finder[role] of t), then moves
 * the guess to where the function patterns fit best: from the grid that
 * scored best and from the likeliest alignment pattern (with the guess a few
 * modules off, a look-alike can score better before the move). */
static int fit_guess(const struct frame *f, struct qr_candidate *t, int role, struct qr_grid *g)
{
    struct align_set set;
    if (fit_triple(f, t, PAIR_MIN_DIM, g, &set) != 0)
        return -1;
    struct qr_candidate first = *t;
    float ax, ay;
    bool used_likeliest = set.n > 0 && g->aligned &&
                          qr_grid_point(g->map, (float)g->dim - 6.5f, (float)g->dim - 6.5f, &ax, &ay) &&
                          hypotf(ax - set.at[0].x, ay - set.at[0].y) < 0.5f;
    if (g->score >= REFINE_MIN_SCORE)
        refine_guess(f, t, role, g);
    struct frame_axes a = axes_of(&first);
    struct qr_grid likeliest;
    float at[2] = { set.n > 0 ? set.at[0].x : 0, set.n > 0 ? set.at[0].y : 0 };
    if (set.n > 0 && !used_likeliest && fit_dim(f, &a, g->dim, first.inverted, at, &likeliest) &&
        likeliest.score >= REFINE_MIN_SCORE) {
        refine_guess(f, &first, role, &likeliest);
        if (likeliest.score > g->score)
            *g = likeliest, *t = first;
    }
    return 0;
}

/* Two finders seen, the third hidden (glare, a thumb): the third may
 * complete an edge at either finder, on either side, or the pair may be the
 * diagonal. Each place is fitted; the function patterns choose, and only a
 * clear winner counts. */
static int fit_pair(const struct frame *f, const struct qr_candidate *c, struct qr_grid *g)
{
    float ax = c->finder[0].x, ay = c->finder[0].y, bx = c->finder[1].x, by = c->finder[1].y;
    float vx = bx - ax, vy = by - ay, mx = (ax + bx) / 2, my = (ay + by) / 2;
    const float third[6][2] = { { ax - vy, ay + vx }, { ax + vy, ay - vx }, { bx - vy, by + vx },
                                { bx + vy, by - vx }, { mx - vy / 2, my + vx / 2 }, { mx + vy / 2, my - vx / 2 } };
    bool fitted = false;
    for (int h = 0; h < 6; h++) {
        struct qr_candidate t = *c;
        t.nfinders = 3;
        const float *x = third[h];
        if (h < 2)
            order_finders(&t, ax, ay, bx, by, x[0], x[1]);
        else if (h < 4)
            order_finders(&t, bx, by, ax, ay, x[0], x[1]);
        else
            order_finders(&t, x[0], x[1], ax, ay, bx, by);
        int role = 0;
        while (role < 2 && (t.finder[role].x != x[0] || t.finder[role].y != x[1]))
            role++;
        struct qr_grid trial;
        if (fit_guess(f, &t, role, &trial) == 0 && (!fitted || trial.score > g->score))
            *g = trial, fitted = true;
    }
    return fitted && g->score >= PAIR_MIN_SCORE ? 0 : -1;
}

int qr_grid_fit(const struct frame *f, const struct qr_candidate *c, struct qr_grid *g)
{
    if (!(c->module_px > 0))
        return -1;
    struct align_set set;
    if (c->nfinders == 3)
        return fit_triple(f, c, DIM_MIN, g, &set);
    return c->nfinders == 2 ? fit_pair(f, c, g) : -1;
}

/* Each module's level, sampled at 9 points around its centre, in printed
 * polarity (dark low). False when the map leaves the frame. */
static bool sample_modules(const struct frame *f, const struct qr_grid *g, bool inverted, uint8_t *val)
{
    for (int y = 0; y < g->dim; y++)
        for (int x = 0; x < g->dim; x++) {
            int acc = 0;
            for (int k = 0; k < 9; k++) {
                float px, py;
                float u = (float)x + 0.5f + 0.25f * (float)(k % 3 - 1), v = (float)y + 0.5f + 0.25f * (float)(k / 3 - 1);
                int s = qr_grid_point(g->map, u, v, &px, &py) ? gray_sample(f, px, py, -1) : -1;
                if (s < 0)
                    return false;
                acc += s;
            }
            val[y * g->dim + x] = (uint8_t)(inverted ? 255 - acc / 9 : acc / 9);
        }
    return true;
}

/* Dark or light for a data module: against the middle of its 7 x 7
 * neighbourhood where that holds both (glare and shadow move the middle),
 * against the symbol's middle where it is flat. */
static bool module_is_dark(const uint8_t *val, int dim, int x, int y, int gmin, int gmax)
{
    int lo = 255, hi = 0;
    for (int yy = y - 3; yy <= y + 3; yy++)
        for (int xx = x - 3; xx <= x + 3; xx++)
            if (xx >= 0 && yy >= 0 && xx < dim && yy < dim) {
                int v = val[yy * dim + xx];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
    int mid = hi - lo > (gmax - gmin) / 4 ? (lo + hi) / 2 : (gmin + gmax) / 2;
    return val[y * dim + x] < mid;
}

int qr_grid_resample(const struct frame *f, const struct qr_grid *g, bool inverted, int px, struct gray_buf *out)
{
    uint8_t val[DIM_MAX * DIM_MAX];
    int dim = g->dim;
    if (dim < DIM_MIN || dim > DIM_MAX || (dim - 17) % 4 != 0 || px < 1 || px > 8)
        return -1;
    int side = (dim + 8) * px;
    if (!sample_modules(f, g, inverted, val) || gray_buf_resize(out, side, side) != 0)
        return -1;
    int apos[7], napos = alignment_positions((dim - 17) / 4, apos);
    int gmin = 255, gmax = 0;
    for (int i = 0; i < dim * dim; i++) {
        gmin = val[i] < gmin ? val[i] : gmin;
        gmax = val[i] > gmax ? val[i] : gmax;
    }
    memset(out->pixels, 255, (size_t)side * (size_t)side);
    for (int y = 0; y < dim; y++)
        for (int x = 0; x < dim; x++) {
            int fm = function_module(dim, apos, napos, x, y);
            if (fm == 0 || (fm < 0 && !module_is_dark(val, dim, x, y, gmin, gmax)))
                continue;
            for (int r = 0; r < px; r++)
                memset(out->pixels + (size_t)((y + 4) * px + r) * (size_t)side + (size_t)((x + 4) * px), 0, (size_t)px);
        }
    return 0;
}
