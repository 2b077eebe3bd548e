/* pop3d.h -- the POP3 server session of the mock providers (RFC 1939, 2449, 2595, 5034).
 *
 * One state machine per connection with no sockets (session.h). Command lines are parsed
 * with proto/pop3.h (strictly first; a strict violation is an event, then the lenient
 * reading is served); multi-line responses are dot-stuffed with proto/dotstream.h. Every
 * status line that a provider words is a profile template (PROFILE_POP3_REPLIES); the
 * listings whose format RFC 1939 fixes ("+OK nn mm" for STAT, "n size" and "n uid" lines)
 * are written as the RFC says.
 *
 * States: AUTHORIZATION (greeting, CAPA, STLS, USER/PASS, AUTH, QUIT), TRANSACTION (STAT,
 * LIST [n], UIDL [n], RETR, TOP n m, DELE, RSET, NOOP, CAPA, QUIT) and UPDATE (QUIT in
 * TRANSACTION: the messages marked with DELE are expunged from the INBOX through
 * store_view_expunge, then quit_ok and close). A command in the wrong state gets bad_state.
 * APOP gets unknown_command: no profile offers it.
 *
 * Authentication: USER/PASS when profile_offer_now says login is accepted (Exchange: only
 * under TLS), AUTH with PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, CRAM-MD5 (sasl_server.h);
 * `sasl_ir = no` refuses an initial response on the AUTH line (Exchange's two-step XOAUTH2);
 * a bare AUTH lists the mechanisms offered now. The maildrop is the account's INBOX as it
 * was at login (a store_view); one session per account holds its lock, a second login gets
 * in_use ([IN-USE], RFC 2449) and stays in AUTHORIZATION.
 *
 * Limits: command lines of max_line (AUTH lines and responses max_auth_line): a longer line
 * gets line_too_long and the connection closes; max_auth_failures; max_connections per
 * client address (too_many_connections instead of the greeting). Memory: the idle session is
 * about 120 bytes; after login one byte per message of the maildrop.
 *
 * auth_delay_ms: a credential failure asks the carrier to hold its reply that long
 * (io->delay; the event loop's timer, nothing blocks) and consumes nothing more meanwhile.
 * With MAILRIG_DEBUG_STATES set, state changes are transcript events `pop3-state from to`.
 */
#ifndef MAILRIG_SERVERS_POP3D_H
#define MAILRIG_SERVERS_POP3D_H

#include "servers/session.h"

/* The session factory: ctx is the listener's mock_listener (mock.h); its mock may be NULL. */
session *pop3d_new(void *ctx, const session_io *io, session_info *info);

#endif
