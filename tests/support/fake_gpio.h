/* fake_gpio.h - a GPIO backend for tests: records every output change with
 * its time, and lets a test press the button. One instance at a time. */
#ifndef CCCD_FAKE_GPIO_H
#define CCCD_FAKE_GPIO_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/gpio.h"

struct fake_event {
    int64_t t_ms; /* clock_ms() when set */
    int line;     /* enum gpio_out */
    bool on;
};

extern const struct gpio_ops fake_gpio_ops;

/* Copies up to max recorded events; returns how many there were. */
int fake_gpio_events(struct fake_event *out, int max);
void fake_gpio_clear(void);
/* Queues n debounced presses and wakes the desk's poll. */
void fake_gpio_press(int n);
/* True while the fake is open (the desk holds it). */
bool fake_gpio_is_open(void);

#endif
