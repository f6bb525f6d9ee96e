/* fuzz_spool_recover.c - any bytes in the spool's files: open recovers,
 * every record handed out is whole and in order, and the queue works after.
 *
 * Input layout (docs/spool.md, "Fuzzing"):
 *   byte 0     flags: 1 open with the key, 2 write segment B, 4 write the
 *              state file, 8 write dead.log, 16 ten-year age limit
 *   byte 1     first sequence number of segment B (its file name)
 *   bytes 2-3  length of segment A (little-endian), clipped
 *   byte 4     length of the state file text, clipped
 *   then       segment A (seg-0000000000000001.log), the state text, and
 *              the rest as segment B and/or dead.log
 * Files go to one directory per process (on /dev/shm when there is one, so
 * fsync costs nothing), emptied before each input. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "base/log.h"
#include "delivery/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* The key the seed corpus's sealed records were written with. */
static const uint8_t fuzz_key[SPOOL_KEY_LEN] = "cccd-reader fuzz key 0123456789";

static char dir[128];

static void empty_dir(const char *path);

static void remove_work_dir(void)
{
    empty_dir(dir);
    rmdir(dir);
    *strrchr(dir, '/') = '\0';
    rmdir(dir);
}

static const char *work_dir(void)
{
    if (dir[0])
        return dir;
    char base[64];
    snprintf(base, sizeof(base), "%s/fuzz_spool.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(base))
        abort();
    snprintf(dir, sizeof(dir), "%s/spool", base);
    log_set_level(LOG_CRIT); /* recovery reports every damaged byte it meets */
    atexit(remove_work_dir);
    return dir;
}

static void empty_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        if (mkdir(path, 0700) != 0)
            abort();
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char file[256];
        snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
        if (unlink(file) != 0)
            abort();
    }
    closedir(d);
}

static void put_file(const char *where, const char *name, const uint8_t *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", where, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
        abort();
    close(fd);
}

static struct spool *open_or_die(const struct spool_opts *o)
{
    struct spool *s = NULL;
    char err[512] = "";
    int rc = spool_open(&s, o, err, sizeof(err));
    /* Damage is recovered from, never refused; the one exception is a
     * record claiming the last sequence number there is. */
    if (rc != 0 && !strstr(err, "used up")) {
        fprintf(stderr, "spool_open: %d %s\n", rc, err);
        abort();
    }
    return s;
}

static uint64_t append_marker(struct spool *s)
{
    uint64_t seq = 0;
    char err[512] = "";
    if (spool_append(s, "fuzz-marker", 11, &seq, err, sizeof(err)) != 0)
        abort();
    return seq;
}

/* Delivers everything: records come out whole and in order, the marker
 * appended after recovery last of all; records the key cannot open are set
 * aside. */
static void drain(struct spool *s, uint64_t marker)
{
    static uint8_t buf[SPOOL_RECORD_MAX];
    uint64_t last = 0;
    for (int i = 0; i < 4096; i++) {
        uint64_t seq = 0;
        size_t n = 0;
        char err[512] = "";
        int rc = spool_peek(s, &seq, buf, sizeof(buf), &n, err, sizeof(err));
        if (rc == SPOOL_ERR_EMPTY && last == marker)
            return;
        if ((rc != 0 && rc != SPOOL_ERR_KEY) || seq <= last || seq > marker || n > SPOOL_RECORD_MAX)
            abort();
        if (seq == marker && (rc != 0 || n != 11 || memcmp(buf, "fuzz-marker", 11) != 0))
            abort();
        last = seq;
        rc = rc ? spool_dead_letter(s, seq, "fuzz: key", err, sizeof(err)) : spool_ack(s, seq, err, sizeof(err));
        if (rc != 0)
            abort();
    }
    abort(); /* more records than the input can hold */
}

/* After a clean close nothing is torn, and the counts add up. */
static struct spool *reopen_clean(const struct spool_opts *o, uint64_t records)
{
    struct spool *s = open_or_die(o);
    struct spool_stats st;
    spool_get_stats(s, &st);
    if (!s || st.torn_bytes_cut || st.records != records || st.bytes < records * 32)
        abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 5)
        return 0;
    work_dir();
    empty_dir(dir);
    uint8_t flags = data[0];
    size_t a = (size_t)data[2] | (size_t)data[3] << 8, state_len = data[4];
    data += 5;
    len -= 5;
    a = a < len ? a : len;
    state_len = state_len < len - a ? state_len : len - a;
    put_file(dir, "seg-0000000000000001.log", data, a);
    if (flags & 4)
        put_file(dir, "delivered", data + a, state_len);
    char name[32];
    snprintf(name, sizeof(name), "seg-%016" PRIx64 ".log", (uint64_t)(data[-4] > 1 ? data[-4] : 2));
    if (flags & 2)
        put_file(dir, name, data + a + state_len, len - a - state_len);
    if (flags & 8)
        put_file(dir, "dead.log", data + a + state_len, len - a - state_len);

    struct spool_opts o = { .dir = dir, .max_bytes = 1u << 20, .segment_bytes = 4096,
                            .key = (flags & 1) ? fuzz_key : NULL, .max_age_s = (flags & 16) ? 315360000 : 0 };
    struct spool *s = open_or_die(&o);
    if (!s)
        return 0;
    struct spool_stats st;
    spool_get_stats(s, &st);
    /* The next append goes right after the last intact record. */
    uint64_t marker = append_marker(s);
    spool_close(s);
    s = reopen_clean(&o, st.records + 1);
    drain(s, marker);
    marker = append_marker(s);
    spool_close(s);
    s = reopen_clean(&o, 1);
    drain(s, marker);
    spool_close(s);
    return 0;
}
