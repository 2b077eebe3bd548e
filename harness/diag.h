/* diag.h -- the diagnosis model: what a user entered in a mail client, and what mailrig
 * concludes from it.
 *
 * Support engineers get "I set up iCloud and it says authentication failed" with a screenshot
 * of the account dialog, or a protocol log. Everything that turns such input into findings
 * shares this model:
 *
 *   input                      model                      judgement                output
 *   settings file / flags  ->  diag_settings  --------->  diag_run()  ----------->  diag_report
 *   protocol log (diag_log_load)  (what the user typed,    (provider profile,        (findings with
 *   (next: reproduce, replay,     where each value came     client vocabulary,        wire, fix and
 *    probe build on it)           from, file:line)          finding catalogue)        source; "cannot tell")
 *
 * Settings are recorded as the client's UI shows them: the security label is a string
 * ("SSL/TLS", "Use SSL") with its origin, and diag_interpret() reads it with the client's
 * vocabulary (clients/ui/vocabulary.ini) *and the port* into a wire mode -- one client's
 * "SSL" on 587 negotiates STARTTLS, another's starts TLS at once. A label whose meaning the
 * vocabulary cannot pin down keeps both readings (ambiguous), and the diagnosis explains both.
 *
 * Findings come from one catalogue (diag_rule, diag_rule_at()): a stable id
 * ("icloud-smtp-port-25"), a default severity, a title, and citations of the provider's
 * documentation (provider-docs/<file>:<line>, quoted in its language with an English gloss)
 * or of PROVIDERS.md (section and tag). The log classifier and `reproduce` use the same
 * catalogue, so a failure has the same id whichever way it was found.
 *
 * What the provider does is never hard-coded here: diag_run() loads the provider's profile
 * (profiles/NAME.ini: ports, TLS modes, user name forms, password kinds, mechanisms, reply
 * templates, account states) and quotes the exact reply the mock would send.
 *
 * Nothing is presented as fact that was not established: values the input does not give,
 * labels the vocabulary cannot read unambiguously, and providers that cannot be recognised go
 * to the report's "cannot tell" list with the reason.
 *
 * Memory: every type here is a plain value with fixed-size buffers (no pointers to free),
 * except diag_vocab (opaque, diag_vocab_free) and the const diag_rule pointers into the
 * static catalogue. A diag_report is large (about 200 KB): allocate it, do not put it on a
 * small stack. Strings are NUL-terminated UTF-8; values longer than a buffer are refused when
 * loaded, never silently truncated.
 *
 * Secrets: the model never holds a password -- only which kind was entered (account or
 * app-specific). A settings line that tries to give a password value is refused without
 * echoing it.
 */
#ifndef MAILRIG_HARNESS_DIAG_H
#define MAILRIG_HARNESS_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum {
    DIAG_HOST_MAX = 254,     /* a DNS name, 253 characters + NUL */
    DIAG_ADDR_MAX = 321,     /* an address or user name: 64 + '@' + 255 + NUL */
    DIAG_NAME_MAX = 40,      /* client and provider names, protocol names */
    DIAG_LABEL_MAX = 80,     /* a UI label as typed ("SSL/TLS (Accept all certificates)") */
    DIAG_ORIGIN_MAX = 256,   /* a file path or flag name */
    DIAG_TEXT_MAX = 1024,    /* free text of a finding (wire, detail) */
    DIAG_FIX_MAX = 400,      /* the fix */
    DIAG_MSG_MAX = 64,       /* messages kept in a diag_msgs */
    DIAG_MSG_LEN = 480,      /* one message */
    DIAG_MAX_FINDINGS = 48,  /* findings kept in a report; more are counted in dropped */
    DIAG_MAX_CANNOT = 24,    /* "cannot tell" entries kept */
    DIAG_MAX_EVIDENCE = 8,   /* provider evidence items kept */
    DIAG_MAX_CITES = 3,      /* citations per catalogue rule */
};

/* ---- where a value came from -------------------------------------------------------------- */

/* The origin of a value: a settings file and line, a flag, a log file and line. */
typedef struct diag_origin {
    char file[DIAG_ORIGIN_MAX]; /* settings file path, "--in-port", a log path; "" = not given */
    unsigned line;              /* 1-based line in file; 0 for flags and derived values */
} diag_origin;

/* Write "FILE:LINE", "--flag" or "" into buf. Returns the length (snprintf-style). */
int diag_origin_format(const diag_origin *o, char *buf, size_t cap);

