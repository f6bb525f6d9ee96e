/* v4l2-grab.c - captures frames from a V4L2 device the way the program does.
 *
 *   v4l2-grab DEVICE OUT.pgm [TIMEOUT_MS [FRAMES]]
 *
 * Opens DEVICE non-blocking, takes the current capture format (GREY or YUYV),
 * streams through 4 MMAP buffers, waits (poll, up to TIMEOUT_MS in all,
 * default 5000) for FRAMES frames (default 3: the first may be older than the
 * writer's latest picture) and writes the luma of the last one to OUT.pgm.
 * Prints "WIDTHxHEIGHT FOURCC FRAMES" on success; exits 1 with a message on
 * failure, 3 on timeout. Proves in the HIL guest that v4l2loopback delivers
 * what v4l2-feed writes, before the program under test relies on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NBUF 4

static int xioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do
        r = ioctl(fd, req, arg);
    while (r == -1 && errno == EINTR);
    return r;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(const char *what, const char *dev)
{
    fprintf(stderr, "v4l2-grab: %s: %s: %s\n", dev, what, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: v4l2-grab DEVICE OUT.pgm [TIMEOUT_MS [FRAMES]]\n");
        return 2;
    }
    const char *dev = argv[1], *outpath = argv[2];
    long timeout_ms = argc > 3 ? strtol(argv[3], NULL, 10) : 5000;
    long want = argc > 4 ? strtol(argv[4], NULL, 10) : 3;
    if (want < 1)
        want = 1;

    int fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return fail("open", dev);
    struct v4l2_format fmt;
    memset(&fmt, 0, sizeof(fmt));
    fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(fd, VIDIOC_G_FMT, &fmt) != 0)
        return fail("VIDIOC_G_FMT", dev);
    uint32_t fourcc = fmt.fmt.pix.pixelformat;
    int w = (int)fmt.fmt.pix.width, h = (int)fmt.fmt.pix.height;
    int bpl = (int)fmt.fmt.pix.bytesperline;
    if (fourcc != V4L2_PIX_FMT_GREY && fourcc != V4L2_PIX_FMT_YUYV) {
        fprintf(stderr, "v4l2-grab: %s: format %.4s is neither GREY nor YUYV\n", dev, (const char *)&fourcc);
        return 1;
    }
    int step = fourcc == V4L2_PIX_FMT_YUYV ? 2 : 1;
    if (bpl == 0)
        bpl = w * step;

    struct v4l2_requestbuffers req;
    memset(&req, 0, sizeof(req));
    req.count = NBUF;
    req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    req.memory = V4L2_MEMORY_MMAP;
    if (xioctl(fd, VIDIOC_REQBUFS, &req) != 0 || req.count < 1)
        return fail("VIDIOC_REQBUFS", dev);
    unsigned nbuf = req.count > NBUF ? NBUF : req.count;
    void *start[NBUF];
    size_t length[NBUF];
    for (unsigned i = 0; i < nbuf; i++) {
        struct v4l2_buffer b;
        memset(&b, 0, sizeof(b));
        b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        b.memory = V4L2_MEMORY_MMAP;
        b.index = i;
        if (xioctl(fd, VIDIOC_QUERYBUF, &b) != 0)
            return fail("VIDIOC_QUERYBUF", dev);
        length[i] = b.length;
        start[i] = mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset);
        if (start[i] == MAP_FAILED)
            return fail("mmap", dev);
        if (xioctl(fd, VIDIOC_QBUF, &b) != 0)
            return fail("VIDIOC_QBUF", dev);
    }
    enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(fd, VIDIOC_STREAMON, &type) != 0)
        return fail("VIDIOC_STREAMON", dev);

    long long deadline = now_ms() + timeout_ms;
    long got = 0;
    unsigned char *luma = malloc((size_t)w * (size_t)h);
    if (!luma)
        return fail("malloc", dev);
    while (got < want) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            fprintf(stderr, "v4l2-grab: %s: %ld of %ld frames within %ld ms\n", dev, got, want, timeout_ms);
            return 3;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno != EINTR)
            return fail("poll", dev);
        if (n <= 0)
            continue;
        struct v4l2_buffer b;
        memset(&b, 0, sizeof(b));
        b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        b.memory = V4L2_MEMORY_MMAP;
        if (xioctl(fd, VIDIOC_DQBUF, &b) != 0) {
            if (errno == EAGAIN)
                continue;
            return fail("VIDIOC_DQBUF", dev);
        }
        if (b.index < nbuf && !(b.flags & V4L2_BUF_FLAG_ERROR) &&
            (size_t)bpl * (size_t)h <= length[b.index]) {
            const unsigned char *src = start[b.index];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    luma[(size_t)y * (size_t)w + (size_t)x] = src[(size_t)y * (size_t)bpl + (size_t)(x * step)];
            got++;
        }
        if (xioctl(fd, VIDIOC_QBUF, &b) != 0)
            return fail("VIDIOC_QBUF", dev);
    }
    (void)xioctl(fd, VIDIOC_STREAMOFF, &type);
    close(fd);

    FILE *out = fopen(outpath, "wb");
    if (!out)
        return fail("fopen", outpath);
    fprintf(out, "P5\n%d %d\n255\n", w, h);
    size_t wrote = fwrite(luma, 1, (size_t)w * (size_t)h, out);
    if (fclose(out) != 0 || wrote != (size_t)w * (size_t)h)
        return fail("write", outpath);
    free(luma);
    printf("%dx%d %.4s %ld\n", w, h, (const char *)&fourcc, got);
    return 0;
}
