/* card_render.c - flat card textures (and dark-mode phone screens), camera poses, desks. */
#include "card_render.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/image_io.h"

#define PI 3.14159265358979323846

/* ---- QR symbols ------------------------------------------------------- */

int qr_matrix_encode(const uint8_t *payload, size_t len, struct qr_matrix *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > 2953) {
        snprintf(err, errlen, "payload of %zu bytes cannot be one QR symbol", len);
        return -1;
    }
    /* Byte mode for the whole payload, as the card's printer does: one 8-bit
     * segment, so a decoder sees exactly these bytes and no mode switches. */
    QRcode *q = QRcode_encodeData((int)len, payload, 0, QR_ECLEVEL_M);
    if (!q) {
        snprintf(err, errlen, "libqrencode failed: %s", strerror(errno));
        return -1;
    }
    size_t n = (size_t)q->width * (size_t)q->width;
    out->dark = malloc(n);
    if (!out->dark) {
        QRcode_free(q);
        snprintf(err, errlen, "out of memory for a QR matrix");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out->dark[i] = q->data[i] & 1; /* bit 0 is the module colour */
    out->width = q->width;
    out->version = q->version;
    QRcode_free(q);
    return 0;
}

void qr_matrix_free(struct qr_matrix *m)
{
    free(m->dark);
    memset(m, 0, sizeof(*m));
}

/* ---- card textures ---------------------------------------------------- */

/* Card proportions: ID-1 cards are 85.6 x 54 mm. */
#define CARD_ASPECT (85.6 / 54.0)
/* Modules of a version-8 symbol: the layout size when no symbol is drawn. */
#define TYPICAL_QR_MODULES 49

struct layout {
    int S;        /* texture pixels per module */
    int n;        /* modules per side of the symbol */
    int pad;      /* card edge to quiet zone */
    int W, H;     /* card size */
    int qx, qy;   /* symbol's top-left corner */
};

static struct layout layout_for(enum card_look look, int n, int S)
{
    struct layout L = { .S = S, .n = n, .pad = 3 * S };
    int side = (n + 2 * QR_QUIET_ZONE) * S; /* symbol plus quiet zone */
    if (look == CARD_LOOK_PAPER) {
        /* A sheet a bit larger than the code, with a caption underneath. */
        L.W = side + 2 * L.pad;
        L.H = side + 2 * L.pad + 8 * S;
        L.qx = L.pad + QR_QUIET_ZONE * S;
        L.qy = L.pad + QR_QUIET_ZONE * S;
        return L;
    }
    L.H = side + 2 * L.pad;
    L.W = (int)lround(L.H * CARD_ASPECT);
    L.qy = L.pad + QR_QUIET_ZONE * S;
    L.qx = look == CARD_LOOK_2021 ? L.W - L.pad - side + QR_QUIET_ZONE * S : L.pad + QR_QUIET_ZONE * S;
    return L;
}

/* Light card stock with a faint guilloche-like wave, as printed security
 * backgrounds have: decoders must cope with a background that is not flat. */
static void paint_card_background(struct gray_image *img, int base, double amp, struct rng *r)
{
    double f1 = rng_range(r, 0.02, 0.06), f2 = rng_range(r, 0.02, 0.06), ph = rng_range(r, 0, 2 * PI);
    for (int y = 0; y < img->height; y++) {
        for (int x = 0; x < img->width; x++) {
            double v = base + amp * sin(f1 * x + 0.7 * sin(f2 * y) * 6.0 + ph);
            img->pixels[(size_t)y * (size_t)img->width + (size_t)x] = (uint8_t)lround(v);
        }
    }
}

/* A line of "words": blocks of random width and level in lo..hi, like text
 * seen out of focus. */
static void paint_words(struct gray_image *img, int x0, int x1, int y, int height, int lo, int hi, struct rng *r)
{
    int x = x0;
    while (x < x1) {
        int w = rng_int(r, 2 * height, 6 * height);
        if (x + w > x1)
            w = x1 - x;
        img_fill_rect(img, x, y, x + w, y + height, (uint8_t)rng_int(r, lo, hi));
        x += w + rng_int(r, height, 2 * height);
    }
}

/* Dark print on card stock or paper. */
static void paint_text_line(struct gray_image *img, int x0, int x1, int y, int height, struct rng *r)
{
    paint_words(img, x0, x1, y, height, 50, 110, r);
}

