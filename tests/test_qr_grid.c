/* test_qr_grid.c - the projective grid of a tilted symbol (qr_grid.h), on
 * cards rendered at a known pose, so that the symbol's true corners in the
 * frame are known. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "card_render.h"
#include "base/image_io.h"
#include "imgops.h"
#include "decode/qr_decode.h"
#include "decode/qr_grid.h"
#include "decode/qr_locate.h"
#include "decode/qr_reader.h"
#include "rng.h"

/* A long address makes a version 9-10 symbol: the far corner moves most. */
static const char *card = "079301004321|272728765|Nguyễn Thị Phương Thảo|12031993|Nữ|Số 128/4 Đường Nguyễn Thị "
                          "Minh Khai, Phường Võ Thị Sáu, Quận 3, Thành phố Hồ Chí Minh|20052022";

/* A card tilted 34 degrees (top-left edge away from the camera), 4.2 px per
 * module at the symbol's centre, a little lens blur and sensor noise: bare
 * ZBar does not read it, nor did an affine straightening through the three
 * finders. */
static const struct card_pose tilted = { .cx = 300, .cy = 230, .module_px = 4.2, .angle_deg = 8, .tilt_x_deg = 24.04,
                                         .tilt_y_deg = 24.04, .focal_px = 576 };

struct scene {
    struct gray_image img;
    uint8_t dark[177 * 177]; /* the symbol's modules, 1 = dark */
    struct point2 corner[4]; /* the symbol's corners in the frame: TL, TR, BR, BL */
    int dim;
};

static void make_scene(struct scene *s, const char *payload, const struct card_pose *pose)
{
    struct rng g;
    rng_seed(&g, 20261127);
    struct qr_matrix qr;
    char err[256];
    assert_int_equal(qr_matrix_encode((const uint8_t *)payload, strlen(payload), &qr, err, sizeof(err)), 0);
    s->dim = qr.width;
    assert_true(s->dim <= 177);
    memcpy(s->dark, qr.dark, (size_t)s->dim * (size_t)s->dim);
    struct card_texture tex;
    assert_int_equal(card_texture_render(&tex, CARD_LOOK_2021, CARD_CODE_QR, &qr, 6, &g), 0);
    qr_matrix_free(&qr);
    assert_int_equal(gray_image_alloc(&s->img, 640, 480, 0), IMAGE_OK);
    desk_render(&s->img, &g);
    assert_int_equal(card_draw(&s->img, &tex, pose), 0);
    assert_int_equal(img_gaussian_blur(&s->img, 0.6), 0);
    img_add_noise(&s->img, &g, 2.5);
    assert_true(card_pose_qr_corners(&tex, pose, s->corner));
    card_texture_free(&tex);
}

static void free_scene(struct scene *s)
{
    gray_image_free(&s->img);
}

static struct qr_candidate locate_one(const struct gray_image *img)
{
    struct qr_locator *loc = NULL;
    assert_int_equal(qr_locator_open(&loc), 0);
    struct frame f = gray_image_frame(img);
    struct qr_candidate c[QR_LOCATE_MAX];
    int n = qr_locate(loc, &f, c, QR_LOCATE_MAX);
    qr_locator_close(loc);
    assert_true(n >= 1);
    assert_int_equal(c[0].nfinders, 3);
    return c[0];
}

/* Draws the scene, finds its one symbol and fits a grid to it. */
static struct qr_candidate fit_scene(struct scene *s, const char *payload, const struct card_pose *pose,
                                     struct qr_grid *g)
{
    make_scene(s, payload, pose);
    struct qr_candidate c = locate_one(&s->img);
    struct frame f = gray_image_frame(&s->img);
    assert_int_equal(qr_grid_fit(&f, &c, g), 0);
    return c;
}

/* The grid puts the symbol's four corners within tol px of where they are. */
static void assert_corners_fit(const struct qr_grid *g, const struct scene *s, float tol)
{
    const float d = (float)s->dim;
    const float at[4][2] = { { 0, 0 }, { d, 0 }, { d, d }, { 0, d } };
    for (int k = 0; k < 4; k++) {
        float fx, fy;
        assert_true(qr_grid_point(g->map, at[k][0], at[k][1], &fx, &fy));
        if (hypotf(fx - (float)s->corner[k].x, fy - (float)s->corner[k].y) > tol)
            fail_msg("corner %d: fitted at (%.1f, %.1f), truly at (%.1f, %.1f)", k, fx, fy, s->corner[k].x,
                     s->corner[k].y);
    }
}

