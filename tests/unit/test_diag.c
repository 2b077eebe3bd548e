/* test_diag.c -- the diagnosis model: client vocabularies (per-port readings, ambiguity,
 * aliases, the generic fallback, load errors with file:line), the settings reader and flags,
 * protocol inference, provider inference (address, server names, conflicts), catalogue
 * selection and placeholder expansion, and diag_run against the shipped profiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/diag.h"
#include "harness/diag_judge.h"
#include "harness/diag_repro.h"
#include "harness/scenario.h"

static diag_msgs *M;

static int setup(void **state)
{
    (void)state;
    M = calloc(1, sizeof *M);
    return M ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(M);
    return 0;
}

static bool msgs_contain(const char *needle)
{
    for (size_t i = 0; i < M->n; i++)
        if (strstr(M->msg[i], needle))
            return true;
    return false;
}

#define assert_msg(needle)                                                                                        \
    do {                                                                                                          \
        if (!msgs_contain(needle)) {                                                                              \
            diag_msgs_print(M, stderr);                                                                           \
            fail_msg("no message with '%s'", needle);                                                             \
        }                                                                                                         \
    } while (0)

/* ---- vocabulary ------------------------------------------------------------------------------ */

static const char VOCAB[] =
    "[client.generic]\n"
    "name = any\n"
    "source = [D] RFC 8314\n"
    "security.SSL/TLS = implicit-tls\n"
    "security.STARTTLS = starttls\n"
    "security.none = none\n"
    "security.SSL = 465 993 995: implicit-tls, *: implicit-tls|starttls\n"
    "note.security.SSL = depends on the client\n"
    "auth.normal password = normal\n"
    "auth.NTLM = spa\n"
    "\n"
    "[client.mac]\n"
    "name = A Mac client\n"
    "aliases = apple, mail-app\n"
    "source = [V] a thread\n"
    "security.Use SSL = 465 993: implicit-tls, 25 587: starttls, *: implicit-tls|starttls\n"
    "source.security.Use SSL = [I] guessed\n"
    "auth.Password = normal\n";

static diag_vocab *vocab(void)
{
    diag_vocab *v = diag_vocab_load_string(VOCAB, sizeof VOCAB - 1, "v.ini", M);
    if (!v) {
        diag_msgs_print(M, stderr);
        fail_msg("vocabulary did not load");
    }
    return v;
}

static void vocab_per_port_readings(void **state)
{
    (void)state;
    diag_vocab *v = vocab();
    diag_reading r;
    assert_int_equal(diag_vocab_security(v, "mac", "Use SSL", 587, &r), 0);
    assert_int_equal(r.wire, DIAG_WIRE_STARTTLS);
    assert_int_equal(r.alt, DIAG_WIRE_UNSET);
    assert_string_equal(r.client, "mac");
    assert_true(r.inferred);
    assert_false(r.via_generic);
    assert_string_equal(r.at.file, "v.ini");
    assert_int_equal(r.at.line, 16);
    assert_int_equal(diag_vocab_security(v, "mac", "Use SSL", 993, &r), 0);
    assert_int_equal(r.wire, DIAG_WIRE_IMPLICIT_TLS);
    /* a port no clause names: the catch-all clause, ambiguous */
    assert_int_equal(diag_vocab_security(v, "mac", "use  ssl", 143, &r), 0);
    assert_int_equal(r.wire, DIAG_WIRE_IMPLICIT_TLS);
    assert_int_equal(r.alt, DIAG_WIRE_STARTTLS);
    /* port unknown and the clauses disagree: no reading */
    assert_int_equal(diag_vocab_security(v, "mac", "Use SSL", 0, &r), 0);
    assert_int_equal(r.wire, DIAG_WIRE_UNSET);
    diag_vocab_free(v);
}

