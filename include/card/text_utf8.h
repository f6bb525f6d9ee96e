/* text_utf8.h - UTF-8 validation and NFC normalisation (utf8proc underneath).
 *
 * Card payloads come from ZBar as raw bytes. We validate them ourselves (ZBar's
 * charset guessing garbles Vietnamese) and normalise text fields to NFC so that
 * "Nữ" typed with a combining hook compares equal to the precomposed one.
 */
#ifndef CCCD_TEXT_UTF8_H
#define CCCD_TEXT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF). A NUL byte counts as invalid: card text never
 * holds one, and it would cut C strings short. */
bool utf8_valid(const uint8_t *s, size_t len);

/* True when the valid UTF-8 text holds a control character (C0, DEL, C1). */
bool utf8_has_control(const uint8_t *s, size_t len);

/* Writes the NFC form of valid UTF-8 s[0..len) to out as a NUL-terminated
 * string. Returns its length in bytes, or -1 when s is not valid UTF-8 or
 * the result (with its NUL) does not fit in outsize. */
long utf8_nfc(const uint8_t *s, size_t len, char *out, size_t outsize);

/* Number of code points in valid UTF-8. */
size_t utf8_length(const uint8_t *s, size_t len);

#endif
