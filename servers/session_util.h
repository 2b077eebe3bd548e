/* session_util.h -- small helpers the protocol sessions (smtpd.c, pop3d.c, imapd.c) share.
 *
 * - Replies: expand a profile template with the connection's values and send it with CRLF.
 * - Words for transcript events: peer bytes made into one printable word, error codes named.
 * - The per-mock bookkeeping that no single session owns: how many connections of a protocol
 *   a client address has open (the profile's max_connections), and the POP3 maildrop locks
 *   (one session per account). Both are keyed by a scope pointer -- the mock's store, which
 *   is unique per mock and outlives its sessions -- so a session needs no more than its
 *   factory context, and the fuzz targets and unit tests (a store but no mock) get the same
 *   behaviour. Entries exist only while a session holds them: memory is bounded by the
 *   number of open sessions. One process, one event loop: no locking.
 */
#ifndef MAILRIG_SERVERS_SESSION_UTIL_H
#define MAILRIG_SERVERS_SESSION_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mr.h"
#include "servers/session.h"
#include "servers/template.h"

/* Milliseconds since the epoch (the clock of {date} and {iso_ts}). */
int64_t sess_now_ms(void);

/* Replace the clock behind sess_now_ms (NULL: the real one again), so unit tests and fuzz
 * targets get reproducible dates. */
void sess_set_clock(int64_t (*now_ms)(void));

/* The address part of "host:port" (IPv4 or IPv6 as the carrier writes it) into out. */
void sess_peer_ip(const session_info *info, char *out, size_t cap);

/* Expand t with vars and send it with CRLF. A reply longer than SESS_MAX_REPLY is cut there.
 * Returns the length sent without CRLF. A placeholder without a value is a session bug: the
 * profile loader guarantees templates use only what the session supplies; it aborts. */
enum { SESS_MAX_REPLY = 2048 };
int sess_reply(const session_io *io, const template *t, const template_vars *vars);

/* Copy p[0..n) as one printable word for an event value: bytes outside '!'..'~' become '?',
 * at most cap - 1 bytes, NUL-terminated. Returns the length written. */
size_t sess_word(const char *p, size_t n, char *out, size_t cap);

/* Copy p[0..n) as printable text for a reply's {text}: bytes outside ' '..'~' become '?',
 * at most cap - 1 bytes, NUL-terminated. Returns the length written. */
size_t sess_text(const char *p, size_t n, char *out, size_t cap);

/* Ask the carrier to hold the replies that follow for ms milliseconds (io->delay); nothing
 * when ms is 0 or the carrier has no timers. The caller then stops consuming input while
 * info->held is set (session.h). */
void sess_delay(const session_io *io, unsigned ms);

/* A one-word name of a parser error code for events: "bare-lf", "8bit", "syntax"... */
const char *sess_errcode_word(mr_errcode code);

/* The first bytes a client sends on a plaintext port, seen as a TLS ClientHello or not (the
 * profile decides what the session answers to one). */
typedef enum sess_hello_kind {
    SESS_HELLO_UNDECIDED, /* too few bytes to tell and no line end yet: wait for more */
    SESS_HELLO_NONE,      /* plaintext: go on as usual */
    SESS_HELLO_FOUND      /* a TLS or SSLv2 ClientHello */
} sess_hello_kind;

typedef struct sess_hello {
    sess_hello_kind kind;
    size_t record; /* FOUND: bytes of the hello's record within p[0..n) */
    uint32_t left; /* FOUND: bytes of that record still to come (0 for SSLv2: unknown) */
} sess_hello;

/* Classify the first bytes p[0..n) a client sent on a plaintext port. */
sess_hello sess_hello_classify(const char *p, size_t n);

/* A connection counted against the profile's per-address limit (max_connections). */
typedef struct sess_admission {
    const void *scope;
    int proto;
    int counted;  /* sess_conn_enter succeeded: sess_release is due */
    unsigned open; /* the address's connections, this one included */
    char ip[64];  /* the client address, for events */
} sess_admission;

/* Count the connection described by info under scope (see sess_conn_enter) and judge it
 * against limit (0: no limit). Returns 1 when admitted, 0 when over the limit; either way
 * call sess_release(a) when the session ends. */
int sess_admit(sess_admission *a, const void *scope, int proto, const session_info *info,
               unsigned limit);

/* Forget the connection sess_admit counted (nothing when it was not counted); idempotent. */
void sess_release(sess_admission *a);

/* Count a new connection of protocol proto from client address ip under scope. Returns the
 * number now open, this one included; 0 when memory ran out (the caller then admits it
 * uncounted; sess_conn_leave with the same arguments is still safe). */
unsigned sess_conn_enter(const void *scope, int proto, const char *ip);

/* Forget a connection counted by sess_conn_enter. */
void sess_conn_leave(const void *scope, int proto, const char *ip);

/* Take the lock on account (a name) under scope for owner. Returns 1 when taken (or already
 * owner's), 0 when another owner holds it, -1 when memory ran out. */
int sess_lock(const void *scope, const char *account, const void *owner);

/* Release owner's lock on account; nothing when owner does not hold it. */
void sess_unlock(const void *scope, const char *account, const void *owner);

/* Entries held now (connections counted plus locks), for tests. */
size_t sess_registry_size(void);

#endif
