/* test_dotstream.c -- the dot-terminated body reader and writer (proto/dotstream.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto/dotstream.h"
#include "tests/unit/support.h"

/* What a caller sees after reading a body: the content, where the body ended, and the
 * violations recorded. */
typedef struct result {
    char *content;
    size_t content_n;
    size_t consumed; /* 0 when the body did not end */
    int done;
    unsigned violations;
    uint64_t first[DOT_V__COUNT];
} result;

static void result_free(result *res)
{
    free(res->content);
    memset(res, 0, sizeof *res);
}

/* Feed in[0..n) the way a network caller would: the bytes arrive `chunk` at a time, each call
 * gets everything received and not yet consumed, in a guard-page copy (so any over-read
 * faults). chunk 0 means all at once. */
static result read_body(const char *in, size_t n, size_t chunk, mr_mode mode, size_t max_line)
{
    result res = {.content = malloc(n + 1)};
    assert_non_null(res.content);
    dot_limits lim = {.max_line = max_line};
    dot_reader r;
    dot_reader_init(&r, mode, &lim);
    size_t at = 0, avail = chunk ? (n < chunk ? n : chunk) : n;
    for (;;) {
        size_t win = avail - at;
        char *copy = guard_dup(in + at, win);
        mr_slice out = {NULL, 0};
        mr_error err = {0};
        int rc = dot_read(&r, copy, win, &out, &err);
        if (rc > 0) {
            assert_true((size_t)rc <= win);
            assert_true(out.p >= copy && out.p + out.n <= copy + rc);
            memcpy(res.content + res.content_n, out.p, out.n);
            res.content_n += out.n;
            at += (size_t)rc;
        } else {
            assert_int_equal(rc, MR_NEED_MORE);
        }
        guard_free(copy, win);
        if (r.done)
            break;
        if (rc == MR_NEED_MORE || at == avail) {
            if (avail == n)
                break;
            avail = chunk ? (n - avail < chunk ? n : avail + chunk) : n;
        }
    }
    assert_true(r.content == res.content_n);
    res.done = r.done;
    res.consumed = r.done ? at : 0;
    if (r.done)
        assert_true(r.consumed == at);
    res.violations = r.violations;
    memcpy(res.first, r.first, sizeof res.first);
    return res;
}

/* Read `in` whole, one byte at a time, and in 2..7-byte chunks; all must agree. */
static result read_all_ways(const char *in, size_t n, mr_mode mode, size_t max_line)
{
    result whole = read_body(in, n, 0, mode, max_line);
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        result part = read_body(in, n, chunk, mode, max_line);
        assert_int_equal(part.content_n, whole.content_n);
        assert_memory_equal(part.content, whole.content, whole.content_n);
        assert_int_equal(part.done, whole.done);
        assert_int_equal(part.consumed, whole.consumed);
        assert_int_equal(part.violations, whole.violations);
        for (int v = 0; v < DOT_V__COUNT; v++)
            if (whole.violations & (1u << v))
                assert_true(part.first[v] == whole.first[v]);
        result_free(&part);
    }
    return whole;
}

/* Expect `in` to hold a complete body of content `want` ending after `end` bytes. */
static void expect_body(const char *in, mr_mode mode, const char *want, size_t end,
                        unsigned violations)
{
    result res = read_all_ways(in, strlen(in), mode, DOT_MAX_LINE_DEFAULT);
    assert_true(res.done);
    assert_int_equal(res.consumed, end);
    assert_int_equal(res.content_n, strlen(want));
    assert_memory_equal(res.content, want, res.content_n);
    assert_int_equal(res.violations, violations);
    result_free(&res);
}

#define BIT(v) (1u << (v))

