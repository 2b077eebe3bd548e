/* test_pop3d.c -- the POP3 session (servers/pop3d.c) over memory: every command in both
 * states, the maildrop (listings, dot-stuffed RETR and TOP, DELE/RSET, the UPDATE state),
 * STLS and its reset, USER/PASS and AUTH with the profile's gate and failure replies, the
 * maildrop lock, limits, and redaction. */
#include "tests/unit/session_fixture.h"

#include "servers/pop3d.h"

static void open_generic(fx *f, unsigned port, const char *const *sets)
{
    fx_open(f, "generic", port, sets, pop3d_new);
}

static const char *const CAPA_110_PLAIN = "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
                                          "AUTH-RESP-CODE\r\nPIPELINING\r\nSTLS\r\n.\r\n";
static const char *const CAPA_TLS = "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
                                    "AUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN LOGIN CRAM-MD5\r\n.\r\n";

/* sizes of fx_msgs in the store (CRLF form) */
#define M1 "77"
#define M2 "90"

static void login_alice(fx *f)
{
    fx_expect(f->m, "USER alice@example.test\r\n", "+OK\r\n");
    fx_expect(f->m, "PASS alice-password-1\r\n", "+OK alice@example.test's maildrop has 2 messages (167 octets)\r\n");
}

/* auth_delay_ms: the failure reply is held (memconn: recorded, then over at once) and the
 * command pipelined behind PASS waits for it. */
static void auth_delay(void **state)
{
    (void)state;
    static const char *const sets[] = {"pop3.auth_delay_ms=250", NULL};
    fx f;
    open_generic(&f, 995, sets);
    fx_take(f.m);
    fx_expect(f.m, "USER alice@example.test\r\n", "+OK\r\n");
    memconn_feed_str(f.m, "PASS wrong\r\nNOOP\r\n");
    const char *out = fx_take(f.m);
    assert_true(strncmp(out, "-ERR [AUTH] Authentication failed\r\n", 35) == 0);
    assert_int_equal(memconn_delays(f.m), 1);
    assert_true(fx_has_event(f.m, "reply-delayed ms=250"));
    login_alice(&f);
    assert_int_equal(memconn_delays(f.m), 1);
    fx_close(&f);
}

static void greeting_capa_stls(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 110, NULL);
    assert_string_equal(fx_take(f.m), "+OK POP3 server ready\r\n");
    fx_expect(f.m, "CAPA\r\n", CAPA_110_PLAIN);
    /* USER/PASS need STLS first (login = tls) */
    fx_expect(f.m, "USER alice@example.test\r\n", "-ERR [AUTH] USER and PASS need STLS first\r\n");
    assert_true(fx_has_event(f.m, "command-needs-tls command=USER"));
    fx_expect(f.m, "AUTH PLAIN\r\n", "-ERR Unrecognized authentication type\r\n");
    assert_true(fx_has_event(f.m, "auth-needs-tls mech=PLAIN"));
    fx_expect(f.m, "STAT\r\n", "-ERR Command not valid in this state\r\n");
    /* STLS, with pipelined plaintext thrown away */
    memconn_feed_str(f.m, "STLS\r\nUSER injected\r\n");
    assert_string_equal(fx_take(f.m), "+OK Begin TLS negotiation\r\n");
    assert_int_equal(memconn_get_counts(f.m).discarded, strlen("USER injected\r\n"));
    memconn_tls(f.m);
    fx_expect(f.m, "CAPA\r\n", CAPA_TLS);
    fx_expect(f.m, "STLS\r\n", "-ERR Command not permitted when TLS active\r\n");
    fx_expect(f.m, "PASS x\r\n", "-ERR Command not valid in this state\r\n"); /* no USER yet */
    login_alice(&f);
    fx_expect(f.m, "QUIT\r\n", "+OK POP3 server signing off\r\n");
    assert_true(memconn_closed(f.m));
    fx_close(&f);
}