/* A reader without time budget that has read exactly the card from f, by
 * the shape `by`; the caller closes it. */
static struct qr_reader *read_card(const struct frame *f, enum qr_shape by)
{
    char err[256] = "";
    struct qr_reader_opts opts = { .budget_ms = 0, .track_frames = 0 };
    struct qr_reader *r = NULL;
    assert_int_equal(qr_reader_open(&r, &opts, err, sizeof(err)), 0);
    assert_int_equal(qr_reader_scan(r, f), 1);
    const struct qr_code *code = qr_reader_code(r, 0);
    assert_int_equal(code->len, strlen(card));
    assert_memory_equal(code->data, card, code->len);
    assert_int_equal(qr_reader_last(r)->read_by, by);
    return r;
}

/* The fitted map puts every corner module within a third of a module of
 * where it is, and the far corner is where an affine map goes wrong. */
static void test_tilted_symbol_grid(void **state)
{
    (void)state;
    struct scene s;
    struct qr_grid g;
    struct qr_candidate c = fit_scene(&s, card, &tilted, &g);
    assert_int_equal(g.dim, s.dim);
    assert_true(g.aligned);
    assert_true(g.score >= 0.95f);

    float module = c.module_px;
    assert_corners_fit(&g, &s, module / 2);
    /* An affine map (a parallelogram through three corners) misses the far
     * corner by more than two modules: without the fourth point this test
     * would fail. */
    double px = s.corner[1].x + s.corner[3].x - s.corner[0].x, py = s.corner[1].y + s.corner[3].y - s.corner[0].y;
    assert_true(hypot(px - s.corner[2].x, py - s.corner[2].y) > 2.0 * module);
    free_scene(&s);
}

/* ZBar alone does not read the tilted code; the reader does, through the
 * rectified shape. */
static void test_tilted_symbol_reads_rectified(void **state)
{
    (void)state;
    struct scene s;
    make_scene(&s, card, &tilted);
    struct frame f = gray_image_frame(&s.img);
    char err[256] = "";
    struct qr_decoder *dec = NULL;
    assert_int_equal(qr_decoder_open(&dec, err, sizeof(err)), 0);
    assert_int_equal(qr_decoder_scan(dec, &f), 0);
    qr_decoder_close(dec);

    struct qr_reader *r = read_card(&f, QR_SHAPE_RECTIFIED);
    const struct qr_code *code = qr_reader_code(r, 0);
    /* The outline comes back in frame pixels: each corner near its true place. */
    for (int k = 0; k < 4; k++) {
        float best = 1e9f;
        for (int j = 0; j < code->ncorners; j++)
            best = fminf(best, hypotf((float)(code->corners[j].x - s.corner[k].x),
                                      (float)(code->corners[j].y - s.corner[k].y)));
        assert_true(best < 2 * tilted.module_px);
    }
    qr_reader_close(r);
    free_scene(&s);
}

/* Redrawn through the fitted grid at 1 px per module, the tilted symbol
 * comes back module for module; a blown-out patch over the timing pattern
 * and a finder's corner leaves those drawn as the standard has them. */
