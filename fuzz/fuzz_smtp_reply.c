/* fuzz_smtp_reply.c -- SMTP replies and EHLO keyword lists (proto/smtp_reply.c), server to
 * client.
 *
 * The input is a server stream of replies. Oracles, in strict and lenient mode:
 *  - split: whole-buffer parsing and parsing as the bytes arrive (the same smtp_reply kept
 *    between MR_NEED_MORE calls, so the resume state is exercised) give the same replies,
 *    consumed counts and errors;
 *  - round trip: smtp_reply_write then smtp_reply_parse gives the same code, lines, statuses;
 *  - EHLO: for a 250 reply, the keywords read leniently, written with smtp_ehlo_write and read
 *    again, are the same; strict iteration never crashes;
 *  - smtp_reply_format of each reply's first line parses back within the requested width.
 */
#include <string.h>

#include "fuzz/util.h"
#include "proto/smtp_reply.h"

enum { MAX_INPUT = 1024, MAX_ITEMS = 32, MAX_CUTS = 64, MAX_LINES = 12, OUT_CAP = 65536 };

static uint64_t hash_reply(const smtp_reply *rep, const char *base)
{
    uint64_t h = FUZZ_HASH_SEED;
    h = fuzz_mix(h, rep->code);
    h = fuzz_mix(h, rep->nlines);
    h = fuzz_mix(h, rep->has_status);
    h = fuzz_mix(h, rep->status_class * 1000003u + rep->status_subject * 1009u +
                        rep->status_detail);
    for (size_t k = 0; k < rep->nlines; k++) {
        h = fuzz_mix_slice(h, base, rep->lines[k].status);
        h = fuzz_mix_slice(h, base, rep->lines[k].text);
    }
    return h;
}

static void round_trip(const smtp_reply *rep, mr_mode mode, const smtp_reply_limits *lim)
{
    static char out[OUT_CAP];
    mr_error err;
    int n = smtp_reply_write(out, sizeof out, rep, &err);
    FUZZ_CHECK(n > 0 && n <= OUT_CAP);
    FUZZ_CHECK(smtp_reply_write(NULL, 0, rep, &err) == n);
    smtp_reply_line lines[MAX_LINES];
    smtp_reply d;
    smtp_reply_init(&d, lines, MAX_LINES);
    FUZZ_CHECK(smtp_reply_parse(out, (size_t)n, mode, lim, &d, &err) == n);
    FUZZ_CHECK(d.code == rep->code && d.nlines == rep->nlines && d.has_status == rep->has_status);
    FUZZ_CHECK(d.status_class == rep->status_class && d.status_subject == rep->status_subject &&
               d.status_detail == rep->status_detail);
    for (size_t k = 0; k < d.nlines; k++) {
        FUZZ_CHECK(fuzz_same_slice(d.lines[k].status, rep->lines[k].status));
        FUZZ_CHECK(fuzz_same_slice(d.lines[k].text, rep->lines[k].text));
    }
}

static void ehlo(const smtp_reply *rep)
{
    smtp_ehlo_iter it;
    smtp_ehlo_kw kw, kws[MAX_LINES];
    mr_error err;
    size_t n = 0;
    int r;
    smtp_ehlo_iter_init(&it, rep, MR_STRICT);
    while ((r = smtp_ehlo_next(&it, &kw, &err)) != 0)
        FUZZ_CHECK(r == 1 || r == MR_ERROR);
    smtp_ehlo_iter_init(&it, rep, MR_LENIENT);
    while ((r = smtp_ehlo_next(&it, &kw, &err)) == 1) {
        FUZZ_CHECK(n < MAX_LINES && kw.keyword.n > 0);
        char z[64];
        if (n == 0 && kw.keyword.n < sizeof z) { /* the lookups find what the iterator found */
            memcpy(z, kw.keyword.p, kw.keyword.n);
            z[kw.keyword.n] = 0;
            FUZZ_CHECK(smtp_ehlo_has(rep, z, NULL) == 1);
        }
        mr_slice rest = kw.params, word;
        while (smtp_ehlo_param_next(&rest, &word)) {
            FUZZ_CHECK(word.n > 0);
            if (n == 0 && word.n < sizeof z) {
                memcpy(z, word.p, word.n);
                z[word.n] = 0;
                FUZZ_CHECK(smtp_ehlo_kw_has_param(&kw, z) == 1);
            }
        }
        kws[n++] = kw;
    }
    FUZZ_CHECK(r == 0);
    mr_slice domain, greeting;
    if (smtp_ehlo_greeting(rep, &domain, &greeting, &err) != 0)
        return;
    static char out[OUT_CAP];
    int w = smtp_ehlo_write(out, sizeof out, domain, greeting, kws, n, &err);
    if (w == MR_ERROR) /* a domain the writer will not send: empty, or with "=" */
        return;
    FUZZ_CHECK(w > 0 && w <= OUT_CAP);
    smtp_reply_line lines[MAX_LINES + 1];
    smtp_reply d;
    smtp_reply_init(&d, lines, MAX_LINES + 1);
    smtp_reply_limits wide = {.max_line = OUT_CAP};
    FUZZ_CHECK(smtp_reply_parse(out, (size_t)w, MR_LENIENT, &wide, &d, &err) == w);
    mr_slice d2, g2;
    FUZZ_CHECK(smtp_ehlo_greeting(&d, &d2, &g2, &err) == 0);
    FUZZ_CHECK(fuzz_same_slice(d2, domain) && fuzz_same_slice(g2, greeting));
    smtp_ehlo_iter_init(&it, &d, MR_LENIENT);
    for (size_t k = 0; k < n; k++) {
        FUZZ_CHECK(smtp_ehlo_next(&it, &kw, &err) == 1);
        FUZZ_CHECK(fuzz_same_slice(kw.keyword, kws[k].keyword));
        FUZZ_CHECK(fuzz_same_slice(kw.params, kws[k].params));
        FUZZ_CHECK(kw.old_form == kws[k].old_form);
    }
    FUZZ_CHECK(smtp_ehlo_next(&it, &kw, &err) == 0);
}

