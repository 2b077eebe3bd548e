/* cmd_run.c -- `mailrig run [PATH|SCENARIO...]`: validate every scenario, run the selected
 * ones in worker processes, print the report, write JUnit/JSON. docs/running.md is the
 * user's guide; catalogue.h says what the arguments mean, runner.h how scenarios run,
 * report.h what the report holds and the exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/adapters.h"
#include "harness/catalogue.h"
#include "harness/cli.h"
#include "harness/cmd_run.h"
#include "harness/commands.h"
#include "harness/report.h"
#include "harness/run.h"
#include "harness/runner.h"
#include "harness/validate.h"
#include "servers/paths.h"

enum { MAX_TAG_ARGS = 64, MAX_JOBS = 256, EXIT_INTERRUPTED = 130 };

typedef struct run_cli {
    const char *tags[MAX_TAG_ARGS];
    size_t ntags;
    cat_filter filter;
    unsigned jobs;
    const char *client, *profile, *junit, *json, *state, *work;
    int external, port_base, have_port_base, verbose, require_clients;
    unsigned timeout_ms;
} run_cli;

static void run_usage(FILE *out)
{
    fprintf(out,
        "usage: mailrig run [OPTIONS] [PATH|SCENARIO...]\n\n"
        "Run scenarios and report. A PATH is a scenario file or a directory (searched\n"
        "recursively for *.scn; *.inc files are fragments, not scenarios); a SCENARIO is a\n"
        "name from the catalogue (DATA/scenarios, see `mailrig list`). No argument runs the\n"
        "whole catalogue. Every scenario is parsed and checked first; any error is printed\n"
        "as file:line:col and nothing runs.\n\n"
        "  -j, --jobs N          scenarios at once, each in its own worker process on its\n"
        "                        own ports (default 1; 0 = one per CPU)\n"
        "      --tag T           run scenarios with tag T (repeatable: any of them);\n"
        "                        --tag '!T' leaves out those with T; 'a,b' is two tags\n"
        "      --client NAME     the client adapter for every `client` step\n"
        "      --profile NAME    the profile for scenarios that name none\n"
        "      --external        client role against servers already listening on\n"
        "      --port-base N       127.0.0.1:N+PORT (server-role scenarios are skipped)\n"
        "      --timeout D       cap every scenario's total timeout (5s, 2m)\n"
        "      --junit FILE      write a JUnit XML report (for CI)\n"
        "      --json FILE       write a JSON report\n"
        "      --work DIR        where transcripts and logs go (default: a new directory\n"
        "                        under build/runs/ in a source tree, else $TMPDIR)\n"
        "      --state DIR       the test PKI's state directory\n"
        "      --require-clients a client that is not installed is an error, not a skip\n"
        "  -v, --verbose         print each scenario's step trace\n"
        "  -h, --help            this text\n\n"
        "A scenario whose client is not installed is skipped (shown and counted as\n"
        "skipped, never as passed). Exit status: 0 nothing failed, 1 a scenario failed,\n"
        "2 usage or scenario errors, 3 a scenario could not run (environment), 130\n"
        "interrupted. See docs/running.md.\n");
}

/* ---- options -------------------------------------------------------------------------------- */

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > max || s[0] == '-' || s[0] == '+')
        return -1;
    *out = v;
    return 0;
}

enum { OPT_TAG = 256, OPT_CLIENT, OPT_PROFILE, OPT_EXTERNAL, OPT_PORT_BASE, OPT_JUNIT, OPT_JSON,
       OPT_STATE, OPT_WORK, OPT_TIMEOUT, OPT_REQUIRE };

