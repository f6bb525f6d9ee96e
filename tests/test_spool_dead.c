/* test_spool_dead.c - dead letters read back, requeued and purged.
 *
 * The reader (dead.log and the queue, without the lock), the counts,
 * requeue (payload byte for byte, new sequence numbers, removal from
 * dead.log, a crash between the append and the rewrite, a full queue, the
 * choice by reason and by sequence number) and purge by age, with plain and
 * sealed records, damage in the middle, a torn end, and no key. dead.log is
 * changed here by an independent writer from docs/spool.md (its own CRC). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "delivery/spool.h"

#define MiB (1024u * 1024u)
#define HDR 28
#define FRAME 32
#define DAY 86400

struct fx {
    char base[64];
    char dir[128]; /* base/spool */
    char path[160]; /* base/spool/dead.log */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->base, sizeof(f->base), "%s/test_spool_dead.XXXXXX", tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    if (!mkdtemp(f->base)) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/spool", f->base);
    snprintf(f->path, sizeof(f->path), "%s/dead.log", f->dir);
    *state = f;
    return 0;
}

static void rm_rf(const char *path)
{
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
    rm_rf(f->base);
    free(f);
    return 0;
}

/* ---- the format, independently (docs/spool.md) ---------------------------------------- */

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

static void spit(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Offsets of the records of a file, read while they are intact. */
static size_t record_offsets(const unsigned char *data, size_t n, size_t *off, size_t max)
{
    size_t at = 0, count = 0;
    while (count < max && n - at >= FRAME && data[at] == 0xff) {
        uint32_t len = le32(data + at + 8);
        if (len > n - at - FRAME || t_crc32c(data + at + 4, HDR - 4 + len) != le32(data + at + HDR + len))
            break;
        off[count++] = at;
        at += FRAME + len;
    }
    return count;
}

/* Sets the set-aside time of the i-th dead letter (its CRC made right). */
static void set_aside_at(const char *path, size_t i, int64_t t)
{
    size_t n, off[64];
    unsigned char *data = slurp(path, &n);
    assert_non_null(data);
    assert_true(record_offsets(data, n, off, 64) > i);
    unsigned char *p = data + off[i];
    uint32_t len = le32(p + 8);
    size_t rl = (size_t)p[HDR] | (size_t)p[HDR + 1] << 8;
    put_le64(p + HDR + 2 + rl, (uint64_t)t);
    put_le32(p + HDR + len, t_crc32c(p + 4, HDR - 4 + len));
    spit(path, data, n);
    free(data);
}

/* The path of the last segment (the names sort as their sequence numbers). */
static void newest_seg(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    char newest[256] = "";
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, "seg-", 4) && strcmp(de->d_name, newest) > 0)
            snprintf(newest, sizeof(newest), "%s", de->d_name);
    closedir(d);
    assert_true(newest[0] != '\0');
    snprintf(out, cap, "%s/%s", dir, newest);
}

/* ---- spool helpers ------------------------------------------------------------------ */