static void paint_text_block(struct gray_image *img, int x0, int x1, int y0, int y1, int line_h,
                             struct rng *r)
{
    for (int y = y0; y + line_h <= y1; y += line_h * 2 + rng_int(r, 0, line_h)) {
        int end = x0 + (int)((x1 - x0) * rng_range(r, 0.45, 1.0));
        paint_text_line(img, x0, end, y, line_h, r);
    }
}

/* The portrait: a dark block with a lighter head and shoulders. */
static void paint_photo(struct gray_image *img, int x0, int y0, int x1, int y1, struct rng *r)
{
    img_fill_rect(img, x0, y0, x1, y1, (uint8_t)rng_int(r, 60, 110));
    double cx = (x0 + x1) / 2.0, w = x1 - x0, h = y1 - y0;
    img_fill_ellipse(img, cx, y1 - 0.05 * h, 0.5 * w, 0.3 * h, (uint8_t)rng_int(r, 30, 70));
    img_fill_ellipse(img, cx, y0 + 0.42 * h, 0.27 * w, 0.3 * h, (uint8_t)rng_int(r, 140, 190));
}

static void paint_symbol(struct gray_image *img, const struct layout *L, const uint8_t *dark, uint8_t ink)
{
    for (int my = 0; my < L->n; my++)
        for (int mx = 0; mx < L->n; mx++)
            if (dark[my * L->n + mx])
                img_fill_rect(img, L->qx + mx * L->S, L->qy + my * L->S, L->qx + (mx + 1) * L->S,
                              L->qy + (my + 1) * L->S, ink);
}

/* Random modules in the symbol's place but no finder patterns: it looks like
 * a code to a human and to a texture detector, and must never decode. */
static int paint_decoy(struct gray_image *img, const struct layout *L, uint8_t ink, struct rng *r)
{
    uint8_t *dark = malloc((size_t)L->n * (size_t)L->n);
    if (!dark)
        return -1;
    for (int i = 0; i < L->n * L->n; i++)
        dark[i] = rng_chance(r, 0.5);
    paint_symbol(img, L, dark, ink);
    free(dark);
    return 0;
}

/* Everything but the code: photo, text, header, emblem, stripes. */
static void paint_card_furniture(struct gray_image *img, enum card_look look, const struct layout *L, struct rng *r)
{
    int S = L->S, side = (L->n + 2 * QR_QUIET_ZONE) * S;
    if (look == CARD_LOOK_PAPER) {
        paint_text_line(img, L->pad, L->W - L->pad, L->H - L->pad - 5 * S, 2 * S, r);
        return;
    }
    if (look == CARD_LOOK_2021) {
        int free_w = L->W - 2 * L->pad - side; /* left of the quiet zone */
        img_fill_ellipse(img, L->pad + 0.1 * free_w, L->pad + 0.12 * L->H, 0.08 * free_w, 0.08 * free_w, 120);
        paint_text_block(img, L->pad + (int)(0.25 * free_w), L->pad + free_w - S, L->pad, L->pad + (int)(0.2 * L->H),
                         (int)fmax(2, 1.5 * S), r);
        paint_photo(img, L->pad, (int)(0.32 * L->H), L->pad + (int)(0.38 * free_w), (int)(0.85 * L->H), r);
        paint_text_block(img, L->pad + (int)(0.45 * free_w), L->pad + free_w - S, (int)(0.32 * L->H),
                         L->H - L->pad, (int)fmax(2, 1.8 * S), r);
        return;
    }
    /* 2024 back: text on the right, machine-readable-zone-like rows at the bottom. */
    int x0 = L->pad + side + S, x1 = L->W - L->pad;
    paint_text_block(img, x0, x1, L->pad, (int)(0.6 * L->H), (int)fmax(2, 1.6 * S), r);
    for (int i = 0; i < 3; i++)
        paint_text_line(img, x0, x1, (int)(0.68 * L->H) + i * 3 * S, 2 * S, r);
}

