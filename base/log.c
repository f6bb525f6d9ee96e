/* log.c - journald-style lines on stderr. */
#include "base/log.h"

#include <stdarg.h>
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
    /* One write per line, so lines from two threads never interleave. */
    fprintf(stderr, "<%d>%s\n", priority & 7, line);
}

char *log_clean(const char *in, char *out, size_t cap)
{
    if (!cap)
        return out;
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p; p++) {
        char esc[4];
        size_t n = 1;
        if (*p == '\\') {
            esc[0] = esc[1] = '\\';
            n = 2;
        } else if (*p < 0x20 || *p > 0x7e) {
            esc[0] = '\\', esc[1] = 'x', esc[2] = digits[*p >> 4], esc[3] = digits[*p & 15];
            n = 4;
        } else {
            esc[0] = (char)*p;
        }
        /* Room for this, and for "..." plus the NUL unless it is the last. */
        if (o + n + (p[1] ? 4 : 1) > cap) {
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
