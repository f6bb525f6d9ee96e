/* uplink.h - delivers the spool's records to the hospital service.
 *
 * Runs on its own thread beside the camera loop, so a slow or dead server
 * never delays reading the next card. Takes the oldest undelivered record,
 * POSTs it over TLS (keeping the connection alive), and acts on the answer
 * as docs/protocol.md's table says: 2xx and 409 ack it; the service's own
 * refusal of the record sets it aside in the dead-letter file; a refusal of
 * the terminal (a proxy refusing the certificate, 401/403, a redirect, ...)
 * keeps every record and pauses; anything else is retried with exponential
 * backoff and jitter, honouring Retry-After. Every request has a deadline,
 * and stopping cancels the one in flight.
 */
#ifndef CCCD_UPLINK_H
#define CCCD_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery/spool.h"
#include "delivery/tls_client.h"

struct uplink_opts {
    const char *url; /* https://host[:port]/path */
    const char *ca_file, *cert_file, *key_file;
    const uint8_t *pin_sha256; /* 32 bytes or NULL */
    int connect_timeout_ms, read_timeout_ms;
    int backoff_min_ms, backoff_max_ms;
    bool reuse_connection; /* false only for the benchmark: a handshake per record */
    int request_timeout_ms; /* connect to last byte of the answer; 0 = 30000 */
};

/* What an answer means for the record that was sent (docs/protocol.md). */
enum uplink_verdict {
    UPLINK_DELIVERED,        /* 2xx: acked */
    UPLINK_ALREADY_HAD,      /* 409: the service has it: acked */
    UPLINK_RECORD_REFUSED,   /* the service's own error about this record: set aside */
    UPLINK_TERMINAL_REFUSED, /* the terminal is refused (certificate, auth, address): kept, paused */
    UPLINK_TEMPORARY,        /* 5xx, 408, 429, timeouts, resets: kept, retried */
};

/* Judges an answer by its status and body; why gets a line for the log
 * (printable, bounded: the service's error text is cleaned). */
enum uplink_verdict uplink_judge(int status, const uint8_t *body, size_t len, char *why, size_t whylen);

/* The Host header for host and port: "[v6]" bracketed, ":port" unless 443. */
void uplink_host_header(const char *host, const char *port, char *out, size_t cap);

/* What the uplink tells the rest of the terminal (called on its thread). */
struct uplink_events {
    void *ctx;
    /* true while records wait because the service cannot be reached */
    void (*offline)(void *ctx, bool offline);
    /* the service's insurance check for a record scanned age_s seconds ago */
    void (*insurance)(void *ctx, const char *ma_ket_qua, long age_s);
};

struct uplink_stats {
    uint64_t delivered, already_had, dead_letters, temporary_failures, connects;
    uint64_t terminal_refusals; /* answers that refused the terminal, not a record */
};

struct uplink;

/* Checks the URL (https only) and the TLS files, then starts the thread. */
int uplink_start(struct uplink **out, const struct uplink_opts *opts, struct spool *spool,
                 const struct uplink_events *events, char *err, size_t errlen);
/* Stops the thread (a delivery in flight finishes or times out first). NULL-safe. */
void uplink_stop(struct uplink *u);
/* A record was appended: deliver without waiting for the next poll. */
void uplink_kick(struct uplink *u);
void uplink_get_stats(struct uplink *u, struct uplink_stats *st);

/* Splits https://host[:port]/path; returns 0 or -1 with a message. */
int uplink_parse_url(const char *url, char *host, size_t hostcap, char *port, size_t portcap, char *path,
                     size_t pathcap, char *err, size_t errlen);

#endif
