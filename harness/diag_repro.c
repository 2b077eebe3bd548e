/* diag_repro.c -- the plans and scenarios of `mailrig reproduce` (diag_repro.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "harness/diag_repro.h"

/* ---- notes ------------------------------------------------------------------------------------ */

static void note(repro_server *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(repro_server *sv, const char *fmt, ...)
{
    size_t n = strlen(sv->notes);
    if (n + 3 >= sizeof sv->notes)
        return;
    if (n) {
        memcpy(sv->notes + n, "; ", 3);
        n += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sv->notes + n, sizeof sv->notes - n, fmt, ap);
    va_end(ap);
}

/* ---- the profile's documented settings ---------------------------------------------------------- */

static profile_proto pproto(diag_proto p)
{
    return p == DIAG_PROTO_IMAP ? PROFILE_IMAP : p == DIAG_PROTO_POP3 ? PROFILE_POP3 : PROFILE_SMTP;
}

static const profile_listener *documented(const profile *p, diag_proto proto)
{
    for (size_t i = 0; i < p->n_listeners; i++) {
        const profile_listener *l = &p->listeners[i];
        if (l->proto == pproto(proto) && l->auth &&
            (l->mode == PROFILE_MODE_IMPLICIT_TLS || l->mode == PROFILE_MODE_STARTTLS))
            return l;
    }
    return NULL;
}

static diag_wire wire_of(const profile_listener *l)
{
    if (!l)
        return DIAG_WIRE_UNSET;
    return l->mode == PROFILE_MODE_IMPLICIT_TLS ? DIAG_WIRE_IMPLICIT_TLS
           : l->mode == PROFILE_MODE_STARTTLS   ? DIAG_WIRE_STARTTLS
           : l->mode == PROFILE_MODE_PLAIN      ? DIAG_WIRE_NONE
                                                : DIAG_WIRE_UNSET; /* closed, silent */
}

static void documented_username(const profile *p, diag_proto proto, const char *email, char *out, size_t cap)
{
    const profile_service *svc = profile_service_of(p, pproto(proto));
    const char *at = strchr(email, '@');
    if (at && svc->username.n && svc->username.v[0] == PROFILE_UFORM_LOCAL)
        snprintf(out, cap, "%.*s", (int)(at - email), email);
    else
        snprintf(out, cap, "%s", email);
}

/* ---- the user's conversation ------------------------------------------------------------------- */

/* The user's server, with what the settings leave out taken from the documentation. */
static void user_server(const diag_settings *s, diag_server_id id, const profile *p, const char *email,
                        repro_server *out)
{
    const diag_server *sv = &s->server[id];
    memset(out, 0, sizeof *out);
    for (int f = DIAG_F_PROTOCOL; f < DIAG_F_COUNT; f++)
        out->present |= sv->given[f];
    if (!out->present)
        return;
    out->runnable = true;
    out->proto = sv->proto;
    if (out->proto == DIAG_PROTO_UNSET) {
        out->runnable = false;
        snprintf(out->why_not, sizeof out->why_not, "the protocol is not given and cannot be inferred");
        return;
    }
    const profile_service *svc = profile_service_of(p, pproto(out->proto));
    const profile_listener *doc = documented(p, out->proto);
    snprintf(out->host, sizeof out->host, "%s", sv->host[0] ? sv->host : svc->host ? svc->host : "");
    if (!sv->host[0])
        note(out, "server not given: %s assumed", out->host);
    out->port = sv->port;
    if (!out->port) {
        /* the documented port, else the protocol's standard one (the provider has none) */
        out->port = doc ? doc->port : out->proto == DIAG_PROTO_IMAP ? 993 : out->proto == DIAG_PROTO_POP3 ? 995 : 587;
        note(out, "port not given: %u assumed", out->port);
    }
    out->wire = sv->reading.wire;
    if (sv->reading.alt) {
        note(out, "\"%s\" is ambiguous here: run as %s (the other reading: %s)", sv->security,
             diag_wire_words(sv->reading.wire), diag_wire_words(sv->reading.alt));
    }
    if (out->wire == DIAG_WIRE_UNSET) {
        out->wire = wire_of(profile_listener_find(p, out->port));
        if (out->wire == DIAG_WIRE_UNSET)
            out->wire = wire_of(doc);
        if (out->wire == DIAG_WIRE_UNSET) /* RFC 8314's implicit-TLS ports, else STARTTLS */
            out->wire = out->port == 993 || out->port == 995 || out->port == 465 ? DIAG_WIRE_IMPLICIT_TLS
                                                                                 : DIAG_WIRE_STARTTLS;
        note(out, "security not given: %s assumed", diag_wire_words(out->wire));
    }
    if (sv->username[0]) {
        snprintf(out->username, sizeof out->username, "%s", sv->username);
    } else {
        documented_username(p, out->proto, email, out->username, sizeof out->username);
        note(out, "user name not given: %s assumed", out->username);
    }
    out->password = sv->password;
    if (!out->password) {
        out->password = svc->passwords & PROFILE_PW_APP ? DIAG_PW_APP : DIAG_PW_ACCOUNT;
        note(out, "password not given: the %s password assumed", diag_password_name(out->password));
    }
    out->auth = sv->auth;
    if (!out->auth) {
        out->auth = DIAG_AUTH_NORMAL;
        note(out, "authentication not given: normal password assumed");
    }
}

/* ---- the fixes ----------------------------------------------------------------------------------- */

/* Apply the fix of finding f (of this server) to fx. */
static void apply_fix(const diag_finding *f, const profile *p, const char *email, repro_server *fx)
{
    const profile_listener *doc = documented(p, fx->proto);
    const profile_service *svc = profile_service_of(p, pproto(fx->proto));
    switch (f->rule->trigger) {
    case DIAG_T_SERVER_NAME:
        if (svc->host)
            snprintf(fx->host, sizeof fx->host, "%s", svc->host);
        note(fx, "server %s", fx->host);
        break;
    case DIAG_T_PROTOCOL_UNSUPPORTED:
        fx->proto = DIAG_PROTO_IMAP;
        doc = documented(p, fx->proto);
        if (p->imap.s.host)
            snprintf(fx->host, sizeof fx->host, "%s", p->imap.s.host);
        fx->port = doc ? doc->port : fx->port;
        fx->wire = wire_of(doc);
        documented_username(p, fx->proto, email, fx->username, sizeof fx->username);
        /* nothing else of this server was judged: take IMAP's documented login as a whole */
        fx->auth = DIAG_AUTH_NORMAL;
        fx->password = p->imap.s.passwords & PROFILE_PW_APP ? DIAG_PW_APP : DIAG_PW_ACCOUNT;
        note(fx, "IMAP at %s:%u with %s, user %s, the %s password", fx->host, fx->port, diag_wire_words(fx->wire),
             fx->username, diag_password_name(fx->password));
        break;
    case DIAG_T_PORT_CLOSED:
    case DIAG_T_PROTOCOL_PORT:
    case DIAG_T_AUTH_NOT_ON_PORT:
        if (doc) {
            fx->port = doc->port;
            fx->wire = wire_of(doc);
            note(fx, "port %u with %s", fx->port, diag_wire_words(fx->wire));
        }
        break;
    case DIAG_T_TLS_IMPLICIT_ON_STARTTLS:
    case DIAG_T_TLS_STARTTLS_ON_IMPLICIT:
    case DIAG_T_TLS_NONE_ON_IMPLICIT:
    case DIAG_T_TLS_NONE_ON_STARTTLS:
    case DIAG_T_TLS_ON_PLAIN: {
        const profile_listener *l = profile_listener_find(p, fx->port);
        fx->wire = wire_of(l);
        note(fx, "%s on port %u", diag_wire_words(fx->wire), fx->port);
        break;
    }
    case DIAG_T_AUTH_MECH:
    case DIAG_T_AUTH_NONE:
        fx->auth = DIAG_AUTH_NORMAL;
        note(fx, "normal password");
        break;
    case DIAG_T_USERNAME_FORM:
    case DIAG_T_USERNAME_OTHER:
        documented_username(p, fx->proto, email, fx->username, sizeof fx->username);
        note(fx, "user name %s", fx->username);
        break;
    case DIAG_T_PASSWORD_KIND:
        fx->password = svc->passwords & PROFILE_PW_APP ? DIAG_PW_APP : DIAG_PW_ACCOUNT;
        note(fx, "the %s password", diag_password_name(fx->password));
        break;
    default:
        break;
    }
}

/* Whether finding f is one reproduce fixes: errors, and the TLS failures of an ambiguous
 * label's reading (warnings then) since the run uses that reading. */
static bool fixes(const diag_finding *f)
{
    if (f->rule->kind != DIAG_KIND_SETTING)
        return false;
    if (f->severity == DIAG_ERROR)
        return true;
    switch (f->rule->trigger) {
    case DIAG_T_TLS_IMPLICIT_ON_STARTTLS:
    case DIAG_T_TLS_STARTTLS_ON_IMPLICIT:
    case DIAG_T_TLS_NONE_ON_IMPLICIT:
    case DIAG_T_TLS_ON_PLAIN:
    case DIAG_T_USERNAME_OTHER:
    case DIAG_T_SERVER_NAME:
        return true;
    default:
        return false;
    }
}

static bool has_finding(const diag_report *r, diag_server_id id, diag_trigger t)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].server == id && r->findings[i].rule->trigger == t)
            return true;
    return false;
}

