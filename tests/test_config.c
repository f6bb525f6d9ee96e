/* test_config.c - defaults, the example file, and every way a config is wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <syslog.h>

#include "config/config.h"

static struct config cfg;
static char err[512];

static int parse(const char *text)
{
    err[0] = '\0';
    return config_parse_string(text, "test.conf", &cfg, err, sizeof(err));
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(parse("[log]\nlevel = info\n"), 0); /* one key: everything else is a default */
    assert_string_equal(cfg.scan.camera.source, "v4l2:/dev/video0");
    assert_int_equal(cfg.scan.camera.width, 1280);
    assert_int_equal(cfg.scan.camera.height, 720);
    assert_int_equal(cfg.scan.camera.fps, 15);
    assert_int_equal(cfg.scan.camera.focus, -1);
    assert_string_equal(cfg.gpio_backend, "null");
    assert_false(cfg.gpio.out[GPIO_GREEN].used);
    assert_true(cfg.gpio.button.active_low);
    assert_int_equal(cfg.gpio.debounce_ms, 30);
    assert_int_equal(cfg.scan.duplicate_window_s, 60);
    assert_int_equal(cfg.scan.decode_threads, 0);
    assert_int_equal(cfg.scan.decode_budget_ms, 150);
    assert_int_equal(cfg.log_level, LOG_INFO);
    assert_true(cfg.device_id[0] != '\0');
}

/* The commented example in board/ is the documentation: it must load, and
 * give exactly the defaults. */
static void test_example_file_loads(void **state)
{
    (void)state;
    struct config defaults;
    config_defaults(&defaults);
    assert_int_equal(config_load("board/cccd-reader.conf", &cfg, err, sizeof(err)), 0);
    assert_string_equal(cfg.camera_source, defaults.camera_source);
    assert_int_equal(cfg.scan.camera.width, defaults.scan.camera.width);
    assert_int_equal(cfg.scan.stall_timeout_ms, defaults.scan.stall_timeout_ms);
    assert_int_equal(cfg.gpio.button.active_low, defaults.gpio.button.active_low);
    assert_int_equal(cfg.scan.duplicate_window_s, defaults.scan.duplicate_window_s);
    assert_int_equal(cfg.log_level, defaults.log_level);
}

static void test_values_and_lines(void **state)
{
    (void)state;
    assert_int_equal(parse("[device]\nid = desk-07\n"
                           "[camera]\nsource = files:/tmp/x ; replay\nwidth = 640\nheight=480\nfps = 5\nloop = no\n"
                           "[gpio]\nbackend = gpiod\nchip = pinctrl-rp1\ngreen = GPIO17\nred = 27\n"
                           "buzzer_active_low = yes\nbutton = GPIO24\nbutton_action = mute\n"
                           "[scan]\nduplicate_window_s = 0\ndecode_threads = 3\ndecode_budget_ms = 80\n"
                           "[log]\nlevel = debug\n"),
                     0);
    assert_string_equal(cfg.device_id, "desk-07");
    assert_string_equal(cfg.scan.camera.source, "files:/tmp/x");
    assert_int_equal(cfg.scan.camera.width, 640);
    assert_int_equal(cfg.scan.camera.fps, 5);
    assert_false(cfg.scan.camera.loop);
    assert_true(cfg.gpio.out[GPIO_GREEN].used);
    assert_string_equal(cfg.gpio.out[GPIO_GREEN].line, "GPIO17");
    assert_string_equal(cfg.gpio.out[GPIO_GREEN].chip, "pinctrl-rp1");
    assert_string_equal(cfg.gpio.out[GPIO_RED].line, "27");
    assert_false(cfg.gpio.out[GPIO_AMBER].used);
    assert_true(cfg.gpio.out[GPIO_BUZZER].active_low);
    assert_string_equal(cfg.gpio.button.chip, "pinctrl-rp1");
    assert_int_equal(cfg.button_action, BUTTON_MUTE);
    assert_int_equal(cfg.scan.duplicate_window_s, 0);
    assert_int_equal(cfg.scan.decode_threads, 3);
    assert_int_equal(cfg.scan.decode_budget_ms, 80);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
}

