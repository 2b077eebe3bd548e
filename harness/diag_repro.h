/* diag_repro.h -- `mailrig reproduce`: a user's settings, and the same settings with every
 * error finding's fix applied, as scenarios (docs/scenario-language.md) that mailrig's client
 * role (or a client adapter) runs against the provider's mock, so the transcripts and the
 * verdicts are the engine's.
 *
 * A plan holds, per server (incoming, outgoing), the conversation as the user set it up and as
 * corrected: protocol, the provider port the client connects to (the mock maps it to its own
 * listener; a port the profile does not serve, or a closed one, is refused), the wire mode
 * read from the client's vocabulary, the user name (written in terms of the profile account
 * that stands for the user, so its form is kept: the name part, the address, an alias), the
 * password kind and the authentication method. Values the settings do not give are taken from
 * the provider's documentation and listed in notes, never silently.
 */
#ifndef MAILRIG_HARNESS_DIAG_REPRO_H
#define MAILRIG_HARNESS_DIAG_REPRO_H

#include <stdbool.h>
#include <stddef.h>

#include "harness/diag.h"
#include "servers/profile.h"

enum { REPRO_NOTES = 1024, REPRO_SCN_MAX = 16 * 1024 };

typedef struct repro_server {
    bool present;                    /* the settings describe this server */
    bool runnable;                   /* a conversation can be built (else why_not says why) */
    char why_not[256];
    diag_proto proto;
    char host[DIAG_HOST_MAX];        /* as the user typed it: SNI and certificate check */
    unsigned port;                   /* the provider port */
    diag_wire wire;
    char username[DIAG_ADDR_MAX];    /* as typed */
    diag_password password;
    diag_auth auth;
    char notes[REPRO_NOTES];         /* what was assumed (not given) or changed (the fixes) */
} repro_server;

typedef struct repro_plan {
    char provider[DIAG_NAME_MAX];
    char account[64];                /* the profile account that stands for the user */
    char account_email[DIAG_ADDR_MAX];
    char user_email[DIAG_ADDR_MAX];  /* the user's address (the account's when not given) */
    bool stand_in;                   /* the address is not a profile account: user names that
                                      * are (part of) it are written as the account's */
    char state[64];                  /* --account-state for the user's run ("" = ok) */
    char fixed_state[64];            /* the state after the fixes ("" = ok) */
    repro_server user[DIAG_SERVERS];
    repro_server fixed[DIAG_SERVERS];
} repro_plan;

/* Build the plan from interpreted settings s, their diagnosis r (provider established) and
 * the provider's profile p. state: an account state name for the user's run, or NULL.
 * Returns 0, or -1 with err (no provider, no account in the profile). */
int repro_plan_make(const diag_settings *s, const diag_report *r, const profile *p, const char *state,
                    repro_plan *out, char *err, size_t errlen);

/* Write the scenario for server id of the plan (fixed: the corrected settings) into buf.
 * sets: profile overrides for `set` lines. adapter: a client adapter name (server role,
 * `serve` + `client`), or NULL for mailrig's own client role. Returns the length, or -1 when
 * it does not fit or the server is not runnable. */
int repro_scenario(const repro_plan *pl, bool fixed, diag_server_id id, const profile *p,
                   const char *const *sets, size_t nsets, const char *adapter, char *buf, size_t cap);

/* One line describing a server's conversation settings ("imap.mail.me.com:993 implicit TLS,
 * user \"emilyparker\", app-specific password, normal password"). */
void repro_describe(const repro_server *sv, char *buf, size_t cap);

#endif
