/* tls_io.c - TLS over a connection's socket: the BIO callbacks, reads and
 * writes that give up when the sim stops or a deadline passes, the handshake,
 * closing with a reset, and the session cache and ticket callbacks that tell
 * the handshake it was a resumption. Every wait is a short poll (TICK_MS) so
 * a stop or a mode change is seen within a tick. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>

#include "sim.h"

/* Set by the session cache and ticket callbacks, which run on the thread
 * doing the handshake: tells that thread its handshake was a resumption. */
static _Thread_local bool t_resumed;

/* ---- TLS over a socket, with waits that watch the stop flag ----------------------- */

int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct conn *c = ctx;
    struct pollfd p = {.fd = c->fd, .events = POLLOUT};
    int n = poll(&p, 1, TICK_MS);
    if (n == 0 || (n < 0 && errno == EINTR))
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (n < 0)
        return MBEDTLS_ERR_NET_SEND_FAILED;
    ssize_t w = send(c->fd, buf, len > INT_MAX ? INT_MAX : len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w >= 0)
        return (int)w;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (errno == EPIPE || errno == ECONNRESET)
        return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct conn *c = ctx;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int n = poll(&p, 1, TICK_MS);
    if (n == 0 || (n < 0 && errno == EINTR))
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (n < 0)
        return MBEDTLS_ERR_NET_RECV_FAILED;
    ssize_t r = recv(c->fd, buf, len > INT_MAX ? INT_MAX : len, MSG_DONTWAIT);
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (errno == ECONNRESET)
        return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

const char *io_name(int r)
{
    switch (r) {
    case IO_EOF: return "closed by the client";
    case IO_TIMEOUT: return "timeout";
    case IO_STOP: return "stopping";
    case IO_REFUSE: return "closed (refuse mode)";
    default: return "TLS or socket error";
    }
}

/* Reads some bytes: > 0, or an IO_ outcome. deadline 0 = none. While idle
 * (between requests) a switch to refuse mode closes the connection. */
int conn_read(struct conn *c, unsigned char *buf, size_t len, int64_t deadline, bool idle)
{
    for (;;) {
        int r = mbedtls_ssl_read(&c->ssl, buf, len);
        if (r > 0)
            return r;
        if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
            return IO_EOF;
        if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
            c->last_err = r;
            return r == MBEDTLS_ERR_NET_CONN_RESET ? IO_EOF : IO_ERROR;
        }
        if (atomic_load(&c->sim->stopping))
            return IO_STOP;
        if (idle && atomic_load(&c->sim->mode) == MODE_REFUSE)
            return IO_REFUSE;
        if (deadline && now_ms() >= deadline)
            return IO_TIMEOUT;
    }
}

/* Writes all of buf: 1, or an IO_ outcome. */
int conn_write_all(struct conn *c, const unsigned char *buf, size_t len)
{
    int64_t deadline = now_ms() + WRITE_TIMEOUT_MS;
    while (len > 0) {
        int r = mbedtls_ssl_write(&c->ssl, buf, len);
        if (r > 0) {
            buf += r;
            len -= (size_t)r;
            continue;
        }
        if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
            c->last_err = r;
            return IO_ERROR;
        }
        if (atomic_load(&c->sim->stopping))
            return IO_STOP;
        if (now_ms() >= deadline)
            return IO_TIMEOUT;
    }
    return 1;
}

/* Reads and drops whatever arrives until the client closes, the sim stops,
 * or (limit_ms > 0) that much time has passed. */
void conn_drain(struct conn *c, int limit_ms)
{
    unsigned char scratch[1024];
    int64_t deadline = limit_ms > 0 ? now_ms() + limit_ms : 0;
    while (conn_read(c, scratch, sizeof scratch, deadline, false) > 0) {
    }
}

/* Lets ms pass without writing, still watching the client: what it sends
 * meanwhile is appended to c->buf (a pipelined request is read later as
 * usual). 1 when the time is up, or the IO_ outcome that ended the wait
 * (the client closed or failed, the sim stops). */
int conn_pause(struct conn *c, int ms)
{
    int64_t deadline = now_ms() + ms;
    for (;;) {
        if (atomic_load(&c->sim->stopping))
            return IO_STOP;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 1;
        size_t room = HEADER_MAX + BODY_MAX - c->len;
        bool buffered = mbedtls_ssl_get_bytes_avail(&c->ssl) > 0 || mbedtls_ssl_check_pending(&c->ssl);
        if (!buffered || room == 0) {
            /* Polled here, not in bio_recv, whose whole tick would stretch
             * short pauses. With the buffer full only a hang-up is watched for. */
            struct pollfd p = {.fd = c->fd, .events = room > 0 ? POLLIN : 0};
            int n = poll(&p, 1, left < TICK_MS ? (int)left : TICK_MS);
            if (n < 0 && errno != EINTR)
                return IO_ERROR;
            if (n <= 0)
                continue;
            if (room == 0)
                return IO_EOF;
        }
        int r = mbedtls_ssl_read(&c->ssl, c->buf + c->len, room);
        if (r > 0) {
            c->len += (size_t)r;
            continue;
        }
        if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF ||
            r == MBEDTLS_ERR_NET_CONN_RESET)
            return IO_EOF;
        if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
            c->last_err = r;
            return IO_ERROR;
        }
    }
}

