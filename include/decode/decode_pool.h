/* decode_pool.h - frames decoded on every core, the newest first.
 *
 * The camera delivers frames faster than one core decodes the hard ones. The
 * pool keeps one reader (qr_reader.h) per worker thread; a frame handed in
 * goes to an idle worker at once, or waits in the single pending slot, where
 * a newer frame replaces it: a worker that frees up always takes the newest
 * frame, and the desk never hears about a card that has left. Results come
 * back through decode_pool_collect() as workers finish them.
 *
 * With one worker nothing runs in the background: decode_pool_submit()
 * decodes in the caller's thread, and the result is ready when it returns
 * (what tests that step a loop frame by frame want).
 */
#ifndef CCCD_DECODE_POOL_H
#define CCCD_DECODE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "base/frame.h"
#include "decode/qr_reader.h"

#define DECODE_POOL_MAX_WORKERS 8

/* One frame's codes, owned by the result. */
struct decode_result {
    uint64_t seq;        /* submission number, from 1 */
    int64_t captured_ms; /* as given to submit */
    int ncodes;          /* or a negative qr_status */
    struct qr_code codes[QR_MAX_CODES];
    uint8_t data[QR_MAX_CODES][QR_DATA_MAX];
};

struct decode_pool_stats {
    uint64_t submitted, decoded, dropped; /* dropped: replaced while pending */
};

struct decode_pool;

/* workers 1..DECODE_POOL_MAX_WORKERS; 0 = one per core online (at most 4). */
int decode_pool_open(struct decode_pool **out, int workers, const struct qr_reader_opts *opts, char *err,
                     size_t errlen);
/* Stops the workers (each finishes the frame it holds) and frees all. */
void decode_pool_close(struct decode_pool *p);
int decode_pool_workers(const struct decode_pool *p);

/* Copies the frame in. Returns 0, or -1 for a frame too large to copy or no
 * memory (the frame is skipped). */
int decode_pool_submit(struct decode_pool *p, const struct frame *f, int64_t captured_ms);

/* Takes the oldest finished result into *out: 1, or 0 when none arrives
 * within timeout_ms (0 = do not wait). */
int decode_pool_collect(struct decode_pool *p, struct decode_result *out, int timeout_ms);

/* Workers without a frame (with one worker: always 1), and frames held
 * (being decoded or pending) but not yet in a result. */
int decode_pool_idle(struct decode_pool *p);
int decode_pool_busy(struct decode_pool *p);

/* A new scene (camera reopened): the readers forget where the last code was. */
void decode_pool_forget(struct decode_pool *p);

struct decode_pool_stats decode_pool_stats(struct decode_pool *p);

#endif
