/* test_scenario.c -- the scenario language: every header line and step (valid forms and the
 * tree they give), every class of error with its exact message, limits, includes, hooks, and
 * the broken files under tests/scenarios/broken/ against their .err files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/scenario.h"
#include "harness/scenario_checks.h"
#include "tests/unit/support.h"

/* ---- an in-memory file table for includes ----------------------------------------------- */

typedef struct mem_fs {
    const char *names[8];
    const char *texts[8];
    size_t n;
} mem_fs;

static int mem_read(void *ctx, const char *path, size_t max, char **data, size_t *len, char *why,
                    size_t whycap)
{
    const mem_fs *fs = ctx;
    for (size_t i = 0; fs && i < fs->n; i++)
        if (strcmp(fs->names[i], path) == 0) {
            size_t n = strlen(fs->texts[i]);
            if (n > max + 1)
                n = max + 1;
            *data = malloc(n + 1);
            memcpy(*data, fs->texts[i], n);
            *len = n;
            return 0;
        }
    snprintf(why, whycap, "No such file or directory");
    return -1;
}

static sc_options opts_with(mem_fs *fs)
{
    sc_options o;
    memset(&o, 0, sizeof o);
    o.read = mem_read;
    o.ctx = fs;
    return o;
}

/* Parse text as "t.scn"; the input is copied to the end of a guard page. */
static sc_scenario *parse_fs(const char *text, mem_fs *fs, sc_diags *d)
{
    size_t n = strlen(text);
    char *copy = guard_dup(text, n);
    sc_options o = opts_with(fs);
    sc_scenario *sc = sc_parse_mem("t.scn", copy, n, &o, d);
    guard_free(copy, n);
    return sc;
}

/* Parse text that must be valid; fails the test with the diagnostics otherwise. */
static sc_scenario *ok(const char *text)
{
    sc_diags d = {0};
    sc_scenario *sc = parse_fs(text, NULL, &d);
    if (!sc) {
        sc_diags_print(stderr, &d);
        fail_msg("a valid scenario did not parse");
    }
    assert_int_equal(d.n, 0);
    sc_diags_free(&d);
    return sc;
}

/* Parse text that must be invalid; return the printed diagnostics (caller frees). */
static char *bad_fs(const char *text, mem_fs *fs)
{
    sc_diags d = {0};
    sc_scenario *sc = parse_fs(text, fs, &d);
    assert_null(sc);
    assert_true(d.n > 0);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    sc_diags_print(f, &d);
    fclose(f);
    sc_diags_free(&d);
    return out;
}

static char *bad(const char *text)
{
    return bad_fs(text, NULL);
}

/* The first diagnostic's "line:col: message" must be exactly want. */
static void first_error(const char *text, const char *want)
{
    sc_diags d = {0};
    sc_scenario *sc = parse_fs(text, NULL, &d);
    assert_null(sc);
    assert_true(d.n > 0);
    char got[800];
    snprintf(got, sizeof got, "%u:%u: %s", d.v[0].line, d.v[0].col, d.v[0].msg);
    if (strcmp(got, want) != 0) {
        sc_diags_print(stderr, &d);
        fail_msg("want \"%s\"\n got \"%s\"", want, got);
    }
    sc_diags_free(&d);
}

#define CLIENT "scenario t\nrole client\n"
#define SERVER "scenario t\nrole server\n"

/* Concatenate the literal parts of a text (references as {name}). */
static const char *flat(const sc_text *t)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ & 3];
    size_t o = 0;
    for (size_t i = 0; i < t->nparts && o < 500; i++) {
        const sc_part *p = &t->parts[i];
        if (p->kind == SC_PART_LIT) {
            memcpy(b + o, p->p, p->n > 500 - o ? 500 - o : p->n);
            o += p->n > 500 - o ? 500 - o : p->n;
        } else {
            o += (size_t)snprintf(b + o, 512 - o, "{%s%s}",
                                  p->ref.xform == SC_XF_BASE64 ? "base64:" : "", p->ref.name);
        }
    }
    b[o] = 0;
    return b;
}

/* ---- header ----------------------------------------------------------------------------- */

static void header_every_line(void **state)
{
    (void)state;
    sc_scenario *sc = ok("# leading comment\n"
                         "scenario icloud-imap-x   # trailing comment\n"
                         "describe \"says \\\"why\\\"\\tand {not a var}\"\n"
                         "tags icloud imap\n"
                         "tags username\n"
                         "profile icloud\n"
                         "role client\n"
                         "timeout step=500ms total=2m\n"
                         "set imap.username=local\n"
                         "set imap.reply.login_failed=\"{tag} NO [AUTHENTICATIONFAILED] x\"\n"
                         "account emily\n"
                         "var who=\"{account.email}\"\n"
                         "connect imap 993 implicit-tls\n");
    assert_string_equal(sc->h.name, "icloud-imap-x");
    assert_string_equal(sc->h.describe, "says \"why\"\tand {not a var}");
    assert_int_equal(sc->h.ntags, 3);
    assert_string_equal(sc->h.tags[2], "username");
    assert_string_equal(sc->h.profile, "icloud");
    assert_null(sc->h.profile_path);
    assert_int_equal(sc->h.role, SC_ROLE_CLIENT);
    assert_int_equal(sc->h.step_timeout_ms, 500);
    assert_int_equal(sc->h.total_timeout_ms, 120000);
    assert_int_equal(sc->h.nsets, 2);
    assert_string_equal(sc->h.sets[0].key, "imap.username");
    assert_string_equal(sc->h.sets[0].value, "local");
    assert_string_equal(sc->h.sets[1].value, "{tag} NO [AUTHENTICATIONFAILED] x");
    assert_int_equal(sc->h.sets[1].loc.line, 10);
    assert_int_equal(sc->h.sets[1].loc.col, 5);
    assert_string_equal(sc->h.account, "emily");
    assert_int_equal(sc->nsteps, 2);
    assert_int_equal(sc->steps[0].kind, SC_VAR);
    assert_int_equal(sc->steps[1].kind, SC_CONNECT);
    assert_int_equal(sc->steps[1].loc.line, 13);
    assert_int_equal(sc->steps[1].loc.col, 1);
    assert_memory_equal(sc->steps[1].loc.text, "connect imap 993 implicit-tls", 29);
    assert_int_equal(sc->steps[1].timeout_ms, 500);
    assert_string_equal(sc->file, "t.scn");
    sc_free(sc);
}

static void header_defaults_and_profile_path(void **state)
{
    (void)state;
    mem_fs fs = {{"dir/t.scn"}, {CLIENT "profile ../profiles/mine.ini\nconnect smtp plain\n"}, 1};
    sc_diags d = {0};
    sc_options o = opts_with(&fs);
    sc_scenario *sc = sc_parse_file("dir/t.scn", &o, &d);
    assert_non_null(sc);
    assert_string_equal(sc->h.profile, "../profiles/mine.ini");
    assert_string_equal(sc->h.profile_path, "profiles/mine.ini");
    assert_null(sc->h.describe);
    assert_null(sc->h.account);
    assert_int_equal(sc->h.step_timeout_ms, 5000);
    assert_int_equal(sc->h.total_timeout_ms, 60000);
    assert_int_equal(sc->steps[0].u.connect.port, 0);
    assert_int_equal(sc_default_port(SC_PROTO_SMTP, SC_MODE_PLAIN), 587);
    sc_free(sc);
    sc_diags_free(&d);
}

