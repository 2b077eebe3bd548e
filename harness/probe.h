/* probe.h -- `mailrig probe HOST`: find out which ports and security modes a (loopback) mail
 * host answers, the way account-setup guessers (Thunderbird's autoconfig guesser) do, and say
 * which settings a client should use.
 *
 * Two halves:
 *   - probe_run() (probe_net.c) connects to every port of the plan at once, on one libevent
 *     loop, with one deadline per attempt, and records what each attempt saw: refused,
 *     silent, a plaintext greeting, a TLS handshake (version, certificate, verification),
 *     capabilities or EHLO keywords and AUTH mechanisms before and after TLS. It never sends
 *     credentials: CAPABILITY / EHLO / CAPA, STARTTLS, then LOGOUT / QUIT.
 *   - the rest (probe.c) is pure: reading capability lists, classifying each port, judging
 *     each of the usual settings, the recommendation per protocol and the mismatch signals.
 *     Unit tests feed it hand-made attempt records.
 *
 * The plan: IMAP 993 (TLS first), 143 (plaintext, STARTTLS when offered); SMTP 465, 587, 25;
 * POP3 995, 110. A plaintext-first port (143, 587, 25, 110) also gets a second connection
 * that opens with a TLS ClientHello, because only that tells a silent port from one that
 * waits for TLS, and it is the attempt that sees "587 answered a ClientHello with a plaintext
 * greeting" -- what a client set to SSL/TLS on 587 runs into.
 *
 * Loopback only: probe_host_parse() accepts 127.0.0.0/8, ::1 and "localhost" (never looked up:
 * it means 127.0.0.1) and refuses every other name or address.
 */
#ifndef MAILRIG_HARNESS_PROBE_H
#define MAILRIG_HARNESS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "servers/profile.h"
#include "servers/tls.h"

enum {
    PROBE_MAX_ATTEMPTS = 16,
    PROBE_LINE = 512,          /* a greeting or reply kept for the report (sanitised) */
    PROBE_CAPS = 2048,         /* a capability / EHLO keyword list, space separated */
    PROBE_MECHS = 256,         /* AUTH mechanisms, space separated */
};

/* How an attempt opens the connection. */
typedef enum probe_start { PROBE_START_PLAIN, PROBE_START_TLS } probe_start;

/* What came back first. */
typedef enum probe_outcome {
    PROBE_NOT_RUN,          /* not-run: the port is not mapped (or the attempt was not made) */
    PROBE_REFUSED,          /* refused: connection refused (nothing listens) */
    PROBE_CONNECT_TIMEOUT,  /* connect-timeout: no answer to the connection request */
    PROBE_CONNECT_ERROR,    /* connect-error: another socket error */
    PROBE_SILENT,           /* timeout: connected, not one byte back before the deadline */
    PROBE_CLOSED,           /* closed: connected, then closed or reset without a byte */
    PROBE_PLAINTEXT,        /* plaintext: a text greeting (on a TLS attempt: the mismatch) */
    PROBE_TLS_FAILED,       /* tls-failed: TLS bytes came back, the handshake failed */
    PROBE_GARBAGE,          /* garbage: bytes that are neither a greeting nor TLS */
    PROBE_TLS_OK,           /* tls: the handshake completed */
    PROBE_OUTCOME_COUNT
} probe_outcome;

/* The STARTTLS step of a plaintext attempt. */
typedef enum probe_stls {
    PROBE_STLS_NOT_TRIED,   /* not-tried: not offered, or the conversation ended before */
    PROBE_STLS_OK,          /* ok: the server agreed and the handshake completed */
    PROBE_STLS_REFUSED,     /* refused: the server answered the command with an error */
    PROBE_STLS_FAILED,      /* failed: agreed, then the handshake failed */
    PROBE_STLS_COUNT
} probe_stls;

/* A completed (or failed) TLS handshake as the report shows it. */
typedef struct probe_tls {
    bool done;                  /* the handshake completed */
    char version[16];           /* "TLSv1.3" */
    char cipher[64];
    char subject[256];          /* RFC 2253, sanitised; "" without a certificate */
    char issuer[256];
    tls_verify_class verify;    /* the chain against --ca-file or the system store */
    char verify_desc[160];      /* tls_describe_verify() */
    bool host_match;            /* the certificate names the host (DNS name or IP SAN) */
    char failure[256];          /* tls_describe_failure() when !done */
} probe_tls;

/* What a capability list (IMAP CAPABILITY, SMTP EHLO keywords, POP3 CAPA) offers. */
typedef struct probe_offer {
    bool starttls;              /* STARTTLS / STLS */
    bool login;                 /* IMAP LOGIN (no LOGINDISABLED), POP3 USER; SMTP: false */
    char mechs[PROBE_MECHS];    /* AUTH mechanisms, upper case, space separated */
} probe_offer;

