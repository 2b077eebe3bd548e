/* scenario.h -- the scenario language (*.scn): parse a file into a validated syntax tree.
 *
 * A scenario is a scripted, repeatable mail-protocol conversation in which mailrig is the
 * client (it connects and sends, and judges the replies) or the server (it answers a real mail
 * client that it starts through an adapter, and judges what the client does). The grammar,
 * with an example of every line, is in docs/scenario-language.md; this header is the contract
 * between that language and the modules built on it (interpreter, client and server roles,
 * adapters, checks, runner, `mailrig lint`).
 *
 *   scenario icloud-imap-full-address
 *   role     client
 *   profile  icloud
 *   connect  imap 993 implicit-tls
 *   expect   "* OK *"
 *   send     "a1 LOGIN {account.email} {account.app_password}"
 *   expect-reply a1 NO "a1 NO [AUTHENTICATIONFAILED]*"
 *   expect-closed
 *
 * What the parser guarantees. sc_parse_file() returns a tree only when the whole scenario,
 * includes inlined, is valid: every step is allowed in the role, every step that needs a
 * connection has one, every {variable} is known where it is used, every /regex/ compiles
 * (PCRE2), every duration, port, check name and option is valid. The interpreter can walk
 * the steps in order without re-checking any of that; what is left to it is what only a run
 * can tell (the values of variables, what the peer sends). Otherwise it returns NULL and
 * every problem found is in the diagnostics, each as `file:line:col: message` with the
 * offending line and a caret (sc_diags_print). Nothing runs before a scenario parses.
 *
 * Parsing does no I/O besides reading the scenario and its includes, through a callback
 * (sc_options.read) so that a fuzz target can serve files from memory. Every input is bounded
 * (sc_limits): file size, line length, step count, include depth and count, error count.
 *
 * Memory: one arena per scenario, freed by sc_free(); every pointer in the tree (strings,
 * arrays, locations) lives in it. Strings are NUL-terminated; byte strings that may contain
 * NUL (sc_part literals) also carry a length. The tree keeps a copy of every file read (the
 * source lines of locations point into it) and takes about 3 more bytes per byte of quoted
 * text plus about 300 bytes per step, text and pattern; the limits bound all of it. PCRE2's
 * compile scratch is released before return.
 */
#ifndef MAILRIG_HARNESS_SCENARIO_H
#define MAILRIG_HARNESS_SCENARIO_H

#include <stddef.h>
#include <stdio.h>

/* ---- limits and options ----------------------------------------------------------------- */

/* Bounds on everything the parser reads. A zero field means the default in brackets. */
typedef struct sc_limits {
    size_t max_file_size;    /* bytes per file [1 MiB] */
    size_t max_line;         /* bytes per line, without its line end [4096] */
    size_t max_steps;        /* steps in the whole scenario, includes inlined [4096] */
    unsigned max_depth;      /* include nesting: the top file is depth 0 [8] */
    unsigned max_files;      /* files read in all, the top file included [64] */
    unsigned max_errors;     /* diagnostics kept; parsing stops after this many [50] */
} sc_limits;

/* Read the file at `path` into a malloc'ed buffer (*data, *len; the caller frees it).
 * Must not read more than max + 1 bytes (so that "too large" can be told without reading a
 * huge or endless file). Return 0, or -1 with a short reason in why ("No such file or
 * directory"). */
typedef int (*sc_read_fn)(void *ctx, const char *path, size_t max, char **data, size_t *len,
                          char *why, size_t whycap);

/* Validation hooks for facts that live in other modules. Each returns 0 when the value is
 * fine, or -1 with a complete sentence in why (e.g. "unknown key 'usrname' in [imap] (did you
 * mean 'username'?)"), which the parser reports at the offending token. NULL hooks accept
 * everything. */
typedef struct sc_options {
    sc_limits limits;
    sc_read_fn read;   /* NULL: sc_read_file (regular files only) */
    void *ctx;         /* passed to every hook */
    /* `set SECTION.KEY=VALUE`: the profile loader knows the keys and their types. profile is
     * the header's `profile` text, or NULL when the scenario names none. Called after the
     * whole file is read (so `profile` may come after `set`); problems are reported at the
     * key. */
    int (*check_set)(void *ctx, const char *profile, const char *key, const char *value,
                     char *why, size_t whycap);
    /* `profile NAME|PATH`: can that profile be loaded? profile is the header's text,
     * profile_path the path resolved against the scenario's directory (NULL for a name).
     * Called once the whole file is read, before check_set and check_account (so a hook
     * context may remember which profile they are about); problems are reported at the
     * value. Not called when the scenario names no profile. */
    int (*check_profile)(void *ctx, const char *profile, const char *profile_path, char *why,
                         size_t whycap);
    /* `account NAME`: does the profile have [account.NAME]? Same timing as check_set. */
    int (*check_account)(void *ctx, const char *profile, const char *account, char *why,
                         size_t whycap);
    /* `client ADAPTER K=V...`: the adapters module knows the adapters and their settings.
     * Called once with key == NULL for the adapter name, then once per setting; value is
     * the setting as written (before substitution). */
    int (*check_client)(void *ctx, const char *adapter, const char *key, const char *value,
                        char *why, size_t whycap);
} sc_options;

