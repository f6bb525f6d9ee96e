/* spool_dead.c - dead letters: records the hospital refused for good, that
 * expired, or that were damaged on disk, set aside in dead.log with the
 * reason, durably, before they leave the queue; and getting them back:
 * requeue and purge, which rewrite dead.log without the records they take
 * (spool_read.c reads it). */
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
        rc = spool_reader_lent(&r, s, true, err, errlen);
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
    int rc = spool_reader_lent(&r, s, false, err, errlen);
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
