/* his_sim - the hospital service, simulated: the uplink protocol of
 * docs/protocol.md over HTTPS on mbedtls, for tests and the demo.
 *
 *   his_sim --out RECORDS.jsonl [--port N] [--pki DIR] [--cert F --key F] [--ca F]
 *           [--require-client-cert] [--fault MODE] [--control FILE] [--port-file F]
 *           [--path /api/checkin] [--retry-after VALUE] [--idle-timeout S] [--max-tls 1.2]
 *           [--trickle-ms N] [--flood-ms N] [--header-ms N] [--stray-ms N]
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
 * close, close-delimited, chunked, overlong, trickle, continue-flood,
 * header-trickle, stray, wrong-cert, expired-cert, wrong-host, cert-refused,
 * any status 300..599 (503 and 429 carry Retry-After, 3xx a Location), and
 * proxy-NNN (the same statuses as nginx's own HTML pages). docs/his-sim.md
 * has what each does, the maKetQua rule, and how the tests use them.
 *
 * Logs (stderr) carry idempotency keys, statuses and result codes only, never
 * a field of the record. SIGTERM / SIGINT: stop, print the counters, exit 0.
 *
 * The sources, one concern a file (sim.h holds what they share):
 *   main.c     start-up: options, credentials, the listening socket, the
 *              accept loop, signals, the counters printed at exit
 *   conn.c     one connection's thread: TLS set-up, serving, routing
 *   tls_io.c   TLS reads and writes with deadlines, the handshake, resets
 *   http.c     reading a request, sending an answer
 *   checkin.c  checking and answering a check-in record
 *   store.c    the idempotency keys and the records file
 *   faults.c   the fault modes and the --control file
 *   util.c     logging and small helpers
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#endif

#include "sim.h"

const char *const CRED_FILES[CRED_COUNT] = {"server", "wrong-ca-server", "expired", "wrong-host"};

static volatile sig_atomic_t g_signal;

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
          "               [--trickle-ms N] [--flood-ms N] [--header-ms N] [--stray-ms N]\n"
          "       his_sim --version\n"
          "modes: none refuse stall stall-accept reset close close-delimited chunked overlong\n"
          "       trickle continue-flood header-trickle stray\n"
          "       wrong-cert expired-cert wrong-host cert-refused, a status 300..599 (e.g. 302, 500, 503),\n"
          "       or proxy-NNN (NNN 300..599: nginx's own page, e.g. proxy-502)\n",
          f);
}

/* An interval option: 1..600000 milliseconds. */
static int parse_ms(const char *name, const char *v, int *out)
{
    char *end;
    long ms = strtol(v, &end, 10);
    long lo = strcmp(name, "--stray-ms") == 0 ? 0 : 1; /* a stray may follow at once */
    if (*v == '\0' || *end || ms < lo || ms > 600000) {
        fprintf(stderr, "his_sim: %s %s: %ld..600000 milliseconds\n", name, v, lo);
        return -1;
    }
    *out = (int)ms;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->path = "/api/checkin";
    o->retry_after = "2";
    o->idle_timeout_s = 60;
    o->trickle_ms = 1000;
    o->flood_ms = 5000;
    o->header_ms = 2000;
    o->stray_ms = 50;
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
        } else if (strcmp(a, "--trickle-ms") == 0) {
            if (parse_ms(a, v, &o->trickle_ms) != 0)
                return -1;
        } else if (strcmp(a, "--flood-ms") == 0) {
            if (parse_ms(a, v, &o->flood_ms) != 0)
                return -1;
        } else if (strcmp(a, "--header-ms") == 0) {
            if (parse_ms(a, v, &o->header_ms) != 0)
                return -1;
        } else if (strcmp(a, "--stray-ms") == 0) {
            if (parse_ms(a, v, &o->stray_ms) != 0)
                return -1;
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
    if (strlen(o->retry_after) > RETRY_AFTER_MAX) {
        fprintf(stderr, "his_sim: --retry-after: at most %d characters (an HTTP date has 29)\n",
                RETRY_AFTER_MAX);
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

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "his_sim: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    /* fclose whatever fprintf did (the FILE is freed either way), and a
     * failed write leaves no F.tmp behind. */
    bool ok = fprintf(f, "%d\n", port) >= 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        fprintf(stderr, "his_sim: %s: %s\n", path, strerror(e));
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

    s->port = s->opt.port; /* 0: the kernel picks one, and open_listener says which */
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
