/* cmd_reproduce.c -- `mailrig reproduce`: run a user's settings against the provider's mock
 * with mailrig's client role (or a client adapter), then the same settings with the fixes of
 * `mailrig diagnose` applied, and show both transcripts, where the first failed, and the
 * findings. The conversations are scenarios (diag_repro.h) run by the interpreter (run.h), so
 * transcripts, redaction and verdicts are the engine's.
 *
 * Exit status: 0 the failure reproduced and the corrected settings succeed; 1 nothing failed
 * ("nothing to reproduce"), or the corrected settings fail too (the output says which);
 * 2 usage or settings errors; 3 environment (the mock could not start, a client is missing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/diag.h"
#include "harness/diag_cli.h"
#include "harness/diag_repro.h"
#include "harness/run.h"
#include "harness/scenario.h"
#include "servers/paths.h"
#include "servers/profile.h"

static const char *const states[] = {"ok", "not-signed-in", "imap-disabled", "pop-disabled", "protocols-disabled",
                                     "basic-auth-disabled", "smtp-auth-disabled", NULL};

typedef struct opts {
    const char *client;     /* --client ADAPTER */
    const char *state;      /* --account-state */
    const char *work;       /* --work DIR (kept) */
    int layout;             /* 0 auto, 1 side by side, 2 one after the other */
    bool show_scenarios;    /* --show-scenarios */
} opts;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mailrig reproduce [--settings FILE] [SETTING FLAGS] [--client ADAPTER]\n"
            "                         [--account-state STATE] [--set SECTION.KEY=VALUE ...]\n"
            "                         [--side-by-side | --stacked] [--work DIR] [--show-scenarios]\n\n"
            "Run the settings a user entered against the provider's mock on loopback: mailrig's\n"
            "own client (or --client ADAPTER, a shipped clients/ADAPTER.ini) connects to the\n"
            "user's port (993 to the mock's 993 listener; a port the provider does not serve is\n"
            "refused) with the user's wire mode, user name, password kind and authentication.\n"
            "Then the same with every error finding's fix applied (see `mailrig diagnose`).\n"
            "Prints both transcripts (credentials redacted), where the first one failed, and the\n"
            "findings.\n\n"
            "  --settings FILE          the account dialog written down (docs/diagnose.md)\n");
    diag_cli_flags_help(out);
    fprintf(out,
            "  --client ADAPTER         run a real client through clients/ADAPTER.ini instead of\n"
            "                           mailrig's client role (its protocol's server only)\n"
            "  --account-state STATE    the account as the mock keeps it: ok (default),\n"
            "                           not-signed-in, imap-disabled, pop-disabled, protocols-disabled,\n"
            "                           basic-auth-disabled, smtp-auth-disabled -- to reproduce a\n"
            "                           \"possible cause\" on purpose\n"
            "  --set S.K=V              override a key of the provider's profile\n"
            "  --side-by-side, --stacked  transcript layout (default: side by side on a terminal\n"
            "                           of 160 columns or more)\n"
            "  --work DIR               keep the scenarios and transcripts in DIR\n"
            "  --show-scenarios         print the generated scenarios too\n"
            "  --json                   one JSON document: per server the runs (settings, verdict,\n"
            "                           failure, transcript), the findings, the result\n\n"
            "Exit status: 0 the failure reproduced and the corrected settings succeed; 1 nothing\n"
            "to reproduce (the settings work on the mock) or the corrected settings fail too;\n"
            "2 usage or settings error; 3 environment (mock or client could not start).\n");
}

static int extra_option(void *ctx, int argc, char **argv, int *i)
{
    opts *o = ctx;
    const char *a = argv[*i];
    const char *const valued[] = {"--client", "--account-state", "--work"};
    const char **dst[] = {&o->client, &o->state, &o->work};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(valued[k]);
        if (strncmp(a, valued[k], n) || (a[n] && a[n] != '='))
            continue;
        if (a[n] == '=') {
            *dst[k] = a + n + 1;
        } else if (*i + 1 < argc) {
            *dst[k] = argv[++*i];
        } else {
            return cli_usage_error("reproduce", "%s needs a value (see --help)", a);
        }
        return 1;
    }
    if (!strcmp(a, "--side-by-side") || !strcmp(a, "--stacked")) {
        o->layout = a[2] == 's' && a[3] == 'i' ? 1 : 2;
        return 1;
    }
    if (!strcmp(a, "--show-scenarios")) {
        o->show_scenarios = true;
        return 1;
    }
    return 0;
}

