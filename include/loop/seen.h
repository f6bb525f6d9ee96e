/* seen.h - what the terminal has seen lately, by payload or by card.
 *
 * A card held in front of the camera is decoded in every frame for as long
 * as it is there: that is one sighting, not thirty. And the same card shown
 * again a minute later is a patient who already checked in, not a new
 * check-in. Both questions are answered by remembering keys with the time
 * they were first and last seen.
 *
 * Keys are hashed with a per-process random salt: the table holds no ID
 * numbers, and its contents mean nothing outside the process. */
#ifndef CCCD_SEEN_H
#define CCCD_SEEN_H

#include <stddef.h>
#include <stdint.h>

enum seen_verdict {
    SEEN_NEW,      /* not seen within the window: remembered from now */
    SEEN_PRESENT,  /* seen within the last `gap_ms`: still in view */
    SEEN_REPEATED, /* first seen within the window, but absent since: shown again */
};

struct seen;

/* capacity: keys kept at once (the oldest go first when full). */
struct seen *seen_open(size_t capacity);
void seen_close(struct seen *s);

/* Records a sighting of key[0..len) at now_ms. gap_ms: how long a key may go
 * unseen and still be "present"; window_ms: how long after its first
 * sighting a key counts as "repeated" instead of new. */
enum seen_verdict seen_note(struct seen *s, const void *key, size_t len, int64_t now_ms, int64_t gap_ms,
                            int64_t window_ms);

#endif
