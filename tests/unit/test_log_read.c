/* test_log_read.c -- the log readers (harness/log_*.c): each format into the same conversation,
 * redaction of every credential form, detection, and the reply-template matcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/diag_log.h"
#include "harness/log_read.h"

static const char *const SECRETS[] = {"Apple-ID-passw0rd", "abcd-efgh-ijkl-mnop", "QXBwbGUtSUQtcGFzc3cwcmQ",
                                      "YWJjZC1lZmdoLWlqa2wtbW5vcA", "s3cr3t", "tok-123", NULL};

/* Read text as format f; every record must be free of the secrets above. */
static void read_as(log_format f, const char *text, log_conv *c)
{
    log_conv_init(c);
    char err[128];
    assert_int_equal(log_read(text, strlen(text), f, c, err, sizeof err), 0);
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < c->conn[i].n; j++)
            for (size_t s = 0; SECRETS[s]; s++)
                if (strstr(c->conn[i].rec[j].text, SECRETS[s]))
                    fail_msg("secret %s in record \"%s\"", SECRETS[s], c->conn[i].rec[j].text);
}

/* The n-th data record of connection k in direction dir. */
static const log_rec *data_rec(const log_conn *k, log_dir dir, size_t nth)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->rec[i].kind == LOG_DATA && k->rec[i].dir == dir && nth-- == 0)
            return &k->rec[i];
    fail_msg("no data record %zu", nth);
    return NULL;
}

static const log_rec *kind_rec(const log_conn *k, log_kind kind)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->rec[i].kind == kind)
            return &k->rec[i];
    return NULL;
}

static void curl_imap(void **state)
{
    (void)state;
    log_conv c;
    read_as(LOG_FMT_UNKNOWN,
            "  % Total    % Received\n"
            "  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0*   Trying 127.0.0.1:10993...\n"
            "* Connected to imap.mail.me.com (127.0.0.1) port 10993 (#0)\n"
            "* TLSv1.3 (OUT), TLS handshake, Client hello (1):\n"
            "} [512 bytes data]\n"
            "* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384\n"
            "< * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n"
            "> A001 CAPABILITY\n"
            "< A001 OK Completed\n"
            "> A002 AUTHENTICATE PLAIN AGVtaWx5cGFya2VyQGljbG91ZC5jb20AQXBwbGUtSUQtcGFzc3cwcmQ=\n"
            "< A002 NO [AUTHENTICATIONFAILED] Authentication failed\n"
            "curl: (67) Login denied\n",
            &c);
    assert_int_equal(c.format, LOG_FMT_CURL);
    assert_int_equal(c.n, 1);
    const log_conn *k = &c.conn[0];
    assert_string_equal(k->host, "imap.mail.me.com"); /* the name from "Connected to" */
    assert_int_equal(k->port, 10993);
    assert_true(k->implicit);
    assert_int_equal(data_rec(k, LOG_DIR_S, 0)->tls, LOG_TLS_IMPLICIT);
    assert_string_equal(data_rec(k, LOG_DIR_C, 0)->text, "A001 CAPABILITY");
    /* the identity stays, the password is gone: base64 of "\0emilyparker@icloud.com\0<redacted>" */
    assert_string_equal(data_rec(k, LOG_DIR_C, 1)->text,
                        "A002 AUTHENTICATE PLAIN AGVtaWx5cGFya2VyQGljbG91ZC5jb20APHJlZGFjdGVkPg==");
    const log_rec *e = kind_rec(k, LOG_ERROR);
    assert_non_null(e);
    assert_int_equal(e->err, LOG_ERR_AUTH);
    assert_int_equal(c.redacted, 1);
    log_conv_free(&c);
}

