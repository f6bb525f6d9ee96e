/* main.c - cccd-reader: subcommand dispatch. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef CCCD_VERSION
#define CCCD_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fputs("usage: cccd-reader COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  scan [--json] [--show-pii] FILE...   decode the QR codes in PGM/PNG/JPEG pictures\n"
          "  parse [--text] [--show-pii]           verify one card payload read from standard input\n"
          "  run --config FILE [--once]            the terminal: camera, decoder, desk lights and buzzer\n"
          "  doctor [--config FILE] [--json]       check camera, focus, GPIO, clock, certificates, server, queue\n"
          "  provision --config FILE --dir DIR     make the device key and CSR; with --cert SIGNED.pem install it\n"
          "  snapshot OUT.png [--config FILE]      one camera frame, QR codes outlined, sharpness written on it\n"
          "  spool status|list|requeue|purge       the queue and its dead letters: list them, send them again\n"
          "  version                               print the version\n"
          "\n"
          "Personal data (ID number, name, birth date, address) is masked in text output\n"
          "unless --show-pii is given. --json output is for programs and is never masked.\n",
          out);
}

static int dispatch(int argc, char **argv)
{
    const char *cmd = argv[1];
    if (strcmp(cmd, "scan") == 0)
        return cmd_scan(argc - 2, argv + 2);
    if (strcmp(cmd, "parse") == 0)
        return cmd_parse(argc - 2, argv + 2);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "doctor") == 0)
        return cmd_doctor(argc - 2, argv + 2);
    if (strcmp(cmd, "provision") == 0)
        return cmd_provision(argc - 2, argv + 2);
    if (strcmp(cmd, "snapshot") == 0)
        return cmd_snapshot(argc - 2, argv + 2);
    if (strcmp(cmd, "spool") == 0)
        return cmd_spool(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("cccd-reader %s\n", CCCD_VERSION);
        return CLI_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    fprintf(stderr, "cccd-reader: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}

/* What a command printed must have arrived: a full disk, a closed pipe or
 * a closed stdout (`scan --json > /dev/full`, `parse >&-`) is a failure,
 * not a silent exit 0 with the output lost. */
static int flush_output(int rc)
{
    errno = 0;
    bool lost = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (fclose(stdout) != 0 && !lost) {
        lost = true;
        e = errno;
    }
    if (!lost)
        return rc;
    fprintf(stderr, "cccd-reader: the output could not be written: %s\n", e ? strerror(e) : "write error");
    return rc == CLI_OK ? CLI_REFUSED : rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    return flush_output(dispatch(argc, argv));
}
