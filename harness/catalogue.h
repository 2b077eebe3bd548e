/* catalogue.h -- which scenario files a command line means, and which of them to run.
 *
 * Used by `mailrig run` and `mailrig list`. An argument is
 *   - a file: a scenario, whatever its name;
 *   - a directory: every *.scn under it, recursively, in name order (*.inc files are
 *     fragments for `include`, not scenarios; dot-files and dot-directories are skipped);
 *   - a bare NAME (no '/', not ending in .scn, not an existing path): the scenario whose
 *     `scenario NAME` line says so, looked up in the catalogue DATA/scenarios.
 * No argument means the whole catalogue. A file reached twice is taken once.
 *
 * Tag filters (--tag): a scenario is selected when it has any of the included tags (or no
 * tag was included) and none of the excluded ones ("!T"). "a,b" is two filters.
 */
#ifndef MAILRIG_HARNESS_CATALOGUE_H
#define MAILRIG_HARNESS_CATALOGUE_H

#include <stddef.h>
#include <stdio.h>

#include "harness/validate.h"

typedef struct cat_filter {
    char **include, **exclude;   /* malloc'ed */
    size_t ninclude, nexclude;
} cat_filter;

/* Add the filters of one --tag value ("imap", "!slow", "icloud,exchange"). Returns 0, or -1
 * with err filled for an empty or malformed tag (what scenario.h allows in `tags`). */
int cat_filter_add(cat_filter *f, const char *arg, char *err, size_t errlen);

/* Whether a scenario with tags[0..n) is selected. */
int cat_filter_match(const cat_filter *f, const char *const *tags, size_t n);

void cat_filter_free(cat_filter *f);

typedef struct cat_files {
    char **v;                    /* malloc'ed paths, in argument order, each directory sorted */
    size_t n, cap;
} cat_files;

/* Expand args[0..n) (none: the catalogue) into scenario files. Problems (an unreadable path,
 * an unknown NAME with a suggestion, a directory without scenarios) are printed to errs as
 * "mailrig CMD: ..." lines. Returns 0, or -1 when there was any problem. data_dir is where
 * scenarios/ is (paths_data_dir()). */
int cat_collect(const char *cmd, const char *const *args, size_t n, const char *data_dir,
                cat_files *out, FILE *errs);

void cat_files_free(cat_files *f);

/* Parse every file with v (validate.h), printing each one's diagnostics to errs. Sets *out
 * to a malloc'ed array of files->n scenarios (NULL where a file has errors; free with
 * cat_scenarios_free). Returns the number of files with errors, or (size_t)-1 when out of
 * memory. */
size_t cat_parse(const cat_files *files, validate_ctx *v, sc_scenario ***out, FILE *errs);

void cat_scenarios_free(sc_scenario **v, size_t n);

/* Scenario names identify scenarios in reports and `mailrig run NAME`: print every name
 * that two files use ("mailrig CMD: scenario name 'x' is used by a.scn and b.scn") and
 * return how many there are. */
size_t cat_duplicate_names(const char *cmd, sc_scenario *const *v, size_t n, FILE *errs);

/* The NAME of a scenario file's `scenario NAME` line, found by reading its first lines only
 * (blank and comment lines skipped); 0 with the name in buf, or -1 when the file cannot be
 * read or does not start that way. */
int cat_scenario_name(const char *path, char *buf, size_t cap);

#endif
