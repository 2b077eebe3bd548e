/* run_server.c -- the server role of the interpreter: scripted listeners and accept, the
 * profile's mock for `serve` (and for the client role), the client under test. */
#include "harness/run_state.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "harness/run_match.h"

/* ---- PKI and the mock --------------------------------------------------------------------- */

int run_need_pki(run_state *st)
{
    if (st->pki)
        return STEP_OK;
    char dir[PKI_PATH_MAX], err[512];
    if (pki_default_state_dir(st->env->state_dir, dir, sizeof dir, err, sizeof err) != 0)
        return run_fail(st, RUN_ERROR, "pki: %s", err);
    const char *hosts[PKI_MAX_HOSTS] = {"localhost"};
    size_t nhosts = 1;
    pki_profile_request pr = {.name = "mailrig", .hosts = hosts, .nhosts = 1};
    if (st->prof) {
        nhosts = profile_hosts(st->prof, hosts, PKI_MAX_HOSTS);
        pr = (pki_profile_request){st->prof->name, hosts, nhosts < PKI_MAX_HOSTS ? nhosts : PKI_MAX_HOSTS};
    }
    pki_request req = {.key_type = PKI_KEY_ECDSA_P256, .profiles = &pr, .nprofiles = 1};
    if (pki_ensure(dir, &req, &st->pki, err, sizeof err) != PKI_OK)
        return run_fail(st, RUN_ERROR, "pki: %s", err);
    return STEP_OK;
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return;
}

int run_start_mock(run_state *st, const profile *prof)
{
    if (!prof)
        return run_fail(st, RUN_ERROR, "no profile for the mock");
    if (st->mock_running)
        return run_fail(st, RUN_ERROR, "the mock is already running");
    char dir[4096], log[4096], err[1024];
    snprintf(dir, sizeof dir, "%s/mock", st->env->work_dir);
    snprintf(log, sizeof log, "%s/mock.log", st->env->work_dir);
    make_dir(dir);
    int env_error = 0;
    int64_t deadline = run_now_ms() + 15000;
    if (deadline > st->total_deadline)
        deadline = st->total_deadline;
    if (run_mock_start(&st->mock, prof, st->env->state_dir, st->env->seed, dir, log, deadline, err,
                       sizeof err, &env_error) != 0)
        return run_fail(st, RUN_ERROR, "%s", err);
    st->mock_running = 1;
    for (size_t i = 0; i < st->mock.nports; i++)
        run_vars_add_port(&st->v, st->mock.ports[i].proto, st->mock.ports[i].provider_port,
                          st->mock.ports[i].local_port);
    st->v.cafile = st->mock.ca_file;
    return STEP_OK;
}

/* ---- listen and accept -------------------------------------------------------------------- */

int run_step_listen(run_state *st, const sc_step *s)
{
    const sc_listen *l = &s->u.listen;
    if (st->nlst >= RUN_MAX_LISTENERS)
        return run_fail(st, RUN_ERROR, "too many listeners");
    if (run_need_pki(st) != STEP_OK)
        return RUN_ERROR;
    st->v.cafile = st->pki->ca_cert;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return run_fail(st, RUN_ERROR, "listen %s %u: %s", sc_proto_name(l->proto), l->port, strerror(e));
    }
    run_listener *rl = &st->lst[st->nlst++];
    *rl = (run_listener){fd, l->proto, l->port, ntohs(sa.sin_port), l->mode, &l->tls};
    run_vars_add_port(&st->v, l->proto, l->port, rl->local_port);
    return STEP_OK;
}