static void transaction(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 995, NULL);
    fx_take(f.m);
    fx_expect(f.m, "NOOP\r\n", "-ERR Command not valid in this state\r\n");
    login_alice(&f);
    fx_expect(f.m, "USER x\r\n", "-ERR Command not valid in this state\r\n");
    fx_expect(f.m, "STAT\r\n", "+OK 2 167\r\n");
    fx_expect(f.m, "LIST\r\n", "+OK 2 messages (167 octets)\r\n1 " M1 "\r\n2 " M2 "\r\n.\r\n");
    fx_expect(f.m, "LIST 2\r\n", "+OK 2 " M2 "\r\n");
    fx_expect(f.m, "LIST 3\r\n", "-ERR no such message\r\n");
    fx_expect(f.m, "UIDL\r\n", "+OK\r\n1 1700000000.1\r\n2 1700000000.2\r\n.\r\n");
    fx_expect(f.m, "UIDL 1\r\n", "+OK 1 1700000000.1\r\n");
    /* RETR dot-stuffs */
    fx_expect(f.m, "RETR 2\r\n",
              "+OK " M2 " octets\r\nFrom: carol@example.test\r\nSubject: two\r\n\r\n..starts with a dot\r\n"
              "...two dots\r\nline 3\r\n..\r\nend\r\n.\r\n");
    fx_expect(f.m, "TOP 2 1\r\n", "+OK top of message follows\r\nFrom: carol@example.test\r\nSubject: two\r\n\r\n"
                                  "..starts with a dot\r\n.\r\n");
    fx_expect(f.m, "TOP 1 0\r\n", "+OK top of message follows\r\nFrom: Bob <bob@example.test>\r\n"
                                  "To: alice@example.test\r\nSubject: one\r\n\r\n.\r\n");
    fx_expect(f.m, "NOOP\r\n", "+OK\r\n");
    fx_expect(f.m, "DELE 1\r\n", "+OK message 1 deleted\r\n");
    fx_expect(f.m, "DELE 1\r\n", "-ERR no such message\r\n");
    fx_expect(f.m, "RETR 1\r\n", "-ERR no such message\r\n");
    fx_expect(f.m, "STAT\r\n", "+OK 1 " M2 "\r\n");
    fx_expect(f.m, "LIST\r\n", "+OK 1 messages (" M2 " octets)\r\n2 " M2 "\r\n.\r\n");
    fx_expect(f.m, "RSET\r\n", "+OK maildrop has 2 messages (167 octets)\r\n");
    fx_expect(f.m, "DELE 2\r\n", "+OK message 2 deleted\r\n");
    fx_expect(f.m, "APOP alice 0123456789abcdef0123456789abcdef\r\n", "-ERR Unknown command\r\n");
    fx_expect(f.m, "RETR\r\n", "-ERR Syntax error\r\n");
    assert_int_equal(fx_inbox_count(&f, "alice"), 2);
    /* QUIT: the UPDATE state expunges what DELE marked */
    fx_expect(f.m, "QUIT\r\n", "+OK POP3 server signing off\r\n");
    assert_true(fx_has_event(f.m, "pop3-update deleted=1"));
    assert_int_equal(fx_inbox_count(&f, "alice"), 1);
    /* a later session sees one message; RETR marked it \Seen */
    memconn_free(f.m);
    f.m = fx_connect(&f, pop3d_new, 2);
    fx_take(f.m);
    fx_expect(f.m, "USER alice@example.test\r\nPASS alice-password-1\r\n",
              "+OK\r\n+OK alice@example.test's maildrop has 1 messages (" M1 " octets)\r\n");
    fx_expect(f.m, "QUIT\r\n", "+OK POP3 server signing off\r\n");
    fx_close(&f);
}

static void auth_mechanisms(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 995, NULL);
    fx_take(f.m);
    fx_expect(f.m, "AUTH\r\n", "+OK\r\nPLAIN\r\nLOGIN\r\nCRAM-MD5\r\n.\r\n");
    fx_expect(f.m, "AUTH XOAUTH2\r\n", "-ERR Unrecognized authentication type\r\n");
    assert_true(fx_has_event(f.m, "mech-not-offered mech=XOAUTH2"));
    char line[2048];
    snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", fx_plain("alice@example.test", "nope"));
    fx_expect(f.m, line, "-ERR [AUTH] Authentication failed\r\n");
    fx_expect(f.m, "AUTH PLAIN\r\n", "+ \r\n");
    fx_expect(f.m, "*\r\n", "-ERR Authentication cancelled\r\n");
    fx_expect(f.m, "AUTH LOGIN\r\n", "+ VXNlcm5hbWU6\r\n");
    snprintf(line, sizeof line, "%s\r\n", fx_b64("bob@example.test", 16));
    fx_expect(f.m, line, "+ UGFzc3dvcmQ6\r\n");
    snprintf(line, sizeof line, "%s\r\n", fx_b64("bob-password-2", 14));
    fx_expect(f.m, line, "+OK Maildrop locked and ready\r\n");
    assert_true(fx_has_event(f.m, "auth-ok mech=LOGIN user=bob@example.test"));
    assert_null(strstr(memconn_client_data(f.m, NULL), fx_b64("bob-password-2", 14)));
    assert_null(strstr(memconn_client_data(f.m, NULL), "nope"));
    fx_expect(f.m, "AUTH PLAIN\r\n", "-ERR Command not valid in this state\r\n");
    fx_close(&f);
}

