/* desk.c - LED and buzzer patterns on their own thread, and the button.
 *
 * All GPIO access happens on the pattern thread: libgpiod requests are not
 * meant to be shared between threads, and the button is polled there along
 * with a wake-up pipe that desk_show() writes to. */
#include "loop/desk.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"

#define G DESK_LINE(GPIO_GREEN)
#define R DESK_LINE(GPIO_RED)
#define A DESK_LINE(GPIO_AMBER)
#define B DESK_LINE(GPIO_BUZZER)

struct step {
    int ms;
    unsigned lines;
};

/* The patterns, learnable by ear alone: one short beep = in; two short =
 * already in; one long = look at the card; silence with red blinks = not a
 * card; a long beep with red and amber = queue full, write it down. */
static const struct step accepted[] = { { 150, G | B }, { 850, G }, { 0, 0 } };
static const struct step duplicate[] = { { 80, G | B }, { 120, G }, { 200, 0 }, { 80, G | B }, { 120, G }, { 0, 0 } };
static const struct step rejected[] = { { 600, R | B }, { 400, R }, { 0, 0 } };
static const struct step not_card[] = { { 150, R }, { 150, 0 }, { 150, R }, { 150, 0 }, { 150, R }, { 0, 0 } };
static const struct step queue_full[] = { { 1000, R | A | B }, { 1000, R | A }, { 0, 0 } };
/* Amber with two beeps: "talk to the patient about their insurance". */
static const struct step insurance[] = { { 300, A | B }, { 200, 0 }, { 300, A | B }, { 200, 0 }, { 300, A }, { 0, 0 } };

static const struct step *const patterns[DESK_SIGNAL_COUNT] = {
    [DESK_ACCEPTED] = accepted, [DESK_DUPLICATE] = duplicate, [DESK_REJECTED] = rejected,
    [DESK_NOT_CARD] = not_card, [DESK_QUEUE_FULL] = queue_full, [DESK_INSURANCE] = insurance,
};

static const char *const signal_names[DESK_SIGNAL_COUNT] = {
    "accepted", "duplicate", "rejected", "not-card", "queue-full", "insurance",
};

#define FAULT_BLINK_MS 500

struct desk {
    const struct gpio_ops *ops;
    struct gpio_dev *gpio;
    enum button_action action;
    int wake[2]; /* desk_show -> thread */
    pthread_t thread;
    pthread_mutex_t lock;
    /* Under lock: */
    bool stop;
    int signal;         /* playing transient, or -1 */
    int last_signal;    /* for "repeat" */
    int64_t signal_start;
    unsigned states;
    int64_t fault_since;
    bool muted;
    int64_t last_change;
    /* Thread only: */
    unsigned lit; /* lines as last set */
};

int desk_pattern_at(enum desk_signal s, int64_t elapsed_ms, int64_t *left_ms)
{
    if ((int)s < 0 || s >= DESK_SIGNAL_COUNT || elapsed_ms < 0)
        return -1;
    int64_t t = 0;
    for (const struct step *p = patterns[s]; p->ms; p++) {
        if (elapsed_ms < t + p->ms) {
            *left_ms = t + p->ms - elapsed_ms;
            return (int)p->lines;
        }
        t += p->ms;
    }
    return -1;
}

const char *desk_signal_name(enum desk_signal s)
{
    return (int)s >= 0 && s < DESK_SIGNAL_COUNT ? signal_names[s] : "unknown";
}

/* What should be lit now, and for how long (under lock). */
static unsigned wanted_lines(struct desk *d, int64_t now, int64_t *left)
{
    *left = 1000;
    if (d->signal >= 0) {
        int lines = desk_pattern_at((enum desk_signal)d->signal, now - d->signal_start, left);
        if (lines >= 0)
            return (unsigned)lines & (d->muted ? ~B : ~0u);
        d->signal = -1;
    }
    unsigned lines = (d->states & DESK_STATE_OFFLINE) ? A : 0;
    if (d->states & DESK_STATE_FAULT) {
        int64_t phase = (now - d->fault_since) % (2 * FAULT_BLINK_MS);
        *left = FAULT_BLINK_MS - phase % FAULT_BLINK_MS;
        if (phase < FAULT_BLINK_MS)
            lines |= R;
    }
    return lines;
}

static void apply(struct desk *d, unsigned lines, int64_t now)
{
    for (int i = 0; i < GPIO_OUT_COUNT; i++) {
        bool on = lines & DESK_LINE(i), was = d->lit & DESK_LINE(i);
        if (on != was && d->ops->set(d->gpio, (enum gpio_out)i, on) != 0)
            log_msg(LOG_WARNING, "desk: setting output %d failed; check the GPIO wiring", i);
    }
    if (lines != d->lit) {
        pthread_mutex_lock(&d->lock);
        d->last_change = now;
        pthread_mutex_unlock(&d->lock);
    }
    d->lit = lines;
}