static void header_errors(void **state)
{
    (void)state;
    first_error("role client\n", "1:1: a scenario starts with 'scenario NAME' (before any other line)");
    first_error("scenario Bad_Name\n", "1:10: bad scenario name 'Bad_Name': use lower-case letters, "
                                       "digits, '.', '_' and '-', starting with a letter or digit "
                                       "(at most 64)");
    first_error(CLIENT "role server\n", "3:1: duplicate 'role' (first at line 2)");
    first_error("scenario t\nrole clint\n",
                "2:6: unknown role 'clint' (did you mean 'client'?) (one of: client, server)");
    first_error(CLIENT "connect imap plain\nprofile icloud\n",
                "4:1: 'profile' belongs to the header: move it above the first step");
    first_error("scenario t\nconnect imap plain\n",
                "2:1: the header has no 'role client' or 'role server' before this first step");
    first_error(CLIENT "timeout step=10s total=5s\n",
                "3:9: the step timeout (10000ms) is longer than the total timeout (5000ms)");
    first_error(CLIENT "timeout steps=1s\n", "3:9: unknown setting 'steps' for 'timeout' (did you "
                                             "mean 'step'?) (known: step= total=)");
    first_error(CLIENT "describe nope\n", "3:10: 'describe' needs a quoted text (usage: describe "
                                          "\"TEXT\")");
    first_error(CLIENT "tags a a\n", "3:8: duplicate tag 'a'");
    first_error(CLIENT "set username=full\n", "3:5: bad profile key 'username': write SECTION.KEY, "
                                              "e.g. imap.username or listener.587.mode");
    first_error(CLIENT "set imap.x=\"a\\x00b\"\n", "3:14: a NUL byte (\\x00) is not allowed here");
    first_error("scenario t\n", "1:1: the header has no 'role client' or 'role server'");
    first_error(CLIENT, "1:1: the scenario has no steps");
    char *out = bad("# only comments\n\n   # and blank lines\n");
    assert_string_equal(out, "t.scn: no 'scenario NAME' line: a scenario starts with one\n");
    free(out);
    first_error(CLIENT "var x=1\n", "1:1: the scenario has no steps");
}

/* ---- client-role steps ------------------------------------------------------------------ */

static void step_connect_forms(void **state)
{
    (void)state;
    sc_scenario *sc = ok(CLIENT "connect imap 993 implicit-tls timeout=2s\n"
                                "close\n"
                                "connect smtp plain\n"
                                "expect-connect ok\n"
                                "close\n"
                                "connect pop3 995 implicit-tls\n"
                                "expect-connect refused\n"
                                "connect smtp 25 plain\n"
                                "expect-connect timeout\n"
                                "connect imap implicit-tls\n"
                                "expect-connect ok\n"
                                "tls expect=fail verify=off sni=imap.mail.me.com version=1.3\n");
    const sc_step *s = sc->steps;
    assert_int_equal(s[0].u.connect.proto, SC_PROTO_IMAP);
    assert_int_equal(s[0].u.connect.port, 993);
    assert_int_equal(s[0].u.connect.mode, SC_MODE_IMPLICIT_TLS);
    assert_int_equal(s[0].u.connect.outcome, SC_CONNECT_OK);
    assert_int_equal(s[0].u.connect.outcome_step, -1);
    assert_int_equal(s[0].u.connect.tls.expect, SC_TLS_OK);
    assert_int_equal(s[0].u.connect.tls.verify, SC_VERIFY_ON);
    assert_int_equal(s[0].u.connect.tls.step, -1);
    assert_int_equal(s[0].timeout_ms, 2000);
    assert_int_equal(s[2].u.connect.mode, SC_MODE_PLAIN);
    assert_int_equal(s[2].u.connect.outcome_step, 3);
    assert_int_equal(s[3].u.expect_connect.target, 2);
    assert_int_equal(s[5].u.connect.outcome, SC_CONNECT_REFUSED);
    assert_int_equal(s[7].u.connect.outcome, SC_CONNECT_TIMEOUT);
    const sc_tls *tls = &s[9].u.connect.tls;
    assert_int_equal(tls->expect, SC_TLS_FAIL);
    assert_int_equal(tls->verify, SC_VERIFY_OFF);
    assert_int_equal(tls->version, 13);
    assert_int_equal(tls->step, 11);
    assert_string_equal(flat(tls->sni), "imap.mail.me.com");
    assert_int_equal(s[11].kind, SC_TLS);
    assert_int_equal(s[11].u.tls.target, 9);
    sc_free(sc);
}

static void step_connect_errors(void **state)
{
    (void)state;
    first_error(CLIENT "connect imap 993 starttls\n",
                "3:18: mode 'starttls' is scripted: use 'plain', send the STARTTLS command, then "
                "a 'starttls' step");
    first_error(CLIENT "connect imap 993 ssl\n", "3:18: unknown mode 'ssl' (did you mean "
                                                 "'implicit-tls'?)");
    first_error(CLIENT "connect imapp plain\n", "3:9: unknown protocol 'imapp' (did you mean "
                                                "'imap'?) (one of: imap, smtp, pop3)");
    first_error(CLIENT "connect pop plain\n", "3:9: unknown protocol 'pop' (did you mean 'pop3'?)");
    first_error(CLIENT "connect imap 99999 plain\n", "3:14: bad port '99999': a port is 1 to 65535");
    first_error(CLIENT "connect imap\n", "3:13: 'connect' needs a mode: implicit-tls or plain "
                                         "(usage: connect PROTO [PORT] implicit-tls|plain "
                                         "[timeout=DURATION])");
    first_error(CLIENT "connect imap plain\nconnect imap plain\n",
                "4:1: already connected (since line 3): 'close' or 'expect-closed' first");
    first_error(CLIENT "connect imap plain extra\n",
                "3:20: unexpected 'extra' (usage: connect PROTO [PORT] implicit-tls|plain "
                "[timeout=DURATION])");
    first_error(CLIENT "connect imap plain\nclose\nexpect-connect ok\n",
                "5:1: 'expect-connect' must directly follow a 'connect' step (it says how that "
                "connect ends)");
    first_error(CLIENT "connect imap plain\nexpect-connect maybe\n",
                "4:16: unknown connect outcome 'maybe' (one of: ok, refused, timeout)");
    first_error(CLIENT "connect imap plain\nexpect-connect refused\nsend \"x\"\n",
                "5:1: 'send' needs a connection: the connect at line 3 is expected to be refused");
    first_error(CLIENT "connect imap plain\ntls expect=ok\n",
                "4:1: 'tls' must directly follow 'connect ... implicit-tls', 'listen ... "
                "implicit-tls' or 'starttls' (it sets how that handshake must go)");
    first_error(CLIENT "connect imap implicit-tls\ntls expect=fail\nsend \"x\"\n",
                "5:1: 'send' needs a connection: the TLS handshake at line 4 is expected to fail, "
                "which ends the connection");
    first_error(CLIENT "connect imap implicit-tls\ntls expect=maybe\n",
                "4:12: unknown TLS expectation 'maybe' (one of: ok, fail, alert)");
    first_error(CLIENT "connect imap implicit-tls\ntls verfy=on\n",
                "4:5: unknown setting 'verfy' for 'tls' (did you mean 'verify'?) (known: expect= "
                "verify= sni= version=)");
    first_error(CLIENT "connect imap implicit-tls\ntls\ntls\n",
                "5:1: 'tls' must directly follow 'connect ... implicit-tls', 'listen ... "
                "implicit-tls' or 'starttls' (it sets how that handshake must go)");
    first_error(CLIENT "connect imap implicit-tls timeout=2h\n",
                "3:35: bad duration '2h': unknown duration unit 'h' (ms, s or m)");
}

static void step_send_forms(void **state)
{
    (void)state;
    sc_scenario *sc = ok(CLIENT "connect smtp plain\n"
                                "send \"EHLO a\" \"MAIL FROM:<{account.email}>\"\n"
                                "send-raw \"DATA\\n\\x00\\xff\\r\\n\" \"{base64:account.password}\"\n"
                                "send \"a1 APPEND INBOX \\{5}\" \"{5+} { x}\"\n");
    const sc_step *s = &sc->steps[1];
    assert_int_equal(s->kind, SC_SEND);
    assert_int_equal(s->u.send.n, 2);
    assert_string_equal(flat(&s->u.send.lines[0]), "EHLO a");
    assert_int_equal(s->u.send.lines[1].nparts, 3);
    assert_int_equal(s->u.send.lines[1].parts[1].kind, SC_PART_REF);
    assert_int_equal(s->u.send.lines[1].parts[1].ref.kind, SC_VAR_ACCOUNT_EMAIL);
    assert_int_equal(s->u.send.lines[1].secret, 0);
    assert_int_equal(s->u.send.lines[1].col, 15);
    s = &sc->steps[2];
    assert_int_equal(s->kind, SC_SEND_RAW);
    assert_int_equal(s->u.send.lines[0].nparts, 1);
    assert_int_equal(s->u.send.lines[0].parts[0].n, 9);
    assert_memory_equal(s->u.send.lines[0].parts[0].p, "DATA\n\0\xff\r\n", 9);
    const sc_ref *r = &s->u.send.lines[1].parts[0].ref;
    assert_int_equal(r->kind, SC_VAR_ACCOUNT_PASSWORD);
    assert_int_equal(r->xform, SC_XF_BASE64);
    assert_true(r->secret);
    assert_true(s->u.send.lines[1].secret);
    s = &sc->steps[3];
    assert_string_equal(flat(&s->u.send.lines[0]), "a1 APPEND INBOX {5}");
    assert_string_equal(flat(&s->u.send.lines[1]), "{5+} { x}");
    sc_free(sc);
}