/* ---- messages (errors in input files and flags) -------------------------------------------- */

/* Problems found while reading input, each "WHERE: what (accepted: ...)", in the order found. */
typedef struct diag_msgs {
    size_t n;                             /* messages kept */
    size_t dropped;                       /* further messages, counted only */
    char msg[DIAG_MSG_MAX][DIAG_MSG_LEN]; /* truncated with "..." when longer */
} diag_msgs;

/* Append a message (printf-style). */
void diag_msgs_add(diag_msgs *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print every message, one per line, then "... and N more" when some were dropped. */
void diag_msgs_print(const diag_msgs *m, FILE *f);

/* ---- the settings a user entered ---------------------------------------------------------- */

/* The two servers of a mail account, and "the account" for findings about neither. */
typedef enum diag_server_id {
    DIAG_IN,        /* incoming: [incoming], --in-*  (IMAP or POP3) */
    DIAG_OUT,       /* outgoing: [outgoing], --out-* (SMTP) */
    DIAG_SERVERS,   /* the number of servers */
    DIAG_ACCOUNT = DIAG_SERVERS, /* findings about the account as a whole (email, provider) */
} diag_server_id;

/* Protocols. Numbering differs from profile_proto: 0 is "not given". */
typedef enum diag_proto {
    DIAG_PROTO_UNSET, /* not given (incoming: inferred from the port or server name if possible) */
    DIAG_PROTO_IMAP,  /* imap */
    DIAG_PROTO_POP3,  /* pop3 (also "pop") */
    DIAG_PROTO_SMTP,  /* smtp */
    DIAG_PROTO_COUNT
} diag_proto;

/* What a client does on the wire when it connects. */
typedef enum diag_wire {
    DIAG_WIRE_UNSET,        /* not given, or the label could not be read */
    DIAG_WIRE_NONE,         /* none            plaintext, no upgrade */
    DIAG_WIRE_IMPLICIT_TLS, /* implicit-tls    TLS handshake first (993, 465, 995) */
    DIAG_WIRE_STARTTLS,     /* starttls        plaintext greeting, then STARTTLS/STLS; fails if not offered */
    DIAG_WIRE_STARTTLS_OPT, /* starttls-if-available  STARTTLS when offered, else stays in plaintext */
    DIAG_WIRE_COUNT
} diag_wire;

/* How the client authenticates, as its UI names it. */
typedef enum diag_auth {
    DIAG_AUTH_UNSET,    /* not given */
    DIAG_AUTH_NONE,     /* none         no authentication */
    DIAG_AUTH_NORMAL,   /* normal       normal / plain password: LOGIN, USER+PASS, AUTH PLAIN or LOGIN */
    DIAG_AUTH_SPA,      /* spa          Secure Password Authentication = NTLM */
    DIAG_AUTH_CRAM_MD5, /* cram-md5     "encrypted password", MD5 challenge-response */
    DIAG_AUTH_OAUTH2,   /* oauth2       XOAUTH2 / OAUTHBEARER with a token */
    DIAG_AUTH_GSSAPI,   /* gssapi       Kerberos */
    DIAG_AUTH_CERT,     /* tls-certificate  a TLS client certificate (SASL EXTERNAL) */
    DIAG_AUTH_COUNT
} diag_auth;

/* Which password the user entered. */
typedef enum diag_password {
    DIAG_PW_UNSET,   /* not given */
    DIAG_PW_ACCOUNT, /* account       the account (Apple ID, Microsoft 365) password */
    DIAG_PW_APP,     /* app-specific  an app-specific password */
    DIAG_PW_COUNT
} diag_password;

/* The settings of one server; also the "setting" a finding is about. */
typedef enum diag_field {
    DIAG_F_NONE,     /* not about one setting */
    DIAG_F_EMAIL,    /* account: email */
    DIAG_F_CLIENT,   /* account: client */
    DIAG_F_PROVIDER, /* account: provider */
    DIAG_F_PROTOCOL, /* server: protocol */
    DIAG_F_SERVER,   /* server: server (host name) */
    DIAG_F_PORT,     /* server: port */
    DIAG_F_SECURITY, /* server: security (UI label) */
    DIAG_F_USERNAME, /* server: username */
    DIAG_F_PASSWORD, /* server: password (which one, never the value) */
    DIAG_F_AUTH,     /* server: auth (UI label) */
    DIAG_F_COUNT
} diag_field;

/* What a security label means on the wire, as read from a client vocabulary. */
typedef struct diag_reading {
    diag_wire wire;                 /* the reading; DIAG_WIRE_UNSET when none */
    diag_wire alt;                  /* a second reading when the label is ambiguous on this
                                     * port (a generic "SSL" on 587); else DIAG_WIRE_UNSET */
    bool observed;                  /* the wire mode was seen (a log), not read from a label */
    bool via_generic;               /* the client's own vocabulary lacks the label: read with
                                     * the generic vocabulary */
    bool inferred;                  /* the mapping is tagged [I] in the vocabulary */
    char client[DIAG_NAME_MAX];     /* whose vocabulary gave the reading ("thunderbird") */
    char label[DIAG_LABEL_MAX];     /* the label as the vocabulary spells it */
    char note[DIAG_TEXT_MAX / 2];   /* the vocabulary's explanation, or "" */
    char source[DIAG_TEXT_MAX / 2]; /* citation of the mapping ("[D] https://...", "[I] ...") */
    diag_origin at;                 /* the vocabulary line */
} diag_reading;

/* One server as the user entered it. Nothing here is a secret. */
typedef struct diag_server {
    bool given[DIAG_F_COUNT];          /* per field: the input gave it (false: not given) */
    diag_origin at[DIAG_F_COUNT];      /* per field: where it was given; at[DIAG_F_NONE] is the
                                        * section header or the first flag of this server */
    diag_proto proto;                  /* protocol (outgoing: always SMTP once interpreted) */
    bool proto_inferred;               /* proto came from the port or the server name */
    char host[DIAG_HOST_MAX];          /* server, lower-cased, without a trailing dot */
    unsigned port;                     /* 1..65535; 0 = not given */
    char security[DIAG_LABEL_MAX];     /* the security label as typed */
    diag_reading reading;              /* its interpretation (diag_interpret) */
    char username[DIAG_ADDR_MAX];      /* as typed */
    diag_password password;            /* which password */
    char auth_label[DIAG_LABEL_MAX];   /* the authentication label as typed */
    diag_auth auth;                    /* its interpretation (diag_interpret) */
    char auth_client[DIAG_NAME_MAX];   /* whose vocabulary read auth_label */
} diag_server;

/* Everything the user entered for one account. */
typedef struct diag_settings {
    bool given[DIAG_F_COUNT];          /* DIAG_F_EMAIL, DIAG_F_CLIENT, DIAG_F_PROVIDER */
    diag_origin at[DIAG_F_COUNT];
    char email[DIAG_ADDR_MAX];         /* the address */
    char client[DIAG_NAME_MAX];        /* the client's vocabulary id ("thunderbird"), canonical
                                        * after diag_interpret (aliases resolved); "" = generic */
    char provider[DIAG_NAME_MAX];      /* provider given by the user (a profile name); "" = infer */
    diag_server server[DIAG_SERVERS];  /* [DIAG_IN], [DIAG_OUT] */
} diag_settings;

/* Empty settings (nothing given). */
void diag_settings_init(diag_settings *s);

/* Read a settings file: top-level `email`, `client`, `provider`; sections [incoming] and
 * [outgoing] with protocol, server, port, security, username, password, auth (INI read with
 * inih; `#` and `;` comment lines, `;` after whitespace starts a comment; format in
 * docs/diagnose.md). Values are added to s (call diag_settings_init first; a later call or
 * flag overrides). Every problem goes to msgs as "FILE:LINE: message" with the accepted
 * values or a "did you mean"; a password value is never echoed. Returns the number of
 * problems (0 = loaded). Files over 64 KB are refused. */
int diag_settings_load_file(const char *path, diag_settings *s, diag_msgs *msgs);

/* The same from memory: text[0..len) may hold any bytes; origin names it in messages. */
int diag_settings_load_string(const char *text, size_t len, const char *origin, diag_settings *s,
                              diag_msgs *msgs);

/* Set one value the way a flag does: name is the flag without dashes ("in-port", "email",
 * "out-security"); value as typed. The origin is "--NAME". Returns 0, or -1 after adding a
 * message ("--in-port=99999: ... (accepted: 1-65535)"). */
int diag_settings_set(diag_settings *s, const char *name, const char *value, diag_msgs *msgs);

/* The flag names diag_settings_set accepts, NULL-terminated ("email", "client", "provider",
 * "in-protocol", ... "out-auth"), for --help and "did you mean". */
extern const char *const diag_flag_names[];

/* ---- client UI vocabulary ------------------------------------------------------------------ */

/* The labels clients show for security and authentication and what each does on the wire,
 * per port where it differs; loaded from clients/ui/vocabulary.ini (format in
 * clients/ui/README.md). Immutable once loaded. */
typedef struct diag_vocab diag_vocab;

/* Load a vocabulary file. NULL with every problem in msgs ("FILE:LINE: message"). */
diag_vocab *diag_vocab_load(const char *path, diag_msgs *msgs);

/* The same from memory (any bytes). */
diag_vocab *diag_vocab_load_string(const char *text, size_t len, const char *origin, diag_msgs *msgs);

/* Release. NULL is allowed. */
void diag_vocab_free(diag_vocab *v);

/* The default vocabulary file: DATA/clients/ui/vocabulary.ini (paths.h). Returns the length,
 * or -1 when it does not fit. */
int diag_vocab_default_path(char *buf, size_t cap);

/* The number of clients, and the id and display name of client i (NULL past the end). */
size_t diag_vocab_count(const diag_vocab *v);
const char *diag_vocab_client_id(const diag_vocab *v, size_t i);
const char *diag_vocab_client_name(const diag_vocab *v, size_t i);

/* The canonical id of the client named name (an id or alias, ASCII case ignored), or NULL. */
const char *diag_vocab_find_client(const diag_vocab *v, const char *name);

/* Read a security label of client (NULL or "" = generic) on port (0 = unknown port). Looks in
 * the client's labels first, then the generic ones (sets via_generic). Returns 0 with *out
 * filled, or -1 when no vocabulary knows the label. Label comparison ignores ASCII case and
 * runs of spaces. */
int diag_vocab_security(const diag_vocab *v, const char *client, const char *label, unsigned port,
                        diag_reading *out);

/* Read an authentication label likewise. Returns 0 with *out (and *via_generic when given),
 * or -1. */
int diag_vocab_auth(const diag_vocab *v, const char *client, const char *label, diag_auth *out,
                    bool *via_generic);

/* The label client uses for wire mode w on port (its first label whose reading there is
 * exactly w, unambiguous), falling back to the generic vocabulary; NULL when none. */
const char *diag_vocab_label_for(const diag_vocab *v, const char *client, diag_wire w, unsigned port);

/* The labels of client for security (kind "security") or authentication ("auth"), joined with
 * ", " into buf, for "accepted:" lists. Returns the length (snprintf-style). */
int diag_vocab_labels(const diag_vocab *v, const char *client, const char *kind, char *buf, size_t cap);

/* Resolve what the input left as UI words: the client name (unknown: a message with "did you
 * mean" and the list), every security label (with the port) and auth label. The protocol of
 * an incoming server left unset is inferred from its port or server name when unambiguous.
 * Returns the number of problems added to msgs (0 = all resolved). */
int diag_interpret(diag_settings *s, const diag_vocab *v, diag_msgs *msgs);

/* ---- the finding catalogue ---------------------------------------------------------------- */

typedef enum diag_severity { DIAG_ERROR, DIAG_WARNING, DIAG_INFO, DIAG_SEVERITY_COUNT } diag_severity;

/* A finding about a setting, or a possible cause settings cannot show (an account state:
 * "POP/IMAP disabled for the account"), listed apart as "possible causes if the settings are
 * right". */
typedef enum diag_kind { DIAG_KIND_SETTING, DIAG_KIND_POSSIBLE_CAUSE } diag_kind;

/* What a check detected. A rule is chosen by trigger, provider, protocol and port: the most
 * specific row wins (diag_rule_for). Log readers detect the same triggers from replies. */
typedef enum diag_trigger {
    DIAG_T_PROVIDER_CONFLICT,     /* the evidence names different providers */
    DIAG_T_SERVER_NAME,           /* the server is not the provider's host for the protocol */
    DIAG_T_PROTOCOL_UNSUPPORTED,  /* the provider has no such service (iCloud POP) */
    DIAG_T_PROTOCOL_PORT,         /* the port serves another protocol */
    DIAG_T_PORT_CLOSED,           /* nothing listens on the port (refused, or silence) */
    DIAG_T_PORT_ADVICE,           /* the port works but the documentation says another */
    DIAG_T_TLS_IMPLICIT_ON_STARTTLS, /* TLS handshake to a port that greets in plaintext */
    DIAG_T_TLS_STARTTLS_ON_IMPLICIT, /* waits for a plaintext greeting on an implicit-TLS port */
    DIAG_T_TLS_NONE_ON_IMPLICIT,  /* plaintext to an implicit-TLS port */
    DIAG_T_TLS_NONE_ON_STARTTLS,  /* stays in plaintext where login needs TLS first */
    DIAG_T_TLS_ON_PLAIN,          /* TLS wanted where the port offers none */
    DIAG_T_STARTTLS_OPTIONAL,     /* "STARTTLS if available": a downgrade leaves it in plaintext */
    DIAG_T_SECURITY_AMBIGUOUS,    /* the label has two readings on this port */
    DIAG_T_PLAINTEXT_PASSWORD,    /* a password crosses the network unencrypted */
    DIAG_T_AUTH_MECH,             /* the authentication method is not offered */
    DIAG_T_AUTH_NONE,             /* no authentication where the server requires it */
    DIAG_T_AUTH_NOT_ON_PORT,      /* the port takes no authentication (an MX on 25) */
    DIAG_T_USERNAME_FORM,         /* a user name form the server refuses */
    DIAG_T_USERNAME_FALLBACK,     /* accepted, but not the documented form */
    DIAG_T_USERNAME_OTHER,        /* neither the address nor its name part */
    DIAG_T_USERNAME_DIFFERS,      /* incoming and outgoing user names differ */
    DIAG_T_PASSWORD_KIND,         /* the wrong kind of password */
    DIAG_T_STATE_NOT_SIGNED_IN,   /* possible cause: never signed in to the web app */
    DIAG_T_STATE_PROTOCOL_DISABLED, /* possible cause: POP/IMAP off for the account */
    DIAG_T_STATE_BASIC_AUTH_DISABLED, /* possible cause: passwords refused, OAuth2 needed */
    DIAG_T_STATE_SMTP_AUTH_DISABLED,  /* possible cause: SMTP AUTH off for the tenant */
    DIAG_T_COUNT
} diag_trigger;

/* A citation: a provider document line (quoted in its language, with an English gloss), a
 * PROVIDERS.md section with its tag, a profile, a vendor page. */
typedef struct diag_cite {
    const char *doc;     /* "provider-docs/icloud-mail-server-settings.no.txt", "PROVIDERS.md",
                          * "profiles/icloud.ini", "https://..."; NULL ends the list */
    unsigned line;       /* line in doc, or 0 */
    const char *section; /* PROVIDERS.md section ("2.3"), or NULL */
    const char *tag;     /* "[D]", "[V]", "[I]" */
    const char *lang;    /* language of quote: "no", "ms", "en", "de", "is" */
    const char *quote;   /* the sentence, verbatim; NULL for a reference without a quote */
    const char *gloss;   /* English gloss of quote (NULL when quote is English); without a
                          * quote, what the reference supports, in our words */
} diag_cite;

/* Protocol masks of diag_rule.protos. */
#define DIAG_PBIT(p) (1u << (p))
#define DIAG_PROTOS_ANY 0u

/* One row of the catalogue. Static data. */
typedef struct diag_rule {
    const char *id;          /* stable id: "icloud-smtp-port-25", "tls-implicit-on-starttls-port" */
    diag_trigger trigger;
    const char *provider;    /* the profile name it applies to, or NULL for any provider */
    unsigned protos;         /* DIAG_PBIT(DIAG_PROTO_*) mask; 0 = any */
    unsigned port;           /* applies on this port only; 0 = any */
    diag_auth auth;          /* applies to this authentication method only; DIAG_AUTH_UNSET = any */
    diag_severity severity;  /* default severity */
    diag_kind kind;
    diag_field field;        /* the setting it is about */
    /* Texts with {placeholders} the check fills (a placeholder it cannot fill is left out):
     * {host} {port} {proto} {label} {wire} {auth} {username} {email} -- the user's values;
     * {reply} the exact reply; {mechs} what the server offers; {listener} the profile's
     * description of the port; {other} the protocol the port serves; {readings} both readings
     * of an ambiguous label; {fix_host} {fix_port} {fix_label} {fix_username} -- corrected
     * values, {fix_label} in the client's own words. */
    const char *title;       /* one line */
    const char *wire;        /* what happens on the wire */
    const char *fix;         /* the fix */
    diag_cite cite[DIAG_MAX_CITES];
} diag_rule;

/* The catalogue: row i, NULL past the end. */
const diag_rule *diag_rule_at(size_t i);

/* The row with this id, or NULL. */
const diag_rule *diag_rule_find(const char *id);

/* The row for trigger t with provider (NULL = unknown provider), protocol, port and
 * authentication method (DIAG_AUTH_UNSET when it does not matter): rows that name the
 * provider, the port or the method must match them; of the matching rows the most specific
 * wins (provider first, then port, then method, then protocol). NULL when none matches. */
const diag_rule *diag_rule_for(diag_trigger t, const char *provider, diag_proto proto, unsigned port,
                               diag_auth auth);

/* ---- the report ----------------------------------------------------------------------------- */

typedef struct diag_finding {
    const diag_rule *rule;          /* the catalogue row: id, title, sources */
    diag_severity severity;         /* the rule's, or lower when it holds under one reading
                                     * of an ambiguous label only */
    diag_server_id server;          /* DIAG_IN, DIAG_OUT or DIAG_ACCOUNT */
    diag_field field;
    diag_origin at;                 /* where the value in question was given */
    char title[DIAG_TEXT_MAX / 2];  /* the rule's title with values filled in */
    char detail[DIAG_TEXT_MAX];     /* why, with the values: "port 25 is iCloud's MX ..." */
    char wire[DIAG_TEXT_MAX];       /* what happens on the wire, with the exact reply */
    char reply_key[DIAG_NAME_MAX];  /* the profile template quoted ("smtp.auth_failed"), or "" */
    char reply[DIAG_TEXT_MAX / 2];  /* that reply as the mock sends it (<be>, <date>, ...
                                     * stand for per-connection values), or "" */
    char fix[DIAG_FIX_MAX];         /* the corrected value(s) */
} diag_finding;

/* Something the diagnosis could not establish, and why. */
typedef struct diag_cannot_tell {
    diag_server_id server;
    diag_field field;
    char what[DIAG_TEXT_MAX / 4];
    char why[DIAG_TEXT_MAX / 2];
} diag_cannot_tell;

/* How the provider was established. */
typedef enum diag_provider_how {
    DIAG_PROVIDER_UNKNOWN,   /* no evidence: generic checks only */
    DIAG_PROVIDER_GIVEN,     /* --provider / provider = */
    DIAG_PROVIDER_INFERRED,  /* from the email domain and/or server names, all agreeing */
    DIAG_PROVIDER_CONFLICT,  /* the evidence disagrees; not resolved (see evidence) */
} diag_provider_how;

/* One piece of provider evidence: "email domain icloud.com", "incoming server imap.mail.me.com
 * is the IMAP host of profiles/icloud.ini". */
typedef struct diag_evidence {
    char provider[DIAG_NAME_MAX];
    char what[DIAG_TEXT_MAX / 4];
    diag_origin at;
} diag_evidence;

typedef struct diag_report {
    char provider[DIAG_NAME_MAX];   /* the provider judged against ("" = none) */
    diag_provider_how how;
    char profile_origin[DIAG_ORIGIN_MAX]; /* the profile file the provider's facts came from */
    diag_evidence evidence[DIAG_MAX_EVIDENCE];
    size_t n_evidence;
    diag_finding findings[DIAG_MAX_FINDINGS]; /* in the order found; the printers sort */
    size_t n_findings;
    size_t dropped;                 /* findings not kept */
    diag_cannot_tell cannot[DIAG_MAX_CANNOT];
    size_t n_cannot;
    size_t n_severity[DIAG_SEVERITY_COUNT]; /* counts of kept setting findings by severity
                                             * (possible causes are not counted) */
} diag_report;

/* Empty report. */
void diag_report_init(diag_report *r);

/* Add a finding for rule (severity: the rule's). Returns the finding to fill in (title is
 * preset from the rule), or NULL when the report is full (counted in dropped). Does not add
 * a second finding with the same rule, server and field: returns NULL then too. */
diag_finding *diag_report_add(diag_report *r, const diag_rule *rule, diag_server_id server, diag_field field,
                              const diag_origin *at);

/* Add a "cannot tell" entry (printf-style why). */
void diag_report_cannot(diag_report *r, diag_server_id server, diag_field field, const char *what,
                        const char *why_fmt, ...) __attribute__((format(printf, 5, 6)));

/* Whether the report has an error-level setting finding (the exit status 1 of diagnose). */
bool diag_report_has_errors(const diag_report *r);

/* ---- running the diagnosis ------------------------------------------------------------------- */

/* Where the facts come from. */
typedef struct diag_env {
    const char *data_dir;          /* profiles are DATA/profiles/NAME.ini; NULL = paths_data_dir() */
    const char *const *sets;       /* profile overrides "SECTION.KEY=VALUE" for the chosen provider */
    size_t n_sets;
    const diag_vocab *vocab;       /* for the fixes, in the client's own labels; may be NULL */
} diag_env;

/* Judge interpreted settings (diag_interpret done): establish the provider (given, inferred,
 * or conflicting), load its profile, and add every finding and "cannot tell" entry to r.
 * Returns 0, or -1 with messages in msgs when a profile could not be loaded (an environment
 * or usage error: a --provider without a profile, a bad --set). */
int diag_run(const diag_settings *s, const diag_env *env, diag_report *r, diag_msgs *msgs);

/* ---- other inputs: protocol logs ------------------------------------------------------------ */

/* Read a client's protocol log (mailrig transcript, curl -v, msmtp --debug, openssl s_client,
 * Python imaplib debug, Thunderbird IMAP/SMTP logs): fill into s what it shows (host, port,
 * the wire mode *observed* -- reading.observed --, user name, mechanism; origins "LOG:LINE")
 * and add to r the findings the server's replies prove, with the catalogue's rules; redact
 * any credential it quotes. diag_run() then adds what the settings imply. Returns 0, 1 when
 * the log format was not recognised (a "cannot tell" entry says what was seen), or -1 with
 * messages (unreadable file). The readers are harness/log_*.c (log_read.h), the classifier
 * harness/diag_log.c; diag_log.h has the options (--log-format, --log-port-base).
 * DIAG_LOG_UNAVAILABLE is kept for a build without them (a stub diag_log.c). */
enum { DIAG_LOG_UNAVAILABLE = -2 };
int diag_log_load(const char *path, const diag_vocab *v, diag_settings *s, diag_report *r, diag_msgs *msgs);

/* ---- output ----------------------------------------------------------------------------------- */

/* Human output: provider and how it was established, each server's settings as read (with
 * the vocabulary's reading of the security label), findings grouped by server with errors
 * first, each with wire / fix / source; possible causes apart; "cannot tell"; a summary. */
void diag_report_print(const diag_report *r, const diag_settings *s, FILE *f);

/* The same as one JSON document (shape in docs/diagnose.md). Returns 0, or -1 on a write or
 * encoding error. */
int diag_report_write_json(const diag_report *r, const diag_settings *s, FILE *f);

/* Every catalogue row as a JSON array (id, trigger, provider, protocols, port, auth, severity,
 * kind, field, title, wire, fix with their {placeholders}, sources): `mailrig diagnose
 * --catalogue`, for tools and for the tests that check each quote against its document.
 * Returns 0, or -1 on a write error. */
int diag_catalogue_write_json(FILE *f);

/* ---- names ------------------------------------------------------------------------------------ */

/* Names as the input and the JSON spell them; "?" when out of range. */
const char *diag_proto_name(diag_proto p);        /* "imap", "pop3", "smtp", "" */
const char *diag_wire_name(diag_wire w);          /* "none", "implicit-tls", "starttls", "starttls-if-available", "" */
const char *diag_wire_words(diag_wire w);         /* "plaintext", "implicit TLS", "STARTTLS", "STARTTLS if available" */
const char *diag_auth_name(diag_auth a);          /* "normal", "spa", "oauth2", ... */
const char *diag_password_name(diag_password p);  /* "account", "app-specific", "" */
const char *diag_field_name(diag_field f);        /* "server", "port", ... ("" for NONE) */
const char *diag_severity_name(diag_severity s);  /* "error", "warning", "info" */
const char *diag_server_name(diag_server_id id);  /* "incoming", "outgoing", "account" */
const char *diag_trigger_name(diag_trigger t);    /* "port-closed", ... */

/* The wire mode named name ("starttls", "implicit-tls", ...), or DIAG_WIRE_UNSET. */
diag_wire diag_wire_from_name(const char *name);

#endif