static void on_button(struct desk *d)
{
    int presses = d->ops->button_presses(d->gpio);
    if (presses <= 0)
        return;
    pthread_mutex_lock(&d->lock);
    if (d->action == BUTTON_MUTE) {
        d->muted = !d->muted;
        log_msg(LOG_NOTICE, "desk: button: buzzer %s", d->muted ? "muted" : "on");
    } else if (d->last_signal >= 0) {
        d->signal = d->last_signal;
        d->signal_start = clock_ms();
        log_msg(LOG_INFO, "desk: button: repeating %s", signal_names[d->last_signal]);
    }
    pthread_mutex_unlock(&d->lock);
}

static void *desk_thread(void *arg)
{
    struct desk *d = arg;
    for (;;) {
        int64_t now = clock_ms(), left;
        pthread_mutex_lock(&d->lock);
        bool stop = d->stop;
        unsigned lines = wanted_lines(d, now, &left);
        pthread_mutex_unlock(&d->lock);
        if (stop)
            break;
        apply(d, lines, now);
        struct pollfd p[2] = { { d->wake[0], POLLIN, 0 }, { d->ops->button_fd(d->gpio), POLLIN, 0 } };
        int n = poll(p, p[1].fd >= 0 ? 2 : 1, (int)left);
        if (n > 0 && (p[0].revents & POLLIN)) {
            char buf[64];
            while (read(d->wake[0], buf, sizeof(buf)) > 0)
                ;
        }
        if (n > 0 && p[1].fd >= 0 && (p[1].revents & POLLIN))
            on_button(d);
    }
    apply(d, 0, clock_ms());
    return NULL;
}

static void wake(struct desk *d)
{
    ssize_t n = write(d->wake[1], "w", 1);
    (void)n; /* a full pipe already means "wake up" */
}

void desk_show(struct desk *d, enum desk_signal s)
{
    if ((int)s < 0 || s >= DESK_SIGNAL_COUNT)
        return;
    pthread_mutex_lock(&d->lock);
    d->signal = d->last_signal = (int)s;
    d->signal_start = clock_ms();
    pthread_mutex_unlock(&d->lock);
    wake(d);
}

void desk_set_state(struct desk *d, enum desk_state st, bool on)
{
    pthread_mutex_lock(&d->lock);
    unsigned before = d->states;
    d->states = on ? d->states | st : d->states & ~(unsigned)st;
    if ((st & DESK_STATE_FAULT) && on && !(before & DESK_STATE_FAULT))
        d->fault_since = clock_ms();
    pthread_mutex_unlock(&d->lock);
    wake(d);
}

int64_t desk_last_change_ms(struct desk *d)
{
    pthread_mutex_lock(&d->lock);
    int64_t t = d->last_change;
    pthread_mutex_unlock(&d->lock);
    return t;
}

static int make_wake_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if (fcntl(fds[i], F_SETFL, O_NONBLOCK) != 0 || fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0)
            return -1;
    return 0;
}

int desk_open(struct desk **out, const struct gpio_ops *ops, const struct gpio_config *cfg,
              enum button_action action, char *err, size_t errlen)
{
    *out = NULL;
    struct desk *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory for the desk");
        return GPIO_ERR_IO;
    }
    d->ops = ops;
    d->action = action;
    d->signal = d->last_signal = -1;
    d->wake[0] = d->wake[1] = -1;
    int rc = ops->open(&d->gpio, cfg, err, errlen);
    if (rc == 0 && make_wake_pipe(d->wake) != 0) {
        snprintf(err, errlen, "desk: cannot make a pipe: %s", strerror(errno));
        rc = GPIO_ERR_IO;
    }
    if (rc == 0)
        pthread_mutex_init(&d->lock, NULL);
    if (rc == 0 && pthread_create(&d->thread, NULL, desk_thread, d) != 0) {
        pthread_mutex_destroy(&d->lock);
        snprintf(err, errlen, "desk: cannot start the pattern thread");
        rc = GPIO_ERR_IO;
    }
    if (rc != 0) {
        if (d->gpio)
            ops->close(d->gpio);
        for (int i = 0; i < 2; i++)
            if (d->wake[i] >= 0)
                close(d->wake[i]);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void desk_close(struct desk *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    pthread_mutex_unlock(&d->lock);
    wake(d);
    pthread_join(d->thread, NULL);
    pthread_mutex_destroy(&d->lock);
    d->ops->close(d->gpio);
    close(d->wake[0]);
    close(d->wake[1]);
    free(d);
}
