/* cmd_spool.c - `cccd-reader spool`: the queue and its dead letters, for the
 * technician who fixed the cause (an expired certificate, a server that
 * refused a schema) and wants the records set aside delivered after all.
 *
 * status and list only read (spool_reader: no lock, nothing written), so
 * they work while the service runs. requeue and purge change the spool and
 * need its lock: when the service holds it they say how to stop it, run the
 * command, and start it again. Text output never shows the full ID number,
 * names, birth dates or addresses unless --show-pii; no key byte ever. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "card/record_format.h"
#include "cli/cli.h"
#include "config/config.h"
#include "delivery/spool.h"

#define DEFAULT_CONFIG "/etc/cccd-reader/cccd-reader.conf"
#define SEQS_MAX 1024
#define DAYS_MAX 36500

enum action { STATUS, LIST, REQUEUE, PURGE };

struct spool_cmd {
    enum action action;
    const char *name; /* the subcommand, for messages */
    const char *config_path;
    bool json, dead, show_pii, all;
    const char *reason;
    uint64_t seqs[SEQS_MAX];
    size_t nseqs;
    long older_than_days; /* -1: not given */
    struct config cfg;
    uint8_t key[SPOOL_KEY_LEN];
    bool have_key;
    int argc;
    char **argv; /* as given, to repeat the command line in advice */
};

static int usage(FILE *out)
{
    fputs("usage: cccd-reader spool COMMAND [--config FILE]\n"
          "  status [--json]                     undelivered records and dead letters (also while the service runs)\n"
          "  list [--dead] [--show-pii]          one line per undelivered record, or per dead letter with --dead\n"
          "  requeue [--all | --reason TEXT | --seq N[,N...]...]\n"
          "                                      queue dead letters again (default --all; those whose reason starts\n"
          "                                      with TEXT; those numbered N); the service must be stopped\n"
          "  purge --older-than DAYS             delete dead letters set aside more than DAYS days ago; the service\n"
          "                                      must be stopped\n"
          "Default config: " DEFAULT_CONFIG ". Exit 0 done, 1 refused or failed, 2 usage.\n"
          "The ID number is masked to its last four digits, names, birth dates and addresses are not shown,\n"
          "unless --show-pii is given.\n",
          out);
    return CLI_USAGE;
}

/* ---- arguments ------------------------------------------------------------------------ */

static bool parse_u64(const char *s, uint64_t *v)
{
    if (!s[0] || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
        return false;
    errno = 0;
    unsigned long long n = strtoull(s, NULL, 10);
    if (errno || n == 0 || n > INT64_MAX)
        return false;
    *v = (uint64_t)n;
    return true;
}

/* "3,5,7": each number added to c->seqs; false on anything else. */
static bool add_seqs(struct spool_cmd *c, const char *list)
{
    char buf[512];
    if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
        return false;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (c->nseqs == SEQS_MAX || !parse_u64(t, &c->seqs[c->nseqs]))
            return false;
        c->nseqs++;
    }
    return c->nseqs > 0;
}

static bool is_number_list(const char *s)
{
    return s[0] >= '0' && s[0] <= '9' && strspn(s, "0123456789,") == strlen(s);
}

static bool parse_days(struct spool_cmd *c, const char *s)
{
    uint64_t v = 0;
    if (strcmp(s, "0") != 0 && (!parse_u64(s, &v) || v > DAYS_MAX)) {
        fprintf(stderr, "cccd-reader spool purge: --older-than needs a whole number of days from 0 to %d, not '%s'\n",
                DAYS_MAX, s);
        return false;
    }
    c->older_than_days = (long)v;
    return true;
}

static const struct {
    const char *name;
    enum action action;
} actions[] = { { "status", STATUS }, { "list", LIST }, { "requeue", REQUEUE }, { "purge", PURGE } };

static bool parse_action(struct spool_cmd *c, const char *name)
{
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        if (strcmp(name, actions[i].name) == 0) {
            c->action = actions[i].action;
            c->name = actions[i].name;
            return true;
        }
    }
    return false;
}

