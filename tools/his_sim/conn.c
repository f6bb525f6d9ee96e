/* conn.c - one connection, on its own thread: the TLS set-up with the
 * certificate the mode asks for, then requests served until the connection
 * ends, each routed (check-in, /stats, or an error) and answered with the
 * framing or the reset the mode asks for. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

static json_t *stats_json(struct sim *s)
{
    char mb[16];
    pthread_mutex_lock(&s->lock);
    json_t *status = json_object();
    for (int i = 100; i < 600; i++)
        if (s->st.status[i]) {
            char k[16];
            snprintf(k, sizeof k, "%d", i);
            json_object_set_new(status, k, json_integer((json_int_t)s->st.status[i]));
        }
    json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
                          "mode", mode_name(atomic_load(&s->mode), mb),
                          "requests", (json_int_t)s->st.requests,
                          "accepted", (json_int_t)s->st.accepted,
                          "duplicates", (json_int_t)s->st.duplicates,
                          "rejected", (json_int_t)s->st.rejected,
                          "faults", (json_int_t)s->st.faults,
                          "resets_sent", (json_int_t)s->st.resets_sent,
                          "records", (json_int_t)s->keys.count,
                          "connections", (json_int_t)s->st.connections,
                          "handshakes", (json_int_t)s->st.handshakes,
                          "handshake_failures", (json_int_t)s->st.handshake_failures,
                          "resumed", (json_int_t)s->st.resumed,
                          "client_certs", (json_int_t)s->st.client_certs,
                          "status", status);
    pthread_mutex_unlock(&s->lock);
    return o;
}

/* overlong: the body becomes {} and 30 bytes more, the Content-Length
 * still that of the {}. */
static void make_overlong(struct conn *c, struct answer *a)
{
    free(a->body);
    a->body = strdup("{}");
    a->overrun = OVERRUN_JUNK;
    pthread_mutex_lock(&c->sim->lock);
    c->sim->st.faults++;
    pthread_mutex_unlock(&c->sim->lock);
    say("conn %u: the answer's body overruns its Content-Length: 2 by %zu bytes (overlong)", c->id,
        strlen(OVERRUN_JUNK));
}

/* stray: a second, complete 200 that nothing asked for, --stray-ms after the
 * answer, in its own write and TLS record: a duplicate of the answer, the
 * same Idempotency-Key and all. 1 when sent. */
static int send_stray(struct conn *c, const struct answer *first)
{
    int r = conn_pause(c, c->sim->opt.stray_ms);
    if (r > 0) {
        char body[] = "{}";
        struct answer extra = {.status = 200, .body = body, .close = first->close};
        memcpy(extra.key, first->key, sizeof(extra.key));
        r = send_answer(c, &extra, FRAME_LENGTH, SEND_WHOLE);
    }
    if (r > 0)
        count_status(c->sim, 200);
    say("conn %u: a stray 200 nobody asked for (stray)%s%s", c->id, r > 0 ? " sent" : ": ",
        r > 0 ? "" : io_name(r));
    return r;
}

/* Serves requests on a connection whose handshake is done. Returns true
 * when the connection should end with a TCP reset instead of close_notify. */
