/* diag_log.c -- protocol logs as diagnosis input (diag.h diag_log_load, diag_log.h).
 *
 * Steps: read the log into a conversation (log_read.h: any format, redacted); establish the
 * provider (given, or the profile whose greeting template or host names the log shows);
 * walk each connection collecting facts (the provider port, the protocol, whether the client
 * started TLS at once, handshake outcomes, client errors, who tried to log in how, and which
 * reply template of the profile each server line is); map the facts to catalogue triggers;
 * copy what the log shows of the settings into diag_settings (reading.observed) so that
 * diag_run() adds what those settings imply.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/diag_judge.h"
#include "harness/diag_log.h"
#include "proto/base64.h"
#include "servers/profile.h"
#include "servers/template.h"


/* ---- template matching ------------------------------------------------------------------------ */

/* The next literal segment of src at *i into lit (unescaping {{ and }}); *wild_before is set
 * when one or more placeholders preceded it. Returns false at the end of src. */
static bool next_literal(const char *src, size_t *i, char *lit, size_t cap, size_t *litn, bool *wild_before)
{
    *wild_before = false;
    *litn = 0;
    while (src[*i] == '{' && src[*i + 1] != '{') { /* placeholders */
        const char *e = strchr(src + *i, '}');
        if (!e)
            break;
        *i = (size_t)(e - src) + 1;
        *wild_before = true;
    }
    while (src[*i]) {
        if (src[*i] == '{' && src[*i + 1] == '{')
            (*i)++;
        else if (src[*i] == '}' && src[*i + 1] == '}')
            (*i)++;
        else if (src[*i] == '{')
            break;
        if (*litn + 1 < cap)
            lit[(*litn)++] = src[*i];
        (*i)++;
    }
    lit[*litn] = 0;
    return *litn > 0 || *wild_before;
}

bool diag_log_template_match(const char *src, const char *line, size_t *literal)
{
    size_t i = 0, pos = 0, n = strlen(line), total = 0;
    char lit[1024];
    size_t litn;
    bool wild, first = true;
    *literal = 0;
    while (next_literal(src, &i, lit, sizeof lit, &litn, &wild)) {
        bool last = src[i] == 0;
        if (!litn) /* trailing placeholders match the rest */
            return (*literal = total), true;
        if (first && !wild) {
            if (strncmp(line, lit, litn))
                return false;
            pos = litn;
        } else if (last) {
            if (n < litn || n - litn < pos || strcmp(line + n - litn, lit))
                return false;
            pos = n;
        } else {
            const char *f = strstr(line + pos, lit);
            if (!f)
                return false;
            pos = (size_t)(f - line) + litn;
        }
        total += litn;
        first = false;
        if (last)
            break;
    }
    if (pos != n && !(src[0] && src[strlen(src) - 1] == '}' && src[strlen(src) - 2] != '}'))
        return false;
    *literal = total;
    return true;
}

/* ---- reply templates by key ------------------------------------------------------------------- */

typedef struct reply_key_ {
    const char *name;
    size_t off;
} reply_key_t;

#define RK_(field, kind, fallback, vars, doc) {#field, offsetof(TYPE_, field)},
#define TYPE_ profile_imap_replies
static const reply_key_t imap_keys[] = {PROFILE_IMAP_REPLIES(RK_)};
#undef TYPE_
#define TYPE_ profile_smtp_replies
static const reply_key_t smtp_keys[] = {PROFILE_SMTP_REPLIES(RK_)};
#undef TYPE_
#define TYPE_ profile_pop3_replies
static const reply_key_t pop3_keys[] = {PROFILE_POP3_REPLIES(RK_)};
#undef TYPE_

static const reply_key_t *keys_of(diag_proto proto, size_t *n, const void **base, const profile *p)
{
    switch (proto) {
    case DIAG_PROTO_IMAP: *n = sizeof imap_keys / sizeof *imap_keys; *base = &p->imap.r; return imap_keys;
    case DIAG_PROTO_SMTP: *n = sizeof smtp_keys / sizeof *smtp_keys; *base = &p->smtp.r; return smtp_keys;
    case DIAG_PROTO_POP3: *n = sizeof pop3_keys / sizeof *pop3_keys; *base = &p->pop3.r; return pop3_keys;
    default: *n = 0; *base = NULL; return NULL;
    }
}

/* The most specific reply key of p that line matches (ties: the first in profile order), or
 * NULL. Generic templates such as "+ {text}" need 2 literal characters at least. */
static const char *reply_name(const profile *p, diag_proto proto, const char *line)
{
    size_t n, best_lit = 1;
    const void *base;
    const reply_key_t *k = p ? keys_of(proto, &n, &base, p) : NULL;
    const char *best = NULL;
    for (size_t i = 0; k && i < n; i++) {
        const template *t = *(const template *const *)((const char *)base + k[i].off);
        size_t lit;
        if (t && diag_log_template_match(template_source(t), line, &lit) && lit > best_lit) {
            best = k[i].name;
            best_lit = lit;
        }
    }
    return best;
}

/* ---- profiles --------------------------------------------------------------------------------- */

/* ---- facts of one connection ------------------------------------------------------------------- */

typedef struct facts {
    const log_conn *k;
    diag_proto proto;
    unsigned port;          /* provider port (0 = unknown) */
    bool port_mapped;       /* port came from a local port through port_base */
    bool implicit;          /* the client started TLS at once */
    bool tls_ok, tls_fail, cert_error;
    const log_rec *tls_fail_rec, *cert_rec;
    const log_rec *err[8];  /* client errors */
    size_t n_err;
    bool greeting;          /* a server line arrived before any client line (in plaintext) */
    bool garbage;           /* a server line with bytes a protocol line never has */
    bool any_server;
    char user[DIAG_ADDR_MAX];
    unsigned user_line;
    bool auth_tried;        /* LOGIN, USER/PASS, AUTH, AUTHENTICATE */
    const log_rec *auth_rec;
    bool auth_in_plain;     /* ... while not under TLS */
    char mech[32];          /* SASL mechanism, "" for LOGIN / USER+PASS */
    bool auth_ok;
    bool ehlo_auth;         /* the last EHLO reply listed AUTH */
    bool ehlo_seen;
    bool mail_tried;        /* MAIL FROM / RCPT TO */
    const log_rec *events[8];
    size_t n_events;
} facts;

