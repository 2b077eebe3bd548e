/* memconn.h -- a protocol session carried over memory instead of a socket.
 *
 * The unit tests and the session fuzz targets drive smtpd/pop3d (and any session.h session)
 * through this: bytes in with memconn_feed(), everything the session said, reported and
 * decided collected in buffers. It follows the carrier's rules (loop.c): input the session
 * does not consume yet stays pending and is offered again with the next bytes; after the
 * session asks for STARTTLS the bytes already pending are the pipelined plaintext of the
 * CVE-2011-0411 class and are discarded (or kept, `vulnerable`), and memconn_tls() (or the
 * next feed) completes the "handshake" and calls tls_ready; once the session closes, nothing
 * more is fed. A session that consumes nothing while more than MEMCONN_MAX_PENDING bytes are
 * pending is "stalled" (the carrier would close it): a bug in its limits. A delay the session
 * asks for (io->delay) is recorded as the event `reply-delayed ms=N` and ends as soon as the
 * session returns from its input call; the rest of the input is then offered again.
 *
 * Memory: output, client data and events are kept up to MEMCONN_MAX_KEEP bytes each; beyond
 * that they are counted, not kept.
 */
#ifndef MAILRIG_SERVERS_MEMCONN_H
#define MAILRIG_SERVERS_MEMCONN_H

#include <stddef.h>

#include "servers/profile.h"
#include "servers/session.h"
#include "servers/store.h"

#define MEMCONN_MAX_PENDING (256u * 1024)
#define MEMCONN_MAX_KEEP (8u * 1024 * 1024)

typedef struct memconn memconn;

typedef struct memconn_opts {
    int provider_port;     /* info.provider_port */
    int tls_active;        /* implicit TLS: TLS from the start */
    int starttls_offered;  /* info.starttls_offered */
    int vulnerable;        /* keep plaintext pipelined after STARTTLS */
    const char *peer;      /* "127.0.0.1:40000" when NULL */
    unsigned conn_id;      /* 1 when 0 */
} memconn_opts;

/* Make a session with factory(ctx, ...) and open it (its greeting goes to the output).
 * Returns NULL when the factory fails. */
memconn *memconn_new(session_factory factory, void *ctx, const memconn_opts *opts);

/* Free the session and everything collected. NULL is fine. */
void memconn_free(memconn *m);

/* Feed client bytes; returns the bytes the session consumed during this call (of these and
 * of earlier pending ones). */
size_t memconn_feed(memconn *m, const char *p, size_t n);
size_t memconn_feed_str(memconn *m, const char *s);

/* Complete a STARTTLS the session asked for (tls_ready). Nothing when none is pending. */
void memconn_tls(memconn *m);

/* The idle timeout fires: ops->timeout, then the connection closes. */
void memconn_timeout(memconn *m);

/* What the session sent (NUL-terminated copy), and forget it. */
const char *memconn_output(const memconn *m, size_t *n);
void memconn_output_clear(memconn *m);

/* Client data as the session reported it (redacted), and the events, one per line. */
const char *memconn_client_data(const memconn *m, size_t *n);
const char *memconn_events(const memconn *m);

/* State of the connection. */
int memconn_closed(const memconn *m);              /* the session called close */
const char *memconn_close_reason(const memconn *m);
int memconn_tls_pending(const memconn *m);         /* start_tls called, tls_ready not yet */
int memconn_tls_active(const memconn *m);
int memconn_stalled(const memconn *m);
unsigned memconn_delays(const memconn *m);          /* io->delay calls so far */

/* Byte accounting: fed == consumed + pending + discarded + dropped (fed after the close). */
typedef struct memconn_counts {
    size_t fed, consumed, pending, discarded, dropped;
    size_t reported;         /* bytes reported through client_data (redacted lengths) */
    size_t output;           /* bytes sent, kept or not */
} memconn_counts;
memconn_counts memconn_get_counts(const memconn *m);

/* The session, for tests that poke at it. */
session *memconn_session(const memconn *m);

/* A store for a profile as mock_start() makes it: every account with every folder of the
 * profile; the INBOX of each account gets msgs[0..nmsgs) (NUL-terminated texts) instead of the
 * profile's seed files, so no file is read. NULL on failure. */
store *memconn_store(const profile *p, const char *const *msgs, size_t nmsgs);

#endif