static const uint8_t key_a[SPOOL_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                              17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const uint8_t key_b[SPOOL_KEY_LEN] = { 2 };

static struct spool *open_ok(const char *dir, const uint8_t *key)
{
    struct spool_opts o = { .dir = dir, .max_bytes = 64 * MiB, .key = key };
    struct spool *s = NULL;
    char err[512] = "";
    int rc = spool_open(&s, &o, err, sizeof(err));
    if (rc != 0)
        fail_msg("spool_open(%s) = %d: %s", dir, rc, err);
    return s;
}

/* A check-in body like checkin_build's, with key desk-t-<i>. */
static void checkin(char *out, size_t cap, int i)
{
    snprintf(out, cap,
             "{\"schema\":1,\"idempotency_key\":\"desk-t-%032d\",\"device_id\":\"desk-t\","
             "\"id_number\":\"0790900%05d\",\"full_name\":\"Ngô Bảo Châu\"}", i, i);
}

static uint64_t append_checkin(struct spool *s, int i)
{
    char body[256], err[256] = "";
    uint64_t seq = 0;
    checkin(body, sizeof(body), i);
    if (spool_append(s, body, strlen(body), &seq, err, sizeof(err)) != 0)
        fail_msg("spool_append: %s", err);
    return seq;
}

/* Sets the oldest undelivered record aside with reason. */
static void bury(struct spool *s, const char *reason)
{
    static unsigned char buf[SPOOL_RECORD_MAX];
    uint64_t seq;
    size_t len;
    char err[256] = "";
    if (spool_peek(s, &seq, buf, sizeof(buf), &len, err, sizeof(err)) != 0)
        fail_msg("spool_peek: %s", err);
    if (spool_dead_letter(s, seq, reason, err, sizeof(err)) != 0)
        fail_msg("spool_dead_letter: %s", err);
}

/* Appends check-ins first..last and sets each aside with reason. */
static void make_dead(struct spool *s, int first, int last, const char *reason)
{
    for (int i = first; i <= last; i++) {
        append_checkin(s, i);
        bury(s, reason);
    }
}

struct got {
    struct spool_item it;
    unsigned char payload[512];
};

/* Every record a reader gives; payloads copied. */
static size_t read_all(const char *dir, bool dead, const uint8_t *key, struct got *out, size_t max,
                       uint64_t *damaged, uint64_t *tail)
{
    struct spool_reader *r = NULL;
    char err[512] = "";
    if (spool_reader_open(&r, dir, dead, key, err, sizeof(err)) != 0)
        fail_msg("spool_reader_open: %s", err);
    size_t n = 0;
    struct spool_item it;
    int rc;
    while ((rc = spool_reader_next(r, &it, err, sizeof(err))) == 1) {
        assert_true(n < max);
        out[n].it = it;
        if (it.payload && it.len <= sizeof(out[n].payload))
            memcpy(out[n].payload, it.payload, it.len);
        out[n].it.payload = it.payload ? out[n].payload : NULL;
        n++;
    }
    if (rc != 0)
        fail_msg("spool_reader_next = %d: %s", rc, err);
    uint64_t d, t;
    spool_reader_damage(r, &d, &t);
    if (damaged)
        *damaged = d;
    if (tail)
        *tail = t;
    spool_reader_close(r);
    return n;
}

static void expect_checkin(const struct got *g, int i)
{
    char body[256];
    checkin(body, sizeof(body), i);
    assert_int_equal(g->it.state, SPOOL_ITEM_OK);
    assert_int_equal(g->it.len, strlen(body));
    assert_memory_equal(g->it.payload, body, g->it.len);
}

/* Peeks the head, checks it is check-in i with sequence number seq, acks it. */
static void expect_next(struct spool *s, uint64_t want_seq, int i)
{
    static char buf[SPOOL_RECORD_MAX];
    char body[256], err[512] = "";
    uint64_t seq = 0;
    size_t len = 0;
    checkin(body, sizeof(body), i);
    if (spool_peek(s, &seq, buf, sizeof(buf), &len, err, sizeof(err)) != 0)
        fail_msg("spool_peek: %s (wanted check-in %d)", err, i);
    assert_int_equal(seq, want_seq);
    assert_int_equal(len, strlen(body));
    assert_memory_equal(buf, body, len);
    assert_int_equal(spool_ack(s, seq, err, sizeof(err)), 0);
}

static void expect_empty(struct spool *s)
{
    char buf[64], err[256];
    uint64_t seq;
    size_t len;
    assert_int_equal(spool_peek(s, &seq, buf, sizeof(buf), &len, err, sizeof(err)), SPOOL_ERR_EMPTY);
}

static struct spool_requeue_result requeue_ok(struct spool *s, const struct spool_dead_select *which)
{
    struct spool_requeue_result res;
    char err[512] = "";
    if (spool_dead_requeue(s, which, &res, err, sizeof(err)) != 0)
        fail_msg("spool_dead_requeue: %s", err);
    return res;
}

static struct spool_dead_stats dead_stats(const char *dir)
{
    struct spool_dead_stats st;
    char err[512] = "";
    if (spool_dead_stats(dir, &st, err, sizeof(err)) != 0)
        fail_msg("spool_dead_stats: %s", err);
    return st;
}

/* ---- reading ------------------------------------------------------------------------ */

/* Plain dead letters, then sealed ones (a key configured later): all read
 * back with the key, in order, with their times, reasons and payloads. */
static void test_list_plain_and_sealed(void **state)
{
    struct fx *f = *state;
    int64_t before = (int64_t)time(NULL);
    struct spool *s = open_ok(f->dir, NULL);
    make_dead(s, 1, 2, "HTTP 403 from his.example.vn");
    spool_close(s);
    s = open_ok(f->dir, key_a);
    make_dead(s, 3, 4, "expired");
    spool_close(s);

    static struct got g[8];
    uint64_t damaged, tail;
    assert_int_equal(read_all(f->dir, true, key_a, g, 8, &damaged, &tail), 4);
    assert_int_equal(damaged + tail, 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(g[i].it.seq, (uint64_t)i + 1);
        assert_int_equal(g[i].it.sealed, i >= 2);
        assert_string_equal(g[i].it.reason, i < 2 ? "HTTP 403 from his.example.vn" : "expired");
        assert_true(g[i].it.appended_unix >= before && g[i].it.appended_unix <= before + 5);
        assert_true(g[i].it.set_aside_unix >= g[i].it.appended_unix && g[i].it.set_aside_unix <= before + 5);
        expect_checkin(&g[i], i + 1);
    }
    assert_int_equal(g[0].it.offset, 0);
    assert_int_equal(g[1].it.offset, g[0].it.size);
    assert_int_equal(size_of(f->path), g[3].it.offset + g[3].it.size);

    /* A wrong key: the sealed ones say so, the plain ones are still read. */
    assert_int_equal(read_all(f->dir, true, key_b, g, 8, NULL, NULL), 4);
    expect_checkin(&g[1], 2);
    assert_int_equal(g[2].it.state, SPOOL_ITEM_WRONG_KEY);
    assert_null(g[2].it.payload);
}

/* A sealed dead letter and no key: listed as such, the list goes on. */
static void test_sealed_without_key(void **state)
{
    struct fx *f = *state;
    struct spool *s = open_ok(f->dir, key_a);
    make_dead(s, 1, 1, "HTTP 400 from h");
    spool_close(s);
    s = open_ok(f->dir, NULL);
    make_dead(s, 2, 2, "HTTP 400 from h");
    static struct got g[4];
    assert_int_equal(read_all(f->dir, true, NULL, g, 4, NULL, NULL), 2);
    assert_int_equal(g[0].it.state, SPOOL_ITEM_NO_KEY);
    assert_true(g[0].it.sealed);
    assert_int_equal(g[0].it.seq, 1);
    assert_string_equal(g[0].it.reason, "HTTP 400 from h");
    assert_null(g[0].it.payload);
    expect_checkin(&g[1], 2);

    /* Requeue without the key leaves it where it is, and says so. */
    off_t size = size_of(f->path);
    struct spool_requeue_result res = requeue_ok(s, NULL);
    assert_int_equal(res.unreadable, 1);
    assert_int_equal(res.requeued, 1);
    assert_int_equal(res.first_seq, 3);
    expect_next(s, 3, 2);
    spool_close(s);
    assert_int_equal(read_all(f->dir, true, NULL, g, 4, NULL, NULL), 1);
    assert_int_equal(g[0].it.seq, 1);
    assert_true(size_of(f->path) < size);

    /* With the key it comes back. */
    s = open_ok(f->dir, key_a);
    res = requeue_ok(s, NULL);
    assert_int_equal(res.requeued, 1);
    expect_next(s, 4, 1);
    spool_close(s);
    assert_int_equal(dead_stats(f->dir).records, 0);
}

/* Damage in the middle is skipped and counted, the records after it are
 * read; a torn end is counted as the tail. Nothing is written. */
static void test_list_damaged_middle_and_torn_end(void **state)
{
    struct fx *f = *state;
    struct spool *s = open_ok(f->dir, NULL);
    make_dead(s, 1, 5, "HTTP 403 from h");
    spool_close(s);
    size_t n, off[8];
    unsigned char *data = slurp(f->path, &n);
    assert_non_null(data);
    assert_int_equal(record_offsets(data, n, off, 8), 5);
    size_t third = off[3] - off[2];
    data[off[2] + HDR + 20] ^= 0x40; /* inside its payload */
    size_t cut = 9;
    spit(f->path, data, n - cut);
    free(data);

    static struct got g[8];
    uint64_t damaged, tail;
    assert_int_equal(read_all(f->dir, true, NULL, g, 8, &damaged, &tail), 3);
    assert_int_equal(g[0].it.seq, 1);
    assert_int_equal(g[1].it.seq, 2);
    assert_int_equal(g[2].it.seq, 4);
    expect_checkin(&g[2], 4);
    assert_int_equal(damaged, third);
    assert_int_equal(tail, n - cut - off[4]);
    assert_int_equal(size_of(f->path), (off_t)(n - cut)); /* read only */

    struct spool_dead_stats st = dead_stats(f->dir);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.bytes, n - cut);
    assert_int_equal(st.damaged_bytes, damaged + tail);
}

