/* test_profile.c -- profile loading, validation messages, overrides, the shipped profiles,
 * capability lists, authentication decisions, show -> load round trips, data paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "servers/paths.h"
#include "servers/profile.h"

/* ---- helpers ---------------------------------------------------------------------------- */

#define SETS(...) ((const char *const[]){__VA_ARGS__}), (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define NOSETS NULL, 0

static profile *load_named(const char *name, const char *const *sets, size_t n)
{
    profile_opts o = {.sets = sets, .n_sets = n};
    profile_diag d = {0};
    profile *p = profile_load(name, &o, &d);
    if (!p) {
        profile_diag_print(&d, stderr);
        profile_diag_free(&d);
        fail_msg("profile %s did not load", name);
    }
    profile_diag_free(&d);
    return p;
}

static profile *load_text(const char *text, const char *const *sets, size_t n, profile_diag *d)
{
    profile_opts o = {.sets = sets, .n_sets = n};
    return profile_load_string(text, strlen(text), "t.ini", &o, d);
}

/* The smallest valid profile: every protocol off, one closed listener. */
#define MINI "# mini\n[profile]\nname = mini\n[imap]\nenabled = no\n[smtp]\nenabled = no\n[pop3]\nenabled = no\n" \
             "[listener.993]\nprotocol = imap\nmode = closed\n"
/* MINI has 12 lines; text appended starts at line 13. */

static void dump_diag(const profile_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "  got: %s\n", d->msg[i]);
}

static bool has_msg(const profile_diag *d, const char *want)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->msg[i], want))
            return true;
    return false;
}

/* Loading text (with sets) fails and reports exactly `want` among its messages. */
static void expect_error(const char *text, const char *const *sets, size_t n, const char *want)
{
    profile_diag d = {0};
    profile *p = load_text(text, sets, n, &d);
    if (p || !has_msg(&d, want)) {
        dump_diag(&d);
        profile_free(p);
        profile_diag_free(&d);
        fail_msg("expected error: %s", want);
    }
    profile_diag_free(&d);
}

static void expand(const template *t, const template_vars *v, char *buf, size_t cap)
{
    assert_non_null(t);
    int n = template_expand(t, v, buf, cap);
    assert_true(n >= 0 && (size_t)n < cap);
}

static const profile_listener *listener(const profile *p, unsigned port)
{
    const profile_listener *l = profile_listener_find(p, port);
    if (!l)
        fail_msg("no listener %u", port);
    return l;
}

static profile_auth_result try_login(const profile *p, profile_proto proto, const char *user, const char *pw)
{
    profile_credentials c = {.via = PROFILE_VIA_LOGIN, .user = user, .user_len = strlen(user), .secret = pw,
                             .secret_len = strlen(pw)};
    return profile_auth_check(p, proto, &c, 0);
}

static profile_auth_result try_sasl(const profile *p, profile_proto proto, int mech, const char *user, const char *secret)
{
    profile_credentials c = {.via = PROFILE_VIA_SASL, .mech = mech, .user = user, .user_len = strlen(user),
                             .secret = secret, .secret_len = strlen(secret)};
    return profile_auth_check(p, proto, &c, 0);
}

/* Write p, load the text back, and require an equal profile. */
static void round_trip(const profile *p)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    assert_int_equal(profile_write(p, f), 0);
    fclose(f);
    profile_diag d = {0};
    profile *q = profile_load_string(text, size, "shown.ini", NULL, &d);
    if (!q) {
        dump_diag(&d);
        fprintf(stderr, "%s", text);
        fail_msg("written profile did not load back");
    }
    char what[200];
    if (!profile_equal(p, q, what, sizeof what))
        fail_msg("round trip changed %s", what);
    /* and writing it again gives the same text */
    char *text2 = NULL;
    size_t size2 = 0;
    f = open_memstream(&text2, &size2);
    profile_write(q, f);
    fclose(f);
    assert_string_equal(text, text2);
    free(text);
    free(text2);
    profile_free(q);
    profile_diag_free(&d);
}

/* ---- the shipped profiles ------------------------------------------------------------------ */

