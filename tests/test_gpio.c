/* test_gpio.c - GPIO backends without hardware: the lookup, the null
 * backend, the gpiod backend's checks and error paths, and its pure helpers
 * (spec parsing, chip listing, the software debounce filter). The real
 * drivers are exercised against gpio-sim in the HIL tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../drivers/gpio/gpio_internal.h"

#define MS 1000000ull /* nanoseconds */

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("\"%s\" does not contain \"%s\"", text, part);
}

static void use(struct gpio_line_spec *s, const char *chip, const char *line)
{
    s->used = true;
    snprintf(s->chip, sizeof s->chip, "%s", chip);
    snprintf(s->line, sizeof s->line, "%s", line);
}

static struct gpio_config empty_config(void)
{
    struct gpio_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.debounce_ms = 30;
    cfg.consumer = "test-gpio";
    return cfg;
}

/* ---- lookup and the null backend -------------------------------------------- */

static void test_backend_lookup(void **state)
{
    (void)state;
    assert_ptr_equal(gpio_backend("gpiod"), &gpio_gpiod_ops);
    assert_ptr_equal(gpio_backend("null"), &gpio_null_ops);
    assert_string_equal(gpio_gpiod_ops.name, "gpiod");
    assert_string_equal(gpio_null_ops.name, "null");
    assert_null(gpio_backend("sysfs"));
    assert_null(gpio_backend(""));
    assert_null(gpio_backend("GPIOD"));
    assert_null(gpio_backend(NULL));
}

static void test_null_backend(void **state)
{
    (void)state;
    struct gpio_config cfg = empty_config();
    use(&cfg.out[GPIO_GREEN], "", "17"); /* nonsense for gpiod: null does not care */
    struct gpio_dev *dev = NULL;
    char err[128] = "stale";
    assert_int_equal(gpio_null_ops.open(&dev, &cfg, err, sizeof err), 0);
    assert_non_null(dev);
    assert_string_equal(err, "");
    for (int i = 0; i < GPIO_OUT_COUNT; i++)
        assert_false(gpio_null_level(dev, (enum gpio_out)i));
    assert_int_equal(gpio_null_ops.set(dev, GPIO_RED, true), 0);
    assert_true(gpio_null_level(dev, GPIO_RED));
    assert_false(gpio_null_level(dev, GPIO_GREEN));
    assert_int_equal(gpio_null_ops.set(dev, GPIO_RED, false), 0);
    assert_false(gpio_null_level(dev, GPIO_RED));
    assert_int_equal(gpio_null_ops.set(dev, GPIO_OUT_COUNT, true), GPIO_ERR_CONFIG);
    assert_int_equal(gpio_null_ops.button_fd(dev), -1);
    assert_int_equal(gpio_null_ops.button_presses(dev), 0);
    gpio_null_ops.close(dev);
    gpio_null_ops.close(NULL);
    assert_int_equal(gpio_null_ops.open(&dev, NULL, NULL, 0), 0);
    gpio_null_ops.close(dev);
}

/* ---- spec parsing and config checks ----------------------------------------- */

static void test_chip_kind(void **state)
{
    (void)state;
    assert_int_equal(gpio_chip_kind(""), GPIO_CHIP_ANY);
    assert_int_equal(gpio_chip_kind(NULL), GPIO_CHIP_ANY);
    assert_int_equal(gpio_chip_kind("/dev/gpiochip0"), GPIO_CHIP_PATH);
    assert_int_equal(gpio_chip_kind("/dev/gpio-rp1"), GPIO_CHIP_PATH);
    assert_int_equal(gpio_chip_kind("gpiochip0"), GPIO_CHIP_NAME);
    assert_int_equal(gpio_chip_kind("gpiochip12"), GPIO_CHIP_NAME);
    assert_int_equal(gpio_chip_kind("gpiochip"), GPIO_CHIP_LABEL);
    assert_int_equal(gpio_chip_kind("gpiochip0a"), GPIO_CHIP_LABEL);
    assert_int_equal(gpio_chip_kind("pinctrl-rp1"), GPIO_CHIP_LABEL);
    assert_int_equal(gpio_chip_kind("pinctrl-bcm2711"), GPIO_CHIP_LABEL);
    assert_int_equal(gpio_chip_kind("gpio-sim.0-node0"), GPIO_CHIP_LABEL);
}

