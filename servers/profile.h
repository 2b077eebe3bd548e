/* profile.h -- provider profiles: what makes a mock server behave like iCloud, Exchange Online
 * or a standards-clean host.
 *
 * A profile is an INI file (profiles/NAME.ini, format in profiles/README.md) loaded once into
 * a plain struct with typed fields. The session state machines read fields, never strings by
 * name, and contain no provider wording: every reply a session sends is a template here
 * (template.h), every behaviour switch is a field, and the two decisions that depend on the
 * provider's account model -- what is advertised now (profile_offer_now) and whether a login
 * succeeds and with which reply (profile_auth_gate / profile_auth_check) -- are made here so
 * that every session takes them the same way.
 *
 * Lifetime and ownership: profile_load*() returns a profile that owns everything it points
 * to (one arena); it is immutable and may be shared by every session of a server run.
 * profile_free() releases it. Nothing here does I/O after loading, keeps global state, or
 * allocates per connection.
 *
 * Errors: loading never stops at the first problem. Every problem is reported in a
 * profile_diag as "FILE:LINE: message" (or "--set SECTION.KEY=VALUE: message"), and the load
 * returns NULL when there was at least one.
 *
 * Memory bound: a profile file is at most PROFILE_MAX_FILE bytes and a loaded profile at most
 * PROFILE_MAX_ARENA bytes; counts of listeners, accounts and folders are capped below.
 *
 * A session, in outline (IMAP on listener l; the other protocols alike):
 *     template_conn conn;                                  once per connection
 *     profile_conn_init(p, l, seed, conn_id, peer_ip, now_ms, &conn);
 *     template_vars v = {.conn = &conn};
 *     profile_offer o = profile_offer_now(p, PROFILE_IMAP, l, tls_on);     again after STARTTLS
 *     profile_caps_join(PROFILE_IMAP, &p->imap.s.caps, &o, &v, " ", caps, sizeof caps);
 *     v.v[TPL_CAPS] = caps;
 *     template_expand(profile_listener_greeting(p, l), &v, line, sizeof line);   + CRLF
 *   on LOGIN (AUTHENTICATE: PROFILE_VIA_SASL and the mechanism, before any challenge):
 *     profile_auth_outcome g = profile_auth_gate(p, PROFILE_IMAP, l, tls_on, PROFILE_VIA_LOGIN, 0);
 *     profile_auth_result r = g == PROFILE_AUTH_OK ? profile_auth_check(p, PROFILE_IMAP, &cred, failures)
 *                                                  : profile_auth_refusal(p, PROFILE_IMAP, PROFILE_VIA_LOGIN, g, failures);
 *     log the event profile_auth_outcome_name(r.outcome); wait r.delay_ms; send r.reply (or
 *     ok_login when it is NULL), then r.bye when set; close when r.close.
 */
#ifndef MAILRIG_SERVERS_PROFILE_H
#define MAILRIG_SERVERS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "servers/template.h"

enum {
    PROFILE_MAX_FILE = 256 * 1024,
    PROFILE_MAX_ARENA = 4 * 1024 * 1024,
    PROFILE_MAX_LISTENERS = 32,
    PROFILE_MAX_ACCOUNTS = 64,
    PROFILE_MAX_FOLDERS = 128,
    PROFILE_MAX_LIST = 64,     /* items in one list value (aliases, flags, capabilities...) */
    PROFILE_DIAG_MAX = 100,    /* messages kept in a profile_diag; the rest are counted */
};

/* ---- enumerations (names in comments are what the INI file says) --------------------- */

typedef enum profile_proto { PROFILE_IMAP, PROFILE_SMTP, PROFILE_POP3, PROFILE_PROTO_COUNT } profile_proto;

typedef enum profile_mode {
    PROFILE_MODE_IMPLICIT_TLS, /* implicit-tls  TLS handshake first (993, 995, 465) */
    PROFILE_MODE_STARTTLS,     /* starttls      plaintext greeting; STARTTLS / STLS upgrades */
    PROFILE_MODE_PLAIN,        /* plain         plaintext only, no upgrade offered */
    PROFILE_MODE_CLOSED,       /* closed        nothing listens: connection refused */
    PROFILE_MODE_SILENT,       /* silent        accepts, never sends a byte (a firewall drop) */
} profile_mode;

typedef enum profile_cert {
    PROFILE_CERT_NORMAL,     /* normal      valid chain from the test CA, right names */
    PROFILE_CERT_WRONG_HOST, /* wrong-host  valid chain, SAN of another name only */
    PROFILE_CERT_UNTRUSTED,  /* untrusted   right names, signed by the untrusted CA */
    PROFILE_CERT_EXPIRED,    /* expired     right names and chain, not valid any more */
} profile_cert;

/* What an implicit-TLS listener does when the first bytes are not a TLS ClientHello. */
typedef enum profile_on_plaintext {
    PROFILE_PLAINTEXT_CLOSE,   /* close    close the connection at once */
    PROFILE_PLAINTEXT_ALERT,   /* alert    send a TLS alert record, then close (OpenSSL's way) */
    PROFILE_PLAINTEXT_SILENCE, /* silence  keep waiting for a handshake until the idle timeout */
} profile_on_plaintext;

/* What a starttls or plain listener does when the client opens with a TLS ClientHello
 * (the greeting has already gone out in clear). */
typedef enum profile_on_hello {
    PROFILE_HELLO_REPLY,   /* reply    treat the bytes as a bad command line: the protocol's error reply */
    PROFILE_HELLO_CLOSE,   /* close    close the connection */
    PROFILE_HELLO_SILENCE, /* silence  ignore the bytes; wait for a command until the idle timeout */
} profile_on_hello;

/* When IMAP LOGIN / POP3 USER+PASS (plaintext password commands) are accepted. */
typedef enum profile_login {
    PROFILE_LOGIN_ALWAYS, /* always  also on a plaintext connection */
    PROFILE_LOGIN_TLS,    /* tls     only under TLS (IMAP advertises LOGINDISABLED before) */
    PROFILE_LOGIN_NEVER,  /* never   never (SASL only) */
} profile_login;

