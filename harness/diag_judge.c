/* diag_judge.c -- diag_run(): judge interpreted settings against the provider's profile.
 *
 * Order of work: establish the provider (given, or inferred from the address's domain and the
 * server names: every piece of evidence is kept, and disagreement is reported, not resolved),
 * load its profile, then check each server the input describes, step by step -- protocol,
 * server name, port, security against what the port does, authentication, user name,
 * password -- and finally list the account states that would explain a failure with right
 * settings. Every fact about the provider comes from the profile (hosts, listeners and their
 * modes, user name forms, password kinds, mechanisms, replies); the texts come from the
 * catalogue (diag_catalogue.c). A step that lacks its input adds a "cannot tell" entry.
 *
 * With no provider (unknown, or conflicting evidence) the ports and security are judged
 * against the standard port conventions of profiles/generic.ini (RFC 8314, 3207, 2595), and
 * only what any server would do is reported as an error.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness/diag.h"
#include "harness/diag_judge.h"
#include "servers/profile.h"

enum { REPLY_CAP = DIAG_TEXT_MAX / 2 };

/* ---- evidence about the provider ------------------------------------------------------------- */

/* Address domains of providers whose profiles cannot list them (they are the provider's
 * consumer domains, not host names). PROVIDERS.md section 1.1: @icloud.com, @me.com, @mac.com
 * are one account. */
static const struct {
    const char *domain;
    const char *provider;
} email_domains[] = {
    {"icloud.com", "icloud"},
    {"me.com", "icloud"},
    {"mac.com", "icloud"},
};

/* Domains under which a server name belongs to a provider even when it is not one of the
 * profile's hosts (a wrong name like imap.icloud.com is still iCloud's). */
static const struct {
    const char *suffix;
    const char *provider;
} host_domains[] = {
    {"icloud.com", "icloud"},  {"me.com", "icloud"},      {"mac.com", "icloud"},
    {"office365.com", "exchange"}, {"outlook.com", "exchange"},
};

static bool ends_with_domain(const char *host, const char *dom)
{
    size_t h = strlen(host), d = strlen(dom);
    if (h == d)
        return !strcasecmp(host, dom);
    return h > d && host[h - d - 1] == '.' && !strcasecmp(host + h - d, dom);
}

static void add_evidence(diag_report *r, const char *provider, const diag_origin *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_evidence(diag_report *r, const char *provider, const diag_origin *at, const char *fmt, ...)
{
    if (r->n_evidence >= DIAG_MAX_EVIDENCE)
        return;
    diag_evidence *e = &r->evidence[r->n_evidence++];
    memset(e, 0, sizeof *e);
    snprintf(e->provider, sizeof e->provider, "%s", provider);
    if (at)
        e->at = *at;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->what, sizeof e->what, fmt, ap);
    va_end(ap);
}

/* Which profile names host, and how ("the IMAP host", "a listener host"). */
static const profile *host_owner(const profile_set *ps, const char *host, const char **how)
{
    for (size_t i = 0; i < ps->n; i++) {
        const profile *p = ps->p[i];
        for (int k = 0; k < PROFILE_PROTO_COUNT; k++) {
            const profile_service *sv = profile_service_of(p, (profile_proto)k);
            if (sv->enabled && sv->host && !strcasecmp(sv->host, host)) {
                *how = k == PROFILE_IMAP ? "the IMAP host" : k == PROFILE_SMTP ? "the SMTP host" : "the POP3 host";
                return p;
            }
        }
        const char *names[32];
        size_t n = profile_hosts(p, names, 32);
        for (size_t j = 0; j < n && j < 32; j++)
            if (!strcasecmp(names[j], host)) {
                *how = "a host name";
                return p;
            }
    }
    return NULL;
}

static void server_evidence(diag_report *r, const profile_set *ps, const diag_settings *s)
{
    for (int i = 0; i < DIAG_SERVERS; i++) {
        const diag_server *sv = &s->server[i];
        if (!sv->given[DIAG_F_SERVER])
            continue;
        const char *how = NULL;
        const profile *p = host_owner(ps, sv->host, &how);
        if (p) {
            add_evidence(r, p->name, &sv->at[DIAG_F_SERVER], "%s server %s is %s of %s", diag_server_name(i),
                         sv->host, how, p->origin);
            continue;
        }
        for (size_t k = 0; k < sizeof host_domains / sizeof *host_domains; k++)
            if (ends_with_domain(sv->host, host_domains[k].suffix)) {
                add_evidence(r, host_domains[k].provider, &sv->at[DIAG_F_SERVER],
                             "%s server %s is under %s, a domain of %s", diag_server_name(i), sv->host,
                             host_domains[k].suffix, host_domains[k].provider);
                break;
            }
    }
}

static void email_evidence(diag_report *r, const diag_settings *s)
{
    const char *at = strchr(s->email, '@');
    if (!at)
        return;
    for (size_t k = 0; k < sizeof email_domains / sizeof *email_domains; k++)
        if (!strcasecmp(at + 1, email_domains[k].domain))
            add_evidence(r, email_domains[k].provider, &s->at[DIAG_F_EMAIL], "email domain %s", at + 1);
}

/* Decide the provider from the evidence: one name, or a conflict. */
static void establish_provider(diag_report *r, const diag_settings *s, const profile_set *ps)
{
    if (s->provider[0]) {
        snprintf(r->provider, sizeof r->provider, "%s", s->provider);
        r->how = DIAG_PROVIDER_GIVEN;
        add_evidence(r, s->provider, &s->at[DIAG_F_PROVIDER], "given");
        return;
    }
    email_evidence(r, s);
    server_evidence(r, ps, s);
    if (!r->n_evidence) {
        r->how = DIAG_PROVIDER_UNKNOWN;
        return;
    }
    for (size_t i = 1; i < r->n_evidence; i++)
        if (strcmp(r->evidence[i].provider, r->evidence[0].provider)) {
            r->how = DIAG_PROVIDER_CONFLICT;
            return;
        }
    snprintf(r->provider, sizeof r->provider, "%s", r->evidence[0].provider);
    r->how = DIAG_PROVIDER_INFERRED;
}

