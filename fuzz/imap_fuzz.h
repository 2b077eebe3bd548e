/* imap_fuzz.h -- helpers shared by the IMAP fuzz targets (header only, so that nothing is
 * linked into other targets).
 *
 * fz_frame() drives the framer over an input the way a server or client would: a buffer that
 * grows at the given cut points, consumed bytes dropped, synchronizing literals accepted,
 * streamed literals (limits.inline_literal_max is small) sunk, and the item text put back
 * together from its segments. It folds everything a caller can observe (events, item texts,
 * payload bytes, consumed counts, the final error) into a hash, so that feeding the same input
 * whole and in pieces can be compared, and hands each complete item to a callback.
 */
#ifndef MAILRIG_FUZZ_IMAP_FUZZ_H
#define MAILRIG_FUZZ_IMAP_FUZZ_H

#include <stdint.h>
#include <string.h>

#include "fuzz/util.h"
#include "proto/imap_access.h"
#include "proto/imap_framer.h"
#include "proto/imap_parse.h"
#include "proto/imap_write.h"

enum { FZ_ITEM_MAX = 8192, FZ_TOKENS = 1024, FZ_CUTS = 256 };

static inline imap_limits fz_limits(mr_mode mode)
{
    imap_limits lim = imap_limits_default();
    lim.line_max = 2048;
    lim.item_max = FZ_ITEM_MAX;
    lim.inline_literal_max = 64;
    lim.literal_max = 1u << 20;
    lim.nonsync_literal_max = 4096;
    lim.depth_max = 24;
    lim.tokens_max = FZ_TOKENS;
    lim.mode = mode;
    return lim;
}

static inline uint64_t fz_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = fuzz_mix(h, s[i]);
    return h;
}

static inline uint64_t fz_hash_u64(uint64_t h, uint64_t v)
{
    return fz_hash(h, &v, sizeof v);
}

typedef void (*fz_item_fn)(void *ctx, const char *item, size_t n, const char *sync_prefix,
                           size_t sync_n);

typedef struct fz_result {
    uint64_t h;       /* events, texts, consumed counts, error */
    uint64_t payload; /* streamed payload bytes, in total */
    size_t items;
} fz_result;

/* Frame data[0..size) with cuts[0..ncuts) as read boundaries (ncuts 0: all at once). Calls
 * on_item (may be NULL) for every item, and on every synchronizing literal with the text up
 * to it (sync_prefix). */
static inline fz_result fz_frame(imap_side side, const imap_limits *lim, const char *data,
                                 size_t size, const size_t *cuts, size_t ncuts,
                                 fz_item_fn on_item, void *ctx)
{
    static char text[FZ_ITEM_MAX + 1];
    fz_result res = {FUZZ_HASH_SEED, 0, 0};
    imap_framer f;
    imap_framer_init(&f, side, lim);
    size_t at = 0, end = ncuts ? cuts[0] : size, c = 0, ntext = 0;
    while (at < size) {
        imap_frame ev;
        mr_error err;
        int r = imap_framer_next(&f, data + at, end - at, &ev, &err);
        if (r == MR_NEED_MORE) {
            if (end == size) {
                res.h = fz_hash_u64(res.h, 0xEEEE); /* incomplete at the end */
                break;
            }
            c++;
            end = c < ncuts ? cuts[c] : size;
            continue;
        }
        if (r == MR_ERROR) {
            res.h = fz_hash_u64(res.h, (uint64_t)err.code);
            res.h = fz_hash(res.h, err.rule, strlen(err.rule));
            res.h = fz_hash_u64(res.h, err.offset);
            break;
        }
        FUZZ_CHECK(ev.kind == IMAP_FRAME_LITERAL || ev.n <= end - at);
        if (ev.kind != IMAP_FRAME_LITERAL) /* chunking of a payload depends on the reads */
            res.h = fz_hash_u64(res.h, (uint64_t)ev.kind);
        switch (ev.kind) {
        case IMAP_FRAME_SYNC_LITERAL:
            FUZZ_CHECK(r == 0 && side == IMAP_SIDE_COMMAND);
            res.h = fz_hash_u64(res.h, ev.literal_size);
            if (on_item && ntext + ev.n <= FZ_ITEM_MAX) {
                memcpy(text + ntext, data + at, ev.n);
                on_item(ctx, NULL, 0, text, ntext + ev.n);
            }
            continue;
        case IMAP_FRAME_LITERAL:
            FUZZ_CHECK((size_t)r == ev.n && ev.n > 0);
            /* chunks differ with the reads; where the payload ends does not */
            res.payload += ev.n;
            if (ev.literal_left == 0)
                res.h = fz_hash_u64(res.h, at + ev.n);
            break;
        case IMAP_FRAME_SEGMENT:
        case IMAP_FRAME_ITEM:
            FUZZ_CHECK((size_t)r == ev.n && ntext + ev.n <= FZ_ITEM_MAX);
            memcpy(text + ntext, data + at, ev.n);
            ntext += ev.n;
            res.h = fz_hash_u64(res.h, at);       /* the text is the input's own bytes: */
            res.h = fz_hash_u64(res.h, ev.n);     /* where it is says what it is */
            if (ev.kind == IMAP_FRAME_SEGMENT) {
                res.h = fz_hash_u64(res.h, ev.literal_size);
                break;
            }
            res.items++;
            if (on_item)
                on_item(ctx, text, ntext, NULL, 0);
            ntext = 0;
            break;
        }
        at += (size_t)r;
        if (end < at)
            end = at;
    }
    return res;
}

