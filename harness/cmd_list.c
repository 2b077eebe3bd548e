/* cmd_list.c -- `mailrig list [PATH|SCENARIO...] [--tag T] [--json]`: the catalogue, one
 * scenario per entry: name, role, profile, tags, description, file.
 *
 * Scenarios are parsed and checked as `mailrig run` does (a scenario listed is one that can
 * run); a file with errors is reported with its file:line:col diagnostics, the others are
 * still listed, and the exit status is 2.
 */
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/adapters.h"
#include "harness/catalogue.h"
#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/validate.h"
#include "servers/paths.h"

static void list_usage(FILE *out)
{
    fprintf(out, "usage: mailrig list [--tag T]... [--json] [PATH|SCENARIO...]\n\n"
                 "List scenarios: name, role, profile, tags, description and file. Arguments\n"
                 "are as for `mailrig run` (files, directories, names); none lists the\n"
                 "catalogue (DATA/scenarios).\n\n"
                 "      --tag T    only scenarios with tag T (repeatable: any of them);\n"
                 "                 '!T' leaves out those with T\n"
                 "      --json     a JSON array instead of the table\n"
                 "  -h, --help     this text\n\n"
                 "Exit status: 0 listed, 2 a scenario has errors or a usage error.\n");
}

static const char *role_name(const sc_scenario *sc)
{
    return sc->h.role == SC_ROLE_SERVER ? "server" : "client";
}

static void print_table(sc_scenario *const *v, size_t n)
{
    int wn = 4, wp = 7;
    for (size_t i = 0; i < n; i++) {
        int a = (int)strlen(v[i]->h.name), b = v[i]->h.profile ? (int)strlen(v[i]->h.profile) : 1;
        wn = a > wn ? a : wn;
        wp = b > wp ? b : wp;
    }
    printf("%-*s  %-6s  %-*s  %s\n", wn, "NAME", "ROLE", wp, "PROFILE", "TAGS");
    for (size_t i = 0; i < n; i++) {
        const sc_scenario *sc = v[i];
        printf("%-*s  %-6s  %-*s  ", wn, sc->h.name, role_name(sc), wp,
               sc->h.profile ? sc->h.profile : "-");
        for (size_t t = 0; t < sc->h.ntags; t++)
            printf("%s%s", t ? " " : "", sc->h.tags[t]);
        printf("\n");
        if (sc->h.describe)
            printf("    %s\n", sc->h.describe);
        printf("    %s\n", sc->file);
    }
    printf("%zu scenario%s\n", n, n == 1 ? "" : "s");
}

static int print_json(sc_scenario *const *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const sc_scenario *sc = v[i];
        json_t *tags = json_array();
        for (size_t t = 0; t < sc->h.ntags; t++)
            json_array_append_new(tags, json_string(sc->h.tags[t]));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "name",
                                             sc->h.name, "role", role_name(sc), "profile",
                                             sc->h.profile ? json_string(sc->h.profile)
                                                           : json_null(),
                                             "tags", tags, "description",
                                             sc->h.describe ? json_string(sc->h.describe)
                                                            : json_null(),
                                             "file", sc->file));
    }
    int rc = json_dumpf(arr, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(arr);
    return rc;
}

static const struct option list_opts[] = {
    {"tag", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'J'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_list(int argc, char **argv)
{
    cat_filter filter = {0};
    int json = 0;
    char why[300];
    optind = 0;
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, ":h", list_opts, NULL)) != -1;) {
        if (opt == 'h') {
            list_usage(stdout);
            cat_filter_free(&filter);
            return EXIT_PASS;
        }
        if (opt == 'J')
            json = 1;
        else if (opt == 't' && cat_filter_add(&filter, optarg, why, sizeof why) != 0) {
            cat_filter_free(&filter);
            return cli_usage_error("list", "%s", why);
        } else if (opt == '?' || opt == ':') {
            cat_filter_free(&filter);
            return cli_usage_error("list", "bad option '%s' (see mailrig list --help)",
                                   argv[optind - 1]);
        }
    }
    char data_dir[PATH_MAX], clients[PATH_MAX + 16];
    if (paths_data_dir(data_dir, sizeof data_dir) < 0) {
        cat_filter_free(&filter);
        return cli_env_error("list", "the data directory path is too long");
    }
    snprintf(clients, sizeof clients, "%s/clients", data_dir);
    validate_opts vo = {.clients_dir = clients, .check_client = adapter_check_setting};
    validate_ctx *v = validate_new(&vo);
    cat_files files = {0};
    int status = EXIT_PASS;
    sc_scenario **all = NULL;
    if (!v)
        status = cli_env_error("list", "out of memory");
    else if (cat_collect("list", (const char *const *)argv + optind, (size_t)(argc - optind),
                         data_dir, &files, stderr) != 0)
        status = EXIT_USAGE;
    else {
        size_t bad = cat_parse(&files, v, &all, stderr);
        if (bad)
            status = bad == (size_t)-1 ? EXIT_ENV : EXIT_USAGE;
        if (all && cat_duplicate_names("list", all, files.n, stderr))
            status = EXIT_USAGE;
        size_t n = 0;
        for (size_t i = 0; all && i < files.n; i++)   /* keep the listed ones, in order */
            if (all[i] && cat_filter_match(&filter, all[i]->h.tags, all[i]->h.ntags))
                all[n++] = all[i];
            else
                sc_free(all[i]);
        if (json)
            print_json(all, n);
        else
            print_table(all, n);
        cat_scenarios_free(all, n);
    }
    cat_files_free(&files);
    validate_free(v);
    cat_filter_free(&filter);
    return status;
}
