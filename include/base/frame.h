/* frame.h - a grayscale picture as every stage of the scan path sees it.
 *
 * A frame is a view: it does not own its pixels. The camera drivers hand out
 * frames that point into their capture buffers, the image loader hands out
 * frames that point into a heap buffer it owns, and the decoder reads them
 * without copying (unless the stride forces it to, see qr_decode.h).
 */
#ifndef CCCD_FRAME_H
#define CCCD_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* The largest side we accept from any source. A 1920x1080 camera is the
 * biggest thing a desk terminal sees; 8192 leaves room for scanned photos
 * while keeping a hostile header from asking for gigabytes. */
#define FRAME_MAX_SIDE 8192

struct frame {
    int width;             /* pixels */
    int height;            /* pixels */
    int stride;            /* bytes from one row to the next, >= width */
    const uint8_t *pixels; /* 8-bit luma, 0 = black */
};

/* Owned grayscale image: what the image loader and the test-frame tools make. */
struct gray_image {
    int width;
    int height;
    uint8_t *pixels; /* width * height bytes, stride == width */
};

/* A view of an owned image. */
static inline struct frame gray_image_frame(const struct gray_image *img)
{
    struct frame f = { img->width, img->height, img->width, img->pixels };
    return f;
}

#endif