static void curl_refused_and_tls_failure(void **state)
{
    (void)state;
    log_conv c;
    read_as(LOG_FMT_CURL,
            "*   Trying 127.0.0.1:10995...\n"
            "* connect to 127.0.0.1 port 10995 failed: Connection refused\n"
            "curl: (7) Failed to connect to 127.0.0.1 port 10995 after 0 ms: Couldn't connect to server\n"
            "*   Trying 127.0.0.1:10587...\n"
            "* Connected to 127.0.0.1 (127.0.0.1) port 10587 (#0)\n"
            "* TLSv1.3 (OUT), TLS handshake, Client hello (1):\n"
            "* OpenSSL/3.0.19: error:0A00010B:SSL routines::wrong version number\n",
            &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(kind_rec(&c.conn[0], LOG_ERROR)->err, LOG_ERR_REFUSED);
    assert_int_equal(c.conn[1].port, 10587);
    assert_non_null(kind_rec(&c.conn[1], LOG_TLS_FAIL));
    assert_true(c.conn[1].implicit);
    log_conv_free(&c);
}

static void msmtp_debug(void **state)
{
    (void)state;
    log_conv c;
    read_as(LOG_FMT_UNKNOWN,
            "msmtp: the server does not support authentication\n"
            "host = smtp.mail.me.com\n"
            "port = 25\n"
            "password = *\n"
            "passwordeval = echo abcd-efgh-ijkl-mnop\n"
            "tls = on\n"
            "tls_starttls = on\n"
            "<-- 220 iCloud iscream SMTP proxy\n"
            "--> EHLO localhost\n"
            "<-- 250-STARTTLS\n"
            "<-- 250 8BITMIME\n"
            "--> STARTTLS\n"
            "<-- 220 2.0.0 Ready to start TLS\n"
            "TLS session parameters:\n"
            "--> EHLO localhost\n"
            "<-- 250 8BITMIME\n"
            "--> AUTH PLAIN AGVtaWx5cGFya2VyQGljbG91ZC5jb20AYWJjZC1lZmdoLWlqa2wtbW5vcA==\n",
            &c);
    assert_int_equal(c.format, LOG_FMT_MSMTP);
    const log_conn *k = &c.conn[0];
    assert_string_equal(k->host, "smtp.mail.me.com");
    assert_int_equal(k->port, 25);
    assert_false(k->implicit);
    assert_int_equal(data_rec(k, LOG_DIR_C, 2)->tls, LOG_TLS_AFTER_STARTTLS);
    assert_int_equal(kind_rec(k, LOG_ERROR)->err, LOG_ERR_NO_AUTH);
    log_conv_free(&c);
}

static void openssl_starttls(void **state)
{
    (void)state;
    log_conv c;
    read_as(LOG_FMT_UNKNOWN,
            "$ openssl s_client -connect smtp.office365.com:587 -starttls smtp -crlf\n"
            "depth=0 CN = smtp.office365.com\n"
            "verify error:num=20:unable to get local issuer certificate\n"
            "verify return:1\n"
            "CONNECTED(00000003)\n"
            "---\n"
            "SSL handshake has read 1253 bytes and written 435 bytes\n"
            "Verification: OK\n"
            "---\n"
            "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\n"
            "Verify return code: 0 (ok)\n"
            "---\n"
            "250 SMTPUTF8\n"
            "EHLO me\n"
            "250-smtp Hello\n"
            "250 AUTH LOGIN XOAUTH2\n"
            "AUTH LOGIN\n"
            "334 VXNlcm5hbWU6\n"
            "YmVuQGNvbnRvc28uY29t\n"
            "334 UGFzc3dvcmQ6\n"
            "czNjcjN0\n"
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.\n"
            "---\n"
            "Post-Handshake New Session Ticket arrived:\n"
            "SSL-Session:\n"
            "    Protocol  : TLSv1.3\n"
            "---\n"
            "DONE\n",
            &c);
    assert_int_equal(c.format, LOG_FMT_OPENSSL);
    const log_conn *k = &c.conn[0];
    assert_string_equal(k->host, "smtp.office365.com");
    assert_int_equal(k->port, 587);
    assert_int_equal(k->proto, DIAG_PROTO_SMTP);
    assert_false(k->implicit);
    assert_non_null(kind_rec(k, LOG_CERT_ERROR));
    assert_string_equal(data_rec(k, LOG_DIR_C, 0)->text, "EHLO me");
    assert_int_equal(data_rec(k, LOG_DIR_C, 0)->tls, LOG_TLS_AFTER_STARTTLS);
    assert_string_equal(data_rec(k, LOG_DIR_C, 2)->text, "YmVuQGNvbnRvc28uY29t"); /* LOGIN's user name */
    assert_string_equal(data_rec(k, LOG_DIR_C, 3)->text, "PHJlZGFjdGVkPg==");    /* "<redacted>" */
    assert_string_equal(data_rec(k, LOG_DIR_S, 5)->text,
                        "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.");
    log_conv_free(&c);
}

static void imaplib_debug(void **state)
{
    (void)state;
    log_conv c;
    read_as(LOG_FMT_UNKNOWN,
            "  30:41.36 imaplib version 2.58\n"
            "  30:41.36 new IMAP4 connection, tag=b'EAAC'\n"
            "  30:41.41 < b'* OK [CAPABILITY IMAP4rev1] ready'\n"
            "  30:41.41 > b'EAAC1 LOGIN emilyparker@icloud.com \"Apple-ID-passw0rd\"'\n"
            "  30:41.41 < b'EAAC1 NO [AUTHENTICATIONFAILED] Authentication failed'\n"
            "Traceback (most recent call last):\n"
            "  File \"/tmp/x.py\", line 5, in <module>\n"
            "    m.login(\"emilyparker@icloud.com\", \"Apple-ID-passw0rd\")\n"
            "imaplib.IMAP4.error: b'[AUTHENTICATIONFAILED] Authentication failed'\n",
            &c);
    assert_int_equal(c.format, LOG_FMT_IMAPLIB);
    const log_conn *k = &c.conn[0];
    assert_int_equal(k->proto, DIAG_PROTO_IMAP);
    assert_true(k->tls_silent);
    assert_string_equal(data_rec(k, LOG_DIR_C, 0)->text, "EAAC1 LOGIN emilyparker@icloud.com <redacted>");
    assert_int_equal(kind_rec(k, LOG_ERROR)->err, LOG_ERR_AUTH);
    log_conv_free(&c);
}

static void smtplib_debug(void **state)
{
    (void)state;
    log_conv c;
    read_as(LOG_FMT_UNKNOWN,
            "connect: ('127.0.0.1', 10587)\n"
            "reply: b'220 smtp ready\\r\\n'\n"
            "reply: retcode (220); Msg: b'smtp ready'\n"
            "connect: b'smtp ready'\n"
            "send: 'ehlo [127.0.0.1]\\r\\n'\n"
            "reply: b'250 STARTTLS\\r\\n'\n"
            "send: 'STARTTLS\\r\\n'\n"
            "reply: b'220 2.0.0 Ready to start TLS\\r\\n'\n"
            "send: 'AUTH LOGIN ZW1pbHlwYXJrZXI=\\r\\n'\n"
            "reply: b'334 UGFzc3dvcmQ6\\r\\n'\n"
            "send: 'YWJjZC1lZmdoLWlqa2wtbW5vcA==\\r\\n'\n"
            "reply: b'535 5.7.8 Error: authentication failed\\r\\n'\n"
            "smtplib.SMTPAuthenticationError: (535, b'5.7.8 Error: authentication failed')\n",
            &c);
    assert_int_equal(c.format, LOG_FMT_SMTPLIB);
    assert_int_equal(c.n, 1);
    const log_conn *k = &c.conn[0];
    assert_int_equal(k->port, 10587);
    assert_string_equal(data_rec(k, LOG_DIR_C, 2)->text, "AUTH LOGIN ZW1pbHlwYXJrZXI=");
    assert_int_equal(data_rec(k, LOG_DIR_C, 2)->tls, LOG_TLS_AFTER_STARTTLS);
    assert_string_equal(data_rec(k, LOG_DIR_C, 3)->text, "PHJlZGFjdGVkPg==");
    log_conv_free(&c);
}

static void thunderbird_logs(void **state)
{
    (void)state;
    log_conv c;
    read_as(LOG_FMT_UNKNOWN,
            "2026-11-20 09:14:02.301000 UTC - [Parent 4242: IMAP]: I/IMAP 0x7f3a2c0b1000:imap.mail.me.com:NA:"
            "CreateNewLineFromSocket: * OK ready\n"
            "2026-11-20 09:14:02.391000 UTC - [Parent 4242: IMAP]: I/IMAP 0x7f3a2c0b1000:imap.mail.me.com:NA:"
            "SendData: Logging suppressed for this command (it probably contained authentication information)\n"
            "2026-11-20 09:14:02.391000 UTC - [Parent 4242: IMAP]: I/IMAP 0x7f3a2c0b2000:imap.mail.me.com:NA:"
            "SendData: 1 capability\n"
            "2026-11-20 10:02:11.004000 UTC - [Parent 5120: Main Thread]: D/SMTP Connecting to smtp://smtp.office365.com:587\n"
            "2026-11-20 10:02:11.231000 UTC - [Parent 5120: Main Thread]: D/SMTP S: 220 ready\n"
            "2026-11-20 10:02:11.232000 UTC - [Parent 5120: Main Thread]: D/SMTP C: AUTH PLAIN AHRvbnkAczNjcjN0\n"
            "2026-11-20 10:02:11.300000 UTC - [Parent 5120: Main Thread]: E/SMTP failed: SSL_ERROR_RX_RECORD_TOO_LONG\n",
            &c);
    assert_int_equal(c.format, LOG_FMT_THUNDERBIRD);
    assert_int_equal(c.n, 3); /* two IMAP connections told apart by their pointer, one SMTP */
    assert_string_equal(c.conn[0].host, "imap.mail.me.com");
    assert_string_equal(data_rec(&c.conn[0], LOG_DIR_C, 0)->text, "<redacted>");
    assert_string_equal(c.conn[2].host, "smtp.office365.com");
    assert_int_equal(c.conn[2].port, 587);
    assert_int_equal(c.conn[2].proto, DIAG_PROTO_SMTP);
    assert_non_null(strstr(data_rec(&c.conn[2], LOG_DIR_C, 0)->text, "AUTH PLAIN "));
    assert_non_null(kind_rec(&c.conn[2], LOG_TLS_FAIL));
    log_conv_free(&c);
}

static void transcript_reader(void **state)
{
    (void)state;
    log_conv c;
    read_as(LOG_FMT_UNKNOWN,
            "0.000 conn 1 open 127.0.0.1:10993 mode=implicit proto=imap port=993 peer=127.0.0.1:5\n"
            "0.010 conn 1 tls ok TLSv1.3 TLS_AES_256_GCM_SHA384\n"
            "0.011 conn 2 open 127.0.0.1:10587 mode=starttls proto=smtp port=587\n"
            "0.012 conn 1 S: * OK ready\n"
            "0.020 conn 1 C: a1 LOGIN emilyparker \"Apple-ID-passw0rd\"\n"
            "0.021 conn 1 event auth-wrong-password-kind\n"
            "0.022 conn 2 S: 220 hi\n"
            "0.030 conn 1 close auth-failed\n",
            &c);
    assert_int_equal(c.format, LOG_FMT_TRANSCRIPT);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.conn[0].port, 993); /* the provider port, not the local one */
    assert_true(c.conn[0].implicit);
    assert_int_equal(c.conn[1].proto, DIAG_PROTO_SMTP);
    assert_string_equal(data_rec(&c.conn[0], LOG_DIR_C, 0)->text, "a1 LOGIN emilyparker <redacted>");
    assert_non_null(kind_rec(&c.conn[0], LOG_EVENT));
    log_conv_free(&c);
}