/* The form of user name a client typed. */
typedef enum profile_uform {
    PROFILE_UFORM_LOCAL, /* local  the part before '@' (iCloud IMAP: "emilyparker") */
    PROFILE_UFORM_FULL,  /* full   the address or one of its aliases ("emilyparker@icloud.com") */
    PROFILE_UFORM_COUNT
} profile_uform;

/* Kinds of password an account has; `password =` in a protocol section says which work. */
enum {
    PROFILE_PW_ACCOUNT = 1, /* account  the account (Apple ID / Microsoft 365) password */
    PROFILE_PW_APP = 2,     /* app      an app-specific password */
};

typedef enum profile_mech {
    PROFILE_MECH_PLAIN,
    PROFILE_MECH_LOGIN,
    PROFILE_MECH_CRAM_MD5,
    PROFILE_MECH_XOAUTH2,
    PROFILE_MECH_OAUTHBEARER,
    PROFILE_MECH_NTLM,     /* advertised by on-premises Exchange; never succeeds here */
    PROFILE_MECH_GSSAPI,   /* ditto */
    PROFILE_MECH_ATOKEN,   /* iCloud's own token mechanism; never succeeds here */
    PROFILE_MECH_COUNT
} profile_mech;

/* Account states (bits; 0 is "ok"). Names: ok, imap-disabled, pop-disabled,
 * protocols-disabled (= imap-disabled + pop-disabled), smtp-auth-disabled, basic-auth-disabled,
 * not-signed-in. PROVIDERS.md section 5 maps each to provider replies. */
enum {
    PROFILE_STATE_IMAP_DISABLED = 1,       /* IMAP turned off for the mailbox */
    PROFILE_STATE_POP_DISABLED = 2,        /* POP turned off for the mailbox */
    PROFILE_STATE_SMTP_AUTH_DISABLED = 4,  /* SMTP AUTH off (Exchange: tenant or mailbox setting) */
    PROFILE_STATE_BASIC_AUTH_DISABLED = 8, /* passwords refused; only XOAUTH2/OAUTHBEARER work */
    PROFILE_STATE_NOT_SIGNED_IN = 16,      /* never signed in to the web app / not provisioned */
};

/* When SMTP checks that the sender is the authenticated account's address or alias. */
typedef enum profile_sender_check {
    PROFILE_SENDER_NONE, /* none  never */
    PROFILE_SENDER_MAIL, /* mail  at MAIL FROM (reply sender_denied to MAIL) */
    PROFILE_SENDER_DATA, /* data  after the message (reply sender_denied instead of data_ok) */
} profile_sender_check;

/* ---- value types ------------------------------------------------------------------------ */

/* A list of strings, in file order. */
typedef struct profile_strs {
    const char *const *v;
    size_t n;
} profile_strs;

/* SASL mechanisms, in the order they are advertised. */
typedef struct profile_mechs {
    uint8_t n;
    uint8_t v[PROFILE_MECH_COUNT]; /* profile_mech values, no duplicates */
} profile_mechs;

/* Accepted user name forms; v[0] is the documented one (what `serve` prints). */
typedef struct profile_uforms {
    uint8_t n;
    uint8_t v[PROFILE_UFORM_COUNT]; /* profile_uform values, no duplicates */
} profile_uforms;

/* One item of a capability list. Markers are computed from the connection's state
 * (profile_offer): written where the profile puts them, left out when they do not apply. */
typedef enum profile_cap_kind {
    PROFILE_CAP_TEXT,     /* literal text (a template: "SIZE {size_limit}") */
    PROFILE_CAP_AUTH,     /* {auth} / {sasl}: IMAP "AUTH=PLAIN AUTH=XOAUTH2", SMTP "AUTH LOGIN
                           * XOAUTH2", POP3 "SASL PLAIN XOAUTH2"; omitted with no mechanisms */
    PROFILE_CAP_STARTTLS, /* {starttls} / {stls}: "STARTTLS" or "STLS" while an upgrade is offered */
    PROFILE_CAP_LOGIN,    /* IMAP {logindisabled}: "LOGINDISABLED" while LOGIN is refused;
                           * POP3 {user}: "USER" while USER/PASS is accepted */
} profile_cap_kind;

typedef struct profile_cap {
    profile_cap_kind kind;
    const template *text; /* PROFILE_CAP_TEXT only; connection-scope placeholders only */
} profile_cap;

typedef struct profile_caps {
    const profile_cap *v;
    size_t n;
} profile_caps;

/* ---- reply templates ---------------------------------------------------------------------
 * X(field, kind, fallback, context placeholders, meaning). kind is REQ (required when the
 * protocol is enabled), OPT (may be unset: NULL, nothing is sent) or FB (unset means: use the
 * template of `fallback`; after loading the field is never NULL when its fallback is not).
 * Every template is one line without CRLF; the session adds the line end. The placeholders
 * listed are the context ones the session must supply (template.h); connection-scope ones
 * ({be}, {date}, {hex16}...) work everywhere. When the protocol is enabled, REQ and FB fields
 * are never NULL and OPT fields may be; when it is disabled, any field may be NULL. */

#define PV_TAG (TPL_BIT(TPL_TAG) | TPL_BIT(TPL_COMMAND))
#define PV_OK (PV_TAG | TPL_BIT(TPL_USER) | TPL_BIT(TPL_CAPS) | TPL_BIT(TPL_TOOK_MS))
#define PV_AUTH (PV_TAG | TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH))
#define PV_CMD (TPL_BIT(TPL_COMMAND) | TPL_BIT(TPL_TEXT))

#define PROFILE_IMAP_OK_COMMANDS(M, X) \
    M(X, capability) M(X, noop) M(X, logout) M(X, starttls) M(X, login) M(X, authenticate)   \
    M(X, id) M(X, enable) M(X, namespace) M(X, list) M(X, lsub) M(X, status) M(X, select)    \
    M(X, examine) M(X, create) M(X, delete) M(X, rename) M(X, subscribe) M(X, unsubscribe)   \
    M(X, append) M(X, check) M(X, close) M(X, expunge) M(X, search) M(X, fetch) M(X, store)  \
    M(X, copy) M(X, move) M(X, idle) M(X, unselect)

