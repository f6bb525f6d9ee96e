/* v4l2-feed.c - plays still pictures into a v4l2loopback device, as a camera would.
 *
 *   v4l2-feed -d /dev/videoN -c CONTROL [-s WxH] [-f grey|yuyv] [-r FPS] [IMAGE...]
 *
 * Opens the device as its writer, sets the OUTPUT format (VIDIOC_S_FMT on
 * V4L2_BUF_TYPE_VIDEO_OUTPUT) and write()s one frame every 1/FPS s, cycling
 * through the current list of pictures (PGM, PNG or JPEG, loaded with the
 * project's image_load; pictures of another size are scaled to fit and
 * letterboxed).
 *
 * What to play is told through the CONTROL file, one line:
 *
 *   SEQ show IMAGE...   play these pictures from now on
 *   SEQ pause           keep the device open but write nothing (a stalled camera)
 *   SEQ close           close the device (the writer is gone); `show` reopens it
 *   SEQ quit            exit
 *
 * SEQ is any token the caller picks (a counter; a command is applied once
 * per SEQ). The feeder notices a new
 * control file by its inode, size or time (replace it with a rename) at least
 * every 20 ms, or at once on SIGUSR1. Once a command has taken effect (for
 * `show`: the first frame of the new pictures has been written) it writes
 * CONTROL.ack (or -a FILE) as "SEQ T_MS", T_MS being CLOCK_MONOTONIC in ms,
 * or "SEQ error MESSAGE" when the command failed. At start it writes "0 T_MS"
 * once SIGUSR1 is safe to send. Pictures given on the command line are
 * played until the first control command.
 *
 * Used inside the HIL guest (tests/hil); built by tools/hil/build-helpers.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/image_io.h"

#define MAX_IMAGES 16
#define CONTROL_POLL_MS 20
#define CONTROL_MAX 4096

enum mode { MODE_SHOW, MODE_PAUSE, MODE_CLOSE, MODE_QUIT };

struct feeder {
    const char *device;
    const char *control;
    char ack[1024];
    int width, height;
    uint32_t fourcc;
    int fps;
    int fd;
    unsigned char *frames[MAX_IMAGES]; /* converted, ready to write */
    int nframes, next;
    size_t frame_size;
    enum mode mode;
    char pending_ack[128]; /* SEQ of a `show` waiting for its first frame */
    char last_seq[128];    /* the last command applied */
    struct stat control_st;
    long long frames_written;
};

static volatile sig_atomic_t wake, stop;

static void on_usr1(int sig)
{
    (void)sig;
    wake = 1;
}

static void on_term(int sig)
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

static void say(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "v4l2-feed: %lld ", now_ms());
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

/* Writes CONTROL.ack atomically: "SEQ T_MS" or "SEQ error MESSAGE". */
static void write_ack(const struct feeder *f, const char *seq, const char *error)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->ack);
    FILE *a = fopen(tmp, "w");
    if (!a) {
        say("cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    if (error)
        fprintf(a, "%s error %s\n", seq, error);
    else
        fprintf(a, "%s %lld\n", seq, now_ms());
    if (fclose(a) != 0 || rename(tmp, f->ack) != 0)
        say("cannot write %s: %s", f->ack, strerror(errno));
}

static int xioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do
        r = ioctl(fd, req, arg);
    while (r == -1 && errno == EINTR);
    return r;
}

static void close_device(struct feeder *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
        say("closed %s%s", f->device, "");
    }
}

