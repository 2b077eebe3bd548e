/* probe.c -- the pure half of `mailrig probe`: the plan, the host check, reading capability
 * lists, and judging what the attempts saw. See probe.h; the network half is probe_net.c. */
#include "harness/probe.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const int probe_ports[7] = {993, 143, 465, 587, 25, 995, 110};

const probe_setting probe_settings[10] = {
    {PROFILE_IMAP, 993, PROBE_SEC_IMPLICIT}, {PROFILE_IMAP, 143, PROBE_SEC_STARTTLS},
    {PROFILE_IMAP, 143, PROBE_SEC_PLAIN},    {PROFILE_SMTP, 587, PROBE_SEC_STARTTLS},
    {PROFILE_SMTP, 465, PROBE_SEC_IMPLICIT}, {PROFILE_SMTP, 25, PROBE_SEC_STARTTLS},
    {PROFILE_SMTP, 25, PROBE_SEC_PLAIN},     {PROFILE_POP3, 995, PROBE_SEC_IMPLICIT},
    {PROFILE_POP3, 110, PROBE_SEC_STARTTLS}, {PROFILE_POP3, 110, PROBE_SEC_PLAIN},
};

/* ---- names ---------------------------------------------------------------------------------- */

#define NAME_OF(table, v) ((unsigned)(v) < sizeof table / sizeof table[0] && table[v] ? table[v] : "?")

const char *probe_outcome_name(probe_outcome o)
{
    static const char *const t[] = {"not-run", "refused", "connect-timeout", "connect-error",
                                    "timeout", "closed", "plaintext", "tls-failed", "garbage",
                                    "tls"};
    return NAME_OF(t, o);
}

const char *probe_stls_name(probe_stls s)
{
    static const char *const t[] = {"not-tried", "ok", "refused", "failed"};
    return NAME_OF(t, s);
}

const char *probe_port_kind_name(probe_port_kind k)
{
    static const char *const t[] = {"unmapped", "closed", "silent", "implicit-tls", "starttls",
                                    "starttls-broken", "plain", "plaintext", "rejects", "error"};
    return NAME_OF(t, k);
}

const char *probe_sec_name(probe_sec s)
{
    static const char *const t[] = {"implicit", "starttls", "plain"};
    return NAME_OF(t, s);
}

const char *probe_sec_label(probe_sec s)
{
    static const char *const t[] = {"SSL/TLS", "STARTTLS", "None"};
    return NAME_OF(t, s);
}

const char *probe_severity_name(probe_severity s)
{
    static const char *const t[] = {"info", "warning", "error"};
    return NAME_OF(t, s);
}

static const char *proto_upper(profile_proto p)
{
    return p == PROFILE_IMAP ? "IMAP" : p == PROFILE_SMTP ? "SMTP" : p == PROFILE_POP3 ? "POP3" : "?";
}

/* ---- the plan and the host ------------------------------------------------------------------ */

profile_proto probe_port_proto(int port)
{
    switch (port) {
    case 993: case 143: return PROFILE_IMAP;
    case 465: case 587: case 25: return PROFILE_SMTP;
    case 995: case 110: return PROFILE_POP3;
    default: return PROFILE_PROTO_COUNT;
    }
}

/* Ports where a client starts with TLS; the others greet in plaintext. */
static bool implicit_port(int port)
{
    return port == 993 || port == 465 || port == 995;
}

void probe_plan(probe_result *r, int (*map)(void *ctx, int provider_port), void *ctx)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < sizeof probe_ports / sizeof probe_ports[0]; i++) {
        int pp = probe_ports[i];
        int local = map ? map(ctx, pp) : pp;
        /* plaintext-first ports get a TLS-first twin: see probe.h */
        for (int tls = implicit_port(pp) ? 1 : 0; tls <= 1; tls++) {
            probe_attempt *a = &r->a[r->n++];
            a->proto = probe_port_proto(pp);
            a->provider_port = pp;
            a->port = local;
            a->start = tls ? PROBE_START_TLS : PROBE_START_PLAIN;
        }
    }
}

