/* spool.c - the durable queue (spool.h): append-only segment files of
 * framed records, a small state file for the delivered position, and the
 * recovery of both on open.
 *
 * docs/spool.md is the reference for the file formats, the order of the
 * fsyncs and the recovery rules; the comments here say why the code keeps
 * the promises made there. One mutex guards everything: each call is a few
 * syscalls, and a single lock keeps "state file durable, then segments
 * deleted" trivially ordered against a concurrent append. */
#include "spool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/random.h>

#include "base/file_io.h"
#include "base/log.h"

/* ---- in-memory lists ---------------------------------------------------- */

struct entry *spool_q_at(const struct spool *s, size_t i)
{
    return &s->q[s->q_head + i];
}

/* Room for one more entry, made before the record is written: a record
 * durable on disk but missing from the queue would wait for the next open. */
static int q_reserve(struct spool *s)
{
    if (s->q_head + s->q_len < s->q_cap)
        return 0;
    if (s->q_head >= s->q_cap / 2 && s->q_head > 0) {
        memmove(s->q, s->q + s->q_head, s->q_len * sizeof(*s->q));
        s->q_head = 0;
        return 0;
    }
    size_t cap = s->q_cap ? s->q_cap * 2 : 64;
    struct entry *q = realloc(s->q, cap * sizeof(*q));
    if (!q)
        return ENOMEM;
    s->q = q;
    s->q_cap = cap;
    return 0;
}

int spool_q_push(struct spool *s, const struct entry *e)
{
    int rc = q_reserve(s);
    if (rc)
        return rc;
    *spool_q_at(s, s->q_len++) = *e;
    s->q_bytes += e->size;
    return 0;
}

static void q_drop_upto(struct spool *s, uint64_t seq)
{
    while (s->q_len && spool_q_at(s, 0)->seq <= seq) {
        s->q_bytes -= spool_q_at(s, 0)->size;
        s->q_head++;
        s->q_len--;
    }
    if (!s->q_len)
        s->q_head = 0;
}

int spool_segs_reserve(struct spool *s)
{
    if (s->nsegs < s->segs_cap)
        return 0;
    size_t cap = s->segs_cap ? s->segs_cap * 2 : 16;
    struct segment *g = realloc(s->segs, cap * sizeof(*g));
    if (!g)
        return ENOMEM;
    s->segs = g;
    s->segs_cap = cap;
    return 0;
}

/* The highest sequence number segment i can hold: a segment is started at
 * the next sequence number, so the one after it bounds it. */
uint64_t spool_seg_bound(const struct spool *s, size_t i)
{
    const struct segment *g = &s->segs[i];
    if (i + 1 < s->nsegs)
        return s->segs[i + 1].first - 1;
    if (g->last)
        return g->last;
    return g->first ? g->first - 1 : 0;
}

static bool is_active(const struct spool *s, uint64_t first)
{
    return s->active_fd >= 0 && s->nsegs && s->segs[s->nsegs - 1].first == first;
}

/* Write temp, fsync, rename, fsync the directory: after a power cut the
 * file is either the old position or the new one, never half of each. */
static int state_write(struct spool *s, uint64_t delivered, int *e_out, char *err, size_t errlen)
{
    char line[96];
    int n = spool_state_line(s, delivered, line, sizeof(line));
    const char *what = "cannot write";
    int e = 0, fd = openat(s->dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = errno;
        what = "cannot create";
    } else {
        ssize_t w = pwrite(fd, line, (size_t)n, 0);
        e = w < 0 ? errno : w != n ? ENOSPC : 0;
        if (!e && fsync(fd) != 0)
            e = errno;
        if (close(fd) != 0 && !e)
            e = errno;
    }
    if (!e && renameat(s->dirfd, STATE_TMP, s->dirfd, STATE_NAME) != 0) {
        e = errno;
        what = "cannot rename";
    }
    if (e) {
        (void)unlinkat(s->dirfd, STATE_TMP, 0); /* an empty leftover takes a block of a full disk */
        *e_out = e;
        return spool_io_fail(err, errlen, e, what, s->dir, STATE_TMP);
    }
    if (fsync(s->dirfd) != 0) {
        *e_out = errno;
        return spool_io_fail(err, errlen, errno, "cannot sync", s->dir, NULL);
    }
    return 0;
}

