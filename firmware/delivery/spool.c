/* spool.c - the durable queue (spool.h): append-only segment files of
 * framed records, a small state file for the delivered position, and the
 * recovery of both on open.
 *
 * docs/spool.md is the reference for the file formats, the order of the
 * fsyncs and the recovery rules; the comments here say why the code keeps
 * the promises made there. One mutex guards everything: each call is a few
 * syscalls, and a single lock keeps "state file durable, then segments
 * deleted" trivially ordered against a concurrent append. */

#include "delivery/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/gcm.h>

#include "base/file_io.h"
#include "base/log.h"

#define STATE_NAME "delivered"
#define STATE_TMP "delivered.tmp"
#define DEAD_NAME "dead.log"
#define SEG_NAME_LEN 24 /* "seg-" + 16 hex digits + ".log" */
#define SEG_BYTES_DEFAULT (1u << 20)
#define SEG_BYTES_MAX (1u << 30)
/* Sequence numbers, file names and the state file stay below 2^63: no
 * spool lives to see it, and nothing read from disk can wrap a counter. */
#define SEQ_MAX ((uint64_t)INT64_MAX)

#define FLAG_SEALED 1u /* payload is nonce || AES-256-GCM ciphertext || tag */
#define FLAG_DEAD 2u   /* a dead-letter record (dead.log only) */

enum {
    HDR_LEN = 28, /* magic 4, flags 4, length 4, sequence 8, append time 8 */
    CRC_LEN = 4,
    FRAME_LEN = HDR_LEN + CRC_LEN,
    NONCE_LEN = 12,
    TAG_LEN = 16,
    SEAL_LEN = NONCE_LEN + TAG_LEN,
    REASON_MAX = 255,
    DEAD_MIN = 2 + 8, /* reason length, set-aside time */
    /* A corrupt record goes to dead.log as the raw bytes read, framing and all. */
    BODY_MAX = SPOOL_RECORD_MAX + SEAL_LEN + DEAD_MIN + REASON_MAX + FRAME_LEN,
    REC_MAX = FRAME_LEN + BODY_MAX,
    BATCH_CAP = 4 * REC_MAX,
    /* Only dead.log's end can be torn, by one batch at most: two batches'
     * worth of its end hold the last intact record before any damage. */
    DEAD_WINDOW = 2 * BATCH_CAP,
};

/* 0xFF never occurs in UTF-8, so no JSON payload can carry a fake record
 * start for the resynchronising scan to trip over; "SPL" shows in hex dumps. */
static const unsigned char rec_magic[4] = { 0xff, 'S', 'P', 'L' };

struct entry { /* one undelivered record */
    uint64_t seq;
    uint64_t seg; /* first sequence number of its segment: the file name */
    uint64_t off;
    int64_t time;
    uint32_t size; /* framing included */
};

struct segment {
    uint64_t first; /* from the file name */
    uint64_t last;  /* highest sequence number read or written in it, 0 if none */
};

struct frame {
    uint32_t flags, len;
    uint64_t seq;
    int64_t time;
    const unsigned char *body;
};

/* One file being recovered, held in memory (dead.log: only its end). */
struct scan {
    const char *name;
    bool dead;       /* dead.log: dead-letter records, no sequence rules */
    uint64_t lo, hi; /* segments: the sequence numbers the file name allows */
    uint64_t base;   /* file offset of data[0] */
    unsigned char *data;
    size_t size;
    uint64_t last; /* highest sequence number found */
    size_t tail;   /* where the unreadable tail starts; size when there is none */
};

struct spool {
    pthread_mutex_t lock;
    bool lock_ready;
    char *dir;
    int dirfd; /* holds the flock that keeps a second process out */
    uint64_t max_bytes, seg_bytes;
    int64_t max_age_s;
    bool sealed;
    mbedtls_gcm_context gcm;
    uint32_t crc[256];

    struct entry *q; /* undelivered records, oldest first, from q_head */
    size_t q_head, q_len, q_cap;
    uint64_t q_bytes;
    struct segment *segs; /* segment files in sequence order */
    size_t nsegs, segs_cap;
    int active_fd; /* the last segment, open for appends; -1 when none */
    uint64_t active_size;
    int read_fd; /* the older segment being delivered, kept open between peeks */
    uint64_t read_first;
    int dead_fd;
    uint64_t dead_size;
    uint64_t next_seq, delivered;
    uint64_t dead_letters, torn;

    unsigned char *wbuf;  /* the record being appended */
    unsigned char *rbuf;  /* the record being read */
    size_t rlen;          /* bytes read into rbuf */
    unsigned char *batch; /* dead-letter records on their way to dead.log */
};

