/* pixfmt.c - luma extraction for the camera formats we accept. */
#include "base/pixfmt.h"

#include <string.h>

static const char *const names[PIXFMT_COUNT] = { "grey", "yuyv", "uyvy", "nv12", "yu12", "mjpeg" };

int pixfmt_from_name(const char *name)
{
    for (int i = 0; i < PIXFMT_COUNT; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *pixfmt_name(enum pixfmt f)
{
    return (int)f >= 0 && f < PIXFMT_COUNT ? names[f] : "unknown";
}

size_t pixfmt_frame_size(enum pixfmt f, int width, int height, int bytesperline)
{
    size_t rows = (size_t)height, bpl = (size_t)bytesperline;
    switch (f) {
    case PIXFMT_GREY:
        return bpl * rows;
    case PIXFMT_YUYV:
    case PIXFMT_UYVY:
        return bpl * rows;
    case PIXFMT_NV12:
    case PIXFMT_YU12:
        /* Luma plane plus half as much chroma. */
        return bpl * rows + bpl * rows / 2;
    default:
        (void)width;
        return 0;
    }
}

bool pixfmt_luma_in_place(enum pixfmt f)
{
    return f == PIXFMT_GREY || f == PIXFMT_NV12 || f == PIXFMT_YU12;
}

void pixfmt_packed_to_luma(enum pixfmt f, const uint8_t *src, int bytesperline, int width, int height, uint8_t *dst)
{
    int first = f == PIXFMT_UYVY ? 1 : 0;
    for (int y = 0; y < height; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)bytesperline + first;
        uint8_t *out = dst + (size_t)y * (size_t)width;
        for (int x = 0; x < width; x++)
            out[x] = row[2 * x];
    }
}

bool pixfmt_jpeg_complete(const uint8_t *data, size_t len)
{
    while (len > 2 && data[len - 1] == 0)
        len--;
    return len >= 4 && data[0] == 0xff && data[1] == 0xd8 && data[len - 2] == 0xff && data[len - 1] == 0xd9;
}
