/* spool_io.c - the spool's bytes on disk: little-endian fields, CRC-32C,
 * record framing, segment names, the state line, durable writes, and the
 * messages that name a file and say what to do about its errno. */
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
#include <stdarg.h>

#include "base/file_io.h"

const unsigned char spool_rec_magic[4] = { 0xff, 'S', 'P', 'L' };

int spool_fail(int status, char *err, size_t errlen, const char *fmt, ...)
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
int spool_io_fail(char *err, size_t errlen, int e, const char *what, const char *dir, const char *name)
{
    char text[128];
    if (strerror_r(e, text, sizeof(text)) != 0)
        snprintf(text, sizeof(text), "error %d", e);
    struct hint h = hint_for(e);
    return spool_fail(SPOOL_ERR_IO, err, errlen, "%s %s%s%s: %s; %s%s%s", what, dir, name ? "/" : "", name ? name : "",
                text, h.before, dir, h.after);
}

/* For descriptors that were only read or whose data is already synced:
 * close() can then report nothing that changes what is on disk. */
void spool_close_quietly(int fd)
{
    if (fd >= 0)
        (void)close(fd);
}

/* ---- bytes on disk ------------------------------------------------------ */

void spool_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void spool_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t spool_get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* CRC-32C (Castagnoli, reflected), as ext4, btrfs and iSCSI use: it catches
 * more error patterns than zlib's CRC-32 at these record sizes, and a table
 * built at open costs fewer lines than a new library in the build. */
void spool_crc_init(uint32_t table[256])
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

void spool_frame_header(unsigned char *r, uint32_t flags, size_t len, uint64_t seq, int64_t time)
{
    memcpy(r, spool_rec_magic, 4);
    put32(r + 4, flags);
    put32(r + 8, (uint32_t)len);
    spool_put64(r + 12, seq);
    spool_put64(r + 20, (uint64_t)time);
}

/* The CRC covers everything between the magic and itself. Returns the size. */
size_t spool_frame_finish(const struct spool *s, unsigned char *r, size_t len)
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
size_t spool_frame_parse(const struct spool *s, const unsigned char *p, size_t avail, bool dead, struct record_frame *f)
{
    if (avail < FRAME_LEN || memcmp(p, spool_rec_magic, 4) != 0)
        return 0;
    f->flags = get32(p + 4);
    f->len = get32(p + 8);
    f->seq = spool_get64(p + 12);
    f->time = (int64_t)spool_get64(p + 20);
    f->body = p + HDR_LEN;
    if ((f->flags & ~(FLAG_SEALED | FLAG_DEAD)) != 0 || !(f->flags & FLAG_DEAD) != !dead)
        return 0;
    if (!len_ok(f->flags, f->len) || f->len > avail - FRAME_LEN)
        return 0;
    if (crc32c(s->crc, p + 4, HDR_LEN - 4 + f->len) != get32(p + HDR_LEN + f->len))
        return 0;
    return FRAME_LEN + f->len;
}

void spool_seg_name(char out[SEG_NAME_LEN + 1], uint64_t first)
{
    snprintf(out, SEG_NAME_LEN + 1, "seg-%016" PRIx64 ".log", first);
}

bool spool_parse_seg_name(const char *name, uint64_t *first)
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
int spool_write_durably(int fd, uint64_t off, const void *buf, size_t n, bool *broken)
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
int spool_sync_parent(const char *dir, char *err, size_t errlen)
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
        spool_close_quietly(fd);
        return spool_io_fail(err, errlen, e, "cannot sync the directory holding", dir, NULL);
    }
    spool_close_quietly(fd);
    return 0;
}

/* The file into sc->data (malloc'd: free it): all of it, or with window
 * set only its last window bytes. Returns 0 or an errno. */
int spool_read_file(int fd, uint64_t window, struct scan *sc)
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

/* ---- the state file ----------------------------------------------------- */

/* "cccd-spool 1 delivered=<seq> crc32c=<8 hex>\n": readable by a person,
 * checked by the CRC of the text before " crc32c=". */
int spool_state_line(const struct spool *s, uint64_t delivered, char *out, size_t cap)
{
    int n = snprintf(out, cap, "cccd-spool 1 delivered=%" PRIu64, delivered);
    uint32_t c = crc32c(s->crc, (const unsigned char *)out, (size_t)n);
    return n + snprintf(out + n, cap - (size_t)n, " crc32c=%08" PRIx32 "\n", c);
}

/* The file's value, or false when it is not exactly a line state_line makes. */
bool spool_state_parse(const struct spool *s, const char *text, size_t n, uint64_t *delivered)
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
    int m = spool_state_line(s, (uint64_t)v, again, sizeof(again));
    if ((size_t)m != n || memcmp(again, text, n) != 0)
        return false;
    *delivered = (uint64_t)v;
    return true;
}
