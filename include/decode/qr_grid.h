/* qr_grid.h - where each module of a located QR symbol lies in the frame.
 *
 * A card held at 30-40 degrees to the camera is not a square in the frame:
 * its far side is shorter, and a map built from the three finders alone (an
 * affine one) misplaces the far corner by several modules, which is where
 * ZBar gives up. A projective map needs a fourth point; QR symbols from
 * version 2 on carry one, the alignment pattern three modules in from the
 * bottom-right corner. This module estimates the symbol's size from its
 * finders, looks for that alignment pattern near where the finders predict
 * it, fits the projective map through the four points and scores it on the
 * function patterns (the alternating timing modules between the finders,
 * and every alignment pattern the size has), trying the neighbouring sizes
 * and the pattern's look-alikes as well and keeping the map that scores best.
 *
 * Module coordinates: the symbol spans [0, dim) x [0, dim); module (i, j)
 * has its centre at (i + 0.5, j + 0.5). Frame coordinates have pixel centres
 * at integers, as the locator reports finders.
 */
#ifndef CCCD_QR_GRID_H
#define CCCD_QR_GRID_H

#include <stdbool.h>

#include "base/frame.h"
#include "decode/gray_ops.h"
#include "decode/qr_locate.h"

struct qr_grid {
    int dim;       /* modules per side: 21, 25, ... 177 */
    float map[9];  /* module coordinates -> frame pixels, as gray_warp() takes a map */
    bool aligned;  /* the fourth point is an alignment pattern seen in the frame */
    float score;   /* share of timing and alignment modules that read as the
                    * standard has them, 0..1: near 1 right, about 0.5 wrong,
                    * 0 when the grid reaches outside the frame */
};

/* Fits the grid of a candidate with three finders, or with two (the third
 * hidden by glare or a thumb: each place it could be is tried, and a grid is
 * returned only when the function patterns clearly confirm one). Returns 0, or
 * -1 when the candidate has fewer finders, its geometry is degenerate
 * (finders on one line, a symbol under 8 or over 177 modules) or no guess
 * for a pair holds. */
int qr_grid_fit(const struct frame *f, const struct qr_candidate *c, struct qr_grid *g);

/* A clean picture of the symbol for ZBar: each module sampled at its centre
 * through the grid and called dark or light against its neighbourhood, the
 * function patterns (finders, separators, timing, alignment) drawn as the
 * standard has them, px pixels per module (1..8) and a 4-module quiet zone,
 * dark on light whatever the frame's polarity. Errors left in the data
 * modules are for the code's error correction; what it buys is that glare
 * or smear over a finder or timing pattern no longer stops ZBar from
 * finding the symbol at all. Only worth it for a grid with a good score. Returns 0, or -1 (grid outside the frame, bad size, no memory). */
int qr_grid_resample(const struct frame *f, const struct qr_grid *g, bool inverted, int px, struct gray_buf *out);

/* The frame point of module coordinates (u, v); false where the map has the
 * point behind the camera (a degenerate map). */
bool qr_grid_point(const float map[9], float u, float v, float *x, float *y);

#endif
