/* gpio_internal.h - drivers-private parts of the GPIO backends.
 *
 * Two layers:
 *   - pure helpers (spec parsing, config checks, chip listing, the software
 *     debounce filter), in gpio_gpiod.c and unit-tested by tests/test_gpio.c;
 *   - a thin adapter over libgpiod, "gpio_lib_*", written twice:
 *     gpio_gpiod_v1.c (libgpiod 1.6) and gpio_gpiod_v2.c (libgpiod 2.x). The
 *     build compiles both files and CCCD_GPIOD_MAJOR leaves one of them empty.
 *     Adapter calls report failure like libgpiod itself (NULL or -1, errno
 *     set), so gpio_gpiod.c alone turns errors into gpio_status and messages,
 *     and both generations resolve chips and lines by the same rules.
 */
#ifndef CCCD_GPIO_INTERNAL_H
#define CCCD_GPIO_INTERNAL_H

#include "drivers/gpio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(CCCD_GPIOD_MAJOR) || ((CCCD_GPIOD_MAJOR + 0) != 1 && (CCCD_GPIOD_MAJOR + 0) != 2)
#error "CCCD_GPIOD_MAJOR must be 1 or 2: is libgpiod-dev installed (pkg-config --modversion libgpiod)?"
#endif

/* ---- spec parsing ---------------------------------------------------------- */

enum gpio_chip_kind {
    GPIO_CHIP_ANY,   /* "": search every chip for the line's name */
    GPIO_CHIP_PATH,  /* "/dev/gpiochip0" */
    GPIO_CHIP_NAME,  /* "gpiochip0" */
    GPIO_CHIP_LABEL, /* anything else: "pinctrl-rp1", "gpio-sim.0-node0" */
};

enum gpio_chip_kind gpio_chip_kind(const char *chip);

/* The offset a line spec names ("17" -> 17), or -1 when it is a line name
 * ("GPIO17") or empty. */
long gpio_line_offset(const char *line);

/* What the spec of an output or the button is called in messages. */
const char *gpio_role_name(int out); /* GPIO_OUT_COUNT: the button */

/* Checks what can be checked without hardware (empty or unterminated specs,
 * an offset without a chip, one line used twice, a negative debounce).
 * Returns 0 or GPIO_ERR_CONFIG with a message in err. */
int gpio_check_config(const struct gpio_config *cfg, char *err, size_t errlen);

/* ---- chip listing ---------------------------------------------------------- */

#define GPIO_CHIPS_MAX 32
#define GPIO_PATH_MAX 128

struct gpio_chip_list {
    size_t count;
    char path[GPIO_CHIPS_MAX][GPIO_PATH_MAX];
};

/* Lists DIR/gpiochipN in order of N (so "search every chip" finds the same
 * line whichever libgpiod is used). Returns the count, or -1 with errno. */
int gpio_list_chips(const char *dir, struct gpio_chip_list *list);

/* ---- software debounce ----------------------------------------------------- */

/* Edges come in bursts while a contact bounces. A burst begins with an edge
 * at least window after the previous one. A press is a burst that begins
 * from the released state and contains a rising (logical) edge; it counts
 * once. So press bounce gives one press, release bounce after a long hold
 * gives none, and two counted presses are always at least window apart. */
struct gpio_debounce {
    uint64_t window_ns;
    uint64_t last_ns; /* time of the newest edge */
    bool seen;        /* an edge has been seen */
    bool level;       /* logical level after the newest edge */
    bool settled;     /* level when the current burst began */
    bool counted;     /* the current burst gave its press */
};

/* level: the button's logical level now (true = pressed). */
void gpio_debounce_init(struct gpio_debounce *d, int debounce_ms, bool level);
/* Feeds one edge; true when it completes a press. */
bool gpio_debounce_edge(struct gpio_debounce *d, uint64_t ts_ns, bool rising);

/* ---- libgpiod adapter (gpio_gpiod_v1.c or gpio_gpiod_v2.c) ----------------- */

struct gpiod_chip; /* libgpiod's own type, in both generations */
struct gpio_lib_line;

struct gpio_edge {
    uint64_t ts_ns;
    bool rising; /* logical: with active_low, the falling wire edge */
};

int gpio_lib_major(void);
struct gpiod_chip *gpio_lib_chip_open(const char *path);
void gpio_lib_chip_close(struct gpiod_chip *chip);
/* Copies the chip's label into buf; -1 with errno on failure. */
int gpio_lib_chip_label(struct gpiod_chip *chip, char *buf, size_t len);
/* Number of lines, or -1 with errno. */
long gpio_lib_chip_num_lines(struct gpiod_chip *chip);
/* Offset of the first line named name, or -1 (errno ENOENT: no such line). */
long gpio_lib_chip_find_line(struct gpiod_chip *chip, const char *name);

/* Requests take the chip on success (v1 must keep it open while the line is
 * held; v2 closes it at once); on failure (NULL, errno) it stays the caller's.
 * Outputs start logically off. */
struct gpio_lib_line *gpio_lib_request_output(struct gpiod_chip *chip, unsigned offset,
                                              const char *consumer, bool active_low);
/* Input with edge events on both edges and bias toward the released level.
 * *kernel_debounce tells whether the kernel debounces (v2), else the caller
 * filters in software. */
struct gpio_lib_line *gpio_lib_request_button(struct gpiod_chip *chip, unsigned offset,
                                              const char *consumer, bool active_low,
                                              int debounce_ms, bool *kernel_debounce);
int gpio_lib_set(struct gpio_lib_line *line, bool on); /* 0 or -1 */
int gpio_lib_get(struct gpio_lib_line *line);          /* 0, 1 or -1 */
int gpio_lib_fd(struct gpio_lib_line *line);
/* Reads up to max pending edges (call when the fd is readable: it blocks
 * otherwise). Returns the count, or -1 with errno. */
int gpio_lib_read_edges(struct gpio_lib_line *line, struct gpio_edge *edges, size_t max);
void gpio_lib_release(struct gpio_lib_line *line); /* NULL-safe */

/* ---- null backend ---------------------------------------------------------- */

/* The level the null backend remembers for an output (tests, the demo). */
bool gpio_null_level(const struct gpio_dev *dev, enum gpio_out line);

#endif