static void test_line_offset(void **state)
{
    (void)state;
    assert_int_equal(gpio_line_offset("17"), 17);
    assert_int_equal(gpio_line_offset("0"), 0);
    assert_int_equal(gpio_line_offset("017"), 17);
    assert_int_equal(gpio_line_offset("GPIO17"), -1);
    assert_int_equal(gpio_line_offset(""), -1);
    assert_int_equal(gpio_line_offset(NULL), -1);
    assert_int_equal(gpio_line_offset("-1"), -1);
    assert_int_equal(gpio_line_offset("17 "), -1);
    assert_int_equal(gpio_line_offset("1a"), -1);
    assert_int_equal(gpio_line_offset("99999999999999999999"), -1);
}

static void test_check_config(void **state)
{
    (void)state;
    char err[256];
    struct gpio_config cfg = empty_config();
    assert_int_equal(gpio_check_config(&cfg, err, sizeof err), 0);
    use(&cfg.out[GPIO_GREEN], "pinctrl-rp1", "17");
    use(&cfg.out[GPIO_RED], "", "GPIO27");
    use(&cfg.button, "/dev/gpiochip0", "22");
    assert_int_equal(gpio_check_config(&cfg, err, sizeof err), 0);

    struct gpio_config bad = cfg;
    use(&bad.out[GPIO_AMBER], "", "");
    assert_int_equal(gpio_check_config(&bad, err, sizeof err), GPIO_ERR_CONFIG);
    assert_contains(err, "amber LED");
    assert_contains(err, "no line");

    bad = cfg;
    bad.out[GPIO_AMBER].used = false; /* an unused spec is never looked at */
    assert_int_equal(gpio_check_config(&bad, err, sizeof err), 0);

    bad = cfg;
    use(&bad.out[GPIO_BUZZER], "", "18");
    assert_int_equal(gpio_check_config(&bad, err, sizeof err), GPIO_ERR_CONFIG);
    assert_contains(err, "buzzer");
    assert_contains(err, "line 18");
    assert_contains(err, "name the chip");

    bad = cfg;
    memset(bad.out[GPIO_AMBER].line, 'x', sizeof bad.out[GPIO_AMBER].line);
    bad.out[GPIO_AMBER].used = true;
    assert_int_equal(gpio_check_config(&bad, err, sizeof err), GPIO_ERR_CONFIG);
    assert_contains(err, "longer than");

    bad = cfg;
    bad.debounce_ms = -1;
    assert_int_equal(gpio_check_config(&bad, err, sizeof err), GPIO_ERR_CONFIG);
    assert_contains(err, "debounce");

    bad = cfg;
    use(&bad.out[GPIO_AMBER], "/dev/gpiochip0", "22");
    assert_int_equal(gpio_check_config(&bad, err, sizeof err), GPIO_ERR_CONFIG);
    assert_contains(err, "amber LED and button both use line 22");

    assert_int_equal(gpio_check_config(NULL, err, sizeof err), GPIO_ERR_CONFIG);
    assert_int_equal(gpio_check_config(NULL, NULL, 0), GPIO_ERR_CONFIG);
}

/* ---- chip listing ----------------------------------------------------------------- */

static void touch(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
}

