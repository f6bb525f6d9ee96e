/* clock.h - the monotonic clock, in milliseconds. Wall-clock time jumps when
 * NTP first syncs a Pi (it has no battery clock); intervals never use it. */
#ifndef CCCD_CLOCK_H
#define CCCD_CLOCK_H

#include <stdint.h>

int64_t clock_ms(void);

#endif
