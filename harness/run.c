/* run.c -- run_scenario(): the interpreter (run_interp.c) over the real checks and adapters. */
#include "harness/run.h"

#include "harness/adapters.h"
#include "harness/checks.h"
#include "harness/run_internal.h"

run_verdict run_scenario(const sc_scenario *sc, const run_env *env, run_result *res)
{
    static const run_deps deps = {
        .check_eval = check_eval,
        .adapter_load = adapter_load,
        .adapter_free = adapter_free,
        .adapter_available = adapter_available,
        .adapter_start = adapter_start,
        .adapter_wait = adapter_wait,
        .adapter_kill = adapter_kill,
    };
    return run_scenario_with(sc, env, &deps, res);
}
