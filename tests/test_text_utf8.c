/* test_text_utf8.c - UTF-8 validation, control and hidden-character detection,
 * stacked marks, NFC and length. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "card/text_utf8.h"

#define U8(s) ((const uint8_t *)(s))
/* Length of a string literal, embedded NULs included. */
#define LIT(s) U8(s), (sizeof(s) - 1)
/* The same for functions taking const char *. */
#define LIT_STR(s) (s), (sizeof(s) - 1)

struct bytes_case {
    const char *name;
    const char *bytes;
    size_t len;
};
#define CASE(name, s) {name, s, sizeof(s) - 1}

static const struct bytes_case GOOD[] = {
    CASE("empty", ""),
    CASE("ascii", "abc 123 |"),
    CASE("vietnamese", "Nguyễn Văn An, Số 1, Phường X, Hà Nội"),
    CASE("nfd vietnamese", "Nu\xcc\x9b\xcc\x83"),
    CASE("U+0080 (smallest 2-byte)", "\xc2\x80"),
    CASE("U+07FF (largest 2-byte)", "\xdf\xbf"),
    CASE("U+0800 (smallest 3-byte)", "\xe0\xa0\x80"),
    CASE("U+D7FF (below surrogates)", "\xed\x9f\xbf"),
    CASE("U+E000 (above surrogates)", "\xee\x80\x80"),
    CASE("U+FEFF (BOM)", "\xef\xbb\xbf"),
    CASE("U+FFFF", "\xef\xbf\xbf"),
    CASE("U+10000 (smallest 4-byte)", "\xf0\x90\x80\x80"),
    CASE("U+1F600 emoji", "\xf0\x9f\x98\x80"),
    CASE("U+10FFFF (largest)", "\xf4\x8f\xbf\xbf"),
    CASE("C0 control (valid UTF-8)", "a\tb\r\n\x01\x7f"),
    CASE("C1 control (valid UTF-8)", "\xc2\x85"),
};

static const struct bytes_case BAD[] = {
    CASE("lone continuation 80", "\x80"),
    CASE("lone continuation BF in text", "ab\xbf" "cd"),
    CASE("continuation after ASCII in name", "Nguy\x80n"),
    CASE("overlong '/' C0 AF", "\xc0\xaf"),
    CASE("overlong C1 BF", "\xc1\xbf"),
    CASE("overlong NUL C0 80", "\xc0\x80"),
    CASE("overlong 3-byte E0 80 AF", "\xe0\x80\xaf"),
    CASE("overlong 3-byte E0 9F BF", "\xe0\x9f\xbf"),
    CASE("overlong 4-byte F0 80 80 AF", "\xf0\x80\x80\xaf"),
    CASE("overlong 4-byte F0 8F BF BF", "\xf0\x8f\xbf\xbf"),
    CASE("high surrogate ED A0 80", "\xed\xa0\x80"),
    CASE("low surrogate ED BF BF", "\xed\xbf\xbf"),
    CASE("surrogate pair as CESU-8", "\xed\xa0\xbd\xed\xb8\x80"),
    CASE("U+110000 F4 90 80 80", "\xf4\x90\x80\x80"),
    CASE("F5 lead byte", "\xf5\x80\x80\x80"),
    CASE("5-byte form F8", "\xf8\x88\x80\x80\x80"),
    CASE("FE", "\xfe"),
    CASE("FF", "\xff"),
    CASE("truncated 2-byte at end", "Nguy\xe1\xbb"),
    CASE("truncated 2-byte lead at end", "abc\xc3"),
    CASE("truncated 4-byte at end", "x\xf0\x9f\x98"),
    CASE("truncated 3-byte followed by ASCII", "\xe1\xbb" "a"),
    CASE("2-byte lead followed by ASCII", "\xc3" "A"),
    CASE("NUL alone", "\0"),
    CASE("NUL inside", "a\0b"),
    CASE("NUL at end", "Nam\0"),
};

