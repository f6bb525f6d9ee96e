/* gpio-watch.c - records what the program does to the desk's output lines.
 *
 *   gpio-watch [-i INTERVAL_MS] -o FILE NAME=VALUE_FILE...
 *   gpio-watch now
 *
 * Samples the gpio-sim sysfs `value` attribute of each named line every
 * INTERVAL_MS (default 2) and appends one line per change to FILE:
 *
 *   T_MS NAME VALUE
 *
 * T_MS is CLOCK_MONOTONIC in milliseconds, the clock v4l2-feed stamps its
 * acknowledgements with and `gpio-watch now` prints, so a scenario can say
 * "after I showed the card". The first sample of every line is written too
 * (its starting level). Each line is flushed at once: the file can be read
 * while the watcher runs. Runs until SIGTERM/SIGINT.
 *
 * Used only inside the HIL guest (tests/hil); built statically by
 * tools/hil/build-helpers.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINES 16

struct watched {
    const char *name;
    int fd;
    int value; /* -1 before the first sample */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads "0\n" or "1\n" from a sysfs attribute; -1 on error. */
static int read_value(int fd)
{
    char buf[8];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return -1;
    return buf[0] == '1' ? 1 : buf[0] == '0' ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: gpio-watch [-i INTERVAL_MS] -o FILE NAME=VALUE_FILE...\n"
                    "       gpio-watch now\n");
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "now") == 0) {
        printf("%lld\n", now_ms());
        return 0;
    }
    const char *outpath = NULL;
    long interval_ms = 2;
    struct watched w[MAX_LINES];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            outpath = argv[++i];
        } else if (strcmp(argv[i], "-i") == 0 && i + 1 < argc) {
            interval_ms = strtol(argv[++i], NULL, 10);
            if (interval_ms < 1 || interval_ms > 1000) {
                fprintf(stderr, "gpio-watch: interval must be 1..1000 ms\n");
                return 2;
            }
        } else {
            char *eq = strchr(argv[i], '=');
            if (!eq || eq == argv[i] || n == MAX_LINES) {
                usage();
                return 2;
            }
            *eq = '\0';
            w[n].name = argv[i];
            w[n].value = -1;
            w[n].fd = open(eq + 1, O_RDONLY | O_CLOEXEC);
            if (w[n].fd < 0) {
                fprintf(stderr, "gpio-watch: %s: %s\n", eq + 1, strerror(errno));
                return 1;
            }
            n++;
        }
    }
    if (!outpath || n == 0) {
        usage();
        return 2;
    }
    FILE *out = fopen(outpath, "a");
    if (!out) {
        fprintf(stderr, "gpio-watch: %s: %s\n", outpath, strerror(errno));
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    int errors = 0;
    while (!stop) {
        long long t = now_ms();
        for (int i = 0; i < n; i++) {
            int v = read_value(w[i].fd);
            if (v < 0) {
                if (errors++ == 0)
                    fprintf(stderr, "gpio-watch: cannot read %s\n", w[i].name);
                continue;
            }
            if (v != w[i].value) {
                w[i].value = v;
                fprintf(out, "%lld %s %d\n", t, w[i].name, v);
                fflush(out);
            }
        }
        next.tv_nsec += interval_ms * 1000000L;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        /* After a long stall (a slow emulator) do not try to catch up. */
        struct timespec cur;
        clock_gettime(CLOCK_MONOTONIC, &cur);
        if (cur.tv_sec > next.tv_sec + 1)
            next = cur;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR && !stop)
            ;
    }
    fclose(out);
    return 0;
}
