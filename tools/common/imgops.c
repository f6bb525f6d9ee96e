/* imgops.c - warps, blur, motion blur, noise, glare and exposure for synthetic frames. */
#include "imgops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint8_t clamp_u8(double v)
{
    if (v <= 0.0)
        return 0;
    if (v >= 255.0)
        return 255;
    return (uint8_t)(v + 0.5);
}

/* ---- homographies ------------------------------------------------------ */

struct homography homography_identity(void)
{
    struct homography h = { { 1, 0, 0, 0, 1, 0, 0, 0, 1 } };
    return h;
}

struct homography homography_mul(const struct homography *a, const struct homography *b)
{
    struct homography r;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r.m[i * 3 + j] = a->m[i * 3] * b->m[j] + a->m[i * 3 + 1] * b->m[3 + j] + a->m[i * 3 + 2] * b->m[6 + j];
    return r;
}

bool homography_invert(const struct homography *h, struct homography *out)
{
    const double *m = h->m;
    double c0 = m[4] * m[8] - m[5] * m[7];
    double c1 = m[5] * m[6] - m[3] * m[8];
    double c2 = m[3] * m[7] - m[4] * m[6];
    double det = m[0] * c0 + m[1] * c1 + m[2] * c2;
    if (fabs(det) < 1e-12)
        return false;
    double k = 1.0 / det;
    /* The adjugate divided by the determinant. */
    out->m[0] = c0 * k;
    out->m[1] = (m[2] * m[7] - m[1] * m[8]) * k;
    out->m[2] = (m[1] * m[5] - m[2] * m[4]) * k;
    out->m[3] = c1 * k;
    out->m[4] = (m[0] * m[8] - m[2] * m[6]) * k;
    out->m[5] = (m[2] * m[3] - m[0] * m[5]) * k;
    out->m[6] = c2 * k;
    out->m[7] = (m[1] * m[6] - m[0] * m[7]) * k;
    out->m[8] = (m[0] * m[4] - m[1] * m[3]) * k;
    return true;
}

bool homography_apply(const struct homography *h, struct point2 in, struct point2 *out)
{
    const double *m = h->m;
    double w = m[6] * in.x + m[7] * in.y + m[8];
    if (w <= 1e-9)
        return false;
    out->x = (m[0] * in.x + m[1] * in.y + m[2]) / w;
    out->y = (m[3] * in.x + m[4] * in.y + m[5]) / w;
    return true;
}

/* Solves the n x n system a * x = b (a row-major, n <= 8) by Gaussian
 * elimination with partial pivoting; b receives x. False when singular. */
static bool solve_linear(double *a, double *b, int n)
{
    for (int col = 0; col < n; col++) {
        int piv = col;
        for (int r = col + 1; r < n; r++)
            if (fabs(a[r * n + col]) > fabs(a[piv * n + col]))
                piv = r;
        if (fabs(a[piv * n + col]) < 1e-12)
            return false;
        for (int c = 0; c < n; c++) {
            double t = a[col * n + c];
            a[col * n + c] = a[piv * n + c];
            a[piv * n + c] = t;
        }
        double t = b[col];
        b[col] = b[piv];
        b[piv] = t;
        for (int r = 0; r < n; r++) {
            if (r == col)
                continue;
            double f = a[r * n + col] / a[col * n + col];
            for (int c = col; c < n; c++)
                a[r * n + c] -= f * a[col * n + c];
            b[r] -= f * b[col];
        }
    }
    for (int r = 0; r < n; r++)
        b[r] /= a[r * n + r];
    return true;
}

bool homography_from_quads(const struct point2 src[4], const struct point2 dst[4], struct homography *out)
{
    /* Eight equations, two per corner, in the eight unknowns h0..h7 (h8 = 1):
     * h0 x + h1 y + h2 - h6 x X - h7 y X = X, and the same for Y. */
    double a[64] = { 0 };
    double b[8];
    for (int i = 0; i < 4; i++) {
        double x = src[i].x, y = src[i].y, X = dst[i].x, Y = dst[i].y;
        double *rx = &a[(2 * i) * 8], *ry = &a[(2 * i + 1) * 8];
        rx[0] = x, rx[1] = y, rx[2] = 1, rx[6] = -x * X, rx[7] = -y * X;
        ry[3] = x, ry[4] = y, ry[5] = 1, ry[6] = -x * Y, ry[7] = -y * Y;
        b[2 * i] = X;
        b[2 * i + 1] = Y;
    }
    if (!solve_linear(a, b, 8))
        return false;
    for (int i = 0; i < 8; i++)
        out->m[i] = b[i];
    out->m[8] = 1.0;
    return true;
}