static bool conn_serve(struct conn *c)
{
    struct sim *s = c->sim;
    const char *path = s->opt.path;
    for (;;) {
        struct request q;
        int io = IO_EOF;
        int st = read_request(c, &q, &io);
        if (st < 0) {
            if (io != IO_EOF || c->len > 0)
                say("conn %u: %s%s", c->id, io_name(io), c->len > 0 ? " in the middle of a request" : "");
            return false;
        }
        struct answer a = {0};
        if (st > 0) {
            answer_error(&a, st, q.error, NULL);
            a.close = true;
            say("conn %u: %d (%s), closing", c->id, st, q.error);
            pthread_mutex_lock(&s->lock);
            s->st.requests++;
            s->st.rejected++;
            pthread_mutex_unlock(&s->lock);
            count_status(s, st);
            send_answer(c, &a, FRAME_LENGTH, SEND_WHOLE);
            free(a.body);
            conn_drain(c, DRAIN_MS);
            return false;
        }
        size_t pl = strcspn(q.target, "?");
        int mode = refresh_mode(s);
        bool is_checkin = strlen(path) == pl && strncmp(q.target, path, pl) == 0;
        bool is_stats = pl == 6 && strncmp(q.target, "/stats", 6) == 0;
        bool answered = true;
        if (is_stats && strcmp(q.method, "GET") == 0) {
            answer_json(&a, 200, stats_json(s));
        } else if (is_stats) {
            answer_error(&a, 405, "GET only", NULL);
            a.allow = "GET";
        } else if (is_checkin && strcmp(q.method, "POST") == 0) {
            answered = handle_checkin(c, &q, mode, &a);
        } else if (is_checkin) {
            answer_error(&a, 405, "POST only", NULL);
            a.allow = "POST";
        } else {
            answer_error(&a, 404, "no such path", NULL);
        }
        if (!is_stats) {
            count_status(s, a.status);
            if (!is_checkin) {
                pthread_mutex_lock(&s->lock);
                s->st.requests++;
                s->st.rejected++;
                pthread_mutex_unlock(&s->lock);
            }
        }
        if (!answered) {
            if (mode == MODE_CONTINUE_FLOOD)
                send_continue_flood(c);
            else if (mode == MODE_HEADER_TRICKLE)
                send_header_trickle(c);
            else
                conn_drain(c, 0); /* stall: until the client gives up */
            free(a.body);
            return false;
        }
        a.close = a.close || q.close;
        enum framing fr = FRAME_LENGTH;
        enum delivery how = SEND_WHOLE;
        if (is_checkin) {
            if (mode == MODE_CLOSE)
                a.close = true;
            else if (mode == MODE_CLOSE_DELIMITED)
                fr = FRAME_EOF;
            else if (mode == MODE_CHUNKED)
                fr = FRAME_CHUNKED;
            else if (mode == MODE_RESET)
                how = SEND_HALF;
            else if (mode == MODE_TRICKLE)
                how = SEND_TRICKLE;
            else if (mode == MODE_OVERLONG)
                make_overlong(c, &a);
        }
        if (how == SEND_TRICKLE) {
            pthread_mutex_lock(&s->lock);
            s->st.faults++;
            pthread_mutex_unlock(&s->lock);
        }
        bool reset = how == SEND_HALF;
        int w = send_answer(c, &a, fr, how);
        free(a.body);
        if (reset) {
            pthread_mutex_lock(&s->lock);
            s->st.resets_sent++;
            s->st.faults++;
            pthread_mutex_unlock(&s->lock);
            say("conn %u: sent half of the answer, resetting the connection (reset)", c->id);
            return true;
        }
        if (w <= 0) {
            say("conn %u: writing the answer: %s", c->id, io_name(w));
            return false;
        }
        if (a.stray && (w = send_stray(c, &a)) <= 0)
            return false;
        memmove(c->buf, c->buf + q.consumed, c->len - q.consumed);
        c->len -= q.consumed;
        if (a.close || fr == FRAME_EOF)
            return false;
    }
}

void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct sim *s = c->sim;
    int mode = atomic_load(&s->mode);
    bool reset = false;
    if (mode == MODE_STALL_ACCEPT) {
        say("conn %u: accepted, never answering (stall-accept)", c->id);
        raw_hold(c);
    } else {
        enum cred_id cid = cred_for_mode(s, mode);
        mbedtls_ssl_init(&c->ssl);
        int r = mbedtls_ssl_setup(&c->ssl, &s->creds[cid].conf);
        if (r != 0) {
            char eb[128];
            say("conn %u: mbedtls_ssl_setup: %s", c->id, tls_err(r, eb, sizeof eb));
        } else {
            if (cid != CRED_SERVER)
                say("conn %u: serving %s.crt (%s)", c->id, CRED_FILES[cid], MODE_NAMES[mode]);
            mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
            if (conn_handshake(c)) {
                reset = conn_serve(c);
                if (!reset) {
                    int64_t deadline = now_ms() + 1000;
                    int cr;
                    while ((cr = mbedtls_ssl_close_notify(&c->ssl)) == MBEDTLS_ERR_SSL_WANT_WRITE &&
                           now_ms() < deadline) {
                    }
                    (void)cr;
                }
            }
        }
        mbedtls_ssl_free(&c->ssl);
    }
    if (reset)
        close_with_reset(c->fd);
    else
        close(c->fd);
    free(c->buf);
    pthread_mutex_lock(&s->lock);
    s->active--;
    pthread_cond_signal(&s->conn_gone);
    pthread_mutex_unlock(&s->lock);
    free(c);
    return NULL;
}
