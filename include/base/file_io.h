/* file_io.h - reading and replacing files the way every module needs it. */
#ifndef CCCD_FILE_IO_H
#define CCCD_FILE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Replaces a small file so that a power cut leaves either the old one or
 * the new one: writes a temporary file beside it (created 0600, so a key is
 * never readable by others, even briefly), sets the mode, fsyncs, renames
 * over the old name, fsyncs the directory. Returns 0, or -1 with err naming
 * the file and the reason. */
int file_replace(const char *path, const void *data, size_t len, mode_t mode, char *err, size_t errlen);

/* Reads until n bytes or the end of the file, through interruptions and
 * short reads: at offset off (pread), or from the current position when
 * off < 0. Returns the bytes read, or -1 with errno set. */
ssize_t file_read_full(int fd, void *buf, size_t n, int64_t off);

#endif
