/* test_pixfmt.c - camera formats to luma. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/pixfmt.h"

static void test_names(void **state)
{
    (void)state;
    for (int f = 0; f < PIXFMT_COUNT; f++)
        assert_int_equal(pixfmt_from_name(pixfmt_name((enum pixfmt)f)), f);
    assert_int_equal(pixfmt_from_name("rgb24"), -1);
    assert_string_equal(pixfmt_name(PIXFMT_COUNT), "unknown");
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(pixfmt_frame_size(PIXFMT_GREY, 640, 480, 640), 640 * 480);
    assert_int_equal(pixfmt_frame_size(PIXFMT_YUYV, 640, 480, 1280), 1280 * 480);
    assert_int_equal(pixfmt_frame_size(PIXFMT_NV12, 640, 480, 640), 640 * 480 * 3 / 2);
    assert_int_equal(pixfmt_frame_size(PIXFMT_YU12, 640, 480, 704), 704 * 480 * 3 / 2);
    assert_int_equal(pixfmt_frame_size(PIXFMT_MJPEG, 640, 480, 0), 0);
    assert_true(pixfmt_luma_in_place(PIXFMT_NV12));
    assert_false(pixfmt_luma_in_place(PIXFMT_YUYV));
}

/* 4x2 pixels, rows padded to 10 bytes: Y values 10..17, chroma 200. */
static void test_packed(void **state)
{
    (void)state;
    uint8_t yuyv[20], uyvy[20], out[8];
    memset(yuyv, 0xee, sizeof(yuyv));
    memset(uyvy, 0xee, sizeof(uyvy));
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 4; x++) {
            yuyv[y * 10 + 2 * x] = (uint8_t)(10 + y * 4 + x);
            yuyv[y * 10 + 2 * x + 1] = 200;
            uyvy[y * 10 + 2 * x] = 200;
            uyvy[y * 10 + 2 * x + 1] = (uint8_t)(10 + y * 4 + x);
        }
    const uint8_t want[8] = { 10, 11, 12, 13, 14, 15, 16, 17 };
    pixfmt_packed_to_luma(PIXFMT_YUYV, yuyv, 10, 4, 2, out);
    assert_memory_equal(out, want, 8);
    memset(out, 0, sizeof(out));
    pixfmt_packed_to_luma(PIXFMT_UYVY, uyvy, 10, 4, 2, out);
    assert_memory_equal(out, want, 8);
}

static void test_jpeg_complete(void **state)
{
    (void)state;
    assert_true(pixfmt_jpeg_complete((const uint8_t *)"\xff\xd8\x01\x02\xff\xd9", 6));
    assert_true(pixfmt_jpeg_complete((const uint8_t *)"\xff\xd8\x01\xff\xd9\x00\x00\x00", 8)); /* UVC padding */
    assert_false(pixfmt_jpeg_complete((const uint8_t *)"\xff\xd8\x01\x02\x03\x04", 6));     /* cut short */
    assert_false(pixfmt_jpeg_complete((const uint8_t *)"\x00\xd8\x01\x02\xff\xd9", 6));
    assert_false(pixfmt_jpeg_complete((const uint8_t *)"\xff\xd8", 2));
    assert_false(pixfmt_jpeg_complete((const uint8_t *)"", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_packed),
        cmocka_unit_test(test_jpeg_complete),
    };
    return cmocka_run_group_tests_name("pixfmt", tests, NULL, NULL);
}
