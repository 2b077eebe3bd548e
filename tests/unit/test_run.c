/* test_run.c -- the scenario interpreter against scripted peers: every step kind, pass and
 * fail, every timeout; both roles; the transcript, redaction and checks.
 *
 * The checks and the adapters (branches `checks`, `adapters`) are faked here through
 * run_scenario_with(): a check that records what it was given, and an "adapter" that forks a
 * scripted client (run_peer.h). Client-role scenarios run against forked scripted servers
 * with run_env.external, the port base chosen so that the provider port lands on the peer.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/run_conn.h"
#include "harness/run_internal.h"
#include "run_peer.h"
#include "servers/pki.h"

/* ---- fixtures ----------------------------------------------------------------------------- */

static char g_state[256];       /* PKI state dir for the whole program */
static pki_paths *g_pki;
static peer_tls g_server_tls;   /* the generic profile's valid certificate */

/* fake checks */
static int g_check_calls, g_check_pass = 1;
static char *g_check_text;
static check_ctx g_check_ctx;
static char g_check_profile[64], g_check_form_imap[16];

static int fake_check(sc_check_id id, const sc_check_param *params, size_t nparams,
                      const check_ctx *ctx, const char *text, size_t n, char *reason, size_t cap)
{
    (void)id;
    (void)params;
    (void)nparams;
    g_check_calls++;
    g_check_ctx = *ctx;
    snprintf(g_check_profile, sizeof g_check_profile, "%s", ctx->profile ? ctx->profile : "");
    snprintf(g_check_form_imap, sizeof g_check_form_imap, "%s",
             ctx->username_form[SC_PROTO_IMAP] ? ctx->username_form[SC_PROTO_IMAP] : "");
    free(g_check_text);
    g_check_text = strndup(text, n);
    snprintf(reason, cap, g_check_pass ? "fine" : "fake reason");
    return g_check_pass;
}

/* fake adapters: the "client" is a scripted peer */
struct adapter {
    int dummy;
};
static const char *const *g_client_actions;
static adapter_target g_target;
static char g_target_cafile[1024], g_target_name[256];
static peer_tls g_client_tls;

static adapter *fake_load(const char *dir, const char *name, char *err, size_t errlen)
{
    (void)dir;
    if (strcmp(name, "fake") != 0) {
        snprintf(err, errlen, "no adapter '%s'", name);
        return NULL;
    }
    return calloc(1, sizeof(adapter));
}

static void fake_free(adapter *a)
{
    free(a);
}

static int fake_start(const adapter *a, const adapter_kv *kv, size_t nkv, const adapter_target *t,
                      const char *work_dir, adapter_proc *proc, char *err, size_t errlen)
{
    (void)a;
    (void)kv;
    (void)nkv;
    (void)err;
    (void)errlen;
    g_target = *t;
    snprintf(g_target_cafile, sizeof g_target_cafile, "%s", t->cafile);
    snprintf(g_target_name, sizeof g_target_name, "%s", t->server_name);
    g_client_tls = (peer_tls){.ca_file = g_target_cafile, .host = g_target_name};
    snprintf(proc->output_path, sizeof proc->output_path, "%s/client.out", work_dir);
    proc->pid = peer_client(t->port, g_client_actions, &g_client_tls, proc->output_path);
    return 0;
}

static int fake_wait(adapter_proc *proc, const adapter *a, const adapter_kv *kv, size_t nkv,
                     unsigned timeout_ms, adapter_outcome *out, char *err, size_t errlen)
{
    (void)a;
    (void)kv;
    (void)nkv;
    (void)err;
    (void)errlen;
    memset(out, 0, sizeof *out);
    int64_t end = run_now_ms() + timeout_ms;
    int status;
    while (run_now_ms() < end) {
        if (waitpid(proc->pid, &status, WNOHANG) == proc->pid) {
            out->exited = WIFEXITED(status);
            out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
            out->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
            proc->pid = 0;
            return 0;
        }
        struct timespec ts = {0, 2000000L};
        nanosleep(&ts, NULL);
    }
    kill(proc->pid, SIGKILL);
    waitpid(proc->pid, &status, 0);
    proc->pid = 0;
    out->timed_out = 1;
    out->signal = SIGKILL;
    return 0;
}

static void fake_kill(adapter_proc *proc)
{
    if (proc->pid > 0) {
        kill(proc->pid, SIGKILL);
        waitpid(proc->pid, NULL, 0);
        proc->pid = 0;
    }
}

