/* test_smtpd.c -- the SMTP session (servers/smtpd.c) over memory: every command in every
 * state, the profile behaviours and failure replies byte for byte (generic exactly; the
 * Exchange and iCloud texts up to their per-connection parts), STARTTLS and its reset,
 * pipelining, limits, delivery into the store, and redaction of credentials. */
#define _GNU_SOURCE /* memmem */
#include "tests/unit/session_fixture.h"

#include <openssl/hmac.h>

#include "proto/base64.h"
#include "servers/smtpd.h"

static const char *const EHLO_587_PLAIN =
    "250-smtp.example.test greets client.example\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10485760\r\n"
    "250-STARTTLS\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-8BITMIME\r\n"
    "250-CHUNKING\r\n"
    "250 SMTPUTF8\r\n";

static const char *const EHLO_587_TLS =
    "250-smtp.example.test greets client.example\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10485760\r\n"
    "250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-8BITMIME\r\n"
    "250-CHUNKING\r\n"
    "250 SMTPUTF8\r\n";

static void open_generic(fx *f, unsigned port, const char *const *sets)
{
    fx_open(f, "generic", port, sets, smtpd_new);
}

/* generic 587, through STARTTLS and EHLO again, output cleared */
static void tls_ready(fx *f)
{
    fx_expect(f->m, "EHLO client.example\r\n", EHLO_587_PLAIN);
    fx_expect(f->m, "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n");
    assert_true(memconn_tls_pending(f->m));
    memconn_tls(f->m);
    fx_expect(f->m, "EHLO client.example\r\n", EHLO_587_TLS);
}

static void logged_in(fx *f)
{
    tls_ready(f);
    char line[2048];
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", fx_plain("alice@example.test", "alice-password-1"));
    fx_expect(f->m, line, "235 2.7.0 Authentication successful\r\n");
}

/* ---- greeting, EHLO, HELO, STARTTLS -------------------------------------------------------- */

static void greeting_and_ehlo(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 587, NULL);
    assert_string_equal(fx_take(f.m), "220 smtp.example.test ESMTP Service ready\r\n");
    fx_expect(f.m, "EHLO client.example\r\n", EHLO_587_PLAIN);
    fx_expect(f.m, "HELO client.example\r\n", "250 smtp.example.test\r\n");
    fx_expect(f.m, "NOOP\r\n", "250 2.0.0 OK\r\n");
    fx_expect(f.m, "VRFY alice\r\n", "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n");
    fx_expect(f.m, "RSET\r\n", "250 2.0.0 OK\r\n");
    fx_expect(f.m, "HELP\r\n", "500 5.5.1 Syntax error, command unrecognized\r\n");
    fx_expect(f.m, "EXPN list\r\n", "500 5.5.1 Syntax error, command unrecognized\r\n");
    fx_expect(f.m, "QUIT\r\n", "221 2.0.0 smtp.example.test Service closing transmission channel\r\n");
    assert_true(memconn_closed(f.m));
    assert_string_equal(memconn_close_reason(f.m), "quit");
    /* nothing more is read after QUIT */
    memconn_feed_str(f.m, "NOOP\r\n");
    assert_string_equal(fx_take(f.m), "");
    fx_close(&f);
}

static void need_hello(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    fx_expect(f.m, "MAIL FROM:<a@b.test>\r\n", "503 5.5.1 Send EHLO or HELO first\r\n");
    fx_expect(f.m, "STARTTLS\r\n", "503 5.5.1 Send EHLO or HELO first\r\n");
    fx_expect(f.m, "AUTH PLAIN\r\n", "503 5.5.1 Send EHLO or HELO first\r\n");
    fx_expect(f.m, "EHLO\r\n", "501 5.5.4 Syntax error in parameters or arguments\r\n");
    fx_close(&f);
}

static void starttls_resets(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    tls_ready(&f);
    /* RFC 3207 4.2: after TLS, back to no EHLO */
    fx_expect(f.m, "RSET\r\n", "250 2.0.0 OK\r\n");
    fx_expect(f.m, "STARTTLS\r\n", "503 5.5.1 STARTTLS not available now\r\n");
    fx_close(&f);

    /* a command before EHLO after TLS */
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    fx_expect(f.m, "EHLO client.example\r\n", EHLO_587_PLAIN);
    fx_expect(f.m, "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n");
    memconn_tls(f.m);
    fx_expect(f.m, "MAIL FROM:<alice@example.test>\r\n", "503 5.5.1 Send EHLO or HELO first\r\n");
    fx_close(&f);
}

static void starttls_injection(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO client.example\r\n");
    fx_take(f.m);
    /* the plaintext pipelined after STARTTLS is thrown away */
    memconn_feed_str(f.m, "STARTTLS\r\nEHLO injected\r\nMAIL FROM:<evil@x.test>\r\n");
    assert_string_equal(fx_take(f.m), "220 2.0.0 Ready to start TLS\r\n");
    memconn_counts c = memconn_get_counts(f.m);
    assert_int_equal(c.discarded, strlen("EHLO injected\r\nMAIL FROM:<evil@x.test>\r\n"));
    fx_expect(f.m, "EHLO client.example\r\n", EHLO_587_TLS);
    fx_close(&f);

    /* with tls.starttls_vulnerable = yes it is kept and served after the handshake */
    static const char *const vuln[] = {"tls.starttls_vulnerable=yes", NULL};
    open_generic(&f, 587, vuln);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO client.example\r\n");
    fx_take(f.m);
    memconn_feed_str(f.m, "STARTTLS\r\nEHLO injected\r\n");
    assert_string_equal(fx_take(f.m), "220 2.0.0 Ready to start TLS\r\n");
    memconn_feed_str(f.m, "");
    const char *out = fx_take(f.m);
    assert_non_null(strstr(out, "greets injected"));
    fx_close(&f);
}

