/* sim.h - what the his_sim files share: limits, the simulator's state
 * (struct sim, struct conn), a request and an answer, and the functions one
 * file calls in another, grouped by the file that defines them. Private to
 * tools/his_sim/, like libgpiod's internal.h: one header rather than one a
 * file, because the files share one struct sim and split only by concern. */
#ifndef HIS_SIM_SIM_H
#define HIS_SIM_SIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#if !defined(MBEDTLS_THREADING_C) || !defined(MBEDTLS_SSL_SRV_C) || !defined(MBEDTLS_SSL_CACHE_C)
#error "his_sim needs mbedtls built with MBEDTLS_THREADING_C, MBEDTLS_SSL_SRV_C and MBEDTLS_SSL_CACHE_C"
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_TICKET_C)
#define HAVE_TICKETS 1
#include <mbedtls/ssl_ticket.h>
#else
#define HAVE_TICKETS 0
#endif

#define HEADER_MAX 8192         /* request line + headers + blank line */
#define BODY_MAX 65536
#define HEADER_COUNT_MAX 100
#define KEY_MAX 128             /* idempotency key */
#define DEVICE_ID_MAX 64
#define CONN_MAX 64             /* connections at once; more are reset */
#define TICK_MS 100             /* how often waits look at the stop flag and the mode */
#define HANDSHAKE_TIMEOUT_MS 10000
#define REQUEST_TIMEOUT_MS 10000 /* from a request's first byte to its last */
#define WRITE_TIMEOUT_MS 10000
#define DRAIN_MS 500            /* reading what the client still sends before an error close */
#define SHUTDOWN_WAIT_MS 3000
#define RETRY_AFTER_MAX 128     /* --retry-after: an answer's head is built in 1 KiB */
/* What overlong sends past Content-Length: 30 bytes no HTTP parser takes
 * for the start of an answer. */
#define OVERRUN_JUNK "JUNK-PAST-CONTENT-LENGTH-00000"
#define REDIRECT_LOCATION "https://elsewhere.invalid/api/checkin" /* .invalid: never resolves (RFC 2606) */

/* ---- fault modes -------------------------------------------------------- */

/* Named modes; a value 300..599 means "answer every check-in with it" (the
 * service's JSON refusal), MODE_PROXY + 300..599 the same status as nginx's
 * own HTML page (something in front of the service refused). */
enum mode {
    MODE_NONE,
    MODE_REFUSE,
    MODE_STALL,
    MODE_STALL_ACCEPT,
    MODE_RESET,
    MODE_CLOSE,
    MODE_CLOSE_DELIMITED,
    MODE_CHUNKED,
    MODE_WRONG_CERT,
    MODE_EXPIRED_CERT,
    MODE_WRONG_HOST,
    MODE_CERT_REFUSED,
    MODE_OVERLONG,
    MODE_TRICKLE,
    MODE_CONTINUE_FLOOD,
    MODE_HEADER_TRICKLE,
    MODE_STRAY,
    MODE_SCHEMA_REFUSED,
    MODE_NAMED_COUNT
};
#define MODE_PROXY 1000 /* proxy-NNN is MODE_PROXY + NNN */

extern const char *const MODE_NAMES[MODE_NAMED_COUNT];

/* ---- server credentials ----------------------------------------------------- */

/* The certificate served depends on the mode at accept time: the certificate
 * faults use the PKI's other server certificates when they were loaded. */
enum cred_id { CRED_SERVER, CRED_WRONG_CA, CRED_EXPIRED, CRED_WRONG_HOST, CRED_COUNT };
extern const char *const CRED_FILES[CRED_COUNT];

struct cred {
    bool loaded;
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf;
    /* One cache and ticket key per certificate: a session made under one
     * certificate must not resume under another (it would skip the check). */
    mbedtls_ssl_cache_context cache;
#if HAVE_TICKETS
    mbedtls_ssl_ticket_context ticket;
#endif
};

/* ---- state -------------------------------------------------------------------- */

struct options {
    int port;
    const char *pki, *cert, *key, *ca, *out, *control, *port_file, *path, *retry_after;
    bool require_client_cert;
    int fault;
    int idle_timeout_s;
    int trickle_ms;     /* trickle: between two bytes of an answer */
    int flood_ms;       /* continue-flood: between two 100 Continue */
    int header_ms;      /* header-trickle: between two header lines */
    int stray_ms;       /* stray: from the answer to the unasked one (0: in the same write's wake) */
    bool max_tls12;
};

struct stats {
    unsigned long connections, handshakes, handshake_failures, resumed, client_certs;
    unsigned long requests, accepted, duplicates, rejected, faults, resets_sent;
    unsigned long status[600];
};

struct key_entry {
    char *key;
    char code[4]; /* maKetQua given when it was accepted */
};

struct key_table {
    struct key_entry *slots;
    size_t cap, count;
};

