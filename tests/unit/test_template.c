/* test_template.c -- reply templates: compile errors, expansion, bounds, per-connection values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "servers/arena.h"
#include "servers/template.h"
#include "tests/unit/support.h"

static arena *A;

static int setup(void **state)
{
    (void)state;
    A = arena_new(1 << 20);
    return A ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    arena_free(A);
    return 0;
}

static const uint32_t ALL = TPL_BIT(TPL_VAR_COUNT) - 1;

static template *compile_ok(const char *src, uint32_t allowed)
{
    char err[300];
    template *t = template_compile(A, src, allowed, err, sizeof err);
    if (!t)
        fail_msg("'%s' did not compile: %s", src, err);
    return t;
}

static void compile_fails(const char *src, uint32_t allowed, const char *want)
{
    char err[300];
    assert_null(template_compile(A, src, allowed, err, sizeof err));
    assert_string_equal(err, want);
}

static void expand_basic(void **state)
{
    (void)state;
    template *t = compile_ok("{tag} OK {command} completed.", ALL);
    template_vars v = {0};
    v.v[TPL_TAG] = "a1";
    v.v[TPL_COMMAND] = "LOGIN";
    char buf[100];
    assert_int_equal(template_expand(t, &v, buf, sizeof buf), 22);
    assert_string_equal(buf, "a1 OK LOGIN completed.");
    assert_string_equal(template_source(t), "{tag} OK {command} completed.");
    assert_int_equal(template_vars_used(t), TPL_BIT(TPL_TAG) | TPL_BIT(TPL_COMMAND));
}

static void expand_braces(void **state)
{
    (void)state;
    template *t = compile_ok("{{literal}} }x{{ {n}}}", ALL);
    template_vars v = {0};
    v.v[TPL_N] = "7";
    char buf[100];
    template_expand(t, &v, buf, sizeof buf);
    assert_string_equal(buf, "{literal} }x{ 7}");
}

static void compile_errors(void **state)
{
    (void)state;
    compile_fails("{tag} NO {usr}", ALL, "unknown placeholder '{usr}' at column 10 (did you mean '{user}'?)");
    compile_fails("x {zzzzzzzz}", ALL, "unknown placeholder '{zzzzzzzz}' at column 3");
    compile_fails("{tag} OK", TPL_BIT(TPL_USER),
                  "placeholder '{tag}' at column 1 is not available in this reply (this reply also has: {user})");
    compile_fails("{TAG}", ALL, "'{' at column 1 does not start a placeholder like {user}; write '{{' for a literal '{'");
    compile_fails("open {", ALL, "'{' at column 6 does not start a placeholder like {user}; write '{{' for a literal '{'");
    compile_fails("a\r\nb", ALL, "control character 0x0d at column 2 (a reply is one line)");
    compile_fails("tab\there", ALL, "control character 0x09 at column 4 (a reply is one line)");
    compile_fails("bad \xC3\x28 utf8", ALL, "invalid UTF-8 at column 5");
    /* connection-scope placeholders are always allowed */
    compile_ok("{be} {fqdn} {fqdn_uc} {b64_fqdn} {hex16} {date} {iso_ts} {client_ip} {host} {size_limit}", 0);
    compile_ok("caf\xC3\xA9 ok", 0);
}

static void expand_missing(void **state)
{
    (void)state;
    template *t = compile_ok("{tag} OK", ALL);
    template_vars v = {0};
    char buf[10] = "junk";
    assert_int_equal(template_expand(t, &v, buf, sizeof buf), TEMPLATE_E_MISSING);
    assert_string_equal(buf, "");
    template *c = compile_ok("220 {be}", 0);
    assert_int_equal(template_expand(c, &v, buf, sizeof buf), TEMPLATE_E_MISSING); /* no conn */
}

/* Expanding into exactly cap bytes that end at a guard page never writes past cap. */
static void expand_bounds(void **state)
{
    (void)state;
    template *t = compile_ok("{tag} NO [AUTHENTICATIONFAILED] Authentication failed", ALL);
    template_vars v = {0};
    v.v[TPL_TAG] = "A0001";
    const char *full = "A0001 NO [AUTHENTICATIONFAILED] Authentication failed";
    size_t n = strlen(full);
    for (size_t cap = 0; cap <= n + 2; cap++) {
        static const char zeros[128];
        char *buf = guard_dup(zeros, cap);
        char *dst = cap ? buf : NULL;
        assert_int_equal(template_expand(t, &v, dst, cap), (int)n);
        if (cap) {
            size_t want = cap - 1 < n ? cap - 1 : n;
            assert_int_equal(strlen(buf), want);
            assert_memory_equal(buf, full, want);
        }
        guard_free(buf, cap);
    }
}

