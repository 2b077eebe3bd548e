/* test_pop3.c -- POP3 commands, responses, listings, CAPA (proto/pop3.c) and the shared
 * dot-stream reader on RETR bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/dotstream.h"
#include "proto/pop3.h"
#include "tests/unit/support.h"

/* ---- commands ---- */

typedef struct cmd_ctx {
    mr_mode mode;
    pop3_limits lim;
    pop3_command cmd;
    mr_error err;
} cmd_ctx;

static cmd_ctx cctx(mr_mode mode)
{
    cmd_ctx c = {.mode = mode, .lim = pop3_limits_default()};
    return c;
}

static int cmd_step(void *vctx, const char *buf, size_t len)
{
    cmd_ctx *c = vctx;
    return pop3_command_parse(buf, len, c->mode, &c->lim, NULL, &c->cmd, &c->err);
}

static void cmd_round_trip(const cmd_ctx *c)
{
    char out[16384];
    mr_error err;
    int n = pop3_command_write(out, sizeof out, &c->cmd, &err);
    assert_true(n > 0);
    assert_int_equal(pop3_command_write(NULL, 0, &c->cmd, &err), n);
    pop3_command again;
    int r = pop3_command_parse(out, (size_t)n, c->mode, &c->lim, NULL, &again, &err);
    if (r != n)
        fail_msg("re-parse of \"%.*s\" gave %d", n, out, r);
    const pop3_command *a = &c->cmd;
    assert_int_equal(a->verb, again.verb);
    assert_true(slices_equal(a->name, again.name));
    assert_true(slices_equal(a->secret, again.secret));
    assert_true(a->msg == again.msg && a->has_msg == again.has_msg && a->lines == again.lines);
    assert_true(slices_equal(a->mechanism, again.mechanism));
    assert_true(slices_equal(a->initial_response, again.initial_response));
    assert_int_equal(a->has_initial_response, again.has_initial_response);
}

static const pop3_command *cmd_ok(cmd_ctx *c, const char *line)
{
    test_prefixes_want(cmd_step, c, line, strlen(line), (int)strlen(line), &c->err);
    cmd_round_trip(c);
    return &c->cmd;
}

static void cmd_bad(cmd_ctx *c, const char *line, mr_errcode code, const char *rule,
                    size_t offset)
{
    test_prefixes_fail(cmd_step, c, line, strlen(line), &c->err, code, rule, offset);
}

static void commands(void **state)
{
    (void)state;
    cmd_ctx c = cctx(MR_STRICT);
    const pop3_command *cmd = cmd_ok(&c, "USER tony@contoso.com\r\n");
    assert_int_equal(cmd->verb, POP3_USER);
    assert_slice(cmd->name, "tony@contoso.com");
    cmd = cmd_ok(&c, "PASS xxxx-xxxx xxxx  \r\n"); /* RFC 1939 7: spaces belong to it */
    assert_slice(cmd->secret, "xxxx-xxxx xxxx  ");
    cmd = cmd_ok(&c, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"); /* RFC 1939 7 */
    assert_slice(cmd->name, "mrose");
    assert_slice(cmd->secret, "c4c9334bac560ecc979e58001b3e22fb");
    static const struct {
        const char *line;
        pop3_verb verb;
    } plain[] = {{"STAT\r\n", POP3_STAT}, {"LIST\r\n", POP3_LIST}, {"NOOP\r\n", POP3_NOOP},
                 {"RSET\r\n", POP3_RSET}, {"QUIT\r\n", POP3_QUIT}, {"UIDL\r\n", POP3_UIDL},
                 {"CAPA\r\n", POP3_CAPA}, {"STLS\r\n", POP3_STLS}, {"capa\r\n", POP3_CAPA}};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        cmd = cmd_ok(&c, plain[i].line);
        assert_int_equal(cmd->verb, plain[i].verb);
        assert_int_equal(cmd->has_msg, 0);
    }
    cmd = cmd_ok(&c, "LIST 2\r\n");
    assert_int_equal(cmd->has_msg, 1);
    assert_true(cmd->msg == 2);
    cmd = cmd_ok(&c, "UIDL 4294967295\r\n");
    assert_true(cmd->msg == 4294967295u);
    cmd = cmd_ok(&c, "RETR 1\r\n");
    assert_int_equal(cmd->verb, POP3_RETR);
    cmd = cmd_ok(&c, "DELE 17\r\n");
    assert_true(cmd->msg == 17);
    cmd = cmd_ok(&c, "TOP 10 0\r\n");
    assert_true(cmd->msg == 10 && cmd->lines == 0);
    cmd = cmd_ok(&c, "AUTH XOAUTH2\r\n"); /* Exchange: two-step */
    assert_slice(cmd->mechanism, "XOAUTH2");
    assert_int_equal(cmd->has_initial_response, 0);
    cmd = cmd_ok(&c, "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n");
    assert_slice(cmd->initial_response, "dGVzdAB0ZXN0ADEyMzQ=");
    cmd = cmd_ok(&c, "AUTH PLAIN =\r\n");
    assert_int_equal(cmd->has_initial_response, 1);
    assert_int_equal(cmd->initial_response.n, 0);
}