static void test_valid_accepts_well_formed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        if (!utf8_valid(U8(GOOD[i].bytes), GOOD[i].len)) {
            print_error("utf8_valid rejected good input: %s\n", GOOD[i].name);
            fail();
        }
    }
}

static void test_valid_rejects_ill_formed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        if (utf8_valid(U8(BAD[i].bytes), BAD[i].len)) {
            print_error("utf8_valid accepted bad input: %s\n", BAD[i].name);
            fail();
        }
    }
}

static void test_valid_respects_len(void **state)
{
    (void)state;
    /* Bytes past len are not looked at. */
    assert_true(utf8_valid(U8("abc\xff"), 3));
    assert_true(utf8_valid(U8("Nam\0garbage"), 3));
    assert_true(utf8_valid(U8("\xff"), 0));
    /* ... and a sequence cut by len is truncated. */
    assert_false(utf8_valid(U8("\xc3\xa9"), 1));
    assert_false(utf8_valid(U8("\xe1\xbb\xaf"), 2));
    assert_true(utf8_valid(U8("\xe1\xbb\xaf"), 3));
}

static void test_has_control(void **state)
{
    (void)state;
    assert_false(utf8_has_control(LIT("")));
    assert_false(utf8_has_control(LIT("Nguyễn Văn An")));
    assert_false(utf8_has_control(LIT("Số 1, Phường X, Hà Nội ~")));
    assert_false(utf8_has_control(LIT("\xc2\xa0")));       /* U+00A0 no-break space */
    assert_false(utf8_has_control(LIT("Nu\xcc\x9b\xcc\x83"))); /* combining marks */
    assert_false(utf8_has_control(LIT("\xf0\x9f\x98\x80")));

    assert_true(utf8_has_control(LIT("a\tb")));
    assert_true(utf8_has_control(LIT("a\nb")));
    assert_true(utf8_has_control(LIT("a\rb")));
    assert_true(utf8_has_control(LIT("\x01")));
    assert_true(utf8_has_control(LIT("\x1f")));
    assert_true(utf8_has_control(LIT("\x1b[0m")));
    assert_true(utf8_has_control(LIT("abc\x7f")));          /* DEL */
    assert_true(utf8_has_control(LIT("\xc2\x80")));         /* U+0080, first C1 */
    assert_true(utf8_has_control(LIT("Nguy\xc2\x85n")));    /* U+0085 NEL */
    assert_true(utf8_has_control(LIT("\xc2\x9f")));         /* U+009F, last C1 */
    /* Only looks at len bytes. */
    assert_false(utf8_has_control(U8("ab\n"), 2));
}

/* Every code point issue 13 names, by range; each range's ends and middle are tried. */
static const struct {
    int32_t lo, hi;
    const char *what;
} HIDDEN[] = {
    {0x061C, 0x061C, "ARABIC LETTER MARK"},
    {0x200E, 0x200F, "LRM, RLM"},
    {0x202A, 0x202E, "LRE .. RLO"},
    {0x2066, 0x2069, "LRI .. PDI"},
    {0x200B, 0x200D, "ZWSP, ZWNJ, ZWJ"},
    {0x2060, 0x2060, "WORD JOINER"},
    {0xFEFF, 0xFEFF, "BOM / ZWNBSP"},
    {0x2028, 0x2029, "LINE / PARAGRAPH SEPARATOR"},
    {0xFDD0, 0xFDEF, "noncharacters"},
    {0xFFFE, 0xFFFF, "noncharacters of the BMP"},
    {0x1FFFE, 0x1FFFF, "noncharacters of plane 1"},
    {0x10FFFE, 0x10FFFF, "noncharacters of plane 16"},
    {0xE000, 0xF8FF, "private use"},
    {0xF0000, 0xFFFFD, "plane 15 private use"},
    {0x100000, 0x10FFFD, "plane 16 private use"},
    /* Also invisible, beyond the list. */
    {0x00AD, 0x00AD, "SOFT HYPHEN"},
    {0x034F, 0x034F, "COMBINING GRAPHEME JOINER"},
    {0xFE00, 0xFE0F, "variation selectors"},
    {0x3164, 0x3164, "HANGUL FILLER"},
    {0xE0001, 0xE0001, "LANGUAGE TAG"},
    {0xE0020, 0xE007F, "tags"},
    {0xE0100, 0xE01EF, "variation selectors supplement"},
    {0x2065, 0x2065, "unassigned default-ignorable"},
};

