/* cli.h -- the mailrig command line: one entry per subcommand, shared exit codes.
 *
 * Each subcommand lives in harness/cmd_<name>.c and is listed in the table in main.c.
 * Exit codes are the same for every subcommand (DESIGN.md, "Reports").
 */
#ifndef MAILRIG_HARNESS_CLI_H
#define MAILRIG_HARNESS_CLI_H

enum {
    EXIT_PASS = 0,     /* everything passed / the command did what was asked */
    EXIT_FAIL = 1,     /* a check or scenario failed, a failure was (not) reproduced */
    EXIT_USAGE = 2,    /* bad command line, syntax error in a scenario or settings file */
    EXIT_ENV = 3,      /* environment: port in use, client missing, state dir unwritable */
};

typedef struct cli_command {
    const char *name;
    const char *summary;                 /* one line for `mailrig --help` */
    int (*run)(int argc, char **argv);   /* argv[0] is the subcommand name */
} cli_command;

/* Print "mailrig NAME: " + message + newline to stderr and return EXIT_USAGE, for
 * `return cli_usage_error("serve", "unknown profile '%s'", name);`. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Same shape, for environment errors (EXIT_ENV). */
int cli_env_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
