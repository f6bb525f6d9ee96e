/* qr_locate.h - where in a frame a QR code may be, found cheaply.
 *
 * ZBar spends the same time on every pixel it is given, code or no code.
 * The locator looks for QR finder patterns (the three nested squares, dark
 * light dark in widths 1:1:3:1:1 along any line through their centre) on a
 * sparse set of rows, confirms each along its column and row, and groups
 * finders that belong to one symbol. What it returns are rectangles worth
 * handing to ZBar, with the module size seen there and whether the code is
 * printed (dark on light) or shown inverted (a phone in dark mode).
 *
 * The threshold is local (block means over a neighbourhood, as ZXing's hybrid
 * binarizer does), so lighting gradients, glare around the code and dark
 * frames do not hide finders. A frame without finders costs one pass over
 * its pixels and a scan of every second or third row: a fraction of a ZBar
 * pass.
 */
#ifndef CCCD_QR_LOCATE_H
#define CCCD_QR_LOCATE_H

#include <stdbool.h>

#include "base/frame.h"
#include "decode/gray_ops.h"

/* The most candidate regions returned per frame. */
#define QR_LOCATE_MAX 8

struct qr_candidate {
    struct gray_rect rect; /* frame pixels, clipped to the frame */
    float module_px;       /* module size measured on the finders */
    bool inverted;         /* light modules on dark: invert before decoding */
    int nfinders;          /* 3: a whole symbol; 2 or 1: finders not seen */
    /* With three finders: their centres as the symbol has them, top-left
     * (the corner), top-right, bottom-left, whatever the code's rotation.
     * With two: their centres in finder[0] and [1], roles unknown. */
    struct {
        float x, y;
    } finder[3];
};

struct qr_locator;

/* Returns 0, or -1 when out of memory. */
int qr_locator_open(struct qr_locator **out);
void qr_locator_close(struct qr_locator *loc);

/* Fills out[0..max) with candidates, best first (three finders before two),
 * and returns how many; -1 for an invalid frame or no memory. */
int qr_locate(struct qr_locator *loc, const struct frame *f, struct qr_candidate *out, int max);

/* The finders of the last qr_locate() call, for tests and `snapshot`:
 * returns how many and points *xy at x0, y0, x1, y1, ... (frame pixels). */
int qr_locator_finders(const struct qr_locator *loc, const float **xy);

#endif
