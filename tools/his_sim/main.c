/* his_sim.c - the hospital service, simulated: the uplink protocol of
 * docs/protocol.md over HTTPS on mbedtls, for tests and the demo.
 *
 *   his_sim --out RECORDS.jsonl [--port N] [--pki DIR] [--cert F --key F] [--ca F]
 *           [--require-client-cert] [--fault MODE] [--control FILE] [--port-file F]
 *           [--path /api/checkin] [--retry-after VALUE] [--idle-timeout S] [--max-tls 1.2]
 *
 * Listens on 127.0.0.1 only (port 0: the kernel picks one) and prints
 * "listening on 127.0.0.1:PORT" once ready. POST PATH takes one check-in
 * record (JSON): a valid record whose idempotency key is new is appended to
 * RECORDS.jsonl (one compact line, fsync) and answered 200 with
 * {"maKetQua": ..., "message": ...}; a key seen before (in this run or in the
 * file at start) is answered 409. GET /stats answers the counters as JSON.
 *
 * Fault modes (--fault, or one word in the --control file, re-read before
 * every accept and every request): none, refuse, stall, stall-accept, reset,
 * close, close-delimited, chunked, wrong-cert, expired-cert, wrong-host, and
 * any status 400..599 (503 and 429 carry Retry-After). docs/his-sim.md has
 * what each does, the maKetQua rule, and how the tests use them.
 *
 * Logs (stderr) carry idempotency keys, statuses and result codes only, never
 * a field of the record. SIGTERM / SIGINT: stop, print the counters, exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#endif

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

/* ---- fault modes -------------------------------------------------------- */

/* Named modes; a value 400..599 means "answer every check-in with it". */
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
    MODE_NAMED_COUNT
};

static const char *const MODE_NAMES[MODE_NAMED_COUNT] = {
    "none", "refuse", "stall", "stall-accept", "reset", "close", "close-delimited",
    "chunked", "wrong-cert", "expired-cert", "wrong-host",
};

static bool mode_is_status(int m) { return m >= 400 && m <= 599; }

/* The mode a word names, or -1. */
static int parse_mode(const char *s)
{
    for (int i = 0; i < MODE_NAMED_COUNT; i++)
        if (strcmp(s, MODE_NAMES[i]) == 0)
            return i;
    if (strlen(s) == 3 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
        s[2] >= '0' && s[2] <= '9') {
        int code = atoi(s);
        if (mode_is_status(code))
            return code;
    }
    return -1;
}

static const char *mode_name(int m, char buf[16])
{
    if (m >= 0 && m < MODE_NAMED_COUNT)
        return MODE_NAMES[m];
    snprintf(buf, 16, "%d", m);
    return buf;
}

/* ---- server credentials ----------------------------------------------------- */

/* The certificate served depends on the mode at accept time: the certificate
 * faults use the PKI's other server certificates when they were loaded. */
enum cred_id { CRED_SERVER, CRED_WRONG_CA, CRED_EXPIRED, CRED_WRONG_HOST, CRED_COUNT };
static const char *const CRED_FILES[CRED_COUNT] = {"server", "wrong-ca-server", "expired", "wrong-host"};

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

static volatile sig_atomic_t g_signal;
/* Set by the session cache and ticket callbacks, which run on the thread
 * doing the handshake: tells that thread its handshake was a resumption. */
static _Thread_local bool t_resumed;

/* ---- small helpers --------------------------------------------------------------- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    fputs("his_sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *tls_err(int r, char *buf, size_t size)
{
    mbedtls_strerror(r, buf, size);
    return buf;
}

/* A printable copy of a client-supplied token for the log: at most 80
 * characters of [A-Za-z0-9._:-], anything else as '?'. */
static void log_token(const char *s, size_t n, char out[84])
{
    size_t i = 0;
    for (; i < n && i < 80; i++) {
        char ch = s[i];
        bool okch = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '.' || ch == '_' || ch == ':' || ch == '-';
        out[i] = okch ? ch : '?';
    }
    if (n > 80)
        out[i++] = '~';
    out[i] = '\0';
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 500 ? "Client Error" : "Server Error";
    }
}

/* ---- the idempotency keys seen ---------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct key_entry *table_find(const struct key_table *t, const char *key)
{
    if (t->cap == 0)
        return NULL;
    for (size_t i = fnv1a(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slots[i].key)
            return NULL;
        if (strcmp(t->slots[i].key, key) == 0)
            return &t->slots[i];
    }
}

static void table_put(struct key_table *t, char *key, const char *code)
{
    size_t i = fnv1a(key) & (t->cap - 1);
    while (t->slots[i].key)
        i = (i + 1) & (t->cap - 1);
    t->slots[i].key = key;
    snprintf(t->slots[i].code, sizeof t->slots[i].code, "%s", code);
    t->count++;
}

/* Adds a key not in the table; false when out of memory. */
static bool table_add(struct key_table *t, const char *key, const char *code)
{
    if ((t->count + 1) * 10 >= t->cap * 7) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        struct key_entry *old = t->slots;
        size_t ocap = t->cap;
        t->slots = calloc(ncap, sizeof *t->slots);
        if (!t->slots) {
            t->slots = old;
            return false;
        }
        t->cap = ncap;
        t->count = 0;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].key)
                table_put(t, old[i].key, old[i].code);
        free(old);
    }
    char *copy = strdup(key);
    if (!copy)
        return false;
    table_put(t, copy, code);
    return true;
}

static void table_free(struct key_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].key);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ---- the mode, from --fault and the control file ---------------------------------- */

/* Re-reads the control file (when there is one) and returns the mode now in
 * force. A missing file means the --fault mode. An empty file keeps the mode
 * as it was: `echo 503 > FILE` truncates before it writes, and a read in
 * between must not flip the mode for a moment. An unknown word keeps the
 * mode too (reported once). */
