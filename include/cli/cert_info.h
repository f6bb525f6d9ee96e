/* cert_info.h - when a certificate file stops being valid.
 *
 * `doctor` warns before the device certificate runs out and `provision`
 * refuses one that already has: a terminal with an expired certificate
 * queues every check-in and delivers none. */
#ifndef CCCD_CERT_INFO_H
#define CCCD_CERT_INFO_H

#include <stddef.h>
#include <time.h>

/* Reads the first certificate of a PEM/DER file. *not_after gets its
 * valid_to as unix time, *days the whole days from now until then
 * (negative once expired). until (>= 24 bytes) gets it as "YYYY-MM-DD HH:MM
 * UTC". Returns 0, or -1 with err naming the file. */
int cert_expiry(const char *path, time_t now, time_t *not_after, long *days, char *until, size_t untilcap,
                char *err, size_t errlen);

#endif
