/* image_io.h - read PGM, PNG and JPEG files as grayscale; write PGM, PNG, JPEG.
 *
 * The format is told by the file's first bytes, never by its name. Every
 * reader bounds the picture's size (FRAME_MAX_SIDE) before it allocates, so
 * a hostile header cannot ask for gigabytes, and a truncated or corrupt file
 * is an error with a message, never a crash.
 */
#ifndef CCCD_IMAGE_IO_H
#define CCCD_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "base/frame.h"

/* Stable error codes (negative return values). */
enum image_status {
    IMAGE_OK = 0,
    IMAGE_ERR_OPEN = -1,      /* file cannot be opened or read */
    IMAGE_ERR_FORMAT = -2,    /* not a PGM, PNG or JPEG file */
    IMAGE_ERR_CORRUPT = -3,   /* the format's own decoder refused it */
    IMAGE_ERR_TOO_LARGE = -4, /* a side is 0 or above FRAME_MAX_SIDE */
    IMAGE_ERR_NOMEM = -5,
    IMAGE_ERR_WRITE = -6,     /* file cannot be written */
};

enum image_format { IMAGE_FORMAT_UNKNOWN, IMAGE_FORMAT_PGM, IMAGE_FORMAT_PNG, IMAGE_FORMAT_JPEG };

/* Tells the format from the first bytes (at least 3 are needed). */
enum image_format image_sniff(const uint8_t *data, size_t len);

/* Decodes a whole file held in memory. On success *out owns its pixels
 * (release with gray_image_free). On failure *out is empty and err holds a
 * message naming what failed. */
int image_decode(const uint8_t *data, size_t len, struct gray_image *out, char *err, size_t errlen);

/* Decodes one JPEG (a camera's MJPEG frame) into img, keeping img's buffer
 * when the size is unchanged; img must be zeroed or hold an earlier result.
 * On failure img is emptied. */
int image_decode_jpeg_reuse(const uint8_t *data, size_t len, struct gray_image *img, char *err, size_t errlen);

/* Reads and decodes a file; messages name the path. Files over 64 MiB are refused. */
int image_load(const char *path, struct gray_image *out, char *err, size_t errlen);

/* Writes an image; the format follows the name's ending (.pgm, .png, .jpg/.jpeg).
 * quality is used for JPEG only (1..100). */
int image_save(const char *path, const struct gray_image *img, int quality, char *err, size_t errlen);

/* Allocates a width x height image filled with value; returns IMAGE_OK or an error. */
int gray_image_alloc(struct gray_image *img, int width, int height, uint8_t value);
void gray_image_free(struct gray_image *img);

#endif
