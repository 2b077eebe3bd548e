/* cmd_certs.c -- `mailrig certs`: create (or re-create) the test PKI and print its paths.
 *
 * Until profile files can be read, a profile's host names come from --host options: each
 * --host belongs to the --profile before it (or to a profile named "default" when none came
 * before). The output is one "key value" pair per line, in a fixed order, or with --json one
 * JSON object; see usage() for both.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness/cli.h"
#include "harness/commands.h"
#include "servers/pki.h"

static const char CMD[] = "certs";

typedef struct certs_opts {
    const char *state;
    pki_key_type key_type;
    int force, json;
    size_t nprofiles;
    pki_profile_request prof[PKI_MAX_PROFILES];
    const char *hosts[PKI_MAX_PROFILES][PKI_MAX_HOSTS];
} certs_opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: mailrig certs [--state DIR] [--key-type ecdsa|rsa] [--force] [--json]\n"
        "                     [--profile NAME [--host NAME]...]...\n\n"
        "Create the test PKI if it is missing or stale, and print where its files are:\n"
        "a test CA (give its certificate to the client under test), an untrusted CA, a\n"
        "wrong-host certificate, and per profile a valid, an untrusted-issuer and an\n"
        "expired server certificate, each covering the profile's host names plus\n"
        "localhost, 127.0.0.1 and ::1. Existing valid files are reused.\n\n"
        "options:\n"
        "  --state DIR        state directory (default $XDG_STATE_HOME/mailrig, else\n"
        "                     ~/.local/state/mailrig); files go to DIR/pki/KEY-TYPE/\n"
        "  --key-type TYPE    ecdsa (P-256, the default) or rsa (2048 bits)\n"
        "  --profile NAME     a profile to make certificates for (repeatable)\n"
        "  --host NAME        a host name or IP address for the --profile before it\n"
        "                     (repeatable; without any --profile: profile \"default\")\n"
        "  --force            regenerate every file, CAs and keys included\n"
        "  --json             print one JSON object instead of lines\n"
        "  -h, --help         this help\n\n"
        "output (one \"key value\" per line, in this order):\n"
        "  state-dir, pki-dir, key-type, ca-file, untrusted-ca-file, wrong-host.cert,\n"
        "  wrong-host.key, then per profile: profile NAME, NAME.names (comma-separated),\n"
        "  NAME.valid.cert, NAME.valid.key, NAME.untrusted.cert, NAME.untrusted.key,\n"
        "  NAME.expired.cert, NAME.expired.key\n"
        "Files written, and why, are reported on stderr.\n\n"
        "The test CA is for tests only: never trust it outside them.\n"
        "exit status: 0 done, 2 usage error or bad host name, 3 environment error.\n");
}

static pki_profile_request *find_or_add(certs_opts *o, const char *name)
{
    for (size_t i = 0; i < o->nprofiles; i++)
        if (!strcmp(o->prof[i].name, name))
            return &o->prof[i];
    if (o->nprofiles >= PKI_MAX_PROFILES)
        return NULL;
    pki_profile_request *p = &o->prof[o->nprofiles];
    *p = (pki_profile_request){.name = name, .hosts = o->hosts[o->nprofiles], .nhosts = 0};
    o->nprofiles++;
    return p;
}

static int add_host(certs_opts *o, pki_profile_request *cur, const char *host)
{
    size_t idx = (size_t)(cur - o->prof);
    if (cur->nhosts >= PKI_MAX_HOSTS)
        return cli_usage_error(CMD, "profile %s: more than %d --host names", cur->name,
                               PKI_MAX_HOSTS);
    o->hosts[idx][cur->nhosts++] = host;
    return 0;
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, certs_opts *o)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},   {"key-type", required_argument, NULL, 'k'},
        {"profile", required_argument, NULL, 'p'}, {"host", required_argument, NULL, 'H'},
        {"force", no_argument, NULL, 'f'},         {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    pki_profile_request *cur = NULL;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o->state = optarg; break;
        case 'f': o->force = 1; break;
        case 'j': o->json = 1; break;
        case 'h': usage(stdout); return EXIT_PASS;
        case 'k':
            if (pki_key_type_parse(optarg, &o->key_type))
                return cli_usage_error(CMD, "--key-type '%s': use ecdsa or rsa", optarg);
            break;
        case 'p':
            if (!(cur = find_or_add(o, optarg)))
                return cli_usage_error(CMD, "more than %d profiles", PKI_MAX_PROFILES);
            break;
        case 'H':
            if (!cur && !(cur = find_or_add(o, "default")))
                return cli_usage_error(CMD, "more than %d profiles", PKI_MAX_PROFILES);
            if (add_host(o, cur, optarg))
                return EXIT_USAGE;
            break;
        default:
            return cli_usage_error(CMD, "option '%s': unknown, or its value is missing "
                                   "(see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s' (see --help)", argv[optind]);
    return -1;
}

static void note(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "mailrig %s: %s\n", CMD, msg);
}

static const char *const VARIANTS[] = {"valid", "untrusted", "expired"};
static const pki_variant VARIANT_IDS[] = {PKI_VALID, PKI_UNTRUSTED, PKI_EXPIRED};

static void print_text(const char *state, const pki_paths *p)
{
    printf("state-dir %s\npki-dir %s\nkey-type %s\n", state, p->dir,
           pki_key_type_name(p->key_type));
    printf("ca-file %s\nuntrusted-ca-file %s\n", p->ca_cert, p->untrusted_ca_cert);
    printf("wrong-host.cert %s\nwrong-host.key %s\n", p->wrong_host.cert, p->wrong_host.key);
    for (size_t i = 0; i < p->nprofiles; i++) {
        const pki_profile_paths *pp = &p->profiles[i];
        printf("profile %s\n%s.names ", pp->name, pp->name);
        for (size_t j = 0; j < pp->nnames; j++)
            printf("%s%s", j ? "," : "", pp->names[j]);
        printf("\n");
        for (size_t v = 0; v < 3; v++) {
            const pki_pair *pair = &pp->pair[VARIANT_IDS[v]];
            printf("%s.%s.cert %s\n", pp->name, VARIANTS[v], pair->cert);
            printf("%s.%s.key %s\n", pp->name, VARIANTS[v], pair->key);
        }
    }
}

static json_t *pair_json(const pki_pair *pair)
{
    return json_pack("{s:s, s:s}", "cert", pair->cert, "key", pair->key);
}

static json_t *profile_json(const pki_profile_paths *pp)
{
    json_t *names = json_array();
    for (size_t j = 0; j < pp->nnames; j++)
        json_array_append_new(names, json_string(pp->names[j]));
    json_t *o = json_pack("{s:s, s:o}", "name", pp->name, "names", names);
    for (size_t v = 0; o && v < 3; v++)
        json_object_set_new(o, VARIANTS[v], pair_json(&pp->pair[VARIANT_IDS[v]]));
    return o;
}

static int print_json(const char *state, const pki_paths *p)
{
    json_t *profiles = json_array();
    for (size_t i = 0; i < p->nprofiles; i++)
        json_array_append_new(profiles, profile_json(&p->profiles[i]));
    json_t *wrong = pair_json(&p->wrong_host);
    json_object_set_new(wrong, "names", json_pack("[s]", PKI_WRONG_HOST_NAME));
    json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:i}", "state_dir", state,
                             "pki_dir", p->dir, "key_type", pki_key_type_name(p->key_type),
                             "ca_file", p->ca_cert, "untrusted_ca_file", p->untrusted_ca_cert,
                             "wrong_host", wrong, "profiles", profiles, "generated",
                             (json_int_t)p->generated);
    char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
    json_decref(root);
    if (!text)
        return cli_env_error(CMD, "could not build the JSON output (out of memory?)");
    puts(text);
    free(text);
    return EXIT_PASS;
}

int cmd_certs(int argc, char **argv)
{
    certs_opts *o = calloc(1, sizeof *o);
    if (!o)
        return cli_env_error(CMD, "out of memory");
    int rc = parse_args(argc, argv, o);
    char state[PKI_PATH_MAX], err[PKI_PATH_MAX + 512];
    if (rc < 0 && pki_default_state_dir(o->state, state, sizeof state, err, sizeof err))
        rc = o->state ? cli_usage_error(CMD, "--state: %s", err) : cli_env_error(CMD, "%s", err);
    for (size_t i = 0; rc < 0 && i < o->nprofiles; i++)
        if (o->prof[i].nhosts == 0)
            fprintf(stderr, "mailrig %s: profile %s has no --host: its certificates cover only "
                            "localhost, 127.0.0.1 and ::1\n", CMD, o->prof[i].name);
    if (rc < 0) {
        pki_request req = {.key_type = o->key_type, .profiles = o->prof,
                           .nprofiles = o->nprofiles, .force = o->force, .note = note};
        pki_paths *p = NULL;
        int st = pki_ensure(state, &req, &p, err, sizeof err);
        if (st == PKI_ERR_REQUEST)
            rc = cli_usage_error(CMD, "%s", err);
        else if (st != PKI_OK)
            rc = cli_env_error(CMD, "%s", err);
        else if (o->json)
            rc = print_json(state, p);
        else {
            print_text(state, p);
            rc = EXIT_PASS;
        }
        pki_paths_free(p);
    }
    free(o);
    if (fflush(stdout) != 0 && rc == EXIT_PASS)
        rc = cli_env_error(CMD, "writing the output failed");
    return rc;
}
