/* memconn.c -- see memconn.h. */
#include "servers/memconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mbuf {
    char *p;
    size_t n, cap;
    size_t total;  /* bytes offered, kept or not */
} mbuf;

static void mbuf_put(mbuf *b, const char *p, size_t n)
{
    b->total += n;
    if (b->n + n > MEMCONN_MAX_KEEP)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

struct memconn {
    session *s;
    session_io io;
    session_info info;
    mbuf out, client, events;
    char *pending;
    size_t npending, cap;
    size_t fed, consumed, discarded, dropped;
    int closed, tls_pending, vulnerable, stalled, in_input;
    unsigned delays;
    char reason[64];
};

static void io_send(void *ctx, const char *p, size_t n)
{
    memconn *m = ctx;
    mbuf_put(&m->out, p, n);
}

static void io_client_data(void *ctx, const char *p, size_t n, int is_payload)
{
    memconn *m = ctx;
    (void)is_payload;
    mbuf_put(&m->client, p, n);
}

static void io_start_tls(void *ctx)
{
    memconn *m = ctx;
    if (!m->info.tls_active)
        m->tls_pending = 1;
}

static void io_close(void *ctx, const char *reason)
{
    memconn *m = ctx;
    if (!m->closed)
        snprintf(m->reason, sizeof m->reason, "%s", reason ? reason : "closed");
    m->closed = 1;
}

static void io_event(void *ctx, const char *text)
{
    memconn *m = ctx;
    mbuf_put(&m->events, text, strlen(text));
    mbuf_put(&m->events, "\n", 1);
}

/* No clock here: the hold is recorded and ends as soon as the session returns (run() clears
 * it and offers the rest of the input again), so a session's stop-after-the-delayed-command
 * path runs in the unit tests and fuzzers without waiting. */
static void io_delay(void *ctx, unsigned ms)
{
    memconn *m = ctx;
    char ev[48];
    snprintf(ev, sizeof ev, "reply-delayed ms=%u", ms);
    io_event(m, ev);
    m->info.held = 1;
    m->delays++;
}

memconn *memconn_new(session_factory factory, void *ctx, const memconn_opts *opts)
{
    memconn *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    memconn_opts o = opts ? *opts : (memconn_opts){0};
    m->io = (session_io){m, io_send, io_client_data, io_start_tls, io_close, io_event, io_delay};
    m->info.conn_id = o.conn_id ? o.conn_id : 1;
    m->info.provider_port = o.provider_port;
    m->info.tls_active = o.tls_active;
    m->info.starttls_offered = o.starttls_offered;
    m->vulnerable = o.vulnerable;
    snprintf(m->info.peer, sizeof m->info.peer, "%s", o.peer ? o.peer : "127.0.0.1:40000");
    if (o.tls_active)
        snprintf(m->info.tls_desc, sizeof m->info.tls_desc, "TLSv1.3 memconn");
    m->s = factory(ctx, &m->io, &m->info);
    if (!m->s) {
        free(m);
        return NULL;
    }
    m->s->ops->open(m->s);
    return m;
}

void memconn_free(memconn *m)
{
    if (!m)
        return;
    if (m->s)
        m->s->ops->free(m->s);
    free(m->out.p);
    free(m->client.p);
    free(m->events.p);
    free(m->pending);
    free(m);
}

void memconn_tls(memconn *m)
{
    if (!m->tls_pending || m->closed)
        return;
    m->tls_pending = 0;
    m->info.tls_active = 1;
    snprintf(m->info.tls_desc, sizeof m->info.tls_desc, "TLSv1.3 memconn");
    m->s->ops->tls_ready(m->s);
}

/* The carrier's loop: offer everything pending until the session stops consuming. */
static size_t run(memconn *m)
{
    size_t total = 0;
    while (m->npending && !m->closed && !m->tls_pending) {
        size_t k = m->s->ops->input(m->s, m->pending, m->npending);
        if (k > m->npending) {
            fprintf(stderr, "memconn: session consumed %zu of %zu bytes\n", k, m->npending);
            abort();
        }
        if (k == 0) {
            if (m->npending > MEMCONN_MAX_PENDING) {
                m->stalled = 1;
                io_close(m, "session-stalled");
            }
            break;
        }
        memmove(m->pending, m->pending + k, m->npending - k);
        m->npending -= k;
        m->consumed += k;
        total += k;
        m->info.held = 0; /* the delay is over at once (see io_delay) */
    }
    if (m->tls_pending && m->npending && !m->vulnerable) {
        m->discarded += m->npending; /* plaintext pipelined after STARTTLS */
        m->npending = 0;
    }
    if (m->closed && m->npending) {
        m->dropped += m->npending;
        m->npending = 0;
    }
    return total;
}

size_t memconn_feed(memconn *m, const char *p, size_t n)
{
    m->fed += n;
    if (m->closed) {
        m->dropped += n;
        return 0;
    }
    if (m->tls_pending) {
        if (m->npending && !m->vulnerable) {
            m->discarded += m->npending;
            m->npending = 0;
        }
        memconn_tls(m);
    }
    if (m->npending + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->npending + n)
            cap *= 2;
        char *q = realloc(m->pending, cap);
        if (!q) {
            m->dropped += n;
            return 0;
        }
        m->pending = q;
        m->cap = cap;
    }
    if (n) {
        memcpy(m->pending + m->npending, p, n);
        m->npending += n;
    }
    return run(m);
}