/* ---- placeholder texts ------------------------------------------------------------------------ */

void diag_fill_expand(const char *src, const diag_fill *f, char *out, size_t cap)
{
    static const char *const names[DIAG_PH_COUNT] = {
        "host", "port", "proto", "label", "wire", "auth", "username", "email", "reply", "mechs",
        "listener", "other", "readings", "fix_host", "fix_port", "fix_label", "fix_username",
    };
    size_t n = 0;
    if (!cap)
        return;
    out[0] = '\0';
    for (const char *p = src ? src : ""; *p && n + 1 < cap;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        int ph = -1;
        for (int i = 0; close && i < DIAG_PH_COUNT; i++)
            if ((size_t)(close - p - 1) == strlen(names[i]) && !strncmp(p + 1, names[i], strlen(names[i])))
                ph = i;
        if (ph < 0) {
            out[n++] = *p++;
            continue;
        }
        const char *v = f ? f->v[ph] : NULL;
        size_t vl = v ? strlen(v) : 0;
        if (vl > cap - 1 - n)
            vl = cap - 1 - n;
        memcpy(out + n, v ? v : "", vl);
        n += vl;
        p = close + 1;
    }
    out[n] = '\0';
}

/* ---- rendering a profile reply ------------------------------------------------------------------- */

/* The context a reply is rendered in: what the client sent. */
typedef struct reply_ctx {
    const char *tag, *command, *user, *mech, *email, *host;
    char size_limit[24];
} reply_ctx;

/* Write t's source with context placeholders filled from rc and per-connection ones as
 * <name> (they differ on every connection: <be>, <date>, <hex16>). */
static void render(const template *t, const reply_ctx *rc, char *out, size_t cap)
{
    out[0] = '\0';
    if (!t)
        return;
    const char *src = template_source(t);
    size_t n = 0;
    for (const char *p = src; *p && n + 1 < cap;) {
        if (p[0] == '{' && p[1] == '{') {
            out[n++] = '{';
            p += 2;
            continue;
        }
        if (p[0] == '}' && p[1] == '}') {
            out[n++] = '}';
            p += 2;
            continue;
        }
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            out[n++] = *p++;
            continue;
        }
        char name[32];
        size_t nl = (size_t)(close - p - 1);
        if (nl >= sizeof name)
            nl = sizeof name - 1;
        memcpy(name, p + 1, nl);
        name[nl] = '\0';
        const char *v = !strcmp(name, "tag")          ? rc->tag
                        : !strcmp(name, "command")    ? rc->command
                        : !strcmp(name, "user")       ? rc->user
                        : !strcmp(name, "mech")       ? rc->mech
                        : !strcmp(name, "email")      ? rc->email
                        : !strcmp(name, "host")       ? rc->host
                        : !strcmp(name, "size_limit") ? rc->size_limit
                                                      : NULL;
        int w = v && *v ? snprintf(out + n, cap - n, "%s", v) : snprintf(out + n, cap - n, "<%s>", name);
        n += w > 0 ? (size_t)w : 0;
        if (n >= cap)
            n = cap - 1;
        p = close + 1;
    }
    out[n] = '\0';
}

/* ---- the judge ---------------------------------------------------------------------------------- */

typedef struct judge {
    const diag_settings *s;
    const diag_env *env;
    diag_report *r;
    const profile *p;        /* the provider's profile, or generic.ini's standards */
    bool facts;              /* p is the provider's (false: standards only) */
    const char *provider;    /* r->provider, or NULL */
} judge;

/* Per server: what is being judged and the values for the texts. */
typedef struct server_ctx {
    diag_server_id id;
    const diag_server *sv;
    profile_proto pp;
    const profile_service *svc;
    const profile_listener *l;
    diag_fill fill;
    reply_ctx rc;
    char port[8], fix_port[8], mechs[160], username_fix[DIAG_ADDR_MAX], readings[DIAG_TEXT_MAX];
    bool security_failed;   /* an error about the connection itself: later steps are moot */
} server_ctx;

static profile_proto to_profile_proto(diag_proto p)
{
    return p == DIAG_PROTO_IMAP ? PROFILE_IMAP : p == DIAG_PROTO_POP3 ? PROFILE_POP3 : PROFILE_SMTP;
}

static const char *proto_upper(diag_proto p)
{
    return p == DIAG_PROTO_IMAP ? "IMAP" : p == DIAG_PROTO_POP3 ? "POP3" : p == DIAG_PROTO_SMTP ? "SMTP" : "?";
}

/* Add the finding for trigger t on field f with the server's values; sev < 0 keeps the rule's
 * severity. reply (may be NULL) is the exact reply, key its profile template name. Returns
 * the finding or NULL (no rule, duplicate, full). */