#define PROFILE_IMAP_OK_X_(X, cmd) X(ok_##cmd, FB, "ok", PV_OK, "tagged OK of " #cmd)

#define PROFILE_IMAP_REPLIES(X) \
    X(greeting, REQ, NULL, TPL_BIT(TPL_CAPS), "untagged greeting on connect: * OK ...; {caps} is the pre-auth list") \
    X(ok, REQ, NULL, PV_OK, "tagged OK of a completed command when no ok_<command> is set") \
    PROFILE_IMAP_OK_COMMANDS(PROFILE_IMAP_OK_X_, X) \
    X(bad_command, REQ, NULL, PV_TAG | TPL_BIT(TPL_TEXT), "unknown command or unparsable line ({tag} is * when there was none); {text} says what was wrong") \
    X(bad_syntax, FB, "bad_command", PV_TAG | TPL_BIT(TPL_TEXT), "a known command with bad arguments") \
    X(bad_state, FB, "bad_command", PV_TAG | TPL_BIT(TPL_TEXT), "a command not valid in this state (SELECT before LOGIN, LOGIN after it)") \
    X(line_too_long, REQ, NULL, 0, "untagged reply to a line longer than max_line; the connection closes after it") \
    X(literal_too_big, FB, "bad_command", PV_TAG | TPL_BIT(TPL_TEXT) | TPL_BIT(TPL_SIZE), "a literal over max_literal ({size} is its announced size)") \
    X(continue_literal, REQ, NULL, 0, "continuation request for a synchronizing literal") \
    X(continue_idle, REQ, NULL, 0, "continuation request answering IDLE") \
    X(auth_continue, REQ, NULL, TPL_BIT(TPL_TEXT), "AUTHENTICATE continuation; {text} is the base64 challenge (empty for PLAIN and XOAUTH2)") \
    X(auth_failed, REQ, NULL, PV_AUTH, "LOGIN/AUTHENTICATE refused: unknown user, bad password or token, wrong user name form or password kind") \
    X(auth_basic_disabled, FB, "auth_failed", PV_AUTH, "password login to an account in state basic-auth-disabled") \
    X(auth_protocol_disabled, FB, "auth_failed", PV_AUTH, "login to an account in state imap-disabled") \
    X(auth_mech_unsupported, FB, "auth_failed", PV_AUTH, "AUTHENTICATE with a mechanism not offered now (NTLM at Exchange Online)") \
    X(auth_bad_blob, FB, "auth_failed", PV_AUTH, "an AUTHENTICATE response that is not valid base64 or SASL") \
    X(auth_cancelled, REQ, NULL, PV_TAG, "the client cancelled AUTHENTICATE with '*'") \
    X(auth_failure_bye, OPT, NULL, 0, "untagged BYE before closing after an auth failure; unset: close without one") \
    X(auth_basic_disabled_bye, OPT, NULL, 0, "when set, sent after auth_basic_disabled and the connection closes") \
    X(login_disabled, REQ, NULL, PV_TAG, "LOGIN while it is refused (login = tls before STARTTLS, or never)") \
    X(starttls_unavailable, FB, "bad_state", PV_TAG | TPL_BIT(TPL_TEXT), "STARTTLS when no upgrade is offered (implicit TLS, plain port, TLS already on)") \
    X(not_connected, REQ, NULL, PV_TAG, "a mailbox command in a session that is authenticated but not connected (state not-signed-in)") \
    X(not_connected_bye, REQ, NULL, 0, "untagged BYE after not_connected_limit not_connected replies; then close") \
    X(logout_bye, REQ, NULL, 0, "untagged BYE answering LOGOUT, before its tagged OK") \
    X(idle_bye, REQ, NULL, 0, "untagged BYE when idle_timeout expires; then close") \
    X(too_many_connections, REQ, NULL, 0, "sent instead of the greeting when the client address has max_connections open; then close") \
    X(id_reply, REQ, NULL, 0, "the argument of the untagged ID reply: NIL or a parenthesised list") \
    X(namespace, REQ, NULL, 0, "the arguments of the untagged NAMESPACE reply") \
    X(select_unseen, REQ, NULL, TPL_BIT(TPL_N), "untagged OK [UNSEEN n] line of SELECT/EXAMINE") \
    X(select_uidvalidity, REQ, NULL, TPL_BIT(TPL_N), "untagged OK [UIDVALIDITY n] line") \
    X(select_uidnext, REQ, NULL, TPL_BIT(TPL_N), "untagged OK [UIDNEXT n] line") \
    X(select_permanentflags, REQ, NULL, TPL_BIT(TPL_TEXT), "untagged OK [PERMANENTFLAGS (...)] line; {text} is the flag list without parentheses") \
    X(no_mailbox, REQ, NULL, PV_TAG | TPL_BIT(TPL_MAILBOX), "a mailbox that does not exist") \
    X(no_mailbox_create, FB, "no_mailbox", PV_TAG | TPL_BIT(TPL_MAILBOX), "APPEND, COPY or MOVE to a mailbox that does not exist (RFC 3501: [TRYCREATE])") \
    X(mailbox_exists, REQ, NULL, PV_TAG | TPL_BIT(TPL_MAILBOX), "CREATE or RENAME to a mailbox that exists") \
    X(op_failed, REQ, NULL, PV_TAG | TPL_BIT(TPL_TEXT), "any other NO: a store operation failed; {text} says why")