static const run_deps g_deps = {
    .check_eval = fake_check,
    .adapter_load = fake_load,
    .adapter_free = fake_free,
    .adapter_start = fake_start,
    .adapter_wait = fake_wait,
    .adapter_kill = fake_kill,
};

static int setup_all(void **state)
{
    (void)state;
    snprintf(g_state, sizeof g_state, "/tmp/mailrig-test-run-XXXXXX");
    assert_non_null(mkdtemp(g_state));
    const char *hosts[] = {"imap.example.test", "smtp.example.test", "pop.example.test"};
    pki_profile_request pr = {"generic", hosts, 3};
    pki_request req = {.key_type = PKI_KEY_ECDSA_P256, .profiles = &pr, .nprofiles = 1};
    char err[512];
    assert_int_equal(pki_ensure(g_state, &req, &g_pki, err, sizeof err), PKI_OK);
    g_server_tls.cert = g_pki->profiles[0].pair[PKI_VALID].cert;
    g_server_tls.key = g_pki->profiles[0].pair[PKI_VALID].key;
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    pki_paths_free(g_pki);
    free(g_check_text);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_state);
    return system(cmd) == 0 ? 0 : -1;
}

/* One run: the scenario text, its work dir, the result. */
typedef struct run_t {
    char dir[512];
    sc_scenario *sc;
    run_env env;
    run_result res;
    char verbose[8192];
    FILE *vf;
} run_t;

static void run_prepare(run_t *r, const char *text)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s/run-XXXXXX", g_state);
    assert_non_null(mkdtemp(r->dir));
    sc_diags d = {0};
    r->sc = sc_parse_mem("t.scn", text, strlen(text), NULL, &d);
    if (!r->sc)
        sc_diags_print(stderr, &d);
    sc_diags_free(&d);
    assert_non_null(r->sc);
    r->env.work_dir = r->dir;
    r->env.state_dir = g_state;
    r->env.seed = 1;
    r->vf = fmemopen(r->verbose, sizeof r->verbose - 1, "w");
    r->env.verbose = r->vf;
}

static run_verdict run_go(run_t *r)
{
    run_verdict v = run_scenario_with(r->sc, &r->env, &g_deps, &r->res);
    fflush(r->vf);
    if (v != RUN_PASS)
        fprintf(stderr, "    (verdict %d at step %d: %s)\n", v, r->res.failed_step, r->res.message);
    return v;
}

/* The run's transcript as a string (static buffer). */
static const char *transcript_of(run_t *r)
{
    static char buf[65536];
    FILE *f = fopen(r->res.transcript, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

static void run_done(run_t *r)
{
    run_result_free(&r->res);
    sc_free(r->sc);
    fclose(r->vf);
}

/* A client-role run against a scripted server at provider port pport. */
static pid_t serve_for(run_t *r, unsigned pport, const char *const *actions, int *lfd_out)
{
    int port;
    int lfd = peer_listen(&port);
    r->env.external = 1;
    r->env.port_base = port - (int)pport;
    pid_t pid = peer_serve(lfd, actions, &g_server_tls);
    if (lfd_out)
        *lfd_out = lfd;
    else
        close(lfd);
    return pid;
}

#define CLIENT_HEAD "scenario t\nrole client\nprofile generic\n"
#define SERVER_HEAD "scenario t\nrole server\nprofile generic\n"

/* ---- client role ---------------------------------------------------------------------------- */

static void client_send_expect_capture_redaction(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD
                "connect imap 143 plain\n"
                "expect /^\\* OK \\[UIDVALIDITY (?<uv>[0-9]+)\\]/\n"
                "send \"a1 LOGIN {account.email} {account.password}\"\n"
                "expect \"* ECHO a1 LOGIN alice@example.test *\"\n"
                "var pw=\"{account.password}\"\n"
                "send \"a2 X uv={uv} {base64:pw}\"\n"
                "expect exact \"* ECHO a2 X uv=77 YWxpY2UtcGFzc3dvcmQtMQ==\" as whole\n"
                "send \"a3 {whole}\"\n"
                "expect \"* ECHO a3 * ECHO a2 X uv=77 *\"\n"
                "close\n");
    const char *srv[] = {"S:* OK [UIDVALIDITY 77] hi\r\n", "E:* ECHO ", "E:* ECHO ", "E:* ECHO ", NULL};
    pid_t pid = serve_for(&r, 143, srv, NULL);
    assert_int_equal(run_go(&r), RUN_PASS);
    assert_int_equal(peer_reap(pid, 3000), 0);
    const char *t = transcript_of(&r);
    assert_non_null(strstr(t, "mailrig=client"));
    assert_non_null(strstr(t, "C: a1 LOGIN alice@example.test <redacted>"));
    assert_non_null(strstr(t, "S: * ECHO a1 LOGIN alice@example.test <redacted>"));
    assert_null(strstr(t, "alice-password-1"));
    assert_null(strstr(t, "YWxpY2UtcGFzc3dvcmQtMQ=="));
    assert_null(strstr(r.verbose, "alice-password-1"));
    assert_non_null(strstr(r.verbose, "t.scn:4: connect imap 143 plain -> ok"));
    run_done(&r);
}

static void client_expect_mismatch(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect \"a1 OK*\"\n");
    const char *srv[] = {"S:a1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n", "W:500", NULL};
    pid_t pid = serve_for(&r, 143, srv, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_int_equal(r.res.failed_step, 1);
    assert_string_equal(r.res.message,
                        "expected \"a1 OK*\", got \"a1 NO [AUTHENTICATIONFAILED] Authentication failed\"");
    assert_non_null(strstr(r.verbose, "-> FAIL"));
    peer_stop(pid);
    run_done(&r);
}

static void client_expect_timeout(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "timeout step=300ms\nconnect imap 143 plain\nexpect \"* OK*\"\n");
    const char *srv[] = {"S:* OK partial", "W:2000", NULL};
    pid_t pid = serve_for(&r, 143, srv, NULL);
    int64_t t0 = run_now_ms();
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_true(run_now_ms() - t0 < 1500);
    assert_non_null(strstr(r.res.message, "got \"* OK partial\" within the step timeout"));
    peer_stop(pid);
    run_done(&r);
}