/* The default reader: a regular file (not a directory, FIFO or device), at most max + 1
 * bytes read. Usable as sc_options.read. */
int sc_read_file(void *ctx, const char *path, size_t max, char **data, size_t *len, char *why,
                 size_t whycap);

/* ---- diagnostics ------------------------------------------------------------------------ */

/* One problem. file, msg and text are owned by the sc_diags. line and col count from 1; col
 * counts characters (UTF-8 code points), a tab being one. line == 0 means the problem is
 * about the file as a whole (it cannot be read, it is too large). text is the offending
 * source line without its line end (NULL when line == 0). include_chain, when not NULL, says
 * where the file was included from, innermost first ("a.inc:2, main.scn:6"). */
typedef struct sc_diag {
    char *file;
    unsigned line, col;
    char *msg;
    char *text;
    size_t text_n;
    char *include_chain;
} sc_diag;

typedef struct sc_diags {
    sc_diag *v;
    size_t n;
    size_t dropped;   /* problems found after max_errors was reached (parsing then stops) */
} sc_diags;

/* Print every diagnostic like a compiler does:
 *
 *   scenarios/x.scn:12:1: unknown step 'expct' (did you mean 'expect'?)
 *      12 | expct "a1 OK*"
 *         | ^
 *
 * preceded by "In file included from ...:" when the file was included. Control characters
 * in the shown line are printed as '?', and a line wider than 160 columns is shown as a
 * window around the caret. Ends with "N more errors not shown" when some were dropped. */
void sc_diags_print(FILE *out, const sc_diags *d);

/* Free the contents of d and zero it. Safe on a zeroed sc_diags. */
void sc_diags_free(sc_diags *d);

/* ---- the tree: common parts ------------------------------------------------------------- */

typedef enum sc_role { SC_ROLE_NONE = 0, SC_ROLE_CLIENT, SC_ROLE_SERVER } sc_role;

typedef enum sc_proto { SC_PROTO_NONE = 0, SC_PROTO_IMAP, SC_PROTO_SMTP, SC_PROTO_POP3 } sc_proto;

/* How a connection starts: TLS from the first byte, or plaintext (STARTTLS, when wanted, is
 * scripted: send the command, then a `starttls` step). */
typedef enum sc_mode { SC_MODE_PLAIN = 1, SC_MODE_IMPLICIT_TLS } sc_mode;

/* Where a step came from. text is the whole source line, without its line end. */
typedef struct sc_loc {
    const char *file;
    unsigned line, col;
    const char *text;
    size_t text_n;
} sc_loc;

/* What a {NAME} refers to. Names are resolved at parse time; values exist only at run time
 * (the interpreter owns them: the profile's account, the ports the runner chose, the values
 * of `var` steps and captures). */
typedef enum sc_var_kind {
    SC_VAR_ACCOUNT_NAME,         /* account.name: the [account.NAME] section name */
    SC_VAR_ACCOUNT_EMAIL,        /* account.email */
    SC_VAR_ACCOUNT_LOCAL,        /* account.local: the part of the address before '@' */
    SC_VAR_ACCOUNT_USERNAME,     /* account.username.PROTO: the login name the profile
                                    accepts for that protocol (proto field) */
    SC_VAR_ACCOUNT_PASSWORD,     /* account.password: the account (web) password [secret] */
    SC_VAR_ACCOUNT_APP_PASSWORD, /* account.app_password: the app-specific password [secret] */
    SC_VAR_ACCOUNT_OAUTH_TOKEN,  /* account.oauth_token: the OAuth bearer token (XOAUTH2,
                                  * OAUTHBEARER) [secret] */
    SC_VAR_HOST,                 /* host: the address mailrig listens on or connects to */
    SC_VAR_CAFILE,               /* cafile: the test CA certificate file (PEM) */
    SC_VAR_PORT,                 /* port:PROTO[:PORT]: the local port serving that protocol
                                    (at that provider port; port 0 = the protocol's first
                                    listener in the profile) */
    SC_VAR_USER,                 /* a `var` step's name (slot, def_step) */
    SC_VAR_CAPTURE,              /* an `expect ... as NAME` or a regex named group (slot,
                                    def_step: the first step that captures it) */
} sc_var_kind;

