/* gpio-probe.c - checks a GPIO chip through the kernel's character device (uAPI v2).
 *
 *   gpio-probe info CHIPDEV
 *       prints the chip's name and label, then "OFFSET NAME CONSUMER FLAGS" per line
 *   gpio-probe edges CHIPDEV OFFSET TIMEOUT_MS COUNT
 *       requests the line as an input with both edges and prints
 *       "T_MS rising|falling" per event until COUNT events or TIMEOUT_MS
 *       (T_MS: CLOCK_MONOTONIC, as gpio-watch); exits 3 on timeout
 *
 * Independent of libgpiod and of the program under test: when the program's
 * button does nothing in the HIL guest, this tells whether gpio-sim's
 * simulated interrupts (irq_sim, built into the out-of-tree gpio-sim.ko)
 * deliver edges at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int info(int fd, const char *dev)
{
    struct gpiochip_info ci;
    memset(&ci, 0, sizeof(ci));
    if (ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, &ci) != 0) {
        fprintf(stderr, "gpio-probe: %s: GPIO_GET_CHIPINFO_IOCTL: %s\n", dev, strerror(errno));
        return 1;
    }
    printf("chip %s label %s lines %u\n", ci.name, ci.label, ci.lines);
    for (unsigned i = 0; i < ci.lines; i++) {
        struct gpio_v2_line_info li;
        memset(&li, 0, sizeof(li));
        li.offset = i;
        if (ioctl(fd, GPIO_V2_GET_LINEINFO_IOCTL, &li) != 0) {
            fprintf(stderr, "gpio-probe: %s: line %u: %s\n", dev, i, strerror(errno));
            return 1;
        }
        printf("%u %s %s %s%s\n", i, li.name[0] ? li.name : "-", li.consumer[0] ? li.consumer : "-",
               li.flags & GPIO_V2_LINE_FLAG_OUTPUT ? "output" : "input",
               li.flags & GPIO_V2_LINE_FLAG_USED ? ",used" : "");
    }
    return 0;
}

static int edges(int fd, const char *dev, unsigned offset, long timeout_ms, long count)
{
    struct gpio_v2_line_request req;
    memset(&req, 0, sizeof(req));
    req.offsets[0] = offset;
    req.num_lines = 1;
    snprintf(req.consumer, sizeof(req.consumer), "gpio-probe");
    req.config.flags = GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING | GPIO_V2_LINE_FLAG_EDGE_FALLING;
    if (ioctl(fd, GPIO_V2_GET_LINE_IOCTL, &req) != 0) {
        fprintf(stderr, "gpio-probe: %s: line %u: GPIO_V2_GET_LINE_IOCTL: %s\n", dev, offset, strerror(errno));
        return 1;
    }
    printf("%lld ready\n", now_ms());
    fflush(stdout);
    long long deadline = now_ms() + timeout_ms;
    long seen = 0;
    while (seen < count) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            fprintf(stderr, "gpio-probe: %ld of %ld edges within %ld ms\n", seen, count, timeout_ms);
            return 3;
        }
        struct pollfd p = { .fd = req.fd, .events = POLLIN };
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "gpio-probe: poll: %s\n", strerror(errno));
            return 1;
        }
        if (n <= 0)
            continue;
        struct gpio_v2_line_event ev;
        ssize_t r = read(req.fd, &ev, sizeof(ev));
        if (r != (ssize_t)sizeof(ev)) {
            fprintf(stderr, "gpio-probe: read: %s\n", r < 0 ? strerror(errno) : "short read");
            return 1;
        }
        printf("%lld %s\n", now_ms(), ev.id == GPIO_V2_LINE_EVENT_RISING_EDGE ? "rising" : "falling");
        fflush(stdout);
        seen++;
    }
    close(req.fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gpio-probe info CHIPDEV\n"
                        "       gpio-probe edges CHIPDEV OFFSET TIMEOUT_MS COUNT\n");
        return 2;
    }
    int fd = open(argv[2], O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "gpio-probe: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    if (strcmp(argv[1], "info") == 0)
        return info(fd, argv[2]);
    if (strcmp(argv[1], "edges") == 0 && argc == 6)
        return edges(fd, argv[2], (unsigned)strtoul(argv[3], NULL, 10), strtol(argv[4], NULL, 10),
                     strtol(argv[5], NULL, 10));
    fprintf(stderr, "gpio-probe: unknown command or wrong arguments\n");
    return 2;
}
