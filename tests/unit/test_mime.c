/* test_mime.c -- proto/mime.c: header fields, structured values, addresses, dates, the part
 * tree and IMAP sections. Every input is parsed from a guard-page copy, and every tree is
 * checked with mime_tree_check(). Messages are written with "\n" and turned into CRLF unless
 * a test is about bare LF. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mime.h"
#include "tests/unit/support.h"

/* ------------------------------------------------------------------------------------------ */
/* Helpers */

#define MAXP 64

typedef struct parsed {
    char *buf; /* guard-page copy */
    size_t len;
    mime_part parts[MAXP];
    int n;
    mr_error err;
} parsed;

/* "\n" -> "\r\n" into a malloc'd buffer; *len gets the length. */
static char *crlf(const char *s, size_t *len)
{
    size_t n = strlen(s), extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += s[i] == '\n';
    char *out = malloc(n + extra + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            out[k++] = '\r';
        out[k++] = s[i];
    }
    out[k] = '\0';
    *len = k;
    return out;
}

static int parse_bytes(parsed *m, const char *bytes, size_t len, mr_mode mode,
                       const mime_limits *lim)
{
    m->buf = guard_dup(bytes, len);
    m->len = len;
    memset(&m->err, 0, sizeof m->err);
    m->n = mime_parse(m->buf, len, lim, mode, m->parts, MAXP, &m->err);
    if (m->n > 0) {
        const char *why = mime_tree_check(m->buf, len, m->parts, (size_t)m->n);
        if (why)
            fail_msg("tree check: %s", why);
    }
    return m->n;
}

/* Parse a message written with "\n" line ends, as CRLF. */
static int parse_msg(parsed *m, const char *text, mr_mode mode)
{
    size_t len;
    char *c = crlf(text, &len);
    int r = parse_bytes(m, c, len, mode, NULL);
    free(c);
    return r;
}

static void parsed_free(parsed *m)
{
    guard_free(m->buf, m->len);
}

static mr_slice S(const char *s)
{
    mr_slice r = {s, strlen(s)};
    return r;
}

/* A slice over a guard-page copy of s (free with guard_free(r.p, r.n)). */
static mr_slice G(const char *s)
{
    size_t n = strlen(s);
    mr_slice r = {guard_dup(s, n), n};
    return r;
}

static void G_free(mr_slice s)
{
    guard_free((char *)s.p, s.n);
}

