/* run.h -- run one parsed scenario and say how it went.
 *
 * The interpreter walks a validated sc_scenario (scenario.h) step by step:
 *   client role  mailrig connects to the profile's mock (started for this scenario) or, with
 *                run_env.external, to servers already listening at port_base + provider port,
 *                sends, expects (every server reply is also checked for well-formedness with
 *                the proto/ parsers in strict mode: a malformed reply fails the scenario even
 *                when the pattern matches), does TLS and STARTTLS;
 *   server role  profile-driven (`serve`: the mock for the scenario's profile and overrides)
 *                or scripted (`listen`/`accept`: mailrig writes every reply), while a real
 *                client started through an adapter (`client`, adapters.h) talks to it.
 * Every connection, either role, is written to one transcript (servers/transcript.h) in the
 * run's work directory; `check` steps are evaluated on it (checks.h) when the scenario ends.
 *
 * Isolation: a scenario's mock runs in a child process on free ports (port base 0), so
 * scenarios run in parallel never collide; everything the run started is stopped (mock, real
 * client: SIGTERM, then SIGKILL after 2 s) whatever the outcome, and the total timeout bounds
 * the whole run. Nothing binds or connects beyond loopback.
 */
#ifndef MAILRIG_HARNESS_RUN_H
#define MAILRIG_HARNESS_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "harness/scenario.h"

typedef enum run_verdict {
    RUN_PASS = 0,     /* every step and every check passed */
    RUN_FAIL = 1,     /* a step's expectation or a check failed */
    RUN_ERROR = 3,    /* the environment: a client not installed, a port in use, a crash of
                         the mock -- not a verdict on the peer (exit status 3) */
} run_verdict;

/* One `check` step's outcome. */
typedef struct run_check {
    unsigned id;             /* sc_check_id */
    int passed;
    char reason[512];        /* why it failed (or what it saw when it passed), one line */
    sc_loc loc;              /* the check step */
} run_check;

typedef struct run_result {
    run_verdict verdict;
    double seconds;
    /* The first step that failed (RUN_FAIL, RUN_ERROR): where, and what happened in words:
     * "expected \"a1 OK*\", got \"a1 NO [AUTHENTICATIONFAILED] Authentication failed\"". */
    int failed_step;         /* index into sc->steps, or -1 */
    char message[1024];
    char transcript[4096];   /* path of the run's transcript file */
    char client_output[4096];/* path of the client-under-test's captured output, or "" */
    run_check *checks;       /* malloc'ed; run_result_free() */
    size_t nchecks;
} run_result;

typedef struct run_env {
    const char *work_dir;        /* where this run writes its transcript and client output
                                    (must exist) */
    const char *state_dir;       /* PKI state directory; NULL = the default */
    const char *profile;         /* runner --profile: used when the scenario names none */
    const char *client;          /* runner --client: overrides the adapter of `client` steps */
    const char *clients_dir;     /* adapter definitions; NULL = DATA/clients */
    int external;                /* client role: no mock; connect to 127.0.0.1:port_base + P */
    int port_base;               /* with external */
    uint64_t seed;               /* the mock's --seed */
    FILE *verbose;               /* step-by-step trace for people, or NULL */
} run_env;

/* Run sc. Never exits or aborts on what a peer does; returns the verdict (also in res).
 * Files in env->work_dir: transcript.log (the run's transcript, res->transcript), and when a
 * mock ran, mock/ (its per-connection transcripts, merged into transcript.log) and mock.log.
 * SIGPIPE is set to ignored if it had the default disposition (a peer that hangs up while
 * mailrig writes over TLS must not kill the process). Safe to call from several threads at
 * once for different scenarios and work directories. */
run_verdict run_scenario(const sc_scenario *sc, const run_env *env, run_result *res);

void run_result_free(run_result *res);

#endif
