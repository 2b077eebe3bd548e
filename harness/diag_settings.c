/* diag_settings.c -- the settings a user entered: the settings file (INI, read with inih
 * through a line reader that knows the line number of every value, as servers/profile.c
 * does) and the equivalent flags. Both end in set_value(), so a value is checked the same
 * way whichever way it came. See diag.h. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/diag.h"
#include "servers/suggest.h"
#include "servers/textline.h"

enum { SETTINGS_MAX_FILE = 64 * 1024 };

/* Which part of the settings a key belongs to. */
typedef enum part { PART_TOP, PART_IN, PART_OUT, PART_BAD } part;

static const char *const top_keys[] = {"email", "client", "provider"};
static const char *const server_keys[] = {"protocol", "server", "port", "security", "username", "password", "auth"};
static const char *const sections[] = {"incoming", "outgoing"};
enum { N_TOP = 3, N_SERVER = 7 };

static const diag_field top_fields[N_TOP] = {DIAG_F_EMAIL, DIAG_F_CLIENT, DIAG_F_PROVIDER};
static const diag_field server_fields[N_SERVER] = {DIAG_F_PROTOCOL, DIAG_F_SERVER,   DIAG_F_PORT,
                                                   DIAG_F_SECURITY, DIAG_F_USERNAME, DIAG_F_PASSWORD,
                                                   DIAG_F_AUTH};

const char *const diag_flag_names[] = {
    "email",       "client",      "provider",    "in-protocol", "in-server",   "in-port",
    "in-security", "in-username", "in-password", "in-auth",     "out-protocol", "out-server",
    "out-port",    "out-security", "out-username", "out-password", "out-auth",  NULL,
};

/* ---- checking one value -------------------------------------------------------------------- */

/* Where a value is being set, for messages: "FILE:LINE" or "--in-port=VALUE". */
typedef struct where {
    diag_origin at;
    char label[DIAG_ORIGIN_MAX + 64];
} where;

/* No control characters, and valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF) -- what the JSON writer and the scenario language accept. */
static bool printable_utf8(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p;
        if (c < 0x20 || c == 0x7f)
            return false;
        int extra = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
        if (extra < 0)
            return false;
        /* the second byte's range, which rules out overlongs, surrogates and > U+10FFFF */
        unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80, hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if (*p < (i ? 0x80 : lo) || *p > (i ? 0xBF : hi))
                return false;
    }
    return true;
}

/* Copy value into dst (cap bytes) when it fits; else report. */
static int copy_value(char *dst, size_t cap, const char *value, const where *w, const char *what, diag_msgs *m)
{
    size_t n = strlen(value);
    if (n >= cap) {
        diag_msgs_add(m, "%s: %s longer than %zu characters", w->label, what, cap - 1);
        return -1;
    }
    memcpy(dst, value, n + 1);
    return 0;
}

static bool host_ok(const char *h)
{
    size_t n = strlen(h), label = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '-' && c != '_')
            return false;
        if (++label > 63)
            return false;
    }
    return label > 0;
}