static diag_finding *add(judge *J, server_ctx *c, diag_trigger t, diag_field f, int sev, const char *key,
                         const char *reply)
{
    diag_proto proto = c ? c->sv->proto : DIAG_PROTO_UNSET;
    unsigned port = c ? c->sv->port : 0;
    diag_auth auth = c ? c->sv->auth : DIAG_AUTH_UNSET;
    const diag_rule *rule = diag_rule_for(t, J->facts ? J->provider : NULL, proto, port, auth);
    if (!rule)
        return NULL;
    diag_server_id id = c ? c->id : DIAG_ACCOUNT;
    const diag_origin *at = c ? &c->sv->at[f] : &J->s->at[f];
    diag_finding *fd = diag_report_add(J->r, rule, id, f, at);
    if (!fd)
        return NULL;
    if (sev >= 0 && (diag_severity)sev != fd->severity) {
        if (rule->kind == DIAG_KIND_SETTING) {
            J->r->n_severity[fd->severity]--;
            J->r->n_severity[sev]++;
        }
        fd->severity = (diag_severity)sev;
    }
    diag_fill local = c ? c->fill : (diag_fill){0};
    local.v[DIAG_PH_REPLY] = reply && *reply ? reply : NULL;
    diag_fill_expand(rule->title, &local, fd->title, sizeof fd->title);
    diag_fill_expand(rule->wire, &local, fd->wire, sizeof fd->wire);
    diag_fill_expand(rule->fix, &local, fd->fix, sizeof fd->fix);
    if (reply && *reply) {
        snprintf(fd->reply, sizeof fd->reply, "%s", reply);
        snprintf(fd->reply_key, sizeof fd->reply_key, "%s.%s", c ? diag_proto_name(c->sv->proto) : "", key ? key : "");
    }
    return fd;
}

/* The reply of an authentication outcome (the profile's decision), rendered. */
static void outcome_reply(judge *J, server_ctx *c, profile_auth_via via, profile_auth_outcome o, char *out,
                          size_t cap)
{
    profile_auth_result res = profile_auth_refusal(J->p, c->pp, via, o, 0);
    render(res.reply, &c->rc, out, cap);
}

static const char *outcome_key(profile_auth_outcome o, profile_proto pp)
{
    switch (o) {
    case PROFILE_AUTH_NOT_ON_LISTENER: return pp == PROFILE_SMTP ? "auth_not_offered" : "auth_mech_unsupported";
    case PROFILE_AUTH_NEEDS_TLS: return pp == PROFILE_SMTP ? "auth_needs_tls" : "login_disabled";
    case PROFILE_AUTH_LOGIN_DISABLED: return "login_disabled";
    case PROFILE_AUTH_MECH_UNSUPPORTED: return "auth_mech_unsupported";
    case PROFILE_AUTH_BASIC_DISABLED: return "auth_basic_disabled";
    case PROFILE_AUTH_PROTOCOL_DISABLED: return "auth_protocol_disabled";
    case PROFILE_AUTH_SMTP_DISABLED: return "auth_smtp_disabled";
    case PROFILE_AUTH_NOT_SIGNED_IN: return "auth_failed";
    default: return "auth_failed";
    }
}

/* The mechanism a client with authentication method a uses on proto; -1 for "a plaintext
 * password command" (IMAP LOGIN, POP3 USER/PASS), -2 for one we do not model. */
static int mech_for(diag_auth a, profile_proto pp, const profile_offer *o)
{
    switch (a) {
    case DIAG_AUTH_NORMAL:
        if (pp != PROFILE_SMTP && o->login)
            return -1;
        for (size_t i = 0; i < o->mechs.n; i++)
            if (o->mechs.v[i] == PROFILE_MECH_PLAIN || o->mechs.v[i] == PROFILE_MECH_LOGIN)
                return o->mechs.v[i];
        return PROFILE_MECH_PLAIN;
    case DIAG_AUTH_SPA: return PROFILE_MECH_NTLM;
    case DIAG_AUTH_CRAM_MD5: return PROFILE_MECH_CRAM_MD5;
    case DIAG_AUTH_OAUTH2:
        for (size_t i = 0; i < o->mechs.n; i++)
            if (o->mechs.v[i] == PROFILE_MECH_OAUTHBEARER)
                return PROFILE_MECH_OAUTHBEARER;
        return PROFILE_MECH_XOAUTH2;
    case DIAG_AUTH_GSSAPI: return PROFILE_MECH_GSSAPI;
    default: return -2;
    }
}

static const char *mech_label(int mech)
{
    return mech == -1 ? "LOGIN" : mech < 0 ? "EXTERNAL" : profile_mech_name((profile_mech)mech);
}

/* What the server offers after TLS, in words, into c->mechs. */
static void describe_offer(server_ctx *c, const profile_offer *o)
{
    size_t n = 0;
    c->mechs[0] = '\0';
    if (c->pp != PROFILE_SMTP && o->login)
        n += (size_t)snprintf(c->mechs, sizeof c->mechs, "%s", c->pp == PROFILE_IMAP ? "LOGIN" : "USER/PASS");
    for (size_t i = 0; i < o->mechs.n && n < sizeof c->mechs; i++)
        n += (size_t)snprintf(c->mechs + n, sizeof c->mechs - n, "%sAUTH %s", n ? ", " : "",
                              profile_mech_name((profile_mech)o->mechs.v[i]));
    if (!n)
        snprintf(c->mechs, sizeof c->mechs, "no authentication");
}

/* The first listener of the protocol that takes authentication: the documented port (profiles
 * list it first). */
static const profile_listener *documented_listener(const profile *p, profile_proto pp)
{
    for (size_t i = 0; i < p->n_listeners; i++) {
        const profile_listener *l = &p->listeners[i];
        if (l->proto == pp && l->auth && (l->mode == PROFILE_MODE_IMPLICIT_TLS || l->mode == PROFILE_MODE_STARTTLS))
            return l;
    }
    return NULL;
}

static diag_wire wire_of_mode(profile_mode m)
{
    return m == PROFILE_MODE_IMPLICIT_TLS ? DIAG_WIRE_IMPLICIT_TLS
           : m == PROFILE_MODE_STARTTLS   ? DIAG_WIRE_STARTTLS
           : m == PROFILE_MODE_PLAIN      ? DIAG_WIRE_NONE
                                          : DIAG_WIRE_UNSET;
}

/* What a listener without a description does, in words. */
static const char *listener_words(const profile_listener *l)
{
    switch (l->mode) {
    case PROFILE_MODE_IMPLICIT_TLS: return "implicit TLS: the TLS handshake comes first";
    case PROFILE_MODE_STARTTLS: return "plaintext greeting, then STARTTLS";
    case PROFILE_MODE_PLAIN: return "plaintext only";
    default: return "nothing answers";
    }
}

