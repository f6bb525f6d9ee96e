/* checkin.h - the record the hospital receives, built at scan time.
 *
 * The JSON body of docs/protocol.md, made once when the desk accepts a card
 * and stored as-is in the spool: its idempotency key and scan time then
 * stay the same through every retry, restart and power cut. Only the
 * configured fields are included (data minimisation), and fields not sent
 * are never written to disk either. */
#ifndef CCCD_CHECKIN_H
#define CCCD_CHECKIN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "card/cccd_parse.h"

enum checkin_field {
    CHECKIN_ID_NUMBER = 1u << 0,
    CHECKIN_OLD_ID_NUMBER = 1u << 1,
    CHECKIN_FULL_NAME = 1u << 2,
    CHECKIN_DATE_OF_BIRTH = 1u << 3,
    CHECKIN_SEX = 1u << 4,
    CHECKIN_ADDRESS = 1u << 5,
    CHECKIN_ISSUE_DATE = 1u << 6,
};
#define CHECKIN_DEFAULT_FIELDS (CHECKIN_ID_NUMBER | CHECKIN_FULL_NAME | CHECKIN_DATE_OF_BIRTH)

/* "id_number,full_name,date_of_birth" -> mask. Returns 0, or -1 naming the
 * unknown field in err. */
int checkin_fields_parse(const char *list, unsigned *mask, char *err, size_t errlen);

struct checkin_meta {
    const char *device_id;
    unsigned fields;    /* enum checkin_field bits */
    const char *source; /* "card" or "vneid-screen" */
};

/* Writes the JSON body (NUL-terminated) into out and its idempotency key into
 * key (at least 128 bytes). Returns the body's length or -1 with err. */
long checkin_build(const struct cccd_record *rec, const struct checkin_meta *meta, time_t now, bool clock_synced,
                   char *out, size_t cap, char *key, size_t keycap, char *err, size_t errlen);

/* True when the kernel says the clock is synchronised (NTP): a Pi without a
 * battery clock starts from the last shutdown time until then. */
bool checkin_clock_synced(void);

/* "2026-11-27T16:11:31+07:00" -> unix time; -1 when malformed. */
time_t checkin_parse_scan_time(const char *s);

#endif
