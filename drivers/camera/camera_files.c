/* camera_files.c - pictures replayed as a camera: for the demo and tests.
 *
 * `files:DIR` replays the directory's pictures (.png .pgm .jpg .jpeg) in
 * name order; `files:a.png,b.png` replays a list. Frames come at the
 * configured rate, as a camera would deliver them. A picture that cannot be
 * read is skipped with an error report, never the end of the replay. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/image_io.h"
#include "drivers/camera.h"

#define FILES_MAX 4096

struct camera {
    char **paths;
    int count;
    int next;
    bool loop;
    long period_ms;
    long long due_ms; /* when the next frame may be delivered */
    struct gray_image shown;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool picture_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcmp(dot, ".png") == 0 || strcmp(dot, ".pgm") == 0 || strcmp(dot, ".jpg") == 0 ||
                   strcmp(dot, ".jpeg") == 0);
}

static int add_path(struct camera *cam, const char *dir, const char *name)
{
    if (cam->count >= FILES_MAX)
        return -1;
    size_t n = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *p = malloc(n);
    if (!p)
        return -1;
    if (dir)
        snprintf(p, n, "%s/%s", dir, name);
    else
        snprintf(p, n, "%s", name);
    cam->paths[cam->count++] = p;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(struct camera *cam, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "files:%s: cannot open the directory: %s", dir, strerror(errno));
        return CAMERA_ERR_CONFIG;
    }
    struct dirent *e;
    int rc = 0, list_errno = 0;
    for (;;) {
        errno = 0;
        if (!(e = readdir(d))) {
            list_errno = errno; /* 0 at the end of the directory */
            break;
        }
        if (e->d_name[0] != '.' && picture_name(e->d_name) && (rc = add_path(cam, dir, e->d_name)) != 0)
            break;
    }
    closedir(d);
    qsort(cam->paths, (size_t)cam->count, sizeof(char *), by_name);
    if (list_errno) {
        snprintf(err, errlen, "files:%s: cannot list the directory: %s", dir, strerror(list_errno));
        return CAMERA_ERR_IO;
    }
    if (rc != 0)
        snprintf(err, errlen, "files:%s: more than %d pictures, or out of memory", dir, FILES_MAX);
    return rc == 0 ? 0 : CAMERA_ERR_CONFIG;
}

static int list_files(struct camera *cam, const char *list, char *err, size_t errlen)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy)
        return CAMERA_ERR_IO;
    int rc = 0;
    struct stat st;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        if (stat(tok, &st) != 0) {
            snprintf(err, errlen, "files:%s: %s", tok, strerror(errno));
            rc = CAMERA_ERR_CONFIG;
        } else if (add_path(cam, NULL, tok) != 0) {
            snprintf(err, errlen, "files: more than %d pictures, or out of memory", FILES_MAX);
            rc = CAMERA_ERR_CONFIG;
        }
    }
    free(copy);
    return rc;
}

static void files_close(struct camera *cam)
{
    if (!cam)
        return;
    for (int i = 0; i < cam->count; i++)
        free(cam->paths[i]);
    free(cam->paths);
    gray_image_free(&cam->shown);
    free(cam);
}

static int files_open(struct camera **out, const struct camera_config *cfg, char *err, size_t errlen)
{
    *out = NULL;
    const char *arg = camera_source_arg(cfg->source);
    struct camera *cam = calloc(1, sizeof(*cam));
    if (!cam || !(cam->paths = calloc(FILES_MAX, sizeof(char *)))) {
        free(cam);
        snprintf(err, errlen, "out of memory for the file list");
        return CAMERA_ERR_IO;
    }
    struct stat st;
    int rc = stat(arg, &st) == 0 && S_ISDIR(st.st_mode) ? list_dir(cam, arg, err, errlen)
                                                          : list_files(cam, arg, err, errlen);
    if (rc == 0 && cam->count == 0) {
        snprintf(err, errlen, "files:%s: no .png, .pgm or .jpg pictures there", arg);
        rc = CAMERA_ERR_CONFIG;
    }
    if (rc != 0) {
        files_close(cam);
        return rc;
    }
    cam->loop = cfg->loop;
    cam->period_ms = 1000 / (cfg->fps > 0 ? cfg->fps : 10);
    cam->due_ms = now_ms();
    *out = cam;
    return 0;
}

static void sleep_ms(long long ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int files_next_frame(struct camera *cam, struct frame *out, int timeout_ms, char *err, size_t errlen)
{
    if (cam->next >= cam->count) {
        if (!cam->loop)
            return CAMERA_END;
        cam->next = 0;
    }
    long long wait = cam->due_ms - now_ms();
    if (wait > timeout_ms) {
        sleep_ms(timeout_ms);
        return CAMERA_TIMEOUT;
    }
    if (wait > 0)
        sleep_ms(wait);
    cam->due_ms += cam->period_ms;
    const char *path = cam->paths[cam->next++];
    gray_image_free(&cam->shown);
    if (image_load(path, &cam->shown, err, errlen) != IMAGE_OK)
        return CAMERA_ERR_IO;
    *out = gray_image_frame(&cam->shown);
    return CAMERA_FRAME;
}

const struct camera_ops camera_files_ops = {
    .scheme = "files",
    .open = files_open,
    .close = files_close,
    .next_frame = files_next_frame,
};