static void body_simple(void **state)
{
    (void)state;
    /* RFC 5321 D.1 shape: the CRLF before "." belongs to the content. */
    const char *in = "From: Bob <bob@example.org>\r\nSubject: Test\r\n\r\nHello Alice.\r\n.\r\nQUIT\r\n";
    expect_body(in, MR_STRICT, "From: Bob <bob@example.org>\r\nSubject: Test\r\n\r\nHello Alice.\r\n",
                strlen(in) - strlen("QUIT\r\n"), 0);
    expect_body(in, MR_LENIENT, "From: Bob <bob@example.org>\r\nSubject: Test\r\n\r\nHello Alice.\r\n",
                strlen(in) - strlen("QUIT\r\n"), 0);
}

static void body_empty(void **state)
{
    (void)state;
    /* DATA content may be empty: the terminator is then the first line. */
    expect_body(".\r\nRSET\r\n", MR_STRICT, "", 3, 0);
    expect_body(".\r\n", MR_LENIENT, "", 3, 0);
    expect_body("\r\n.\r\n", MR_STRICT, "\r\n", 5, 0);
}

static void body_unstuffing(void **state)
{
    (void)state;
    expect_body("..\r\n.\r\n", MR_STRICT, ".\r\n", 7, 0);
    expect_body("a\r\n..b\r\n...\r\n.\r\n", MR_STRICT, "a\r\n.b\r\n..\r\n", 16, 0);
    /* RFC 5321 4.5.2: a leading dot is deleted even when the client forgot to double it. */
    expect_body(".x\r\n.\r\n", MR_STRICT, "x\r\n", 7, 0);
    /* Dots anywhere else are content. */
    expect_body("a.b\r\n x.\r\n.\r\n", MR_STRICT, "a.b\r\n x.\r\n", 13, 0);
    /* ".\r" followed by something other than LF: the dot was stuffing, the CR is bare. */
    expect_body(".\rX\r\n.\r\n", MR_STRICT, "\rX\r\n", 8, BIT(DOT_V_BARE_CR));
}