static diag_proto proto_from_lines(const log_conn *k)
{
    for (size_t i = 0; i < k->n; i++) {
        const log_rec *r = &k->rec[i];
        if (r->kind != LOG_DATA)
            continue;
        const char *s = r->text;
        if (r->dir == LOG_DIR_S) {
            if (log_starts(s, r->n, "* OK") || log_starts(s, r->n, "* BYE") || log_starts(s, r->n, "* PREAUTH"))
                return DIAG_PROTO_IMAP;
            if (log_starts(s, r->n, "+OK"))
                return DIAG_PROTO_POP3;
            if (r->n >= 3 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
                isdigit((unsigned char)s[2]))
                return DIAG_PROTO_SMTP;
        } else {
            if (!strncasecmp(s, "EHLO", 4) || !strncasecmp(s, "HELO", 4))
                return DIAG_PROTO_SMTP;
            if (!strncasecmp(s, "USER ", 5) || !strncasecmp(s, "CAPA", 4) || !strncasecmp(s, "STLS", 4))
                return DIAG_PROTO_POP3;
        }
    }
    return DIAG_PROTO_UNSET;
}

/* Copy a NUL-terminated string into out, cut to cap - 1 bytes (a user name longer than the
 * model holds is shown cut; it is evidence, not a setting). */
static void copy_cut(char *out, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(out, src, n);
    out[n] = 0;
}

/* Decode the identity out of a (redacted) SASL initial response or LOGIN step 0. */
static void sasl_user(const char *mech, const char *b64, size_t n, char *out, size_t cap)
{
    char dec[1024];
    mr_error err;
    int m = b64_decode(b64, n, dec, sizeof dec - 1, 0, &err);
    if (m <= 0)
        return;
    dec[m] = 0;
    if (!strcasecmp(mech, "PLAIN")) { /* authzid \0 authcid \0 passwd */
        const char *z = memchr(dec, 0, (size_t)m);
        if (z && z + 1 < dec + m)
            copy_cut(out, cap, z + 1);
    } else if (!strcasecmp(mech, "LOGIN")) {
        copy_cut(out, cap, dec);
    } else if (!strcasecmp(mech, "XOAUTH2")) { /* user=NAME^Aauth=... */
        if (!strncmp(dec, "user=", 5)) {
            char *a = memchr(dec, 1, (size_t)m);
            if (a)
                *a = 0;
            copy_cut(out, cap, dec + 5);
        }
    }
}

static void unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        size_t o = 0;
        for (size_t i = 1; i + 1 < n; i++) {
            if (s[i] == '\\' && i + 2 < n)
                i++;
            s[o++] = s[i];
        }
        s[o] = 0;
    }
}

static void word(const char *s, size_t n, unsigned w, char *out, size_t cap)
{
    size_t i = 0;
    out[0] = 0;
    for (unsigned k = 0; k <= w; k++) {
        while (i < n && s[i] == ' ')
            i++;
        size_t b = i;
        if (i < n && s[i] == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            if (i < n)
                i++;
        } else
            while (i < n && s[i] != ' ')
                i++;
        if (k == w)
            snprintf(out, cap, "%.*s", (int)(i - b), s + b);
    }
}

/* A client line: who logs in how. */
static void client_line(facts *f, const log_rec *r, bool *pending_login_user)
{
    const char *s = r->text;
    size_t n = r->n;
    char w0[64], w1[64], w2[DIAG_ADDR_MAX];
    word(s, n, 0, w0, sizeof w0);
    word(s, n, 1, w1, sizeof w1);
    bool auth = false;
    if (!strcmp(s, "<redacted>") && !f->auth_tried) { /* the client hid its login command */
        f->mech[0] = 0;
        auth = true;
    } else if (!strcasecmp(w1, "LOGIN") && f->proto != DIAG_PROTO_SMTP) {
        word(s, n, 2, w2, sizeof w2);
        unquote(w2);
        if (w2[0] && w2[0] != '{' && strcmp(w2, "<redacted>"))
            snprintf(f->user, sizeof f->user, "%s", w2);
        f->mech[0] = 0;
        auth = true;
    } else if (!strcasecmp(w0, "AUTH") || !strcasecmp(w1, "AUTHENTICATE")) {
        unsigned mi = !strcasecmp(w0, "AUTH") ? 1 : 2;
        word(s, n, mi, f->mech, sizeof f->mech);
        word(s, n, mi + 1, w2, sizeof w2);
        if (w2[0])
            sasl_user(f->mech, w2, strlen(w2), f->user, sizeof f->user);
        else
            *pending_login_user = !strcasecmp(f->mech, "LOGIN") || !strcasecmp(f->mech, "PLAIN") ||
                                  !strcasecmp(f->mech, "XOAUTH2");
        auth = true;
    } else if (!strcasecmp(w0, "USER") && f->proto != DIAG_PROTO_SMTP) {
        word(s, n, 1, w2, sizeof w2);
        snprintf(f->user, sizeof f->user, "%s", w2);
    } else if (!strcasecmp(w0, "PASS") || !strcasecmp(w0, "APOP")) {
        auth = true;
        f->mech[0] = 0;
    } else if (*pending_login_user) {
        sasl_user(f->mech, s, n, f->user, sizeof f->user);
        *pending_login_user = false;
    } else if (!strncasecmp(s, "MAIL FROM", 9) || !strncasecmp(s, "RCPT TO", 7)) {
        f->mail_tried = true;
    } else if (!strncasecmp(s, "EHLO", 4)) {
        f->ehlo_seen = true;
        f->ehlo_auth = false;
    }
    if (auth) {
        f->auth_tried = true;
        f->auth_rec = r;
        /* a format that logs no TLS proves plaintext only on a port that is not implicit TLS */
        f->auth_in_plain |= r->tls == LOG_TLS_PLAIN && (!f->k->tls_silent || (f->port && !f->implicit));
        f->user_line = r->line;
    }
}

static bool printable_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
            return false;
    return true;
}

static unsigned map_port(unsigned port, unsigned base, const profile *p, bool *mapped)
{
    *mapped = false;
    if (!base || port <= base)
        return port;
    unsigned pp = port - base;
    if (p ? profile_listener_find(p, pp) != NULL : log_proto_of_port(pp) != DIAG_PROTO_UNSET) {
        *mapped = true;
        return pp;
    }
    return port;
}

static bool has_event(const facts *f, const char *name);

