/* cmd_probe.c -- `mailrig probe HOST`: which ports and security modes a loopback mail host
 * answers, what each offers, and the settings to use (probe.h has the how).
 *
 * Ports: provider port P is probed at --port-base + P (default 0: P itself), unless
 * --ports-file (a `mailrig serve` ports file) or --port-map says otherwise; --port-map wins.
 * A port a ports file does not list is not probed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/probe.h"
#include "harness/scenario.h"

enum { NPORTS = sizeof probe_ports / sizeof probe_ports[0], MAX_SIGNALS = 64 };

typedef struct port_map {
    int base;
    bool from_file;          /* a ports file was read: unlisted ports are not probed */
    int local[NPORTS];       /* explicit: ports file, then --port-map; 0 = use base */
    char ca_file[4096];      /* the ports file's test CA ("" = none) */
} port_map;

static void probe_usage(FILE *out)
{
    fprintf(out,
            "usage: mailrig probe [OPTIONS] HOST\n\n"
            "Try the usual port and security combinations of a mail host the way account-setup\n"
            "guessers do -- IMAP 993 SSL/TLS, 143 STARTTLS, 143 none; SMTP 465 SSL/TLS, 587\n"
            "STARTTLS, 25 STARTTLS, 25 none; POP3 995 SSL/TLS, 110 STARTTLS, 110 none -- all at\n"
            "once, and report what answers, the TLS and certificate details, capabilities and\n"
            "AUTH mechanisms before and after TLS, the recommended settings and the mismatches.\n"
            "No credentials are ever sent. HOST must be this machine: 127.0.0.1 (or another\n"
            "127.x.y.z), ::1 or localhost; mailrig never contacts a real provider.\n\n"
            "  --timeout D         per attempt (500ms, 3s, ...) [3s]\n"
            "  --port-base N       probe provider port P at N+P (the mocks' --port-base) [0]\n"
            "  --port-map LIST     explicit ports: 993=10993,587=10587,...\n"
            "  --ports-file FILE   the ports file of `mailrig serve` (only its ports are probed;\n"
            "                      its test CA is trusted unless --ca-file says otherwise)\n"
            "  --ca-file FILE      trust these CAs [the ports file's CA, else the system store]\n"
            "  --server-name NAME  send NAME as SNI and check the certificate for it [HOST]\n"
            "  --json              print the result as one JSON object\n\n"
            "Exit status: 0 a recommended setting was found for at least one protocol, 1 none,\n"
            "2 usage error (including a HOST that is not loopback), 3 environment error.\n");
}

static int port_index(int provider_port)
{
    for (int i = 0; i < NPORTS; i++)
        if (probe_ports[i] == provider_port)
            return i;
    return -1;
}

