/* gpio_gpiod.c - the "gpiod" backend: libgpiod v1 or v2 through gpio_lib_*.
 *
 * This file holds everything both libgpiod generations share: resolving a
 * chip spec (path, name, label or "every chip") and a line spec (offset or
 * name), error messages, the software debounce filter, and the gpio_ops.
 * gpio_gpiod_v1.c / gpio_gpiod_v2.c only translate calls to libgpiod.
 *
 * Each line is requested on its own: the outputs and the button may sit on
 * different chips, and five requests cost nothing at start-up.
 */
#include "gpio_internal.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONSUMER "cccd-reader"
#define EDGE_BATCH 16
/* Bounds one button_presses() call under an interrupt storm; the fd stays
 * readable, so the rest is read on the next call. */
#define EDGE_ROUNDS 64

struct gpio_dev {
    struct gpio_lib_line *out[GPIO_OUT_COUNT];
    struct gpio_lib_line *button;
    struct gpio_debounce debounce;
};

/* ---- pure helpers ------------------------------------------------------------ */

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

enum gpio_chip_kind gpio_chip_kind(const char *chip)
{
    if (!chip || !*chip)
        return GPIO_CHIP_ANY;
    if (chip[0] == '/')
        return GPIO_CHIP_PATH;
    if (strncmp(chip, "gpiochip", 8) == 0 && all_digits(chip + 8))
        return GPIO_CHIP_NAME;
    return GPIO_CHIP_LABEL;
}

long gpio_line_offset(const char *line)
{
    /* Offsets are small (a chip has at most a few hundred lines); a long run
     * of digits is rejected rather than overflowed. */
    if (!line || !all_digits(line) || strlen(line) > 6)
        return -1;
    return strtol(line, NULL, 10);
}

const char *gpio_role_name(int out)
{
    static const char *const names[] = {"green LED", "red LED", "amber LED", "buzzer", "button"};
    return out >= 0 && out <= GPIO_OUT_COUNT ? names[out] : "line";
}

static void vformat(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
}

static int config_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(err, errlen, fmt, ap);
    va_end(ap);
    return GPIO_ERR_CONFIG;
}

static const struct gpio_line_spec *spec_of(const struct gpio_config *cfg, int i)
{
    return i < GPIO_OUT_COUNT ? &cfg->out[i] : &cfg->button;
}

/* One spec on its own: terminated strings, a line, a chip for an offset. */
static int check_spec(const struct gpio_line_spec *s, const char *role, char *err, size_t errlen)
{
    if (!memchr(s->chip, '\0', sizeof s->chip) || !memchr(s->line, '\0', sizeof s->line))
        return config_error(err, errlen, "%s: chip or line name longer than %d bytes", role,
                            GPIO_NAME_MAX - 1);
    if (!s->line[0])
        return config_error(err, errlen,
                            "%s: no line given: set it to an offset (\"17\") or a line name "
                            "(\"GPIO17\")", role);
    if (!s->chip[0] && gpio_line_offset(s->line) >= 0)
        return config_error(err, errlen,
                            "%s: line %s is an offset, which needs a chip: name the chip (e.g. "
                            "\"pinctrl-rp1\" or \"/dev/gpiochip0\") or use the line's name (e.g. "
                            "\"GPIO%s\")", role, s->line, s->line);
    return 0;
}

/* The same spelling twice would fail later as "busy", which misleads. */
static int check_duplicates(const struct gpio_config *cfg, char *err, size_t errlen)
{
    for (int i = 0; i <= GPIO_OUT_COUNT; i++) {
        const struct gpio_line_spec *a = spec_of(cfg, i);
        for (int j = i + 1; a->used && j <= GPIO_OUT_COUNT; j++) {
            const struct gpio_line_spec *b = spec_of(cfg, j);
            if (b->used && strcmp(a->chip, b->chip) == 0 && strcmp(a->line, b->line) == 0)
                return config_error(err, errlen, "%s and %s both use line %s (chip \"%s\")",
                                    gpio_role_name(i), gpio_role_name(j), a->line, a->chip);
        }
    }
    return 0;
}

int gpio_check_config(const struct gpio_config *cfg, char *err, size_t errlen)
{
    if (!cfg)
        return config_error(err, errlen, "no GPIO configuration given");
    for (int i = 0; i <= GPIO_OUT_COUNT; i++) {
        const struct gpio_line_spec *s = spec_of(cfg, i);
        int rc = s->used ? check_spec(s, gpio_role_name(i), err, errlen) : 0;
        if (rc)
            return rc;
    }
    if (cfg->button.used && cfg->debounce_ms < 0)
        return config_error(err, errlen, "button: debounce_ms is %d; it must be 0 or more",
                            cfg->debounce_ms);
    return check_duplicates(cfg, err, errlen);
}