static void client_total_timeout(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "timeout step=400ms total=500ms\nconnect imap 143 plain\n"
                                "wait 300ms\nexpect \"x\"\nexpect \"y\"\n");
    const char *srv[] = {"W:2000", NULL};
    pid_t pid = serve_for(&r, 143, srv, NULL);
    int64_t t0 = run_now_ms();
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_true(run_now_ms() - t0 < 1000);
    assert_int_equal(r.res.failed_step, 2);
    assert_non_null(strstr(r.res.message, "total timeout (500ms)"));
    peer_stop(pid);
    run_done(&r);
}

static void client_expect_closed(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect-reply * BYE\nexpect-closed\n");
    const char *srv[] = {"S:* BYE go away\r\n", NULL};
    pid_t pid = serve_for(&r, 143, srv, NULL);
    assert_int_equal(run_go(&r), RUN_PASS);
    assert_non_null(strstr(transcript_of(&r), "close peer-closed"));
    peer_stop(pid);
    run_done(&r);

    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect-closed timeout=200ms\n");
    const char *srv2[] = {"W:1500", NULL};
    pid = serve_for(&r, 143, srv2, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_non_null(strstr(r.res.message, "stayed open"));
    peer_stop(pid);
    run_done(&r);

    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect-closed timeout=1s\n");
    const char *srv3[] = {"S:* BYE\r\n", "W:300", NULL};
    pid = serve_for(&r, 143, srv3, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_string_equal(r.res.message, "expected the connection to close, got \"* BYE\\r\\n\"");
    peer_stop(pid);
    run_done(&r);
}

static void client_expect_nothing(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect-nothing 150ms\n");
    const char *srv[] = {"W:1000", NULL};
    pid_t pid = serve_for(&r, 143, srv, NULL);
    assert_int_equal(run_go(&r), RUN_PASS);
    peer_stop(pid);
    run_done(&r);

    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect-nothing 1s\n");
    const char *srv2[] = {"W:50", "S:* OK late\r\n", "W:1000", NULL};
    pid = serve_for(&r, 143, srv2, NULL);
    int64_t t0 = run_now_ms();
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_true(run_now_ms() - t0 < 800);
    assert_string_equal(r.res.message, "expected nothing for 1000ms, got \"* OK late\\r\\n\"");
    peer_stop(pid);
    run_done(&r);
}

/* A close during expect-nothing is "nothing arrived", unless the step says `open`: then the
 * peer must keep the connection open (silence, not a hang-up). */
static void client_expect_nothing_open(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect-nothing 1s\n");
    const char *closes[] = {"W:50", NULL};
    pid_t pid = serve_for(&r, 143, closes, NULL);
    assert_int_equal(run_go(&r), RUN_PASS);
    peer_stop(pid);
    run_done(&r);

    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect-nothing 1s open\n");
    pid = serve_for(&r, 143, closes, NULL);
    int64_t t0 = run_now_ms();
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_true(run_now_ms() - t0 < 800);
    assert_string_equal(r.res.message,
                        "expected nothing for 1000ms on an open connection, but the peer closed it");
    peer_stop(pid);
    run_done(&r);

    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect-nothing 150ms open\n");
    const char *silent[] = {"W:1000", NULL};
    pid = serve_for(&r, 143, silent, NULL);
    assert_int_equal(run_go(&r), RUN_PASS);
    peer_stop(pid);
    run_done(&r);
}

static void client_connect_outcomes(void **state)
{
    (void)state;
    /* a port nobody listens on */
    int port;
    int lfd = peer_listen(&port);
    close(lfd);
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect pop3 995 implicit-tls\nexpect-connect refused\n");
    r.env.external = 1;
    r.env.port_base = port - 995;
    assert_int_equal(run_go(&r), RUN_PASS);
    assert_non_null(strstr(transcript_of(&r), "close connect-refused"));
    run_done(&r);

    run_prepare(&r, CLIENT_HEAD "connect pop3 110 plain\n");
    r.env.external = 1;
    r.env.port_base = port - 110;
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_string_equal(r.res.message, "connect pop3 110: expected ok, got connection refused");
    run_done(&r);

    /* expected refused, but something answers */
    run_prepare(&r, CLIENT_HEAD "connect pop3 110 plain\nexpect-connect refused\n");
    const char *srv[] = {"W:200", NULL};
    pid_t pid = serve_for(&r, 110, srv, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_string_equal(r.res.message, "connect pop3 110: expected refused, got a connection");
    peer_stop(pid);
    run_done(&r);
}

static void client_connect_timeout(void **state)
{
    (void)state;
    /* A listener whose accept queue is full drops SYNs: the connect does not complete. */
    int port;
    int lfd = peer_listen(&port);
    listen(lfd, 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        int e;
        char err[64];
        if (run_conn_connect(port, run_now_ms() + 100, &fill[i], err, sizeof err) != RUN_IO_OK)
            fill[i] = -1;
        (void)e;
    }
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain timeout=300ms\nexpect-connect timeout\n");
    r.env.external = 1;
    r.env.port_base = port - 143;
    assert_int_equal(run_go(&r), RUN_PASS);
    run_done(&r);
    for (int i = 0; i < 4; i++)
        if (fill[i] >= 0)
            close(fill[i]);
    close(lfd);
}

static void client_strict_violation(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect smtp 587 plain\nexpect \"220 hi\"\n");
    const char *srv[] = {"S:220 hi\n", "W:300", NULL};
    pid_t pid = serve_for(&r, 587, srv, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_int_equal(r.res.failed_step, 1);
    assert_string_equal(r.res.message, "strict: SMTP reply at byte 0: bare LF (line end without CR) (rule CRLF)");
    assert_non_null(strstr(transcript_of(&r), "note strict: SMTP reply"));
    peer_stop(pid);
    run_done(&r);
}

static void client_expect_reply_imap(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect-reply * OK\n"
                                "send \"a1 CAPABILITY\"\n"
                                "expect-reply a1 OK \"* CAPABILITY *\" not \"*LOGINDISABLED*\" as resp\n"
                                "send \"a2 NOOP\"\nexpect-reply a2 ok\n"
                                "send \"a3 LOGIN x y\"\nexpect-reply + \n"
                                "send \"a4 X\"\nexpect-reply a4 OK\n");
    const char *srv[] = {"S:* OK hi\r\n", "R", "S:* CAPABILITY IMAP4rev1 IDLE\r\na1 OK done\r\n",
                         "R", "S:a2 OK fine\r\n", "R", "S:+ go on\r\n", "R", "S:a4 NO nope\r\n",
                         "W:300", NULL};
    pid_t pid = serve_for(&r, 143, srv, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_int_equal(r.res.failed_step, 9);
    assert_string_equal(r.res.message, "expected a4 OK, got \"a4 NO nope\"");
    peer_stop(pid);
    run_done(&r);

    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nsend \"a1 NOOP\"\nexpect-reply a1 OK\n");
    const char *srv2[] = {"S:* 2 EXISTS\r\nb7 OK other\r\n", "W:300", NULL};
    pid = serve_for(&r, 143, srv2, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_string_equal(r.res.message, "expected a1 OK, got \"b7 OK other\"");
    peer_stop(pid);
    run_done(&r);
}

static void client_expect_reply_smtp_not(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect smtp 587 plain\nexpect-reply 2xx \"220 b\"\n"
                                "send \"EHLO x\"\n"
                                "expect-reply 25x \"250-STARTTLS\" not \"250?AUTH*\"\n");
    const char *srv[] = {"S:220-a\r\n220 b\r\n", "R", "S:250-x\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n",
                         "W:300", NULL};
    pid_t pid = serve_for(&r, 587, srv, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_string_equal(r.res.message,
                        "expected a 25x reply not matching \"250?AUTH*\", got \"250 AUTH PLAIN\"");
    peer_stop(pid);
    run_done(&r);
}

static void client_expect_reply_pop3_multiline(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect pop3 110 plain\nexpect-reply +OK\nsend \"CAPA\"\n"
                                "expect-reply +OK multiline \"STLS\" as caps\n"
                                "send \"USER x\"\nexpect-reply -ERR\n");
    const char *srv[] = {"S:+OK hi\r\n", "R", "S:+OK caps\r\nUSER\r\nSTLS\r\n.\r\n", "R",
                         "S:+OK fine\r\n", "W:300", NULL};
    pid_t pid = serve_for(&r, 110, srv, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_string_equal(r.res.message, "expected -ERR, got \"+OK fine\"");
    assert_int_equal(r.res.failed_step, 5);
    peer_stop(pid);
    run_done(&r);
}

static void client_starttls_injection(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect smtp 587 plain\nexpect-reply 220\nsend \"STARTTLS\"\n"
                                "expect-reply 220\nstarttls\n");
    const char *srv[] = {"S:220 hi\r\n", "R", "S:220 go ahead\r\n250-injected\r\n", "W:500", NULL};
    pid_t pid = serve_for(&r, 587, srv, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_int_equal(r.res.failed_step, 4);
    assert_non_null(strstr(r.res.message, "STARTTLS response injection: the server sent 14 bytes"));
    assert_non_null(strstr(r.res.message, "CVE-2021-22947"));
    assert_non_null(strstr(transcript_of(&r), "event starttls-injected-plaintext bytes=14"));
    peer_stop(pid);
    run_done(&r);
}

static void client_starttls_and_implicit_tls(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect smtp 587 plain\nexpect-reply 220\nsend \"STARTTLS\"\n"
                                "expect-reply 220\nstarttls\ntls expect=ok version=1.3\n"
                                "send \"EHLO x\"\nexpect \"250 EHLO x\"\n");
    const char *srv[] = {"S:220 hi\r\n", "R", "S:220 go ahead\r\n", "T", "E:250 ", NULL};
    pid_t pid = serve_for(&r, 587, srv, NULL);
    assert_int_equal(run_go(&r), RUN_PASS);
    const char *t = transcript_of(&r);
    assert_non_null(strstr(t, "tls ok TLSv1.3"));
    assert_non_null(strstr(t, "sni=smtp.example.test"));
    assert_int_equal(peer_reap(pid, 3000), 0);
    run_done(&r);

    /* implicit TLS, a name the certificate does not have: the handshake must fail */
    run_prepare(&r, CLIENT_HEAD "connect imap 993 implicit-tls\ntls expect=fail sni=other.example\n");
    const char *srv2[] = {"T", NULL};
    pid = serve_for(&r, 993, srv2, NULL);
    assert_int_equal(run_go(&r), RUN_PASS);
    assert_non_null(strstr(transcript_of(&r), "tls fail reason=\"certificate verify failed\""));
    peer_stop(pid);
    run_done(&r);

    /* ... and when it was expected to work, the failure is described */
    run_prepare(&r, CLIENT_HEAD "connect imap 993 implicit-tls\ntls sni=other.example\n");
    pid = serve_for(&r, 993, srv2, NULL);
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_non_null(strstr(r.res.message, "TLS handshake failed: reason=\"certificate verify failed\""));
    assert_non_null(strstr(r.res.message, "verify=hostname-mismatch"));
    peer_stop(pid);
    run_done(&r);

    /* verify=off accepts it */
    run_prepare(&r, CLIENT_HEAD "connect imap 993 implicit-tls\ntls verify=off sni=other.example\n"
                                "expect-reply * OK\n");
    const char *srv3[] = {"T", "S:* OK hi\r\n", NULL};
    pid = serve_for(&r, 993, srv3, NULL);
    assert_int_equal(run_go(&r), RUN_PASS);
    peer_stop(pid);
    run_done(&r);
}

static void client_tls_handshake_timeout(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect imap 993 implicit-tls timeout=300ms\n");
    const char *srv[] = {"W:2000", NULL};
    pid_t pid = serve_for(&r, 993, srv, NULL);
    int64_t t0 = run_now_ms();
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_true(run_now_ms() - t0 < 1500);
    assert_string_equal(r.res.message, "TLS handshake did not finish");
    assert_non_null(strstr(transcript_of(&r), "tls fail reason=\"handshake timed out\""));
    peer_stop(pid);
    run_done(&r);
}

static void client_reconnect_wait_var(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect \"* OK one\"\nclose\nwait 50ms\n"
                                "var greeting=\"* OK two\"\nconnect imap 143 plain\nexpect \"{greeting}\"\n");
    /* One peer serves both connections in order (two peers on one listener would race for
     * the first connection). */
    const char *both[] = {"S:* OK one\r\n", "D", "A", "S:* OK two\r\n", "W:200", NULL};
    pid_t p = serve_for(&r, 143, both, NULL);
    assert_int_equal(run_go(&r), RUN_PASS);
    const char *t = transcript_of(&r);
    assert_non_null(strstr(t, "conn 1 close closed-by-mailrig"));
    assert_non_null(strstr(t, "conn 2 S: * OK two"));
    peer_stop(p);
    run_done(&r);
}

static void client_checks_judge_the_transcript(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect \"* OK*\"\ncheck strict-syntax\n"
                                "check max-line-length n=100\n");
    const char *srv[] = {"S:* OK hi\r\n", NULL};
    pid_t pid = serve_for(&r, 143, srv, NULL);
    g_check_calls = 0;
    g_check_pass = 1;
    assert_int_equal(run_go(&r), RUN_PASS);
    assert_int_equal(g_check_calls, 2);
    assert_int_equal(r.res.nchecks, 2);
    assert_true(r.res.checks[0].passed);
    assert_string_equal(r.res.checks[0].reason, "fine");
    assert_int_equal(g_check_ctx.role, SC_ROLE_CLIENT);
    assert_string_equal(g_check_profile, "generic");
    assert_string_equal(g_check_form_imap, "full");
    assert_non_null(strstr(g_check_text, "conn 1 S: * OK hi"));
    peer_stop(pid);
    run_done(&r);

    run_prepare(&r, CLIENT_HEAD "connect imap 143 plain\nexpect \"* OK*\"\ncheck strict-syntax\n");
    pid = serve_for(&r, 143, srv, NULL);
    g_check_pass = 0;
    assert_int_equal(run_go(&r), RUN_FAIL);
    g_check_pass = 1;
    assert_int_equal(r.res.failed_step, -1);
    assert_string_equal(r.res.message, "check strict-syntax failed: fake reason");
    peer_stop(pid);
    run_done(&r);
}

