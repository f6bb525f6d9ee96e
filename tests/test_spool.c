/* test_spool.c - the durable queue: order, recovery from power cuts and bit
 * rot, limits, dead letters, encryption at rest, keys, errors, crashes.
 *
 * The on-disk format is read here by an independent parser written from
 * docs/spool.md (with its own bitwise CRC-32C), so the document is tested
 * too. Every test works in its own temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "delivery/spool.h"

#define MiB (1024u * 1024u)
#define HDR 28
#define FRAME 32
#define SEAL 28

struct fx {
    char base[64];
    char dir[128]; /* base/spool: the spool's own directory, created by it */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->base, sizeof(f->base), "%s/test_spool.XXXXXX", tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    if (!mkdtemp(f->base)) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/spool", f->base);
    *state = f;
    return 0;
}

static void rm_rf(const char *path)
{
    chmod(path, 0700); /* a test may have left it read-only */
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char sub[512];
            snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char mnt[80]; /* a small filesystem a failed test left mounted */
    snprintf(mnt, sizeof(mnt), "%s/mnt", f->base);
    (void)umount2(mnt, MNT_DETACH);
    rm_rf(f->base);
    free(f);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static uint32_t t_crc32c(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The whole file, with a spare byte for a terminating NUL. */
static unsigned char *slurp(const char *path, size_t *n)
{
    struct stat st;
    FILE *fp = fopen(path, "rb");
    if (!fp || fstat(fileno(fp), &st) != 0) {
        if (fp)
            fclose(fp);
        return NULL;
    }
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    *n = buf ? fread(buf, 1, (size_t)st.st_size, fp) : 0;
    fclose(fp);
    return buf;
}

static void spit(const char *path, const void *data, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* One record as docs/spool.md describes it. */
struct rec {
    size_t off, size;
    uint32_t flags, len;
    uint64_t seq;
    int64_t time;
    const unsigned char *body;
};

/* The intact records of a file from its start, up to the first bad one. */
static size_t parse_records(const unsigned char *data, size_t n, struct rec *out, size_t max)
{
    static const unsigned char magic[4] = { 0xff, 'S', 'P', 'L' };
    size_t off = 0, count = 0;
    while (count < max && n - off >= FRAME && !memcmp(data + off, magic, 4)) {
        const unsigned char *p = data + off;
        struct rec r = { .off = off, .flags = le32(p + 4), .len = le32(p + 8), .seq = le64(p + 12),
                         .time = (int64_t)le64(p + 20), .body = p + HDR };
        if (r.len > n - off - FRAME || t_crc32c(p + 4, HDR - 4 + r.len) != le32(p + HDR + r.len))
            break;
        r.size = FRAME + r.len;
        out[count++] = r;
        off += r.size;
    }
    return count;
}

struct dead {
    uint64_t seq;
    uint32_t flags;
    char reason[256];
    int64_t when;
    const unsigned char *payload;
    size_t len;
};

static size_t parse_dead(const unsigned char *data, size_t n, struct dead *out, size_t max)
{
    struct rec r[32];
    size_t count = parse_records(data, n, r, max < 32 ? max : 32);
    for (size_t i = 0; i < count; i++) {
        const unsigned char *b = r[i].body;
        size_t rl = (size_t)b[0] | (size_t)b[1] << 8;
        assert_true(rl < 256 && 10 + rl <= r[i].len);
        out[i] = (struct dead){ .seq = r[i].seq, .flags = r[i].flags, .when = (int64_t)le64(b + 2 + rl),
                                .payload = b + 10 + rl, .len = r[i].len - 10 - rl };
        memcpy(out[i].reason, b + 2, rl);
    }
    return count;
}

static void join(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void seg_path(char *out, size_t cap, const char *dir, uint64_t first)
{
    snprintf(out, cap, "%s/seg-%016" PRIx64 ".log", dir, first);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* First sequence numbers of the segment files, sorted. */
static size_t list_segs(const char *dir, uint64_t *firsts, size_t max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        unsigned long long v;
        char tail[8];
        if (strlen(de->d_name) == 24 && sscanf(de->d_name, "seg-%16llx%7s", &v, tail) == 2 && !strcmp(tail, ".log") &&
            n < max)
            firsts[n++] = v;
    }
    closedir(d);
    qsort(firsts, n, sizeof(*firsts), cmp_u64);
    return n;
}

static void copy_dir(const char *src, const char *dst)
{
    rm_rf(dst);
    assert_int_equal(mkdir(dst, 0700), 0);
    DIR *d = opendir(src);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char a[512], b[512];
        join(a, sizeof(a), src, de->d_name);
        join(b, sizeof(b), dst, de->d_name);
        size_t n;
        unsigned char *data = slurp(a, &n);
        assert_non_null(data);
        spit(b, data, n, 0600);
        free(data);
    }
    closedir(d);
}

static struct spool_opts opts_for(const char *dir)
{
    return (struct spool_opts){ .dir = dir, .max_bytes = 64 * MiB };
}

static struct spool *open_ok(const struct spool_opts *o)
{
    struct spool *s = NULL;
    char err[512] = "";
    int rc = spool_open(&s, o, err, sizeof(err));
    if (rc != 0)
        fail_msg("spool_open(%s) = %d: %s", o->dir, rc, err);
    return s;
}

static uint64_t append_ok(struct spool *s, const char *text)
{
    uint64_t seq = 0;
    char err[512] = "";
    int rc = spool_append(s, text, strlen(text), &seq, err, sizeof(err));
    if (rc != 0)
        fail_msg("spool_append = %d: %s", rc, err);
    return seq;
}

/* The whole segment file that starts at sequence first; path gets its name. */
static unsigned char *slurp_seg(char path[256], const char *dir, uint64_t first, size_t *n)
{
    seg_path(path, 256, dir, first);
    unsigned char *data = slurp(path, n);
    assert_non_null(data);
    return data;
}

/* Appends "one", "two", "three": sequence numbers 1 to 3. */
static void append_three(struct spool *s)
{
    append_ok(s, "one");
    append_ok(s, "two");
    append_ok(s, "three");
}

/* The payload of the i-th test record: its number, padded to len bytes. */
static void payload(char *out, int i, size_t len)
{
    int n = snprintf(out, len + 1, "record-%04d:", i);
    memset(out + n, 'x', len - (size_t)n);
    out[len] = '\0';
}

/* Peeks the head, checks it is (want_seq, want_text), acks it. */
static void expect_next(struct spool *s, uint64_t want_seq, const char *want_text)
{
    static char buf[SPOOL_RECORD_MAX];
    uint64_t seq = 0;
    size_t len = 0;
    char err[512] = "";
    int rc = spool_peek(s, &seq, buf, sizeof(buf), &len, err, sizeof(err));
    if (rc != 0)
        fail_msg("spool_peek = %d (%s), wanted record %" PRIu64, rc, err, want_seq);
    assert_int_equal(seq, want_seq);
    assert_int_equal(len, strlen(want_text));
    assert_memory_equal(buf, want_text, len);
    assert_int_equal(spool_ack(s, seq, err, sizeof(err)), 0);
}

static void expect_empty(struct spool *s)
{
    char buf[64], err[256] = "";
    uint64_t seq;
    size_t len;
    assert_int_equal(spool_peek(s, &seq, buf, sizeof(buf), &len, err, sizeof(err)), SPOOL_ERR_EMPTY);
}

static struct spool_stats stats_of(struct spool *s)
{
    struct spool_stats st;
    spool_get_stats(s, &st);
    return st;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* ---- format, order, reopen ------------------------------------------------------- */

static void test_crc_and_record_layout(void **state)
{
    struct fx *f = *state;
    assert_int_equal(t_crc32c((const unsigned char *)"123456789", 9), 0xe3069283u); /* CRC-32C check value */
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(append_ok(s, "hello"), 1);
    spool_close(s);

    char path[256];
    size_t n;
    unsigned char *data = slurp_seg(path, f->dir, 1, &n);
    assert_int_equal(n, FRAME + 5);
    struct rec r[2];
    assert_int_equal(parse_records(data, n, r, 2), 1);
    assert_int_equal(r[0].flags, 0);
    assert_int_equal(r[0].len, 5);
    assert_int_equal(r[0].seq, 1);
    assert_true(r[0].time >= before && r[0].time <= before + 5);
    assert_memory_equal(r[0].body, "hello", 5);
    free(data);
}

static void test_order_across_rolls_and_reopen(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    o.segment_bytes = 200; /* two 92-byte records a segment */
    struct spool *s = open_ok(&o);
    char text[16][61];
    for (int i = 0; i < 10; i++) {
        payload(text[i], i, 60);
        assert_int_equal(append_ok(s, text[i]), (uint64_t)i + 1);
    }
    uint64_t firsts[16];
    assert_int_equal(list_segs(f->dir, firsts, 16), 5);
    for (int i = 0; i < 3; i++)
        expect_next(s, (uint64_t)i + 1, text[i]);
    assert_int_equal(stats_of(s).records, 7);
    spool_close(s);

    /* Files the spool does not know are left alone. */
    char other[256];
    join(other, sizeof(other), f->dir, "notes.txt");
    spit(other, "hi", 2, 0600);

    s = open_ok(&o);
    struct spool_stats st = stats_of(s);
    assert_int_equal(st.records, 7);
    assert_int_equal(st.bytes, 7 * (FRAME + 60));
    assert_int_equal(st.torn_bytes_cut, 0);
    expect_next(s, 4, text[3]);
    payload(text[10], 10, 60);
    assert_int_equal(append_ok(s, text[10]), 11); /* sequence continues after reopen */
    char err[256];
    assert_int_equal(spool_ack(s, 6, err, sizeof(err)), 0);
    /* Segments 1-2, 3-4 and 5-6 are delivered and gone; 7-8, 9-10, 11 stay. */
    assert_int_equal(list_segs(f->dir, firsts, 16), 3);
    assert_int_equal(firsts[0], 7);
    for (int i = 6; i < 11; i++)
        expect_next(s, (uint64_t)i + 1, text[i]);
    expect_empty(s);
    assert_int_equal(list_segs(f->dir, firsts, 16), 0);
    spool_close(s);

    s = open_ok(&o);
    assert_int_equal(append_ok(s, "after"), 12);
    assert_int_equal(list_segs(f->dir, firsts, 16), 1);
    assert_int_equal(firsts[0], 12);
    spool_close(s);

    assert_int_equal(mode_of(f->dir), 0700);
    char path[256];
    seg_path(path, sizeof(path), f->dir, 12);
    assert_int_equal(mode_of(path), 0600);
    join(path, sizeof(path), f->dir, "delivered");
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(mode_of(other), 0600);
}

/* An ack is a durable, human-readable state file. */
static void test_state_file_contents(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_ok(s, "a");
    append_ok(s, "b");
    char err[256];
    assert_int_equal(spool_ack(s, 1, err, sizeof(err)), 0);
    assert_int_equal(spool_ack(s, 1, err, sizeof(err)), 0);               /* again: no-op */
    assert_int_equal(spool_ack(s, 9, err, sizeof(err)), SPOOL_ERR_CONFIG); /* beyond the last */
    spool_close(s);
    char path[256];
    join(path, sizeof(path), f->dir, "delivered");
    size_t n;
    char *text = (char *)slurp(path, &n);
    assert_non_null(text);
    text[n] = '\0';
    assert_non_null(strstr(text, "cccd-spool 1 delivered=1 crc32c="));
    free(text);
}

/* ---- power cuts and bit rot ------------------------------------------------------ */

struct cut_case {
    const uint8_t *key;
    size_t body;  /* payload length */
    size_t rsize; /* record size on disk */
};

/* Five records: three in the first segment, two in the second. */
static void write_five(const char *dir, const struct cut_case *c, char text[5][121])
{
    struct spool_opts o = opts_for(dir);
    o.key = c->key;
    o.segment_bytes = 3 * c->rsize;
    struct spool *s = open_ok(&o);
    for (int i = 0; i < 5; i++) {
        payload(text[i], i, c->body);
        assert_int_equal(append_ok(s, text[i]), (uint64_t)i + 1);
    }
    spool_close(s);
    uint64_t firsts[4];
    assert_int_equal(list_segs(dir, firsts, 4), 2);
    assert_int_equal(firsts[1], 4);
}

/* Cuts the last segment at every offset: every record wholly before the cut
 * is kept, the partial one is counted in torn_bytes_cut, and appends work. */
static void power_cut_every_offset(struct fx *f, const uint8_t *key)
{
    struct cut_case c = { .key = key, .body = 100, .rsize = FRAME + 100 + (key ? SEAL : 0) };
    char text[5][121], src[128], work[128], last[256];
    snprintf(src, sizeof(src), "%s/src", f->base);
    snprintf(work, sizeof(work), "%s/work", f->base);
    write_five(src, &c, text);
    size_t total = 2 * c.rsize;
    for (size_t cut = 0; cut <= total; cut++) {
        copy_dir(src, work);
        seg_path(last, sizeof(last), work, 4);
        assert_int_equal(truncate(last, (off_t)cut), 0);
        struct spool_opts o = opts_for(work);
        o.key = key;
        o.segment_bytes = 3 * c.rsize;
        struct spool *s = open_ok(&o);
        size_t whole = cut / c.rsize; /* records of the last segment before the cut */
        struct spool_stats st = stats_of(s);
        assert_int_equal(st.torn_bytes_cut, cut - whole * c.rsize);
        assert_int_equal(st.records, 3 + whole);
        /* The next append goes right after the last intact record. */
        uint64_t seq = append_ok(s, "after the cut");
        assert_int_equal(seq, 4 + whole);
        spool_close(s);
        s = open_ok(&o);
        assert_int_equal(stats_of(s).torn_bytes_cut, 0);
        assert_int_equal(stats_of(s).records, 4 + whole);
        for (size_t i = 0; i < 3 + whole; i++)
            expect_next(s, i + 1, text[i]);
        expect_next(s, seq, "after the cut");
        expect_empty(s);
        spool_close(s);
    }
}

static void test_power_cut_plain(void **state)
{
    power_cut_every_offset(*state, NULL);
}

static void test_power_cut_sealed(void **state)
{
    static const uint8_t key[SPOOL_KEY_LEN] = "0123456789abcdef0123456789abcdef";
    power_cut_every_offset(*state, key);
}

/* Flips each byte of one record in turn: only that record is lost, the
 * records after it in the same segment and the later segments survive. */
static void flip_every_byte(struct fx *f, uint64_t seg_first, size_t rec_index, size_t lost)
{
    struct cut_case c = { .body = 100, .rsize = FRAME + 100 };
    char text[5][121], src[128], work[128], path[256];
    snprintf(src, sizeof(src), "%s/src", f->base);
    snprintf(work, sizeof(work), "%s/work", f->base);
    write_five(src, &c, text);
    for (size_t b = 0; b < c.rsize; b++) {
        copy_dir(src, work);
        size_t n;
        unsigned char *data = slurp_seg(path, work, seg_first, &n);
        data[rec_index * c.rsize + b] ^= 0x5a;
        spit(path, data, n, 0600);
        free(data);
        struct spool_opts o = opts_for(work);
        struct spool *s = open_ok(&o);
        assert_int_equal(stats_of(s).torn_bytes_cut, 0);
        assert_int_equal(stats_of(s).records, 4);
        for (size_t i = 0; i < 5; i++)
            if (i != lost)
                expect_next(s, i + 1, text[i]);
        expect_empty(s);
        /* Every record delivered: the damaged segment goes too. */
        uint64_t firsts[4];
        assert_int_equal(list_segs(work, firsts, 4), 0);
        spool_close(s);
    }
}

static void test_bit_rot_middle_of_older_segment(void **state)
{
    flip_every_byte(*state, 1, 1, 1);
}

static void test_bit_rot_end_of_older_segment(void **state)
{
    flip_every_byte(*state, 1, 2, 2);
}

static void test_bit_rot_in_last_segment_keeps_later_records(void **state)
{
    flip_every_byte(*state, 4, 0, 3);
}

/* A record with an intact CRC but out of order (a replayed copy, or one
 * outside the range its segment's name allows) is damage, not a record. */
static void test_out_of_order_records_rejected(void **state)
{
    struct fx *f = *state;
    struct cut_case c = { .body = 100, .rsize = FRAME + 100 };
    char text[5][121], path[256];
    write_five(f->dir, &c, text);
    size_t n;
    unsigned char *data = slurp_seg(path, f->dir, 1, &n);
    memcpy(data + c.rsize, data, c.rsize); /* record 1 again where 2 was */
    spit(path, data, n, 0600);
    free(data);
    seg_path(path, sizeof(path), f->dir, 4);
    data = slurp(path, &n);
    assert_non_null(data);
    put_le64(data + c.rsize + 12, 3); /* record 5 claims 3: below its segment */
    put_le32(data + c.rsize + HDR + 100, t_crc32c(data + c.rsize + 4, HDR - 4 + 100));
    spit(path, data, n, 0600);
    free(data);
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    assert_int_equal(stats_of(s).records, 3);
    assert_int_equal(stats_of(s).torn_bytes_cut, c.rsize);
    expect_next(s, 1, text[0]);
    expect_next(s, 3, text[2]);
    expect_next(s, 4, text[3]);
    expect_empty(s);
    spool_close(s);
}

/* Damage after open (the SD card rotting under a running spool): the record
 * is set aside as "corrupt", never delivered as garbage, and delivery goes on. */
static void test_damaged_after_open_set_aside(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_ok(s, "first");
    append_ok(s, "second");
    char path[256];
    size_t n;
    unsigned char *data = slurp_seg(path, f->dir, 1, &n);
    data[HDR + 2] ^= 1;
    spit(path, data, n, 0600);
    free(data);
    expect_next(s, 2, "second");
    assert_int_equal(stats_of(s).dead_letters, 1);
    spool_close(s);
    join(path, sizeof(path), f->dir, "dead.log");
    data = slurp(path, &n);
    assert_non_null(data);
    struct dead d[2];
    assert_int_equal(parse_dead(data, n, d, 2), 1);
    assert_int_equal(d[0].seq, 1);
    assert_string_equal(d[0].reason, "corrupt");
    assert_int_equal(d[0].len, FRAME + 5); /* the raw record as read */
    free(data);
}

/* ---- the state file ---------------------------------------------------------------- */

static void test_leftover_state_tmp_ignored(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_three(s);
    expect_next(s, 1, "one");
    expect_next(s, 2, "two");
    spool_close(s);
    char tmp[256];
    join(tmp, sizeof(tmp), f->dir, "delivered.tmp");
    spit(tmp, "cccd-spool 1 delivered=0 crc", 28, 0600); /* a write cut short */
    char dead_tmp[256];
    join(dead_tmp, sizeof(dead_tmp), f->dir, "dead.log.tmp"); /* a rewrite of dead.log cut short */
    spit(dead_tmp, "\xffSPL", 4, 0600);
    s = open_ok(&o);
    expect_next(s, 3, "three");
    spool_close(s);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(dead_tmp, F_OK), -1);
}

/* A damaged state file: records still on disk are delivered again (the
 * hospital de-duplicates); none is lost and open does not fail. */
static void test_corrupt_state_redelivers(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    const char *bad[] = { "", "cccd-spool 1 delivered=2 crc32c=00000000\n", "garbage", "cccd-spool 1 delivered=" };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        rm_rf(f->dir);
        struct spool *s = open_ok(&o);
        append_three(s);
        expect_next(s, 1, "one");
        spool_close(s);
        char path[256];
        join(path, sizeof(path), f->dir, "delivered");
        spit(path, bad[k], strlen(bad[k]), 0600);
        s = open_ok(&o);
        assert_int_equal(stats_of(s).records, 3);
        expect_next(s, 1, "one");
        expect_next(s, 2, "two");
        assert_int_equal(append_ok(s, "four"), 4);
        spool_close(s);
    }
}

/* ---- limits ------------------------------------------------------------------------------ */

/* max_bytes counts framing: a record that lands exactly on it fits, one
 * byte more does not. */
static void test_full_boundary(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    o.max_bytes = 2 * (FRAME + 100) + FRAME + 1;
    struct spool *s = open_ok(&o);
    char text[121], err[512] = "";
    uint64_t seq;
    payload(text, 0, 100);
    append_ok(s, text);
    append_ok(s, text);
    assert_int_equal(spool_append(s, "xy", 2, &seq, err, sizeof(err)), SPOOL_ERR_FULL);
    assert_int_equal(append_ok(s, "x"), 3);
    assert_int_equal(stats_of(s).bytes, o.max_bytes);
    assert_int_equal(spool_append(s, "", 0, &seq, err, sizeof(err)), SPOOL_ERR_FULL);
    spool_close(s);
}

static void test_full_refuses_and_recovers(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    o.max_bytes = 3 * (FRAME + 100);
    struct spool *s = open_ok(&o);
    char text[5][121];
    for (int i = 0; i < 3; i++) {
        payload(text[i], i, 100);
        append_ok(s, text[i]);
    }
    payload(text[3], 3, 100);
    char err[512] = "", path[256];
    uint64_t seq = 0;
    assert_int_equal(spool_append(s, text[3], 100, &seq, err, sizeof(err)), SPOOL_ERR_FULL);
    assert_non_null(strstr(err, f->dir));
    assert_non_null(strstr(err, "NOT stored"));
    assert_int_equal(stats_of(s).records, 3);
    seg_path(path, sizeof(path), f->dir, 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3 * (FRAME + 100)); /* nothing written */
    /* Smaller records still fit in what is left: none here. */
    assert_int_equal(spool_append(s, "x", 1, &seq, err, sizeof(err)), SPOOL_ERR_FULL);
    expect_next(s, 1, text[0]);
    assert_int_equal(append_ok(s, text[3]), 4);
    assert_int_equal(spool_append(s, text[3], 100, &seq, err, sizeof(err)), SPOOL_ERR_FULL);
    spool_close(s);
}

static void test_record_size_limits(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    char *big = malloc(SPOOL_RECORD_MAX + 1);
    assert_non_null(big);
    memset(big, 'a', SPOOL_RECORD_MAX + 1);
    char err[256];
    uint64_t seq;
    assert_int_equal(spool_append(s, big, SPOOL_RECORD_MAX + 1, &seq, err, sizeof(err)), SPOOL_ERR_TOO_BIG);
    assert_int_equal(spool_append(s, big, SPOOL_RECORD_MAX, &seq, err, sizeof(err)), 0);
    assert_int_equal(spool_append(s, "", 0, &seq, err, sizeof(err)), 0); /* an empty record is a record */
    char small[16];
    size_t len = 0;
    assert_int_equal(spool_peek(s, &seq, small, sizeof(small), &len, err, sizeof(err)), SPOOL_ERR_TOO_BIG);
    assert_int_equal(len, SPOOL_RECORD_MAX); /* the size it needs */
    assert_int_equal(spool_peek(s, &seq, big, SPOOL_RECORD_MAX, &len, err, sizeof(err)), 0);
    assert_int_equal(len, SPOOL_RECORD_MAX);
    assert_int_equal(spool_ack(s, seq, err, sizeof(err)), 0);
    assert_int_equal(spool_peek(s, &seq, small, sizeof(small), &len, err, sizeof(err)), 0);
    assert_int_equal(len, 0);
    spool_close(s);
    free(big);
}

/* Sets the append time of every record of a segment to t, fixing its CRC. */
static void age_records(const char *dir, uint64_t seg_first, size_t count, int64_t t)
{
    char path[256];
    size_t n;
    unsigned char *data = slurp_seg(path, dir, seg_first, &n);
    static struct rec r[1024];
    assert_true(parse_records(data, n, r, 1024) >= count);
    for (size_t i = 0; i < count; i++) {
        unsigned char *p = data + r[i].off;
        put_le64(p + 20, (uint64_t)t);
        put_le32(p + HDR + r[i].len, t_crc32c(p + 4, HDR - 4 + r[i].len));
    }
    spit(path, data, n, 0600);
    free(data);
}

static void test_expired_records_go_to_dead_letters(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    const char *text[] = { "old-1", "old-2", "new-3", "new-4" };
    for (int i = 0; i < 4; i++)
        append_ok(s, text[i]);
    spool_close(s);
    int64_t now = (int64_t)time(NULL);
    age_records(f->dir, 1, 2, now - 3600);

    o.max_age_s = 600;
    s = open_ok(&o);
    assert_int_equal(stats_of(s).oldest_unix, now - 3600);
    expect_next(s, 3, "new-3");
    struct spool_stats st = stats_of(s);
    assert_int_equal(st.dead_letters, 2);
    assert_int_equal(st.records, 1);
    spool_close(s);

    char path[256];
    join(path, sizeof(path), f->dir, "dead.log");
    assert_int_equal(mode_of(path), 0600);
    size_t n;
    unsigned char *data = slurp(path, &n);
    assert_non_null(data);
    struct dead d[4];
    assert_int_equal(parse_dead(data, n, d, 4), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(d[i].seq, (uint64_t)i + 1);
        assert_int_equal(d[i].flags, 2);
        assert_string_equal(d[i].reason, "expired");
        assert_true(d[i].when >= now && d[i].when <= now + 5);
        assert_int_equal(d[i].len, 5);
        assert_memory_equal(d[i].payload, text[i], 5);
    }
    free(data);
}

/* A full spool first sets its expired records aside to make room. */
static void test_full_spool_expires_old_records(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    o.max_bytes = 2 * (FRAME + 5);
    struct spool *s = open_ok(&o);
    append_ok(s, "old-1");
    append_ok(s, "new-2");
    spool_close(s);
    age_records(f->dir, 1, 1, (int64_t)time(NULL) - 3600);
    s = open_ok(&o);
    char err[256];
    uint64_t seq;
    assert_int_equal(spool_append(s, "new-3", 5, &seq, err, sizeof(err)), SPOOL_ERR_FULL); /* no age limit */
    spool_close(s);
    o.max_age_s = 600;
    s = open_ok(&o);
    assert_int_equal(append_ok(s, "new-3"), 3);
    assert_int_equal(stats_of(s).dead_letters, 1);
    expect_next(s, 2, "new-2");
    expect_next(s, 3, "new-3");
    spool_close(s);
}

static void test_dead_letter_in_order_and_torn_dead_log(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_three(s);
    char err[512] = "";
    assert_int_equal(spool_dead_letter(s, 2, "HTTP 400", err, sizeof(err)), SPOOL_ERR_CONFIG);
    assert_int_equal(spool_dead_letter(s, 1, "HTTP 422 unknown schema\nnext line", err, sizeof(err)), 0);
    assert_int_equal(spool_dead_letter(s, 1, "again", err, sizeof(err)), 0); /* already handled */
    assert_int_equal(stats_of(s).dead_letters, 1);
    expect_next(s, 2, "two");
    spool_close(s);

    char path[256];
    join(path, sizeof(path), f->dir, "dead.log");
    size_t n;
    unsigned char *data = slurp(path, &n);
    assert_non_null(data);
    struct dead d[4];
    assert_int_equal(parse_dead(data, n, d, 4), 1);
    assert_string_equal(d[0].reason, "HTTP 422 unknown schema?next line"); /* one log line */
    assert_memory_equal(d[0].payload, "one", 3);
    free(data);

    /* A power cut while writing dead.log: its torn end is cut at open. */
    assert_int_equal(truncate(path, (off_t)n - 5), 0);
    s = open_ok(&o);
    assert_int_equal(stats_of(s).torn_bytes_cut, n - 5);
    assert_int_equal(spool_dead_letter(s, 3, "HTTP 403", err, sizeof(err)), 0);
    spool_close(s);
    data = slurp(path, &n);
    assert_non_null(data);
    assert_int_equal(parse_dead(data, n, d, 4), 1);
    assert_int_equal(d[0].seq, 3);
    assert_int_equal(n, FRAME + 10 + 8 + 5);
    free(data);
}

/* A dead.log longer than the part recovery reads (it only grows): its torn
 * end is still found and cut, and every earlier dead letter kept. */
static void test_long_dead_log_torn_end(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    char text[301];
    for (int i = 0; i < 700; i++) {
        payload(text, i, 300);
        append_ok(s, text);
    }
    spool_close(s);
    age_records(f->dir, 1, 700, (int64_t)time(NULL) - 3600);
    o.max_age_s = 600;
    s = open_ok(&o);
    expect_empty(s); /* all 700 expire, in a few batched writes */
    assert_int_equal(stats_of(s).dead_letters, 700);
    spool_close(s);

    char path[256];
    join(path, sizeof(path), f->dir, "dead.log");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    size_t one = FRAME + 10 + 7 + 300;
    assert_int_equal(st.st_size, 700 * one);
    assert_int_equal(truncate(path, st.st_size - 7), 0);
    o.max_age_s = 0;
    s = open_ok(&o);
    assert_int_equal(stats_of(s).torn_bytes_cut, one - 7);
    assert_int_equal(append_ok(s, "last"), 701);
    char err[256];
    assert_int_equal(spool_dead_letter(s, 701, "HTTP 400", err, sizeof(err)), 0);
    spool_close(s);

    size_t n;
    unsigned char *data = slurp(path, &n);
    assert_non_null(data);
    static struct rec r[800];
    assert_int_equal(parse_records(data, n, r, 800), 700);
    assert_int_equal(r[698].seq, 699);
    assert_int_equal(r[699].seq, 701);
    assert_int_equal(r[699].off + r[699].size, n);
    free(data);
}

/* ---- encryption ------------------------------------------------------------------------ */

static const uint8_t key_a[SPOOL_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                              17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const uint8_t key_b[SPOOL_KEY_LEN] = { 2 };

static bool file_contains(const char *path, const char *needle)
{
    size_t n;
    unsigned char *data = slurp(path, &n);
    assert_non_null(data);
    size_t k = strlen(needle);
    bool found = false;
    for (size_t i = 0; i + k <= n && !found; i++)
        found = memcmp(data + i, needle, k) == 0;
    free(data);
    return found;
}

static void test_sealed_round_trip_and_no_clear_text(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    o.key = key_a;
    struct spool *s = open_ok(&o);
    const char *text = "{\"id_number\":\"079090001234\",\"full_name\":\"MARKER Ngô Bảo Châu\"}";
    append_ok(s, text);
    append_ok(s, text);
    char path[256];
    seg_path(path, sizeof(path), f->dir, 1);
    assert_false(file_contains(path, "MARKER"));
    assert_false(file_contains(path, "079090001234"));
    size_t n;
    unsigned char *data = slurp(path, &n);
    struct rec r[4];
    assert_int_equal(parse_records(data, n, r, 4), 2);
    assert_int_equal(r[0].flags, 1);
    assert_int_equal(r[0].len, strlen(text) + SEAL);
    assert_memory_not_equal(r[0].body, r[1].body, 12); /* a fresh nonce per record */
    free(data);
    expect_next(s, 1, text);
    spool_close(s);
    s = open_ok(&o);
    expect_next(s, 2, text);
    spool_close(s);
}

static void test_wrong_key_keeps_record(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    o.key = key_a;
    struct spool *s = open_ok(&o);
    append_ok(s, "sealed record");
    spool_close(s);

    char buf[64], err[512] = "";
    uint64_t seq;
    size_t len;
    o.key = key_b;
    s = open_ok(&o);
    assert_int_equal(spool_peek(s, &seq, buf, sizeof(buf), &len, err, sizeof(err)), SPOOL_ERR_KEY);
    assert_non_null(strstr(err, "wrong key file"));
    assert_non_null(strstr(err, f->dir));
    assert_int_equal(spool_peek(s, &seq, buf, sizeof(buf), &len, err, sizeof(err)), SPOOL_ERR_KEY);
    assert_int_equal(stats_of(s).records, 1);
    spool_close(s);

    o.key = NULL;
    s = open_ok(&o);
    assert_int_equal(spool_peek(s, &seq, buf, sizeof(buf), &len, err, sizeof(err)), SPOOL_ERR_KEY);
    assert_non_null(strstr(err, "no key"));
    spool_close(s);

    o.key = key_a;
    s = open_ok(&o);
    expect_next(s, 1, "sealed record");
    spool_close(s);
}

/* Turning encryption on later: the plain records already queued still go. */
static void test_plain_records_read_with_key(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_ok(s, "plain");
    spool_close(s);
    o.key = key_a;
    s = open_ok(&o);
    append_ok(s, "sealed");
    expect_next(s, 1, "plain");
    expect_next(s, 2, "sealed");
    spool_close(s);
}

/* ---- key files ----------------------------------------------------------------------- */

static int load_key_text(struct fx *f, const void *content, size_t n, mode_t mode, uint8_t key[SPOOL_KEY_LEN],
                         char *err, size_t errlen)
{
    char path[256];
    join(path, sizeof(path), f->base, "spool.key");
    spit(path, content, n, mode);
    memset(key, 0xee, SPOOL_KEY_LEN);
    return spool_load_key(path, key, err, errlen);
}

static void test_load_key_raw_and_hex(void **state)
{
    struct fx *f = *state;
    uint8_t key[SPOOL_KEY_LEN];
    char err[512] = "";
    assert_int_equal(load_key_text(f, key_a, sizeof(key_a), 0600, key, err, sizeof(err)), 0);
    assert_memory_equal(key, key_a, SPOOL_KEY_LEN);

    const char *hex = "0102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F20";
    char line[80];
    snprintf(line, sizeof(line), "%s\n", hex);
    assert_int_equal(load_key_text(f, line, strlen(line), 0600, key, err, sizeof(err)), 0);
    assert_memory_equal(key, key_a, SPOOL_KEY_LEN);
    assert_int_equal(load_key_text(f, hex, 64, 0400, key, err, sizeof(err)), 0);
    assert_memory_equal(key, key_a, SPOOL_KEY_LEN);
    snprintf(line, sizeof(line), "%s\r\n", hex);
    assert_int_equal(load_key_text(f, line, strlen(line), 0600, key, err, sizeof(err)), 0);
    assert_memory_equal(key, key_a, SPOOL_KEY_LEN);
}

static void test_load_key_refusals(void **state)
{
    struct fx *f = *state;
    uint8_t key[SPOOL_KEY_LEN], zero[SPOOL_KEY_LEN] = { 0 };
    char err[512] = "", path[256];
    join(path, sizeof(path), f->base, "spool.key");
    const char *hex = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
    struct {
        const char *content;
        size_t n;
        mode_t mode;
        const char *says;
    } cases[] = {
        { hex, 64, 0644, "chmod 600" },
        { hex, 64, 0640, "chmod 600" },
        { hex, 64, 0606, "chmod 600" },
        { hex, 31, 0600, "32 raw bytes or 64 hex" },
        { hex, 63, 0600, "32 raw bytes or 64 hex" },
        { "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021", 66, 0600, "64 hex" },
        { "zz02030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", 64, 0600, "64 hex" },
        { "", 0, 0600, "64 hex" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(load_key_text(f, cases[i].content, cases[i].n, cases[i].mode, key, err, sizeof(err)),
                         SPOOL_ERR_KEY);
        assert_non_null(strstr(err, cases[i].says));
        assert_non_null(strstr(err, path));
        assert_null(strstr(err, "0102030405")); /* never key bytes in messages */
        assert_memory_equal(key, zero, SPOOL_KEY_LEN);
    }
    unlink(path);
    assert_int_equal(spool_load_key(path, key, err, sizeof(err)), SPOOL_ERR_KEY);
    assert_non_null(strstr(err, "No such file"));
}

/* ---- errors ---------------------------------------------------------------------------- */

static void test_bad_options(void **state)
{
    struct fx *f = *state;
    struct spool *s = (struct spool *)1;
    char err[256] = "";
    struct spool_opts o = opts_for(NULL);
    assert_int_equal(spool_open(&s, &o, err, sizeof(err)), SPOOL_ERR_CONFIG);
    assert_null(s);
    o = opts_for(f->dir);
    o.max_bytes = 0;
    assert_int_equal(spool_open(&s, &o, err, sizeof(err)), SPOOL_ERR_CONFIG);
    assert_non_null(strstr(err, "max_bytes"));
    o = opts_for(f->dir);
    o.max_age_s = -1;
    assert_int_equal(spool_open(&s, &o, err, sizeof(err)), SPOOL_ERR_CONFIG);
}

static void test_directory_not_creatable(void **state)
{
    struct fx *f = *state;
    char file[256], dir[256], err[512] = "";
    join(file, sizeof(file), f->base, "a-file");
    spit(file, "x", 1, 0600);
    join(dir, sizeof(dir), file, "spool");
    struct spool_opts o = opts_for(dir);
    struct spool *s = NULL;
    assert_int_equal(spool_open(&s, &o, err, sizeof(err)), SPOOL_ERR_IO);
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, "Not a directory"));

    join(dir, sizeof(dir), f->base, "missing/spool");
    o = opts_for(dir);
    assert_int_equal(spool_open(&s, &o, err, sizeof(err)), SPOOL_ERR_IO);
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, "No such file"));
}

