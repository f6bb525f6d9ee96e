/* ini_edit.c - set keys in a hand-written INI file (see ini_edit.h). */
#include "config/ini_edit.h"

#include "base/file_io.h"
#include "config/ini_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INI_EDIT_MAX_SETTINGS 16
#define INI_FILE_MAX (1u << 20)

/* A growing output buffer; `failed` sticks after the first allocation error. */
struct out {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->cap ? o->cap * 2 : 256) + n;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->failed = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void put_setting(struct out *o, const struct ini_setting *s)
{
    put(o, s->key, strlen(s->key));
    put(o, " = ", 3);
    put(o, s->value, strlen(s->value));
    put(o, "\n", 1);
}

/* A section header's or a key's name, as the configuration reads it
 * (ini_read.h), copied into out; false when the line is not of that kind. */
static bool line_name(const char *p, const char *end, enum ini_line_kind kind, char *out, size_t cap)
{
    struct ini_line l;
    ini_line_parse(p, (size_t)(end - p), &l);
    if (l.kind != kind)
        return false;
    size_t n = l.name_len < cap - 1 ? l.name_len : cap - 1;
    memcpy(out, l.name, n);
    out[n] = '\0';
    return true;
}

static bool line_section(const char *p, const char *end, char *sec, size_t cap)
{
    return line_name(p, end, INI_SECTION, sec, cap);
}

static bool line_key(const char *p, const char *end, char *key, size_t cap)
{
    return line_name(p, end, INI_KEY, key, cap);
}

static int find_setting(const struct ini_setting *set, size_t n, const char *sec, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i].section, sec) == 0 && strcmp(set[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* Pass 1: which settings already have a line, and after which line the
 * missing ones of each wanted section go (its first occurrence's last key,
 * or its header). anchor[i] is a line number, -1 when the section is absent. */
static void plan(const char *text, const struct ini_setting *set, size_t n, bool *present, long *anchor)
{
    char sec[128] = "", key[128];
    bool first[INI_EDIT_MAX_SETTINGS] = { false };
    long line = 0;
    for (size_t i = 0; i < n; i++)
        anchor[i] = -1;
    for (const char *p = text; *p; line++) {
        const char *end = strchr(p, '\n');
        if (!end)
            end = p + strlen(p);
        if (line_section(p, end, sec, sizeof(sec))) {
            for (size_t i = 0; i < n; i++)
                first[i] = strcmp(set[i].section, sec) == 0 && anchor[i] < 0;
            for (size_t i = 0; i < n; i++)
                if (first[i])
                    anchor[i] = line;
        } else if (line_key(p, end, key, sizeof(key))) {
            int k = find_setting(set, n, sec, key);
            if (k >= 0)
                present[k] = true;
            for (size_t i = 0; i < n; i++)
                if (first[i])
                    anchor[i] = line;
        }
        p = *end ? end + 1 : end;
    }
}

static void emit_missing_after(struct out *o, const struct ini_setting *set, size_t n, const bool *present,
                               const long *anchor, long line)
{
    for (size_t i = 0; i < n; i++)
        if (!present[i] && anchor[i] == line)
            put_setting(o, &set[i]);
}

/* Sections no line mentions: appended at the end, in the order first asked. */
static void emit_new_sections(struct out *o, const struct ini_setting *set, size_t n, const long *anchor)
{
    for (size_t i = 0; i < n; i++) {
        if (anchor[i] >= 0)
            continue;
        bool seen_before = false;
        for (size_t j = 0; j < i; j++)
            seen_before |= strcmp(set[j].section, set[i].section) == 0;
        if (seen_before)
            continue;
        put(o, "\n[", 2);
        put(o, set[i].section, strlen(set[i].section));
        put(o, "]\n", 2);
        for (size_t j = i; j < n; j++)
            if (strcmp(set[j].section, set[i].section) == 0)
                put_setting(o, &set[j]);
    }
}

static int check_settings(const struct ini_setting *set, size_t n, char *err, size_t errlen)
{
    if (n > INI_EDIT_MAX_SETTINGS) {
        snprintf(err, errlen, "too many settings at once (%zu)", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (strpbrk(set[i].value, "\r\n") || strpbrk(set[i].key, "=[]\r\n") || strpbrk(set[i].section, "[]\r\n")) {
            snprintf(err, errlen, "[%s] %s: a value cannot hold a line break", set[i].section, set[i].key);
            return -1;
        }
    return 0;
}

char *ini_edit_text(const char *text, const struct ini_setting *set, size_t n, char *err, size_t errlen)
{
    if (check_settings(set, n, err, errlen) != 0)
        return NULL;
    bool present[INI_EDIT_MAX_SETTINGS] = { false };
    long anchor[INI_EDIT_MAX_SETTINGS];
    plan(text, set, n, present, anchor);
    struct out o = { NULL, 0, 0, false };
    char sec[128] = "", key[128];
    long line = 0;
    for (const char *p = text; *p; line++) {
        const char *end = strchr(p, '\n');
        bool nl = end != NULL;
        if (!end)
            end = p + strlen(p);
        int k = -1;
        if (!line_section(p, end, sec, sizeof(sec)) && line_key(p, end, key, sizeof(key)))
            k = find_setting(set, n, sec, key);
        if (k >= 0) {
            put_setting(&o, &set[k]);
        } else {
            put(&o, p, (size_t)(end - p));
            put(&o, "\n", 1); /* a last line without one gets one */
        }
        emit_missing_after(&o, set, n, present, anchor, line);
        p = nl ? end + 1 : end;
    }
    emit_new_sections(&o, set, n, anchor);
    put(&o, "", 0);
    if (o.failed || !o.buf) {
        free(o.buf);
        snprintf(err, errlen, "out of memory while editing the configuration");
        return NULL;
    }
    return o.buf;
}

/* The configuration file, as text: no NUL inside (a config is text). */
static char *read_text(const char *path, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    if (file_read_all(path, INI_FILE_MAX, &buf, &len, err, errlen) != 0)
        return NULL;
    if (strlen(buf) != len) {
        free(buf);
        snprintf(err, errlen, "%s holds NUL bytes: not a configuration file", path);
        return NULL;
    }
    return buf;
}

/* Writes text to a temporary file beside path with path's mode, then renames. */
static int replace_file(const char *path, const char *text, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return file_replace(path, text, strlen(text), st.st_mode & 07777, err, errlen);
}

int ini_edit_file(const char *path, const struct ini_setting *set, size_t n, char *err, size_t errlen)
{
    char *text = read_text(path, err, errlen);
    if (!text)
        return -1;
    char *edited = ini_edit_text(text, set, n, err, errlen);
    free(text);
    if (!edited)
        return -1;
    int rc = replace_file(path, edited, err, errlen);
    free(edited);
    return rc;
}