static void icloud_facts(void **state)
{
    (void)state;
    profile *p = load_named("icloud", NOSETS);
    assert_string_equal(p->name, "icloud");
    assert_string_equal(p->imap.s.host, "imap.mail.me.com");
    assert_string_equal(p->smtp.s.host, "smtp.mail.me.com");
    assert_false(p->pop3.s.enabled);
    /* ports */
    assert_int_equal(listener(p, 993)->mode, PROFILE_MODE_IMPLICIT_TLS);
    assert_int_equal(listener(p, 143)->mode, PROFILE_MODE_CLOSED);
    assert_int_equal(listener(p, 587)->mode, PROFILE_MODE_STARTTLS);
    assert_int_equal(listener(p, 465)->mode, PROFILE_MODE_IMPLICIT_TLS);
    assert_int_equal(listener(p, 25)->mode, PROFILE_MODE_STARTTLS);
    assert_false(listener(p, 25)->auth);
    assert_int_equal(listener(p, 110)->mode, PROFILE_MODE_CLOSED);
    assert_int_equal(listener(p, 995)->mode, PROFILE_MODE_CLOSED);
    /* user names and passwords */
    assert_int_equal(p->imap.s.username.n, 2);
    assert_int_equal(p->imap.s.username.v[0], PROFILE_UFORM_LOCAL);
    assert_int_equal(p->imap.s.username.v[1], PROFILE_UFORM_FULL);
    assert_int_equal(p->smtp.s.username.n, 1);
    assert_int_equal(p->smtp.s.username.v[0], PROFILE_UFORM_FULL);
    assert_int_equal(p->imap.s.passwords, PROFILE_PW_APP);
    assert_int_equal(p->smtp.s.passwords, PROFILE_PW_APP);
    assert_true(p->imap.s.close_after_auth_failure);
    const profile_account *emily = profile_account_find(p, "emily");
    assert_non_null(emily);
    char buf[600];
    profile_account_username(p, emily, PROFILE_IMAP, buf, sizeof buf);
    assert_string_equal(buf, "emilyparker");
    profile_account_username(p, emily, PROFILE_SMTP, buf, sizeof buf);
    assert_string_equal(buf, "emilyparker@icloud.com");
    /* the greeting, with the pre-auth capabilities in it */
    template_conn c;
    assert_int_equal(profile_conn_init(p, listener(p, 993), 7, 1, "127.0.0.1", 1725358272345, &c), 0);
    profile_offer o = profile_offer_now(p, PROFILE_IMAP, listener(p, 993), true);
    template_vars v = {.conn = &c};
    char caps[600];
    profile_caps_join(PROFILE_IMAP, &p->imap.s.caps, &o, &v, " ", caps, sizeof caps);
    assert_string_equal(caps, "XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 SASL-IR AUTH=ATOKEN AUTH=PLAIN");
    v.v[TPL_CAPS] = caps;
    expand(p->imap.r.greeting, &v, buf, sizeof buf);
    char want[1400];
    snprintf(want, sizeof want, "* OK [CAPABILITY %s] (2109B29-d3afe4d5aba6) %s.me.com", caps, c.be);
    assert_string_equal(buf, want);
    assert_memory_equal(c.be, "pv", 2);
    assert_non_null(strstr(c.be, "p00im-iscream0"));
    /* post-auth list: no AUTH=, and none of MOVE, SPECIAL-USE, LITERAL+ */
    profile_caps_join(PROFILE_IMAP, &p->imap.caps_auth, &o, &v, " ", caps, sizeof caps);
    assert_memory_equal(caps, "XAPPLEPUSHSERVICE IMAP4 IMAP4rev1 CONDSTORE ENABLE QRESYNC", 57);
    assert_null(strstr(caps, "AUTH="));
    assert_null(strstr(caps, "MOVE"));
    assert_null(strstr(caps, "SPECIAL-USE"));
    assert_null(strstr(caps, "LITERAL+"));
    assert_non_null(strstr(caps, " IDLE LIST-STATUS"));
    /* replies */
    template_vars t = {.conn = &c};
    t.v[TPL_TAG] = "a1";
    t.v[TPL_COMMAND] = "LOGIN";
    t.v[TPL_USER] = "emilyparker";
    t.v[TPL_MECH] = "PLAIN";
    expand(p->imap.r.auth_failed, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 NO [AUTHENTICATIONFAILED] Authentication failed");
    expand(p->imap.r.ok_authenticate, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 OK user emilyparker authenticated");
    t.v[TPL_TOOK_MS] = "0";
    expand(p->imap.r.ok_namespace, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 OK NAMESPACE completed (took 0 ms)");
    expand(p->imap.r.ok_capability, &t, buf, sizeof buf); /* falls back to ok */
    assert_string_equal(buf, "a1 OK Completed");
    /* folders */
    assert_int_equal(p->n_folders, 6);
    assert_string_equal(p->folders[0].name, "INBOX");
    assert_string_equal(p->folders[0].flags.v[0], "\\Noinferiors");
    assert_string_equal(p->folders[2].name, "Deleted Messages");
    assert_string_equal(p->folders[5].name, "Sent Messages");
    /* certificate names */
    const char *hosts[8];
    size_t nh = profile_hosts(p, hosts, 8);
    assert_int_equal(nh, 3);
    assert_string_equal(hosts[0], "imap.mail.me.com");
    assert_string_equal(hosts[1], "smtp.mail.me.com");
    assert_string_equal(hosts[2], "mx01.mail.icloud.com");
    profile_free(p);
}

static void icloud_smtp_ehlo(void **state)
{
    (void)state;
    profile *p = load_named("icloud", NOSETS);
    template_conn c;
    profile_conn_init(p, listener(p, 587), 1, 1, "127.0.0.1", 0, &c);
    template_vars v = {.conn = &c};
    char buf[400];
    profile_offer pre = profile_offer_now(p, PROFILE_SMTP, listener(p, 587), false);
    profile_caps_join(PROFILE_SMTP, &p->smtp.s.caps, &pre, &v, "|", buf, sizeof buf);
    assert_string_equal(buf, "PIPELINING|SIZE 20971520|STARTTLS|8BITMIME|ENHANCEDSTATUSCODES");
    profile_offer post = profile_offer_now(p, PROFILE_SMTP, listener(p, 587), true);
    profile_caps_join(PROFILE_SMTP, &p->smtp.s.caps, &post, &v, "|", buf, sizeof buf);
    assert_string_equal(buf, "PIPELINING|SIZE 20971520|AUTH PLAIN LOGIN ATOKEN|8BITMIME|ENHANCEDSTATUSCODES");
    /* port 25: MX-like, no AUTH even under TLS */
    profile_offer mx = profile_offer_now(p, PROFILE_SMTP, listener(p, 25), true);
    profile_caps_join(PROFILE_SMTP, &p->smtp.s.caps, &mx, &v, "|", buf, sizeof buf);
    assert_string_equal(buf, "PIPELINING|SIZE 20971520|8BITMIME|ENHANCEDSTATUSCODES");
    assert_int_equal(profile_auth_gate(p, PROFILE_SMTP, listener(p, 25), true, PROFILE_VIA_SASL, PROFILE_MECH_PLAIN),
                     PROFILE_AUTH_NOT_ON_LISTENER);
    profile_auth_result r = profile_auth_refusal(p, PROFILE_SMTP, PROFILE_VIA_SASL, PROFILE_AUTH_NOT_ON_LISTENER, 0);
    template_vars t = {.conn = &c};
    t.v[TPL_MECH] = "PLAIN";
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "503 5.5.1 Error: authentication not enabled");
    /* AUTH before STARTTLS on 587 */
    assert_int_equal(profile_auth_gate(p, PROFILE_SMTP, listener(p, 587), false, PROFILE_VIA_SASL, PROFILE_MECH_PLAIN),
                     PROFILE_AUTH_NEEDS_TLS);
    assert_int_equal(profile_auth_gate(p, PROFILE_SMTP, listener(p, 587), true, PROFILE_VIA_SASL, PROFILE_MECH_PLAIN),
                     PROFILE_AUTH_OK);
    expand(profile_listener_greeting(p, listener(p, 25)), &v, buf, sizeof buf);
    assert_memory_equal(buf, "220 iCloud iscream SMTP proxy - p00-iscream-smtp-", 49);
    profile_free(p);
}

static void icloud_auth(void **state)
{
    (void)state;
    profile *p = load_named("icloud", NOSETS);
    /* the app-specific password with the local part or the full address (fallback) */
    profile_auth_result r = try_login(p, PROFILE_IMAP, "emilyparker", "abcd-efgh-ijkl-mnop");
    assert_int_equal(r.outcome, PROFILE_AUTH_OK);
    assert_null(r.reply);
    assert_string_equal(r.account->name, "emily");
    assert_int_equal(r.form, PROFILE_UFORM_LOCAL);
    r = try_login(p, PROFILE_IMAP, "EmilyParker@ME.com", "abcd-efgh-ijkl-mnop");
    assert_int_equal(r.outcome, PROFILE_AUTH_OK);
    assert_int_equal(r.form, PROFILE_UFORM_FULL);
    /* the Apple ID password instead: refused, and the connection closes */
    r = try_login(p, PROFILE_IMAP, "emilyparker", "Apple-ID-passw0rd");
    assert_int_equal(r.outcome, PROFILE_AUTH_WRONG_PASSWORD_KIND);
    assert_string_equal(profile_auth_outcome_name(r.outcome), "wrong-password-kind");
    assert_ptr_equal(r.reply, p->imap.r.auth_failed);
    assert_true(r.close);
    assert_null(r.bye);
    r = try_login(p, PROFILE_IMAP, "emilyparker", "nope");
    assert_int_equal(r.outcome, PROFILE_AUTH_BAD_PASSWORD);
    r = try_login(p, PROFILE_IMAP, "nobody", "abcd-efgh-ijkl-mnop");
    assert_int_equal(r.outcome, PROFILE_AUTH_NO_SUCH_USER);
    assert_null(r.account);
    /* SMTP wants the full address */
    r = try_sasl(p, PROFILE_SMTP, PROFILE_MECH_PLAIN, "emilyparker", "abcd-efgh-ijkl-mnop");
    assert_int_equal(r.outcome, PROFILE_AUTH_WRONG_USERNAME_FORM);
    assert_false(r.close);
    r = try_sasl(p, PROFILE_SMTP, PROFILE_MECH_LOGIN, "emilyparker@icloud.com", "abcd-efgh-ijkl-mnop");
    assert_int_equal(r.outcome, PROFILE_AUTH_OK);
    /* ATOKEN is advertised but never succeeds */
    r = try_sasl(p, PROFILE_IMAP, PROFILE_MECH_ATOKEN, "emilyparker", "abcd-efgh-ijkl-mnop");
    assert_int_equal(r.outcome, PROFILE_AUTH_BAD_PASSWORD);
    /* the local-part-only switch */
    profile *strict = load_named("icloud", SETS("imap.username=local"));
    r = try_login(strict, PROFILE_IMAP, "emilyparker@icloud.com", "abcd-efgh-ijkl-mnop");
    assert_int_equal(r.outcome, PROFILE_AUTH_WRONG_USERNAME_FORM);
    assert_ptr_equal(r.reply, strict->imap.r.auth_failed);
    profile_free(strict);
    profile_free(p);
}

static void addresses(void **state)
{
    (void)state;
    profile *p = load_named("icloud", NOSETS);
    const profile_account *e = profile_account_by_address(p, "EmilyParker@Mac.com", 19);
    assert_non_null(e);
    assert_string_equal(e->name, "emily");
    assert_null(profile_account_by_address(p, "emilyparker", 11)); /* the local part is no address */
    assert_null(profile_account_by_address(p, "emilyparker@icloud.co", 21));
    assert_true(profile_account_owns(e, "emilyparker@me.com", 18));
    assert_false(profile_account_owns(e, "johnappleseed@icloud.com", 24));
    assert_true(profile_domain_is_local(p, "ICLOUD.com", 10));
    assert_true(profile_domain_is_local(p, "mac.com", 7));
    assert_false(profile_domain_is_local(p, "example.com", 11));
    assert_false(profile_domain_is_local(p, "icloud.co", 9));
    profile_free(p);
}

static void exchange_facts(void **state)
{
    (void)state;
    profile *p = load_named("exchange", NOSETS);
    assert_int_equal(listener(p, 993)->mode, PROFILE_MODE_IMPLICIT_TLS);
    assert_int_equal(listener(p, 993)->plaintext, PROFILE_PLAINTEXT_SILENCE);
    assert_int_equal(listener(p, 143)->mode, PROFILE_MODE_STARTTLS);
    assert_int_equal(listener(p, 995)->mode, PROFILE_MODE_IMPLICIT_TLS);
    assert_int_equal(listener(p, 110)->mode, PROFILE_MODE_STARTTLS);
    assert_int_equal(listener(p, 587)->mode, PROFILE_MODE_STARTTLS);
    assert_true(listener(p, 25)->auth);
    assert_int_equal(listener(p, 465)->mode, PROFILE_MODE_CLOSED);
    for (int pr = 0; pr < PROFILE_PROTO_COUNT; pr++) {
        const profile_service *s = profile_service_of(p, (profile_proto)pr);
        assert_int_equal(s->username.n, 1);
        assert_int_equal(s->username.v[0], PROFILE_UFORM_FULL);
        assert_int_equal(s->passwords, PROFILE_PW_ACCOUNT);
    }
    /* greeting: base64 of the backend FQDN in UTF-16LE */
    template_conn c;
    profile_conn_init(p, listener(p, 993), 99, 3, "127.0.0.1", 1725358272345, &c);
    template_vars v = {.conn = &c};
    char buf[700], b64[600], want[1400];
    expand(p->imap.r.greeting, &v, buf, sizeof buf);
    template_b64_utf16le(c.fqdn, strlen(c.fqdn), b64, sizeof b64);
    snprintf(want, sizeof want, "* OK The Microsoft Exchange IMAP4 service is ready. [%s]", b64);
    assert_string_equal(buf, want);
    assert_non_null(strstr(c.fqdn, "prd"));
    assert_non_null(strstr(c.fqdn, ".prod.outlook.com"));
    /* capabilities: 993, 143 before and after STARTTLS, after login */
    profile_offer o993 = profile_offer_now(p, PROFILE_IMAP, listener(p, 993), true);
    profile_caps_join(PROFILE_IMAP, &p->imap.s.caps, &o993, &v, " ", buf, sizeof buf);
    assert_string_equal(buf, "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE "
                             "NAMESPACE LITERAL+");
    profile_offer o143 = profile_offer_now(p, PROFILE_IMAP, listener(p, 143), false);
    profile_caps_join(PROFILE_IMAP, &p->imap.s.caps, &o143, &v, " ", buf, sizeof buf);
    assert_string_equal(buf, "IMAP4 IMAP4rev1 LOGINDISABLED STARTTLS SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE "
                             "NAMESPACE LITERAL+");
    profile_caps_join(PROFILE_IMAP, &p->imap.caps_auth, &o993, &v, " ", buf, sizeof buf);
    assert_string_equal(buf, "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT "
                             "CLIENTACCESSRULES CLIENTNETWORKPRESENCELOCATION BACKENDAUTHENTICATE CHILDREN IDLE "
                             "NAMESPACE LITERAL+");
    /* SMTP EHLO, item by item, before and after TLS */
    template_conn sc;
    profile_conn_init(p, listener(p, 587), 99, 4, "192.0.2.7", 1725358272345, &sc);
    template_vars sv = {.conn = &sc};
    profile_offer pre = profile_offer_now(p, PROFILE_SMTP, listener(p, 587), false);
    profile_caps_join(PROFILE_SMTP, &p->smtp.s.caps, &pre, &sv, "|", buf, sizeof buf);
    assert_string_equal(buf, "SIZE 157286400|PIPELINING|DSN|ENHANCEDSTATUSCODES|STARTTLS|8BITMIME|BINARYMIME|"
                             "CHUNKING|SMTPUTF8");
    profile_offer post = profile_offer_now(p, PROFILE_SMTP, listener(p, 587), true);
    profile_caps_join(PROFILE_SMTP, &p->smtp.s.caps, &post, &sv, "|", buf, sizeof buf);
    assert_string_equal(buf, "SIZE 157286400|PIPELINING|DSN|ENHANCEDSTATUSCODES|AUTH LOGIN XOAUTH2|8BITMIME|"
                             "BINARYMIME|CHUNKING|SMTPUTF8");
    assert_int_equal(profile_caps_item(PROFILE_SMTP, &p->smtp.s.caps, 5, &post, &sv, buf, sizeof buf), 0);
    assert_int_equal(profile_caps_item(PROFILE_SMTP, &p->smtp.s.caps, 4, &post, &sv, buf, sizeof buf), 18);
    sv.v[TPL_TEXT] = "client.example";
    expand(p->smtp.r.ehlo_hello, &sv, buf, sizeof buf);
    snprintf(want, sizeof want, "%s.outlook.office365.com Hello [192.0.2.7]", sc.be);
    assert_string_equal(buf, want);
    expand(p->smtp.r.greeting, &sv, buf, sizeof buf);
    snprintf(want, sizeof want, "220 %s.outlook.office365.com Microsoft ESMTP MAIL Service ready at "
                                "Tue, 3 Sep 2024 10:11:12 +0000 [%s]", sc.be, sc.hex16);
    assert_string_equal(buf, want);
    /* POP3 CAPA on 995 and on 110 before STLS */
    profile_offer p995 = profile_offer_now(p, PROFILE_POP3, listener(p, 995), true);
    profile_caps_join(PROFILE_POP3, &p->pop3.s.caps, &p995, &v, "|", buf, sizeof buf);
    assert_string_equal(buf, "TOP|UIDL|SASL PLAIN XOAUTH2|USER");
    profile_offer p110 = profile_offer_now(p, PROFILE_POP3, listener(p, 110), false);
    profile_caps_join(PROFILE_POP3, &p->pop3.s.caps, &p110, &v, "|", buf, sizeof buf);
    assert_string_equal(buf, "TOP|UIDL|STLS");
    /* LIST flags */
    assert_string_equal(p->folders[2].name, "Deleted");
    assert_string_equal(p->folders[2].flags.v[2], "\\Trash");
    profile_free(p);
}

/* Every account state fails (or succeeds) with its documented reply. */
static void exchange_states(void **state)
{
    (void)state;
    profile *p = load_named("exchange", NOSETS);
    template_conn c;
    profile_conn_init(p, listener(p, 587), 5, 1, "127.0.0.1", 1725358272345, &c);
    template_vars t = {.conn = &c};
    t.v[TPL_TAG] = "a1";
    t.v[TPL_COMMAND] = "LOGIN";
    t.v[TPL_USER] = "x";
    t.v[TPL_MECH] = "LOGIN";
    char buf[600], want[1400];

    profile_auth_result r = try_login(p, PROFILE_IMAP, "tony@contoso.com", "Contoso-pass-1");
    assert_int_equal(r.outcome, PROFILE_AUTH_OK);
    r = try_login(p, PROFILE_IMAP, "tony", "Contoso-pass-1");
    assert_int_equal(r.outcome, PROFILE_AUTH_WRONG_USERNAME_FORM);
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 NO LOGIN failed.");
    r = try_sasl(p, PROFILE_IMAP, PROFILE_MECH_XOAUTH2, "tony@contoso.com", "tony-oauth-token");
    assert_int_equal(r.outcome, PROFILE_AUTH_OK);

    /* basic-auth-disabled: NO LOGIN failed. / 535 5.7.139; XOAUTH2 still works */
    r = try_login(p, PROFILE_IMAP, "ben@contoso.com", "Contoso-pass-2");
    assert_int_equal(r.outcome, PROFILE_AUTH_BASIC_DISABLED);
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 NO LOGIN failed.");
    assert_false(r.close);
    r = try_sasl(p, PROFILE_SMTP, PROFILE_MECH_LOGIN, "ben@contoso.com", "Contoso-pass-2");
    assert_int_equal(r.outcome, PROFILE_AUTH_BASIC_DISABLED);
    expand(r.reply, &t, buf, sizeof buf);
    snprintf(want, sizeof want, "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. "
                                "[%s 2024-09-03T10:11:12.345Z %s]", c.fqdn_uc, c.hex16);
    assert_string_equal(buf, want);
    r = try_login(p, PROFILE_POP3, "ben@contoso.com", "Contoso-pass-2");
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "-ERR Logon failure: unknown user name or bad password.");
    r = try_sasl(p, PROFILE_SMTP, PROFILE_MECH_XOAUTH2, "ben@contoso.com", "ben-oauth-token");
    assert_int_equal(r.outcome, PROFILE_AUTH_OK);

    /* not-signed-in: IMAP authenticates, then BAD ... not connected, BYE after 2 */
    r = try_login(p, PROFILE_IMAP, "nina@contoso.com", "Contoso-pass-3");
    assert_int_equal(r.outcome, PROFILE_AUTH_OK_NOT_CONNECTED);
    assert_null(r.reply);
    expand(p->imap.r.not_connected, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 BAD User is authenticated but not connected.");
    expand(p->imap.r.not_connected_bye, &t, buf, sizeof buf);
    assert_string_equal(buf, "* BYE Connection closed. 14");
    assert_int_equal(p->imap.not_connected_limit, 2);
    r = try_login(p, PROFILE_POP3, "nina@contoso.com", "Contoso-pass-3");
    assert_int_equal(r.outcome, PROFILE_AUTH_NOT_SIGNED_IN);
    /* a token whose user= names another mailbox: IMAP authenticates but is not connected */
    r = try_sasl(p, PROFILE_IMAP, PROFILE_MECH_XOAUTH2, "tony@contoso.com", "ben-oauth-token");
    assert_int_equal(r.outcome, PROFILE_AUTH_OK_NOT_CONNECTED);
    r = try_sasl(p, PROFILE_SMTP, PROFILE_MECH_XOAUTH2, "tony@contoso.com", "ben-oauth-token");
    assert_int_equal(r.outcome, PROFILE_AUTH_BAD_TOKEN);
    r = try_sasl(p, PROFILE_IMAP, PROFILE_MECH_XOAUTH2, "tony@contoso.com", "forged");
    assert_int_equal(r.outcome, PROFILE_AUTH_BAD_TOKEN);
    t.v[TPL_COMMAND] = "AUTHENTICATE";
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 NO AUTHENTICATE failed.");

    /* protocols-disabled: IMAP and POP refuse a right password with the bad-password text */
    r = try_login(p, PROFILE_IMAP, "pat@contoso.com", "Contoso-pass-4");
    assert_int_equal(r.outcome, PROFILE_AUTH_PROTOCOL_DISABLED);
    t.v[TPL_COMMAND] = "LOGIN";
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 NO LOGIN failed.");
    r = try_sasl(p, PROFILE_POP3, PROFILE_MECH_XOAUTH2, "pat@contoso.com", "x");
    assert_int_equal(r.outcome, PROFILE_AUTH_BAD_TOKEN);
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "-ERR Authentication failure: unknown user name or bad password.");
    r = try_login(p, PROFILE_POP3, "pat@contoso.com", "Contoso-pass-4");
    assert_int_equal(r.outcome, PROFILE_AUTH_PROTOCOL_DISABLED);
    r = try_sasl(p, PROFILE_SMTP, PROFILE_MECH_LOGIN, "pat@contoso.com", "Contoso-pass-4");
    assert_int_equal(r.outcome, PROFILE_AUTH_OK);

    /* smtp-auth-disabled: before the password is even looked at */
    r = try_sasl(p, PROFILE_SMTP, PROFILE_MECH_LOGIN, "sam@contoso.com", "wrong");
    assert_int_equal(r.outcome, PROFILE_AUTH_SMTP_DISABLED);
    expand(r.reply, &t, buf, sizeof buf);
    snprintf(want, sizeof want, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
                                "for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. "
                                "[%s 2024-09-03T10:11:12.345Z %s]", c.fqdn, c.hex16);
    assert_string_equal(buf, want);
    r = try_sasl(p, PROFILE_SMTP, PROFILE_MECH_XOAUTH2, "sam@contoso.com", "sam-oauth-token");
    assert_int_equal(r.outcome, PROFILE_AUTH_SMTP_DISABLED);
    r = try_login(p, PROFILE_IMAP, "sam@contoso.com", "Contoso-pass-5");
    assert_int_equal(r.outcome, PROFILE_AUTH_OK);

    /* SPA/NTLM and PLAIN are not offered on SMTP: 504 5.7.4 */
    const profile_listener *l587 = listener(p, 587);
    assert_int_equal(profile_auth_gate(p, PROFILE_SMTP, l587, true, PROFILE_VIA_SASL, PROFILE_MECH_NTLM),
                     PROFILE_AUTH_MECH_UNSUPPORTED);
    assert_int_equal(profile_auth_gate(p, PROFILE_SMTP, l587, true, PROFILE_VIA_SASL, PROFILE_MECH_PLAIN),
                     PROFILE_AUTH_MECH_UNSUPPORTED);
    assert_int_equal(profile_auth_gate(p, PROFILE_SMTP, l587, true, PROFILE_VIA_SASL, -1),
                     PROFILE_AUTH_MECH_UNSUPPORTED);
    r = profile_auth_refusal(p, PROFILE_SMTP, PROFILE_VIA_SASL, PROFILE_AUTH_MECH_UNSUPPORTED, 0);
    expand(r.reply, &t, buf, sizeof buf);
    snprintf(want, sizeof want, "504 5.7.4 Unrecognized authentication type [%s 2024-09-03T10:11:12.345Z %s]",
             c.fqdn, c.hex16);
    assert_string_equal(buf, want);
    assert_int_equal(profile_auth_gate(p, PROFILE_IMAP, listener(p, 993), true, PROFILE_VIA_SASL, PROFILE_MECH_NTLM),
                     PROFILE_AUTH_MECH_UNSUPPORTED);
    r = profile_auth_refusal(p, PROFILE_IMAP, PROFILE_VIA_SASL, PROFILE_AUTH_MECH_UNSUPPORTED, 0);
    t.v[TPL_COMMAND] = "AUTHENTICATE";
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 NO AUTHENTICATE failed.");
    /* LOGIN on 143 before STARTTLS */
    assert_int_equal(profile_auth_gate(p, PROFILE_IMAP, listener(p, 143), false, PROFILE_VIA_LOGIN, 0),
                     PROFILE_AUTH_LOGIN_DISABLED);
    assert_int_equal(profile_auth_gate(p, PROFILE_IMAP, listener(p, 143), true, PROFILE_VIA_LOGIN, 0),
                     PROFILE_AUTH_OK);
    /* the third failure closes (max_auth_failures = 3) */
    profile_credentials bad = {.via = PROFILE_VIA_LOGIN, .user = "tony@contoso.com", .user_len = 16,
                               .secret = "x", .secret_len = 1};
    assert_false(profile_auth_check(p, PROFILE_IMAP, &bad, 1).close);
    assert_true(profile_auth_check(p, PROFILE_IMAP, &bad, 2).close);
    r = profile_auth_check(p, PROFILE_SMTP, &bad, 2);
    assert_true(r.close);
    assert_ptr_equal(r.bye, p->smtp.r.too_many_errors);
    profile_free(p);
}

static void exchange_consumer_variant(void **state)
{
    (void)state;
    profile *p = load_named("exchange", SETS("imap.auth_basic_disabled={tag} NO Basic authentication is disabled.",
                                             "imap.auth_basic_disabled_bye=* BYE Microsoft Exchange Server IMAP4 "
                                             "server signing off.",
                                             "smtp.auth_delay_ms=5000"));
    profile_auth_result r = try_login(p, PROFILE_IMAP, "ben@contoso.com", "Contoso-pass-2");
    assert_int_equal(r.outcome, PROFILE_AUTH_BASIC_DISABLED);
    assert_true(r.close);
    assert_ptr_equal(r.bye, p->imap.r.auth_basic_disabled_bye);
    template_vars t = {0};
    t.v[TPL_TAG] = "a1";
    t.v[TPL_COMMAND] = "LOGIN";
    t.v[TPL_USER] = "ben@contoso.com";
    t.v[TPL_MECH] = "";
    char buf[200];
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 NO Basic authentication is disabled.");
    r = try_sasl(p, PROFILE_SMTP, PROFILE_MECH_LOGIN, "tony@contoso.com", "wrong");
    assert_int_equal(r.delay_ms, 5000);
    profile_free(p);
}

static void generic_facts(void **state)
{
    (void)state;
    profile *p = load_named("generic", NOSETS);
    template_conn c;
    profile_conn_init(p, listener(p, 143), 1, 1, "127.0.0.1", 0, &c);
    template_vars v = {.conn = &c};
    char buf[600];
    profile_offer pre = profile_offer_now(p, PROFILE_IMAP, listener(p, 143), false);
    profile_caps_join(PROFILE_IMAP, &p->imap.s.caps, &pre, &v, " ", buf, sizeof buf);
    assert_string_equal(buf, "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE STARTTLS LOGINDISABLED");
    profile_offer post = profile_offer_now(p, PROFILE_IMAP, listener(p, 143), true);
    profile_caps_join(PROFILE_IMAP, &p->imap.s.caps, &post, &v, " ", buf, sizeof buf);
    assert_string_equal(buf, "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5");
    v.v[TPL_CAPS] = buf;
    char greet[700];
    expand(p->imap.r.greeting, &v, greet, sizeof greet);
    assert_string_equal(greet, "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE AUTH=PLAIN AUTH=LOGIN "
                               "AUTH=CRAM-MD5] IMAP4rev1 Service Ready");
    /* implicit TLS 993/465/995, STARTTLS 143/587/110 */
    assert_int_equal(listener(p, 993)->mode, PROFILE_MODE_IMPLICIT_TLS);
    assert_int_equal(listener(p, 465)->mode, PROFILE_MODE_IMPLICIT_TLS);
    assert_int_equal(listener(p, 995)->mode, PROFILE_MODE_IMPLICIT_TLS);
    assert_int_equal(listener(p, 587)->mode, PROFILE_MODE_STARTTLS);
    assert_int_equal(listener(p, 110)->mode, PROFILE_MODE_STARTTLS);
    /* CRAM-MD5, RFC 2195's own example */
    profile *q = load_named("generic", SETS("account.alice.password=tanstaaftanstaaf"));
    const char *chal = "<1896.697170952@postoffice.reston.mci.net>";
    profile_credentials cr = {.via = PROFILE_VIA_SASL, .mech = PROFILE_MECH_CRAM_MD5, .user = "alice@example.test",
                              .user_len = 18, .secret = "b913a602c7eda7a495b4e6e7334d3890", .secret_len = 32,
                              .challenge = chal, .challenge_len = strlen(chal)};
    assert_int_equal(profile_auth_check(q, PROFILE_IMAP, &cr, 0).outcome, PROFILE_AUTH_OK);
    cr.secret = "B913A602C7EDA7A495B4E6E7334D3890"; /* hex case does not matter */
    assert_int_equal(profile_auth_check(q, PROFILE_IMAP, &cr, 0).outcome, PROFILE_AUTH_OK);
    cr.secret = "b913a602c7eda7a495b4e6e7334d3891";
    assert_int_equal(profile_auth_check(q, PROFILE_IMAP, &cr, 0).outcome, PROFILE_AUTH_BAD_PASSWORD);
    profile_free(q);
    /* RFC wording of the failure replies */
    template_vars t = {.conn = &c};
    t.v[TPL_TAG] = "a1";
    t.v[TPL_COMMAND] = "LOGIN";
    t.v[TPL_USER] = "u";
    t.v[TPL_MECH] = "PLAIN";
    profile_auth_result r = profile_auth_refusal(p, PROFILE_IMAP, PROFILE_VIA_LOGIN, PROFILE_AUTH_LOGIN_DISABLED, 0);
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "a1 NO [PRIVACYREQUIRED] LOGIN is disabled before STARTTLS");
    r = profile_auth_refusal(p, PROFILE_SMTP, PROFILE_VIA_SASL, PROFILE_AUTH_NEEDS_TLS, 0);
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "538 5.7.11 Encryption required for requested authentication mechanism");
    r = profile_auth_refusal(p, PROFILE_SMTP, PROFILE_VIA_SASL, PROFILE_AUTH_CANCELLED, 0);
    expand(r.reply, &t, buf, sizeof buf);
    assert_string_equal(buf, "501 5.7.0 Authentication cancelled");
    assert_false(r.close); /* only credential failures count */
    r = try_login(p, PROFILE_POP3, "robert@example.test", "bob-password-2"); /* an alias is the full form */
    assert_int_equal(r.outcome, PROFILE_AUTH_OK);
    assert_string_equal(r.account->name, "bob");
    profile_free(p);
}

