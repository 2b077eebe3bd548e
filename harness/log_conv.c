/* log_conv.c -- the normalised conversation: building it, redacting client lines, lines
 * of a log, format detection and dispatch (log_read.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/log_read.h"
#include "proto/base64.h"
#include "proto/sasl_redact.h"

static const char *const fmt_names[LOG_FMT_COUNT] = {"", "transcript", "curl", "msmtp", "openssl",
                                                     "imaplib", "smtplib", "thunderbird"};

const char *log_format_name(log_format f)
{
    return (unsigned)f < LOG_FMT_COUNT ? fmt_names[f] : "";
}

log_format log_format_from_name(const char *name)
{
    for (int f = 1; f < LOG_FMT_COUNT; f++)
        if (!strcmp(name, fmt_names[f]))
            return (log_format)f;
    return LOG_FMT_UNKNOWN;
}

const char *log_format_names(void)
{
    return "transcript, curl, msmtp, openssl, imaplib, smtplib, thunderbird";
}

/* ---- building -------------------------------------------------------------------------------- */

void log_conv_init(log_conv *c)
{
    memset(c, 0, sizeof *c);
}

void log_conv_free(log_conv *c)
{
    for (size_t i = 0; i < c->n; i++) {
        for (size_t j = 0; j < c->conn[i].n; j++)
            free(c->conn[i].rec[j].text);
        free(c->conn[i].rec);
    }
    free(c->conn);
    log_conv_init(c);
}

log_conn *log_conv_open(log_conv *c, const char *host, unsigned port, unsigned line)
{
    if (c->n >= LOG_MAX_CONNS)
        return &c->conn[c->n - 1];
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        log_conn *p = realloc(c->conn, cap * sizeof *p);
        if (!p)
            return c->n ? &c->conn[c->n - 1] : NULL;
        c->conn = p;
        c->cap = cap;
    }
    log_conn *k = &c->conn[c->n++];
    memset(k, 0, sizeof *k);
    k->sasl_mech = -1;
    k->port = port;
    k->line = line;
    if (host)
        snprintf(k->host, sizeof k->host, "%s", host);
    return k;
}

log_conn *log_conv_cur(log_conv *c, unsigned line)
{
    return c->n ? &c->conn[c->n - 1] : log_conv_open(c, NULL, 0, line);
}

static bool conn_has_plain_data(const log_conn *k)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->rec[i].kind == LOG_DATA && k->rec[i].tls == LOG_TLS_PLAIN)
            return true;
    return false;
}

static int push(log_conv *c, log_conn *k, log_rec *r)
{
    if (c->n_recs >= LOG_MAX_RECS || !k) {
        c->dropped++;
        return -1;
    }
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        log_rec *p = realloc(k->rec, cap * sizeof *p);
        if (!p) {
            c->dropped++;
            return -1;
        }
        k->rec = p;
        k->cap = cap;
    }
    k->rec[k->n++] = *r;
    c->n_recs++;
    return 0;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

int log_conv_add(log_conv *c, log_conn *k, log_kind kind, log_dir dir, const char *text, size_t n,
                 unsigned line)
{
    if (!k)
        return -1;
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    if (n > LOG_MAX_LINE) {
        n = LOG_MAX_LINE;
        c->truncated++;
    }
    log_rec r = {.kind = kind, .dir = dir, .tls = k->tls, .line = line};
    if (kind == LOG_TLS_OK && k->tls == LOG_TLS_PLAIN)
        k->tls = conn_has_plain_data(k) ? LOG_TLS_AFTER_STARTTLS : LOG_TLS_IMPLICIT;
    if (kind == LOG_TLS_OK)
        r.tls = k->tls;
    if (kind == LOG_DATA && dir == LOG_DIR_C) {
        size_t cap = n + 1200; /* a redacted SASL payload is at most 1024 bytes */
        char *out = malloc(cap);
        if (!out)
            return -1;
        if (log_redact_line(k, text, n, out, cap))
            c->redacted++;
        r.text = out;
        r.n = strlen(out);
    } else {
        if (kind == LOG_DATA && dir == LOG_DIR_S)
            log_redact_server(k, text, n);
        r.text = dup_n(text, n);
        r.n = n;
    }
    if (!r.text)
        return -1;
    if (push(c, k, &r) < 0) {
        free(r.text);
        return -1;
    }
    return 0;
}

