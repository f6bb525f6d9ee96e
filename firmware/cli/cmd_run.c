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
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "card/record_format.h"
#include "cli/cli.h"
#include "config/config.h"
#include "delivery/checkin.h"
#include "delivery/spool.h"
#include "delivery/uplink.h"
#include "loop/desk.h"
#include "loop/scan_loop.h"

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
    /* A server that resets the connection must cost a retry, not the
     * process: mbedtls writes to the socket without MSG_NOSIGNAL. */
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    return sigaction(SIGTERM, &sa, NULL) | sigaction(SIGINT, &sa, NULL) | sigaction(SIGHUP, &sa, NULL) |
           sigaction(SIGPIPE, &ign, NULL);
}

/* Without an [uplink] url, records end in a log line with the ID masked
 * (development machines, the scan-only demo). */
static int log_sink_accept(void *ctx, const struct cccd_record *rec, const struct sighting *how)
{
    (void)ctx, (void)how;
    char masked[13];
    record_mask_id(rec->id_number, masked);
    log_msg(LOG_INFO, "record handed on id=%s (no [uplink] url: not delivered)", masked);
    return 0;
}

struct running {
    struct config cfg;
    struct desk *desk;
    struct spool *spool;
    struct uplink *uplink;
    struct scan_loop *loop;
    struct record_sink sink;
};

/* The desk hears "accepted" only once the record is on disk. */
static int spool_sink_accept(void *ctx, const struct cccd_record *rec, const struct sighting *how)
{
    struct running *r = ctx;
    static char body[SPOOL_RECORD_MAX];
    char key[160], err[256];
    struct checkin_meta meta = { r->cfg.device_id, r->cfg.uplink_field_mask, how->screen ? "vneid-screen" : "card" };
    long n = checkin_build(rec, &meta, time(NULL), checkin_clock_synced(), body, sizeof(body), key, sizeof(key), err,
                           sizeof(err));
    uint64_t seq;
    int rc = n < 0 ? -1 : spool_append(r->spool, body, (size_t)n, &seq, err, sizeof(err));
    if (n > 0)
        memset(body, 0, (size_t)n);
    if (rc != 0) {
        log_msg(LOG_ERR, "queue: record not stored: %s", err);
        return -1;
    }
    char masked[13];
    record_mask_id(rec->id_number, masked);
    log_msg(LOG_INFO, "queued id=%s key=%s seq=%llu", masked, key, (unsigned long long)seq);
    uplink_kick(r->uplink);
    return 0;
}

static void on_offline(void *ctx, bool offline)
{
    struct running *r = ctx;
    desk_set_state(r->desk, DESK_STATE_OFFLINE, offline);
}

/* The insurance answer matters while the patient is still at the desk. */
static void on_insurance(void *ctx, const char *code, long age_s)
{
    struct running *r = ctx;
    if (strcmp(code, "000") != 0 && age_s >= 0 && age_s <= 30)
        desk_show(r->desk, DESK_INSURANCE);
}

static void stop_delivery(struct running *r)
{
    uplink_stop(r->uplink); /* cancels a request in flight: returns at once */
    spool_close(r->spool);
    r->uplink = NULL;
    r->spool = NULL;
    r->sink = (struct record_sink){ NULL, log_sink_accept };
}

static void stop_running(struct running *r)
{
    scan_loop_close(r->loop);
    stop_delivery(r);
    desk_close(r->desk);
    r->loop = NULL;
    r->desk = NULL;
}

static int start_delivery(struct running *r, char *err, size_t errlen)
{
    const struct config *c = &r->cfg;
    r->sink = (struct record_sink){ NULL, log_sink_accept };
    if (!c->uplink_url[0])
        return 0;
    uint8_t key[SPOOL_KEY_LEN];
    if (c->spool_key_file[0] && spool_load_key(c->spool_key_file, key, err, errlen) != 0)
        return -1;
    struct spool_opts so = { c->spool_dir, (uint64_t)c->spool_max_mb << 20, (int64_t)c->spool_max_age_h * 3600,
                             c->spool_key_file[0] ? key : NULL, 0 };
    int rc = spool_open(&r->spool, &so, err, errlen);
    memset(key, 0, sizeof(key));
    if (rc != 0)
        return -1;
    struct uplink_opts uo = { c->uplink_url, c->uplink_ca, c->uplink_cert[0] ? c->uplink_cert : NULL,
                              c->uplink_key[0] ? c->uplink_key : NULL, c->has_pin ? c->pin : NULL,
                              c->uplink_connect_timeout_ms, c->uplink_read_timeout_ms, c->uplink_backoff_min_ms,
                              c->uplink_backoff_max_ms, true, c->uplink_request_timeout_ms };
    struct uplink_events ev = { r, on_offline, on_insurance };
    if (uplink_start(&r->uplink, &uo, r->spool, &ev, err, errlen) != 0) {
        stop_delivery(r);
        return -1;
    }
    r->sink = (struct record_sink){ r, spool_sink_accept };
    return 0;
}

