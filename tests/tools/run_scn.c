/* run_scn.c -- run one scenario through the interpreter and print the result, for pytest.
 *
 *   run_scn [--state DIR] [--work DIR] [--profile P] [--client NAME] [--clients-dir DIR]
 *           [--external --port-base N] [-v] FILE
 *   run_scn --features
 *
 * Not a user command (that is `mailrig run`, the runner): a thin test driver over
 * run_scenario_with() with the real checks and adapters, whose output the interpreter's
 * pytest reads line by line (no report format in between). --features says which of them
 * are built in (all, now that they are merged; the tests still ask).
 *
 * Output, one "key value" line each: verdict pass|fail|error, step N, message ..., transcript
 * PATH, client-output PATH, then "check NAME pass|fail REASON" per check. Exit status 0 pass,
 * 1 fail, 3 error, 2 for a scenario that does not parse (diagnostics on stderr).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run_internal.h"
#include "harness/scenario.h"
#include "harness/scenario_checks.h"

static const char *verdict_name(run_verdict v)
{
    return v == RUN_PASS ? "pass" : v == RUN_FAIL ? "fail" : "error";
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, 0, 's'},  {"work", required_argument, 0, 'w'},
        {"profile", required_argument, 0, 'p'}, {"client", required_argument, 0, 'c'},
        {"clients-dir", required_argument, 0, 'd'}, {"external", no_argument, 0, 'e'},
        {"port-base", required_argument, 0, 'b'}, {"features", no_argument, 0, 'f'},
        {"verbose", no_argument, 0, 'v'}, {0, 0, 0, 0},
    };
    run_env env = {.work_dir = ".", .seed = 1};
    run_deps deps = {
        .check_eval = check_eval,
        .adapter_load = adapter_load,
        .adapter_free = adapter_free,
        .adapter_available = adapter_available,
        .adapter_start = adapter_start,
        .adapter_wait = adapter_wait,
        .adapter_kill = adapter_kill,
    };
    int c;
    while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (c) {
        case 's': env.state_dir = optarg; break;
        case 'w': env.work_dir = optarg; break;
        case 'p': env.profile = optarg; break;
        case 'c': env.client = optarg; break;
        case 'd': env.clients_dir = optarg; break;
        case 'e': env.external = 1; break;
        case 'b': env.port_base = atoi(optarg); break;
        case 'v': env.verbose = stderr; break;
        case 'f':
            printf("checks %s\nadapters %s\n", deps.check_eval ? "yes" : "no",
                   deps.adapter_load ? "yes" : "no");
            return 0;
        default: return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: run_scn [options] FILE\n");
        return 2;
    }
    sc_diags d = {0};
    sc_scenario *sc = sc_parse_file(argv[optind], NULL, &d);
    if (!sc) {
        sc_diags_print(stderr, &d);
        sc_diags_free(&d);
        return 2;
    }
    sc_diags_free(&d);
    run_result res;
    run_verdict v = run_scenario_with(sc, &env, &deps, &res);
    printf("verdict %s\nstep %d\nmessage %s\ntranscript %s\nclient-output %s\n", verdict_name(v),
           res.failed_step, res.message, res.transcript, res.client_output);
    for (size_t i = 0; i < res.nchecks; i++)
        printf("check %s %s %s\n", sc_checks[res.checks[i].id].name,
               res.checks[i].passed ? "pass" : "fail", res.checks[i].reason);
    run_result_free(&res);
    sc_free(sc);
    return v == RUN_PASS ? 0 : v == RUN_FAIL ? 1 : 3;
}
