/* gpio_null.c - the "null" backend: no hardware (development machines, the
 * demo). Every call succeeds; outputs are remembered so a test or a demo can
 * look at them (gpio_null_level), and there is never a button. */
#include "gpio_internal.h"

#include <stdlib.h>

struct gpio_dev {
    bool level[GPIO_OUT_COUNT];
};

static int null_open(struct gpio_dev **out, const struct gpio_config *cfg, char *err,
                     size_t errlen)
{
    (void)cfg;
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return GPIO_ERR_CONFIG;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : GPIO_ERR_IO;
}

static void null_close(struct gpio_dev *dev)
{
    free(dev);
}

static int null_set(struct gpio_dev *dev, enum gpio_out line, bool on)
{
    /* Same checks as the real backend, so misuse shows up without hardware. */
    if (!dev || (int)line < 0 || line >= GPIO_OUT_COUNT)
        return GPIO_ERR_CONFIG;
    dev->level[line] = on;
    return 0;
}

static int null_button_fd(struct gpio_dev *dev)
{
    (void)dev;
    return -1;
}

static int null_button_presses(struct gpio_dev *dev)
{
    (void)dev;
    return 0;
}

bool gpio_null_level(const struct gpio_dev *dev, enum gpio_out line)
{
    return dev && (int)line >= 0 && line < GPIO_OUT_COUNT && dev->level[line];
}

const struct gpio_ops gpio_null_ops = {
    .name = "null",
    .open = null_open,
    .close = null_close,
    .set = null_set,
    .button_fd = null_button_fd,
    .button_presses = null_button_presses,
};
