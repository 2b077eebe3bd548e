/* test_smtp_command.c -- SMTP command lines (proto/smtp_command.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_command.h"
#include "tests/unit/support.h"

typedef struct cmd_ctx {
    mr_mode mode;
    smtp_command_limits lim;
    smtp_command cmd;
    mr_error err;
} cmd_ctx;

static cmd_ctx ctx(mr_mode mode)
{
    cmd_ctx c = {.mode = mode, .lim = smtp_command_limits_default()};
    return c;
}

static int cmd_step(void *vctx, const char *buf, size_t len)
{
    cmd_ctx *c = vctx;
    return smtp_command_parse(buf, len, c->mode, &c->lim, NULL, &c->cmd, &c->err);
}

/* Compare the fields the writer carries (arg and verb_text are not carried). */
static void assert_same_command(const smtp_command *a, const smtp_command *b)
{
    assert_int_equal(a->verb, b->verb);
    assert_true(slices_equal(a->domain, b->domain));
    assert_int_equal(a->domain_kind, b->domain_kind);
    assert_true(slices_equal(a->path.route, b->path.route));
    assert_true(slices_equal(a->path.local, b->path.local));
    assert_true(slices_equal(a->path.domain, b->path.domain));
    assert_int_equal(a->path.domain_kind, b->path.domain_kind);
    assert_int_equal(a->path.null_path, b->path.null_path);
    assert_int_equal(a->path.utf8, b->path.utf8);
    assert_int_equal(a->nparams, b->nparams);
    for (size_t k = 0; k < a->nparams; k++) {
        assert_true(slices_equal(a->params[k].keyword, b->params[k].keyword));
        assert_true(slices_equal(a->params[k].value, b->params[k].value));
        assert_int_equal(a->params[k].has_value, b->params[k].has_value);
    }
    assert_true(a->chunk_size == b->chunk_size);
    assert_int_equal(a->last, b->last);
    assert_true(slices_equal(a->mechanism, b->mechanism));
    assert_true(slices_equal(a->initial_response, b->initial_response));
    assert_int_equal(a->has_initial_response, b->has_initial_response);
    assert_true(slices_equal(a->string, b->string));
}

/* parse(write(cmd)) == cmd, and the size query agrees with the write. */
static void round_trip(const cmd_ctx *c)
{
    char out[16384];
    mr_error err;
    int need = smtp_command_write(NULL, 0, &c->cmd, &err);
    assert_true(need > 0);
    int n = smtp_command_write(out, sizeof out, &c->cmd, &err);
    assert_int_equal(n, need);
    assert_int_equal(smtp_command_write(out, (size_t)n - 1, &c->cmd, &err), need);
    smtp_command again;
    int r = smtp_command_parse(out, (size_t)n, c->mode, &c->lim, NULL, &again, &err);
    if (r != n)
        fail_msg("re-parse of \"%.*s\" gave %d (%s at %zu)", n, out, r,
                 mr_errcode_str(err.code), err.offset);
    assert_same_command(&c->cmd, &again);
}

/* Parse `line` (every prefix in a guard page must need more), expect it whole, round-trip. */
static const smtp_command *ok(cmd_ctx *c, const char *line)
{
    test_prefixes_want(cmd_step, c, line, strlen(line), (int)strlen(line), &c->err);
    round_trip(c);
    return &c->cmd;
}

static void bad_n(cmd_ctx *c, const char *line, size_t n, mr_errcode code, const char *rule,
                  size_t offset)
{
    test_prefixes_fail(cmd_step, c, line, n, &c->err, code, rule, offset);
}

static void bad(cmd_ctx *c, const char *line, mr_errcode code, const char *rule, size_t offset)
{
    bad_n(c, line, strlen(line), code, rule, offset);
}

/* ---- EHLO / HELO ---- */

static void ehlo_domain_and_literals(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    const smtp_command *cmd = ok(&c, "EHLO mail.example.org\r\n");
    assert_int_equal(cmd->verb, SMTP_EHLO);
    assert_slice(cmd->verb_text, "EHLO");
    assert_slice(cmd->domain, "mail.example.org");
    assert_int_equal(cmd->domain_kind, SMTP_HOST_DOMAIN);
    cmd = ok(&c, "ehlo localhost\r\n"); /* RFC 5321 2.4: verbs are case-insensitive */
    assert_int_equal(cmd->verb, SMTP_EHLO);
    assert_slice(cmd->verb_text, "ehlo");
    cmd = ok(&c, "EHLO [192.0.2.1]\r\n");
    assert_int_equal(cmd->domain_kind, SMTP_HOST_IPV4);
    assert_slice(cmd->domain, "[192.0.2.1]");
    static const char *const v6[] = {
        "EHLO [IPv6:2001:db8::1]\r\n", "EHLO [IPv6:::1]\r\n", "EHLO [IPv6:::]\r\n",
        "EHLO [IPv6:2001:db8:0:0:0:0:2:1]\r\n", "EHLO [IPv6:::ffff:192.0.2.1]\r\n",
        "EHLO [IPv6:1:2:3:4:5:6:192.0.2.1]\r\n", "EHLO [ipv6:fe80::1]\r\n",
    };
    for (size_t i = 0; i < sizeof v6 / sizeof *v6; i++)
        assert_int_equal(ok(&c, v6[i])->domain_kind, SMTP_HOST_IPV6);
    cmd = ok(&c, "EHLO [x-tag:some.content]\r\n");
    assert_int_equal(cmd->domain_kind, SMTP_HOST_GENERAL);
    cmd = ok(&c, "HELO relay.example.org\r\n");
    assert_int_equal(cmd->verb, SMTP_HELO);
    assert_slice(cmd->arg, "relay.example.org");
}