static int refresh_mode(struct sim *s)
{
    if (!s->opt.control)
        return atomic_load(&s->mode);
    int m = s->opt.fault;
    char text[64] = "";
    int fd = open(s->opt.control, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        text[n > 0 ? n : 0] = '\0';
        char *p = text;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        size_t len = strcspn(p, " \t\r\n");
        p[len] = '\0';
        if (len == 0)
            return atomic_load(&s->mode);
        m = parse_mode(p);
        if (m < 0) {
            pthread_mutex_lock(&s->lock);
            if (strcmp(s->bad_control, p) != 0) {
                snprintf(s->bad_control, sizeof s->bad_control, "%s", p);
                char shown[84];
                log_token(p, len, shown);
                say("control file: unknown mode \"%s\", keeping the current one", shown);
            }
            pthread_mutex_unlock(&s->lock);
            return atomic_load(&s->mode);
        }
    }
    int old = atomic_exchange(&s->mode, m);
    if (old != m) {
        char b1[16], b2[16];
        say("mode %s -> %s", mode_name(old, b1), mode_name(m, b2));
    }
    return m;
}

/* ---- TLS over a socket, with waits that watch the stop flag ----------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
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

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
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

/* Outcomes of conn_read / conn_write_all besides a byte count. */
enum { IO_EOF = 0, IO_TIMEOUT = -1, IO_STOP = -2, IO_ERROR = -3, IO_REFUSE = -4 };

static const char *io_name(int r)
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
static int conn_read(struct conn *c, unsigned char *buf, size_t len, int64_t deadline, bool idle)
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
static int conn_write_all(struct conn *c, const unsigned char *buf, size_t len)
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
static void conn_drain(struct conn *c, int limit_ms)
{
    unsigned char scratch[1024];
    int64_t deadline = limit_ms > 0 ? now_ms() + limit_ms : 0;
    while (conn_read(c, scratch, sizeof scratch, deadline, false) > 0) {
    }
}

/* The same without TLS (stall-accept). */
static void raw_hold(struct conn *c)
{
    unsigned char scratch[1024];
    while (!atomic_load(&c->sim->stopping)) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int n = poll(&p, 1, TICK_MS);
        if (n < 0 && errno != EINTR)
            return;
        if (n > 0 && recv(c->fd, scratch, sizeof scratch, MSG_DONTWAIT) <= 0 && errno != EAGAIN)
            return;
    }
}

/* Closes so that the peer sees a TCP RST: SO_LINGER with a zero timeout.
 * Bytes still in the send queue would be dropped with it, so first wait (up
 * to a second) until the peer has acknowledged everything sent: what was
 * sent is then in the peer's receive queue, readable before the reset. */
static void close_with_reset(int fd)
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
static int cache_get(void *data, unsigned char const *id, size_t id_len, mbedtls_ssl_session *session)
{
    int r = mbedtls_ssl_cache_get(data, id, id_len, session);
    if (r == 0)
        t_resumed = true;
    return r;
}
#else
static int cache_get(void *data, mbedtls_ssl_session *session)
{
    int r = mbedtls_ssl_cache_get(data, session);
    if (r == 0)
        t_resumed = true;
    return r;
}
#endif

#if HAVE_TICKETS
static int ticket_parse(void *p_ticket, mbedtls_ssl_session *session, unsigned char *buf, size_t len)
{
    int r = mbedtls_ssl_ticket_parse(p_ticket, session, buf, len);
    if (r == 0)
        t_resumed = true;
    return r;
}
#endif

/* ---- HTTP requests ------------------------------------------------------------------ */

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

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Index just past the first CRLFCRLF in buf[0..n), or 0. */
static size_t find_head_end(const unsigned char *buf, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return i + 4;
    return 0;
}

static bool header_has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t'))
            m--;
        if (m == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p += n;
    }
    return false;
}

/* Parses the head in c->buf[0..head_end) (NUL-terminating its lines in
 * place). Returns 0 or an HTTP status with q->error set. */
static int parse_head(struct conn *c, size_t head_end, struct request *q)
{
    char *head = (char *)c->buf;
    head[head_end - 4] = '\0'; /* ends the last line of the head */
    char *line = head;
    char *eol = strstr(line, "\r\n");
    if (eol)
        *eol = '\0';

    /* request line: METHOD SP TARGET SP HTTP/1.x */
    size_t ml = 0;
    while (line[ml] >= 'A' && line[ml] <= 'Z')
        ml++;
    if (ml == 0 || ml >= sizeof q->method || line[ml] != ' ') {
        q->error = "malformed request line";
        return 400;
    }
    memcpy(q->method, line, ml);
    q->method[ml] = '\0';
    char *target = line + ml + 1;
    size_t tl = 0;
    while (target[tl] > ' ' && target[tl] != 0x7f)
        tl++;
    if (tl == 0 || target[0] != '/' || target[tl] != ' ') {
        q->error = "malformed request target";
        return 400;
    }
    if (tl >= sizeof q->target) {
        q->error = "request target too long";
        return 400;
    }
    memcpy(q->target, target, tl);
    q->target[tl] = '\0';
    const char *version = target + tl + 1;
    if (strcmp(version, "HTTP/1.1") == 0) {
        q->minor = 1;
    } else if (strcmp(version, "HTTP/1.0") == 0) {
        q->minor = 0;
    } else if (strncmp(version, "HTTP/", 5) == 0 && strlen(version) == 8 && version[6] == '.') {
        q->error = "only HTTP/1.0 and HTTP/1.1";
        return 505;
    } else {
        q->error = "malformed HTTP version";
        return 400;
    }

    bool has_host = false, keep_alive = false, has_te = false;
    int count = 0;
    while (eol) {
        line = eol + 2;
        eol = strstr(line, "\r\n");
        if (eol)
            *eol = '\0';
        if (++count > HEADER_COUNT_MAX) {
            q->error = "too many header fields";
            return 431;
        }
        if (*line == ' ' || *line == '\t') {
            q->error = "obsolete line folding";
            return 400;
        }
        char *colon = strchr(line, ':');
        if (!colon || colon == line) {
            q->error = "malformed header field";
            return 400;
        }
        for (char *p = line; p < colon; p++)
            if (!is_tchar((unsigned char)*p)) {
                q->error = "malformed header field name";
                return 400;
            }
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        size_t vl = strlen(value);
        while (vl > 0 && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
            value[--vl] = '\0';
        for (size_t i = 0; i < vl; i++) {
            unsigned char ch = (unsigned char)value[i];
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                q->error = "control character in a header value";
                return 400;
            }
        }
        if (strcasecmp(line, "Content-Length") == 0) {
            if (!all_digits(value, vl)) {
                q->error = "malformed Content-Length";
                return 400;
            }
            size_t n = vl > 9 ? (size_t)BODY_MAX + 1 : (size_t)strtoul(value, NULL, 10);
            if (q->has_length && n != q->length) {
                q->error = "conflicting Content-Length fields";
                return 400;
            }
            q->has_length = true;
            q->length = n;
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            has_te = true;
        } else if (strcasecmp(line, "Host") == 0) {
            has_host = true;
        } else if (strcasecmp(line, "Connection") == 0) {
            if (header_has_token(value, "close"))
                q->close = true;
            if (header_has_token(value, "keep-alive"))
                keep_alive = true;
        } else if (strcasecmp(line, "Idempotency-Key") == 0) {
            q->has_key = true;
            if (vl > KEY_MAX)
                q->key_too_long = true;
            else
                memcpy(q->key, value, vl + 1);
        } else if (strcasecmp(line, "Content-Type") == 0) {
            snprintf(q->content_type, sizeof q->content_type, "%s", value);
        }
    }
    if (q->minor == 0 && !keep_alive)
        q->close = true;
    if (has_te) {
        q->error = "Transfer-Encoding in a request is not supported: send Content-Length";
        return 400;
    }
    if (q->minor == 1 && !has_host) {
        q->error = "HTTP/1.1 request without Host";
        return 400;
    }
    if (q->has_length && q->length > BODY_MAX) {
        q->error = "body above 64 KiB";
        return 413;
    }
    return 0;
}