/* dead.log far larger than the reader's window: every record comes back, in
 * order, and damage lying across a window's edge is skipped. */
static void test_list_long_dead_log(void **state)
{
    struct fx *f = *state;
    struct spool *s = open_ok(f->dir, NULL);
    char body[400];
    for (int i = 1; i <= 600; i++) {
        memset(body, 'x', 300);
        snprintf(body, 20, "record-%04d", i);
        body[11] = ':';
        uint64_t seq;
        char err[256];
        assert_int_equal(spool_append(s, body, 300, &seq, err, sizeof(err)), 0);
        bury(s, "HTTP 422 from h");
    }
    spool_close(s);
    size_t n;
    unsigned char *data = slurp(f->path, &n);
    assert_non_null(data);
    size_t one = FRAME + 10 + 15 + 300;
    assert_int_equal(n, 600 * one);
    data[400 * one + 5] ^= 1; /* record 401, past several windows */
    spit(f->path, data, n);
    free(data);

    static struct got g[600];
    uint64_t damaged, tail;
    assert_int_equal(read_all(f->dir, true, NULL, g, 600, &damaged, &tail), 599);
    assert_int_equal(damaged, one);
    assert_int_equal(tail, 0);
    for (size_t i = 0; i < 599; i++) {
        uint64_t want = i < 400 ? i + 1 : i + 2;
        assert_int_equal(g[i].it.seq, want);
        snprintf(body, sizeof(body), "record-%04d:", (int)want);
        assert_memory_equal(g[i].it.payload, body, 12);
        assert_int_equal(g[i].it.len, 300);
    }
}

