/* file_io.h - replace a small file so that a power cut leaves either the
 * old one or the new one: write a temporary file beside it (created 0600,
 * so a key is never readable by others, even briefly), set the mode, fsync,
 * rename over the old name, fsync the directory. */
#ifndef CCCD_FILE_IO_H
#define CCCD_FILE_IO_H

#include <stddef.h>
#include <sys/types.h>

/* Returns 0, or -1 with err naming the file and the reason. */
int file_replace(const char *path, const void *data, size_t len, mode_t mode, char *err, size_t errlen);

#endif