/* One connection's record. The plan fills proto..port and start; the run fills the rest. */
typedef struct probe_attempt {
    profile_proto proto;
    int provider_port;          /* 993, 587, ... */
    int port;                   /* the local port connected to; 0 = not mapped */
    probe_start start;
    probe_outcome outcome;
    char detail[256];           /* why, in words, when something went wrong */
    unsigned elapsed_ms;        /* from the connection request to the end of the attempt */
    char greeting[PROBE_LINE];  /* the first line the server sent (sanitised) */
    bool greeting_ok;           /* * OK / * PREAUTH, 220, +OK (not BYE, 554, -ERR) */
    bool caps_known_before, caps_known_after;
    char caps_before[PROBE_CAPS];  /* on the plaintext connection */
    char caps_after[PROBE_CAPS];   /* under TLS (implicit, or after STARTTLS) */
    probe_offer before, after;
    probe_stls starttls;
    probe_tls tls;              /* implicit TLS, or the STARTTLS handshake */
    unsigned injected;          /* bytes the server sent after its STARTTLS reply */
} probe_attempt;

/* What listens on a port, from its attempts. */
typedef enum probe_port_kind {
    PROBE_PORT_UNMAPPED,        /* unmapped: not probed */
    PROBE_PORT_CLOSED,          /* closed: connection refused */
    PROBE_PORT_SILENT,          /* silent: accepts, never answers */
    PROBE_PORT_IMPLICIT,        /* implicit-tls: TLS from the first byte */
    PROBE_PORT_STARTTLS,        /* starttls: plaintext greeting, upgrade works */
    PROBE_PORT_STARTTLS_BROKEN, /* starttls-broken: upgrade offered, refused or failed */
    PROBE_PORT_PLAIN,           /* plain: plaintext greeting, no upgrade offered */
    PROBE_PORT_PLAINTEXT,       /* plaintext: an implicit-TLS port number answering in clear
                                 * (its STARTTLS is not checked) */
    PROBE_PORT_REJECTS,         /* rejects: greets with an error (554, * BYE, -ERR) */
    PROBE_PORT_ERROR,           /* error: closes at once, TLS fails, unreadable bytes */
    PROBE_PORT_COUNT
} probe_port_kind;

/* A setting a user can choose in an account dialog. */
typedef enum probe_sec { PROBE_SEC_IMPLICIT, PROBE_SEC_STARTTLS, PROBE_SEC_PLAIN } probe_sec;

typedef struct probe_setting {
    profile_proto proto;
    int provider_port;
    probe_sec sec;
} probe_setting;

/* How a setting fares. */
typedef struct probe_verdict {
    probe_setting set;
    bool connects;              /* a client with this setting gets a usable session */
    bool auth;                  /* ... where it can authenticate (mechanisms or LOGIN/USER) */
    bool cert_ok;               /* TLS settings: verifies and names the host */
    const char *mechs;          /* the mechanisms offered in that state ("" if none) */
    bool login;                 /* LOGIN / USER offered in that state */
    char why[256];              /* why it does not work, or "" */
} probe_verdict;

/* Everything one probe found. */
typedef struct probe_result {
    size_t n;
    probe_attempt a[PROBE_MAX_ATTEMPTS];
} probe_result;

/* ---- the plan and the host ---------------------------------------------------------------- */

/* The provider ports probed, in report order: 993 143 465 587 25 995 110. */
extern const int probe_ports[7];

/* The protocol a provider port belongs to (PROFILE_PROTO_COUNT for one not in the plan). */
profile_proto probe_port_proto(int provider_port);

/* Fill r with the plan's attempts; map(provider port) gives the local port (0 = skip it).
 * Attempts of a skipped port stay PROBE_NOT_RUN. */
void probe_plan(probe_result *r, int (*map)(void *ctx, int provider_port), void *ctx);

/* Parse HOST: 127.0.0.0/8 in dotted form, ::1 (or [::1]), or localhost (= 127.0.0.1, no
 * lookup). Fills *sa / *salen (port 0). Returns 0, or -1 with why filled for anything else:
 * this tool never contacts a host that is not this machine. */
int probe_host_parse(const char *host, struct sockaddr_storage *sa, socklen_t *salen, char *why,
                     size_t whycap);

/* ---- running ------------------------------------------------------------------------------- */

typedef struct probe_config {
    const struct sockaddr_storage *addr;  /* from probe_host_parse() */
    socklen_t addrlen;
    const char *server_name;    /* SNI and the host-name check; NULL = none sent, check addr */
    const char *check_name;     /* the name the certificate must carry (host, or server_name) */
    const char *ca_file;        /* trust anchors; NULL = the system store */
    unsigned timeout_ms;        /* per attempt, from the connection request to the last reply */
} probe_config;

