/* spool.h - the durable queue between the desk and the hospital.
 *
 * A check-in the desk has heard "accepted" for is on disk: spool_append()
 * returns only after fdatasync. Records live in append-only segment files,
 * each record framed with its length and a CRC; on open, a torn tail (a
 * power cut mid-write) is detected and cut off at the last good record,
 * never a whole segment thrown away. The delivered position is kept in a
 * small state file replaced by write-temp / fsync / rename / fsync-dir.
 * Fully delivered segments are deleted. Files are 0600.
 *
 * Bounded by size and by age: when the undelivered records would exceed
 * max_bytes, spool_append refuses (SPOOL_ERR_FULL) and the desk tells staff
 * to check the patient in by hand; nothing already queued is dropped
 * silently. Records older than max_age_s are moved aside to the dead-letter
 * file (as "expired", with a log line), like permanently refused ones.
 *
 * Optional encryption at rest: with a 32-byte key each record's payload is
 * sealed with AES-256-GCM (mbedtls), a fresh random nonce per record.
 *
 * Thread-safe: the scan loop appends while the uplink thread peeks and acks.
 */
#ifndef CCCD_SPOOL_H
#define CCCD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Stable error codes (negative return values). */
enum spool_status {
    SPOOL_ERR_IO = -1,      /* a file operation failed: err names the file and errno */
    SPOOL_ERR_FULL = -2,    /* max_bytes reached: the record was NOT stored */
    SPOOL_ERR_TOO_BIG = -3, /* one record above SPOOL_RECORD_MAX */
    SPOOL_ERR_EMPTY = -4,   /* spool_peek: nothing undelivered */
    SPOOL_ERR_KEY = -5,     /* key file unreadable/wrong size, or a record fails authentication */
    SPOOL_ERR_CONFIG = -6,  /* bad options (no directory, zero limits) */
};

#define SPOOL_RECORD_MAX 16384
#define SPOOL_KEY_LEN 32

struct spool_opts {
    const char *dir;       /* created 0700 if missing */
    uint64_t max_bytes;    /* undelivered payload bytes (framing included) */
    int64_t max_age_s;     /* 0 = no age limit */
    const uint8_t *key;    /* SPOOL_KEY_LEN bytes, or NULL for plain records */
    uint64_t segment_bytes; /* roll to a new segment file after this many bytes; 0 = 1 MiB */
};

struct spool_stats {
    uint64_t records;     /* undelivered */
    uint64_t bytes;       /* undelivered, on disk */
    int64_t oldest_unix;  /* append time of the oldest undelivered record, 0 if none */
    uint64_t dead_letters; /* records set aside since open */
    uint64_t torn_bytes_cut; /* cut from a torn tail at the last open */
};

struct spool;

/* Opens (and recovers) the spool in opts->dir. */
int spool_open(struct spool **out, const struct spool_opts *opts, char *err, size_t errlen);
void spool_close(struct spool *s);

/* Appends one record; durable (fdatasync'd, new files' directory fsync'd)
 * when it returns 0. *seq gets the record's sequence number. */
int spool_append(struct spool *s, const void *data, size_t len, uint64_t *seq, char *err, size_t errlen);

/* The oldest undelivered record: copies it into buf (cap bytes) and sets
 * *seq and *len. SPOOL_ERR_EMPTY when there is none. */
int spool_peek(struct spool *s, uint64_t *seq, void *buf, size_t cap, size_t *len, char *err, size_t errlen);

/* Marks every record up to and including seq delivered (durably). */
int spool_ack(struct spool *s, uint64_t seq, char *err, size_t errlen);

/* Sets record seq aside in the dead-letter file with the reason (a server's
 * permanent refusal, expiry), then acks it. */
int spool_dead_letter(struct spool *s, uint64_t seq, const char *reason, char *err, size_t errlen);

void spool_get_stats(struct spool *s, struct spool_stats *st);

/* Whether another process (the running service) holds dir's spool open,
 * found without taking its lock. */
bool spool_in_use(const char *dir);

/* Reads a key file: exactly SPOOL_KEY_LEN raw bytes, or 64 hex digits
 * (and a newline). Refuses files readable by group or others. */
int spool_load_key(const char *path, uint8_t key[SPOOL_KEY_LEN], char *err, size_t errlen);