static int check_state(const char *state)
{
    if (!state)
        return EXIT_PASS;
    for (size_t i = 0; states[i]; i++)
        if (!strcmp(states[i], state))
            return EXIT_PASS;
    return cli_usage_error("reproduce",
                           "--account-state '%s' (accepted: ok, not-signed-in, imap-disabled, pop-disabled, "
                           "protocols-disabled, basic-auth-disabled, smtp-auth-disabled)", state);
}

/* The protocols of adapter name ("imap", "smtp pop3"...) from DATA/clients/NAME.ini. */
static int adapter_protocols(const char *name, char *buf, size_t cap)
{
    char dir[4096], path[4200];
    if (paths_data_dir(dir, sizeof dir) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/clients/%s.ini", dir, name);
    FILE *f = strchr(name, '/') ? NULL : fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    buf[0] = '\0';
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "protocols", 9)) {
            const char *eq = strchr(line, '=');
            snprintf(buf, cap, "%s", eq ? eq + 1 : "");
            break;
        }
    fclose(f);
    return 0;
}

/* ---- running ---------------------------------------------------------------------------------- */

typedef struct outcome {
    bool ran;
    run_verdict verdict;
    char message[1024];
    int failed_line;
    char transcript[4096];
    char client_output[4096];
} outcome;

static int run_one(const char *dir, const char *name, const char *text, size_t len, outcome *oc)
{
    char path[4200], work[4200];
    snprintf(path, sizeof path, "%s/%s.scn", dir, name);
    snprintf(work, sizeof work, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0)
        return cli_env_error("reproduce", "cannot write %s: %s", path, strerror(errno));
    if (mkdir(work, 0700) < 0 && errno != EEXIST)
        return cli_env_error("reproduce", "cannot create %s: %s", work, strerror(errno));
    sc_diags d = {0};
    sc_scenario *sc = sc_parse_file(path, NULL, &d);
    if (!sc) {
        /* a value from the settings the scenario language cannot carry */
        sc_diags_print(stderr, &d);
        sc_diags_free(&d);
        return cli_usage_error("reproduce", "the generated scenario %s does not parse", path);
    }
    sc_diags_free(&d);
    run_env env = {.work_dir = work, .seed = 1};
    run_result res;
    memset(&res, 0, sizeof res);
    oc->verdict = run_scenario(sc, &env, &res);
    oc->ran = true;
    snprintf(oc->message, sizeof oc->message, "%s", res.message);
    snprintf(oc->transcript, sizeof oc->transcript, "%s", res.transcript);
    snprintf(oc->client_output, sizeof oc->client_output, "%s", res.client_output);
    oc->failed_line = res.failed_step >= 0 && (size_t)res.failed_step < sc->nsteps
                          ? (int)sc->steps[res.failed_step].loc.line
                          : 0;
    run_result_free(&res);
    sc_free(sc);
    return EXIT_PASS;
}

/* ---- printing ---------------------------------------------------------------------------------- */

typedef struct lines {
    char **v;
    size_t n;
} lines;

/* The transcript's records without their timestamps ("conn 1 C: a1 LOGIN ..."). */
static void read_lines(const char *path, bool strip_time, lines *out)
{
    out->v = NULL;
    out->n = 0;
    FILE *f = path[0] ? fopen(path, "r") : NULL;
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        const char *p = strip_time ? strchr(line, ' ') : NULL;
        p = p ? p + 1 : line;
        char **nv = realloc(out->v, (out->n + 1) * sizeof *nv);
        if (!nv)
            break;
        out->v = nv;
        out->v[out->n++] = strdup(p);
    }
    free(line);
    fclose(f);
}

