/* test_imapd.c -- servers/imapd.c driven through a memory session_io (no sockets): greetings
 * and capabilities per profile and state, STARTTLS and its reset, LOGIN and every SASL
 * mechanism with the profile's replies byte for byte, the account states, redaction, limits
 * (line, literal), byte-at-a-time input, every mailbox and message command, untagged updates
 * between two sessions, the ClientHello answers, timeouts and the session's size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/base64.h"
#include "servers/imapd.h"
#include "servers/paths.h"
#include "servers/profile.h"
#include "servers/session_util.h"
#include "servers/store.h"

/* ---- harness ------------------------------------------------------------------------------ */

typedef struct tsess {
    profile *p;
    store *st;
    int own_store;
    mock_listener ml;
    session_info info;
    session_io io;
    session *s;
    char *out;
    size_t out_len, out_cap;
    char cdata[65536];
    size_t cdata_len;
    char events[65536];
    size_t events_len;
    int start_tls, closed;
    char reason[64];
    char *pending;        /* bytes the session did not take yet, as the carrier keeps them */
    size_t plen;
} tsess;

static void t_send(void *ctx, const char *p, size_t n)
{
    tsess *t = ctx;
    if (t->out_len + n + 1 > t->out_cap) {
        t->out_cap = (t->out_len + n + 1) * 2;
        t->out = realloc(t->out, t->out_cap);
        assert_non_null(t->out);
    }
    memcpy(t->out + t->out_len, p, n);
    t->out_len += n;
    t->out[t->out_len] = 0;
}

static void t_data(void *ctx, const char *p, size_t n, int payload)
{
    tsess *t = ctx;
    (void)payload;
    if (t->cdata_len + n < sizeof t->cdata) {
        memcpy(t->cdata + t->cdata_len, p, n);
        t->cdata_len += n;
        t->cdata[t->cdata_len] = 0;
    }
}

static void t_start_tls(void *ctx)
{
    ((tsess *)ctx)->start_tls = 1;
}

static void t_close(void *ctx, const char *reason)
{
    tsess *t = ctx;
    t->closed = 1;
    snprintf(t->reason, sizeof t->reason, "%s", reason);
}

static void t_event(void *ctx, const char *text)
{
    tsess *t = ctx;
    size_t n = strlen(text);
    if (t->events_len + n + 2 < sizeof t->events) {
        memcpy(t->events + t->events_len, text, n);
        t->events_len += n;
        t->events[t->events_len++] = '\n';
        t->events[t->events_len] = 0;
    }
}

static int64_t fixed_ms(void)
{
    return INT64_C(1709740937000);
}

static store *seeded_store(const profile *p)
{
    store_config cfg;
    store_config_default(&cfg);
    cfg.uidvalidity = 1000;
    store *st;
    assert_int_equal(store_open(&cfg, &st), STORE_OK);
    char data[4096], dir[4200];
    assert_true(paths_data_dir(data, sizeof data) > 0);
    snprintf(dir, sizeof dir, "%s/profiles/messages", data);
    for (size_t i = 0; i < p->n_accounts; i++) {
        store_account *a;
        assert_int_equal(store_account_add(st, p->accounts[i].name, &a, NULL), STORE_OK);
        for (size_t k = 0; k < p->n_folders; k++) {
            const profile_folder *f = &p->folders[k];
            store_err e = store_mailbox_create(st, a, f->name, 0, NULL);
            assert_true(e == STORE_OK || e == STORE_E_EXISTS);
            char list[2048] = "";
            for (size_t j = 0; j < f->messages.n; j++) {
                strcat(list, f->messages.v[j]);
                strcat(list, ".eml ");
            }
            if (list[0])
                assert_int_equal(store_seed(st, a, f->name, dir, list), STORE_OK);
        }
    }
    return st;
}

static profile *load(const char *name, const char *const *sets, size_t nsets)
{
    profile_diag d = {0};
    profile_opts o = {.sets = sets, .n_sets = nsets};
    profile *p = profile_load(name, &o, &d);
    if (!p)
        profile_diag_print(&d, stderr);
    profile_diag_free(&d);
    assert_non_null(p);
    return p;
}

/* A session on provider port `port` of profile p, sharing store st (NULL: a new one). */
static tsess *t_new(profile *p, unsigned port, store *st)
{
    tsess *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->p = p;
    t->st = st ? st : seeded_store(p);
    t->own_store = st == NULL;
    const profile_listener *l = profile_listener_find(p, port);
    assert_non_null(l);
    t->ml = (mock_listener){.mock = NULL, .prof = p, .pl = l, .st = t->st, .seed = 1, .port = 0};
    t->info.conn_id = 1;
    t->info.provider_port = (int)port;
    t->info.tls_active = l->mode == PROFILE_MODE_IMPLICIT_TLS;
    t->info.starttls_offered = l->mode == PROFILE_MODE_STARTTLS;
    snprintf(t->info.peer, sizeof t->info.peer, "127.0.0.1:40000");
    t->io = (session_io){t, t_send, t_data, t_start_tls, t_close, t_event, NULL};
    t->s = imapd_factory(&t->ml, &t->io, &t->info);
    assert_non_null(t->s);
    t->s->ops->open(t->s);
    return t;
}