int probe_host_parse(const char *host, struct sockaddr_storage *sa, socklen_t *salen, char *why,
                     size_t whycap)
{
    memset(sa, 0, sizeof *sa);
    const char *h = host ? host : "";
    char bare[64];
    size_t len = strlen(h);
    if (len >= 2 && h[0] == '[' && h[len - 1] == ']' && len - 2 < sizeof bare) {
        memcpy(bare, h + 1, len - 2);
        bare[len - 2] = '\0';
        h = bare;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    if (strcasecmp(h, "localhost") == 0)
        h = "127.0.0.1"; /* not looked up: /etc/hosts could point it anywhere */
    if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
        if ((ntohl(in4->sin_addr.s_addr) >> 24) == 127) {
            in4->sin_family = AF_INET;
            *salen = sizeof *in4;
            return 0;
        }
    } else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
            in6->sin6_family = AF_INET6;
            *salen = sizeof *in6;
            return 0;
        }
    }
    memset(sa, 0, sizeof *sa);
    snprintf(why, whycap,
             "refusing to probe '%s': mailrig only ever connects to this machine (127.0.0.1 or "
             "another 127.x.y.z, ::1, localhost) and never contacts a real provider; to see what "
             "a provider's mock offers, run `mailrig serve --profile NAME` and probe 127.0.0.1 "
             "with --port-base or --ports-file", host ? host : "");
    return -1;
}

/* ---- reading what came back ---------------------------------------------------------------- */

size_t probe_sanitize(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    if (!cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r' || ch == '\n')
            continue;
        if (ch >= 0x20 && ch < 0x7f) {
            if (o + 1 >= cap)
                break;
            out[o++] = (char)ch;
        } else {
            if (o + 4 >= cap)
                break;
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", ch);
        }
    }
    out[o] = '\0';
    return o;
}

/* Whether the space-separated list has the word w (ASCII case ignored). */
static bool list_has(const char *list, const char *w, size_t wn)
{
    for (const char *p = list; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == wn && strncasecmp(p, w, n) == 0)
            return true;
        p += n;
    }
    return false;
}

/* Append mechanism w[0..n) upper-cased, unless it is there already or does not fit. */
static void add_mech(probe_offer *o, const char *w, size_t n)
{
    size_t have = strlen(o->mechs);
    if (!n || list_has(o->mechs, w, n) || have + n + 2 > sizeof o->mechs)
        return;
    if (have)
        o->mechs[have++] = ' ';
    for (size_t i = 0; i < n; i++)
        o->mechs[have++] = (char)toupper((unsigned char)w[i]);
    o->mechs[have] = '\0';
}

/* Every whitespace-separated word of p[0..n) as a mechanism. */
static void add_mechs(probe_offer *o, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '='))
            i++;
        size_t s = i;
        while (i < n && p[i] != ' ' && p[i] != '\t')
            i++;
        add_mech(o, p + s, i - s);
    }
}

static bool word_is(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(p, w, n) == 0;
}

static void parse_imap(const char *caps, probe_offer *o)
{
    o->login = true; /* IMAP4rev1 LOGIN, unless LOGINDISABLED says otherwise */
    for (const char *p = caps; *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        size_t n = strcspn(p, " \n");
        if (n > 5 && strncasecmp(p, "AUTH=", 5) == 0)
            add_mech(o, p + 5, n - 5);
        else if (word_is(p, n, "STARTTLS"))
            o->starttls = true;
        else if (word_is(p, n, "LOGINDISABLED"))
            o->login = false;
        p += n;
    }
}

