/* cmd_parse.c -- `mailrig parse`: placeholder until the parsers land. */
#include <stdio.h>

#include "harness/cli.h"
#include "harness/commands.h"

int cmd_parse(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("parse", "not implemented yet");
}