static void shipped_round_trip(void **state)
{
    (void)state;
    const char *names[] = {"generic", "icloud", "exchange"};
    for (size_t i = 0; i < 3; i++) {
        profile *p = load_named(names[i], NOSETS);
        round_trip(p);
        profile_free(p);
    }
    /* with overrides, including values that need quoting and escapes */
    profile *p = load_named("exchange", SETS("smtp.auth_continue=\"334 \"", "imap.id_reply=\"\\\"quoted\\\" ; x\"",
                                             "listener.587.mode=plain", "account.tony.state=not-signed-in",
                                             "profile.description=\"  edge spaces  \"",
                                             "imap.bad_command={tag} BAD a ;b #c d=e enabled = f"));
    template_vars v = {0};
    v.v[TPL_TEXT] = "";
    char buf[100];
    expand(p->smtp.r.auth_continue, &v, buf, sizeof buf);
    assert_string_equal(buf, "334 ");
    expand(p->imap.r.id_reply, &v, buf, sizeof buf);
    assert_string_equal(buf, "\"quoted\" ; x");
    assert_string_equal(p->description, "  edge spaces  ");
    round_trip(p);
    profile_free(p);
}

static void equal_detects_change(void **state)
{
    (void)state;
    profile *a = load_named("icloud", NOSETS);
    profile *b = load_named("icloud", SETS("imap.greeting=* OK hi"));
    profile *c = load_named("icloud", SETS("listener.2525.protocol=smtp", "listener.2525.mode=plain"));
    profile *d = load_named("icloud", SETS("imap.ok_noop={tag} OK Completed")); /* same text as its fallback */
    char what[100];
    assert_true(profile_equal(a, a, what, sizeof what));
    assert_false(profile_equal(a, b, what, sizeof what));
    assert_string_equal(what, "[imap] greeting");
    assert_false(profile_equal(a, c, what, sizeof what));
    assert_true(profile_equal(a, d, what, sizeof what));
    profile_free(a);
    profile_free(b);
    profile_free(c);
    profile_free(d);
}

