/* util.c - small helpers the other files share: the log line, the
 * monotonic clock, mbedtls error text, a log-safe copy of client bytes, a
 * digits check. Kept apart so that no concern's file exports helpers it does
 * not own. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <mbedtls/error.h>

#include "sim.h"

void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    fputs("his_sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *tls_err(int r, char *buf, size_t size)
{
    mbedtls_strerror(r, buf, size);
    return buf;
}

/* A printable copy of a client-supplied token for the log: at most 80
 * characters of [A-Za-z0-9._:-], anything else as '?'. */
void log_token(const char *s, size_t n, char out[84])
{
    size_t i = 0;
    for (; i < n && i < 80; i++) {
        char ch = s[i];
        bool okch = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '.' || ch == '_' || ch == ':' || ch == '-';
        out[i] = okch ? ch : '?';
    }
    if (n > 80)
        out[i++] = '~';
    out[i] = '\0';
}

bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}