/* A server name the diagnosis does not call wrong (an unknown host under --provider) but the
 * mock's certificate does not carry: connect by the profile's name, or the run would fail on
 * a certificate that only the mock has. */
static void mock_host(const profile *p, const diag_report *r, diag_server_id id, repro_server *sv)
{
    const char *names[32];
    size_t n = profile_hosts(p, names, 32);
    for (size_t i = 0; i < n && i < 32; i++)
        if (!strcasecmp(names[i], sv->host))
            return;
    const profile_service *svc = profile_service_of(p, pproto(sv->proto));
    if (has_finding(r, id, DIAG_T_SERVER_NAME) || !svc->host)
        return;
    note(sv, "%s is not a name of the mock's certificate: connected as %s", sv->host, svc->host);
    snprintf(sv->host, sizeof sv->host, "%s", svc->host);
}

/* The fix for an account state: the provider's remedy, as far as settings can carry it. */
static void fix_state(repro_plan *pl)
{
    if (!strcmp(pl->state, "basic-auth-disabled")) {
        /* passwords are refused: sign in with OAuth2 instead; the account stays as it is */
        snprintf(pl->fixed_state, sizeof pl->fixed_state, "%s", pl->state);
        for (int i = 0; i < DIAG_SERVERS; i++)
            if (pl->fixed[i].present) {
                pl->fixed[i].auth = DIAG_AUTH_OAUTH2;
                note(&pl->fixed[i], "OAuth2 (basic authentication is disabled for the account)");
            }
        return;
    }
    /* not signed in, protocol or SMTP AUTH disabled: the fix is on the account, not in the
     * settings; the corrected run is the account after it */
    for (int i = 0; i < DIAG_SERVERS; i++)
        if (pl->fixed[i].present && pl->state[0])
            note(&pl->fixed[i], "account state ok (was %s: fixed on the account, not in the settings)", pl->state);
    pl->fixed_state[0] = '\0';
}