/* ---- overrides ---------------------------------------------------------------------------- */

static void overrides(void **state)
{
    (void)state;
    profile *p = load_named("icloud", SETS("imap.username=full", "listener.587.mode=plain",
                                           "account.emily.state=not-signed-in, pop-disabled",
                                           "account.new.email=new@icloud.com", "account.new.password=x",
                                           "account.new.app_password=y", "folder.Extra.flags=\\Flagged",
                                           "smtp.size_limit=1000"));
    assert_int_equal(p->imap.s.username.n, 1);
    assert_int_equal(p->imap.s.username.v[0], PROFILE_UFORM_FULL);
    assert_int_equal(listener(p, 587)->mode, PROFILE_MODE_PLAIN);
    assert_int_equal(profile_account_find(p, "emily")->state,
                     PROFILE_STATE_NOT_SIGNED_IN | PROFILE_STATE_POP_DISABLED);
    assert_non_null(profile_account_find(p, "new"));
    assert_string_equal(p->folders[p->n_folders - 1].name, "Extra");
    assert_int_equal(p->smtp.size_limit, 1000);
    char st[100];
    profile_state_format(profile_account_find(p, "emily")->state, st, sizeof st);
    assert_string_equal(st, "pop-disabled, not-signed-in");
    profile_free(p);
    /* a later --set wins over an earlier one; protocols-disabled is both bits */
    p = load_named("generic", SETS("imap.max_line=1000", "imap.max_line=2000", "account.bob.state=protocols-disabled"));
    assert_int_equal(p->imap.s.max_line, 2000);
    assert_int_equal(profile_account_find(p, "bob")->state, PROFILE_STATE_IMAP_DISABLED | PROFILE_STATE_POP_DISABLED);
    profile_free(p);
}

