/* run_match.h -- match one line against a scenario pattern (glob, exact, regex), with captures.
 *
 * A pattern is compiled once its variables have values (run_pat_compile): literal parts keep
 * their meaning (glob wildcards, regex syntax), substituted values always match literally --
 * in a glob a `*` from a password is a star, in a regex every byte of a value is escaped as
 * \xHH. Regexes are PCRE2 in byte mode with match and depth limits, so a hostile line costs
 * bounded time (a limit hit is reported as an error, not as "no match").
 */
#ifndef MAILRIG_HARNESS_RUN_MATCH_H
#define MAILRIG_HARNESS_RUN_MATCH_H

#include <stddef.h>

#include "harness/run_vars.h"
#include "harness/scenario.h"

typedef struct run_pat {
    const sc_pattern *src;
    sc_pat_kind kind;
    int negate;
    /* glob/exact: the pattern as cells: 0..255 a byte, RUN_GLOB_STAR, RUN_GLOB_ONE */
    short *cells;
    size_t ncells;
    void *re;        /* pcre2_code * */
    void *md;        /* pcre2_match_data * */
    char *shown;     /* the pattern for messages, secrets redacted */
} run_pat;

enum { RUN_GLOB_STAR = -1, RUN_GLOB_ONE = -2 };

/* Substitute and compile pat. Returns 0, or -1 with err (a variable without a value, a regex
 * that no longer compiles after substitution, out of memory). */
int run_pat_compile(run_vars *v, const sc_pattern *pat, run_pat *rp, char *err, size_t errlen);
void run_pat_free(run_pat *rp);

/* Match line[0..n) (no line end). Returns 1 matched, 0 not, -1 error (regex limits) with err.
 * On a match, regex named groups are stored into v (capture slots); a group that did not
 * take part is set to "". */
int run_pat_match(run_pat *rp, run_vars *v, const char *line, size_t n, char *err, size_t errlen);

/* Glob match over cells: exported for tests. */
int run_glob_match(const short *cells, size_t nc, const char *s, size_t n);

#endif
