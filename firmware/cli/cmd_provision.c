/* cmd_provision.c - `cccd-reader provision`: the device's key and certificate.
 *
 * Two steps, because the hospital's CA signs off-line:
 *   1. without --cert: make (or reuse) DIR/device.key, EC P-256, mode 0600,
 *      and the request DIR/device.csr (CN = device id) to send to the CA;
 *   2. with --cert: check the signed certificate against the key, its dates,
 *      the CA and its strength, install it and the CA beside the key, and
 *      point the config's [device] id and [uplink] ca/cert/key at them.
 * The private key is never printed, and an existing key is never replaced:
 * a certificate already issued for it would stop working. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#define MBEDTLS3 1
#else
#define MBEDTLS3 0
#endif

#include "base/file_io.h"
#include "cli/cert_info.h"
#include "cli/cli.h"
#include "config/config.h"
#include "config/ini_edit.h"
#include "delivery/tls_files.h"

#define PEM_MAX 16384

struct provision {
    const char *config_path, *dir, *device_id, *ca_path, *cert_path;
    char key_path[1024], csr_path[1024], crt_out[1024], ca_out[1024]; /* DIR + a file name */
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
};

/* The user packaging/cccd-reader.service runs the terminal as. */
#define SERVICE_USER "cccd-reader"

static void mbed_error(char *err, size_t errlen, const char *what, int ret)
{
    char buf[128];
    mbedtls_strerror(ret, buf, sizeof(buf));
    snprintf(err, errlen, "%s: %s", what, buf);
}

static int rng_start(struct provision *p, char *err, size_t errlen)
{
#if MBEDTLS3
    if (psa_crypto_init() != PSA_SUCCESS) {
        snprintf(err, errlen, "PSA crypto failed to start");
        return -1;
    }
#endif
    static const char pers[] = "cccd-reader provision";
    if (mbedtls_ctr_drbg_seed(&p->drbg, mbedtls_entropy_func, &p->entropy, (const unsigned char *)pers,
                              sizeof(pers) - 1) != 0) {
        snprintf(err, errlen, "no entropy (is /dev/urandom readable?)");
        return -1;
    }
    return 0;
}


static int load_key(struct provision *p, char *err, size_t errlen)
{
    return tls_load_key(&p->key, p->key_path, mbedtls_ctr_drbg_random, &p->drbg, err, errlen);
}

/* At least P-256 or RSA-2048: a weaker key may be refused by the hospital
 * later, after the terminal is on the desk. */
static int check_strength(const mbedtls_pk_context *pk, const char *what, char *err, size_t errlen)
{
    mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);
    size_t bits = mbedtls_pk_get_bitlen(pk);
    bool ec = t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECDSA;
    if ((ec && bits >= 256) || (t == MBEDTLS_PK_RSA && bits >= 2048))
        return 0;
    snprintf(err, errlen, "%s: %s key of %zu bits is too weak (at least EC P-256 or RSA-2048)", what,
             mbedtls_pk_get_name(pk), bits);
    return -1;
}

/* Made by root (sudo), the key must still be readable by the service,
 * which runs as its own user and refuses a key others may read: 0600,
 * owned by that user. Without the user (a development machine) it stays
 * the caller's. */
static int give_to_service(const char *path, char *err, size_t errlen)
{
    struct passwd *pw = geteuid() == 0 ? getpwnam(SERVICE_USER) : NULL;
    if (!pw || chown(path, pw->pw_uid, pw->pw_gid) == 0)
        return 0;
    snprintf(err, errlen, "%s: cannot give it to the service's user %s: %s", path, SERVICE_USER, strerror(errno));
    return -1;
}

static int generate_key(struct provision *p, char *err, size_t errlen)
{
    int ret = mbedtls_pk_setup(&p->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (ret == 0)
        ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(p->key), mbedtls_ctr_drbg_random, &p->drbg);
    static unsigned char pem[PEM_MAX];
    if (ret == 0)
        ret = mbedtls_pk_write_key_pem(&p->key, pem, sizeof(pem));
    if (ret != 0) {
        mbed_error(err, errlen, "generating the device key", ret);
        return -1;
    }
    int rc = file_replace(p->key_path, pem, strlen((char *)pem), 0600, err, errlen);
    mbedtls_platform_zeroize(pem, sizeof(pem));
    return rc == 0 ? give_to_service(p->key_path, err, errlen) : rc;
}

