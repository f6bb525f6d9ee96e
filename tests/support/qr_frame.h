/* qr_frame.h - real QR codes drawn into test frames (libqrencode). */
#ifndef CCCD_QR_FRAME_H
#define CCCD_QR_FRAME_H

#include "base/frame.h"

/* Draws payload as a QR code with `scale` px modules at (x0, y0) onto img,
 * encoded as typical encoders do, in mixed segments (digits in numeric
 * mode, text in byte mode). Returns 0, or -1 when libqrencode refuses. */
int qr_frame_draw(struct gray_image *img, const char *payload, int scale, int x0, int y0);

/* A 320x320 light frame holding one code (or none when payload is NULL),
 * saved to path (.png/.pgm/.jpg). Returns 0 or -1. */
int qr_frame_save(const char *path, const char *payload);

/* The symbol's side in modules (quiet zone not included) as qr_frame_draw
 * encodes payload, or -1 when libqrencode refuses. */
int qr_frame_modules(const char *payload);

/* As qr_frame_draw, with the symbol turned clockwise on screen by
 * quarter_turns x 90 degrees about its own centre (it covers the same
 * square), modules `dark` on `light`; what falls outside img (negative
 * x0, y0 included) is left out. Returns 0, or -1 when libqrencode refuses. */
int qr_frame_draw_turned(struct gray_image *img, const char *payload, int scale, int x0, int y0, int quarter_turns,
                         uint8_t dark, uint8_t light);

#endif
