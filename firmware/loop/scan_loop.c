/* scan_loop.c - one frame at a time, from the camera to the desk. */
#include "loop/scan_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "card/record_format.h"
#include "decode/decode_pool.h"
#include "loop/seen.h"

#define FRAME_WAIT_MS 100
/* A code still in view is seen in frame after frame; it is "gone" once it
 * has been missing this long, and showing it again is a new sighting. */
#define PRESENCE_GAP_MS 1500
#define SEEN_CAPACITY 256
/* Single bad frames (a corrupt picture, a failed conversion) are skipped;
 * this many in a row mean the camera itself is in trouble. */
#define IO_ERRORS_BEFORE_REOPEN 10

struct scan_loop {
    const struct scan_opts *opts;
    struct desk *desk;
    const struct record_sink *sink;
    const struct camera_ops *cam_ops;
    struct camera *cam;
    struct decode_pool *pool;
    struct decode_result result; /* one finished frame, being acted on */
    struct seen *in_view;  /* by payload: suppresses repeats while a code stays in view */
    struct seen *checkins; /* by ID number: the duplicate window */
    struct cccd_parse_opts parse_opts;
    int64_t reopen_at, backoff_ms, last_frame, opened_at;
    int io_errors;        /* consecutive CAMERA_ERR_IO */
    bool failing;         /* the camera's trouble has been reported */
    char last_error[256]; /* reported once, until it changes */
    struct scan_stats stats;
};

int scan_loop_open(struct scan_loop **out, const struct scan_opts *opts, const struct camera_ops *cam,
                   struct desk *desk, const struct record_sink *sink, char *err, size_t errlen)
{
    *out = NULL;
    struct scan_loop *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory for the scan loop");
        return -1;
    }
    l->opts = opts;
    l->desk = desk;
    l->sink = sink;
    l->cam_ops = cam ? cam : camera_ops_for(opts->camera.source);
    l->backoff_ms = opts->reopen_min_ms;
    l->in_view = seen_open(SEEN_CAPACITY);
    l->checkins = seen_open(SEEN_CAPACITY);
    struct qr_reader_opts ro = { .budget_ms = opts->decode_budget_ms, .track_frames = QR_READER_DEFAULT_TRACK_FRAMES };
    int rc = l->cam_ops && l->in_view && l->checkins ? decode_pool_open(&l->pool, opts->decode_threads, &ro, err, errlen)
                                                     : -1;
    if (rc != 0) {
        if (!l->cam_ops)
            snprintf(err, errlen, "unknown camera source '%s'", opts->camera.source);
        scan_loop_close(l);
        return -1;
    }
    *out = l;
    return 0;
}

void scan_loop_close(struct scan_loop *l)
{
    if (!l)
        return;
    if (l->cam)
        l->cam_ops->close(l->cam);
    decode_pool_close(l->pool);
    seen_close(l->in_view);
    seen_close(l->checkins);
    free(l);
}

/* Says what is wrong once (and again only when the reason changes), lights
 * the fault pattern, and schedules the next attempt with doubling backoff. */
