/* profile.c -- see profile.h.
 *
 * Loading runs in four passes over a list of raw entries (section, key, value, origin):
 *   1. read: inih reads the text through our own line reader, which numbers lines, checks
 *      each line's shape (so that every malformed line is reported, not just the first),
 *      and joins continuation lines; --set overrides are appended as entries;
 *   2. apply: each entry is parsed by the key's type into the typed field it names;
 *   3. validate: required keys, cross-section rules (listeners, accounts, folders);
 *   4. resolve: fallback templates and inherited settings are filled in.
 * Everything a key is -- its name, type, default, placeholders, fallback -- is one row of a
 * key table, which also drives the writer (profile_write) and the comparison (profile_equal),
 * so the three cannot drift apart.
 */
#include "servers/profile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mr.h"
#include "servers/arena.h"
#include "servers/paths.h"
#include "servers/suggest.h"
#include "servers/textline.h"

_Static_assert(sizeof(profile_mode) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(profile_proto) == sizeof(int), "enums are stored as int");

enum {
    MAX_VALUE = 8192,      /* one value, continuation lines joined */
    MAX_WORD = 150,        /* a run without spaces, escaped: must fit on one written line */
    MAX_KEY = 40,
    MAX_SECTION = 48,      /* inih keeps 49 bytes of a section name */
    MAX_ENTRIES = 8192,
    WRAP_COLUMN = 100,     /* profile_write wraps long values here */
    TMP_ARENA = 4 * 1024 * 1024,
};

/* ---- names ------------------------------------------------------------------------------ */

static const char *const proto_names[] = {"imap", "smtp", "pop3", NULL};
static const char *const mode_names[] = {"implicit-tls", "starttls", "plain", "closed", "silent", NULL};
static const char *const cert_names[] = {"normal", "wrong-host", "untrusted", "expired", NULL};
static const char *const plaintext_names[] = {"close", "alert", "silence", NULL};
static const char *const hello_names[] = {"reply", "close", "silence", NULL};
static const char *const login_names[] = {"always", "tls", "never", NULL};
static const char *const sender_names[] = {"none", "mail", "data", NULL};
static const char *const uform_names[] = {"local", "full", NULL};
static const char *const mech_names[] = {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER",
                                         "NTLM", "GSSAPI", "ATOKEN", NULL};
static const char *const tlsver_names[] = {"1.0", "1.1", "1.2", "1.3", NULL};
static const char *const pw_names[] = {"account", "app", NULL}; /* bit i = 1 << i */
static const char *const state_names[] = {"imap-disabled", "pop-disabled", "smtp-auth-disabled",
                                          "basic-auth-disabled", "not-signed-in", NULL};
static const char *const outcome_names[] = {
    "ok", "ok-not-connected", "not-on-listener", "needs-tls", "login-disabled", "mech-unsupported",
    "bad-blob", "cancelled", "no-such-user", "wrong-username-form", "bad-password",
    "wrong-password-kind", "bad-token", "not-signed-in", "protocol-disabled", "basic-auth-disabled",
    "smtp-auth-disabled"};
_Static_assert(sizeof outcome_names / sizeof *outcome_names == PROFILE_AUTH_OUTCOME_COUNT, "names");

static size_t count_names(const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    return n;
}

static const char *name_of(const char *const *names, int v)
{
    return v >= 0 && (size_t)v < count_names(names) ? names[v] : "?";
}

const char *profile_proto_name(profile_proto v) { return name_of(proto_names, (int)v); }
const char *profile_mode_name(profile_mode v) { return name_of(mode_names, (int)v); }
const char *profile_cert_name(profile_cert v) { return name_of(cert_names, (int)v); }
const char *profile_uform_name(profile_uform v) { return name_of(uform_names, (int)v); }
const char *profile_mech_name(profile_mech v) { return name_of(mech_names, (int)v); }
const char *profile_auth_outcome_name(profile_auth_outcome o)
{
    return (unsigned)o < PROFILE_AUTH_OUTCOME_COUNT ? outcome_names[o] : "?";
}

int profile_mech_from_name(const char *name, size_t n)
{
    for (int i = 0; mech_names[i]; i++)
        if (strlen(mech_names[i]) == n && !strncasecmp(mech_names[i], name, n))
            return i;
    return -1;
}

int profile_state_format(unsigned state, char *buf, size_t cap)
{
    if (!state)
        return snprintf(buf, cap, "ok");
    size_t at = 0;
    int total = 0;
    for (int i = 0; state_names[i]; i++) {
        if (!(state & (1u << i)))
            continue;
        int w = snprintf(buf + at, cap > at ? cap - at : 0, "%s%s", total ? ", " : "", state_names[i]);
        total += w;
        at = (size_t)total < cap ? (size_t)total : cap;
    }
    return total;
}

/* ---- the key tables --------------------------------------------------------------------- */

typedef enum ktype {
    KT_TEXT,      /* const char *: free text, empty = NULL */
    KT_SECRET,    /* const char *: a password or token, empty = NULL */
    KT_NAME,      /* const char *: [a-z0-9][a-z0-9_-]* */
    KT_HOST,      /* const char *: a host name, empty = NULL */
    KT_HOSTS,     /* profile_strs of host names */
    KT_PATTERN,   /* const char *: backend pattern (max = longest expansion) */
    KT_BOOL,      /* bool */
    KT_UINT,      /* unsigned in [min, max] */
    KT_U64,       /* uint64_t in [min, max] */
    KT_ENUM,      /* int-sized enum, names */
    KT_TLSVER,    /* unsigned wire version */
    KT_CHAR,      /* char */
    KT_TEMPLATE,  /* const template *, empty = NULL */
    KT_UFORMS,    /* profile_uforms */
    KT_PASSWORDS, /* unsigned PROFILE_PW_* mask */
    KT_MECHS,     /* profile_mechs */
    KT_CAPS,      /* profile_caps; min = the protocol */
    KT_STATE,     /* unsigned PROFILE_STATE_* mask */
    KT_EMAIL,     /* const char * */
    KT_EMAILS,    /* profile_strs */
    KT_FLAGS,     /* profile_strs of \Atoms */
    KT_MSGS,      /* profile_strs of seed message names */
} ktype;

/* flags */
enum { KF_REQ = 1, KF_OPT = 2, KF_FB = 4 };
#define KF_REQ_ KF_REQ
#define KF_OPT_ KF_OPT
#define KF_FB_ KF_FB

typedef struct keydef {
    const char *name;
    ktype type;
    unsigned flags;
    size_t offset;
    const char *def;          /* default value as written in a file, or NULL */
    const char *fallback;     /* KT_TEMPLATE with KF_FB: the key standing in when unset */
    uint32_t vars;            /* KT_TEMPLATE: context placeholders allowed */
    const char *const *names; /* KT_ENUM */
    uint64_t min, max;        /* KT_UINT, KT_U64; KT_PATTERN max length; KT_CAPS protocol */
    const char *doc;
} keydef;

#define K(n, t, ...) {.name = n, .type = t, __VA_ARGS__}

static const keydef profile_keys[] = {
    K("name", KT_NAME, .flags = KF_REQ, .offset = offsetof(profile, name), .doc = "identifier; `--profile NAME` loads profiles/NAME.ini"),
    K("description", KT_TEXT, .offset = offsetof(profile, description), .doc = "one line, shown by `mailrig profile list`"),
    K("imap_host", KT_HOST, .offset = offsetof(profile, imap.s.host), .doc = "host name clients configure for IMAP (required when [imap] is enabled)"),
    K("smtp_host", KT_HOST, .offset = offsetof(profile, smtp.s.host), .doc = "host name for SMTP (required when [smtp] is enabled)"),
    K("pop3_host", KT_HOST, .offset = offsetof(profile, pop3.s.host), .doc = "host name for POP3 (required when [pop3] is enabled)"),
    K("extra_hosts", KT_HOSTS, .offset = offsetof(profile, extra_hosts), .def = "", .doc = "more names the certificates cover (an MX host)"),
    K("backend", KT_PATTERN, .offset = offsetof(profile, backend), .def = "mailrig", .max = TEMPLATE_BACKEND_MAX,
      .doc = "pattern of {be}, the backend host name"),
    K("backend_domain", KT_PATTERN, .offset = offsetof(profile, backend_domain), .def = "", .max = TEMPLATE_DOMAIN_MAX,
      .doc = "pattern of the domain in {fqdn} = {be}.DOMAIN; empty: {fqdn} = {be}"),
};

static const keydef tls_keys[] = {
    K("min_version", KT_TLSVER, .offset = offsetof(profile_tls, min_version), .def = "1.2", .doc = "lowest TLS version offered"),
    K("max_version", KT_TLSVER, .offset = offsetof(profile_tls, max_version), .def = "1.3", .doc = "highest TLS version offered"),
    K("starttls_vulnerable", KT_BOOL, .offset = offsetof(profile_tls, starttls_vulnerable), .def = "no",
      .doc = "yes: plaintext pipelined after STARTTLS is kept and treated as sent under TLS (for testing clients); no: discarded"),
};

/* Keys every protocol section has; T is the protocol struct (profile_service is its first
 * member). */
#define SERVICE_KEYS(T, maxline, idle)                                                                   \
    K("enabled", KT_BOOL, .offset = offsetof(T, s.enabled), .def = "yes", .doc = "no: the provider has no such service (its listeners must be closed or silent)"), \
    K("backend", KT_PATTERN, .offset = offsetof(T, s.backend), .max = TEMPLATE_BACKEND_MAX,             \
      .doc = "{be} pattern for this protocol; unset: [profile] backend"),                                                         \
    K("backend_domain", KT_PATTERN, .offset = offsetof(T, s.backend_domain), .max = TEMPLATE_DOMAIN_MAX, \
      .doc = "{fqdn} domain pattern; unset: [profile] backend_domain"),                                                        \
    K("username", KT_UFORMS, .offset = offsetof(T, s.username), .def = "full", .doc = "accepted user name forms, documented one first: local (name part), full (address or alias)"), \
    K("password", KT_PASSWORDS, .offset = offsetof(T, s.passwords), .def = "account", .doc = "passwords that log in: account, app (app-specific)"), \
    K("mechs_plain", KT_MECHS, .offset = offsetof(T, s.mechs_plain), .def = "", .doc = "SASL mechanisms offered on a plaintext connection, in order"), \
    K("mechs_tls", KT_MECHS, .offset = offsetof(T, s.mechs_tls), .def = "PLAIN", .doc = "SASL mechanisms offered under TLS, in order"), \
    K("close_after_auth_failure", KT_BOOL, .offset = offsetof(T, s.close_after_auth_failure), .def = "no", \
      .doc = "close the connection after a failed login"),                                                          \
    K("max_auth_failures", KT_UINT, .offset = offsetof(T, s.max_auth_failures), .def = "3", .max = 1000, \
      .doc = "failed logins before the connection closes; 0: no limit"),                                                          \
    K("max_line", KT_UINT, .offset = offsetof(T, s.max_line), .def = #maxline, .min = 64, .max = 1 << 20, \
      .doc = "longest command line in octets, CRLF excluded"),                                                                    \
    K("max_auth_line", KT_UINT, .offset = offsetof(T, s.max_auth_line), .def = "12288", .min = 64,      \
      .max = 1 << 20, .doc = "longest SASL response line (RFC 4954: 12288)"),                                                        \
    K("idle_timeout", KT_UINT, .offset = offsetof(T, s.idle_timeout), .def = #idle, .max = 86400,     \
      .doc = "seconds without a command before the server closes; 0: never"),                                                           \
    K("max_connections", KT_UINT, .offset = offsetof(T, s.max_connections), .def = "0", .max = 100000, \
      .doc = "simultaneous connections per client address; 0: no limit"),                                                        \
    K("auth_delay_ms", KT_UINT, .offset = offsetof(T, s.auth_delay_ms), .def = "0", .max = 600000,     \
      .doc = "milliseconds to wait before a login failure reply")

#define LOGIN_KEY(T, def_)                                                                               \
    K("login", KT_ENUM, .offset = offsetof(T, s.login), .def = def_, .names = login_names,            \
      .doc = "when LOGIN / USER+PASS are accepted: always, tls (under TLS only), never")

#define TPL_KEY_(T, field, kind, fb, vars_, doc_)                                                       \
    K(#field, KT_TEMPLATE, .flags = KF_##kind##_, .offset = offsetof(T, r.field), .fallback = fb,      \
      .vars = (vars_), .doc = doc_),
#define IMAP_TPL(field, kind, fb, vars_, doc_) TPL_KEY_(profile_imap, field, kind, fb, vars_, doc_)
#define SMTP_TPL(field, kind, fb, vars_, doc_) TPL_KEY_(profile_smtp, field, kind, fb, vars_, doc_)
#define POP3_TPL(field, kind, fb, vars_, doc_) TPL_KEY_(profile_pop3, field, kind, fb, vars_, doc_)