/* ---- AUTH -------------------------------------------------------------------------------------- */

static void auth_plain(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    tls_ready(&f);
    /* two-step */
    fx_expect(f.m, "AUTH PLAIN\r\n", "334 \r\n");
    char line[2048];
    snprintf(line, sizeof line, "%s\r\n", fx_plain("alice@example.test", "wrong"));
    fx_expect(f.m, line, "535 5.7.8 Authentication credentials invalid\r\n");
    assert_true(fx_has_event(f.m, "auth-bad-password mech=PLAIN user=alice@example.test form=full expected=full tls=1 attempt=1"));
    /* initial response */
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", fx_plain("alice@example.test", "alice-password-1"));
    fx_expect(f.m, line, "235 2.7.0 Authentication successful\r\n");
    assert_true(fx_has_event(f.m, "auth-ok mech=PLAIN"));
    fx_expect(f.m, line, "503 5.5.1 Already authenticated\r\n");
    /* the transcript never holds the password */
    size_t n;
    const char *cd = memconn_client_data(f.m, &n);
    assert_null(strstr(cd, fx_plain("alice@example.test", "alice-password-1")));
    assert_null(strstr(cd, "alice-password-1"));
    assert_non_null(strstr(cd, "AUTH PLAIN "));
    fx_close(&f);
}

static void auth_login(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    tls_ready(&f);
    fx_expect(f.m, "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n");
    char line[2048];
    snprintf(line, sizeof line, "%s\r\n", fx_b64("bob@example.test", 16));
    fx_expect(f.m, line, "334 UGFzc3dvcmQ6\r\n");
    snprintf(line, sizeof line, "%s\r\n", fx_b64("bob-password-2", 14));
    fx_expect(f.m, line, "235 2.7.0 Authentication successful\r\n");
    const char *cd = memconn_client_data(f.m, NULL);
    assert_null(strstr(cd, fx_b64("bob-password-2", 14)));
    assert_non_null(strstr(cd, fx_b64("bob@example.test", 16))); /* the user name stays readable */
    fx_close(&f);

    /* user name as the initial response */
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    tls_ready(&f);
    snprintf(line, sizeof line, "AUTH LOGIN %s\r\n", fx_b64("bob@example.test", 16));
    fx_expect(f.m, line, "334 UGFzc3dvcmQ6\r\n");
    fx_expect(f.m, "*\r\n", "501 5.7.0 Authentication cancelled\r\n");
    assert_true(fx_has_event(f.m, "auth-cancelled mech=LOGIN"));
    fx_expect(f.m, "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n");
    fx_expect(f.m, "!!!notbase64\r\n", "501 5.5.2 Cannot decode response\r\n");
    assert_true(fx_has_event(f.m, "auth-bad-blob mech=LOGIN"));
    fx_close(&f);
}

static void auth_cram_md5(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    tls_ready(&f);
    memconn_feed_str(f.m, "AUTH CRAM-MD5\r\n");
    const char *out = fx_take(f.m);
    assert_memory_equal(out, "334 ", 4);
    char chal[200];
    size_t clen = strlen(out) - 6;
    int n = b64_decode(out + 4, clen, chal, sizeof chal - 1, B64_STRICT, NULL);
    assert_true(n > 10);
    chal[n] = '\0';
    assert_true(chal[0] == '<' && strstr(chal, "@smtp.example.test>"));
    unsigned char mac[16];
    unsigned ml = 0;
    HMAC(EVP_md5(), "alice-password-1", 16, (unsigned char *)chal, (size_t)n, mac, &ml);
    char resp[128];
    int k = snprintf(resp, sizeof resp, "alice@example.test ");
    for (int i = 0; i < 16; i++)
        k += snprintf(resp + k, sizeof resp - (size_t)k, "%02x", mac[i]);
    char line[2048];
    snprintf(line, sizeof line, "%s\r\n", fx_b64(resp, (size_t)k));
    fx_expect(f.m, line, "235 2.7.0 Authentication successful\r\n");
    /* the digest is an offline oracle for the password: redacted */
    assert_null(strstr(memconn_client_data(f.m, NULL), fx_b64(resp, (size_t)k)));
    fx_close(&f);
}

