/* spool_dead.c - dead letters: records the hospital refused for good, that
 * expired, or that were damaged on disk, set aside in dead.log with the
 * reason, durably, before they leave the queue; and getting them back: a
 * reader of dead.log (and of the queue, for `cccd-reader spool list`) that
 * needs no lock, requeue and purge. */
#include "spool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <jansson.h>

#include "base/file_io.h"
#include "base/log.h"

/* Opens dead.log, recovering it when it exists; creates it when asked. */
int spool_dead_open(struct spool *s, bool create, char *err, size_t errlen)
{
    if (s->dead_fd >= 0)
        return 0;
    int fd = openat(s->dirfd, DEAD_NAME, O_RDWR | O_CLOEXEC);
    if (fd >= 0)
        return spool_dead_recover(s, fd, err, errlen);
    if (errno != ENOENT)
        return spool_io_fail(err, errlen, errno, "cannot open", s->dir, DEAD_NAME);
    if (!create)
        return 0;
    fd = openat(s->dirfd, DEAD_NAME, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return spool_io_fail(err, errlen, errno, "cannot create", s->dir, DEAD_NAME);
    if (fsync(s->dirfd) != 0) {
        int e = errno;
        spool_close_quietly(fd);
        return spool_io_fail(err, errlen, e, "cannot sync", s->dir, NULL);
    }
    s->dead_fd = fd;
    s->dead_size = 0;
    return 0;
}

/* ---- dead letters ------------------------------------------------------------ */

/* Reason text safe for a log line: no control characters. */
static size_t clean_reason(const char *reason, char out[REASON_MAX + 1])
{
    size_t n = reason ? strnlen(reason, REASON_MAX) : 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)reason[i] < 0x20 || reason[i] == 0x7f ? '?' : reason[i];
    out[n] = '\0';
    return n;
}

/* Frames record e as a dead letter at out: the original header fields, and
 * as body the reason, the set-aside time and the stored payload as it is
 * (still sealed: no key is needed to set a record aside). A record damaged
 * on disk goes as the raw bytes read, with the reason "corrupt". */
static int dead_frame(struct spool *s, const struct entry *e, const char *reason, int64_t now, unsigned char *out,
                      char *err, size_t errlen)
{
    struct record_frame f;
    int rc = spool_read_entry(s, e, &f, err, errlen);
    if (rc < 0)
        return rc;
    const unsigned char *stored = rc ? s->rbuf : f.body;
    size_t n = rc ? s->rlen : f.len;
    char why[REASON_MAX + 1];
    size_t rl = clean_reason(rc ? "corrupt" : reason, why);
    size_t len = DEAD_MIN + rl + n;
    spool_frame_header(out, FLAG_DEAD | (rc ? 0 : f.flags & FLAG_SEALED), len, e->seq, e->time);
    unsigned char *b = out + HDR_LEN;
    spool_put16(b, (uint16_t)rl);
    memcpy(b + 2, why, rl);
    spool_put64(b + 2 + rl, (uint64_t)now);
    if (n)
        memcpy(b + DEAD_MIN + rl, stored, n);
    return (int)spool_frame_finish(s, out, len);
}

static int dead_write(struct spool *s, size_t len, char *err, size_t errlen)
{
    if (!len)
        return 0;
    int rc = spool_dead_open(s, true, err, errlen);
    if (rc)
        return rc;
    bool broken;
    int e = spool_write_durably(s->dead_fd, s->dead_size, s->batch, len, &broken);
    if (!e) {
        s->dead_size += len;
        return 0;
    }
    if (broken) { /* reopened (and its end recovered) at the next dead letter */
        spool_close_quietly(s->dead_fd);
        s->dead_fd = -1;
    }
    return spool_io_fail(err, errlen, e, "cannot write", s->dir, DEAD_NAME);
}

/* Copies the n oldest undelivered records to dead.log with the reason,
 * durably and in as few writes as fit the batch buffer, then acks them. A
 * failure half-way may leave some copied but unacked: they are copied again
 * next time, and dead.log tells them apart by sequence number. */
int spool_set_aside(struct spool *s, size_t n, const char *reason, char *err, size_t errlen)
{
    int64_t now = (int64_t)time(NULL);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (len + REC_MAX > BATCH_CAP) {
            int rc = dead_write(s, len, err, errlen);
            if (rc)
                return rc;
            len = 0;
        }
        int size = dead_frame(s, spool_q_at(s, i), reason, now, s->batch + len, err, errlen);
        if (size < 0)
            return size;
        len += (size_t)size;
    }
    int rc = dead_write(s, len, err, errlen);
    if (rc)
        return rc;
    uint64_t first = spool_q_at(s, 0)->seq, last = spool_q_at(s, n - 1)->seq;
    s->dead_letters += n;
    char why[REASON_MAX + 1];
    clean_reason(reason, why);
    log_msg(LOG_WARNING, "spool: %zu record(s) %" PRIu64 "..%" PRIu64 " set aside in %s/" DEAD_NAME ": %s", n, first,
            last, s->dir, why);
    return spool_ack_locked(s, last, err, errlen);
}