static void ehlo_errors(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    bad(&c, "EHLO\r\n", MR_E_SYNTAX, "ehlo", 4);
    bad(&c, "EHLO \r\n", MR_E_SYNTAX, "Domain", 5);
    bad(&c, "EHLO  x.example\r\n", MR_E_SYNTAX, "Domain", 5);
    bad(&c, "EHLO my_pc\r\n", MR_E_TRAILING, "ehlo", 7);
    bad(&c, "EHLO -bad.example\r\n", MR_E_SYNTAX, "Domain", 5);
    bad(&c, "EHLO bad-.example\r\n", MR_E_SYNTAX, "Domain", 8);
    bad(&c, "EHLO a..b\r\n", MR_E_SYNTAX, "Domain", 7);
    bad(&c, "EHLO example.com.\r\n", MR_E_SYNTAX, "Domain", 17);
    bad(&c, "EHLO x y\r\n", MR_E_TRAILING, "ehlo", 6);
    bad(&c, "EHLO [300.1.1.1]\r\n", MR_E_SYNTAX, "IPv4-address-literal", 6);
    bad(&c, "EHLO [IPv6:1::2::3]\r\n", MR_E_SYNTAX, "IPv6-addr", 11);
    bad(&c, "EHLO [IPv6:1:2:3:4:5:6:7::8]\r\n", MR_E_SYNTAX, "IPv6-addr", 11);
    bad(&c, "EHLO [IPv6:1:2:3:4:5:6:7]\r\n", MR_E_SYNTAX, "IPv6-addr", 11);
    bad(&c, "EHLO [IPv6:12345::]\r\n", MR_E_SYNTAX, "IPv6-addr", 11);
    bad(&c, "EHLO [1.2.3.4\r\n", MR_E_SYNTAX, "address-literal", 13);
    bad(&c, "EHLO [x-tag:]\r\n", MR_E_SYNTAX, "General-address-literal", 6);
    bad(&c, "EHLO [tag-:x]\r\n", MR_E_SYNTAX, "General-address-literal", 6);
    bad(&c, "EHLO [a\\b]\r\n", MR_E_SYNTAX, "address-literal", 7);
    bad(&c, "HELO [10.0.0.1]\r\n", MR_E_SYNTAX, "Domain", 5); /* HELO takes a Domain only */
    bad(&c, "EHLO ex\xc3\xa4mple.org\r\n", MR_E_8BIT, "Domain", 7);
    bad(&c, "EHLO ex\xc3mple.org\r\n", MR_E_UTF8, "Domain", 7);
    c.mode = MR_LENIENT;
    bad(&c, "EHLO\r\n", MR_E_SYNTAX, "ehlo", 4);
    bad(&c, "EHLO ex\xc3mple.org\r\n", MR_E_UTF8, "Domain", 7);
}

static void ehlo_lenient(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_LENIENT);
    const smtp_command *cmd = ok(&c, "EHLO my_pc\r\n");
    assert_slice(cmd->domain, "my_pc");
    cmd = ok(&c, "HELO [10.0.0.1]\n");
    assert_int_equal(cmd->domain_kind, SMTP_HOST_IPV4);
    cmd = ok(&c, "ehlo   client.example   extra words \t\r\n");
    assert_slice(cmd->domain, "client.example");
    assert_slice(cmd->arg, "client.example   extra words");
    cmd = ok(&c, "EHLO ex\xc3\xa4mple.org\r\n");
    assert_slice(cmd->domain, "ex\xc3\xa4mple.org");
}

/* ---- MAIL / RCPT ---- */

