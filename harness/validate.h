/* validate.h -- parse scenarios with every validation hook of the parser wired.
 *
 * sc_parse_file() checks the language; what a scenario refers to lives in other modules and
 * is checked here, through the parser's hooks (scenario.h), so that every problem is a
 * `file:line:col` diagnostic at the offending word before anything runs:
 *   - `profile NAME|PATH` must load (the profile loader's own message);
 *   - the `set SECTION.KEY=VALUE` lines must load *together* with it: a scenario may add a
 *     listener or an account over several lines, so the overrides are judged as one set,
 *     and each message of the loader is reported at the `set` line it is about;
 *   - `account NAME` must be a section of that profile, overrides applied;
 *   - `client ADAPTER K=V...`: the adapters module's check (validate_opts.check_client).
 * A scenario that names no profile is checked against the runner's --profile (the
 * default_profile below); with neither, sets and accounts cannot be checked and pass.
 *
 * Cost: loaded profiles are cached per context (a load is a few milliseconds); a scenario
 * with `set` or `account` lines is parsed a second time only when the profile loader found
 * a problem with them (to place the messages).
 */
#ifndef MAILRIG_HARNESS_VALIDATE_H
#define MAILRIG_HARNESS_VALIDATE_H

#include <stddef.h>

#include "harness/scenario.h"

typedef struct validate_ctx validate_ctx;

typedef struct validate_opts {
    const char *data_dir;         /* where profile names are looked up; NULL = paths_data_dir() */
    const char *default_profile;  /* for scenarios that name none (runner --profile); or NULL */
    const char *clients_dir;      /* adapter definitions; NULL = DATA/clients */
    /* `client` steps and --client: adapter_check_setting() (adapters.h) in mailrig, called
     * with clients_dir as ctx; NULL: adapter names and settings are not checked. */
    int (*check_client)(void *ctx, const char *adapter, const char *key, const char *value,
                        char *why, size_t whycap);
} validate_opts;

/* A context for any number of scenarios. The strings in o must outlive it. NULL when out of
 * memory. */
validate_ctx *validate_new(const validate_opts *o);
void validate_free(validate_ctx *v);

/* Can profile `arg` (a NAME or a path, as --profile takes it) be loaded? 0, or -1 with the
 * loader's message in why. */
int validate_profile(validate_ctx *v, const char *arg, char *why, size_t whycap);

/* Is `name` a known client adapter (--client)? 0, or -1 with why. Always 0 without a
 * check_client. */
int validate_adapter(validate_ctx *v, const char *name, char *why, size_t whycap);

/* Parse and validate the scenario at path, as sc_parse_file() does, with every hook above.
 * Returns the scenario, or NULL with every problem in *d (zeroed by the caller). */
sc_scenario *validate_parse(validate_ctx *v, const char *path, sc_diags *d);

/* The secrets sc's run may show: the password, app password and OAuth token of every
 * account of its profile (its overrides applied), each also base64-encoded. A report
 * redacts them wherever they appear, whatever the interpreter already did. Sets *out to a
 * malloc'ed array (the caller frees it; the strings belong to v and live until
 * validate_free) and returns its length; 0 (and *out NULL) when sc has no loadable
 * profile or no secrets. */
size_t validate_secrets(validate_ctx *v, const sc_scenario *sc, const char ***out);

#endif
