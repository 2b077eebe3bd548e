/* diag_cli.c -- see diag_cli.h. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/diag_cli.h"
#include "harness/diag_log.h"
#include "servers/suggest.h"

static bool is_setting_flag(const char *name, size_t n)
{
    for (size_t i = 0; diag_flag_names[i]; i++)
        if (strlen(diag_flag_names[i]) == n && !strncmp(diag_flag_names[i], name, n))
            return true;
    return false;
}

/* "--name VALUE" or "--name=VALUE": the value, advancing *i; NULL after a usage error. */
static const char *value_of(const char *cmd, int argc, char **argv, int *i, size_t name_len)
{
    const char *a = argv[*i];
    if (a[2 + name_len] == '=')
        return a + 3 + name_len;
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "%s needs a value (see --help)", a);
        return NULL;
    }
    return argv[++*i];
}

static int unknown_option(const char *cmd, const char *arg)
{
    static const char *const common[] = {"settings", "log", "log-format", "log-port-base", "json",
                                         "vocabulary", "set", "help"};
    const char *names[64];
    size_t n = 0;
    for (size_t i = 0; i < sizeof common / sizeof *common; i++)
        names[n++] = common[i];
    for (size_t i = 0; diag_flag_names[i] && n < 64; i++)
        names[n++] = diag_flag_names[i];
    names[n++] = "ui-client";
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    const char *near = suggest_closest(name, len, names, n);
    if (near)
        return cli_usage_error(cmd, "unknown option '%.*s' (did you mean --%s?)", (int)(len + 2), arg, near);
    return cli_usage_error(cmd, "unknown option '%.*s' (see --help)", (int)(len + 2), arg);
}

static int common_option(diag_cli *c, const char *cmd, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *name = a + 2;
    size_t len = strcspn(name, "=");
    static const struct {
        const char *name;
        size_t off;
    } files[] = {
        {"settings", offsetof(diag_cli, settings_file)},
        {"log", offsetof(diag_cli, log_file)},
        {"log-format", offsetof(diag_cli, log_format)},
        {"log-port-base", offsetof(diag_cli, log_port_base)},
        {"vocabulary", offsetof(diag_cli, vocab_file)},
    };
    for (size_t k = 0; k < sizeof files / sizeof *files; k++)
        if (len == strlen(files[k].name) && !strncmp(name, files[k].name, len)) {
            const char *v = value_of(cmd, argc, argv, i, len);
            if (!v)
                return EXIT_USAGE;
            *(const char **)((char *)c + files[k].off) = v;
            return 1;
        }
    if (len == 4 && !strncmp(name, "json", 4) && !name[4]) {
        c->json = true;
        return 1;
    }
    if (len == 3 && !strncmp(name, "set", 3)) {
        const char *v = value_of(cmd, argc, argv, i, len);
        if (!v)
            return EXIT_USAGE;
        if (c->n_sets >= DIAG_CLI_MAX_SETS)
            return cli_usage_error(cmd, "more than %d --set options", DIAG_CLI_MAX_SETS);
        c->sets[c->n_sets++] = v;
        return 1;
    }
    /* --ui-client: the vocabulary's client where --client means something else (reproduce) */
    bool ui_client = len == 9 && !strncmp(name, "ui-client", 9);
    if (ui_client || is_setting_flag(name, len)) {
        const char *v = value_of(cmd, argc, argv, i, len);
        if (!v)
            return EXIT_USAGE;
        if (c->n_flags >= DIAG_CLI_MAX_FLAGS)
            return cli_usage_error(cmd, "more than %d setting flags", DIAG_CLI_MAX_FLAGS);
        char *copy = malloc(len + 1);
        if (!copy)
            return cli_env_error(cmd, "out of memory");
        if (ui_client)
            len = strlen("client"), name = "client";
        memcpy(copy, name, len);
        copy[len] = '\0';
        c->flag_name[c->n_flags] = copy;
        c->flag_value[c->n_flags++] = v;
        return 1;
    }
    return 0;
}

int diag_cli_parse(diag_cli *c, const char *cmd, int argc, char **argv, diag_cli_extra extra, void *ctx)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return DIAG_CLI_HELP;
        if (strncmp(a, "--", 2) || !a[2])
            return cli_usage_error(cmd, "unexpected argument '%s' (settings come from --settings FILE or flags; "
                                        "see --help)", a);
        /* the command's own options first: reproduce's --client is an adapter */
        int r = extra ? extra(ctx, argc, argv, &i) : 0;
        if (r == 0)
            r = common_option(c, cmd, argc, argv, &i);
        if (r == 0)
            return unknown_option(cmd, a);
        if (r != 1)
            return r;
    }
    if (!c->settings_file && !c->n_flags && !c->log_file)
        return cli_usage_error(cmd, "nothing to judge: give --settings FILE, setting flags or --log FILE (see --help)");
    return EXIT_PASS;
}