static void expand_sanitizes(void **state)
{
    (void)state;
    template *t = compile_ok("500 5.3.3 Unrecognized command '{text}'", ALL);
    template_vars v = {0};
    v.v[TPL_TEXT] = "a1 LOGIN x\r\n250 injected\x7f\x01";
    char buf[100];
    template_expand(t, &v, buf, sizeof buf);
    assert_string_equal(buf, "500 5.3.3 Unrecognized command 'a1 LOGIN x?" "?250 injected?" "?'");
}

static void conn_deterministic(void **state)
{
    (void)state;
    template_conn_params p = {.seed = 42, .conn_id = 1, .backend = "%A%A%dPR%d%dCA%d%d%d%d",
                              .backend_domain = "%a%a%aprd%d%d.prod.outlook.com", .host = "smtp.office365.com",
                              .client_ip = "127.0.0.1", .size_limit = 157286400, .now_ms = 1725358272345};
    template_conn a, b, c;
    assert_int_equal(template_conn_init(&a, &p), 0);
    assert_int_equal(template_conn_init(&b, &p), 0);
    assert_memory_equal(&a, &b, sizeof a);
    p.conn_id = 2;
    assert_int_equal(template_conn_init(&c, &p), 0);
    assert_string_not_equal(a.be, c.be);
    assert_string_not_equal(a.hex16, c.hex16);
    /* shape: two capitals, a digit, PR, two digits, CA, four digits */
    assert_int_equal(strlen(a.be), 13);
    assert_memory_equal(a.be + 3, "PR", 2);
    assert_memory_equal(a.be + 7, "CA", 2);
    for (int i = 0; i < 13; i++) {
        char ch = a.be[i];
        if (i < 2)
            assert_true(ch >= 'A' && ch <= 'Z');
        else if (i == 2 || i == 5 || i == 6 || i >= 9)
            assert_true(ch >= '0' && ch <= '9');
    }
    assert_int_equal(strlen(a.hex16), 16);
    assert_int_equal(strspn(a.hex16, "0123456789ABCDEF"), 16);
    assert_int_equal(strncmp(a.fqdn, a.be, 13), 0);
    assert_non_null(strstr(a.fqdn, ".prod.outlook.com"));
    assert_string_equal(a.size_limit, "157286400");
    for (size_t i = 0; a.fqdn[i]; i++)
        assert_true(a.fqdn_uc[i] == (a.fqdn[i] >= 'a' && a.fqdn[i] <= 'z' ? a.fqdn[i] - 32 : a.fqdn[i]));
    /* a different seed gives different values */
    p.conn_id = 1;
    p.seed = 43;
    template_conn d;
    template_conn_init(&d, &p);
    assert_true(strcmp(a.be, d.be) || strcmp(a.hex16, d.hex16));
}

static void conn_expand_clock(void **state)
{
    (void)state;
    template_conn_params p = {.seed = 1, .conn_id = 1, .backend = "SC1PR80CA0174", .host = "h",
                              .client_ip = "192.0.2.1", .now_ms = 1725358272345};
    template_conn c;
    assert_int_equal(template_conn_init(&c, &p), 0);
    template *t = compile_ok("220 {be}.outlook.office365.com ready at {date} [{iso_ts}] [{client_ip}]", 0);
    template_vars v = {.conn = &c};
    char buf[200];
    template_expand(t, &v, buf, sizeof buf);
    assert_string_equal(buf, "220 SC1PR80CA0174.outlook.office365.com ready at Tue, 3 Sep 2024 10:11:12 +0000 "
                             "[2024-09-03T10:11:12.345Z] [192.0.2.1]");
    v.now_ms = 1000; /* tests fix the clock per reply */
    template_expand(t, &v, buf, sizeof buf);
    assert_non_null(strstr(buf, "Thu, 1 Jan 1970 00:00:01 +0000 [1970-01-01T00:00:01.000Z]"));
}

