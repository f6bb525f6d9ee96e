/* gpio.h - the desk's lights, buzzer and button, behind a small vtable.
 *
 * The loop drives logical outputs (green, red, amber, buzzer) and reads a
 * debounced button; it never knows which backend it has:
 *   - "gpiod": libgpiod, v1 (bookworm, 1.6) or v2 (trixie, 2.x), chosen at
 *     build time from pkg-config (CCCD_GPIOD_MAJOR=1 or 2);
 *   - "null":  no hardware (development machines, the demo);
 *   - tests add their own recording backend.
 * Levels are logical: "on" means lit / sounding / pressed, and each line's
 * active_low flag maps that to the wire.
 */
#ifndef CCCD_GPIO_H
#define CCCD_GPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gpio_out { GPIO_GREEN, GPIO_RED, GPIO_AMBER, GPIO_BUZZER, GPIO_OUT_COUNT };

/* Stable error codes (negative return values). */
enum gpio_status {
    GPIO_ERR_CHIP = -1,   /* no chip matches the path, name or label */
    GPIO_ERR_LINE = -2,   /* no line matches the offset or name */
    GPIO_ERR_BUSY = -3,   /* the line is held by another program */
    GPIO_ERR_IO = -4,     /* setting or reading a line failed */
    GPIO_ERR_CONFIG = -5, /* the configuration is inconsistent */
};

#define GPIO_NAME_MAX 64

struct gpio_line_spec {
    bool used;                 /* false: this output/input is not wired */
    char chip[GPIO_NAME_MAX];  /* "/dev/gpiochip0", "gpiochip0", a label such as
                                  "pinctrl-rp1", or "" to search every chip */
    char line[GPIO_NAME_MAX];  /* an offset ("17") or a line name ("GPIO17") */
    bool active_low;
};

struct gpio_config {
    struct gpio_line_spec out[GPIO_OUT_COUNT];
    struct gpio_line_spec button;
    int debounce_ms;  /* presses closer than this are one press */
    const char *consumer; /* shown by gpioinfo, e.g. "cccd-reader" */
};

struct gpio_dev;

struct gpio_ops {
    const char *name;
    /* Requests every used line; outputs start off. err names the chip and
     * line that failed and what to check. */
    int (*open)(struct gpio_dev **out, const struct gpio_config *cfg, char *err, size_t errlen);
    void (*close)(struct gpio_dev *dev); /* outputs off, lines released */
    int (*set)(struct gpio_dev *dev, enum gpio_out line, bool on);
    /* A file descriptor that becomes readable when the button has events,
     * or -1 when there is no button (or the backend cannot poll). */
    int (*button_fd)(struct gpio_dev *dev);
    /* Reads pending button events without blocking; returns the number of
     * debounced presses (0 or more) or a negative gpio_status. */
    int (*button_presses)(struct gpio_dev *dev);
};

extern const struct gpio_ops gpio_null_ops;
extern const struct gpio_ops gpio_gpiod_ops;

/* "gpiod" or "null"; NULL for an unknown name. */
const struct gpio_ops *gpio_backend(const char *name);

#endif