static const keydef imap_keys[] = {
    SERVICE_KEYS(profile_imap, 8192, 1800),
    LOGIN_KEY(profile_imap, "tls"),
    K("caps", KT_CAPS, .flags = KF_REQ, .offset = offsetof(profile_imap, s.caps), .min = PROFILE_IMAP,
      .doc = "CAPABILITY before login, space-separated; markers {auth} {starttls} {logindisabled}"),
    K("caps_auth", KT_CAPS, .flags = KF_REQ, .offset = offsetof(profile_imap, caps_auth), .min = PROFILE_IMAP,
      .doc = "CAPABILITY after login; same markers"),
    K("delimiter", KT_CHAR, .offset = offsetof(profile_imap, delimiter), .def = "/", .doc = "mailbox hierarchy delimiter"),
    K("max_literal", KT_UINT, .offset = offsetof(profile_imap, max_literal), .def = "52428800", .max = 1u << 30,
      .doc = "largest literal (APPEND) in octets"),
    K("not_connected_limit", KT_UINT, .offset = offsetof(profile_imap, not_connected_limit), .def = "2",
      .min = 1, .max = 1000, .doc = "not_connected replies before not_connected_bye and close"),
    PROFILE_IMAP_REPLIES(IMAP_TPL)
};

static const keydef smtp_keys[] = {
    SERVICE_KEYS(profile_smtp, 512, 300),
    K("ehlo", KT_CAPS, .flags = KF_REQ, .offset = offsetof(profile_smtp, s.caps), .min = PROFILE_SMTP,
      .doc = "EHLO keywords after the first line, comma-separated; markers {auth} {starttls}"),
    K("size_limit", KT_U64, .offset = offsetof(profile_smtp, size_limit), .def = "10485760", .max = 1ull << 40,
      .doc = "largest message in octets ({size_limit}, SIZE)"),
    K("max_recipients", KT_UINT, .offset = offsetof(profile_smtp, max_recipients), .def = "100", .min = 1,
      .max = 100000, .doc = "RCPT TO accepted per message"),
    K("max_errors", KT_UINT, .offset = offsetof(profile_smtp, max_errors), .def = "10", .max = 1000,
      .doc = "bad commands before too_many_errors and close"),
    K("sender_check", KT_ENUM, .offset = offsetof(profile_smtp, sender_check), .def = "none",
      .names = sender_names, .doc = "when the sender must be the account's address or alias: none, mail (at MAIL FROM), data (after the message)"),
    PROFILE_SMTP_REPLIES(SMTP_TPL)
};

static const keydef pop3_keys[] = {
    SERVICE_KEYS(profile_pop3, 255, 600),
    LOGIN_KEY(profile_pop3, "tls"),
    K("capa", KT_CAPS, .flags = KF_REQ, .offset = offsetof(profile_pop3, s.caps), .min = PROFILE_POP3,
      .doc = "CAPA lines, comma-separated; markers {sasl} {stls} {user}"),
    K("sasl_ir", KT_BOOL, .offset = offsetof(profile_pop3, sasl_ir), .def = "yes",
      .doc = "no: AUTH with an initial response (RFC 5034) gets auth_ir_refused; the client must wait for the challenge"),
    PROFILE_POP3_REPLIES(POP3_TPL)
};

static const keydef listener_keys[] = {
    K("protocol", KT_ENUM, .flags = KF_REQ, .offset = offsetof(profile_listener, proto), .names = proto_names,
      .doc = "the protocol served on this port"),
    K("mode", KT_ENUM, .flags = KF_REQ, .offset = offsetof(profile_listener, mode), .names = mode_names,
      .doc = "implicit-tls, starttls, plain, closed (refused) or silent (accepts, never answers)"),
    K("auth", KT_BOOL, .offset = offsetof(profile_listener, auth), .def = "yes", .doc = "no: takes no authentication (an MX: mail for local accounts only)"),
    K("cert", KT_ENUM, .offset = offsetof(profile_listener, cert), .def = "normal", .names = cert_names,
      .doc = "certificate presented: normal, wrong-host, untrusted, expired"),
    K("plaintext", KT_ENUM, .offset = offsetof(profile_listener, plaintext), .def = "close",
      .names = plaintext_names, .doc = "implicit-tls only: what non-TLS first bytes get: close, alert, silence"),
    K("tls_hello", KT_ENUM, .offset = offsetof(profile_listener, tls_hello), .def = "reply", .names = hello_names,
      .doc = "starttls/plain only: what a TLS ClientHello gets: reply (bad-command reply), close, silence"),
    K("greeting", KT_TEMPLATE, .flags = KF_OPT, .offset = offsetof(profile_listener, greeting),
      .vars = TPL_BIT(TPL_CAPS), .doc = "this port's own greeting (an MX banner); unset: the protocol's"),
    K("host", KT_HOST, .offset = offsetof(profile_listener, host), .doc = "this port's host name (SNI, certificate, {host}); unset: the protocol's"),
    K("description", KT_TEXT, .offset = offsetof(profile_listener, description), .doc = "for people; printed by serve"),
};

static const keydef account_keys[] = {
    K("email", KT_EMAIL, .flags = KF_REQ, .offset = offsetof(profile_account, email), .doc = "the address; its part before @ is the local user name form"),
    K("aliases", KT_EMAILS, .offset = offsetof(profile_account, aliases), .def = "", .doc = "more addresses that count as the full form"),
    K("password", KT_SECRET, .flags = KF_REQ, .offset = offsetof(profile_account, password),
      .doc = "the account password"),
    K("app_password", KT_SECRET, .offset = offsetof(profile_account, app_password), .doc = "the app-specific password (required when a protocol has password = app)"),
    K("oauth_token", KT_SECRET, .offset = offsetof(profile_account, oauth_token), .doc = "bearer token that XOAUTH2 / OAUTHBEARER accept"),
    K("state", KT_STATE, .offset = offsetof(profile_account, state), .def = "ok", .doc = "ok, or any of imap-disabled, pop-disabled, protocols-disabled, smtp-auth-disabled, basic-auth-disabled, not-signed-in"),
};

static const keydef folder_keys[] = {
    K("flags", KT_FLAGS, .offset = offsetof(profile_folder, flags), .def = "", .doc = "LIST attributes, space-separated (\\Sent \\HasNoChildren)"),
    K("messages", KT_MSGS, .offset = offsetof(profile_folder, messages), .def = "", .doc = "seed messages, profiles/messages/NAME.eml, in this order"),
    K("subscribed", KT_BOOL, .offset = offsetof(profile_folder, subscribed), .def = "yes", .doc = "listed by LSUB"),
};

typedef enum skind { S_PROFILE, S_TLS, S_IMAP, S_SMTP, S_POP3, S_LISTENER, S_ACCOUNT, S_FOLDER, S_COUNT } skind;

typedef struct sectdef {
    const char *kind;
    bool repeated;
    const keydef *keys;
    size_t nkeys;
} sectdef;

#define SECT(k, rep, tab) {k, rep, tab, sizeof tab / sizeof tab[0]}
static const sectdef sections[S_COUNT] = {
    [S_PROFILE] = SECT("profile", false, profile_keys),
    [S_TLS] = SECT("tls", false, tls_keys),
    [S_IMAP] = SECT("imap", false, imap_keys),
    [S_SMTP] = SECT("smtp", false, smtp_keys),
    [S_POP3] = SECT("pop3", false, pop3_keys),
    [S_LISTENER] = SECT("listener", true, listener_keys),
    [S_ACCOUNT] = SECT("account", true, account_keys),
    [S_FOLDER] = SECT("folder", true, folder_keys),
};
static const char *const section_kinds[] = {"profile", "tls", "imap", "smtp", "pop3", "listener",
                                            "account", "folder"};

static const keydef *find_key(skind s, const char *name, size_t n)
{
    for (size_t i = 0; n && i < sections[s].nkeys; i++) {
        const char *k = sections[s].keys[i].name;
        if (k[0] == name[0] && !strncmp(k, name, n) && k[n] == '\0')
            return &sections[s].keys[i];
    }
    return NULL;
}

static const char *type_name(ktype t)
{
    switch (t) {
    case KT_TEXT: return "text";
    case KT_SECRET: return "secret";
    case KT_NAME: return "name";
    case KT_HOST: return "host name";
    case KT_HOSTS: return "list of host names";
    case KT_PATTERN: return "host name pattern";
    case KT_BOOL: return "bool";
    case KT_UINT:
    case KT_U64: return "number";
    case KT_ENUM: return "enum";
    case KT_TLSVER: return "TLS version";
    case KT_CHAR: return "character";
    case KT_TEMPLATE: return "template";
    case KT_UFORMS: return "list of user name forms";
    case KT_PASSWORDS: return "list of password kinds";
    case KT_MECHS: return "list of mechanisms";
    case KT_CAPS: return "capability list";
    case KT_STATE: return "list of account states";
    case KT_EMAIL: return "address";
    case KT_EMAILS: return "list of addresses";
    case KT_FLAGS: return "list of flags";
    case KT_MSGS: return "list of message names";
    }
    return "?";
}

bool profile_schema_key(size_t i, profile_keyinfo *out)
{
    for (int s = 0; s < S_COUNT; s++) {
        if (i >= sections[s].nkeys) {
            i -= sections[s].nkeys;
            continue;
        }
        const keydef *kd = &sections[s].keys[i];
        *out = (profile_keyinfo){
            .section = sections[s].kind,
            .key = kd->name,
            .type = type_name(kd->type),
            .def = kd->def,
            .fallback = kd->fallback,
            .required = (kd->flags & KF_REQ) != 0,
            .optional_reply = (kd->flags & KF_OPT) != 0,
            .vars = kd->vars,
            .values = kd->type == KT_ENUM ? kd->names : kd->type == KT_TLSVER ? tlsver_names : NULL,
            .doc = kd->doc,
        };
        return true;
    }
    return false;
}

static skind proto_section(profile_proto p)
{
    return p == PROFILE_IMAP ? S_IMAP : p == PROFILE_SMTP ? S_SMTP : S_POP3;
}

/* ---- diagnostics ------------------------------------------------------------------------- */

void profile_diag_free(profile_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->msg[i]);
    memset(d, 0, sizeof *d);
}

void profile_diag_print(const profile_diag *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(f, "%s\n", d->msg[i]);
    if (d->dropped)
        fprintf(f, "... and %zu more\n", d->dropped);
}