#define PROFILE_SMTP_REPLIES(X) \
    X(greeting, REQ, NULL, 0, "220 banner on connect") \
    X(ehlo_hello, REQ, NULL, TPL_BIT(TPL_TEXT), "first EHLO line after '250-' (no code); {text} is the client's EHLO argument") \
    X(helo, REQ, NULL, TPL_BIT(TPL_TEXT), "reply to HELO; {text} is its argument") \
    X(starttls_ok, REQ, NULL, 0, "220 answering STARTTLS") \
    X(starttls_unavailable, REQ, NULL, 0, "STARTTLS when no upgrade is offered") \
    X(need_hello, REQ, NULL, TPL_BIT(TPL_COMMAND), "a command before EHLO/HELO (also after STARTTLS)") \
    X(unknown_command, REQ, NULL, PV_CMD, "an unknown command; {text} is the line as received (truncated)") \
    X(syntax_error, REQ, NULL, PV_CMD, "a known command with bad arguments") \
    X(bad_sequence, REQ, NULL, TPL_BIT(TPL_COMMAND), "a command out of order (RCPT before MAIL, MAIL twice)") \
    X(auth_required, REQ, NULL, TPL_BIT(TPL_COMMAND), "MAIL/RCPT/DATA/BDAT without AUTH on a listener that takes AUTH") \
    X(auth_continue, REQ, NULL, TPL_BIT(TPL_TEXT), "AUTH continuation; {text} is the base64 challenge (empty for PLAIN and XOAUTH2)") \
    X(auth_login_user, REQ, NULL, 0, "AUTH LOGIN's user name prompt") \
    X(auth_login_pass, REQ, NULL, 0, "AUTH LOGIN's password prompt") \
    X(auth_ok, REQ, NULL, TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH), "AUTH succeeded") \
    X(auth_failed, REQ, NULL, TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH), "AUTH refused: unknown user, bad password or token, wrong form or kind") \
    X(auth_basic_disabled, FB, "auth_failed", TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH), "password AUTH for an account in state basic-auth-disabled") \
    X(auth_smtp_disabled, FB, "auth_failed", TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH), "AUTH for an account in state smtp-auth-disabled") \
    X(auth_mech_unsupported, REQ, NULL, TPL_BIT(TPL_MECH), "AUTH with a mechanism never offered") \
    X(auth_needs_tls, FB, "auth_mech_unsupported", TPL_BIT(TPL_MECH), "AUTH with a mechanism offered only after STARTTLS") \
    X(auth_not_offered, FB, "auth_mech_unsupported", TPL_BIT(TPL_MECH), "AUTH on a listener that takes none (port 25)") \
    X(auth_already, REQ, NULL, 0, "AUTH after a successful AUTH") \
    X(auth_cancelled, REQ, NULL, 0, "the client cancelled AUTH with '*'") \
    X(auth_bad_blob, FB, "auth_failed", TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH), "an AUTH response that is not valid base64 or SASL") \
    X(mail_ok, REQ, NULL, TPL_BIT(TPL_FROM), "MAIL FROM accepted") \
    X(rcpt_ok, REQ, NULL, TPL_BIT(TPL_TO), "RCPT TO accepted") \
    X(rcpt_unknown, REQ, NULL, TPL_BIT(TPL_TO), "RCPT TO a local address with no account") \
    X(relay_denied, REQ, NULL, TPL_BIT(TPL_TO), "RCPT TO a foreign address without AUTH (port 25)") \
    X(sender_denied, REQ, NULL, TPL_BIT(TPL_FROM) | TPL_BIT(TPL_USER) | TPL_BIT(TPL_EMAIL), "sender not the account's address or alias (see sender_check)") \
    X(data_start, REQ, NULL, 0, "354 answering DATA") \
    X(data_ok, REQ, NULL, TPL_BIT(TPL_SIZE), "message accepted after DATA") \
    X(bdat_ok, REQ, NULL, TPL_BIT(TPL_SIZE), "a BDAT chunk accepted ({size} octets)") \
    X(delivery_failed, REQ, NULL, TPL_BIT(TPL_SIZE), "a message the store could not take (disk full, quota); a 4xx reply") \
    X(size_exceeded, REQ, NULL, TPL_BIT(TPL_SIZE), "message or SIZE= over size_limit") \
    X(too_many_rcpts, REQ, NULL, 0, "RCPT beyond max_recipients") \
    X(no_valid_rcpts, REQ, NULL, 0, "DATA/BDAT with no accepted recipient") \
    X(rset_ok, REQ, NULL, 0, "RSET") \
    X(noop_ok, REQ, NULL, 0, "NOOP") \
    X(quit, REQ, NULL, 0, "221 answering QUIT") \
    X(vrfy, REQ, NULL, 0, "VRFY (never verifies)") \
    X(line_too_long, REQ, NULL, 0, "a command line over max_line") \
    X(too_many_connections, REQ, NULL, 0, "sent instead of the banner at max_connections; then close") \
    X(timed_out, REQ, NULL, 0, "421 when idle_timeout expires; then close") \
    X(too_many_errors, REQ, NULL, 0, "421 after max_errors bad commands or max_auth_failures; then close")