/* Each bad input: the status and the pieces the message must name. */
static void expect_error(const char *text, int status, const char *must1, const char *must2)
{
    assert_int_equal(parse(text), status);
    if (!strstr(err, must1) || (must2 && !strstr(err, must2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err, must1, must2 ? must2 : "");
}

static void test_errors_name_file_line_key(void **state)
{
    (void)state;
    expect_error("[camera]\nwidht = 640\n", CONFIG_ERR_SYNTAX, "test.conf:2:", "widht");
    expect_error("[camra]\nwidth = 640\n", CONFIG_ERR_SYNTAX, "test.conf:2:", "[camra]");
    expect_error("[camera]\n\nfps = fast\n", CONFIG_ERR_VALUE, "test.conf:3:", "fps");
    expect_error("[camera]\nfps = 0\n", CONFIG_ERR_VALUE, "from 1 to 120", NULL);
    expect_error("[camera]\nfps = 12x\n", CONFIG_ERR_VALUE, "fps", NULL);
    expect_error("[camera]\nwidth = 99999999999999999999\n", CONFIG_ERR_VALUE, "width", NULL);
    expect_error("[scan]\ndecode_threads = 9\n", CONFIG_ERR_VALUE, "decode_threads", "from 0 to 8");
    expect_error("[scan]\ndecode_threads = -1\n", CONFIG_ERR_VALUE, "decode_threads", NULL);
    expect_error("[scan]\n\ndecode_budget_ms = 5\n", CONFIG_ERR_VALUE, "test.conf:3:", "from 10 to 5000");
    expect_error("[scan]\ndecode_budget_ms = soon\n", CONFIG_ERR_VALUE, "decode_budget_ms", NULL);
    expect_error("[camera]\nloop = maybe\n", CONFIG_ERR_VALUE, "true or false", NULL);
    expect_error("[log]\nlevel = loud\n", CONFIG_ERR_VALUE, "level", "debug");
    expect_error("[gpio]\nbutton_action = dance\n", CONFIG_ERR_VALUE, "repeat or mute", NULL);
    expect_error("just some words\n", CONFIG_ERR_SYNTAX, "test.conf:1:", "key = value");
    expect_error("[camera]\nsource = webcam0\n", CONFIG_ERR_VALUE, "source", "v4l2:");
    expect_error("[gpio]\nbackend = wiringpi\n", CONFIG_ERR_VALUE, "backend", "gpiod");
    expect_error("[camera]\nreopen_min_ms = 5000\nreopen_max_ms = 1000\n", CONFIG_ERR_VALUE, "reopen_min_ms", NULL);
    expect_error("[gpio]\ngreen = 17\n[camera]\nfps = 5\n[gpio]\ngreen = GPIO17\n", CONFIG_ERR_SYNTAX, "test.conf:6:",
                 "[gpio] green is set a second time");
    char longid[200];
    memset(longid, 'x', sizeof(longid));
    snprintf(longid, sizeof(longid), "[device]\nid = %0150d\n", 7);
    expect_error(longid, CONFIG_ERR_VALUE, "id", "shorter");
}

/* What is not a configuration is refused, never started on defaults: an
 * empty file, only comments, text that is not plain (NUL, ESC, binary). */
static void test_not_a_config(void **state)
{
    (void)state;
    expect_error("", CONFIG_ERR_SYNTAX, "test.conf sets nothing", "board/cccd-reader.conf");
    expect_error("; only\n# comments\n\n", CONFIG_ERR_SYNTAX, "sets nothing", NULL);
    assert_int_equal(config_parse_bytes("[log]\nlevel = info\0garbage\n", 27, "test.conf", &cfg, err, sizeof(err)),
                     CONFIG_ERR_SYNTAX);
    assert_non_null(strstr(err, "test.conf:2: a control byte (0x00)"));
    static const char garbage[] = "\x7f" "ELF\x02\x01\x01\x1b[31m\x00\x00=\x1b]0;x\x07\n";
    assert_int_equal(config_parse_bytes(garbage, sizeof(garbage) - 1, "test.conf", &cfg, err, sizeof(err)),
                     CONFIG_ERR_SYNTAX);
    for (const char *p = err; *p; p++) /* the message quotes nothing raw */
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    expect_error("[camera]\nsource\x1b[2J = files:/x\n", CONFIG_ERR_SYNTAX, "test.conf:2:", "control byte (0x1b)");
}

/* Long lines are read whole up to INI_LINE_MAX, and beyond it refused
 * naming the line and the key: never a value cut short. */
static void test_long_lines(void **state)
{
    (void)state;
    char text[4096], path[1100];
    memset(path, 'p', sizeof(path));
    memcpy(path, "files:/", 7);
    path[500] = '\0'; /* a 500-byte source: inih cut this one at 195 */
    snprintf(text, sizeof(text), "[camera]\nsource = %s\n", path);
    assert_int_equal(parse(text), 0);
    assert_int_equal(strlen(cfg.camera_source), 500);
    path[500] = 'p';
    path[1100 - 1] = '\0';
    snprintf(text, sizeof(text), "[uplink]\nca = /x\nurl = https://h/%s\n", path);
    expect_error(text, CONFIG_ERR_SYNTAX, "test.conf:3:", "('url')");
    assert_null(strstr(err, "pppp")); /* the value is not echoed */
    snprintf(text, sizeof(text), "[camera]\nsource = %s\n[log]\nlevel = info\n", path);
    expect_error(text, CONFIG_ERR_SYNTAX, "test.conf:2:", "more than 1024 ('source')");
}

static void test_not_a_file(void **state)
{
    (void)state;
    assert_int_equal(config_load("/tmp", &cfg, err, sizeof(err)), CONFIG_ERR_OPEN);
    assert_non_null(strstr(err, "/tmp is a directory"));
    char fifo[] = "/tmp/test_config.XXXXXX";
    assert_non_null(mkdtemp(fifo));
    char path[64];
    snprintf(path, sizeof(path), "%s/fifo.conf", fifo);
    assert_int_equal(mkfifo(path, 0600), 0);
    /* Must come back at once: nobody will ever write to this FIFO. */
    assert_int_equal(config_load(path, &cfg, err, sizeof(err)), CONFIG_ERR_OPEN);
    assert_non_null(strstr(err, "FIFO"));
    unlink(path);
    rmdir(fifo);
}

static void test_missing_file(void **state)
{
    (void)state;
    assert_int_equal(config_load("/nonexistent/cccd.conf", &cfg, err, sizeof(err)), CONFIG_ERR_OPEN);
    assert_non_null(strstr(err, "/nonexistent/cccd.conf"));
    assert_non_null(strstr(err, "No such file"));
}

/* A copied config must point at its own strings. */
static void test_relink_after_copy(void **state)
{
    (void)state;
    assert_int_equal(parse("[camera]\nsource = files:/a\n"), 0);
    struct config copy = cfg;
    config_relink(&copy);
    assert_ptr_equal(copy.scan.camera.source, copy.camera_source);
    assert_string_equal(copy.scan.camera.source, "files:/a");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_example_file_loads),
        cmocka_unit_test(test_values_and_lines),
        cmocka_unit_test(test_errors_name_file_line_key),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_not_a_config),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_not_a_file),
        cmocka_unit_test(test_relink_after_copy),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
