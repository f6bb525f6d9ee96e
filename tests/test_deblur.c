/* test_deblur.c - motion smear measured and taken out (deblur.h), on real QR
 * codes smeared the way tools/make_frames smears its motion frames. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/image_io.h"
#include "decode/deblur.h"
#include "imgops.h"
#include "decode/qr_decode.h"
#include "qr_frame.h"
#include "rng.h"

#define PI 3.14159265358979323846
#define SIDE 260
#define MODULE_PX 4

/* A card payload: version 7 at level M, 45 modules, 180 px at 4 px/module. */
static const char *payload =
    "001090012345|123456789|Nguyễn Văn An|05011990|Nam|Số 7, Kim Mã, Ba Đình, Hà Nội|15062021";

/* The code drawn at 4 px/module in the middle of a SIDE x SIDE light crop,
 * then what a camera adds: the smear (if length_px > 0), a little lens blur
 * and sensor noise, in make_frames' order. */
static void noisy_smeared_code(struct gray_image *img, double length_px, double angle_deg, double noise, uint64_t seed)
{
    assert_int_equal(gray_image_alloc(img, SIDE, SIDE, 235), IMAGE_OK);
    int side = qr_frame_modules(payload) * MODULE_PX;
    assert_true(side > 0 && side < SIDE - 40);
    assert_int_equal(qr_frame_draw(img, payload, MODULE_PX, (SIDE - side) / 2, (SIDE - side) / 2), 0);
    if (length_px > 0)
        assert_int_equal(img_motion_blur(img, length_px, angle_deg * PI / 180.0), 0);
    assert_int_equal(img_gaussian_blur(img, 0.5), 0);
    struct rng r;
    rng_seed(&r, seed);
    img_add_noise(img, &r, noise);
}

static void smeared_code(struct gray_image *img, double length_px, double angle_deg, uint64_t seed)
{
    noisy_smeared_code(img, length_px, angle_deg, 2.0, seed);
}

static void to_buf(const struct gray_image *img, struct gray_buf *b)
{
    struct frame f = gray_image_frame(img);
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, img->width, img->height }, 1, 1, b), 0);
}

static struct deblur *open_deblur(void)
{
    struct deblur *d = NULL;
    assert_int_equal(deblur_open(&d), 0);
    assert_non_null(d);
    return d;
}

/* True when ZBar reads exactly the payload from b. */
static bool reads(const struct gray_buf *b)
{
    struct qr_decoder *dec = NULL;
    char err[128];
    assert_int_equal(qr_decoder_open(&dec, err, sizeof(err)), 0);
    struct frame f = gray_buf_frame(b);
    int n = qr_decoder_scan(dec, &f);
    assert_true(n >= 0);
    bool ok = false;
    for (int i = 0; i < n; i++) {
        const struct qr_code *c = qr_decoder_code(dec, i);
        if (c->len != strlen(payload) || memcmp(c->data, payload, c->len) != 0)
            fail_msg("ZBar returned a wrong payload of %zu bytes", c->len);
        ok = true;
    }
    qr_decoder_close(dec);
    return ok;
}

/* Difference of two directions of a line, in degrees, 0..90. */
static double angle_apart(double a_deg, double b_deg)
{
    double d = fmod(fabs(a_deg - b_deg), 180.0);
    return d > 90 ? 180 - d : d;
}

/* ---- estimation ------------------------------------------------------------ */

static void test_estimate_finds_the_smear(void **state)
{
    (void)state;
    static const struct {
        double length, angle_deg;
    } cases[] = { { 9.0, 0 }, { 7.0, 30 }, { 8.5, 90 }, { 6.0, 135 }, { 10.0, 172 }, { 5.0, 63 } };
    struct deblur *d = open_deblur();
    struct gray_buf b = { 0 };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gray_image img;
        smeared_code(&img, cases[i].length, cases[i].angle_deg, 100 + i);
        to_buf(&img, &b);
        float len = -1, ang = -1;
        if (deblur_estimate(d, &b, MODULE_PX, &len, &ang) != 0)
            fail_msg("smear %.1f px at %.0f deg: no estimate", cases[i].length, cases[i].angle_deg);
        double deg = ang * 180.0 / PI;
        if (fabs(len - cases[i].length) > 1.0 || angle_apart(deg, cases[i].angle_deg) > 8.0 || ang < 0 || ang >= PI)
            fail_msg("smear %.1f px at %.0f deg: estimated %.2f px at %.1f deg", cases[i].length,
                     cases[i].angle_deg, len, deg);
        gray_image_free(&img);
    }
    gray_buf_free(&b);
    deblur_close(d);
}