/* The same without TLS (stall-accept). */
void raw_hold(struct conn *c)
{
    unsigned char scratch[1024];
    while (!atomic_load(&c->sim->stopping)) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int n = poll(&p, 1, TICK_MS);
        if (n < 0 && errno != EINTR)
            return;
        if (n <= 0)
            continue;
        /* recv's 0 (the client closed) leaves errno as it was, possibly a stale
         * EAGAIN: only a -1 may be read through errno, or an EOF is polled for ever. */
        ssize_t r = recv(c->fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return;
    }
}

/* Closes so that the peer sees a TCP RST: SO_LINGER with a zero timeout.
 * Bytes still in the send queue would be dropped with it, so first wait (up
 * to a second) until the peer has acknowledged everything sent: what was
 * sent is then in the peer's receive queue, readable before the reset. */
void close_with_reset(int fd)
{
    int64_t deadline = now_ms() + 1000;
    int pending = 0;
    while (ioctl(fd, TIOCOUTQ, &pending) == 0 && pending > 0 && now_ms() < deadline)
        poll(NULL, 0, 5);
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* ---- session cache and ticket callbacks (counting resumptions) ------------------ */

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
int cache_get(void *data, unsigned char const *id, size_t id_len, mbedtls_ssl_session *session)
{
    int r = mbedtls_ssl_cache_get(data, id, id_len, session);
    if (r == 0)
        t_resumed = true;
    return r;
}
#else
int cache_get(void *data, mbedtls_ssl_session *session)
{
    int r = mbedtls_ssl_cache_get(data, session);
    if (r == 0)
        t_resumed = true;
    return r;
}
#endif

#if HAVE_TICKETS
int ticket_parse(void *p_ticket, mbedtls_ssl_session *session, unsigned char *buf, size_t len)
{
    int r = mbedtls_ssl_ticket_parse(p_ticket, session, buf, len);
    if (r == 0)
        t_resumed = true;
    return r;
}
#endif

/* ---- the handshake -------------------------------------------------------------------- */

bool conn_handshake(struct conn *c)
{
    struct sim *s = c->sim;
    int64_t deadline = now_ms() + HANDSHAKE_TIMEOUT_MS;
    t_resumed = false;
    for (;;) {
        int r = mbedtls_ssl_handshake(&c->ssl);
        if (r == 0)
            break;
        const char *why = NULL;
        char eb[128];
        if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
            why = tls_err(r, eb, sizeof eb);
        else if (atomic_load(&s->stopping))
            why = "stopping";
        else if (now_ms() >= deadline)
            why = "timeout";
        if (why) {
            pthread_mutex_lock(&s->lock);
            s->st.handshake_failures++;
            pthread_mutex_unlock(&s->lock);
            say("conn %u: handshake failed: %s", c->id, why);
            return false;
        }
    }
    bool resumed = t_resumed;
    /* A TLS 1.3 resumption carries no certificate: the client proved it in
     * the handshake that made the ticket. */
    char peer[160];
    snprintf(peer, sizeof peer, "%s", resumed ? "none (resumed session)" : "none");
    bool verified = false;
#if defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
    const mbedtls_x509_crt *pc = mbedtls_ssl_get_peer_cert(&c->ssl);
    if (pc) {
        char dn[128];
        if (mbedtls_x509_dn_gets(dn, sizeof dn, &pc->subject) < 0)
            snprintf(dn, sizeof dn, "?");
        verified = mbedtls_ssl_get_verify_result(&c->ssl) == 0;
        snprintf(peer, sizeof peer, "%s (%s)", dn, verified ? "verified" : "NOT verified");
    }
#endif
    pthread_mutex_lock(&s->lock);
    s->st.handshakes++;
    if (resumed)
        s->st.resumed++;
    if (verified)
        s->st.client_certs++;
    pthread_mutex_unlock(&s->lock);
    say("conn %u: %s %s%s, client certificate: %s", c->id, mbedtls_ssl_get_version(&c->ssl),
        mbedtls_ssl_get_ciphersuite(&c->ssl), resumed ? ", resumed" : "", peer);
    return true;
}