struct sim {
    struct options opt;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    bool have_ca;
    struct cred creds[CRED_COUNT];
    int listen_fd;
    bool listening;
    int port;
    atomic_int mode;
    atomic_bool stopping;
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t conn_gone;
    int active;
    unsigned next_conn;
    struct stats st;
    struct key_table keys;
    int out_fd;
    char bad_control[64]; /* last unusable control file content, reported once */
    bool stray_sent;      /* stray: the stray answer has gone out since the mode began */
};

struct conn {
    struct sim *sim;
    int fd;
    unsigned id;
    mbedtls_ssl_context ssl;
    unsigned char *buf; /* HEADER_MAX + BODY_MAX: the request being read, and what follows */
    size_t len;
    int last_err;       /* mbedtls error behind IO_ERROR */
};

/* Outcomes of conn_read / conn_write_all besides a byte count. */
enum { IO_EOF = 0, IO_TIMEOUT = -1, IO_STOP = -2, IO_ERROR = -3, IO_REFUSE = -4 };

/* ---- HTTP ----------------------------------------------------------------------------- */

struct request {
    char method[16];
    char target[256];
    int minor;           /* HTTP/1.minor */
    bool close;          /* Connection: close, or HTTP/1.0 without keep-alive */
    bool has_length;
    size_t length;
    bool has_key, key_too_long;
    char key[KEY_MAX + 1];
    char content_type[128];
    size_t consumed;     /* head + body bytes in the connection buffer */
    const char *error;   /* why the request is refused (status > 0 from read_request) */
};

enum framing { FRAME_LENGTH, FRAME_CHUNKED, FRAME_EOF };

/* How an answer's bytes leave: all at once, the first half only (reset), or
 * one byte a TLS record, --trickle-ms apart (trickle). */
enum delivery { SEND_WHOLE, SEND_HALF, SEND_TRICKLE };

struct answer {
    int status;
    char *body;              /* JSON text or an nginx page (malloc), or NULL */
    const char *retry_after; /* Retry-After value, or NULL */
    const char *allow;       /* Allow value (405), or NULL */
    const char *location;    /* Location value (3xx), or NULL */
    const char *reason;      /* reason phrase, or NULL for the usual one */
    bool nginx;              /* an nginx page: text/html, Server: nginx */
    const char *overrun;     /* bytes sent after the body, outside its Content-Length (overlong) */
    bool stray;              /* stray: an unasked second 200 follows this answer */
    char key[KEY_MAX + 1];   /* the request's Idempotency-Key, echoed ("" = none) */
    bool close;
};

/* ---- functions shared between the files -------------------------------------------------- */

/* util.c */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t now_ms(void);
const char *tls_err(int r, char *buf, size_t size);
void log_token(const char *s, size_t n, char out[84]);
bool all_digits(const char *s, size_t n);

/* faults.c */
bool mode_is_status(int m);
bool mode_is_proxy(int m);
int parse_mode(const char *s);
const char *mode_name(int m, char buf[16]);
int refresh_mode(struct sim *s);
enum cred_id cred_for_mode(const struct sim *s, int mode);

/* tls_io.c */
int bio_send(void *ctx, const unsigned char *buf, size_t len);
int bio_recv(void *ctx, unsigned char *buf, size_t len);
const char *io_name(int r);
int conn_read(struct conn *c, unsigned char *buf, size_t len, int64_t deadline, bool idle);
int conn_write_all(struct conn *c, const unsigned char *buf, size_t len);
void conn_drain(struct conn *c, int limit_ms);
int conn_pause(struct conn *c, int ms);
void raw_hold(struct conn *c);
void close_with_reset(int fd);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
int cache_get(void *data, unsigned char const *id, size_t id_len, mbedtls_ssl_session *session);
#else
int cache_get(void *data, mbedtls_ssl_session *session);
#endif
#if HAVE_TICKETS
int ticket_parse(void *p_ticket, mbedtls_ssl_session *session, unsigned char *buf, size_t len);
#endif

bool conn_handshake(struct conn *c);

/* http.c */
int read_request(struct conn *c, struct request *q, int *io);
void answer_json(struct answer *a, int status, json_t *obj);
void answer_error(struct answer *a, int status, const char *error, const char *field);
void answer_nginx(struct answer *a, int status);
void answer_nginx_cert_error(struct answer *a);
int send_answer(struct conn *c, const struct answer *a, enum framing fr, enum delivery how);
void send_continue_flood(struct conn *c);
void send_header_trickle(struct conn *c);
void count_status(struct sim *s, int status);

/* store.c */
const char *ket_qua(json_t *rec, const char **message);
struct key_entry *table_find(const struct key_table *t, const char *key);
bool table_add(struct key_table *t, const char *key, const char *code);
void table_free(struct key_table *t);
bool store_line(struct sim *s, const char *line);
int open_records(struct sim *s);

/* checkin.c */
bool handle_checkin(struct conn *c, const struct request *q, int mode, struct answer *a);

/* conn.c */
void *conn_main(void *arg);

#endif