/* The client's label for wire mode w on port, or the generic wire name. */
static const char *label_for(judge *J, diag_wire w, unsigned port)
{
    const char *l = J->env && J->env->vocab ? diag_vocab_label_for(J->env->vocab, J->s->client, w, port) : NULL;
    return l ? l : diag_wire_name(w);
}

static void set_fix_port(judge *J, server_ctx *c, const profile_listener *l)
{
    if (!l)
        return;
    snprintf(c->fix_port, sizeof c->fix_port, "%u", l->port);
    c->fill.v[DIAG_PH_FIX_PORT] = c->fix_port;
    c->fill.v[DIAG_PH_FIX_LABEL] = label_for(J, wire_of_mode(l->mode), l->port);
}

/* ---- step: the connection ---------------------------------------------------------------------- */

/* What happens when the client speaks wire mode w to listener l: the trigger, or -1 when it
 * works. *login_refused: the port refuses passwords before TLS. */
static int tls_trigger(const judge *J, const server_ctx *c, diag_wire w)
{
    const profile_listener *l = c->l;
    profile_offer plain = profile_offer_now(J->p, c->pp, l, false);
    bool pw_before_tls = plain.login || plain.mechs.n > 0;
    switch (l->mode) {
    case PROFILE_MODE_IMPLICIT_TLS:
        return w == DIAG_WIRE_IMPLICIT_TLS ? -1
               : w == DIAG_WIRE_NONE       ? DIAG_T_TLS_NONE_ON_IMPLICIT
                                           : DIAG_T_TLS_STARTTLS_ON_IMPLICIT;
    case PROFILE_MODE_STARTTLS:
        if (w == DIAG_WIRE_IMPLICIT_TLS)
            return DIAG_T_TLS_IMPLICIT_ON_STARTTLS;
        if (w == DIAG_WIRE_STARTTLS_OPT)
            return DIAG_T_STARTTLS_OPTIONAL;
        if (w == DIAG_WIRE_NONE)
            return !l->auth ? -1 : pw_before_tls ? DIAG_T_PLAINTEXT_PASSWORD : DIAG_T_TLS_NONE_ON_STARTTLS;
        return -1;
    case PROFILE_MODE_PLAIN:
        if (w == DIAG_WIRE_IMPLICIT_TLS || w == DIAG_WIRE_STARTTLS)
            return DIAG_T_TLS_ON_PLAIN;
        return l->auth ? DIAG_T_PLAINTEXT_PASSWORD : -1;
    default:
        return -1;
    }
}

/* The exact reply that shows trigger t on the wire, rendered into out. */
static const char *tls_reply(judge *J, server_ctx *c, int t, char *out, size_t cap)
{
    out[0] = '\0';
    if (t == DIAG_T_TLS_IMPLICIT_ON_STARTTLS) {
        render(profile_listener_greeting(J->p, c->l), &c->rc, out, cap);
        return "greeting";
    }
    if (t == DIAG_T_TLS_NONE_ON_STARTTLS) {
        profile_auth_via via = c->pp == PROFILE_SMTP ? PROFILE_VIA_SASL : PROFILE_VIA_LOGIN;
        int mech = c->pp == PROFILE_SMTP ? PROFILE_MECH_PLAIN : 0;
        profile_auth_outcome o = profile_auth_gate(J->p, c->pp, c->l, false, via, mech);
        if (o == PROFILE_AUTH_OK)
            return NULL;
        outcome_reply(J, c, via, o, out, cap);
        return outcome_key(o, c->pp);
    }
    if (t == DIAG_T_TLS_ON_PLAIN) {
        const template *tp = c->pp == PROFILE_IMAP   ? J->p->imap.r.starttls_unavailable
                             : c->pp == PROFILE_SMTP ? J->p->smtp.r.starttls_unavailable
                                                     : J->p->pop3.r.stls_unavailable;
        render(tp, &c->rc, out, cap);
        return c->pp == PROFILE_POP3 ? "stls_unavailable" : "starttls_unavailable";
    }
    return NULL;
}

/* Without the provider's facts, only what fails on any server is an error. */
static int standards_severity(const judge *J, int t)
{
    if (J->facts)
        return -1;
    if (t == DIAG_T_TLS_NONE_ON_STARTTLS)
        return -2; /* the server may allow it: reported as plaintext-password instead */
    return -1;
}

static void add_tls(judge *J, server_ctx *c, int t, int sev)
{
    /* the fix keeps the port: the label for what this port does, in the client's words */
    c->fill.v[DIAG_PH_FIX_LABEL] = label_for(J, wire_of_mode(c->l->mode), c->sv->port);
    int std = standards_severity(J, t);
    if (std == -2)
        t = DIAG_T_PLAINTEXT_PASSWORD;
    char reply[REPLY_CAP];
    const char *key = tls_reply(J, c, t, reply, sizeof reply);
    diag_finding *fd = add(J, c, (diag_trigger)t, DIAG_F_SECURITY, sev, key, key ? reply : NULL);
    if (fd && fd->severity == DIAG_ERROR)
        c->security_failed = true;
    if (fd && c->sv->reading.label[0])
        snprintf(fd->detail, sizeof fd->detail, "\"%s\" in %s's vocabulary%s means %s on port %u (%s:%u; %s)",
                 c->sv->security, c->sv->reading.client, c->sv->reading.via_generic ? " (read as any client's)" : "",
                 diag_wire_words(c->sv->reading.wire), c->sv->port, c->sv->reading.at.file, c->sv->reading.at.line,
                 c->sv->reading.source);
}

/* Append s to buf (cap bytes), cutting what does not fit. */
static void append(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf), k = strlen(s);
    if (k > cap - 1 - n)
        k = cap - 1 - n;
    memcpy(buf + n, s, k);
    buf[n + k] = '\0';
}