static void override_errors(void **state)
{
    (void)state;
    expect_error(MINI, SETS("imap.usrname=full"),
                 "--set imap.usrname=full: unknown key 'usrname' in [imap] (did you mean 'username'?)");
    expect_error(MINI, SETS("imap"), "--set imap: expected SECTION.KEY=VALUE (for example imap.username=full)");
    expect_error(MINI, SETS("imap.=x"), "--set imap.=x: expected SECTION.KEY=VALUE (for example imap.username=full)");
    expect_error(MINI, SETS("listener.587.mode=starttl"),
                 "--set listener.587.mode=starttl: [listener.587] mode: unknown value 'starttl' (expected "
                 "implicit-tls, starttls, plain, closed or silent; did you mean 'starttls'?)");
    /* a new listener needs its required keys */
    expect_error(MINI, SETS("listener.587.mode=plain"),
                 "--set listener.587.mode=plain: [listener.587] is missing 'protocol'");
    expect_error(MINI, SETS("imapp.enabled=no"),
                 "--set imapp.enabled=no: unknown section [imapp] (did you mean [imap]?)");
    expect_error(MINI, SETS("listner.25.mode=closed"),
                 "--set listner.25.mode=closed: unknown section [listner.25] (did you mean [listener.25]?)");
    expect_error(MINI, SETS("imap.greeting=* OK {bee}"),
                 "--set imap.greeting=* OK {bee}: [imap] greeting: unknown placeholder '{bee}' at column 6 (did you "
                 "mean '{be}'?)");
}