/* A sharp code, a code out of focus (blurred alike in every direction), a
 * blank card and noise alone have no smear to report. */
static void test_no_smear_no_estimate(void **state)
{
    (void)state;
    struct deblur *d = open_deblur();
    struct gray_buf b = { 0 };
    struct gray_image img;
    float len = 123, ang = 456;

    smeared_code(&img, 0, 0, 1);
    to_buf(&img, &b);
    assert_int_equal(deblur_estimate(d, &b, MODULE_PX, &len, &ang), -1);

    assert_int_equal(img_gaussian_blur(&img, 1.5), 0);
    to_buf(&img, &b);
    assert_int_equal(deblur_estimate(d, &b, MODULE_PX, &len, &ang), -1);
    gray_image_free(&img);

    assert_int_equal(gray_image_alloc(&img, SIDE, SIDE, 200), IMAGE_OK);
    to_buf(&img, &b);
    assert_int_equal(deblur_estimate(d, &b, MODULE_PX, &len, &ang), -1);
    struct rng r;
    rng_seed(&r, 7);
    img_add_noise(&img, &r, 10.0);
    to_buf(&img, &b);
    assert_int_equal(deblur_estimate(d, &b, MODULE_PX, &len, &ang), -1);
    gray_image_free(&img);

    assert_true(len == 123 && ang == 456); /* untouched on -1 */
    gray_buf_free(&b);
    deblur_close(d);
}

/* A sharp code seen at a slant (modules 4 px wide, 3 px tall, as at a 40
 * degree tilt) has less gradient one way too, but no smear: each edge is as
 * sharp as the lens makes it. */
static void test_slanted_sharp_code_is_no_smear(void **state)
{
    (void)state;
    struct gray_image img, slanted;
    smeared_code(&img, 0, 0, 9);
    assert_int_equal(gray_image_alloc(&slanted, SIDE, SIDE * 3 / 4, 235), IMAGE_OK);
    for (int y = 0; y < slanted.height; y++)
        for (int x = 0; x < SIDE; x++) {
            double v;
            if (img_sample_bilinear(&img, x, (y + 0.5) * 4.0 / 3.0 - 0.5, &v))
                slanted.pixels[(size_t)y * SIDE + (size_t)x] = (uint8_t)lround(v);
        }
    struct gray_buf b = { 0 };
    to_buf(&slanted, &b);
    gray_image_free(&slanted);
    struct deblur *d = open_deblur();
    float len, ang;
    assert_int_equal(deblur_estimate(d, &b, MODULE_PX, &len, &ang), -1);
    gray_buf_free(&b);
    deblur_close(d);
    gray_image_free(&img);
}

/* On a whole 1280x720 frame the estimate looks where the code is, not at
 * the desk, and says where that was. */
static void test_estimate_finds_the_code_in_a_larger_frame(void **state)
{
    (void)state;
    enum { W = 1280, H = 720, X0 = 900, Y0 = 400 };
    struct gray_image code, frame;
    smeared_code(&code, 8.0, 120, 5);
    assert_int_equal(gray_image_alloc(&frame, W, H, 128), IMAGE_OK);
    struct rng r;
    rng_seed(&r, 8);
    img_add_noise(&frame, &r, 2.0);
    for (int y = 0; y < SIDE; y++)
        memcpy(frame.pixels + (size_t)(Y0 + y) * W + X0, code.pixels + (size_t)y * SIDE, SIDE);
    struct deblur *d = open_deblur();
    struct gray_buf b = { 0 };
    to_buf(&frame, &b);
    float len, ang;
    assert_int_equal(deblur_estimate(d, &b, MODULE_PX, &len, &ang), 0);
    assert_true(fabs(len - 8.0) < 1.0);
    assert_true(angle_apart(ang * 180.0 / PI, 120) < 8.0);
    struct gray_rect where = deblur_where(d);
    int cx = X0 + SIDE / 2, cy = Y0 + SIDE / 2;
    assert_true(where.x0 <= cx && cx < where.x1 && where.y0 <= cy && cy < where.y1);
    gray_buf_free(&b);
    deblur_close(d);
    gray_image_free(&code);
    gray_image_free(&frame);
}

/* ---- deconvolution --------------------------------------------------------- */

/* A 9 px smear at 4 px/module: ZBar cannot read it; deblurred with the
 * estimate (and with the truth) it reads the exact payload. */