static void diag_vadd(profile_diag *d, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void diag_vadd(profile_diag *d, const char *fmt, va_list ap)
{
    if (d->n >= PROFILE_DIAG_MAX) {
        d->dropped++;
        return;
    }
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    char *m = strdup(buf);
    if (m)
        d->msg[d->n++] = m;
    else
        d->dropped++;
}

static void diag_add(profile_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diag_add(profile_diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, fmt, ap);
    va_end(ap);
}

/* ---- loader state ------------------------------------------------------------------------ */

/* Where something was written: a file line, or a --set argument. Neither = unset/built-in. */
typedef struct origin {
    int line;
    const char *set;
    bool bad; /* the key was written but its value was rejected (already reported) */
} origin;

/* Not written anywhere: built-in defaults, whole-file problems. */
#define NOWHERE ((origin){.line = 0})

static bool origin_set(origin o)
{
    return o.line > 0 || o.set;
}

typedef struct entry {
    const char *section;
    const char *key;
    char *value;
    origin at;      /* the key line */
    origin sect_at; /* the section header line */
    bool too_long;  /* continuation lines were dropped */
} entry;

typedef struct inst {
    skind kind;
    const char *name; /* NULL for singletons */
    char label[64];   /* "imap", "listener.587", for messages */
    void *base;
    origin at;        /* the first header that opened it */
    origin *keys;     /* per key of its table: where it was set */
} inst;

typedef struct loader {
    arena *a;   /* the profile's */
    arena *tmp; /* entries and bookkeeping; freed after loading */
    profile *p;
    profile_diag *d;
    const char *file;
    size_t errors;
    /* reader */
    const char *text;
    size_t len, pos;
    int lineno, section_line;
    bool indented, prev_key, skip_section, skip_cont;
    char header[MAX_SECTION + 1]; /* the current section's name */
    /* entries */
    entry *entries;
    size_t n_entries, cap_entries;
    /* section instances */
    inst single[S_POP3 + 1];
    inst *multi[3];   /* listeners, accounts, folders */
    size_t n_multi[3];
    profile_listener *listeners;
    profile_account *accounts;
    profile_folder *folders;
    /* section names already reported as bad, so each is reported once */
    const char *bad_sections[64];
    size_t n_bad_sections;
} loader;

static void report(loader *L, origin at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(loader *L, origin at, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    L->errors++;
    if (at.set)
        diag_add(L->d, "--set %s: %s", at.set, msg);
    else if (at.line > 0)
        diag_add(L->d, "%s:%d: %s", L->file, at.line, msg);
    else
        diag_add(L->d, "%s: %s", L->file, msg);
}

static origin at_line(int line)
{
    return (origin){.line = line};
}

/* ---- reading lines (inih's reader callback) ----------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The inline-comment rule inih applies: ';' after whitespace starts a comment. Returns the
 * end of s[0..n) before any such comment. */
static size_t before_comment(const char *s, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (s[i] == ';' && is_space(s[i - 1]))
            return i;
    return n;
}

/* Position of the first '=' or ':' before any inline comment, or n. */
static size_t find_separator(const char *s, size_t n)
{
    size_t end = before_comment(s, n);
    for (size_t i = 0; i < end; i++)
        if (s[i] == '=' || s[i] == ':')
            return i;
    return n;
}

static skind section_kind_of(const char *section, size_t n, bool *known);

/* Whether the text of an indented line s[0..n) (stripped) would be read as a continuation of
 * the value above in a section of kind k, rather than being a comment (for inih) or looking
 * like a key the user meant to set (for our check). The writer wraps values with the same
 * rule, so what it writes always reads back. Sets *key_len when it looks like "key =". */
static bool continuation_ok(skind k, const char *s, size_t n, size_t *key_len)
{
    *key_len = 0;
    if (n == 0 || s[0] == '#' || s[0] == ';')
        return false;
    size_t sep = find_separator(s, n);
    size_t kl = sep;
    while (kl > 0 && is_space(s[kl - 1]))
        kl--;
    if (sep < n && kl > 0 && k < S_COUNT && find_key(k, s, kl)) {
        *key_len = kl;
        return false;
    }
    return true;
}

static bool check_header(loader *L, const char *s, size_t n)
{
    origin at = at_line(L->lineno);
    size_t close = 0;
    size_t end = before_comment(s, n);
    for (size_t i = 1; i < end; i++)
        if (s[i] == ']') {
            close = i;
            break;
        }
    if (!close) {
        report(L, at, "section header without ']'");
        return false;
    }
    const char *name = s + 1;
    size_t nn = close - 1;
    size_t rest = close + 1;
    while (rest < n && is_space(s[rest]))
        rest++;
    if (rest < n && s[rest] != ';' && s[rest] != '#') {
        report(L, at, "unexpected text after ']'");
        return false;
    }
    if (nn == 0 || nn > MAX_SECTION) {
        report(L, at, nn ? "section name longer than %d characters" : "empty section name", MAX_SECTION);
        return false;
    }
    if (is_space(name[0]) || is_space(name[nn - 1])) {
        report(L, at, "space at the edge of section name '%.*s'", (int)nn, name);
        return false;
    }
    memcpy(L->header, name, nn);
    L->header[nn] = '\0';
    return true;
}

/* Check one line's shape and report what inih would silently drop or misread. Returns
 * whether inih should see the line (false: feed it an empty line instead). */
static int add_entry(loader *L, const char *section, const char *key, const char *value, origin at,
                     origin sect_at);

static bool check_line(loader *L, const char *p, size_t n)
{
    origin at = at_line(L->lineno);
    if (memchr(p, '\0', n)) {
        report(L, at, "NUL byte in line");
        L->skip_cont = true;
        return false;
    }
    const char *s = p, *e = p + n;
    while (s < e && is_space(*s))
        s++;
    while (e > s && is_space(e[-1]))
        e--;
    L->indented = s > p;
    size_t m = (size_t)(e - s);
    if (m == 0 || *s == ';' || *s == '#')
        return true;
    if (L->indented && L->prev_key) {
        if (L->skip_cont || L->skip_section)
            return false;
        bool known;
        skind kind = section_kind_of(L->header, strlen(L->header), &known);
        size_t kl;
        if (!continuation_ok(known ? kind : S_COUNT, s, m, &kl)) {
            report(L, at, "indented line continues the value above; remove the indentation if '%.*s' is a key",
                   (int)kl, s);
            return false;
        }
        return true;
    }
    L->skip_cont = false;
    if (*s == '[') {
        L->prev_key = false;
        if (!check_header(L, s, m)) {
            L->skip_section = true;
            return false;
        }
        L->skip_section = false;
        L->section_line = L->lineno;
        /* a section with no keys still exists ([folder.Archive]): record the header itself */
        add_entry(L, L->header, "", "", at, at);
        return true;
    }
    if (L->skip_section)
        return false;
    size_t sep = find_separator(s, m);
    size_t k = sep;
    while (k > 0 && is_space(s[k - 1]))
        k--;
    const char *why = sep == m ? "expected 'key = value', a [section] header or a comment"
                      : k == 0 ? "missing key name before '='"
                      : k > MAX_KEY ? "key name too long" : NULL;
    if (why) {
        report(L, at, "%s", why);
        L->skip_cont = true;
        return false;
    }
    L->prev_key = true;
    return true;
}

static char *read_line(char *buf, int num, void *stream)
{
    loader *L = stream;
    const char *p;
    size_t n;
    if (num < 3 || !textline_next(L->text, L->len, &L->pos, &p, &n))
        return NULL;
    L->lineno++;
    size_t limit = (size_t)num - 2; /* room for '\n' and NUL */
    bool keep;
    if (n > limit) {
        report(L, at_line(L->lineno),
               "line is %zu characters long, the limit is %zu: continue a long value on indented lines", n,
               limit);
        L->skip_cont = true;
        keep = false;
    } else {
        keep = check_line(L, p, n);
    }
    if (!keep)
        n = 0;
    memcpy(buf, p, n);
    buf[n] = '\n';
    buf[n + 1] = '\0';
    return buf;
}

static int add_entry(loader *L, const char *section, const char *key, const char *value, origin at,
                     origin sect_at)
{
    if (L->n_entries >= MAX_ENTRIES) {
        if (L->n_entries++ == MAX_ENTRIES)
            report(L, at, "more than %d settings", MAX_ENTRIES);
        return -1;
    }
    if (L->n_entries == L->cap_entries) {
        /* grow by doubling; the old array stays in the temporary arena, at most as big again */
        size_t cap = L->cap_entries ? L->cap_entries * 2 : 64;
        entry *grown = arena_alloc(L->tmp, cap * sizeof *grown);
        if (!grown) {
            report(L, at, "profile too large");
            return -1;
        }
        if (L->n_entries)
            memcpy(grown, L->entries, L->n_entries * sizeof *grown);
        L->entries = grown;
        L->cap_entries = cap;
    }
    entry *e = &L->entries[L->n_entries];
    e->section = arena_strdup(L->tmp, section);
    e->key = arena_strdup(L->tmp, key);
    e->value = arena_strdup(L->tmp, value);
    if (!e->section || !e->key || !e->value) {
        report(L, at, "profile too large");
        return -1;
    }
    e->at = at;
    e->sect_at = sect_at;
    L->n_entries++;
    return 0;
}

/* inih's handler: one key (or a continuation line of the previous key). */
static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    loader *L = user;
    entry *last = L->n_entries && L->n_entries <= MAX_ENTRIES ? &L->entries[L->n_entries - 1] : NULL;
    if (L->indented && last && *last->key && last->at.line < L->lineno && !strcmp(last->section, section) &&
        !strcmp(last->key, name)) {
        /* older inih releases (Debian's r55) keep inline comments on continuation lines */
        size_t a = strlen(last->value), b = before_comment(value, strlen(value));
        while (b > 0 && is_space(value[b - 1]))
            b--;
        if (last->too_long || a + 1 + b > MAX_VALUE) {
            if (!last->too_long)
                report(L, at_line(L->lineno), "value of '%s' longer than %d characters", name, MAX_VALUE);
            last->too_long = true;
            return 1;
        }
        char *joined = arena_alloc(L->tmp, a + 1 + b + 1);
        if (!joined) {
            report(L, at_line(L->lineno), "profile too large");
            return 1;
        }
        memcpy(joined, last->value, a);
        joined[a] = ' ';
        memcpy(joined + a + 1, value, b);
        joined[a + 1 + b] = '\0';
        last->value = joined;
        return 1;
    }
    add_entry(L, section, name, value, at_line(L->lineno), at_line(L->section_line));
    return 1;
}

/* ---- value syntax ----------------------------------------------------------------------- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value as meant: surrounding spaces stripped, quotes and escapes removed, and checked
 * for control characters, UTF-8 and word length. NULL after reporting a problem. */
static char *unquote(loader *L, const char *raw, origin at, const char *what)
{
    size_t n = strlen(raw);
    while (n && is_space(raw[n - 1]))
        n--;
    while (n && is_space(*raw)) {
        raw++;
        n--;
    }
    char *v = arena_alloc(L->tmp, n + 1);
    if (!v) {
        report(L, at, "%s: profile too large", what);
        return NULL;
    }
    size_t out = 0;
    if (n >= 1 && raw[0] == '"') {
        if (n < 2 || raw[n - 1] != '"') {
            report(L, at, "%s: quoted value without its closing '\"'", what);
            return NULL;
        }
        const char *q = raw + 1;
        size_t m = n - 2;
        for (size_t i = 0; i < m; i++) {
            char c = q[i];
            if (c == '"') {
                report(L, at, "%s: '\"' inside a quoted value must be written \\\"", what);
                return NULL;
            }
            if (c != '\\') {
                v[out++] = c;
                continue;
            }
            char x = i + 1 < m ? q[i + 1] : '\0';
            if (x == '\\' || x == '"') {
                v[out++] = x;
                i++;
            } else if (x == 'x' && i + 3 < m && hexval(q[i + 2]) >= 0 && hexval(q[i + 3]) >= 0) {
                v[out++] = (char)(hexval(q[i + 2]) * 16 + hexval(q[i + 3]));
                i += 3;
            } else {
                report(L, at, "%s: bad escape '\\%c' (use \\\\, \\\" or \\xHH)", what,
                       isprint((unsigned char)x) ? x : '?');
                return NULL;
            }
        }
    } else {
        memcpy(v, raw, n);
        out = n;
    }
    v[out] = '\0';
    for (size_t i = 0; i < out; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f) {
            report(L, at, "%s: control character 0x%02x in value", what, c);
            return NULL;
        }
    }
    if (mr_utf8_check(v, out) < out) {
        report(L, at, "%s: invalid UTF-8 in value", what);
        return NULL;
    }
    /* the writer must fit every word on one line: count escaped length */
    size_t word = 0;
    for (size_t i = 0; i <= out; i++) {
        if (i == out || v[i] == ' ') {
            if (word > MAX_WORD) {
                report(L, at, "%s: a word of the value is %zu characters long (at most %d)", what, word, MAX_WORD);
                return NULL;
            }
            word = 0;
            continue;
        }
        char c = v[i];
        word += (c == ';' || c == '#' || c == '=' || c == ':') ? 4 : (c == '\\' || c == '"') ? 2 : 1;
    }
    return v;
}

/* Split v into items at any of seps, trimming spaces. An empty value is an empty list.
 * Empty items are an error unless skip_empty (lists where spaces separate too). Returns the
 * count or -1 after reporting. */
static int split_list(loader *L, char *v, const char *seps, bool skip_empty, char **items, origin at,
                      const char *what)
{
    int n = 0;
    char *s = v;
    while (is_space(*s))
        s++;
    if (!*s)
        return 0;
    for (;;) {
        size_t len = strcspn(s, seps);
        char *b = s, *e = s + len;
        bool last = s[len] == '\0';
        while (b < e && is_space(*b))
            b++;
        while (e > b && is_space(e[-1]))
            e--;
        if (b == e && !skip_empty) {
            report(L, at, "%s: empty item in list", what);
            return -1;
        }
        if (b != e) {
            if (n >= PROFILE_MAX_LIST) {
                report(L, at, "%s: more than %d items", what, PROFILE_MAX_LIST);
                return -1;
            }
            *e = '\0';
            items[n++] = b;
        }
        if (last)
            break;
        s += len + 1;
    }
    return n;
}

static int find_name(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

/* "expected a, b or c; did you mean 'b'?" */
static void bad_name(loader *L, origin at, const char *what, const char *kind, const char *got,
                     const char *const *names)
{
    char list[400];
    size_t at_ = 0, n = count_names(names);
    list[0] = '\0';
    for (size_t i = 0; i < n && at_ < sizeof list; i++) {
        int w = snprintf(list + at_, sizeof list - at_, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
        if (w > 0)
            at_ += (size_t)w;
    }
    const char *s = suggest_closest(got, strlen(got), names, n);
    report(L, at, "%s: unknown %s '%s' (expected %s%s%s%s)", what, kind, got, list, s ? "; did you mean '" : "",
           s ? s : "", s ? "'?" : "");
}

static const char *arena_list(loader *L, char **items, int n, profile_strs *out)
{
    const char **v = arena_alloc(L->a, (size_t)(n ? n : 1) * sizeof *v);
    if (!v)
        return "profile too large";
    for (int i = 0; i < n; i++)
        if (!(v[i] = arena_strdup(L->a, items[i])))
            return "profile too large";
    out->v = v;
    out->n = (size_t)n;
    return NULL;
}

/* ---- typed values ---------------------------------------------------------------------------- */

static bool valid_host(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-' || h[n - 1] == '.' || h[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!(isalnum((unsigned char)c) || c == '-' || c == '.'))
            return false;
        if (c == '.' && h[i + 1] == '.')
            return false;
    }
    return true;
}

/* local@domain with a plausible local part and a host name domain; no display names. */
static bool valid_email(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || at - s > 64 || !valid_host(at + 1) || !strchr(at + 1, '.'))
        return false;
    for (const char *p = s; p < at; p++)
        if (!(isalnum((unsigned char)*p) || strchr(".!#$%&'*+-/=?^_`{|}~", *p)))
            return false;
    return s[0] != '.' && at[-1] != '.';
}

static bool valid_ident(const char *s, bool lower_only, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = isdigit(c) || (lower_only ? islower(c) : isalpha(c)) || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* A seed message file stem: profiles/messages/NAME.eml. No path separators, no "..". */
static bool valid_message_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !isalnum((unsigned char)s[0]) || strstr(s, ".."))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return false;
    return true;
}

static bool parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!*s || strlen(s) > 19)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int parse_bool(const char *s)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i]))
            return 1;
        if (!strcasecmp(s, no[i]))
            return 0;
    }
    return -1;
}

