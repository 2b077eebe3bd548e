/* loop.h -- the listeners and connections of the mock servers, on one libevent loop.
 *
 * A server owns listeners; each listener serves one provider port in one mode and hands every
 * connection to a session (session.h) made by its factory. The loop does what is the same for
 * every protocol: accept, TLS (implicit, or STARTTLS as an in-place upgrade), classifying the
 * first bytes a client sends (a TLS ClientHello on a plaintext port, plaintext on an
 * implicit-TLS port), the STARTTLS carry-over rule, idle timeouts, connection limits, output
 * back-pressure, delayed replies (session_io.delay: a timer, reading paused meanwhile), one log
 * line per connection event and one transcript per connection.
 *
 * Memory: per idle plaintext connection about 1.5 KB (bufferevent, two empty evbuffers, the
 * conn and session_info) plus the session's own state; per idle TLS connection add OpenSSL's
 * ~14 KB with SSL_MODE_RELEASE_BUFFERS. Input is read into libevent's buffers and handed to
 * sessions contiguous (evbuffer_pullup) at most `max_input_chunk` at a time; output stops
 * reading from a client whose unread output exceeds `max_output` until it drains.
 */
#ifndef MAILRIG_SERVERS_LOOP_H
#define MAILRIG_SERVERS_LOOP_H

#include <stddef.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include "servers/session.h"

struct event_base;

typedef enum listen_mode {
    LISTEN_IMPLICIT_TLS,  /* TLS from the first byte (993, 465, 995) */
    LISTEN_STARTTLS,      /* plaintext, STARTTLS/STLS offered (143, 587, 110) */
    LISTEN_PLAIN,         /* plaintext only, no TLS at all */
    LISTEN_CLOSED,        /* bound but not listening: connection refused */
    LISTEN_SILENT,        /* accepts and never says anything (a firewall drop, as seen) */
} listen_mode;

/* Name used in the ports file and transcripts: implicit, starttls, plain, closed, silent. */
const char *listen_mode_name(listen_mode m);

/* What an implicit-TLS port does when the client's first bytes are not a ClientHello. */
typedef enum plaintext_answer {
    PLAINTEXT_CLOSE,      /* close the connection at once */
    PLAINTEXT_ALERT,      /* let the TLS stack answer (a TLS alert), then close */
    PLAINTEXT_SILENCE,    /* say nothing, keep waiting until the idle timeout */
} plaintext_answer;

/* What a plaintext port does when the client's first bytes are a TLS ClientHello. */
typedef enum hello_answer {
    HELLO_SESSION,        /* hand the bytes to the session as if they were a command */
    HELLO_CLOSE,          /* close the connection at once */
} hello_answer;

typedef struct listener_spec {
    const char *protocol;       /* "imap", "smtp", "pop3": for logs, transcripts, ports file */
    int provider_port;          /* the real provider's port: 993, 587, ... */
    const char *host;           /* local address to bind, "127.0.0.1" or "::1" */
    int port;                   /* local port; 0 = any free port */
    listen_mode mode;
    SSL_CTX *tls;               /* implicit-tls and starttls; not owned */
    const char *cert;           /* the certificate variant's name ("untrusted"), written as
                                   cert= in each connection's open record so that the checks
                                   know what the client was shown; NULL = not written */
    plaintext_answer on_plaintext;
    hello_answer on_client_hello;
    int starttls_vulnerable;    /* keep plaintext pipelined after STARTTLS (CVE-2011-0411) */
    int idle_timeout_s;         /* this listener's idle timeout; 0 = the server's */
    session_factory factory;
    void *factory_ctx;
} listener_spec;

typedef struct server_limits {
    int idle_timeout_s;         /* no input for this long: session timeout, then close */
    int handshake_timeout_s;    /* implicit TLS: no ClientHello / handshake within this */
    int silent_hold_s;          /* silent ports drop a connection after this long */
    int max_connections;        /* all listeners together */
    int max_per_address;        /* from one client address */
    size_t max_input_chunk;     /* largest contiguous piece handed to a session */
    size_t max_output;          /* stop reading from a client with this much unsent output */
} server_limits;

/* Defaults: idle 1800 s, handshake 30 s, silent 120 s, 20000 connections, 20000 per address
 * (clients are all on loopback), 256 KiB input chunks, 16 MiB output. */
server_limits server_limits_default(void);

typedef struct server server;

/* Create a server on an event base. log (may be NULL) gets one line per connection event;
 * transcript_dir (may be NULL) gets one transcript file per connection. Returns NULL and
 * fills err on failure. */
server *server_new(struct event_base *base, const server_limits *limits, FILE *log,
                   const char *transcript_dir, char *err, size_t errlen);

/* Start a listener. Returns the bound local port (> 0), or -1 with err filled (the address
 * and port, and the system's reason, e.g. "127.0.0.1:10993: Address already in use").
 * The spec is copied; its pointers must outlive the server. */
int server_listen(server *srv, const listener_spec *spec, char *err, size_t errlen);

/* Number of connections open now. */
int server_connection_count(const server *srv);

/* Close every connection and listener and free the server. */
void server_free(server *srv);

#endif