/* ---- messages --------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
fail(int status, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

struct hint {
    const char *before, *after; /* around the spool directory */
};

/* What a technician should do about errno e, in words. */
static struct hint hint_for(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return (struct hint){ "disk full: free space on ", "" };
    case EACCES:
    case EPERM:
        return (struct hint){ "the service user must own ", " (chown) with mode 700" };
    case EROFS:
        return (struct hint){ "read-only filesystem: remount ", " read-write" };
    case EIO:
        return (struct hint){ "the storage under ", " may be failing: replace the SD card" };
    case ENOENT:
        return (struct hint){ "check that the directories above ", " exist" };
    case ENOTDIR:
        return (struct hint){ "a part of the path ", " is a file, not a directory" };
    case ENOMEM:
    case EMFILE:
    case ENFILE:
        return (struct hint){ "out of memory or descriptors: restart the service (spool ", ")" };
    default:
        return (struct hint){ "check ", "" };
    }
}

/* "<what> <dir>/<name>: <errno text>; <hint>", always SPOOL_ERR_IO. */
static int io_fail(char *err, size_t errlen, int e, const char *what, const char *dir, const char *name)
{
    char text[128];
    if (strerror_r(e, text, sizeof(text)) != 0)
        snprintf(text, sizeof(text), "error %d", e);
    struct hint h = hint_for(e);
    return fail(SPOOL_ERR_IO, err, errlen, "%s %s%s%s: %s; %s%s%s", what, dir, name ? "/" : "", name ? name : "",
                text, h.before, dir, h.after);
}

/* For descriptors that were only read or whose data is already synced:
 * close() can then report nothing that changes what is on disk. */
static void close_quietly(int fd)
{
    if (fd >= 0)
        (void)close(fd);
}

/* ---- bytes on disk ------------------------------------------------------ */

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* CRC-32C (Castagnoli, reflected), as ext4, btrfs and iSCSI use: it catches
 * more error patterns than zlib's CRC-32 at these record sizes, and a table
 * built at open costs fewer lines than a new library in the build. */
static void crc_init(uint32_t table[256])
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
        table[i] = c;
    }
}

static uint32_t crc32c(const uint32_t table[256], const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--)
        c = table[(c ^ *p++) & 0xffu] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void frame_header(unsigned char *r, uint32_t flags, size_t len, uint64_t seq, int64_t time)
{
    memcpy(r, rec_magic, 4);
    put32(r + 4, flags);
    put32(r + 8, (uint32_t)len);
    put64(r + 12, seq);
    put64(r + 20, (uint64_t)time);
}

/* The CRC covers everything between the magic and itself. Returns the size. */
static size_t frame_finish(const struct spool *s, unsigned char *r, size_t len)
{
    put32(r + HDR_LEN + len, crc32c(s->crc, r + 4, HDR_LEN - 4 + len));
    return FRAME_LEN + len;
}

static bool len_ok(uint32_t flags, uint32_t len)
{
    if (flags & FLAG_DEAD)
        return len >= DEAD_MIN && len <= BODY_MAX;
    if (flags & FLAG_SEALED)
        return len >= SEAL_LEN && len <= SPOOL_RECORD_MAX + SEAL_LEN;
    return len <= SPOOL_RECORD_MAX;
}

/* The size of the intact record at p (avail bytes to the end of the file),
 * or 0. dead: which kind of file it is; a segment never holds a dead letter. */
static size_t frame_parse(const struct spool *s, const unsigned char *p, size_t avail, bool dead, struct frame *f)
{
    if (avail < FRAME_LEN || memcmp(p, rec_magic, 4) != 0)
        return 0;
    f->flags = get32(p + 4);
    f->len = get32(p + 8);
    f->seq = get64(p + 12);
    f->time = (int64_t)get64(p + 20);
    f->body = p + HDR_LEN;
    if ((f->flags & ~(FLAG_SEALED | FLAG_DEAD)) != 0 || !(f->flags & FLAG_DEAD) != !dead)
        return 0;
    if (!len_ok(f->flags, f->len) || f->len > avail - FRAME_LEN)
        return 0;
    if (crc32c(s->crc, p + 4, HDR_LEN - 4 + f->len) != get32(p + HDR_LEN + f->len))
        return 0;
    return FRAME_LEN + f->len;
}

static void seg_name(char out[SEG_NAME_LEN + 1], uint64_t first)
{
    snprintf(out, SEG_NAME_LEN + 1, "seg-%016" PRIx64 ".log", first);
}

