/* diag_cli.h -- the command line shared by `mailrig diagnose` and `mailrig reproduce`: the
 * settings file, the setting flags (diag_flag_names), --log, --json, --vocabulary, --set, and
 * the steps from them to a diag_report. */
#ifndef MAILRIG_HARNESS_DIAG_CLI_H
#define MAILRIG_HARNESS_DIAG_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "harness/diag.h"

enum { DIAG_CLI_MAX_SETS = 64, DIAG_CLI_MAX_FLAGS = 64, DIAG_CLI_HELP = -1 };

typedef struct diag_cli {
    const char *settings_file;           /* --settings */
    const char *log_file;                /* --log */
    const char *log_format;              /* --log-format (NULL: detect) */
    const char *log_port_base;           /* --log-port-base: the log was taken against
                                          * `mailrig serve --port-base N` */
    const char *vocab_file;              /* --vocabulary */
    bool json;                           /* --json */
    const char *sets[DIAG_CLI_MAX_SETS]; /* --set */
    size_t n_sets;
    const char *flag_name[DIAG_CLI_MAX_FLAGS]; /* setting flags, without dashes, in order */
    const char *flag_value[DIAG_CLI_MAX_FLAGS];
    size_t n_flags;
    diag_settings settings;              /* filled by diag_cli_diagnose */
    diag_vocab *vocab;                   /* loaded by diag_cli_diagnose; diag_cli_free */
} diag_cli;

/* A command's own options: called for each argument the common parser does not know, with
 * *i at it (advance *i past a value it consumes). Returns 1 taken, 0 not mine, or an exit
 * status >= 2 after printing the error. */
typedef int (*diag_cli_extra)(void *ctx, int argc, char **argv, int *i);

/* Parse argv (argv[0] the subcommand). Returns EXIT_PASS, DIAG_CLI_HELP for --help/-h, or
 * EXIT_USAGE after printing the error ("mailrig CMD: ..."). extra may be NULL. */
int diag_cli_parse(diag_cli *c, const char *cmd, int argc, char **argv, diag_cli_extra extra, void *ctx);

/* Print the setting flags for --help. */
void diag_cli_flags_help(FILE *out);

/* Load the vocabulary, the settings file, then the flags (they override), read the log,
 * interpret and judge into r (diag_report_init is done here). Problems go to stderr.
 * Returns EXIT_PASS, EXIT_USAGE (bad settings, flags, log) or EXIT_ENV (data files). */
int diag_cli_diagnose(diag_cli *c, const char *cmd, diag_report *r);

/* Release what diag_cli_diagnose loaded. */
void diag_cli_free(diag_cli *c);

#endif
