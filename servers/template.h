/* template.h -- reply texts with placeholders, as written in profiles.
 *
 * Every line a mock server sends that a provider words in its own way comes from a profile
 * as a template such as
 *
 *     {tag} NO [AUTHENTICATIONFAILED] Authentication failed
 *     220 {be}.outlook.office365.com Microsoft ESMTP MAIL Service ready at {date} [{hex16}]
 *
 * A template is compiled once, when the profile loads: an unknown placeholder, or one the
 * reply it belongs to cannot supply, is a load-time error that names the column (the profile
 * loader adds file:line), never a surprise in a live session. Expansion then only copies
 * bytes into the caller's buffer.
 *
 * Placeholders come in two scopes:
 *  - connection scope (always available): values generated once per connection by
 *    template_conn_init() from a seed, so that a transcript replays byte for byte when the
 *    server runs with the same --seed: the backend host name {be}, {fqdn}, {b64_fqdn},
 *    {hex16}; plus {client_ip}, {host}, {size_limit}, and the clock ({date}, {iso_ts}).
 *  - context scope: values only the session knows at the moment it replies ({tag}, {user},
 *    {command}, ...). Each profile key declares which of these its template may use (the
 *    `allowed` mask of template_compile()); the session must supply exactly those.
 *
 * Syntax: `{name}` is a placeholder; `{{` is a literal `{` and `}}` a literal `}` (a lone `}`
 * is also literal). A template is one line: control characters (including CR, LF, TAB) and
 * invalid UTF-8 are rejected.
 *
 * Safety: values substituted at expansion time may come from the peer ({user}, {text},
 * {tag}); every byte below 0x20 and 0x7F in a value is written as '?', so a value can never
 * end the reply line early or inject another one (the CRLF-injection class).
 */
#ifndef MAILRIG_SERVERS_TEMPLATE_H
#define MAILRIG_SERVERS_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "servers/arena.h"

/* The placeholders. The names in braces are what profiles write. */
typedef enum template_var {
    /* connection scope: available in every template */
    TPL_BE,          /* {be}        backend host name from the profile's pattern: SC1PR80CA0174 */
    TPL_FQDN,        /* {fqdn}      {be} + "." + the backend domain: SC1PR80CA0174.namprd08.prod.outlook.com */
    TPL_FQDN_UC,     /* {fqdn_uc}   {fqdn} in upper case (Exchange prints both forms) */
    TPL_B64_FQDN,    /* {b64_fqdn}  base64 of {fqdn} in UTF-16LE (Exchange IMAP/POP greeting) */
    TPL_HEX16,       /* {hex16}     16 upper-case hex digits, one per connection */
    TPL_DATE,        /* {date}      RFC 5322 date, UTC: Tue, 3 Sep 2024 10:11:12 +0000 */
    TPL_ISO_TS,      /* {iso_ts}    ISO 8601 UTC with milliseconds: 2024-09-03T10:11:12.345Z */
    TPL_CLIENT_IP,   /* {client_ip} the peer's address, no port */
    TPL_HOST,        /* {host}      the provider host name of this service (imap.mail.me.com) */
    TPL_SIZE_LIMIT,  /* {size_limit} the SMTP message size limit in octets */
    /* context scope: only where the profile key allows it */
    TPL_TAG,         /* {tag}       the IMAP command tag ("*" when the line had none) */
    TPL_COMMAND,     /* {command}   the command name, upper case, as the client sent it: LOGIN,
                      * SELECT, "UID FETCH" (IMAP UID commands keep their "UID " prefix) */
    TPL_USER,        /* {user}      the user name exactly as the client sent it */
    TPL_EMAIL,       /* {email}     the address of the account the user name matched */
    TPL_CAPS,        /* {caps}      the capability list for the current state */
    TPL_MECH,        /* {mech}      the SASL mechanism name the client asked for */
    TPL_TEXT,        /* {text}      free text the reply echoes: a command line, a challenge */
    TPL_FROM,        /* {from}      the MAIL FROM / From address */
    TPL_TO,          /* {to}        the RCPT TO address */
    TPL_N,           /* {n}         a number: a message count, sequence number, UID... */
    TPL_SIZE,        /* {size}      a size in octets */
    TPL_MAILBOX,     /* {mailbox}   a mailbox name */
    TPL_TOOK_MS,     /* {took_ms}   milliseconds a command took (iCloud prints it) */
    TPL_VAR_COUNT
} template_var;

#define TPL_BIT(v) (UINT32_C(1) << (v))
/* The placeholders every template may use. */
#define TPL_CONN_VARS (TPL_BIT(TPL_TAG) - 1)

/* A compiled template, owned by the arena it was compiled into. Immutable. */
typedef struct template template;

/* The placeholder's name without braces ("be", "b64_fqdn"). */
const char *template_var_name(template_var v);

