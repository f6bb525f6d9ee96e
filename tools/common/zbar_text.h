/* zbar_text.h - what ZBar's default text mode makes of a payload.
 *
 * The firmware reads QR codes with ZBAR_CFG_BINARY because without it ZBar
 * guesses a character set and turns much Vietnamese UTF-8 into Big5 or
 * Shift-JIS text. This check lets the generators show how many of their
 * payloads a naive integration would have garbled.
 */
#ifndef CCCD_TOOLS_ZBAR_TEXT_H
#define CCCD_TOOLS_ZBAR_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "card_render.h"

/* Draws qr clean (4 px per module, quiet zone) and reads it back with ZBar
 * in its default text mode (QR only, no ZBAR_CFG_BINARY). Returns 1 when the
 * bytes differ from payload[0..len), 0 when they are the same, -1 when ZBar
 * read nothing or memory ran out. got, when not NULL, receives what ZBar
 * returned, NUL-terminated and cut to gotsize. */
int zbar_text_mode_alters(const struct qr_matrix *qr, const uint8_t *payload, size_t len, char *got, size_t gotsize);

#endif
