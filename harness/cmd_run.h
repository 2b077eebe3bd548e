/* cmd_run.h -- `mailrig run` with its moving parts given, so that tests can run the whole
 * command with a fake interpreter (tests/fakerun/) while the shipped binary uses
 * run_scenario() (cmd_run.c).
 */
#ifndef MAILRIG_HARNESS_CMD_RUN_H
#define MAILRIG_HARNESS_CMD_RUN_H

#include <stddef.h>

#include "harness/runner.h"

typedef struct run_cli_fns {
    runner_run_fn run;             /* NULL: this program cannot run scenarios (exit 3) */
    runner_free_fn free_result;
    /* Is the client behind adapter `name` installed? 1; 0 with why (not installed: the
     * scenario is skipped, or an error with --require-clients); -1 with why (the adapter
     * cannot be loaded: an error). NULL: not checked before running. */
    int (*client_available)(const char *clients_dir, const char *name, char *why, size_t cap);
    /* validate_opts.check_client: adapter_check_setting() in mailrig; NULL: unchecked. */
    int (*check_client)(void *ctx, const char *adapter, const char *key, const char *value,
                        char *why, size_t whycap);
    unsigned grace_ms;             /* runner_opts.grace_ms */
} run_cli_fns;

/* `mailrig run ARGS` (argv[0] is "run"); returns the exit status. */
int run_command(int argc, char **argv, const run_cli_fns *f);

#endif