/* Capability markers per protocol, and literals that must be written as markers instead. */
typedef struct marker {
    const char *text;
    profile_cap_kind kind;
} marker;

static const marker imap_markers[] = {{"{auth}", PROFILE_CAP_AUTH}, {"{starttls}", PROFILE_CAP_STARTTLS},
                                      {"{logindisabled}", PROFILE_CAP_LOGIN}, {NULL, 0}};
static const marker smtp_markers[] = {{"{auth}", PROFILE_CAP_AUTH}, {"{starttls}", PROFILE_CAP_STARTTLS},
                                      {NULL, 0}};
static const marker pop3_markers[] = {{"{sasl}", PROFILE_CAP_AUTH}, {"{stls}", PROFILE_CAP_STARTTLS},
                                      {"{user}", PROFILE_CAP_LOGIN}, {NULL, 0}};

static const marker *markers_of(profile_proto proto)
{
    return proto == PROFILE_IMAP ? imap_markers : proto == PROFILE_SMTP ? smtp_markers : pop3_markers;
}

static const char *marker_text(profile_proto proto, profile_cap_kind kind)
{
    for (const marker *m = markers_of(proto); m->text; m++)
        if (m->kind == kind)
            return m->text;
    return "?";
}

/* A literal that a marker computes; NULL if item is an ordinary capability. */
static const char *literal_marker(profile_proto proto, const char *item)
{
    size_t n = strlen(item);
    switch (proto) {
    case PROFILE_IMAP:
        if (!strcasecmp(item, "STARTTLS"))
            return "{starttls}";
        if (!strcasecmp(item, "LOGINDISABLED"))
            return "{logindisabled}";
        if (n >= 5 && !strncasecmp(item, "AUTH=", 5))
            return "{auth}";
        return NULL;
    case PROFILE_SMTP:
        if (!strcasecmp(item, "STARTTLS"))
            return "{starttls}";
        if (n >= 4 && !strncasecmp(item, "AUTH", 4) && (n == 4 || item[4] == ' ' || item[4] == '='))
            return "{auth}";
        return NULL;
    default:
        if (!strcasecmp(item, "STLS"))
            return "{stls}";
        if (!strcasecmp(item, "USER"))
            return "{user}";
        if (n >= 4 && !strncasecmp(item, "SASL", 4) && (n == 4 || item[4] == ' '))
            return "{sasl}";
        return NULL;
    }
}

static bool parse_caps(loader *L, profile_proto proto, char *v, profile_caps *out, origin at, const char *what)
{
    char *items[PROFILE_MAX_LIST];
    int n = proto == PROFILE_IMAP ? split_list(L, v, " \t", true, items, at, what)
                                  : split_list(L, v, ",", false, items, at, what);
    if (n < 0)
        return false;
    profile_cap *caps = arena_alloc(L->a, (size_t)(n ? n : 1) * sizeof *caps);
    if (!caps) {
        report(L, at, "%s: profile too large", what);
        return false;
    }
    for (int i = 0; i < n; i++) {
        const marker *m = markers_of(proto);
        while (m->text && strcmp(m->text, items[i]))
            m++;
        if (m->text) {
            for (int j = 0; j < i; j++)
                if (caps[j].kind == m->kind) {
                    report(L, at, "%s: %s appears twice", what, m->text);
                    return false;
                }
            caps[i].kind = m->kind;
            continue;
        }
        const char *lit = literal_marker(proto, items[i]);
        if (lit) {
            report(L, at, "%s: write %s instead of '%s': it is computed from the listener and the mechanisms",
                   what, lit, items[i]);
            return false;
        }
        char err[300];
        caps[i].kind = PROFILE_CAP_TEXT;
        caps[i].text = template_compile(L->a, items[i], 0, err, sizeof err);
        if (!caps[i].text) {
            report(L, at, "%s: item '%s': %s", what, items[i], err);
            return false;
        }
    }
    out->v = caps;
    out->n = (size_t)n;
    return true;
}

/* Parse a list of enum names into distinct values; returns the count or -1. */
static int parse_enum_list(loader *L, char *v, const char *const *names, bool ci, int *vals, origin at,
                           const char *what, const char *kind)
{
    char *items[PROFILE_MAX_LIST];
    int n = split_list(L, v, ", \t", true, items, at, what);
    for (int i = 0; i < n; i++) {
        int x = -1;
        for (int j = 0; names[j] && x < 0; j++)
            if (ci ? !strcasecmp(names[j], items[i]) : !strcmp(names[j], items[i]))
                x = j;
        if (x < 0) {
            bad_name(L, at, what, kind, items[i], names);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (vals[j] == x) {
                report(L, at, "%s: '%s' appears twice", what, names[x]);
                return -1;
            }
        vals[i] = x;
    }
    return n;
}

static bool parse_strs(loader *L, const keydef *kd, char *v, profile_strs *out, origin at, const char *what)
{
    char *items[PROFILE_MAX_LIST];
    int n = split_list(L, v, ", \t", true, items, at, what);
    if (n < 0)
        return false;
    for (int i = 0; i < n; i++) {
        const char *it = items[i];
        const char *bad = NULL;
        switch (kd->type) {
        case KT_HOSTS: bad = valid_host(it) ? NULL : "is not a host name"; break;
        case KT_EMAILS: bad = valid_email(it) ? NULL : "is not an address like name@example.com"; break;
        case KT_FLAGS:
            bad = it[0] == '\\' && it[1] && valid_ident(it + 1, false, 40) && !strchr(it + 1, '-')
                      ? NULL : "is not a flag like \\Sent";
            break;
        default:
            bad = valid_message_name(it) ? NULL : "is not a message name (letters, digits, '-', '_', '.')";
            break;
        }
        if (bad) {
            report(L, at, "%s: '%s' %s", what, it, bad);
            return false;
        }
        for (int j = 0; j < i; j++)
            if (!strcasecmp(items[j], it)) {
                report(L, at, "%s: '%s' appears twice", what, it);
                return false;
            }
    }
    const char *err = arena_list(L, items, n, out);
    if (err)
        report(L, at, "%s: %s", what, err);
    return !err;
}

/* The name lists: user name forms, mechanisms, password kinds, account states. */
static bool parse_names(loader *L, ktype type, char *v, void *field, origin at, const char *what)
{
    static const char *const state_aliases[] = {"imap-disabled", "pop-disabled", "smtp-auth-disabled",
                                                "basic-auth-disabled", "not-signed-in", "protocols-disabled",
                                                "ok", NULL};
    const char *const *names = type == KT_UFORMS ? uform_names
                               : type == KT_MECHS ? mech_names
                               : type == KT_PASSWORDS ? pw_names : state_aliases;
    const char *kind = type == KT_UFORMS ? "user name form"
                       : type == KT_MECHS ? "mechanism"
                       : type == KT_PASSWORDS ? "password kind" : "state";
    int vals[PROFILE_MAX_LIST];
    int n = parse_enum_list(L, v, names, type == KT_MECHS, vals, at, what, kind);
    if (n < 0)
        return false;
    if (n == 0 && type != KT_MECHS) {
        report(L, at, "%s: needs at least one %s", what, kind);
        return false;
    }
    unsigned mask = 0;
    switch (type) {
    case KT_UFORMS: {
        profile_uforms *u = field;
        u->n = (uint8_t)n;
        for (int i = 0; i < n; i++)
            u->v[i] = (uint8_t)vals[i];
        return true;
    }
    case KT_MECHS: {
        profile_mechs *m = field;
        m->n = (uint8_t)n;
        for (int i = 0; i < n; i++)
            m->v[i] = (uint8_t)vals[i];
        return true;
    }
    case KT_STATE:
        for (int i = 0; i < n; i++) {
            if (!strcmp(names[vals[i]], "ok")) {
                if (n > 1) {
                    report(L, at, "%s: 'ok' cannot be combined with other states", what);
                    return false;
                }
            } else if (!strcmp(names[vals[i]], "protocols-disabled")) {
                mask |= PROFILE_STATE_IMAP_DISABLED | PROFILE_STATE_POP_DISABLED;
            } else {
                mask |= 1u << vals[i];
            }
        }
        *(unsigned *)field = mask;
        return true;
    default:
        for (int i = 0; i < n; i++)
            mask |= 1u << vals[i];
        *(unsigned *)field = mask;
        return true;
    }
}

/* Parse v (already unquoted) as kd's type into field. Reports and returns false on error. */
static bool parse_typed(loader *L, const keydef *kd, char *v, void *field, origin at, const char *what)
{
    char err[400];
    switch (kd->type) {
    case KT_TEXT:
    case KT_SECRET:
    case KT_HOST:
    case KT_EMAIL:
    case KT_NAME: {
        const char *bad = NULL;
        if (kd->type == KT_HOST && *v && !valid_host(v))
            bad = "is not a host name";
        if (kd->type == KT_EMAIL && !valid_email(v))
            bad = "is not an address like name@example.com";
        if (kd->type == KT_NAME && !valid_ident(v, true, 64))
            bad = "is not a name (lower-case letters, digits, '-', '_')";
        if (bad) {
            report(L, at, "%s: '%s' %s", what, v, bad);
            return false;
        }
        const char *s = *v || kd->type == KT_NAME || kd->type == KT_EMAIL ? arena_strdup(L->a, v) : NULL;
        if (*v && !s) {
            report(L, at, "%s: profile too large", what);
            return false;
        }
        *(const char **)field = s;
        return true;
    }
    case KT_PATTERN:
        if (template_pattern_check(v, (size_t)kd->max, err, sizeof err) < 0) {
            report(L, at, "%s: %s", what, err);
            return false;
        }
        if (!(*(const char **)field = arena_strdup(L->a, v))) {
            report(L, at, "%s: profile too large", what);
            return false;
        }
        return true;
    case KT_BOOL: {
        int b = parse_bool(v);
        if (b < 0) {
            report(L, at, "%s: '%s' is not yes or no", what, v);
            return false;
        }
        *(bool *)field = b;
        return true;
    }
    case KT_UINT:
    case KT_U64: {
        uint64_t x;
        if (!parse_uint(v, kd->min, kd->max, &x)) {
            report(L, at, "%s: '%s' is not a whole number from %llu to %llu", what, v,
                   (unsigned long long)kd->min, (unsigned long long)kd->max);
            return false;
        }
        if (kd->type == KT_UINT)
            *(unsigned *)field = (unsigned)x;
        else
            *(uint64_t *)field = x;
        return true;
    }
    case KT_ENUM:
    case KT_TLSVER: {
        const char *const *names = kd->type == KT_ENUM ? kd->names : tlsver_names;
        int x = find_name(names, v);
        if (x < 0) {
            bad_name(L, at, what, "value", v, names);
            return false;
        }
        if (kd->type == KT_ENUM)
            *(int *)field = x;
        else
            *(unsigned *)field = 0x0301u + (unsigned)x;
        return true;
    }
    case KT_CHAR:
        if (strlen(v) != 1 || !isgraph((unsigned char)v[0]) || strchr("\"\\*%", v[0])) {
            report(L, at, "%s: '%s' is not one character (not \" \\ * or %%)", what, v);
            return false;
        }
        *(char *)field = v[0];
        return true;
    case KT_TEMPLATE:
        if (!*v) {
            *(const template **)field = NULL;
            return true;
        }
        if (!(*(const template **)field = template_compile(L->a, v, kd->vars, err, sizeof err))) {
            report(L, at, "%s: %s", what, err);
            return false;
        }
        return true;
    case KT_UFORMS:
    case KT_MECHS:
    case KT_PASSWORDS:
    case KT_STATE:
        return parse_names(L, kd->type, v, field, at, what);
    case KT_CAPS:
        return parse_caps(L, (profile_proto)kd->min, v, field, at, what);
    case KT_HOSTS:
    case KT_EMAILS:
    case KT_FLAGS:
    case KT_MSGS:
        return parse_strs(L, kd, v, field, at, what);
    }
    return false;
}

/* ---- section instances ------------------------------------------------------------------------ */

static skind section_kind_of(const char *section, size_t n, bool *known)
{
    size_t k = 0;
    while (k < n && section[k] != '.')
        k++;
    for (int i = 0; i < S_COUNT; i++)
        if (strlen(section_kinds[i]) == k && !memcmp(section_kinds[i], section, k)) {
            *known = true;
            return (skind)i;
        }
    *known = false;
    return S_COUNT;
}

static bool reported_section(loader *L, const char *section)
{
    for (size_t i = 0; i < L->n_bad_sections; i++)
        if (!strcmp(L->bad_sections[i], section))
            return true;
    if (L->n_bad_sections < sizeof L->bad_sections / sizeof L->bad_sections[0])
        L->bad_sections[L->n_bad_sections++] = section;
    return false;
}

static void apply_defaults(loader *L, inst *in);

static int multi_index(skind k)
{
    return k == S_LISTENER ? 0 : k == S_ACCOUNT ? 1 : 2;
}

/* A folder name as LIST shows it: printable ASCII, no quoting or wildcard characters. */
static bool valid_folder_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 40 || s[0] == ' ' || s[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isprint((unsigned char)s[i]) || strchr("\"\\*%", s[i]))
            return false;
    return true;
}

