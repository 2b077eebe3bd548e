/* events.h -- the names of transcript events, shared by everything that writes or reads them.
 *
 * An event is a transcript record `<t> conn <id> event <name> [key=value ...]`. The carrier
 * (loop.c) and the protocol sessions write them; the client-behaviour checks, the reports and
 * `diagnose` read them. Values are single words (no spaces); user names are not secrets and
 * may appear, passwords and tokens never do.
 */
#ifndef MAILRIG_SERVERS_EVENTS_H
#define MAILRIG_SERVERS_EVENTS_H

/* ---- written by the carrier (loop.c) ------------------------------------------------------- */

/* The client opened with a TLS ClientHello on a plaintext (STARTTLS or plain) port. */
#define EV_TLS_ON_STARTTLS_PORT "tls-handshake-on-starttls-port"
#define EV_TLS_ON_PLAIN_PORT "tls-handshake-on-plaintext-port"
/* The client sent plaintext on an implicit-TLS port. answer=close|alert|silence */
#define EV_PLAINTEXT_ON_TLS_PORT "plaintext-on-implicit-tls-port"
/* Bytes the client pipelined after STARTTLS, before the handshake. bytes=N */
#define EV_STARTTLS_DISCARDED "starttls-discarded-plaintext"
#define EV_STARTTLS_KEPT "starttls-plaintext-kept"         /* vulnerable profile */
#define EV_STARTTLS_ACCEPTED "starttls-plaintext-accepted" /* ... and then used */
/* Written by the scenario interpreter in the client role: the server sent plaintext after its
 * STARTTLS reply, before the handshake (response injection, CVE-2021-22947). bytes=N */
#define EV_STARTTLS_INJECTED "starttls-injected-plaintext"
#define EV_SILENT_PORT "silent-port"
#define EV_NO_CLIENT_HELLO "no-client-hello"
#define EV_IDLE_TIMEOUT "idle-timeout"
/* The session asked to hold its next replies (auth_delay_ms before an authentication failure
 * reply); input is not read meanwhile. ms=N */
#define EV_REPLY_DELAYED "reply-delayed"

/* ---- written by the protocol sessions ------------------------------------------------------- */

/* Every authentication attempt ends in one event named after its outcome
 * (profile_auth_outcome_name: "ok", "wrong-username-form", "bad-password", ...), prefixed
 * "auth-": e.g. `auth-wrong-username-form mech=LOGIN user=emily@icloud.com form=full
 * expected=local tls=1 attempt=2`. Keys: mech (LOGIN for IMAP LOGIN, USER for POP3 USER/PASS,
 * else the SASL mechanism), user, form (local|full, when the account was found), expected
 * (the documented form), tls (0|1), attempt (1, 2, ... on this connection). */
#define EV_AUTH_PREFIX "auth-"

/* A password or token was sent on a connection without TLS. mech=... (the attempt's mech) */
#define EV_CREDENTIALS_BEFORE_TLS "credentials-before-tls"

/* The client used a SASL mechanism the server did not advertise at that moment. mech=... */
#define EV_MECH_NOT_OFFERED "mech-not-offered"

/* A command the strict parser rejects (the session then answers per the lenient parser).
 * rule=<ABNF rule> code=<mr_errcode word> offset=N */
#define EV_STRICT_VIOLATION "strict-violation"

/* A command line over the protocol's limit. limit=N */
#define EV_LINE_TOO_LONG "line-too-long"

/* The client sent a command only valid after STARTTLS, or kept talking in plaintext after
 * the server required TLS for it. command=... */
#define EV_NEEDS_TLS "command-needs-tls"

#endif
