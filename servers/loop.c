/* loop.c -- see loop.h. */
#include "servers/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>

#include "proto/tlssniff.h"
#include "servers/events.h"
#include "servers/tls.h"
#include "servers/transcript.h"

typedef struct listener listener;
typedef struct conn conn;

struct listener {
    server *srv;
    listener_spec spec;
    struct evconnlistener *evl;  /* listening modes */
    evutil_socket_t closed_fd;   /* LISTEN_CLOSED: bound, never listening */
    int port;
    listener *next;
};

struct server {
    struct event_base *base;
    server_limits limits;
    FILE *log;
    char *transcript_dir;
    listener *listeners;
    conn *conns;                 /* doubly linked, for shutdown and counting */
    int nconns;
    unsigned next_id;
    double t0;
};

typedef enum conn_phase {
    PHASE_SNIFF,        /* implicit TLS: waiting for the first bytes */
    PHASE_HANDSHAKE,    /* TLS handshake running (implicit or after STARTTLS) */
    PHASE_SESSION,      /* bytes go to the session */
    PHASE_SILENT,       /* reading and dropping, saying nothing */
    PHASE_CLOSING,      /* flushing output, then close */
} conn_phase;

struct conn {
    server *srv;
    listener *lst;
    conn *prev, *next;
    evutil_socket_t fd;
    struct bufferevent *bev;     /* what the session talks through (may be a TLS filter) */
    struct event *timer;         /* implicit TLS: waiting for the first bytes */
    double sniff_deadline;       /* when waiting for a ClientHello gives up */
    conn_phase phase;
    int first_input_seen;
    int starttls_pending;        /* session asked for TLS; upgrade once output is flushed */
    int plain_socket;            /* bev is a plain socket bufferevent: replies may be sent directly */
    int in_feed;                 /* inside feed_session(): the session is consuming input */
    int reading_paused;          /* back-pressure */
    struct evbuffer *carried;    /* vulnerable STARTTLS: plaintext kept for after the handshake */
    struct event *delay_timer;   /* io->delay: ends the hold */
    struct evbuffer *held;       /* io->delay: what the session sent meanwhile */
    const char *held_close;      /* io->delay: a close asked for meanwhile */
    session *sess;
    session_io io;
    session_info info;
    transcript *tr;
    const char *close_reason;
};

static const char *const mode_names[] = {
    [LISTEN_IMPLICIT_TLS] = "implicit", [LISTEN_STARTTLS] = "starttls", [LISTEN_PLAIN] = "plain",
    [LISTEN_CLOSED] = "closed",         [LISTEN_SILENT] = "silent",
};

const char *listen_mode_name(listen_mode m)
{
    return (unsigned)m < sizeof mode_names / sizeof mode_names[0] ? mode_names[m] : "?";
}

server_limits server_limits_default(void)
{
    server_limits l = {
        .idle_timeout_s = 1800,
        .handshake_timeout_s = 30,
        .silent_hold_s = 120,
        .max_connections = 20000,
        .max_per_address = 20000,
        .max_input_chunk = 256 * 1024,
        .max_output = 16 * 1024 * 1024,
    };
    return l;
}

/* The idle timeout that applies to a connection: its listener's, else the server's. */
static int idle_timeout(const conn *c)
{
    return c->lst->spec.idle_timeout_s > 0 ? c->lst->spec.idle_timeout_s
                                           : c->srv->limits.idle_timeout_s;
}

/* ---- logging ---------------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void conn_log(conn *c, const char *fmt, ...)
{
    FILE *log = c->srv->log;
    if (!log)
        return;
    fprintf(log, "conn %u %s %d->%d ", c->info.conn_id, c->lst->spec.protocol,
            c->lst->spec.provider_port, c->lst->port);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(log, fmt, ap);
    va_end(ap);
    fputc('\n', log);
    fflush(log);
}

/* A named event: to the transcript and the log. */
__attribute__((format(printf, 2, 3))) static void conn_event(conn *c, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    transcript_record(c->tr, c->info.conn_id, "event", "%s", text);
    conn_log(c, "event %s", text);
}