/* Every listener of the generic profile closed but 993, which is silent: the mock needs no
 * protocol session, so this runs in any build. */
#define SILENT_MOCK "set listener.993.mode=silent\nset listener.143.mode=closed\n" \
                    "set listener.465.mode=closed\nset listener.587.mode=closed\n"   \
                    "set listener.25.mode=closed\nset listener.995.mode=closed\n"    \
                    "set listener.110.mode=closed\n"

static void client_role_with_the_mock(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD SILENT_MOCK "connect imap 993 plain\nexpect-nothing 100ms\n"
                                            "send \"port {port:imap} {port:imap:993} {port:smtp:587}\"\nclose\n"
                                            "connect imap 143 plain\nexpect-connect refused\n"
                                            "connect pop3 995 plain\nexpect-connect refused\n");
    assert_int_equal(run_go(&r), RUN_PASS);
    const char *t = transcript_of(&r);
    assert_non_null(strstr(t, "conn 1 open 127.0.0.1:"));
    assert_non_null(strstr(t, "conn 2 close connect-refused"));
    /* {port:imap} is the profile's first imap listener, 993; a closed listener has a port
     * too (the mock keeps it bound, not listening: connections are refused) */
    const char *sent = strstr(t, "C: port ");
    assert_non_null(sent);
    int p1 = 0, p2 = -1, p3 = -1;
    assert_int_equal(sscanf(sent, "C: port %d %d %d", &p1, &p2, &p3), 3);
    assert_true(p1 > 0);
    assert_int_equal(p1, p2);
    assert_true(p3 > 0 && p3 != p1);
    /* the mock's view of conn 1 is merged in as its events, not a second copy */
    assert_null(strstr(t, "conn 4 "));
    struct stat sb;
    char path[600];
    snprintf(path, sizeof path, "%s/mock", r.dir);
    assert_int_equal(stat(path, &sb), 0);
    run_done(&r);
}