/* One option at argv[*i] (its value consumed too); false when it is not
 * one this subcommand takes, or its value is bad. */
static bool parse_option(struct spool_cmd *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    bool has_value = *i + 1 < argc;
    if (strcmp(a, "--config") == 0 && has_value)
        c->config_path = argv[++*i];
    else if (strcmp(a, "--json") == 0 && c->action == STATUS)
        c->json = true;
    else if (strcmp(a, "--dead") == 0 && c->action == LIST)
        c->dead = true;
    else if (strcmp(a, "--show-pii") == 0 && c->action == LIST)
        c->show_pii = true;
    else if (strcmp(a, "--all") == 0 && c->action == REQUEUE)
        c->all = true;
    else if (strcmp(a, "--reason") == 0 && has_value && c->action == REQUEUE && argv[*i + 1][0])
        c->reason = argv[++*i];
    else if (strcmp(a, "--seq") == 0 && has_value && c->action == REQUEUE && add_seqs(c, argv[*i + 1])) {
        for (++*i; *i + 1 < argc && is_number_list(argv[*i + 1]); ++*i) /* --seq 3 5 7 */
            if (!add_seqs(c, argv[*i + 1]))
                return false;
    } else if (strcmp(a, "--older-than") == 0 && has_value && c->action == PURGE)
        return parse_days(c, argv[++*i]);
    else
        return false;
    return true;
}

static int parse_args(struct spool_cmd *c, int argc, char **argv)
{
    int first = 0;
    if (argc >= 2 && strcmp(argv[0], "--config") == 0) { /* before the subcommand, as doctor takes it */
        c->config_path = argv[1];
        first = 2;
    }
    if (first >= argc || !parse_action(c, argv[first]))
        return -1;
    for (int i = first + 1; i < argc; i++)
        if (!parse_option(c, argc, argv, &i))
            return -1;
    int choices = c->all + (c->reason != NULL) + (c->nseqs > 0);
    if (choices > 1) {
        fprintf(stderr, "cccd-reader spool requeue: give one of --all, --reason or --seq\n");
        return -1;
    }
    if (c->action == PURGE && c->older_than_days < 0) {
        fprintf(stderr, "cccd-reader spool purge: --older-than DAYS is required\n");
        return -1;
    }
    return 0;
}

/* ---- config, key, directory ----------------------------------------------------------- */

/* "cccd-reader spool NAME: <message>" on stderr; always CLI_REFUSED. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
refuse(const struct spool_cmd *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cccd-reader spool %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_REFUSED;
}

static int load_setup(struct spool_cmd *c, bool need_key)
{
    char err[512];
    int rc = config_load(c->config_path, &c->cfg, err, sizeof(err));
    if (rc == CONFIG_ERR_OPEN)
        return refuse(c, "%s\n  fix: run the command with sudo (the config is for root and the service), or give "
                         "the service's config with --config FILE", err);
    if (rc)
        return refuse(c, "%s\n  fix: correct that line (every key is described in board/cccd-reader.conf)", err);
    struct stat st;
    if (stat(c->cfg.spool_dir, &st) != 0)
        return refuse(c, "spool directory %s: %s\n  fix: check [spool] dir in %s (the service makes the directory "
                         "when it first starts)", c->cfg.spool_dir, strerror(errno), c->config_path);
    if (!S_ISDIR(st.st_mode))
        return refuse(c, "%s is not a directory\n  fix: check [spool] dir in %s", c->cfg.spool_dir, c->config_path);
    if (!need_key || !c->cfg.spool_key_file[0])
        return 0;
    if (spool_load_key(c->cfg.spool_key_file, c->key, err, sizeof(err)) != 0)
        return refuse(c, "%s\n  fix: run the command with sudo, or correct [spool] key_file in %s (32 bytes or 64 hex "
                         "digits, mode 0600)", err, c->config_path);
    c->have_key = true;
    return 0;
}

/* The running service holds an exclusive lock on the spool directory. */
static bool spool_busy(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* releases our lock, if we got it */
    return busy;
}