static inst *new_multi(loader *L, skind k, const char *name, origin at)
{
    int mi = multi_index(k);
    size_t max = k == S_LISTENER ? PROFILE_MAX_LISTENERS : k == S_ACCOUNT ? PROFILE_MAX_ACCOUNTS : PROFILE_MAX_FOLDERS;
    if (L->n_multi[mi] >= max) {
        report(L, at, "more than %zu [%s.*] sections", max, sections[k].kind);
        return NULL;
    }
    size_t i = L->n_multi[mi];
    inst *in = &L->multi[mi][i];
    in->kind = k;
    in->at = at;
    in->keys = arena_alloc(L->tmp, sections[k].nkeys * sizeof *in->keys);
    const char *copy = arena_strdup(L->a, name);
    if (!in->keys || !copy) {
        report(L, at, "profile too large");
        return NULL;
    }
    if (k == S_LISTENER) {
        in->base = &L->listeners[i];
        L->listeners[i].port = (unsigned)strtoul(name, NULL, 10);
        snprintf(in->label, sizeof in->label, "listener.%u", L->listeners[i].port);
    } else if (k == S_ACCOUNT) {
        in->base = &L->accounts[i];
        L->accounts[i].name = copy;
        snprintf(in->label, sizeof in->label, "account.%s", copy);
    } else {
        in->base = &L->folders[i];
        L->folders[i].name = copy;
        snprintf(in->label, sizeof in->label, "folder.%s", copy);
    }
    in->name = copy;
    L->n_multi[mi]++;
    apply_defaults(L, in);
    return in;
}

/* The instance a section name refers to, created on first use; NULL (reported once per
 * section name) when the name is not valid. */
static inst *get_instance(loader *L, const char *section, origin sect_at, origin key_at)
{
    bool known;
    skind k = section_kind_of(section, strlen(section), &known);
    const char *dot = strchr(section, '.');
    const char *name = dot ? dot + 1 : NULL;
    const char *why = NULL;
    char buf[200];
    if (!*section) {
        why = "setting outside any section";
        sect_at = key_at;
    } else if (!known) {
        size_t kl = dot ? (size_t)(dot - section) : strlen(section);
        const char *sug = suggest_closest(section, kl, section_kinds, S_COUNT);
        if (sug) {
            bool sk;
            skind sugk = section_kind_of(sug, strlen(sug), &sk);
            const char *tail = dot ? dot : !sections[sugk].repeated ? "" : sugk == S_LISTENER ? ".PORT" : ".NAME";
            snprintf(buf, sizeof buf, "unknown section [%s] (did you mean [%s%s]?)", section, sug, tail);
        } else {
            snprintf(buf, sizeof buf, "unknown section [%s] (there are [profile], [tls], [imap], [smtp], [pop3], "
                     "[listener.PORT], [account.NAME] and [folder.NAME])", section);
        }
        why = buf;
    } else if (sections[k].repeated && (!name || !*name)) {
        snprintf(buf, sizeof buf, "[%s] needs a name: [%s.%s]", section, section, k == S_LISTENER ? "PORT" : "NAME");
        why = buf;
    } else if (!sections[k].repeated && name) {
        snprintf(buf, sizeof buf, "unknown section [%s] ([%s] takes no name)", section, sections[k].kind);
        why = buf;
    } else if (k == S_LISTENER) {
        uint64_t port;
        if (!parse_uint(name, 1, 65535, &port)) {
            snprintf(buf, sizeof buf, "[%s]: a listener is named by its port, 1 to 65535", section);
            why = buf;
        }
    } else if (k == S_ACCOUNT && !valid_ident(name, false, 40)) {
        snprintf(buf, sizeof buf, "[%s]: an account name is letters, digits, '-' and '_'", section);
        why = buf;
    } else if (k == S_FOLDER && !valid_folder_name(name)) {
        snprintf(buf, sizeof buf, "[%s]: a folder name is printable ASCII without \" \\ * %%, at most 40 characters",
                 section);
        why = buf;
    }
    if (why) {
        if (!reported_section(L, section))
            report(L, sect_at, "%s", why);
        return NULL;
    }
    inst *in = NULL;
    if (!sections[k].repeated) {
        in = &L->single[k];
    } else {
        int mi = multi_index(k);
        for (size_t i = 0; i < L->n_multi[mi] && !in; i++) {
            inst *c = &L->multi[mi][i];
            /* folder names are case-sensitive, except INBOX (RFC 3501 5.1) */
            bool same = k == S_LISTENER ? L->listeners[i].port == (unsigned)strtoul(name, NULL, 10)
                        : !strcmp(c->name, name) ||
                              (k == S_FOLDER && !strcasecmp(c->name, "INBOX") && !strcasecmp(name, "INBOX"));
            if (same)
                in = c;
        }
        if (!in)
            return new_multi(L, k, name, sect_at);
    }
    /* the same section opened again by another header line */
    if (!origin_set(in->at)) {
        in->at = sect_at;
    } else if (sect_at.line && in->at.line && sect_at.line != in->at.line && !reported_section(L, section)) {
        report(L, sect_at, "[%s] appears again (first at line %d); %s", section, in->at.line,
               k == S_LISTENER ? "a port can have only one listener" : "merge the two");
    }
    return in;
}

static void apply_defaults(loader *L, inst *in)
{
    const sectdef *sd = &sections[in->kind];
    for (size_t i = 0; i < sd->nkeys; i++) {
        const keydef *kd = &sd->keys[i];
        if (!kd->def)
            continue;
        char *v = arena_strdup(L->tmp, kd->def);
        /* defaults are checked by the unit tests; a failure here is a bug in the key table */
        if (v)
            parse_typed(L, kd, v, (char *)in->base + kd->offset, NOWHERE, "built-in default");
    }
}

static void apply_entry(loader *L, const entry *e)
{
    inst *in = get_instance(L, e->section, e->sect_at, e->at);
    if (!in || !*e->key)
        return;
    const sectdef *sd = &sections[in->kind];
    const keydef *kd = find_key(in->kind, e->key, strlen(e->key));
    if (!kd) {
        const char *names[200];
        size_t n = 0;
        for (size_t i = 0; i < sd->nkeys && n < 200; i++)
            names[n++] = sd->keys[i].name;
        const char *sug = suggest_closest(e->key, strlen(e->key), names, n);
        report(L, e->at, "unknown key '%s' in [%s]%s%s%s", e->key, sd->kind, sug ? " (did you mean '" : "",
               sug ? sug : "", sug ? "'?)" : "");
        return;
    }
    origin *prev = &in->keys[kd - sd->keys];
    if (prev->line && e->at.line) {
        report(L, e->at, "'%s' is set twice in [%s] (first at line %d)", e->key, in->label, prev->line);
        return;
    }
    char what[120];
    snprintf(what, sizeof what, "[%s] %s", in->label, kd->name);
    char *v = unquote(L, e->value, e->at, what);
    bool ok = v && parse_typed(L, kd, v, (char *)in->base + kd->offset, e->at, what);
    *prev = e->at;
    prev->bad = !ok;
}

/* ---- validation ---------------------------------------------------------------------------------- */

static const void *field_of(const inst *in, const keydef *kd)
{
    return (const char *)in->base + kd->offset;
}

/* The key was set to a valid value (explicitly, not by default). */
static bool key_is_set(const inst *in, const char *key)
{
    const keydef *kd = find_key(in->kind, key, strlen(key));
    return kd && origin_set(in->keys[kd - sections[in->kind].keys]) && !in->keys[kd - sections[in->kind].keys].bad;
}

static origin key_origin(const inst *in, const char *key)
{
    const keydef *kd = find_key(in->kind, key, strlen(key));
    return kd ? in->keys[kd - sections[in->kind].keys] : NOWHERE;
}

/* The value is present: explicitly set, or a default that is not empty. */
static bool has_value(const inst *in, const keydef *kd)
{
    const void *f = field_of(in, kd);
    switch (kd->type) {
    case KT_TEMPLATE: return *(const template *const *)f != NULL;
    case KT_TEXT:
    case KT_SECRET:
    case KT_NAME:
    case KT_HOST:
    case KT_EMAIL:
    case KT_PATTERN: return *(const char *const *)f != NULL;
    case KT_CAPS: return origin_set(in->keys[kd - sections[in->kind].keys]);
    default: return origin_set(in->keys[kd - sections[in->kind].keys]) || kd->def;
    }
}

static void check_required(loader *L, const inst *in)
{
    const sectdef *sd = &sections[in->kind];
    for (size_t i = 0; i < sd->nkeys; i++) {
        const keydef *kd = &sd->keys[i];
        if ((kd->flags & KF_REQ) && !has_value(in, kd) && !in->keys[i].bad)
            report(L, in->at, "[%s] is missing '%s'", in->label, kd->name);
    }
}

static const profile_service *service(const profile *p, profile_proto proto)
{
    return proto == PROFILE_IMAP ? &p->imap.s : proto == PROFILE_SMTP ? &p->smtp.s : &p->pop3.s;
}

const profile_service *profile_service_of(const profile *p, profile_proto proto)
{
    return service(p, proto);
}

static void check_services(loader *L)
{
    static const char *const host_keys[] = {"imap_host", "smtp_host", "pop3_host"};
    for (int pr = 0; pr < PROFILE_PROTO_COUNT; pr++) {
        inst *in = &L->single[proto_section((profile_proto)pr)];
        const profile_service *s = service(L->p, (profile_proto)pr);
        if (!origin_set(in->at)) {
            report(L, NOWHERE, "missing section [%s] (write 'enabled = no' in it if the provider has no %s)",
                   proto_names[pr], pr == PROFILE_POP3 ? "POP3" : pr == PROFILE_IMAP ? "IMAP" : "SMTP");
            continue;
        }
        if (!s->enabled)
            continue;
        check_required(L, in);
        if (!s->host)
            report(L, L->single[S_PROFILE].at, "[profile] is missing '%s' ([%s] is enabled)", host_keys[pr],
                   proto_names[pr]);
    }
}

static bool any_enabled(const profile *p)
{
    return p->imap.s.enabled || p->smtp.s.enabled || p->pop3.s.enabled;
}

static void check_listeners(loader *L)
{
    if (L->n_multi[0] == 0)
        report(L, NOWHERE, "no [listener.PORT] sections");
    for (size_t i = 0; i < L->n_multi[0]; i++) {
        inst *in = &L->multi[0][i];
        const profile_listener *l = &L->listeners[i];
        check_required(L, in);
        if (!key_is_set(in, "protocol"))
            continue;
        bool off = !service(L->p, l->proto)->enabled;
        if (off && l->mode != PROFILE_MODE_CLOSED && l->mode != PROFILE_MODE_SILENT)
            report(L, key_origin(in, "mode"), "[%s] serves %s, which [%s] disables; make it closed or silent",
                   in->label, proto_names[l->proto], proto_names[l->proto]);
        if (l->greeting && l->proto != PROFILE_IMAP && (template_vars_used(l->greeting) & TPL_BIT(TPL_CAPS)))
            report(L, key_origin(in, "greeting"), "[%s] greeting: {caps} is only available for IMAP", in->label);
    }
}

static bool same_address(const char *a, const char *b)
{
    return a && b && !strcasecmp(a, b);
}

static void check_accounts(loader *L)
{
    const profile *p = L->p;
    if (L->n_multi[1] == 0 && any_enabled(p))
        report(L, NOWHERE, "no [account.NAME] sections");
    bool local_used = false;
    for (int pr = 0; pr < PROFILE_PROTO_COUNT; pr++) {
        const profile_service *s = service(p, (profile_proto)pr);
        for (size_t f = 0; s->enabled && f < s->username.n; f++)
            local_used |= s->username.v[f] == PROFILE_UFORM_LOCAL;
    }
    for (size_t i = 0; i < L->n_multi[1]; i++) {
        inst *in = &L->multi[1][i];
        profile_account *a = &L->accounts[i];
        check_required(L, in);
        if (!a->email)
            continue;
        const char *at = strchr(a->email, '@');
        a->local = arena_strndup(L->a, a->email, (size_t)(at - a->email));
        for (int pr = 0; pr < PROFILE_PROTO_COUNT; pr++) {
            const profile_service *s = service(p, (profile_proto)pr);
            if (s->enabled && s->passwords == PROFILE_PW_APP && !a->app_password)
                report(L, in->at, "[%s] has no app_password, which [%s] requires (password = app)", in->label,
                       proto_names[pr]);
        }
        /* an address (or, when the local form is accepted, a local part) names one account */
        for (size_t j = 0; j < i; j++) {
            const profile_account *b = &L->accounts[j];
            if (!b->email)
                continue;
            bool clash = same_address(a->email, b->email);
            for (size_t x = 0; x < a->aliases.n; x++) {
                clash |= same_address(a->aliases.v[x], b->email);
                for (size_t y = 0; y < b->aliases.n; y++)
                    clash |= same_address(a->aliases.v[x], b->aliases.v[y]);
            }
            for (size_t y = 0; y < b->aliases.n; y++)
                clash |= same_address(a->email, b->aliases.v[y]);
            if (clash)
                report(L, in->at, "[%s] and [account.%s] share an address", in->label, b->name);
            else if (local_used && b->local && same_address(a->local, b->local))
                report(L, in->at, "[%s] and [account.%s] have the same local part '%s', and a protocol accepts "
                       "user names of the local form", in->label, b->name, a->local);
        }
    }
}