static bool parse_seg_name(const char *name, uint64_t *first)
{
    if (strlen(name) != SEG_NAME_LEN || strncmp(name, "seg-", 4) != 0 || strcmp(name + 20, ".log") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 4; i < 20; i++) {
        const char *hex = "0123456789abcdef", *d = name[i] ? strchr(hex, name[i]) : NULL;
        if (!d)
            return false;
        v = v << 4 | (uint64_t)(d - hex);
    }
    *first = v;
    return v <= SEQ_MAX;
}

/* ---- file helpers ------------------------------------------------------- */

/* Writes buf at off with one pwrite and makes it durable; returns 0 or an
 * errno. On failure the file is cut back to off, so a half-written record
 * never sits in front of the next one; *broken says the cut failed too. */
static int write_durably(int fd, uint64_t off, const void *buf, size_t n, bool *broken)
{
    *broken = false;
    ssize_t w;
    do
        w = pwrite(fd, buf, n, (off_t)off);
    while (w < 0 && errno == EINTR);
    /* A short write to a regular file means the disk filled up mid-record. */
    int e = w < 0 ? errno : (size_t)w != n ? ENOSPC : 0;
    if (!e && fdatasync(fd) != 0)
        e = errno;
    if (!e)
        return 0;
    if (ftruncate(fd, (off_t)off) != 0 || fdatasync(fd) != 0)
        *broken = true;
    return e;
}

/* A new directory entry is durable only once its directory is synced. */
static int sync_parent(const char *dir, char *err, size_t errlen)
{
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof(parent), ".");
    else
        slash[slash == parent ? 1 : 0] = '\0';
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        close_quietly(fd);
        return io_fail(err, errlen, e, "cannot sync the directory holding", dir, NULL);
    }
    close_quietly(fd);
    return 0;
}

/* The file into sc->data (malloc'd: free it): all of it, or with window
 * set only its last window bytes. Returns 0 or an errno. */
static int read_file(int fd, uint64_t window, struct scan *sc)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    uint64_t size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    sc->base = window && size > window ? size - window : 0;
    if (size - sc->base > (uint64_t)SEG_BYTES_MAX * 2)
        return EFBIG;
    sc->data = malloc((size_t)(size - sc->base) + 1);
    if (!sc->data)
        return ENOMEM;
    ssize_t r = file_read_full(fd, sc->data, (size_t)(size - sc->base), (int64_t)sc->base);
    if (r < 0)
        return errno;
    sc->size = (size_t)r;
    return 0;
}

/* ---- in-memory lists ---------------------------------------------------- */

static struct entry *q_at(const struct spool *s, size_t i)
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

static int q_push(struct spool *s, const struct entry *e)
{
    int rc = q_reserve(s);
    if (rc)
        return rc;
    *q_at(s, s->q_len++) = *e;
    s->q_bytes += e->size;
    return 0;
}

static void q_drop_upto(struct spool *s, uint64_t seq)
{
    while (s->q_len && q_at(s, 0)->seq <= seq) {
        s->q_bytes -= q_at(s, 0)->size;
        s->q_head++;
        s->q_len--;
    }
    if (!s->q_len)
        s->q_head = 0;
}

static int segs_reserve(struct spool *s)
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
static uint64_t seg_bound(const struct spool *s, size_t i)
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

/* ---- the state file ----------------------------------------------------- */

/* "cccd-spool 1 delivered=<seq> crc32c=<8 hex>\n": readable by a person,
 * checked by the CRC of the text before " crc32c=". */
static int state_line(const struct spool *s, uint64_t delivered, char *out, size_t cap)
{
    int n = snprintf(out, cap, "cccd-spool 1 delivered=%" PRIu64, delivered);
    uint32_t c = crc32c(s->crc, (const unsigned char *)out, (size_t)n);
    return n + snprintf(out + n, cap - (size_t)n, " crc32c=%08" PRIx32 "\n", c);
}

/* The file's value, or false when it is not exactly a line state_line makes. */
static bool state_parse(const struct spool *s, const char *text, size_t n, uint64_t *delivered)
{
    const char *key = "cccd-spool 1 delivered=";
    size_t k = strlen(key);
    if (n <= k || memcmp(text, key, k) != 0 || text[k] < '0' || text[k] > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(text + k, NULL, 10);
    if (errno || v > SEQ_MAX)
        return false;
    char again[96];
    int m = state_line(s, (uint64_t)v, again, sizeof(again));
    if ((size_t)m != n || memcmp(again, text, n) != 0)
        return false;
    *delivered = (uint64_t)v;
    return true;
}

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
    close_quietly(fd);
    if (n > 0 && state_parse(s, text, (size_t)n, &s->delivered))
        return;
    s->delivered = 0;
    log_msg(LOG_WARNING,
            "spool: %s/" STATE_NAME " is damaged or unreadable: every stored record will be delivered again "
            "(the hospital de-duplicates them)",
            s->dir);
}

