/* test_runner.c -- the runner's pure parts and its worker pool with fake interpreters:
 * tag selection, redaction, tails, the three report writers given hand-made results, the
 * result's trip over the pipe, and workers that pass, fail, crash, exit, hang, leave
 * processes behind or run in parallel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/catalogue.h"
#include "harness/report.h"
#include "harness/runner.h"
#include "harness/scenario.h"
#include "harness/scenario_checks.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static sc_scenario *parse(const char *name, const char *text)
{
    sc_diags d = {0};
    sc_scenario *sc = sc_parse_mem(name, text, strlen(text), NULL, &d);
    if (!sc)
        sc_diags_print(stderr, &d);
    sc_diags_free(&d);
    assert_non_null(sc);
    return sc;
}

/* Write text to a new file in a fresh directory; returns the path (static buffer). */
static const char *temp_file(const char *text)
{
    static char path[256];
    char dir[] = "/tmp/test_runner.XXXXXX";
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static char *mem_output(int (*writer)(FILE *, const rep_run *), const rep_run *r)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    assert_non_null(f);
    assert_int_equal(writer(f, r), 0);
    fclose(f);
    return text;
}

static int text_color0(FILE *f, const rep_run *r)
{
    return rep_text(f, r, 0);
}

/* ---- tag filters -------------------------------------------------------------------------- */

static void tag_filters(void **state)
{
    (void)state;
    const char *a[] = {"icloud", "imap"}, *b[] = {"exchange", "smtp", "slow"}, *c[] = {"generic"};
    cat_filter f = {0};
    char err[200];
    /* no filter: everything */
    assert_true(cat_filter_match(&f, a, 2));
    assert_true(cat_filter_match(&f, NULL, 0));
    /* any of the included tags */
    assert_int_equal(cat_filter_add(&f, "icloud,exchange", err, sizeof err), 0);
    assert_true(cat_filter_match(&f, a, 2));
    assert_true(cat_filter_match(&f, b, 3));
    assert_false(cat_filter_match(&f, c, 1));
    assert_false(cat_filter_match(&f, NULL, 0));
    /* and none of the excluded ones */
    assert_int_equal(cat_filter_add(&f, "!slow", err, sizeof err), 0);
    assert_false(cat_filter_match(&f, b, 3));
    assert_true(cat_filter_match(&f, a, 2));
    cat_filter_free(&f);
    /* exclusion alone keeps the rest */
    assert_int_equal(cat_filter_add(&f, "!slow", err, sizeof err), 0);
    assert_true(cat_filter_match(&f, c, 1));
    assert_true(cat_filter_match(&f, NULL, 0));
    assert_false(cat_filter_match(&f, b, 3));
    cat_filter_free(&f);
    /* malformed */
    const char *bad[] = {"", "!", "a,,b", "Upper", "a b", "-x", "!!x", "a,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cat_filter_add(&f, bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, "bad tag"));
    }
    cat_filter_free(&f);
}

/* ---- text helpers ------------------------------------------------------------------------- */

static void redaction(void **state)
{
    (void)state;
    const char *secrets[] = {"hunter2", "aHVudGVyMg==", ""};
    char *s = rep_redact("LOGIN bob hunter2 / aHVudGVyMg== hunter2hunter2", secrets, 3);
    assert_string_equal(s, "LOGIN bob <redacted> / <redacted> <redacted><redacted>");
    free(s);
    s = rep_redact(NULL, secrets, 3);
    assert_string_equal(s, "");
    free(s);
    s = rep_redact("nothing secret", NULL, 0);
    assert_string_equal(s, "nothing secret");
    free(s);
    s = rep_shown("a\tb\r\n\x01\xff\xc3\xa9 z", 11);
    assert_string_equal(s, "a\tb\\x0d\\x0a\\x01\\xff\xc3\xa9 z");
    free(s);
}