static void check_folders(loader *L)
{
    bool inbox = false;
    for (size_t i = 0; i < L->n_multi[2]; i++)
        inbox |= !strcasecmp(L->folders[i].name, "INBOX");
    if (L->p->imap.s.enabled && !inbox)
        report(L, NOWHERE, "no [folder.INBOX] section ([imap] is enabled)");
}

static void check_tls(loader *L)
{
    if (L->p->tls.min_version > L->p->tls.max_version)
        report(L, key_origin(&L->single[S_TLS], "min_version"), "[tls] min_version is above max_version");
}

/* ---- resolution ------------------------------------------------------------------------------------ */

/* Fill an unset FB template from its fallback (recursively: top_ok -> retr_ok -> ok), and
 * check that the stand-in only uses placeholders this reply can supply. */
static const template *resolve_tpl(loader *L, const inst *in, const keydef *kd, int depth)
{
    const template **f = (const template **)((char *)in->base + kd->offset);
    if (*f || !(kd->flags & KF_FB) || depth > 8)
        return *f;
    const keydef *fb = find_key(in->kind, kd->fallback, strlen(kd->fallback));
    const template *t = fb ? resolve_tpl(L, in, fb, depth + 1) : NULL;
    if (t && (template_vars_used(t) & ~TPL_CONN_VARS & ~kd->vars)) {
        report(L, key_origin(in, fb->name), "[%s] %s uses a placeholder that %s (which falls back to it) cannot "
               "supply; set %s too", in->label, fb->name, kd->name, kd->name);
        return NULL;
    }
    *f = t;
    return t;
}

static void resolve(loader *L)
{
    profile *p = L->p;
    for (int pr = 0; pr < PROFILE_PROTO_COUNT; pr++) {
        inst *in = &L->single[proto_section((profile_proto)pr)];
        profile_service *s = (profile_service *)in->base;
        if (!s->backend)
            s->backend = p->backend;
        if (!s->backend_domain)
            s->backend_domain = p->backend_domain;
        const sectdef *sd = &sections[in->kind];
        for (size_t i = 0; i < sd->nkeys; i++)
            if (sd->keys[i].type == KT_TEMPLATE)
                resolve_tpl(L, in, &sd->keys[i], 0);
    }
    p->listeners = L->listeners;
    p->n_listeners = L->n_multi[0];
    p->accounts = L->accounts;
    p->n_accounts = L->n_multi[1];
    p->folders = L->folders;
    p->n_folders = L->n_multi[2];
}

/* ---- loading ------------------------------------------------------------------------------------- */

static int init_loader(loader *L, profile_diag *d, const char *file)
{
    memset(L, 0, sizeof *L);
    L->d = d;
    L->file = file;
    L->a = arena_new(PROFILE_MAX_ARENA);
    L->tmp = arena_new(TMP_ARENA);
    if (!L->a || !L->tmp)
        return -1;
    L->p = arena_alloc(L->a, sizeof *L->p);
    L->listeners = arena_alloc(L->a, PROFILE_MAX_LISTENERS * sizeof *L->listeners);
    L->accounts = arena_alloc(L->a, PROFILE_MAX_ACCOUNTS * sizeof *L->accounts);
    L->folders = arena_alloc(L->a, PROFILE_MAX_FOLDERS * sizeof *L->folders);
    L->multi[0] = arena_alloc(L->tmp, PROFILE_MAX_LISTENERS * sizeof(inst));
    L->multi[1] = arena_alloc(L->tmp, PROFILE_MAX_ACCOUNTS * sizeof(inst));
    L->multi[2] = arena_alloc(L->tmp, PROFILE_MAX_FOLDERS * sizeof(inst));
    if (!L->p || !L->listeners || !L->accounts || !L->folders || !L->multi[0] || !L->multi[1] ||
        !L->multi[2])
        return -1;
    L->p->arena = L->a;
    L->p->origin = arena_strdup(L->a, file);
    void *bases[] = {[S_PROFILE] = L->p, [S_TLS] = &L->p->tls, [S_IMAP] = &L->p->imap, [S_SMTP] = &L->p->smtp,
                     [S_POP3] = &L->p->pop3};
    for (int k = 0; k <= S_POP3; k++) {
        inst *in = &L->single[k];
        in->kind = (skind)k;
        in->base = bases[k];
        snprintf(in->label, sizeof in->label, "%s", sections[k].kind);
        in->keys = arena_alloc(L->tmp, sections[k].nkeys * sizeof *in->keys);
        if (!in->keys)
            return -1;
        apply_defaults(L, in);
    }
    return L->p->origin ? 0 : -1;
}

/* "SECTION.KEY=VALUE" -> an entry. */
static void add_set(loader *L, const char *set)
{
    origin at = {.set = set};
    const char *eq = strchr(set, '=');
    const char *dot = NULL;
    for (const char *c = set; eq && c < eq; c++)
        if (*c == '.')
            dot = c;
    if (!eq || !dot || dot == set || dot + 1 == eq) {
        report(L, at, "expected SECTION.KEY=VALUE (for example imap.username=full)");
        return;
    }
    char section[MAX_SECTION + 8], key[MAX_KEY + 1];
    size_t sl = (size_t)(dot - set), kl = (size_t)(eq - dot - 1);
    if (sl > MAX_SECTION || kl > MAX_KEY) {
        report(L, at, "section or key name too long");
        return;
    }
    memcpy(section, set, sl);
    section[sl] = '\0';
    memcpy(key, dot + 1, kl);
    key[kl] = '\0';
    add_entry(L, section, key, eq + 1, at, at);
}

static profile *finish(loader *L)
{
    for (size_t i = 0; i < L->n_entries && i < MAX_ENTRIES; i++)
        apply_entry(L, &L->entries[i]);
    check_required(L, &L->single[S_PROFILE]);
    check_services(L);
    check_tls(L);
    check_listeners(L);
    check_accounts(L);
    check_folders(L);
    resolve(L);
    arena_free(L->tmp);
    L->tmp = NULL;
    if (L->errors) {
        arena_free(L->a);
        return NULL;
    }
    return L->p;
}

profile *profile_load_string(const char *text, size_t len, const char *origin_name, const profile_opts *opts,
                             profile_diag *d)
{
    loader L;
    if (init_loader(&L, d, origin_name ? origin_name : "<string>") < 0) {
        diag_add(d, "%s: out of memory", origin_name ? origin_name : "<string>");
        arena_free(L.a);
        arena_free(L.tmp);
        return NULL;
    }
    if (len > PROFILE_MAX_FILE) {
        report(&L, NOWHERE, "larger than %d bytes", PROFILE_MAX_FILE);
        arena_free(L.a);
        arena_free(L.tmp);
        return NULL;
    }
    L.text = text;
    L.len = len;
    ini_parse_stream(read_line, &L, on_entry, &L);
    for (size_t i = 0; opts && i < opts->n_sets; i++)
        add_set(&L, opts->sets[i]);
    return finish(&L);
}

profile *profile_load_file(const char *path, const profile_opts *opts, profile_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_add(d, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(PROFILE_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, PROFILE_MAX_FILE + 1, f) : 0;
    bool err = !buf || ferror(f);
    fclose(f);
    profile *p = NULL;
    if (err)
        diag_add(d, "%s: cannot read: %s", path, buf ? strerror(errno) : "out of memory");
    else if (n > PROFILE_MAX_FILE)
        diag_add(d, "%s: larger than %d bytes", path, PROFILE_MAX_FILE);
    else
        p = profile_load_string(buf, n, path, opts, d);
    free(buf);
    return p;
}

profile *profile_load(const char *arg, const profile_opts *opts, profile_diag *d)
{
    size_t n = strlen(arg);
    if (strchr(arg, '/') || (n > 4 && !strcmp(arg + n - 4, ".ini")))
        return profile_load_file(arg, opts, d);
    if (!valid_ident(arg, true, 64)) {
        diag_add(d, "'%s' is neither a profile name (lower-case letters, digits, '-', '_') nor a path", arg);
        return NULL;
    }
    char dir[4096], file[128], path[4096 + 200];
    if (opts && opts->data_dir)
        snprintf(dir, sizeof dir, "%s", opts->data_dir);
    else if (paths_data_dir(dir, sizeof dir) < 0) {
        diag_add(d, "data directory path too long");
        return NULL;
    }
    snprintf(file, sizeof file, "%s.ini", arg);
    if (paths_join(path, sizeof path, dir, "profiles", file) < 0) {
        diag_add(d, "profile path too long");
        return NULL;
    }
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        diag_add(d, "no profile named '%s' (looked for %s; `mailrig profile list` shows the ones there are)", arg,
                 path);
        return NULL;
    }
    fclose(probe);
    return profile_load_file(path, opts, d);
}

void profile_free(profile *p)
{
    if (p)
        arena_free(p->arena);
}

/* ---- writing --------------------------------------------------------------------------------- */

/* Whether a value must be quoted to load back as itself: edge spaces, a leading '"', or a
 * ';' that inih would take for an inline comment. */
static bool needs_quotes(const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return false;
    if (v[0] == ' ' || v[n - 1] == ' ' || v[0] == '"' || v[0] == ';')
        return true;
    for (size_t i = 1; i < n; i++)
        if (v[i] == ';' && v[i - 1] == ' ')
            return true;
    return false;
}

/* Write v[0..n), escaped when it goes inside quotes. In `paranoid` mode every character that
 * could make a continuation line read as something else is escaped too. */
static void put_escaped(FILE *f, const char *v, size_t n, bool quoted, bool paranoid, bool after_space)
{
    if (!quoted) {
        fwrite(v, 1, n, f);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        bool space_before = i > 0 ? v[i - 1] == ' ' : after_space;
        if (c == '\\' || c == '"')
            fprintf(f, "\\%c", c);
        else if ((c == ';' && space_before) || (paranoid && strchr(";#=:", c)))
            fprintf(f, "\\x%02x", (unsigned char)c);
        else
            fputc(c, f);
    }
}

/* "key = value" into f, wrapping long values onto indented continuation lines at single
 * spaces (the loader joins continuation lines with one space, which is exactly what was cut).
 * A line may be cut before a word only where continuation_ok() says the rest reads back. */
static void write_value(FILE *f, skind k, const char *key, const char *v, bool quoted, bool paranoid)
{
    size_t col = (size_t)fprintf(f, "%s =%s%s", key, *v ? " " : "", quoted ? "\"" : "");
    size_t n = strlen(v), i = 0;
    bool first = true;
    while (i < n) {
        /* the next chunk ends at a single space between two non-spaces */
        size_t j = i;
        while (j < n && !(v[j] == ' ' && j > i && v[j - 1] != ' ' && j + 1 < n && v[j + 1] != ' '))
            j++;
        size_t len = j - i, kl;
        if (!first) {
            bool ok = paranoid || continuation_ok(k, v + i, n - i, &kl);
            if (col + 1 + len > WRAP_COLUMN && ok) {
                fputs("\n   ", f);
                col = 3;
            }
            fputc(' ', f);
            col++;
        }
        put_escaped(f, v + i, len, quoted, paranoid, !first);
        col += len;
        i = j < n ? j + 1 : j;
        first = false;
    }
    fprintf(f, "%s\n", quoted ? "\"" : "");
}

static size_t longest_line(const char *s)
{
    size_t best = 0, cur = 0;
    for (; *s; s++) {
        cur = *s == '\n' ? 0 : cur + 1;
        best = cur > best ? cur : best;
    }
    return best;
}

enum { LINE_LIMIT = 190 }; /* what we write stays under inih's 198 */

static void write_kv(FILE *f, skind k, const char *key, const char *v)
{
    char *text = NULL;
    size_t size = 0;
    FILE *m = open_memstream(&text, &size);
    if (!m) {
        write_value(f, k, key, v, true, true);
        return;
    }
    write_value(m, k, key, v, needs_quotes(v), false);
    fclose(m);
    if (text && longest_line(text) <= LINE_LIMIT)
        fputs(text, f);
    else
        write_value(f, k, key, v, true, true); /* every boundary is safe when escaped */
    free(text);
}

static void put_join(char *buf, size_t cap, size_t *at, const char *sep, const char *s)
{
    int w = snprintf(buf + *at, cap > *at ? cap - *at : 0, "%s%s", *at ? sep : "", s);
    if (w > 0)
        *at += (size_t)w;
}

