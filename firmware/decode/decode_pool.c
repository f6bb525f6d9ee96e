/* decode_pool.c - worker threads, one pending slot, newest frame first. */
#include "decode/decode_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "decode/gray_ops.h"

/* Finished results waiting for the loop; it collects every ~100 ms at the
 * latest, so more would only pile up stale frames. Beyond it the oldest go. */
#define RESULTS_MAX 8
#define AUTO_WORKERS_MAX 4

struct slot {
    struct gray_buf img;
    uint64_t seq;
    int64_t captured_ms;
    bool full;
};

struct worker {
    struct decode_pool *pool;
    pthread_t thread;
    bool started;
    struct qr_reader *reader;
    struct slot job;
    bool forget;                 /* set by decode_pool_forget, read before the next job */
    struct decode_result result; /* filled outside the lock, then queued */
};

struct decode_pool {
    int nworkers;
    bool threaded;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    bool stop;
    struct slot pending;
    uint64_t seq;
    struct decode_result *results; /* ring */
    int rhead, rcount;
    struct decode_pool_stats stats;
    struct worker w[DECODE_POOL_MAX_WORKERS];
};

static void fill_result(struct worker *w)
{
    struct decode_result *res = &w->result;
    struct frame f = gray_buf_frame(&w->job.img);
    res->seq = w->job.seq;
    res->captured_ms = w->job.captured_ms;
    res->ncodes = qr_reader_scan(w->reader, &f);
    for (int i = 0; i < res->ncodes; i++) {
        const struct qr_code *c = qr_reader_code(w->reader, i);
        res->codes[i] = *c;
        memcpy(res->data[i], c->data, c->len);
        res->codes[i].data = res->data[i];
    }
}

/* Under the lock. Copies only the codes' bytes, not the whole arrays. */
static void push_result(struct decode_pool *p, const struct decode_result *res)
{
    if (p->rcount == RESULTS_MAX) {
        p->rhead = (p->rhead + 1) % RESULTS_MAX;
        p->rcount--;
    }
    struct decode_result *dst = &p->results[(p->rhead + p->rcount++) % RESULTS_MAX];
    dst->seq = res->seq;
    dst->captured_ms = res->captured_ms;
    dst->ncodes = res->ncodes;
    for (int i = 0; i < res->ncodes; i++) {
        dst->codes[i] = res->codes[i];
        memcpy(dst->data[i], res->data[i], res->codes[i].len);
        dst->codes[i].data = dst->data[i];
    }
    p->stats.decoded++;
}

/* Outside the lock: the job slot is the worker's while it is full. */
static void decode_job(struct decode_pool *p, struct worker *w, bool forget)
{
    if (forget)
        qr_reader_forget(w->reader);
    fill_result(w);
    pthread_mutex_lock(&p->mu);
    push_result(p, &w->result);
    w->job.full = false;
    pthread_cond_broadcast(&p->done);
    pthread_mutex_unlock(&p->mu);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct decode_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        if (!w->job.full && p->pending.full) { /* the newest frame waiting */
            struct slot t = w->job;
            w->job = p->pending;
            p->pending = t;
            p->pending.full = false;
        }
        if (!w->job.full) {
            pthread_cond_wait(&p->work, &p->mu);
            continue;
        }
        bool forget = w->forget;
        w->forget = false;
        pthread_mutex_unlock(&p->mu);
        decode_job(p, w, forget);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int auto_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > AUTO_WORKERS_MAX ? AUTO_WORKERS_MAX : (int)n;
}

static int start_workers(struct decode_pool *p, char *err, size_t errlen)
{
    for (int i = 0; i < p->nworkers; i++) {
        if (pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]) != 0) {
            snprintf(err, errlen, "cannot start decoder thread %d of %d", i + 1, p->nworkers);
            return -1;
        }
        p->w[i].started = true;
    }
    return 0;
}

int decode_pool_open(struct decode_pool **out, int workers, const struct qr_reader_opts *opts, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (workers < 0 || workers > DECODE_POOL_MAX_WORKERS) {
        snprintf(err, errlen, "decoder threads must be 0 (one per core) to %d, not %d", DECODE_POOL_MAX_WORKERS,
                 workers);
        return -1;
    }
    struct decode_pool *p = calloc(1, sizeof(*p));
    if (!p || !(p->results = calloc(RESULTS_MAX, sizeof(*p->results)))) {
        free(p);
        snprintf(err, errlen, "out of memory for the decoder threads");
        return -1;
    }
    p->nworkers = workers ? workers : auto_workers();
    p->threaded = p->nworkers > 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < p->nworkers; i++) {
        p->w[i].pool = p;
        if (qr_reader_open(&p->w[i].reader, opts, err, errlen) != 0) {
            decode_pool_close(p);
            return -1;
        }
    }
    if (p->threaded && start_workers(p, err, errlen) != 0) {
        decode_pool_close(p);
        return -1;
    }
    *out = p;
    return 0;
}