/* ---- sampling and warping ---------------------------------------------- */

bool img_sample_bilinear(const struct gray_image *img, double x, double y, double *out)
{
    if (!(x >= -0.5 && y >= -0.5 && x <= img->width - 0.5 && y <= img->height - 0.5))
        return false;
    int x0 = (int)floor(x), y0 = (int)floor(y);
    double fx = x - x0, fy = y - y0;
    /* Clamp the 2x2 neighbourhood at the border half-pixel. */
    int xa = x0 < 0 ? 0 : x0, xb = x0 + 1 >= img->width ? img->width - 1 : x0 + 1;
    int ya = y0 < 0 ? 0 : y0, yb = y0 + 1 >= img->height ? img->height - 1 : y0 + 1;
    const uint8_t *ra = img->pixels + (size_t)ya * (size_t)img->width;
    const uint8_t *rb = img->pixels + (size_t)yb * (size_t)img->width;
    double top = ra[xa] + (ra[xb] - ra[xa]) * fx;
    double bot = rb[xa] + (rb[xb] - rb[xa]) * fx;
    *out = top + (bot - top) * fy;
    return true;
}

struct int_box {
    int x0, y0, x1, y1; /* [x0, x1) x [y0, y1) */
};

/* The part of dst that src can land on: the bounding box of src's corners
 * mapped into dst. The whole of dst when a corner maps behind the camera. */
static struct int_box warp_target_box(const struct gray_image *dst, const struct gray_image *src,
                                      const struct homography *dst_to_src)
{
    struct int_box all = { 0, 0, dst->width, dst->height };
    struct homography src_to_dst;
    if (!homography_invert(dst_to_src, &src_to_dst))
        return all;
    double w = src->width - 0.5, h = src->height - 0.5;
    struct point2 c[4] = { { -0.5, -0.5 }, { w, -0.5 }, { w, h }, { -0.5, h } };
    double minx = 1e9, miny = 1e9, maxx = -1e9, maxy = -1e9;
    for (int i = 0; i < 4; i++) {
        struct point2 p;
        if (!homography_apply(&src_to_dst, c[i], &p))
            return all;
        minx = fmin(minx, p.x), maxx = fmax(maxx, p.x);
        miny = fmin(miny, p.y), maxy = fmax(maxy, p.y);
    }
    struct int_box b = { (int)fmax(0, floor(minx) - 1), (int)fmax(0, floor(miny) - 1),
                         (int)fmin(dst->width, ceil(maxx) + 2), (int)fmin(dst->height, ceil(maxy) + 2) };
    return b;
}

/* One dst pixel: the mean of ss x ss samples, blended with the old value by
 * the fraction of samples that hit src. */
static uint8_t warp_pixel(const struct gray_image *src, const struct homography *h, int x, int y, int ss,
                          uint8_t old)
{
    double sum = 0.0;
    int hits = 0;
    for (int j = 0; j < ss; j++) {
        for (int i = 0; i < ss; i++) {
            struct point2 p = { x - 0.5 + (i + 0.5) / ss, y - 0.5 + (j + 0.5) / ss }, q;
            double v;
            if (homography_apply(h, p, &q) && img_sample_bilinear(src, q.x, q.y, &v)) {
                sum += v;
                hits++;
            }
        }
    }
    if (hits == 0)
        return old;
    int n = ss * ss;
    return clamp_u8((sum + (double)(n - hits) * old) / n);
}

