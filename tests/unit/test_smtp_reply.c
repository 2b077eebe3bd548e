/* test_smtp_reply.c -- SMTP replies, EHLO keyword lists, reply writers (proto/smtp_reply.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_reply.h"
#include "tests/unit/support.h"

enum { MAX_LINES = 32 };

typedef struct reply_ctx {
    mr_mode mode;
    smtp_reply_limits lim;
    int resume; /* keep rep between calls: exercises the MR_NEED_MORE resume path */
    smtp_reply_line lines[MAX_LINES];
    smtp_reply rep;
    mr_error err;
} reply_ctx;

static void ctx_init(reply_ctx *c, mr_mode mode, int resume)
{
    memset(c, 0, sizeof *c);
    c->mode = mode;
    c->resume = resume;
    c->lim = smtp_reply_limits_default();
    smtp_reply_init(&c->rep, c->lines, MAX_LINES);
}

static int reply_step(void *vctx, const char *buf, size_t len)
{
    reply_ctx *c = vctx;
    if (!c->resume)
        smtp_reply_init(&c->rep, c->lines, c->rep.lines_cap);
    return smtp_reply_parse(buf, len, c->mode, &c->lim, &c->rep, &c->err);
}

/* parse(write(rep)) == rep */
static void round_trip(const reply_ctx *c)
{
    static char out[65536];
    mr_error err;
    int n = smtp_reply_write(out, sizeof out, &c->rep, &err);
    assert_true(n > 0);
    assert_int_equal(smtp_reply_write(NULL, 0, &c->rep, &err), n);
    smtp_reply_line lines[MAX_LINES];
    smtp_reply again;
    smtp_reply_init(&again, lines, MAX_LINES);
    int r = smtp_reply_parse(out, (size_t)n, c->mode, &c->lim, &again, &err);
    if (r != n)
        fail_msg("re-parse of \"%.*s\" gave %d (%s at %zu)", n, out, r, mr_errcode_str(err.code),
                 err.offset);
    assert_int_equal(again.code, c->rep.code);
    assert_int_equal(again.nlines, c->rep.nlines);
    assert_int_equal(again.has_status, c->rep.has_status);
    for (size_t k = 0; k < again.nlines; k++) {
        assert_true(slices_equal(again.lines[k].status, c->rep.lines[k].status));
        assert_true(slices_equal(again.lines[k].text, c->rep.lines[k].text));
    }
}

/* Parse `in` with and without resuming; both must consume `want` bytes. */
static smtp_reply *ok_n(reply_ctx *c, mr_mode mode, const char *in, size_t want)
{
    for (int resume = 0; resume < 2; resume++) {
        ctx_init(c, mode, resume);
        test_prefixes_want(reply_step, c, in, strlen(in), (int)want, &c->err);
        round_trip(c);
    }
    return &c->rep;
}

static smtp_reply *ok(reply_ctx *c, mr_mode mode, const char *in)
{
    return ok_n(c, mode, in, strlen(in));
}

static void bad_n(mr_mode mode, const char *in, size_t n, mr_errcode code, const char *rule,
                  size_t offset)
{
    for (int resume = 0; resume < 2; resume++) {
        reply_ctx c;
        ctx_init(&c, mode, resume);
        test_prefixes_fail(reply_step, &c, in, n, &c.err, code, rule, offset);
    }
}

static void bad(mr_mode mode, const char *in, mr_errcode code, const char *rule, size_t offset)
{
    bad_n(mode, in, strlen(in), code, rule, offset);
}

/* ---- provider transcripts (PROVIDERS.md) ---- */

static const char exchange_ehlo_pre_tls[] =
    "250-SC1PR80CA0174.outlook.office365.com Hello [203.0.113.5]\r\n"
    "250-SIZE 157286400\r\n"
    "250-PIPELINING\r\n"
    "250-DSN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-STARTTLS\r\n"
    "250-8BITMIME\r\n"
    "250-BINARYMIME\r\n"
    "250-CHUNKING\r\n"
    "250 SMTPUTF8\r\n";

static const char exchange_ehlo_post_tls[] =
    "250-SC1PR80CA0174.outlook.office365.com Hello [203.0.113.5]\r\n"
    "250-SIZE 157286400\r\n"
    "250-PIPELINING\r\n"
    "250-DSN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-AUTH LOGIN XOAUTH2\r\n"
    "250-8BITMIME\r\n"
    "250-BINARYMIME\r\n"
    "250-CHUNKING\r\n"
    "250 SMTPUTF8\r\n";

