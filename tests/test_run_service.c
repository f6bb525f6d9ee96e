/* test_run_service.c - `cccd-reader run` as systemd sees it: READY and
 * WATCHDOG over NOTIFY_SOCKET, SIGHUP reloads (or keeps the old config when
 * the new one is broken), SIGTERM stops cleanly, and the log never holds
 * personal data. Runs the sanitizer build of the program. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "qr_frame.h"

static const char *card = "079090001234|025123456|Ngô Bảo Châu|28061990|Nam|Số 12 Hoàng Hoa Thám, Hà Nội|15062021";

static char dir[64], conf[128], logpath[128], sockpath[96];
static pid_t child; /* the running program, killed by teardown when a test fails early */

static void write_config(const char *extra)
{
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "[camera]\nsource = files:%s/frames\nfps = 20\n[scan]\nduplicate_window_s = 600\n%s", dir, extra);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cccd-run-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char p[128];
    snprintf(p, sizeof(p), "%s/frames", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/frames/1-card.png", dir);
    if (qr_frame_save(p, card) != 0)
        return -1;
    snprintf(p, sizeof(p), "%s/frames/2-empty.png", dir);
    if (qr_frame_save(p, NULL) != 0)
        return -1;
    snprintf(conf, sizeof(conf), "%s/cccd.conf", dir);
    snprintf(logpath, sizeof(logpath), "%s/log", dir);
    snprintf(sockpath, sizeof(sockpath), "%s/notify", dir);
    return 0;
}

/* After each test: a program left running by a failed assertion is stopped. */
static int kill_child(void **state)
{
    (void)state;
    if (child > 0 && kill(child, SIGKILL) == 0)
        waitpid(child, NULL, 0);
    child = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int notify_socket(void)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", sockpath);
    unlink(sockpath);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static pid_t start(const char *binary)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(log, STDERR_FILENO);
        char pidbuf[16];
        snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
        setenv("NOTIFY_SOCKET", sockpath, 1);
        setenv("WATCHDOG_USEC", "600000", 1);
        setenv("WATCHDOG_PID", pidbuf, 1);
        execl(binary, binary, "run", "--config", conf, (char *)NULL);
        _exit(127);
    }
    child = pid;
    return pid;
}

/* Waits up to ms for a datagram containing want; returns 1 when it came. */
static int wait_notify(int fd, const char *want, int ms)
{
    int64_t end = clock_ms() + ms;
    char buf[512];
    while (clock_ms() < end) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, (int)(end - clock_ms())) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        if (strstr(buf, want))
            return 1;
    }
    return 0;
}

static char *read_log(void)
{
    static char buf[65536];
    FILE *f = fopen(logpath, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int wait_log(const char *want, int ms)
{
    int64_t end = clock_ms() + ms;
    while (clock_ms() < end) {
        if (strstr(read_log(), want))
            return 1;
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void test_service_lifecycle(void **state)
{
    (void)state;
    const char *binary = getenv("CCCD_READER");
    if (!binary)
        binary = "build/asan/cccd-reader";
    write_config("");
    int fd = notify_socket();
    pid_t pid = start(binary);
    assert_true(wait_notify(fd, "READY=1", 10000));
    assert_true(wait_notify(fd, "WATCHDOG=1", 3000)); /* frames flow: the watchdog is petted */
    assert_true(wait_log("outcome=accepted id=********1234", 5000));

    write_config("[camera]\nwidth = wide\n"); /* broken: the running config stays */
    kill(pid, SIGHUP);
    assert_true(wait_log("reload refused", 5000));
    assert_non_null(strstr(read_log(), "cccd.conf:7:"));
    assert_true(wait_notify(fd, "WATCHDOG=1", 3000)); /* still reading */

    FILE *emptied = fopen(conf, "w"); /* an emptied file is no config either */
    assert_non_null(emptied);
    fclose(emptied);
    kill(pid, SIGHUP);
    assert_true(wait_log("cccd.conf sets nothing", 5000));
    assert_true(wait_notify(fd, "WATCHDOG=1", 3000));

    write_config("[log]\nlevel = debug\n");
    kill(pid, SIGHUP);
    assert_true(wait_log("configuration reloaded", 5000));

    kill(pid, SIGTERM);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    child = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(wait_notify(fd, "STOPPING=1", 1000));
    const char *log = read_log();
    assert_non_null(strstr(log, "stopped"));
    /* No personal data in the log: the full ID, the name, the birth date, the address. */
    assert_null(strstr(log, "079090001234"));
    assert_null(strstr(log, "Ngô"));
    assert_null(strstr(log, "28061990"));
    assert_null(strstr(log, "Hoàng Hoa Thám"));
    close(fd);
}

static void test_refuses_to_start_on_bad_config(void **state)
{
    (void)state;
    const char *binary = getenv("CCCD_READER");
    if (!binary)
        binary = "build/asan/cccd-reader";
    write_config("[gpio]\ngreen_led = 17\n");
    pid_t pid = start(binary);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    child = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    const char *log = read_log();
    assert_non_null(strstr(log, "<3>not starting:"));
    assert_non_null(strstr(log, "cccd.conf:7: unknown key 'green_led' in [gpio]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_service_lifecycle, kill_child),
        cmocka_unit_test_teardown(test_refuses_to_start_on_bad_config, kill_child),
    };
    return cmocka_run_group_tests_name("run_service", tests, setup, teardown);
}