int card_texture_render(struct card_texture *out, enum card_look look, enum card_code code,
                        const struct qr_matrix *qr, int px_per_module, struct rng *r)
{
    memset(out, 0, sizeof(*out));
    if (px_per_module < 1 || px_per_module > 32 || (code == CARD_CODE_QR && !qr))
        return -1;
    int n = code == CARD_CODE_QR ? qr->width : TYPICAL_QR_MODULES;
    struct layout L = layout_for(look, n, px_per_module);
    if (gray_image_alloc(&out->img, L.W, L.H, 0) != IMAGE_OK)
        return -1;
    int base = look == CARD_LOOK_PAPER ? rng_int(r, 225, 245) : rng_int(r, 205, 235);
    paint_card_background(&out->img, base, look == CARD_LOOK_PAPER ? 1.5 : rng_range(r, 3, 7), r);
    paint_card_furniture(&out->img, look, &L, r);
    /* The quiet zone is printed plain, whatever the background does. */
    int qz = QR_QUIET_ZONE * L.S;
    img_fill_rect(&out->img, L.qx - qz, L.qy - qz, L.qx + (n * L.S) + qz, L.qy + (n * L.S) + qz, (uint8_t)base);
    uint8_t ink = (uint8_t)rng_int(r, 15, 45);
    if (code == CARD_CODE_QR)
        paint_symbol(&out->img, &L, qr->dark, ink);
    else if (code == CARD_CODE_DECOY && paint_decoy(&out->img, &L, ink, r) != 0) {
        card_texture_free(out);
        return -1;
    }
    out->qr_x = L.qx;
    out->qr_y = L.qy;
    out->qr_side = (double)n * L.S;
    out->px_per_module = L.S;
    return 0;
}

void card_texture_free(struct card_texture *t)
{
    gray_image_free(&t->img);
    memset(t, 0, sizeof(*t));
}

/* ---- phone screens ----------------------------------------------------- */

/* A 6-inch phone is about 72 x 150 mm. */
#define PHONE_ASPECT (150.0 / 72.0)

/* The app shows the code nearly as wide as the screen: a bezel of two
 * modules and a screen margin of three around the quiet zone. */
static struct layout phone_layout(int n, int S)
{
    struct layout L = { .S = S, .n = n, .pad = 5 * S };
    L.W = (n + 2 * QR_QUIET_ZONE) * S + 2 * L.pad;
    L.H = (int)lround(L.W * PHONE_ASPECT);
    L.qx = L.pad + QR_QUIET_ZONE * S;
    L.qy = (int)(0.3 * L.H) + QR_QUIET_ZONE * S;
    return L;
}

/* Status bar and title above the code; name, number and a button below it.
 * Light text on the dark screen, dimmer than the modules, as dark themes do. */
static void paint_phone_ui(struct gray_image *img, const struct layout *L, const struct screen_colors *c,
                           struct rng *r)
{
    int S = L->S, x0 = L->pad, x1 = L->W - L->pad, h = 2 * S, lo = c->ink * 6 / 10, hi = c->ink * 9 / 10;
    int below = L->qy + (L->n + QR_QUIET_ZONE) * S + 3 * S;
    paint_words(img, x0, x0 + 8 * S, 3 * S, S, lo, hi, r);
    paint_words(img, L->W / 3, 2 * L->W / 3, (int)(0.15 * L->H), h, lo, hi, r);
    paint_words(img, x0 + 4 * S, x1 - 4 * S, below, h, lo, hi, r);
    paint_words(img, L->W / 4, 3 * L->W / 4, below + 2 * h, h, lo, hi, r);
    int button = (int)(0.88 * L->H);
    img_fill_rect(img, x0, button, x1, button + 4 * S, (uint8_t)(c->background + 25));
    paint_words(img, L->W * 2 / 5, L->W * 3 / 5, button + S, h, lo, hi, r);
}

/* The room reflected in the glass: a ramp from nothing to c->glow across
 * the phone. It lies over modules and background alike, as a reflection
 * does, so it shifts levels without changing the symbol's contrast. */
static void add_screen_glow(struct gray_image *img, const struct screen_colors *c)
{
    double a = c->glow_deg * PI / 180.0, ux = cos(a), uy = sin(a);
    double extent = fabs(ux) * img->width + fabs(uy) * img->height;
    for (int y = 0; y < img->height; y++) {
        for (int x = 0; x < img->width; x++) {
            double t = ((x - img->width / 2.0) * ux + (y - img->height / 2.0) * uy) / extent + 0.5;
            uint8_t *p = &img->pixels[(size_t)y * (size_t)img->width + (size_t)x];
            *p = (uint8_t)lround(fmin(255.0, *p + c->glow * t));
        }
    }
}

