/* test_probe.c -- the pure half of `mailrig probe` (harness/probe.c): capability reading,
 * port classification, per-setting verdicts, the recommendation and the signals, on
 * hand-made attempt records (no sockets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "harness/probe.h"

static int identity(void *ctx, int port)
{
    (void)ctx;
    return port + 10000;
}

static int skip_pop(void *ctx, int port)
{
    (void)ctx;
    return probe_port_proto(port) == PROFILE_POP3 ? 0 : port;
}

static probe_attempt *find(probe_result *r, int port, probe_start start)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->a[i].provider_port == port && r->a[i].start == start)
            return &r->a[i];
    fail_msg("no attempt %d/%d in the plan", port, (int)start);
    return NULL;
}

/* Every attempt of the plan refused: a host with nothing listening. */
static void all_refused(probe_result *r)
{
    probe_plan(r, identity, NULL);
    for (size_t i = 0; i < r->n; i++)
        r->a[i].outcome = PROBE_REFUSED;
}

static void good_tls(probe_attempt *a)
{
    a->tls.done = true;
    a->tls.verify = TLS_VERIFY_OK;
    a->tls.host_match = true;
    strcpy(a->tls.version, "TLSv1.3");
}

/* An implicit-TLS port that greets and offers mechs after TLS. */
static void implicit_ok(probe_result *r, int port, const char *greeting, const char *caps)
{
    probe_attempt *a = find(r, port, PROBE_START_TLS);
    a->outcome = PROBE_TLS_OK;
    good_tls(a);
    strcpy(a->greeting, greeting);
    a->greeting_ok = probe_greeting_ok(a->proto, greeting);
    a->caps_known_after = true;
    probe_offer_parse(a->proto, caps, &a->after);
}

/* A STARTTLS port: plaintext greeting and caps, upgrade, caps after; its TLS-first twin got
 * the plaintext greeting. */
static void starttls_ok(probe_result *r, int port, const char *greeting, const char *before,
                        const char *after)
{
    probe_attempt *a = find(r, port, PROBE_START_PLAIN);
    a->outcome = PROBE_PLAINTEXT;
    strcpy(a->greeting, greeting);
    a->greeting_ok = probe_greeting_ok(a->proto, greeting);
    a->caps_known_before = a->caps_known_after = true;
    probe_offer_parse(a->proto, before, &a->before);
    probe_offer_parse(a->proto, after, &a->after);
    a->starttls = PROBE_STLS_OK;
    good_tls(a);
    probe_attempt *t = find(r, port, PROBE_START_TLS);
    t->outcome = PROBE_PLAINTEXT;
    strcpy(t->greeting, greeting);
    t->greeting_ok = a->greeting_ok;
}