/* Reads one request into c->buf. Returns 0 (q filled, body at
 * c->buf + q->consumed - q->length), an HTTP status > 0 for a request to
 * refuse (then close), or an IO_ outcome < 0 (or IO_EOF) to close quietly. */
static int read_request(struct conn *c, struct request *q, int *io)
{
    memset(q, 0, sizeof *q);
    int64_t deadline = now_ms() + (int64_t)c->sim->opt.idle_timeout_s * 1000;
    bool started = c->len > 0;
    if (started)
        deadline = now_ms() + REQUEST_TIMEOUT_MS;
    size_t head_end;
    for (;;) {
        /* Empty lines before a request line are ignored (RFC 9112, 2.2). */
        size_t skip = 0;
        while (skip + 1 < c->len && c->buf[skip] == '\r' && c->buf[skip + 1] == '\n')
            skip += 2;
        if (skip) {
            memmove(c->buf, c->buf + skip, c->len - skip);
            c->len -= skip;
        }
        head_end = find_head_end(c->buf, c->len < HEADER_MAX ? c->len : HEADER_MAX);
        if (head_end)
            break;
        if (c->len >= HEADER_MAX) {
            q->error = "request head above 8 KiB";
            return 431;
        }
        int r = conn_read(c, c->buf + c->len, HEADER_MAX - c->len, deadline, c->len == 0);
        if (r <= 0) {
            *io = r;
            return -1;
        }
        c->len += (size_t)r;
        if (!started) {
            started = true;
            deadline = now_ms() + REQUEST_TIMEOUT_MS;
        }
    }
    int st = parse_head(c, head_end, q);
    if (st)
        return st;
    if (!q->has_length && strcmp(q->method, "POST") == 0) {
        q->error = "POST without Content-Length";
        return 411;
    }
    size_t need = head_end + q->length;
    while (c->len < need) {
        int r = conn_read(c, c->buf + c->len, HEADER_MAX + BODY_MAX - c->len, deadline, false);
        if (r <= 0) {
            *io = r;
            return -1;
        }
        c->len += (size_t)r;
    }
    q->consumed = need;
    return 0;
}

/* ---- answers ----------------------------------------------------------------------- */

enum framing { FRAME_LENGTH, FRAME_CHUNKED, FRAME_EOF };

struct answer {
    int status;
    char *body;              /* JSON text (malloc), or NULL */
    const char *retry_after; /* Retry-After value, or NULL */
    const char *allow;       /* Allow value (405), or NULL */
    bool close;
};

static void answer_json(struct answer *a, int status, json_t *obj)
{
    a->status = status;
    a->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
}

static void answer_error(struct answer *a, int status, const char *error, const char *field)
{
    json_t *o = json_pack("{s:s}", "error", error);
    if (o && field)
        json_object_set_new(o, "field", json_string(field));
    answer_json(a, status, o);
}

/* Sends the answer. With half set, sends only the first half of the bytes
 * (the reset fault); the caller then resets the connection. */
static int send_answer(struct conn *c, const struct answer *a, enum framing fr, bool half)
{
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    const char *body = a->body ? a->body : "";
    size_t blen = strlen(body);

    char head[1024];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nServer: his_sim\r\nDate: %s\r\n"
                      "Content-Type: application/json; charset=utf-8\r\n",
                      a->status, reason_phrase(a->status), date);
    if (fr == FRAME_LENGTH)
        hl += snprintf(head + hl, sizeof head - (size_t)hl, "Content-Length: %zu\r\n", blen);
    else if (fr == FRAME_CHUNKED)
        hl += snprintf(head + hl, sizeof head - (size_t)hl, "Transfer-Encoding: chunked\r\n");
    if (a->retry_after)
        hl += snprintf(head + hl, sizeof head - (size_t)hl, "Retry-After: %s\r\n", a->retry_after);
    if (a->allow)
        hl += snprintf(head + hl, sizeof head - (size_t)hl, "Allow: %s\r\n", a->allow);
    hl += snprintf(head + hl, sizeof head - (size_t)hl, "Connection: %s\r\n\r\n",
                   a->close || fr == FRAME_EOF ? "close" : "keep-alive");

    /* Chunked: 16-byte chunks, sizes in lower-case hex, no trailers. */
    size_t cap = (size_t)hl + blen + (fr == FRAME_CHUNKED ? (blen / 16 + 2) * 8 + 8 : 0);
    unsigned char *msg = malloc(cap);
    if (!msg)
        return IO_ERROR;
    size_t n = 0;
    memcpy(msg, head, (size_t)hl);
    n = (size_t)hl;
    if (fr == FRAME_CHUNKED) {
        for (size_t off = 0; off < blen; off += 16) {
            size_t k = blen - off < 16 ? blen - off : 16;
            n += (size_t)snprintf((char *)msg + n, cap - n, "%zx\r\n", k);
            memcpy(msg + n, body + off, k);
            n += k;
            memcpy(msg + n, "\r\n", 2);
            n += 2;
        }
        memcpy(msg + n, "0\r\n\r\n", 5);
        n += 5;
    } else {
        memcpy(msg + n, body, blen);
        n += blen;
    }
    int r = conn_write_all(c, msg, half ? (n / 2 ? n / 2 : 1) : n);
    free(msg);
    return r;
}