int repro_plan_make(const diag_settings *s, const diag_report *r, const profile *p, const char *state,
                    repro_plan *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!r->provider[0] || r->how == DIAG_PROVIDER_CONFLICT) {
        snprintf(err, errlen, "the provider is %s: give --provider NAME to choose the mock",
                 r->how == DIAG_PROVIDER_CONFLICT ? "unclear (the evidence disagrees)" : "unknown");
        return -1;
    }
    snprintf(out->provider, sizeof out->provider, "%s", r->provider);
    const char *email = s->email;
    const char *at = strchr(email, '@');
    const profile_account *acct = at ? profile_account_by_address(p, email, strlen(email)) : NULL;
    out->stand_in = !acct;
    if (!acct && p->n_accounts)
        acct = &p->accounts[0];
    if (!acct) {
        snprintf(err, errlen, "the profile %s has no account to stand for the user", p->name);
        return -1;
    }
    snprintf(out->account, sizeof out->account, "%s", acct->name);
    snprintf(out->account_email, sizeof out->account_email, "%s", acct->email);
    snprintf(out->state, sizeof out->state, "%s", state && strcmp(state, "ok") ? state : "");
    const char *user_email = at ? email : acct->email;
    snprintf(out->user_email, sizeof out->user_email, "%s", user_email);
    for (int i = 0; i < DIAG_SERVERS; i++) {
        user_server(s, (diag_server_id)i, p, user_email, &out->user[i]);
        if (out->user[i].runnable)
            mock_host(p, r, (diag_server_id)i, &out->user[i]);
        out->fixed[i] = out->user[i];
        out->fixed[i].notes[0] = '\0';
    }
    for (size_t k = 0; k < r->n_findings; k++) {
        const diag_finding *f = &r->findings[k];
        if (f->server < DIAG_SERVERS && out->fixed[f->server].present && fixes(f))
            apply_fix(f, p, user_email, &out->fixed[f->server]);
    }
    fix_state(out);
    return 0;
}

