/* cmd_serve.c -- `mailrig serve`: run a provider profile's mock servers in the foreground. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include "harness/cli.h"
#include "harness/commands.h"
#include "servers/mock.h"
#include "servers/profile.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mailrig serve [--profile NAME|FILE] [OPTIONS]\n\n"
            "Run the IMAP, SMTP and POP3 listeners of a provider profile on loopback, in the\n"
            "foreground, until SIGINT or SIGTERM. Provider port P is served at PORT_BASE + P.\n"
            "On start it prints the listeners, the test accounts and the CA certificate as\n"
            "`key=value` lines, then `ready`; connection events are logged to stderr.\n\n"
            "options:\n"
            "  --profile NAME|FILE  icloud, exchange, generic (default), or a profile file\n"
            "  --set SECTION.KEY=VALUE\n"
            "                       override one profile key (repeatable), e.g.\n"
            "                       --set imap.username=full --set listener.587.mode=plain\n"
            "  --port-base N        local port = N + provider port (default 10000; 0 = free ports)\n"
            "  --listen ADDR        address to bind (default 127.0.0.1; ::1 for IPv6)\n"
            "  --ports-file FILE    write the listeners, accounts and CA file as JSON (removed\n"
            "                       on exit)\n"
            "  --transcripts DIR    one transcript per connection (credentials redacted)\n"
            "  --spool DIR          keep mail in a Maildir spool instead of memory\n"
            "  --state DIR          PKI state directory (default $XDG_STATE_HOME/mailrig)\n"
            "  --seed N             seed for per-connection values such as backend names\n"
            "  --quiet              no connection log\n"
            "  -h, --help           this help\n\n"
            "exit status: 0 stopped by a signal, 2 usage or profile error, 3 environment error\n"
            "(a port in use, an unwritable directory).\n");
}

static int is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return -1;
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        errno = ENOTDIR;
    }
    return -1;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    fprintf(stderr, "mailrig serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_base_loopexit(arg, NULL);
}

typedef struct serve_args {
    const char *profile;
    const char **sets;
    size_t nsets;
    mock_options mo;
    const char *ports_file;
    int quiet;
} serve_args;

static int parse_args(int argc, char **argv, serve_args *a)
{
    enum { O_PROFILE = 256, O_SET, O_PORT_BASE, O_LISTEN, O_PORTS_FILE, O_TRANSCRIPTS, O_SPOOL,
           O_STATE, O_SEED, O_QUIET };
    static const struct option opts[] = {
        {"profile", required_argument, 0, O_PROFILE},
        {"set", required_argument, 0, O_SET},
        {"port-base", required_argument, 0, O_PORT_BASE},
        {"listen", required_argument, 0, O_LISTEN},
        {"ports-file", required_argument, 0, O_PORTS_FILE},
        {"transcripts", required_argument, 0, O_TRANSCRIPTS},
        {"spool", required_argument, 0, O_SPOOL},
        {"state", required_argument, 0, O_STATE},
        {"seed", required_argument, 0, O_SEED},
        {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    a->profile = "generic";
    a->mo = mock_options_default();
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    if (!a->sets)
        return cli_env_error("serve", "out of memory");
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_PROFILE: a->profile = optarg; break;
        case O_SET: a->sets[a->nsets++] = optarg; break;
        case O_PORT_BASE: {
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || v < 0 || v > 65000)
                return cli_usage_error("serve", "--port-base %s: expected a number 0..65000", optarg);
            a->mo.port_base = (int)v;
            break;
        }
        case O_LISTEN:
            if (is_loopback(optarg) < 0)
                return cli_usage_error("serve", "--listen %s: not a numeric IPv4 or IPv6 address", optarg);
            if (!is_loopback(optarg))
                fprintf(stderr, "mailrig serve: warning: --listen %s is not a loopback address; "
                                "the test accounts' passwords are printed below\n", optarg);
            a->mo.host = optarg;
            break;
        case O_PORTS_FILE: a->ports_file = optarg; break;
        case O_TRANSCRIPTS: a->mo.transcript_dir = optarg; break;
        case O_SPOOL: a->mo.spool_dir = optarg; break;
        case O_STATE: a->mo.state_dir = optarg; break;
        case O_SEED: {
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*optarg == '\0' || *end || *optarg == '-')
                return cli_usage_error("serve", "--seed %s: expected a non-negative number", optarg);
            a->mo.seed = v;
            break;
        }
        case O_QUIET: a->quiet = 1; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("serve", "unexpected argument '%s' (see --help)", argv[optind]);
    if (a->mo.transcript_dir && ensure_dir(a->mo.transcript_dir) != 0)
        return cli_env_error("serve", "--transcripts %s: %s", a->mo.transcript_dir, strerror(errno));
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    serve_args a = {0};
    int r = parse_args(argc, argv, &a);
    if (r != 0) {
        free(a.sets);
        return r < 0 ? EXIT_PASS : r;
    }
    profile_diag diag = {0};
    profile_opts popts = {.sets = a.sets, .n_sets = a.nsets};
    profile *p = profile_load(a.profile, &popts, &diag);
    if (!p) {
        profile_diag_print(&diag, stderr);
        profile_diag_free(&diag);
        free(a.sets);
        return EXIT_USAGE;
    }
    profile_diag_free(&diag);

    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    a.mo.log = a.quiet ? NULL : stderr;
    char err[1024];
    int env_error = 0, status = EXIT_PASS;
    mock *m = base ? mock_start(base, p, &a.mo, err, sizeof err, &env_error) : NULL;
    if (!m) {
        status = base ? (env_error ? EXIT_ENV : EXIT_USAGE) : EXIT_ENV;
        fprintf(stderr, "mailrig serve: %s\n", base ? err : "cannot create the event loop");
        goto out;
    }
    /* Signal handlers before the ports file and "ready": a test that stops the server as soon
     * as it sees either must find SIGTERM handled (it raced the handlers before). */
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    if (a.ports_file && mock_write_ports_file(m, a.ports_file, err, sizeof err) != 0) {
        event_free(sigint);
        event_free(sigterm);
        status = cli_env_error("serve", "--ports-file %s", err);
        goto out;
    }
    mock_print_summary(m, stdout);
    printf("ready\n");
    fflush(stdout);

    event_base_dispatch(base);
    event_free(sigint);
    event_free(sigterm);
    if (a.ports_file)
        unlink(a.ports_file);
out:
    mock_free(m);
    if (base)
        event_base_free(base);
    profile_free(p);
    free(a.sets);
    return status;
}