int img_warp_onto(struct gray_image *dst, const struct gray_image *src, const struct homography *dst_to_src,
                  int ss)
{
    if (ss < 1 || ss > 4 || !dst->pixels || !src->pixels)
        return -1;
    struct int_box b = warp_target_box(dst, src, dst_to_src);
    for (int y = b.y0; y < b.y1; y++) {
        uint8_t *row = dst->pixels + (size_t)y * (size_t)dst->width;
        for (int x = b.x0; x < b.x1; x++)
            row[x] = warp_pixel(src, dst_to_src, x, y, ss, row[x]);
    }
    return 0;
}

/* ---- shapes --------------------------------------------------------------- */

void img_fill_rect(struct gray_image *img, int x0, int y0, int x1, int y1, uint8_t value)
{
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > img->width ? img->width : x1, y1 = y1 > img->height ? img->height : y1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            img->pixels[(size_t)y * (size_t)img->width + (size_t)x] = value;
}

void img_fill_ellipse(struct gray_image *img, double cx, double cy, double rx, double ry, uint8_t value)
{
    if (rx <= 0 || ry <= 0)
        return;
    int y0 = (int)fmax(0, floor(cy - ry)), y1 = (int)fmin(img->height - 1, ceil(cy + ry));
    int x0 = (int)fmax(0, floor(cx - rx)), x1 = (int)fmin(img->width - 1, ceil(cx + rx));
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            double u = (x - cx) / rx, v = (y - cy) / ry;
            if (u * u + v * v <= 1.0)
                img->pixels[(size_t)y * (size_t)img->width + (size_t)x] = value;
        }
    }
}

/* ---- filters -------------------------------------------------------------- */

/* Normalised gaussian weights w[0..radius] (w[k] for offset +-k). */
static int gaussian_kernel(double sigma, double *w, int max_radius)
{
    int radius = (int)ceil(3.0 * sigma);
    if (radius > max_radius)
        radius = max_radius;
    double sum = 0.0;
    for (int k = 0; k <= radius; k++) {
        w[k] = exp(-(double)(k * k) / (2.0 * sigma * sigma));
        sum += k == 0 ? w[k] : 2.0 * w[k];
    }
    for (int k = 0; k <= radius; k++)
        w[k] /= sum;
    return radius;
}

static int clamp_index(int i, int n)
{
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

int img_gaussian_blur(struct gray_image *img, double sigma)
{
    enum { MAX_RADIUS = 24 };
    if (!(sigma > 0.0 && sigma <= 8.0))
        return -1;
    double w[MAX_RADIUS + 1];
    int radius = gaussian_kernel(sigma, w, MAX_RADIUS);
    int W = img->width, H = img->height;
    float *tmp = malloc((size_t)W * (size_t)H * sizeof(*tmp));
    if (!tmp)
        return -1;
    /* Separable: rows into tmp, then columns of tmp back into the image. */
    for (int y = 0; y < H; y++) {
        const uint8_t *row = img->pixels + (size_t)y * (size_t)W;
        for (int x = 0; x < W; x++) {
            double acc = w[0] * row[x];
            for (int k = 1; k <= radius; k++)
                acc += w[k] * (row[clamp_index(x - k, W)] + row[clamp_index(x + k, W)]);
            tmp[(size_t)y * (size_t)W + (size_t)x] = (float)acc;
        }
    }
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            double acc = w[0] * tmp[(size_t)y * (size_t)W + (size_t)x];
            for (int k = 1; k <= radius; k++)
                acc += w[k] * (tmp[(size_t)clamp_index(y - k, H) * (size_t)W + (size_t)x] +
                               tmp[(size_t)clamp_index(y + k, H) * (size_t)W + (size_t)x]);
            img->pixels[(size_t)y * (size_t)W + (size_t)x] = clamp_u8(acc);
        }
    }
    free(tmp);
    return 0;
}

/* Bilinear sample with the position clamped into the image: the pixels
 * beyond an edge are taken to repeat the edge, as in the gaussian blur. */
static double sample_clamped(const struct gray_image *img, double x, double y)
{
    double v = 0.0;
    x = fmin(fmax(x, 0.0), img->width - 1.0);
    y = fmin(fmax(y, 0.0), img->height - 1.0);
    img_sample_bilinear(img, x, y, &v);
    return v;
}

