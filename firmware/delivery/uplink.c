/* uplink.c - the delivery thread: spool → HTTPS → ack. */
#include "delivery/uplink.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "card/record_format.h"
#include "delivery/checkin.h"
#include "delivery/http_response.h"

#define BODY_MAX 65536
#define RESPONSE_MAX (HTTP_HEADER_MAX + BODY_MAX + 4096)

enum outcome { DELIVERED, ALREADY_HAD, PERMANENT, TEMPORARY };

struct uplink {
    struct uplink_opts opts;
    char host[256], port[16], path[512];
    struct spool *spool;
    struct uplink_events events;
    struct tls_client *tls;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, kicked, offline;
    int failures;
    int64_t next_try;
    char last_error[256];
    char tls_version[16]; /* of the last handshake, for the log */
    struct uplink_stats stats;
    /* Thread only: */
    uint8_t record[SPOOL_RECORD_MAX];
    uint8_t response[RESPONSE_MAX];
    uint8_t body[BODY_MAX];
    char request[SPOOL_RECORD_MAX + 1024];
};

int uplink_parse_url(const char *url, char *host, size_t hostcap, char *port, size_t portcap, char *path,
                     size_t pathcap, char *err, size_t errlen)
{
    if (strncmp(url, "https://", 8) != 0) {
        /* The URL itself is not echoed: some services put tokens in it. */
        snprintf(err, errlen, "[uplink] url must start with https:// (no plain HTTP)");
        return -1;
    }
    const char *h = url + 8, *slash = strchr(h, '/');
    const char *hend = slash ? slash : h + strlen(h), *colon = NULL;
    if (*h == '[') { /* IPv6 literal */
        const char *close = memchr(h, ']', (size_t)(hend - h));
        if (!close)
            goto bad;
        colon = close[1] == ':' ? close + 1 : NULL;
        snprintf(host, hostcap, "%.*s", (int)(close - h - 1), h + 1);
    } else {
        colon = memchr(h, ':', (size_t)(hend - h));
        snprintf(host, hostcap, "%.*s", (int)((colon ? colon : hend) - h), h);
    }
    snprintf(port, portcap, "%.*s", colon ? (int)(hend - colon - 1) : 3, colon ? colon + 1 : "443");
    snprintf(path, pathcap, "%s", slash ? slash : "/");
    if (!host[0] || !port[0] || strspn(port, "0123456789") != strlen(port))
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "[uplink] url: expected https://host[:port]/path");
    return -1;
}

static void set_offline(struct uplink *u, bool offline)
{
    if (u->offline == offline)
        return;
    u->offline = offline;
    if (u->events.offline)
        u->events.offline(u->events.ctx, offline);
}

/* The key and masked ID of a stored record, for the header and the logs. */
static void record_labels(const uint8_t *rec, size_t len, char *key, size_t keycap, char masked[13], time_t *scanned)
{
    snprintf(key, keycap, "unknown");
    snprintf(masked, 13, "?");
    *scanned = -1;
    json_t *o = json_loadb((const char *)rec, len, 0, NULL);
    if (!o)
        return;
    const char *k = json_string_value(json_object_get(o, "idempotency_key"));
    const char *id = json_string_value(json_object_get(o, "id_number"));
    if (k)
        snprintf(key, keycap, "%s", k);
    if (id)
        record_mask_id(id, masked);
    *scanned = checkin_parse_scan_time(json_string_value(json_object_get(o, "scan_time")));
    json_decref(o);
}

static int send_request(struct uplink *u, const uint8_t *rec, size_t len, const char *key, char *err, size_t errlen)
{
    int n = snprintf(u->request, sizeof(u->request),
                     "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cccd-reader\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nIdempotency-Key: %s\r\nConnection: keep-alive\r\n\r\n",
                     u->path, u->host, len, key);
    if (n < 0 || (size_t)n + len > sizeof(u->request)) {
        snprintf(err, errlen, "request too large");
        return TLS_ERR_IO;
    }
    memcpy(u->request + n, rec, len);
    return tls_client_write(u->tls, u->request, (size_t)n + len, err, errlen);
}

/* Reads until a whole response is parsed. Returns HTTP_DONE or an error
 * (TLS or HTTP), with *got set when any byte arrived. */
static int read_response(struct uplink *u, struct http_response *r, bool *got, char *err, size_t errlen)
{
    size_t have = 0;
    *got = false;
    for (;;) {
        int n = tls_client_read(u->tls, u->response + have, sizeof(u->response) - have, err, errlen);
        if (n < 0)
            return n;
        have += (size_t)n;
        *got |= n > 0;
        int rc = http_response_parse(u->response, have, n == 0, (int64_t)time(NULL), r, u->body, sizeof(u->body));
        if (rc == HTTP_NEED_MORE && have < sizeof(u->response))
            continue;
        if (rc != HTTP_DONE)
            snprintf(err, errlen, "%.120s:%s: unreadable HTTP answer (code %d)", u->host, u->port, rc);
        return rc == HTTP_DONE ? HTTP_DONE : TLS_ERR_IO;
    }
}

