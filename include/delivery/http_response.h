/* http_response.h - parse one HTTP/1.1 response from the hospital service.
 *
 * Stateless by design: the caller accumulates what it has read and calls
 * http_response_parse() again after each read; the function either finds a
 * complete response at the start of the buffer or says it needs more. With
 * the sizes bounded (HTTP_HEADER_MAX, body capacity) re-parsing costs
 * nothing that matters, and a stateless parser is easy to fuzz and to trust.
 *
 * Handles Content-Length, Transfer-Encoding: chunked, bodies ending at
 * connection close, interim 1xx responses, Connection: close / keep-alive,
 * Retry-After (seconds or an HTTP date) and an echoed Idempotency-Key.
 */
#ifndef CCCD_HTTP_RESPONSE_H
#define CCCD_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEADER_MAX 8192
#define HTTP_KEY_MAX 160 /* an echoed Idempotency-Key, NUL included */

enum http_parse {
    HTTP_DONE = 1,          /* a complete response is in *out */
    HTTP_NEED_MORE = 0,     /* read more (or pass eof = true once the peer closed) */
    HTTP_ERR_SYNTAX = -1,   /* not a well-formed HTTP/1.x response */
    HTTP_ERR_TOO_BIG = -2,  /* headers over HTTP_HEADER_MAX or body over the capacity */
    HTTP_ERR_TRUNCATED = -3, /* the peer closed before the response was complete */
};

struct http_response {
    int status;           /* 200..599 (1xx responses are skipped) */
    bool keep_alive;      /* false: close the connection after this response */
    long retry_after_s;   /* -1 when absent or unparsable */
    size_t body_len;      /* bytes of decoded body in the caller's buffer */
    size_t consumed;      /* bytes of input this response took (for pipelining) */
    /* The Idempotency-Key header of the answer, when the service echoes the
     * request's (empty when absent or longer than HTTP_KEY_MAX - 1): a
     * mismatch means the answer is not to this request. */
    char idempotency_key[HTTP_KEY_MAX];
};

/* Parses buf[0..len). eof: the peer has closed (ends close-delimited bodies).
 * now_unix: current time, to turn a Retry-After date into seconds. The body,
 * de-chunked, is written to body[0..body_cap). */
int http_response_parse(const uint8_t *buf, size_t len, bool eof, int64_t now_unix, struct http_response *out,
                        uint8_t *body, size_t body_cap);

#endif