/* ---- chip listing ------------------------------------------------------------ */

static unsigned long chip_number(const char *path)
{
    const char *base = strrchr(path, '/');
    return strtoul((base ? base + 1 : path) + 8, NULL, 10);
}

static int by_chip_number(const void *a, const void *b)
{
    unsigned long x = chip_number(a), y = chip_number(b);
    return (x > y) - (x < y);
}

int gpio_list_chips(const char *dir, struct gpio_chip_list *list)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    list->count = 0;
    struct dirent *e;
    while ((e = readdir(d)) && list->count < GPIO_CHIPS_MAX) {
        /* gpiochipN only: udev symlinks with other names point at one of them. */
        if (gpio_chip_kind(e->d_name) != GPIO_CHIP_NAME)
            continue;
        int n = snprintf(list->path[list->count], GPIO_PATH_MAX, "%s/%s", dir, e->d_name);
        if (n > 0 && n < GPIO_PATH_MAX)
            list->count++;
    }
    closedir(d);
    qsort(list->path, list->count, sizeof list->path[0], by_chip_number);
    return (int)list->count;
}

/* ---- software debounce --------------------------------------------------------- */

void gpio_debounce_init(struct gpio_debounce *d, int debounce_ms, bool level)
{
    memset(d, 0, sizeof *d);
    d->window_ns = debounce_ms > 0 ? (uint64_t)debounce_ms * 1000000u : 0;
    d->level = level;
}

bool gpio_debounce_edge(struct gpio_debounce *d, uint64_t ts_ns, bool rising)
{
    /* A timestamp that goes backwards (a realtime event clock being set)
     * wraps to a huge gap and starts a new burst: at worst one extra press. */
    if (!d->seen || ts_ns - d->last_ns >= d->window_ns) {
        d->settled = d->level;
        d->counted = false;
    }
    d->seen = true;
    d->last_ns = ts_ns;
    d->level = rising;
    if (!rising || d->settled || d->counted)
        return false;
    d->counted = true;
    return true;
}

/* ---- resolving a spec to a chip and an offset ----------------------------------- */

/* What a failing request is about, for messages. */
struct line_ctx {
    const char *role;
    const struct gpio_line_spec *spec;
    char *err;
    size_t errlen;
};

