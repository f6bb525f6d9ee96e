/* sharpness.h - how well focused a picture is: the variance of its Laplacian.
 *
 * A sharp edge gives large second derivatives, a blurred one small ones, so
 * the spread of the 4-neighbour Laplacian over a region rises with focus.
 * The number has no unit and depends on the scene's contrast: compare
 * scores of the same card at different focus settings, not across scenes.
 * Used by `doctor` and `snapshot` to help a technician aim and focus.
 */
#ifndef CCCD_SHARPNESS_H
#define CCCD_SHARPNESS_H

#include "base/frame.h"

/* Variance of the Laplacian over the rectangle (x, y, w, h), clipped to the
 * frame and to one pixel inside its border. Returns -1 when nothing is left. */
double sharpness_region(const struct frame *f, int x, int y, int w, int h);

/* The same over the centre half of the frame (half its width and height),
 * where the card is held while aiming. */
double sharpness_centre(const struct frame *f);

#endif
