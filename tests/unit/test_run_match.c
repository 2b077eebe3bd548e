/* test_run_match.c -- the interpreter's matching, variables, redaction and strict checking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness/run_match.h"
#include "harness/run_strict.h"
#include "harness/run_vars.h"
#include "harness/scenario.h"
#include "servers/profile.h"

/* A parsed scenario whose steps hold the patterns under test, with the generic profile. */
typedef struct fix {
    sc_scenario *sc;
    profile *p;
    run_vars v;
} fix;

static void fix_open(fix *f, const char *text)
{
    sc_diags d = {0};
    f->sc = sc_parse_mem("t.scn", text, strlen(text), NULL, &d);
    if (!f->sc)
        sc_diags_print(stderr, &d);
    assert_non_null(f->sc);
    sc_diags_free(&d);
    profile_diag pd = {0};
    f->p = profile_load("generic", NULL, &pd);
    assert_non_null(f->p);
    char err[256];
    assert_int_equal(run_vars_init(&f->v, f->sc, f->p, f->sc->h.account, err, sizeof err), 0);
}

static void fix_close(fix *f)
{
    run_vars_free(&f->v);
    profile_free(f->p);
    sc_free(f->sc);
}

/* Compile the n-th pattern of step i. */
static void pat_of(fix *f, size_t step, size_t n, run_pat *rp)
{
    char err[256];
    const sc_step *s = &f->sc->steps[step];
    const sc_pattern *pats = s->kind == SC_EXPECT ? s->u.expect.pats : s->u.expect_reply.pats;
    int r = run_pat_compile(&f->v, &pats[n], rp, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(r, 0);
}

static int m(fix *f, run_pat *rp, const char *line)
{
    char err[256];
    return run_pat_match(rp, &f->v, line, strlen(line), err, sizeof err);
}

#define HEAD0 "scenario t\nrole client\nprofile generic\n"
#define HEAD HEAD0 "connect imap 143 plain\n"

static void glob_and_exact(void **state)
{
    (void)state;
    fix f;
    fix_open(&f, HEAD "expect \"a1 OK*\" \"a?c\" exact \"* OK\" \"\" \"*x*y*\"\n");
    run_pat rp[5];
    for (size_t i = 0; i < 5; i++)
        pat_of(&f, 1, i, &rp[i]);
    assert_int_equal(m(&f, &rp[0], "a1 OK done"), 1);
    assert_int_equal(m(&f, &rp[0], "a1 OK"), 1);
    assert_int_equal(m(&f, &rp[0], "a1 NO"), 0);
    assert_int_equal(m(&f, &rp[0], " a1 OK"), 0);
    assert_int_equal(m(&f, &rp[1], "abc"), 1);
    assert_int_equal(m(&f, &rp[1], "ac"), 0);
    assert_int_equal(m(&f, &rp[2], "* OK"), 1);
    assert_int_equal(m(&f, &rp[2], "x OK"), 0);   /* exact: '*' is itself */
    assert_int_equal(m(&f, &rp[3], ""), 1);
    assert_int_equal(m(&f, &rp[3], "a"), 0);
    assert_int_equal(m(&f, &rp[4], "..x..y.."), 1);
    assert_int_equal(m(&f, &rp[4], "yx"), 0);
    for (size_t i = 0; i < 5; i++)
        run_pat_free(&rp[i]);
    fix_close(&f);
}

static void glob_value_is_literal(void **state)
{
    (void)state;
    fix f;
    fix_open(&f, HEAD "var pw=\"p*ss?\"\nexpect \"LOGIN {pw} *\"\n");
    char err[128];
    assert_int_equal(run_vars_set(&f.v, f.sc->steps[1].u.var.slot, "p*ss?", 5, 0), 0);
    run_pat rp;
    pat_of(&f, 2, 0, &rp);
    assert_int_equal(m(&f, &rp, "LOGIN p*ss? x"), 1);
    assert_int_equal(m(&f, &rp, "LOGIN pXXss! x"), 0);   /* the value's * and ? are literal */
    run_pat_free(&rp);
    (void)err;
    fix_close(&f);
}

static void regex_captures_and_escaping(void **state)
{
    (void)state;
    fix f;
    fix_open(&f, HEAD "var dot=\"a.b\"\n"
                      "expect /^\\* OK \\[UIDVALIDITY (?<uv>[0-9]+)\\]/ /^x{dot}y$/ /hello/i\n"
                      "send \"{uv}\"\n");
    assert_int_equal(run_vars_set(&f.v, f.sc->steps[1].u.var.slot, "a.b", 3, 0), 0);
    run_pat rp[3];
    for (size_t i = 0; i < 3; i++)
        pat_of(&f, 2, i, &rp[i]);
    assert_int_equal(m(&f, &rp[0], "* OK [UIDVALIDITY 1234] ok"), 1);
    const sc_var *var = &f.sc->vars[f.sc->steps[2].u.expect.pats[0].groups[0].slot];
    assert_string_equal(var->name, "uv");
    run_value *val = &f.v.slots[f.sc->steps[2].u.expect.pats[0].groups[0].slot];
    assert_true(val->set);
    assert_string_equal(val->p, "1234");
    assert_int_equal(m(&f, &rp[1], "xa.by"), 1);
    assert_int_equal(m(&f, &rp[1], "xaXby"), 0);   /* '.' from the value is literal */
    assert_int_equal(m(&f, &rp[2], "say HELLO"), 1);
    for (size_t i = 0; i < 3; i++)
        run_pat_free(&rp[i]);
    fix_close(&f);
}

static void regex_value_with_nul_and_8bit(void **state)
{
    (void)state;
    fix f;
    fix_open(&f, HEAD "var v=\"x\"\nexpect /^<{v}>$/\n");
    assert_int_equal(run_vars_set(&f.v, f.sc->steps[1].u.var.slot, "\0\xff)", 3, 0), 0);
    run_pat rp;
    pat_of(&f, 2, 0, &rp);
    char err[128];
    assert_int_equal(run_pat_match(&rp, &f.v, "<\0\xff)>", 5, err, sizeof err), 1);
    assert_int_equal(run_pat_match(&rp, &f.v, "<\0\xfe)>", 5, err, sizeof err), 0);
    run_pat_free(&rp);
    fix_close(&f);
}

static void regex_limits_bound_hostile_lines(void **state)
{
    (void)state;
    fix f;
    fix_open(&f, HEAD "expect /^(\\w+\\s?)*$/\n");
    run_pat rp;
    pat_of(&f, 1, 0, &rp);
    char line[64];
    memset(line, 'a', sizeof line - 1);
    line[sizeof line - 2] = '!';
    line[sizeof line - 1] = '\0';
    char err[256] = "";
    /* Catastrophic backtracking ends in an error, fast, not in a hang. */
    assert_int_equal(run_pat_match(&rp, &f.v, line, strlen(line), err, sizeof err), -1);
    assert_non_null(strstr(err, "limit"));
    run_pat_free(&rp);
    fix_close(&f);
}

static void account_values_and_secrets(void **state)
{
    (void)state;
    fix f;
    fix_open(&f, HEAD0 "account bob\nconnect imap 143 plain\n"
                      "send \"{account.email} {account.local} {account.username.imap} {account.password} {base64:account.password} {host}\"\n");
    run_buf out = {0}, red = {0};
    char err[256];
    const sc_step *s = &f.sc->steps[1];
    assert_int_equal(run_vars_expand(&f.v, &s->u.send.lines[0], &out, &red, err, sizeof err), 0);
    assert_string_equal(out.p, "bob@example.test bob bob@example.test bob-password-2 "
                               "Ym9iLXBhc3N3b3JkLTI= 127.0.0.1");
    assert_string_equal(red.p, "bob@example.test bob bob@example.test <redacted> <redacted> 127.0.0.1");
    run_buf r2 = {0};
    const char *echo = "ECHO x bob-password-2 Ym9iLXBhc3N3b3JkLTI=";
    run_vars_redact(&f.v, echo, strlen(echo), &r2);
    assert_string_equal(r2.p, "ECHO x <redacted> <redacted>");
    run_buf_free(&out);
    run_buf_free(&red);
    run_buf_free(&r2);
    fix_close(&f);
}

static void secret_var_and_ports(void **state)
{
    (void)state;
    fix f;
    fix_open(&f, HEAD "var plain=\"\\x00{account.email}\\x00{account.password}\"\n"
                      "send \"AUTH PLAIN {base64:plain}\" \"{port:imap} {port:smtp:587}\"\n"
                      "expect \"x\" as cap\nsend \"{cap}\"\n");
    char err[256];
    run_buf out = {0}, red = {0};
    const sc_step *vs = &f.sc->steps[1];
    assert_true(vs->u.var.value.secret);
    assert_int_equal(run_vars_expand(&f.v, &vs->u.var.value, &out, NULL, err, sizeof err), 0);
    assert_int_equal(out.n, 1 + strlen("alice@example.test") + 1 + strlen("alice-password-1"));
    assert_int_equal(run_vars_set(&f.v, vs->u.var.slot, out.p, out.n, 1), 0);
    run_buf_reset(&out);
    const sc_step *s = &f.sc->steps[2];
    assert_int_equal(run_vars_expand(&f.v, &s->u.send.lines[0], &out, &red, err, sizeof err), 0);
    assert_string_equal(red.p, "AUTH PLAIN <redacted>");
    /* ports: none known yet, then mapped */
    run_buf_reset(&out);
    assert_int_equal(run_vars_expand(&f.v, &s->u.send.lines[1], &out, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "no imap listener"));
    run_vars_add_port(&f.v, SC_PROTO_IMAP, 993, 0);        /* closed */
    run_vars_add_port(&f.v, SC_PROTO_IMAP, 143, 40143);
    run_vars_add_port(&f.v, SC_PROTO_SMTP, 587, 40587);
    run_buf_reset(&out);
    assert_int_equal(run_vars_expand(&f.v, &s->u.send.lines[1], &out, NULL, err, sizeof err), 0);
    assert_string_equal(out.p, "40143 40587");
    run_buf_reset(&out);
    assert_int_equal(run_vars_expand(&f.v, &f.sc->steps[4].u.send.lines[0], &out, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "{cap} has no value"));
    assert_int_equal(run_vars_port(&f.v, SC_PROTO_IMAP, 0), 40143);
    assert_int_equal(run_vars_port(&f.v, SC_PROTO_SMTP, 587), 40587);
    assert_int_equal(run_vars_port(&f.v, SC_PROTO_POP3, 0), 0);
    f.v.external = 1;
    f.v.port_base = 20000;
    assert_int_equal(run_vars_port(&f.v, SC_PROTO_POP3, 995), 20995);
    run_buf_free(&out);
    run_buf_free(&red);
    fix_close(&f);
}

static void unknown_account(void **state)
{
    (void)state;
    sc_diags d = {0};
    const char *t = HEAD0 "account nobody\nconnect imap 143 plain\n";
    sc_scenario *sc = sc_parse_mem("t.scn", t, strlen(t), NULL, &d);
    assert_non_null(sc);
    profile_diag pd = {0};
    profile *p = profile_load("generic", NULL, &pd);
    run_vars v;
    char err[256];
    assert_int_equal(run_vars_init(&v, sc, p, "nobody", err, sizeof err), -1);
    assert_non_null(strstr(err, "no account 'nobody'"));
    run_vars_free(&v);
    profile_free(p);
    sc_free(sc);
    sc_diags_free(&d);
}

/* ---- strict ------------------------------------------------------------------------------- */

static int feed(run_strict *s, const char *p)
{
    return run_strict_feed(s, p, strlen(p));
}

static void strict_smtp(void **state)
{
    (void)state;
    run_strict s;
    run_strict_init(&s, SC_PROTO_SMTP);
    assert_int_equal(feed(&s, "220 mx ready\r\n250-a\r\n"), 0);   /* incomplete reply waits */
    assert_int_equal(feed(&s, "250 b\r\n"), 0);
    assert_int_equal(feed(&s, "250 bare\n"), -1);
    char d[256];
    run_strict_describe(&s, d, sizeof d);
    assert_non_null(strstr(d, "SMTP reply at byte 28"));
    assert_non_null(strstr(d, "bare LF"));
    assert_int_equal(feed(&s, "garbage\r\n"), 0);   /* only the first is reported */
    run_strict_free(&s);
}

static void strict_imap(void **state)
{
    (void)state;
    run_strict s;
    run_strict_init(&s, SC_PROTO_IMAP);
    assert_int_equal(feed(&s, "* OK [CAPABILITY IMAP4rev1] hi\r\n* 3 EXI"), 0);
    assert_int_equal(feed(&s, "STS\r\na1 OK done\r\n+ \r\n"), 0);
    assert_int_equal(feed(&s, "a2 OK bare\n"), -1);
    char d[256];
    run_strict_describe(&s, d, sizeof d);
    assert_non_null(strstr(d, "IMAP response"));
    run_strict_free(&s);
}

static void strict_pop3_multiline(void **state)
{
    (void)state;
    run_strict s;
    run_strict_init(&s, SC_PROTO_POP3);
    assert_int_equal(feed(&s, "+OK ready\r\n"), 0);
    run_strict_sent(&s, "CAPA", 4);
    run_strict_sent(&s, "AUTH PLAIN", 10);
    /* The CAPA body lines are not status lines: they must not be read as such. */
    assert_int_equal(feed(&s, "+OK caps\r\nUSER\r\nSASL PLAIN\r\n.\r\n+ \r\n"), 0);
    run_strict_sent(&s, "AGFsaWNl", 8);   /* the answer to the challenge: not a command */
    assert_int_equal(feed(&s, "+OK in\r\n"), 0);
    run_strict_sent(&s, "LIST 1", 6);
    assert_int_equal(feed(&s, "+OK 1 120\r\n"), 0);
    run_strict_sent(&s, "NOOP", 4);
    assert_int_equal(feed(&s, "+ok lower\r\n"), -1);
    run_strict_free(&s);
}

static void strict_large_literal_and_long_body_lines(void **state)
{
    (void)state;
    /* valid however large: a 100 KiB literal, a 2000-byte line in a RETR body */
    size_t big = 100 * 1024;
    char *item = malloc(big + 64);
    int n = sprintf(item, "* 1 FETCH (BODY[] {%zu}\r\n", big);
    memset(item + n, 'x', big);
    memcpy(item + n + big, ")\r\n", 3);
    run_strict s;
    run_strict_init(&s, SC_PROTO_IMAP);
    assert_int_equal(run_strict_feed(&s, item, (size_t)n + big + 3), 0);
    assert_false(s.failed);
    run_strict_free(&s);
    run_strict_init(&s, SC_PROTO_POP3);
    run_strict_sent(&s, "RETR 1", 6);
    memcpy(item, "+OK\r\n", 5);
    memset(item + 5, 'y', 2000);
    memcpy(item + 2005, "\r\n.\r\n", 5);
    assert_int_equal(run_strict_feed(&s, item, 2010), 0);
    assert_int_equal(feed(&s, "+OK next\r\n"), 0);   /* the body ended: a status line again */
    assert_false(s.failed);
    run_strict_free(&s);
    free(item);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(glob_and_exact),
        cmocka_unit_test(glob_value_is_literal),
        cmocka_unit_test(regex_captures_and_escaping),
        cmocka_unit_test(regex_value_with_nul_and_8bit),
        cmocka_unit_test(regex_limits_bound_hostile_lines),
        cmocka_unit_test(account_values_and_secrets),
        cmocka_unit_test(secret_var_and_ports),
        cmocka_unit_test(unknown_account),
        cmocka_unit_test(strict_smtp),
        cmocka_unit_test(strict_imap),
        cmocka_unit_test(strict_pop3_multiline),
        cmocka_unit_test(strict_large_literal_and_long_body_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
