/* cmd_run.c - `cccd-reader run`: the terminal as a systemd service.
 *
 * READY once the camera loop is set up; WATCHDOG only while frames flow (a
 * stuck camera should be visible to systemd, a quiet desk should not);
 * SIGTERM stops cleanly; SIGHUP re-reads the config and keeps the running
 * one when the new file is wrong. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "cli.h"
#include "clock.h"
#include "config.h"
#include "desk.h"
#include "log.h"
#include "record_format.h"
#include "scan_loop.h"

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stop_requested = 1;
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGTERM, &sa, NULL) | sigaction(SIGINT, &sa, NULL) | sigaction(SIGHUP, &sa, NULL);
}

/* Until the durable queue exists, records end in a log line with the ID masked. */
static int log_sink_accept(void *ctx, const struct cccd_record *rec)
{
    (void)ctx;
    char masked[13];
    record_mask_id(rec->id_number, masked);
    log_msg(LOG_INFO, "record handed on id=%s", masked);
    return 0;
}

static const struct record_sink log_sink = { NULL, log_sink_accept };

struct running {
    struct config cfg;
    struct desk *desk;
    struct scan_loop *loop;
};

static void stop_running(struct running *r)
{
    scan_loop_close(r->loop);
    desk_close(r->desk);
    r->loop = NULL;
    r->desk = NULL;
}

static int start_running(struct running *r, char *err, size_t errlen)
{
    log_set_level(r->cfg.log_level);
    const struct gpio_ops *gpio = gpio_backend(r->cfg.gpio_backend);
    int rc = desk_open(&r->desk, gpio, &r->cfg.gpio, r->cfg.button_action, err, errlen);
    if (rc == 0)
        rc = scan_loop_open(&r->loop, &r->cfg, NULL, r->desk, &log_sink, err, errlen);
    if (rc != 0)
        stop_running(r);
    return rc;
}

static void reload(struct running *r, const char *path)
{
    struct config fresh;
    char err[512];
    sd_notify(0, "RELOADING=1");
    if (config_load(path, &fresh, err, sizeof(err)) != 0) {
        log_msg(LOG_ERR, "reload refused, keeping the running configuration: %s", err);
        sd_notify(0, "READY=1");
        return;
    }
    struct config old = r->cfg;
    stop_running(r);
    r->cfg = fresh;
    config_relink(&r->cfg);
    if (start_running(r, err, sizeof(err)) != 0) {
        log_msg(LOG_ERR, "reload failed (%s); going back to the previous configuration", err);
        r->cfg = old;
        config_relink(&r->cfg);
        if (start_running(r, err, sizeof(err)) != 0) {
            log_msg(LOG_CRIT, "cannot restart with the previous configuration either: %s", err);
            stop_requested = 1;
            return;
        }
    } else {
        log_msg(LOG_NOTICE, "configuration reloaded from %s", path);
    }
    sd_notify(0, "READY=1");
}

/* Pets the watchdog at a third of its period, and only while frames flow. */
static void pet_watchdog(const struct scan_loop *loop, uint64_t period_us, int64_t *last_pet)
{
    if (!period_us)
        return;
    int64_t now = clock_ms(), period_ms = (int64_t)(period_us / 1000);
    int64_t frame = scan_loop_last_frame_ms(loop);
    if (now - *last_pet >= period_ms / 3 && frame > 0 && now - frame < period_ms / 2) {
        sd_notify(0, "WATCHDOG=1");
        *last_pet = now;
    }
}

static void log_stats(const struct scan_loop *loop)
{
    const struct scan_stats *s = scan_loop_stats(loop);
    log_msg(LOG_INFO,
            "stats frames=%llu codes=%llu accepted=%llu duplicates=%llu rejected=%llu not_cards=%llu "
            "refused=%llu camera_failures=%llu",
            (unsigned long long)s->frames, (unsigned long long)s->codes, (unsigned long long)s->accepted,
            (unsigned long long)s->duplicates, (unsigned long long)s->rejected, (unsigned long long)s->not_cards,
            (unsigned long long)s->refused, (unsigned long long)s->camera_failures);
}

static int usage(void)
{
    fprintf(stderr, "usage: cccd-reader run --config FILE [--once]\n"
                    "  --once   stop when a files: source has shown every picture (scripts, the demo)\n");
    return CLI_USAGE;
}

int cmd_run(int argc, char **argv)
{
    const char *path = NULL;
    bool once = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--once") == 0)
            once = true;
        else
            return usage();
    }
    if (!path)
        return usage();
    static struct running r;
    char err[512];
    if (config_load(path, &r.cfg, err, sizeof(err)) != 0) {
        log_msg(LOG_ERR, "not starting: %s", err);
        return CLI_REFUSED;
    }
    if (once)
        r.cfg.camera.loop = false;
    if (install_signals() != 0 || start_running(&r, err, sizeof(err)) != 0) {
        log_msg(LOG_ERR, "not starting: %s", err);
        return CLI_REFUSED;
    }
    log_msg(LOG_NOTICE, "started device=%s source=%s gpio=%s", r.cfg.device_id, r.cfg.camera.source,
            r.cfg.gpio_backend);
    uint64_t wd_us = 0;
    if (sd_watchdog_enabled(0, &wd_us) <= 0)
        wd_us = 0;
    sd_notify(0, "READY=1");
    int64_t last_pet = 0;
    int rc = CLI_OK;
    while (!stop_requested) {
        if (reload_requested) {
            reload_requested = 0;
            reload(&r, path);
            if (!r.loop)
                break;
        }
        int step = scan_loop_step(r.loop);
        if (step == SCAN_STEP_END)
            break;
        if (step < 0) {
            rc = CLI_REFUSED;
            break;
        }
        pet_watchdog(r.loop, wd_us, &last_pet);
    }
    sd_notify(0, "STOPPING=1");
    if (r.loop)
        log_stats(r.loop);
    stop_running(&r);
    log_msg(LOG_NOTICE, "stopped");
    return rc;
}
