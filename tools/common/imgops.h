/* imgops.h - the picture operations that turn a clean rendering into a camera
 * frame: projective warps, blur (focus and motion), sensor noise, glare,
 * exposure.
 *
 * Shared by the test-frame generator and the benchmark tools, so that every
 * tool degrades frames the same way. All operations work in place on 8-bit
 * grayscale images (struct gray_image from frame.h) and clamp to 0..255.
 */
#ifndef CCCD_TOOLS_IMGOPS_H
#define CCCD_TOOLS_IMGOPS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/frame.h"
#include "rng.h"

/* A 3x3 projective transform, row-major: (x, y) -> (X/W, Y/W) with
 * (X, Y, W) = m * (x, y, 1). */
struct homography {
    double m[9];
};

struct point2 {
    double x, y;
};

struct homography homography_identity(void);
/* a * b: apply b first, then a. */
struct homography homography_mul(const struct homography *a, const struct homography *b);
/* False when h is singular. */
bool homography_invert(const struct homography *h, struct homography *out);
/* False when the point maps to infinity or behind the camera (W <= 0). */
bool homography_apply(const struct homography *h, struct point2 in, struct point2 *out);
/* The transform that takes the four src corners onto the four dst corners,
 * in the same order. False when the corners are degenerate. */
bool homography_from_quads(const struct point2 src[4], const struct point2 dst[4], struct homography *out);

/* Bilinear sample at (x, y) in pixel-centre coordinates (pixel i covers
 * [i - 0.5, i + 0.5)). False, and *out untouched, when outside the image. */
bool img_sample_bilinear(const struct gray_image *img, double x, double y, double *out);

/* Draws src onto dst: each dst pixel centre p is looked up at dst_to_src(p) in
 * src. Each dst pixel averages ss x ss bilinear samples (ss 1..4): 1 is plain
 * bilinear, 2-3 keep a downscaled QR code from aliasing into wrong modules.
 * Samples outside src keep dst's pixel, weighted by coverage, so the edge of
 * a card is anti-aliased against the desk behind it. Returns 0 or -1. */
int img_warp_onto(struct gray_image *dst, const struct gray_image *src, const struct homography *dst_to_src,
                  int ss);

/* Fills the axis-aligned rectangle [x0, x1) x [y0, y1), clipped to the image. */
void img_fill_rect(struct gray_image *img, int x0, int y0, int x1, int y1, uint8_t value);
/* Fills an axis-aligned ellipse, clipped to the image. */
void img_fill_ellipse(struct gray_image *img, double cx, double cy, double rx, double ry, uint8_t value);

/* Gaussian blur with standard deviation sigma (0 < sigma <= 8) in pixels;
 * edges are clamped. Returns 0, or -1 when out of memory. */
int img_gaussian_blur(struct gray_image *img, double sigma);

/* Linear motion blur: each pixel becomes the mean of the image along a line
 * length_px long, centred on it, at angle_rad (counter-clockwise from +x,
 * y down); edges are clamped. Returns 0, or -1 when out of memory or
 * length_px is outside 0..64. */
int img_motion_blur(struct gray_image *img, double length_px, double angle_rad);

/* Adds zero-mean gaussian noise of standard deviation sigma (sensor noise). */
void img_add_noise(struct gray_image *img, struct rng *r, double sigma);

/* Maps 0..255 linearly onto lo..hi (under- or over-exposure compresses the
 * range a decoder has to work with). */
void img_levels(struct gray_image *img, int lo, int hi);

/* Multiplies by a smooth illumination field: a linear gradient of strength
 * gx, gy (fraction of brightness across the whole frame) and a vignette that
 * darkens the corners by the fraction `vignette`. */
void img_illuminate(struct gray_image *img, double gx, double gy, double vignette);

/* Adds a specular highlight: an ellipse centred at (cx, cy) with radii rx,
 * ry, turned by angle (radians), adding `peak` at its core and fading to
 * nothing at its rim. Pixels clip at 255, which is what erases modules. */
void img_add_glare(struct gray_image *img, double cx, double cy, double rx, double ry, double angle,
                   double peak);

#endif
