/* seen.c - a small table of recently seen keys (salted hashes). */
#include "loop/seen.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>

struct entry {
    uint64_t hash;
    int64_t first_ms, last_ms;
    bool used;
};

struct seen {
    uint64_t salt;
    size_t capacity;
    struct entry *entries;
};

struct seen *seen_open(size_t capacity)
{
    struct seen *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->entries = calloc(capacity ? capacity : 1, sizeof(struct entry));
    if (!s->entries) {
        free(s);
        return NULL;
    }
    s->capacity = capacity ? capacity : 1;
    /* A salt no one outside the process knows; if the kernel cannot give one
     * the table still works, only with a guessable salt. */
    if (getrandom(&s->salt, sizeof(s->salt), GRND_NONBLOCK) != sizeof(s->salt))
        s->salt = (uint64_t)(uintptr_t)s ^ 0x9e3779b97f4a7c15u;
    return s;
}

void seen_close(struct seen *s)
{
    if (!s)
        return;
    free(s->entries);
    free(s);
}

/* FNV-1a over the salt and the key: spreads keys well for a table this size. */
static uint64_t salted_hash(uint64_t salt, const void *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (int i = 0; i < 8; i++)
        h = (h ^ ((salt >> (8 * i)) & 0xff)) * 0x100000001b3u;
    const unsigned char *p = key;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

static struct entry *find_or_evict(struct seen *s, uint64_t h, bool *found)
{
    struct entry *victim = &s->entries[0];
    for (size_t i = 0; i < s->capacity; i++) {
        struct entry *e = &s->entries[i];
        if (e->used && e->hash == h) {
            *found = true;
            return e;
        }
        if (victim->used && (!e->used || e->last_ms < victim->last_ms))
            victim = e;
    }
    *found = false;
    return victim;
}

enum seen_verdict seen_note(struct seen *s, const void *key, size_t len, int64_t now_ms, int64_t gap_ms,
                            int64_t window_ms)
{
    uint64_t h = salted_hash(s->salt, key, len);
    bool found;
    struct entry *e = find_or_evict(s, h, &found);
    enum seen_verdict v = SEEN_NEW;
    if (found && now_ms - e->last_ms <= gap_ms)
        v = SEEN_PRESENT;
    else if (found && now_ms - e->first_ms <= window_ms)
        v = SEEN_REPEATED;
    if (v == SEEN_NEW)
        *e = (struct entry){ .hash = h, .first_ms = now_ms, .used = true };
    e->last_ms = now_ms;
    return v;
}
