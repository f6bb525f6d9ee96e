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
/* The same trouble is said once, then again at most this often. */
#define REMIND_MS (10 * 60 * 1000)

struct uplink {
    struct uplink_opts opts;
    char host[256], port[16], path[512];
    char host_header[300]; /* host, [v6], :port when not 443 (RFC 9110 7.2) */
    struct spool *spool;
    struct uplink_events events;
    struct tls_client *tls;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, kicked, offline;
    int failures;
    int64_t next_try;
    /* A record the service has, whose ack or set-aside could not be written
     * (disk full, read-only spool): retried on its own, never sent again. */
    bool pending;
    uint64_t pending_seq;
    enum uplink_verdict pending_verdict;
    char pending_reason[256];
    /* The guard: the last record set aside, and why. */
    uint64_t refused_seq;
    char refused_why[256];
    int64_t request_deadline; /* clock_ms() by which the current request must be answered */
    char last_error[256];
    int64_t last_error_ms;
    uint64_t repeats; /* attempts since last_error was logged */
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
    if (!host[0] || !port[0] || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) || atoi(port) < 1 ||
        atoi(port) > 65535)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "[uplink] url: expected https://host[:port]/path");
    return -1;
}

void uplink_host_header(const char *host, const char *port, char *out, size_t cap)
{
    bool v6 = strchr(host, ':') != NULL;
    snprintf(out, cap, "%s%s%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "", strcmp(port, "443") ? ":" : "",
             strcmp(port, "443") ? port : "");
}

/* The service's own refusal of a record is a JSON object with an "error"
 * string (docs/protocol.md); a proxy's error page is HTML or empty. */
static bool service_error(const uint8_t *body, size_t len, char *why, size_t whylen)
{
    json_t *o = json_loadb((const char *)body, len, 0, NULL);
    const char *e = json_is_object(o) ? json_string_value(json_object_get(o, "error")) : NULL;
    if (e)
        log_clean(e, why, whylen);
    json_decref(o);
    return e != NULL;
}

enum uplink_verdict uplink_judge(int status, const uint8_t *body, size_t len, char *why, size_t whylen)
{
    snprintf(why, whylen, "HTTP %d", status);
    if (status >= 200 && status < 300)
        return UPLINK_DELIVERED;
    if (status == 409)
        return UPLINK_ALREADY_HAD;
    if (status == 408 || status == 429 || status >= 500)
        return UPLINK_TEMPORARY;
    char e[160];
    bool own = service_error(body, len, e, sizeof(e));
    if (own && (status == 400 || status == 413 || status == 415 || status == 422)) {
        snprintf(why, whylen, "HTTP %d: %s", status, e);
        return UPLINK_RECORD_REFUSED;
    }
    if (status >= 300 && status < 400)
        snprintf(why, whylen, "HTTP %d: the service sends us elsewhere: check [uplink] url", status);
    else if (status == 400 || status == 495 || status == 496)
        snprintf(why, whylen, "HTTP %d without the service's own error: a proxy refused the device certificate "
                 "(expired, or from another CA?)", status);
    else if (status == 401 || status == 403 || status == 407)
        snprintf(why, whylen, "HTTP %d: the device is not allowed in: ask the hospital's IT", status);
    else if (status == 404 || status == 405)
        snprintf(why, whylen, "HTTP %d: no check-in service at that address: check [uplink] url", status);
    else
        snprintf(why, whylen, "HTTP %d%s%s", status, own ? ": " : "", own ? e : "");
    return UPLINK_TERMINAL_REFUSED;
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
        log_clean(k, key, keycap);
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
                     u->path, u->host_header, len, key);
    if (n < 0 || (size_t)n + len > sizeof(u->request)) {
        snprintf(err, errlen, "request too large");
        return TLS_ERR_IO;
    }
    memcpy(u->request + n, rec, len);
    return tls_client_write(u->tls, u->request, (size_t)n + len, err, errlen);
}

/* Reads until a whole answer is parsed, within the request's deadline.
 * Returns HTTP_DONE or an error (TLS or HTTP), with *got set when any byte
 * arrived and *extra when bytes came after the answer. */
