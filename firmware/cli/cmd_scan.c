/* cmd_scan.c - `cccd-reader scan`: decode the QR codes in picture files. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hex.h"
#include "base/image_io.h"
#include "card/cccd_parse.h"
#include "card/record_format.h"
#include "cli/cli.h"
#include "decode/qr_reader.h"

struct scan_opts {
    bool json;
    bool show_pii;
    bool vi;
    struct cccd_parse_opts parse;
};

static const char *image_error_code(int rc)
{
    switch (rc) {
    case IMAGE_ERR_OPEN: return "file-unreadable";
    case IMAGE_ERR_FORMAT: return "image-format";
    case IMAGE_ERR_CORRUPT: return "image-corrupt";
    case IMAGE_ERR_TOO_LARGE: return "image-too-large";
    case IMAGE_ERR_NOMEM: return "out-of-memory";
    default: return "image-error";
    }
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void emit_json(json_t *o)
{
    if (o && json_dumpf(o, stdout, JSON_COMPACT) == 0)
        fputc('\n', stdout);
    else
        fprintf(stderr, "cccd-reader scan: out of memory while writing JSON\n");
    json_decref(o);
}

static json_t *code_json(const struct qr_code *c, enum cccd_status st, const struct cccd_record *rec)
{
    char *hex = malloc(2 * c->len + 1);
    if (!hex)
        return NULL;
    hex_encode(c->data, c->len, hex);
    json_t *o = json_pack("{s:s, s:s}", "hex", hex, "kind", record_kind(st));
    free(hex);
    if (!o)
        return NULL;
    if (st == CCCD_OK)
        json_object_set_new(o, "record", record_to_json(rec));
    else
        json_object_set_new(o, "error", record_error_json(st));
    return o;
}

static void print_code_text(int i, const struct qr_code *c, enum cccd_status st, const struct cccd_record *rec,
                            const struct scan_opts *o)
{
    const char *msg = o->vi ? cccd_status_message_vi(st) : cccd_status_message_en(st);
    if (st == CCCD_OK) {
        printf("  [%d] card read and checked\n", i + 1);
        record_print_text(stdout, rec, o->show_pii, "      ");
    } else if (st == CCCD_NOT_CARD) {
        printf("  [%d] not a card (%zu bytes): %s\n", i + 1, c->len, msg);
    } else {
        printf("  [%d] card rejected, %s: %s\n", i + 1, cccd_status_code(st), msg);
    }
}

/* Decodes one file and reports it. Returns 0, or -1 when the file could not be read. */
static int scan_file(struct qr_reader *dec, const char *path, const struct scan_opts *o)
{
    struct gray_image img;
    char err[512];
    int rc = image_load(path, &img, err, sizeof(err));
    if (rc != IMAGE_OK) {
        if (o->json)
            emit_json(json_pack("{s:s, s:{s:s, s:s}}", "file", path, "error", "code", image_error_code(rc),
                                "message", err));
        else
            printf("%s: cannot scan: %s\n", path, err);
        return -1;
    }
    struct frame f = gray_image_frame(&img);
    double t0 = now_ms();
    qr_reader_forget(dec); /* each file is its own picture */
    int n = qr_reader_scan(dec, &f);
    double ms = now_ms() - t0;
    json_t *codes = json_array();
    if (!o->json)
        printf("%s: %d QR code%s, %.1f ms\n", path, n < 0 ? 0 : n, n == 1 ? "" : "s", ms);
    for (int i = 0; i < n; i++) {
        const struct qr_code *c = qr_reader_code(dec, i);
        struct cccd_record rec;
        enum cccd_status st = cccd_parse(c->data, c->len, &o->parse, &rec);
        if (o->json)
            json_array_append_new(codes, code_json(c, st, &rec));
        else
            print_code_text(i, c, st, &rec, o);
        memset(&rec, 0, sizeof(rec));
    }
    if (o->json)
        emit_json(json_pack("{s:s, s:f, s:o}", "file", path, "ms", (double)(long)(ms * 100 + 0.5) / 100, "codes",
                            codes));
    else
        json_decref(codes);
    gray_image_free(&img);
    return n < 0 ? -1 : 0;
}

int cmd_scan(int argc, char **argv)
{
    struct scan_opts o = { 0 };
    int first = 0;
    for (; first < argc && strncmp(argv[first], "--", 2) == 0; first++) {
        if (strcmp(argv[first], "--json") == 0)
            o.json = true;
        else if (strcmp(argv[first], "--show-pii") == 0)
            o.show_pii = true;
        else if (strcmp(argv[first], "--lang=vi") == 0)
            o.vi = true;
        else if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        } else if (strcmp(argv[first], "--lang=en") != 0) {
            fprintf(stderr, "cccd-reader scan: unknown option '%s'\n", argv[first]);
            first = argc; /* fall through to usage */
            break;
        }
    }
    if (first >= argc) {
        fprintf(stderr, "usage: cccd-reader scan [--json] [--show-pii] [--lang=en|vi] FILE...\n");
        return CLI_USAGE;
    }
    cccd_parse_opts_now(&o.parse);
    struct qr_reader *dec;
    char err[256];
    /* A picture is scanned once: no time budget, every shape may be tried. */
    struct qr_reader_opts ro = { .budget_ms = 0, .track_frames = 0 };
    if (qr_reader_open(&dec, &ro, err, sizeof(err)) != 0) {
        fprintf(stderr, "cccd-reader scan: %s\n", err);
        return CLI_REFUSED;
    }
    int failed = 0;
    for (int i = first; i < argc; i++)
        failed |= scan_file(dec, argv[i], &o) != 0;
    qr_reader_close(dec);
    return failed ? CLI_REFUSED : CLI_OK;
}
