/* test_checkin.c - the record sent to the hospital, the uplink URL and the
 * [uplink] configuration checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "config/config.h"
#include "delivery/checkin.h"
#include "delivery/uplink.h"

static struct cccd_record sample(void)
{
    struct cccd_record r;
    memset(&r, 0, sizeof(r));
    strcpy(r.id_number, "079090001234");
    strcpy(r.old_id_number, "025123456");
    strcpy(r.full_name, "Ngô Bảo Châu");
    r.date_of_birth = (struct cccd_date){ 1990, 6, 28 };
    r.sex = CCCD_MALE;
    strcpy(r.address, "Số 12 Hoàng Hoa Thám, Hà Nội");
    r.issue_date = (struct cccd_date){ 2021, 6, 15 };
    return r;
}

static void test_body_default_fields(void **state)
{
    (void)state;
    struct cccd_record r = sample();
    struct checkin_meta meta = { "desk-01", CHECKIN_DEFAULT_FIELDS, "card" };
    char body[2048], key[160], err[128];
    /* 2026-11-27 09:11:31 UTC is 16:11:31 in Vietnam. */
    long n = checkin_build(&r, &meta, 1795770691, false, body, sizeof(body), key, sizeof(key), err, sizeof(err));
    assert_true(n > 0);
    json_t *o = json_loads(body, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "schema")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "idempotency_key")), key);
    assert_int_equal(strlen(key), strlen("desk-01-") + 32);
    assert_memory_equal(key, "desk-01-", 8);
    assert_int_equal(strspn(key + 8, "0123456789abcdef"), 32);
    assert_string_equal(json_string_value(json_object_get(o, "scan_time")), "2026-11-27T16:11:31+07:00");
    assert_true(json_is_false(json_object_get(o, "clock_synced")));
    assert_string_equal(json_string_value(json_object_get(o, "source")), "card");
    assert_string_equal(json_string_value(json_object_get(o, "card_type")), "cccd-2021");
    assert_string_equal(json_string_value(json_object_get(o, "id_number")), "079090001234");
    assert_string_equal(json_string_value(json_object_get(o, "full_name")), "Ngô Bảo Châu");
    assert_string_equal(json_string_value(json_object_get(o, "date_of_birth")), "1990-06-28");
    /* Data minimisation: nothing else. */
    assert_null(json_object_get(o, "address"));
    assert_null(json_object_get(o, "sex"));
    assert_null(json_object_get(o, "old_id_number"));
    assert_null(strstr(body, "Hoàng Hoa Thám"));
    assert_int_equal(json_object_size(o), 10);
    json_decref(o);
}

static void test_body_all_fields_and_fresh_keys(void **state)
{
    (void)state;
    struct cccd_record r = sample();
    unsigned mask;
    char err[200], body[2048], key[160], key2[160];
    assert_int_equal(checkin_fields_parse("id_number, old_id_number,full_name,date_of_birth,sex,address,issue_date",
                                          &mask, err, sizeof(err)),
                     0);
    struct checkin_meta meta = { "desk-01", mask, "vneid-screen" };
    assert_true(checkin_build(&r, &meta, 1795770691, true, body, sizeof(body), key, sizeof(key), err, sizeof(err)) > 0);
    json_t *o = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "address")), "Số 12 Hoàng Hoa Thám, Hà Nội");
    assert_string_equal(json_string_value(json_object_get(o, "sex")), "male");
    assert_string_equal(json_string_value(json_object_get(o, "old_id_number")), "025123456");
    assert_string_equal(json_string_value(json_object_get(o, "issue_date")), "2021-06-15");
    assert_string_equal(json_string_value(json_object_get(o, "source")), "vneid-screen");
    assert_true(json_is_true(json_object_get(o, "clock_synced")));
    json_decref(o);
    assert_true(checkin_build(&r, &meta, 1795770691, true, body, sizeof(body), key2, sizeof(key2), err, sizeof(err)) > 0);
    assert_string_not_equal(key, key2); /* every scan its own key */
    assert_int_equal(checkin_build(&r, &meta, 1795770691, true, body, 40, key, sizeof(key), err, sizeof(err)), -1);
}