static void test_deblur_makes_zbar_read(void **state)
{
    (void)state;
    static const double angles[] = { 25, 100, 160 };
    struct deblur *d = open_deblur();
    struct gray_buf b = { 0 }, truth = { 0 };
    for (size_t i = 0; i < sizeof(angles) / sizeof(angles[0]); i++) {
        struct gray_image img;
        smeared_code(&img, 9.0, angles[i], 200 + i);
        to_buf(&img, &b);
        if (reads(&b))
            fail_msg("the 9 px smear at %.0f deg reads as it is: the test proves nothing", angles[i]);
        assert_int_equal(gray_copy(&truth, &b), 0);
        float len, ang;
        assert_int_equal(deblur_estimate(d, &b, MODULE_PX, &len, &ang), 0);
        assert_int_equal(deblur_motion(d, &b, len, ang), 0);
        if (!reads(&b))
            fail_msg("smear at %.0f deg (estimated %.2f px at %.1f deg): unread after deblur", angles[i], len,
                     ang * 180.0 / PI);
        assert_int_equal(deblur_motion(d, &truth, 9.0f, (float)(angles[i] * PI / 180.0)), 0);
        if (!reads(&truth))
            fail_msg("smear at %.0f deg: unread after deblur with the true smear", angles[i]);
        gray_image_free(&img);
    }
    gray_buf_free(&b);
    gray_buf_free(&truth);
    deblur_close(d);
}

/* The filter holds back as much as the noise needs: under sensor noise of
 * sigma 9, 10 px smears in 18 directions read 15 times (measured) after
 * deblurring, and 4 times with the filter tuned for sigma 2 alone. */
static void test_deblur_adapts_to_noise(void **state)
{
    (void)state;
    struct deblur *d = open_deblur();
    struct gray_buf b = { 0 };
    int read = 0;
    for (int angle = 0; angle < 180; angle += 10) {
        struct gray_image img;
        noisy_smeared_code(&img, 10.0, angle, 9.0, 300 + (uint64_t)angle);
        to_buf(&img, &b);
        float len, ang;
        if (deblur_estimate(d, &b, MODULE_PX, &len, &ang) == 0 && deblur_motion(d, &b, len, ang) == 0)
            read += reads(&b);
        gray_image_free(&img);
    }
    if (read < 12)
        fail_msg("%d of 18 noisy smears read after deblurring", read);
    gray_buf_free(&b);
    deblur_close(d);
}

/* RMS difference of a and b (same size) over the pixels within `ring` px of
 * the border (ring 0: all of them). */
static double rms_apart(const struct gray_buf *a, const struct gray_buf *b, int ring)
{
    double sum = 0;
    int n = 0;
    for (int y = 0; y < a->height; y++)
        for (int x = 0; x < a->width; x++) {
            int edge = x < y ? x : y;
            edge = a->width - 1 - x < edge ? a->width - 1 - x : edge;
            edge = a->height - 1 - y < edge ? a->height - 1 - y : edge;
            if (ring > 0 && edge >= ring)
                continue;
            double e = (double)a->pixels[(size_t)y * (size_t)a->width + (size_t)x] -
                       (double)b->pixels[(size_t)y * (size_t)b->width + (size_t)x];
            sum += e * e;
            n++;
        }
    return sqrt(sum / n);
}

/* Crops of the same rect of two pictures. */
static void crop_both(const struct gray_image *a, const struct gray_image *b, struct gray_rect r, struct gray_buf *ca,
                      struct gray_buf *cb)
{
    struct frame fa = gray_image_frame(a), fb = gray_image_frame(b);
    assert_int_equal(gray_crop_scale(&fa, r, 1, 1, ca), 0);
    assert_int_equal(gray_crop_scale(&fb, r, 1, 1, cb), 0);
}

/* The deblurred picture is much closer to the sharp one than the smeared
 * one was. On a crop that cuts through the code (the smear brought in what
 * lies outside it), the outer 20 px improve as well: the border does not
 * ring. (On the whole crop that band is quiet zone: flat, and it must stay
 * within 10 of the sharp one, noise included.) */