static void step_send_errors(void **state)
{
    (void)state;
    first_error(CLIENT "connect smtp plain\nsend EHLO\n",
                "4:6: 'send' takes quoted strings: send \"a1 NOOP\"");
    first_error(CLIENT "connect smtp plain\nsend\n",
                "4:5: 'send' needs a quoted string (usage: send \"LINE\"...)");
    first_error(CLIENT "send \"x\"\n", "3:1: 'send' needs a connection: there is no 'connect' "
                                       "before it");
    first_error(CLIENT "connect smtp plain\nclose\nsend-raw \"x\"\n",
                "5:1: 'send-raw' needs a connection: the connection was closed at line 4");
    first_error(CLIENT "connect smtp plain\nsend \"a\\q\"\n",
                "4:8: unknown escape '\\q' (known: \\r \\n \\t \\\\ \\\" \\{ \\xHH)");
    first_error(CLIENT "connect smtp plain\nsend \"\\x4\"\n",
                "4:7: '\\x' needs two hex digits (\\x00 to \\xff)");
    first_error(CLIENT "connect smtp plain\nsend \"abc\n",
                "4:6: unterminated string: no closing '\"' on this line");
    first_error(CLIENT "connect smtp plain\nsend \"a\"\"b\"\n", "4:9: missing space after the "
                                                            "closing '\"'");
    first_error(CLIENT "connect smtp plain\nsend x\"b\"\n", "4:7: missing space before this");
    first_error(CLIENT "connect smtp plain\nsend \"{account.emial}\"\n",
                "4:7: unknown variable '{account.emial}' (did you mean 'account.email'?)");
    first_error(CLIENT "connect smtp plain\nsend \"{account.username}\"\n",
                "4:7: '{account.username}' needs a protocol: {account.username.imap}, "
                "{account.username.smtp} or {account.username.pop3}");
    first_error(CLIENT "connect smtp plain\nsend \"{port:ftp}\"\n",
                "4:7: unknown protocol 'ftp' in '{port:ftp}' (imap, smtp or pop3)");
    first_error(CLIENT "connect smtp plain\nsend \"{port:smtp:0}\"\n",
                "4:7: bad port in '{port:smtp:0}': a provider port is 1 to 65535");
    first_error(CLIENT "connect smtp plain\nsend \"{a b}\"\n",
                "4:7: '{' starts a variable here, but '{a ' is not a name followed by '}' (names "
                "are letters, digits and _ . : -; write \\{ for a literal brace)");
}

static void step_expect_forms(void **state)
{
    (void)state;
    sc_scenario *sc = ok(CLIENT "connect imap plain\n"
                                "expect \"* OK *\" exact \"* x?\" /^a1 (?<code>[A-Z]+) (?<rest>.*)$/i "
                                "as all timeout=1s\n"
                                "expect /{code}\\p{L}{2,3}\\x{41}[{]/ as all\n"
                                "send \"{code} {all} {rest}\"\n");
    const sc_step *s = &sc->steps[1];
    assert_int_equal(s->kind, SC_EXPECT);
    assert_int_equal(s->u.expect.n, 3);
    assert_int_equal(s->u.expect.proto, SC_PROTO_IMAP);
    assert_int_equal(s->u.expect.pats[0].kind, SC_PAT_GLOB);
    assert_string_equal(flat(&s->u.expect.pats[0].text), "* OK *");
    assert_int_equal(s->u.expect.pats[1].kind, SC_PAT_EXACT);
    const sc_pattern *re = &s->u.expect.pats[2];
    assert_int_equal(re->kind, SC_PAT_REGEX);
    assert_true(re->caseless);
    assert_int_equal(re->ngroups, 2);
    assert_string_equal(re->groups[0].name, "code");
    assert_int_equal(re->groups[0].number, 1);
    assert_string_equal(re->groups[1].name, "rest");
    assert_int_equal(re->groups[1].number, 2);
    assert_string_equal(flat(&re->text), "^a1 (?<code>[A-Z]+) (?<rest>.*)$");
    assert_int_equal(s->timeout_ms, 1000);
    assert_int_equal(sc->nvars, 3);
    assert_string_equal(sc->vars[re->groups[0].slot].name, "code");
    assert_int_equal(sc->vars[s->u.expect.capture].kind, SC_VAR_CAPTURE);
    assert_string_equal(sc->vars[s->u.expect.capture].name, "all");
    assert_int_equal(sc->vars[s->u.expect.capture].def_step, 1);
    /* a regex keeps \p{..}, \x{..}, {2,3} and [{]; {code} is a reference */
    const sc_pattern *re2 = &sc->steps[2].u.expect.pats[0];
    assert_int_equal(re2->text.nparts, 2);
    assert_int_equal(re2->text.parts[0].kind, SC_PART_REF);
    assert_string_equal(flat(&re2->text), "{code}\\p{L}{2,3}\\x{41}[{]");
    /* re-capturing into the same name reuses the slot */
    assert_int_equal(sc->steps[2].u.expect.capture, s->u.expect.capture);
    sc_free(sc);
}

static void step_expect_errors(void **state)
{
    (void)state;
    first_error(CLIENT "connect imap plain\nexpect /a(b/\n", "4:12: bad regex: missing closing "
                                                             "parenthesis");
    first_error(CLIENT "connect imap plain\nexpect /a{x/\n",
                "4:10: '{' starts a variable here, but '{x' is not a name followed by '}' (names "
                "are letters, digits and _ . : -; write \\{ for a literal brace)");
    first_error(CLIENT "connect imap plain\nexpect /a/g\n", "4:11: unknown regex flag 'g' (known: "
                                                           "i, caseless)");
    first_error(CLIENT "connect imap plain\nexpect /abc\n", "4:8: unterminated /regex/: no closing "
                                                           "'/' on this line (write \\/ for a "
                                                           "slash inside it)");
    first_error(CLIENT "connect imap plain\nexpect\n", "4:7: 'expect' needs a pattern: \"glob\", "
                                                      "exact \"text\" or /regex/ (usage: expect "
                                                      "PATTERN... [as NAME] [timeout=DURATION])");
    first_error(CLIENT "connect imap plain\nexpect OK\n", "4:8: expected a pattern: \"glob\", "
                                                         "exact \"text\" or /regex/ (a pattern "
                                                         "in quotes)");
    first_error(CLIENT "connect imap plain\nexpect exact /x/\n",
                "4:14: 'exact' must be followed by a quoted string");
    first_error(CLIENT "connect imap plain\nexpect \"x\" as 9x\n",
                "4:15: bad capture name '9x': a name is a letter or '_' followed by letters, "
                "digits, '_' or '-' (at most 64)");
    first_error(CLIENT "var v=1\nconnect imap plain\nexpect \"x\" as v\n",
                "5:15: 'v' is a var (line 3); a capture cannot reuse its name");
    first_error(CLIENT "connect imap plain\nexpect \"x\" as host\n",
                "4:15: 'host' is a built-in variable; choose another name");
    first_error(CLIENT "connect imap plain\nexpect /(?<name>x)/\nsend \"{nme}\"\n",
                "5:7: unknown variable '{nme}' (did you mean 'name'?)");
    /* a capture is defined from its step onward, not before, not in the step itself */
    first_error(CLIENT "connect imap plain\nsend \"{later}\"\nexpect \"x\" as later\n",
                "4:7: unknown variable '{later}'");
    first_error(CLIENT "connect imap plain\nexpect /(?<x>a){x}/\n",
                "4:16: unknown variable '{x}'");
    first_error(CLIENT "connect imap plain\nexpect \"x\" not \"y\"\n",
                "4:12: unexpected 'not' (usage: expect PATTERN... [as NAME] [timeout=DURATION])");
}