/* The queue read without the lock, beside the open spool: only undelivered
 * records, across segments, sealed opened with the key, a torn end kept out. */
static void test_list_queue_beside_the_service(void **state)
{
    struct fx *f = *state;
    struct spool_opts o = { .dir = f->dir, .max_bytes = 64 * MiB, .key = key_a, .segment_bytes = 600 };
    struct spool *s = NULL;
    char err[512] = "";
    assert_int_equal(spool_open(&s, &o, err, sizeof(err)), 0);
    for (int i = 1; i <= 10; i++)
        append_checkin(s, i);
    expect_next(s, 1, 1);
    expect_next(s, 2, 2);
    expect_next(s, 3, 3);
    static struct got g[16];
    uint64_t damaged, tail;
    assert_int_equal(read_all(f->dir, false, key_a, g, 16, &damaged, &tail), 7); /* while s holds the lock */
    for (int i = 0; i < 7; i++) {
        assert_int_equal(g[i].it.seq, (uint64_t)i + 4);
        assert_true(g[i].it.sealed);
        assert_int_equal(g[i].it.set_aside_unix, 0);
        assert_string_equal(g[i].it.reason, "");
        expect_checkin(&g[i], i + 4);
    }
    assert_int_equal(damaged + tail, 0);
    assert_int_equal(read_all(f->dir, false, NULL, g, 16, NULL, NULL), 7);
    assert_int_equal(g[0].it.state, SPOOL_ITEM_NO_KEY);

    /* A record half written by the service: the tail, not an error. */
    append_checkin(s, 11);
    char seg[512];
    newest_seg(f->dir, seg, sizeof(seg));
    assert_int_equal(truncate(seg, size_of(seg) - 3), 0);
    assert_int_equal(read_all(f->dir, false, key_a, g, 16, &damaged, &tail), 7);
    assert_int_equal(damaged, 0);
    assert_true(tail > 0);
    spool_close(s);
}

