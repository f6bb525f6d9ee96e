/* config.c - the INI configuration (config/ini_read.h), one table row per key.
 *
 * The table is the single list of keys: parsing, range checks and the
 * "unknown key" error all come from it, so a key cannot be half-added. */
#include "config/config.h"

#include "base/file_io.h"
#include "base/log.h"
#include "config/ini_read.h"
#include "decode/qr_reader.h"
#include "delivery/checkin.h"
#include "delivery/tls_client.h"
#include "delivery/uplink.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

enum key_type { K_INT, K_BOOL, K_STR, K_LEVEL, K_BUTTON_ACTION, K_LINE };

struct key {
    const char *section;
    const char *name;
    enum key_type type;
    size_t offset; /* into struct config */
    size_t size;   /* K_STR, K_LINE: buffer size */
    int min, max;  /* K_INT */
};

#define OFF(field) offsetof(struct config, field)
#define STR(sec, name, field) { sec, name, K_STR, OFF(field), sizeof(((struct config *)0)->field), 0, 0 }
#define INT(sec, name, field, lo, hi) { sec, name, K_INT, OFF(field), 0, lo, hi }
#define BOOL(sec, name, field) { sec, name, K_BOOL, OFF(field), 0, 0, 0 }
#define LINE(name, field) { "gpio", name, K_LINE, OFF(field), 0, 0, 0 }

static const struct key keys[] = {
    STR("device", "id", device_id),
    STR("camera", "source", camera_source),
    STR("camera", "format", camera_format),
    INT("camera", "width", scan.camera.width, 16, 8192),
    INT("camera", "height", scan.camera.height, 16, 8192),
    INT("camera", "fps", scan.camera.fps, 1, 120),
    INT("camera", "focus", scan.camera.focus, -1, 10000),
    INT("camera", "exposure", scan.camera.exposure, -1, 100000),
    BOOL("camera", "loop", scan.camera.loop),
    INT("camera", "stall_timeout_ms", scan.stall_timeout_ms, 200, 600000),
    INT("camera", "reopen_min_ms", scan.reopen_min_ms, 50, 600000),
    INT("camera", "reopen_max_ms", scan.reopen_max_ms, 50, 3600000),
    STR("gpio", "backend", gpio_backend),
    STR("gpio", "chip", gpio_chip),
    LINE("green", gpio.out[GPIO_GREEN]),
    LINE("red", gpio.out[GPIO_RED]),
    LINE("amber", gpio.out[GPIO_AMBER]),
    LINE("buzzer", gpio.out[GPIO_BUZZER]),
    LINE("button", gpio.button),
    BOOL("gpio", "green_active_low", gpio.out[GPIO_GREEN].active_low),
    BOOL("gpio", "red_active_low", gpio.out[GPIO_RED].active_low),
    BOOL("gpio", "amber_active_low", gpio.out[GPIO_AMBER].active_low),
    BOOL("gpio", "buzzer_active_low", gpio.out[GPIO_BUZZER].active_low),
    BOOL("gpio", "button_active_low", gpio.button.active_low),
    INT("gpio", "debounce_ms", gpio.debounce_ms, 0, 1000),
    { "gpio", "button_action", K_BUTTON_ACTION, OFF(button_action), 0, 0, 0 },
    INT("scan", "duplicate_window_s", scan.duplicate_window_s, 0, 86400),
    INT("scan", "decode_threads", scan.decode_threads, 0, 8),
    INT("scan", "decode_budget_ms", scan.decode_budget_ms, 10, 5000),
    STR("uplink", "url", uplink_url),
    STR("uplink", "ca", uplink_ca),
    STR("uplink", "cert", uplink_cert),
    STR("uplink", "key", uplink_key),
    STR("uplink", "pin_sha256", uplink_pin),
    STR("uplink", "fields", uplink_fields),
    INT("uplink", "connect_timeout_ms", uplink_connect_timeout_ms, 100, 120000),
    INT("uplink", "read_timeout_ms", uplink_read_timeout_ms, 100, 300000),
    INT("uplink", "request_timeout_ms", uplink_request_timeout_ms, 1000, 600000),
    INT("uplink", "backoff_min_ms", uplink_backoff_min_ms, 10, 600000),
    INT("uplink", "backoff_max_ms", uplink_backoff_max_ms, 10, 3600000),
    STR("spool", "dir", spool_dir),
    STR("spool", "key_file", spool_key_file),
    INT("spool", "max_mb", spool_max_mb, 1, 100000),
    INT("spool", "max_age_h", spool_max_age_h, 0, 8760),
    { "log", "level", K_LEVEL, OFF(log_level), 0, 0, 0 },
};

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    if (gethostname(cfg->device_id, sizeof(cfg->device_id) - 1) != 0 || !cfg->device_id[0])
        snprintf(cfg->device_id, sizeof(cfg->device_id), "cccd-reader");
    snprintf(cfg->camera_source, sizeof(cfg->camera_source), "v4l2:/dev/video0");
    snprintf(cfg->camera_format, sizeof(cfg->camera_format), "auto");
    cfg->scan.camera = (struct camera_config){ .width = 1280, .height = 720, .fps = 15, .focus = -1, .exposure = -1,
                                          .loop = true };
    cfg->scan.stall_timeout_ms = 5000;
    cfg->scan.reopen_min_ms = 500;
    cfg->scan.reopen_max_ms = 30000;
    snprintf(cfg->gpio_backend, sizeof(cfg->gpio_backend), "null");
    cfg->gpio.button.active_low = true; /* a button to ground with the pull-up on */
    cfg->gpio.debounce_ms = 30;
    cfg->gpio.consumer = "cccd-reader";
    cfg->button_action = BUTTON_REPEAT;
    cfg->scan.duplicate_window_s = 60;
    cfg->scan.decode_threads = 0;
    cfg->scan.decode_budget_ms = QR_READER_DEFAULT_BUDGET_MS;
    snprintf(cfg->uplink_fields, sizeof(cfg->uplink_fields), "id_number,full_name,date_of_birth");
    cfg->uplink_connect_timeout_ms = 5000;
    cfg->uplink_read_timeout_ms = 10000;
    cfg->uplink_request_timeout_ms = 30000;
    cfg->uplink_backoff_min_ms = 1000;
    cfg->uplink_backoff_max_ms = 300000;
    snprintf(cfg->spool_dir, sizeof(cfg->spool_dir), "/var/lib/cccd-reader/spool");
    cfg->spool_max_mb = 64;
    cfg->spool_max_age_h = 72;
    cfg->uplink_field_mask = CHECKIN_DEFAULT_FIELDS;
    cfg->log_level = LOG_INFO;
}

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct parse_state {
    struct config *cfg;
    char msg[256]; /* the first error, without "FILE:LINE: " */
    int status;
    bool seen[NKEYS]; /* a key set twice is an error, not "the last one wins" */
};