/* ---- validation messages ----------------------------------------------------------------- */

static void errors_sections_keys(void **state)
{
    (void)state;
    expect_error(MINI "[imapp]\nx = 1\n", NOSETS, "t.ini:13: unknown section [imapp] (did you mean [imap]?)");
    expect_error(MINI "[frobnicate]\n", NOSETS,
                 "t.ini:13: unknown section [frobnicate] (there are [profile], [tls], [imap], [smtp], [pop3], "
                 "[listener.PORT], [account.NAME] and [folder.NAME])");
    expect_error(MINI "[listener]\n", NOSETS, "t.ini:13: [listener] needs a name: [listener.PORT]");
    expect_error(MINI "[listener.abc]\n", NOSETS, "t.ini:13: [listener.abc]: a listener is named by its port, 1 to 65535");
    expect_error(MINI "[listener.70000]\n", NOSETS,
                 "t.ini:13: [listener.70000]: a listener is named by its port, 1 to 65535");
    expect_error(MINI "[tls.x]\n", NOSETS, "t.ini:13: unknown section [tls.x] ([tls] takes no name)");
    expect_error(MINI "[account.bad name]\n", NOSETS,
                 "t.ini:13: [account.bad name]: an account name is letters, digits, '-' and '_'");
    expect_error(MINI "[folder.a*b]\n", NOSETS,
                 "t.ini:13: [folder.a*b]: a folder name is printable ASCII without \" \\ * %, at most 40 characters");
    expect_error(MINI "[tls]\nmin_verison = 1.2\n", NOSETS,
                 "t.ini:14: unknown key 'min_verison' in [tls] (did you mean 'min_version'?)");
    expect_error(MINI "[tls]\nmin_version = 1.2\nmin_version = 1.3\n", NOSETS,
                 "t.ini:15: 'min_version' is set twice in [tls] (first at line 14)");
    expect_error("x = 1\n" MINI, NOSETS, "t.ini:1: setting outside any section");
    expect_error(MINI "[imap]\n", NOSETS, "t.ini:13: [imap] appears again (first at line 4); merge the two");
}

static void errors_values(void **state)
{
    (void)state;
    expect_error(MINI, SETS("listener.993.mode=implicit"),
                 "--set listener.993.mode=implicit: [listener.993] mode: unknown value 'implicit' (expected "
                 "implicit-tls, starttls, plain, closed or silent; did you mean 'implicit-tls'?)");
    expect_error(MINI, SETS("listener.993.mode=plaintext"),
                 "--set listener.993.mode=plaintext: [listener.993] mode: unknown value 'plaintext' (expected "
                 "implicit-tls, starttls, plain, closed or silent; did you mean 'plain'?)");
    expect_error(MINI "cert = wrong_host\n", NOSETS,
                 "t.ini:13: [listener.993] cert: unknown value 'wrong_host' (expected normal, wrong-host, untrusted or "
                 "expired; did you mean 'wrong-host'?)");
    expect_error(MINI "auth = maybe\n", NOSETS, "t.ini:13: [listener.993] auth: 'maybe' is not yes or no");
    expect_error(MINI "[smtp]\n", SETS("smtp.max_line=10"),
                 "--set smtp.max_line=10: [smtp] max_line: '10' is not a whole number from 64 to 1048576");
    expect_error(MINI, SETS("imap.max_line=-5"),
                 "--set imap.max_line=-5: [imap] max_line: '-5' is not a whole number from 64 to 1048576");
    expect_error(MINI, SETS("imap.username=local, ful"),
                 "--set imap.username=local, ful: [imap] username: unknown user name form 'ful' (expected local or "
                 "full; did you mean 'full'?)");
    expect_error(MINI, SETS("imap.username="), "--set imap.username=: [imap] username: needs at least one user name form");
    expect_error(MINI, SETS("imap.mechs_tls=PLAIN PLAN"),
                 "--set imap.mechs_tls=PLAIN PLAN: [imap] mechs_tls: unknown mechanism 'PLAN' (expected PLAIN, LOGIN, "
                 "CRAM-MD5, XOAUTH2, OAUTHBEARER, NTLM, GSSAPI or ATOKEN; did you mean 'PLAIN'?)");
    expect_error(MINI, SETS("imap.mechs_tls=PLAIN plain"), "--set imap.mechs_tls=PLAIN plain: [imap] mechs_tls: "
                                                            "'PLAIN' appears twice");
    expect_error(MINI, SETS("account.a.state=ok, not-signed-in"),
                 "--set account.a.state=ok, not-signed-in: [account.a] state: 'ok' cannot be combined with other states");
    expect_error(MINI, SETS("account.a.email=not-an-address"),
                 "--set account.a.email=not-an-address: [account.a] email: 'not-an-address' is not an address like "
                 "name@example.com");
    expect_error(MINI, SETS("profile.name=Bad Name"),
                 "--set profile.name=Bad Name: [profile] name: 'Bad Name' is not a name (lower-case letters, digits, "
                 "'-', '_')");
    expect_error(MINI, SETS("profile.imap_host=bad_host!"),
                 "--set profile.imap_host=bad_host!: [profile] imap_host: 'bad_host!' is not a host name");
    expect_error(MINI, SETS("profile.backend=sc%q"),
                 "--set profile.backend=sc%q: [profile] backend: '%' at column 3 must be followed by d, a, A, x or X");
    expect_error(MINI, SETS("folder.INBOX.flags=Sent"),
                 "--set folder.INBOX.flags=Sent: [folder.INBOX] flags: 'Sent' is not a flag like \\Sent");
    expect_error(MINI, SETS("folder.INBOX.messages=../etc/passwd"),
                 "--set folder.INBOX.messages=../etc/passwd: [folder.INBOX] messages: '../etc/passwd' is not a message "
                 "name (letters, digits, '-', '_', '.')");
    expect_error(MINI, SETS("imap.delimiter=ab"),
                 "--set imap.delimiter=ab: [imap] delimiter: 'ab' is not one character (not \" \\ * or %)");
    expect_error(MINI, SETS("tls.min_version=1.4"),
                 "--set tls.min_version=1.4: [tls] min_version: unknown value '1.4' (expected 1.0, 1.1, 1.2 or 1.3; did "
                 "you mean '1.0'?)");
    expect_error(MINI "[tls]\nmin_version = 1.3\nmax_version = 1.2\n", NOSETS,
                 "t.ini:14: [tls] min_version is above max_version");
}

static void errors_quoting(void **state)
{
    (void)state;
    expect_error(MINI "description = \"open\n", NOSETS,
                 "t.ini:13: [listener.993] description: quoted value without its closing '\"'");
    expect_error(MINI "description = \"a\\qb\"\n", NOSETS,
                 "t.ini:13: [listener.993] description: bad escape '\\q' (use \\\\, \\\" or \\xHH)");
    expect_error(MINI "description = \"a\"b\"\n", NOSETS,
                 "t.ini:13: [listener.993] description: '\"' inside a quoted value must be written \\\"");
    expect_error(MINI "description = \"nul\\x00\"\n", NOSETS,
                 "t.ini:13: [listener.993] description: control character 0x00 in value");
    expect_error(MINI "description = \"cr\\x0d\"\n", NOSETS,
                 "t.ini:13: [listener.993] description: control character 0x0d in value");
    expect_error(MINI "description = bad \xff utf8\n", NOSETS, "t.ini:13: [listener.993] description: invalid UTF-8 in value");
    char longword[400];
    snprintf(longword, sizeof longword, MINI "description = %0160d\n", 0);
    expect_error(longword, NOSETS,
                 "t.ini:13: [listener.993] description: a word of the value is 160 characters long (at most 150)");
}

