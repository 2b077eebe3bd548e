/* cmd_profile.c -- `mailrig profile list | show | check`: inspect and validate provider profiles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/commands.h"
#include "servers/paths.h"
#include "servers/profile.h"

enum { MAX_SETS = 256 };

static void usage(FILE *out)
{
    fprintf(out, "usage: mailrig profile list\n"
                 "       mailrig profile show NAME|FILE [--set SECTION.KEY=VALUE ...]\n"
                 "       mailrig profile check FILE [--set SECTION.KEY=VALUE ...]\n"
                 "       mailrig profile keys\n\n"
                 "Provider profiles say how the mock servers behave (profiles/README.md).\n"
                 "  list   the profiles in the data directory, with their descriptions\n"
                 "  show   the resolved profile as INI (defaults and overrides included); the\n"
                 "         output loads back to the same profile\n"
                 "  check  validate a profile file and print every problem as FILE:LINE: message\n"
                 "  keys   every section and key of the format as Markdown tables (type, default,\n"
                 "         meaning; the placeholders each reply may use)\n\n"
                 "NAME is a profile in DATA/profiles/NAME.ini; DATA is $MAILRIG_DATA, else the source\n"
                 "tree of this binary, else " PATHS_SYSTEM_DATA_DIR ".\n"
                 "Exit status: 0 ok, 2 invalid profile or usage, 3 data directory unreadable.\n");
}

static int want_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

/* Collect "--set K=V" / "--set=K=V" and the one positional argument. */
static int parse_args(const char *cmd, int argc, char **argv, const char **arg, const char **sets, size_t *nsets)
{
    *arg = NULL;
    *nsets = 0;
    for (int i = 1; i < argc; i++) {
        const char *set = NULL;
        if (!strcmp(argv[i], "--set")) {
            if (i + 1 >= argc)
                return cli_usage_error(cmd, "--set needs SECTION.KEY=VALUE");
            set = argv[++i];
        } else if (!strncmp(argv[i], "--set=", 6)) {
            set = argv[i] + 6;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(cmd, "unknown option '%s' (see --help)", argv[i]);
        } else if (*arg) {
            return cli_usage_error(cmd, "one profile at a time ('%s' and '%s')", *arg, argv[i]);
        } else {
            *arg = argv[i];
        }
        if (set) {
            if (*nsets >= MAX_SETS)
                return cli_usage_error(cmd, "more than %d --set options", MAX_SETS);
            sets[(*nsets)++] = set;
        }
    }
    if (!*arg)
        return cli_usage_error(cmd, "which profile? (see --help)");
    return EXIT_PASS;
}

static profile *load(const char *arg, const char **sets, size_t nsets, bool by_name)
{
    profile_opts o = {.sets = sets, .n_sets = nsets};
    profile_diag d = {0};
    profile *p = by_name ? profile_load(arg, &o, &d) : profile_load_file(arg, &o, &d);
    profile_diag_print(&d, stderr);
    profile_diag_free(&d);
    return p;
}

static int profile_show(int argc, char **argv)
{
    const char *arg, *sets[MAX_SETS];
    size_t nsets;
    int r = parse_args("profile show", argc, argv, &arg, sets, &nsets);
    if (r != EXIT_PASS)
        return r;
    profile *p = load(arg, sets, nsets, true);
    if (!p)
        return EXIT_USAGE;
    r = profile_write(p, stdout) < 0 ? cli_env_error("profile show", "cannot write the profile") : EXIT_PASS;
    profile_free(p);
    return r;
}

static int profile_check(int argc, char **argv)
{
    const char *arg, *sets[MAX_SETS];
    size_t nsets;
    int r = parse_args("profile check", argc, argv, &arg, sets, &nsets);
    if (r != EXIT_PASS)
        return r;
    profile *p = load(arg, sets, nsets, false);
    if (!p)
        return EXIT_USAGE;
    printf("%s: ok (profile '%s': %zu listeners, %zu accounts, %zu folders)\n", arg, p->name, p->n_listeners,
           p->n_accounts, p->n_folders);
    profile_free(p);
    return EXIT_PASS;
}

