/* gpio_gpiod_v1.c - gpio_lib_* over libgpiod 1.6 (bookworm).
 *
 * Compiled to nothing unless CCCD_GPIOD_MAJOR is 1. A v1 line belongs to
 * its chip handle and is released when the chip closes, so each requested
 * line keeps its own chip handle open.
 */
#include "gpio_internal.h"

#if CCCD_GPIOD_MAJOR == 1

#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>

#define EVENTS_MAX 16

struct gpio_lib_line {
    struct gpiod_chip *chip;
    struct gpiod_line *line;
};

int gpio_lib_major(void)
{
    return 1;
}

struct gpiod_chip *gpio_lib_chip_open(const char *path)
{
    /* Checks the path is a GPIO character device (ENODEV/ENOTTY if not). */
    return gpiod_chip_open(path);
}

void gpio_lib_chip_close(struct gpiod_chip *chip)
{
    if (chip)
        gpiod_chip_close(chip);
}

int gpio_lib_chip_label(struct gpiod_chip *chip, char *buf, size_t len)
{
    const char *label = gpiod_chip_label(chip);
    if (!label) {
        errno = EIO;
        return -1;
    }
    snprintf(buf, len, "%s", label);
    return 0;
}

long gpio_lib_chip_num_lines(struct gpiod_chip *chip)
{
    return (long)gpiod_chip_num_lines(chip);
}

long gpio_lib_chip_find_line(struct gpiod_chip *chip, const char *name)
{
    struct gpiod_line *line = gpiod_chip_find_line(chip, name); /* ENOENT if absent */
    return line ? (long)gpiod_line_offset(line) : -1;
}

/* Wraps a requested line; on failure the request is undone, errno ENOMEM. */
static struct gpio_lib_line *wrap(struct gpiod_chip *chip, struct gpiod_line *line)
{
    struct gpio_lib_line *l = malloc(sizeof *l);
    if (!l) {
        gpiod_line_release(line);
        errno = ENOMEM;
        return NULL;
    }
    l->chip = chip;
    l->line = line;
    return l;
}

struct gpio_lib_line *gpio_lib_request_output(struct gpiod_chip *chip, unsigned offset,
                                              const char *consumer, bool active_low)
{
    struct gpiod_line *line = gpiod_chip_get_line(chip, offset);
    if (!line)
        return NULL;
    int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    /* The default value is logical: 0 is "off" whatever the polarity. */
    if (gpiod_line_request_output_flags(line, consumer, flags, 0) < 0)
        return NULL;
    return wrap(chip, line);
}

struct gpio_lib_line *gpio_lib_request_button(struct gpiod_chip *chip, unsigned offset,
                                              const char *consumer, bool active_low,
                                              int debounce_ms, bool *kernel_debounce)
{
    (void)debounce_ms; /* the v1 uAPI has no debounce: the caller filters */
    *kernel_debounce = false;
    struct gpiod_line *line = gpiod_chip_get_line(chip, offset);
    if (!line)
        return NULL;
    /* Bias toward the released level: an active-low button shorts to ground. */
    int polarity = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    int bias = active_low ? GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP
                          : GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
    /* Both edges: the kernel then reports each edge with the logical level
     * read after it, which the debounce filter needs to see releases. */
    if (gpiod_line_request_both_edges_events_flags(line, consumer, polarity | bias) == 0)
        return wrap(chip, line);
    /* Kernels before 5.5 reject bias flags: the board's resistor must do. */
    if (errno != EINVAL || gpiod_line_request_both_edges_events_flags(line, consumer, polarity) < 0)
        return NULL;
    return wrap(chip, line);
}

int gpio_lib_set(struct gpio_lib_line *l, bool on)
{
    return gpiod_line_set_value(l->line, on ? 1 : 0) < 0 ? -1 : 0;
}

int gpio_lib_get(struct gpio_lib_line *l)
{
    return gpiod_line_get_value(l->line);
}

int gpio_lib_fd(struct gpio_lib_line *l)
{
    return gpiod_line_event_get_fd(l->line);
}

int gpio_lib_read_edges(struct gpio_lib_line *l, struct gpio_edge *edges, size_t max)
{
    struct gpiod_line_event ev[EVENTS_MAX];
    int n = gpiod_line_event_read_multiple(l->line, ev, max < EVENTS_MAX ? (unsigned)max : EVENTS_MAX);
    for (int i = 0; i < n; i++) {
        edges[i].ts_ns = (uint64_t)ev[i].ts.tv_sec * 1000000000u + (uint64_t)ev[i].ts.tv_nsec;
        edges[i].rising = ev[i].event_type == GPIOD_LINE_EVENT_RISING_EDGE;
    }
    return n;
}

void gpio_lib_release(struct gpio_lib_line *l)
{
    if (!l)
        return;
    gpiod_line_release(l->line);
    gpiod_chip_close(l->chip);
    free(l);
}

#endif