int img_motion_blur(struct gray_image *img, double length_px, double angle_rad)
{
    enum { MAX_LENGTH = 64 };
    if (!(length_px >= 0.0 && length_px <= MAX_LENGTH) || !isfinite(angle_rad))
        return -1;
    size_t n = (size_t)img->width * (size_t)img->height;
    struct gray_image src = { .width = img->width, .height = img->height, .pixels = malloc(n) };
    if (!src.pixels)
        return -1;
    memcpy(src.pixels, img->pixels, n);
    /* A steady movement spends equal time at every point of its path: a box
     * kernel. Two samples per pixel of path, at the midpoints of equal steps,
     * interpolated between pixel centres, so that a path that is not a whole
     * number of pixels long, or not along an axis, blurs as much as it should
     * instead of snapping to the pixel grid. */
    int samples = (int)ceil(2.0 * length_px);
    samples = samples < 1 ? 1 : samples;
    double dx = cos(angle_rad) * length_px / samples, dy = sin(angle_rad) * length_px / samples;
    double t0 = -0.5 * (samples - 1);
    for (int y = 0; y < img->height; y++) {
        for (int x = 0; x < img->width; x++) {
            double acc = 0.0;
            for (int k = 0; k < samples; k++)
                acc += sample_clamped(&src, x + (t0 + k) * dx, y + (t0 + k) * dy);
            img->pixels[(size_t)y * (size_t)img->width + (size_t)x] = clamp_u8(acc / samples);
        }
    }
    free(src.pixels);
    return 0;
}

void img_add_noise(struct gray_image *img, struct rng *r, double sigma)
{
    size_t n = (size_t)img->width * (size_t)img->height;
    for (size_t i = 0; i < n; i++)
        img->pixels[i] = clamp_u8(img->pixels[i] + sigma * rng_gauss(r));
}

void img_levels(struct gray_image *img, int lo, int hi)
{
    size_t n = (size_t)img->width * (size_t)img->height;
    double scale = (hi - lo) / 255.0;
    for (size_t i = 0; i < n; i++)
        img->pixels[i] = clamp_u8(lo + img->pixels[i] * scale);
}

void img_illuminate(struct gray_image *img, double gx, double gy, double vignette)
{
    for (int y = 0; y < img->height; y++) {
        double dy = 2.0 * y / img->height - 1.0;
        for (int x = 0; x < img->width; x++) {
            double dx = 2.0 * x / img->width - 1.0;
            /* dx, dy run -1..1: the gradient is +-half its strength at the
             * edges, and the vignette is full in the corners. */
            double f = (1.0 + 0.5 * (gx * dx + gy * dy)) * (1.0 - vignette * 0.5 * (dx * dx + dy * dy));
            uint8_t *p = &img->pixels[(size_t)y * (size_t)img->width + (size_t)x];
            *p = clamp_u8(*p * f);
        }
    }
}

/* 1 inside half the radius, easing to 0 at the rim (smoothstep): a glare spot
 * has a burnt-out core and a soft halo. */
static double glare_weight(double d2)
{
    if (d2 >= 1.0)
        return 0.0;
    double d = sqrt(d2);
    if (d <= 0.5)
        return 1.0;
    double t = (1.0 - d) / 0.5;
    return t * t * (3.0 - 2.0 * t);
}

void img_add_glare(struct gray_image *img, double cx, double cy, double rx, double ry, double angle,
                   double peak)
{
    if (rx <= 0 || ry <= 0)
        return;
    double rmax = fmax(rx, ry), c = cos(angle), s = sin(angle);
    int y0 = (int)fmax(0, floor(cy - rmax)), y1 = (int)fmin(img->height - 1, ceil(cy + rmax));
    int x0 = (int)fmax(0, floor(cx - rmax)), x1 = (int)fmin(img->width - 1, ceil(cx + rmax));
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            double u = ((x - cx) * c + (y - cy) * s) / rx;
            double v = (-(x - cx) * s + (y - cy) * c) / ry;
            double g = glare_weight(u * u + v * v);
            if (g > 0.0) {
                uint8_t *p = &img->pixels[(size_t)y * (size_t)img->width + (size_t)x];
                *p = clamp_u8(*p + peak * g);
            }
        }
    }
}
