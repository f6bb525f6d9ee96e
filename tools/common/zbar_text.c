/* zbar_text.c - read a clean symbol back through ZBar's charset guessing. */
#include "zbar_text.h"

#include <stdlib.h>
#include <string.h>
#include <zbar.h>

#include "base/image_io.h"

/* The symbol at 4 px per module on white: ZBar reads this every time, so any
 * difference is the text conversion, not the optics. */
static int draw_clean(const struct qr_matrix *qr, struct gray_image *img)
{
    enum { PX = 4 };
    int side = (qr->width + 2 * QR_QUIET_ZONE) * PX;
    if (gray_image_alloc(img, side, side, 255) != IMAGE_OK)
        return -1;
    for (int y = 0; y < qr->width; y++)
        for (int x = 0; x < qr->width; x++)
            if (qr->dark[y * qr->width + x])
                img_fill_rect(img, (x + QR_QUIET_ZONE) * PX, (y + QR_QUIET_ZONE) * PX,
                              (x + QR_QUIET_ZONE + 1) * PX, (y + QR_QUIET_ZONE + 1) * PX, 0);
    return 0;
}

static zbar_image_scanner_t *text_mode_scanner(void)
{
    zbar_image_scanner_t *s = zbar_image_scanner_create();
    if (s && (zbar_image_scanner_set_config(s, ZBAR_NONE, ZBAR_CFG_ENABLE, 0) != 0 ||
              zbar_image_scanner_set_config(s, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1) != 0)) {
        zbar_image_scanner_destroy(s);
        return NULL;
    }
    return s;
}

static int compare_first_symbol(zbar_image_t *zimg, const uint8_t *payload, size_t len, char *got, size_t gotsize)
{
    const zbar_symbol_t *sym = zbar_image_first_symbol(zimg);
    if (!sym)
        return -1;
    const char *data = zbar_symbol_get_data(sym);
    size_t n = zbar_symbol_get_data_length(sym);
    if (got && gotsize > 0) {
        size_t k = n < gotsize - 1 ? n : gotsize - 1;
        memcpy(got, data, k);
        got[k] = '\0';
    }
    return n == len && memcmp(data, payload, len) == 0 ? 0 : 1;
}

int zbar_text_mode_alters(const struct qr_matrix *qr, const uint8_t *payload, size_t len, char *got, size_t gotsize)
{
    struct gray_image img;
    if (draw_clean(qr, &img) != 0)
        return -1;
    int rc = -1;
    zbar_image_scanner_t *scanner = text_mode_scanner();
    zbar_image_t *zimg = zbar_image_create();
    if (scanner && zimg) {
        zbar_image_set_format(zimg, zbar_fourcc('Y', '8', '0', '0'));
        zbar_image_set_size(zimg, (unsigned)img.width, (unsigned)img.height);
        zbar_image_set_data(zimg, img.pixels, (unsigned long)img.width * (unsigned long)img.height, NULL);
        if (zbar_scan_image(scanner, zimg) > 0)
            rc = compare_first_symbol(zimg, payload, len, got, gotsize);
    }
    if (zimg)
        zbar_image_destroy(zimg);
    if (scanner)
        zbar_image_scanner_destroy(scanner);
    gray_image_free(&img);
    return rc;
}
