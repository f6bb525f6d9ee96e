/* ini_read.h - the INI syntax the configuration is written in, read strictly.
 *
 * "[section]" headers, "key = value" lines (split at the first '='),
 * comments on lines of their own starting with ';' or '#', and after a value
 * from a ';' that follows a space or tab (as inih reads them); spaces and
 * tabs around names and values trimmed; CRLF line ends; a UTF-8 byte order
 * mark at the start. Everything else is an error naming its line: a line
 * longer than INI_LINE_MAX bytes, a NUL or any other control byte (a tab
 * excepted), a line that is none of the above.
 *
 * Written for the project because Debian's libinih reads lines into a
 * 200-byte buffer: a longer line arrived cut short, its rest reported as a
 * syntax error on the wrong line, and NUL bytes ended a value silently.
 */
#ifndef CCCD_INI_READ_H
#define CCCD_INI_READ_H

#include <stdbool.h>
#include <stddef.h>

#define INI_LINE_MAX 1024 /* bytes, line end excluded */
#define INI_NAME_MAX 64   /* a section's or a key's name */

enum ini_line_kind { INI_BLANK, INI_COMMENT, INI_SECTION, INI_KEY, INI_BAD };

/* One line, without its line end: what it is, and for a section its name,
 * for a key its name and value (trimmed spans into the line). */
struct ini_line {
    enum ini_line_kind kind;
    const char *name, *value;
    size_t name_len, value_len;
};

/* Classifies line[0..n) (no '\n' in it; a trailing '\r' is ignored). */
void ini_line_parse(const char *line, size_t n, struct ini_line *out);

/* Called for each key in file order with NUL-terminated copies; returns 0
 * to go on, anything else to stop (ini_read then returns the line). */
typedef int (*ini_key_fn)(void *ctx, const char *section, const char *key, const char *value);

/* Reads text[0..len) (NULs included: they are errors, not ends). Returns 0
 * when every line was read, or the number of the first line that is wrong
 * (why says how, in printable text that quotes at most a bounded, escaped
 * name) or where fn stopped (why untouched: fn says). *keys counts the key
 * lines read. */
int ini_read(const char *text, size_t len, ini_key_fn fn, void *ctx, int *keys, char *why, size_t whylen);

#endif
