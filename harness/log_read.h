/* log_read.h -- client protocol logs in, one normalised conversation out.
 *
 * Support tickets come with whatever log the user could produce: mailrig's own transcript,
 * `curl -v`, `msmtp --debug`, an `openssl s_client` session, Python's imaplib debug output
 * (imaplib.Debug = 4) or smtplib's set_debuglevel(1), a Thunderbird MOZ_LOG protocol log.
 * Each format has a reader here (harness/log_<fmt>.c) that turns the bytes into the same
 * shape: connections, each with its target and an ordered list of records -- a protocol line
 * in one direction, a TLS event, a client-side error -- every record with the TLS state it
 * happened in and the line of the log it came from. The diagnosis (diag_log.c), `replay` and
 * `--to-scenario` work on that shape only, never on a format.
 *
 * Readers are pure (bytes in, log_conv out, no I/O, no globals), total (any bytes give a
 * result, never a crash or hang) and bounded (LOG_MAX_* below), so each has a fuzz target.
 *
 * Secrets: every client line goes through one redactor (log_conv_add) before it is kept:
 * IMAP LOGIN passwords, POP3 PASS and APOP digests, AUTH/AUTHENTICATE initial responses and
 * every continuation line of a SASL exchange (proto/sasl_redact.h: the identity stays, the
 * secret becomes "<redacted>"), literal arguments of LOGIN, bearer tokens. Nothing a reader
 * keeps outside records (targets, error texts) comes from a client's command line; the
 * formats that print credentials elsewhere (msmtp's "passwordeval = ...", a Python traceback
 * quoting `m.login("u", "p")`) have those lines skipped by their reader.
 */
#ifndef MAILRIG_HARNESS_LOG_READ_H
#define MAILRIG_HARNESS_LOG_READ_H

#include <stdbool.h>
#include <stddef.h>

#include "harness/diag.h"

enum {
    LOG_MAX_BYTES = 16 << 20, /* larger logs are refused */
    LOG_MAX_CONNS = 64,       /* further connections are merged into the last one */
    LOG_MAX_RECS = 20000,     /* per log; further records are counted, not kept */
    LOG_MAX_LINE = 8192,      /* a longer line is cut there (counted in truncated) */
};

/* The log formats, in the order auto-detection prefers them on a tie. */
typedef enum log_format {
    LOG_FMT_UNKNOWN,
    LOG_FMT_TRANSCRIPT,  /* "transcript"   mailrig's own (servers/transcript.h) */
    LOG_FMT_CURL,        /* "curl"         curl -v: "> ", "< ", "* " */
    LOG_FMT_MSMTP,       /* "msmtp"        msmtp --debug: "--> ", "<-- " */
    LOG_FMT_OPENSSL,     /* "openssl"      openssl s_client (-starttls PROTO or implicit) */
    LOG_FMT_IMAPLIB,     /* "imaplib"      Python imaplib.Debug = 4 */
    LOG_FMT_SMTPLIB,     /* "smtplib"      Python smtplib set_debuglevel(1) */
    LOG_FMT_THUNDERBIRD, /* "thunderbird"  MOZ_LOG=IMAP:5,SMTP:5,POP3:5 */
    LOG_FMT_COUNT
} log_format;

/* "transcript", "curl", ... ("" for UNKNOWN). */
const char *log_format_name(log_format f);

/* The format named name, or LOG_FMT_UNKNOWN. */
log_format log_format_from_name(const char *name);

/* The accepted --log-format names joined with ", " (for usage messages). */
const char *log_format_names(void);

typedef enum log_kind {
    LOG_DATA,       /* one protocol line (dir C or S), without its line end */
    LOG_TLS_START,  /* the client starts a TLS handshake (implicit, or after STARTTLS/STLS) */
    LOG_TLS_OK,     /* handshake done; text: version/cipher when the log says */
    LOG_TLS_FAIL,   /* handshake failed; text: the reason as logged */
    LOG_CERT_ERROR, /* the client refused the server certificate; text: the reason */
    LOG_ERROR,      /* a client-side error; err says which kind; text as logged */
    LOG_EVENT,      /* a mailrig transcript event ("auth-wrong-password-kind ..."): the mock's own
                     * judgement, only in mailrig transcripts */
    LOG_CLOSED,     /* the connection ended (text: how, when the log says) */
} log_kind;