/* Write temp, fsync, rename, fsync the directory: after a power cut the
 * file is either the old position or the new one, never half of each. */
static int state_write(struct spool *s, uint64_t delivered, char *err, size_t errlen)
{
    char line[96];
    int n = state_line(s, delivered, line, sizeof(line));
    int fd = openat(s->dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_fail(err, errlen, errno, "cannot create", s->dir, STATE_TMP);
    ssize_t w = pwrite(fd, line, (size_t)n, 0);
    int e = w < 0 ? errno : w != n ? ENOSPC : 0;
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (e)
        return io_fail(err, errlen, e, "cannot write", s->dir, STATE_TMP);
    if (renameat(s->dirfd, STATE_TMP, s->dirfd, STATE_NAME) != 0)
        return io_fail(err, errlen, errno, "cannot rename", s->dir, STATE_TMP);
    if (fsync(s->dirfd) != 0)
        return io_fail(err, errlen, errno, "cannot sync", s->dir, NULL);
    return 0;
}

/* ---- deleting delivered segments ----------------------------------------- */

static void drop_read_fd(struct spool *s)
{
    close_quietly(s->read_fd);
    s->read_fd = -1;
}

static int delete_segment(struct spool *s, size_t i)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(name, s->segs[i].first);
    if (is_active(s, s->segs[i].first)) {
        close_quietly(s->active_fd);
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
static void delete_delivered(struct spool *s)
{
    size_t k = 0;
    while (k < s->nsegs && seg_bound(s, k) <= s->delivered && delete_segment(s, k) == 0)
        k++;
    if (k == 0)
        return;
    memmove(s->segs, s->segs + k, (s->nsegs - k) * sizeof(*s->segs));
    s->nsegs -= k;
}

/* The state file first, durably; only then the records and the files go. */
static int ack_locked(struct spool *s, uint64_t seq, char *err, size_t errlen)
{
    if (seq <= s->delivered)
        return 0;
    if (seq >= s->next_seq)
        return fail(SPOOL_ERR_CONFIG, err, errlen,
                    "spool %s: cannot ack record %" PRIu64 ": the last record is %" PRIu64, s->dir, seq,
                    s->next_seq - 1);
    int rc = state_write(s, seq, err, errlen);
    if (rc)
        return rc;
    s->delivered = seq;
    q_drop_upto(s, seq);
    delete_delivered(s);
    return 0;
}

/* ---- recovery ------------------------------------------------------------ */

static size_t scan_one(const struct spool *s, const struct scan *sc, size_t off, struct frame *f)
{
    size_t n = frame_parse(s, sc->data + off, sc->size - off, sc->dead, f);
    if (n && !sc->dead && (f->seq <= sc->last || f->seq < sc->lo || f->seq > sc->hi || f->seq > SEQ_MAX))
        return 0;
    return n;
}

/* The next offset after a damaged stretch where an intact record starts,
 * or the file size. A power cut leaves nothing intact after the torn
 * record; anything found means the damage is in the middle (bit rot). */
static size_t resync(const struct spool *s, const struct scan *sc, size_t from)
{
    struct frame f;
    while (from < sc->size) {
        const unsigned char *p = memchr(sc->data + from, rec_magic[0], sc->size - from);
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
        struct frame f;
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
        if (!sc->dead && f.seq > s->delivered && q_push(s, &e) != 0)
            return io_fail(err, errlen, ENOMEM, "cannot index", s->dir, sc->name);
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
        return io_fail(err, errlen, errno, "cannot cut the torn end of", s->dir, sc->name);
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
    seg_name(name, s->segs[i].first);
    int fd = openat(s->dirfd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, errlen, errno, "cannot open", s->dir, name);
    struct scan sc = { .name = name, .lo = s->segs[i].first, .hi = last ? UINT64_MAX : s->segs[i + 1].first - 1 };
    int e = read_file(fd, 0, &sc);
    int rc = e ? io_fail(err, errlen, e, "cannot read", s->dir, name) : scan_records(s, &sc, 0, sc.lo, err, errlen);
    free(sc.data);
    s->segs[i].last = sc.last;
    if (!rc && last)
        rc = cut_tail(s, fd, &sc, err, errlen);
    else if (!rc && sc.tail < sc.size)
        log_msg(LOG_ERR, "spool: %s/%s: %zu damaged bytes at the end from offset %zu; the records before them are kept",
                s->dir, name, sc.size - sc.tail, sc.tail);
    if (rc || !last) {
        close_quietly(fd);
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
        close_quietly(fd);
        return io_fail(err, errlen, e, "cannot list", s->dir, NULL);
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
        if (!parse_seg_name(de->d_name, &g.first))
            continue;
        if ((e = segs_reserve(s)) != 0)
            break;
        s->segs[s->nsegs++] = g;
    }
    if (closedir(d) != 0 && !e)
        e = errno;
    if (e)
        return io_fail(err, errlen, e, "cannot list", s->dir, NULL);
    if (s->nsegs > 1)
        qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_segs);
    return 0;
}

static int recover_segments(struct spool *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->nsegs; i++) {
        /* Wholly delivered older segments are deleted unread. */
        if (i + 1 < s->nsegs && seg_bound(s, i) <= s->delivered)
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
        return fail(SPOOL_ERR_IO, err, errlen, "spool %s: sequence numbers used up: move the directory away", s->dir);
    s->next_seq = top + 1;
    delete_delivered(s);
    return 0;
}

/* dead.log is appended like a segment and its torn end cut the same way,
 * but it only grows: only its end is read, so opening stays quick and
 * small however many records were ever set aside. */
static int dead_recover(struct spool *s, int fd, char *err, size_t errlen)
{
    struct scan sc = { .name = DEAD_NAME, .dead = true };
    int e = read_file(fd, DEAD_WINDOW, &sc);
    /* A window into a longer file starts inside some record. */
    size_t start = !e && sc.base ? resync(s, &sc, 0) : 0;
    bool found = sc.base == 0 || start < sc.size;
    int rc = e ? io_fail(err, errlen, e, "cannot read", s->dir, DEAD_NAME)
               : found ? scan_records(s, &sc, start, 0, err, errlen) : 0;
    free(sc.data);
    if (!rc && found)
        rc = cut_tail(s, fd, &sc, err, errlen);
    else if (!rc)
        log_msg(LOG_ERR, "spool: %s/" DEAD_NAME ": no intact record in its last %d bytes; appending after them",
                s->dir, DEAD_WINDOW);
    if (rc) {
        close_quietly(fd);
        return rc;
    }
    s->dead_fd = fd;
    s->dead_size = sc.base + (found ? sc.tail : sc.size);
    return 0;
}

/* Opens dead.log, recovering it when it exists; creates it when asked. */
static int dead_open(struct spool *s, bool create, char *err, size_t errlen)
{
    if (s->dead_fd >= 0)
        return 0;
    int fd = openat(s->dirfd, DEAD_NAME, O_RDWR | O_CLOEXEC);
    if (fd >= 0)
        return dead_recover(s, fd, err, errlen);
    if (errno != ENOENT)
        return io_fail(err, errlen, errno, "cannot open", s->dir, DEAD_NAME);
    if (!create)
        return 0;
    fd = openat(s->dirfd, DEAD_NAME, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_fail(err, errlen, errno, "cannot create", s->dir, DEAD_NAME);
    if (fsync(s->dirfd) != 0) {
        int e = errno;
        close_quietly(fd);
        return io_fail(err, errlen, e, "cannot sync", s->dir, NULL);
    }
    s->dead_fd = fd;
    s->dead_size = 0;
    return 0;
}

static int recover(struct spool *s, char *err, size_t errlen)
{
    /* A leftover temp file is a state write a power cut interrupted. */
    if (unlinkat(s->dirfd, STATE_TMP, 0) != 0 && errno != ENOENT)
        return io_fail(err, errlen, errno, "cannot delete", s->dir, STATE_TMP);
    state_read(s);
    int rc = list_segments(s, err, errlen);
    if (!rc)
        rc = recover_segments(s, err, errlen);
    if (!rc)
        rc = dead_open(s, false, err, errlen);
    return rc;
}

/* ---- opening ------------------------------------------------------------- */

static int check_opts(const struct spool_opts *o, char *err, size_t errlen)
{
    if (!o || !o->dir || !o->dir[0])
        return fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no directory given");
    if (strlen(o->dir) > 3000)
        return fail(SPOOL_ERR_CONFIG, err, errlen, "spool: the directory path is too long");
    if (o->max_bytes == 0)
        return fail(SPOOL_ERR_CONFIG, err, errlen, "spool %s: max_bytes is 0: give the most bytes to keep queued",
                    o->dir);
    if (o->max_age_s < 0)
        return fail(SPOOL_ERR_CONFIG, err, errlen, "spool %s: max_age_s is negative (0 means no age limit)", o->dir);
    if (o->segment_bytes > SEG_BYTES_MAX)
        return fail(SPOOL_ERR_CONFIG, err, errlen, "spool %s: segment_bytes above %u", o->dir, SEG_BYTES_MAX);
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
    crc_init(s->crc);
    return s;
}

static int open_dir(struct spool *s, char *err, size_t errlen)
{
    if (mkdir(s->dir, 0700) == 0) {
        int rc = sync_parent(s->dir, err, errlen);
        if (rc)
            return rc;
    } else if (errno != EEXIST) {
        return io_fail(err, errlen, errno, "cannot create the spool directory", s->dir, NULL);
    }
    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0)
        return io_fail(err, errlen, errno, "cannot open the spool directory", s->dir, NULL);
    if (flock(s->dirfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return fail(SPOOL_ERR_IO, err, errlen,
                        "spool directory %s is in use by another process: is a second cccd-reader running?", s->dir);
        return io_fail(err, errlen, errno, "cannot lock the spool directory", s->dir, NULL);
    }
    /* Refuse now rather than at the first check-in. */
    if (faccessat(AT_FDCWD, s->dir, W_OK | X_OK, AT_EACCESS) != 0)
        return io_fail(err, errlen, errno, "cannot write in the spool directory", s->dir, NULL);
    return 0;
}

int spool_open(struct spool **out, const struct spool_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    int rc = check_opts(opts, err, errlen);
    if (rc)
        return rc;
    struct spool *s = spool_new(opts);
    if (!s)
        return io_fail(err, errlen, ENOMEM, "cannot open the spool", opts->dir, NULL);
    if (opts->key) {
        s->sealed = true;
        if (mbedtls_gcm_setkey(&s->gcm, MBEDTLS_CIPHER_ID_AES, opts->key, SPOOL_KEY_LEN * 8) != 0)
            rc = fail(SPOOL_ERR_KEY, err, errlen, "spool %s: the key cannot be used for AES-256-GCM", opts->dir);
    }
    if (!rc)
        rc = open_dir(s, err, errlen);
    if (!rc)
        rc = recover(s, err, errlen);
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
    close_quietly(s->active_fd);
    close_quietly(s->read_fd);
    close_quietly(s->dead_fd);
    close_quietly(s->dirfd); /* releases the flock */
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
    seg_name(name, s->next_seq);
    if (segs_reserve(s) != 0)
        return io_fail(err, errlen, ENOMEM, "cannot start", s->dir, name);
    int fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_fail(err, errlen, errno, "cannot create", s->dir, name);
    if (fsync(s->dirfd) != 0) {
        int e = errno;
        close_quietly(fd);
        /* An empty segment left behind is harmless: recovery reads it as empty. */
        (void)unlinkat(s->dirfd, name, 0);
        return io_fail(err, errlen, e, "cannot sync", s->dir, NULL);
    }
    close_quietly(s->active_fd);
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
        return fail(SPOOL_ERR_IO, err, errlen, "spool: no random numbers from the kernel (getrandom: %s)",
                    strerror(n < 0 ? errno : EAGAIN));
    /* The header is authenticated too: a record cannot be moved to another
     * sequence number or append time unnoticed. */
    if (mbedtls_gcm_crypt_and_tag(&s->gcm, MBEDTLS_GCM_ENCRYPT, len, nonce, NONCE_LEN, r + 4, HDR_LEN - 4, data, ct,
                                  TAG_LEN, ct + len) != 0)
        return fail(SPOOL_ERR_KEY, err, errlen, "spool %s: encryption failed", s->dir);
    return 0;
}

/* Frames the record in wbuf; returns its size or a status. */
static int build_record(struct spool *s, const void *data, size_t len, char *err, size_t errlen)
{
    size_t body = len + (s->sealed ? SEAL_LEN : 0);
    frame_header(s->wbuf, s->sealed ? FLAG_SEALED : 0, body, s->next_seq, (int64_t)time(NULL));
    if (s->sealed) {
        int rc = seal(s, s->wbuf, data, len, err, errlen);
        if (rc)
            return rc;
    } else if (len) {
        memcpy(s->wbuf + HDR_LEN, data, len);
    }
    return (int)frame_finish(s, s->wbuf, body);
}

static int expire(struct spool *s, char *err, size_t errlen);

static int make_room(struct spool *s, size_t size, char *err, size_t errlen)
{
    if (s->q_bytes + size <= s->max_bytes)
        return 0;
    int rc = expire(s, err, errlen);
    if (rc)
        return rc;
    if (s->q_bytes + size <= s->max_bytes)
        return 0;
    return fail(SPOOL_ERR_FULL, err, errlen,
                "spool %s is full: %zu undelivered records take %" PRIu64 " of %" PRIu64
                " bytes; the record was NOT stored: check the connection to the hospital so the queue drains",
                s->dir, s->q_len, s->q_bytes, s->max_bytes);
}

/* After a failed write that could not be undone the file's end is unknown:
 * the next append starts a new segment past the sequence number the failed
 * record may hold on disk. */
static void retire_active(struct spool *s)
{
    close_quietly(s->active_fd);
    s->active_fd = -1;
    s->next_seq++;
}

static int append_locked(struct spool *s, const void *data, size_t len, uint64_t *seq, char *err, size_t errlen)
{
    size_t size = FRAME_LEN + len + (s->sealed ? SEAL_LEN : 0);
    int rc = make_room(s, size, err, errlen);
    if (rc)
        return rc;
    if (q_reserve(s) != 0)
        return io_fail(err, errlen, ENOMEM, "cannot queue a record in", s->dir, NULL);
    if (s->active_fd < 0 || (s->active_size > 0 && s->active_size + size > s->seg_bytes))
        rc = roll(s, err, errlen);
    if (rc)
        return rc;
    rc = build_record(s, data, len, err, errlen);
    if (rc < 0)
        return rc;
    struct segment *g = &s->segs[s->nsegs - 1];
    bool broken;
    int e = write_durably(s->active_fd, s->active_size, s->wbuf, size, &broken);
    if (e) {
        if (broken)
            retire_active(s);
        char name[SEG_NAME_LEN + 1];
        seg_name(name, g->first);
        return io_fail(err, errlen, e, "cannot store a record in", s->dir, name);
    }
    struct entry ent = { .seq = s->next_seq, .seg = g->first, .off = s->active_size,
                         .time = (int64_t)get64(s->wbuf + 20), .size = (uint32_t)size };
    q_push(s, &ent); /* cannot fail: reserved above */
    g->last = s->next_seq++;
    s->active_size += size;
    if (seq)
        *seq = ent.seq;
    return 0;
}

int spool_append(struct spool *s, const void *data, size_t len, uint64_t *seq, char *err, size_t errlen)
{
    if (len > SPOOL_RECORD_MAX)
        return fail(SPOOL_ERR_TOO_BIG, err, errlen, "spool: a record of %zu bytes is above the limit of %d", len,
                    SPOOL_RECORD_MAX);
    if (!s || (len && !data))
        return fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no spool or no data");
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
    seg_name(name, first);
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, errlen, errno, "cannot open", s->dir, name);
    s->read_fd = fd;
    s->read_first = first;
    return fd;
}

/* Reads record e into rbuf: 0 when intact, 1 when the bytes on disk are no
 * longer that record (damaged since open), or a status. */
static int read_entry(struct spool *s, const struct entry *e, struct frame *f, char *err, size_t errlen)
{
    int fd = seg_fd(s, e->seg, err, errlen);
    if (fd < 0)
        return fd;
    ssize_t r = file_read_full(fd, s->rbuf, e->size, (int64_t)e->off);
    if (r < 0) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, e->seg);
        return io_fail(err, errlen, errno, "cannot read", s->dir, name);
    }
    s->rlen = (size_t)r;
    size_t n = frame_parse(s, s->rbuf, s->rlen, false, f);
    return n == e->size && f->seq == e->seq ? 0 : 1;
}

