/* readrate.c - how many of the codes in a set of frames the decoder reads.
 *
 *   readrate MANIFEST [--markdown OUT.md] [--min-rate CATEGORY=PCT]... [--list-misses]
 *            [--decoder reader|zbar]
 *
 * MANIFEST (as make_frames writes it) has one line per expected code:
 * category, image file (relative to the manifest's folder), payload in hex;
 * a frame with no code has one line with an empty payload. Each frame is
 * scanned once with the terminal's reader (qr_reader_scan(), no time budget:
 * a still picture gets every shape) or, with --decoder zbar, with ZBar on
 * the whole frame (qr_decoder_scan()), and its codes are compared byte for
 * byte with what the frame should hold:
 *   read   an expected payload was returned exactly;
 *   wrong  a returned payload is none of the frame's expected payloads
 *          (a misread: must never happen);
 *   false  a code returned from a frame that holds none.
 * Decode time (monotonic clock, scan only) is information, not a criterion.
 * --list-misses names each frame with a code unread, wrong or false.
 *
 * Exit status: 0 when nothing was wrong or false (and every --min-rate held),
 * 1 otherwise, 2 on usage errors or unreadable files.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zbar.h>

#include "base/hex.h"
#include "base/image_io.h"
#include "machine.h"
#include "decode/qr_decode.h"
#include "decode/qr_reader.h"

#define LINE_MAX_LEN 16384
#define PAYLOAD_MAX 4096 /* bytes; a QR symbol holds at most 2953 */
#define ENTRIES_MAX 100000
#define CATEGORIES_MAX 64
#define NAME_MAX_LEN 64
#define PATH_MAX_LEN 4096
#define MIN_RATES_MAX 32
#define CODES_PER_FRAME_MAX QR_MAX_CODES

/* One manifest line. */
struct entry {
    int category;
    int line;
    char *file;
    uint8_t *payload; /* NULL for "no code" */
    size_t len;
};

struct category_stats {
    char name[NAME_MAX_LEN];
    int frames, codes, read, wrong, false_reads;
    double ms_total, ms_max;
};

struct min_rate {
    char category[NAME_MAX_LEN];
    double pct;
};

struct options {
    const char *manifest;
    const char *markdown;
    struct min_rate min_rates[MIN_RATES_MAX];
    int nmin_rates;
    bool list_misses;
    bool zbar; /* --decoder zbar: ZBar on the whole frame */
    int argc;
    char **argv;
};

struct run {
    struct entry *entries;
    int nentries, capacity;
    struct category_stats cats[CATEGORIES_MAX];
    int ncats;
    char dir[PATH_MAX_LEN]; /* the manifest's folder, for relative file names */
};

/* ---- manifest ----------------------------------------------------------- */

/* Decodes hex into a new buffer; *out stays NULL for an empty string. */
static int decode_hex(const char *hex, uint8_t **out, size_t *len)
{
    size_t n = strlen(hex);
    *out = NULL;
    *len = 0;
    if (n == 0)
        return 0;
    if (n % 2 != 0 || n / 2 > PAYLOAD_MAX)
        return -1;
    uint8_t *buf = malloc(n / 2);
    if (!buf)
        return -1;
    if (hex_decode(hex, buf, n / 2) != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n / 2;
    return 0;
}

static int category_index(struct run *run, const char *name)
{
    for (int i = 0; i < run->ncats; i++)
        if (strcmp(run->cats[i].name, name) == 0)
            return i;
    if (run->ncats >= CATEGORIES_MAX || strlen(name) >= NAME_MAX_LEN || name[0] == '\0')
        return -1;
    struct category_stats *c = &run->cats[run->ncats];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    return run->ncats++;
}

static int add_entry(struct run *run, const struct entry *e)
{
    if (run->nentries == run->capacity) {
        int cap = run->capacity ? run->capacity * 2 : 256;
        struct entry *p = realloc(run->entries, (size_t)cap * sizeof(*p));
        if (!p)
            return -1;
        run->entries = p;
        run->capacity = cap;
    }
    run->entries[run->nentries++] = *e;
    return 0;
}

/* Splits "category<TAB>file<TAB>hex" in place. */
static bool split_line(char *line, char **cat, char **file, char **hex)
{
    line[strcspn(line, "\r\n")] = '\0';
    char *t1 = strchr(line, '\t');
    char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (!t1 || !t2 || strchr(t2 + 1, '\t'))
        return false;
    *t1 = *t2 = '\0';
    *cat = line, *file = t1 + 1, *hex = t2 + 1;
    return **file != '\0';
}

static int parse_manifest_line(struct run *run, char *line, int lineno, const char *path)
{
    char *cat, *file, *hex;
    struct entry e = { .line = lineno };
    if (!split_line(line, &cat, &file, &hex)) {
        fprintf(stderr, "readrate: %s:%d: expected category<TAB>file<TAB>hex\n", path, lineno);
        return -1;
    }
    if ((e.category = category_index(run, cat)) < 0) {
        fprintf(stderr, "readrate: %s:%d: bad or too many categories (%s)\n", path, lineno, cat);
        return -1;
    }
    if (decode_hex(hex, &e.payload, &e.len) != 0) {
        fprintf(stderr, "readrate: %s:%d: payload is not hex of at most %d bytes\n", path, lineno, PAYLOAD_MAX);
        return -1;
    }
    e.file = strdup(file);
    if (!e.file || run->nentries >= ENTRIES_MAX || add_entry(run, &e) != 0) {
        fprintf(stderr, "readrate: %s:%d: out of memory or more than %d lines\n", path, lineno, ENTRIES_MAX);
        free(e.file);
        free(e.payload);
        return -1;
    }
    return 0;
}

static int read_manifest(struct run *run, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "readrate: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = malloc(LINE_MAX_LEN);
    int lineno = 0, rc = 0;
    if (!line) {
        fprintf(stderr, "readrate: out of memory reading %s\n", path);
        rc = -1;
    }
    while (rc == 0 && fgets(line, LINE_MAX_LEN, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "readrate: %s:%d: line longer than %d bytes\n", path, lineno, LINE_MAX_LEN - 1);
            rc = -1;
        } else if (line[0] != '#' && line[strspn(line, " \r\n")] != '\0')
            rc = parse_manifest_line(run, line, lineno, path);
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "readrate: cannot read %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    if (rc == 0 && run->nentries == 0) {
        fprintf(stderr, "readrate: %s lists no frames\n", path);
        rc = -1;
    }
    return rc;
}

