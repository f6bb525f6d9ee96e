/* test_realworld.c - the decoder on real photographs of QR codes.
 *
 * ../shared/testdata/realworld-qr holds photos and screenshots (zxing-cpp's
 * QR samples) with the text each code carries. They are not ID cards, but
 * their optics are real: blur, glare, perspective, screens, damaged prints.
 * A code counts as read when the decoder returns exactly the bytes of its
 * .txt (codes in Shift-JIS, which the .txt holds as UTF-8, are compared as
 * text after conversion); the floor below is what this decoder reads today, so a change that
 * reads fewer fails here. docs/read-rate.md lists the numbers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/image_io.h"
#include "card/text_utf8.h"
#include "decode/qr_decode.h"
#include "decode/qr_reader.h"

/* Measured on 2026-11-27 with Debian 12's libzbar 0.23.92 (see docs/read-rate.md). */
#define REALWORLD_MIN_READ 100
/* The terminal's reader on the same photos (2026-11-27: 110). */
#define REALWORLD_READER_MIN_READ 110

static const char *data_dir(void)
{
    const char *d = getenv("REALWORLD_DIR");
    return d ? d : "../shared/testdata/realworld-qr";
}

/* Reads NAME.txt next to NAME.png; returns its length or -1. */
static long read_expected(const char *png_path, char *buf, size_t size)
{
    char path[1024];
    size_t n = strlen(png_path);
    if (n < 4 || n + 1 > sizeof(path))
        return -1;
    memcpy(path, png_path, n - 4);
    strcpy(path + n - 4, ".txt");
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t len = fread(buf, 1, size, f);
    fclose(f);
    return len < size ? (long)len : -1;
}

/* The code's bytes as UTF-8 text: as they are when valid, else from Shift-JIS. */
static size_t as_utf8(const struct qr_code *c, char *out, size_t size)
{
    if (utf8_valid(c->data, c->len)) {
        size_t n = c->len < size ? c->len : size;
        memcpy(out, c->data, n);
        return n;
    }
    iconv_t cd = iconv_open("UTF-8", "SHIFT_JIS");
    if (cd == (iconv_t)-1)
        return 0;
    char *in = (char *)c->data, *o = out;
    size_t inleft = c->len, outleft = size;
    size_t rc = iconv(cd, &in, &inleft, &o, &outleft);
    iconv_close(cd);
    return rc == (size_t)-1 ? 0 : size - outleft;
}

/* The decoder's or the reader's codes: one of the two is NULL. */
static const struct qr_code *code_of(struct qr_decoder *dec, struct qr_reader *rd, int i)
{
    return dec ? qr_decoder_code(dec, i) : qr_reader_code(rd, i);
}

static int decoded_matches(struct qr_decoder *dec, struct qr_reader *rd, int n, const char *want, long want_len)
{
    static char text[65536];
    for (int i = 0; i < n; i++) {
        size_t len = as_utf8(code_of(dec, rd, i), text, sizeof(text));
        if ((long)len == want_len && memcmp(text, want, len) == 0)
            return 1;
    }
    return 0;
}

struct tally {
    int files, by_zbar, by_reader, lost; /* lost: read by bare ZBar, not by the reader */
};

/* Every photo through bare ZBar and, when rd is given, the reader too. */
static void read_photos(struct qr_decoder *dec, struct qr_reader *rd, struct tally *t)
{
    DIR *dir = opendir(data_dir());
    if (!dir) {
        print_message("realworld: %s not found; set REALWORLD_DIR\n", data_dir());
        skip();
    }
    static char want[65536];
    char err[256] = "";
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".png") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", data_dir(), e->d_name);
        long want_len = read_expected(path, want, sizeof(want));
        struct gray_image img;
        if (want_len < 0 || image_load(path, &img, err, sizeof(err)) != IMAGE_OK)
            fail_msg("realworld: cannot read %s or its .txt: %s", path, err);
        struct frame f = gray_image_frame(&img);
        int found = qr_decoder_scan(dec, &f);
        assert_true(found >= 0);
        int z = decoded_matches(dec, NULL, found, want, want_len);
        t->files++, t->by_zbar += z;
        if (rd) {
            qr_reader_forget(rd);
            found = qr_reader_scan(rd, &f);
            assert_true(found >= 0);
            int r = decoded_matches(NULL, rd, found, want, want_len);
            t->by_reader += r;
            if (z && !r) {
                print_message("realworld: the reader misses %s, which bare ZBar reads\n", e->d_name);
                t->lost++;
            }
        }
        gray_image_free(&img);
    }
    closedir(dir);
}

static void test_realworld_read_count(void **state)
{
    (void)state;
    struct qr_decoder *dec;
    char err[256];
    assert_int_equal(qr_decoder_open(&dec, err, sizeof(err)), 0);
    struct tally t = { 0 };
    read_photos(dec, NULL, &t);
    qr_decoder_close(dec);
    print_message("realworld: %d of %d photos read exactly\n", t.by_zbar, t.files);
    assert_int_equal(t.files, 137);
    assert_true(t.by_zbar >= REALWORLD_MIN_READ);
}

/* The terminal's reader (locator, crops, retries; no time budget, as for a
 * still picture) on the same photographs: it must read every photo bare
 * ZBar reads, and what it read more when this was written. */
static void test_realworld_reader_reads_as_many(void **state)
{
    (void)state;
    struct qr_decoder *dec;
    struct qr_reader *rd;
    char err[256];
    struct qr_reader_opts opts = { .budget_ms = 0, .track_frames = 0 };
    assert_int_equal(qr_decoder_open(&dec, err, sizeof(err)), 0);
    assert_int_equal(qr_reader_open(&rd, &opts, err, sizeof(err)), 0);
    struct tally t = { 0 };
    read_photos(dec, rd, &t);
    qr_reader_close(rd);
    qr_decoder_close(dec);
    print_message("realworld: reader %d, bare ZBar %d of %d photos read exactly\n", t.by_reader, t.by_zbar, t.files);
    assert_int_equal(t.files, 137);
    assert_int_equal(t.lost, 0);
    assert_true(t.by_reader >= REALWORLD_READER_MIN_READ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_realworld_read_count),
        cmocka_unit_test(test_realworld_reader_reads_as_many),
    };
    return cmocka_run_group_tests_name("realworld", tests, NULL, NULL);
}
