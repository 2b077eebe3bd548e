/* probe_net.c -- the network half of `mailrig probe`: every attempt of the plan at once, on
 * one libevent loop (see probe.h).
 *
 * TLS runs over memory BIOs rather than on the socket: the attempt sees every byte the server
 * sends before OpenSSL does, so a plaintext "220 ..." answering our ClientHello is recorded as
 * a greeting (the mismatch) instead of vanishing into "wrong version number", and bytes a
 * server sends after its STARTTLS reply can be counted before the handshake starts.
 *
 * Each attempt is a small state machine: connect, [TLS handshake], greeting, capability
 * request, [STARTTLS, handshake, capability request again], goodbye. One deadline per attempt
 * (probe_config.timeout_ms) bounds all of it; nothing here can wait longer.
 */
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "harness/probe.h"
#include "proto/tlssniff.h"

enum { IN_MAX = 64 * 1024, OUT_MAX = 16 * 1024 };

typedef enum step {
    ST_CONNECT,     /* waiting for the connection */
    ST_HANDSHAKE,   /* TLS handshake (implicit, or after STARTTLS when tls_after) */
    ST_MISMATCH,    /* a TLS attempt got plaintext: collect the first line, then stop */
    ST_GREETING,
    ST_CAPA,        /* CAPABILITY / EHLO / CAPA sent */
    ST_STLS,        /* STARTTLS / STLS sent */
    ST_DONE,
} step;

static const char *const step_words[] = {
    "the connection", "the TLS handshake", "the greeting's end", "the greeting",
    "the capability list", "the STARTTLS reply", "nothing",
};

typedef struct run run;

typedef struct pconn {
    run *r;
    probe_attempt *a;
    int fd;
    struct event *rev, *wev, *timer;
    SSL *ssl;
    BIO *rbio, *wbio;        /* memory BIOs: network -> OpenSSL, OpenSSL -> network */
    bool tls_on;             /* application bytes go through ssl */
    bool tls_after;          /* the handshake running is a STARTTLS upgrade */
    bool any_byte;           /* the server has sent something */
    bool pop3_multi;         /* POP3 CAPA: the +OK came, reading lines up to "." */
    bool memory;             /* probe_converse_memory(): no socket, no TLS engine */
    size_t mem_skip;         /* memory mode: bytes of the first TLS record still to drop */
    char sniff[TLSSNIFF_DECIDE_BYTES];
    size_t sniffed;
    char in[IN_MAX];         /* application bytes not yet read by the protocol step */
    size_t inlen;
    char out[OUT_MAX];       /* socket bytes not yet written */
    size_t outlen;
    char caps[PROBE_CAPS];   /* the capability list being collected */
    size_t capslen;
    step st;
    struct timespec t0;
} pconn;

struct run {
    struct event_base *base;
    SSL_CTX *ctx;
    const probe_config *cfg;
    int pending;
};

static void finish(pconn *c);

/* ---- small helpers ------------------------------------------------------------------------ */

static unsigned ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
    return ms < 0 ? 0 : (unsigned)ms;
}

__attribute__((format(printf, 2, 3))) static void set_detail(pconn *c, const char *fmt, ...)
{
    if (c->a->detail[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->a->detail, sizeof c->a->detail, fmt, ap);
    va_end(ap);
}

/* Hand pending socket bytes to the kernel; wait for writability when it takes no more. */
static void flush_out(pconn *c)
{
    if (c->memory) {
        c->outlen = 0; /* nobody listens: what we say does not change what comes back */
        return;
    }
    if (c->ssl) {
        char buf[4096];
        int n;
        while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) {
            if (c->outlen + (size_t)n > sizeof c->out) {
                set_detail(c, "%s", "output overflow");
                return;
            }
            memcpy(c->out + c->outlen, buf, (size_t)n);
            c->outlen += (size_t)n;
        }
    }
    while (c->outlen) {
        ssize_t w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0) {
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                event_add(c->wev, NULL);
            else
                c->outlen = 0; /* the peer is gone; the read side will see it */
            return;
        }
        memmove(c->out, c->out + w, c->outlen - (size_t)w);
        c->outlen -= (size_t)w;
    }
}

