/* config.h - the terminal's INI configuration (read with inih).
 *
 * Every key has a default (config_defaults) and a documented range; see the
 * commented example board/cccd-reader.conf. Unknown sections or keys, values
 * out of range, unreadable files, a file that is not a regular one (a
 * directory, a FIFO), an empty one, lines too long or holding control bytes
 * are errors that name the file, the line and the key: the service refuses
 * to start (or to reload) on them rather than guess. */
#ifndef CCCD_CONFIG_H
#define CCCD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

#include "drivers/gpio.h"
#include "loop/desk.h"
#include "loop/scan_loop.h"

enum config_status {
    CONFIG_ERR_OPEN = -1,  /* the file cannot be read */
    CONFIG_ERR_SYNTAX = -2, /* not INI, or an unknown section/key */
    CONFIG_ERR_VALUE = -3,  /* a value is malformed or out of range */
};

struct config {
    char device_id[64];

    char camera_source[512];
    char camera_format[16];
    struct scan_opts scan; /* [camera] and [scan]; scan.camera's strings point into the fields above */

    char gpio_backend[16];
    char gpio_chip[GPIO_NAME_MAX];
    struct gpio_config gpio;
    enum button_action button_action;


    /* [uplink]: empty url = no delivery (records end in a log line). */
    char uplink_url[512];
    char uplink_ca[256], uplink_cert[256], uplink_key[256];
    char uplink_pin[80];     /* 64 hex digits, or empty */
    char uplink_fields[256]; /* checkin.h field names */
    int uplink_connect_timeout_ms, uplink_read_timeout_ms;
    int uplink_request_timeout_ms; /* connect to the answer's last byte, whatever the server trickles */
    int uplink_backoff_min_ms, uplink_backoff_max_ms;
    char spool_dir[256];
    char spool_key_file[256]; /* empty: records stored unencrypted */
    int spool_max_mb, spool_max_age_h;
    /* Derived from the above by config_load: */
    unsigned uplink_field_mask;
    bool has_pin;
    uint8_t pin[32];
    int log_level; /* syslog priority: lines above it are dropped */
};

/* Fills every key with its default. */
void config_defaults(struct config *cfg);

/* Defaults, then the file's values. On error returns a config_status with
 * "FILE:LINE: ..." in err, and *cfg holds defaults plus what came before. */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);

/* The same for text in memory (tests, the fuzzer); name stands in for the
 * path. _bytes takes len bytes, NULs included (they are errors). */
int config_parse_string(const char *text, const char *name, struct config *cfg, char *err, size_t errlen);
int config_parse_bytes(const char *text, size_t len, const char *name, struct config *cfg, char *err, size_t errlen);

/* Points the camera and GPIO settings at the config's own strings; call it
 * after copying a struct config. */
void config_relink(struct config *cfg);

#endif
