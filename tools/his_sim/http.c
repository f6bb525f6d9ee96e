/* http.c - HTTP/1.1 on a connection: reading and checking one request
 * (head, then a Content-Length body) and sending one answer, with the
 * framings the fault modes ask for (length, chunked, until close). What a
 * request means is decided in conn.c and checkin.c. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sim.h"

/* ---- HTTP requests ------------------------------------------------------------------ */

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
int read_request(struct conn *c, struct request *q, int *io)
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

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
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
    default: return status < 400 ? "Redirection" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* nginx's status lines (ngx_http_header_filter_module.c) where they differ
 * from reason_phrase's or name a status it has none for. */
static const char *nginx_reason(int status)
{
    switch (status) {
    case 302: return "Moved Temporarily";
    case 402: return "Payment Required";
    case 405: return "Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Time-out";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Large";
    case 416: return "Requested Range Not Satisfiable";
    case 421: return "Misdirected Request";
    case 503: return "Service Temporarily Unavailable";
    case 504: return "Gateway Time-out";
    case 507: return "Insufficient Storage";
    default: return reason_phrase(status);
    }
}

/* nginx's own page (ngx_http_special_response.c, server_tokens off): CRLF
 * line ends, the tail naming nginx. line, when given, is a second centred line. */
static char *nginx_page(const char *title, const char *h1, const char *line)
{
    static const char fmt[] = "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n"
                              "<center><h1>%s</h1></center>\r\n%s%s%s"
                              "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    const char *pre = line ? "<center>" : "", *post = line ? "</center>\r\n" : "";
    int n = snprintf(NULL, 0, fmt, title, h1, pre, line ? line : "", post);
    char *page = n < 0 ? NULL : malloc((size_t)n + 1);
    if (page)
        snprintf(page, (size_t)n + 1, fmt, title, h1, pre, line ? line : "", post);
    return page;
}

/* What nginx answers by itself with this status (proxy-NNN): its page,
 * titled as nginx titles it (302 and 401 differ from the status line). */
void answer_nginx(struct answer *a, int status)
{
    const char *reason = nginx_reason(status);
    const char *title = status == 302 ? "Found" : status == 401 ? "Authorization Required" : reason;
    char t[96];
    snprintf(t, sizeof t, "%d %s", status, title);
    a->status = status;
    a->reason = reason;
    a->nginx = true;
    a->body = nginx_page(t, t, NULL);
    if (status < 400)
        a->location = REDIRECT_LOCATION;
}

/* What nginx answers, and then closes, with ssl_verify_client on when the
 * client certificate failed verification (its error 495, sent as 400). */
void answer_nginx_cert_error(struct answer *a)
{
    a->status = 400;
    a->reason = "Bad Request";
    a->nginx = true;
    a->body = nginx_page("400 The SSL certificate error", "400 Bad Request", "The SSL certificate error");
    a->close = true;
}

void answer_json(struct answer *a, int status, json_t *obj)
{
    a->status = status;
    a->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
}

void answer_error(struct answer *a, int status, const char *error, const char *field)
{
    json_t *o = json_pack("{s:s}", "error", error);
    if (o && field)
        json_object_set_new(o, "field", json_string(field));
    answer_json(a, status, o);
}

/* Appends a formatted piece to head[0..size), at *len. False when it does
 * not fit: the head is then unusable, and *len is left where it was so no
 * later size - *len can wrap. */
__attribute__((format(printf, 4, 5)))
static bool head_add(char *head, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(head + *len, size - *len, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= size - *len)
        return false;
    *len += (size_t)r;
    return true;
}

/* One byte a TLS record, --trickle-ms apart, until all are sent or the
 * client has gone. */
static int trickle(struct conn *c, const unsigned char *msg, size_t n)
{
    int ms = c->sim->opt.trickle_ms;
    size_t sent = 0;
    int r = 1;
    while (sent < n) {
        r = conn_write_all(c, msg + sent, 1);
        if (r <= 0)
            break;
        if (++sent < n && (r = conn_pause(c, ms)) <= 0)
            break;
    }
    say("conn %u: %zu of %zu bytes sent, one every %d ms (trickle)%s%s", c->id, sent, n, ms,
        r > 0 ? "" : ": ", r > 0 ? "" : io_name(r));
    return r;
}

/* Sends the answer, all of it, only the first half of the bytes (the reset
 * fault; the caller then resets the connection), or trickled. */