static void open_transcript(conn *c)
{
    server *srv = c->srv;
    if (!srv->transcript_dir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/conn-%05u-%s-%d.log", srv->transcript_dir, c->info.conn_id,
             c->lst->spec.protocol, c->lst->spec.provider_port);
    FILE *f = fopen(path, "w");
    if (!f) {
        conn_log(c, "note cannot write transcript %s: %s", path, strerror(errno));
        return;
    }
    c->tr = transcript_new(f, 1, srv->t0);
    if (!c->tr)
        fclose(f);
}

/* ---- connection teardown ---------------------------------------------------------------- */

static void conn_free(conn *c)
{
    server *srv = c->srv;
    conn_log(c, "close %s", c->close_reason ? c->close_reason : "closed");
    transcript_record(c->tr, c->info.conn_id, "close", "%s",
                      c->close_reason ? c->close_reason : "closed");
    if (c->sess)
        c->sess->ops->free(c->sess);
    if (c->bev) {
        /* After STARTTLS c->bev is an OpenSSL filter: its output drains into the socket
         * bufferevent below it, which may still hold the last records (a LOGOUT's BYE and OK).
         * Hand them to the kernel before freeing, or the client sees EOF instead. */
        struct bufferevent *under = bufferevent_get_underlying(c->bev);
        if (under) {
            /* a socket bufferevent freezes the start of its output: copy, do not drain */
            struct evbuffer *out = bufferevent_get_output(under);
            evutil_socket_t fd = bufferevent_getfd(under);
            size_t len = evbuffer_get_length(out);
            const char *p = len ? (const char *)evbuffer_pullup(out, (ev_ssize_t)len) : NULL;
            for (size_t off = 0; p && fd >= 0 && off < len;) {
                ssize_t w = send(fd, p + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w <= 0)
                    break;
                off += (size_t)w;
            }
        }
        bufferevent_free(c->bev); /* closes fd (BEV_OPT_CLOSE_ON_FREE) and frees the SSL */
    } else if (c->fd >= 0)
        evutil_closesocket(c->fd);
    if (c->timer)
        event_free(c->timer);
    if (c->carried)
        evbuffer_free(c->carried);
    if (c->delay_timer)
        event_free(c->delay_timer);
    if (c->held)
        evbuffer_free(c->held);
    transcript_free(c->tr);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    free(c);
}

/* Bytes queued for the client that the kernel does not have yet: with TLS, the filter's
 * output plus the records waiting in the socket bufferevent under it. (The filter drains
 * into the socket bufferevent at once, so its own output being empty is not enough: freeing
 * the connection then would drop the last reply -- a QUIT's 221, a LOGOUT's BYE.) */
static size_t output_pending(const conn *c)
{
    if (!c->bev)
        return 0;
    size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));
    struct bufferevent *under = bufferevent_get_underlying(c->bev);
    if (under)
        n += evbuffer_get_length(bufferevent_get_output(under));
    return n;
}

static void on_flush_check(evutil_socket_t fd, short what, void *arg);

/* Close now if nothing is left to send, else once the output drains. */
static void conn_close_after_flush(conn *c, const char *reason)
{
    if (!c->close_reason)
        c->close_reason = reason;
    c->phase = PHASE_CLOSING;
    if (output_pending(c) == 0) {
        conn_free(c);
        return;
    }
    bufferevent_disable(c->bev, EV_READ);
    if (bufferevent_get_underlying(c->bev) && !c->timer) {
        /* the filter's write callback does not see the socket drain: look every few ms */
        c->sniff_deadline = 0;
        struct timeval tv = {0, 5000};
        c->timer = evtimer_new(c->srv->base, on_flush_check, c);
        if (c->timer)
            evtimer_add(c->timer, &tv);
    }
}