static void banners(void **state)
{
    (void)state;
    reply_ctx c;
    static const char *const in[] = {
        "220 SC1PR80CA0174.outlook.office365.com Microsoft ESMTP MAIL Service ready at Mon, "
        "14 Oct 2024 10:00:00 +0000 [08DDD30471EE4ED5]\r\n",
        "220 iCloud iscream SMTP proxy - p00-iscream-smtp-d759469dd-ss5bd 3.5.0 "
        "(2403B23-529c1e05a5df)\r\n",
        "220 smtp.gmail.com ESMTP d9443c01a7336-20b0f7a5b4esm1234567sd.1 - gsmtp\r\n",
        "220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n",
        "220 nk11p03mm-asmtp002.mac.com -- Server ESMTP (Oracle Communications Messaging "
        "Server 7.0.5.30.0 64bit (built Oct 22 2013))\r\n",
    };
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        smtp_reply *rep = ok(&c, MR_STRICT, in[i]);
        assert_int_equal(rep->code, 220);
        assert_int_equal(rep->nlines, 1);
        assert_int_equal(rep->has_status, 0);
    }
    smtp_reply *rep = ok(&c, MR_STRICT, "220 2.0.0 SMTP server ready\r\n"); /* after STARTTLS */
    assert_int_equal(rep->has_status, 1);
    assert_slice(rep->lines[0].status, "2.0.0");
    assert_slice(rep->lines[0].text, "SMTP server ready");
}

static void ehlo_lists(void **state)
{
    (void)state;
    reply_ctx c;
    smtp_reply *rep = ok(&c, MR_STRICT, exchange_ehlo_pre_tls);
    assert_int_equal(rep->code, 250);
    assert_int_equal(rep->nlines, 10);
    mr_slice domain, greeting;
    mr_error err;
    assert_int_equal(smtp_ehlo_greeting(rep, &domain, &greeting, &err), 0);
    assert_slice(domain, "SC1PR80CA0174.outlook.office365.com");
    assert_slice(greeting, "Hello [203.0.113.5]");
    static const char *const want[] = {"SIZE", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES",
                                       "STARTTLS", "8BITMIME", "BINARYMIME", "CHUNKING",
                                       "SMTPUTF8"};
    smtp_ehlo_iter it;
    smtp_ehlo_kw kw;
    smtp_ehlo_iter_init(&it, rep, MR_STRICT);
    for (size_t k = 0; k < 9; k++) {
        assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 1);
        assert_slice(kw.keyword, want[k]);
        assert_slice(kw.params, k == 0 ? "157286400" : "");
    }
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 0);
    assert_true(smtp_ehlo_has(rep, "starttls", NULL));
    assert_false(smtp_ehlo_has(rep, "AUTH", NULL));
    assert_true(smtp_ehlo_has(rep, "size", &kw));
    assert_slice(kw.params, "157286400");

    rep = ok(&c, MR_STRICT, exchange_ehlo_post_tls);
    assert_false(smtp_ehlo_has(rep, "STARTTLS", NULL));
    assert_true(smtp_ehlo_has(rep, "AUTH", &kw));
    assert_slice(kw.params, "LOGIN XOAUTH2");
    assert_true(smtp_ehlo_kw_has_param(&kw, "xoauth2"));
    assert_true(smtp_ehlo_kw_has_param(&kw, "LOGIN"));
    assert_false(smtp_ehlo_kw_has_param(&kw, "PLAIN")); /* Go's PlainAuth fails here */

    /* Exchange on-premises frontend connector */
    rep = ok(&c, MR_STRICT,
             "250-EXCH01.corp.example.com Hello [10.1.2.3]\r\n250-SIZE 37748736\r\n"
             "250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n"
             "250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n250-X-EXPS GSSAPI NTLM\r\n250-8BITMIME\r\n"
             "250-BINARYMIME\r\n250-CHUNKING\r\n250-XEXCH50\r\n250-XRDST\r\n250 XSHADOW\r\n");
    assert_true(smtp_ehlo_has(rep, "X-EXPS", &kw));
    mr_slice rest = kw.params, word;
    assert_true(smtp_ehlo_param_next(&rest, &word));
    assert_slice(word, "GSSAPI");
    assert_true(smtp_ehlo_param_next(&rest, &word));
    assert_slice(word, "NTLM");
    assert_false(smtp_ehlo_param_next(&rest, &word));
    /* Gmail, a single-line EHLO reply, and a bare AUTH (externally secured connector) */
    rep = ok(&c, MR_STRICT,
             "250-smtp.gmail.com at your service, [203.0.113.9]\r\n250-SIZE 35882577\r\n"
             "250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n"
             "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n");
    assert_true(smtp_ehlo_has(rep, "AUTH", &kw));
    assert_true(smtp_ehlo_kw_has_param(&kw, "OAUTHBEARER"));
    rep = ok(&c, MR_STRICT, "250 mx.example.org\r\n");
    smtp_ehlo_iter_init(&it, rep, MR_STRICT);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 0);
    rep = ok(&c, MR_STRICT, "250-host.example\r\n250 AUTH\r\n");
    assert_true(smtp_ehlo_has(rep, "AUTH", &kw));
    assert_int_equal(kw.params.n, 0);
}