static void tails(void **state)
{
    (void)state;
    rep_tail t;
    /* fewer lines than asked, with and without a last line end */
    assert_int_equal(rep_read_tail(temp_file("one\ntwo\n"), 5, NULL, 0, &t), 0);
    assert_string_equal(t.text, "one\ntwo\n");
    assert_int_equal(t.shown, 2);
    assert_int_equal(t.total, 2);
    free(t.path), free(t.text);
    assert_int_equal(rep_read_tail(temp_file("one\ntwo"), 5, NULL, 0, &t), 0);
    assert_string_equal(t.text, "one\ntwo\n");
    assert_int_equal(t.total, 2);
    free(t.path), free(t.text);
    /* the last N, secrets redacted, bytes shown, long lines cut */
    char big[2000] = "";
    for (int i = 1; i <= 50; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "line %d pw=hunter2\n", i);
    strcat(big, "\x01\xfe end\n");
    const char *secrets[] = {"hunter2"};
    assert_int_equal(rep_read_tail(temp_file(big), 3, secrets, 1, &t), 0);
    assert_string_equal(t.text, "line 49 pw=<redacted>\nline 50 pw=<redacted>\n\\x01\\xfe end\n");
    assert_int_equal(t.shown, 3);
    assert_int_equal(t.total, 51);
    free(t.path), free(t.text);
    char *longl = malloc(1001);
    memset(longl, 'x', 1000);
    longl[1000] = '\0';
    assert_int_equal(rep_read_tail(temp_file(longl), 3, NULL, 0, &t), 0);
    assert_int_equal(strlen(t.text), 400 + 3 + 1);
    assert_string_equal(t.text + 400, "...\n");
    free(t.path), free(t.text), free(longl);
    /* missing and empty files: a path, no text */
    assert_int_equal(rep_read_tail("/nonexistent/x", 3, NULL, 0, &t), 0);
    assert_string_equal(t.path, "/nonexistent/x");
    assert_null(t.text);
    free(t.path);
    assert_int_equal(rep_read_tail(temp_file(""), 3, NULL, 0, &t), 0);
    assert_null(t.text);
    assert_int_equal(t.total, 0);
    free(t.path);
}

/* A tail over the 256 KiB window: the partial first line is dropped, the count is exact. */
static void tail_of_large_file(void **state)
{
    (void)state;
    size_t n = 400 * 1024;
    char *text = malloc(n + 1);
    size_t len = 0, lines = 0;
    while (len + 40 < n)
        len += (size_t)snprintf(text + len, n + 1 - len, "%08zu transcript line\n", ++lines);
    rep_tail t;
    assert_int_equal(rep_read_tail(temp_file(text), 1000000, NULL, 0, &t), 0);
    assert_int_equal(t.total, lines);
    assert_true(t.shown < lines && t.shown > 10000);
    char last[64];
    snprintf(last, sizeof last, "%08zu transcript line\n", lines);
    assert_string_equal(t.text + strlen(t.text) - strlen(last), last);
    assert_int_equal(strlen(t.text), t.shown * 25);   /* every line whole */
    free(t.path), free(t.text), free(text);
}

/* ---- the writers -------------------------------------------------------------------------- */