#define PROFILE_POP3_REPLIES(X) \
    X(greeting, REQ, NULL, 0, "+OK greeting on connect") \
    X(ok, REQ, NULL, TPL_BIT(TPL_COMMAND), "plain +OK status line where no specific reply is set") \
    X(capa_ok, FB, "ok", TPL_BIT(TPL_COMMAND), "status line before the CAPA list") \
    X(stls_ok, REQ, NULL, 0, "+OK answering STLS") \
    X(stls_unavailable, REQ, NULL, 0, "STLS when no upgrade is offered") \
    X(user_ok, FB, "ok", TPL_BIT(TPL_COMMAND) | TPL_BIT(TPL_USER), "USER accepted (always, whatever the name)") \
    X(pass_ok, FB, "ok", TPL_BIT(TPL_COMMAND) | TPL_BIT(TPL_USER) | TPL_BIT(TPL_N) | TPL_BIT(TPL_SIZE), "PASS accepted; {n} messages of {size} octets") \
    X(auth_ok, FB, "ok", TPL_BIT(TPL_COMMAND) | TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH), "AUTH succeeded") \
    X(auth_continue, REQ, NULL, TPL_BIT(TPL_TEXT), "AUTH continuation; {text} is the base64 challenge (empty for PLAIN and XOAUTH2)") \
    X(auth_failed, REQ, NULL, TPL_BIT(TPL_USER), "USER/PASS refused: unknown user, bad password, wrong form or kind") \
    X(auth_sasl_failed, FB, "auth_failed", TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH), "AUTH refused (same causes)") \
    X(auth_basic_disabled, FB, "auth_failed", TPL_BIT(TPL_USER), "password login for an account in state basic-auth-disabled") \
    X(auth_protocol_disabled, FB, "auth_failed", TPL_BIT(TPL_USER), "login to an account in state pop-disabled") \
    X(auth_mech_unsupported, FB, "auth_sasl_failed", TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH), "AUTH with a mechanism not offered now") \
    X(auth_bad_blob, FB, "auth_sasl_failed", TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH), "an AUTH response that is not valid base64 or SASL") \
    X(auth_cancelled, REQ, NULL, 0, "the client cancelled AUTH with '*'") \
    X(auth_ir_refused, FB, "auth_sasl_failed", TPL_BIT(TPL_USER) | TPL_BIT(TPL_MECH), "AUTH with an initial response when sasl_ir = no") \
    X(in_use, REQ, NULL, TPL_BIT(TPL_USER), "a login while another session holds the account's maildrop (RFC 2449 [IN-USE]); the session stays unauthenticated") \
    X(login_disabled, REQ, NULL, TPL_BIT(TPL_COMMAND), "USER/PASS while refused (login = tls before STLS, or never)") \
    X(unknown_command, REQ, NULL, PV_CMD, "an unknown command; {text} is the line as received (truncated)") \
    X(bad_state, FB, "unknown_command", PV_CMD, "a command not valid in this state") \
    X(syntax_error, FB, "unknown_command", PV_CMD, "a known command with bad arguments") \
    X(no_such_message, REQ, NULL, TPL_BIT(TPL_COMMAND) | TPL_BIT(TPL_N), "a message number that does not exist or is deleted") \
    X(list_ok, FB, "ok", TPL_BIT(TPL_COMMAND) | TPL_BIT(TPL_N) | TPL_BIT(TPL_SIZE), "status line before a LIST listing ({n} messages, {size} octets)") \
    X(retr_ok, FB, "ok", TPL_BIT(TPL_COMMAND) | TPL_BIT(TPL_N) | TPL_BIT(TPL_SIZE), "status line before RETR data ({size} octets)") \
    X(top_ok, FB, "retr_ok", TPL_BIT(TPL_COMMAND) | TPL_BIT(TPL_N) | TPL_BIT(TPL_SIZE), "status line before TOP data") \
    X(dele_ok, FB, "ok", TPL_BIT(TPL_COMMAND) | TPL_BIT(TPL_N), "DELE") \
    X(uidl_ok, FB, "ok", TPL_BIT(TPL_COMMAND), "status line before a UIDL listing") \
    X(rset_ok, FB, "ok", TPL_BIT(TPL_COMMAND) | TPL_BIT(TPL_N) | TPL_BIT(TPL_SIZE), "RSET") \
    X(noop_ok, FB, "ok", TPL_BIT(TPL_COMMAND), "NOOP") \
    X(quit_ok, REQ, NULL, 0, "+OK answering QUIT") \
    X(line_too_long, REQ, NULL, 0, "a command line over max_line; then close") \
    X(too_many_connections, REQ, NULL, 0, "sent instead of the greeting at max_connections; then close") \
    X(timed_out, OPT, NULL, 0, "sent when idle_timeout expires, before closing; unset: close silently")

#define PROFILE_TPL_FIELD_(field, kind, fallback, vars, doc) const template *field;

typedef struct profile_imap_replies {
    PROFILE_IMAP_REPLIES(PROFILE_TPL_FIELD_)
} profile_imap_replies;

typedef struct profile_smtp_replies {
    PROFILE_SMTP_REPLIES(PROFILE_TPL_FIELD_)
} profile_smtp_replies;

typedef struct profile_pop3_replies {
    PROFILE_POP3_REPLIES(PROFILE_TPL_FIELD_)
} profile_pop3_replies;

/* ---- sections ----------------------------------------------------------------------------- */

/* What [imap], [smtp] and [pop3] have in common. The first member of each protocol struct. */
typedef struct profile_service {
    bool enabled;                   /* enabled: the provider offers this protocol */
    const char *host;               /* [profile] imap_host / smtp_host / pop3_host */
    const char *backend;            /* backend: {be} pattern ([profile] backend when unset) */
    const char *backend_domain;     /* backend_domain: {fqdn} domain pattern (ditto) */
    profile_uforms username;        /* username: accepted user name forms, documented first */
    unsigned passwords;             /* password: PROFILE_PW_* that log in */
    profile_mechs mechs_plain;      /* mechs_plain: offered on a plaintext connection */
    profile_mechs mechs_tls;        /* mechs_tls: offered under TLS */
    profile_login login;            /* login: IMAP LOGIN / POP3 USER+PASS (SMTP: never) */
    bool close_after_auth_failure;  /* close_after_auth_failure: close after the first failure */
    unsigned max_auth_failures;     /* max_auth_failures: failures before closing; 0 = no limit */
    unsigned max_line;              /* max_line: command line limit in octets, without CRLF */
    unsigned max_auth_line;         /* max_auth_line: limit for SASL response lines */
    unsigned idle_timeout;          /* idle_timeout: seconds; 0 = none */
    unsigned max_connections;       /* max_connections: per client address; 0 = no limit */
    unsigned auth_delay_ms;         /* auth_delay_ms: wait before an auth failure reply */
    profile_caps caps;              /* IMAP caps (pre-auth), SMTP ehlo, POP3 capa */
} profile_service;

typedef struct profile_imap {
    profile_service s;
    profile_caps caps_auth;         /* caps_auth: CAPABILITY after authentication */
    char delimiter;                 /* delimiter: hierarchy delimiter */
    unsigned max_literal;           /* max_literal: largest literal (APPEND) in octets */
    unsigned not_connected_limit;   /* not_connected_limit: not_connected replies before BYE */
    profile_imap_replies r;
} profile_imap;