typedef enum log_dir { LOG_DIR_NONE, LOG_DIR_C = 'C', LOG_DIR_S = 'S' } log_dir;

/* The TLS state a record happened in. */
typedef enum log_tls { LOG_TLS_PLAIN, LOG_TLS_AFTER_STARTTLS, LOG_TLS_IMPLICIT } log_tls;

/* What a LOG_ERROR record is. */
typedef enum log_err {
    LOG_ERR_OTHER,
    LOG_ERR_REFUSED, /* "Connection refused" */
    LOG_ERR_TIMEOUT, /* the client gave up waiting */
    LOG_ERR_RESET,   /* the server closed or reset the connection unexpectedly */
    LOG_ERR_AUTH,    /* the client reports that authentication failed */
    LOG_ERR_NO_AUTH, /* the client reports the server offers no (usable) authentication */
} log_err;

typedef struct log_rec {
    log_kind kind;
    log_dir dir;     /* LOG_DATA: C (client to server) or S */
    log_tls tls;     /* the state at this record */
    log_err err;     /* LOG_ERROR: which */
    unsigned line;   /* 1-based line in the log */
    char *text;      /* NUL-terminated, redacted; owned */
    size_t n;
} log_rec;

typedef struct log_conn {
    char host[DIAG_HOST_MAX]; /* connect target as logged ("" = not shown) */
    unsigned port;            /* 0 = not shown */
    diag_proto proto;         /* from the reader (URL scheme, -starttls), else guessed later */
    bool implicit;            /* the client starts TLS at once (imaps://, no -starttls) */
    bool implicit_known;      /* implicit is what the log says, not a default */
    bool starttls_intended;   /* the log says the client meant to send STARTTLS (msmtp's
                               * tls_starttls = on, s_client -starttls) */
    bool tls_silent;          /* the format never logs TLS (Python's): a plaintext state in
                               * its records proves nothing */
    unsigned line;            /* where the connection starts in the log */
    unsigned long key;        /* a reader's own identity for it (Thunderbird's pointer) */
    log_tls tls;              /* current state while reading */
    log_rec *rec;
    size_t n, cap;
    /* redaction state */
    int sasl_mech;            /* sasl_mech of an exchange in progress, -1 = none */
    unsigned sasl_step;
    unsigned literal_secret;  /* client lines still to hide (LOGIN with literals) */
} log_conn;

typedef struct log_conv {
    log_format format;
    log_conn *conn;           /* in the order opened */
    size_t n, cap;
    size_t n_recs;            /* records kept, all connections */
    size_t dropped;           /* records over LOG_MAX_RECS */
    size_t truncated;         /* lines cut at LOG_MAX_LINE */
    size_t redacted;          /* client lines that had a secret removed */
    size_t lines;             /* lines read */
    size_t recognised;        /* lines the reader understood */
    char seen[DIAG_TEXT_MAX / 2]; /* for "cannot tell": what the reader saw, in words */
} log_conv;

/* Empty conversation. */
void log_conv_init(log_conv *c);

/* Release everything c owns; c is empty again. */
void log_conv_free(log_conv *c);

/* Start a connection (host may be NULL or ""; port 0 = unknown) at log line `line`.
 * Returns it, or the last one when LOG_MAX_CONNS are open (NULL only on allocation failure). */
log_conn *log_conv_open(log_conv *c, const char *host, unsigned port, unsigned line);

/* The connection records go to: the last opened, opening one (unknown target) if none. */
log_conn *log_conv_cur(log_conv *c, unsigned line);

/* Append a record to k. text[0..n) is copied; client data lines are redacted first; a
 * trailing CR LF is dropped. LOG_TLS_OK switches the connection's state (STARTTLS when data
 * was seen in plaintext, else implicit). Returns 0, or -1 when the record was not kept. */
int log_conv_add(log_conv *c, log_conn *k, log_kind kind, log_dir dir, const char *text, size_t n,
                 unsigned line);

/* Append a LOG_ERROR record of kind err. */
int log_conv_error(log_conv *c, log_conn *k, log_err err, const char *text, size_t n, unsigned line);

/* For formats that log no TLS events (Python's): after a server line, when the client's
 * last line was STARTTLS/STLS (IMAP: "tag STARTTLS") and this reply accepts it, record the
 * handshake as done (LOG_TLS_OK, state after STARTTLS). */