/* Run every attempt of r with port != 0 in parallel on one event loop and fill its record.
 * Returns 0, or -1 with err filled when the run could not start (no event base, the CA file
 * unreadable). Each attempt ends at the latest timeout_ms after it started (plus scheduling),
 * and an attempt reported as timed out has waited at least timeout_ms. Memory: about 100 KB
 * per attempt (its buffers), freed before returning. */
int probe_run(probe_result *r, const probe_config *cfg, char *err, size_t errlen);

/* For the fuzz target and unit tests: run attempt a's conversation (a->proto, a->start set)
 * over memory instead of a socket. The server's bytes are input[0..n), delivered in pieces
 * ending at cuts[0..ncuts) (increasing offsets in (0, n); others are skipped), then the server
 * hangs up. There is no TLS engine: a STARTTLS upgrade succeeds at once and the conversation
 * goes on in the clear; on a TLS-first attempt, a first TLS record (5 + its length bytes) stands
 * for a completed handshake. Fills *a as probe_run() would (no certificate details). */
void probe_converse_memory(probe_attempt *a, const char *input, size_t n, const size_t *cuts,
                           size_t ncuts);

/* ---- reading what came back ---------------------------------------------------------------- */

/* Read a capability list into an offer. IMAP: the CAPABILITY atoms (AUTH=X, STARTTLS,
 * LOGINDISABLED); SMTP: EHLO keyword lines joined by '\n' (AUTH X Y / AUTH=X Y, STARTTLS);
 * POP3: CAPA lines joined by '\n' (SASL X Y, STLS, USER). Mechanisms are upper-cased,
 * deduplicated, in the order given. */
void probe_offer_parse(profile_proto proto, const char *caps, probe_offer *out);

/* Whether a greeting line is a welcome (* OK, * PREAUTH, 220, +OK). */
bool probe_greeting_ok(profile_proto proto, const char *line);

/* Copy n bytes of peer text to out (cap bytes, NUL-terminated): printable ASCII kept, CR/LF
 * dropped, anything else as \xHH. Returns the length written. */
size_t probe_sanitize(const char *p, size_t n, char *out, size_t cap);

/* ---- judging -------------------------------------------------------------------------------- */

/* The attempt of r for (provider port, start), or NULL. */
const probe_attempt *probe_find(const probe_result *r, int provider_port, probe_start start);

/* What listens on provider_port. */
probe_port_kind probe_port_classify(const probe_result *r, int provider_port);

/* The settings judged, in preference order per protocol: IMAP 993 SSL, 143 STARTTLS, 143
 * none; SMTP 587 STARTTLS, 465 SSL, 25 STARTTLS, 25 none; POP3 995 SSL, 110 STARTTLS, 110
 * none. SMTP puts 587 first: it is the submission port both modelled providers document
 * (RFC 6409) and the one every submission server offers; 465 comes next (RFC 8314). */
extern const probe_setting probe_settings[10];

/* Judge one setting. */
probe_verdict probe_judge(const probe_result *r, probe_setting s);

/* The recommended setting for proto: the first in probe_settings order that connects, is
 * encrypted (implicit TLS or STARTTLS), offers authentication in that state and whose
 * certificate checks out; failing that, the first encrypted one that connects and
 * authenticates with a certificate problem (*cert_problem set). Returns its index in
 * probe_settings, or -1 when there is none. */
int probe_recommend(const probe_result *r, profile_proto proto, bool *cert_problem);

typedef enum probe_severity { PROBE_INFO, PROBE_WARN, PROBE_ERROR } probe_severity;

typedef struct probe_signal {
    probe_severity severity;
    profile_proto proto;        /* PROFILE_PROTO_COUNT: about several protocols (certificates) */
    int provider_port;          /* 0 when it is about a protocol, or several ports, as a whole */
    const char *code;           /* stable word for tools: "plaintext-answer-to-tls" ... */
    char text[384];
} probe_signal;

/* The mismatch signals: things a user or a client's guesser gets wrong on this host. Fills
 * out[0..cap) and returns how many there are (may exceed cap: the rest are dropped). */
size_t probe_signals(const probe_result *r, const char *host, probe_signal *out, size_t cap);

/* ---- names ---------------------------------------------------------------------------------- */

const char *probe_outcome_name(probe_outcome o);
const char *probe_stls_name(probe_stls s);
const char *probe_port_kind_name(probe_port_kind k);
const char *probe_sec_name(probe_sec s);        /* "implicit", "starttls", "plain" */
const char *probe_sec_label(probe_sec s);       /* as account dialogs say: "SSL/TLS", "STARTTLS", "None" */
const char *probe_severity_name(probe_severity s);  /* "info", "warning", "error" */

#endif
