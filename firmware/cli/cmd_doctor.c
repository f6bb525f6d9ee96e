/* cmd_doctor.c - `cccd-reader doctor`: is this terminal ready for the desk?
 *
 * One line per check (PASS, WARN, FAIL or SKIP) and, under each failure or
 * warning, what to do about it: the technician at the hospital has the
 * terminal in front of them, not the source. Nothing personal is printed
 * (a QR code read while testing the camera is reported by its size only)
 * and no key material: certificates are named by path and expiry. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli/cert_info.h"
#include "cli/cli.h"
#include "config/config.h"
#include "decode/qr_decode.h"
#include "decode/sharpness.h"
#include "delivery/checkin.h"
#include "delivery/http_response.h"
#include "delivery/spool.h"
#include "delivery/tls_client.h"
#include "delivery/uplink.h"

#define DEFAULT_CONFIG "/etc/cccd-reader/cccd-reader.conf"

enum verdict { PASS, WARN, FAIL, SKIP };

static const char *const verdict_names[] = { "PASS", "WARN", "FAIL", "SKIP" };

struct doctor {
    bool json, interactive;
    int button_wait_s, camera_ms;
    const char *config_path;
    struct config cfg;
    json_t *checks; /* --json: the array printed at the end */
    int failed, warned;
};

/* Prints (or records, with --json) one check's outcome. fix is shown for
 * WARN and FAIL only. */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static void
report(struct doctor *d, enum verdict v, const char *name, const char *fix, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    d->failed += v == FAIL;
    d->warned += v == WARN;
    bool show_fix = fix && (v == FAIL || v == WARN);
    if (d->json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "check", name, "status", verdict_names[v], "message", msg);
        if (o && show_fix)
            json_object_set_new(o, "fix", json_string(fix));
        json_array_append_new(d->checks, o);
        return;
    }
    printf("%s  %-8s %s\n", verdict_names[v], name, msg);
    if (show_fix)
        printf("      fix: %s\n", fix);
    fflush(stdout);
}

/* What the technician must do now (watch a LED, press the button). Not part
 * of the JSON result; on stderr there so a program reading stdout is not
 * confused. */