static void ehlo_old_form_and_errors(void **state)
{
    (void)state;
    reply_ctx c;
    const char *in = "250-mail.example.com\r\n250-AUTH LOGIN PLAIN\r\n250-AUTH=LOGIN PLAIN\r\n"
                     "250-size  1000 \r\n250 8BITMIME\r\n";
    smtp_reply *rep = ok(&c, MR_STRICT, in);
    smtp_ehlo_iter it;
    smtp_ehlo_kw kw;
    mr_error err;
    smtp_ehlo_iter_init(&it, rep, MR_STRICT);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 1);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), MR_ERROR);
    assert_err(&err, MR_E_SYNTAX, "ehlo-keyword", 4);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), MR_ERROR); /* "size  1000 " */
    assert_string_equal(err.rule, "ehlo-param");
    assert_int_equal(err.offset, 5);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 1);
    assert_slice(kw.keyword, "8BITMIME");
    /* lenient: the old form, blanks */
    smtp_ehlo_iter_init(&it, rep, MR_LENIENT);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 1);
    assert_int_equal(kw.old_form, 0);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 1);
    assert_slice(kw.keyword, "AUTH");
    assert_slice(kw.params, "LOGIN PLAIN");
    assert_int_equal(kw.old_form, 1);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 1);
    assert_slice(kw.keyword, "size");
    assert_slice(kw.params, "1000");
    /* not an EHLO reply */
    rep = ok(&c, MR_STRICT, "502 5.5.1 Unrecognized command\r\n");
    smtp_ehlo_iter_init(&it, rep, MR_LENIENT);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_STATE);
    mr_slice d, g;
    assert_int_equal(smtp_ehlo_greeting(rep, &d, &g, &err), MR_ERROR);
    assert_false(smtp_ehlo_has(rep, "SIZE", NULL));
    /* strict: an empty keyword line, an 8-bit parameter */
    rep = ok(&c, MR_STRICT, "250-x\r\n250-\r\n250 OK\r\n");
    smtp_ehlo_iter_init(&it, rep, MR_STRICT);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_EMPTY);
    smtp_ehlo_iter_init(&it, rep, MR_LENIENT); /* lenient skips it */
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 1);
    assert_slice(kw.keyword, "OK");
    rep = ok(&c, MR_LENIENT, "250-x\r\n250 X-K caf\xc3\xa9\r\n");
    smtp_ehlo_iter_init(&it, rep, MR_STRICT);
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_8BIT);
    assert_int_equal(err.offset, 7);
}