static void test_deblur_restores_the_sharp_picture(void **state)
{
    (void)state;
    struct gray_image sharp, smeared;
    smeared_code(&sharp, 0, 0, 11);
    smeared_code(&smeared, 8.0, 45, 11);
    struct gray_buf b = { 0 }, s = { 0 };
    struct deblur *d = open_deblur();
    /* Measured ratios: 0.50 on the whole crop; 0.57 and 0.65 (band) on the
     * cut one, where mirrored padding instead of the ramp gave 0.76, 0.99. */
    static const struct {
        struct gray_rect rect;
        double max_ratio, max_band_ratio, band_slack;
    } cases[] = { { { 0, 0, SIDE, SIDE }, 0.6, 0, 10 }, { { 50, 50, 210, 210 }, 0.65, 0.75, 0 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        crop_both(&smeared, &sharp, cases[i].rect, &b, &s);
        double before = rms_apart(&b, &s, 0), before_ring = rms_apart(&b, &s, 20);
        assert_int_equal(deblur_motion(d, &b, 8.0f, (float)(PI / 4)), 0);
        double after = rms_apart(&b, &s, 0), after_ring = rms_apart(&b, &s, 20);
        if (!(after < cases[i].max_ratio * before) ||
            !(after_ring < cases[i].max_band_ratio * before_ring + cases[i].band_slack))
            fail_msg("crop %zu: RMS from the sharp code %.1f smeared, %.1f deblurred; outer 20 px %.1f, %.1f", i,
                     before, after, before_ring, after_ring);
    }
    gray_buf_free(&b);
    gray_buf_free(&s);
    deblur_close(d);
    gray_image_free(&sharp);
    gray_image_free(&smeared);
}

/* A flat picture stays flat and a ramp stays a ramp (a centred box leaves
 * both as they are), up to the crop's border: the filter passes the mean and
 * the padding adds no edge, even on a crop just under a power of two. */
static void test_flat_and_ramp_stay(void **state)
{
    (void)state;
    struct deblur *d = open_deblur();
    struct gray_buf b = { 0 };
    struct gray_image img;
    assert_int_equal(gray_image_alloc(&img, 123, 77, 180), IMAGE_OK);
    to_buf(&img, &b);
    assert_int_equal(deblur_motion(d, &b, 7.3f, 1.1f), 0);
    for (int i = 0; i < b.width * b.height; i++)
        if (b.pixels[i] != 180)
            fail_msg("flat 180: pixel %d became %d", i, b.pixels[i]);
    gray_image_free(&img);

    assert_int_equal(gray_image_alloc(&img, 250, 250, 0), IMAGE_OK);
    for (int y = 0; y < 250; y++)
        for (int x = 0; x < 250; x++)
            img.pixels[y * 250 + x] = (uint8_t)(40 + (x + y * 2) * 180 / (249 * 3));
    to_buf(&img, &b);
    assert_int_equal(deblur_motion(d, &b, 10.0f, 0.5f), 0);
    for (int i = 0; i < b.width * b.height; i++)
        if (abs(b.pixels[i] - img.pixels[i]) > 3)
            fail_msg("ramp: pixel (%d, %d) %d became %d", i % 250, i / 250, img.pixels[i], b.pixels[i]);
    gray_image_free(&img);
    gray_buf_free(&b);
    deblur_close(d);
}

/* One state through crops of changing sizes gives what a fresh state gives:
 * nothing stale carries over. Slivers of 1 px work too. */
static void test_state_reused_across_sizes(void **state)
{
    (void)state;
    struct deblur *warm = open_deblur();
    struct gray_buf a = { 0 }, b = { 0 };
    struct gray_image img;
    smeared_code(&img, 6.0, 70, 3);
    static const int sizes[][2] = { { 260, 260 }, { 1, 1 }, { 1, 200 }, { 200, 1 }, { 97, 150 }, { 260, 33 } };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct frame f = gray_image_frame(&img);
        struct gray_rect r = { 0, 0, sizes[i][0], sizes[i][1] };
        assert_int_equal(gray_crop_scale(&f, r, 1, 1, &a), 0);
        assert_int_equal(gray_copy(&b, &a), 0);
        struct deblur *fresh = open_deblur();
        assert_int_equal(deblur_motion(warm, &a, 6.0f, 1.2f), 0);
        assert_int_equal(deblur_motion(fresh, &b, 6.0f, 1.2f), 0);
        assert_memory_equal(a.pixels, b.pixels, (size_t)a.width * (size_t)a.height);
        deblur_close(fresh);
    }
    gray_image_free(&img);
    gray_buf_free(&a);
    gray_buf_free(&b);
    deblur_close(warm);
}

/* ---- bad input ------------------------------------------------------------- */