static void vocab_generic_fallback_and_aliases(void **state)
{
    (void)state;
    diag_vocab *v = vocab();
    diag_reading r;
    /* the Mac client has no "SSL": the generic vocabulary reads it, and says so */
    assert_int_equal(diag_vocab_security(v, "apple", "SSL", 587, &r), 0);
    assert_true(r.via_generic);
    assert_string_equal(r.client, "generic");
    assert_int_equal(r.wire, DIAG_WIRE_IMPLICIT_TLS);
    assert_int_equal(r.alt, DIAG_WIRE_STARTTLS);
    assert_string_equal(r.note, "depends on the client");
    assert_int_equal(diag_vocab_security(v, "mac", "Use TLS please", 587, &r), -1);
    assert_string_equal(diag_vocab_find_client(v, "MAIL-APP"), "mac");
    assert_null(diag_vocab_find_client(v, "outlook"));
    diag_auth a;
    bool generic = false;
    assert_int_equal(diag_vocab_auth(v, "mac", "NTLM", &a, &generic), 0);
    assert_int_equal(a, DIAG_AUTH_SPA);
    assert_true(generic);
    assert_int_equal(diag_vocab_auth(v, "mac", "password", &a, &generic), 0);
    assert_int_equal(a, DIAG_AUTH_NORMAL);
    assert_false(generic);
    /* the label a fix suggests: the client's own first, else the generic one */
    assert_string_equal(diag_vocab_label_for(v, "mac", DIAG_WIRE_STARTTLS, 587), "Use SSL");
    assert_string_equal(diag_vocab_label_for(v, "mac", DIAG_WIRE_STARTTLS, 143), "STARTTLS");
    assert_string_equal(diag_vocab_label_for(v, NULL, DIAG_WIRE_IMPLICIT_TLS, 993), "SSL/TLS");
    diag_vocab_free(v);
}

static void vocab_load_errors(void **state)
{
    (void)state;
    static const char bad[] = "[client.generic]\n"
                              "name = g\n"
                              "source = s\n"
                              "security.X = 587: sometimes\n"
                              "security.Y = none\n"
                              "security.y = starttls\n"
                              "auth.Z = telepathy\n"
                              "note.security.Q = a note\n"
                              "[client.Bad Id]\n"
                              "[client.other]\n"
                              "name = o\n";
    assert_null(diag_vocab_load_string(bad, sizeof bad - 1, "bad.ini", M));
    assert_msg("bad.ini:4:");
    assert_msg("bad.ini:6: security label 'y' defined twice");
    assert_msg("bad.ini:7: unknown authentication 'telepathy' (accepted: none, normal");
    assert_msg("bad.ini:8: 'note.security.Q' names no security label defined above");
    assert_msg("bad.ini:9: client id 'Bad Id'");
    assert_msg("client 'other' needs a name and a source");
    memset(M, 0, sizeof *M);
    static const char nogeneric[] = "[client.x]\nname = x\nsource = s\n";
    assert_null(diag_vocab_load_string(nogeneric, sizeof nogeneric - 1, "n.ini", M));
    assert_msg("no [client.generic] section");
}

static void shipped_vocabulary_loads(void **state)
{
    (void)state;
    char path[4096];
    assert_true(diag_vocab_default_path(path, sizeof path) > 0);
    diag_vocab *v = diag_vocab_load(path, M);
    if (!v)
        diag_msgs_print(M, stderr);
    assert_non_null(v);
    static const char *const wanted[] = {"generic", "thunderbird", "apple-mail", "outlook", "ios-mail",
                                         "android-gmail", "k9", "evolution"};
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++)
        assert_non_null(diag_vocab_find_client(v, wanted[i]));
    diag_reading r;
    /* the brief's examples */
    assert_int_equal(diag_vocab_security(v, "apple-mail", "Use SSL", 587, &r), 0);
    assert_int_equal(r.wire, DIAG_WIRE_STARTTLS);
    assert_int_equal(diag_vocab_security(v, "thunderbird", "SSL/TLS", 587, &r), 0);
    assert_int_equal(r.wire, DIAG_WIRE_IMPLICIT_TLS);
    assert_int_equal(diag_vocab_security(v, "outlook", "TLS", 587, &r), 0);
    assert_int_equal(r.wire, DIAG_WIRE_STARTTLS);
    assert_int_equal(diag_vocab_security(v, "outlook", "SSL", 587, &r), 0);
    assert_int_equal(r.wire, DIAG_WIRE_IMPLICIT_TLS);
    assert_int_equal(diag_vocab_security(v, NULL, "SSL", 587, &r), 0);
    assert_int_equal(r.alt, DIAG_WIRE_STARTTLS);
    assert_int_equal(diag_vocab_security(v, "k9", "thunderbird-is-not-a-label", 587, &r), -1);
    diag_vocab_free(v);
}

/* ---- settings ------------------------------------------------------------------------------------ */