static void step_expect_reply_forms(void **state)
{
    (void)state;
    sc_scenario *sc = ok(CLIENT "connect smtp plain\n"
                                "expect-reply 220\n"
                                "expect-reply 2xx \"250-STARTTLS\" not \"*AUTH*\" exact \"250 x\" as r\n"
                                "expect-reply 25x timeout=3s\n"
                                "close\n"
                                "connect imap plain\n"
                                "expect-reply * ok\n"
                                "expect-reply a1 NO \"a1 NO [AUTHENTICATIONFAILED]*\"\n"
                                "expect-reply + /^\\+ (?<chal>.*)/\n"
                                "expect-reply * BYE\n"
                                "close\n"
                                "connect pop3 plain\n"
                                "expect-reply +OK\n"
                                "expect-reply +OK multiline \"STLS\"\n"
                                "expect-reply -ERR\n"
                                "expect-reply +\n");
    const sc_step *s = sc->steps;
    assert_string_equal(s[1].u.expect_reply.reply.smtp_code, "220");
    assert_int_equal(s[1].u.expect_reply.reply.proto, SC_PROTO_SMTP);
    assert_int_equal(s[1].u.expect_reply.n, 0);
    assert_int_equal(s[1].u.expect_reply.capture, -1);
    assert_string_equal(s[2].u.expect_reply.reply.smtp_code, "2xx");
    assert_int_equal(s[2].u.expect_reply.n, 3);
    assert_false(s[2].u.expect_reply.pats[0].negate);
    assert_true(s[2].u.expect_reply.pats[1].negate);
    assert_int_equal(s[2].u.expect_reply.pats[2].kind, SC_PAT_EXACT);
    assert_true(s[2].u.expect_reply.capture >= 0);
    assert_int_equal(s[3].timeout_ms, 3000);
    assert_string_equal(s[6].u.expect_reply.reply.imap_tag, "*");
    assert_string_equal(s[6].u.expect_reply.reply.status, "OK");
    assert_string_equal(s[7].u.expect_reply.reply.imap_tag, "a1");
    assert_string_equal(s[7].u.expect_reply.reply.status, "NO");
    assert_string_equal(s[8].u.expect_reply.reply.imap_tag, "+");
    assert_null(s[8].u.expect_reply.reply.status);
    assert_int_equal(s[8].u.expect_reply.pats[0].ngroups, 1);
    assert_string_equal(s[9].u.expect_reply.reply.status, "BYE");
    assert_string_equal(s[12].u.expect_reply.reply.status, "+OK");
    assert_false(s[12].u.expect_reply.reply.multiline);
    assert_true(s[13].u.expect_reply.reply.multiline);
    assert_string_equal(s[14].u.expect_reply.reply.status, "-ERR");
    assert_string_equal(s[15].u.expect_reply.reply.status, "+");
    sc_free(sc);
}

static void step_expect_reply_errors(void **state)
{
    (void)state;
    first_error(CLIENT "connect smtp plain\nexpect-reply 2x5\n",
                "4:14: bad SMTP reply code '2x5': three digits, the first 2 to 5; trailing digits "
                "may be x (250, 2xx, 25x)");
    first_error(CLIENT "connect smtp plain\nexpect-reply 650\n",
                "4:14: bad SMTP reply code '650': three digits, the first 2 to 5; trailing digits "
                "may be x (250, 2xx, 25x)");
    first_error(CLIENT "connect imap plain\nexpect-reply a1 PREAUTH\n",
                "4:17: unknown IMAP status 'PREAUTH' (one of: OK, NO, BAD)");
    first_error(CLIENT "connect imap plain\nexpect-reply a1\n",
                "4:16: 'expect-reply' needs a status after the tag (OK, NO or BAD) (usage: "
                "expect-reply STATUS [[not] PATTERN...] [as NAME] [timeout=DURATION])");
    first_error(CLIENT "connect imap plain\nexpect-reply a(1 OK\n",
                "4:15: bad IMAP tag 'a(1': a tag is printable ASCII without ( ) { % * \" \\ + or "
                "spaces");
    first_error(CLIENT "connect pop3 plain\nexpect-reply OK\n",
                "4:14: unknown POP3 status 'OK' (did you mean '+OK'?) (one of: +OK, -ERR, +)");
    first_error(CLIENT "connect pop3 plain\nexpect-reply -ERR multiline\n",
                "4:19: only a +OK response can be multi-line");
    first_error(CLIENT "connect pop3 plain\nexpect-reply +OK not\n",
                "4:18: 'not' must be followed by a pattern");
    first_error(SERVER "listen smtp 587 plain\nexpect-reply 250\n",
                "4:1: 'expect-reply' is a client-role step, but this scenario is 'role server' "
                "(line 2): in the server role, read the client's commands with 'expect'");
}

/* {account.oauth_token} (XOAUTH2 in the catalogue) is a secret like the passwords. */
static void oauth_token_is_secret(void **state)
{
    (void)state;
    sc_scenario *sc = ok(CLIENT "var x=\"user={account.email}\\x01auth=Bearer "
                                "{account.oauth_token}\\x01\\x01\"\n"
                                "connect imap 993 implicit-tls\n"
                                "send \"a1 AUTHENTICATE XOAUTH2 {base64:x}\"\n"
                                "send \"{account.oauth_token}\"\n");
    assert_true(sc->vars[0].secret);
    const sc_step *s = sc->steps;
    assert_true(s[2].u.send.lines[0].secret);
    assert_int_equal(s[3].u.send.lines[0].parts[0].ref.kind, SC_VAR_ACCOUNT_OAUTH_TOKEN);
    assert_true(s[3].u.send.lines[0].parts[0].ref.secret);
    assert_true(s[3].u.send.lines[0].secret);
    sc_free(sc);
}

static void expect_nothing_open(void **state)
{
    (void)state;
    sc_scenario *sc = ok(CLIENT "connect imap 993 plain\nexpect-nothing 2s open\n"
                                "expect-nothing 5ms\n");
    assert_int_equal(sc->steps[1].u.duration.ms, 2000);
    assert_true(sc->steps[1].u.duration.open);
    assert_false(sc->steps[2].u.duration.open);
    sc_free(sc);
    first_error(CLIENT "connect imap 993 plain\nexpect-nothing 2s closed\n",
                "4:19: unexpected 'closed' (usage: expect-nothing DURATION [open])");
    first_error(CLIENT "wait 2s open\n", "3:9: unexpected 'open' (usage: wait DURATION)");
}

static void step_misc_forms(void **state)
{
    (void)state;
    sc_scenario *sc = ok(CLIENT "var greeting=\"hello {account.local}\"\n"
                                "var secret=\"\\x00{account.email}\\x00{account.app_password}\"\n"
                                "connect smtp 587 plain\n"
                                "expect-nothing 250ms\n"
                                "send \"STARTTLS\"\n"
                                "starttls timeout=4s\n"
                                "tls version=1.2\n"
                                "send \"AUTH PLAIN {base64:secret} {greeting}\"\n"
                                "wait 2s\n"
                                "expect-closed timeout=1s\n"
                                "connect smtp 465 implicit-tls\n"
                                "close\n"
                                "check no-bare-lf\n"
                                "check max-line-length\n"
                                "check strict-syntax\n");
    const sc_step *s = sc->steps;
    assert_int_equal(s[0].kind, SC_VAR);
    assert_string_equal(sc->vars[s[0].u.var.slot].name, "greeting");
    assert_false(sc->vars[0].secret);
    assert_true(sc->vars[1].secret);
    assert_int_equal(sc->vars[1].kind, SC_VAR_USER);
    assert_int_equal(s[3].u.duration.ms, 250);
    assert_int_equal(s[5].kind, SC_STARTTLS);
    assert_int_equal(s[5].timeout_ms, 4000);
    assert_int_equal(s[5].u.starttls.tls.version, 12);
    assert_int_equal(s[5].u.starttls.tls.step, 6);
    assert_true(s[7].u.send.lines[0].secret);
    assert_int_equal(s[7].u.send.lines[0].parts[1].ref.kind, SC_VAR_USER);
    assert_int_equal(s[8].u.duration.ms, 2000);
    assert_int_equal(s[9].kind, SC_EXPECT_CLOSED);
    assert_int_equal(s[12].kind, SC_CHECK);
    assert_int_equal(s[12].u.check.id, SC_CHECK_NO_BARE_LF);
    assert_int_equal(s[13].u.check.nparams, 1);
    assert_string_equal(s[13].u.check.params[0].key, "n");
    assert_int_equal(s[13].u.check.params[0].number, 0);
    sc_free(sc);
}