/* SMTP EHLO keyword lines / POP3 CAPA lines, one per '\n'. */
static void parse_lines(profile_proto proto, const char *caps, probe_offer *o)
{
    for (const char *p = caps; *p;) {
        size_t n = strcspn(p, "\n");
        size_t k = strcspn(p, " =\n");
        if (k > n)
            k = n;
        const char *mech_kw = proto == PROFILE_SMTP ? "AUTH" : "SASL";
        if (word_is(p, k, mech_kw))
            add_mechs(o, p + k, n - k);
        else if (word_is(p, k, proto == PROFILE_SMTP ? "STARTTLS" : "STLS"))
            o->starttls = true;
        else if (proto == PROFILE_POP3 && word_is(p, k, "USER"))
            o->login = true;
        p += n;
        if (*p == '\n')
            p++;
    }
}

void probe_offer_parse(profile_proto proto, const char *caps, probe_offer *out)
{
    memset(out, 0, sizeof *out);
    if (!caps)
        return;
    if (proto == PROFILE_IMAP)
        parse_imap(caps, out);
    else
        parse_lines(proto, caps, out);
}

bool probe_greeting_ok(profile_proto proto, const char *line)
{
    switch (proto) {
    case PROFILE_IMAP:
        return strncasecmp(line, "* OK", 4) == 0 || strncasecmp(line, "* PREAUTH", 9) == 0;
    case PROFILE_SMTP:
        return strncmp(line, "220", 3) == 0 && (line[3] == ' ' || line[3] == '-' || !line[3]);
    case PROFILE_POP3:
        return strncmp(line, "+OK", 3) == 0;
    default:
        return false;
    }
}

/* ---- judging -------------------------------------------------------------------------------- */

const probe_attempt *probe_find(const probe_result *r, int provider_port, probe_start start)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->a[i].provider_port == provider_port && r->a[i].start == start &&
            r->a[i].outcome != PROBE_NOT_RUN)
            return &r->a[i];
    return NULL;
}

static probe_outcome outcome_of(const probe_attempt *a)
{
    return a ? a->outcome : PROBE_NOT_RUN;
}

static probe_port_kind classify_plaintext(const probe_attempt *pl)
{
    if (!pl->greeting_ok)
        return PROBE_PORT_REJECTS;
    switch (pl->starttls) {
    case PROBE_STLS_OK: return PROBE_PORT_STARTTLS;
    case PROBE_STLS_REFUSED:
    case PROBE_STLS_FAILED: return PROBE_PORT_STARTTLS_BROKEN;
    default: break;
    }
    /* offered but never tried: the conversation broke off before (counted as broken) */
    return pl->before.starttls ? PROBE_PORT_STARTTLS_BROKEN : PROBE_PORT_PLAIN;
}

probe_port_kind probe_port_classify(const probe_result *r, int port)
{
    const probe_attempt *pl = probe_find(r, port, PROBE_START_PLAIN);
    const probe_attempt *tl = probe_find(r, port, PROBE_START_TLS);
    if (!pl && !tl)
        return PROBE_PORT_UNMAPPED;
    if (outcome_of(tl) == PROBE_TLS_OK)
        return tl->greeting_ok || !tl->greeting[0] ? PROBE_PORT_IMPLICIT : PROBE_PORT_REJECTS;
    if (outcome_of(pl) == PROBE_PLAINTEXT)
        return classify_plaintext(pl);
    if (outcome_of(tl) == PROBE_PLAINTEXT)
        return tl->greeting_ok ? PROBE_PORT_PLAINTEXT : PROBE_PORT_REJECTS;
    /* nothing usable came back: refused (by either attempt) before silent before error */
    if (outcome_of(pl) == PROBE_REFUSED || outcome_of(tl) == PROBE_REFUSED)
        return PROBE_PORT_CLOSED;
    bool silent = (!pl || pl->outcome == PROBE_SILENT) && (!tl || tl->outcome == PROBE_SILENT);
    return silent ? PROBE_PORT_SILENT : PROBE_PORT_ERROR;
}

static void seconds(unsigned ms, char *buf, size_t cap)
{
    snprintf(buf, cap, "%u.%u s", ms / 1000, (ms % 1000) / 100);
}