/* Reuses DIR/device.key when there is one. */
static int ensure_key(struct provision *p, char *err, size_t errlen)
{
    struct stat st;
    if (stat(p->key_path, &st) != 0) {
        if (generate_key(p, err, errlen) != 0)
            return -1;
        printf("made the device key %s (EC P-256, mode 0600)\n", p->key_path);
        return 0;
    }
    if (load_key(p, err, errlen) != 0 || check_strength(&p->key, p->key_path, err, errlen) != 0)
        return -1;
    printf("reusing the existing device key %s (not overwritten)\n", p->key_path);
    if (st.st_mode & 077)
        printf("warning: %s is readable by other users: chmod 600 it\n", p->key_path);
    return 0;
}

/* Device IDs go into a distinguished name and a config value: keep them to
 * characters that need no escaping in either. */
static int check_device_id(const char *id, char *err, size_t errlen)
{
    size_t n = strlen(id);
    bool ok = n > 0 && n < 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') ||
             id[i] == '-' || id[i] == '_' || id[i] == '.';
    if (!ok)
        snprintf(err, errlen, "device id '%s': use 1-63 letters, digits, '-', '_' or '.'", id);
    return ok ? 0 : -1;
}

static int write_csr(struct provision *p, const char *device_id, char *err, size_t errlen)
{
    char subject[96];
    snprintf(subject, sizeof(subject), "CN=%s", device_id);
    mbedtls_x509write_csr req;
    mbedtls_x509write_csr_init(&req);
    mbedtls_x509write_csr_set_md_alg(&req, MBEDTLS_MD_SHA256);
    mbedtls_x509write_csr_set_key(&req, &p->key);
    int ret = mbedtls_x509write_csr_set_subject_name(&req, subject);
    static unsigned char pem[PEM_MAX];
    if (ret == 0)
        ret = mbedtls_x509write_csr_pem(&req, pem, sizeof(pem), mbedtls_ctr_drbg_random, &p->drbg);
    mbedtls_x509write_csr_free(&req);
    if (ret != 0) {
        mbed_error(err, errlen, "making the certificate request", ret);
        return -1;
    }
    return file_replace(p->csr_path, pem, strlen((char *)pem), 0644, err, errlen);
}

static int step_request(struct provision *p, const char *device_id, char *err, size_t errlen)
{
    if (check_device_id(device_id, err, errlen) != 0 || ensure_key(p, err, errlen) != 0 ||
        write_csr(p, device_id, err, errlen) != 0)
        return -1;
    printf("wrote the certificate request %s (CN=%s)\n\n"
           "Next: send %s (not the key) to the hospital's certificate authority. When the signed\n"
           "certificate comes back, install it with\n"
           "  cccd-reader provision --config %s --dir %s --cert SIGNED.pem --ca HOSPITAL-CA.pem\n",
           p->csr_path, device_id, p->csr_path, p->config_path, p->dir);
    return 0;
}

/* ---- step 2 ------------------------------------------------------------------ */

/* The certificate's subject CN, or "" when it has none. */
static void subject_cn(const mbedtls_x509_crt *crt, char *out, size_t cap)
{
    out[0] = '\0';
    for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next) {
        if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            size_t len = n->val.len < cap - 1 ? n->val.len : cap - 1;
            memcpy(out, n->val.p, len);
            out[len] = '\0';
            return;
        }
    }
}

static int check_pair(struct provision *p, mbedtls_x509_crt *crt, char *err, size_t errlen)
{
#if MBEDTLS3
    int ret = mbedtls_pk_check_pair(&crt->pk, &p->key, mbedtls_ctr_drbg_random, &p->drbg);
#else
    int ret = mbedtls_pk_check_pair(&crt->pk, &p->key);
#endif
    if (ret != 0) {
        char buf[96];
        mbedtls_strerror(ret, buf, sizeof(buf));
        snprintf(err, errlen, "%s does not belong to %s: %s; it was issued for another key. Send %s to the CA "
                 "again (or use the certificate issued for it)", p->cert_path, p->key_path, buf, p->csr_path);
        return -1;
    }
    return 0;
}