static void count_status(struct sim *s, int status)
{
    pthread_mutex_lock(&s->lock);
    if (status >= 100 && status < 600)
        s->st.status[status]++;
    pthread_mutex_unlock(&s->lock);
}

/* ---- check-ins ---------------------------------------------------------------------- */

static const char *const VERIFIED_FIELDS[] = {
    "id_number", "old_id_number", "full_name", "date_of_birth", "sex", "address", "issue_date",
};

/* The insurance result the simulated gateway gives a record: from the last
 * digit of id_number, so tests can choose it (docs/his-sim.md). */
static const char *ket_qua(json_t *rec, const char **message)
{
    const char *id = json_string_value(json_object_get(rec, "id_number"));
    char last = id && *id ? id[strlen(id) - 1] : '\0';
    if (last == '8') {
        *message = "Thẻ hết giá trị sử dụng (the card has expired)";
        return "010";
    }
    if (last == '9') {
        *message = "Không có thông tin thẻ (no card information)";
        return "050";
    }
    *message = "Thẻ hợp lệ (card valid)";
    return "000";
}

/* YYYY-MM-DDTHH:MM:SS followed by Z or +HH:MM / -HH:MM. */
static bool is_rfc3339_seconds(const char *s)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = strlen(s);
    if (n != 20 && n != 25)
        return false;
    for (size_t i = 0; i < sizeof pattern - 1; i++) {
        if (pattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pattern[i])
            return false;
    }
    if (n == 20)
        return s[19] == 'Z';
    return (s[19] == '+' || s[19] == '-') && all_digits(s + 20, 2) && s[22] == ':' && all_digits(s + 23, 2);
}

/* Checks a record against docs/protocol.md. NULL when it is fine; otherwise
 * the reason, with *field naming the key at fault. */
static const char *check_record(json_t *rec, const struct request *q, const char **field)
{
    *field = NULL;
    if (!json_is_object(rec))
        return "the body is not a JSON object";
    const char *key;
    json_t *v;
    json_object_foreach(rec, key, v) {
        bool known = strcmp(key, "schema") == 0 || strcmp(key, "idempotency_key") == 0 ||
                     strcmp(key, "device_id") == 0 || strcmp(key, "scan_time") == 0 ||
                     strcmp(key, "clock_synced") == 0 || strcmp(key, "source") == 0 ||
                     strcmp(key, "card_type") == 0;
        for (size_t i = 0; !known && i < sizeof VERIFIED_FIELDS / sizeof *VERIFIED_FIELDS; i++)
            if (strcmp(key, VERIFIED_FIELDS[i]) == 0) {
                known = true;
                if (!json_is_string(v) && !json_is_null(v)) {
                    *field = VERIFIED_FIELDS[i];
                    return "must be a string or null";
                }
            }
        if (!known) {
            *field = key;
            return "not a key of schema 1";
        }
    }

    json_t *schema = json_object_get(rec, "schema");
    *field = "schema";
    if (!schema)
        return "missing";
    if (!json_is_integer(schema) || json_integer_value(schema) != 1)
        return "unknown schema (this receiver knows schema 1)";

    *field = "idempotency_key";
    const char *ikey = json_string_value(json_object_get(rec, "idempotency_key"));
    if (!json_object_get(rec, "idempotency_key"))
        return "missing";
    if (!ikey || !*ikey || strlen(ikey) > KEY_MAX)
        return "must be a string of 1 to 128 characters";
    if (!q->has_key)
        return "no Idempotency-Key header";
    if (q->key_too_long || strcmp(q->key, ikey) != 0)
        return "differs from the Idempotency-Key header";

    *field = "device_id";
    const char *dev = json_string_value(json_object_get(rec, "device_id"));
    if (!json_object_get(rec, "device_id"))
        return "missing";
    size_t dl = dev ? strlen(dev) : 0;
    if (dl == 0 || dl > DEVICE_ID_MAX)
        return "must be a string of 1 to 64 characters";
    *field = "idempotency_key";
    size_t kl = strlen(ikey);
    if (kl != dl + 33 || strncmp(ikey, dev, dl) != 0 || ikey[dl] != '-')
        return "must be <device_id>-<32 hex digits>";
    for (size_t i = dl + 1; i < kl; i++)
        if (!is_hex(ikey[i]))
            return "must be <device_id>-<32 hex digits>";

    *field = "scan_time";
    json_t *st = json_object_get(rec, "scan_time");
    if (!st)
        return "missing";
    if (!json_is_string(st) || !is_rfc3339_seconds(json_string_value(st)))
        return "must be RFC 3339 with seconds and an offset (2026-11-27T16:11:31+07:00)";

    *field = "card_type";
    json_t *ct = json_object_get(rec, "card_type");
    if (!ct)
        return "missing";
    const char *cts = json_string_value(ct);
    if (!cts || (strcmp(cts, "cccd-2021") != 0 && strcmp(cts, "can-cuoc-2024") != 0))
        return "must be cccd-2021 or can-cuoc-2024";

    *field = "clock_synced";
    json_t *cs = json_object_get(rec, "clock_synced");
    if (cs && !json_is_boolean(cs))
        return "must be true or false";

    *field = "source";
    json_t *src = json_object_get(rec, "source");
    const char *srcs = json_string_value(src);
    if (src && (!srcs || (strcmp(srcs, "card") != 0 && strcmp(srcs, "vneid-screen") != 0)))
        return "must be card or vneid-screen";

    *field = "id_number";
    const char *id = json_string_value(json_object_get(rec, "id_number"));
    if (id && (strlen(id) != 12 || !all_digits(id, 12)))
        return "must be 12 digits";

    *field = NULL;
    return NULL;
}

