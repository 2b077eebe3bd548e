/* fuzz_imap_bodystructure.c -- round-trip oracle for BODYSTRUCTURE and ENVELOPE, after
 * Dovecot's fuzz-imap-bodystructure.
 *
 * The input is taken as the value of a FETCH attribute: "* 1 FETCH (BODYSTRUCTURE <input>)",
 * and the same with BODY and ENVELOPE. When it parses, it is turned into writer structs
 * (imap_body_to_w / imap_envelope_to_w), written with imap_w_body / imap_w_envelope, and
 * parsed again: the two parses must be equal, in strict and in lenient mode. Every accessor
 * walks the structure on the way.
 */
#include "fuzz/imap_fuzz.h"

enum { INPUT_MAX = 4096, POOL = FZ_TOKENS };

static imap_body_w bodies[POOL];
static imap_envelope_w envelopes[POOL];
static imap_address addrs[POOL];
static imap_param_w params[POOL];
static imap_nstring strings[POOL];

static void one(const char *att, const char *data, size_t size, mr_mode mode)
{
    static char item[INPUT_MAX + 64], out[4 * INPUT_MAX + 256];
    static imap_token tok[FZ_TOKENS], tok2[FZ_TOKENS];
    size_t hl = (size_t)snprintf(item, sizeof item, "* 1 FETCH (%s ", att);
    memcpy(item + hl, data, size);
    memcpy(item + hl + size, ")\r\n", 3);
    size_t n = hl + size + 3;
    imap_limits lim = fz_limits(mode);
    lim.inline_literal_max = lim.literal_max; /* the whole value is here */
    imap_response r, r2;
    mr_error err;
    if (imap_response_parse(item, n, &lim, &r, tok, FZ_TOKENS, &err) < 0)
        return;
    fz_check_tokens(&r.t, n);
    imap_fetch_iter it;
    imap_fetch_att a;
    FUZZ_CHECK(imap_fetch_begin(&it, &r) == 0 && imap_fetch_next(&it, &a) == 1);
    FUZZ_CHECK(a.value == 2);
    imap_fetch_att more;
    if (imap_fetch_next(&it, &more) != 0)
        return; /* the input went on with more attributes: not one structure */
    imap_struct_pool pool = {bodies,  POOL, 0, envelopes, POOL, 0, addrs, POOL, 0,
                             params, POOL, 0, strings,   POOL, 0};
    imap_wbuf w;
    imap_wbuf_init(&w, out, sizeof out);
    imap_w_fetch_begin(&w, 1);
    imap_w_fetch_att(&w, att);
    if (a.att == IMAP_ATT_ENVELOPE) {
        fz_walk_envelope(&r.t, a.value);
        const imap_envelope_w *ew;
        FUZZ_CHECK(imap_envelope_to_w(&r.t, a.value, &pool, &ew) == 0);
        imap_w_envelope(&w, ew, 0);
    } else {
        fz_walk_body(&r.t, a.value, 0);
        const imap_body_w *bw;
        FUZZ_CHECK(imap_body_to_w(&r.t, a.value, &pool, &bw) == 0);
        imap_w_body(&w, bw, 0);
    }
    imap_w_fetch_end(&w);
    int wl = imap_wbuf_result(&w);
    if (wl == MR_ERROR) { /* lenient mode takes NUL in a literal; no writer may send it */
        FUZZ_CHECK(mode == MR_LENIENT && w.err == MR_E_NUL);
        return;
    }
    FUZZ_CHECK(wl > 0);
    int rc2 = imap_response_parse(out, (size_t)wl, &lim, &r2, tok2, FZ_TOKENS, &err);
    if (rc2 != wl || !imap_response_equal(&r, &r2)) {
        fprintf(stderr, "round trip (%s):\n%.*s\n%.*s\n", mode ? "lenient" : "strict", (int)n,
                item, wl, out);
        if (rc2 < 0)
            fprintf(stderr, "reparse: %s %s %zu\n", mr_errcode_str(err.code), err.rule,
                    err.offset);
        FUZZ_CHECK(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_MAX)
        return 0;
    const char *s = (const char *)data;
    for (int m = 0; m < 2; m++) {
        mr_mode mode = m ? MR_LENIENT : MR_STRICT;
        one("BODYSTRUCTURE", s, size, mode);
        one("BODY", s, size, mode);
        one("ENVELOPE", s, size, mode);
    }
    return 0;
}
