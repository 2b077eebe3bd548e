/* fuzz_diag_settings.c -- `mailrig diagnose` on an arbitrary settings file: the reader
 * (harness/diag_settings.c), the vocabulary interpretation (diag_vocab.c) and the judge
 * (diag_judge.c) against the shipped profiles, then both report writers.
 *
 * Never crash, hang or leak. Invariants:
 *  - the reader reports a problem exactly when it returns non-zero, and never stores a value
 *    that is not valid UTF-8 without control characters;
 *  - a report's severity counts match its findings; no finding text keeps a {placeholder}
 *    (unless the input itself has braces: user values are inserted once, never expanded);
 *  - the JSON report is one valid document; the text report writes;
 *  - `reproduce`: for a known provider, every scenario made from the settings (as entered and
 *    corrected, mailrig's client and an adapter) parses: a value from the settings can never
 *    break or inject into the scenario text.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "harness/diag.h"
#include "harness/diag_repro.h"
#include "harness/scenario.h"

static diag_vocab *vocab(void)
{
    static diag_vocab *v;
    if (!v) {
        char path[4096];
        diag_msgs *m = calloc(1, sizeof *m);
        FUZZ_CHECK(m && diag_vocab_default_path(path, sizeof path) > 0);
        v = diag_vocab_load(path, m);
        if (!v)
            diag_msgs_print(m, stderr);
        FUZZ_CHECK(v != NULL);
        free(m);
    }
    return v;
}

static void check_text(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
}

static void check_settings(const diag_settings *s)
{
    check_text(s->email);
    check_text(s->client);
    for (int i = 0; i < DIAG_SERVERS; i++) {
        check_text(s->server[i].host);
        check_text(s->server[i].security);
        check_text(s->server[i].username);
        check_text(s->server[i].auth_label);
        FUZZ_CHECK(s->server[i].port <= 65535);
    }
}

/* braces: the input has a '{' (a user value may then hold "{host}" verbatim, which the
 * single-pass expansion rightly leaves alone). */
static void check_report(const diag_report *r, const diag_settings *s, bool braces)
{
    size_t count[DIAG_SEVERITY_COUNT] = {0};
    for (size_t i = 0; i < r->n_findings; i++) {
        const diag_finding *f = &r->findings[i];
        if (f->rule->kind == DIAG_KIND_SETTING)
            count[f->severity]++;
        FUZZ_CHECK(braces || (!strstr(f->title, "{host}") && !strstr(f->fix, "{fix_") && !strstr(f->wire, "{reply}")));
    }
    FUZZ_CHECK(!memcmp(count, r->n_severity, sizeof count));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(diag_report_write_json(r, s, f) == 0);
    fclose(f);
    json_error_t err;
    json_t *j = json_loadb(buf, len, 0, &err);
    FUZZ_CHECK(j != NULL);
    json_decref(j);
    free(buf);
    f = open_memstream(&buf, &len);
    FUZZ_CHECK(f != NULL);
    diag_report_print(r, s, f);
    fclose(f);
    free(buf);
}

/* The shipped profile named name, loaded once. */
static const profile *shipped(const char *name)
{
    static profile *cache[3];
    static const char *const names[3] = {"icloud", "exchange", "generic"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            if (!cache[i]) {
                profile_diag d = {0};
                cache[i] = profile_load(names[i], NULL, &d);
                profile_diag_free(&d);
                FUZZ_CHECK(cache[i] != NULL);
            }
            return cache[i];
        }
    return NULL;
}

static void check_scenarios(const diag_settings *s, const diag_report *r)
{
    const profile *p = shipped(r->provider);
    repro_plan *pl = calloc(1, sizeof *pl);
    char *buf = malloc(REPRO_SCN_MAX);
    char err[300];
    FUZZ_CHECK(pl && buf);
    if (p && repro_plan_make(s, r, p, "basic-auth-disabled", pl, err, sizeof err) == 0) {
        static const char *const sets[] = {"imap.username=local"};
        for (int id = 0; id < DIAG_SERVERS; id++)
            for (int k = 0; k < 4; k++) {
                if (!pl->user[id].runnable)
                    continue;
                int n = repro_scenario(pl, k & 1, (diag_server_id)id, p, sets, 1, k & 2 ? "msmtp" : NULL, buf,
                                       REPRO_SCN_MAX);
                FUZZ_CHECK(n > 0);
                sc_diags d = {0};
                sc_scenario *sc = sc_parse_mem("<repro>", buf, (size_t)n, NULL, &d);
                if (!sc) {
                    fprintf(stderr, "%s", buf);
                    sc_diags_print(stderr, &d);
                }
                FUZZ_CHECK(sc != NULL);
                sc_free(sc);
                sc_diags_free(&d);
            }
    }
    free(buf);
    free(pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    diag_settings *s = calloc(1, sizeof *s);
    diag_msgs *m = calloc(1, sizeof *m);
    diag_report *r = calloc(1, sizeof *r);
    FUZZ_CHECK(s && m && r);
    diag_settings_init(s);
    int errors = diag_settings_load_string((const char *)data, size, "<fuzz>", s, m);
    FUZZ_CHECK((errors == 0) == (m->n == 0 && m->dropped == 0));
    check_settings(s);
    if (errors == 0 && diag_interpret(s, vocab(), m) == 0) {
        diag_report_init(r);
        diag_env env = {.vocab = vocab()};
        if (diag_run(s, &env, r, m) == 0)
        {
            check_report(r, s, memchr(data, '{', size) != NULL);
            check_scenarios(s, r);
        }
    }
    free(r);
    free(m);
    free(s);
    return 0;
}