static void conn_errors(void **state)
{
    (void)state;
    char longhost[200];
    memset(longhost, 'h', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    template_conn c;
    template_conn_params p = {.backend = "ok", .host = longhost};
    assert_int_equal(template_conn_init(&c, &p), -1);
    template_conn_params q = {.backend = "bad%q"};
    assert_int_equal(template_conn_init(&c, &q), -1);
    template_conn_params r = {.backend = "no spaces"};
    assert_int_equal(template_conn_init(&c, &r), -1);
}

static void pattern_check(void **state)
{
    (void)state;
    char err[200];
    assert_int_equal(template_pattern_check("p00-iscream-smtp-%x%x%x-%a%a", 63, err, sizeof err), 0);
    assert_int_equal(template_pattern_check("", 63, err, sizeof err), 0);
    assert_int_equal(template_pattern_check("a%q", 63, err, sizeof err), -1);
    assert_string_equal(err, "'%' at column 2 must be followed by d, a, A, x or X");
    assert_int_equal(template_pattern_check("a%", 63, err, sizeof err), -1);
    assert_int_equal(template_pattern_check("a b", 63, err, sizeof err), -1);
    assert_string_equal(err, "character ' ' at column 2 is not allowed in a host name pattern "
                             "(letters, digits, '.', '-', '_' and %d %a %A %x %X)");
    assert_int_equal(template_pattern_check("%d%d%d%d", 3, err, sizeof err), -1);
    assert_string_equal(err, "pattern expands to 4 characters (at most 3)");
}

static void b64_utf16(void **state)
{
    (void)state;
    char buf[200];
    const char *fqdn = "PR3P250CA0009.EURP250.PROD.OUTLOOK.COM";
    template_b64_utf16le(fqdn, strlen(fqdn), buf, sizeof buf);
    /* python3: base64.b64encode(fqdn.encode('utf-16-le')) */
    assert_string_equal(buf, "UABSADMAUAAyADUAMABDAEEAMAAwADAAOQAuAEUAVQBSAFAAMgA1ADAALgBQAFIATwBEAC4ATwBVAFQATABP"
                             "AE8ASwAuAEMATwBNAA==");
    template_b64_utf16le("a", 1, buf, sizeof buf);
    assert_string_equal(buf, "YQA=");
    template_b64_utf16le("ab", 2, buf, sizeof buf);
    assert_string_equal(buf, "YQBiAA==");
    assert_int_equal(template_b64_utf16le("", 0, buf, sizeof buf), 0);
    assert_int_equal(template_b64_utf16le("ab", 2, buf, 3), 8); /* truncated, length reported */
    assert_string_equal(buf, "YQ");
}

static void dates(void **state)
{
    (void)state;
    char buf[64];
    template_format_date(1725358272345, buf, sizeof buf);
    assert_string_equal(buf, "Tue, 3 Sep 2024 10:11:12 +0000");
    template_format_iso(1725358272345, buf, sizeof buf);
    assert_string_equal(buf, "2024-09-03T10:11:12.345Z");
    template_format_date(951782400000, buf, sizeof buf); /* leap day */
    assert_string_equal(buf, "Tue, 29 Feb 2000 00:00:00 +0000");
}

static void arena_limit(void **state)
{
    (void)state;
    arena *a = arena_new(1000);
    assert_non_null(arena_alloc(a, 500));
    assert_null(arena_alloc(a, 600));
    assert_non_null(arena_alloc(a, 100)); /* earlier allocations and the rest stay usable */
    assert_null(arena_alloc(a, SIZE_MAX));
    assert_true(arena_used(a) <= 1000);
    char err[100];
    assert_null(template_compile(a, "a long template {tag} that needs more room than there is left in here "
                                    "............................................................",
                                 ALL, err, sizeof err));
    assert_string_equal(err, "out of memory");
    arena_free(a);
    arena *big = arena_new(1 << 22);
    for (int i = 0; i < 100; i++)
        assert_non_null(arena_alloc(big, 30000)); /* large blocks get their own chunks */
    arena_free(big);
    arena_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expand_basic),      cmocka_unit_test(expand_braces),
        cmocka_unit_test(compile_errors),    cmocka_unit_test(expand_missing),
        cmocka_unit_test(expand_bounds),     cmocka_unit_test(expand_sanitizes),
        cmocka_unit_test(conn_deterministic), cmocka_unit_test(conn_expand_clock),
        cmocka_unit_test(conn_errors),       cmocka_unit_test(pattern_check),
        cmocka_unit_test(b64_utf16),         cmocka_unit_test(dates),
        cmocka_unit_test(arena_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
