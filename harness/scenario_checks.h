/* scenario_checks.h -- the one table of check names a scenario may use (`check NAME K=V...`).
 *
 * The scenario parser validates names and parameters against this table; the checks module
 * (harness/checks.c, later) implements each entry, evaluated on the transcript after a
 * scenario has run. To add a check: add a row to SC_CHECKS and an entry in sc_checks[]
 * (scenario_checks.c), then its implementation; the enum keeps both in step.
 *
 * Most checks judge the client under test, so they belong to the server role. Checks marked
 * for both roles judge whichever peer is not mailrig: the client under test in the server
 * role, the server (a mock or a real loopback server) in the client role.
 */
#ifndef MAILRIG_HARNESS_SCENARIO_CHECKS_H
#define MAILRIG_HARNESS_SCENARIO_CHECKS_H

#include <stddef.h>

/* X(enum suffix, name): every known check, in documentation order. */
#define SC_CHECKS(X)                                                                       \
    X(NO_CREDENTIALS_BEFORE_TLS, "no-credentials-before-tls")                              \
    X(NO_PLAINTEXT_AFTER_STARTTLS, "no-plaintext-after-starttls")                          \
    X(NO_STARTTLS_STRIPPING, "no-starttls-stripping")                                      \
    X(REJECTS_UNTRUSTED_CERTIFICATE, "rejects-untrusted-certificate")                      \
    X(NO_IMPLICIT_TLS_ON_STARTTLS_PORT, "no-implicit-tls-on-starttls-port")                \
    X(NO_PLAINTEXT_ON_IMPLICIT_TLS_PORT, "no-plaintext-on-implicit-tls-port")              \
    X(OFFERED_MECHANISMS_ONLY, "offered-mechanisms-only")                                  \
    X(USERNAME_FORM, "username-form")                                                      \
    X(MAX_AUTH_RETRIES, "max-auth-retries")                                                \
    X(NO_BARE_LF, "no-bare-lf")                                                            \
    X(MAX_LINE_LENGTH, "max-line-length")                                                  \
    X(STRICT_SYNTAX, "strict-syntax")

typedef enum sc_check_id {
#define X(e, name) SC_CHECK_##e,
    SC_CHECKS(X)
#undef X
    SC_CHECK__COUNT
} sc_check_id;

/* Roles a check applies to (bit mask). */
enum { SC_CHECK_ROLE_CLIENT = 1, SC_CHECK_ROLE_SERVER = 2 };

typedef enum sc_param_type {
    SC_PARAM_UINT = 1,   /* decimal, min..max */
    SC_PARAM_ENUM,       /* one of choices, '|'-separated */
} sc_param_type;

typedef struct sc_check_param_def {
    const char *key;
    sc_param_type type;
    long min, max;          /* SC_PARAM_UINT */
    const char *choices;    /* SC_PARAM_ENUM: "local|full|profile" */
    const char *def;        /* default value; NULL = the parameter is required */
    const char *help;       /* one line for the docs and `lint` messages */
} sc_check_param_def;

enum { SC_CHECK_MAX_PARAMS = 2 };

typedef struct sc_check_def {
    const char *name;
    unsigned roles;                  /* SC_CHECK_ROLE_* */
    const char *summary;             /* what a failure means, one line for reports */
    const char *why;                 /* why it matters (the reason shown in the report) */
    sc_check_param_def params[SC_CHECK_MAX_PARAMS];   /* key == NULL ends the list */
} sc_check_def;

/* The table, indexed by sc_check_id. */
extern const sc_check_def sc_checks[SC_CHECK__COUNT];

/* Look a check up by name; returns its id or -1. */
int sc_check_find(const char *name, size_t n);

#endif