static void prompt(const struct doctor *d, const char *msg)
{
    FILE *out = d->json ? stderr : stdout;
    fprintf(out, "  ... %s\n", msg);
    fflush(out);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- config ---------------------------------------------------------------- */

static int check_config(struct doctor *d)
{
    char err[512];
    if (config_load(d->config_path, &d->cfg, err, sizeof(err)) != 0) {
        report(d, FAIL, "config", "correct that line (every key and its range is described in "
                                  "board/cccd-reader.conf), then run doctor again", "%s", err);
        return -1;
    }
    report(d, PASS, "config", NULL, "%s is valid (device %s)", d->config_path, d->cfg.device_id);
    return 0;
}

/* ---- camera ---------------------------------------------------------------- */

struct camera_result {
    int frames, width, height, codes, largest_code;
    int64_t first_ms, last_ms;
    double best_sharpness;
};

static void look_at_frame(struct qr_decoder *dec, const struct frame *f, struct camera_result *r)
{
    double s = sharpness_centre(f);
    if (s > r->best_sharpness)
        r->best_sharpness = s;
    int n = dec ? qr_decoder_scan(dec, f) : 0;
    for (int i = 0; i < n; i++) {
        r->codes++;
        const struct qr_code *c = qr_decoder_code(dec, i);
        if ((int)c->len > r->largest_code)
            r->largest_code = (int)c->len;
    }
}

/* Grabs frames for d->camera_ms. Returns 0, or -1 with err. */
static int grab_frames(struct doctor *d, const struct camera_ops *ops, struct camera_result *r, char *err,
                       size_t errlen)
{
    struct camera *cam = NULL;
    int rc = ops->open(&cam, &d->cfg.scan.camera, err, errlen);
    if (rc != 0)
        return -1;
    struct qr_decoder *dec = NULL;
    char qerr[128];
    if (qr_decoder_open(&dec, qerr, sizeof(qerr)) != 0)
        dec = NULL; /* the camera is still worth reporting */
    int64_t until = clock_ms() + d->camera_ms;
    while (clock_ms() < until) {
        struct frame f;
        rc = ops->next_frame(cam, &f, 1000, err, errlen);
        if (rc == CAMERA_TIMEOUT)
            continue;
        if (rc != CAMERA_FRAME)
            break;
        r->last_ms = clock_ms();
        if (r->frames++ == 0) {
            r->first_ms = r->last_ms;
            r->width = f.width;
            r->height = f.height;
        }
        look_at_frame(dec, &f, r);
    }
    qr_decoder_close(dec);
    ops->close(cam);
    return rc < 0 && rc != CAMERA_END && r->frames == 0 ? -1 : 0;
}

static void check_camera(struct doctor *d)
{
    const char *src = d->cfg.scan.camera.source;
    const struct camera_ops *ops = camera_ops_for(src);
    if (!ops) {
        report(d, FAIL, "camera", "set [camera] source to v4l2:/dev/videoN, pipe:COMMAND or files:DIR",
               "%s: unknown source", src);
        return;
    }
    struct camera_result r = { 0, 0, 0, 0, 0, 0, 0, -1 };
    char err[512] = "";
    if (grab_frames(d, ops, &r, err, sizeof(err)) != 0 || r.frames == 0) {
        report(d, FAIL, "camera",
               "check the cable and [camera] source (`v4l2-ctl --list-devices`); stop the service first "
               "(`systemctl stop cccd-reader`): only one program can use the camera",
               "%s: %s", src, err[0] ? err : "no frame within the test");
        return;
    }
    double secs = (double)(r.last_ms - r.first_ms) / 1000.0;
    double fps = r.frames > 1 && secs > 0 ? (r.frames - 1) / secs : 0;
    bool slow = fps > 0 && fps < 5;
    report(d, slow ? WARN : PASS, "camera",
           "the decoder needs 5 frames a second or more: try `format = mjpeg` or a smaller width/height",
           "%s: %d frames of %dx%d (format %s, asked %dx%d at %d fps), %.1f fps measured", src, r.frames, r.width,
           r.height, d->cfg.scan.camera.format, d->cfg.scan.camera.width, d->cfg.scan.camera.height, d->cfg.scan.camera.fps, fps);
    if (r.codes > 0)
        report(d, PASS, "focus", NULL, "sharpness %.0f (centre, variance of the Laplacian); a QR code was read "
               "(%d bytes)", r.best_sharpness, r.largest_code);
    else
        report(d, WARN, "focus",
               "hold a card up at 15-20 cm in the middle of the picture and run doctor again; "
               "`cccd-reader snapshot aim.png` shows what the camera sees",
               "sharpness %.0f (centre, variance of the Laplacian); no QR code read", r.best_sharpness);
}

/* ---- GPIO -------------------------------------------------------------------- */

static const char *const out_names[GPIO_OUT_COUNT] = { "green LED", "red LED", "amber LED", "buzzer" };

static void pulse_outputs(struct doctor *d, const struct gpio_ops *ops, struct gpio_dev *dev)
{
    char done[128] = "";
    for (int i = 0; i < GPIO_OUT_COUNT; i++) {
        if (!d->cfg.gpio.out[i].used)
            continue;
        char msg[96];
        snprintf(msg, sizeof(msg), "watch the %s now (%s for one second)", out_names[i],
                 i == GPIO_BUZZER ? "sounding" : "lit");
        prompt(d, msg);
        int rc = ops->set(dev, (enum gpio_out)i, true);
        sleep_ms(1000);
        rc |= ops->set(dev, (enum gpio_out)i, false);
        sleep_ms(300);
        if (rc != 0) {
            report(d, FAIL, "gpio", "check the chip and line names in [gpio] (`gpioinfo`)",
                   "%s (line %s): setting it failed", out_names[i], d->cfg.gpio.out[i].line);
            continue;
        }
        size_t n = strlen(done);
        snprintf(done + n, sizeof(done) - n, "%s%s", n ? ", " : "", out_names[i]);
    }
    if (done[0])
        report(d, PASS, "gpio", "if one stayed dark or silent: check its wiring and *_active_low in [gpio]",
               "pulsed %s (each should have lit or sounded once)", done);
    else
        report(d, SKIP, "gpio", NULL, "no output wired in [gpio]");
}

/* Waits up to d->button_wait_s for one debounced press. */
static int await_press(struct doctor *d, const struct gpio_ops *ops, struct gpio_dev *dev)
{
    int fd = ops->button_fd(dev);
    int64_t until = clock_ms() + (int64_t)d->button_wait_s * 1000;
    while (clock_ms() < until) {
        if (fd >= 0) {
            struct pollfd p = { fd, POLLIN, 0 };
            poll(&p, 1, 100);
        } else {
            sleep_ms(20);
        }
        int n = ops->button_presses(dev);
        if (n != 0)
            return n;
    }
    return 0;
}

static void check_button(struct doctor *d, const struct gpio_ops *ops, struct gpio_dev *dev)
{
    if (!d->cfg.gpio.button.used) {
        report(d, SKIP, "button", NULL, "no button wired in [gpio]");
        return;
    }
    if (!d->interactive) {
        report(d, SKIP, "button", NULL, "not awaited (--no-interactive)");
        return;
    }
    char msg[96];
    snprintf(msg, sizeof(msg), "press the desk button now (waiting %d s)", d->button_wait_s);
    prompt(d, msg);
    int n = await_press(d, ops, dev);
    if (n > 0)
        report(d, PASS, "button", NULL, "press seen on line %s", d->cfg.gpio.button.line);
    else
        report(d, FAIL, "button", "check the button's wiring (to ground, pull-up on), [gpio] button and "
               "button_active_low", "%s within %d s on line %s", n < 0 ? "reading the button failed" : "no press",
               d->button_wait_s, d->cfg.gpio.button.line);
}

static void check_gpio(struct doctor *d)
{
    const struct gpio_ops *ops = gpio_backend(d->cfg.gpio_backend);
    if (!ops || strcmp(d->cfg.gpio_backend, "null") == 0) {
        report(d, SKIP, "gpio", NULL, "backend %s: no lights, buzzer or button to test", d->cfg.gpio_backend);
        return;
    }
    struct gpio_dev *dev = NULL;
    char err[512];
    if (ops->open(&dev, &d->cfg.gpio, err, sizeof(err)) != 0) {
        report(d, FAIL, "gpio", "check [gpio] chip and lines against `gpioinfo`; stop the service first "
               "(`systemctl stop cccd-reader`): it holds the lines", "%s", err);
        return;
    }
    pulse_outputs(d, ops, dev);
    check_button(d, ops, dev);
    ops->close(dev);
}

/* ---- clock ------------------------------------------------------------------- */

static void check_clock(struct doctor *d)
{
    if (checkin_clock_synced())
        report(d, PASS, "clock", NULL, "synchronised (NTP)");
    else
        report(d, WARN, "clock", "the Pi has no battery clock: let it reach an NTP server "
               "(`timedatectl timesync-status`); check-ins are marked clock_synced=false until then",
               "not synchronised");
}

/* ---- certificates and server --------------------------------------------------- */

static void check_device_cert(struct doctor *d)
{
    const char *path = d->cfg.uplink_cert;
    if (!path[0]) {
        report(d, d->cfg.uplink_url[0] ? WARN : SKIP, "cert",
               "run `cccd-reader provision` to make the device key and certificate",
               "no device certificate ([uplink] cert is empty)");
        return;
    }
    time_t not_after;
    long days;
    char until[48], err[512];
    const char *fix = "renew it: `cccd-reader provision --config FILE --dir DIR`, then send the CSR to the "
                      "hospital's CA and install the signed certificate with --cert";
    if (cert_expiry(path, time(NULL), &not_after, &days, until, sizeof(until), err, sizeof(err)) != 0)
        report(d, FAIL, "cert", fix, "%s", err);
    else if (days < 0)
        report(d, FAIL, "cert", fix, "%s: device certificate expired on %s", path, until);
    else if (days < 30)
        report(d, WARN, "cert", fix, "%s: device certificate expires in %ld days (%s)", path, days, until);
    else
        report(d, PASS, "cert", NULL, "%s: device certificate valid for %ld more days (until %s)", path, days, until);
}

static const char *tls_fix(int rc)
{
    switch (rc) {
    case TLS_ERR_CONFIG: return "the file named is missing, unreadable or does not match: check [uplink] ca, cert, key";
    case TLS_ERR_CONNECT: return "check the network, the host and port of [uplink] url, DNS and the firewall";
    case TLS_ERR_VERIFY: return "the server's certificate does not chain to [uplink] ca, is for another name, is "
                                "expired or does not match pin_sha256: ask the hospital's IT for their CA";
    case TLS_ERR_TIMEOUT: return "the server accepted the connection but did not answer: ask the hospital's IT";
    default: return "the server refused us: is our device certificate expired or from another CA? "
                    "ask the hospital's IT, or provision the device again";
    }
}

/* After the handshake, one harmless request: with TLS 1.3 a server refuses
 * a client certificate only after the client thinks the handshake is done,
 * and a proxy checking client certificates (nginx) answers its refusal in
 * HTTP, so only the service's own answer proves it took us. The probe is a
 * check-in the service must refuse as a record (docs/protocol.md): its own
 * JSON error, 2xx or 409 mean the way to it is open. */
static int probe_http(struct tls_client *c, const char *host_header, const char *path, const char *device,
                      struct http_response *r, uint8_t *body, size_t cap, char *err, size_t errlen)
{
    static const char probe[] = "{\"schema\":1,\"probe\":true}";
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cccd-reader-doctor\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nIdempotency-Key: %.60s-doctor-probe\r\nConnection: close\r\n\r\n%s",
                     path, host_header, sizeof(probe) - 1, device, probe);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        snprintf(err, errlen, "the probe request does not fit: [uplink] url is too long");
        return TLS_ERR_IO;
    }
    int rc = tls_client_write(c, req, (size_t)n, err, errlen);
    static uint8_t buf[HTTP_HEADER_MAX + 65536];
    size_t have = 0;
    while (rc == 0) {
        int got = tls_client_read(c, buf + have, sizeof(buf) - have, err, errlen);
        if (got < 0)
            return got;
        have += (size_t)got;
        int p = http_response_parse(buf, have, got == 0, (int64_t)time(NULL), r, body, cap);
        if (p == HTTP_DONE)
            return 0;
        if (p != HTTP_NEED_MORE || have == sizeof(buf)) {
            snprintf(err, errlen, "%s: the answer is not readable HTTP (code %d)", host_header, p);
            return TLS_ERR_IO;
        }
    }
    return rc;
}

