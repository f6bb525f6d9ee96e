/* spool_recover.c - the spool read back at open: the state file, every
 * segment scanned record by record (CRC, sequence rules), damaged stretches
 * skipped, a torn tail cut, dead.log's end checked. docs/spool.md has the
 * rules; this file says why each one keeps a record rather than lose it. */
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

#include "base/file_io.h"
#include "base/log.h"

/* A damaged or unreadable state file means "nothing delivered": records are
 * delivered again, which the hospital de-duplicates, rather than lost. */
static void state_read(struct spool *s)
{
    char text[96];
    ssize_t n = -1;
    int fd = openat(s->dirfd, STATE_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return;
    if (fd >= 0)
        n = file_read_full(fd, text, sizeof(text), 0);
    spool_close_quietly(fd);
    if (n > 0 && spool_state_parse(s, text, (size_t)n, &s->delivered))
        return;
    s->delivered = 0;
    log_msg(LOG_WARNING,
            "spool: %s/" STATE_NAME " is damaged or unreadable: every stored record will be delivered again "
            "(the hospital de-duplicates them)",
            s->dir);
}

/* ---- recovery ------------------------------------------------------------ */

static size_t scan_one(const struct spool *s, const struct scan *sc, size_t off, struct record_frame *f)
{
    size_t n = spool_frame_parse(s, sc->data + off, sc->size - off, sc->dead, f);
    if (n && !sc->dead && (f->seq <= sc->last || f->seq < sc->lo || f->seq > sc->hi || f->seq > SEQ_MAX))
        return 0;
    return n;
}

/* The next offset after a damaged stretch where an intact record starts,
 * or the file size. A power cut leaves nothing intact after the torn
 * record; anything found means the damage is in the middle (bit rot). */
static size_t resync(const struct spool *s, const struct scan *sc, size_t from)
{
    struct record_frame f;
    while (from < sc->size) {
        const unsigned char *p = memchr(sc->data + from, spool_rec_magic[0], sc->size - from);
        if (!p)
            break;
        from = (size_t)(p - sc->data);
        if (scan_one(s, sc, from, &f))
            return from;
        from++;
    }
    return sc->size;
}

/* Indexes the records of sc from offset off, skipping damaged stretches;
 * sets sc->tail. seg: the segment's first sequence number. */
static int scan_records(struct spool *s, struct scan *sc, size_t off, uint64_t seg, char *err, size_t errlen)
{
    sc->tail = sc->size;
    while (off < sc->size) {
        struct record_frame f;
        size_t n = scan_one(s, sc, off, &f);
        if (!n) {
            size_t next = resync(s, sc, off + 1);
            if (next >= sc->size) {
                sc->tail = off;
                break;
            }
            log_msg(LOG_ERR,
                    "spool: %s/%s: %zu damaged bytes at offset %" PRIu64 " skipped; the records after them are kept",
                    s->dir, sc->name, next - off, sc->base + off);
            off = next;
            continue;
        }
        struct entry e = { .seq = f.seq, .seg = seg, .off = off, .time = f.time, .size = (uint32_t)n };
        if (!sc->dead && f.seq > s->delivered && spool_q_push(s, &e) != 0)
            return spool_io_fail(err, errlen, ENOMEM, "cannot index", s->dir, sc->name);
        sc->last = sc->dead ? 0 : f.seq;
        off += n;
    }
    return 0;
}

/* Cuts the unreadable tail of the file being appended to: a record torn by
 * a power cut was never reported stored, and the next append must follow
 * the last intact record. */
static int cut_tail(struct spool *s, int fd, const struct scan *sc, char *err, size_t errlen)
{
    if (sc->tail == sc->size)
        return 0;
    if (ftruncate(fd, (off_t)(sc->base + sc->tail)) != 0 || fsync(fd) != 0)
        return spool_io_fail(err, errlen, errno, "cannot cut the torn end of", s->dir, sc->name);
    s->torn += sc->size - sc->tail;
    log_msg(LOG_WARNING, "spool: %s/%s: cut %zu bytes at offset %" PRIu64 ": a record torn by a power cut or damaged",
            s->dir, sc->name, sc->size - sc->tail, sc->base + sc->tail);
    return 0;
}

/* Reads, checks and indexes segment i. The last one stays open for
 * appends, its torn end cut; an older one keeps its damaged end (it is
 * never written again), and the segments after it are read as usual. */
static int recover_segment(struct spool *s, size_t i, char *err, size_t errlen)
{
    bool last = i + 1 == s->nsegs;
    char name[SEG_NAME_LEN + 1];
    spool_seg_name(name, s->segs[i].first);
    int fd = openat(s->dirfd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return spool_io_fail(err, errlen, errno, "cannot open", s->dir, name);
    struct scan sc = { .name = name, .lo = s->segs[i].first, .hi = last ? UINT64_MAX : s->segs[i + 1].first - 1 };
    int e = spool_read_file(fd, 0, &sc);
    int rc = e ? spool_io_fail(err, errlen, e, "cannot read", s->dir, name) : scan_records(s, &sc, 0, sc.lo, err, errlen);
    free(sc.data);
    s->segs[i].last = sc.last;
    if (!rc && last)
        rc = cut_tail(s, fd, &sc, err, errlen);
    else if (!rc && sc.tail < sc.size)
        log_msg(LOG_ERR, "spool: %s/%s: %zu damaged bytes at the end from offset %zu; the records before them are kept",
                s->dir, name, sc.size - sc.tail, sc.tail);
    if (rc || !last) {
        spool_close_quietly(fd);
        return rc;
    }
    s->active_fd = fd;
    s->active_size = sc.tail;
    return 0;
}

static int cmp_segs(const void *a, const void *b)
{
    uint64_t x = ((const struct segment *)a)->first, y = ((const struct segment *)b)->first;
    return x < y ? -1 : x > y;
}

static int list_segments(struct spool *s, char *err, size_t errlen)
{
    int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        spool_close_quietly(fd);
        return spool_io_fail(err, errlen, e, "cannot list", s->dir, NULL);
    }
    int e = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            e = errno;
            break;
        }
        struct segment g = { 0 };
        if (!spool_parse_seg_name(de->d_name, &g.first))
            continue;
        if ((e = spool_segs_reserve(s)) != 0)
            break;
        s->segs[s->nsegs++] = g;
    }
    if (closedir(d) != 0 && !e)
        e = errno;
    if (e)
        return spool_io_fail(err, errlen, e, "cannot list", s->dir, NULL);
    if (s->nsegs > 1)
        qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_segs);
    return 0;
}

