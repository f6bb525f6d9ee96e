/* deblur.c - motion smear measured and taken out (deblur.h).
 *
 * Both halves work in the frequency domain, on a radix-2 FFT written here:
 * FFTW (or KissFFT) would be one more library to cross-build for arm64 and
 * armhf and to ship, for ~100 lines that take 1-6 ms on a code's crop.
 */
#include "decode/deblur.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI_F 3.14159265358979f
/* The largest FFT side: planes of DEBLUR_MAX_SIDE plus room for the smear. */
#define FFT_MAX 1024
/* Estimation looks at a square part of the crop, zero-padded to a side of
 * est_fft so that lags up to EST_PAD do not wrap around: 224 px in 256 on
 * crops with modules of 2.5 px and more; 96 in 128 on smaller modules and
 * for the quick look at a whole frame (deblur_estimate_frame), at a quarter
 * of the cost: that look runs on every frame without a finder, and found
 * the smear on all 100 generated motion frames all the same. */
#define EST_FFT_LARGE 256
#define EST_FFT_SMALL 128
#define EST_SMALL_BELOW_MODULE_PX 2.5f
#define EST_PAD 32
#define EST_MIN_SIDE 48
/* Columns transformed together (see fft_columns). */
#define COLUMN_BLOCK 8
/* |M * I| <= 16 * 255 for the noise mask M of noise_sigma(). */
#define HIST_SIZE (16 * 255 + 1)

struct deblur {
    int est_fft;    /* the estimate's plane side, for this call */
    float taper_x[EST_FFT_LARGE], taper_y[EST_FFT_LARGE]; /* the window's, for this call */
    struct gray_rect where; /* the last estimate's window */
    float *plane;   /* complex values, re/im interleaved */
    size_t cap;     /* complex values the plane holds */
    float lines[COLUMN_BLOCK][2 * FFT_MAX]; /* columns of the plane */
    float cos_t[FFT_MAX / 2], sin_t[FFT_MAX / 2]; /* e^(2 pi i k / FFT_MAX) */
    unsigned hist[HIST_SIZE]; /* of |M * I| in noise_sigma() */
};

int deblur_open(struct deblur **out)
{
    if (!out)
        return -1;
    struct deblur *d = calloc(1, sizeof(*d));
    *out = d;
    if (!d)
        return -1;
    for (int k = 0; k < FFT_MAX / 2; k++) {
        double t = 2.0 * 3.14159265358979323846 * k / FFT_MAX;
        d->cos_t[k] = (float)cos(t);
        d->sin_t[k] = (float)sin(t);
    }
    return 0;
}

struct gray_rect deblur_where(const struct deblur *d)
{
    return d->where;
}

void deblur_close(struct deblur *d)
{
    if (!d)
        return;
    free(d->plane);
    free(d);
}

static int plane(struct deblur *d, size_t n)
{
    if (n <= d->cap)
        return 0;
    float *p = realloc(d->plane, 2 * n * sizeof(float));
    if (!p)
        return -1;
    d->plane = p;
    d->cap = n;
    return 0;
}

/* ---- FFT ------------------------------------------------------------------ */

static void bit_reverse(float *x, int n)
{
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            float r = x[2 * i], m = x[2 * i + 1];
            x[2 * i] = x[2 * j], x[2 * i + 1] = x[2 * j + 1];
            x[2 * j] = r, x[2 * j + 1] = m;
        }
    }
}

/* In-place FFT of n (a power of two <= FFT_MAX) complex values; sign -1 is
 * forward, +1 inverse (unscaled). */
static void fft_line(const struct deblur *d, float *x, int n, float sign)
{
    bit_reverse(x, n);
    for (int len = 2; len <= n; len <<= 1) {
        int half = len / 2, step = FFT_MAX / len;
        for (int i = 0; i < n; i += len)
            for (int k = 0; k < half; k++) {
                float wr = d->cos_t[k * step], wi = sign * d->sin_t[k * step];
                float *p = x + 2 * (i + k), *q = p + 2 * half;
                float tr = q[0] * wr - q[1] * wi, ti = q[0] * wi + q[1] * wr;
                q[0] = p[0] - tr, q[1] = p[1] - ti;
                p[0] += tr, p[1] += ti;
            }
    }
}