static void auth_gate(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    fx_expect(f.m, "EHLO client.example\r\n", EHLO_587_PLAIN);
    /* offered only after STARTTLS */
    fx_expect(f.m, "AUTH PLAIN\r\n", "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
    assert_true(fx_has_event(f.m, "mech-not-offered mech=PLAIN"));
    assert_true(fx_has_event(f.m, "command-needs-tls command=AUTH"));
    assert_true(fx_has_event(f.m, "auth-needs-tls mech=PLAIN"));
    /* never offered */
    fx_expect(f.m, "AUTH NTLM\r\n", "504 5.5.4 Unrecognized authentication type\r\n");
    fx_expect(f.m, "AUTH X-UNKNOWN\r\n", "504 5.5.4 Unrecognized authentication type\r\n");
    /* no mail without AUTH on a submission port */
    fx_expect(f.m, "MAIL FROM:<alice@example.test>\r\n", "530 5.7.0 Authentication required\r\n");
    assert_true(fx_has_event(f.m, "command-needs-tls command=MAIL"));
    fx_expect(f.m, "RCPT TO:<bob@example.test>\r\n", "530 5.7.0 Authentication required\r\n");
    fx_expect(f.m, "DATA\r\n", "530 5.7.0 Authentication required\r\n");
    fx_close(&f);

    /* port 25: no AUTH at all */
    open_generic(&f, 25, NULL);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO client.example\r\n");
    assert_null(strstr(fx_take(f.m), "AUTH"));
    fx_expect(f.m, "AUTH PLAIN\r\n", "503 5.5.1 AUTH not available here\r\n");
    assert_true(fx_has_event(f.m, "auth-not-on-listener"));
    fx_close(&f);
}

static void auth_xoauth2_oauthbearer(void **state)
{
    (void)state;
    static const char *const sets[] = {"smtp.mechs_tls=PLAIN XOAUTH2 OAUTHBEARER", NULL};
    fx f;
    open_generic(&f, 587, sets);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO client.example\r\nSTARTTLS\r\n");
    fx_take(f.m);
    memconn_tls(f.m);
    memconn_feed_str(f.m, "EHLO client.example\r\n");
    assert_non_null(strstr(fx_take(f.m), "250-AUTH PLAIN XOAUTH2 OAUTHBEARER\r\n"));
    /* two-step: an empty 334 */
    fx_expect(f.m, "AUTH XOAUTH2\r\n", "334 \r\n");
    char line[2048];
    snprintf(line, sizeof line, "%s\r\n", fx_xoauth2("alice@example.test", "wrong-token"));
    fx_expect(f.m, line, "535 5.7.8 Authentication credentials invalid\r\n");
    assert_true(fx_has_event(f.m, "auth-bad-token mech=XOAUTH2"));
    /* one step */
    snprintf(line, sizeof line, "AUTH XOAUTH2 %s\r\n", fx_xoauth2("alice@example.test", "alice-oauth-token"));
    fx_expect(f.m, line, "235 2.7.0 Authentication successful\r\n");
    assert_null(strstr(memconn_client_data(f.m, NULL), "alice-oauth-token"));
    assert_null(strstr(memconn_client_data(f.m, NULL), fx_xoauth2("alice@example.test", "alice-oauth-token")));
    fx_close(&f);

    open_generic(&f, 465, sets);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO c\r\n");
    fx_take(f.m);
    char msg[256];
    int n = snprintf(msg, sizeof msg, "n,a=alice@example.test,\001host=x\001auth=Bearer alice-oauth-token\001\001");
    snprintf(line, sizeof line, "AUTH OAUTHBEARER %s\r\n", fx_b64(msg, (size_t)n));
    fx_expect(f.m, line, "235 2.7.0 Authentication successful\r\n");
    fx_close(&f);
}

static void auth_failures_close(void **state)
{
    (void)state;
    static const char *const sets[] = {"smtp.max_auth_failures=2", NULL};
    fx f;
    open_generic(&f, 465, sets);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO c\r\n");
    fx_take(f.m);
    char line[2048];
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", fx_plain("alice@example.test", "x"));
    fx_expect(f.m, line, "535 5.7.8 Authentication credentials invalid\r\n");
    fx_expect(f.m, line,
              "535 5.7.8 Authentication credentials invalid\r\n"
              "421 4.7.0 smtp.example.test Too many errors, closing transmission channel\r\n");
    assert_true(memconn_closed(f.m));
    assert_string_equal(memconn_close_reason(f.m), "auth-failed");
    fx_close(&f);
}

/* auth_delay_ms: the session asks the carrier to hold the failure reply and stops consuming
 * after the failed AUTH; the NOOP pipelined behind it is served once the hold is over. */
static void auth_delay(void **state)
{
    (void)state;
    static const char *const sets[] = {"smtp.auth_delay_ms=300", NULL};
    fx f;
    open_generic(&f, 465, sets);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO c\r\n");
    fx_take(f.m);
    char line[2048];
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\nNOOP\r\n", fx_plain("alice@example.test", "x"));
    fx_expect(f.m, line, "535 5.7.8 Authentication credentials invalid\r\n250 2.0.0 OK\r\n");
    assert_int_equal(memconn_delays(f.m), 1);
    assert_true(fx_has_event(f.m, "reply-delayed ms=300"));
    /* a success is never delayed */
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", fx_plain("alice@example.test", "alice-password-1"));
    fx_expect(f.m, line, "235 2.7.0 Authentication successful\r\n");
    assert_int_equal(memconn_delays(f.m), 1);
    fx_close(&f);
}

/* ---- mail transactions --------------------------------------------------------------------------- */

static void mail_rcpt_data(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    logged_in(&f);
    fx_expect(f.m, "RCPT TO:<bob@example.test>\r\n", "503 5.5.1 Bad sequence of commands\r\n");
    fx_expect(f.m, "DATA\r\n", "503 5.5.1 Bad sequence of commands\r\n");
    fx_expect(f.m, "MAIL FROM:<alice@example.test> SIZE=100 BODY=8BITMIME\r\n",
              "250 2.1.0 Sender <alice@example.test> OK\r\n");
    fx_expect(f.m, "MAIL FROM:<alice@example.test>\r\n", "503 5.5.1 Bad sequence of commands\r\n");
    fx_expect(f.m, "AUTH PLAIN\r\n", "503 5.5.1 Already authenticated\r\n");
    fx_expect(f.m, "DATA\r\n", "554 5.5.1 No valid recipients\r\n");
    fx_expect(f.m, "RCPT TO:<nobody@example.test>\r\n", "550 5.1.1 <nobody@example.test>: mailbox unavailable\r\n");
    fx_expect(f.m, "RCPT TO:<Robert@Example.Test>\r\n", "250 2.1.5 Recipient <Robert@Example.Test> OK\r\n");
    fx_expect(f.m, "RCPT TO:<someone@elsewhere.test> NOTIFY=NEVER\r\n",
              "250 2.1.5 Recipient <someone@elsewhere.test> OK\r\n");
    fx_expect(f.m, "RCPT TO:<x@y.test> FOO=1\r\n", "501 5.5.4 Syntax error in parameters or arguments\r\n");
    uint32_t before = fx_inbox_count(&f, "bob");
    fx_expect(f.m, "DATA\r\n", "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    fx_expect(f.m, "From: alice@example.test\r\nSubject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n",
              "250 2.0.0 Message accepted (61 octets)\r\n");
    assert_int_equal(fx_inbox_count(&f, "bob"), before + 1);
    const store_msg *m = fx_inbox_last(&f, "bob");
    const char *want_end = "From: alice@example.test\r\nSubject: hi\r\n\r\n.leading dot\r\nbody\r\n";
    assert_true(m->size > strlen(want_end));
    assert_memory_equal(m->data + m->size - strlen(want_end), want_end, strlen(want_end));
    assert_memory_equal(m->data, "Return-Path: <alice@example.test>\r\nReceived: from client.example ([127.0.0.1])\r\n\tby smtp.example.test with ESMTPSA id ", 109);
    /* the transaction is over */
    fx_expect(f.m, "RCPT TO:<bob@example.test>\r\n", "503 5.5.1 Bad sequence of commands\r\n");
    fx_close(&f);
}

static void rcpt_limits_and_relay(void **state)
{
    (void)state;
    static const char *const sets[] = {"smtp.max_recipients=2", NULL};
    fx f;
    open_generic(&f, 25, sets);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO mx.client.test\r\n");
    fx_take(f.m);
    /* MX-like: no AUTH needed, local recipients only */
    fx_expect(f.m, "MAIL FROM:<>\r\n", "250 2.1.0 Sender <> OK\r\n");
    fx_expect(f.m, "RCPT TO:<friend@elsewhere.test>\r\n", "550 5.7.1 <friend@elsewhere.test>: relaying denied\r\n");
    fx_expect(f.m, "RCPT TO:<alice@example.test>\r\n", "250 2.1.5 Recipient <alice@example.test> OK\r\n");
    fx_expect(f.m, "RCPT TO:<Postmaster>\r\n", "250 2.1.5 Recipient <Postmaster> OK\r\n");
    fx_expect(f.m, "RCPT TO:<bob@example.test>\r\n", "452 4.5.3 Too many recipients\r\n");
    uint32_t before = fx_inbox_count(&f, "alice");
    fx_expect(f.m, "DATA\r\nSubject: bounce\r\n\r\nx\r\n.\r\n",
              "354 Start mail input; end with <CRLF>.<CRLF>\r\n250 2.0.0 Message accepted (22 octets)\r\n");
    /* alice and Postmaster (alice: the first account) get one copy */
    assert_int_equal(fx_inbox_count(&f, "alice"), before + 1);
    const store_msg *m = fx_inbox_last(&f, "alice");
    assert_memory_equal(m->data, "Return-Path: <>\r\n", 17);
    assert_non_null(memmem(m->data, m->size, " with ESMTP id ", 15));
    fx_close(&f);
}

static void size_limit(void **state)
{
    (void)state;
    static const char *const sets[] = {"smtp.size_limit=40", NULL};
    fx f;
    open_generic(&f, 25, sets);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO c\r\n");
    fx_take(f.m);
    fx_expect(f.m, "MAIL FROM:<a@b.test> SIZE=41\r\n", "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    fx_expect(f.m, "MAIL FROM:<a@b.test> SIZE=40\r\n", "250 2.1.0 Sender <a@b.test> OK\r\n");
    fx_expect(f.m, "RCPT TO:<bob@example.test>\r\n", "250 2.1.5 Recipient <bob@example.test> OK\r\n");
    uint32_t before = fx_inbox_count(&f, "bob");
    fx_expect(f.m, "DATA\r\n", "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    fx_expect(f.m, "Subject: big\r\n\r\n0123456789012345678901234567890123456789\r\n.\r\n",
              "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    assert_int_equal(fx_inbox_count(&f, "bob"), before);
    fx_expect(f.m, "NOOP\r\n", "250 2.0.0 OK\r\n");
    fx_close(&f);
}

static void bdat(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 25, NULL);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO c\r\n");
    fx_take(f.m);
    /* no MAIL: the chunk is read, then refused */
    fx_expect(f.m, "BDAT 5\r\nABCDE", "503 5.5.1 Bad sequence of commands\r\n");
    fx_expect(f.m, "MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n", "250 2.1.0 Sender <a@b.test> OK\r\n");
    fx_expect(f.m, "BDAT 4\r\nnope", "554 5.5.1 No valid recipients\r\n");
    fx_expect(f.m, "MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n", "250 2.1.0 Sender <a@b.test> OK\r\n");
    fx_expect(f.m, "RCPT TO:<bob@example.test>\r\n", "250 2.1.5 Recipient <bob@example.test> OK\r\n");
    fx_expect(f.m, "DATA\r\n", "503 5.5.1 Bad sequence of commands\r\n"); /* BINARYMIME: BDAT only */
    uint32_t before = fx_inbox_count(&f, "bob");
    /* a chunk split across feeds, with bytes that look like commands */
    fx_expect(f.m, "BDAT 20\r\nSubject: x\r\n", "");
    fx_expect(f.m, "\r\nQUIT\r\n", "250 2.0.0 20 octets received\r\n");
    fx_expect(f.m, "DATA\r\n", "503 5.5.1 Bad sequence of commands\r\n");
    fx_expect(f.m, "BDAT 0 LAST\r\n", "250 2.0.0 Message accepted (20 octets)\r\n");
    assert_int_equal(fx_inbox_count(&f, "bob"), before + 1);
    const store_msg *m = fx_inbox_last(&f, "bob");
    assert_memory_equal(m->data + m->size - 20, "Subject: x\r\n\r\nQUIT\r\n", 20);
    fx_close(&f);
}

static void sender_check(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    logged_in(&f);
    fx_expect(f.m, "MAIL FROM:<bob@example.test>\r\n", "550 5.7.1 <bob@example.test> is not an address of alice@example.test\r\n");
    assert_true(fx_has_event(f.m, "sender-denied at=mail"));
    fx_expect(f.m, "MAIL FROM:<ALICE@example.test>\r\n", "250 2.1.0 Sender <ALICE@example.test> OK\r\n");
    fx_close(&f);

    /* sender_check = data: the From header decides, after the message */
    static const char *const sets[] = {"smtp.sender_check=data", NULL};
    open_generic(&f, 587, sets);
    fx_take(f.m);
    logged_in(&f);
    fx_expect(f.m, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
              "250 2.1.0 Sender <alice@example.test> OK\r\n250 2.1.5 Recipient <bob@example.test> OK\r\n"
              "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    fx_expect(f.m, "From: \"Bob\" <bob@example.test>\r\n\r\nhi\r\n.\r\n",
              "550 5.7.1 <bob@example.test> is not an address of alice@example.test\r\n");
    assert_true(fx_has_event(f.m, "sender-denied at=data"));
    fx_close(&f);
}

static void pipelining(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 25, NULL);
    fx_take(f.m);
    /* one read holding a whole transaction: answered in order */
    fx_expect(f.m,
              "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<zz@example.test>\r\n"
              "DATA\r\nSubject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n",
              "250-smtp.example.test greets c\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-STARTTLS\r\n"
              "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n"
              "250 2.1.0 Sender <a@b.test> OK\r\n250 2.1.5 Recipient <alice@example.test> OK\r\n"
              "550 5.1.1 <zz@example.test>: mailbox unavailable\r\n"
              "354 Start mail input; end with <CRLF>.<CRLF>\r\n250 2.0.0 Message accepted (20 octets)\r\n"
              "221 2.0.0 smtp.example.test Service closing transmission channel\r\n");
    memconn_counts c = memconn_get_counts(f.m);
    assert_int_equal(c.consumed, c.fed);
    fx_close(&f);
}

/* The same conversation fed whole and one byte at a time gives the same replies. */
static void byte_at_a_time(void **state)
{
    (void)state;
    const char *conv = "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
                       "Subject: p\r\n\r\n.x\r\nbody\r\n.\r\nBDAT 3\r\nabcNOOP\r\nQUIT\r\n";
    fx f;
    open_generic(&f, 25, NULL);
    fx_take(f.m);
    memconn_feed_str(f.m, conv);
    char *whole = strdup(fx_take(f.m));
    fx_close(&f);
    open_generic(&f, 25, NULL);
    fx_take(f.m);
    for (size_t i = 0; conv[i]; i++)
        memconn_feed(f.m, conv + i, 1);
    assert_string_equal(fx_take(f.m), whole);
    memconn_counts c = memconn_get_counts(f.m);
    assert_int_equal(c.consumed, strlen(conv));
    free(whole);
    fx_close(&f);
}

/* ---- errors and limits ------------------------------------------------------------------------------ */

static void errors_and_limits(void **state)
{
    (void)state;
    static const char *const sets[] = {"smtp.max_errors=3", NULL};
    fx f;
    open_generic(&f, 25, sets);
    fx_take(f.m);
    fx_expect(f.m, "LOGIN a b\r\n", "500 5.5.1 Syntax error, command unrecognized\r\n");
    fx_expect(f.m, "MAIL\r\n", "503 5.5.1 Send EHLO or HELO first\r\n");
    fx_expect(f.m, "XYZZY\r\n",
              "500 5.5.1 Syntax error, command unrecognized\r\n"
              "421 4.7.0 smtp.example.test Too many errors, closing transmission channel\r\n");
    assert_true(memconn_closed(f.m));
    assert_string_equal(memconn_close_reason(f.m), "too-many-errors");
    fx_close(&f);

    /* an over-long line: answered, skipped to its end, the session goes on */
    open_generic(&f, 25, NULL);
    fx_take(f.m);
    char longline[700];
    memset(longline, 'A', sizeof longline);
    memconn_feed(f.m, "NOOP ", 5);
    memconn_feed(f.m, longline, sizeof longline);
    assert_string_equal(fx_take(f.m), "500 5.5.2 Line too long\r\n");
    assert_true(fx_has_event(f.m, "line-too-long limit=510"));
    memconn_feed(f.m, longline, sizeof longline);
    assert_string_equal(fx_take(f.m), "");
    fx_expect(f.m, "AAAA\r\nNOOP\r\n", "250 2.0.0 OK\r\n");
    memconn_counts c = memconn_get_counts(f.m);
    assert_int_equal(c.consumed, c.fed);
    fx_close(&f);

    /* idle timeout */
    open_generic(&f, 25, NULL);
    fx_take(f.m);
    memconn_timeout(f.m);
    assert_string_equal(fx_take(f.m), "421 4.4.2 smtp.example.test Timeout exceeded, closing transmission channel\r\n");
    fx_close(&f);
}

static void strict_violation(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 25, NULL);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO c\r\n");
    fx_take(f.m);
    /* a space after the colon: strict refuses, lenient serves */
    fx_expect(f.m, "MAIL FROM: <a@b.test>\r\n", "250 2.1.0 Sender <a@b.test> OK\r\n");
    assert_true(fx_has_event(f.m, "strict-violation rule="));
    fx_expect(f.m, "RSET\n", "250 2.0.0 OK\r\n");
    assert_true(fx_has_event(f.m, "code=bare-lf"));
    fx_close(&f);
}

