/* tls_client.c - mbedtls client for the uplink, on mbedtls 2.28 and 3.6.
 *
 * The pattern of mbedtls's ssl_client2 sample, with what a device needs on
 * top: a connect timeout (mbedtls_net_connect has none, so we connect the
 * socket ourselves, non-blocking, and poll), a public-key pin checked in the
 * verify callback, and session resumption across reconnects.
 *
 * The socket stays non-blocking and our own BIO waits for it with poll():
 * beside the socket it watches an eventfd that tls_client_cancel() writes,
 * and it never waits past the read timeout nor past the request's deadline.
 * A server that trickles one byte a second, or sends "100 Continue" forever,
 * is cut off at the deadline, and a stopping service never waits for it. */
#include "delivery/tls_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hex.h"
#include "delivery/tls_files.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#define MBEDTLS3 1
#else
#define MBEDTLS3 0
#endif

struct tls_client {
    char host[256], port[16];
    uint8_t pin[32];
    bool has_pin, pin_failed;
    int connect_timeout_ms, read_timeout_ms;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca, cert;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    int fd;        /* the socket, non-blocking; -1 when none */
    int cancel_fd; /* eventfd: readable once tls_client_cancel() was called */
    int64_t deadline_ms; /* clock_ms() by which the request must be done; 0 = none */
    int wait_why;        /* why the BIO last gave up waiting: a WAIT_* value */
    mbedtls_ssl_session session;
    bool have_session, session_taken, connected;
};

/* ---- the socket, with deadlines and cancellation ----------------------------- */

enum { WAIT_READY = 0, WAIT_TIMEOUT = -1, WAIT_DEADLINE = -2, WAIT_CANCELLED = -3, WAIT_ERROR = -4 };

/* Waits until the socket is ready for events, at most timeout_ms and never
 * past the deadline; the cancel eventfd ends any wait at once. */
static int wait_socket(struct tls_client *c, short events, int timeout_ms)
{
    for (;;) {
        int64_t now = clock_ms();
        int t = timeout_ms;
        bool by_deadline = false;
        if (c->deadline_ms > 0 && c->deadline_ms - now < t) {
            t = c->deadline_ms - now > 0 ? (int)(c->deadline_ms - now) : 0;
            by_deadline = true;
        }
        struct pollfd p[2] = { { c->fd, events, 0 }, { c->cancel_fd, POLLIN, 0 } };
        int r = poll(p, 2, t);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return WAIT_ERROR;
        if (p[1].revents)
            return WAIT_CANCELLED;
        if (r == 0)
            return by_deadline ? WAIT_DEADLINE : WAIT_TIMEOUT;
        return WAIT_READY; /* POLLERR/POLLHUP too: the next recv/send says what happened */
    }
}

/* A wait that failed, in mbedtls's terms; wait_why keeps our reason. */
static int wait_failed(struct tls_client *c, int w)
{
    c->wait_why = w;
    return w == WAIT_ERROR ? MBEDTLS_ERR_NET_RECV_FAILED : MBEDTLS_ERR_SSL_TIMEOUT;
}

/* After MBEDTLS_ERR_SSL_TIMEOUT: which of our limits it was, and its message. */
static int timed_out(struct tls_client *c, const char *during, char *err, size_t errlen)
{
    if (c->wait_why == WAIT_CANCELLED) {
        snprintf(err, errlen, "%s:%s: %s cancelled: the service is stopping or reloading", c->host, c->port, during);
        return TLS_ERR_CANCELLED;
    }
    if (c->wait_why == WAIT_DEADLINE)
        snprintf(err, errlen, "%s:%s: %s: no complete answer within the request's deadline ([uplink] "
                 "request_timeout_ms): the server answers too slowly", c->host, c->port, during);
    else
        snprintf(err, errlen, "%s:%s: %s: nothing received within %d ms ([uplink] read_timeout_ms)", c->host,
                 c->port, during, c->read_timeout_ms);
    return TLS_ERR_TIMEOUT;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct tls_client *c = ctx;
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EPIPE || errno == ECONNRESET)
            return MBEDTLS_ERR_NET_CONN_RESET;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return MBEDTLS_ERR_NET_SEND_FAILED;
        /* A server that stopped reading: the same bound as for answers. */
        int w = wait_socket(c, POLLOUT, c->read_timeout_ms);
        if (w != WAIT_READY)
            return wait_failed(c, w);
    }
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct tls_client *c = ctx;
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == ECONNRESET || errno == EPIPE)
            return MBEDTLS_ERR_NET_CONN_RESET;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return MBEDTLS_ERR_NET_RECV_FAILED;
        int w = wait_socket(c, POLLIN, c->read_timeout_ms);
        if (w != WAIT_READY)
            return wait_failed(c, w);
    }
}