/* Opens dir and checks the refusal; 0 when it is the expected one. */
static int expect_not_writable(const char *dir)
{
    struct spool_opts o = opts_for(dir);
    struct spool *s = NULL;
    char err[512] = "";
    int rc = spool_open(&s, &o, err, sizeof(err));
    if (rc == SPOOL_ERR_IO && strstr(err, dir) && strstr(err, "Permission denied") && strstr(err, "chown"))
        return 0;
    fprintf(stderr, "read-only spool: rc %d: %s\n", rc, err);
    spool_close(s);
    return 1;
}

/* A directory the service user cannot write. Root writes anywhere, so as
 * root the check runs in a child that has dropped to nobody. */
static void test_directory_read_only(void **state)
{
    struct fx *f = *state;
    assert_int_equal(mkdir(f->dir, 0700), 0);
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_ok(s, "queued");
    spool_close(s);
    assert_int_equal(chmod(f->dir, 0555), 0);
    if (geteuid() != 0) {
        assert_int_equal(expect_not_writable(f->dir), 0);
        return;
    }
    assert_int_equal(chmod(f->base, 0755), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(setgid(65534) != 0 || setuid(65534) != 0 ? 2 : expect_not_writable(f->dir));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_second_open_refused(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o), *t = NULL;
    char err[512] = "";
    assert_int_equal(spool_open(&t, &o, err, sizeof(err)), SPOOL_ERR_IO);
    assert_non_null(strstr(err, "in use"));
    spool_close(s);
    t = open_ok(&o);
    spool_close(t);
}

/* ---- concurrency and crashes ------------------------------------------------------------ */

struct producer {
    struct spool *s;
    int count;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < p->count; i++) {
        char text[32];
        snprintf(text, sizeof(text), "threaded-%d", i);
        uint64_t seq;
        char err[256];
        if (spool_append(p->s, text, strlen(text), &seq, err, sizeof(err)) != 0 || seq != (uint64_t)i + 1)
            return (void *)1;
    }
    return NULL;
}

