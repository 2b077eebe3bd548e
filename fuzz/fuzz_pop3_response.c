/* fuzz_pop3_response.c -- POP3 responses (proto/pop3.c) and multi-line bodies read with the
 * shared dot-stream reader (proto/dotstream.c), server to client.
 *
 * The input is read three ways, in strict and lenient mode, since only the client knows
 * whether a multi-line body follows a status line:
 *  1. a sequence of status lines: whole and split parses agree; pop3_response_write then
 *     pop3_response_parse gives the same status, code and text;
 *  2. a status line, then a LIST/UIDL/CAPA listing body: the lines agree whole and split;
 *     every line goes through the scan, UIDL and CAPA line parsers; scan listings and CAPA
 *     lists round-trip through their writers; the CAPA iterator sees the same lines;
 *  3. a status line, then a RETR/TOP body through dot_read: whole and split agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "proto/dotstream.h"
#include "proto/pop3.h"

enum { MAX_INPUT = 1024, MAX_ITEMS = 64, MAX_CUTS = 64, OUT_CAP = 16384 };

/* ---- 1. status lines ---- */

static void response_round_trip(const pop3_response *r, mr_mode mode, const pop3_limits *lim)
{
    static char out[OUT_CAP];
    mr_error err;
    int n = pop3_response_write(out, sizeof out, r, &err);
    FUZZ_CHECK(n > 0 && n <= OUT_CAP && pop3_response_write(NULL, 0, r, &err) == n);
    pop3_limits wide = *lim;
    wide.max_resp_line += 8;
    pop3_response d;
    int k = pop3_response_parse(out, (size_t)n, mode, &wide, &d, &err);
    if (k == MR_ERROR) {
        /* strict 512-octet status lines: "+OK" + "" can grow by the SP added after it */
        FUZZ_CHECK(mode == MR_STRICT && err.code == MR_E_LIMIT_LINE);
        return;
    }
    FUZZ_CHECK(k == n && d.status == r->status);
    FUZZ_CHECK(fuzz_same_slice(d.code, r->code) && fuzz_same_slice(d.text, r->text));
}

static size_t status_lines(const char *data, size_t size, mr_mode mode, const pop3_limits *lim,
                           const size_t *cuts, size_t ncuts, fuzz_item *items, int check)
{
    size_t n = 0, at = 0, c = 0, avail = ncuts ? cuts[0] : size;
    while (n < MAX_ITEMS) {
        pop3_response r;
        mr_error err;
        int k = pop3_response_parse(data + at, avail - at, mode, lim, &r, &err);
        if (k == MR_NEED_MORE && fuzz_grow(&avail, size, cuts, ncuts, &c))
            continue;
        uint64_t h = 0;
        if (k > 0) {
            h = fuzz_mix(FUZZ_HASH_SEED, r.status);
            h = fuzz_mix_slice(fuzz_mix_slice(h, data, r.code), data, r.text);
        }
        fuzz_item_set(&items[n++], k, &err, h);
        if (k <= 0)
            break;
        if (check)
            response_round_trip(&r, mode, lim);
        at += (size_t)k;
        if (avail < at)
            avail = at;
    }
    return n;
}

/* ---- 2. listing bodies ---- */

static void check_listing_line(mr_slice line, mr_mode mode, const pop3_limits *lim)
{
    uint64_t a, b;
    mr_error err;
    if (pop3_scan_listing(line, mode, lim, &a, &b, &err) == 0 && a != 0) {
        char out[64];
        int n = snprintf(out, sizeof out, "%llu %llu", (unsigned long long)a,
                         (unsigned long long)b);
        uint64_t a2, b2;
        FUZZ_CHECK(pop3_scan_listing((mr_slice){out, (size_t)n}, MR_STRICT, lim, &a2, &b2, &err) == 0);
        FUZZ_CHECK(a2 == a && b2 == b);
    }
    (void)pop3_stat_listing(line, mode, lim, &a, &b, &err);
    mr_slice uid;
    if (pop3_uidl_listing(line, mode, lim, &a, &uid, &err) == 0)
        FUZZ_CHECK(uid.n >= 1 && uid.n <= 70 && uid.p >= line.p && uid.p + uid.n <= line.p + line.n);
    pop3_capa cap;
    if (pop3_capa_parse(line, mode, &cap, &err) == 0)
        FUZZ_CHECK(cap.tag.n > 0);
}

static size_t listing(const char *data, size_t size, mr_mode mode, const pop3_limits *lim,
                      const size_t *cuts, size_t ncuts, fuzz_item *items, int check)
{
    size_t n = 0, at = 0, c = 0, avail = ncuts ? cuts[0] : size;
    while (n < MAX_ITEMS) {
        mr_slice line;
        int end = 0;
        mr_error err;
        int k = pop3_listing_line(data + at, avail - at, mode, lim, &line, &end, &err);
        if (k == MR_NEED_MORE && fuzz_grow(&avail, size, cuts, ncuts, &c))
            continue;
        uint64_t h = k > 0 ? fuzz_mix_slice(fuzz_mix(1, (uint64_t)end), data, line) : 0;
        fuzz_item_set(&items[n++], k, &err, h);
        if (k <= 0 || end)
            break;
        if (check)
            check_listing_line(line, mode, lim);
        at += (size_t)k;
        if (avail < at)
            avail = at;
    }
    return n;
}

