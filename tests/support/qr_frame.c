/* qr_frame.c - QR codes drawn for tests. */
#include "qr_frame.h"

#include <qrencode.h>
#include <string.h>

#include "image_io.h"

int qr_frame_draw(struct gray_image *img, const char *payload, int scale, int x0, int y0)
{
    QRcode *qr = QRcode_encodeString(payload, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return -1;
    for (int y = 0; y < qr->width * scale; y++)
        for (int x = 0; x < qr->width * scale; x++) {
            int on = qr->data[(y / scale) * qr->width + x / scale] & 1;
            if (y0 + y < img->height && x0 + x < img->width)
                img->pixels[(size_t)(y0 + y) * (size_t)img->width + (size_t)(x0 + x)] = on ? 20 : 235;
        }
    QRcode_free(qr);
    return 0;
}

int qr_frame_save(const char *path, const char *payload)
{
    struct gray_image img;
    char err[256];
    if (gray_image_alloc(&img, 320, 320, 235) != IMAGE_OK)
        return -1;
    int rc = payload ? qr_frame_draw(&img, payload, 3, 30, 30) : 0;
    if (rc == 0 && image_save(path, &img, 90, err, sizeof(err)) != IMAGE_OK)
        rc = -1;
    gray_image_free(&img);
    return rc;
}
