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

#include "base/file_io.h"
#include "base/hex.h"
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
    return hex_decode((const char *)buf, key, SPOOL_KEY_LEN);
}

int spool_load_key(const char *path, uint8_t key[SPOOL_KEY_LEN], char *err, size_t errlen)
{
    char why[512];
    int fd = file_open_regular(path, why, sizeof(why));
    if (fd < 0) {
        snprintf(err, errlen, "spool key file %s", why);
        return SPOOL_ERR_KEY;
    }
    int rc = file_check_private(fd, path, "spool key file", err, errlen) ? SPOOL_ERR_KEY : 0;
    /* One byte more than the longest valid file tells "too long" apart. */
    unsigned char buf[2 * SPOOL_KEY_LEN + 3];
    ssize_t n = rc ? 0 : file_read_full(fd, buf, sizeof(buf), -1);
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
