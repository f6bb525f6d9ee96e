/* test_http_response.c - the service's answers, well-formed and not. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "delivery/http_response.h"

#define NOW 1764230400 /* 2025-11-27 08:00:00 UTC */

static uint8_t body[256];
static struct http_response r;

static int parse_eof(const char *s, bool eof)
{
    memset(body, 0, sizeof(body));
    return http_response_parse((const uint8_t *)s, strlen(s), eof, NOW, &r, body, sizeof(body));
}

static int parse(const char *s)
{
    return parse_eof(s, false);
}

static void test_content_length(void **state)
{
    (void)state;
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n"
                     "{\"maKetQua\":\"000\"}";
    assert_int_equal(parse(ok), HTTP_DONE);
    assert_int_equal(r.status, 200);
    assert_true(r.keep_alive);
    assert_int_equal(r.retry_after_s, -1);
    assert_int_equal(r.body_len, 18);
    assert_memory_equal(body, "{\"maKetQua\":\"000\"}", 18);
    assert_int_equal(r.consumed, strlen(ok));
    /* Every prefix needs more; never a wrong answer. */
    for (size_t n = 0; n < strlen(ok); n++) {
        char cut[256];
        memcpy(cut, ok, n);
        cut[n] = '\0';
        assert_int_equal(parse(cut), HTTP_NEED_MORE);
        assert_int_equal(parse_eof(cut, true), HTTP_ERR_TRUNCATED);
    }
}

static void test_pipelined_second_response_left(void **state)
{
    (void)state;
    const char *first = "HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\n\r\n";
    char two[256];
    snprintf(two, sizeof(two), "%sHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", first);
    assert_int_equal(parse(two), HTTP_DONE);
    assert_int_equal(r.status, 409);
    assert_int_equal(r.consumed, strlen(first));
}

static void test_chunked(void **state)
{
    (void)state;
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n"),
                     HTTP_DONE);
    assert_int_equal(r.body_len, 11);
    assert_memory_equal(body, "hello world", 11);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"), HTTP_NEED_MORE);
    assert_int_equal(parse_eof("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", true),
                     HTTP_ERR_TRUNCATED);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), HTTP_ERR_SYNTAX);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"),
                     HTTP_ERR_SYNTAX);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFF\r\n"), HTTP_ERR_TOO_BIG);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n"), HTTP_ERR_TOO_BIG);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), HTTP_ERR_SYNTAX);
}

static void test_close_delimited_and_connection(void **state)
{
    (void)state;
    assert_int_equal(parse("HTTP/1.1 200 OK\r\n\r\npartial"), HTTP_NEED_MORE);
    assert_int_equal(parse_eof("HTTP/1.1 200 OK\r\n\r\nthe end", true), HTTP_DONE);
    assert_int_equal(r.body_len, 7);
    assert_false(r.keep_alive);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n"), HTTP_DONE);
    assert_false(r.keep_alive);
    assert_int_equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), HTTP_DONE);
    assert_false(r.keep_alive);
    assert_int_equal(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"), HTTP_DONE);
    assert_true(r.keep_alive);
    assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n"), HTTP_DONE);
    assert_int_equal(r.body_len, 0);
    assert_true(r.keep_alive);
}

static void test_interim_and_statuses(void **state)
{
    (void)state;
    assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
                     HTTP_DONE);
    assert_int_equal(r.status, 201);
    assert_int_equal(parse("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n"),
                     HTTP_DONE);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.retry_after_s, 120);
    /* NOW + 90 s as an HTTP date. */
    assert_int_equal(parse("HTTP/1.1 503 x\r\nRetry-After: Thu, 27 Nov 2025 08:01:30 GMT\r\nContent-Length: 0\r\n\r\n"),
                     HTTP_DONE);
    assert_int_equal(r.retry_after_s, 90);
    assert_int_equal(parse("HTTP/1.1 503 x\r\nRetry-After: 99999999\r\nContent-Length: 0\r\n\r\n"), HTTP_DONE);
    assert_int_equal(r.retry_after_s, 86400);
    assert_int_equal(parse("HTTP/1.1 503 x\r\nRetry-After: soon\r\nContent-Length: 0\r\n\r\n"), HTTP_DONE);
    assert_int_equal(r.retry_after_s, -1);
    assert_int_equal(parse("HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n"), HTTP_DONE); /* no reason phrase */
    assert_int_equal(r.status, 500);
}

static void test_malformed(void **state)
{
    (void)state;
    assert_int_equal(parse("HTTP/2 200 OK\r\n\r\n"), HTTP_ERR_SYNTAX);
    assert_int_equal(parse("HTTP/1.1 20 OK\r\n\r\n"), HTTP_ERR_SYNTAX);
    assert_int_equal(parse("HTTP/1.1 700 Odd\r\n\r\n"), HTTP_ERR_SYNTAX);
    assert_int_equal(parse("SSH-2.0-OpenSSH\r\n\r\n"), HTTP_ERR_SYNTAX);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n"), HTTP_ERR_SYNTAX);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\n folded: line\r\n\r\n"), HTTP_ERR_SYNTAX);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), HTTP_ERR_SYNTAX);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), HTTP_ERR_SYNTAX);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 999999\r\n\r\n"), HTTP_ERR_TOO_BIG);
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nX: a\001b\r\n\r\n"), HTTP_ERR_SYNTAX);
    static char huge[HTTP_HEADER_MAX + 200];
    strcpy(huge, "HTTP/1.1 200 OK\r\nX: ");
    memset(huge + strlen(huge), 'a', HTTP_HEADER_MAX);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(parse(huge), HTTP_ERR_TOO_BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),       cmocka_unit_test(test_pipelined_second_response_left),
        cmocka_unit_test(test_chunked),              cmocka_unit_test(test_close_delimited_and_connection),
        cmocka_unit_test(test_interim_and_statuses), cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests_name("http_response", tests, NULL, NULL);
}