static void redaction_forms(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } t[] = {
        {"a1 LOGIN user s3cr3t", "a1 LOGIN user <redacted>"},
        {"a1 LOGIN \"us er\" \"s3cr3t\"", "a1 LOGIN \"us er\" <redacted>"},
        {"a1 LOGIN {4}", "a1 LOGIN <redacted>"},
        {"PASS s3cr3t", "PASS <redacted>"},
        {"APOP user 0123456789abcdef", "APOP user <redacted>"},
        {"AUTH XOAUTH2 dXNlcj10b255QGNvbnRvc28uY29tAWF1dGg9QmVhcmVyIHRvay0xMjMBAQ==",
         "AUTH XOAUTH2 dXNlcj10b255QGNvbnRvc28uY29tAWF1dGg9QmVhcmVyIDxyZWRhY3RlZD4BAQ=="},
        {"AUTH NTLM TlRMTVNTUAABAAAA", "AUTH NTLM <redacted>"},
        {"Authorization: Bearer tok-123", "Authorization: Bearer <redacted>"},
        {"a2 SELECT INBOX", "a2 SELECT INBOX"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        log_conn k = {.sasl_mech = -1};
        char out[512];
        log_redact_line(&k, t[i].in, strlen(t[i].in), out, sizeof out);
        assert_string_equal(out, t[i].out);
    }
    /* a SASL exchange: every client line until a final reply is a payload */
    log_conn k = {.sasl_mech = -1};
    char out[512];
    log_redact_line(&k, "AUTH LOGIN", 10, out, sizeof out);
    log_redact_server(&k, "334 VXNlcm5hbWU6", 16);
    log_redact_line(&k, "dG9ueQ==", 8, out, sizeof out);
    assert_string_equal(out, "dG9ueQ=="); /* the user name stays */
    log_redact_server(&k, "334 UGFzc3dvcmQ6", 16);
    log_redact_line(&k, "czNjcjN0", 8, out, sizeof out);
    assert_string_equal(out, "PHJlZGFjdGVkPg==");
    log_redact_server(&k, "235 ok", 6);
    log_redact_line(&k, "MAIL FROM:<a@b>", 15, out, sizeof out);
    assert_string_equal(out, "MAIL FROM:<a@b>");
}

