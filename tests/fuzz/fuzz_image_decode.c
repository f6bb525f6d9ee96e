/* fuzz_image_decode.c - any file handed to `scan` decodes or is refused cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/image_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    struct gray_image img;
    char err[256];
    err[0] = '\0';
    int rc = image_decode(data, len, &img, err, sizeof(err));
    if (rc == IMAGE_OK) {
        if (!img.pixels || img.width <= 0 || img.height <= 0 || img.width > FRAME_MAX_SIDE ||
            img.height > FRAME_MAX_SIDE)
            abort();
        /* Touch the last pixel: ASan checks the buffer really is w*h. */
        volatile uint8_t last = img.pixels[(size_t)img.width * (size_t)img.height - 1];
        (void)last;
    } else {
        if (img.pixels || rc > 0 || err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
            abort();
    }
    gray_image_free(&img);
    return 0;
}
