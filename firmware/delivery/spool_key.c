/* spool_key.c - spool_load_key(): the at-rest key from a file.
 *
 * The key protects the patients' data on a stolen SD card only as long as
 * the file itself is private, so a file readable by anyone but its owner is
 * refused, not used. Messages name the file and the fix, never key bytes. */
#include "delivery/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 32 raw bytes, or 64 hex digits and an optional newline (CRLF too). */
static int parse_key(const unsigned char *buf, size_t n, uint8_t key[SPOOL_KEY_LEN])
{
    if (n == SPOOL_KEY_LEN) {
        memcpy(key, buf, SPOOL_KEY_LEN);
        return 0;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n != 2 * SPOOL_KEY_LEN)
        return -1;
    for (size_t i = 0; i < SPOOL_KEY_LEN; i++) {
        int hi = hex_digit(buf[2 * i]), lo = hex_digit(buf[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Up to cap bytes of the file; bytes read, or -1 (errno). */
static ssize_t read_some(int fd, unsigned char *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int check_file(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "spool key file %s: cannot stat: %s", path, strerror(errno));
        return SPOOL_ERR_KEY;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "spool key file %s is not a regular file", path);
        return SPOOL_ERR_KEY;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen,
                 "spool key file %s is open to group or others (mode %04o): run chmod 600 %s "
                 "(and consider replacing the key: others may have read it)",
                 path, (unsigned)(st.st_mode & 07777), path);
        return SPOOL_ERR_KEY;
    }
    return 0;
}

int spool_load_key(const char *path, uint8_t key[SPOOL_KEY_LEN], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "spool key file %s: cannot open: %s", path, strerror(errno));
        return SPOOL_ERR_KEY;
    }
    int rc = check_file(fd, path, err, errlen);
    /* One byte more than the longest valid file tells "too long" apart. */
    unsigned char buf[2 * SPOOL_KEY_LEN + 3];
    ssize_t n = rc ? 0 : read_some(fd, buf, sizeof(buf));
    int e = errno;
    (void)close(fd); /* only read: closing cannot lose anything */
    if (!rc && n < 0) {
        snprintf(err, errlen, "spool key file %s: cannot read: %s", path, strerror(e));
        rc = SPOOL_ERR_KEY;
    } else if (!rc && parse_key(buf, (size_t)n, key) != 0) {
        snprintf(err, errlen,
                 "spool key file %s is not a key: it must hold exactly %d raw bytes or %d hex digits "
                 "(make one with: head -c %d /dev/urandom > %s; chmod 600 %s)",
                 path, SPOOL_KEY_LEN, 2 * SPOOL_KEY_LEN, SPOOL_KEY_LEN, path, path);
        rc = SPOOL_ERR_KEY;
    }
    mbedtls_platform_zeroize(buf, sizeof(buf));
    if (rc)
        mbedtls_platform_zeroize(key, SPOOL_KEY_LEN);
    return rc;
}