static const char *verdict_fix(enum uplink_verdict v, int status)
{
    if (v == UPLINK_TEMPORARY)
        return status >= 500 ? "the way in works, but the service behind it is down or overloaded: ask the "
                               "hospital's IT; records are kept and sent once it answers"
                             : "the service asks to wait: records are kept and sent later";
    return "the service (or a proxy in front of it) refuses this terminal: is the device certificate "
           "expired or from another CA? is [uplink] url right? records are kept, nothing is set aside; "
           "fix it, then `cccd-reader spool status` shows them leaving";
}

static void check_server(struct doctor *d)
{
    const struct config *c = &d->cfg;
    if (!c->uplink_url[0]) {
        report(d, SKIP, "server", NULL, "no [uplink] url: records are not delivered");
        return;
    }
    char host[256], port[16], path[256], err[512];
    if (uplink_parse_url(c->uplink_url, host, sizeof(host), port, sizeof(port), path, sizeof(path), err,
                         sizeof(err)) != 0) {
        report(d, FAIL, "server", "set [uplink] url to https://HOST[:PORT]/PATH", "%s", err);
        return;
    }
    struct tls_opts o = { host, port, c->uplink_ca, c->uplink_cert[0] ? c->uplink_cert : NULL,
                          c->uplink_key[0] ? c->uplink_key : NULL, c->has_pin ? c->pin : NULL,
                          c->uplink_connect_timeout_ms, c->uplink_read_timeout_ms };
    struct tls_client *tc = NULL;
    int rc = tls_client_open(&tc, &o, err, sizeof(err));
    if (rc == 0) {
        tls_client_set_deadline(tc, clock_ms() + c->uplink_request_timeout_ms);
        rc = tls_client_connect(tc, err, sizeof(err));
    }
    char ver[16], host_header[300];
    snprintf(ver, sizeof(ver), "%s", rc == 0 ? tls_client_version(tc) : "TLS");
    uplink_host_header(host, port, host_header, sizeof(host_header));
    struct http_response r;
    static uint8_t body[65536];
    if (rc == 0)
        rc = probe_http(tc, host_header, path, c->device_id, &r, body, sizeof(body), err, sizeof(err));
    tls_client_close(tc);
    if (rc != 0) {
        /* Most messages of tls_client already name host:port. */
        if (strstr(err, host))
            report(d, FAIL, "server", tls_fix(rc), "%s", err);
        else
            report(d, FAIL, "server", tls_fix(rc), "%s:%s: %s", host, port, err);
        return;
    }
    char why[256];
    enum uplink_verdict v = uplink_judge(r.status, body, r.body_len, why, sizeof(why));
    if (v == UPLINK_TERMINAL_REFUSED || v == UPLINK_TEMPORARY) {
        report(d, FAIL, "server", verdict_fix(v, r.status), "%s:%s: %s, TLS accepted, then the answer: %s", host,
               port, ver, why);
        return;
    }
    report(d, PASS, "server", NULL, "%s:%s: %s, server certificate verified against %s%s, %s, the service answered "
           "the probe (HTTP %d)", host, port, ver, c->uplink_ca, c->has_pin ? " and the pin" : "",
           o.cert_file ? "our certificate accepted" : "no client certificate", r.status);
}