static int check_dates(const char *path, char *err, size_t errlen)
{
    time_t not_after;
    long days;
    char until[48];
    if (cert_expiry(path, time(NULL), &not_after, &days, until, sizeof(until), err, errlen) != 0)
        return -1;
    if (not_after <= time(NULL)) {
        snprintf(err, errlen, "%s expired on %s: ask the CA for a new one", path, until);
        return -1;
    }
    printf("certificate valid until %s (%ld days)\n", until, days);
    return 0;
}

static int check_chain(struct provision *p, mbedtls_x509_crt *crt, mbedtls_x509_crt *ca, char *err, size_t errlen)
{
    if (tls_load_cert(ca, p->ca_path, "CA certificate", err, errlen) != 0)
        return -1;
    uint32_t flags = 0;
    int ret = mbedtls_x509_crt_verify(crt, ca, NULL, NULL, &flags, NULL, NULL);
    if (ret != 0) {
        char info[256];
        mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
        info[strcspn(info, "\n")] = '\0';
        snprintf(err, errlen, "%s is not signed by the CA in %s: %s", p->cert_path, p->ca_path, info);
        return -1;
    }
    return 0;
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    if (file_read_all(from, 1u << 20, &buf, &len, err, errlen) != 0)
        return -1;
    int rc = file_replace(to, buf, len, 0644, err, errlen);
    free(buf);
    return rc;
}

static int update_config(struct provision *p, const char *device_id, char *err, size_t errlen)
{
    const struct ini_setting set[] = {
        { "device", "id", device_id },
        { "uplink", "ca", p->ca_out },
        { "uplink", "cert", p->crt_out },
        { "uplink", "key", p->key_path },
    };
    if (ini_edit_file(p->config_path, set, sizeof(set) / sizeof(set[0]), err, errlen) != 0)
        return -1;
    /* Never leave a config behind that the service would refuse. */
    static struct config cfg;
    if (config_load(p->config_path, &cfg, err, errlen) != 0)
        return -1;
    return 0;
}

static int verify_signed(struct provision *p, mbedtls_x509_crt *crt, mbedtls_x509_crt *ca, char *err,
                         size_t errlen)
{
    if (tls_load_cert(crt, p->cert_path, "signed certificate", err, errlen) != 0)
        return -1;
    if (load_key(p, err, errlen) != 0 || check_pair(p, crt, err, errlen) != 0 ||
        check_strength(&crt->pk, p->cert_path, err, errlen) != 0 || check_dates(p->cert_path, err, errlen) != 0 ||
        check_chain(p, crt, ca, err, errlen) != 0)
        return -1;
    return 0;
}

static int step_install(struct provision *p, const char *device_id_opt, char *err, size_t errlen)
{
    mbedtls_x509_crt crt, ca;
    mbedtls_x509_crt_init(&crt);
    mbedtls_x509_crt_init(&ca);
    char cn[64];
    int rc = verify_signed(p, &crt, &ca, err, errlen);
    subject_cn(&crt, cn, sizeof(cn));
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crt_free(&ca);
    /* The ID the CA signed is the one the hospital knows us by. */
    const char *id = device_id_opt ? device_id_opt : cn;
    if (rc == 0)
        rc = check_device_id(id, err, errlen);
    if (rc == 0 && strcmp(p->ca_path, p->ca_out) != 0)
        rc = copy_file(p->ca_path, p->ca_out, err, errlen);
    if (rc == 0 && strcmp(p->cert_path, p->crt_out) != 0)
        rc = copy_file(p->cert_path, p->crt_out, err, errlen);
    if (rc == 0)
        rc = update_config(p, id, err, errlen);
    if (rc != 0)
        return -1;
    printf("installed %s and %s (0644); %s now has [device] id = %s and [uplink] ca, cert, key\n"
           "Next: cccd-reader doctor --config %s\n", p->crt_out, p->ca_out, p->config_path, id, p->config_path);
    return 0;
}

