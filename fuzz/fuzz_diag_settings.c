/* fuzz_diag_settings.c -- `mailrig diagnose` on an arbitrary settings file: the reader
 * (harness/diag_settings.c), the vocabulary interpretation (diag_vocab.c) and the judge
 * (diag_judge.c) against the shipped profiles, then both report writers.
 *
 * Never crash, hang or leak. Invariants:
 *  - the reader reports a problem exactly when it returns non-zero, and never stores a value
 *    that is not valid UTF-8 without control characters;
 *  - a report's severity counts match its findings; no finding text keeps a {placeholder}
 *    (unless the input itself has braces: user values are inserted once, never expanded);
 *  - the JSON report is one valid document; the text report writes.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "harness/diag.h"

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
            check_report(r, s, memchr(data, '{', size) != NULL);
    }
    free(r);
    free(m);
    free(s);
    return 0;
}