static bool has_signal(const probe_result *r, const char *code, int port)
{
    probe_signal s[64];
    size_t n = probe_signals(r, "127.0.0.1", s, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        if (strcmp(s[i].code, code) == 0 && s[i].provider_port == port)
            return true;
    return false;
}

/* ---- reading ------------------------------------------------------------------------------- */

static void offer_imap(void **state)
{
    (void)state;
    probe_offer o;
    probe_offer_parse(PROFILE_IMAP, "IMAP4rev1 STARTTLS LOGINDISABLED AUTH=plain AUTH=XOAUTH2 AUTH=PLAIN",
                      &o);
    assert_true(o.starttls);
    assert_false(o.login);
    assert_string_equal(o.mechs, "PLAIN XOAUTH2"); /* upper-cased, deduplicated */
    probe_offer_parse(PROFILE_IMAP, "IMAP4rev1 SASL-IR AUTH=ATOKEN AUTH=PLAIN", &o);
    assert_false(o.starttls);
    assert_true(o.login);
    assert_string_equal(o.mechs, "ATOKEN PLAIN");
    probe_offer_parse(PROFILE_IMAP, "", &o);
    assert_string_equal(o.mechs, "");
}

static void offer_smtp_pop3(void **state)
{
    (void)state;
    probe_offer o;
    probe_offer_parse(PROFILE_SMTP, "SIZE 157286400\nPIPELINING\nAUTH LOGIN XOAUTH2\nAUTH=LOGIN\n8BITMIME",
                      &o);
    assert_false(o.starttls);
    assert_false(o.login);
    assert_string_equal(o.mechs, "LOGIN XOAUTH2");
    probe_offer_parse(PROFILE_SMTP, "PIPELINING\nSTARTTLS\nAUTHX FOO", &o);
    assert_true(o.starttls);
    assert_string_equal(o.mechs, ""); /* AUTHX is not AUTH */
    probe_offer_parse(PROFILE_POP3, "TOP\nUIDL\nSASL PLAIN XOAUTH2\nUSER\nSTLS", &o);
    assert_true(o.starttls);
    assert_true(o.login);
    assert_string_equal(o.mechs, "PLAIN XOAUTH2");
    probe_offer_parse(PROFILE_POP3, "TOP\nUIDL", &o);
    assert_false(o.login);
}

static void greetings_and_sanitize(void **state)
{
    (void)state;
    assert_true(probe_greeting_ok(PROFILE_IMAP, "* OK [CAPABILITY IMAP4rev1] ready"));
    assert_true(probe_greeting_ok(PROFILE_IMAP, "* PREAUTH hi"));
    assert_false(probe_greeting_ok(PROFILE_IMAP, "* BYE go away"));
    assert_true(probe_greeting_ok(PROFILE_SMTP, "220 mx ESMTP"));
    assert_true(probe_greeting_ok(PROFILE_SMTP, "220-first line"));
    assert_false(probe_greeting_ok(PROFILE_SMTP, "554 5.7.1 no"));
    assert_false(probe_greeting_ok(PROFILE_SMTP, "2200"));
    assert_true(probe_greeting_ok(PROFILE_POP3, "+OK ready"));
    assert_false(probe_greeting_ok(PROFILE_POP3, "-ERR no"));
    char out[16];
    assert_int_equal(probe_sanitize("a\x01\xff" "b\r\n", 6, out, sizeof out), 10);
    assert_string_equal(out, "a\\x01\\xFFb");
    assert_int_equal(probe_sanitize("abcdefghijklmnopqrstuvwxyz", 26, out, 8), 7);
    assert_string_equal(out, "abcdefg");
}

static void host_loopback_only(void **state)
{
    (void)state;
    struct sockaddr_storage sa;
    socklen_t len;
    char why[512];
    const char *ok[] = {"127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(probe_host_parse(ok[i], &sa, &len, why, sizeof why), 0);
    assert_int_equal(probe_host_parse("localhost", &sa, &len, why, sizeof why), 0);
    assert_int_equal(sa.ss_family, AF_INET); /* localhost means 127.0.0.1: never looked up */
    const char *bad[] = {"imap.mail.me.com", "10.0.0.1",  "0.0.0.0",   "::",  "::ffff:127.0.0.1",
                         "128.0.0.1",        "127.0.0.1.nip.io", "localhost.", "", "[127.0.0.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(probe_host_parse(bad[i], &sa, &len, why, sizeof why), -1);
        assert_non_null(strstr(why, "refusing to probe"));
    }
    assert_int_equal(probe_host_parse(NULL, &sa, &len, why, sizeof why), -1);
}

/* ---- the plan and the verdicts --------------------------------------------------------------- */

static void plan_shape(void **state)
{
    (void)state;
    probe_result r;
    probe_plan(&r, identity, NULL);
    assert_int_equal(r.n, 11); /* 3 implicit ports once, 4 plaintext ports twice */
    assert_int_equal(find(&r, 993, PROBE_START_TLS)->port, 10993);
    assert_int_equal(find(&r, 587, PROBE_START_PLAIN)->proto, PROFILE_SMTP);
    assert_int_equal(find(&r, 587, PROBE_START_TLS)->port, 10587);
    probe_plan(&r, skip_pop, NULL);
    assert_int_equal(find(&r, 995, PROBE_START_TLS)->port, 0);
    assert_int_equal(probe_port_classify(&r, 995), PROBE_PORT_UNMAPPED); /* not run */
    assert_int_equal(probe_port_proto(2525), PROFILE_PROTO_COUNT);
}

static void classify_ports(void **state)
{
    (void)state;
    probe_result r;
    all_refused(&r);
    assert_int_equal(probe_port_classify(&r, 993), PROBE_PORT_CLOSED);
    implicit_ok(&r, 993, "* OK hi", "IMAP4rev1 AUTH=PLAIN");
    assert_int_equal(probe_port_classify(&r, 993), PROBE_PORT_IMPLICIT);
    starttls_ok(&r, 587, "220 hi", "STARTTLS", "AUTH PLAIN");
    assert_int_equal(probe_port_classify(&r, 587), PROBE_PORT_STARTTLS);
    /* silent: both attempts connected and heard nothing */
    find(&r, 143, PROBE_START_PLAIN)->outcome = PROBE_SILENT;
    find(&r, 143, PROBE_START_TLS)->outcome = PROBE_SILENT;
    assert_int_equal(probe_port_classify(&r, 143), PROBE_PORT_SILENT);
    /* implicit TLS on a plaintext port number */
    find(&r, 110, PROBE_START_PLAIN)->outcome = PROBE_SILENT;
    implicit_ok(&r, 110, "+OK hi", "USER");
    assert_int_equal(probe_port_classify(&r, 110), PROBE_PORT_IMPLICIT);
    /* plain: greeting, no STARTTLS */
    probe_attempt *p = find(&r, 25, PROBE_START_PLAIN);
    p->outcome = PROBE_PLAINTEXT;
    strcpy(p->greeting, "220 mx");
    p->greeting_ok = true;
    assert_int_equal(probe_port_classify(&r, 25), PROBE_PORT_PLAIN);
    p->before.starttls = true;
    p->starttls = PROBE_STLS_REFUSED;
    assert_int_equal(probe_port_classify(&r, 25), PROBE_PORT_STARTTLS_BROKEN);
    p->greeting_ok = false;
    assert_int_equal(probe_port_classify(&r, 25), PROBE_PORT_REJECTS);
    /* an implicit port number that answers in clear */
    probe_attempt *t = find(&r, 465, PROBE_START_TLS);
    t->outcome = PROBE_PLAINTEXT;
    t->greeting_ok = true;
    assert_int_equal(probe_port_classify(&r, 465), PROBE_PORT_PLAINTEXT);
    t->outcome = PROBE_TLS_FAILED;
    assert_int_equal(probe_port_classify(&r, 465), PROBE_PORT_ERROR);
    t->outcome = PROBE_CLOSED;
    assert_int_equal(probe_port_classify(&r, 465), PROBE_PORT_ERROR);
}

static void judge_settings(void **state)
{
    (void)state;
    probe_result r;
    all_refused(&r);
    starttls_ok(&r, 143, "* OK hi", "IMAP4rev1 STARTTLS LOGINDISABLED", "IMAP4rev1 AUTH=PLAIN");
    probe_verdict v = probe_judge(&r, (probe_setting){PROFILE_IMAP, 143, PROBE_SEC_STARTTLS});
    assert_true(v.connects && v.auth && v.cert_ok && v.login);
    assert_string_equal(v.mechs, "PLAIN");
    v = probe_judge(&r, (probe_setting){PROFILE_IMAP, 143, PROBE_SEC_PLAIN});
    assert_true(v.connects);
    assert_false(v.auth); /* LOGINDISABLED and no AUTH= before TLS */
    assert_string_equal(v.why, "no authentication offered");
    v = probe_judge(&r, (probe_setting){PROFILE_IMAP, 993, PROBE_SEC_IMPLICIT});
    assert_false(v.connects);
    assert_string_equal(v.why, "connection refused");
    /* the certificate does not name the host: works, with a problem */
    find(&r, 143, PROBE_START_PLAIN)->tls.host_match = false;
    v = probe_judge(&r, (probe_setting){PROFILE_IMAP, 143, PROBE_SEC_STARTTLS});
    assert_true(v.auth);
    assert_false(v.cert_ok);
    /* STARTTLS not offered */
    starttls_ok(&r, 110, "+OK hi", "USER", "USER");
    probe_attempt *p = find(&r, 110, PROBE_START_PLAIN);
    p->starttls = PROBE_STLS_NOT_TRIED;
    p->before.starttls = false;
    v = probe_judge(&r, (probe_setting){PROFILE_POP3, 110, PROBE_SEC_STARTTLS});
    assert_false(v.connects);
    assert_string_equal(v.why, "STARTTLS not offered");
    v = probe_judge(&r, (probe_setting){PROFILE_POP3, 110, PROBE_SEC_PLAIN});
    assert_true(v.auth && v.login); /* USER before TLS */
    /* TLS that answered in plaintext */
    probe_attempt *t = find(&r, 465, PROBE_START_TLS);
    t->outcome = PROBE_PLAINTEXT;
    strcpy(t->greeting, "220 hi");
    v = probe_judge(&r, (probe_setting){PROFILE_SMTP, 465, PROBE_SEC_IMPLICIT});
    assert_false(v.connects);
    assert_string_equal(v.why, "answers in plaintext, not TLS: \"220 hi\"");
    /* silent */
    t->outcome = PROBE_SILENT;
    t->elapsed_ms = 3004;
    v = probe_judge(&r, (probe_setting){PROFILE_SMTP, 465, PROBE_SEC_IMPLICIT});
    assert_string_equal(v.why, "no answer in 3.0 s");
}

/* The profiles' expected recommendations, built by hand. */
static void recommend_icloud_like(void **state)
{
    (void)state;
    probe_result r;
    all_refused(&r);
    implicit_ok(&r, 993, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi", "IMAP4rev1 AUTH=ATOKEN AUTH=PLAIN");
    implicit_ok(&r, 465, "220 hi", "PIPELINING\nAUTH PLAIN LOGIN");
    starttls_ok(&r, 587, "220 hi", "PIPELINING\nSTARTTLS", "PIPELINING\nAUTH PLAIN LOGIN");
    starttls_ok(&r, 25, "220 hi", "PIPELINING\nSTARTTLS", "PIPELINING");
    bool cp;
    int i = probe_recommend(&r, PROFILE_IMAP, &cp);
    assert_int_equal(probe_settings[i].provider_port, 993);
    assert_false(cp);
    i = probe_recommend(&r, PROFILE_SMTP, &cp);
    assert_int_equal(probe_settings[i].provider_port, 587); /* 587 before 465 */
    assert_int_equal(probe_settings[i].sec, PROBE_SEC_STARTTLS);
    assert_int_equal(probe_recommend(&r, PROFILE_POP3, &cp), -1);
    assert_true(has_signal(&r, "plaintext-answer-to-tls", 587));
    assert_true(has_signal(&r, "no-auth-on-25", 25));
    assert_true(has_signal(&r, "no-service", 0));
    assert_false(has_signal(&r, "certificate-untrusted", 0));
    /* 587 gone: 465 is next; an untrusted certificate on 465 is still recommended, flagged */
    find(&r, 587, PROBE_START_PLAIN)->outcome = PROBE_REFUSED;
    find(&r, 465, PROBE_START_TLS)->tls.verify = TLS_VERIFY_UNTRUSTED;
    i = probe_recommend(&r, PROFILE_SMTP, &cp);
    assert_int_equal(probe_settings[i].provider_port, 465);
    assert_true(cp);
    assert_true(has_signal(&r, "certificate-untrusted", 0));
}

static void plaintext_only_is_not_recommended(void **state)
{
    (void)state;
    probe_result r;
    all_refused(&r);
    probe_attempt *p = find(&r, 143, PROBE_START_PLAIN);
    p->outcome = PROBE_PLAINTEXT;
    strcpy(p->greeting, "* OK hi");
    p->greeting_ok = true;
    p->caps_known_before = true;
    probe_offer_parse(PROFILE_IMAP, "IMAP4rev1 AUTH=PLAIN", &p->before);
    bool cp;
    assert_int_equal(probe_recommend(&r, PROFILE_IMAP, &cp), -1);
    assert_true(has_signal(&r, "auth-before-tls", 143));
    assert_true(has_signal(&r, "no-secure-login", 0));
    probe_signal s[64];
    size_t n = probe_signals(&r, "127.0.0.1", s, 64);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].code, "auth-before-tls"))
            found = strstr(s[i].text, "143 accepts LOGIN and AUTH PLAIN before TLS") != NULL;
    assert_true(found);
}

