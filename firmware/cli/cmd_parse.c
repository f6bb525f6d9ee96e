/* cmd_parse.c - `cccd-reader parse`: one payload from standard input. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card/cccd_parse.h"
#include "card/record_format.h"
#include "cli/cli.h"

/* Enough for any QR code (2953 bytes) with room to spare; anything longer
 * is read only far enough to know it is too long. */
#define STDIN_MAX (64 * 1024)

static int print_json(json_t *o)
{
    int rc = json_dumpf(o, stdout, JSON_COMPACT) == 0 ? 0 : -1;
    json_decref(o);
    fputc('\n', stdout);
    return rc;
}

int cmd_parse(int argc, char **argv)
{
    bool text = false, show_pii = false, vi = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--text") == 0)
            text = true;
        else if (strcmp(argv[i], "--show-pii") == 0)
            show_pii = true;
        else if (strcmp(argv[i], "--lang=vi") == 0)
            vi = true;
        else if (strcmp(argv[i], "--lang=en") != 0) {
            fprintf(stderr, "cccd-reader parse: unknown option '%s'\n"
                            "usage: cccd-reader parse [--text] [--show-pii] [--lang=en|vi] < PAYLOAD\n", argv[i]);
            return CLI_USAGE;
        }
    }
    static unsigned char buf[STDIN_MAX + 1];
    size_t len = fread(buf, 1, sizeof(buf), stdin);
    if (ferror(stdin)) {
        fprintf(stderr, "cccd-reader parse: cannot read standard input\n");
        return CLI_USAGE;
    }
    struct cccd_record rec;
    enum cccd_status st = cccd_parse(buf, len, NULL, &rec);
    if (text) {
        if (st == CCCD_OK)
            record_print_text(stdout, &rec, show_pii, "");
        else
            printf("%s (%s): %s\n", record_kind(st), cccd_status_code(st),
                   vi ? cccd_status_message_vi(st) : cccd_status_message_en(st));
    } else if (st == CCCD_OK) {
        json_t *o = record_to_json(&rec);
        if (!o || print_json(o) != 0)
            return CLI_REFUSED;
    } else {
        json_t *o = json_pack("{s:s, s:o}", "kind", record_kind(st), "error", record_error_json(st));
        if (o)
            print_json(o);
    }
    memset(&rec, 0, sizeof(rec));
    return st == CCCD_OK ? CLI_OK : CLI_REFUSED;
}
