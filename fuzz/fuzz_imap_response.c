/* fuzz_imap_response.c -- IMAP responses: framer + grammar + accessors + writer.
 *
 * Oracles, in strict and lenient mode:
 *   - framing the input whole and framing it grown at split points derived from the input
 *     give the same items, events, consumed counts, payload and error;
 *   - every item that parses has well-formed tokens, and every accessor walks it without
 *     fault (FETCH attributes, sections, ENVELOPE, BODYSTRUCTURE, capabilities, sequence sets);
 *   - writing a parsed item and parsing that gives an equal item (parse(write(x)) == x).
 */
#include "fuzz/imap_fuzz.h"

static imap_limits cur_lim;

static void check_fetch(const imap_response *r)
{
    imap_fetch_iter it;
    imap_fetch_att a;
    if (imap_fetch_begin(&it, r) != 0)
        return;
    int k;
    while ((k = imap_fetch_next(&it, &a)) == 1) {
        if (a.has_section) {
            imap_section sec;
            (void)imap_section_decode(&r->t, a.section_tok, &sec);
        }
        if (a.att == IMAP_ATT_ENVELOPE)
            fz_walk_envelope(&r->t, a.value);
        else if ((a.att == IMAP_ATT_BODY || a.att == IMAP_ATT_BODYSTRUCTURE) && !a.has_section)
            fz_walk_body(&r->t, a.value, 0);
    }
    FUZZ_CHECK(k == 0); /* the parser only makes well-formed msg-att lists */
}

static void on_item(void *ctx, const char *item, size_t n, const char *sync, size_t sync_n)
{
    (void)ctx;
    (void)sync;
    (void)sync_n;
    if (!item)
        return;
    static imap_token tok[FZ_TOKENS], tok2[FZ_TOKENS];
    static char out[2 * FZ_ITEM_MAX + 64];
    imap_response r, r2;
    mr_error err;
    int rc = imap_response_parse(item, n, &cur_lim, &r, tok, FZ_TOKENS, &err);
    if (rc < 0) {
        FUZZ_CHECK(rc == MR_ERROR && err.rule != NULL && err.offset <= n);
        return;
    }
    FUZZ_CHECK((size_t)rc == n);
    fz_check_tokens(&r.t, n);
    if (cur_lim.mode == MR_LENIENT) { /* lenient parses are a superset: walk those */
        fz_touch_tokens(&r.t);
        check_fetch(&r);
        imap_cap_iter ci;
        mr_slice cap;
        if (imap_cap_begin(&ci, &r) == 0)
            while (imap_cap_next(&ci, &cap) == 1)
                FUZZ_CHECK(cap.n > 0);
    }
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_response_parsed(&w, &r);
    int wl = imap_wbuf_result(&w);
    FUZZ_CHECK(wl > 0);
    int rc2 = imap_response_parse(out, (size_t)wl, &cur_lim, &r2, tok2, FZ_TOKENS, &err);
    if (rc2 != wl || !imap_response_equal(&r, &r2)) {
        fprintf(stderr, "round trip:\n%.*s\n%.*s\n", (int)n, item, wl, out);
        if (rc2 < 0)
            fprintf(stderr, "reparse: %s %s %zu\n", mr_errcode_str(err.code), err.rule,
                    err.offset);
        FUZZ_CHECK(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_frame_both_ways(IMAP_SIDE_RESPONSE, &cur_lim, data, size, on_item);
    /* the stateless convenience agrees with the framer on the first item */
    static imap_token tok[FZ_TOKENS];
    imap_response r;
    mr_error err;
    imap_limits lim = fz_limits(MR_LENIENT);
    lim.inline_literal_max = lim.literal_max;
    int n = imap_response_next((const char *)data, size, &lim, &r, tok, FZ_TOKENS, &err);
    FUZZ_CHECK(n == MR_NEED_MORE || n == MR_ERROR || (n > 0 && (size_t)n <= size));
    return 0;
}