/* Compile src (NUL-terminated, one line) into arena a. `allowed` is the mask of context
 * placeholders the reply may use (connection-scope ones are always allowed). Returns NULL on
 * error with a message in err (for example "unknown placeholder '{usr}' at column 5 (did you
 * mean '{user}'?)"), or on arena exhaustion ("out of memory"). err may be NULL; when given it
 * is always NUL-terminated. */
template *template_compile(arena *a, const char *src, uint32_t allowed, char *err, size_t errlen);

/* The source text the template was compiled from (what `mailrig profile show` prints). */
const char *template_source(const template *t);

/* Mask of the placeholders the template uses (connection and context scope). */
uint32_t template_vars_used(const template *t);

/* Per-connection values for the connection-scope placeholders, generated deterministically
 * from (seed, conn_id) and the profile's backend patterns. A plain value type: copy it,
 * keep it in the session, no cleanup. */
typedef struct template_conn {
    char be[64];
    char fqdn[192];
    char fqdn_uc[192];
    char b64_fqdn[520];    /* 4 * ceil(2 * 191 / 3) + 1 */
    char hex16[17];
    char client_ip[64];
    char host[128];
    char size_limit[24];
    int64_t start_ms;      /* connection start, ms since the epoch: the default clock */
} template_conn;

typedef struct template_conn_params {
    uint64_t seed;               /* the server's --seed; the same seed gives the same values */
    uint64_t conn_id;            /* connection number within the run (1, 2, ...) */
    const char *backend;         /* backend name pattern (see template_pattern_check); NULL = "" */
    const char *backend_domain;  /* pattern for the domain part of {fqdn}; NULL or "" = none */
    const char *host;            /* {host}; NULL = "" */
    const char *client_ip;       /* {client_ip}; NULL = "" */
    uint64_t size_limit;         /* {size_limit} */
    int64_t now_ms;              /* connection start time in ms since the epoch */
} template_conn_params;

/* Fill *c from p. Returns 0, or -1 when a pattern is invalid or a value does not fit its
 * field (host or client_ip too long); *c is then zeroed. Patterns that passed
 * template_pattern_check() with the limits below never fail. */
int template_conn_init(template_conn *c, const template_conn_params *p);

/* Everything an expansion may substitute. Context values are NUL-terminated strings set by
 * the session, indexed by template_var: `vars.v[TPL_TAG] = "a1";`. A NULL entry is "not
 * provided". conn supplies the connection scope; now_ms is the clock for {date} and
 * {iso_ts} (0 means conn->start_ms), so tests can fix it. */
typedef struct template_vars {
    const template_conn *conn;
    int64_t now_ms;
    const char *v[TPL_VAR_COUNT];
} template_vars;

/* Error returned by template_expand() when a placeholder the template uses has no value
 * (a context value left NULL, or conn NULL for a connection-scope one): a bug in the
 * session, which should assert on it. */
enum { TEMPLATE_E_MISSING = -1 };

/* Expand t into buf (capacity cap, may be 0), snprintf-style: returns the length of the
 * full expansion (without the NUL) even when it did not fit; when cap > 0 the buffer is
 * always NUL-terminated, truncated if the return value is >= cap. No CR LF is added.
 * Substituted values have control bytes replaced by '?'. Returns TEMPLATE_E_MISSING (and
 * writes an empty string) when a used placeholder has no value. */
int template_expand(const template *t, const template_vars *vars, char *buf, size_t cap);

/* Backend name patterns: literal characters [A-Za-z0-9._-] and the escapes %d (a digit),
 * %a (a-z), %A (A-Z), %x (0-9a-f) and %X (0-9A-F), each replaced by one random character
 * drawn from the connection's generator. Exchange's backend names look like
 * "%A%A%dPR%d%dCA%d%d%d%d" -> "SC1PR80CA0174". Returns 0 when pat is valid and expands to at
 * most max_len characters, else -1 with a message in err (may be NULL). */
int template_pattern_check(const char *pat, size_t max_len, char *err, size_t errlen);

/* Longest backend and domain expansions template_conn_init() accepts. */
enum { TEMPLATE_BACKEND_MAX = 63, TEMPLATE_DOMAIN_MAX = 127 };

/* Format ms since the epoch as an RFC 5322 date in UTC ("Tue, 3 Sep 2024 10:11:12 +0000")
 * or as ISO 8601 with milliseconds ("2024-09-03T10:11:12.345Z"). Return the length written
 * (snprintf-style). */
int template_format_date(int64_t ms, char *buf, size_t cap);
int template_format_iso(int64_t ms, char *buf, size_t cap);

/* base64 (RFC 4648, padded) of s[0..n) re-encoded as UTF-16LE, where s is ASCII (host
 * names); bytes >= 0x80 are encoded as U+FFFD. Returns the length written (snprintf-style).
 * "a" -> "YQA=". */
int template_b64_utf16le(const char *s, size_t n, char *buf, size_t cap);

#endif