static void free_lines(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static void print_side_by_side(const lines *a, const lines *b, int width, FILE *f)
{
    int col = (width - 3) / 2;
    fprintf(f, "%-*.*s | %s\n", col, col, "as entered", "corrected");
    for (size_t i = 0; i < a->n || i < b->n; i++) {
        const char *x = i < a->n && a->v[i] ? a->v[i] : "";
        const char *y = i < b->n && b->v[i] ? b->v[i] : "";
        fprintf(f, "%-*.*s | %.*s\n", col, col, x, col, y);
    }
}

static void print_lines(const char *title, const lines *l, FILE *f)
{
    fprintf(f, "--- %s\n", title);
    for (size_t i = 0; i < l->n; i++)
        fprintf(f, "  %s\n", l->v[i] ? l->v[i] : "");
    if (!l->n)
        fprintf(f, "  (no transcript)\n");
}

/* The last lines of a client's captured output (already redacted by the adapter layer). */
static void print_tail(const char *title, const char *path, FILE *f)
{
    lines l;
    read_lines(path, false, &l);
    fprintf(f, "--- %s (last lines)\n", title);
    for (size_t i = l.n > 8 ? l.n - 8 : 0; i < l.n; i++)
        fprintf(f, "  %s\n", l.v[i] ? l.v[i] : "");
    free_lines(&l);
}

static const char *verdict_words(const outcome *oc)
{
    return !oc->ran ? "not run" : oc->verdict == RUN_PASS ? "succeeded" : oc->verdict == RUN_FAIL ? "FAILED" : "ERROR";
}

static int terminal_width(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    return c && atoi(c) > 0 ? atoi(c) : 0;
}

/* The possible cause an account state makes real. */
static bool state_shows(const char *state, diag_trigger t)
{
    if (!state || !*state)
        return false;
    switch (t) {
    case DIAG_T_STATE_NOT_SIGNED_IN: return !strcmp(state, "not-signed-in");
    case DIAG_T_STATE_PROTOCOL_DISABLED: return strstr(state, "-disabled") && strncmp(state, "basic", 5) &&
                                                strncmp(state, "smtp", 4);
    case DIAG_T_STATE_BASIC_AUTH_DISABLED: return !strcmp(state, "basic-auth-disabled");
    case DIAG_T_STATE_SMTP_AUTH_DISABLED: return !strcmp(state, "smtp-auth-disabled");
    default: return false;
    }
}

static void print_findings(const diag_report *r, diag_server_id id, const char *state, FILE *f)
{
    bool any = false;
    for (size_t i = 0; i < r->n_findings; i++) {
        const diag_finding *fd = &r->findings[i];
        if (fd->server != id && fd->server != DIAG_ACCOUNT)
            continue;
        if (!any)
            fprintf(f, "findings (mailrig diagnose):\n");
        any = true;
        fprintf(f, "  %-7s %s%s: %s\n", diag_severity_name(fd->severity), fd->rule->id,
                fd->rule->kind != DIAG_KIND_POSSIBLE_CAUSE ? ""
                : state_shows(state, fd->rule->trigger) ? " (possible cause, made real by --account-state)"
                                                        : " (possible cause)",
                fd->title);
        if (fd->fix[0] && fd->rule->kind == DIAG_KIND_SETTING)
            fprintf(f, "          fix: %s\n", fd->fix);
    }
    if (!any)
        fprintf(f, "findings (mailrig diagnose): none for this server\n");
}

static void print_server(const repro_plan *pl, diag_server_id id, const outcome *u, const outcome *x,
                         const diag_report *r, const opts *o, FILE *f)
{
    char du[600], dx[600];
    repro_describe(&pl->user[id], du, sizeof du);
    repro_describe(&pl->fixed[id], dx, sizeof dx);
    fprintf(f, "\n== %s ==\n", diag_server_name(id));
    fprintf(f, "as entered: %s%s%s\n", du, pl->state[0] ? ", account state " : "", pl->state);
    if (pl->user[id].notes[0])
        fprintf(f, "  (%s)\n", pl->user[id].notes);
    fprintf(f, "corrected:  %s%s%s\n", dx, pl->fixed_state[0] ? ", account state " : "", pl->fixed_state);
    if (pl->fixed[id].notes[0])
        fprintf(f, "  (changed: %s)\n", pl->fixed[id].notes);
    lines a, b;
    read_lines(u->transcript, true, &a);
    read_lines(x->ran ? x->transcript : "", true, &b);
    int width = terminal_width();
    bool side = o->layout == 1 || (o->layout == 0 && width >= 160);
    if (side && x->ran)
        print_side_by_side(&a, &b, width >= 80 ? width : 200, f);
    else {
        print_lines("as entered", &a, f);
        if (x->ran)
            print_lines("corrected", &b, f);
    }
    free_lines(&a);
    free_lines(&b);
    fprintf(f, "as entered: %s", verdict_words(u));
    if (u->verdict != RUN_PASS)
        fprintf(f, " at scenario line %d: %s", u->failed_line, u->message);
    fprintf(f, "\ncorrected:  %s", x->ran ? verdict_words(x) : "not run (nothing to correct)");
    if (x->ran && x->verdict != RUN_PASS)
        fprintf(f, " at scenario line %d: %s", x->failed_line, x->message);
    fputc('\n', f);
    if (u->client_output[0])
        print_tail("client output, as entered", u->client_output, f);
    print_findings(r, id, pl->state, f);
}

/* ---- the command ------------------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

typedef struct job {
    diag_cli *c;
    opts *o;
    diag_report *r;
    profile *p;
    repro_plan *pl;
    char dir[4096];
    outcome user[DIAG_SERVERS], fixed[DIAG_SERVERS];
    char *scn;
} job;

static bool same_conversation(const repro_server *a, const repro_server *b)
{
    return a->proto == b->proto && !strcmp(a->host, b->host) && a->port == b->port && a->wire == b->wire &&
           !strcmp(a->username, b->username) && a->password == b->password && a->auth == b->auth;
}

/* Run the user's and the corrected conversation of server id. */
static int run_server(job *J, diag_server_id id, const char *adapter)
{
    const char *what[2] = {"as-entered", "corrected"};
    for (int k = 0; k < 2; k++) {
        bool fixed = k == 1;
        if (fixed && J->user[id].verdict == RUN_PASS && same_conversation(&J->pl->user[id], &J->pl->fixed[id]) &&
            !strcmp(J->pl->state, J->pl->fixed_state))
            break;
        int n = repro_scenario(J->pl, fixed, id, J->p, J->c->sets, J->c->n_sets, adapter, J->scn, REPRO_SCN_MAX);
        if (n < 0)
            return cli_usage_error("reproduce", "the settings make a scenario longer than %d bytes", REPRO_SCN_MAX);
        if (J->o->show_scenarios)
            fprintf(J->c->json ? stderr : stdout, "--- scenario %s %s\n%s", diag_server_name(id), what[k], J->scn);
        char name[64];
        snprintf(name, sizeof name, "%s-%s", diag_server_name(id), what[k]);
        int rc = run_one(J->dir, name, J->scn, (size_t)n, fixed ? &J->fixed[id] : &J->user[id]);
        if (rc != EXIT_PASS)
            return rc;
    }
    return EXIT_PASS;
}

/* Which servers to run: all present, or the adapter's protocol's. */
static int choose(job *J, bool *run, const char **adapter)
{
    char protos[128] = "";
    *adapter = J->o->client;
    if (*adapter && adapter_protocols(*adapter, protos, sizeof protos) < 0)
        return cli_usage_error("reproduce", "--client %s: no adapter clients/%s.ini (see clients/README.md)", *adapter,
                               *adapter);
    bool any = false;
    for (int i = 0; i < DIAG_SERVERS; i++) {
        const repro_server *sv = &J->pl->user[i];
        run[i] = sv->present && sv->runnable && (!*adapter || strstr(protos, diag_proto_name(sv->proto)));
        if (sv->present && !sv->runnable)
            fprintf(J->c->json ? stderr : stdout, "%s: cannot reproduce: %s\n", diag_server_name(i), sv->why_not);
        any |= run[i];
    }
    if (!any)
        return cli_usage_error("reproduce", "nothing to run: %s", *adapter ? "no server of the adapter's protocol"
                                                                          : "no server settings given");
    return EXIT_PASS;
}

/* The overall result: the exit status and its sentence. */
static int result(job *J, const bool *run, const char **key, char *text, size_t cap)
{
    bool reproduced = false, fix_failed = false, env = false;
    for (int i = 0; i < DIAG_SERVERS; i++) {
        if (!run[i])
            continue;
        env |= J->user[i].verdict == RUN_ERROR || (J->fixed[i].ran && J->fixed[i].verdict == RUN_ERROR);
        if (J->user[i].verdict == RUN_FAIL) {
            reproduced = true;
            fix_failed |= !J->fixed[i].ran || J->fixed[i].verdict != RUN_PASS;
        }
    }
    if (env) {
        *key = "environment";
        snprintf(text, cap, "the environment failed (see the messages above); nothing was judged");
        return EXIT_ENV;
    }
    if (!reproduced) {
        *key = "nothing-to-reproduce";
        snprintf(text, cap, "nothing to reproduce: the settings work against the %s mock%s", J->pl->provider,
                 diag_report_has_errors(J->r) ? " although mailrig diagnose reports errors (see the findings)" : "");
        return EXIT_FAIL;
    }
    if (fix_failed) {
        *key = "fix-fails";
        snprintf(text, cap, "the failure reproduced, but the corrected settings fail too");
        return EXIT_FAIL;
    }
    *key = "reproduced";
    snprintf(text, cap, "the failure reproduced; the corrected settings succeed");
    return EXIT_PASS;
}

/* ---- JSON ---------------------------------------------------------------------------------------- */

static json_t *run_json(const repro_server *sv, const outcome *oc)
{
    if (!oc->ran)
        return json_null();
    char desc[700];
    repro_describe(sv, desc, sizeof desc);
    json_t *j = json_object();
    json_object_set_new(j, "settings", json_string(desc));
    json_object_set_new(j, "notes", sv->notes[0] ? json_string(sv->notes) : json_null());
    json_object_set_new(j, "verdict", json_string(oc->verdict == RUN_PASS ? "pass" : oc->verdict == RUN_FAIL ? "fail"
                                                                                                          : "error"));
    json_object_set_new(j, "failed_line", oc->verdict == RUN_PASS ? json_null() : json_integer(oc->failed_line));
    json_object_set_new(j, "message", oc->verdict == RUN_PASS ? json_null() : json_string(oc->message));
    lines l;
    read_lines(oc->transcript, true, &l);
    json_t *t = json_array();
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i])
            json_array_append_new(t, json_string(l.v[i]));
    free_lines(&l);
    json_object_set_new(j, "transcript", t);
    return j;
}