static char *xs(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Four hand-made results: a pass, a failure with a step and a failed check, an error with
 * awkward bytes, a skip. */
static void sample_run(rep_run *r, rep_item items[4])
{
    memset(items, 0, 4 * sizeof items[0]);
    const char *names[] = {"icloud-ok", "icloud-bad", "odd-bytes", "curl-pop3"};
    const char *groups[] = {"icloud", "icloud", "tests/scn", "generic"};
    rep_verdict v[] = {REP_PASS, REP_FAIL, REP_ERROR, REP_SKIP};
    for (int i = 0; i < 4; i++) {
        rep_item *it = &items[i];
        it->name = xs(names[i]);
        it->file = xs("scenarios/x.scn");
        it->role = xs(i == 3 ? "server" : "client");
        it->profile = xs(i == 2 ? "-" : groups[i]);
        it->group = xs(groups[i]);
        it->verdict = v[i];
        it->seconds = 0.25 * (i + 1);
        it->failed_step = -1;
        it->message = xs("");
        it->tags = calloc(2, sizeof *it->tags);
        it->tags[0] = xs("imap");
        it->ntags = 1;
    }
    rep_item *f = &items[1];
    f->description = xs("LOGIN with the full address & \"quotes\"");
    f->failed_step = 3;
    f->step_file = xs("scenarios/x.scn");
    f->step_line = 12;
    f->step_col = 1;
    f->step_text = xs("expect-reply a1 OK");
    free(f->message);
    f->message = xs("expected \"a1 OK*\", got \"a1 NO <no>\"");
    f->checks = calloc(2, sizeof *f->checks);
    f->checks[0] = (rep_check){xs("strict-syntax"), 1, xs("fine"), xs("scenarios/x.scn"), 14, 1};
    f->checks[1] = (rep_check){xs("no-bare-lf"), 0, xs("conn 1: bare LF at 0.002"),
                               xs("scenarios/x.scn"), 15, 1};
    f->nchecks = 2;
    f->transcript = (rep_tail){xs("/w/icloud-bad/transcript"), xs("0.001 conn 1 S: * OK\n"), 1, 7};
    f->work_dir = xs("/w/icloud-bad");
    rep_item *e = &items[2];
    free(e->message);
    e->message = xs("worker died: \x01\xff]]> & <x> \t tab");
    e->worker_log = (rep_tail){xs("/w/odd-bytes/worker.log"), xs("AddressSanitizer: \x1b[1m\n"), 1, 1};
    free(items[3].message);
    items[3].message = xs("client 'curl' is not installed");
    memset(r, 0, sizeof *r);
    r->items = items;
    r->n = 4;
    r->seconds = 2.5;
    r->started = 1000000000;
    r->work_dir = "/w";
    r->jobs = 2;
}

static void free_run(rep_item items[4])
{
    for (int i = 0; i < 4; i++)
        rep_item_free(&items[i]);
}

static void totals_and_exit_status(void **state)
{
    (void)state;
    rep_item items[4];
    rep_run r;
    sample_run(&r, items);
    size_t c[REP__COUNT];
    rep_totals(&r, c);
    assert_int_equal(c[REP_PASS], 1);
    assert_int_equal(c[REP_FAIL], 1);
    assert_int_equal(c[REP_ERROR], 1);
    assert_int_equal(c[REP_SKIP], 1);
    assert_int_equal(rep_exit_status(&r), 1);   /* a failure outranks an error */
    items[1].verdict = REP_PASS;
    assert_int_equal(rep_exit_status(&r), 3);
    items[2].verdict = REP_SKIP;
    assert_int_equal(rep_exit_status(&r), 0);   /* skips are not failures... */
    char line[200];
    rep_totals_line(&r, line, sizeof line);     /* ...and never counted as passes */
    assert_string_equal(line, "4 scenarios: 2 passed, 0 failed, 0 errors, 2 skipped (2.5 s)");
    r.n = 0;
    assert_int_equal(rep_exit_status(&r), 0);
    free_run(items);
}

static void text_report(void **state)
{
    (void)state;
    rep_item items[4];
    rep_run r;
    sample_run(&r, items);
    char *t = mem_output(text_color0, &r);
    assert_non_null(strstr(t, "SCENARIO    ROLE    PROFILE  VERDICT  TIME\n"));
    assert_non_null(strstr(t, "icloud-ok   client  icloud   PASS     0.25s\n"));
    assert_non_null(strstr(t, "icloud-bad  client  icloud   FAIL     0.50s\n"
                              "    at scenarios/x.scn:12:1: expect-reply a1 OK\n"
                              "       expected \"a1 OK*\", got \"a1 NO <no>\"\n"
                              "    check no-bare-lf failed (scenarios/x.scn:15:1): conn 1: bare LF "
                              "at 0.002\n"));
    assert_null(strstr(t, "check strict-syntax"));   /* passed checks are not listed */
    assert_non_null(strstr(t, "curl-pop3   server  generic  SKIP     -\n"
                              "    client 'curl' is not installed\n"));
    /* control bytes never reach the terminal raw */
    assert_non_null(strstr(t, "worker died: \\x01\\xff]]> & <x> \t tab\n"));
    assert_null(strchr(t, '\x1b'));
    assert_non_null(strstr(t, "\n--- icloud-bad: FAIL\nwork directory: /w/icloud-bad\n"
                              "transcript: /w/icloud-bad/transcript (last 1 of 7 lines)\n"
                              "  | 0.001 conn 1 S: * OK\n"));
    assert_non_null(strstr(t, "worker log: /w/odd-bytes/worker.log\n"
                              "  | AddressSanitizer: \\x1b[1m\n"));
    assert_null(strstr(t, "--- icloud-ok"));
    assert_null(strstr(t, "--- curl-pop3"));
    assert_non_null(strstr(t, "\n4 scenarios: 1 passed, 1 failed, 1 error, 1 skipped (2.5 s)\n"
                              "transcripts and logs: /w\n"));
    free(t);
    /* colour only when asked */
    FILE *f = open_memstream(&t, &(size_t){0});
    rep_text(f, &r, 1);
    fclose(f);
    assert_non_null(strstr(t, "\033[1;31mFAIL\033[0m"));
    assert_non_null(strstr(t, "\033[32mPASS\033[0m"));
    free(t);
    free_run(items);
}

static void json_report(void **state)
{
    (void)state;
    rep_item items[4];
    rep_run r;
    sample_run(&r, items);
    const char *args[] = {"scenarios/examples"}, *tags[] = {"imap", "!slow"};
    r.args = args, r.nargs = 1, r.tags = tags, r.ntags = 2, r.timeout_ms = 1500;
    char *t = mem_output(rep_json, &r);
    json_error_t je;
    json_t *root = json_loads(t, 0, &je);
    assert_non_null(root);
    json_t *o = json_object_get(root, "options");
    assert_int_equal(json_integer_value(json_object_get(o, "jobs")), 2);
    assert_true(json_real_value(json_object_get(o, "timeout_seconds")) == 1.5);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "tags"), 1)), "!slow");
    assert_true(json_is_null(json_object_get(o, "port_base")));
    json_t *tot = json_object_get(root, "totals");
    assert_int_equal(json_integer_value(json_object_get(tot, "scenarios")), 4);
    assert_int_equal(json_integer_value(json_object_get(tot, "skipped")), 1);
    assert_int_equal(json_integer_value(json_object_get(root, "exit_status")), 1);
    json_t *sc = json_object_get(root, "scenarios");
    assert_int_equal(json_array_size(sc), 4);
    json_t *bad = json_array_get(sc, 1);
    assert_string_equal(json_string_value(json_object_get(bad, "verdict")), "fail");
    json_t *step = json_object_get(bad, "failed_step");
    assert_int_equal(json_integer_value(json_object_get(step, "line")), 12);
    assert_string_equal(json_string_value(json_object_get(step, "text")), "expect-reply a1 OK");
    json_t *chk = json_array_get(json_object_get(bad, "checks"), 1);
    assert_string_equal(json_string_value(json_object_get(chk, "name")), "no-bare-lf");
    assert_true(json_is_false(json_object_get(chk, "passed")));
    assert_string_equal(json_string_value(json_object_get(chk, "reason")),
                        "conn 1: bare LF at 0.002");
    json_t *tr = json_object_get(bad, "transcript");
    assert_string_equal(json_string_value(json_object_get(tr, "path")), "/w/icloud-bad/transcript");
    assert_int_equal(json_integer_value(json_object_get(tr, "lines")), 7);
    assert_true(json_is_null(json_object_get(json_array_get(sc, 0), "failed_step")));
    assert_true(json_is_null(json_object_get(json_array_get(sc, 0), "transcript")));
    /* not UTF-8: escaped, still a string */
    assert_string_equal(json_string_value(json_object_get(json_array_get(sc, 2), "message")),
                        "worker died: \\x01\\xff]]> & <x> \t tab");
    assert_string_equal(json_string_value(json_object_get(json_array_get(sc, 3), "verdict")),
                        "skipped");
    json_decref(root);
    free(t);
    free_run(items);
}