static void test_fields_parse_errors(void **state)
{
    (void)state;
    unsigned mask;
    char err[200];
    assert_int_equal(checkin_fields_parse("id_number,birthday", &mask, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "birthday"));
    assert_int_equal(checkin_fields_parse("", &mask, err, sizeof(err)), -1);
    assert_int_equal(checkin_fields_parse("id_number", &mask, err, sizeof(err)), 0);
    assert_int_equal(mask, CHECKIN_ID_NUMBER);
}

static void test_scan_time_roundtrip(void **state)
{
    (void)state;
    assert_int_equal(checkin_parse_scan_time("2026-11-27T16:11:31+07:00"), 1795770691);
    assert_int_equal(checkin_parse_scan_time("2026-11-27T16:11:31Z"), -1);
    assert_int_equal(checkin_parse_scan_time("yesterday"), -1);
    assert_int_equal(checkin_parse_scan_time(NULL), -1);
}

static void test_url(void **state)
{
    (void)state;
    char host[64], port[8], path[64], err[200];
    assert_int_equal(uplink_parse_url("https://his.example.vn/api/checkin", host, sizeof(host), port, sizeof(port),
                                      path, sizeof(path), err, sizeof(err)),
                     0);
    assert_string_equal(host, "his.example.vn");
    assert_string_equal(port, "443");
    assert_string_equal(path, "/api/checkin");
    assert_int_equal(uplink_parse_url("https://localhost:8443", host, sizeof(host), port, sizeof(port), path,
                                      sizeof(path), err, sizeof(err)),
                     0);
    assert_string_equal(port, "8443");
    assert_string_equal(path, "/");
    assert_int_equal(uplink_parse_url("https://[::1]:9443/x", host, sizeof(host), port, sizeof(port), path,
                                      sizeof(path), err, sizeof(err)),
                     0);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "9443");
    assert_int_equal(uplink_parse_url("http://his.example.vn/", host, sizeof(host), port, sizeof(port), path,
                                      sizeof(path), err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "https://"));
    assert_int_equal(uplink_parse_url("https://:443/", host, sizeof(host), port, sizeof(port), path, sizeof(path),
                                      err, sizeof(err)),
                     -1);
    assert_int_equal(uplink_parse_url("https://h:44x3/", host, sizeof(host), port, sizeof(port), path, sizeof(path),
                                      err, sizeof(err)),
                     -1);
}

static void expect_config_error(const char *text, const char *must)
{
    static struct config cfg;
    char err[512];
    assert_true(config_parse_string(text, "t.conf", &cfg, err, sizeof(err)) < 0);
    if (!strstr(err, must))
        fail_msg("'%s' lacks '%s'", err, must);
}

static void test_uplink_config(void **state)
{
    (void)state;
    static struct config cfg;
    char err[512];
    assert_int_equal(config_parse_string("[uplink]\nurl = https://h/api\nca = /etc/ca.pem\n"
                                         "pin_sha256 = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
                                         "fields = id_number,sex\n",
                                         "t.conf", &cfg, err, sizeof(err)),
                     0);
    assert_true(cfg.has_pin);
    assert_int_equal(cfg.pin[1], 0x11);
    assert_int_equal(cfg.uplink_field_mask, CHECKIN_ID_NUMBER | CHECKIN_SEX);
    expect_config_error("[uplink]\nurl = http://h/api\nca = /ca\n", "https://");
    expect_config_error("[uplink]\nurl = https://h/api\n", "ca is empty");
    expect_config_error("[uplink]\nurl = https://h/api\nca = /ca\ncert = /c\n", "cert and key go together");
    expect_config_error("[uplink]\nurl = https://h/api\nca = /ca\npin_sha256 = abc\n", "64 hex digits");
    expect_config_error("[uplink]\nurl = https://h/api\nca = /ca\nfields = id_number,photo\n", "photo");
    expect_config_error("[spool]\nmax_mb = 0\n", "max_mb");
    /* No url: no delivery, nothing else required. */
    assert_int_equal(config_parse_string("[uplink]\nfields = id_number\n", "t.conf", &cfg, err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_default_fields), cmocka_unit_test(test_body_all_fields_and_fresh_keys),
        cmocka_unit_test(test_fields_parse_errors), cmocka_unit_test(test_scan_time_roundtrip),
        cmocka_unit_test(test_url),                 cmocka_unit_test(test_uplink_config),
    };
    return cmocka_run_group_tests_name("checkin", tests, NULL, NULL);
}