static void settings_file_origins(void **state)
{
    (void)state;
    static const char text[] = "email = Emily@ICLOUD.com   ; the address\n"
                               "[incoming]\n"
                               "server = IMAP.Mail.Me.Com.\n"
                               "port = 993\n"
                               "security = SSL/TLS\n"
                               "password = app-specific\n"
                               "[outgoing]\n"
                               "auth = normal password\n";
    diag_settings s;
    diag_settings_init(&s);
    assert_int_equal(diag_settings_load_string(text, sizeof text - 1, "s.ini", &s, M), 0);
    assert_string_equal(s.email, "Emily@icloud.com");
    assert_int_equal(s.at[DIAG_F_EMAIL].line, 1);
    const diag_server *in = &s.server[DIAG_IN];
    assert_string_equal(in->host, "imap.mail.me.com");
    assert_int_equal(in->at[DIAG_F_SERVER].line, 3);
    assert_int_equal(in->at[DIAG_F_NONE].line, 2);
    assert_int_equal(in->port, 993);
    assert_int_equal(in->password, DIAG_PW_APP);
    assert_true(in->given[DIAG_F_SECURITY]);
    assert_false(in->given[DIAG_F_USERNAME]);
    assert_string_equal(s.server[DIAG_OUT].auth_label, "normal password");
    /* a flag overrides the file; its origin is the flag */
    assert_int_equal(diag_settings_set(&s, "in-port", "143", M), 0);
    assert_int_equal(in->port, 143);
    assert_string_equal(in->at[DIAG_F_PORT].file, "--in-port");
    assert_int_equal(in->at[DIAG_F_PORT].line, 0);
    assert_int_equal(diag_settings_set(&s, "in-password", "my secret", M), -1);
    assert_msg("--in-password=...: password says which password");
    assert_false(msgs_contain("my secret"));
    assert_int_equal(diag_settings_set(&s, "out-servr", "x", M), -1);
    assert_msg("did you mean --out-server?");
}

static void settings_file_errors(void **state)
{
    (void)state;
    static const char text[] = "[incoming]\n"
                               "port = 70000\n"
                               "usrname = x\n"
                               "\xEF\xBB\xBF[outgoing]\n"
                               "protocol = pop3\n";
    diag_settings s;
    diag_settings_init(&s);
    assert_true(diag_settings_load_string(text, sizeof text - 1, "e.ini", &s, M) >= 3);
    assert_msg("e.ini:2: '70000' is not a port");
    assert_msg("e.ini:3: unknown key 'usrname' in [incoming] (did you mean 'username'?");
    assert_msg("e.ini:4: expected 'key = value'"); /* a byte-order mark only opens line 1 */
    memset(M, 0, sizeof *M);
    static const char bom[] = "\xEF\xBB\xBF[outgoing]\nprotocol = pop3\n";
    diag_settings_init(&s);
    assert_int_equal(diag_settings_load_string(bom, sizeof bom - 1, "b.ini", &s, M), 1);
    assert_msg("b.ini:2: outgoing protocol 'pop3' (accepted: smtp)");
    memset(M, 0, sizeof *M);
    char big[70 * 1024];
    memset(big, '#', sizeof big);
    assert_int_equal(diag_settings_load_string(big, sizeof big, "big.ini", &s, M), 1);
    assert_msg("larger than");
}

/* Values are valid UTF-8 without control characters, exactly (RFC 3629). */
static void settings_utf8(void **state)
{
    (void)state;
    static const char *const good[] = {"caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80",
                                       "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf"};
    static const char *const bad[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                      "\xf6\x9e\x8a\x8a", "\xc3", "a\x7f", "\xf0\x8f\xbf\xbf", "\x80"};
    diag_settings s;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        diag_settings_init(&s);
        assert_int_equal(diag_settings_set(&s, "in-username", good[i], M), 0);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        diag_settings_init(&s);
        if (diag_settings_set(&s, "in-username", bad[i], M) != -1)
            fail_msg("bad UTF-8 #%zu accepted", i);
    }
    assert_msg("--in-username=");
}