size_t memconn_feed_str(memconn *m, const char *s)
{
    return memconn_feed(m, s, strlen(s));
}

void memconn_timeout(memconn *m)
{
    if (m->closed)
        return;
    m->s->ops->timeout(m->s);
    io_close(m, "idle-timeout");
    m->dropped += m->npending;
    m->npending = 0;
}

const char *memconn_output(const memconn *m, size_t *n)
{
    if (n)
        *n = m->out.n;
    return m->out.p ? m->out.p : "";
}

void memconn_output_clear(memconn *m)
{
    m->out.n = 0;
    if (m->out.p)
        m->out.p[0] = '\0';
}

const char *memconn_client_data(const memconn *m, size_t *n)
{
    if (n)
        *n = m->client.n;
    return m->client.p ? m->client.p : "";
}

const char *memconn_events(const memconn *m)
{
    return m->events.p ? m->events.p : "";
}

int memconn_closed(const memconn *m)
{
    return m->closed;
}

const char *memconn_close_reason(const memconn *m)
{
    return m->closed ? m->reason : "";
}

int memconn_tls_pending(const memconn *m)
{
    return m->tls_pending;
}

int memconn_tls_active(const memconn *m)
{
    return m->info.tls_active;
}

int memconn_stalled(const memconn *m)
{
    return m->stalled;
}

memconn_counts memconn_get_counts(const memconn *m)
{
    memconn_counts c = {
        .fed = m->fed,
        .consumed = m->consumed,
        .pending = m->npending,
        .discarded = m->discarded,
        .dropped = m->dropped,
        .reported = m->client.total,
        .output = m->out.total,
    };
    return c;
}

session *memconn_session(const memconn *m)
{
    return m->s;
}

store *memconn_store(const profile *p, const char *const *msgs, size_t nmsgs)
{
    store_config cfg;
    store_config_default(&cfg);
    cfg.uidvalidity = 1700000000; /* fixed, so UIDL listings are the same on every run */
    store *st = NULL;
    if (store_open(&cfg, &st) != STORE_OK)
        return NULL;
    for (size_t i = 0; i < p->n_accounts; i++) {
        store_account *a;
        if (store_account_add(st, p->accounts[i].name, &a, NULL) != STORE_OK)
            goto fail;
        for (size_t k = 0; k < p->n_folders; k++) {
            store_err e = store_mailbox_create(st, a, p->folders[k].name, 0, NULL);
            if (e != STORE_OK && e != STORE_E_EXISTS)
                goto fail;
        }
        store_mailbox *inbox = store_mailbox_find(a, "INBOX");
        for (size_t k = 0; inbox && k < nmsgs; k++)
            if (store_append(st, inbox, msgs[k], strlen(msgs[k]), NULL, NULL) != STORE_OK)
                goto fail;
    }
    return st;
fail:
    store_close(st);
    return NULL;
}

unsigned memconn_delays(const memconn *m)
{
    return m->delays;
}