static void junit_report(void **state)
{
    (void)state;
    rep_item items[4];
    rep_run r;
    sample_run(&r, items);
    char *t = mem_output(rep_junit, &r);
    assert_non_null(strstr(t, "<testsuites name=\"mailrig\" tests=\"4\" failures=\"1\" "
                              "errors=\"1\" skipped=\"1\" time=\"2.500\">"));
    /* one suite per group, in order of first appearance, with its own counts */
    const char *icloud = strstr(t, "<testsuite name=\"icloud\" tests=\"2\" failures=\"1\" "
                                   "errors=\"0\" skipped=\"0\" time=\"0.750\"");
    const char *dir = strstr(t, "<testsuite name=\"tests/scn\" tests=\"1\" failures=\"0\" "
                                "errors=\"1\"");
    assert_non_null(icloud);
    assert_non_null(dir);
    assert_true(icloud < dir);
    assert_non_null(strstr(t, "<testcase classname=\"icloud\" name=\"icloud-bad\" time=\"0.500\">"));
    assert_non_null(strstr(t, " timestamp=\"2001-09-09T01:46:40\">"));   /* rep_run.started */
    assert_non_null(strstr(t, "<failure message=\"expected &quot;a1 OK*&quot;, got &quot;a1 NO "
                              "&lt;no&gt;&quot;\" type=\"failure\">at scenarios/x.scn:12:1: "
                              "expect-reply a1 OK\n"));
    assert_non_null(strstr(t, "check no-bare-lf failed (scenarios/x.scn:15:1): conn 1: bare LF"));
    assert_non_null(strstr(t, "transcript: /w/icloud-bad/transcript (last 1 of 7 lines)\n"
                              "0.001 conn 1 S: * OK\n</failure>"));
    /* what XML 1.0 cannot carry is shown as \xHH; the rest is escaped */
    assert_non_null(strstr(t, "<error message=\"worker died: \\x01\\xff]]&gt; &amp; &lt;x&gt; "
                              "&#9; tab\" type=\"error\">"));
    assert_null(strchr(t, '\x1b'));
    assert_null(strchr(t, '\x01'));
    assert_non_null(strstr(t, "<skipped message=\"client 'curl' is not installed\"/>"));
    assert_non_null(strstr(t, "description: LOGIN with the full address &amp; \"quotes\""));
    free(t);
    free_run(items);
}

