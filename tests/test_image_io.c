/* test_image_io.c - pictures in and out, and every way a file can be wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jpeglib.h>

#include "base/image_io.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cccd-image-io-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A gradient with a sharp block: lossless formats must give it back exactly. */
static void make_pattern(struct gray_image *img, int w, int h)
{
    assert_int_equal(gray_image_alloc(img, w, h, 0), IMAGE_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            img->pixels[y * w + x] = (uint8_t)((x * 7 + y * 3) & 0xff);
}

static void roundtrip(const char *name, int exact)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct gray_image img, back;
    make_pattern(&img, 37, 23);
    assert_int_equal(image_save(path, &img, 95, err, sizeof(err)), IMAGE_OK);
    assert_int_equal(image_load(path, &back, err, sizeof(err)), IMAGE_OK);
    assert_int_equal(back.width, 37);
    assert_int_equal(back.height, 23);
    if (exact) {
        assert_memory_equal(back.pixels, img.pixels, 37 * 23);
    } else {
        long diff = 0;
        for (int i = 0; i < 37 * 23; i++)
            diff += abs(back.pixels[i] - img.pixels[i]);
        assert_true(diff / (37 * 23) < 8); /* JPEG at quality 95 stays close */
    }
    gray_image_free(&img);
    gray_image_free(&back);
}

static void test_roundtrip_pgm(void **state)
{
    (void)state;
    roundtrip("a.pgm", 1);
}

static void test_roundtrip_png(void **state)
{
    (void)state;
    roundtrip("a.png", 1);
}

static void test_roundtrip_jpeg(void **state)
{
    (void)state;
    roundtrip("a.jpg", 0);
}

static void test_sniff_by_content(void **state)
{
    (void)state;
    assert_int_equal(image_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n", 8), IMAGE_FORMAT_PNG);
    assert_int_equal(image_sniff((const uint8_t *)"\xff\xd8\xff\xe0", 4), IMAGE_FORMAT_JPEG);
    assert_int_equal(image_sniff((const uint8_t *)"P5\n", 3), IMAGE_FORMAT_PGM);
    assert_int_equal(image_sniff((const uint8_t *)"P6\n", 3), IMAGE_FORMAT_UNKNOWN);
    assert_int_equal(image_sniff((const uint8_t *)"GIF89a", 6), IMAGE_FORMAT_UNKNOWN);
    assert_int_equal(image_sniff((const uint8_t *)"P", 1), IMAGE_FORMAT_UNKNOWN);
}

static int decode_str(const char *data, size_t len, struct gray_image *img)
{
    char err[256];
    return image_decode((const uint8_t *)data, len, img, err, sizeof(err));
}

static void test_pgm_header_forms(void **state)
{
    (void)state;
    struct gray_image img;
    static const char comment[] = "P5\n# made by a scanner\n2 1\n255\n\x10\x20";
    assert_int_equal(decode_str(comment, sizeof(comment) - 1, &img), IMAGE_OK);
    assert_int_equal(img.pixels[0], 0x10);
    assert_int_equal(img.pixels[1], 0x20);
    gray_image_free(&img);
    /* 16-bit samples scale down to 8 bits. */
    static const char deep[] = "P5 2 1 65535\n\xff\xff\x00\x00";
    assert_int_equal(decode_str(deep, sizeof(deep) - 1, &img), IMAGE_OK);
    assert_int_equal(img.pixels[0], 255);
    assert_int_equal(img.pixels[1], 0);
    gray_image_free(&img);
    /* maxval 15: 15 is white. */
    static const char shallow[] = "P5 1 1 15\n\x0f";
    assert_int_equal(decode_str(shallow, sizeof(shallow) - 1, &img), IMAGE_OK);
    assert_int_equal(img.pixels[0], 255);
    gray_image_free(&img);
}

static void test_bad_pgm(void **state)
{
    (void)state;
    struct gray_image img;
    assert_int_equal(decode_str("P5\n2 2\n255\n\x01\x02\x03", 14, &img), IMAGE_ERR_CORRUPT); /* 3 of 4 bytes */
    assert_null(img.pixels);
    assert_int_equal(decode_str("P5\n2 x\n255\n", 11, &img), IMAGE_ERR_CORRUPT);
    assert_int_equal(decode_str("P5\n2 2\n0\n\0\0\0\0", 13, &img), IMAGE_ERR_CORRUPT);
    assert_int_equal(decode_str("P5\n2 2\n70000\n", 13, &img), IMAGE_ERR_CORRUPT);
    assert_int_equal(decode_str("P5\n0 2\n255\n", 11, &img), IMAGE_ERR_TOO_LARGE);
    assert_int_equal(decode_str("P5\n9000 2\n255\n", 14, &img), IMAGE_ERR_TOO_LARGE);
    assert_int_equal(decode_str("P5\n99999999999 2\n255\n", 21, &img), IMAGE_ERR_CORRUPT);
    assert_int_equal(decode_str("P5\n2 2\n255", 10, &img), IMAGE_ERR_CORRUPT); /* header never ends */
}

/* Cuts a real file at many lengths: each prefix is an error or a picture,
 * never a crash (ASan watches). */
static void truncations(const char *name)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct gray_image img;
    make_pattern(&img, 64, 48);
    assert_int_equal(image_save(path, &img, 80, err, sizeof(err)), IMAGE_OK);
    gray_image_free(&img);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[65536];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(len > 100);
    int refused = 0;
    for (size_t cut = 0; cut < len; cut += 1 + cut / 16) {
        int rc = image_decode(buf, cut, &img, err, sizeof(err));
        if (rc == IMAGE_OK) {
            assert_int_equal(img.width, 64);
            gray_image_free(&img);
        } else {
            assert_null(img.pixels);
            assert_true(strlen(err) > 0);
            refused++;
        }
    }
    assert_true(refused > 0);
}

