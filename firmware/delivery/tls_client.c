/* tls_client.c - mbedtls client for the uplink, on mbedtls 2.28 and 3.6.
 *
 * The pattern of mbedtls's ssl_client2 sample, with what a device needs on
 * top: a connect timeout (mbedtls_net_connect has none, so we connect the
 * socket ourselves, non-blocking, and poll), a receive-with-timeout BIO so
 * the read timeout works, a public-key pin checked in the verify callback,
 * and session resumption across reconnects. */
#include "delivery/tls_client.h"

#include "base/hex.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

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
    mbedtls_net_context net;
    mbedtls_ssl_session session;
    bool have_session, session_taken, connected;
};

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
    int ret = mbedtls_x509_crt_parse_file(&c->ca, o->ca_file);
    if (ret != 0) {
        tls_error(err, errlen, o->ca_file, ret);
        return TLS_ERR_CONFIG;
    }
    if (!o->cert_file || !o->key_file)
        return 0;
    if ((ret = mbedtls_x509_crt_parse_file(&c->cert, o->cert_file)) != 0) {
        tls_error(err, errlen, o->cert_file, ret);
        return TLS_ERR_CONFIG;
    }
#if MBEDTLS3
    ret = mbedtls_pk_parse_keyfile(&c->key, o->key_file, NULL, mbedtls_ctr_drbg_random, &c->drbg);
#else
    ret = mbedtls_pk_parse_keyfile(&c->key, o->key_file, NULL);
#endif
    if (ret != 0) {
        tls_error(err, errlen, o->key_file, ret); /* the message names the file, never the key */
        return TLS_ERR_CONFIG;
    }
#if MBEDTLS3
    ret = mbedtls_pk_check_pair(&c->cert.pk, &c->key, mbedtls_ctr_drbg_random, &c->drbg);
#else
    ret = mbedtls_pk_check_pair(&c->cert.pk, &c->key);
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
    mbedtls_ssl_conf_read_timeout(&c->conf, (uint32_t)c->read_timeout_ms);
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
    mbedtls_net_init(&c->net);
    mbedtls_ssl_session_init(&c->session);
    int rc = 0;
#if MBEDTLS3
    /* TLS 1.3 in mbedtls 3.x does its crypto through PSA. */
    if (psa_crypto_init() != PSA_SUCCESS) {
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
    free(c);
}

/* Connects one address with a timeout; returns the connected fd or -1. */
static int connect_one(const struct addrinfo *ai, int timeout_ms, int *err_no)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        *err_no = errno;
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
        struct pollfd p = { fd, POLLOUT, 0 };
        r = poll(&p, 1, timeout_ms);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
            r = 0;
        else
            errno = r == 0 ? ETIMEDOUT : (soerr ? soerr : errno), r = -1;
    }
    if (r != 0 || fcntl(fd, F_SETFL, 0) != 0) {
        *err_no = errno;
        close(fd);
        return -1;
    }
    return fd;
}

static int tcp_connect(struct tls_client *c, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    int g = getaddrinfo(c->host, c->port, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "%s: cannot resolve: %s", c->host, gai_strerror(g));
        return TLS_ERR_CONNECT;
    }
    int fd = -1, err_no = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, c->connect_timeout_ms, &err_no);
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "%s:%s: cannot connect: %s", c->host, c->port, strerror(err_no));
        return TLS_ERR_CONNECT;
    }
    /* Writes must not hang on a server that stopped reading either. */
    struct timeval tv = { c->read_timeout_ms / 1000, (c->read_timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    c->net.fd = fd;
    return 0;
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
    snprintf(what, sizeof(what), "%s:%s: TLS handshake failed", c->host, c->port);
    tls_error(err, errlen, what, ret);
    return ret == MBEDTLS_ERR_SSL_TIMEOUT ? TLS_ERR_TIMEOUT : TLS_ERR_HANDSHAKE;
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
    mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send, NULL, mbedtls_net_recv_timeout);
    while (ret == 0 && (ret = mbedtls_ssl_handshake(&c->ssl)) != 0)
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            ret = 0;
        else
            break;
    if (ret != 0) {
        rc = handshake_failed(c, ret, err, errlen);
        mbedtls_net_free(&c->net);
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
        mbedtls_net_free(&c->net);
        return;
    }
    if (strcmp(mbedtls_ssl_get_version(&c->ssl), "TLSv1.3") != 0)
        keep_session(c);
    (void)mbedtls_ssl_close_notify(&c->ssl);
    mbedtls_net_free(&c->net);
    c->connected = false;
}

int tls_client_write(struct tls_client *c, const void *data, size_t len, char *err, size_t errlen)
{
    const unsigned char *p = data;
    while (len > 0) {
        int n = mbedtls_ssl_write(&c->ssl, p, len);
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
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
            snprintf(err, errlen, "%s:%s: no answer within %d ms", c->host, c->port, c->read_timeout_ms);
            return TLS_ERR_TIMEOUT;
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
