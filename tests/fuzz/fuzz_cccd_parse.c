/* fuzz_cccd_parse.c - libFuzzer target for cccd_parse().
 *
 * Any byte string must parse without a sanitizer report, and the result must
 * obey the contract of include/card/cccd_parse.h:
 *   - the status is in range and has a code and messages;
 *   - on CCCD_OK every string is NUL-terminated inside its array, clean NFC
 *     UTF-8, trimmed and within bounds; the dates are real and in order; the
 *     issue date lies in the card type's period, after the day of birth
 *     and, for a chip CCCD, from the 14th birthday; the
 *     ID number agrees with the birth date, the sex and the province code;
 *     the name and address hold none of the hidden code points of issue 13
 *     and never more than CCCD_MARKS_MAX combining marks in a row;
 *   - on any other status the record is all zero bytes;
 *   - a leading BOM or a trailing "\r\n" does not change the verdict.
 * A violation calls abort() after printing which invariant failed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card/cccd_parse.h"
#include "card/text_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cccd_parse_opts OPTS = {.today = {2026, 11, 27}};

static const unsigned char PROVINCES[] = {
    1,  2,  4,  6,  8,  10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33,
    34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66,
    67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
};

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "fuzz_cccd_parse: invariant failed at line %d: %s\n", __LINE__, #cond); \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

static bool date_real(const struct cccd_date *d)
{
    return d->year >= 1900 && d->year <= 9999 && d->month >= 1 && d->month <= 12 && d->day >= 1 &&
           d->day <= days_in_month(d->year, d->month);
}

static int date_cmp(const struct cccd_date *a, const struct cccd_date *b)
{
    if (a->year != b->year)
        return a->year < b->year ? -1 : 1;
    if (a->month != b->month)
        return a->month < b->month ? -1 : 1;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return 0;
}

/* Decodes one code point of valid UTF-8 at s; returns its length. */
static size_t decode_utf8(const unsigned char *s, int32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    int32_t v = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++)
        v = v << 6 | (s[i] & 0x3F);
    *cp = v;
    return n;
}

/* The code points issue 13 names, written out here independently of
 * utf8_is_hidden(): none may reach an accepted record. */
static bool refused_code_point(int32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 ||
           cp == 0xFEFF || cp == 0x2028 || cp == 0x2029 || (cp >= 0xFDD0 && cp <= 0xFDEF) ||
           (cp & 0xFFFE) == 0xFFFE || (cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000;
}

/* Combining marks of the blocks Vietnamese and zalgo text use. A run of
 * these is a lower bound of utf8_max_mark_run(), so it must stay within
 * CCCD_MARKS_MAX too. */
static bool is_combining_mark(int32_t cp)
{
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x1DC0 && cp <= 0x1DFF) ||
           (cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0xFE20 && cp <= 0xFE2F);
}

/* No refused code point, and never more than CCCD_MARKS_MAX marks in a row. */
static void check_text_chars(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    int run = 0;
    while (*p) {
        int32_t cp;
        p += decode_utf8(p, &cp);
        CHECK(!refused_code_point(cp));
        run = is_combining_mark(cp) ? run + 1 : 0;
        CHECK(run <= CCCD_MARKS_MAX);
    }
    CHECK(utf8_max_mark_run((const uint8_t *)s, strlen(s)) <= CCCD_MARKS_MAX);
}

/* A text field: terminated inside its array, min..max bytes, valid UTF-8
 * without control characters, already NFC, no surrounding spaces. */
static void check_text(const char *s, size_t cap, size_t min)
{
    const char *nul = memchr(s, '\0', cap);
    CHECK(nul != NULL);
    size_t len = (size_t)(nul - s);
    CHECK(len >= min && len < cap);
    CHECK(utf8_valid((const uint8_t *)s, len));
    CHECK(!utf8_has_control((const uint8_t *)s, len));
    if (len) {
        CHECK(s[0] != ' ' && s[len - 1] != ' ');
        char nfc[CCCD_ADDRESS_MAX + 1];
        long n = utf8_nfc((const uint8_t *)s, len, nfc, sizeof nfc);
        CHECK(n == (long)len && memcmp(nfc, s, len) == 0);
        check_text_chars(s);
    }
}