/* The scan loop appends while the uplink peeks and acks. */
static void test_threads_append_while_delivering(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    o.segment_bytes = 1024;
    struct producer p = { .s = open_ok(&o), .count = 300 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
    int got = 0;
    while (got < p.count) {
        char buf[64], err[256], want[32];
        uint64_t seq;
        size_t len;
        int rc = spool_peek(p.s, &seq, buf, sizeof(buf), &len, err, sizeof(err));
        if (rc == SPOOL_ERR_EMPTY)
            continue;
        assert_int_equal(rc, 0);
        snprintf(want, sizeof(want), "threaded-%d", got);
        assert_int_equal(seq, (uint64_t)got + 1);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(buf, want, len);
        assert_int_equal(spool_ack(p.s, seq, err, sizeof(err)), 0);
        got++;
    }
    void *res;
    assert_int_equal(pthread_join(th, &res), 0);
    assert_null(res);
    uint64_t firsts[8];
    assert_int_equal(list_segs(f->dir, firsts, 8), 0);
    spool_close(p.s);
}

struct report {
    uint64_t seq;
    uint32_t round, i;
};

static void child_appends(const char *dir, int fd, uint32_t round)
{
    struct spool_opts o = opts_for(dir);
    o.segment_bytes = 4096;
    struct spool *s = NULL;
    char err[512];
    if (spool_open(&s, &o, err, sizeof(err)) != 0)
        _exit(2);
    for (uint32_t i = 0;; i++) {
        char text[64];
        snprintf(text, sizeof(text), "child-%u-%u", round, i);
        struct report r = { .round = round, .i = i };
        if (spool_append(s, text, strlen(text), &r.seq, err, sizeof(err)) != 0)
            _exit(3);
        if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r)) /* only after the append returned */
            _exit(4);
    }
}