static void test_is_hidden(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof HIDDEN / sizeof HIDDEN[0]; i++) {
        int32_t probe[3] = {HIDDEN[i].lo, HIDDEN[i].lo + (HIDDEN[i].hi - HIDDEN[i].lo) / 2, HIDDEN[i].hi};
        for (int k = 0; k < 3; k++) {
            if (!utf8_is_hidden(probe[k])) {
                print_error("U+%04X (%s) is not hidden\n", (unsigned)probe[k], HIDDEN[i].what);
                fail();
            }
        }
    }
    /* What Vietnamese text and the payload use is never hidden. */
    static const int32_t visible[] = {
        'A', 'z', ' ', '|', ',', '.', '\'', '-', '0',
        0x00C0, 0x0110, 0x0111, 0x0103, 0x01A1, 0x01B0, 0x1EA0, 0x1EF9, /* À Đ đ ă ơ ư Ạ ỹ */
        0x0300, 0x0301, 0x0303, 0x0309, 0x0323, 0x0302, 0x0306, 0x031B, /* the marks of NFD Vietnamese */
        0x00A0, 0x4E00, 0x0E01, 0x1F600, 0xFDCF, 0xFDF0, 0xFFFD, 0xD7A3, 0xF900, 0xEFFFD, 0x10000,
    };
    for (size_t i = 0; i < sizeof visible / sizeof visible[0]; i++) {
        if (utf8_is_hidden(visible[i])) {
            print_error("U+%04X is hidden\n", (unsigned)visible[i]);
            fail();
        }
    }
}

static void test_has_hidden(void **state)
{
    (void)state;
    assert_false(utf8_has_hidden(LIT("")));
    assert_false(utf8_has_hidden(LIT("Nguyễn Văn An|Số 1, Phường X, Hà Nội")));
    assert_false(utf8_has_hidden(LIT("Nguye\xcc\x82\xcc\x83n Thi\xcc\xa3"))); /* NFD */
    assert_true(utf8_has_hidden(LIT("Nguy\xe2\x80\xaen\xe1\xbb\x85")));    /* U+202E */
    assert_true(utf8_has_hidden(LIT("An\xe2\x80\x8b")));                    /* U+200B at the end */
    assert_true(utf8_has_hidden(LIT("\xef\xbb\xbf" "An")));                   /* U+FEFF at the start */
    assert_true(utf8_has_hidden(LIT("H\xc3\xa0 N\xe1\xbb\x99i\xe2\x80\xa8x"))); /* U+2028 */
    assert_true(utf8_has_hidden(LIT("A\xee\x80\x80")));                     /* U+E000 */
    assert_true(utf8_has_hidden(LIT("A\xf4\x8f\xbf\xbf")));                 /* U+10FFFF */
    assert_true(utf8_has_hidden(LIT("A\xef\xb7\x90")));                     /* U+FDD0 */
    assert_true(utf8_has_hidden(LIT("A\xff")));                             /* invalid: worst case */
    /* Only looks at len bytes. */
    assert_false(utf8_has_hidden(U8("An\xe2\x80\x8b"), 2));
}