static void describe_reading(const judge *J, server_ctx *c, diag_wire w, int t, char *buf, size_t cap)
{
    (void)J;
    const char *what = t < 0 ? "works"
                       : t == DIAG_T_STARTTLS_OPTIONAL || t == DIAG_T_PLAINTEXT_PASSWORD
                           ? "works, but the password may cross in plaintext"
                           : "fails";
    snprintf(buf, cap, "read as %s it %s on port %u (%s)", diag_wire_words(w), what, c->sv->port,
             c->l->description ? c->l->description : listener_words(c->l));
}

static void check_security(judge *J, server_ctx *c)
{
    const diag_server *sv = c->sv;
    if (!sv->given[DIAG_F_SECURITY]) {
        diag_report_cannot(J->r, c->id, DIAG_F_SECURITY, "security",
                           "not given: whether the client starts TLS at once, sends STARTTLS or stays in "
                           "plaintext cannot be judged");
        return;
    }
    if (sv->reading.wire == DIAG_WIRE_UNSET) {
        diag_report_cannot(J->r, c->id, DIAG_F_SECURITY, sv->security,
                           "the vocabulary has no reading of this label without a port");
        return;
    }
    c->fill.v[DIAG_PH_FIX_LABEL] = label_for(J, wire_of_mode(c->l->mode), sv->port);
    int t1 = tls_trigger(J, c, sv->reading.wire);
    if (sv->reading.alt == DIAG_WIRE_UNSET) {
        if (t1 >= 0)
            add_tls(J, c, t1, -1);
        return;
    }
    int t2 = tls_trigger(J, c, sv->reading.alt);
    char a[DIAG_TEXT_MAX / 2], b[DIAG_TEXT_MAX / 2];
    describe_reading(J, c, sv->reading.wire, t1, a, sizeof a);
    describe_reading(J, c, sv->reading.alt, t2, b, sizeof b);
    const char *parts[] = {a, "; ", b, sv->reading.note[0] ? ". " : "", sv->reading.note};
    c->readings[0] = '\0';
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        append(c->readings, sizeof c->readings, parts[i]);
    c->fill.v[DIAG_PH_READINGS] = c->readings;
    if (t1 == t2) {
        if (t1 >= 0)
            add_tls(J, c, t1, -1);
        return;
    }
    diag_finding *fd = add(J, c, DIAG_T_SECURITY_AMBIGUOUS, DIAG_F_SECURITY, -1, NULL, NULL);
    if (fd)
        snprintf(fd->detail, sizeof fd->detail, "no client given (or the client's vocabulary lacks the label): "
                 "\"%s\" is read with %s:%u (%s)", sv->security, sv->reading.at.file, sv->reading.at.line,
                 sv->reading.source);
    /* the failure holds under one reading only: a warning, not an error */
    if (t1 >= 0)
        add_tls(J, c, t1, DIAG_WARNING);
    if (t2 >= 0)
        add_tls(J, c, t2, DIAG_WARNING);
}

/* The listener for the port; false when the connection itself cannot work (reported). */
static bool check_port(judge *J, server_ctx *c)
{
    const diag_server *sv = c->sv;
    if (!sv->port) {
        diag_report_cannot(J->r, c->id, DIAG_F_PORT, "port", "not given: the port and security cannot be judged");
        return false;
    }
    c->l = profile_listener_find(J->p, sv->port);
    set_fix_port(J, c, documented_listener(J->p, c->pp));
    if (!J->facts) {
        if (c->l && c->l->proto != c->pp)
            c->l = NULL; /* an unusual port for the protocol: the standards say nothing */
        if (!c->l)
            diag_report_cannot(J->r, c->id, DIAG_F_PORT, c->port,
                               "not a standard port for %s and the provider is unknown: what listens there cannot "
                               "be judged", proto_upper(sv->proto));
        return c->l != NULL;
    }
    if (!c->l || c->l->mode == PROFILE_MODE_CLOSED || c->l->mode == PROFILE_MODE_SILENT) {
        c->fill.v[DIAG_PH_LISTENER] = c->l && c->l->description ? c->l->description : "no listener in the profile";
        add(J, c, DIAG_T_PORT_CLOSED, DIAG_F_PORT, -1, NULL, NULL);
        c->security_failed = true;
        return false;
    }
    c->fill.v[DIAG_PH_LISTENER] = c->l->description ? c->l->description : listener_words(c->l);
    if (c->l->proto != c->pp) {
        char reply[REPLY_CAP];
        render(profile_listener_greeting(J->p, c->l), &c->rc, reply, sizeof reply);
        c->fill.v[DIAG_PH_OTHER] = proto_upper(c->l->proto == PROFILE_IMAP   ? DIAG_PROTO_IMAP
                                               : c->l->proto == PROFILE_SMTP ? DIAG_PROTO_SMTP
                                                                             : DIAG_PROTO_POP3);
        add(J, c, DIAG_T_PROTOCOL_PORT, DIAG_F_PORT, -1, "greeting", reply);
        c->security_failed = true;
        return false;
    }
    return true;
}

/* ---- step: authentication, user name, password ---------------------------------------------------- */

