/* fuzz_config.c - any bytes load as a config or are refused with a message
 * that is one line of printable text; what loads is in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/ini_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void check_message(const char *err)
{
    if (err[0] == '\0')
        abort();
    for (const char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) /* nothing raw reaches a log line */
            abort();
}

static void check_loaded(const struct config *cfg, const uint8_t *data, size_t len)
{
    if (cfg->scan.camera.fps < 1 || cfg->scan.camera.fps > 120 || cfg->scan.camera.width < 16 ||
        !memchr(cfg->camera_source, '\0', sizeof(cfg->camera_source)) ||
        cfg->scan.camera.source != cfg->camera_source || cfg->scan.reopen_min_ms > cfg->scan.reopen_max_ms ||
        cfg->log_level < 0 || cfg->log_level > 7)
        abort();
    /* What was accepted held no NUL and no line over the limit. */
    if (memchr(data, '\0', len))
        abort();
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        run = data[i] == '\n' ? 0 : run + 1;
        if (run > INI_LINE_MAX + 1) /* + a '\r' */
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static struct config cfg;
    char err[512] = "";
    int rc = config_parse_bytes((const char *)data, len, "fuzz.conf", &cfg, err, sizeof(err));
    if (rc > 0)
        abort();
    if (rc < 0)
        check_message(err);
    else
        check_loaded(&cfg, data, len);
    return 0;
}
