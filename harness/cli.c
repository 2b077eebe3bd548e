/* cli.c -- helpers shared by the subcommands; see cli.h. */
#include <stdarg.h>
#include <stdio.h>

#include "harness/cli.h"

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

