/* run_vars.h -- the run-time values of scenario variables, substitution, and redaction.
 *
 * The parser resolved every {name} to an sc_ref; this module gives each its value for one
 * run: the profile's account (account.*), the address and CA file, the local ports of the
 * listeners (the mock's, the scripted server's, or port_base + P for external servers),
 * `var` steps and captures, and {base64:...} of any of them.
 *
 * Secrets. account.password, account.app_password, the account's OAuth token and anything the
 * parser flagged secret (a var built from a secret, base64 of one) are secrets: a substituted
 * text comes back twice, the real bytes for the wire and a copy in which each secret part is
 * `<redacted>`, for the transcript, the verbose trace and messages. Because a peer may echo a
 * secret, or a client print one, run_vars_redact() also replaces every known secret value
 * (and its base64) found in arbitrary bytes.
 */
#ifndef MAILRIG_HARNESS_RUN_VARS_H
#define MAILRIG_HARNESS_RUN_VARS_H

#include <stddef.h>

#include "harness/scenario.h"
#include "servers/profile.h"

#define RUN_REDACTED "<redacted>"

/* A growable byte buffer (may hold NUL; p is NUL-terminated after any append for
 * convenience). A failed allocation sets oom and keeps what there was. */
typedef struct run_buf {
    char *p;
    size_t n, cap;
    int oom;
} run_buf;

void run_buf_add(run_buf *b, const void *p, size_t n);
void run_buf_adds(run_buf *b, const char *s);
void run_buf_reset(run_buf *b);   /* n = 0, keep the memory */
void run_buf_free(run_buf *b);

/* One listener the scenario can reach: provider port -> local port (0: nothing listens). */
typedef struct run_port {
    sc_proto proto;
    unsigned provider_port;
    int local_port;
} run_port;

enum { RUN_MAX_PORTS = 64, RUN_MAX_SECRETS = 64 };

typedef struct run_value {
    char *p;
    size_t n;
    int set;
} run_value;

typedef struct run_vars {
    const sc_scenario *sc;
    const profile *prof;           /* may be NULL (then account.* are errors) */
    const profile_account *acct;   /* the scenario's account (NULL: none) */
    const char *host;              /* "127.0.0.1" */
    const char *cafile;            /* the test CA file, "" when unknown */
    int external, port_base;       /* external servers: provider port P at port_base + P */
    run_port ports[RUN_MAX_PORTS];
    size_t nports;
    run_value *slots;              /* sc->nvars values of `var` steps and captures */
    /* secret values known so far, for run_vars_redact */
    char *secrets[RUN_MAX_SECRETS];
    size_t secret_n[RUN_MAX_SECRETS];
    size_t nsecrets;
} run_vars;

/* Set up for scenario sc with profile prof (may be NULL) and the account named acct_name
 * (NULL: the profile's first). Registers the account's secrets. Returns 0, or -1 with err
 * ("profile icloud has no account 'x'", out of memory). */
int run_vars_init(run_vars *v, const sc_scenario *sc, const profile *prof,
                  const char *acct_name, char *err, size_t errlen);
void run_vars_free(run_vars *v);

/* Add a port mapping (later entries for the same proto/port replace earlier ones). */
void run_vars_add_port(run_vars *v, sc_proto proto, unsigned provider_port, int local_port);

/* The local port for proto at provider port (0: the first listener of proto that listens),
 * or 0 when there is none. With external, port_base + provider port (the default port of
 * the protocol when provider_port is 0 is not known here: callers pass a real port). */
int run_vars_port(const run_vars *v, sc_proto proto, unsigned provider_port);

/* Set a `var` or capture slot to p[0..n). secret: also register the value as a secret. */
int run_vars_set(run_vars *v, unsigned slot, const char *p, size_t n, int secret);

/* Register a secret value (ignored when empty or already known); its base64 too. */
void run_vars_add_secret(run_vars *v, const char *p, size_t n);

/* Append the value of ref to out (and, redacted, to red: `<redacted>` for a secret ref; red
 * may be NULL). Returns 0, or -1 with err ("variable 'x' has no value yet", "no listener for
 * imap at port 995"). */
int run_vars_ref(run_vars *v, const sc_ref *ref, run_buf *out, run_buf *red, char *err,
                 size_t errlen);

/* Substitute text: literal parts as they are, references by value. red may be NULL. */
int run_vars_expand(run_vars *v, const sc_text *t, run_buf *out, run_buf *red, char *err,
                    size_t errlen);

/* Copy p[0..n) to out with every known secret value replaced by `<redacted>`. */
void run_vars_redact(const run_vars *v, const char *p, size_t n, run_buf *out);

#endif