int send_answer(struct conn *c, const struct answer *a, enum framing fr, enum delivery how)
{
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    /* A 304 never has a body (RFC 9110, 15.4.5): a client reads none, so
     * bytes sent after its head would be taken for the next answer. */
    bool bodyless = a->status == 304;
    const char *body = a->body && !bodyless ? a->body : "";
    size_t blen = strlen(body);
    size_t olen = a->overrun && fr == FRAME_LENGTH ? strlen(a->overrun) : 0;

    char head[1024];
    size_t hl = 0;
    bool fits = head_add(head, sizeof head, &hl,
                         "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\nContent-Type: %s\r\n",
                         a->status, a->reason ? a->reason : reason_phrase(a->status),
                         a->nginx ? "nginx" : "his_sim", date,
                         a->nginx ? "text/html" : "application/json; charset=utf-8");
    if (fits && !bodyless && fr == FRAME_LENGTH)
        fits = head_add(head, sizeof head, &hl, "Content-Length: %zu\r\n", blen);
    else if (fits && !bodyless && fr == FRAME_CHUNKED)
        fits = head_add(head, sizeof head, &hl, "Transfer-Encoding: chunked\r\n");
    if (fits && a->retry_after)
        fits = head_add(head, sizeof head, &hl, "Retry-After: %s\r\n", a->retry_after);
    if (fits && a->allow)
        fits = head_add(head, sizeof head, &hl, "Allow: %s\r\n", a->allow);
    if (fits && a->location)
        fits = head_add(head, sizeof head, &hl, "Location: %s\r\n", a->location);
    if (fits && a->key[0] && !a->nginx) /* the service's own answers name the record they answer */
        fits = head_add(head, sizeof head, &hl, "Idempotency-Key: %s\r\n", a->key);
    if (fits)
        fits = head_add(head, sizeof head, &hl, "Connection: %s\r\n\r\n",
                        a->close || fr == FRAME_EOF ? "close" : "keep-alive");
    if (!fits) {
        say("conn %u: the answer's head does not fit in %zu bytes, not sent", c->id, sizeof head);
        return IO_ERROR;
    }

    /* Chunked: 16-byte chunks, sizes in lower-case hex, no trailers. */
    size_t cap = hl + blen + olen + (fr == FRAME_CHUNKED ? (blen / 16 + 2) * 8 + 8 : 0);
    unsigned char *msg = malloc(cap);
    if (!msg)
        return IO_ERROR;
    size_t n = 0;
    memcpy(msg, head, hl);
    n = hl;
    if (fr == FRAME_CHUNKED && !bodyless) {
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
        if (olen) { /* in the same write, so in the same TLS record as the body */
            memcpy(msg + n, a->overrun, olen);
            n += olen;
        }
    }
    int r = how == SEND_TRICKLE ? trickle(c, msg, n)
                                : conn_write_all(c, msg, how == SEND_HALF ? (n / 2 ? n / 2 : 1) : n);
    free(msg);
    return r;
}

/* continue-flood: an interim 100 Continue at once and then every
 * --flood-ms, never a final answer, until the client leaves or the sim stops. */
void send_continue_flood(struct conn *c)
{
    static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
    unsigned long sent = 0;
    int r;
    while ((r = conn_write_all(c, (const unsigned char *)interim, sizeof interim - 1)) > 0) {
        sent++;
        if ((r = conn_pause(c, c->sim->opt.flood_ms)) <= 0)
            break;
    }
    say("conn %u: %lu \"100 Continue\" sent, no final answer (continue-flood): %s", c->id, sent, io_name(r));
}

/* header-trickle: a status line, then a harmless header line every
 * --header-ms, and never the blank line that would end the head. */
void send_header_trickle(struct conn *c)
{
    static const char status[] = "HTTP/1.1 200 OK\r\n";
    unsigned long lines = 0;
    int r = conn_write_all(c, (const unsigned char *)status, sizeof status - 1);
    while (r > 0 && (r = conn_pause(c, c->sim->opt.header_ms)) > 0) {
        char line[40];
        int n = snprintf(line, sizeof line, "X-Wait: %lu\r\n", lines + 1);
        if ((r = conn_write_all(c, (const unsigned char *)line, (size_t)n)) > 0)
            lines++;
    }
    say("conn %u: status line and %lu header lines sent, the head never ends (header-trickle): %s", c->id, lines,
        io_name(r));
}

void count_status(struct sim *s, int status)
{
    pthread_mutex_lock(&s->lock);
    if (status >= 100 && status < 600)
        s->st.status[status]++;
    pthread_mutex_unlock(&s->lock);
}
