/* qr_frame.c - QR codes drawn for tests. */
#include "qr_frame.h"

#include <qrencode.h>
#include <string.h>

#include "base/image_io.h"

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

int qr_frame_modules(const char *payload)
{
    QRcode *qr = QRcode_encodeString(payload, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return -1;
    int w = qr->width;
    QRcode_free(qr);
    return w;
}

int qr_frame_draw_turned(struct gray_image *img, const char *payload, int scale, int x0, int y0, int quarter_turns,
                         uint8_t dark, uint8_t light)
{
    QRcode *qr = QRcode_encodeString(payload, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return -1;
    int n = qr->width, turns = ((quarter_turns % 4) + 4) % 4;
    for (int y = 0; y < n * scale; y++)
        for (int x = 0; x < n * scale; x++) {
            /* A clockwise quarter turn puts module (u, v) at (n - 1 - v, u):
             * undo it `turns` times to find the module shown here. */
            int u = x / scale, v = y / scale;
            for (int t = 0; t < turns; t++) {
                int pu = v, pv = n - 1 - u;
                u = pu, v = pv;
            }
            int on = qr->data[v * n + u] & 1;
            if (y0 + y >= 0 && x0 + x >= 0 && y0 + y < img->height && x0 + x < img->width)
                img->pixels[(size_t)(y0 + y) * (size_t)img->width + (size_t)(x0 + x)] = on ? dark : light;
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