/* Why an attempt did not give a session, in words. */
static void attempt_why(const probe_attempt *a, char *why, size_t cap)
{
    char s[32];
    switch (outcome_of(a)) {
    case PROBE_NOT_RUN: snprintf(why, cap, "not probed (port not mapped)"); return;
    case PROBE_REFUSED: snprintf(why, cap, "connection refused"); return;
    case PROBE_SILENT:
        seconds(a->elapsed_ms, s, sizeof s);
        snprintf(why, cap, "no answer in %s", s);
        return;
    case PROBE_PLAINTEXT:
        if (a->start == PROBE_START_TLS) {
            snprintf(why, cap, "answers in plaintext, not TLS: \"%.120s\"", a->greeting);
            return;
        }
        break;
    case PROBE_TLS_FAILED: snprintf(why, cap, "TLS handshake failed: %.200s", a->tls.failure); return;
    default: break;
    }
    if (a->greeting[0] && !a->greeting_ok)
        snprintf(why, cap, "greets with an error: \"%.160s\"", a->greeting);
    else
        snprintf(why, cap, "%s%s%.200s", probe_outcome_name(a->outcome), a->detail[0] ? ": " : "",
                 a->detail);
}

static void judge_implicit(const probe_result *r, probe_verdict *v)
{
    const probe_attempt *a = probe_find(r, v->set.provider_port, PROBE_START_TLS);
    v->connects = a && a->outcome == PROBE_TLS_OK && a->greeting_ok;
    if (!v->connects) {
        attempt_why(a, v->why, sizeof v->why);
        return;
    }
    v->mechs = a->after.mechs;
    v->login = a->after.login;
    v->cert_ok = a->tls.verify == TLS_VERIFY_OK && a->tls.host_match;
}

static void judge_starttls(const probe_result *r, probe_verdict *v)
{
    int port = v->set.provider_port;
    const probe_attempt *a = probe_find(r, port, PROBE_START_PLAIN);
    const probe_attempt *t = probe_find(r, port, PROBE_START_TLS);
    if (!a || a->outcome != PROBE_PLAINTEXT || !a->greeting_ok) {
        if (outcome_of(a) == PROBE_SILENT && outcome_of(t) == PROBE_TLS_OK)
            snprintf(v->why, sizeof v->why, "no greeting: %d expects TLS from the first byte "
                     "(choose SSL/TLS)", port);
        else
            attempt_why(a, v->why, sizeof v->why);
        return;
    }
    switch (a->starttls) {
    case PROBE_STLS_OK:
        v->connects = true;
        v->mechs = a->after.mechs;
        v->login = a->after.login;
        v->cert_ok = a->tls.verify == TLS_VERIFY_OK && a->tls.host_match;
        return;
    case PROBE_STLS_REFUSED:
        snprintf(v->why, sizeof v->why, "STARTTLS refused: %.200s", a->detail);
        return;
    case PROBE_STLS_FAILED:
        snprintf(v->why, sizeof v->why, "TLS handshake after STARTTLS failed: %.180s", a->tls.failure);
        return;
    default:
        snprintf(v->why, sizeof v->why, a->before.starttls ? "STARTTLS offered, not reached: %.180s"
                                                           : "STARTTLS not offered%.180s",
                 a->before.starttls ? a->detail : "");
    }
}

static void judge_plain(const probe_result *r, probe_verdict *v)
{
    const probe_attempt *a = probe_find(r, v->set.provider_port, PROBE_START_PLAIN);
    v->connects = a && a->outcome == PROBE_PLAINTEXT && a->greeting_ok;
    if (!v->connects) {
        attempt_why(a, v->why, sizeof v->why);
        return;
    }
    v->mechs = a->before.mechs;
    v->login = a->before.login;
    v->cert_ok = true; /* nothing to check */
}