static int64_t expiry_cutoff(const struct spool *s)
{
    int64_t now = (int64_t)time(NULL);
    return now > INT64_MIN + s->max_age_s ? now - s->max_age_s : INT64_MIN;
}

/* Moves the records older than max_age_s to dead.log as "expired". */
int spool_expire(struct spool *s, char *err, size_t errlen)
{
    if (!s->max_age_s)
        return 0;
    int64_t cutoff = expiry_cutoff(s);
    size_t n = 0;
    while (n < s->q_len && spool_q_at(s, n)->time < cutoff)
        n++;
    return n ? spool_set_aside(s, n, "expired", err, errlen) : 0;
}

int spool_dead_letter(struct spool *s, uint64_t seq, const char *reason, char *err, size_t errlen)
{
    if (!s)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no spool");
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (seq > s->delivered && (!s->q_len || spool_q_at(s, 0)->seq != seq))
        rc = spool_fail(SPOOL_ERR_CONFIG, err, errlen,
                  "spool %s: record %" PRIu64 " is not the oldest undelivered one: set records aside in order", s->dir,
                  seq);
    else if (seq > s->delivered)
        rc = spool_set_aside(s, 1, reason && reason[0] ? reason : "unspecified", err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- reading back: dead.log or the segments, through a window ------------------------ */

/* Any record can be judged with REC_MAX bytes from its start; a window of
 * twice that keeps refills rare and memory small however large the file. */
enum { WINDOW_CAP = 2 * REC_MAX };

#define DEAD_TMP "dead.log.tmp"

struct spool_reader {
    struct spool own; /* bare: the CRC table and, with a key, its GCM context */
    struct spool *sp; /* own, or the open spool that lends its key (requeue, purge) */
    bool dead, lent, open_sealed, dead_done;
    int dirfd, fd;
    char name[SEG_NAME_LEN + 1];
    uint64_t limit; /* bytes of the file to read: its size when it was opened */
    uint64_t base;  /* file offset of buf[0] */
    unsigned char *buf, *plain;
    size_t have, pos;
    uint64_t delivered, lo, hi, last; /* segments: recovery's sequence rules */
    uint64_t *segs;
    size_t nsegs, segs_cap, next_seg;
    uint64_t damaged, tail, total;
};

static size_t reason_len(const unsigned char *body)
{
    return (size_t)body[0] | (size_t)body[1] << 8;
}

static int reader_new(struct spool_reader **out, const char *dir, bool dead, char *err, size_t errlen)
{
    struct spool_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return spool_io_fail(err, errlen, ENOMEM, "cannot read", dir, NULL);
    r->fd = r->dirfd = -1;
    r->own.dirfd = r->own.active_fd = r->own.read_fd = r->own.dead_fd = -1;
    r->dead = dead;
    r->sp = &r->own;
    r->open_sealed = true;
    spool_crc_init(r->own.crc);
    mbedtls_gcm_init(&r->own.gcm);
    r->own.dir = strdup(dir);
    r->buf = malloc(WINDOW_CAP);
    r->plain = malloc(SPOOL_RECORD_MAX);
    if (!r->own.dir || !r->buf || !r->plain) {
        spool_reader_close(r);
        return spool_io_fail(err, errlen, ENOMEM, "cannot read", dir, NULL);
    }
    r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dirfd < 0) {
        int e = errno;
        spool_reader_close(r);
        return spool_io_fail(err, errlen, e, "cannot open the spool directory", dir, NULL);
    }
    *out = r;
    return 0;
}

/* The delivered position as recovery reads it: a damaged state file means
 * nothing delivered, as the service would then send every record again. */
static void reader_state(struct spool_reader *r)
{
    char text[96];
    int fd = openat(r->dirfd, STATE_NAME, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? file_read_full(fd, text, sizeof(text), 0) : -1;
    spool_close_quietly(fd);
    if (n <= 0 || !spool_state_parse(&r->own, text, (size_t)n, &r->delivered))
        r->delivered = 0;
}

static int cmp_first(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int add_seg(struct spool_reader *r, uint64_t first)
{
    if (r->nsegs == r->segs_cap) {
        size_t cap = r->segs_cap ? r->segs_cap * 2 : 16;
        uint64_t *v = realloc(r->segs, cap * sizeof(*v));
        if (!v)
            return ENOMEM;
        r->segs = v;
        r->segs_cap = cap;
    }
    r->segs[r->nsegs++] = first;
    return 0;
}

/* The segment files as they are now, in sequence order. */
static int reader_segments(struct spool_reader *r, char *err, size_t errlen)
{
    reader_state(r);
    int fd = openat(r->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        spool_close_quietly(fd);
        return spool_io_fail(err, errlen, e, "cannot list", r->own.dir, NULL);
    }
    int e = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            e = errno;
            break;
        }
        uint64_t first;
        if (spool_parse_seg_name(de->d_name, &first) && (e = add_seg(r, first)) != 0)
            break;
    }
    if (closedir(d) != 0 && !e)
        e = errno;
    if (e)
        return spool_io_fail(err, errlen, e, "cannot list", r->own.dir, NULL);
    if (r->nsegs > 1)
        qsort(r->segs, r->nsegs, sizeof(*r->segs), cmp_first);
    return 0;
}

int spool_reader_open(struct spool_reader **out, const char *dir, bool dead, const uint8_t *key, char *err,
                      size_t errlen)
{
    if (!out)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no reader");
    *out = NULL;
    if (!dir || !dir[0])
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no directory given");
    struct spool_reader *r = NULL;
    int rc = reader_new(&r, dir, dead, err, errlen);
    if (rc)
        return rc;
    if (key) {
        r->own.sealed = true;
        if (mbedtls_gcm_setkey(&r->own.gcm, MBEDTLS_CIPHER_ID_AES, key, SPOOL_KEY_LEN * 8) != 0)
            rc = spool_fail(SPOOL_ERR_KEY, err, errlen, "spool %s: the key cannot be used for AES-256-GCM", dir);
    }
    if (!rc && !dead)
        rc = reader_segments(r, err, errlen);
    if (rc) {
        spool_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* A reader of s's dead.log that opens sealed records with s's key (under
 * s's lock: a GCM context is not shared between threads unguarded). */
static int reader_lent(struct spool_reader **out, struct spool *s, bool open_sealed, char *err, size_t errlen)
{
    int rc = reader_new(out, s->dir, true, err, errlen);
    if (rc)
        return rc;
    (*out)->sp = s;
    (*out)->lent = true;
    (*out)->open_sealed = open_sealed;
    return 0;
}

void spool_reader_close(struct spool_reader *r)
{
    if (!r)
        return;
    spool_close_quietly(r->fd);
    spool_close_quietly(r->dirfd);
    mbedtls_gcm_free(&r->own.gcm);
    /* Opened payloads hold personal data. */
    if (r->plain)
        explicit_bzero(r->plain, SPOOL_RECORD_MAX);
    if (r->buf)
        explicit_bzero(r->buf, WINDOW_CAP);
    free(r->plain);
    free(r->buf);
    free(r->segs);
    free(r->own.dir);
    free(r);
}

void spool_reader_damage(const struct spool_reader *r, uint64_t *damaged_bytes, uint64_t *tail_bytes)
{
    *damaged_bytes = r ? r->damaged : 0;
    *tail_bytes = r ? r->tail : 0;
}

/* Picks the next segment to read; false when there is none left. Wholly
 * delivered older segments are passed over, as recovery does. */
static bool next_segment(struct spool_reader *r)
{
    while (r->next_seg + 1 < r->nsegs && r->segs[r->next_seg + 1] - 1 <= r->delivered)
        r->next_seg++;
    if (r->next_seg >= r->nsegs)
        return false;
    size_t i = r->next_seg++;
    r->lo = r->segs[i];
    r->hi = i + 1 < r->nsegs ? r->segs[i + 1] - 1 : UINT64_MAX;
    r->last = 0;
    spool_seg_name(r->name, r->lo);
    return true;
}

/* Opens the next file: 1 when one is open, 0 when none is left, or a status.
 * A file gone meanwhile (dead.log never made, a segment delivered and
 * deleted by the running service since the listing) is passed over. */
static int open_next(struct spool_reader *r, char *err, size_t errlen)
{
    for (;;) {
        if (r->dead && r->dead_done)
            return 0;
        if (r->dead) {
            r->dead_done = true;
            snprintf(r->name, sizeof(r->name), DEAD_NAME);
        } else if (!next_segment(r)) {
            return 0;
        }
        int fd = openat(r->dirfd, r->name, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            continue;
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            int e = errno;
            spool_close_quietly(fd);
            return spool_io_fail(err, errlen, e, "cannot read", r->own.dir, r->name);
        }
        r->fd = fd;
        r->limit = st.st_size > 0 ? (uint64_t)st.st_size : 0;
        r->total += r->limit;
        r->base = 0;
        r->have = r->pos = 0;
        return 1;
    }
}

/* Keeps REC_MAX bytes from pos in the window, or all that is left of the
 * file: enough to judge any record that starts at pos. */
static int ensure(struct spool_reader *r, char *err, size_t errlen)
{
    if (r->have - r->pos >= REC_MAX || r->base + r->have >= r->limit)
        return 0;
    memmove(r->buf, r->buf + r->pos, r->have - r->pos);
    r->base += r->pos;
    r->have -= r->pos;
    r->pos = 0;
    uint64_t left = r->limit - r->base - r->have;
    size_t want = WINDOW_CAP - r->have;
    if (left < want)
        want = (size_t)left;
    ssize_t n = file_read_full(r->fd, r->buf + r->have, want, (int64_t)(r->base + r->have));
    if (n < 0)
        return spool_io_fail(err, errlen, errno, "cannot read", r->own.dir, r->name);
    r->have += (size_t)n;
    if ((size_t)n < want) /* cut meanwhile (the service recovering a torn end) */
        r->limit = r->base + r->have;
    return 0;
}

/* The size of the intact record at pos, or 0: recovery's checks, and for
 * a dead letter a body that holds its reason and time. */
static size_t parse_at(const struct spool_reader *r, struct record_frame *f)
{
    size_t n = spool_frame_parse(&r->own, r->buf + r->pos, r->have - r->pos, r->dead, f);
    if (!n)
        return 0;
    if (r->dead)
        return reason_len(f->body) <= REASON_MAX && f->len >= DEAD_MIN + reason_len(f->body) ? n : 0;
    bool in_order = f->seq > r->last && f->seq >= r->lo && f->seq <= r->hi && f->seq <= SEQ_MAX;
    return in_order ? n : 0;
}

/* From a record that fails, on to the next intact one (the magic, then
 * every check), as recovery resynchronises. What lies between is counted
 * as damaged, or as the file's unreadable tail when nothing intact follows. */
static int skip_damage(struct spool_reader *r, char *err, size_t errlen)
{
    uint64_t start = r->base + r->pos;
    bool found = false;
    r->pos++;
    while (!found) {
        int rc = ensure(r, err, errlen);
        if (rc)
            return rc;
        if (r->pos >= r->have)
            break;
        const unsigned char *p = memchr(r->buf + r->pos, spool_rec_magic[0], r->have - r->pos);
        if (!p) {
            r->pos = r->have;
            continue;
        }
        r->pos = (size_t)(p - r->buf);
        if ((rc = ensure(r, err, errlen)) != 0)
            return rc;
        struct record_frame f;
        found = parse_at(r, &f) != 0;
        if (!found)
            r->pos++;
    }
    uint64_t n = r->base + r->pos - start;
    if (found)
        r->damaged += n;
    else
        r->tail += n;
    return 0;
}

/* Opens a sealed body with the reader's key, into r->plain. aad: the
 * header the record was sealed under. */
static enum spool_item_state open_body(struct spool_reader *r, const unsigned char aad[HDR_LEN],
                                       const unsigned char *body, size_t n, size_t *len)
{
    if (!r->sp->sealed)
        return SPOOL_ITEM_NO_KEY;
    if (!r->open_sealed || n < SEAL_LEN || n - SEAL_LEN > SPOOL_RECORD_MAX)
        return SPOOL_ITEM_WRONG_KEY;
    size_t plain = n - SEAL_LEN;
    if (r->lent)
        pthread_mutex_lock(&r->sp->lock);
    int rc = mbedtls_gcm_auth_decrypt(&r->sp->gcm, plain, body, NONCE_LEN, aad + 4, HDR_LEN - 4,
                                      body + NONCE_LEN + plain, TAG_LEN, body + NONCE_LEN, r->plain);
    if (r->lent)
        pthread_mutex_unlock(&r->sp->lock);
    *len = plain;
    return rc == 0 ? SPOOL_ITEM_OK : SPOOL_ITEM_WRONG_KEY;
}

/* Fills *it from the intact record rec (its frame f). */
static void fill_item(struct spool_reader *r, const unsigned char *rec, const struct record_frame *f, uint64_t off,
                      size_t n, struct spool_item *it)
{
    *it = (struct spool_item){ .seq = f->seq, .appended_unix = f->time, .sealed = (f->flags & FLAG_SEALED) != 0,
                               .offset = off, .size = (uint32_t)n };
    const unsigned char *stored = f->body;
    size_t len = f->len;
    unsigned char aad[HDR_LEN];
    memcpy(aad, rec, HDR_LEN);
    if (r->dead) {
        size_t rl = reason_len(f->body);
        memcpy(it->reason, f->body + 2, rl);
        it->reason[rl] = '\0';
        it->set_aside_unix = (int64_t)spool_get64(f->body + 2 + rl);
        stored = f->body + DEAD_MIN + rl;
        len = f->len - DEAD_MIN - rl;
        /* Sealed under its header in the segment: flags "sealed", its own length. */
        spool_frame_header(aad, FLAG_SEALED, len, f->seq, f->time);
    }
    if (r->dead && !it->sealed && strcmp(it->reason, "corrupt") == 0)
        it->state = SPOOL_ITEM_CORRUPT;
    else if (it->sealed)
        it->state = open_body(r, aad, stored, len, &len);
    if (it->state == SPOOL_ITEM_OK || it->state == SPOOL_ITEM_CORRUPT) {
        it->payload = it->sealed ? r->plain : stored;
        it->len = len;
    }
}

int spool_reader_next(struct spool_reader *r, struct spool_item *it, char *err, size_t errlen)
{
    if (!r || !it)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no reader");
    for (;;) {
        int rc = r->fd < 0 ? open_next(r, err, errlen) : 1;
        if (rc <= 0)
            return rc;
        if ((rc = ensure(r, err, errlen)) != 0)
            return rc;
        if (r->pos >= r->have) {
            spool_close_quietly(r->fd);
            r->fd = -1;
            continue;
        }
        struct record_frame f;
        size_t n = parse_at(r, &f);
        if (!n) {
            if ((rc = skip_damage(r, err, errlen)) != 0)
                return rc;
            continue;
        }
        const unsigned char *rec = r->buf + r->pos;
        uint64_t off = r->base + r->pos;
        r->pos += n;
        if (!r->dead) {
            r->last = f.seq;
            if (f.seq <= r->delivered)
                continue;
        }
        fill_item(r, rec, &f, off, n, it);
        return 1;
    }
}

int spool_dead_stats(const char *dir, struct spool_dead_stats *st, char *err, size_t errlen)
{
    *st = (struct spool_dead_stats){ 0 };
    struct spool_reader *r = NULL;
    int rc = spool_reader_open(&r, dir, true, NULL, err, errlen);
    if (rc)
        return rc;
    struct spool_item it;
    while ((rc = spool_reader_next(r, &it, err, errlen)) == 1) {
        if (!st->records++ || it.set_aside_unix < st->oldest_set_aside_unix)
            st->oldest_set_aside_unix = it.set_aside_unix;
    }
    st->bytes = r->total;
    st->damaged_bytes = r->damaged + r->tail;
    spool_reader_close(r);
    return rc;
}

/* ---- rewriting dead.log without some of its records ----------------------------------- */

struct cut { /* a dead letter to leave out */
    uint64_t off, seq;
    uint32_t size;
};

struct cuts {
    struct cut *v;
    size_t n, cap;
};

static int cuts_reserve(struct cuts *c)
{
    if (c->n < c->cap)
        return 0;
    size_t cap = c->cap ? c->cap * 2 : 64;
    struct cut *v = realloc(c->v, cap * sizeof(*v));
    if (!v)
        return ENOMEM;
    c->v = v;
    c->cap = cap;
    return 0;
}

/* Call cuts_reserve first: adding then cannot fail. */
static void cuts_push(struct cuts *c, const struct spool_item *it)
{
    c->v[c->n++] = (struct cut){ .off = it->offset, .seq = it->seq, .size = it->size };
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : ENOSPC;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copies bytes [from, to) of in to the end of out; 0 or an errno. */
static int copy_range(struct spool *s, int in, int out, uint64_t from, uint64_t to)
{
    while (from < to) {
        size_t n = to - from < BATCH_CAP ? (size_t)(to - from) : BATCH_CAP;
        ssize_t r = file_read_full(in, s->batch, n, (int64_t)from);
        if (r < 0)
            return errno;
        if ((size_t)r != n)
            return EIO; /* shorter than at fstat: nobody else writes it while we hold the lock */
        int e = write_all(out, s->batch, n);
        if (e)
            return e;
        from += n;
    }
    return 0;
}

/* True when the dead letter k is still where it was read, unchanged. */
static bool cut_intact(struct spool *s, int in, const struct cut *k, uint64_t size)
{
    if (k->off > size || k->size > size - k->off || k->size > REC_MAX)
        return false;
    struct record_frame f;
    ssize_t r = file_read_full(in, s->rbuf, k->size, (int64_t)k->off);
    return r == (ssize_t)k->size && spool_frame_parse(s, s->rbuf, k->size, true, &f) == k->size && f.seq == k->seq;
}

static int copy_without(struct spool *s, int in, int out, const struct cuts *c, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(in, &st) != 0)
        return spool_io_fail(err, errlen, errno, "cannot read", s->dir, DEAD_NAME);
    uint64_t size = st.st_size > 0 ? (uint64_t)st.st_size : 0, pos = 0;
    for (size_t i = 0; i <= c->n; i++) {
        const struct cut *k = i < c->n ? &c->v[i] : NULL;
        if (k && (k->off < pos || !cut_intact(s, in, k, size)))
            return spool_fail(SPOOL_ERR_IO, err, errlen,
                              "%s/" DEAD_NAME " changed while it was being rewritten; it is left as it was: "
                              "run the command again", s->dir);
        int e = copy_range(s, in, out, pos, k ? k->off : size);
        if (e)
            return spool_io_fail(err, errlen, e, "cannot write", s->dir, DEAD_TMP);
        pos = k ? k->off + k->size : size;
    }
    return 0;
}

static int rewrite_locked(struct spool *s, const struct cuts *c, char *err, size_t errlen)
{
    int in = openat(s->dirfd, DEAD_NAME, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return spool_io_fail(err, errlen, errno, "cannot open", s->dir, DEAD_NAME);
    int out = openat(s->dirfd, DEAD_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        spool_close_quietly(in);
        return spool_io_fail(err, errlen, e, "cannot create", s->dir, DEAD_TMP);
    }
    int rc = copy_without(s, in, out, c, err, errlen);
    spool_close_quietly(in);
    if (!rc && fsync(out) != 0)
        rc = spool_io_fail(err, errlen, errno, "cannot write", s->dir, DEAD_TMP);
    if (close(out) != 0 && !rc)
        rc = spool_io_fail(err, errlen, errno, "cannot write", s->dir, DEAD_TMP);
    if (!rc && renameat(s->dirfd, DEAD_TMP, s->dirfd, DEAD_NAME) != 0)
        rc = spool_io_fail(err, errlen, errno, "cannot rename", s->dir, DEAD_TMP);
    if (rc) {
        (void)unlinkat(s->dirfd, DEAD_TMP, 0); /* best effort: a leftover is replaced next time */
        return rc;
    }
    /* The open descriptor is the old file's: the next dead letter reopens
     * (and checks) the new one instead of writing into a deleted file. */
    spool_close_quietly(s->dead_fd);
    s->dead_fd = -1;
    s->dead_size = 0;
    if (fsync(s->dirfd) != 0)
        return spool_io_fail(err, errlen, errno, "cannot sync", s->dir, NULL);
    return 0;
}

/* Writes dead.log again without the records in c (in file order): a temp
 * file, fsync, rename, fsync the directory, so a power cut leaves the old
 * file or the new one. Everything else is copied as it is, damaged bytes
 * and records set aside meanwhile included: under s's lock nothing is set
 * aside during the copy. */
static int dead_rewrite(struct spool *s, const struct cuts *c, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->lock);
    int rc = rewrite_locked(s, c, err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- requeue and purge ------------------------------------------------------------------ */

enum { KEY_MAX = 160 };

/* Idempotency keys seen: open addressing, never more than half full. */
struct keyset {
    char **slot;
    size_t cap, n;
};

static size_t key_hash(const char *k, size_t cap)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211u;
    return (size_t)(h & (cap - 1));
}

static char **key_slot(const struct keyset *ks, const char *k)
{
    size_t i = key_hash(k, ks->cap);
    while (ks->slot[i] && strcmp(ks->slot[i], k) != 0)
        i = (i + 1) & (ks->cap - 1);
    return &ks->slot[i];
}

static bool keyset_has(const struct keyset *ks, const char *k)
{
    return ks->cap && *key_slot(ks, k) != NULL;
}

static int keyset_grow(struct keyset *ks)
{
    struct keyset bigger = { calloc(ks->cap ? ks->cap * 2 : 256, sizeof(char *)), ks->cap ? ks->cap * 2 : 256,
                             ks->n };
    if (!bigger.slot)
        return ENOMEM;
    for (size_t i = 0; i < ks->cap; i++)
        if (ks->slot[i])
            *key_slot(&bigger, ks->slot[i]) = ks->slot[i];
    free(ks->slot);
    *ks = bigger;
    return 0;
}

static int keyset_add(struct keyset *ks, const char *k)
{
    if (2 * (ks->n + 1) > ks->cap && keyset_grow(ks) != 0)
        return ENOMEM;
    char **slot = key_slot(ks, k);
    if (*slot)
        return 0;
    if (!(*slot = strdup(k)))
        return ENOMEM;
    ks->n++;
    return 0;
}

static void keyset_free(struct keyset *ks)
{
    for (size_t i = 0; i < ks->cap; i++)
        free(ks->slot[i]);
    free(ks->slot);
}

/* The idempotency key inside a check-in's JSON; false when there is none. */
static bool payload_key(const unsigned char *p, size_t n, char out[KEY_MAX])
{
    json_t *o = json_loadb((const char *)p, n, 0, NULL);
    const char *k = o ? json_string_value(json_object_get(o, "idempotency_key")) : NULL;
    bool ok = k && k[0] && strlen(k) < KEY_MAX;
    if (ok)
        snprintf(out, KEY_MAX, "%s", k);
    json_decref(o);
    return ok;
}

/* The payload of the queued record in s->rbuf (frame f); false when it is
 * sealed and the spool's key cannot open it. */
static bool queued_payload(struct spool *s, const struct record_frame *f, unsigned char *out, size_t *len)
{
    if (!(f->flags & FLAG_SEALED)) {
        memcpy(out, f->body, f->len);
        *len = f->len;
        return true;
    }
    size_t plain = f->len - SEAL_LEN;
    *len = plain;
    return s->sealed && mbedtls_gcm_auth_decrypt(&s->gcm, plain, f->body, NONCE_LEN, s->rbuf + 4, HDR_LEN - 4,
                                                 f->body + NONCE_LEN + plain, TAG_LEN, f->body + NONCE_LEN, out) == 0;
}

static int queued_keys_locked(struct spool *s, struct keyset *ks, unsigned char *plain, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->q_len; i++) {
        struct record_frame f;
        int rc = spool_read_entry(s, spool_q_at(s, i), &f, err, errlen);
        if (rc < 0)
            return rc;
        size_t len;
        char key[KEY_MAX];
        /* A damaged or unopenable record has no key to match: it is skipped. */
        if (rc == 0 && queued_payload(s, &f, plain, &len) && payload_key(plain, len, key) && keyset_add(ks, key))
            return spool_io_fail(err, errlen, ENOMEM, "cannot read the queue in", s->dir, NULL);
    }
    return 0;
}

/* The idempotency keys of the undelivered records. */
static int queued_keys(struct spool *s, struct keyset *ks, char *err, size_t errlen)
{
    unsigned char *plain = malloc(SPOOL_RECORD_MAX);
    if (!plain)
        return spool_io_fail(err, errlen, ENOMEM, "cannot read the queue in", s->dir, NULL);
    pthread_mutex_lock(&s->lock);
    int rc = queued_keys_locked(s, ks, plain, err, errlen);
    pthread_mutex_unlock(&s->lock);
    explicit_bzero(plain, SPOOL_RECORD_MAX);
    free(plain);
    return rc;
}

static bool chosen(const struct spool_dead_select *w, const struct spool_item *it)
{
    if (!w)
        return true;
    if (w->reason && w->reason[0] && strncmp(it->reason, w->reason, strlen(w->reason)) != 0)
        return false;
    if (!w->seqs)
        return true;
    for (size_t i = 0; i < w->nseqs; i++)
        if (w->seqs[i] == it->seq)
            return true;
    return false;
}

struct requeue {
    struct spool *s;
    struct keyset keys; /* in the queue, and queued by this requeue */
    struct cuts cuts;   /* to leave out of dead.log */
    struct spool_requeue_result *res;
};

static int requeue_one(struct requeue *q, const struct spool_item *it, char *err, size_t errlen)
{
    char key[KEY_MAX];
    bool keyed = payload_key(it->payload, it->len, key);
    /* Reserved before the append: once queued, it must leave dead.log. */
    if (cuts_reserve(&q->cuts) != 0)
        return spool_io_fail(err, errlen, ENOMEM, "cannot requeue from", q->s->dir, DEAD_NAME);
    if (keyed && keyset_has(&q->keys, key)) { /* a requeue interrupted before its rewrite, or a twin */
        q->res->already_queued++;
        cuts_push(&q->cuts, it);
        return 0;
    }
    uint64_t seq;
    int rc = spool_append(q->s, it->payload, it->len, &seq, err, errlen);
    if (rc)
        return rc;
    cuts_push(&q->cuts, it);
    q->res->requeued++;
    q->res->first_seq = q->res->first_seq ? q->res->first_seq : seq;
    q->res->last_seq = seq;
    if (keyed && keyset_add(&q->keys, key) != 0)
        return spool_io_fail(err, errlen, ENOMEM, "cannot requeue from", q->s->dir, DEAD_NAME);
    return 0;
}

static int requeue_each(struct requeue *q, struct spool_reader *r, const struct spool_dead_select *which, char *err,
                        size_t errlen)
{
    struct spool_item it;
    int rc;
    while ((rc = spool_reader_next(r, &it, err, errlen)) == 1) {
        if (!chosen(which, &it))
            continue;
        if (it.state == SPOOL_ITEM_CORRUPT)
            q->res->corrupt++;
        else if (it.state != SPOOL_ITEM_OK)
            q->res->unreadable++;
        else if ((rc = requeue_one(q, &it, err, errlen)) != 0)
            return rc;
    }
    return rc;
}

/* Takes what is queued now out of dead.log, whatever stopped the loop (rc). */
static int requeue_finish(struct requeue *q, int rc, char *err, size_t errlen)
{
    char why[512], before[512];
    int wr = q->cuts.n ? dead_rewrite(q->s, &q->cuts, why, sizeof(why)) : 0;
    if (!wr)
        return rc;
    snprintf(before, sizeof(before), "%s", rc && err ? err : "");
    return spool_fail(wr, err, errlen,
                      "%zu dead letter(s) are in the queue again but still in %s/" DEAD_NAME ": %s; run the requeue "
                      "again: it only removes those already queued%s%s", q->cuts.n, q->s->dir, why,
                      before[0] ? "; before that: " : "", before);
}

int spool_dead_requeue(struct spool *s, const struct spool_dead_select *which, struct spool_requeue_result *res,
                       char *err, size_t errlen)
{
    if (!res)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: requeue without a result");
    *res = (struct spool_requeue_result){ 0 };
    if (!s)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no spool");
    struct requeue q = { .s = s, .res = res };
    struct spool_reader *r = NULL;
    int rc = queued_keys(s, &q.keys, err, errlen);
    if (!rc)
        rc = reader_lent(&r, s, true, err, errlen);
    if (!rc)
        rc = requeue_each(&q, r, which, err, errlen);
    spool_reader_close(r);
    rc = requeue_finish(&q, rc, err, errlen);
    keyset_free(&q.keys);
    free(q.cuts.v);
    if (res->requeued)
        log_msg(LOG_NOTICE, "spool: %" PRIu64 " dead letter(s) from %s/" DEAD_NAME " queued again as records %" PRIu64
                "..%" PRIu64, res->requeued, s->dir, res->first_seq, res->last_seq);
    if (res->already_queued)
        log_msg(LOG_NOTICE, "spool: %" PRIu64 " dead letter(s) in %s/" DEAD_NAME " were queued already: removed from it",
                res->already_queued, s->dir);
    return rc;
}

static int collect_old(struct spool_reader *r, int64_t cutoff, struct cuts *c, char *err, size_t errlen)
{
    struct spool_item it;
    int rc;
    while ((rc = spool_reader_next(r, &it, err, errlen)) == 1) {
        if (it.set_aside_unix >= cutoff)
            continue;
        if (cuts_reserve(c) != 0)
            return spool_io_fail(err, errlen, ENOMEM, "cannot purge", r->own.dir, DEAD_NAME);
        cuts_push(c, &it);
    }
    return rc;
}

int spool_dead_purge(struct spool *s, int64_t older_than_s, uint64_t *removed, char *err, size_t errlen)
{
    if (!removed)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: purge without a count");
    *removed = 0;
    if (!s || older_than_s < 0)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: purge needs a spool and an age of 0 or more");
    int64_t now = (int64_t)time(NULL);
    int64_t cutoff = now > INT64_MIN + older_than_s ? now - older_than_s : INT64_MIN;
    struct cuts c = { 0 };
    struct spool_reader *r = NULL;
    int rc = reader_lent(&r, s, false, err, errlen);
    if (!rc)
        rc = collect_old(r, cutoff, &c, err, errlen);
    spool_reader_close(r);
    if (!rc && c.n)
        rc = dead_rewrite(s, &c, err, errlen);
    if (!rc && c.n) {
        *removed = c.n;
        log_msg(LOG_NOTICE, "spool: %zu dead letter(s) set aside more than %" PRId64 " s ago purged from %s/" DEAD_NAME,
                c.n, older_than_s, s->dir);
    }
    free(c.v);
    return rc;
}
