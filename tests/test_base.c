/* test_base.c - the base layer's small helpers: hex digits and reading a
 * file in full. */
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

#include "base/file_io.h"
#include "base/hex.h"
#include "base/log.h"

static void test_hex_encode(void **state)
{
    (void)state;
    char out[9];
    hex_encode((const uint8_t *)"\x00\xab|Z", 4, out);
    assert_string_equal(out, "00ab7c5a");
    hex_encode(NULL, 0, out);
    assert_string_equal(out, "");
}

static void test_hex_decode(void **state)
{
    (void)state;
    uint8_t b[4];
    assert_int_equal(hex_decode("00aB7c5A", b, 4), 0);
    assert_memory_equal(b, "\x00\xab|Z", 4);
    /* What sscanf's %2x would take and a strict reader must not. */
    static const char *const bad[] = { " 1ab7c5a", "+1ab7c5a", "0x1b7c5a", "00ab7c5g", "00ab7c5", "-0ab7c5a" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(hex_decode(bad[i], b, 4), -1);
    assert_int_equal(hex_value('f'), 15);
    assert_int_equal(hex_value('F'), 15);
    assert_int_equal(hex_value('g'), -1);
    assert_int_equal(hex_value(0), -1);
}

static void test_read_full(void **state)
{
    (void)state;
    char path[] = "/tmp/test_base.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    char buf[16];
    assert_int_equal(file_read_full(fd, buf, 4, 3), 4); /* at an offset, the position untouched */
    assert_memory_equal(buf, "3456", 4);
    assert_int_equal(file_read_full(fd, buf, 16, 8), 2); /* the end of the file comes first */
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(file_read_full(fd, buf, 6, -1), 6); /* from the position, which moves */
    assert_int_equal(file_read_full(fd, buf, 16, -1), 4);
    assert_memory_equal(buf, "6789", 4);
    close(fd);
    unlink(path);
    assert_int_equal(file_read_full(fd, buf, 4, -1), -1); /* a closed descriptor */
}

/* Outside text in a log line: one line, printable, bounded. */
static void test_log_clean(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(log_clean("plain text 000", out, sizeof(out)), "plain text 000");
    assert_string_equal(log_clean("a\n<0>PWN: x", out, sizeof(out)), "a\\x0a<0>PWN: x");
    assert_string_equal(log_clean("tab\there\x1b[31m", out, sizeof(out)), "tab\\x09here\\x1b[31m");
    assert_string_equal(log_clean("back\\slash", out, sizeof(out)), "back\\\\slash");
    assert_string_equal(log_clean("Ng\xc3\xb4", out, sizeof(out)), "Ng\\xc3\\xb4");
    assert_string_equal(log_clean(NULL, out, sizeof(out)), "");
    /* Cut to fit, and said so. */
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_clean(big, out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    assert_string_equal(out + sizeof(out) - 4, "...");
    char tiny[6];
    assert_string_equal(log_clean("abcdef", tiny, sizeof(tiny)), "ab...");
    assert_string_equal(log_clean("abcde", tiny, sizeof(tiny)), "abcde");
    assert_string_equal(log_clean("\n\n", tiny, sizeof(tiny)), "..."); /* never half an escape */
    char one[1];
    assert_string_equal(log_clean("abc", one, sizeof(one)), "");
}

/* Every log line is one line: whatever text reaches it, no control byte
 * passes, so no forged "<0>" line follows. */
static void test_log_msg_one_line(void **state)
{
    (void)state;
    char path[] = "/tmp/test_base_log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    log_msg(LOG_WARNING, "insurance maKetQua=%s file=%s", "050\n<0>PWN: forged", "a\x1b[2Jb\r");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "<4>insurance maKetQua=050\\x0a<0>PWN: forged file=a\\x1b[2Jb\\x0d\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_read_full),
        cmocka_unit_test(test_log_clean),
        cmocka_unit_test(test_log_msg_one_line),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