probe_verdict probe_judge(const probe_result *r, probe_setting s)
{
    probe_verdict v = {.set = s, .mechs = ""};
    if (s.sec == PROBE_SEC_IMPLICIT)
        judge_implicit(r, &v);
    else if (s.sec == PROBE_SEC_STARTTLS)
        judge_starttls(r, &v);
    else
        judge_plain(r, &v);
    if (!v.mechs)
        v.mechs = "";
    v.auth = v.connects && (v.mechs[0] || v.login);
    if (v.connects && !v.auth)
        snprintf(v.why, sizeof v.why, "no authentication offered%s",
                 s.sec == PROBE_SEC_STARTTLS ? " after STARTTLS" : "");
    return v;
}

int probe_recommend(const probe_result *r, profile_proto proto, bool *cert_problem)
{
    int fallback = -1;
    *cert_problem = false;
    for (int i = 0; i < (int)(sizeof probe_settings / sizeof probe_settings[0]); i++) {
        if (probe_settings[i].proto != proto || probe_settings[i].sec == PROBE_SEC_PLAIN)
            continue;
        probe_verdict v = probe_judge(r, probe_settings[i]);
        if (!v.auth)
            continue;
        if (v.cert_ok)
            return i;
        if (fallback < 0)
            fallback = i;
    }
    *cert_problem = fallback >= 0;
    return fallback;
}

/* ---- signals -------------------------------------------------------------------------------- */

typedef struct sigs {
    probe_signal *out;
    size_t cap, n;
} sigs;

__attribute__((format(printf, 6, 7))) static void sig(sigs *s, probe_severity sev, profile_proto proto,
                                                      int port, const char *code, const char *fmt, ...)
{
    if (s->n < s->cap) {
        probe_signal *g = &s->out[s->n];
        *g = (probe_signal){.severity = sev, .proto = proto, .provider_port = port, .code = code};
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->text, sizeof g->text, fmt, ap);
        va_end(ap);
    }
    s->n++;
}

/* The recommended setting for proto as words ("587 (STARTTLS)"), or a fallback text. */
static void recommended_words(const probe_result *r, profile_proto proto, char *buf, size_t cap,
                              const char *none)
{
    bool cp;
    int i = probe_recommend(r, proto, &cp);
    if (i < 0)
        snprintf(buf, cap, "%s", none);
    else
        snprintf(buf, cap, "%d (%s)", probe_settings[i].provider_port,
                 probe_sec_label(probe_settings[i].sec));
}

/* Append ", port" to a list of ports (once per port). */
static void port_list_add(char *list, size_t cap, int port)
{
    char w[16];
    snprintf(w, sizeof w, "%d", port);
    for (const char *p = list; (p = strstr(p, w)) != NULL; p++)
        if ((p == list || p[-1] == ' ') && (p[strlen(w)] == ',' || !p[strlen(w)]))
            return;
    size_t used = strlen(list);
    snprintf(list + used, cap - used, "%s%s", used ? ", " : "", w);
}

/* Certificate problems, one signal per kind with the ports it concerns: a test CA or a
 * wrong name usually affects every port alike. */
static void cert_signals(sigs *s, const probe_result *r, const char *host)
{
    char untrusted[128] = "", misnamed[128] = "", why[160] = "", issuer[256] = "", subject[256] = "";
    for (size_t i = 0; i < r->n; i++) {
        const probe_attempt *a = &r->a[i];
        if (!a->tls.done)
            continue;
        if (a->tls.verify != TLS_VERIFY_OK) {
            port_list_add(untrusted, sizeof untrusted, a->provider_port);
            snprintf(why, sizeof why, "%s", a->tls.verify_desc);
            snprintf(issuer, sizeof issuer, "%s", a->tls.issuer);
        }
        if (!a->tls.host_match) {
            port_list_add(misnamed, sizeof misnamed, a->provider_port);
            snprintf(subject, sizeof subject, "%s", a->tls.subject);
        }
    }
    if (untrusted[0])
        sig(s, PROBE_WARN, PROFILE_PROTO_COUNT, 0, "certificate-untrusted",
            "the certificate on %s does not verify: %s; a client refuses it unless it trusts the "
            "issuer (%s)", untrusted, why, issuer[0] ? issuer : "unknown");
    if (misnamed[0])
        sig(s, PROBE_WARN, PROFILE_PROTO_COUNT, 0, "certificate-name",
            "the certificate on %s (%s) does not name %s: clients report a host-name mismatch",
            misnamed, subject[0] ? subject : "no subject", host);
}