int log_conv_error(log_conv *c, log_conn *k, log_err err, const char *text, size_t n, unsigned line)
{
    if (log_conv_add(c, k, LOG_ERROR, LOG_DIR_NONE, text, n, line) < 0)
        return -1;
    k->rec[k->n - 1].err = err;
    return 0;
}

log_err log_err_classify(const char *s, size_t n)
{
    static const struct {
        const char *needle;
        log_err err;
    } t[] = {
        {"refused", LOG_ERR_REFUSED},       {"ECONNREFUSED", LOG_ERR_REFUSED},
        {"timed out", LOG_ERR_TIMEOUT},     {"timeout", LOG_ERR_TIMEOUT},
        {"Connection reset", LOG_ERR_RESET}, {"reset by peer", LOG_ERR_RESET},
        {"unexpected eof", LOG_ERR_RESET},  {"closed the connection", LOG_ERR_RESET},
        {"server unexpectedly closed", LOG_ERR_RESET}, {"does not support authentication", LOG_ERR_NO_AUTH},
        {"no authentication method", LOG_ERR_NO_AUTH}, {"No known authentication mechanism", LOG_ERR_NO_AUTH},
        {"authentication failed", LOG_ERR_AUTH},
        {"Login denied", LOG_ERR_AUTH},     {"AuthenticationError", LOG_ERR_AUTH},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (log_find_nocase(s, n, t[i].needle))
            return t[i].err;
    return LOG_ERR_OTHER;
}

void log_conv_starttls_reply(log_conv *c, log_conn *k, unsigned line)
{
    if (!k || k->n < 2 || k->tls != LOG_TLS_PLAIN)
        return;
    const log_rec *reply = &k->rec[k->n - 1], *cmd = NULL;
    for (size_t i = k->n - 1; i > 0 && !cmd; i--)
        if (k->rec[i - 1].kind == LOG_DATA && k->rec[i - 1].dir == LOG_DIR_C)
            cmd = &k->rec[i - 1];
    if (!cmd || reply->kind != LOG_DATA || reply->dir != LOG_DIR_S)
        return;
    const char *s = cmd->text;
    size_t n = cmd->n;
    bool asked = !strcasecmp(s, "STARTTLS") || !strcasecmp(s, "STLS");
    const char *sp = memchr(s, ' ', n);
    if (sp && !strcasecmp(sp + 1, "STARTTLS"))
        asked = true;
    const char *r = reply->text;
    size_t rn = reply->n;
    const char *rsp = memchr(r, ' ', rn);
    bool ok = log_starts(r, rn, "220") || log_starts(r, rn, "+OK") ||
              (sp && rsp && (size_t)(rsp - r) == (size_t)(sp - s) && !memcmp(r, s, (size_t)(sp - s)) &&
               log_starts(rsp + 1, rn - (size_t)(rsp - r) - 1, "OK"));
    if (asked && ok)
        log_conv_add(c, k, LOG_TLS_OK, LOG_DIR_NONE, "", 0, line);
}

bool log_conv_exception(log_conv *c, log_conn *k, const char *s, size_t n, unsigned line)
{
    if (log_find(s, n, "CERTIFICATE_VERIFY_FAILED") || log_find(s, n, "CertVerificationError")) {
        log_conv_add(c, k, LOG_CERT_ERROR, LOG_DIR_NONE, s, n, line);
        return true;
    }
    if (log_find(s, n, "SSLError") || log_find(s, n, "[SSL:") || log_find(s, n, "SSLEOFError")) {
        log_conv_add(c, k, LOG_TLS_FAIL, LOG_DIR_NONE, s, n, line);
        return true;
    }
    log_err e = log_err_classify(s, n);
    if (e == LOG_ERR_OTHER) {
        if (log_find(s, n, "Disconnected") || log_find(s, n, "abort") || log_find(s, n, "EOF"))
            e = LOG_ERR_RESET;
        else if (log_find(s, n, "AUTH extension not supported"))
            e = LOG_ERR_NO_AUTH;
        else if (log_find(s, n, "AuthenticationError") || log_find(s, n, "AUTHENTICATIONFAILED"))
            e = LOG_ERR_AUTH;
    }
    log_conv_error(c, k, e, s, n, line);
    return true;
}

/* ---- redaction --------------------------------------------------------------------------------- */

/* The i-th space-separated word of s (0-based): start and length. Returns false when absent. */
static bool word_at(const char *s, size_t n, unsigned i, size_t *off, size_t *len)
{
    size_t p = 0;
    for (unsigned w = 0;; w++) {
        while (p < n && s[p] == ' ')
            p++;
        if (p >= n)
            return false;
        size_t b = p;
        while (p < n && s[p] != ' ')
            p++;
        if (w == i) {
            *off = b;
            *len = p - b;
            return true;
        }
    }
}

static bool word_is(const char *s, size_t n, unsigned i, const char *w)
{
    size_t off, len;
    return word_at(s, n, i, &off, &len) && len == strlen(w) && !strncasecmp(s + off, w, len);
}

/* End of an IMAP astring starting at s[p] (atom, "quoted" with escapes, or {n} literal
 * marker); *literal is set for a literal. */
static size_t astring_end(const char *s, size_t n, size_t p, bool *literal)
{
    *literal = false;
    if (p < n && s[p] == '"') {
        for (p++; p < n; p++) {
            if (s[p] == '\\' && p + 1 < n)
                p++;
            else if (s[p] == '"')
                return p + 1;
        }
        return n;
    }
    if (p < n && s[p] == '{')
        *literal = true;
    while (p < n && s[p] != ' ')
        p++;
    return p;
}

static int emit(char *out, size_t cap, const char *head, size_t hn, const char *tail)
{
    snprintf(out, cap, "%.*s%s", (int)hn, head, tail);
    return 1;
}

/* Redact a SASL payload (base64 text) of the exchange in progress. */
static int redact_sasl(log_conn *k, const char *head, size_t hn, const char *b64, size_t bn, char *out,
                       size_t cap)
{
    sasl_mech mech = k && k->sasl_mech >= 0 ? (sasl_mech)k->sasl_mech : SASL_MECH_UNKNOWN;
    unsigned step = k ? k->sasl_step++ : 1;
    char dec[1024];
    mr_error err;
    int dn = b64_decode(b64, bn, dec, sizeof dec, 0, &err);
    if (dn > 0 && log_find(dec, (size_t)dn, "<redacted>")) { /* redacted already (a transcript): as is */
        snprintf(out, cap, "%.*s%.*s", (int)hn, head, (int)bn, b64);
        return 0;
    }
    char red[1024];
    int m = sasl_redact(mech, step, b64, bn, 1, SASL_REDACT_WIRE, red, sizeof red);
    if (m < 0 || (size_t)m >= sizeof red)
        snprintf(red, sizeof red, "<redacted>");
    else
        red[m] = 0; /* sasl_redact does not terminate */
    snprintf(out, cap, "%.*s%s", (int)hn, head, red);
    /* a shown value that equals the input (the LOGIN user name, "=" or "*") hid nothing */
    return !((size_t)m == bn && !memcmp(red, b64, bn));
}

/* AUTH / AUTHENTICATE mech [initial-response]: w is the index of the command word. */
static int redact_auth(log_conn *k, const char *s, size_t n, unsigned w, char *out, size_t cap)
{
    size_t off, len;
    if (!word_at(s, n, w + 1, &off, &len)) {
        snprintf(out, cap, "%.*s", (int)n, s);
        return 0;
    }
    sasl_mech mech = sasl_mech_lookup((mr_slice){s + off, len});
    if (k) {
        k->sasl_mech = (int)mech;
        k->sasl_step = 0;
    }
    size_t ioff, ilen;
    if (!word_at(s, n, w + 2, &ioff, &ilen)) {
        snprintf(out, cap, "%.*s", (int)n, s);
        return 0;
    }
    return redact_sasl(k, s, ioff, s + ioff, n - ioff, out, cap);
}

/* tag LOGIN user password: keep the user name, hide the rest. */
static int redact_login(log_conn *k, const char *s, size_t n, char *out, size_t cap)
{
    size_t off = n, len = 0;
    word_at(s, n, 2, &off, &len);
    bool literal;
    size_t uend = astring_end(s, n, off, &literal);
    if (literal) { /* user name and password follow as literal lines: hide both */
        if (k)
            k->literal_secret = 2;
        return emit(out, cap, s, off, "<redacted>");
    }
    if (uend >= n)
        return emit(out, cap, s, n, "");
    bool pw_literal;
    astring_end(s, n, uend + 1, &pw_literal);
    if (pw_literal && k)
        k->literal_secret = 1;
    return emit(out, cap, s, uend + 1, "<redacted>");
}

/* A bearer token anywhere: "Bearer xxx" / "auth=Bearer xxx". */
static int redact_bearer(const char *s, size_t n, char *out, size_t cap)
{
    const char *b = log_find_nocase(s, n, "bearer ");
    if (!b)
        return 0;
    return emit(out, cap, s, (size_t)(b - s) + 7, "<redacted>");
}

int log_redact_line(log_conn *k, const char *s, size_t n, char *out, size_t cap)
{
    if (k && k->literal_secret) {
        k->literal_secret--;
        return emit(out, cap, "", 0, "<redacted>");
    }
    if (k && k->sasl_mech >= 0) { /* a continuation line of an AUTH exchange */
        if (n == 1 && s[0] == '*')
            return emit(out, cap, s, n, "");
        return redact_sasl(k, "", 0, s, n, out, cap);
    }
    if (word_is(s, n, 0, "PASS") && n > 5) /* first: a POP3 password is the whole rest of the line */
        return emit(out, cap, s, 5, "<redacted>");
    if (word_is(s, n, 0, "AUTH")) /* before LOGIN: "AUTH LOGIN" is SMTP's, not IMAP's LOGIN */
        return redact_auth(k, s, n, 0, out, cap);
    if (word_is(s, n, 1, "AUTHENTICATE"))
        return redact_auth(k, s, n, 1, out, cap);
    if (word_is(s, n, 1, "LOGIN") && word_at(s, n, 2, &(size_t){0}, &(size_t){0}))
        return redact_login(k, s, n, out, cap);
    if (word_is(s, n, 0, "APOP")) {
        size_t off, len;
        if (word_at(s, n, 2, &off, &len))
            return emit(out, cap, s, off, "<redacted>");
    }
    if (redact_bearer(s, n, out, cap))
        return 1;
    snprintf(out, cap, "%.*s", (int)n, s);
    return 0;
}

void log_redact_server(log_conn *k, const char *s, size_t n)
{
    if (!k || k->sasl_mech < 0)
        return;
    bool cont = (n >= 1 && s[0] == '+' && (n == 1 || s[1] == ' ')) || log_starts(s, n, "334");
    if (!cont)
        k->sasl_mech = -1;
}

/* ---- lines ------------------------------------------------------------------------------------ */

void log_lines_init(log_lines *it, const char *data, size_t n, bool cr_overwrites)
{
    it->p = data;
    it->end = data + n;
    it->lineno = 0;
    it->cr_overwrites = cr_overwrites;
}

bool log_lines_next(log_lines *it, const char **s, size_t *len)
{
    if (it->p >= it->end)
        return false;
    const char *b = it->p;
    const char *lf = memchr(b, '\n', (size_t)(it->end - b));
    const char *e = lf ? lf : it->end;
    it->p = lf ? lf + 1 : it->end;
    it->lineno++;
    if (e > b && e[-1] == '\r')
        e--;
    if (it->cr_overwrites)
        for (const char *q = e; q > b; q--)
            if (q[-1] == '\r') {
                b = q;
                break;
            }
    *s = b;
    *len = (size_t)(e - b);
    return true;
}

bool log_starts(const char *s, size_t n, const char *prefix)
{
    size_t m = strlen(prefix);
    return n >= m && !memcmp(s, prefix, m);
}

const char *log_find(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (!m)
        return s;
    for (size_t i = 0; i + m <= n; i++)
        if (s[i] == needle[0] && !memcmp(s + i, needle, m))
            return s + i;
    return NULL;
}

const char *log_find_nocase(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    if (!m)
        return s;
    for (size_t i = 0; i + m <= n; i++)
        if (!strncasecmp(s + i, needle, m))
            return s + i;
    return NULL;
}

unsigned long log_num(const char *s, size_t n, int base)
{
    size_t i = 0;
    while (i < n && s[i] == ' ')
        i++;
    if (base == 16 && i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
        i += 2;
    unsigned long v = 0;
    for (; i < n; i++) {
        int d = isdigit((unsigned char)s[i]) ? s[i] - '0'
                : base == 16 && isxdigit((unsigned char)s[i]) ? (tolower((unsigned char)s[i]) - 'a' + 10)
                                                               : -1;
        if (d < 0)
            break;
        if (v < ULONG_MAX / 16)
            v = v * (unsigned long)base + (unsigned long)d;
    }
    return v;
}

diag_proto log_proto_of_port(unsigned port)
{
    switch (port) {
    case 993: case 143: return DIAG_PROTO_IMAP;
    case 465: case 587: case 25: return DIAG_PROTO_SMTP;
    case 995: case 110: return DIAG_PROTO_POP3;
    default: return DIAG_PROTO_UNSET;
    }
}

bool log_port_is_implicit(unsigned port)
{
    return port == 993 || port == 465 || port == 995;
}

int log_parse_target(const char *s, size_t n, char *host, size_t hostcap, unsigned *port)
{
    const char *colon = NULL;
    size_t hb = 0, he;
    if (n && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return -1;
        hb = 1;
        he = (size_t)(rb - s);
        colon = (rb + 1 < s + n && rb[1] == ':') ? rb + 1 : NULL;
    } else {
        for (size_t i = n; i > 0; i--)
            if (s[i - 1] == ':') {
                colon = s + i - 1;
                break;
            }
        he = colon ? (size_t)(colon - s) : n;
    }
    if (!colon)
        return -1;
    unsigned long v = 0;
    const char *p = colon + 1;
    size_t digits = 0;
    for (; p < s + n && isdigit((unsigned char)*p) && digits < 6; p++, digits++)
        v = v * 10 + (unsigned)(*p - '0');
    if (!digits || v == 0 || v > 65535 || he - hb >= hostcap)
        return -1;
    memcpy(host, s + hb, he - hb);
    host[he - hb] = 0;
    *port = (unsigned)v;
    return 0;
}

/* ---- detection and dispatch ---------------------------------------------------------------------- */

typedef size_t (*reader_fn)(const char *, size_t, log_conv *);

static const reader_fn readers[LOG_FMT_COUNT] = {
    NULL,           log_read_transcript, log_read_curl,    log_read_msmtp,
    log_read_openssl, log_read_imaplib,  log_read_smtplib, log_read_thunderbird,
};

/* The signatures of each format, looked for at the start of lines (or anywhere: '~'). */
static bool line_signature(log_format f, const char *s, size_t n)
{
    switch (f) {
    case LOG_FMT_TRANSCRIPT:
        return log_find(s, n, " conn ") && n && isdigit((unsigned char)s[0]);
    case LOG_FMT_CURL:
        return log_starts(s, n, "*   Trying ") || log_starts(s, n, "* Connected to ") ||
               log_starts(s, n, "* Connecting to ") || log_starts(s, n, "* SSL connection using") ||
               log_starts(s, n, "curl: (") || log_starts(s, n, "} [") || log_starts(s, n, "{ [");
    case LOG_FMT_MSMTP:
        return log_starts(s, n, "<-- ") || log_starts(s, n, "--> ") || log_starts(s, n, "msmtp: ") ||
               log_starts(s, n, "tls_starttls = ");
    case LOG_FMT_OPENSSL:
        return log_starts(s, n, "CONNECTED(") || log_starts(s, n, "verify return:") ||
               log_starts(s, n, "SSL handshake has read") || log_starts(s, n, "Verify return code:") ||
               log_find(s, n, "s_client");
    case LOG_FMT_IMAPLIB:
        return log_find(s, n, "imaplib version") || log_find(s, n, "new IMAP4 connection") ||
               ((log_find(s, n, " > b'") || log_find(s, n, " < b'")) && n > 2 && s[0] == ' ');
    case LOG_FMT_SMTPLIB:
        return log_starts(s, n, "send: ") || log_starts(s, n, "reply: ") || log_starts(s, n, "connect: (");
    case LOG_FMT_THUNDERBIRD:
        return log_find(s, n, "/IMAP ") || log_find(s, n, "/SMTP ") || log_find(s, n, "/POP3 ") ||
               log_find(s, n, "[Parent ");
    default:
        return false;
    }
}

size_t log_detect_score(const char *data, size_t n, log_format f)
{
    log_lines it;
    log_lines_init(&it, data, n, f == LOG_FMT_CURL);
    const char *s;
    size_t len, score = 0;
    while (it.lineno < 400 && log_lines_next(&it, &s, &len))
        if (line_signature(f, s, len))
            score++;
    return score;
}

log_format log_detect(const char *data, size_t n)
{
    log_format best = LOG_FMT_UNKNOWN;
    size_t best_score = 0;
    for (int f = 1; f < LOG_FMT_COUNT; f++) {
        size_t sc = log_detect_score(data, n, (log_format)f);
        if (sc > best_score) {
            best = (log_format)f;
            best_score = sc;
        }
    }
    return best;
}

/* What the first lines look like, for "cannot tell": counts of printable, protocol-like lines. */
static void describe_seen(const char *data, size_t n, log_conv *c)
{
    log_lines it;
    log_lines_init(&it, data, n, false);
    const char *s;
    size_t len, lines = 0, binary = 0, replyish = 0;
    while (log_lines_next(&it, &s, &len)) {
        lines++;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x20 && s[i] != '\t') {
                binary++;
                break;
            }
        if ((len >= 4 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
             isdigit((unsigned char)s[2]) && (s[3] == ' ' || s[3] == '-')) ||
            log_starts(s, len, "* OK") || log_starts(s, len, "+OK") || log_starts(s, len, "-ERR"))
            replyish++;
    }
    snprintf(c->seen, sizeof c->seen,
             "%zu bytes, %zu lines (%zu with control bytes, %zu that look like server replies); "
             "no line matched the signatures of: %s",
             n, lines, binary, replyish, log_format_names());
}

int log_read(const char *data, size_t n, log_format f, log_conv *c, char *err, size_t errcap)
{
    if (n > LOG_MAX_BYTES) {
        snprintf(err, errcap, "the log is %zu bytes; at most %d are read", n, LOG_MAX_BYTES);
        return -1;
    }
    if (f == LOG_FMT_UNKNOWN)
        f = log_detect(data, n);
    if (f == LOG_FMT_UNKNOWN) {
        describe_seen(data, n, c);
        return 1;
    }
    c->format = f;
    size_t got = readers[f](data, n, c);
    c->recognised = got;
    if (!got || !c->n) {
        describe_seen(data, n, c);
        snprintf(c->seen + strlen(c->seen), sizeof c->seen - strlen(c->seen),
                 "; read as %s, no conversation found", log_format_name(f));
        return 1;
    }
    return 0;
}

int log_read_file(const char *path, log_format f, log_conv *c, char *err, size_t errcap)
{
    FILE *in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!in) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, in);
        n += got;
        if (n < cap)
            break;
        if (cap > LOG_MAX_BYTES) {
            free(buf);
            buf = NULL;
            snprintf(err, errcap, "%s: larger than %d bytes", path, LOG_MAX_BYTES);
            break;
        }
        char *p = realloc(buf, cap * 2);
        if (!p) {
            free(buf);
            buf = NULL;
            snprintf(err, errcap, "%s: out of memory", path);
            break;
        }
        buf = p;
        cap *= 2;
    }
    bool bad = in != stdin ? ferror(in) : false;
    if (in != stdin)
        fclose(in);
    if (!buf)
        return -1;
    if (bad) {
        free(buf);
        snprintf(err, errcap, "%s: read error", path);
        return -1;
    }
    int rc = log_read(buf, n, f, c, err, errcap);
    free(buf);
    return rc;
}
