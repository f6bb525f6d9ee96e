/* cccd_parse.c - card payload → verified record.
 *
 * The parser works on a private, bounded view of the input: it first decides
 * whether the bytes are card-shaped at all (so a URL is "not a card", not a
 * "broken card"), then checks each field on its own, then checks the fields
 * against each other. Each step returns the first defect it finds; the order
 * is documented in docs/payload-rules.md and is part of the contract. */
#include "card/cccd_parse.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "card/text_utf8.h"

#define FIELDS_2021 7
#define FIELDS_2024 11
#define FIELDS_MAX 12 /* one more than we accept, to tell "too many" */

enum { F_ID, F_OLD_ID, F_NAME, F_BIRTH, F_SEX, F_ADDRESS, F_ISSUE };

struct span {
    const uint8_t *p;
    size_t len;
};

/* Provinces by birth-registration code (Circular 07/2016). Codes merged in
 * 2025 stay valid: cards were not re-numbered. */
static const unsigned char province_codes[] = {
    1,  2,  4,  6,  8,  10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33,
    34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66,
    67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
};

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(struct span s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!is_digit(s.p[i]))
            return false;
    return true;
}

static struct span trim(struct span s)
{
    while (s.len && is_space(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len && is_space(s.p[s.len - 1]))
        s.len--;
    return s;
}

/* Removes what scanners and apps add around the card's text: a BOM in
 * front, CR/LF behind, spaces on both sides. */
static struct span trim_payload(const uint8_t *p, size_t len)
{
    struct span s = { p, len };
    if (s.len >= 3 && memcmp(s.p, "\xef\xbb\xbf", 3) == 0) {
        s.p += 3;
        s.len -= 3;
    }
    for (;;) {
        size_t before = s.len;
        while (s.len && (s.p[s.len - 1] == '\r' || s.p[s.len - 1] == '\n'))
            s.len--;
        s = trim(s);
        if (s.len == before)
            return s;
    }
}

/* Splits on '|'. Stops at FIELDS_MAX fields: more than that is already
 * "wrong field count", whatever follows. */
static int split_fields(struct span s, struct span f[FIELDS_MAX])
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= s.len && n < FIELDS_MAX; i++) {
        if (i < s.len && s.p[i] != '|')
            continue;
        f[n].p = s.p + start;
        f[n].len = i - start;
        n++;
        start = i + 1;
    }
    return n;
}

/* Control characters are refused inside a field, but the spaces and tabs
 * that scanners put around fields are trimmed, not refused. So the check
 * runs on every '|'-separated piece of the payload (all of them, even past
 * FIELDS_MAX, so that no byte escapes it) after trimming that piece. */
static bool control_inside_fields(struct span s)
{
    size_t start = 0;
    for (size_t i = 0; i <= s.len; i++) {
        if (i < s.len && s.p[i] != '|')
            continue;
        struct span piece = trim((struct span){ s.p + start, i - start });
        if (utf8_has_control(piece.p, piece.len))
            return true;
        start = i + 1;
    }
    return false;
}

static bool card_shaped(const struct span *f, int n)
{
    struct span id = trim(f[F_ID]);
    return n >= 5 && id.len >= 1 && id.len <= 20 && all_digits(id);
}

/* ---- dates -------------------------------------------------------------- */

static bool leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

static int digits_value(const uint8_t *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

/* ddMMyyyy, a real Gregorian date from 1900 on. */
static bool parse_date(struct span s, struct cccd_date *d)
{
    if (s.len != 8 || !all_digits(s))
        return false;
    d->day = digits_value(s.p, 2);
    d->month = digits_value(s.p + 2, 2);
    d->year = digits_value(s.p + 4, 4);
    return d->year >= 1900 && d->month >= 1 && d->month <= 12 && d->day >= 1 &&
           d->day <= days_in_month(d->year, d->month);
}

static int date_cmp(const struct cccd_date *a, const struct cccd_date *b)
{
    long ka = (long)a->year * 10000 + a->month * 100 + a->day;
    long kb = (long)b->year * 10000 + b->month * 100 + b->day;
    return (ka > kb) - (ka < kb);
}

/* ---- text fields ------------------------------------------------------- */

static bool copy_nfc(struct span s, char *out, size_t outsize)
{
    return s.len > 0 && utf8_nfc(s.p, s.len, out, outsize) > 0;
}

/* Letters (any script), combining marks, and the few marks seen in names. */
static bool name_chars_ok(const char *name)
{
    const uint8_t *p = (const uint8_t *)name;
    size_t len = strlen(name);
    bool letter = false;
    while (len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, (utf8proc_ssize_t)len, &cp);
        if (n <= 0)
            return false;
        utf8proc_category_t cat = utf8proc_category(cp);
        bool is_letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
        bool is_mark = cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME;
        if (!is_letter && !is_mark && cp != ' ' && cp != '-' && cp != '\'' && cp != '.')
            return false;
        letter |= is_letter;
        p += n;
        len -= (size_t)n;
    }
    return letter;
}