static void report_insurance(struct uplink *u, const struct http_response *r, const char *masked, time_t scanned)
{
    json_t *o = json_loadb((const char *)u->body, r->body_len, 0, NULL);
    const char *code = o ? json_string_value(json_object_get(o, "maKetQua")) : NULL;
    if (code && strcmp(code, "000") != 0)
        log_msg(LOG_WARNING, "insurance id=%s maKetQua=%.8s: the card check needs attention", masked, code);
    if (code && u->events.insurance)
        u->events.insurance(u->events.ctx, code, scanned > 0 ? (long)(time(NULL) - scanned) : -1);
    json_decref(o);
}

/* One attempt at one record. */
static enum outcome deliver(struct uplink *u, const uint8_t *rec, size_t len, long *retry_after, char *reason,
                            size_t reasonlen)
{
    char key[160], masked[13];
    time_t scanned;
    record_labels(rec, len, key, sizeof(key), masked, &scanned);
    *retry_after = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool reused = tls_client_connected(u->tls);
        int rc = reused ? 0 : tls_client_connect(u->tls, reason, reasonlen);
        if (rc == 0 && !reused) {
            pthread_mutex_lock(&u->lock);
            u->stats.connects++;
            pthread_mutex_unlock(&u->lock);
            snprintf(u->tls_version, sizeof(u->tls_version), "%s", tls_client_version(u->tls));
        }
        if (rc == 0)
            rc = send_request(u, rec, len, key, reason, reasonlen);
        struct http_response r;
        bool got = false;
        if (rc == 0)
            rc = read_response(u, &r, &got, reason, reasonlen);
        if (rc != HTTP_DONE) {
            tls_client_disconnect(u->tls);
            if (reused && !got)
                continue; /* the server closed an idle kept-alive connection: once more, fresh */
            return TEMPORARY;
        }
        if (!r.keep_alive || !u->opts.reuse_connection)
            tls_client_disconnect(u->tls);
        *retry_after = r.retry_after_s;
        snprintf(reason, reasonlen, "HTTP %d from %.120s", r.status, u->host);
        if (r.status >= 200 && r.status < 300) {
            log_msg(LOG_INFO, "delivered id=%s key=%s", masked, key);
            report_insurance(u, &r, masked, scanned);
            return DELIVERED;
        }
        if (r.status == 409)
            return ALREADY_HAD;
        return r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429 ? PERMANENT : TEMPORARY;
    }
    return TEMPORARY;
}

/* Exponential backoff with ±25% jitter, so a ward of terminals does not
 * hammer a recovering server in step; Retry-After is the floor. */
static int64_t backoff_ms(struct uplink *u, long retry_after_s)
{
    int64_t d = u->opts.backoff_min_ms;
    for (int i = 1; i < u->failures && d < u->opts.backoff_max_ms; i++)
        d *= 2;
    if (d > u->opts.backoff_max_ms)
        d = u->opts.backoff_max_ms;
    uint16_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = 32768;
    d = d * (750 + (int64_t)r * 500 / 65536) / 1000;
    if (retry_after_s >= 0 && d < retry_after_s * 1000)
        d = retry_after_s * 1000;
    return d;
}

static void after_attempt(struct uplink *u, enum outcome o, uint64_t seq, long retry_after, const char *reason)
{
    if (o != TEMPORARY && (u->failures > 0 || u->stats.delivered + u->stats.already_had + u->stats.dead_letters == 0))
        log_msg(LOG_NOTICE, "uplink: %s reachable (%s); delivering", u->host, u->tls_version);
    char err[256];
    int rc = 0;
    if (o == TEMPORARY) {
        u->failures++;
        u->stats.temporary_failures++;
        int64_t wait = backoff_ms(u, retry_after);
        if (strcmp(reason, u->last_error) != 0) /* say each new trouble once, not every retry */
            log_msg(LOG_WARNING, "uplink: %s; records stay queued, next try in %lld ms", reason, (long long)wait);
        snprintf(u->last_error, sizeof(u->last_error), "%s", reason);
        u->next_try = clock_ms() + wait;
        set_offline(u, true);
        return;
    }
    if (o == PERMANENT) {
        u->stats.dead_letters++;
        log_msg(LOG_ERR, "uplink: record seq=%llu refused for good (%s); set aside for the technician",
                (unsigned long long)seq, reason);
        rc = spool_dead_letter(u->spool, seq, reason, err, sizeof(err));
    } else {
        if (o == DELIVERED)
            u->stats.delivered++;
        else
            u->stats.already_had++;
        rc = spool_ack(u->spool, seq, err, sizeof(err));
    }
    if (rc != 0)
        log_msg(LOG_ERR, "uplink: %s", err); /* delivered again later: the server de-duplicates */
    u->failures = 0;
    u->last_error[0] = '\0';
    set_offline(u, false);
}