/* ---- session_io over the connection ----------------------------------------------------- */

static void io_send(void *ctx, const char *p, size_t n)
{
    conn *c = ctx;
    if (!c->bev || c->phase == PHASE_CLOSING)
        return;
    if (c->info.held) {
        /* transcribed when it really goes out, so the record's time is when the client saw it */
        evbuffer_add(c->held, p, n);
        return;
    }
    transcript_data(c->tr, c->info.conn_id, 'S', p, n, 0);
    if (c->plain_socket && n && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        /* Nothing queued: hand the reply to the kernel now. A request/response protocol then
         * costs one write per reply, not a write-event round trip of the loop (two epoll_ctl
         * and an epoll_wait); what does not fit goes to the bufferevent as usual, so order and
         * back-pressure are unchanged. */
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        }
        if (n == 0)
            return;
    }
    bufferevent_write(c->bev, p, n);
}

static void io_client_data(void *ctx, const char *p, size_t n, int is_payload)
{
    conn *c = ctx;
    transcript_data(c->tr, c->info.conn_id, 'C', p, n, is_payload);
}

static void begin_starttls(conn *c);

static void io_start_tls(void *ctx)
{
    conn *c = ctx;
    if (!c->lst->spec.tls || c->info.tls_active) {
        conn_event(c, "starttls-refused reason=%s", c->info.tls_active ? "already-tls" : "no-tls");
        return;
    }
    c->starttls_pending = 1;
    /* the upgrade starts once the reply is out and the STARTTLS line has been drained from
     * the input: at the end of feed_session(), or in on_write() */
    if (!c->in_feed && output_pending(c) == 0)
        begin_starttls(c);
}

static void io_close(void *ctx, const char *reason)
{
    conn *c = ctx;
    if (c->info.held) {
        if (!c->held_close)
            c->held_close = reason; /* after the held replies, when the delay is over */
        return;
    }
    /* Freed later from the callbacks: the session is still on the stack. */
    if (!c->close_reason)
        c->close_reason = reason;
    c->phase = PHASE_CLOSING;
}

static void io_event(void *ctx, const char *text)
{
    conn_event(ctx, "%s", text);
}

static void feed_session(conn *c);

/* The hold of io_delay is over: send what was held, then close or go on reading. */
static void on_delay_done(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    (void)fd, (void)what;
    c->info.held = 0;
    size_t n = evbuffer_get_length(c->held);
    if (n) {
        const char *p = (const char *)evbuffer_pullup(c->held, (ev_ssize_t)n);
        if (p)
            io_send(c, p, n);
        evbuffer_drain(c->held, n);
    }
    if (c->held_close) {
        io_close(c, c->held_close);
        conn_close_after_flush(c, c->close_reason);
        return;
    }
    if (!c->reading_paused)
        bufferevent_enable(c->bev, EV_READ);
    feed_session(c);
}

/* A timer, not a sleep: the loop serves every other connection meanwhile. Reading stops so
 * that what the client sends during the hold stays in the kernel's buffer (bounded). */
static void io_delay(void *ctx, unsigned ms)
{
    conn *c = ctx;
    if (!ms || !c->bev || c->phase != PHASE_SESSION || c->info.held)
        return;
    if (!c->held)
        c->held = evbuffer_new();
    if (!c->delay_timer)
        c->delay_timer = evtimer_new(c->srv->base, on_delay_done, c);
    if (!c->held || !c->delay_timer)
        return; /* out of memory: the reply goes out at once */
    c->info.held = 1;
    conn_event(c, EV_REPLY_DELAYED " ms=%u", ms);
    bufferevent_disable(c->bev, EV_READ);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    /* from now, not from the loop's cached time (older by however long this read took):
     * the reply must not go out before the whole delay has passed */
    event_base_update_cache_time(c->srv->base);
    evtimer_add(c->delay_timer, &tv);
}

