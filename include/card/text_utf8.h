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

/* True for a code point that a card printed by the state never holds and
 * that can make text look different from its bytes: format characters (the
 * bidi controls U+061C, U+200E/F, U+202A-202E, U+2066-2069, the zero-width
 * U+200B-200D, U+2060, U+FEFF, the soft hyphen, ...), the other default-
 * ignorable code points (variation selectors, Hangul fillers, the combining
 * grapheme joiner, tags), U+2028/U+2029, private-use characters (U+E000-F8FF,
 * planes 15 and 16) and noncharacters (U+FDD0-FDEF, U+xxFFFE/U+xxFFFF). */
bool utf8_is_hidden(int32_t cp);

/* True when the valid UTF-8 text holds a code point utf8_is_hidden() refuses
 * (invalid UTF-8 counts as true, the worst case). */
bool utf8_has_hidden(const uint8_t *s, size_t len);

/* The longest run of consecutive combining marks (general categories Mn, Mc,
 * Me) in valid UTF-8: how many marks are stacked on one letter. Invalid
 * UTF-8 gives SIZE_MAX (the worst case). */
size_t utf8_max_mark_run(const uint8_t *s, size_t len);

/* Writes the NFC form of valid UTF-8 s[0..len) to out as a NUL-terminated
 * string. Returns its length in bytes, or -1 when s is not valid UTF-8 or
 * the result (with its NUL) does not fit in outsize. */
long utf8_nfc(const uint8_t *s, size_t len, char *out, size_t outsize);

/* Number of code points in valid UTF-8. */
size_t utf8_length(const uint8_t *s, size_t len);

#endif
