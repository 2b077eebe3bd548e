/* imapd.h -- the IMAP4rev1 server session of the mock providers (RFC 3501, with the IMAP4rev2 /
 * extension pieces the profiles advertise: SASL-IR, LITERAL+, ID, ENABLE, IDLE, NAMESPACE,
 * UIDPLUS, MOVE, UNSELECT, CHILDREN, SPECIAL-USE, LIST-STATUS, ESEARCH).
 *
 * A session is a state machine over session.h: bytes in through ops->input, replies out
 * through io->send. It has no sockets and no timers (auth_delay_ms is the carrier's timer,
 * io->delay), so unit tests and the session fuzz target drive it from memory. Every reply
 * text that a provider words in its own way comes from the profile (p->imap.r.*); the data
 * responses whose syntax the RFCs fix (FETCH, LIST, SEARCH, EXISTS...) are written with
 * proto/imap_write.h.
 *
 * Shape (curl pingpong / OpenSMTPD style):
 *  - one enum state (imapd_state) changed only by one transition function, which reports
 *    `state from=X to=Y` events when the debug switch is on (MAILRIG_DEBUG_IMAP=1 in the
 *    environment, or imapd_set_debug());
 *  - one command table: per verb the states it is valid in, whether it is a "mailbox command"
 *    (the Exchange not-connected rule), the OK template, and its handler;
 *  - input framed by proto/imap_framer.h (lenient), every command parsed strictly first
 *    (a failure is reported as a strict-violation event) and then served from the lenient
 *    parse, as the real providers serve sloppy clients.
 *
 * Memory: the idle session struct is a few hundred bytes (sizeof(imapd) is checked by the unit
 * tests). Per-command state (tokens, a streamed APPEND literal, the SASL exchange, IDLE) is
 * allocated while the command runs and freed when it ends. Limits: max_line and
 * max_auth_line from the profile, literals up to max_literal, items (lines plus inline
 * literals) up to IMAPD_ITEM_MAX, tokens up to the parser default.
 */
#ifndef MAILRIG_SERVERS_IMAPD_H
#define MAILRIG_SERVERS_IMAPD_H

#include <stddef.h>
#include <stdint.h>

#include "servers/mock.h"
#include "servers/session.h"

/* Largest item (command lines plus inline literals) a session keeps; it must stay below the
 * carrier's max_input_chunk (256 KiB). Literals over IMAPD_INLINE_LITERAL_MAX are streamed. */
enum { IMAPD_ITEM_MAX = 192 * 1024, IMAPD_INLINE_LITERAL_MAX = 32 * 1024 };

/* The session factory for IMAP listeners: ctx is a mock_listener (mock.h). ctx->mock may be
 * NULL (unit tests, fuzzing): then no cross-session notifications. The clock is sess_now_ms
 * (session_util.h; sess_set_clock makes it reproducible). */
session *imapd_factory(void *ctx, const session_io *io, session_info *info);

/* Turn the state-transition events on or off for sessions created from now on. */
void imapd_set_debug(int on);

/* Literals above n bytes are streamed by sessions created from now on (0: the default,
 * IMAPD_INLINE_LITERAL_MAX). The fuzz target lowers it so that small inputs reach the
 * streaming paths. */
void imapd_set_inline_literal_max(size_t n);

/* sizeof the idle session struct, for the memory test. */
size_t imapd_session_size(void);

#endif
