/* fuzz_http_response.c - any bytes from the network: parsed, or refused;
 * and every parsed answer judged (uplink_judge), with a reason fit for a
 * log line: one line of printable text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/http_response.h"
#include "delivery/uplink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void check(const uint8_t *data, size_t len, bool eof)
{
    static uint8_t body[4096];
    struct http_response r;
    int rc = http_response_parse(data, len, eof, 1764230400, &r, body, sizeof(body));
    if (rc < HTTP_ERR_TRUNCATED || rc > HTTP_DONE)
        abort();
    if (rc == HTTP_DONE) {
        if (r.status < 200 || r.status > 599 || r.body_len > sizeof(body) || r.consumed > len ||
            r.retry_after_s < -1 || r.retry_after_s > 86400 || strnlen(r.idempotency_key, HTTP_KEY_MAX) >= HTTP_KEY_MAX)
            abort();
        char why[256];
        enum uplink_verdict v = uplink_judge(r.status, body, r.body_len, why, sizeof(why));
        if (v > UPLINK_TEMPORARY || strnlen(why, sizeof(why)) >= sizeof(why))
            abort();
        for (const char *p = why; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                abort();
        if ((r.status >= 200 && r.status < 300) != (v == UPLINK_DELIVERED))
            abort();
        /* A complete response stays complete, with the same verdict, when more bytes follow. */
        if (!eof && len < 8192) {
            uint8_t *more = malloc(len + 4);
            if (!more)
                return;
            memcpy(more, data, len);
            memcpy(more + len, "HTTP", 4);
            struct http_response r2;
            static uint8_t body2[4096];
            int rc2 = http_response_parse(more, len + 4, false, 1764230400, &r2, body2, sizeof(body2));
            if (rc2 != HTTP_DONE || r2.status != r.status || r2.consumed != r.consumed || r2.body_len != r.body_len ||
                memcmp(body, body2, r.body_len) != 0)
                abort();
            free(more);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    check(data, len, false);
    check(data, len, true);
    return 0;
}