static void step_misc_errors(void **state)
{
    (void)state;
    first_error(CLIENT "connect smtp plain\nstarttls\nstarttls\n",
                "5:1: 'starttls' on a connection that is already TLS (since line 4)");
    first_error(CLIENT "connect smtp implicit-tls\nstarttls\n",
                "4:1: 'starttls' on a connection that is already TLS (since line 3)");
    first_error(CLIENT "connect smtp plain\nexpect-nothing\n",
                "4:15: 'expect-nothing' needs a duration such as 500ms or 5s (usage: "
                "expect-nothing DURATION [open])");
    first_error(CLIENT "connect smtp plain\nwait 0s\n", "4:6: bad duration '0s': a duration must "
                                                       "be at least 1ms");
    first_error(CLIENT "connect smtp plain\nwait 1.5s\n", "4:6: bad duration '1.5s': a duration "
                                                         "is a whole number: write 1500ms, not "
                                                         "1.5s");
    first_error(CLIENT "connect smtp plain\nwait 2h\n", "4:6: bad duration '2h': unknown duration "
                                                       "unit 'h' (ms, s or m)");
    first_error(CLIENT "connect smtp plain\nwait 61m\n", "4:6: bad duration '61m': duration is too "
                                                        "long (at most 1 hour)");
    first_error(CLIENT "connect smtp plain\nwait 2m\n", "4:1: 'wait 120000ms' is longer than the "
                                                       "scenario's total timeout (60000ms)");
    first_error(CLIENT "connect smtp plain\nexpect \"x\" timeout=61s\n",
                "4:1: the step timeout (61000ms) is longer than the scenario's total timeout "
                "(60000ms)");
    first_error(CLIENT "var x=1\nvar x=2\n", "4:5: 'x' is already defined (var at line 3); a var "
                                             "is set once");
    first_error(CLIENT "var x=\"{x}\"\n", "3:8: unknown variable '{x}'");
    first_error(CLIENT "var 1x=1\n", "3:5: bad variable name '1x': a letter or '_' followed by "
                                     "letters, digits, '_' or '-' (at most 64)");
    first_error(CLIENT "var host=1\n", "3:5: 'host' is a built-in variable; choose another name");
    first_error(CLIENT "var x\n", "3:5: 'var' needs NAME=VALUE (usage: var NAME=VALUE)");
    first_error(CLIENT "connect smtp plain\ncheck no-bare-lfx\n",
                "4:7: unknown check 'no-bare-lfx' (did you mean 'no-bare-lf'?); the checks are "
                "listed in docs/scenario-language.md");
    first_error(CLIENT "connect smtp plain\ncheck no-bare-lf strict=1\n",
                "4:18: check 'no-bare-lf' takes no settings");
    first_error(CLIENT "connect smtp plain\ncheck max-line-length n=x\n",
                "4:25: bad value 'x' for n=: a number from 0 to 1048576 (bytes without CRLF; 0 = "
                "the protocol's limit (SMTP 510, POP3 253, IMAP 8190))");
    first_error(CLIENT "connect smtp plain\ncheck no-bare-lf\ncheck no-bare-lf\n",
                "5:7: check 'no-bare-lf' is already listed (line 4)");
    first_error(CLIENT "connect smtp plain\ncheck no-credentials-before-tls\n",
                "4:7: check 'no-credentials-before-tls' judges the client under test: it belongs "
                "in a 'role server' scenario");
    first_error(CLIENT "connect smtp plain\nclose\nclose\n",
                "5:1: 'close' needs a connection: the connection was closed at line 4");
    first_error(CLIENT "connect smtp plain\nexpect-closed\nexpect \"x\"\n",
                "5:1: 'expect' needs a connection: the connection is expected to close at line 4");
    first_error(CLIENT "listen smtp 587 plain\n",
                "3:1: 'listen' is a server-role step, but this scenario is 'role client' (line 2): "
                "in the client role mailrig connects: use 'connect'");
    first_error(CLIENT "client msmtp\n",
                "3:1: 'client' is a server-role step, but this scenario is 'role client' (line 2): "
                "in the client role mailrig itself is the client");
    first_error(CLIENT "expct \"x\"\n", "3:1: unknown step 'expct' (did you mean 'expect'?)");
    first_error(CLIENT "\"x\"\n", "3:1: a line starts with a step name, not a quoted string");
}

/* ---- server-role steps ------------------------------------------------------------------ */

static void step_server_forms(void **state)
{
    (void)state;
    sc_scenario *sc = ok(SERVER "listen smtp 587 plain\n"
                                "listen smtp 465 implicit-tls\n"
                                "tls expect=alert sni=smtp.example.com\n"
                                "listen imap 993 implicit-tls\n"
                                "client msmtp server=smtp.example.com port=587 security=\"STARTTLS\" "
                                "user={account.email} password={account.app_password} "
                                "cafile={cafile}\n"
                                "accept 587 timeout=3s\n"
                                "send \"220 mock\"\n"
                                "expect \"EHLO *\"\n"
                                "close\n"
                                "send \"220 again\"\n"
                                "expect-closed\n"
                                "expect-client exit=nonzero output=/certificate/i timeout=9s\n"
                                "client curl proto=imap\n"
                                "expect-client exit=3 output=\"*fail*\"\n"
                                "client curl\n"
                                "expect-client exit=0\n"
                                "check no-credentials-before-tls\n"
                                "check username-form form=local\n"
                                "check max-auth-retries n=2\n");
    const sc_step *s = sc->steps;
    assert_int_equal(s[0].u.listen.proto, SC_PROTO_SMTP);
    assert_int_equal(s[0].u.listen.port, 587);
    assert_int_equal(s[0].u.listen.mode, SC_MODE_PLAIN);
    assert_int_equal(s[1].u.listen.tls.expect, SC_TLS_ALERT);
    assert_string_equal(flat(s[1].u.listen.tls.sni), "smtp.example.com");
    assert_int_equal(s[1].u.listen.tls.step, 2);
    assert_string_equal(s[4].u.client.adapter, "msmtp");
    assert_int_equal(s[4].u.client.nkv, 6);
    assert_string_equal(s[4].u.client.kv[2].key, "security");
    assert_string_equal(flat(&s[4].u.client.kv[2].value), "STARTTLS");
    assert_true(s[4].u.client.kv[4].value.secret);
    assert_int_equal(s[4].u.client.kv[5].value.parts[0].ref.kind, SC_VAR_CAFILE);
    assert_int_equal(s[5].u.accept.port, 587);
    assert_int_equal(s[5].timeout_ms, 3000);
    assert_int_equal(s[7].u.expect.proto, SC_PROTO_SMTP);
    assert_int_equal(s[11].u.expect_client.exit, SC_EXIT_NONZERO);
    assert_int_equal(s[11].u.expect_client.output->kind, SC_PAT_REGEX);
    assert_true(s[11].u.expect_client.output->caseless);
    assert_int_equal(s[11].timeout_ms, 9000);
    assert_int_equal(s[13].u.expect_client.exit, SC_EXIT_CODE);
    assert_int_equal(s[13].u.expect_client.code, 3);
    assert_int_equal(s[13].u.expect_client.output->kind, SC_PAT_GLOB);
    assert_int_equal(s[15].u.expect_client.exit, SC_EXIT_ZERO);
    assert_null(s[15].u.expect_client.output);
    assert_string_equal(s[17].u.check.params[0].value, "local");
    assert_int_equal(s[18].u.check.params[0].number, 2);
    sc_free(sc);

    sc = ok(SERVER "serve imap smtp\nclient fetchmail\nexpect-client exit=0\n");
    assert_int_equal(sc->steps[0].u.serve.protos, (1u << SC_PROTO_IMAP) | (1u << SC_PROTO_SMTP));
    sc_free(sc);
    sc = ok(SERVER "serve\nclient x\nwait 1s\nexpect-client exit=0\n");
    assert_int_equal(sc->steps[0].u.serve.protos, 0);
    sc_free(sc);
}