static int write_json(job *J, const bool *run, const char *adapter, const char *key, const char *text)
{
    json_t *j = json_object();
    json_object_set_new(j, "provider", json_string(J->pl->provider));
    json_object_set_new(j, "account", json_string(J->pl->account));
    json_object_set_new(j, "client", adapter ? json_string(adapter) : json_null());
    json_object_set_new(j, "account_state", json_string(J->pl->state[0] ? J->pl->state : "ok"));
    json_t *servers = json_array();
    for (int i = 0; i < DIAG_SERVERS; i++) {
        if (!run[i])
            continue;
        json_t *sv = json_object();
        json_object_set_new(sv, "server", json_string(diag_server_name((diag_server_id)i)));
        json_object_set_new(sv, "as_entered", run_json(&J->pl->user[i], &J->user[i]));
        json_object_set_new(sv, "corrected", run_json(&J->pl->fixed[i], &J->fixed[i]));
        json_array_append_new(servers, sv);
    }
    json_object_set_new(j, "servers", servers);
    json_t *fs = json_array();
    for (size_t i = 0; i < J->r->n_findings; i++) {
        const diag_finding *fd = &J->r->findings[i];
        json_t *f = json_object();
        json_object_set_new(f, "id", json_string(fd->rule->id));
        json_object_set_new(f, "severity", json_string(diag_severity_name(fd->severity)));
        json_object_set_new(f, "server", json_string(diag_server_name(fd->server)));
        json_object_set_new(f, "kind", json_string(fd->rule->kind == DIAG_KIND_SETTING ? "setting" : "possible-cause"));
        json_array_append_new(fs, f);
    }
    json_object_set_new(j, "findings", fs);
    json_object_set_new(j, "result", json_string(key));
    json_object_set_new(j, "message", json_string(text));
    int rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(j);
    printf("\n");
    return rc;
}

