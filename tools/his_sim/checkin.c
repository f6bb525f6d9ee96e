/* checkin.c - one check-in (POST to --path): the record checked against
 * docs/protocol.md, stored once per idempotency key with its simulated
 * insurance result (maKetQua, store.c), and the status faults that answer instead. The rules
 * a record must meet are here, apart from how it travels (http.c). */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim.h"

static const char *const VERIFIED_FIELDS[] = {
    "id_number", "old_id_number", "full_name", "date_of_birth", "sex", "address", "issue_date",
};

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* YYYY-MM-DDTHH:MM:SS followed by Z or +HH:MM / -HH:MM. */
static bool is_rfc3339_seconds(const char *s)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = strlen(s);
    if (n != 20 && n != 25)
        return false;
    for (size_t i = 0; i < sizeof pattern - 1; i++) {
        if (pattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pattern[i])
            return false;
    }
    if (n == 20)
        return s[19] == 'Z';
    return (s[19] == '+' || s[19] == '-') && all_digits(s + 20, 2) && s[22] == ':' && all_digits(s + 23, 2);
}

/* Checks a record against docs/protocol.md. NULL when it is fine; otherwise
 * the reason, with *field naming the key at fault. */
static const char *check_record(json_t *rec, const struct request *q, const char **field)
{
    *field = NULL;
    if (!json_is_object(rec))
        return "the body is not a JSON object";
    const char *key;
    json_t *v;
    json_object_foreach(rec, key, v) {
        bool known = strcmp(key, "schema") == 0 || strcmp(key, "idempotency_key") == 0 ||
                     strcmp(key, "device_id") == 0 || strcmp(key, "scan_time") == 0 ||
                     strcmp(key, "clock_synced") == 0 || strcmp(key, "source") == 0 ||
                     strcmp(key, "card_type") == 0;
        for (size_t i = 0; !known && i < sizeof VERIFIED_FIELDS / sizeof *VERIFIED_FIELDS; i++)
            if (strcmp(key, VERIFIED_FIELDS[i]) == 0) {
                known = true;
                if (!json_is_string(v) && !json_is_null(v)) {
                    *field = VERIFIED_FIELDS[i];
                    return "must be a string or null";
                }
            }
        if (!known) {
            *field = key;
            return "not a key of schema 1";
        }
    }

    json_t *schema = json_object_get(rec, "schema");
    *field = "schema";
    if (!schema)
        return "missing";
    if (!json_is_integer(schema) || json_integer_value(schema) != 1)
        return "unknown schema (this receiver knows schema 1)";

    *field = "idempotency_key";
    const char *ikey = json_string_value(json_object_get(rec, "idempotency_key"));
    if (!json_object_get(rec, "idempotency_key"))
        return "missing";
    if (!ikey || !*ikey || strlen(ikey) > KEY_MAX)
        return "must be a string of 1 to 128 characters";
    if (!q->has_key)
        return "no Idempotency-Key header";
    if (q->key_too_long || strcmp(q->key, ikey) != 0)
        return "differs from the Idempotency-Key header";

    *field = "device_id";
    const char *dev = json_string_value(json_object_get(rec, "device_id"));
    if (!json_object_get(rec, "device_id"))
        return "missing";
    size_t dl = dev ? strlen(dev) : 0;
    if (dl == 0 || dl > DEVICE_ID_MAX)
        return "must be a string of 1 to 64 characters";
    *field = "idempotency_key";
    size_t kl = strlen(ikey);
    if (kl != dl + 33 || strncmp(ikey, dev, dl) != 0 || ikey[dl] != '-')
        return "must be <device_id>-<32 hex digits>";
    for (size_t i = dl + 1; i < kl; i++)
        if (!is_hex(ikey[i]))
            return "must be <device_id>-<32 hex digits>";

    *field = "scan_time";
    json_t *st = json_object_get(rec, "scan_time");
    if (!st)
        return "missing";
    if (!json_is_string(st) || !is_rfc3339_seconds(json_string_value(st)))
        return "must be RFC 3339 with seconds and an offset (2026-11-27T16:11:31+07:00)";

    *field = "card_type";
    json_t *ct = json_object_get(rec, "card_type");
    if (!ct)
        return "missing";
    const char *cts = json_string_value(ct);
    if (!cts || (strcmp(cts, "cccd-2021") != 0 && strcmp(cts, "can-cuoc-2024") != 0))
        return "must be cccd-2021 or can-cuoc-2024";

    *field = "clock_synced";
    json_t *cs = json_object_get(rec, "clock_synced");
    if (cs && !json_is_boolean(cs))
        return "must be true or false";

    *field = "source";
    json_t *src = json_object_get(rec, "source");
    const char *srcs = json_string_value(src);
    if (src && (!srcs || (strcmp(srcs, "card") != 0 && strcmp(srcs, "vneid-screen") != 0)))
        return "must be card or vneid-screen";

    *field = "id_number";
    const char *id = json_string_value(json_object_get(rec, "id_number"));
    if (id && (strlen(id) != 12 || !all_digits(id, 12)))
        return "must be 12 digits";

    *field = NULL;
    return NULL;
}