static int open_device(struct feeder *f)
{
    if (f->fd >= 0)
        return 0;
    int fd = open(f->device, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        say("%s: %s", f->device, strerror(errno));
        return -1;
    }
    int bpp = f->fourcc == V4L2_PIX_FMT_YUYV ? 2 : 1;
    struct v4l2_format fmt;
    memset(&fmt, 0, sizeof(fmt));
    fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    fmt.fmt.pix.width = (unsigned)f->width;
    fmt.fmt.pix.height = (unsigned)f->height;
    fmt.fmt.pix.pixelformat = f->fourcc;
    fmt.fmt.pix.field = V4L2_FIELD_NONE;
    fmt.fmt.pix.bytesperline = (unsigned)(f->width * bpp);
    fmt.fmt.pix.sizeimage = (unsigned)(f->width * f->height * bpp);
    fmt.fmt.pix.colorspace = V4L2_COLORSPACE_SRGB;
    if (xioctl(fd, VIDIOC_S_FMT, &fmt) != 0) {
        say("%s: VIDIOC_S_FMT (output): %s", f->device, strerror(errno));
        close(fd);
        return -1;
    }
    if ((int)fmt.fmt.pix.width != f->width || (int)fmt.fmt.pix.height != f->height ||
        fmt.fmt.pix.pixelformat != f->fourcc) {
        say("%s: the driver changed the output format%s", f->device, "");
        close(fd);
        return -1;
    }
    if (fmt.fmt.pix.sizeimage != 0 && fmt.fmt.pix.sizeimage != f->frame_size) {
        say("%s: the driver wants another frame size%s", f->device, "");
        close(fd);
        return -1;
    }
    /* The frame rate readers see (VIDIOC_G_PARM); the pace is ours anyway. */
    struct v4l2_streamparm parm;
    memset(&parm, 0, sizeof(parm));
    parm.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    parm.parm.output.timeperframe.numerator = 1;
    parm.parm.output.timeperframe.denominator = (unsigned)f->fps;
    (void)xioctl(fd, VIDIOC_S_PARM, &parm);
    f->fd = fd;
    say("opened %s as writer", f->device, "");
    return 0;
}

/* Scales (nearest neighbour, keeping the aspect ratio) and letterboxes a
 * picture into the output size, then packs it in the output format. */
static unsigned char *convert(const struct feeder *f, const struct gray_image *img)
{
    unsigned char *luma = malloc((size_t)f->width * (size_t)f->height);
    if (!luma)
        return NULL;
    memset(luma, 128, (size_t)f->width * (size_t)f->height);
    double sx = (double)f->width / img->width, sy = (double)f->height / img->height;
    double s = sx < sy ? sx : sy;
    if (img->width == f->width && img->height == f->height)
        s = 1.0;
    int w = (int)(img->width * s), h = (int)(img->height * s);
    if (w > f->width)
        w = f->width;
    if (h > f->height)
        h = f->height;
    int x0 = (f->width - w) / 2, y0 = (f->height - h) / 2;
    for (int y = 0; y < h; y++) {
        int iy = (int)(y / s);
        if (iy >= img->height)
            iy = img->height - 1;
        const uint8_t *src = img->pixels + (size_t)iy * (size_t)img->width;
        unsigned char *dst = luma + (size_t)(y0 + y) * (size_t)f->width + (size_t)x0;
        for (int x = 0; x < w; x++) {
            int ix = (int)(x / s);
            dst[x] = src[ix < img->width ? ix : img->width - 1];
        }
    }
    if (f->fourcc != V4L2_PIX_FMT_YUYV)
        return luma;
    unsigned char *yuyv = malloc(f->frame_size);
    if (yuyv) {
        size_t pixels = (size_t)f->width * (size_t)f->height;
        for (size_t i = 0; i < pixels; i++) {
            yuyv[2 * i] = luma[i];
            yuyv[2 * i + 1] = 128; /* U and V alternate: no colour */
        }
    }
    free(luma);
    return yuyv;
}

static void drop_frames(struct feeder *f)
{
    for (int i = 0; i < f->nframes; i++)
        free(f->frames[i]);
    f->nframes = 0;
    f->next = 0;
}

/* Loads a new list of pictures; on failure the old list stays. */
static int load_images(struct feeder *f, char **paths, int n, char *err, size_t errlen)
{
    unsigned char *fresh[MAX_IMAGES];
    if (n < 1 || n > MAX_IMAGES) {
        snprintf(err, errlen, "give 1 to %d pictures", MAX_IMAGES);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        struct gray_image img;
        char msg[512];
        if (image_load(paths[i], &img, msg, sizeof(msg)) != IMAGE_OK) {
            snprintf(err, errlen, "%s", msg);
            for (int j = 0; j < i; j++)
                free(fresh[j]);
            return -1;
        }
        fresh[i] = convert(f, &img);
        gray_image_free(&img);
        if (!fresh[i]) {
            snprintf(err, errlen, "out of memory");
            for (int j = 0; j < i; j++)
                free(fresh[j]);
            return -1;
        }
    }
    drop_frames(f);
    memcpy(f->frames, fresh, sizeof(fresh[0]) * (size_t)n);
    f->nframes = n;
    return 0;
}