static void check_record(const struct cccd_record *r)
{
    CHECK(r->card_type == CCCD_CARD_2021 || r->card_type == CCCD_CARD_2024);
    CHECK(r->sex == CCCD_MALE || r->sex == CCCD_FEMALE);

    /* ID number: exactly 12 ASCII digits. */
    CHECK(memchr(r->id_number, '\0', sizeof r->id_number) != NULL);
    CHECK(strlen(r->id_number) == CCCD_ID_LEN);
    for (int i = 0; i < CCCD_ID_LEN; i++)
        CHECK(is_digit(r->id_number[i]));

    /* Old ID: empty or 9..12 ASCII letters/digits. */
    CHECK(memchr(r->old_id_number, '\0', sizeof r->old_id_number) != NULL);
    size_t old_len = strlen(r->old_id_number);
    CHECK(old_len == 0 || (old_len >= 9 && old_len <= CCCD_OLD_ID_MAX));
    for (size_t i = 0; i < old_len; i++)
        CHECK(is_alnum(r->old_id_number[i]));

    check_text(r->full_name, sizeof r->full_name, 1);
    check_text(r->address, sizeof r->address, 1);
    for (const char *c = r->full_name; *c; c++)
        CHECK(!is_digit(*c) && *c != '|');

    /* Dates: real, born no later than issued, neither after today. */
    CHECK(date_real(&r->date_of_birth));
    CHECK(date_real(&r->issue_date));
    CHECK(date_cmp(&r->date_of_birth, &r->issue_date) <= 0);
    CHECK(date_cmp(&r->issue_date, &OPTS.today) <= 0);

    /* Never issued on the day of birth; a chip CCCD from the 14th birthday
     * (28 February for someone born on 29 February). */
    CHECK(date_cmp(&r->date_of_birth, &r->issue_date) < 0);
    if (r->card_type == CCCD_CARD_2021) {
        const struct cccd_date *b = &r->date_of_birth, *i = &r->issue_date;
        int age = i->year - b->year - (i->month < b->month || (i->month == b->month && i->day < b->day));
        bool leap_birthday = b->month == 2 && b->day == 29 && i->month == 2 && i->day == 28 &&
                             days_in_month(i->year, 2) == 28;
        CHECK(age >= 14 || (age == 13 && leap_birthday && i->year - b->year == 14));
    }

    /* The issue date lies in its card type's period (docs/payload-rules.md). */
    static const struct cccd_date cccd_first = {2021, 1, 1}, cccd_last = {2024, 7, 31},
                                  can_cuoc_first = {2024, 7, 1};
    if (r->card_type == CCCD_CARD_2024) {
        CHECK(date_cmp(&r->issue_date, &can_cuoc_first) >= 0);
    } else {
        CHECK(date_cmp(&r->issue_date, &cccd_first) >= 0);
        CHECK(date_cmp(&r->issue_date, &cccd_last) <= 0);
    }

    /* The ID agrees with the rest. */
    const char *id = r->id_number;
    int province = (id[0] - '0') * 100 + (id[1] - '0') * 10 + (id[2] - '0');
    int d4 = id[3] - '0';
    int yy = (id[4] - '0') * 10 + (id[5] - '0');
    CHECK(r->province_code == province);
    if (id[0] == '0') {
        bool known = false;
        for (size_t i = 0; i < sizeof PROVINCES; i++)
            known |= PROVINCES[i] == province;
        CHECK(known);
    }
    CHECK(d4 / 2 == (r->date_of_birth.year - 1900) / 100);
    CHECK((d4 % 2 == 1) == (r->sex == CCCD_FEMALE));
    CHECK(yy == r->date_of_birth.year % 100);
}

static enum cccd_status parse_checked(const uint8_t *data, size_t size, struct cccd_record *rec)
{
    memset(rec, 0x5A, sizeof *rec);
    enum cccd_status st = cccd_parse(data, size, &OPTS, rec);
    CHECK((unsigned)st < CCCD_STATUS_COUNT);
    const char *code = cccd_status_code(st);
    const char *en = cccd_status_message_en(st);
    const char *vi = cccd_status_message_vi(st);
    CHECK(code && *code && en && *en && vi && *vi);
    if (st == CCCD_OK)
        check_record(rec);
    else
        CHECK(all_zero(rec, sizeof *rec));
    if (size > CCCD_PAYLOAD_MAX && st != CCCD_NOT_CARD)
        CHECK(st == CCCD_ERR_TOO_LONG);
    return st;
}

static void check_same(enum cccd_status st, const struct cccd_record *a, enum cccd_status st2,
                       const struct cccd_record *b)
{
    if (st != st2) {
        fprintf(stderr, "fuzz_cccd_parse: verdict changed: %s -> %s\n", cccd_status_code(st),
                cccd_status_code(st2));
        abort();
    }
    if (st != CCCD_OK)
        return;
    CHECK(a->card_type == b->card_type && a->sex == b->sex && a->province_code == b->province_code);
    CHECK(strcmp(a->id_number, b->id_number) == 0);
    CHECK(strcmp(a->old_id_number, b->old_id_number) == 0);
    CHECK(strcmp(a->full_name, b->full_name) == 0);
    CHECK(strcmp(a->address, b->address) == 0);
    CHECK(date_cmp(&a->date_of_birth, &b->date_of_birth) == 0);
    CHECK(date_cmp(&a->issue_date, &b->issue_date) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cccd_record rec, rec2;
    enum cccd_status st = parse_checked(data, size, &rec);

    /* What scanners add must not change the verdict. Only within the length
     * limit (the limit is on raw bytes), and a BOM only once: a second BOM is
     * text, not an encoding mark. */
    if (size + 3 <= CCCD_PAYLOAD_MAX) {
        uint8_t *buf = malloc(size + 3);
        CHECK(buf != NULL);
        if (!(size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)) {
            memcpy(buf, "\xef\xbb\xbf", 3);
            if (size)
                memcpy(buf + 3, data, size);
            check_same(st, &rec, parse_checked(buf, size + 3, &rec2), &rec2);
        }
        if (size)
            memcpy(buf, data, size);
        memcpy(buf + size, "\r\n", 2);
        check_same(st, &rec, parse_checked(buf, size + 2, &rec2), &rec2);
        free(buf);
    }
    return 0;
}
