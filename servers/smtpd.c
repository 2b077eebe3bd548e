/* smtpd.c -- see smtpd.h.
 *
 * Layout (OpenSMTPD's smtp_session.c and curl's pingpong, in our words):
 *   - one enum state and ONE transition function, enter(), with a names table;
 *   - a command table indexed by verb: flags for the common checks (EHLO first, AUTH first on
 *     a submission listener), then the row's check (state and syntax: replies and returns 0
 *     when it refuses) and proceed (the action);
 *   - input() feeds whole items to the handler of the current state: a command line, an AUTH
 *     response line, a run of DATA, a piece of a BDAT chunk, the rest of an over-long line.
 */
#include "servers/smtpd.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/base64.h"
#include "proto/dotstream.h"
#include "proto/mime.h"
#include "proto/sasl.h"
#include "proto/sasl_oauth.h"
#include "proto/sasl_redact.h"
#include "proto/smtp_command.h"
#include "servers/events.h"
#include "servers/mock.h"
#include "servers/profile.h"
#include "servers/sasl_server.h"
#include "servers/session_util.h"
#include "servers/store.h"

/* ---- states ------------------------------------------------------------------------------ */

typedef enum smtpd_state {
    SM_CONNECTED, /* banner sent; no EHLO/HELO yet (also right after STARTTLS) */
    SM_READY,     /* EHLO/HELO done, no mail transaction */
    SM_MAIL,      /* MAIL accepted: RCPT, DATA, BDAT */
    SM_AUTH,      /* inside an AUTH exchange: the next line is a SASL response */
    SM_DATA,      /* reading a DATA body */
    SM_BDAT,      /* reading a BDAT chunk */
    SM_SKIP,      /* discarding the rest of an over-long line */
    SM_TLS,       /* STARTTLS answered: nothing is consumed until the handshake is done */
    SM_SILENT,    /* a TLS ClientHello arrived and the profile says: ignore it */
    SM_CLOSED,    /* QUIT or a fatal error: nothing more is consumed */
    SM__COUNT
} smtpd_state;

static const char *const state_names[SM__COUNT] = {
    [SM_CONNECTED] = "CONNECTED", [SM_READY] = "READY", [SM_MAIL] = "MAIL",
    [SM_AUTH] = "AUTH",           [SM_DATA] = "DATA",   [SM_BDAT] = "BDAT",
    [SM_SKIP] = "SKIP",           [SM_TLS] = "TLS",     [SM_SILENT] = "SILENT",
    [SM_CLOSED] = "CLOSED",
};

/* ---- per-command state ------------------------------------------------------------------- */

enum { PATH_MAX_TEXT = 512 };

/* A mail transaction: from MAIL to the end of DATA / BDAT LAST, RSET, EHLO or STARTTLS. */
typedef struct smtp_tx {
    char from[PATH_MAX_TEXT];   /* the reverse-path, local@domain; "" for <> */
    uint8_t null_sender;
    uint8_t smtputf8;           /* MAIL carried SMTPUTF8 */
    uint8_t binary;             /* BODY=BINARYMIME: BDAT only */
    uint8_t bdat;               /* a BDAT chunk was taken: DATA is out of sequence */
    uint8_t too_big;            /* the content passed the size limit: read on, then refuse */
    unsigned nrcpt;             /* recipients accepted, local and relayed */
    uint64_t local;             /* bit i: profile account i is a recipient */
    char *msg;                  /* trace header fields + the content received so far */
    size_t len, cap;
    uint64_t content;           /* content octets received */
    dot_reader dot;             /* DATA */
    uint64_t chunk_left;        /* BDAT: bytes of this chunk still to read */
    uint64_t chunk_size;
    uint8_t chunk_last;
    uint8_t tc_ready;           /* tc holds the connection's template values */
    template_conn tc;           /* kept while the transaction runs: computed once per message */
} smtp_tx;

typedef struct smtpd {
    session base;
    const mock_listener *ml;
    const profile *p;
    smtpd_state state;
    smtpd_state resume;         /* SM_SKIP returns here */
    uint8_t debug;
    sess_admission adm;         /* counted against max_connections */
    uint8_t first_seen;         /* the first bytes were classified */
    uint8_t esmtp;              /* the hello was EHLO */
    uint8_t smtputf8_offered;   /* SMTPUTF8 is an EHLO keyword of the profile */
    uint32_t hello_left;        /* bytes of a TLS ClientHello record still to skip */
    unsigned errors;            /* bad commands (max_errors) */
    unsigned auth_failures;     /* credential failures (max_auth_failures) */
    unsigned auth_attempts;
    int64_t start_ms;
    size_t scanned;             /* mr_line_next resume hint for the line being read */
    const profile_account *account; /* after a successful AUTH */
    char *helo;                 /* the EHLO/HELO argument */
    smtp_tx *tx;
    sasl_exchange *auth;        /* an AUTH exchange in progress */
    /* valid during one call into the session: the connection's template values */
    template_conn *tc;
    uint8_t tc_ready;
    smtp_verb verb;             /* the command being answered */
    mr_slice line;              /* its line, for {text} */
} smtpd;

/* ---- transitions and small helpers --------------------------------------------------------- */

static void enter(smtpd *s, smtpd_state to)
{
    if (s->state == to)
        return;
    if (s->debug) {
        char ev[96];
        snprintf(ev, sizeof ev, "smtp-state from=%s to=%s", state_names[s->state], state_names[to]);
        s->base.io->event(s->base.io->ctx, ev);
    }
    s->state = to;
}

static const session_io *io_of(smtpd *s)
{
    return s->base.io;
}