static void check_auth(judge *J, server_ctx *c)
{
    const diag_server *sv = c->sv;
    char reply[REPLY_CAP];
    if (c->l && !c->l->auth) {
        if (sv->auth != DIAG_AUTH_NONE && J->facts) {
            profile_auth_outcome o = profile_auth_gate(J->p, c->pp, c->l, true, PROFILE_VIA_SASL, PROFILE_MECH_PLAIN);
            outcome_reply(J, c, PROFILE_VIA_SASL, o, reply, sizeof reply);
            add(J, c, DIAG_T_AUTH_NOT_ON_PORT, DIAG_F_PORT, -1, outcome_key(o, c->pp), reply);
        }
        return;
    }
    if (!sv->given[DIAG_F_AUTH]) {
        diag_report_cannot(J->r, c->id, DIAG_F_AUTH, "authentication",
                           "not given: the authentication method is assumed to be a normal password");
    }
    if (sv->auth == DIAG_AUTH_NONE) {
        c->fill.v[DIAG_PH_FIX_LABEL] = "normal password";
        if (c->pp == PROFILE_SMTP) {
            c->rc.command = "MAIL";
            render(J->p->smtp.r.auth_required, &c->rc, reply, sizeof reply);
            add(J, c, DIAG_T_AUTH_NONE, DIAG_F_AUTH, -1, "auth_required", reply);
        } else {
            add(J, c, DIAG_T_AUTH_NONE, DIAG_F_AUTH, -1, NULL, NULL);
        }
        return;
    }
    if (!J->facts || !c->l)
        return;
    profile_offer o = profile_offer_now(J->p, c->pp, c->l, true);
    describe_offer(c, &o);
    c->fill.v[DIAG_PH_MECHS] = c->mechs;
    diag_auth a = sv->auth == DIAG_AUTH_UNSET ? DIAG_AUTH_NORMAL : sv->auth;
    int mech = mech_for(a, c->pp, &o);
    profile_auth_via via = mech == -1 ? PROFILE_VIA_LOGIN : PROFILE_VIA_SASL;
    profile_auth_outcome g = profile_auth_gate(J->p, c->pp, c->l, true, via, mech == -2 ? -1 : mech);
    c->rc.mech = mech_label(mech);
    c->rc.command = via == PROFILE_VIA_LOGIN ? (c->pp == PROFILE_IMAP ? "LOGIN" : "PASS")
                                             : c->pp == PROFILE_IMAP ? "AUTHENTICATE" : "AUTH";
    if (g == PROFILE_AUTH_OK)
        return;
    c->fill.v[DIAG_PH_FIX_LABEL] = "normal password";
    outcome_reply(J, c, via, g, reply, sizeof reply);
    add(J, c, DIAG_T_AUTH_MECH, DIAG_F_AUTH, -1, outcome_key(g, c->pp), reply);
}

/* The form of user name typed: LOCAL, FULL, or -1 (neither the address nor its name part). */
static int username_form(const judge *J, const server_ctx *c)
{
    const char *u = c->sv->username, *email = J->s->email;
    const char *uat = strchr(u, '@'), *eat = strchr(email, '@');
    if (!eat)
        return uat ? PROFILE_UFORM_FULL : PROFILE_UFORM_LOCAL;
    size_t elocal = (size_t)(eat - email);
    if (!strcasecmp(u, email))
        return PROFILE_UFORM_FULL;
    if (!uat)
        return strlen(u) == elocal && !strncasecmp(u, email, elocal) ? PROFILE_UFORM_LOCAL : -1;
    /* name@another-domain-of-the-same-provider is an alias: the full form */
    if ((size_t)(uat - u) == elocal && !strncasecmp(u, email, elocal))
        for (size_t k = 0; k < sizeof email_domains / sizeof *email_domains; k++)
            if (!strcasecmp(uat + 1, email_domains[k].domain) && J->provider &&
                !strcmp(email_domains[k].provider, J->provider))
                return PROFILE_UFORM_FULL;
    return -1;
}

static void fix_username(const judge *J, server_ctx *c)
{
    const char *email = J->s->email, *eat = strchr(email, '@');
    if (!eat) {
        const char *u = c->sv->username, *uat = strchr(u, '@');
        if (!uat)
            return;
        email = u;
        eat = uat;
    }
    bool local = c->svc->username.n && c->svc->username.v[0] == PROFILE_UFORM_LOCAL;
    if (local)
        snprintf(c->username_fix, sizeof c->username_fix, "%.*s", (int)(eat - email), email);
    else
        snprintf(c->username_fix, sizeof c->username_fix, "%s", email);
    c->fill.v[DIAG_PH_FIX_USERNAME] = c->username_fix;
}

static bool uses_password(diag_auth a)
{
    return a == DIAG_AUTH_UNSET || a == DIAG_AUTH_NORMAL || a == DIAG_AUTH_CRAM_MD5 || a == DIAG_AUTH_SPA;
}

static void check_username(judge *J, server_ctx *c)
{
    const diag_server *sv = c->sv;
    fix_username(J, c);
    if (!sv->given[DIAG_F_USERNAME]) {
        diag_report_cannot(J->r, c->id, DIAG_F_USERNAME, "username", "not given");
        return;
    }
    if (!J->facts || sv->auth == DIAG_AUTH_NONE || sv->auth == DIAG_AUTH_OAUTH2)
        return;
    int form = username_form(J, c);
    char reply[REPLY_CAP];
    profile_auth_via via = sv->auth == DIAG_AUTH_NORMAL && c->pp != PROFILE_SMTP ? PROFILE_VIA_LOGIN : PROFILE_VIA_SASL;
    if (form < 0) {
        if (J->s->email[0])
            add(J, c, DIAG_T_USERNAME_OTHER, DIAG_F_USERNAME, -1, NULL, NULL);
        return;
    }
    bool accepted = false;
    for (size_t i = 0; i < c->svc->username.n; i++)
        accepted |= c->svc->username.v[i] == form;
    if (!accepted) {
        outcome_reply(J, c, via, PROFILE_AUTH_WRONG_USERNAME_FORM, reply, sizeof reply);
        add(J, c, DIAG_T_USERNAME_FORM, DIAG_F_USERNAME, -1, "auth_failed", reply);
    } else if (c->svc->username.v[0] != form) {
        add(J, c, DIAG_T_USERNAME_FALLBACK, DIAG_F_USERNAME, -1, NULL, NULL);
    }
}