static void mail_rcpt_basic(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    /* RFC 5321 D.1 */
    const smtp_command *cmd = ok(&c, "MAIL FROM:<Smith@bar.com>\r\n");
    assert_int_equal(cmd->verb, SMTP_MAIL);
    assert_slice(cmd->path.local, "Smith");
    assert_slice(cmd->path.domain, "bar.com");
    assert_int_equal(cmd->path.domain_kind, SMTP_HOST_DOMAIN);
    assert_int_equal(cmd->path.bracketed, 1);
    assert_int_equal(cmd->nparams, 0);
    cmd = ok(&c, "RCPT TO:<Jones@foo.com>\r\n");
    assert_int_equal(cmd->verb, SMTP_RCPT);
    assert_slice(cmd->path.local, "Jones");
    cmd = ok(&c, "MAIL FROM:<>\r\n");
    assert_int_equal(cmd->path.null_path, 1);
    assert_int_equal(cmd->path.local.n, 0);
    cmd = ok(&c, "mail from:<tony@contoso.com> size=2048\r\n");
    assert_slice(cmd->params[0].keyword, "size");
    assert_slice(cmd->params[0].value, "2048");
    cmd = ok(&c, "RCPT TO:<Postmaster>\r\n");
    assert_slice(cmd->path.local, "Postmaster");
    assert_int_equal(cmd->path.domain_kind, SMTP_HOST_NONE);
    cmd = ok(&c, "RCPT TO:<postmaster@example.com>\r\n");
    assert_slice(cmd->path.domain, "example.com");
    cmd = ok(&c, "RCPT TO:<user@[192.0.2.7]>\r\n");
    assert_int_equal(cmd->path.domain_kind, SMTP_HOST_IPV4);
    assert_slice(cmd->path.domain, "[192.0.2.7]");
    cmd = ok(&c, "MAIL FROM:<\"john doe\"@example.com>\r\n");
    assert_slice(cmd->path.local, "\"john doe\"");
    cmd = ok(&c, "MAIL FROM:<\"a\\\"b\\\\c\"@example.com>\r\n");
    assert_slice(cmd->path.local, "\"a\\\"b\\\\c\"");
    cmd = ok(&c, "RCPT TO:<first.last+tag@sub.example.co.uk>\r\n");
    assert_slice(cmd->path.local, "first.last+tag");
    cmd = ok(&c, "RCPT TO:<!#$%&'*+-/=?^_`{|}~@example.com>\r\n");
    assert_slice(cmd->path.local, "!#$%&'*+-/=?^_`{|}~");
}

static void mail_parameters(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    const smtp_command *cmd =
        ok(&c, "MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ314159 "
               "AUTH=<> REQUIRETLS\r\n");
    assert_int_equal(cmd->nparams, 6);
    assert_slice(cmd->params[1].keyword, "BODY");
    assert_slice(cmd->params[1].value, "8BITMIME");
    assert_int_equal(cmd->params[5].has_value, 0);
    assert_non_null(smtp_command_param(cmd, "envid"));
    assert_slice(smtp_command_param(cmd, "auth")->value, "<>");
    assert_null(smtp_command_param(cmd, "NOTIFY"));
    ok(&c, "MAIL FROM:<a@b.example> BODY=BINARYMIME AUTH=e+3Dmc2@example.com\r\n");
    /* RFC 3461 example */
    cmd = ok(&c, "RCPT TO:<Alice@Pure-Heart.ORG> NOTIFY=SUCCESS,FAILURE "
                 "ORCPT=rfc822;Alice@Pure-Heart.ORG\r\n");
    assert_slice(cmd->params[0].value, "SUCCESS,FAILURE");
    assert_slice(cmd->params[1].value, "rfc822;Alice@Pure-Heart.ORG");
    ok(&c, "RCPT TO:<b@example.org> NOTIFY=NEVER\r\n");
    /* unknown parameters are the server's business (555) */
    cmd = ok(&c, "MAIL FROM:<a@b.example> X-FOO=bar XBAZ\r\n");
    assert_int_equal(cmd->nparams, 2);
}