/* Appends one line and makes it durable. */
static bool store_line(struct sim *s, const char *line)
{
    size_t n = strlen(line);
    char *buf = malloc(n + 1);
    if (!buf)
        return false;
    memcpy(buf, line, n);
    buf[n] = '\n';
    size_t off = 0;
    bool ok = true;
    while (off < n + 1) {
        ssize_t w = write(s->out_fd, buf + off, n + 1 - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ok = false;
            break;
        }
        off += (size_t)w;
    }
    free(buf);
    if (ok && fsync(s->out_fd) != 0)
        ok = false;
    if (!ok)
        say("cannot write %s: %s", s->opt.out, strerror(errno));
    return ok;
}

/* A check-in request: fills the answer. Returns false for the stall fault
 * (no answer at all). */
static bool handle_checkin(struct conn *c, const struct request *q, int mode, struct answer *a)
{
    struct sim *s = c->sim;
    char shown[84];
    log_token(q->has_key && !q->key_too_long ? q->key : "-", q->has_key && !q->key_too_long ? strlen(q->key) : 1,
              shown);
    pthread_mutex_lock(&s->lock);
    s->st.requests++;
    pthread_mutex_unlock(&s->lock);

    if (mode == MODE_STALL) {
        say("conn %u: POST key=%s -> no answer (stall)", c->id, shown);
        pthread_mutex_lock(&s->lock);
        s->st.faults++;
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    if (mode_is_status(mode)) {
        char msg[64];
        snprintf(msg, sizeof msg, "simulated %d (his_sim fault mode)", mode);
        answer_error(a, mode, msg, NULL);
        if (mode == 503 || mode == 429)
            a->retry_after = s->opt.retry_after;
        pthread_mutex_lock(&s->lock);
        s->st.faults++;
        pthread_mutex_unlock(&s->lock);
        say("conn %u: POST key=%s -> %d (fault)", c->id, shown, mode);
        return true;
    }

    /* What the log says about the answer: result code, or reason and field. */
    char note[200] = "";
    const char *ctype = q->content_type;
    size_t ctl = strcspn(ctype, "; \t");
    if (!(ctl == 16 && strncasecmp(ctype, "application/json", 16) == 0)) {
        answer_error(a, 415, "Content-Type must be application/json", NULL);
        snprintf(note, sizeof note, "(Content-Type)");
    } else {
        json_error_t jerr;
        const unsigned char *body = c->buf + q->consumed - q->length;
        json_t *rec = json_loadb((const char *)body, q->length, JSON_REJECT_DUPLICATES, &jerr);
        if (!rec) {
            /* jerr.text may quote the body: only the position is given back. */
            char msg[96];
            snprintf(msg, sizeof msg, "malformed JSON at line %d column %d", jerr.line, jerr.column);
            answer_error(a, 400, msg, NULL);
            snprintf(note, sizeof note, "(%s)", msg);
        } else {
            const char *field;
            const char *why = check_record(rec, q, &field);
            if (why) {
                answer_error(a, 422, why, field);
                char fshown[84];
                log_token(field, strlen(field), fshown);
                snprintf(note, sizeof note, "(%s: %s)", fshown, why);
            } else {
                const char *ikey = json_string_value(json_object_get(rec, "idempotency_key"));
                const char *message;
                const char *code = ket_qua(rec, &message);
                pthread_mutex_lock(&s->lock);
                struct key_entry *e = table_find(&s->keys, ikey);
                if (e) {
                    s->st.duplicates++;
                    snprintf(note, sizeof note, "maKetQua=%s (duplicate)", e->code);
                    json_t *o = json_pack("{s:s,s:s}", "maKetQua", e->code, "message",
                                          "Đã nhận hồ sơ này trước đó (duplicate)");
                    pthread_mutex_unlock(&s->lock);
                    answer_json(a, 409, o);
                } else {
                    char *line = json_dumps(rec, JSON_COMPACT);
                    bool stored = line && store_line(s, line) && table_add(&s->keys, ikey, code);
                    free(line);
                    if (stored)
                        s->st.accepted++;
                    pthread_mutex_unlock(&s->lock);
                    if (stored) {
                        answer_json(a, 200, json_pack("{s:s,s:s}", "maKetQua", code, "message", message));
                        snprintf(note, sizeof note, "maKetQua=%s", code);
                    } else {
                        answer_error(a, 500, "cannot store the record", NULL);
                        snprintf(note, sizeof note, "(cannot store the record)");
                    }
                }
            }
            json_decref(rec);
        }
    }
    if (a->status >= 400 && a->status < 500 && a->status != 409) {
        pthread_mutex_lock(&s->lock);
        s->st.rejected++;
        pthread_mutex_unlock(&s->lock);
    }
    say("conn %u: POST key=%s -> %d %s", c->id, shown, a->status, note);
    return true;
}

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

/* ---- one connection ------------------------------------------------------------------ */

static enum cred_id cred_for_mode(const struct sim *s, int mode)
{
    enum cred_id id = CRED_SERVER;
    if (mode == MODE_WRONG_CERT)
        id = CRED_WRONG_CA;
    else if (mode == MODE_EXPIRED_CERT)
        id = CRED_EXPIRED;
    else if (mode == MODE_WRONG_HOST)
        id = CRED_WRONG_HOST;
    return s->creds[id].loaded ? id : CRED_SERVER;
}

static bool conn_handshake(struct conn *c)
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
            send_answer(c, &a, FRAME_LENGTH, false);
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
            conn_drain(c, 0); /* stall: until the client gives up */
            free(a.body);
            return false;
        }
        a.close = a.close || q.close;
        enum framing fr = FRAME_LENGTH;
        bool reset = false;
        if (is_checkin) {
            if (mode == MODE_CLOSE)
                a.close = true;
            else if (mode == MODE_CLOSE_DELIMITED)
                fr = FRAME_EOF;
            else if (mode == MODE_CHUNKED)
                fr = FRAME_CHUNKED;
            else if (mode == MODE_RESET)
                reset = true;
        }
        int w = send_answer(c, &a, fr, reset);
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
        memmove(c->buf, c->buf + q.consumed, c->len - q.consumed);
        c->len -= q.consumed;
        if (a.close || fr == FRAME_EOF)
            return false;
    }
}