static void step_server_errors(void **state)
{
    (void)state;
    first_error(SERVER "send \"220 x\"\n", "3:1: 'send' needs a connection: there is no 'listen' "
                                           "before it");
    first_error(SERVER "serve\nsend \"220 x\"\n",
                "4:1: 'send' is for scripted servers: after 'serve' (line 3) the profile-driven "
                "mock writes every reply (use 'listen' for a scripted server)");
    first_error(SERVER "listen smtp 587 plain\nserve\n",
                "4:1: 'serve' cannot be mixed with 'listen' (line 3): a scenario is either a "
                "scripted server or the profile-driven mock");
    first_error(SERVER "listen smtp 587 plain\nlisten imap 587 plain\n",
                "4:13: port 587 is already listened on (line 3)");
    first_error(SERVER "listen smtp plain\n", "3:13: 'listen' needs a port number (usage: listen "
                                              "PROTO PORT implicit-tls|plain)");
    first_error(SERVER "listen smtp 587 plain\nclient msmtp\nlisten smtp 465 implicit-tls\n",
                "5:1: 'listen' after 'client' (line 4): start every listener before the client, "
                "which may already be connecting");
    first_error(SERVER "client msmtp\nexpect-client exit=0\n",
                "3:1: the client has nothing to connect to: put 'listen' or 'serve' before "
                "'client'");
    first_error(SERVER "serve\nclient a\nclient b\n",
                "5:1: a client is already running (started at line 4): 'expect-client' it first");
    first_error(SERVER "serve\nclient a\n",
                "4:1: this client is never waited for: add 'expect-client exit=0' (or "
                "exit=nonzero) to say how it must end");
    first_error(SERVER "serve\nexpect-client exit=0\n",
                "4:1: no client is running: 'expect-client' follows a 'client' step");
    first_error(SERVER "serve\nclient a\nexpect-client\n",
                "5:1: 'expect-client' needs exit=0, exit=nonzero or exit=N (usage: expect-client "
                "exit=0|nonzero|N [output=PATTERN] [timeout=DURATION])");
    first_error(SERVER "serve\nclient a\nexpect-client exit=256\n",
                "5:20: bad exit status '256': 0, nonzero, or a number 1 to 255");
    first_error(SERVER "serve\nclient a\nexpect-client exit=0 output=x\n",
                "5:29: 'output=' takes a \"glob\" or a /regex/");
    first_error(SERVER "serve\nclient a sever=x\nexpect-client exit=0\n",
                "4:10: unknown setting 'sever' for 'client' (did you mean 'server'?) (known: "
                "server= port= security= user= password= cafile= proto= auth= from= to=)");
    first_error(SERVER "serve\nclient a port=0\nexpect-client exit=0\n",
                "4:15: bad port '0': a port is 1 to 65535");
    first_error(SERVER "serve\nclient a user=x user=y\nexpect-client exit=0\n",
                "4:17: 'user=' is given twice");
    first_error(SERVER "serve\nclient A\nexpect-client exit=0\n",
                "4:8: bad adapter name 'A': use lower-case letters, digits, '.', '_' and '-', "
                "starting with a letter or digit (at most 64)");
    first_error(SERVER "listen imap 993 implicit-tls\ntls verify=off\n",
                "4:5: 'verify=' is for the client role (mailrig checking the server's "
                "certificate); in the server role the client under test does the verifying");
    first_error(SERVER "listen imap 993 implicit-tls\ntls expect=fail\nsend \"* OK\"\n",
                "5:1: 'send' needs a connection, but connections to the listener of line 3 are "
                "expected to fail their TLS handshake");
    first_error(SERVER "listen imap 993 plain\naccept 143\n",
                "4:8: 'accept 143': no 'listen' on port 143 before it");
    first_error(SERVER "listen imap 993 plain\naccept\naccept\n",
                "5:1: 'accept' while the connection accepted at line 4 is open: 'close' or "
                "'expect-closed' it first");
    first_error(SERVER "connect imap plain\n",
                "3:1: 'connect' is a client-role step, but this scenario is 'role server' (line "
                "2): in the server role the client under test connects to a 'listen' port");
    first_error(SERVER "wait 1s\n", "2:1: a server-role scenario needs 'listen' (scripted) or "
                                    "'serve' (profile-driven mock)");
    first_error(SERVER "serve smtp smtp\n", "3:12: 'smtp' is listed twice");
    /* a token that is not a word must not stop progress (found by fuzzing: a loop) */
    first_error(SERVER "serve x=\"y\"\n", "3:7: unknown protocol 'x=' (one of: imap, smtp, pop3)");
}

/* ---- includes --------------------------------------------------------------------------- */

static void includes(void **state)
{
    (void)state;
    mem_fs fs = {{"t.scn", "lib/a.inc", "lib/b.inc"},
                 {CLIENT "include \"lib/a.inc\"\nsend \"{who}\"\n",
                  "connect imap plain\ninclude \"./b.inc\"\n",
                  "# b\nvar who=\"{account.email}\"\nexpect \"* OK*\"\n"},
                 3};
    sc_diags d = {0};
    sc_options o = opts_with(&fs);
    sc_scenario *sc = sc_parse_file("t.scn", &o, &d);
    assert_non_null(sc);
    assert_int_equal(sc->nsteps, 4);
    assert_string_equal(sc->steps[0].loc.file, "lib/a.inc");
    assert_int_equal(sc->steps[0].loc.line, 1);
    assert_string_equal(sc->steps[1].loc.file, "lib/b.inc");
    assert_int_equal(sc->steps[1].loc.line, 2);
    assert_string_equal(sc->steps[3].loc.file, "t.scn");
    assert_int_equal(sc->nfiles, 3);
    assert_string_equal(sc->files[2], "lib/b.inc");
    sc_free(sc);
    sc_diags_free(&d);

    /* errors in an included file say where it was included from */
    mem_fs fs2 = {{"x.inc"}, {"send \"{nope}\"\nprofile p\n"}, 1};
    char *out = bad_fs(CLIENT "connect imap plain\ninclude \"x.inc\"\n", &fs2);
    assert_string_equal(out, "In file included from t.scn:4:\n"
                             "x.inc:1:7: unknown variable '{nope}'\n"
                             "    1 | send \"{nope}\"\n"
                             "      |       ^\n"
                             "In file included from t.scn:4:\n"
                             "x.inc:2:1: 'profile' cannot be used in an included file: the header "
                             "belongs to the scenario that includes it\n"
                             "    2 | profile p\n"
                             "      | ^\n");
    free(out);
}