static void test_truncated_png(void **state)
{
    (void)state;
    truncations("t.png");
}

static void test_truncated_jpeg(void **state)
{
    (void)state;
    truncations("t.jpg");
}

static void test_load_errors_name_the_file(void **state)
{
    (void)state;
    char path[128], err[256];
    struct gray_image img;
    snprintf(path, sizeof(path), "%s/does-not-exist.png", dir);
    assert_int_equal(image_load(path, &img, err, sizeof(err)), IMAGE_ERR_OPEN);
    assert_non_null(strstr(err, "does-not-exist.png"));
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a picture\n", f);
    fclose(f);
    assert_int_equal(image_load(path, &img, err, sizeof(err)), IMAGE_ERR_FORMAT);
    assert_non_null(strstr(err, "notes.txt"));
    assert_int_equal(image_load(dir, &img, err, sizeof(err)), IMAGE_ERR_OPEN); /* a directory */
}

static void test_save_refuses_unknown_ending(void **state)
{
    (void)state;
    char path[128], err[256];
    struct gray_image img;
    make_pattern(&img, 4, 4);
    snprintf(path, sizeof(path), "%s/x.bmp", dir);
    assert_int_equal(image_save(path, &img, 90, err, sizeof(err)), IMAGE_ERR_FORMAT);
    assert_non_null(strstr(err, ".pgm"));
    assert_int_equal(image_save("/nonexistent-dir/x.png", &img, 90, err, sizeof(err)), IMAGE_ERR_WRITE);
    gray_image_free(&img);
}

/* A small progressive JPEG whose frame header (SOF2) then claims w x h:
 * the shape of the 833-byte file that cost 464 MB to decode. */
static unsigned char *progressive_claiming(unsigned w, unsigned h, unsigned long *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    jpeg_mem_dest(&c, &out, len);
    c.image_width = c.image_height = 16;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[16] = { 0 };
    JSAMPROW r = row;
    while (c.next_scanline < c.image_height)
        jpeg_write_scanlines(&c, &r, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    for (unsigned long i = 0; i + 8 < *len; i++)
        if (out[i] == 0xff && out[i + 1] == 0xc2) { /* SOF2: length 2, precision 1, height 2, width 2 */
            out[i + 5] = (unsigned char)(h >> 8), out[i + 6] = (unsigned char)h;
            out[i + 7] = (unsigned char)(w >> 8), out[i + 8] = (unsigned char)w;
            return out;
        }
    fail_msg("no SOF2 marker in the progressive JPEG");
    return NULL;
}

/* Refused from its header, before libjpeg allocates: the child that
 * decodes it stays small (its peak RSS is the whole test binary's, under
 * the sanitizers, and far below the 464 MB the file used to cost). */
static void test_progressive_jpeg_memory_bounded(void **state)
{
    (void)state;
    unsigned long len;
    unsigned char *jpg = progressive_claiming(8192, 8192, &len);
    assert_true(len < 2000);
    struct gray_image img;
    char err[256] = "";
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(image_decode(jpg, len, &img, err, sizeof(err)) == IMAGE_ERR_TOO_LARGE ? 0 : 1);
    int status;
    struct rusage ru;
    assert_int_equal(wait4(pid, &status, 0, &ru), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    if (ru.ru_maxrss > 200 * 1024)
        fail_msg("decoding a refused progressive JPEG peaked at %ld kB", ru.ru_maxrss);
    assert_int_equal(image_decode(jpg, len, &img, err, sizeof(err)), IMAGE_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "progressive JPEG of 8192x8192"));
    free(jpg);
    /* A real photo's size still decodes: a 3000x2000 progressive header (its
     * scans are a 16x16 picture's: corrupt, but past the budget check). */
    jpg = progressive_claiming(3000, 2000, &len);
    assert_int_not_equal(image_decode(jpg, len, &img, err, sizeof(err)), IMAGE_ERR_TOO_LARGE);
    gray_image_free(&img);
    free(jpg);
}

/* A FIFO or a directory named as a picture: refused at once, never waited on. */
static void test_load_refuses_what_is_no_file(void **state)
{
    (void)state;
    char fifo[128];
    snprintf(fifo, sizeof(fifo), "%s/fifo.png", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct gray_image img;
    char err[256];
    assert_int_equal(image_load(fifo, &img, err, sizeof(err)), IMAGE_ERR_OPEN);
    assert_non_null(strstr(err, "FIFO"));
    assert_int_equal(image_load(dir, &img, err, sizeof(err)), IMAGE_ERR_OPEN);
    assert_non_null(strstr(err, "is a directory"));
    unlink(fifo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_pgm),
        cmocka_unit_test(test_roundtrip_png),
        cmocka_unit_test(test_roundtrip_jpeg),
        cmocka_unit_test(test_sniff_by_content),
        cmocka_unit_test(test_pgm_header_forms),
        cmocka_unit_test(test_bad_pgm),
        cmocka_unit_test(test_truncated_png),
        cmocka_unit_test(test_truncated_jpeg),
        cmocka_unit_test(test_load_errors_name_the_file),
        cmocka_unit_test(test_save_refuses_unknown_ending),
        cmocka_unit_test(test_progressive_jpeg_memory_bounded),
        cmocka_unit_test(test_load_refuses_what_is_no_file),
    };
    return cmocka_run_group_tests_name("image_io", tests, make_dir, remove_dir);
}