static void test_bad_input_is_refused(void **state)
{
    (void)state;
    struct deblur *d = open_deblur();
    struct gray_image img;
    smeared_code(&img, 8.0, 30, 4);
    struct gray_buf b = { 0 }, copy = { 0 }, empty = { 0 };
    to_buf(&img, &b);
    assert_int_equal(gray_copy(&copy, &b), 0);
    float len = 0, ang = 0;

    assert_int_equal(deblur_open(NULL), -1);

    /* Estimate: nothing to look at, or a module size that makes no sense. */
    assert_int_equal(deblur_estimate(d, &empty, MODULE_PX, &len, &ang), -1);
    assert_int_equal(deblur_estimate(NULL, &b, MODULE_PX, &len, &ang), -1);
    assert_int_equal(deblur_estimate(d, NULL, MODULE_PX, &len, &ang), -1);
    assert_int_equal(deblur_estimate(d, &b, MODULE_PX, NULL, &ang), -1);
    assert_int_equal(deblur_estimate(d, &b, MODULE_PX, &len, NULL), -1);
    const float bad_modules[] = { 0.0f, -4.0f, NAN, INFINITY, 1e9f };
    for (size_t i = 0; i < sizeof(bad_modules) / sizeof(bad_modules[0]); i++)
        assert_int_equal(deblur_estimate(d, &b, bad_modules[i], &len, &ang), -1);
    struct gray_buf small = { 0 };
    struct frame f = gray_image_frame(&img);
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 100, 100, 120, 130 }, 1, 1, &small), 0);
    assert_int_equal(deblur_estimate(d, &small, MODULE_PX, &len, &ang), -1);

    /* Deblur: bad lengths and angles leave the picture untouched. */
    const float bad_lengths[] = { -8.0f, 0.0f, 1.0f, NAN, INFINITY, DEBLUR_MAX_LENGTH_PX + 0.5f, 1e9f };
    for (size_t i = 0; i < sizeof(bad_lengths) / sizeof(bad_lengths[0]); i++)
        assert_int_equal(deblur_motion(d, &b, bad_lengths[i], 0.5f), -1);
    assert_int_equal(deblur_motion(d, &b, 8.0f, NAN), -1);
    assert_int_equal(deblur_motion(d, &b, 8.0f, INFINITY), -1);
    assert_int_equal(deblur_motion(d, &b, 8.0f, -INFINITY), -1);
    assert_int_equal(deblur_motion(NULL, &b, 8.0f, 0.5f), -1);
    assert_int_equal(deblur_motion(d, NULL, 8.0f, 0.5f), -1);
    assert_int_equal(deblur_motion(d, &empty, 8.0f, 0.5f), -1);
    struct gray_buf no_pixels = { 64, 64, NULL, 0, NULL, 0 };
    assert_int_equal(deblur_motion(d, &no_pixels, 8.0f, 0.5f), -1);
    assert_int_equal(deblur_estimate(d, &no_pixels, MODULE_PX, &len, &ang), -1);
    assert_memory_equal(b.pixels, copy.pixels, (size_t)b.width * (size_t)b.height);

    /* Too large for the planes: refused, not cut; the estimate looks at a
     * window and takes whole frames, up to its own limit. */
    struct gray_image big;
    assert_int_equal(gray_image_alloc(&big, DEBLUR_MAX_SIDE + 1, 64, 100), IMAGE_OK);
    struct gray_buf bb = { 0 };
    to_buf(&big, &bb);
    assert_int_equal(deblur_motion(d, &bb, 8.0f, 0.5f), -1);
    assert_int_equal(deblur_estimate(d, &bb, MODULE_PX, &len, &ang), -1); /* flat: no smear */
    gray_image_free(&big);
    assert_int_equal(gray_image_alloc(&big, DEBLUR_ESTIMATE_MAX_SIDE + 1, 64, 100), IMAGE_OK);
    to_buf(&big, &bb);
    assert_int_equal(deblur_estimate(d, &bb, MODULE_PX, &len, &ang), -1);

    /* The state still works after all that. */
    assert_int_equal(deblur_estimate(d, &b, MODULE_PX, &len, &ang), 0);
    assert_int_equal(deblur_motion(d, &b, len, ang), 0);
    deblur_close(NULL);

    gray_image_free(&big);
    gray_image_free(&img);
    gray_buf_free(&bb);
    gray_buf_free(&small);
    gray_buf_free(&b);
    gray_buf_free(&copy);
    deblur_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate_finds_the_smear),
        cmocka_unit_test(test_no_smear_no_estimate),
        cmocka_unit_test(test_slanted_sharp_code_is_no_smear),
        cmocka_unit_test(test_estimate_finds_the_code_in_a_larger_frame),
        cmocka_unit_test(test_deblur_makes_zbar_read),
        cmocka_unit_test(test_deblur_adapts_to_noise),
        cmocka_unit_test(test_deblur_restores_the_sharp_picture),
        cmocka_unit_test(test_flat_and_ramp_stay),
        cmocka_unit_test(test_state_reused_across_sizes),
        cmocka_unit_test(test_bad_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
