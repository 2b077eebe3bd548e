/* pop3d.c -- see pop3d.h.
 *
 * The same layout as smtpd.c: one enum state and one transition function with a names table;
 * a command table indexed by verb with the states a command is valid in, a check (syntax,
 * message numbers: replies and returns 0 when it refuses) and a proceed; input() hands whole
 * items (a command line, an AUTH response line) to the handler of the current state.
 */
#include "servers/pop3d.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/dotstream.h"
#include "proto/pop3.h"
#include "proto/sasl.h"
#include "proto/sasl_redact.h"
#include "servers/events.h"
#include "servers/mock.h"
#include "servers/profile.h"
#include "servers/sasl_server.h"
#include "servers/session_util.h"
#include "servers/store.h"

typedef enum pop3d_state {
    PS_AUTHORIZATION, /* greeting sent, not logged in (also right after STLS) */
    PS_TRANSACTION,   /* logged in, the maildrop locked */
    PS_AUTH,          /* inside an AUTH exchange: the next line is a SASL response */
    PS_TLS,           /* STLS answered: nothing is consumed until the handshake is done */
    PS_SILENT,        /* a TLS ClientHello arrived and the profile says: ignore it */
    PS_CLOSED,        /* QUIT (after UPDATE) or a fatal error: nothing more is consumed */
    PS__COUNT
} pop3d_state;

static const char *const state_names[PS__COUNT] = {
    [PS_AUTHORIZATION] = "AUTHORIZATION", [PS_TRANSACTION] = "TRANSACTION", [PS_AUTH] = "AUTH",
    [PS_TLS] = "TLS", [PS_SILENT] = "SILENT", [PS_CLOSED] = "CLOSED",
};

typedef struct pop3d {
    session base;
    const mock_listener *ml;
    const profile *p;
    pop3d_state state;
    uint8_t debug;
    sess_admission adm;         /* counted against max_connections */
    uint8_t first_seen;         /* the first bytes were classified */
    uint8_t locked;             /* holds the account's maildrop lock */
    uint32_t hello_left;        /* bytes of a TLS ClientHello record still to skip */
    unsigned auth_failures;
    unsigned auth_attempts;
    int64_t start_ms;
    size_t scanned;             /* mr_line_next resume hint */
    char *user;                 /* the USER argument, until PASS */
    const profile_account *account; /* logged in */
    store_view *view;           /* the maildrop: the INBOX as it was at login */
    uint8_t *deleted;           /* per message of the maildrop: marked by DELE */
    uint32_t count;             /* messages in the maildrop */
    sasl_exchange *auth;        /* an AUTH exchange in progress */
    /* valid during one call into the session */
    template_conn *tc;
    uint8_t tc_ready;
    pop3_verb verb;             /* the command being answered */
    mr_slice line;              /* its line, for {text} */
} pop3d;

/* ---- transitions and small helpers --------------------------------------------------------- */

static void enter(pop3d *s, pop3d_state to)
{
    if (s->state == to)
        return;
    if (s->debug) {
        char ev[96];
        snprintf(ev, sizeof ev, "pop3-state from=%s to=%s", state_names[s->state], state_names[to]);
        s->base.io->event(s->base.io->ctx, ev);
    }
    s->state = to;
}

static const session_io *io_of(pop3d *s)
{
    return s->base.io;
}