/* Send a command line (CRLF added), through TLS when it is on. */
static void send_line(pconn *c, const char *line)
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s\r\n", line);
    if (c->tls_on && c->ssl) {
        SSL_write(c->ssl, buf, n); /* a memory BIO takes it all */
    } else if (c->outlen + (size_t)n <= sizeof c->out) {
        memcpy(c->out + c->outlen, buf, (size_t)n);
        c->outlen += (size_t)n;
    }
    flush_out(c);
}

/* The next line of in[] (without its line end) as [*p, *p + *n); returns the bytes it takes
 * with the line end, or 0 when no whole line is there yet. */
static size_t next_line(const pconn *c, size_t from, const char **p, size_t *n)
{
    const char *s = c->in + from;
    const char *nl = memchr(s, '\n', c->inlen - from);
    if (!nl)
        return 0;
    size_t len = (size_t)(nl - s);
    *p = s;
    *n = len && s[len - 1] == '\r' ? len - 1 : len;
    return len + 1;
}

static void consume(pconn *c, size_t n)
{
    memmove(c->in, c->in + n, c->inlen - n);
    c->inlen -= n;
}

static void caps_add(pconn *c, const char *p, size_t n, char sep)
{
    if (c->capslen && c->capslen + 1 < sizeof c->caps)
        c->caps[c->capslen++] = sep;
    char clean[PROBE_CAPS];
    size_t k = probe_sanitize(p, n, clean, sizeof clean);
    if (c->capslen + k >= sizeof c->caps)
        k = sizeof c->caps - 1 - c->capslen;
    memcpy(c->caps + c->capslen, clean, k);
    c->capslen += k;
    c->caps[c->capslen] = '\0';
}

/* ---- TLS ------------------------------------------------------------------------------------- */

