/* test_gray_ops.c - crops, scaling and filters (gray_ops.h), on small images
 * whose results are worked out by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "decode/gray_ops.h"

/* A frame over a caller's array (stride == width). */
static struct frame view(const uint8_t *px, int w, int h)
{
    struct frame f = { w, h, w, px };
    return f;
}

/* A buffer holding a copy of px (w x h), made through the module's own crop. */
static void buf_from(struct gray_buf *b, const uint8_t *px, int w, int h)
{
    struct frame f = view(px, w, h);
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, w, h }, 1, 1, b), 0);
    assert_int_equal(b->width, w);
    assert_int_equal(b->height, h);
    assert_memory_equal(b->pixels, px, (size_t)w * (size_t)h);
}

static int px_at(const struct gray_buf *b, int x, int y)
{
    return b->pixels[(size_t)y * (size_t)b->width + (size_t)x];
}

/* b is w x h, with these four corner pixels. */
static void assert_corners(const struct gray_buf *b, int w, int h, int top_left, int top_right, int bottom_left,
                           int bottom_right)
{
    assert_int_equal(b->width, w);
    assert_int_equal(b->height, h);
    assert_int_equal(px_at(b, 0, 0), top_left);
    assert_int_equal(px_at(b, w - 1, 0), top_right);
    assert_int_equal(px_at(b, 0, h - 1), bottom_left);
    assert_int_equal(px_at(b, w - 1, h - 1), bottom_right);
}

/* ---- crop and scale -------------------------------------------------------- */

static const uint8_t four[16] = {
    10, 20,  30,  40,  /* */
    30, 40,  50,  61,  /* */
    0,  0,   255, 255, /* */
    1,  1,   255, 254, /* */
};

static void test_shrink_2x_gives_block_means(void **state)
{
    (void)state;
    struct frame f = view(four, 4, 4);
    struct gray_buf b = { 0 };
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 4, 4 }, 1, 2, &b), 0);
    /* (10+20+30+40)/4 = 25; (30+40+50+61)/4 = 45.25 -> 45;
     * (0+0+1+1)/4 = 0.5 -> 1 (half up); (255+255+255+254)/4 = 254.75 -> 255 */
    assert_corners(&b, 2, 2, 25, 45, 1, 255);
    gray_buf_free(&b);
    assert_null(b.pixels);
}

/* 4x shrink of 4x4: one pixel, the mean of all 16. 5x5 by 2: the last
 * row and column do not make a whole block and are dropped. */
static void test_shrink_other_sizes(void **state)
{
    (void)state;
    struct frame f = view(four, 4, 4);
    struct gray_buf b = { 0 };
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 4, 4 }, 1, 4, &b), 0);
    assert_int_equal(b.width, 1);
    assert_int_equal(b.height, 1);
    /* sum = 100 + 181 + 510 + 511 = 1302, /16 = 81.4 -> 81 */
    assert_int_equal(px_at(&b, 0, 0), 81);

    uint8_t five[25];
    for (int i = 0; i < 25; i++)
        five[i] = (uint8_t)(i * 10);
    f = view(five, 5, 5);
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 5, 5 }, 1, 2, &b), 0);
    /* block (0,0): 0,10,50,60 -> 30; (1,0): 20,30,70,80 -> 50;
     * (0,1): 100,110,150,160 -> 130; (1,1): 120,130,170,180 -> 150 */
    assert_corners(&b, 2, 2, 30, 50, 130, 150);
    gray_buf_free(&b);
}

static void test_enlarge_keeps_constant_and_corners(void **state)
{
    (void)state;
    uint8_t flat[12];
    memset(flat, 77, sizeof(flat));
    struct frame f = view(flat, 4, 3);
    struct gray_buf b = { 0 };
    for (int num = 2; num <= 4; num++) {
        assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 4, 3 }, num, 1, &b), 0);
        assert_int_equal(b.width, 4 * num);
        assert_int_equal(b.height, 3 * num);
        for (int i = 0; i < b.width * b.height; i++)
            if (b.pixels[i] != 77)
                fail_msg("x%d enlarge of a constant 77 image: pixel %d is %d", num, i, b.pixels[i]);
    }

    f = view(four, 4, 4);
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 4, 4 }, 2, 1, &b), 0);
    assert_corners(&b, 8, 8, 10, 40, 1, 254);
    gray_buf_free(&b);
}

