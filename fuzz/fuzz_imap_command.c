/* fuzz_imap_command.c -- IMAP commands: framer (synchronizing literals, LITERAL+, streaming)
 * + grammar + accessors + writer.
 *
 * Oracles, in strict and lenient mode:
 *   - framing whole and at split points gives the same items, events and errors;
 *   - at every synchronizing literal, the prefix parse (what a server checks before "+")
 *     yields well-formed tokens, and its written form parses back to the same;
 *   - every complete command that parses has well-formed tokens, walks cleanly, and
 *     parse(write(x)) == x.
 */
#include "fuzz/imap_fuzz.h"

static imap_limits cur_lim;

static void check_parsed(const imap_command *c, size_t n)
{
    fz_check_tokens(&c->t, n);
    if (cur_lim.mode != MR_LENIENT) /* lenient parses are a superset: walk those */
        return;
    fz_touch_tokens(&c->t);
    imap_fetch_iter it;
    imap_fetch_att a;
    if (imap_fetch_cmd_begin(&it, c) == 0 && !c->partial) {
        int k;
        while ((k = imap_fetch_next(&it, &a)) == 1)
            if (a.has_section) {
                imap_section sec;
                (void)imap_section_decode(&c->t, a.section_tok, &sec);
            }
        FUZZ_CHECK(k == 0);
    }
}

static void round_trip(const imap_command *c, const char *item, size_t n, int prefix)
{
    static imap_token tok2[FZ_TOKENS];
    static char out[2 * FZ_ITEM_MAX + 64];
    imap_command c2;
    mr_error err;
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_command_parsed(&w, c);
    int wl = imap_wbuf_result(&w);
    FUZZ_CHECK(wl > 0);
    int rc2 = prefix ? imap_command_parse_prefix(out, (size_t)wl, &cur_lim, &c2, tok2, FZ_TOKENS,
                                                 &err)
                     : imap_command_parse(out, (size_t)wl, &cur_lim, &c2, tok2, FZ_TOKENS, &err);
    if (rc2 != wl || !imap_command_equal(c, &c2)) {
        fprintf(stderr, "round trip:\n%.*s\n%.*s\n", (int)n, item, wl, out);
        if (rc2 < 0)
            fprintf(stderr, "reparse: %s %s %zu\n", mr_errcode_str(err.code), err.rule,
                    err.offset);
        FUZZ_CHECK(0);
    }
}

static void on_item(void *ctx, const char *item, size_t n, const char *sync, size_t sync_n)
{
    (void)ctx;
    static imap_token tok[FZ_TOKENS];
    imap_command c;
    mr_error err;
    if (sync) {
        int rc = imap_command_parse_prefix(sync, sync_n, &cur_lim, &c, tok, FZ_TOKENS, &err);
        if (rc >= 0) {
            FUZZ_CHECK((size_t)rc == sync_n);
            check_parsed(&c, sync_n);
            round_trip(&c, sync, sync_n, 1);
        }
        return;
    }
    (void)imap_is_idle_done(item, n, cur_lim.mode);
    mr_slice b64;
    int cancel;
    (void)imap_sasl_line(item, n, cur_lim.mode, &b64, &cancel, &err);
    int rc = imap_command_parse(item, n, &cur_lim, &c, tok, FZ_TOKENS, &err);
    if (rc < 0) {
        FUZZ_CHECK(rc == MR_ERROR && err.rule != NULL && err.offset <= n);
        FUZZ_CHECK(c.tag.n == 0 || c.tag.n == imap_tag_len(item, n, cur_lim.mode));
        return;
    }
    FUZZ_CHECK((size_t)rc == n && !c.partial);
    check_parsed(&c, n);
    round_trip(&c, item, n, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_frame_both_ways(IMAP_SIDE_COMMAND, &cur_lim, data, size, on_item);
    return 0;
}