/* This command line again, for the advice: what to run once the service stops. */
static void print_command(const struct spool_cmd *c)
{
    fputs("cccd-reader spool", stderr);
    for (int i = 0; i < c->argc; i++)
        fprintf(stderr, strpbrk(c->argv[i], " \t'\"") ? " '%s'" : " %s", c->argv[i]);
    fputc('\n', stderr);
}

static int refuse_busy(const struct spool_cmd *c)
{
    fprintf(stderr,
            "cccd-reader spool %s: the spool %s is in use by another process, normally the running service.\n"
            "  fix: stop the service, run the command, start the service again:\n"
            "    sudo systemctl stop cccd-reader\n    %s",
            c->name, c->cfg.spool_dir, geteuid() == 0 ? "sudo " : "");
    print_command(c);
    fputs("    sudo systemctl start cccd-reader\n", stderr);
    return CLI_REFUSED;
}

/* Run by root (sudo), the files a change writes would belong to root and the
 * service, running as the directory's owner, could no longer read them: work
 * as that owner instead, as `sudo -u cccd-reader` would. */
static int become_owner(const struct spool_cmd *c)
{
    struct stat st;
    if (geteuid() != 0 || stat(c->cfg.spool_dir, &st) != 0 || st.st_uid == 0)
        return 0;
    if (setgroups(0, NULL) != 0 || setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0)
        return refuse(c, "cannot switch to the owner (uid %u) of %s: %s\n  fix: run the command as that user "
                         "(sudo -u cccd-reader ...)", (unsigned)st.st_uid, c->cfg.spool_dir, strerror(errno));
    return 0;
}

static int open_spool(struct spool_cmd *c, struct spool **s)
{
    int rc = become_owner(c);
    if (rc)
        return rc;
    if (spool_busy(c->cfg.spool_dir))
        return refuse_busy(c);
    const struct config *g = &c->cfg;
    struct spool_opts so = { g->spool_dir, (uint64_t)g->spool_max_mb << 20, (int64_t)g->spool_max_age_h * 3600,
                             c->have_key ? c->key : NULL, 0 };
    char err[512];
    if (spool_open(s, &so, err, sizeof(err)) == 0)
        return 0;
    if (spool_busy(g->spool_dir))
        return refuse_busy(c);
    return refuse(c, "%s", err);
}

/* ---- showing -------------------------------------------------------------------------- */

static void format_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(out, 32, "@%" PRId64, t);
}

static void format_age(int64_t seconds, char out[32])
{
    if (seconds < 0)
        seconds = 0;
    if (seconds < 60)
        snprintf(out, 32, "%" PRId64 " s", seconds);
    else if (seconds < 3600)
        snprintf(out, 32, "%" PRId64 " min", seconds / 60);
    else if (seconds < 86400)
        snprintf(out, 32, "%" PRId64 " h %" PRId64 " min", seconds / 3600, seconds % 3600 / 60);
    else
        snprintf(out, 32, "%" PRId64 " days %" PRId64 " h", seconds / 86400, seconds % 86400 / 3600);
}

static int open_reader(const struct spool_cmd *c, bool dead, struct spool_reader **r)
{
    char err[512];
    if (spool_reader_open(r, c->cfg.spool_dir, dead, c->have_key ? c->key : NULL, err, sizeof(err)) != 0)
        return refuse(c, "%s", err);
    return 0;
}

/* ---- status ------------------------------------------------------------------------- */

struct reason_count {
    char reason[256];
    uint64_t n;
};

struct tally {
    uint64_t records, bytes, damaged;
    int64_t oldest; /* append time (queue) or set-aside time (dead letters) */
    struct reason_count *reasons;
    size_t nreasons;
};

/* Counts one more dead letter under its kind of reason: the text before
 * the first ':' ("HTTP 422", "expired", "corrupt"), since the service's own
 * words after it often name the record. The distinct kinds are few. */