static void *conn_main(void *arg)
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

/* ---- the listening socket -------------------------------------------------------------- */

/* A socket bound to 127.0.0.1:s->port, listening or not. Bound but not
 * listening is how refuse mode keeps the port while connections to it are
 * refused (the kernel answers a SYN with RST). */
static int open_listener(struct sim *s, bool do_listen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || (do_listen && listen(fd, 64) != 0) ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    s->port = ntohs(sa.sin_port);
    return fd;
}

static void set_listening(struct sim *s, bool on)
{
    if (on == s->listening)
        return;
    if (on) {
        if (s->listen_fd < 0)
            s->listen_fd = open_listener(s, false);
        if (s->listen_fd >= 0 && listen(s->listen_fd, 64) == 0) {
            s->listening = true;
            say("accepting connections again");
        }
        return;
    }
    close(s->listen_fd);
    s->listen_fd = open_listener(s, false);
    if (s->listen_fd < 0)
        say("refuse: cannot keep port %d bound: %s", s->port, strerror(errno));
    s->listening = false;
    say("refusing connections on port %d", s->port);
}

static void accept_one(struct sim *s)
{
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    int one = 1; /* answers leave at once (and the reset fault's half answer before the RST) */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int mode = refresh_mode(s);
    if (mode == MODE_REFUSE) {
        close_with_reset(fd);
        set_listening(s, false);
        return;
    }
    pthread_mutex_lock(&s->lock);
    bool full = s->active >= CONN_MAX;
    unsigned id = ++s->next_conn;
    if (!full) {
        s->active++;
        s->st.connections++;
    }
    pthread_mutex_unlock(&s->lock);
    if (full) {
        say("more than %d connections: resetting a new one", CONN_MAX);
        close_with_reset(fd);
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (c)
        c->buf = malloc(HEADER_MAX + BODY_MAX + 1);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    bool started = false;
    if (c && c->buf) {
        c->sim = s;
        c->fd = fd;
        c->id = id;
        started = pthread_create(&th, &attr, conn_main, c) == 0;
    }
    pthread_attr_destroy(&attr);
    if (!started) {
        say("cannot start a connection thread");
        if (c)
            free(c->buf);
        free(c);
        close_with_reset(fd);
        pthread_mutex_lock(&s->lock);
        s->active--;
        pthread_mutex_unlock(&s->lock);
    }
}

/* ---- start-up ----------------------------------------------------------------------------- */

static void on_signal(int sig) { g_signal = sig; }

static void usage(FILE *f)
{
    fputs("usage: his_sim --out RECORDS.jsonl [--port N] [--pki DIR] [--cert F --key F] [--ca F]\n"
          "               [--require-client-cert] [--fault MODE] [--control FILE] [--port-file F]\n"
          "               [--path /api/checkin] [--retry-after VALUE] [--idle-timeout S] [--max-tls 1.2]\n"
          "       his_sim --version\n"
          "modes: none refuse stall stall-accept reset close close-delimited chunked\n"
          "       wrong-cert expired-cert wrong-host, or a status 400..599 (e.g. 500, 503)\n",
          f);
}

static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->path = "/api/checkin";
    o->retry_after = "2";
    o->idle_timeout_s = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--require-client-cert") == 0) {
            o->require_client_cert = true;
            continue;
        }
        if (strcmp(a, "--version") == 0) {
            printf("his_sim (mbedtls %s)\n", MBEDTLS_VERSION_STRING);
            exit(0);
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "his_sim: %s: unknown option or missing value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        char *end;
        if (strcmp(a, "--port") == 0) {
            long p = strtol(v, &end, 10);
            if (*v == '\0' || *end || p < 0 || p > 65535) {
                fprintf(stderr, "his_sim: --port %s: not a port number\n", v);
                return -1;
            }
            o->port = (int)p;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            long t = strtol(v, &end, 10);
            if (*v == '\0' || *end || t < 1 || t > 86400) {
                fprintf(stderr, "his_sim: --idle-timeout %s: 1..86400 seconds\n", v);
                return -1;
            }
            o->idle_timeout_s = (int)t;
        } else if (strcmp(a, "--fault") == 0) {
            o->fault = parse_mode(v);
            if (o->fault < 0) {
                fprintf(stderr, "his_sim: --fault %s: unknown mode\n", v);
                usage(stderr);
                return -1;
            }
        } else if (strcmp(a, "--max-tls") == 0) {
            if (strcmp(v, "1.2") == 0)
                o->max_tls12 = true;
            else if (strcmp(v, "1.3") != 0) {
                fprintf(stderr, "his_sim: --max-tls %s: 1.2 or 1.3\n", v);
                return -1;
            }
        } else if (strcmp(a, "--pki") == 0) {
            o->pki = v;
        } else if (strcmp(a, "--cert") == 0) {
            o->cert = v;
        } else if (strcmp(a, "--key") == 0) {
            o->key = v;
        } else if (strcmp(a, "--ca") == 0) {
            o->ca = v;
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else if (strcmp(a, "--control") == 0) {
            o->control = v;
        } else if (strcmp(a, "--port-file") == 0) {
            o->port_file = v;
        } else if (strcmp(a, "--path") == 0) {
            o->path = v;
        } else if (strcmp(a, "--retry-after") == 0) {
            o->retry_after = v;
        } else {
            fprintf(stderr, "his_sim: %s: unknown option\n", a);
            return -1;
        }
    }
    if (!o->out) {
        fprintf(stderr, "his_sim: --out is required\n");
        return -1;
    }
    if (!o->pki && (!o->cert || !o->key)) {
        fprintf(stderr, "his_sim: give --pki DIR or both --cert and --key\n");
        return -1;
    }
    if (o->path[0] != '/') {
        fprintf(stderr, "his_sim: --path must start with /\n");
        return -1;
    }
    for (const char *p = o->retry_after; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            fprintf(stderr, "his_sim: --retry-after: control characters\n");
            return -1;
        }
    return 0;
}