static void protocol_inference(void **state)
{
    (void)state;
    diag_vocab *v = vocab();
    diag_settings s;
    diag_settings_init(&s);
    diag_settings_set(&s, "in-port", "995", M);
    diag_settings_set(&s, "out-port", "587", M);
    assert_int_equal(diag_interpret(&s, v, M), 0);
    assert_int_equal(s.server[DIAG_IN].proto, DIAG_PROTO_POP3);
    assert_true(s.server[DIAG_IN].proto_inferred);
    assert_int_equal(s.server[DIAG_OUT].proto, DIAG_PROTO_SMTP);
    diag_settings_init(&s);
    diag_settings_set(&s, "in-server", "imap.example.org", M);
    diag_settings_set(&s, "in-port", "1993", M);
    diag_settings_set(&s, "client", "Apple", M);
    assert_int_equal(diag_interpret(&s, v, M), 0);
    assert_int_equal(s.server[DIAG_IN].proto, DIAG_PROTO_IMAP);
    assert_string_equal(s.client, "mac"); /* aliases resolve to the id */
    diag_settings_init(&s);
    diag_settings_set(&s, "in-server", "mail.example.org", M);
    assert_int_equal(diag_interpret(&s, v, M), 0);
    assert_int_equal(s.server[DIAG_IN].proto, DIAG_PROTO_UNSET);
    diag_settings_set(&s, "client", "macc", M);
    assert_int_equal(diag_interpret(&s, v, M), 1);
    assert_msg("--client: unknown client 'macc' (did you mean 'mac'?");
    diag_vocab_free(v);
}

/* ---- catalogue -------------------------------------------------------------------------------- */

static void rule_selection(void **state)
{
    (void)state;
    const diag_rule *r = diag_rule_for(DIAG_T_AUTH_NOT_ON_PORT, "icloud", DIAG_PROTO_SMTP, 25, DIAG_AUTH_NORMAL);
    assert_string_equal(r->id, "icloud-smtp-port-25");
    r = diag_rule_for(DIAG_T_AUTH_NOT_ON_PORT, "exchange", DIAG_PROTO_SMTP, 25, DIAG_AUTH_NORMAL);
    assert_string_equal(r->id, "auth-not-on-port");
    r = diag_rule_for(DIAG_T_AUTH_MECH, "exchange", DIAG_PROTO_IMAP, 993, DIAG_AUTH_SPA);
    assert_string_equal(r->id, "exchange-spa");
    r = diag_rule_for(DIAG_T_AUTH_MECH, "exchange", DIAG_PROTO_IMAP, 993, DIAG_AUTH_CRAM_MD5);
    assert_string_equal(r->id, "auth-mech-not-offered");
    r = diag_rule_for(DIAG_T_PORT_ADVICE, NULL, DIAG_PROTO_SMTP, 25, DIAG_AUTH_UNSET);
    assert_null(r); /* advice is the provider's documentation only */
    assert_ptr_equal(diag_rule_find("icloud-no-pop"), diag_rule_for(DIAG_T_PROTOCOL_UNSUPPORTED, "icloud",
                                                                      DIAG_PROTO_POP3, 995, DIAG_AUTH_UNSET));
    for (size_t i = 0; diag_rule_at(i); i++) {
        const diag_rule *x = diag_rule_at(i);
        assert_ptr_equal(diag_rule_find(x->id), x);
        /* every {placeholder} in the texts is one diag_run fills */
        char out[2048];
        diag_fill none = {0};
        const char *texts[] = {x->title, x->wire, x->fix};
        for (int k = 0; k < 3; k++) {
            diag_fill_expand(texts[k], &none, out, sizeof out);
            if (strchr(out, '{'))
                fail_msg("%s: unknown placeholder in \"%s\"", x->id, texts[k]);
        }
    }
}

static void fill_expansion(void **state)
{
    (void)state;
    diag_fill f = {0};
    f.v[DIAG_PH_HOST] = "imap.icloud.com";
    f.v[DIAG_PH_FIX_HOST] = "imap.mail.me.com";
    char out[64];
    diag_fill_expand("{host} -> {fix_host}{port}; {other thing}", &f, out, sizeof out);
    assert_string_equal(out, "imap.icloud.com -> imap.mail.me.com; {other thing}");
    diag_fill_expand("{host}{host}{host}{host}{host}", &f, out, 20);
    assert_int_equal(strlen(out), 19);
}

