/* gpio_gpiod_v2.c - gpio_lib_* over libgpiod 2.x (trixie).
 *
 * Compiled to nothing unless CCCD_GPIOD_MAJOR is 2. A v2 line request owns
 * its own file descriptor, so the chip is closed once the line is requested.
 */
#include "gpio_internal.h"

#if CCCD_GPIOD_MAJOR == 2

#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>

#define EVENTS_MAX 16

struct gpio_lib_line {
    struct gpiod_line_request *req;
    unsigned offset;
    struct gpiod_edge_event_buffer *events; /* the button only */
};

int gpio_lib_major(void)
{
    return 2;
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
    struct gpiod_chip_info *info = gpiod_chip_get_info(chip);
    if (!info)
        return -1;
    snprintf(buf, len, "%s", gpiod_chip_info_get_label(info));
    gpiod_chip_info_free(info);
    return 0;
}

long gpio_lib_chip_num_lines(struct gpiod_chip *chip)
{
    struct gpiod_chip_info *info = gpiod_chip_get_info(chip);
    if (!info)
        return -1;
    long n = (long)gpiod_chip_info_get_num_lines(info);
    gpiod_chip_info_free(info);
    return n;
}

long gpio_lib_chip_find_line(struct gpiod_chip *chip, const char *name)
{
    return gpiod_chip_get_line_offset_from_name(chip, name); /* -1, ENOENT if absent */
}

/* One line with the given settings; NULL with errno on failure. */
static struct gpiod_line_request *request_one(struct gpiod_chip *chip, unsigned offset,
                                              const char *consumer,
                                              struct gpiod_line_settings *settings)
{
    struct gpiod_line_config *lines = gpiod_line_config_new();
    struct gpiod_request_config *req_cfg = gpiod_request_config_new();
    struct gpiod_line_request *req = NULL;
    if (lines && req_cfg && gpiod_line_config_add_line_settings(lines, &offset, 1, settings) == 0) {
        gpiod_request_config_set_consumer(req_cfg, consumer);
        req = gpiod_chip_request_lines(chip, req_cfg, lines);
    }
    int e = errno; /* the frees below may clobber it */
    gpiod_request_config_free(req_cfg);
    gpiod_line_config_free(lines);
    errno = req ? 0 : (e ? e : ENOMEM);
    return req;
}

/* Wraps a request and closes the chip; on failure the request is undone. */
static struct gpio_lib_line *wrap(struct gpiod_chip *chip, struct gpiod_line_request *req,
                                  unsigned offset, bool events)
{
    struct gpio_lib_line *l = calloc(1, sizeof *l);
    if (l && events)
        l->events = gpiod_edge_event_buffer_new(EVENTS_MAX);
    if (!l || (events && !l->events)) {
        free(l);
        gpiod_line_request_release(req);
        errno = ENOMEM;
        return NULL;
    }
    l->req = req;
    l->offset = offset;
    gpiod_chip_close(chip);
    return l;
}

struct gpio_lib_line *gpio_lib_request_output(struct gpiod_chip *chip, unsigned offset,
                                              const char *consumer, bool active_low)
{
    struct gpiod_line_settings *s = gpiod_line_settings_new();
    if (!s)
        return NULL;
    struct gpiod_line_request *req = NULL;
    gpiod_line_settings_set_active_low(s, active_low);
    /* The output value is logical: inactive is "off" whatever the polarity. */
    if (gpiod_line_settings_set_direction(s, GPIOD_LINE_DIRECTION_OUTPUT) == 0 &&
        gpiod_line_settings_set_output_value(s, GPIOD_LINE_VALUE_INACTIVE) == 0)
        req = request_one(chip, offset, consumer, s);
    gpiod_line_settings_free(s);
    return req ? wrap(chip, req, offset, false) : NULL;
}

/* Did the kernel take the debounce period? It reports it in the line info. */
static bool kernel_debounces(struct gpiod_chip *chip, unsigned offset)
{
    struct gpiod_line_info *info = gpiod_chip_get_line_info(chip, offset);
    if (!info)
        return false;
    bool on = gpiod_line_info_get_debounce_period_us(info) > 0;
    gpiod_line_info_free(info);
    return on;
}

static int button_settings(struct gpiod_line_settings *s, bool active_low)
{
    gpiod_line_settings_set_active_low(s, active_low);
    /* Bias toward the released level: an active-low button shorts to ground.
     * Both edges: each event then carries its direction, which the debounce
     * filter needs to see releases. */
    return gpiod_line_settings_set_direction(s, GPIOD_LINE_DIRECTION_INPUT) |
           gpiod_line_settings_set_edge_detection(s, GPIOD_LINE_EDGE_BOTH) |
           gpiod_line_settings_set_bias(s, active_low ? GPIOD_LINE_BIAS_PULL_UP
                                                      : GPIOD_LINE_BIAS_PULL_DOWN);
}

struct gpio_lib_line *gpio_lib_request_button(struct gpiod_chip *chip, unsigned offset,
                                              const char *consumer, bool active_low,
                                              int debounce_ms, bool *kernel_debounce)
{
    *kernel_debounce = false;
    struct gpiod_line_settings *s = gpiod_line_settings_new();
    if (!s)
        return NULL;
    struct gpiod_line_request *req = NULL;
    if (button_settings(s, active_low) == 0) {
        gpiod_line_settings_set_debounce_period_us(s, (unsigned long)debounce_ms * 1000u);
        req = request_one(chip, offset, consumer, s);
        /* A kernel that refuses the period still gives edges: filter those
         * in software (the caller does when *kernel_debounce stays false). */
        if (!req && debounce_ms > 0 && (errno == EINVAL || errno == EOPNOTSUPP)) {
            gpiod_line_settings_set_debounce_period_us(s, 0);
            req = request_one(chip, offset, consumer, s);
        }
    }
    gpiod_line_settings_free(s);
    if (!req)
        return NULL;
    *kernel_debounce = debounce_ms > 0 && kernel_debounces(chip, offset);
    return wrap(chip, req, offset, true);
}

int gpio_lib_set(struct gpio_lib_line *l, bool on)
{
    return gpiod_line_request_set_value(l->req, l->offset,
                                        on ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE);
}

int gpio_lib_get(struct gpio_lib_line *l)
{
    enum gpiod_line_value v = gpiod_line_request_get_value(l->req, l->offset);
    return v == GPIOD_LINE_VALUE_ERROR ? -1 : v == GPIOD_LINE_VALUE_ACTIVE;
}

int gpio_lib_fd(struct gpio_lib_line *l)
{
    return gpiod_line_request_get_fd(l->req);
}

int gpio_lib_read_edges(struct gpio_lib_line *l, struct gpio_edge *edges, size_t max)
{
    int n = gpiod_line_request_read_edge_events(l->req, l->events, max < EVENTS_MAX ? max : EVENTS_MAX);
    for (int i = 0; i < n; i++) {
        struct gpiod_edge_event *ev = gpiod_edge_event_buffer_get_event(l->events, (unsigned long)i);
        edges[i].ts_ns = gpiod_edge_event_get_timestamp_ns(ev);
        edges[i].rising = gpiod_edge_event_get_event_type(ev) == GPIOD_EDGE_EVENT_RISING_EDGE;
    }
    return n;
}

void gpio_lib_release(struct gpio_lib_line *l)
{
    if (!l)
        return;
    gpiod_line_request_release(l->req);
    gpiod_edge_event_buffer_free(l->events); /* NULL-safe */
    free(l);
}

#endif