static void name_text(const X509_NAME *name, char *out, size_t cap)
{
    out[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    if (n > 0)
        probe_sanitize(p, (size_t)n, out, cap);
    BIO_free(b);
}

static bool is_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void record_tls(pconn *c)
{
    probe_tls *t = &c->a->tls;
    t->done = true;
    snprintf(t->version, sizeof t->version, "%s", SSL_get_version(c->ssl));
    const SSL_CIPHER *ci = SSL_get_current_cipher(c->ssl);
    snprintf(t->cipher, sizeof t->cipher, "%s", ci ? SSL_CIPHER_get_name(ci) : "?");
    t->verify = tls_describe_verify(c->ssl, t->verify_desc, sizeof t->verify_desc);
    X509 *cert = SSL_get1_peer_certificate(c->ssl);
    if (!cert)
        return;
    name_text(X509_get_subject_name(cert), t->subject, sizeof t->subject);
    name_text(X509_get_issuer_name(cert), t->issuer, sizeof t->issuer);
    const char *name = c->r->cfg->check_name;
    if (name && *name)
        t->host_match = is_ip(name) ? X509_check_ip_asc(cert, name, 0) == 1
                                    : X509_check_host(cert, name, 0,
                                                      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
    X509_free(cert);
}

static void after_handshake(pconn *c);

static void tls_failed(pconn *c, int rc)
{
    tls_describe_failure(c->ssl, SSL_get_error(c->ssl, rc), c->a->tls.failure,
                         sizeof c->a->tls.failure);
    if (c->tls_after)
        c->a->starttls = PROBE_STLS_FAILED;
    else
        c->a->outcome = PROBE_TLS_FAILED;
    finish(c);
}

static void handshake_step(pconn *c)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(c->ssl);
    flush_out(c);
    if (rc == 1) {
        after_handshake(c);
        return;
    }
    if (SSL_get_error(c->ssl, rc) != SSL_ERROR_WANT_READ)
        tls_failed(c, rc);
}

static int start_tls(pconn *c)
{
    if (c->memory) {
        /* no TLS engine: an upgrade succeeds at once; implicit TLS waits for the first bytes */
        c->st = ST_HANDSHAKE;
        if (c->tls_after)
            after_handshake(c);
        return 0;
    }
    c->ssl = SSL_new(c->r->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        set_detail(c, "%s", "out of memory (TLS)");
        finish(c);
        return -1;
    }
    BIO_set_mem_eof_return(c->rbio, -1); /* empty means "wait", not EOF */
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
    const char *sni = c->r->cfg->server_name;
    if (sni && *sni && !is_ip(sni))
        SSL_set_tlsext_host_name(c->ssl, sni);
    c->st = ST_HANDSHAKE;
    handshake_step(c);
    return 0;
}

/* ---- the conversation ------------------------------------------------------------------------ */

static void ask_caps(pconn *c)
{
    c->capslen = 0;
    c->caps[0] = '\0';
    c->pop3_multi = false;
    c->st = ST_CAPA;
    switch (c->a->proto) {
    case PROFILE_IMAP: send_line(c, c->tls_on && c->tls_after ? "p3 CAPABILITY" : "p1 CAPABILITY"); break;
    case PROFILE_SMTP: send_line(c, "EHLO [127.0.0.1]"); break;
    default: send_line(c, "CAPA"); break;
    }
}

static void after_handshake(pconn *c)
{
    if (c->ssl)
        record_tls(c);
    else
        c->a->tls.done = true; /* memory mode */
    c->tls_on = true;
    if (c->tls_after) {
        c->a->starttls = PROBE_STLS_OK;
        ask_caps(c);
    } else {
        c->a->outcome = PROBE_TLS_OK;
        c->st = ST_GREETING;
    }
}

static void say_goodbye(pconn *c)
{
    send_line(c, c->a->proto == PROFILE_IMAP ? "p9 LOGOUT" : "QUIT");
    c->st = ST_DONE;
    finish(c);
}

/* The capability list is complete (known or not): store it, then upgrade or leave. */
static void caps_done(pconn *c, bool known)
{
    probe_attempt *a = c->a;
    bool after = c->tls_on;
    if (known) {
        snprintf(after ? a->caps_after : a->caps_before, PROBE_CAPS, "%s", c->caps);
        probe_offer_parse(a->proto, c->caps, after ? &a->after : &a->before);
        if (after)
            a->caps_known_after = true;
        else
            a->caps_known_before = true;
    }
    if (!after && a->before.starttls) {
        c->st = ST_STLS;
        send_line(c, a->proto == PROFILE_IMAP ? "p2 STARTTLS" : a->proto == PROFILE_SMTP ? "STARTTLS" : "STLS");
        return;
    }
    say_goodbye(c);
}

/* An SMTP reply: lines "ddd-..." up to "ddd ...". Returns the bytes it takes (0: incomplete);
 * *first gets the first line; the text of the following lines goes to caps when keep. */
static size_t smtp_reply(pconn *c, char *first, size_t cap, bool keep)
{
    size_t off = 0, k, end = 0;
    const char *p;
    size_t n;
    /* first find the end: nothing is kept from a reply until it is complete (it is read
     * again from the start when more bytes come) */
    while (!end && (k = next_line(c, off, &p, &n)) > 0) {
        off += k;
        if (n < 4 || p[3] != '-')
            end = off;
    }
    for (off = 0; end && off < end; off += k) {
        k = next_line(c, off, &p, &n);
        if (off == 0)
            probe_sanitize(p, n, first, cap);
        else if (keep && n > 4)
            caps_add(c, p + 4, n - 4, '\n');
    }
    return end;
}

static bool greeting_step(pconn *c)
{
    probe_attempt *a = c->a;
    const char *p = NULL;
    size_t n = 0, k;
    if (a->proto == PROFILE_SMTP)
        k = smtp_reply(c, a->greeting, sizeof a->greeting, false);
    else if ((k = next_line(c, 0, &p, &n)) > 0)
        probe_sanitize(p, n, a->greeting, sizeof a->greeting);
    if (!k)
        return false;
    consume(c, k);
    a->greeting_ok = probe_greeting_ok(a->proto, a->greeting);
    if (!a->greeting_ok) {
        say_goodbye(c);
        return false;
    }
    ask_caps(c);
    return true;
}

/* IMAP: "* CAPABILITY ..." then the tagged reply. The greeting's [CAPABILITY ...] stands in
 * when the server answers OK without the untagged list (iCloud did, in 2016). */
static bool imap_caps_step(pconn *c)
{
    const char *p;
    size_t n, k;
    while ((k = next_line(c, 0, &p, &n)) > 0) {
        if (n > 13 && strncasecmp(p, "* CAPABILITY ", 13) == 0) {
            caps_add(c, p + 13, n - 13, ' ');
            consume(c, k);
            continue;
        }
        bool tagged = n > 3 && p[0] == 'p' && (p[1] == '1' || p[1] == '3') && p[2] == ' ';
        consume(c, k);
        if (!tagged)
            continue;
        if (!c->capslen) {
            const char *g = strstr(c->a->greeting, "[CAPABILITY ");
            const char *e = g ? strchr(g, ']') : NULL;
            if (e && !c->tls_after)
                caps_add(c, g + 12, (size_t)(e - g - 12), ' ');
        }
        caps_done(c, c->capslen > 0);
        return c->st != ST_DONE;
    }
    return false;
}

static bool smtp_caps_step(pconn *c)
{
    char first[PROBE_LINE];
    size_t k = smtp_reply(c, first, sizeof first, true);
    if (!k)
        return false;
    consume(c, k);
    if (strncmp(first, "250", 3) != 0) {
        set_detail(c, "EHLO refused: %s", first);
        c->capslen = 0;
    }
    caps_done(c, strncmp(first, "250", 3) == 0);
    return c->st != ST_DONE;
}

static bool pop3_caps_step(pconn *c)
{
    const char *p;
    size_t n, k;
    while ((k = next_line(c, 0, &p, &n)) > 0) {
        if (!c->pop3_multi) {
            bool ok = n >= 3 && strncmp(p, "+OK", 3) == 0;
            consume(c, k);
            if (!ok) {
                caps_done(c, false); /* no CAPA (RFC 2449 is optional) */
                return c->st != ST_DONE;
            }
            c->pop3_multi = true;
            continue;
        }
        if (n == 1 && p[0] == '.') {
            consume(c, k);
            caps_done(c, true);
            return c->st != ST_DONE;
        }
        if (n && p[0] == '.') /* dot-stuffed */
            p++, n--;
        caps_add(c, p, n, '\n');
        consume(c, k);
    }
    return false;
}

static bool stls_step(pconn *c)
{
    probe_attempt *a = c->a;
    char first[PROBE_LINE];
    const char *p = NULL;
    size_t n = 0, k = 0;
    if (a->proto == PROFILE_SMTP)
        k = smtp_reply(c, first, sizeof first, false);
    else if ((k = next_line(c, 0, &p, &n)) > 0)
        probe_sanitize(p, n, first, sizeof first);
    if (!k)
        return false;
    consume(c, k);
    if (a->proto == PROFILE_IMAP && first[0] == '*')
        return true; /* an untagged line before the tagged reply: read on */
    bool ok = a->proto == PROFILE_IMAP ? strncasecmp(first, "p2 OK", 5) == 0
              : a->proto == PROFILE_SMTP ? strncmp(first, "220", 3) == 0
                                         : strncmp(first, "+OK", 3) == 0;
    if (!ok) {
        a->starttls = PROBE_STLS_REFUSED;
        set_detail(c, "\"%s\"", first);
        say_goodbye(c);
        return false;
    }
    /* Anything after the reply came before our handshake: a careful client drops it. */
    a->injected = (unsigned)c->inlen;
    c->inlen = 0;
    c->tls_after = true;
    start_tls(c);
    return false;
}

/* Run the conversation as far as the bytes in in[] allow. */
static void advance(pconn *c)
{
    bool more = true;
    while (more && c->st != ST_DONE) {
        switch (c->st) {
        case ST_MISMATCH: {
            const char *p;
            size_t n;
            if (!next_line(c, 0, &p, &n))
                return;
            probe_sanitize(p, n, c->a->greeting, sizeof c->a->greeting);
            c->a->greeting_ok = probe_greeting_ok(c->a->proto, c->a->greeting);
            c->st = ST_DONE;
            finish(c);
            return;
        }
        case ST_GREETING: more = greeting_step(c); break;
        case ST_CAPA:
            more = c->a->proto == PROFILE_IMAP ? imap_caps_step(c)
                   : c->a->proto == PROFILE_SMTP ? smtp_caps_step(c) : pop3_caps_step(c);
            break;
        case ST_STLS: more = stls_step(c); break;
        default: return;
        }
    }
}

/* ---- bytes in -------------------------------------------------------------------------------- */

static void append_in(pconn *c, const char *p, size_t n)
{
    if (c->inlen + n > sizeof c->in) {
        set_detail(c, "%s", "a reply longer than 64 KiB");
        c->st = ST_DONE;
        finish(c);
        return;
    }
    memcpy(c->in + c->inlen, p, n);
    c->inlen += n;
}

/* Decrypt what OpenSSL has into in[]. */
static void tls_read(pconn *c)
{
    char buf[4096];
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(c->ssl, buf, sizeof buf);
        if (n > 0) {
            append_in(c, buf, (size_t)n);
            if (c->st == ST_DONE)
                return;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e != SSL_ERROR_WANT_READ) {
            set_detail(c, "%s", e == SSL_ERROR_ZERO_RETURN ? "TLS closed by the server" : "TLS error");
            c->st = ST_DONE;
            finish(c);
        }
        return;
    }
}