static void gather(facts *f, const log_conn *k, unsigned port_base, const profile *p)
{
    memset(f, 0, sizeof *f);
    f->k = k;
    f->port = map_port(k->port, port_base, p, &f->port_mapped);
    f->proto = k->proto ? k->proto : proto_from_lines(k);
    if (!f->proto)
        f->proto = log_proto_of_port(f->port);
    f->implicit = k->implicit_known ? k->implicit : (f->port && log_port_is_implicit(f->port));
    if (k->tls_silent && !k->implicit_known) { /* only the port can tell */
        const profile_listener *l = p && f->port ? profile_listener_find(p, f->port) : NULL;
        if (l)
            f->implicit = !strcmp(profile_mode_name(l->mode), "implicit-tls");
    }
    bool client_spoke = false, pending_user = false;
    for (size_t i = 0; i < k->n; i++) {
        const log_rec *r = &k->rec[i];
        switch (r->kind) {
        case LOG_DATA:
            if (r->dir == LOG_DIR_C) {
                client_line(f, r, &pending_user);
                client_spoke = true;
            } else {
                f->any_server = true;
                if (!client_spoke && r->tls == LOG_TLS_PLAIN)
                    f->greeting = true;
                if (!printable_line(r->text, r->n))
                    f->garbage = true;
                if (log_find(r->text, r->n, "AUTH") && f->ehlo_seen && log_starts(r->text, r->n, "250"))
                    f->ehlo_auth = true;
                if (f->auth_tried && (log_starts(r->text, r->n, "235") ||
                                      (f->proto == DIAG_PROTO_POP3 && log_starts(r->text, r->n, "+OK"))))
                    f->auth_ok = true;
                if (f->auth_tried && f->auth_rec && f->proto == DIAG_PROTO_IMAP) { /* "TAG OK" to the login */
                    const char *sp = strchr(f->auth_rec->text, ' ');
                    size_t tl = sp ? (size_t)(sp - f->auth_rec->text) : 0;
                    if (tl && r->n > tl + 3 && !strncmp(r->text, f->auth_rec->text, tl + 1) &&
                        !strncmp(r->text + tl + 1, "OK", 2))
                        f->auth_ok = true;
                }
            }
            break;
        case LOG_TLS_OK: f->tls_ok = true; break;
        case LOG_TLS_FAIL: f->tls_fail = true; f->tls_fail_rec = r; break;
        case LOG_CERT_ERROR: f->cert_error = true; f->cert_rec = r; break;
        case LOG_ERROR: if (f->n_err < 8) f->err[f->n_err++] = r; break;
        case LOG_EVENT: if (f->n_events < 8) f->events[f->n_events++] = r; break;
        default: break;
        }
    }
    /* a mock's transcript names the listener's mode; its events say what the client did */
    if (has_event(f, "plaintext-on-implicit-tls-port"))
        f->implicit = false;
    if (has_event(f, "tls-handshake-on-starttls-port") || has_event(f, "tls-handshake-on-plaintext-port"))
        f->implicit = true;
}

static bool has_err(const facts *f, log_err e)
{
    for (size_t i = 0; i < f->n_err; i++)
        if (f->err[i]->err == e)
            return true;
    return false;
}

static const log_rec *first_err(const facts *f, log_err e)
{
    for (size_t i = 0; i < f->n_err; i++)
        if (f->err[i]->err == e)
            return f->err[i];
    return NULL;
}

static bool has_event(const facts *f, const char *name)
{
    for (size_t i = 0; i < f->n_events; i++)
        if (log_starts(f->events[i]->text, f->events[i]->n, name))
            return true;
    return false;
}

/* ---- findings ------------------------------------------------------------------------------------ */

typedef struct ctx {
    const char *origin;
    const profile *p;       /* the provider's profile, or NULL */
    const char *provider;   /* its name, or NULL */
    diag_report *r;
    diag_settings *s;
    const diag_vocab *vocab; /* for fixes in the client's own labels; may be NULL */
    size_t n_found;         /* findings this log added */
} ctx;

static diag_server_id server_of(diag_proto p)
{
    return p == DIAG_PROTO_SMTP ? DIAG_OUT : DIAG_IN;
}

/* The values of the {placeholders} the log can fill (the rest are left out, diag.h). */
typedef struct fillvals {
    diag_fill f;
    char port[8], wire[40], fix_port[8], fix_user[DIAG_ADDR_MAX];
} fillvals;

static const char *wire_label(const ctx *x, diag_wire w, unsigned port)
{
    const char *l = x->vocab ? diag_vocab_label_for(x->vocab, x->s->client, w, port) : NULL;
    return l ? l : diag_wire_name(w);
}

static void fill_values(const ctx *x, const facts *f, const char *reply, fillvals *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->port, sizeof v->port, "%u", f->port);
    snprintf(v->wire, sizeof v->wire, "%s", f->implicit ? "implicit TLS" : f->tls_ok ? "STARTTLS" : "plaintext");
    v->f.v[DIAG_PH_PORT] = f->port ? v->port : NULL;
    v->f.v[DIAG_PH_HOST] = f->k->host[0] ? f->k->host : NULL;
    v->f.v[DIAG_PH_PROTO] = diag_proto_name(f->proto);
    v->f.v[DIAG_PH_USERNAME] = f->user[0] ? f->user : NULL;
    v->f.v[DIAG_PH_REPLY] = reply;
    v->f.v[DIAG_PH_WIRE] = v->wire;
    v->f.v[DIAG_PH_AUTH] = f->mech[0] ? f->mech : "a password";
    if (!x->p)
        return;
    const profile_service *sv = f->proto == DIAG_PROTO_IMAP   ? &x->p->imap.s
                                : f->proto == DIAG_PROTO_SMTP ? &x->p->smtp.s
                                                              : &x->p->pop3.s;
    v->f.v[DIAG_PH_FIX_HOST] = sv->host;
    const profile_listener *l = f->port ? profile_listener_find(x->p, f->port) : NULL;
    if (l) {
        v->f.v[DIAG_PH_LISTENER] = l->description;
        const char *m = profile_mode_name(l->mode);
        diag_wire w = !strcmp(m, "implicit-tls") ? DIAG_WIRE_IMPLICIT_TLS : !strcmp(m, "starttls") ? DIAG_WIRE_STARTTLS
                                                                                                    : DIAG_WIRE_UNSET;
        if (w)
            v->f.v[DIAG_PH_FIX_LABEL] = wire_label(x, w, f->port);
    }
    for (size_t i = 0; i < x->p->n_listeners; i++) { /* the first open port of the protocol that takes AUTH */
        const profile_listener *q = &x->p->listeners[i];
        if ((diag_proto)(q->proto == PROFILE_IMAP ? DIAG_PROTO_IMAP : q->proto == PROFILE_SMTP ? DIAG_PROTO_SMTP
                                                                                                : DIAG_PROTO_POP3) ==
                f->proto &&
            q->auth && strcmp(profile_mode_name(q->mode), "closed") && strcmp(profile_mode_name(q->mode), "silent")) {
            snprintf(v->fix_port, sizeof v->fix_port, "%u", q->port);
            v->f.v[DIAG_PH_FIX_PORT] = v->fix_port;
            if (!v->f.v[DIAG_PH_FIX_LABEL] || (l && l->port != q->port)) {
                const char *m = profile_mode_name(q->mode);
                v->f.v[DIAG_PH_FIX_LABEL] =
                    wire_label(x, !strcmp(m, "implicit-tls") ? DIAG_WIRE_IMPLICIT_TLS : DIAG_WIRE_STARTTLS, q->port);
            }
            break;
        }
    }
    if (sv->username.n && f->user[0]) {
        const char *at = strchr(f->user, '@');
        if (sv->username.v[0] == PROFILE_UFORM_LOCAL)
            snprintf(v->fix_user, sizeof v->fix_user, "%.*s", at ? (int)(at - f->user) : (int)strlen(f->user), f->user);
        else if (at)
            snprintf(v->fix_user, sizeof v->fix_user, "%s", f->user);
        else if (x->s->email[0])
            snprintf(v->fix_user, sizeof v->fix_user, "%s", x->s->email);
        else
            snprintf(v->fix_user, sizeof v->fix_user, "%.200s@<your domain>", f->user);
        v->f.v[DIAG_PH_FIX_USERNAME] = v->fix_user;
    }
    v->f.v[DIAG_PH_EMAIL] = x->s->email[0] ? x->s->email : NULL;
}