static void t_free(tsess *t)
{
    t->s->ops->free(t->s);
    if (t->own_store)
        store_close(t->st);
    free(t->out);
    free(t->pending);
    free(t);
}

/* Feed everything (as the carrier would: until nothing more is taken); returns the bytes
 * consumed. */
static size_t feed_n(tsess *t, const char *p, size_t n)
{
    size_t used = 0;
    while (used < n && !t->closed && !t->start_tls) {
        size_t k = t->s->ops->input(t->s, p + used, n - used);
        if (k == 0)
            break;
        used += k;
    }
    return used;
}

/* Append s to what the session has not taken yet and feed that, as the carrier does.
 * Returns the bytes of it still pending afterwards. */
static size_t feed(tsess *t, const char *s)
{
    size_t n = strlen(s);
    t->pending = realloc(t->pending, t->plen + n + 1);
    assert_non_null(t->pending);
    memcpy(t->pending + t->plen, s, n);
    t->plen += n;
    size_t k = feed_n(t, t->pending, t->plen);
    memmove(t->pending, t->pending + k, t->plen - k);
    t->plen -= k;
    return t->plen;
}

/* The output since the last call (a static copy). */
static const char *take(tsess *t)
{
    static char buf[1 << 20];
    size_t n = t->out_len < sizeof buf - 1 ? t->out_len : sizeof buf - 1;
    memcpy(buf, t->out ? t->out : "", n);
    buf[n] = 0;
    t->out_len = 0;
    return buf;
}

static void expect(tsess *t, const char *in, const char *want)
{
    feed(t, in);
    assert_string_equal(take(t), want);
}

static void expect_prefix(tsess *t, const char *in, const char *want)
{
    feed(t, in);
    const char *got = take(t);
    if (strncmp(got, want, strlen(want)) != 0)
        fail_msg("got:\n%s\nwant prefix:\n%s", got, want);
}

static void expect_contains(tsess *t, const char *in, const char *want)
{
    feed(t, in);
    const char *got = take(t);
    if (!strstr(got, want))
        fail_msg("got:\n%s\nwant to contain:\n%s", got, want);
}

static char *b64(const char *s, size_t n)
{
    static char out[4096];
    int k = b64_encode(s, n, out, sizeof out - 1, NULL);
    assert_true(k >= 0);
    out[k] = 0;
    return out;
}

static int setup(void **state)
{
    (void)state;
    sess_set_clock(fixed_ms);
    imapd_set_debug(0);
    return 0;
}

/* ---- greetings and capabilities -------------------------------------------------------------- */

static void greeting_icloud(void **state)
{
    (void)state;
    profile *p = load("icloud", NULL, 0);
    tsess *t = t_new(p, 993, NULL);
    const char *g = take(t);
    assert_true(strncmp(g, "* OK [CAPABILITY XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 SASL-IR AUTH=ATOKEN AUTH=PLAIN] "
                           "(2109B29-d3afe4d5aba6) pv", 99) == 0);
    assert_non_null(strstr(g, "p00im-iscream0"));
    assert_non_null(strstr(g, ".me.com\r\n"));
    expect(t, "a1 CAPABILITY\r\n",
           "* CAPABILITY XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 SASL-IR AUTH=ATOKEN AUTH=PLAIN\r\na1 OK Completed\r\n");
    expect(t, "a2 NOOP\r\n", "a2 OK Completed\r\n");
    expect(t, "a3 LOGOUT\r\n", "* BYE LOGOUT received\r\na3 OK Completed\r\n");
    assert_true(t->closed);
    assert_string_equal(t->reason, "logout");
    t_free(t);
    profile_free(p);
}

