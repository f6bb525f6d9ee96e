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