/* ---- command ------------------------------------------------------------------ */

static int usage(void)
{
    fprintf(stderr,
            "usage: cccd-reader provision --config FILE --dir DIR [--device-id ID]            (step 1)\n"
            "       cccd-reader provision --config FILE --dir DIR --cert SIGNED.pem [--ca CA.pem] (step 2)\n"
            "  step 1 makes DIR/device.key (kept if it exists) and DIR/device.csr for the hospital's CA;\n"
            "  step 2 checks the signed certificate, installs it and the CA in DIR and updates FILE.\n"
            "  --ca defaults to the config's [uplink] ca.\n");
    return CLI_USAGE;
}

static int parse_args(struct provision *p, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--config") == 0      ? &p->config_path
                            : strcmp(argv[i], "--dir") == 0       ? &p->dir
                            : strcmp(argv[i], "--device-id") == 0 ? &p->device_id
                            : strcmp(argv[i], "--ca") == 0        ? &p->ca_path
                            : strcmp(argv[i], "--cert") == 0      ? &p->cert_path
                                                                  : NULL;
        if (!slot || i + 1 >= argc)
            return -1;
        *slot = argv[++i];
    }
    return p->config_path && p->dir ? 0 : -1;
}

/* DIR made absolute (the service does not run from here) and created. */
static int prepare_dir(struct provision *p, char *err, size_t errlen)
{
    static char abs_dir[PATH_MAX];
    if (mkdir(p->dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", p->dir, strerror(errno));
        return -1;
    }
    if (!realpath(p->dir, abs_dir)) {
        snprintf(err, errlen, "%s: %s", p->dir, strerror(errno));
        return -1;
    }
    if (strlen(abs_dir) > 1000) {
        snprintf(err, errlen, "%.200s...: path too long", abs_dir);
        return -1;
    }
    p->dir = abs_dir;
    snprintf(p->key_path, sizeof(p->key_path), "%.1000s/device.key", abs_dir);
    snprintf(p->csr_path, sizeof(p->csr_path), "%.1000s/device.csr", abs_dir);
    snprintf(p->crt_out, sizeof(p->crt_out), "%.1000s/device.crt", abs_dir);
    snprintf(p->ca_out, sizeof(p->ca_out), "%.1000s/ca.crt", abs_dir);
    return 0;
}

static int run(struct provision *p, char *err, size_t errlen)
{
    static struct config cfg;
    if (config_load(p->config_path, &cfg, err, errlen) != 0 || prepare_dir(p, err, errlen) != 0 ||
        rng_start(p, err, errlen) != 0)
        return -1;
    if (!p->cert_path)
        return step_request(p, p->device_id ? p->device_id : cfg.device_id, err, errlen);
    if (!p->ca_path && !cfg.uplink_ca[0]) {
        snprintf(err, errlen, "no CA to check %s against: give --ca HOSPITAL-CA.pem", p->cert_path);
        return -1;
    }
    static char ca_copy[sizeof(cfg.uplink_ca)];
    if (!p->ca_path) {
        snprintf(ca_copy, sizeof(ca_copy), "%s", cfg.uplink_ca);
        p->ca_path = ca_copy;
    }
    return step_install(p, p->device_id, err, errlen);
}

int cmd_provision(int argc, char **argv)
{
    static struct provision p;
    memset(&p, 0, sizeof(p));
    if (parse_args(&p, argc, argv) != 0)
        return usage();
    mbedtls_entropy_init(&p.entropy);
    mbedtls_ctr_drbg_init(&p.drbg);
    mbedtls_pk_init(&p.key);
    char err[8192];
    int rc = run(&p, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "cccd-reader provision: %s\n", err);
    mbedtls_pk_free(&p.key);
    mbedtls_ctr_drbg_free(&p.drbg);
    mbedtls_entropy_free(&p.entropy);
    return rc ? CLI_REFUSED : CLI_OK;
}