int run_accept(run_state *st, unsigned port, int64_t deadline)
{
    if (st->cur.open)
        run_close_conn(st, "replaced");
    struct pollfd pf[RUN_MAX_LISTENERS];
    size_t idx[RUN_MAX_LISTENERS], n = 0;
    for (size_t i = 0; i < st->nlst; i++)
        if (!port || st->lst[i].port == port) {
            pf[n] = (struct pollfd){.fd = st->lst[i].fd, .events = POLLIN};
            idx[n++] = i;
        }
    if (!n)
        return run_fail(st, RUN_ERROR, "accept: no listener%s", port ? " at that port" : "");
    for (;;) {
        int64_t left = deadline - run_now_ms();
        int r = poll(pf, n, left > 0 ? (int)left : 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return run_fail_timeout(st, "expected the client to connect, but it did not within the step timeout");
        for (size_t k = 0; k < n; k++) {
            if (!(pf[k].revents & POLLIN))
                continue;
            int fd = accept(pf[k].fd, NULL, NULL);
            if (fd < 0)
                continue;   /* it went away again; keep waiting */
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            const run_listener *l = &st->lst[idx[k]];
            run_open_conn(st, fd, l->proto, l->mode, l->port, 1, (int)idx[k]);
            if (l->mode == SC_MODE_IMPLICIT_TLS)
                return run_server_tls(st, l->tls, deadline);
            return STEP_OK;
        }
    }
}

/* ---- serve ------------------------------------------------------------------------------------ */

int run_start_mock_for(run_state *st, unsigned mask)
{
    if (!st->prof)
        return run_fail(st, RUN_ERROR, "no profile: the scenario names none and none was given");
    const profile *p = st->prof;
    char extra[PROFILE_MAX_LISTENERS][64];
    const char *ext[PROFILE_MAX_LISTENERS];
    size_t ne = 0;
    /* Protocols not asked for: their listeners are closed, so nobody reaches them (and a
     * build without their session still serves the others). */
    for (size_t i = 0; mask && i < p->n_listeners && ne < PROFILE_MAX_LISTENERS; i++) {
        const profile_listener *l = &p->listeners[i];
        sc_proto sp = l->proto == PROFILE_SMTP ? SC_PROTO_SMTP : l->proto == PROFILE_POP3 ? SC_PROTO_POP3 : SC_PROTO_IMAP;
        if ((mask & (1u << sp)) || l->mode == PROFILE_MODE_CLOSED)
            continue;
        snprintf(extra[ne], sizeof extra[ne], "listener.%u.mode=closed", l->port);
        ext[ne] = extra[ne];
        ne++;
    }
    const profile *use = p;
    if (ne) {
        profile *q = run_load_profile(st, ext, ne);
        if (!q)
            return RUN_ERROR;
        profile_free(st->serve_profile);
        st->serve_profile = q;
        use = q;
    }
    return run_start_mock(st, use);
}

int run_step_serve(run_state *st, const sc_step *s)
{
    return run_start_mock_for(st, s->u.serve.protos);
}

/* ---- the client under test -------------------------------------------------------------------- */

static void free_kv(run_state *st)
{
    for (size_t i = 0; i < st->nkv; i++) {
        free((char *)st->kv[i].key);
        free((char *)st->kv[i].value);
    }
    free(st->kv);
    st->kv = NULL;
    st->nkv = 0;
}

static const char *kv_get(const run_state *st, const char *key)
{
    for (size_t i = 0; i < st->nkv; i++)
        if (strcmp(st->kv[i].key, key) == 0)
            return st->kv[i].value;
    return NULL;
}

static int expand_kv(run_state *st, const sc_step *s)
{
    free_kv(st);
    size_t n = s->u.client.nkv;
    if (!(st->kv = calloc(n ? n : 1, sizeof *st->kv)))
        return run_fail(st, RUN_ERROR, "out of memory");
    char err[512];
    for (size_t i = 0; i < n; i++) {
        const sc_kv *kv = &s->u.client.kv[i];
        run_buf val = {0};
        if (run_vars_expand(&st->v, &kv->value, &val, NULL, err, sizeof err) != 0) {
            run_buf_free(&val);
            return run_fail(st, RUN_ERROR, "client %s=: %s", kv->key, err);
        }
        st->kv[i].key = strdup(kv->key);
        st->kv[i].value = val.p ? val.p : strdup("");
        st->kv[i].secret = kv->value.secret;
        st->nkv = i + 1;
        if (kv->value.secret)
            run_vars_add_secret(&st->v, st->kv[i].value, strlen(st->kv[i].value));
    }
    return STEP_OK;
}

/* Where the client connects: the listener for its `port` setting, else the first one. */
static int client_target(run_state *st, adapter_target *t, char *host, size_t hostcap)
{
    const char *port_s = kv_get(st, "port"), *proto_s = kv_get(st, "proto");
    unsigned want = port_s ? (unsigned)strtoul(port_s, NULL, 10) : 0;
    const run_port *hit = NULL;
    for (size_t i = 0; i < st->v.nports && !hit; i++) {
        const run_port *p = &st->v.ports[i];
        if (p->local_port <= 0)
            continue;
        if (want ? p->provider_port == want
                 : !proto_s || strcmp(proto_s, sc_proto_name(p->proto)) == 0)
            hit = p;
    }
    if (!hit)
        return run_fail(st, RUN_ERROR, "client: no listener for port %s", port_s ? port_s : "(any)");
    const char *name = kv_get(st, "server");
    if (!name && st->prof) {
        const profile_listener *l = profile_listener_find(st->prof, hit->provider_port);
        profile_proto pp = hit->proto == SC_PROTO_SMTP ? PROFILE_SMTP : hit->proto == SC_PROTO_POP3 ? PROFILE_POP3 : PROFILE_IMAP;
        name = l && l->host ? l->host : profile_service_of(st->prof, pp)->host;
    }
    snprintf(host, hostcap, "%s", name ? name : "localhost");
    *t = (adapter_target){"127.0.0.1", hit->local_port, (int)hit->provider_port, host,
                          st->v.cafile ? st->v.cafile : ""};
    return STEP_OK;
}

int run_step_client(run_state *st, const sc_step *s)
{
    const run_deps *d = st->deps;
    if (!d->adapter_load || !d->adapter_start || !d->adapter_wait)
        return run_fail(st, RUN_ERROR, "clients under test are not available in this build");
    const char *name = st->env->client ? st->env->client : s->u.client.adapter;
    char err[1024], host[512];
    if (st->ad && d->adapter_free)
        d->adapter_free(st->ad);
    if (!(st->ad = d->adapter_load(st->env->clients_dir, name, err, sizeof err)))
        return run_fail(st, RUN_ERROR, "client %s: %s", name, err);
    if (d->adapter_available && !d->adapter_available(st->ad, err, sizeof err))
        return run_fail(st, RUN_ERROR, "client %s: %s", name, err);
    int r = expand_kv(st, s);
    adapter_target t;
    if (r == STEP_OK)
        r = client_target(st, &t, host, sizeof host);
    if (r != STEP_OK)
        return r;
    memset(&st->proc, 0, sizeof st->proc);
    if (d->adapter_start(st->ad, st->kv, st->nkv, &t, st->env->work_dir, &st->proc, err, sizeof err) != 0)
        return run_fail(st, RUN_ERROR, "client %s: %s", name, err);
    st->client_running = 1;
    snprintf(st->res->client_output, sizeof st->res->client_output, "%s", st->proc.output_path);
    return STEP_OK;
}

static int exit_ok(const sc_step *s, const adapter_outcome *o)
{
    int ok0 = o->exited && o->exit_code == 0;
    switch (s->u.expect_client.exit) {
    case SC_EXIT_ZERO: return ok0;
    case SC_EXIT_NONZERO: return !ok0;
    default: return o->exited && o->exit_code == s->u.expect_client.code;
    }
}

/* Does a line of the client's output match pat? Reports the last line seen in last. */
static int output_matches(run_state *st, const sc_pattern *pat, char *last, size_t lastcap)
{
    run_pat rp;
    char err[512];
    if (run_pat_compile(&st->v, pat, &rp, err, sizeof err) != 0)
        return run_fail(st, RUN_ERROR, "%s", err), -1;
    FILE *f = fopen(st->proc.output_path, "rb");
    int found = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (f && !found && (n = getline(&line, &cap, f)) > 0) {
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len)
            run_quote(st, line, len, last, lastcap);
        found = run_pat_match(&rp, &st->v, line, len, err, sizeof err) == 1;
    }
    free(line);
    if (f)
        fclose(f);
    run_pat_free(&rp);
    return found;
}