static int too_small(char *err, size_t errlen, uint64_t seq, size_t need, size_t cap)
{
    return fail(SPOOL_ERR_TOO_BIG, err, errlen, "spool: record %" PRIu64 " needs %zu bytes, the buffer has %zu", seq,
                need, cap);
}

/* The payload of the intact record in rbuf, opened with the key if sealed. */
static int open_payload(struct spool *s, const struct entry *e, const struct frame *f, void *buf, size_t cap,
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
    seg_name(name, e->seg);
    if (!s->sealed)
        return fail(SPOOL_ERR_KEY, err, errlen,
                    "spool: record %" PRIu64 " in %s/%s is encrypted and no key is configured: "
                    "configure the key file it was written with; the record is kept",
                    e->seq, s->dir, name);
    if (cap < plain)
        return too_small(err, errlen, e->seq, plain, cap);
    if (mbedtls_gcm_auth_decrypt(&s->gcm, plain, f->body, NONCE_LEN, s->rbuf + 4, HDR_LEN - 4,
                                 f->body + NONCE_LEN + plain, TAG_LEN, f->body + NONCE_LEN, buf) != 0)
        return fail(SPOOL_ERR_KEY, err, errlen,
                    "spool: record %" PRIu64 " in %s/%s fails authentication: the key is not the one it was "
                    "written with (wrong key file?); the record is kept",
                    e->seq, s->dir, name);
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
    struct frame f;
    int rc = read_entry(s, e, &f, err, errlen);
    if (rc < 0)
        return rc;
    const unsigned char *stored = rc ? s->rbuf : f.body;
    size_t n = rc ? s->rlen : f.len;
    char why[REASON_MAX + 1];
    size_t rl = clean_reason(rc ? "corrupt" : reason, why);
    size_t len = DEAD_MIN + rl + n;
    frame_header(out, FLAG_DEAD | (rc ? 0 : f.flags & FLAG_SEALED), len, e->seq, e->time);
    unsigned char *b = out + HDR_LEN;
    put16(b, (uint16_t)rl);
    memcpy(b + 2, why, rl);
    put64(b + 2 + rl, (uint64_t)now);
    if (n)
        memcpy(b + DEAD_MIN + rl, stored, n);
    return (int)frame_finish(s, out, len);
}