/* ---- feeding the session ---------------------------------------------------------------- */

/* First bytes on a plaintext port: a TLS ClientHello means the client chose implicit TLS
 * on a STARTTLS (or plain) port -- the most common mail setup mistake. */
static int check_first_input(conn *c, struct evbuffer *in)
{
    char head[TLSSNIFF_DECIDE_BYTES];
    ssize_t n = evbuffer_copyout(in, head, sizeof head);
    if (n <= 0)
        return 0;
    tlssniff_kind kind = tlssniff_classify(head, (size_t)n, 0);
    if (kind == TLSSNIFF_NEED_MORE)
        return 0; /* decide when more bytes are in; the session waits for a line anyway */
    c->first_input_seen = 1;
    if (kind != TLSSNIFF_TLS_HELLO && kind != TLSSNIFF_SSL2_HELLO)
        return 0;
    conn_event(c, "%s", c->lst->spec.mode == LISTEN_STARTTLS ? EV_TLS_ON_STARTTLS_PORT : EV_TLS_ON_PLAIN_PORT);
    if (c->lst->spec.on_client_hello == HELLO_CLOSE) {
        conn_close_after_flush(c, "client-hello-on-plaintext-port");
        return -1;
    }
    return 0;
}

static void feed_session(conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    c->in_feed = 1;
    while (c->phase == PHASE_SESSION && !c->starttls_pending && !c->info.held) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            break;
        size_t chunk = avail < c->srv->limits.max_input_chunk ? avail : c->srv->limits.max_input_chunk;
        const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)chunk);
        if (!p) {
            conn_close_after_flush(c, "out-of-memory");
            return;
        }
        size_t used = c->sess->ops->input(c->sess, p, chunk);
        if (used > chunk)
            used = chunk; /* a session bug must not turn into an over-drain */
        evbuffer_drain(in, used);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > c->srv->limits.max_output) {
            /* The client is not reading what we send: stop reading what it sends. */
            c->reading_paused = 1;
            bufferevent_disable(c->bev, EV_READ);
            break;
        }
        if (used == 0) {
            if (chunk < avail || chunk == c->srv->limits.max_input_chunk) {
                /* The session wants more than we may hand it at once: its limits failed. */
                conn_event(c, "session-stalled bytes=%zu", chunk);
                conn_close_after_flush(c, "session-stalled");
                return; /* c may be gone */
            }
            break;
        }
    }
    c->in_feed = 0;
    if (c->phase == PHASE_CLOSING)
        conn_close_after_flush(c, c->close_reason);
    else if (c->starttls_pending && c->phase == PHASE_SESSION && output_pending(c) == 0)
        begin_starttls(c);
}

/* ---- callbacks -------------------------------------------------------------------------- */