/* Kill this process's children (the mock) with SIGABRT after a delay, from a thread. */
static void *crash_children(void *arg)
{
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    char path[64], buf[256] = "";
    snprintf(path, sizeof path, "/proc/self/task/%d/children", *(int *)arg);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    }
    for (char *p = strtok(buf, " \n"); p; p = strtok(NULL, " \n"))
        kill((pid_t)atoi(p), SIGABRT);
    return NULL;
}

static void client_role_mock_crash_is_an_error(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, CLIENT_HEAD SILENT_MOCK "connect imap 993 plain\nexpect-nothing 500ms\n");
    int tid = (int)getpid();   /* the main thread's task id */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, crash_children, &tid), 0);
    assert_int_equal(run_go(&r), RUN_ERROR);
    pthread_join(th, NULL);
    assert_non_null(strstr(r.res.message, "the mock died of signal 6"));
    run_done(&r);
}

static void client_role_mock_refuses_profile(void **state)
{
    (void)state;
    run_t r;
    /* a nonexistent profile is an environment error before anything runs */
    run_prepare(&r, "scenario t\nrole client\nprofile nosuchprofile\nconnect imap 993 plain\n");
    assert_int_equal(run_go(&r), RUN_ERROR);
    assert_int_equal(r.res.failed_step, -1);
    assert_non_null(strstr(r.res.message, "profile nosuchprofile"));
    run_done(&r);
}

