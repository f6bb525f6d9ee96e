/* bench_spool.c - what durability costs on this disk.
 *
 *   bench_spool [DIR] [--records N] [--size BYTES]
 *
 * In a fresh spool under DIR (default: the current directory; run it on
 * the disk the terminal uses, e.g. /var/lib/cccd-reader), measures:
 * appends per second, each one fdatasync'd before the next (plain, then
 * sealed with AES-256-GCM), the append latency (median, 99th percentile),
 * peek + ack per second (each ack is a state-file replace: two fsyncs), and
 * the time to open (recover) a spool holding N records. The spool is
 * deleted afterwards. See docs/spool.md for the numbers of one run.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "delivery/spool.h"

struct run {
    double per_s;      /* operations per second */
    double median_ms;  /* per operation */
    double p99_ms;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static struct run summarise(int64_t *lat, int n, int64_t total_us)
{
    qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
    return (struct run){ .per_s = n * 1e6 / (double)(total_us ? total_us : 1),
                         .median_ms = lat[n / 2] / 1000.0,
                         .p99_ms = lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0 };
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        char path[1024];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static struct spool *open_spool(const char *dir, const uint8_t *key)
{
    struct spool_opts o = { .dir = dir, .max_bytes = 1u << 30, .key = key };
    struct spool *s = NULL;
    char err[512];
    if (spool_open(&s, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_spool: %s\n", err);
        return NULL;
    }
    return s;
}

static int measure_appends(const char *dir, const uint8_t *key, int n, size_t size, int64_t *lat, struct run *out)
{
    struct spool *s = open_spool(dir, key);
    if (!s)
        return -1;
    char *payload = malloc(size), err[512];
    if (!payload) {
        spool_close(s);
        return -1;
    }
    memset(payload, 'x', size);
    int64_t start = now_us();
    for (int i = 0; i < n; i++) {
        uint64_t seq;
        int64_t t = now_us();
        if (spool_append(s, payload, size, &seq, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_spool: %s\n", err);
            free(payload);
            spool_close(s);
            return -1;
        }
        lat[i] = now_us() - t;
    }
    *out = summarise(lat, n, now_us() - start);
    free(payload);
    spool_close(s);
    return 0;
}

/* Opens the spool the append run left (recovery reads every record), then
 * delivers it record by record. */
static int measure_open_and_acks(const char *dir, const uint8_t *key, int n, int64_t *lat, double *open_ms,
                                 struct run *out)
{
    int64_t t0 = now_us();
    struct spool *s = open_spool(dir, key);
    if (!s)
        return -1;
    *open_ms = (now_us() - t0) / 1000.0;
    static char buf[SPOOL_RECORD_MAX];
    char err[512];
    int64_t start = now_us();
    for (int i = 0; i < n; i++) {
        uint64_t seq;
        size_t len;
        int64_t t = now_us();
        if (spool_peek(s, &seq, buf, sizeof(buf), &len, err, sizeof(err)) != 0 ||
            spool_ack(s, seq, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_spool: %s\n", err);
            spool_close(s);
            return -1;
        }
        lat[i] = now_us() - t;
    }
    *out = summarise(lat, n, now_us() - start);
    spool_close(s);
    return 0;
}

static const char *fs_name(const char *dir)
{
    struct statfs sf;
    if (statfs(dir, &sf) != 0)
        return "?";
    switch ((unsigned long)sf.f_type) {
    case 0xEF53:
        return "ext4";
    case 0x01021994:
        return "tmpfs";
    case 0x58465342:
        return "xfs";
    case 0x9123683E:
        return "btrfs";
    case 0xF2F52010:
        return "f2fs";
    case 0x4d44:
        return "vfat";
    default:
        return "other";
    }
}

static void cpu_name(char *out, size_t cap)
{
    snprintf(out, cap, "?");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (colon && (!strncmp(line, "model name", 10) || !strncmp(line, "Model", 5))) {
            snprintf(out, cap, "%s", colon + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    const char *where = ".";
    int n = 2000;
    long size = 300;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--records") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = atol(argv[++i]);
        else if (argv[i][0] != '-')
            where = argv[i];
        else
            n = 0, i = argc;
    }
    if (n < 10 || size < 1 || size > SPOOL_RECORD_MAX) {
        fprintf(stderr, "usage: bench_spool [DIR] [--records N>=10] [--size 1..%d]\n", SPOOL_RECORD_MAX);
        return 2;
    }
    log_set_level(LOG_ERR);
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/bench_spool.XXXXXX", where);
    int64_t *lat = malloc((size_t)n * sizeof(*lat));
    uint8_t key[SPOOL_KEY_LEN];
    if (!lat || !mkdtemp(dir) || getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
        perror("bench_spool");
        return 1;
    }
    char spool_dir[1100], cpu[128];
    snprintf(spool_dir, sizeof(spool_dir), "%s/spool", dir);
    struct run plain, sealed, acks;
    double open_ms = 0;
    int rc = measure_appends(spool_dir, NULL, n, (size_t)size, lat, &plain);
    rc = rc ? rc : measure_open_and_acks(spool_dir, NULL, n, lat, &open_ms, &acks);
    remove_dir(spool_dir);
    rc = rc ? rc : measure_appends(spool_dir, key, n, (size_t)size, lat, &sealed);
    remove_dir(spool_dir);
    rmdir(dir);
    free(lat);
    if (rc)
        return 1;
    struct utsname u;
    uname(&u);
    cpu_name(cpu, sizeof(cpu));
    printf("machine: %s %s, %s, %ld CPUs; spool on %s (%s)\n", u.sysname, u.machine, cpu, sysconf(_SC_NPROCESSORS_ONLN),
           where, fs_name(where));
    printf("%d records of %ld bytes\n\n", n, size);
    printf("| operation | per second | median ms | p99 ms |\n| --- | --: | --: | --: |\n");
    printf("| append (fdatasync each) | %.0f | %.3f | %.3f |\n", plain.per_s, plain.median_ms, plain.p99_ms);
    printf("| append, AES-256-GCM | %.0f | %.3f | %.3f |\n", sealed.per_s, sealed.median_ms, sealed.p99_ms);
    printf("| peek + ack (state file replaced each) | %.0f | %.3f | %.3f |\n", acks.per_s, acks.median_ms,
           acks.p99_ms);
    printf("\nopen (recovery scan) of %d records: %.1f ms\n", n, open_ms);
    return 0;
}
