/* http_response.c - a strict, bounded HTTP/1.x response parser. */
#include "delivery/http_response.h"

#include "base/hex.h"
#include <string.h>
#include <strings.h>
#include <time.h>

struct head {
    int status;
    int minor;   /* HTTP/1.minor */
    long long content_length; /* -1: none */
    bool chunked, conn_close, conn_keep_alive;
    long retry_after_s;
    char key[HTTP_KEY_MAX];
};

static const uint8_t *find_crlfcrlf(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return p + i;
    return NULL;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* "HTTP/1.x 200 reason" */
static bool parse_status_line(const uint8_t *p, size_t len, struct head *h)
{
    if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || !is_digit(p[7]) || p[8] != ' ' || !is_digit(p[9]) ||
        !is_digit(p[10]) || !is_digit(p[11]) || (len > 12 && p[12] != ' '))
        return false;
    h->minor = p[7] - '0';
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    return h->status >= 100 && h->status <= 599;
}

static bool value_is(const uint8_t *v, size_t n, const char *word)
{
    return n == strlen(word) && strncasecmp((const char *)v, word, n) == 0;
}

/* Does a comma-separated token list contain word? */
static bool list_has(const uint8_t *v, size_t n, const char *word)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (value_is(v + start, end - start, word))
            return true;
    }
    return false;
}

static int month_index(const uint8_t *m)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (memcmp(m, names + 3 * i, 3) == 0)
            return i;
    return -1;
}

static int two_digits(const uint8_t *p)
{
    return is_digit(p[0]) && is_digit(p[1]) ? (p[0] - '0') * 10 + (p[1] - '0') : -1;
}

/* IMF-fixdate, the one form servers must send: "Sun, 06 Nov 1994 08:49:37 GMT". */
static long parse_http_date(const uint8_t *v, size_t n, int64_t now)
{
    if (n != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' || v[19] != ':' ||
        v[22] != ':' || memcmp(v + 25, " GMT", 4) != 0)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int day = two_digits(v + 5), mon = month_index(v + 8), y1 = two_digits(v + 12), y2 = two_digits(v + 14);
    int hh = two_digits(v + 17), mm = two_digits(v + 20), ss = two_digits(v + 23);
    if (day < 1 || day > 31 || mon < 0 || y1 < 0 || y2 < 0 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 ||
        ss > 60)
        return -1;
    tm.tm_mday = day;
    tm.tm_mon = mon;
    tm.tm_year = y1 * 100 + y2 - 1900;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    int64_t when = (int64_t)timegm(&tm);
    return when <= now ? 0 : (long)(when - now > 86400 ? 86400 : when - now);
}

static long parse_retry_after(const uint8_t *v, size_t n, int64_t now)
{
    if (n == 0)
        return -1;
    long s = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(v[i]))
            return parse_http_date(v, n, now);
        if (s < 86400)
            s = s * 10 + (v[i] - '0');
    }
    return s > 86400 ? 86400 : s; /* a day at most: a broken server must not park the queue */
}

static bool parse_content_length(const uint8_t *v, size_t n, long long *out)
{
    if (n == 0 || n > 12)
        return false;
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(v[i]))
            return false;
        x = x * 10 + (v[i] - '0');
    }
    if (*out >= 0 && *out != x)
        return false; /* two different lengths: a smuggling attempt or a broken proxy */
    *out = x;
    return true;
}