static void mail_parameter_errors(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    bad(&c, "MAIL FROM:<a@b.c> SIZE=abc\r\n", MR_E_NUMBER, "size-value", 23);
    bad(&c, "MAIL FROM:<a@b.c> SIZE\r\n", MR_E_NUMBER, "size-value", 18);
    bad(&c, "MAIL FROM:<a@b.c> SIZE=123456789012345678901\r\n", MR_E_NUMBER, "size-value", 23);
    bad(&c, "MAIL FROM:<a@b.c> BODY=9BIT\r\n", MR_E_SYNTAX, "body-value", 23);
    bad(&c, "MAIL FROM:<a@b.c> SMTPUTF8=yes\r\n", MR_E_SYNTAX, "esmtp-param", 27);
    bad(&c, "MAIL FROM:<a@b.c> RET=ALL\r\n", MR_E_SYNTAX, "ret-value", 22);
    bad(&c, "MAIL FROM:<a@b.c> ENVID=a+zz\r\n", MR_E_SYNTAX, "envid-value", 24);
    bad(&c, "MAIL FROM:<a@b.c> AUTH=a+2b\r\n", MR_E_SYNTAX, "auth-param", 23);
    bad(&c, "MAIL FROM:<a@b.c> BODY\r\n", MR_E_SYNTAX, "body-value", 18);
    bad(&c, "MAIL FROM:<a@b.c> SIZE=1 size=2\r\n", MR_E_SYNTAX, "esmtp-param", 25);
    bad(&c, "MAIL FROM:<a@b.c> SIZE=\r\n", MR_E_EMPTY, "esmtp-value", 23);
    bad(&c, "MAIL FROM:<a@b.c> SIZE=1=2\r\n", MR_E_SYNTAX, "esmtp-value", 24);
    bad(&c, "MAIL FROM:<a@b.c> -X\r\n", MR_E_SYNTAX, "esmtp-keyword", 18);
    bad(&c, "MAIL FROM:<a@b.c>  SIZE=1\r\n", MR_E_SYNTAX, "esmtp-keyword", 18);
    bad(&c, "MAIL FROM:<a@b.c> SIZE=1 \r\n", MR_E_SYNTAX, "esmtp-keyword", 25);
    bad(&c, "MAIL FROM:<a@b.c>SIZE=1\r\n", MR_E_SYNTAX, "esmtp-param", 17);
    bad(&c, "RCPT TO:<a@b.c> NOTIFY=SUCCESS,NEVER\r\n", MR_E_SYNTAX, "notify-esmtp-value", 23);
    bad(&c, "RCPT TO:<a@b.c> ORCPT=rfc822\r\n", MR_E_SYNTAX, "orcpt-parameter", 22);
    /* The parameter count is bounded; the limit can be lowered. */
    char line[600] = "MAIL FROM:<a@b.c>";
    for (int i = 0; i < SMTP_PARAMS_MAX + 1; i++)
        strcat(line, " X-P=1");
    strcat(line, "\r\n");
    bad(&c, line, MR_E_LIMIT_COUNT, "esmtp-param", 18 + 6 * SMTP_PARAMS_MAX);
    c.lim.max_params = 2;
    bad(&c, "MAIL FROM:<a@b.c> A B C\r\n", MR_E_LIMIT_COUNT, "esmtp-param", 22);
    c.lim.max_params = 1000; /* capped to the array */
    bad(&c, line, MR_E_LIMIT_COUNT, "esmtp-param", 18 + 6 * SMTP_PARAMS_MAX);
}

static void path_errors(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    bad(&c, "MAIL FROM: <a@b.c>\r\n", MR_E_SYNTAX, "Reverse-path", 10);
    bad(&c, "MAIL FROM:a@b.c\r\n", MR_E_SYNTAX, "Reverse-path", 10);
    bad(&c, "MAIL FROM <a@b.c>\r\n", MR_E_SYNTAX, "mail", 5);
    bad(&c, "MAIL TO:<a@b.c>\r\n", MR_E_SYNTAX, "mail", 5);
    bad(&c, "MAIL\r\n", MR_E_SYNTAX, "mail", 4);
    bad(&c, "RCPT TO:<>\r\n", MR_E_EMPTY, "Forward-path", 9);
    bad(&c, "RCPT TO:<a@b.c\r\n", MR_E_SYNTAX, "Forward-path", 14);
    bad(&c, "RCPT TO:<a>\r\n", MR_E_SYNTAX, "Mailbox", 10);
    bad(&c, "RCPT TO:<a@>\r\n", MR_E_SYNTAX, "Domain", 11);
    bad(&c, "RCPT TO:<@a.example:b@c.example>\r\n", MR_E_SYNTAX, "A-d-l", 9);
    bad(&c, "RCPT TO:<a..b@c.example>\r\n", MR_E_SYNTAX, "Dot-string", 11);
    bad(&c, "RCPT TO:<.a@c.example>\r\n", MR_E_SYNTAX, "Dot-string", 9);
    bad(&c, "RCPT TO:<a.@c.example>\r\n", MR_E_SYNTAX, "Dot-string", 11);
    bad(&c, "RCPT TO:<\"abc@c.example>\r\n", MR_E_SYNTAX, "Quoted-string", 9);
    bad(&c, "RCPT TO:<a b@c.example>\r\n", MR_E_SYNTAX, "Mailbox", 10);
    bad(&c, "RCPT TO:<a@b.c> _x\r\n", MR_E_SYNTAX, "esmtp-keyword", 16);
    bad_n(&c, "MAIL FROM:<a\0b@c.d>\r\n", 21, MR_E_NUL, "command-line", 12);
    bad(&c, "MAIL FROM:<a\rb@c.d>\r\n", MR_E_BARE_CR, "command-line", 12);
    bad(&c, "MAIL FROM:<a\tb@c.d>\r\n", MR_E_CTL, "command-line", 12);
    /* RFC 5321 4.5.3.1: 64-octet local part, 256-octet path */
    char line[700];
    snprintf(line, sizeof line, "RCPT TO:<%.*s@example.com>\r\n", 65,
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    bad(&c, line, MR_E_LIMIT_LITERAL, "Local-part", 9);
    char dom[300];
    memset(dom, 'd', sizeof dom);
    for (int i = 60; i < 300; i += 61)
        dom[i] = '.';
    snprintf(line, sizeof line, "RCPT TO:<a@%.*s>\r\n", 254, dom);
    bad(&c, line, MR_E_LIMIT_LITERAL, "Path", 8);
    snprintf(line, sizeof line, "RCPT TO:<a@%.*s>\r\n", 256, dom);
    bad(&c, line, MR_E_LIMIT_LITERAL, "Domain", 11);
    c.mode = MR_LENIENT;
    snprintf(line, sizeof line, "RCPT TO:<a@%.*s>\r\n", 256, dom);
    ok(&c, line);
}

static void mail_lenient(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_LENIENT);
    const smtp_command *cmd = ok(&c, "MAIL FROM: <a@b.example>\r\n");
    assert_slice(cmd->path.local, "a");
    cmd = ok(&c, "MAIL FROM:a@b.example SIZE=10\n");
    assert_int_equal(cmd->path.bracketed, 0);
    assert_slice(cmd->path.domain, "b.example");
    assert_int_equal(cmd->nparams, 1);
    cmd = ok(&c, "mail from : <a@b.example>   size=10   body=8bitmime  \r\n");
    assert_int_equal(cmd->nparams, 2);
    cmd = ok(&c, "RCPT TO:<@a.example,@b.example:user@c.example>\r\n");
    assert_slice(cmd->path.route, "@a.example,@b.example");
    assert_slice(cmd->path.local, "user");
    cmd = ok(&c, "RCPT TO:<a..b.@docomo.ne.jp>\r\n");
    assert_slice(cmd->path.local, "a..b.");
    cmd = ok(&c, "RCPT TO:<x@under_score.example.>\r\n");
    assert_slice(cmd->path.domain, "under_score.example.");
    cmd = ok(&c, "RCPT TO:Postmaster\r\n");
    assert_slice(cmd->path.local, "Postmaster");
    /* lenient checks no parameter values */
    ok(&c, "MAIL FROM:<a@b.c> SIZE=abc BODY=\r\n");
    cmd = ok(&c, "MAIL FROM:<a@b.c> SIZE=1 SIZE=2\r\n");
    assert_int_equal(cmd->nparams, 2);
}