typedef struct profile_smtp {
    profile_service s;
    uint64_t size_limit;            /* size_limit: octets; advertised as {size_limit} */
    unsigned max_recipients;        /* max_recipients: per message */
    unsigned max_errors;            /* max_errors: bad commands before too_many_errors */
    profile_sender_check sender_check; /* sender_check */
    profile_smtp_replies r;
} profile_smtp;

typedef struct profile_pop3 {
    profile_service s;
    bool sasl_ir;                   /* sasl_ir: an initial response on the AUTH line is taken */
    profile_pop3_replies r;
} profile_pop3;

typedef struct profile_tls {
    unsigned min_version;           /* min_version: wire version, 0x0303 = TLS 1.2 */
    unsigned max_version;           /* max_version */
    bool starttls_vulnerable;       /* starttls_vulnerable: keep plaintext pipelined after
                                     * STARTTLS and treat it as sent under TLS (for testing
                                     * clients; the CVE-2011-0411 class). Default no: discard. */
} profile_tls;

/* [listener.PORT]: one provider port. */
typedef struct profile_listener {
    unsigned port;                  /* the provider's port (served at port_base + port) */
    profile_proto proto;            /* protocol */
    profile_mode mode;              /* mode */
    bool auth;                      /* auth: takes authentication / submission (port 25: no) */
    profile_cert cert;              /* cert */
    profile_on_plaintext plaintext; /* plaintext: implicit-tls only */
    profile_on_hello tls_hello;     /* tls_hello: starttls and plain only */
    const template *greeting;       /* greeting: overrides the protocol's; NULL = the protocol's */
    const char *host;               /* host: host name here (SNI, {host}); NULL = the protocol's */
    const char *description;        /* description: for people; may be NULL */
} profile_listener;

/* [account.NAME]: a test account. */
typedef struct profile_account {
    const char *name;               /* the NAME in [account.NAME] */
    const char *email;              /* email: the address */
    const char *local;              /* the part of email before '@' (derived) */
    profile_strs aliases;           /* aliases: more addresses that are the "full" form */
    const char *password;           /* password: the account password */
    const char *app_password;       /* app_password: NULL when the account has none */
    const char *oauth_token;        /* oauth_token: bearer token for XOAUTH2/OAUTHBEARER; may be NULL */
    unsigned state;                 /* state: PROFILE_STATE_* bits; 0 = ok */
} profile_account;

/* [folder.NAME]: a mailbox every account has, in LIST order. */
typedef struct profile_folder {
    const char *name;               /* the NAME in [folder.NAME], as LIST shows it */
    profile_strs flags;             /* flags: LIST attributes ("\Sent", "\HasNoChildren") */
    profile_strs messages;          /* messages: seed messages, profiles/messages/NAME.eml */
    bool subscribed;                /* subscribed: listed by LSUB */
} profile_folder;

typedef struct profile {
    const char *name;               /* [profile] name */
    const char *description;        /* description; may be NULL */
    const char *origin;             /* the file it was loaded from, or the caller's label */
    const char *backend;            /* backend: default {be} pattern */
    const char *backend_domain;     /* backend_domain: default {fqdn} domain pattern */
    profile_strs extra_hosts;       /* extra_hosts: more names for the certificate */
    profile_tls tls;
    profile_imap imap;
    profile_smtp smtp;
    profile_pop3 pop3;
    const profile_listener *listeners; /* in file order */
    size_t n_listeners;
    const profile_account *accounts;
    size_t n_accounts;
    const profile_folder *folders;
    size_t n_folders;
    struct arena *arena;            /* private: owns all of the above */
} profile;

/* ---- loading ------------------------------------------------------------------------------ */

/* Problems found while loading: messages "WHERE: what (why)", in the order found. */
typedef struct profile_diag {
    size_t n;                       /* messages kept in msg */
    size_t dropped;                 /* further messages not kept (over PROFILE_DIAG_MAX) */
    char *msg[PROFILE_DIAG_MAX];    /* malloc'd; free with profile_diag_free() */
} profile_diag;

/* Release the messages and reset d to empty. */
void profile_diag_free(profile_diag *d);

/* Print every message, one per line, then "... and N more" when some were dropped. */
void profile_diag_print(const profile_diag *d, FILE *f);

typedef struct profile_opts {
    const char *const *sets;        /* overrides "SECTION.KEY=VALUE", applied in order after the
                                     * file; SECTION may contain dots (listener.587, account.emily) */
    size_t n_sets;
    const char *data_dir;           /* where NAME is looked up; NULL = paths_data_dir() */
} profile_opts;

/* Load `--profile ARG`: a NAME ([a-z0-9_-]+) is DATA/profiles/NAME.ini; anything with a '/'
 * or ending in ".ini" is a path. opts may be NULL. Returns the profile, or NULL with every
 * problem in *d (d must be zero-initialised or freed; messages are appended). */
profile *profile_load(const char *arg, const profile_opts *opts, profile_diag *d);

/* Load the file at path (at most PROFILE_MAX_FILE bytes). As profile_load(). */
profile *profile_load_file(const char *path, const profile_opts *opts, profile_diag *d);

/* Load from memory: text[0..len) need not be NUL-terminated and may hold any bytes (a NUL
 * is an error). origin names the text in messages ("<fuzz>"). As profile_load(). */
profile *profile_load_string(const char *text, size_t len, const char *origin,
                             const profile_opts *opts, profile_diag *d);

/* Release a profile. NULL is allowed. */
void profile_free(profile *p);

/* The names of the profiles shipped in a data directory: every DATA/profiles/NAME.ini
 * (data_dir NULL: paths_data_dir()), without ".ini", sorted; at most max names (longer than
 * PROFILE_NAME_CAP - 1 bytes are left out). Returns the count, or -1 when the directory cannot
 * be read. */
enum { PROFILE_NAME_CAP = 64 };
int profile_names(const char *data_dir, char (*names)[PROFILE_NAME_CAP], size_t max);

/* Every shipped profile that loads (profile_names order); those that do not load are left
 * out -- `mailrig profile check` is where their errors are shown. */
enum { PROFILE_SET_MAX = 16 };
typedef struct profile_set {
    profile *p[PROFILE_SET_MAX];
    size_t n;
} profile_set;