static void mismatch_signals(void **state)
{
    (void)state;
    probe_result r;
    all_refused(&r);
    /* implicit TLS where STARTTLS was expected */
    find(&r, 587, PROBE_START_PLAIN)->outcome = PROBE_SILENT;
    implicit_ok(&r, 587, "220 hi", "AUTH PLAIN");
    assert_true(has_signal(&r, "implicit-tls-on-plaintext-port", 587));
    /* a silent port */
    find(&r, 993, PROBE_START_TLS)->outcome = PROBE_SILENT;
    assert_true(has_signal(&r, "silent", 993));
    /* a plaintext answer on an implicit port number */
    probe_attempt *t = find(&r, 995, PROBE_START_TLS);
    t->outcome = PROBE_PLAINTEXT;
    strcpy(t->greeting, "+OK hi");
    t->greeting_ok = true;
    assert_true(has_signal(&r, "plaintext-answer-to-tls", 995));
    /* bytes after the STARTTLS reply, and a failed upgrade */
    starttls_ok(&r, 143, "* OK hi", "STARTTLS", "AUTH=PLAIN");
    find(&r, 143, PROBE_START_PLAIN)->injected = 12;
    assert_true(has_signal(&r, "starttls-injection", 143));
    find(&r, 143, PROBE_START_PLAIN)->starttls = PROBE_STLS_FAILED;
    assert_true(has_signal(&r, "starttls-failed", 143));
    assert_int_equal(probe_port_classify(&r, 143), PROBE_PORT_STARTTLS_BROKEN);
    /* signals never overflow the caller's array */
    probe_signal one[1];
    assert_true(probe_signals(&r, "127.0.0.1", one, 1) > 1);
}

