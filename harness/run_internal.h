/* run_internal.h -- the interpreter with its collaborators passed in, for tests and fuzzing.
 *
 * run_scenario() (run.c) is run_scenario_with() over the real checks (checks.h) and adapters
 * (adapters.h). Unit tests pass fakes (a check that records its call, an "adapter" that forks
 * a scripted client), and the client-role fuzz target passes a connect hook that hands out
 * one end of a socketpair holding the fuzz input, with no mock at all. Keeping the real
 * collaborators out of run_interp.c also means the interpreter links without them.
 */
#ifndef MAILRIG_HARNESS_RUN_INTERNAL_H
#define MAILRIG_HARNESS_RUN_INTERNAL_H

#include "harness/adapters.h"
#include "harness/checks.h"
#include "harness/run.h"
#include "servers/profile.h"

typedef struct run_deps {
    /* checks.h */
    int (*check_eval)(sc_check_id id, const sc_check_param *params, size_t nparams,
                      const check_ctx *ctx, const char *text, size_t n, char *reason,
                      size_t cap);
    /* adapters.h; every one required when a scenario has `client` steps */
    adapter *(*adapter_load)(const char *clients_dir, const char *name, char *err, size_t errlen);
    void (*adapter_free)(adapter *a);
    int (*adapter_available)(const adapter *a, char *why, size_t whycap);
    int (*adapter_start)(const adapter *a, const adapter_kv *kv, size_t nkv,
                         const adapter_target *t, const char *work_dir, adapter_proc *proc,
                         char *err, size_t errlen);
    int (*adapter_wait)(adapter_proc *proc, const adapter *a, const adapter_kv *kv, size_t nkv,
                        unsigned timeout_ms, adapter_outcome *out, char *err, size_t errlen);
    void (*adapter_kill)(adapter_proc *proc);
    /* Client role: instead of TCP to a mock, get a connected descriptor for (proto, provider
     * port) from here; no mock is started. Returns 0 with *fd, or -1. NULL: TCP. */
    int (*connect)(void *ctx, sc_proto proto, unsigned port, int *fd);
    void *ctx;
    /* Use this profile instead of loading one (the caller keeps it). NULL: load. */
    const profile *profile;
} run_deps;

/* run_scenario() with these collaborators. A NULL check_eval makes every `check` step an
 * environment error ("checks not available"), likewise a NULL adapter_load for `client`. */
run_verdict run_scenario_with(const sc_scenario *sc, const run_env *env, const run_deps *deps,
                              run_result *res);

#endif