/* ---- deleting delivered segments ----------------------------------------- */

static void drop_read_fd(struct spool *s)
{
    spool_close_quietly(s->read_fd);
    s->read_fd = -1;
}

static int delete_segment(struct spool *s, size_t i)
{
    char name[SEG_NAME_LEN + 1];
    spool_seg_name(name, s->segs[i].first);
    if (is_active(s, s->segs[i].first)) {
        spool_close_quietly(s->active_fd);
        s->active_fd = -1;
        s->active_size = 0;
    }
    if (s->read_fd >= 0 && s->read_first == s->segs[i].first)
        drop_read_fd(s);
    if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT) {
        log_msg(LOG_WARNING, "spool: cannot delete the delivered segment %s/%s: %s; retrying after the next ack",
                s->dir, name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Deletes the segments that hold nothing undelivered. The unlinks are not
 * synced: a deleted segment that comes back after a power cut holds only
 * delivered records and is deleted again at the next open. */
void spool_delete_delivered(struct spool *s)
{
    size_t k = 0;
    while (k < s->nsegs && spool_seg_bound(s, k) <= s->delivered && delete_segment(s, k) == 0)
        k++;
    if (k == 0)
        return;
    memmove(s->segs, s->segs + k, (s->nsegs - k) * sizeof(*s->segs));
    s->nsegs -= k;
}

/* Deletes the segments whose every record is at most seq, before the state
 * file says so: on a full disk nothing else frees the block it needs. Safe:
 * the service has every one of them; after a power cut the state file
 * still names an older position, and the records it would send again are
 * gone with their files, which the recovery takes as delivered. */
static void free_delivered_early(struct spool *s, uint64_t seq)
{
    uint64_t delivered = s->delivered;
    s->delivered = seq;
    spool_delete_delivered(s);
    s->delivered = delivered;
}

/* The state file first, durably; only then the records and the files go.
 * A full disk gets the reserve, then the delivered segments, to make room. */
int spool_ack_locked(struct spool *s, uint64_t seq, char *err, size_t errlen)
{
    if (seq <= s->delivered)
        return 0;
    if (seq >= s->next_seq)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen,
                    "spool %s: cannot ack record %" PRIu64 ": the last record is %" PRIu64, s->dir, seq,
                    s->next_seq - 1);
    int e = 0, rc = state_write(s, seq, &e, err, errlen);
    if (rc && (e == ENOSPC || e == EDQUOT) && spool_reserve_release(s))
        rc = state_write(s, seq, &e, err, errlen);
    if (rc && (e == ENOSPC || e == EDQUOT)) {
        free_delivered_early(s, seq);
        rc = state_write(s, seq, &e, err, errlen);
    }
    if (rc)
        return rc;
    s->delivered = seq;
    q_drop_upto(s, seq);
    spool_delete_delivered(s);
    spool_reserve_keep(s); /* after a full disk, once there is room again */
    return 0;
}

/* ---- opening ------------------------------------------------------------- */

static int check_opts(const struct spool_opts *o, char *err, size_t errlen)
{
    if (!o || !o->dir || !o->dir[0])
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no directory given");
    if (strlen(o->dir) > 3000)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: the directory path is too long");
    if (o->max_bytes == 0)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool %s: max_bytes is 0: give the most bytes to keep queued",
                    o->dir);
    if (o->max_age_s < 0)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool %s: max_age_s is negative (0 means no age limit)", o->dir);
    if (o->segment_bytes > SEG_BYTES_MAX)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool %s: segment_bytes above %u", o->dir, SEG_BYTES_MAX);
    return 0;
}