static int load_key(mbedtls_pk_context *pk, const char *path, struct sim *s)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_parse_keyfile(pk, path, NULL, mbedtls_ctr_drbg_random, &s->drbg);
#else
    (void)s;
    return mbedtls_pk_parse_keyfile(pk, path, NULL);
#endif
}

/* Loads a certificate and key into cred and sets up its TLS configuration.
 * A missing file is an error only when required. */
static int load_cred(struct sim *s, struct cred *cr, const char *crt, const char *key, bool required)
{
    char eb[128];
    if (!required && (access(crt, R_OK) != 0 || access(key, R_OK) != 0))
        return 0;
    mbedtls_x509_crt_init(&cr->crt);
    mbedtls_pk_init(&cr->key);
    mbedtls_ssl_config_init(&cr->conf);
    mbedtls_ssl_cache_init(&cr->cache);
#if HAVE_TICKETS
    mbedtls_ssl_ticket_init(&cr->ticket);
#endif
    cr->loaded = true;
    int r = mbedtls_x509_crt_parse_file(&cr->crt, crt);
    if (r != 0) {
        fprintf(stderr, "his_sim: %s: %s\n", crt, tls_err(r, eb, sizeof eb));
        return -1;
    }
    r = load_key(&cr->key, key, s);
    if (r != 0) {
        fprintf(stderr, "his_sim: %s: %s\n", key, tls_err(r, eb, sizeof eb));
        return -1;
    }
    mbedtls_ssl_config *conf = &cr->conf;
    r = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
    if (r == 0)
        r = mbedtls_ssl_conf_own_cert(conf, &cr->crt, &cr->key);
    if (r != 0) {
        fprintf(stderr, "his_sim: TLS set-up for %s: %s\n", crt, tls_err(r, eb, sizeof eb));
        return -1;
    }
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &s->drbg);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
    if (s->opt.max_tls12)
        mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    if (s->have_ca) {
        mbedtls_ssl_conf_ca_chain(conf, &s->ca, NULL);
        mbedtls_ssl_conf_authmode(conf, s->opt.require_client_cert ? MBEDTLS_SSL_VERIFY_REQUIRED
                                                                   : MBEDTLS_SSL_VERIFY_OPTIONAL);
    } else {
        mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    mbedtls_ssl_conf_session_cache(conf, &cr->cache, cache_get, mbedtls_ssl_cache_set);
#if HAVE_TICKETS
    r = mbedtls_ssl_ticket_setup(&cr->ticket, mbedtls_ctr_drbg_random, &s->drbg, MBEDTLS_CIPHER_AES_256_GCM,
                                 86400);
    if (r != 0) {
        fprintf(stderr, "his_sim: session tickets: %s\n", tls_err(r, eb, sizeof eb));
        return -1;
    }
    mbedtls_ssl_conf_session_tickets_cb(conf, mbedtls_ssl_ticket_write, ticket_parse, &cr->ticket);
#endif
    return 0;
}

static void free_cred(struct cred *cr)
{
    if (!cr->loaded)
        return;
    mbedtls_ssl_config_free(&cr->conf);
    mbedtls_ssl_cache_free(&cr->cache);
#if HAVE_TICKETS
    mbedtls_ssl_ticket_free(&cr->ticket);
#endif
    mbedtls_pk_free(&cr->key);
    mbedtls_x509_crt_free(&cr->crt);
    cr->loaded = false;
}

/* Reads the keys of the records already in the output file (a restarted
 * sim still answers 409 for them) and opens it for appending. */
