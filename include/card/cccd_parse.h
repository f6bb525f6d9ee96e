/* cccd_parse.h - turn the bytes of a card's QR code into a verified record.
 *
 * The payload of a Vietnamese citizen ID card (CCCD 2021, or the 2024 "căn
 * cước" card) is UTF-8 text with fields separated by '|':
 *
 *     id | old id | full name | ddMMyyyy birth | Nam/Nữ | address | ddMMyyyy issue [ | | | | ]
 *
 * cccd_parse() accepts the 7-field 2021 card and the 11-field 2024 card (the
 * last four fields empty), tolerates what handheld scanners add (a leading BOM,
 * trailing CR/LF, spaces or tabs around fields) and checks everything a QR-only
 * terminal can check: the ID number's structure against the birth date and
 * sex, real calendar dates in a sane order and within the card type's period,
 * bounded field lengths, valid UTF-8 without hidden characters or stacked
 * combining marks.
 * See docs/payload-rules.md for each rule and where it comes from.
 *
 * Any byte string of any length is safe input: the parser never reads past
 * len, allocates only utf8proc's NFC buffer (bounded by CCCD_PAYLOAD_MAX), and
 * runs in time linear in len.
 */
#ifndef CCCD_CCCD_PARSE_H
#define CCCD_CCCD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Field bounds, in bytes of NFC UTF-8 (without the terminating NUL). The
 * longest real names are well under 60 characters and addresses under 200;
 * the bounds leave room for three bytes per Vietnamese letter. */
#define CCCD_ID_LEN 12
#define CCCD_OLD_ID_MAX 12
#define CCCD_NAME_MAX 160
#define CCCD_ADDRESS_MAX 400
/* Combining marks allowed in a row on one letter of the name or address,
 * after NFC. A Vietnamese letter carries at most two even when decomposed
 * (ệ = e + circumflex + dot below: one vowel mark and one tone mark) and
 * usually none after NFC; one more is slack for an input method that adds a
 * mark NFC cannot compose. "Zalgo" text stacks dozens. */
#define CCCD_MARKS_MAX 3
/* The longest payload worth parsing: 11 fields at their bounds plus slack.
 * Longer input is rejected before any other work. */
#define CCCD_PAYLOAD_MAX 1200

/* Outcome of cccd_parse(). The numbers and the short codes (cccd_status_code)
 * are stable: logs, the uplink and the desk's manuals refer to them. Append
 * new ones at the end; never renumber. */
enum cccd_status {
    CCCD_OK = 0,
    CCCD_NOT_CARD = 1,            /* not a card payload at all (URL, app code, random QR) */
    CCCD_ERR_TOO_LONG = 2,        /* longer than CCCD_PAYLOAD_MAX */
    CCCD_ERR_UTF8 = 3,            /* not valid UTF-8, or holds control characters */
    CCCD_ERR_FIELD_COUNT = 4,     /* card-shaped, but not 7 or 11 fields */
    CCCD_ERR_EXTRA_FIELDS = 5,    /* 11 fields, but the last four are not empty */
    CCCD_ERR_ID_FORMAT = 6,       /* ID number is not exactly 12 digits */
    CCCD_ERR_ID_PROVINCE = 7,     /* first three digits name no province (and no country) */
    CCCD_ERR_ID_CENTURY = 8,      /* 4th digit's century disagrees with the birth year */
    CCCD_ERR_ID_SEX = 9,          /* 4th digit's sex disagrees with the sex field */
    CCCD_ERR_ID_YEAR = 10,        /* digits 5-6 disagree with the birth year */
    CCCD_ERR_OLD_ID = 11,         /* old ID number is neither empty nor 9-12 letters/digits */
    CCCD_ERR_NAME = 12,           /* name empty, too long, or holds digits or symbols */
    CCCD_ERR_BIRTH_DATE = 13,     /* birth date not ddMMyyyy or not a real date */
    CCCD_ERR_BIRTH_FUTURE = 14,   /* birth date after today */
    CCCD_ERR_SEX = 15,            /* sex is neither "Nam" nor "Nữ" */
    CCCD_ERR_ADDRESS = 16,        /* address empty or too long */
    CCCD_ERR_ISSUE_DATE = 17,     /* issue date not ddMMyyyy or not a real date */
    CCCD_ERR_ISSUE_BEFORE_BIRTH = 18,
    CCCD_ERR_ISSUE_FUTURE = 19,   /* issue date after today */
    CCCD_ERR_HIDDEN_CHARS = 20,   /* bidi controls, zero-width, private-use, ... (utf8_is_hidden) */
    CCCD_ERR_STACKED_MARKS = 21,  /* more than CCCD_MARKS_MAX marks on a letter of the name or address */
    CCCD_ERR_ISSUE_BEFORE_CAN_CUOC = 22, /* 11-field căn cước issued before 1 July 2024 */
    CCCD_ERR_ISSUE_AFTER_CCCD = 23,      /* 7-field chip CCCD issued after 31 July 2024 */
    CCCD_ERR_ISSUE_BEFORE_CCCD = 24,     /* 7-field chip CCCD issued before 1 January 2021 */
    CCCD_ERR_ISSUE_TOO_YOUNG = 25,       /* issued on the day of birth, or a chip CCCD before age 14 */
};
#define CCCD_STATUS_COUNT 26

enum cccd_card_type { CCCD_CARD_2021 = 0, CCCD_CARD_2024 = 1 };
enum cccd_sex { CCCD_MALE = 0, CCCD_FEMALE = 1 };

struct cccd_date {
    int year;  /* e.g. 1990 */
    int month; /* 1..12 */
    int day;   /* 1..31 */
};

struct cccd_record {
    enum cccd_card_type card_type;
    char id_number[CCCD_ID_LEN + 1];
    char old_id_number[CCCD_OLD_ID_MAX + 1]; /* "" when the card has none */
    char full_name[CCCD_NAME_MAX + 1];       /* NFC UTF-8 */
    struct cccd_date date_of_birth;
    enum cccd_sex sex;
    char address[CCCD_ADDRESS_MAX + 1]; /* NFC UTF-8 */
    struct cccd_date issue_date;
    /* Information only, never a reason to reject: provinces merged in 2025
     * but cards keep their numbers. province_code is 1..96 for a birth
     * registered in Vietnam, or the 3-digit country code (>= 100). */
    int province_code;
};

/* What the checks compare against. */
struct cccd_parse_opts {
    struct cccd_date today; /* dates after this are "in the future" */
};

/* Fills opts->today from the local clock. */
void cccd_parse_opts_now(struct cccd_parse_opts *opts);

/* Parses and verifies payload[0..len). On CCCD_OK *rec is filled; otherwise
 * *rec is zeroed (no half-filled record can leak on). */
enum cccd_status cccd_parse(const uint8_t *payload, size_t len, const struct cccd_parse_opts *opts,
                            struct cccd_record *rec);

/* Stable short code, e.g. "id-sex-mismatch"; "unknown" for values outside the enum. */
const char *cccd_status_code(enum cccd_status st);
/* One-sentence explanations for the desk, in English and in Vietnamese. */
const char *cccd_status_message_en(enum cccd_status st);
const char *cccd_status_message_vi(enum cccd_status st);

/* "cccd-2021" or "can-cuoc-2024". */
const char *cccd_card_type_name(enum cccd_card_type t);

/* Writes d as "YYYY-MM-DD" into out (at least 11 bytes). */
void cccd_date_format(const struct cccd_date *d, char out[11]);

#endif