/* The first bytes of a TLS-first attempt: TLS, or a plaintext greeting (the mismatch)?
 * Returns how many of p[0..n) went into the sniff buffer. */
static size_t sniff_first(pconn *c, const char *p, size_t n)
{
    size_t take = n < sizeof c->sniff - c->sniffed ? n : sizeof c->sniff - c->sniffed;
    memcpy(c->sniff + c->sniffed, p, take);
    c->sniffed += take;
    tlssniff_kind k = tlssniff_classify(c->sniff, c->sniffed, 0);
    if (k == TLSSNIFF_NEED_MORE)
        return take;
    c->any_byte = true;
    if (k == TLSSNIFF_PLAINTEXT) {
        c->a->outcome = PROBE_PLAINTEXT;
        c->st = ST_MISMATCH;
    } else if (k != TLSSNIFF_TLS_RECORD) {
        c->a->outcome = PROBE_GARBAGE;
        set_detail(c, "first bytes: %s", tlssniff_kind_name(k));
        finish(c);
    }
    return take;
}

/* Bytes for the TLS engine or, in plaintext, for the conversation. */
static void route(pconn *c, const char *p, size_t n)
{
    if (!n || c->st == ST_DONE)
        return;
    if (c->mem_skip) {
        size_t k = n < c->mem_skip ? n : c->mem_skip;
        c->mem_skip -= k;
        p += k, n -= k;
        if (!n)
            return;
    }
    if (c->st == ST_MISMATCH || !c->ssl) {
        append_in(c, p, n);
        return;
    }
    BIO_write(c->rbio, p, (int)n);
    if (c->st == ST_HANDSHAKE)
        handshake_step(c);
    if (c->st != ST_HANDSHAKE && c->st != ST_DONE)
        tls_read(c);
}