static int count_reason(struct tally *t, const char *full)
{
    char reason[256];
    snprintf(reason, sizeof(reason), "%.*s", (int)strcspn(full, ":"), full);
    for (size_t i = 0; i < t->nreasons; i++) {
        if (strcmp(t->reasons[i].reason, reason) == 0) {
            t->reasons[i].n++;
            return 0;
        }
    }
    struct reason_count *v = realloc(t->reasons, (t->nreasons + 1) * sizeof(*v));
    if (!v)
        return -1;
    t->reasons = v;
    snprintf(v[t->nreasons].reason, sizeof(v->reason), "%s", reason);
    v[t->nreasons++].n = 1;
    return 0;
}

static int tally_items(const struct spool_cmd *c, bool dead, struct tally *t)
{
    struct spool_reader *r = NULL;
    int rc = open_reader(c, dead, &r);
    if (rc)
        return rc;
    struct spool_item it;
    char err[512];
    while ((rc = spool_reader_next(r, &it, err, sizeof(err))) == 1) {
        int64_t when = dead ? it.set_aside_unix : it.appended_unix;
        if (!t->records++ || when < t->oldest)
            t->oldest = when;
        t->bytes += it.size;
        if (dead && count_reason(t, it.reason) != 0) {
            rc = -1;
            snprintf(err, sizeof(err), "out of memory");
            break;
        }
    }
    uint64_t damaged, tail;
    spool_reader_damage(r, &damaged, &tail);
    t->damaged += damaged + tail;
    spool_reader_close(r);
    return rc ? refuse(c, "%s", err) : 0;
}

static void status_text(const struct spool_cmd *c, const struct tally *q, const struct tally *d, bool busy)
{
    int64_t now = (int64_t)time(NULL);
    char age[32];
    printf("spool %s%s\n", c->cfg.spool_dir, busy ? " (the service is running: this is a snapshot)" : "");
    printf("undelivered   %" PRIu64 " records, %" PRIu64 " bytes", q->records, q->bytes);
    format_age(now - q->oldest, age);
    if (q->records)
        printf(", the oldest appended %s ago", age);
    printf("\ndead letters  %" PRIu64 " in %s/dead.log", d->records, c->cfg.spool_dir);
    format_age(now - d->oldest, age);
    if (d->records)
        printf(", the oldest set aside %s ago", age);
    fputc('\n', stdout);
    for (size_t i = 0; i < d->nreasons; i++)
        printf("  %8" PRIu64 "  %s\n", d->reasons[i].n, d->reasons[i].reason);
    if (q->damaged + d->damaged)
        printf("damaged       %" PRIu64 " bytes skipped (the records after them are read)\n", q->damaged + d->damaged);
    bool other = strcmp(c->config_path, DEFAULT_CONFIG) != 0;
    if (d->records)
        printf("To send the dead letters again once their cause is fixed (certificate, server):\n"
               "  sudo systemctl stop cccd-reader && sudo cccd-reader spool requeue --all%s%s && "
               "sudo systemctl start cccd-reader\n", other ? " --config " : "", other ? c->config_path : "");
}

static json_t *tally_json(const struct tally *t, bool dead)
{
    int64_t now = (int64_t)time(NULL);
    json_t *o = json_pack("{s:I, s:I, s:I}", "records", (json_int_t)t->records, "bytes", (json_int_t)t->bytes,
                          "damaged_bytes", (json_int_t)t->damaged);
    if (!o)
        return NULL;
    json_object_set_new(o, dead ? "oldest_set_aside_unix" : "oldest_unix",
                        t->records ? json_integer(t->oldest) : json_null());
    json_object_set_new(o, "oldest_age_s", t->records ? json_integer(now - t->oldest) : json_null());
    if (dead) {
        json_t *by = json_object();
        for (size_t i = 0; by && i < t->nreasons; i++)
            json_object_set_new(by, t->reasons[i].reason, json_integer((json_int_t)t->reasons[i].n));
        json_object_set_new(o, "by_reason", by ? by : json_null());
    }
    return o;
}

