/* run_conn.h -- the interpreter's connections: one socket (TCP, or one end of a socketpair),
 * optionally TLS, read into a buffer and written with deadlines.
 *
 * Everything here is blocking-with-a-deadline: every wait is a poll() bounded by an absolute
 * CLOCK_MONOTONIC deadline in milliseconds, so no step can hang past its timeout whatever the
 * peer does (sends nothing, sends a byte a second, stops reading). The socket itself is
 * non-blocking; OpenSSL runs over it with SSL_ERROR_WANT_READ/WRITE turned into polls.
 *
 * The same code runs over a socketpair without TLS (the client-role fuzz target serves its
 * input that way), so nothing here assumes an IP socket except run_conn_connect().
 *
 * Memory: the receive buffer grows to at most RUN_CONN_MAX_BUF bytes of unconsumed input;
 * a peer that sends more without the interpreter consuming it gets an error, not more memory.
 */
#ifndef MAILRIG_HARNESS_RUN_CONN_H
#define MAILRIG_HARNESS_RUN_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* Unconsumed received bytes kept at most (one IMAP item with inline literals fits). */
#define RUN_CONN_MAX_BUF (2u << 20)

/* Results of the waiting calls. */
enum {
    RUN_IO_OK = 0,
    RUN_IO_EOF = -1,      /* the peer closed (FIN, TLS close_notify, or reset) */
    RUN_IO_TIMEOUT = -2,  /* the deadline passed */
    RUN_IO_ERROR = -3,    /* a socket or TLS error; the conn's err says which */
    RUN_IO_FULL = -4,     /* RUN_CONN_MAX_BUF unconsumed bytes: the peer floods */
};

typedef struct run_conn {
    int fd;
    SSL *ssl;                 /* NULL while plaintext */
    char *buf;                /* received, not yet consumed: buf[off..len) */
    size_t off, len, cap;
    uint64_t consumed;        /* bytes consumed since the connection opened (for offsets) */
    int eof;                  /* the peer closed; buf may still hold bytes */
    int reset;                /* ... by a reset (ECONNRESET) */
    char err[256];            /* the last RUN_IO_ERROR in words */
} run_conn;

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t run_now_ms(void);

/* Seconds of CLOCK_MONOTONIC (the transcript clock). */
double run_now_s(void);

/* Take ownership of a connected socket (made non-blocking here). */
void run_conn_init(run_conn *c, int fd);

/* Close the socket (TLS: a close_notify is attempted, not waited for) and free the buffer.
 * Safe on a closed or zeroed conn. */
void run_conn_close(run_conn *c);

/* Connect to 127.0.0.1:port by TCP before deadline. Returns RUN_IO_OK with *fd, or
 * RUN_CONN_REFUSED, RUN_IO_TIMEOUT, RUN_IO_ERROR (why in err). */
enum { RUN_CONN_REFUSED = -10 };
int run_conn_connect(int port, int64_t deadline, int *fd, char *err, size_t errlen);

/* Bytes waiting in buf. */
static inline size_t run_conn_avail(const run_conn *c) { return c->len - c->off; }
static inline const char *run_conn_data(const run_conn *c) { return c->buf ? c->buf + c->off : ""; }

/* Drop n bytes from the front of buf (n <= avail). */
void run_conn_consume(run_conn *c, size_t n);

/* Read what the peer has sent, waiting until at least one byte arrives, EOF, or deadline
 * (deadline <= now: only what is already there, no wait). Appends to buf and returns the
 * number of bytes appended (> 0), RUN_IO_EOF, RUN_IO_TIMEOUT, RUN_IO_ERROR or RUN_IO_FULL.
 * *got, when not NULL, points at the new bytes (valid until the next call). */
int run_conn_read(run_conn *c, int64_t deadline, const char **got);

/* Write all of p[0..n) before deadline. RUN_IO_OK, RUN_IO_EOF (peer gone: EPIPE/reset),
 * RUN_IO_TIMEOUT (the peer does not read), RUN_IO_ERROR. */
int run_conn_write(run_conn *c, const void *p, size_t n, int64_t deadline);

/* TLS handshake on the open socket, as the client (ssl made from a client context, host
 * already set) or the server (accept). Takes ownership of ssl either way. Returns RUN_IO_OK,
 * or RUN_IO_ERROR with desc filled by tls_describe_failure(), RUN_IO_TIMEOUT, RUN_IO_EOF.
 * Bytes already in buf stay there (they arrived in plaintext: the caller decides what they
 * mean). On failure the SSL is freed and the conn is back to plaintext (and usually useless);
 * *alert_received (may be NULL) is the TLS alert the peer sent, or -1. */
int run_conn_tls(run_conn *c, SSL *ssl, int server, int64_t deadline, char *desc, size_t desclen,
                 int *alert_received);

#endif