/* The status faults' answer: the service's own JSON refusal, naming the
 * record (a refusal of one record is about that record: the terminal's
 * guard against a service refusing every record alike sees them apart;
 * schema-refused is the one that refuses every record alike). */
static void answer_status_fault(struct sim *s, struct answer *a, int status)
{
    char msg[64 + KEY_MAX];
    snprintf(msg, sizeof msg, "simulated %d (his_sim fault mode) for %s", status, a->key[0] ? a->key : "-");
    answer_error(a, status, msg, NULL);
    if (status == 503 || status == 429)
        a->retry_after = s->opt.retry_after;
    if (status < 400)
        a->location = REDIRECT_LOCATION;
    pthread_mutex_lock(&s->lock);
    s->st.faults++;
    pthread_mutex_unlock(&s->lock);
}

/* A check-in request: fills the answer. Returns false for the faults that
 * never send a final answer (stall, continue-flood, header-trickle): the
 * caller does what the mode does instead. */
bool handle_checkin(struct conn *c, const struct request *q, int mode, struct answer *a)
{
    struct sim *s = c->sim;
    char shown[84];
    log_token(q->has_key && !q->key_too_long ? q->key : "-", q->has_key && !q->key_too_long ? strlen(q->key) : 1,
              shown);
    pthread_mutex_lock(&s->lock);
    s->st.requests++;
    pthread_mutex_unlock(&s->lock);
    if (q->has_key && !q->key_too_long)
        snprintf(a->key, sizeof a->key, "%s", q->key);

    if (mode == MODE_SCHEMA_REFUSED) {
        answer_error(a, 422, "unknown schema", "schema");
        pthread_mutex_lock(&s->lock);
        s->st.faults++;
        pthread_mutex_unlock(&s->lock);
        say("conn %u: POST key=%s -> 422 (schema-refused)", c->id, shown);
        return true;
    }
    if (mode == MODE_STALL) {
        say("conn %u: POST key=%s -> no answer (stall)", c->id, shown);
        pthread_mutex_lock(&s->lock);
        s->st.faults++;
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    if (mode == MODE_CONTINUE_FLOOD || mode == MODE_HEADER_TRICKLE) {
        /* Counted once under the status the client sees, however long it lasts. */
        a->status = mode == MODE_CONTINUE_FLOOD ? 100 : 200;
        pthread_mutex_lock(&s->lock);
        s->st.faults++;
        pthread_mutex_unlock(&s->lock);
        say("conn %u: POST key=%s -> %s every %d ms, never a final answer (%s)", c->id, shown,
            mode == MODE_CONTINUE_FLOOD ? "100 Continue" : "a header line after \"200 OK\"",
            mode == MODE_CONTINUE_FLOOD ? s->opt.flood_ms : s->opt.header_ms, MODE_NAMES[mode]);
        return false;
    }
    if (mode_is_status(mode)) {
        answer_status_fault(s, a, mode);
        say("conn %u: POST key=%s -> %d (fault)", c->id, shown, mode);
        return true;
    }
    if (mode == MODE_STRAY) {
        pthread_mutex_lock(&s->lock);
        bool after = s->stray_sent;
        pthread_mutex_unlock(&s->lock);
        if (after) {
            answer_status_fault(s, a, 503);
            say("conn %u: POST key=%s -> 503 (stray: the stray answer has been sent)", c->id, shown);
            return true;
        }
    }

    if (mode_is_proxy(mode) || mode == MODE_CERT_REFUSED) {
        if (mode == MODE_CERT_REFUSED)
            answer_nginx_cert_error(a);
        else
            answer_nginx(a, mode - MODE_PROXY);
        pthread_mutex_lock(&s->lock);
        s->st.faults++;
        pthread_mutex_unlock(&s->lock);
        char mb[16];
        say("conn %u: POST key=%s -> %d, nginx page (%s)%s", c->id, shown, a->status, mode_name(mode, mb),
            a->close ? ", closing" : "");
        return true;
    }

    /* What the log says about the answer: result code, or reason and field. */
    char note[200] = "";
    const char *ctype = q->content_type;
    size_t ctl = strcspn(ctype, "; \t");
    if (!(ctl == 16 && strncasecmp(ctype, "application/json", 16) == 0)) {
        answer_error(a, 415, "Content-Type must be application/json", NULL);
        snprintf(note, sizeof note, "(Content-Type)");
    } else {
        json_error_t jerr;
        const unsigned char *body = c->buf + q->consumed - q->length;
        json_t *rec = json_loadb((const char *)body, q->length, JSON_REJECT_DUPLICATES, &jerr);
        if (!rec) {
            /* jerr.text may quote the body: only the position is given back. */
            char msg[96];
            snprintf(msg, sizeof msg, "malformed JSON at line %d column %d", jerr.line, jerr.column);
            answer_error(a, 400, msg, NULL);
            snprintf(note, sizeof note, "(%s)", msg);
        } else {
            const char *field;
            const char *why = check_record(rec, q, &field);
            if (why) {
                answer_error(a, 422, why, field);
                char fshown[84];
                log_token(field, strlen(field), fshown);
                snprintf(note, sizeof note, "(%s: %s)", fshown, why);
            } else {
                const char *ikey = json_string_value(json_object_get(rec, "idempotency_key"));
                const char *message;
                const char *code = ket_qua(rec, &message);
                pthread_mutex_lock(&s->lock);
                /* stray: the first valid record takes the stray answer; one
                 * that passed the check above while another took it is late. */
                bool late = mode == MODE_STRAY && s->stray_sent;
                if (mode == MODE_STRAY)
                    a->stray = s->stray_sent = true;
                struct key_entry *e = table_find(&s->keys, ikey);
                if (late) {
                    pthread_mutex_unlock(&s->lock);
                    a->stray = false;
                    answer_status_fault(s, a, 503);
                    snprintf(note, sizeof note, "(stray: the stray answer has been sent)");
                } else if (e) {
                    s->st.duplicates++;
                    snprintf(note, sizeof note, "maKetQua=%s (duplicate)", e->code);
                    json_t *o = json_pack("{s:s,s:s}", "maKetQua", e->code, "message",
                                          "Đã nhận hồ sơ này trước đó (duplicate)");
                    pthread_mutex_unlock(&s->lock);
                    answer_json(a, 409, o);
                } else {
                    char *line = json_dumps(rec, JSON_COMPACT);
                    bool stored = line && store_line(s, line) && table_add(&s->keys, ikey, code);
                    free(line);
                    if (stored)
                        s->st.accepted++;
                    pthread_mutex_unlock(&s->lock);
                    if (stored) {
                        answer_json(a, 200, json_pack("{s:s,s:s}", "maKetQua", code, "message", message));
                        snprintf(note, sizeof note, "maKetQua=%s", code);
                    } else {
                        answer_error(a, 500, "cannot store the record", NULL);
                        snprintf(note, sizeof note, "(cannot store the record)");
                    }
                }
            }
            json_decref(rec);
        }
    }
    if (a->stray && a->status != 200 && a->status != 409) {
        /* Not stored after all (the write failed): the next record takes the stray. */
        a->stray = false;
        pthread_mutex_lock(&s->lock);
        s->stray_sent = false;
        pthread_mutex_unlock(&s->lock);
    }
    if (a->stray) {
        /* On file (new or a repeat): 200 {} now, and conn.c sends the stray 200 after it. */
        free(a->body);
        a->body = strdup("{}");
        a->status = 200;
        pthread_mutex_lock(&s->lock);
        s->st.faults++;
        pthread_mutex_unlock(&s->lock);
        size_t nl = strlen(note);
        snprintf(note + nl, sizeof note - nl, ", answered 200 {} (stray)");
    }
    if (a->status >= 400 && a->status < 500 && a->status != 409) {
        pthread_mutex_lock(&s->lock);
        s->st.rejected++;
        pthread_mutex_unlock(&s->lock);
    }
    say("conn %u: POST key=%s -> %d %s", c->id, shown, a->status, note);
    return true;
}