static void smtputf8_and_8bitmime(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 25, NULL);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO c\r\n");
    fx_take(f.m);
    fx_expect(f.m, "MAIL FROM:<j\xc3\xb6s\xc3\xa9@example.test> SMTPUTF8 BODY=8BITMIME\r\n",
              "250 2.1.0 Sender <j\xc3\xb6s\xc3\xa9@example.test> OK\r\n");
    assert_false(fx_has_event(f.m, "strict-violation"));
    fx_expect(f.m, "RCPT TO:<alice@example.test>\r\nDATA\r\nSubject: caf\xc3\xa9\r\n\r\n\xff" "8bit\r\n.\r\n",
              "250 2.1.5 Recipient <alice@example.test> OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n"
              "250 2.0.0 Message accepted (25 octets)\r\n");
    /* UTF-8 without SMTPUTF8: a strict violation, served as the lenient parser reads it */
    fx_expect(f.m, "MAIL FROM:<j\xc3\xb6s\xc3\xa9@example.test>\r\n", "250 2.1.0 Sender <j\xc3\xb6s\xc3\xa9@example.test> OK\r\n");
    assert_true(fx_has_event(f.m, "strict-violation") && fx_has_event(f.m, "code=8bit"));
    fx_close(&f);
}

static void too_many_connections(void **state)
{
    (void)state;
    static const char *const sets[] = {"smtp.max_connections=1", NULL};
    fx f;
    open_generic(&f, 25, sets);
    fx_take(f.m);
    f.m2 = fx_connect(&f, smtpd_new, 2);
    assert_string_equal(fx_take(f.m2),
                        "421 4.7.0 smtp.example.test Too many connections, closing transmission channel\r\n");
    assert_true(memconn_closed(f.m2));
    memconn_free(f.m2);
    f.m2 = NULL;
    memconn_free(f.m);
    f.m = fx_connect(&f, smtpd_new, 3);
    assert_string_equal(fx_take(f.m), "220 smtp.example.test ESMTP Service ready\r\n");
    fx_close(&f);
}

