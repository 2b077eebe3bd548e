/* test_mr.c -- the shared helpers in proto/mr.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "proto/mr.h"
#include "proto/mr_out.h"
#include "tests/unit/support.h"

typedef struct line_ctx {
    size_t max_line;
    mr_mode mode;
    mr_slice line;
    mr_error err;
} line_ctx;

static int line_step(void *vctx, const char *buf, size_t len)
{
    line_ctx *c = vctx;
    return mr_line_next(buf, len, c->max_line, c->mode, NULL, &c->line, &c->err);
}

static void line_crlf(void **state)
{
    (void)state;
    line_ctx c = {.max_line = 100, .mode = MR_STRICT};
    assert_int_equal(test_prefixes_str(line_step, &c, "a1 NOOP\r\nrest"), 9);
    assert_int_equal(c.line.n, 7);
    assert_memory_equal(c.line.p, "a1 NOOP", 7);
}

static void line_bare_lf(void **state)
{
    (void)state;
    line_ctx c = {.max_line = 100, .mode = MR_STRICT};
    assert_int_equal(test_prefixes_str(line_step, &c, "a1 NOOP\n"), MR_ERROR);
    assert_int_equal(c.err.code, MR_E_BARE_LF);
    assert_int_equal(c.err.offset, 7);
    c.mode = MR_LENIENT;
    assert_int_equal(test_prefixes_str(line_step, &c, "a1 NOOP\n"), 8);
    assert_int_equal(c.line.n, 7);
}

static void line_empty(void **state)
{
    (void)state;
    line_ctx c = {.max_line = 100, .mode = MR_STRICT};
    assert_int_equal(test_prefixes_str(line_step, &c, "\r\n"), 2);
    assert_int_equal(c.line.n, 0);
}

static void line_limit(void **state)
{
    (void)state;
    line_ctx c = {.max_line = 4, .mode = MR_STRICT};
    assert_int_equal(test_prefixes_str(line_step, &c, "abcd\r\n"), 6);
    assert_int_equal(test_prefixes_str(line_step, &c, "abcde\r\n"), MR_ERROR);
    assert_int_equal(c.err.code, MR_E_LIMIT_LINE);
    /* A long run with no line end fails as soon as max_line + 2 bytes are in. */
    assert_int_equal(mr_line_next("abcdef", 6, 4, MR_STRICT, NULL, &c.line, &c.err), MR_ERROR);
    assert_int_equal(mr_line_next("abcde", 5, 4, MR_STRICT, NULL, &c.line, &c.err), MR_NEED_MORE);
}

