/* record_format.c - JSON and text views of a card record, with masking. */
#include "card/record_format.h"

#include <string.h>

#include <utf8proc.h>

const char *record_kind(enum cccd_status st)
{
    if (st == CCCD_OK)
        return "cccd";
    return st == CCCD_NOT_CARD ? "not-cccd" : "rejected";
}

static json_t *date_json(const struct cccd_date *d)
{
    char buf[11];
    cccd_date_format(d, buf);
    return json_string(buf);
}

json_t *record_to_json(const struct cccd_record *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(o, "id_number", json_string(r->id_number));
    rc |= json_object_set_new(o, "old_id_number", r->old_id_number[0] ? json_string(r->old_id_number) : json_null());
    rc |= json_object_set_new(o, "full_name", json_string(r->full_name));
    rc |= json_object_set_new(o, "date_of_birth", date_json(&r->date_of_birth));
    rc |= json_object_set_new(o, "issue_date", date_json(&r->issue_date));
    rc |= json_object_set_new(o, "sex", json_string(r->sex == CCCD_FEMALE ? "female" : "male"));
    rc |= json_object_set_new(o, "address", json_string(r->address));
    rc |= json_object_set_new(o, "card_type", json_string(cccd_card_type_name(r->card_type)));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *record_error_json(enum cccd_status st)
{
    return json_pack("{s:s, s:s, s:s}", "code", cccd_status_code(st), "message", cccd_status_message_en(st),
                     "message_vi", cccd_status_message_vi(st));
}

void record_mask_id(const char *id, char out[13])
{
    size_t len = strnlen(id, 12);
    for (size_t i = 0; i < len; i++)
        out[i] = i + 4 < len ? '*' : id[i];
    out[len] = '\0';
}

/* "Nguyễn Văn An" -> "N. V. A.": enough for staff to match a face to a
 * queue entry, not enough to identify a person from a log or a screen. */
static void name_initials(const char *name, char *out, size_t outsize)
{
    size_t o = 0;
    bool word_start = true;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)name;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(name);
    while (left > 0 && o + 8 < outsize) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0)
            break;
        if (cp == ' ') {
            word_start = true;
        } else if (word_start) {
            if (o)
                out[o++] = ' ';
            memcpy(out + o, p, (size_t)n);
            o += (size_t)n;
            out[o++] = '.';
            word_start = false;
        }
        p += n;
        left -= n;
    }
    out[o] = '\0';
}

void record_print_text(FILE *out, const struct cccd_record *r, bool show_pii, const char *indent)
{
    char id[13], born[11], issued[11], initials[CCCD_NAME_MAX + 1];
    if (show_pii)
        snprintf(id, sizeof(id), "%s", r->id_number);
    else
        record_mask_id(r->id_number, id);
    cccd_date_format(&r->date_of_birth, born);
    cccd_date_format(&r->issue_date, issued);
    name_initials(r->full_name, initials, sizeof(initials));
    fprintf(out, "%scard        %s\n", indent, r->card_type == CCCD_CARD_2024 ? "căn cước (2024)" : "CCCD (2021)");
    fprintf(out, "%sID number   %s\n", indent, id);
    fprintf(out, "%sold ID      %s\n", indent,
            !r->old_id_number[0] ? "(none)" : show_pii ? r->old_id_number : "(present, hidden)");
    fprintf(out, "%sname        %s\n", indent, show_pii ? r->full_name : initials);
    fprintf(out, "%sborn        %s\n", indent, show_pii ? born : "(hidden)");
    fprintf(out, "%ssex         %s\n", indent, r->sex == CCCD_FEMALE ? "female (Nữ)" : "male (Nam)");
    fprintf(out, "%saddress     %s\n", indent, show_pii ? r->address : "(hidden)");
    fprintf(out, "%sissued      %s\n", indent, issued);
}