static void check_password(judge *J, server_ctx *c)
{
    const diag_server *sv = c->sv;
    if (!uses_password(sv->auth))
        return;
    if (!sv->given[DIAG_F_PASSWORD]) {
        diag_report_cannot(J->r, c->id, DIAG_F_PASSWORD, "password",
                           "not given: which password was entered (account or app-specific) cannot be judged");
        return;
    }
    if (!J->facts)
        return;
    unsigned bit = sv->password == DIAG_PW_ACCOUNT ? PROFILE_PW_ACCOUNT : PROFILE_PW_APP;
    if (c->svc->passwords & bit)
        return;
    char reply[REPLY_CAP];
    profile_auth_via via = sv->auth == DIAG_AUTH_NORMAL && c->pp != PROFILE_SMTP ? PROFILE_VIA_LOGIN : PROFILE_VIA_SASL;
    outcome_reply(J, c, via, PROFILE_AUTH_WRONG_PASSWORD_KIND, reply, sizeof reply);
    c->fill.v[DIAG_PH_FIX_LABEL] = c->svc->passwords & PROFILE_PW_APP ? "app-specific" : "account";
    add(J, c, DIAG_T_PASSWORD_KIND, DIAG_F_PASSWORD, -1, "auth_failed", reply);
}

/* ---- step: account states ----------------------------------------------------------------------- */

/* Possible causes settings cannot show, with the reply the provider sends in that state. Only
 * states the catalogue documents for this provider are listed. */
static void possible_causes(judge *J, server_ctx *c)
{
    if (!J->facts)
        return;
    char reply[REPLY_CAP];
    static const struct {
        diag_trigger t;
        profile_auth_outcome o;
        bool incoming_only, smtp_only, password_only;
    } states[] = {
        {DIAG_T_STATE_NOT_SIGNED_IN, PROFILE_AUTH_NOT_SIGNED_IN, true, false, false},
        {DIAG_T_STATE_PROTOCOL_DISABLED, PROFILE_AUTH_PROTOCOL_DISABLED, true, false, false},
        {DIAG_T_STATE_BASIC_AUTH_DISABLED, PROFILE_AUTH_BASIC_DISABLED, false, false, true},
        {DIAG_T_STATE_SMTP_AUTH_DISABLED, PROFILE_AUTH_SMTP_DISABLED, false, true, false},
    };
    for (size_t i = 0; i < sizeof states / sizeof *states; i++) {
        if ((states[i].incoming_only && c->pp == PROFILE_SMTP) || (states[i].smtp_only && c->pp != PROFILE_SMTP) ||
            (states[i].password_only && !uses_password(c->sv->auth)))
            continue;
        const diag_rule *rule = diag_rule_for(states[i].t, J->provider, c->sv->proto, c->sv->port, c->sv->auth);
        if (!rule || !rule->provider)
            continue;
        const char *key;
        c->rc.command = c->pp == PROFILE_IMAP ? "LOGIN" : c->pp == PROFILE_SMTP ? "AUTH" : "PASS";
        if (states[i].t == DIAG_T_STATE_NOT_SIGNED_IN && c->pp == PROFILE_IMAP) {
            c->rc.command = "SELECT";
            render(J->p->imap.r.not_connected, &c->rc, reply, sizeof reply);
            key = "not_connected";
        } else {
            profile_auth_via via = c->pp == PROFILE_SMTP ? PROFILE_VIA_SASL : PROFILE_VIA_LOGIN;
            outcome_reply(J, c, via, states[i].o, reply, sizeof reply);
            key = outcome_key(states[i].o, c->pp);
        }
        add(J, c, states[i].t, DIAG_F_NONE, -1, key, reply);
    }
}

/* ---- one server ------------------------------------------------------------------------------- */

static bool server_given(const diag_server *sv)
{
    for (int f = DIAG_F_PROTOCOL; f < DIAG_F_COUNT; f++)
        if (sv->given[f])
            return true;
    return false;
}

static void init_server_ctx(judge *J, server_ctx *c, diag_server_id id)
{
    memset(c, 0, sizeof *c);
    c->id = id;
    c->sv = &J->s->server[id];
    c->pp = to_profile_proto(c->sv->proto);
    c->svc = profile_service_of(J->p, c->pp);
    snprintf(c->port, sizeof c->port, "%u", c->sv->port);
    diag_fill *f = &c->fill;
    f->v[DIAG_PH_HOST] = c->sv->host[0] ? c->sv->host : NULL;
    f->v[DIAG_PH_PORT] = c->port;
    f->v[DIAG_PH_PROTO] = proto_upper(c->sv->proto);
    f->v[DIAG_PH_LABEL] = c->sv->security[0] ? c->sv->security : NULL;
    f->v[DIAG_PH_WIRE] = diag_wire_words(c->sv->reading.wire);
    f->v[DIAG_PH_AUTH] = c->sv->auth_label[0] ? c->sv->auth_label : diag_auth_name(c->sv->auth);
    f->v[DIAG_PH_USERNAME] = c->sv->username;
    f->v[DIAG_PH_EMAIL] = J->s->email[0] ? J->s->email : "the address";
    f->v[DIAG_PH_FIX_HOST] = c->svc->host;
    c->rc = (reply_ctx){.tag = "A1", .command = c->pp == PROFILE_IMAP ? "LOGIN" : c->pp == PROFILE_SMTP ? "AUTH" : "PASS",
                        .user = c->sv->username[0] ? c->sv->username : NULL, .mech = "PLAIN",
                        .email = J->s->email[0] ? J->s->email : NULL, .host = c->svc->host};
    if (c->pp == PROFILE_SMTP)
        snprintf(c->rc.size_limit, sizeof c->rc.size_limit, "%llu", (unsigned long long)J->p->smtp.size_limit);
}

