/* main.c -- `mailrig SUBCOMMAND ...`: dispatch to the subcommands. */
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