/* Offset of the first occurrence of needle in the parsed buffer. */
static size_t off_of(const parsed *m, const char *needle_lf)
{
    size_t n;
    char *needle = crlf(needle_lf, &n);
    for (size_t i = 0; i + n <= m->len; i++)
        if (memcmp(m->buf + i, needle, n) == 0) {
            free(needle);
            return i;
        }
    fail_msg("'%s' not in message", needle);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Header fields */

static void fields_basic(void **state)
{
    (void)state;
    mr_slice h = G("From: a@b.example\r\nSubject: hello\r\n world\r\nX-Empty:\r\n\r\nbody");
    mime_field f;
    mr_error err;
    size_t pos = 0;
    int r = mime_field_next(h.p, h.n, MR_STRICT, NULL, &f, &err);
    assert_int_equal(r, 19);
    assert_slice(f.name, "From");
    assert_slice(f.value, "a@b.example");
    assert_slice(f.raw, "From: a@b.example\r\n");
    pos += (size_t)r;
    r = mime_field_next(h.p + pos, h.n - pos, MR_STRICT, NULL, &f, &err);
    assert_int_equal(r, 24);
    assert_slice(f.name, "Subject");
    assert_slice(f.value, "hello\r\n world"); /* folding kept */
    pos += (size_t)r;
    r = mime_field_next(h.p + pos, h.n - pos, MR_STRICT, NULL, &f, &err);
    assert_int_equal(r, 10);
    assert_slice(f.name, "X-Empty");
    assert_int_equal(f.value.n, 0);
    pos += (size_t)r;
    assert_int_equal(mime_field_next(h.p + pos, h.n - pos, MR_STRICT, NULL, &f, &err), 0);
    mr_slice hdr = {h.p, pos + 2};
    assert_int_equal(mime_field_count(hdr), 3);
    G_free(h);
}

static void fields_obs_wsp_before_colon(void **state)
{
    (void)state;
    mr_slice h = G("Subject \t: x\r\n");
    mime_field f;
    assert_int_equal(mime_field_next(h.p, h.n, MR_STRICT, NULL, &f, NULL), 14);
    assert_slice(f.name, "Subject");
    assert_slice(f.value, "x");
    G_free(h);
}

static void fields_errors(void **state)
{
    (void)state;
    mime_field f;
    mr_error err;
    struct {
        const char *in;
        mr_errcode code;
        const char *rule;
        size_t offset;
    } cases[] = {
        {"no colon here\r\n", MR_E_SYNTAX, "field-name", 0},
        {": empty name\r\n", MR_E_SYNTAX, "field-name", 0},
        {"Sub ject: x\r\n", MR_E_SYNTAX, "field-name", 0},
        {"Subject: x\n", MR_E_BARE_LF, "CRLF", 10},
        {"Subject: a\rb\r\n", MR_E_BARE_CR, "CRLF", 10},
        {"Subject: x", MR_E_SYNTAX, "CRLF", 10},
        {"Subject: caf\xe9\r\n", MR_E_UTF8, "field-body", 12},
        {"Subject: a\r\n b\n", MR_E_BARE_LF, "CRLF", 14},
        {"\r", MR_E_BARE_CR, "CRLF", 0},
        {" continuation\r\n", MR_E_SYNTAX, "field-name", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mr_slice h = G(cases[i].in);
        memset(&err, 0, sizeof err);
        if (mime_field_next(h.p, h.n, MR_STRICT, NULL, &f, &err) != MR_ERROR)
            fail_msg("case %zu: not an error", i);
        assert_err(&err, cases[i].code, cases[i].rule, cases[i].offset);
        G_free(h);
    }
    /* NUL: its own code */
    const char nul[] = "Subject: a\0b\r\n";
    char *g = guard_dup(nul, sizeof nul - 1);
    assert_int_equal(mime_field_next(g, sizeof nul - 1, MR_STRICT, NULL, &f, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_NUL);
    assert_int_equal(err.offset, 10);
    assert_int_equal(mime_field_next(g, sizeof nul - 1, MR_LENIENT, NULL, &f, &err), 14);
    guard_free(g, sizeof nul - 1);
}

static void fields_lenient(void **state)
{
    (void)state;
    mime_field f;
    /* bare LF, 8-bit, a line with no colon ends the header */
    mr_slice h = G("Subject: caf\xe9\nno colon\nX: y\n");
    assert_int_equal(mime_field_next(h.p, h.n, MR_LENIENT, NULL, &f, NULL), 14);
    assert_slice(f.value, "caf\xe9");
    assert_int_equal(mime_field_next(h.p + 14, h.n - 14, MR_LENIENT, NULL, &f, NULL), 0);
    G_free(h);
    /* a stray continuation line at the start is skipped */
    h = G(" stray\r\nX: y\r\n");
    assert_int_equal(mime_field_next(h.p, h.n, MR_LENIENT, NULL, &f, NULL), 14);
    assert_slice(f.name, "X");
    assert_slice(f.raw, "X: y\r\n");
    G_free(h);
    /* an unterminated last field */
    h = G("Subject: x");
    assert_int_equal(mime_field_next(h.p, h.n, MR_LENIENT, NULL, &f, NULL), 10);
    assert_slice(f.value, "x");
    G_free(h);
}

static void fields_line_limit(void **state)
{
    (void)state;
    mime_limits lim = mime_limits_default();
    assert_int_equal(lim.max_line, 998);
    assert_int_equal(lim.max_parts, 1000);
    assert_int_equal(lim.max_depth, 32);
    char line[1100];
    memcpy(line, "X: ", 3);
    memset(line + 3, 'a', 995); /* 998 octets */
    memcpy(line + 998, "\r\n", 3);
    mime_field f;
    mr_error err;
    mr_slice h = G(line);
    assert_int_equal(mime_field_next(h.p, h.n, MR_STRICT, &lim, &f, &err), 1000);
    G_free(h);
    memset(line + 3, 'a', 996); /* 999 */
    memcpy(line + 999, "\r\n", 3);
    h = G(line);
    assert_int_equal(mime_field_next(h.p, h.n, MR_STRICT, &lim, &f, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(err.offset, 998);
    assert_int_equal(mime_field_next(h.p, h.n, MR_LENIENT, &lim, &f, &err), 1001);
    G_free(h);
}

static void fields_find_unfold(void **state)
{
    (void)state;
    mr_slice h = G("subject: first\r\nSUBJECT: second\r\nTo:\r\n  a@b,\r\n\tc@d  \r\n\r\n");
    mime_field f;
    assert_int_equal(mime_field_find(h, "Subject", &f), 1);
    assert_slice(f.value, "first");
    assert_int_equal(mime_field_find(h, "Cc", &f), 0);
    assert_int_equal(mime_field_find(h, "to", &f), 1);
    char out[64];
    size_t n = mime_unfold(f.value, out, sizeof out);
    assert_int_equal(n, 8);
    assert_memory_equal(out, "a@b,\tc@d", 8); /* folding gone, inner WSP kept, ends trimmed */
    /* truncation: the full length is returned, nothing written past cap */
    char small[4] = {'#', '#', '#', '#'};
    assert_int_equal(mime_unfold(f.value, small, 3), 8);
    assert_memory_equal(small, "a@b#", 4);
    /* a line break not followed by WSP is not folding: kept */
    n = mime_unfold(S("a\r\nb"), out, sizeof out);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "a\r\nb", 4);
    G_free(h);
}

/* ------------------------------------------------------------------------------------------ */
/* Content-Type, parameters (RFC 2045, 2231), disposition (RFC 2183) */

typedef struct param_want {
    const char *name, *value;
    int quoted;
} param_want;

static void expect_params(mr_slice params, mr_mode mode, const param_want *want, size_t count)
{
    size_t pos = 0, i = 0;
    mime_param prm;
    mr_error err;
    int r;
    while ((r = mime_param_next(params.p + pos, params.n - pos, mode, NULL, &prm, &err)) > 0) {
        if (i >= count)
            fail_msg("extra parameter %.*s", (int)prm.name.n, prm.name.p);
        assert_slice(prm.name, want[i].name);
        assert_slice(prm.value, want[i].value);
        assert_int_equal(prm.quoted, want[i].quoted);
        pos += (size_t)r;
        i++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(i, count);
}

static void content_type_rfc2045(void **state)
{
    (void)state;
    mr_slice t, st, params;
    mr_error err;
    mr_slice v = G("text/plain; charset=us-ascii (Plain text)");
    assert_int_equal(mime_content_type(v, MR_STRICT, NULL, &t, &st, &params, &err), 0);
    assert_slice(t, "text");
    assert_slice(st, "plain");
    param_want w1[] = {{"charset", "us-ascii", 0}};
    expect_params(params, MR_STRICT, w1, 1);
    G_free(v);
    v = G("Text/Plain ; CHARSET=\"us-ascii\"");
    assert_int_equal(mime_content_type(v, MR_STRICT, NULL, &t, &st, &params, &err), 0);
    assert_slice(t, "Text");
    param_want w2[] = {{"CHARSET", "us-ascii", 1}};
    expect_params(params, MR_STRICT, w2, 1);
    mime_param prm;
    assert_int_equal(mime_param_find(params, "charset", &prm), 1);
    assert_slice(prm.value, "us-ascii");
    assert_int_equal(mime_param_find(params, "name", &prm), 0);
    G_free(v);
    v = G("multipart/mixed;\r\n              boundary=unique-boundary-1");
    assert_int_equal(mime_content_type(v, MR_STRICT, NULL, &t, &st, &params, &err), 0);
    assert_int_equal(mime_param_find(params, "boundary", &prm), 1);
    assert_slice(prm.value, "unique-boundary-1");
    G_free(v);
}

static void content_type_rfc2231(void **state)
{
    (void)state;
    mr_slice t, st, params;
    mr_error err;
    /* RFC 2231 sections 3, 4 and 4.1, verbatim: continuations and charsets stay raw */
    mr_slice v = G("message/external-body; access-type=URL;\r\n"
                   "         URL*0=\"ftp://\";\r\n"
                   "         URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"");
    assert_int_equal(mime_content_type(v, MR_STRICT, NULL, &t, &st, &params, &err), 0);
    param_want w1[] = {{"access-type", "URL", 0},
                       {"URL*0", "ftp://", 1},
                       {"URL*1", "cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar", 1}};
    expect_params(params, MR_STRICT, w1, 3);
    G_free(v);
    v = G("application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A");
    assert_int_equal(mime_content_type(v, MR_STRICT, NULL, &t, &st, &params, &err), 0);
    param_want w2[] = {{"title*", "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", 0}};
    expect_params(params, MR_STRICT, w2, 1);
    G_free(v);
    v = G("application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
          " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"");
    assert_int_equal(mime_content_type(v, MR_STRICT, NULL, &t, &st, &params, &err), 0);
    param_want w3[] = {{"title*0*", "us-ascii'en'This%20is%20even%20more%20", 0},
                       {"title*1*", "%2A%2A%2Afun%2A%2A%2A%20", 0},
                       {"title*2", "isn't it!", 1}};
    expect_params(params, MR_STRICT, w3, 3);
    G_free(v);
}

static void content_type_errors(void **state)
{
    (void)state;
    struct {
        const char *in;
        const char *rule;
        size_t offset;
    } cases[] = {
        {"text", "subtype", 4},
        {"/plain", "type", 0},
        {"text/", "subtype", 5},
        {"text/plain charset=x", "parameter", 11},
        {"text/plain; charset", "parameter", 19},
        {"text/plain; charset=", "value", 20},
        {"text/plain; name=\"open", "quoted-string", 17},
        {"text/plain;", "parameter", 11},
        {"text/plain; a=b;; c=d", "parameter", 16},
        {"text/plain; name=a b", "parameter", 19},
        {"text/plain (unterminated", "comment", 11},
        {"text/pl\xc3\xa4in", "parameter", 7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mr_slice v = G(cases[i].in), t, st, params;
        mr_error err;
        memset(&err, 0, sizeof err);
        if (mime_content_type(v, MR_STRICT, NULL, &t, &st, &params, &err) != MR_ERROR)
            fail_msg("case %zu (%s): no error", i, cases[i].in);
        assert_int_equal(err.code, MR_E_SYNTAX);
        if (strcmp(err.rule, cases[i].rule) != 0 || err.offset != cases[i].offset)
            fail_msg("case %zu (%s): %s at %zu", i, cases[i].in, err.rule, err.offset);
        G_free(v);
    }
    /* comment nesting is bounded in both modes */
    char deep[200];
    size_t k = 0;
    k += (size_t)sprintf(deep, "text/plain ");
    for (int i = 0; i < 40; i++)
        deep[k++] = '(';
    deep[k] = '\0';
    mr_slice v = G(deep), t, st, params;
    mr_error err;
    assert_int_equal(mime_content_type(v, MR_LENIENT, NULL, &t, &st, &params, &err), MR_ERROR);
    assert_err(&err, MR_E_LIMIT_DEPTH, "comment", 11 + 32);
    G_free(v);
}

static void params_lenient(void **state)
{
    (void)state;
    mr_slice t, st, params;
    mr_error err;
    mr_slice v = G("application/pdf; name=Q3 report (final).pdf;; charset=\"utf-8\" format=flowed;");
    assert_int_equal(mime_content_type(v, MR_LENIENT, NULL, &t, &st, &params, &err), 0);
    param_want w[] = {{"name", "Q3 report (final).pdf", 0},
                      {"charset", "utf-8", 1},
                      {"format", "flowed", 0}};
    expect_params(params, MR_LENIENT, w, 3);
    assert_int_equal(mime_content_type(v, MR_STRICT, NULL, &t, &st, &params, &err), MR_ERROR);
    G_free(v);
    /* junk parameters are skipped; an unterminated quote runs to the end */
    v = G("text/plain; =x; junk; name=\"unterminated");
    assert_int_equal(mime_content_type(v, MR_LENIENT, NULL, &t, &st, &params, &err), 0);
    param_want w2[] = {{"name", "unterminated", 1}};
    expect_params(params, MR_LENIENT, w2, 1);
    G_free(v);
    /* unquote */
    char out[32];
    size_t n = mime_unquote(S("a\\\"b\\\\c\r\n d"), out, sizeof out);
    assert_int_equal(n, 7);
    assert_memory_equal(out, "a\"b\\c d", 7);
}

static void disposition_rfc2183(void **state)
{
    (void)state;
    mr_slice d, params;
    mr_error err;
    /* RFC 2183 section 2's example ends in ';': a strict error, fine when lenient */
    mr_slice v = G("attachment; filename=genome.jpeg;\r\n"
                   "  modification-date=\"Wed, 12 Feb 1997 16:29:51 -0500\";");
    assert_int_equal(mime_disposition(v, MR_STRICT, NULL, &d, &params, &err), MR_ERROR);
    assert_string_equal(err.rule, "parameter");
    assert_int_equal(err.offset, v.n);
    assert_int_equal(mime_disposition(v, MR_LENIENT, NULL, &d, &params, &err), 0);
    assert_slice(d, "attachment");
    param_want w[] = {{"filename", "genome.jpeg", 0},
                      {"modification-date", "Wed, 12 Feb 1997 16:29:51 -0500", 1}};
    expect_params(params, MR_LENIENT, w, 2);
    G_free(v);
    v = G("inline");
    assert_int_equal(mime_disposition(v, MR_STRICT, NULL, &d, &params, &err), 0);
    assert_slice(d, "inline");
    assert_int_equal(params.n, 0);
    G_free(v);
    v = G("; filename=x");
    assert_int_equal(mime_disposition(v, MR_LENIENT, NULL, &d, &params, &err), MR_ERROR);
    assert_string_equal(err.rule, "disposition-type");
    G_free(v);
}

static void token_and_lists(void **state)
{
    (void)state;
    mr_slice tok;
    mr_error err;
    assert_int_equal(mime_token_value(S(" base64 (binary data)"), MR_STRICT, NULL, &tok, &err), 0);
    assert_slice(tok, "base64");
    assert_int_equal(mime_token_value(S("base64 x"), MR_STRICT, NULL, &tok, &err), MR_ERROR);
    assert_string_equal(err.rule, "mechanism");
    assert_int_equal(err.offset, 7);
    assert_int_equal(mime_token_value(S("base64 x"), MR_LENIENT, NULL, &tok, &err), 0);
    assert_int_equal(mime_token_value(S("  "), MR_LENIENT, NULL, &tok, &err), MR_ERROR);
    /* RFC 3282 Content-Language */
    mr_slice list = S("en-US, (comment) fr ,, \"de\"");
    size_t pos = 0;
    mr_slice item;
    const char *want[] = {"en-US", "fr", "de"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mime_list_next(list, &pos, &item, &err), 1);
        assert_slice(item, want[i]);
    }
    assert_int_equal(mime_list_next(list, &pos, &item, &err), 0);
    pos = 0;
    assert_int_equal(mime_list_next(S("en fr"), &pos, &item, &err), MR_ERROR);
    assert_string_equal(err.rule, "list");
    assert_int_equal(err.offset, 3);
}

/* ------------------------------------------------------------------------------------------ */
/* Addresses (RFC 5322 3.4 and Appendix A) */

typedef struct addr_want {
    mime_addr_kind kind;
    const char *name, *route, *local, *domain;
} addr_want;

#define MB(n, l, d) {MIME_ADDR_MAILBOX, n, "", l, d}
#define GS(n) {MIME_ADDR_GROUP_START, n, "", "", ""}
#define GE {MIME_ADDR_GROUP_END, "", "", "", ""}

static void expect_addrs(const char *list, mr_mode mode, const addr_want *want, size_t count)
{
    mr_slice v = G(list);
    mime_addr_iter it;
    mime_addr a;
    mr_error err;
    mime_addr_init(&it, v, mode, NULL);
    size_t i = 0;
    int r;
    while ((r = mime_addr_next(&it, &a, &err)) == 1) {
        if (i >= count)
            fail_msg("%s: extra element '%.*s'", list, (int)a.raw.n, a.raw.p);
        if (a.kind != want[i].kind)
            fail_msg("%s: element %zu kind %d", list, i, a.kind);
        assert_slice(a.name, want[i].name);
        assert_slice(a.route, want[i].route);
        assert_slice(a.local, want[i].local);
        assert_slice(a.domain, want[i].domain);
        assert_int_equal(a.invalid, 0);
        i++;
    }
    if (r != 0)
        fail_msg("%s: error %s at %zu", list, err.rule, err.offset);
    assert_int_equal(i, count);
    G_free(v);
}

static void addresses_rfc5322_appendix_a(void **state)
{
    (void)state;
    addr_want a1[] = {MB("\"Joe Q. Public\"", "john.q.public", "example.com")};
    expect_addrs("\"Joe Q. Public\" <john.q.public@example.com>", MR_STRICT, a1, 1);
    addr_want a2[] = {MB("Mary Smith", "mary", "x.test"), MB("", "jdoe", "example.org"),
                      MB("Who?", "one", "y.test")};
    expect_addrs("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>", MR_STRICT, a2,
                 3);
    addr_want a3[] = {MB("", "boss", "nil.test"),
                      MB("\"Giant; \\\"Big\\\" Box\"", "sysservices", "example.net")};
    expect_addrs("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
                 MR_STRICT, a3, 2);
    addr_want a4[] = {GS("A Group"), MB("Ed Jones", "c", "a.test"), MB("", "joe", "where.test"),
                      MB("John", "jdoe", "one.test"), GE};
    expect_addrs("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", MR_STRICT,
                 a4, 5);
    addr_want a5[] = {GS("Undisclosed recipients"), GE};
    expect_addrs("Undisclosed recipients:;", MR_STRICT, a5, 2);
    /* A.5: white space, comments and other oddities */
    addr_want a6[] = {MB("Pete", "pete", "silly.test")};
    expect_addrs("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", MR_STRICT, a6,
                 1);
    addr_want a7[] = {GS("A Group"), MB("Chris Jones", "c", "public.example"),
                      MB("", "joe", "example.org"), MB("John", "jdoe", "one.test"), GE};
    expect_addrs("A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
                 "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of "
                 "the group)",
                 MR_STRICT, a7, 5);
    addr_want a8[] = {GS("Hidden recipients"), GE};
    expect_addrs("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;", MR_STRICT,
                 a8, 2);
}

static void addresses_obsolete(void **state)
{
    (void)state;
    /* RFC 5322 A.6: obs-phrase with '.', obs-route, comments and folding inside */
    addr_want a1[] = {MB("Joe Q. Public", "john.q.public", "example.com")};
    expect_addrs("Joe Q. Public <john.q.public@example.com>", MR_STRICT, a1, 1);
    addr_want a2[] = {{MIME_ADDR_MAILBOX, "Mary Smith", "@node.test", "mary", "example.net"},
                      MB("", "jdoe", "test  . example")};
    expect_addrs("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example", MR_STRICT,
                 a2, 2);
    addr_want a3[] = {MB("John Doe", "jdoe", "machine(comment).  example")};
    expect_addrs("John Doe <jdoe@machine(comment).  example>", MR_STRICT, a3, 1);
    addr_want a4[] = {MB("Mary Smith", "mary", "example.net")};
    expect_addrs("Mary Smith\r\n     \r\n <mary@example.net>", MR_STRICT, a4, 1);
    /* raw local parts and domains, cleaned for IMAP */
    char out[64];
    size_t n = mime_addr_clean(S("machine(comment).  example"), out, sizeof out);
    assert_int_equal(n, 15);
    assert_memory_equal(out, "machine.example", n);
    n = mime_addr_clean(S(" \"john  doe\" (x)"), out, sizeof out);
    assert_int_equal(n, 11);
    assert_memory_equal(out, "\"john  doe\"", n);
    addr_want a5[] = {{MIME_ADDR_MAILBOX, "", "@a,@b", "x", "c"}};
    expect_addrs("<@a,@b:x@c>", MR_STRICT, a5, 1);
    /* RFC 822 style name in a trailing comment; a domain literal; a quoted local part */
    addr_want a6[] = {MB("Ann Example", "ann", "example.com"),
                      MB("", "root", "[192.0.2.1]"), MB("", "\"john doe\"", "x.test")};
    expect_addrs("ann@example.com (Ann Example), root@[192.0.2.1], \"john doe\"@x.test",
                 MR_STRICT, a6, 3);
    /* UTF-8 display names (RFC 6532) and encoded words stay raw */
    addr_want a7[] = {MB("J\xc3\xb6rg", "j", "x.de"), MB("=?UTF-8?Q?J=C3=B6rg?=", "j", "x.de")};
    expect_addrs("J\xc3\xb6rg <j@x.de>, =?UTF-8?Q?J=C3=B6rg?= <j@x.de>", MR_STRICT, a7, 2);
    expect_addrs("", MR_STRICT, NULL, 0);
    expect_addrs("  (just a comment) ", MR_STRICT, NULL, 0);
}

static void addresses_errors(void **state)
{
    (void)state;
    struct {
        const char *in;
        const char *rule;
        size_t offset;
        size_t good_before; /* elements read before the error */
    } cases[] = {
        {"john", "addr-spec", 4, 0},
        {"john doe@example.com", "local-part", 0, 0},
        {"<a@b", "angle-addr", 0, 0},
        {"a@b, <@x a@b>", "obs-route", 6, 1},
        {"a@", "domain", 2, 0},
        {"a@b c", "address", 4, 0},
        {"G: a@b", "group", 6, 2},
        {"G: H: a@b;", "group", 4, 1},
        {"a@b;", "group", 3, 0},
        {"a@b, \"q\"\"r\"@x", "local-part", 5, 1},
        {"\"open@x", "quoted-string", 0, 0},
        {"a@[1.2", "domain-literal", 2, 0},
        {"<>", "addr-spec", 1, 0},
        {"Name <postmaster>", "addr-spec", 16, 0},
        {"a@\"quoted\"", "domain", 2, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mr_slice v = G(cases[i].in);
        mime_addr_iter it;
        mime_addr a;
        mr_error err;
        mime_addr_init(&it, v, MR_STRICT, NULL);
        size_t good = 0;
        int r;
        while ((r = mime_addr_next(&it, &a, &err)) == 1)
            good++;
        if (r != MR_ERROR)
            fail_msg("case %zu (%s): no error", i, cases[i].in);
        assert_int_equal(err.code, MR_E_SYNTAX);
        if (strcmp(err.rule, cases[i].rule) != 0 || err.offset != cases[i].offset
            || good != cases[i].good_before)
            fail_msg("case %zu (%s): %s at %zu after %zu", i, cases[i].in, err.rule, err.offset,
                     good);
        G_free(v);
    }
}

static void addresses_lenient(void **state)
{
    (void)state;
    mr_slice v = G("john, Ann <ann@x>, <postmaster>, Bad <@@>, \"open, G: a@b, <>");
    mime_addr_iter it;
    mime_addr a;
    mr_error err;
    mime_addr_init(&it, v, MR_LENIENT, NULL);
    assert_int_equal(mime_addr_next(&it, &a, &err), 1);
    assert_int_equal(a.invalid, 1);
    assert_slice(a.raw, "john");
    assert_slice(a.local, "john");
    assert_int_equal(mime_addr_next(&it, &a, &err), 1);
    assert_int_equal(a.invalid, 0);
    assert_slice(a.local, "ann");
    assert_int_equal(mime_addr_next(&it, &a, &err), 1);
    assert_int_equal(a.invalid, 0);
    assert_slice(a.local, "postmaster");
    assert_int_equal(a.domain.n, 0);
    assert_int_equal(mime_addr_next(&it, &a, &err), 1);
    assert_int_equal(a.invalid, 1);
    assert_slice(a.raw, "Bad <@@>");
    assert_int_equal(mime_addr_next(&it, &a, &err), 1); /* the rest is one open quote */
    assert_int_equal(a.invalid, 1);
    assert_slice(a.raw, "\"open, G: a@b, <>");
    assert_int_equal(mime_addr_next(&it, &a, &err), 0);
    G_free(v);
    /* a group left open gets its end; a stray ';' is an invalid element */
    v = G("G: a@b; ; H: c@d");
    mime_addr_init(&it, v, MR_LENIENT, NULL);
    mime_addr_kind kinds[] = {MIME_ADDR_GROUP_START, MIME_ADDR_MAILBOX, MIME_ADDR_GROUP_END,
                              MIME_ADDR_MAILBOX,     MIME_ADDR_GROUP_START, MIME_ADDR_MAILBOX,
                              MIME_ADDR_GROUP_END};
    int invalid[] = {0, 0, 0, 1, 0, 0, 0};
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(mime_addr_next(&it, &a, &err), 1);
        assert_int_equal(a.kind, kinds[i]);
        assert_int_equal(a.invalid, invalid[i]);
    }
    assert_int_equal(mime_addr_next(&it, &a, &err), 0);
    G_free(v);
}

static void addresses_bounded(void **state)
{
    (void)state;
    /* 10,000 nested comments: one error, in bounded time, in both modes */
    size_t n = 20000;
    char *deep = malloc(n + 8);
    memcpy(deep, "a@b ", 4);
    memset(deep + 4, '(', n);
    deep[n + 4] = '\0';
    mr_slice v = G(deep);
    mime_addr_iter it;
    mime_addr a;
    mr_error err;
    mime_addr_init(&it, v, MR_STRICT, NULL);
    assert_int_equal(mime_addr_next(&it, &a, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_DEPTH);
    mime_addr_init(&it, v, MR_LENIENT, NULL);
    size_t calls = 0;
    while (mime_addr_next(&it, &a, &err) == 1)
        assert_true(++calls <= v.n + 1);
    G_free(v);
    free(deep);
}

static void envelope_fields(void **state)
{
    (void)state;
    mr_slice h = G("Subject: first\r\nfrom: A <a@x.test>\r\nTo: b@x.test,\r\n c@x.test\r\n"
                   "Subject: second\r\nMessage-Id: <id@x.test>\r\nX-Other: y\r\n\r\n");
    mime_envelope env;
    mime_envelope_get(h, &env);
    assert_slice(env.subject, "first");
    assert_slice(env.from, "A <a@x.test>");
    assert_slice(env.to, "b@x.test,\r\n c@x.test");
    assert_slice(env.message_id, "<id@x.test>");
    assert_null(env.sender.p);
    assert_null(env.date.p);
    assert_null(env.in_reply_to.p);
    G_free(h);
}

static void phrase_display(void **state)
{
    (void)state;
    char out[64];
    struct {
        const char *in, *want;
    } cases[] = {
        {"\"Joe Q. Public\"", "Joe Q. Public"},
        {"Pete(A nice \\) chap)", "Pete"},
        {"Mary\r\n   Smith", "Mary Smith"},
        {"\"Giant; \\\"Big\\\" Box\"", "Giant; \"Big\" Box"},
        {"  A   (x)  Group ", "A Group"},
        {"\"a\"\"b\"", "ab"},
        {"=?UTF-8?B?w6k=?=", "=?UTF-8?B?w6k=?="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = mime_phrase(S(cases[i].in), out, sizeof out);
        if (n != strlen(cases[i].want) || memcmp(out, cases[i].want, n) != 0)
            fail_msg("phrase %zu: '%.*s'", i, (int)n, out);
    }
    assert_int_equal(mime_phrase(S("\"Joe Q. Public\""), out, 3), 13);
    assert_memory_equal(out, "Joe", 3);
}

/* ------------------------------------------------------------------------------------------ */
/* Dates (RFC 5322 3.3 and Appendix A) */

static void dates_valid(void **state)
{
    (void)state;
    struct {
        const char *in;
        mr_mode mode;
        int y, mo, d, h, mi, s, zone;
        int64_t unix_time;
    } cases[] = {
        {"Fri, 21 Nov 1997 09:55:06 -0600", MR_STRICT, 1997, 11, 21, 9, 55, 6, -360, 880127706},
        {"Tue, 1 Jul 2003 10:52:37 +0200", MR_STRICT, 2003, 7, 1, 10, 52, 37, 120, 1057049557},
        {"Thu, 13 Feb 1969 23:32:54 -0330", MR_STRICT, 1969, 2, 13, 23, 32, 54, -210, -27723426},
        {"Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n"
         "               -0330 (Newfoundland Time)",
         MR_STRICT, 1969, 2, 13, 23, 32, 0, -210, -27723480},
        {"21 Nov 97 09:55:06 GMT", MR_STRICT, 1997, 11, 21, 9, 55, 6, 0, 880106106},
        {"1 Jan 2000 00:00 EST", MR_STRICT, 2000, 1, 1, 0, 0, 0, -300, 946702800},
        {"Sat, 31 Dec 2016 23:59:60 +0000", MR_STRICT, 2016, 12, 31, 23, 59, 60, 0, 1483228800},
        {"29 Feb 2024 12:00:00 +0000", MR_STRICT, 2024, 2, 29, 12, 0, 0, 0, 1709208000},
        {"1 Jan 101 00:00:00 +0000", MR_STRICT, 2001, 1, 1, 0, 0, 0, 0, 978307200},
        /* lenient: long names, one-digit hour, no zone, unknown zone, trailing junk */
        {"Monday, 3 September 2018 9:05:00", MR_LENIENT, 2018, 9, 3, 9, 5, 0, 0, 1535965500},
        {"Mon 3 Sep 2018 09:05:00 CEST", MR_LENIENT, 2018, 9, 3, 9, 5, 0, 0, 1535965500},
        {"3 Sep 2018 09:05:00 +0000 (UTC) junk", MR_LENIENT, 2018, 9, 3, 9, 5, 0, 0, 1535965500},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mr_slice v = G(cases[i].in);
        mime_date d;
        mr_error err;
        if (mime_date_parse(v, cases[i].mode, &d, &err) != 0)
            fail_msg("case %zu: %s at %zu", i, err.rule, err.offset);
        assert_int_equal(d.year, cases[i].y);
        assert_int_equal(d.month, cases[i].mo);
        assert_int_equal(d.day, cases[i].d);
        assert_int_equal(d.hour, cases[i].h);
        assert_int_equal(d.min, cases[i].mi);
        assert_int_equal(d.sec, cases[i].s);
        assert_int_equal(d.zone, cases[i].zone);
        if (mime_date_to_unix(&d) != cases[i].unix_time)
            fail_msg("case %zu: unix %lld", i, (long long)mime_date_to_unix(&d));
        G_free(v);
    }
}

static void dates_invalid(void **state)
{
    (void)state;
    struct {
        const char *in;
        const char *rule;
        size_t offset;
    } cases[] = {
        {"Fri 21 Nov 1997 09:55:06 -0600", "day-of-week", 4},
        {"Fry, 21 Nov 1997 09:55:06 -0600", "day-of-week", 0},
        {"32 Nov 1997 09:55:06 -0600", "day", 0},
        {"31 Nov 1997 09:55:06 -0600", "day", 7},
        {"29 Feb 2023 09:55:06 -0600", "day", 7},
        {"21 Nox 1997 09:55:06 -0600", "month", 3},
        {"21 November 1997 09:55:06 -0600", "month", 3},
        {"21 Nov 1 09:55:06 -0600", "year", 7},
        {"21 Nov 19970 09:55:06 -0600", "year", 7},
        {"21 Nov 1997 24:00:00 -0600", "time", 12},
        {"21 Nov 1997 9:55:06 -0600", "time", 12},
        {"21 Nov 1997 09:60:06 -0600", "time", 12},
        {"21 Nov 1997 09:55:61 -0600", "time", 12},
        {"21 Nov 1997 09:55:06", "zone", 20},
        {"21 Nov 1997 09:55:06 -060", "zone", 21},
        {"21 Nov 1997 09:55:06 +0160", "zone", 21},
        {"21 Nov 1997 09:55:06 CEST", "zone", 21},
        {"21 Nov 1997 09:55:06 +0000 x", "date-time", 27},
        {"", "day", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mr_slice v = G(cases[i].in);
        mime_date d;
        mr_error err;
        memset(&err, 0, sizeof err);
        if (mime_date_parse(v, MR_STRICT, &d, &err) != MR_ERROR)
            fail_msg("case %zu (%s): no error", i, cases[i].in);
        assert_int_equal(err.code, MR_E_SYNTAX);
        if (strcmp(err.rule, cases[i].rule) != 0 || err.offset != cases[i].offset)
            fail_msg("case %zu (%s): %s at %zu", i, cases[i].in, err.rule, err.offset);
        G_free(v);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The part tree */

/* The structure RFC 3501 6.4.5 uses to explain part numbers. */
static const char *rfc3501_msg =
    "From: a@example.com\n"
    "To: b@example.com\n"
    "Subject: sections\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "preamble\n"
    "--outer\n"
    "Content-Type: text/plain\n"
    "\n"
    "part 1\n"
    "--outer\n"
    "Content-Type: application/octet-stream\n"
    "\n"
    "part 2\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: c@example.com\n"
    "Subject: inner 3\n"
    "Content-Type: multipart/mixed; boundary=in3\n"
    "\n"
    "--in3\n"
    "\n"
    "part 3.1\n"
    "--in3\n"
    "Content-Type: application/octet-stream\n"
    "\n"
    "part 3.2\n"
    "--in3--\n"
    "--outer\n"
    "Content-Type: multipart/mixed; boundary=four\n"
    "\n"
    "--four\n"
    "Content-Type: image/gif\n"
    "\n"
    "GIF89a\n"
    "--four\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: inner 4.2\n"
    "Content-Type: multipart/mixed; boundary=m42\n"
    "\n"
    "--m42\n"
    "Content-Type: text/plain\n"
    "\n"
    "part 4.2.1\n"
    "--m42\n"
    "Content-Type: multipart/alternative; boundary=alt\n"
    "\n"
    "--alt\n"
    "Content-Type: text/plain\n"
    "\n"
    "4.2.2.1\n"
    "--alt\n"
    "Content-Type: text/richtext\n"
    "\n"
    "4.2.2.2\n"
    "--alt--\n"
    "--m42--\n"
    "--four--\n"
    "--outer--\n"
    "epilogue\n";

static mime_range find_section(const parsed *m, const char *spec, int *rc)
{
    mime_section s;
    mime_range r = {0, {NULL, 0}};
    mr_error err;
    size_t n = strlen(spec);
    char *g = guard_dup(spec, n);
    int pr = mime_section_parse(g, n, MR_STRICT, &s, &err);
    if (pr != (int)n)
        fail_msg("section '%s' does not parse: %s at %zu", spec, err.rule, err.offset);
    *rc = mime_section_find(m->parts, (size_t)m->n, &s, &r, &err);
    guard_free(g, n);
    return r;
}

static void expect_section(const parsed *m, const char *spec, const char *bytes,
                           const char *type)
{
    int rc;
    mime_range r = find_section(m, spec, &rc);
    if (rc != 0)
        fail_msg("section '%s' not found", spec);
    size_t len;
    char *want = crlf(bytes, &len);
    if (r.bytes.n != len || memcmp(r.bytes.p, want, len) != 0) {
        for (size_t i = 0; i < r.bytes.n; i++)
            fprintf(stderr, isprint((unsigned char)r.bytes.p[i]) ? "%c" : "\\x%02x",
                    (unsigned char)r.bytes.p[i]);
        fail_msg("section '%s': got %zu bytes, want %zu", spec, r.bytes.n, len);
    }
    free(want);
    if (type) {
        char have[64];
        const mime_part *pt = &m->parts[r.part];
        snprintf(have, sizeof have, "%.*s/%.*s", (int)pt->type.n, pt->type.p,
                 (int)pt->subtype.n, pt->subtype.p);
        assert_string_equal(have, type);
    }
}

static void expect_no_section(const parsed *m, const char *spec)
{
    int rc;
    find_section(m, spec, &rc);
    if (rc != MR_ERROR)
        fail_msg("section '%s' found", spec);
}

static void tree_rfc3501_sections(void **state)
{
    (void)state;
    parsed m;
    assert_int_equal(parse_msg(&m, rfc3501_msg, MR_STRICT), 15);
    int rc;
    mime_range all = find_section(&m, "", &rc);
    assert_int_equal(rc, 0);
    assert_ptr_equal(all.bytes.p, m.buf);
    assert_int_equal(all.bytes.n, m.len);
    expect_section(&m, "HEADER",
                   "From: a@example.com\nTo: b@example.com\nSubject: sections\nMIME-Version: 1.0\n"
                   "Content-Type: multipart/mixed; boundary=\"outer\"\n\n",
                   "multipart/mixed");
    expect_section(&m, "1", "part 1", "text/plain");
    expect_section(&m, "1.MIME", "Content-Type: text/plain\n\n", "text/plain");
    expect_section(&m, "2", "part 2", "application/octet-stream");
    expect_section(&m, "3.HEADER",
                   "From: c@example.com\nSubject: inner 3\n"
                   "Content-Type: multipart/mixed; boundary=in3\n\n",
                   "multipart/mixed");
    expect_section(&m, "3.header.fields (Subject)", /* the header to filter */
                   "From: c@example.com\nSubject: inner 3\n"
                   "Content-Type: multipart/mixed; boundary=in3\n\n",
                   NULL);
    expect_section(&m, "3.TEXT",
                   "--in3\n\npart 3.1\n--in3\nContent-Type: application/octet-stream\n\n"
                   "part 3.2\n--in3--",
                   "multipart/mixed");
    expect_section(&m, "3.MIME", "Content-Type: message/rfc822\n\n", "message/rfc822");
    expect_section(&m, "3.1", "part 3.1", "text/plain");
    expect_section(&m, "3.2", "part 3.2", "application/octet-stream");
    expect_section(&m, "4.1", "GIF89a", "image/gif");
    expect_section(&m, "4.1.MIME", "Content-Type: image/gif\n\n", "image/gif");
    expect_section(&m, "4.2.HEADER",
                   "Subject: inner 4.2\nContent-Type: multipart/mixed; boundary=m42\n\n", NULL);
    expect_section(&m, "4.2.1", "part 4.2.1", "text/plain");
    expect_section(&m, "4.2.2.1", "4.2.2.1", "text/plain");
    expect_section(&m, "4.2.2.2", "4.2.2.2", "text/richtext");
    const char *bad[] = {"5", "1.1", "2.HEADER", "2.TEXT", "4.3", "3.3", "4.2.2.3", "1.2",
                         "4.1.1", "4.HEADER", "3.1.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_no_section(&m, bad[i]);
    /* a path built by hand with a 0 in it */
    mime_section zero;
    memset(&zero, 0, sizeof zero);
    zero.npath = 2;
    zero.path[0] = 4;
    mime_range zr;
    mr_error zerr;
    assert_int_equal(mime_section_find(m.parts, (size_t)m.n, &zero, &zr, &zerr), MR_ERROR);
    assert_int_equal(zerr.offset, 1);
    /* the root multipart: preamble and epilogue */
    assert_int_equal(m.parts[0].kind, MIME_KIND_MULTIPART);
    assert_int_equal(m.parts[0].nchildren, 4);
    assert_slice(m.parts[0].preamble, "preamble");
    assert_slice(m.parts[0].epilogue, "epilogue\r\n");
    /* the paths of all parts, written and parsed back */
    for (int i = 0; i < m.n; i++) {
        mime_section s, back;
        memset(&s, 0, sizeof s);
        int len = mime_part_path(m.parts, (size_t)m.n, (uint32_t)i, s.path, MIME_SECTION_MAX_PATH);
        assert_true(len >= 0);
        s.npath = (size_t)len;
        char text[64];
        size_t tn = mime_section_write(&s, text, sizeof text);
        assert_true(tn < sizeof text);
        mr_error err;
        assert_int_equal(mime_section_parse(text, tn, MR_STRICT, &back, &err), (int)tn);
        assert_int_equal(back.npath, s.npath);
        assert_memory_equal(back.path, s.path, s.npath * sizeof s.path[0]);
    }
    parsed_free(&m);
}

/* RFC 2046 Appendix A, verbatim (with CRLF). */
static const char *rfc2046_msg =
    "MIME-Version: 1.0\n"
    "From: Nathaniel Borenstein <nsb@nsb.fv.com>\n"
    "To: Ned Freed <ned@innosoft.com>\n"
    "Date: Fri, 07 Oct 1994 16:15:05 -0700 (PDT)\n"
    "Subject: A multipart example\n"
    "Content-Type: multipart/mixed;\n"
    "              boundary=unique-boundary-1\n"
    "\n"
    "This is the preamble area of a multipart message.\n"
    "Mail readers that understand multipart format\n"
    "should ignore this preamble.\n"
    "\n"
    "If you are reading this text, you might want to\n"
    "consider changing to a mail reader that understands\n"
    "how to properly display multipart messages.\n"
    "\n"
    "--unique-boundary-1\n"
    "\n"
    "  ... Some text appears here ...\n"
    "\n"
    "[Note that the blank between the boundary and the start\n"
    " of the text in this part means no header fields were\n"
    " given and this is text in the US-ASCII character set.\n"
    " It could have been done with explicit typing as in the\n"
    " next part.]\n"
    "\n"
    "--unique-boundary-1\n"
    "Content-type: text/plain; charset=US-ASCII\n"
    "\n"
    "This could have been part of the previous part, but\n"
    "illustrates explicit versus implicit typing of body\n"
    "parts.\n"
    "\n"
    "--unique-boundary-1\n"
    "Content-Type: multipart/parallel; boundary=unique-boundary-2\n"
    "\n"
    "--unique-boundary-2\n"
    "Content-Type: audio/basic\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "  ... base64-encoded 8000 Hz single-channel\n"
    "      mu-law-format audio data goes here ...\n"
    "\n"
    "--unique-boundary-2\n"
    "Content-Type: image/jpeg\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "  ... base64-encoded image data goes here ...\n"
    "\n"
    "--unique-boundary-2--\n"
    "\n"
    "--unique-boundary-1\n"
    "Content-type: text/enriched\n"
    "\n"
    "This is <bold><italic>enriched.</italic></bold>\n"
    "<smaller>as defined in RFC 1896</smaller>\n"
    "\n"
    "Isn't it\n"
    "<bigger><bigger>cool?</bigger></bigger>\n"
    "\n"
    "--unique-boundary-1\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: (mailbox in US-ASCII)\n"
    "To: (address in US-ASCII)\n"
    "Subject: (subject in US-ASCII)\n"
    "Content-Type: Text/plain; charset=ISO-8859-1\n"
    "Content-Transfer-Encoding: Quoted-printable\n"
    "\n"
    "  ... Additional text in ISO-8859-1 goes here ...\n"
    "\n"
    "--unique-boundary-1--\n";

static void tree_rfc2046_example(void **state)
{
    (void)state;
    parsed m;
    assert_int_equal(parse_msg(&m, rfc2046_msg, MR_STRICT), 9);
    const mime_part *p = m.parts;
    /* pre-order: root, 1, 2, 3 (parallel), 3.1, 3.2, 4, 5 (message), 5's message */
    const char *types[] = {"multipart", "text", "text", "multipart", "audio",
                           "image",     "text", "message", "Text"};
    const char *subtypes[] = {"mixed", "plain", "plain", "parallel", "basic",
                              "jpeg",  "enriched", "rfc822", "plain"};
    for (int i = 0; i < 9; i++) {
        assert_slice(p[i].type, types[i]);
        assert_slice(p[i].subtype, subtypes[i]);
    }
    assert_int_equal(p[1].flags & MIME_PF_DEFAULT_TYPE, MIME_PF_DEFAULT_TYPE);
    assert_slice(p[1].params, "; charset=us-ascii");
    assert_int_equal(p[1].header.n, 2); /* just the empty line */
    assert_int_equal(p[2].flags, 0);
    assert_int_equal(p[0].nchildren, 5);
    assert_int_equal(p[3].nchildren, 2);
    assert_int_equal(p[7].kind, MIME_KIND_MESSAGE);
    assert_int_equal(p[8].parent, 7);
    assert_slice(p[4].encoding, "base64");
    assert_slice(p[8].encoding, "Quoted-printable");
    assert_slice(p[3].epilogue, ""); /* the empty line after --unique-boundary-2-- is the CRLF
                                        of the next delimiter */
    assert_slice(p[4].body, "  ... base64-encoded 8000 Hz single-channel\r\n"
                            "      mu-law-format audio data goes here ...\r\n");
    assert_int_equal(p[4].body_lines, 2);
    assert_int_equal(p[0].epilogue.n, 0);
    assert_true(p[0].preamble.n > 0);
    assert_slice(p[6].body, "This is <bold><italic>enriched.</italic></bold>\r\n"
                            "<smaller>as defined in RFC 1896</smaller>\r\n\r\nIsn't it\r\n"
                            "<bigger><bigger>cool?</bigger></bigger>\r\n");
    expect_section(&m, "5.TEXT", "  ... Additional text in ISO-8859-1 goes here ...\n", NULL);
    expect_section(&m, "5.1", "  ... Additional text in ISO-8859-1 goes here ...\n", NULL);
    expect_section(&m, "3.2", "  ... base64-encoded image data goes here ...\n", "image/jpeg");
    /* the envelope fields of the root */
    mime_field f;
    assert_int_equal(mime_field_find(p[0].header, "date", &f), 1);
    mime_date d;
    assert_int_equal(mime_date_parse(f.value, MR_STRICT, &d, NULL), 0);
    assert_int_equal(d.zone, -420);
    /* every prefix parses leniently, in a guard-page copy, with a consistent tree */
    for (size_t k = 0; k < m.len; k += 7) {
        parsed pre;
        assert_true(parse_bytes(&pre, m.buf, k, MR_LENIENT, NULL) >= 1);
        parsed_free(&pre);
    }
    parsed_free(&m);
}

static void tree_single_part(void **state)
{
    (void)state;
    parsed m;
    assert_int_equal(parse_msg(&m, "Subject: hi\n\nline 1\nline 2\n", MR_STRICT), 1);
    assert_int_equal(m.parts[0].kind, MIME_KIND_LEAF);
    assert_int_equal(m.parts[0].body_lines, 2);
    assert_int_equal(m.parts[0].header_fields, 1);
    assert_true(m.parts[0].flags & MIME_PF_DEFAULT_TYPE);
    assert_true(mime_part_is_text(&m.parts[0]));
    expect_section(&m, "1", "line 1\nline 2\n", "text/plain");
    expect_section(&m, "TEXT", "line 1\nline 2\n", NULL);
    expect_section(&m, "1.MIME", "Subject: hi\n\n", NULL);
    expect_no_section(&m, "2");
    expect_no_section(&m, "1.1");
    expect_no_section(&m, "1.HEADER");
    parsed_free(&m);
    /* header only, no empty line: valid (RFC 5322 3.5: the body is optional) */
    assert_int_equal(parse_msg(&m, "Subject: hi\n", MR_STRICT), 1);
    assert_int_equal(m.parts[0].body.n, 0);
    assert_int_equal(m.parts[0].flags & MIME_PF_HEADER_CUT, 0);
    parsed_free(&m);
    /* empty message */
    assert_int_equal(parse_bytes(&m, "", 0, MR_STRICT, NULL), 1);
    parsed_free(&m);
    /* body without a final CRLF */
    assert_int_equal(parse_msg(&m, "\nno newline", MR_STRICT), 1);
    assert_int_equal(m.parts[0].body_lines, 0);
    assert_slice(m.parts[0].body, "no newline");
    parsed_free(&m);
}

static void tree_root_message_rfc822(void **state)
{
    (void)state;
    parsed m;
    const char *msg = "Content-Type: message/rfc822\n\nSubject: inner\n\nbody\n";
    assert_int_equal(parse_msg(&m, msg, MR_STRICT), 2);
    assert_int_equal(m.parts[0].kind, MIME_KIND_MESSAGE);
    expect_section(&m, "1", "Subject: inner\n\nbody\n", NULL);
    expect_section(&m, "1.HEADER", "Subject: inner\n\n", NULL);
    expect_section(&m, "1.TEXT", "body\n", NULL);
    expect_section(&m, "1.1", "body\n", NULL);
    expect_section(&m, "TEXT", "Subject: inner\n\nbody\n", NULL);
    parsed_free(&m);
}

static void tree_digest(void **state)
{
    (void)state;
    parsed m;
    const char *msg = "Content-Type: multipart/digest; boundary=d\n\n"
                      "--d\n\nSubject: one\n\nfirst\n"
                      "--d\nContent-Type: text/plain\n\nplain\n"
                      "--d--\n";
    assert_int_equal(parse_msg(&m, msg, MR_STRICT), 4);
    assert_slice(m.parts[1].type, "message");
    assert_slice(m.parts[1].subtype, "rfc822");
    assert_int_equal(m.parts[1].kind, MIME_KIND_MESSAGE);
    assert_slice(m.parts[3].type, "text");
    expect_section(&m, "1.HEADER", "Subject: one\n\n", NULL);
    expect_section(&m, "1.TEXT", "first", NULL);
    expect_section(&m, "2", "plain", NULL);
    parsed_free(&m);
}

static void tree_strict_errors(void **state)
{
    (void)state;
    struct {
        const char *msg;
        mr_errcode code;
        const char *rule;
        const char *at; /* the error offset is where this text starts, or... */
        size_t plus;    /* ...this many bytes after it */
    } cases[] = {
        {"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n", MR_E_SYNTAX,
         "close-delimiter", "x\n", 3},
        {"Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n", MR_E_SYNTAX, "boundary",
         "Content-Type", 0},
        {"Content-Type: multipart/mixed; boundary=b\n\nno parts\n--b--\n", MR_E_SYNTAX,
         "multipart-body", "--b--", 7},
        {"Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\nx\n",
         MR_E_SYNTAX, "encoding", "Content-Type", 0},
        {"Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\nx\n",
         MR_E_SYNTAX, "encoding", "Content-Type", 0},
        {"Content-Type: text\n\nx\n", MR_E_SYNTAX, "subtype", "text\n", 4},
        {"Content-Type: text/plain; name\n\nx\n", MR_E_SYNTAX, "parameter", "name", 4},
        {"Content-Type: multipart/mixed; boundary=\"a b \"\n\n--a b\n\nx\n--a b--\n",
         MR_E_SYNTAX, "boundary", "Content-Type", 0},
        {"Content-Disposition: ;x\n\nbody\n", MR_E_SYNTAX, "disposition-type", ";x", 0},
        {"Content-Transfer-Encoding: 7bit 8bit\n\nbody\n", MR_E_SYNTAX, "mechanism", "8bit", 0},
        {"Subject: x\n\nbody \x01 ok\nbad\rline\n", MR_E_BARE_CR, "CRLF", "bad", 3},
        {"Bad header line\n\nbody\n", MR_E_SYNTAX, "field-name", "Bad", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed m;
        if (parse_msg(&m, cases[i].msg, MR_STRICT) != MR_ERROR)
            fail_msg("case %zu: no error", i);
        size_t want = off_of(&m, cases[i].at) + cases[i].plus;
        if (m.err.code != cases[i].code || strcmp(m.err.rule, cases[i].rule) != 0
            || m.err.offset != want)
            fail_msg("case %zu: %s (%d) at %zu, want %s at %zu", i, m.err.rule, m.err.code,
                     m.err.offset, cases[i].rule, want);
        parsed_free(&m);
        /* lenient reads every one of them */
        assert_true(parse_msg(&m, cases[i].msg, MR_LENIENT) >= 1);
        parsed_free(&m);
    }
}

static void tree_lenient_repairs(void **state)
{
    (void)state;
    parsed m;
    /* missing close-delimiter: the last part runs to the end */
    assert_int_equal(parse_msg(&m, "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n",
                               MR_LENIENT),
                     2);
    assert_true(m.parts[0].flags & MIME_PF_NO_CLOSE);
    assert_slice(m.parts[1].body, "x\r\n");
    parsed_free(&m);
    /* no boundary: a leaf */
    assert_int_equal(parse_msg(&m, "Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n",
                               MR_LENIENT),
                     1);
    assert_int_equal(m.parts[0].kind, MIME_KIND_LEAF);
    assert_true(m.parts[0].flags & MIME_PF_NO_BOUNDARY);
    parsed_free(&m);
    /* base64 message/rfc822: a leaf */
    assert_int_equal(parse_msg(&m, "Content-Type: message/rfc822\nContent-Transfer-Encoding: "
                                   "base64\n\nU3ViamVjdDogeA==\n",
                               MR_LENIENT),
                     1);
    assert_true(m.parts[0].flags & MIME_PF_ENCODED);
    parsed_free(&m);
    /* unreadable Content-Type: the default */
    assert_int_equal(parse_msg(&m, "Content-Type: text\n\nx\n", MR_LENIENT), 1);
    assert_true(m.parts[0].flags & MIME_PF_BAD_TYPE);
    assert_slice(m.parts[0].subtype, "plain");
    parsed_free(&m);
    /* a body line where the header should be: the header ends there */
    assert_int_equal(parse_msg(&m, "Subject: x\nthis is body\n", MR_LENIENT), 1);
    assert_true(m.parts[0].flags & MIME_PF_HEADER_CUT);
    assert_slice(m.parts[0].body, "this is body\r\n");
    parsed_free(&m);
    /* a part whose header is cut by the next delimiter; "--b--junk" is text, not a delimiter */
    assert_int_equal(parse_msg(&m, "Content-Type: multipart/mixed; boundary=b\n\n"
                                   "--b\nX: y\n--b\n\nsecond\n--b--junk\n--b-- \nafter\n",
                               MR_LENIENT),
                     3);
    assert_true(m.parts[1].flags & MIME_PF_HEADER_CUT);
    assert_int_equal(m.parts[1].body.n, 0);
    assert_slice(m.parts[2].body, "second\r\n--b--junk");
    assert_slice(m.parts[0].epilogue, "after\r\n");
    parsed_free(&m);
    /* transport padding after the boundary; an inner boundary extending the outer one */
    assert_int_equal(parse_msg(&m, "Content-Type: multipart/mixed; boundary=b\n\n"
                                   "--b \t\nContent-Type: multipart/mixed; boundary=b2\n\n"
                                   "--b2\n\ninner\n--b2--\n--b--\n",
                               MR_STRICT),
                     3);
    assert_slice(m.parts[2].body, "inner");
    parsed_free(&m);
}

static void tree_bare_lf(void **state)
{
    (void)state;
    const char *msg = "Subject: caf\xc3\xa9\nContent-Type: multipart/alternative; boundary=x\n\n"
                      "--x\nContent-Type: text/plain\n\nplain\n--x\nContent-Type: text/html\n\n"
                      "<p>html</p>\n--x--\n";
    parsed m;
    assert_int_equal(parse_bytes(&m, msg, strlen(msg), MR_STRICT, NULL), MR_ERROR);
    assert_int_equal(m.err.code, MR_E_BARE_LF);
    assert_int_equal(m.err.offset, 14);
    parsed_free(&m);
    assert_int_equal(parse_bytes(&m, msg, strlen(msg), MR_LENIENT, NULL), 3);
    assert_true(m.parts[0].flags & MIME_PF_BARE_LF);
    assert_slice(m.parts[1].body, "plain");
    assert_slice(m.parts[2].body, "<p>html</p>");
    parsed_free(&m);
}

static void tree_8bit_headers(void **state)
{
    (void)state;
    parsed m;
    /* UTF-8 headers are fine strictly (RFC 6532); Latin-1 only leniently */
    assert_int_equal(parse_msg(&m, "Subject: Gr\xc3\xbc\xc3\x9f" "e\n\nx\n", MR_STRICT), 1);
    parsed_free(&m);
    assert_int_equal(parse_msg(&m, "Subject: Gr\xfc\xdf" "e\n\nx\n", MR_STRICT), MR_ERROR);
    assert_int_equal(m.err.code, MR_E_UTF8);
    assert_int_equal(m.err.offset, 11);
    parsed_free(&m);
    assert_int_equal(parse_msg(&m, "Subject: Gr\xfc\xdf" "e\n\nx\n", MR_LENIENT), 1);
    assert_true(m.parts[0].flags & MIME_PF_BAD_HEADER);
    parsed_free(&m);
}

/* n nested multiparts, each with boundary "b<depth>". */
static char *nested_multiparts(size_t depth, size_t *len)
{
    size_t cap = depth * 80 + 64, k = 0;
    char *s = malloc(cap);
    for (size_t i = 0; i < depth; i++)
        k += (size_t)snprintf(s + k, cap - k,
                              "Content-Type: multipart/mixed; boundary=b%zu\r\n\r\n--b%zu\r\n", i, i);
    k += (size_t)snprintf(s + k, cap - k, "\r\nleaf\r\n");
    for (size_t i = depth; i-- > 0;)
        k += (size_t)snprintf(s + k, cap - k, "--b%zu--\r\n", i);
    *len = k;
    return s;
}

static void tree_depth_limit(void **state)
{
    (void)state;
    size_t len;
    char *s = nested_multiparts(10000, &len);
    parsed m;
    assert_int_equal(parse_bytes(&m, s, len, MR_STRICT, NULL), MR_ERROR);
    assert_int_equal(m.err.code, MR_E_LIMIT_DEPTH);
    assert_string_equal(m.err.rule, "multipart");
    parsed_free(&m);
    /* lenient: 33 levels (root + 32) are opened, the 33rd multipart is a truncated leaf */
    assert_int_equal(parse_bytes(&m, s, len, MR_LENIENT, NULL), 33);
    assert_int_equal(m.parts[32].depth, 32);
    assert_int_equal(m.parts[32].kind, MIME_KIND_LEAF);
    assert_true(m.parts[32].flags & MIME_PF_TRUNCATED);
    parsed_free(&m);
    /* a tighter limit */
    mime_limits lim = mime_limits_default();
    lim.max_depth = 2;
    assert_int_equal(parse_bytes(&m, s, len, MR_LENIENT, &lim), 3);
    parsed_free(&m);
    free(s);
    s = nested_multiparts(20, &len);
    assert_int_equal(parse_bytes(&m, s, len, MR_STRICT, NULL), 21);
    parsed_free(&m);
    free(s);
}

static void tree_parts_limit(void **state)
{
    (void)state;
    char msg[4096];
    size_t k = (size_t)snprintf(msg, sizeof msg, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for (int i = 0; i < 100; i++)
        k += (size_t)snprintf(msg + k, sizeof msg - k, "--b\r\n\r\npart %d\r\n", i);
    k += (size_t)snprintf(msg + k, sizeof msg - k, "--b--\r\n");
    parsed m;
    assert_int_equal(parse_bytes(&m, msg, k, MR_STRICT, NULL), MR_ERROR); /* cap MAXP = 64 */
    assert_int_equal(m.err.code, MR_E_LIMIT_COUNT);
    assert_string_equal(m.err.rule, "parts");
    parsed_free(&m);
    assert_int_equal(parse_bytes(&m, msg, k, MR_LENIENT, NULL), MAXP);
    assert_true(m.parts[0].flags & MIME_PF_TRUNCATED);
    assert_int_equal(m.parts[0].nchildren, MAXP - 1);
    assert_slice(m.parts[0].epilogue, "");
    parsed_free(&m);
    mime_limits lim = mime_limits_default();
    lim.max_parts = 5;
    assert_int_equal(parse_bytes(&m, msg, k, MR_LENIENT, &lim), 5);
    parsed_free(&m);
    mime_part one;
    mr_error err;
    assert_int_equal(mime_parse(msg, k, NULL, MR_LENIENT, &one, 0, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_COUNT);
    /* a message/rfc822 with no room for its message: a truncated leaf */
    const char *fwd = "Content-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\ny\r\n";
    assert_int_equal(mime_parse(fwd, strlen(fwd), NULL, MR_LENIENT, &one, 1, &err), 1);
    assert_true(one.flags & MIME_PF_TRUNCATED);
}

static void tree_huge_line(void **state)
{
    (void)state;
    /* 100 MB without a line end, as a body and as a header, and inside a multipart */
    size_t n = 100u << 20;
    char *big = malloc(n);
    memset(big, 'x', n);
    memcpy(big, "Subject: y\r\n\r\n", 14);
    mime_part parts[4];
    mr_error err;
    assert_int_equal(mime_parse(big, n, NULL, MR_LENIENT, parts, 4, &err), 1);
    assert_int_equal(parts[0].body.n, n - 14);
    assert_int_equal(mime_parse(big, n, NULL, MR_STRICT, parts, 4, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(err.offset, 14 + 998);
    memset(big, 'x', n);
    memcpy(big, "Subject: ", 9); /* the whole thing is one header line */
    assert_int_equal(mime_parse(big, n, NULL, MR_LENIENT, parts, 4, &err), 1);
    assert_true(parts[0].flags & MIME_PF_LONG_LINE);
    assert_int_equal(mime_parse(big, n, NULL, MR_STRICT, parts, 4, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    const char *mp = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n";
    memcpy(big, mp, strlen(mp));
    assert_int_equal(mime_parse(big, n, NULL, MR_LENIENT, parts, 4, &err), 2);
    assert_true(parts[0].flags & MIME_PF_NO_CLOSE);
    free(big);
}

static void tree_strict_body_lines(void **state)
{
    (void)state;
    parsed m;
    char msg[1200];
    size_t k = (size_t)snprintf(msg, sizeof msg, "Subject: x\r\n\r\n");
    memset(msg + k, 'a', 999);
    k += 999;
    memcpy(msg + k, "\r\n", 2);
    k += 2;
    assert_int_equal(parse_bytes(&m, msg, k, MR_STRICT, NULL), MR_ERROR);
    assert_int_equal(m.err.code, MR_E_LIMIT_LINE);
    parsed_free(&m);
    assert_int_equal(parse_bytes(&m, msg, k, MR_LENIENT, NULL), 1);
    parsed_free(&m);
    const char nul[] = "Subject: x\r\n\r\na\0b\r\n";
    assert_int_equal(parse_bytes(&m, nul, sizeof nul - 1, MR_STRICT, NULL), MR_ERROR);
    assert_int_equal(m.err.code, MR_E_NUL);
    assert_int_equal(m.err.offset, 15);
    parsed_free(&m);
    assert_int_equal(parse_bytes(&m, "Subject: x\r\n\r\nbare\nlf\r\n", 23, MR_STRICT, NULL),
                     MR_ERROR);
    assert_int_equal(m.err.code, MR_E_BARE_LF);
    assert_int_equal(m.err.offset, 18);
    parsed_free(&m);
}

static void tree_content_fields(void **state)
{
    (void)state;
    parsed m;
    const char *msg =
        "Content-Type: multipart/mixed; boundary=\"=_x\"\n\n"
        "--=_x\n"
        "Content-Type: application/pdf; name=\"r.pdf\"\n"
        "Content-Transfer-Encoding: BASE64 (encoded)\n"
        "Content-ID: <part1@example.com>\n"
        "Content-Description: The report\n"
        "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
        "Content-Disposition: attachment;\n filename=\"r.pdf\"; size=12\n"
        "Content-Language: en, fr\n"
        "Content-Location: http://example.com/\n r.pdf\n"
        "Content-ID: <second@example.com>\n"
        "\n"
        "JVBERi0xLjQK\n"
        "--=_x--\n";
    assert_int_equal(parse_msg(&m, msg, MR_STRICT), 2);
    const mime_part *p = &m.parts[1];
    assert_slice(p->encoding, "BASE64");
    assert_slice(p->id, "<part1@example.com>"); /* the first one */
    assert_slice(p->description, "The report");
    assert_slice(p->md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
    assert_slice(p->disposition, "attachment");
    assert_slice(p->disp_params, ";\r\n filename=\"r.pdf\"; size=12");
    assert_slice(p->language, "en, fr");
    assert_slice(p->location, "http://example.com/\r\n r.pdf");
    mime_param prm;
    assert_int_equal(mime_param_find(p->params, "name", &prm), 1);
    assert_slice(prm.value, "r.pdf");
    assert_int_equal(p->header_fields, 9);
    parsed_free(&m);
}

/* ------------------------------------------------------------------------------------------ */
/* Section specs */

static void section_parse_valid(void **state)
{
    (void)state;
    struct {
        const char *in;
        size_t npath;
        uint32_t path[3];
        mime_sect_text text;
        const char *fields;
        const char *canonical;
    } cases[] = {
        {"", 0, {0}, MIME_SECT_NONE, "", ""},
        {"HEADER", 0, {0}, MIME_SECT_HEADER, "", "HEADER"},
        {"text", 0, {0}, MIME_SECT_TEXT, "", "TEXT"},
        {"1", 1, {1}, MIME_SECT_NONE, "", "1"},
        {"1.2.3", 3, {1, 2, 3}, MIME_SECT_NONE, "", "1.2.3"},
        {"4.1.MIME", 2, {4, 1}, MIME_SECT_MIME, "", "4.1.MIME"},
        {"4.2.HEADER", 2, {4, 2}, MIME_SECT_HEADER, "", "4.2.HEADER"},
        {"HEADER.FIELDS (From To)", 0, {0}, MIME_SECT_HEADER_FIELDS, "From To",
         "HEADER.FIELDS (From To)"},
        {"1.header.fields.not (\"X-A\" b)", 1, {1}, MIME_SECT_HEADER_FIELDS_NOT, "\"X-A\" b",
         "1.HEADER.FIELDS.NOT (\"X-A\" b)"},
        {"4294967295", 1, {4294967295u}, MIME_SECT_NONE, "", "4294967295"},
        {"HEADER.FIELDS (a])", 0, {0}, MIME_SECT_HEADER_FIELDS, "a]", "HEADER.FIELDS (a])"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mime_section s, back;
        mr_error err;
        size_t n = strlen(cases[i].in);
        char *g = guard_dup(cases[i].in, n);
        if (mime_section_parse(g, n, MR_STRICT, &s, &err) != (int)n)
            fail_msg("case %zu (%s): %s at %zu", i, cases[i].in, err.rule, err.offset);
        assert_int_equal(s.npath, cases[i].npath);
        assert_memory_equal(s.path, cases[i].path, s.npath * sizeof(uint32_t));
        assert_int_equal(s.text, cases[i].text);
        assert_slice(s.fields, cases[i].fields);
        char out[64];
        size_t on = mime_section_write(&s, out, sizeof out);
        assert_int_equal(on, strlen(cases[i].canonical));
        assert_memory_equal(out, cases[i].canonical, on);
        assert_int_equal(mime_section_parse(out, on, MR_STRICT, &back, &err), (int)on);
        assert_int_equal(back.npath, s.npath);
        assert_int_equal(back.text, s.text);
        assert_memory_equal(back.fields.p, s.fields.p, s.fields.n);
        guard_free(g, n);
    }
    /* write truncates but reports the full length */
    mime_section s;
    mime_section_parse("1.2.3", 5, MR_STRICT, &s, NULL);
    char small[3] = {'#', '#', '#'};
    assert_int_equal(mime_section_write(&s, small, 2), 5);
    assert_memory_equal(small, "1.#", 3);
}

static void section_parse_invalid(void **state)
{
    (void)state;
    struct {
        const char *in;
        mr_mode mode;
        mr_errcode code;
        const char *rule;
        size_t offset;
    } cases[] = {
        {"0", MR_STRICT, MR_E_NUMBER, "nz-number", 0},
        {"1.01", MR_STRICT, MR_E_NUMBER, "nz-number", 2},
        {"4294967296", MR_STRICT, MR_E_NUMBER, "nz-number", 0},
        {"1.", MR_STRICT, MR_E_SYNTAX, "section-part", 1},
        {"1..2", MR_STRICT, MR_E_SYNTAX, "section-text", 2},
        {"1x", MR_STRICT, MR_E_SYNTAX, "section-part", 1},
        {"MIME", MR_STRICT, MR_E_SYNTAX, "section-msgtext", 0},
        {"HEADERS", MR_STRICT, MR_E_SYNTAX, "section-text", 6},
        {"BODY", MR_STRICT, MR_E_SYNTAX, "section-msgtext", 0},
        {"HEADER.FIELDS", MR_STRICT, MR_E_SYNTAX, "header-list", 13},
        {"HEADER.FIELDS ()", MR_STRICT, MR_E_SYNTAX, "header-list", 15},
        {"HEADER.FIELDS  (a)", MR_STRICT, MR_E_SYNTAX, "header-list", 15},
        {"HEADER.FIELDS (a  b)", MR_STRICT, MR_E_SYNTAX, "header-list", 16},
        {"HEADER.FIELDS ( a)", MR_STRICT, MR_E_SYNTAX, "header-list", 15},
        {"HEADER.FIELDS (a(b)", MR_STRICT, MR_E_SYNTAX, "header-fld-name", 16},
        {"HEADER.FIELDS (\"a)", MR_STRICT, MR_E_SYNTAX, "quoted-string", 15},
        {"HEADER.FIELDS (a", MR_STRICT, MR_E_SYNTAX, "header-list", 14},
        {"HEADER.FIELDS (\xc3\xa4)", MR_STRICT, MR_E_SYNTAX, "header-fld-name", 15},
        {"TEXT ", MR_STRICT, MR_E_SYNTAX, "section-text", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mime_section s;
        mr_error err;
        size_t n = strlen(cases[i].in);
        char *g = guard_dup(cases[i].in, n);
        memset(&err, 0, sizeof err);
        if (mime_section_parse(g, n, cases[i].mode, &s, &err) != MR_ERROR)
            fail_msg("case %zu (%s): no error", i, cases[i].in);
        if (err.code != cases[i].code || strcmp(err.rule, cases[i].rule) != 0
            || err.offset != cases[i].offset)
            fail_msg("case %zu (%s): %s (%d) at %zu", i, cases[i].in, err.rule, err.code,
                     err.offset);
        guard_free(g, n);
    }
    /* lenient spacing and 8-bit names */
    mime_section s;
    const char *ok = "HEADER.FIELDS\t( a  \xc3\xa4 )";
    assert_int_equal(mime_section_parse(ok, strlen(ok), MR_LENIENT, &s, NULL), (int)strlen(ok));
    /* more numbers than any tree can have */
    char deep[400];
    size_t k = 0;
    for (int i = 0; i < MIME_SECTION_MAX_PATH + 1; i++)
        k += (size_t)sprintf(deep + k, i ? ".1" : "1");
    mr_error err;
    assert_int_equal(mime_section_parse(deep, k, MR_STRICT, &s, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_DEPTH);
}

static void header_fields_filter(void **state)
{
    (void)state;
    mr_slice h = G("From: a@b\r\nTo: c@d\r\nSubject: s\r\n folded\r\nX-Spam: yes\r\n\r\n");
    char out[128];
    size_t n = mime_header_filter(h, S("subject FROM"), 0, out, sizeof out);
    const char *want = "From: a@b\r\nSubject: s\r\n folded\r\n\r\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    n = mime_header_filter(h, S("\"x-spam\" Subject"), 1, out, sizeof out);
    want = "From: a@b\r\nTo: c@d\r\n\r\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    n = mime_header_filter(h, S("Nothing"), 0, out, sizeof out);
    assert_int_equal(n, 2);
    /* a name that is a prefix of another does not match it */
    n = mime_header_filter(h, S("Subj X-Spam-Flag"), 0, out, sizeof out);
    assert_int_equal(n, 2);
    /* truncation reports the full size */
    assert_int_equal(mime_header_filter(h, S("From"), 0, out, 4), 13);
    G_free(h);
}

/* The store's seed messages (profiles/messages) are strictly valid and have the structure
 * Python's email package sees in them. Run from the repository root, as `make check` does. */
static void seed_messages_strict(void **state)
{
    (void)state;
    struct {
        const char *file;
        int parts;
        const char *section, *type; /* one part to look at */
    } seeds[] = {
        {"plain-text.eml", 1, "1", "text/plain"},
        {"multipart-alternative.eml", 3, "2", "text/html"},
        {"attachment-pdf.eml", 5, "2", "application/pdf"},
        {"attachment-png.eml", 3, "2", "image/png"},
        {"utf8-headers.eml", 3, "2", "text/plain"},
        {"forward-rfc822.eml", 6, "2.2", "text/html"},
        {"thread-reply.eml", 1, "1", "text/plain"},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "profiles/messages/%s", seeds[i].file);
        FILE *f = fopen(path, "rb");
        if (!f)
            fail_msg("%s: cannot open (run from the repository root)", path);
        static char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        parsed m;
        if (parse_bytes(&m, buf, n, MR_STRICT, NULL) != seeds[i].parts)
            fail_msg("%s: %d parts (%s at %zu)", path, m.n, m.n < 0 ? m.err.rule : "-",
                     m.err.offset);
        int rc;
        mime_range r = find_section(&m, seeds[i].section, &rc);
        assert_int_equal(rc, 0);
        char have[64];
        const mime_part *pt = &m.parts[r.part];
        snprintf(have, sizeof have, "%.*s/%.*s", (int)pt->type.n, pt->type.p, (int)pt->subtype.n,
                 pt->subtype.p);
        assert_string_equal(have, seeds[i].type);
        parsed_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_basic),
        cmocka_unit_test(fields_obs_wsp_before_colon),
        cmocka_unit_test(fields_errors),
        cmocka_unit_test(fields_lenient),
        cmocka_unit_test(fields_line_limit),
        cmocka_unit_test(fields_find_unfold),
        cmocka_unit_test(content_type_rfc2045),
        cmocka_unit_test(content_type_rfc2231),
        cmocka_unit_test(content_type_errors),
        cmocka_unit_test(params_lenient),
        cmocka_unit_test(disposition_rfc2183),
        cmocka_unit_test(token_and_lists),
        cmocka_unit_test(addresses_rfc5322_appendix_a),
        cmocka_unit_test(addresses_obsolete),
        cmocka_unit_test(addresses_errors),
        cmocka_unit_test(addresses_lenient),
        cmocka_unit_test(addresses_bounded),
        cmocka_unit_test(envelope_fields),
        cmocka_unit_test(phrase_display),
        cmocka_unit_test(dates_valid),
        cmocka_unit_test(dates_invalid),
        cmocka_unit_test(tree_rfc3501_sections),
        cmocka_unit_test(tree_rfc2046_example),
        cmocka_unit_test(tree_single_part),
        cmocka_unit_test(tree_root_message_rfc822),
        cmocka_unit_test(tree_digest),
        cmocka_unit_test(tree_strict_errors),
        cmocka_unit_test(tree_lenient_repairs),
        cmocka_unit_test(tree_bare_lf),
        cmocka_unit_test(tree_8bit_headers),
        cmocka_unit_test(tree_depth_limit),
        cmocka_unit_test(tree_parts_limit),
        cmocka_unit_test(tree_huge_line),
        cmocka_unit_test(tree_strict_body_lines),
        cmocka_unit_test(tree_content_fields),
        cmocka_unit_test(section_parse_valid),
        cmocka_unit_test(section_parse_invalid),
        cmocka_unit_test(header_fields_filter),
        cmocka_unit_test(seed_messages_strict),
    };
    return cmocka_run_group_tests_name("mime", tests, NULL, NULL);
}
