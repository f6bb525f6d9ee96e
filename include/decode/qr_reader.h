/* qr_reader.h - the terminal's decoder: ZBar given only what can hold a code.
 *
 * qr_decode.h is ZBar on a whole frame. The reader puts the locator
 * (qr_locate.h) in front of it: a frame without finder patterns costs a
 * fraction of a ZBar pass and is done; a frame with a code gets ZBar on a
 * crop of it, scaled so that a module comes out 3.5-7 px. When that crop
 * does not read, the reader tries the same crop again in other shapes (local
 * motion smear taken out, contrast stretched, enlarged, smoothed, sharpened,
 * redrawn module by module) while the frame's time budget lasts, straightens a tilted one
 * through its grid (qr_grid.h), and remembers where the last code was, so a
 * card that moves or blurs for a frame or two is still looked for where it
 * was.
 *
 * Codes read light on dark (a phone in dark mode) come back with
 * qr_code.inverted set. One reader per thread; results stay valid until the
 * next qr_reader_scan() or qr_reader_close().
 */
#ifndef CCCD_QR_READER_H
#define CCCD_QR_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/frame.h"
#include "decode/qr_decode.h"

struct qr_reader_opts {
    /* Once a frame has used this much time, no further shape of a crop is
     * tried (a ZBar call under way is not cut short; crops bound it). 0 =
     * no limit: every shape of every candidate, as the read-rate tool does. */
    int budget_ms;
    /* Frames for which the last code's place is still tried when the
     * locator finds nothing there (the card moved or blurred). 0 = off. */
    int track_frames;
};

/* What the last scan did, for benchmarks, `snapshot` and tests. */
struct qr_reader_stats {
    int candidates;        /* regions the locator proposed */
    int attempts;          /* ZBar calls */
    long zbar_pixels;      /* pixels given to ZBar, all calls */
    int read_by;           /* the shape that read the first code (enum below), -1 = none */
    bool tracked;          /* the remembered place was tried */
    bool over_budget;      /* shapes were left untried for lack of time */
    bool smeared;          /* no finder, but a motion smear: the frame was deblurred */
};

enum qr_shape {
    QR_SHAPE_PLAIN = 0, /* crop at its working scale */
    QR_SHAPE_DEBLURRED, /* the plain crop with a motion smear measured and taken out (deblur.h) */
    QR_SHAPE_RECTIFIED, /* straightened through its grid (qr_grid.h): tilt, shear;
                         * the filters below then work on this picture */
    QR_SHAPE_NORMALIZED,
    QR_SHAPE_ENLARGED,
    QR_SHAPE_SMOOTHED,
    QR_SHAPE_SHARPENED,
    QR_SHAPE_RESAMPLED, /* redrawn module by module through the grid (qr_grid.h) */
    QR_SHAPE_COUNT
};

struct qr_reader;

/* opts NULL = the defaults the terminal uses (QR_READER_DEFAULTS). */
#define QR_READER_DEFAULT_BUDGET_MS 150
#define QR_READER_DEFAULT_TRACK_FRAMES 15

int qr_reader_open(struct qr_reader **out, const struct qr_reader_opts *opts, char *err, size_t errlen);
void qr_reader_close(struct qr_reader *r);

/* Scans one frame: the number of codes read (0..QR_MAX_CODES) or a negative
 * qr_status (qr_decode.h). The same payload found twice is reported once. */
int qr_reader_scan(struct qr_reader *r, const struct frame *f);
const struct qr_code *qr_reader_code(const struct qr_reader *r, int i);
const struct qr_reader_stats *qr_reader_last(const struct qr_reader *r);
const char *qr_shape_name(enum qr_shape s);

/* Drops the remembered place: the next frame is unrelated to the last
 * (a different picture file, a camera reopened). */
void qr_reader_forget(struct qr_reader *r);

#endif
