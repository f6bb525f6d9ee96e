/* fuzz_config.c - any config text loads or is refused with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0'; /* inih reads C strings: an embedded NUL ends the text */
    static struct config cfg;
    char err[512] = "";
    int rc = config_parse_string(text, "fuzz.conf", &cfg, err, sizeof(err));
    if (rc > 0 || (rc < 0 && (err[0] == '\0' || !memchr(err, '\0', sizeof(err)))))
        abort();
    if (rc == 0) {
        /* Accepted values are in range and strings terminated. */
        if (cfg.scan.camera.fps < 1 || cfg.scan.camera.fps > 120 || cfg.scan.camera.width < 16 ||
            !memchr(cfg.camera_source, '\0', sizeof(cfg.camera_source)) || cfg.scan.camera.source != cfg.camera_source ||
            cfg.scan.reopen_min_ms > cfg.scan.reopen_max_ms || cfg.log_level < 0 || cfg.log_level > 7)
            abort();
    }
    free(text);
    return 0;
}
