/* test_desk.c - the patterns as a table, and as the lines really move. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "loop/desk.h"
#include "fake_gpio.h"

#define G DESK_LINE(GPIO_GREEN)
#define R DESK_LINE(GPIO_RED)
#define A DESK_LINE(GPIO_AMBER)
#define B DESK_LINE(GPIO_BUZZER)

/* Scheduling slack under ASan on a loaded 2-core machine. */
#define SLACK_MS 60

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void test_pattern_table(void **state)
{
    (void)state;
    int64_t left;
    assert_int_equal(desk_pattern_at(DESK_ACCEPTED, 0, &left), G | B);
    assert_int_equal(left, 150);
    assert_int_equal(desk_pattern_at(DESK_ACCEPTED, 150, &left), G);
    assert_int_equal(left, 850);
    assert_int_equal(desk_pattern_at(DESK_ACCEPTED, 1000, &left), -1);
    assert_int_equal(desk_pattern_at(DESK_DUPLICATE, 0, &left), G | B);
    assert_int_equal(desk_pattern_at(DESK_DUPLICATE, 250, &left), 0);
    assert_int_equal(desk_pattern_at(DESK_DUPLICATE, 400, &left), G | B);
    assert_int_equal(desk_pattern_at(DESK_REJECTED, 599, &left), R | B);
    assert_int_equal(left, 1);
    assert_int_equal(desk_pattern_at(DESK_REJECTED, 600, &left), R);
    assert_int_equal(desk_pattern_at(DESK_NOT_CARD, 160, &left), 0);
    assert_int_equal(desk_pattern_at(DESK_NOT_CARD, 300, &left), R);
    assert_int_equal(desk_pattern_at(DESK_NOT_CARD, 750, &left), -1);
    assert_int_equal(desk_pattern_at(DESK_QUEUE_FULL, 10, &left), R | A | B);
    assert_int_equal(desk_pattern_at(DESK_SIGNAL_COUNT, 0, &left), -1);
    assert_int_equal(desk_pattern_at(DESK_ACCEPTED, -1, &left), -1);
    /* Every signal is told apart from every other by its first 400 ms. */
    for (int a = 0; a < DESK_SIGNAL_COUNT; a++)
        for (int b = a + 1; b < DESK_SIGNAL_COUNT; b++) {
            int differs = 0;
            for (int t = 0; t < 400; t += 10)
                differs |= desk_pattern_at((enum desk_signal)a, t, &left) !=
                           desk_pattern_at((enum desk_signal)b, t, &left);
            assert_true(differs);
        }
    assert_string_equal(desk_signal_name(DESK_NOT_CARD), "not-card");
}

static struct desk *open_desk(enum button_action action)
{
    struct gpio_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    struct desk *d = NULL;
    char err[128];
    fake_gpio_clear();
    assert_int_equal(desk_open(&d, &fake_gpio_ops, &cfg, action, err, sizeof(err)), 0);
    return d;
}

/* Finds the n-th event for line with value on; returns its time or -1. */
static int64_t nth_event(const struct fake_event *ev, int count, int line, bool on, int n)
{
    for (int i = 0; i < count; i++)
        if (ev[i].line == line && ev[i].on == on && n-- == 0)
            return ev[i].t_ms;
    return -1;
}

/* Lets the pattern thread play for ms, then takes the output changes it made. */
static int events_after(int ms, struct fake_event ev[64])
{
    sleep_ms(ms);
    return fake_gpio_events(ev, 64);
}

static void assert_near(int64_t got, int64_t want)
{
    if (got < want - SLACK_MS || got > want + SLACK_MS)
        fail_msg("event at %lld ms, expected %lld ± %d", (long long)got, (long long)want, SLACK_MS);
}

static void test_accepted_moves_the_lines(void **state)
{
    (void)state;
    struct desk *d = open_desk(BUTTON_REPEAT);
    int64_t t0 = clock_ms();
    desk_show(d, DESK_ACCEPTED);
    struct fake_event ev[64];
    int n = events_after(1200, ev);
    assert_near(nth_event(ev, n, GPIO_GREEN, true, 0) - t0, 0);
    assert_near(nth_event(ev, n, GPIO_BUZZER, true, 0) - t0, 0);
    assert_near(nth_event(ev, n, GPIO_BUZZER, false, 0) - t0, 150);
    assert_near(nth_event(ev, n, GPIO_GREEN, false, 0) - t0, 1000);
    assert_int_equal(nth_event(ev, n, GPIO_RED, true, 0), -1);
    assert_int_equal(nth_event(ev, n, GPIO_GREEN, true, 1), -1);
    assert_true(desk_last_change_ms(d) >= t0 + 1000 - SLACK_MS);
    desk_close(d);
    assert_false(fake_gpio_is_open());
}

