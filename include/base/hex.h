/* hex.h - hexadecimal digits, both ways.
 *
 * Keys, pins, idempotency keys, chunk sizes and test manifests are all
 * written in hex; one strict reader means a stray sign, space or "0x" is
 * refused the same way everywhere (sscanf's %x takes all three). */
#ifndef CCCD_HEX_H
#define CCCD_HEX_H

#include <stddef.h>
#include <stdint.h>

/* 0..15 for 0-9, a-f, A-F; -1 for anything else. */
int hex_value(int c);

/* Exactly 2 * n digits into n bytes. Returns 0, or -1 (out then holds
 * garbage up to the bad digit: callers zero it when it matters). */
int hex_decode(const char *digits, uint8_t *out, size_t n);

/* n bytes as 2 * n lower-case digits and a NUL: out holds 2 * n + 1. */
void hex_encode(const uint8_t *data, size_t n, char *out);

#endif