static void on_bytes(pconn *c, const char *p, size_t n)
{
    if (c->st == ST_HANDSHAKE && !c->tls_after && !c->any_byte) {
        size_t take = sniff_first(c, p, n);
        if (c->st == ST_DONE || !c->any_byte)
            return;
        if (c->memory && c->st == ST_HANDSHAKE) {
            /* memory mode: the first TLS record (by its header's length, so wherever the
             * bytes were cut) stands for a whole handshake; what follows it is the
             * conversation under TLS, in the clear */
            size_t rec = 5 + ((size_t)(unsigned char)c->sniff[3] << 8 | (unsigned char)c->sniff[4]);
            c->mem_skip = rec > c->sniffed ? rec - c->sniffed : 0;
            after_handshake(c);
            if (rec < c->sniffed) /* a short record: the sniffed bytes after it are text */
                route(c, c->sniff + rec, c->sniffed - rec);
            route(c, p + take, n - take);
            return;
        }
        /* decided: the sniffed prefix, then the rest, go on as if they had just come */
        route(c, c->sniff, c->sniffed);
        route(c, p + take, n - take);
        return;
    }
    if (!c->any_byte && c->a->start == PROBE_START_PLAIN)
        c->a->outcome = PROBE_PLAINTEXT;
    c->any_byte = true;
    route(c, p, n);
}