/* ---- queue ------------------------------------------------------------------- */

static void describe_queue(struct doctor *d, uint64_t records, uint64_t bytes, int64_t oldest, bool running)
{
    long long age_min = records && oldest ? ((long long)time(NULL) - oldest) / 60 : 0;
    enum verdict v = records && age_min >= 60 ? WARN : PASS;
    report(d, v, "queue", "records are not leaving: see the server check; they are kept and sent once it works",
           "%s: %llu records waiting (%llu bytes), oldest %lld min old%s", d->cfg.spool_dir,
           (unsigned long long)records, (unsigned long long)bytes, age_min,
           running ? " (read beside the running service)" : "");
}

/* Records set aside are lost to the hospital until someone sends them
 * again: any of them is worth a warning that says how. */
static void check_dead_letters(struct doctor *d)
{
    struct spool_dead_stats ds;
    char err[512];
    if (spool_dead_stats(d->cfg.spool_dir, &ds, err, sizeof(err)) != 0) {
        report(d, FAIL, "dead", "check the spool directory's owner and mode", "%s", err);
        return;
    }
    if (!ds.records && !ds.damaged_bytes) {
        report(d, PASS, "dead", NULL, "no record set aside");
        return;
    }
    long long days = ds.oldest_set_aside_unix ? ((long long)time(NULL) - ds.oldest_set_aside_unix) / 86400 : 0;
    report(d, WARN, "dead",
           "see why: `cccd-reader spool list --dead`; once the cause is fixed, send them again: "
           "`sudo systemctl stop cccd-reader && sudo cccd-reader spool requeue --all && sudo systemctl start "
           "cccd-reader`",
           "%llu records set aside in %s/dead.log, the oldest %lld days ago%s", (unsigned long long)ds.records,
           d->cfg.spool_dir, days, ds.damaged_bytes ? "; some of it is damaged" : "");
}

