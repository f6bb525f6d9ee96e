/* image_io.c - grayscale PGM/PNG/JPEG reading and writing.
 *
 * PNG goes through libpng's simplified API and JPEG through libjpeg-turbo,
 * asked for grayscale output directly (half the work of decoding to RGB).
 * PGM is simple enough to read by hand, and a desk camera's test captures
 * are often PGM. */
#include "base/image_io.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "base/file_io.h"

#define IMAGE_FILE_MAX (64u << 20)
/* What libjpeg may hold while decoding one picture. A progressive JPEG
 * keeps every coefficient of every component until its last scan: 128
 * bytes per 8x8 block, so an 833-byte file declaring 8192x8192 asked for
 * 464 MB. 64 MiB passes a 12-megapixel colour photo (about 36 MB). */
#define JPEG_MEMORY_MAX (64u << 20)

static int fail(int code, char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", what);
    return code;
}

static int check_size(long w, long h, char *err, size_t errlen)
{
    if (w <= 0 || h <= 0 || w > FRAME_MAX_SIDE || h > FRAME_MAX_SIDE) {
        if (err && errlen)
            snprintf(err, errlen, "picture size %ldx%ld is outside 1..%d per side", w, h, FRAME_MAX_SIDE);
        return IMAGE_ERR_TOO_LARGE;
    }
    return IMAGE_OK;
}

int gray_image_alloc(struct gray_image *img, int width, int height, uint8_t value)
{
    memset(img, 0, sizeof(*img));
    if (check_size(width, height, NULL, 0) != IMAGE_OK)
        return IMAGE_ERR_TOO_LARGE;
    img->pixels = malloc((size_t)width * (size_t)height);
    if (!img->pixels)
        return IMAGE_ERR_NOMEM;
    memset(img->pixels, value, (size_t)width * (size_t)height);
    img->width = width;
    img->height = height;
    return IMAGE_OK;
}

void gray_image_free(struct gray_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    memset(img, 0, sizeof(*img));
}

enum image_format image_sniff(const uint8_t *d, size_t len)
{
    if (len >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
        return IMAGE_FORMAT_PNG;
    if (len >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        return IMAGE_FORMAT_JPEG;
    if (len >= 3 && d[0] == 'P' && d[1] == '5' && (d[2] == ' ' || d[2] == '\t' || d[2] == '\n' || d[2] == '\r'))
        return IMAGE_FORMAT_PGM;
    return IMAGE_FORMAT_UNKNOWN;
}

/* ---- PGM (binary "P5", 8 or 16 bits) ---------------------------------- */

/* Reads one header number, skipping whitespace and '#' comments. */
static long pgm_number(const uint8_t *d, size_t len, size_t *pos)
{
    size_t i = *pos;
    for (;;) {
        while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r'))
            i++;
        if (i < len && d[i] == '#') {
            while (i < len && d[i] != '\n')
                i++;
            continue;
        }
        break;
    }
    long v = 0;
    size_t start = i;
    while (i < len && d[i] >= '0' && d[i] <= '9' && i - start < 6)
        v = v * 10 + (d[i++] - '0');
    if (i == start || (i < len && d[i] >= '0' && d[i] <= '9'))
        return -1; /* no digits, or more than fits any valid header */
    *pos = i;
    return v;
}

static int decode_pgm(const uint8_t *d, size_t len, struct gray_image *out, char *err, size_t errlen)
{
    size_t pos = 2;
    long w = pgm_number(d, len, &pos);
    long h = pgm_number(d, len, &pos);
    long maxval = pgm_number(d, len, &pos);
    if (w < 0 || h < 0 || maxval < 1 || maxval > 65535 || pos >= len)
        return fail(IMAGE_ERR_CORRUPT, err, errlen, "PGM header is malformed");
    int rc = check_size(w, h, err, errlen);
    if (rc != IMAGE_OK)
        return rc;
    pos++; /* exactly one whitespace byte ends the header */
    size_t bps = maxval > 255 ? 2 : 1;
    size_t need = (size_t)w * (size_t)h * bps;
    if (len - pos < need)
        return fail(IMAGE_ERR_CORRUPT, err, errlen, "PGM pixel data is truncated");
    if (gray_image_alloc(out, (int)w, (int)h, 0) != IMAGE_OK)
        return fail(IMAGE_ERR_NOMEM, err, errlen, "out of memory for the picture");
    const uint8_t *px = d + pos;
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        long v = bps == 2 ? (px[2 * i] << 8 | px[2 * i + 1]) : px[i];
        if (v > maxval)
            v = maxval;
        out->pixels[i] = (uint8_t)((v * 255 + maxval / 2) / maxval);
    }
    return IMAGE_OK;
}

/* ---- PNG --------------------------------------------------------------- */

static int decode_png(const uint8_t *d, size_t len, struct gray_image *out, char *err, size_t errlen)
{
    png_image png;
    memset(&png, 0, sizeof(png));
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&png, d, len)) {
        if (err && errlen)
            snprintf(err, errlen, "PNG is corrupt: %s", png.message);
        return IMAGE_ERR_CORRUPT;
    }
    int rc = check_size((long)png.width, (long)png.height, err, errlen);
    if (rc != IMAGE_OK) {
        png_image_free(&png);
        return rc;
    }
    png.format = PNG_FORMAT_GRAY;
    /* White under transparent pixels: a QR drawn on a transparent canvas
     * must keep its light quiet zone. */
    if (gray_image_alloc(out, (int)png.width, (int)png.height, 255) != IMAGE_OK) {
        png_image_free(&png);
        return fail(IMAGE_ERR_NOMEM, err, errlen, "out of memory for the picture");
    }
    if (!png_image_finish_read(&png, NULL, out->pixels, 0, NULL)) {
        if (err && errlen)
            snprintf(err, errlen, "PNG is corrupt: %s", png.message);
        png_image_free(&png);
        gray_image_free(out);
        return IMAGE_ERR_CORRUPT;
    }
    return IMAGE_OK;
}