static void test_list_chips(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_gpio.XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *names[] = {"gpiochip10", "gpiochip2", "gpiochip0", "gpiochipx", "gpiochip", "tty0"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        touch(dir, names[i]);
    struct gpio_chip_list *list = malloc(sizeof *list);
    assert_non_null(list);
    assert_int_equal(gpio_list_chips(dir, list), 3);
    char want[GPIO_PATH_MAX];
    const char *order[] = {"gpiochip0", "gpiochip2", "gpiochip10"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(want, sizeof want, "%s/%s", dir, order[i]);
        assert_string_equal(list->path[i], want);
    }
    assert_int_equal(gpio_list_chips("/nonexistent-dir-for-test_gpio", list), -1);
    free(list);
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* ---- software debounce ------------------------------------------------------------- */

struct edge {
    uint64_t ms;
    char dir; /* 'R' rising (pressed), 'F' falling */
};

static int feed(struct gpio_debounce *d, const struct edge *e, size_t n)
{
    int presses = 0;
    for (size_t i = 0; i < n; i++)
        presses += gpio_debounce_edge(d, e[i].ms * MS, e[i].dir == 'R');
    return presses;
}

static void test_debounce_press_bounce(void **state)
{
    (void)state;
    struct gpio_debounce d;
    gpio_debounce_init(&d, 30, false);
    const struct edge press[] = {{1000, 'R'}, {1001, 'F'}, {1002, 'R'}, {1003, 'F'}, {1004, 'R'}};
    assert_int_equal(feed(&d, press, 5), 1);
    /* Released after a long hold, with bounce: no press. */
    const struct edge release[] = {{1500, 'F'}, {1501, 'R'}, {1502, 'F'}};
    assert_int_equal(feed(&d, release, 3), 0);
    const struct edge again[] = {{2000, 'R'}, {2001, 'F'}, {2002, 'R'}};
    assert_int_equal(feed(&d, again, 3), 1);
}

static void test_debounce_first_edge_reads_released(void **state)
{
    (void)state;
    /* With both edges the kernel reports the level read after each edge: a
     * bouncing press may start with a "falling" one. Still one press. */
    struct gpio_debounce d;
    gpio_debounce_init(&d, 30, false);
    const struct edge e[] = {{100, 'F'}, {101, 'R'}, {102, 'F'}, {103, 'R'}};
    assert_int_equal(feed(&d, e, 4), 1);
}

static void test_debounce_quick_presses(void **state)
{
    (void)state;
    struct gpio_debounce d;
    gpio_debounce_init(&d, 30, false);
    /* Taps 45 ms apart, each released within 10 ms: two presses. */
    const struct edge taps[] = {{0, 'R'}, {10, 'F'}, {45, 'R'}, {55, 'F'}};
    assert_int_equal(feed(&d, taps, 4), 2);
    /* A second tap inside the window of the last edge is bounce. */
    const struct edge bounce[] = {{200, 'R'}, {210, 'F'}, {230, 'R'}};
    assert_int_equal(feed(&d, bounce, 3), 1);
}

static void test_debounce_presses_window_apart(void **state)
{
    (void)state;
    /* Whatever the edges, counted presses are at least the window apart. */
    struct gpio_debounce d;
    gpio_debounce_init(&d, 50, false);
    uint64_t last = 0;
    int presses = 0;
    unsigned seed = 12345;
    uint64_t t = 0;
    for (int i = 0; i < 5000; i++) {
        seed = seed * 1103515245u + 12345u;
        t += (seed >> 16) % 40; /* 0..39 ms between edges */
        if (gpio_debounce_edge(&d, t * MS, (seed >> 8) & 1)) {
            if (presses++)
                assert_true(t - last >= 50);
            last = t;
        }
    }
    assert_true(presses > 0);
}

static void test_debounce_held_at_start(void **state)
{
    (void)state;
    struct gpio_debounce d;
    gpio_debounce_init(&d, 30, true); /* pressed when the line was requested */
    const struct edge release[] = {{100, 'F'}, {101, 'R'}, {102, 'F'}};
    assert_int_equal(feed(&d, release, 3), 0);
    const struct edge press[] = {{500, 'R'}};
    assert_int_equal(feed(&d, press, 1), 1);
}

static void test_debounce_window_zero(void **state)
{
    (void)state;
    /* Kernel-debounced edges (v2) go through a zero window: every transition
     * to pressed counts, a repeated "rising" does not. */
    struct gpio_debounce d;
    gpio_debounce_init(&d, 0, false);
    const struct edge e[] = {{0, 'R'}, {1, 'F'}, {2, 'R'}, {3, 'R'}, {4, 'F'}};
    assert_int_equal(feed(&d, e, 5), 2);
    gpio_debounce_init(&d, -5, false); /* negative: no window */
    assert_int_equal(feed(&d, e, 5), 2);
}

/* ---- the gpiod backend without hardware ---------------------------------------- */

static int open_gpiod(const struct gpio_config *cfg, char *err, size_t errlen)
{
    struct gpio_dev *dev = (struct gpio_dev *)&dev; /* must be reset to NULL */
    int rc = gpio_gpiod_ops.open(&dev, cfg, err, errlen);
    if (rc == 0)
        gpio_gpiod_ops.close(dev);
    else
        assert_null(dev);
    return rc;
}

static void test_gpiod_offset_without_chip(void **state)
{
    (void)state;
    struct gpio_config cfg = empty_config();
    use(&cfg.out[GPIO_RED], "", "17");
    char err[256];
    assert_int_equal(open_gpiod(&cfg, err, sizeof err), GPIO_ERR_CONFIG);
    assert_contains(err, "red LED");
    assert_contains(err, "line 17");
    assert_contains(err, "name the chip");
}

static void test_gpiod_missing_chip(void **state)
{
    (void)state;
    const char *chips[] = {"/dev/gpiochip99", "gpiochip99", "no-such-label"};
    for (size_t i = 0; i < 3; i++) {
        struct gpio_config cfg = empty_config();
        use(&cfg.button, chips[i], "GPIO22");
        char err[512];
        assert_int_equal(open_gpiod(&cfg, err, sizeof err), GPIO_ERR_CHIP);
        assert_contains(err, "button");
        assert_contains(err, chips[i]);
        assert_contains(err, "GPIO22");
        assert_contains(err, "gpiodetect");
    }
}

static void test_gpiod_not_a_chip(void **state)
{
    (void)state;
    struct gpio_config cfg = empty_config();
    use(&cfg.out[GPIO_GREEN], "/dev/null", "17");
    char err[512];
    assert_int_equal(open_gpiod(&cfg, err, sizeof err), GPIO_ERR_CHIP);
    assert_contains(err, "/dev/null");
}

static void test_gpiod_line_on_no_chip(void **state)
{
    (void)state;
    struct gpio_config cfg = empty_config();
    use(&cfg.out[GPIO_AMBER], "", "NO_SUCH_LINE_FOR_TEST_GPIO");
    char err[512];
    int rc = open_gpiod(&cfg, err, sizeof err);
    /* No chip at all on this machine is CHIP; chips without the line, LINE. */
    assert_true(rc == GPIO_ERR_CHIP || rc == GPIO_ERR_LINE);
    assert_contains(err, "amber LED");
    assert_contains(err, "NO_SUCH_LINE_FOR_TEST_GPIO");
}

static void test_gpiod_nothing_wired(void **state)
{
    (void)state;
    struct gpio_config cfg = empty_config();
    cfg.consumer = NULL; /* the default name is used */
    struct gpio_dev *dev = NULL;
    char err[128];
    assert_int_equal(gpio_gpiod_ops.open(&dev, &cfg, err, sizeof err), 0);
    assert_non_null(dev);
    for (int i = 0; i < GPIO_OUT_COUNT; i++)
        assert_int_equal(gpio_gpiod_ops.set(dev, (enum gpio_out)i, true), 0);
    assert_int_equal(gpio_gpiod_ops.set(dev, GPIO_OUT_COUNT, true), GPIO_ERR_CONFIG);
    assert_int_equal(gpio_gpiod_ops.button_fd(dev), -1);
    assert_int_equal(gpio_gpiod_ops.button_presses(dev), 0);
    gpio_gpiod_ops.close(dev);
    gpio_gpiod_ops.close(NULL);
}

static void test_gpiod_bad_arguments(void **state)
{
    (void)state;
    struct gpio_config cfg = empty_config();
    char err[128];
    assert_int_equal(gpio_gpiod_ops.open(NULL, &cfg, err, sizeof err), GPIO_ERR_CONFIG);
    assert_int_equal(open_gpiod(NULL, err, sizeof err), GPIO_ERR_CONFIG);
    assert_int_equal(gpio_gpiod_ops.set(NULL, GPIO_GREEN, true), GPIO_ERR_CONFIG);
    assert_int_equal(gpio_gpiod_ops.button_fd(NULL), -1);
    assert_int_equal(gpio_gpiod_ops.button_presses(NULL), 0);
    /* No room for a message, or a tiny one: no overflow, still terminated. */
    use(&cfg.out[GPIO_GREEN], "/dev/gpiochip99", "17");
    assert_int_equal(open_gpiod(&cfg, NULL, 0), GPIO_ERR_CHIP);
    char tiny[8];
    assert_int_equal(open_gpiod(&cfg, tiny, sizeof tiny), GPIO_ERR_CHIP);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

static void test_lib_generation(void **state)
{
    (void)state;
    assert_int_equal(gpio_lib_major(), CCCD_GPIOD_MAJOR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_lookup),
        cmocka_unit_test(test_null_backend),
        cmocka_unit_test(test_chip_kind),
        cmocka_unit_test(test_line_offset),
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_list_chips),
        cmocka_unit_test(test_debounce_press_bounce),
        cmocka_unit_test(test_debounce_first_edge_reads_released),
        cmocka_unit_test(test_debounce_quick_presses),
        cmocka_unit_test(test_debounce_presses_window_apart),
        cmocka_unit_test(test_debounce_held_at_start),
        cmocka_unit_test(test_debounce_window_zero),
        cmocka_unit_test(test_gpiod_offset_without_chip),
        cmocka_unit_test(test_gpiod_missing_chip),
        cmocka_unit_test(test_gpiod_not_a_chip),
        cmocka_unit_test(test_gpiod_line_on_no_chip),
        cmocka_unit_test(test_gpiod_nothing_wired),
        cmocka_unit_test(test_gpiod_bad_arguments),
        cmocka_unit_test(test_lib_generation),
    };
    return cmocka_run_group_tests_name("gpio", tests, NULL, NULL);
}