static void client_hello_on_plain_port(void **state)
{
    (void)state;
    static const unsigned char hello[] = {0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0x03, 0x03, 0x0a, 0x0d};
    fx f;
    open_generic(&f, 587, NULL);
    fx_take(f.m);
    memconn_feed(f.m, (const char *)hello, sizeof hello);
    assert_string_equal(fx_take(f.m), "500 5.5.1 Syntax error, command unrecognized\r\n");
    fx_close(&f);
    static const char *const closing[] = {"listener.587.tls_hello=close", NULL};
    open_generic(&f, 587, closing);
    fx_take(f.m);
    memconn_feed(f.m, (const char *)hello, sizeof hello);
    assert_true(memconn_closed(f.m));
    fx_close(&f);
    static const char *const silent[] = {"listener.587.tls_hello=silence", NULL};
    open_generic(&f, 587, silent);
    fx_take(f.m);
    memconn_feed(f.m, (const char *)hello, sizeof hello);
    memconn_feed_str(f.m, "EHLO c\r\n");
    assert_string_equal(fx_take(f.m), "");
    assert_false(memconn_closed(f.m));
    fx_close(&f);
}

static void debug_states(void **state)
{
    (void)state;
    setenv("MAILRIG_DEBUG_STATES", "1", 1);
    fx f;
    open_generic(&f, 25, NULL);
    memconn_feed_str(f.m, "EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
    assert_true(fx_has_event(f.m, "smtp-state from=CONNECTED to=READY"));
    assert_true(fx_has_event(f.m, "smtp-state from=READY to=MAIL"));
    unsetenv("MAILRIG_DEBUG_STATES");
    fx_close(&f);
}

/* ---- provider profiles ---------------------------------------------------------------------------- */

static void exchange(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, "exchange", 587, NULL, smtpd_new);
    const char *g = fx_take(f.m);
    assert_memory_equal(g, "220 ", 4);
    assert_non_null(strstr(g, ".outlook.office365.com Microsoft ESMTP MAIL Service ready at "));
    memconn_feed_str(f.m, "EHLO client\r\n");
    const char *e = fx_take(f.m);
    assert_non_null(strstr(e, "250-SIZE 157286400\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n"
                              "250-STARTTLS\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n"));
    fx_expect_prefix(f.m, "MAIL FROM:<tony@contoso.com>\r\n", "530 5.7.57 Client not authenticated to send mail. [");
    fx_expect_prefix(f.m, "BOGUS stuff\r\n", "500 5.3.3 Unrecognized command 'BOGUS stuff' [");
    fx_expect(f.m, "STARTTLS\r\n", "220 2.0.0 SMTP server ready\r\n");
    memconn_tls(f.m);
    fx_expect_prefix(f.m, "MAIL FROM:<tony@contoso.com>\r\n", "503 5.5.2 Send hello first [");
    memconn_feed_str(f.m, "EHLO client\r\n");
    e = fx_take(f.m);
    assert_non_null(strstr(e, "250-ENHANCEDSTATUSCODES\r\n250-AUTH LOGIN XOAUTH2\r\n250-8BITMIME\r\n"));
    assert_null(strstr(e, "STARTTLS"));
    char line[2048];
    /* PLAIN and NTLM (SPA) are not offered */
    fx_expect_prefix(f.m, "AUTH PLAIN\r\n", "504 5.7.4 Unrecognized authentication type [");
    fx_expect_prefix(f.m, "AUTH NTLM TlRMTVNTUAABAAAA\r\n", "504 5.7.4 Unrecognized authentication type [");
    /* basic auth disabled, SMTP AUTH disabled, bad password */
    fx_expect(f.m, "AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n");
    snprintf(line, sizeof line, "%s\r\n", fx_b64("ben@contoso.com", 15));
    fx_expect(f.m, line, "334 UGFzc3dvcmQ6\r\n");
    snprintf(line, sizeof line, "%s\r\n", fx_b64("Contoso-pass-2", 14));
    fx_expect_prefix(f.m, line, "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [");
    snprintf(line, sizeof line, "AUTH LOGIN %s\r\n", fx_b64("sam@contoso.com", 15));
    fx_expect(f.m, line, "334 UGFzc3dvcmQ6\r\n");
    snprintf(line, sizeof line, "%s\r\n", fx_b64("Contoso-pass-5", 14));
    fx_expect_prefix(f.m, line,
                     "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
                     "Visit https://aka.ms/smtp_auth_disabled for more information. [");
    assert_true(fx_has_event(f.m, "auth-smtp-auth-disabled mech=LOGIN user=sam@contoso.com"));
    /* XOAUTH2 with the token: in */
    fx_expect(f.m, "AUTH XOAUTH2\r\n", "334 \r\n");
    snprintf(line, sizeof line, "%s\r\n", fx_xoauth2("tony@contoso.com", "tony-oauth-token"));
    fx_expect(f.m, line, "235 2.7.0 Authentication successful\r\n");
    /* sender_check = data: 554 5.2.252 after the message */
    memconn_feed_str(f.m, "MAIL FROM:<tony@contoso.com>\r\nRCPT TO:<nina@contoso.com>\r\nDATA\r\n");
    fx_take(f.m);
    fx_expect_prefix(f.m, "From: pat@contoso.com\r\n\r\nx\r\n.\r\n",
                     "554 5.2.252 SendAsDenied; tony@contoso.com not allowed to send as pat@contoso.com; "
                     "STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied;");
    fx_expect_prefix(f.m, "MAIL FROM:<tony@contoso.com>\r\nRCPT TO:<nina@contoso.com>\r\nDATA\r\nFrom: tony@contoso.com\r\n\r\nx\r\n.\r\n",
                     "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n250 2.0.0 OK <");
    fx_close(&f);

    /* the basic-auth-disabled account gets in with its token */
    fx_open(&f, "exchange", 587, NULL, smtpd_new);
    memconn_feed_str(f.m, "EHLO c\r\nSTARTTLS\r\n");
    memconn_tls(f.m);
    memconn_feed_str(f.m, "EHLO c\r\n");
    fx_take(f.m);
    snprintf(line, sizeof line, "AUTH LOGIN %s\r\n", fx_b64("tony@contoso.com", 16));
    fx_expect(f.m, line, "334 UGFzc3dvcmQ6\r\n");
    snprintf(line, sizeof line, "%s\r\n", fx_b64("wrong", 5));
    fx_expect_prefix(f.m, line, "535 5.7.3 Authentication unsuccessful [");
    assert_true(fx_has_event(f.m, "auth-bad-password mech=LOGIN user=tony@contoso.com form=full expected=full"));
    snprintf(line, sizeof line, "AUTH XOAUTH2 %s\r\n", fx_xoauth2("ben@contoso.com", "ben-oauth-token"));
    fx_expect(f.m, line, "235 2.7.0 Authentication successful\r\n");
    fx_close(&f);

    /* the third failure on a connection closes it (max_auth_failures = 3) */
    fx_open(&f, "exchange", 587, NULL, smtpd_new);
    memconn_feed_str(f.m, "EHLO c\r\nSTARTTLS\r\n");
    memconn_tls(f.m);
    memconn_feed_str(f.m, "EHLO c\r\n");
    fx_take(f.m);
    snprintf(line, sizeof line, "AUTH LOGIN %s\r\n%s\r\n", fx_b64("tony@contoso.com", 16), "eA==");
    for (int i = 0; i < 3; i++)
        memconn_feed_str(f.m, line);
    assert_true(memconn_closed(f.m));
    assert_non_null(strstr(fx_take(f.m), "421 4.7.0 Too many errors on this connection, closing transmission channel\r\n"));
    fx_close(&f);
}