static void command_errors(void **state)
{
    (void)state;
    cmd_ctx c = cctx(MR_STRICT);
    cmd_bad(&c, "RETR\r\n", MR_E_EMPTY, "msg", 4);
    cmd_bad(&c, "RETR x\r\n", MR_E_NUMBER, "msg", 5);
    cmd_bad(&c, "RETR 0\r\n", MR_E_NUMBER, "msg", 5);
    cmd_bad(&c, "RETR 4294967296\r\n", MR_E_LIMIT_LITERAL, "msg", 5);
    cmd_bad(&c, "RETR 99999999999999999999999\r\n", MR_E_LIMIT_LITERAL, "msg", 5);
    cmd_bad(&c, "RETR  1\r\n", MR_E_NUMBER, "msg", 5);
    cmd_bad(&c, "RETR 1 \r\n", MR_E_TRAILING, "RETR", 6);
    cmd_bad(&c, "TOP 1\r\n", MR_E_EMPTY, "top", 5);
    cmd_bad(&c, "TOP 1 x\r\n", MR_E_NUMBER, "n", 6);
    cmd_bad(&c, "STAT x\r\n", MR_E_TRAILING, "STAT", 4);
    cmd_bad(&c, "DELE\r\n", MR_E_EMPTY, "msg", 4);
    cmd_bad(&c, "UIDL x\r\n", MR_E_NUMBER, "msg", 5);
    cmd_bad(&c, "CAPA x\r\n", MR_E_TRAILING, "CAPA", 4);
    cmd_bad(&c, "STLS \r\n", MR_E_TRAILING, "STLS", 4);
    cmd_bad(&c, "NOOP 1\r\n", MR_E_TRAILING, "NOOP", 4);
    cmd_bad(&c, "RSET 1\r\n", MR_E_TRAILING, "RSET", 4);
    cmd_bad(&c, "QUIT now\r\n", MR_E_TRAILING, "QUIT", 4);
    cmd_bad(&c, "APOP mrose\r\n", MR_E_EMPTY, "apop", 10);
    cmd_bad(&c, "AUTH PLAIN a b\r\n", MR_E_BASE64, "initial-response", 12);
    cmd_bad(&c, "AUTH PLAIN YQ== b\r\n", MR_E_TRAILING, "auth", 15);
    cmd_bad(&c, "AUTH ABCDEFGHIJKLMNOPQRSTU\r\n", MR_E_SYNTAX, "sasl-mech", 5);
    cmd_bad(&c, "LIST 1 2\r\n", MR_E_TRAILING, "LIST", 6);
    cmd_bad(&c, "XTND XMIT\r\n", MR_E_UNKNOWN_COMMAND, "command", 0);
    cmd_bad(&c, "\r\n", MR_E_EMPTY, "command", 0);
    cmd_bad(&c, "USER\r\n", MR_E_EMPTY, "user", 4);
    cmd_bad(&c, "USER a b\r\n", MR_E_TRAILING, "user", 6);
    cmd_bad(&c, "USER abcdefghijabcdefghijabcdefghijabcdefghijX\r\n", MR_E_LIMIT_LITERAL, "name", 5);
    cmd_bad(&c, "USER j\xc3\xb6rg\r\n", MR_E_8BIT, "command-line", 6);
    cmd_bad(&c, "PASS\r\n", MR_E_EMPTY, "pass", 4);
    cmd_bad(&c, "APOP mrose c4c9334bac560ecc979e58001b3e22f\r\n", MR_E_SYNTAX, "digest", 11);
    cmd_bad(&c, "APOP mrose C4c9334bac560ecc979e58001b3e22fb\r\n", MR_E_SYNTAX, "digest", 11);
    cmd_bad(&c, "AUTH\r\n", MR_E_EMPTY, "auth", 4);
    cmd_bad(&c, "AUTH xoauth2\r\n", MR_E_SYNTAX, "sasl-mech", 5);
    cmd_bad(&c, "AUTH PLAIN abc\r\n", MR_E_BASE64, "initial-response", 14);
    cmd_bad(&c, "QUIT\n", MR_E_BARE_LF, "CRLF", 4);
    cmd_bad(&c, "NOOP\x01\r\n", MR_E_CTL, "command-line", 4);
    /* RFC 2449 4: 255 octets with CRLF */
    char line[300];
    memcpy(line, "PASS ", 5);
    memset(line + 5, 'p', 248);
    memcpy(line + 253, "\r\n", 3);
    cmd_ok(&c, line);
    memset(line + 5, 'p', 249);
    memcpy(line + 254, "\r\n", 3);
    cmd_bad(&c, line, MR_E_LIMIT_LINE, "command-line", 253);
    c = cctx(MR_LENIENT);
    cmd_bad(&c, "RETR x\n", MR_E_NUMBER, "msg", 5);
    cmd_bad(&c, "XTND XMIT\n", MR_E_UNKNOWN_COMMAND, "command", 0);
}