/* ---- requeue ------------------------------------------------------------------------ */

/* The payload comes back byte for byte (the same idempotency key), with new
 * sequence numbers, and dead.log no longer holds it. */
static void test_requeue_keeps_payload(void **state)
{
    struct fx *f = *state;
    struct spool *s = open_ok(f->dir, key_a);
    make_dead(s, 1, 3, "HTTP 403 from his.example.vn");
    append_checkin(s, 4); /* still queued */
    struct spool_requeue_result res = requeue_ok(s, NULL);
    assert_int_equal(res.requeued, 3);
    assert_int_equal(res.already_queued + res.corrupt + res.unreadable, 0);
    assert_int_equal(res.first_seq, 5);
    assert_int_equal(res.last_seq, 7);
    assert_int_equal(dead_stats(f->dir).records, 0);
    assert_int_equal(size_of(f->path), 0);
    spool_close(s);

    s = open_ok(f->dir, key_a); /* durable: read back after a reopen */
    expect_next(s, 4, 4);
    expect_next(s, 5, 1);
    expect_next(s, 6, 2);
    expect_next(s, 7, 3);
    expect_empty(s);
    spool_close(s);
}

/* After a requeue the open spool sets records aside into the new dead.log,
 * not into the file the rewrite replaced. */
static void test_dead_letter_after_requeue(void **state)
{
    struct fx *f = *state;
    struct spool *s = open_ok(f->dir, NULL);
    make_dead(s, 1, 2, "HTTP 403 from h");
    struct spool_dead_select one = { .seqs = (const uint64_t[]){ 1 }, .nseqs = 1 };
    assert_int_equal(requeue_ok(s, &one).requeued, 1);
    bury(s, "HTTP 410 from h"); /* the requeued record, seq 3 */
    spool_close(s);
    static struct got g[4];
    assert_int_equal(read_all(f->dir, true, NULL, g, 4, NULL, NULL), 2);
    assert_int_equal(g[0].it.seq, 2);
    assert_int_equal(g[1].it.seq, 3);
    assert_string_equal(g[1].it.reason, "HTTP 410 from h");
    expect_checkin(&g[1], 1);
}

/* Chosen by reason (its start) or by sequence number; "corrupt" ones are
 * never requeued and stay. */
static void test_requeue_choice_and_corrupt(void **state)
{
    struct fx *f = *state;
    struct spool *s = open_ok(f->dir, NULL);
    make_dead(s, 1, 2, "HTTP 403 from h");
    make_dead(s, 3, 3, "expired");
    append_checkin(s, 4);
    spool_close(s);
    char seg[512];
    newest_seg(f->dir, seg, sizeof(seg));
    size_t n;
    unsigned char *data = slurp(seg, &n);
    assert_non_null(data);
    data[n - 8] ^= 1; /* record 4, damaged after open: set aside as corrupt */
    s = open_ok(f->dir, NULL);
    spit(seg, data, n);
    free(data);
    expect_empty(s);

    struct spool_dead_select by_reason = { .reason = "HTTP 4" };
    struct spool_requeue_result res = requeue_ok(s, &by_reason);
    assert_int_equal(res.requeued, 2);
    assert_int_equal(res.corrupt, 0);
    struct spool_dead_select by_seq = { .seqs = (const uint64_t[]){ 4, 3 }, .nseqs = 2 };
    res = requeue_ok(s, &by_seq);
    assert_int_equal(res.requeued, 1);
    assert_int_equal(res.corrupt, 1);
    expect_next(s, 5, 1);
    expect_next(s, 6, 2);
    expect_next(s, 7, 3);
    expect_empty(s);
    spool_close(s);
    static struct got g[4];
    assert_int_equal(read_all(f->dir, true, NULL, g, 4, NULL, NULL), 1);
    assert_int_equal(g[0].it.seq, 4);
    assert_int_equal(g[0].it.state, SPOOL_ITEM_CORRUPT);
    assert_string_equal(g[0].it.reason, "corrupt");
    assert_true(g[0].it.len > FRAME); /* the raw bytes, framing and all */
}