static void icloud(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, "icloud", 587, NULL, smtpd_new);
    const char *g = fx_take(f.m);
    assert_memory_equal(g, "220 iCloud iscream SMTP proxy - p00-iscream-smtp-", 49);
    memconn_feed_str(f.m, "EHLO client\r\n");
    const char *e = fx_take(f.m);
    assert_null(strstr(e, "AUTH"));
    assert_non_null(strstr(e, "250-STARTTLS\r\n"));
    char line[2048];
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", fx_plain("emilyparker@icloud.com", "abcd-efgh-ijkl-mnop"));
    fx_expect(f.m, line, "503 5.5.1 Error: authentication not enabled\r\n");
    fx_expect(f.m, "STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n");
    memconn_tls(f.m);
    memconn_feed_str(f.m, "EHLO client\r\n");
    e = fx_take(f.m);
    assert_non_null(strstr(e, "250-AUTH PLAIN LOGIN ATOKEN\r\n"));
    /* the name part: refused; the Apple ID password: refused; the app password with the full address: in */
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", fx_plain("emilyparker", "abcd-efgh-ijkl-mnop"));
    fx_expect(f.m, line, "535 5.7.8 Error: authentication failed: authentication failure\r\n");
    assert_true(fx_has_event(f.m, "auth-wrong-username-form mech=PLAIN user=emilyparker form=local expected=full"));
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", fx_plain("emilyparker@icloud.com", "Apple-ID-passw0rd"));
    fx_expect(f.m, line, "535 5.7.8 Error: authentication failed: authentication failure\r\n");
    assert_true(fx_has_event(f.m, "auth-wrong-password-kind"));
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", fx_plain("emilyparker@icloud.com", "abcd-efgh-ijkl-mnop"));
    fx_expect(f.m, line, "235 2.7.0 Authentication successful\r\n");
    fx_expect(f.m, "MAIL FROM:<emilyparker@me.com>\r\n", "250 2.1.0 Ok\r\n");
    fx_expect(f.m, "RSET\r\nMAIL FROM:<john@icloud.com>\r\n", "250 2.0.0 Ok\r\n550 5.7.0 From address is not one of your addresses\r\n");
    fx_close(&f);

    /* port 25: the MX, no AUTH */
    fx_open(&f, "icloud", 25, NULL, smtpd_new);
    fx_take(f.m);
    memconn_feed_str(f.m, "EHLO client\r\nSTARTTLS\r\n");
    fx_take(f.m);
    memconn_tls(f.m);
    memconn_feed_str(f.m, "EHLO client\r\n");
    assert_null(strstr(fx_take(f.m), "AUTH"));
    fx_expect(f.m, "AUTH PLAIN\r\n", "503 5.5.1 Error: authentication not enabled\r\n");
    fx_expect(f.m, "MAIL FROM:<x@gmail.test>\r\nRCPT TO:<other@gmail.test>\r\n",
              "250 2.1.0 Ok\r\n554 5.7.1 <other@gmail.test>: Relay access denied\r\n");
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greeting_and_ehlo),
        cmocka_unit_test(need_hello),
        cmocka_unit_test(starttls_resets),
        cmocka_unit_test(starttls_injection),
        cmocka_unit_test(auth_plain),
        cmocka_unit_test(auth_login),
        cmocka_unit_test(auth_cram_md5),
        cmocka_unit_test(auth_gate),
        cmocka_unit_test(auth_xoauth2_oauthbearer),
        cmocka_unit_test(auth_failures_close),
        cmocka_unit_test(mail_rcpt_data),
        cmocka_unit_test(rcpt_limits_and_relay),
        cmocka_unit_test(size_limit),
        cmocka_unit_test(bdat),
        cmocka_unit_test(sender_check),
        cmocka_unit_test(pipelining),
        cmocka_unit_test(byte_at_a_time),
        cmocka_unit_test(errors_and_limits),
        cmocka_unit_test(strict_violation),
        cmocka_unit_test(smtputf8_and_8bitmime),
        cmocka_unit_test(too_many_connections),
        cmocka_unit_test(client_hello_on_plain_port),
        cmocka_unit_test(debug_states),
        cmocka_unit_test(exchange),
        cmocka_unit_test(icloud),
        cmocka_unit_test(auth_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
