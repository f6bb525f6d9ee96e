/* fuzz_qr_reader.c - any camera frame: the reader (qr_reader.h) and its
 * locator (qr_locate.h) return what their headers promise, or an error.
 *
 * Input layout:
 *   bytes 0-1  width  = 1 + (little-endian value % 320)
 *   bytes 2-3  height = 1 + (little-endian value % 320)
 *   byte 4     bits 0-1: each pixel byte covers a (1 + bits) x (1 + bits)
 *              block, so that a short input can hold a readable code;
 *              bits 2-4: row padding (stride - width); bit 5: after the
 *              frame, a flat frame (tracking)
 *   then       the pixels of the block grid, row by row, repeated when
 *              short (128 when there are none)
 * Missing header bytes count as zero.
 *
 * Each frame is scanned by a reader with the terminal's defaults and by one
 * with no time budget (every shape of every candidate), both with the place
 * of earlier codes forgotten, and by the locator alone. A broken invariant
 * calls abort() after saying which.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/qr_locate.h"
#include "decode/qr_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SIDE 320

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "fuzz_qr_reader: invariant failed at line %d: %s\n", __LINE__, #cond); \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

static struct qr_reader *terminal, *unlimited;
static struct qr_locator *locator;
static uint8_t *pixels;

static void close_all(void)
{
    qr_reader_close(terminal);
    qr_reader_close(unlimited);
    qr_locator_close(locator);
    free(pixels);
}

static void open_all(void)
{
    if (terminal)
        return;
    char err[256];
    struct qr_reader_opts none = { .budget_ms = 0, .track_frames = QR_READER_DEFAULT_TRACK_FRAMES };
    pixels = malloc((size_t)(MAX_SIDE + 7) * MAX_SIDE);
    CHECK(pixels != NULL);
    CHECK(qr_reader_open(&terminal, NULL, err, sizeof(err)) == 0);
    CHECK(qr_reader_open(&unlimited, &none, err, sizeof(err)) == 0);
    CHECK(qr_locator_open(&locator) == 0);
    atexit(close_all);
}

static unsigned byte_at(const uint8_t *data, size_t size, size_t i)
{
    return i < size ? data[i] : 0;
}

static void check_scan(struct qr_reader *r, const struct frame *f, int rc, bool budgeted)
{
    CHECK(rc == QR_ERR_NOMEM || rc == QR_ERR_ZBAR || (rc >= 0 && rc <= QR_MAX_CODES));
    const struct qr_reader_stats *s = qr_reader_last(r);
    CHECK(s != NULL);
    CHECK(s->candidates >= 0 && s->candidates <= QR_LOCATE_MAX);
    CHECK(s->attempts >= 0 && s->zbar_pixels >= 0);
    CHECK(s->read_by >= -1 && s->read_by < QR_SHAPE_COUNT);
    CHECK(budgeted || !s->over_budget);
    if (f->width < 21 || f->height < 21)
        CHECK(rc == 0 && s->attempts == 0);
    if (rc < 0)
        return;
    /* A code is read by some ZBar call, and its shape is named. */
    CHECK((rc > 0) == (s->read_by >= 0));
    CHECK(rc == 0 || s->attempts > 0);
    CHECK(s->attempts > 0 || s->zbar_pixels == 0);
    for (int i = 0; i < rc; i++) {
        const struct qr_code *c = qr_reader_code(r, i);
        CHECK(c != NULL);
        CHECK(c->len <= QR_DATA_MAX);
        CHECK(c->len == 0 || c->data != NULL);
        volatile uint8_t sum = 0; /* ASan checks every byte is there */
        for (size_t k = 0; k < c->len; k++)
            sum = (uint8_t)(sum + c->data[k]);
        (void)sum;
        CHECK(c->ncorners == 0 || c->ncorners == 4);
        for (int k = 0; k < c->ncorners; k++) {
            CHECK(c->corners[k].x >= -f->width && c->corners[k].x <= 2 * f->width);
            CHECK(c->corners[k].y >= -f->height && c->corners[k].y <= 2 * f->height);
        }
        /* The same payload is reported once. */
        for (int j = 0; j < i; j++) {
            const struct qr_code *d = qr_reader_code(r, j);
            CHECK(!(d->len == c->len && memcmp(d->data, c->data, c->len) == 0));
        }
    }
    CHECK(qr_reader_code(r, rc) == NULL);
    CHECK(qr_reader_code(r, -1) == NULL);
}