/* The undelivered records, read without the spool's lock when the service
 * holds it (taking it, even for a moment, could stop a starting service). */
static int count_queue(const char *dir, uint64_t *records, uint64_t *bytes, int64_t *oldest, char *err,
                       size_t errlen)
{
    struct spool_reader *r = NULL;
    int rc = spool_reader_open(&r, dir, false, NULL, err, errlen);
    struct spool_item it;
    *records = *bytes = 0;
    *oldest = 0;
    while (rc == 0 && (rc = spool_reader_next(r, &it, err, errlen)) == 1) {
        ++*records;
        *bytes += it.size;
        if (!*oldest || it.appended_unix < *oldest)
            *oldest = it.appended_unix;
        rc = 0;
    }
    spool_reader_close(r);
    return rc < 0 ? rc : 0;
}

static void check_queue(struct doctor *d)
{
    const struct config *c = &d->cfg;
    struct stat sb;
    if (!c->uplink_url[0]) {
        report(d, SKIP, "queue", NULL, "no [uplink] url: nothing is queued");
        return;
    }
    if (stat(c->spool_dir, &sb) != 0) {
        report(d, SKIP, "queue", NULL, "%s does not exist yet (made at the first start)", c->spool_dir);
        return;
    }
    if (spool_in_use(c->spool_dir)) {
        uint64_t records, bytes;
        int64_t oldest;
        char err[512];
        if (count_queue(c->spool_dir, &records, &bytes, &oldest, err, sizeof(err)) != 0)
            report(d, FAIL, "queue", "check the spool directory's owner and mode", "%s", err);
        else
            describe_queue(d, records, bytes, oldest, true);
        check_dead_letters(d);
        return;
    }
    uint8_t key[SPOOL_KEY_LEN];
    char err[512];
    if (c->spool_key_file[0] && spool_load_key(c->spool_key_file, key, err, sizeof(err)) != 0) {
        report(d, FAIL, "queue", "the key file must be 32 bytes (or 64 hex digits), mode 0600", "%s", err);
        return;
    }
    struct spool_opts so = { c->spool_dir, (uint64_t)c->spool_max_mb << 20, (int64_t)c->spool_max_age_h * 3600,
                             c->spool_key_file[0] ? key : NULL, 0 };
    struct spool *s = NULL;
    int rc = spool_open(&s, &so, err, sizeof(err));
    memset(key, 0, sizeof(key));
    if (rc != 0) {
        report(d, FAIL, "queue", "check the directory's owner and mode (the service's user, 0700)", "%s", err);
        return;
    }
    struct spool_stats st;
    spool_get_stats(s, &st);
    spool_close(s);
    describe_queue(d, st.records, st.bytes, st.oldest_unix, false);
    check_dead_letters(d);
}