/* Waits for a kick, stop, or ms (under lock). */
static void wait_locked(struct uplink *u, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!u->stop && !u->kicked && pthread_cond_timedwait(&u->wake, &u->lock, &ts) != ETIMEDOUT)
        ;
    u->kicked = false;
}

static void *uplink_thread(void *arg)
{
    struct uplink *u = arg;
    char err[256];
    for (;;) {
        pthread_mutex_lock(&u->lock);
        int64_t wait = u->next_try - clock_ms();
        if (!u->stop && wait > 0)
            wait_locked(u, wait);
        bool stop = u->stop;
        pthread_mutex_unlock(&u->lock);
        if (stop)
            break;
        if (u->next_try > clock_ms())
            continue;
        uint64_t seq;
        size_t len;
        int rc = spool_peek(u->spool, &seq, u->record, sizeof(u->record), &len, err, sizeof(err));
        if (rc != 0) {
            if (rc != SPOOL_ERR_EMPTY)
                log_msg(LOG_ERR, "uplink: %s", err);
            pthread_mutex_lock(&u->lock);
            if (!u->stop)
                wait_locked(u, rc == SPOOL_ERR_EMPTY ? 1000 : 5000);
            pthread_mutex_unlock(&u->lock);
            continue;
        }
        long retry_after;
        enum outcome o = deliver(u, u->record, len, &retry_after, err, sizeof(err));
        memset(u->record, 0, len);
        pthread_mutex_lock(&u->lock);
        after_attempt(u, o, seq, retry_after, err);
        pthread_mutex_unlock(&u->lock);
    }
    tls_client_disconnect(u->tls);
    return NULL;
}

int uplink_start(struct uplink **out, const struct uplink_opts *opts, struct spool *spool,
                 const struct uplink_events *events, char *err, size_t errlen)
{
    *out = NULL;
    struct uplink *u = calloc(1, sizeof(*u));
    if (!u) {
        snprintf(err, errlen, "out of memory for the uplink");
        return -1;
    }
    u->opts = *opts;
    if (u->opts.backoff_min_ms <= 0)
        u->opts.backoff_min_ms = 1000;
    if (u->opts.backoff_max_ms < u->opts.backoff_min_ms)
        u->opts.backoff_max_ms = 300000;
    u->spool = spool;
    u->events = *events;
    int rc = uplink_parse_url(opts->url, u->host, sizeof(u->host), u->port, sizeof(u->port), u->path,
                              sizeof(u->path), err, errlen);
    struct tls_opts t = { u->host, u->port, opts->ca_file, opts->cert_file, opts->key_file, opts->pin_sha256,
                          opts->connect_timeout_ms, opts->read_timeout_ms };
    if (rc == 0)
        rc = tls_client_open(&u->tls, &t, err, errlen);
    if (rc == 0) {
        pthread_mutex_init(&u->lock, NULL);
        pthread_cond_init(&u->wake, NULL);
        if (pthread_create(&u->thread, NULL, uplink_thread, u) != 0) {
            snprintf(err, errlen, "cannot start the uplink thread");
            rc = -1;
            pthread_cond_destroy(&u->wake);
            pthread_mutex_destroy(&u->lock);
        }
    }
    if (rc != 0) {
        tls_client_close(u->tls);
        free(u);
        return -1;
    }
    *out = u;
    return 0;
}

void uplink_kick(struct uplink *u)
{
    pthread_mutex_lock(&u->lock);
    u->kicked = true;
    pthread_cond_signal(&u->wake);
    pthread_mutex_unlock(&u->lock);
}

void uplink_stop(struct uplink *u)
{
    if (!u)
        return;
    pthread_mutex_lock(&u->lock);
    u->stop = true;
    pthread_cond_signal(&u->wake);
    pthread_mutex_unlock(&u->lock);
    pthread_join(u->thread, NULL);
    pthread_cond_destroy(&u->wake);
    pthread_mutex_destroy(&u->lock);
    tls_client_close(u->tls);
    free(u);
}

void uplink_get_stats(struct uplink *u, struct uplink_stats *st)
{
    pthread_mutex_lock(&u->lock);
    *st = u->stats;
    pthread_mutex_unlock(&u->lock);
}