/* Fill ps (data_dir as profile_names). Returns ps->n. */
size_t profile_set_load(profile_set *ps, const char *data_dir);

/* Free the profiles of ps and empty it. */
void profile_set_free(profile_set *ps);

/* Write p as INI that loads back to an equal profile (profile_equal): every setting, the
 * defaults included, templates as written; fallback templates left unset are omitted.
 * Returns 0, or -1 on a write error. */
int profile_write(const profile *p, FILE *f);

/* Whether a and b hold the same settings (origin and arena aside). When they differ and
 * what/cap are given, what names the first difference ("[imap] greeting"). */
bool profile_equal(const profile *a, const profile *b, char *what, size_t cap);

/* ---- the schema ------------------------------------------------------------------------------ */

/* One key of the format, for documentation and tooling (`profile_schema_key`). */
typedef struct profile_keyinfo {
    const char *section;            /* "profile", "imap", "listener", ... */
    const char *key;
    const char *type;               /* "bool", "template", "list of mechanisms", ... */
    const char *def;                /* default as the file would say it, or NULL */
    const char *fallback;           /* templates: the key that stands in when unset, or NULL */
    bool required;                  /* required (in [imap]/[smtp]/[pop3]: when enabled) */
    bool optional_reply;            /* a template that may stay unset (nothing is sent) */
    uint32_t vars;                  /* templates: context placeholders (TPL_BIT mask) */
    const char *const *values;      /* enums: the allowed values, NULL-terminated; else NULL */
    const char *doc;                /* one line */
} profile_keyinfo;

/* Key i of the whole format, in section order then file order; false past the last. Static
 * data: nothing to free. */
bool profile_schema_key(size_t i, profile_keyinfo *out);

/* ---- names --------------------------------------------------------------------------------- */

/* The INI names of enum values ("imap", "implicit-tls", "wrong-host", "XOAUTH2"...); "?" when
 * out of range. */
const char *profile_proto_name(profile_proto v);
const char *profile_mode_name(profile_mode v);
const char *profile_cert_name(profile_cert v);
const char *profile_uform_name(profile_uform v);
const char *profile_mech_name(profile_mech v);

/* The mechanism named name[0..n) (ASCII case ignored), or -1 when it is not one we know. */
int profile_mech_from_name(const char *name, size_t n);

/* Write the account state as the INI says it ("ok", "imap-disabled, not-signed-in"). Returns
 * the length (snprintf-style). */
int profile_state_format(unsigned state, char *buf, size_t cap);

/* ---- lookups ------------------------------------------------------------------------------- */

/* The service of a protocol (&p->imap.s, ...). */
const profile_service *profile_service_of(const profile *p, profile_proto proto);

/* The listener for a provider port, or NULL. */
const profile_listener *profile_listener_find(const profile *p, unsigned port);

/* The account named NAME ([account.NAME]), or NULL. */
const profile_account *profile_account_find(const profile *p, const char *name);

/* The account whose email or one of whose aliases is addr[0..n) (ASCII case ignored), or
 * NULL. For RCPT TO (local delivery) and MAIL FROM. */
const profile_account *profile_account_by_address(const profile *p, const char *addr, size_t n);

/* Whether addr[0..n) is acct's email or one of its aliases: the sender check (sender_check). */
bool profile_account_owns(const profile_account *acct, const char *addr, size_t n);

/* Whether domain[0..n) is the domain of some account address or alias: mail to it is local
 * (a listener without auth accepts it; other domains get relay_denied). */
bool profile_domain_is_local(const profile *p, const char *domain, size_t n);

/* The user name a client is told to use for acct on proto: its documented form (the first
 * `username` form). Returns the length (snprintf-style). */
int profile_account_username(const profile *p, const profile_account *acct, profile_proto proto,
                             char *buf, size_t cap);

/* Every distinct host name the profile's certificates must cover: the protocol hosts of
 * enabled protocols, listener hosts and extra_hosts, in that order. Fills names[0..max) and
 * returns how many there are (may exceed max). Pointers live as long as p. */
size_t profile_hosts(const profile *p, const char **names, size_t max);

/* The greeting template of a listener (its own, else its protocol's). */
const template *profile_listener_greeting(const profile *p, const profile_listener *l);

/* Fill the connection-scope template values for a connection to listener l (its protocol's
 * backend patterns and host, the SMTP size limit). Returns 0 (the profile's patterns were
 * validated at load time) or -1 when client_ip is too long. */
int profile_conn_init(const profile *p, const profile_listener *l, uint64_t seed, uint64_t conn_id,
                      const char *client_ip, int64_t now_ms, template_conn *out);

/* ---- what is advertised now --------------------------------------------------------------- */

/* What a connection may do in its current state. Capability lists and the auth gate are
 * both derived from this, so what is advertised is exactly what is accepted. */
typedef struct profile_offer {
    bool auth;                      /* the listener takes authentication at all */
    bool starttls;                  /* STARTTLS/STLS is offered (starttls mode, TLS not on yet) */
    bool login;                     /* LOGIN / USER+PASS accepted now */
    profile_mechs mechs;            /* mechanisms offered now (none when !auth) */
} profile_offer;

/* The offer on listener l (of protocol proto) with TLS on (tls) or not. */
profile_offer profile_offer_now(const profile *p, profile_proto proto, const profile_listener *l, bool tls);

/* Expand capability item i of caps for offer o into buf. Returns the length, 0 when the item
 * is a marker that does not apply now (leave it out), or TEMPLATE_E_MISSING when a text item
 * needs vars->conn and it is NULL. snprintf-style truncation. */
int profile_caps_item(profile_proto proto, const profile_caps *caps, size_t i, const profile_offer *o,
                      const template_vars *vars, char *buf, size_t cap);

/* All items that apply, joined with sep (" " for an IMAP CAPABILITY line). Returns the length
 * (snprintf-style) or TEMPLATE_E_MISSING. */
int profile_caps_join(profile_proto proto, const profile_caps *caps, const profile_offer *o,
                      const template_vars *vars, const char *sep, char *buf, size_t cap);

