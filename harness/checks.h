/* checks.h -- client-behaviour checks, evaluated on a finished run's transcript.
 *
 * Each check named in scenario_checks.h has an evaluator here. A check reads the transcript
 * records (servers/transcript.h) of every connection of the run -- data records, re-parsed
 * with the proto/ parsers of the connection's protocol (the `open` record says which), and
 * the events the carrier and the mock sessions wrote (servers/events.h) -- and decides
 * whether the peer under judgement behaved. It says why in one line either way, naming the
 * connection and the record ("conn 2: LOGIN sent at 0.013 before any TLS").
 *
 * Checks are pure functions of the transcript text and the parameters: the unit tests feed
 * them hand-written transcripts, good and bad, for every check.
 *
 * What the checks read, so that every writer of transcripts (the mock's carrier and
 * sessions, the interpreter's scripted connections) gives them what they need:
 *   open   `proto=imap|smtp|pop3` (else only the byte-level checks judge the connection),
 *          `mode=implicit|implicit-tls|starttls|plain`, `port=N`, and for TLS listeners
 *          `cert=normal|untrusted|wrong-host|expired` (absent = normal).
 *   tls    `ok ...` (TLS is up from here on) or `fail ...`.
 *   data   C:/C|/C# and S:/S|/S#, re-assembled per connection and direction (a CRLF split
 *          across records is one CRLF), framed with proto/ (IMAP literals, SMTP multi-line
 *          replies and DATA, POP3 multi-line bodies) and parsed: commands, SASL exchanges,
 *          capability lists (CAPABILITY, EHLO, CAPA) and the replies to each command.
 *          `<redacted>` counts as a credential wherever it stands; an item that only fails the
 *          strict parser because of a redaction is not held against the peer.
 *   event  the names of servers/events.h: credentials-before-tls, mech-not-offered, the
 *          starttls-* and tls-handshake-on-* carrier events, plaintext-on-implicit-tls-port,
 *          strict-violation and line-too-long (about the client), auth-* (form=, expected=).
 * Which side is judged: the checks of the client role table (SC_CHECK_ROLE_SERVER only) judge
 * the client (`C`); the checks for both roles judge the peer: `C` when ctx->role is
 * SC_ROLE_SERVER (or NONE), `S` when it is SC_ROLE_CLIENT.
 *
 * Definite authentication failures (max-auth-retries): IMAP tagged NO (but NO [UNAVAILABLE]
 * is temporary), SMTP 5xx, POP3 -ERR (but -ERR [SYS/TEMP] and [IN-USE] are temporary). An
 * attempt is LOGIN, AUTHENTICATE, AUTH, USER(+PASS), PASS without USER, or APOP; attempts are
 * ordered by time across connections, and a success starts the count again.
 */
#ifndef MAILRIG_HARNESS_CHECKS_H
#define MAILRIG_HARNESS_CHECKS_H

#include <stddef.h>

#include "harness/scenario.h"
#include "harness/scenario_checks.h"

/* What a check knows besides the transcript. */
typedef struct check_ctx {
    sc_role role;                 /* whose behaviour is judged: the other side */
    const char *profile;          /* the profile name, or NULL */
    /* username-form: the forms the profile accepts per protocol ("local", "full", or both
     * as "local|full"), indexed by sc_proto; NULL when unknown (then the mock's auth events
     * say, with their expected= key). */
    const char *username_form[4];
} check_ctx;

/* Evaluate check `id` with params on transcript text[0..n). Returns 1 passed, 0 failed, and
 * fills reason (one line, printable ASCII, always NUL-terminated when cap > 0). A transcript
 * that cannot be read is a failure with that reason. ctx may be NULL (judge the client, no
 * profile). params missing from the list take the table's defaults; a required one missing
 * is a failure that says so. Time and memory are linear in n (every buffer is bounded). */
int check_eval(sc_check_id id, const sc_check_param *params, size_t nparams,
               const check_ctx *ctx, const char *text, size_t n, char *reason, size_t cap);

#endif
