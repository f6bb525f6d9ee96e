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

/* Opens path for reading only if it is a regular file. The open itself
 * never blocks (O_NONBLOCK: a FIFO named by mistake would otherwise hang the
 * service at start); a directory, FIFO, socket or device is refused with
 * its path and what it is. Returns the descriptor (blocking again, close-
 * on-exec), or -1 with err: "PATH: REASON". */
int file_open_regular(const char *path, char *err, size_t errlen);

/* The whole of a regular file (file_open_regular), at most max bytes, with
 * a NUL after them: *out is malloc'd (free it). Returns 0, -2 when the file
 * is larger than max, or -1; err names the path and the reason (errno's
 * text, "is a directory", "is larger than MAX bytes"). */
int file_read_all(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen);

/* For files holding secrets (private keys): refuses one that group or
 * others may read or write, saying which chmod to run. 0 or -1 with err. */
int file_check_private(int fd, const char *path, const char *what, char *err, size_t errlen);

/* file_read_all for a secret: also refuses a file group or others may
 * read (file_check_private); what names it in messages ("TLS key file"). */
int file_read_secret(const char *path, const char *what, size_t max, char **out, size_t *len, char *err,
                     size_t errlen);

/* Reads until n bytes or the end of the file, through interruptions and
 * short reads: at offset off (pread), or from the current position when
 * off < 0. Returns the bytes read, or -1 with errno set. */
ssize_t file_read_full(int fd, void *buf, size_t n, int64_t off);

#endif
