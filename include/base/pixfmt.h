/* pixfmt.h - camera pixel formats to 8-bit luma.
 *
 * What a QR decoder needs is brightness only. Planar formats (GREY, NV12,
 * YU12) already start with a luma plane and are used in place; packed YUV
 * gives every other byte; MJPEG is decoded straight to grayscale. */
#ifndef CCCD_PIXFMT_H
#define CCCD_PIXFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/frame.h"

enum pixfmt { PIXFMT_GREY, PIXFMT_YUYV, PIXFMT_UYVY, PIXFMT_NV12, PIXFMT_YU12, PIXFMT_MJPEG, PIXFMT_COUNT };

/* "grey", "yuyv", ... ; -1 for an unknown name. */
int pixfmt_from_name(const char *name);
const char *pixfmt_name(enum pixfmt f);

/* Bytes a complete frame of this format needs (0 for MJPEG, which varies). */
size_t pixfmt_frame_size(enum pixfmt f, int width, int height, int bytesperline);

/* True when the luma can be read in place (GREY, NV12, YU12). */
bool pixfmt_luma_in_place(enum pixfmt f);

/* Packed 4:2:2 to luma: YUYV keeps bytes 0, 2, 4...; UYVY bytes 1, 3, 5...
 * src rows are bytesperline apart; dst is width*height. */
void pixfmt_packed_to_luma(enum pixfmt f, const uint8_t *src, int bytesperline, int width, int height, uint8_t *dst);

/* A JPEG buffer that is complete: starts with SOI (FFD8) and ends with EOI
 * (FFD9), allowing trailing zero padding that some UVC cameras add. */
bool pixfmt_jpeg_complete(const uint8_t *data, size_t len);

#endif
