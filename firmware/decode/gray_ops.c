/* gray_ops.c - crops, scaling and filters for the reader (gray_ops.h). */
#include "decode/gray_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Under this local range (of 255) a neighbourhood is treated as flat: its
 * noise is not stretched into fake modules. Dark frames still span ~25. */
#define NORMALIZE_MIN_RANGE 12

void gray_buf_free(struct gray_buf *b)
{
    free(b->pixels);
    free(b->scratch);
    memset(b, 0, sizeof(*b));
}

struct frame gray_buf_frame(const struct gray_buf *b)
{
    struct frame f = { b->width, b->height, b->width, b->pixels };
    return f;
}

static int ensure(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    uint8_t *n = realloc(*p, need);
    if (!n)
        return -1;
    *p = n;
    *cap = need;
    return 0;
}

int gray_buf_resize(struct gray_buf *b, int w, int h)
{
    if (w < 1 || h < 1 || w > FRAME_MAX_SIDE || h > FRAME_MAX_SIDE)
        return -1;
    if (ensure(&b->pixels, &b->capacity, (size_t)w * (size_t)h) != 0)
        return -1;
    b->width = w;
    b->height = h;
    return 0;
}

static struct gray_rect clip(const struct frame *f, struct gray_rect r)
{
    if (r.x0 < 0)
        r.x0 = 0;
    if (r.y0 < 0)
        r.y0 = 0;
    if (r.x1 > f->width)
        r.x1 = f->width;
    if (r.y1 > f->height)
        r.y1 = f->height;
    return r;
}

static void copy_rect(const struct frame *src, struct gray_rect r, struct gray_buf *dst)
{
    for (int y = 0; y < dst->height; y++)
        memcpy(dst->pixels + (size_t)y * (size_t)dst->width,
               src->pixels + (size_t)(r.y0 + y) * (size_t)src->stride + (size_t)r.x0, (size_t)dst->width);
}

/* The common halving with shifts: a division per pixel doubled its cost
 * (measured halving 1280x720 frames). */
