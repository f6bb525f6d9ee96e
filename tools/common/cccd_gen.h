/* cccd_gen.h - realistic card payloads (and non-card QR payloads) for tests.
 *
 * Every card payload follows the rules in shared/reference/cccd-payloads.md
 * and so must pass cccd_parse(): a 12-digit ID whose province, century/sex
 * digit and year digits agree with the fields, real calendar dates, an issue
 * date after birth and not in the future (issued 2021-2025), NFC UTF-8 names
 * and addresses with full Vietnamese diacritics.
 *
 * Generation uses integers only, so a seed gives the same payloads on every
 * machine.
 */
#ifndef CCCD_TOOLS_CCCD_GEN_H
#define CCCD_TOOLS_CCCD_GEN_H

#include <stddef.h>

#include "rng.h"

/* Room for any payload made here, with its NUL. */
#define CCCD_GEN_MAX 512

enum cccd_gen_card {
    CCCD_GEN_2021, /* 7 fields */
    CCCD_GEN_2024, /* 7 fields and four empty ones */
};

enum cccd_gen_text {
    /* Names and addresses as the population has them. Some of these still
     * come back altered from ZBar's default text mode (as Shift-JIS or
     * Latin-1), depending on which letters they hold. */
    CCCD_GEN_TEXT_ANY,
    /* Names and addresses drawn only from words whose UTF-8 bytes also read
     * as Big5: ZBar (0.23.92) without ZBAR_CFG_BINARY returns the whole
     * payload as CJK text, and swallows the '|' after "Nữ". See cccd_gen.c. */
    CCCD_GEN_TEXT_BIG5,
};

/* Writes a valid card payload to out as a NUL-terminated string. Returns its
 * length in bytes, or -1 when outsize (use CCCD_GEN_MAX) is too small. */
int cccd_gen_card(struct rng *r, enum cccd_gen_card card, enum cccd_gen_text text, char *out, size_t outsize);

/* Writes a QR payload that is not a card: a government URL, a VNeID-style
 * one-time token, a VietQR bank transfer, a Wi-Fi login, a note. */
int cccd_gen_not_card(struct rng *r, char *out, size_t outsize);

#endif
