/* test_cccd_parse.c - cccd_parse() against the payload rules.
 *
 * Every payload is parsed from a heap copy of exactly len bytes so that ASan
 * reports any read past len. "Today" is fixed at 2026-11-27.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card/cccd_parse.h"
#include "card/text_utf8.h"

static const struct cccd_parse_opts TODAY = {.today = {2026, 11, 27}};

enum { F_ID, F_OLD, F_NAME, F_BIRTH, F_SEX, F_ADDR, F_ISSUE };

/* A consistent 2021 card: 001 Hà Nội, digit 4 = 0 (male, 1900s), 90 = 1990. */
static const char *const BASE[7] = {
    "001090012345", "123456789", "Nguyễn Văn An", "05011990", "Nam", "Số 1, Phường X, Hà Nội", "15062021",
};
#define BASE_PAYLOAD "001090012345|123456789|Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|15062021"

/* The 63 province codes of docs/cccd-payloads.md. */
static const int PROVINCES[] = {
    1,  2,  4,  6,  8,  10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33,
    34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66,
    67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
};
#define N_PROVINCES (sizeof PROVINCES / sizeof PROVINCES[0])

/* ---- helpers ------------------------------------------------------------ */

/* Printable form of a payload for failure messages. */
static const char *show(const void *p, size_t len)
{
    static char out[700];
    const unsigned char *b = p;
    bool text = utf8_valid(b, len) && !utf8_has_control(b, len);
    size_t o = 0, i;
    for (i = 0; i < len && o + 40 < sizeof out; i++) {
        if (b[i] >= 0x20 && (b[i] < 0x7f || (text && b[i] >= 0x80)))
            out[o++] = (char)b[i];
        else
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02X", b[i]);
    }
    if (i < len)
        o += (size_t)snprintf(out + o, sizeof out - o, "...(%zu bytes)", len);
    out[o < sizeof out ? o : sizeof out - 1] = '\0';
    return out;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* Parses an exact-size heap copy; *rec is pre-filled with garbage so that a
 * parser that forgets to zero it is caught. */
static enum cccd_status parse_bytes(const void *p, size_t len, const struct cccd_parse_opts *opts,
                                    struct cccd_record *rec)
{
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    if (len)
        memcpy(buf, p, len);
    memset(rec, 0xA5, sizeof *rec);
    enum cccd_status st = cccd_parse(buf, len, opts, rec);
    free(buf);
    return st;
}

static void expect_reject_at(const void *payload, size_t len, enum cccd_status want, const char *file,
                             int line)
{
    struct cccd_record rec;
    enum cccd_status got = parse_bytes(payload, len, &TODAY, &rec);
    if (got != want) {
        print_error("%s:%d: payload \"%s\": expected %s (%d), got %s (%d)\n", file, line, show(payload, len),
                    cccd_status_code(want), (int)want, cccd_status_code(got), (int)got);
        _fail(file, line);
    }
    if (!all_zero(&rec, sizeof rec)) {
        print_error("%s:%d: payload \"%s\": record not zeroed after %s\n", file, line, show(payload, len),
                    cccd_status_code(got));
        _fail(file, line);
    }
}
#define expect_reject(s, want) expect_reject_at((s), strlen(s), (want), __FILE__, __LINE__)
#define expect_reject_len(s, n, want) expect_reject_at((s), (n), (want), __FILE__, __LINE__)

static void parse_ok_at(const void *payload, size_t len, const struct cccd_parse_opts *opts,
                        struct cccd_record *rec, const char *file, int line)
{
    enum cccd_status got = parse_bytes(payload, len, opts, rec);
    if (got != CCCD_OK) {
        print_error("%s:%d: payload \"%s\": expected ok, got %s (%d)\n", file, line, show(payload, len),
                    cccd_status_code(got), (int)got);
        _fail(file, line);
    }
}
#define parse_ok(s, rec) parse_ok_at((s), strlen(s), &TODAY, (rec), __FILE__, __LINE__)
#define parse_ok_len(s, n, rec) parse_ok_at((s), (n), &TODAY, (rec), __FILE__, __LINE__)

static void assert_date(const struct cccd_date *d, int y, int m, int day)
{
    assert_int_equal(d->year, y);
    assert_int_equal(d->month, m);
    assert_int_equal(d->day, day);
}

/* Checks every field of a record parsed from BASE (or a trimmed variant). */
static void assert_base_record(const struct cccd_record *r, enum cccd_card_type type)
{
    assert_int_equal(r->card_type, type);
    assert_string_equal(r->id_number, "001090012345");
    assert_string_equal(r->old_id_number, "123456789");
    assert_string_equal(r->full_name, "Nguy\xe1\xbb\x85n V\xc4\x83n An");
    assert_date(&r->date_of_birth, 1990, 1, 5);
    assert_int_equal(r->sex, CCCD_MALE);
    assert_string_equal(r->address, "S\xe1\xbb\x91 1, Ph\xc6\xb0\xe1\xbb\x9dng X, H\xc3\xa0 N\xe1\xbb\x99i");
    assert_date(&r->issue_date, 2021, 6, 15);
    assert_int_equal(r->province_code, 1);
}

static char g_payload[8192];

static const char *join(const char *const *f, int n)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(f[i]);
        assert_true(o + l + 2 < sizeof g_payload);
        if (i)
            g_payload[o++] = '|';
        memcpy(g_payload + o, f[i], l);
        o += l;
    }
    g_payload[o] = '\0';
    return g_payload;
}

static const char *vcard(bool can_cuoc, int idx, va_list ap)
{
    const char *f[11] = {"", "", "", "", "", "", "", "", "", "", ""};
    memcpy(f, BASE, sizeof BASE);
    while (idx >= 0) {
        assert_true(idx < 7);
        f[idx] = va_arg(ap, const char *);
        idx = va_arg(ap, int);
    }
    return join(f, can_cuoc ? 11 : 7);
}

/* BASE with fields replaced: card(F_X, "value", F_Y, "value", ..., -1). */
static const char *card(int idx, ...)
{
    va_list ap;
    va_start(ap, idx);
    const char *p = vcard(false, idx, ap);
    va_end(ap);
    return p;
}
#define CARD(...) card(__VA_ARGS__, -1)

/* The same as a 2024 căn cước card: four empty fields follow. BASE's issue
 * date (2021) is before that card existed, so callers replace F_ISSUE. */
static const char *card24(int idx, ...)
{
    va_list ap;
    va_start(ap, idx);
    const char *p = vcard(true, idx, ap);
    va_end(ap);
    return p;
}
#define CARD24(...) card24(__VA_ARGS__, -1)

/* A string of n copies of c (static, one at a time per call site). */
static const char *repeat(char *buf, size_t bufsize, const char *prefix, char c, size_t total)
{
    size_t p = strlen(prefix);
    assert_true(total < bufsize && p <= total);
    memcpy(buf, prefix, p);
    memset(buf + p, c, total - p);
    buf[total] = '\0';
    return buf;
}

/* ---- accepted payloads -------------------------------------------------- */

static void test_ok_2021(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok(BASE_PAYLOAD, &r);
    assert_base_record(&r, CCCD_CARD_2021);
}

static void test_ok_2024(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok("001090012345|123456789|Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|15072024||||", &r);
    assert_int_equal(r.card_type, CCCD_CARD_2024);
    assert_string_equal(r.id_number, "001090012345");
    assert_string_equal(r.old_id_number, "123456789");
    assert_string_equal(r.full_name, "Nguyễn Văn An");
    assert_date(&r.date_of_birth, 1990, 1, 5);
    assert_int_equal(r.sex, CCCD_MALE);
    assert_string_equal(r.address, "Số 1, Phường X, Hà Nội");
    assert_date(&r.issue_date, 2024, 7, 15);
    assert_int_equal(r.province_code, 1);

    /* Extra fields holding only spaces are empty after trimming. */
    parse_ok("001090012345|123456789|Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|15072024| |   |  |", &r);
    assert_int_equal(r.card_type, CCCD_CARD_2024);
    assert_date(&r.issue_date, 2024, 7, 15);
}

static void test_ok_old_id_variants(void **state)
{
    (void)state;
    struct cccd_record r;

    parse_ok(CARD(F_OLD, ""), &r);
    assert_string_equal(r.old_id_number, "");
    assert_string_equal(r.id_number, "001090012345");
    assert_string_equal(r.full_name, "Nguyễn Văn An");

    parse_ok(CARD(F_OLD, "1234567890"), &r);
    assert_string_equal(r.old_id_number, "1234567890");

    parse_ok(CARD(F_OLD, "B12345678"), &r);
    assert_string_equal(r.old_id_number, "B12345678");

    parse_ok(CARD(F_OLD, "AB1234567890"), &r); /* 12, the maximum */
    assert_string_equal(r.old_id_number, "AB1234567890");

    parse_ok(CARD(F_OLD, "  123456789 "), &r);
    assert_string_equal(r.old_id_number, "123456789");

    parse_ok(CARD(F_OLD, "   "), &r);
    assert_string_equal(r.old_id_number, "");
}