/* Every record parsed from the segment files, by sequence number. */
static size_t read_all_records(const char *dir, struct rec *out, unsigned char **bufs, size_t max)
{
    uint64_t firsts[512];
    size_t nseg = list_segs(dir, firsts, 512), total = 0;
    for (size_t k = 0; k < nseg; k++) {
        char path[256];
        seg_path(path, sizeof(path), dir, firsts[k]);
        size_t n;
        bufs[k] = slurp(path, &n);
        assert_non_null(bufs[k]);
        total += parse_records(bufs[k], n, out + total, max - total);
    }
    bufs[nseg] = NULL;
    return total;
}

/* A child appends in a loop and is killed at a random moment: every record
 * it was told is stored is there at the next open. */
static void test_sigkill_while_appending(void **state)
{
    struct fx *f = *state;
    static struct report reported[200000];
    static struct rec recs[200000];
    size_t nrep = 0;
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    for (uint32_t round = 0; round < 6; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_appends(f->dir, fds[1], round);
        }
        close(fds[1]);
        /* The kill falls at a random moment after the first append: timed
         * from the fork, a slow start (qemu-user, a loaded CI machine)
         * could leave nothing to test. */
        struct report r;
        size_t before = nrep;
        assert_int_equal(read(fds[0], &r, sizeof(r)), (ssize_t)sizeof(r));
        reported[nrep++] = r;
        usleep(20000 + (useconds_t)(rand() % 80000));
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        while (read(fds[0], &r, sizeof(r)) == (ssize_t)sizeof(r) && nrep < 200000)
            reported[nrep++] = r;
        close(fds[0]);
        assert_true(nrep > before); /* the child got to append */

        struct spool_opts o = opts_for(f->dir);
        struct spool *s = open_ok(&o); /* recovers */
        unsigned char *bufs[513];
        size_t n = read_all_records(f->dir, recs, bufs, 200000);
        assert_int_equal(stats_of(s).records, n);
        spool_close(s);
        for (size_t k = 0, j = 0; k < nrep; k++) {
            while (j < n && recs[j].seq < reported[k].seq)
                j++;
            assert_true(j < n);
            assert_int_equal(recs[j].seq, reported[k].seq);
            char want[64];
            snprintf(want, sizeof(want), "child-%u-%u", reported[k].round, reported[k].i);
            assert_int_equal(recs[j].len, strlen(want));
            assert_memory_equal(recs[j].body, want, recs[j].len);
        }
        for (size_t k = 0; bufs[k]; k++)
            free(bufs[k]);
    }
}

