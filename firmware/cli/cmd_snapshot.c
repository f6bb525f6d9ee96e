/* cmd_snapshot.c - `cccd-reader snapshot OUT.png`: what the camera sees.
 *
 * One frame from the configured camera, with the outline of every QR code
 * the decoder found and the sharpness score written in the corner, so a
 * technician can aim and focus the camera at the desk. Payloads are never
 * printed: only how many codes there were. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/image_io.h"
#include "cli/cli.h"
#include "config/config.h"
#include "decode/qr_decode.h"
#include "decode/sharpness.h"

#define DEFAULT_CONFIG "/etc/cccd-reader/cccd-reader.conf"

/* A 5x7 font for what the label needs: digits, "SHARP", "QR", ':' and ' '.
 * Each row is 5 bits, most significant bit on the left. */
struct glyph {
    char c;
    uint8_t rows[7];
};

static const struct glyph font[] = {
    { '0', { 0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e } }, { '1', { 0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e } },
    { '2', { 0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f } }, { '3', { 0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e } },
    { '4', { 0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02 } }, { '5', { 0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e } },
    { '6', { 0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e } }, { '7', { 0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 } },
    { '8', { 0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e } }, { '9', { 0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c } },
    { 'S', { 0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e } }, { 'H', { 0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11 } },
    { 'A', { 0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11 } }, { 'R', { 0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11 } },
    { 'P', { 0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10 } }, { 'Q', { 0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d } },
    { ':', { 0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00 } }, { ' ', { 0, 0, 0, 0, 0, 0, 0 } },
};

static const struct glyph *find_glyph(char c)
{
    for (size_t i = 0; i < sizeof(font) / sizeof(font[0]); i++)
        if (font[i].c == c)
            return &font[i];
    return &font[sizeof(font) / sizeof(font[0]) - 1]; /* unknown: blank */
}

static void put_pixel(struct gray_image *img, int x, int y, uint8_t v)
{
    if (x >= 0 && y >= 0 && x < img->width && y < img->height)
        img->pixels[(size_t)y * (size_t)img->width + (size_t)x] = v;
}

static void fill_rect(struct gray_image *img, int x, int y, int w, int h, uint8_t v)
{
    for (int r = y; r < y + h; r++)
        for (int c = x; c < x + w; c++)
            put_pixel(img, c, r, v);
}

/* Black text on a white box at (x, y), each font pixel scale x scale. */
static void draw_text(struct gray_image *img, int x, int y, int scale, const char *s)
{
    int n = (int)strlen(s);
    fill_rect(img, x, y, (n * 6 + 1) * scale, 9 * scale, 255);
    for (int i = 0; i < n; i++) {
        const struct glyph *g = find_glyph(s[i]);
        for (int r = 0; r < 7; r++)
            for (int c = 0; c < 5; c++)
                if (g->rows[r] & (0x10 >> c))
                    fill_rect(img, x + (1 + i * 6 + c) * scale, y + (1 + r) * scale, scale, scale, 0);
    }
}

/* A thick line (Bresenham with a square pen), in black and white so it shows
 * on a light card and on a dark background alike. */
static void draw_line(struct gray_image *img, struct qr_point a, struct qr_point b, int pen)
{
    int dx = abs(b.x - a.x), dy = -abs(b.y - a.y), sx = a.x < b.x ? 1 : -1, sy = a.y < b.y ? 1 : -1;
    int e = dx + dy, x = a.x, y = a.y;
    for (;;) {
        fill_rect(img, x - pen, y - pen, 2 * pen + 1, 2 * pen + 1, 0);
        put_pixel(img, x, y, 255);
        if (x == b.x && y == b.y)
            break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y += sy;
        }
    }
}

static void draw_outline(struct gray_image *img, const struct qr_code *code, int pen)
{
    for (int i = 0; i < code->ncorners; i++)
        draw_line(img, code->corners[i], code->corners[(i + 1) % code->ncorners], pen);
}