static void test_ok_bom(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok("\xef\xbb\xbf" BASE_PAYLOAD, &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok("\xef\xbb\xbf" BASE_PAYLOAD "\r\n", &r);
    assert_base_record(&r, CCCD_CARD_2021);
}

static void test_ok_trailing_newlines(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok(BASE_PAYLOAD "\r\n", &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok(BASE_PAYLOAD "\n", &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok(BASE_PAYLOAD "\r", &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok(BASE_PAYLOAD "\r\n\r\n", &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok("001090012345|123456789|Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|15072024||||\r\n", &r);
    assert_int_equal(r.card_type, CCCD_CARD_2024);
}

static void test_ok_surrounding_whitespace(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok("   " BASE_PAYLOAD "   ", &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok("\t" BASE_PAYLOAD " \t", &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok(" 001090012345 |123456789|Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|15062021", &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok(" 001090012345 | 123456789 |  Nguyễn Văn An  | 05011990 | Nam | Số 1, Phường X, Hà Nội | 15062021 ",
             &r);
    assert_base_record(&r, CCCD_CARD_2021);
}

/* Tabs around any field are trimmed like spaces (issue 13: a tab around an
 * inner field used to be refused as bad-encoding). */
static void test_ok_tabs_around_fields(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok("001090012345\t|\t123456789\t|\tNguyễn Văn An\t|05011990\t|\tNam|\t Số 1, Phường X, Hà Nội \t|"
             "\t15062021",
             &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok(CARD(F_NAME, "\tNguyễn Văn An"), &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok(CARD(F_ID, "001090012345\t"), &r);
    assert_base_record(&r, CCCD_CARD_2021);
    parse_ok(CARD(F_OLD, "\t"), &r);
    assert_string_equal(r.old_id_number, "");
    /* The four reserved fields of a 2024 card may hold only tabs and spaces. */
    parse_ok("001090012345|123456789|Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|15072024| |\t| \t |\t", &r);
    assert_int_equal(r.card_type, CCCD_CARD_2024);
    assert_string_equal(r.full_name, "Nguyễn Văn An");
}

/* NFD input (as some scanner apps deliver it) comes out NFC. */
static void test_ok_nfd_normalised(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok("001190012345|123456789|"
             "Nguye\xcc\x82\xcc\x83n Thi\xcc\xa3 Ho\xcc\x82\xcc\x80ng Nhung|05011990|"
             "Nu\xcc\x9b\xcc\x83|"
             "So\xcc\x82\xcc\x81 1, Phu\xcc\x9bo\xcc\x9b\xcc\x80ng X, Ha\xcc\x80 No\xcc\xa3\xcc\x82i|15062021",
             &r);
    assert_string_equal(r.full_name, "Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b H\xe1\xbb\x93ng Nhung");
    assert_string_equal(r.full_name, "Nguyễn Thị Hồng Nhung");
    assert_int_equal(r.sex, CCCD_FEMALE);
    assert_string_equal(r.address, "Số 1, Phường X, Hà Nội");
    assert_string_equal(r.id_number, "001190012345");
    assert_date(&r.date_of_birth, 1990, 1, 5);

    /* U+01B0 followed by combining tilde is also "Nữ". */
    parse_ok("001190012345||Nguyễn Thị Hồng Nhung|05011990|N\xc6\xb0\xcc\x83|Hà Nội|15062021", &r);
    assert_int_equal(r.sex, CCCD_FEMALE);
    assert_string_equal(r.full_name, "Nguyễn Thị Hồng Nhung");
}

static void test_ok_female_and_2000s(void **state)
{
    (void)state;
    struct cccd_record r;

    /* digit 4 = 1: female, 1900s */
    parse_ok("001190012345||Nguyễn Thị Hồng Nhung|05011990|Nữ|Số 1, Phường X, Hà Nội|15062021", &r);
    assert_int_equal(r.sex, CCCD_FEMALE);
    assert_string_equal(r.id_number, "001190012345");
    assert_string_equal(r.old_id_number, "");
    assert_date(&r.date_of_birth, 1990, 1, 5);

    /* digit 4 = 2: male, 2000s */
    parse_ok("036205012345||Phạm Quốc Bảo|12032005|Nam|Xã Hải Hậu, Nam Định|01072024||||", &r);
    assert_int_equal(r.card_type, CCCD_CARD_2024);
    assert_int_equal(r.sex, CCCD_MALE);
    assert_string_equal(r.id_number, "036205012345");
    assert_string_equal(r.full_name, "Phạm Quốc Bảo");
    assert_date(&r.date_of_birth, 2005, 3, 12);
    assert_string_equal(r.address, "Xã Hải Hậu, Nam Định");
    assert_date(&r.issue_date, 2024, 7, 1);
    assert_int_equal(r.province_code, 36);

    /* digit 4 = 3: female, 2000s */
    parse_ok("079310000123||Trần Thị Bích Ngọc|31122010|Nữ|Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh|20082025||||", &r);
    assert_int_equal(r.card_type, CCCD_CARD_2024);
    assert_int_equal(r.sex, CCCD_FEMALE);
    assert_string_equal(r.id_number, "079310000123");
    assert_date(&r.date_of_birth, 2010, 12, 31);
    assert_date(&r.issue_date, 2025, 8, 20);
    assert_int_equal(r.province_code, 79);
    assert_string_equal(r.address, "Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh");

    /* Born 1900, digit 4 = 0, year digits 00. */
    parse_ok("096000000001||Lê Văn Thọ|01011900|Nam|Cà Mau|02022022", &r);
    assert_date(&r.date_of_birth, 1900, 1, 1);
    assert_int_equal(r.province_code, 96);

    /* Born 1999: last year of the 1900s. */
    parse_ok("002199123456||Hoàng Thu Trang|31121999|Nữ|Hà Giang|15062021", &r);
    assert_date(&r.date_of_birth, 1999, 12, 31);
    assert_int_equal(r.sex, CCCD_FEMALE);
    assert_int_equal(r.province_code, 2);
}

static void test_ok_country_code(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok("840090012345||Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|15062021", &r);
    assert_int_equal(r.province_code, 840);
    assert_string_equal(r.id_number, "840090012345");
    parse_ok("100190012345||Nguyễn Thị Hồng Nhung|05011990|Nữ|Hà Nội|15062021", &r);
    assert_int_equal(r.province_code, 100);
    parse_ok("999205012345||Phạm Quốc Bảo|12032005|Nam|Hà Nội|01072024", &r);
    assert_int_equal(r.province_code, 999);
}

static void test_ok_every_province(void **state)
{
    (void)state;
    assert_int_equal(N_PROVINCES, 63);
    for (int p = 0; p < 100; p++) {
        char id[32];
        snprintf(id, sizeof id, "%03d090012345", p % 1000);
        bool known = false;
        for (size_t i = 0; i < N_PROVINCES; i++)
            known |= PROVINCES[i] == p;
        const char *payload = CARD(F_ID, id);
        if (known) {
            struct cccd_record r;
            parse_ok(payload, &r);
            assert_int_equal(r.province_code, p);
            assert_string_equal(r.id_number, id);
        } else {
            expect_reject(payload, CCCD_ERR_ID_PROVINCE);
        }
    }
}

static void test_ok_leap_days(void **state)
{
    (void)state;
    struct cccd_record r;
    /* 2000 is a leap year (divisible by 400). */
    parse_ok("001200012345||Lê Minh Đức|29022000|Nam|Số 5, Phường Y, Hà Nội|29022024", &r);
    assert_date(&r.date_of_birth, 2000, 2, 29);
    assert_date(&r.issue_date, 2024, 2, 29);
    assert_string_equal(r.full_name, "Lê Minh Đức");
    parse_ok(CARD(F_ID, "001096012345", F_BIRTH, "29021996"), &r);
    assert_date(&r.date_of_birth, 1996, 2, 29);
    /* Month ends. */
    parse_ok(CARD(F_BIRTH, "31011990", F_ISSUE, "30042021"), &r);
    assert_date(&r.date_of_birth, 1990, 1, 31);
    assert_date(&r.issue_date, 2021, 4, 30);
    parse_ok(CARD(F_BIRTH, "28021990", F_ISSUE, "31122021"), &r);
    assert_date(&r.date_of_birth, 1990, 2, 28);
    assert_date(&r.issue_date, 2021, 12, 31);
}

static void test_ok_dates_equal_today(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok(CARD24(F_ISSUE, "27112026"), &r);
    assert_date(&r.issue_date, 2026, 11, 27);
    /* Born yesterday, issued today (a căn cước for a baby; born and issued
     * on the same day is refused: test_issue_too_young). */
    parse_ok(CARD24(F_ID, "001226000001", F_BIRTH, "26112026", F_ISSUE, "27112026"), &r);
    assert_date(&r.date_of_birth, 2026, 11, 26);
    assert_date(&r.issue_date, 2026, 11, 27);
}

static void test_ok_name_shapes(void **state)
{
    (void)state;
    struct cccd_record r;
    /* A combining mark with no precomposed form stays a mark after NFC:
     * i + tilde + dot below -> U+1ECB + U+0303. */
    parse_ok(CARD(F_NAME, "Nguyễn Thị Mi\xcc\x83\xcc\xa3"), &r);
    assert_string_equal(r.full_name, "Nguyễn Thị M\xe1\xbb\x8b\xcc\x83");
    static const char *const names[] = {
        "H'Hen Niê",         "Y-Moan Ênuôl",  "Nguyen V. An", "NGUYỄN VĂN AN",    "Đặng Thị Ánh Tuyết",
        "Âu Dương Phong",    "Ksor H'Bia",    "A",           "Lò Văn Xuân",      "Tạ Thị Ngọc Ý",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        parse_ok(CARD(F_NAME, names[i]), &r);
        assert_string_equal(r.full_name, names[i]);
    }
}

static void test_ok_field_bounds(void **state)
{
    (void)state;
    struct cccd_record r;
    char name[CCCD_NAME_MAX + 64], addr[CCCD_ADDRESS_MAX + 64];

    repeat(name, sizeof name, "Nguyễn Văn ", 'a', CCCD_NAME_MAX);
    parse_ok(CARD(F_NAME, name), &r);
    assert_int_equal(strlen(r.full_name), CCCD_NAME_MAX);
    assert_string_equal(r.full_name, name);

    repeat(addr, sizeof addr, "Số 1, Phường X, Hà Nội ", 'x', CCCD_ADDRESS_MAX);
    parse_ok(CARD(F_ADDR, addr), &r);
    assert_int_equal(strlen(r.address), CCCD_ADDRESS_MAX);
    assert_string_equal(r.address, addr);

    /* The bound is on NFC bytes: "A" + 53 x U+1EC5 is 160 bytes in NFC but
     * 266 in NFD. */
    char nfd[512], nfc[256];
    size_t o = 0, c = 0;
    nfd[o++] = 'A';
    nfc[c++] = 'A';
    for (int i = 0; i < 53; i++) {
        memcpy(nfd + o, "e\xcc\x82\xcc\x83", 5);
        o += 5;
        memcpy(nfc + c, "\xe1\xbb\x85", 3);
        c += 3;
    }
    nfd[o] = nfc[c] = '\0';
    assert_int_equal(c, CCCD_NAME_MAX);
    parse_ok(CARD(F_NAME, nfd), &r);
    assert_string_equal(r.full_name, nfc);
}

/* CCCD_PAYLOAD_MAX bytes (padding is whitespace that trimming removes). */
static void test_ok_payload_max(void **state)
{
    (void)state;
    struct cccd_record r;
    char addr[CCCD_PAYLOAD_MAX + 1];
    size_t base_len = strlen(BASE_PAYLOAD);
    size_t addr_len = strlen(BASE[F_ADDR]);
    repeat(addr, sizeof addr, BASE[F_ADDR], ' ', addr_len + (CCCD_PAYLOAD_MAX - base_len));
    const char *p = CARD(F_ADDR, addr);
    assert_int_equal(strlen(p), CCCD_PAYLOAD_MAX);
    parse_ok(p, &r);
    assert_base_record(&r, CCCD_CARD_2021);
}

static void test_ok_len_not_nul_terminated(void **state)
{
    (void)state;
    struct cccd_record r;
    /* Only len bytes count: what follows is not part of the payload. */
    const char *p = BASE_PAYLOAD "|x|garbage\xff";
    parse_ok_len(p, strlen(BASE_PAYLOAD), &r);
    assert_base_record(&r, CCCD_CARD_2021);
}

static void test_ok_null_opts_uses_clock(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok_at(BASE_PAYLOAD, strlen(BASE_PAYLOAD), NULL, &r, __FILE__, __LINE__);
    assert_base_record(&r, CCCD_CARD_2021);
    /* Born in 2100: in the future for any clock this test will meet. */
    struct cccd_record r2;
    const char *p = CARD(F_ID, "001400012345", F_BIRTH, "01012100", F_ISSUE, "01012100");
    assert_int_equal(parse_bytes(p, strlen(p), NULL, &r2), CCCD_ERR_BIRTH_FUTURE);
    assert_true(all_zero(&r2, sizeof r2));
}

static void test_opts_now(void **state)
{
    (void)state;
    struct cccd_parse_opts o;
    memset(&o, 0xA5, sizeof o);
    cccd_parse_opts_now(&o);
    assert_in_range(o.today.year, 2024, 2200);
    assert_in_range(o.today.month, 1, 12);
    assert_in_range(o.today.day, 1, 31);
}

/* ---- rejections --------------------------------------------------------- */

static void test_not_card(void **state)
{
    (void)state;
    expect_reject("", CCCD_NOT_CARD);
    expect_reject("https://vneid.gov.vn/", CCCD_NOT_CARD);
    expect_reject("https://example.vn/check?id=001090012345&token=abc", CCCD_NOT_CARD);
    expect_reject("https://example.vn/a|b|c|d|e|f|g", CCCD_NOT_CARD);
    const char *token = "dGhpcyBpcyBhIHZlcmlmeSB0b2tlbiBmb3IgYXBw";
    assert_int_equal(strlen(token), 40);
    expect_reject(token, CCCD_NOT_CARD);
    expect_reject("||||||", CCCD_NOT_CARD);
    expect_reject("||||||||||", CCCD_NOT_CARD);
    expect_reject("\xef\xbb\xbf||||||\r\n", CCCD_NOT_CARD);
    expect_reject("{\"id\":\"001090012345\",\"name\":\"Nguyễn Văn An\",\"dob\":\"05011990\"}", CCCD_NOT_CARD);
    expect_reject("a|b|c", CCCD_NOT_CARD);
    expect_reject("0912345678", CCCD_NOT_CARD);
    expect_reject("   \r\n", CCCD_NOT_CARD);
    /* Fewer than 5 fields, even with a numeric first field. */
    expect_reject("001090012345|123456789|Nguyễn Văn An|05011990", CCCD_NOT_CARD);
    /* First field not 1-20 ASCII digits. */
    expect_reject("00109001234A|123456789|Nguyễn Văn An|05011990|Nam|Hà Nội|15062021", CCCD_NOT_CARD);
    expect_reject("ID001090012345|123456789|Nguyễn Văn An|05011990|Nam|Hà Nội|15062021", CCCD_NOT_CARD);
    expect_reject("001 090 012 345|123456789|Nguyễn Văn An|05011990|Nam|Hà Nội|15062021", CCCD_NOT_CARD);
    expect_reject("+84912345678|a|b|c|d|e|f", CCCD_NOT_CARD);
    expect_reject("123456789012345678901|123456789|Nguyễn Văn An|05011990|Nam|Hà Nội|15062021", CCCD_NOT_CARD);
    expect_reject("\xef\xbc\x90\xef\xbc\x90\xef\xbc\x91|a|b|c|d|e|f", CCCD_NOT_CARD); /* fullwidth digits */
    /* Random binary (a PNG header with pipes). */
    static const unsigned char bin[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, '|', 0xff, '|',
                                        0x80, '|',  0x01, '|', 0xfe, '|',  0x12, 0x34, '|', 0x00};
    expect_reject_len(bin, sizeof bin, CCCD_NOT_CARD);
    static const unsigned char nul[] = {0x00, '|', '1', '|', '2', '|', '3', '|', '4', '|', '5', '|', '6'};
    expect_reject_len(nul, sizeof nul, CCCD_NOT_CARD);
    /* Long non-card input is NOT_CARD, not TOO_LONG. */
    char big[5000];
    repeat(big, sizeof big, "", 'A', sizeof big - 1);
    expect_reject(big, CCCD_NOT_CARD);
    for (size_t i = 100; i < sizeof big - 1; i += 100)
        big[i] = '|';
    expect_reject(big, CCCD_NOT_CARD);
}

static void test_too_long(void **state)
{
    (void)state;
    char addr[CCCD_PAYLOAD_MAX + 1];
    size_t base_len = strlen(BASE_PAYLOAD);
    size_t addr_len = strlen(BASE[F_ADDR]);
    /* Card-shaped, CCCD_PAYLOAD_MAX + 1 bytes. */
    repeat(addr, sizeof addr, BASE[F_ADDR], 'a', addr_len + (CCCD_PAYLOAD_MAX + 1 - base_len));
    const char *p = CARD(F_ADDR, addr);
    assert_int_equal(strlen(p), CCCD_PAYLOAD_MAX + 1);
    expect_reject(p, CCCD_ERR_TOO_LONG);
    /* Padding that trimming would remove still counts: the limit is on raw bytes. */
    repeat(addr, sizeof addr, BASE[F_ADDR], ' ', addr_len + (CCCD_PAYLOAD_MAX + 1 - base_len));
    p = CARD(F_ADDR, addr);
    assert_int_equal(strlen(p), CCCD_PAYLOAD_MAX + 1);
    expect_reject(p, CCCD_ERR_TOO_LONG);
    /* Before the UTF-8 check: invalid bytes in an over-long payload. */
    repeat(addr, sizeof addr, BASE[F_ADDR], '\xff', addr_len + (CCCD_PAYLOAD_MAX + 1 - base_len));
    expect_reject(CARD(F_ADDR, addr), CCCD_ERR_TOO_LONG);
    /* Very long. */
    static char huge[100000];
    memcpy(huge, BASE_PAYLOAD, base_len);
    memset(huge + base_len, ' ', sizeof huge - 1 - base_len);
    huge[sizeof huge - 1] = '\0';
    expect_reject(huge, CCCD_ERR_TOO_LONG);
}

static void test_bad_utf8(void **state)
{
    (void)state;
    expect_reject(CARD(F_NAME, "Nguy\x80n Văn An"), CCCD_ERR_UTF8);                  /* lone continuation */
    expect_reject(CARD(F_ADDR, "S\xc0\xaf 1, Hà Nội"), CCCD_ERR_UTF8);                 /* overlong */
    expect_reject(CARD(F_NAME, "Nguy\xed\xa0\x80n"), CCCD_ERR_UTF8);                   /* surrogate */
    expect_reject(CARD(F_NAME, "An \xf4\x90\x80\x80"), CCCD_ERR_UTF8);                 /* > U+10FFFF */
    expect_reject(CARD(F_SEX, "N\xff"), CCCD_ERR_UTF8);
    expect_reject(BASE_PAYLOAD "\xe1\xbb", CCCD_ERR_UTF8);                             /* truncated at end */
    expect_reject(BASE_PAYLOAD "\xc3", CCCD_ERR_UTF8);
    expect_reject("\xef\xbb" BASE_PAYLOAD, CCCD_NOT_CARD); /* half a BOM: first field is not digits */
    /* Latin-1 / Windows-1258 bytes instead of UTF-8. */
    expect_reject(CARD(F_NAME, "Nguy\xean V\xe3n An"), CCCD_ERR_UTF8);
}

static void test_control_chars(void **state)
{
    (void)state;
    /* NUL inside the name. */
    char buf[256];
    const char *p = CARD(F_NAME, "Nguyễn@Văn An");
    size_t len = strlen(p);
    memcpy(buf, p, len);
    *strchr(buf, '@') = '\0';
    expect_reject_len(buf, len, CCCD_ERR_UTF8);
    /* NUL at the very end (after the issue date). */
    memcpy(buf, BASE_PAYLOAD, strlen(BASE_PAYLOAD));
    buf[strlen(BASE_PAYLOAD)] = '\0';
    expect_reject_len(buf, strlen(BASE_PAYLOAD) + 1, CCCD_ERR_UTF8);

    /* A TAB inside a field is a control character; around a field it is
     * trimmed like a space (test_ok_tabs_around_fields). */
    expect_reject(CARD(F_NAME, "Nguyễn\tVăn An"), CCCD_ERR_UTF8);
    expect_reject(CARD(F_NAME, " \tNguyễn\tVăn An\t "), CCCD_ERR_UTF8);
    expect_reject(CARD(F_ADDR, "Số 1,\tHà Nội"), CCCD_ERR_UTF8);
    expect_reject(CARD(F_ISSUE, "1506\t2021"), CCCD_ERR_UTF8);
    /* Only an empty field after trimming: the field's own rule decides. */
    expect_reject(CARD(F_ADDR, "  \t "), CCCD_ERR_ADDRESS);
    expect_reject(CARD(F_ADDR, "Số 1\nHà Nội"), CCCD_ERR_UTF8);         /* LF inside */
    expect_reject(CARD(F_ADDR, "Số 1\r\nHà Nội"), CCCD_ERR_UTF8);
    expect_reject(CARD(F_ADDR, "Số 1\x7f, Hà Nội"), CCCD_ERR_UTF8);     /* DEL */
    expect_reject(CARD(F_NAME, "Nguyễn\xc2\x85Văn An"), CCCD_ERR_UTF8); /* U+0085 NEL (C1) */
    expect_reject(CARD(F_ADDR, "\x1b[31mHà Nội"), CCCD_ERR_UTF8);       /* ESC */
    expect_reject(CARD(F_OLD, "12345\x01" "6789"), CCCD_ERR_UTF8);
    expect_reject(CARD(F_ISSUE, "1506\x0b" "2021"), CCCD_ERR_UTF8);
    /* A CR/LF before the end is not trailing. */
    expect_reject(CARD(F_SEX, "Nam\r\n"), CCCD_ERR_UTF8);
}

/* Writes cp as UTF-8 (1-4 bytes) plus a NUL; returns out. */
static const char *utf8_of(int32_t cp, char out[5])
{
    unsigned u = (unsigned)cp;
    if (u < 0x80) {
        out[0] = (char)u;
        out[1] = '\0';
    } else if (u < 0x800) {
        out[0] = (char)(0xC0 | u >> 6);
        out[1] = (char)(0x80 | (u & 0x3F));
        out[2] = '\0';
    } else if (u < 0x10000) {
        out[0] = (char)(0xE0 | u >> 12);
        out[1] = (char)(0x80 | (u >> 6 & 0x3F));
        out[2] = (char)(0x80 | (u & 0x3F));
        out[3] = '\0';
    } else {
        out[0] = (char)(0xF0 | u >> 18);
        out[1] = (char)(0x80 | (u >> 12 & 0x3F));
        out[2] = (char)(0x80 | (u >> 6 & 0x3F));
        out[3] = (char)(0x80 | (u & 0x3F));
        out[4] = '\0';
    }
    return out;
}

/* Issue 13, case 1: bidi controls, zero-width characters, an inner BOM,
 * line/paragraph separators, noncharacters and private-use characters are
 * refused wherever they are (they were accepted in the address, and refused
 * in the name only as name-invalid). */
static void test_hidden_chars(void **state)
{
    (void)state;
    static const int32_t hidden[] = {
        0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069,
        0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x2028, 0x2029, 0xFDD0, 0xFDEF, 0xFFFE, 0xFFFF, 0x1FFFE,
        0x10FFFF, 0xE000, 0xF8FF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD, 0x00AD, 0xFE0F, 0x034F, 0xE0041,
    };
    char cp[5], name[64], addr[96];
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        utf8_of(hidden[i], cp);
        snprintf(name, sizeof name, "Nguy%sễn Văn An", cp);
        expect_reject(CARD(F_NAME, name), CCCD_ERR_HIDDEN_CHARS);
        snprintf(name, sizeof name, "Nguyễn Văn An%s", cp); /* at the end: not trimmed */
        expect_reject(CARD(F_NAME, name), CCCD_ERR_HIDDEN_CHARS);
        snprintf(addr, sizeof addr, "Số 1, Phường X,%s Hà Nội", cp);
        expect_reject(CARD(F_ADDR, addr), CCCD_ERR_HIDDEN_CHARS);
        snprintf(addr, sizeof addr, "%s15062021", cp); /* anywhere, not only in text fields */
        expect_reject(CARD(F_ISSUE, addr), CCCD_ERR_HIDDEN_CHARS);
        snprintf(addr, sizeof addr, "%s", cp);
        expect_reject(CARD(F_OLD, addr), CCCD_ERR_HIDDEN_CHARS);
    }
    /* The spoof the issue describes: RLO makes "nA" read as "An". */
    expect_reject(CARD(F_NAME, "Nguyễn Văn \xe2\x80\xaenA"), CCCD_ERR_HIDDEN_CHARS);
    /* A BOM is forgiven only in front of the payload, once. */
    expect_reject(BASE_PAYLOAD "\xef\xbb\xbf", CCCD_ERR_HIDDEN_CHARS);
    expect_reject("001090012345|\xef\xbb\xbf" "123456789|Nguyễn Văn An|05011990|Nam|Hà Nội|15062021",
                  CCCD_ERR_HIDDEN_CHARS);
    /* In the reserved fields of a 2024 card: hidden, not "extra data". */
    expect_reject(BASE_PAYLOAD "||\xe2\x80\x8b||", CCCD_ERR_HIDDEN_CHARS);
    /* In the ID number the payload is not card-shaped at all. */
    expect_reject("\xe2\x80\x8b" BASE_PAYLOAD, CCCD_NOT_CARD);
    expect_reject("\xef\xbb\xbf\xef\xbb\xbf" BASE_PAYLOAD, CCCD_NOT_CARD);
    /* Order: bad-encoding first, then hidden characters, then the field count. */
    expect_reject(CARD(F_NAME, "Nguy\xe2\x80\xaen\x01"), CCCD_ERR_UTF8);
    expect_reject(BASE_PAYLOAD "|\xe2\x80\xae", CCCD_ERR_HIDDEN_CHARS);
    /* Vietnamese text, NFC or NFD, and visible symbols stay accepted. */
    struct cccd_record r;
    parse_ok(CARD(F_NAME, "Nguye\xcc\x82\xcc\x83n Va\xcc\x86n An"), &r);
    assert_string_equal(r.full_name, "Nguyễn Văn An");
    parse_ok(CARD(F_ADDR, "Số 1/2 – “Ngõ” Đông, Hà Nội"), &r);
    assert_string_equal(r.address, "Số 1/2 – “Ngõ” Đông, Hà Nội");
}

static void test_field_count(void **state)
{
    (void)state;
    expect_reject("001090012345|123456789|Nguyễn Văn An|05011990|Nam", CCCD_ERR_FIELD_COUNT);  /* 5 */
    expect_reject("001090012345|123456789|Nguyễn Văn An|05011990|Nam|Số 1, Hà Nội", CCCD_ERR_FIELD_COUNT); /* 6 */
    expect_reject(BASE_PAYLOAD "|", CCCD_ERR_FIELD_COUNT);                                         /* 8 */
    expect_reject(BASE_PAYLOAD "|||", CCCD_ERR_FIELD_COUNT);                                       /* 10 */
    expect_reject(BASE_PAYLOAD "|||||", CCCD_ERR_FIELD_COUNT);                                     /* 12 */
    expect_reject(BASE_PAYLOAD "|||||||||||||||||||||", CCCD_ERR_FIELD_COUNT);
    expect_reject("123|a|b|c|d", CCCD_ERR_FIELD_COUNT);
    expect_reject(BASE_PAYLOAD "|\r\n", CCCD_ERR_FIELD_COUNT);
}

static void test_extra_fields(void **state)
{
    (void)state;
    expect_reject(BASE_PAYLOAD "|x|||", CCCD_ERR_EXTRA_FIELDS);
    expect_reject(BASE_PAYLOAD "||x||", CCCD_ERR_EXTRA_FIELDS);
    expect_reject(BASE_PAYLOAD "|||x|", CCCD_ERR_EXTRA_FIELDS);
    expect_reject(BASE_PAYLOAD "||||0", CCCD_ERR_EXTRA_FIELDS);
    expect_reject(BASE_PAYLOAD "|001090012345|001190012345|001205012345|001305012345", CCCD_ERR_EXTRA_FIELDS);
    expect_reject(BASE_PAYLOAD "|| . ||\r\n", CCCD_ERR_EXTRA_FIELDS);
}

static void test_id_format(void **state)
{
    (void)state;
    expect_reject(CARD(F_ID, "00109001234"), CCCD_ERR_ID_FORMAT);          /* 11 */
    expect_reject(CARD(F_ID, "0010900123456"), CCCD_ERR_ID_FORMAT);        /* 13 */
    expect_reject(CARD(F_ID, "0"), CCCD_ERR_ID_FORMAT);                    /* 1 */
    expect_reject(CARD(F_ID, "123456789"), CCCD_ERR_ID_FORMAT);            /* an old 9-digit CMND */
    expect_reject(CARD(F_ID, "00109001234500000000"), CCCD_ERR_ID_FORMAT); /* 20 */
    expect_reject(CARD(F_ID, " 00109001234 "), CCCD_ERR_ID_FORMAT);
    /* An ID holding a letter never looks like a card (rule 2). */
    expect_reject(CARD(F_ID, "00109001234A"), CCCD_NOT_CARD);
}

static void test_old_id(void **state)
{
    (void)state;
    expect_reject(CARD(F_OLD, "12345678"), CCCD_ERR_OLD_ID);      /* 8 */
    expect_reject(CARD(F_OLD, "1234567890123"), CCCD_ERR_OLD_ID); /* 13 */
    expect_reject(CARD(F_OLD, "1"), CCCD_ERR_OLD_ID);
    expect_reject(CARD(F_OLD, "123-456-789"), CCCD_ERR_OLD_ID);
    expect_reject(CARD(F_OLD, "1234 56789"), CCCD_ERR_OLD_ID);
    expect_reject(CARD(F_OLD, "12345678Đ"), CCCD_ERR_OLD_ID);     /* non-ASCII letter */
    expect_reject(CARD(F_OLD, "123456789."), CCCD_ERR_OLD_ID);
}

static void test_name(void **state)
{
    (void)state;
    char name[CCCD_NAME_MAX + 64];
    expect_reject(CARD(F_NAME, ""), CCCD_ERR_NAME);
    expect_reject(CARD(F_NAME, "   "), CCCD_ERR_NAME);
    expect_reject(CARD(F_NAME, "Nguyễn Văn 2"), CCCD_ERR_NAME);
    expect_reject(CARD(F_NAME, "Nguyen Van An1"), CCCD_ERR_NAME);
    expect_reject(CARD(F_NAME, "Nguyễn Văn @n"), CCCD_ERR_NAME);
    expect_reject(CARD(F_NAME, "Nguyễn, Văn An"), CCCD_ERR_NAME);
    expect_reject(CARD(F_NAME, "Nguyễn Văn An!"), CCCD_ERR_NAME);
    expect_reject(CARD(F_NAME, "Nguyễn Văn An \xf0\x9f\x98\x80"), CCCD_ERR_NAME); /* emoji */
    expect_reject(CARD(F_NAME, "Nguyễn Văn \xd9\xa3"), CCCD_ERR_NAME);            /* Arabic-Indic digit */
    expect_reject(CARD(F_NAME, "-"), CCCD_ERR_NAME);                              /* no letter */
    expect_reject(CARD(F_NAME, "- . '"), CCCD_ERR_NAME);
    expect_reject(CARD(F_NAME, "Nguyễn_Văn_An"), CCCD_ERR_NAME);
    repeat(name, sizeof name, "Nguyễn Văn ", 'a', CCCD_NAME_MAX + 1);
    expect_reject(CARD(F_NAME, name), CCCD_ERR_NAME);
    repeat(name, sizeof name, "Nguyễn Văn ", 'a', CCCD_NAME_MAX + 40);
    expect_reject(CARD(F_NAME, name), CCCD_ERR_NAME);
}

/* Appends n combining marks, cycling through U+0300..U+033F, to out (not
 * U+0340..U+0344, which NFC replaces, U+0344 by two marks). */
static void append_marks(char *out, size_t size, int n)
{
    size_t o = strlen(out);
    for (int i = 0; i < n; i++) {
        unsigned cp = 0x300u + (unsigned)i % 0x40u;
        assert_true(o + 3 < size);
        out[o++] = (char)(0xC0 | cp >> 6);
        out[o++] = (char)(0x80 | (cp & 0x3F));
    }
    out[o] = '\0';
}

/* Issue 13, case 2: a name of one letter and 79 combining marks ("zalgo")
 * fits in 160 bytes and was accepted. At most CCCD_MARKS_MAX marks in a row,
 * counted after NFC, in the name and the address. */
static void test_stacked_marks(void **state)
{
    (void)state;
    char text[400];
    strcpy(text, "Z");
    append_marks(text, sizeof text, 79);
    assert_true(strlen(text) <= CCCD_NAME_MAX);
    expect_reject(CARD(F_NAME, text), CCCD_ERR_STACKED_MARKS);
    strcpy(text, "Nguyễn Văn Z");
    append_marks(text, sizeof text, 20);
    expect_reject(CARD(F_NAME, text), CCCD_ERR_STACKED_MARKS);
    strcpy(text, "Số 1, Phường X, Hà Nội");
    append_marks(text, sizeof text, 30);
    expect_reject(CARD(F_ADDR, text), CCCD_ERR_STACKED_MARKS);

    /* The bound, after NFC: i + dot below + tilde + grave + acute is U+1ECB
     * and three marks (nothing composes further): accepted; a fourth is refused. */
    struct cccd_record r;
    parse_ok(CARD(F_NAME, "Nguyễn Thị Mi\xcc\xa3\xcc\x83\xcc\x80\xcc\x81"), &r);
    assert_string_equal(r.full_name, "Nguyễn Thị M\xe1\xbb\x8b\xcc\x83\xcc\x80\xcc\x81");
    expect_reject(CARD(F_NAME, "Nguyễn Thị Mi\xcc\xa3\xcc\x83\xcc\x80\xcc\x81\xcc\x89"),
                  CCCD_ERR_STACKED_MARKS);
    /* U+0334..U+0337 (overlays) compose with nothing. */
    parse_ok(CARD(F_ADDR, "Hà Nội\xcc\xb4\xcc\xb5\xcc\xb6"), &r);
    assert_string_equal(r.address, "Hà Nội\xcc\xb4\xcc\xb5\xcc\xb6");
    expect_reject(CARD(F_ADDR, "Hà Nội\xcc\xb4\xcc\xb5\xcc\xb6\xcc\xb7"), CCCD_ERR_STACKED_MARKS);
    /* Counted after NFC: five raw marks of which two compose leave three. */
    parse_ok(CARD(F_NAME, "Nguye\xcc\x82\xcc\x83\xcc\x80\xcc\x81\xcc\x89n"), &r);
    /* Marks at the start of a field, with no letter: still a run. */
    expect_reject(CARD(F_ADDR, "\xcc\x80\xcc\x81\xcc\x83\xcc\x89Hà Nội"), CCCD_ERR_STACKED_MARKS);
    /* Fully decomposed Vietnamese (two marks per letter) stays accepted. */
    parse_ok(CARD(F_NAME, "Nguye\xcc\x82\xcc\x83n Thi\xcc\xa3 Ngo\xcc\x9b\xcc\xa3" "c Tru\xcc\x9b\xcc\x80ng"), &r);
    assert_string_equal(r.full_name, "Nguyễn Thị Ngợc Trừng");
    /* Order: the name's character rule first, the marks next, then the next field. */
    strcpy(text, "Z2");
    append_marks(text, sizeof text, 10);
    expect_reject(CARD(F_NAME, text), CCCD_ERR_NAME);
    strcpy(text, "Z");
    append_marks(text, sizeof text, 10);
    expect_reject(CARD(F_NAME, text, F_BIRTH, "32011990"), CCCD_ERR_STACKED_MARKS);
    expect_reject(CARD(F_NAME, "Nguyễn 2", F_ADDR, text), CCCD_ERR_NAME);
    expect_reject(CARD(F_ADDR, text, F_ISSUE, "32012021"), CCCD_ERR_STACKED_MARKS);
}

static void test_birth_date(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "29022001",  /* Feb 29 of a non-leap year */
        "29021900",  /* 1900 is not a leap year */
        "30021992",  /* Feb 30 */
        "31041990",  /* 31 April */
        "31061990",  /* 31 June */
        "05131990",  /* month 13 */
        "05001990",  /* month 00 */
        "00011990",  /* day 00 */
        "32011990",  /* day 32 */
        "05011899",  /* before 1900 */
        "01010000",
        "5011990",   /* 7 digits */
        "050119900", /* 9 digits */
        "0501199O",  /* letter O */
        "05/01/1990",
        "1990-01-05",
        "",
        "0501 1990",
        "\xef\xbc\x90" "5011990", /* fullwidth zero */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(CARD(F_BIRTH, bad[i]), CCCD_ERR_BIRTH_DATE);
}

static void test_sex(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Nu", "nam", "NAM", "Male", "M", "F", "Nữa", "", "Nam Nữ", "nữ", "NỮ", "0", "Nă", "N\xc6\xb0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(CARD(F_SEX, bad[i]), CCCD_ERR_SEX);
    /* Surrounding spaces are trimmed, so this one is fine. */
    struct cccd_record r;
    parse_ok(CARD(F_SEX, "  Nam "), &r);
    assert_int_equal(r.sex, CCCD_MALE);
}

static void test_address(void **state)
{
    (void)state;
    char addr[CCCD_ADDRESS_MAX + 64];
    expect_reject(CARD(F_ADDR, ""), CCCD_ERR_ADDRESS);
    expect_reject(CARD(F_ADDR, "    "), CCCD_ERR_ADDRESS);
    repeat(addr, sizeof addr, "Số 1, Phường X, Hà Nội ", 'x', CCCD_ADDRESS_MAX + 1);
    expect_reject(CARD(F_ADDR, addr), CCCD_ERR_ADDRESS);
}

static void test_issue_date(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "29022021", "31022021", "31042021", "15132021", "15002021", "00062021", "32062021",
        "15061899", "1506202",  "150620211", "15-06-21", "15O62021", "",         "2021-06-15",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(CARD(F_ISSUE, bad[i]), CCCD_ERR_ISSUE_DATE);
}

static void test_id_province(void **state)
{
    (void)state;
    expect_reject(CARD(F_ID, "003090012345"), CCCD_ERR_ID_PROVINCE);
    expect_reject(CARD(F_ID, "000090012345"), CCCD_ERR_ID_PROVINCE);
    expect_reject(CARD(F_ID, "097090012345"), CCCD_ERR_ID_PROVINCE);
    expect_reject(CARD(F_ID, "099090012345"), CCCD_ERR_ID_PROVINCE);
}

static void test_id_century(void **state)
{
    (void)state;
    /* digit 4 = 2 (2000s) with a 1990 birth */
    expect_reject(CARD(F_ID, "001290012345"), CCCD_ERR_ID_CENTURY);
    /* digit 4 = 3 (2000s, female) with a 1990 birth */
    expect_reject(CARD(F_ID, "001390012345", F_SEX, "Nữ"), CCCD_ERR_ID_CENTURY);
    /* digit 4 = 0 (1900s) with a 2005 birth */
    expect_reject(CARD(F_ID, "001005012345", F_BIRTH, "12032005", F_ISSUE, "01072024"), CCCD_ERR_ID_CENTURY);
    /* digit 4 = 4 (2100s) with a 2005 birth */
    expect_reject(CARD(F_ID, "001405012345", F_BIRTH, "12032005", F_ISSUE, "01072024"), CCCD_ERR_ID_CENTURY);
    /* digit 4 = 9 */
    expect_reject(CARD(F_ID, "001990012345", F_SEX, "Nữ"), CCCD_ERR_ID_CENTURY);
}

static void test_id_sex(void **state)
{
    (void)state;
    struct cccd_record r;
    parse_ok(BASE_PAYLOAD, &r); /* digit 4 = 0 and "Nam" agree */
    /* The reference page's example: digit 4 = 1 (female) but "Nam". */
    expect_reject("001190012345|123456789|Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|15062021",
                  CCCD_ERR_ID_SEX);
    expect_reject(CARD(F_SEX, "Nữ"), CCCD_ERR_ID_SEX); /* digit 4 = 0 (male) */
    expect_reject(CARD(F_ID, "001305012345", F_BIRTH, "12032005", F_ISSUE, "01072024"), CCCD_ERR_ID_SEX);
    expect_reject(CARD(F_ID, "001205012345", F_BIRTH, "12032005", F_ISSUE, "01072024", F_SEX, "Nữ"),
                  CCCD_ERR_ID_SEX);
}

static void test_id_year(void **state)
{
    (void)state;
    expect_reject(CARD(F_ID, "001091012345"), CCCD_ERR_ID_YEAR);
    expect_reject(CARD(F_ID, "001009012345"), CCCD_ERR_ID_YEAR); /* digits swapped */
    expect_reject(CARD(F_ID, "001289012345", F_BIRTH, "12032005", F_ISSUE, "01072024"), CCCD_ERR_ID_YEAR);
    expect_reject(CARD(F_ID, "840091012345"), CCCD_ERR_ID_YEAR); /* with a country code too */
}

static void test_birth_future(void **state)
{
    (void)state;
    expect_reject(CARD(F_ID, "001226012345", F_BIRTH, "28112026", F_ISSUE, "28112026"), CCCD_ERR_BIRTH_FUTURE);
    expect_reject(CARD(F_ID, "001227012345", F_BIRTH, "01012027", F_ISSUE, "01012027"), CCCD_ERR_BIRTH_FUTURE);
    expect_reject(CARD(F_ID, "001226012345", F_BIRTH, "01122026", F_ISSUE, "27112026"), CCCD_ERR_BIRTH_FUTURE);
}

static void test_issue_before_birth(void **state)
{
    (void)state;
    expect_reject(CARD(F_ISSUE, "04011990"), CCCD_ERR_ISSUE_BEFORE_BIRTH);
    expect_reject(CARD(F_ISSUE, "05121989"), CCCD_ERR_ISSUE_BEFORE_BIRTH);
    expect_reject(CARD(F_ISSUE, "01011900"), CCCD_ERR_ISSUE_BEFORE_BIRTH);
}

static void test_issue_future(void **state)
{
    (void)state;
    expect_reject(CARD(F_ISSUE, "28112026"), CCCD_ERR_ISSUE_FUTURE);
    expect_reject(CARD(F_ISSUE, "01122026"), CCCD_ERR_ISSUE_FUTURE);
    expect_reject(CARD(F_ISSUE, "01012027"), CCCD_ERR_ISSUE_FUTURE);
    expect_reject(CARD(F_ISSUE, "27112126"), CCCD_ERR_ISSUE_FUTURE);
}

/* Issue 13, cases 3-5: each card type has the period it was issued in.
 * 11 fields (căn cước): from 1 July 2024. 7 fields (chip CCCD): from
 * 1 January 2021 to 31 July 2024 (30 June 2024 plus a month of grace). */
static void test_card_periods(void **state)
{
    (void)state;
    struct cccd_record r;
    /* Case 3: a căn cước card issued before 1 July 2024, e.g. in 2016. */
    expect_reject(CARD24(F_ISSUE, "15062016"), CCCD_ERR_ISSUE_BEFORE_CAN_CUOC);
    expect_reject(CARD24(F_ISSUE, "15062021"), CCCD_ERR_ISSUE_BEFORE_CAN_CUOC);
    expect_reject(CARD24(F_ISSUE, "30062024"), CCCD_ERR_ISSUE_BEFORE_CAN_CUOC);
    parse_ok(CARD24(F_ISSUE, "01072024"), &r);
    assert_int_equal(r.card_type, CCCD_CARD_2024);
    assert_date(&r.issue_date, 2024, 7, 1);

    /* Case 4: a chip CCCD issued after the căn cước replaced it. */
    expect_reject(CARD(F_ISSUE, "15032026"), CCCD_ERR_ISSUE_AFTER_CCCD);
    expect_reject(CARD(F_ISSUE, "27112026"), CCCD_ERR_ISSUE_AFTER_CCCD);
    expect_reject(CARD(F_ISSUE, "01082024"), CCCD_ERR_ISSUE_AFTER_CCCD);
    parse_ok(CARD(F_ISSUE, "30062024"), &r); /* the last day of the 2014 law */
    assert_date(&r.issue_date, 2024, 6, 30);
    parse_ok(CARD(F_ISSUE, "31072024"), &r); /* the last day of grace */
    assert_int_equal(r.card_type, CCCD_CARD_2021);
    assert_date(&r.issue_date, 2024, 7, 31);

    /* Case 5: a chip CCCD issued before there were any (1950, the barcode
     * card's 2016-2020, the last day before 2021). */
    expect_reject(CARD(F_ID, "001040012345", F_BIRTH, "05011940", F_ISSUE, "05011950"), CCCD_ERR_ISSUE_BEFORE_CCCD);
    expect_reject(CARD(F_ISSUE, "01012016"), CCCD_ERR_ISSUE_BEFORE_CCCD);
    expect_reject(CARD(F_ISSUE, "31122020"), CCCD_ERR_ISSUE_BEFORE_CCCD);
    parse_ok(CARD(F_ISSUE, "01012021"), &r);
    assert_date(&r.issue_date, 2021, 1, 1);

    /* Order: the date checks that need no card type come first. */
    expect_reject(CARD(F_ISSUE, "04011990"), CCCD_ERR_ISSUE_BEFORE_BIRTH);
    expect_reject(CARD(F_ISSUE, "28112026"), CCCD_ERR_ISSUE_FUTURE);
    expect_reject(CARD24(F_ISSUE, "04011990"), CCCD_ERR_ISSUE_BEFORE_BIRTH);
    expect_reject(CARD(F_ID, "001227012345", F_BIRTH, "01012027", F_ISSUE, "01012019"), CCCD_ERR_BIRTH_FUTURE);
    expect_reject(CARD(F_ID, "001091012345", F_ISSUE, "01012019"), CCCD_ERR_ID_YEAR);
}

/* Issue 13, case 6: an issue date equal to the birth date was accepted. A
 * căn cước is issued after the day of birth; a chip CCCD from the holder's
 * 14th birthday. */
static void test_issue_too_young(void **state)
{
    (void)state;
    struct cccd_record r;
    /* On the day of birth. */
    expect_reject(CARD24(F_ID, "001226000001", F_BIRTH, "27112026", F_ISSUE, "27112026"), CCCD_ERR_ISSUE_TOO_YOUNG);
    expect_reject(CARD24(F_ID, "001224000001", F_BIRTH, "01082024", F_ISSUE, "01082024"), CCCD_ERR_ISSUE_TOO_YOUNG);
    expect_reject(CARD24(F_ISSUE, "05011990"), CCCD_ERR_ISSUE_BEFORE_CAN_CUOC); /* the period comes first */
    expect_reject(CARD(F_ID, "001222000001", F_BIRTH, "01012022", F_ISSUE, "01012022"), CCCD_ERR_ISSUE_TOO_YOUNG);
    /* A căn cước for a child: any day after birth. */
    parse_ok(CARD24(F_ID, "001224000001", F_BIRTH, "01082024", F_ISSUE, "02082024"), &r);
    assert_date(&r.issue_date, 2024, 8, 2);
    parse_ok(CARD24(F_ID, "001312000001", F_SEX, "Nữ", F_BIRTH, "15052012", F_ISSUE, "10032025"), &r);
    assert_int_equal(r.card_type, CCCD_CARD_2024);
    /* A chip CCCD: from the 14th birthday. */
    expect_reject(CARD(F_ID, "001208000001", F_BIRTH, "12032008", F_ISSUE, "11032022"), CCCD_ERR_ISSUE_TOO_YOUNG);
    expect_reject(CARD(F_ID, "001210000001", F_BIRTH, "15072010", F_ISSUE, "30062024"), CCCD_ERR_ISSUE_TOO_YOUNG);
    parse_ok(CARD(F_ID, "001208000001", F_BIRTH, "12032008", F_ISSUE, "12032022"), &r);
    assert_date(&r.issue_date, 2022, 3, 12);
    /* Born on 29 February: 14 on 28 February of a common year (14 is not a
     * multiple of 4, so the 14th birthday never falls in a leap year). */
    expect_reject(CARD(F_ID, "001208000001", F_BIRTH, "29022008", F_ISSUE, "27022022"), CCCD_ERR_ISSUE_TOO_YOUNG);
    parse_ok(CARD(F_ID, "001208000001", F_BIRTH, "29022008", F_ISSUE, "28022022"), &r);
    assert_date(&r.date_of_birth, 2008, 2, 29);
    /* Order: the card period before the age (born 2008, a chip CCCD dated 2020). */
    expect_reject(CARD(F_ID, "001208000001", F_BIRTH, "12032008", F_ISSUE, "12032020"), CCCD_ERR_ISSUE_BEFORE_CCCD);
}

/* Several defects at once: the first check in the documented order wins. */
static void test_check_order(void **state)
{
    (void)state;
    char buf[CCCD_PAYLOAD_MAX + 64];
    /* TOO_LONG before UTF8 is in test_too_long; NOT_CARD before TOO_LONG in test_not_card. */
    /* UTF8 before FIELD_COUNT */
    expect_reject("001090012345|123456789|Nguy\xffn|05011990|Nam|Hà Nội|15062021|", CCCD_ERR_UTF8);
    expect_reject("123|\xff|\xfe|\x80|x", CCCD_ERR_UTF8);
    /* FIELD_COUNT before the fields */
    expect_reject("00109001234|12|Nguyễn 2|05131990|Male||99999999|", CCCD_ERR_FIELD_COUNT);
    /* EXTRA_FIELDS before the fields */
    expect_reject("00109001234|12|Nguyễn 2|05131990|Male||99999999|x|||", CCCD_ERR_EXTRA_FIELDS);
    /* Field checks in field order */
    expect_reject(CARD(F_ID, "00109001234", F_OLD, "12"), CCCD_ERR_ID_FORMAT);
    expect_reject(CARD(F_OLD, "12", F_NAME, "Nguyễn 2"), CCCD_ERR_OLD_ID);
    expect_reject(CARD(F_NAME, "Nguyễn 2", F_BIRTH, "05131990"), CCCD_ERR_NAME);
    expect_reject(CARD(F_BIRTH, "05131990", F_SEX, "Male"), CCCD_ERR_BIRTH_DATE);
    expect_reject(CARD(F_SEX, "Male", F_ADDR, ""), CCCD_ERR_SEX);
    expect_reject(CARD(F_ADDR, "", F_ISSUE, "99999999"), CCCD_ERR_ADDRESS);
    /* All field checks before the cross-checks */
    expect_reject(CARD(F_ID, "003190012345", F_ISSUE, "99999999"), CCCD_ERR_ISSUE_DATE);
    expect_reject(CARD(F_ID, "003190012345", F_SEX, "Nu"), CCCD_ERR_SEX);
    expect_reject(CARD(F_ID, "003190012345", F_BIRTH, "29022001"), CCCD_ERR_BIRTH_DATE);
    repeat(buf, sizeof buf, "Nguyễn Văn ", 'a', CCCD_NAME_MAX + 1);
    expect_reject(CARD(F_ID, "003190012345", F_NAME, buf), CCCD_ERR_NAME);
    /* Cross-checks in order */
    expect_reject(CARD(F_ID, "003291012345", F_ISSUE, "01012027"), CCCD_ERR_ID_PROVINCE);
    expect_reject(CARD(F_ID, "001391012345", F_ISSUE, "01012027"), CCCD_ERR_ID_CENTURY);
    expect_reject(CARD(F_ID, "001191012345", F_ISSUE, "01012027"), CCCD_ERR_ID_SEX);
    expect_reject(CARD(F_ID, "001228012345", F_BIRTH, "01012027", F_ISSUE, "01012026"), CCCD_ERR_ID_YEAR);
    expect_reject(CARD(F_ID, "001227012345", F_BIRTH, "01012027", F_ISSUE, "01012026"), CCCD_ERR_BIRTH_FUTURE);
    expect_reject(CARD(F_ID, "001227012345", F_BIRTH, "01012027", F_ISSUE, "01022027"), CCCD_ERR_BIRTH_FUTURE);
}

/* A failed parse leaves no trace of an earlier successful one. */
static void test_record_zeroed_after_ok(void **state)
{
    (void)state;
    struct cccd_record r;
    const char *good = BASE_PAYLOAD;
    assert_int_equal(cccd_parse((const uint8_t *)good, strlen(good), &TODAY, &r), CCCD_OK);
    assert_string_equal(r.id_number, "001090012345");
    static const char *const bad[] = {
        "https://vneid.gov.vn/",
        "001190012345|123456789|Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|15062021",
        "001090012345|123456789|Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|28112026",
        "001090012345|123456789|Nguyễn Văn An|05011990|Nam|Số 1, Phường X, Hà Nội|",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cccd_parse((const uint8_t *)good, strlen(good), &TODAY, &r), CCCD_OK);
        assert_int_not_equal(cccd_parse((const uint8_t *)bad[i], strlen(bad[i]), &TODAY, &r), CCCD_OK);
        assert_true(all_zero(&r, sizeof r));
    }
}

/* ---- status strings and formatting -------------------------------------- */

static bool is_code_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static void test_status_strings(void **state)
{
    (void)state;
    for (int i = 0; i < CCCD_STATUS_COUNT; i++) {
        enum cccd_status st = (enum cccd_status)i;
        const char *code = cccd_status_code(st);
        const char *en = cccd_status_message_en(st);
        const char *vi = cccd_status_message_vi(st);
        assert_non_null(code);
        assert_non_null(en);
        assert_non_null(vi);
        assert_true(code[0] != '\0');
        assert_true(en[0] != '\0');
        assert_true(vi[0] != '\0');
        assert_string_not_equal(code, "unknown");
        for (const char *c = code; *c; c++) {
            if (!is_code_char(*c)) {
                print_error("status %d code \"%s\" is not a lower-case short code\n", i, code);
                fail();
            }
        }
        assert_true(utf8_valid((const uint8_t *)en, strlen(en)));
        assert_false(utf8_has_control((const uint8_t *)en, strlen(en)));
        if (!utf8_valid((const uint8_t *)vi, strlen(vi)) || utf8_has_control((const uint8_t *)vi, strlen(vi))) {
            print_error("status %d: Vietnamese message is not clean UTF-8\n", i);
            fail();
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(code, cccd_status_code((enum cccd_status)j)) == 0) {
                print_error("statuses %d and %d share the code \"%s\"\n", j, i, code);
                fail();
            }
        }
    }
    /* The header's example code. */
    assert_string_equal(cccd_status_code(CCCD_ERR_ID_SEX), "id-sex-mismatch");
    /* The Vietnamese messages are Vietnamese: at least one holds a non-ASCII letter. */
    bool non_ascii = false;
    for (int i = 0; i < CCCD_STATUS_COUNT; i++)
        for (const char *c = cccd_status_message_vi((enum cccd_status)i); *c; c++)
            non_ascii |= (unsigned char)*c >= 0x80;
    assert_true(non_ascii);
}

static void test_status_out_of_range(void **state)
{
    (void)state;
    const enum cccd_status out[] = {(enum cccd_status)CCCD_STATUS_COUNT, (enum cccd_status)(CCCD_STATUS_COUNT + 1),
                                    (enum cccd_status)255, (enum cccd_status)-1};
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
        assert_string_equal(cccd_status_code(out[i]), "unknown");
        const char *en = cccd_status_message_en(out[i]);
        const char *vi = cccd_status_message_vi(out[i]);
        assert_non_null(en);
        assert_non_null(vi);
        assert_true(en[0] != '\0');
        assert_true(vi[0] != '\0');
        assert_true(utf8_valid((const uint8_t *)vi, strlen(vi)));
    }
}

static void test_card_type_name_and_date_format(void **state)
{
    (void)state;
    assert_string_equal(cccd_card_type_name(CCCD_CARD_2021), "cccd-2021");
    assert_string_equal(cccd_card_type_name(CCCD_CARD_2024), "can-cuoc-2024");
    char out[11];
    struct cccd_date d = {1990, 1, 5};
    memset(out, 'X', sizeof out);
    cccd_date_format(&d, out);
    assert_string_equal(out, "1990-01-05");
    d = (struct cccd_date){2026, 11, 27};
    cccd_date_format(&d, out);
    assert_string_equal(out, "2026-11-27");
    /* A parsed record formats back to its dates. */
    struct cccd_record r;
    parse_ok("001200012345||Lê Minh Đức|29022000|Nam|Hà Nội|01072024||||", &r);
    cccd_date_format(&r.date_of_birth, out);
    assert_string_equal(out, "2000-02-29");
    cccd_date_format(&r.issue_date, out);
    assert_string_equal(out, "2024-07-01");
    assert_string_equal(cccd_card_type_name(r.card_type), "can-cuoc-2024");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_2021),
        cmocka_unit_test(test_ok_2024),
        cmocka_unit_test(test_ok_old_id_variants),
        cmocka_unit_test(test_ok_bom),
        cmocka_unit_test(test_ok_trailing_newlines),
        cmocka_unit_test(test_ok_surrounding_whitespace),
        cmocka_unit_test(test_ok_tabs_around_fields),
        cmocka_unit_test(test_ok_nfd_normalised),
        cmocka_unit_test(test_ok_female_and_2000s),
        cmocka_unit_test(test_ok_country_code),
        cmocka_unit_test(test_ok_every_province),
        cmocka_unit_test(test_ok_leap_days),
        cmocka_unit_test(test_ok_dates_equal_today),
        cmocka_unit_test(test_ok_name_shapes),
        cmocka_unit_test(test_ok_field_bounds),
        cmocka_unit_test(test_ok_payload_max),
        cmocka_unit_test(test_ok_len_not_nul_terminated),
        cmocka_unit_test(test_ok_null_opts_uses_clock),
        cmocka_unit_test(test_opts_now),
        cmocka_unit_test(test_not_card),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_bad_utf8),
        cmocka_unit_test(test_control_chars),
        cmocka_unit_test(test_hidden_chars),
        cmocka_unit_test(test_field_count),
        cmocka_unit_test(test_extra_fields),
        cmocka_unit_test(test_id_format),
        cmocka_unit_test(test_old_id),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_stacked_marks),
        cmocka_unit_test(test_birth_date),
        cmocka_unit_test(test_sex),
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_issue_date),
        cmocka_unit_test(test_id_province),
        cmocka_unit_test(test_id_century),
        cmocka_unit_test(test_id_sex),
        cmocka_unit_test(test_id_year),
        cmocka_unit_test(test_birth_future),
        cmocka_unit_test(test_issue_before_birth),
        cmocka_unit_test(test_issue_future),
        cmocka_unit_test(test_card_periods),
        cmocka_unit_test(test_issue_too_young),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_record_zeroed_after_ok),
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_status_out_of_range),
        cmocka_unit_test(test_card_type_name_and_date_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