static void report_dedupe_and_counts(void **state)
{
    (void)state;
    diag_report *r = calloc(1, sizeof *r);
    diag_report_init(r);
    const diag_rule *rule = diag_rule_find("icloud-no-pop");
    assert_non_null(diag_report_add(r, rule, DIAG_IN, DIAG_F_PROTOCOL, NULL));
    assert_null(diag_report_add(r, rule, DIAG_IN, DIAG_F_PROTOCOL, NULL));
    assert_true(diag_report_has_errors(r));
    assert_non_null(diag_report_add(r, diag_rule_find("exchange-sign-in-web-first"), DIAG_IN, DIAG_F_NONE, NULL));
    assert_int_equal(r->n_severity[DIAG_INFO], 0); /* possible causes are not counted */
    for (int i = 0; i < DIAG_MAX_FINDINGS + 5; i++)
        diag_report_add(r, diag_rule_at((size_t)i % 40), (diag_server_id)(i % 3), (diag_field)(i / 40), NULL);
    assert_int_equal(r->n_findings, DIAG_MAX_FINDINGS);
    assert_true(r->dropped > 0);
    free(r);
}

/* ---- diag_run against the shipped profiles --------------------------------------------------- */

static diag_report *judge(const char *const *flags, diag_vocab *v)
{
    diag_settings s;
    diag_settings_init(&s);
    for (size_t i = 0; flags[i]; i += 2)
        assert_int_equal(diag_settings_set(&s, flags[i], flags[i + 1], M), 0);
    assert_int_equal(diag_interpret(&s, v, M), 0);
    diag_report *r = calloc(1, sizeof *r);
    diag_report_init(r);
    diag_env env = {.vocab = v};
    if (diag_run(&s, &env, r, M) < 0) {
        diag_msgs_print(M, stderr);
        fail_msg("diag_run failed");
    }
    return r;
}

static const diag_finding *finding(const diag_report *r, const char *id)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (!strcmp(r->findings[i].rule->id, id))
            return &r->findings[i];
    return NULL;
}

static void provider_inference(void **state)
{
    (void)state;
    diag_vocab *v = vocab();
    const char *email_only[] = {"email", "a@me.com", NULL};
    diag_report *r = judge(email_only, v);
    assert_int_equal(r->how, DIAG_PROVIDER_INFERRED);
    assert_string_equal(r->provider, "icloud");
    assert_int_equal(r->n_evidence, 1);
    free(r);
    const char *host_only[] = {"in-server", "outlook.office365.com", "out-server", "smtp.office365.com", NULL};
    r = judge(host_only, v);
    assert_string_equal(r->provider, "exchange");
    assert_int_equal(r->n_evidence, 2);
    assert_non_null(strstr(r->evidence[0].what, "the IMAP host of"));
    free(r);
    const char *suffix[] = {"email", "x@contoso.com", "in-server", "imap-mail.outlook.com", NULL};
    r = judge(suffix, v);
    assert_string_equal(r->provider, "exchange");
    assert_non_null(finding(r, "exchange-server-name"));
    free(r);
    const char *conflict[] = {"email", "a@icloud.com", "out-server", "smtp.office365.com", NULL};
    r = judge(conflict, v);
    assert_int_equal(r->how, DIAG_PROVIDER_CONFLICT);
    assert_string_equal(r->provider, "");
    assert_non_null(finding(r, "provider-conflict"));
    free(r);
    const char *nothing[] = {"email", "a@example.org", "in-server", "mail.example.org", NULL};
    r = judge(nothing, v);
    assert_int_equal(r->how, DIAG_PROVIDER_UNKNOWN);
    assert_int_equal(r->n_findings, 0);
    free(r);
    const char *given[] = {"provider", "exchange", "email", "a@icloud.com", NULL};
    r = judge(given, v);
    assert_int_equal(r->how, DIAG_PROVIDER_GIVEN);
    assert_int_equal(r->n_evidence, 1); /* given: the address is not weighed against it */
    free(r);
    diag_vocab_free(v);
}

static void run_quotes_profile_replies(void **state)
{
    (void)state;
    diag_vocab *v = vocab();
    const char *flags[] = {"email", "emilyparker@icloud.com", "client", "mac", "out-server", "smtp.mail.me.com",
                           "out-port", "25", "out-security", "Use SSL", "out-username", "emilyparker",
                           "out-password", "account", NULL};
    diag_report *r = judge(flags, v);
    const diag_finding *f = finding(r, "icloud-smtp-port-25");
    assert_non_null(f);
    assert_string_equal(f->reply, "503 5.5.1 Error: authentication not enabled");
    assert_string_equal(f->reply_key, "smtp.auth_not_offered");
    assert_string_equal(f->at.file, "--out-port");
    /* the fix is in the Mac client's words for STARTTLS on 587 */
    assert_non_null(strstr(f->fix, "security = Use SSL"));
    f = finding(r, "icloud-smtp-username-full-address");
    assert_non_null(f);
    assert_string_equal(f->fix, "username = emilyparker@icloud.com");
    assert_string_equal(f->reply, "535 5.7.8 Error: authentication failed: authentication failure");
    assert_non_null(finding(r, "icloud-app-specific-password"));
    assert_true(diag_report_has_errors(r));
    free(r);
    diag_vocab_free(v);
}