static void test_new_signal_cuts_the_old(void **state)
{
    (void)state;
    struct desk *d = open_desk(BUTTON_REPEAT);
    int64_t t0 = clock_ms();
    desk_show(d, DESK_ACCEPTED);
    sleep_ms(300);
    desk_show(d, DESK_REJECTED);
    struct fake_event ev[64];
    int n = events_after(1200, ev);
    assert_near(nth_event(ev, n, GPIO_GREEN, false, 0) - t0, 300);
    assert_near(nth_event(ev, n, GPIO_RED, true, 0) - t0, 300);
    assert_near(nth_event(ev, n, GPIO_RED, false, 0) - t0, 1300);
    desk_close(d);
}

static void test_fault_blinks_until_cleared(void **state)
{
    (void)state;
    struct desk *d = open_desk(BUTTON_REPEAT);
    int64_t t0 = clock_ms();
    desk_set_state(d, DESK_STATE_FAULT, true);
    sleep_ms(2200);
    desk_set_state(d, DESK_STATE_FAULT, false);
    struct fake_event ev[64];
    int n = events_after(700, ev);
    assert_near(nth_event(ev, n, GPIO_RED, true, 0) - t0, 0);
    assert_near(nth_event(ev, n, GPIO_RED, false, 0) - t0, 500);
    assert_near(nth_event(ev, n, GPIO_RED, true, 1) - t0, 1000);
    assert_near(nth_event(ev, n, GPIO_RED, true, 2) - t0, 2000);
    assert_int_equal(nth_event(ev, n, GPIO_RED, true, 3), -1); /* cleared at 2200: no blink at 3000 */
    assert_int_equal(nth_event(ev, n, GPIO_BUZZER, true, 0), -1);
    desk_close(d);
}

static void test_offline_lights_amber(void **state)
{
    (void)state;
    struct desk *d = open_desk(BUTTON_REPEAT);
    desk_set_state(d, DESK_STATE_OFFLINE, true);
    sleep_ms(100);
    desk_show(d, DESK_ACCEPTED); /* plays over the state */
    struct fake_event ev[64];
    int n = events_after(1200, ev);
    int64_t amber_on = nth_event(ev, n, GPIO_AMBER, true, 0);
    assert_true(amber_on > 0);
    int64_t amber_off = nth_event(ev, n, GPIO_AMBER, false, 0);
    int64_t amber_back = nth_event(ev, n, GPIO_AMBER, true, 1);
    assert_true(amber_off > amber_on && amber_back > amber_off); /* back after the pattern */
    desk_close(d);
}

static void test_button_repeats_last(void **state)
{
    (void)state;
    struct desk *d = open_desk(BUTTON_REPEAT);
    fake_gpio_press(1); /* nothing shown yet: nothing to repeat */
    sleep_ms(100);
    desk_show(d, DESK_NOT_CARD);
    sleep_ms(900);
    int64_t t_press = clock_ms();
    fake_gpio_press(1);
    struct fake_event ev[64];
    int n = events_after(900, ev);
    assert_near(nth_event(ev, n, GPIO_RED, true, 3) - t_press, 0); /* 3 blinks, then a 4th on press */
    assert_int_equal(nth_event(ev, n, GPIO_RED, true, 6), -1);
    desk_close(d);
}

static void test_button_mutes(void **state)
{
    (void)state;
    struct desk *d = open_desk(BUTTON_MUTE);
    fake_gpio_press(1);
    sleep_ms(100);
    desk_show(d, DESK_REJECTED);
    struct fake_event ev[64];
    int n = events_after(1100, ev);
    assert_true(nth_event(ev, n, GPIO_RED, true, 0) > 0);
    assert_int_equal(nth_event(ev, n, GPIO_BUZZER, true, 0), -1);
    desk_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_table),         cmocka_unit_test(test_accepted_moves_the_lines),
        cmocka_unit_test(test_new_signal_cuts_the_old), cmocka_unit_test(test_fault_blinks_until_cleared),
        cmocka_unit_test(test_offline_lights_amber),  cmocka_unit_test(test_button_repeats_last),
        cmocka_unit_test(test_button_mutes),
    };
    return cmocka_run_group_tests_name("desk", tests, NULL, NULL);
}