static int dead_write(struct spool *s, size_t len, char *err, size_t errlen)
{
    if (!len)
        return 0;
    int rc = dead_open(s, true, err, errlen);
    if (rc)
        return rc;
    bool broken;
    int e = write_durably(s->dead_fd, s->dead_size, s->batch, len, &broken);
    if (!e) {
        s->dead_size += len;
        return 0;
    }
    if (broken) { /* reopened (and its end recovered) at the next dead letter */
        close_quietly(s->dead_fd);
        s->dead_fd = -1;
    }
    return io_fail(err, errlen, e, "cannot write", s->dir, DEAD_NAME);
}

/* Copies the n oldest undelivered records to dead.log with the reason,
 * durably and in as few writes as fit the batch buffer, then acks them. A
 * failure half-way may leave some copied but unacked: they are copied again
 * next time, and dead.log tells them apart by sequence number. */
static int set_aside(struct spool *s, size_t n, const char *reason, char *err, size_t errlen)
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
        int size = dead_frame(s, q_at(s, i), reason, now, s->batch + len, err, errlen);
        if (size < 0)
            return size;
        len += (size_t)size;
    }
    int rc = dead_write(s, len, err, errlen);
    if (rc)
        return rc;
    uint64_t first = q_at(s, 0)->seq, last = q_at(s, n - 1)->seq;
    s->dead_letters += n;
    char why[REASON_MAX + 1];
    clean_reason(reason, why);
    log_msg(LOG_WARNING, "spool: %zu record(s) %" PRIu64 "..%" PRIu64 " set aside in %s/" DEAD_NAME ": %s", n, first,
            last, s->dir, why);
    return ack_locked(s, last, err, errlen);
}

