/* diag_log.h -- protocol logs as diagnosis input: the options diag_log_load() (diag.h) leaves
 * at their defaults, and the classifier on a conversation already read.
 *
 * A log proves what happened on the wire; the classifier maps those facts to the rules of the
 * finding catalogue (diag_rule_for), so a failure found in a log has the same id as the one
 * found from settings. It never invents reply texts: a server line counts as, say, Exchange's
 * "basic authentication is disabled" only when it matches that reply template of the
 * provider's profile (profiles/NAME.ini), placeholders matching any text. Which profile: the
 * one given (--provider), else the one whose greeting or host names the log shows. A failure
 * the catalogue has no row for, or that no profile reply explains, goes to "cannot tell" with
 * what was recognised.
 */
#ifndef MAILRIG_HARNESS_DIAG_LOG_H
#define MAILRIG_HARNESS_DIAG_LOG_H

#include "harness/diag.h"
#include "harness/log_read.h"

typedef struct diag_log_opts {
    const char *format;   /* a log_format name, or NULL/"" to detect */
    unsigned port_base;   /* the log was taken against `mailrig serve --port-base N`: a local
                           * port N+P stands for provider port P (0 = ports are real) */
    const char *data_dir; /* profiles are DATA/profiles/NAME.ini; NULL = paths_data_dir() */
    const diag_vocab *vocab; /* fixes in the client's own labels (set by diag_log_load_opts from
                              * its v); may be NULL */
    /* Profiles already loaded to judge against instead of reading DATA/profiles (a fuzz
     * target loads them once); not owned. n_profiles == 0: read them. */
    const struct profile *const *profiles;
    size_t n_profiles;
} diag_log_opts;

/* diag_log_load() with options (o may be NULL: defaults). Same results as diag_log_load;
 * an unknown format name is a -1 with the accepted names in msgs. */
int diag_log_load_opts(const char *path, const diag_log_opts *o, const diag_vocab *v, diag_settings *s,
                       diag_report *r, diag_msgs *msgs);

/* Classify a conversation read from the log named origin (for FILE:LINE origins): provider,
 * findings and "cannot tell" entries into r, observed settings into s. */
void diag_log_classify(const log_conv *c, const char *origin, const diag_log_opts *o, diag_settings *s,
                       diag_report *r);

/* Whether line matches the reply template src (profile syntax: {name} matches any text,
 * {{ and }} are literal braces). *literal gets the number of literal characters matched
 * (how specific the match is). */
bool diag_log_template_match(const char *src, const char *line, size_t *literal);

#endif