static int read_response(struct uplink *u, struct http_response *r, int64_t deadline, bool *got, bool *extra,
                         char *err, size_t errlen)
{
    size_t have = 0;
    *got = *extra = false;
    for (;;) {
        /* A server sending without pause never lets a read wait: the
         * deadline is checked here too. */
        if (clock_ms() > deadline) {
            snprintf(err, errlen, "%.120s:%s: no complete answer within the request's deadline ([uplink] "
                     "request_timeout_ms): the server answers too slowly", u->host, u->port);
            return TLS_ERR_TIMEOUT;
        }
        int n = tls_client_read(u->tls, u->response + have, sizeof(u->response) - have, err, errlen);
        if (n < 0)
            return n;
        have += (size_t)n;
        *got |= n > 0;
        int rc = http_response_parse(u->response, have, n == 0, (int64_t)time(NULL), r, u->body, sizeof(u->body));
        if (rc == HTTP_NEED_MORE && have < sizeof(u->response))
            continue;
        if (rc != HTTP_DONE) {
            snprintf(err, errlen, "%.120s:%s: unreadable HTTP answer (code %d)", u->host, u->port, rc);
            return TLS_ERR_IO;
        }
        *extra = r->consumed < have;
        return HTTP_DONE;
    }
}

static void report_insurance(struct uplink *u, const struct http_response *r, const char *masked, time_t scanned)
{
    json_t *o = json_loadb((const char *)u->body, r->body_len, 0, NULL);
    const char *code = o ? json_string_value(json_object_get(o, "maKetQua")) : NULL;
    char clean[16];
    if (code)
        log_clean(code, clean, sizeof(clean));
    if (code && strcmp(code, "000") != 0)
        log_msg(LOG_WARNING, "insurance id=%s maKetQua=%s: the card check needs attention", masked, clean);
    if (code && u->events.insurance)
        u->events.insurance(u->events.ctx, code, scanned > 0 ? (long)(time(NULL) - scanned) : -1);
    json_decref(o);
}

static void count_connect(struct uplink *u)
{
    pthread_mutex_lock(&u->lock);
    u->stats.connects++;
    pthread_mutex_unlock(&u->lock);
    snprintf(u->tls_version, sizeof(u->tls_version), "%s", tls_client_version(u->tls));
}

/* One request for one record on a clean connection: 0 with the answer in
 * *r and u->body, or a TLS status. *reused: it went on a kept-alive one. */
static int exchange(struct uplink *u, const uint8_t *rec, size_t len, const char *key, struct http_response *r,
                    bool *reused, bool *got, char *reason, size_t reasonlen)
{
    /* Bytes waiting on an idle kept-alive connection are an answer nobody
     * asked for: reading ours after them would pair the wrong answer with
     * this record. */
    *reused = tls_client_idle_clean(u->tls);
    *got = false;
    int rc = 0;
    if (!*reused && (rc = tls_client_connect(u->tls, reason, reasonlen)) == 0)
        count_connect(u);
    if (rc == 0)
        rc = send_request(u, rec, len, key, reason, reasonlen);
    bool extra = false;
    if (rc == 0)
        rc = read_response(u, r, u->request_deadline, got, &extra, reason, reasonlen);
    if (rc != HTTP_DONE) {
        tls_client_disconnect(u->tls);
        return rc == 0 ? TLS_ERR_IO : rc;
    }
    /* Bytes after the answer, or an answer that names another request:
     * the connection is out of step; this answer may not be ours either. */
    if (r->idempotency_key[0] && strcmp(r->idempotency_key, key) != 0) {
        tls_client_disconnect(u->tls);
        snprintf(reason, reasonlen, "%.120s:%s: an answer for another record arrived (Idempotency-Key differs): "
                 "connection dropped, the record is sent again", u->host, u->port);
        return TLS_ERR_IO;
    }
    if (extra || !r->keep_alive || !u->opts.reuse_connection)
        tls_client_disconnect(u->tls);
    return 0;
}

