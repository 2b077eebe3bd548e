/* cmd_client.c -- `mailrig client`: start one client under test through its adapter, by hand.
 *
 * For adapter authors (clients/README.md) and the adapter tests: run the client with the
 * settings a scenario's `client` step would give, against a server already listening, wait
 * for it (killing it at the timeout), and print what happened as key=value lines. The
 * password comes from the environment (MAILRIG_PASSWORD), never from mailrig's own command
 * line, so that it does not show in `ps` either.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/adapters.h"
#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/scenario.h"
#include "servers/paths.h"

enum { MAX_KV = 32 };

static void client_usage(FILE *out)
{
    fprintf(out,
            "usage: mailrig client [OPTIONS] ADAPTER [SETTING=VALUE...]\n"
            "       mailrig client --list [--clients DIR]\n\n"
            "Start the client under test described by clients/ADAPTER.ini with the settings a\n"
            "user would type (server, port, security, user, cafile, proto, auth, from, to),\n"
            "against a server already listening on loopback, and print the outcome.\n"
            "The password is read from $MAILRIG_PASSWORD.\n\n"
            "  --port N            the local port to connect to (required)\n"
            "  --host ADDR         the address [127.0.0.1]\n"
            "  --provider-port N   the provider port the user typed [the --port]\n"
            "  --server-name NAME  the provider host name (SNI, certificate) [the host]\n"
            "  --cafile FILE       the CA the client should trust\n"
            "  --timeout D         kill the client after D [the adapter's]\n"
            "  --work DIR          where the client's private directory goes [/tmp]\n"
            "  --clients DIR       adapter definitions [DATA/clients]\n"
            "  --list              list the adapters and whether each client is installed\n\n"
            "Exit status: 0 the client succeeded (by its adapter's reading), 1 it failed or\n"
            "timed out, 2 usage or adapter file error, 3 the client is not installed.\n");
}

static int list_adapters(const char *clients)
{
    char dir[4096];
    if (clients)
        snprintf(dir, sizeof dir, "%s", clients);
    else if (paths_data_dir(dir, sizeof dir - 16) >= 0)
        strcat(dir, "/clients");
    DIR *d = opendir(dir);
    if (!d)
        return cli_usage_error("client", "%s: cannot open the clients directory", dir);
    struct dirent *e;
    int bad = 0;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".ini") != 0)
            continue;
        char name[256], err[600];
        snprintf(name, sizeof name, "%.*s", (int)(n - 4), e->d_name);
        adapter *a = adapter_load(clients, name, err, sizeof err);
        if (!a) {
            fprintf(stderr, "%s\n", err);
            bad = 1;
            continue;
        }
        char why[300];
        int ok = adapter_available(a, why, sizeof why);
        printf("%-14s %s\n", name, ok ? "installed" : why);
        adapter_free(a);
    }
    closedir(d);
    return bad ? EXIT_USAGE : EXIT_PASS;
}

int cmd_client(int argc, char **argv)
{
    const char *host = "127.0.0.1", *server_name = NULL, *cafile = "", *work = "/tmp",
               *clients = NULL;
    int port = 0, pport = 0, list = 0;
    unsigned timeout = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            client_usage(stdout);
            return EXIT_PASS;
        }
        if (!strcmp(o, "--list")) {
            list = 1;
            continue;
        }
        if (!v)
            return cli_usage_error("client", "%s needs a value", o);
        i++;
        char why[128];
        if (!strcmp(o, "--port"))
            port = atoi(v);
        else if (!strcmp(o, "--provider-port"))
            pport = atoi(v);
        else if (!strcmp(o, "--host"))
            host = v;
        else if (!strcmp(o, "--server-name"))
            server_name = v;
        else if (!strcmp(o, "--cafile"))
            cafile = v;
        else if (!strcmp(o, "--work"))
            work = v;
        else if (!strcmp(o, "--clients"))
            clients = v;
        else if (!strcmp(o, "--timeout")) {
            if (sc_parse_duration(v, strlen(v), &timeout, why, sizeof why) < 0)
                return cli_usage_error("client", "--timeout %s: %s", v, why);
        } else
            return cli_usage_error("client", "unknown option %s (see --help)", o);
    }
    if (list)
        return list_adapters(clients);
    if (i >= argc)
        return cli_usage_error("client", "which adapter? (see --list)");
    if (port < 1 || port > 65535)
        return cli_usage_error("client", "--port 1..65535 is required");
    char err[1024];
    adapter *a = adapter_load(clients, argv[i], err, sizeof err);
    if (!a)
        return cli_usage_error("client", "%s", err);
    adapter_kv kv[MAX_KV];
    size_t nkv = 0;
    for (i++; i < argc && nkv < MAX_KV - 1; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            adapter_free(a);
            return cli_usage_error("client", "'%s' is not SETTING=VALUE", argv[i]);
        }
        *eq = 0;
        kv[nkv++] = (adapter_kv){argv[i], eq + 1, 0};
    }
    const char *pw = getenv("MAILRIG_PASSWORD");
    if (pw)
        kv[nkv++] = (adapter_kv){"password", pw, 1};
    adapter_target t = {host, port, pport ? pport : port, server_name, cafile};
    adapter_proc proc;
    if (adapter_start(a, kv, nkv, &t, work, &proc, err, sizeof err) < 0) {
        char why[300];
        int missing = !adapter_available(a, why, sizeof why);
        adapter_free(a);
        return missing ? cli_env_error("client", "%s", err) : cli_usage_error("client", "%s", err);
    }
    printf("pid=%d\nworkdir=%s\n", (int)proc.pid, proc.workdir);
    fflush(stdout);
    adapter_outcome out;
    int rc = adapter_wait(&proc, a, kv, nkv, timeout, &out, err, sizeof err);
    adapter_free(a);
    if (rc < 0)
        return cli_env_error("client", "%s", err);
    printf("exited=%d\nexit=%d\nsignal=%d\ntimed_out=%d\nsuccess=%d\noutput=%s\n", out.exited,
           out.exit_code, out.signal, out.timed_out, out.success, proc.output_path);
    return out.success ? EXIT_PASS : EXIT_FAIL;
}
