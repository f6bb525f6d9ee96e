/* spool_read.c - the spool's files read back from the start, without the
 * lock and writing nothing: dead.log for `cccd-reader spool` and doctor,
 * the undelivered records for `spool list`, and dead.log again for requeue
 * and purge (then with the open spool's key). Damage is skipped the way
 * recovery skips it, and a record being written shows as an unreadable
 * tail, never as an error. A window of the file is held, not the file. */
#include "spool_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file_io.h"

/* ---- reading back: dead.log or the segments, through a window ------------------------ */

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
int spool_reader_lent(struct spool_reader **out, struct spool *s, bool open_sealed, char *err, size_t errlen)
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