/* A crash after the appends and before the rewrite: the records are both
 * queued and in dead.log. Nothing is lost, and the next requeue only takes
 * them out of dead.log: no record is queued twice. */
static void test_requeue_crash_before_rewrite(void **state)
{
    struct fx *f = *state;
    struct spool *s = open_ok(f->dir, key_a);
    make_dead(s, 1, 3, "HTTP 403 from h");
    spool_close(s);
    size_t n;
    unsigned char *before = slurp(f->path, &n);
    assert_non_null(before);
    s = open_ok(f->dir, key_a);
    assert_int_equal(requeue_ok(s, NULL).requeued, 3);
    spool_close(s);
    spit(f->path, before, n); /* as if the rename never happened */
    free(before);

    s = open_ok(f->dir, key_a);
    struct spool_requeue_result res = requeue_ok(s, NULL);
    assert_int_equal(res.requeued, 0);
    assert_int_equal(res.already_queued, 3);
    assert_int_equal(dead_stats(f->dir).records, 0);
    expect_next(s, 4, 1);
    expect_next(s, 5, 2);
    expect_next(s, 6, 3);
    expect_empty(s);
    spool_close(s);
}

/* The same record twice in dead.log (a set-aside interrupted before its
 * ack): queued once. */
static void test_requeue_twins_once(void **state)
{
    struct fx *f = *state;
    struct spool *s = open_ok(f->dir, NULL);
    make_dead(s, 1, 1, "HTTP 403 from h");
    spool_close(s);
    size_t n;
    unsigned char *data = slurp(f->path, &n);
    assert_non_null(data);
    unsigned char *twice = malloc(2 * n);
    assert_non_null(twice);
    memcpy(twice, data, n);
    memcpy(twice + n, data, n);
    spit(f->path, twice, 2 * n);
    free(twice);
    free(data);
    s = open_ok(f->dir, NULL);
    struct spool_requeue_result res = requeue_ok(s, NULL);
    assert_int_equal(res.requeued, 1);
    assert_int_equal(res.already_queued, 1);
    expect_next(s, 2, 1);
    expect_empty(s);
    spool_close(s);
    assert_int_equal(size_of(f->path), 0);
}

/* A queue that fills up: what fitted is queued and out of dead.log, the
 * rest stays there; SPOOL_ERR_FULL says so. */
static void test_requeue_full(void **state)
{
    struct fx *f = *state;
    struct spool *s = open_ok(f->dir, NULL);
    make_dead(s, 1, 4, "HTTP 403 from h");
    spool_close(s);
    char body[256];
    checkin(body, sizeof(body), 1);
    struct spool_opts o = { .dir = f->dir, .max_bytes = 2 * (FRAME + strlen(body)) };
    char err[512] = "";
    assert_int_equal(spool_open(&s, &o, err, sizeof(err)), 0);
    struct spool_requeue_result res;
    assert_int_equal(spool_dead_requeue(s, NULL, &res, err, sizeof(err)), SPOOL_ERR_FULL);
    assert_non_null(strstr(err, "full"));
    assert_int_equal(res.requeued, 2);
    spool_close(s);
    static struct got g[4];
    assert_int_equal(read_all(f->dir, true, NULL, g, 4, NULL, NULL), 2);
    assert_int_equal(g[0].it.seq, 3);
    assert_int_equal(g[1].it.seq, 4);
}

/* ---- purge ------------------------------------------------------------------------- */

/* Only those set aside longer ago than the limit go; damaged bytes and
 * everything else stay byte for byte. */
