/* faults.c - the fault modes: their names, the --control file that switches
 * them while the sim runs, and which certificate a certificate fault serves.
 * What each mode does is decided where it acts (main.c's accept loop,
 * conn.c, checkin.c, http.c): this file only says which mode is on (and
 * re-arms stray when that mode begins). */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

const char *const MODE_NAMES[MODE_NAMED_COUNT] = {
    "none", "refuse", "stall", "stall-accept", "reset", "close", "close-delimited",
    "chunked", "wrong-cert", "expired-cert", "wrong-host", "cert-refused", "overlong",
    "trickle", "continue-flood", "header-trickle", "stray", "schema-refused",
};

bool mode_is_status(int m) { return m >= 300 && m <= 599; }
bool mode_is_proxy(int m) { return m >= MODE_PROXY + 300 && m <= MODE_PROXY + 599; }

static int parse_status(const char *s)
{
    if (strlen(s) == 3 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
        s[2] >= '0' && s[2] <= '9') {
        int code = atoi(s);
        if (mode_is_status(code))
            return code;
    }
    return -1;
}

/* The mode a word names, or -1. */
int parse_mode(const char *s)
{
    for (int i = 0; i < MODE_NAMED_COUNT; i++)
        if (strcmp(s, MODE_NAMES[i]) == 0)
            return i;
    if (strncmp(s, "proxy-", 6) == 0) {
        int code = parse_status(s + 6);
        return code < 0 ? -1 : MODE_PROXY + code;
    }
    return parse_status(s);
}

const char *mode_name(int m, char buf[16])
{
    if (m >= 0 && m < MODE_NAMED_COUNT)
        return MODE_NAMES[m];
    if (mode_is_proxy(m))
        snprintf(buf, 16, "proxy-%d", m - MODE_PROXY);
    else
        snprintf(buf, 16, "%d", m);
    return buf;
}

/* Re-reads the control file (when there is one) and returns the mode now in
 * force. A missing file means the --fault mode. An empty file keeps the mode
 * as it was: `echo 503 > FILE` truncates before it writes, and a read in
 * between must not flip the mode for a moment. An unknown word keeps the
 * mode too (reported once). */
int refresh_mode(struct sim *s)
{
    if (!s->opt.control)
        return atomic_load(&s->mode);
    int m = s->opt.fault;
    char text[64] = "";
    int fd = open(s->opt.control, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        text[n > 0 ? n : 0] = '\0';
        char *p = text;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        size_t len = strcspn(p, " \t\r\n");
        p[len] = '\0';
        if (len == 0)
            return atomic_load(&s->mode);
        m = parse_mode(p);
        if (m < 0) {
            pthread_mutex_lock(&s->lock);
            if (strcmp(s->bad_control, p) != 0) {
                snprintf(s->bad_control, sizeof s->bad_control, "%s", p);
                char shown[84];
                log_token(p, len, shown);
                say("control file: unknown mode \"%s\", keeping the current one", shown);
            }
            pthread_mutex_unlock(&s->lock);
            return atomic_load(&s->mode);
        }
    }
    int old = atomic_exchange(&s->mode, m);
    if (old != m && m == MODE_STRAY) {
        pthread_mutex_lock(&s->lock);
        s->stray_sent = false; /* each time the mode begins, its first record gets the stray */
        pthread_mutex_unlock(&s->lock);
    }
    if (old != m) {
        char b1[16], b2[16];
        say("mode %s -> %s", mode_name(old, b1), mode_name(m, b2));
    }
    return m;
}

enum cred_id cred_for_mode(const struct sim *s, int mode)
{
    enum cred_id id = CRED_SERVER;
    if (mode == MODE_WRONG_CERT)
        id = CRED_WRONG_CA;
    else if (mode == MODE_EXPIRED_CERT)
        id = CRED_EXPIRED;
    else if (mode == MODE_WRONG_HOST)
        id = CRED_WRONG_HOST;
    return s->creds[id].loaded ? id : CRED_SERVER;
}
