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

/* Reads a key file: exactly SPOOL_KEY_LEN raw bytes, or 64 hex digits
 * (and a newline). Refuses files readable by group or others. */
int spool_load_key(const char *path, uint8_t key[SPOOL_KEY_LEN], char *err, size_t errlen);

#endif