static void mail_utf8(void **state)
{
    (void)state;
    /* RFC 6531: UTF-8 in paths only with SMTPUTF8 */
    const char *mail = "MAIL FROM:<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf"
                       "\xe5\x91\x8a> SMTPUTF8\r\n";
    const char *rcpt = "RCPT TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>\r\n";
    cmd_ctx c = ctx(MR_STRICT);
    const smtp_command *cmd = ok(&c, mail);
    assert_int_equal(cmd->path.utf8, 1);
    bad(&c, rcpt, MR_E_8BIT, "Dot-string", 10);
    bad(&c, "MAIL FROM:<j\xc3\xb6rg@example.org>\r\n", MR_E_8BIT, "Dot-string", 12);
    bad(&c, "MAIL FROM:<\xff@x.y> SMTPUTF8\r\n", MR_E_UTF8, "Dot-string", 11);
    bad(&c, "MAIL FROM:<a\xc0\x80@x.y> SMTPUTF8\r\n", MR_E_UTF8, "Dot-string", 12);
    c.lim.smtputf8 = 1;
    cmd = ok(&c, rcpt);
    assert_int_equal(cmd->path.utf8, 1);
    assert_slice(cmd->path.domain, "b\xc3\xbc" "cher.example");
    cmd = ok(&c, "RCPT TO:<\"\xc3\xa9t\xc3\xa9\"@example.org>\r\n");
    assert_int_equal(cmd->path.utf8, 1);
    c = ctx(MR_LENIENT);
    ok(&c, rcpt);
    bad(&c, "MAIL FROM:<\xff@x.y>\r\n", MR_E_UTF8, "Dot-string", 11);
}

/* ---- the other verbs ---- */

