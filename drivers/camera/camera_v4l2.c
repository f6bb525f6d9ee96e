/* camera_v4l2.c - USB UVC webcams through V4L2 streaming I/O.
 *
 * The shape of the best capture loops (ustreamer, libcamera's v4l2 compat):
 * non-blocking fd, a few MMAP buffers, poll() with a timeout, and on every
 * wake-up drain the queue keeping only the newest good buffer, so a slow
 * decode never makes the desk look at a stale frame. Planar luma is handed
 * out in place (the buffer stays dequeued until the next call); packed YUV
 * and MJPEG are converted into a buffer of ours. */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/image_io.h"
#include "base/pixfmt.h"
#include "drivers/camera.h"

#define V4L2_BUFFERS 4

struct mapped {
    void *start;
    size_t length;
};

struct camera {
    int fd;
    char path[256];
    enum pixfmt fmt;
    int width, height, bytesperline;
    struct mapped buf[V4L2_BUFFERS];
    unsigned nbuf;
    int held;               /* index of the buffer lent out as a frame, or -1 */
    struct gray_image luma; /* converted frames (packed YUV, MJPEG) */
};

static const uint32_t fourcc[PIXFMT_COUNT] = {
    [PIXFMT_GREY] = V4L2_PIX_FMT_GREY, [PIXFMT_YUYV] = V4L2_PIX_FMT_YUYV, [PIXFMT_UYVY] = V4L2_PIX_FMT_UYVY,
    [PIXFMT_NV12] = V4L2_PIX_FMT_NV12, [PIXFMT_YU12] = V4L2_PIX_FMT_YUV420, [PIXFMT_MJPEG] = V4L2_PIX_FMT_MJPEG,
};

/* Raw formats first: no decode cost. MJPEG last, though most UVC cameras
 * only reach 720p at a useful rate in MJPEG: configure format = mjpeg then. */
static const enum pixfmt preference[] = { PIXFMT_GREY, PIXFMT_YUYV, PIXFMT_UYVY, PIXFMT_NV12, PIXFMT_YU12, PIXFMT_MJPEG };

static int xioctl(int fd, unsigned long req, void *arg)
{
    int r;
    do
        r = ioctl(fd, req, arg);
    while (r == -1 && errno == EINTR);
    return r;
}

static bool gone_errno(int e)
{
    return e == ENODEV || e == EIO || e == ENXIO;
}

static bool device_offers(int fd, uint32_t want)
{
    struct v4l2_fmtdesc d;
    memset(&d, 0, sizeof(d));
    d.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    for (d.index = 0; xioctl(fd, VIDIOC_ENUM_FMT, &d) == 0; d.index++)
        if (d.pixelformat == want)
            return true;
    return false;
}

static int choose_format(struct camera *cam, const char *name, char *err, size_t errlen)
{
    if (name && *name && strcmp(name, "auto") != 0) {
        int f = pixfmt_from_name(name);
        if (f < 0 || !device_offers(cam->fd, fourcc[f])) {
            snprintf(err, errlen, "%s: format '%s' is not offered (see `v4l2-ctl -d %s --list-formats`)", cam->path,
                     name, cam->path);
            return CAMERA_ERR_CONFIG;
        }
        cam->fmt = (enum pixfmt)f;
        return 0;
    }
    for (size_t i = 0; i < sizeof(preference) / sizeof(preference[0]); i++)
        if (device_offers(cam->fd, fourcc[preference[i]])) {
            cam->fmt = preference[i];
            return 0;
        }
    snprintf(err, errlen, "%s: offers none of GREY, YUYV, UYVY, NV12, YU12, MJPEG", cam->path);
    return CAMERA_ERR_CONFIG;
}