/* Column FFTs of columns 0..ncols-1 of an nx x ny plane, COLUMN_BLOCK at a
 * time: gathering neighbouring columns reads whole cache lines, where one
 * column at a power-of-two stride would evict itself (5x slower at 512). */
static void fft_columns(struct deblur *d, float *x, int nx, int ny, int ncols, float sign)
{
    for (int c0 = 0; c0 < ncols; c0 += COLUMN_BLOCK) {
        int nc = ncols - c0 < COLUMN_BLOCK ? ncols - c0 : COLUMN_BLOCK;
        for (int y = 0; y < ny; y++) {
            const float *p = x + 2 * ((size_t)y * (size_t)nx + (size_t)c0);
            for (int c = 0; c < nc; c++)
                d->lines[c][2 * y] = p[2 * c], d->lines[c][2 * y + 1] = p[2 * c + 1];
        }
        for (int c = 0; c < nc; c++)
            fft_line(d, d->lines[c], ny, sign);
        for (int y = 0; y < ny; y++) {
            float *q = x + 2 * ((size_t)y * (size_t)nx + (size_t)c0);
            for (int c = 0; c < nc; c++)
                q[2 * c] = d->lines[c][2 * y], q[2 * c + 1] = d->lines[c][2 * y + 1];
        }
    }
}

/* Two real rows (the real parts of r0 and of the row after it) ride on one
 * complex FFT as z = r0 + i r1; their spectra are then told apart by their
 * conjugate symmetry. Leaves bins 0..n/2 of each in its own row. */
static void rows_forward(const struct deblur *d, float *r0, int n)
{
    float *r1 = r0 + 2 * (size_t)n;
    for (int k = 0; k < n; k++)
        r0[2 * k + 1] = r1[2 * k];
    fft_line(d, r0, n, -1);
    for (int k = 0; k <= n / 2; k++) { /* reads bin n - k >= n / 2, not yet written */
        int m = (n - k) & (n - 1);
        float zr = r0[2 * k], zi = r0[2 * k + 1], wr = r0[2 * m], wi = r0[2 * m + 1];
        r0[2 * k] = 0.5f * (zr + wr), r0[2 * k + 1] = 0.5f * (zi - wi);
        r1[2 * k] = 0.5f * (zi + wi), r1[2 * k + 1] = 0.5f * (wr - zr);
    }
}

/* The reverse: bins 0..n/2 of two rows' spectra back to their real values. */
static void rows_inverse(const struct deblur *d, float *r0, int n)
{
    float *r1 = r0 + 2 * (size_t)n;
    for (int k = n / 2 + 1; k < n; k++) { /* the upper bins mirror the lower */
        int m = n - k;
        r0[2 * k] = r0[2 * m] + r1[2 * m + 1];
        r0[2 * k + 1] = r1[2 * m] - r0[2 * m + 1];
    }
    for (int k = 0; k <= n / 2; k++) {
        float ar = r0[2 * k], ai = r0[2 * k + 1], br = r1[2 * k], bi = r1[2 * k + 1];
        r0[2 * k] = ar - bi, r0[2 * k + 1] = ai + br;
    }
    fft_line(d, r0, n, 1);
    for (int k = 0; k < n; k++)
        r1[2 * k] = r0[2 * k + 1];
}

/* Forward FFT of the real nx x ny picture in the real parts of x: leaves
 * the spectrum's columns 0..nx/2 (a real picture's spectrum is conjugate
 * symmetric, the rest adds nothing). Half the work of a complex FFT. */
static void fft_real_2d(struct deblur *d, float *x, int nx, int ny)
{
    for (int y = 0; y < ny; y += 2)
        rows_forward(d, x + 2 * (size_t)y * (size_t)nx, nx);
    fft_columns(d, x, nx, ny, nx / 2 + 1, -1);
}

