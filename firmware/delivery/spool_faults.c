/* spool_faults.c - the disk under the spool misbehaving while it runs.
 *
 * Two faults a terminal meets in the field, each handled so that nothing the
 * desk heard "accepted" for is lost:
 *   - the active segment file deleted or replaced under the running spool
 *     (a technician "cleaning up", a restore from a backup): the open
 *     descriptor still holds every record, so the file is written back from
 *     it before the next record is stored or delivered;
 *   - the disk full: the state file cannot be replaced, so nothing delivered
 *     can be deleted and the queue cannot free its own space. A small
 *     reserve file, made while there is room, is given up to let the state
 *     file be written; delivered segments are then deleted and the reserve
 *     made again once there is room for it. */
#include "spool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define RESERVE_NAME "reserve"
#define RESERVE_BYTES (64 * 1024)

/* ---- the active segment ---------------------------------------------------- */

/* Copies the first n bytes of the open file from into a new file at name. */
static int write_back(struct spool *s, int from, uint64_t n, const char *name, char *err, size_t errlen)
{
    char tmp[SEG_NAME_LEN + 16];
    snprintf(tmp, sizeof(tmp), "%s.restore", name);
    int fd = openat(s->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return spool_io_fail(err, errlen, errno, "cannot restore the vanished segment as", s->dir, tmp);
    int e = 0;
    for (uint64_t off = 0; off < n && !e;) {
        size_t chunk = n - off > REC_MAX ? REC_MAX : (size_t)(n - off);
        ssize_t r = file_read_full(from, s->rbuf, chunk, (int64_t)off);
        if (r <= 0) {
            e = r < 0 ? errno : EIO;
            break;
        }
        bool broken;
        e = spool_write_durably(fd, off, s->rbuf, (size_t)r, &broken);
        off += (uint64_t)r;
    }
    if (e || renameat(s->dirfd, tmp, s->dirfd, name) != 0 || fsync(s->dirfd) != 0) {
        e = e ? e : errno;
        spool_close_quietly(fd);
        (void)unlinkat(s->dirfd, tmp, 0);
        return spool_io_fail(err, errlen, e, "cannot restore the vanished segment", s->dir, name);
    }
    spool_close_quietly(s->active_fd);
    s->active_fd = fd;
    return 0;
}

int spool_check_active(struct spool *s, char *err, size_t errlen)
{
    if (s->active_fd < 0 || !s->nsegs)
        return 0;
    char name[SEG_NAME_LEN + 1];
    spool_seg_name(name, s->segs[s->nsegs - 1].first);
    struct stat open_st, named;
    if (fstat(s->active_fd, &open_st) != 0)
        return spool_io_fail(err, errlen, errno, "cannot stat", s->dir, name);
    int r = fstatat(s->dirfd, name, &named, AT_SYMLINK_NOFOLLOW);
    if (r == 0 && named.st_dev == open_st.st_dev && named.st_ino == open_st.st_ino)
        return 0;
    if (r != 0 && errno != ENOENT)
        return spool_io_fail(err, errlen, errno, "cannot stat", s->dir, name);
    bool replaced = r == 0;
    if (replaced) { /* kept beside, never deleted: it may be somebody's */
        char aside[SEG_NAME_LEN + 40];
        snprintf(aside, sizeof(aside), "%s.replaced-%lld", name, (long long)time(NULL));
        if (renameat(s->dirfd, name, s->dirfd, aside) != 0)
            return spool_io_fail(err, errlen, errno, "cannot move aside the file that replaced", s->dir, name);
    }
    int rc = write_back(s, s->active_fd, s->active_size, name, err, errlen);
    if (rc == 0)
        log_msg(LOG_ERR,
                "spool: %s/%s was %s while in use: written back from the open file (%" PRIu64 " bytes); no "
                "record lost. Do not delete files in the spool directory while the service runs",
                s->dir, name, replaced ? "replaced by another file (kept beside it as .replaced-*)" : "deleted",
                s->active_size);
    return rc;
}

/* ---- the reserve ------------------------------------------------------------ */

static bool room_for_reserve(struct spool *s)
{
    struct statvfs v;
    return fstatvfs(s->dirfd, &v) == 0 && (uint64_t)v.f_bavail * v.f_frsize >= 4 * (uint64_t)RESERVE_BYTES;
}

void spool_reserve_keep(struct spool *s)
{
    if (s->has_reserve || !room_for_reserve(s))
        return;
    int fd = openat(s->dirfd, RESERVE_NAME, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    /* Real blocks, not a hole: posix_fallocate, so that giving the file up
     * frees what the state file needs. */
    bool ok = posix_fallocate(fd, 0, RESERVE_BYTES) == 0 && fsync(fd) == 0;
    spool_close_quietly(fd);
    if (ok)
        s->has_reserve = true;
    else
        (void)unlinkat(s->dirfd, RESERVE_NAME, 0);
}

bool spool_reserve_release(struct spool *s)
{
    if (!s->has_reserve)
        return false;
    s->has_reserve = false;
    if (unlinkat(s->dirfd, RESERVE_NAME, 0) != 0)
        return false;
    log_msg(LOG_WARNING, "spool: %s: the disk is full: gave up the spool's reserved %d KiB to note deliveries; "
            "free space on that disk (new check-ins are refused until then)", s->dir, RESERVE_BYTES / 1024);
    return true;
}