static int64_t expiry_cutoff(const struct spool *s)
{
    int64_t now = (int64_t)time(NULL);
    return now > INT64_MIN + s->max_age_s ? now - s->max_age_s : INT64_MIN;
}

/* Moves the records older than max_age_s to dead.log as "expired". */
static int expire(struct spool *s, char *err, size_t errlen)
{
    if (!s->max_age_s)
        return 0;
    int64_t cutoff = expiry_cutoff(s);
    size_t n = 0;
    while (n < s->q_len && q_at(s, n)->time < cutoff)
        n++;
    return n ? set_aside(s, n, "expired", err, errlen) : 0;
}

int spool_dead_letter(struct spool *s, uint64_t seq, const char *reason, char *err, size_t errlen)
{
    if (!s)
        return fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no spool");
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (seq > s->delivered && (!s->q_len || q_at(s, 0)->seq != seq))
        rc = fail(SPOOL_ERR_CONFIG, err, errlen,
                  "spool %s: record %" PRIu64 " is not the oldest undelivered one: set records aside in order", s->dir,
                  seq);
    else if (seq > s->delivered)
        rc = set_aside(s, 1, reason && reason[0] ? reason : "unspecified", err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- peek, ack, stats ----------------------------------------------------------- */

static int peek_locked(struct spool *s, uint64_t *seq, void *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
    int rc = expire(s, err, errlen);
    while (!rc) {
        if (!s->q_len)
            return fail(SPOOL_ERR_EMPTY, err, errlen, "spool: nothing to deliver");
        const struct entry *e = q_at(s, 0);
        struct frame f;
        rc = read_entry(s, e, &f, err, errlen);
        if (rc == 1) { /* damaged since open: set aside, never delivered as garbage */
            rc = set_aside(s, 1, "corrupt", err, errlen);
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
        return fail(SPOOL_ERR_CONFIG, err, errlen, "spool: peek without a spool or a buffer");
    pthread_mutex_lock(&s->lock);
    int rc = peek_locked(s, seq, buf, cap, len, err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int spool_ack(struct spool *s, uint64_t seq, char *err, size_t errlen)
{
    if (!s)
        return fail(SPOOL_ERR_CONFIG, err, errlen, "spool: no spool");
    pthread_mutex_lock(&s->lock);
    int rc = ack_locked(s, seq, err, errlen);
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
        .oldest_unix = s->q_len ? q_at(s, 0)->time : 0,
        .dead_letters = s->dead_letters,
        .torn_bytes_cut = s->torn,
    };
    pthread_mutex_unlock(&s->lock);
}
