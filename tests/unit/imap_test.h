/* imap_test.h -- helpers shared by the IMAP cmocka programs (test_imap_*.c).
 *
 * Every valid input goes through the same battery:
 *   1. test_prefixes(): every proper prefix, in a guard-page copy, frames+parses to
 *      MR_NEED_MORE, and the whole input to its length;
 *   2. the framer fed one byte at a time (a growing buffer, as from a socket) finds the same
 *      item, and with every literal streamed (inline_literal_max = 0) the segments put
 *      together equal the input minus the literal payloads, which come out as chunks;
 *   3. round trip: writing the parsed item (imap_w_*_parsed) and parsing that gives an equal
 *      item (imap_*_equal).
 * Errors assert the code, the rule and the offset.
 */
#ifndef MAILRIG_TESTS_IMAP_TEST_H
#define MAILRIG_TESTS_IMAP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imap_access.h"
#include "proto/imap_framer.h"
#include "proto/imap_parse.h"
#include "proto/imap_write.h"
#include "tests/unit/support.h"

#define NTOK 8192

typedef struct resp_ctx {
    imap_limits lim;
    imap_response r;
    imap_token tok[NTOK];
    mr_error err;
} resp_ctx;

typedef struct cmd_ctx {
    imap_limits lim;
    imap_command c;
    imap_token tok[NTOK];
    mr_error err;
} cmd_ctx;

/* The contexts live here (large token arrays, not on the stack). */
static inline resp_ctx *resp_ctx_get(int k)
{
    static resp_ctx c[2];
    return &c[k];
}

static inline cmd_ctx *cmd_ctx_get(int k)
{
    static cmd_ctx c[2];
    return &c[k];
}

static inline imap_limits limits_mode(mr_mode mode)
{
    imap_limits lim = imap_limits_default();
    lim.mode = mode;
    return lim;
}

static inline int resp_step(void *v, const char *buf, size_t len)
{
    resp_ctx *c = v;
    return imap_response_next(buf, len, &c->lim, &c->r, c->tok, NTOK, &c->err);
}

static inline int cmd_step(void *v, const char *buf, size_t len)
{
    cmd_ctx *c = v;
    return imap_command_next(buf, len, &c->lim, &c->c, c->tok, NTOK, &c->err);
}

/* Feed the framer one byte at a time like a socket would; check that it finds one item of n
 * bytes (literals inline) and, with every literal streamed, that segments + final equal the
 * input without payloads and that the payload chunks add up. */
static inline void frame_bytewise(imap_side side, const imap_limits *base, const char *in, size_t n)
{
    imap_limits lim = *base;
    for (int streamed = 0; streamed < 2; streamed++) {
        if (streamed)
            lim.inline_literal_max = 0;
        imap_framer f;
        imap_framer_init(&f, side, &lim);
        char *text = malloc(n + 1), *payload = malloc(n + 1);
        size_t have = 0, at = 0, ntext = 0, npayload = 0, fed = 0;
        int done = 0;
        while (!done) {
            imap_frame ev;
            mr_error err;
            int r = imap_framer_next(&f, in + at, have, &ev, &err);
            if (r == MR_NEED_MORE) {
                assert_true(fed < n);
                fed++;
                have++;
                continue;
            }
            if (r < 0)
                fail_msg("framer error %s rule %s at %zu (streamed %d)",
                         mr_errcode_str(err.code), err.rule, err.offset, streamed);
            if (ev.kind == IMAP_FRAME_SYNC_LITERAL) {
                assert_int_equal(r, 0);
                continue;
            }
            assert_int_equal((size_t)r, ev.n);
            if (ev.kind == IMAP_FRAME_LITERAL) {
                assert_true(streamed);
                memcpy(payload + npayload, in + at, ev.n);
                npayload += ev.n;
            } else {
                memcpy(text + ntext, in + at, ev.n);
                ntext += ev.n;
                done = ev.kind == IMAP_FRAME_ITEM;
            }
            at += ev.n;
            have -= ev.n;
        }
        assert_int_equal(at, n);
        if (!streamed)
            assert_int_equal(ntext, n);
        else
            assert_int_equal(ntext + npayload, n);
        free(text);
        free(payload);
    }
}