static void unknown_and_garbage(void **state)
{
    (void)state;
    static const char *const inputs[] = {"", "hello\nworld\n", "\x01\x02\x03\xff\xfe\n\n\r\r"};
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        log_conv c;
        log_conv_init(&c);
        char err[64];
        assert_int_equal(log_read(inputs[i], strlen(inputs[i]), LOG_FMT_UNKNOWN, &c, err, sizeof err), 1);
        assert_non_null(strstr(c.seen, "no line matched"));
        log_conv_free(&c);
    }
    /* a forced format that finds nothing is "cannot tell" too */
    log_conv c;
    log_conv_init(&c);
    char err[64];
    assert_int_equal(log_read("hello\n", 6, LOG_FMT_CURL, &c, err, sizeof err), 1);
    assert_non_null(strstr(c.seen, "read as curl"));
    log_conv_free(&c);
}

static void template_match(void **state)
{
    (void)state;
    size_t lit;
    assert_true(diag_log_template_match("{tag} NO [AUTHENTICATIONFAILED] Authentication failed",
                                        "a2 NO [AUTHENTICATIONFAILED] Authentication failed", &lit));
    assert_int_equal(lit, strlen(" NO [AUTHENTICATIONFAILED] Authentication failed"));
    assert_true(diag_log_template_match("* OK [CAPABILITY {caps}] (2109B29-d3afe4d5aba6) {be}.me.com",
                                        "* OK [CAPABILITY IMAP4 AUTH=PLAIN] (2109B29-d3afe4d5aba6) pv3.me.com", &lit));
    assert_false(diag_log_template_match("{tag} NO {command} failed.", "a1 NO LOGIN failed", &lit));
    assert_true(diag_log_template_match("535 5.7.139 Authentication unsuccessful, basic authentication is disabled. "
                                        "[{fqdn_uc} {iso_ts} {hex16}]",
                                        "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. "
                                        "[X.COM 2026-01-01T00:00:00.000Z 0123]",
                                        &lit));
    assert_true(diag_log_template_match("{{literal}} {x}", "{literal} anything", &lit));
    assert_false(diag_log_template_match("220 {host} ESMTP", "221 x ESMTP", &lit));
}