/* Pixel centres aligned: x4 of [0, 200] samples at -3/8, -1/8, 1/8, 3/8 ...
 * of the way, i.e. 0, 0, 25, 75, 125, 175, 200, 200 (clamped at the ends);
 * x2 samples at -1/4, 1/4, 3/4, 5/4: 0, 50, 150, 200. */
static void test_enlarge_is_bilinear(void **state)
{
    (void)state;
    const uint8_t ramp[2] = { 0, 200 };
    struct frame f = view(ramp, 2, 1);
    struct gray_buf b = { 0 };
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 2, 1 }, 2, 1, &b), 0);
    assert_int_equal(b.width, 4);
    assert_int_equal(b.height, 2);
    const uint8_t want2[4] = { 0, 50, 150, 200 };
    assert_memory_equal(b.pixels, want2, 4);
    assert_memory_equal(b.pixels + 4, want2, 4);

    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 2, 1 }, 4, 1, &b), 0);
    assert_int_equal(b.width, 8);
    const uint8_t want4[8] = { 0, 0, 25, 75, 125, 175, 200, 200 };
    assert_memory_equal(b.pixels, want4, 8);
    gray_buf_free(&b);
}

static void test_crop_clips_to_frame(void **state)
{
    (void)state;
    struct frame f = view(four, 4, 4);
    struct gray_buf b = { 0 };
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ -5, -5, 3, 2 }, 1, 1, &b), 0);
    assert_int_equal(b.width, 3);
    assert_int_equal(b.height, 2);
    const uint8_t tl[6] = { 10, 20, 30, 30, 40, 50 };
    assert_memory_equal(b.pixels, tl, 6);

    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 2, 2, 100, 100 }, 1, 1, &b), 0);
    assert_int_equal(b.width, 2);
    assert_int_equal(b.height, 2);
    const uint8_t br[4] = { 255, 255, 255, 254 };
    assert_memory_equal(b.pixels, br, 4);

    /* A rect larger than the frame on every side is the whole frame. */
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ -9, -9, 99, 99 }, 1, 1, &b), 0);
    assert_int_equal(b.width, 4);
    assert_int_equal(b.height, 4);
    assert_memory_equal(b.pixels, four, 16);
    gray_buf_free(&b);
}

static void test_crop_refuses_empty_rects_and_bad_scales(void **state)
{
    (void)state;
    struct frame f = view(four, 4, 4);
    struct gray_buf b = { 0 };
    const struct gray_rect empty[] = {
        { 4, 0, 10, 4 },   /* right of the frame */
        { 0, 4, 4, 9 },    /* below */
        { -8, 0, -1, 4 },  /* left */
        { 0, -8, 4, 0 },   /* above */
        { 2, 2, 2, 4 },    /* zero width */
        { 3, 3, 1, 1 },    /* reversed */
        { 10, 10, 20, 20 } /* far outside */
    };
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++)
        if (gray_crop_scale(&f, empty[i], 1, 1, &b) != -1)
            fail_msg("empty rect %zu accepted", i);

    const int bad[][2] = { { 2, 2 }, { 4, 3 }, { 0, 1 }, { 1, 0 }, { 5, 1 }, { 1, 5 }, { -1, 1 }, { 1, -2 } };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (gray_crop_scale(&f, (struct gray_rect){ 0, 0, 4, 4 }, bad[i][0], bad[i][1], &b) != -1)
            fail_msg("scale %d/%d accepted", bad[i][0], bad[i][1]);

    /* Every allowed scale is taken. */
    for (int s = 1; s <= 4; s++) {
        assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 4, 4 }, s, 1, &b), 0);
        assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 4, 4 }, 1, s, &b), 0);
        assert_int_equal(b.width, 4 / s);
    }
    gray_buf_free(&b);
}