/* Every combination of protocol, wire mode, authentication and password kind, with a user name
 * full of the scenario language's and IMAP's special characters, makes a scenario that parses;
 * the name is never taken for a variable. */
static void repro_scenarios_parse(void **state)
{
    (void)state;
    profile_diag pd = {0};
    profile *p = profile_load("exchange", NULL, &pd);
    profile_diag_free(&pd);
    assert_non_null(p);
    diag_report *r = calloc(1, sizeof *r);
    repro_plan *pl = calloc(1, sizeof *pl);
    char *buf = malloc(REPRO_SCN_MAX), err[200];
    diag_settings s;
    diag_settings_init(&s);
    assert_int_equal(diag_settings_set(&s, "email", "tony@contoso.com", M), 0);
    snprintf(r->provider, sizeof r->provider, "exchange");
    r->how = DIAG_PROVIDER_GIVEN;
    static const diag_proto protos[] = {DIAG_PROTO_IMAP, DIAG_PROTO_POP3, DIAG_PROTO_SMTP};
    for (size_t pi = 0; pi < 3; pi++)
        for (int w = DIAG_WIRE_NONE; w < DIAG_WIRE_COUNT; w++)
            for (int a = DIAG_AUTH_NONE; a < DIAG_AUTH_COUNT; a++)
                for (int pw = DIAG_PW_ACCOUNT; pw < DIAG_PW_COUNT; pw++) {
                    diag_server_id id = protos[pi] == DIAG_PROTO_SMTP ? DIAG_OUT : DIAG_IN;
                    diag_server *sv = &s.server[id];
                    memset(sv, 0, sizeof *sv);
                    sv->given[DIAG_F_PORT] = true;
                    sv->proto = protos[pi];
                    sv->port = 993;
                    sv->reading.wire = (diag_wire)w;
                    sv->auth = (diag_auth)a;
                    sv->password = (diag_password)pw;
                    snprintf(sv->host, sizeof sv->host, "outlook.office365.com");
                    snprintf(sv->username, sizeof sv->username, "t\"o{account.password}\\ny {5}");
                    assert_int_equal(repro_plan_make(&s, r, p, "not-signed-in", pl, err, sizeof err), 0);
                    for (int k = 0; k < 4; k++) {
                        int n = repro_scenario(pl, k & 1, id, p, NULL, 0, k & 2 ? "curl-imap" : NULL, buf,
                                               REPRO_SCN_MAX);
                        assert_true(n > 0);
                        sc_diags d = {0};
                        sc_scenario *sc = sc_parse_mem("<repro>", buf, (size_t)n, NULL, &d);
                        if (!sc) {
                            sc_diags_print(stderr, &d);
                            fail_msg("does not parse:\n%s", buf);
                        }
                        /* the name's "{account.password}" stays text, never a reference */
                        if (!(k & 1) && strstr(buf, "o{account.password}"))
                            fail_msg("%s", buf);
                        sc_free(sc);
                        sc_diags_free(&d);
                    }
                    memset(sv, 0, sizeof *sv);
                }
    free(buf);
    free(pl);
    free(r);
    profile_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(vocab_per_port_readings, setup, teardown),
        cmocka_unit_test_setup_teardown(vocab_generic_fallback_and_aliases, setup, teardown),
        cmocka_unit_test_setup_teardown(vocab_load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(shipped_vocabulary_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(settings_file_origins, setup, teardown),
        cmocka_unit_test_setup_teardown(settings_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(settings_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(protocol_inference, setup, teardown),
        cmocka_unit_test_setup_teardown(rule_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(fill_expansion, setup, teardown),
        cmocka_unit_test_setup_teardown(report_dedupe_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(provider_inference, setup, teardown),
        cmocka_unit_test_setup_teardown(run_quotes_profile_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(repro_scenarios_parse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