/* ---- server role ------------------------------------------------------------------------------ */

static void server_scripted_conversation(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, SERVER_HEAD "listen smtp 587 plain\n"
                                "client fake port=587 user={account.email} password={account.password}\n"
                                "send \"220 hi\"\nexpect \"EHLO *\"\nsend \"250 ok\"\n"
                                "expect exact \"QUIT\"\nsend \"221 bye\"\nclose\n"
                                "expect-client exit=0 output=/^done$/\n");
    const char *cl[] = {"R", "S:EHLO me\r\n", "R", "S:QUIT\r\n", "R", "O:done", NULL};
    g_client_actions = cl;
    assert_int_equal(run_go(&r), RUN_PASS);
    assert_int_equal(g_target.provider_port, 587);
    assert_string_equal(g_target_name, "smtp.example.test");
    assert_non_null(strstr(g_target_cafile, "ca.crt"));
    const char *t = transcript_of(&r);
    assert_non_null(strstr(t, "mailrig=server"));
    assert_non_null(strstr(t, "conn 1 C: EHLO me"));
    assert_non_null(strstr(t, "conn 1 S: 221 bye"));
    assert_non_null(strstr(r.res.client_output, "client.out"));
    run_done(&r);
}

static void server_accept_timeout(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, SERVER_HEAD "listen imap 143 plain\naccept timeout=200ms\n");
    int64_t t0 = run_now_ms();
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_true(run_now_ms() - t0 < 1000);
    assert_non_null(strstr(r.res.message, "expected the client to connect"));
    run_done(&r);
}