/* ---- dead letters: reading them back, requeueing, purging ---------------------
 *
 * What `cccd-reader spool` is made of (docs/spool.md, "Dead letters: getting
 * them back"). A reader goes through dead.log, or through the undelivered
 * records of the segments, from the start to the size the file had when the
 * reader reached it, through a small window (a file may be far larger than
 * memory), skipping damaged stretches the way recovery does. It takes no lock
 * and writes nothing, so it can run beside the service: a record the service
 * is writing at that moment shows up as tail_bytes, not as an error. */

enum spool_item_state {
    SPOOL_ITEM_OK,        /* payload: the record as it was appended (opened with the key when sealed) */
    SPOOL_ITEM_NO_KEY,    /* sealed, and no key given: no payload */
    SPOOL_ITEM_WRONG_KEY, /* sealed, and the key given does not open it: no payload */
    SPOOL_ITEM_CORRUPT,   /* a dead letter set aside as "corrupt": payload holds the raw bytes read
                             (framing included); it can never be requeued */
};

struct spool_item {
    uint64_t seq;           /* its sequence number in the queue */
    int64_t appended_unix;  /* when it was appended */
    int64_t set_aside_unix; /* dead letters: when set aside; 0 for a queued record */
    char reason[256];       /* dead letters: "HTTP 403 from HOST", "expired", "corrupt"...; "" otherwise */
    bool sealed;            /* stored encrypted */
    enum spool_item_state state;
    const unsigned char *payload; /* valid until the next call on the reader; NULL when there is none */
    size_t len;
    uint64_t offset;        /* where its record starts in its file */
    uint32_t size;          /* its record's bytes on disk, framing included */
};

struct spool_reader;

/* A reader of dir's dead.log (dead) or of its undelivered records (!dead),
 * opening sealed records with key (SPOOL_KEY_LEN bytes) when given. A
 * missing dead.log or no segment is an empty list, not an error. */
int spool_reader_open(struct spool_reader **out, const char *dir, bool dead, const uint8_t *key, char *err,
                      size_t errlen);

/* The next record: 1 with *it filled, 0 at the end, or a status (an I/O
 * error names the file). Damage is skipped, counted, and not an error. */
int spool_reader_next(struct spool_reader *r, struct spool_item *it, char *err, size_t errlen);

/* Bytes skipped so far: damaged stretches with intact records after them,
 * and unreadable ends of files (a record being written, or damage). */
void spool_reader_damage(const struct spool_reader *r, uint64_t *damaged_bytes, uint64_t *tail_bytes);

void spool_reader_close(struct spool_reader *r);

struct spool_dead_stats {
    uint64_t records;              /* intact dead letters in dead.log */
    uint64_t bytes;                /* dead.log's size */
    int64_t oldest_set_aside_unix; /* 0 when there is none */
    uint64_t damaged_bytes;        /* skipped or unreadable, as spool_reader_damage */
};

/* Counts dir's dead letters (a reader: no lock, nothing written). */
int spool_dead_stats(const char *dir, struct spool_dead_stats *st, char *err, size_t errlen);

/* Which dead letters spool_dead_requeue takes; all fields zero: every one. */
struct spool_dead_select {
    const char *reason;   /* only those whose reason starts with this text; NULL or "": any */
    const uint64_t *seqs; /* only these sequence numbers; NULL: any */
    size_t nseqs;
};

struct spool_requeue_result {
    uint64_t requeued;       /* appended to the queue again, and removed from dead.log */
    uint64_t already_queued; /* its idempotency key is in the queue already: only removed from dead.log */
    uint64_t corrupt;        /* chosen but "corrupt": left in dead.log */
    uint64_t unreadable;     /* chosen but sealed, and the spool's key does not open it: left in dead.log */
    uint64_t first_seq, last_seq; /* the new sequence numbers, 0 when none */
};

/* Appends the chosen dead letters to the queue again (spool_append: a new
 * sequence number, the same payload, so the same idempotency key), durably,
 * then rewrites dead.log without them (temp file, fsync, rename, fsync the
 * directory). A crash in between leaves a record both queued and in
 * dead.log: the next requeue finds its key in the queue and only removes
 * it. On an error *res still counts what was done: SPOOL_ERR_FULL when the
 * queue filled up (the rest stay in dead.log). */
int spool_dead_requeue(struct spool *s, const struct spool_dead_select *which, struct spool_requeue_result *res,
                       char *err, size_t errlen);

/* Removes the dead letters set aside more than older_than_s seconds ago
 * (rewriting dead.log as above); nothing else is touched, damaged bytes
 * included. *removed gets how many. */
int spool_dead_purge(struct spool *s, int64_t older_than_s, uint64_t *removed, char *err, size_t errlen);

#endif