static void on_flush_check(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    (void)fd, (void)what;
    /* give up after about 10 s (2000 checks): a peer that reads nothing is not waited for */
    if (output_pending(c) == 0 || ++c->sniff_deadline > 2000) {
        conn_free(c);
        return;
    }
    struct timeval tv = {0, 5000};
    evtimer_add(c->timer, &tv);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    (void)bev;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (c->phase == PHASE_SILENT) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if (c->phase != PHASE_SESSION)
        return;
    if (!c->first_input_seen && !c->info.tls_active && check_first_input(c, in) < 0)
        return;
    feed_session(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    (void)bev;
    size_t pending = evbuffer_get_length(bufferevent_get_output(c->bev));
    if (pending > 0)
        return;
    if (c->phase == PHASE_CLOSING) {
        if (output_pending(c) == 0)
            conn_free(c);
        return;
    }
    if (c->starttls_pending) {
        begin_starttls(c);
        return;
    }
    if (c->reading_paused) {
        c->reading_paused = 0;
        if (c->info.held)
            return; /* on_delay_done resumes reading */
        bufferevent_enable(c->bev, EV_READ);
        feed_session(c);
    }
}

/* libevent keeps OpenSSL's errors for the bufferevent; the first one names the failure. */
static void tls_failed(conn *c, const char *when)
{
    char reason[256] = "unexpected EOF";
    unsigned long e = c->bev ? bufferevent_get_openssl_error(c->bev) : 0;
    if (e) {
        const char *r = ERR_reason_error_string(e);
        snprintf(reason, sizeof reason, "%s", r ? r : "unknown OpenSSL error");
    }
    while (c->bev && bufferevent_get_openssl_error(c->bev))
        ;
    char desc[512];
    SSL *ssl = c->bev ? bufferevent_openssl_get_ssl(c->bev) : NULL;
    if (ssl)
        tls_describe_failure_reason(ssl, reason, desc, sizeof desc);
    else
        snprintf(desc, sizeof desc, "reason=\"%s\"", reason);
    transcript_record(c->tr, c->info.conn_id, "tls", "fail %s %s", when, desc);
    conn_log(c, "tls fail %s %s", when, desc);
}

static void start_session(conn *c);

/* The TLS handshake finished (implicit, or after STARTTLS). */
static void tls_connected(conn *c, struct bufferevent *bev)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    c->info.tls_active = 1;
    tls_describe_session(ssl, c->info.tls_desc, sizeof c->info.tls_desc);
    transcript_record(c->tr, c->info.conn_id, "tls", "ok %s", c->info.tls_desc);
    conn_log(c, "tls ok %s", c->info.tls_desc);
    if (!c->sess) {
        start_session(c);
        return;
    }
    c->phase = PHASE_SESSION;
    bufferevent_set_timeouts(c->bev, &(struct timeval){idle_timeout(c), 0}, NULL);
    c->sess->ops->tls_ready(c->sess);
    if (c->carried && evbuffer_get_length(c->carried) > 0) {
        /* Vulnerable on purpose: the plaintext the client pipelined before the handshake
         * is now treated as if it had come through TLS. */
        conn_event(c, EV_STARTTLS_ACCEPTED " bytes=%zu", evbuffer_get_length(c->carried));
        evbuffer_prepend_buffer(bufferevent_get_input(c->bev), c->carried);
    }
    feed_session(c);
}

static void on_timeout(conn *c)
{
    switch (c->phase) {
    case PHASE_SESSION:
        conn_event(c, EV_IDLE_TIMEOUT " seconds=%d", idle_timeout(c));
        c->sess->ops->timeout(c->sess);
        conn_close_after_flush(c, "idle-timeout");
        return;
    case PHASE_SILENT:
        c->close_reason = "silent-hold-expired";
        break;
    case PHASE_HANDSHAKE:
        conn_event(c, "handshake-timeout seconds=%d", c->srv->limits.handshake_timeout_s);
        c->close_reason = "handshake-timeout";
        break;
    default:
        c->close_reason = c->close_reason ? c->close_reason : "timeout";
    }
    conn_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        tls_connected(c, bev);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        on_timeout(c);
        return;
    }
    /* An error or the peer's EOF. */
    if (c->phase == PHASE_HANDSHAKE) {
        tls_failed(c, "handshake");
        c->close_reason = "tls-handshake-failed";
    } else if (!c->close_reason && (what & BEV_EVENT_ERROR)) {
        int e = EVUTIL_SOCKET_ERROR();
        c->close_reason = e ? evutil_socket_error_to_string(e) : "error";
    } else if (!c->close_reason) {
        c->close_reason = "peer-closed";
    }
    conn_free(c);
}

/* ---- STARTTLS --------------------------------------------------------------------------- */