/* The value of a key as the file would say it; NULL when it should not be written. */
static const char *format_value(const inst *in, const keydef *kd, char *buf, size_t cap)
{
    const void *f = field_of(in, kd);
    size_t at = 0;
    buf[0] = '\0';
    switch (kd->type) {
    case KT_TEXT:
    case KT_SECRET:
    case KT_NAME:
    case KT_HOST:
    case KT_EMAIL:
    case KT_PATTERN:
        return *(const char *const *)f;
    case KT_BOOL:
        return *(const bool *)f ? "yes" : "no";
    case KT_UINT:
        snprintf(buf, cap, "%u", *(const unsigned *)f);
        return buf;
    case KT_U64:
        snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)f);
        return buf;
    case KT_ENUM:
        return name_of(kd->names, *(const int *)f);
    case KT_TLSVER:
        return name_of(tlsver_names, (int)(*(const unsigned *)f - 0x0301u));
    case KT_CHAR:
        snprintf(buf, cap, "%c", *(const char *)f);
        return buf;
    case KT_TEMPLATE: {
        const template *t = *(const template *const *)f;
        if (!t)
            return NULL;
        if (kd->flags & KF_FB) {
            const keydef *fb = find_key(in->kind, kd->fallback, strlen(kd->fallback));
            if (fb && *(const template *const *)field_of(in, fb) == t)
                return NULL; /* unset: it stands in for its fallback */
        }
        return template_source(t);
    }
    case KT_UFORMS: {
        const profile_uforms *u = f;
        for (size_t i = 0; i < u->n; i++)
            put_join(buf, cap, &at, ", ", uform_names[u->v[i]]);
        return buf;
    }
    case KT_MECHS: {
        const profile_mechs *m = f;
        for (size_t i = 0; i < m->n; i++)
            put_join(buf, cap, &at, " ", mech_names[m->v[i]]);
        return buf;
    }
    case KT_PASSWORDS:
        for (int i = 0; pw_names[i]; i++)
            if (*(const unsigned *)f & (1u << i))
                put_join(buf, cap, &at, ", ", pw_names[i]);
        return buf;
    case KT_STATE:
        profile_state_format(*(const unsigned *)f, buf, cap);
        return buf;
    case KT_CAPS: {
        const profile_caps *c = f;
        profile_proto proto = (profile_proto)kd->min;
        for (size_t i = 0; i < c->n; i++)
            put_join(buf, cap, &at, proto == PROFILE_IMAP ? " " : ", ",
                     c->v[i].kind == PROFILE_CAP_TEXT ? template_source(c->v[i].text) : marker_text(proto, c->v[i].kind));
        return buf;
    }
    case KT_HOSTS:
    case KT_EMAILS:
    case KT_FLAGS:
    case KT_MSGS: {
        const profile_strs *l = f;
        for (size_t i = 0; i < l->n; i++)
            put_join(buf, cap, &at, kd->type == KT_FLAGS ? " " : ", ", l->v[i]);
        return buf;
    }
    }
    return NULL;
}

static void write_inst(FILE *f, const inst *in)
{
    fprintf(f, "\n[%s]\n", in->label);
    const sectdef *sd = &sections[in->kind];
    char buf[MAX_VALUE + 64];
    for (size_t i = 0; i < sd->nkeys; i++) {
        const char *v = format_value(in, &sd->keys[i], buf, sizeof buf);
        if (v)
            write_kv(f, in->kind, sd->keys[i].name, v);
    }
}

/* An inst view of a loaded profile's section, enough for format_value/write_inst. */
static inst view(skind k, const char *label, const void *base)
{
    inst in = {.kind = k, .base = (void *)base};
    snprintf(in.label, sizeof in.label, "%s", label);
    return in;
}

typedef void (*inst_fn)(const inst *a, const inst *b, void *ctx);

/* Call fn for every section of a (paired with the same section of b, which may be NULL).
 * Returns false when b's sections do not pair up with a's (counts or names differ). */
static bool each_inst(const profile *a, const profile *b, inst_fn fn, void *ctx)
{
    const void *sa[] = {a, &a->tls, &a->imap, &a->smtp, &a->pop3};
    const void *sb[] = {b, b ? &b->tls : NULL, b ? &b->imap : NULL, b ? &b->smtp : NULL, b ? &b->pop3 : NULL};
    for (int k = 0; k <= S_POP3; k++) {
        inst x = view((skind)k, sections[k].kind, sa[k]), y = view((skind)k, sections[k].kind, sb[k]);
        fn(&x, b ? &y : NULL, ctx);
    }
    if (b && (a->n_listeners != b->n_listeners || a->n_accounts != b->n_accounts || a->n_folders != b->n_folders))
        return false;
    char label[sizeof ((inst *)0)->label];
    for (size_t i = 0; i < a->n_listeners; i++) {
        if (b && a->listeners[i].port != b->listeners[i].port)
            return false;
        snprintf(label, sizeof label, "listener.%u", a->listeners[i].port);
        inst x = view(S_LISTENER, label, &a->listeners[i]), y = view(S_LISTENER, label, b ? &b->listeners[i] : NULL);
        fn(&x, b ? &y : NULL, ctx);
    }
    for (size_t i = 0; i < a->n_accounts; i++) {
        if (b && strcmp(a->accounts[i].name, b->accounts[i].name))
            return false;
        snprintf(label, sizeof label, "account.%s", a->accounts[i].name);
        inst x = view(S_ACCOUNT, label, &a->accounts[i]), y = view(S_ACCOUNT, label, b ? &b->accounts[i] : NULL);
        fn(&x, b ? &y : NULL, ctx);
    }
    for (size_t i = 0; i < a->n_folders; i++) {
        if (b && strcmp(a->folders[i].name, b->folders[i].name))
            return false;
        snprintf(label, sizeof label, "folder.%s", a->folders[i].name);
        inst x = view(S_FOLDER, label, &a->folders[i]), y = view(S_FOLDER, label, b ? &b->folders[i] : NULL);
        fn(&x, b ? &y : NULL, ctx);
    }
    return true;
}

static void write_one(const inst *a, const inst *b, void *ctx)
{
    (void)b;
    write_inst(ctx, a);
}

int profile_write(const profile *p, FILE *f)
{
    fprintf(f, "# mailrig profile '%s', resolved (defaults and --set overrides included)\n", p->name);
    each_inst(p, NULL, write_one, f);
    return ferror(f) || fflush(f) ? -1 : 0;
}

/* ---- comparing ------------------------------------------------------------------------------- */

typedef struct cmp_ctx {
    bool equal;
    char *what;
    size_t cap;
} cmp_ctx;

static void cmp_one(const inst *a, const inst *b, void *vctx)
{
    cmp_ctx *c = vctx;
    if (!c->equal)
        return;
    const sectdef *sd = &sections[a->kind];
    char ba[MAX_VALUE + 64], bb[MAX_VALUE + 64];
    for (size_t i = 0; i < sd->nkeys; i++) {
        const keydef *kd = &sd->keys[i];
        /* compare the resolved values: a fallback template counts as its text */
        const char *va, *vb;
        if (kd->type == KT_TEMPLATE) {
            const template *ta = *(const template *const *)field_of(a, kd);
            const template *tb = *(const template *const *)field_of(b, kd);
            va = ta ? template_source(ta) : NULL;
            vb = tb ? template_source(tb) : NULL;
        } else {
            va = format_value(a, kd, ba, sizeof ba);
            vb = format_value(b, kd, bb, sizeof bb);
        }
        if ((va == NULL) != (vb == NULL) || (va && strcmp(va, vb))) {
            c->equal = false;
            if (c->what)
                snprintf(c->what, c->cap, "[%s] %s", a->label, kd->name);
            return;
        }
    }
}

bool profile_equal(const profile *a, const profile *b, char *what, size_t cap)
{
    cmp_ctx c = {true, what, cap};
    if (what && cap)
        what[0] = '\0';
    if (!each_inst(a, b, cmp_one, &c)) {
        if (what)
            snprintf(what, cap, "the listener, account or folder sections");
        return false;
    }
    return c.equal;
}

/* ---- lookups ------------------------------------------------------------------------------- */

const profile_listener *profile_listener_find(const profile *p, unsigned port)
{
    for (size_t i = 0; i < p->n_listeners; i++)
        if (p->listeners[i].port == port)
            return &p->listeners[i];
    return NULL;
}

const profile_account *profile_account_find(const profile *p, const char *name)
{
    for (size_t i = 0; i < p->n_accounts; i++)
        if (!strcmp(p->accounts[i].name, name))
            return &p->accounts[i];
    return NULL;
}

static bool eq_ci(const char *a, size_t n, const char *z)
{
    return z && strlen(z) == n && !strncasecmp(a, z, n);
}

bool profile_account_owns(const profile_account *acct, const char *addr, size_t n)
{
    if (eq_ci(addr, n, acct->email))
        return true;
    for (size_t i = 0; i < acct->aliases.n; i++)
        if (eq_ci(addr, n, acct->aliases.v[i]))
            return true;
    return false;
}

const profile_account *profile_account_by_address(const profile *p, const char *addr, size_t n)
{
    for (size_t i = 0; i < p->n_accounts; i++)
        if (profile_account_owns(&p->accounts[i], addr, n))
            return &p->accounts[i];
    return NULL;
}

static bool domain_of(const char *addr, const char *domain, size_t n)
{
    const char *at = addr ? strchr(addr, '@') : NULL;
    return at && eq_ci(domain, n, at + 1);
}

bool profile_domain_is_local(const profile *p, const char *domain, size_t n)
{
    for (size_t i = 0; i < p->n_accounts; i++) {
        const profile_account *a = &p->accounts[i];
        if (domain_of(a->email, domain, n))
            return true;
        for (size_t j = 0; j < a->aliases.n; j++)
            if (domain_of(a->aliases.v[j], domain, n))
                return true;
    }
    return false;
}

int profile_account_username(const profile *p, const profile_account *acct, profile_proto proto, char *buf,
                             size_t cap)
{
    const profile_service *s = service(p, proto);
    bool local = s->username.n && s->username.v[0] == PROFILE_UFORM_LOCAL;
    return snprintf(buf, cap, "%s", local ? acct->local : acct->email);
}

static size_t add_host(const char **names, size_t n, size_t max, const char *h)
{
    if (!h)
        return n;
    for (size_t i = 0; i < n && i < max; i++)
        if (!strcasecmp(names[i], h))
            return n;
    if (n < max)
        names[n] = h;
    return n + 1;
}

size_t profile_hosts(const profile *p, const char **names, size_t max)
{
    size_t n = 0;
    for (int pr = 0; pr < PROFILE_PROTO_COUNT; pr++)
        if (service(p, (profile_proto)pr)->enabled)
            n = add_host(names, n, max, service(p, (profile_proto)pr)->host);
    for (size_t i = 0; i < p->n_listeners; i++)
        n = add_host(names, n, max, p->listeners[i].host);
    for (size_t i = 0; i < p->extra_hosts.n; i++)
        n = add_host(names, n, max, p->extra_hosts.v[i]);
    return n;
}

const template *profile_listener_greeting(const profile *p, const profile_listener *l)
{
    if (l->greeting)
        return l->greeting;
    return l->proto == PROFILE_IMAP ? p->imap.r.greeting
           : l->proto == PROFILE_SMTP ? p->smtp.r.greeting : p->pop3.r.greeting;
}

int profile_conn_init(const profile *p, const profile_listener *l, uint64_t seed, uint64_t conn_id,
                      const char *client_ip, int64_t now_ms, template_conn *out)
{
    const profile_service *s = service(p, l->proto);
    template_conn_params cp = {
        .seed = seed,
        .conn_id = conn_id,
        .backend = s->backend,
        .backend_domain = s->backend_domain,
        .host = l->host ? l->host : s->host,
        .client_ip = client_ip,
        .size_limit = p->smtp.size_limit,
        .now_ms = now_ms,
    };
    return template_conn_init(out, &cp);
}

/* ---- offers and capability lists ------------------------------------------------------------ */

profile_offer profile_offer_now(const profile *p, profile_proto proto, const profile_listener *l, bool tls)
{
    const profile_service *s = service(p, proto);
    profile_offer o = {0};
    o.auth = l->auth;
    o.starttls = l->mode == PROFILE_MODE_STARTTLS && !tls;
    if (o.auth) {
        o.mechs = tls ? s->mechs_tls : s->mechs_plain;
        o.login = proto != PROFILE_SMTP &&
                  (s->login == PROFILE_LOGIN_ALWAYS || (s->login == PROFILE_LOGIN_TLS && tls));
    }
    return o;
}

/* Append s to buf (snprintf-style accounting in *total). */
static void append(char *buf, size_t cap, int *total, const char *s)
{
    size_t at = (size_t)*total < cap ? (size_t)*total : cap;
    int w = snprintf(buf + at, cap > at ? cap - at : 0, "%s", s);
    *total += w > 0 ? w : 0;
}

int profile_caps_item(profile_proto proto, const profile_caps *caps, size_t i, const profile_offer *o,
                      const template_vars *vars, char *buf, size_t cap)
{
    const profile_cap *c = &caps->v[i];
    int total = 0;
    if (cap)
        buf[0] = '\0';
    switch (c->kind) {
    case PROFILE_CAP_TEXT:
        return template_expand(c->text, vars, buf, cap);
    case PROFILE_CAP_STARTTLS:
        if (o->starttls)
            append(buf, cap, &total, proto == PROFILE_POP3 ? "STLS" : "STARTTLS");
        return total;
    case PROFILE_CAP_LOGIN:
        /* IMAP says when LOGIN is refused, POP3 when USER is accepted */
        if (proto == PROFILE_IMAP && !o->login)
            append(buf, cap, &total, "LOGINDISABLED");
        else if (proto == PROFILE_POP3 && o->login)
            append(buf, cap, &total, "USER");
        return total;
    case PROFILE_CAP_AUTH:
        for (size_t m = 0; m < o->mechs.n; m++) {
            if (proto == PROFILE_IMAP) {
                append(buf, cap, &total, m ? " AUTH=" : "AUTH=");
            } else {
                append(buf, cap, &total, m ? " " : proto == PROFILE_SMTP ? "AUTH " : "SASL ");
            }
            append(buf, cap, &total, mech_names[o->mechs.v[m]]);
        }
        return total;
    }
    return 0;
}

