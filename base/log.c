/* log.c - journald-style lines on stderr. */
#include "base/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int log_level = LOG_INFO;

void log_set_level(int level)
{
    log_level = level;
}

void log_msg(int priority, const char *fmt, ...)
{
    if (priority > log_level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* Whatever outside text reached the line: a control byte is written as
     * \xNN, so no newline can start a second line that journald would read
     * with a priority of its own ("<0>" forged by a server's answer). */
    char out[4 * sizeof(line)];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    out[o] = '\0';
    /* One write per line, so lines from two threads never interleave. */
    fprintf(stderr, "<%d>%s\n", priority & 7, out);
}

/* The escaped form of byte c: returns its length. */
static size_t escape(unsigned char c, char esc[4])
{
    static const char digits[] = "0123456789abcdef";
    if (c == '\\') {
        esc[0] = esc[1] = '\\';
        return 2;
    }
    if (c < 0x20 || c > 0x7e) {
        esc[0] = '\\', esc[1] = 'x', esc[2] = digits[c >> 4], esc[3] = digits[c & 15];
        return 4;
    }
    esc[0] = (char)c;
    return 1;
}

char *log_clean(const char *in, char *out, size_t cap)
{
    if (!cap)
        return out;
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    char esc[4];
    size_t total = 0;
    for (const unsigned char *q = p; *q; q++)
        total += escape(*q, esc);
    bool cut = total + 1 > cap; /* then "..." takes the last 3 bytes before the NUL */
    size_t o = 0;
    for (; *p; p++) {
        size_t n = escape(*p, esc);
        if (cut && o + n + 4 > cap) {
            if (o + 4 <= cap)
                memcpy(out + o, "...", 4);
            else
                out[o] = '\0';
            return out;
        }
        memcpy(out + o, esc, n);
        o += n;
    }
    out[o] = '\0';
    return out;
}