/* ---- scenarios ------------------------------------------------------------------------------------ */

typedef struct out {
    char *buf;
    size_t cap, n;
    bool overflow;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->buf + o->n, o->n < o->cap ? o->cap - o->n : 0, fmt, ap);
    va_end(ap);
    if (w < 0 || o->n + (size_t)w >= o->cap)
        o->overflow = true;
    else
        o->n += (size_t)w;
}

/* Append typed text to buf as the inside of a scenario string: quotes, backslashes and braces
 * escaped, so a user name can never end the string or name a variable. */
static size_t escaped(char *buf, size_t n, size_t cap, const char *typed, bool imap)
{
    for (const char *p = typed; *p && n + 5 < cap; p++) {
        if (imap && (*p == '"' || *p == '\\')) { /* IMAP quoted-string escape, then ours */
            buf[n++] = '\\';
            buf[n++] = '\\';
        }
        if (*p == '"' || *p == '\\' || *p == '{')
            buf[n++] = '\\';
        buf[n++] = *p;
    }
    buf[n] = '\0';
    return n;
}

/* The user name as scenario text: where the user's matches the user's address (a stand-in
 * account), the account's address or name part, so its form is kept. email "" = as typed. */
static void username_text(const char *typed, const char *email, bool imap, char *buf, size_t cap)
{
    const char *at = strchr(email, '@');
    size_t local = at ? (size_t)(at - email) : 0;
    buf[0] = '\0';
    if (at && !strcasecmp(typed, email)) {
        snprintf(buf, cap, "{account.email}");
    } else if (at && strlen(typed) == local && !strncasecmp(typed, email, local)) {
        snprintf(buf, cap, "{account.local}");
    } else if (at && strlen(typed) > local && typed[local] == '@' && !strncasecmp(typed, email, local)) {
        size_t n = (size_t)snprintf(buf, cap, "{account.local}");
        escaped(buf, n < cap ? n : cap - 1, cap, typed + local, imap);
    } else {
        escaped(buf, 0, cap, typed, imap);
    }
}

static const char *password_ref(const repro_server *sv, const profile_account *acct)
{
    if (sv->password == DIAG_PW_APP)
        return acct && acct->app_password ? "{account.app_password}" : "xxxx-xxxx-xxxx-xxxx";
    return "{account.password}";
}

/* The bearer token: the account's, or a stand-in where it has none (the provider refuses the
 * mechanism before looking at it). */
static const char *token_ref(const profile_account *acct)
{
    return acct && acct->oauth_token ? "{account.oauth_token}" : "no-token";
}

static void tls_line(out *o, const repro_server *sv)
{
    put(o, "tls      expect=ok verify=on sni=\"%s\"\n", sv->host);
}