/* Parse a valid response through the whole battery; returns the parsed context, whose
 * slices point into `in`. */
static inline resp_ctx *resp_ok_n(const char *in, size_t n, mr_mode mode)
{
    resp_ctx *c = resp_ctx_get(0);
    c->lim = limits_mode(mode);
    test_prefixes_want(resp_step, c, in, n, (int)n, &c->err);
    frame_bytewise(IMAP_SIDE_RESPONSE, &c->lim, in, n);
    static char out[1 << 17];
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_response_parsed(&w, &c->r);
    int wl = imap_wbuf_result(&w);
    assert_true(wl > 0);
    resp_ctx *again = resp_ctx_get(1);
    int r2 = imap_response_parse(out, (size_t)wl, &c->lim, &again->r, again->tok, NTOK,
                                 &again->err);
    if (r2 != wl || !imap_response_equal(&c->r, &again->r))
        fail_msg("round trip of %.*s: wrote %.*s, parse %d", (int)n, in, wl, out, r2);
    return c;
}

static inline resp_ctx *resp_ok(const char *in, mr_mode mode)
{
    return resp_ok_n(in, strlen(in), mode);
}

static inline void resp_err_n(const char *in, size_t n, mr_mode mode, mr_errcode code, const char *rule,
                       size_t off)
{
    resp_ctx *c = resp_ctx_get(0);
    c->lim = limits_mode(mode);
    test_prefixes_fail(resp_step, c, in, n, &c->err, code, rule, off);
}

static inline void resp_err(const char *in, mr_mode mode, mr_errcode code, const char *rule,
                     size_t off)
{
    resp_err_n(in, strlen(in), mode, code, rule, off);
}

static inline cmd_ctx *cmd_ok_n(const char *in, size_t n, mr_mode mode)
{
    cmd_ctx *c = cmd_ctx_get(0);
    c->lim = limits_mode(mode);
    test_prefixes_want(cmd_step, c, in, n, (int)n, &c->err);
    frame_bytewise(IMAP_SIDE_COMMAND, &c->lim, in, n);
    static char out[1 << 17];
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_command_parsed(&w, &c->c);
    int wl = imap_wbuf_result(&w);
    assert_true(wl > 0);
    cmd_ctx *again = cmd_ctx_get(1);
    int r2 = imap_command_parse(out, (size_t)wl, &c->lim, &again->c, again->tok, NTOK,
                                &again->err);
    if (r2 != wl || !imap_command_equal(&c->c, &again->c))
        fail_msg("round trip of %.*s: wrote %.*s, parse %d", (int)n, in, wl, out, r2);
    return c;
}

static inline cmd_ctx *cmd_ok(const char *in, mr_mode mode)
{
    return cmd_ok_n(in, strlen(in), mode);
}

static inline void cmd_err_n(const char *in, size_t n, mr_mode mode, mr_errcode code, const char *rule,
                      size_t off)
{
    cmd_ctx *c = cmd_ctx_get(0);
    c->lim = limits_mode(mode);
    test_prefixes_fail(cmd_step, c, in, n, &c->err, code, rule, off);
}

static inline void cmd_err(const char *in, mr_mode mode, mr_errcode code, const char *rule, size_t off)
{
    cmd_err_n(in, strlen(in), mode, code, rule, off);
}

/* Token i's slice equals s. */
static inline void assert_tok(const imap_toks *t, unsigned i, int type, const char *s)
{
    assert_true(i < t->n);
    if (t->tok[i].type != type)
        fail_msg("token %u: type %d, want %d", i, t->tok[i].type, type);
    mr_slice sl = imap_tok_slice(t, i);
    if (!mr_slice_eq(sl, s))
        fail_msg("token %u: '%.*s', want '%s'", i, (int)sl.n, sl.p, s);
}

#endif