static void atomic_write(void **state)
{
    (void)state;
    rep_item items[4];
    rep_run r;
    sample_run(&r, items);
    char dir[] = "/tmp/test_runner.XXXXXX";
    assert_non_null(mkdtemp(dir));
    mode_t mask = umask(022);
    umask(mask);
    char path[300], err[400];
    snprintf(path, sizeof path, "%s/report.json", dir);
    assert_int_equal(rep_write_file(path, rep_json, &r, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 100);
    assert_int_equal(st.st_mode & 0777, 0666 & ~mask);   /* not mkstemp's 0600 */
    /* nothing left beside it; a bad directory is an error, not a crash */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) = 1", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rep_write_file("/nonexistent/dir/r.xml", rep_junit, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/dir/r.xml: cannot create a temporary file"));
    free_run(items);
}

/* ---- the result over the pipe ------------------------------------------------------------- */

#define SCN "scenario t\nprofile generic\nrole client\nconnect imap plain\nexpect \"x\"\n" \
            "check strict-syntax\ncheck no-bare-lf\n"

static void result_round_trip(void **state)
{
    (void)state;
    sc_scenario *sc = parse("dir/t.scn", SCN);
    run_result res;
    memset(&res, 0, sizeof res);
    res.verdict = RUN_FAIL;
    res.seconds = 1.5;
    res.failed_step = 1;
    snprintf(res.message, sizeof res.message, "expected \"x\", got \"y\xff\" pw=s3cret");
    snprintf(res.transcript, sizeof res.transcript, "/w/t/transcript");
    res.checks = calloc(2, sizeof *res.checks);
    res.nchecks = 2;
    res.checks[0] = (run_check){SC_CHECK_STRICT_SYNTAX, 1, "ok", sc->steps[2].loc};
    res.checks[1] = (run_check){SC_CHECK_NO_BARE_LF, 0, "bare LF s3cret", sc->steps[3].loc};
    char *json = runner_encode_result(sc, &res);
    assert_non_null(json);
    rep_item it;
    memset(&it, 0, sizeof it);
    const char *secrets[] = {"s3cret"};
    char err[200];
    assert_int_equal(runner_parse_result(json, strlen(json), sc, &it, secrets, 1, err, sizeof err),
                     0);
    assert_int_equal(it.verdict, REP_FAIL);
    assert_string_equal(it.message, "expected \"x\", got \"y\\xff\" pw=<redacted>");
    assert_int_equal(it.failed_step, 1);
    assert_string_equal(it.step_file, "dir/t.scn");
    assert_int_equal(it.step_line, 5);
    assert_string_equal(it.step_text, "expect \"x\"");
    assert_string_equal(it.transcript.path, "/w/t/transcript");
    assert_null(it.client_output.path);
    assert_int_equal(it.nchecks, 2);
    assert_string_equal(it.checks[1].name, "no-bare-lf");
    assert_false(it.checks[1].passed);
    assert_string_equal(it.checks[1].reason, "bare LF <redacted>");
    assert_int_equal(it.checks[1].line, 7);
    rep_item_free(&it);
    free(json);
    /* a step index out of range is no step; garbage is refused with a reason */
    res.failed_step = 99;
    json = runner_encode_result(sc, &res);
    memset(&it, 0, sizeof it);
    assert_int_equal(runner_parse_result(json, strlen(json), sc, &it, NULL, 0, err, sizeof err), 0);
    assert_int_equal(it.failed_step, -1);
    rep_item_free(&it);
    free(json);
    const char *bad[] = {"", "{", "[]", "{\"verdict\": 2}",
                         "{\"verdict\":7,\"seconds\":0,\"failed_step\":-1,\"message\":\"\","
                         "\"transcript\":\"\",\"client_output\":\"\",\"checks\":[]}",
                         "{\"verdict\":0,\"seconds\":0,\"failed_step\":-1,\"message\":\"\","
                         "\"transcript\":\"\",\"client_output\":\"\",\"checks\":[{}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&it, 0, sizeof it);
        assert_int_equal(runner_parse_result(bad[i], strlen(bad[i]), sc, &it, NULL, 0, err,
                                             sizeof err), -1);
        assert_true(err[0] != '\0');
        rep_item_free(&it);
    }
    free(res.checks);
    sc_free(sc);
}