static void event(pop3d *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event(pop3d *s, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    io_of(s)->event(io_of(s)->ctx, text);
}

static void report(pop3d *s, const char *p, size_t n, int payload)
{
    if (n)
        io_of(s)->client_data(io_of(s)->ctx, p, n, payload);
}

static void send_raw(pop3d *s, const char *p, size_t n)
{
    io_of(s)->send(io_of(s)->ctx, p, n);
}

static int tls_on(const pop3d *s)
{
    return s->base.info->tls_active != 0;
}

static const template_conn *conn_values(pop3d *s)
{
    if (!s->tc_ready) {
        char ip[64];
        sess_peer_ip(s->base.info, ip, sizeof ip);
        if (profile_conn_init(s->p, s->ml->pl, s->ml->seed, s->base.info->conn_id, ip, s->start_ms,
                              s->tc) != 0)
            profile_conn_init(s->p, s->ml->pl, s->ml->seed, s->base.info->conn_id, "", s->start_ms, s->tc);
        s->tc_ready = 1;
    }
    return s->tc;
}

/* Template values: every context placeholder a POP3 template may use gets one. */
typedef struct reply_vals {
    template_vars v;
    char text[160];
    char n[24];
    char size[24];
    char user[160];
} reply_vals;

static void vals_init(pop3d *s, reply_vals *r)
{
    memset(r, 0, sizeof *r);
    r->v.conn = conn_values(s);
    r->v.now_ms = sess_now_ms();
    for (int i = TPL_TAG; i < TPL_VAR_COUNT; i++)
        r->v.v[i] = "";
    r->v.v[TPL_COMMAND] = s->verb ? pop3_verb_name(s->verb) : "";
    sess_text(s->line.p, s->line.n, r->text, sizeof r->text);
    r->v.v[TPL_TEXT] = r->text;
    if (s->account) {
        r->v.v[TPL_USER] = s->account->email;
        r->v.v[TPL_EMAIL] = s->account->email;
    } else if (s->user) {
        sess_text(s->user, strlen(s->user), r->user, sizeof r->user);
        r->v.v[TPL_USER] = r->user;
    }
    r->v.v[TPL_N] = "0";
    r->v.v[TPL_SIZE] = "0";
}

static void vals_n_size(reply_vals *r, uint64_t n, uint64_t size)
{
    snprintf(r->n, sizeof r->n, "%" PRIu64, n);
    snprintf(r->size, sizeof r->size, "%" PRIu64, size);
    r->v.v[TPL_N] = r->n;
    r->v.v[TPL_SIZE] = r->size;
}

static void say(pop3d *s, const template *t, reply_vals *r)
{
    reply_vals local;
    if (!r) {
        vals_init(s, &local);
        r = &local;
    }
    sess_reply(io_of(s), t, &r->v);
}

static void close_with(pop3d *s, const char *reason)
{
    io_of(s)->close(io_of(s)->ctx, reason);
    enter(s, PS_CLOSED);
}

static void auth_free(pop3d *s)
{
    if (!s->auth)
        return;
    sasl_exchange_clear(s->auth);
    free(s->auth);
    s->auth = NULL;
}

static void forget_user(pop3d *s)
{
    if (s->user) {
        memset(s->user, 0, strlen(s->user));
        free(s->user);
        s->user = NULL;
    }
}

static void maildrop_close(pop3d *s)
{
    store_view_close(s->view);
    s->view = NULL;
    free(s->deleted);
    s->deleted = NULL;
    s->count = 0;
    if (s->locked && s->account)
        sess_unlock(s->ml->st, s->account->name, s);
    s->locked = 0;
}

static profile_offer offer_now(const pop3d *s)
{
    return profile_offer_now(s->p, PROFILE_POP3, s->ml->pl, tls_on(s));
}

/* ---- the maildrop ------------------------------------------------------------------------------- */

/* Message n of the maildrop when it exists and is not marked deleted, else NULL. */
static store_msg *maildrop_msg(pop3d *s, uint64_t n)
{
    if (n < 1 || n > s->count || s->deleted[n - 1])
        return NULL;
    return store_view_msg(s->view, (uint32_t)n);
}

static void maildrop_totals(pop3d *s, uint64_t *n, uint64_t *size)
{
    *n = *size = 0;
    for (uint32_t i = 1; i <= s->count; i++) {
        const store_msg *m = maildrop_msg(s, i);
        if (m) {
            (*n)++;
            *size += m->size;
        }
    }
}

/* Lock and open the account's INBOX. Returns 1, 0 when another session holds the lock (the
 * caller answers in_use), -1 when the store cannot (op failed: answered here). */
static int maildrop_open(pop3d *s, const profile_account *a)
{
    int l = sess_lock(s->ml->st, a->name, s);
    if (l == 0)
        return 0;
    if (l < 0)
        return -1;
    s->locked = 1;
    s->account = a;
    store_account *sa = store_account_find(s->ml->st, a->name);
    store_mailbox *inbox = sa ? store_mailbox_find(sa, "INBOX") : NULL;
    if (!inbox || store_view_open(s->ml->st, inbox, 0, &s->view) != STORE_OK) {
        s->view = NULL;
        return -1;
    }
    s->count = store_view_count(s->view);
    s->deleted = calloc(s->count ? s->count : 1, 1);
    if (!s->deleted)
        return -1;
    return 1;
}

/* Write data as a dot-stuffed multi-line body and its terminating line. */
static void send_body(pop3d *s, const char *data, size_t len)
{
    enum { CHUNK = 32 * 1024 };
    char out[2 * CHUNK + 8];
    dot_writer w;
    dot_writer_init(&w);
    for (size_t at = 0; at < len;) {
        size_t k = len - at < CHUNK ? len - at : CHUNK;
        int n = dot_write(&w, data + at, k, out, sizeof out, NULL);
        if (n < 0)
            return;
        send_raw(s, out, (size_t)n);
        at += k;
    }
    int n = dot_write_end(&w, out, sizeof out, NULL);
    if (n > 0)
        send_raw(s, out, (size_t)n);
}

/* ---- commands --------------------------------------------------------------------------------- */

typedef struct pop3d_cmd {
    unsigned states; /* IN_* where the command is valid; 0: not a command we serve */
    int (*check)(pop3d *s, const pop3_command *c);
    void (*proceed)(pop3d *s, const pop3_command *c);
} pop3d_cmd;

enum { IN_AUTHZ = 1, IN_TRANS = 2 };

static void do_capa(pop3d *s, const pop3_command *c)
{
    (void)c;
    profile_offer o = offer_now(s);
    /* RFC 2449 5: USER and SASL describe the AUTHORIZATION state; after login the list is
     * the same, as real servers send it */
    reply_vals r;
    vals_init(s, &r);
    say(s, s->p->pop3.r.capa_ok, &r);
    const profile_caps *caps = &s->p->pop3.s.caps;
    char item[SESS_MAX_REPLY + 3];
    for (size_t i = 0; i < caps->n; i++) {
        int k = profile_caps_item(PROFILE_POP3, caps, i, &o, &r.v, item, SESS_MAX_REPLY);
        if (k <= 0)
            continue;
        if (k >= SESS_MAX_REPLY)
            k = SESS_MAX_REPLY - 1;
        item[k] = '\r';
        item[k + 1] = '\n';
        send_raw(s, item, (size_t)k + 2);
    }
    send_raw(s, ".\r\n", 3);
}

static int check_stls(pop3d *s, const pop3_command *c)
{
    (void)c;
    if (!offer_now(s).starttls) {
        say(s, s->p->pop3.r.stls_unavailable, NULL);
        return 0;
    }
    return 1;
}

static void do_stls(pop3d *s, const pop3_command *c)
{
    (void)c;
    say(s, s->p->pop3.r.stls_ok, NULL);
    forget_user(s);
    enter(s, PS_TLS);
    io_of(s)->start_tls(io_of(s)->ctx);
}

/* The event of one authentication attempt (events.h, EV_AUTH_PREFIX). */
static void auth_event(pop3d *s, profile_auth_outcome o, const char *mech, mr_slice user,
                       const profile_account *acct, profile_uform form)
{
    char word[80], formtxt[32] = "";
    sess_word(user.p, user.n, word, sizeof word);
    if (acct)
        snprintf(formtxt, sizeof formtxt, " form=%s", profile_uform_name(form));
    const profile_service *sv = &s->p->pop3.s;
    event(s, EV_AUTH_PREFIX "%s mech=%s user=%s%s expected=%s tls=%d attempt=%u",
          profile_auth_outcome_name(o), mech, word[0] ? word : "-", formtxt,
          sv->username.n ? profile_uform_name((profile_uform)sv->username.v[0]) : "full", tls_on(s),
          s->auth_attempts);
}

/* A refusal decided before any credentials were checked (the gate, a bad blob, a cancel). */
static void refuse(pop3d *s, profile_auth_via via, profile_auth_outcome o, const char *mech, mr_slice user,
                   const template *instead)
{
    profile_auth_result r = profile_auth_refusal(s->p, PROFILE_POP3, via, o, s->auth_failures);
    auth_event(s, o, mech, user, NULL, PROFILE_UFORM_FULL);
    auth_free(s);
    enter(s, PS_AUTHORIZATION);
    reply_vals rv;
    vals_init(s, &rv);
    char ubuf[160];
    sess_text(user.p, user.n, ubuf, sizeof ubuf);
    if (user.n)
        rv.v.v[TPL_USER] = ubuf;
    rv.v.v[TPL_MECH] = mech;
    if (o == PROFILE_AUTH_BAD_BLOB)
        s->auth_failures++;
    say(s, instead ? instead : r.reply, &rv);
}

/* Credentials complete (PASS, or the end of an AUTH exchange): decide, answer, log in. */
static void login(pop3d *s, profile_auth_via via, const char *mech, mr_slice user, mr_slice secret)
{
    profile_credentials cred = {
        .via = via,
        .mech = s->auth ? s->auth->mech : PROFILE_MECH_PLAIN,
        .user = user.p,
        .user_len = user.n,
        .secret = secret.p,
        .secret_len = secret.n,
        .challenge = s->auth ? s->auth->challenge : NULL,
        .challenge_len = s->auth ? s->auth->challenge_len : 0,
    };
    if (!tls_on(s) && secret.n)
        event(s, EV_CREDENTIALS_BEFORE_TLS " mech=%s", mech);
    profile_auth_result r = profile_auth_check(s->p, PROFILE_POP3, &cred, s->auth_failures);
    auth_event(s, r.outcome, mech, user, r.account, r.form);
    char ubuf[160], mbuf[24];
    sess_text(user.p, user.n, ubuf, sizeof ubuf);
    snprintf(mbuf, sizeof mbuf, "%s", mech);
    auth_free(s); /* user and secret may point into it */
    forget_user(s);
    enter(s, PS_AUTHORIZATION);
    reply_vals rv;
    vals_init(s, &rv);
    rv.v.v[TPL_USER] = ubuf;
    rv.v.v[TPL_MECH] = mbuf;
    if (r.outcome != PROFILE_AUTH_OK) {
        s->auth_failures++;
        sess_delay(io_of(s), r.delay_ms); /* auth_delay_ms: the carrier holds what follows */
        say(s, r.reply ? r.reply : s->p->pop3.r.auth_failed, &rv);
        if (r.close)
            close_with(s, "auth-failed");
        return;
    }
    int m = maildrop_open(s, r.account);
    if (m <= 0) {
        if (m == 0)
            event(s, "maildrop-in-use account=%s", r.account->name);
        maildrop_close(s);
        s->account = NULL;
        say(s, m == 0 ? s->p->pop3.r.in_use : s->p->pop3.r.auth_failed, &rv);
        return;
    }
    enter(s, PS_TRANSACTION);
    uint64_t n, size;
    maildrop_totals(s, &n, &size);
    vals_n_size(&rv, n, size);
    rv.v.v[TPL_USER] = ubuf;
    say(s, via == PROFILE_VIA_LOGIN ? s->p->pop3.r.pass_ok : s->p->pop3.r.auth_ok, &rv);
}

static void do_user(pop3d *s, const pop3_command *c)
{
    profile_auth_outcome g = profile_auth_gate(s->p, PROFILE_POP3, s->ml->pl, tls_on(s), PROFILE_VIA_LOGIN, 0);
    if (g != PROFILE_AUTH_OK) {
        if (g == PROFILE_AUTH_LOGIN_DISABLED && !tls_on(s) && offer_now(s).starttls)
            event(s, EV_NEEDS_TLS " command=USER");
        s->auth_attempts++;
        refuse(s, PROFILE_VIA_LOGIN, g, "USER", c->name, NULL);
        return;
    }
    forget_user(s);
    s->user = strndup(c->name.p, c->name.n);
    if (!s->user) {
        close_with(s, "out-of-memory");
        return;
    }
    say(s, s->p->pop3.r.user_ok, NULL);
}

static int check_pass(pop3d *s, const pop3_command *c)
{
    (void)c;
    if (!s->user) {
        say(s, s->p->pop3.r.bad_state, NULL);
        return 0;
    }
    return 1;
}

static void do_pass(pop3d *s, const pop3_command *c)
{
    s->auth_attempts++;
    profile_auth_outcome g = profile_auth_gate(s->p, PROFILE_POP3, s->ml->pl, tls_on(s), PROFILE_VIA_LOGIN, 0);
    mr_slice user = {s->user, strlen(s->user)};
    if (g != PROFILE_AUTH_OK) {
        refuse(s, PROFILE_VIA_LOGIN, g, "USER", user, NULL);
        forget_user(s);
        return;
    }
    login(s, PROFILE_VIA_LOGIN, "USER", user, c->secret);
}

static void auth_next(pop3d *s, const sasl_result *res)
{
    if (res->step == SASL_STEP_BAD) {
        char mech[24];
        snprintf(mech, sizeof mech, "%s", s->auth->mech_name);
        refuse(s, PROFILE_VIA_SASL, PROFILE_AUTH_BAD_BLOB, mech, (mr_slice){"", 0}, NULL);
        return;
    }
    if (res->step == SASL_STEP_DONE) {
        char mech[24];
        snprintf(mech, sizeof mech, "%s", s->auth->mech_name);
        login(s, PROFILE_VIA_SASL, mech, res->user, res->secret);
        return;
    }
    reply_vals rv;
    vals_init(s, &rv);
    rv.v.v[TPL_TEXT] = res->challenge_b64;
    enter(s, PS_AUTH);
    say(s, s->p->pop3.r.auth_continue, &rv);
}

static void auth_payload(pop3d *s, const char *p, size_t n, sasl_payload_role role)
{
    char buf[12288];
    sasl_payload pl;
    char mech[24];
    snprintf(mech, sizeof mech, "%s", s->auth->mech_name);
    if (sasl_payload_decode(p, n, role, MR_LENIENT, buf, sizeof buf, &pl, NULL) != 0) {
        refuse(s, PROFILE_VIA_SASL, PROFILE_AUTH_BAD_BLOB, mech, (mr_slice){"", 0}, NULL);
        return;
    }
    if (pl.kind == SASL_PAYLOAD_ABORT) {
        refuse(s, PROFILE_VIA_SASL, PROFILE_AUTH_CANCELLED, mech, (mr_slice){"", 0}, NULL);
        return;
    }
    sasl_result res;
    sasl_exchange_message(s->auth, buf, pl.kind == SASL_PAYLOAD_DATA ? pl.len : 0, &res);
    auth_next(s, &res);
    memset(buf, 0, pl.kind == SASL_PAYLOAD_DATA ? pl.len : 0);
}

/* A bare AUTH (RFC 1734 servers, and what many clients probe with): the mechanisms offered. */
static void auth_list(pop3d *s)
{
    profile_offer o = offer_now(s);
    say(s, s->p->pop3.r.ok, NULL);
    for (size_t i = 0; i < o.mechs.n; i++) {
        char line[40];
        int k = snprintf(line, sizeof line, "%s\r\n", profile_mech_name((profile_mech)o.mechs.v[i]));
        send_raw(s, line, (size_t)k);
    }
    send_raw(s, ".\r\n", 3);
}

static void do_auth(pop3d *s, const pop3_command *c)
{
    if (c->mechanism.n == 0) {
        auth_list(s);
        return;
    }
    char mech[24];
    sess_word(c->mechanism.p, c->mechanism.n, mech, sizeof mech);
    s->auth_attempts++;
    int pm = profile_mech_from_name(c->mechanism.p, c->mechanism.n);
    profile_auth_outcome g = profile_auth_gate(s->p, PROFILE_POP3, s->ml->pl, tls_on(s), PROFILE_VIA_SASL, pm);
    if (g != PROFILE_AUTH_OK) {
        if (g == PROFILE_AUTH_MECH_UNSUPPORTED || g == PROFILE_AUTH_NEEDS_TLS || g == PROFILE_AUTH_NOT_ON_LISTENER)
            event(s, EV_MECH_NOT_OFFERED " mech=%s", mech);
        if (g == PROFILE_AUTH_NEEDS_TLS)
            event(s, EV_NEEDS_TLS " command=AUTH");
        refuse(s, PROFILE_VIA_SASL, g, mech, (mr_slice){"", 0}, NULL);
        return;
    }
    s->auth = malloc(sizeof *s->auth);
    if (!s->auth) {
        close_with(s, "out-of-memory");
        return;
    }
    sasl_exchange_init(s->auth, c->mechanism, pm);
    if (c->has_initial_response && (!s->p->pop3.sasl_ir || !sasl_exchange_takes_ir(s->auth))) {
        event(s, "initial-response-refused mech=%s", mech);
        refuse(s, PROFILE_VIA_SASL, PROFILE_AUTH_BAD_BLOB, mech, (mr_slice){"", 0},
               s->p->pop3.sasl_ir ? NULL : s->p->pop3.r.auth_ir_refused);
        return;
    }
    enter(s, PS_AUTH);
    if (!c->has_initial_response || (pm == PROFILE_MECH_LOGIN && c->initial_response.n == 0)) {
        const template_conn *tc = conn_values(s);
        sasl_result res;
        sasl_exchange_first(s->auth, tc->host, strtoull(tc->hex16, NULL, 16), s->start_ms / 1000, &res);
        auth_next(s, &res);
        return;
    }
    auth_payload(s, c->initial_response.p, c->initial_response.n, SASL_INITIAL_RESPONSE);
}

static void do_stat(pop3d *s, const pop3_command *c)
{
    (void)c;
    uint64_t n, size;
    maildrop_totals(s, &n, &size);
    char line[64];
    int k = snprintf(line, sizeof line, "+OK %" PRIu64 " %" PRIu64 "\r\n", n, size); /* RFC 1939 5 */
    send_raw(s, line, (size_t)k);
}

static int check_msg(pop3d *s, const pop3_command *c)
{
    if (!maildrop_msg(s, c->msg)) {
        reply_vals r;
        vals_init(s, &r);
        vals_n_size(&r, c->msg, 0);
        say(s, s->p->pop3.r.no_such_message, &r);
        return 0;
    }
    return 1;
}

/* LIST and UIDL: one message ("+OK n x", RFC 1939 5 and 7) or the whole listing. */
static void listing(pop3d *s, const pop3_command *c, int uidl)
{
    store_mailbox *mb = store_view_mailbox(s->view);
    char line[96];
    if (c->has_msg) {
        const store_msg *m = check_msg(s, c) ? maildrop_msg(s, c->msg) : NULL;
        if (!m)
            return;
        char uid[32] = "";
        if (uidl && (!mb || store_msg_uidl(mb, m, uid, sizeof uid) < 0))
            snprintf(uid, sizeof uid, "%" PRIu32, m->uid);
        int k = uidl ? snprintf(line, sizeof line, "+OK %" PRIu64 " %s\r\n", c->msg, uid)
                     : snprintf(line, sizeof line, "+OK %" PRIu64 " %zu\r\n", c->msg, m->size);
        send_raw(s, line, (size_t)k);
        return;
    }
    reply_vals r;
    vals_init(s, &r);
    uint64_t n, size;
    maildrop_totals(s, &n, &size);
    vals_n_size(&r, n, size);
    say(s, uidl ? s->p->pop3.r.uidl_ok : s->p->pop3.r.list_ok, &r);
    for (uint32_t i = 1; i <= s->count; i++) {
        const store_msg *m = maildrop_msg(s, i);
        if (!m)
            continue;
        char uid[32] = "";
        if (uidl && (!mb || store_msg_uidl(mb, m, uid, sizeof uid) < 0))
            snprintf(uid, sizeof uid, "%" PRIu32, m->uid);
        int k = uidl ? snprintf(line, sizeof line, "%" PRIu32 " %s\r\n", i, uid)
                     : snprintf(line, sizeof line, "%" PRIu32 " %zu\r\n", i, m->size);
        send_raw(s, line, (size_t)k);
    }
    send_raw(s, ".\r\n", 3);
}

static void do_list(pop3d *s, const pop3_command *c)
{
    listing(s, c, 0);
}

static void do_uidl(pop3d *s, const pop3_command *c)
{
    listing(s, c, 1);
}

static void do_retr(pop3d *s, const pop3_command *c)
{
    store_msg *m = maildrop_msg(s, c->msg);
    reply_vals r;
    vals_init(s, &r);
    vals_n_size(&r, c->msg, m->size);
    say(s, s->p->pop3.r.retr_ok, &r);
    send_body(s, m->data, m->size);
    store_mailbox *mb = store_view_mailbox(s->view);
    if (mb && !(m->flags & STORE_F_SEEN))
        store_set_flags(s->ml->st, mb, m, STORE_FLAGS_ADD, STORE_F_SEEN, 0, s->view, NULL);
}

static void do_top(pop3d *s, const pop3_command *c)
{
    store_msg *m = maildrop_msg(s, c->msg);
    size_t n = store_msg_top(m, c->lines > SIZE_MAX ? SIZE_MAX : (size_t)c->lines);
    reply_vals r;
    vals_init(s, &r);
    vals_n_size(&r, c->msg, n);
    say(s, s->p->pop3.r.top_ok, &r);
    send_body(s, m->data, n);
}

static void do_dele(pop3d *s, const pop3_command *c)
{
    s->deleted[c->msg - 1] = 1;
    reply_vals r;
    vals_init(s, &r);
    vals_n_size(&r, c->msg, 0);
    say(s, s->p->pop3.r.dele_ok, &r);
}

static void do_rset(pop3d *s, const pop3_command *c)
{
    (void)c;
    memset(s->deleted, 0, s->count);
    reply_vals r;
    vals_init(s, &r);
    uint64_t n, size;
    maildrop_totals(s, &n, &size);
    vals_n_size(&r, n, size);
    say(s, s->p->pop3.r.rset_ok, &r);
}

static void do_noop(pop3d *s, const pop3_command *c)
{
    (void)c;
    say(s, s->p->pop3.r.noop_ok, NULL);
}

/* store_view_expunge's predicate: the messages DELE marked. */
static int marked(void *ctx, const store_msg *m)
{
    pop3d *s = ctx;
    uint32_t seq = store_view_seq_from_uid(s->view, m->uid);
    return seq >= 1 && seq <= s->count && store_view_uid(s->view, seq) == m->uid && s->deleted[seq - 1];
}

static void do_quit(pop3d *s, const pop3_command *c)
{
    (void)c;
    if (s->state == PS_TRANSACTION && s->view) {
        /* RFC 1939 6: the UPDATE state */
        unsigned n = 0;
        for (uint32_t i = 0; i < s->count; i++)
            n += s->deleted[i];
        if (n) {
            store_err e = store_view_expunge(s->ml->st, s->view, marked, s, NULL, NULL);
            event(s, "pop3-update deleted=%u%s", n, e == STORE_OK ? "" : " failed=1");
            if (s->ml->mock)
                mock_changed(s->ml->mock);
        }
    }
    say(s, s->p->pop3.r.quit_ok, NULL);
    maildrop_close(s);
    close_with(s, "quit");
}

static void do_unknown(pop3d *s, const pop3_command *c)
{
    (void)c;
    say(s, s->p->pop3.r.unknown_command, NULL);
}

static const pop3d_cmd commands[POP3_VERB__COUNT] = {
    [POP3_USER] = {IN_AUTHZ, NULL, do_user},
    [POP3_PASS] = {IN_AUTHZ, check_pass, do_pass},
    [POP3_APOP] = {0, NULL, do_unknown}, /* no profile offers APOP */
    [POP3_STAT] = {IN_TRANS, NULL, do_stat},
    [POP3_LIST] = {IN_TRANS, NULL, do_list},
    [POP3_RETR] = {IN_TRANS, check_msg, do_retr},
    [POP3_DELE] = {IN_TRANS, check_msg, do_dele},
    [POP3_NOOP] = {IN_TRANS, NULL, do_noop},
    [POP3_RSET] = {IN_TRANS, NULL, do_rset},
    [POP3_QUIT] = {IN_AUTHZ | IN_TRANS, NULL, do_quit},
    [POP3_TOP] = {IN_TRANS, check_msg, do_top},
    [POP3_UIDL] = {IN_TRANS, NULL, do_uidl},
    [POP3_CAPA] = {IN_AUTHZ | IN_TRANS, NULL, do_capa},
    [POP3_STLS] = {IN_AUTHZ, check_stls, do_stls},
    [POP3_AUTH] = {IN_AUTHZ, NULL, do_auth},
};

/* ---- input ------------------------------------------------------------------------------------ */

static size_t line_limit(const pop3d *s, const char *p, size_t n)
{
    int is_auth = s->state == PS_AUTH || (n >= 4 && strncasecmp(p, "AUTH", 4) == 0);
    return is_auth ? s->p->pop3.s.max_auth_line : s->p->pop3.s.max_line;
}

/* A line over the limit: line_too_long and close (the profile's rule for POP3). */
static size_t too_long(pop3d *s, const char *p, size_t n, size_t limit)
{
    int secret = s->state == PS_AUTH || (n >= 4 && (strncasecmp(p, "AUTH", 4) == 0 || strncasecmp(p, "PASS", 4) == 0));
    if (secret)
        report(s, "<redacted>", 10, 1);
    else
        report(s, p, n, 1);
    event(s, EV_LINE_TOO_LONG " limit=%zu", limit);
    auth_free(s);
    s->line = (mr_slice){"", 0};
    say(s, s->p->pop3.r.line_too_long, NULL);
    close_with(s, "line-too-long");
    return n;
}

/* Report a command line, with PASS's secret and AUTH's initial response redacted. */
static void report_command(pop3d *s, const char *p, size_t used, const pop3_command *c)
{
    if (c->verb == POP3_PASS) {
        size_t pre = (size_t)(c->secret.p - p);
        if (c->secret.p < p || pre > used)
            pre = 5 < used ? 5 : used;
        size_t post = used - pre - (c->secret.p >= p ? c->secret.n : 0);
        char buf[64];
        if (pre + 10 + post > sizeof buf) {
            report(s, "PASS <redacted>\r\n", 17, 0);
            return;
        }
        memcpy(buf, p, pre);
        memcpy(buf + pre, "<redacted>", 10);
        memcpy(buf + pre + 10, p + used - post, post);
        report(s, buf, pre + 10 + post, 0);
        return;
    }
    if (c->verb == POP3_AUTH && c->has_initial_response && c->initial_response.n) {
        sasl_mech m = sasl_mech_lookup(c->mechanism);
        const char *ir = c->initial_response.p;
        size_t irn = c->initial_response.n, pre = (size_t)(ir - p), post = used - pre - irn;
        int k = sasl_redact(m, 0, ir, irn, 1, SASL_REDACT_WIRE, NULL, 0);
        char *out = malloc(pre + (size_t)k + post);
        if (!out) {
            report(s, "AUTH <redacted>\r\n", 17, 0);
            return;
        }
        memcpy(out, p, pre);
        sasl_redact(m, 0, ir, irn, 1, SASL_REDACT_WIRE, out + pre, (size_t)k);
        memcpy(out + pre + (size_t)k, ir + irn, post);
        report(s, out, pre + (size_t)k + post, 0);
        free(out);
        return;
    }
    report(s, p, used, 0);
}

static size_t command_input(pop3d *s, const char *p, size_t n)
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
    s->verb = POP3_VERB_NONE;

    pop3_limits lim = pop3_limits_default();
    lim.max_line = s->p->pop3.s.max_line;
    lim.max_auth_line = s->p->pop3.s.max_auth_line;
    pop3_command cmd;
    int r = pop3_command_parse(p, used, MR_STRICT, &lim, NULL, &cmd, &err);
    if (r == MR_ERROR) {
        mr_error err2;
        r = pop3_command_parse(p, used, MR_LENIENT, &lim, NULL, &cmd, &err2);
        if (r > 0)
            event(s, EV_STRICT_VIOLATION " rule=%s code=%s offset=%zu", err.rule, sess_errcode_word(err.code),
                  err.offset);
        else
            err = err2;
    }
    if (r <= 0) {
        if (n >= 4 && (strncasecmp(p, "PASS", 4) == 0 || strncasecmp(p, "AUTH", 4) == 0)) {
            report(s, p, 4, 0);
            report(s, " <redacted>\r\n", 13, 0);
            s->line = (mr_slice){p, 4};
        } else {
            report(s, p, used, 0);
        }
        say(s, err.code == MR_E_UNKNOWN_COMMAND ? s->p->pop3.r.unknown_command : s->p->pop3.r.syntax_error, NULL);
        return used;
    }
    s->verb = cmd.verb;
    if (cmd.verb == POP3_PASS || cmd.verb == POP3_AUTH)
        s->line = cmd.verb_text;
    report_command(s, p, used, &cmd);
    const pop3d_cmd *row = (unsigned)cmd.verb < POP3_VERB__COUNT ? &commands[cmd.verb] : NULL;
    if (!row || !row->proceed || !row->states) {
        say(s, s->p->pop3.r.unknown_command, NULL);
        return used;
    }
    unsigned here = s->state == PS_TRANSACTION ? IN_TRANS : IN_AUTHZ;
    if (!(row->states & here)) {
        say(s, s->p->pop3.r.bad_state, NULL);
        return used;
    }
    if (row->check && !row->check(s, &cmd))
        return used;
    row->proceed(s, &cmd);
    return used;
}