static int status_json(const struct spool_cmd *c, const struct tally *q, const struct tally *d, bool busy)
{
    json_t *o = json_pack("{s:s, s:b, s:o*, s:o*}", "dir", c->cfg.spool_dir, "service_running", busy, "undelivered",
                          tally_json(q, false), "dead_letters", tally_json(d, true));
    int rc = o && json_dumpf(o, stdout, JSON_COMPACT) == 0 ? 0 : -1;
    json_decref(o);
    if (rc)
        return refuse(c, "out of memory while writing JSON");
    fputc('\n', stdout);
    return CLI_OK;
}

static int do_status(struct spool_cmd *c)
{
    struct tally q = { 0 }, d = { 0 };
    bool busy = spool_in_use(c->cfg.spool_dir);
    int rc = tally_items(c, false, &q);
    if (!rc)
        rc = tally_items(c, true, &d);
    if (!rc && c->json)
        rc = status_json(c, &q, &d, busy);
    else if (!rc)
        status_text(c, &q, &d, busy);
    free(d.reasons);
    return rc;
}

/* ---- list --------------------------------------------------------------------------- */

/* The fields of a check-in a person may see: masked unless show_pii. */
static void checkin_fields(const struct spool_item *it, bool show_pii, char *key, size_t keycap, char id[32],
                           json_t **record)
{
    snprintf(key, keycap, "-");
    snprintf(id, 32, "-");
    *record = NULL;
    if (it->state != SPOOL_ITEM_OK) {
        snprintf(id, 32, "%s", it->state == SPOOL_ITEM_NO_KEY    ? "(sealed: no key)"
                               : it->state == SPOOL_ITEM_WRONG_KEY ? "(sealed: other key)"
                                                                  : "(corrupt)");
        return;
    }
    json_t *o = json_loadb((const char *)it->payload, it->len, 0, NULL);
    const char *k = json_string_value(json_object_get(o, "idempotency_key"));
    const char *n = json_string_value(json_object_get(o, "id_number"));
    if (k)
        snprintf(key, keycap, "%s", k);
    if (n && show_pii)
        snprintf(id, 32, "%s", n);
    else if (n)
        record_mask_id(n, id);
    *record = o;
}

/* --show-pii: the personal fields the record carries, on a line of their own. */
static void print_pii(json_t *record)
{
    static const char *const fields[] = { "full_name", "date_of_birth", "sex", "address", "old_id_number",
                                          "issue_date" };
    bool any = false;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = json_string_value(json_object_get(record, fields[i]));
        if (v)
            printf("%s%s: %s", any ? ", " : "         ", fields[i], v);
        any |= v != NULL;
    }
    if (any)
        fputc('\n', stdout);
}

static void list_line(const struct spool_cmd *c, const struct spool_item *it)
{
    char appended[32], aside[32], key[160], id[32];
    json_t *record;
    format_time(it->appended_unix, appended);
    format_time(it->set_aside_unix, aside);
    checkin_fields(it, c->show_pii, key, sizeof(key), id, &record);
    if (c->dead)
        printf("%-8" PRIu64 " %-19s  %-19s  %-44s %-14s %s\n", it->seq, appended, aside, key, id, it->reason);
    else
        printf("%-8" PRIu64 " %-19s  %-44s %s\n", it->seq, appended, key, id);
    if (c->show_pii && record)
        print_pii(record);
    json_decref(record);
}

static int do_list(struct spool_cmd *c)
{
    struct spool_reader *r = NULL;
    int rc = open_reader(c, c->dead, &r);
    if (rc)
        return rc;
    if (c->dead)
        printf("%-8s %-19s  %-19s  %-44s %-14s %s\n", "SEQ", "APPENDED", "SET ASIDE", "IDEMPOTENCY KEY", "ID",
               "REASON");
    else
        printf("%-8s %-19s  %-44s %s\n", "SEQ", "APPENDED", "IDEMPOTENCY KEY", "ID");
    struct spool_item it;
    char err[512];
    uint64_t n = 0, damaged, tail;
    while ((rc = spool_reader_next(r, &it, err, sizeof(err))) == 1) {
        list_line(c, &it);
        n++;
    }
    spool_reader_damage(r, &damaged, &tail);
    spool_reader_close(r);
    if (rc)
        return refuse(c, "%s", err);
    printf("%" PRIu64 " %s", n, c->dead ? "dead letters" : "undelivered records");
    if (damaged + tail)
        printf("; %" PRIu64 " damaged bytes skipped", damaged + tail);
    fputc('\n', stdout);
    return CLI_OK;
}