/* ---- command ------------------------------------------------------------------ */

static int usage(void)
{
    fprintf(stderr,
            "usage: cccd-reader doctor [--config FILE] [--json] [--no-interactive] [--button-wait SECONDS]\n"
            "  checks the config, camera, focus, GPIO, clock, certificates, server and queue;\n"
            "  exit 0 when nothing failed, 1 otherwise. Default config: " DEFAULT_CONFIG "\n"
            "  --no-interactive  do not wait for the button (outputs are still pulsed)\n");
    return CLI_USAGE;
}

static int parse_args(struct doctor *d, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            d->config_path = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            d->json = true;
        else if (strcmp(argv[i], "--no-interactive") == 0)
            d->interactive = false;
        else if (strcmp(argv[i], "--button-wait") == 0 && i + 1 < argc)
            d->button_wait_s = atoi(argv[++i]);
        else
            return -1;
    }
    return d->button_wait_s > 0 && d->button_wait_s <= 600 ? 0 : -1;
}

static void print_json(struct doctor *d)
{
    json_t *o = json_pack("{s:s, s:o, s:i, s:i, s:b}", "config", d->config_path, "checks", d->checks, "failed",
                          d->failed, "warnings", d->warned, "ok", d->failed == 0);
    if (o && json_dumpf(o, stdout, JSON_COMPACT) == 0)
        fputc('\n', stdout);
    json_decref(o);
}

int cmd_doctor(int argc, char **argv)
{
    static struct doctor d;
    memset(&d, 0, sizeof(d));
    d.interactive = true;
    d.button_wait_s = 10;
    d.camera_ms = 2000;
    d.config_path = DEFAULT_CONFIG;
    if (parse_args(&d, argc, argv) != 0)
        return usage();
    /* A server that refuses our certificate closes the socket under our
     * probe request: that is a FAIL line, not a killed process. */
    struct sigaction ign;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, NULL);
    d.checks = json_array();
    if (check_config(&d) == 0) {
        check_camera(&d);
        check_gpio(&d);
        check_clock(&d);
        check_device_cert(&d);
        check_server(&d);
        check_queue(&d);
    }
    if (d.json)
        print_json(&d);
    else
        json_decref(d.checks);
    if (!d.json)
        printf("%s: %d failed, %d warnings\n", d.failed ? "NOT READY" : "ready", d.failed, d.warned);
    return d.failed ? CLI_REFUSED : CLI_OK;
}
