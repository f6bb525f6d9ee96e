/* scan_loop.h - the terminal's loop: capture → decode → parse/verify →
 * de-duplicate → desk feedback → hand the record on.
 *
 * One call of scan_loop_step() waits for at most one frame and acts on it,
 * so the caller (cmd_run.c) keeps control of signals, reloads and the
 * systemd watchdog, and tests can drive the loop frame by frame. A camera
 * that is missing or stops delivering is reopened with exponential backoff;
 * the loop never gives up on it. */
#ifndef CCCD_SCAN_LOOP_H
#define CCCD_SCAN_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "card/cccd_parse.h"
#include "drivers/camera.h"
#include "loop/desk.h"

/* How a code was seen: read light on dark, it was a phone screen in dark
 * mode (VNeID), which the hospital records as the check-in's source. */
struct sighting {
    bool screen;
};

/* Where accepted records go: the durable queue of the uplink, or a log line
 * until there is one. accept() returns 0 once the record is safely stored
 * (only then does the desk hear "accepted"), or -1 when it cannot take it
 * (queue full: the desk is told to check the patient in by hand). */
struct record_sink {
    void *ctx;
    int (*accept)(void *ctx, const struct cccd_record *rec, const struct sighting *how);
};

enum scan_step {
    SCAN_STEP_IDLE = 0,  /* no frame this time (timeout, camera reopening) */
    SCAN_STEP_FRAME = 1, /* a frame was decoded */
    SCAN_STEP_END = 2,   /* a files: source without loop has shown every picture */
};

struct scan_stats {
    uint64_t frames, codes, accepted, duplicates, rejected, not_cards, refused;
    uint64_t camera_failures;
    uint64_t frames_skipped; /* replaced by a newer frame while every decoder was busy */
};

/* The loop's settings: [camera] and [scan] of the configuration (config.h
 * holds them, with their defaults and ranges). */
struct scan_opts {
    struct camera_config camera;
    int stall_timeout_ms; /* no frame this long: the camera counts as gone */
    int reopen_min_ms, reopen_max_ms;
    int duplicate_window_s;
    int decode_threads;   /* 0 = one per core (at most 4); 1 = in the loop's thread */
    int decode_budget_ms; /* per frame: no more retries of a crop after this */
};

struct scan_loop;

/* The loop borrows opts (and the strings in opts->camera), desk and sink:
 * they must outlive it. cam is the camera backend, or NULL for the one
 * opts->camera.source names (benchmarks pass their own in-memory camera). */
int scan_loop_open(struct scan_loop **out, const struct scan_opts *opts, const struct camera_ops *cam,
                   struct desk *desk, const struct record_sink *sink, char *err, size_t errlen);
void scan_loop_close(struct scan_loop *l);

/* Waits up to ~100 ms for a frame and hands it to the decoders (one per
 * core, cfg->decode_threads), then acts on every frame they have finished.
 * With decode_threads = 1 the frame is decoded and acted on in this call.
 * Returns a scan_step, or a negative value only when the decoder itself
 * cannot run. */
int scan_loop_step(struct scan_loop *l);

/* Monotonic ms of the last frame received (0 before the first): the
 * watchdog is only petted while frames flow. */
int64_t scan_loop_last_frame_ms(const struct scan_loop *l);
const struct scan_stats *scan_loop_stats(const struct scan_loop *l);

#endif