static void event(smtpd *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event(smtpd *s, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    io_of(s)->event(io_of(s)->ctx, text);
}

static void report(smtpd *s, const char *p, size_t n, int payload)
{
    if (n)
        io_of(s)->client_data(io_of(s)->ctx, p, n, payload);
}

static int tls_on(const smtpd *s)
{
    return s->base.info->tls_active != 0;
}

/* The connection's template values, in the buffer of the current call. They are a function of
 * (seed, connection, start time), so they are computed at most once per call -- and copied
 * from the transaction, which keeps them while it runs, rather than computed again. */
static const template_conn *conn_values(smtpd *s)
{
    if (s->tc_ready)
        return s->tc;
    if (s->tx && s->tx->tc_ready) {
        memcpy(s->tc, &s->tx->tc, sizeof *s->tc);
    } else {
        char ip[64];
        sess_peer_ip(s->base.info, ip, sizeof ip);
        if (profile_conn_init(s->p, s->ml->pl, s->ml->seed, s->base.info->conn_id, ip, s->start_ms,
                              s->tc) != 0)
            profile_conn_init(s->p, s->ml->pl, s->ml->seed, s->base.info->conn_id, "", s->start_ms, s->tc);
        if (s->tx) {
            memcpy(&s->tx->tc, s->tc, sizeof *s->tc);
            s->tx->tc_ready = 1;
        }
    }
    s->tc_ready = 1;
    return s->tc;
}

/* Template values for a reply: every context placeholder an SMTP template may use gets a
 * value ("" when there is nothing better), so an expansion never lacks one. */
typedef struct reply_vals {
    template_vars v;
    char text[160];
    char size[24];
} reply_vals;

static void vals_init(smtpd *s, reply_vals *r)
{
    memset(r, 0, sizeof *r);
    r->v.conn = conn_values(s);
    r->v.now_ms = sess_now_ms();
    for (int i = TPL_TAG; i < TPL_VAR_COUNT; i++)
        r->v.v[i] = "";
    r->v.v[TPL_COMMAND] = s->verb ? smtp_verb_name(s->verb) : "";
    sess_text(s->line.p, s->line.n, r->text, sizeof r->text);
    r->v.v[TPL_TEXT] = r->text;
    if (s->account) {
        r->v.v[TPL_USER] = s->account->email;
        r->v.v[TPL_EMAIL] = s->account->email;
    }
    if (s->tx)
        r->v.v[TPL_FROM] = s->tx->from;
    r->v.v[TPL_SIZE] = "0";
    r->v.v[TPL_N] = "0";
}

static void say(smtpd *s, const template *t, reply_vals *r)
{
    reply_vals local;
    if (!r) {
        vals_init(s, &local);
        r = &local;
    }
    sess_reply(io_of(s), t, &r->v);
}

static void close_with(smtpd *s, const char *reason)
{
    io_of(s)->close(io_of(s)->ctx, reason);
    enter(s, SM_CLOSED);
}

/* A bad command: its reply, then too_many_errors and close once max_errors is reached. */
static void bad(smtpd *s, const template *t, reply_vals *r)
{
    say(s, t, r);
    s->errors++;
    if (s->p->smtp.max_errors && s->errors >= s->p->smtp.max_errors && s->state != SM_CLOSED) {
        event(s, "too-many-errors errors=%u", s->errors);
        say(s, s->p->smtp.r.too_many_errors, NULL);
        close_with(s, "too-many-errors");
    }
}

static void tx_free(smtpd *s)
{
    if (!s->tx)
        return;
    free(s->tx->msg);
    free(s->tx);
    s->tx = NULL;
}

static void auth_free(smtpd *s)
{
    if (!s->auth)
        return;
    sasl_exchange_clear(s->auth); /* the user name and challenge */
    free(s->auth);
    s->auth = NULL;
}

/* Back to "ready" (or "connected" without a hello), the transaction gone. */
static void reset_tx(smtpd *s)
{
    tx_free(s);
    enter(s, s->helo ? SM_READY : SM_CONNECTED);
}

static int auth_listener(const smtpd *s)
{
    return s->ml->pl->auth;
}

/* ---- the message buffer ------------------------------------------------------------------- */

static size_t message_cap(const smtpd *s)
{
    uint64_t lim = s->p->smtp.size_limit;
    return lim && lim < SMTPD_MAX_MESSAGE ? (size_t)lim : SMTPD_MAX_MESSAGE;
}

static int msg_append(smtp_tx *tx, const char *p, size_t n)
{
    if (tx->len + n > tx->cap) {
        size_t cap = tx->cap ? tx->cap : 4096;
        while (cap < tx->len + n)
            cap *= 2;
        char *m = realloc(tx->msg, cap);
        if (!m)
            return -1;
        tx->msg = m;
        tx->cap = cap;
    }
    memcpy(tx->msg + tx->len, p, n);
    tx->len += n;
    return 0;
}

/* Content bytes of the message: kept while under the limits, else only counted. */
static void msg_content(smtpd *s, const char *p, size_t n)
{
    smtp_tx *tx = s->tx;
    tx->content += n;
    if (tx->too_big)
        return;
    if (tx->content > message_cap(s) || msg_append(tx, p, n) != 0) {
        tx->too_big = 1;
        free(tx->msg);
        tx->msg = NULL;
        tx->len = tx->cap = 0;
    }
}

/* Return-Path (RFC 5321 4.4) and Received (RFC 5321 4.4, RFC 3848 "with" keywords). */
static void msg_trace(smtpd *s)
{
    const template_conn *c = conn_values(s);
    char helo[128], date[64], buf[768];
    sess_text(s->helo ? s->helo : "", s->helo ? strlen(s->helo) : 0, helo, sizeof helo);
    template_format_date(sess_now_ms(), date, sizeof date);
    const char *with = !s->esmtp ? "SMTP"
                       : tls_on(s) ? (s->account ? "ESMTPSA" : "ESMTPS")
                                   : (s->account ? "ESMTPA" : "ESMTP");
    int n = snprintf(buf, sizeof buf,
                     "Return-Path: <%s>\r\nReceived: from %s ([%s])\r\n\tby %s with %s id %s;\r\n\t%s\r\n",
                     s->tx->from, helo, c->client_ip, c->host[0] ? c->host : "localhost", with,
                     c->hex16, date);
    if (n > 0 && (size_t)n < sizeof buf && msg_append(s->tx, buf, (size_t)n) != 0)
        s->tx->too_big = 1;
}

/* ---- line reading ------------------------------------------------------------------------- */

static size_t line_limit(const smtpd *s, const char *p, size_t n)
{
    int is_auth = s->state == SM_AUTH || (n >= 5 && strncasecmp(p, "AUTH ", 5) == 0);
    return is_auth ? s->p->smtp.s.max_auth_line : s->p->smtp.s.max_line;
}

/* A line over the limit: answer, then skip to its end. Returns the bytes consumed. */
static size_t too_long(smtpd *s, const char *p, size_t n, size_t limit)
{
    const char *lf = memchr(p, '\n', n);
    size_t used = lf ? (size_t)(lf - p) + 1 : n;
    int secret = s->state == SM_AUTH || (n >= 5 && strncasecmp(p, "AUTH ", 5) == 0);
    if (secret)
        report(s, "<redacted>", 10, 1);
    else
        report(s, p, used, 1);
    event(s, EV_LINE_TOO_LONG " limit=%zu", limit);
    s->scanned = 0;
    smtpd_state back = s->state;
    if (back == SM_AUTH) {
        auth_free(s);
        back = SM_READY;
    }
    s->line = (mr_slice){"", 0};
    if (!lf) {
        s->resume = back;
        enter(s, SM_SKIP);
    } else {
        enter(s, back);
    }
    bad(s, s->p->smtp.r.line_too_long, NULL);
    return used;
}

static size_t skip_input(smtpd *s, const char *p, size_t n)
{
    const char *lf = memchr(p, '\n', n);
    size_t used = lf ? (size_t)(lf - p) + 1 : n;
    report(s, s->resume == SM_AUTH ? "<redacted>" : p, s->resume == SM_AUTH ? 10 : used, 1);
    if (lf)
        enter(s, s->resume);
    return used;
}

/* ---- EHLO keywords ------------------------------------------------------------------------- */

static int profile_has_keyword(const profile *p, const char *kw)
{
    const profile_caps *caps = &p->smtp.s.caps;
    for (size_t i = 0; i < caps->n; i++)
        if (caps->v[i].kind == PROFILE_CAP_TEXT &&
            strcasecmp(template_source(caps->v[i].text), kw) == 0)
            return 1;
    return 0;
}

/* ---- the commands --------------------------------------------------------------------------- */

typedef struct smtpd_cmd {
    unsigned flags;
    int (*check)(smtpd *s, const smtp_command *c);
    void (*proceed)(smtpd *s, const smtp_command *c);
} smtpd_cmd;

enum {
    CMD_KNOWN = 1,  /* a row is there */
    CMD_HELLO = 2,  /* needs EHLO/HELO first (need_hello) */
    CMD_AUTH = 4,   /* needs AUTH first on a listener that takes AUTH (auth_required) */
};

static profile_offer offer_now(const smtpd *s)
{
    return profile_offer_now(s->p, PROFILE_SMTP, s->ml->pl, tls_on(s));
}

static void do_ehlo(smtpd *s, const smtp_command *c)
{
    free(s->helo);
    s->helo = strndup(c->domain.p, c->domain.n > 255 ? 255 : c->domain.n);
    s->esmtp = c->verb == SMTP_EHLO;
    tx_free(s);
    enter(s, s->helo ? SM_READY : SM_CONNECTED);
    reply_vals r;
    vals_init(s, &r);
    sess_text(c->domain.p, c->domain.n, r.text, sizeof r.text);
    if (c->verb == SMTP_HELO) {
        say(s, s->p->smtp.r.helo, &r);
        return;
    }
    /* 250-<hello line>, then one keyword per line, the last with "250 " */
    profile_offer o = offer_now(s);
    const profile_caps *caps = &s->p->smtp.s.caps;
    char out[8192];
    size_t at = 0;
    char item[SESS_MAX_REPLY + 1];
    int n = template_expand(s->p->smtp.r.ehlo_hello, &r.v, item, sizeof item);
    if (n < 0)
        abort(); /* the profile allows only what vals_init gives */
    if ((size_t)n >= sizeof item)
        n = (int)sizeof item - 1;
    size_t last_start = 0;
    at += (size_t)snprintf(out + at, sizeof out - at, "250-%.*s\r\n", n, item);
    for (size_t i = 0; i < caps->n; i++) {
        int k = profile_caps_item(PROFILE_SMTP, caps, i, &o, &r.v, item, sizeof item);
        if (k <= 0)
            continue;
        if ((size_t)k >= sizeof item)
            k = (int)sizeof item - 1;
        if (at + (size_t)k + 8 > sizeof out)
            break;
        last_start = at;
        at += (size_t)snprintf(out + at, sizeof out - at, "250-%.*s\r\n", k, item);
    }
    out[last_start + 3] = ' '; /* the last line (the hello line when there is no keyword) */
    io_of(s)->send(io_of(s)->ctx, out, at);
}

static int check_starttls(smtpd *s, const smtp_command *c)
{
    (void)c;
    if (!offer_now(s).starttls) {
        bad(s, s->p->smtp.r.starttls_unavailable, NULL);
        return 0;
    }
    return 1;
}

static void do_starttls(smtpd *s, const smtp_command *c)
{
    (void)c;
    say(s, s->p->smtp.r.starttls_ok, NULL);
    auth_free(s);
    tx_free(s);
    enter(s, SM_TLS);
    io_of(s)->start_tls(io_of(s)->ctx);
}

/* MAIL and RCPT parameters the lenient parser let through unchecked. */
static int params_ok(const smtp_command *c)
{
    for (size_t i = 0; i < c->nparams; i++) {
        const smtp_param *prm = &c->params[i];
        uint64_t v;
        if (c->verb == SMTP_MAIL) {
            if (mr_slice_eq_ci(prm->keyword, "SIZE")) {
                if (!prm->has_value || mr_parse_u64(prm->value, UINT64_MAX, &v))
                    return 0;
            } else if (mr_slice_eq_ci(prm->keyword, "BODY")) {
                if (!prm->has_value || !(mr_slice_eq_ci(prm->value, "7BIT") ||
                                         mr_slice_eq_ci(prm->value, "8BITMIME") ||
                                         mr_slice_eq_ci(prm->value, "BINARYMIME")))
                    return 0;
            } else if (!(mr_slice_eq_ci(prm->keyword, "SMTPUTF8") ||
                         mr_slice_eq_ci(prm->keyword, "AUTH") || mr_slice_eq_ci(prm->keyword, "RET") ||
                         mr_slice_eq_ci(prm->keyword, "ENVID") ||
                         mr_slice_eq_ci(prm->keyword, "REQUIRETLS"))) {
                return 0; /* RFC 5321 4.1.1.11: an unknown parameter gets 555 (syntax_error) */
            }
        } else if (!(mr_slice_eq_ci(prm->keyword, "NOTIFY") || mr_slice_eq_ci(prm->keyword, "ORCPT"))) {
            return 0;
        }
    }
    return 1;
}

/* "local@domain" of a path into out; returns its length or -1 when it does not fit. */
static int path_text(const smtp_path *path, char *out, size_t cap)
{
    if (path->null_path) {
        out[0] = '\0';
        return 0;
    }
    int n = path->domain.n ? snprintf(out, cap, "%.*s@%.*s", (int)path->local.n, path->local.p,
                                      (int)path->domain.n, path->domain.p)
                           : snprintf(out, cap, "%.*s", (int)path->local.n, path->local.p);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static int check_mail(smtpd *s, const smtp_command *c)
{
    if (s->tx) {
        bad(s, s->p->smtp.r.bad_sequence, NULL);
        return 0;
    }
    if (!params_ok(c)) {
        bad(s, s->p->smtp.r.syntax_error, NULL);
        return 0;
    }
    const smtp_param *size = smtp_command_param(c, "SIZE");
    uint64_t announced = 0;
    if (size && mr_parse_u64(size->value, UINT64_MAX, &announced) == 0 &&
        s->p->smtp.size_limit && announced > s->p->smtp.size_limit) {
        reply_vals r;
        vals_init(s, &r);
        snprintf(r.size, sizeof r.size, "%" PRIu64, announced);
        r.v.v[TPL_SIZE] = r.size;
        say(s, s->p->smtp.r.size_exceeded, &r);
        return 0;
    }
    return 1;
}

static void do_mail(smtpd *s, const smtp_command *c)
{
    smtp_tx *tx = calloc(1, sizeof *tx);
    if (!tx || path_text(&c->path, tx->from, sizeof tx->from) < 0) {
        free(tx);
        bad(s, s->p->smtp.r.syntax_error, NULL);
        return;
    }
    tx->null_sender = c->path.null_path;
    tx->smtputf8 = smtp_command_param(c, "SMTPUTF8") != NULL;
    const smtp_param *body = smtp_command_param(c, "BODY");
    tx->binary = body && mr_slice_eq_ci(body->value, "BINARYMIME");
    if (s->p->smtp.sender_check == PROFILE_SENDER_MAIL && s->account && !tx->null_sender &&
        !profile_account_owns(s->account, tx->from, strlen(tx->from))) {
        reply_vals r;
        vals_init(s, &r);
        r.v.v[TPL_FROM] = tx->from;
        event(s, "sender-denied at=mail");
        say(s, s->p->smtp.r.sender_denied, &r);
        free(tx);
        return;
    }
    s->tx = tx;
    if (s->tc_ready) {
        memcpy(&tx->tc, s->tc, sizeof tx->tc);
        tx->tc_ready = 1;
    }
    enter(s, SM_MAIL);
    say(s, s->p->smtp.r.mail_ok, NULL);
}

static int check_rcpt(smtpd *s, const smtp_command *c)
{
    if (!s->tx) {
        bad(s, s->p->smtp.r.bad_sequence, NULL);
        return 0;
    }
    if (!params_ok(c)) {
        bad(s, s->p->smtp.r.syntax_error, NULL);
        return 0;
    }
    if (s->tx->nrcpt >= s->p->smtp.max_recipients) {
        say(s, s->p->smtp.r.too_many_rcpts, NULL);
        return 0;
    }
    return 1;
}

static void do_rcpt(smtpd *s, const smtp_command *c)
{
    char to[PATH_MAX_TEXT];
    reply_vals r;
    vals_init(s, &r);
    if (path_text(&c->path, to, sizeof to) < 0) {
        bad(s, s->p->smtp.r.syntax_error, &r);
        return;
    }
    r.v.v[TPL_TO] = to;
    const profile_account *a = NULL;
    if (c->path.domain.n == 0) {
        /* "<Postmaster>" (RFC 5321 4.5.1): every server takes it; the first account reads it */
        if (mr_slice_eq_ci(c->path.local, "postmaster") && s->p->n_accounts)
            a = &s->p->accounts[0];
    } else {
        a = profile_account_by_address(s->p, to, strlen(to));
    }
    if (a) {
        s->tx->local |= UINT64_C(1) << (size_t)(a - s->p->accounts);
    } else if (c->path.domain.n == 0 || profile_domain_is_local(s->p, c->path.domain.p, c->path.domain.n)) {
        say(s, s->p->smtp.r.rcpt_unknown, &r);
        return;
    } else if (!s->account) {
        say(s, s->p->smtp.r.relay_denied, &r);
        return;
    }
    s->tx->nrcpt++;
    say(s, s->p->smtp.r.rcpt_ok, &r);
}

static int check_data(smtpd *s, const smtp_command *c)
{
    (void)c;
    if (!s->tx || s->tx->bdat || s->tx->binary) {
        bad(s, s->p->smtp.r.bad_sequence, NULL);
        return 0;
    }
    if (s->tx->nrcpt == 0) {
        say(s, s->p->smtp.r.no_valid_rcpts, NULL);
        return 0;
    }
    return 1;
}

static void do_data(smtpd *s, const smtp_command *c)
{
    (void)c;
    dot_reader_init(&s->tx->dot, MR_STRICT, NULL);
    msg_trace(s);
    enter(s, SM_DATA);
    say(s, s->p->smtp.r.data_start, NULL);
}

static void bdat_done(smtpd *s);

static void do_bdat(smtpd *s, const smtp_command *c)
{
    /* RFC 3030 2: the chunk is read whatever the reply will be; everything is decided after */
    smtp_tx *tx = s->tx;
    if (!tx) {
        /* no transaction: read and drop the chunk into a throwaway transaction */
        tx = s->tx = calloc(1, sizeof *tx);
        if (!tx) {
            close_with(s, "out-of-memory");
            return;
        }
        tx->too_big = 1;
        tx->bdat = 2; /* marks "no MAIL": answered bad_sequence after the chunk */
    } else if (!tx->bdat) {
        tx->bdat = 1;
        msg_trace(s);
    }
    tx->chunk_left = tx->chunk_size = c->chunk_size;
    tx->chunk_last = c->last;
    s->resume = s->state;
    enter(s, SM_BDAT);
    if (c->chunk_size == 0)
        bdat_done(s);
}

static void do_rset(smtpd *s, const smtp_command *c)
{
    (void)c;
    reset_tx(s);
    say(s, s->p->smtp.r.rset_ok, NULL);
}

static void do_noop(smtpd *s, const smtp_command *c)
{
    (void)c;
    say(s, s->p->smtp.r.noop_ok, NULL);
}

static void do_quit(smtpd *s, const smtp_command *c)
{
    (void)c;
    say(s, s->p->smtp.r.quit, NULL);
    close_with(s, "quit");
}

static void do_vrfy(smtpd *s, const smtp_command *c)
{
    (void)c;
    say(s, s->p->smtp.r.vrfy, NULL);
}

static void do_unknown(smtpd *s, const smtp_command *c)
{
    (void)c;
    bad(s, s->p->smtp.r.unknown_command, NULL);
}

static void auth_start(smtpd *s, const smtp_command *c);

static int check_auth(smtpd *s, const smtp_command *c)
{
    (void)c;
    if (s->account) {
        bad(s, s->p->smtp.r.auth_already, NULL);
        return 0;
    }
    if (s->tx) {
        bad(s, s->p->smtp.r.bad_sequence, NULL);
        return 0;
    }
    return 1;
}

static const smtpd_cmd commands[SMTP_VERB__COUNT] = {
    [SMTP_EHLO] = {CMD_KNOWN, NULL, do_ehlo},
    [SMTP_HELO] = {CMD_KNOWN, NULL, do_ehlo},
    [SMTP_STARTTLS] = {CMD_KNOWN | CMD_HELLO, check_starttls, do_starttls},
    [SMTP_AUTH] = {CMD_KNOWN | CMD_HELLO, check_auth, auth_start},
    [SMTP_MAIL] = {CMD_KNOWN | CMD_HELLO | CMD_AUTH, check_mail, do_mail},
    [SMTP_RCPT] = {CMD_KNOWN | CMD_HELLO | CMD_AUTH, check_rcpt, do_rcpt},
    [SMTP_DATA] = {CMD_KNOWN | CMD_HELLO | CMD_AUTH, check_data, do_data},
    [SMTP_BDAT] = {CMD_KNOWN, NULL, do_bdat}, /* checked after the chunk (RFC 3030) */
    [SMTP_RSET] = {CMD_KNOWN, NULL, do_rset},
    [SMTP_NOOP] = {CMD_KNOWN, NULL, do_noop},
    [SMTP_QUIT] = {CMD_KNOWN, NULL, do_quit},
    [SMTP_VRFY] = {CMD_KNOWN, NULL, do_vrfy},
    [SMTP_HELP] = {CMD_KNOWN, NULL, do_unknown},
    [SMTP_EXPN] = {CMD_KNOWN, NULL, do_unknown},
};

/* The checks every row shares, in the order real servers apply them. */
static int common_checks(smtpd *s, unsigned flags)
{
    if ((flags & CMD_HELLO) && !s->helo) {
        bad(s, s->p->smtp.r.need_hello, NULL);
        return 0;
    }
    if ((flags & CMD_AUTH) && auth_listener(s) && !s->account) {
        profile_offer o = offer_now(s);
        if (!tls_on(s) && o.starttls && o.mechs.n == 0)
            event(s, EV_NEEDS_TLS " command=%s", smtp_verb_name(s->verb));
        bad(s, s->p->smtp.r.auth_required, NULL);
        return 0;
    }
    return 1;
}

/* ---- AUTH ----------------------------------------------------------------------------------- */

/* Report an AUTH command line with its initial response redacted. */
static void report_auth_line(smtpd *s, const char *line, size_t used, const smtp_command *c)
{
    if (!c || !c->has_initial_response || c->initial_response.n == 0) {
        report(s, line, used, 0);
        return;
    }
    sasl_mech m = sasl_mech_lookup(c->mechanism);
    const char *ir = c->initial_response.p;
    size_t irn = c->initial_response.n;
    int k = sasl_redact(m, 0, ir, irn, 1, SASL_REDACT_WIRE, NULL, 0);
    size_t pre = (size_t)(ir - line), post = used - pre - irn;
    char *out = malloc(pre + (size_t)k + post);
    if (!out) {
        report(s, "AUTH <redacted>\r\n", 17, 0);
        return;
    }
    memcpy(out, line, pre);
    sasl_redact(m, 0, ir, irn, 1, SASL_REDACT_WIRE, out + pre, (size_t)k);
    memcpy(out + pre + (size_t)k, ir + irn, post);
    report(s, out, pre + (size_t)k + post, 0);
    free(out);
}

/* The event of one authentication attempt (events.h, EV_AUTH_PREFIX). */
static void auth_event(smtpd *s, profile_auth_outcome o, const char *mech, mr_slice user,
                       const profile_account *acct, profile_uform form)
{
    char word[80], formtxt[32] = "";
    sess_word(user.p, user.n, word, sizeof word);
    if (acct)
        snprintf(formtxt, sizeof formtxt, " form=%s", profile_uform_name(form));
    const profile_service *sv = &s->p->smtp.s;
    event(s, EV_AUTH_PREFIX "%s mech=%s user=%s%s expected=%s tls=%d attempt=%u",
          profile_auth_outcome_name(o), mech, word[0] ? word : "-", formtxt,
          sv->username.n ? profile_uform_name((profile_uform)sv->username.v[0]) : "full", tls_on(s),
          s->auth_attempts);
}

/* The exchange ended without credentials to check: a gate refusal, a bad blob, a cancel. */
static void auth_refuse(smtpd *s, profile_auth_outcome o, const char *mech_in)
{
    char mech[24];
    snprintf(mech, sizeof mech, "%s", mech_in);
    profile_auth_result r = profile_auth_refusal(s->p, PROFILE_SMTP, PROFILE_VIA_SASL, o, s->auth_failures);
    auth_event(s, o, mech, (mr_slice){"", 0}, NULL, PROFILE_UFORM_FULL);
    auth_free(s);
    enter(s, SM_READY);
    reply_vals rv;
    vals_init(s, &rv);
    rv.v.v[TPL_MECH] = mech;
    if (o == PROFILE_AUTH_CANCELLED || o == PROFILE_AUTH_BAD_BLOB) {
        s->auth_failures += o == PROFILE_AUTH_BAD_BLOB;
        say(s, r.reply, &rv);
    } else {
        bad(s, r.reply, &rv);
    }
}

/* Credentials are complete: decide, answer. */
static void auth_finish(smtpd *s, mr_slice user, mr_slice secret)
{
    sasl_exchange *x = s->auth;
    profile_credentials cred = {
        .via = PROFILE_VIA_SASL,
        .mech = x->mech,
        .user = user.p,
        .user_len = user.n,
        .secret = secret.p,
        .secret_len = secret.n,
        .challenge = x->challenge,
        .challenge_len = x->challenge_len,
    };
    if (!tls_on(s) && secret.n)
        event(s, EV_CREDENTIALS_BEFORE_TLS " mech=%s", x->mech_name);
    profile_auth_result r = profile_auth_check(s->p, PROFILE_SMTP, &cred, s->auth_failures);
    auth_event(s, r.outcome, x->mech_name, user, r.account, r.form);
    char userbuf[160], mech[24];
    sess_text(user.p, user.n, userbuf, sizeof userbuf);
    snprintf(mech, sizeof mech, "%s", x->mech_name);
    auth_free(s); /* user and secret may point into it: not used below */
    enter(s, SM_READY);
    reply_vals rv;
    vals_init(s, &rv);
    rv.v.v[TPL_USER] = userbuf;
    rv.v.v[TPL_MECH] = mech;
    if (r.outcome == PROFILE_AUTH_OK) {
        s->account = r.account;
        say(s, s->p->smtp.r.auth_ok, &rv);
        return;
    }
    s->auth_failures++;
    sess_delay(io_of(s), r.delay_ms); /* auth_delay_ms: the carrier holds what follows */
    say(s, r.reply ? r.reply : s->p->smtp.r.auth_failed, &rv);
    if (r.close) {
        if (r.bye)
            say(s, r.bye, NULL);
        close_with(s, "auth-failed");
    }
}

/* What sasl_server decided: a challenge to send, credentials to check, or a bad blob. */
static void auth_next(smtpd *s, const sasl_result *res)
{
    if (res->step == SASL_STEP_BAD) {
        auth_refuse(s, PROFILE_AUTH_BAD_BLOB, s->auth->mech_name);
        return;
    }
    if (res->step == SASL_STEP_DONE) {
        auth_finish(s, res->user, res->secret);
        return;
    }
    const template *t = res->prompt == SASL_PROMPT_USERNAME   ? s->p->smtp.r.auth_login_user
                        : res->prompt == SASL_PROMPT_PASSWORD ? s->p->smtp.r.auth_login_pass
                                                              : s->p->smtp.r.auth_continue;
    reply_vals rv;
    vals_init(s, &rv);
    rv.v.v[TPL_TEXT] = res->challenge_b64;
    enter(s, SM_AUTH);
    say(s, t, &rv);
}

/* Decode a payload and hand it on; "*" cancels. */
static void auth_payload(smtpd *s, const char *p, size_t n, sasl_payload_role role)
{
    char buf[12288];
    sasl_payload pl;
    if (sasl_payload_decode(p, n, role, MR_LENIENT, buf, sizeof buf, &pl, NULL) != 0) {
        auth_refuse(s, PROFILE_AUTH_BAD_BLOB, s->auth->mech_name);
        return;
    }
    if (pl.kind == SASL_PAYLOAD_ABORT) {
        auth_refuse(s, PROFILE_AUTH_CANCELLED, s->auth->mech_name);
        return;
    }
    sasl_result res;
    sasl_exchange_message(s->auth, buf, pl.kind == SASL_PAYLOAD_DATA ? pl.len : 0, &res);
    auth_next(s, &res);
    memset(buf, 0, pl.kind == SASL_PAYLOAD_DATA ? pl.len : 0);
}

static void auth_first(smtpd *s)
{
    const template_conn *c = conn_values(s);
    sasl_result res;
    sasl_exchange_first(s->auth, c->host, strtoull(c->hex16, NULL, 16), s->start_ms / 1000, &res);
    auth_next(s, &res);
}

static void auth_start(smtpd *s, const smtp_command *c)
{
    char mech[24];
    sess_word(c->mechanism.p, c->mechanism.n, mech, sizeof mech);
    s->auth_attempts++;
    int pm = profile_mech_from_name(c->mechanism.p, c->mechanism.n);
    profile_auth_outcome g = profile_auth_gate(s->p, PROFILE_SMTP, s->ml->pl, tls_on(s), PROFILE_VIA_SASL, pm);
    if (g != PROFILE_AUTH_OK) {
        if (g == PROFILE_AUTH_MECH_UNSUPPORTED || g == PROFILE_AUTH_NEEDS_TLS || g == PROFILE_AUTH_NOT_ON_LISTENER)
            event(s, EV_MECH_NOT_OFFERED " mech=%s", mech);
        if (g == PROFILE_AUTH_NEEDS_TLS)
            event(s, EV_NEEDS_TLS " command=AUTH");
        auth_refuse(s, g, mech);
        return;
    }
    s->auth = malloc(sizeof *s->auth);
    if (!s->auth) {
        close_with(s, "out-of-memory");
        return;
    }
    sasl_exchange_init(s->auth, c->mechanism, pm);
    enter(s, SM_AUTH);
    if (!c->has_initial_response) {
        auth_first(s);
        return;
    }
    if (!sasl_exchange_takes_ir(s->auth)) { /* CRAM-MD5 is server-first (RFC 4954 4: 501) */
        auth_refuse(s, PROFILE_AUTH_BAD_BLOB, mech);
        return;
    }
    if (s->auth->mech == PROFILE_MECH_LOGIN && c->initial_response.n == 0) {
        auth_first(s); /* "AUTH LOGIN =": an empty user name is no user name; ask for one */
        return;
    }
    auth_payload(s, c->initial_response.p, c->initial_response.n, SASL_INITIAL_RESPONSE);
}

/* A response line in SM_AUTH. */
static size_t auth_input(smtpd *s, const char *p, size_t n)
{
    smtp_command_limits lim = smtp_command_limits_default();
    lim.max_auth_line = s->p->smtp.s.max_auth_line;
    mr_slice resp;
    int cancel = 0;
    mr_error err;
    int r = smtp_auth_response_parse(p, n, MR_STRICT, &lim, &resp, &cancel, &err);
    if (r == MR_ERROR && err.code != MR_E_LIMIT_LINE) {
        mr_error err2;
        int r2 = smtp_auth_response_parse(p, n, MR_LENIENT, &lim, &resp, &cancel, &err2);
        if (r2 > 0)
            event(s, EV_STRICT_VIOLATION " rule=%s code=%s offset=%zu", err.rule,
                  sess_errcode_word(err.code), err.offset);
        else if (r2 == MR_ERROR)
            err = err2;
        r = r2;
    }
    if (r == MR_NEED_MORE)
        return 0;
    if (r == MR_ERROR && err.code == MR_E_LIMIT_LINE)
        return too_long(s, p, n, lim.max_auth_line);
    if (r == MR_ERROR) {
        /* not a response at all: read the line and refuse the blob */
        mr_slice line;
        int k = mr_line_next(p, n, lim.max_auth_line, MR_LENIENT, NULL, &line, NULL);
        if (k == MR_NEED_MORE)
            return 0;
        if (k < 0)
            return too_long(s, p, n, lim.max_auth_line);
        report(s, "<redacted>\r\n", 12, 0);
        auth_refuse(s, PROFILE_AUTH_BAD_BLOB, s->auth->mech_name);
        return (size_t)k;
    }
    size_t used = (size_t)r;
    /* the transcript gets the response redacted, with its line end as sent */
    size_t end = (size_t)(resp.p - p) + resp.n;
    int k = sasl_redact(s->auth->smech, s->auth->step, resp.p, resp.n, 1, SASL_REDACT_WIRE, NULL, 0);
    char *red = malloc((size_t)k + (used - end) + 1);
    if (red) {
        sasl_redact(s->auth->smech, s->auth->step, resp.p, resp.n, 1, SASL_REDACT_WIRE, red, (size_t)k);
        memcpy(red + k, p + end, used - end);
        report(s, red, (size_t)k + (used - end), 0);
        free(red);
    } else {
        report(s, "<redacted>\r\n", 12, 0);
    }
    if (cancel)
        auth_refuse(s, PROFILE_AUTH_CANCELLED, s->auth->mech_name);
    else
        auth_payload(s, resp.p, resp.n, SASL_CLIENT_RESPONSE);
    return used;
}

/* ---- accepting a message ---------------------------------------------------------------------- */

/* sender_check = data: the reverse-path and every From: address must be the account's. */
static const char *sender_mismatch(smtpd *s, char *buf, size_t cap)
{
    smtp_tx *tx = s->tx;
    if (!tx->null_sender && !profile_account_owns(s->account, tx->from, strlen(tx->from)))
        return tx->from;
    /* the From field of the message (our trace fields come first; they have no From) */
    const char *content = tx->msg;
    size_t n = tx->len;
    mime_field f;
    if (!content || !mime_field_find((mr_slice){content, n}, "From", &f))
        return NULL;
    mime_addr_iter it;
    mime_addr_init(&it, f.value, MR_LENIENT, NULL);
    mime_addr a;
    while (mime_addr_next(&it, &a, NULL) == 1) {
        if (a.kind != MIME_ADDR_MAILBOX)
            continue;
        char local[256], dom[256];
        size_t ln = mime_addr_clean(a.local, local, sizeof local);
        size_t dn = mime_addr_clean(a.domain, dom, sizeof dom);
        if (ln >= sizeof local || dn >= sizeof dom)
            continue;
        int k = snprintf(buf, cap, "%.*s@%.*s", (int)ln, local, (int)dn, dom);
        if (k > 0 && (size_t)k < cap && !profile_account_owns(s->account, buf, (size_t)k))
            return buf;
    }
    return NULL;
}

/* The whole message is in: refuse it or store it, then answer. */
static void finish_message(smtpd *s)
{
    smtp_tx *tx = s->tx;
    reply_vals r;
    vals_init(s, &r);
    snprintf(r.size, sizeof r.size, "%" PRIu64, tx->content);
    r.v.v[TPL_SIZE] = r.size;
    char addr[PATH_MAX_TEXT];
    const char *denied = NULL;
    if (tx->too_big) {
        say(s, s->p->smtp.r.size_exceeded, &r);
    } else if (s->p->smtp.sender_check == PROFILE_SENDER_DATA && s->account &&
               (denied = sender_mismatch(s, addr, sizeof addr)) != NULL) {
        r.v.v[TPL_FROM] = denied;
        event(s, "sender-denied at=data");
        say(s, s->p->smtp.r.sender_denied, &r);
    } else {
        store_err e = STORE_OK;
        unsigned delivered = 0;
        for (size_t i = 0; i < s->p->n_accounts && e == STORE_OK; i++) {
            if (!(tx->local & (UINT64_C(1) << i)))
                continue;
            e = store_deliver(s->ml->st, s->p->accounts[i].name, tx->msg, tx->len, NULL);
            delivered += e == STORE_OK;
        }
        if (delivered && s->ml->mock)
            mock_changed(s->ml->mock);
        if (e == STORE_E_TOOBIG)
            say(s, s->p->smtp.r.size_exceeded, &r);
        else if (e != STORE_OK)
            say(s, s->p->smtp.r.delivery_failed, &r);
        else
            say(s, s->p->smtp.r.data_ok, &r);
    }
    reset_tx(s);
}

/* ---- DATA and BDAT input ------------------------------------------------------------------------ */

static size_t data_input(smtpd *s, const char *p, size_t n)
{
    smtp_tx *tx = s->tx;
    size_t used = 0;
    while (!tx->dot.done && used < n) {
        mr_slice out;
        int r = dot_read(&tx->dot, p + used, n - used, &out, NULL);
        if (r <= 0)
            break;
        used += (size_t)r;
        msg_content(s, out.p, out.n);
    }
    report(s, p, used, 1);
    if (tx->dot.done) {
        if (tx->dot.violations) {
            for (int k = 0; k < DOT_V__COUNT; k++)
                if (tx->dot.violations & (1u << k)) {
                    static const char *const names[DOT_V__COUNT] = {"bare-lf", "bare-cr", "line-too-long"};
                    event(s, EV_STRICT_VIOLATION " rule=data code=%s offset=%" PRIu64, names[k],
                          tx->dot.first[k]);
                }
        }
        finish_message(s);
    }
    return used;
}

/* A BDAT chunk is in: now the checks BDAT would have had, then the reply. */
static void bdat_done(smtpd *s)
{
    smtp_tx *tx = s->tx;
    enter(s, s->resume);
    reply_vals r;
    vals_init(s, &r);
    snprintf(r.size, sizeof r.size, "%" PRIu64, tx->chunk_size);
    r.v.v[TPL_SIZE] = r.size;
    s->verb = SMTP_BDAT;
    if (tx->bdat == 2) { /* no MAIL */
        tx_free(s);
        if (common_checks(s, CMD_HELLO | CMD_AUTH))
            bad(s, s->p->smtp.r.bad_sequence, NULL);
        return;
    }
    if (tx->nrcpt == 0) {
        reset_tx(s);
        say(s, s->p->smtp.r.no_valid_rcpts, NULL);
        return;
    }
    if (tx->too_big) {
        snprintf(r.size, sizeof r.size, "%" PRIu64, tx->content);
        reset_tx(s);
        say(s, s->p->smtp.r.size_exceeded, &r);
        return;
    }
    if (tx->chunk_last)
        finish_message(s);
    else
        say(s, s->p->smtp.r.bdat_ok, &r);
}

static size_t bdat_input(smtpd *s, const char *p, size_t n)
{
    smtp_tx *tx = s->tx;
    size_t take = tx->chunk_left < n ? (size_t)tx->chunk_left : n;
    msg_content(s, p, take);
    tx->chunk_left -= take;
    report(s, p, take, 1);
    if (!tx->chunk_left)
        bdat_done(s);
    return take;
}

/* ---- command lines ---------------------------------------------------------------------------- */

static smtp_command_limits limits_now(const smtpd *s)
{
    smtp_command_limits lim = smtp_command_limits_default();
    lim.max_line = s->p->smtp.s.max_line;
    lim.max_auth_line = s->p->smtp.s.max_auth_line;
    lim.smtputf8 = s->smtputf8_offered && s->tx && s->tx->smtputf8;
    return lim;
}

/* The verb a line starts with (its first word), or SMTP_VERB_NONE. */
static smtp_verb verb_of_line(mr_slice line)
{
    size_t n = 0;
    while (n < line.n && line.p[n] != ' ' && line.p[n] != '\t')
        n++;
    for (int v = SMTP_VERB_NONE + 1; v < SMTP_VERB__COUNT; v++) {
        const char *name = smtp_verb_name((smtp_verb)v);
        if (strlen(name) == n && strncasecmp(line.p, name, n) == 0)
            return (smtp_verb)v;
    }
    return SMTP_VERB_NONE;
}

static size_t command_input(smtpd *s, const char *p, size_t n)
{
    size_t limit = line_limit(s, p, n);
    mr_slice line;
    mr_error err;
    int k = mr_line_next(p, n, limit, MR_LENIENT, &s->scanned, &line, &err);
    if (k == MR_NEED_MORE)
        return 0;
    if (k < 0)
        return too_long(s, p, n, limit);
    size_t used = (size_t)k;
    s->scanned = 0;
    s->line = line;
    s->verb = SMTP_VERB_NONE;

    smtp_command_limits lim = limits_now(s);
    smtp_command cmd;
    int r = smtp_command_parse(p, used, MR_STRICT, &lim, NULL, &cmd, &err);
    if (r == MR_ERROR) {
        mr_error err2;
        r = smtp_command_parse(p, used, MR_LENIENT, &lim, NULL, &cmd, &err2);
        if (r > 0)
            event(s, EV_STRICT_VIOLATION " rule=%s code=%s offset=%zu", err.rule, sess_errcode_word(err.code),
                  err.offset);
        else
            err = err2;
    }
    if (r <= 0) {
        /* a line no parser reads: never echo what may be a credential */
        if (n >= 5 && strncasecmp(p, "AUTH ", 5) == 0) {
            report(s, "AUTH <redacted>\r\n", 17, 0);
            s->line = (mr_slice){"AUTH", 4};
        } else {
            report(s, p, used, 0);
        }
        if (err.code == MR_E_UNKNOWN_COMMAND) {
            bad(s, s->p->smtp.r.unknown_command, NULL);
            return used;
        }
        /* a known verb with bad arguments: the state checks come first, as real servers do */
        s->verb = verb_of_line(line);
        const smtpd_cmd *row = s->verb ? &commands[s->verb] : NULL;
        if (row && !common_checks(s, row->flags))
            return used;
        bad(s, s->p->smtp.r.syntax_error, NULL);
        return used;
    }
    s->verb = cmd.verb;
    if (cmd.verb == SMTP_AUTH)
        report_auth_line(s, p, used, &cmd);
    else
        report(s, p, used, 0);
    const smtpd_cmd *row = (unsigned)cmd.verb < SMTP_VERB__COUNT ? &commands[cmd.verb] : NULL;
    if (!row || !(row->flags & CMD_KNOWN)) {
        bad(s, s->p->smtp.r.unknown_command, NULL);
        return used;
    }
    if (!common_checks(s, row->flags))
        return used;
    if (row->check && !row->check(s, &cmd))
        return used;
    row->proceed(s, &cmd);
    return used;
}

/* ---- the first bytes: a TLS ClientHello on a plaintext port ------------------------------------ */

static size_t hello_check(smtpd *s, const char *p, size_t n)
{
    sess_hello h = sess_hello_classify(p, n);
    if (h.kind == SESS_HELLO_UNDECIDED)
        return 0;
    s->first_seen = 1;
    if (h.kind == SESS_HELLO_NONE)
        return (size_t)-1; /* go on as usual */
    switch (s->ml->pl->tls_hello) {
    case PROFILE_HELLO_CLOSE:
        report(s, p, n, 1);
        close_with(s, "client-hello-on-plaintext-port");
        return n;
    case PROFILE_HELLO_SILENCE:
        enter(s, SM_SILENT);
        return (size_t)-1;
    case PROFILE_HELLO_REPLY:
        break;
    }
    /* the whole record is one bad command line; what of it has not come yet is skipped */
    s->hello_left = h.left;
    report(s, p, h.record, 1);
    s->line = (mr_slice){p, h.record > 40 ? 40 : h.record};
    bad(s, s->p->smtp.r.unknown_command, NULL);
    return h.record;
}

/* ---- session_ops --------------------------------------------------------------------------------- */

/* Every entry point: the connection's template values are computed at most once per call,
 * and nothing points into a previous call's input. */
#define ENTRY(s)                                                                                       \
    template_conn tc_;                                                                                 \
    (s)->tc = &tc_;                                                                                    \
    (s)->tc_ready = 0;                                                                                 \
    (s)->line = (mr_slice){"", 0}

#define LEAVE(s) ((s)->tc = NULL, (s)->line = (mr_slice){"", 0})

static void smtpd_open(session *base)
{
    smtpd *s = (smtpd *)base;
    ENTRY(s);
    unsigned max = s->p->smtp.s.max_connections;
    if (!sess_admit(&s->adm, s->ml->st, PROFILE_SMTP, base->info, max)) {
        event(s, "too-many-connections address=%s open=%u limit=%u", s->adm.ip, s->adm.open - 1,
              max);
        say(s, s->p->smtp.r.too_many_connections, NULL);
        close_with(s, "too-many-connections");
        LEAVE(s);
        return;
    }
    say(s, profile_listener_greeting(s->p, s->ml->pl), NULL);
    LEAVE(s);
}

static size_t smtpd_input(session *base, const char *p, size_t n)
{
    smtpd *s = (smtpd *)base;
    ENTRY(s);
    size_t used = 0;
    if (!s->first_seen && !tls_on(s) && s->state == SM_CONNECTED) {
        size_t k = hello_check(s, p, n);
        if (k != (size_t)-1) {
            LEAVE(s);
            return k;
        }
    }
    s->first_seen = 1;
    if (s->hello_left && s->state != SM_CLOSED) {
        used = s->hello_left < n ? s->hello_left : n;
        s->hello_left -= (uint32_t)used;
        report(s, p, used, 1);
    }
    while (used < n) {
        size_t k = 0;
        switch (s->state) {
        case SM_CONNECTED:
        case SM_READY:
        case SM_MAIL: k = command_input(s, p + used, n - used); break;
        case SM_AUTH: k = auth_input(s, p + used, n - used); break;
        case SM_DATA: k = data_input(s, p + used, n - used); break;
        case SM_BDAT: k = bdat_input(s, p + used, n - used); break;
        case SM_SKIP: k = skip_input(s, p + used, n - used); break;
        case SM_SILENT:
            k = n - used;
            report(s, p + used, k, 1);
            break;
        case SM_TLS:
        case SM_CLOSED:
        case SM__COUNT: k = 0; break;
        }
        if (k == 0)
            break;
        used += k;
        if (s->base.info->held)
            break; /* a delayed reply: the rest waits with the carrier */
    }
    LEAVE(s);
    return used;
}

static void smtpd_tls_ready(session *base)
{
    smtpd *s = (smtpd *)base;
    /* RFC 3207 4.2: forget everything learnt before TLS, EHLO included */
    auth_free(s);
    tx_free(s);
    free(s->helo);
    s->helo = NULL;
    s->account = NULL;
    s->scanned = 0;
    s->first_seen = 1;
    enter(s, SM_CONNECTED);
}

static void smtpd_timeout(session *base)
{
    smtpd *s = (smtpd *)base;
    ENTRY(s);
    s->verb = SMTP_VERB_NONE;
    s->line = (mr_slice){"", 0};
    if (s->state != SM_CLOSED)
        say(s, s->p->smtp.r.timed_out, NULL);
    enter(s, SM_CLOSED);
    LEAVE(s);
}

static void smtpd_free(session *base)
{
    smtpd *s = (smtpd *)base;
    sess_release(&s->adm);
    auth_free(s);
    tx_free(s);
    free(s->helo);
    free(s);
}

static const session_ops smtpd_ops = {smtpd_open, smtpd_input, smtpd_tls_ready, smtpd_timeout, smtpd_free};

session *smtpd_new(void *ctx, const session_io *io, session_info *info)
{
    const mock_listener *ml = ctx;
    smtpd *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &smtpd_ops;
    s->base.io = io;
    s->base.info = info;
    s->ml = ml;
    s->p = ml->prof;
    s->state = SM_CONNECTED;
    s->start_ms = sess_now_ms();
    const char *dbg = getenv("MAILRIG_DEBUG_STATES");
    s->debug = dbg && *dbg && strcmp(dbg, "0") != 0;
    s->smtputf8_offered = (uint8_t)profile_has_keyword(s->p, "SMTPUTF8");
    s->line = (mr_slice){"", 0};
    return &s->base;
}