int phone_texture_render(struct card_texture *out, const struct qr_matrix *qr, int px_per_module,
                         const struct screen_colors *colors, struct rng *r)
{
    memset(out, 0, sizeof(*out));
    if (px_per_module < 1 || px_per_module > 32 || !qr || colors->background < 0 || colors->background > 200 ||
        colors->ink < 0 || colors->ink > 255)
        return -1;
    struct layout L = phone_layout(qr->width, px_per_module);
    if (gray_image_alloc(&out->img, L.W, L.H, 0) != IMAGE_OK)
        return -1;
    int bezel = 2 * L.S;
    img_fill_rect(&out->img, 0, 0, L.W, L.H, (uint8_t)(colors->background / 2));
    img_fill_rect(&out->img, bezel, bezel, L.W - bezel, L.H - bezel, (uint8_t)colors->background);
    paint_phone_ui(&out->img, &L, colors, r);
    paint_symbol(&out->img, &L, qr->dark, (uint8_t)colors->ink);
    add_screen_glow(&out->img, colors);
    out->qr_x = L.qx;
    out->qr_y = L.qy;
    out->qr_side = (double)qr->width * L.S;
    out->px_per_module = L.S;
    return 0;
}

/* ---- poses ------------------------------------------------------------- */

/* Rotation: in-plane turn first, then tilt about x, then about y. */
static void pose_rotation(const struct card_pose *p, double R[9])
{
    double a = p->angle_deg * PI / 180.0, tx = p->tilt_x_deg * PI / 180.0, ty = p->tilt_y_deg * PI / 180.0;
    struct homography rz = { { cos(a), sin(a), 0, -sin(a), cos(a), 0, 0, 0, 1 } };
    struct homography rx = { { 1, 0, 0, 0, cos(tx), -sin(tx), 0, sin(tx), cos(tx) } };
    struct homography ry = { { cos(ty), 0, sin(ty), 0, 1, 0, -sin(ty), 0, cos(ty) } };
    struct homography t = homography_mul(&rx, &rz);
    t = homography_mul(&ry, &t);
    memcpy(R, t.m, sizeof(t.m));
}

bool card_pose_transform(const struct card_texture *t, const struct card_pose *pose, struct homography *tex_to_frame)
{
    double s = pose->module_px / t->px_per_module;
    double uc = t->qr_x + t->qr_side / 2.0, vc = t->qr_y + t->qr_side / 2.0;
    double f = pose->focal_px;
    if (!(s > 0.0 && f > 0.0))
        return false;
    /* Texture pixel -> point on the card plane (z = 0), centred on the symbol. */
    struct homography plane = { { s, 0, -s * uc, 0, s, -s * vc, 0, 0, 0 } };
    struct homography rot;
    pose_rotation(pose, rot.m);
    struct homography m = homography_mul(&rot, &plane);
    m.m[8] += f; /* the card's centre lies f in front of the camera */
    /* Pinhole projection x = f X / Z + cx: at the symbol's centre Z = f, so
     * module_px holds there. */
    struct homography k = { { f, 0, pose->cx, 0, f, pose->cy, 0, 0, 1 } };
    *tex_to_frame = homography_mul(&k, &m);
    /* Refuse poses that put a card corner near or behind the camera. */
    double w = t->img.width, h = t->img.height;
    struct point2 c[4] = { { 0, 0 }, { w, 0 }, { w, h }, { 0, h } };
    for (int i = 0; i < 4; i++) {
        const double *H = tex_to_frame->m;
        if (H[6] * c[i].x + H[7] * c[i].y + H[8] < 0.2 * f)
            return false;
    }
    return true;
}

bool card_pose_qr_corners(const struct card_texture *t, const struct card_pose *pose, struct point2 out[4])
{
    struct homography h;
    if (!card_pose_transform(t, pose, &h))
        return false;
    double x0 = t->qr_x, y0 = t->qr_y, x1 = x0 + t->qr_side, y1 = y0 + t->qr_side;
    struct point2 c[4] = { { x0, y0 }, { x1, y0 }, { x1, y1 }, { x0, y1 } };
    for (int i = 0; i < 4; i++)
        if (!homography_apply(&h, c[i], &out[i]))
            return false;
    return true;
}

/* Bounding box in the frame of a texture rectangle, for a pose at cx = cy = 0. */
static bool pose_box(const struct card_texture *t, const struct card_pose *pose, const double rect[4], double box[4])
{
    struct card_pose p = *pose;
    p.cx = p.cy = 0.0;
    struct homography h;
    if (!card_pose_transform(t, &p, &h))
        return false;
    struct point2 c[4] = { { rect[0], rect[1] }, { rect[2], rect[1] }, { rect[2], rect[3] }, { rect[0], rect[3] } };
    box[0] = box[1] = 1e9;
    box[2] = box[3] = -1e9;
    for (int i = 0; i < 4; i++) {
        struct point2 q;
        if (!homography_apply(&h, c[i], &q))
            return false;
        box[0] = fmin(box[0], q.x), box[1] = fmin(box[1], q.y);
        box[2] = fmax(box[2], q.x), box[3] = fmax(box[3], q.y);
    }
    return true;
}