static void maildrop_lock(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 995, NULL);
    fx_take(f.m);
    login_alice(&f);
    f.m2 = fx_connect(&f, pop3d_new, 2);
    fx_take(f.m2);
    fx_expect(f.m2, "USER alice@example.test\r\nPASS alice-password-1\r\n", "+OK\r\n-ERR [IN-USE] Unable to lock maildrop\r\n");
    assert_true(fx_has_event(f.m2, "maildrop-in-use account=alice"));
    fx_expect(f.m2, "STAT\r\n", "-ERR Command not valid in this state\r\n");
    /* once the first session is gone, the lock is free */
    memconn_free(f.m);
    f.m = NULL;
    fx_expect(f.m2, "USER alice@example.test\r\nPASS alice-password-1\r\n",
              "+OK\r\n+OK alice@example.test's maildrop has 2 messages (167 octets)\r\n");
    fx_close(&f);
}

static void limits(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 995, NULL);
    fx_take(f.m);
    char longline[300];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "USER ", 5);
    memconn_feed(f.m, longline, sizeof longline);
    assert_string_equal(fx_take(f.m), "-ERR Line too long\r\n");
    assert_true(memconn_closed(f.m));
    assert_string_equal(memconn_close_reason(f.m), "line-too-long");
    fx_close(&f);

    static const char *const sets[] = {"pop3.max_auth_failures=2", "pop3.timed_out=-ERR autologout", NULL};
    open_generic(&f, 995, sets);
    fx_take(f.m);
    fx_expect(f.m, "USER a@example.test\r\nPASS x\r\n", "+OK\r\n-ERR [AUTH] Authentication failed\r\n");
    assert_true(fx_has_event(f.m, "auth-no-such-user mech=USER user=a@example.test"));
    fx_expect(f.m, "USER alice@example.test\r\nPASS alice-password-1 \r\n", "+OK\r\n-ERR [AUTH] Authentication failed\r\n");
    assert_true(memconn_closed(f.m));
    assert_null(strstr(memconn_client_data(f.m, NULL), "alice-password-1"));
    assert_non_null(strstr(memconn_client_data(f.m, NULL), "PASS <redacted>\r\n"));
    fx_close(&f);

    open_generic(&f, 995, sets);
    fx_take(f.m);
    fx_expect(f.m, "BOGUS\r\n", "-ERR Unknown command\r\n");
    memconn_timeout(f.m);
    assert_string_equal(fx_take(f.m), "-ERR autologout\r\n");
    fx_close(&f);

    static const char *const one[] = {"pop3.max_connections=1", NULL};
    open_generic(&f, 995, one);
    fx_take(f.m);
    f.m2 = fx_connect(&f, pop3d_new, 2);
    assert_string_equal(fx_take(f.m2), "-ERR [SYS/TEMP] Too many connections from your address\r\n");
    assert_true(memconn_closed(f.m2));
    fx_close(&f);
}

static void byte_at_a_time(void **state)
{
    (void)state;
    const char *conv = "CAPA\r\nUSER alice@example.test\r\nPASS alice-password-1\r\nSTAT\r\nLIST\r\nUIDL 2\r\n"
                       "RETR 2\r\nTOP 1 1\r\nDELE 2\r\nRSET\r\nNOOP\r\nQUIT\r\n";
    fx f;
    open_generic(&f, 995, NULL);
    fx_take(f.m);
    memconn_feed_str(f.m, conv);
    char *whole = strdup(fx_take(f.m));
    fx_close(&f);
    open_generic(&f, 995, NULL);
    fx_take(f.m);
    for (size_t i = 0; conv[i]; i++)
        memconn_feed(f.m, conv + i, 1);
    assert_string_equal(fx_take(f.m), whole);
    assert_int_equal(memconn_get_counts(f.m).consumed, strlen(conv));
    free(whole);
    fx_close(&f);
}