static void close_socket(struct tls_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void tls_client_set_deadline(struct tls_client *c, int64_t deadline_ms)
{
    c->deadline_ms = deadline_ms;
}

void tls_client_cancel(struct tls_client *c)
{
    uint64_t one = 1;
    /* An eventfd write fails only when the counter would overflow: it is
     * readable then anyway, which is all the waits look at. */
    (void)!write(c->cancel_fd, &one, sizeof(one));
}

/* Nothing may arrive on a kept-alive connection between an answer and the
 * next request: a byte there is a stray answer (which would be taken for
 * the next record's), a close, or garbage. Any of them: start afresh. */
bool tls_client_idle_clean(struct tls_client *c)
{
    if (!c->connected || mbedtls_ssl_get_bytes_avail(&c->ssl) > 0)
        return false;
    struct pollfd p = { c->fd, POLLIN, 0 };
    return poll(&p, 1, 0) == 0;
}

static void tls_error(char *err, size_t errlen, const char *what, int ret)
{
    char buf[128];
    mbedtls_strerror(ret, buf, sizeof(buf));
    snprintf(err, errlen, "%s: %s (-0x%04x)", what, buf, (unsigned)-ret);
}

int tls_parse_pin(const char *hex, uint8_t out[32])
{
    if (!hex || strlen(hex) != 64)
        return -1;
    return hex_decode(hex, out, 32);
}

static int sha256(const unsigned char *in, size_t len, unsigned char out[32])
{
#if MBEDTLS3
    return mbedtls_sha256(in, len, out, 0);
#else
    return mbedtls_sha256_ret(in, len, out, 0);
#endif
}

/* On top of normal chain verification: the leaf's public key must hash to
 * the pin. mbedtls has no pinning API; its verify callback is the hook. */
static int verify_pin(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    struct tls_client *c = ctx;
    if (depth != 0 || !c->has_pin)
        return 0;
    unsigned char der[2048], hash[32];
    int n = mbedtls_pk_write_pubkey_der(&crt->pk, der, sizeof(der));
    if (n <= 0 || sha256(der + sizeof(der) - n, (size_t)n, hash) != 0 || memcmp(hash, c->pin, 32) != 0) {
        c->pin_failed = true;
        *flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
    }
    return 0;
}

static int load_credentials(struct tls_client *c, const struct tls_opts *o, char *err, size_t errlen)
{
    if (tls_load_cert(&c->ca, o->ca_file, "CA certificate", err, errlen) != 0)
        return TLS_ERR_CONFIG;
    if (!o->cert_file || !o->key_file)
        return 0;
    if (tls_load_cert(&c->cert, o->cert_file, "certificate", err, errlen) != 0 ||
        tls_load_key(&c->key, o->key_file, mbedtls_ctr_drbg_random, &c->drbg, err, errlen) != 0)
        return TLS_ERR_CONFIG;
#if MBEDTLS3
    int ret = mbedtls_pk_check_pair(&c->cert.pk, &c->key, mbedtls_ctr_drbg_random, &c->drbg);
#else
    int ret = mbedtls_pk_check_pair(&c->cert.pk, &c->key);
#endif
    if (ret != 0) {
        snprintf(err, errlen, "%s does not belong to %s: provision the device again", o->key_file, o->cert_file);
        return TLS_ERR_CONFIG;
    }
    if ((ret = mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key)) != 0) {
        tls_error(err, errlen, "client certificate", ret);
        return TLS_ERR_CONFIG;
    }
    return 0;
}

static int setup_config(struct tls_client *c, char *err, size_t errlen)
{
    int ret = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        tls_error(err, errlen, "TLS configuration", ret);
        return TLS_ERR_CONFIG;
    }
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    mbedtls_ssl_conf_verify(&c->conf, verify_pin, c);
#if MBEDTLS3
    mbedtls_ssl_conf_min_tls_version(&c->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && defined(MBEDTLS_SSL_SESSION_TICKETS) && MBEDTLS_VERSION_NUMBER >= 0x03060100
    /* Since 3.6.1 a TLS 1.3 client drops session tickets unless asked to
     * hand them over; without them there is no resumption. */
    mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&c->conf,
                                                             MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
#else
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    return 0;
}

