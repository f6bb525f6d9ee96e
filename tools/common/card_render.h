/* card_render.h - draw ID cards with their QR code into desk-camera scenes.
 *
 * A card is first drawn flat, as a "texture" with a whole number of pixels
 * per QR module, then projected into the frame through a homography
 * (position, size, in-plane rotation, tilt towards or away from the camera),
 * so every geometric case goes through one well-tested warp.
 */
#ifndef CCCD_TOOLS_CARD_RENDER_H
#define CCCD_TOOLS_CARD_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/frame.h"
#include "imgops.h"
#include "rng.h"

/* Modules of white margin around a symbol, as the QR standard asks. */
#define QR_QUIET_ZONE 4

/* A QR symbol as a grid of modules. */
struct qr_matrix {
    int width;     /* modules per side, without the quiet zone */
    int version;   /* 1..40 */
    uint8_t *dark; /* width * width, 1 = dark module */
};

/* Encodes payload[0..len) in byte mode at error-correction level M (as the
 * card does), smallest version that fits. Returns 0, or -1 with a message. */
int qr_matrix_encode(const uint8_t *payload, size_t len, struct qr_matrix *out, char *err, size_t errlen);
void qr_matrix_free(struct qr_matrix *m);

enum card_look {
    CARD_LOOK_2021,  /* chip card front: photo left, text middle, QR top right */
    CARD_LOOK_2024,  /* căn cước back: QR left, text and stripes right */
    CARD_LOOK_PAPER, /* a printed sheet or a screen with only a QR: non-card codes */
};

/* What is printed where the QR code goes. */
enum card_code {
    CARD_CODE_QR,    /* the symbol in qr */
    CARD_CODE_NONE,  /* plain card colour (a card seen from the wrong side) */
    CARD_CODE_DECOY, /* random modules without finder patterns: QR-like texture */
};

/* A card drawn flat. The QR symbol (without quiet zone) occupies
 * [qr_x, qr_x + qr_side) x [qr_y, qr_y + qr_side) in texture pixels. */
struct card_texture {
    struct gray_image img;
    double qr_x, qr_y, qr_side;
    int px_per_module;
};

/* Draws a card. qr may be NULL unless code == CARD_CODE_QR; without a symbol
 * the layout uses a typical card symbol size (version 8). Returns 0 or -1. */
int card_texture_render(struct card_texture *out, enum card_look look, enum card_code code,
                        const struct qr_matrix *qr, int px_per_module, struct rng *r);
void card_texture_free(struct card_texture *t);

/* A phone showing the card's code in the VNeID app's dark mode: light
 * modules on a dark screen, the reverse of print. The caller picks the
 * levels, so that it can report them with the frame's other parameters. */
struct screen_colors {
    int background;  /* the screen, quiet zone included, 0..255 */
    int ink;         /* the modules */
    double glow;     /* a reflection on the glass: levels added at its bright side */
    double glow_deg; /* the direction in which it brightens */
};

/* Draws the phone upright, as a card texture (so poses and card_draw work
 * unchanged): bezel, screen, the symbol across its middle and light text
 * around it. Returns 0 or -1. */
int phone_texture_render(struct card_texture *out, const struct qr_matrix *qr, int px_per_module,
                         const struct screen_colors *colors, struct rng *r);

/* Where and how a card lies in front of the camera. */
struct card_pose {
    double cx, cy;      /* frame position of the QR symbol's centre */
    double module_px;   /* frame pixels per module at that centre */
    double angle_deg;   /* in-plane rotation, counter-clockwise on screen */
    double tilt_x_deg;  /* rotation about the card's horizontal axis (top away) */
    double tilt_y_deg;  /* rotation about the card's vertical axis */
    double focal_px;    /* camera focal length in pixels (perspective strength) */
};

/* The transform from texture pixels to frame pixels for a pose. False when
 * part of the card would lie behind the camera. */
bool card_pose_transform(const struct card_texture *t, const struct card_pose *pose, struct homography *tex_to_frame);

/* Picks pose->cx, cy uniformly such that the QR symbol plus `margin_modules`
 * (or, when whole_card, the whole card) lies inside [x0, x1) x [y0, y1).
 * Returns 0, or -1 when it cannot fit at this size and angle. */
int card_pose_place(const struct card_texture *t, struct card_pose *pose, double x0, double y0, double x1,
                    double y1, double margin_modules, bool whole_card, struct rng *r);

/* The QR symbol's four corners in frame pixels (texture order: top-left,
 * top-right, bottom-right, bottom-left). */
bool card_pose_qr_corners(const struct card_texture *t, const struct card_pose *pose, struct point2 out[4]);

/* Draws the card into the frame at pose. Returns 0 or -1. */
int card_draw(struct gray_image *frame, const struct card_texture *t, const struct card_pose *pose);

/* Fills the frame with a desk: a mid-dark grained surface, sometimes a pen or
 * a sheet of printed paper. (Lighting is applied to the whole scene later.) */
void desk_render(struct gray_image *frame, struct rng *r);

#endif
