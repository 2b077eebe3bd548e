/* runner.h -- run parsed scenarios in worker processes, several at once, and collect what
 * happened as report items (report.h).
 *
 * Workers. Each scenario runs in a child process of its own (fork, no exec: it inherits the
 * parsed tree), in a process group of its own, with stdin from /dev/null and stdout + stderr
 * into worker.log in the scenario's work directory. The child calls the run function
 * (run_scenario() in mailrig, a fake in the tests), writes the result as one JSON object to
 * a pipe and exits. So a crash of the interpreter, a mock or a client cannot take the runner
 * down: a worker killed by a signal is an error result naming the signal, one that exits
 * without a result is an error with its status, and the tail of its log goes in the report.
 *
 * Time. A scenario's total timeout (its `timeout total=`, capped by --timeout) is enforced by
 * the interpreter; the runner allows it grace_ms more, then kills the worker's whole process
 * group (SIGKILL) -- mocks and clients the worker started go with it -- and records an error.
 * After every worker, its group is killed too, so nothing a scenario started outlives it.
 *
 * Signals. While it runs, SIGINT and SIGTERM stop the run: every running group is killed,
 * the scenarios not finished are errors ("interrupted"), and runner_run() returns 1 so the
 * caller can still print and write the report.
 *
 * Progress goes to o->progress (NULL: none): with progress_tty, one live line redrawn in
 * place ("[3/12] running a, b (1 passed, 1 failed)") and a permanent line for each result
 * that is not a pass; otherwise one plain line per finished scenario (for CI logs).
 */
#ifndef MAILRIG_HARNESS_RUNNER_H
#define MAILRIG_HARNESS_RUNNER_H

#include <stddef.h>
#include <stdio.h>

#include "harness/report.h"
#include "harness/run.h"
#include "harness/scenario.h"

typedef run_verdict (*runner_run_fn)(const sc_scenario *sc, const run_env *env, run_result *res);
typedef void (*runner_free_fn)(run_result *res);

enum {
    RUNNER_GRACE_MS = 10000,      /* default time allowed beyond a scenario's total timeout */
    RUNNER_TRANSCRIPT_LINES = 40, /* tail lines kept for the report */
    RUNNER_OUTPUT_LINES = 20,     /* ... of the client's output and the worker's log */
    RUNNER_RESULT_MAX = 1 << 20,  /* bytes of one worker's result */
};

/* One scenario to run. */
typedef struct runner_job {
    const sc_scenario *sc;
    const char *skip;              /* not NULL: not run, a skipped result saying this */
    const char *error;             /* not NULL: not run, an error result saying this */
    const char *const *secrets;    /* redacted from everything the report shows */
    size_t nsecrets;
} runner_job;

typedef struct runner_opts {
    runner_run_fn run;             /* required */
    runner_free_fn free_result;    /* NULL: free(res->checks) */
    run_env env;                   /* for every scenario; env.work_dir is the run's directory,
                                      each scenario gets env.work_dir/NAME */
    unsigned jobs;                 /* scenarios at once, >= 1 */
    unsigned timeout_ms;           /* cap on every scenario's total timeout; 0 = none */
    unsigned grace_ms;             /* 0 = RUNNER_GRACE_MS */
    int verbose;                   /* the step trace: live on stderr when jobs == 1, else
                                      written per scenario and printed when it ends */
    const char *default_profile;   /* shown for scenarios that name none */
    FILE *progress;
    int progress_tty;
} runner_opts;

/* Run jobs[0..n) and fill items[0..n) (zeroed by the caller; free each with rep_item_free).
 * Returns 0, or 1 when interrupted by SIGINT/SIGTERM (items not run are errors then). */
int runner_run(const runner_opts *o, const runner_job *jobs, size_t n, rep_item *items);

/* Fill the scenario fields of it (name, file, role, profile, group, tags, description) from
 * sc; default_profile as in runner_opts. Returns 0 or -1 (out of memory). */
int runner_describe(rep_item *it, const sc_scenario *sc, const char *default_profile);

/* The worker's half of the pipe: res as the JSON object runner_parse_result() reads
 * (malloc'ed; NULL when out of memory). Text that is not UTF-8 is escaped as \xHH. */
char *runner_encode_result(const sc_scenario *sc, const run_result *res);

/* The runner's half: fill the outcome fields of it from a worker's JSON. Returns 0, or -1
 * with err filled when the text is not a well-formed result. */
int runner_parse_result(const char *json, size_t n, const sc_scenario *sc, rep_item *it,
                        const char *const *secrets, size_t nsecrets, char *err, size_t errlen);

#endif
