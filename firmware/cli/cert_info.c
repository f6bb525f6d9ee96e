/* cert_info.c - a certificate's expiry (see cert_info.h), mbedtls 2.28 / 3.6. */
#include "cli/cert_info.h"

#include <stdio.h>
#include <string.h>

#include <mbedtls/x509_crt.h>

#include "delivery/tls_files.h"

int cert_expiry(const char *path, time_t now, time_t *not_after, long *days, char *until, size_t untilcap,
                char *err, size_t errlen)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    if (tls_load_cert(&crt, path, "certificate", err, errlen) != 0) {
        mbedtls_x509_crt_free(&crt);
        return -1;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = crt.valid_to.year - 1900;
    tm.tm_mon = crt.valid_to.mon - 1;
    tm.tm_mday = crt.valid_to.day;
    tm.tm_hour = crt.valid_to.hour;
    tm.tm_min = crt.valid_to.min;
    tm.tm_sec = crt.valid_to.sec;
    mbedtls_x509_crt_free(&crt);
    time_t t = timegm(&tm);
    *not_after = t;
    /* Floor division: one second past the end is day -1, not day 0. */
    long long secs = (long long)t - (long long)now;
    *days = (long)(secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400));
    snprintf(until, untilcap, "%04d-%02d-%02d %02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min);
    return 0;
}