static void body_output_slices(void **state)
{
    (void)state;
    /* A removed dot splits the output; every slice points into the input. */
    const char *in = "ab\r\n..cd\r\n.\r\n";
    dot_reader r;
    dot_reader_init(&r, MR_STRICT, NULL);
    mr_slice out;
    mr_error err;
    assert_int_equal(dot_read(&r, in, strlen(in), &out, &err), 5); /* "ab\r\n" + the dot */
    assert_ptr_equal(out.p, in);
    assert_int_equal(out.n, 4);
    assert_int_equal(dot_read(&r, in + 5, strlen(in) - 5, &out, &err), 6);
    assert_ptr_equal(out.p, in + 5);
    assert_int_equal(out.n, 5); /* ".cd\r\n", then the terminator's dot */
    assert_false(r.done);
    assert_int_equal(dot_read(&r, in + 11, 2, &out, &err), 2);
    assert_int_equal(out.n, 0);
    assert_true(r.done);
    assert_true(r.consumed == 13);
    assert_int_equal(dot_read(&r, in + 13, 0, &out, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_STATE);
}

static void body_need_more(void **state)
{
    (void)state;
    dot_reader r;
    dot_reader_init(&r, MR_STRICT, NULL);
    mr_slice out;
    mr_error err;
    assert_int_equal(dot_read(&r, "", 0, &out, &err), MR_NEED_MORE);
    /* "\r\n." : the dot is consumed (dropped), then "\r" alone cannot be decided. */
    assert_int_equal(dot_read(&r, "\r\n.", 3, &out, &err), 3);
    assert_int_equal(out.n, 2);
    assert_int_equal(dot_read(&r, "\r", 1, &out, &err), MR_NEED_MORE);
    assert_int_equal(dot_read(&r, "\r\n", 2, &out, &err), 2);
    assert_true(r.done);
    assert_true(r.content == 2);
}

static void body_bare_lf_strict(void **state)
{
    (void)state;
    /* Strict: only CRLF ends lines, so none of these end the body (SMTP smuggling shapes). */
    const char *in = "a\n.\nb\r\n.\nc\n.\r\nd\r\n.\r\n";
    result res = read_all_ways(in, strlen(in), MR_STRICT, DOT_MAX_LINE_DEFAULT);
    assert_true(res.done);
    assert_int_equal(res.consumed, strlen(in));
    /* the ".\n" after "b\r\n" is a line-start dot: dropped as stuffing */
    const char *want = "a\n.\nb\r\n\nc\n.\r\nd\r\n";
    assert_int_equal(res.content_n, strlen(want));
    assert_memory_equal(res.content, want, res.content_n);
    assert_int_equal(res.violations, BIT(DOT_V_BARE_LF));
    assert_true(res.first[DOT_V_BARE_LF] == 1);
    result_free(&res);
}

static void body_bare_lf_lenient(void **state)
{
    (void)state;
    expect_body("a\n.\nb\r\n.\r\n", MR_LENIENT, "a\n", 4, BIT(DOT_V_BARE_LF));
    expect_body("a\r\n.\nb\r\n.\r\n", MR_LENIENT, "a\r\n", 5, BIT(DOT_V_BARE_LF));
    expect_body("a\n.\r\nb\r\n.\r\n", MR_LENIENT, "a\n", 5, BIT(DOT_V_BARE_LF));
    expect_body(".\n", MR_LENIENT, "", 2, BIT(DOT_V_BARE_LF));
    /* Unstuffing after a bare LF too. */
    expect_body("a\n..b\n.\n", MR_LENIENT, "a\n.b\n", 8, BIT(DOT_V_BARE_LF));
    result res = read_all_ways("a\r\n.\nb\r\n.\r\n", 11, MR_LENIENT, DOT_MAX_LINE_DEFAULT);
    assert_true(res.first[DOT_V_BARE_LF] == 4);
    result_free(&res);
}

static void body_bare_cr(void **state)
{
    (void)state;
    result res = read_all_ways("ab\rc\r\n\r\r\n.\r\n", 12, MR_STRICT, DOT_MAX_LINE_DEFAULT);
    assert_true(res.done);
    assert_int_equal(res.violations, BIT(DOT_V_BARE_CR));
    assert_true(res.first[DOT_V_BARE_CR] == 2);
    result_free(&res);
    /* A CR at the end of one read followed by a non-LF at the start of the next. */
    res = read_all_ways("abc\r\rd\r\n.\r\n", 11, MR_LENIENT, DOT_MAX_LINE_DEFAULT);
    assert_int_equal(res.violations, BIT(DOT_V_BARE_CR));
    assert_true(res.first[DOT_V_BARE_CR] == 3);
    result_free(&res);
}

static void body_long_lines(void **state)
{
    (void)state;
    /* 998 octets + CRLF is the RFC 5321 4.5.3.1.6 maximum; 999 is a violation. */
    char in[3000];
    size_t n = 0;
    memcpy(in + n, "ok\r\n", 4), n += 4;
    memset(in + n, 'x', 998), n += 998;
    memcpy(in + n, "\r\n", 2), n += 2;
    size_t long_at = n;
    memset(in + n, 'y', 999), n += 999;
    memcpy(in + n, "\r\n.\r\n", 5), n += 5;
    result res = read_all_ways(in, n, MR_STRICT, DOT_MAX_LINE_DEFAULT);
    assert_true(res.done);
    assert_int_equal(res.violations, BIT(DOT_V_LONG_LINE));
    assert_true(res.first[DOT_V_LONG_LINE] == long_at);
    result_free(&res);
    /* A stuffing dot counts: the limit is on the wire. */
    n = 0;
    in[n++] = '.';
    memset(in + n, '.', 998), n += 998;
    memcpy(in + n, "\r\n.\r\n", 5), n += 5;
    res = read_all_ways(in, n, MR_STRICT, DOT_MAX_LINE_DEFAULT);
    assert_int_equal(res.violations, BIT(DOT_V_LONG_LINE));
    assert_int_equal(res.content_n, 1000);
    result_free(&res);
    /* A small limit, lenient LF line ends. */
    res = read_all_ways("abcd\nabcde\n.\n", 13, MR_LENIENT, 4);
    assert_int_equal(res.violations, BIT(DOT_V_LONG_LINE) | BIT(DOT_V_BARE_LF));
    assert_true(res.first[DOT_V_LONG_LINE] == 5);
    result_free(&res);
}

static void body_hundred_megabytes(void **state)
{
    (void)state;
    /* 100 MB without a line end: streamed through, flagged, nothing buffered. */
    size_t n = 100u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    dot_reader r;
    dot_reader_init(&r, MR_STRICT, NULL);
    size_t at = 0;
    while (at < n) {
        mr_slice out;
        mr_error err;
        size_t step = n - at < 65536 ? n - at : 65536;
        int rc = dot_read(&r, big + at, step, &out, &err);
        assert_int_equal(rc, (int)step);
        at += step;
    }
    assert_false(r.done);
    assert_true(r.content == n);
    assert_int_equal(r.violations, BIT(DOT_V_LONG_LINE));
    assert_true(r.first[DOT_V_LONG_LINE] == 0);
    free(big);
}

static void body_incomplete(void **state)
{
    (void)state;
    result res = read_all_ways("abc\r\n.", 6, MR_STRICT, DOT_MAX_LINE_DEFAULT);
    assert_false(res.done);
    assert_int_equal(res.content_n, 5);
    result_free(&res);
    res = read_all_ways("abc\r\n.\r", 7, MR_STRICT, DOT_MAX_LINE_DEFAULT);
    assert_false(res.done);
    assert_int_equal(res.content_n, 5);
    result_free(&res);
}

/* ---- line reader ---- */

typedef struct line_ctx {
    mr_mode mode;
    mr_slice line;
    int end;
    mr_error err;
} line_ctx;

static int line_step(void *vctx, const char *buf, size_t len)
{
    line_ctx *c = vctx;
    return dot_line_next(buf, len, 100, c->mode, NULL, &c->line, &c->end, &c->err);
}

static void lines_listing(void **state)
{
    (void)state;
    line_ctx c = {.mode = MR_STRICT};
    assert_int_equal(test_prefixes_str(line_step, &c, "1 120\r\n"), 7);
    assert_int_equal(c.end, 0);
    assert_int_equal(c.line.n, 5);
    assert_memory_equal(c.line.p, "1 120", 5);
    assert_int_equal(test_prefixes_str(line_step, &c, "..hidden\r\n"), 10);
    assert_int_equal(c.end, 0);
    assert_int_equal(c.line.n, 7);
    assert_memory_equal(c.line.p, ".hidden", 7);
    assert_int_equal(test_prefixes_str(line_step, &c, ".\r\n+OK"), 3);
    assert_int_equal(c.end, 1);
    assert_int_equal(c.line.n, 0);
    assert_int_equal(test_prefixes_str(line_step, &c, ".\n"), MR_ERROR);
    assert_int_equal(c.err.code, MR_E_BARE_LF);
    assert_int_equal(c.err.offset, 1);
    c.mode = MR_LENIENT;
    assert_int_equal(test_prefixes_str(line_step, &c, ".\n"), 2);
    assert_int_equal(c.end, 1);
}

/* ---- writer ---- */

/* Stuff `content` in pieces of `chunk` bytes (0: whole), end it, and return the wire bytes. */
static size_t stuff(const char *content, size_t n, size_t chunk, char *wire, size_t cap)
{
    dot_writer w;
    dot_writer_init(&w);
    size_t at = 0, out = 0;
    while (at < n) {
        size_t step = chunk && n - at > chunk ? chunk : n - at;
        mr_error err;
        int rc = dot_write(&w, content + at, step, wire + out, cap - out, &err);
        assert_true(rc >= 0 && (size_t)rc <= cap - out);
        out += (size_t)rc;
        at += step;
    }
    mr_error err;
    int rc = dot_write_end(&w, wire + out, cap - out, &err);
    assert_true(rc == 3 || rc == 5);
    return out + (size_t)rc;
}

static void write_round_trip_one(const char *content, size_t n, const char *want_wire)
{
    char wire[512];
    size_t whole = stuff(content, n, 0, wire, sizeof wire);
    if (want_wire) {
        assert_int_equal(whole, strlen(want_wire));
        assert_memory_equal(wire, want_wire, whole);
    }
    for (size_t chunk = 1; chunk <= 5; chunk++) {
        char again[512];
        size_t m = stuff(content, n, chunk, again, sizeof again);
        assert_int_equal(m, whole);
        assert_memory_equal(again, wire, whole);
    }
    /* Read back: the content, plus CRLF when it did not end with one. */
    int ends_crlf = n == 0 || (n >= 2 && content[n - 2] == '\r' && content[n - 1] == '\n');
    for (int m = 0; m < 2; m++) {
        mr_mode mode = m ? MR_LENIENT : MR_STRICT;
        int bare_lf_dot = 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (content[i] == '\n' && (i == 0 || content[i - 1] != '\r') && content[i + 1] == '.')
                bare_lf_dot = 1;
        if (mode == MR_STRICT && bare_lf_dot)
            continue; /* documented: strict keeps the stuffing dot after a bare LF */
        result res = read_all_ways(wire, whole, mode, DOT_MAX_LINE_DEFAULT);
        assert_true(res.done);
        assert_int_equal(res.consumed, whole);
        assert_int_equal(res.content_n, n + (ends_crlf ? 0 : 2));
        assert_memory_equal(res.content, content, n);
        if (!ends_crlf)
            assert_memory_equal(res.content + n, "\r\n", 2);
        result_free(&res);
    }
}

static void write_stuffing(void **state)
{
    (void)state;
    write_round_trip_one("", 0, ".\r\n");
    write_round_trip_one("Hello\r\n", 7, "Hello\r\n.\r\n");
    write_round_trip_one("Hello", 5, "Hello\r\n.\r\n");
    write_round_trip_one(".\r\n", 3, "..\r\n.\r\n");
    write_round_trip_one("a\r\n.\r\n..\r\n.x", 12, "a\r\n..\r\n...\r\n..x\r\n.\r\n");
    write_round_trip_one("a\n.\n", 4, "a\n..\n\r\n.\r\n");
    write_round_trip_one("a\r.b\r", 5, "a\r.b\r\r\n.\r\n");
    write_round_trip_one("\r\n.", 3, "\r\n..\r\n.\r\n");
    write_round_trip_one("x\r\n\r\n", 5, "x\r\n\r\n.\r\n");
    write_round_trip_one("\n", 1, "\n\r\n.\r\n");
}

static void write_too_small(void **state)
{
    (void)state;
    dot_writer w;
    dot_writer_init(&w);
    char out[8];
    mr_error err;
    /* ".a\r\n.b" needs 8 bytes: two stuffing dots. */
    assert_int_equal(dot_write(&w, ".a\r\n.b", 6, out, 7, &err), 8);
    assert_int_equal(dot_write(&w, ".a\r\n.b", 6, out, 8, &err), 8);
    assert_memory_equal(out, "..a\r\n..b", 8);
    assert_int_equal(dot_write_end(&w, out, 4, &err), 5);
    assert_int_equal(dot_write_end(&w, out, 5, &err), 5);
    assert_memory_equal(out, "\r\n.\r\n", 5);
    /* after the end, a new body starts at a line start */
    assert_int_equal(dot_write(&w, ".", 1, out, 8, &err), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_simple),         cmocka_unit_test(body_empty),
        cmocka_unit_test(body_unstuffing),     cmocka_unit_test(body_output_slices),
        cmocka_unit_test(body_need_more),      cmocka_unit_test(body_bare_lf_strict),
        cmocka_unit_test(body_bare_lf_lenient), cmocka_unit_test(body_bare_cr),
        cmocka_unit_test(body_long_lines),     cmocka_unit_test(body_hundred_megabytes),
        cmocka_unit_test(body_incomplete),     cmocka_unit_test(lines_listing),
        cmocka_unit_test(write_stuffing),      cmocka_unit_test(write_too_small),
    };
    return cmocka_run_group_tests_name("dotstream", tests, NULL, NULL);
}