int card_pose_place(const struct card_texture *t, struct card_pose *pose, double x0, double y0, double x1,
                    double y1, double margin_modules, bool whole_card, struct rng *r)
{
    double m = margin_modules * t->px_per_module;
    double rect[4] = { t->qr_x - m, t->qr_y - m, t->qr_x + t->qr_side + m, t->qr_y + t->qr_side + m };
    if (whole_card) {
        rect[0] = rect[1] = 0.0;
        rect[2] = t->img.width;
        rect[3] = t->img.height;
    }
    double box[4];
    if (!pose_box(t, pose, rect, box))
        return -1;
    /* The projection only translates with cx, cy: the box moves rigidly. */
    double cx_lo = x0 - box[0], cx_hi = x1 - box[2], cy_lo = y0 - box[1], cy_hi = y1 - box[3];
    if (cx_lo > cx_hi || cy_lo > cy_hi)
        return -1;
    pose->cx = rng_range(r, cx_lo, cx_hi);
    pose->cy = rng_range(r, cy_lo, cy_hi);
    return 0;
}

int card_draw(struct gray_image *frame, const struct card_texture *t, const struct card_pose *pose)
{
    struct homography tex_to_frame, frame_to_tex;
    if (!card_pose_transform(t, pose, &tex_to_frame) || !homography_invert(&tex_to_frame, &frame_to_tex))
        return -1;
    /* Supersample harder when shrinking, so small modules average like a
     * camera's pixels do instead of aliasing. */
    int ss = pose->module_px < t->px_per_module * 0.75 ? 3 : 2;
    return img_warp_onto(frame, &t->img, &frame_to_tex, ss);
}

/* ---- desks --------------------------------------------------------------- */

/* Wood-like grain: a few slow waves over a base level. */
static void paint_desk_surface(struct gray_image *img, struct rng *r)
{
    double base = rng_range(r, 45, 120), amp = rng_range(r, 4, 14);
    double fx = rng_range(r, 0.002, 0.01), fy = rng_range(r, 0.02, 0.08), ph = rng_range(r, 0, 2 * PI);
    double turn = rng_range(r, 0, PI);
    double c = cos(turn), s = sin(turn);
    for (int y = 0; y < img->height; y++) {
        for (int x = 0; x < img->width; x++) {
            double u = c * x + s * y, v = -s * x + c * y;
            double g = amp * sin(fy * v + 3.0 * sin(fx * u) + ph) + 0.4 * amp * sin(0.31 * fy * v + ph);
            img->pixels[(size_t)y * (size_t)img->width + (size_t)x] = (uint8_t)fmax(0, fmin(255, base + g));
        }
    }
}

/* A sheet of printed paper lying on the desk, often partly out of frame. */
static void paint_paper(struct gray_image *img, struct rng *r)
{
    int w = (int)(img->width * rng_range(r, 0.25, 0.5)), h = (int)(img->height * rng_range(r, 0.3, 0.7));
    int x0 = rng_int(r, -w / 2, img->width - w / 2), y0 = rng_int(r, -h / 2, img->height - h / 2);
    img_fill_rect(img, x0, y0, x0 + w, y0 + h, (uint8_t)rng_int(r, 190, 235));
    int line_h = rng_int(r, 3, 7);
    paint_text_block(img, x0 + 2 * line_h, x0 + w - 2 * line_h, y0 + 2 * line_h, y0 + h - 2 * line_h, line_h, r);
}

void desk_render(struct gray_image *frame, struct rng *r)
{
    paint_desk_surface(frame, r);
    if (rng_chance(r, 0.4))
        paint_paper(frame, r);
    if (rng_chance(r, 0.4)) {
        /* A pen: a long thin dark ellipse. */
        double cx = rng_range(r, 0, frame->width), cy = rng_range(r, 0, frame->height);
        img_fill_ellipse(frame, cx, cy, rng_range(r, 60, 160), rng_range(r, 4, 8), (uint8_t)rng_int(r, 10, 40));
    }
}