/* The first frame the camera delivers within 5 s, copied into img. */
static int grab(const struct config *cfg, struct gray_image *img, char *err, size_t errlen)
{
    const struct camera_ops *ops = camera_ops_for(cfg->scan.camera.source);
    if (!ops) {
        snprintf(err, errlen, "%s: unknown camera source", cfg->scan.camera.source);
        return -1;
    }
    struct camera *cam = NULL;
    if (ops->open(&cam, &cfg->scan.camera, err, errlen) != 0)
        return -1;
    int rc = CAMERA_TIMEOUT;
    struct frame f;
    for (int64_t until = clock_ms() + 5000; rc == CAMERA_TIMEOUT && clock_ms() < until;)
        rc = ops->next_frame(cam, &f, 1000, err, errlen);
    if (rc == CAMERA_FRAME && gray_image_alloc(img, f.width, f.height, 0) == IMAGE_OK) {
        for (int r = 0; r < f.height; r++)
            memcpy(img->pixels + (size_t)r * (size_t)f.width, f.pixels + (size_t)r * (size_t)f.stride,
                   (size_t)f.width);
        rc = 0;
    } else if (rc == CAMERA_FRAME || rc == CAMERA_TIMEOUT) {
        snprintf(err, errlen, "%s: %s", cfg->scan.camera.source, rc == CAMERA_FRAME ? "out of memory" : "no frame in 5 s");
        rc = -1;
    }
    ops->close(cam);
    return rc == 0 ? 0 : -1;
}

/* Decodes, then draws: the outlines must not change what was decoded. */
static int annotate(struct gray_image *img, double *sharp, int *ncodes, char *err, size_t errlen)
{
    struct frame f = gray_image_frame(img);
    *sharp = sharpness_centre(&f);
    struct qr_decoder *dec = NULL;
    if (qr_decoder_open(&dec, err, errlen) != 0)
        return -1;
    int n = qr_decoder_scan(dec, &f);
    *ncodes = n > 0 ? n : 0;
    int pen = img->width >= 640 ? 2 : 1;
    for (int i = 0; i < *ncodes; i++)
        draw_outline(img, qr_decoder_code(dec, i), pen);
    qr_decoder_close(dec);
    char label[48];
    snprintf(label, sizeof(label), "SHARP %.0f QR %d", *sharp < 0 ? 0 : *sharp, *ncodes);
    int scale = img->width >= 960 ? 3 : img->width >= 320 ? 2 : 1;
    draw_text(img, 4, 4, scale, label);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: cccd-reader snapshot OUT.png [--config FILE]\n"
                    "  one camera frame, QR codes outlined, sharpness written on it (default config: "
                    DEFAULT_CONFIG ")\n");
    return CLI_USAGE;
}

int cmd_snapshot(int argc, char **argv)
{
    const char *out = NULL, *path = DEFAULT_CONFIG;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (argv[i][0] != '-' && !out)
            out = argv[i];
        else
            return usage();
    }
    if (!out)
        return usage();
    static struct config cfg;
    char err[1024];
    struct gray_image img = { 0, 0, NULL };
    double sharp = 0;
    int ncodes = 0;
    int rc = config_load(path, &cfg, err, sizeof(err));
    if (rc == 0)
        rc = grab(&cfg, &img, err, sizeof(err));
    if (rc == 0)
        rc = annotate(&img, &sharp, &ncodes, err, sizeof(err));
    if (rc == 0)
        rc = image_save(out, &img, 90, err, sizeof(err));
    if (rc == 0)
        printf("%s: %dx%d, sharpness %.0f (centre), %d QR code%s outlined\n", out, img.width, img.height, sharp,
               ncodes, ncodes == 1 ? "" : "s");
    else
        fprintf(stderr, "cccd-reader snapshot: %s\n", err);
    gray_image_free(&img);
    return rc == 0 ? CLI_OK : CLI_REFUSED;
}