static void include_errors(void **state)
{
    (void)state;
    mem_fs cyc = {{"t.scn", "a.inc", "b.inc"},
                  {CLIENT "connect imap plain\ninclude \"a.inc\"\n", "include \"b.inc\"\n",
                   "include \"sub/../a.inc\"\n"},
                  3};
    char *out = bad_fs(cyc.texts[0], &cyc);
    assert_non_null(strstr(out, "b.inc:1:9: include cycle: a.inc -> b.inc -> a.inc\n"));
    free(out);
    mem_fs self = {{"t.scn"}, {CLIENT "include \"t.scn\"\n"}, 1};
    out = bad_fs(self.texts[0], &self);
    assert_non_null(strstr(out, "t.scn:3:9: include cycle: t.scn -> t.scn\n"));
    free(out);
    out = bad(CLIENT "include \"missing.inc\"\n");
    assert_non_null(strstr(out, "t.scn:3:9: cannot include 'missing.inc': No such file or "
                                "directory\n"));
    free(out);
    out = bad(CLIENT "include missing.inc\n");
    assert_non_null(strstr(out, "t.scn:3:9: 'include' needs a quoted file name"));
    free(out);
    /* depth: a chain of 10 distinct files */
    mem_fs deep = {{0}, {0}, 0};
    static char names[8][32], texts[8][64];
    for (int i = 0; i < 8; i++) {
        snprintf(names[i], sizeof names[i], "d%d.inc", i);
        snprintf(texts[i], sizeof texts[i], "include \"d%d.inc\"\n", i + 1);
        deep.names[i] = names[i];
        deep.texts[i] = texts[i];
    }
    deep.n = 8;
    sc_options o = opts_with(&deep);
    o.limits.max_depth = 3;
    sc_diags d = {0};
    const char *top = CLIENT "connect imap plain\ninclude \"d0.inc\"\n";
    assert_null(sc_parse_mem("t.scn", top, strlen(top), &o, &d));
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].file, "d2.inc");
    assert_string_equal(d.v[0].msg, "includes nested too deep (more than 3 levels)");
    assert_string_equal(d.v[0].include_chain, "d1.inc:1, d0.inc:1, t.scn:4");
    sc_diags_free(&d);
}

/* ---- hooks ------------------------------------------------------------------------------ */

static int hook_set(void *ctx, const char *profile, const char *key, const char *value,
                    char *why, size_t whycap)
{
    (void)ctx;
    assert_string_equal(profile, "icloud");
    if (strcmp(key, "imap.usrname") == 0) {
        snprintf(why, whycap, "unknown key 'usrname' in [imap] (did you mean 'username'?)");
        return -1;
    }
    assert_string_equal(value, "full");
    return 0;
}

static int hook_client(void *ctx, const char *adapter, const char *key, const char *value,
                       char *why, size_t whycap)
{
    int *calls = ctx;
    (*calls)++;
    if (!key && strcmp(adapter, "nosuch") == 0) {
        snprintf(why, whycap, "unknown client adapter 'nosuch' (clients/nosuch.ini not found)");
        return -1;
    }
    if (key && strcmp(key, "security") == 0 && strcmp(value, "SSL") == 0) {
        snprintf(why, whycap, "msmtp has no security 'SSL' (on, off, starttls)");
        return -1;
    }
    return 0;
}

static int hook_account(void *ctx, const char *profile, const char *account, char *why,
                        size_t whycap)
{
    (void)ctx;
    assert_string_equal(profile, "icloud");
    if (strcmp(account, "emily") == 0)
        return 0;
    snprintf(why, whycap, "profile 'icloud' has no account '%s'", account);
    return -1;
}

static void hooks(void **state)
{
    (void)state;
    int calls = 0;
    sc_options o;
    memset(&o, 0, sizeof o);
    o.check_set = hook_set;
    o.check_client = hook_client;
    o.check_account = hook_account;
    o.ctx = &calls;
    /* set before profile: the hook still sees the profile */
    const char *text = SERVER "set imap.username=full\nset imap.usrname=full\nprofile icloud\n"
                              "account  nobody\n"
                              "serve\nclient nosuch\nexpect-client exit=0\n"
                              "client msmtp security=SSL user=x\nexpect-client exit=0\n";
    sc_diags d = {0};
    assert_null(sc_parse_mem("t.scn", text, strlen(text), &o, &d));
    assert_int_equal(d.n, 4);
    assert_string_equal(d.v[0].msg, "unknown client adapter 'nosuch' (clients/nosuch.ini not "
                                    "found)");
    assert_int_equal(d.v[0].col, 8);
    assert_string_equal(d.v[1].msg, "msmtp has no security 'SSL' (on, off, starttls)");
    assert_int_equal(d.v[1].col, 14);
    assert_string_equal(d.v[2].msg, "unknown key 'usrname' in [imap] (did you mean 'username'?)");
    assert_int_equal(d.v[2].line, 4);
    assert_int_equal(d.v[2].col, 5);
    assert_string_equal(d.v[3].msg, "profile 'icloud' has no account 'nobody'");
    assert_int_equal(d.v[3].line, 6);
    assert_int_equal(d.v[3].col, 10);
    assert_int_equal(calls, 4);   /* adapter nosuch; adapter msmtp, security=, user= */
    sc_diags_free(&d);
}

static int hook_profile(void *ctx, const char *profile, const char *path, char *why,
                        size_t whycap)
{
    int *calls = ctx;
    (*calls)++;
    if (strcmp(profile, "sub/p.ini") == 0) {
        assert_string_equal(path, "dir/sub/p.ini");   /* resolved against the scenario */
        return 0;
    }
    assert_null(path);
    snprintf(why, whycap, "no profile named '%s'", profile);
    return -1;
}

static int hook_any_account(void *ctx, const char *profile, const char *account, char *why,
                            size_t whycap)
{
    (void)ctx, (void)profile;
    snprintf(why, whycap, "no account '%s'", account);
    return -1;
}

/* check_profile: reported at the value, first, and only when a profile is named; an account
 * whose name also occurs in the keyword is still reported at the name. */
static void hook_profile_check(void **state)
{
    (void)state;
    int calls = 0;
    sc_options o;
    memset(&o, 0, sizeof o);
    o.check_profile = hook_profile;
    o.check_account = hook_any_account;
    o.ctx = &calls;
    const char *text = "scenario t\nrole client\naccount \t count\nprofile   icloudd\n"
                       "connect imap plain\n";
    sc_diags d = {0};
    assert_null(sc_parse_mem("t.scn", text, strlen(text), &o, &d));
    assert_int_equal(d.n, 2);
    assert_string_equal(d.v[0].msg, "no profile named 'icloudd'");
    assert_int_equal(d.v[0].line, 4);
    assert_int_equal(d.v[0].col, 11);
    assert_string_equal(d.v[1].msg, "no account 'count'");
    assert_int_equal(d.v[1].line, 3);
    assert_int_equal(d.v[1].col, 11);
    sc_diags_free(&d);
    o.check_account = NULL;
    text = "scenario t\nrole client\nprofile sub/p.ini\nconnect imap plain\n";
    sc_scenario *sc = sc_parse_mem("dir/t.scn", text, strlen(text), &o, &d);
    assert_non_null(sc);
    sc_free(sc);
    text = "scenario t\nrole client\nconnect imap plain\n";
    sc = sc_parse_mem("t.scn", text, strlen(text), &o, &d);
    assert_non_null(sc);
    sc_free(sc);
    assert_int_equal(calls, 2);   /* not called without a profile line */
}

/* ---- lines, limits, display ------------------------------------------------------------- */

static void lines_and_bytes(void **state)
{
    (void)state;
    /* CRLF line ends and a last line without one */
    sc_scenario *sc = ok("scenario t\r\nrole client\r\nconnect imap plain\r\nsend \"x\"");
    assert_int_equal(sc->nsteps, 2);
    assert_int_equal(sc->steps[1].loc.text_n, 8);
    sc_free(sc);
    first_error(CLIENT "connect imap plain\nsend \"a\rb\"\n",
                "4:8: control character 0x0d in the line (inside a quoted string, write it as "
                "\\x0d)");
    const char nul[] = CLIENT "connect imap plain\nsend \"a\0b\"\n";
    sc_diags d = {0};
    assert_null(sc_parse_mem("t.scn", nul, sizeof nul - 1, NULL, &d));
    assert_string_equal(d.v[0].msg, "control character 0x00 in the line (inside a quoted string, "
                                    "write it as \\x00)");
    sc_diags_free(&d);
    first_error(CLIENT "connect imap plain\nsend \"caf\xc3\"\n",
                "4:10: invalid UTF-8 (inside a quoted string, write raw bytes as \\xHH)");
    /* UTF-8 counts as one column per character */
    first_error(CLIENT "connect imap plain\nsend \"café\" x\n",
                "4:13: 'send' takes quoted strings: send \"a1 NOOP\"");
    /* a '#' inside a word or a string is not a comment */
    sc = ok(CLIENT "connect imap plain\nsend \"a # b\" # c\nexpect \"x#y\"\n");
    assert_string_equal(flat(&sc->steps[1].u.send.lines[0]), "a # b");
    sc_free(sc);
}

