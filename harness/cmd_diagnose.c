/* cmd_diagnose.c -- `mailrig diagnose`: the settings a user entered (a settings file, flags, or
 * a protocol log) in, findings with what happens on the wire, the fix and the provider's
 * documentation out. The work is diag.h's; this file is the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/diag.h"
#include "harness/diag_cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mailrig diagnose [--settings FILE] [SETTING FLAGS] [--log FILE] [--json]\n"
            "                        [--vocabulary FILE] [--set SECTION.KEY=VALUE ...]\n\n"
            "Judge the settings a user entered in a mail client: every finding with its severity,\n"
            "what happens on the wire (the provider's exact reply), the fix, and the provider's\n"
            "documentation it comes from. The provider is given (--provider) or inferred from\n"
            "the address and the server names; the security label is read with the client's UI\n"
            "vocabulary (clients/ui/vocabulary.ini) and the port.\n\n"
            "  --settings FILE   the account dialog written down (format: docs/diagnose.md)\n");
    diag_cli_flags_help(out);
    fprintf(out,
            "  --log FILE        a client's protocol log: a mailrig transcript, curl -v, msmtp --debug,\n"
            "                    openssl s_client, Python imaplib/smtplib debug output, Thunderbird\n"
            "                    MOZ_LOG (detected; credentials in it are never printed)\n"
            "  --log-format F    read the log as F (transcript, curl, msmtp, openssl, imaplib,\n"
            "                    smtplib, thunderbird) instead of detecting it\n"
            "  --log-port-base N the log was taken against `mailrig serve --port-base N`: local\n"
            "                    port N+P is provider port P\n"
            "  --json            one JSON document on stdout instead of the text report\n"
            "  --vocabulary FILE the client UI vocabulary (default DATA/clients/ui/vocabulary.ini)\n"
            "  --set S.K=V       override a key of the provider's profile (as `mailrig serve`)\n"
            "  --catalogue       (alone) print every finding mailrig knows, with its sources, as JSON\n\n"
            "Flags override the settings file. Exit status: 0 no error-level finding, 1 error\n"
            "findings, 2 usage or settings-file error, 3 data files unreadable.\n");
}

int cmd_diagnose(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--catalogue"))
        return diag_catalogue_write_json(stdout) < 0 ? cli_env_error("diagnose", "cannot write") : EXIT_PASS;
    diag_cli *c = calloc(1, sizeof *c);
    if (!c)
        return cli_env_error("diagnose", "out of memory");
    int rc = diag_cli_parse(c, "diagnose", argc, argv, NULL, NULL);
    if (rc != EXIT_PASS) {
        if (rc == DIAG_CLI_HELP)
            usage(stdout);
        diag_cli_free(c);
        free(c);
        return rc == DIAG_CLI_HELP ? EXIT_PASS : rc;
    }
    diag_report *r = calloc(1, sizeof *r);
    if (!r) {
        diag_cli_free(c);
        free(c);
        return cli_env_error("diagnose", "out of memory");
    }
    rc = diag_cli_diagnose(c, "diagnose", r);
    if (rc == EXIT_PASS) {
        if (c->json) {
            if (diag_report_write_json(r, &c->settings, stdout) < 0)
                rc = cli_env_error("diagnose", "cannot write the JSON report");
        } else {
            diag_report_print(r, &c->settings, stdout);
        }
        if (rc == EXIT_PASS)
            rc = diag_report_has_errors(r) ? EXIT_FAIL : EXIT_PASS;
    }
    diag_cli_free(c);
    free(r);
    free(c);
    return rc;
}
