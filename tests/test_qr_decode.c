/* test_qr_decode.c - the decoder returns exact payload bytes from real QR codes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <zbar.h>

#include "base/image_io.h"
#include "decode/qr_decode.h"
#include "qr_frame.h"

/* A payload whose Vietnamese UTF-8 also passes ZBar's Big5 test: without
 * ZBAR_CFG_BINARY, ZBar 0.23.92 returns "Ngô Bảo Châu" as "Ng繫 B廕υ Ch璽u".
 * test_default_zbar_garbles_it proves the trap is real on this libzbar. */
static const char *big5_trap = "001090012345||Ngô Bảo Châu|05011990|Nam|Số 7, Phường Kim Mã, Ba Đình, Hà Nội|15062021";

static void draw_qr(struct gray_image *img, const char *payload, int scale, int x0, int y0)
{
    assert_int_equal(qr_frame_draw(img, payload, scale, x0, y0), 0);
}

static struct qr_decoder *open_decoder(void)
{
    struct qr_decoder *dec = NULL;
    char err[128];
    assert_int_equal(qr_decoder_open(&dec, err, sizeof(err)), 0);
    assert_non_null(dec);
    return dec;
}

static void assert_code(const struct qr_decoder *dec, int i, const char *expected)
{
    const struct qr_code *c = qr_decoder_code(dec, i);
    assert_non_null(c);
    assert_int_equal(c->len, strlen(expected));
    assert_memory_equal(c->data, expected, c->len);
}

static void test_exact_bytes_of_vietnamese_text(void **state)
{
    (void)state;
    struct gray_image img;
    assert_int_equal(gray_image_alloc(&img, 640, 480, 235), IMAGE_OK);
    draw_qr(&img, big5_trap, 4, 100, 60);
    struct qr_decoder *dec = open_decoder();
    struct frame f = gray_image_frame(&img);
    assert_int_equal(qr_decoder_scan(dec, &f), 1);
    assert_code(dec, 0, big5_trap);
    const struct qr_code *c = qr_decoder_code(dec, 0);
    assert_int_equal(c->ncorners, 4);
    assert_true(c->corners[0].x >= 100 && c->corners[0].x < 400);
    qr_decoder_close(dec);
    gray_image_free(&img);
}

/* ZBar with its default text handling, as most programs call it. */
static void test_default_zbar_garbles_it(void **state)
{
    (void)state;
    struct gray_image img;
    assert_int_equal(gray_image_alloc(&img, 640, 480, 235), IMAGE_OK);
    draw_qr(&img, big5_trap, 4, 100, 60);
    zbar_image_scanner_t *sc = zbar_image_scanner_create();
    assert_non_null(sc);
    zbar_image_t *zi = zbar_image_create();
    zbar_image_set_format(zi, zbar_fourcc('Y', '8', '0', '0'));
    zbar_image_set_size(zi, 640, 480);
    zbar_image_set_data(zi, img.pixels, 640 * 480, NULL);
    assert_int_equal(zbar_scan_image(sc, zi), 1);
    const zbar_symbol_t *sym = zbar_image_first_symbol(zi);
    assert_non_null(sym);
    assert_false(zbar_symbol_get_data_length(sym) == strlen(big5_trap) &&
                 memcmp(zbar_symbol_get_data(sym), big5_trap, strlen(big5_trap)) == 0);
    zbar_image_destroy(zi);
    zbar_image_scanner_destroy(sc);
    gray_image_free(&img);
}

static void test_empty_frame_has_no_codes(void **state)
{
    (void)state;
    struct gray_image img;
    assert_int_equal(gray_image_alloc(&img, 320, 240, 128), IMAGE_OK);
    struct qr_decoder *dec = open_decoder();
    struct frame f = gray_image_frame(&img);
    assert_int_equal(qr_decoder_scan(dec, &f), 0);
    assert_null(qr_decoder_code(dec, 0));
    qr_decoder_close(dec);
    gray_image_free(&img);
}