/* A camera buffer with row padding: the padding never shows. */
static void test_crop_reads_through_stride(void **state)
{
    (void)state;
    enum { W = 4, H = 4, STRIDE = 7 };
    uint8_t padded[STRIDE * H];
    memset(padded, 0xEE, sizeof(padded));
    for (int y = 0; y < H; y++)
        memcpy(padded + y * STRIDE, four + y * W, W);
    struct frame f = { W, H, STRIDE, padded };
    struct gray_buf b = { 0 };

    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 99, 99 }, 1, 1, &b), 0);
    assert_int_equal(b.width, W);
    assert_int_equal(b.height, H);
    assert_memory_equal(b.pixels, four, sizeof(four));

    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 1, 1, 4, 3 }, 1, 1, &b), 0);
    const uint8_t mid[6] = { 40, 50, 61, 0, 255, 255 };
    assert_int_equal(b.width, 3);
    assert_int_equal(b.height, 2);
    assert_memory_equal(b.pixels, mid, 6);

    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 4, 4 }, 1, 2, &b), 0);
    const uint8_t means[4] = { 25, 45, 1, 255 };
    assert_memory_equal(b.pixels, means, 4);

    /* Enlarging the right column: bilinear between 40/61 and 255/254 rows
     * must never reach into the 0xEE padding beside them. */
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 3, 0, 4, 4 }, 2, 1, &b), 0);
    assert_int_equal(b.width, 2);
    assert_int_equal(b.height, 8);
    for (int y = 0; y < 8; y++)
        assert_int_equal(px_at(&b, 0, y), px_at(&b, 1, y));
    assert_int_equal(px_at(&b, 0, 0), 40);
    assert_int_equal(px_at(&b, 0, 7), 254);
    gray_buf_free(&b);
}

/* ---- copy, invert ---------------------------------------------------------- */

static void test_copy_and_invert(void **state)
{
    (void)state;
    struct gray_buf a = { 0 }, c = { 0 };
    buf_from(&a, four, 4, 4);
    assert_int_equal(gray_copy(&c, &a), 0);
    assert_int_equal(c.width, 4);
    assert_int_equal(c.height, 4);
    assert_memory_equal(c.pixels, four, 16);
    assert_ptr_not_equal(c.pixels, a.pixels);

    gray_invert(&a);
    for (int i = 0; i < 16; i++)
        assert_int_equal(a.pixels[i], 255 - four[i]);
    gray_invert(&a);
    assert_memory_equal(a.pixels, four, 16);

    /* A copy into a larger buffer takes the new size. */
    uint8_t big[64];
    memset(big, 9, sizeof(big));
    buf_from(&c, big, 8, 8);
    assert_int_equal(gray_copy(&c, &a), 0);
    assert_int_equal(c.width, 4);
    assert_int_equal(c.height, 4);
    assert_memory_equal(c.pixels, four, 16);
    struct frame fv = gray_buf_frame(&c);
    assert_int_equal(fv.width, 4);
    assert_int_equal(fv.height, 4);
    assert_int_equal(fv.stride, 4);
    assert_ptr_equal(fv.pixels, c.pixels);
    gray_buf_free(&a);
    gray_buf_free(&c);
}

/* ---- local contrast -------------------------------------------------------- */

/* A faint edge, 100 | 120, across the middle of a 64 x 64 image: upright,
 * then lying (the window is 3 x 3 blocks in both directions). */
static void test_normalize_stretches_faint_edge(void **state)
{
    (void)state;
    enum { N = 64 };
    static uint8_t px[N * N];
    struct gray_buf b = { 0 };
    for (int lying = 0; lying < 2; lying++) {
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
                px[y * N + x] = (lying ? y : x) < N / 2 ? 100 : 120;
        buf_from(&b, px, N, N);
        assert_int_equal(gray_normalize_local(&b, 8), 0);
        assert_int_equal(b.width, N);
        assert_int_equal(b.height, N);
        /* Within a block of the edge, both sides are in every window. */
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) {
                int across = lying ? y : x;
                if (across < N / 2 - 8 || across >= N / 2 + 8)
                    continue;
                int p = px_at(&b, x, y);
                if (across < N / 2 ? p > 10 : p < 245)
                    fail_msg("%s edge: pixel (%d, %d) was %d, became %d: not stretched", lying ? "lying" : "upright",
                             x, y, px[y * N + x], p);
            }
    }
    gray_buf_free(&b);
}