static diag_auth auth_of_mech(const char *mech)
{
    if (!mech[0] || !strcasecmp(mech, "PLAIN") || !strcasecmp(mech, "LOGIN"))
        return DIAG_AUTH_NORMAL;
    if (!strcasecmp(mech, "NTLM") || !strcasecmp(mech, "GSS-SPNEGO"))
        return DIAG_AUTH_SPA;
    if (!strcasecmp(mech, "CRAM-MD5"))
        return DIAG_AUTH_CRAM_MD5;
    if (!strcasecmp(mech, "XOAUTH2") || !strcasecmp(mech, "OAUTHBEARER"))
        return DIAG_AUTH_OAUTH2;
    if (!strcasecmp(mech, "GSSAPI"))
        return DIAG_AUTH_GSSAPI;
    if (!strcasecmp(mech, "EXTERNAL"))
        return DIAG_AUTH_CERT;
    return DIAG_AUTH_UNSET;
}

/* Add the finding the catalogue has for trigger t; detail is printf-style. */
static diag_finding *found(ctx *x, const facts *f, diag_trigger t, diag_field field, const log_rec *at,
                           const char *reply_key, const char *reply, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static diag_finding *found(ctx *x, const facts *f, diag_trigger t, diag_field field, const log_rec *at,
                           const char *reply_key, const char *reply, const char *fmt, ...)
{
    diag_auth a = auth_of_mech(f->mech);
    const diag_rule *rule = diag_rule_for(t, x->provider, f->proto, f->port, a);
    if (!rule)
        rule = diag_rule_for(t, x->provider, f->proto, f->port, DIAG_AUTH_UNSET);
    if (!rule) {
        diag_report_cannot(x->r, server_of(f->proto), field, diag_trigger_name(t),
                           "the log shows it (line %u) but the finding catalogue has no rule for it",
                           at ? at->line : f->k->line);
        return NULL;
    }
    diag_origin o = {.line = at ? at->line : f->k->line};
    snprintf(o.file, sizeof o.file, "%s", x->origin);
    diag_finding *d = diag_report_add(x->r, rule, server_of(f->proto), field, &o);
    if (!d)
        return NULL;
    x->n_found++;
    fillvals fv;
    fill_values(x, f, reply, &fv);
    diag_fill_expand(rule->title, &fv.f, d->title, sizeof d->title);
    diag_fill_expand(rule->wire, &fv.f, d->wire, sizeof d->wire);
    diag_fill_expand(rule->fix, &fv.f, d->fix, sizeof d->fix);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof d->detail, fmt, ap);
    va_end(ap);
    if (reply_key)
        snprintf(d->reply_key, sizeof d->reply_key, "%s.%s", diag_proto_name(f->proto), reply_key);
    if (reply)
        snprintf(d->reply, sizeof d->reply, "%s", reply);
    return d;
}

/* The profile's mode for the port: 1 implicit, 2 starttls, 3 plain, 0 closed/unknown. */
static int listener_mode(const ctx *x, const facts *f, const profile_listener **out)
{
    const profile_listener *l = x->p && f->port ? profile_listener_find(x->p, f->port) : NULL;
    if (out)
        *out = l;
    if (!l)
        return f->port ? (log_port_is_implicit(f->port) ? 1 : log_proto_of_port(f->port) ? 2 : 0) : 0;
    const char *m = profile_mode_name(l->mode);
    return !strcmp(m, "implicit-tls") ? 1 : !strcmp(m, "starttls") ? 2 : !strcmp(m, "plain") ? 3 : 0;
}

static bool protocol_enabled(const ctx *x, diag_proto proto)
{
    if (!x->p)
        return true;
    switch (proto) {
    case DIAG_PROTO_IMAP: return x->p->imap.s.enabled;
    case DIAG_PROTO_SMTP: return x->p->smtp.s.enabled;
    case DIAG_PROTO_POP3: return x->p->pop3.s.enabled;
    default: return true;
    }
}

/* Connection-level failures: refused, TLS mode mismatches, certificates. Returns true when
 * one explains the connection. */
static bool judge_transport(ctx *x, const facts *f)
{
    const log_rec *e;
    int mode = listener_mode(x, f, NULL);
    if ((e = first_err(f, LOG_ERR_REFUSED))) {
        if (!protocol_enabled(x, f->proto))
            found(x, f, DIAG_T_PROTOCOL_UNSUPPORTED, DIAG_F_PROTOCOL, e, NULL, NULL,
                  "connection refused on port %u (%s); the provider offers no %s at all", f->port, e->text,
                  diag_proto_name(f->proto));
        else
            found(x, f, DIAG_T_PORT_CLOSED, DIAG_F_PORT, e, NULL, NULL, "connection refused on port %u: %s",
                  f->port, e->text);
        return true;
    }
    bool tls_to_plain = has_event(f, "tls-handshake-on-starttls-port") ||
                        (f->implicit && f->tls_fail && (mode == 2 || mode == 3));
    if (tls_to_plain) {
        const log_rec *at = f->tls_fail_rec ? f->tls_fail_rec : f->k->n ? &f->k->rec[0] : NULL;
        found(x, f, mode == 3 ? DIAG_T_TLS_ON_PLAIN : DIAG_T_TLS_IMPLICIT_ON_STARTTLS, DIAG_F_SECURITY, at, NULL,
              NULL, "the client started TLS at once on port %u, which greets in plaintext; the handshake failed: %s",
              f->port, at ? at->text : "");
        return true;
    }
    bool plain_to_tls = has_event(f, "plaintext-on-implicit-tls-port") ||
                        (!f->implicit && !f->tls_ok && mode == 1 &&
                         (f->garbage || has_err(f, LOG_ERR_TIMEOUT) || has_err(f, LOG_ERR_RESET) ||
                          (f->tls_fail && !f->greeting) || !f->any_server));
    if (plain_to_tls) {
        const log_rec *at = f->n_err ? f->err[0] : f->k->n ? &f->k->rec[0] : NULL;
        found(x, f, f->k->starttls_intended ? DIAG_T_TLS_STARTTLS_ON_IMPLICIT : DIAG_T_TLS_NONE_ON_IMPLICIT,
              DIAG_F_SECURITY, at, NULL, NULL,
              "the client %s port %u, which expects a TLS handshake first; it got %s",
              f->k->starttls_intended ? "waited for a plaintext greeting (to send STARTTLS) on" : "spoke plaintext to",
              f->port,
              f->garbage ? "bytes that are no protocol line (a TLS alert)"
              : has_err(f, LOG_ERR_TIMEOUT) ? "no answer and timed out"
                                            : "no greeting before the connection ended");
        return true;
    }
    if (f->cert_error) {
        diag_report_cannot(x->r, server_of(f->proto), DIAG_F_SECURITY, "server certificate",
                           "%s:%u: the client refused the server certificate (%s); the finding catalogue has no "
                           "rule for certificate trust: check the CA store, the system clock and that the "
                           "server name matches the certificate",
                           x->origin, f->cert_rec->line, f->cert_rec->text);
        return true;
    }
    if ((e = first_err(f, LOG_ERR_TIMEOUT)) && !f->any_server) {
        found(x, f, DIAG_T_PORT_CLOSED, DIAG_F_PORT, e, NULL, NULL, "no answer on port %u: %s", f->port, e->text);
        return true;
    }
    return false;
}

