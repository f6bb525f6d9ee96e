/* qr_decode.h - find QR codes in a grayscale frame and return their exact bytes.
 *
 * ZBar underneath, set up for what a card terminal needs: QR only (other
 * symbologies cost time and add false reads) and binary mode, so that the
 * payload is the symbol's bytes rather than ZBar's charset guess (which turns
 * Vietnamese UTF-8 into Big5 garbage). Text validation is the parser's job.
 *
 * One decoder per thread. Results stay valid until the next qr_decoder_scan()
 * or qr_decoder_close() on the same decoder.
 */
#ifndef CCCD_QR_DECODE_H
#define CCCD_QR_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/frame.h"

/* Stable error codes (negative return values). */
enum qr_status {
    QR_ERR_FRAME = -1, /* frame dimensions or stride are invalid */
    QR_ERR_NOMEM = -2,
    QR_ERR_ZBAR = -3,  /* ZBar failed to set up or to scan */
};

/* A QR code holds at most 2953 bytes (version 40, byte mode, level L). */
#define QR_DATA_MAX 2953

/* The most codes reported per frame; a desk scene holds one or two. */
#define QR_MAX_CODES 16

struct qr_point {
    int x, y;
};

struct qr_code {
    const uint8_t *data; /* exact payload bytes (not NUL-terminated) */
    size_t len;
    struct qr_point corners[4]; /* outline in frame pixels, ZBar's order */
    int ncorners;               /* 0 when ZBar gave no outline */
    bool inverted;              /* read light-on-dark: a phone screen in dark mode */
};

struct qr_decoder;

/* Returns 0 and a new decoder in *out, or a qr_status with a message in err. */
int qr_decoder_open(struct qr_decoder **out, char *err, size_t errlen);
void qr_decoder_close(struct qr_decoder *dec);

/* Scans one frame. Returns the number of codes found (0..QR_MAX_CODES) or a
 * negative qr_status. A frame whose stride equals its width is scanned in
 * place; otherwise its rows are packed into a buffer the decoder reuses. */
int qr_decoder_scan(struct qr_decoder *dec, const struct frame *f);

/* The i-th code of the last scan (0 <= i < the count it returned). */
const struct qr_code *qr_decoder_code(const struct qr_decoder *dec, int i);

#endif
