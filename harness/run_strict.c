/* run_strict.c -- strict parsing of a server's byte stream (run_strict.h). */
#include "harness/run_strict.h"

#include "harness/run_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dotstream.h"
#include "proto/imap_parse.h"
#include "proto/pop3.h"
#include "proto/smtp_reply.h"

enum { SMTP_LINES = 512, IMAP_TOKENS = 16384 };
enum { POP3_SINGLE = 0, POP3_LISTING = 1, POP3_BODY = 2 };

/* A message's lines are the message's business (RFC 5322's 998 is not POP3's): the body of
 * RETR/TOP is checked for its framing (CRLF, the final dot), with a generous line bound. */
enum { BODY_LINE_MAX = 65536 };

void run_strict_init(run_strict *s, sc_proto proto)
{
    memset(s, 0, sizeof *s);
    s->proto = proto;
    /* Parser scratch lives here, not in statics: the runner may run scenarios in threads. */
    size_t need = proto == SC_PROTO_SMTP   ? SMTP_LINES * sizeof(smtp_reply_line)
                  : proto == SC_PROTO_IMAP ? IMAP_TOKENS * sizeof(imap_token)
                                           : 0;
    if (need && !(s->scratch = malloc(need)))
        s->proto = SC_PROTO_NONE;
}

void run_strict_free(run_strict *s)
{
    free(s->buf);
    free(s->scratch);
    memset(s, 0, sizeof *s);
}

/* Is word w the first blank-separated word of line (ASCII case ignored), and is there an
 * argument after it? */