/* ---- JPEG -------------------------------------------------------------- */

struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void jpeg_on_error(j_common_ptr cinfo)
{
    struct jpeg_fail *jf = (struct jpeg_fail *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, jf->message);
    longjmp(jf->jump, 1);
}

/* libjpeg prints warnings (e.g. "premature end of data") to stderr by
 * default; a partly decoded frame is still worth scanning, so stay quiet. */
static void jpeg_on_message(j_common_ptr cinfo)
{
    (void)cinfo;
}

/* With reuse, out's buffer is kept when the size has not changed: the
 * camera's MJPEG path decodes every frame without allocating. */
/* The coefficient buffers a progressive JPEG needs, from its header, before
 * libjpeg allocates them (jpeg_start_decompress). */
static int check_jpeg_memory(const struct jpeg_decompress_struct *c, char *err, size_t errlen)
{
    if (!c->progressive_mode)
        return IMAGE_OK; /* baseline: a few rows at a time */
    uint64_t bytes = 0;
    for (int i = 0; i < c->num_components; i++) {
        const jpeg_component_info *ci = &c->comp_info[i];
        uint64_t bw = ((uint64_t)c->image_width * (uint64_t)ci->h_samp_factor + 8u * c->max_h_samp_factor - 1) /
                      (8u * c->max_h_samp_factor);
        uint64_t bh = ((uint64_t)c->image_height * (uint64_t)ci->v_samp_factor + 8u * c->max_v_samp_factor - 1) /
                      (8u * c->max_v_samp_factor);
        bytes += (bw + ci->h_samp_factor) * (bh + ci->v_samp_factor) * DCTSIZE2 * sizeof(JCOEF);
    }
    if (bytes <= JPEG_MEMORY_MAX)
        return IMAGE_OK;
    if (err && errlen)
        snprintf(err, errlen, "progressive JPEG of %ux%u would need %llu MB to decode (at most %u): refused",
                 c->image_width, c->image_height, (unsigned long long)(bytes >> 20), JPEG_MEMORY_MAX >> 20);
    return IMAGE_ERR_TOO_LARGE;
}

static int decode_jpeg(const uint8_t *d, size_t len, struct gray_image *out, bool reuse, char *err, size_t errlen)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_fail jf;
    memset(&cinfo, 0, sizeof(cinfo));
    if (!reuse)
        memset(out, 0, sizeof(*out));
    cinfo.err = jpeg_std_error(&jf.mgr);
    jf.mgr.error_exit = jpeg_on_error;
    jf.mgr.output_message = jpeg_on_message;
    jf.message[0] = '\0';
    if (setjmp(jf.jump)) {
        jpeg_destroy_decompress(&cinfo);
        gray_image_free(out);
        if (err && errlen)
            snprintf(err, errlen, "JPEG is corrupt: %s", jf.message);
        return IMAGE_ERR_CORRUPT;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, d, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    int rc = check_size((long)cinfo.image_width, (long)cinfo.image_height, err, errlen);
    if (rc == IMAGE_OK)
        rc = check_jpeg_memory(&cinfo, err, errlen);
    if (rc != IMAGE_OK) {
        jpeg_destroy_decompress(&cinfo);
        return rc;
    }
    /* A backstop for what the estimate misses: beyond it libjpeg asks for
     * a backing store, which this build has not, and fails cleanly. */
    cinfo.mem->max_memory_to_use = JPEG_MEMORY_MAX;
    cinfo.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&cinfo);
    bool same = out->pixels && out->width == (int)cinfo.output_width && out->height == (int)cinfo.output_height;
    if (!same)
        gray_image_free(out);
    if (!same && gray_image_alloc(out, (int)cinfo.output_width, (int)cinfo.output_height, 0) != IMAGE_OK) {
        jpeg_destroy_decompress(&cinfo);
        return fail(IMAGE_ERR_NOMEM, err, errlen, "out of memory for the picture");
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out->pixels + (size_t)cinfo.output_scanline * (size_t)out->width;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return IMAGE_OK;
}

