/* log.h - log lines for journald: "<priority>message" on standard error.
 *
 * systemd reads the "<N>" prefix as the line's syslog priority, so the
 * journal filters by level without a logging library. Never pass personal
 * data here: IDs only through record_mask_id(), no names, dates of birth or
 * addresses, no keys or tokens. */
#ifndef CCCD_LOG_H
#define CCCD_LOG_H

#include <stddef.h>
#include <syslog.h>

/* Lines with a priority above level (less urgent) are dropped. Set once at
 * start and on reload; the only process-wide setting besides the config. */
void log_set_level(int level);

/* One line, whatever the arguments hold: a control byte in them (a newline
 * in a server's answer, ESC in a file name) is written as \xNN, so nothing
 * can start a second line with a forged "<0>" priority. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void log_msg(int priority, const char *fmt, ...);

/* Outside text (a server's answer, a file name, a config value) made safe
 * for one log line: printable ASCII kept, every other byte written as \xNN
 * (so a newline cannot start a forged "<0>" line and UTF-8 stays
 * readable as bytes), a backslash as \\, cut with "..." to fit cap.
 * Returns out. */
char *log_clean(const char *in, char *out, size_t cap);

#endif