/* Signals about one plaintext-first port (143, 587, 25, 110). */
static void plaintext_port_signals(sigs *s, const probe_result *r, int port)
{
    const probe_attempt *pl = probe_find(r, port, PROBE_START_PLAIN);
    const probe_attempt *tl = probe_find(r, port, PROBE_START_TLS);
    profile_proto proto = probe_port_proto(port);
    if (tl && tl->outcome == PROBE_PLAINTEXT)
        sig(s, PROBE_WARN, proto, port, "plaintext-answer-to-tls",
            "%d answered a ClientHello with a plaintext greeting: it is a %s port, not SSL/TLS; "
            "a client set to SSL/TLS on %d fails (OpenSSL: \"wrong version number\")", port,
            pl && pl->starttls == PROBE_STLS_OK ? "STARTTLS" : "plaintext", port);
    if (outcome_of(pl) == PROBE_SILENT && outcome_of(tl) == PROBE_TLS_OK)
        sig(s, PROBE_WARN, proto, port, "implicit-tls-on-plaintext-port",
            "%d expects TLS from the first byte (implicit TLS): choose SSL/TLS there, not "
            "STARTTLS; a STARTTLS client waits for a greeting that never comes", port);
    if (!pl || pl->outcome != PROBE_PLAINTEXT || !pl->greeting_ok)
        return;
    if (pl->before.mechs[0] || pl->before.login) {
        const char *login = proto == PROFILE_POP3 ? "USER/PASS" : "LOGIN";
        sig(s, PROBE_WARN, proto, port, "auth-before-tls",
            "%d accepts %s%s%s%s before TLS: a client set to None would send the password in "
            "clear", port, pl->before.login ? login : "",
            pl->before.login && pl->before.mechs[0] ? " and " : "",
            pl->before.mechs[0] ? "AUTH " : "", pl->before.mechs);
    }
    if (pl->starttls == PROBE_STLS_REFUSED)
        sig(s, PROBE_WARN, proto, port, "starttls-refused",
            "%d offers STARTTLS but refused it: %s", port, pl->detail);
    if (pl->starttls == PROBE_STLS_FAILED)
        sig(s, PROBE_ERROR, proto, port, "starttls-failed",
            "%d agreed to STARTTLS but the handshake failed: %s", port, pl->tls.failure);
    if (pl->injected)
        sig(s, PROBE_ERROR, proto, port, "starttls-injection",
            "%d sent %u bytes after its STARTTLS reply, before the handshake (response injection, "
            "CVE-2021-22947): a careful client drops the connection", port, pl->injected);
}

static void port_signals(sigs *s, const probe_result *r, int port)
{
    profile_proto proto = probe_port_proto(port);
    probe_port_kind k = probe_port_classify(r, port);
    const probe_attempt *tl = probe_find(r, port, PROBE_START_TLS);
    char t[32];
    if (k == PROBE_PORT_SILENT) {
        seconds(tl ? tl->elapsed_ms : 0, t, sizeof t);
        sig(s, PROBE_WARN, proto, port, "silent",
            "%d accepted the connection but sent nothing in %s (what a firewall drop looks "
            "like): a client hangs until its own timeout", port, t);
    }
    if (k == PROBE_PORT_REJECTS) {
        const probe_attempt *a = probe_find(r, port, PROBE_START_PLAIN);
        a = a && a->greeting[0] ? a : tl;
        sig(s, PROBE_WARN, proto, port, "greeting-rejects", "%d greets with an error: \"%s\"",
            port, a ? a->greeting : "");
    }
    if (implicit_port(port)) {
        if (tl && tl->outcome == PROBE_PLAINTEXT)
            sig(s, PROBE_ERROR, proto, port, "plaintext-answer-to-tls",
                "%d answered a ClientHello with a plaintext greeting: a client set to SSL/TLS on "
                "%d fails (OpenSSL: \"wrong version number\")", port, port);
        return;
    }
    plaintext_port_signals(s, r, port);
}