/* One attempt at one record. */
static enum uplink_verdict deliver(struct uplink *u, const uint8_t *rec, size_t len, long *retry_after, char *reason,
                                   size_t reasonlen)
{
    char key[160], masked[13];
    time_t scanned;
    record_labels(rec, len, key, sizeof(key), masked, &scanned);
    *retry_after = -1;
    u->request_deadline = clock_ms() + u->opts.request_timeout_ms;
    tls_client_set_deadline(u->tls, u->request_deadline);
    for (int attempt = 0; attempt < 2; attempt++) {
        struct http_response r;
        bool reused, got;
        int rc = exchange(u, rec, len, key, &r, &reused, &got, reason, reasonlen);
        if (rc == TLS_ERR_CANCELLED)
            return UPLINK_TEMPORARY;
        if (rc != 0) {
            if (reused && !got && rc != TLS_ERR_TIMEOUT)
                continue; /* the server closed an idle kept-alive connection: once more, fresh */
            return UPLINK_TEMPORARY;
        }
        *retry_after = r.retry_after_s;
        enum uplink_verdict v = uplink_judge(r.status, u->body, r.body_len, reason, reasonlen);
        if (v == UPLINK_DELIVERED) {
            log_msg(LOG_INFO, "delivered id=%s key=%s", masked, key);
            report_insurance(u, &r, masked, scanned);
        }
        return v;
    }
    return UPLINK_TEMPORARY;
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

/* Says a trouble when it is new, and again every REMIND_MS with how many
 * tries it cost meanwhile: a dead server costs one log line per cause, not
 * one per retry. */
static void say_trouble(struct uplink *u, int priority, const char *what, int64_t wait)
{
    int64_t now = clock_ms();
    bool same = strcmp(what, u->last_error) == 0;
    if (same && now - u->last_error_ms < REMIND_MS) {
        u->repeats++;
        return;
    }
    if (same)
        log_msg(priority, "uplink: still %s (%llu more tries); records stay queued, next try in %lld ms", what,
                (unsigned long long)u->repeats, (long long)wait);
    else
        log_msg(priority, "uplink: %s; records stay queued, next try in %lld ms", what, (long long)wait);
    snprintf(u->last_error, sizeof(u->last_error), "%s", what);
    u->last_error_ms = now;
    u->repeats = 0;
}

static void wait_after_failure(struct uplink *u, long retry_after, int priority, const char *what)
{
    u->failures++;
    u->stats.temporary_failures++;
    int64_t wait = backoff_ms(u, retry_after);
    say_trouble(u, priority, what, wait);
    u->next_try = clock_ms() + wait;
    set_offline(u, true);
}

/* The spool's side of an answer: ack, or set aside. A failure here is kept
 * as pending: the record is not sent again, only the bookkeeping retried. */
static int settle(struct uplink *u, uint64_t seq, enum uplink_verdict v, const char *reason)
{
    char err[256];
    int rc = v == UPLINK_RECORD_REFUSED ? spool_dead_letter(u->spool, seq, reason, err, sizeof(err))
                                        : spool_ack(u->spool, seq, err, sizeof(err));
    if (rc == 0) {
        u->pending = false;
        return 0;
    }
    u->pending = true;
    u->pending_seq = seq;
    u->pending_verdict = v;
    snprintf(u->pending_reason, sizeof(u->pending_reason), "%s", reason);
    char what[512];
    snprintf(what, sizeof(what), "the service has record seq=%llu but the queue cannot note it: %s",
             (unsigned long long)seq, err);
    wait_after_failure(u, -1, LOG_ERR, what);
    return -1;
}

/* A refusal of this record, unless it is the same refusal the last record
 * got: the service refusing every record alike refuses the terminal
 * (an unknown schema, a device it does not know), not the records. */
static enum uplink_verdict guard(struct uplink *u, uint64_t seq, enum uplink_verdict v, const char *reason)
{
    if (v != UPLINK_RECORD_REFUSED)
        return v;
    if (u->refused_seq && u->refused_seq != seq && strcmp(u->refused_why, reason) == 0)
        return UPLINK_TERMINAL_REFUSED;
    u->refused_seq = seq;
    snprintf(u->refused_why, sizeof(u->refused_why), "%s", reason);
    return v;
}

static void after_attempt(struct uplink *u, enum uplink_verdict v, uint64_t seq, long retry_after, const char *reason)
{
    v = guard(u, seq, v, reason);
    if (v == UPLINK_TEMPORARY) {
        wait_after_failure(u, retry_after, LOG_WARNING, reason);
        return;
    }
    if (v == UPLINK_TERMINAL_REFUSED) {
        char what[512];
        snprintf(what, sizeof(what), "%.120s refuses this terminal (%s); nothing is set aside", u->host, reason);
        u->stats.terminal_refusals++;
        wait_after_failure(u, retry_after, LOG_ERR, what);
        return;
    }
    if (u->failures > 0 || u->stats.delivered + u->stats.already_had + u->stats.dead_letters == 0)
        log_msg(LOG_NOTICE, "uplink: %s reachable (%s); delivering", u->host, u->tls_version);
    if (v == UPLINK_RECORD_REFUSED) {
        u->stats.dead_letters++;
        log_msg(LOG_ERR, "uplink: record seq=%llu refused by the service (%s); set aside for the technician "
                "(cccd-reader spool list --dead)", (unsigned long long)seq, reason);
    } else if (v == UPLINK_DELIVERED) {
        u->stats.delivered++;
    } else {
        u->stats.already_had++;
    }
    if (v != UPLINK_RECORD_REFUSED)
        u->refused_seq = 0; /* a record got through: the next refusal is judged afresh */
    if (settle(u, seq, v, reason) != 0)
        return;
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

/* One step of the thread: the pending bookkeeping first, else the oldest
 * record. Returns how long to wait before the next step when idle. */
static int64_t step(struct uplink *u)
{
    char err[256];
    if (u->pending) {
        pthread_mutex_lock(&u->lock);
        if (settle(u, u->pending_seq, u->pending_verdict, u->pending_reason) == 0) {
            u->failures = 0;
            u->last_error[0] = '\0';
            log_msg(LOG_NOTICE, "uplink: the queue is writable again; record seq=%llu noted",
                    (unsigned long long)u->pending_seq);
            set_offline(u, false);
        }
        pthread_mutex_unlock(&u->lock);
        return 0;
    }
    uint64_t seq;
    size_t len;
    int rc = spool_peek(u->spool, &seq, u->record, sizeof(u->record), &len, err, sizeof(err));
    if (rc == SPOOL_ERR_EMPTY)
        return 1000;
    if (rc != 0) {
        pthread_mutex_lock(&u->lock);
        wait_after_failure(u, -1, LOG_ERR, err);
        pthread_mutex_unlock(&u->lock);
        return 0;
    }
    long retry_after;
    enum uplink_verdict v = deliver(u, u->record, len, &retry_after, err, sizeof(err));
    memset(u->record, 0, len);
    pthread_mutex_lock(&u->lock);
    if (!u->stop)
        after_attempt(u, v, seq, retry_after, err);
    pthread_mutex_unlock(&u->lock);
    return 0;
}

static void *uplink_thread(void *arg)
{
    struct uplink *u = arg;
    int64_t idle = 0;
    for (;;) {
        pthread_mutex_lock(&u->lock);
        int64_t wait = u->next_try - clock_ms();
        if (!u->stop && (wait > 0 || idle > 0))
            wait_locked(u, wait > 0 ? wait : idle);
        bool stop = u->stop;
        pthread_mutex_unlock(&u->lock);
        if (stop)
            break;
        idle = u->next_try > clock_ms() ? 0 : step(u);
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
    if (u->opts.request_timeout_ms <= 0)
        u->opts.request_timeout_ms = 30000;
    u->spool = spool;
    u->events = *events;
    int rc = uplink_parse_url(opts->url, u->host, sizeof(u->host), u->port, sizeof(u->port), u->path,
                              sizeof(u->path), err, errlen);
    uplink_host_header(u->host, u->port, u->host_header, sizeof(u->host_header));
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
    /* A request in flight ends now, whatever the server trickles. */
    tls_client_cancel(u->tls);
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
