/* checks.c -- client-behaviour checks over a transcript; see checks.h.
 *
 * One pass over the transcript (an analysis) feeds every check at once: records are read in
 * order, data records are re-assembled per connection and direction into a byte stream, the
 * stream is cut into protocol units (an IMAP command or response with its literals, an SMTP
 * command line, reply or DATA body line, a POP3 line), and each unit is judged (bare LF, line
 * length, strict syntax) and interpreted (commands, SASL exchanges, capability lists, the
 * replies that tell success from failure). Each check keeps a verdict: how many things it
 * judged, how many were violations, and a line about the first violation and about the last
 * good thing seen. check_eval() runs the analysis and reads one verdict.
 */
#include "harness/checks.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/imap_access.h"
#include "proto/imap_framer.h"
#include "proto/imap_parse.h"
#include "proto/pop3.h"
#include "proto/sasl.h"
#include "proto/smtp_command.h"
#include "proto/smtp_reply.h"
#include "proto/tlssniff.h"
#include "servers/events.h"
#include "servers/transcript.h"

enum {
    UNIT_MAX = 1 << 20,      /* a unit (line or IMAP item) longer than this is cut off */
    PEND_MAX = 64,           /* commands awaiting their reply, per connection */
    MECHS_MAX = 512,         /* bytes of offered mechanism names kept per connection */
    TEXT_MAX = 400,          /* one verdict line */
    IMAP_TOKS = 4096,
    SMTP_LINES = 256,
    REDACTED_LEN = 10,       /* strlen("<redacted>") */
};

static const char REDACTED[] = "<redacted>";
/* What stands in for <redacted> when an item is re-parsed: base64 ("redacted"), an IMAP atom
 * and a POP3 argument at once, so that most redacted items still parse. */
static const char PLACEHOLDER[] = "cmVkYWN0ZWQ=";

/* ---- verdicts ------------------------------------------------------------------------- */

typedef struct verdict {
    unsigned bad, judged, skipped;
    char first[TEXT_MAX];    /* the first violation */
    char good[TEXT_MAX];     /* the last thing judged fine */
    char skip[TEXT_MAX];     /* why something could not be judged */
} verdict;

/* One direction of one connection: bytes not yet cut into units, and where they came from. */
typedef struct mark {
    size_t off;              /* offset in buf where this record's bytes start */
    size_t line;             /* its transcript line */
    double t;
} mark;

typedef struct side {
    char *buf;
    size_t len, cap;
    mark *marks;
    size_t nmarks, mcap;
    int gap;                 /* a summary record fell inside the current unit */
    int skip_to_lf;          /* an over-long unit is being dropped up to its LF */
    int dead;                /* no protocol here (a TLS ClientHello on a plaintext port) */
    uint64_t raw_left;       /* SMTP BDAT: payload bytes still to come */
} side;

typedef enum pend_kind {
    P_OTHER = 0, P_GREETING, P_LOGIN, P_AUTH, P_USER, P_PASS, P_APOP, P_STARTTLS, P_EHLO,
    P_HELO, P_CAPA, P_MULTI, P_DATA, P_BODY, P_IDLE,
} pend_kind;

typedef struct pend {
    pend_kind kind;
    char tag[32];            /* IMAP */
    size_t line;
    double t;
    int attempt;             /* index into an->attempts, or -1 */
} pend;

typedef struct authx {       /* a SASL exchange in progress */
    int active;
    sasl_mech mech;
    char mech_name[24];
    unsigned step;           /* client messages sent so far */
    int expect_resp;         /* the server sent a challenge: the next client line answers it */
    char tag[32];            /* IMAP */
} authx;

typedef enum { MODE_UNKNOWN = 0, MODE_IMPLICIT, MODE_STARTTLS, MODE_PLAIN } conn_mode;

typedef struct conn {
    unsigned long id;
    sc_proto proto;
    conn_mode mode;
    unsigned port;
    char cert[16];
    int cert_bad;
    int tls;                 /* TLS is up */
    size_t tls_line;
    int bad_cert_reported;
    int client_spoke;        /* the client sent any byte */
    /* STARTTLS: 1 the command was sent, 2 the server said go ahead */
    int st_state;
    size_t st_line;
    int injected;            /* the server sent bytes after its go-ahead, before TLS */
    size_t injected_line;
    int first_cmd_after_tls; /* the next client command is the first under TLS */
    /* capabilities from the server's latest list on this connection */
    int caps_known, starttls_offered, starttls_ever, logindisabled, user_capa, smtputf8;
    char mechs[MECHS_MAX];   /* " PLAIN LOGIN " */
    authx auth;
    char user[128];          /* POP3 USER name, waiting for PASS */
    int user_attempt;        /* the attempt USER opened, or -1 */
    int in_data;             /* SMTP: DATA body */
    int in_idle;             /* IMAP: IDLE until DONE */
    int multi;               /* POP3: reading a multi-line body; 2 = CAPA */
    pend q[PEND_MAX];
    size_t qh, qn;
    side c, s;
} conn;

typedef struct attempt {     /* one authentication attempt, for max-auth-retries */
    unsigned long conn;
    size_t line;
    double t;
    int result;              /* R_* */
    size_t result_line;
} attempt;

enum { R_NONE = 0, R_OK, R_DEFINITE, R_TEMP };

typedef struct an {
    const check_ctx *ctx;
    char judged_dir;         /* 'C' or 'S': whose bytes the both-role checks judge */
    long max_line;           /* max-line-length n (0 = protocol limit) */
    long max_retries;
    const char *form;        /* username-form form= */
    verdict v[SC_CHECK__COUNT];
    conn **conns;            /* open addressing by id */
    size_t nconns, ccap;
    attempt *att;
    size_t natt, acap;
    char *scratch;           /* unescaped record bytes */
    size_t scap;
    char *norm;              /* a unit with <redacted> replaced */
    size_t ncap;
    imap_token *toks;
    const char *read_error;
    char read_error_buf[160];
} an;

