/* tls_files.h - the TLS credential files a technician names in the config:
 * CA bundles, the device's certificate and its private key.
 *
 * Read through base/file_io (a regular file, never a FIFO that would hang
 * the start, bounded), the key refused when others may read it (as the
 * spool key is), and mbedtls's parse errors turned into a message that names
 * the file and what it should be. Used by the uplink, doctor and provision. */
#ifndef CCCD_TLS_FILES_H
#define CCCD_TLS_FILES_H

#include <stddef.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

/* Appends the certificates of path (PEM or DER) to crt; what names them in
 * messages ("CA certificate"). 0, or -1 with err. */
int tls_load_cert(mbedtls_x509_crt *crt, const char *path, const char *what, char *err, size_t errlen);

/* Parses the unencrypted private key at path into pk (f_rng and p_rng: the
 * caller's DRBG, which mbedtls 3 wants for it; unused with 2.28). Its bytes
 * are wiped once parsed. 0, or -1 with err. */
int tls_load_key(mbedtls_pk_context *pk, const char *path, int (*f_rng)(void *, unsigned char *, size_t), void *p_rng,
                 char *err, size_t errlen);

#endif