static void imap_steps(out *o, const repro_server *sv, const char *user, const char *pw, const char *token)
{
    put(o, "expect-reply * OK\n");
    if (sv->wire == DIAG_WIRE_STARTTLS || sv->wire == DIAG_WIRE_STARTTLS_OPT) {
        put(o, "send     \"a0 STARTTLS\"\nexpect-reply a0 OK\nstarttls\n");
        tls_line(o, sv);
    }
    switch (sv->auth) {
    case DIAG_AUTH_NONE: break;
    case DIAG_AUTH_NORMAL: put(o, "send     \"a1 LOGIN \\\"%s\\\" %s\"\nexpect-reply a1 OK\n", user, pw); break;
    case DIAG_AUTH_OAUTH2:
        put(o, "var      xoauth=\"user=%s\\x01auth=Bearer %s\\x01\\x01\"\n", user, token);
        put(o, "send     \"a1 AUTHENTICATE XOAUTH2 {base64:xoauth}\"\nexpect-reply a1 OK\n");
        break;
    default:
        put(o, "send     \"a1 AUTHENTICATE %s\"\nexpect-reply +\n", sv->auth == DIAG_AUTH_SPA ? "NTLM"
                                                                  : sv->auth == DIAG_AUTH_CRAM_MD5 ? "CRAM-MD5"
                                                                  : sv->auth == DIAG_AUTH_GSSAPI ? "GSSAPI"
                                                                                                 : "EXTERNAL");
        put(o, "close\n");
        return;
    }
    put(o, "send     \"a2 SELECT INBOX\"\nexpect-reply a2 OK\nsend     \"a3 LOGOUT\"\nexpect-reply a3 OK\n");
}

static void smtp_auth(out *o, const repro_server *sv, const profile *p, const char *user, const char *pw)
{
    const profile_listener *l = profile_listener_find(p, sv->port);
    profile_offer offer = l ? profile_offer_now(p, PROFILE_SMTP, l, true) : (profile_offer){0};
    bool plain = !offer.mechs.n;
    for (size_t i = 0; i < offer.mechs.n; i++)
        plain |= offer.mechs.v[i] == PROFILE_MECH_PLAIN;
    if (plain) {
        put(o, "var      plain=\"\\x00%s\\x00%s\"\nsend     \"AUTH PLAIN {base64:plain}\"\nexpect-reply 235\n", user, pw);
        return;
    }
    put(o, "var      user=\"%s\"\nvar      pass=\"%s\"\n", user, pw);
    put(o, "send     \"AUTH LOGIN\"\nexpect-reply 334\nsend     \"{base64:user}\"\nexpect-reply 334\n");
    put(o, "send     \"{base64:pass}\"\nexpect-reply 235\n");
}

static void smtp_steps(out *o, const repro_server *sv, const profile *p, const char *user, const char *pw,
                       const char *token)
{
    put(o, "expect-reply 220\nsend     \"EHLO client.example\"\nexpect-reply 250\n");
    if (sv->wire == DIAG_WIRE_STARTTLS || sv->wire == DIAG_WIRE_STARTTLS_OPT) {
        put(o, "send     \"STARTTLS\"\nexpect-reply 220\nstarttls\n");
        tls_line(o, sv);
        put(o, "send     \"EHLO client.example\"\nexpect-reply 250\n");
    }
    switch (sv->auth) {
    case DIAG_AUTH_NONE: break;
    case DIAG_AUTH_NORMAL: smtp_auth(o, sv, p, user, pw); break;
    case DIAG_AUTH_OAUTH2:
        put(o, "var      xoauth=\"user=%s\\x01auth=Bearer %s\\x01\\x01\"\n", user, token);
        put(o, "send     \"AUTH XOAUTH2 {base64:xoauth}\"\nexpect-reply 235\n");
        break;
    default:
        put(o, "send     \"AUTH %s\"\nexpect-reply 334\nclose\n", sv->auth == DIAG_AUTH_SPA ? "NTLM"
                                                                : sv->auth == DIAG_AUTH_CRAM_MD5 ? "CRAM-MD5"
                                                                : sv->auth == DIAG_AUTH_GSSAPI ? "GSSAPI"
                                                                                               : "EXTERNAL");
        return;
    }
    put(o, "send     \"MAIL FROM:<{account.email}>\"\nexpect-reply 250\n");
    put(o, "send     \"RCPT TO:<{account.email}>\"\nexpect-reply 250\n");
    put(o, "send     \"DATA\"\nexpect-reply 354\n");
    put(o, "send     \"From: <{account.email}>\" \"To: <{account.email}>\" \"Subject: mailrig reproduce\" \"\" "
           "\"test message\" \".\"\nexpect-reply 250\n");
    put(o, "send     \"QUIT\"\nexpect-reply 221\n");
}