/* ---- the pool with fake interpreters ------------------------------------------------------ */

static run_verdict fake_by_name(const sc_scenario *sc, const run_env *env, run_result *res)
{
    const char *n = sc->h.name;
    char path[4200];
    snprintf(path, sizeof path, "%s/transcript", env->work_dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "0.000 conn 1 open %s\n0.001 conn 1 S: hello\n", n);
        fclose(f);
    }
    snprintf(res->transcript, sizeof res->transcript, "%.4000s", path);
    if (strncmp(n, "sleep", 5) == 0)
        usleep(300 * 1000);
    if (strcmp(n, "crash") == 0)
        kill(getpid(), SIGKILL);
    if (strcmp(n, "exit") == 0) {
        fprintf(stderr, "about to exit 5\n");
        exit(5);
    }
    if (strcmp(n, "hang") == 0)
        for (;;)
            pause();
    if (strcmp(n, "orphan") == 0 && fork() == 0) {
        snprintf(path, sizeof path, "%s/orphan.pid", env->work_dir);
        f = fopen(path, "w");
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
        for (;;)
            pause();
    }
    if (strcmp(n, "timeout") == 0) {   /* the cap reached the interpreter */
        snprintf(res->message, sizeof res->message, "total %u ms", sc->h.total_timeout_ms);
        return RUN_ERROR;
    }
    if (strcmp(n, "fail") == 0) {
        res->failed_step = 1;
        snprintf(res->message, sizeof res->message, "expected x");
        return RUN_FAIL;
    }
    return RUN_PASS;
}

