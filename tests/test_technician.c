/* test_technician.c - the pieces behind doctor, provision and snapshot:
 * the sharpness measure and the INI editing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/frame.h"
#include "config/ini_edit.h"
#include "decode/sharpness.h"

enum { SIDE = 96 };

static void checkerboard(uint8_t *px, int cell)
{
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++)
            px[y * SIDE + x] = ((x / cell + y / cell) & 1) ? 230 : 20;
}

/* A 5x5 box blur, applied `passes` times: what a camera out of focus does. */
static void blur(uint8_t *px, int passes)
{
    static uint8_t tmp[SIDE * SIDE];
    for (int p = 0; p < passes; p++) {
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                int sum = 0, n = 0;
                for (int dy = -2; dy <= 2; dy++)
                    for (int dx = -2; dx <= 2; dx++)
                        if (x + dx >= 0 && x + dx < SIDE && y + dy >= 0 && y + dy < SIDE) {
                            sum += px[(y + dy) * SIDE + x + dx];
                            n++;
                        }
                tmp[y * SIDE + x] = (uint8_t)(sum / n);
            }
        memcpy(px, tmp, sizeof(tmp));
    }
}

static void test_sharp_beats_blurred(void **state)
{
    (void)state;
    static uint8_t sharp[SIDE * SIDE], soft[SIDE * SIDE], softer[SIDE * SIDE];
    checkerboard(sharp, 8);
    memcpy(soft, sharp, sizeof(sharp));
    blur(soft, 1);
    memcpy(softer, sharp, sizeof(sharp));
    blur(softer, 3);
    struct frame a = { SIDE, SIDE, SIDE, sharp }, b = { SIDE, SIDE, SIDE, soft }, c = { SIDE, SIDE, SIDE, softer };
    double sa = sharpness_centre(&a), sb = sharpness_centre(&b), sc = sharpness_centre(&c);
    assert_true(sa > 2 * sb);
    assert_true(sb > sc);
    assert_true(sc > 0);
}

static void test_flat_and_degenerate(void **state)
{
    (void)state;
    static uint8_t flat[SIDE * SIDE];
    memset(flat, 128, sizeof(flat));
    struct frame f = { SIDE, SIDE, SIDE, flat };
    assert_true(sharpness_centre(&f) == 0.0);
    struct frame tiny = { 2, 2, 2, flat };
    assert_true(sharpness_centre(&tiny) < 0);
    assert_true(sharpness_region(&f, SIDE + 10, 0, 5, 5) < 0);
}

/* A stride wider than the width: only the picture's own pixels count. */
static void test_stride(void **state)
{
    (void)state;
    static uint8_t packed[SIDE * SIDE], padded[SIDE * (SIDE + 16)];
    checkerboard(packed, 4);
    for (int y = 0; y < SIDE; y++) {
        memcpy(padded + y * (SIDE + 16), packed + y * SIDE, SIDE);
        memset(padded + y * (SIDE + 16) + SIDE, y & 1 ? 255 : 0, 16);
    }
    struct frame a = { SIDE, SIDE, SIDE, packed }, b = { SIDE, SIDE, SIDE + 16, padded };
    assert_true(sharpness_centre(&a) == sharpness_centre(&b));
}

static const char conf_text[] = "; terminal config\n"
                                "[device]\n"
                                ";id = desk-01\n"
                                "\n"
                                "[uplink]\n"
                                "; the hospital\n"
                                "url = https://his/api\n"
                                "  ca = /old/ca.pem ; old CA\n"
                                "key=\n"
                                "\n"
                                "; spool next\n"
                                "[spool]\n"
                                "dir = /var/x\n";

static void test_ini_replace_and_add(void **state)
{
    (void)state;
    const struct ini_setting set[] = {
        { "device", "id", "desk-07" },
        { "uplink", "ca", "/etc/c/ca.crt" },
        { "uplink", "cert", "/etc/c/device.crt" },
        { "uplink", "key", "/etc/c/device.key" },
    };
    char err[256];
    char *out = ini_edit_text(conf_text, set, 4, err, sizeof(err));
    assert_non_null(out);
    assert_string_equal(out, "; terminal config\n"
                             "[device]\n"
                             "id = desk-07\n"
                             ";id = desk-01\n"
                             "\n"
                             "[uplink]\n"
                             "; the hospital\n"
                             "url = https://his/api\n"
                             "ca = /etc/c/ca.crt\n"
                             "key = /etc/c/device.key\n"
                             "cert = /etc/c/device.crt\n"
                             "\n"
                             "; spool next\n"
                             "[spool]\n"
                             "dir = /var/x\n");
    /* Applying the same settings again changes nothing more. */
    char *again = ini_edit_text(out, set, 4, err, sizeof(err));
    assert_non_null(again);
    assert_string_equal(again, out);
    free(again);
    free(out);
}

static void test_ini_new_section_and_no_newline(void **state)
{
    (void)state;
    const struct ini_setting set[] = { { "uplink", "cert", "/c.crt" }, { "uplink", "key", "/c.key" } };
    char err[256];
    char *out = ini_edit_text("[camera]\nsource = files:x", set, 2, err, sizeof(err));
    assert_non_null(out);
    assert_string_equal(out, "[camera]\nsource = files:x\n\n[uplink]\ncert = /c.crt\nkey = /c.key\n");
    free(out);
    out = ini_edit_text("", set, 1, err, sizeof(err));
    assert_non_null(out);
    assert_string_equal(out, "\n[uplink]\ncert = /c.crt\n");
    free(out);
}

/* The same key name in another section is left alone. */
static void test_ini_other_sections_untouched(void **state)
{
    (void)state;
    const struct ini_setting set[] = { { "uplink", "key", "/new" } };
    char err[256];
    char *out = ini_edit_text("[spool]\nkey = /spool.key\n[uplink]\nkey = /old\n", set, 1, err, sizeof(err));
    assert_non_null(out);
    assert_string_equal(out, "[spool]\nkey = /spool.key\n[uplink]\nkey = /new\n");
    free(out);
}

static void test_ini_refuses_line_breaks(void **state)
{
    (void)state;
    const struct ini_setting set[] = { { "device", "id", "a\n[uplink]\nurl = https://evil" } };
    char err[256];
    assert_null(ini_edit_text("[device]\n", set, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "line break"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sharp_beats_blurred),
        cmocka_unit_test(test_flat_and_degenerate),
        cmocka_unit_test(test_stride),
        cmocka_unit_test(test_ini_replace_and_add),
        cmocka_unit_test(test_ini_new_section_and_no_newline),
        cmocka_unit_test(test_ini_other_sections_untouched),
        cmocka_unit_test(test_ini_refuses_line_breaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