static bool user_is_full(const facts *f)
{
    return strchr(f->user, '@') != NULL;
}

/* The documented user name form of the provider for the protocol (PROFILE_UFORM_*), -1 unknown. */
static int documented_form(const ctx *x, diag_proto proto, bool *accepts_other)
{
    const profile_service *sv = NULL;
    if (x->p)
        sv = proto == DIAG_PROTO_IMAP ? &x->p->imap.s : proto == DIAG_PROTO_SMTP ? &x->p->smtp.s : &x->p->pop3.s;
    if (!sv || !sv->username.n)
        return -1;
    *accepts_other = sv->username.n > 1;
    return sv->username.v[0];
}

/* An authentication failure reply: which of the documented causes the log can tell. */
static void judge_auth_failure(ctx *x, const facts *f, const log_rec *r, const char *key)
{
    bool other = false;
    int form = documented_form(x, f->proto, &other);
    bool full = user_is_full(f);
    const log_rec *at = f->auth_rec ? f->auth_rec : r;
    if (!f->user[0])
        diag_report_cannot(x->r, server_of(f->proto), DIAG_F_USERNAME, "user name",
                           "%s:%u: the log does not show the user name (the client hid its login command)",
                           x->origin, at->line);
    if (f->user[0] && form >= 0 && ((form == PROFILE_UFORM_LOCAL) == full)) {
        diag_trigger t = other ? DIAG_T_USERNAME_FALLBACK : DIAG_T_USERNAME_FORM;
        found(x, f, t, DIAG_F_USERNAME, at, key, r->text,
              "the client logged in as \"%s\" (%s) and the server answered \"%s\" (line %u); %s documents the %s",
              f->user, full ? "the full address" : "the name part only", r->text, r->line, x->provider,
              form == PROFILE_UFORM_LOCAL ? "name part" : "full address");
        if (t == DIAG_T_USERNAME_FORM)
            return;
    }
    if (x->p) {
        const profile_service *sv =
            f->proto == DIAG_PROTO_IMAP ? &x->p->imap.s : f->proto == DIAG_PROTO_SMTP ? &x->p->smtp.s : &x->p->pop3.s;
        if (sv->passwords == PROFILE_PW_APP) {
            diag_finding *d = found(x, f, DIAG_T_PASSWORD_KIND, DIAG_F_PASSWORD, at, key, r->text,
                                    "the server refused the password (\"%s\", line %u); a log never shows which "
                                    "password was typed, and %s refuses the account password with this same reply",
                                    r->text, r->line, x->provider);
            if (d && d->severity == DIAG_ERROR && d->rule->kind == DIAG_KIND_SETTING) { /* not proven by the log: one of two causes */
                d->severity = DIAG_WARNING;
                x->r->n_severity[DIAG_ERROR]--;
                x->r->n_severity[DIAG_WARNING]++;
            }
            return;
        }
        /* account-password providers: the causes the reply cannot tell apart */
        static const diag_trigger states[] = {DIAG_T_STATE_BASIC_AUTH_DISABLED, DIAG_T_STATE_PROTOCOL_DISABLED,
                                              DIAG_T_STATE_NOT_SIGNED_IN};
        for (size_t i = 0; i < sizeof states / sizeof *states; i++) {
            if (states[i] == DIAG_T_STATE_PROTOCOL_DISABLED && f->proto == DIAG_PROTO_SMTP)
                continue;
            found(x, f, states[i], DIAG_F_NONE, at, key, r->text,
                  "the server refused the login with its generic reply (\"%s\", line %u), which %s also sends "
                  "for this account state",
                  r->text, r->line, x->provider);
        }
    }
}

/* One server line of an established connection. Returns true when it explained a failure. */
/* The template of reply key `key` of p for proto, or NULL. */
static const template *tpl_of(const profile *p, diag_proto proto, const char *key)
{
    size_t n;
    const void *base;
    const reply_key_t *k = p ? keys_of(proto, &n, &base, p) : NULL;
    for (size_t i = 0; k && i < n; i++)
        if (!strcmp(k[i].name, key))
            return *(const template *const *)((const char *)base + k[i].off);
    return NULL;
}

/* Which reply a server line is, the failure replies first: several keys may share one text
 * (Exchange's login_disabled and bad_state), and the ones that matter to the diagnosis win.
 * An account-state reply whose template is the generic failure's (a fallback) tells nothing
 * and is not claimed. */
static const char *failure_key(const ctx *x, const facts *f, const char *line)
{
    static const char *const keys[] = {
        "auth_basic_disabled", "auth_basic_disabled_bye", "auth_smtp_disabled", "auth_protocol_disabled",
        "not_connected", "not_connected_bye", "auth_not_offered", "auth_needs_tls", "login_disabled",
        "auth_mech_unsupported", "relay_denied", "auth_required", "auth_failed", "auth_sasl_failed",
    };
    const template *generic = tpl_of(x->p, f->proto, "auth_failed");
    const template *generic_sasl = tpl_of(x->p, f->proto, "auth_sasl_failed");
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const template *t = tpl_of(x->p, f->proto, keys[i]);
        size_t lit;
        if (!t || !diag_log_template_match(template_source(t), line, &lit))
            continue;
        bool is_generic = !strcmp(keys[i], "auth_failed") || !strcmp(keys[i], "auth_sasl_failed");
        if (!is_generic && (t == generic || t == generic_sasl))
            continue; /* this key's reply is the generic failure's text (a fallback) */
        return keys[i];
    }
    return reply_name(x->p, f->proto, line);
}