static void test_resample_redraws_modules(void **state)
{
    (void)state;
    struct scene s;
    struct qr_grid g;
    struct qr_candidate c = fit_scene(&s, card, &tilted, &g);
    struct frame f = gray_image_frame(&s.img);
    struct gray_buf b = { 0 };
    assert_int_equal(qr_grid_resample(&f, &g, false, 1, &b), 0);
    assert_int_equal(b.width, s.dim + 8);
    int wrong = 0;
    for (int y = 0; y < s.dim; y++)
        for (int x = 0; x < s.dim; x++)
            wrong += (b.pixels[(y + 4) * b.width + x + 4] < 128) != s.dark[y * s.dim + x];
    assert_int_equal(wrong, 0);
    for (int x = 0; x < b.width; x++) /* quiet zone */
        assert_int_equal(b.pixels[x], 255);

    /* Glare: every pixel within 5 modules of the top-right finder's inner
     * corner burnt white. */
    float gx, gy;
    assert_true(qr_grid_point(g.map, (float)s.dim - 8, 7, &gx, &gy));
    for (int y = 0; y < s.img.height; y++)
        for (int x = 0; x < s.img.width; x++)
            if (hypotf((float)x - gx, (float)y - gy) < 5 * c.module_px)
                s.img.pixels[y * s.img.width + x] = 255;
    assert_int_equal(qr_grid_resample(&f, &g, false, 1, &b), 0);
    int dim = s.dim;
    for (int y = 0; y < 7; y++) /* the finder, its inner corner included */
        for (int x = dim - 7; x < dim; x++)
            assert_int_equal(b.pixels[(y + 4) * b.width + x + 4] < 128, s.dark[y * dim + x]);
    for (int x = 8; x < dim - 8; x++) /* the timing row */
        assert_int_equal(b.pixels[(6 + 4) * b.width + x + 4] < 128, x % 2 == 0);

    assert_int_equal(qr_grid_resample(&f, &g, false, 0, &b), -1);
    assert_int_equal(qr_grid_resample(&f, &g, false, 9, &b), -1);
    struct qr_grid off = g;
    off.map[2] += 10000; /* the symbol outside the frame */
    assert_int_equal(qr_grid_resample(&f, &off, false, 1, &b), -1);
    off = g;
    off.dim = 42; /* not a QR size */
    assert_int_equal(qr_grid_resample(&f, &off, false, 1, &b), -1);
    gray_buf_free(&b);
    free_scene(&s);
}

/* Glare over the bottom-left finder of a card held nearly square (the
 * glare category's 0-15 degrees; a guess from two finders cannot know the
 * perspective): the locator sees two finders; the grid is still found (the
 * hidden finder's place guessed, the timing patterns confirming it), and the
 * reader reads the code redrawn. */
static void test_pair_with_hidden_finder(void **state)
{
    (void)state;
    const struct card_pose held = { .cx = 320, .cy = 240, .module_px = 4.4, .angle_deg = 8, .tilt_x_deg = 8,
                                    .tilt_y_deg = 6, .focal_px = 576 };
    struct scene s;
    make_scene(&s, card, &held);
    struct qr_candidate whole = locate_one(&s.img);
    float bx = whole.finder[2].x, by = whole.finder[2].y;
    for (int y = 0; y < s.img.height; y++)
        for (int x = 0; x < s.img.width; x++)
            if (hypotf((float)x - bx, (float)y - by) < 4.5f * whole.module_px)
                s.img.pixels[y * s.img.width + x] = 255;
    struct qr_locator *loc = NULL;
    assert_int_equal(qr_locator_open(&loc), 0);
    struct frame f = gray_image_frame(&s.img);
    struct qr_candidate c[QR_LOCATE_MAX];
    int n = qr_locate(loc, &f, c, QR_LOCATE_MAX);
    qr_locator_close(loc);
    assert_true(n >= 1);
    assert_int_equal(c[0].nfinders, 2);
    struct qr_grid g;
    assert_int_equal(qr_grid_fit(&f, &c[0], &g), 0);
    assert_int_equal(g.dim, s.dim);
    assert_corners_fit(&g, &s, whole.module_px);
    qr_reader_close(read_card(&f, QR_SHAPE_RESAMPLED));

    /* Two finders on random blocks the size of modules: among the ~1,800
     * fits a pair gets, none may pass for a symbol (with version 1 allowed
     * and a 0.8 floor, about half of such pairs did). */
    enum { NW = 320 };
    static uint8_t noise[NW * NW];
    struct rng rr;
    rng_seed(&rr, 77);
    for (int row = 0; row < NW / 4; row++)
        for (int col = 0; col < NW / 4; col++) {
            uint8_t v = rng_range(&rr, 0, 1) < 0.5 ? 20 : 235;
            for (int y = 0; y < 4; y++)
                memset(noise + (size_t)(row * 4 + y) * NW + (size_t)col * 4, v, 4);
        }
    struct frame blocks = { NW, NW, NW, noise };
    int accepted = 0;
    for (int k = 0; k < 40; k++) {
        float x0 = (float)rng_range(&rr, 60, 260), y0 = (float)rng_range(&rr, 60, 260);
        float x1 = (float)rng_range(&rr, 60, 260), y1 = (float)rng_range(&rr, 60, 260);
        if (hypotf(x1 - x0, y1 - y0) < 80)
            continue;
        struct qr_candidate p = { { 0, 0, NW, NW }, 4, false, 2, { { x0, y0 }, { x1, y1 }, { 0, 0 } } };
        accepted += qr_grid_fit(&blocks, &p, &g) == 0;
    }
    assert_int_equal(accepted, 0);

    /* Two finders on a blank picture: no guess holds. */
    uint8_t blank[200 * 200];
    memset(blank, 200, sizeof(blank));
    struct frame empty = { 200, 200, 200, blank };
    struct qr_candidate pair = { { 0, 0, 200, 200 }, 4, false, 2, { { 40, 40 }, { 160, 40 }, { 0, 0 } } };
    assert_int_equal(qr_grid_fit(&empty, &pair, &g), -1);
    free_scene(&s);
}