static int reproduce(job *J)
{
    int rc = diag_cli_diagnose(J->c, "reproduce", J->r);
    if (rc != EXIT_PASS)
        return rc;
    profile_opts po = {.sets = J->c->sets, .n_sets = J->c->n_sets};
    profile_diag pd = {0};
    char err[300];
    if (J->r->provider[0])
        J->p = profile_load(J->r->provider, &po, &pd);
    profile_diag_print(&pd, stderr);
    profile_diag_free(&pd);
    if (!J->p || repro_plan_make(&J->c->settings, J->r, J->p, J->o->state, J->pl, err, sizeof err) < 0)
        return cli_usage_error("reproduce", "%s", J->p ? err : "the provider is unknown: give --provider NAME");
    bool run[DIAG_SERVERS];
    const char *adapter;
    if ((rc = choose(J, run, &adapter)) != EXIT_PASS)
        return rc;
    FILE *info = J->c->json ? stderr : stdout; /* with --json, stdout is the document only */
    fprintf(info, "reproduce: provider %s (%s), account %s of %s standing for %s\n", J->pl->provider,
            J->r->how == DIAG_PROVIDER_GIVEN ? "given" : "inferred", J->pl->account, J->p->origin,
            J->c->settings.email[0] ? J->c->settings.email : "the user");
    fprintf(info, "client: %s\n", adapter ? adapter : "mailrig's client role");
    for (int i = 0; i < DIAG_SERVERS; i++)
        if (run[i] && (rc = run_server(J, (diag_server_id)i, adapter)) != EXIT_PASS)
            return rc;
    const char *key;
    char text[300];
    rc = result(J, run, &key, text, sizeof text);
    if (J->c->json)
        return write_json(J, run, adapter, key, text) == 0 ? rc : cli_env_error("reproduce", "cannot write JSON");
    for (int i = 0; i < DIAG_SERVERS; i++)
        if (run[i])
            print_server(J->pl, (diag_server_id)i, &J->user[i], &J->fixed[i], J->r, J->o, stdout);
    printf("\nresult: %s\n", text);
    return rc;
}