static void test_max_mark_run(void **state)
{
    (void)state;
    assert_int_equal(utf8_max_mark_run(LIT("")), 0);
    assert_int_equal(utf8_max_mark_run(LIT("Nguyễn Văn An")), 0);
    assert_int_equal(utf8_max_mark_run(LIT("Nu\xcc\x9b\xcc\x83")), 2);              /* NFD ữ */
    assert_int_equal(utf8_max_mark_run(LIT("\xcc\x81")), 1);                         /* a mark alone */
    assert_int_equal(utf8_max_mark_run(LIT("a\xcc\x81" "b\xcc\x81\xcc\x80 c")), 2);  /* runs are separate */
    assert_int_equal(utf8_max_mark_run(LIT("a\xcc\x81\xcc\x80\xcc\x83\xcc\x89")), 4);
    assert_int_equal(utf8_max_mark_run(LIT("a\xe2\x83\x9d\xe0\xa4\x83")), 2);      /* Me U+20DD, Mc U+0903 */
    assert_int_equal(utf8_max_mark_run(LIT("a\xff")), SIZE_MAX);                     /* invalid: worst case */
    /* Only looks at len bytes. */
    assert_int_equal(utf8_max_mark_run(U8("a\xcc\x81\xcc\x80"), 3), 1);
}

/* Runs utf8_nfc into a canary-filled buffer and checks nothing was written
 * past outsize. */
static long nfc_checked(const char *in, size_t len, char *out, size_t outsize, size_t bufsize)
{
    memset(out, 'X', bufsize);
    long n = utf8_nfc(U8(in), len, out, outsize);
    for (size_t i = outsize; i < bufsize; i++) {
        if (out[i] != 'X') {
            print_error("utf8_nfc wrote past outsize %zu at offset %zu\n", outsize, i);
            fail();
        }
    }
    return n;
}

static void assert_nfc(const char *in, size_t len, const char *want)
{
    char out[256];
    long n = nfc_checked(in, len, out, sizeof out, sizeof out);
    assert_int_equal(n, (long)strlen(want));
    assert_string_equal(out, want);
}

static void test_nfc_composes(void **state)
{
    (void)state;
    /* u + horn + tilde -> U+1EEF */
    assert_nfc(LIT_STR("Nu\xcc\x9b\xcc\x83"), "N\xe1\xbb\xaf");
    assert_nfc(LIT_STR("Nu\xcc\x9b\xcc\x83"), "Nữ");
    /* U+01B0 + tilde -> U+1EEF */
    assert_nfc(LIT_STR("N\xc6\xb0\xcc\x83"), "Nữ");
    /* e + circumflex + tilde -> U+1EC5 */
    assert_nfc(LIT_STR("e\xcc\x82\xcc\x83"), "\xe1\xbb\x85");
    assert_nfc(LIT_STR("Nguye\xcc\x82\xcc\x83n Va\xcc\x86n An"), "Nguyễn Văn An");
    assert_nfc(LIT_STR("So\xcc\x82\xcc\x81 1, Phu\xcc\x9bo\xcc\x9b\xcc\x80ng X, Ha\xcc\x80 No\xcc\xa3\xcc\x82i"),
               "Số 1, Phường X, Hà Nội");
    /* Mixed: some letters precomposed, some not. */
    assert_nfc(LIT_STR("Nguyễn Thi\xcc\xa3 Ho\xcc\x82\xcc\x80ng Nhung"), "Nguyễn Thị Hồng Nhung");
    /* Canonical reordering: tilde (ccc 230) typed before dot below (ccc 220). */
    assert_nfc(LIT_STR("a\xcc\x83\xcc\xa3"), "\xe1\xba\xa1\xcc\x83");
    /* Singleton: U+212B ANGSTROM SIGN -> U+00C5 */
    assert_nfc(LIT_STR("\xe2\x84\xab"), "\xc3\x85");
    /* Hangul jamo L + V -> U+AC00 */
    assert_nfc(LIT_STR("\xe1\x84\x80\xe1\x85\xa1"), "\xea\xb0\x80");
}