static void camera_failed(struct scan_loop *l, const char *why)
{
    int64_t now = clock_ms();
    if (!l->failing || strcmp(why, l->last_error) != 0)
        log_msg(LOG_ERR, "fault=camera source=%s: %s; retrying with backoff up to %.1f s", l->opts->camera.source,
                why, l->opts->reopen_max_ms / 1000.0);
    snprintf(l->last_error, sizeof(l->last_error), "%s", why);
    if (!l->failing)
        l->stats.camera_failures++;
    l->failing = true;
    desk_set_state(l->desk, DESK_STATE_FAULT, true);
    if (l->cam) {
        l->cam_ops->close(l->cam);
        l->cam = NULL;
    }
    l->reopen_at = now + l->backoff_ms;
    l->backoff_ms = l->backoff_ms * 2 > l->opts->reopen_max_ms ? l->opts->reopen_max_ms : l->backoff_ms * 2;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Opens the camera when it is due; returns true when one is open. */
static bool ensure_camera(struct scan_loop *l)
{
    if (l->cam)
        return true;
    int64_t now = clock_ms();
    if (now < l->reopen_at) {
        sleep_ms(l->reopen_at - now < FRAME_WAIT_MS ? l->reopen_at - now : FRAME_WAIT_MS);
        return false;
    }
    char err[256];
    if (l->cam_ops->open(&l->cam, &l->opts->camera, err, sizeof(err)) != 0) {
        l->cam = NULL;
        camera_failed(l, err);
        return false;
    }
    l->opened_at = now;
    decode_pool_forget(l->pool); /* a new scene: the last code's place means nothing */
    return true;
}

/* The first frame after (re)opening ends the fault. */
static void camera_delivered(struct scan_loop *l, int64_t now)
{
    l->last_frame = now;
    l->stats.frames++;
    if (!l->failing)
        return;
    l->failing = false;
    l->backoff_ms = l->opts->reopen_min_ms;
    desk_set_state(l->desk, DESK_STATE_FAULT, false);
    log_msg(LOG_NOTICE, "camera=ok source=%s: frames are flowing again", l->opts->camera.source);
}

/* Which signal wins when one frame holds several codes: the most useful for
 * the person at the desk. */
static int signal_rank(enum desk_signal s)
{
    static const int rank[DESK_SIGNAL_COUNT] = {
        [DESK_QUEUE_FULL] = 5, [DESK_ACCEPTED] = 4, [DESK_DUPLICATE] = 3, [DESK_REJECTED] = 2, [DESK_NOT_CARD] = 1,
    };
    return rank[s];
}

static enum desk_signal on_card(struct scan_loop *l, const struct cccd_record *rec, const struct sighting *how,
                                int64_t now)
{
    char masked[13];
    record_mask_id(rec->id_number, masked);
    int64_t window = (int64_t)l->opts->duplicate_window_s * 1000;
    if (seen_note(l->checkins, rec->id_number, CCCD_ID_LEN, now, 0, window) != SEEN_NEW) {
        l->stats.duplicates++;
        log_msg(LOG_INFO, "outcome=duplicate id=%s: already checked in within %d s", masked,
                l->opts->duplicate_window_s);
        return DESK_DUPLICATE;
    }
    if (l->sink->accept(l->sink->ctx, rec, how) != 0) {
        l->stats.refused++;
        log_msg(LOG_WARNING, "outcome=queue-full id=%s: record not stored; check the patient in by hand", masked);
        return DESK_QUEUE_FULL;
    }
    l->stats.accepted++;
    log_msg(LOG_INFO, "outcome=accepted id=%s card=%s%s", masked, cccd_card_type_name(rec->card_type),
            how->screen ? " from=screen" : "");
    return DESK_ACCEPTED;
}

/* Acts on one code; returns the desk signal, or -1 when the code is still
 * in view from an earlier frame and needs nothing. */
static int on_code(struct scan_loop *l, const struct qr_code *c, int64_t now)
{
    if (seen_note(l->in_view, c->data, c->len, now, PRESENCE_GAP_MS, 0) == SEEN_PRESENT)
        return -1;
    l->stats.codes++;
    struct cccd_record rec;
    enum cccd_status st = cccd_parse(c->data, c->len, &l->parse_opts, &rec);
    int sig;
    if (st == CCCD_OK) {
        struct sighting how = { c->inverted };
        sig = (int)on_card(l, &rec, &how, now);
    } else if (st == CCCD_NOT_CARD) {
        l->stats.not_cards++;
        log_msg(LOG_INFO, "outcome=not-card bytes=%zu", c->len);
        sig = DESK_NOT_CARD;
    } else {
        l->stats.rejected++;
        log_msg(LOG_INFO, "outcome=rejected code=%s", cccd_status_code(st));
        sig = DESK_REJECTED;
    }
    memset(&rec, 0, sizeof(rec));
    return sig;
}

/* Acts on one decoded frame: the most useful of its codes' signals wins. */
static void on_result(struct scan_loop *l, const struct decode_result *res, int64_t now)
{
    if (res->ncodes < 0) {
        log_msg(LOG_WARNING, "decoder failed on a frame (code %d)", res->ncodes);
        return;
    }
    if (res->ncodes > 0)
        cccd_parse_opts_now(&l->parse_opts); /* today's date, for the future-date checks */
    int best = -1;
    for (int i = 0; i < res->ncodes; i++) {
        int sig = on_code(l, &res->codes[i], now);
        if (sig >= 0 && (best < 0 || signal_rank((enum desk_signal)sig) > signal_rank((enum desk_signal)best)))
            best = sig;
    }
    if (best >= 0)
        desk_show(l->desk, (enum desk_signal)best);
}

/* Everything the decoders have finished, oldest first. When every decoder is
 * busy, waits up to wait_ms for one: the camera keeps its newest frame
 * meanwhile, and results are not left waiting a whole frame interval. */
static void act_on_results(struct scan_loop *l, int wait_ms)
{
    while (decode_pool_collect(l->pool, &l->result, wait_ms) == 1) {
        on_result(l, &l->result, clock_ms());
        wait_ms = 0;
    }
}

static int on_frame(struct scan_loop *l, const struct frame *f, int64_t now)
{
    if (f->width > FRAME_MAX_SIDE || f->height > FRAME_MAX_SIDE || decode_pool_submit(l->pool, f, now) != 0) {
        log_msg(LOG_WARNING, "decoder refused a %dx%d frame", f->width, f->height);
        return SCAN_STEP_FRAME;
    }
    l->stats.frames_skipped = decode_pool_stats(l->pool).dropped;
    act_on_results(l, decode_pool_idle(l->pool) > 0 ? 0 : FRAME_WAIT_MS);
    return SCAN_STEP_FRAME;
}

int scan_loop_step(struct scan_loop *l)
{
    act_on_results(l, 0);
    if (!ensure_camera(l))
        return SCAN_STEP_IDLE;
    struct frame f;
    char err[256] = "";
    int rc = l->cam_ops->next_frame(l->cam, &f, FRAME_WAIT_MS, err, sizeof(err));
    int64_t now = clock_ms();
    switch (rc) {
    case CAMERA_FRAME:
        l->io_errors = 0;
        camera_delivered(l, now);
        return on_frame(l, &f, now);
    case CAMERA_TIMEOUT: {
        int64_t since = now - (l->last_frame > l->opened_at ? l->last_frame : l->opened_at);
        if (since > l->opts->stall_timeout_ms) {
            snprintf(err, sizeof(err), "no frame for %lld ms (stalled or unplugged)", (long long)since);
            camera_failed(l, err);
        }
        return SCAN_STEP_IDLE;
    }
    case CAMERA_END:
        /* The last pictures may still be in the decoders: finish them. */
        while (decode_pool_busy(l->pool) > 0)
            act_on_results(l, FRAME_WAIT_MS);
        act_on_results(l, 0);
        return SCAN_STEP_END;
    case CAMERA_ERR_IO:
        if (++l->io_errors < IO_ERRORS_BEFORE_REOPEN) {
            log_msg(LOG_WARNING, "camera source=%s: frame skipped: %s", l->opts->camera.source, err);
            return SCAN_STEP_IDLE;
        }
        l->io_errors = 0;
        camera_failed(l, err[0] ? err : "camera error");
        return SCAN_STEP_IDLE;
    default:
        camera_failed(l, err[0] ? err : "camera error");
        return SCAN_STEP_IDLE;
    }
}

int64_t scan_loop_last_frame_ms(const struct scan_loop *l)
{
    return l->last_frame;
}

const struct scan_stats *scan_loop_stats(const struct scan_loop *l)
{
    return &l->stats;
}