static void check_server(judge *J, diag_server_id id)
{
    const diag_server *sv = &J->s->server[id];
    if (!server_given(sv)) {
        diag_report_cannot(J->r, id, DIAG_F_NONE, diag_server_name(id), "no %s server settings were given",
                           diag_server_name(id));
        return;
    }
    if (sv->proto == DIAG_PROTO_UNSET) {
        diag_report_cannot(J->r, id, DIAG_F_PROTOCOL, "protocol",
                           "not given, and neither the port nor the server name says IMAP or POP3");
        return;
    }
    server_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return;
    init_server_ctx(J, c, id);
    if (J->facts && !c->svc->enabled) {
        set_fix_port(J, c, documented_listener(J->p, PROFILE_IMAP));
        c->fill.v[DIAG_PH_FIX_HOST] = J->p->imap.s.host;
        const profile_listener *l = profile_listener_find(J->p, sv->port);
        c->fill.v[DIAG_PH_LISTENER] = l && l->description ? l->description : "no listener";
        add(J, c, DIAG_T_PROTOCOL_UNSUPPORTED, DIAG_F_PROTOCOL, -1, NULL, NULL);
        free(c);
        return;
    }
    if (!sv->given[DIAG_F_SERVER])
        diag_report_cannot(J->r, id, DIAG_F_SERVER, "server", "not given");
    else if (J->facts && c->svc->host && strcasecmp(sv->host, c->svc->host))
        add(J, c, DIAG_T_SERVER_NAME, DIAG_F_SERVER, -1, NULL, NULL);
    if (check_port(J, c)) {
        check_security(J, c);
        if (J->facts)
            add(J, c, DIAG_T_PORT_ADVICE, DIAG_F_PORT, -1, NULL, NULL);
    }
    check_auth(J, c);
    check_username(J, c);
    check_password(J, c);
    possible_causes(J, c);
    free(c);
}

/* Exchange: incoming and outgoing user names should be the same. */
static void check_same_username(judge *J)
{
    const diag_server *in = &J->s->server[DIAG_IN], *out = &J->s->server[DIAG_OUT];
    if (!J->facts || !in->given[DIAG_F_USERNAME] || !out->given[DIAG_F_USERNAME] || !strcasecmp(in->username, out->username))
        return;
    const diag_rule *rule = diag_rule_for(DIAG_T_USERNAME_DIFFERS, J->provider, DIAG_PROTO_SMTP, out->port, out->auth);
    if (!rule || !rule->provider)
        return;
    server_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return;
    init_server_ctx(J, c, DIAG_OUT);
    fix_username(J, c);
    add(J, c, DIAG_T_USERNAME_DIFFERS, DIAG_F_USERNAME, -1, NULL, NULL);
    free(c);
}

/* ---- entry point --------------------------------------------------------------------------- */

static profile *load_profile(const char *name, const diag_env *env, bool with_sets, diag_msgs *msgs)
{
    profile_opts o = {.data_dir = env ? env->data_dir : NULL};
    if (with_sets && env) {
        o.sets = env->sets;
        o.n_sets = env->n_sets;
    }
    profile_diag d = {0};
    profile *p = profile_load(name, &o, &d);
    for (size_t i = 0; i < d.n; i++)
        diag_msgs_add(msgs, "%s", d.msg[i]);
    profile_diag_free(&d);
    return p;
}

static void report_provider(judge *J)
{
    diag_report *r = J->r;
    if (r->how == DIAG_PROVIDER_CONFLICT) {
        diag_finding *fd = add(J, NULL, DIAG_T_PROVIDER_CONFLICT, DIAG_F_PROVIDER, -1, NULL, NULL);
        if (fd) {
            size_t n = 0;
            for (size_t i = 0; i < r->n_evidence && n < sizeof fd->detail; i++)
                n += (size_t)snprintf(fd->detail + n, sizeof fd->detail - n, "%s%s -> %s", i ? "; " : "",
                                      r->evidence[i].what, r->evidence[i].provider);
        }
        diag_report_cannot(r, DIAG_ACCOUNT, DIAG_F_PROVIDER, "provider",
                           "the evidence disagrees (see the finding provider-conflict); judged against the standard "
                           "ports only");
    } else if (r->how == DIAG_PROVIDER_UNKNOWN) {
        diag_report_cannot(r, DIAG_ACCOUNT, DIAG_F_PROVIDER, "provider",
                           "neither the address nor the server names belong to a known provider (profiles/*.ini); "
                           "judged against the standard ports only: server names, user name forms and password "
                           "kinds were not checked");
    }
}

int diag_run(const diag_settings *s, const diag_env *env, diag_report *r, diag_msgs *msgs)
{
    profile_set ps;
    profile_set_load(&ps, env ? env->data_dir : NULL);
    establish_provider(r, s, &ps);
    profile_set_free(&ps);
    bool facts = r->how == DIAG_PROVIDER_GIVEN || r->how == DIAG_PROVIDER_INFERRED;
    profile *p = load_profile(facts ? r->provider : "generic", env, facts, msgs);
    if (!p) {
        if (r->how == DIAG_PROVIDER_GIVEN)
            diag_msgs_add(msgs, "%s: no profile '%s' (see `mailrig profile list`)",
                          s->at[DIAG_F_PROVIDER].file[0] ? s->at[DIAG_F_PROVIDER].file : "provider", r->provider);
        return -1;
    }
    snprintf(r->profile_origin, sizeof r->profile_origin, "%s", p->origin ? p->origin : "");
    judge J = {.s = s, .env = env, .r = r, .p = p, .facts = facts, .provider = facts ? r->provider : NULL};
    report_provider(&J);
    if (!s->given[DIAG_F_EMAIL])
        diag_report_cannot(r, DIAG_ACCOUNT, DIAG_F_EMAIL, "email",
                           "not given: the user names cannot be compared with the address");
    for (int i = 0; i < DIAG_SERVERS; i++)
        check_server(&J, (diag_server_id)i);
    check_same_username(&J);
    profile_free(p);
    return 0;
}
