/* qr_frame.h - real QR codes drawn into test frames (libqrencode). */
#ifndef CCCD_QR_FRAME_H
#define CCCD_QR_FRAME_H

#include "frame.h"

/* Draws payload as a QR code with `scale` px modules at (x0, y0) onto img,
 * encoded as typical encoders do, in mixed segments (digits in numeric
 * mode, text in byte mode). Returns 0, or -1 when libqrencode refuses. */
int qr_frame_draw(struct gray_image *img, const char *payload, int scale, int x0, int y0);

/* A 320x320 light frame holding one code (or none when payload is NULL),
 * saved to path (.png/.pgm/.jpg). Returns 0 or -1. */
int qr_frame_save(const char *path, const char *payload);

#endif
