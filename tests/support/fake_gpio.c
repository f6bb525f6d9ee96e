/* fake_gpio.c - recording GPIO backend for the desk and loop tests. */
#include "fake_gpio.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"

#define MAX_EVENTS 1024

struct gpio_dev {
    int pipe[2];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_event events[MAX_EVENTS];
static int nevents, pending_presses;
static struct gpio_dev *open_dev;

static int fake_open(struct gpio_dev **out, const struct gpio_config *cfg, char *err, size_t errlen)
{
    (void)cfg;
    (void)err;
    (void)errlen;
    struct gpio_dev *d = calloc(1, sizeof(*d));
    if (!d || pipe(d->pipe) != 0) {
        free(d);
        return GPIO_ERR_IO;
    }
    fcntl(d->pipe[0], F_SETFL, O_NONBLOCK);
    pthread_mutex_lock(&lock);
    open_dev = d;
    pthread_mutex_unlock(&lock);
    *out = d;
    return 0;
}

static void fake_close(struct gpio_dev *d)
{
    pthread_mutex_lock(&lock);
    open_dev = NULL;
    pthread_mutex_unlock(&lock);
    close(d->pipe[0]);
    close(d->pipe[1]);
    free(d);
}

static int fake_set(struct gpio_dev *d, enum gpio_out line, bool on)
{
    (void)d;
    pthread_mutex_lock(&lock);
    if (nevents < MAX_EVENTS)
        events[nevents++] = (struct fake_event){ clock_ms(), (int)line, on };
    pthread_mutex_unlock(&lock);
    return 0;
}

static int fake_button_fd(struct gpio_dev *d)
{
    return d->pipe[0];
}

static int fake_button_presses(struct gpio_dev *d)
{
    char buf[16];
    while (read(d->pipe[0], buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&lock);
    int n = pending_presses;
    pending_presses = 0;
    pthread_mutex_unlock(&lock);
    return n;
}

const struct gpio_ops fake_gpio_ops = {
    .name = "fake",
    .open = fake_open,
    .close = fake_close,
    .set = fake_set,
    .button_fd = fake_button_fd,
    .button_presses = fake_button_presses,
};

int fake_gpio_events(struct fake_event *out, int max)
{
    pthread_mutex_lock(&lock);
    int n = nevents < max ? nevents : max;
    memcpy(out, events, (size_t)n * sizeof(*out));
    pthread_mutex_unlock(&lock);
    return n;
}

void fake_gpio_clear(void)
{
    pthread_mutex_lock(&lock);
    nevents = 0;
    pthread_mutex_unlock(&lock);
}

void fake_gpio_press(int n)
{
    pthread_mutex_lock(&lock);
    pending_presses += n;
    int fd = open_dev ? open_dev->pipe[1] : -1;
    pthread_mutex_unlock(&lock);
    if (fd >= 0 && write(fd, "p", 1) != 1)
        abort();
}

bool fake_gpio_is_open(void)
{
    pthread_mutex_lock(&lock);
    bool o = open_dev != NULL;
    pthread_mutex_unlock(&lock);
    return o;
}