static int recover_segments(struct spool *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->nsegs; i++) {
        /* Wholly delivered older segments are deleted unread. */
        if (i + 1 < s->nsegs && spool_seg_bound(s, i) <= s->delivered)
            continue;
        int rc = recover_segment(s, i, err, errlen);
        if (rc)
            return rc;
    }
    uint64_t top = s->delivered;
    if (s->nsegs) {
        const struct segment *g = &s->segs[s->nsegs - 1];
        top = g->last > top ? g->last : top;
        top = g->first && g->first - 1 > top ? g->first - 1 : top;
    }
    if (top >= SEQ_MAX)
        return spool_fail(SPOOL_ERR_IO, err, errlen, "spool %s: sequence numbers used up: move the directory away", s->dir);
    s->next_seq = top + 1;
    spool_delete_delivered(s);
    return 0;
}

/* dead.log is appended like a segment and its torn end cut the same way,
 * but it only grows: only its end is read, so opening stays quick and
 * small however many records were ever set aside. */
int spool_dead_recover(struct spool *s, int fd, char *err, size_t errlen)
{
    struct scan sc = { .name = DEAD_NAME, .dead = true };
    int e = spool_read_file(fd, DEAD_WINDOW, &sc);
    /* A window into a longer file starts inside some record. */
    size_t start = !e && sc.base ? resync(s, &sc, 0) : 0;
    bool found = sc.base == 0 || start < sc.size;
    int rc = e ? spool_io_fail(err, errlen, e, "cannot read", s->dir, DEAD_NAME)
               : found ? scan_records(s, &sc, start, 0, err, errlen) : 0;
    free(sc.data);
    if (!rc && found)
        rc = cut_tail(s, fd, &sc, err, errlen);
    else if (!rc)
        log_msg(LOG_ERR, "spool: %s/" DEAD_NAME ": no intact record in its last %d bytes; appending after them",
                s->dir, DEAD_WINDOW);
    if (rc) {
        spool_close_quietly(fd);
        return rc;
    }
    s->dead_fd = fd;
    s->dead_size = sc.base + (found ? sc.tail : sc.size);
    return 0;
}

int spool_recover(struct spool *s, char *err, size_t errlen)
{
    /* A leftover temp file is a state write, or a rewrite of dead.log, that
     * a power cut interrupted: the file it was to replace is intact. */
    static const char *const leftovers[] = { STATE_TMP, DEAD_TMP };
    for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++)
        if (unlinkat(s->dirfd, leftovers[i], 0) != 0 && errno != ENOENT)
            return spool_io_fail(err, errlen, errno, "cannot delete", s->dir, leftovers[i]);
    state_read(s);
    int rc = list_segments(s, err, errlen);
    if (!rc)
        rc = recover_segments(s, err, errlen);
    if (!rc)
        rc = spool_dead_open(s, false, err, errlen);
    return rc;
}