/* Its inverse, unscaled (values come back nx * ny times too large). */
static void ifft_real_2d(struct deblur *d, float *x, int nx, int ny)
{
    fft_columns(d, x, nx, ny, nx / 2 + 1, 1);
    for (int y = 0; y < ny; y += 2)
        rows_inverse(d, x + 2 * (size_t)y * (size_t)nx, nx);
}

/* Signed frequency of FFT bin k of n, in cycles per pixel. */
static float freq(int k, int n)
{
    return (float)(k < n / 2 ? k : k - n) / (float)n;
}

/* ---- estimation ----------------------------------------------------------- */

/* A box of length L along u turns every edge into a step up and a step down
 * L apart: the derivative along u is (S(x + L/2 u) - S(x - L/2 u)) / L, whose
 * autocorrelation along u dips to about -1/2 of its peak at lag L. Across u
 * the derivative is that of the sharp code, smoothed: its dip sits at one
 * module. The direction comes first, from the gradient's structure tensor:
 * the smear is where the picture changes least. */

/* Under this anisotropy of the structure tensor ((l1 - l2) / (l1 + l2)) the
 * picture is blurred alike in every direction: sharp and focus-blurred codes
 * measure 0.00-0.09, a 4.2 px smear at 4 px per module already 0.22. */
#define MIN_ANISOTROPY 0.15f
/* The dip must reach this (of the peak): a smear gives about -0.45. */
#define MAX_DIP -0.2f
/* A smear spreads each edge along u, so the autocorrelation stays high over
 * the first px: at lag SPREAD_LAG it measured 0.35-0.67 on smears of 4-10 px,
 * 0.02-0.24 on sharp codes foreshortened by a 15-40 degree tilt (anisotropic
 * too, with a dip at one module). */
#define SPREAD_LAG 2.0f
#define MIN_SPREAD 0.3f
#define LAG_STEP 0.25f
/* The window's edges fall off over this many px (a raised cosine), so the
 * crop's border adds no cross to the spectrum. */
#define TAPER 16
/* Blocks of BLOCK x BLOCK px rank the places to measure by their edges. */
#define BLOCK 16
/* busiest_window() keeps the block activities and their summed-area table
 * in the plane: at DEBLUR_ESTIMATE_MAX_SIDE they must fit the smaller one. */
_Static_assert((DEBLUR_ESTIMATE_MAX_SIDE / BLOCK) * (DEBLUR_ESTIMATE_MAX_SIDE / BLOCK) +
                       (DEBLUR_ESTIMATE_MAX_SIDE / BLOCK + 1) * (DEBLUR_ESTIMATE_MAX_SIDE / BLOCK + 1) <=
                   2 * EST_FFT_SMALL * EST_FFT_SMALL,
               "the block grid outgrows the estimate's plane");

struct window {
    int x0, y0, w, h;
};

static float taper(int i, int n)
{
    int e = i < n - 1 - i ? i : n - 1 - i;
    return e >= TAPER ? 1.0f : 0.5f - 0.5f * cosf(PI_F * (float)e / TAPER);
}

/* Central differences, clamped at the crop's border. */
static void gradient(const struct frame *b, int x, int y, float *gx, float *gy)
{
    const uint8_t *p = b->pixels + (size_t)y * (size_t)b->stride;
    int l = x > 0 ? x - 1 : x, r = x + 1 < b->width ? x + 1 : x;
    int u = y > 0 ? -b->stride : 0, d = y + 1 < b->height ? b->stride : 0;
    *gx = 0.5f * (float)(p[r] - p[l]);
    *gy = 0.5f * (float)(p[x + d] - p[x + u]);
}

