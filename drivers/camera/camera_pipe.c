/* camera_pipe.c - raw YUV420 frames from a command or a FIFO.
 *
 * Pi CSI camera modules are driven by libcamera, whose API is C++ only; its
 * tool streams raw frames instead: `pipe:rpicam-vid -t 0 --codec yuv420
 * --width 1280 --height 720 -o -`. Each frame is the luma plane (width x
 * height) followed by the two chroma planes (a quarter each); we keep the
 * luma of the newest complete frame and drop older ones, like the V4L2 loop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers/camera.h"

extern char **environ;

struct camera {
    int fd;
    pid_t child; /* 0 when reading a FIFO */
    int width, height;
    size_t frame_size;
    uint8_t *filling; /* the frame being read */
    size_t fill;
    uint8_t *latest; /* the newest complete frame */
    bool have_latest;
};

static int start_command(struct camera *cam, const char *cmd, char *err, size_t errlen)
{
    int fds[2];
    /* Close-on-exec on both ends: the child keeps only its dup'ed stdout. */
    if (pipe(fds) != 0 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: cannot make a pipe: %s", strerror(errno));
        return CAMERA_ERR_IO;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    char *argv[] = { "sh", "-c", (char *)cmd, NULL };
    int rc = posix_spawn(&cam->child, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(err, errlen, "pipe: cannot start '%s': %s", cmd, strerror(rc));
        return CAMERA_ERR_IO;
    }
    cam->fd = fds[0];
    return fcntl(cam->fd, F_SETFL, O_NONBLOCK) == 0 ? 0 : CAMERA_ERR_IO;
}

static void stop_child(struct camera *cam)
{
    if (cam->child <= 0)
        return;
    kill(cam->child, SIGTERM);
    for (int i = 0; i < 50; i++) { /* up to 0.5 s to exit cleanly */
        if (waitpid(cam->child, NULL, WNOHANG) == cam->child) {
            cam->child = 0;
            return;
        }
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    kill(cam->child, SIGKILL);
    waitpid(cam->child, NULL, 0);
    cam->child = 0;
}

static void pipe_close(struct camera *cam)
{
    if (!cam)
        return;
    if (cam->fd >= 0)
        close(cam->fd);
    stop_child(cam);
    free(cam->filling);
    free(cam->latest);
    free(cam);
}

static int pipe_open(struct camera **out, const struct camera_config *cfg, char *err, size_t errlen)
{
    *out = NULL;
    const char *arg = camera_source_arg(cfg->source);
    if (cfg->width <= 0 || cfg->height <= 0 || cfg->width > FRAME_MAX_SIDE || cfg->height > FRAME_MAX_SIDE ||
        cfg->width % 2 || cfg->height % 2 || !*arg) {
        snprintf(err, errlen, "pipe: needs a command or FIFO and an even width and height (got %dx%d)", cfg->width,
                 cfg->height);
        return CAMERA_ERR_CONFIG;
    }
    struct camera *cam = calloc(1, sizeof(*cam));
    if (!cam)
        return CAMERA_ERR_IO;
    cam->fd = -1;
    cam->width = cfg->width;
    cam->height = cfg->height;
    cam->frame_size = (size_t)cfg->width * (size_t)cfg->height * 3 / 2;
    cam->filling = malloc(cam->frame_size);
    cam->latest = malloc(cam->frame_size);
    int rc = cam->filling && cam->latest ? 0 : CAMERA_ERR_IO;
    struct stat st;
    if (rc == 0 && stat(arg, &st) == 0 && S_ISFIFO(st.st_mode)) {
        cam->fd = open(arg, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (cam->fd < 0) {
            snprintf(err, errlen, "pipe:%s: cannot open the FIFO: %s", arg, strerror(errno));
            rc = CAMERA_ERR_GONE;
        }
    } else if (rc == 0) {
        rc = start_command(cam, arg, err, errlen);
    }
    if (rc != 0) {
        pipe_close(cam);
        return rc;
    }
    *out = cam;
    return 0;
}

/* Reads whatever is ready. Returns 0, or CAMERA_ERR_GONE at end of stream. */
static int read_ready(struct camera *cam, char *err, size_t errlen)
{
    for (;;) {
        ssize_t n = read(cam->fd, cam->filling + cam->fill, cam->frame_size - cam->fill);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : CAMERA_ERR_GONE;
        if (n == 0) {
            snprintf(err, errlen, "pipe: the frame source ended (command exited or FIFO closed)");
            return CAMERA_ERR_GONE;
        }
        cam->fill += (size_t)n;
        if (cam->fill == cam->frame_size) { /* complete: it becomes the newest */
            uint8_t *t = cam->latest;
            cam->latest = cam->filling;
            cam->filling = t;
            cam->fill = 0;
            cam->have_latest = true;
        }
    }
}

static int pipe_next_frame(struct camera *cam, struct frame *out, int timeout_ms, char *err, size_t errlen)
{
    cam->have_latest = false;
    int rc = read_ready(cam, err, errlen);
    if (rc == 0 && !cam->have_latest) {
        struct pollfd p = { .fd = cam->fd, .events = POLLIN };
        if (poll(&p, 1, timeout_ms) > 0)
            rc = read_ready(cam, err, errlen);
    }
    if (cam->have_latest) { /* deliver what we have even if the stream just ended */
        *out = (struct frame){ cam->width, cam->height, cam->width, cam->latest };
        return CAMERA_FRAME;
    }
    return rc != 0 ? rc : CAMERA_TIMEOUT;
}

const struct camera_ops camera_pipe_ops = {
    .scheme = "pipe",
    .open = pipe_open,
    .close = pipe_close,
    .next_frame = pipe_next_frame,
};