/* More marks on one letter than Vietnamese ever needs: "zalgo" text, which
 * spills over neighbouring lines on a screen and hides what is written. */
static bool marks_stacked(const char *text)
{
    return utf8_max_mark_run((const uint8_t *)text, strlen(text)) > CCCD_MARKS_MAX;
}

static bool old_id_ok(struct span s)
{
    if (s.len == 0)
        return true;
    if (s.len < 9 || s.len > CCCD_OLD_ID_MAX)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.p[i];
        if (!is_digit(c) && !((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
            return false;
    }
    return true;
}

static enum cccd_status parse_sex(struct span s, enum cccd_sex *sex)
{
    char buf[16];
    if (!copy_nfc(s, buf, sizeof(buf)))
        return CCCD_ERR_SEX;
    if (strcmp(buf, "Nam") == 0)
        *sex = CCCD_MALE;
    else if (strcmp(buf, "N\xe1\xbb\xaf") == 0) /* "Nữ" */
        *sex = CCCD_FEMALE;
    else
        return CCCD_ERR_SEX;
    return CCCD_OK;
}

/* ---- the steps ---------------------------------------------------------- */

static enum cccd_status check_fields(const struct span *f, struct cccd_record *r)
{
    if (f[F_ID].len != CCCD_ID_LEN || !all_digits(f[F_ID]))
        return CCCD_ERR_ID_FORMAT;
    memcpy(r->id_number, f[F_ID].p, CCCD_ID_LEN);
    if (!old_id_ok(f[F_OLD_ID]))
        return CCCD_ERR_OLD_ID;
    memcpy(r->old_id_number, f[F_OLD_ID].p, f[F_OLD_ID].len);
    if (!copy_nfc(f[F_NAME], r->full_name, sizeof(r->full_name)) || !name_chars_ok(r->full_name))
        return CCCD_ERR_NAME;
    if (marks_stacked(r->full_name))
        return CCCD_ERR_STACKED_MARKS;
    if (!parse_date(f[F_BIRTH], &r->date_of_birth))
        return CCCD_ERR_BIRTH_DATE;
    enum cccd_status st = parse_sex(f[F_SEX], &r->sex);
    if (st != CCCD_OK)
        return st;
    if (!copy_nfc(f[F_ADDRESS], r->address, sizeof(r->address)))
        return CCCD_ERR_ADDRESS;
    if (marks_stacked(r->address))
        return CCCD_ERR_STACKED_MARKS;
    if (!parse_date(f[F_ISSUE], &r->issue_date))
        return CCCD_ERR_ISSUE_DATE;
    return CCCD_OK;
}

static bool province_known(int code)
{
    for (size_t i = 0; i < sizeof(province_codes); i++)
        if (province_codes[i] == code)
            return true;
    return false;
}

/* The ID number encodes where the birth was registered, the century and sex
 * (4th digit: 0/1 = 1900s male/female, 2/3 = 2000s, ...) and the birth year's
 * last two digits. A card whose number disagrees was not printed by the
 * issuing authority. */
static enum cccd_status check_id(struct cccd_record *r)
{
    const uint8_t *id = (const uint8_t *)r->id_number;
    r->province_code = digits_value(id, 3);
    if (id[0] == '0' && !province_known(r->province_code))
        return CCCD_ERR_ID_PROVINCE;
    int code = id[3] - '0';
    if (code / 2 != (r->date_of_birth.year - 1900) / 100)
        return CCCD_ERR_ID_CENTURY;
    if ((code % 2 == 1) != (r->sex == CCCD_FEMALE))
        return CCCD_ERR_ID_SEX;
    if (digits_value(id + 4, 2) != r->date_of_birth.year % 100)
        return CCCD_ERR_ID_YEAR;
    return CCCD_OK;
}

/* When each card type was issued (docs/payload-rules.md, "Card periods").
 * The 7-field QR is the chip CCCD's (Circular 06/2021, first cards in
 * January 2021); its last issue date has a month of grace after the Identity
 * Law replaced it on 1 July 2024, for applications filed by 30 June (at most
 * 20 working days to issue). The 11-field căn cước exists from 1 July 2024. */
static const struct cccd_date CCCD_2021_FIRST = { 2021, 1, 1 };
static const struct cccd_date CCCD_2021_LAST = { 2024, 7, 31 };
static const struct cccd_date CAN_CUOC_2024_FIRST = { 2024, 7, 1 };

/* An issue date outside its card type's period: a payload of one layout
 * dressed with a date only the other can have, or an invented date. */
static enum cccd_status check_card_period(const struct cccd_record *r)
{
    if (r->card_type == CCCD_CARD_2024)
        return date_cmp(&r->issue_date, &CAN_CUOC_2024_FIRST) < 0 ? CCCD_ERR_ISSUE_BEFORE_CAN_CUOC : CCCD_OK;
    if (date_cmp(&r->issue_date, &CCCD_2021_FIRST) < 0)
        return CCCD_ERR_ISSUE_BEFORE_CCCD;
    if (date_cmp(&r->issue_date, &CCCD_2021_LAST) > 0)
        return CCCD_ERR_ISSUE_AFTER_CCCD;
    return CCCD_OK;
}

/* The youngest a holder can be on the issue date. The chip CCCD went to
 * citizens from their 14th birthday (Law on CCCD 2014, art. 19); the căn
 * cước also to younger children on request (Identity Law 2023, art. 19), but
 * only once the birth is registered and the card produced: never on the day
 * of birth. Someone born on 29 February turns 14 on 28 February of a common
 * year (the reading that refuses fewer real cards). */
#define CCCD_2021_MIN_AGE 14

static bool issued_too_young(const struct cccd_record *r)
{
    const struct cccd_date *birth = &r->date_of_birth;
    if (r->card_type == CCCD_CARD_2024)
        return date_cmp(&r->issue_date, birth) <= 0;
    struct cccd_date of_age = { birth->year + CCCD_2021_MIN_AGE, birth->month, birth->day };
    int last_day = days_in_month(of_age.year, of_age.month);
    if (of_age.day > last_day)
        of_age.day = last_day;
    return date_cmp(&r->issue_date, &of_age) < 0;
}

static enum cccd_status check_dates(const struct cccd_record *r, const struct cccd_date *today)
{
    if (date_cmp(&r->date_of_birth, today) > 0)
        return CCCD_ERR_BIRTH_FUTURE;
    if (date_cmp(&r->issue_date, &r->date_of_birth) < 0)
        return CCCD_ERR_ISSUE_BEFORE_BIRTH;
    if (date_cmp(&r->issue_date, today) > 0)
        return CCCD_ERR_ISSUE_FUTURE;
    enum cccd_status st = check_card_period(r);
    if (st != CCCD_OK)
        return st;
    return issued_too_young(r) ? CCCD_ERR_ISSUE_TOO_YOUNG : CCCD_OK;
}

static enum cccd_status check_consistency(struct cccd_record *r, const struct cccd_date *today)
{
    enum cccd_status st = check_id(r);
    return st != CCCD_OK ? st : check_dates(r, today);
}

static enum cccd_status parse_record(const uint8_t *payload, size_t len, const struct cccd_date *today,
                                     struct cccd_record *r)
{
    struct span s = trim_payload(payload, len);
    struct span f[FIELDS_MAX];
    int n = split_fields(s, f);
    if (!card_shaped(f, n))
        return CCCD_NOT_CARD;
    if (len > CCCD_PAYLOAD_MAX)
        return CCCD_ERR_TOO_LONG;
    if (!utf8_valid(s.p, s.len) || control_inside_fields(s))
        return CCCD_ERR_UTF8;
    /* A printed card has none: they only serve to make text look different
     * from its bytes (a U+202E turns "An" into what reads as "nA"). */
    if (utf8_has_hidden(s.p, s.len))
        return CCCD_ERR_HIDDEN_CHARS;
    if (n != FIELDS_2021 && n != FIELDS_2024)
        return CCCD_ERR_FIELD_COUNT;
    for (int i = 0; i < n; i++)
        f[i] = trim(f[i]);
    for (int i = FIELDS_2021; i < n; i++)
        if (f[i].len)
            return CCCD_ERR_EXTRA_FIELDS;
    r->card_type = n == FIELDS_2024 ? CCCD_CARD_2024 : CCCD_CARD_2021;
    enum cccd_status st = check_fields(f, r);
    return st != CCCD_OK ? st : check_consistency(r, today);
}

enum cccd_status cccd_parse(const uint8_t *payload, size_t len, const struct cccd_parse_opts *opts,
                            struct cccd_record *rec)
{
    struct cccd_parse_opts now;
    if (!opts) {
        cccd_parse_opts_now(&now);
        opts = &now;
    }
    memset(rec, 0, sizeof(*rec));
    if (!payload)
        len = 0, payload = (const uint8_t *)"";
    enum cccd_status st = parse_record(payload, len, &opts->today, rec);
    if (st != CCCD_OK)
        memset(rec, 0, sizeof(*rec));
    return st;
}

void cccd_parse_opts_now(struct cccd_parse_opts *opts)
{
    time_t t = time(NULL);
    struct tm tm;
    memset(opts, 0, sizeof(*opts));
    if (localtime_r(&t, &tm)) {
        opts->today.year = tm.tm_year + 1900;
        opts->today.month = tm.tm_mon + 1;
        opts->today.day = tm.tm_mday;
    }
}

void cccd_date_format(const struct cccd_date *d, char out[11])
{
    /* The moduli keep a nonsense date from overflowing the 11 bytes. */
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)d->year % 10000u, (unsigned)d->month % 100u,
             (unsigned)d->day % 100u);
}

const char *cccd_card_type_name(enum cccd_card_type t)
{
    return t == CCCD_CARD_2024 ? "can-cuoc-2024" : "cccd-2021";
}