static int start_running(struct running *r, char *err, size_t errlen)
{
    log_set_level(r->cfg.log_level);
    const struct gpio_ops *gpio = gpio_backend(r->cfg.gpio_backend);
    r->sink = (struct record_sink){ NULL, log_sink_accept };
    int rc = desk_open(&r->desk, gpio, &r->cfg.gpio, r->cfg.button_action, err, errlen);
    if (rc == 0)
        rc = start_delivery(r, err, errlen);
    if (rc == 0)
        rc = scan_loop_open(&r->loop, &r->cfg.scan, NULL, r->desk, &r->sink, err, errlen);
    if (rc != 0)
        stop_running(r);
    return rc;
}

/* Do two configurations drive the camera, the loop and the desk alike? The
 * loop keeps running across a reload that changes only the rest. */
static bool same_front(const struct config *a, const struct config *b)
{
    struct scan_opts x = a->scan, y = b->scan;
    x.camera.source = y.camera.source = NULL; /* compared as strings below */
    x.camera.format = y.camera.format = NULL;
    struct gpio_config g = a->gpio, h = b->gpio;
    g.consumer = h.consumer = NULL;
    return memcmp(&x, &y, sizeof(x)) == 0 && strcmp(a->camera_source, b->camera_source) == 0 &&
           strcmp(a->camera_format, b->camera_format) == 0 && strcmp(a->gpio_backend, b->gpio_backend) == 0 &&
           memcmp(&g, &h, sizeof(g)) == 0 && a->button_action == b->button_action;
}

/* A reload that keeps the camera and desk: only delivery starts again, and
 * the loop (which only holds the sink) scans on between two of its steps. */
static int reload_delivery(struct running *r, const struct config *fresh, char *err, size_t errlen)
{
    stop_delivery(r);
    r->cfg = *fresh;
    config_relink(&r->cfg);
    log_set_level(r->cfg.log_level);
    return start_delivery(r, err, errlen);
}

static int reload_all(struct running *r, const struct config *fresh, char *err, size_t errlen)
{
    stop_running(r);
    r->cfg = *fresh;
    config_relink(&r->cfg);
    return start_running(r, err, errlen);
}

static void reload(struct running *r, const char *path)
{
    static struct config fresh, old;
    char err[512];
    sd_notify(0, "RELOADING=1");
    if (config_load(path, &fresh, err, sizeof(err)) != 0) {
        log_msg(LOG_ERR, "reload refused, keeping the running configuration: %s", err);
        sd_notify(0, "READY=1");
        return;
    }
    old = r->cfg;
    config_relink(&old);
    fresh.scan.camera.loop = old.scan.camera.loop; /* --once stays --once */
    bool front = same_front(&old, &fresh);
    int rc = front ? reload_delivery(r, &fresh, err, sizeof(err)) : reload_all(r, &fresh, err, sizeof(err));
    if (rc != 0) {
        log_msg(LOG_ERR, "reload failed (%s); going back to the previous configuration", err);
        rc = front ? reload_delivery(r, &old, err, sizeof(err)) : reload_all(r, &old, err, sizeof(err));
        if (rc != 0) {
            log_msg(LOG_CRIT, "cannot restart with the previous configuration either: %s", err);
            stop_requested = 1;
            if (front)
                stop_running(r);
            return;
        }
    } else {
        log_msg(LOG_NOTICE, "configuration reloaded from %s%s", path, front ? " (camera and desk kept running)" : "");
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

/* --once: the pictures are done, but what they queued should reach the
 * service before the demo or script moves on (at most 15 s). */
static void drain_before_exit(struct running *r)
{
    if (!r->spool)
        return;
    int64_t until = clock_ms() + 15000;
    struct spool_stats st;
    for (spool_get_stats(r->spool, &st); st.records > 0 && clock_ms() < until && !stop_requested;
         spool_get_stats(r->spool, &st)) {
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (st.records > 0)
        log_msg(LOG_WARNING, "queue: %llu records not yet delivered; they are kept for the next start",
                (unsigned long long)st.records);
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
        r.cfg.scan.camera.loop = false;
    if (install_signals() != 0 || start_running(&r, err, sizeof(err)) != 0) {
        log_msg(LOG_ERR, "not starting: %s", err);
        return CLI_REFUSED;
    }
    log_msg(LOG_NOTICE, "started device=%s source=%s gpio=%s", r.cfg.device_id, r.cfg.scan.camera.source,
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
        if (step == SCAN_STEP_END) {
            drain_before_exit(&r);
            break;
        }
        if (step < 0) {
            rc = CLI_REFUSED;
            break;
        }
        pet_watchdog(r.loop, wd_us, &last_pet);
    }
    sd_notify(0, "STOPPING=1");
    if (r.loop)
        log_stats(r.loop);
    if (r.uplink) {
        struct uplink_stats us;
        uplink_get_stats(r.uplink, &us);
        log_msg(LOG_INFO, "uplink delivered=%llu already_had=%llu dead_letters=%llu temporary_failures=%llu connects=%llu",
                (unsigned long long)us.delivered, (unsigned long long)us.already_had,
                (unsigned long long)us.dead_letters, (unsigned long long)us.temporary_failures,
                (unsigned long long)us.connects);
    }
    stop_running(&r);
    log_msg(LOG_NOTICE, "stopped");
    return rc;
}