int tls_client_open(struct tls_client **out, const struct tls_opts *o, char *err, size_t errlen)
{
    *out = NULL;
    struct tls_client *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory for TLS");
        return TLS_ERR_CONFIG;
    }
    snprintf(c->host, sizeof(c->host), "%s", o->host);
    snprintf(c->port, sizeof(c->port), "%s", o->port);
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    c->read_timeout_ms = o->read_timeout_ms > 0 ? o->read_timeout_ms : 10000;
    if (o->pin_sha256) {
        memcpy(c->pin, o->pin_sha256, 32);
        c->has_pin = true;
    }
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->drbg);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_x509_crt_init(&c->cert);
    mbedtls_pk_init(&c->key);
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_ssl_init(&c->ssl);
    mbedtls_ssl_session_init(&c->session);
    c->fd = -1;
    c->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int rc = 0;
    if (c->cancel_fd < 0) {
        snprintf(err, errlen, "cannot make an eventfd for the uplink: %s", strerror(errno));
        rc = TLS_ERR_CONFIG;
    }
#if MBEDTLS3
    /* TLS 1.3 in mbedtls 3.x does its crypto through PSA. */
    if (rc == 0 && psa_crypto_init() != PSA_SUCCESS) {
        snprintf(err, errlen, "PSA crypto failed to start");
        rc = TLS_ERR_CONFIG;
    }
#endif
    static const char pers[] = "cccd-reader uplink";
    if (rc == 0 && mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, (const unsigned char *)pers,
                                         sizeof(pers) - 1) != 0) {
        snprintf(err, errlen, "no entropy for TLS (is /dev/urandom readable?)");
        rc = TLS_ERR_CONFIG;
    }
    if (rc == 0)
        rc = setup_config(c, err, errlen);
    if (rc == 0)
        rc = load_credentials(c, o, err, errlen);
    if (rc == 0 && mbedtls_ssl_setup(&c->ssl, &c->conf) != 0) {
        snprintf(err, errlen, "TLS context setup failed");
        rc = TLS_ERR_CONFIG;
    }
    if (rc != 0) {
        tls_client_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void tls_client_close(struct tls_client *c)
{
    if (!c)
        return;
    tls_client_disconnect(c);
    mbedtls_ssl_session_free(&c->session);
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_pk_free(&c->key);
    mbedtls_x509_crt_free(&c->cert);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
    if (c->cancel_fd >= 0)
        close(c->cancel_fd);
    free(c);
}

/* Connects c->fd to one address, waiting at most timeout_ms (and never past
 * the deadline or a cancel). Returns 0, or a WAIT_* value with *err_no. */
static int connect_one(struct tls_client *c, const struct addrinfo *ai, int timeout_ms, int *err_no)
{
    c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (c->fd < 0) {
        *err_no = errno;
        return WAIT_ERROR;
    }
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return 0;
    int w = errno == EINPROGRESS ? wait_socket(c, POLLOUT, timeout_ms) : WAIT_ERROR;
    int soerr = errno;
    socklen_t sl = sizeof(soerr);
    if (w == WAIT_READY && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
        return 0;
    *err_no = w == WAIT_READY || w == WAIT_ERROR ? soerr : ETIMEDOUT;
    close_socket(c);
    return w == WAIT_READY ? WAIT_ERROR : w;
}

static int tcp_connect(struct tls_client *c, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    int g = getaddrinfo(c->host, c->port, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "%s: cannot resolve: %s", c->host, gai_strerror(g));
        return TLS_ERR_CONNECT;
    }
    int w = WAIT_ERROR, err_no = 0;
    for (struct addrinfo *ai = res; ai && w != 0 && w != WAIT_CANCELLED && w != WAIT_DEADLINE; ai = ai->ai_next)
        w = connect_one(c, ai, c->connect_timeout_ms, &err_no);
    freeaddrinfo(res);
    if (w == 0)
        return 0;
    c->wait_why = w;
    if (w == WAIT_CANCELLED || w == WAIT_DEADLINE)
        return timed_out(c, "connect", err, errlen);
    snprintf(err, errlen, "%s:%s: cannot connect: %s", c->host, c->port, strerror(err_no));
    return TLS_ERR_CONNECT;
}

static int handshake_failed(struct tls_client *c, int ret, char *err, size_t errlen)
{
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        char info[256];
        uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
        mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
        info[strcspn(info, "\n")] = '\0';
        snprintf(err, errlen, "%s:%s: server certificate refused: %s%s", c->host, c->port,
                 c->pin_failed ? "public key does not match the configured pin" : info,
                 c->pin_failed ? "" : " (check [uplink] ca and the server's name)");
        return TLS_ERR_VERIFY;
    }
    char what[300];
    if (ret == MBEDTLS_ERR_SSL_TIMEOUT)
        return timed_out(c, "TLS handshake", err, errlen);
    snprintf(what, sizeof(what), "%s:%s: TLS handshake failed", c->host, c->port);
    tls_error(err, errlen, what, ret);
    return TLS_ERR_HANDSHAKE;
}

