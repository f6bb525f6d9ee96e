/* tls_files.c - TLS credential files read with the project's checks (see
 * tls_files.h), on mbedtls 2.28 and 3.6. */
#include "delivery/tls_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include "base/file_io.h"

/* PEM and DER files are small; a file far larger is not one of them. */
#define CRED_FILE_MAX (1024 * 1024)

/* mbedtls parses PEM only with its NUL counted, DER without. */
static size_t parse_len(const char *buf, size_t len)
{
    return strstr(buf, "-----BEGIN ") ? len + 1 : len;
}

/* What an mbedtls error means for a file a technician names. */
static void cred_error(char *err, size_t errlen, const char *path, const char *what, int ret)
{
    char buf[128];
    mbedtls_strerror(ret, buf, sizeof(buf));
    snprintf(err, errlen, "%s: not a usable %s (PEM or DER expected; mbedtls: %s): check the file named in the "
             "config", path, what, buf);
}

int tls_load_cert(mbedtls_x509_crt *crt, const char *path, const char *what, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    if (file_read_all(path, CRED_FILE_MAX, &buf, &len, err, errlen) != 0)
        return -1;
    int ret = mbedtls_x509_crt_parse(crt, (const unsigned char *)buf, parse_len(buf, len));
    free(buf);
    if (ret != 0) {
        cred_error(err, errlen, path, what, ret);
        return -1;
    }
    return 0;
}

int tls_load_key(mbedtls_pk_context *pk, const char *path, int (*f_rng)(void *, unsigned char *, size_t), void *p_rng,
                 char *err, size_t errlen)
{
    char *buf;
    size_t len;
    if (file_read_secret(path, "TLS key file", CRED_FILE_MAX, &buf, &len, err, errlen) != 0)
        return -1;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    int ret = mbedtls_pk_parse_key(pk, (const unsigned char *)buf, parse_len(buf, len), NULL, 0, f_rng, p_rng);
#else
    (void)f_rng, (void)p_rng;
    int ret = mbedtls_pk_parse_key(pk, (const unsigned char *)buf, parse_len(buf, len), NULL, 0);
#endif
    mbedtls_platform_zeroize(buf, len);
    free(buf);
    if (ret != 0) {
        cred_error(err, errlen, path, "private key (unencrypted)", ret); /* names the file, never the key */
        return -1;
    }
    return 0;
}