static bool judge_reply(ctx *x, facts *f, const log_rec *r)
{
    const char *key = failure_key(x, f, r->text);
    if (!key)
        return false;
    const profile_listener *l;
    listener_mode(x, f, &l);
    if (!strcmp(key, "auth_basic_disabled") || !strcmp(key, "auth_basic_disabled_bye")) {
        found(x, f, DIAG_T_STATE_BASIC_AUTH_DISABLED, DIAG_F_AUTH, r, key, r->text,
              "the server says password logins are disabled for the account: \"%s\" (line %u)", r->text, r->line);
        return true;
    }
    if (!strcmp(key, "auth_smtp_disabled")) {
        found(x, f, DIAG_T_STATE_SMTP_AUTH_DISABLED, DIAG_F_AUTH, r, key, r->text,
              "the server says SMTP AUTH is disabled: \"%s\" (line %u)", r->text, r->line);
        return true;
    }
    if (!strcmp(key, "not_connected") || !strcmp(key, "not_connected_bye")) {
        found(x, f, DIAG_T_STATE_NOT_SIGNED_IN, DIAG_F_NONE, r, key, r->text,
              "logged in, but every mailbox command gets \"%s\" (line %u)", r->text, r->line);
        return true;
    }
    bool ntlm = auth_of_mech(f->mech) == DIAG_AUTH_SPA;
    if (ntlm && (!strncmp(key, "auth_", 5)) && strcmp(key, "auth_continue") && strcmp(key, "auth_ok")) {
        found(x, f, DIAG_T_AUTH_MECH, DIAG_F_AUTH, r, key, r->text,
              "the client asked for %s (Secure Password Authentication) and the server answered \"%s\" (line %u)",
              f->mech, r->text, r->line);
        return true;
    }
    bool no_auth_here = (l && !l->auth) || (!x->p && f->port == 25);
    if ((!strcmp(key, "auth_not_offered") || !strcmp(key, "relay_denied") ||
         (!strcmp(key, "auth_mech_unsupported") && !f->tls_ok)) && no_auth_here) {
        found(x, f, DIAG_T_AUTH_NOT_ON_PORT, DIAG_F_PORT, r, key, r->text,
              "port %u takes no authentication: \"%s\" (line %u)", f->port, r->text, r->line);
        return true;
    }
    if ((!strcmp(key, "auth_needs_tls") || !strcmp(key, "login_disabled")) && r->tls == LOG_TLS_PLAIN) {
        found(x, f, DIAG_T_TLS_NONE_ON_STARTTLS, DIAG_F_SECURITY, r, key, r->text,
              "the client tried to log in before STARTTLS and the server refused: \"%s\" (line %u)", r->text,
              r->line);
        return true;
    }
    if (!strcmp(key, "auth_mech_unsupported") && f->mech[0]) {
        found(x, f, DIAG_T_AUTH_MECH, DIAG_F_AUTH, r, key, r->text,
              "the server does not offer %s: \"%s\" (line %u)", f->mech, r->text, r->line);
        return true;
    }
    if (!strcmp(key, "auth_required") && !f->auth_tried) {
        found(x, f, DIAG_T_AUTH_NONE, DIAG_F_AUTH, r, key, r->text,
              "the client sent mail without logging in: \"%s\" (line %u)", r->text, r->line);
        return true;
    }
    if ((!strcmp(key, "auth_failed") || !strcmp(key, "auth_sasl_failed") ||
         !strcmp(key, "auth_protocol_disabled")) && f->auth_tried) {
        judge_auth_failure(x, f, r, key);
        return true;
    }
    return false;
}

/* What an unexplained failure showed, for "cannot tell". */
static void cannot_tell_conn(ctx *x, const facts *f, size_t idx, const char *why)
{
    char seen[DIAG_TEXT_MAX / 2];
    snprintf(seen, sizeof seen, "%s%s%s%s%s%s", f->proto ? diag_proto_name(f->proto) : "protocol unknown",
             f->greeting ? ", a greeting" : "", f->tls_ok ? ", TLS established" : "",
             f->auth_tried ? ", a login attempt" : "", f->user[0] ? " as " : "", f->user);
    char what[DIAG_TEXT_MAX / 4];
    snprintf(what, sizeof what, "connection %zu (line %u)", idx + 1, f->k->line);
    diag_report_cannot(x->r, server_of(f->proto), DIAG_F_NONE, what, "%s:%u: %s; recognised: %s", x->origin,
                       f->k->line, why, seen);
}

static bool conn_failed(const facts *f, const log_rec **last_neg)
{
    *last_neg = NULL;
    for (size_t i = 0; i < f->k->n; i++) {
        const log_rec *r = &f->k->rec[i];
        if (r->kind != LOG_DATA || r->dir != LOG_DIR_S)
            continue;
        const char *s = r->text;
        const char *sp = memchr(s, ' ', r->n);
        bool neg = (r->n >= 1 && (s[0] == '4' || s[0] == '5') && r->n >= 3 && isdigit((unsigned char)s[1])) ||
                   log_starts(s, r->n, "-ERR") || log_starts(s, r->n, "* BYE") ||
                   (sp && (log_starts(sp + 1, r->n - (size_t)(sp - s) - 1, "NO ") ||
                           log_starts(sp + 1, r->n - (size_t)(sp - s) - 1, "BAD ")));
        if (neg)
            *last_neg = r;
    }
    return *last_neg || f->n_err || f->tls_fail;
}