/* Splits a line into words in place; returns the count. */
static int split(char *s, char **words, int max)
{
    int n = 0;
    for (char *tok = strtok(s, " \t\r\n"); tok && n < max; tok = strtok(NULL, " \t\r\n"))
        words[n++] = tok;
    return n;
}

static void apply_control(struct feeder *f)
{
    FILE *c = fopen(f->control, "r");
    if (!c)
        return;
    char line[CONTROL_MAX];
    char *ok = fgets(line, sizeof(line), c);
    fclose(c);
    if (!ok)
        return;
    char *w[MAX_IMAGES + 2];
    int n = split(line, w, MAX_IMAGES + 2);
    if (n < 2) {
        if (n == 1)
            write_ack(f, w[0], "no command");
        return;
    }
    const char *seq = w[0], *cmd = w[1];
    /* SIGUSR1 and the periodic check may both see one command: apply it once. */
    if (strcmp(seq, f->last_seq) == 0)
        return;
    snprintf(f->last_seq, sizeof(f->last_seq), "%s", seq);
    char err[600];
    if (strcmp(cmd, "show") == 0) {
        if (load_images(f, w + 2, n - 2, err, sizeof(err)) != 0) {
            say("seq %s: %s", seq, err);
            write_ack(f, seq, err);
            return;
        }
        f->mode = MODE_SHOW;
        snprintf(f->pending_ack, sizeof(f->pending_ack), "%s", seq);
        say("seq %s: show %s", seq, w[2]);
    } else if (strcmp(cmd, "pause") == 0) {
        f->mode = MODE_PAUSE;
        say("seq %s: pause%s", seq, "");
        write_ack(f, seq, NULL);
    } else if (strcmp(cmd, "close") == 0) {
        f->mode = MODE_CLOSE;
        close_device(f);
        say("seq %s: close%s", seq, "");
        write_ack(f, seq, NULL);
    } else if (strcmp(cmd, "quit") == 0) {
        f->mode = MODE_QUIT;
        write_ack(f, seq, NULL);
    } else {
        write_ack(f, seq, "unknown command");
    }
}

/* True when the control file was replaced or rewritten since last time. */
static int control_changed(struct feeder *f)
{
    struct stat st;
    if (stat(f->control, &st) != 0)
        return 0;
    if (st.st_ino == f->control_st.st_ino && st.st_size == f->control_st.st_size &&
        st.st_mtim.tv_sec == f->control_st.st_mtim.tv_sec && st.st_mtim.tv_nsec == f->control_st.st_mtim.tv_nsec)
        return 0;
    f->control_st = st;
    return 1;
}