static void check_locate(const struct frame *f)
{
    struct qr_candidate c[QR_LOCATE_MAX];
    int n = qr_locate(locator, f, c, QR_LOCATE_MAX);
    if (f->width < 21 || f->height < 21) {
        CHECK(n == -1);
        return;
    }
    CHECK(n >= 0 && n <= QR_LOCATE_MAX);
    for (int i = 0; i < n; i++) {
        const struct qr_candidate *q = &c[i];
        CHECK(q->rect.x0 >= 0 && q->rect.y0 >= 0 && q->rect.x1 <= f->width && q->rect.y1 <= f->height);
        CHECK(q->rect.x0 < q->rect.x1 && q->rect.y0 < q->rect.y1);
        CHECK(q->module_px > 0 && q->module_px < (float)MAX_SIDE);
        CHECK(q->nfinders >= 1 && q->nfinders <= 3);
        /* Whole symbols first. */
        CHECK(i == 0 || q->nfinders <= c[i - 1].nfinders);
        if (q->nfinders == 3) {
            for (int k = 0; k < 3; k++)
                CHECK(q->finder[k].x >= 0 && q->finder[k].x < (float)f->width && q->finder[k].y >= 0 &&
                      q->finder[k].y < (float)f->height);
            float cross = (q->finder[1].x - q->finder[0].x) * (q->finder[2].y - q->finder[0].y) -
                          (q->finder[1].y - q->finder[0].y) * (q->finder[2].x - q->finder[0].x);
            CHECK(cross >= 0);
        }
    }
    const float *xy = NULL;
    int nf = qr_locator_finders(locator, &xy);
    CHECK(nf >= 0 && (nf == 0 || xy != NULL));
    for (int i = 0; i < nf; i++)
        CHECK(xy[2 * i] >= 0 && xy[2 * i] < (float)f->width && xy[2 * i + 1] >= 0 &&
              xy[2 * i + 1] < (float)f->height);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    open_all();
    int w = 1 + (int)((byte_at(data, size, 0) | byte_at(data, size, 1) << 8) % MAX_SIDE);
    int h = 1 + (int)((byte_at(data, size, 2) | byte_at(data, size, 3) << 8) % MAX_SIDE);
    unsigned flags = byte_at(data, size, 4);
    int block = 1 + (int)(flags & 3), pad = (int)(flags >> 2 & 7), stride = w + pad;
    bool then_flat = flags & 32;
    const uint8_t *px = size > 5 ? data + 5 : NULL;
    size_t npx = size > 5 ? size - 5 : 0;
    int gw = (w + block - 1) / block;
    for (int y = 0; y < h; y++) {
        uint8_t *row = pixels + (size_t)y * (size_t)stride;
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)(y / block) * (size_t)gw + (size_t)(x / block);
            row[x] = npx ? px[i % npx] : 128;
        }
        memset(row + w, 0xA5, (size_t)pad); /* padding is never picture */
    }
    struct frame f = { w, h, stride, pixels };

    check_locate(&f);
    qr_reader_forget(terminal);
    qr_reader_forget(unlimited);
    int rc = qr_reader_scan(terminal, &f);
    check_scan(terminal, &f, rc, true);
    int rc0 = qr_reader_scan(unlimited, &f);
    check_scan(unlimited, &f, rc0, false);

    if (then_flat && w >= 21 && h >= 21) {
        /* The next frame holds nothing: the place of the code just read,
         * and only that, is tried (a code without outline has no place). */
        const struct qr_code *first = qr_reader_code(unlimited, 0);
        bool placed = rc0 > 0 && first->ncorners == 4;
        memset(pixels, 128, (size_t)stride * (size_t)h);
        int rc1 = qr_reader_scan(unlimited, &f);
        check_scan(unlimited, &f, rc1, false);
        const struct qr_reader_stats *s = qr_reader_last(unlimited);
        CHECK(s->candidates == 0);
        CHECK(s->tracked || s->attempts == 0);
        if (rc0 == 0 || placed)
            CHECK(s->tracked == placed);
    }
    return 0;
}
