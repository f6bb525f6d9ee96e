/* test_uplink.c - what the terminal makes of each answer (docs/protocol.md's
 * table), and the Host header it sends. The delivery itself runs against
 * the simulator and nginx in uplink_test.sh and uplink_nginx_test.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "delivery/uplink.h"

static char why[256];

static enum uplink_verdict judge(int status, const char *body)
{
    return uplink_judge(status, (const uint8_t *)body, strlen(body), why, sizeof(why));
}

static const char *service = "{\"error\":\"unknown schema\",\"field\":\"schema\"}";
static const char *nginx_cert = "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n<body>\r\n"
                                "<center><h1>400 Bad Request</h1></center>\r\n<center>The SSL certificate error"
                                "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

static void test_accepted(void **state)
{
    (void)state;
    assert_int_equal(judge(200, "{\"maKetQua\":\"000\"}"), UPLINK_DELIVERED);
    assert_int_equal(judge(201, ""), UPLINK_DELIVERED);
    assert_int_equal(judge(204, ""), UPLINK_DELIVERED);
    assert_int_equal(judge(409, service), UPLINK_ALREADY_HAD);
    assert_int_equal(judge(409, ""), UPLINK_ALREADY_HAD);
}

/* Only the service's own JSON error, with a status about the request's
 * content, refuses the record. */
static void test_record_refused(void **state)
{
    (void)state;
    static const int statuses[] = { 400, 413, 415, 422 };
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        assert_int_equal(judge(statuses[i], service), UPLINK_RECORD_REFUSED);
        assert_non_null(strstr(why, "unknown schema"));
    }
}

/* What a proxy says, or what refuses the device rather than the record:
 * every record stays queued. The 400 of nginx's certificate check is the
 * one that sent whole queues to dead.log. */
static void test_terminal_refused(void **state)
{
    (void)state;
    assert_int_equal(judge(400, nginx_cert), UPLINK_TERMINAL_REFUSED);
    assert_non_null(strstr(why, "certificate"));
    assert_int_equal(judge(400, ""), UPLINK_TERMINAL_REFUSED);
    assert_int_equal(judge(400, "{\"message\":\"no error key\"}"), UPLINK_TERMINAL_REFUSED);
    assert_int_equal(judge(400, "[\"error\"]"), UPLINK_TERMINAL_REFUSED);
    static const int statuses[] = { 301, 302, 307, 308, 401, 403, 404, 405, 407, 410, 421, 426, 451, 495, 496 };
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        assert_int_equal(judge(statuses[i], ""), UPLINK_TERMINAL_REFUSED);
        /* Even in the service's own words: a 403 is about the device. */
        assert_int_equal(judge(statuses[i], service), UPLINK_TERMINAL_REFUSED);
    }
    assert_int_equal(judge(404, ""), UPLINK_TERMINAL_REFUSED);
    assert_non_null(strstr(why, "[uplink] url"));
}

static void test_temporary(void **state)
{
    (void)state;
    static const int statuses[] = { 408, 429, 500, 502, 503, 504, 599 };
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        assert_int_equal(judge(statuses[i], ""), UPLINK_TEMPORARY);
        assert_int_equal(judge(statuses[i], service), UPLINK_TEMPORARY);
    }
}

/* The service's error text reaches the log: cleaned and bounded. */
static void test_reason_is_clean(void **state)
{
    (void)state;
    char body[2048];
    char filler[1500];
    memset(filler, 'x', sizeof(filler) - 1);
    filler[sizeof(filler) - 1] = '\0';
    snprintf(body, sizeof(body), "{\"error\":\"bad\\n<0>PWN: forged%s\"}", filler);
    assert_int_equal(judge(422, body), UPLINK_RECORD_REFUSED);
    assert_null(strchr(why, '\n'));
    assert_non_null(strstr(why, "bad\\x0a<0>PWN"));
    assert_true(strlen(why) < sizeof(why));
}

static void test_host_header(void **state)
{
    (void)state;
    char h[300];
    uplink_host_header("his.example.vn", "443", h, sizeof(h));
    assert_string_equal(h, "his.example.vn");
    uplink_host_header("his.example.vn", "8443", h, sizeof(h));
    assert_string_equal(h, "his.example.vn:8443");
    uplink_host_header("::1", "8443", h, sizeof(h));
    assert_string_equal(h, "[::1]:8443");
    uplink_host_header("fe80::1", "443", h, sizeof(h));
    assert_string_equal(h, "[fe80::1]");
}

static void test_url_ports(void **state)
{
    (void)state;
    char host[64], port[16], path[64], err[128];
    assert_int_equal(uplink_parse_url("https://[::1]:8443/api", host, sizeof(host), port, sizeof(port), path,
                                      sizeof(path), err, sizeof(err)), 0);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "8443");
    static const char *const bad[] = { "https://h:0/api", "https://h:65536/api", "https://h:99999999/api",
                                       "https://h:/api", "https://h:8a/api", "http://h/api" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(uplink_parse_url(bad[i], host, sizeof(host), port, sizeof(port), path, sizeof(path), err,
                                          sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),        cmocka_unit_test(test_record_refused),
        cmocka_unit_test(test_terminal_refused), cmocka_unit_test(test_temporary),
        cmocka_unit_test(test_reason_is_clean), cmocka_unit_test(test_host_header),
        cmocka_unit_test(test_url_ports),
    };
    return cmocka_run_group_tests_name("uplink", tests, NULL, NULL);
}