/* ---- the conversation, over memory ------------------------------------------------------- */

static probe_attempt converse(profile_proto proto, probe_start start, const char *in, size_t cut)
{
    probe_attempt a = {.proto = proto, .start = start, .provider_port = 1, .port = 1};
    size_t cuts[1] = {cut};
    probe_converse_memory(&a, in, strlen(in), cuts, cut ? 1 : 0);
    return a;
}

/* The same attempt fed one byte at a time (Dovecot's test): the same findings. */
static void assert_bytewise_same(const probe_attempt *whole, const char *in)
{
    size_t n = strlen(in);
    size_t cuts[2048];
    assert_true(n < 2048);
    for (size_t i = 0; i + 1 < n; i++)
        cuts[i] = i + 1;
    probe_attempt b = {.proto = whole->proto, .start = whole->start, .provider_port = 1, .port = 1};
    probe_converse_memory(&b, in, n, cuts, n ? n - 1 : 0);
    assert_int_equal(b.outcome, whole->outcome);
    assert_string_equal(b.greeting, whole->greeting);
    assert_string_equal(b.caps_before, whole->caps_before);
    assert_string_equal(b.before.mechs, whole->before.mechs);
}

static const char imap_starttls_1[] =
    "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n"
    "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\np1 OK done\r\np2 OK Begin TLS\r\n";
