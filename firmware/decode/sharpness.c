/* sharpness.c - variance of the Laplacian (see sharpness.h). */
#include "decode/sharpness.h"

#include <stdint.h>

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

double sharpness_region(const struct frame *f, int x, int y, int w, int h)
{
    if (!f || !f->pixels || f->width < 3 || f->height < 3 || w <= 0 || h <= 0)
        return -1;
    /* The Laplacian needs a neighbour on every side. */
    int x0 = clamp(x, 1, f->width - 1), x1 = clamp(x + w, 1, f->width - 1);
    int y0 = clamp(y, 1, f->height - 1), y1 = clamp(y + h, 1, f->height - 1);
    if (x1 <= x0 || y1 <= y0)
        return -1;
    /* Sums in doubles: a 1080p region's squares overflow 32 bits. */
    double sum = 0, sq = 0;
    for (int r = y0; r < y1; r++) {
        const uint8_t *row = f->pixels + (size_t)r * (size_t)f->stride;
        const uint8_t *up = row - f->stride, *down = row + f->stride;
        for (int c = x0; c < x1; c++) {
            int lap = up[c] + down[c] + row[c - 1] + row[c + 1] - 4 * row[c];
            sum += lap;
            sq += (double)lap * lap;
        }
    }
    double n = (double)(x1 - x0) * (y1 - y0);
    double mean = sum / n;
    return sq / n - mean * mean;
}

double sharpness_centre(const struct frame *f)
{
    if (!f)
        return -1;
    return sharpness_region(f, f->width / 4, f->height / 4, f->width / 2, f->height / 2);
}