/* ---- the disk misbehaving under a running spool ------------------------------------ */

/* Someone deletes the segment being written (a technician "tidying up"):
 * the next append writes it back from the open file before storing, so a
 * kill -9 right after loses nothing. */
static void test_active_segment_deleted(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_ok(s, "one");
    append_ok(s, "two");
    char path[256];
    seg_path(path, sizeof(path), f->dir, 1);
    assert_int_equal(unlink(path), 0);
    append_ok(s, "three");
    struct stat st;
    assert_int_equal(stat(path, &st), 0); /* there again before the append returned */
    spool_close(s);
    s = open_ok(&o);
    expect_next(s, 1, "one");
    expect_next(s, 2, "two");
    expect_next(s, 3, "three");
    spool_close(s);
}

/* Deleted while the uplink is the only one working: its next peek writes it back. */
static void test_active_segment_deleted_then_peeked(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_ok(s, "one");
    append_ok(s, "two");
    char path[256];
    seg_path(path, sizeof(path), f->dir, 1);
    assert_int_equal(unlink(path), 0);
    expect_next(s, 1, "one");
    spool_close(s); /* as good as a kill: the file must be back */
    s = open_ok(&o);
    expect_next(s, 2, "two");
    expect_empty(s);
    spool_close(s);
}

/* Replaced by another file of the same name: ours comes back, theirs is
 * kept beside it, nothing of either is deleted. */
