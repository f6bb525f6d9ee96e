/* desk.h - what the reception staff see and hear: LED and buzzer patterns,
 * and the button.
 *
 * Patterns run on a thread of their own, so a slow decode never stretches a
 * beep, and the loop only says what happened (desk_show) or what state the
 * terminal is in (desk_set_state). The table of patterns is in
 * docs/desk-signals.md; desk_pattern_at() is the same table as code.
 */
#ifndef CCCD_DESK_H
#define CCCD_DESK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/gpio.h"

enum desk_signal {
    DESK_ACCEPTED,   /* card read, checked, handed on */
    DESK_DUPLICATE,  /* the same card again within the window */
    DESK_REJECTED,   /* a card payload that failed a check */
    DESK_NOT_CARD,   /* a QR code that is not an ID card */
    DESK_QUEUE_FULL, /* accepted, but the queue is full: check in by hand */
    DESK_INSURANCE,  /* the hospital's insurance check answered other than "000" */
    DESK_SIGNAL_COUNT
};

/* States last as long as the condition; transient signals play over them. */
enum desk_state {
    DESK_STATE_FAULT = 1u << 0,   /* camera missing: red blinks slowly */
    DESK_STATE_OFFLINE = 1u << 1, /* hospital service unreachable, records queued: amber on */
};

/* What the button does: play the last signal again, or mute the buzzer. */
enum button_action { BUTTON_REPEAT, BUTTON_MUTE };

#define DESK_LINE(out) (1u << (out))

/* The lines (DESK_LINE bits) lit elapsed_ms into signal s, and in *left_ms
 * how long until that changes. Returns -1 once the pattern is over. */
int desk_pattern_at(enum desk_signal s, int64_t elapsed_ms, int64_t *left_ms);

/* Stable names for logs: "accepted", "duplicate", "rejected", "not-card", "queue-full", "insurance". */
const char *desk_signal_name(enum desk_signal s);

struct desk;

/* Opens the GPIO backend and starts the pattern thread; outputs start off. */
int desk_open(struct desk **out, const struct gpio_ops *ops, const struct gpio_config *cfg,
              enum button_action action, char *err, size_t errlen);
/* Outputs off, lines released, thread joined. NULL-safe. */
void desk_close(struct desk *d);

/* Plays signal s now, cutting short whatever transient pattern was playing. */
void desk_show(struct desk *d, enum desk_signal s);
void desk_set_state(struct desk *d, enum desk_state st, bool on);

/* Monotonic ms of the last change the thread made to an output; for the
 * latency benchmark and tests. */
int64_t desk_last_change_ms(struct desk *d);

#endif