/* TLS 1.2 hands out its session right after the handshake; TLS 1.3's
 * ticket arrives later, so that one is taken at disconnect. Either way only
 * once per connection, as mbedtls asks. */
static void keep_session(struct tls_client *c)
{
    if (c->session_taken)
        return;
    c->session_taken = true;
    mbedtls_ssl_session_free(&c->session);
    mbedtls_ssl_session_init(&c->session);
    c->have_session = mbedtls_ssl_get_session(&c->ssl, &c->session) == 0;
}

int tls_client_connect(struct tls_client *c, char *err, size_t errlen)
{
    tls_client_disconnect(c);
    int rc = tcp_connect(c, err, errlen);
    if (rc != 0)
        return rc;
    mbedtls_ssl_session_reset(&c->ssl);
    c->pin_failed = false;
    c->session_taken = false;
    int ret = mbedtls_ssl_set_hostname(&c->ssl, c->host);
    if (ret == 0 && c->have_session)
        (void)mbedtls_ssl_set_session(&c->ssl, &c->session); /* resumption is an optimisation */
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    while (ret == 0 && (ret = mbedtls_ssl_handshake(&c->ssl)) != 0)
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            ret = 0;
        else
            break;
    if (ret != 0) {
        rc = handshake_failed(c, ret, err, errlen);
        close_socket(c);
        return rc;
    }
    c->connected = true;
    if (strcmp(mbedtls_ssl_get_version(&c->ssl), "TLSv1.3") != 0)
        keep_session(c);
    return 0;
}

bool tls_client_connected(const struct tls_client *c)
{
    return c->connected;
}

void tls_client_disconnect(struct tls_client *c)
{
    if (!c->connected) {
        close_socket(c);
        return;
    }
    if (strcmp(mbedtls_ssl_get_version(&c->ssl), "TLSv1.3") != 0)
        keep_session(c);
    /* close_notify is a courtesy: it must not wait on a server that stopped
     * reading (the socket is non-blocking; a full buffer drops it). */
    int64_t deadline = c->deadline_ms;
    c->deadline_ms = clock_ms();
    (void)mbedtls_ssl_close_notify(&c->ssl);
    c->deadline_ms = deadline;
    close_socket(c);
    c->connected = false;
}

int tls_client_write(struct tls_client *c, const void *data, size_t len, char *err, size_t errlen)
{
    const unsigned char *p = data;
    while (len > 0) {
        int n = mbedtls_ssl_write(&c->ssl, p, len);
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        if (n == MBEDTLS_ERR_SSL_TIMEOUT)
            return timed_out(c, "send", err, errlen);
        if (n < 0) {
            char what[300];
            snprintf(what, sizeof(what), "%s:%s: send failed", c->host, c->port);
            tls_error(err, errlen, what, n);
            return n == MBEDTLS_ERR_NET_CONN_RESET ? TLS_ERR_CLOSED : TLS_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tls_client_read(struct tls_client *c, void *buf, size_t cap, char *err, size_t errlen)
{
    for (;;) {
        int n = mbedtls_ssl_read(&c->ssl, buf, cap);
        if (n >= 0)
            return n;
        switch (n) {
        case MBEDTLS_ERR_SSL_WANT_READ:
        case MBEDTLS_ERR_SSL_WANT_WRITE:
            continue;
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
        case MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET:
            c->session_taken = false; /* a TLS 1.3 ticket: the session to resume next time */
            keep_session(c);
            continue;
#endif
        case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
            return 0;
        case MBEDTLS_ERR_SSL_TIMEOUT:
            return timed_out(c, "answer", err, errlen);
        case MBEDTLS_ERR_NET_CONN_RESET:
            snprintf(err, errlen, "%s:%s: connection reset by the server", c->host, c->port);
            return TLS_ERR_CLOSED;
        default: {
            char what[300];
            snprintf(what, sizeof(what), "%s:%s: receive failed", c->host, c->port);
            tls_error(err, errlen, what, n);
            return TLS_ERR_IO;
        }
        }
    }
}

const char *tls_client_version(const struct tls_client *c)
{
    return c->connected ? mbedtls_ssl_get_version(&c->ssl) : "none";
}
