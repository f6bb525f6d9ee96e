/* checkin.c - the JSON body of one check-in (docs/protocol.md). */
#include "delivery/checkin.h"

#include "base/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timex.h>

#define VN_OFFSET_S (7 * 3600) /* Vietnam: UTC+7 all year, no summer time */

static const struct {
    const char *name;
    unsigned bit;
} field_names[] = {
    { "id_number", CHECKIN_ID_NUMBER }, { "old_id_number", CHECKIN_OLD_ID_NUMBER },
    { "full_name", CHECKIN_FULL_NAME }, { "date_of_birth", CHECKIN_DATE_OF_BIRTH },
    { "sex", CHECKIN_SEX },             { "address", CHECKIN_ADDRESS },
    { "issue_date", CHECKIN_ISSUE_DATE },
};

int checkin_fields_parse(const char *list, unsigned *mask, char *err, size_t errlen)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", list);
    *mask = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++)
            if (strcmp(tok, field_names[i].name) == 0)
                bit = field_names[i].bit;
        if (!bit) {
            char shown[48]; /* the config's text: escaped, bounded */
            snprintf(err, errlen, "unknown field '%s'; known: id_number old_id_number full_name date_of_birth "
                                  "sex address issue_date", log_clean(tok, shown, sizeof(shown)));
            return -1;
        }
        *mask |= bit;
    }
    if (!*mask) {
        snprintf(err, errlen, "no fields: at least id_number is needed");
        return -1;
    }
    return 0;
}

bool checkin_clock_synced(void)
{
    struct timex tx;
    memset(&tx, 0, sizeof(tx));
    int state = adjtimex(&tx);
    return state != -1 && state != TIME_ERROR && !(tx.status & STA_UNSYNC);
}

static int make_key(const char *device_id, char *key, size_t keycap)
{
    unsigned char r[16];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return -1;
    int n = snprintf(key, keycap, "%s-", device_id);
    for (size_t i = 0; i < sizeof(r) && n > 0 && (size_t)n + 2 < keycap; i++)
        n += snprintf(key + n, keycap - (size_t)n, "%02x", r[i]);
    return n > 0 && (size_t)n < keycap ? 0 : -1;
}

static void scan_time(time_t now, char out[32])
{
    time_t local = now + VN_OFFSET_S;
    struct tm tm;
    gmtime_r(&local, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S+07:00", &tm);
}

static int add_date(json_t *o, const char *name, const struct cccd_date *d)
{
    char buf[11];
    cccd_date_format(d, buf);
    return json_object_set_new(o, name, json_string(buf));
}

static int add_fields(json_t *o, const struct cccd_record *r, unsigned f)
{
    int rc = 0;
    if (f & CHECKIN_ID_NUMBER)
        rc |= json_object_set_new(o, "id_number", json_string(r->id_number));
    if (f & CHECKIN_OLD_ID_NUMBER)
        rc |= json_object_set_new(o, "old_id_number", r->old_id_number[0] ? json_string(r->old_id_number) : json_null());
    if (f & CHECKIN_FULL_NAME)
        rc |= json_object_set_new(o, "full_name", json_string(r->full_name));
    if (f & CHECKIN_DATE_OF_BIRTH)
        rc |= add_date(o, "date_of_birth", &r->date_of_birth);
    if (f & CHECKIN_SEX)
        rc |= json_object_set_new(o, "sex", json_string(r->sex == CCCD_FEMALE ? "female" : "male"));
    if (f & CHECKIN_ADDRESS)
        rc |= json_object_set_new(o, "address", json_string(r->address));
    if (f & CHECKIN_ISSUE_DATE)
        rc |= add_date(o, "issue_date", &r->issue_date);
    return rc;
}

long checkin_build(const struct cccd_record *rec, const struct checkin_meta *meta, time_t now, bool clock_synced,
                   char *out, size_t cap, char *key, size_t keycap, char *err, size_t errlen)
{
    char when[32];
    if (make_key(meta->device_id, key, keycap) != 0) {
        snprintf(err, errlen, "cannot make an idempotency key (device id too long, or no randomness)");
        return -1;
    }
    scan_time(now, when);
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:b, s:s, s:s}", "schema", 1, "idempotency_key", key, "device_id",
                          meta->device_id, "scan_time", when, "clock_synced", clock_synced, "source",
                          meta->source ? meta->source : "card", "card_type", cccd_card_type_name(rec->card_type));
    if (!o || add_fields(o, rec, meta->fields) != 0) {
        json_decref(o);
        snprintf(err, errlen, "out of memory building the check-in");
        return -1;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    long n = text ? (long)strlen(text) : -1;
    if (n < 0 || (size_t)n >= cap) {
        free(text);
        snprintf(err, errlen, "check-in record larger than %zu bytes", cap);
        return -1;
    }
    memcpy(out, text, (size_t)n + 1);
    memset(text, 0, (size_t)n); /* personal data: do not leave it in freed memory */
    free(text);
    return n;
}

time_t checkin_parse_scan_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, mo, d, h, mi, se;
    char tail[8];
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%7s", &y, &mo, &d, &h, &mi, &se, tail) != 7 ||
        strcmp(tail, "+07:00") != 0)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    return timegm(&tm) - VN_OFFSET_S;
}