static const struct option long_opts[] = {
    {"jobs", required_argument, NULL, 'j'},          {"tag", required_argument, NULL, OPT_TAG},
    {"client", required_argument, NULL, OPT_CLIENT}, {"profile", required_argument, NULL, OPT_PROFILE},
    {"external", no_argument, NULL, OPT_EXTERNAL},   {"port-base", required_argument, NULL, OPT_PORT_BASE},
    {"junit", required_argument, NULL, OPT_JUNIT},   {"json", required_argument, NULL, OPT_JSON},
    {"state", required_argument, NULL, OPT_STATE},   {"work", required_argument, NULL, OPT_WORK},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"require-clients", no_argument, NULL, OPT_REQUIRE},
    {"verbose", no_argument, NULL, 'v'},             {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One option; 0, 1 (--help shown) or -1 (reported). */
static int take_option(run_cli *c, int opt, const char *arg)
{
    unsigned long v;
    char why[200];
    switch (opt) {
    case 'j':
        if (parse_uint(arg, MAX_JOBS, &v) != 0)
            return cli_usage_error("run", "-j %s: give a number of scenarios at once, 0..%d "
                                          "(0 = one per CPU)", arg, MAX_JOBS), -1;
        c->jobs = v ? (unsigned)v : 0;
        if (!v) {
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            c->jobs = cpus > 0 ? (unsigned)(cpus > MAX_JOBS ? MAX_JOBS : cpus) : 1;
        }
        return 0;
    case OPT_TAG:
        if (c->ntags == MAX_TAG_ARGS)
            return cli_usage_error("run", "too many --tag options (at most %d)", MAX_TAG_ARGS), -1;
        if (cat_filter_add(&c->filter, arg, why, sizeof why) != 0)
            return cli_usage_error("run", "%s", why), -1;
        c->tags[c->ntags++] = arg;
        return 0;
    case OPT_CLIENT: c->client = arg; return 0;
    case OPT_PROFILE: c->profile = arg; return 0;
    case OPT_EXTERNAL: c->external = 1; return 0;
    case OPT_PORT_BASE:
        if (parse_uint(arg, 65535, &v) != 0)
            return cli_usage_error("run", "--port-base %s: give a port number, 0..65535", arg), -1;
        c->port_base = (int)v;
        c->have_port_base = 1;
        return 0;
    case OPT_JUNIT: c->junit = arg; return 0;
    case OPT_JSON: c->json = arg; return 0;
    case OPT_STATE: c->state = arg; return 0;
    case OPT_WORK: c->work = arg; return 0;
    case OPT_TIMEOUT:
        if (sc_parse_duration(arg, strlen(arg), &c->timeout_ms, why, sizeof why) != 0)
            return cli_usage_error("run", "--timeout %s: %s", arg, why), -1;
        return 0;
    case OPT_REQUIRE: c->require_clients = 1; return 0;
    case 'v': c->verbose = 1; return 0;
    case 'h': run_usage(stdout); return 1;
    default:
        return cli_usage_error("run", "see mailrig run --help"), -1;
    }
}

/* Options into c; returns the index of the first argument, or -1 (error) / -2 (help). */
static int parse_options(run_cli *c, int argc, char **argv)
{
    c->jobs = 1;
    optind = 0;   /* glibc: a full reset, so that tests may call this more than once */
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, ":j:vh", long_opts, NULL)) != -1;) {
        if (opt == '?')
            return cli_usage_error("run", "unknown option '%s' (see mailrig run --help)",
                                   argv[optind - 1]), -1;
        if (opt == ':')
            return cli_usage_error("run", "'%s' needs a value", argv[optind - 1]), -1;
        int r = take_option(c, opt, optarg);
        if (r)
            return r > 0 ? -2 : -1;
    }
    if (c->external != c->have_port_base)
        return cli_usage_error("run", "--external and --port-base go together: the client "
                                      "role connects to 127.0.0.1:PORT_BASE+PORT"), -1;
    return optind;
}

/* ---- the work directory --------------------------------------------------------------------- */

static int mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* --work DIR, or a new directory: DATA/build/runs/ when DATA is a source tree with a build
 * directory (`make` made one), else $TMPDIR (or /tmp). */
static int make_work_dir(const run_cli *c, const char *data_dir, char *out, size_t cap)
{
    struct stat st;
    if (c->work) {
        snprintf(out, cap, "%s", c->work);
        if (mkdirs(out) != 0 || stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
            return cli_env_error("run", "--work %s: cannot create the directory: %s", c->work,
                                 strerror(errno)), -1;
        return 0;
    }
    char stamp[32], base[PATH_MAX + 32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(base, sizeof base, "%s/build", data_dir);
    if (strcmp(data_dir, PATHS_SYSTEM_DATA_DIR) != 0 && stat(base, &st) == 0 &&
        S_ISDIR(st.st_mode) && snprintf(base, sizeof base, "%s/build/runs", data_dir) > 0 &&
        mkdirs(base) == 0 && snprintf(out, cap, "%s/run-%s-XXXXXX", base, stamp) < (int)cap &&
        mkdtemp(out))
        return 0;
    const char *tmp = getenv("TMPDIR");
    snprintf(out, cap, "%s/mailrig-run-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", stamp);
    if (!mkdtemp(out))
        return cli_env_error("run", "cannot create a work directory %s: %s", out,
                             strerror(errno)), -1;
    return 0;
}

/* A report file's directory must exist before anything runs. */
static int check_report_path(const char *opt, const char *path)
{
    if (!path)
        return 0;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    struct stat st;
    if (!*path || (slash && *dir && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))))
        return cli_usage_error("run", "%s %s: the directory %s does not exist", opt, path,
                               slash ? dir : "."), -1;
    return 0;
}