static void simple_verbs(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    static const struct {
        const char *line;
        smtp_verb verb;
    } cases[] = {
        {"DATA\r\n", SMTP_DATA},         {"RSET\r\n", SMTP_RSET},
        {"QUIT\r\n", SMTP_QUIT},         {"STARTTLS\r\n", SMTP_STARTTLS},
        {"NOOP\r\n", SMTP_NOOP},         {"HELP\r\n", SMTP_HELP},
        {"quit\r\n", SMTP_QUIT},         {"StartTLS\r\n", SMTP_STARTTLS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_int_equal(ok(&c, cases[i].line)->verb, cases[i].verb);
    bad(&c, "DATA x\r\n", MR_E_TRAILING, "DATA", 4);
    bad(&c, "QUIT \r\n", MR_E_TRAILING, "QUIT", 4);
    bad(&c, "RSET now\r\n", MR_E_TRAILING, "RSET", 4);
    bad(&c, "STARTTLS x\r\n", MR_E_TRAILING, "STARTTLS", 8);
    bad(&c, "QUIT\n", MR_E_BARE_LF, "CRLF", 4);
    bad(&c, "XYZZY\r\n", MR_E_UNKNOWN_COMMAND, "command", 0);
    bad(&c, "MAIL:\r\n", MR_E_UNKNOWN_COMMAND, "command", 0);
    bad(&c, "\r\n", MR_E_EMPTY, "command", 0);
    bad(&c, " NOOP\r\n", MR_E_EMPTY, "command", 0);
    c.mode = MR_LENIENT;
    assert_int_equal(ok(&c, "QUIT \t\n")->verb, SMTP_QUIT);
    assert_int_equal(ok(&c, "data\n")->verb, SMTP_DATA);
    bad(&c, "DATA x\r\n", MR_E_TRAILING, "DATA", 4);
}

static void string_verbs(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    const smtp_command *cmd = ok(&c, "VRFY Smith\r\n"); /* RFC 5321 3.5.3 */
    assert_int_equal(cmd->verb, SMTP_VRFY);
    assert_slice(cmd->string, "Smith");
    cmd = ok(&c, "EXPN Example-People\r\n"); /* RFC 5321 3.5.4 */
    assert_slice(cmd->string, "Example-People");
    cmd = ok(&c, "VRFY \"John Smith\"\r\n");
    assert_slice(cmd->string, "\"John Smith\"");
    cmd = ok(&c, "VRFY j\xc3\xb6rg SMTPUTF8\r\n"); /* RFC 6531 3.7.4.2 */
    assert_slice(cmd->params[0].keyword, "SMTPUTF8");
    cmd = ok(&c, "NOOP hello\r\n");
    assert_slice(cmd->string, "hello");
    cmd = ok(&c, "HELP MAIL\r\n");
    assert_slice(cmd->string, "MAIL");
    bad(&c, "VRFY\r\n", MR_E_EMPTY, "vrfy", 4);
    bad(&c, "VRFY <Smith@bar.com>\r\n", MR_E_SYNTAX, "String", 5);
    bad(&c, "VRFY Smith X\r\n", MR_E_SYNTAX, "esmtp-param", 11);
    bad(&c, "VRFY j\xc3\xb6rg\r\n", MR_E_8BIT, "String", 6);
    bad(&c, "NOOP hello world\r\n", MR_E_TRAILING, "noop", 10);
    bad(&c, "EXPN\r\n", MR_E_EMPTY, "expn", 4);
    bad(&c, "EXPN list X=1\r\n", MR_E_SYNTAX, "esmtp-param", 10);
    bad(&c, "HELP \"unterminated\r\n", MR_E_SYNTAX, "String", 5);
    c.mode = MR_LENIENT;
    cmd = ok(&c, "VRFY <Smith@bar.com>\r\n");
    assert_slice(cmd->string, "<Smith@bar.com>");
    cmd = ok(&c, "NOOP hello world  \r\n");
    assert_slice(cmd->string, "hello world");
}

static void bdat(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    const smtp_command *cmd = ok(&c, "BDAT 86 LAST\r\n"); /* RFC 3030 4.2 */
    assert_int_equal(cmd->verb, SMTP_BDAT);
    assert_true(cmd->chunk_size == 86);
    assert_int_equal(cmd->last, 1);
    cmd = ok(&c, "BDAT 0 LAST\r\n");
    assert_true(cmd->chunk_size == 0);
    cmd = ok(&c, "bdat 1000 last\r\n");
    assert_int_equal(cmd->last, 1);
    cmd = ok(&c, "BDAT 100000\r\n");
    assert_int_equal(cmd->last, 0);
    assert_true(cmd->chunk_size == 100000);
    bad(&c, "BDAT\r\n", MR_E_SYNTAX, "bdat-cmd", 4);
    bad(&c, "BDAT x\r\n", MR_E_NUMBER, "chunk-size", 5);
    bad(&c, "BDAT -1\r\n", MR_E_NUMBER, "chunk-size", 5);
    bad(&c, "BDAT 10 FIRST\r\n", MR_E_SYNTAX, "end-marker", 8);
    bad(&c, "BDAT 10 LASTX\r\n", MR_E_TRAILING, "bdat-cmd", 12);
    /* huge sizes are refused before any arithmetic can overflow */
    bad(&c, "BDAT 4294967295000000000000000\r\n", MR_E_LIMIT_LITERAL, "chunk-size", 5);
    bad(&c, "BDAT 18446744073709551616\r\n", MR_E_LIMIT_LITERAL, "chunk-size", 5);
    bad(&c, "BDAT 1073741825\r\n", MR_E_LIMIT_LITERAL, "chunk-size", 5);
    ok(&c, "BDAT 1073741824\r\n");
    c.lim.max_chunk = 1000;
    bad(&c, "BDAT 1001\r\n", MR_E_LIMIT_LITERAL, "chunk-size", 5);
    ok(&c, "BDAT 1000 LAST\r\n");
}

static void auth(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    /* RFC 4954 4 example */
    const smtp_command *cmd = ok(&c, "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n");
    assert_int_equal(cmd->verb, SMTP_AUTH);
    assert_slice(cmd->mechanism, "PLAIN");
    assert_slice(cmd->initial_response, "dGVzdAB0ZXN0ADEyMzQ=");
    assert_int_equal(cmd->has_initial_response, 1);
    cmd = ok(&c, "AUTH LOGIN\r\n");
    assert_int_equal(cmd->has_initial_response, 0);
    cmd = ok(&c, "AUTH PLAIN =\r\n"); /* an empty initial response */
    assert_int_equal(cmd->has_initial_response, 1);
    assert_int_equal(cmd->initial_response.n, 0);
    ok(&c, "AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==\r\n");
    ok(&c, "AUTH CRAM-MD5\r\n");
    ok(&c, "AUTH SCRAM-SHA-256\r\n");
    bad(&c, "AUTH\r\n", MR_E_SYNTAX, "auth-command", 4);
    bad(&c, "AUTH plain\r\n", MR_E_SYNTAX, "sasl-mech", 5);
    bad(&c, "AUTH ABCDEFGHIJKLMNOPQRSTU\r\n", MR_E_SYNTAX, "sasl-mech", 5);
    bad(&c, "AUTH PLAIN dGVzd\r\n", MR_E_BASE64, "initial-response", 16);
    bad(&c, "AUTH PLAIN dG=Vz\r\n", MR_E_BASE64, "initial-response", 14);
    bad(&c, "AUTH PLAIN dGVz===\r\n", MR_E_BASE64, "initial-response", 17);
    bad(&c, "AUTH PLAIN YQ== b\r\n", MR_E_TRAILING, "auth-command", 15);
    bad(&c, "AUTH PLAIN \r\n", MR_E_SYNTAX, "initial-response", 11);
    c.mode = MR_LENIENT;
    cmd = ok(&c, "auth plain dGVzd\r\n");
    assert_slice(cmd->mechanism, "plain");
    assert_slice(cmd->initial_response, "dGVzd");
}

static void auth_response_lines(void **state)
{
    (void)state;
    mr_slice resp;
    int cancel;
    mr_error err;
    assert_int_equal(smtp_auth_response_parse("dGVzdA==\r\nQUIT", 14, MR_STRICT, NULL, &resp,
                                              &cancel, &err), 10);
    assert_slice(resp, "dGVzdA==");
    assert_int_equal(cancel, 0);
    assert_int_equal(smtp_auth_response_parse("*\r\n", 3, MR_STRICT, NULL, &resp, &cancel, &err), 3);
    assert_int_equal(cancel, 1);
    assert_int_equal(resp.n, 0);
    assert_int_equal(smtp_auth_response_parse("\r\n", 2, MR_STRICT, NULL, &resp, &cancel, &err), 2);
    assert_int_equal(resp.n, 0);
    assert_int_equal(smtp_auth_response_parse("abc\r\n", 5, MR_STRICT, NULL, &resp, &cancel, &err),
                     MR_ERROR);
    assert_int_equal(err.code, MR_E_BASE64);
    assert_int_equal(err.offset, 3);
    assert_int_equal(smtp_auth_response_parse("abc\n", 4, MR_LENIENT, NULL, &resp, &cancel, &err), 4);
    assert_int_equal(smtp_auth_response_parse("a c\r\n", 5, MR_LENIENT, NULL, &resp, &cancel, &err),
                     MR_ERROR);
    assert_int_equal(err.offset, 1);
    assert_int_equal(smtp_auth_response_parse("abc", 3, MR_STRICT, NULL, &resp, &cancel, &err),
                     MR_NEED_MORE);
    char out[32];
    assert_int_equal(smtp_auth_response_write(out, sizeof out, resp, 1, &err), 3);
    assert_memory_equal(out, "*\r\n", 3);
    mr_slice b64 = {"dGVzdA==", 8};
    assert_int_equal(smtp_auth_response_write(out, sizeof out, b64, 0, &err), 10);
    assert_memory_equal(out, "dGVzdA==\r\n", 10);
    mr_slice evil = {"dGVz\r\nQUIT", 10};
    assert_int_equal(smtp_auth_response_write(out, sizeof out, evil, 0, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_BASE64);
    assert_int_equal(err.offset, 4);
}

/* ---- framing, limits ---- */

static void pipelined_group(void **state)
{
    (void)state;
    /* RFC 2920 3.2 shape: one write, several commands */
    const char *in = "MAIL FROM:<mrose@dbc.mtview.ca.us>\r\nRCPT TO:<ned@innosoft.com>\r\n"
                     "RCPT TO:<dan@innosoft.com>\r\nRCPT TO:<kvc@innosoft.com>\r\nDATA\r\n";
    static const smtp_verb want[] = {SMTP_MAIL, SMTP_RCPT, SMTP_RCPT, SMTP_RCPT, SMTP_DATA};
    size_t at = 0, n = strlen(in);
    for (size_t k = 0; k < 5; k++) {
        smtp_command cmd;
        mr_error err;
        int r = smtp_command_parse(in + at, n - at, MR_STRICT, NULL, NULL, &cmd, &err);
        assert_true(r > 0);
        assert_int_equal(cmd.verb, want[k]);
        at += (size_t)r;
    }
    assert_int_equal(at, n);
}

static void line_limits(void **state)
{
    (void)state;
    cmd_ctx c = ctx(MR_STRICT);
    /* 512 octets with CRLF is the RFC 5321 4.5.3.1.4 maximum */
    char line[13000];
    memcpy(line, "NOOP ", 5);
    memset(line + 5, 'x', 505);
    memcpy(line + 510, "\r\n", 3);
    ok(&c, line);
    memset(line + 5, 'x', 506);
    memcpy(line + 511, "\r\n", 3);
    bad(&c, line, MR_E_LIMIT_LINE, "command-line", 510);
    /* AUTH lines may reach 12288 octets (RFC 4954 4) */
    memcpy(line, "AUTH PLAIN ", 11);
    memset(line + 11, 'A', 12272);
    memcpy(line + 12283, "\r\n", 3);
    ok(&c, line);
    memset(line + 11, 'A', 12276);
    memcpy(line + 12287, "\r\n", 3);
    bad(&c, line, MR_E_LIMIT_LINE, "command-line", 12286);
    c.lim.max_line = 20;
    bad(&c, "MAIL FROM:<abc@example.org>\r\n", MR_E_LIMIT_LINE, "command-line", 20);
}

static void hundred_megabytes(void **state)
{
    (void)state;
    size_t n = 100u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    smtp_command cmd;
    mr_error err;
    size_t scanned = 0;
    assert_int_equal(smtp_command_parse(big, n, MR_LENIENT, NULL, &scanned, &cmd, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    memcpy(big, "AUTH ", 5);
    assert_int_equal(smtp_command_parse(big, n, MR_LENIENT, NULL, NULL, &cmd, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(err.offset, 12286);
    free(big);
}

/* ---- writer ---- */

static void writer(void **state)
{
    (void)state;
    smtp_command cmd = {.verb = SMTP_MAIL};
    cmd.path.local = (mr_slice){"tony", 4};
    cmd.path.domain = (mr_slice){"contoso.com", 11};
    cmd.params[0] = (smtp_param){{"SIZE", 4}, {"2048", 4}, 1};
    cmd.params[1] = (smtp_param){{"SMTPUTF8", 8}, {NULL, 0}, 0};
    cmd.nparams = 2;
    char out[128];
    mr_error err;
    const char *want = "MAIL FROM:<tony@contoso.com> SIZE=2048 SMTPUTF8\r\n";
    assert_int_equal(smtp_command_write(out, sizeof out, &cmd, &err), (int)strlen(want));
    assert_memory_equal(out, want, strlen(want));
    /* too small: the length needed, nothing past cap */
    memset(out, '#', sizeof out);
    assert_int_equal(smtp_command_write(out, 10, &cmd, &err), (int)strlen(want));
    assert_int_equal(out[10], '#');
    /* no injection through API inputs */
    cmd.path.domain = (mr_slice){"x.example>\r\nRCPT TO:<y", 22};
    assert_int_equal(smtp_command_write(out, sizeof out, &cmd, &err), MR_ERROR);
    assert_err(&err, MR_E_CTL, "Domain", 10);
    smtp_command ehlo = {.verb = SMTP_EHLO, .domain = {"a b", 3}};
    assert_int_equal(smtp_command_write(out, sizeof out, &ehlo, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_SYNTAX);
    smtp_command empty = {.verb = SMTP_EHLO};
    assert_int_equal(smtp_command_write(out, sizeof out, &empty, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_EMPTY);
    smtp_command none = {.verb = SMTP_VERB_NONE};
    assert_int_equal(smtp_command_write(out, sizeof out, &none, &err), MR_ERROR);
    smtp_command bd = {.verb = SMTP_BDAT, .chunk_size = 18446744073709551615ull, .last = 1};
    want = "BDAT 18446744073709551615 LAST\r\n";
    assert_int_equal(smtp_command_write(out, sizeof out, &bd, &err), (int)strlen(want));
    assert_memory_equal(out, want, strlen(want));
    smtp_command au = {.verb = SMTP_AUTH, .mechanism = {"PLAIN", 5}, .has_initial_response = 1};
    assert_int_equal(smtp_command_write(out, sizeof out, &au, &err), 14);
    assert_memory_equal(out, "AUTH PLAIN =\r\n", 14);
    assert_string_equal(smtp_verb_name(SMTP_STARTTLS), "STARTTLS");
    assert_string_equal(smtp_verb_name((smtp_verb)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ehlo_domain_and_literals),
        cmocka_unit_test(ehlo_errors),
        cmocka_unit_test(ehlo_lenient),
        cmocka_unit_test(mail_rcpt_basic),
        cmocka_unit_test(mail_parameters),
        cmocka_unit_test(mail_parameter_errors),
        cmocka_unit_test(path_errors),
        cmocka_unit_test(mail_lenient),
        cmocka_unit_test(mail_utf8),
        cmocka_unit_test(simple_verbs),
        cmocka_unit_test(string_verbs),
        cmocka_unit_test(bdat),
        cmocka_unit_test(auth),
        cmocka_unit_test(auth_response_lines),
        cmocka_unit_test(pipelined_group),
        cmocka_unit_test(line_limits),
        cmocka_unit_test(hundred_megabytes),
        cmocka_unit_test(writer),
    };
    return cmocka_run_group_tests_name("smtp_command", tests, NULL, NULL);
}