static int fail(const struct line_ctx *c, int status, const char *fmt, ...)
{
    char what[GPIO_NAME_MAX * 2 + 64];
    if (c->spec->chip[0])
        snprintf(what, sizeof what, "%s (chip \"%s\", line \"%s\")", c->role, c->spec->chip,
                 c->spec->line);
    else
        snprintf(what, sizeof what, "%s (line \"%s\" on any chip)", c->role, c->spec->line);
    char why[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (c->err && c->errlen)
        snprintf(c->err, c->errlen, "%s: %s", what, why);
    return status;
}

static int open_failed(const struct line_ctx *c, const char *path, int e)
{
    if (e == ENOENT || e == ENODEV || e == ENOTTY || e == ENXIO)
        return fail(c, GPIO_ERR_CHIP,
                    "no GPIO chip at %s: check `gpiodetect` output and [gpio] chip in the config",
                    path);
    if (e == EACCES || e == EPERM)
        return fail(c, GPIO_ERR_CHIP,
                    "cannot open %s: permission denied: run as a member of group \"gpio\" "
                    "(or check the udev rules for /dev/gpiochip*)", path);
    return fail(c, GPIO_ERR_CHIP, "cannot open %s: %s", path, strerror(e));
}

/* The line on an open chip: an offset within range, or the first line with
 * that name. */
static int line_on_chip(const struct line_ctx *c, struct gpiod_chip *chip, const char *path,
                        unsigned *offset)
{
    long off = gpio_line_offset(c->spec->line);
    if (off >= 0) {
        long n = gpio_lib_chip_num_lines(chip);
        if (n >= 0 && off >= n)
            return fail(c, GPIO_ERR_LINE,
                        "offset %ld is out of range: %s has %ld lines (0-%ld): check `gpioinfo %s`",
                        off, path, n, n - 1, path);
    } else {
        off = gpio_lib_chip_find_line(chip, c->spec->line);
        if (off < 0)
            return fail(c, GPIO_ERR_LINE,
                        "%s has no line named \"%s\": check the names in `gpioinfo %s`", path,
                        c->spec->line, path);
    }
    *offset = (unsigned)off;
    return 0;
}

static int resolve_at_path(const struct line_ctx *c, const char *path, struct gpiod_chip **chip,
                           unsigned *offset)
{
    *chip = gpio_lib_chip_open(path);
    if (!*chip)
        return open_failed(c, path, errno);
    int rc = line_on_chip(c, *chip, path, offset);
    if (rc) {
        gpio_lib_chip_close(*chip);
        *chip = NULL;
    }
    return rc;
}

/* Does this chip match the spec: by label, or (chip "") by holding the line? */
static bool chip_matches(const struct line_ctx *c, struct gpiod_chip *chip)
{
    if (c->spec->chip[0]) {
        char label[GPIO_NAME_MAX];
        return gpio_lib_chip_label(chip, label, sizeof label) == 0 &&
               strcmp(label, c->spec->chip) == 0;
    }
    return gpio_lib_chip_find_line(chip, c->spec->line) >= 0;
}

static int search_failed(const struct line_ctx *c, size_t chips, size_t unopened, int open_errno)
{
    char note[160] = "";
    if (unopened)
        snprintf(note, sizeof note, " (%zu of %zu chips could not be opened: %s)", unopened, chips,
                 strerror(open_errno));
    if (chips == 0)
        return fail(c, GPIO_ERR_CHIP,
                    "no GPIO chips in /dev: is the GPIO driver loaded? check `gpiodetect`");
    if (c->spec->chip[0])
        return fail(c, GPIO_ERR_CHIP,
                    "no chip labelled \"%s\"%s: check `gpiodetect` output and [gpio] chip in "
                    "the config", c->spec->chip, note);
    return fail(c, GPIO_ERR_LINE,
                "no chip has a line named \"%s\"%s: check `gpioinfo` and [gpio] line in the "
                "config, or name the chip", c->spec->line, note);
}

/* Label or "every chip": walk /dev/gpiochipN in order, first match wins. */
static int resolve_by_search(const struct line_ctx *c, struct gpiod_chip **chip, unsigned *offset)
{
    struct gpio_chip_list *list = malloc(sizeof *list);
    if (!list)
        return fail(c, GPIO_ERR_IO, "out of memory");
    if (gpio_list_chips("/dev", list) < 0)
        list->count = 0;
    size_t unopened = 0;
    int open_errno = 0, rc = 1;
    for (size_t i = 0; i < list->count && rc == 1; i++) {
        struct gpiod_chip *ch = gpio_lib_chip_open(list->path[i]);
        if (!ch) {
            unopened++;
            open_errno = errno;
        } else if (!chip_matches(c, ch)) {
            gpio_lib_chip_close(ch);
        } else {
            rc = line_on_chip(c, ch, list->path[i], offset);
            if (rc)
                gpio_lib_chip_close(ch);
            else
                *chip = ch;
        }
    }
    if (rc == 1)
        rc = search_failed(c, list->count, unopened, open_errno);
    free(list);
    return rc;
}

static int resolve(const struct line_ctx *c, struct gpiod_chip **chip, unsigned *offset)
{
    char path[GPIO_PATH_MAX];
    switch (gpio_chip_kind(c->spec->chip)) {
    case GPIO_CHIP_PATH:
        return resolve_at_path(c, c->spec->chip, chip, offset);
    case GPIO_CHIP_NAME:
        snprintf(path, sizeof path, "/dev/%s", c->spec->chip);
        return resolve_at_path(c, path, chip, offset);
    default:
        return resolve_by_search(c, chip, offset);
    }
}

/* ---- requests ---------------------------------------------------------------------- */

static int request_failed(const struct line_ctx *c, unsigned offset, int e)
{
    if (e == EBUSY)
        return fail(c, GPIO_ERR_BUSY,
                    "line %u is busy: another program (or a kernel driver, or another line of "
                    "this config) holds it, see `gpioinfo`", offset);
    return fail(c, GPIO_ERR_IO, "cannot request line %u: %s", offset, strerror(e));
}

static int request_output(struct gpio_dev *dev, const struct gpio_config *cfg, int i,
                          char *err, size_t errlen)
{
    struct line_ctx c = {gpio_role_name(i), &cfg->out[i], err, errlen};
    struct gpiod_chip *chip;
    unsigned offset;
    int rc = resolve(&c, &chip, &offset);
    if (rc)
        return rc;
    const char *consumer = cfg->consumer ? cfg->consumer : DEFAULT_CONSUMER;
    dev->out[i] = gpio_lib_request_output(chip, offset, consumer, cfg->out[i].active_low);
    if (dev->out[i])
        return 0;
    rc = request_failed(&c, offset, errno);
    gpio_lib_chip_close(chip);
    return rc;
}

static int request_button(struct gpio_dev *dev, const struct gpio_config *cfg, char *err,
                          size_t errlen)
{
    struct line_ctx c = {gpio_role_name(GPIO_OUT_COUNT), &cfg->button, err, errlen};
    struct gpiod_chip *chip;
    unsigned offset;
    int rc = resolve(&c, &chip, &offset);
    if (rc)
        return rc;
    const char *consumer = cfg->consumer ? cfg->consumer : DEFAULT_CONSUMER;
    bool kernel = false;
    dev->button = gpio_lib_request_button(chip, offset, consumer, cfg->button.active_low,
                                          cfg->debounce_ms, &kernel);
    if (!dev->button) {
        rc = request_failed(&c, offset, errno);
        gpio_lib_chip_close(chip);
        return rc;
    }
    /* With kernel debounce the edges are already clean: the filter then only
     * turns transitions into presses (window 0). A held button at start-up
     * must not count when it is released. */
    int level = gpio_lib_get(dev->button);
    gpio_debounce_init(&dev->debounce, kernel ? 0 : cfg->debounce_ms, level == 1);
    return 0;
}

/* ---- gpio_ops -------------------------------------------------------------------- */

static void gpiod_backend_close(struct gpio_dev *dev)
{
    if (!dev)
        return;
    for (int i = 0; i < GPIO_OUT_COUNT; i++) {
        if (dev->out[i])
            gpio_lib_set(dev->out[i], false); /* best effort: nothing to report to */
        gpio_lib_release(dev->out[i]);
    }
    gpio_lib_release(dev->button);
    free(dev);
}

static int gpiod_backend_open(struct gpio_dev **out, const struct gpio_config *cfg, char *err,
                              size_t errlen)
{
    if (!out)
        return config_error(err, errlen, "gpio open: nowhere to return the device");
    *out = NULL;
    int rc = gpio_check_config(cfg, err, errlen);
    if (rc)
        return rc;
    struct gpio_dev *dev = calloc(1, sizeof *dev);
    if (!dev) {
        config_error(err, errlen, "gpio open: out of memory");
        return GPIO_ERR_IO;
    }
    for (int i = 0; i < GPIO_OUT_COUNT && rc == 0; i++)
        if (cfg->out[i].used)
            rc = request_output(dev, cfg, i, err, errlen);
    if (rc == 0 && cfg->button.used)
        rc = request_button(dev, cfg, err, errlen);
    if (rc) {
        gpiod_backend_close(dev); /* releases what was requested, outputs off */
        return rc;
    }
    *out = dev;
    return 0;
}

static int gpiod_backend_set(struct gpio_dev *dev, enum gpio_out line, bool on)
{
    if (!dev || (int)line < 0 || line >= GPIO_OUT_COUNT)
        return GPIO_ERR_CONFIG;
    if (!dev->out[line])
        return 0; /* not wired: the loop drives every output regardless */
    return gpio_lib_set(dev->out[line], on) == 0 ? 0 : GPIO_ERR_IO;
}

static int gpiod_backend_button_fd(struct gpio_dev *dev)
{
    return dev && dev->button ? gpio_lib_fd(dev->button) : -1;
}

/* Is there an event to read now? 1 yes, 0 no, or a gpio_status. */
static int edges_pending(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 || (p.revents & (POLLERR | POLLNVAL)))
        return GPIO_ERR_IO;
    return n > 0 && (p.revents & POLLIN);
}

static int gpiod_backend_button_presses(struct gpio_dev *dev)
{
    if (!dev || !dev->button)
        return 0;
    int fd = gpio_lib_fd(dev->button), presses = 0;
    for (int round = 0; round < EDGE_ROUNDS; round++) {
        int ready = edges_pending(fd);
        if (ready <= 0)
            return ready < 0 ? ready : presses;
        struct gpio_edge edges[EDGE_BATCH];
        int n = gpio_lib_read_edges(dev->button, edges, EDGE_BATCH);
        if (n < 0)
            return GPIO_ERR_IO;
        for (int i = 0; i < n; i++)
            presses += gpio_debounce_edge(&dev->debounce, edges[i].ts_ns, edges[i].rising);
    }
    return presses;
}

const struct gpio_ops gpio_gpiod_ops = {
    .name = "gpiod",
    .open = gpiod_backend_open,
    .close = gpiod_backend_close,
    .set = gpiod_backend_set,
    .button_fd = gpiod_backend_button_fd,
    .button_presses = gpiod_backend_button_presses,
};