int cmd_reproduce(int argc, char **argv)
{
    job J = {0};
    opts o = {0};
    J.o = &o;
    J.c = calloc(1, sizeof *J.c);
    J.r = calloc(1, sizeof *J.r);
    J.pl = calloc(1, sizeof *J.pl);
    J.scn = malloc(REPRO_SCN_MAX);
    int rc = J.c && J.r && J.pl && J.scn ? diag_cli_parse(J.c, "reproduce", argc, argv, extra_option, &o)
                                         : cli_env_error("reproduce", "out of memory");
    if (rc == DIAG_CLI_HELP) {
        usage(stdout);
        rc = EXIT_PASS;
    } else if (rc == EXIT_PASS && (rc = check_state(o.state)) == EXIT_PASS) {
        if (o.work) {
            snprintf(J.dir, sizeof J.dir, "%s", o.work);
            if (mkdir(J.dir, 0700) < 0 && errno != EEXIST)
                rc = cli_env_error("reproduce", "cannot create %s: %s", J.dir, strerror(errno));
        } else {
            const char *tmp = getenv("TMPDIR");
            snprintf(J.dir, sizeof J.dir, "%s/mailrig-reproduce-XXXXXX", tmp && *tmp ? tmp : "/tmp");
            if (!mkdtemp(J.dir))
                rc = cli_env_error("reproduce", "cannot create a work directory: %s", strerror(errno));
        }
        if (rc == EXIT_PASS)
            rc = reproduce(&J);
        fflush(stdout);
        if (!o.work && J.dir[0])
            nftw(J.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (J.c)
        diag_cli_free(J.c);
    profile_free(J.p);
    free(J.scn);
    free(J.pl);
    free(J.r);
    free(J.c);
    return rc;
}
