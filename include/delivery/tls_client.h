/* tls_client.h - one TLS connection to the hospital service, on mbedtls.
 *
 * Built for mbedtls 2.28 (bookworm: TLS 1.2) and 3.6 (trixie: TLS 1.3 and
 * 1.2), chosen at build time. Verifies the server's chain against the
 * configured CA and its host name, optionally pins the server's public key
 * (SHA-256 of its DER SubjectPublicKeyInfo) on top, presents the device's
 * certificate (mutual TLS), applies connect and read timeouts, and resumes
 * the TLS session when it reconnects. There is no plain-text mode.
 *
 * Every wait (connect, handshake, send, receive) ends at the read timeout,
 * at the deadline set for the request, or at once when another thread
 * cancels the client: a server that trickles its answer cannot hold the
 * uplink, nor the service's stop or reload.
 */
#ifndef CCCD_TLS_CLIENT_H
#define CCCD_TLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Stable error codes (negative return values). */
enum tls_status {
    TLS_ERR_CONFIG = -1,  /* CA/cert/key file unreadable or mismatched */
    TLS_ERR_CONNECT = -2, /* TCP connect failed or timed out */
    TLS_ERR_VERIFY = -3,  /* the server's certificate, host name or pin was refused */
    TLS_ERR_HANDSHAKE = -4,
    TLS_ERR_TIMEOUT = -5, /* no data within the read timeout */
    TLS_ERR_CLOSED = -6,  /* the peer closed or reset the connection */
    TLS_ERR_IO = -7,
    TLS_ERR_CANCELLED = -8, /* tls_client_cancel() was called: the service is stopping */
};

struct tls_opts {
    const char *host;       /* name checked against the certificate */
    const char *port;       /* "443" */
    const char *ca_file;    /* PEM bundle the server must chain to */
    const char *cert_file;  /* device certificate (PEM), or NULL */
    const char *key_file;   /* device key (PEM), or NULL */
    const uint8_t *pin_sha256; /* 32 bytes, or NULL */
    int connect_timeout_ms;
    int read_timeout_ms;
};

struct tls_client;

/* Loads the CA, certificate and key and sets up the configuration; does not
 * connect. Messages name the file that failed. */
int tls_client_open(struct tls_client **out, const struct tls_opts *opts, char *err, size_t errlen);
void tls_client_close(struct tls_client *c);

/* Connects and handshakes (resuming the last session when it can). */
int tls_client_connect(struct tls_client *c, char *err, size_t errlen);
bool tls_client_connected(const struct tls_client *c);
/* Sends close_notify and closes the socket; keeps the session for resumption. */
void tls_client_disconnect(struct tls_client *c);

/* Writes all of data; returns 0 or a tls_status. */
int tls_client_write(struct tls_client *c, const void *data, size_t len, char *err, size_t errlen);
/* Reads what is there (waiting up to the read timeout); returns bytes read,
 * 0 when the peer closed cleanly, or a tls_status. */
int tls_client_read(struct tls_client *c, void *buf, size_t cap, char *err, size_t errlen);

/* Every wait from now on ends by deadline_ms (clock_ms() time; 0 = none). */
void tls_client_set_deadline(struct tls_client *c, int64_t deadline_ms);
/* From any thread: the current and every later wait ends with
 * TLS_ERR_CANCELLED. For stopping; the client is closed afterwards. */
void tls_client_cancel(struct tls_client *c);
/* True when a kept-alive connection is open and nothing has arrived on it
 * since the last answer: it may carry the next request. */
bool tls_client_idle_clean(struct tls_client *c);

/* After a handshake: "TLSv1.2", "TLSv1.3". */
const char *tls_client_version(const struct tls_client *c);

/* Parses 64 hex digits into 32 bytes; returns 0 or -1. */
int tls_parse_pin(const char *hex, uint8_t out[32]);

#endif