typedef struct pool_case {
    sc_scenario *sc[8];
    runner_job jobs[8];
    rep_item items[8];
    size_t n;
    char work[64];
} pool_case;

static void pool_setup(pool_case *c, const char *const *names, size_t n)
{
    memset(c, 0, sizeof *c);
    snprintf(c->work, sizeof c->work, "/tmp/test_runner.XXXXXX");
    assert_non_null(mkdtemp(c->work));
    for (size_t i = 0; i < n; i++) {
        char text[300];
        snprintf(text, sizeof text, "scenario %s\nrole client\nprofile generic\n"
                                    "connect imap plain\nexpect \"x\"\n", names[i]);
        c->sc[i] = parse("t.scn", text);
        c->jobs[i].sc = c->sc[i];
    }
    c->n = n;
}

static void pool_free(pool_case *c)
{
    for (size_t i = 0; i < c->n; i++) {
        rep_item_free(&c->items[i]);
        sc_free(c->sc[i]);
    }
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static runner_opts pool_opts(pool_case *c, unsigned jobs)
{
    runner_opts o;
    memset(&o, 0, sizeof o);
    o.run = fake_by_name;
    o.jobs = jobs;
    o.grace_ms = 200;
    o.env.work_dir = c->work;
    return o;
}

static void pool_verdicts(void **state)
{
    (void)state;
    const char *names[] = {"pass", "fail", "crash", "exit"};
    pool_case c;
    pool_setup(&c, names, 4);
    c.jobs[3].secrets = NULL;
    runner_opts o = pool_opts(&c, 2);
    assert_int_equal(runner_run(&o, c.jobs, c.n, c.items), 0);
    assert_int_equal(c.items[0].verdict, REP_PASS);
    assert_string_equal(c.items[0].name, "pass");
    assert_null(c.items[0].worker_log.path);   /* not read for a pass */
    assert_int_equal(c.items[1].verdict, REP_FAIL);
    assert_string_equal(c.items[1].message, "expected x");
    assert_int_equal(c.items[1].step_line, 5);
    assert_string_equal(c.items[1].transcript.text, "0.000 conn 1 open fail\n"
                                                    "0.001 conn 1 S: hello\n");
    assert_int_equal(c.items[2].verdict, REP_ERROR);
    assert_string_equal(c.items[2].message, "the worker died of signal 9 (Killed)");
    assert_int_equal(c.items[3].verdict, REP_ERROR);
    assert_string_equal(c.items[3].message, "the worker exited with status 5 without a result");
    assert_string_equal(c.items[3].worker_log.text, "about to exit 5\n");
    char wd[200];
    snprintf(wd, sizeof wd, "%s/exit", c.work);
    assert_string_equal(c.items[3].work_dir, wd);
    pool_free(&c);
}

static void pool_parallel_and_skips(void **state)
{
    (void)state;
    const char *names[] = {"sleep1", "sleep2", "sleep3", "skipped", "refused"};
    pool_case c;
    pool_setup(&c, names, 5);
    c.jobs[3].skip = "client 'x' is not installed";
    c.jobs[4].error = "client 'y' is not installed (--require-clients)";
    runner_opts o = pool_opts(&c, 3);
    double t0 = mono();
    assert_int_equal(runner_run(&o, c.jobs, c.n, c.items), 0);
    double took = mono() - t0;
    assert_true(took < 0.85);   /* three 0.3 s scenarios at once, not one after another */
    for (int i = 0; i < 3; i++)
        assert_int_equal(c.items[i].verdict, REP_PASS);
    assert_int_equal(c.items[3].verdict, REP_SKIP);
    assert_string_equal(c.items[3].message, "client 'x' is not installed");
    assert_int_equal(c.items[4].verdict, REP_ERROR);
    assert_null(c.items[4].work_dir);   /* never started */
    pool_free(&c);
}

static void pool_timeouts(void **state)
{
    (void)state;
    const char *names[] = {"hang", "timeout"};
    pool_case c;
    pool_setup(&c, names, 2);
    runner_opts o = pool_opts(&c, 2);
    o.timeout_ms = 300;
    double t0 = mono();
    assert_int_equal(runner_run(&o, c.jobs, c.n, c.items), 0);
    double took = mono() - t0;
    assert_true(took >= 0.45 && took < 2.0);   /* 0.3 s + 0.2 s grace, then killed */
    assert_int_equal(c.items[0].verdict, REP_ERROR);
    assert_string_equal(c.items[0].message, "did not finish within its total timeout of 0.3 s "
                                            "and 0.2 s of grace: killed");
    assert_string_equal(c.items[1].message, "total 300 ms");   /* the cap, seen by the run */
    pool_free(&c);
}

/* Whatever a worker started in its process group is killed when the worker ends. */
static void pool_kills_leftovers(void **state)
{
    (void)state;
    const char *names[] = {"orphan"};
    pool_case c;
    pool_setup(&c, names, 1);
    runner_opts o = pool_opts(&c, 1);
    assert_int_equal(runner_run(&o, c.jobs, c.n, c.items), 0);
    assert_int_equal(c.items[0].verdict, REP_PASS);
    char path[200];
    snprintf(path, sizeof path, "%s/orphan/orphan.pid", c.work);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int pid = 0;
    assert_int_equal(fscanf(f, "%d", &pid), 1);
    fclose(f);
    /* killed by the runner: gone, or a zombie nobody has reaped yet */
    int alive = 1;
    for (int i = 0; i < 100 && alive; i++) {
        char stat[64], line[256] = "";
        snprintf(stat, sizeof stat, "/proc/%d/stat", pid);
        FILE *p = fopen(stat, "r");
        if (p && fgets(line, sizeof line, p)) {
            const char *paren = strrchr(line, ')');
            alive = !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
        } else
            alive = 0;
        if (p)
            fclose(p);
        if (alive)
            usleep(10000);
    }
    assert_false(alive);
    pool_free(&c);
}

/* Progress lines for a log (not a terminal): one per finished scenario. */
static void pool_progress_plain(void **state)
{
    (void)state;
    const char *names[] = {"pass", "fail"};
    pool_case c;
    pool_setup(&c, names, 2);
    runner_opts o = pool_opts(&c, 1);
    char *text = NULL;
    size_t n = 0;
    o.progress = open_memstream(&text, &n);
    assert_int_equal(runner_run(&o, c.jobs, c.n, c.items), 0);
    fclose(o.progress);
    assert_non_null(strstr(text, "[1/2] PASS  pass ("));
    assert_non_null(strstr(text, "[2/2] FAIL  fail ("));
    assert_non_null(strstr(text, "): expected x\n"));
    assert_null(strchr(text, '\r'));
    assert_null(strchr(text, '\033'));
    free(text);
    pool_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tag_filters),
        cmocka_unit_test(redaction),
        cmocka_unit_test(tails),
        cmocka_unit_test(tail_of_large_file),
        cmocka_unit_test(totals_and_exit_status),
        cmocka_unit_test(text_report),
        cmocka_unit_test(json_report),
        cmocka_unit_test(junit_report),
        cmocka_unit_test(atomic_write),
        cmocka_unit_test(result_round_trip),
        cmocka_unit_test(pool_verdicts),
        cmocka_unit_test(pool_parallel_and_skips),
        cmocka_unit_test(pool_timeouts),
        cmocka_unit_test(pool_kills_leftovers),
        cmocka_unit_test(pool_progress_plain),
    };
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