/* The structure tensor's minor axis, in [0, pi). */
static float smear_direction(const struct deblur *d, const struct frame *b, struct window w, float *anisotropy)
{
    double xx = 0, yy = 0, xy = 0;
    for (int y = 0; y < w.h; y++)
        for (int x = 0; x < w.w; x++) {
            float gx, gy, t = d->taper_x[x] * d->taper_y[y];
            gradient(b, w.x0 + x, w.y0 + y, &gx, &gy);
            xx += t * gx * gx, yy += t * gy * gy, xy += t * gx * gy;
        }
    double tr = xx + yy;
    *anisotropy = tr > 0 ? (float)(sqrt((xx - yy) * (xx - yy) + 4 * xy * xy) / tr) : 0;
    float a = 0.5f * (float)atan2(2 * xy, xx - yy) + PI_F / 2; /* the major axis turned a quarter */
    return a >= PI_F ? a - PI_F : a < 0 ? a + PI_F : a;
}

/* Edge activity per BLOCK x BLOCK block into the plane, then its summed-area
 * table (nbx + 1) x (nby + 1) after it. Every second row is enough to choose
 * a window: on a whole 1280x720 frame this was most of the estimate's time. */
static float *block_activity(struct deblur *d, const struct frame *b, int nbx, int nby)
{
    float *e = d->plane, *sat = d->plane + (size_t)nbx * (size_t)nby;
    memset(e, 0, sizeof(float) * (size_t)nbx * (size_t)nby);
    for (int y = 0; y < nby * BLOCK; y += 2) {
        const uint8_t *p = b->pixels + (size_t)y * (size_t)b->stride, *q = y + 1 < b->height ? p + b->stride : p;
        float *row = e + (size_t)(y / BLOCK) * (size_t)nbx;
        for (int x = 0; x < nbx * BLOCK; x++) {
            int r = x + 1 < b->width ? x + 1 : x;
            row[x / BLOCK] += (float)(abs(p[r] - p[x]) + abs(q[x] - p[x]));
        }
    }
    size_t w = (size_t)nbx + 1;
    memset(sat, 0, sizeof(float) * w);
    for (int y = 0; y < nby; y++) {
        float run = 0;
        sat[(size_t)(y + 1) * w] = 0;
        for (int x = 0; x < nbx; x++) {
            run += e[(size_t)y * (size_t)nbx + (size_t)x];
            sat[(size_t)(y + 1) * w + (size_t)x + 1] = sat[(size_t)y * w + (size_t)x + 1] + run;
        }
    }
    return sat;
}

/* Where to measure: the est_fft - EST_PAD square (or less, on a smaller crop) with
 * the most edges. On a crop that is the code; on a whole frame it is the
 * code or the card's print, smeared as much, and not the smooth desk. */
static struct window busiest_window(struct deblur *d, const struct frame *b)
{
    int side = d->est_fft - EST_PAD;
    struct window w = { 0, 0, b->width < side ? b->width : side, b->height < side ? b->height : side };
    int nbx = b->width / BLOCK, nby = b->height / BLOCK, wbx = w.w / BLOCK, wby = w.h / BLOCK;
    if (nbx <= wbx && nby <= wby) {
        w.x0 = (b->width - w.w) / 2, w.y0 = (b->height - w.h) / 2;
        return w;
    }
    const float *sat = block_activity(d, b, nbx, nby);
    size_t sw = (size_t)nbx + 1;
    float best = -1;
    for (int by = 0; by + wby <= nby; by++)
        for (int bx = 0; bx + wbx <= nbx; bx++) {
            size_t y0 = (size_t)by * sw, y1 = (size_t)(by + wby) * sw;
            float sum = sat[y1 + (size_t)(bx + wbx)] - sat[y0 + (size_t)(bx + wbx)] - sat[y1 + (size_t)bx] + sat[y0 + (size_t)bx];
            if (sum > best)
                best = sum, w.x0 = bx * BLOCK, w.y0 = by * BLOCK;
        }
    w.x0 = w.x0 + w.w > b->width ? b->width - w.w : w.x0;
    w.y0 = w.y0 + w.h > b->height ? b->height - w.h : w.y0;
    return w;
}

/* The derivative along (c, s), tapered, into the plane's real parts, the
 * rest of the est_fft x est_fft plane zero so that lags do not wrap. */