static void format(const smtp_reply *rep, size_t width)
{
    static char out[OUT_CAP];
    mr_error err;
    const smtp_reply_line *l = &rep->lines[0];
    char status[16] = "";
    if (l->status.n < sizeof status)
        memcpy(status, l->status.p, l->status.n), status[l->status.n] = 0;
    int n = smtp_reply_format(out, sizeof out, rep->code, status, l->text, width, &err);
    if (n == MR_ERROR) {
        FUZZ_CHECK(err.code == MR_E_LIMIT_LINE); /* width too small for code and status */
        return;
    }
    FUZZ_CHECK(n > 0 && n <= OUT_CAP);
    smtp_reply_line lines[64];
    smtp_reply d;
    smtp_reply_init(&d, lines, 64);
    smtp_reply_limits wide = {.max_line = OUT_CAP};
    int r = smtp_reply_parse(out, (size_t)n, MR_LENIENT, &wide, &d, &err);
    if (r == MR_ERROR) {
        FUZZ_CHECK(err.code == MR_E_LIMIT_COUNT); /* more than 64 lines */
        return;
    }
    FUZZ_CHECK(r == n && d.code == rep->code);
    for (const char *p = out, *end = out + n; p < end;) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        FUZZ_CHECK(lf && lf > p && lf[-1] == '\r' && (size_t)(lf - p) - 1 <= width);
        p = lf + 1;
    }
}

static size_t parse_stream(const char *data, size_t size, mr_mode mode,
                           const smtp_reply_limits *lim, const size_t *cuts, size_t ncuts,
                           fuzz_item *items, int check)
{
    smtp_reply_line lines[MAX_LINES];
    smtp_reply rep;
    smtp_reply_init(&rep, lines, MAX_LINES);
    size_t n = 0, at = 0, c = 0;
    size_t avail = ncuts ? cuts[0] : size;
    while (n < MAX_ITEMS) {
        mr_error err;
        int r = smtp_reply_parse(data + at, avail - at, mode, lim, &rep, &err);
        if (r == MR_NEED_MORE && fuzz_grow(&avail, size, cuts, ncuts, &c))
            continue;
        fuzz_item_set(&items[n++], r, &err, r > 0 ? hash_reply(&rep, data) : 0);
        if (r <= 0)
            break;
        FUZZ_CHECK((size_t)r <= avail - at && rep.nlines >= 1 && rep.nlines <= MAX_LINES);
        FUZZ_CHECK(rep.scan_pos == 0 && rep.scan_lines == 0);
        if (check) {
            round_trip(&rep, mode, lim);
            if (n == 1) { /* the costlier oracles on the first reply only */
                if (rep.code == 250)
                    ehlo(&rep);
                format(&rep, 4 + (size_t)(data[at] & 63) + (size % 50));
            }
        }
        at += (size_t)r;
        if (avail < at)
            avail = at;
    }
    return n;
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
        smtp_reply_limits lim = smtp_reply_limits_default();
        if (m)
            lim.max_line = 200; /* reachable by fuzz inputs */
        fuzz_item whole[MAX_ITEMS], split[MAX_ITEMS];
        size_t nw = parse_stream(s, size, mode, &lim, NULL, 0, whole, 1);
        size_t ns = parse_stream(s, size, mode, &lim, cuts, ncuts, split, 0);
        FUZZ_CHECK(fuzz_same_items(whole, nw, split, ns));
    }
    return 0;
}