/* The server stopped (EOF, timeout) with fewer bytes than the sniffer needs: decide now. */
static void sniff_final(pconn *c)
{
    if (c->any_byte || !c->sniffed || c->st != ST_HANDSHAKE || c->tls_after)
        return;
    c->any_byte = true;
    tlssniff_kind k = tlssniff_classify(c->sniff, c->sniffed, 1);
    if (k == TLSSNIFF_PLAINTEXT) {
        c->a->outcome = PROBE_PLAINTEXT;
        c->st = ST_MISMATCH;
        append_in(c, c->sniff, c->sniffed);
        return;
    }
    c->a->outcome = k == TLSSNIFF_TLS_RECORD ? PROBE_TLS_FAILED : PROBE_GARBAGE;
    set_detail(c, "first bytes: %s (%zu bytes)", tlssniff_kind_name(k), c->sniffed);
    if (k == TLSSNIFF_TLS_RECORD)
        snprintf(c->a->tls.failure, sizeof c->a->tls.failure, "reason=\"incomplete TLS record\"");
}

static void on_eof(pconn *c, int err)
{
    probe_attempt *a = c->a;
    sniff_final(c);
    if (!c->any_byte && c->st != ST_MISMATCH) {
        if (c->st == ST_HANDSHAKE && c->tls_after) {
            a->starttls = PROBE_STLS_FAILED;
            snprintf(a->tls.failure, sizeof a->tls.failure, "closed by the server during the handshake");
        } else {
            a->outcome = PROBE_CLOSED;
            set_detail(c, "%s", err ? strerror(err) : "closed by the server without a byte");
        }
    } else if (c->st == ST_MISMATCH) {
        probe_sanitize(c->in, c->inlen, a->greeting, sizeof a->greeting);
        a->greeting_ok = probe_greeting_ok(a->proto, a->greeting);
    } else if (c->st == ST_HANDSHAKE) {
        snprintf(a->tls.failure, sizeof a->tls.failure, "reason=\"closed by the server during the handshake\"");
        if (c->tls_after)
            a->starttls = PROBE_STLS_FAILED;
        else
            a->outcome = PROBE_TLS_FAILED;
    } else {
        set_detail(c, "closed by the server while waiting for %s", step_words[c->st]);
    }
    c->st = ST_DONE;
    finish(c);
}

/* Server bytes: through TLS or the sniffing, then as far into the conversation as they go. */
static void deliver(pconn *c, const char *p, size_t n)
{
    on_bytes(c, p, n);
    if (c->st != ST_DONE && c->st != ST_HANDSHAKE)
        advance(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    pconn *c = arg;
    (void)what;
    char buf[16384];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        on_eof(c, n < 0 ? errno : 0);
        return;
    }
    deliver(c, buf, (size_t)n);
}

/* ---- connecting and ending ----------------------------------------------------------------- */