static int set_format(struct camera *cam, const struct camera_config *cfg, char *err, size_t errlen)
{
    struct v4l2_format f;
    memset(&f, 0, sizeof(f));
    f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    f.fmt.pix.width = (unsigned)(cfg->width > 0 ? cfg->width : 1280);
    f.fmt.pix.height = (unsigned)(cfg->height > 0 ? cfg->height : 720);
    f.fmt.pix.pixelformat = fourcc[cam->fmt];
    f.fmt.pix.field = V4L2_FIELD_NONE;
    if (xioctl(cam->fd, VIDIOC_S_FMT, &f) != 0) {
        snprintf(err, errlen, "%s: cannot set %s %dx%d: %s", cam->path, pixfmt_name(cam->fmt), cfg->width,
                 cfg->height, strerror(errno));
        return gone_errno(errno) ? CAMERA_ERR_GONE : CAMERA_ERR_CONFIG;
    }
    /* The driver may pick another size: use what it says. */
    cam->width = (int)f.fmt.pix.width;
    cam->height = (int)f.fmt.pix.height;
    cam->bytesperline = (int)f.fmt.pix.bytesperline;
    if (cam->bytesperline == 0)
        cam->bytesperline = cam->fmt == PIXFMT_YUYV || cam->fmt == PIXFMT_UYVY ? 2 * cam->width : cam->width;
    if (cam->width <= 0 || cam->height <= 0 || cam->width > FRAME_MAX_SIDE || cam->height > FRAME_MAX_SIDE) {
        snprintf(err, errlen, "%s: driver chose an unusable size %dx%d", cam->path, cam->width, cam->height);
        return CAMERA_ERR_CONFIG;
    }
    if (cfg->fps > 0) {
        struct v4l2_streamparm p;
        memset(&p, 0, sizeof(p));
        p.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        p.parm.capture.timeperframe.numerator = 1;
        p.parm.capture.timeperframe.denominator = (unsigned)cfg->fps;
        (void)xioctl(cam->fd, VIDIOC_S_PARM, &p); /* best effort: many drivers fix the rate */
    }
    return 0;
}

/* Sets a control when the camera has it; cameras without autofocus simply
 * have no focus control, which is not an error. */
static void set_control(int fd, uint32_t id, int value)
{
    struct v4l2_queryctrl q;
    memset(&q, 0, sizeof(q));
    q.id = id;
    if (xioctl(fd, VIDIOC_QUERYCTRL, &q) != 0 || (q.flags & V4L2_CTRL_FLAG_DISABLED))
        return;
    struct v4l2_control c = { .id = id, .value = value };
    (void)xioctl(fd, VIDIOC_S_CTRL, &c);
}

/* Close-up cards: a fixed focus and exposure often read better than the
 * camera's own guesses, which chase the background. */
static void set_controls(int fd, const struct camera_config *cfg)
{
    if (cfg->focus < 0) {
        set_control(fd, V4L2_CID_FOCUS_AUTO, 1);
    } else {
        set_control(fd, V4L2_CID_FOCUS_AUTO, 0);
        set_control(fd, V4L2_CID_FOCUS_ABSOLUTE, cfg->focus);
    }
    if (cfg->exposure < 0) {
        set_control(fd, V4L2_CID_EXPOSURE_AUTO, V4L2_EXPOSURE_APERTURE_PRIORITY);
    } else {
        set_control(fd, V4L2_CID_EXPOSURE_AUTO, V4L2_EXPOSURE_MANUAL);
        set_control(fd, V4L2_CID_EXPOSURE_ABSOLUTE, cfg->exposure);
    }
}

static int queue_buffer(struct camera *cam, unsigned index)
{
    struct v4l2_buffer b;
    memset(&b, 0, sizeof(b));
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = index;
    return xioctl(cam->fd, VIDIOC_QBUF, &b);
}

static int map_buffers(struct camera *cam, char *err, size_t errlen)
{
    struct v4l2_requestbuffers req;
    memset(&req, 0, sizeof(req));
    req.count = V4L2_BUFFERS;
    req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    req.memory = V4L2_MEMORY_MMAP;
    if (xioctl(cam->fd, VIDIOC_REQBUFS, &req) != 0 || req.count < 2) {
        snprintf(err, errlen, "%s: no MMAP streaming buffers: %s", cam->path, strerror(errno));
        return CAMERA_ERR_IO;
    }
    cam->nbuf = req.count < V4L2_BUFFERS ? req.count : V4L2_BUFFERS;
    for (unsigned i = 0; i < cam->nbuf; i++) {
        struct v4l2_buffer b;
        memset(&b, 0, sizeof(b));
        b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        b.memory = V4L2_MEMORY_MMAP;
        b.index = i;
        if (xioctl(cam->fd, VIDIOC_QUERYBUF, &b) != 0)
            goto fail;
        cam->buf[i].length = b.length;
        cam->buf[i].start = mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, cam->fd, b.m.offset);
        if (cam->buf[i].start == MAP_FAILED) {
            cam->buf[i].start = NULL;
            goto fail;
        }
        if (queue_buffer(cam, i) != 0)
            goto fail;
    }
    return 0;