static void greeting_exchange_143_and_starttls_reset(void **state)
{
    (void)state;
    profile *p = load("exchange", NULL, 0);
    tsess *t = t_new(p, 143, NULL);
    const char *g = take(t);
    assert_true(strncmp(g, "* OK The Microsoft Exchange IMAP4 service is ready. [", 53) == 0);
    expect(t, "a1 CAPABILITY\r\n",
           "* CAPABILITY IMAP4 IMAP4rev1 LOGINDISABLED STARTTLS SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE "
           "NAMESPACE LITERAL+\r\na1 OK CAPABILITY completed.\r\n");
    expect(t, "a2 LOGIN tony@contoso.com Contoso-pass-1\r\n", "a2 BAD Command received in Invalid state.\r\n");
    assert_non_null(strstr(t->events, "credentials-before-tls mech=LOGIN"));
    assert_non_null(strstr(t->events, "command-needs-tls command=LOGIN"));
    assert_non_null(strstr(t->events, "auth-login-disabled mech=LOGIN user=tony@contoso.com"));
    expect(t, "a3 AUTHENTICATE PLAIN\r\n", "a3 NO AUTHENTICATE failed.\r\n");
    /* STARTTLS: the reply, start_tls, and nothing after it is consumed */
    const char *pipelined = "a4 STARTTLS\r\na5 CAPABILITY\r\n";
    assert_int_equal(feed_n(t, pipelined, strlen(pipelined)), 13);
    assert_string_equal(take(t), "a4 OK Begin TLS negotiation now.\r\n");
    assert_true(t->start_tls);
    assert_int_equal(t->s->ops->input(t->s, "a5 NOOP\r\n", 9), 0);
    t->start_tls = 0;
    t->info.tls_active = 1;
    t->s->ops->tls_ready(t->s);
    expect(t, "a6 CAPABILITY\r\n",
           "* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE "
           "NAMESPACE LITERAL+\r\na6 OK CAPABILITY completed.\r\n");
    expect(t, "a7 STARTTLS\r\n", "a7 BAD Command received in Invalid state.\r\n");
    expect(t, "a8 LOGIN tony@contoso.com Contoso-pass-1\r\n", "a8 OK LOGIN completed.\r\n");
    expect(t, "a9 CAPABILITY\r\n",
           "* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT "
           "CLIENTACCESSRULES CLIENTNETWORKPRESENCELOCATION BACKENDAUTHENTICATE CHILDREN IDLE NAMESPACE "
           "LITERAL+\r\na9 OK CAPABILITY completed.\r\n");
    t_free(t);
    profile_free(p);
}

static void generic_login_ok_has_capability_code(void **state)
{
    (void)state;
    profile *p = load("generic", NULL, 0);
    tsess *t = t_new(p, 993, NULL);
    take(t);
    expect(t, "a1 LOGIN alice@example.test alice-password-1\r\n",
           "a1 OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN "
           "SPECIAL-USE] LOGIN completed\r\n");
    expect(t, "a2 LOGIN alice@example.test alice-password-1\r\n", "a2 BAD Command not valid in this state\r\n");
    expect(t, "a3 AUTHENTICATE PLAIN\r\n", "a3 BAD Command not valid in this state\r\n");
    t_free(t);
    profile_free(p);
}

/* ---- authentication ---------------------------------------------------------------------------- */

