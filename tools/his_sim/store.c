/* store.c - what the sim keeps: the table of idempotency keys seen (with the
 * maKetQua each was given, so a repeat gets the same one; ket_qua() decides
 * it, for new records and for those read back at start) and the records
 * file, appended and fsynced one line a record, whose keys are read back at
 * start so a restarted sim still answers 409 for them. Nothing here locks:
 * once connection threads run, callers hold s->lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

/* The insurance result the simulated gateway gives a record: from the last
 * digit of id_number, so tests can choose it (docs/his-sim.md). */
const char *ket_qua(json_t *rec, const char **message)
{
    const char *id = json_string_value(json_object_get(rec, "id_number"));
    char last = id && *id ? id[strlen(id) - 1] : '\0';
    if (last == '8') {
        *message = "Thẻ hết giá trị sử dụng (the card has expired)";
        return "010";
    }
    if (last == '9') {
        *message = "Không có thông tin thẻ (no card information)";
        return "050";
    }
    *message = "Thẻ hợp lệ (card valid)";
    return "000";
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct key_entry *table_find(const struct key_table *t, const char *key)
{
    if (t->cap == 0)
        return NULL;
    for (size_t i = fnv1a(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slots[i].key)
            return NULL;
        if (strcmp(t->slots[i].key, key) == 0)
            return &t->slots[i];
    }
}

static void table_put(struct key_table *t, char *key, const char *code)
{
    size_t i = fnv1a(key) & (t->cap - 1);
    while (t->slots[i].key)
        i = (i + 1) & (t->cap - 1);
    t->slots[i].key = key;
    snprintf(t->slots[i].code, sizeof t->slots[i].code, "%s", code);
    t->count++;
}

/* Adds a key not in the table; false when out of memory. */
bool table_add(struct key_table *t, const char *key, const char *code)
{
    if ((t->count + 1) * 10 >= t->cap * 7) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        struct key_entry *old = t->slots;
        size_t ocap = t->cap;
        t->slots = calloc(ncap, sizeof *t->slots);
        if (!t->slots) {
            t->slots = old;
            return false;
        }
        t->cap = ncap;
        t->count = 0;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].key)
                table_put(t, old[i].key, old[i].code);
        free(old);
    }
    char *copy = strdup(key);
    if (!copy)
        return false;
    table_put(t, copy, code);
    return true;
}

void table_free(struct key_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].key);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* Appends one line and makes it durable. */
bool store_line(struct sim *s, const char *line)
{
    size_t n = strlen(line);
    char *buf = malloc(n + 1);
    if (!buf)
        return false;
    memcpy(buf, line, n);
    buf[n] = '\n';
    size_t off = 0;
    bool ok = true;
    while (off < n + 1) {
        ssize_t w = write(s->out_fd, buf + off, n + 1 - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ok = false;
            break;
        }
        off += (size_t)w;
    }
    free(buf);
    if (ok && fsync(s->out_fd) != 0)
        ok = false;
    if (!ok)
        say("cannot write %s: %s", s->opt.out, strerror(errno));
    return ok;
}

/* Reads the keys of the records already in the output file (a restarted
 * sim still answers 409 for them) and opens it for appending. */
int open_records(struct sim *s)
{
    FILE *f = fopen(s->opt.out, "r");
    unsigned long loaded = 0, bad = 0;
    bool torn = false;
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            torn = line[n - 1] != '\n';
            json_t *rec = json_loadb(line, (size_t)n, 0, NULL);
            const char *k = json_string_value(json_object_get(rec, "idempotency_key"));
            const char *message;
            if (k && !table_find(&s->keys, k)) {
                if (!table_add(&s->keys, k, ket_qua(rec, &message))) {
                    json_decref(rec);
                    free(line);
                    fclose(f);
                    fprintf(stderr, "his_sim: out of memory\n");
                    return -1;
                }
                loaded++;
            } else if (!k) {
                bad++;
            }
            json_decref(rec);
        }
        free(line);
        fclose(f);
    } else if (errno != ENOENT) {
        fprintf(stderr, "his_sim: %s: %s\n", s->opt.out, strerror(errno));
        return -1;
    }
    s->out_fd = open(s->opt.out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (s->out_fd < 0) {
        fprintf(stderr, "his_sim: %s: %s\n", s->opt.out, strerror(errno));
        return -1;
    }
    if (torn && (write(s->out_fd, "\n", 1) != 1 || fsync(s->out_fd) != 0)) {
        fprintf(stderr, "his_sim: %s: %s\n", s->opt.out, strerror(errno));
        return -1;
    }
    if (!f) {
        /* A new file: make its directory entry durable too. */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", s->opt.out);
        char *slash = strrchr(dir, '/');
        if (slash)
            *(slash == dir ? slash + 1 : slash) = '\0';
        else
            snprintf(dir, sizeof dir, ".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (loaded || bad)
        say("%s: %lu records already there%s", s->opt.out, loaded, bad ? " (and unreadable lines)" : "");
    return 0;
}