static void server_expect_client_outcomes(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, SERVER_HEAD "listen smtp 587 plain\nclient fake\nexpect-client exit=0\n");
    const char *cl[] = {"O:oops", "X:3", NULL};
    g_client_actions = cl;
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_string_equal(r.res.message, "expected the client to exit with status 0, got exit status 3");
    run_done(&r);

    run_prepare(&r, SERVER_HEAD "listen smtp 587 plain\nclient fake\nexpect-client exit=3 output=\"yes*\"\n");
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_non_null(strstr(r.res.message, "client's output matching \"yes*\", got none (last line: \"oops\")"));
    run_done(&r);

    run_prepare(&r, SERVER_HEAD "listen smtp 587 plain\nclient fake\nexpect-client exit=nonzero timeout=300ms\n");
    const char *slow[] = {"W:5000", NULL};
    g_client_actions = slow;
    int64_t t0 = run_now_ms();
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_true(run_now_ms() - t0 < 2000);
    assert_non_null(strstr(r.res.message, "did not exit"));
    run_done(&r);

    /* a client still running when the scenario fails is stopped */
    run_prepare(&r, SERVER_HEAD "listen smtp 587 plain\nclient fake\nexpect \"x\" timeout=100ms\n"
                                "expect-client exit=0\n");
    t0 = run_now_ms();
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_true(run_now_ms() - t0 < 2000);
    run_done(&r);

    run_prepare(&r, SERVER_HEAD "listen smtp 587 plain\nclient nosuch\nexpect-client exit=0\n");
    assert_int_equal(run_go(&r), RUN_ERROR);
    assert_string_equal(r.res.message, "client nosuch: no adapter 'nosuch'");
    run_done(&r);
}