/* "{tag} {command}" for a template's context placeholders. */
static void vars_list(uint32_t mask, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int v = TPL_TAG; v < TPL_VAR_COUNT; v++)
        if (mask & TPL_BIT(v)) {
            int w = snprintf(buf + at, cap - at, "%s{%s}", at ? " " : "", template_var_name((template_var)v));
            if (w < 0 || (size_t)w >= cap - at)
                break;
            at += (size_t)w;
        }
}

static int profile_keys(int argc, char **argv)
{
    if (argc > 1)
        return cli_usage_error("profile keys", "unexpected argument '%s'", argv[1]);
    profile_keyinfo k;
    const char *section = NULL;
    for (size_t i = 0; profile_schema_key(i, &k); i++) {
        if (!section || strcmp(section, k.section)) {
            section = k.section;
            bool multi = !strcmp(section, "listener") || !strcmp(section, "account") || !strcmp(section, "folder");
            printf("%s#### [%s%s]\n\n| key | type | default | meaning |\n|---|---|---|---|\n", i ? "\n" : "",
                   section, multi ? (!strcmp(section, "listener") ? ".PORT" : ".NAME") : "");
        }
        char type[300], def[200];
        if (!strcmp(k.type, "template")) {
            char vars[200];
            vars_list(k.vars, vars, sizeof vars);
            snprintf(type, sizeof type, "template%s%s", vars[0] ? ": " : "", vars);
        } else if (k.values) {
            size_t at = 0;
            for (size_t j = 0; k.values[j] && at < sizeof type; j++) {
                int w = snprintf(type + at, sizeof type - at, "%s%s", j ? " \\| " : "", k.values[j]);
                at += w > 0 ? (size_t)w : 0;
            }
        } else {
            snprintf(type, sizeof type, "%s", k.type);
        }
        if (k.def)
            snprintf(def, sizeof def, "`%s`", k.def[0] ? k.def : "(empty)");
        else if (k.fallback)
            snprintf(def, sizeof def, "= `%s`", k.fallback);
        else if (k.required)
            snprintf(def, sizeof def, "required");
        else if (k.optional_reply)
            snprintf(def, sizeof def, "unset: nothing sent");
        else
            snprintf(def, sizeof def, "unset");
        printf("| `%s` | %s | %s | %s |\n", k.key, type, def, k.doc);
    }
    return EXIT_PASS;
}

static int profile_list(int argc, char **argv)
{
    if (argc > 1)
        return cli_usage_error("profile list", "unexpected argument '%s'", argv[1]);
    char data[4096];
    if (paths_data_dir(data, sizeof data) < 0)
        return cli_env_error("profile list", "data directory path too long");
    static char names[256][PROFILE_NAME_CAP];
    int n = profile_names(data, names, 256);
    if (n < 0)
        return cli_env_error("profile list", "cannot read %s/profiles (set MAILRIG_DATA?)", data);
    int status = EXIT_PASS;
    for (int i = 0; i < n; i++) {
        profile_diag d = {0};
        profile_opts o = {.data_dir = data};
        profile *p = profile_load(names[i], &o, &d);
        if (p)
            printf("%-12s %s\n", names[i], p->description ? p->description : "");
        else
            printf("%-12s (invalid: %zu problems; `mailrig profile check %s/profiles/%s.ini`)\n",
                   names[i], d.n + d.dropped, data, names[i]);
        status = p ? status : EXIT_USAGE;
        profile_free(p);
        profile_diag_free(&d);
    }
    return status;
}

int cmd_profile(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_PASS;
    }
    if (want_help(argc - 1, argv + 1)) {
        usage(stdout);
        return EXIT_PASS;
    }
    if (!strcmp(argv[1], "list"))
        return profile_list(argc - 1, argv + 1);
    if (!strcmp(argv[1], "show"))
        return profile_show(argc - 1, argv + 1);
    if (!strcmp(argv[1], "check"))
        return profile_check(argc - 1, argv + 1);
    if (!strcmp(argv[1], "keys"))
        return profile_keys(argc - 1, argv + 1);
    return cli_usage_error("profile", "unknown subcommand '%s' (list, show, check, keys)", argv[1]);
}