/* A transformation applied to the value: {base64:NAME}. */
typedef enum sc_xform { SC_XF_NONE = 0, SC_XF_BASE64 } sc_xform;

typedef struct sc_ref {
    sc_var_kind kind;
    sc_xform xform;
    const char *name;    /* as written inside the braces, transformation prefix removed */
    sc_proto proto;      /* SC_VAR_ACCOUNT_USERNAME, SC_VAR_PORT */
    unsigned port;       /* SC_VAR_PORT: provider port, 0 = default */
    unsigned slot;       /* SC_VAR_USER, SC_VAR_CAPTURE: index into sc_scenario.vars */
    int secret;          /* the value must never be logged (passwords, and what is built
                            from them: a `var` or base64 of a secret) */
} sc_ref;

/* One piece of a text: bytes to use as they are, or a variable reference. */
typedef enum sc_part_kind { SC_PART_LIT, SC_PART_REF } sc_part_kind;

typedef struct sc_part {
    sc_part_kind kind;
    const char *p;       /* SC_PART_LIT: the bytes, escapes already decoded (may hold NUL) */
    size_t n;
    sc_ref ref;          /* SC_PART_REF */
} sc_part;

/* A string or word after escapes and with its {substitutions} found. src is the token as
 * written (quotes and all), col its column. An empty text has nparts == 0. */
typedef struct sc_text {
    const sc_part *parts;
    size_t nparts;
    const char *src;
    unsigned col;
    int secret;          /* some part is a secret reference */
} sc_text;

/* Patterns, matched against one line without its line end:
 *   SC_PAT_GLOB  "a1 OK*": '*' matches any run of bytes (also empty), '?' any one byte,
 *                everything else itself; the whole line must match. Wildcards come only
 *                from the literal parts: substituted values match literally.
 *   SC_PAT_EXACT exact "...": the line must equal the text, byte for byte.
 *   SC_PAT_REGEX /re/ or /re/i: PCRE2 syntax, no UTF mode (bytes), found anywhere in the
 *                line unless anchored; substituted values match literally (the interpreter
 *                escapes them). i = caseless. Named groups (?<name>...) are captures. */
typedef enum sc_pat_kind { SC_PAT_GLOB = 1, SC_PAT_EXACT, SC_PAT_REGEX } sc_pat_kind;

/* A named regex group: a capture into a variable slot. */
typedef struct sc_group {
    const char *name;
    unsigned number;        /* PCRE2 group number */
    unsigned slot;          /* index into sc_scenario.vars */
} sc_group;

typedef struct sc_pattern {
    sc_pat_kind kind;
    sc_text text;           /* for a regex: the regex source between the slashes, as parts */
    int caseless;           /* /re/i */
    int negate;             /* expect-reply `not PATTERN`: no line may match */
    const sc_group *groups; /* SC_PAT_REGEX: its named groups */
    size_t ngroups;
} sc_pattern;

/* TLS handshake settings and expectation, for connect/listen implicit-tls and starttls. */
typedef enum sc_tls_expect { SC_TLS_OK = 1, SC_TLS_FAIL, SC_TLS_ALERT } sc_tls_expect;
typedef enum sc_tls_verify { SC_VERIFY_ON = 1, SC_VERIFY_OFF } sc_tls_verify;

typedef struct sc_tls {
    sc_tls_expect expect;   /* default SC_TLS_OK */
    sc_tls_verify verify;   /* client role: verify the server certificate [on] */
    const sc_text *sni;     /* client role: SNI sent; server role: SNI the client must send;
                               NULL = client role: the profile's host name for the protocol;
                               server role: no expectation */
    unsigned version;       /* 0 any, 12 = TLS 1.2 only, 13 = TLS 1.3 only */
    int step;               /* index of the `tls` step that set these, or -1 (defaults) */
} sc_tls;

/* ---- steps ------------------------------------------------------------------------------ */