/* Flat: no window has range, so at most the 12-level minimum range is
 * stretched to 255; a flat image stays flat, noise of +-2 cannot reach the
 * light half. */
static void test_normalize_flat_is_not_amplified(void **state)
{
    (void)state;
    enum { W = 48, H = 40 };
    uint8_t px[W * H];
    memset(px, 150, sizeof(px));
    struct gray_buf b = { 0 };
    buf_from(&b, px, W, H);
    assert_int_equal(gray_normalize_local(&b, 8), 0);
    for (int i = 1; i < W * H; i++)
        if (b.pixels[i] != b.pixels[0])
            fail_msg("flat image became uneven: pixel %d is %d, pixel 0 is %d", i, b.pixels[i], b.pixels[0]);

    /* +-2 noise: range 4 in every window, stretched by at most 255 / 12. */
    uint32_t s = 12345;
    for (int i = 0; i < W * H; i++) {
        s = s * 1103515245u + 12345u;
        px[i] = (uint8_t)(148 + (s >> 16) % 5);
    }
    buf_from(&b, px, W, H);
    assert_int_equal(gray_normalize_local(&b, 8), 0);
    int mx = 0;
    for (int i = 0; i < W * H; i++)
        mx = b.pixels[i] > mx ? b.pixels[i] : mx;
    assert_true(mx <= 4 * 255 / 12 + 1);
    assert_true(mx > 0); /* the rule stretches, within its bound */

    assert_int_equal(gray_normalize_local(&b, 1), -1);
    gray_buf_free(&b);
}

/* ---- smoothing and sharpening ---------------------------------------------- */

/* 243 = 9 x 27: the 3 x 3 box spreads it into nine 27s, sum kept. */
static void test_smooth3_spreads_impulse(void **state)
{
    (void)state;
    enum { W = 7, H = 7 };
    uint8_t px[W * H] = { 0 };
    px[3 * W + 3] = 243;
    struct gray_buf b = { 0 };
    buf_from(&b, px, W, H);
    assert_int_equal(gray_smooth3(&b), 0);
    int sum = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int p = px_at(&b, x, y), inside = x >= 2 && x <= 4 && y >= 2 && y <= 4;
            if (p != (inside ? 27 : 0))
                fail_msg("(%d, %d) is %d", x, y, p);
            sum += p;
        }
    assert_int_equal(sum, 243);

    /* Edges are clamped: an impulse in the corner spreads to 2 x 2, each
     * pixel seeing it twice in each direction: (2 * 90 + 1) / 3 = 60, then
     * (2 * 60 + 1) / 3 = 40. */
    memset(px, 0, sizeof(px));
    px[0] = 90;
    buf_from(&b, px, W, H);
    assert_int_equal(gray_smooth3(&b), 0);
    assert_int_equal(px_at(&b, 0, 0), 40);
    assert_int_equal(px_at(&b, 1, 0), 20);
    assert_int_equal(px_at(&b, 0, 1), 20);
    assert_int_equal(px_at(&b, 1, 1), 10);
    assert_int_equal(px_at(&b, 2, 0), 0);
    gray_buf_free(&b);
}

/* Step 100 | 150: the 3-box gives 117 left and 133 right of the edge, so
 * amount 1.0 makes them 83 and 167: the step grows from 50 to 84. */