/* Judge one connection. */
static void judge_conn(ctx *x, facts *f, size_t idx)
{
    if (judge_transport(x, f))
        return;
    /* replies are judged with the client state at that point (the mechanism and user name
     * of the attempt they answer), not the state at the end of the connection */
    bool explained = false, pending_user = false;
    facts g = *f;
    g.user[0] = 0;
    g.mech[0] = 0;
    g.auth_tried = g.auth_in_plain = g.ehlo_seen = g.ehlo_auth = g.mail_tried = false;
    g.auth_rec = NULL;
    for (size_t i = 0; i < f->k->n; i++) {
        const log_rec *r = &f->k->rec[i];
        if (r->kind == LOG_DATA && r->dir == LOG_DIR_C)
            client_line(&g, r, &pending_user);
        else if (r->kind == LOG_DATA && r->dir == LOG_DIR_S)
            explained |= judge_reply(x, &g, r);
    }
    if (!explained && f->proto == DIAG_PROTO_SMTP && has_err(f, LOG_ERR_NO_AUTH) && f->ehlo_seen && !f->ehlo_auth) {
        const profile_listener *l;
        listener_mode(x, f, &l);
        if ((l && !l->auth) || (!x->p && f->port == 25))
            explained = found(x, f, DIAG_T_AUTH_NOT_ON_PORT, DIAG_F_PORT, first_err(f, LOG_ERR_NO_AUTH), NULL, NULL,
                              "the server on port %u lists no AUTH in its EHLO reply, even under TLS", f->port) != NULL;
        else if (!f->tls_ok)
            explained = found(x, f, DIAG_T_TLS_NONE_ON_STARTTLS, DIAG_F_SECURITY, first_err(f, LOG_ERR_NO_AUTH), NULL,
                              NULL, "the server offers AUTH only after STARTTLS, and the client stayed in plaintext") != NULL;
    }
    if (f->auth_ok && !explained && f->port) { /* it works, but the documentation says another port */
        const diag_rule *adv = diag_rule_for(DIAG_T_PORT_ADVICE, x->provider, f->proto, f->port, DIAG_AUTH_UNSET);
        if (adv && adv->port == f->port)
            found(x, f, DIAG_T_PORT_ADVICE, DIAG_F_PORT, f->auth_rec, NULL, NULL,
                  "the login on port %u succeeded (line %u); %s documents another port", f->port,
                  f->auth_rec ? f->auth_rec->line : f->k->line, x->provider ? x->provider : "the provider");
    }
    if (f->auth_tried && f->auth_in_plain && f->auth_rec)
        found(x, f, DIAG_T_PLAINTEXT_PASSWORD, DIAG_F_SECURITY, f->auth_rec, NULL, NULL,
              "the client sent its credentials before any TLS (line %u)", f->auth_rec->line);
    const log_rec *neg;
    if (!explained && conn_failed(f, &neg)) { /* a plaintext-password finding explains no failure */
        char why[DIAG_TEXT_MAX / 4];
        if (neg)
            snprintf(why, sizeof why, "the reply \"%.120s\" (line %u) matches no %s reply of %s", neg->text,
                     neg->line, diag_proto_name(f->proto), x->p ? x->p->origin : "any provider profile (provider unknown)");
        else
            snprintf(why, sizeof why, "the client failed (%.120s) in a way no catalogue rule explains",
                     f->n_err ? f->err[0]->text : f->tls_fail_rec ? f->tls_fail_rec->text : "");
        cannot_tell_conn(x, f, idx, why);
    }
}

/* ---- provider and settings -------------------------------------------------------------------------- */

/* The profile a connection's greeting or host names, or NULL; *line gets the evidence line. */
static profile *identify(const profile_set *ps, const log_conn *k, char *what, size_t cap, unsigned *line)
{
    const log_rec *greet = NULL;
    for (size_t i = 0; i < k->n && !greet; i++)
        if (k->rec[i].kind == LOG_DATA && k->rec[i].dir == LOG_DIR_S)
            greet = &k->rec[i];
    profile *best = NULL;
    size_t best_lit = 11; /* "220 {host} ESMTP" style greetings identify nobody */
    for (size_t i = 0; i < ps->n; i++) {
        profile *p = ps->p[i];
        const char *hosts[16];
        size_t nh = profile_hosts(p, hosts, 16);
        for (size_t h = 0; h < nh && k->host[0]; h++)
            if (!strcasecmp(hosts[h], k->host)) {
                snprintf(what, cap, "server name %.120s is a host of profiles/%.40s.ini", k->host, p->name);
                *line = k->line;
                return p;
            }
        for (size_t l = 0; greet && l < p->n_listeners; l++) {
            const template *g = profile_listener_greeting(p, &p->listeners[l]);
            size_t lit;
            if (g && diag_log_template_match(template_source(g), greet->text, &lit) && lit > best_lit) {
                best = p;
                best_lit = lit;
                snprintf(what, cap, "the greeting \"%.100s\" matches the %s greeting of profiles/%s.ini", greet->text,
                         profile_proto_name(p->listeners[l].proto), p->name);
                *line = greet->line;
            }
        }
    }
    if (best)
        return best;
    /* no greeting (smtplib connects before logging): any reply specific enough to be one
     * provider's wording, 30 literal characters or more */
    diag_proto proto = k->proto ? k->proto : proto_from_lines(k);
    best_lit = 29;
    for (size_t i = 0; i < ps->n; i++)
        for (size_t j = 0; j < k->n; j++) {
            const log_rec *r = &k->rec[j];
            if (r->kind != LOG_DATA || r->dir != LOG_DIR_S)
                continue;
            size_t n, lit;
            const void *base;
            const reply_key_t *keys = keys_of(proto, &n, &base, ps->p[i]);
            for (size_t q = 0; keys && q < n; q++) {
                const template *t = *(const template *const *)((const char *)base + keys[q].off);
                if (t && diag_log_template_match(template_source(t), r->text, &lit) && lit > best_lit) {
                    best = ps->p[i];
                    best_lit = lit;
                    snprintf(what, cap, "the reply \"%.100s\" is the %s.%s reply of profiles/%s.ini", r->text,
                             diag_proto_name(proto), keys[q].name, ps->p[i]->name);
                    *line = r->line;
                }
            }
        }
    return best;
}

static void add_evidence(diag_report *r, const char *provider, const char *what, const char *origin, unsigned line)
{
    if (r->n_evidence >= DIAG_MAX_EVIDENCE)
        return;
    diag_evidence *e = &r->evidence[r->n_evidence++];
    snprintf(e->provider, sizeof e->provider, "%s", provider);
    snprintf(e->what, sizeof e->what, "%s", what);
    snprintf(e->at.file, sizeof e->at.file, "%s", origin);
    e->at.line = line;
}

static bool is_ip_or_local(const char *h)
{
    if (!h[0] || !strcmp(h, "localhost") || !strcmp(h, "unknown") || strchr(h, ':'))
        return true;
    for (const char *p = h; *p; p++)
        if (!isdigit((unsigned char)*p) && *p != '.')
            return false;
    return true;
}

