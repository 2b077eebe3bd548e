/* smtpd.h -- the SMTP server session of the mock providers: submission (587, 465) and the
 * MX-like port 25, as a profile describes them.
 *
 * One state machine per connection, with no sockets (session.h): command lines are parsed
 * with proto/smtp_command.h (strictly first; a strict violation is reported as an event and
 * the line is then served as the lenient parser reads it), DATA bodies are streamed through
 * proto/dotstream.h, BDAT chunks are read by their announced size. Every reply is a profile
 * template (profile.h, PROFILE_SMTP_REPLIES); what is advertised and who may log in come from
 * profile_offer_now / profile_auth_gate / profile_auth_check.
 *
 * Behaviour, in RFC terms: EHLO/HELO (RFC 5321 4.1.1.1), STARTTLS with the reset to "no EHLO
 * yet" (RFC 3207 4.2), AUTH PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, CRAM-MD5 with initial
 * responses and "*" (RFC 4954), MAIL with SIZE, BODY, SMTPUTF8, AUTH=, RET, ENVID (RFC 1870,
 * 6152, 6531, 4954, 3461), RCPT with NOTIFY and ORCPT, DATA, BDAT [LAST] (RFC 3030: the chunk
 * is always read before the reply), RSET, NOOP, QUIT, VRFY, PIPELINING (RFC 2920: a batch of
 * commands in one read is answered in order). HELP and EXPN are unknown commands.
 *
 * Listeners: on one that takes AUTH (submission) MAIL, RCPT, DATA and BDAT need a successful
 * AUTH (auth_required); recipients in foreign domains are accepted after AUTH (and not
 * stored: there is nowhere to relay to). On one that does not (`auth = no`, port 25) AUTH is
 * refused (auth_not_offered), mail is taken without AUTH, and only for local recipients
 * (relay_denied otherwise). An accepted message is stored, with a Return-Path and a Received
 * header, in the INBOX of every local recipient's account (store_deliver: with a spool, on
 * disk and fsynced) before data_ok is sent; then mock_changed() tells other sessions.
 *
 * Limits: command lines of max_line (AUTH lines and responses max_auth_line) -- a longer line
 * gets line_too_long and is skipped to its end; max_errors bad commands, then
 * too_many_errors and close; max_auth_failures; max_recipients; size_limit (and at most
 * SMTPD_MAX_MESSAGE bytes held); max_connections per client address (too_many_connections
 * instead of the banner). Memory: the idle session is about 150 bytes; a transaction
 * allocates its message buffer, an AUTH exchange a few hundred bytes, only while they run.
 *
 * auth_delay_ms: a credential failure asks the carrier to hold its reply that long
 * (io->delay; the event loop's timer, nothing blocks) and consumes nothing more meanwhile.
 *
 * Debugging: with MAILRIG_DEBUG_STATES set in the environment, every state change is written
 * to the transcript as an event `smtp-state from=X to=Y`.
 */
#ifndef MAILRIG_SERVERS_SMTPD_H
#define MAILRIG_SERVERS_SMTPD_H

#include "servers/session.h"

/* Largest message held, whatever size_limit says (the store's default message limit). */
#define SMTPD_MAX_MESSAGE (64u * 1024 * 1024)

/* The session factory: ctx is the listener's mock_listener (mock.h); its mock may be NULL
 * (tests, fuzzing: no change notifications then). */
session *smtpd_new(void *ctx, const session_io *io, session_info *info);

#endif
