/* test_seen.c - presence and duplicate windows. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "loop/seen.h"

static void test_presence_gap(void **state)
{
    (void)state;
    struct seen *s = seen_open(8);
    assert_non_null(s);
    assert_int_equal(seen_note(s, "card", 4, 1000, 1500, 0), SEEN_NEW);
    assert_int_equal(seen_note(s, "card", 4, 1066, 1500, 0), SEEN_PRESENT);
    assert_int_equal(seen_note(s, "card", 4, 2566, 1500, 0), SEEN_PRESENT); /* exactly the gap */
    assert_int_equal(seen_note(s, "card", 4, 4067, 1500, 0), SEEN_NEW);     /* gone, then back */
    assert_int_equal(seen_note(s, "other", 5, 4068, 1500, 0), SEEN_NEW);
    seen_close(s);
}

static void test_duplicate_window(void **state)
{
    (void)state;
    struct seen *s = seen_open(8);
    assert_int_equal(seen_note(s, "079090001234", 12, 0, 0, 60000), SEEN_NEW);
    assert_int_equal(seen_note(s, "079090001234", 12, 20000, 0, 60000), SEEN_REPEATED);
    assert_int_equal(seen_note(s, "079090001234", 12, 59000, 0, 60000), SEEN_REPEATED);
    /* The window runs from the check-in, not from the last repeat. */
    assert_int_equal(seen_note(s, "079090001234", 12, 60001, 0, 60000), SEEN_NEW);
    assert_int_equal(seen_note(s, "079090001235", 12, 60002, 0, 60000), SEEN_NEW);
    seen_close(s);
}

/* When full, the least recently seen key is forgotten first. */
static void test_eviction(void **state)
{
    (void)state;
    struct seen *s = seen_open(3);
    char key[16];
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(seen_note(s, key, 2, i, 0, 1000000), SEEN_NEW);
    }
    assert_int_equal(seen_note(s, "k0", 2, 10, 0, 1000000), SEEN_REPEATED); /* k1 is now the oldest */
    assert_int_equal(seen_note(s, "k3", 2, 11, 0, 1000000), SEEN_NEW);     /* evicts k1 */
    assert_int_equal(seen_note(s, "k0", 2, 12, 0, 1000000), SEEN_REPEATED);
    assert_int_equal(seen_note(s, "k2", 2, 13, 0, 1000000), SEEN_REPEATED);
    assert_int_equal(seen_note(s, "k1", 2, 14, 0, 1000000), SEEN_NEW);
    seen_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presence_gap),
        cmocka_unit_test(test_duplicate_window),
        cmocka_unit_test(test_eviction),
    };
    return cmocka_run_group_tests_name("seen", tests, NULL, NULL);
}
