/* spool_internal.h - what the spool's files share, and nobody else.
 *
 * The spool is one module (include/delivery/spool.h is its face) in four
 * files, split the way mosquitto splits its persistence:
 *   spool.c          the queue: open, append, peek, ack, the state file
 *   spool_io.c       bytes on disk: framing, CRC-32C, names, durable writes, messages
 *   spool_recover.c  reading the directory back after a restart or a power cut
 *   spool_dead.c     dead letters: set aside (refused, expired, corrupt), requeued, purged
 *   spool_read.c     reading dead.log and the queue back without the lock
 *   spool_faults.c   the disk misbehaving: a segment deleted under us, a full disk
 * docs/spool.md describes the files and the recovery rules.
 */
#ifndef CCCD_SPOOL_INTERNAL_H
#define CCCD_SPOOL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/gcm.h>

#include "base/file_io.h"
#include "delivery/spool.h"

#define STATE_NAME "delivered"
#define STATE_TMP "delivered.tmp"
#define DEAD_NAME "dead.log"
#define SEG_NAME_LEN 24 /* "seg-" + 16 hex digits + ".log" */
#define SEG_BYTES_DEFAULT (1u << 20)
#define SEG_BYTES_MAX (1u << 30)
/* Sequence numbers, file names and the state file stay below 2^63: no
 * spool lives to see it, and nothing read from disk can wrap a counter. */
#define SEQ_MAX ((uint64_t)INT64_MAX)

#define FLAG_SEALED 1u /* payload is nonce || AES-256-GCM ciphertext || tag */
#define FLAG_DEAD 2u   /* a dead-letter record (dead.log only) */

enum {
    HDR_LEN = 28, /* magic 4, flags 4, length 4, sequence 8, append time 8 */
    CRC_LEN = 4,
    FRAME_LEN = HDR_LEN + CRC_LEN,
    NONCE_LEN = 12,
    TAG_LEN = 16,
    SEAL_LEN = NONCE_LEN + TAG_LEN,
    REASON_MAX = 255,
    DEAD_MIN = 2 + 8, /* reason length, set-aside time */
    /* A corrupt record goes to dead.log as the raw bytes read, framing and all. */
    BODY_MAX = SPOOL_RECORD_MAX + SEAL_LEN + DEAD_MIN + REASON_MAX + FRAME_LEN,
    REC_MAX = FRAME_LEN + BODY_MAX,
    BATCH_CAP = 4 * REC_MAX,
    /* Only dead.log's end can be torn, by one batch at most: two batches'
     * worth of its end hold the last intact record before any damage. */
    DEAD_WINDOW = 2 * BATCH_CAP,
};

/* 0xFF never occurs in UTF-8, so no JSON payload can carry a fake record
 * start for the resynchronising scan to trip over; "SPL" shows in hex dumps. */
extern const unsigned char spool_rec_magic[4];

struct entry { /* one undelivered record */
    uint64_t seq;
    uint64_t seg; /* first sequence number of its segment: the file name */
    uint64_t off;
    int64_t time;
    uint32_t size; /* framing included */
};

struct segment {
    uint64_t first; /* from the file name */
    uint64_t last;  /* highest sequence number read or written in it, 0 if none */
};

struct record_frame {
    uint32_t flags, len;
    uint64_t seq;
    int64_t time;
    const unsigned char *body;
};

/* One file being recovered, held in memory (dead.log: only its end). */
struct scan {
    const char *name;
    bool dead;       /* dead.log: dead-letter records, no sequence rules */
    uint64_t lo, hi; /* segments: the sequence numbers the file name allows */
    uint64_t base;   /* file offset of data[0] */
    unsigned char *data;
    size_t size;
    uint64_t last; /* highest sequence number found */
    size_t tail;   /* where the unreadable tail starts; size when there is none */
};

struct spool {
    pthread_mutex_t lock;
    bool lock_ready;
    char *dir;
    int dirfd; /* holds the flock that keeps a second process out */
    uint64_t max_bytes, seg_bytes;
    int64_t max_age_s;
    bool sealed;
    mbedtls_gcm_context gcm;
    uint32_t crc[256];