static void limits(void **state)
{
    (void)state;
    sc_options o;
    memset(&o, 0, sizeof o);
    sc_diags d = {0};
    /* an over-long line */
    char *text = malloc(6000);
    int n = snprintf(text, 6000, CLIENT "connect imap plain\nsend \"");
    memset(text + n, 'a', 5000);
    memcpy(text + n + 5000, "\"\n", 3);
    assert_null(sc_parse_mem("t.scn", text, strlen(text), NULL, &d));
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].msg, "line is longer than 4096 bytes");
    assert_int_equal(d.v[0].col, 4097);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    sc_diags_print(f, &d);
    fclose(f);
    /* the shown line is a window around the caret, not 5000 bytes */
    assert_true(len < 500);
    assert_non_null(strstr(out, "    4 | ..."));
    free(out);
    sc_diags_free(&d);
    free(text);
    /* too many steps */
    o.limits.max_steps = 3;
    const char *many = CLIENT "connect imap plain\nsend \"a\"\nsend \"b\"\nsend \"c\"\nsend \"d\"\n";
    assert_null(sc_parse_mem("t.scn", many, strlen(many), &o, &d));
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].msg, "too many steps (at most 3, includes counted)");
    sc_diags_free(&d);
    /* too large a file */
    o.limits.max_steps = 0;
    o.limits.max_file_size = 16;
    assert_null(sc_parse_mem("t.scn", many, strlen(many), &o, &d));
    assert_string_equal(d.v[0].msg, "file is larger than 16 bytes");
    assert_int_equal(d.v[0].line, 0);
    sc_diags_free(&d);
    /* error count */
    o.limits.max_file_size = 0;
    o.limits.max_errors = 2;
    const char *errs = CLIENT "a\nb\nc\nd\n";
    assert_null(sc_parse_mem("t.scn", errs, strlen(errs), &o, &d));
    assert_int_equal(d.n, 2);
    assert_true(d.dropped >= 1);
    sc_diags_free(&d);
    /* empty and unreadable files */
    assert_null(sc_parse_mem("t.scn", "", 0, NULL, &d));
    assert_string_equal(d.v[0].msg, "empty file: a scenario starts with 'scenario NAME'");
    sc_diags_free(&d);
    assert_null(sc_parse_file("/nonexistent/x.scn", NULL, &d));
    assert_string_equal(d.v[0].msg, "cannot read: No such file or directory");
    sc_diags_free(&d);
    assert_null(sc_parse_file("/", NULL, &d));
    assert_string_equal(d.v[0].msg, "cannot read: is a directory");
    sc_diags_free(&d);
}

static void display(void **state)
{
    (void)state;
    char *out = bad(CLIENT "connect imap plain\n\tsend\t\"x\" bad\n");
    assert_string_equal(out, "t.scn:4:11: 'send' takes quoted strings: send \"a1 NOOP\"\n"
                             "    4 | \tsend\t\"x\" bad\n"
                             "      | \t    \t    ^\n");
    free(out);
}

static void helpers(void **state)
{
    (void)state;
    unsigned ms = 0;
    char why[100];
    assert_int_equal(sc_parse_duration("500ms", 5, &ms, why, sizeof why), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(sc_parse_duration("2m", 2, &ms, why, sizeof why), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(sc_parse_duration("60m", 3, &ms, why, sizeof why), 0);
    assert_int_equal(sc_parse_duration("3600001ms", 9, &ms, why, sizeof why), -1);
    assert_int_equal(sc_parse_duration("99999999999s", 12, &ms, why, sizeof why), -1);
    assert_int_equal(sc_parse_duration("s", 1, &ms, why, sizeof why), -1);
    static const char *const names[] = {"expect", "expect-reply", "send"};
    assert_string_equal(sc_suggest("expcet", names, 3), "expect");
    assert_string_equal(sc_suggest("expect-rply", names, 3), "expect-reply");
    assert_null(sc_suggest("zzz", names, 3));
    assert_null(sc_suggest("se", names, 3));
    assert_string_equal(sc_step_name(SC_EXPECT_NOTHING), "expect-nothing");
    assert_string_equal(sc_proto_name(SC_PROTO_POP3), "pop3");
    assert_string_equal(sc_mode_name(SC_MODE_IMPLICIT_TLS), "implicit-tls");
    assert_int_equal(sc_check_find("strict-syntax", 13), SC_CHECK_STRICT_SYNTAX);
    assert_int_equal(sc_check_find("strict", 6), -1);
    for (int i = 0; i < SC_CHECK__COUNT; i++) {
        assert_non_null(sc_checks[i].name);
        assert_non_null(sc_checks[i].summary);
        assert_non_null(sc_checks[i].why);
    }
}

/* ---- files on disk ---------------------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char tmp[4096];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        fwrite(tmp, 1, k, m);
    fclose(f);
    fclose(m);
    return buf;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n > k && strcmp(s + n - k, suf) == 0;
}

/* Every tests/scenarios/broken/X.scn prints exactly X.err. */
static void broken_files(void **state)
{
    (void)state;
    const char *dir = "tests/scenarios/broken";
    DIR *d = opendir(dir);
    assert_non_null(d);
    int count = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!has_suffix(e->d_name, ".scn"))
            continue;
        char path[512], errpath[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(errpath, sizeof errpath, "%.*s.err", (int)strlen(path) - 4, path);
        char *want = slurp(errpath);
        if (!want)
            fail_msg("%s has no %s", path, errpath);
        sc_diags diags = {0};
        sc_scenario *sc = sc_parse_file(path, NULL, &diags);
        if (sc)
            fail_msg("%s parsed without errors", path);
        char *got = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&got, &len);
        sc_diags_print(f, &diags);
        fclose(f);
        if (strcmp(got, want) != 0)
            fail_msg("%s: diagnostics differ from %s\n--- want\n%s--- got\n%s", path, errpath,
                     want, got);
        free(got);
        free(want);
        sc_diags_free(&diags);
        count++;
    }
    closedir(d);
    assert_true(count >= 10);
}

static void lint_dir_clean(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!has_suffix(e->d_name, ".scn"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        sc_diags diags = {0};
        sc_scenario *sc = sc_parse_file(path, NULL, &diags);
        if (!sc) {
            sc_diags_print(stderr, &diags);
            fail_msg("%s has errors", path);
        }
        assert_non_null(sc->h.name);
        sc_free(sc);
        sc_diags_free(&diags);
        (*count)++;
    }
    closedir(d);
}

/* Every scenario of the catalogue parses (scenarios/PROVIDER/ and scenarios/clients/). */
static void catalogue_files(void **state)
{
    (void)state;
    int count = 0;
    static const char *const dirs[] = {"scenarios/icloud", "scenarios/exchange",
                                       "scenarios/generic", "scenarios/clients"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        lint_dir_clean(dirs[i], &count);
    assert_true(count >= 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_every_line),
        cmocka_unit_test(header_defaults_and_profile_path),
        cmocka_unit_test(header_errors),
        cmocka_unit_test(step_connect_forms),
        cmocka_unit_test(step_connect_errors),
        cmocka_unit_test(step_send_forms),
        cmocka_unit_test(step_send_errors),
        cmocka_unit_test(step_expect_forms),
        cmocka_unit_test(step_expect_errors),
        cmocka_unit_test(step_expect_reply_forms),
        cmocka_unit_test(step_expect_reply_errors),
        cmocka_unit_test(step_misc_forms),
        cmocka_unit_test(oauth_token_is_secret),
        cmocka_unit_test(expect_nothing_open),
        cmocka_unit_test(step_misc_errors),
        cmocka_unit_test(step_server_forms),
        cmocka_unit_test(step_server_errors),
        cmocka_unit_test(includes),
        cmocka_unit_test(include_errors),
        cmocka_unit_test(hooks),
        cmocka_unit_test(hook_profile_check),
        cmocka_unit_test(lines_and_bytes),
        cmocka_unit_test(limits),
        cmocka_unit_test(display),
        cmocka_unit_test(helpers),
        cmocka_unit_test(broken_files),
        cmocka_unit_test(catalogue_files),
    };
    return cmocka_run_group_tests_name("scenario", tests, NULL, NULL);
}