static int parse_port(const char *s, const char *end, int *out)
{
    char *e;
    long v = strtol(s, &e, 10);
    if (e == s || e != end || v < 1 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_port_map(const char *list, port_map *m)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        int pp, lp, i;
        if (!eq || parse_port(p, eq, &pp) < 0 || parse_port(eq + 1, end, &lp) < 0)
            return cli_usage_error("probe", "--port-map: '%.*s' is not PROVIDER=LOCAL with ports "
                                   "1..65535", (int)(end - p), p);
        if ((i = port_index(pp)) < 0)
            return cli_usage_error("probe", "--port-map: %d is not a port probe tries (993, 143, "
                                   "465, 587, 25, 995, 110)", pp);
        m->local[i] = lp;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

static int read_ports_file(const char *path, port_map *m)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return cli_usage_error("probe", "%s:%d:%d: %s", path, je.line, je.column, je.text);
    json_t *ls = json_object_get(root, "listeners");
    if (!json_is_array(ls)) {
        json_decref(root);
        return cli_usage_error("probe", "%s: no \"listeners\" array (is it a `mailrig serve` "
                               "ports file?)", path);
    }
    size_t k;
    json_t *l;
    json_array_foreach(ls, k, l) {
        int pp = (int)json_integer_value(json_object_get(l, "provider_port"));
        int lp = (int)json_integer_value(json_object_get(l, "port"));
        int i = port_index(pp);
        if (i >= 0 && lp > 0 && lp <= 65535)
            m->local[i] = lp;
    }
    m->from_file = true;
    const char *ca = json_string_value(json_object_get(root, "ca_file"));
    snprintf(m->ca_file, sizeof m->ca_file, "%s", ca ? ca : "");
    json_decref(root);
    return 0;
}

static int map_port(void *ctx, int provider_port)
{
    const port_map *m = ctx;
    int i = port_index(provider_port);
    if (i >= 0 && m->local[i])
        return m->local[i];
    if (m->from_file)
        return 0;
    int p = m->base + provider_port;
    return p <= 65535 ? p : 0;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static json_t *words_array(const char *list, const char *seps)
{
    json_t *a = json_array();
    for (const char *p = list; p && *p;) {
        p += strspn(p, seps);
        size_t n = strcspn(p, seps);
        if (n)
            json_array_append_new(a, json_stringn(p, n));
        p += n;
    }
    return a;
}

static json_t *tls_json(const probe_tls *t)
{
    if (!t->done && !t->failure[0])
        return json_null();
    if (!t->done)
        return json_pack("{s:b,s:s}", "ok", 0, "failure", t->failure);
    return json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "ok", 1, "version", t->version,
                     "cipher", t->cipher, "subject", t->subject, "issuer", t->issuer, "verify",
                     tls_verify_class_name(t->verify), "verify_detail", t->verify_desc,
                     "host_match", t->host_match);
}

static json_t *offer_json(const probe_attempt *a, bool after)
{
    bool known = after ? a->caps_known_after : a->caps_known_before;
    if (!known)
        return json_null();
    const probe_offer *o = after ? &a->after : &a->before;
    const char *caps = after ? a->caps_after : a->caps_before;
    return json_pack("{s:o,s:o,s:b,s:b}", "capabilities",
                     words_array(caps, a->proto == PROFILE_IMAP ? " " : "\n"), "auth",
                     words_array(o->mechs, " "), "starttls", o->starttls, "login", o->login);
}

static json_t *attempt_json(const probe_attempt *a)
{
    json_t *j = json_pack("{s:s,s:i,s:i,s:s,s:s,s:s,s:i}", "protocol", profile_proto_name(a->proto),
                          "provider_port", a->provider_port, "port", a->port, "start",
                          a->start == PROBE_START_TLS ? "tls" : "plain", "outcome",
                          probe_outcome_name(a->outcome), "detail", a->detail, "elapsed_ms",
                          (int)a->elapsed_ms);
    json_object_set_new(j, "greeting", a->greeting[0] ? json_string(a->greeting) : json_null());
    json_object_set_new(j, "greeting_ok", json_boolean(a->greeting_ok));
    json_object_set_new(j, "tls", tls_json(&a->tls));
    json_object_set_new(j, "before_tls", offer_json(a, false));
    json_object_set_new(j, "after_tls", offer_json(a, true));
    json_object_set_new(j, "starttls", json_string(probe_stls_name(a->starttls)));
    json_object_set_new(j, "injected_bytes", json_integer(a->injected));
    /* a password could be sent before any TLS: LOGIN / USER or an AUTH mechanism in clear */
    json_object_set_new(j, "plaintext_login",
                        json_boolean(a->caps_known_before && (a->before.mechs[0] || a->before.login)));
    return j;
}

static json_t *result_json(const probe_result *r, const char *host, unsigned timeout_ms,
                           const probe_signal *sg, size_t nsg)
{
    json_t *att = json_array(), *ports = json_array(), *sets = json_array(), *rec = json_object(),
           *sigs = json_array();
    for (size_t i = 0; i < r->n; i++)
        if (r->a[i].outcome != PROBE_NOT_RUN)
            json_array_append_new(att, attempt_json(&r->a[i]));
    for (int i = 0; i < NPORTS; i++) {
        int pp = probe_ports[i];
        const probe_attempt *a = probe_find(r, pp, PROBE_START_PLAIN);
        if (!a)
            a = probe_find(r, pp, PROBE_START_TLS);
        json_array_append_new(ports, json_pack("{s:s,s:i,s:i,s:s}", "protocol",
                                               profile_proto_name(probe_port_proto(pp)),
                                               "provider_port", pp, "port", a ? a->port : 0, "mode",
                                               probe_port_kind_name(probe_port_classify(r, pp))));
    }
    for (size_t i = 0; i < sizeof probe_settings / sizeof probe_settings[0]; i++) {
        probe_verdict v = probe_judge(r, probe_settings[i]);
        json_array_append_new(sets, json_pack("{s:s,s:i,s:s,s:s,s:b,s:b,s:b,s:o,s:b,s:s}",
                                              "protocol", profile_proto_name(v.set.proto),
                                              "provider_port", v.set.provider_port, "security",
                                              probe_sec_name(v.set.sec), "label",
                                              probe_sec_label(v.set.sec), "connects", v.connects,
                                              "auth", v.auth, "certificate_ok", v.cert_ok, "mechanisms",
                                              words_array(v.mechs, " "), "login", v.login, "why", v.why));
    }
    for (int p = 0; p < PROFILE_PROTO_COUNT; p++) {
        bool cp;
        int i = probe_recommend(r, (profile_proto)p, &cp);
        json_object_set_new(rec, profile_proto_name((profile_proto)p),
                            i < 0 ? json_null()
                                  : json_pack("{s:i,s:s,s:s,s:b}", "provider_port",
                                              probe_settings[i].provider_port, "security",
                                              probe_sec_name(probe_settings[i].sec), "label",
                                              probe_sec_label(probe_settings[i].sec),
                                              "certificate_problem", cp));
    }
    for (size_t i = 0; i < nsg; i++)
        json_array_append_new(sigs, json_pack("{s:s,s:o,s:i,s:s,s:s}", "severity",
                                              probe_severity_name(sg[i].severity), "protocol",
                                              sg[i].proto < PROFILE_PROTO_COUNT
                                                  ? json_string(profile_proto_name(sg[i].proto))
                                                  : json_null(),
                                              "provider_port",
                                              sg[i].provider_port, "code", sg[i].code, "text",
                                              sg[i].text));
    return json_pack("{s:s,s:i,s:o,s:o,s:o,s:o,s:o}", "host", host, "timeout_ms", (int)timeout_ms,
                     "ports", ports, "attempts", att, "settings", sets, "recommended", rec,
                     "signals", sigs);
}

/* ---- the table ------------------------------------------------------------------------------- */

static void print_tls(const probe_tls *t)
{
    if (t->done)
        printf("             TLS %s %s; certificate %s, %s; %s\n", t->version, t->cipher,
               t->subject[0] ? t->subject : "(none)",
               t->verify == TLS_VERIFY_OK ? "verifies" : t->verify_desc,
               t->host_match ? "names the host" : "does NOT name the host");
    else if (t->failure[0])
        printf("             TLS failed: %s\n", t->failure);
}

static void print_attempt(const probe_attempt *a)
{
    printf("  %-4s %-4d %-5d  %-9s %-10s %s%s%s\n", profile_proto_name(a->proto), a->provider_port,
           a->port, a->start == PROBE_START_TLS ? "TLS first" : "plaintext",
           probe_outcome_name(a->outcome), a->greeting, a->greeting[0] && a->detail[0] ? "  " : "",
           a->detail);
    print_tls(&a->tls);
    if (a->caps_known_before)
        printf("             before TLS: AUTH %s%s%s%s\n", a->before.mechs[0] ? a->before.mechs : "(none)",
               a->before.starttls ? ", STARTTLS" : "",
               a->before.login ? (a->proto == PROFILE_POP3 ? ", USER" : ", LOGIN") : "",
               a->before.mechs[0] || a->before.login ? "  (a password would go in clear)" : "");
    if (a->starttls != PROBE_STLS_NOT_TRIED)
        printf("             STARTTLS: %s\n", probe_stls_name(a->starttls));
    if (a->caps_known_after)
        printf("             after TLS:  AUTH %s%s\n", a->after.mechs[0] ? a->after.mechs : "(none)",
               a->after.login ? (a->proto == PROFILE_POP3 ? ", USER" : ", LOGIN") : "");
}

static void print_table(const probe_result *r, const char *host, unsigned timeout_ms,
                        const probe_signal *sg, size_t nsg)
{
    printf("mailrig probe %s (timeout %u ms per attempt)\n\nAttempts\n", host, timeout_ms);
    printf("  %-4s %-4s %-5s  %-9s %-10s %s\n", "PROT", "PORT", "LOCAL", "OPENS", "OUTCOME", "GREETING");
    for (size_t i = 0; i < r->n; i++)
        if (r->a[i].outcome != PROBE_NOT_RUN)
            print_attempt(&r->a[i]);
    printf("\nPorts\n");
    for (int i = 0; i < NPORTS; i++)
        printf("  %-4s %-4d %s\n", profile_proto_name(probe_port_proto(probe_ports[i])), probe_ports[i],
               probe_port_kind_name(probe_port_classify(r, probe_ports[i])));
    printf("\nSettings\n");
    for (size_t i = 0; i < sizeof probe_settings / sizeof probe_settings[0]; i++) {
        probe_verdict v = probe_judge(r, probe_settings[i]);
        const char *state = !v.auth ? (v.connects ? "no login" : "fails")
                            : v.set.sec == PROBE_SEC_PLAIN ? "works, password in clear"
                            : v.cert_ok ? "works" : "works, certificate problem";
        const char *login = v.set.proto == PROFILE_POP3 ? "USER/PASS" : "LOGIN command";
        printf("  %-4s %-4d %-9s %-26s %s%s%s%s\n", profile_proto_name(v.set.proto),
               v.set.provider_port, probe_sec_label(v.set.sec), state, v.auth ? "" : v.why,
               v.auth && v.mechs[0] ? "AUTH " : "", v.auth ? v.mechs : "",
               v.auth && v.login ? (v.mechs[0] ? (v.set.proto == PROFILE_POP3 ? ", USER/PASS" : ", LOGIN")
                                               : login)
                                 : "");
    }
    printf("\nRecommended\n");
    for (int p = 0; p < PROFILE_PROTO_COUNT; p++) {
        bool cp;
        int i = probe_recommend(r, (profile_proto)p, &cp);
        if (i < 0)
            printf("  %-4s none\n", profile_proto_name((profile_proto)p));
        else
            printf("  %-4s %d %s%s\n", profile_proto_name((profile_proto)p), probe_settings[i].provider_port,
                   probe_sec_label(probe_settings[i].sec), cp ? " (after fixing the certificate)" : "");
    }
    if (nsg)
        printf("\nSignals\n");
    for (size_t i = 0; i < nsg; i++)
        printf("  %-7s %s\n", probe_severity_name(sg[i].severity), sg[i].text);
}

/* ---- the command ----------------------------------------------------------------------------- */

typedef struct probe_args {
    const char *host, *ca_file, *server_name, *ports_file, *port_map;
    unsigned timeout_ms;
    int base;
    bool json;
} probe_args;

static int parse_args(int argc, char **argv, probe_args *pa)
{
    *pa = (probe_args){.timeout_ms = 3000};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            probe_usage(stdout);
            return -1;
        }
        if (!strcmp(o, "--json")) {
            pa->json = true;
            continue;
        }
        if (o[0] != '-') {
            if (pa->host)
                return cli_usage_error("probe", "unexpected argument '%s' (one HOST only)", o);
            pa->host = o;
            continue;
        }
        if (!v)
            return cli_usage_error("probe", "%s needs a value", o);
        i++;
        char why[128], *end;
        if (!strcmp(o, "--timeout")) {
            if (sc_parse_duration(v, strlen(v), &pa->timeout_ms, why, sizeof why) < 0)
                return cli_usage_error("probe", "--timeout %s: %s", v, why);
        } else if (!strcmp(o, "--port-base")) {
            long b = strtol(v, &end, 10);
            if (end == v || *end || b < 0 || b > 65000)
                return cli_usage_error("probe", "--port-base %s: expected a number 0..65000", v);
            pa->base = (int)b;
        } else if (!strcmp(o, "--port-map"))
            pa->port_map = v;
        else if (!strcmp(o, "--ports-file"))
            pa->ports_file = v;
        else if (!strcmp(o, "--ca-file"))
            pa->ca_file = v;
        else if (!strcmp(o, "--server-name"))
            pa->server_name = v;
        else
            return cli_usage_error("probe", "unknown option %s (see --help)", o);
    }
    if (!pa->host)
        return cli_usage_error("probe", "which host? (127.0.0.1, ::1 or localhost)");
    return 0;
}

