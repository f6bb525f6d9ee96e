/* deblur.h - undo the smear of a card that moved while the shutter was open.
 *
 * A card slid under the camera during the exposure spreads each point over a
 * short line: a box kernel of some length in some direction. At 4 px per
 * module ZBar still reads a smear of about 5 px, never one of 7 or more. The
 * smear is measured from the picture itself (there is no motion sensor to
 * ask) and then taken out by a Wiener filter, so the reader can give ZBar
 * the code again. Measured on make_frames' motion frames (smears of 4-10 px
 * at 3.6-4.4 px per module): ZBar read 37% of the crops as they were and 99%
 * after deblur_estimate() and deblur_motion(), with no wrong payload.
 *
 * Directions are those of the picture: angle_rad is the smear's direction
 * (cos a, sin a) with x to the right and y down, in [0, pi) (a smear is a
 * line, not an arrow), as tools/common/imgops.c's img_motion_blur takes it.
 *
 * The state keeps its working plane from call to call, so nothing is
 * allocated per call once it has seen the largest crop. One per thread.
 */
#ifndef CCCD_DEBLUR_H
#define CCCD_DEBLUR_H

#include "decode/gray_ops.h"

/* Smears this long or longer are not taken out: over 3 modules of 4 px, a
 * 16 px smear leaves too little of the code for any filter. */
#define DEBLUR_MAX_LENGTH_PX 16.0f
/* Shorter smears than this are no smear: the lens blurs as much. */
#define DEBLUR_MIN_LENGTH_PX 2.0f
/* The largest side either call takes: the filter works on planes of a power
 * of two side, at most 1024, with room for the smear. */
#define DEBLUR_MAX_SIDE 960
/* The estimate only looks at a window: it takes whole frames up to this. */
#define DEBLUR_ESTIMATE_MAX_SIDE 1920

struct deblur;

/* Returns 0 and a new state in *out, or -1 when out of memory. */
int deblur_open(struct deblur **out);
void deblur_close(struct deblur *d);

/* Measures the smear of b (48..DEBLUR_ESTIMATE_MAX_SIDE px a side) whose modules are
 * about module_px wide (as the locator saw them, 1.5-32; a smear widens
 * them, which does no harm). It looks at the 224 x 224 px of b (96 x 96
 * for modules under 2.5 px) with the most edges: on a crop around a code,
 * the code; on a whole frame, the code or the card's print. Returns 0 with the smear's length and direction, or -1
 * (outputs untouched) when the picture shows no clear smear (sharp, blurred
 * alike in every direction, or smeared by less than half a module, which
 * ZBar reads as it is), for a bad argument, or when out of memory: the
 * caller then leaves the crop as it is. About 1.5 ms on a crop, 2-3 ms on a
 * VGA frame (x86, one core). */
int deblur_estimate(struct deblur *d, const struct gray_buf *b, float module_px, float *length_px, float *angle_rad);

/* A quicker look at a whole frame view (any stride, no copy): the same,
 * over a smaller window (96 px), which is enough to see a smear and
 * costs a quarter; the terminal runs it on every frame without a finder. */
int deblur_estimate_frame(struct deblur *d, const struct frame *b, float module_px, float *length_px,
                          float *angle_rad);

/* Where in b the last deblur_estimate() looked (the window with the most
 * edges), smear or not: on a whole frame, where the code most likely is.
 * An empty rect when that call was refused before looking (bad argument,
 * no memory). */
struct gray_rect deblur_where(const struct deblur *d);

/* Takes a smear of length_px (DEBLUR_MIN_LENGTH_PX..DEBLUR_MAX_LENGTH_PX)
 * in direction angle_rad out of b, in place, holding back as much as b's
 * own sensor noise needs. The crop should keep some quiet zone around the
 * code: what the smear brought in from outside the crop cannot be taken out
 * again. Returns 0, or -1 (b untouched) for a bad length or angle, an empty
 * or too large buffer, or no memory. About 1.5 ms up to 220 x 220 px, 6 ms
 * up to 480 x 480, 28 ms up to 960 x 960 (x86, one core). */
int deblur_motion(struct deblur *d, struct gray_buf *b, float length_px, float angle_rad);

#endif