/* A response line in PS_AUTH. */
static size_t auth_input(pop3d *s, const char *p, size_t n)
{
    pop3_limits lim = pop3_limits_default();
    lim.max_auth_line = s->p->pop3.s.max_auth_line;
    mr_slice resp;
    int cancel = 0;
    mr_error err;
    int r = pop3_auth_response_parse(p, n, MR_STRICT, &lim, &resp, &cancel, &err);
    if (r == MR_ERROR && err.code != MR_E_LIMIT_LINE) {
        mr_error err2;
        int r2 = pop3_auth_response_parse(p, n, MR_LENIENT, &lim, &resp, &cancel, &err2);
        if (r2 > 0)
            event(s, EV_STRICT_VIOLATION " rule=%s code=%s offset=%zu", err.rule, sess_errcode_word(err.code),
                  err.offset);
        else if (r2 == MR_ERROR)
            err = err2;
        r = r2;
    }
    if (r == MR_NEED_MORE)
        return 0;
    if (r == MR_ERROR && err.code == MR_E_LIMIT_LINE)
        return too_long(s, p, n, lim.max_auth_line);
    char mech[24];
    snprintf(mech, sizeof mech, "%s", s->auth->mech_name);
    if (r == MR_ERROR) {
        mr_slice line;
        int k = mr_line_next(p, n, lim.max_auth_line, MR_LENIENT, NULL, &line, NULL);
        if (k == MR_NEED_MORE)
            return 0;
        if (k < 0)
            return too_long(s, p, n, lim.max_auth_line);
        report(s, "<redacted>\r\n", 12, 0);
        refuse(s, PROFILE_VIA_SASL, PROFILE_AUTH_BAD_BLOB, mech, (mr_slice){"", 0}, NULL);
        return (size_t)k;
    }
    size_t used = (size_t)r, end = (size_t)(resp.p - p) + resp.n;
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
        refuse(s, PROFILE_VIA_SASL, PROFILE_AUTH_CANCELLED, mech, (mr_slice){"", 0}, NULL);
    else
        auth_payload(s, resp.p, resp.n, SASL_CLIENT_RESPONSE);
    return used;
}