static void connected(pconn *c)
{
    if (c->rev)
        event_add(c->rev, NULL);
    if (c->a->start == PROBE_START_TLS)
        start_tls(c);
    else
        c->st = ST_GREETING;
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    pconn *c = arg;
    (void)what;
    if (c->st != ST_CONNECT) {
        flush_out(c);
        return;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == 0) {
        connected(c);
        return;
    }
    c->a->outcome = err == ECONNREFUSED ? PROBE_REFUSED : PROBE_CONNECT_ERROR;
    if (err != ECONNREFUSED)
        set_detail(c, "%s", strerror(err));
    c->st = ST_DONE;
    finish(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    pconn *c = arg;
    probe_attempt *a = c->a;
    (void)fd, (void)what;
    unsigned spent = ms_since(&c->t0), limit = c->r->cfg->timeout_ms;
    if (spent < limit) {
        /* libevent measures from its cached loop time, which can be a little older than
         * t0: wait out the rest, so a timeout always means the whole time has passed */
        unsigned rest = limit - spent;
        struct timeval tv = {(time_t)(rest / 1000), (suseconds_t)(rest % 1000) * 1000};
        evtimer_add(c->timer, &tv);
        return;
    }
    sniff_final(c);
    if (c->st == ST_CONNECT)
        a->outcome = PROBE_CONNECT_TIMEOUT;
    else if (!c->any_byte && c->st != ST_MISMATCH)
        a->outcome = c->tls_after ? a->outcome : PROBE_SILENT;
    if (c->st == ST_MISMATCH && !a->greeting[0]) {
        probe_sanitize(c->in, c->inlen, a->greeting, sizeof a->greeting);
        a->greeting_ok = probe_greeting_ok(a->proto, a->greeting);
    }
    if (c->tls_after && c->st == ST_HANDSHAKE) {
        a->starttls = PROBE_STLS_FAILED;
        snprintf(a->tls.failure, sizeof a->tls.failure, "reason=\"no handshake before the timeout\"");
    }
    if (c->st != ST_CONNECT && c->any_byte && c->st != ST_MISMATCH)
        set_detail(c, "timed out waiting for %s", step_words[c->st]);
    c->st = ST_DONE;
    finish(c);
}

static void finish(pconn *c)
{
    c->st = ST_DONE;
    if (!c->r)
        return; /* already finished */
    c->a->elapsed_ms = ms_since(&c->t0);
    if (c->outlen && c->fd >= 0)
        (void)send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    if (c->timer)
        event_free(c->timer);
    c->rev = c->wev = c->timer = NULL;
    if (c->ssl)
        SSL_free(c->ssl); /* frees both BIOs */
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->r->pending--;
    c->r = NULL;
}

static int begin(run *r, pconn *c, probe_attempt *a)
{
    memset(c, 0, sizeof *c);
    c->r = r;
    c->a = a;
    c->fd = -1;
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    r->pending++;
    struct sockaddr_storage sa = *r->cfg->addr;
    if (sa.ss_family == AF_INET)
        ((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)a->port);
    else
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)a->port);
    c->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->rev = event_new(r->base, c->fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(r->base, c->fd, EV_WRITE, on_write, c);
    c->timer = evtimer_new(r->base, on_timeout, c);
    if (c->fd < 0 || !c->rev || !c->wev || !c->timer) {
        a->outcome = PROBE_CONNECT_ERROR;
        set_detail(c, "%s", c->fd < 0 ? strerror(errno) : "out of memory");
        finish(c);
        return 0;
    }
    unsigned ms = r->cfg->timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
    if (connect(c->fd, (struct sockaddr *)&sa, r->cfg->addrlen) == 0) {
        connected(c);
        return 0;
    }
    if (errno == EINPROGRESS) {
        event_add(c->wev, NULL);
        return 0;
    }
    a->outcome = errno == ECONNREFUSED ? PROBE_REFUSED : PROBE_CONNECT_ERROR;
    if (errno != ECONNREFUSED)
        set_detail(c, "%s", strerror(errno));
    finish(c);
    return 0;
}

int probe_run(probe_result *res, const probe_config *cfg, char *err, size_t errlen)
{
    tls_client_config tc = {.ca_file = cfg->ca_file, .insecure = 1};
    run r = {.cfg = cfg};
    r.ctx = tls_client_ctx_new(&tc, err, errlen);
    if (!r.ctx)
        return -1;
    if (!cfg->ca_file && SSL_CTX_set_default_verify_paths(r.ctx) != 1) {
        snprintf(err, errlen, "cannot load the system's trusted certificates");
        SSL_CTX_free(r.ctx);
        return -1;
    }
    r.base = event_base_new();
    pconn *conns = calloc(res->n ? res->n : 1, sizeof *conns);
    if (!r.base || !conns) {
        snprintf(err, errlen, "out of memory (event loop)");
        free(conns);
        if (r.base)
            event_base_free(r.base);
        SSL_CTX_free(r.ctx);
        return -1;
    }
    for (size_t i = 0; i < res->n; i++)
        if (res->a[i].port > 0)
            begin(&r, &conns[i], &res->a[i]);
    if (r.pending > 0)
        event_base_dispatch(r.base); /* returns when every attempt has freed its events */
    free(conns);
    event_base_free(r.base);
    SSL_CTX_free(r.ctx);
    return 0;
}

void probe_converse_memory(probe_attempt *a, const char *input, size_t n, const size_t *cuts,
                           size_t ncuts)
{
    probe_config cfg = {0};
    run r = {.cfg = &cfg, .pending = 1};
    pconn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->r = &r;
    c->a = a;
    c->fd = -1;
    c->memory = true;
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    connected(c);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts && c->st != ST_DONE; i++) {
        size_t end = i < ncuts && cuts[i] > at && cuts[i] < n ? cuts[i] : n;
        if (i < ncuts && end == n)
            continue; /* a cut out of order or range: keep going to the next */
        if (end > at)
            deliver(c, input + at, end - at);
        at = end;
    }
    if (c->st != ST_DONE)
        on_eof(c, 0); /* the server hung up after its last byte */
    free(c);
}
