/* log.c - journald-style lines on stderr. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

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
