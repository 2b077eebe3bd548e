/* cmd_lint.c -- `mailrig lint FILE|DIR...`: parse and validate scenarios, print every error.
 *
 * For scenario authors: nothing runs, nothing connects. Directories are walked recursively for
 * *.scn files (included fragments conventionally end in .inc and are checked through the
 * scenarios that include them). Exit status 0 when every file is clean, 2 otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/adapters.h"
#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/scenario.h"
#include "harness/validate.h"
#include "servers/paths.h"

enum { MAX_DIR_DEPTH = 16 };

typedef struct lint_run {
    validate_ctx *v;   /* the profile, set, account and adapter hooks, as `mailrig run` */
    int quiet;
    size_t files, bad_files, errors;
} lint_run;

static void lint_usage(FILE *out)
{
    fprintf(out, "usage: mailrig lint [-q] FILE|DIR...\n\n"
                 "Parse and validate scenario files (*.scn) without running them, and print\n"
                 "every error as file:line:col with the offending line, as `mailrig run` checks\n"
                 "them: the language, and what a scenario refers to (its profile must load with\n"
                 "its `set` lines, its `account` must exist). Directories are searched\n"
                 "recursively for *.scn files. The language is described in\n"
                 "docs/scenario-language.md.\n\n"
                 "  -q, --quiet   print errors only, no summary line\n"
                 "  -h, --help    this text\n\n"
                 "Exit status: 0 every file is valid, 2 errors (or a usage error).\n");
}

static void lint_file(lint_run *r, const char *path)
{
    sc_diags d = {0};
    sc_scenario *sc = validate_parse(r->v, path, &d);
    r->files++;
    if (!sc) {
        r->bad_files++;
        r->errors += d.n + d.dropped;
        sc_diags_print(stderr, &d);
    }
    sc_free(sc);
    sc_diags_free(&d);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lint every *.scn under dir, in name order so that output is stable. */
static int lint_dir(lint_run *r, const char *dir, int depth)
{
    if (depth > MAX_DIR_DEPTH) {
        fprintf(stderr, "%s: directories nested too deep (more than %d levels)\n", dir,
                MAX_DIR_DEPTH);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot read: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **nv = realloc(names, ncap * sizeof *nv);
            if (!nv) {
                rc = -1;
                break;
            }
            names = nv;
            cap = ncap;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len))) {
            rc = -1;
            break;
        }
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            if (lint_dir(r, names[i], depth + 1) != 0)
                rc = -1;
        } else if (has_suffix(names[i], ".scn")) {
            lint_file(r, names[i]);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int cmd_lint(int argc, char **argv)
{
    lint_run r = {0};
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        const char *a = argv[first];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            lint_usage(stdout);
            return EXIT_PASS;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
            r.quiet = 1;
        else if (!strcmp(a, "--")) {
            first++;
            break;
        } else
            return cli_usage_error("lint", "unknown option '%s' (see mailrig lint --help)", a);
    }
    if (first >= argc)
        return cli_usage_error("lint", "no scenario file or directory given (see mailrig lint "
                                       "--help)");
    char data_dir[4096], clients[4096 + 16];
    if (paths_data_dir(data_dir, sizeof data_dir) < 0)
        return cli_env_error("lint", "the data directory path is too long");
    snprintf(clients, sizeof clients, "%s/clients", data_dir);
    validate_opts vo = {.clients_dir = clients, .check_client = adapter_check_setting};
    if (!(r.v = validate_new(&vo)))
        return cli_env_error("lint", "out of memory");
    int env_bad = 0;
    for (int i = first; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            size_t before = r.files;
            if (lint_dir(&r, argv[i], 0) != 0)
                env_bad = 1;
            if (r.files == before)
                fprintf(stderr, "%s: no *.scn files found\n", argv[i]);
        } else {
            lint_file(&r, argv[i]);
        }
    }
    validate_free(r.v);
    if (!r.quiet)
        fprintf(stderr, "lint: %zu file%s, %zu with errors, %zu error%s\n", r.files,
                r.files == 1 ? "" : "s", r.bad_files, r.errors, r.errors == 1 ? "" : "s");
    return r.bad_files || env_bad || r.files == 0 ? EXIT_USAGE : EXIT_PASS;
}
