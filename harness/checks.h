/* checks.h -- client-behaviour checks, evaluated on a finished run's transcript.
 *
 * Each check named in scenario_checks.h has an evaluator here. A check reads the transcript
 * records (servers/transcript.h) of every connection of the run -- data records, re-parsed
 * with the proto/ parsers of the connection's protocol (the `open` record says which), and
 * the events the carrier and the mock sessions wrote (servers/events.h) -- and decides
 * whether the peer under judgement behaved. It says why in one line either way, naming the
 * connection and the record ("conn 2: LOGIN sent at 0.013 before any TLS").
 *
 * Checks are pure functions of the transcript text and the parameters: the unit tests feed
 * them hand-written transcripts, good and bad, for every check.
 */
#ifndef MAILRIG_HARNESS_CHECKS_H
#define MAILRIG_HARNESS_CHECKS_H

#include <stddef.h>

#include "harness/scenario.h"
#include "harness/scenario_checks.h"

/* What a check knows besides the transcript. */
typedef struct check_ctx {
    sc_role role;                 /* whose behaviour is judged: the other side */
    const char *profile;          /* the profile name, or NULL */
    /* username-form: the forms the profile documents per protocol ("local" / "full"),
     * indexed by sc_proto; NULL when unknown. */
    const char *username_form[4];
} check_ctx;

/* Evaluate check `id` with params on transcript text[0..n). Returns 1 passed, 0 failed, and
 * fills reason (one line). A transcript that cannot be read is a failure with that reason. */
int check_eval(sc_check_id id, const sc_check_param *params, size_t nparams,
               const check_ctx *ctx, const char *text, size_t n, char *reason, size_t cap);

#endif