static const char imap_starttls_2[] = "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2\r\np3 OK\r\n";

static void converse_imap_starttls(void **state)
{
    (void)state;
    char in[512];
    snprintf(in, sizeof in, "%s%s", imap_starttls_1, imap_starttls_2);
    probe_attempt a = converse(PROFILE_IMAP, PROBE_START_PLAIN, in, strlen(imap_starttls_1));
    assert_int_equal(a.outcome, PROBE_PLAINTEXT);
    assert_true(a.greeting_ok);
    assert_string_equal(a.greeting, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi");
    assert_true(a.before.starttls);
    assert_false(a.before.login);
    assert_int_equal(a.starttls, PROBE_STLS_OK);
    assert_true(a.caps_known_after);
    assert_string_equal(a.after.mechs, "PLAIN XOAUTH2");
    assert_true(a.after.login);
    assert_int_equal(a.injected, 0);
    /* the same bytes in one piece: what followed the STARTTLS reply came before our handshake */
    a = converse(PROFILE_IMAP, PROBE_START_PLAIN, in, 0);
    assert_int_equal(a.injected, strlen(imap_starttls_2));
    assert_false(a.caps_known_after);
    assert_bytewise_same(&a, in);
    /* an untagged line before the tagged STARTTLS reply; then a refusal */
    a = converse(PROFILE_IMAP, PROBE_START_PLAIN,
                 "* OK hi\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\np1 OK\r\n* OK [ALERT] note\r\n"
                 "p2 BAD not now\r\n", 0);
    assert_int_equal(a.starttls, PROBE_STLS_REFUSED);
    assert_string_equal(a.detail, "\"p2 BAD not now\"");
}

static void converse_smtp_multiline(void **state)
{
    (void)state;
    const char *first = "220-mx.example ESMTP\r\n220 second line\r\n250-mx.example\r\n"
                        "250-PIPELINING\r\n250-STARTTLS\r\n250 SIZE 10\r\n220 2.0.0 go\r\n";
    char in[512];
    snprintf(in, sizeof in, "%s250-mx.example\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n", first);
    probe_attempt a = converse(PROFILE_SMTP, PROBE_START_PLAIN, in, strlen(first));
    assert_string_equal(a.greeting, "220-mx.example ESMTP");
    assert_true(a.greeting_ok);
    assert_string_equal(a.caps_before, "PIPELINING\nSTARTTLS\nSIZE 10");
    assert_string_equal(a.before.mechs, "");
    assert_int_equal(a.starttls, PROBE_STLS_OK);
    assert_string_equal(a.after.mechs, "PLAIN LOGIN");
    assert_bytewise_same(&a, in);
    /* STARTTLS refused */
    a = converse(PROFILE_SMTP, PROBE_START_PLAIN,
                 "220 mx\r\n250-mx\r\n250 STARTTLS\r\n454 4.7.0 TLS not available\r\n", 0);
    assert_int_equal(a.starttls, PROBE_STLS_REFUSED);
    assert_string_equal(a.detail, "\"454 4.7.0 TLS not available\"");
    /* a refusing banner ends the conversation */
    a = converse(PROFILE_SMTP, PROBE_START_PLAIN, "554 5.7.1 go away\r\n", 0);
    assert_false(a.greeting_ok);
    assert_false(a.caps_known_before);
}

static void converse_pop3(void **state)
{
    (void)state;
    const char *in = "+OK hi\r\n+OK\r\nUSER\r\nSTLS\r\n..stuffed\r\n.\r\n+OK begin\r\n";
    probe_attempt a = converse(PROFILE_POP3, PROBE_START_PLAIN, in, 0);
    assert_string_equal(a.caps_before, "USER\nSTLS\n.stuffed");
    assert_true(a.before.login && a.before.starttls);
    assert_int_equal(a.starttls, PROBE_STLS_OK);
    assert_false(a.caps_known_after); /* the server hung up before answering CAPA again */
    assert_string_equal(a.detail, "closed by the server while waiting for the capability list");
    assert_bytewise_same(&a, in);
    /* no CAPA at all (RFC 2449 is optional) */
    a = converse(PROFILE_POP3, PROBE_START_PLAIN, "+OK hi\r\n-ERR unknown command\r\n", 0);
    assert_false(a.caps_known_before);
    assert_true(a.greeting_ok);
}

static void converse_tls_first(void **state)
{
    (void)state;
    /* a plaintext banner answering our ClientHello */
    probe_attempt a = converse(PROFILE_SMTP, PROBE_START_TLS, "220 smtp.example ESMTP\r\n", 0);
    assert_int_equal(a.outcome, PROBE_PLAINTEXT);
    assert_string_equal(a.greeting, "220 smtp.example ESMTP");
    assert_true(a.greeting_ok);
    assert_bytewise_same(&a, "220 smtp.example ESMTP\r\n");
    /* ... cut short: what there is becomes the greeting */
    a = converse(PROFILE_SMTP, PROBE_START_TLS, "220 smtp.exa", 0);
    assert_int_equal(a.outcome, PROBE_PLAINTEXT);
    assert_string_equal(a.greeting, "220 smtp.exa");
    /* a TLS record (memory mode: the handshake, 5 + 3 bytes), then the conversation under TLS */
    static const char rec[] = "\x16\x03\x03\x00\x03xxx* OK hi\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\np1 OK\r\n";
    size_t cuts[sizeof rec];
    for (size_t i = 0; i + 2 < sizeof rec; i++)
        cuts[i] = i + 1;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        a = (probe_attempt){.proto = PROFILE_IMAP, .start = PROBE_START_TLS, .port = 1};
        probe_converse_memory(&a, rec, sizeof rec - 1, cuts, bytewise ? sizeof rec - 2 : 0);
        assert_int_equal(a.outcome, PROBE_TLS_OK);
        assert_string_equal(a.greeting, "* OK hi");
        assert_string_equal(a.after.mechs, "PLAIN");
        assert_false(a.caps_known_before);
    }
    /* neither */
    a = converse(PROFILE_IMAP, PROBE_START_TLS, "\x01\x02\x03\x04\x05\x06\x07\x08\x09", 0);
    assert_int_equal(a.outcome, PROBE_GARBAGE);
    /* fewer bytes than it takes to tell, then EOF */
    a = converse(PROFILE_IMAP, PROBE_START_TLS, "* OK", 0);
    assert_int_equal(a.outcome, PROBE_PLAINTEXT);
    assert_string_equal(a.greeting, "* OK");
    a = converse(PROFILE_IMAP, PROBE_START_TLS, "\x16\x03\x03", 0);
    assert_int_equal(a.outcome, PROBE_TLS_FAILED);
    /* nothing at all: closed without a byte */
    a = converse(PROFILE_IMAP, PROBE_START_PLAIN, "", 0);
    assert_int_equal(a.outcome, PROBE_CLOSED);
}