void decode_pool_close(struct decode_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) {
        if (p->w[i].started)
            pthread_join(p->w[i].thread, NULL);
        qr_reader_close(p->w[i].reader);
        gray_buf_free(&p->w[i].job.img);
    }
    gray_buf_free(&p->pending.img);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->results);
    free(p);
}

int decode_pool_workers(const struct decode_pool *p)
{
    return p->nworkers;
}

static int copy_in(struct slot *s, const struct frame *f, uint64_t seq, int64_t captured_ms)
{
    struct gray_rect all = { 0, 0, f->width, f->height };
    if (f->width > FRAME_MAX_SIDE || f->height > FRAME_MAX_SIDE || gray_crop_scale(f, all, 1, 1, &s->img) != 0)
        return -1;
    s->seq = seq;
    s->captured_ms = captured_ms;
    s->full = true;
    return 0;
}

/* Under the lock: an idle worker's slot, else the pending one. */
static struct slot *slot_for_frame(struct decode_pool *p)
{
    for (int i = 0; i < p->nworkers; i++)
        if (!p->w[i].job.full)
            return &p->w[i].job;
    if (p->pending.full)
        p->stats.dropped++;
    return &p->pending;
}

int decode_pool_submit(struct decode_pool *p, const struct frame *f, int64_t captured_ms)
{
    if (!f || !f->pixels || f->width <= 0 || f->height <= 0 || f->stride < f->width)
        return -1;
    pthread_mutex_lock(&p->mu);
    p->stats.submitted++;
    struct slot *s = p->threaded ? slot_for_frame(p) : &p->w[0].job;
    int rc = copy_in(s, f, ++p->seq, captured_ms);
    if (rc == 0 && p->threaded)
        pthread_cond_broadcast(&p->work);
    bool forget = p->w[0].forget;
    p->w[0].forget = false;
    pthread_mutex_unlock(&p->mu);
    if (rc == 0 && !p->threaded)
        decode_job(p, &p->w[0], forget);
    return rc;
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int decode_pool_collect(struct decode_pool *p, struct decode_result *out, int timeout_ms)
{
    struct timespec until;
    deadline_after(&until, timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&p->mu);
    while (p->rcount == 0 && timeout_ms > 0 && p->threaded)
        if (pthread_cond_timedwait(&p->done, &p->mu, &until) != 0)
            break;
    int got = p->rcount > 0;
    if (got) {
        const struct decode_result *src = &p->results[p->rhead];
        out->seq = src->seq;
        out->captured_ms = src->captured_ms;
        out->ncodes = src->ncodes;
        for (int i = 0; i < src->ncodes; i++) {
            out->codes[i] = src->codes[i];
            memcpy(out->data[i], src->data[i], src->codes[i].len);
            out->codes[i].data = out->data[i];
        }
        p->rhead = (p->rhead + 1) % RESULTS_MAX;
        p->rcount--;
    }
    pthread_mutex_unlock(&p->mu);
    return got;
}

int decode_pool_idle(struct decode_pool *p)
{
    if (!p->threaded)
        return 1;
    pthread_mutex_lock(&p->mu);
    int idle = 0;
    for (int i = 0; i < p->nworkers; i++)
        idle += !p->w[i].job.full;
    pthread_mutex_unlock(&p->mu);
    return idle;
}

int decode_pool_busy(struct decode_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int busy = p->pending.full;
    for (int i = 0; i < p->nworkers; i++)
        busy += p->w[i].job.full;
    pthread_mutex_unlock(&p->mu);
    return busy;
}

void decode_pool_forget(struct decode_pool *p)
{
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nworkers; i++)
        p->w[i].forget = true;
    pthread_mutex_unlock(&p->mu);
}

struct decode_pool_stats decode_pool_stats(struct decode_pool *p)
{
    pthread_mutex_lock(&p->mu);
    struct decode_pool_stats s = p->stats;
    pthread_mutex_unlock(&p->mu);
    return s;
}