static void error_replies(void **state)
{
    (void)state;
    reply_ctx c;
    smtp_reply *rep = ok(&c, MR_STRICT,
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
        "Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. "
        "[SN4PR0501CA0054.namprd05.prod.outlook.com 2024-10-14T10:00:00.000Z 08DCEC5A1B2C3D4E]\r\n");
    assert_int_equal(rep->code, 535);
    assert_int_equal(rep->has_status, 1);
    assert_int_equal(rep->status_class, 5);
    assert_int_equal(rep->status_subject, 7);
    assert_int_equal(rep->status_detail, 139);
    assert_slice(rep->lines[0].status, "5.7.139");
    rep = ok(&c, MR_STRICT, "535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]\r\n");
    assert_int_equal(rep->status_detail, 3);
    rep = ok(&c, MR_STRICT, "530 5.7.57 Client not authenticated to send mail. [BE1P281CA0123.DEUP281.PROD.OUTLOOK.COM 2024-10-14T10:00:00.000Z 08DCEC5A1B2C3D4E]\r\n");
    assert_int_equal(rep->status_detail, 57);
    rep = ok(&c, MR_STRICT, "504 5.7.4 Unrecognized authentication type [DM6PR02CA0123.namprd02.prod.outlook.com 2024-10-14T10:00:00.000Z 08DCEC5A1B2C3D4E]\r\n");
    assert_int_equal(rep->code, 504);
    rep = ok(&c, MR_STRICT, "503 5.5.2 Send hello first [DM6PR02CA0123.NAMPRD02.PROD.OUTLOOK.COM]\r\n");
    assert_int_equal(rep->status_subject, 5);
    rep = ok(&c, MR_STRICT, "501 5.5.124 Invalid XOAUTH2 auth data\r\n");
    assert_int_equal(rep->status_detail, 124);
    rep = ok(&c, MR_STRICT, "503 5.5.1 Error: send HELO/EHLO first\r\n");
    /* Gmail multi-line with a status on every line */
    rep = ok(&c, MR_STRICT, "530-5.7.0 Authentication Required. Learn more at\r\n"
                            "530 5.7.0  https://support.google.com/mail/?p=WantAuthError\r\n");
    assert_int_equal(rep->nlines, 2);
    assert_slice(rep->lines[1].status, "5.7.0");
    assert_slice(rep->lines[1].text, " https://support.google.com/mail/?p=WantAuthError");
    /* AUTH LOGIN prompts, and the empty XOAUTH2 challenge (RFC 4954 4 allows "334 ") */
    rep = ok(&c, MR_STRICT, "334 VXNlcm5hbWU6\r\n");
    assert_slice(rep->lines[0].text, "VXNlcm5hbWU6");
    rep = ok(&c, MR_STRICT, "334 \r\n");
    assert_int_equal(rep->lines[0].text.n, 0);
    rep = ok(&c, MR_STRICT, "235 2.7.0 Authentication successful\r\n");
    rep = ok(&c, MR_STRICT, "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    rep = ok(&c, MR_STRICT, "221 2.0.0 Service closing transmission channel\r\n");
    rep = ok(&c, MR_STRICT, "250\r\n"); /* Reply-code CRLF */
    assert_int_equal(rep->lines[0].text.n, 0);
    rep = ok(&c, MR_STRICT, "250-\r\n250 ok\r\n"); /* an empty continuation line */
    assert_int_equal(rep->nlines, 2);
    rep = ok(&c, MR_STRICT, "250 2.0.0\r\n");
    assert_slice(rep->lines[0].status, "2.0.0");
    assert_int_equal(rep->lines[0].text.n, 0);
    /* things that only look like a status */
    static const char *const not_status[] = {"250 2.0 ok\r\n", "250 2.0.0ok\r\n",
                                             "250 2.1000.0 x\r\n", "250 3.0.0 x\r\n",
                                             "250 2..0 x\r\n", "250 2.0. x\r\n"};
    for (size_t i = 0; i < sizeof not_status / sizeof *not_status; i++) {
        rep = ok(&c, MR_STRICT, not_status[i]);
        assert_int_equal(rep->has_status, 0);
        assert_int_equal(rep->lines[0].status.n, 0);
    }
}

static void long_sendas_line(void **state)
{
    (void)state;
    /* Exchange's 554 5.2.252 SendAsDenied line is longer than RFC 5321's 512 octets. */
    static char in[13000];
    int n = snprintf(in, sizeof in,
        "554 5.2.252 SendAsDenied; tony@contoso.com not allowed to send as ceo@contoso.com; "
        "STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed "
        "to process message due to a permanent exception with message [BeginDiagnosticData]"
        "Cannot submit message. 0.35250:0A00C784, 1.36674:0A000000, 1.61250:00000000, "
        "1.45378:02000000, 1.44866:1A000000, 1.36674:0E000000, 1.61250:00000000, "
        "1.45378:1F000000, 1.44866:00000000, 16.55847:F8030000, 17.43559:0000000038020000000000"
        "00000000000000000, 20.52176:140FB98A12001010F8030000, 20.50032:140FB98A82171010A0000000"
        "[EndDiagnosticData] [Hostname=DM6PR02MB1234.namprd02.prod.outlook.com]\r\n");
    assert_true(n > 600 && n < 2048);
    bad(MR_STRICT, in, MR_E_LIMIT_LINE, "Reply-line", 510);
    reply_ctx c;
    smtp_reply *rep = ok(&c, MR_LENIENT, in);
    assert_int_equal(rep->status_subject, 2);
    assert_int_equal(rep->status_detail, 252);
    /* 334 may be long even in strict mode (RFC 4954 4) */
    memcpy(in, "334 ", 4);
    memset(in + 4, 'A', 12000);
    memcpy(in + 12004, "\r\n", 3);
    ok(&c, MR_STRICT, in);
    /* but not longer than max_line */
    memset(in + 4, 'A', 12283);
    memcpy(in + 12287, "\r\n", 3);
    bad(MR_STRICT, in, MR_E_LIMIT_LINE, "Reply-line", 12286);
}

static void grammar_errors(void **state)
{
    (void)state;
    bad(MR_STRICT, "250 \r\n", MR_E_EMPTY, "textstring", 4);
    bad(MR_STRICT, "250-a\r\n251 b\r\n", MR_E_SYNTAX, "Reply-code", 7);
    bad(MR_STRICT, "600 x\r\n", MR_E_SYNTAX, "Reply-code", 0);
    bad(MR_STRICT, "199 x\r\n", MR_E_SYNTAX, "Reply-code", 0);
    bad(MR_STRICT, "260 x\r\n", MR_E_SYNTAX, "Reply-code", 1);
    bad(MR_STRICT, "25\r\n", MR_E_SYNTAX, "Reply-code", 2);
    bad(MR_STRICT, "\r\n", MR_E_SYNTAX, "Reply-code", 0);
    bad(MR_STRICT, "2500 x\r\n", MR_E_SYNTAX, "Reply-line", 3);
    bad(MR_STRICT, "250_x\r\n", MR_E_SYNTAX, "Reply-line", 3);
    bad(MR_STRICT, "HTTP/1.1 400 Bad Request\r\n", MR_E_SYNTAX, "Reply-code", 0);
    bad(MR_STRICT, "250 5.0.0 mismatch\r\n", MR_E_SYNTAX, "status-code", 4);
    bad(MR_STRICT, "250 ok\n", MR_E_BARE_LF, "CRLF", 6);
    bad(MR_STRICT, "250-a\n250 ok\r\n", MR_E_BARE_LF, "CRLF", 5);
    bad(MR_STRICT, "250 caf\xc3\xa9\r\n", MR_E_8BIT, "textstring", 7);
    bad_n(MR_STRICT, "250 a\0b\r\n", 9, MR_E_NUL, "textstring", 5);
    bad_n(MR_LENIENT, "250 a\0b\r\n", 9, MR_E_NUL, "textstring", 5);
    bad(MR_LENIENT, "250 a\rb\r\n", MR_E_BARE_CR, "textstring", 5);
    bad(MR_LENIENT, "250 a\x1b[31m\r\n", MR_E_CTL, "textstring", 5);
    bad(MR_LENIENT, "25x ok\r\n", MR_E_SYNTAX, "Reply-code", 2);
    bad(MR_LENIENT, "600 ok\r\n", MR_E_SYNTAX, "Reply-code", 0);
}

static void lenient_replies(void **state)
{
    (void)state;
    reply_ctx c;
    smtp_reply *rep = ok(&c, MR_LENIENT, "250 \r\n");
    assert_int_equal(rep->lines[0].text.n, 0);
    rep = ok(&c, MR_LENIENT, "250-a\n251 b\n"); /* the last line's code, as clients do */
    assert_int_equal(rep->code, 251);
    rep = ok(&c, MR_LENIENT, "199 x\r\n");
    assert_int_equal(rep->code, 199);
    rep = ok(&c, MR_LENIENT, "250 5.0.0 mismatch\r\n");
    assert_int_equal(rep->status_class, 5);
    rep = ok(&c, MR_LENIENT, "250 caf\xc3\xa9 \xff\r\n");
    assert_slice(rep->lines[0].text, "caf\xc3\xa9 \xff");
    bad(MR_LENIENT, "250\ttab\r\n", MR_E_SYNTAX, "Reply-line", 3); /* HT is no separator */
    rep = ok(&c, MR_STRICT, "250 a\tb\r\n"); /* but it is text (textstring) */
    assert_slice(rep->lines[0].text, "a\tb");
}

static void framing(void **state)
{
    (void)state;
    /* Pipelined replies (RFC 2920): one read, several replies; each call takes one. */
    const char *in = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250-2.1.5 Ok\r\n250 2.1.5 Also\r\n"
                     "354 End data with <CR><LF>.<CR><LF>\r\n";
    static const size_t want_lines[] = {1, 1, 2, 1};
    static const unsigned want_code[] = {250, 250, 250, 354};
    smtp_reply_line lines[4];
    smtp_reply rep;
    smtp_reply_init(&rep, lines, 4);
    size_t at = 0, n = strlen(in);
    for (size_t k = 0; k < 4; k++) {
        mr_error err;
        int r = smtp_reply_parse(in + at, n - at, MR_STRICT, NULL, &rep, &err);
        assert_true(r > 0);
        assert_int_equal(rep.nlines, want_lines[k]);
        assert_int_equal(rep.code, want_code[k]);
        at += (size_t)r;
    }
    assert_int_equal(at, n);
    /* A reply followed by STARTTLS-injected bytes: only the reply is consumed. */
    reply_ctx c;
    ok_n(&c, MR_STRICT, "220 2.0.0 Ready to start TLS\r\n250-injected\r\n", 30);
    /* The resume state: a partial reply frames only the new bytes. */
    smtp_reply_init(&rep, lines, 4);
    mr_error err;
    const char *part = "250-a\r\n250-b\r\n250 c";
    assert_int_equal(smtp_reply_parse(part, strlen(part), MR_STRICT, NULL, &rep, &err),
                     MR_NEED_MORE);
    assert_int_equal(rep.scan_pos, 14);
    assert_int_equal(rep.scan_lines, 2);
    const char *whole = "250-a\r\n250-b\r\n250 c\r\n";
    assert_int_equal(smtp_reply_parse(whole, strlen(whole), MR_STRICT, NULL, &rep, &err), 21);
    assert_int_equal(rep.nlines, 3);
    assert_int_equal(rep.scan_pos, 0);
    /* A caller that passes fewer bytes than before starts over instead of over-reading. */
    assert_int_equal(smtp_reply_parse(part, strlen(part), MR_STRICT, NULL, &rep, &err),
                     MR_NEED_MORE);
    assert_int_equal(smtp_reply_parse("250 x\r\n", 7, MR_STRICT, NULL, &rep, &err), 7);
    /* ... or that shrank the line array: framing restarts, nothing is written past it */
    assert_int_equal(smtp_reply_parse(part, strlen(part), MR_STRICT, NULL, &rep, &err),
                     MR_NEED_MORE);
    rep.lines_cap = 1;
    assert_int_equal(smtp_reply_parse(whole, strlen(whole), MR_STRICT, NULL, &rep, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_COUNT);
    assert_int_equal(err.offset, 7);
}

static void limits(void **state)
{
    (void)state;
    smtp_reply_line lines[3];
    smtp_reply rep;
    smtp_reply_init(&rep, lines, 3);
    mr_error err;
    /* the fourth line is refused as soon as it starts, complete reply or not */
    const char *in = "250-a\r\n250-b\r\n250-c\r\n250-d";
    assert_int_equal(smtp_reply_parse(in, strlen(in), MR_STRICT, NULL, &rep, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_COUNT);
    assert_int_equal(err.offset, 21);
    smtp_reply_init(&rep, lines, 0);
    assert_int_equal(smtp_reply_parse("250 x\r\n", 7, MR_STRICT, NULL, &rep, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_COUNT);
    /* 100 MB without a line end */
    size_t n = 100u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'x', n);
    memcpy(big, "250-", 4);
    smtp_reply_init(&rep, lines, 3);
    assert_int_equal(smtp_reply_parse(big, n, MR_LENIENT, NULL, &rep, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(err.offset, 12286);
    /* 100 MB of continuation lines */
    for (size_t i = 0; i + 7 <= n; i += 7)
        memcpy(big + i, "250-ok\n", 7);
    smtp_reply_line many[1000];
    smtp_reply_init(&rep, many, 1000);
    assert_int_equal(smtp_reply_parse(big, n, MR_LENIENT, NULL, &rep, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_COUNT);
    assert_int_equal(err.offset, 7000);
    free(big);
    smtp_reply_limits lim = {.max_line = 5};
    smtp_reply_init(&rep, lines, 3);
    assert_int_equal(smtp_reply_parse("250 hello\r\n", 11, MR_LENIENT, &lim, &rep, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(err.offset, 5);
}

/* ---- writers ---- */

static void write_reply(void **state)
{
    (void)state;
    smtp_reply_line l[2] = {
        {SL("5.7.0"), SL("Authentication Required. Learn more at"), 0},
        {SL("5.7.0"), SL("https://support.google.com/mail/?p=WantAuthError"), 0},
    };
    smtp_reply rep;
    smtp_reply_init(&rep, l, 2);
    rep.code = 530;
    rep.nlines = 2;
    char out[256];
    mr_error err;
    const char *want = "530-5.7.0 Authentication Required. Learn more at\r\n"
                       "530 5.7.0 https://support.google.com/mail/?p=WantAuthError\r\n";
    assert_int_equal(smtp_reply_write(out, sizeof out, &rep, &err), (int)strlen(want));
    assert_memory_equal(out, want, strlen(want));
    memset(out, '#', sizeof out);
    assert_int_equal(smtp_reply_write(out, 20, &rep, &err), (int)strlen(want));
    assert_int_equal(out[20], '#');
    /* no reply injection through the API */
    l[1].text = (mr_slice){"ok\r\n250 injected", 16};
    assert_int_equal(smtp_reply_write(out, sizeof out, &rep, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_BARE_CR);
    assert_int_equal(err.offset, 2);
    rep.code = 99;
    assert_int_equal(smtp_reply_write(out, sizeof out, &rep, &err), MR_ERROR);
    rep.code = 250;
    rep.nlines = 0;
    assert_int_equal(smtp_reply_write(out, sizeof out, &rep, &err), MR_ERROR);
}

/* Parse a formatted reply back: its code and status on every line, every line within width,
 * and the texts joined with single spaces give back the original text (it has no double
 * spaces and no word longer than a line). */
static void check_formatted(const char *out, size_t n, unsigned code, const char *status,
                            size_t width, size_t want_lines, const char *text)
{
    smtp_reply_line lines[64];
    smtp_reply rep;
    smtp_reply_init(&rep, lines, 64);
    mr_error err;
    assert_int_equal(smtp_reply_parse(out, n, MR_STRICT, NULL, &rep, &err), (int)n);
    assert_int_equal(rep.code, code);
    assert_int_equal(rep.nlines, want_lines);
    char joined[1024];
    size_t j = 0;
    for (size_t k = 0; k < rep.nlines; k++) {
        assert_slice(lines[k].status, status);
        if (k)
            joined[j++] = ' ';
        memcpy(joined + j, lines[k].text.p, lines[k].text.n);
        j += lines[k].text.n;
    }
    assert_int_equal(j, strlen(text));
    assert_memory_equal(joined, text, j);
    for (const char *p = out, *end = out + n; p < end;) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        assert_true((size_t)(lf - p) - 1 <= width);
        p = lf + 1;
    }
}

static void format_reply(void **state)
{
    (void)state;
    const char *text = "Authentication unsuccessful, SmtpClientAuthentication is disabled for "
                       "the Tenant. Visit https://aka.ms/smtp_auth_disabled for more "
                       "information.";
    char out[1024];
    mr_error err;
    int n = smtp_reply_format(out, sizeof out, 535, "5.7.139", (mr_slice){text, strlen(text)},
                              60, &err);
    assert_true(n > 0);
    check_formatted(out, (size_t)n, 535, "5.7.139", 60, 4, text);
    const char *first = "535-5.7.139 Authentication unsuccessful,\r\n";
    assert_memory_equal(out, first, strlen(first));
    /* default width: one line */
    n = smtp_reply_format(out, sizeof out, 535, "5.7.139", (mr_slice){text, strlen(text)}, 0, &err);
    check_formatted(out, (size_t)n, 535, "5.7.139", 510, 1, text);
    /* explicit lines, no status, an empty line */
    const char *multi = "mx.example.org\nSIZE 1000\n\nHELP";
    n = smtp_reply_format(out, sizeof out, 250, NULL, (mr_slice){multi, strlen(multi)}, 0, &err);
    const char *want = "250-mx.example.org\r\n250-SIZE 1000\r\n250-\r\n250 HELP\r\n";
    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(out, want, strlen(want));
    /* a word longer than a line is cut */
    const char *word = "0123456789012345678901234567890123456789";
    n = smtp_reply_format(out, sizeof out, 550, "", (mr_slice){word, 40}, 14, &err);
    want = "550-0123456789\r\n550-0123456789\r\n550-0123456789\r\n550 0123456789\r\n";
    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(out, want, strlen(want));
    /* empty text */
    n = smtp_reply_format(out, sizeof out, 250, "2.0.0", (mr_slice){"", 0}, 0, &err);
    assert_int_equal(n, 11);
    assert_memory_equal(out, "250 2.0.0\r\n", 11);
    n = smtp_reply_format(out, sizeof out, 250, NULL, (mr_slice){"", 0}, 0, &err);
    assert_memory_equal(out, "250\r\n", 5);
    /* errors */
    assert_int_equal(smtp_reply_format(out, sizeof out, 250, "2.0.0", (mr_slice){"a\rb", 3}, 0,
                                       &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_BARE_CR);
    assert_int_equal(err.offset, 1);
    assert_int_equal(smtp_reply_format(out, sizeof out, 250, "2.0.0", (mr_slice){"ab", 2}, 10,
                                       &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LINE);
    assert_int_equal(smtp_reply_format(out, sizeof out, 250, "2.0\n0", (mr_slice){"ab", 2}, 0,
                                       &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_CTL);
    assert_int_equal(smtp_reply_format(out, sizeof out, 600, NULL, (mr_slice){"ab", 2}, 0, &err),
                     MR_ERROR);
}

static void write_ehlo(void **state)
{
    (void)state;
    smtp_ehlo_kw kws[] = {
        {{"SIZE", 4}, {"157286400", 9}, 0},
        {{"PIPELINING", 10}, {"", 0}, 0},
        {{"AUTH", 4}, {"LOGIN XOAUTH2", 13}, 0},
        {{"AUTH", 4}, {"LOGIN", 5}, 1},
    };
    mr_slice domain = {"mock.example", 12}, greeting = {"Hello [127.0.0.1]", 17};
    char out[512];
    mr_error err;
    int n = smtp_ehlo_write(out, sizeof out, domain, greeting, kws, 4, &err);
    const char *want = "250-mock.example Hello [127.0.0.1]\r\n250-SIZE 157286400\r\n"
                       "250-PIPELINING\r\n250-AUTH LOGIN XOAUTH2\r\n250 AUTH=LOGIN\r\n";
    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(out, want, strlen(want));
    /* parse it back */
    smtp_reply_line lines[8];
    smtp_reply rep;
    smtp_reply_init(&rep, lines, 8);
    assert_int_equal(smtp_reply_parse(out, (size_t)n, MR_STRICT, NULL, &rep, &err), n);
    mr_slice d, g;
    assert_int_equal(smtp_ehlo_greeting(&rep, &d, &g, &err), 0);
    assert_slice(d, "mock.example");
    assert_slice(g, "Hello [127.0.0.1]");
    smtp_ehlo_iter it;
    smtp_ehlo_kw kw;
    smtp_ehlo_iter_init(&it, &rep, MR_LENIENT);
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 1);
        assert_true(slices_equal(kw.keyword, kws[k].keyword));
        assert_true(slices_equal(kw.params, kws[k].params));
        assert_int_equal(kw.old_form, kws[k].old_form);
    }
    assert_int_equal(smtp_ehlo_next(&it, &kw, &err), 0);
    /* no keywords: a single line */
    n = smtp_ehlo_write(out, sizeof out, domain, (mr_slice){"", 0}, NULL, 0, &err);
    assert_int_equal(n, 18);
    assert_memory_equal(out, "250 mock.example\r\n", 18);
    /* bad inputs */
    kws[1].keyword = (mr_slice){"A B", 3};
    assert_int_equal(smtp_ehlo_write(out, sizeof out, domain, greeting, kws, 4, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_SYNTAX);
    kws[1].keyword = (mr_slice){"", 0};
    assert_int_equal(smtp_ehlo_write(out, sizeof out, domain, greeting, kws, 4, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_EMPTY);
    kws[1].keyword = (mr_slice){"X", 1};
    kws[1].params = (mr_slice){"a\r\n250 STARTTLS", 15};
    assert_int_equal(smtp_ehlo_write(out, sizeof out, domain, greeting, kws, 4, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_BARE_CR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(banners),          cmocka_unit_test(ehlo_lists),
        cmocka_unit_test(ehlo_old_form_and_errors),
        cmocka_unit_test(error_replies),    cmocka_unit_test(long_sendas_line),
        cmocka_unit_test(grammar_errors),   cmocka_unit_test(lenient_replies),
        cmocka_unit_test(framing),          cmocka_unit_test(limits),
        cmocka_unit_test(write_reply),      cmocka_unit_test(format_reply),
        cmocka_unit_test(write_ehlo),
    };
    return cmocka_run_group_tests_name("smtp_reply", tests, NULL, NULL);
}
