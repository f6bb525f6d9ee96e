/* cli.h - the cccd-reader command line: one function per subcommand.
 *
 * Each takes the arguments after the subcommand's name and returns the
 * process exit status: 0 success, 1 the input was refused (a card rejected,
 * a file unreadable), 2 a usage error. */
#ifndef CCCD_CLI_H
#define CCCD_CLI_H

enum cli_exit { CLI_OK = 0, CLI_REFUSED = 1, CLI_USAGE = 2 };

int cmd_scan(int argc, char **argv);
int cmd_parse(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* Technician commands (docs/technician.md). */
int cmd_doctor(int argc, char **argv);
int cmd_provision(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_spool(int argc, char **argv);

#endif