static void test_nfc_keeps_nfc_text(void **state)
{
    (void)state;
    assert_nfc(LIT_STR(""), "");
    assert_nfc(LIT_STR("Nam"), "Nam");
    assert_nfc(LIT_STR("Nữ"), "Nữ");
    assert_nfc(LIT_STR("Nguyễn Văn An"), "Nguyễn Văn An");
    assert_nfc(LIT_STR("Số 1, Phường X, Hà Nội"), "Số 1, Phường X, Hà Nội");
    /* A control character is valid UTF-8: NFC keeps it. */
    assert_nfc(LIT_STR("a\tb"), "a\tb");
    /* Only len bytes are read. */
    assert_nfc("Nam|garbage", 3, "Nam");
}

static void test_nfc_buffer_too_small(void **state)
{
    (void)state;
    char out[32];
    /* NFD "Nữ" is 6 bytes, its NFC is 4 bytes + NUL = 5. */
    assert_int_equal(nfc_checked("Nu\xcc\x9b\xcc\x83", 6, out, 4, sizeof out), -1);
    assert_int_equal(nfc_checked("Nu\xcc\x9b\xcc\x83", 6, out, 1, sizeof out), -1);
    assert_int_equal(nfc_checked("Nu\xcc\x9b\xcc\x83", 6, out, 0, sizeof out), -1);
    assert_int_equal(nfc_checked("Nu\xcc\x9b\xcc\x83", 6, out, 5, sizeof out), 4);
    assert_string_equal(out, "Nữ");
    /* Exact fit for ASCII: "Nam" needs 4 bytes. */
    assert_int_equal(nfc_checked("Nam", 3, out, 3, sizeof out), -1);
    assert_int_equal(nfc_checked("Nam", 3, out, 4, sizeof out), 3);
    assert_string_equal(out, "Nam");
    /* Empty input needs one byte for the NUL. */
    assert_int_equal(nfc_checked("", 0, out, 0, sizeof out), -1);
    assert_int_equal(nfc_checked("", 0, out, 1, sizeof out), 0);
    assert_int_equal(out[0], '\0');
}

static void test_nfc_rejects_invalid(void **state)
{
    (void)state;
    char out[64];
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        long n = nfc_checked(BAD[i].bytes, BAD[i].len, out, sizeof out, sizeof out);
        if (n != -1) {
            print_error("utf8_nfc returned %ld for invalid input: %s\n", n, BAD[i].name);
            fail();
        }
    }
}

static void test_length(void **state)
{
    (void)state;
    assert_int_equal(utf8_length(LIT("")), 0);
    assert_int_equal(utf8_length(LIT("abc")), 3);
    assert_int_equal(utf8_length(LIT("Nam")), 3);
    assert_int_equal(utf8_length(LIT("Nữ")), 2);
    assert_int_equal(utf8_length(LIT("Nu\xcc\x9b\xcc\x83")), 4);
    assert_int_equal(utf8_length(LIT("Nguyễn Văn An")), 13);
    assert_int_equal(utf8_length(LIT("Số 1, Phường X, Hà Nội")), 22);
    assert_int_equal(utf8_length(LIT("\xf0\x9f\x98\x80")), 1);
    assert_int_equal(utf8_length(LIT("\xf4\x8f\xbf\xbf" "a\xc2\x80")), 3);
    assert_int_equal(utf8_length(U8("Nguyễn|x"), 8), 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_accepts_well_formed),
        cmocka_unit_test(test_valid_rejects_ill_formed),
        cmocka_unit_test(test_valid_respects_len),
        cmocka_unit_test(test_has_control),
        cmocka_unit_test(test_is_hidden),
        cmocka_unit_test(test_has_hidden),
        cmocka_unit_test(test_max_mark_run),
        cmocka_unit_test(test_nfc_composes),
        cmocka_unit_test(test_nfc_keeps_nfc_text),
        cmocka_unit_test(test_nfc_buffer_too_small),
        cmocka_unit_test(test_nfc_rejects_invalid),
        cmocka_unit_test(test_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
