/* report.h -- the results of a `mailrig run`, and the three ways to show them: a table for
 * people, JSON for programs, JUnit XML for CI systems.
 *
 * The writers are pure functions of a rep_run: they read no files and look at no clock (the
 * runner reads the transcript tails and fills every field first), so the unit tests give
 * them hand-made results. Every text that came from a run (messages, reasons, tails) is
 * stored already redacted of the run's secrets (rep_redact); the writers only escape it for
 * their format.
 *
 * Exit status of a run (rep_exit_status): 1 when any scenario failed; else 3 when any could
 * not run (RUN_ERROR, a crashed or killed worker); else 0. Skipped scenarios (a client that is
 * not installed) do not change it -- they are counted and shown as skipped, never as passed;
 * the runner turns them into errors with --require-clients. A failure outranks an error
 * because it is a verdict about the peer that stands whatever else went wrong.
 */
#ifndef MAILRIG_HARNESS_REPORT_H
#define MAILRIG_HARNESS_REPORT_H

#include <stddef.h>
#include <stdio.h>

typedef enum rep_verdict { REP_PASS, REP_FAIL, REP_ERROR, REP_SKIP, REP__COUNT } rep_verdict;

/* "pass", "fail", "error", "skipped" (JSON); "?" out of range. */
const char *rep_verdict_name(rep_verdict v);

/* One `check` step's outcome. */
typedef struct rep_check {
    char *name;
    int passed;
    char *reason;
    char *file;               /* the check step's location */
    unsigned line, col;
} rep_check;

/* The last lines of a file, for people. */
typedef struct rep_tail {
    char *path;               /* NULL: no such file for this scenario */
    char *text;               /* the last `shown` lines, each ending in '\n', control bytes
                                 and invalid UTF-8 shown as \xHH; NULL when empty */
    size_t shown, total;      /* lines shown, lines in the file */
} rep_tail;

/* One scenario. Every pointer is malloc'ed and owned (rep_item_free). */
typedef struct rep_item {
    char *name, *file, *role, *profile, *description;
    char *group;              /* JUnit classname: the profile, else the scenario's directory */
    char **tags;
    size_t ntags;
    rep_verdict verdict;
    double seconds;
    /* The step that failed, when there is one (failed_step >= 0). */
    int failed_step;
    char *step_file, *step_text;
    unsigned step_line, step_col;
    char *message;            /* what happened, one line; "" when passed */
    rep_check *checks;
    size_t nchecks;
    char *work_dir;           /* the scenario's own directory of the run */
    rep_tail transcript, client_output, worker_log;
} rep_item;

typedef struct rep_run {
    rep_item *items;          /* in the order the scenarios were given */
    size_t n;
    double seconds;           /* wall time of the whole run */
    long long started;        /* when it started (time_t): the JUnit timestamp */
    const char *work_dir;
    /* The options, echoed in the JSON report. */
    const char *const *args;  /* paths and names as given */
    size_t nargs;
    const char *const *tags;  /* --tag values */
    size_t ntags;
    const char *client, *profile, *state_dir;
    int external, port_base, require_clients;
    unsigned jobs;
    unsigned timeout_ms;      /* --timeout, 0 = none */
} rep_run;

void rep_item_free(rep_item *it);

/* counts[v] = number of items with verdict v. */
void rep_totals(const rep_run *r, size_t counts[REP__COUNT]);

/* 0, 1 or 3 as described above. */
int rep_exit_status(const rep_run *r);

/* The table (scenario, role, profile, verdict, time; for each failure the step location,
 * the message and every failed check with its reason), then the tail of the transcript,
 * client output and worker log of every scenario that did not pass or skip, then the totals
 * and the work directory. color: ANSI colours for the verdicts. Returns 0 or -1 on a write
 * error. */
int rep_text(FILE *out, const rep_run *r, int color);

/* The one-line totals: "5 scenarios: 3 passed, 1 failed, 0 errors, 1 skipped (12.3 s)". */
void rep_totals_line(const rep_run *r, char *buf, size_t cap);

/* JSON: {"options": {...}, "totals": {...}, "exit_status": N, "scenarios": [...]}; see
 * docs/running.md for the fields. Returns 0 or -1. */
int rep_json(FILE *out, const rep_run *r);

/* JUnit XML: <testsuites> with one <testsuite> per group (profile or directory) and one
 * <testcase classname=GROUP name=SCENARIO time=...> per scenario, holding <failure> (message,
 * and the step, checks and transcript tail in the body), <error> or <skipped>. Text is
 * escaped and anything XML 1.0 cannot carry is shown as \xHH. Returns 0 or -1. */
int rep_junit(FILE *out, const rep_run *r);

/* Write a report to path atomically: a temporary file in the same directory, fsync, rename.
 * writer is rep_json or rep_junit. Returns 0, or -1 with err filled. */
int rep_write_file(const char *path, int (*writer)(FILE *, const rep_run *), const rep_run *r,
                   char *err, size_t errlen);

/* Read the last max_lines lines of the file at path into t (path copied). At most the last
 * 256 KiB are read; lines longer than 400 bytes are cut ("..."). Missing or empty file: t
 * has the path and no text. Secrets (secrets[0..n)) are redacted. Returns 0, or -1 when out
 * of memory. */
int rep_read_tail(const char *path, size_t max_lines, const char *const *secrets, size_t n,
                  rep_tail *t);

/* A copy of s[0..n) for one line of a report: control bytes (but tab), line ends and
 * invalid UTF-8 written as \xHH. NULL when out of memory. */
char *rep_shown(const char *s, size_t n);

/* A copy of s with every occurrence of every secret replaced by "<redacted>". NULL s gives
 * "". NULL when out of memory. */
char *rep_redact(const char *s, const char *const *secrets, size_t n);

#endif