/* The first bytes on a plaintext port: a TLS ClientHello gets what the profile says. */
static size_t hello_check(pop3d *s, const char *p, size_t n)
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
        enter(s, PS_SILENT);
        return (size_t)-1;
    case PROFILE_HELLO_REPLY:
        break;
    }
    /* the whole record is one bad command line; what of it has not come yet is skipped */
    s->hello_left = h.left;
    report(s, p, h.record, 1);
    s->line = (mr_slice){p, h.record > 40 ? 40 : h.record};
    say(s, s->p->pop3.r.unknown_command, NULL);
    return h.record;
}

/* ---- session_ops ------------------------------------------------------------------------------ */

#define ENTRY(s)                                                                                       \
    template_conn tc_;                                                                                 \
    (s)->tc = &tc_;                                                                                    \
    (s)->tc_ready = 0;                                                                                 \
    (s)->line = (mr_slice){"", 0}

#define LEAVE(s) ((s)->tc = NULL, (s)->line = (mr_slice){"", 0})

static void pop3d_open(session *base)
{
    pop3d *s = (pop3d *)base;
    ENTRY(s);
    unsigned max = s->p->pop3.s.max_connections;
    if (!sess_admit(&s->adm, s->ml->st, PROFILE_POP3, base->info, max)) {
        event(s, "too-many-connections address=%s open=%u limit=%u", s->adm.ip, s->adm.open - 1,
              max);
        say(s, s->p->pop3.r.too_many_connections, NULL);
        close_with(s, "too-many-connections");
        LEAVE(s);
        return;
    }
    say(s, profile_listener_greeting(s->p, s->ml->pl), NULL);
    LEAVE(s);
}

