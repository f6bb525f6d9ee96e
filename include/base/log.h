/* log.h - log lines for journald: "<priority>message" on standard error.
 *
 * systemd reads the "<N>" prefix as the line's syslog priority, so the
 * journal filters by level without a logging library. Never pass personal
 * data here: IDs only through record_mask_id(), no names, dates of birth or
 * addresses, no keys or tokens. */
#ifndef CCCD_LOG_H
#define CCCD_LOG_H

#include <syslog.h>

/* Lines with a priority above level (less urgent) are dropped. Set once at
 * start and on reload; the only process-wide setting besides the config. */
void log_set_level(int level);

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void log_msg(int priority, const char *fmt, ...);

#endif