static void free_run(struct run *run)
{
    for (int i = 0; i < run->nentries; i++) {
        free(run->entries[i].file);
        free(run->entries[i].payload);
    }
    free(run->entries);
}

/* Entries of one file end up next to each other, in manifest order. */
static int compare_entries(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* ---- scanning ------------------------------------------------------------ */

static double now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0.0;
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Matches the decoded codes against the frame's expected entries e[0..n).
 * Returns true when the frame came out exactly as expected. */
/* One of the two decoders under test. */
struct decoder {
    struct qr_decoder *zbar; /* --decoder zbar */
    struct qr_reader *reader;
};

static const struct qr_code *decoded(const struct decoder *d, int i)
{
    return d->reader ? qr_reader_code(d->reader, i) : qr_decoder_code(d->zbar, i);
}

static bool score_frame(struct category_stats *c, const struct entry *e, int n, const struct decoder *dec,
                        int ncodes)
{
    bool used[CODES_PER_FRAME_MAX] = { false };
    int expected = 0, read = 0, bad = 0;
    for (int i = 0; i < n; i++)
        expected += e[i].payload != NULL;
    c->codes += expected;
    for (int k = 0; k < ncodes; k++) {
        const struct qr_code *q = decoded(dec, k);
        bool known = false;
        for (int i = 0; i < n && i < CODES_PER_FRAME_MAX && q; i++) {
            if (e[i].payload && e[i].len == q->len && memcmp(e[i].payload, q->data, q->len) == 0) {
                known = true;
                if (!used[i]) {
                    used[i] = true;
                    read++;
                }
            }
        }
        if (expected == 0)
            c->false_reads++;
        else if (!known)
            c->wrong++;
        bad += !known;
    }
    c->read += read;
    return read == expected && bad == 0;
}

static int resolve_path(const struct run *run, const char *file, char *out, size_t outsize)
{
    int n = file[0] == '/' ? snprintf(out, outsize, "%s", file) : snprintf(out, outsize, "%s/%s", run->dir, file);
    return n < 0 || (size_t)n >= outsize ? -1 : 0;
}

/* Loads and scans the file of entries e[0..n), all naming the same file. */
static int scan_frame(struct run *run, struct decoder *dec, const struct entry *e, int n, bool list_misses)
{
    char path[PATH_MAX_LEN], err[512];
    struct gray_image img;
    if (resolve_path(run, e[0].file, path, sizeof(path)) != 0) {
        fprintf(stderr, "readrate: path too long: %s\n", e[0].file);
        return -1;
    }
    if (image_load(path, &img, err, sizeof(err)) != IMAGE_OK) {
        fprintf(stderr, "readrate: %s\n", err);
        return -1;
    }
    struct frame f = gray_image_frame(&img);
    double t0 = now_ms();
    int ncodes;
    if (dec->reader) {
        qr_reader_forget(dec->reader); /* the files are unrelated pictures */
        ncodes = qr_reader_scan(dec->reader, &f);
    } else
        ncodes = qr_decoder_scan(dec->zbar, &f);
    double ms = now_ms() - t0;
    gray_image_free(&img);
    if (ncodes < 0) {
        fprintf(stderr, "readrate: %s: the decoder failed (%d)\n", path, ncodes);
        return -1;
    }
    struct category_stats *c = &run->cats[e[0].category];
    c->frames++;
    c->ms_total += ms;
    c->ms_max = ms > c->ms_max ? ms : c->ms_max;
    if (!score_frame(c, e, n, dec, ncodes) && list_misses)
        printf("miss %s %s (%d decoded)\n", c->name, path, ncodes);
    return 0;
}

static int scan_all(struct run *run, bool list_misses, bool use_zbar)
{
    char err[256];
    struct decoder dec = { NULL, NULL };
    /* No budget: a still picture is read with every shape the reader has. */
    struct qr_reader_opts opts = { .budget_ms = 0, .track_frames = 0 };
    int orc = use_zbar ? qr_decoder_open(&dec.zbar, err, sizeof(err))
                       : qr_reader_open(&dec.reader, &opts, err, sizeof(err));
    if (orc != 0) {
        fprintf(stderr, "readrate: %s\n", err);
        return -1;
    }
    qsort(run->entries, (size_t)run->nentries, sizeof(run->entries[0]), compare_entries);
    int rc = 0;
    for (int i = 0; i < run->nentries && rc == 0;) {
        int j = i + 1;
        while (j < run->nentries && strcmp(run->entries[j].file, run->entries[i].file) == 0)
            j++;
        if (j - i > CODES_PER_FRAME_MAX) {
            fprintf(stderr, "readrate: %s: more than %d codes listed\n", run->entries[i].file, CODES_PER_FRAME_MAX);
            rc = -1;
        } else
            rc = scan_frame(run, &dec, &run->entries[i], j - i, list_misses);
        i = j;
    }
    qr_decoder_close(dec.zbar);
    qr_reader_close(dec.reader);
    return rc;
}

/* ---- report --------------------------------------------------------------- */

static double pct(int part, int whole)
{
    return whole ? 100.0 * part / whole : 100.0;
}

static struct category_stats totals(const struct run *run)
{
    struct category_stats t = { .name = "total" };
    for (int i = 0; i < run->ncats; i++) {
        const struct category_stats *c = &run->cats[i];
        t.frames += c->frames, t.codes += c->codes, t.read += c->read;
        t.wrong += c->wrong, t.false_reads += c->false_reads;
        t.ms_total += c->ms_total;
        t.ms_max = c->ms_max > t.ms_max ? c->ms_max : t.ms_max;
    }
    return t;
}

static void print_row(FILE *f, const struct category_stats *c, bool md)
{
    double mean = c->frames ? c->ms_total / c->frames : 0.0;
    char rate[16];
    /* A category without codes (empty frames) has no read rate. */
    if (c->codes)
        snprintf(rate, sizeof(rate), "%.1f", pct(c->read, c->codes));
    else
        snprintf(rate, sizeof(rate), "-");
    const char *fmt = md ? "| %s | %d | %d | %d | %s | %d | %d | %.1f | %.1f |\n"
                         : "%-12s %6d %6d %6d %7s %6d %6d %8.1f %8.1f\n";
    fprintf(f, fmt, c->name, c->frames, c->codes, c->read, rate, c->wrong, c->false_reads, mean, c->ms_max);
}

static void print_table(FILE *f, const struct run *run, bool md)
{
    if (md)
        fprintf(f, "| category | frames | codes | read | read %% | wrong | false | mean ms | max ms |\n"
                   "|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    else
        fprintf(f, "%-12s %6s %6s %6s %7s %6s %6s %8s %8s\n", "category", "frames", "codes", "read", "read%",
                "wrong", "false", "mean ms", "max ms");
    for (int i = 0; i < run->ncats; i++)
        print_row(f, &run->cats[i], md);
    struct category_stats t = totals(run);
    print_row(f, &t, md);
}

static void print_machine(FILE *f, const struct options *o)
{
    struct utsname u;
    char cpu[256], date[64];
    unsigned major = 0, minor = 0, patch = 0;
    time_t now = time(NULL);
    struct tm tm;
    if (uname(&u) != 0)
        snprintf(u.machine, sizeof(u.machine), "unknown");
    machine_cpu_model(cpu, sizeof(cpu));
    if (!gmtime_r(&now, &tm) || strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(date, sizeof(date), "unknown");
    zbar_version(&major, &minor, &patch);
    fprintf(f, "- machine: %s, %ld CPUs, %s\n- libzbar: %u.%u.%u\n- date: %s\n- command:", u.machine,
            sysconf(_SC_NPROCESSORS_ONLN), cpu, major, minor, patch, date);
    for (int i = 0; i < o->argc; i++)
        fprintf(f, " %s", o->argv[i]);
    fprintf(f, "\n");
}

static int write_markdown(const struct run *run, const struct options *o)
{
    FILE *f = fopen(o->markdown, "w");
    if (!f) {
        fprintf(stderr, "readrate: cannot write %s: %s\n", o->markdown, strerror(errno));
        return -1;
    }
    fprintf(f, "# Read rate\n\n");
    print_table(f, run, true);
    fprintf(f, "\n");
    print_machine(f, o);
    if (ferror(f) | (fclose(f) != 0)) {
        fprintf(stderr, "readrate: cannot write %s: %s\n", o->markdown, strerror(errno));
        return -1;
    }
    return 0;
}

/* 0 when every --min-rate holds; 1 when one fails; -1 for an unknown category. */
static int check_min_rates(const struct run *run, const struct options *o)
{
    int rc = 0;
    for (int k = 0; k < o->nmin_rates; k++) {
        const struct min_rate *m = &o->min_rates[k];
        const struct category_stats *c = NULL;
        for (int i = 0; i < run->ncats; i++)
            if (strcmp(run->cats[i].name, m->category) == 0)
                c = &run->cats[i];
        if (!c) {
            fprintf(stderr, "readrate: --min-rate: no category %s in %s\n", m->category, o->manifest);
            return -1;
        }
        if (pct(c->read, c->codes) < m->pct) {
            printf("FAIL %s: read %.1f%% < %.1f%%\n", c->name, pct(c->read, c->codes), m->pct);
            rc = 1;
        }
    }
    return rc;
}

/* ---- command line ------------------------------------------------------------ */

static int parse_min_rate(const char *arg, struct min_rate *m)
{
    const char *eq = strchr(arg, '=');
    char *end;
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(m->category))
        return -1;
    errno = 0;
    double v = strtod(eq + 1, &end);
    if (errno || end == eq + 1 || *end || v < 0 || v > 100)
        return -1;
    memcpy(m->category, arg, (size_t)(eq - arg));
    m->category[eq - arg] = '\0';
    m->pct = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->argc = argc;
    o->argv = argv;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--markdown") == 0 && i + 1 < argc)
            o->markdown = argv[++i];
        else if (strcmp(argv[i], "--min-rate") == 0 && i + 1 < argc) {
            if (o->nmin_rates >= MIN_RATES_MAX || parse_min_rate(argv[++i], &o->min_rates[o->nmin_rates]) != 0) {
                fprintf(stderr, "readrate: bad --min-rate %s (want CATEGORY=PCT, PCT 0..100)\n", argv[i]);
                return -1;
            }
            o->nmin_rates++;
        } else if (strcmp(argv[i], "--list-misses") == 0)
            o->list_misses = true;
        else if (strcmp(argv[i], "--decoder") == 0 && i + 1 < argc &&
                 (strcmp(argv[i + 1], "zbar") == 0 || strcmp(argv[i + 1], "reader") == 0))
            o->zbar = strcmp(argv[++i], "zbar") == 0;
        else if (argv[i][0] != '-' && !o->manifest)
            o->manifest = argv[i];
        else {
            fprintf(stderr, "readrate: bad argument: %s\n", argv[i]);
            return -1;
        }
    }
    return o->manifest ? 0 : -1;
}

static void set_dir(struct run *run, const char *manifest)
{
    const char *slash = strrchr(manifest, '/');
    if (!slash)
        snprintf(run->dir, sizeof(run->dir), ".");
    else
        snprintf(run->dir, sizeof(run->dir), "%.*s", (int)(slash - manifest), manifest);
    if (run->dir[0] == '\0')
        snprintf(run->dir, sizeof(run->dir), "/");
}

int main(int argc, char **argv)
{
    struct options o;
    struct run run = { 0 };
    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: readrate MANIFEST [--markdown OUT.md] [--min-rate CATEGORY=PCT]... [--list-misses]\n"
                        "                [--decoder reader|zbar]\n");
        return 2;
    }
    set_dir(&run, o.manifest);
    int rc = read_manifest(&run, o.manifest) == 0 && scan_all(&run, o.list_misses, o.zbar) == 0 ? 0 : 2;
    if (rc == 0) {
        print_table(stdout, &run, false);
        struct category_stats t = totals(&run);
        int rates = check_min_rates(&run, &o);
        if (rates < 0 || (o.markdown && write_markdown(&run, &o) != 0))
            rc = 2;
        else if (t.wrong > 0 || t.false_reads > 0 || rates > 0)
            rc = 1;
    }
    free_run(&run);
    return rc;
}
