/* main.c -- `mailrig SUBCOMMAND ...`: dispatch to the subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/commands.h"

#define MAILRIG_VERSION "0.1.0"

static const cli_command commands[] = {
#define X(name, summary) {#name, summary, cmd_##name},
    MAILRIG_COMMANDS(X)
#undef X
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *out)
{
    fprintf(out, "usage: mailrig COMMAND [OPTIONS]\n\n"
                 "mailrig is a conformance test harness for IMAP, SMTP submission and POP3:\n"
                 "it plays provider-like servers (iCloud, Exchange Online, generic), scripts\n"
                 "conversations as client or server, and diagnoses mail setup failures.\n\n"
                 "commands:\n");
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun `mailrig COMMAND --help` for a command's options.\n"
                 "Exit status: 0 passed, 1 failed, 2 usage or syntax error, 3 environment error.\n");
}

static int verror(int code, const char *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int verror(int code, const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "mailrig %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return code;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = verror(EXIT_USAGE, cmd, fmt, ap);
    va_end(ap);
    return r;
}

int cli_env_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = verror(EXIT_ENV, cmd, fmt, ap);
    va_end(ap);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return EXIT_PASS;
    }
    if (!strcmp(name, "--version")) {
        printf("mailrig %s\n", MAILRIG_VERSION);
        return EXIT_PASS;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mailrig: unknown command '%s'\n\n", name);
    usage(stderr);
    return EXIT_USAGE;
}
