/* spool_dead.c - dead letters: records the hospital refused for good, that
 * expired, or that were damaged on disk, set aside in dead.log with the
 * reason, durably, before they leave the queue. */
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