static int parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return -1;
    *out = (int)n;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
    for (int i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(v, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

static int parse_level(const char *v, int *out)
{
    static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
    for (int i = 0; i < 8; i++)
        if (strcmp(v, names[i]) == 0)
            return *out = i, 0;
    return -1;
}

static int parse_string(const char *v, char *dst, size_t size)
{
    if (strlen(v) >= size)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

/* Sets one key; returns 0 or -1 with st->msg saying what was expected. */
static int set_key(struct parse_state *st, const struct key *k, const char *v)
{
    char *base = (char *)st->cfg + k->offset;
    const char *want = NULL;
    char shown[64]; /* the value as messages quote it: escaped, bounded */
    log_clean(v, shown, sizeof(shown));
    switch (k->type) {
    case K_INT:
        if (parse_int(v, k->min, k->max, (int *)base) == 0)
            return 0;
        snprintf(st->msg, sizeof(st->msg), "[%s] %s = '%s': expected a whole number from %d to %d", k->section,
                 k->name, shown, k->min, k->max);
        return -1;
    case K_BOOL:
        want = parse_bool(v, (bool *)base) == 0 ? NULL : "true or false";
        break;
    case K_STR:
        want = parse_string(v, base, k->size) == 0 ? NULL : "a shorter value";
        break;
    case K_LEVEL:
        want = parse_level(v, (int *)base) == 0 ? NULL : "one of err, warning, notice, info, debug";
        break;
    case K_BUTTON_ACTION:
        if (strcmp(v, "repeat") == 0 || strcmp(v, "mute") == 0)
            *(enum button_action *)base = v[0] == 'r' ? BUTTON_REPEAT : BUTTON_MUTE;
        else
            want = "repeat or mute";
        break;
    case K_LINE: {
        struct gpio_line_spec *spec = (struct gpio_line_spec *)base;
        want = parse_string(v, spec->line, sizeof(spec->line)) == 0 ? NULL : "a line offset or name";
        spec->used = v[0] != '\0';
        break;
    }
    }
    if (!want)
        return 0;
    /* Strings are not echoed: a URL or a path may carry a token. */
    if (k->type == K_STR)
        snprintf(st->msg, sizeof(st->msg), "[%s] %s (%zu characters): expected %s", k->section, k->name, strlen(v),
                 want);
    else
        snprintf(st->msg, sizeof(st->msg), "[%s] %s = '%s': expected %s", k->section, k->name, shown, want);
    return -1;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse_state *st = user;
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0) {
            /* A pin map pasted below the old [gpio] section would otherwise
             * override it silently, key by key. */
            if (st->seen[i]) {
                snprintf(st->msg, sizeof(st->msg), "[%s] %s is set a second time (two [%s] sections?): keep one",
                         section, name, section);
                st->status = CONFIG_ERR_SYNTAX;
                return -1;
            }
            st->seen[i] = true;
            if (set_key(st, &keys[i], value) == 0)
                return 0;
            st->status = CONFIG_ERR_VALUE;
            return -1;
        }
    /* The names are the file's text: printed escaped and bounded. */
    char n[48], sec[48];
    snprintf(st->msg, sizeof(st->msg), "unknown key '%s' in [%s] (misspelt? see board/cccd-reader.conf)",
             log_clean(name, n, sizeof(n)), log_clean(section, sec, sizeof(sec)));
    st->status = CONFIG_ERR_SYNTAX;
    return -1;
}

static int check_uplink(struct config *cfg, char *msg, size_t size)
{
    char host[256], port[16], path[512], why[200];
    if (uplink_parse_url(cfg->uplink_url, host, sizeof(host), port, sizeof(port), path, sizeof(path), msg, size) != 0)
        return -1;
    if (!cfg->uplink_ca[0]) {
        snprintf(msg, size, "[uplink] ca is empty: the server's certificate authority file is required");
        return -1;
    }
    if (!cfg->uplink_cert[0] != !cfg->uplink_key[0]) {
        snprintf(msg, size, "[uplink] cert and key go together: set both or neither");
        return -1;
    }
    cfg->has_pin = cfg->uplink_pin[0] != '\0';
    if (cfg->has_pin && tls_parse_pin(cfg->uplink_pin, cfg->pin) != 0) {
        snprintf(msg, size, "[uplink] pin_sha256: expected 64 hex digits (sha256 of the server's public key)");
        return -1;
    }
    if (checkin_fields_parse(cfg->uplink_fields, &cfg->uplink_field_mask, why, sizeof(why)) != 0) {
        snprintf(msg, size, "[uplink] fields: %s", why);
        return -1;
    }
    if (cfg->uplink_backoff_min_ms > cfg->uplink_backoff_max_ms) {
        snprintf(msg, size, "[uplink] backoff_min_ms is above backoff_max_ms");
        return -1;
    }
    return 0;
}

/* Checks that need several keys at once. */
static int check_whole(struct config *cfg, char *msg, size_t size)
{
    if (cfg->scan.reopen_min_ms > cfg->scan.reopen_max_ms) {
        snprintf(msg, size, "[camera] reopen_min_ms (%d) is above reopen_max_ms (%d)", cfg->scan.reopen_min_ms,
                 cfg->scan.reopen_max_ms);
        return CONFIG_ERR_VALUE;
    }
    if (!camera_ops_for(cfg->camera_source)) {
        char shown[88];
        snprintf(msg, size, "[camera] source = '%s': expected v4l2:/dev/videoN, pipe:COMMAND or files:PATH",
                 log_clean(cfg->camera_source, shown, sizeof(shown)));
        return CONFIG_ERR_VALUE;
    }
    if (cfg->uplink_url[0] && check_uplink(cfg, msg, size) != 0)
        return CONFIG_ERR_VALUE;
    if (!gpio_backend(cfg->gpio_backend)) {
        char shown[24];
        snprintf(msg, size, "[gpio] backend = '%s': expected gpiod or null",
                 log_clean(cfg->gpio_backend, shown, sizeof(shown)));
        return CONFIG_ERR_VALUE;
    }
    return 0;
}

void config_relink(struct config *cfg)
{
    cfg->scan.camera.source = cfg->camera_source;
    cfg->scan.camera.format = cfg->camera_format;
    for (int i = 0; i < GPIO_OUT_COUNT; i++)
        snprintf(cfg->gpio.out[i].chip, sizeof(cfg->gpio.out[i].chip), "%s", cfg->gpio_chip);
    snprintf(cfg->gpio.button.chip, sizeof(cfg->gpio.button.chip), "%s", cfg->gpio_chip);
}

/* A configuration is small; a file far larger is not one. */
#define CONFIG_FILE_MAX (64 * 1024)

/* Reads the text into cfg; name is the file's path for messages. */
static int parse_text(const char *text, size_t len, const char *name, struct config *cfg, char *err, size_t errlen)
{
    config_defaults(cfg);
    struct parse_state st = { .cfg = cfg };
    int nkeys = 0, line = ini_read(text, len, on_key, &st, &nkeys, st.msg, sizeof(st.msg));
    if (line > 0) {
        snprintf(err, errlen, "%s:%d: %s", name, line, st.msg);
        return st.status ? st.status : CONFIG_ERR_SYNTAX;
    }
    /* An empty file (or a directory, a truncated copy) must not start a
     * terminal on defaults that scans and delivers nowhere. */
    if (nkeys == 0) {
        snprintf(err, errlen, "%s sets nothing (empty, or only comments): start from board/cccd-reader.conf", name);
        return CONFIG_ERR_SYNTAX;
    }
    config_relink(cfg);
    int rc = check_whole(cfg, st.msg, sizeof(st.msg));
    if (rc)
        snprintf(err, errlen, "%s: %s", name, st.msg);
    return rc;
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
    char *text;
    size_t len;
    if (file_read_all(path, CONFIG_FILE_MAX, &text, &len, err, errlen) != 0) {
        config_defaults(cfg);
        return CONFIG_ERR_OPEN;
    }
    int rc = parse_text(text, len, path, cfg, err, errlen);
    free(text);
    return rc;
}

int config_parse_string(const char *text, const char *name, struct config *cfg, char *err, size_t errlen)
{
    return parse_text(text, strlen(text), name, cfg, err, errlen);
}

int config_parse_bytes(const char *text, size_t len, const char *name, struct config *cfg, char *err, size_t errlen)
{
    return parse_text(text, len, name, cfg, err, errlen);
}