static void strict_violation(void **state)
{
    (void)state;
    fx f;
    open_generic(&f, 995, NULL);
    fx_take(f.m);
    fx_expect(f.m, "capa\n", "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
                             "PIPELINING\r\nUSER\r\nSASL PLAIN LOGIN CRAM-MD5\r\n.\r\n");
    assert_true(fx_has_event(f.m, "strict-violation rule="));
    fx_close(&f);
}

/* Exchange Online: greeting with the base64 FQDN, XOAUTH2 two-step only, the states. */
static void exchange(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, "exchange", 995, NULL, pop3d_new);
    const char *g = fx_take(f.m);
    assert_memory_equal(g, "+OK The Microsoft Exchange POP3 service is ready. [", 51);
    assert_memory_equal(g + strlen(g) - 3, "]\r\n", 3);
    fx_expect(f.m, "CAPA\r\n", "+OK\r\nTOP\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\nUSER\r\n.\r\n");
    char line[2048];
    /* an initial response fails; two steps work */
    snprintf(line, sizeof line, "AUTH XOAUTH2 %s\r\n", fx_xoauth2("tony@contoso.com", "tony-oauth-token"));
    fx_expect(f.m, line, "-ERR Authentication failure: unknown user name or bad password.\r\n");
    assert_true(fx_has_event(f.m, "initial-response-refused mech=XOAUTH2"));
    fx_expect(f.m, "AUTH XOAUTH2\r\n", "+ \r\n");
    snprintf(line, sizeof line, "%s\r\n", fx_xoauth2("tony@contoso.com", "tony-oauth-token"));
    fx_expect(f.m, line, "+OK User successfully authenticated.\r\n");
    fx_close(&f);

    static const char *const users[] = {"pat@contoso.com", "ben@contoso.com", "nina@contoso.com", "tony@contoso.com"};
    static const char *const pws[] = {"Contoso-pass-4", "Contoso-pass-2", "Contoso-pass-3", "wrong"};
    static const char *const outcomes[] = {"auth-protocol-disabled", "auth-basic-auth-disabled", "auth-not-signed-in",
                                           "auth-bad-password"};
    for (int i = 0; i < 4; i++) {
        fx_open(&f, "exchange", 995, NULL, pop3d_new);
        fx_take(f.m);
        snprintf(line, sizeof line, "USER %s\r\nPASS %s\r\n", users[i], pws[i]);
        fx_expect(f.m, line, "+OK\r\n-ERR Logon failure: unknown user name or bad password.\r\n");
        assert_true(fx_has_event(f.m, outcomes[i]));
        fx_close(&f);
    }
    /* the right one: in, with the full address */
    fx_open(&f, "exchange", 995, NULL, pop3d_new);
    fx_take(f.m);
    fx_expect(f.m, "USER tony@contoso.com\r\nPASS Contoso-pass-1\r\n", "+OK\r\n+OK User successfully logged on.\r\n");
    fx_close(&f);
    /* 110 before STLS: no USER, "not valid in this state" */
    fx_open(&f, "exchange", 110, NULL, pop3d_new);
    fx_take(f.m);
    fx_expect(f.m, "CAPA\r\n", "+OK\r\nTOP\r\nUIDL\r\nSTLS\r\n.\r\n");
    fx_expect(f.m, "USER tony@contoso.com\r\n", "-ERR Command is not valid in this state.\r\n");
    fx_expect(f.m, "STLS\r\n", "+OK Begin TLS negotiation.\r\n");
    memconn_tls(f.m);
    fx_expect(f.m, "CAPA\r\n", "+OK\r\nTOP\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\nUSER\r\n.\r\n");
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greeting_capa_stls),
        cmocka_unit_test(transaction),
        cmocka_unit_test(auth_mechanisms),
        cmocka_unit_test(maildrop_lock),
        cmocka_unit_test(limits),
        cmocka_unit_test(byte_at_a_time),
        cmocka_unit_test(strict_violation),
        cmocka_unit_test(exchange),
        cmocka_unit_test(auth_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
