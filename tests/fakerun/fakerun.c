/* fakerun.c -- `mailrig-fakerun run|list ...`: the real `mailrig run` and `mailrig list`
 * commands (harness/cmd_run.c, cmd_list.c) with a fake interpreter in place of
 * run_scenario(), for the process-level tests of the runner (tests/py/test_run.py). The
 * shipped mailrig has no fake in it: this program is built only for the tests.
 *
 * What the fake does is written in the scenario itself, in `var` lines (valid scenario
 * syntax, ignored by the fake otherwise):
 *   var fake="WORD..."   pass (default) | fail | error | abort | kill | exit7 | hang |
 *                        sleep=MS | checks-fail | orphan | bytes
 *   var lines="N"        transcript lines to write (default 5)
 *   var leak="TEXT"      put TEXT in the failure message (to test redaction)
 * Adapters: "missing-client" is not installed, "broken-client" cannot be loaded,
 * "unknown-adapter" does not exist, and no setting may have the value "bad".
 * Every `check` step is reported, passed unless checks-fail. The transcript goes to
 * WORK/transcript.log; a server-role scenario also gets WORK/client-output.log.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness/cli.h"
#include "harness/cmd_run.h"
#include "harness/commands.h"
#include "harness/scenario_checks.h"

/* The literal text of `var NAME=...`, or NULL. */
static const char *var_text(const sc_scenario *sc, const char *name, char *buf, size_t cap,
                            int *step)
{
    for (size_t i = 0; i < sc->nsteps; i++) {
        const sc_step *st = &sc->steps[i];
        if (st->kind != SC_VAR || strcmp(sc->vars[st->u.var.slot].name, name) != 0)
            continue;
        size_t n = 0;
        for (size_t k = 0; k < st->u.var.value.nparts; k++) {
            const sc_part *p = &st->u.var.value.parts[k];
            if (p->kind == SC_PART_LIT && n + p->n < cap) {
                memcpy(buf + n, p->p, p->n);
                n += p->n;
            }
        }
        buf[n] = '\0';
        if (step)
            *step = (int)i;
        return buf;
    }
    return NULL;
}

static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p && (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0' || p[n] == '='))
            return 1;
    return 0;
}

static void write_file(const char *dir, const char *name, unsigned lines, const char *what)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    for (unsigned i = 1; i <= lines; i++)
        fprintf(f, "0.%03u conn 1 S: %s line %u <&> \"quoted\"\n", i, what, i);
    fclose(f);
}

static void fill_checks(const sc_scenario *sc, run_result *res, int fail)
{
    res->checks = calloc(sc->nsteps + 1, sizeof *res->checks);
    for (size_t i = 0; res->checks && i < sc->nsteps; i++) {
        if (sc->steps[i].kind != SC_CHECK)
            continue;
        run_check *c = &res->checks[res->nchecks++];
        c->id = sc->steps[i].u.check.id;
        c->passed = !fail;
        snprintf(c->reason, sizeof c->reason, "fake: %s %s", sc_checks[c->id].name,
                 fail ? "saw the peer misbehave in conn 1" : "saw nothing wrong");
        c->loc = sc->steps[i].loc;
    }
}

static run_verdict fake_run(const sc_scenario *sc, const run_env *env, run_result *res)
{
    char what[256] = "pass", lines_s[32], leak[256];
    int step = -1;
    var_text(sc, "fake", what, sizeof what, &step);
    unsigned lines = var_text(sc, "lines", lines_s, sizeof lines_s, NULL) ? atoi(lines_s) : 5;
    if (env->verbose)
        for (size_t i = 0; i < sc->nsteps; i++)
            fprintf(env->verbose, "fake: %s step %zu %s\n", sc->h.name, i,
                    sc_step_name(sc->steps[i].kind));
    const char *sl = strstr(what, "sleep=");
    if (sl)
        usleep((useconds_t)atoi(sl + 6) * 1000);
    snprintf(res->transcript, sizeof res->transcript, "%s/transcript.log", env->work_dir);
    write_file(env->work_dir, "transcript.log", lines, "transcript");
    if (sc->h.role == SC_ROLE_SERVER) {
        snprintf(res->client_output, sizeof res->client_output, "%s/client-output.log",
                 env->work_dir);
        write_file(env->work_dir, "client-output.log", 3, "client said");
    }
    if (has_word(what, "orphan") && fork() == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/orphan.pid", env->work_dir);
        FILE *f = fopen(path, "w");
        if (f)
            fprintf(f, "%d\n", (int)getpid()), fclose(f);
        for (;;)
            pause();   /* stays in the worker's process group */
    }
    if (has_word(what, "abort"))
        abort();
    if (has_word(what, "kill"))
        raise(SIGKILL);
    if (has_word(what, "exit7"))
        exit(7);
    while (has_word(what, "hang"))
        pause();
    fill_checks(sc, res, has_word(what, "checks-fail"));
    if (var_text(sc, "leak", leak, sizeof leak, NULL)) {
        snprintf(res->message, sizeof res->message, "fake: the server said \"%s\"", leak);
        res->failed_step = step;
        return RUN_FAIL;
    }
    if (has_word(what, "bytes")) {
        snprintf(res->message, sizeof res->message, "fake: got \"\x01\xff<tag>&\x1b[31m\"");
        res->failed_step = step;
        return RUN_FAIL;
    }
    if (has_word(what, "fail")) {
        snprintf(res->message, sizeof res->message,
                 "fake: expected \"a1 OK*\", got \"a1 NO [AUTHENTICATIONFAILED] nope\"");
        res->failed_step = step;
        return RUN_FAIL;
    }
    if (has_word(what, "error")) {
        snprintf(res->message, sizeof res->message, "fake: 127.0.0.1 port in use");
        return RUN_ERROR;
    }
    return has_word(what, "checks-fail") ? RUN_FAIL : RUN_PASS;
}

static void fake_free(run_result *res)
{
    free(res->checks);
    res->checks = NULL;
}

/* Adapters: "missing-client" is not installed, "broken-client" cannot be loaded. */
static int fake_available(const char *dir, const char *name, char *why, size_t cap)
{
    (void)dir;
    if (strcmp(name, "missing-client") == 0) {
        snprintf(why, cap, "missing-client: not found in PATH; install Debian package "
                           "missing-client (ci/deps clients)");
        return 0;
    }
    if (strcmp(name, "broken-client") == 0) {
        snprintf(why, cap, "clients/broken-client.ini:3: unknown key 'comand'");
        return -1;
    }
    return 1;
}

/* Adapter names and settings: "unknown-adapter" is not one; a value "bad" is refused. */
static int fake_check_client(void *ctx, const char *adapter, const char *key, const char *value,
                             char *why, size_t whycap)
{
    (void)ctx, (void)value;
    if (strcmp(adapter, "unknown-adapter") == 0) {
        snprintf(why, whycap, "no client adapter 'unknown-adapter'");
        return -1;
    }
    if (key && strcmp(value, "bad") == 0) {
        snprintf(why, whycap, "%s: %s cannot be 'bad'", adapter, key);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    run_cli_fns f = {.run = fake_run, .free_result = fake_free,
                     .client_available = fake_available, .check_client = fake_check_client,
                     .grace_ms = 300};
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return run_command(argc - 1, argv + 1, &f);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    fprintf(stderr, "usage: mailrig-fakerun run|list ARGS (a test program)\n");
    return EXIT_USAGE;
}
