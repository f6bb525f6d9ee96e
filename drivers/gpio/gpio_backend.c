/* gpio_backend.c - backend lookup by the name the configuration gives. */
#include "drivers/gpio.h"

#include <string.h>

const struct gpio_ops *gpio_backend(const char *name)
{
    static const struct gpio_ops *const backends[] = {&gpio_gpiod_ops, &gpio_null_ops};
    for (size_t i = 0; name && i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(name, backends[i]->name) == 0)
            return backends[i];
    return NULL;
}
