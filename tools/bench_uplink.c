/* bench_uplink.c - how fast the queue takes records and the uplink drains it.
 *
 *   bench_uplink --url https://127.0.0.1:PORT/api/checkin --ca CA.pem
 *                [--cert C --key K] [--records N] [--dir SCRATCH] [--markdown OUT.md]
 *
 * In one run, against a his_sim on loopback:
 *  1. appends/s into the spool, each append fdatasync'd (this machine's disk);
 *  2. the spool drained by the uplink keeping its TLS connection alive;
 *  3. the same number of records drained with one TLS handshake per record;
 * and reports the ratio of 2 to 3.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "delivery/checkin.h"
#include "delivery/spool.h"
#include "delivery/uplink.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct cccd_record person(int i)
{
    struct cccd_record r;
    memset(&r, 0, sizeof(r));
    snprintf(r.id_number, sizeof(r.id_number), "0790900%05d", i % 100000);
    snprintf(r.full_name, sizeof(r.full_name), "Nguyễn Văn Thử");
    r.date_of_birth = (struct cccd_date){ 1990, 6, 28 };
    r.issue_date = (struct cccd_date){ 2021, 6, 15 };
    return r;
}

/* Fills a fresh spool with n records; returns appends per second. */
static double fill(struct spool *s, int n, const char *device)
{
    char body[2048], key[160], err[256];
    struct checkin_meta meta = { device, CHECKIN_DEFAULT_FIELDS, "card" };
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        struct cccd_record r = person(i);
        long len = checkin_build(&r, &meta, time(NULL), true, body, sizeof(body), key, sizeof(key), err, sizeof(err));
        uint64_t seq;
        if (len < 0 || spool_append(s, body, (size_t)len, &seq, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_uplink: %s\n", err);
            return -1;
        }
    }
    return n / (now_s() - t0);
}

static void no_offline(void *ctx, bool offline)
{
    (void)ctx, (void)offline;
}

/* Drains s through an uplink; returns records per second, or -1. */
static double drain(struct spool *s, struct uplink_opts *o, int n, uint64_t *connects)
{
    struct uplink_events ev = { NULL, no_offline, NULL };
    struct uplink *u;
    char err[256];
    double t0 = now_s();
    if (uplink_start(&u, o, s, &ev, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_uplink: %s\n", err);
        return -1;
    }
    struct uplink_stats st;
    do {
        struct timespec ts = { 0, 2000000L };
        nanosleep(&ts, NULL);
        uplink_get_stats(u, &st);
    } while (st.delivered + st.already_had < (uint64_t)n && now_s() - t0 < 600);
    double rate = (double)(st.delivered + st.already_had) / (now_s() - t0);
    *connects = st.connects;
    uplink_stop(u);
    return st.delivered + st.already_had == (uint64_t)n ? rate : -1;
}

static struct spool *open_spool(const char *dir, char *err, size_t errlen)
{
    struct spool *s;
    struct spool_opts so = { dir, 1ull << 30, 0, NULL, 0 };
    return spool_open(&s, &so, err, errlen) == 0 ? s : NULL;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *ca = NULL, *cert = NULL, *key = NULL, *md = NULL, *scratch = "/tmp/cccd-bench-uplink";
    int n = 5000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--url")) url = v;
        else if (!strcmp(k, "--ca")) ca = v;
        else if (!strcmp(k, "--cert")) cert = v;
        else if (!strcmp(k, "--key")) key = v;
        else if (!strcmp(k, "--records")) n = atoi(v);
        else if (!strcmp(k, "--dir")) scratch = v;
        else if (!strcmp(k, "--markdown")) md = v;
    }
    if (!url || !ca || n < 1) {
        fprintf(stderr, "usage: bench_uplink --url URL --ca CA [--cert C --key K] [--records N] [--dir D] "
                        "[--markdown OUT]\n");
        return 2;
    }
    log_set_level(LOG_ERR); /* the simulator's insurance answers would fill the report */
    signal(SIGPIPE, SIG_IGN); /* a reset connection is a retry, not the end */
    char a[512], b[512], err[256], cmd[1100];
    snprintf(a, sizeof(a), "%s/reuse", scratch);
    snprintf(b, sizeof(b), "%s/handshake", scratch);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", scratch, scratch);
    if (system(cmd) != 0)
        return 1;
    struct spool *sa = open_spool(a, err, sizeof(err)), *sb = sa ? open_spool(b, err, sizeof(err)) : NULL;
    if (!sa || !sb) {
        fprintf(stderr, "bench_uplink: %s\n", err);
        return 1;
    }
    double appends = fill(sa, n, "bench-a");
    if (appends < 0 || fill(sb, n, "bench-b") < 0)
        return 1;
    struct uplink_opts o = { url, ca, cert, key, NULL, 5000, 10000, 50, 1000, true, 30000 };
    uint64_t ca_conn = 0, cb_conn = 0;
    double reuse = drain(sa, &o, n, &ca_conn);
    o.reuse_connection = false;
    double fresh = drain(sb, &o, n, &cb_conn);
    spool_close(sa);
    spool_close(sb);
    if (reuse < 0 || fresh < 0) {
        fprintf(stderr, "bench_uplink: a drain did not finish\n");
        return 1;
    }
    struct utsname u;
    uname(&u);
    FILE *outs[2] = { stdout, md ? fopen(md, "w") : NULL };
    for (int i = 0; i < 2 && outs[i]; i++) {
        FILE *f = outs[i];
        fprintf(f, "| measure (%d records, %s %s) | value |\n| --- | --: |\n", n, u.sysname, u.machine);
        fprintf(f, "| spool appends/s, each fdatasync'd (scratch dir %s) | %.0f |\n", scratch, appends);
        fprintf(f, "| drain, connection kept alive: records/s (%llu connects) | %.0f |\n", (unsigned long long)ca_conn,
                reuse);
        fprintf(f, "| drain, one TLS handshake per record: records/s (%llu connects) | %.0f |\n",
                (unsigned long long)cb_conn, fresh);
        fprintf(f, "| **reuse / handshake per record** (target >= 10) | **%.1f** |\n", reuse / fresh);
    }
    if (outs[1])
        fclose(outs[1]);
    return 0;
}