static void test_sharpen_steepens_edge(void **state)
{
    (void)state;
    enum { W = 8, H = 5 };
    uint8_t px[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            px[y * W + x] = x < 4 ? 100 : 150;
    struct gray_buf b = { 0 };
    buf_from(&b, px, W, H);
    assert_int_equal(gray_sharpen(&b, 4), 0);
    for (int y = 0; y < H; y++) {
        assert_int_equal(px_at(&b, 3, y), 83);
        assert_int_equal(px_at(&b, 4, y), 167);
        assert_int_equal(px_at(&b, 0, y), 100); /* flat parts unchanged */
        assert_int_equal(px_at(&b, 7, y), 150);
    }
    /* Half the amount: 100 - 17/2 = 92 (toward zero), 150 + 8 = 158. */
    buf_from(&b, px, W, H);
    assert_int_equal(gray_sharpen(&b, 2), 0);
    assert_int_equal(px_at(&b, 3, 2), 92);
    assert_int_equal(px_at(&b, 4, 2), 158);
    /* Clamped: 0 | 255 with a large amount stays 0 | 255. */
    for (int i = 0; i < W * H; i++)
        px[i] = px[i] == 100 ? 0 : 255;
    buf_from(&b, px, W, H);
    assert_int_equal(gray_sharpen(&b, 16), 0);
    assert_memory_equal(b.pixels, px, sizeof(px));
    gray_buf_free(&b);
}

/* ---- warp ----------------------------------------------------------- */

static void test_warp_identity_and_fill(void **state)
{
    (void)state;
    struct frame f = view(four, 4, 4);
    struct gray_buf b = { 0 };
    const float id[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
    assert_int_equal(gray_warp(&f, id, 4, 4, 99, &b), 0);
    assert_int_equal(b.width, 4);
    assert_int_equal(b.height, 4);
    assert_memory_equal(b.pixels, four, 16);

    /* Larger than the source: the rest is fill. */
    assert_int_equal(gray_warp(&f, id, 6, 5, 99, &b), 0);
    assert_int_equal(b.width, 6);
    assert_int_equal(b.height, 5);
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 6; x++)
            assert_int_equal(px_at(&b, x, y), x < 4 && y < 4 ? four[y * 4 + x] : 99);

    /* Shifted by one pixel: the first row and column fall outside. */
    const float shift[9] = { 1, 0, -1, 0, 1, -1, 0, 0, 1 };
    assert_int_equal(gray_warp(&f, shift, 4, 4, 7, &b), 0);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            assert_int_equal(px_at(&b, x, y), x == 0 || y == 0 ? 7 : four[(y - 1) * 4 + (x - 1)]);

    /* Half-way samples are bilinear: between 10 and 20 is 15. */
    const float half[9] = { 1, 0, 0.5f, 0, 1, 0, 0, 0, 1 };
    assert_int_equal(gray_warp(&f, half, 3, 1, 0, &b), 0);
    assert_int_equal(px_at(&b, 0, 0), 15);
    assert_int_equal(px_at(&b, 1, 0), 25);
    assert_int_equal(px_at(&b, 2, 0), 35);

    assert_int_equal(gray_warp(&f, id, 0, 4, 0, &b), -1);
    assert_int_equal(gray_warp(&f, id, 4, 0, 0, &b), -1);
    assert_int_equal(gray_warp(&f, id, FRAME_MAX_SIDE + 1, 1, 0, &b), -1);
    gray_buf_free(&b);
}

/* A quarter turn clockwise of a 4 x 3 source gives 3 x 4: destination (x, y)
 * reads source (y, 2 - x). The source pixel (1, 0) lands on (2, 1). */
static void test_warp_quarter_turn(void **state)
{
    (void)state;
    enum { W = 4, H = 3 };
    uint8_t px[W * H];
    memset(px, 10, sizeof(px));
    px[0 * W + 1] = 200;
    px[2 * W + 3] = 60; /* bottom-right corner -> (0, 3) */
    struct frame f = view(px, W, H);
    struct gray_buf b = { 0 };
    const float rot[9] = { 0, 1, 0, -1, 0, H - 1, 0, 0, 1 };
    assert_int_equal(gray_warp(&f, rot, H, W, 0, &b), 0);
    assert_int_equal(b.width, H);
    assert_int_equal(b.height, W);
    for (int y = 0; y < W; y++)
        for (int x = 0; x < H; x++) {
            int want = x == 2 && y == 1 ? 200 : x == 0 && y == 3 ? 60 : 10;
            if (px_at(&b, x, y) != want)
                fail_msg("(%d, %d) is %d, want %d", x, y, px_at(&b, x, y), want);
        }
    gray_buf_free(&b);
}

/* A projective map divides by q: with m = (2,0,0, 0,2,0, 0,0,2) every pixel
 * maps to itself; q grows along x in the second map, so the sampled x
 * shrinks with it (x / (1 + x/4)); q <= 0 (behind the camera) and a NaN map
 * give the fill. */
static void test_warp_projective(void **state)
{
    (void)state;
    uint8_t px[16];
    for (int i = 0; i < 16; i++)
        px[i] = (uint8_t)(10 * (i % 4) + 100 * (i / 4));
    struct frame f = view(px, 4, 4);
    struct gray_buf b = { 0 };
    const float twice[9] = { 2, 0, 0, 0, 2, 0, 0, 0, 2 };
    assert_int_equal(gray_warp(&f, twice, 4, 4, 0, &b), 0);
    assert_memory_equal(b.pixels, px, 16);

    const float pinch[9] = { 1, 0, 0, 0, 1, 0, 0.25f, 0, 1 };
    assert_int_equal(gray_warp(&f, pinch, 4, 1, 0, &b), 0);
    /* x = 0, 1, 2, 3 -> 0, 0.8, 1.333, 1.714: 0, 8, 13, 17 */
    assert_int_equal(px_at(&b, 0, 0), 0);
    assert_int_equal(px_at(&b, 1, 0), 8);
    assert_int_equal(px_at(&b, 2, 0), 13);
    assert_int_equal(px_at(&b, 3, 0), 17);

    const float behind[9] = { 1, 0, 0, 0, 1, 0, 0, 0, -1 };
    assert_int_equal(gray_warp(&f, behind, 2, 2, 77, &b), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(b.pixels[i], 77);
    const float nan_map[9] = { NAN, 0, 0, 0, 1, 0, 0, 0, 1 };
    assert_int_equal(gray_warp(&f, nan_map, 2, 2, 5, &b), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(b.pixels[i], 5);
    gray_buf_free(&b);
}

/* One buffer through calls of different sizes, as the reader uses it. */
static void test_buffer_reused_across_sizes(void **state)
{
    (void)state;
    uint8_t big[40 * 30];
    for (int i = 0; i < 40 * 30; i++)
        big[i] = (uint8_t)(i * 7);
    struct frame f = view(big, 40, 30);
    struct gray_buf b = { 0 };
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 0, 0, 40, 30 }, 3, 1, &b), 0);
    assert_int_equal(b.width, 120);
    assert_int_equal(gray_smooth3(&b), 0);
    assert_int_equal(gray_crop_scale(&f, (struct gray_rect){ 5, 5, 9, 9 }, 1, 1, &b), 0);
    assert_int_equal(b.width, 4);
    assert_int_equal(b.height, 4);
    for (int y = 0; y < 4; y++)
        assert_memory_equal(b.pixels + y * 4, big + (5 + y) * 40 + 5, 4);
    assert_int_equal(gray_normalize_local(&b, 2), 0);
    assert_int_equal(gray_sharpen(&b, 4), 0);
    gray_buf_free(&b);
    gray_buf_free(&b); /* freeing twice is harmless: the buffer was zeroed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shrink_2x_gives_block_means),
        cmocka_unit_test(test_shrink_other_sizes),
        cmocka_unit_test(test_enlarge_keeps_constant_and_corners),
        cmocka_unit_test(test_enlarge_is_bilinear),
        cmocka_unit_test(test_crop_clips_to_frame),
        cmocka_unit_test(test_crop_refuses_empty_rects_and_bad_scales),
        cmocka_unit_test(test_crop_reads_through_stride),
        cmocka_unit_test(test_copy_and_invert),
        cmocka_unit_test(test_normalize_stretches_faint_edge),
        cmocka_unit_test(test_normalize_flat_is_not_amplified),
        cmocka_unit_test(test_smooth3_spreads_impulse),
        cmocka_unit_test(test_sharpen_steepens_edge),
        cmocka_unit_test(test_warp_identity_and_fill),
        cmocka_unit_test(test_warp_quarter_turn),
        cmocka_unit_test(test_warp_projective),
        cmocka_unit_test(test_buffer_reused_across_sizes),
    };
    return cmocka_run_group_tests_name("gray_ops", tests, NULL, NULL);
}
