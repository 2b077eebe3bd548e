/* sasl_server.h -- the server side of one SASL exchange, shared by the SMTP, POP3 (and IMAP)
 * sessions: which challenge comes next and when the credentials are complete.
 *
 * The protocol session owns the wire: it frames and decodes each client message
 * (sasl_payload_decode), sends each challenge with its own reply template, redacts what it
 * reports (sasl_redact with sasl_exchange.smech and .step) and hands the credentials to
 * profile_auth_check. This module only knows the mechanisms' messages (proto/sasl.h,
 * proto/sasl_oauth.h): PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, and "one opaque
 * message, never a login" for NTLM, GSSAPI and ATOKEN when a profile offers them.
 *
 * Memory: an exchange is about 450 bytes, allocated by the session only while it runs.
 * Nothing here is secret-free: clear the struct (sasl_exchange_clear) when done.
 */
#ifndef MAILRIG_SERVERS_SASL_SERVER_H
#define MAILRIG_SERVERS_SASL_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mr.h"
#include "proto/sasl.h"

typedef struct sasl_exchange {
    int mech;                /* profile_mech, or -1 */
    sasl_mech smech;         /* for sasl_redact */
    char mech_name[24];      /* as the client wrote it, one printable word */
    unsigned step;           /* client messages taken so far (sasl_redact's step) */
    uint8_t have_user;       /* LOGIN: the user name has come */
    char user[256];          /* LOGIN: the user name; OAUTHBEARER: the decoded authzid */
    size_t user_len;
    char challenge[128];     /* CRAM-MD5: the challenge, as sent (decoded) */
    size_t challenge_len;
} sasl_exchange;

/* What the session does next. */
typedef enum sasl_step {
    SASL_STEP_CHALLENGE, /* send the challenge (challenge_b64, prompt) and read a response */
    SASL_STEP_DONE,      /* credentials complete: user/secret are set */
    SASL_STEP_BAD,       /* the message is not valid for the mechanism: bad-blob */
} sasl_step;

/* LOGIN's two prompts have their own reply templates in SMTP. */
typedef enum sasl_prompt {
    SASL_PROMPT_NONE,     /* an ordinary challenge */
    SASL_PROMPT_USERNAME, /* LOGIN: "Username:" (challenge_b64 is its base64) */
    SASL_PROMPT_PASSWORD, /* LOGIN: "Password:" */
} sasl_prompt;

typedef struct sasl_result {
    sasl_step step;
    sasl_prompt prompt;
    char challenge_b64[200]; /* base64 of the challenge ("" for an empty one) */
    mr_slice user;           /* DONE: the identity (may be empty) */
    mr_slice secret;         /* DONE: password, token or CRAM-MD5 digest (may be empty) */
} sasl_result;

/* Begin an exchange for mechanism name (as on the AUTH line) with profile mechanism pm. */
void sasl_exchange_init(sasl_exchange *x, mr_slice name, int pm);

/* Wipe x. */
void sasl_exchange_clear(sasl_exchange *x);

/* The first challenge, for an AUTH without an initial response. host and rnd make the
 * CRAM-MD5 challenge "<rnd.time@host>" (RFC 2195). Always SASL_STEP_CHALLENGE. */
void sasl_exchange_first(sasl_exchange *x, const char *host, uint64_t rnd, int64_t time_s,
                         sasl_result *out);

/* Whether the mechanism may take an initial response at all (CRAM-MD5 may not: the server
 * speaks first, RFC 4954 4 / RFC 5034 4). */
int sasl_exchange_takes_ir(const sasl_exchange *x);

/* One decoded client message msg[0..n) (n == 0: an empty message). Slices in out point into
 * msg or into x, valid until the next call or sasl_exchange_clear. */
void sasl_exchange_message(sasl_exchange *x, const char *msg, size_t n, sasl_result *out);

#endif