static void load_derivative(struct deblur *d, const struct frame *b, struct window w, float c, float s)
{
    const int n = d->est_fft;
    memset(d->plane, 0, 2 * sizeof(float) * (size_t)n * (size_t)n);
    for (int y = 0; y < w.h; y++)
        for (int x = 0; x < w.w; x++) {
            float gx, gy;
            gradient(b, w.x0 + x, w.y0 + y, &gx, &gy);
            d->plane[2 * ((size_t)y * (size_t)n + (size_t)x)] = (c * gx + s * gy) * d->taper_x[x] * d->taper_y[y];
        }
}

/* The plane becomes the autocorrelation (real parts) of what it holds. */
static void autocorrelate(struct deblur *d)
{
    const int n = d->est_fft;
    fft_real_2d(d, d->plane, n, n);
    for (int ky = 0; ky < n; ky++)
        for (int kx = 0; kx <= n / 2; kx++) {
            float *p = d->plane + 2 * ((size_t)ky * (size_t)n + (size_t)kx);
            p[0] = p[0] * p[0] + p[1] * p[1], p[1] = 0;
        }
    ifft_real_2d(d, d->plane, n, n);
}

/* The autocorrelation at lag t along (c, s), t < est_fft / 2, bilinear. */
static float lag_sample(const struct deblur *d, float c, float s, float t)
{
    const int n = d->est_fft;
    float x = c * t, y = s * t, fx = floorf(x), fy = floorf(y), tx = x - fx, ty = y - fy;
    int ix = ((int)fx + n) & (n - 1), iy = ((int)fy + n) & (n - 1);
    int jx = (ix + 1) & (n - 1), jy = (iy + 1) & (n - 1);
    const float *r0 = d->plane + 2 * (size_t)iy * (size_t)n, *r1 = d->plane + 2 * (size_t)jy * (size_t)n;
    float top = r0[2 * ix] + (r0[2 * jx] - r0[2 * ix]) * tx;
    float bot = r1[2 * ix] + (r1[2 * jx] - r1[2 * ix]) * tx;
    return top + (bot - top) * ty;
}

/* The lag of the autocorrelation's deepest dip along (c, s) up to max_lag,
 * refined between its neighbours by a parabola; -1 when there is no smear's
 * broad peak or no dip deep enough. */
static float dip_lag(const struct deblur *d, float c, float s, float max_lag)
{
    float peak = lag_sample(d, c, s, 0);
    if (!(peak > 0) || lag_sample(d, c, s, SPREAD_LAG) < MIN_SPREAD * peak)
        return -1;
    float best = 0, at = -1;
    for (float t = DEBLUR_MIN_LENGTH_PX; t <= max_lag; t += LAG_STEP) {
        float v = lag_sample(d, c, s, t) / peak;
        if (v < best)
            best = v, at = t;
    }
    if (at < 0 || best > MAX_DIP)
        return -1;
    float lo = lag_sample(d, c, s, at - LAG_STEP) / peak, hi = lag_sample(d, c, s, at + LAG_STEP) / peak;
    float den = lo - 2 * best + hi;
    return den > 0 ? at + 0.5f * LAG_STEP * (lo - hi) / den : at;
}

/* est_fft: the plane side (EST_FFT_SMALL or EST_FFT_LARGE). */
static int estimate(struct deblur *d, const struct frame *b, int est_fft, float module_px, float *length_px,
                    float *angle_rad)
{
    if (d)
        d->where = (struct gray_rect){ 0, 0, 0, 0 }; /* nothing looked at, unless below */
    if (!d || !b || !b->pixels || !length_px || !angle_rad || b->width < EST_MIN_SIDE ||
        b->height < EST_MIN_SIDE || b->width > DEBLUR_ESTIMATE_MAX_SIDE || b->height > DEBLUR_ESTIMATE_MAX_SIDE ||
        b->stride < b->width || !(module_px >= 1.5f && module_px <= 32.0f))
        return -1;
    d->est_fft = est_fft;
    if (plane(d, (size_t)d->est_fft * (size_t)d->est_fft) != 0)
        return -1;
    struct window w = busiest_window(d, b);
    d->where = (struct gray_rect){ w.x0, w.y0, w.x0 + w.w, w.y0 + w.h };
    /* The taper once per call, not per pixel (cosf in the border band). */
    for (int i = 0; i < w.w; i++)
        d->taper_x[i] = taper(i, w.w);
    for (int i = 0; i < w.h; i++)
        d->taper_y[i] = taper(i, w.h);
    float anisotropy, a = smear_direction(d, b, w, &anisotropy);
    if (anisotropy < MIN_ANISOTROPY)
        return -1;
    float c = cosf(a), s = sinf(a);
    load_derivative(d, b, w, c, s);
    autocorrelate(d);
    float len = dip_lag(d, c, s, DEBLUR_MAX_LENGTH_PX);
    /* Under half a module ZBar reads the smear as it is. */
    if (len < DEBLUR_MIN_LENGTH_PX || len < 0.5f * module_px || len >= DEBLUR_MAX_LENGTH_PX)
        return -1;
    *length_px = len;
    *angle_rad = a;
    return 0;
}