/* ---- jobs ----------------------------------------------------------------------------------- */

/* Why a scenario cannot or should not run here, from what is known before it starts. */
static void decide(runner_job *j, const run_cli *c, const run_cli_fns *f, const char *clients,
                   char *buf, size_t cap)
{
    const sc_scenario *sc = j->sc;
    if (c->external && sc->h.role == SC_ROLE_SERVER) {
        snprintf(buf, cap, "server role: not run with --external (it starts a client "
                           "against its own servers)");
        j->skip = buf;
        return;
    }
    for (size_t i = 0; f->client_available && i < sc->nsteps; i++) {
        if (sc->steps[i].kind != SC_CLIENT)
            continue;
        const char *name = c->client ? c->client : sc->steps[i].u.client.adapter;
        char why[400] = "";
        int ok = f->client_available(clients, name, why, sizeof why);
        if (ok == 1)
            continue;
        if (ok == 0 && !c->require_clients) {
            snprintf(buf, cap, "client '%s' is not installed: %s", name, why);
            j->skip = buf;
        } else {
            snprintf(buf, cap, "client '%s' %s: %s", name,
                     ok == 0 ? "is not installed (--require-clients)" : "cannot be used", why);
            j->error = buf;
        }
        return;
    }
}

/* The real check behind run_cli_fns.client_available. */
static int adapters_available(const char *clients_dir, const char *name, char *why, size_t cap)
{
    char err[512];
    adapter *a = adapter_load(clients_dir, name, err, sizeof err);
    if (!a) {
        snprintf(why, cap, "%s", err);
        return -1;
    }
    int ok = adapter_available(a, why, cap);
    adapter_free(a);
    return ok ? 1 : 0;
}

/* ---- the command ---------------------------------------------------------------------------- */

typedef struct run_state {
    run_cli c;
    char data_dir[PATH_MAX], work[PATH_MAX], clients[PATH_MAX + 16];
    validate_ctx *v;
    cat_files files;
    sc_scenario **all;
    sc_scenario **sel;
    size_t nsel;
} run_state;

static void state_free(run_state *s)
{
    cat_scenarios_free(s->all, s->files.n);
    free(s->sel);
    cat_files_free(&s->files);
    validate_free(s->v);
    cat_filter_free(&s->c.filter);
}

/* Collect, parse, validate and select. Returns 0 or an exit status. */
static int prepare(run_state *s, const run_cli_fns *f, int argc, char **argv, int first)
{
    if (paths_data_dir(s->data_dir, sizeof s->data_dir) < 0)
        return cli_env_error("run", "the data directory path is too long");
    snprintf(s->clients, sizeof s->clients, "%s/clients", s->data_dir);
    validate_opts vo = {.data_dir = NULL, .default_profile = s->c.profile,
                        .clients_dir = s->clients, .check_client = f->check_client};
    if (!(s->v = validate_new(&vo)))
        return cli_env_error("run", "out of memory");
    char why[1024];
    if (s->c.profile && validate_profile(s->v, s->c.profile, why, sizeof why) != 0)
        return cli_usage_error("run", "--profile %s: %s", s->c.profile, why);
    if (s->c.client && validate_adapter(s->v, s->c.client, why, sizeof why) != 0)
        return cli_usage_error("run", "--client %s: %s", s->c.client, why);
    if (check_report_path("--junit", s->c.junit) || check_report_path("--json", s->c.json))
        return EXIT_USAGE;
    if (cat_collect("run", (const char *const *)argv + first, (size_t)(argc - first),
                    s->data_dir, &s->files, stderr) != 0)
        return EXIT_USAGE;
    size_t bad = cat_parse(&s->files, s->v, &s->all, stderr);
    if (bad == (size_t)-1)
        return cli_env_error("run", "out of memory");
    if (bad)
        return cli_usage_error("run", "%zu of %zu scenario file%s %s errors; nothing was run",
                               bad, s->files.n, s->files.n == 1 ? "" : "s",
                               bad == 1 ? "has" : "have");
    if (cat_duplicate_names("run", s->all, s->files.n, stderr))
        return EXIT_USAGE;
    if (!(s->sel = calloc(s->files.n + 1, sizeof *s->sel)))
        return cli_env_error("run", "out of memory");
    for (size_t i = 0; i < s->files.n; i++)
        if (cat_filter_match(&s->c.filter, s->all[i]->h.tags, s->all[i]->h.ntags))
            s->sel[s->nsel++] = s->all[i];
    if (!s->nsel)
        return cli_usage_error("run", "no scenario among the %zu given has the tags asked for "
                                      "(`mailrig list` shows each one's tags)", s->files.n);
    return 0;
}