static struct spool *spool_new(const struct spool_opts *o)
{
    struct spool *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->dirfd = s->active_fd = s->read_fd = s->dead_fd = -1;
    mbedtls_gcm_init(&s->gcm);
    s->dir = strdup(o->dir);
    s->wbuf = malloc(REC_MAX);
    s->rbuf = malloc(REC_MAX);
    s->batch = malloc(BATCH_CAP);
    if (!s->dir || !s->wbuf || !s->rbuf || !s->batch || pthread_mutex_init(&s->lock, NULL) != 0) {
        spool_close(s);
        return NULL;
    }
    s->lock_ready = true;
    s->max_bytes = o->max_bytes;
    s->seg_bytes = o->segment_bytes ? o->segment_bytes : SEG_BYTES_DEFAULT;
    s->max_age_s = o->max_age_s;
    s->next_seq = 1;
    spool_crc_init(s->crc);
    return s;
}

static int open_dir(struct spool *s, char *err, size_t errlen)
{
    if (mkdir(s->dir, 0700) == 0) {
        int rc = spool_sync_parent(s->dir, err, errlen);
        if (rc)
            return rc;
    } else if (errno != EEXIST) {
        return spool_io_fail(err, errlen, errno, "cannot create the spool directory", s->dir, NULL);
    }
    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0)
        return spool_io_fail(err, errlen, errno, "cannot open the spool directory", s->dir, NULL);
    if (flock(s->dirfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return spool_fail(SPOOL_ERR_IO, err, errlen,
                        "spool directory %s is in use by another process: is a second cccd-reader running?", s->dir);
        return spool_io_fail(err, errlen, errno, "cannot lock the spool directory", s->dir, NULL);
    }
    /* Refuse now rather than at the first check-in. */
    if (faccessat(AT_FDCWD, s->dir, W_OK | X_OK, AT_EACCESS) != 0)
        return spool_io_fail(err, errlen, errno, "cannot write in the spool directory", s->dir, NULL);
    return 0;
}

/* Read from /proc/locks: probing by taking the lock, even for a moment,
 * would make a service starting at that instant find its spool in use and
 * stop (doctor did). */
bool spool_in_use(const char *dir)
{
    struct stat st;
    FILE *f = stat(dir, &st) == 0 ? fopen("/proc/locks", "re") : NULL;
    if (!f)
        return false;
    char line[256];
    bool held = false;
    while (!held && fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "FLOCK");
        unsigned maj, min;
        unsigned long long ino;
        if (p && sscanf(p, "FLOCK %*s %*s %*d %x:%x:%llu", &maj, &min, &ino) == 3)
            held = maj == major(st.st_dev) && min == minor(st.st_dev) && ino == (unsigned long long)st.st_ino;
    }
    fclose(f);
    return held;
}