static void halve_rect(const struct frame *src, struct gray_rect r, struct gray_buf *dst)
{
    for (int y = 0; y < dst->height; y++) {
        const uint8_t *a = src->pixels + (size_t)(r.y0 + 2 * y) * (size_t)src->stride + (size_t)r.x0;
        const uint8_t *b = a + src->stride;
        uint8_t *out = dst->pixels + (size_t)y * (size_t)dst->width;
        for (int x = 0; x < dst->width; x++)
            out[x] = (uint8_t)((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
    }
}

static void shrink_rect(const struct frame *src, struct gray_rect r, int den, struct gray_buf *dst)
{
    if (den == 2) {
        halve_rect(src, r, dst);
        return;
    }
    unsigned area = (unsigned)(den * den);
    for (int y = 0; y < dst->height; y++) {
        const uint8_t *row0 = src->pixels + (size_t)(r.y0 + y * den) * (size_t)src->stride + (size_t)r.x0;
        uint8_t *out = dst->pixels + (size_t)y * (size_t)dst->width;
        for (int x = 0; x < dst->width; x++) {
            unsigned sum = 0;
            for (int dy = 0; dy < den; dy++) {
                const uint8_t *p = row0 + (size_t)dy * (size_t)src->stride + (size_t)(x * den);
                for (int dx = 0; dx < den; dx++)
                    sum += p[dx];
            }
            out[x] = (uint8_t)((sum + area / 2) / area);
        }
    }
}

/* Source coordinate of destination index i in 1/256 px, pixel centres
 * aligned, clamped to [0, n - 1]. */
static int src_coord(int i, int num, int n)
{
    int c = ((2 * i + 1) * 256) / (2 * num) - 128;
    if (c < 0)
        c = 0;
    if (c > (n - 1) * 256)
        c = (n - 1) * 256;
    return c;
}

static void enlarge_rect(const struct frame *src, struct gray_rect r, int num, struct gray_buf *dst)
{
    int sw = r.x1 - r.x0, sh = r.y1 - r.y0;
    for (int y = 0; y < dst->height; y++) {
        int cy = src_coord(y, num, sh), y0 = cy >> 8, fy = cy & 255;
        int y1 = y0 + 1 < sh ? y0 + 1 : y0;
        const uint8_t *a = src->pixels + (size_t)(r.y0 + y0) * (size_t)src->stride + (size_t)r.x0;
        const uint8_t *b = src->pixels + (size_t)(r.y0 + y1) * (size_t)src->stride + (size_t)r.x0;
        uint8_t *out = dst->pixels + (size_t)y * (size_t)dst->width;
        for (int x = 0; x < dst->width; x++) {
            int cx = src_coord(x, num, sw), x0 = cx >> 8, fx = cx & 255;
            int x1 = x0 + 1 < sw ? x0 + 1 : x0;
            int top = a[x0] * (256 - fx) + a[x1] * fx;
            int bot = b[x0] * (256 - fx) + b[x1] * fx;
            out[x] = (uint8_t)((top * (256 - fy) + bot * fy + (1 << 15)) >> 16);
        }
    }
}

int gray_crop_scale(const struct frame *src, struct gray_rect rect, int num, int den, struct gray_buf *dst)
{
    if (num < 1 || num > 4 || den < 1 || den > 4 || (num > 1 && den > 1))
        return -1;
    struct gray_rect r = clip(src, rect);
    if (r.x1 <= r.x0 || r.y1 <= r.y0) /* before subtracting: a hostile rect must not overflow */
        return -1;
    int w = r.x1 - r.x0, h = r.y1 - r.y0;
    if (w < den || h < den)
        return -1;
    if (gray_buf_resize(dst, w * num / den, h * num / den) != 0)
        return -1;
    if (den > 1)
        shrink_rect(src, r, den, dst);
    else if (num > 1)
        enlarge_rect(src, r, num, dst);
    else
        copy_rect(src, r, dst);
    return 0;
}

int gray_sample(const struct frame *f, float x, float y, int fill)
{
    /* Written so that NaN (a degenerate map) falls outside too. */
    if (!(x >= 0 && y >= 0 && x <= (float)(f->width - 1) && y <= (float)(f->height - 1)))
        return fill;
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < f->width ? x0 + 1 : x0, y1 = y0 + 1 < f->height ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    const uint8_t *a = f->pixels + (size_t)y0 * (size_t)f->stride, *b = f->pixels + (size_t)y1 * (size_t)f->stride;
    float top = a[x0] + (a[x1] - a[x0]) * fx, bot = b[x0] + (b[x1] - b[x0]) * fx;
    return (int)(top + (bot - top) * fy + 0.5f);
}

int gray_warp(const struct frame *src, const float m[9], int w, int h, uint8_t fill, struct gray_buf *dst)
{
    if (w < 1 || h < 1 || w > FRAME_MAX_SIDE || h > FRAME_MAX_SIDE || gray_buf_resize(dst, w, h) != 0)
        return -1;
    for (int y = 0; y < h; y++) {
        uint8_t *out = dst->pixels + (size_t)y * (size_t)w;
        for (int x = 0; x < w; x++) {
            float fx = (float)x, fy = (float)y;
            float q = m[6] * fx + m[7] * fy + m[8];
            /* q <= 0: the point is behind the camera, a degenerate map; the
             * NaN makes gray_sample return the fill. */
            float inv = q > 0 ? 1.0f / q : NAN;
            float sx = (m[0] * fx + m[1] * fy + m[2]) * inv, sy = (m[3] * fx + m[4] * fy + m[5]) * inv;
            out[x] = (uint8_t)gray_sample(src, sx, sy, fill);
        }
    }
    return 0;
}

int gray_copy(struct gray_buf *dst, const struct gray_buf *src)
{
    if (gray_buf_resize(dst, src->width, src->height) != 0)
        return -1;
    memcpy(dst->pixels, src->pixels, (size_t)src->width * (size_t)src->height);
    return 0;
}

void gray_invert(struct gray_buf *b)
{
    size_t n = (size_t)b->width * (size_t)b->height;
    for (size_t i = 0; i < n; i++)
        b->pixels[i] = (uint8_t)(255 - b->pixels[i]);
}

/* Horizontal then vertical 3-tap box of b->pixels into the scratch's second
 * half (returned), edges clamped; the first half holds the horizontal pass. */
static uint8_t *box3(struct gray_buf *b)
{
    int w = b->width, h = b->height;
    size_t n = (size_t)w * (size_t)h;
    if (ensure(&b->scratch, &b->scratch_capacity, 2 * n) != 0)
        return NULL;
    uint8_t *tmp = b->scratch, *out = b->scratch + n;
    for (int y = 0; y < h; y++) {
        const uint8_t *p = b->pixels + (size_t)y * (size_t)w;
        uint8_t *o = tmp + (size_t)y * (size_t)w;
        for (int x = 0; x < w; x++) {
            int l = p[x > 0 ? x - 1 : x], r = p[x + 1 < w ? x + 1 : x];
            o[x] = (uint8_t)((l + p[x] + r + 1) / 3);
        }
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *u = tmp + (size_t)(y > 0 ? y - 1 : y) * (size_t)w;
        const uint8_t *c = tmp + (size_t)y * (size_t)w;
        const uint8_t *d = tmp + (size_t)(y + 1 < h ? y + 1 : y) * (size_t)w;
        uint8_t *o = out + (size_t)y * (size_t)w;
        for (int x = 0; x < w; x++)
            o[x] = (uint8_t)((u[x] + c[x] + d[x] + 1) / 3);
    }
    return out;
}

int gray_smooth3(struct gray_buf *b)
{
    const uint8_t *blurred = box3(b);
    if (!blurred)
        return -1;
    memcpy(b->pixels, blurred, (size_t)b->width * (size_t)b->height);
    return 0;
}

static uint8_t clamp255(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

int gray_sharpen(struct gray_buf *b, int amount_quarters)
{
    const uint8_t *blurred = box3(b);
    if (!blurred)
        return -1;
    size_t n = (size_t)b->width * (size_t)b->height;
    for (size_t i = 0; i < n; i++) {
        int p = b->pixels[i];
        b->pixels[i] = clamp255(p + ((p - blurred[i]) * amount_quarters) / 4);
    }
    return 0;
}

/* Per-block minimum and maximum, then each widened to the 3 x 3 blocks
 * around it: a module edge always has both its sides in the window. */
static void block_ranges(const struct gray_buf *b, int block, int nbx, int nby, uint8_t *lo, uint8_t *hi,
                         uint8_t *lo3, uint8_t *hi3)
{
    memset(lo, 255, (size_t)nbx * (size_t)nby);
    memset(hi, 0, (size_t)nbx * (size_t)nby);
    for (int y = 0; y < b->height; y++) {
        const uint8_t *p = b->pixels + (size_t)y * (size_t)b->width;
        uint8_t *l = lo + (size_t)(y / block) * (size_t)nbx, *h = hi + (size_t)(y / block) * (size_t)nbx;
        for (int x = 0; x < b->width; x++) {
            int i = x / block;
            if (p[x] < l[i])
                l[i] = p[x];
            if (p[x] > h[i])
                h[i] = p[x];
        }
    }
    for (int by = 0; by < nby; by++)
        for (int bx = 0; bx < nbx; bx++) {
            int mn = 255, mx = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = by + dy, xx = bx + dx;
                    if (yy < 0 || yy >= nby || xx < 0 || xx >= nbx)
                        continue;
                    size_t k = (size_t)yy * (size_t)nbx + (size_t)xx;
                    mn = lo[k] < mn ? lo[k] : mn;
                    mx = hi[k] > mx ? hi[k] : mx;
                }
            lo3[(size_t)by * (size_t)nbx + (size_t)bx] = (uint8_t)mn;
            hi3[(size_t)by * (size_t)nbx + (size_t)bx] = (uint8_t)mx;
        }
}

/* Bilinear weight of the block centres around pixel coordinate v: the block
 * index below (clamped) and the 1/256 fraction towards the next. */
static void centre_weight(int v, int block, int nb, int *i0, int *i1, int *f)
{
    int c = ((2 * v + 1 - block) * 128) / block; /* (v + 0.5) / block - 0.5, in 1/256 */
    if (c < 0)
        c = 0;
    if (c > (nb - 1) * 256)
        c = (nb - 1) * 256;
    *i0 = c >> 8;
    *i1 = *i0 + 1 < nb ? *i0 + 1 : *i0;
    *f = c & 255;
}

static int lerp2(const uint8_t *m, int nbx, int x0, int x1, int fx, int y0, int y1, int fy)
{
    int top = m[y0 * nbx + x0] * (256 - fx) + m[y0 * nbx + x1] * fx;
    int bot = m[y1 * nbx + x0] * (256 - fx) + m[y1 * nbx + x1] * fx;
    return (top * (256 - fy) + bot * fy) >> 16;
}

int gray_normalize_local(struct gray_buf *b, int block)
{
    if (block < 2)
        return -1;
    int nbx = (b->width + block - 1) / block, nby = (b->height + block - 1) / block;
    size_t nb = (size_t)nbx * (size_t)nby;
    if (ensure(&b->scratch, &b->scratch_capacity, 4 * nb) != 0)
        return -1;
    uint8_t *lo = b->scratch, *hi = lo + nb, *lo3 = hi + nb, *hi3 = lo3 + nb;
    block_ranges(b, block, nbx, nby, lo, hi, lo3, hi3);
    for (int y = 0; y < b->height; y++) {
        int y0, y1, fy;
        centre_weight(y, block, nby, &y0, &y1, &fy);
        uint8_t *p = b->pixels + (size_t)y * (size_t)b->width;
        for (int x = 0; x < b->width; x++) {
            int x0, x1, fx;
            centre_weight(x, block, nbx, &x0, &x1, &fx);
            int mn = lerp2(lo3, nbx, x0, x1, fx, y0, y1, fy);
            int mx = lerp2(hi3, nbx, x0, x1, fx, y0, y1, fy);
            int range = mx - mn < NORMALIZE_MIN_RANGE ? NORMALIZE_MIN_RANGE : mx - mn;
            p[x] = clamp255(((p[x] - mn) * 255) / range);
        }
    }
    return 0;
}