static void errors_lines(void **state)
{
    (void)state;
    expect_error(MINI "just words\n", NOSETS, "t.ini:13: expected 'key = value', a [section] header or a comment");
    expect_error(MINI "= value\n", NOSETS, "t.ini:13: missing key name before '='");
    expect_error(MINI "[open\n", NOSETS, "t.ini:13: section header without ']'");
    expect_error(MINI "[a] junk\n", NOSETS, "t.ini:13: unexpected text after ']'");
    expect_error(MINI "[ imap]\n", NOSETS, "t.ini:13: space at the edge of section name ' imap'");
    char big[600];
    snprintf(big, sizeof big, MINI "description = %0300d\n", 0);
    expect_error(big, NOSETS, "t.ini:13: line is 314 characters long, the limit is 198: continue a long value on "
                              "indented lines");
    const char nul[] = MINI "description = a\0b\n";
    profile_diag d = {0};
    assert_null(profile_load_string(nul, sizeof nul - 1, "t.ini", NULL, &d));
    assert_true(has_msg(&d, "t.ini:13: NUL byte in line"));
    profile_diag_free(&d);
    /* an indented key-looking line would silently join the value above */
    expect_error(MINI "description = x\n  auth = no\n", NOSETS,
                 "t.ini:14: indented line continues the value above; remove the indentation if 'auth' is a key");
    /* the line after a rejected key is not glued onto an earlier key */
    expect_error(MINI "description = x\nbroken line\n  more\n", NOSETS,
                 "t.ini:14: expected 'key = value', a [section] header or a comment");
}

static void errors_templates(void **state)
{
    (void)state;
    expect_error(MINI, SETS("imap.auth_failed={tag} NO {mailbox}"),
                 "--set imap.auth_failed={tag} NO {mailbox}: [imap] auth_failed: placeholder '{mailbox}' at column 10 is "
                 "not available in this reply (this reply also has: {tag}, {command}, {user}, {mech})");
    expect_error(MINI, SETS("smtp.greeting=220 {tag}"),
                 "--set smtp.greeting=220 {tag}: [smtp] greeting: placeholder '{tag}' at column 5 is not available in "
                 "this reply");
    expect_error(MINI, SETS("smtp.ehlo=PIPELINING, STARTTLS"),
                 "--set smtp.ehlo=PIPELINING, STARTTLS: [smtp] ehlo: write {starttls} instead of 'STARTTLS': it is "
                 "computed from the listener and the mechanisms");
    expect_error(MINI, SETS("imap.caps=IMAP4rev1 AUTH=PLAIN"),
                 "--set imap.caps=IMAP4rev1 AUTH=PLAIN: [imap] caps: write {auth} instead of 'AUTH=PLAIN': it is "
                 "computed from the listener and the mechanisms");
    expect_error(MINI, SETS("pop3.capa=TOP, {auth}"),
                 "--set pop3.capa=TOP, {auth}: [pop3] capa: item '{auth}': unknown placeholder '{auth}' at column 1");
    expect_error(MINI, SETS("pop3.capa=TOP,, UIDL"), "--set pop3.capa=TOP,, UIDL: [pop3] capa: empty item in list");
    expect_error(MINI, SETS("imap.caps={auth} {auth}"), "--set imap.caps={auth} {auth}: [imap] caps: {auth} appears twice");
    /* a listener greeting may use {caps} only for IMAP */
    expect_error(MINI "[listener.25]\nprotocol = smtp\nmode = closed\ngreeting = 220 {caps}\n", NOSETS,
                 "t.ini:16: [listener.25] greeting: {caps} is only available for IMAP");
}

static void errors_cross(void **state)
{
    (void)state;
    /* duplicate ports spelled differently */
    expect_error(MINI "[listener.0993]\nmode = closed\n", NOSETS,
                 "t.ini:13: [listener.0993] appears again (first at line 10); a port can have only one listener");
    /* a listener for a protocol the profile disables */
    expect_error(MINI "[listener.587]\nprotocol = smtp\nmode = starttls\n", NOSETS,
                 "t.ini:15: [listener.587] serves smtp, which [smtp] disables; make it closed or silent");
    /* required keys and sections */
    expect_error("[profile]\nname = x\n", NOSETS, "t.ini: missing section [imap] (write 'enabled = no' in it if the "
                                                  "provider has no IMAP)");
    expect_error("[profile]\nname = x\n", NOSETS, "t.ini: no [listener.PORT] sections");
    expect_error("[profile]\ndescription = d\n[imap]\nenabled=no\n[smtp]\nenabled=no\n[pop3]\nenabled=no\n", NOSETS,
                 "t.ini:1: [profile] is missing 'name'");
    expect_error(MINI "[account.a]\nemail = a@b.test\n", NOSETS, "t.ini:13: [account.a] is missing 'password'");
    /* enabling a protocol makes its replies required */
    expect_error(MINI, SETS("pop3.enabled=yes"), "t.ini:8: [pop3] is missing 'greeting'");
    expect_error(MINI, SETS("pop3.enabled=yes"), "t.ini:2: [profile] is missing 'pop3_host' ([pop3] is enabled)");
    expect_error(MINI, SETS("pop3.enabled=yes"), "t.ini: no [account.NAME] sections");
    /* accounts */
    const char *two = MINI "[account.a]\nemail = a@b.test\npassword = p\n[account.b]\nemail = A@B.test\npassword = q\n";
    expect_error(two, NOSETS, "t.ini:16: [account.b] and [account.a] share an address");
    profile *p = load_named("icloud", NOSETS);
    profile_free(p);
    expect_error("", SETS("profile.name=x"), "t.ini: no [listener.PORT] sections");
}

/* Every problem in a file is reported, not just the first. */
static void errors_all_reported(void **state)
{
    (void)state;
    profile_diag d = {0};
    const char *text = MINI "[tls]\nmin_version = 9\nmax_version = 8\nbogus = 1\n[listener.1]\nmode = x\n";
    assert_null(load_text(text, SETS("imap.nope=1"), &d));
    assert_int_equal(d.n, 6);
    assert_string_equal(d.msg[0], "t.ini:14: [tls] min_version: unknown value '9' (expected 1.0, 1.1, 1.2 or 1.3)");
    assert_string_equal(d.msg[1], "t.ini:15: [tls] max_version: unknown value '8' (expected 1.0, 1.1, 1.2 or 1.3)");
    assert_string_equal(d.msg[2], "t.ini:16: unknown key 'bogus' in [tls]");
    assert_string_equal(d.msg[3], "t.ini:18: [listener.1] mode: unknown value 'x' (expected implicit-tls, starttls, "
                                  "plain, closed or silent)");
    assert_string_equal(d.msg[4], "--set imap.nope=1: unknown key 'nope' in [imap]");
    /* not also "missing 'mode'": the bad value was reported already */
    assert_string_equal(d.msg[5], "t.ini:17: [listener.1] is missing 'protocol'");
    profile_diag_free(&d);
    /* the cap on kept messages */
    char *many = malloc(200000);
    size_t at = (size_t)sprintf(many, "%s", MINI);
    for (int i = 0; i < 150; i++)
        at += (size_t)sprintf(many + at, "bad%d = 1\n", i);
    assert_null(load_text(many, NOSETS, &d));
    assert_int_equal(d.n, PROFILE_DIAG_MAX);
    assert_int_equal(d.dropped, 50);
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    profile_diag_print(&d, f);
    fclose(f);
    assert_non_null(strstr(out, "... and 50 more\n"));
    free(out);
    free(many);
    profile_diag_free(&d);
}

static void continuation_and_comments(void **state)
{
    (void)state;
    profile_diag d = {0};
    profile *p = load_text(MINI "# comment\n; comment\ndescription = one\n   two   \n\n  # still a comment\n\tthree ; "
                                "inline comment\n[folder.Empty]\n",
                           NOSETS, &d);
    dump_diag(&d);
    assert_non_null(p);
    assert_string_equal(p->listeners[0].description, "one two three");
    assert_int_equal(p->n_folders, 1);
    assert_string_equal(p->folders[0].name, "Empty");
    assert_true(p->folders[0].subscribed);
    profile_free(p);
    /* a BOM and CRLF line ends */
    p = load_text("\xEF\xBB\xBF[profile]\r\nname = crlf\r\n[imap]\r\nenabled = no\r\n[smtp]\r\nenabled = no\r\n[pop3]\r\n"
                  "enabled = no\r\n[listener.1]\r\nprotocol = smtp\r\nmode = silent\r\n",
                  NOSETS, &d);
    dump_diag(&d);
    assert_non_null(p);
    assert_string_equal(p->name, "crlf");
    assert_int_equal(p->listeners[0].port, 1);
    profile_free(p);
    profile_diag_free(&d);
}

