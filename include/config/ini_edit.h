/* ini_edit.h - set keys in an INI file written by people, keeping the rest.
 *
 * `provision` writes the device ID and certificate paths into a config a
 * technician may have commented by hand. Only the lines of the keys set
 * change: an existing `key = ...` in the right section is replaced (every
 * copy of it), a missing key is added after the section's last key (or a
 * new section at the end), and comments, blank lines, other keys and
 * commented-out examples (";id = desk-01") stay as they were. The file is
 * replaced by write-temp / fsync / rename, so a power cut leaves either the
 * old file or the new one, with the old file's mode.
 */
#ifndef CCCD_INI_EDIT_H
#define CCCD_INI_EDIT_H

#include <stddef.h>

struct ini_setting {
    const char *section; /* "uplink" */
    const char *key;     /* "cert" */
    const char *value;   /* one line: no '\n' or '\r' */
};

/* The edited text (malloc'd, NUL-terminated; the caller frees it), or NULL
 * with a message in err (a value holding a line break, out of memory). */
char *ini_edit_text(const char *text, const struct ini_setting *set, size_t n, char *err, size_t errlen);

/* Edits the file at path in place (atomically). Returns 0 or -1 with err
 * naming the file. */
int ini_edit_file(const char *path, const struct ini_setting *set, size_t n, char *err, size_t errlen);

#endif