/* The CAPA iterator over the same body; its lines, written and read back, are the same. */
static void capa(const char *body, size_t size, mr_mode mode, const pop3_limits *lim)
{
    pop3_capa_iter it;
    pop3_capa caps[MAX_ITEMS], cap;
    size_t n = 0;
    mr_error err;
    int r;
    pop3_capa_iter_init(&it, body, size, mode, lim);
    while (n < MAX_ITEMS && (r = pop3_capa_next(&it, &cap, &err)) == 1)
        caps[n++] = cap;
    if (n == MAX_ITEMS || !it.done)
        return;
    char z[64];
    if (n > 0 && mode == MR_LENIENT && caps[0].tag.n < sizeof z) { /* the lookup finds it */
        memcpy(z, caps[0].tag.p, caps[0].tag.n);
        z[caps[0].tag.n] = 0;
        FUZZ_CHECK(pop3_capa_has(body, size, z, NULL) == 1);
    }
    static char out[OUT_CAP];
    int w = pop3_capa_write(out, sizeof out, (mr_slice){"", 0}, caps, n, &err);
    if (w == MR_ERROR) /* a lenient tag starting with "." cannot be sent */
        return;
    FUZZ_CHECK(w > 0 && w <= OUT_CAP);
    pop3_response resp;
    pop3_limits wide = *lim;
    wide.max_resp_line = OUT_CAP;
    int first = pop3_response_parse(out, (size_t)w, mode, &wide, &resp, &err);
    FUZZ_CHECK(first == 5 && resp.status == POP3_OK);
    pop3_capa_iter_init(&it, out + first, (size_t)w - (size_t)first, mode, &wide);
    for (size_t k = 0; k < n; k++) {
        FUZZ_CHECK(pop3_capa_next(&it, &cap, &err) == 1);
        FUZZ_CHECK(fuzz_same_slice(cap.tag, caps[k].tag) &&
                   fuzz_same_slice(cap.params, caps[k].params));
    }
    FUZZ_CHECK(pop3_capa_next(&it, &cap, &err) == 0 && it.pos == (size_t)w - (size_t)first);
}

/* ---- 3. RETR/TOP bodies ---- */

static uint64_t body_hash(const char *data, size_t size, mr_mode mode, const size_t *cuts,
                          size_t ncuts)
{
    dot_reader r;
    dot_reader_init(&r, mode, NULL);
    uint64_t h = FUZZ_HASH_SEED;
    size_t at = 0, c = 0, avail = ncuts ? cuts[0] : size;
    while (!r.done) {
        mr_slice o;
        mr_error err;
        int k = dot_read(&r, data + at, avail - at, &o, &err);
        if (k > 0) {
            for (size_t i = 0; i < o.n; i++)
                h = fuzz_mix(h, (unsigned char)o.p[i]);
            at += (size_t)k;
            if (at < avail || r.done)
                continue;
        }
        if (!fuzz_grow(&avail, size, cuts, ncuts, &c))
            break;
    }
    h = fuzz_mix(h, r.done ? r.consumed : UINT64_MAX);
    h = fuzz_mix(h, r.violations);
    for (int v = 0; v < DOT_V__COUNT; v++)
        if (r.violations & (1u << v))
            h = fuzz_mix(h, r.first[v]);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) /* the limits below are small: longer inputs reach nothing new */
        size = MAX_INPUT;
    const char *s = (const char *)data;
    size_t cuts[MAX_CUTS];
    size_t ncuts = fuzz_cuts(data, size, cuts, MAX_CUTS);
    for (int m = 0; m < 2; m++) {
        mr_mode mode = m ? MR_LENIENT : MR_STRICT;
        pop3_limits lim = pop3_limits_default();
        if (m) {
            lim.max_resp_line = 100;
            lim.max_number = 1000000;
        }
        fuzz_item whole[MAX_ITEMS], split[MAX_ITEMS];
        size_t nw = status_lines(s, size, mode, &lim, NULL, 0, whole, 1);
        size_t ns = status_lines(s, size, mode, &lim, cuts, ncuts, split, 0);
        FUZZ_CHECK(fuzz_same_items(whole, nw, split, ns));
        /* the body after the first status line (split points shifted to it) */
        if (nw == 0 || whole[0].r <= 0)
            continue;
        size_t skip = (size_t)whole[0].r;
        const char *body = s + skip;
        size_t bsize = size - skip, bcuts[MAX_CUTS], nb = 0;
        for (size_t k = 0; k < ncuts; k++)
            if (cuts[k] > skip)
                bcuts[nb++] = cuts[k] - skip;
        nw = listing(body, bsize, mode, &lim, NULL, 0, whole, 1);
        ns = listing(body, bsize, mode, &lim, bcuts, nb, split, 0);
        FUZZ_CHECK(fuzz_same_items(whole, nw, split, ns));
        capa(body, bsize, mode, &lim);
        FUZZ_CHECK(body_hash(body, bsize, mode, NULL, 0) == body_hash(body, bsize, mode, bcuts, nb));
    }
    return 0;
}
