/* record_format.h - how a card record is shown: JSON for programs, aligned
 * text for people, and the masks that keep personal data out of logs.
 *
 * Personal data (ID number, name, date of birth, address) is masked in every
 * human-facing form unless the caller asks otherwise; log lines must only
 * ever use record_mask_id(). */
#ifndef CCCD_RECORD_FORMAT_H
#define CCCD_RECORD_FORMAT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "card/cccd_parse.h"

/* How a decoded code is classed in reports: "cccd", "not-cccd" or "rejected". */
const char *record_kind(enum cccd_status st);

/* The record as a JSON object with the keys id_number, old_id_number (null
 * when the card has none), full_name, date_of_birth, issue_date, sex,
 * address, card_type. Full data: the caller decides where it goes.
 * Returns a new reference, or NULL when out of memory. */
json_t *record_to_json(const struct cccd_record *r);

/* {"code": ..., "message": ..., "message_vi": ...} for a rejection. */
json_t *record_error_json(enum cccd_status st);

/* "********1234": all but the last four digits hidden. out holds 13 bytes. */
void record_mask_id(const char *id, char out[13]);

/* Writes the record as aligned "label  value" lines, each prefixed by indent.
 * Unless show_pii, the ID keeps only its last four digits, the name becomes
 * initials, and the birth date and address are hidden. */
void record_print_text(FILE *out, const struct cccd_record *r, bool show_pii, const char *indent);

#endif