static void fill_run(rep_run *r, const run_state *s, char **argv, int first, int argc)
{
    r->args = (const char *const *)argv + first;
    r->nargs = (size_t)(argc - first);
    r->tags = s->c.tags;
    r->ntags = s->c.ntags;
    r->client = s->c.client;
    r->profile = s->c.profile;
    r->state_dir = s->c.state;
    r->external = s->c.external;
    r->port_base = s->c.port_base;
    r->require_clients = s->c.require_clients;
    r->jobs = s->c.jobs;
    r->timeout_ms = s->c.timeout_ms;
    r->work_dir = s->work;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run the selected scenarios and report. Returns the exit status. */
static int execute(run_state *s, const run_cli_fns *f, char **argv, int first, int argc)
{
    runner_job *jobs = calloc(s->nsel, sizeof *jobs);
    rep_item *items = calloc(s->nsel, sizeof *items);
    char (*why)[600] = calloc(s->nsel, sizeof *why);
    const char ***secrets = calloc(s->nsel, sizeof *secrets);
    if (!jobs || !items || !why || !secrets) {
        free(jobs), free(items), free(why), free(secrets);
        return cli_env_error("run", "out of memory");
    }
    for (size_t i = 0; i < s->nsel; i++) {
        jobs[i].sc = s->sel[i];
        jobs[i].nsecrets = validate_secrets(s->v, s->sel[i], &secrets[i]);
        jobs[i].secrets = secrets[i];
        decide(&jobs[i], &s->c, f, s->clients, why[i], sizeof why[i]);
    }
    runner_opts o = {.run = f->run, .free_result = f->free_result, .jobs = s->c.jobs,
                     .timeout_ms = s->c.timeout_ms, .grace_ms = f->grace_ms,
                     .verbose = s->c.verbose, .default_profile = s->c.profile,
                     .progress = stderr, .progress_tty = isatty(STDERR_FILENO)};
    o.env.work_dir = s->work;
    o.env.state_dir = s->c.state;
    o.env.profile = s->c.profile;
    o.env.client = s->c.client;
    o.env.clients_dir = s->clients;
    o.env.external = s->c.external;
    o.env.port_base = s->c.port_base;
    double t0 = mono_s();
    time_t started = time(NULL);
    int interrupted = runner_run(&o, jobs, s->nsel, items);
    rep_run r = {.items = items, .n = s->nsel, .seconds = mono_s() - t0, .started = started};
    fill_run(&r, s, argv, first, argc);
    const char *nc = getenv("NO_COLOR");
    rep_text(stdout, &r, isatty(STDOUT_FILENO) && !(nc && *nc));
    fflush(stdout);
    int status = interrupted ? EXIT_INTERRUPTED : rep_exit_status(&r);
    char err[PATH_MAX + 200];
    if (s->c.junit && rep_write_file(s->c.junit, rep_junit, &r, err, sizeof err) != 0)
        status = status ? status : cli_env_error("run", "%s", err);
    if (s->c.json && rep_write_file(s->c.json, rep_json, &r, err, sizeof err) != 0)
        status = status ? status : cli_env_error("run", "%s", err);
    for (size_t i = 0; i < s->nsel; i++) {
        rep_item_free(&items[i]);
        free(secrets[i]);
    }
    free(jobs), free(items), free(why), free(secrets);
    return status;
}

int run_command(int argc, char **argv, const run_cli_fns *f)
{
    run_state s;
    memset(&s, 0, sizeof s);
    int first = parse_options(&s.c, argc, argv);
    if (first < 0) {
        cat_filter_free(&s.c.filter);
        return first == -2 ? EXIT_PASS : EXIT_USAGE;
    }
    int status = prepare(&s, f, argc, argv, first);
    if (!status && make_work_dir(&s.c, s.data_dir, s.work, sizeof s.work) != 0)
        status = EXIT_ENV;
    if (!status)
        status = execute(&s, f, argv, first, argc);
    state_free(&s);
    return status;
}

int cmd_run(int argc, char **argv)
{
    run_cli_fns f = {.run = run_scenario,
                     .free_result = run_result_free,
                     .client_available = adapters_available,
                     .check_client = adapter_check_setting};
    return run_command(argc, argv, &f);
}