int deblur_estimate(struct deblur *d, const struct gray_buf *b, float module_px, float *length_px, float *angle_rad)
{
    if (!b || !b->pixels)
        return -1;
    struct frame f = gray_buf_frame(b);
    int n = module_px < EST_SMALL_BELOW_MODULE_PX ? EST_FFT_SMALL : EST_FFT_LARGE;
    return estimate(d, &f, n, module_px, length_px, angle_rad);
}

int deblur_estimate_frame(struct deblur *d, const struct frame *f, float module_px, float *length_px,
                          float *angle_rad)
{
    return estimate(d, f, EST_FFT_SMALL, module_px, length_px, angle_rad);
}

/* ---- deconvolution -------------------------------------------------------- */

/* The Wiener filter's noise-to-signal ratio is (K0 + K2 |f|^2) * s, f in
 * cycles per px, s the crop's noise sigma over NOISE_REF: a code's spectrum
 * falls off as 1/f^2 while the sensor's noise stays flat, so the filter
 * trusts the low frequencies the smear has all but wiped out more than the
 * high ones. Measured on 300 motion frames (noise sigma 1.5-3): reads within
 * 1% of the best for K0 0.001-0.003 and K2 0.1-0.15, 6% fewer with a flat
 * NSR of 0.01. Scaling with sigma (not sigma^2, which held back too much)
 * kept 88-93% read under added noise of sigma 6 where the fixed filter read
 * 56%, and 80% at sigma 8 instead of 9%. Below NOISE_MIN (a synthetic or
 * flat picture) the filter stays as it is at that level: it is not made
 * sharper than what was measured. */
#define WIENER_K0 0.002f
#define WIENER_K2 0.1f
#define NOISE_REF 2.2f
#define NOISE_MIN 2.2f

/* The sensor noise's sigma, from the median of |M * I| with Immerkaer's mask
 * M = [1 -2 1; -2 4 -2; 1 -2 1], which cancels every linear ramp (and so
 * most of a smeared picture) and scales noise by 6; the median, not the mean,
 * so the kinks the smear leaves at each edge do not count. */
static float noise_sigma(struct deblur *d, const struct gray_buf *b)
{
    memset(d->hist, 0, sizeof(d->hist));
    int w = b->width, n = 0;
    for (int y = 1; y + 1 < b->height; y++) {
        const uint8_t *u = b->pixels + (size_t)(y - 1) * (size_t)w, *c = u + w, *l = c + w;
        for (int x = 1; x + 1 < w; x++, n++) {
            int v = u[x - 1] - 2 * u[x] + u[x + 1] - 2 * (c[x - 1] - 2 * c[x] + c[x + 1]) + l[x - 1] - 2 * l[x] +
                    l[x + 1];
            d->hist[abs(v)]++;
        }
    }
    int k = 0;
    for (int seen = 0; k < HIST_SIZE && 2 * (seen + (int)d->hist[k]) < n; k++)
        seen += (int)d->hist[k];
    return (float)k / (0.6745f * 6.0f);
}