static void converse_hostile(void **state)
{
    (void)state;
    /* 100 KB without a line end: an error, not unbounded memory */
    static char big[100 * 1024 + 1];
    memset(big, 'A', sizeof big - 1);
    probe_attempt a = {.proto = PROFILE_IMAP, .start = PROBE_START_PLAIN, .port = 1};
    probe_converse_memory(&a, big, sizeof big - 1, NULL, 0);
    assert_string_equal(a.detail, "a reply longer than 64 KiB");
    /* control bytes and 8-bit text are escaped in what is kept */
    a = converse(PROFILE_IMAP, PROBE_START_PLAIN, "* OK \x1b[31mred\xff\r\n", 0);
    assert_string_equal(a.greeting, "* OK \\x1B[31mred\\xFF");
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(probe_outcome_name(PROBE_SILENT), "timeout");
    assert_string_equal(probe_outcome_name(PROBE_OUTCOME_COUNT), "?");
    assert_string_equal(probe_port_kind_name(PROBE_PORT_IMPLICIT), "implicit-tls");
    assert_string_equal(probe_port_kind_name(PROBE_PORT_COUNT), "?");
    assert_string_equal(probe_sec_label(PROBE_SEC_IMPLICIT), "SSL/TLS");
    assert_string_equal(probe_stls_name(PROBE_STLS_FAILED), "failed");
    assert_string_equal(probe_severity_name(PROBE_WARN), "warning");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offer_imap),         cmocka_unit_test(offer_smtp_pop3),
        cmocka_unit_test(greetings_and_sanitize), cmocka_unit_test(host_loopback_only),
        cmocka_unit_test(plan_shape),         cmocka_unit_test(classify_ports),
        cmocka_unit_test(judge_settings),     cmocka_unit_test(recommend_icloud_like),
        cmocka_unit_test(plaintext_only_is_not_recommended),
        cmocka_unit_test(mismatch_signals),   cmocka_unit_test(converse_imap_starttls),
        cmocka_unit_test(converse_smtp_multiline), cmocka_unit_test(converse_pop3),
        cmocka_unit_test(converse_tls_first), cmocka_unit_test(converse_hostile),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