static void test_active_segment_replaced(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_ok(s, "one");
    char path[256];
    seg_path(path, sizeof(path), f->dir, 1);
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    spit(tmp, "someone else's file", 19, 0600);
    assert_int_equal(rename(tmp, path), 0);
    append_ok(s, "two");
    spool_close(s);
    s = open_ok(&o);
    expect_next(s, 1, "one");
    expect_next(s, 2, "two");
    spool_close(s);
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    bool kept = false;
    struct dirent *de;
    while ((de = readdir(d)))
        kept |= strstr(de->d_name, ".replaced-") != NULL;
    closedir(d);
    assert_true(kept);
}

/* A small filesystem of its own for the spool (root only: CI and the VM). */
static bool mount_small(struct fx *f, const char *size)
{
    char mnt[80];
    snprintf(mnt, sizeof(mnt), "%s/mnt", f->base);
    char opts[64];
    snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
    if (geteuid() != 0 || mkdir(mnt, 0700) != 0 || mount("tmpfs", mnt, "tmpfs", 0, opts) != 0)
        return false;
    snprintf(f->dir, sizeof(f->dir), "%s/spool", mnt);
    return true;
}

static void unmount_small(struct fx *f)
{
    char mnt[128];
    snprintf(mnt, sizeof(mnt), "%s/mnt", f->base);
    assert_int_equal(umount2(mnt, MNT_DETACH), 0);
}

