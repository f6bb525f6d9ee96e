/* text_utf8.c - UTF-8 checks and NFC through utf8proc. */
#include "card/text_utf8.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Walks the text one code point at a time; utf8proc_iterate refuses
 * overlongs, surrogates and values above U+10FFFF. */
bool utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0 || cp == 0)
            return false;
        i += (size_t)n;
    }
    return true;
}

bool utf8_has_control(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0)
            return true; /* not text at all: treat as the worst case */
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return true;
        i += (size_t)n;
    }
    return false;
}

/* Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt):
 * drawn as nothing, so two names that look alike can differ in them. Kept
 * here rather than taken from utf8proc's "ignorable" flag, which leaves out
 * the unassigned ones (U+2065, U+FFF0-FFF8, most of U+E0000-E0FFF). */
static const struct {
    int32_t lo, hi;
} default_ignorable[] = {
    { 0x00AD, 0x00AD },   { 0x034F, 0x034F },   { 0x061C, 0x061C },   { 0x115F, 0x1160 },
    { 0x17B4, 0x17B5 },   { 0x180B, 0x180F },   { 0x200B, 0x200F },   { 0x202A, 0x202E },
    { 0x2060, 0x206F },   { 0x3164, 0x3164 },   { 0xFE00, 0xFE0F },   { 0xFEFF, 0xFEFF },
    { 0xFFA0, 0xFFA0 },   { 0xFFF0, 0xFFF8 },   { 0x1BCA0, 0x1BCA3 }, { 0x1D173, 0x1D17A },
    { 0xE0000, 0xE0FFF },
};

static bool is_default_ignorable(int32_t cp)
{
    for (size_t i = 0; i < sizeof(default_ignorable) / sizeof(default_ignorable[0]); i++)
        if (cp >= default_ignorable[i].lo && cp <= default_ignorable[i].hi)
            return true;
    return false;
}

static bool is_noncharacter(int32_t cp)
{
    return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

bool utf8_is_hidden(int32_t cp)
{
    if (is_default_ignorable(cp) || is_noncharacter(cp))
        return true;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CF: /* format: bidi controls, joiners, Arabic number signs, ... */
    case UTF8PROC_CATEGORY_CO: /* private use: the glyph depends on the font */
    case UTF8PROC_CATEGORY_ZL: /* U+2028 */
    case UTF8PROC_CATEGORY_ZP: /* U+2029 */
        return true;
    default:
        return false;
    }
}

bool utf8_has_hidden(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0 || utf8_is_hidden(cp))
            return true;
        i += (size_t)n;
    }
    return false;
}

size_t utf8_max_mark_run(const uint8_t *s, size_t len)
{
    size_t i = 0, run = 0, longest = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0)
            return SIZE_MAX;
        utf8proc_category_t cat = utf8proc_category(cp);
        run = cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME ? run + 1 : 0;
        if (run > longest)
            longest = run;
        i += (size_t)n;
    }
    return longest;
}

long utf8_nfc(const uint8_t *s, size_t len, char *out, size_t outsize)
{
    if (!utf8_valid(s, len) || outsize == 0)
        return -1;
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t n = utf8proc_map(s, (utf8proc_ssize_t)len, &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0)
        return -1;
    long ret = -1;
    if ((size_t)n < outsize) {
        memcpy(out, nfc, (size_t)n);
        out[n] = '\0';
        ret = (long)n;
    }
    free(nfc);
    return ret;
}

size_t utf8_length(const uint8_t *s, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            count++;
    return count;
}