static int set_host(diag_server *sv, const char *value, const where *w, diag_msgs *m)
{
    char h[DIAG_HOST_MAX + 1];
    size_t n = strlen(value);
    if (strstr(value, "://") || strchr(value, '/') || strchr(value, ':') || strchr(value, '@')) {
        diag_msgs_add(m, "%s: '%s' is not a host name: give the server name only, without scheme, port or user "
                         "(for example imap.mail.me.com)", w->label, value);
        return -1;
    }
    if (n > 0 && value[n - 1] == '.') /* a fully qualified name with its root dot */
        n--;
    if (n >= sizeof h || n >= DIAG_HOST_MAX) {
        diag_msgs_add(m, "%s: host name longer than 253 characters", w->label);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        h[i] = (char)tolower((unsigned char)value[i]);
    h[n] = '\0';
    if (!host_ok(h)) {
        diag_msgs_add(m, "%s: '%s' is not a host name (letters, digits, '-' and '.', labels of 1-63 characters)",
                      w->label, value);
        return -1;
    }
    memcpy(sv->host, h, n + 1);
    return 0;
}

static int set_port(diag_server *sv, const char *value, const where *w, diag_msgs *m)
{
    char *end;
    errno = 0;
    long v = isdigit((unsigned char)value[0]) ? strtol(value, &end, 10) : -1;
    if (v < 1 || v > 65535 || errno || *end) {
        diag_msgs_add(m, "%s: '%s' is not a port (accepted: 1-65535; mail uses 993, 143, 995, 110, 587, 465, 25)",
                      w->label, value);
        return -1;
    }
    sv->port = (unsigned)v;
    return 0;
}

static int set_protocol(diag_server *sv, diag_server_id id, const char *value, const where *w, diag_msgs *m)
{
    diag_proto p = !strcasecmp(value, "imap")                                 ? DIAG_PROTO_IMAP
                   : !strcasecmp(value, "pop3") || !strcasecmp(value, "pop") ? DIAG_PROTO_POP3
                   : !strcasecmp(value, "smtp")                               ? DIAG_PROTO_SMTP
                                                                              : DIAG_PROTO_UNSET;
    bool fits = id == DIAG_IN ? (p == DIAG_PROTO_IMAP || p == DIAG_PROTO_POP3) : p == DIAG_PROTO_SMTP;
    if (!fits) {
        diag_msgs_add(m, "%s: %s protocol '%s' (accepted: %s)", w->label, diag_server_name(id), value,
                      id == DIAG_IN ? "imap, pop3" : "smtp");
        return -1;
    }
    sv->proto = p;
    sv->proto_inferred = false;
    return 0;
}

/* The password setting says which password, never the password: an unknown value may be the
 * secret itself, so it is not echoed. */
static int set_password(diag_server *sv, const char *value, const where *w, diag_msgs *m)
{
    static const char *const account[] = {"account", "account password", "normal"};
    static const char *const app[] = {"app-specific", "app", "app-password", "app password", "app-specific password",
                                      "application-specific"};
    for (size_t i = 0; i < sizeof account / sizeof *account; i++)
        if (!strcasecmp(value, account[i])) {
            sv->password = DIAG_PW_ACCOUNT;
            return 0;
        }
    for (size_t i = 0; i < sizeof app / sizeof *app; i++)
        if (!strcasecmp(value, app[i])) {
            sv->password = DIAG_PW_APP;
            return 0;
        }
    diag_msgs_add(m, "%s: password says which password was entered, not the password itself (accepted: account, "
                     "app-specific; the value given is not repeated here)", w->label);
    return -1;
}

static int set_email(diag_settings *s, const char *value, const where *w, diag_msgs *m)
{
    const char *at = strchr(value, '@');
    if (!at || at == value || strchr(at + 1, '@') || strchr(value, ' ')) {
        diag_msgs_add(m, "%s: '%s' is not an email address (name@domain)", w->label, value);
        return -1;
    }
    char dom[DIAG_HOST_MAX + 1];
    size_t dn = strlen(at + 1);
    if (dn == 0 || dn >= sizeof dom) {
        diag_msgs_add(m, "%s: '%s' has no valid domain", w->label, value);
        return -1;
    }
    for (size_t i = 0; i <= dn; i++)
        dom[i] = (char)tolower((unsigned char)at[1 + i]);
    if (!host_ok(dom)) {
        diag_msgs_add(m, "%s: '%s' is not an email address: '%s' is not a domain", w->label, value, at + 1);
        return -1;
    }
    if (copy_value(s->email, sizeof s->email, value, w, "email address", m) < 0)
        return -1;
    memcpy(s->email + (at - value) + 1, dom, dn + 1); /* domains compare in lower case */
    return 0;
}

static int set_name(char *dst, size_t cap, const char *value, const where *w, const char *what, diag_msgs *m)
{
    for (const char *p = value; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.' && *p != ' ') {
            diag_msgs_add(m, "%s: %s '%s': letters, digits, '-', '_', '.' and spaces only", w->label, what, value);
            return -1;
        }
    if (copy_value(dst, cap, value, w, what, m) < 0)
        return -1;
    for (char *p = dst; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return 0;
}

/* Set field f of the account (id == DIAG_ACCOUNT) or of server id. */
static int set_value(diag_settings *s, diag_server_id id, diag_field f, const char *value, const where *w,
                     diag_msgs *m)
{
    if (!*value) {
        diag_msgs_add(m, "%s: empty value (leave the setting out when it is not known)", w->label);
        return -1;
    }
    if (!printable_utf8(value)) {
        diag_msgs_add(m, "%s: control characters or invalid UTF-8 in the value", w->label);
        return -1;
    }
    int r;
    diag_server *sv = id < DIAG_SERVERS ? &s->server[id] : NULL;
    switch (f) {
    case DIAG_F_EMAIL: r = set_email(s, value, w, m); break;
    case DIAG_F_CLIENT: r = set_name(s->client, sizeof s->client, value, w, "client", m); break;
    case DIAG_F_PROVIDER: r = set_name(s->provider, sizeof s->provider, value, w, "provider", m); break;
    case DIAG_F_PROTOCOL: r = set_protocol(sv, id, value, w, m); break;
    case DIAG_F_SERVER: r = set_host(sv, value, w, m); break;
    case DIAG_F_PORT: r = set_port(sv, value, w, m); break;
    case DIAG_F_SECURITY: r = copy_value(sv->security, sizeof sv->security, value, w, "security label", m); break;
    case DIAG_F_USERNAME: r = copy_value(sv->username, sizeof sv->username, value, w, "user name", m); break;
    case DIAG_F_PASSWORD: r = set_password(sv, value, w, m); break;
    case DIAG_F_AUTH: r = copy_value(sv->auth_label, sizeof sv->auth_label, value, w, "authentication label", m); break;
    default: r = -1; break;
    }
    if (r < 0)
        return -1;
    bool *given = sv ? sv->given : s->given;
    diag_origin *at = sv ? sv->at : s->at;
    given[f] = true;
    at[f] = w->at;
    if (sv && !sv->at[DIAG_F_NONE].file[0])
        sv->at[DIAG_F_NONE] = w->at;
    return 0;
}

/* ---- flags ---------------------------------------------------------------------------------- */

int diag_settings_set(diag_settings *s, const char *name, const char *value, diag_msgs *m)
{
    where w = {0};
    snprintf(w.at.file, sizeof w.at.file, "--%s", name);
    /* a password flag's value may be the secret typed by mistake: never echo it */
    bool secret = strstr(name, "password") != NULL;
    snprintf(w.label, sizeof w.label, "--%s=%s", name, secret ? "..." : value);
    diag_server_id id = DIAG_ACCOUNT;
    const char *key = name;
    if (!strncmp(name, "in-", 3)) {
        id = DIAG_IN;
        key = name + 3;
    } else if (!strncmp(name, "out-", 4)) {
        id = DIAG_OUT;
        key = name + 4;
    }
    const char *const *keys = id == DIAG_ACCOUNT ? top_keys : server_keys;
    const diag_field *fields = id == DIAG_ACCOUNT ? top_fields : server_fields;
    size_t nk = id == DIAG_ACCOUNT ? N_TOP : N_SERVER;
    for (size_t i = 0; i < nk; i++)
        if (!strcmp(key, keys[i]))
            return set_value(s, id, fields[i], value, &w, m);
    size_t nf = 0;
    while (diag_flag_names[nf])
        nf++;
    const char *near = suggest_closest(name, strlen(name), diag_flag_names, nf);
    if (near)
        diag_msgs_add(m, "--%s: unknown option (did you mean --%s?)", name, near);
    else
        diag_msgs_add(m, "--%s: unknown option (see --help)", name);
    return -1;
}

/* ---- the settings file ------------------------------------------------------------------------ */

typedef struct reader {
    diag_settings *s;
    diag_msgs *m;
    const char *file;
    const char *text;
    size_t len, pos;
    unsigned lineno;
    unsigned errors;
    part cur;                          /* the section being read */
    bool skip;                         /* the current section is bad: ignore its keys */
    unsigned section_line[2];          /* where [incoming] / [outgoing] were opened */
    unsigned key_line[3][N_SERVER];    /* where each key was set, per part (duplicates) */
} reader;

static void at_line(const reader *R, where *w)
{
    memset(w, 0, sizeof *w);
    snprintf(w->at.file, sizeof w->at.file, "%s", R->file);
    w->at.line = R->lineno;
    snprintf(w->label, sizeof w->label, "%s:%u", R->file, R->lineno);
}

static void report(reader *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(reader *R, const char *fmt, ...)
{
    where w;
    at_line(R, &w);
    char msg[DIAG_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_msgs_add(R->m, "%s: %s", w.label, msg);
    R->errors++;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* inih's inline comment rule: ';' after whitespace. End of s[0..n) before such a comment. */
static size_t before_comment(const char *s, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (s[i] == ';' && is_space(s[i - 1]))
            return i;
    return n;
}

/* A [section] header: which part it opens, or PART_BAD after reporting. */
static part open_section(reader *R, const char *s, size_t n)
{
    size_t end = before_comment(s, n), close = 0;
    for (size_t i = 1; i < end; i++)
        if (s[i] == ']') {
            close = i;
            break;
        }
    if (!close) {
        report(R, "section header without ']'");
        return PART_BAD;
    }
    char name[64];
    size_t nn = close - 1;
    while (nn && is_space(s[1 + nn - 1]))
        nn--;
    const char *p = s + 1;
    while (nn && is_space(*p)) {
        p++;
        nn--;
    }
    if (nn >= sizeof name)
        nn = sizeof name - 1;
    memcpy(name, p, nn);
    name[nn] = '\0';
    for (int i = 0; i < 2; i++)
        if (!strcasecmp(name, sections[i])) {
            if (R->section_line[i]) {
                report(R, "section [%s] appears twice (first at line %u)", sections[i], R->section_line[i]);
                return PART_BAD;
            }
            R->section_line[i] = R->lineno;
            diag_server *sv = &R->s->server[i];
            snprintf(sv->at[DIAG_F_NONE].file, sizeof sv->at[DIAG_F_NONE].file, "%s", R->file);
            sv->at[DIAG_F_NONE].line = R->lineno;
            return i == 0 ? PART_IN : PART_OUT;
        }
    const char *near = suggest_closest(name, strlen(name), sections, 2);
    char hint[80] = "";
    if (near)
        snprintf(hint, sizeof hint, "did you mean [%s]? ", near);
    report(R, "unknown section [%s] (%saccepted: [incoming], [outgoing])", name, hint);
    return PART_BAD;
}

/* Check a line's shape; report what inih would drop or misread. Returns whether inih should
 * see the line (false: it gets an empty line instead). */
static bool check_line(reader *R, const char *s, size_t n)
{
    if (memchr(s, '\0', n)) {
        report(R, "NUL byte in line");
        return false;
    }
    if (n == 0 || *s == ';' || *s == '#')
        return true;
    if (*s == '[') {
        R->cur = open_section(R, s, n);
        R->skip = R->cur == PART_BAD;
        return !R->skip;
    }
    if (R->skip)
        return false;
    size_t end = before_comment(s, n), sep = end;
    for (size_t i = 0; i < end; i++)
        if (s[i] == '=' || s[i] == ':') {
            sep = i;
            break;
        }
    if (sep == end) {
        report(R, "expected 'key = value', a [section] header or a comment");
        return false;
    }
    if (sep == 0) {
        report(R, "missing key name before '='");
        return false;
    }
    return true;
}

/* inih's reader: hand over one line, stripped of leading whitespace (so an indented line is
 * never taken as a continuation of the value above), or an empty line when it is malformed. */
static char *read_line(char *buf, int num, void *stream)
{
    reader *R = stream;
    const char *p;
    size_t n;
    if (num < 3 || !textline_next(R->text, R->len, &R->pos, &p, &n))
        return NULL;
    R->lineno++;
    while (n && is_space(*p)) {
        p++;
        n--;
    }
    while (n && is_space(p[n - 1]))
        n--;
    size_t limit = (size_t)num - 2;
    bool keep;
    if (n > limit) {
        report(R, "line longer than %zu characters", limit);
        keep = false;
    } else {
        keep = check_line(R, p, n);
    }
    if (!keep)
        n = 0;
    memcpy(buf, p, n);
    buf[n] = '\n';
    buf[n + 1] = '\0';
    return buf;
}

static int find_key(const char *const *keys, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(name, keys[i]))
            return (int)i;
    return -1;
}

/* The message for a key that does not belong where it is. */
static void unknown_key(reader *R, const char *name)
{
    bool top = R->cur == PART_TOP;
    const char *const *keys = top ? top_keys : server_keys;
    size_t nk = top ? N_TOP : N_SERVER;
    char msg[400];
    if (top && find_key(server_keys, N_SERVER, name) >= 0) {
        snprintf(msg, sizeof msg, "'%s' belongs in [incoming] or [outgoing]", name);
    } else if (!top && find_key(top_keys, N_TOP, name) >= 0) {
        snprintf(msg, sizeof msg, "'%s' belongs at the top of the file, before any section", name);
    } else {
        const char *near = suggest_closest(name, strlen(name), keys, nk);
        char list[200] = "";
        size_t at = 0;
        for (size_t i = 0; i < nk; i++)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", keys[i]);
        char hint[80] = "";
        if (near)
            snprintf(hint, sizeof hint, "did you mean '%s'? ", near);
        snprintf(msg, sizeof msg, "unknown key '%s' %s (%saccepted: %s)", name,
                 top ? "at the top level" : R->cur == PART_IN ? "in [incoming]" : "in [outgoing]", hint, list);
    }
    report(R, "%s", msg);
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    (void)section; /* the reader tracks the section itself, with its line */
    reader *R = user;
    bool top = R->cur == PART_TOP;
    const char *const *keys = top ? top_keys : server_keys;
    int k = find_key(keys, top ? N_TOP : N_SERVER, name);
    if (k < 0) {
        unknown_key(R, name);
        return 1;
    }
    unsigned *seen = &R->key_line[R->cur][k];
    if (*seen) {
        report(R, "'%s' set twice in this section (first at line %u)", keys[k], *seen);
        return 1;
    }
    *seen = R->lineno;
    where w;
    at_line(R, &w);
    diag_server_id id = top ? DIAG_ACCOUNT : R->cur == PART_IN ? DIAG_IN : DIAG_OUT;
    if (set_value(R->s, id, top ? top_fields[k] : server_fields[k], value, &w, R->m) < 0)
        R->errors++;
    return 1;
}

int diag_settings_load_string(const char *text, size_t len, const char *origin, diag_settings *s, diag_msgs *m)
{
    reader R = {.s = s, .m = m, .file = origin ? origin : "<settings>", .text = text, .len = len, .cur = PART_TOP};
    if (len > SETTINGS_MAX_FILE) {
        diag_msgs_add(m, "%s: larger than %d bytes: not a settings file", R.file, SETTINGS_MAX_FILE);
        return 1;
    }
    ini_parse_stream(read_line, &R, on_entry, &R);
    return (int)R.errors;
}

int diag_settings_load_file(const char *path, diag_settings *s, diag_msgs *m)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_msgs_add(m, "%s: cannot open: %s", path, strerror(errno));
        return 1;
    }
    char *buf = malloc(SETTINGS_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, SETTINGS_MAX_FILE + 1, f) : 0;
    bool err = !buf || ferror(f);
    fclose(f);
    int r;
    if (err) {
        diag_msgs_add(m, "%s: cannot read: %s", path, buf ? strerror(errno) : "out of memory");
        r = 1;
    } else {
        r = diag_settings_load_string(buf, n, path, s, m);
    }
    free(buf);
    return r;
}