static int first_word(const char *line, size_t n, const char *w, int *has_arg)
{
    size_t wl = strlen(w);
    if (n < wl)
        return 0;
    for (size_t i = 0; i < wl; i++) {
        char c = line[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        if (c != w[i])
            return 0;
    }
    if (n > wl && line[wl] != ' ')
        return 0;
    size_t i = wl;
    while (i < n && line[i] == ' ')
        i++;
    *has_arg = i < n;
    return 1;
}

void run_strict_sent(run_strict *s, const char *line, size_t n)
{
    if (s->proto != SC_PROTO_POP3 || s->failed)
        return;
    if (s->in_body == -1) {
        s->in_body = 0;   /* the answer to a SASL continuation: not a command */
        return;
    }
    int arg = 0, kind = POP3_SINGLE;
    if ((first_word(line, n, "CAPA", &arg)) || (first_word(line, n, "LIST", &arg) && !arg) ||
        (first_word(line, n, "UIDL", &arg) && !arg))
        kind = POP3_LISTING;
    else if (first_word(line, n, "RETR", &arg) || first_word(line, n, "TOP", &arg))
        kind = POP3_BODY;
    if (s->qlen < RUN_STRICT_QUEUE)
        s->queue[(s->qhead + s->qlen++) % RUN_STRICT_QUEUE] = (unsigned char)kind;
}

static int violation(run_strict *s, const char *what, const mr_error *e, size_t at)
{
    s->failed = 1;
    s->err = *e;
    s->offset = s->base + at;
    snprintf(s->what, sizeof s->what, "%s", what);
    return -1;
}

/* One SMTP reply at p[0..n): > 0 consumed, 0 need more, -1 violation. */
static int smtp_one(run_strict *s, const char *p, size_t n, size_t at)
{
    smtp_reply rep;
    smtp_reply_init(&rep, s->scratch, SMTP_LINES);
    mr_error e = {0};
    int r = smtp_reply_parse(p, n, MR_STRICT, NULL, &rep, &e);
    if (r == MR_NEED_MORE)
        return 0;
    if (r < 0) {
        e.offset += at;
        return violation(s, "SMTP reply", &e, 0);
    }
    return r;
}

static int imap_one(run_strict *s, const char *p, size_t n, size_t at)
{
    imap_token *tok = s->scratch;
    imap_limits lim = run_imap_limits(MR_STRICT);
    imap_response r;
    mr_error e = {0};
    int got = imap_response_next(p, n, &lim, &r, tok, IMAP_TOKENS, &e);
    if (got == MR_NEED_MORE)
        return 0;
    if (got < 0) {
        e.offset += at;
        return violation(s, "IMAP response", &e, 0);
    }
    return got;
}

static int pop3_one(run_strict *s, const char *p, size_t n, size_t at)
{
    mr_error e = {0};
    if (s->in_body > 0) {
        mr_slice line;
        int end = 0;
        int r = s->in_body == POP3_LISTING
                    ? pop3_listing_line(p, n, MR_STRICT, NULL, &line, &end, &e)
                    : dot_line_next(p, n, BODY_LINE_MAX, MR_STRICT, NULL, &line, &end, &e);
        if (r == MR_NEED_MORE)
            return 0;
        if (r < 0) {
            e.offset += at;
            return violation(s, s->in_body == POP3_LISTING ? "POP3 listing line" : "POP3 message line",
                             &e, 0);
        }
        if (end)
            s->in_body = 0;
        return r;
    }
    pop3_response resp;
    int r = pop3_response_parse(p, n, MR_STRICT, NULL, &resp, &e);
    if (r == MR_NEED_MORE)
        return 0;
    if (r < 0) {
        e.offset += at;
        return violation(s, "POP3 status line", &e, 0);
    }
    if (resp.status == POP3_CONT) {
        s->in_body = -1;   /* the client's next line answers the challenge */
        return r;
    }
    int kind = POP3_SINGLE;
    if (s->qlen) {
        kind = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % RUN_STRICT_QUEUE;
        s->qlen--;
    }
    if (resp.status == POP3_OK && kind != POP3_SINGLE)
        s->in_body = kind;
    return r;
}

/* Parse as many whole items from the front of buf as there are; drop them. */
static int drain(run_strict *s)
{
    size_t pos = 0;
    while (pos < s->len) {
        int r;
        const char *p = s->buf + pos;
        size_t n = s->len - pos;
        if (s->proto == SC_PROTO_SMTP)
            r = smtp_one(s, p, n, pos);
        else if (s->proto == SC_PROTO_IMAP)
            r = imap_one(s, p, n, pos);
        else
            r = pop3_one(s, p, n, pos);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        pos += (size_t)r;
    }
    memmove(s->buf, s->buf + pos, s->len - pos);
    s->len -= pos;
    s->base += pos;
    return 0;
}

int run_strict_feed(run_strict *s, const char *p, size_t n)
{
    if (s->proto == SC_PROTO_NONE || s->failed || n == 0)
        return 0;
    if (s->len + n > RUN_STRICT_MAX) {
        mr_error e = {MR_E_LIMIT_COUNT, "response", 0};
        return violation(s, "response", &e, s->len);
    }
    if (s->len + n > s->cap) {
        size_t nc = s->cap ? s->cap : 4096;
        while (nc < s->len + n)
            nc *= 2;
        char *b = realloc(s->buf, nc);
        if (!b) {
            mr_error e = {MR_E_LIMIT_COUNT, "memory", 0};
            return violation(s, "response", &e, s->len);
        }
        s->buf = b;
        s->cap = nc;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return drain(s);
}

void run_strict_describe(const run_strict *s, char *buf, size_t n)
{
    if (!s->failed) {
        snprintf(buf, n, "well-formed");
        return;
    }
    snprintf(buf, n, "strict: %s at byte %llu: %s (rule %s)", s->what,
             (unsigned long long)s->offset, mr_errcode_str(s->err.code),
             s->err.rule ? s->err.rule : "?");
}

imap_limits run_imap_limits(mr_mode mode)
{
    /* Literals stay inline up to what a connection buffers (a FETCHed message is valid IMAP
     * however large; the defaults would stream it, which whole-item framing refuses). */
    imap_limits lim = imap_limits_default();
    lim.inline_literal_max = RUN_CONN_MAX_BUF / 2;
    lim.item_max = RUN_CONN_MAX_BUF;
    lim.mode = mode;
    return lim;
}