static size_t pop3d_input(session *base, const char *p, size_t n)
{
    pop3d *s = (pop3d *)base;
    ENTRY(s);
    size_t used = 0;
    if (!s->first_seen && !tls_on(s) && s->state == PS_AUTHORIZATION) {
        size_t k = hello_check(s, p, n);
        if (k != (size_t)-1) {
            LEAVE(s);
            return k;
        }
    }
    s->first_seen = 1;
    if (s->hello_left && s->state != PS_CLOSED) {
        used = s->hello_left < n ? s->hello_left : n;
        s->hello_left -= (uint32_t)used;
        report(s, p, used, 1);
    }
    while (used < n) {
        size_t k = 0;
        switch (s->state) {
        case PS_AUTHORIZATION:
        case PS_TRANSACTION: k = command_input(s, p + used, n - used); break;
        case PS_AUTH: k = auth_input(s, p + used, n - used); break;
        case PS_SILENT:
            k = n - used;
            report(s, p + used, k, 1);
            break;
        case PS_TLS:
        case PS_CLOSED:
        case PS__COUNT: k = 0; break;
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

static void pop3d_tls_ready(session *base)
{
    pop3d *s = (pop3d *)base;
    /* RFC 2595 4: back to AUTHORIZATION, CAPA answers anew */
    auth_free(s);
    forget_user(s);
    s->scanned = 0;
    s->first_seen = 1;
    enter(s, PS_AUTHORIZATION);
}

static void pop3d_timeout(session *base)
{
    pop3d *s = (pop3d *)base;
    ENTRY(s);
    s->verb = POP3_VERB_NONE;
    if (s->state != PS_CLOSED && s->p->pop3.r.timed_out)
        say(s, s->p->pop3.r.timed_out, NULL);
    enter(s, PS_CLOSED);
    LEAVE(s);
}

static void pop3d_free(session *base)
{
    pop3d *s = (pop3d *)base;
    sess_release(&s->adm);
    auth_free(s);
    forget_user(s);
    maildrop_close(s);
    free(s);
}

static const session_ops pop3d_ops = {pop3d_open, pop3d_input, pop3d_tls_ready, pop3d_timeout, pop3d_free};

session *pop3d_new(void *ctx, const session_io *io, session_info *info)
{
    const mock_listener *ml = ctx;
    pop3d *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &pop3d_ops;
    s->base.io = io;
    s->base.info = info;
    s->ml = ml;
    s->p = ml->prof;
    s->state = PS_AUTHORIZATION;
    s->start_ms = sess_now_ms();
    const char *dbg = getenv("MAILRIG_DEBUG_STATES");
    s->debug = dbg && *dbg && strcmp(dbg, "0") != 0;
    s->line = (mr_slice){"", 0};
    return &s->base;
}
