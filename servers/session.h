/* session.h -- the contract between a protocol session and whatever carries its bytes.
 *
 * A session (IMAP, SMTP, POP3 server side) is a state machine with no sockets: it is given
 * the client's bytes and answers through a session_io. The event loop (loop.c) implements
 * session_io over libevent and TLS; the session fuzz targets and unit tests implement it over
 * memory. That is what lets every session run in a fuzzer at thousands of inputs per second.
 *
 * Rules a session follows:
 * - on_input consumes whole items only (a command line, a literal chunk, a DATA chunk) and
 *   returns how many bytes it consumed; 0 means "need more bytes" (the caller keeps them and
 *   calls again with more). It must never need more than its own configured limits: when a
 *   line would exceed them it answers with an error and consumes or closes.
 * - After calling io->start_tls it consumes nothing more until on_tls is called: the bytes
 *   that follow the STARTTLS command belong to the carrier (discarded and reported, or kept
 *   when the profile makes the server vulnerable on purpose).
 * - Every byte it consumes is reported once through io->client_data, redacted where it holds
 *   a credential (that is the only place that knows where credentials are).
 * - After calling io->delay it returns from on_input as soon as the current command is
 *   consumed and consumes nothing more while info->held is set: the carrier keeps the rest
 *   of the input (and stops reading from the socket) until the delay is over.
 */
#ifndef MAILRIG_SERVERS_SESSION_H
#define MAILRIG_SERVERS_SESSION_H

#include <stddef.h>

typedef struct session_io {
    void *ctx;
    /* Queue bytes to the client (transcribed as S: records by the carrier). */
    void (*send)(void *ctx, const char *p, size_t n);
    /* Transcribe bytes the session consumed, already redacted. is_payload marks literal or
     * DATA content, which may be summarised. */
    void (*client_data)(void *ctx, const char *p, size_t n, int is_payload);
    /* Switch to TLS once the bytes sent so far are flushed. */
    void (*start_tls)(void *ctx);
    /* Close the connection once the bytes sent so far are flushed. reason is a short word
     * for the transcript ("logout", "auth-failed", "line-too-long"). */
    void (*close)(void *ctx, const char *reason);
    /* A named event for the transcript and the checks: "name key=value ...". */
    void (*event)(void *ctx, const char *text);
    /* Hold everything the session sends from now on (and a close it asks for) for ms
     * milliseconds without blocking anything else, and give it no input meanwhile: a
     * provider's slow authentication failure (profile auth_delay_ms). The carrier sets
     * info->held until the time is up, then sends what was held and feeds the input that
     * waited. May be NULL (memory carriers: the replies go out at once). */
    void (*delay)(void *ctx, unsigned ms);
} session_io;

/* What the carrier knows about a connection that a session may want. */
typedef struct session_info {
    unsigned conn_id;
    int provider_port;      /* 993, 587, ... */
    int tls_active;         /* implicit TLS, or after STARTTLS */
    int starttls_offered;   /* the listener allows STARTTLS/STLS */
    char peer[64];          /* "127.0.0.1:54321" */
    char tls_desc[96];      /* "TLSv1.3 TLS_AES_256_GCM_SHA384 sni=..." once tls_active */
    int held;               /* io->delay running: consume no more input until it clears */
} session_info;

typedef struct session session;

typedef struct session_ops {
    /* The connection is ready: send the greeting (or nothing, if the profile says so). */
    void (*open)(session *s);
    /* Client bytes [p, p+n): return the number consumed (0 = need more). */
    size_t (*input)(session *s, const char *p, size_t n);
    /* The TLS handshake after start_tls finished (info->tls_active is now set). */
    void (*tls_ready)(session *s);
    /* The client was idle too long: say goodbye if the protocol does; the carrier closes. */
    void (*timeout)(session *s);
    void (*free)(session *s);
} session_ops;

struct session {
    const session_ops *ops;
    const session_io *io;
    session_info *info;     /* owned by the carrier, valid for the session's life */
};

/* Creates a session for a new connection; ctx is the listener's factory context (the
 * profile, the store). Returns NULL on allocation failure (the carrier closes). */
typedef session *(*session_factory)(void *ctx, const session_io *io, session_info *info);

#endif
