/* ini_read.c - the configuration's INI syntax, read strictly (ini_read.h). */
#include "config/ini_read.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* [a, b) without the spaces and tabs around it. */
static void trim(const char **a, const char **b)
{
    while (*a < *b && blank(**a))
        (*a)++;
    while (*b > *a && blank((*b)[-1]))
        (*b)--;
}

/* Where a value's comment starts: a ';' after a space or tab. */
static const char *comment_start(const char *v, const char *end)
{
    for (const char *p = v; p < end; p++)
        if (*p == ';' && p > v && blank(p[-1]))
            return p;
    return end;
}

void ini_line_parse(const char *line, size_t n, struct ini_line *out)
{
    memset(out, 0, sizeof(*out));
    const char *a = line, *b = line + n;
    if (b > a && b[-1] == '\r')
        b--;
    trim(&a, &b);
    if (a == b) {
        out->kind = INI_BLANK;
        return;
    }
    if (*a == ';' || *a == '#') {
        out->kind = INI_COMMENT;
        return;
    }
    if (*a == '[') {
        const char *close = memchr(a, ']', (size_t)(b - a));
        const char *rest = close ? close + 1 : b;
        trim(&rest, &b);
        if (!close || (rest < b && *rest != ';' && *rest != '#')) {
            out->kind = INI_BAD;
            return;
        }
        const char *s = a + 1, *e = close;
        trim(&s, &e);
        out->kind = s < e ? INI_SECTION : INI_BAD;
        out->name = s, out->name_len = (size_t)(e - s);
        return;
    }
    const char *eq = memchr(a, '=', (size_t)(b - a));
    if (!eq || eq == a) {
        out->kind = INI_BAD;
        return;
    }
    const char *ke = eq, *vs = eq + 1, *ve = comment_start(eq + 1, b);
    const char *ks = a;
    trim(&ks, &ke);
    trim(&vs, &ve);
    out->kind = INI_KEY;
    out->name = ks, out->name_len = (size_t)(ke - ks);
    out->value = vs, out->value_len = (size_t)(ve - vs);
}

/* The first byte of line[0..n) that has no place in a config: a NUL or a
 * control byte other than a tab (a '\r' only at the end). -1 when none. */
static long bad_byte(const char *line, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t' && !(c == '\r' && i + 1 == n)) || c == 0x7f)
            return (long)i;
    }
    return -1;
}

/* The key a long or broken line was meant to set, for the message. */
static void meant_key(const char *line, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    while (k < n && k < 40 && line[k] != '=' && line[k] != '\r')
        k++;
    char raw[48];
    memcpy(raw, line, k);
    raw[k] = '\0';
    const char *a = raw, *b = raw + k;
    trim(&a, &b);
    raw[b - raw] = '\0';
    log_clean(a, out, cap);
}

static int check_line(const char *line, size_t n, const struct ini_line *l, char *why, size_t whylen)
{
    char key[64];
    if (n > INI_LINE_MAX) {
        meant_key(line, n, key, sizeof(key));
        snprintf(why, whylen, "the line is %zu bytes long, more than %d ('%s'): shorten the value (a path, a URL)",
                 n, INI_LINE_MAX, key);
        return -1;
    }
    long at = bad_byte(line, n);
    if (at >= 0) {
        snprintf(why, whylen, "a control byte (0x%02x) at column %ld: the file is not plain text (saved by a word "
                 "processor? binary?)", (unsigned char)line[at], at + 1);
        return -1;
    }
    if (l->kind == INI_BAD) {
        snprintf(why, whylen, "not a 'key = value' line, a [section] header or a comment");
        return -1;
    }
    if ((l->kind == INI_SECTION || l->kind == INI_KEY) && l->name_len >= INI_NAME_MAX) {
        meant_key(line, n, key, sizeof(key));
        snprintf(why, whylen, "a name longer than %d bytes ('%s')", INI_NAME_MAX - 1, key);
        return -1;
    }
    return 0;
}

int ini_read(const char *text, size_t len, ini_key_fn fn, void *ctx, int *keys, char *why, size_t whylen)
{
    static const char bom[] = "\xef\xbb\xbf";
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, bom, 3) == 0)
        p += 3;
    char section[INI_NAME_MAX] = "", name[INI_NAME_MAX], value[INI_LINE_MAX + 1];
    *keys = 0;
    for (int line_no = 1; p < end; line_no++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        struct ini_line l;
        ini_line_parse(p, n, &l);
        if (check_line(p, n, &l, why, whylen) != 0)
            return line_no;
        if (l.kind == INI_SECTION) {
            memcpy(section, l.name, l.name_len);
            section[l.name_len] = '\0';
        } else if (l.kind == INI_KEY) {
            memcpy(name, l.name, l.name_len);
            name[l.name_len] = '\0';
            memcpy(value, l.value, l.value_len);
            value[l.value_len] = '\0';
            ++*keys;
            if (fn(ctx, section, name, value) != 0)
                return line_no;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}