/* X(enum, keyword, roles): the step table. roles: C client, S server, B both. */
#define SC_STEPS(X)                                                                        \
    X(SC_CONNECT, "connect", C)                                                            \
    X(SC_EXPECT_CONNECT, "expect-connect", C)                                              \
    X(SC_TLS, "tls", B)                                                                    \
    X(SC_LISTEN, "listen", S)                                                              \
    X(SC_SERVE, "serve", S)                                                                \
    X(SC_ACCEPT, "accept", S)                                                              \
    X(SC_CLIENT, "client", S)                                                              \
    X(SC_EXPECT_CLIENT, "expect-client", S)                                                \
    X(SC_SEND, "send", B)                                                                  \
    X(SC_SEND_RAW, "send-raw", B)                                                          \
    X(SC_EXPECT, "expect", B)                                                              \
    X(SC_EXPECT_REPLY, "expect-reply", C)                                                  \
    X(SC_EXPECT_NOTHING, "expect-nothing", B)                                              \
    X(SC_EXPECT_CLOSED, "expect-closed", B)                                                \
    X(SC_STARTTLS, "starttls", B)                                                          \
    X(SC_CLOSE, "close", B)                                                                \
    X(SC_WAIT, "wait", B)                                                                  \
    X(SC_VAR, "var", B)                                                                    \
    X(SC_CHECK, "check", B)

typedef enum sc_step_kind {
    SC_STEP_NONE = 0,
#define X(e, kw, roles) e,
    SC_STEPS(X)
#undef X
    SC_STEP__COUNT
} sc_step_kind;

/* The keyword of a step kind ("expect-reply"), or "?" . */
const char *sc_step_name(sc_step_kind kind);

/* connect PROTO [PORT] MODE: open a TCP connection (client role) to the profile's listener
 * for that provider port, then for implicit-tls do the handshake (tls). outcome is set by an
 * `expect-connect` right after it (default SC_CONNECT_OK). */
typedef enum sc_connect_outcome { SC_CONNECT_OK = 1, SC_CONNECT_REFUSED, SC_CONNECT_TIMEOUT }
    sc_connect_outcome;

typedef struct sc_connect {
    sc_proto proto;
    unsigned port;       /* provider port; 0 = the protocol's default for the mode
                            (sc_default_port) */
    sc_mode mode;
    sc_connect_outcome outcome;
    int outcome_step;    /* index of the expect-connect step, or -1 */
    sc_tls tls;          /* SC_MODE_IMPLICIT_TLS only */
} sc_connect;

/* listen PROTO PORT MODE: a scripted server listener (server role) at that provider port. */
typedef struct sc_listen {
    sc_proto proto;
    unsigned port;
    sc_mode mode;
    sc_tls tls;          /* SC_MODE_IMPLICIT_TLS only: each accepted connection's handshake */
} sc_listen;

/* One KEY=VALUE setting (client, check). */
typedef struct sc_kv {
    const char *key;
    sc_text value;
    unsigned key_col;
} sc_kv;

/* expect-client exit=0|nonzero|N [output=PATTERN] */
typedef enum sc_exit_kind { SC_EXIT_ZERO = 1, SC_EXIT_NONZERO, SC_EXIT_CODE } sc_exit_kind;

/* expect-reply: the response's status, per protocol (the protocol of the connection). */
typedef struct sc_reply {
    sc_proto proto;
    char smtp_code[4];   /* SMTP: "250", "2xx", "25x" ('x' = any digit, trailing only) */
    const char *imap_tag;/* IMAP: the tag, "*" (one untagged status response) or "+" */
    const char *status;  /* IMAP: OK NO BAD (tagged), OK NO BAD PREAUTH BYE (untagged),
                            NULL for "+"; POP3: "+OK", "-ERR" or "+" */
    int multiline;       /* POP3: the response is a multi-line one, ended by "." */
} sc_reply;

/* check NAME [K=V...]: see scenario_checks.h for the table of names and parameters. */
typedef struct sc_check_param {
    const char *key;
    const char *value;   /* validated against the check's parameter type */
    long number;         /* for integer parameters */
} sc_check_param;