/* The name the certificate must carry: --server-name, else HOST without brackets. */
static void check_name(const probe_args *pa, char *buf, size_t cap)
{
    const char *h = pa->server_name ? pa->server_name : pa->host;
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
        snprintf(buf, cap, "%.*s", (int)(n - 2), h + 1);
    else
        snprintf(buf, cap, "%s", h);
}

int cmd_probe(int argc, char **argv)
{
    probe_args pa;
    int rc = parse_args(argc, argv, &pa);
    if (rc != 0)
        return rc < 0 ? EXIT_PASS : rc;
    struct sockaddr_storage sa;
    socklen_t salen;
    char why[512];
    if (probe_host_parse(pa.host, &sa, &salen, why, sizeof why) < 0)
        return cli_usage_error("probe", "%s", why);
    port_map m = {.base = pa.base};
    if (pa.ports_file && (rc = read_ports_file(pa.ports_file, &m)) != 0)
        return rc;
    if (pa.port_map && (rc = parse_port_map(pa.port_map, &m)) != 0)
        return rc;
    char name[256];
    check_name(&pa, name, sizeof name);
    probe_result *r = malloc(sizeof *r);
    if (!r)
        return cli_env_error("probe", "out of memory");
    probe_plan(r, map_port, &m);
    const char *ca_file = pa.ca_file ? pa.ca_file : m.ca_file[0] ? m.ca_file : NULL;
    probe_config cfg = {&sa, salen, pa.server_name ? pa.server_name : name, name, ca_file,
                        pa.timeout_ms};
    char err[512];
    if (probe_run(r, &cfg, err, sizeof err) < 0) {
        free(r);
        return cli_env_error("probe", "%s", err);
    }
    probe_signal sg[MAX_SIGNALS];
    size_t nsg = probe_signals(r, name, sg, MAX_SIGNALS);
    if (nsg > MAX_SIGNALS)
        nsg = MAX_SIGNALS;
    if (pa.json) {
        json_t *j = result_json(r, pa.host, pa.timeout_ms, sg, nsg);
        if (!j) {
            free(r);
            return cli_env_error("probe", "cannot build the JSON report (out of memory?)");
        }
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        putchar('\n');
        json_decref(j);
    } else {
        print_table(r, pa.host, pa.timeout_ms, sg, nsg);
    }
    int found = 0;
    for (int p = 0; p < PROFILE_PROTO_COUNT; p++) {
        bool cp;
        found |= probe_recommend(r, (profile_proto)p, &cp) >= 0;
    }
    free(r);
    return found ? EXIT_PASS : EXIT_FAIL;
}