/* The split oracle of the IMAP stream targets: in strict and lenient mode (*lim set to
 * fz_limits() of each, for on_item to read), framing the input whole (every item to on_item)
 * and framing it split at cut points derived from it see the same. */
static inline void fz_frame_both_ways(imap_side side, imap_limits *lim, const uint8_t *data,
                                      size_t size, fz_item_fn on_item)
{
    const char *s = (const char *)data;
    size_t cuts[FZ_CUTS];
    size_t ncuts = fuzz_cuts(data, size, cuts, FZ_CUTS);
    for (int m = 0; m < 2; m++) {
        *lim = fz_limits(m ? MR_LENIENT : MR_STRICT);
        fz_result whole = fz_frame(side, lim, s, size, NULL, 0, on_item, NULL);
        fz_result split = fz_frame(side, lim, s, size, cuts, ncuts, NULL, NULL);
        FUZZ_CHECK(whole.h == split.h && whole.payload == split.payload &&
                   whole.items == split.items);
    }
}

/* Structural invariants of a token array made for an item of len bytes. */
static inline void fz_check_tokens(const imap_toks *t, size_t len)
{
    for (unsigned i = 0; i < t->n; i++) {
        const imap_token *k = &t->tok[i];
        FUZZ_CHECK(k->next > i && k->next <= t->n);
        FUZZ_CHECK(k->type >= IMAP_T_ATOM && k->type <= IMAP_T_SEQSET);
        if (!(k->flags & (IMAP_TF_STREAMED | IMAP_TF_PENDING)))
            FUZZ_CHECK((size_t)k->off + k->len <= len);
        else
            FUZZ_CHECK(k->type == IMAP_T_LITERAL && k->off < len);
        for (unsigned j = i + 1; j < k->next; j = t->tok[j].next)
            FUZZ_CHECK(t->tok[j].next <= k->next && t->tok[j].depth == k->depth + 1);
    }
}

/* Read every token through the generic accessors. */
static inline void fz_touch_tokens(const imap_toks *t)
{
    char buf[64];
    for (unsigned i = 0; i < t->n; i++) {
        int n = imap_tok_copy(t, i, buf, sizeof buf);
        FUZZ_CHECK(n == MR_ERROR || n >= 0);
        uint64_t v;
        (void)imap_tok_u64(t, i, UINT64_MAX, &v);
        imap_nstring s;
        if (imap_tok_nstring(t, i, &s) == 0)
            FUZZ_CHECK(s.s.n <= s.literal_size || s.escaped || !s.streamed);
        if (t->tok[i].type == IMAP_T_SEQSET || t->tok[i].type == IMAP_T_ATOM) {
            imap_seq_iter it;
            uint32_t lo, hi;
            imap_seq_begin(&it, imap_tok_slice(t, i));
            int r, guard = 0;
            while ((r = imap_seq_next(&it, &lo, &hi)) == 1)
                FUZZ_CHECK(++guard <= 4096);
            if (t->tok[i].type == IMAP_T_SEQSET && !it.saved)
                FUZZ_CHECK(r == 0);
        }
    }
}

static inline void fz_walk_body(const imap_toks *t, unsigned i, int depth);

static inline void fz_walk_envelope(const imap_toks *t, unsigned i)
{
    imap_envelope e;
    if (imap_envelope_decode(t, i, &e) != 0)
        return;
    unsigned lists[6] = {e.from, e.sender, e.reply_to, e.to, e.cc, e.bcc};
    for (int k = 0; k < 6; k++) {
        imap_addr_iter it;
        imap_address a;
        if (imap_addr_begin(&it, t, lists[k]) != 0)
            continue;
        while (imap_addr_next(&it, &a) == 1)
            FUZZ_CHECK(a.kind <= IMAP_ADDR_GROUP_END);
    }
}

static inline void fz_walk_body(const imap_toks *t, unsigned i, int depth)
{
    imap_body b;
    FUZZ_CHECK(depth < 64);
    if (imap_body_decode(t, i, &b) != 0)
        return;
    imap_param_iter pi;
    imap_nstring n, v;
    if (imap_param_begin(&pi, t, b.params) == 0)
        while (imap_param_next(&pi, &n, &v) == 1)
            ;
    if (b.dsp != IMAP_NONE) {
        unsigned dp;
        if (imap_dsp_decode(t, b.dsp, &n, &dp) == 0 && imap_param_begin(&pi, t, dp) == 0)
            while (imap_param_next(&pi, &n, &v) == 1)
                ;
    }
    if (b.multipart) {
        unsigned p = b.first_part;
        for (unsigned k = 0; k < b.nparts; k++, p = imap_tok_next(t, p))
            fz_walk_body(t, p, depth + 1);
        uint32_t path[2] = {1, 1};
        imap_body found;
        (void)imap_body_find(t, i, path, 2, &found);
    }
    if (b.envelope != IMAP_NONE)
        fz_walk_envelope(t, b.envelope);
    if (b.body != IMAP_NONE)
        fz_walk_body(t, b.body, depth + 1);
}

#endif
