/* ours.c -- mailrig's parsers, as the benchmark runs them: each run parses a whole stream
 * the way a consumer would (every item, every field it needs) and returns the items seen. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "proto/dotstream.h"
#include "proto/imap_access.h"
#include "proto/imap_framer.h"
#include "proto/imap_parse.h"
#include "proto/smtp_reply.h"

static void die(const char *what, size_t at, const mr_error *err)
{
    fprintf(stderr, "bench: %s failed at byte %zu: %s (%s)\n", what, at,
            mr_errcode_str(err->code), err->rule ? err->rule : "?");
    exit(1);
}

/* An IMAP client's read loop: frame every response, parse it, and walk every FETCH
 * attribute, decoding each ENVELOPE (and its addresses) and each BODYSTRUCTURE. Counts the
 * tagged responses. */
static size_t run_imap_responses(const bench_stream *s)
{
    static imap_token tok[16384];
    imap_limits lim = imap_limits_default();
    imap_framer f;
    imap_framer_init(&f, IMAP_SIDE_RESPONSE, &lim);
    size_t tagged = 0;
    for (size_t at = 0; at < s->n;) {
        imap_frame ev;
        imap_response rs;
        mr_error err;
        int r = imap_framer_next(&f, s->p + at, s->n - at, &ev, &err);
        if (r <= 0 || ev.kind != IMAP_FRAME_ITEM)
            die("imap_framer_next", at, &err);
        if (imap_response_parse(s->p + at, ev.n, &lim, &rs, tok, 16384, &err) < 0)
            die("imap_response_parse", at, &err);
        tagged += rs.kind == IMAP_KIND_TAGGED;
        imap_fetch_iter it;
        imap_fetch_att a;
        if (imap_fetch_begin(&it, &rs) == 0) {
            while (imap_fetch_next(&it, &a) == 1) {
                imap_envelope e;
                imap_body b;
                imap_addr_iter ai;
                imap_address addr;
                if (a.att == IMAP_ATT_ENVELOPE && imap_envelope_decode(&rs.t, a.value, &e) == 0) {
                    imap_addr_begin(&ai, &rs.t, e.from);
                    while (imap_addr_next(&ai, &addr) == 1)
                        ;
                } else if (a.att == IMAP_ATT_BODYSTRUCTURE) {
                    if (imap_body_decode(&rs.t, a.value, &b) != 0)
                        die("imap_body_decode", at, &err);
                }
            }
        }
        at += (size_t)r;
    }
    return tagged;
}

/* The DATA reader over one dot-stuffed message: content slices out, the end found. */
static size_t run_smtp_data(const bench_stream *s)
{
    dot_reader r;
    dot_reader_init(&r, MR_STRICT, NULL);
    size_t at = 0, content = 0;
    while (!r.done) {
        mr_slice out;
        mr_error err;
        int k = dot_read(&r, s->p + at, s->n - at, &out, &err);
        if (k <= 0)
            die("dot_read", at, &err);
        content += out.n;
        at += (size_t)k;
    }
    return content > 0 && at == s->n ? 1 : 0;
}

/* Every reply, and every keyword of every EHLO reply. */
static size_t run_smtp_replies(const bench_stream *s)
{
    smtp_reply_line lines[32];
    smtp_reply rep;
    smtp_reply_init(&rep, lines, 32);
    size_t replies = 0, keywords = 0;
    for (size_t at = 0; at < s->n; replies++) {
        mr_error err;
        int k = smtp_reply_parse(s->p + at, s->n - at, MR_STRICT, NULL, &rep, &err);
        if (k <= 0)
            die("smtp_reply_parse", at, &err);
        if (rep.code == 250 && rep.nlines > 1) {
            smtp_ehlo_iter it;
            smtp_ehlo_kw kw;
            smtp_ehlo_iter_init(&it, &rep, MR_STRICT);
            while (smtp_ehlo_next(&it, &kw, &err) == 1)
                keywords++;
        }
        at += (size_t)k;
    }
    return keywords ? replies : 0;
}

static size_t stream_items(const bench_stream *s)
{
    return s->items;
}

const bench_parser bench_parsers[] = {
    {"mailrig response parse", BENCH_IMAP, run_imap_responses, stream_items, 10, 0},
    {"mailrig DATA reader", BENCH_DATA, run_smtp_data, stream_items, 0, 3},
    {"mailrig reply + EHLO", BENCH_REPLIES, run_smtp_replies, stream_items, 0, 5},
    {0},
};