static void test_two_codes_in_one_frame(void **state)
{
    (void)state;
    const char *a = "001090012345||Lê Văn Hùng|01021990|Nam|Hà Nội|01072021";
    const char *b = "https://dichvucong.gov.vn/";
    struct gray_image img;
    assert_int_equal(gray_image_alloc(&img, 800, 400, 235), IMAGE_OK);
    draw_qr(&img, a, 4, 20, 40);
    draw_qr(&img, b, 4, 480, 40);
    struct qr_decoder *dec = open_decoder();
    struct frame f = gray_image_frame(&img);
    assert_int_equal(qr_decoder_scan(dec, &f), 2);
    const struct qr_code *c0 = qr_decoder_code(dec, 0);
    int a_first = c0->len == strlen(a);
    assert_code(dec, a_first ? 0 : 1, a);
    assert_code(dec, a_first ? 1 : 0, b);
    qr_decoder_close(dec);
    gray_image_free(&img);
}

/* A camera buffer with row padding is read through its stride. */
static void test_frame_with_stride(void **state)
{
    (void)state;
    struct gray_image img;
    assert_int_equal(gray_image_alloc(&img, 400, 400, 235), IMAGE_OK);
    draw_qr(&img, big5_trap, 3, 40, 40);
    int stride = 448;
    uint8_t *padded = malloc((size_t)stride * 400);
    assert_non_null(padded);
    for (int y = 0; y < 400; y++) {
        memcpy(padded + (size_t)y * stride, img.pixels + (size_t)y * 400, 400);
        memset(padded + (size_t)y * stride + 400, 0, (size_t)(stride - 400)); /* black padding */
    }
    struct frame f = { 400, 400, stride, padded };
    struct qr_decoder *dec = open_decoder();
    assert_int_equal(qr_decoder_scan(dec, &f), 1);
    assert_code(dec, 0, big5_trap);
    qr_decoder_close(dec);
    free(padded);
    gray_image_free(&img);
}

static void test_bad_frames_are_refused(void **state)
{
    (void)state;
    uint8_t px[16] = { 0 };
    struct qr_decoder *dec = open_decoder();
    struct frame zero = { 0, 4, 4, px };
    struct frame narrow_stride = { 4, 4, 3, px };
    struct frame no_pixels = { 4, 4, 4, NULL };
    struct frame huge = { FRAME_MAX_SIDE + 1, 1, FRAME_MAX_SIDE + 1, px };
    assert_int_equal(qr_decoder_scan(dec, &zero), QR_ERR_FRAME);
    assert_int_equal(qr_decoder_scan(dec, &narrow_stride), QR_ERR_FRAME);
    assert_int_equal(qr_decoder_scan(dec, &no_pixels), QR_ERR_FRAME);
    assert_int_equal(qr_decoder_scan(dec, &huge), QR_ERR_FRAME);
    assert_int_equal(qr_decoder_scan(dec, NULL), QR_ERR_FRAME);
    qr_decoder_close(dec);
}

/* The decoder renews ZBar's scanner every few hundred decodes to bound ZBar's
 * leak; reads must go on across renewals. */
static void test_reads_survive_scanner_renewal(void **state)
{
    (void)state;
    struct gray_image img;
    assert_int_equal(gray_image_alloc(&img, 240, 240, 235), IMAGE_OK);
    draw_qr(&img, "079301004321||A|12031993|Nữ|B|20052022", 3, 20, 20);
    struct qr_decoder *dec = open_decoder();
    struct frame f = gray_image_frame(&img);
    for (int i = 0; i < 1200; i++)
        if (qr_decoder_scan(dec, &f) != 1)
            fail_msg("decode %d found no code", i);
    assert_code(dec, 0, "079301004321||A|12031993|Nữ|B|20052022");
    qr_decoder_close(dec);
    gray_image_free(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes_of_vietnamese_text),
        cmocka_unit_test(test_default_zbar_garbles_it),
        cmocka_unit_test(test_empty_frame_has_no_codes),
        cmocka_unit_test(test_two_codes_in_one_frame),
        cmocka_unit_test(test_frame_with_stride),
        cmocka_unit_test(test_bad_frames_are_refused),
        cmocka_unit_test(test_reads_survive_scanner_renewal),
    };
    return cmocka_run_group_tests_name("qr_decode", tests, NULL, NULL);
}