typedef struct sc_step {
    sc_step_kind kind;
    sc_loc loc;
    unsigned timeout_ms;      /* waiting steps: timeout= or the header's step timeout */
    union {
        sc_connect connect;                                   /* SC_CONNECT */
        struct { sc_connect_outcome outcome; int target; } expect_connect; /* target: step */
        struct { sc_tls tls; int target; } tls;               /* SC_TLS: already folded into
                                                                 steps[target]; nothing to do */
        sc_listen listen;                                     /* SC_LISTEN */
        struct { unsigned protos; } serve;                    /* bit (1 << sc_proto); 0 all */
        struct { unsigned port; } accept;                     /* 0 = any listener */
        struct { const char *adapter; const sc_kv *kv; size_t nkv; } client;
        struct {
            sc_exit_kind exit;
            int code;                 /* SC_EXIT_CODE: 0..255 */
            const sc_pattern *output; /* matched against each line of the client's output */
        } expect_client;
        struct { const sc_text *lines; size_t n; } send;      /* SC_SEND: each + CRLF, one write;
                                                                 SC_SEND_RAW: concatenated */
        struct {
            const sc_pattern *pats;   /* SC_EXPECT: one per line, in order */
            size_t n;
            int capture;              /* `as NAME`: slot in sc_scenario.vars, or -1; the value
                                         is the matched lines joined with CRLF */
            sc_proto proto;           /* the connection's protocol (server role with several
                                         listeners of different protocols: SC_PROTO_NONE) */
        } expect;
        struct {
            sc_reply reply;
            const sc_pattern *pats;   /* each must match some line (negate: none may) */
            size_t n;
            int capture;              /* `as NAME`: the whole response, or -1 */
        } expect_reply;
        struct {
            unsigned ms;
            int open;     /* SC_EXPECT_NOTHING `open`: the peer must not close either */
        } duration;                                             /* SC_EXPECT_NOTHING, SC_WAIT */
        struct { sc_tls tls; } starttls;                      /* SC_STARTTLS */
        struct { unsigned slot; sc_text value; } var;         /* SC_VAR */
        struct {
            unsigned id;                       /* sc_check_id (scenario_checks.h) */
            const sc_check_param *params;      /* every parameter, defaults filled in */
            size_t nparams;
        } check;
    } u;
} sc_step;

/* A variable slot: a `var` or a capture name. */
typedef struct sc_var {
    const char *name;
    sc_var_kind kind;     /* SC_VAR_USER or SC_VAR_CAPTURE */
    unsigned def_step;    /* the first step that defines it */
    int secret;           /* a var whose value uses a secret */
} sc_var;

/* `set SECTION.KEY=VALUE`: a profile override, passed to the profile loader as written (a
 * {placeholder} in VALUE is the profile's template syntax, not a scenario variable). */
typedef struct sc_set {
    const char *key;
    const char *value;
    sc_loc loc;
} sc_set;

typedef struct sc_header {
    const char *name;          /* `scenario NAME` */
    const char *describe;      /* NULL when absent */
    const char *const *tags;
    size_t ntags;
    const char *profile;       /* NULL when absent: the runner's --profile decides */
    const char *profile_path;  /* when profile is a path (has '/' or ends in .ini): resolved
                                  against the scenario's directory; NULL for a name */
    sc_role role;
    unsigned step_timeout_ms;  /* default for waiting steps [5000] */
    unsigned total_timeout_ms; /* the whole scenario [60000] */
    const sc_set *sets;
    size_t nsets;
    const char *account;       /* NULL = the profile's first account */
} sc_header;

typedef struct sc_scenario {
    sc_header h;
    const sc_step *steps;
    size_t nsteps;
    const sc_var *vars;
    size_t nvars;
    const char *file;          /* the top file, as given */
    const char *const *files;  /* every file read, the top one first */
    size_t nfiles;
} sc_scenario;

/* ---- parsing ---------------------------------------------------------------------------- */

/* Parse and validate the scenario in `path` (read through opt->read). opt may be NULL for
 * defaults. Diagnostics are appended to *diags (which the caller zeroes first and frees with
 * sc_diags_free). Returns the scenario, or NULL when there was any error (then diags->n > 0),
 * including allocation failure. */
sc_scenario *sc_parse_file(const char *path, const sc_options *opt, sc_diags *diags);

/* Same, for a scenario already in memory, named `name` in diagnostics and used as the base
 * for relative includes (read through opt->read). data need not be NUL-terminated. */
sc_scenario *sc_parse_mem(const char *name, const char *data, size_t len, const sc_options *opt,
                          sc_diags *diags);

/* Free a scenario and everything it points to. Safe on NULL. */
void sc_free(sc_scenario *sc);

/* ---- helpers for the modules built on the tree ------------------------------------------ */

/* The protocol's default provider port for a connection mode: imap 993/143, smtp 465/587,
 * pop3 995/110 (implicit-tls/plain). */
unsigned sc_default_port(sc_proto proto, sc_mode mode);

const char *sc_proto_name(sc_proto proto);   /* "imap", "smtp", "pop3", or "?" */
const char *sc_mode_name(sc_mode mode);      /* "plain", "implicit-tls", or "?" */

/* Parse a duration: digits then ms, s or m ("500ms", "5s", "2m"); 1 ms .. 1 hour. Returns 0
 * with *ms set, or -1 with a reason in why. */
int sc_parse_duration(const char *s, size_t n, unsigned *ms, char *why, size_t whycap);

/* The closest candidate to `word` among names[0..n), or NULL when none is close enough to
 * be a likely typo (edit distance at most 2, and less than half the word). */
const char *sc_suggest(const char *word, const char *const *names, size_t n);

#endif