int spool_open(struct spool **out, const struct spool_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    int rc = check_opts(opts, err, errlen);
    if (rc)
        return rc;
    struct spool *s = spool_new(opts);
    if (!s)
        return spool_io_fail(err, errlen, ENOMEM, "cannot open the spool", opts->dir, NULL);
    if (opts->key) {
        s->sealed = true;
        if (mbedtls_gcm_setkey(&s->gcm, MBEDTLS_CIPHER_ID_AES, opts->key, SPOOL_KEY_LEN * 8) != 0)
            rc = spool_fail(SPOOL_ERR_KEY, err, errlen, "spool %s: the key cannot be used for AES-256-GCM", opts->dir);
    }
    if (!rc)
        rc = open_dir(s, err, errlen);
    if (!rc)
        rc = spool_recover(s, err, errlen);
    if (!rc)
        spool_reserve_keep(s);
    if (rc) {
        spool_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void spool_close(struct spool *s)
{
    if (!s)
        return;
    spool_close_quietly(s->active_fd);
    spool_close_quietly(s->read_fd);
    spool_close_quietly(s->dead_fd);
    spool_close_quietly(s->dirfd); /* releases the flock */
    mbedtls_gcm_free(&s->gcm);
    if (s->lock_ready)
        pthread_mutex_destroy(&s->lock);
    free(s->q);
    free(s->segs);
    free(s->wbuf);
    free(s->rbuf);
    free(s->batch);
    free(s->dir);
    free(s);
}

/* ---- appending ------------------------------------------------------------ */

/* Starts segment seg-<next seq>.log: created exclusively, and its directory
 * entry synced before any record in it is reported stored. */
static int roll(struct spool *s, char *err, size_t errlen)
{
    char name[SEG_NAME_LEN + 1];
    spool_seg_name(name, s->next_seq);
    if (spool_segs_reserve(s) != 0)
        return spool_io_fail(err, errlen, ENOMEM, "cannot start", s->dir, name);
    int fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return spool_io_fail(err, errlen, errno, "cannot create", s->dir, name);
    if (fsync(s->dirfd) != 0) {
        int e = errno;
        spool_close_quietly(fd);
        /* An empty segment left behind is harmless: recovery reads it as empty. */
        (void)unlinkat(s->dirfd, name, 0);
        return spool_io_fail(err, errlen, e, "cannot sync", s->dir, NULL);
    }
    spool_close_quietly(s->active_fd);
    s->active_fd = fd;
    s->active_size = 0;
    s->segs[s->nsegs++] = (struct segment){ .first = s->next_seq };
    return 0;
}

static int seal(struct spool *s, unsigned char *r, const void *data, size_t len, char *err, size_t errlen)
{
    unsigned char *nonce = r + HDR_LEN, *ct = nonce + NONCE_LEN;
    ssize_t n;
    do
        n = getrandom(nonce, NONCE_LEN, 0);
    while (n < 0 && errno == EINTR);
    if (n != NONCE_LEN)
        return spool_fail(SPOOL_ERR_IO, err, errlen, "spool: no random numbers from the kernel (getrandom: %s)",
                    strerror(n < 0 ? errno : EAGAIN));
    /* The header is authenticated too: a record cannot be moved to another
     * sequence number or append time unnoticed. */
    if (mbedtls_gcm_crypt_and_tag(&s->gcm, MBEDTLS_GCM_ENCRYPT, len, nonce, NONCE_LEN, r + 4, HDR_LEN - 4, data, ct,
                                  TAG_LEN, ct + len) != 0)
        return spool_fail(SPOOL_ERR_KEY, err, errlen, "spool %s: encryption failed", s->dir);
    return 0;
}

/* Frames the record in wbuf; returns its size or a status. */
static int build_record(struct spool *s, const void *data, size_t len, char *err, size_t errlen)
{
    size_t body = len + (s->sealed ? SEAL_LEN : 0);
    spool_frame_header(s->wbuf, s->sealed ? FLAG_SEALED : 0, body, s->next_seq, (int64_t)time(NULL));
    if (s->sealed) {
        int rc = seal(s, s->wbuf, data, len, err, errlen);
        if (rc)
            return rc;
    } else if (len) {
        memcpy(s->wbuf + HDR_LEN, data, len);
    }
    return (int)spool_frame_finish(s, s->wbuf, body);
}

static int make_room(struct spool *s, size_t size, char *err, size_t errlen)
{
    if (s->q_bytes + size <= s->max_bytes)
        return 0;
    int rc = spool_expire(s, err, errlen);
    if (rc)
        return rc;
    if (s->q_bytes + size <= s->max_bytes)
        return 0;
    return spool_fail(SPOOL_ERR_FULL, err, errlen,
                "spool %s is full: %zu undelivered records take %" PRIu64 " of %" PRIu64
                " bytes; the record was NOT stored: check the connection to the hospital so the queue drains",
                s->dir, s->q_len, s->q_bytes, s->max_bytes);
}

/* After a failed write that could not be undone the file's end is unknown:
 * the next append starts a new segment past the sequence number the failed
 * record may hold on disk. */
static void retire_active(struct spool *s)
{
    spool_close_quietly(s->active_fd);
    s->active_fd = -1;
    s->next_seq++;
}

static int append_locked(struct spool *s, const void *data, size_t len, uint64_t *seq, char *err, size_t errlen)
{
    size_t size = FRAME_LEN + len + (s->sealed ? SEAL_LEN : 0);
    int rc = spool_check_active(s, err, errlen);
    if (!rc)
        rc = make_room(s, size, err, errlen);
    if (rc)
        return rc;
    if (q_reserve(s) != 0)
        return spool_io_fail(err, errlen, ENOMEM, "cannot queue a record in", s->dir, NULL);
    if (s->active_fd < 0 || (s->active_size > 0 && s->active_size + size > s->seg_bytes))
        rc = roll(s, err, errlen);
    if (rc)
        return rc;
    rc = build_record(s, data, len, err, errlen);
    if (rc < 0)
        return rc;
    struct segment *g = &s->segs[s->nsegs - 1];
    bool broken;
    int e = spool_write_durably(s->active_fd, s->active_size, s->wbuf, size, &broken);
    if (e) {
        if (broken)
            retire_active(s);
        char name[SEG_NAME_LEN + 1];
        spool_seg_name(name, g->first);
        return spool_io_fail(err, errlen, e, "cannot store a record in", s->dir, name);
    }
    struct entry ent = { .seq = s->next_seq, .seg = g->first, .off = s->active_size,
                         .time = (int64_t)spool_get64(s->wbuf + 20), .size = (uint32_t)size };
    spool_q_push(s, &ent); /* cannot fail: reserved above */
    g->last = s->next_seq++;
    s->active_size += size;
    if (seq)
        *seq = ent.seq;
    return 0;
}

int spool_append(struct spool *s, const void *data, size_t len, uint64_t *seq, char *err, size_t errlen)
{
    if (len > SPOOL_RECORD_MAX)
        return spool_fail(SPOOL_ERR_TOO_BIG, err, errlen, "spool: a record of %zu bytes is above the limit of %d", len,
                    SPOOL_RECORD_MAX);
    if (!s || (len && !data))
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no spool or no data");
    pthread_mutex_lock(&s->lock);
    int rc = append_locked(s, data, len, seq, err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- reading ---------------------------------------------------------------- */

static int seg_fd(struct spool *s, uint64_t first, char *err, size_t errlen)
{
    if (is_active(s, first))
        return s->active_fd;
    if (s->read_fd >= 0 && s->read_first == first)
        return s->read_fd;
    drop_read_fd(s);
    char name[SEG_NAME_LEN + 1];
    spool_seg_name(name, first);
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return spool_io_fail(err, errlen, errno, "cannot open", s->dir, name);
    s->read_fd = fd;
    s->read_first = first;
    return fd;
}

/* Reads record e into rbuf: 0 when intact, 1 when the bytes on disk are no
 * longer that record (damaged since open), or a status. */
int spool_read_entry(struct spool *s, const struct entry *e, struct record_frame *f, char *err, size_t errlen)
{
    int fd = seg_fd(s, e->seg, err, errlen);
    if (fd < 0)
        return fd;
    ssize_t r = file_read_full(fd, s->rbuf, e->size, (int64_t)e->off);
    if (r < 0) {
        char name[SEG_NAME_LEN + 1];
        spool_seg_name(name, e->seg);
        return spool_io_fail(err, errlen, errno, "cannot read", s->dir, name);
    }
    s->rlen = (size_t)r;
    size_t n = spool_frame_parse(s, s->rbuf, s->rlen, false, f);
    return n == e->size && f->seq == e->seq ? 0 : 1;
}

static int too_small(char *err, size_t errlen, uint64_t seq, size_t need, size_t cap)
{
    return spool_fail(SPOOL_ERR_TOO_BIG, err, errlen, "spool: record %" PRIu64 " needs %zu bytes, the buffer has %zu", seq,
                need, cap);
}

/* The payload of the intact record in rbuf, opened with the key if sealed. */
static int open_payload(struct spool *s, const struct entry *e, const struct record_frame *f, void *buf, size_t cap,
                        size_t *len, char *err, size_t errlen)
{
    if (!(f->flags & FLAG_SEALED)) {
        *len = f->len;
        if (cap < f->len)
            return too_small(err, errlen, e->seq, f->len, cap);
        if (f->len)
            memcpy(buf, f->body, f->len);
        return 0;
    }
    size_t plain = f->len - SEAL_LEN;
    *len = plain;
    char name[SEG_NAME_LEN + 1];
    spool_seg_name(name, e->seg);
    if (!s->sealed)
        return spool_fail(SPOOL_ERR_KEY, err, errlen,
                    "spool: record %" PRIu64 " in %s/%s is encrypted and no key is configured: "
                    "configure the key file it was written with; the record is kept",
                    e->seq, s->dir, name);
    if (cap < plain)
        return too_small(err, errlen, e->seq, plain, cap);
    if (mbedtls_gcm_auth_decrypt(&s->gcm, plain, f->body, NONCE_LEN, s->rbuf + 4, HDR_LEN - 4,
                                 f->body + NONCE_LEN + plain, TAG_LEN, f->body + NONCE_LEN, buf) != 0)
        return spool_fail(SPOOL_ERR_KEY, err, errlen,
                    "spool: record %" PRIu64 " in %s/%s fails authentication: the key is not the one it was "
                    "written with (wrong key file?); the record is kept",
                    e->seq, s->dir, name);
    return 0;
}

/* ---- peek, ack, stats ----------------------------------------------------------- */

static int peek_locked(struct spool *s, uint64_t *seq, void *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
    int rc = spool_check_active(s, err, errlen);
    if (!rc)
        rc = spool_expire(s, err, errlen);
    while (!rc) {
        if (!s->q_len)
            return spool_fail(SPOOL_ERR_EMPTY, err, errlen, "spool: nothing to deliver");
        const struct entry *e = spool_q_at(s, 0);
        struct record_frame f;
        rc = spool_read_entry(s, e, &f, err, errlen);
        if (rc == 1) { /* damaged since open: set aside, never delivered as garbage */
            rc = spool_set_aside(s, 1, "corrupt", err, errlen);
            continue;
        }
        if (rc)
            break;
        *seq = e->seq;
        return open_payload(s, e, &f, buf, cap, len, err, errlen);
    }
    return rc;
}

int spool_peek(struct spool *s, uint64_t *seq, void *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
    if (!s || !seq || !len || (cap && !buf))
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: peek without a spool or a buffer");
    pthread_mutex_lock(&s->lock);
    int rc = peek_locked(s, seq, buf, cap, len, err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int spool_ack(struct spool *s, uint64_t seq, char *err, size_t errlen)
{
    if (!s)
        return spool_fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no spool");
    pthread_mutex_lock(&s->lock);
    int rc = spool_ack_locked(s, seq, err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void spool_get_stats(struct spool *s, struct spool_stats *st)
{
    *st = (struct spool_stats){ 0 };
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    *st = (struct spool_stats){
        .records = s->q_len,
        .bytes = s->q_bytes,
        .oldest_unix = s->q_len ? spool_q_at(s, 0)->time : 0,
        .dead_letters = s->dead_letters,
        .torn_bytes_cut = s->torn,
    };
    pthread_mutex_unlock(&s->lock);
}