static void test_purge_by_age(void **state)
{
    struct fx *f = *state;
    struct spool *s = open_ok(f->dir, NULL);
    make_dead(s, 1, 4, "HTTP 403 from h");
    spool_close(s);
    int64_t now = (int64_t)time(NULL);
    set_aside_at(f->path, 0, now - 10 * DAY);
    set_aside_at(f->path, 2, now - 3 * DAY);
    set_aside_at(f->path, 3, now - 1 * DAY);
    size_t n, off[8];
    unsigned char *data = slurp(f->path, &n);
    assert_non_null(data);
    assert_int_equal(record_offsets(data, n, off, 8), 4);
    unsigned char junk[7] = { 0xff, 'S', 'P', 'X', 1, 2, 3 };
    unsigned char *more = malloc(n + sizeof(junk));
    assert_non_null(more);
    memcpy(more, data, off[2]);
    memcpy(more + off[2], junk, sizeof(junk)); /* damage between records 2 and 3 */
    memcpy(more + off[2] + sizeof(junk), data + off[2], n - off[2]);
    spit(f->path, more, n + sizeof(junk));

    s = open_ok(f->dir, NULL);
    uint64_t removed = 9;
    char err[512] = "";
    assert_int_equal(spool_dead_purge(s, -1, &removed, err, sizeof(err)), SPOOL_ERR_CONFIG);
    assert_int_equal(spool_dead_purge(s, 30 * DAY, &removed, err, sizeof(err)), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(spool_dead_purge(s, 2 * DAY, &removed, err, sizeof(err)), 0);
    assert_int_equal(removed, 2);
    spool_close(s);

    size_t m;
    unsigned char *after = slurp(f->path, &m);
    assert_non_null(after);
    size_t keep1 = off[2] - off[1], keep3 = n - off[3];
    assert_int_equal(m, keep1 + sizeof(junk) + keep3);
    assert_memory_equal(after, data + off[1], keep1);
    assert_memory_equal(after + keep1, junk, sizeof(junk));
    assert_memory_equal(after + keep1 + sizeof(junk), data + off[3], keep3);
    free(after);
    free(more);
    free(data);
    static struct got g[4];
    uint64_t damaged;
    assert_int_equal(read_all(f->dir, true, NULL, g, 4, &damaged, NULL), 2);
    assert_int_equal(g[0].it.seq, 2);
    assert_int_equal(g[1].it.seq, 4);
    assert_int_equal(damaged, sizeof(junk));
    struct spool_dead_stats st = dead_stats(f->dir);
    assert_int_equal(st.records, 2);
    assert_true(st.oldest_set_aside_unix >= now - DAY - 1 && st.oldest_set_aside_unix <= now);
}

/* ---- errors ------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    struct fx *f = *state;
    struct spool_reader *r = NULL;
    char err[512] = "";
    assert_int_equal(spool_reader_open(&r, f->dir, true, NULL, err, sizeof(err)), SPOOL_ERR_IO);
    assert_null(r);
    assert_non_null(strstr(err, f->dir));
    assert_int_equal(spool_reader_open(&r, "", true, NULL, err, sizeof(err)), SPOOL_ERR_CONFIG);

    /* No dead.log yet: nothing to list, nothing to requeue. */
    struct spool *s = open_ok(f->dir, NULL);
    assert_int_equal(dead_stats(f->dir).records, 0);
    assert_int_equal(dead_stats(f->dir).bytes, 0);
    struct spool_requeue_result res = requeue_ok(s, NULL);
    assert_int_equal(res.requeued, 0);
    uint64_t removed;
    assert_int_equal(spool_dead_purge(s, 0, &removed, err, sizeof(err)), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(size_of(f->path), -1); /* not made by either */
    assert_int_equal(spool_dead_requeue(NULL, NULL, &res, err, sizeof(err)), SPOOL_ERR_CONFIG);
    spool_close(s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_list_plain_and_sealed),
        T(test_sealed_without_key),
        T(test_list_damaged_middle_and_torn_end),
        T(test_list_long_dead_log),
        T(test_list_queue_beside_the_service),
        T(test_requeue_keeps_payload),
        T(test_dead_letter_after_requeue),
        T(test_requeue_choice_and_corrupt),
        T(test_requeue_crash_before_rewrite),
        T(test_requeue_twins_once),
        T(test_requeue_full),
        T(test_purge_by_age),
        T(test_errors),
    };
#undef T
    /* The spool logs what it sets aside and requeues on stderr. */
    return cmocka_run_group_tests_name("spool dead letters", tests, NULL, NULL);
}