/* Version 1 has no alignment pattern: the grid stays affine and says so. */
static void test_version1_is_not_aligned(void **state)
{
    (void)state;
    const struct card_pose flat = { .cx = 320, .cy = 240, .module_px = 6, .angle_deg = -5, .focal_px = 576 };
    struct scene s;
    struct qr_grid g;
    fit_scene(&s, "HELLO 12345", &flat, &g);
    assert_int_equal(s.dim, 21);
    assert_int_equal(g.dim, 21);
    assert_false(g.aligned);
    assert_true(g.score >= 0.95f);
    free_scene(&s);
}

/* Candidates the grid cannot come from give -1, whatever the picture. */
static void test_bad_candidates(void **state)
{
    (void)state;
    uint8_t px[64 * 64];
    memset(px, 200, sizeof(px));
    struct frame f = { 64, 64, 64, px };
    struct qr_grid g;
    struct qr_candidate c = { { 0, 0, 64, 64 }, 2.0f, false, 2, { { 10, 10 }, { 50, 10 }, { 10, 50 } } };
    assert_int_equal(qr_grid_fit(&f, &c, &g), -1); /* two finders */
    c.nfinders = 3;
    c.module_px = NAN;
    assert_int_equal(qr_grid_fit(&f, &c, &g), -1);
    c.module_px = 0;
    assert_int_equal(qr_grid_fit(&f, &c, &g), -1);
    c.module_px = 2.0f;
    c.finder[2].x = 30, c.finder[2].y = 10; /* on one line */
    assert_int_equal(qr_grid_fit(&f, &c, &g), -1);
    c.finder[1].x = 5000, c.finder[2].x = 10, c.finder[2].y = 5000; /* 2500 modules */
    assert_int_equal(qr_grid_fit(&f, &c, &g), -1);
    c.finder[1].x = NAN;
    assert_int_equal(qr_grid_fit(&f, &c, &g), -1);
    /* A plausible layout on a blank picture fits (the score tells it is poor). */
    c.finder[1].x = 50, c.finder[1].y = 10, c.finder[2].x = 10, c.finder[2].y = 50;
    c.module_px = 40.0f / 18;
    assert_int_equal(qr_grid_fit(&f, &c, &g), 0);
    assert_false(g.aligned);
    assert_true(g.score <= 0.6f);

    float x, y;
    const float behind[9] = { 1, 0, 0, 0, 1, 0, 0, 0, -1 };
    assert_false(qr_grid_point(behind, 1, 1, &x, &y));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tilted_symbol_grid),
        cmocka_unit_test(test_tilted_symbol_reads_rectified),
        cmocka_unit_test(test_resample_redraws_modules),
        cmocka_unit_test(test_pair_with_hidden_finder),
        cmocka_unit_test(test_version1_is_not_aligned),
        cmocka_unit_test(test_bad_candidates),
    };
    return cmocka_run_group_tests_name("qr_grid", tests, NULL, NULL);
}