/* Copy what a connection shows into the settings (fields the input did not give). */
static void observe(diag_settings *s, const facts *f, const char *origin, bool listener_mode_known)
{
    if (!f->proto)
        return;
    diag_server *sv = &s->server[server_of(f->proto)];
    diag_origin at = {.line = f->k->line};
    snprintf(at.file, sizeof at.file, "%s", origin);
    if (!sv->given[DIAG_F_PROTOCOL]) {
        sv->proto = f->proto;
        sv->given[DIAG_F_PROTOCOL] = true;
        sv->at[DIAG_F_PROTOCOL] = at;
        sv->at[DIAG_F_NONE] = at;
    }
    if (!sv->given[DIAG_F_SERVER] && !is_ip_or_local(f->k->host)) {
        snprintf(sv->host, sizeof sv->host, "%s", f->k->host);
        sv->given[DIAG_F_SERVER] = true;
        sv->at[DIAG_F_SERVER] = at;
    }
    if (!sv->given[DIAG_F_PORT] && f->port && (f->port_mapped || !is_ip_or_local(f->k->host) || f->port < 1024)) {
        sv->port = f->port;
        sv->given[DIAG_F_PORT] = true;
        sv->at[DIAG_F_PORT] = at;
    }
    bool wire_known = f->k->implicit_known || f->tls_ok || (!f->k->tls_silent && f->any_server) ||
                      (f->k->tls_silent && f->port && listener_mode_known);
    if (!sv->given[DIAG_F_SECURITY] && wire_known) {
        diag_wire w = f->implicit                              ? DIAG_WIRE_IMPLICIT_TLS
                      : f->tls_ok || f->k->starttls_intended ? DIAG_WIRE_STARTTLS
                                                              : DIAG_WIRE_NONE;
        snprintf(sv->security, sizeof sv->security, "%s", diag_wire_name(w));
        sv->reading.wire = w;
        sv->reading.observed = true;
        snprintf(sv->reading.note, sizeof sv->reading.note, "observed in the log");
        sv->given[DIAG_F_SECURITY] = true;
        sv->at[DIAG_F_SECURITY] = at;
    }
    if (!sv->given[DIAG_F_USERNAME] && f->user[0]) {
        snprintf(sv->username, sizeof sv->username, "%s", f->user);
        sv->given[DIAG_F_USERNAME] = true;
        sv->at[DIAG_F_USERNAME] = at;
        sv->at[DIAG_F_USERNAME].line = f->user_line;
    }
    if (!sv->given[DIAG_F_AUTH] && f->auth_tried) {
        sv->auth = auth_of_mech(f->mech);
        snprintf(sv->auth_label, sizeof sv->auth_label, "%s", f->mech[0] ? f->mech : "normal password");
        sv->given[DIAG_F_AUTH] = true;
        sv->at[DIAG_F_AUTH] = at;
    }
    if (!s->given[DIAG_F_EMAIL] && user_is_full(f)) {
        snprintf(s->email, sizeof s->email, "%s", f->user);
        s->given[DIAG_F_EMAIL] = true;
        s->at[DIAG_F_EMAIL] = at;
    }
}

/* The provider the log names: the first connection whose host or greeting identifies a profile;
 * recorded as evidence and as the provider of s. */
static void identify_all(ctx *x, const log_conv *c, const profile_set *ps, const char *origin)
{
    for (size_t i = 0; i < c->n && !x->p; i++) {
        char what[DIAG_TEXT_MAX / 4];
        unsigned line = 0;
        profile *p = identify(ps, &c->conn[i], what, sizeof what, &line);
        if (!p)
            continue;
        x->p = p;
        add_evidence(x->r, p->name, what, origin, line);
        snprintf(x->s->provider, sizeof x->s->provider, "%s", p->name);
        x->s->given[DIAG_F_PROVIDER] = true;
        x->s->at[DIAG_F_PROVIDER].line = line;
        snprintf(x->s->at[DIAG_F_PROVIDER].file, sizeof x->s->at[DIAG_F_PROVIDER].file, "%s", origin);
    }
}

/* The generic profile describes no provider: a log is never attributed to it. */
static void drop_generic(profile_set *ps)
{
    size_t k = 0;
    for (size_t i = 0; i < ps->n; i++) {
        if (!strcmp(ps->p[i]->name, "generic"))
            profile_free(ps->p[i]);
        else
            ps->p[k++] = ps->p[i];
    }
    ps->n = k;
}

void diag_log_classify(const log_conv *c, const char *origin, const diag_log_opts *o, diag_settings *s,
                       diag_report *r)
{
    diag_log_opts def = {0};
    if (!o)
        o = &def;
    profile_set ps = {.n = 0};
    ctx x = {.origin = origin, .r = r, .s = s, .vocab = o->vocab};
    bool borrowed = o->n_profiles > 0;
    for (size_t i = 0; borrowed && i < o->n_profiles && i < PROFILE_SET_MAX; i++)
        ps.p[ps.n++] = (profile *)o->profiles[i]; /* judged read-only, never freed here */
    if (borrowed && s->provider[0]) {
        for (size_t i = 0; i < ps.n && !x.p; i++)
            if (!strcmp(ps.p[i]->name, s->provider))
                x.p = ps.p[i];
    } else if (borrowed) {
        identify_all(&x, c, &ps, origin);
    } else if (s->provider[0]) {
        profile_opts po = {.data_dir = o->data_dir};
        profile_diag d = {0};
        ps.p[0] = profile_load(s->provider, &po, &d);
        profile_diag_free(&d);
        ps.n = ps.p[0] != NULL;
        x.p = ps.p[0];
    } else {
        profile_set_load(&ps, o->data_dir);
        drop_generic(&ps);
        identify_all(&x, c, &ps, origin);
    }
    if (!x.p && !s->provider[0]) /* a provider given without a profile is diag_run's error */
        diag_report_cannot(r, DIAG_ACCOUNT, DIAG_F_PROVIDER, "provider",
                           "%s: no greeting or server name in the log belongs to a provider profile; judged "
                           "with the generic rules (give --provider to judge against one)",
                           origin);
    x.provider = x.p ? x.p->name : NULL;
    if (c->dropped)
        diag_report_cannot(r, DIAG_ACCOUNT, DIAG_F_NONE, "rest of the log",
                           "%s: only the first %d records were read; %zu more were not judged", origin,
                           LOG_MAX_RECS, c->dropped);
    for (size_t i = 0; i < c->n; i++) {
        facts f;
        gather(&f, &c->conn[i], o->port_base, x.p);
        judge_conn(&x, &f, i);
        observe(s, &f, origin, listener_mode(&x, &f, NULL) != 0);
    }
    if (!borrowed)
        profile_set_free(&ps);
}

/* ---- diag.h entry point ---------------------------------------------------------------------------- */

int diag_log_load_opts(const char *path, const diag_log_opts *o, const diag_vocab *v, diag_settings *s,
                       diag_report *r, diag_msgs *msgs)
{
    log_format f = LOG_FMT_UNKNOWN;
    if (o && o->format && o->format[0]) {
        f = log_format_from_name(o->format);
        if (f == LOG_FMT_UNKNOWN) {
            diag_msgs_add(msgs, "--log-format=%s: unknown format (accepted: %s)", o->format, log_format_names());
            return -1;
        }
    }
    log_conv c;
    log_conv_init(&c);
    char err[512];
    int rc = log_read_file(path, f, &c, err, sizeof err);
    if (rc < 0) {
        diag_msgs_add(msgs, "%s", err);
        log_conv_free(&c);
        return -1;
    }
    if (rc > 0) {
        diag_report_cannot(r, DIAG_ACCOUNT, DIAG_F_NONE, "log format",
                           "%s: %s", path, c.seen);
        log_conv_free(&c);
        return 1;
    }
    diag_log_opts oo = o ? *o : (diag_log_opts){0};
    oo.vocab = v;
    diag_log_classify(&c, path, &oo, s, r);
    log_conv_free(&c);
    return 0;
}

int diag_log_load(const char *path, const diag_vocab *v, diag_settings *s, diag_report *r, diag_msgs *msgs)
{
    return diag_log_load_opts(path, NULL, v, s, r, msgs);
}