static void lines_and_targets(void **state)
{
    (void)state;
    char host[64];
    unsigned port;
    assert_int_equal(log_parse_target("imap.mail.me.com:993", 20, host, sizeof host, &port), 0);
    assert_string_equal(host, "imap.mail.me.com");
    assert_int_equal(port, 993);
    assert_int_equal(log_parse_target("[::1]:10587", 11, host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(log_parse_target("host:99999", 10, host, sizeof host, &port), -1);
    assert_int_equal(log_parse_target("nohost", 6, host, sizeof host, &port), -1);
    assert_int_equal(log_proto_of_port(995), DIAG_PROTO_POP3);
    assert_true(log_port_is_implicit(465));
    assert_int_equal(log_format_from_name("thunderbird"), LOG_FMT_THUNDERBIRD);
    assert_int_equal(log_format_from_name("outlook"), LOG_FMT_UNKNOWN);
}

/* ---- classification against the shipped profiles ------------------------------------------------- */

/* Read text, classify it (provider "" = infer) and return the report (caller frees). */
static diag_report *classify(const char *text, const char *provider, diag_settings *s)
{
    log_conv c;
    read_as(LOG_FMT_UNKNOWN, text, &c);
    diag_settings_init(s);
    snprintf(s->provider, sizeof s->provider, "%s", provider);
    diag_report *r = malloc(sizeof *r);
    assert_non_null(r);
    diag_report_init(r);
    diag_log_classify(&c, "t.log", NULL, s, r);
    log_conv_free(&c);
    return r;
}

static const diag_finding *has_finding(const diag_report *r, const char *id)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (!strcmp(r->findings[i].rule->id, id))
            return &r->findings[i];
    return NULL;
}

static void classify_icloud_full_address(void **state)
{
    (void)state;
    diag_settings s;
    diag_report *r = classify("*   Trying 17.42.251.41:993...\n"
                              "* Connected to imap.mail.me.com (17.42.251.41) port 993 (#0)\n"
                              "* TLSv1.3 (OUT), TLS handshake, Client hello (1):\n"
                              "* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384\n"
                              "< * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] (2109B29-d3afe4d5aba6) pv33p00im-iscream021.me.com\n"
                              "> A1 LOGIN emilyparker@icloud.com \"s3cr3t\"\n"
                              "< A1 NO [AUTHENTICATIONFAILED] Authentication failed\n",
                              "", &s);
    assert_string_equal(s.provider, "icloud"); /* from the server name */
    assert_non_null(has_finding(r, "icloud-imap-username-full"));
    const diag_finding *pw = has_finding(r, "icloud-app-specific-password");
    assert_non_null(pw);
    assert_int_equal(pw->severity, DIAG_WARNING); /* a log cannot show which password */
    assert_int_equal(pw->at.line, 6);
    assert_string_equal(pw->reply_key, "imap.auth_failed");
    assert_true(s.server[DIAG_IN].reading.observed);
    assert_int_equal(s.server[DIAG_IN].reading.wire, DIAG_WIRE_IMPLICIT_TLS);
    assert_string_equal(s.server[DIAG_IN].username, "emilyparker@icloud.com");
    free(r);
}

static void classify_exchange_states(void **state)
{
    (void)state;
    diag_settings s;
    diag_report *r = classify("[Parent 1: Main Thread]: D/SMTP Connecting to smtp://smtp.office365.com:587\n"
                              "[Parent 1: Main Thread]: D/SMTP S: 220 X.outlook.office365.com Microsoft ESMTP MAIL "
                              "Service ready at Fri, 20 Nov 2026 10:02:11 +0000 [08DC]\n"
                              "[Parent 1: Main Thread]: D/SMTP C: AUTH LOGIN\n"
                              "[Parent 1: Main Thread]: D/SMTP S: 535 5.7.139 Authentication unsuccessful, "
                              "SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled "
                              "for more information. [X 2026 Y]\n",
                              "", &s);
    assert_string_equal(s.provider, "exchange");
    assert_non_null(has_finding(r, "exchange-smtp-auth-disabled"));
    assert_null(has_finding(r, "exchange-basic-auth-disabled"));
    free(r);
    /* Exchange's IMAP failure text is shared by several causes: the user name form is the one
     * the log proves, the account states stay possible causes */
    r = classify("0.0 conn 1 open 1.2.3.4:993 mode=implicit proto=imap port=993\n"
                 "0.0 conn 1 tls ok TLSv1.3\n"
                 "0.0 conn 1 S: * OK The Microsoft Exchange IMAP4 service is ready. [QQBNADMA]\n"
                 "0.0 conn 1 C: a1 LOGIN tony s3cr3t\n"
                 "0.0 conn 1 S: a1 NO LOGIN failed.\n",
                 "", &s);
    assert_string_equal(s.provider, "exchange");
    assert_non_null(has_finding(r, "exchange-username-full-address"));
    assert_null(has_finding(r, "exchange-basic-auth-disabled"));
    free(r);
}

static void classify_transport(void **state)
{
    (void)state;
    diag_settings s;
    diag_report *r = classify("*   Trying 17.42.251.56:995...\n"
                              "* connect to 17.42.251.56 port 995 failed: Connection refused\n",
                              "icloud", &s);
    assert_non_null(has_finding(r, "icloud-no-pop"));
    free(r);
    r = classify("*   Trying 17.42.251.56:587...\n"
                 "* Connected to smtp.mail.me.com (17.42.251.56) port 587 (#0)\n"
                 "* TLSv1.3 (OUT), TLS handshake, Client hello (1):\n"
                 "* OpenSSL/3.0.19: error:0A00010B:SSL routines::wrong version number\n",
                 "", &s);
    assert_string_equal(s.provider, "icloud");
    assert_non_null(has_finding(r, "icloud-smtp-ssl-on-587"));
    free(r);
}

static void classify_cannot_tell(void **state)
{
    (void)state;
    diag_settings s;
    diag_report *r = classify("<-- 220 mail.example.org ESMTP\n--> EHLO me\n<-- 250 AUTH PLAIN\n"
                              "--> AUTH PLAIN AHVzZXIAczNjcjN0\n<-- 554 5.7.0 Something nobody documented\n",
                              "", &s);
    /* the one thing proven: the password went in plaintext; the failure itself is unexplained */
    assert_int_equal(r->n_findings, 1);
    assert_non_null(has_finding(r, "plaintext-password"));
    bool said = false;
    for (size_t i = 0; i < r->n_cannot; i++)
        said |= strstr(r->cannot[i].why, "matches no smtp reply") != NULL;
    assert_true(said);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(curl_imap),         cmocka_unit_test(curl_refused_and_tls_failure),
        cmocka_unit_test(msmtp_debug),       cmocka_unit_test(openssl_starttls),
        cmocka_unit_test(imaplib_debug),     cmocka_unit_test(smtplib_debug),
        cmocka_unit_test(thunderbird_logs),  cmocka_unit_test(transcript_reader),
        cmocka_unit_test(redaction_forms),   cmocka_unit_test(unknown_and_garbage),
        cmocka_unit_test(template_match),    cmocka_unit_test(lines_and_targets),
        cmocka_unit_test(classify_icloud_full_address), cmocka_unit_test(classify_exchange_states),
        cmocka_unit_test(classify_transport),  cmocka_unit_test(classify_cannot_tell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