/* ---- requeue, purge --------------------------------------------------------------------- */

static void requeue_report(const struct spool_cmd *c, const struct spool_requeue_result *res)
{
    if (res->requeued)
        printf("requeued %" PRIu64 " dead letter(s) from %s/dead.log as records %" PRIu64 "..%" PRIu64 "\n",
               res->requeued, c->cfg.spool_dir, res->first_seq, res->last_seq);
    if (res->already_queued)
        printf("removed %" PRIu64 " dead letter(s) from dead.log that were queued already (same idempotency key)\n",
               res->already_queued);
    if (res->corrupt)
        printf("skipped %" PRIu64 " corrupt one(s): damaged on disk, they cannot be sent again; they stay in "
               "dead.log\n", res->corrupt);
    if (res->unreadable)
        printf("skipped %" PRIu64 " sealed one(s) the key does not open: set [spool] key_file in %s to the key "
               "they were written with and run this again\n", res->unreadable, c->config_path);
    if (!res->requeued && !res->already_queued && !res->corrupt && !res->unreadable)
        printf("no dead letter to requeue in %s/dead.log%s\n", c->cfg.spool_dir,
               c->reason || c->nseqs ? " matches the choice" : "");
}

static int do_requeue(struct spool_cmd *c)
{
    struct spool *s = NULL;
    int rc = open_spool(c, &s);
    if (rc)
        return rc;
    struct spool_dead_select which = { c->reason, c->nseqs ? c->seqs : NULL, c->nseqs };
    struct spool_requeue_result res;
    char err[1024];
    int st = spool_dead_requeue(s, &which, &res, err, sizeof(err));
    spool_close(s);
    requeue_report(c, &res);
    if (st == SPOOL_ERR_FULL)
        return refuse(c, "%s\n  fix: the rest stay in dead.log: start the service so the queue drains "
                         "(sudo systemctl start cccd-reader), then stop it and run this again", err);
    if (st)
        return refuse(c, "%s", err);
    if (res.requeued)
        printf("Start the service to deliver them: sudo systemctl start cccd-reader\n");
    return CLI_OK;
}

static int do_purge(struct spool_cmd *c)
{
    struct spool *s = NULL;
    int rc = open_spool(c, &s);
    if (rc)
        return rc;
    uint64_t removed = 0;
    char err[512];
    int st = spool_dead_purge(s, (int64_t)c->older_than_days * 86400, &removed, err, sizeof(err));
    spool_close(s);
    if (st)
        return refuse(c, "%s", err);
    printf("purged %" PRIu64 " dead letter(s) set aside more than %ld day(s) ago from %s/dead.log\n", removed,
           c->older_than_days, c->cfg.spool_dir);
    return CLI_OK;
}

int cmd_spool(int argc, char **argv)
{
    static struct spool_cmd c;
    memset(&c, 0, sizeof(c));
    c.config_path = DEFAULT_CONFIG;
    c.older_than_days = -1;
    c.argc = argc;
    c.argv = argv;
    if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0)) {
        usage(stdout);
        return CLI_OK;
    }
    if (parse_args(&c, argc, argv) != 0)
        return usage(stderr);
    /* The spool's own notices (what it requeued) are said here in words. */
    log_set_level(LOG_WARNING);
    int rc = load_setup(&c, c.action != STATUS);
    if (!rc) {
        switch (c.action) {
        case STATUS: rc = do_status(&c); break;
        case LIST: rc = do_list(&c); break;
        case REQUEUE: rc = do_requeue(&c); break;
        case PURGE: rc = do_purge(&c); break;
        }
    }
    explicit_bzero(c.key, sizeof(c.key));
    return rc;
}
