/* camera.c - picks the camera backend from the source string's scheme. */
#include "drivers/camera.h"

#include <string.h>

static const struct camera_ops *const backends[] = { &camera_v4l2_ops, &camera_pipe_ops, &camera_files_ops };

const struct camera_ops *camera_ops_for(const char *source)
{
    if (!source)
        return NULL;
    const char *colon = strchr(source, ':');
    if (!colon)
        return NULL;
    size_t n = (size_t)(colon - source);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strlen(backends[i]->scheme) == n && strncmp(source, backends[i]->scheme, n) == 0)
            return backends[i];
    return NULL;
}

const char *camera_source_arg(const char *source)
{
    const char *colon = source ? strchr(source, ':') : NULL;
    return colon ? colon + 1 : "";
}