    struct entry *q; /* undelivered records, oldest first, from q_head */
    size_t q_head, q_len, q_cap;
    uint64_t q_bytes;
    struct segment *segs; /* segment files in sequence order */
    size_t nsegs, segs_cap;
    int active_fd; /* the last segment, open for appends; -1 when none */
    uint64_t active_size;
    int read_fd; /* the older segment being delivered, kept open between peeks */
    uint64_t read_first;
    bool has_reserve; /* the reserve file is there to give up on a full disk */
    int dead_fd;
    uint64_t dead_size;
    uint64_t next_seq, delivered;
    uint64_t dead_letters, torn;

    unsigned char *wbuf;  /* the record being appended */
    unsigned char *rbuf;  /* the record being read */
    size_t rlen;          /* bytes read into rbuf */
    unsigned char *batch; /* dead-letter records on their way to dead.log */
};

/* spool_io.c */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
int spool_fail(int status, char *err, size_t errlen, const char *fmt, ...);
int spool_io_fail(char *err, size_t errlen, int e, const char *what, const char *dir, const char *name);
void spool_close_quietly(int fd);
void spool_put16(unsigned char *p, uint16_t v);
void spool_put64(unsigned char *p, uint64_t v);
uint64_t spool_get64(const unsigned char *p);
void spool_crc_init(uint32_t table[256]);
void spool_frame_header(unsigned char *r, uint32_t flags, size_t len, uint64_t seq, int64_t time);
size_t spool_frame_finish(const struct spool *s, unsigned char *r, size_t len);
size_t spool_frame_parse(const struct spool *s, const unsigned char *p, size_t avail, bool dead, struct record_frame *f);
void spool_seg_name(char out[SEG_NAME_LEN + 1], uint64_t first);
bool spool_parse_seg_name(const char *name, uint64_t *first);
int spool_write_durably(int fd, uint64_t off, const void *buf, size_t n, bool *broken);
int spool_sync_parent(const char *dir, char *err, size_t errlen);
int spool_read_file(int fd, uint64_t window, struct scan *sc);
int spool_state_line(const struct spool *s, uint64_t delivered, char *out, size_t cap);
bool spool_state_parse(const struct spool *s, const char *text, size_t n, uint64_t *delivered);

/* spool_recover.c */
int spool_dead_recover(struct spool *s, int fd, char *err, size_t errlen);
int spool_recover(struct spool *s, char *err, size_t errlen);

/* spool_dead.c */
int spool_dead_open(struct spool *s, bool create, char *err, size_t errlen);
int spool_set_aside(struct spool *s, size_t n, const char *reason, char *err, size_t errlen);
int spool_expire(struct spool *s, char *err, size_t errlen);

/* spool_read.c: reading the files back without the lock (spool.h's reader) */
/* Any record can be judged with REC_MAX bytes from its start; a window of
 * twice that keeps refills rare and memory small however large the file. */
enum { WINDOW_CAP = 2 * REC_MAX };

#define DEAD_TMP "dead.log.tmp"

struct spool_reader {
    struct spool own; /* bare: the CRC table and, with a key, its GCM context */
    struct spool *sp; /* own, or the open spool that lends its key (requeue, purge) */
    bool dead, lent, open_sealed, dead_done;
    int dirfd, fd;
    char name[SEG_NAME_LEN + 1];
    uint64_t limit; /* bytes of the file to read: its size when it was opened */
    uint64_t base;  /* file offset of buf[0] */
    unsigned char *buf, *plain;
    size_t have, pos;
    uint64_t delivered, lo, hi, last; /* segments: recovery's sequence rules */
    uint64_t *segs;
    size_t nsegs, segs_cap, next_seg;
    uint64_t damaged, tail, total;
};

/* A reader over an open spool, with its key (requeue, purge). */
int spool_reader_lent(struct spool_reader **out, struct spool *s, bool open_sealed, char *err, size_t errlen);

/* spool_faults.c */
int spool_check_active(struct spool *s, char *err, size_t errlen);
void spool_reserve_keep(struct spool *s);
bool spool_reserve_release(struct spool *s);

/* spool.c */
struct entry *spool_q_at(const struct spool *s, size_t i);
int spool_q_push(struct spool *s, const struct entry *e);
int spool_segs_reserve(struct spool *s);
uint64_t spool_seg_bound(const struct spool *s, size_t i);
void spool_delete_delivered(struct spool *s);
int spool_ack_locked(struct spool *s, uint64_t seq, char *err, size_t errlen);
int spool_read_entry(struct spool *s, const struct entry *e, struct record_frame *f, char *err, size_t errlen);

#endif
