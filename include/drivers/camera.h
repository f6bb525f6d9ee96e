/* camera.h - where frames come from, behind a small vtable.
 *
 * Sources, chosen by the config's `source` string:
 *   v4l2:/dev/videoN  USB UVC webcams (drivers/camera/camera_v4l2.c)
 *   pipe:COMMAND      raw YUV420 frames from a command or FIFO, for Pi CSI
 *                     modules: `rpicam-vid -t 0 --codec yuv420 -o -` (camera_pipe.c)
 *   files:PATH        a directory or a comma-separated list of pictures,
 *                     replayed at a rate, for the demo and tests (camera_files.c)
 * The loop never knows which it has. A frame handed out stays valid until
 * the next next_frame() or close() on the same camera.
 */
#ifndef CCCD_CAMERA_H
#define CCCD_CAMERA_H

#include <stdbool.h>
#include <stddef.h>

#include "base/frame.h"

/* Stable codes returned by next_frame() and open(). */
enum camera_status {
    CAMERA_FRAME = 1,       /* a frame is in *out */
    CAMERA_TIMEOUT = 0,     /* no frame within the timeout: try again */
    CAMERA_ERR_GONE = -1,   /* device unplugged or stopped: close and reopen later */
    CAMERA_ERR_CONFIG = -2, /* the source string or settings cannot work: fix the config */
    CAMERA_ERR_IO = -3,     /* other failure; reopening may help */
    CAMERA_END = -4,        /* files: every picture shown (only with loop = false) */
};

struct camera_config {
    const char *source; /* "v4l2:/dev/video0", "pipe:...", "files:..." */
    int width, height;  /* wanted size (v4l2: asked for; pipe: the frames' size) */
    int fps;            /* wanted rate (files: the replay rate) */
    const char *format; /* v4l2: "auto", "grey", "yuyv", "uyvy", "nv12", "yu12", "mjpeg" */
    int focus;          /* v4l2: -1 = auto focus, else the absolute focus value */
    int exposure;       /* v4l2: -1 = auto exposure, else absolute exposure (100 µs units) */
    bool loop;          /* files: start again after the last picture */
};

struct camera;

struct camera_ops {
    const char *scheme; /* "v4l2", "pipe", "files" */
    int (*open)(struct camera **out, const struct camera_config *cfg, char *err, size_t errlen);
    void (*close)(struct camera *cam);
    /* Waits up to timeout_ms for the newest frame. On CAMERA_FRAME, *out
     * points into the camera's own buffer. Errors fill err. */
    int (*next_frame)(struct camera *cam, struct frame *out, int timeout_ms, char *err, size_t errlen);
};

extern const struct camera_ops camera_v4l2_ops;
extern const struct camera_ops camera_pipe_ops;
extern const struct camera_ops camera_files_ops;

/* The ops for a source string ("v4l2:...", ...); NULL when the scheme is unknown. */
const struct camera_ops *camera_ops_for(const char *source);
/* The part after "scheme:". */
const char *camera_source_arg(const char *source);

#endif