/* Has the client exited? Asked without reaping it: the adapter does that. */
static int client_exited(const run_state *st)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (st->proc.pid <= 0)
        return 1;
    return waitid(P_PID, (id_t)st->proc.pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid != 0;
}

/* Listeners whose handshakes are expected to fail or end in an alert get no steps after them
 * (the connection is gone once the handshake fails), so their connections are accepted and
 * judged here, while the client runs. Returns the first failed expectation, or STEP_OK. */
static int judge_handshakes(run_state *st, int64_t deadline)
{
    struct pollfd pf[RUN_MAX_LISTENERS];
    size_t idx[RUN_MAX_LISTENERS], n = 0;
    for (size_t i = 0; i < st->nlst; i++)
        if (st->lst[i].mode == SC_MODE_IMPLICIT_TLS && st->lst[i].tls &&
            st->lst[i].tls->expect != SC_TLS_OK) {
            pf[n] = (struct pollfd){.fd = st->lst[i].fd, .events = POLLIN};
            idx[n++] = i;
        }
    int verdict = STEP_OK;
    while (n && run_now_ms() < deadline) {
        int ready = poll(pf, n, 20);
        for (size_t k = 0; ready > 0 && k < n; k++) {
            if (!(pf[k].revents & POLLIN))
                continue;
            int fd = accept(pf[k].fd, NULL, NULL);
            if (fd < 0)
                continue;
            const run_listener *l = &st->lst[idx[k]];
            if (st->cur.open)
                run_close_conn(st, "replaced");
            run_open_conn(st, fd, l->proto, l->mode, l->port, 1, (int)idx[k]);
            int r = run_server_tls(st, l->tls, run_deadline(st, 0));
            if (st->cur.open)
                run_close_conn(st, "closed-by-mailrig");
            if (r != STEP_OK && verdict == STEP_OK)
                verdict = r;
        }
        if (client_exited(st))
            break;
    }
    return verdict;
}