static bool token_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool parse_header(const uint8_t *p, size_t n, int64_t now, struct head *h)
{
    size_t colon = 0;
    while (colon < n && token_char(p[colon]))
        colon++;
    if (colon == 0 || colon >= n || p[colon] != ':')
        return false;
    const uint8_t *v = p + colon + 1;
    size_t vn = n - colon - 1;
    while (vn && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    for (size_t i = 0; i < vn; i++)
        if (v[i] < 0x20 && v[i] != '\t')
            return false;
    if (value_is(p, colon, "content-length"))
        return parse_content_length(v, vn, &h->content_length);
    if (value_is(p, colon, "transfer-encoding")) {
        if (!value_is(v, vn, "chunked"))
            return false; /* we ask for no compression; anything else is unreadable */
        h->chunked = true;
    } else if (value_is(p, colon, "connection")) {
        h->conn_close |= list_has(v, vn, "close");
        h->conn_keep_alive |= list_has(v, vn, "keep-alive");
    } else if (value_is(p, colon, "retry-after")) {
        h->retry_after_s = parse_retry_after(v, vn, now);
    } else if (value_is(p, colon, "idempotency-key") && vn < sizeof(h->key)) {
        memcpy(h->key, v, vn);
        h->key[vn] = '\0';
    }
    return true;
}

static bool parse_head(const uint8_t *p, size_t len, int64_t now, struct head *h)
{
    memset(h, 0, sizeof(*h));
    h->content_length = -1;
    h->retry_after_s = -1;
    const uint8_t *end = p + len;
    const uint8_t *eol = memchr(p, '\r', len);
    if (!parse_status_line(p, eol ? (size_t)(eol - p) : len, h))
        return false;
    if (!eol)
        return true; /* a status line and no header fields */
    if (eol + 1 >= end || eol[1] != '\n')
        return false;
    for (const uint8_t *line = eol + 2; line < end;) {
        const uint8_t *cr = memchr(line, '\r', (size_t)(end - line));
        if (!cr)
            cr = end;
        if ((cr < end && cr[1] != '\n') || !parse_header(line, (size_t)(cr - line), now, h))
            return false;
        line = cr + 2;
    }
    return true;
}

/* Decodes a chunked body from p[0..len); sets *used to the bytes it took. */
static int dechunk(const uint8_t *p, size_t len, uint8_t *body, size_t cap, size_t *body_len, size_t *used)
{
    size_t i = 0, out = 0;
    for (;;) {
        size_t size = 0, digits = 0;
        while (i < len && hex_value(p[i]) >= 0) {
            if (++digits > 8)
                return HTTP_ERR_TOO_BIG;
            size = size * 16 + (size_t)hex_value(p[i++]);
        }
        if (i >= len)
            return HTTP_NEED_MORE;
        if (digits == 0)
            return HTTP_ERR_SYNTAX;
        while (i < len && p[i] != '\r' && p[i] != '\n') /* chunk extensions: ignored */
            i++;
        if (i + 1 >= len)
            return HTTP_NEED_MORE;
        if (p[i] != '\r' || p[i + 1] != '\n')
            return HTTP_ERR_SYNTAX;
        i += 2;
        if (size == 0)
            break;
        if (size > cap - out)
            return HTTP_ERR_TOO_BIG;
        if (len - i < size + 2)
            return HTTP_NEED_MORE;
        memcpy(body + out, p + i, size);
        out += size;
        i += size;
        if (p[i] != '\r' || p[i + 1] != '\n')
            return HTTP_ERR_SYNTAX;
        i += 2;
    }
    /* Trailer fields, then an empty line. */
    for (;;) {
        const uint8_t *cr = memchr(p + i, '\r', len - i);
        if (!cr || (size_t)(cr - p) + 1 >= len)
            return len - i > HTTP_HEADER_MAX ? HTTP_ERR_TOO_BIG : HTTP_NEED_MORE;
        if (cr[1] != '\n')
            return HTTP_ERR_SYNTAX;
        size_t line = (size_t)(cr - (p + i));
        i += line + 2;
        if (line == 0)
            break;
    }
    *body_len = out;
    *used = i;
    return HTTP_DONE;
}

/* Finds the next complete head, skipping interim 1xx responses. */
static int next_head(const uint8_t *buf, size_t len, bool eof, int64_t now, struct head *h, size_t *body_start)
{
    size_t off = 0;
    for (;;) {
        size_t window = len - off > HTTP_HEADER_MAX + 4 ? HTTP_HEADER_MAX + 4 : len - off;
        const uint8_t *end = find_crlfcrlf(buf + off, window);
        if (!end) {
            if (len - off > HTTP_HEADER_MAX)
                return HTTP_ERR_TOO_BIG;
            return eof ? HTTP_ERR_TRUNCATED : HTTP_NEED_MORE;
        }
        if (!parse_head(buf + off, (size_t)(end - (buf + off)), now, h))
            return HTTP_ERR_SYNTAX;
        off = (size_t)(end - buf) + 4;
        if (h->status >= 200) {
            *body_start = off;
            return HTTP_DONE;
        }
    }
}

int http_response_parse(const uint8_t *buf, size_t len, bool eof, int64_t now_unix, struct http_response *out,
                        uint8_t *body, size_t body_cap)
{
    memset(out, 0, sizeof(*out));
    struct head h;
    size_t start;
    int rc = next_head(buf, len, eof, now_unix, &h, &start);
    if (rc != HTTP_DONE)
        return rc;
    out->status = h.status;
    out->retry_after_s = h.retry_after_s;
    memcpy(out->idempotency_key, h.key, sizeof(h.key));
    out->keep_alive = h.minor >= 1 ? !h.conn_close : (h.conn_keep_alive && !h.conn_close);
    const uint8_t *p = buf + start;
    size_t avail = len - start, used = 0;
    if (h.status == 204 || h.status == 304) {
        out->body_len = 0;
    } else if (h.chunked) {
        rc = dechunk(p, avail, body, body_cap, &out->body_len, &used);
        if (rc == HTTP_NEED_MORE && eof)
            return HTTP_ERR_TRUNCATED;
        if (rc != HTTP_DONE)
            return rc;
    } else if (h.content_length >= 0) {
        if ((unsigned long long)h.content_length > body_cap)
            return HTTP_ERR_TOO_BIG;
        if (avail < (size_t)h.content_length)
            return eof ? HTTP_ERR_TRUNCATED : HTTP_NEED_MORE;
        used = (size_t)h.content_length;
        memcpy(body, p, used);
        out->body_len = used;
    } else {
        /* No framing: the body ends when the server closes. */
        if (avail > body_cap)
            return HTTP_ERR_TOO_BIG;
        if (!eof)
            return HTTP_NEED_MORE;
        memcpy(body, p, avail);
        out->body_len = used = avail;
        out->keep_alive = false;
    }
    out->consumed = start + used;
    return HTTP_DONE;
}