static void icloud_failures_close(void **state)
{
    (void)state;
    profile *p = load("icloud", NULL, 0);
    tsess *t = t_new(p, 993, NULL);
    take(t);
    expect(t, "a1 LOGIN emilyparker Apple-ID-passw0rd\r\n", "a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
    assert_true(t->closed);
    assert_string_equal(t->reason, "auth-failed");
    assert_non_null(strstr(t->events, "auth-wrong-password-kind mech=LOGIN user=emilyparker form=local "
                                      "expected=local tls=1 attempt=1"));
    assert_null(strstr(t->cdata, "Apple-ID-passw0rd"));
    assert_non_null(strstr(t->cdata, "a1 LOGIN emilyparker <redacted>\r\n"));
    t_free(t);
    profile_free(p);
}

static void icloud_local_and_full_forms(void **state)
{
    (void)state;
    profile *p = load("icloud", NULL, 0);
    tsess *t = t_new(p, 993, NULL);
    take(t);
    expect(t, "a1 LOGIN \"emilyparker@me.com\" \"abcd-efgh-ijkl-mnop\"\r\n",
           "a1 OK user emilyparker@me.com authenticated\r\n");
    assert_non_null(strstr(t->cdata, "a1 LOGIN \"emilyparker@me.com\" \"<redacted>\"\r\n"));
    t_free(t);
    static const char *const strict[] = {"imap.username=local"};
    profile *p2 = load("icloud", strict, 1);
    t = t_new(p2, 993, NULL);
    take(t);
    expect(t, "a1 LOGIN emilyparker@icloud.com abcd-efgh-ijkl-mnop\r\n",
           "a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
    assert_non_null(strstr(t->events, "auth-wrong-username-form"));
    t_free(t);
    profile_free(p2);
    profile_free(p);
}

static void exchange_states(void **state)
{
    (void)state;
    profile *p = load("exchange", NULL, 0);
    tsess *t = t_new(p, 993, NULL);
    take(t);
    expect(t, "a1 LOGIN ben@contoso.com Contoso-pass-2\r\n", "a1 NO LOGIN failed.\r\n");
    expect(t, "a2 LOGIN pat@contoso.com Contoso-pass-4\r\n", "a2 NO LOGIN failed.\r\n");
    assert_false(t->closed);
    expect(t, "a3 LOGIN tony@contoso.com wrong\r\n", "a3 NO LOGIN failed.\r\n");
    assert_true(t->closed); /* max_auth_failures = 3 */
    assert_non_null(strstr(t->events, "auth-basic-auth-disabled mech=LOGIN user=ben@contoso.com"));
    assert_non_null(strstr(t->events, "auth-protocol-disabled mech=LOGIN user=pat@contoso.com"));
    assert_non_null(strstr(t->events, "auth-bad-password mech=LOGIN user=tony@contoso.com form=full expected=full "
                                      "tls=1 attempt=3"));
    t_free(t);

    /* not signed in: authenticated, then every mailbox command refused, then BYE */
    t = t_new(p, 993, NULL);
    take(t);
    expect(t, "a1 LOGIN nina@contoso.com Contoso-pass-3\r\n", "a1 OK LOGIN completed.\r\n");
    expect(t, "a2 NOOP\r\n", "a2 OK NOOP completed.\r\n");
    expect(t, "a3 NAMESPACE\r\n", "a3 BAD User is authenticated but not connected.\r\n");
    expect(t, "a4 SELECT INBOX\r\n", "a4 BAD User is authenticated but not connected.\r\n* BYE Connection closed. 14\r\n");
    assert_true(t->closed);
    assert_non_null(strstr(t->events, "auth-ok-not-connected"));
    t_free(t);

    /* basic-auth-disabled accounts still log in with XOAUTH2 */
    t = t_new(p, 993, NULL);
    take(t);
    const char x[] = "user=ben@contoso.com\001auth=Bearer ben-oauth-token\001\001";
    char line[512];
    snprintf(line, sizeof line, "a1 AUTHENTICATE XOAUTH2 %s\r\n", b64(x, sizeof x - 1));
    expect(t, line, "a1 OK AUTHENTICATE completed.\r\n");
    assert_null(strstr(t->cdata, "ben-oauth-token"));
    assert_null(strstr(t->cdata, b64(x, sizeof x - 1)));
    t_free(t);
    profile_free(p);
}

static void sasl_mechanisms(void **state)
{
    (void)state;
    profile *p = load("generic", NULL, 0);
    tsess *t = t_new(p, 993, NULL);
    take(t);
    /* PLAIN without an initial response */
    expect(t, "a1 AUTHENTICATE PLAIN\r\n", "+ \r\n");
    const char plain_bad[] = "\0alice@example.test\0nope";
    char line[512];
    snprintf(line, sizeof line, "%s\r\n", b64(plain_bad, sizeof plain_bad - 1));
    expect(t, line, "a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
    /* cancel and bad base64 */
    expect(t, "a2 AUTHENTICATE PLAIN\r\n", "+ \r\n");
    expect(t, "*\r\n", "a2 BAD AUTHENTICATE cancelled\r\n");
    expect(t, "a3 AUTHENTICATE LOGIN\r\n", "+ VXNlcm5hbWU6\r\n");
    expect(t, "!!\r\n", "a3 BAD Invalid SASL response\r\n");
    /* a mechanism not offered */
    expect(t, "a4 AUTHENTICATE NTLM\r\n", "a4 NO Unsupported authentication mechanism\r\n");
    assert_non_null(strstr(t->events, "mech-not-offered mech=NTLM"));
    /* CRAM-MD5 */
    expect_prefix(t, "a5 AUTHENTICATE CRAM-MD5\r\n", "+ ");
    feed(t, "a5x\r\n"); /* not base64: bad blob */
    assert_string_equal(take(t), "a5 BAD Invalid SASL response\r\n");
    feed(t, "a6 AUTHENTICATE CRAM-MD5\r\n");
    const char *ch = take(t);
    char chal[256];
    int cl = b64_decode(ch + 2, strlen(ch) - 4, chal, sizeof chal, 0, NULL);
    assert_true(cl > 0);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    HMAC(EVP_md5(), "alice-password-1", 16, (unsigned char *)chal, (size_t)cl, md, &mdlen);
    char resp[256];
    int rl = snprintf(resp, sizeof resp, "alice@example.test ");
    for (unsigned i = 0; i < mdlen; i++)
        rl += snprintf(resp + rl, sizeof resp - (size_t)rl, "%02x", md[i]);
    snprintf(line, sizeof line, "%s\r\n", b64(resp, (size_t)rl));
    expect_prefix(t, line, "a6 OK [CAPABILITY IMAP4rev1 ");
    assert_non_null(strstr(t->events, "auth-ok mech=CRAM-MD5 user=alice@example.test"));
    assert_non_null(strstr(t->events, "auth-cancelled mech=PLAIN"));
    assert_non_null(strstr(t->events, "auth-bad-blob mech=LOGIN"));
    assert_null(strstr(t->cdata, "nope"));
    t_free(t);

    /* LOGIN mechanism with SASL-IR: the IR is the user name */
    t = t_new(p, 993, NULL);
    take(t);
    snprintf(line, sizeof line, "a1 AUTHENTICATE LOGIN %s\r\n", b64("alice@example.test", 18));
    expect(t, line, "+ UGFzc3dvcmQ6\r\n");
    snprintf(line, sizeof line, "%s\r\n", b64("alice-password-1", 16));
    expect_prefix(t, line, "a1 OK [CAPABILITY");
    assert_null(strstr(t->cdata, b64("alice-password-1", 16)));
    assert_non_null(strstr(t->cdata, b64("alice@example.test", 18)));
    t_free(t);
    profile_free(p);
}

/* ---- limits and framing ------------------------------------------------------------------------ */

static void line_and_literal_limits(void **state)
{
    (void)state;
    static const char *const sets[] = {"imap.max_literal=100"};
    profile *p = load("exchange", sets, 1);
    tsess *t = t_new(p, 993, NULL);
    take(t);
    expect(t, "a1 LOGIN tony@contoso.com Contoso-pass-1\r\n", "a1 OK LOGIN completed.\r\n");
    expect(t, "a2 APPEND Inbox {200}\r\n", "a2 NO [TOOBIG] The message is too large.\r\n");
    expect(t, "a3 APPEND Inbox {10}\r\n", "+ Ready for additional command text.\r\n");
    expect(t, "Subject: x\r\n", "a3 OK [APPENDUID 1000 7] APPEND completed.\r\n");
    expect(t, "a4 APPEND Inbox (\\Seen) {10+}\r\nSubject: y\r\n", "a4 OK [APPENDUID 1000 8] APPEND completed.\r\n");
    expect(t, "a5 APPEND Inbox {200+}\r\n", "a5 NO [TOOBIG] The message is too large.\r\n");
    assert_true(t->closed); /* RFC 7888: a refused {n+} cannot be skipped */
    t_free(t);

    t = t_new(p, 993, NULL);
    take(t);
    size_t n = 20000;
    char *big = malloc(n + 3);
    memset(big, 'x', n);
    memcpy(big, "a1 ", 3);
    memcpy(big + n, "\r\n", 3);
    feed(t, big);
    assert_string_equal(take(t), "* BAD Command line too long.\r\n");
    assert_true(t->closed);
    assert_non_null(strstr(t->events, "line-too-long limit=10240"));
    free(big);
    t_free(t);
    profile_free(p);
}

static void byte_at_a_time(void **state)
{
    (void)state;
    profile *p = load("generic", NULL, 0);
    const char *script = "a1 LOGIN alice@example.test {16}\r\nalice-password-1\r\n"
                         "a2 SELECT INBOX\r\na3 FETCH 1:2 (UID FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])\r\n"
                         "a4 SEARCH OR SEEN UNSEEN\r\na5 LOGOUT\r\n";
    tsess *whole = t_new(p, 993, NULL);
    feed(whole, script);
    char *want = strdup(take(whole));
    tsess *t = t_new(p, 993, NULL);
    size_t n = strlen(script), have = 0;
    char buf[1024];
    for (size_t i = 0; i < n; i++) {
        buf[have++] = script[i];
        size_t k = feed_n(t, buf, have);
        memmove(buf, buf + k, have - k);
        have -= k;
    }
    assert_int_equal(have, 0);
    assert_string_equal(take(t), want);
    assert_null(strstr(t->cdata, "alice-password-1"));
    free(want);
    t_free(t);
    t_free(whole);
    profile_free(p);
}

static void strict_violation_served_leniently(void **state)
{
    (void)state;
    profile *p = load("generic", NULL, 0);
    tsess *t = t_new(p, 993, NULL);
    take(t);
    expect(t, "a1  noop\n", "a1 OK NOOP completed\r\n");
    assert_non_null(strstr(t->events, "strict-violation rule="));
    expect(t, "a2 FROB x\r\n", "a2 BAD Unknown command\r\n");
    expect(t, "a3 LOGIN\r\n", "a3 BAD Error in IMAP command: syntax error\r\n");
    expect(t, "\r\n", "* BAD Error in IMAP command: syntax error\r\n");
    t_free(t);
    profile_free(p);
}

static void client_hello_answers(void **state)
{
    (void)state;
    static const unsigned char hello[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00};
    static const char *const variants[][1] = {{"listener.143.tls_hello=reply"},
                                              {"listener.143.tls_hello=close"},
                                              {"listener.143.tls_hello=silence"}};
    for (int v = 0; v < 3; v++) {
        profile *p = load("exchange", variants[v], 1);
        tsess *t = t_new(p, 143, NULL);
        take(t);
        size_t k = feed_n(t, (const char *)hello, sizeof hello);
        assert_int_equal(k, sizeof hello);
        const char *out = take(t);
        if (v == 0)
            assert_string_equal(out, "* BAD Command Error. 10\r\n");
        else
            assert_string_equal(out, "");
        assert_int_equal(t->closed, v == 1);
        t_free(t);
        profile_free(p);
    }
}

static void timeout_and_too_many(void **state)
{
    (void)state;
    profile *p = load("icloud", NULL, 0);
    tsess *t = t_new(p, 993, NULL);
    take(t);
    t->s->ops->timeout(t->s);
    assert_string_equal(take(t), "* BYE Idle timeout\r\n");
    t_free(t);
    profile_free(p);
    assert_true(imapd_session_size() <= 400);
}

/* ---- mailbox and message commands ---------------------------------------------------------------- */

static tsess *logged_in(profile *p, store *st)
{
    tsess *t = t_new(p, 993, st);
    take(t);
    feed(t, "l1 LOGIN alice@example.test alice-password-1\r\n");
    take(t);
    return t;
}

static void mailbox_commands(void **state)
{
    (void)state;
    profile *p = load("generic", NULL, 0);
    tsess *t = logged_in(p, NULL);
    expect(t, "a1 LIST \"\" *\r\n",
           "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
           "* LIST (\\Archive \\HasNoChildren) \"/\" Archive\r\n"
           "* LIST (\\Drafts \\HasNoChildren) \"/\" Drafts\r\n"
           "* LIST (\\Junk \\HasNoChildren) \"/\" Junk\r\n"
           "* LIST (\\Sent \\HasNoChildren) \"/\" Sent\r\n"
           "* LIST (\\Trash \\HasNoChildren) \"/\" Trash\r\n"
           "a1 OK LIST completed\r\n");
    expect(t, "a2 LIST \"\" \"\"\r\n", "* LIST (\\Noselect) \"/\" \"\"\r\na2 OK LIST completed\r\n");
    expect(t, "a3 CREATE Work/Deep/\r\n", "a3 OK CREATE completed\r\n");
    expect(t, "a4 LIST Work %\r\n", "* LIST (\\HasChildren) \"/\" Work\r\na4 OK LIST completed\r\n");
    expect(t, "a5 LIST \"\" Work/%\r\n", "* LIST (\\HasNoChildren) \"/\" Work/Deep\r\na5 OK LIST completed\r\n");
    expect(t, "a6 CREATE Work\r\n", "a6 NO [ALREADYEXISTS] Mailbox already exists\r\n");
    expect(t, "a7 RENAME Work/Deep Work/Shallow\r\n", "a7 OK RENAME completed\r\n");
    expect(t, "a8 SUBSCRIBE Work/Shallow\r\n", "a8 OK SUBSCRIBE completed\r\n");
    expect(t, "a9 LSUB \"\" Work*\r\n", "* LSUB (\\HasNoChildren) \"/\" Work/Shallow\r\na9 OK LSUB completed\r\n");
    expect(t, "b1 UNSUBSCRIBE Work/Shallow\r\n", "b1 OK UNSUBSCRIBE completed\r\n");
    expect(t, "b2 DELETE Work/Shallow\r\n", "b2 OK DELETE completed\r\n");
    expect(t, "b3 DELETE Nope\r\n", "b3 NO [NONEXISTENT] Mailbox does not exist\r\n");
    expect(t, "b4 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)\r\n",
           "* STATUS INBOX (MESSAGES 6 UIDNEXT 7 UIDVALIDITY 1000 UNSEEN 6 RECENT 6)\r\nb4 OK STATUS completed\r\n");
    expect(t, "b5 NAMESPACE\r\n", "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nb5 OK NAMESPACE completed\r\n");
    expect(t, "b6 ID (\"name\" \"test\")\r\n", "* ID (\"name\" \"mailrig\")\r\nb6 OK ID completed\r\n");
    expect(t, "b7 ENABLE CONDSTORE\r\n", "* ENABLED\r\nb7 OK ENABLE completed\r\n");
    expect(t, "b8 FETCH 1 FLAGS\r\n", "b8 BAD Command not valid in this state\r\n");
    expect(t, "b9 SELECT INBOX\r\n",
           "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 6 EXISTS\r\n* 6 RECENT\r\n"
           "* OK [UNSEEN 1] Message 1 is first unseen\r\n"
           "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Limited\r\n"
           "* OK [UIDVALIDITY 1000] UIDs valid\r\n* OK [UIDNEXT 7] Predicted next UID\r\n"
           "b9 OK [READ-WRITE] SELECT completed\r\n");
    expect(t, "c1 CHECK\r\n", "c1 OK CHECK completed\r\n");
    expect(t, "c2 UNSELECT\r\n", "c2 OK UNSELECT completed\r\n");
    expect(t, "c3 EXAMINE INBOX\r\n",
           "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 6 EXISTS\r\n* 0 RECENT\r\n"
           "* OK [UNSEEN 1] Message 1 is first unseen\r\n* OK [PERMANENTFLAGS ()] Limited\r\n"
           "* OK [UIDVALIDITY 1000] UIDs valid\r\n* OK [UIDNEXT 7] Predicted next UID\r\n"
           "c3 OK [READ-ONLY] EXAMINE completed\r\n");
    expect(t, "c4 STORE 1 +FLAGS (\\Seen)\r\n", "c4 NO Mailbox is read-only\r\n");
    expect(t, "c5 CLOSE\r\n", "c5 OK CLOSE completed\r\n");
    expect(t, "c6 SELECT Nope\r\n", "c6 NO [NONEXISTENT] Mailbox does not exist\r\n");
    t_free(t);
    profile_free(p);
}

static void message_commands(void **state)
{
    (void)state;
    profile *p = load("generic", NULL, 0);
    tsess *t = logged_in(p, NULL);
    feed(t, "s SELECT INBOX\r\n");
    take(t);
    expect(t, "a1 FETCH 1 (UID RFC822.SIZE FLAGS)\r\n", "* 1 FETCH (UID 1 RFC822.SIZE 816 FLAGS (\\Recent))\r\na1 OK FETCH completed\r\n");
    expect(t, "a2 FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])\r\n",
           "* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {40}\r\nSubject: Welcome to your new mailbox\r\n\r\n)\r\n"
           "a2 OK FETCH completed\r\n");
    expect(t, "a3 FETCH 1 (BODY[TEXT]<0.5>)\r\n",
           "* 1 FETCH (BODY[TEXT]<0> {5}\r\nHello FLAGS (\\Seen \\Recent))\r\na3 OK FETCH completed\r\n");
    expect(t, "a4 FETCH 1 BODY\r\n",
           "* 1 FETCH (BODY (\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL \"7bit\" 295 10))\r\n"
           "a4 OK FETCH completed\r\n");
    expect_contains(t, "a5 FETCH 6 BODYSTRUCTURE\r\n", "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 551 (");
    expect_contains(t, "a6 FETCH 1 ENVELOPE\r\n",
                    "ENVELOPE (\"Mon, 04 Mar 2024 09:12:30 +0000\" \"Welcome to your new mailbox\" ((\"Example Support\" NIL \"support\" \"example.com\"))");
    expect_contains(t, "a7 FETCH 2 ALL\r\n", "INTERNALDATE \" 5-Mar-2024 16:45:00 +0100\" RFC822.SIZE 1248 ENVELOPE (");
    expect_contains(t, "a8 FETCH 6 (BODY[2.HEADER] BODY[2.1.MIME] BODY[9])\r\n", "BODY[9] NIL FLAGS (\\Seen \\Recent))");
    expect(t, "a9 FETCH 1 (X-UNKNOWN)\r\n", "a9 BAD Unknown FETCH item\r\n");
    expect(t, "b1 SEARCH SEEN\r\n", "* SEARCH 1 6\r\nb1 OK SEARCH completed\r\n");
    expect(t, "b2 SEARCH NOT SEEN FROM maria\r\n", "* SEARCH 3\r\nb2 OK SEARCH completed\r\n");
    expect(t, "b3 UID SEARCH OR 1 UID 5:* SMALLER 100000\r\n", "* SEARCH 1 5 6\r\nb3 OK UID SEARCH completed\r\n");
    expect(t, "b4 SEARCH SENTBEFORE 6-Mar-2024 (HEADER Subject \"update\")\r\n", "* SEARCH 2\r\nb4 OK SEARCH completed\r\n");
    expect(t, "b5 SEARCH CHARSET KOI8-R ALL\r\n", "b5 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\r\n");
    expect(t, "b6 SEARCH FROB\r\n", "b6 BAD Error in IMAP command: syntax error\r\n");
    expect(t, "b7 SEARCH RETURN (MIN MAX COUNT) NEW\r\n", "* ESEARCH (TAG \"b7\") MIN 2 MAX 5 COUNT 4\r\nb7 OK SEARCH completed\r\n");
    expect(t, "c1 STORE 2:3 +FLAGS (\\Deleted $Work)\r\n",
           "* 2 FETCH (FLAGS (\\Deleted $Work \\Recent))\r\n* 3 FETCH (FLAGS (\\Deleted $Work \\Recent))\r\n"
           "c1 OK STORE completed\r\n");
    expect(t, "c2 UID STORE 3 -FLAGS.SILENT (\\Deleted)\r\n", "c2 OK UID STORE completed\r\n");
    expect(t, "c3 COPY 1:2 Archive\r\n", "c3 OK [COPYUID 1005 1:2 1:2] COPY completed\r\n");
    expect(t, "c4 COPY 1 Nope\r\n", "c4 NO [TRYCREATE] Mailbox does not exist\r\n");
    expect(t, "c5 UID MOVE 4 Archive\r\n",
           "* OK [COPYUID 1005 4 3] Moved UIDs.\r\n* 4 EXPUNGE\r\nc5 OK UID MOVE completed\r\n");
    expect(t, "c6 EXPUNGE\r\n", "* 2 EXPUNGE\r\nc6 OK EXPUNGE completed\r\n");
    expect(t, "c7 STORE 1 +FLAGS (\\Deleted)\r\n", "* 1 FETCH (FLAGS (\\Seen \\Deleted \\Recent))\r\nc7 OK STORE completed\r\n");
    expect(t, "c8 UID EXPUNGE 2:*\r\n", "c8 OK UID EXPUNGE completed\r\n");
    expect(t, "c9 UID EXPUNGE 1\r\n", "* 1 EXPUNGE\r\nc9 OK UID EXPUNGE completed\r\n");
    expect(t, "d1 IDLE\r\n", "+ idling\r\n");
    expect(t, "DONE\r\n", "d1 OK IDLE completed\r\n");
    expect(t, "d2 IDLE\r\n", "+ idling\r\n");
    expect(t, "NOPE\r\n", "d2 BAD Expected DONE\r\n");
    expect(t, "d3 FETCH 999 FLAGS\r\n", "d3 OK FETCH completed\r\n");
    expect(t, "d4 FETCH x FLAGS\r\n", "d4 BAD Error in IMAP command: syntax error\r\n");
    t_free(t);
    profile_free(p);
}

static void untagged_updates_between_sessions(void **state)
{
    (void)state;
    profile *p = load("generic", NULL, 0);
    tsess *a = logged_in(p, NULL);
    tsess *b = logged_in(p, a->st);
    feed(a, "a SELECT INBOX\r\n");
    take(a);
    feed(b, "b SELECT INBOX\r\n");
    take(b);
    expect(b, "b1 STORE 1 +FLAGS (\\Deleted)\r\n", "* 1 FETCH (FLAGS (\\Deleted))\r\nb1 OK STORE completed\r\n");
    expect(b, "b2 EXPUNGE\r\n", "* 1 EXPUNGE\r\nb2 OK EXPUNGE completed\r\n");
    expect(b, "b3 APPEND INBOX {10}\r\n", "+ Ready for literal data\r\n");
    expect(b, "Subject: z\r\n", "* 6 EXISTS\r\n* 1 RECENT\r\nb3 OK [APPENDUID 1000 7] APPEND completed\r\n");
    /* FETCH must not send EXPUNGE (RFC 3501 7.4.1); NOOP does */
    expect(a, "a1 FETCH 2 UID\r\n", "* 2 FETCH (UID 2)\r\n* 7 EXISTS\r\n* 6 RECENT\r\na1 OK FETCH completed\r\n");
    expect(a, "a2 NOOP\r\n", "* 1 EXPUNGE\r\na2 OK NOOP completed\r\n");
    t_free(b);
    t_free(a);
    profile_free(p);
}

static void oauthbearer_and_streamed_secret(void **state)
{
    (void)state;
    static const char *const sets[] = {"imap.mechs_tls=PLAIN XOAUTH2 OAUTHBEARER"};
    profile *p = load("exchange", sets, 1);
    tsess *t = t_new(p, 993, NULL);
    take(t);
    const char m[] = "n,a=tony@contoso.com,\001auth=Bearer tony-oauth-token\001\001";
    char line[512];
    expect(t, "a1 AUTHENTICATE OAUTHBEARER\r\n", "+ \r\n");
    snprintf(line, sizeof line, "%s\r\n", b64(m, sizeof m - 1));
    expect(t, line, "a1 OK AUTHENTICATE completed.\r\n");
    assert_non_null(strstr(t->events, "auth-ok mech=OAUTHBEARER user=tony@contoso.com"));
    assert_null(strstr(t->cdata, "tony-oauth-token"));
    t_free(t);

    /* a LOGIN whose password literal is big enough to be streamed is still redacted */
    t = t_new(p, 993, NULL);
    take(t);
    size_t n = 40000;
    char *big = malloc(n + 64);
    int k = snprintf(big, 64, "a1 LOGIN tony@contoso.com {%zu+}\r\n", n);
    memset(big + k, 'S', n);
    memcpy(big + k + n, "\r\n", 3);
    feed(t, big);
    assert_string_equal(take(t), "a1 BAD Command Error. 10\r\n");
    assert_null(strstr(t->cdata, "SSSSSSSSSS"));
    free(big);
    t_free(t);
    profile_free(p);
}

static void debug_state_events(void **state)
{
    (void)state;
    imapd_set_debug(1);
    profile *p = load("generic", NULL, 0);
    tsess *t = logged_in(p, NULL);
    feed(t, "a SELECT INBOX\r\n");
    assert_non_null(strstr(t->events, "state from=not-authenticated to=authenticated"));
    assert_non_null(strstr(t->events, "state from=authenticated to=selected"));
    t_free(t);
    profile_free(p);
    imapd_set_debug(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greeting_icloud),
        cmocka_unit_test(greeting_exchange_143_and_starttls_reset),
        cmocka_unit_test(generic_login_ok_has_capability_code),
        cmocka_unit_test(icloud_failures_close),
        cmocka_unit_test(icloud_local_and_full_forms),
        cmocka_unit_test(exchange_states),
        cmocka_unit_test(sasl_mechanisms),
        cmocka_unit_test(line_and_literal_limits),
        cmocka_unit_test(byte_at_a_time),
        cmocka_unit_test(strict_violation_served_leniently),
        cmocka_unit_test(client_hello_answers),
        cmocka_unit_test(timeout_and_too_many),
        cmocka_unit_test(mailbox_commands),
        cmocka_unit_test(message_commands),
        cmocka_unit_test(untagged_updates_between_sessions),
        cmocka_unit_test(oauthbearer_and_streamed_secret),
        cmocka_unit_test(debug_state_events),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