static void begin_starttls(conn *c)
{
    c->starttls_pending = 0;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t pipelined = evbuffer_get_length(in);
    if (pipelined > 0) {
        /* Bytes sent after the STARTTLS command, before the handshake: the injection
         * class of CVE-2011-0411 / CVE-2021-33515. A correct server throws them away. */
        if (c->lst->spec.starttls_vulnerable) {
            c->carried = evbuffer_new();
            evbuffer_add_buffer(c->carried, in);
            conn_event(c, EV_STARTTLS_KEPT " bytes=%zu", pipelined);
        } else {
            evbuffer_drain(in, pipelined);
            conn_event(c, EV_STARTTLS_DISCARDED " bytes=%zu", pipelined);
        }
    }
    SSL *ssl = SSL_new(c->lst->spec.tls);
    if (!ssl) {
        tls_failed(c, "SSL_new");
        conn_close_after_flush(c, "tls-setup-failed");
        return;
    }
    struct bufferevent *tls = bufferevent_openssl_filter_new(
        c->srv->base, c->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (!tls) {
        SSL_free(ssl);
        conn_close_after_flush(c, "tls-setup-failed");
        return;
    }
    c->bev = tls;
    c->plain_socket = 0;
    c->phase = PHASE_HANDSHAKE;
    bufferevent_setcb(tls, on_read, on_write, on_event, c);
    bufferevent_set_timeouts(tls, &(struct timeval){c->srv->limits.handshake_timeout_s, 0}, NULL);
    bufferevent_enable(tls, EV_READ | EV_WRITE);
}

/* ---- accepting -------------------------------------------------------------------------- */

static void start_session(conn *c)
{
    c->phase = PHASE_SESSION;
    c->sess = c->lst->spec.factory(c->lst->spec.factory_ctx, &c->io, &c->info);
    if (!c->sess) {
        c->close_reason = "session-create-failed";
        conn_free(c);
        return;
    }
    bufferevent_set_timeouts(c->bev, &(struct timeval){idle_timeout(c), 0}, NULL);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->sess->ops->open(c->sess);
    if (c->phase == PHASE_CLOSING)
        conn_close_after_flush(c, c->close_reason);
}

static int start_implicit_tls(conn *c)
{
    SSL *ssl = SSL_new(c->lst->spec.tls);
    if (!ssl)
        return -1;
    c->bev = bufferevent_openssl_socket_new(c->srv->base, c->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        SSL_free(ssl);
        return -1;
    }
    c->phase = PHASE_HANDSHAKE;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_set_timeouts(c->bev, &(struct timeval){c->srv->limits.handshake_timeout_s, 0}, NULL);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_sniff(evutil_socket_t fd, short what, void *arg);

/* (Re)arm the sniffing event: for readability (EV_READ) until the deadline, or, while the
 * bytes already there are too few to tell (peeking leaves them readable, so waiting for
 * readability would spin), for a short pause. */
static void sniff_arm(conn *c, short events, double wait)
{
    double left = c->sniff_deadline - now_s();
    if (wait > left)
        wait = left > 0 ? left : 0;
    event_del(c->timer);
    event_assign(c->timer, c->srv->base, c->fd, events, on_sniff, c);
    struct timeval tv = {(time_t)wait, (suseconds_t)((wait - (double)(time_t)wait) * 1e6)};
    event_add(c->timer, &tv);
}

/* Implicit-TLS port: look at the first bytes (without consuming them) before deciding. */
static void on_sniff(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    (void)what;
    if (now_s() >= c->sniff_deadline) {
        conn_event(c, EV_NO_CLIENT_HELLO " seconds=%d", c->srv->limits.handshake_timeout_s);
        c->close_reason = "handshake-timeout";
        conn_free(c);
        return;
    }
    char head[TLSSNIFF_DECIDE_BYTES];
    ssize_t n = recv(fd, head, sizeof head, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        sniff_arm(c, EV_READ, c->sniff_deadline);
        return;
    }
    if (n <= 0) {
        c->close_reason = n == 0 ? "peer-closed" : "recv-error";
        conn_free(c);
        return;
    }
    tlssniff_kind kind = tlssniff_classify(head, (size_t)n, 0);
    if (kind == TLSSNIFF_NEED_MORE) {
        sniff_arm(c, 0, 0.02);
        return;
    }
    int hello = kind == TLSSNIFF_TLS_HELLO || kind == TLSSNIFF_SSL2_HELLO;
    if (hello || c->lst->spec.on_plaintext == PLAINTEXT_ALERT) {
        if (!hello)
            conn_event(c, EV_PLAINTEXT_ON_TLS_PORT " answer=alert first=%s",
                       tlssniff_kind_name(kind));
        event_free(c->timer);
        c->timer = NULL;
        if (start_implicit_tls(c) != 0) {
            c->close_reason = "tls-setup-failed";
            conn_free(c);
        }
        return;
    }
    if (c->lst->spec.on_plaintext == PLAINTEXT_CLOSE) {
        conn_event(c, EV_PLAINTEXT_ON_TLS_PORT " answer=close");
        c->close_reason = "plaintext-on-implicit-tls-port";
        conn_free(c);
        return;
    }
    /* PLAINTEXT_SILENCE: drop what the client sends and say nothing until the timeout. */
    conn_event(c, EV_PLAINTEXT_ON_TLS_PORT " answer=silence");
    event_free(c->timer);
    c->timer = NULL;
    c->phase = PHASE_SILENT;
    c->bev = bufferevent_socket_new(c->srv->base, c->fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        conn_free(c);
        return;
    }
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_set_timeouts(c->bev, &(struct timeval){c->srv->limits.handshake_timeout_s, 0}, NULL);
    bufferevent_enable(c->bev, EV_READ);
}

static int count_from_address(server *srv, const char *addr_only)
{
    int n = 0;
    size_t len = strlen(addr_only);
    for (conn *c = srv->conns; c; c = c->next)
        if (strncmp(c->info.peer, addr_only, len) == 0 && c->info.peer[len] == ':')
            n++;
    return n;
}

static void format_peer(const struct sockaddr *sa, char *out, size_t cap, char *addr, size_t acap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    snprintf(addr, acap, "%s", host);
    snprintf(out, cap, "%s:%d", host, port);
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    listener *lst = arg;
    server *srv = lst->srv;
    (void)evl, (void)salen;
    char peer[64], addr[INET6_ADDRSTRLEN];
    format_peer(sa, peer, sizeof peer, addr, sizeof addr);
    if (srv->nconns >= srv->limits.max_connections ||
        count_from_address(srv, addr) >= srv->limits.max_per_address) {
        if (srv->log)
            fprintf(srv->log, "refused %s %d: connection limit reached (%d open)\n",
                    lst->spec.protocol, lst->spec.provider_port, srv->nconns);
        evutil_closesocket(fd);
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->srv = srv;
    c->lst = lst;
    c->fd = fd;
    c->info.conn_id = ++srv->next_id;
    c->info.provider_port = lst->spec.provider_port;
    c->info.starttls_offered = lst->spec.mode == LISTEN_STARTTLS;
    snprintf(c->info.peer, sizeof c->info.peer, "%s", peer);
    c->io = (session_io){c, io_send, io_client_data, io_start_tls, io_close, io_event, io_delay};
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    evutil_make_socket_nonblocking(fd);
    open_transcript(c);
    transcript_record(c->tr, c->info.conn_id, "open", "%s:%d mode=%s proto=%s port=%d peer=%s%s%s",
                      lst->spec.host, lst->port, listen_mode_name(lst->spec.mode),
                      lst->spec.protocol, lst->spec.provider_port, peer,
                      lst->spec.cert ? " cert=" : "", lst->spec.cert ? lst->spec.cert : "");
    conn_log(c, "open %s peer=%s", listen_mode_name(lst->spec.mode), peer);

    switch (lst->spec.mode) {
    case LISTEN_IMPLICIT_TLS:
        c->phase = PHASE_SNIFF;
        c->sniff_deadline = now_s() + srv->limits.handshake_timeout_s;
        c->timer = event_new(srv->base, fd, EV_READ, on_sniff, c);
        if (!c->timer) {
            conn_free(c);
            return;
        }
        sniff_arm(c, EV_READ, srv->limits.handshake_timeout_s);
        return;
    case LISTEN_SILENT:
        conn_event(c, EV_SILENT_PORT);
        c->phase = PHASE_SILENT;
        c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (!c->bev) {
            conn_free(c);
            return;
        }
        bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
        bufferevent_set_timeouts(c->bev, &(struct timeval){srv->limits.silent_hold_s, 0}, NULL);
        bufferevent_enable(c->bev, EV_READ);
        return;
    default:
        c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (!c->bev) {
            conn_free(c);
            return;
        }
        c->plain_socket = 1;
        bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
        start_session(c);
    }
}

/* ---- listeners -------------------------------------------------------------------------- */

static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *len = sizeof *in;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    return -1;
}

static int bound_port(evutil_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Bind without listening: connecting to it is refused, and nobody else can take the port. */
static evutil_socket_t bind_closed(const struct sockaddr *sa, socklen_t len)
{
    evutil_socket_t fd = socket(sa->sa_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    evutil_make_listen_socket_reuseable(fd);
    if (bind(fd, sa, len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int server_listen(server *srv, const listener_spec *spec, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (resolve(spec->host, spec->port, &ss, &len) != 0) {
        snprintf(err, errlen, "%s: not a numeric IPv4 or IPv6 address", spec->host);
        return -1;
    }
    if ((spec->mode == LISTEN_IMPLICIT_TLS || spec->mode == LISTEN_STARTTLS) && !spec->tls) {
        snprintf(err, errlen, "%s port %d: mode %s needs a TLS context", spec->protocol,
                 spec->provider_port, listen_mode_name(spec->mode));
        return -1;
    }
    listener *lst = calloc(1, sizeof *lst);
    if (!lst) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    lst->srv = srv;
    lst->spec = *spec;
    lst->closed_fd = -1;
    evutil_socket_t fd;
    if (spec->mode == LISTEN_CLOSED) {
        fd = lst->closed_fd = bind_closed((struct sockaddr *)&ss, len);
    } else {
        lst->evl = evconnlistener_new_bind(srv->base, on_accept, lst,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                           (struct sockaddr *)&ss, (int)len);
        fd = lst->evl ? evconnlistener_get_fd(lst->evl) : -1;
    }
    if (fd < 0) {
        snprintf(err, errlen, "%s:%d (%s %d): %s", spec->host, spec->port, spec->protocol,
                 spec->provider_port, strerror(errno));
        free(lst);
        return -1;
    }
    lst->port = bound_port(fd);
    lst->next = srv->listeners;
    srv->listeners = lst;
    return lst->port;
}

/* ---- server ----------------------------------------------------------------------------- */

server *server_new(struct event_base *base, const server_limits *limits, FILE *log,
                   const char *transcript_dir, char *err, size_t errlen)
{
    server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->base = base;
    srv->limits = limits ? *limits : server_limits_default();
    srv->log = log;
    if (transcript_dir && !(srv->transcript_dir = strdup(transcript_dir))) {
        free(srv);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->t0 = now_s();
    return srv;
}

int server_connection_count(const server *srv)
{
    return srv->nconns;
}

void server_free(server *srv)
{
    if (!srv)
        return;
    while (srv->conns) {
        if (!srv->conns->close_reason)
            srv->conns->close_reason = "server-shutdown";
        conn_free(srv->conns);
    }
    while (srv->listeners) {
        listener *l = srv->listeners;
        srv->listeners = l->next;
        if (l->evl)
            evconnlistener_free(l->evl);
        if (l->closed_fd >= 0)
            evutil_closesocket(l->closed_fd);
        free(l);
    }
    free(srv->transcript_dir);
    free(srv);
}