int run_step_expect_client(run_state *st, const sc_step *s)
{
    if (!st->client_running)
        return run_fail(st, RUN_ERROR, "expect-client: no client is running");
    int64_t deadline = run_deadline(st, s->timeout_ms);
    int judged = judge_handshakes(st, deadline);
    char judged_msg[sizeof st->res->message];
    memcpy(judged_msg, st->res->message, sizeof judged_msg);
    int64_t left = deadline - run_now_ms();
    adapter_outcome o = {0};
    char err[1024];
    st->client_running = 0;
    if (st->deps->adapter_wait(&st->proc, st->ad, st->kv, st->nkv, left > 0 ? (unsigned)left : 1,
                               &o, err, sizeof err) != 0)
        return run_fail(st, RUN_ERROR, "expect-client: %s", err);
    if (judged != STEP_OK) {
        memcpy(st->res->message, judged_msg, sizeof judged_msg);
        return judged;
    }
    if (o.timed_out)
        return run_fail_timeout(st, "the client did not exit within the step timeout (killed)");
    char status[64];
    if (o.exited)
        snprintf(status, sizeof status, "exit status %d", o.exit_code);
    else
        snprintf(status, sizeof status, "killed by signal %d", o.signal);
    if (!exit_ok(s, &o))
        return run_fail(st, RUN_FAIL, "expected the client to exit %s%s, got %s",
                        s->u.expect_client.exit == SC_EXIT_ZERO ? "with status 0"
                        : s->u.expect_client.exit == SC_EXIT_NONZERO ? "with a failure" : "with status ",
                        s->u.expect_client.exit == SC_EXIT_CODE ? (snprintf(err, sizeof err, "%d", s->u.expect_client.code), err) : "",
                        status);
    if (s->u.expect_client.output) {
        char last[1024] = "nothing";
        int m = output_matches(st, s->u.expect_client.output, last, sizeof last);
        if (m < 0)
            return RUN_ERROR;
        if (!m)
            return run_fail(st, RUN_FAIL, "expected a line of the client's output matching %s, got none (last line: %s)",
                            s->u.expect_client.output->text.src, last);
    }
    return STEP_OK;
}

void run_server_cleanup(run_state *st)
{
    const run_deps *d = st->deps;
    if (st->client_running && d->adapter_kill)
        d->adapter_kill(&st->proc);
    st->client_running = 0;
    if (st->ad && d->adapter_free)
        d->adapter_free(st->ad);
    st->ad = NULL;
    free_kv(st);
    for (size_t i = 0; i < st->nlst; i++)
        close(st->lst[i].fd);
    st->nlst = 0;
    pki_paths_free(st->pki);
    st->pki = NULL;
    profile_free(st->serve_profile);
    st->serve_profile = NULL;
}