static void command_lenient(void **state)
{
    (void)state;
    cmd_ctx c = cctx(MR_LENIENT);
    const pop3_command *cmd = cmd_ok(&c, "user  j\xc3\xb6rg \n");
    assert_slice(cmd->name, "j\xc3\xb6rg");
    cmd = cmd_ok(&c, "LIST 0\r\n");
    assert_true(cmd->msg == 0 && cmd->has_msg);
    cmd = cmd_ok(&c, "AUTH\r\n"); /* mechanism listing */
    assert_int_equal(cmd->mechanism.n, 0);
    cmd = cmd_ok(&c, "auth xoauth2 abc\r\n");
    assert_slice(cmd->mechanism, "xoauth2");
    assert_slice(cmd->initial_response, "abc");
    cmd = cmd_ok(&c, "APOP mrose C4C9334BAC560ECC979E58001B3E22FB\n");
    cmd = cmd_ok(&c, "PASS  two leading\r\n");
    assert_slice(cmd->secret, " two leading");
    cmd = cmd_ok(&c, "top\t1\t5\t\n");
    assert_true(cmd->lines == 5);
}

static void command_limits(void **state)
{
    (void)state;
    size_t n = 100u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    pop3_command cmd;
    mr_error err;
    assert_int_equal(pop3_command_parse(big, n, MR_LENIENT, NULL, NULL, &cmd, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(err.offset, 253);
    memcpy(big, "AUTH ", 5);
    assert_int_equal(pop3_command_parse(big, n, MR_LENIENT, NULL, NULL, &cmd, &err), MR_ERROR);
    assert_int_equal(err.offset, 12286);
    pop3_response resp;
    assert_int_equal(pop3_response_parse(big, n, MR_LENIENT, NULL, &resp, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    free(big);
    /* the number limit is the caller's */
    pop3_limits lim = pop3_limits_default();
    lim.max_number = 100;
    assert_int_equal(pop3_command_parse("RETR 101\r\n", 10, MR_STRICT, &lim, NULL, &cmd, &err),
                     MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(pop3_command_parse("RETR 100\r\n", 10, MR_STRICT, &lim, NULL, &cmd, &err), 10);
}

static void auth_exchange(void **state)
{
    (void)state;
    /* Exchange XOAUTH2, two steps: AUTH XOAUTH2 / "+ " / token / +OK (PROVIDERS.md 2.2) */
    const char *client = "AUTH XOAUTH2\r\ndXNlcj10b255QGNvbnRvc28uY29tAWF1dGg9QmVhcmVyIHRva2VuAQE=\r\n";
    pop3_command cmd;
    mr_error err;
    int r = pop3_command_parse(client, strlen(client), MR_STRICT, NULL, NULL, &cmd, &err);
    assert_int_equal(r, 14);
    mr_slice resp;
    int cancel;
    int r2 = pop3_auth_response_parse(client + r, strlen(client) - (size_t)r, MR_STRICT, NULL,
                                      &resp, &cancel, &err);
    assert_int_equal(r2, (int)strlen(client) - r);
    assert_int_equal(cancel, 0);
    assert_slice(resp, "dXNlcj10b255QGNvbnRvc28uY29tAWF1dGg9QmVhcmVyIHRva2VuAQE=");
    assert_int_equal(pop3_auth_response_parse("*\r\n", 3, MR_STRICT, NULL, &resp, &cancel, &err), 3);
    assert_int_equal(cancel, 1);
    assert_int_equal(pop3_auth_response_parse("a b\r\n", 5, MR_LENIENT, NULL, &resp, &cancel, &err),
                     MR_ERROR);
    assert_int_equal(err.code, MR_E_BASE64);
    assert_int_equal(pop3_auth_response_parse("abc\r\n", 5, MR_STRICT, NULL, &resp, &cancel, &err),
                     MR_ERROR);
    assert_int_equal(err.offset, 3);
    char out[64];
    assert_int_equal(pop3_auth_response_write(out, sizeof out, SL("dGVzdA=="), 0, &err), 10);
    assert_memory_equal(out, "dGVzdA==\r\n", 10);
    assert_int_equal(pop3_auth_response_write(out, sizeof out, SL("x\r\n"), 0, &err), MR_ERROR);
    assert_int_equal(pop3_auth_response_write(out, sizeof out, SL(""), 1, &err), 3);
}

static void command_writer(void **state)
{
    (void)state;
    char out[128];
    mr_error err;
    pop3_command cmd = {.verb = POP3_USER, .name = SL("a\r\nDELE 1")};
    assert_int_equal(pop3_command_write(out, sizeof out, &cmd, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_CTL);
    assert_int_equal(err.offset, 1);
    cmd.name = SL("two words");
    assert_int_equal(pop3_command_write(out, sizeof out, &cmd, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_SYNTAX);
    cmd.name = SL("");
    assert_int_equal(pop3_command_write(out, sizeof out, &cmd, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_EMPTY);
    pop3_command top = {.verb = POP3_TOP, .msg = 3, .lines = 10, .has_msg = 1};
    assert_int_equal(pop3_command_write(out, sizeof out, &top, &err), 10);
    assert_memory_equal(out, "TOP 3 10\r\n", 10);
    pop3_command none = {.verb = (pop3_verb)77};
    assert_int_equal(pop3_command_write(out, sizeof out, &none, &err), MR_ERROR);
    assert_string_equal(pop3_verb_name(POP3_STLS), "STLS");
    assert_string_equal(pop3_verb_name((pop3_verb)77), "?");
}

/* ---- responses ---- */

typedef struct resp_ctx {
    mr_mode mode;
    pop3_response resp;
    mr_error err;
} resp_ctx;

static int resp_step(void *vctx, const char *buf, size_t len)
{
    resp_ctx *c = vctx;
    return pop3_response_parse(buf, len, c->mode, NULL, &c->resp, &c->err);
}

static const pop3_response *resp_ok(resp_ctx *c, mr_mode mode, const char *line)
{
    c->mode = mode;
    test_prefixes_want(resp_step, c, line, strlen(line), (int)strlen(line), &c->err);
    char out[16384];
    mr_error err;
    int n = pop3_response_write(out, sizeof out, &c->resp, &err);
    assert_true(n > 0);
    pop3_response again;
    assert_int_equal(pop3_response_parse(out, (size_t)n, mode, NULL, &again, &err), n);
    assert_int_equal(again.status, c->resp.status);
    assert_true(slices_equal(again.code, c->resp.code));
    assert_true(slices_equal(again.text, c->resp.text));
    return &c->resp;
}

static void resp_bad(mr_mode mode, const char *line, mr_errcode code, const char *rule,
                     size_t offset)
{
    resp_ctx c = {.mode = mode};
    test_prefixes_fail(resp_step, &c, line, strlen(line), &c.err, code, rule, offset);
}

static void responses(void **state)
{
    (void)state;
    resp_ctx c;
    const pop3_response *r = resp_ok(&c, MR_STRICT,
        "+OK The Microsoft Exchange POP3 service is ready. "
        "[TABPADQAUAAxADIAMwBDAEEAMAA2ADAAMgAuAEcAQgBSAFAAMQAyADMALgBQAFIATwBEAC4ATwBVAFQATABPAE8ASwAuAEMATwBNAA==]\r\n");
    assert_int_equal(r->status, POP3_OK);
    assert_int_equal(r->code.n, 0); /* a bracket at the end is not a response code */
    r = resp_ok(&c, MR_STRICT, "+OK The Microsoft Exchange POP3 service is ready. []\r\n");
    r = resp_ok(&c, MR_STRICT, "+OK Microsoft Exchange Server 2003 POP3 server version "
                               "6.5.7638.1 (corp.example.com) ready.\r\n");
    r = resp_ok(&c, MR_STRICT, "+OK\r\n");
    assert_int_equal(r->text.n, 0);
    r = resp_ok(&c, MR_STRICT, "-ERR Logon failure: unknown user name or bad password.\r\n");
    assert_int_equal(r->status, POP3_ERR);
    assert_slice(r->text, "Logon failure: unknown user name or bad password.");
    r = resp_ok(&c, MR_STRICT, "-ERR Authentication failure: unknown user name or bad password.\r\n");
    r = resp_ok(&c, MR_STRICT, "+OK User successfully authenticated.\r\n");
    r = resp_ok(&c, MR_STRICT, "-ERR Command is not valid in this state.\r\n");
    /* RFC 2449 8 and RFC 3206 response codes */
    r = resp_ok(&c, MR_STRICT, "-ERR [IN-USE] Unable to lock maildrop\r\n");
    assert_slice(r->code, "IN-USE");
    assert_slice(r->text, "Unable to lock maildrop");
    r = resp_ok(&c, MR_STRICT, "-ERR [LOGIN-DELAY] wait 900 seconds\r\n");
    assert_slice(r->code, "LOGIN-DELAY");
    r = resp_ok(&c, MR_STRICT, "-ERR [SYS/TEMP] Try again later\r\n");
    assert_slice(r->code, "SYS/TEMP");
    r = resp_ok(&c, MR_STRICT, "-ERR [AUTH] Authentication failed.\r\n");
    assert_slice(r->code, "AUTH");
    r = resp_ok(&c, MR_STRICT, "-ERR [SYS/PERM]\r\n");
    assert_slice(r->code, "SYS/PERM");
    assert_int_equal(r->text.n, 0);
    /* SASL continuations (RFC 5034 4); Exchange sends "+ " for XOAUTH2 */
    r = resp_ok(&c, MR_STRICT, "+ \r\n");
    assert_int_equal(r->status, POP3_CONT);
    assert_int_equal(r->text.n, 0);
    r = resp_ok(&c, MR_STRICT, "+ VXNlcm5hbWU6\r\n");
    assert_slice(r->text, "VXNlcm5hbWU6");
    /* RFC 1939 APOP greeting */
    r = resp_ok(&c, MR_STRICT, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
    mr_slice stamp;
    assert_int_equal(pop3_apop_timestamp(r->text, &stamp), 1);
    assert_slice(stamp, "<1896.697170952@dbc.mtview.ca.us>");
    assert_int_equal(pop3_apop_timestamp(SL("no stamp <here>"), &stamp), 0);
    assert_int_equal(pop3_apop_timestamp(SL("broken <a@b"), &stamp), 0);
    /* lenient */
    r = resp_ok(&c, MR_LENIENT, "+ok hi\n");
    assert_int_equal(r->status, POP3_OK);
    r = resp_ok(&c, MR_LENIENT, "+\r\n");
    assert_int_equal(r->status, POP3_CONT);
    r = resp_ok(&c, MR_LENIENT, "-ERR [IN-USE Unable\r\n");
    assert_int_equal(r->code.n, 0);
    r = resp_ok(&c, MR_LENIENT, "+OK caf\xc3\xa9\r\n");
    r = resp_ok(&c, MR_LENIENT, "+ not base64!\r\n");
}

static void response_errors(void **state)
{
    (void)state;
    resp_bad(MR_STRICT, "+ok hi\r\n", MR_E_SYNTAX, "status", 0);
    resp_bad(MR_STRICT, "+OKhello\r\n", MR_E_SYNTAX, "status", 0);
    resp_bad(MR_STRICT, "OK\r\n", MR_E_SYNTAX, "status", 0);
    resp_bad(MR_STRICT, "+\r\n", MR_E_SYNTAX, "status", 0);
    resp_bad(MR_STRICT, "-ERR [IN-USE Unable\r\n", MR_E_SYNTAX, "resp-code", 5);
    resp_bad(MR_STRICT, "-ERR []\r\n", MR_E_SYNTAX, "resp-code", 5);
    resp_bad(MR_STRICT, "-ERR [A//B]\r\n", MR_E_SYNTAX, "resp-code", 5);
    resp_bad(MR_STRICT, "+ abc\r\n", MR_E_BASE64, "base64", 5);
    resp_bad(MR_STRICT, "+OK caf\xc3\xa9\r\n", MR_E_8BIT, "text", 7);
    resp_bad(MR_STRICT, "+OK\n", MR_E_BARE_LF, "CRLF", 3);
    resp_bad(MR_LENIENT, "+OK a\rb\r\n", MR_E_BARE_CR, "text", 5);
    resp_bad(MR_LENIENT, "SMTP\r\n", MR_E_SYNTAX, "status", 0);
    char line[700];
    memcpy(line, "+OK ", 4);
    memset(line + 4, 't', 507);
    memcpy(line + 511, "\r\n", 3);
    resp_bad(MR_STRICT, line, MR_E_LIMIT_LINE, "single-line", 510);
    resp_ctx c;
    resp_ok(&c, MR_LENIENT, line);
    line[510] = '\r';
    line[511] = '\n';
    line[512] = 0;
    resp_ok(&c, MR_STRICT, line);
}

static void response_writer(void **state)
{
    (void)state;
    char out[128];
    mr_error err;
    pop3_response r = {.status = POP3_ERR, .code = SL("IN-USE"), .text = SL("locked")};
    assert_int_equal(pop3_response_write(out, sizeof out, &r, &err), 22);
    assert_memory_equal(out, "-ERR [IN-USE] locked\r\n", 22);
    r.text = SL("x\r\n+OK");
    assert_int_equal(pop3_response_write(out, sizeof out, &r, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_CTL);
    r.text = SL("");
    r.code = SL("A]B");
    assert_int_equal(pop3_response_write(out, sizeof out, &r, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_SYNTAX);
    pop3_response cont = {.status = POP3_CONT};
    assert_int_equal(pop3_response_write(out, sizeof out, &cont, &err), 4);
    assert_memory_equal(out, "+ \r\n", 4);
    pop3_response none = {.status = POP3_STATUS_NONE};
    assert_int_equal(pop3_response_write(out, sizeof out, &none, &err), MR_ERROR);
}

/* ---- multi-line bodies ---- */

static void listings(void **state)
{
    (void)state;
    mr_error err;
    /* LIST (RFC 1939 5) */
    const char *body = "1 120\r\n2 200\r\n.\r\n";
    size_t at = 0;
    uint64_t msg, size;
    static const uint64_t want[][2] = {{1, 120}, {2, 200}};
    for (int k = 0;; k++) {
        mr_slice line;
        int end;
        int r = pop3_listing_line(body + at, strlen(body) - at, MR_STRICT, NULL, &line, &end, &err);
        assert_true(r > 0);
        at += (size_t)r;
        if (end)
            break;
        assert_int_equal(pop3_scan_listing(line, MR_STRICT, NULL, &msg, &size, &err), 0);
        assert_true(msg == want[k][0] && size == want[k][1]);
    }
    assert_int_equal(at, strlen(body));
    /* single-line LIST n, STAT */
    assert_int_equal(pop3_scan_listing(SL("2 200"), MR_STRICT, NULL, &msg, &size, &err), 0);
    assert_int_equal(pop3_scan_listing(SL("2 200 extra"), MR_STRICT, NULL, &msg, &size, &err),
                     MR_ERROR);
    assert_int_equal(err.code, MR_E_TRAILING);
    assert_int_equal(err.offset, 5);
    assert_int_equal(pop3_scan_listing(SL("2 200 extra"), MR_LENIENT, NULL, &msg, &size, &err), 0);
    assert_int_equal(pop3_scan_listing(SL("0 200"), MR_STRICT, NULL, &msg, &size, &err), MR_ERROR);
    assert_int_equal(pop3_scan_listing(SL("2"), MR_STRICT, NULL, &msg, &size, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_EMPTY);
    assert_int_equal(pop3_stat_listing(SL("2 320"), MR_STRICT, NULL, &msg, &size, &err), 0);
    assert_true(msg == 2 && size == 320);
    assert_int_equal(pop3_stat_listing(SL("0 0 maildrop empty"), MR_STRICT, NULL, &msg, &size, &err), 0);
    assert_int_equal(pop3_stat_listing(SL("2 320x"), MR_STRICT, NULL, &msg, &size, &err), MR_ERROR);
    assert_int_equal(pop3_stat_listing(SL("2 99999999999"), MR_STRICT, NULL, &msg, &size, &err),
                     MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    /* UIDL (RFC 1939 7 examples) */
    mr_slice uid;
    assert_int_equal(pop3_uidl_listing(SL("1 whqtswO00WBw418f9t5JxYwZ"), MR_STRICT, NULL, &msg, &uid,
                                       &err), 0);
    assert_slice(uid, "whqtswO00WBw418f9t5JxYwZ");
    assert_int_equal(pop3_uidl_listing(SL("2 QhdPYR:00WBw1Ph7x7"), MR_STRICT, NULL, &msg, &uid, &err), 0);
    assert_true(msg == 2);
    char longuid[80] = "1 ";
    memset(longuid + 2, 'u', 71);
    assert_int_equal(pop3_uidl_listing((mr_slice){longuid, 73}, MR_STRICT, NULL, &msg, &uid, &err),
                     MR_ERROR);
    assert_string_equal(err.rule, "unique-id");
    assert_int_equal(pop3_uidl_listing((mr_slice){longuid, 72}, MR_STRICT, NULL, &msg, &uid, &err), 0);
    assert_int_equal(pop3_uidl_listing(SL("1 a b"), MR_STRICT, NULL, &msg, &uid, &err), MR_ERROR);
    assert_int_equal(pop3_uidl_listing(SL("1 a b"), MR_LENIENT, NULL, &msg, &uid, &err), 0);
    assert_int_equal(pop3_uidl_listing(SL("1 "), MR_STRICT, NULL, &msg, &uid, &err), MR_ERROR);
    /* a dot-stuffed listing line */
    mr_slice line;
    int end;
    assert_int_equal(pop3_listing_line("..x\r\n", 5, MR_STRICT, NULL, &line, &end, &err), 5);
    assert_slice(line, ".x");
    assert_int_equal(pop3_listing_line("1 2", 3, MR_STRICT, NULL, &line, &end, &err), MR_NEED_MORE);
    assert_int_equal(pop3_listing_line("1 \x01\r\n", 5, MR_LENIENT, NULL, &line, &end, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_CTL);
    assert_int_equal(err.offset, 2);
}

static void capa(void **state)
{
    (void)state;
    /* RFC 2449 6 example */
    const char *rfc = "TOP\r\nUSER\r\nSASL CRAM-MD5 KERBEROS_V4\r\nRESP-CODES\r\nLOGIN-DELAY 900\r\n"
                      "PIPELINING\r\nEXPIRE 60\r\nUIDL\r\nIMPLEMENTATION Shlemazle-Plotz-v302\r\n.\r\n";
    static const char *const tags[] = {"TOP", "USER", "SASL", "RESP-CODES", "LOGIN-DELAY",
                                       "PIPELINING", "EXPIRE", "UIDL", "IMPLEMENTATION"};
    pop3_capa_iter it;
    pop3_capa cap;
    mr_error err;
    pop3_capa_iter_init(&it, rfc, strlen(rfc), MR_STRICT, NULL);
    for (size_t k = 0; k < 9; k++) {
        assert_int_equal(pop3_capa_next(&it, &cap, &err), 1);
        assert_slice(cap.tag, tags[k]);
    }
    assert_int_equal(pop3_capa_next(&it, &cap, &err), 0);
    assert_int_equal(it.pos, strlen(rfc));
    assert_true(pop3_capa_has(rfc, strlen(rfc), "sasl", &cap));
    assert_slice(cap.params, "CRAM-MD5 KERBEROS_V4");
    assert_true(pop3_capa_has_param(&cap, "kerberos_v4"));
    assert_false(pop3_capa_has_param(&cap, "PLAIN"));
    assert_false(pop3_capa_has(rfc, strlen(rfc), "STLS", NULL));
    /* Exchange Online and Exchange 2003 (PROVIDERS.md) */
    const char *exo = "TOP\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\nUSER\r\n.\r\n";
    assert_true(pop3_capa_has(exo, strlen(exo), "SASL", &cap));
    assert_true(pop3_capa_has_param(&cap, "XOAUTH2"));
    const char *e2003 = "TOP\r\nUSER\r\nPIPELINING\r\nEXPIRE NEVER\r\nUIDL\r\nSASL NTLM\r\n.\r\n";
    assert_true(pop3_capa_has(e2003, strlen(e2003), "EXPIRE", &cap));
    assert_slice(cap.params, "NEVER");
    /* incomplete and bad bodies */
    pop3_capa_iter_init(&it, exo, 12, MR_STRICT, NULL);
    assert_int_equal(pop3_capa_next(&it, &cap, &err), 1);
    assert_int_equal(pop3_capa_next(&it, &cap, &err), 1);
    assert_int_equal(pop3_capa_next(&it, &cap, &err), MR_NEED_MORE);
    assert_false(pop3_capa_has(exo, 12, "SASL", NULL));
    const char *bad = "TOP\r\nSASL  PLAIN\r\n\r\n.\r\n";
    pop3_capa_iter_init(&it, bad, strlen(bad), MR_STRICT, NULL);
    assert_int_equal(pop3_capa_next(&it, &cap, &err), 1);
    assert_int_equal(pop3_capa_next(&it, &cap, &err), MR_ERROR);
    assert_string_equal(err.rule, "param");
    assert_int_equal(err.offset, 10);
    assert_int_equal(pop3_capa_next(&it, &cap, &err), MR_ERROR); /* the empty line */
    assert_int_equal(err.code, MR_E_EMPTY);
    pop3_capa_iter_init(&it, bad, strlen(bad), MR_LENIENT, NULL);
    assert_int_equal(pop3_capa_next(&it, &cap, &err), 1);
    assert_int_equal(pop3_capa_next(&it, &cap, &err), 1);
    assert_slice(cap.params, "PLAIN");
    assert_int_equal(pop3_capa_next(&it, &cap, &err), 0);
    /* write and read back */
    pop3_capa caps[] = {{SL("TOP"), SL("")}, {SL("SASL"), SL("PLAIN XOAUTH2")}, {SL("UIDL"), SL("")}};
    char out[256];
    int n = pop3_capa_write(out, sizeof out, SL("Capability list follows"), caps, 3, &err);
    const char *want = "+OK Capability list follows\r\nTOP\r\nSASL PLAIN XOAUTH2\r\nUIDL\r\n.\r\n";
    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(out, want, strlen(want));
    pop3_response resp;
    int first = pop3_response_parse(out, (size_t)n, MR_STRICT, NULL, &resp, &err);
    assert_int_equal(first, 29);
    pop3_capa_iter_init(&it, out + first, (size_t)n - (size_t)first, MR_STRICT, NULL);
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(pop3_capa_next(&it, &cap, &err), 1);
        assert_true(slices_equal(cap.tag, caps[k].tag));
        assert_true(slices_equal(cap.params, caps[k].params));
    }
    assert_int_equal(pop3_capa_next(&it, &cap, &err), 0);
    caps[1].tag = SL(".DOT");
    assert_int_equal(pop3_capa_write(out, sizeof out, SL(""), caps, 3, &err), MR_ERROR);
    caps[1].tag = SL("A\nB");
    assert_int_equal(pop3_capa_write(out, sizeof out, SL(""), caps, 3, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_CTL);
}

static void retr_body(void **state)
{
    (void)state;
    /* RETR: status line, then a dot-stuffed body read with the shared dot-stream reader */
    const char *in = "+OK 63 octets\r\nSubject: test\r\n\r\n..leading dot\r\n.\r\n"
                     "+OK next response\r\n";
    pop3_response resp;
    mr_error err;
    int r = pop3_response_parse(in, strlen(in), MR_STRICT, NULL, &resp, &err);
    assert_int_equal(r, 15);
    dot_reader rd;
    dot_reader_init(&rd, MR_STRICT, NULL);
    char content[128];
    size_t cn = 0, at = (size_t)r;
    /* feed one byte at a time */
    size_t avail = at;
    while (!rd.done) {
        if (avail < strlen(in))
            avail++;
        mr_slice out;
        int k = dot_read(&rd, in + at, avail - at, &out, &err);
        if (k == MR_NEED_MORE)
            continue;
        assert_true(k > 0);
        memcpy(content + cn, out.p, out.n);
        cn += out.n;
        at += (size_t)k;
    }
    const char *want = "Subject: test\r\n\r\n.leading dot\r\n";
    assert_int_equal(cn, strlen(want));
    assert_memory_equal(content, want, cn);
    assert_int_equal(pop3_response_parse(in + at, strlen(in) - at, MR_STRICT, NULL, &resp, &err),
                     19);
    assert_slice(resp.text, "next response");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands),       cmocka_unit_test(command_errors),
        cmocka_unit_test(command_lenient), cmocka_unit_test(command_limits),
        cmocka_unit_test(auth_exchange),  cmocka_unit_test(command_writer),
        cmocka_unit_test(responses),      cmocka_unit_test(response_errors),
        cmocka_unit_test(response_writer), cmocka_unit_test(listings),
        cmocka_unit_test(capa),           cmocka_unit_test(retr_body),
    };
    return cmocka_run_group_tests_name("pop3", tests, NULL, NULL);
}