fail:
    snprintf(err, errlen, "%s: cannot map or queue capture buffers: %s", cam->path, strerror(errno));
    return gone_errno(errno) ? CAMERA_ERR_GONE : CAMERA_ERR_IO;
}

static void v4l2_close(struct camera *cam)
{
    if (!cam)
        return;
    if (cam->fd >= 0) {
        enum v4l2_buf_type t = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        (void)xioctl(cam->fd, VIDIOC_STREAMOFF, &t);
    }
    for (unsigned i = 0; i < cam->nbuf; i++)
        if (cam->buf[i].start)
            munmap(cam->buf[i].start, cam->buf[i].length);
    if (cam->fd >= 0)
        close(cam->fd);
    gray_image_free(&cam->luma);
    free(cam);
}

static int check_capture_device(struct camera *cam, char *err, size_t errlen)
{
    struct v4l2_capability cap;
    memset(&cap, 0, sizeof(cap));
    if (xioctl(cam->fd, VIDIOC_QUERYCAP, &cap) != 0) {
        snprintf(err, errlen, "%s: not a V4L2 device: %s", cam->path, strerror(errno));
        return gone_errno(errno) ? CAMERA_ERR_GONE : CAMERA_ERR_CONFIG;
    }
    uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
    if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING)) {
        snprintf(err, errlen, "%s (%.32s) cannot stream video capture; is it the camera's metadata node?",
                 cam->path, (const char *)cap.card);
        return CAMERA_ERR_CONFIG;
    }
    return 0;
}

static int v4l2_open(struct camera **out, const struct camera_config *cfg, char *err, size_t errlen)
{
    *out = NULL;
    struct camera *cam = calloc(1, sizeof(*cam));
    if (!cam) {
        snprintf(err, errlen, "out of memory for the camera");
        return CAMERA_ERR_IO;
    }
    cam->held = -1;
    snprintf(cam->path, sizeof(cam->path), "%s", camera_source_arg(cfg->source));
    cam->fd = open(cam->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (cam->fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s%s", cam->path, strerror(errno),
                 errno == EACCES ? " (is the service user in the 'video' group?)" : "");
        int rc = errno == ENOENT || gone_errno(errno) ? CAMERA_ERR_GONE : CAMERA_ERR_CONFIG;
        v4l2_close(cam);
        return rc;
    }
    int rc = check_capture_device(cam, err, errlen);
    if (rc == 0)
        rc = choose_format(cam, cfg->format, err, errlen);
    if (rc == 0)
        rc = set_format(cam, cfg, err, errlen);
    if (rc == 0) {
        set_controls(cam->fd, cfg);
        rc = map_buffers(cam, err, errlen);
    }
    enum v4l2_buf_type t = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (rc == 0 && xioctl(cam->fd, VIDIOC_STREAMON, &t) != 0) {
        snprintf(err, errlen, "%s: cannot start streaming: %s", cam->path, strerror(errno));
        rc = gone_errno(errno) ? CAMERA_ERR_GONE : CAMERA_ERR_IO;
    }
    if (rc != 0) {
        v4l2_close(cam);
        return rc;
    }
    *out = cam;
    return 0;
}

/* A buffer worth decoding: no error flag, and as many bytes as the format needs. */
static bool buffer_good(const struct camera *cam, const struct v4l2_buffer *b)
{
    if (b->flags & V4L2_BUF_FLAG_ERROR || b->index >= cam->nbuf)
        return false;
    const uint8_t *data = cam->buf[b->index].start;
    if (cam->fmt == PIXFMT_MJPEG)
        return pixfmt_jpeg_complete(data, b->bytesused);
    size_t need = pixfmt_frame_size(cam->fmt, cam->width, cam->height, cam->bytesperline);
    /* Some drivers leave bytesused at 0 for raw formats: trust the length then. */
    size_t have = b->bytesused ? b->bytesused : cam->buf[b->index].length;
    return have >= need;
}

