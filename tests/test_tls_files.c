/* test_tls_files.c - the TLS credential files a technician names: refused
 * with the path and the reason, never hanging, never with a bare mbedtls
 * code; a private key open to others is refused like the spool key. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/version.h>

#include "delivery/tls_files.h"

static char dir[64], err[512];
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_tls_files.XXXXXX");
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    if (!mkdtemp(dir) || mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* A P-256 key in PEM at name, with mode. */
static void write_key(const char *name, mode_t mode)
{
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    assert_int_equal(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, &drbg),
                     0);
    unsigned char pem[1024];
    assert_int_equal(mbedtls_pk_write_key_pem(&pk, pem, sizeof(pem)), 0);
    mbedtls_pk_free(&pk);
    char path[128];
    path_of(path, sizeof(path), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs((const char *)pem, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int load_key(const char *name)
{
    char path[128];
    path_of(path, sizeof(path), name);
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = tls_load_key(&pk, path, mbedtls_ctr_drbg_random, &drbg, err, sizeof(err));
    mbedtls_pk_free(&pk);
    return rc;
}

static void test_key_mode(void **state)
{
    (void)state;
    write_key("private.key", 0600);
    assert_int_equal(load_key("private.key"), 0);
    write_key("open.key", 0644);
    assert_int_equal(load_key("open.key"), -1);
    assert_non_null(strstr(err, "open.key is open to group or others (mode 0644): run chmod 600"));
}

static void test_key_missing_or_wrong(void **state)
{
    (void)state;
    assert_int_equal(load_key("nothing.key"), -1);
    assert_non_null(strstr(err, "nothing.key: cannot open: No such file or directory"));
    char path[128];
    path_of(path, sizeof(path), "text.key");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a key\n", f);
    fclose(f);
    chmod(path, 0600);
    assert_int_equal(load_key("text.key"), -1);
    assert_non_null(strstr(err, "text.key: not a usable private key"));
}

/* `ca = /tmp` gave "PK - Memory allocation failed"; a FIFO hung the start. */
static void test_cert_not_a_file(void **state)
{
    (void)state;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(tls_load_cert(&crt, dir, "CA certificate", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is a directory"));
    char fifo[128];
    path_of(fifo, sizeof(fifo), "ca.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(tls_load_cert(&crt, fifo, "CA certificate", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "FIFO"));
    char garbage[128];
    path_of(garbage, sizeof(garbage), "ca.pem");
    FILE *f = fopen(garbage, "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    assert_int_equal(tls_load_cert(&crt, garbage, "CA certificate", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ca.pem: not a usable CA certificate"));
    mbedtls_x509_crt_free(&crt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_mode),
        cmocka_unit_test(test_key_missing_or_wrong),
        cmocka_unit_test(test_cert_not_a_file),
    };
    return cmocka_run_group_tests_name("tls_files", tests, setup, teardown);
}
