/* qr_decode.c - ZBar, configured for card payloads. */
#include "decode/qr_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zbar.h>

/* ZBar leaks about 0.6 kB into the scanner's symbol recycling buckets on
 * every successful QR decode (upstream issue #258). Destroying the scanner
 * frees them, so a new one is made after this many decodes: the leak stays
 * bounded (< 0.5 MB) and the cost of a new scanner (~µs) is paid rarely. */
#define QR_SCANNER_RENEW_AFTER 500

struct qr_decoder {
    zbar_image_scanner_t *scanner;
    unsigned decodes_since_renew;
    uint8_t *packed; /* rows packed to stride == width, when needed */
    size_t packed_size;
    int ncodes;
    struct qr_code codes[QR_MAX_CODES];
    uint8_t data[QR_MAX_CODES][QR_DATA_MAX];
};

static zbar_image_scanner_t *scanner_new(void)
{
    zbar_image_scanner_t *s = zbar_image_scanner_create();
    if (!s)
        return NULL;
    /* QR only: every other symbology costs time and can misread text blocks. */
    if (zbar_image_scanner_set_config(s, ZBAR_NONE, ZBAR_CFG_ENABLE, 0) != 0 ||
        zbar_image_scanner_set_config(s, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1) != 0 ||
        /* Exact bytes: ZBar's charset guess turns Vietnamese into Big5. */
        zbar_image_scanner_set_config(s, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1) != 0) {
        zbar_image_scanner_destroy(s);
        return NULL;
    }
    return s;
}

int qr_decoder_open(struct qr_decoder **out, char *err, size_t errlen)
{
    *out = NULL;
    struct qr_decoder *dec = calloc(1, sizeof(*dec));
    if (!dec) {
        snprintf(err, errlen, "out of memory for the QR decoder");
        return QR_ERR_NOMEM;
    }
    dec->scanner = scanner_new();
    if (!dec->scanner) {
        free(dec);
        snprintf(err, errlen, "ZBar refused the QR-only binary configuration (libzbar too old?)");
        return QR_ERR_ZBAR;
    }
    *out = dec;
    return 0;
}

void qr_decoder_close(struct qr_decoder *dec)
{
    if (!dec)
        return;
    zbar_image_scanner_destroy(dec->scanner);
    free(dec->packed);
    free(dec);
}

/* ZBar takes no stride: pack the rows when the frame has padding. */
static const uint8_t *packed_pixels(struct qr_decoder *dec, const struct frame *f)
{
    if (f->stride == f->width)
        return f->pixels;
    size_t need = (size_t)f->width * (size_t)f->height;
    if (need > dec->packed_size) {
        uint8_t *p = realloc(dec->packed, need);
        if (!p)
            return NULL;
        dec->packed = p;
        dec->packed_size = need;
    }
    for (int y = 0; y < f->height; y++)
        memcpy(dec->packed + (size_t)y * (size_t)f->width, f->pixels + (size_t)y * (size_t)f->stride,
               (size_t)f->width);
    return dec->packed;
}

static void keep_symbol(struct qr_decoder *dec, const zbar_symbol_t *sym)
{
    unsigned len = zbar_symbol_get_data_length(sym);
    if (dec->ncodes >= QR_MAX_CODES || len > QR_DATA_MAX)
        return;
    int i = dec->ncodes++;
    struct qr_code *c = &dec->codes[i];
    memcpy(dec->data[i], zbar_symbol_get_data(sym), len);
    c->data = dec->data[i];
    c->len = len;
    unsigned n = zbar_symbol_get_loc_size(sym);
    c->ncorners = n == 4 ? 4 : 0;
    c->inverted = false;
    for (int k = 0; k < c->ncorners; k++) {
        c->corners[k].x = zbar_symbol_get_loc_x(sym, (unsigned)k);
        c->corners[k].y = zbar_symbol_get_loc_y(sym, (unsigned)k);
    }
}

static int renew_scanner_if_due(struct qr_decoder *dec)
{
    if (dec->decodes_since_renew < QR_SCANNER_RENEW_AFTER)
        return 0;
    zbar_image_scanner_t *fresh = scanner_new();
    if (!fresh)
        return QR_ERR_ZBAR; /* keep the old one; try again next frame */
    zbar_image_scanner_destroy(dec->scanner);
    dec->scanner = fresh;
    dec->decodes_since_renew = 0;
    return 0;
}

int qr_decoder_scan(struct qr_decoder *dec, const struct frame *f)
{
    dec->ncodes = 0;
    if (!f || !f->pixels || f->width <= 0 || f->height <= 0 || f->width > FRAME_MAX_SIDE ||
        f->height > FRAME_MAX_SIDE || f->stride < f->width)
        return QR_ERR_FRAME;
    const uint8_t *px = packed_pixels(dec, f);
    if (!px)
        return QR_ERR_NOMEM;
    zbar_image_t *img = zbar_image_create();
    if (!img)
        return QR_ERR_NOMEM;
    zbar_image_set_format(img, zbar_fourcc('Y', '8', '0', '0'));
    zbar_image_set_size(img, (unsigned)f->width, (unsigned)f->height);
    zbar_image_set_data(img, px, (unsigned long)f->width * (unsigned long)f->height, NULL);
    int n = zbar_scan_image(dec->scanner, img);
    if (n < 0) {
        zbar_image_destroy(img);
        return QR_ERR_ZBAR;
    }
    for (const zbar_symbol_t *s = zbar_image_first_symbol(img); s; s = zbar_symbol_next(s))
        if (zbar_symbol_get_type(s) == ZBAR_QRCODE)
            keep_symbol(dec, s);
    zbar_image_destroy(img);
    dec->decodes_since_renew += (unsigned)dec->ncodes;
    /* A failed renewal is not a failed scan: the codes are already read. */
    (void)renew_scanner_if_due(dec);
    return dec->ncodes;
}

const struct qr_code *qr_decoder_code(const struct qr_decoder *dec, int i)
{
    if (i < 0 || i >= dec->ncodes)
        return NULL;
    return &dec->codes[i];
}