static void line_hundred_megabytes(void **state)
{
    (void)state;
    size_t n = 100u << 20;
    char *big = test_malloc(n);
    memset(big, 'x', n);
    mr_slice line;
    mr_error err;
    size_t scanned = 0;
    assert_int_equal(mr_line_next(big, n, 8192, MR_LENIENT, &scanned, &line, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    test_free(big);
}

static void line_scanned_resumes(void **state)
{
    (void)state;
    mr_slice line;
    mr_error err;
    size_t scanned = 0;
    const char *in = "abc\r\n";
    assert_int_equal(mr_line_next(in, 3, 100, MR_STRICT, &scanned, &line, &err), MR_NEED_MORE);
    assert_int_equal(scanned, 3);
    assert_int_equal(mr_line_next(in, 5, 100, MR_STRICT, &scanned, &line, &err), 5);
    assert_int_equal(scanned, 0);
    assert_int_equal(line.n, 3);
}

static void u64_parse(void **state)
{
    (void)state;
    uint64_t v;
    mr_slice s = {"18446744073709551615", 20};
    assert_int_equal(mr_parse_u64(s, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    mr_slice over = {"18446744073709551616", 20};
    assert_int_equal(mr_parse_u64(over, UINT64_MAX, &v), -1);
    mr_slice four = {"4294967295", 10};
    assert_int_equal(mr_parse_u64(four, 4294967294u, &v), -1);
    assert_int_equal(mr_parse_u64(four, 4294967295u, &v), 0);
    mr_slice empty = {"", 0}, sign = {"-1", 2};
    assert_int_equal(mr_parse_u64(empty, 10, &v), -1);
    assert_int_equal(mr_parse_u64(sign, 10, &v), -1);
}

static void utf8_check(void **state)
{
    (void)state;
    assert_int_equal(mr_utf8_check("Gr\xc3\xbc\xc3\x9f" "e", 7), 7);
    assert_int_equal(mr_utf8_check("\xf0\x9f\x93\xa7", 4), 4);      /* U+1F4E7 */
    assert_int_equal(mr_utf8_check("a\xc0\x80", 3), 1);             /* overlong NUL */
    assert_int_equal(mr_utf8_check("a\xed\xa0\x80", 4), 1);         /* surrogate */
    assert_int_equal(mr_utf8_check("\xf4\x90\x80\x80", 4), 0);      /* > U+10FFFF */
    assert_int_equal(mr_utf8_check("ab\xe2\x82", 4), 2);            /* truncated */
    assert_int_equal(mr_utf8_check("\x80", 1), 0);                  /* lone continuation */
}

static void slices(void **state)
{
    (void)state;
    mr_slice s = {"CAPABILITY", 10};
    assert_true(mr_slice_eq_ci(s, "capability"));
    assert_false(mr_slice_eq(s, "capability"));
    assert_true(mr_slice_eq(s, "CAPABILITY"));
    assert_false(mr_slice_eq_ci(s, "CAPABILITIES"));
    assert_true(mr_slices_eq_ci(s, (mr_slice){"CapaBility", 10}));
    assert_false(mr_slices_eq_ci(s, (mr_slice){"CapaBilitY!", 11}));
    assert_false(mr_slices_eq_ci((mr_slice){"a[", 2}, (mr_slice){"A{", 2})); /* ASCII only */
    assert_true(mr_slices_eq_ci((mr_slice){"", 0}, (mr_slice){NULL, 0}));
    assert_string_equal(mr_errcode_str(MR_E_BARE_LF), "bare LF (line end without CR)");
    assert_string_equal(mr_errcode_str((mr_errcode)999), "unknown error");
}

/* The bounded output builder every writer shares: the output's first cap bytes, the length
 * needed, never a byte past cap (the buffer ends at a guard page). */
static void out_builder(void **state)
{
    (void)state;
    const char *want = "a1 OK 18446744073709551615 done\r\n";
    size_t n = strlen(want);
    for (size_t cap = 0; cap <= n; cap++) {
        char *buf = guard_dup(want, cap);
        memset(buf, '#', cap);
        mr_out o;
        mr_out_init(&o, buf, cap);
        mr_out_str(&o, "a1");
        mr_out_char(&o, ' ');
        mr_out_slice(&o, (mr_slice){"OK ", 3});
        mr_out_u64(&o, UINT64_MAX);
        mr_out_put(&o, " done", 5);
        mr_out_put(&o, NULL, 0);
        mr_out_str(&o, "\r\n");
        mr_error err;
        assert_int_equal(mr_out_result(&o, "line", &err), (int)n);
        if (cap)
            assert_memory_equal(buf, want, cap);
        guard_free(buf, cap);
    }
    mr_out o;
    mr_out_init(&o, NULL, 100); /* a size query */
    mr_out_u64(&o, 0);
    assert_int_equal(mr_out_result(&o, "x", NULL), 1);
    /* more than MR_LIMIT_MAX is an error, never a wrapped count (the bytes are not read) */
    mr_out_init(&o, NULL, 0);
    mr_out_put(&o, "x", 1);
    mr_out_put(&o, "", MR_LIMIT_MAX);
    mr_out_put(&o, "x", 1);
    mr_error err;
    assert_int_equal(mr_out_result(&o, "reply", &err), MR_ERROR);
    assert_err(&err, MR_E_LIMIT_LITERAL, "reply", 0);
    assert_int_equal(mr_out_result_at(&o, "message", MR_LIMIT_MAX, &err), MR_ERROR);
    assert_int_equal(err.offset, MR_LIMIT_MAX);
    mr_out_init(&o, NULL, 0);
    mr_out_put(&o, "", MR_LIMIT_MAX);
    assert_int_equal(mr_out_result(&o, "x", &err), (int)MR_LIMIT_MAX);
}

/* What a line writer refuses to copy from an API input (no CRLF injection). */
static void out_field_check(void **state)
{
    (void)state;
    mr_error err;
    assert_int_equal(mr_out_field_check(SL("tony@contoso.com"), 0, "name", &err), 0);
    assert_int_equal(mr_out_field_check(SL("a b\tc"), 1, "text", &err), 0);
    assert_int_equal(mr_out_field_check(SL("caf\xc3\xa9"), 0, "name", &err), 0); /* 8-bit passes */
    assert_int_equal(mr_out_field_check(SL("a b"), 0, "name", &err), MR_ERROR);
    assert_err(&err, MR_E_SYNTAX, "name", 1);
    assert_int_equal(mr_out_field_check(SL("a\tb"), 0, "name", &err), MR_ERROR);
    assert_err(&err, MR_E_SYNTAX, "name", 1);
    assert_int_equal(mr_out_field_check(SL("ok\r\nQUIT"), 1, "text", &err), MR_ERROR);
    assert_err(&err, MR_E_CTL, "text", 2);
    assert_int_equal(mr_out_field_check(SL("x\0"), 1, "text", &err), MR_ERROR);
    assert_err(&err, MR_E_NUL, "text", 1);
    assert_int_equal(mr_out_field_check(SL("x\x7f"), 1, "text", &err), MR_ERROR);
    assert_err(&err, MR_E_CTL, "text", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(line_crlf),        cmocka_unit_test(line_bare_lf),
        cmocka_unit_test(line_empty),       cmocka_unit_test(line_limit),
        cmocka_unit_test(line_hundred_megabytes), cmocka_unit_test(line_scanned_resumes),
        cmocka_unit_test(u64_parse),        cmocka_unit_test(utf8_check),
        cmocka_unit_test(slices),           cmocka_unit_test(out_builder),
        cmocka_unit_test(out_field_check),
    };
    return cmocka_run_group_tests_name("mr", tests, NULL, NULL);
}