static void pop3_steps(out *o, const repro_server *sv, const char *user, const char *pw)
{
    put(o, "expect-reply +OK\n");
    if (sv->wire == DIAG_WIRE_STARTTLS || sv->wire == DIAG_WIRE_STARTTLS_OPT) {
        put(o, "send     \"STLS\"\nexpect-reply +OK\nstarttls\n");
        tls_line(o, sv);
    }
    if (sv->auth != DIAG_AUTH_NONE)
        put(o, "send     \"USER %s\"\nexpect-reply +OK\nsend     \"PASS %s\"\nexpect-reply +OK\n", user, pw);
    put(o, "send     \"STAT\"\nexpect-reply +OK\nsend     \"QUIT\"\nexpect-reply +OK\n");
}

static const char *adapter_security(diag_wire w)
{
    return w == DIAG_WIRE_IMPLICIT_TLS ? "SSL/TLS" : w == DIAG_WIRE_NONE ? "None" : "STARTTLS";
}

int repro_scenario(const repro_plan *pl, bool fixed, diag_server_id id, const profile *p,
                   const char *const *sets, size_t nsets, const char *adapter, char *buf, size_t cap)
{
    const repro_server *sv = fixed ? &pl->fixed[id] : &pl->user[id];
    if (!sv->runnable || !sv->port || sv->wire == DIAG_WIRE_UNSET)
        return -1;
    const profile_account *acct = profile_account_find(p, pl->account);
    const char *state = fixed ? pl->fixed_state : pl->state;
    out o = {.buf = buf, .cap = cap};
    char user[2 * DIAG_ADDR_MAX];
    /* IMAP LOGIN quotes the name: escape it for IMAP (not for an adapter: the client does) */
    username_text(sv->username, pl->stand_in ? pl->user_email : "", !adapter && sv->proto == DIAG_PROTO_IMAP &&
                  sv->auth == DIAG_AUTH_NORMAL, user, sizeof user);
    put(&o, "scenario reproduce-%s-%s\n", diag_server_name(id), fixed ? "corrected" : "as-entered");
    put(&o, "describe \"%s settings %s\"\n", diag_server_name(id), fixed ? "with the fixes applied" : "as entered");
    put(&o, "profile  %s\nrole     %s\naccount  %s\n", pl->provider, adapter ? "server" : "client", pl->account);
    for (size_t i = 0; i < nsets; i++)
        put(&o, "set      %s\n", sets[i]);
    if (state[0])
        put(&o, "set      account.%s.state=%s\n", pl->account, state);
    put(&o, "timeout  step=%s total=60s\n\n", adapter ? "30s" : "3s");
    const char *proto = diag_proto_name(sv->proto);
    const char *pw = password_ref(sv, acct);
    if (adapter) {
        put(&o, "serve    %s\n", proto);
        put(&o, "client   %s server=\"%s\" port=%u security=%s user=\"%s\" password=%s cafile={cafile}\n", adapter,
            sv->host, sv->port, adapter_security(sv->wire), user, pw);
        put(&o, "expect-client exit=0 timeout=30s\n");
    } else {
        put(&o, "connect  %s %u %s\n", proto, sv->port, sv->wire == DIAG_WIRE_IMPLICIT_TLS ? "implicit-tls" : "plain");
        if (sv->wire == DIAG_WIRE_IMPLICIT_TLS)
            tls_line(&o, sv);
        if (sv->proto == DIAG_PROTO_IMAP)
            imap_steps(&o, sv, user, pw, token_ref(acct));
        else if (sv->proto == DIAG_PROTO_SMTP)
            smtp_steps(&o, sv, p, user, pw, token_ref(acct));
        else
            pop3_steps(&o, sv, user, pw);
    }
    return o.overflow ? -1 : (int)o.n;
}

void repro_describe(const repro_server *sv, char *buf, size_t cap)
{
    const char *proto = sv->proto == DIAG_PROTO_IMAP ? "IMAP" : sv->proto == DIAG_PROTO_POP3 ? "POP3" : "SMTP";
    snprintf(buf, cap, "%s %s:%u %s, user \"%s\", %s password, %s", proto, sv->host, sv->port,
             diag_wire_words(sv->wire), sv->username, diag_password_name(sv->password), diag_auth_name(sv->auth));
}