/* ---- authentication decisions ---------------------------------------------------------- */

typedef enum profile_auth_via {
    PROFILE_VIA_LOGIN, /* IMAP LOGIN, POP3 USER+PASS */
    PROFILE_VIA_SASL,  /* IMAP AUTHENTICATE, SMTP/POP3 AUTH */
} profile_auth_via;

/* Outcomes, with their event names ("wrong-username-form") from profile_auth_outcome_name(). */
typedef enum profile_auth_outcome {
    PROFILE_AUTH_OK,                /* ok */
    PROFILE_AUTH_OK_NOT_CONNECTED,  /* ok-not-connected: IMAP; authenticated, but every mailbox
                                     * command gets not_connected (state not-signed-in, or a
                                     * token whose user= names another mailbox) */
    PROFILE_AUTH_NOT_ON_LISTENER,   /* not-on-listener: the listener takes no AUTH (port 25) */
    PROFILE_AUTH_NEEDS_TLS,         /* needs-tls: the mechanism is offered only under TLS */
    PROFILE_AUTH_LOGIN_DISABLED,    /* login-disabled: LOGIN / USER+PASS refused now */
    PROFILE_AUTH_MECH_UNSUPPORTED,  /* mech-unsupported: never offered, or unknown */
    PROFILE_AUTH_BAD_BLOB,          /* bad-blob: the session could not decode the response */
    PROFILE_AUTH_CANCELLED,         /* cancelled: the client sent '*' */
    PROFILE_AUTH_NO_SUCH_USER,      /* no-such-user */
    PROFILE_AUTH_WRONG_USERNAME_FORM, /* wrong-username-form: right account, form not accepted */
    PROFILE_AUTH_BAD_PASSWORD,      /* bad-password */
    PROFILE_AUTH_WRONG_PASSWORD_KIND, /* wrong-password-kind: e.g. the account password where
                                     * only an app password works */
    PROFILE_AUTH_BAD_TOKEN,         /* bad-token */
    PROFILE_AUTH_NOT_SIGNED_IN,     /* not-signed-in: SMTP and POP3 refuse such accounts */
    PROFILE_AUTH_PROTOCOL_DISABLED, /* protocol-disabled: imap-disabled / pop-disabled */
    PROFILE_AUTH_BASIC_DISABLED,    /* basic-auth-disabled: a password where only tokens work */
    PROFILE_AUTH_SMTP_DISABLED,     /* smtp-auth-disabled */
    PROFILE_AUTH_OUTCOME_COUNT
} profile_auth_outcome;

const char *profile_auth_outcome_name(profile_auth_outcome o);

/* What to do about an authentication attempt. */
typedef struct profile_auth_result {
    profile_auth_outcome outcome;
    const profile_account *account; /* the account the credentials named, or NULL */
    profile_uform form;             /* the user name form used, when account != NULL */
    const template *reply;          /* the reply to send; NULL for the OK outcomes (the session
                                     * sends ok_login / ok_authenticate / auth_ok / pass_ok) */
    const template *bye;            /* IMAP: untagged BYE to send after reply, or NULL */
    bool close;                     /* close the connection after reply (and bye) */
    unsigned delay_ms;              /* wait this long before sending reply */
} profile_auth_result;

/* Step 1, when the command arrives and before any SASL exchange: may it proceed on listener
 * l with TLS on or off? via LOGIN ignores mech; for SASL, mech is a profile_mech or -1 for a
 * name we do not know. Returns PROFILE_AUTH_OK or the refusal (NOT_ON_LISTENER, NEEDS_TLS,
 * LOGIN_DISABLED, MECH_UNSUPPORTED); get its reply from profile_auth_refusal(). */
profile_auth_outcome profile_auth_gate(const profile *p, profile_proto proto, const profile_listener *l,
                                       bool tls, profile_auth_via via, int mech);

/* The reply for an outcome the session decided itself or got from the gate (NEEDS_TLS,
 * BAD_BLOB, CANCELLED, ...): reply, and for credential outcomes the close rule. */
profile_auth_result profile_auth_refusal(const profile *p, profile_proto proto, profile_auth_via via,
                                         profile_auth_outcome o, unsigned failures_before);

/* Credentials as decoded by the session. Lengths are explicit: the bytes may hold anything. */
typedef struct profile_credentials {
    profile_auth_via via;
    int mech;                       /* profile_mech; ignored for PROFILE_VIA_LOGIN */
    const char *user;               /* LOGIN/USER name, SASL authcid, XOAUTH2 user= */
    size_t user_len;
    const char *secret;             /* password, bearer token, or CRAM-MD5 hex digest */
    size_t secret_len;
    const char *challenge;          /* CRAM-MD5: the challenge the server sent (decoded) */
    size_t challenge_len;
} profile_credentials;

/* Step 2, with the credentials: decide the outcome. Checks, in this order (first match wins):
 *  1. find the account: by user name (local part or address/alias, ASCII case ignored) for
 *     passwords and CRAM-MD5; by the token for XOAUTH2/OAUTHBEARER -> no-such-user / bad-token;
 *  2. smtp-auth-disabled (SMTP), then basic-auth-disabled (password mechanisms) -- the real
 *     services refuse these before looking at the password;
 *  3. the user name form is one the protocol accepts -> wrong-username-form;
 *  4. the password is one of the accepted kinds -> ok; one of the other kind ->
 *     wrong-password-kind; neither -> bad-password (NTLM, GSSAPI, ATOKEN never match);
 *  5. imap-disabled / pop-disabled -> protocol-disabled;
 *  6. not-signed-in -> IMAP ok-not-connected, SMTP/POP3 not-signed-in. A token whose user=
 *     names another existing account is IMAP ok-not-connected, else bad-token.
 * failures_before is how many credential failures this connection had before; the result
 * says to close when close_after_auth_failure is set or max_auth_failures is reached. */
profile_auth_result profile_auth_check(const profile *p, profile_proto proto, const profile_credentials *c,
                                       unsigned failures_before);

#endif
