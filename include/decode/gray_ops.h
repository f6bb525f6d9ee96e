/* gray_ops.h - the picture operations the reader applies before ZBar.
 *
 * ZBar's cost grows with the pixels it is given, and it reads best when a
 * module is 3-5 px wide with clean edges. These operations turn a camera
 * frame into what ZBar wants: a crop of the code's region, scaled so that
 * modules come out near that size, with contrast evened out, noise smoothed
 * or edges sharpened, or light and dark swapped for a phone in dark mode.
 *
 * Results go into a gray_buf that owns its pixels and keeps its allocation
 * from call to call, so the reader allocates nothing per frame once warm.
 */
#ifndef CCCD_GRAY_OPS_H
#define CCCD_GRAY_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "base/frame.h"

struct gray_buf {
    int width, height; /* stride == width */
    uint8_t *pixels;
    size_t capacity; /* bytes allocated */
    uint8_t *scratch; /* the filters' working copy, kept as well */
    size_t scratch_capacity;
};

struct gray_rect {
    int x0, y0, x1, y1; /* [x0, x1) x [y0, y1) in frame pixels */
};

void gray_buf_free(struct gray_buf *b);
/* Makes b w x h (contents undefined), keeping a large enough allocation.
 * Returns 0, or -1 for a size outside 1..FRAME_MAX_SIDE or no memory. */
int gray_buf_resize(struct gray_buf *b, int w, int h);
/* A view of the buffer, as the decoder takes it. */
struct frame gray_buf_frame(const struct gray_buf *b);

/* Copies rect (clipped to the frame) into dst, scaled by num/den: den > 1
 * averages den x den blocks (num must be 1), num > 1 enlarges bilinearly
 * (den must be 1), num == den == 1 copies. num and den are 1..4. Returns 0,
 * or -1 when the rect is empty after clipping, the scale is not one of these,
 * or memory runs out. */
int gray_crop_scale(const struct frame *src, struct gray_rect rect, int num, int den, struct gray_buf *dst);

/* The frame's value at (x, y), pixel centres at integers, interpolated
 * bilinearly; `fill` outside the frame or for a NaN coordinate. */
int gray_sample(const struct frame *f, float x, float y, int fill);

/* dst (w x h) samples src bilinearly through the projective map m (row-major
 * 3 x 3): destination pixel centre (x, y) -> source ((m0 x + m1 y + m2) / q,
 * (m3 x + m4 y + m5) / q), q = m6 x + m7 y + m8; an affine map has m6 = m7 =
 * 0, m8 = 1. What falls outside src (or where q <= 0) gets `fill`.
 * Straightens a code tilted out of the plane. Returns 0, or -1 for a bad size
 * or no memory. */
int gray_warp(const struct frame *src, const float m[9], int w, int h, uint8_t fill, struct gray_buf *dst);

/* dst becomes a copy of src. Returns 0 or -1 (out of memory). */
int gray_copy(struct gray_buf *dst, const struct gray_buf *src);

/* 255 - p: a dark-mode code becomes a printed one. */
void gray_invert(struct gray_buf *b);

/* Stretches contrast locally, so that the modules under a burnt-out glare,
 * in a dark corner or across a lighting gradient span the full range: each
 * pixel is mapped by the minimum and maximum of its neighbourhood (blocks of
 * `block` px, 3 x 3 of them around it). Returns 0 or -1 (out of memory). */
int gray_normalize_local(struct gray_buf *b, int block);

/* 3 x 3 box average: sensor noise down by 3x, edges kept at >= 3 px/module.
 * Returns 0 or -1 (out of memory). */
int gray_smooth3(struct gray_buf *b);

/* Unsharp mask (p + amount * (p - box3(p))), clamped: restores some of the
 * edge a focus error took. amount in 1/4 steps: 4 = 1.0. Returns 0 or -1. */
int gray_sharpen(struct gray_buf *b, int amount_quarters);

#endif