static void load_by_name_and_path(void **state)
{
    (void)state;
    profile_diag d = {0};
    assert_null(profile_load("no-such-profile", NULL, &d));
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.msg[0], "no profile named 'no-such-profile' (looked for "));
    profile_diag_free(&d);
    assert_null(profile_load("Bad Name", NULL, &d));
    assert_string_equal(d.msg[0], "'Bad Name' is neither a profile name (lower-case letters, digits, '-', '_') nor a "
                                  "path");
    profile_diag_free(&d);
    assert_null(profile_load("/nonexistent/x.ini", NULL, &d));
    assert_string_equal(d.msg[0], "/nonexistent/x.ini: cannot open: No such file or directory");
    profile_diag_free(&d);
    /* a path loads the file; the origin is the path */
    char dir[4096], path[4200];
    assert_true(paths_data_dir(dir, sizeof dir) > 0);
    snprintf(path, sizeof path, "%s/profiles/generic.ini", dir);
    profile *p = profile_load(path, NULL, &d);
    assert_non_null(p);
    assert_string_equal(p->origin, path);
    profile_free(p);
    /* too big */
    char tmp[] = "/tmp/mailrig-test-XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    char *junk = calloc(1, PROFILE_MAX_FILE + 10);
    memset(junk, '#', PROFILE_MAX_FILE + 9);
    assert_int_equal(write(fd, junk, PROFILE_MAX_FILE + 9), PROFILE_MAX_FILE + 9);
    close(fd);
    assert_null(profile_load_file(tmp, NULL, &d));
    char want[200];
    snprintf(want, sizeof want, "%s: larger than %d bytes", tmp, PROFILE_MAX_FILE);
    assert_string_equal(d.msg[0], want);
    profile_diag_free(&d);
    unlink(tmp);
    free(junk);
}

/* ---- the schema and its documentation ----------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void schema(void **state)
{
    (void)state;
    profile_keyinfo k, other;
    size_t n = 0;
    char dir[4096], path[4200];
    assert_true(paths_data_dir(dir, sizeof dir) > 0);
    snprintf(path, sizeof path, "%s/profiles/README.md", dir);
    char *readme = slurp(path);
    assert_non_null(readme);
    for (size_t i = 0; profile_schema_key(i, &k); i++, n++) {
        /* unique within its section */
        for (size_t j = 0; j < i; j++) {
            profile_schema_key(j, &other);
            if (!strcmp(other.section, k.section) && !strcmp(other.key, k.key))
                fail_msg("[%s] %s defined twice", k.section, k.key);
        }
        /* a fallback is a template of the same section whose placeholders this one also has */
        if (k.fallback) {
            bool found = false;
            for (size_t j = 0; profile_schema_key(j, &other); j++)
                if (!strcmp(other.section, k.section) && !strcmp(other.key, k.fallback)) {
                    found = true;
                    if (other.vars & ~k.vars)
                        fail_msg("[%s] %s falls back to %s, which may use placeholders it lacks", k.section, k.key,
                                 k.fallback);
                }
            if (!found)
                fail_msg("[%s] %s falls back to unknown %s", k.section, k.key, k.fallback);
        }
        assert_non_null(k.doc);
        /* documented in profiles/README.md as `key` */
        char tick[100];
        snprintf(tick, sizeof tick, "`%s`", k.key);
        if (!strstr(readme, tick))
            fail_msg("profiles/README.md does not document [%s] %s", k.section, k.key);
    }
    assert_true(n > 150);
    free(readme);
}

/* ---- data paths ----------------------------------------------------------------------------- */

static void data_paths(void **state)
{
    (void)state;
    char buf[4096];
    char root[] = "/tmp/mailrig-root-XXXXXX";
    assert_non_null(mkdtemp(root));
    char exe[4200], prof[4200];
    snprintf(exe, sizeof exe, "%s/build/asan/bin/mailrig", root);
    /* no profiles/ directory: the system location */
    assert_true(paths_data_dir_for_exe(exe, buf, sizeof buf) > 0);
    assert_string_equal(buf, PATHS_SYSTEM_DATA_DIR);
    snprintf(prof, sizeof prof, "%s/profiles", root);
    assert_int_equal(mkdir(prof, 0700), 0);
    assert_true(paths_data_dir_for_exe(exe, buf, sizeof buf) > 0);
    assert_string_equal(buf, root);
    /* not shaped like build/VARIANT/bin/NAME */
    snprintf(exe, sizeof exe, "%s/bin/mailrig", root);
    paths_data_dir_for_exe(exe, buf, sizeof buf);
    assert_string_equal(buf, PATHS_SYSTEM_DATA_DIR);
    snprintf(exe, sizeof exe, "%s/build/asan/sbin/mailrig", root);
    paths_data_dir_for_exe(exe, buf, sizeof buf);
    assert_string_equal(buf, PATHS_SYSTEM_DATA_DIR);
    rmdir(prof);
    rmdir(root);
    /* MAILRIG_DATA wins, trailing slashes dropped */
    char *old = getenv("MAILRIG_DATA") ? strdup(getenv("MAILRIG_DATA")) : NULL;
    setenv("MAILRIG_DATA", "/some/where//", 1);
    assert_int_equal(paths_data_dir(buf, sizeof buf), 11);
    assert_string_equal(buf, "/some/where");
    assert_int_equal(paths_data_dir(buf, 5), -1);
    assert_string_equal(buf, "");
    if (old) {
        setenv("MAILRIG_DATA", old, 1);
        free(old);
    } else {
        unsetenv("MAILRIG_DATA");
    }
    /* this test binary lives in build/asan/bin of the source tree */
    assert_true(paths_data_dir(buf, sizeof buf) > 0);
    snprintf(prof, sizeof prof, "%s/profiles/icloud.ini", buf);
    assert_int_equal(access(prof, R_OK), 0);
    assert_int_equal(paths_join(buf, sizeof buf, "/d", "profiles", "x.ini"), 17);
    assert_string_equal(buf, "/d/profiles/x.ini");
    assert_int_equal(paths_join(buf, 5, "/d", "profiles", "x.ini"), -1);
}

/* The shipped profiles by name, and the set of those that load. */
static void shipped_profiles(void **state)
{
    (void)state;
    char names[8][PROFILE_NAME_CAP];
    assert_int_equal(profile_names(".", names, 8), 3);
    assert_string_equal(names[0], "exchange");
    assert_string_equal(names[1], "generic");
    assert_string_equal(names[2], "icloud");
    assert_int_equal(profile_names(".", names, 2), 2); /* bounded by max */
    assert_int_equal(profile_names("/nonexistent", names, 8), -1);
    profile_set ps;
    assert_int_equal(profile_set_load(&ps, "."), 3);
    assert_string_equal(ps.p[2]->name, "icloud");
    profile_set_free(&ps);
    assert_int_equal(ps.n, 0);
    assert_int_equal(profile_set_load(&ps, "/nonexistent"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(icloud_facts),
        cmocka_unit_test(icloud_smtp_ehlo),
        cmocka_unit_test(icloud_auth),
        cmocka_unit_test(addresses),
        cmocka_unit_test(exchange_facts),
        cmocka_unit_test(exchange_states),
        cmocka_unit_test(exchange_consumer_variant),
        cmocka_unit_test(generic_facts),
        cmocka_unit_test(shipped_round_trip),
        cmocka_unit_test(equal_detects_change),
        cmocka_unit_test(overrides),
        cmocka_unit_test(override_errors),
        cmocka_unit_test(errors_sections_keys),
        cmocka_unit_test(errors_values),
        cmocka_unit_test(errors_quoting),
        cmocka_unit_test(errors_lines),
        cmocka_unit_test(errors_templates),
        cmocka_unit_test(errors_cross),
        cmocka_unit_test(errors_all_reported),
        cmocka_unit_test(continuation_and_comments),
        cmocka_unit_test(load_by_name_and_path),
        cmocka_unit_test(schema),
        cmocka_unit_test(data_paths),
        cmocka_unit_test(shipped_profiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