void log_conv_starttls_reply(log_conv *c, log_conn *k, unsigned line);

/* Map an exception or error line of a client ("ConnectionRefusedError: ...",
 * "ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] ...") to a record: refused/timeout/reset/auth
 * errors, TLS failures, certificate errors. Returns false when the line is not one. */
bool log_conv_exception(log_conv *c, log_conn *k, const char *s, size_t n, unsigned line);

/* Classify a client-side error message: "Connection refused" -> REFUSED, "timed out" ->
 * TIMEOUT, ... */
log_err log_err_classify(const char *text, size_t n);

/* Redact one client line of a conversation whose state is k (NULL: stateless) into out
 * (NUL-terminated, at most cap bytes). Returns 1 when something was hidden, else 0. */
int log_redact_line(log_conn *k, const char *line, size_t n, char *out, size_t cap);

/* Tell the redactor a server line arrived (ends a SASL exchange unless it is a continuation). */
void log_redact_server(log_conn *k, const char *line, size_t n);

/* ---- readers ------------------------------------------------------------------------------ */

/* Each reader parses data[0..n) (any bytes) into c (initialised, empty). Returns the number
 * of lines it recognised as its format (0 = none; c may still hold partial results). */
size_t log_read_transcript(const char *data, size_t n, log_conv *c);
size_t log_read_curl(const char *data, size_t n, log_conv *c);
size_t log_read_msmtp(const char *data, size_t n, log_conv *c);
size_t log_read_openssl(const char *data, size_t n, log_conv *c);
size_t log_read_imaplib(const char *data, size_t n, log_conv *c);
size_t log_read_smtplib(const char *data, size_t n, log_conv *c);
size_t log_read_thunderbird(const char *data, size_t n, log_conv *c);

/* How many of the first lines of data look like format f (a score for auto-detection). */
size_t log_detect_score(const char *data, size_t n, log_format f);

/* The format data looks like, or LOG_FMT_UNKNOWN. */
log_format log_detect(const char *data, size_t n);

/* Read data as format f (LOG_FMT_UNKNOWN: detect). c must be initialised. Returns 0, or 1
 * when the format could not be told or the reader recognised nothing (c->seen says what was
 * seen), or -1 with a message in err (too large, out of memory). */
int log_read(const char *data, size_t n, log_format f, log_conv *c, char *err, size_t errcap);

/* Read a file likewise ("-" = stdin). */
int log_read_file(const char *path, log_format f, log_conv *c, char *err, size_t errcap);

/* ---- line iteration shared by the readers -------------------------------------------------- */

/* Lines of a buffer: split at LF; a trailing CR is dropped; with cr_overwrites the part
 * after the last inner CR is the line (a terminal progress meter overwritten in place). */
typedef struct log_lines {
    const char *p, *end;
    unsigned lineno;
    bool cr_overwrites;
} log_lines;

void log_lines_init(log_lines *it, const char *data, size_t n, bool cr_overwrites);

/* The next line in (*s, *len), not NUL-terminated. Returns false at the end. */
bool log_lines_next(log_lines *it, const char **s, size_t *len);

/* Helpers on (s, len) strings. */
bool log_starts(const char *s, size_t n, const char *prefix);
const char *log_find(const char *s, size_t n, const char *needle); /* NULL when absent */
const char *log_find_nocase(const char *s, size_t n, const char *needle);

/* The number at the start of s[0..n) in base 10 or 16 (a "0x" prefix is skipped for 16),
 * reading at most n bytes (logs are not NUL-terminated); leading spaces are skipped. 0 when
 * there is none; saturates at ULONG_MAX / 16. */
unsigned long log_num(const char *s, size_t n, int base);

/* The protocol a port number usually serves (993/143 IMAP, 465/587/25 SMTP, 995/110 POP3). */
diag_proto log_proto_of_port(unsigned port);

/* Whether the usual mode of port is implicit TLS (993, 465, 995). */
bool log_port_is_implicit(unsigned port);

/* Parse "host:port", "[v6]:port" or "host port N": fills host/port. Returns 0 or -1. */
int log_parse_target(const char *s, size_t n, char *host, size_t hostcap, unsigned *port);

#endif