/* Port 25 and other SMTP ports that connect but take no AUTH. */
static void smtp_signals(sigs *s, const probe_result *r)
{
    char rec[64];
    recommended_words(r, PROFILE_SMTP, rec, sizeof rec, "587 or 465 where the provider offers them");
    for (size_t i = 0; i < sizeof probe_settings / sizeof probe_settings[0]; i++) {
        probe_setting st = probe_settings[i];
        if (st.proto != PROFILE_SMTP || st.sec == PROBE_SEC_PLAIN)
            continue;
        probe_verdict v = probe_judge(r, st);
        if (!v.connects || v.auth)
            continue;
        if (st.provider_port == 25)
            sig(s, PROBE_WARN, PROFILE_SMTP, 25, "no-auth-on-25",
                "port 25 offers no AUTH: it takes mail for local addresses only (MX), not "
                "submission; use %s", rec);
        else
            sig(s, PROBE_WARN, PROFILE_SMTP, st.provider_port, "no-auth",
                "%d offers no AUTH%s: a client cannot log in to send", st.provider_port,
                st.sec == PROBE_SEC_STARTTLS ? " after STARTTLS" : "");
    }
}

/* A protocol with nothing to connect to, or with no safe way to log in. */
static void proto_signals(sigs *s, const probe_result *r, profile_proto proto)
{
    char ports[160] = "";
    size_t used = 0;
    bool any = false, mapped = false;
    for (size_t i = 0; i < sizeof probe_ports / sizeof probe_ports[0]; i++) {
        int port = probe_ports[i];
        if (probe_port_proto(port) != proto)
            continue;
        probe_port_kind k = probe_port_classify(r, port);
        if (k == PROBE_PORT_UNMAPPED)
            continue;
        mapped = true;
        if (k != PROBE_PORT_CLOSED && k != PROBE_PORT_SILENT && k != PROBE_PORT_ERROR)
            any = true;
        used += (size_t)snprintf(ports + used, used < sizeof ports ? sizeof ports - used : 0,
                                 "%s%d %s", used ? ", " : "", port, probe_port_kind_name(k));
        if (used >= sizeof ports)
            used = sizeof ports - 1;
    }
    if (!mapped)
        return;
    if (!any) {
        sig(s, PROBE_INFO, proto, 0, "no-service", "no %s service: %s", proto_upper(proto), ports);
        return;
    }
    bool cp;
    if (probe_recommend(r, proto, &cp) < 0)
        sig(s, PROBE_ERROR, proto, 0, "no-secure-login",
            "%s answers, but no SSL/TLS or STARTTLS setting offers a login (%s)", proto_upper(proto),
            ports);
}

size_t probe_signals(const probe_result *r, const char *host, probe_signal *out, size_t cap)
{
    sigs s = {out, cap, 0};
    for (size_t i = 0; i < sizeof probe_ports / sizeof probe_ports[0]; i++)
        if (probe_port_classify(r, probe_ports[i]) != PROBE_PORT_UNMAPPED)
            port_signals(&s, r, probe_ports[i]);
    cert_signals(&s, r, host);
    smtp_signals(&s, r);
    for (int p = 0; p < PROFILE_PROTO_COUNT; p++)
        proto_signals(&s, r, (profile_proto)p);
    return s.n;
}