/* Writes a file until the disk is full. */
static void fill(const char *dir, const char *name)
{
    char path[256];
    join(path, sizeof(path), dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    assert_true(fd >= 0);
    static char block[4096];
    while (write(fd, block, sizeof(block)) > 0)
        ;
    while (write(fd, block, 1) > 0)
        ;
    close(fd);
}

/* The disk fills up after records were stored: the acks still land (the
 * reserve, then the delivered segments, make room for the state file), so
 * the queue frees its own space instead of sending one record forever. */
static void test_full_disk_acks(void **state)
{
    struct fx *f = *state;
    if (!mount_small(f, "256k"))
        skip();
    struct spool_opts o = opts_for(f->dir);
    o.segment_bytes = 100; /* one record a segment: each ack can free a file */
    struct spool *s = open_ok(&o);
    char text[16][80];
    for (int i = 0; i < 16; i++) {
        payload(text[i], i + 1, 60);
        append_ok(s, text[i]);
    }
    fill(f->dir, "filler-1");
    expect_next(s, 1, text[0]); /* on the reserve */
    fill(f->dir, "filler-2");
    expect_next(s, 2, text[1]); /* the delivered segment of record 2 deleted first */
    fill(f->dir, "filler-3");
    for (int i = 3; i <= 16; i++)
        expect_next(s, (uint64_t)i, text[i - 1]);
    expect_empty(s);
    append_ok(s, "new"); /* the delivered segments' space is free again */
    spool_close(s);
    s = open_ok(&o); /* nothing delivered comes back */
    expect_next(s, 17, "new");
    spool_close(s);
    unmount_small(f);
}

/* All records in the one segment still written to: no file can go, and
 * the reserve alone lets the first ack land. The next fails and says
 * "disk full" (the uplink then retries the ack alone, never the record);
 * once space is freed it lands and the reserve is made again. */
static void test_full_disk_ack_uses_reserve(void **state)
{
    struct fx *f = *state;
    if (!mount_small(f, "1m"))
        skip();
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_three(s);
    char reserve[256];
    join(reserve, sizeof(reserve), f->dir, "reserve");
    struct stat st;
    assert_int_equal(stat(reserve, &st), 0);
    fill(f->dir, "filler");
    expect_next(s, 1, "one");
    assert_int_equal(stat(reserve, &st), -1); /* given up */
    fill(f->dir, "filler");
    char err[512] = "";
    assert_int_equal(spool_ack(s, 2, err, sizeof(err)), SPOOL_ERR_IO);
    assert_non_null(strstr(err, "disk full"));
    assert_int_equal(stats_of(s).records, 2);
    char filler[256];
    join(filler, sizeof(filler), f->dir, "filler");
    assert_int_equal(unlink(filler), 0);
    expect_next(s, 2, "two");
    assert_int_equal(stat(reserve, &st), 0); /* made again: there is room */
    spool_close(s);
    unmount_small(f);
}

/* The state file cannot be written (here a directory squats its temporary
 * name; in the field a read-only remount or a wrong owner): the ack fails
 * and says why, the record stays, and it is acked once that is fixed. */
static void test_unwritable_state_ack_fails_then_lands(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = opts_for(f->dir);
    struct spool *s = open_ok(&o);
    append_three(s);
    char tmp[256];
    join(tmp, sizeof(tmp), f->dir, "delivered.tmp");
    assert_int_equal(mkdir(tmp, 0700), 0);
    char err[512] = "";
    assert_int_equal(spool_ack(s, 1, err, sizeof(err)), SPOOL_ERR_IO);
    assert_non_null(strstr(err, "delivered.tmp"));
    assert_int_equal(stats_of(s).records, 3);
    assert_int_equal(rmdir(tmp), 0);
    expect_next(s, 1, "one");
    spool_close(s);
    s = open_ok(&o);
    expect_next(s, 2, "two");
    spool_close(s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_crc_and_record_layout),
        T(test_order_across_rolls_and_reopen),
        T(test_state_file_contents),
        T(test_power_cut_plain),
        T(test_power_cut_sealed),
        T(test_bit_rot_middle_of_older_segment),
        T(test_bit_rot_end_of_older_segment),
        T(test_bit_rot_in_last_segment_keeps_later_records),
        T(test_out_of_order_records_rejected),
        T(test_damaged_after_open_set_aside),
        T(test_leftover_state_tmp_ignored),
        T(test_corrupt_state_redelivers),
        T(test_full_boundary),
        T(test_full_refuses_and_recovers),
        T(test_record_size_limits),
        T(test_expired_records_go_to_dead_letters),
        T(test_full_spool_expires_old_records),
        T(test_dead_letter_in_order_and_torn_dead_log),
        T(test_long_dead_log_torn_end),
        T(test_sealed_round_trip_and_no_clear_text),
        T(test_wrong_key_keeps_record),
        T(test_plain_records_read_with_key),
        T(test_load_key_raw_and_hex),
        T(test_load_key_refusals),
        T(test_bad_options),
        T(test_directory_not_creatable),
        T(test_directory_read_only),
        T(test_second_open_refused),
        T(test_threads_append_while_delivering),
        T(test_sigkill_while_appending),
        T(test_active_segment_deleted),
        T(test_active_segment_deleted_then_peeked),
        T(test_active_segment_replaced),
        T(test_full_disk_acks),
        T(test_full_disk_ack_uses_reserve),
        T(test_unwritable_state_ack_fails_then_lands),
    };
#undef T
    /* Recovery logs its findings on stderr; the tests provoke many. */
    return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}