static int write_frame(struct feeder *f)
{
    if (open_device(f) != 0)
        return -1;
    const unsigned char *buf = f->frames[f->next];
    f->next = (f->next + 1) % f->nframes;
    ssize_t n = write(f->fd, buf, f->frame_size);
    if (n != (ssize_t)f->frame_size) {
        say("%s: write: %s", f->device, n < 0 ? strerror(errno) : "short write");
        close_device(f);
        return -1;
    }
    f->frames_written++;
    if (f->pending_ack[0]) {
        write_ack(f, f->pending_ack, NULL);
        f->pending_ack[0] = '\0';
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: v4l2-feed -d /dev/videoN -c CONTROL [-a ACK] [-s WxH] [-f grey|yuyv] [-r FPS] [IMAGE...]\n");
}

static void add_ms(struct timespec *t, long long ms)
{
    t->tv_sec += (time_t)(ms / 1000);
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
}

int main(int argc, char **argv)
{
    struct feeder f;
    memset(&f, 0, sizeof(f));
    f.fd = -1;
    f.width = 640;
    f.height = 480;
    f.fourcc = V4L2_PIX_FMT_GREY;
    f.fps = 10;
    f.mode = MODE_PAUSE;
    const char *ack = NULL;
    int first_image = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            first_image = i;
            break;
        }
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "-d") == 0) {
            f.device = v;
        } else if (strcmp(a, "-c") == 0) {
            f.control = v;
        } else if (strcmp(a, "-a") == 0) {
            ack = v;
        } else if (strcmp(a, "-s") == 0) {
            if (sscanf(v, "%dx%d", &f.width, &f.height) != 2 || f.width < 16 || f.height < 16 ||
                f.width > FRAME_MAX_SIDE || f.height > FRAME_MAX_SIDE || f.width % 2) {
                fprintf(stderr, "v4l2-feed: bad size '%s' (WxH, even width)\n", v);
                return 2;
            }
        } else if (strcmp(a, "-f") == 0) {
            if (strcmp(v, "grey") == 0 || strcmp(v, "GREY") == 0) {
                f.fourcc = V4L2_PIX_FMT_GREY;
            } else if (strcmp(v, "yuyv") == 0 || strcmp(v, "YUYV") == 0) {
                f.fourcc = V4L2_PIX_FMT_YUYV;
            } else {
                fprintf(stderr, "v4l2-feed: format must be grey or yuyv\n");
                return 2;
            }
        } else if (strcmp(a, "-r") == 0) {
            f.fps = atoi(v);
            if (f.fps < 1 || f.fps > 120) {
                fprintf(stderr, "v4l2-feed: fps must be 1..120\n");
                return 2;
            }
        } else {
            usage();
            return 2;
        }
    }
    if (!f.device || !f.control) {
        usage();
        return 2;
    }
    snprintf(f.ack, sizeof(f.ack), "%s%s", ack ? ack : f.control, ack ? "" : ".ack");
    f.frame_size = (size_t)f.width * (size_t)f.height * (f.fourcc == V4L2_PIX_FMT_YUYV ? 2 : 1);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa)); /* no SA_RESTART: a signal cuts the sleep short */
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    /* A control file left from before describes the past: only later changes count. */
    (void)control_changed(&f);
    /* "0 T_MS": the signal handlers are in place, SIGUSR1 is safe to send. */
    write_ack(&f, "0", NULL);
    if (first_image < argc) {
        char err[600];
        if (load_images(&f, argv + first_image, argc - first_image, err, sizeof(err)) != 0) {
            fprintf(stderr, "v4l2-feed: %s\n", err);
            return 1;
        }
        f.mode = MODE_SHOW;
    }

    long long period = 1000 / f.fps;
    struct timespec next_frame;
    clock_gettime(CLOCK_MONOTONIC, &next_frame);
    while (!stop && f.mode != MODE_QUIT) {
        if (wake || control_changed(&f)) {
            wake = 0;
            (void)control_changed(&f); /* remember what was read, even after SIGUSR1 */
            enum mode before = f.mode;
            apply_control(&f);
            if (f.mode == MODE_SHOW && before != MODE_SHOW)
                clock_gettime(CLOCK_MONOTONIC, &next_frame);
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (f.mode == MODE_SHOW && f.nframes > 0 &&
            (now.tv_sec > next_frame.tv_sec ||
             (now.tv_sec == next_frame.tv_sec && now.tv_nsec >= next_frame.tv_nsec))) {
            if (write_frame(&f) != 0) {
                /* The device is gone or refused us: try again in a second. */
                next_frame = now;
                add_ms(&next_frame, 1000);
            } else {
                add_ms(&next_frame, period);
                /* Behind by more than a frame (a slow emulator): do not burst. */
                struct timespec late = next_frame;
                add_ms(&late, period);
                if (now.tv_sec > late.tv_sec || (now.tv_sec == late.tv_sec && now.tv_nsec > late.tv_nsec)) {
                    next_frame = now;
                    add_ms(&next_frame, period);
                }
            }
        }
        struct timespec until = now;
        add_ms(&until, CONTROL_POLL_MS);
        if (f.mode == MODE_SHOW && (next_frame.tv_sec < until.tv_sec ||
                                    (next_frame.tv_sec == until.tv_sec && next_frame.tv_nsec < until.tv_nsec)))
            until = next_frame;
        if (!wake)
            (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
    }
    fprintf(stderr, "v4l2-feed: %lld stopping after %lld frames\n", now_ms(), f.frames_written);
    close_device(&f);
    drop_frames(&f);
    return 0;
}