static void vfmt(char *dst, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vfmt(char *dst, size_t cap, const char *fmt, va_list ap)
{
    vsnprintf(dst, cap, fmt, ap);
    for (char *p = dst; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
}

static void where(char *dst, size_t cap, const conn *c, size_t line, double t)
{
    snprintf(dst, cap, "conn %lu line %zu (%.3fs): ", c ? c->id : 0ul, line, t);
}

/* A violation of check id. */
static void viol(an *a, sc_check_id id, const conn *c, size_t line, double t, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void viol(an *a, sc_check_id id, const conn *c, size_t line, double t, const char *fmt, ...)
{
    verdict *v = &a->v[id];
    if (v->bad++ > 0)
        return;
    where(v->first, sizeof v->first, c, line, t);
    size_t k = strlen(v->first);
    va_list ap;
    va_start(ap, fmt);
    vfmt(v->first + k, sizeof v->first - k, fmt, ap);
    va_end(ap);
}

/* Something check id judged and found fine. */
static void fine(an *a, sc_check_id id, const conn *c, size_t line, double t, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void fine(an *a, sc_check_id id, const conn *c, size_t line, double t, const char *fmt, ...)
{
    verdict *v = &a->v[id];
    v->judged++;
    where(v->good, sizeof v->good, c, line, t);
    size_t k = strlen(v->good);
    va_list ap;
    va_start(ap, fmt);
    vfmt(v->good + k, sizeof v->good - k, fmt, ap);
    va_end(ap);
}

/* Something check id could not judge (a redacted item the strict parser refuses). */
static void skipped(an *a, sc_check_id id, const conn *c, size_t line, double t, const char *what)
{
    verdict *v = &a->v[id];
    if (v->skipped++ == 0) {
        where(v->skip, sizeof v->skip, c, line, t);
        size_t k = strlen(v->skip);
        snprintf(v->skip + k, sizeof v->skip - k, "%s", what);
    }
}

/* A printable copy of at most 60 bytes of p, for reasons. */
static const char *show(const char *p, size_t n, char *buf, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap && i < 60; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r' || ch == '\n')
            break;
        buf[k++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (n > 60 && k + 4 < cap) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = 0;
    return buf;
}

/* ---- small helpers -------------------------------------------------------------------- */

static const char *find_bytes(const char *p, size_t n, const char *lit, size_t ln)
{
    if (ln == 0 || n < ln)
        return NULL;
    for (const char *q = p; (q = memchr(q, lit[0], (size_t)(p + n - q))) != NULL; q++) {
        if ((size_t)(p + n - q) < ln)
            return NULL;
        if (memcmp(q, lit, ln) == 0)
            return q;
    }
    return NULL;
}

static int has_redacted(const char *p, size_t n)
{
    return find_bytes(p, n, REDACTED, REDACTED_LEN) != NULL;
}

static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 256;
    while (nc < need)
        nc *= 2;
    char *nb = realloc(*buf, nc);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = nc;
    return 0;
}

/* Copy p[0..n) into an->norm with every <redacted> replaced by PLACEHOLDER. */
static int normalise(an *a, const char *p, size_t n, mr_slice *out)
{
    size_t need = n + n / REDACTED_LEN * 2 + 1;
    if (grow(&a->norm, &a->ncap, need) < 0)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= REDACTED_LEN && memcmp(p + i, REDACTED, REDACTED_LEN) == 0) {
            memcpy(a->norm + k, PLACEHOLDER, sizeof PLACEHOLDER - 1);
            k += sizeof PLACEHOLDER - 1;
            i += REDACTED_LEN;
        } else {
            a->norm[k++] = p[i++];
        }
    }
    *out = (mr_slice){a->norm, k};
    return 0;
}

static void copy_slice(char *dst, size_t cap, mr_slice s)
{
    size_t k = s.n < cap - 1 ? s.n : cap - 1;
    memcpy(dst, s.p, k);
    dst[k] = 0;
}

/* The length of a unit without its line end (CRLF or LF). */
static size_t body_len(const char *p, size_t n)
{
    if (n && p[n - 1] == '\n')
        n--;
    if (n && p[n - 1] == '\r')
        n--;
    return n;
}

/* The value of key= in a record's text ("mode=implicit proto=imap"), or an empty slice. */
static mr_slice kv_get(mr_slice text, const char *key)
{
    size_t kl = strlen(key);
    const char *p = text.p, *end = text.p + text.n;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *w = p;
        while (p < end && *p != ' ')
            p++;
        if ((size_t)(p - w) > kl && memcmp(w, key, kl) == 0 && w[kl] == '=')
            return (mr_slice){w + kl + 1, (size_t)(p - w) - kl - 1};
    }
    return (mr_slice){"", 0};
}

/* ---- connections ---------------------------------------------------------------------- */

static conn *conn_get(an *a, unsigned long id)
{
    if (a->nconns * 2 >= a->ccap) {
        size_t nc = a->ccap ? a->ccap * 2 : 16;
        conn **t = calloc(nc, sizeof *t);
        if (!t)
            return NULL;
        for (size_t i = 0; i < a->ccap; i++) {
            if (!a->conns[i])
                continue;
            size_t h = a->conns[i]->id & (nc - 1);
            while (t[h])
                h = (h + 1) & (nc - 1);
            t[h] = a->conns[i];
        }
        free(a->conns);
        a->conns = t;
        a->ccap = nc;
    }
    size_t h = id & (a->ccap - 1);
    while (a->conns[h]) {
        if (a->conns[h]->id == id)
            return a->conns[h];
        h = (h + 1) & (a->ccap - 1);
    }
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = id;
    c->user_attempt = -1;
    c->q[0].kind = P_GREETING; /* the server speaks first */
    c->q[0].attempt = -1;
    c->qn = 1;
    a->conns[h] = c;
    a->nconns++;
    return c;
}

static void side_free(side *s)
{
    free(s->buf);
    free(s->marks);
}

static void pend_push(conn *c, pend_kind kind, const char *tag, size_t taglen, size_t line,
                      double t, int att)
{
    if (c->qn == PEND_MAX) { /* a client that never waits: forget the oldest */
        c->qh = (c->qh + 1) % PEND_MAX;
        c->qn--;
    }
    pend *p = &c->q[(c->qh + c->qn) % PEND_MAX];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    if (tag)
        copy_slice(p->tag, sizeof p->tag, (mr_slice){tag, taglen});
    p->line = line;
    p->t = t;
    p->attempt = att;
    c->qn++;
}

static pend *pend_front(conn *c)
{
    return c->qn ? &c->q[c->qh] : NULL;
}

static void pend_pop(conn *c)
{
    if (c->qn) {
        c->qh = (c->qh + 1) % PEND_MAX;
        c->qn--;
    }
}

/* IMAP: take the pending command with this tag out of the queue (copied to *out). */
static int pend_take_tag(conn *c, mr_slice tag, pend *out)
{
    for (size_t i = 0; i < c->qn; i++) {
        pend *p = &c->q[(c->qh + i) % PEND_MAX];
        if (strlen(p->tag) == tag.n && memcmp(p->tag, tag.p, tag.n) == 0) {
            *out = *p;
            for (size_t j = i; j + 1 < c->qn; j++)
                c->q[(c->qh + j) % PEND_MAX] = c->q[(c->qh + j + 1) % PEND_MAX];
            c->qn--;
            return 1;
        }
    }
    return 0;
}

/* ---- capabilities --------------------------------------------------------------------- */

static void caps_reset(conn *c)
{
    c->caps_known = 1;
    c->starttls_offered = c->logindisabled = c->user_capa = c->smtputf8 = 0;
    c->mechs[0] = 0;
}

static void caps_add_mech(conn *c, mr_slice m)
{
    size_t k = strlen(c->mechs);
    if (m.n == 0 || k + m.n + 3 > sizeof c->mechs)
        return;
    if (k == 0)
        c->mechs[k++] = ' ';
    for (size_t i = 0; i < m.n; i++)
        c->mechs[k++] = (char)toupper((unsigned char)m.p[i]);
    c->mechs[k++] = ' ';
    c->mechs[k] = 0;
}

static int caps_has_mech(const conn *c, const char *mech)
{
    char w[40];
    int k = snprintf(w, sizeof w, " %s ", mech);
    if (k <= 0 || (size_t)k >= sizeof w)
        return 0;
    for (char *p = w; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return strstr(c->mechs, w) != NULL;
}

static void caps_starttls(conn *c)
{
    c->starttls_offered = 1;
    c->starttls_ever = 1;
}

/* ---- authentication and what the client sends ----------------------------------------- */

static const char *form_of(const char *user)
{
    return strchr(user, '@') ? "full" : "local";
}

/* The forms the check accepts for c's protocol, or NULL when unknown. */
static const char *forms_required(const an *a, const conn *c, const char *expected)
{
    if (a->form && strcmp(a->form, "profile") != 0)
        return a->form;
    if (a->ctx && c->proto > SC_PROTO_NONE && c->proto <= SC_PROTO_POP3 &&
        a->ctx->username_form[c->proto])
        return a->ctx->username_form[c->proto];
    return expected;
}

/* Is form one of the '|' or ','-separated forms in list? */
static int form_in(const char *form, const char *list)
{
    size_t fl = strlen(form);
    for (const char *p = list; *p;) {
        const char *e = p + strcspn(p, "|, ");
        if ((size_t)(e - p) == fl && memcmp(p, form, fl) == 0)
            return 1;
        p = *e ? e + 1 : e;
    }
    return 0;
}

static void judge_username(an *a, const conn *c, size_t line, double t, const char *user,
                           const char *expected, const char *how)
{
    if (!user[0] || strstr(user, REDACTED) || strstr(user, PLACEHOLDER))
        return;
    const char *form = form_of(user);
    const char *req = forms_required(a, c, expected);
    if (!req) {
        skipped(a, SC_CHECK_USERNAME_FORM, c, line, t,
                "the form required is unknown (no profile; give form=local or form=full)");
        return;
    }
    if (form_in(form, req))
        fine(a, SC_CHECK_USERNAME_FORM, c, line, t, "%s user '%s' has the %s form", how, user,
             form);
    else
        viol(a, SC_CHECK_USERNAME_FORM, c, line, t,
             "%s user '%s' has the %s form; %s %s wants %s", how, user, form,
             sc_proto_name(c->proto), a->form && strcmp(a->form, "profile") != 0 ? "(form=)"
                                                                                : "(profile)",
             req);
}

/* A new authentication attempt. Returns its index or -1. */
static int attempt_new(an *a, const conn *c, size_t line, double t)
{
    if (a->natt == a->acap) {
        size_t nc = a->acap ? a->acap * 2 : 16;
        attempt *n = realloc(a->att, nc * sizeof *n);
        if (!n)
            return -1;
        a->att = n;
        a->acap = nc;
    }
    a->att[a->natt] = (attempt){c->id, line, t, R_NONE, 0};
    return (int)a->natt++;
}

static void attempt_result(an *a, int idx, int result, size_t line)
{
    if (idx >= 0 && (size_t)idx < a->natt && a->att[idx].result == R_NONE) {
        a->att[idx].result = result;
        a->att[idx].result_line = line;
    }
}

/* The client sent a credential (password, token, or something redacted as one). */
static void credential(an *a, conn *c, size_t line, double t, const char *what)
{
    if (c->tls)
        fine(a, SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, c, line, t, "%s sent under TLS", what);
    else
        viol(a, SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, c, line, t, "%s sent before TLS", what);
}

/* The client went on with credentials or mail: judge STARTTLS stripping. */
static void plaintext_use(an *a, conn *c, size_t line, double t, const char *what)
{
    if (c->tls || c->mode == MODE_IMPLICIT)
        fine(a, SC_CHECK_NO_STARTTLS_STRIPPING, c, line, t, "%s sent under TLS", what);
    else if (c->starttls_ever)
        fine(a, SC_CHECK_NO_STARTTLS_STRIPPING, c, line, t,
             "%s sent in plaintext, but STARTTLS had been offered (not stripping)", what);
    else
        viol(a, SC_CHECK_NO_STARTTLS_STRIPPING, c, line, t,
             "STARTTLS was not offered and the client sent %s in plaintext", what);
}

/* Is a SASL message of mech at step a credential? */
static int sasl_secret(sasl_mech mech, unsigned step, const char *p, size_t n)
{
    if (has_redacted(p, n) || find_bytes(p, n, PLACEHOLDER, sizeof PLACEHOLDER - 1))
        return 1;
    if (n == 0 || (n == 1 && (p[0] == '*' || p[0] == '=')))
        return 0;
    unsigned f = sasl_mech_flags(mech);
    if (mech == SASL_MECH_LOGIN)
        return step >= 1;
    return (f & (SASL_MECHF_CLEARTEXT | SASL_MECHF_BEARER)) != 0;
}

/* The user name in a SASL message, when it shows one. */
static void sasl_user(sasl_mech mech, unsigned step, const char *p, size_t n, char *user,
                      size_t cap)
{
    user[0] = 0;
    char dec[1024];
    sasl_payload pl;
    mr_error err;
    if (sasl_payload_decode(p, n, SASL_CLIENT_RESPONSE, MR_LENIENT, dec, sizeof dec, &pl,
                            &err) != 0 ||
        pl.kind != SASL_PAYLOAD_DATA)
        return;
    if (mech == SASL_MECH_PLAIN) {
        sasl_plain m;
        if (sasl_plain_parse(dec, pl.len, MR_LENIENT, NULL, &m, &err) == 0)
            copy_slice(user, cap, m.authcid);
    } else if (mech == SASL_MECH_LOGIN && step == 0) {
        copy_slice(user, cap, (mr_slice){dec, pl.len});
    }
    for (char *q = user; *q; q++)
        if ((unsigned char)*q < 0x20)
            *q = '?';
}

/* One client message of the SASL exchange in progress (initial response or answer). */
static void sasl_message(an *a, conn *c, size_t line, double t, const char *p, size_t n)
{
    authx *x = &c->auth;
    if (sasl_secret(x->mech, x->step, p, n)) {
        char what[64];
        snprintf(what, sizeof what, "AUTH %s credentials", x->mech_name);
        credential(a, c, line, t, what);
        plaintext_use(a, c, line, t, what);
    }
    char user[128];
    sasl_user(x->mech, x->step, p, n, user, sizeof user);
    if (user[0]) {
        char how[48];
        snprintf(how, sizeof how, "AUTH %s", x->mech_name);
        judge_username(a, c, line, t, user, NULL, how);
    }
    x->step++;
}

/* The client starts a SASL exchange with mechanism name m. */
static void auth_begin(an *a, conn *c, size_t line, double t, mr_slice m, int has_ir,
                       mr_slice ir, const char *tag, size_t taglen)
{
    authx *x = &c->auth;
    memset(x, 0, sizeof *x);
    x->active = 1;
    x->mech = sasl_mech_lookup(m);
    copy_slice(x->mech_name, sizeof x->mech_name, m);
    for (char *p = x->mech_name; *p; p++)
        *p = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f ? (char)toupper((unsigned char)*p) : '?';
    if (tag)
        copy_slice(x->tag, sizeof x->tag, (mr_slice){tag, taglen});
    if (has_redacted(m.p, m.n) || strcasecmp(x->mech_name, PLACEHOLDER) == 0) {
        /* "AUTH <redacted>": the mechanism went with the secret */
        snprintf(x->mech_name, sizeof x->mech_name, "(redacted)");
        credential(a, c, line, t, "AUTH credentials");
        plaintext_use(a, c, line, t, "AUTH credentials");
        return;
    }
    if (!c->caps_known)
        viol(a, SC_CHECK_OFFERED_MECHANISMS_ONLY, c, line, t,
             "AUTH %s before the server listed any mechanism on this connection%s",
             x->mech_name, c->tls ? " since TLS started" : "");
    else if (!caps_has_mech(c, x->mech_name))
        viol(a, SC_CHECK_OFFERED_MECHANISMS_ONLY, c, line, t,
             "AUTH %s, but the server offered only:%s", x->mech_name,
             c->mechs[0] ? c->mechs : " (no mechanism)");
    else
        fine(a, SC_CHECK_OFFERED_MECHANISMS_ONLY, c, line, t, "AUTH %s was offered",
             x->mech_name);
    if (has_ir)
        sasl_message(a, c, line, t, ir.p, ir.n);
}

/* The server's last word on a command. */
static void auth_done(an *a, conn *c, const pend *p, int result, size_t line)
{
    attempt_result(a, p->attempt, result, line);
    if (p->kind == P_AUTH || p->kind == P_LOGIN)
        c->auth.active = 0;
}

/* ---- STARTTLS windows ----------------------------------------------------------------- */

/* A client unit, in order: is it plaintext pipelined after STARTTLS? Returns 1 when it was
 * (the unit is then not interpreted further: a careful server discards it). */
static int after_starttls(an *a, conn *c, size_t line, double t, const char *p, size_t n)
{
    if (!c->st_state || c->tls)
        return 0;
    char b[80];
    viol(a, SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, c, line, t,
         "'%s' sent in plaintext after STARTTLS (line %zu), before the handshake",
         show(p, n, b, sizeof b), c->st_line);
    return 1;
}

/* The first client command under TLS after STARTTLS, when the server had injected bytes. */
static void first_after_tls(an *a, conn *c, size_t line, double t, const char *verb, int fresh)
{
    if (!c->first_cmd_after_tls)
        return;
    c->first_cmd_after_tls = 0;
    /* Only SMTP obliges the client to start again (EHLO) under TLS; an IMAP or POP3 client
     * may go straight on, so its first command tells nothing. */
    if (!c->injected || c->proto != SC_PROTO_SMTP)
        return;
    if (fresh)
        fine(a, SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, c, line, t,
             "the server injected plaintext after its STARTTLS reply (line %zu); the client "
             "ignored it and began again with %s",
             c->injected_line, verb);
    else
        viol(a, SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, c, line, t,
             "the server injected plaintext after its STARTTLS reply (line %zu) and the "
             "client's first command under TLS was %s: it used the injected bytes",
             c->injected_line, verb);
}

/* ---- byte-level judging of one unit ----------------------------------------------------- */

/* The protocol's line limit for what dir sends; auth = a SASL line (12286 everywhere). */
static size_t proto_limit(const conn *c, char dir, int auth)
{
    if (auth && c->proto != SC_PROTO_IMAP)
        return 12286;
    switch (c->proto) {
    case SC_PROTO_SMTP: return 510;
    case SC_PROTO_POP3: return dir == 'C' ? 253 : 510;
    case SC_PROTO_IMAP: return 8190;
    default: return 8190;
    }
}

/* Judge the lines of p[0..n) sent by dir for bare LF and length. body: payload lines (DATA,
 * RETR): not held to the protocol's command line limit. */
static void judge_lines(an *a, conn *c, char dir, size_t line, double t, const char *p,
                        size_t n, int auth, int body)
{
    if (dir != a->judged_dir)
        return;
    size_t limit = a->max_line > 0 ? (size_t)a->max_line : proto_limit(c, dir, auth);
    for (size_t i = 0; i < n;) {
        const char *lf = memchr(p + i, '\n', n - i);
        size_t e = lf ? (size_t)(lf - p) : n;
        if (lf) {
            if (e == 0 || p[e - 1] != '\r') {
                char b[80];
                viol(a, SC_CHECK_NO_BARE_LF, c, line, t, "%s line '%s' ends in a bare LF",
                     dir == 'C' ? "client" : "server", show(p + i, e - i, b, sizeof b));
            } else {
                fine(a, SC_CHECK_NO_BARE_LF, c, line, t, "%s lines end in CRLF",
                     dir == 'C' ? "client" : "server");
            }
        }
        size_t len = e - i;
        if (len && p[e - 1] == '\r' && lf)
            len--;
        if (!body || a->max_line > 0) {
            if (len > limit)
                viol(a, SC_CHECK_MAX_LINE_LENGTH, c, line, t,
                     "a %s line of %zu bytes, over the limit of %zu",
                     dir == 'C' ? "client" : "server", len, limit);
            else if (lf)
                fine(a, SC_CHECK_MAX_LINE_LENGTH, c, line, t,
                     "%s lines within %zu bytes", dir == 'C' ? "client" : "server", limit);
        }
        i = lf ? e + 1 : n;
    }
}

/* A strict-parse verdict for one unit of the judged side. */
static void judge_strict(an *a, conn *c, char dir, size_t line, double t, const char *p,
                         size_t n, int ok, const mr_error *err, const char *what, int gap)
{
    if (dir != a->judged_dir)
        return;
    char b[80];
    if (ok) {
        fine(a, SC_CHECK_STRICT_SYNTAX, c, line, t, "%s '%s' is well-formed", what,
             show(p, n, b, sizeof b));
        return;
    }
    if (gap || has_redacted(p, n)) {
        skipped(a, SC_CHECK_STRICT_SYNTAX, c, line, t,
                "a redacted or summarised item was not re-parsed");
        return;
    }
    viol(a, SC_CHECK_STRICT_SYNTAX, c, line, t, "%s '%s' fails the strict parser: %s (%s) at byte %zu",
         what, show(p, n, b, sizeof b), mr_errcode_str(err->code), err->rule ? err->rule : "-",
         err->offset);
}

/* A client line answering an AUTH continuation (SMTP, POP3): ok and err are the protocol's
 * parse of it; judged as a credential-bearing line and handed to the SASL exchange. */
static void judge_sasl_response(an *a, conn *c, size_t line, double t, const char *p, size_t n,
                                int ok, const mr_error *err, int gap)
{
    c->auth.expect_resp = 0;
    judge_lines(a, c, 'C', line, t, p, n, 1, 0);
    judge_strict(a, c, 'C', line, t, p, n, ok, err, "SASL response", gap);
    sasl_message(a, c, line, t, p, body_len(p, n));
}

/* ---- IMAP ----------------------------------------------------------------------------- */

static imap_limits imap_lim(mr_mode mode)
{
    imap_limits l = imap_limits_default();
    l.mode = mode;
    if (mode == MR_LENIENT) {
        l.line_max = UNIT_MAX;
        l.inline_literal_max = UNIT_MAX;
        l.item_max = UNIT_MAX;
    }
    return l;
}

/* Call judge_lines on the protocol lines of an IMAP item, skipping literal payloads. */
static void imap_judge_item(an *a, conn *c, char dir, size_t line, double t, const char *p,
                            size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *lf = memchr(p + i, '\n', n - i);
        size_t e = lf ? (size_t)(lf - p) + 1 : n;
        judge_lines(a, c, dir, line, t, p + i, e - i, 0, 0);
        /* a literal marker {N}, {N+} or ~{N} just before the line end */
        size_t b = body_len(p + i, e - i) + i;
        uint64_t lit = 0;
        if (b > i && p[b - 1] == '}') {
            size_t k = b - 1;
            if (k > i && p[k - 1] == '+')
                k--;
            size_t d = k;
            while (d > i && isdigit((unsigned char)p[d - 1]))
                d--;
            if (d < k && d > i && p[d - 1] == '{' && k - d <= 18)
                for (size_t j = d; j < k; j++)
                    lit = lit * 10 + (uint64_t)(p[j] - '0');
        }
        i = e;
        i += lit < n - i ? (size_t)lit : n - i;
    }
}

/* The client's arguments as text: the first astring of a LOGIN. */
static void imap_tok_text(const imap_toks *t, unsigned i, char *buf, size_t cap)
{
    buf[0] = 0;
    if (i >= t->n)
        return;
    int k = imap_tok_copy(t, i, buf, cap - 1);
    if (k < 0)
        k = 0;
    if ((size_t)k >= cap)
        k = (int)cap - 1;
    buf[k] = 0;
    for (char *q = buf; *q; q++)
        if ((unsigned char)*q < 0x20)
            *q = '?';
}

static void imap_cmd(an *a, conn *c, size_t line, double t, const char *p, size_t n, int gap)
{
    mr_slice s;
    if (normalise(a, p, n, &s) < 0)
        return;
    imap_limits strict = imap_lim(MR_STRICT), lenient = imap_lim(MR_LENIENT);
    imap_command cmd;
    mr_error err;
    int sok = imap_command_parse(s.p, s.n, &strict, &cmd, a->toks, IMAP_TOKS, &err) >= 0;
    judge_strict(a, c, 'C', line, t, p, n, sok, &err, "command", gap);
    if (imap_command_parse(s.p, s.n, &lenient, &cmd, a->toks, IMAP_TOKS, &err) < 0) {
        /* Unparsable: still see what it was (a LOGIN with a broken argument is a LOGIN). */
        size_t tl = imap_tag_len(s.p, s.n, MR_LENIENT);
        cmd.tag = (mr_slice){s.p, tl};
        size_t i = tl;
        while (i < s.n && s.p[i] == ' ')
            i++;
        size_t w = i;
        while (w < s.n && s.p[w] != ' ' && s.p[w] != '\r' && s.p[w] != '\n')
            w++;
        mr_slice word = {s.p + i, w - i};
        cmd.type = mr_slice_eq_ci(word, "LOGIN") ? IMAP_CMD_LOGIN
                   : mr_slice_eq_ci(word, "AUTHENTICATE") ? IMAP_CMD_AUTHENTICATE
                   : mr_slice_eq_ci(word, "STARTTLS") ? IMAP_CMD_STARTTLS
                                                       : IMAP_CMD_UNKNOWN;
        cmd.t.n = 0;
        cmd.name = word;
        if (cmd.type == IMAP_CMD_LOGIN || cmd.type == IMAP_CMD_AUTHENTICATE) {
            int att = attempt_new(a, c, line, t);
            credential(a, c, line, t, "a malformed LOGIN/AUTHENTICATE");
            pend_push(c, cmd.type == IMAP_CMD_LOGIN ? P_LOGIN : P_AUTH, cmd.tag.p, cmd.tag.n,
                      line, t, att);
            return;
        }
    }
    char verb[32];
    copy_slice(verb, sizeof verb, cmd.name);
    for (char *q = verb; *q; q++)
        *q = (char)toupper((unsigned char)*q);
    first_after_tls(a, c, line, t, verb,
                    cmd.type == IMAP_CMD_CAPABILITY || cmd.type == IMAP_CMD_LOGOUT ||
                        cmd.type == IMAP_CMD_NOOP || cmd.type == IMAP_CMD_ID);
    pend_kind kind = P_OTHER;
    int att = -1;
    switch (cmd.type) {
    case IMAP_CMD_LOGIN: {
        kind = P_LOGIN;
        att = attempt_new(a, c, line, t);
        credential(a, c, line, t, "LOGIN password");
        plaintext_use(a, c, line, t, "LOGIN credentials");
        if (c->caps_known && c->logindisabled)
            viol(a, SC_CHECK_OFFERED_MECHANISMS_ONLY, c, line, t,
                 "LOGIN while the server advertised LOGINDISABLED");
        else
            fine(a, SC_CHECK_OFFERED_MECHANISMS_ONLY, c, line, t, "LOGIN was allowed");
        char user[128];
        imap_tok_text(&cmd.t, 0, user, sizeof user);
        judge_username(a, c, line, t, user, NULL, "LOGIN");
        break;
    }
    case IMAP_CMD_AUTHENTICATE: {
        kind = P_AUTH;
        att = attempt_new(a, c, line, t);
        mr_slice m = cmd.t.n ? imap_tok_slice(&cmd.t, 0) : (mr_slice){"", 0};
        unsigned ir = cmd.t.n ? imap_tok_next(&cmd.t, 0) : 0;
        mr_slice irs = ir < cmd.t.n ? imap_tok_slice(&cmd.t, ir) : (mr_slice){"", 0};
        auth_begin(a, c, line, t, m, ir < cmd.t.n, irs, cmd.tag.p, cmd.tag.n);
        break;
    }
    case IMAP_CMD_STARTTLS:
        kind = P_STARTTLS;
        c->st_state = 1;
        c->st_line = line;
        break;
    case IMAP_CMD_APPEND:
        plaintext_use(a, c, line, t, "APPEND (mail)");
        break;
    case IMAP_CMD_IDLE:
        kind = P_IDLE;
        c->in_idle = 1;
        break;
    default:
        break;
    }
    pend_push(c, kind, cmd.tag.p, cmd.tag.n, line, t, att);
}

static void imap_client_unit(an *a, conn *c, size_t line, double t, const char *p, size_t n,
                             int gap)
{
    if (c->in_idle && imap_is_idle_done(p, n, MR_LENIENT)) {
        c->in_idle = 0;
        mr_error err = {MR_E_SYNTAX, "idle-done", 0};
        judge_strict(a, c, 'C', line, t, p, n, imap_is_idle_done(p, n, MR_STRICT), &err, "DONE",
                     gap);
        return;
    }
    if (c->auth.active && c->auth.expect_resp) {
        c->auth.expect_resp = 0;
        mr_slice b64, s;
        int cancel = 0;
        mr_error err;
        if (normalise(a, p, n, &s) < 0)
            return;
        int ok = imap_sasl_line(s.p, s.n, MR_STRICT, &b64, &cancel, &err) >= 0;
        judge_strict(a, c, 'C', line, t, p, n, ok, &err, "SASL response", gap);
        sasl_message(a, c, line, t, p, body_len(p, n));
        return;
    }
    imap_cmd(a, c, line, t, p, n, gap);
}

static void imap_caps(conn *c, const imap_response *r)
{
    imap_cap_iter it;
    if (imap_cap_begin(&it, r) != 0)
        return;
    caps_reset(c);
    mr_slice cap;
    while (imap_cap_next(&it, &cap) == 1) {
        if (cap.n > 5 && mr_slice_eq_ci((mr_slice){cap.p, 5}, "AUTH="))
            caps_add_mech(c, (mr_slice){cap.p + 5, cap.n - 5});
        else if (mr_slice_eq_ci(cap, "STARTTLS"))
            caps_starttls(c);
        else if (mr_slice_eq_ci(cap, "LOGINDISABLED"))
            c->logindisabled = 1;
    }
}

static int imap_result(const imap_response *r)
{
    if (r->status == IMAP_STATUS_OK)
        return R_OK;
    if (r->status == IMAP_STATUS_NO)
        return r->code == IMAP_CODE_UNAVAILABLE ? R_TEMP : R_DEFINITE;
    return R_NONE;
}

static void imap_server_unit(an *a, conn *c, size_t line, double t, const char *p, size_t n,
                             int gap)
{
    imap_limits strict = imap_lim(MR_STRICT), lenient = imap_lim(MR_LENIENT);
    imap_response r;
    mr_error err;
    int sok = imap_response_parse(p, n, &strict, &r, a->toks, IMAP_TOKS, &err) >= 0;
    judge_strict(a, c, 'S', line, t, p, n, sok, &err, "response", gap);
    if (imap_response_parse(p, n, &lenient, &r, a->toks, IMAP_TOKS, &err) < 0)
        return;
    imap_caps(c, &r);
    if (r.kind == IMAP_KIND_CONTINUATION) {
        if (c->auth.active)
            c->auth.expect_resp = 1;
        return;
    }
    if (r.kind == IMAP_KIND_UNTAGGED) {
        pend *f = pend_front(c);
        if (f && f->kind == P_GREETING)
            pend_pop(c);
        return;
    }
    pend pd;
    if (r.kind != IMAP_KIND_TAGGED || !pend_take_tag(c, r.tag, &pd))
        return;
    switch (pd.kind) {
    case P_LOGIN:
    case P_AUTH:
        auth_done(a, c, &pd, imap_result(&r), line);
        break;
    case P_STARTTLS:
        c->st_state = r.status == IMAP_STATUS_OK ? 2 : 0;
        break;
    case P_IDLE:
        c->in_idle = 0;
        break;
    default:
        break;
    }
}

/* If buf ends in a literal marker line ({N}, {N+}, ~{N}), rewrite N as `to` (0 or 10): the
 * payload is in a summary record and will never come, or it was redacted to "<redacted>"
 * whatever its size. Returns 1 when it rewrote one. */
static int imap_set_marker(side *s, unsigned to)
{
    size_t b = body_len(s->buf, s->len);
    if (b == s->len || b == 0 || s->buf[b - 1] != '}')
        return 0;
    size_t k = b - 1;
    if (k && s->buf[k - 1] == '+')
        k--;
    size_t d = k;
    while (d && isdigit((unsigned char)s->buf[d - 1]))
        d--;
    if (d == k || d == 0 || s->buf[d - 1] != '{')
        return 0;
    char num[4];
    size_t nl = (size_t)snprintf(num, sizeof num, "%u", to % 100);
    if (grow(&s->buf, &s->cap, s->len + nl + 1) < 0)
        return 0;
    memmove(s->buf + d + nl, s->buf + k, s->len - k);
    memcpy(s->buf + d, num, nl);
    s->len = d + nl + (s->len - k);
    for (size_t i = 0; i < s->nmarks; i++)
        if (s->marks[i].off > s->len)
            s->marks[i].off = s->len;
    return 1;
}

/* ---- SMTP ----------------------------------------------------------------------------- */

static void smtp_client_unit(an *a, conn *c, size_t line, double t, const char *p, size_t n,
                             int gap)
{
    if (c->in_data) {
        judge_lines(a, c, 'C', line, t, p, n, 0, 1);
        size_t b = body_len(p, n);
        if (b == 1 && p[0] == '.') {
            c->in_data = 0;
            pend_push(c, P_BODY, NULL, 0, line, t, -1);
        }
        return;
    }
    mr_slice s;
    if (normalise(a, p, n, &s) < 0)
        return;
    mr_error err;
    if (c->auth.active && c->auth.expect_resp) {
        mr_slice resp;
        int cancel = 0;
        int ok = smtp_auth_response_parse(s.p, s.n, MR_STRICT, NULL, &resp, &cancel, &err) >= 0;
        judge_sasl_response(a, c, line, t, p, n, ok, &err, gap);
        return;
    }
    int is_auth = n >= 5 && strncasecmp(p, "AUTH ", 5) == 0;
    judge_lines(a, c, 'C', line, t, p, n, is_auth, 0);
    smtp_command_limits lim = smtp_command_limits_default();
    lim.smtputf8 = c->smtputf8;
    smtp_command cmd;
    int sok = smtp_command_parse(s.p, s.n, MR_STRICT, &lim, NULL, &cmd, &err) > 0;
    judge_strict(a, c, 'C', line, t, p, n, sok, &err, "command", gap);
    lim.max_line = lim.max_auth_line = UNIT_MAX;
    if (smtp_command_parse(s.p, s.n, MR_LENIENT, &lim, NULL, &cmd, &err) <= 0) {
        if (is_auth) { /* "AUTH <redacted>" and other broken AUTH lines */
            int att = attempt_new(a, c, line, t);
            auth_begin(a, c, line, t, (mr_slice){p + 5, body_len(p, n) - 5}, 0,
                       (mr_slice){"", 0}, NULL, 0);
            pend_push(c, P_AUTH, NULL, 0, line, t, att);
        } else {
            pend_push(c, P_OTHER, NULL, 0, line, t, -1);
        }
        return;
    }
    first_after_tls(a, c, line, t, smtp_verb_name(cmd.verb),
                    cmd.verb == SMTP_EHLO || cmd.verb == SMTP_HELO || cmd.verb == SMTP_QUIT ||
                        cmd.verb == SMTP_NOOP || cmd.verb == SMTP_RSET);
    pend_kind kind = P_OTHER;
    int att = -1;
    switch (cmd.verb) {
    case SMTP_EHLO: kind = P_EHLO; break;
    case SMTP_HELO: kind = P_HELO; break;
    case SMTP_STARTTLS:
        kind = P_STARTTLS;
        c->st_state = 1;
        c->st_line = line;
        break;
    case SMTP_AUTH:
        kind = P_AUTH;
        att = attempt_new(a, c, line, t);
        auth_begin(a, c, line, t, cmd.mechanism, cmd.has_initial_response, cmd.initial_response,
                   NULL, 0);
        break;
    case SMTP_MAIL:
    case SMTP_RCPT:
        plaintext_use(a, c, line, t, cmd.verb == SMTP_MAIL ? "MAIL FROM (mail)" : "RCPT TO (mail)");
        break;
    case SMTP_DATA:
        kind = P_DATA;
        plaintext_use(a, c, line, t, "DATA (mail)");
        break;
    case SMTP_BDAT:
        plaintext_use(a, c, line, t, "BDAT (mail)");
        c->c.raw_left = cmd.chunk_size;
        break;
    default:
        break;
    }
    pend_push(c, kind, NULL, 0, line, t, att);
}

static void smtp_caps(conn *c, const smtp_reply *rep)
{
    caps_reset(c);
    smtp_ehlo_iter it;
    smtp_ehlo_iter_init(&it, rep, MR_LENIENT);
    smtp_ehlo_kw kw;
    mr_error err;
    while (smtp_ehlo_next(&it, &kw, &err) == 1) {
        if (mr_slice_eq_ci(kw.keyword, "STARTTLS")) {
            caps_starttls(c);
        } else if (mr_slice_eq_ci(kw.keyword, "SMTPUTF8")) {
            c->smtputf8 = 1;
        } else if (mr_slice_eq_ci(kw.keyword, "AUTH")) {
            mr_slice params = kw.params, w;
            while (smtp_ehlo_param_next(&params, &w))
                caps_add_mech(c, w);
        }
    }
}

static int smtp_result(unsigned code)
{
    return code / 100 == 2 ? R_OK : code / 100 == 5 ? R_DEFINITE : code / 100 == 4 ? R_TEMP : R_NONE;
}

static void smtp_server_reply(an *a, conn *c, size_t line, double t, const smtp_reply *rep)
{
    if (c->in_data) { /* the server answers a body only after its end: the dot was summarised */
        c->in_data = 0;
        return;
    }
    pend *f = pend_front(c);
    if (!f)
        return;
    if (f->kind == P_AUTH && rep->code == 334) {
        c->auth.expect_resp = 1;
        return;
    }
    pend pd = *f;
    pend_pop(c);
    switch (pd.kind) {
    case P_EHLO:
        if (rep->code == 250)
            smtp_caps(c, rep);
        break;
    case P_HELO:
        if (rep->code == 250)
            caps_reset(c);
        break;
    case P_AUTH:
        auth_done(a, c, &pd, smtp_result(rep->code), line);
        break;
    case P_STARTTLS:
        c->st_state = rep->code == 220 ? 2 : 0;
        break;
    case P_DATA:
        if (rep->code == 354)
            c->in_data = 1;
        break;
    default:
        break;
    }
    (void)t;
}

/* ---- POP3 ----------------------------------------------------------------------------- */

static void pop3_client_unit(an *a, conn *c, size_t line, double t, const char *p, size_t n,
                             int gap)
{
    mr_slice s;
    if (normalise(a, p, n, &s) < 0)
        return;
    mr_error err;
    if (c->auth.active && c->auth.expect_resp) {
        mr_slice resp;
        int cancel = 0;
        int ok = pop3_auth_response_parse(s.p, s.n, MR_STRICT, NULL, &resp, &cancel, &err) >= 0;
        judge_sasl_response(a, c, line, t, p, n, ok, &err, gap);
        return;
    }
    int is_auth = n >= 5 && strncasecmp(p, "AUTH ", 5) == 0;
    judge_lines(a, c, 'C', line, t, p, n, is_auth, 0);
    pop3_command cmd;
    int sok = pop3_command_parse(s.p, s.n, MR_STRICT, NULL, NULL, &cmd, &err) > 0;
    judge_strict(a, c, 'C', line, t, p, n, sok, &err, "command", gap);
    pop3_limits lim = pop3_limits_default();
    lim.max_line = lim.max_auth_line = UNIT_MAX;
    if (pop3_command_parse(s.p, s.n, MR_LENIENT, &lim, NULL, &cmd, &err) <= 0) {
        pend_push(c, P_OTHER, NULL, 0, line, t, -1);
        return;
    }
    first_after_tls(a, c, line, t, pop3_verb_name(cmd.verb),
                    cmd.verb == POP3_CAPA || cmd.verb == POP3_QUIT || cmd.verb == POP3_NOOP);
    pend_kind kind = P_OTHER;
    int att = -1;
    char user[128];
    switch (cmd.verb) {
    case POP3_USER:
        kind = P_USER;
        att = c->user_attempt = attempt_new(a, c, line, t);
        copy_slice(c->user, sizeof c->user, cmd.name);
        if (c->caps_known && !c->user_capa)
            viol(a, SC_CHECK_OFFERED_MECHANISMS_ONLY, c, line, t,
                 "USER, but the server's CAPA did not list USER");
        else
            fine(a, SC_CHECK_OFFERED_MECHANISMS_ONLY, c, line, t, "USER was allowed");
        judge_username(a, c, line, t, c->user, NULL, "USER");
        break;
    case POP3_PASS:
        kind = P_PASS;
        att = c->user_attempt >= 0 ? c->user_attempt : attempt_new(a, c, line, t);
        c->user_attempt = -1;
        credential(a, c, line, t, "PASS password");
        plaintext_use(a, c, line, t, "PASS credentials");
        break;
    case POP3_APOP:
        kind = P_APOP;
        att = attempt_new(a, c, line, t);
        copy_slice(user, sizeof user, cmd.name);
        judge_username(a, c, line, t, user, NULL, "APOP");
        break;
    case POP3_AUTH:
        if (!cmd.mechanism.n) {
            kind = P_MULTI;
            break;
        }
        kind = P_AUTH;
        att = attempt_new(a, c, line, t);
        auth_begin(a, c, line, t, cmd.mechanism, cmd.has_initial_response, cmd.initial_response,
                   NULL, 0);
        break;
    case POP3_STLS:
        kind = P_STARTTLS;
        c->st_state = 1;
        c->st_line = line;
        break;
    case POP3_CAPA: kind = P_CAPA; break;
    case POP3_LIST:
    case POP3_UIDL: kind = cmd.has_msg ? P_OTHER : P_MULTI; break;
    case POP3_RETR:
    case POP3_TOP: kind = P_MULTI; break;
    default: break;
    }
    pend_push(c, kind, NULL, 0, line, t, att);
}

static int pop3_result(const pop3_response *r)
{
    if (r->status == POP3_OK)
        return R_OK;
    if (r->status != POP3_ERR)
        return R_NONE;
    if (mr_slice_eq_ci(r->code, "SYS/TEMP") || mr_slice_eq_ci(r->code, "IN-USE"))
        return R_TEMP;
    return R_DEFINITE;
}

/* One line of a multi-line body (CAPA, listings, RETR). */
static void pop3_body_line(an *a, conn *c, size_t line, double t, const char *p, size_t n,
                           int gap)
{
    judge_lines(a, c, 'S', line, t, p, n, 0, c->multi != 2);
    size_t b = body_len(p, n);
    if (b == 1 && p[0] == '.') {
        c->multi = 0;
        return;
    }
    if (c->multi != 2)
        return;
    pop3_capa cap;
    mr_error err;
    int ok = pop3_capa_parse((mr_slice){p, b}, MR_STRICT, &cap, &err) == 0;
    judge_strict(a, c, 'S', line, t, p, n, ok, &err, "CAPA line", gap);
    if (pop3_capa_parse((mr_slice){p, b}, MR_LENIENT, &cap, &err) != 0)
        return;
    if (mr_slice_eq_ci(cap.tag, "STLS")) {
        caps_starttls(c);
    } else if (mr_slice_eq_ci(cap.tag, "USER")) {
        c->user_capa = 1;
    } else if (mr_slice_eq_ci(cap.tag, "SASL")) {
        mr_slice params = cap.params, w;
        while (smtp_ehlo_param_next(&params, &w))
            caps_add_mech(c, w);
    }
}

static void pop3_server_unit(an *a, conn *c, size_t line, double t, const char *p, size_t n,
                             int gap)
{
    if (c->multi) {
        pop3_body_line(a, c, line, t, p, n, gap);
        return;
    }
    judge_lines(a, c, 'S', line, t, p, n, c->auth.active, 0);
    pop3_response r;
    mr_error err;
    int sok = pop3_response_parse(p, n, MR_STRICT, NULL, &r, &err) > 0;
    judge_strict(a, c, 'S', line, t, p, n, sok, &err, "response", gap);
    pop3_limits lim = pop3_limits_default();
    lim.max_resp_line = UNIT_MAX;
    if (pop3_response_parse(p, n, MR_LENIENT, &lim, &r, &err) <= 0)
        return;
    pend *f = pend_front(c);
    if (!f)
        return;
    if (r.status == POP3_CONT) {
        if (f->kind == P_AUTH)
            c->auth.expect_resp = 1;
        return;
    }
    pend pd = *f;
    pend_pop(c);
    switch (pd.kind) {
    case P_USER:
        if (r.status == POP3_ERR) {
            attempt_result(a, pd.attempt, pop3_result(&r), line);
            c->user_attempt = -1;
        }
        break;
    case P_PASS:
    case P_APOP:
    case P_AUTH:
        auth_done(a, c, &pd, pop3_result(&r), line);
        break;
    case P_STARTTLS:
        c->st_state = r.status == POP3_OK ? 2 : 0;
        break;
    case P_CAPA:
        if (r.status == POP3_OK) {
            caps_reset(c);
            c->multi = 2;
        }
        break;
    case P_MULTI:
        if (r.status == POP3_OK)
            c->multi = 1;
        break;
    default:
        break;
    }
}

/* ---- cutting streams into units ------------------------------------------------------- */

static size_t side_line(const side *s, size_t off, double *t)
{
    size_t line = 0;
    *t = 0;
    for (size_t i = 0; i < s->nmarks && s->marks[i].off <= off; i++) {
        line = s->marks[i].line;
        *t = s->marks[i].t;
    }
    return line;
}

static void side_consume(side *s, size_t k)
{
    s->gap = 0;
    if (!s->buf)
        return;
    if (k > s->len)
        k = s->len;
    memmove(s->buf, s->buf + k, s->len - k);
    s->len -= k;
    size_t keep = 0;
    for (size_t i = 0; i < s->nmarks; i++)
        if (s->marks[i].off <= k)
            keep = i; /* the last mark at or before k covers the new start */
    size_t j = 0;
    for (size_t i = keep; i < s->nmarks; i++) {
        s->marks[j] = s->marks[i];
        s->marks[j].off = s->marks[i].off > k ? s->marks[i].off - k : 0;
        j++;
    }
    s->nmarks = j;
    s->gap = 0;
}

static int side_append(side *s, const char *p, size_t n, size_t line, double t)
{
    if (s->nmarks == s->mcap) {
        size_t nc = s->mcap ? s->mcap * 2 : 8;
        mark *m = realloc(s->marks, nc * sizeof *m);
        if (!m)
            return -1;
        s->marks = m;
        s->mcap = nc;
    }
    if (grow(&s->buf, &s->cap, s->len + n + 1) < 0)
        return -1;
    s->marks[s->nmarks++] = (mark){s->len, line, t};
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return 0;
}

/* The length of the next line-sized unit in s, or 0 when none is complete. */
static size_t next_line(const side *s)
{
    const char *lf = memchr(s->buf, '\n', s->len);
    return lf ? (size_t)(lf - s->buf) + 1 : 0;
}

/* Dispatch one unit of dir. */
static void unit(an *a, conn *c, char dir, const char *p, size_t n, size_t line, double t,
                 int gap)
{
    if (dir == 'C') {
        if (after_starttls(a, c, line, t, p, n))
            return;
        switch (c->proto) {
        case SC_PROTO_IMAP:
            if (!(c->auth.active && c->auth.expect_resp) && !c->in_idle)
                imap_judge_item(a, c, dir, line, t, p, n);
            else
                judge_lines(a, c, dir, line, t, p, n, 0, 0);
            imap_client_unit(a, c, line, t, p, n, gap);
            break;
        case SC_PROTO_SMTP: smtp_client_unit(a, c, line, t, p, n, gap); break;
        case SC_PROTO_POP3: pop3_client_unit(a, c, line, t, p, n, gap); break;
        default: judge_lines(a, c, dir, line, t, p, n, 0, 0); break;
        }
        return;
    }
    if (c->st_state == 2 && !c->tls && !c->injected) {
        c->injected = 1;
        c->injected_line = line;
    }
    switch (c->proto) {
    case SC_PROTO_IMAP:
        imap_judge_item(a, c, dir, line, t, p, n);
        imap_server_unit(a, c, line, t, p, n, gap);
        break;
    case SC_PROTO_POP3: pop3_server_unit(a, c, line, t, p, n, gap); break;
    default: judge_lines(a, c, dir, line, t, p, n, 0, 0); break;
    }
}

/* SMTP replies span lines: frame them with the reply parser. */
static int pump_smtp_server(an *a, conn *c)
{
    side *s = &c->s;
    smtp_reply_line lines[SMTP_LINES];
    smtp_reply rep;
    smtp_reply_init(&rep, lines, SMTP_LINES);
    smtp_reply_limits lim = {UNIT_MAX};
    mr_error err;
    int r = smtp_reply_parse(s->buf, s->len, MR_LENIENT, &lim, &rep, &err);
    if (r == MR_NEED_MORE)
        return 0;
    double t;
    size_t line = side_line(s, 0, &t);
    size_t used = r > 0 ? (size_t)r : next_line(s);
    if (r == MR_ERROR && used == 0)
        used = s->len;
    judge_lines(a, c, 'S', line, t, s->buf, used, r > 0 && rep.code == 334, 0);
    if (r > 0) {
        smtp_reply_line slines[SMTP_LINES];
        smtp_reply srep;
        smtp_reply_init(&srep, slines, SMTP_LINES);
        mr_error serr;
        int ok = smtp_reply_parse(s->buf, used, MR_STRICT, NULL, &srep, &serr) == (int)used;
        if (!ok && serr.rule == NULL)
            serr = (mr_error){MR_E_TRAILING, "Reply-line", 0};
        judge_strict(a, c, 'S', line, t, s->buf, used, ok, &serr, "reply", s->gap);
        if (c->st_state == 2 && !c->tls && !c->injected) {
            c->injected = 1;
            c->injected_line = line;
        }
        smtp_server_reply(a, c, line, t, &rep);
    } else {
        judge_strict(a, c, 'S', line, t, s->buf, used, 0, &err, "reply", s->gap);
    }
    side_consume(s, used);
    return 1;
}

/* The next IMAP command item (with its literals), or a line during AUTHENTICATE/IDLE. */
static size_t next_imap(const an *a, const conn *c, const side *s, char dir)
{
    (void)a;
    if (dir == 'C' && ((c->auth.active && c->auth.expect_resp) || c->in_idle)) {
        size_t k = next_line(s);
        if (!c->in_idle || !k || imap_is_idle_done(s->buf, k, MR_LENIENT) ||
            c->auth.expect_resp)
            return k;
    }
    imap_limits lim = imap_lim(MR_LENIENT);
    mr_error err;
    int r = imap_frame_whole(dir == 'C' ? IMAP_SIDE_COMMAND : IMAP_SIDE_RESPONSE, &lim, s->buf,
                             s->len, &err);
    if (r == MR_NEED_MORE)
        return 0;
    if (r > 0)
        return (size_t)r;
    size_t k = next_line(s); /* unframeable: take one line */
    return k ? k : s->len;
}

/* Cut every complete unit out of one side. */
static void pump(an *a, conn *c, char dir)
{
    side *s = dir == 'C' ? &c->c : &c->s;
    if (s->dead)
        return;
    for (;;) {
        if (s->len == 0)
            return;
        if (c->proto == SC_PROTO_SMTP && dir == 'S') {
            if (!pump_smtp_server(a, c))
                break;
            continue;
        }
        if (s->raw_left) { /* BDAT payload: not lines */
            size_t k = s->raw_left < s->len ? (size_t)s->raw_left : s->len;
            s->raw_left -= k;
            side_consume(s, k);
            continue;
        }
        size_t k = c->proto == SC_PROTO_IMAP ? next_imap(a, c, s, dir) : next_line(s);
        if (k == 0)
            break;
        double t;
        size_t line = side_line(s, 0, &t);
        unit(a, c, dir, s->buf, k, line, t, s->gap);
        side_consume(s, k);
    }
    if (s->len > UNIT_MAX) { /* a unit without end: judge its length, drop it */
        double t;
        size_t line = side_line(s, 0, &t);
        judge_lines(a, c, dir, line, t, s->buf, s->len, 0, 0);
        side_consume(s, s->len);
        s->skip_to_lf = 1;
    }
}

/* ---- records -------------------------------------------------------------------------- */

static void rec_open(conn *c, mr_slice text)
{
    mr_slice v = kv_get(text, "proto");
    c->proto = mr_slice_eq(v, "imap") ? SC_PROTO_IMAP
               : mr_slice_eq(v, "smtp") ? SC_PROTO_SMTP
               : mr_slice_eq(v, "pop3") ? SC_PROTO_POP3
                                        : SC_PROTO_NONE;
    v = kv_get(text, "mode");
    c->mode = (mr_slice_eq(v, "implicit") || mr_slice_eq(v, "implicit-tls")) ? MODE_IMPLICIT
              : mr_slice_eq(v, "starttls")                                   ? MODE_STARTTLS
              : mr_slice_eq(v, "plain")                                      ? MODE_PLAIN
                                                                             : MODE_UNKNOWN;
    v = kv_get(text, "port");
    uint64_t port = 0;
    if (mr_parse_u64(v, 65535, &port) == 0)
        c->port = (unsigned)port;
    v = kv_get(text, "cert");
    copy_slice(c->cert, sizeof c->cert, v.n ? v : (mr_slice){"normal", 6});
    c->cert_bad = v.n && !mr_slice_eq(v, "normal");
}

static void rec_tls(an *a, conn *c, size_t line, double t, mr_slice text)
{
    if (text.n >= 2 && memcmp(text.p, "ok", 2) == 0) {
        if (c->st_state && c->c.len) {
            char b[80];
            viol(a, SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, c, line, t,
                 "%zu bytes ('%s') pipelined in plaintext after STARTTLS (line %zu)", c->c.len,
                 show(c->c.buf, c->c.len, b, sizeof b), c->st_line);
        } else if (c->st_state) {
            fine(a, SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, c, line, t,
                 "nothing pipelined after STARTTLS (line %zu)", c->st_line);
        }
        if (c->st_state && c->s.len && !c->injected) {
            c->injected = 1;
            c->injected_line = line;
        }
        if (c->mode == MODE_IMPLICIT && !c->client_spoke)
            fine(a, SC_CHECK_NO_PLAINTEXT_ON_IMPLICIT_TLS_PORT, c, line, t,
                 "TLS came first on implicit-TLS port %u", c->port);
        c->first_cmd_after_tls = c->st_state != 0;
        c->st_state = 0;
        c->tls = 1;
        c->tls_line = line;
        c->c.dead = 0;
        side_consume(&c->c, c->c.len);
        side_consume(&c->s, c->s.len);
        c->caps_known = 0; /* what was offered in plaintext no longer counts (RFC 3207 4.2) */
        c->mechs[0] = 0;
        c->auth.active = 0;
        return;
    }
    /* tls fail */
    if (c->cert_bad)
        fine(a, SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE, c, line, t,
             "the client refused the %s certificate (tls fail)", c->cert);
    mr_slice rest = text;
    if (c->mode == MODE_IMPLICIT && !c->tls &&
        (find_bytes(rest.p, rest.n, "wrong version number", 20) ||
         find_bytes(rest.p, rest.n, "http request", 12) ||
         find_bytes(rest.p, rest.n, "packet length too long", 22)))
        viol(a, SC_CHECK_NO_PLAINTEXT_ON_IMPLICIT_TLS_PORT, c, line, t,
             "the handshake failed on plaintext from the client: %.*s",
             (int)(rest.n > 120 ? 120 : rest.n), rest.p);
    c->st_state = 0;
}

static void rec_event(an *a, conn *c, size_t line, double t, mr_slice text)
{
    size_t wl = 0;
    while (wl < text.n && text.p[wl] != ' ')
        wl++;
    mr_slice name = {text.p, wl};
    mr_slice rest = {text.p + wl, text.n - wl};
    int show_n = (int)(text.n > 160 ? 160 : text.n);
    if (mr_slice_eq(name, EV_CREDENTIALS_BEFORE_TLS))
        viol(a, SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, c, line, t, "the server saw %.*s", show_n,
             text.p);
    else if (mr_slice_eq(name, EV_MECH_NOT_OFFERED))
        viol(a, SC_CHECK_OFFERED_MECHANISMS_ONLY, c, line, t, "the server saw %.*s", show_n,
             text.p);
    else if (mr_slice_eq(name, EV_STARTTLS_DISCARDED) || mr_slice_eq(name, EV_STARTTLS_KEPT) ||
             mr_slice_eq(name, EV_STARTTLS_ACCEPTED))
        viol(a, SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, c, line, t,
             "the client pipelined plaintext after STARTTLS (%.*s)", show_n, text.p);
    else if (mr_slice_eq(name, EV_TLS_ON_STARTTLS_PORT) || mr_slice_eq(name, EV_TLS_ON_PLAIN_PORT))
        viol(a, SC_CHECK_NO_IMPLICIT_TLS_ON_STARTTLS_PORT, c, line, t,
             "the client opened with a TLS ClientHello on port %u (%.*s)", c->port, show_n,
             text.p);
    else if (mr_slice_eq(name, EV_PLAINTEXT_ON_TLS_PORT))
        viol(a, SC_CHECK_NO_PLAINTEXT_ON_IMPLICIT_TLS_PORT, c, line, t,
             "the client sent plaintext to implicit-TLS port %u (%.*s)", c->port, show_n, text.p);
    else if (mr_slice_eq(name, EV_STRICT_VIOLATION) && a->judged_dir == 'C')
        viol(a, SC_CHECK_STRICT_SYNTAX, c, line, t, "the server's strict parser refused a command (%.*s)",
             show_n, text.p);
    else if (mr_slice_eq(name, EV_LINE_TOO_LONG) && a->judged_dir == 'C' && a->max_line == 0)
        viol(a, SC_CHECK_MAX_LINE_LENGTH, c, line, t, "the server saw %.*s", show_n, text.p);
    else if (name.n > strlen(EV_AUTH_PREFIX) &&
             memcmp(name.p, EV_AUTH_PREFIX, strlen(EV_AUTH_PREFIX)) == 0) {
        mr_slice form = kv_get(rest, "form"), exp = kv_get(rest, "expected"),
                 user = kv_get(rest, "user");
        char f[16], e[16], u[128];
        copy_slice(f, sizeof f, form);
        copy_slice(e, sizeof e, exp);
        copy_slice(u, sizeof u, user);
        int wrong = mr_slice_eq(name, EV_AUTH_PREFIX "wrong-username-form");
        const char *req = forms_required(a, c, exp.n && !mr_slice_eq(exp, "-") ? e : NULL);
        if (form.n && req && !form_in(f, req))
            viol(a, SC_CHECK_USERNAME_FORM, c, line, t, "user '%s' has the %s form; %s wants %s",
                 u, f, sc_proto_name(c->proto), req);
        else if (wrong && (!a->form || strcmp(a->form, "profile") == 0))
            viol(a, SC_CHECK_USERNAME_FORM, c, line, t, "the server refused user '%s': %.*s", u,
                 (int)name.n, name.p);
        else if (form.n && req)
            fine(a, SC_CHECK_USERNAME_FORM, c, line, t, "user '%s' has the %s form", u, f);
    }
}

static void rec_data(an *a, conn *c, const transcript_rec *rec, size_t line, const char *p,
                     size_t n)
{
    char dir = rec->dir;
    side *s = dir == 'C' ? &c->c : &c->s;
    if (dir == 'C' && n) {
        if (!c->client_spoke && !c->tls && (c->mode == MODE_STARTTLS || c->mode == MODE_PLAIN)) {
            tlssniff_kind k = tlssniff_classify(p, n, 1);
            if (k == TLSSNIFF_TLS_HELLO || k == TLSSNIFF_SSL2_HELLO) {
                viol(a, SC_CHECK_NO_IMPLICIT_TLS_ON_STARTTLS_PORT, c, line, rec->time,
                     "the client opened with a TLS ClientHello on plaintext-first port %u",
                     c->port);
                s->dead = 1;
            } else {
                fine(a, SC_CHECK_NO_IMPLICIT_TLS_ON_STARTTLS_PORT, c, line, rec->time,
                     "the client spoke plaintext first on port %u", c->port);
            }
        }
        if (!c->tls && c->mode == MODE_IMPLICIT && !c->client_spoke)
            viol(a, SC_CHECK_NO_PLAINTEXT_ON_IMPLICIT_TLS_PORT, c, line, rec->time,
                 "the client sent plaintext to implicit-TLS port %u before any handshake",
                 c->port);
        if (c->tls && c->cert_bad && !c->bad_cert_reported) {
            c->bad_cert_reported = 1;
            viol(a, SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE, c, line, rec->time,
                 "the client accepted the %s certificate (handshake at line %zu) and sent data",
                 c->cert, c->tls_line);
        }
        c->client_spoke = 1;
        /* After the server accepted STARTTLS, a ClientHello is the handshake starting, not
         * plaintext: the transcript has no `tls` record when the peer (a scripted server)
         * never answers it, and everything from here on is TLS, not protocol units. */
        if (c->st_state == 2 && !c->tls && s->len == 0 &&
            tlssniff_classify(p, n, 1) == TLSSNIFF_TLS_HELLO) {
            fine(a, SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, c, line, rec->time,
                 "the client began the TLS handshake right after the STARTTLS reply (line %zu)",
                 c->st_line);
            s->dead = 1;
        }
    }
    if (s->dead)
        return;
    if (s->skip_to_lf) {
        const char *lf = memchr(p, '\n', n);
        if (!lf)
            return;
        s->skip_to_lf = 0;
        n -= (size_t)(lf - p) + 1;
        p = lf + 1;
    }
    /* imapd writes a redacted literal payload as "<redacted>" whatever its announced size */
    if (c->proto == SC_PROTO_IMAP && n >= REDACTED_LEN && memcmp(p, REDACTED, REDACTED_LEN) == 0 &&
        s->len && s->buf[s->len - 1] == '\n' &&
        imap_set_marker(s, (unsigned)sizeof PLACEHOLDER - 1)) {
        /* keep the item framed: the placeholder, with a marker announcing its size */
        s->gap = 1;
        if (side_append(s, PLACEHOLDER, sizeof PLACEHOLDER - 1, line, rec->time) < 0)
            return;
        p += REDACTED_LEN;
        n -= REDACTED_LEN;
    }
    if (side_append(s, p, n, line, rec->time) < 0)
        return;
    pump(a, c, dir);
}

static void rec_summary(an *a, conn *c, const transcript_rec *rec, size_t line)
{
    side *s = rec->dir == 'C' ? &c->c : &c->s;
    if (rec->dir == 'C') {
        c->client_spoke = 1;
        if (c->tls && c->cert_bad && !c->bad_cert_reported) {
            c->bad_cert_reported = 1;
            viol(a, SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE, c, line, rec->time,
                 "the client accepted the %s certificate and sent data", c->cert);
        }
    }
    if (s->raw_left) {
        s->raw_left = rec->length < s->raw_left ? s->raw_left - rec->length : 0;
        return;
    }
    if (c->proto == SC_PROTO_IMAP)
        imap_set_marker(s, 0);
    s->gap = 1;
    pump(a, c, rec->dir);
}

static void rec_close(an *a, conn *c, size_t line, double t)
{
    if (c->cert_bad && c->tls && !c->bad_cert_reported)
        fine(a, SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE, c, line, t,
             "the handshake with the %s certificate completed, but the client sent nothing "
             "and left",
             c->cert);
    c->st_state = 0;
}

static int record(an *a, const char *p, size_t n, size_t lineno)
{
    transcript_rec rec;
    mr_error err;
    if (transcript_parse(p, n, &rec, &err) != 0) {
        snprintf(a->read_error_buf, sizeof a->read_error_buf,
                 "the transcript cannot be read: line %zu, byte %zu: %s (%s)", lineno,
                 err.offset + 1, mr_errcode_str(err.code), err.rule ? err.rule : "-");
        a->read_error = a->read_error_buf;
        return -1;
    }
    conn *c = conn_get(a, rec.conn);
    if (!c)
        return -1;
    switch (rec.kind) {
    case TR_OPEN: rec_open(c, rec.text); break;
    case TR_TLS: rec_tls(a, c, lineno, rec.time, rec.text); break;
    case TR_CLOSE: rec_close(a, c, lineno, rec.time); break;
    case TR_EVENT: rec_event(a, c, lineno, rec.time, rec.text); break;
    case TR_NOTE: break;
    case TR_DATA_SUMMARY: rec_summary(a, c, &rec, lineno); break;
    case TR_DATA_LINE:
    case TR_DATA_RAW: {
        if (grow(&a->scratch, &a->scap, rec.text.n + 3) < 0)
            return -1;
        long k = transcript_unescape(&rec, a->scratch, a->scap, &err);
        if (k < 0) {
            snprintf(a->read_error_buf, sizeof a->read_error_buf,
                     "the transcript cannot be read: line %zu: bad escape in data", lineno);
            a->read_error = a->read_error_buf;
            return -1;
        }
        rec_data(a, c, &rec, lineno, a->scratch, (size_t)k);
        break;
    }
    }
    return 0;
}

/* ---- max-auth-retries, after the walk ------------------------------------------------- */

static int att_cmp(const void *x, const void *y)
{
    const attempt *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line;
}

static void judge_retries(an *a)
{
    if (a->natt == 0)
        return;
    qsort(a->att, a->natt, sizeof *a->att, att_cmp);
    long retries = 0;
    int failed = 0;
    size_t fail_line = 0;
    for (size_t i = 0; i < a->natt; i++) {
        attempt *x = &a->att[i];
        conn tmp = {.id = x->conn};
        if (failed) {
            retries++;
            if (retries > a->max_retries)
                viol(a, SC_CHECK_MAX_AUTH_RETRIES, &tmp, x->line, x->t,
                     "authentication retry %ld after the definite failure at line %zu "
                     "(%ld allowed)",
                     retries, fail_line, a->max_retries);
            else
                fine(a, SC_CHECK_MAX_AUTH_RETRIES, &tmp, x->line, x->t,
                     "retry %ld of %ld allowed after the failure at line %zu", retries,
                     a->max_retries, fail_line);
        } else {
            fine(a, SC_CHECK_MAX_AUTH_RETRIES, &tmp, x->line, x->t,
                 "authentication attempt %s", x->result == R_TEMP ? "failed temporarily"
                                               : x->result == R_OK ? "succeeded"
                                               : x->result == R_DEFINITE ? "failed"
                                                                         : "made");
        }
        if (x->result == R_DEFINITE && !failed) {
            failed = 1;
            fail_line = x->result_line;
        } else if (x->result == R_OK) {
            failed = 0;
            retries = 0;
        }
    }
}

/* ---- the entry point ------------------------------------------------------------------ */

static const char *nothing_to_judge(sc_check_id id)
{
    switch (id) {
    case SC_CHECK_NO_CREDENTIALS_BEFORE_TLS: return "the client sent no credentials";
    case SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS: return "the client never used STARTTLS";
    case SC_CHECK_NO_STARTTLS_STRIPPING: return "the client sent no credentials and no mail";
    case SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE:
        return "no connection presented an untrusted, wrong-host or expired certificate";
    case SC_CHECK_NO_IMPLICIT_TLS_ON_STARTTLS_PORT: return "no TLS ClientHello on a plaintext port";
    case SC_CHECK_NO_PLAINTEXT_ON_IMPLICIT_TLS_PORT: return "no plaintext on an implicit-TLS port";
    case SC_CHECK_OFFERED_MECHANISMS_ONLY: return "the client did not authenticate";
    case SC_CHECK_USERNAME_FORM: return "the client did not log in";
    case SC_CHECK_MAX_AUTH_RETRIES: return "the client did not authenticate";
    case SC_CHECK_NO_BARE_LF: return "no complete line to judge";
    case SC_CHECK_MAX_LINE_LENGTH: return "no line to judge";
    case SC_CHECK_STRICT_SYNTAX: return "nothing to parse";
    default: return "nothing to judge";
    }
}

static const char *param(const sc_check_param *params, size_t n, const char *key, long *num)
{
    for (size_t i = 0; i < n; i++)
        if (params[i].key && strcmp(params[i].key, key) == 0) {
            if (num)
                *num = params[i].number;
            return params[i].value ? params[i].value : "";
        }
    return NULL;
}

static void an_free(an *a)
{
    for (size_t i = 0; i < a->ccap; i++)
        if (a->conns[i]) {
            side_free(&a->conns[i]->c);
            side_free(&a->conns[i]->s);
            free(a->conns[i]);
        }
    free(a->conns);
    free(a->att);
    free(a->scratch);
    free(a->norm);
    free(a->toks);
}

/* Take each parameter of the check from params, else from the table's default. */
static int setup(an *a, sc_check_id id, const sc_check_param *params, size_t nparams,
                 const check_ctx *ctx, char *reason, size_t cap)
{
    memset(a, 0, sizeof *a);
    a->ctx = ctx;
    int both = sc_checks[id].roles & SC_CHECK_ROLE_CLIENT;
    a->judged_dir = both && ctx && ctx->role == SC_ROLE_CLIENT ? 'S' : 'C';
    for (int i = 0; i < SC_CHECK_MAX_PARAMS && sc_checks[id].params[i].key; i++) {
        const sc_check_param_def *d = &sc_checks[id].params[i];
        long num = 0;
        const char *v = param(params, nparams, d->key, &num);
        if (!v && !d->def) {
            snprintf(reason, cap, "check %s needs the parameter %s=", sc_checks[id].name, d->key);
            return -1;
        }
        if (!v) {
            v = d->def;
            num = strtol(d->def, NULL, 10);
        }
        if (strcmp(d->key, "n") == 0 && id == SC_CHECK_MAX_LINE_LENGTH)
            a->max_line = num;
        else if (strcmp(d->key, "n") == 0)
            a->max_retries = num;
        else if (strcmp(d->key, "form") == 0)
            a->form = v;
    }
    a->toks = malloc(IMAP_TOKS * sizeof *a->toks);
    if (!a->toks) {
        snprintf(reason, cap, "out of memory");
        return -1;
    }
    return 0;
}

static void walk(an *a, const char *text, size_t n)
{
    size_t lineno = 0;
    for (size_t i = 0; i < n && !a->read_error;) {
        const char *lf = memchr(text + i, '\n', n - i);
        size_t e = lf ? (size_t)(lf - text) : n;
        lineno++;
        if (e > i && record(a, text + i, e - i, lineno) < 0 && !a->read_error) {
            a->read_error = "out of memory while reading the transcript";
            break;
        }
        i = e + 1;
    }
    for (size_t i = 0; i < a->ccap && !a->read_error; i++)
        if (a->conns[i] && a->conns[i]->cert_bad && a->conns[i]->tls &&
            !a->conns[i]->bad_cert_reported && a->v[SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE].judged == 0)
            fine(a, SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE, a->conns[i], a->conns[i]->tls_line, 0,
                 "the handshake with the %s certificate completed, but the client sent nothing",
                 a->conns[i]->cert);
    judge_retries(a);
}

int check_eval(sc_check_id id, const sc_check_param *params, size_t nparams,
               const check_ctx *ctx, const char *text, size_t n, char *reason, size_t cap)
{
    char dummy[8];
    if (!reason || cap == 0) {
        reason = dummy;
        cap = sizeof dummy;
    }
    reason[0] = 0;
    if ((unsigned)id >= SC_CHECK__COUNT) {
        snprintf(reason, cap, "unknown check %d", (int)id);
        return 0;
    }
    an a;
    if (setup(&a, id, params, nparams, ctx, reason, cap) < 0) {
        an_free(&a);
        return 0;
    }
    walk(&a, text ? text : "", text ? n : 0);
    int passed;
    const verdict *v = &a.v[id];
    if (a.read_error) {
        snprintf(reason, cap, "%s", a.read_error);
        passed = 0;
    } else if (v->bad) {
        if (v->bad > 1)
            snprintf(reason, cap, "%s (and %u more)", v->first, v->bad - 1);
        else
            snprintf(reason, cap, "%s", v->first);
        passed = 0;
    } else if (v->judged == 0 && v->skipped && id == SC_CHECK_USERNAME_FORM) {
        snprintf(reason, cap, "cannot judge: %s", v->skip);
        passed = 0;
    } else if (v->judged) {
        if (v->judged > 1)
            snprintf(reason, cap, "%u judged, all fine; last: %s", v->judged, v->good);
        else
            snprintf(reason, cap, "%s", v->good);
        passed = 1;
    } else {
        snprintf(reason, cap, "nothing to judge: %s (%zu connection%s)", nothing_to_judge(id),
                 a.nconns, a.nconns == 1 ? "" : "s");
        passed = 1;
    }
    an_free(&a);
    return passed;
}