static int open_records(struct sim *s)
{
    FILE *f = fopen(s->opt.out, "r");
    unsigned long loaded = 0, bad = 0;
    bool torn = false;
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            torn = line[n - 1] != '\n';
            json_t *rec = json_loadb(line, (size_t)n, 0, NULL);
            const char *k = json_string_value(json_object_get(rec, "idempotency_key"));
            const char *message;
            if (k && !table_find(&s->keys, k)) {
                if (!table_add(&s->keys, k, ket_qua(rec, &message))) {
                    json_decref(rec);
                    free(line);
                    fclose(f);
                    fprintf(stderr, "his_sim: out of memory\n");
                    return -1;
                }
                loaded++;
            } else if (!k) {
                bad++;
            }
            json_decref(rec);
        }
        free(line);
        fclose(f);
    } else if (errno != ENOENT) {
        fprintf(stderr, "his_sim: %s: %s\n", s->opt.out, strerror(errno));
        return -1;
    }
    s->out_fd = open(s->opt.out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (s->out_fd < 0) {
        fprintf(stderr, "his_sim: %s: %s\n", s->opt.out, strerror(errno));
        return -1;
    }
    if (torn && (write(s->out_fd, "\n", 1) != 1 || fsync(s->out_fd) != 0)) {
        fprintf(stderr, "his_sim: %s: %s\n", s->opt.out, strerror(errno));
        return -1;
    }
    if (!f) {
        /* A new file: make its directory entry durable too. */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", s->opt.out);
        char *slash = strrchr(dir, '/');
        if (slash)
            *(slash == dir ? slash + 1 : slash) = '\0';
        else
            snprintf(dir, sizeof dir, ".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (loaded || bad)
        say("%s: %lu records already there%s", s->opt.out, loaded, bad ? " (and unreadable lines)" : "");
    return 0;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "his_sim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void print_counters(struct sim *s)
{
    pthread_mutex_lock(&s->lock);
    say("counters: requests=%lu accepted=%lu duplicates=%lu rejected=%lu faults=%lu resets_sent=%lu "
        "records=%zu connections=%lu handshakes=%lu handshake_failures=%lu resumed=%lu client_certs=%lu",
        s->st.requests, s->st.accepted, s->st.duplicates, s->st.rejected, s->st.faults, s->st.resets_sent,
        s->keys.count, s->st.connections, s->st.handshakes, s->st.handshake_failures, s->st.resumed,
        s->st.client_certs);
    char line[1024] = "";
    size_t n = 0;
    for (int i = 100; i < 600 && n < sizeof line - 32; i++)
        if (s->st.status[i])
            n += (size_t)snprintf(line + n, sizeof line - n, " %d=%lu", i, s->st.status[i]);
    say("status:%s", n ? line : " none");
    pthread_mutex_unlock(&s->lock);
}

int main(int argc, char **argv)
{
    static struct sim sim; /* large (status counters): not on the stack */
    struct sim *s = &sim;
    if (parse_args(argc, argv, &s->opt) != 0)
        return 2;
    s->listen_fd = -1;
    s->out_fd = -1;
    atomic_init(&s->mode, s->opt.fault);
    atomic_init(&s->stopping, false);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->conn_gone, NULL);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    char eb[128];
    char path_crt[4096], path_key[4096], path_ca[4096];
    mbedtls_entropy_init(&s->entropy);
    mbedtls_ctr_drbg_init(&s->drbg);
    mbedtls_x509_crt_init(&s->ca);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    if (psa_crypto_init() != PSA_SUCCESS) {
        fprintf(stderr, "his_sim: psa_crypto_init failed\n");
        goto out;
    }
#endif
    int r = mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy,
                                  (const unsigned char *)"his_sim", 7);
    if (r != 0) {
        fprintf(stderr, "his_sim: random generator: %s\n", tls_err(r, eb, sizeof eb));
        goto out;
    }
    const char *ca = s->opt.ca;
    if (!ca && s->opt.pki) {
        snprintf(path_ca, sizeof path_ca, "%s/ca.crt", s->opt.pki);
        ca = path_ca;
    }
    if (ca) {
        r = mbedtls_x509_crt_parse_file(&s->ca, ca);
        if (r != 0) {
            fprintf(stderr, "his_sim: %s: %s\n", ca, tls_err(r, eb, sizeof eb));
            goto out;
        }
        s->have_ca = true;
    } else if (s->opt.require_client_cert) {
        fprintf(stderr, "his_sim: --require-client-cert needs --ca (or --pki)\n");
        goto out;
    }
    for (int i = 0; i < CRED_COUNT; i++) {
        const char *crt = NULL, *key = NULL;
        if (i == CRED_SERVER && s->opt.cert) {
            crt = s->opt.cert;
            key = s->opt.key;
        } else if (s->opt.pki) {
            snprintf(path_crt, sizeof path_crt, "%s/%s.crt", s->opt.pki, CRED_FILES[i]);
            snprintf(path_key, sizeof path_key, "%s/%s.key", s->opt.pki, CRED_FILES[i]);
            crt = path_crt;
            key = path_key;
        }
        if (crt && load_cred(s, &s->creds[i], crt, key, i == CRED_SERVER) != 0)
            goto out;
    }
    int fault = s->opt.fault;
    if ((fault == MODE_WRONG_CERT || fault == MODE_EXPIRED_CERT || fault == MODE_WRONG_HOST) &&
        cred_for_mode(s, fault) == CRED_SERVER)
        say("fault %s: serving the --cert given (start with the matching certificate)", MODE_NAMES[fault]);
    if (open_records(s) != 0)
        goto out;

    s->listen_fd = open_listener(s, true);
    if (s->listen_fd < 0) {
        fprintf(stderr, "his_sim: cannot listen on 127.0.0.1:%d: %s\n", s->opt.port, strerror(errno));
        goto out;
    }
    s->listening = true;
    if (s->opt.port_file && write_port_file(s->opt.port_file, s->port) != 0)
        goto out;
    char mb[16];
    say("mbedtls %s, mode %s, records in %s, client certificates %s", MBEDTLS_VERSION_STRING,
        mode_name(refresh_mode(s), mb), s->opt.out,
        !s->have_ca ? "not asked" : s->opt.require_client_cert ? "required" : "optional");
    printf("listening on 127.0.0.1:%d\n", s->port);
    fflush(stdout);

    while (!g_signal) {
        int mode = refresh_mode(s);
        set_listening(s, mode != MODE_REFUSE);
        if (!s->listening) {
            poll(NULL, 0, TICK_MS);
            continue;
        }
        struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
        if (poll(&p, 1, TICK_MS) > 0 && (p.revents & POLLIN))
            accept_one(s);
    }
    say("signal %d: stopping", (int)g_signal);
    rc = 0;

out:
    atomic_store(&s->stopping, true);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    bool threads_gone = true;
    pthread_mutex_lock(&s->lock);
    int64_t deadline = now_ms() + SHUTDOWN_WAIT_MS;
    while (s->active > 0 && now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->conn_gone, &s->lock, &ts);
    }
    if (s->active > 0) {
        threads_gone = false;
        say("%d connections still open at exit", s->active);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc == 0)
        print_counters(s);
    if (!threads_gone) /* they still use the shared state: leave it to exit() */
        return rc;
    if (s->out_fd >= 0)
        close(s->out_fd);
    for (int i = 0; i < CRED_COUNT; i++)
        free_cred(&s->creds[i]);
    mbedtls_x509_crt_free(&s->ca);
    mbedtls_ctr_drbg_free(&s->drbg);
    mbedtls_entropy_free(&s->entropy);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_psa_crypto_free();
#endif
    table_free(&s->keys);
    pthread_cond_destroy(&s->conn_gone);
    pthread_mutex_destroy(&s->lock);
    return rc;
}