/* The crop at the plane's origin; the rest of the plane ramps from each
 * row's last pixel back to its first, then each column likewise, so the
 * periodic picture the FFT sees has no edge at the crop's border to ring. */
static void load_padded(struct deblur *d, const struct gray_buf *b, int nx, int ny)
{
    int w = b->width, h = b->height;
    for (int y = 0; y < h; y++) {
        const uint8_t *p = b->pixels + (size_t)y * (size_t)w;
        float *o = d->plane + 2 * (size_t)y * (size_t)nx;
        for (int x = 0; x < w; x++)
            o[2 * x] = p[x];
        for (int x = w; x < nx; x++)
            o[2 * x] = p[w - 1] + (float)(p[0] - p[w - 1]) * (float)(x - w + 1) / (float)(nx - w + 1);
    }
    const float *first = d->plane, *last = d->plane + 2 * (size_t)(h - 1) * (size_t)nx;
    for (int y = h; y < ny; y++) {
        float t = (float)(y - h + 1) / (float)(ny - h + 1);
        float *o = d->plane + 2 * (size_t)y * (size_t)nx;
        for (int x = 0; x < nx; x++)
            o[2 * x] = last[2 * x] + (first[2 * x] - last[2 * x]) * t;
    }
}

static float sinc(float x)
{
    x *= PI_F;
    return fabsf(x) < 1e-4f ? 1.0f : sinf(x) / x;
}

/* The box of length L along (c, s), centred, is real and even: its transform
 * is sinc(L f.u), and the Wiener filter H / (H^2 + NSR) is real too. */
static void wiener(struct deblur *d, int nx, int ny, float length, float c, float s, float nsr_scale)
{
    float k0 = WIENER_K0 * nsr_scale, k2 = WIENER_K2 * nsr_scale;
    for (int ky = 0; ky < ny; ky++) {
        float fy = freq(ky, ny);
        float *row = d->plane + 2 * (size_t)ky * (size_t)nx;
        for (int kx = 0; kx <= nx / 2; kx++) {
            float fx = freq(kx, nx), h = sinc(length * (fx * c + fy * s));
            float g = h / (h * h + k0 + k2 * (fx * fx + fy * fy));
            row[2 * kx] *= g, row[2 * kx + 1] *= g;
        }
    }
}

static int pow2_at_least(int v)
{
    int n = 2;
    while (n < v)
        n <<= 1;
    return n;
}

static uint8_t clamp255f(float v)
{
    return (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : (int)(v + 0.5f));
}

int deblur_motion(struct deblur *d, struct gray_buf *b, float length_px, float angle_rad)
{
    if (!d || !b || !b->pixels || !(length_px >= DEBLUR_MIN_LENGTH_PX && length_px <= DEBLUR_MAX_LENGTH_PX) ||
        !isfinite(angle_rad) || b->width < 1 || b->height < 1 || b->width > DEBLUR_MAX_SIDE ||
        b->height > DEBLUR_MAX_SIDE)
        return -1;
    /* Room for the smear on both sides of the crop, and for the ramp. */
    int room = 2 * (int)ceilf(length_px) + 8;
    int nx = pow2_at_least(b->width + room), ny = pow2_at_least(b->height + room);
    if (plane(d, (size_t)nx * (size_t)ny) != 0)
        return -1;
    float noise = noise_sigma(d, b);
    load_padded(d, b, nx, ny);
    fft_real_2d(d, d->plane, nx, ny);
    wiener(d, nx, ny, length_px, cosf(angle_rad), sinf(angle_rad), (noise < NOISE_MIN ? NOISE_MIN : noise) / NOISE_REF);
    ifft_real_2d(d, d->plane, nx, ny);
    float scale = 1.0f / ((float)nx * (float)ny);
    for (int y = 0; y < b->height; y++) {
        const float *p = d->plane + 2 * (size_t)y * (size_t)nx;
        uint8_t *o = b->pixels + (size_t)y * (size_t)b->width;
        for (int x = 0; x < b->width; x++)
            o[x] = clamp255f(p[2 * x] * scale);
    }
    return 0;
}