int profile_caps_join(profile_proto proto, const profile_caps *caps, const profile_offer *o,
                      const template_vars *vars, const char *sep, char *buf, size_t cap)
{
    int total = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < caps->n; i++) {
        int before = total;
        if (total)
            append(buf, cap, &total, sep);
        size_t at = (size_t)total < cap ? (size_t)total : cap;
        int n = profile_caps_item(proto, caps, i, o, vars, buf + at, cap - at);
        if (n < 0) {
            if (cap)
                buf[0] = '\0';
            return n;
        }
        total = n ? total + n : before; /* an item that does not apply takes its separator back */
        if (cap)
            buf[(size_t)total < cap ? (size_t)total : cap - 1] = '\0';
    }
    return total;
}

/* ---- authentication decisions ------------------------------------------------------------------ */

static bool has_mech(const profile_mechs *m, int mech)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i] == mech)
            return true;
    return false;
}

static bool token_mech(int mech)
{
    return mech == PROFILE_MECH_XOAUTH2 || mech == PROFILE_MECH_OAUTHBEARER;
}

profile_auth_outcome profile_auth_gate(const profile *p, profile_proto proto, const profile_listener *l, bool tls,
                                       profile_auth_via via, int mech)
{
    profile_offer o = profile_offer_now(p, proto, l, tls);
    if (!o.auth)
        return PROFILE_AUTH_NOT_ON_LISTENER;
    if (via == PROFILE_VIA_LOGIN)
        return o.login ? PROFILE_AUTH_OK : PROFILE_AUTH_LOGIN_DISABLED;
    if (mech < 0 || mech >= PROFILE_MECH_COUNT)
        return PROFILE_AUTH_MECH_UNSUPPORTED;
    if (has_mech(&o.mechs, mech))
        return PROFILE_AUTH_OK;
    return !tls && has_mech(&service(p, proto)->mechs_tls, mech) ? PROFILE_AUTH_NEEDS_TLS
                                                                 : PROFILE_AUTH_MECH_UNSUPPORTED;
}

static bool credential_failure(profile_auth_outcome o)
{
    return o >= PROFILE_AUTH_NO_SUCH_USER && o < PROFILE_AUTH_OUTCOME_COUNT;
}

static const template *imap_reply(const profile_imap *m, profile_auth_via via, profile_auth_outcome o)
{
    switch (o) {
    case PROFILE_AUTH_NOT_ON_LISTENER:
    case PROFILE_AUTH_NEEDS_TLS:
        return via == PROFILE_VIA_LOGIN ? m->r.login_disabled : m->r.auth_mech_unsupported;
    case PROFILE_AUTH_LOGIN_DISABLED: return m->r.login_disabled;
    case PROFILE_AUTH_MECH_UNSUPPORTED: return m->r.auth_mech_unsupported;
    case PROFILE_AUTH_BAD_BLOB: return m->r.auth_bad_blob;
    case PROFILE_AUTH_CANCELLED: return m->r.auth_cancelled;
    case PROFILE_AUTH_PROTOCOL_DISABLED: return m->r.auth_protocol_disabled;
    case PROFILE_AUTH_BASIC_DISABLED: return m->r.auth_basic_disabled;
    default: return m->r.auth_failed;
    }
}

static const template *smtp_reply(const profile_smtp *m, profile_auth_outcome o)
{
    switch (o) {
    case PROFILE_AUTH_NOT_ON_LISTENER: return m->r.auth_not_offered;
    case PROFILE_AUTH_NEEDS_TLS: return m->r.auth_needs_tls;
    case PROFILE_AUTH_LOGIN_DISABLED:
    case PROFILE_AUTH_MECH_UNSUPPORTED: return m->r.auth_mech_unsupported;
    case PROFILE_AUTH_BAD_BLOB: return m->r.auth_bad_blob;
    case PROFILE_AUTH_CANCELLED: return m->r.auth_cancelled;
    case PROFILE_AUTH_BASIC_DISABLED: return m->r.auth_basic_disabled;
    case PROFILE_AUTH_SMTP_DISABLED: return m->r.auth_smtp_disabled;
    default: return m->r.auth_failed;
    }
}

static const template *pop3_reply(const profile_pop3 *m, profile_auth_via via, profile_auth_outcome o)
{
    switch (o) {
    case PROFILE_AUTH_NOT_ON_LISTENER:
    case PROFILE_AUTH_NEEDS_TLS:
        return via == PROFILE_VIA_LOGIN ? m->r.login_disabled : m->r.auth_mech_unsupported;
    case PROFILE_AUTH_LOGIN_DISABLED: return m->r.login_disabled;
    case PROFILE_AUTH_MECH_UNSUPPORTED: return m->r.auth_mech_unsupported;
    case PROFILE_AUTH_BAD_BLOB: return m->r.auth_bad_blob;
    case PROFILE_AUTH_CANCELLED: return m->r.auth_cancelled;
    case PROFILE_AUTH_PROTOCOL_DISABLED: return m->r.auth_protocol_disabled;
    case PROFILE_AUTH_BASIC_DISABLED: return m->r.auth_basic_disabled;
    default: return via == PROFILE_VIA_LOGIN ? m->r.auth_failed : m->r.auth_sasl_failed;
    }
}

profile_auth_result profile_auth_refusal(const profile *p, profile_proto proto, profile_auth_via via,
                                         profile_auth_outcome o, unsigned failures_before)
{
    profile_auth_result r = {.outcome = o};
    if (o == PROFILE_AUTH_OK || o == PROFILE_AUTH_OK_NOT_CONNECTED)
        return r;
    r.reply = proto == PROFILE_IMAP ? imap_reply(&p->imap, via, o)
              : proto == PROFILE_SMTP ? smtp_reply(&p->smtp, o) : pop3_reply(&p->pop3, via, o);
    if (!credential_failure(o))
        return r;
    const profile_service *s = service(p, proto);
    r.delay_ms = s->auth_delay_ms;
    r.close = s->close_after_auth_failure || (s->max_auth_failures && failures_before + 1 >= s->max_auth_failures);
    if (proto == PROFILE_IMAP && o == PROFILE_AUTH_BASIC_DISABLED && p->imap.r.auth_basic_disabled_bye) {
        r.bye = p->imap.r.auth_basic_disabled_bye;
        r.close = true;
    } else if (r.close) {
        r.bye = proto == PROFILE_IMAP ? p->imap.r.auth_failure_bye
                : proto == PROFILE_SMTP ? p->smtp.r.too_many_errors : NULL;
    }
    return r;
}

/* The account a user name names, and in which form. */
static const profile_account *find_by_user(const profile *p, const char *u, size_t n, profile_uform *form)
{
    if (!u || !n)
        return NULL;
    for (size_t i = 0; i < p->n_accounts; i++) {
        const profile_account *a = &p->accounts[i];
        if (eq_ci(u, n, a->local)) {
            *form = PROFILE_UFORM_LOCAL;
            return a;
        }
        bool full = eq_ci(u, n, a->email);
        for (size_t j = 0; j < a->aliases.n && !full; j++)
            full = eq_ci(u, n, a->aliases.v[j]);
        if (full) {
            *form = PROFILE_UFORM_FULL;
            return a;
        }
    }
    return NULL;
}

static bool secret_eq(const char *s, size_t n, const char *want)
{
    return want && strlen(want) == n && CRYPTO_memcmp(s, want, n) == 0;
}

static const profile_account *find_by_token(const profile *p, const char *t, size_t n)
{
    for (size_t i = 0; i < p->n_accounts; i++)
        if (n && secret_eq(t, n, p->accounts[i].oauth_token))
            return &p->accounts[i];
    return NULL;
}

/* CRAM-MD5 (RFC 2195): the digest is hex(HMAC-MD5(password, challenge)). */
static bool cram_eq(const profile_credentials *c, const char *password)
{
    if (!password || c->secret_len != 32)
        return false;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!HMAC(EVP_md5(), password, (int)strlen(password), (const unsigned char *)c->challenge, c->challenge_len,
              mac, &len) || len != 16)
        return false;
    char hex[33];
    for (unsigned i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    char got[33];
    for (int i = 0; i < 32; i++)
        got[i] = (char)tolower((unsigned char)c->secret[i]);
    got[32] = '\0';
    return CRYPTO_memcmp(hex, got, 32) == 0;
}

/* Which kinds of the account's password the credentials match (PROFILE_PW_* bits). */
static unsigned password_kinds(const profile_account *a, const profile_credentials *c)
{
    int mech = c->via == PROFILE_VIA_LOGIN ? PROFILE_MECH_PLAIN : c->mech;
    unsigned k = 0;
    if (mech == PROFILE_MECH_PLAIN || mech == PROFILE_MECH_LOGIN) {
        k |= secret_eq(c->secret, c->secret_len, a->password) ? PROFILE_PW_ACCOUNT : 0;
        k |= secret_eq(c->secret, c->secret_len, a->app_password) ? PROFILE_PW_APP : 0;
    } else if (mech == PROFILE_MECH_CRAM_MD5) {
        k |= cram_eq(c, a->password) ? PROFILE_PW_ACCOUNT : 0;
        k |= cram_eq(c, a->app_password) ? PROFILE_PW_APP : 0;
    }
    return k; /* NTLM, GSSAPI, ATOKEN: never */
}

static bool form_accepted(const profile_service *s, profile_uform f)
{
    for (size_t i = 0; i < s->username.n; i++)
        if (s->username.v[i] == f)
            return true;
    return false;
}

/* The outcome of the checks in profile.h's order, before replies are attached. */
static profile_auth_outcome decide(const profile *p, profile_proto proto, const profile_credentials *c,
                                   const profile_account **acct, profile_uform *form)
{
    const profile_service *s = service(p, proto);
    bool token = c->via == PROFILE_VIA_SASL && token_mech(c->mech);
    const profile_account *named = find_by_user(p, c->user, c->user_len, form);
    const profile_account *a = token ? find_by_token(p, c->secret, c->secret_len) : named;
    *acct = a ? a : named;
    if (!a)
        return token ? PROFILE_AUTH_BAD_TOKEN : PROFILE_AUTH_NO_SUCH_USER;
    if (token && !named)
        return PROFILE_AUTH_BAD_TOKEN;
    if (token && named != a)
        *form = PROFILE_UFORM_FULL;
    if (proto == PROFILE_SMTP && (a->state & PROFILE_STATE_SMTP_AUTH_DISABLED))
        return PROFILE_AUTH_SMTP_DISABLED;
    if (!token && (a->state & PROFILE_STATE_BASIC_AUTH_DISABLED))
        return PROFILE_AUTH_BASIC_DISABLED;
    if (!token) {
        if (!form_accepted(s, *form))
            return PROFILE_AUTH_WRONG_USERNAME_FORM;
        unsigned kinds = password_kinds(a, c);
        if (!(kinds & s->passwords))
            return kinds ? PROFILE_AUTH_WRONG_PASSWORD_KIND : PROFILE_AUTH_BAD_PASSWORD;
    }
    if ((proto == PROFILE_IMAP && (a->state & PROFILE_STATE_IMAP_DISABLED)) ||
        (proto == PROFILE_POP3 && (a->state & PROFILE_STATE_POP_DISABLED)))
        return PROFILE_AUTH_PROTOCOL_DISABLED;
    bool elsewhere = token && named != a;
    if ((a->state & PROFILE_STATE_NOT_SIGNED_IN) || elsewhere) {
        if (proto == PROFILE_IMAP)
            return PROFILE_AUTH_OK_NOT_CONNECTED;
        return elsewhere ? PROFILE_AUTH_BAD_TOKEN : PROFILE_AUTH_NOT_SIGNED_IN;
    }
    return PROFILE_AUTH_OK;
}

profile_auth_result profile_auth_check(const profile *p, profile_proto proto, const profile_credentials *c,
                                       unsigned failures_before)
{
    const profile_account *a = NULL;
    profile_uform form = PROFILE_UFORM_FULL;
    profile_auth_outcome o = decide(p, proto, c, &a, &form);
    profile_auth_result r = profile_auth_refusal(p, proto, c->via, o, failures_before);
    r.account = a;
    r.form = form;
    return r;
}

/* ---- the shipped profiles ---------------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

int profile_names(const char *data_dir, char (*names)[PROFILE_NAME_CAP], size_t max)
{
    char base[4096], dir[4200];
    if (data_dir)
        snprintf(base, sizeof base, "%s", data_dir);
    else if (paths_data_dir(base, sizeof base) < 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/profiles", base);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t n = 0;
    for (struct dirent *e; n < max && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len > 4 && len - 4 < PROFILE_NAME_CAP && e->d_name[0] != '.' &&
            !strcmp(e->d_name + len - 4, ".ini"))
            snprintf(names[n++], PROFILE_NAME_CAP, "%.*s", (int)(len - 4), e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], by_name);
    return (int)n;
}

size_t profile_set_load(profile_set *ps, const char *data_dir)
{
    char names[PROFILE_SET_MAX][PROFILE_NAME_CAP];
    ps->n = 0;
    int nn = profile_names(data_dir, names, PROFILE_SET_MAX);
    profile_opts o = {.data_dir = data_dir};
    for (int i = 0; i < nn; i++) {
        profile_diag pd = {0};
        profile *p = profile_load(names[i], &o, &pd);
        profile_diag_free(&pd);
        if (p)
            ps->p[ps->n++] = p;
    }
    return ps->n;
}

void profile_set_free(profile_set *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        profile_free(ps->p[i]);
    ps->n = 0;
}
