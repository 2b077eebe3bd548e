/* fuzz_smtp_data.c -- the dot-stuffed body reader and writer (proto/dotstream.c) that SMTP
 * DATA and POP3 RETR/TOP share.
 *
 * Oracles, in strict and lenient mode:
 *  - split: reading the input whole and reading it as it arrives in pieces give the same
 *    content bytes, the same end offset (or none), the same violation flags and first offsets;
 *    every output slice lies inside the bytes its call consumed;
 *  - writer: the input taken as content, dot-stuffed in pieces (dot_write, dot_write_end) and
 *    read back, gives the content again (plus CRLF when it did not end with one); in strict
 *    mode that holds unless the content has a bare LF followed by "."; the writer's size query
 *    leaves its state alone.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "proto/dotstream.h"

enum { MAX_INPUT = 2048, MAX_CUTS = 128 };

typedef struct result {
    size_t content_n;
    size_t consumed; /* where the body ended; 0 when it did not */
    int done;
    unsigned violations;
    uint64_t first[DOT_V__COUNT];
} result;

/* Read data[0..size) arriving at the cuts (ncuts 0: whole); content goes to out. */
static result read_body(const char *data, size_t size, mr_mode mode, size_t max_line,
                        const size_t *cuts, size_t ncuts, char *out)
{
    result res = {0};
    dot_limits lim = {.max_line = max_line};
    dot_reader r;
    dot_reader_init(&r, mode, &lim);
    size_t at = 0, c = 0, avail = ncuts ? cuts[0] : size;
    while (!r.done) {
        mr_slice o;
        mr_error err;
        int k = dot_read(&r, data + at, avail - at, &o, &err);
        if (k > 0) {
            FUZZ_CHECK((size_t)k <= avail - at);
            FUZZ_CHECK(o.p >= data + at && o.p + o.n <= data + at + (size_t)k);
            memcpy(out + res.content_n, o.p, o.n);
            res.content_n += o.n;
            at += (size_t)k;
            FUZZ_CHECK(r.consumed == at && r.content == res.content_n);
            if (at < avail || r.done)
                continue;
        } else {
            FUZZ_CHECK(k == MR_NEED_MORE);
        }
        if (!fuzz_grow(&avail, size, cuts, ncuts, &c))
            break;
    }
    res.done = r.done;
    res.consumed = r.done ? at : 0;
    res.violations = r.violations;
    for (int v = 0; v < DOT_V__COUNT; v++)
        res.first[v] = (r.violations & (1u << v)) ? r.first[v] : 0;
    if (r.done) { /* calling again after the end is refused */
        mr_slice o;
        mr_error err;
        FUZZ_CHECK(dot_read(&r, data + at, size - at, &o, &err) == MR_ERROR &&
                   err.code == MR_E_STATE);
    }
    return res;
}

static int same_result(const result *a, const result *b, const char *ca, const char *cb)
{
    if (a->content_n != b->content_n || a->consumed != b->consumed || a->done != b->done ||
        a->violations != b->violations)
        return 0;
    if (memcmp(a->first, b->first, sizeof a->first) != 0)
        return 0;
    return a->content_n == 0 || memcmp(ca, cb, a->content_n) == 0;
}

/* Stuff content in pieces at the cuts, end it; returns the wire length. */
static size_t stuff(const char *content, size_t n, const size_t *cuts, size_t ncuts, char *wire,
                    size_t cap)
{
    dot_writer w;
    dot_writer_init(&w);
    size_t at = 0, out = 0, c = 0;
    mr_error err;
    for (int piece = 0; at < n; piece++) {
        size_t to = c < ncuts ? cuts[c] : n;
        c += 3; /* pieces of a few bytes to a few dozen: every third cut */
        if (to <= at)
            continue;
        int need = -1;
        if (piece < 8) { /* a size query writes nothing that counts and keeps the state */
            dot_writer before = w;
            need = dot_write(&w, content + at, to - at, wire + out, 0, &err);
            FUZZ_CHECK(need >= (int)(to - at) && w.state == before.state);
        }
        int k = dot_write(&w, content + at, to - at, wire + out, cap - out, &err);
        FUZZ_CHECK((need < 0 || k == need) && k >= (int)(to - at) && (size_t)k <= cap - out);
        out += (size_t)k;
        at = to;
    }
    int k = dot_write_end(&w, wire + out, cap - out, &err);
    FUZZ_CHECK(k == 3 || k == 5);
    return out + (size_t)k;
}

static int has_bare_lf_dot(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r') && p[i + 1] == '.')
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) /* the limits below are small: longer inputs reach nothing new */
        size = MAX_INPUT;
    const char *s = (const char *)data;
    size_t cuts[MAX_CUTS];
    size_t ncuts = fuzz_cuts(data, size, cuts, MAX_CUTS);
    size_t wire_cap = 2 * size + 8;
    char *a = malloc(size + 1), *b = malloc(size + 1), *wire = malloc(wire_cap);
    char *back = malloc(wire_cap);
    FUZZ_CHECK(a && b && wire && back);
    for (int m = 0; m < 2; m++) {
        mr_mode mode = m ? MR_LENIENT : MR_STRICT;
        size_t max_line = m ? 16 + size % 64 : DOT_MAX_LINE_DEFAULT;
        result whole = read_body(s, size, mode, max_line, NULL, 0, a);
        result split = read_body(s, size, mode, max_line, cuts, ncuts, b);
        FUZZ_CHECK(same_result(&whole, &split, a, b));
        FUZZ_CHECK(whole.content_n <= size);
        /* writer, then reader */
        size_t n = stuff(s, size, cuts, ncuts, wire, wire_cap);
        if (mode == MR_STRICT && has_bare_lf_dot(s, size))
            continue;
        result back_res = read_body(wire, n, mode, max_line, NULL, 0, back);
        int ends_crlf = size == 0 || (size >= 2 && s[size - 2] == '\r' && s[size - 1] == '\n');
        FUZZ_CHECK(back_res.done && back_res.consumed == n);
        FUZZ_CHECK(back_res.content_n == size + (ends_crlf ? 0 : 2));
        FUZZ_CHECK(size == 0 || memcmp(back, s, size) == 0);
        if (!ends_crlf)
            FUZZ_CHECK(memcmp(back + size, "\r\n", 2) == 0);
    }
    free(a);
    free(b);
    free(wire);
    free(back);
    return 0;
}