void diag_cli_flags_help(FILE *out)
{
    fprintf(out,
            "  --email ADDR            the account's address\n"
            "  --client NAME           whose UI vocabulary the labels are in (thunderbird, apple-mail,\n"
            "                          outlook, ios-mail, android-gmail, k9, evolution; default generic);\n"
            "                          also --ui-client NAME (in reproduce, --client is an adapter)\n"
            "  --provider NAME         a profile (icloud, exchange, generic); default: inferred\n"
            "  --in-protocol imap|pop3 --in-server HOST --in-port N --in-security LABEL\n"
            "  --in-username NAME      --in-password account|app-specific --in-auth LABEL\n"
            "  --out-server HOST --out-port N --out-security LABEL --out-username NAME\n"
            "  --out-password account|app-specific --out-auth LABEL   (outgoing is SMTP)\n"
            "                          LABEL: as the client shows it (\"SSL/TLS\", \"STARTTLS\", \"Use SSL\",\n"
            "                          \"normal password\", \"SPA\", \"OAuth2\"); never pass a password\n");
}

static int load_vocab(diag_cli *c, const char *cmd)
{
    char path[4096];
    const char *file = c->vocab_file;
    if (!file) {
        if (diag_vocab_default_path(path, sizeof path) < 0)
            return cli_env_error(cmd, "the data directory path is too long");
        file = path;
    }
    diag_msgs *m = calloc(1, sizeof *m);
    if (!m)
        return cli_env_error(cmd, "out of memory");
    c->vocab = diag_vocab_load(file, m);
    diag_msgs_print(m, stderr);
    free(m);
    if (!c->vocab)
        return c->vocab_file ? EXIT_USAGE : cli_env_error(cmd, "cannot load the client vocabulary %s", file);
    return EXIT_PASS;
}

/* Settings file, then flags, then the log; interpreted. */
static int load_settings(diag_cli *c, const char *cmd, diag_report *r, diag_msgs *m)
{
    int errors = 0;
    diag_settings_init(&c->settings);
    if (c->settings_file)
        errors += diag_settings_load_file(c->settings_file, &c->settings, m);
    for (size_t i = 0; i < c->n_flags; i++)
        errors += diag_settings_set(&c->settings, c->flag_name[i], c->flag_value[i], m) < 0;
    if (c->log_file) {
        diag_log_opts lo = {.format = c->log_format};
        if (c->log_port_base) {
            char *end;
            unsigned long b = strtoul(c->log_port_base, &end, 10);
            if (*end || b > 65535) {
                diag_msgs_print(m, stderr);
                return cli_usage_error(cmd, "--log-port-base=%s: not a port base (accepted: 0-65535)", c->log_port_base);
            }
            lo.port_base = (unsigned)b;
        }
        int lr = diag_log_load_opts(c->log_file, &lo, c->vocab, &c->settings, r, m);
        if (lr == DIAG_LOG_UNAVAILABLE) {
            diag_msgs_print(m, stderr);
            return cli_usage_error(cmd, "--log: this build has no log readers yet");
        }
        errors += lr < 0;
    }
    if (!errors)
        errors += diag_interpret(&c->settings, c->vocab, m);
    return errors ? EXIT_USAGE : EXIT_PASS;
}

int diag_cli_diagnose(diag_cli *c, const char *cmd, diag_report *r)
{
    int rc = load_vocab(c, cmd);
    if (rc != EXIT_PASS)
        return rc;
    diag_report_init(r);
    diag_msgs *m = calloc(1, sizeof *m);
    if (!m)
        return cli_env_error(cmd, "out of memory");
    rc = load_settings(c, cmd, r, m);
    if (rc == EXIT_PASS) {
        diag_env env = {.sets = c->sets, .n_sets = c->n_sets, .vocab = c->vocab};
        if (diag_run(&c->settings, &env, r, m) < 0)
            rc = EXIT_USAGE;
    }
    diag_msgs_print(m, stderr);
    free(m);
    return rc;
}

void diag_cli_free(diag_cli *c)
{
    diag_vocab_free(c->vocab);
    c->vocab = NULL;
    for (size_t i = 0; i < c->n_flags; i++)
        free((void *)c->flag_name[i]);
    c->n_flags = 0;
}