/* Dequeues everything ready and leaves the newest good buffer's index in
 * *newest (-1 if none); older buffers go straight back. Returns 0 or a
 * camera_status error. */
static int drain_newest(struct camera *cam, int *newest, size_t *bytesused, char *err, size_t errlen)
{
    *newest = -1;
    for (;;) {
        struct v4l2_buffer b;
        memset(&b, 0, sizeof(b));
        b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        b.memory = V4L2_MEMORY_MMAP;
        if (xioctl(cam->fd, VIDIOC_DQBUF, &b) != 0) {
            if (errno == EAGAIN)
                return 0;
            snprintf(err, errlen, "%s: capture failed: %s", cam->path, strerror(errno));
            return gone_errno(errno) ? CAMERA_ERR_GONE : CAMERA_ERR_IO;
        }
        if (!buffer_good(cam, &b)) {
            (void)queue_buffer(cam, b.index); /* dropped: corrupt or short */
            continue;
        }
        if (*newest >= 0)
            (void)queue_buffer(cam, (unsigned)*newest);
        *newest = (int)b.index;
        *bytesused = b.bytesused;
    }
}

static int to_frame(struct camera *cam, int index, size_t bytesused, struct frame *out, char *err, size_t errlen)
{
    const uint8_t *data = cam->buf[index].start;
    if (pixfmt_luma_in_place(cam->fmt)) {
        *out = (struct frame){ cam->width, cam->height, cam->bytesperline, data };
        return CAMERA_FRAME;
    }
    if (cam->fmt == PIXFMT_MJPEG) {
        if (image_decode_jpeg_reuse(data, bytesused, &cam->luma, err, errlen) != IMAGE_OK)
            return CAMERA_TIMEOUT; /* a bad JPEG is a dropped frame */
    } else {
        if (!cam->luma.pixels || cam->luma.width != cam->width || cam->luma.height != cam->height) {
            gray_image_free(&cam->luma);
            if (gray_image_alloc(&cam->luma, cam->width, cam->height, 0) != IMAGE_OK) {
                snprintf(err, errlen, "out of memory for a %dx%d frame", cam->width, cam->height);
                return CAMERA_ERR_IO;
            }
        }
        pixfmt_packed_to_luma(cam->fmt, data, cam->bytesperline, cam->width, cam->height, cam->luma.pixels);
    }
    *out = gray_image_frame(&cam->luma);
    return CAMERA_FRAME;
}

static int v4l2_next_frame(struct camera *cam, struct frame *out, int timeout_ms, char *err, size_t errlen)
{
    if (cam->held >= 0) { /* the frame lent out last time is done with */
        (void)queue_buffer(cam, (unsigned)cam->held);
        cam->held = -1;
    }
    struct pollfd p = { .fd = cam->fd, .events = POLLIN };
    int n = poll(&p, 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? CAMERA_TIMEOUT : CAMERA_ERR_IO;
    if (n == 0)
        return CAMERA_TIMEOUT;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
        snprintf(err, errlen, "%s: device stopped delivering (unplugged?)", cam->path);
        return CAMERA_ERR_GONE;
    }
    size_t used = 0;
    int index;
    int rc = drain_newest(cam, &index, &used, err, errlen);
    if (rc != 0)
        return rc;
    if (index < 0)
        return CAMERA_TIMEOUT;
    rc = to_frame(cam, index, used, out, err, errlen);
    if (rc == CAMERA_FRAME && pixfmt_luma_in_place(cam->fmt))
        cam->held = index; /* in place: requeue on the next call */
    else
        (void)queue_buffer(cam, (unsigned)index);
    return rc;
}

const struct camera_ops camera_v4l2_ops = {
    .scheme = "v4l2",
    .open = v4l2_open,
    .close = v4l2_close,
    .next_frame = v4l2_next_frame,
};