int image_decode(const uint8_t *data, size_t len, struct gray_image *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    switch (image_sniff(data, len)) {
    case IMAGE_FORMAT_PGM:
        return decode_pgm(data, len, out, err, errlen);
    case IMAGE_FORMAT_PNG:
        return decode_png(data, len, out, err, errlen);
    case IMAGE_FORMAT_JPEG:
        return decode_jpeg(data, len, out, false, err, errlen);
    default:
        return fail(IMAGE_ERR_FORMAT, err, errlen, "not a PGM (P5), PNG or JPEG file");
    }
}

int image_decode_jpeg_reuse(const uint8_t *data, size_t len, struct gray_image *img, char *err, size_t errlen)
{
    if (image_sniff(data, len) != IMAGE_FORMAT_JPEG)
        return fail(IMAGE_ERR_FORMAT, err, errlen, "not a JPEG frame");
    return decode_jpeg(data, len, img, true, err, errlen);
}

int image_load(const char *path, struct gray_image *out, char *err, size_t errlen)
{
    uint8_t *data = NULL;
    size_t len = 0;
    char msg[200] = "";
    memset(out, 0, sizeof(*out));
    int rc = file_read_all(path, IMAGE_FILE_MAX, (char **)&data, &len, err, errlen);
    if (rc != 0)
        return rc == -2 ? IMAGE_ERR_TOO_LARGE : IMAGE_ERR_OPEN;
    rc = image_decode(data, len, out, msg, sizeof(msg));
    free(data);
    if (rc != IMAGE_OK && err && errlen)
        snprintf(err, errlen, "%s: %s", path, msg);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

static const char *ending(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : "";
}

static int save_pgm(const char *path, const struct gray_image *img)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return IMAGE_ERR_WRITE;
    size_t n = (size_t)img->width * (size_t)img->height;
    int ok = fprintf(f, "P5\n%d %d\n255\n", img->width, img->height) > 0 && fwrite(img->pixels, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    return ok ? IMAGE_OK : IMAGE_ERR_WRITE;
}

static int save_png(const char *path, const struct gray_image *img)
{
    png_image png;
    memset(&png, 0, sizeof(png));
    png.version = PNG_IMAGE_VERSION;
    png.width = (png_uint_32)img->width;
    png.height = (png_uint_32)img->height;
    png.format = PNG_FORMAT_GRAY;
    int ok = png_image_write_to_file(&png, path, 0, img->pixels, img->width, NULL);
    png_image_free(&png);
    return ok ? IMAGE_OK : IMAGE_ERR_WRITE;
}

static int save_jpeg(const char *path, const struct gray_image *img, int quality)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_fail jf;
    FILE *volatile f = fopen(path, "wb");
    if (!f)
        return IMAGE_ERR_WRITE;
    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = jpeg_std_error(&jf.mgr);
    jf.mgr.error_exit = jpeg_on_error;
    jf.mgr.output_message = jpeg_on_message;
    if (setjmp(jf.jump)) {
        jpeg_destroy_compress(&cinfo);
        fclose(f);
        return IMAGE_ERR_WRITE;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = 1;
    cinfo.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = img->pixels + (size_t)cinfo.next_scanline * (size_t)img->width;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return fclose(f) == 0 ? IMAGE_OK : IMAGE_ERR_WRITE;
}

int image_save(const char *path, const struct gray_image *img, int quality, char *err, size_t errlen)
{
    const char *ext = ending(path);
    int rc;
    if (strcmp(ext, "pgm") == 0)
        rc = save_pgm(path, img);
    else if (strcmp(ext, "png") == 0)
        rc = save_png(path, img);
    else if (strcmp(ext, "jpg") == 0 || strcmp(ext, "jpeg") == 0)
        rc = save_jpeg(path, img, quality);
    else {
        if (err && errlen)
            snprintf(err, errlen, "%s: unknown ending; use .pgm, .png, .jpg or .jpeg", path);
        return IMAGE_ERR_FORMAT;
    }
    if (rc != IMAGE_OK && err && errlen)
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
    return rc;
}