static void server_starttls_carry_over(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, SERVER_HEAD "listen smtp 587 plain\nclient fake port=587\n"
                                "send \"220 hi\"\nexpect exact \"STARTTLS\"\nsend \"220 go\"\n"
                                "starttls\nexpect \"EHLO y\"\nsend \"250 ok\"\nexpect-client exit=0\n"
                                "check no-plaintext-after-starttls\n");
    const char *cl[] = {"R", "S:STARTTLS\r\nEHLO x\r\n", "R", "T", "S:EHLO y\r\n", "R", NULL};
    g_client_actions = cl;
    assert_int_equal(run_go(&r), RUN_PASS);
    const char *t = transcript_of(&r);
    assert_non_null(strstr(t, "C: EHLO x"));
    assert_non_null(strstr(t, "event starttls-discarded-plaintext bytes=8"));
    assert_non_null(strstr(t, "tls ok TLS"));
    assert_int_equal(g_check_ctx.role, SC_ROLE_SERVER);
    run_done(&r);
}

static void server_implicit_tls_untrusted(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, SERVER_HEAD "set listener.993.cert=untrusted\n"
                                "listen imap 993 implicit-tls\ntls expect=fail\nclient fake port=993\n"
                                "expect-client exit=nonzero output=/tls failed/\n");
    const char *cl[] = {"T", "S:a1 LOGIN x y\r\n", NULL};
    g_client_actions = cl;
    assert_int_equal(run_go(&r), RUN_PASS);
    assert_non_null(strstr(transcript_of(&r), "tls fail"));
    run_done(&r);

    /* the same with a valid certificate: the handshake works, which was not expected */
    run_prepare(&r, SERVER_HEAD "listen imap 993 implicit-tls\ntls expect=fail\nclient fake port=993\n"
                                "expect-client exit=nonzero\n");
    assert_int_equal(run_go(&r), RUN_FAIL);
    assert_non_null(strstr(r.res.message, "TLS handshake succeeded"));
    run_done(&r);
}

static void server_profile_driven(void **state)
{
    (void)state;
    run_t r;
    run_prepare(&r, SERVER_HEAD SILENT_MOCK "serve imap\nclient fake port=993\nexpect-client exit=0\n"
                                            "check no-credentials-before-tls\n");
    const char *cl[] = {"S:a1 LOGIN alice@example.test alice-password-1\r\n", "W:100", NULL};
    g_client_actions = cl;
    assert_int_equal(run_go(&r), RUN_PASS);
    assert_int_equal(g_target.provider_port, 993);
    const char *t = transcript_of(&r);
    /* the mock's own connection, kept whole under a new id, password redacted by the mock */
    assert_non_null(strstr(t, "conn 1 open "));
    assert_non_null(strstr(t, "peer=127.0.0.1:"));
    assert_null(strstr(t, "mailrig="));
    run_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_send_expect_capture_redaction),
        cmocka_unit_test(client_expect_mismatch),
        cmocka_unit_test(client_expect_timeout),
        cmocka_unit_test(client_total_timeout),
        cmocka_unit_test(client_expect_closed),
        cmocka_unit_test(client_expect_nothing),
        cmocka_unit_test(client_expect_nothing_open),
        cmocka_unit_test(client_connect_outcomes),
        cmocka_unit_test(client_connect_timeout),
        cmocka_unit_test(client_strict_violation),
        cmocka_unit_test(client_expect_reply_imap),
        cmocka_unit_test(client_expect_reply_smtp_not),
        cmocka_unit_test(client_expect_reply_pop3_multiline),
        cmocka_unit_test(client_starttls_injection),
        cmocka_unit_test(client_starttls_and_implicit_tls),
        cmocka_unit_test(client_tls_handshake_timeout),
        cmocka_unit_test(client_reconnect_wait_var),
        cmocka_unit_test(client_checks_judge_the_transcript),
        cmocka_unit_test(client_role_with_the_mock),
        cmocka_unit_test(client_role_mock_crash_is_an_error),
        cmocka_unit_test(client_role_mock_refuses_profile),
        cmocka_unit_test(server_scripted_conversation),
        cmocka_unit_test(server_accept_timeout),
        cmocka_unit_test(server_expect_client_outcomes),
        cmocka_unit_test(server_starttls_carry_over),
        cmocka_unit_test(server_implicit_tls_untrusted),
        cmocka_unit_test(server_profile_driven),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
