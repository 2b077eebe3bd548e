/* run_interp.c -- the scenario interpreter: the walk over the steps, connections, the
 * client-role steps and the steps both roles share (run.h, run_internal.h).
 *
 * The run's transcript. mailrig writes its own connections (client role: its client side;
 * scripted server role: its server side) to one transcript on the run's clock, conn 1, 2, ...
 * in the order they opened; their `open` records carry `mailrig=client` or `mailrig=server`
 * so a reader knows whose bytes are whose. When a mock ran (client role, `serve`), its
 * per-connection transcripts are merged in at the end, in time order, renumbered after
 * mailrig's own ids: a mock connection that is the server side of one of mailrig's own
 * (client role) contributes only its `event` and `note` records, under mailrig's conn id,
 * so that every connection's bytes appear once while what the server decided (auth
 * outcomes, credentials-before-tls...) is kept; other mock connections (a real client's, in
 * `serve`) are kept whole. The mock's clock is aligned with the run's to within the time it
 * takes to bind its listeners (its origin is reported by the child; see run_mock.c).
 */
#include "harness/run_state.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>

#include "harness/run_match.h"
#include "proto/dotstream.h"
#include "proto/imap_parse.h"
#include "proto/pop3.h"
#include "proto/smtp_reply.h"
#include "servers/events.h"
#include "servers/tls.h"

enum { IMAP_TOKENS = 16384, SMTP_LINES = 512, SHOW = 200 };

/* ---- messages --------------------------------------------------------------------------- */

int run_fail(run_state *st, int verdict, const char *fmt, ...)
{
    char raw[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    run_buf red = {0};
    run_vars_redact(&st->v, raw, strlen(raw), &red);
    const char *m = red.p ? red.p : raw;
    size_t mn = strlen(m), cap = sizeof st->res->message;
    if (mn >= cap)
        mn = cap - 1;   /* long messages are cut; they end in the peer's quoted bytes */
    memcpy(st->res->message, m, mn);
    st->res->message[mn] = '\0';
    run_buf_free(&red);
    return verdict;
}

void run_quote(run_state *st, const char *p, size_t n, char *out, size_t cap)
{
    run_buf red = {0};
    run_vars_redact(&st->v, p, n, &red);
    size_t show = red.n > SHOW ? SHOW : red.n;
    char esc[4 * SHOW + 1];
    size_t en = transcript_escape(red.p ? red.p : "", show, esc, sizeof esc - 1);
    if (en >= sizeof esc)
        en = 0;
    esc[en] = '\0';
    snprintf(out, cap, "\"%s\"%s", esc, red.n > SHOW ? "..." : "");
    run_buf_free(&red);
}

int64_t run_deadline(const run_state *st, unsigned ms)
{
    int64_t d = run_now_ms() + (ms ? ms : st->step_timeout_default);
    return d < st->total_deadline ? d : st->total_deadline;
}

int run_fail_timeout(run_state *st, const char *what)
{
    if (run_now_ms() >= st->total_deadline)
        return run_fail(st, RUN_FAIL, "%s: the scenario's total timeout (%ums) ran out", what,
                        st->sc->h.total_timeout_ms);
    return run_fail(st, RUN_FAIL, "%s", what);
}

/* ---- connections and the transcript ----------------------------------------------------- */

static char peer_dir(const run_state *st)
{
    return st->sc->h.role == SC_ROLE_SERVER ? 'C' : 'S';
}

/* Write received bytes to the transcript a line at a time (so a line split over reads is one
 * record); flush writes the rest too. */
static void tr_received(run_state *st, const char *p, size_t n, int flush)
{
    run_iconn *ic = &st->cur;
    run_buf_add(&ic->pending, p, n);
    size_t upto = 0;
    if (flush) {
        upto = ic->pending.n;
    } else {
        for (size_t i = ic->pending.n; i > 0; i--)
            if (ic->pending.p[i - 1] == '\n') {
                upto = i;
                break;
            }
        if (!upto && ic->pending.n >= TRANSCRIPT_SUMMARY_MIN)
            upto = ic->pending.n;
    }
    if (!upto)
        return;
    run_buf red = {0};
    run_vars_redact(&st->v, ic->pending.p, upto, &red);
    transcript_data(st->tr, ic->id, peer_dir(st), red.p ? red.p : "", red.n, 0);
    run_buf_free(&red);
    memmove(ic->pending.p, ic->pending.p + upto, ic->pending.n - upto);
    ic->pending.n -= upto;
}

void run_open_conn(run_state *st, int fd, sc_proto proto, sc_mode mode, unsigned provider_port,
                   int server_side, int listener)
{
    run_iconn *ic = &st->cur;
    memset(ic, 0, sizeof *ic);
    run_conn_init(&ic->c, fd);
    ic->open = 1;
    ic->id = ++st->nconns;
    ic->proto = proto;
    ic->mode = mode;
    ic->provider_port = provider_port;
    ic->listener = listener;
    run_strict_init(&ic->strict, server_side ? SC_PROTO_NONE : proto);
    struct sockaddr_in me = {0}, peer = {0};
    socklen_t ml = sizeof me, pl = sizeof peer;
    int mine = 0, theirs = 0;
    if (getsockname(fd, (struct sockaddr *)&me, &ml) == 0 && me.sin_family == AF_INET)
        mine = ntohs(me.sin_port);
    if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 && peer.sin_family == AF_INET)
        theirs = ntohs(peer.sin_port);
    if (st->nowns < RUN_MAX_CONNS)
        st->owns[st->nowns++] = (run_tr_own){ic->id, server_side ? 0 : mine};
    int port = server_side ? mine : theirs;
    transcript_record(st->tr, ic->id, "open", "127.0.0.1:%d mode=%s proto=%s port=%u peer=127.0.0.1:%d mailrig=%s",
                      port, sc_mode_name(mode), sc_proto_name(proto), provider_port,
                      server_side ? theirs : mine, server_side ? "server" : "client");
}

void run_close_conn(run_state *st, const char *reason)
{
    run_iconn *ic = &st->cur;
    if (!ic->open)
        return;
    tr_received(st, "", 0, 1);
    transcript_record(st->tr, ic->id, "close", "%s", reason);
    run_conn_close(&ic->c);
    run_strict_free(&ic->strict);
    run_buf_free(&ic->pending);
    ic->open = 0;
}

int run_read(run_state *st, int64_t deadline)
{
    const char *got = NULL;
    int r = run_conn_read(&st->cur.c, deadline, &got);
    if (r > 0)
        tr_received(st, got, (size_t)r, 0);
    return r;
}

int run_write(run_state *st, const char *p, size_t n, const char *shown, size_t sn)
{
    transcript_data(st->tr, st->cur.id, st->sc->h.role == SC_ROLE_SERVER ? 'S' : 'C', shown, sn, 0);
    return run_conn_write(&st->cur.c, p, n, run_deadline(st, 0));
}

/* Feed n consumed bytes to the strict checker and drop them from the buffer. */
static int consume(run_state *st, size_t n)
{
    run_iconn *ic = &st->cur;
    int bad = run_strict_feed(&ic->strict, run_conn_data(&ic->c), n);
    run_conn_consume(&ic->c, n);
    if (bad) {
        char d[512];
        run_strict_describe(&ic->strict, d, sizeof d);
        transcript_record(st->tr, ic->id, "note", "%s", d);
        return run_fail(st, RUN_FAIL, "%s", d);
    }
    return STEP_OK;
}

/* A read that must make progress: RUN_IO_OK, or the step's failure in words. */
static int read_more(run_state *st, int64_t deadline, const char *wanted)
{
    int r = run_read(st, deadline);
    if (r > 0)
        return STEP_OK;
    size_t have = run_conn_avail(&st->cur.c);
    char got[1024] = "";
    if (have)
        run_quote(st, run_conn_data(&st->cur.c), have, got, sizeof got);
    switch (r) {
    case RUN_IO_EOF:
        return run_fail(st, RUN_FAIL, "%s, got: connection closed%s%s", wanted,
                        have ? " after " : "", got);
    case RUN_IO_TIMEOUT: {
        char what[2048];
        snprintf(what, sizeof what, "%s, got %s within the step timeout", wanted,
                 have ? got : "nothing");
        return run_fail_timeout(st, what);
    }
    case RUN_IO_FULL:
        return run_fail(st, RUN_FAIL, "%s, got over %u bytes without an end", wanted,
                        RUN_CONN_MAX_BUF);
    default:
        return run_fail(st, RUN_FAIL, "%s, got a read error: %s", wanted, st->cur.c.err);
    }
}

/* Read one line (up to LF): *line, *len without CR LF; *span is what to consume. */
static int read_line(run_state *st, int64_t deadline, const char *wanted, const char **line,
                     size_t *len, size_t *span)
{
    for (;;) {
        const char *p = run_conn_data(&st->cur.c);
        size_t n = run_conn_avail(&st->cur.c);
        const char *lf = n ? memchr(p, '\n', n) : NULL;
        if (lf) {
            *line = p;
            *span = (size_t)(lf - p) + 1;
            *len = *span - 1;
            if (*len && p[*len - 1] == '\r')
                (*len)--;
            return STEP_OK;
        }
        int r = read_more(st, deadline, wanted);
        if (r != STEP_OK)
            return r;
    }
}

/* ---- TLS ---------------------------------------------------------------------------------- */

static int tls_version_of(unsigned v)
{
    return v == 12 ? TLS1_2_VERSION : v == 13 ? TLS1_3_VERSION : 0;
}

/* The host name the client role sends as SNI and verifies: the tls step's sni=, else the
 * profile's host for that listener or protocol. */
static void client_host(run_state *st, const sc_tls *tls, char *out, size_t cap)
{
    if (tls->sni) {
        run_buf b = {0};
        char err[256];
        if (run_vars_expand(&st->v, tls->sni, &b, NULL, err, sizeof err) == 0 && b.p)
            snprintf(out, cap, "%s", b.p);
        else
            snprintf(out, cap, "127.0.0.1");
        run_buf_free(&b);
        return;
    }
    const char *h = NULL;
    if (st->prof) {
        const profile_listener *l = profile_listener_find(st->prof, st->cur.provider_port);
        h = l && l->host ? l->host : NULL;
        if (!h) {
            profile_proto pp = st->cur.proto == SC_PROTO_SMTP   ? PROFILE_SMTP
                               : st->cur.proto == SC_PROTO_POP3 ? PROFILE_POP3
                                                                : PROFILE_IMAP;
            h = profile_service_of(st->prof, pp)->host;
        }
    }
    snprintf(out, cap, "%s", h && *h ? h : "127.0.0.1");
}

/* Judge a finished handshake against the expectation. ok: it succeeded. */
static int judge_tls(run_state *st, const sc_tls *tls, int ok, int rc, const char *desc,
                     int alert, const char *who)
{
    int expect = tls ? tls->expect : SC_TLS_OK;
    if (ok) {
        if (expect == SC_TLS_OK)
            return STEP_OK;
        return run_fail(st, RUN_FAIL, "TLS handshake succeeded (%s) but was expected to %s", desc,
                        expect == SC_TLS_ALERT ? "end in an alert" : "fail");
    }
    run_close_conn(st, "tls-failed");
    if (rc == RUN_IO_TIMEOUT && expect == SC_TLS_OK)
        return run_fail_timeout(st, "TLS handshake did not finish");
    if (expect == SC_TLS_FAIL)
        return STEP_OK;
    if (expect == SC_TLS_ALERT)
        return alert >= 0 ? STEP_OK
                          : run_fail(st, RUN_FAIL, "TLS handshake failed without an alert from the %s: %s",
                                     who, desc);
    return run_fail(st, RUN_FAIL, "TLS handshake failed: %s", desc);
}

/* Client-role handshake on cur. */
static int client_tls(run_state *st, const sc_tls *tls, int64_t deadline)
{
    int verify = !tls || tls->verify != SC_VERIFY_OFF;
    int ver = tls ? tls_version_of(tls->version) : 0;
    tls_client_config cfg = {
        .ca_file = st->v.cafile && *st->v.cafile ? st->v.cafile : NULL,
        .insecure = !verify,
        .min_version = ver,
        .max_version = ver,
    };
    if (verify && !cfg.ca_file)
        return run_fail(st, RUN_ERROR, "TLS: no CA file to verify the server with");
    char err[512], host[512], desc[512];
    SSL_CTX *ctx = tls_client_ctx_new(&cfg, err, sizeof err);
    if (!ctx)
        return run_fail(st, RUN_ERROR, "TLS client context: %s", err);
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);   /* the SSL holds its own reference */
    client_host(st, tls ? tls : &(sc_tls){0}, host, sizeof host);
    if (!ssl || tls_client_set_host(ssl, host, err, sizeof err) != 0) {
        SSL_free(ssl);
        return run_fail(st, RUN_ERROR, "TLS: %s", ssl ? err : "out of memory");
    }
    tr_received(st, "", 0, 1);
    int alert = -1;
    int rc = run_conn_tls(&st->cur.c, ssl, 0, deadline, desc, sizeof desc, &alert);
    if (rc == RUN_IO_OK) {
        tls_describe_session(st->cur.c.ssl, desc, sizeof desc);
        transcript_record(st->tr, st->cur.id, "tls", "ok %s", desc);
    } else {
        transcript_record(st->tr, st->cur.id, "tls", "fail %s", desc);
    }
    return judge_tls(st, tls, rc == RUN_IO_OK, rc, desc, alert, "server");
}

int run_server_tls(run_state *st, const sc_tls *tls, int64_t deadline)
{
    if (run_need_pki(st) != STEP_OK)
        return RUN_ERROR;
    pki_variant var = PKI_VALID;
    const profile_listener *pl =
        st->prof ? profile_listener_find(st->prof, st->cur.provider_port) : NULL;
    if (pl)
        var = pl->cert == PROFILE_CERT_WRONG_HOST  ? PKI_WRONG_HOST
              : pl->cert == PROFILE_CERT_UNTRUSTED ? PKI_UNTRUSTED
              : pl->cert == PROFILE_CERT_EXPIRED   ? PKI_EXPIRED
                                                   : PKI_VALID;
    char err[512], desc[512];
    int ver = tls ? tls_version_of(tls->version) : 0;
    tls_server_config opts = {.min_version = ver, .max_version = ver};
    SSL_CTX *ctx = tls_server_ctx_from_pki(st->pki, st->prof ? st->prof->name : NULL, var, &opts,
                                           err, sizeof err);
    if (!ctx)
        return run_fail(st, RUN_ERROR, "TLS server context: %s", err);
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    if (!ssl)
        return run_fail(st, RUN_ERROR, "TLS: out of memory");
    tr_received(st, "", 0, 1);
    int alert = -1;
    int rc = run_conn_tls(&st->cur.c, ssl, 1, deadline, desc, sizeof desc, &alert);
    if (rc == RUN_IO_OK) {
        tls_describe_session(st->cur.c.ssl, desc, sizeof desc);
        transcript_record(st->tr, st->cur.id, "tls", "ok %s", desc);
    } else {
        transcript_record(st->tr, st->cur.id, "tls", "fail %s", desc);
    }
    int r = judge_tls(st, tls, rc == RUN_IO_OK, rc, desc, alert, "client");
    if (r == STEP_OK && rc == RUN_IO_OK && tls && tls->sni) {
        run_buf want = {0};
        run_vars_expand(&st->v, tls->sni, &want, NULL, err, sizeof err);
        const char *got = SSL_get_servername(st->cur.c.ssl, TLSEXT_NAMETYPE_host_name);
        if (!got || !want.p || strcmp(got, want.p) != 0)
            r = run_fail(st, RUN_FAIL, "the client sent SNI %s%s%s, expected %s", got ? "\"" : "",
                         got ? got : "none", got ? "\"" : "", want.p ? want.p : "?");
        run_buf_free(&want);
    }
    return r;
}

/* ---- steps: connecting --------------------------------------------------------------------- */

/* A loopback port where connections are refused: bound, never listening. */
static int closed_port(run_state *st)
{
    if (st->closed_fd >= 0)
        return st->closed_port;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    st->closed_fd = fd;
    st->closed_port = ntohs(sa.sin_port);
    return st->closed_port;
}

static const char *outcome_name(int o)
{
    return o == SC_CONNECT_OK ? "ok" : o == SC_CONNECT_REFUSED ? "refused" : "timeout";
}

static int step_connect(run_state *st, const sc_step *s)
{
    const sc_connect *c = &s->u.connect;
    if (st->cur.open)
        run_close_conn(st, "replaced");
    unsigned pport = c->port ? c->port : sc_default_port(c->proto, c->mode);
    int64_t deadline = run_deadline(st, s->timeout_ms);
    int fd = -1, rc, got;
    char err[512] = "";
    if (st->deps->connect) {
        rc = st->deps->connect(st->deps->ctx, c->proto, pport, &fd) == 0 ? RUN_IO_OK : RUN_CONN_REFUSED;
    } else {
        int local = run_vars_port(&st->v, c->proto, pport);
        rc = run_conn_connect(local > 0 ? local : closed_port(st), deadline, &fd, err, sizeof err);
    }
    if (rc == RUN_IO_ERROR)
        return run_fail(st, RUN_ERROR, "%s", err);
    got = rc == RUN_IO_OK ? SC_CONNECT_OK : rc == RUN_CONN_REFUSED ? SC_CONNECT_REFUSED : SC_CONNECT_TIMEOUT;
    if (got != SC_CONNECT_OK) {
        unsigned id = ++st->nconns;
        transcript_record(st->tr, id, "open", "127.0.0.1 mode=%s proto=%s port=%u mailrig=client",
                          sc_mode_name(c->mode), sc_proto_name(c->proto), pport);
        transcript_record(st->tr, id, "close", "connect-%s", outcome_name(got));
    }
    if (got != (int)c->outcome) {
        if (fd >= 0)
            close(fd);
        return run_fail(st, RUN_FAIL, "connect %s %u: expected %s, got %s", sc_proto_name(c->proto),
                        pport, outcome_name(c->outcome),
                        got == SC_CONNECT_OK ? "a connection" : got == SC_CONNECT_REFUSED
                                                                    ? "connection refused"
                                                                    : "no answer (timeout)");
    }
    if (got != SC_CONNECT_OK)
        return STEP_OK;
    run_open_conn(st, fd, c->proto, c->mode, pport, 0, -1);
    if (c->mode == SC_MODE_IMPLICIT_TLS)
        return client_tls(st, &c->tls, deadline);
    return STEP_OK;
}

/* Server role: the first step needing a connection accepts one implicitly. */
static int need_conn(run_state *st, const sc_step *s)
{
    if (st->cur.open)
        return STEP_OK;
    if (st->sc->h.role == SC_ROLE_SERVER)
        return run_accept(st, 0, run_deadline(st, s->timeout_ms));
    return run_fail(st, RUN_FAIL, "no open connection (it was closed earlier)");
}

/* ---- steps: data ---------------------------------------------------------------------------- */

static int step_send(run_state *st, const sc_step *s)
{
    int raw = s->kind == SC_SEND_RAW;
    run_buf out = {0}, shown = {0}, line = {0};
    char err[512];
    int r = STEP_OK;
    for (size_t i = 0; i < s->u.send.n && r == STEP_OK; i++) {
        size_t from = out.n;
        if (run_vars_expand(&st->v, &s->u.send.lines[i], &out, &shown, err, sizeof err) != 0) {
            r = run_fail(st, RUN_ERROR, "%s", err);
            break;
        }
        if (!raw) {
            /* Tell the strict checker which command went out (POP3 multi-line answers). */
            run_strict_sent(&st->cur.strict, out.p + from, out.n - from);
            run_buf_add(&out, "\r\n", 2);
            run_buf_add(&shown, "\r\n", 2);
        }
    }
    if (r == STEP_OK && raw && out.n) {
        /* Raw bytes: the checker sees each complete line they hold. */
        size_t start = 0;
        for (size_t i = 0; i < out.n; i++)
            if (out.p[i] == '\n') {
                size_t e = i && out.p[i - 1] == '\r' ? i - 1 : i;
                run_strict_sent(&st->cur.strict, out.p + start, e - start);
                start = i + 1;
            }
    }
    if (r == STEP_OK && (out.oom || shown.oom))
        r = run_fail(st, RUN_ERROR, "out of memory");
    if (r == STEP_OK) {
        int w = run_write(st, out.p ? out.p : "", out.n, shown.p ? shown.p : "", shown.n);
        if (w == RUN_IO_TIMEOUT)
            r = run_fail_timeout(st, "send: the peer does not read");
        else if (w == RUN_IO_EOF)
            r = run_fail(st, RUN_FAIL, "send: the connection is closed");
        else if (w != RUN_IO_OK)
            r = run_fail(st, RUN_FAIL, "send: %s", st->cur.c.err);
    }
    run_buf_free(&out);
    run_buf_free(&shown);
    run_buf_free(&line);
    return r;
}

static int compile_all(run_state *st, const sc_pattern *pats, size_t n, run_pat *rp)
{
    char err[512];
    for (size_t i = 0; i < n; i++)
        if (run_pat_compile(&st->v, &pats[i], &rp[i], err, sizeof err) != 0) {
            while (i--)
                run_pat_free(&rp[i]);
            return run_fail(st, RUN_ERROR, "%s", err);
        }
    return STEP_OK;
}

static void free_all(run_pat *rp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_pat_free(&rp[i]);
    free(rp);
}

static int step_expect(run_state *st, const sc_step *s)
{
    size_t n = s->u.expect.n;
    run_pat *rp = calloc(n ? n : 1, sizeof *rp);
    if (!rp)
        return run_fail(st, RUN_ERROR, "out of memory");
    int r = compile_all(st, s->u.expect.pats, n, rp);
    if (r != STEP_OK) {
        free(rp);
        return r;
    }
    int64_t deadline = run_deadline(st, s->timeout_ms);
    run_buf cap = {0};
    char err[512];
    for (size_t i = 0; i < n && r == STEP_OK; i++) {
        const char *line;
        size_t len, span;
        char wanted[600];
        snprintf(wanted, sizeof wanted, "expected \"%s\"", rp[i].shown);
        if ((r = read_line(st, deadline, wanted, &line, &len, &span)) != STEP_OK)
            break;
        int m = run_pat_match(&rp[i], &st->v, line, len, err, sizeof err);
        if (m < 0) {
            r = run_fail(st, RUN_ERROR, "%s", err);
            break;
        }
        if (!m) {
            char got[1024];
            run_quote(st, line, len, got, sizeof got);
            r = run_fail(st, RUN_FAIL, "expected \"%s\", got %s", rp[i].shown, got);
            run_conn_consume(&st->cur.c, span);
            break;
        }
        if (i)
            run_buf_add(&cap, "\r\n", 2);
        run_buf_add(&cap, line, len);
        r = consume(st, span);
    }
    if (r == STEP_OK && s->u.expect.capture >= 0)
        run_vars_set(&st->v, (unsigned)s->u.expect.capture, cap.p ? cap.p : "", cap.n, 0);
    run_buf_free(&cap);
    free_all(rp, n);
    return r;
}

/* ---- expect-reply: one whole response per protocol --------------------------------------- */

/* The lines of a response (without line ends), for the patterns. */
typedef struct reply_lines {
    const char **p;
    size_t *n;
    size_t count, cap;
} reply_lines;

static void lines_add(reply_lines *L, const char *p, size_t n)
{
    if (L->count == L->cap) {
        size_t nc = L->cap ? L->cap * 2 : 16;
        const char **np = realloc(L->p, nc * sizeof *np);
        size_t *nn = np ? realloc(L->n, nc * sizeof *nn) : NULL;
        if (np)
            L->p = np;
        if (!nn)
            return;
        L->n = nn;
        L->cap = nc;
    }
    L->p[L->count] = p;
    L->n[L->count++] = n;
}

/* Split p[0..n) into lines at LF (a CR before it dropped). */
static void lines_split(reply_lines *L, const char *p, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\n') {
            size_t e = i > start && p[i - 1] == '\r' ? i - 1 : i;
            lines_add(L, p + start, e - start);
            start = i + 1;
        }
    if (start < n)
        lines_add(L, p + start, n - start);
}

/* Frame one response at the front of the buffer, reading as needed: *span bytes. The framing
 * is lenient (what deployed clients accept); strictness is the checker's job. */
typedef int (*frame_fn)(run_state *st, const char *p, size_t n, void *out, mr_error *e);

static int frame_smtp(run_state *st, const char *p, size_t n, void *out, mr_error *e)
{
    (void)st;
    smtp_reply_line *lines = malloc(SMTP_LINES * sizeof *lines);
    if (!lines)
        return MR_ERROR;
    smtp_reply rep;
    smtp_reply_init(&rep, lines, SMTP_LINES);
    int r = smtp_reply_parse(p, n, MR_LENIENT, NULL, &rep, e);
    if (r > 0)
        *(unsigned *)out = rep.code;
    free(lines);
    return r;
}

static int frame_imap(run_state *st, const char *p, size_t n, void *out, mr_error *e)
{
    if (!st->imap_tok && !(st->imap_tok = malloc(IMAP_TOKENS * sizeof(imap_token))))
        return MR_ERROR;
    imap_limits lim = run_imap_limits(MR_LENIENT);
    return imap_response_next(p, n, &lim, out, st->imap_tok, IMAP_TOKENS, e);
}

static int frame_pop3(run_state *st, const char *p, size_t n, void *out, mr_error *e)
{
    (void)st;
    return pop3_response_parse(p, n, MR_LENIENT, NULL, out, e);
}

static int frame_dotline(run_state *st, const char *p, size_t n, void *out, mr_error *e)
{
    (void)st;
    mr_slice line;
    int r = dot_line_next(p, n, 65536, MR_LENIENT, NULL, &line, out, e);
    return r;
}

/* Frame the next item starting at offset `at` of the buffer; *len its length. */
static int next_item(run_state *st, frame_fn fn, size_t at, int64_t deadline, const char *wanted,
                     void *out, size_t *len)
{
    for (;;) {
        const char *p = run_conn_data(&st->cur.c) + at;
        size_t n = run_conn_avail(&st->cur.c) - at;
        mr_error e = {0};
        int r = n ? fn(st, p, n, out, &e) : MR_NEED_MORE;
        if (r > 0) {
            *len = (size_t)r;
            return STEP_OK;
        }
        if (r == MR_ERROR) {
            char got[1024];
            run_quote(st, p, n, got, sizeof got);
            return run_fail(st, RUN_FAIL, "%s, got a malformed response (%s, rule %s, at byte %zu): %s",
                            wanted, mr_errcode_str(e.code), e.rule ? e.rule : "?", e.offset, got);
        }
        int m = read_more(st, deadline, wanted);
        if (m != STEP_OK)
            return m;
    }
}

static int smtp_code_match(const char *want, unsigned code)
{
    char got[8];
    snprintf(got, sizeof got, "%03u", code);
    for (int i = 0; i < 3; i++)
        if (want[i] != 'x' && want[i] != got[i])
            return 0;
    return 1;
}

static int read_smtp(run_state *st, const sc_reply *rp, int64_t deadline, const char *wanted,
                     size_t *span, const char **bad)
{
    unsigned code = 0;
    int r = next_item(st, frame_smtp, 0, deadline, wanted, &code, span);
    if (r == STEP_OK && !smtp_code_match(rp->smtp_code, code))
        *bad = "status";
    return r;
}

static int imap_status_is(const imap_response *ir, const char *status)
{
    static const char *const names[] = {"", "OK", "NO", "BAD", "PREAUTH", "BYE"};
    return ir->type == IMAP_R_COND && ir->status < 6 && strcasecmp(names[ir->status], status) == 0;
}

static int read_imap(run_state *st, const sc_reply *rp, int64_t deadline, const char *wanted,
                     size_t *span, const char **bad)
{
    size_t at = 0;
    for (;;) {
        imap_response ir;
        size_t len;
        int r = next_item(st, frame_imap, at, deadline, wanted, &ir, &len);
        if (r != STEP_OK)
            return r;
        at += len;
        if (strcmp(rp->imap_tag, "+") == 0 || strcmp(rp->imap_tag, "*") == 0) {
            int want_cont = rp->imap_tag[0] == '+';
            if (want_cont ? ir.kind != IMAP_KIND_CONTINUATION
                          : ir.kind != IMAP_KIND_UNTAGGED || !imap_status_is(&ir, rp->status))
                *bad = "status";
            *span = at;
            return STEP_OK;
        }
        if (ir.kind != IMAP_KIND_TAGGED)
            continue;   /* untagged data and continuations before the tagged answer */
        *span = at;
        if (!mr_slice_eq(ir.tag, rp->imap_tag))
            *bad = "tag";
        else if (!imap_status_is(&ir, rp->status))
            *bad = "status";
        return STEP_OK;
    }
}

static int read_pop3(run_state *st, const sc_reply *rp, int64_t deadline, const char *wanted,
                     size_t *span, const char **bad)
{
    pop3_response pr;
    size_t len;
    int r = next_item(st, frame_pop3, 0, deadline, wanted, &pr, &len);
    if (r != STEP_OK)
        return r;
    pop3_status want = strcmp(rp->status, "+OK") == 0    ? POP3_OK
                       : strcmp(rp->status, "-ERR") == 0 ? POP3_ERR
                                                         : POP3_CONT;
    *span = len;
    if (pr.status != want) {
        *bad = "status";
        return STEP_OK;
    }
    if (!rp->multiline)
        return STEP_OK;
    for (;;) {
        int end = 0;
        if ((r = next_item(st, frame_dotline, *span, deadline, wanted, &end, &len)) != STEP_OK)
            return r;
        *span += len;
        if (end)
            return STEP_OK;
    }
}

static void reply_wanted(const sc_reply *rp, char *out, size_t cap)
{
    if (rp->proto == SC_PROTO_SMTP)
        snprintf(out, cap, "expected a %s reply", rp->smtp_code);
    else if (rp->proto == SC_PROTO_IMAP)
        snprintf(out, cap, "expected %s%s%s", rp->imap_tag, rp->status ? " " : "",
                 rp->status ? rp->status : "");
    else
        snprintf(out, cap, "expected %s%s", rp->status, rp->multiline ? " multiline" : "");
}

/* Check the patterns against the response's lines. */
static int reply_patterns(run_state *st, const sc_step *s, run_pat *rp, const reply_lines *L,
                          const char *wanted)
{
    char err[512];
    for (size_t i = 0; i < s->u.expect_reply.n; i++) {
        int found = 0;
        for (size_t k = 0; k < L->count && !found; k++) {
            int m = run_pat_match(&rp[i], &st->v, L->p[k], L->n[k], err, sizeof err);
            if (m < 0)
                return run_fail(st, RUN_ERROR, "%s", err);
            if (m && rp[i].negate) {
                char got[1024];
                run_quote(st, L->p[k], L->n[k], got, sizeof got);
                return run_fail(st, RUN_FAIL, "%s not matching \"%s\", got %s", wanted,
                                rp[i].shown, got);
            }
            found = m;
        }
        if (!found && !rp[i].negate) {
            char got[1024];
            run_quote(st, L->count ? L->p[0] : "", L->count ? L->n[0] : 0, got, sizeof got);
            return run_fail(st, RUN_FAIL, "%s with a line matching \"%s\", got %s%s", wanted,
                            rp[i].shown, got, L->count > 1 ? " (and more lines, none matching)" : "");
        }
    }
    return STEP_OK;
}

static int step_expect_reply(run_state *st, const sc_step *s)
{
    const sc_reply *rp = &s->u.expect_reply.reply;
    size_t n = s->u.expect_reply.n;
    run_pat *pats = calloc(n ? n : 1, sizeof *pats);
    if (!pats)
        return run_fail(st, RUN_ERROR, "out of memory");
    int r = compile_all(st, s->u.expect_reply.pats, n, pats);
    if (r != STEP_OK) {
        free(pats);
        return r;
    }
    char wanted[256];
    reply_wanted(rp, wanted, sizeof wanted);
    int64_t deadline = run_deadline(st, s->timeout_ms);
    size_t span = 0;
    const char *bad = NULL;
    sc_proto proto = st->cur.proto;
    r = proto == SC_PROTO_SMTP   ? read_smtp(st, rp, deadline, wanted, &span, &bad)
        : proto == SC_PROTO_IMAP ? read_imap(st, rp, deadline, wanted, &span, &bad)
                                 : read_pop3(st, rp, deadline, wanted, &span, &bad);
    reply_lines L = {0};
    if (r == STEP_OK) {
        lines_split(&L, run_conn_data(&st->cur.c), span);
        if (bad) {
            char got[1024];
            size_t last = L.count ? L.count - 1 : 0;
            run_quote(st, L.count ? L.p[last] : "", L.count ? L.n[last] : 0, got, sizeof got);
            r = run_fail(st, RUN_FAIL, "%s, got %s", wanted, got);
        } else {
            r = reply_patterns(st, s, pats, &L, wanted);
        }
        if (r == STEP_OK && s->u.expect_reply.capture >= 0) {
            run_buf cap = {0};
            for (size_t k = 0; k < L.count; k++) {
                if (k)
                    run_buf_add(&cap, "\r\n", 2);
                run_buf_add(&cap, L.p[k], L.n[k]);
            }
            run_vars_set(&st->v, (unsigned)s->u.expect_reply.capture, cap.p ? cap.p : "", cap.n, 0);
            run_buf_free(&cap);
        }
        int c = consume(st, span);   /* a strictness violation fails even a matching step */
        if (r == STEP_OK)
            r = c;
    }
    free(L.p);
    free(L.n);
    free_all(pats, n);
    return r;
}

/* ---- expect-nothing, expect-closed, starttls, close, wait, var ----------------------------- */

static int step_expect_nothing(run_state *st, const sc_step *s)
{
    int64_t until = run_now_ms() + s->u.duration.ms;
    int64_t deadline = until < st->total_deadline ? until : st->total_deadline;
    int r = run_conn_avail(&st->cur.c) ? 1 : run_read(st, deadline);
    if (r > 0) {
        char got[1024];
        run_quote(st, run_conn_data(&st->cur.c), run_conn_avail(&st->cur.c), got, sizeof got);
        return run_fail(st, RUN_FAIL, "expected nothing for %ums, got %s", s->u.duration.ms, got);
    }
    if (r == RUN_IO_TIMEOUT && deadline < until)
        return run_fail_timeout(st, "expect-nothing");   /* the total timeout cut it short */
    if (r == RUN_IO_ERROR)
        return run_fail(st, RUN_FAIL, "expect-nothing: %s", st->cur.c.err);
    if (r == RUN_IO_EOF && s->u.duration.open)
        return run_fail(st, RUN_FAIL, "expected nothing for %ums on an open connection, but the "
                                      "peer %s it", s->u.duration.ms,
                        st->cur.c.reset ? "reset" : "closed");
    return STEP_OK;   /* silence, or the peer closed: either way nothing arrived */
}

static int step_expect_closed(run_state *st, const sc_step *s)
{
    int64_t deadline = run_deadline(st, s->timeout_ms);
    for (;;) {
        if (run_conn_avail(&st->cur.c)) {
            char got[1024];
            run_quote(st, run_conn_data(&st->cur.c), run_conn_avail(&st->cur.c), got, sizeof got);
            return run_fail(st, RUN_FAIL, "expected the connection to close, got %s", got);
        }
        int r = run_read(st, deadline);
        if (r > 0)
            continue;
        if (r == RUN_IO_EOF) {
            run_close_conn(st, st->cur.c.reset ? "peer-reset" : "peer-closed");
            return STEP_OK;
        }
        if (r == RUN_IO_TIMEOUT)
            return run_fail_timeout(st, "expected the connection to close, but it stayed open");
        return run_fail(st, RUN_FAIL, "expect-closed: %s", st->cur.c.err);
    }
}

static int step_starttls(run_state *st, const sc_step *s)
{
    int64_t deadline = run_deadline(st, s->timeout_ms);
    const sc_tls *tls = &s->u.starttls.tls;
    if (st->sc->h.role == SC_ROLE_SERVER) {
        /* What the client pipelined after STARTTLS is thrown away, as a careful server does;
         * the transcript keeps it and says so (the check no-plaintext-after-starttls). */
        size_t left = run_conn_avail(&st->cur.c);
        if (left) {
            transcript_record(st->tr, st->cur.id, "event", EV_STARTTLS_DISCARDED " bytes=%zu", left);
            run_conn_consume(&st->cur.c, left);
        }
        return run_server_tls(st, tls, deadline);
    }
    /* Client role: anything the server sent after its STARTTLS reply, before the handshake,
     * is the response-injection class (CVE-2021-22947, CVE-2020-15953). */
    run_read(st, run_now_ms());
    size_t left = run_conn_avail(&st->cur.c);
    if (left) {
        char got[1024];
        run_quote(st, run_conn_data(&st->cur.c), left, got, sizeof got);
        transcript_record(st->tr, st->cur.id, "event", EV_STARTTLS_INJECTED " bytes=%zu", left);
        return run_fail(st, RUN_FAIL,
                        "STARTTLS response injection: the server sent %zu bytes after its STARTTLS "
                        "reply and before the TLS handshake (the CVE-2021-22947 / CVE-2020-15953 "
                        "class): %s",
                        left, got);
    }
    return client_tls(st, tls, deadline);
}

static int step_wait(run_state *st, const sc_step *s)
{
    int64_t until = run_now_ms() + s->u.duration.ms;
    int64_t end = until < st->total_deadline ? until : st->total_deadline;
    for (int64_t now = run_now_ms(); now < end; now = run_now_ms()) {
        int64_t left = end - now;
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (end < until)
        return run_fail_timeout(st, "wait");
    return STEP_OK;
}

static int step_var(run_state *st, const sc_step *s)
{
    run_buf val = {0};
    char err[512];
    int r = STEP_OK;
    if (run_vars_expand(&st->v, &s->u.var.value, &val, NULL, err, sizeof err) != 0)
        r = run_fail(st, RUN_ERROR, "%s", err);
    else if (run_vars_set(&st->v, s->u.var.slot, val.p ? val.p : "", val.n,
                          s->u.var.value.secret || st->sc->vars[s->u.var.slot].secret) != 0)
        r = run_fail(st, RUN_ERROR, "out of memory");
    run_buf_free(&val);
    return r;
}

/* ---- the walk -------------------------------------------------------------------------------- */

static int needs_conn(sc_step_kind k)
{
    return k == SC_SEND || k == SC_SEND_RAW || k == SC_EXPECT || k == SC_EXPECT_REPLY ||
           k == SC_EXPECT_NOTHING || k == SC_EXPECT_CLOSED || k == SC_STARTTLS;
}

static int run_step(run_state *st, const sc_step *s)
{
    if (needs_conn(s->kind)) {
        int r = need_conn(st, s);
        if (r != STEP_OK)
            return r;
    }
    switch (s->kind) {
    case SC_CONNECT: return step_connect(st, s);
    case SC_LISTEN: return run_step_listen(st, s);
    case SC_SERVE: return run_step_serve(st, s);
    case SC_ACCEPT: return run_accept(st, s->u.accept.port, run_deadline(st, s->timeout_ms));
    case SC_CLIENT: return run_step_client(st, s);
    case SC_EXPECT_CLIENT: return run_step_expect_client(st, s);
    case SC_SEND:
    case SC_SEND_RAW: return step_send(st, s);
    case SC_EXPECT: return step_expect(st, s);
    case SC_EXPECT_REPLY: return step_expect_reply(st, s);
    case SC_EXPECT_NOTHING: return step_expect_nothing(st, s);
    case SC_EXPECT_CLOSED: return step_expect_closed(st, s);
    case SC_STARTTLS: return step_starttls(st, s);
    case SC_CLOSE:
        run_close_conn(st, "closed-by-mailrig");
        return STEP_OK;
    case SC_WAIT: return step_wait(st, s);
    case SC_VAR: return step_var(st, s);
    default: return STEP_OK;   /* tls, expect-connect: folded into their step; check: at the end */
    }
}

static void trace(run_state *st, const sc_step *s, int r, int64_t t0)
{
    FILE *f = st->env->verbose;
    if (!f)
        return;
    const char *text = s->loc.text ? s->loc.text : sc_step_name(s->kind);
    size_t tn = s->loc.text ? s->loc.text_n : strlen(text);
    while (tn && (*text == ' ' || *text == '\t'))
        text++, tn--;
    fprintf(f, "%s:%u: %.*s%s -> %s (%lldms)", s->loc.file ? s->loc.file : "?", s->loc.line,
            (int)(tn > 100 ? 100 : tn), text, tn > 100 ? "..." : "",
            r == STEP_OK ? "ok" : r == RUN_FAIL ? "FAIL" : "ERROR", (long long)(run_now_ms() - t0));
    if (r != STEP_OK)
        fprintf(f, ": %s", st->res->message);
    fputc('\n', f);
    fflush(f);
}

static const char *profile_arg(const run_state *st)
{
    const sc_header *h = &st->sc->h;
    return h->profile_path ? h->profile_path : h->profile ? h->profile : st->env->profile;
}

/* Load the scenario's profile with its `set` lines plus extra overrides. */
profile *run_load_profile(run_state *st, const char *const *extra, size_t nextra)
{
    const sc_header *h = &st->sc->h;
    const char *arg = profile_arg(st);
    if (!arg)
        return NULL;
    size_t n = h->nsets + nextra;
    char **sets = calloc(n ? n : 1, sizeof *sets);
    if (!sets)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < h->nsets; i++) {
        size_t len = strlen(h->sets[i].key) + strlen(h->sets[i].value) + 2;
        if ((sets[k] = malloc(len)))
            snprintf(sets[k++], len, "%s=%s", h->sets[i].key, h->sets[i].value);
    }
    for (size_t i = 0; i < nextra; i++)
        if ((sets[k] = strdup(extra[i])))
            k++;
    profile_opts opts = {.sets = (const char *const *)sets, .n_sets = k};
    profile_diag d = {0};
    profile *p = profile_load(arg, &opts, &d);
    if (!p) {
        char msg[900] = "";
        for (size_t i = 0; i < d.n && strlen(msg) < 600; i++)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s%s", i ? "; " : "", d.msg[i]);
        run_fail(st, RUN_ERROR, "profile %s: %s", arg, msg);
    }
    profile_diag_free(&d);
    for (size_t i = 0; i < k; i++)
        free(sets[i]);
    free(sets);
    return p;
}

static int setup(run_state *st)
{
    const sc_scenario *sc = st->sc;
    char err[512];
    if (sc->h.role == SC_ROLE_CLIENT && !st->deps->profile && !profile_arg(st) &&
        !st->env->external)
        return run_fail(st, RUN_ERROR, "no profile: the scenario names none and none was given");
    if (st->deps->profile) {
        st->prof = st->deps->profile;
    } else if (profile_arg(st)) {
        if (!(st->owned_profile = run_load_profile(st, NULL, 0)))
            return RUN_ERROR;
        st->prof = st->owned_profile;
    }
    if (run_vars_init(&st->v, sc, st->prof, sc->h.account, err, sizeof err) != 0)
        return run_fail(st, RUN_ERROR, "%s", err);
    st->v.external = st->env->external;
    st->v.port_base = st->env->port_base;
    snprintf(st->own_path, sizeof st->own_path, "%s/mailrig.tr", st->env->work_dir);
    /* "e": close-on-exec, so a client under test started later does not inherit it */
    if (!(st->trf = fopen(st->own_path, "we")) || !(st->tr = transcript_new(st->trf, 1, st->t0)))
        return run_fail(st, RUN_ERROR, "transcript %s: %s", st->own_path, strerror(errno));
    if (sc->h.role == SC_ROLE_CLIENT && !st->deps->connect) {
        if (st->env->external) {
            if (run_need_pki(st) == STEP_OK)
                st->v.cafile = st->pki->ca_cert;
            st->res->message[0] = '\0';   /* no CA is fine for a server with its own */
        } else {
            /* Only the protocols the scenario connects to listen: one that needs IMAP runs
             * in a build (or with a profile) whose SMTP the mock cannot serve. */
            unsigned mask = 0;
            for (size_t i = 0; i < sc->nsteps; i++)
                if (sc->steps[i].kind == SC_CONNECT)
                    mask |= 1u << sc->steps[i].u.connect.proto;
            if (run_start_mock_for(st, mask) != STEP_OK)
                return RUN_ERROR;
        }
    }
    return STEP_OK;
}

/* Evaluate every check step on the merged transcript. Returns 1 when all passed. */
static int run_checks(run_state *st, const char *text, size_t n)
{
    const sc_scenario *sc = st->sc;
    size_t count = 0;
    for (size_t i = 0; i < sc->nsteps; i++)
        count += sc->steps[i].kind == SC_CHECK;
    if (!count)
        return 1;
    run_result *res = st->res;
    if (!(res->checks = calloc(count, sizeof *res->checks)))
        return 0;
    check_ctx ctx = {.role = sc->h.role, .profile = st->prof ? st->prof->name : NULL};
    if (st->prof)
        for (int p = PROFILE_IMAP; p < PROFILE_PROTO_COUNT; p++) {
            const profile_service *svc = profile_service_of(st->prof, (profile_proto)p);
            sc_proto sp = p == PROFILE_SMTP ? SC_PROTO_SMTP : p == PROFILE_POP3 ? SC_PROTO_POP3 : SC_PROTO_IMAP;
            if (svc && svc->username.n)
                ctx.username_form[sp] = profile_uform_name((profile_uform)svc->username.v[0]);
        }
    int all = 1;
    for (size_t i = 0; i < sc->nsteps; i++) {
        const sc_step *s = &sc->steps[i];
        if (s->kind != SC_CHECK)
            continue;
        run_check *c = &res->checks[res->nchecks++];
        c->id = s->u.check.id;
        c->loc = s->loc;
        if (!st->deps->check_eval) {
            snprintf(c->reason, sizeof c->reason, "checks are not available in this build");
        } else {
            char reason[512] = "";
            c->passed = st->deps->check_eval((sc_check_id)c->id, s->u.check.params,
                                             s->u.check.nparams, &ctx, text, n, reason,
                                             sizeof reason) == 1;
            run_buf red = {0};
            run_vars_redact(&st->v, reason, strlen(reason), &red);
            snprintf(c->reason, sizeof c->reason, "%s", red.p ? red.p : "");
            run_buf_free(&red);
        }
        all &= c->passed;
        if (st->env->verbose)
            fprintf(st->env->verbose, "%s:%u: check %s -> %s: %s\n", s->loc.file ? s->loc.file : "?",
                    s->loc.line, sc_checks[c->id].name, c->passed ? "pass" : "FAIL", c->reason);
    }
    return all;
}

/* Stop everything, build the transcript, run the checks. */
static void finish(run_state *st)
{
    run_result *res = st->res;
    if (st->cur.open)
        run_close_conn(st, "end-of-scenario");
    run_server_cleanup(st);
    double offset = 0;
    int had_mock = st->mock.pid > 0 || st->mock_running;
    if (had_mock) {
        offset = st->mock.t0 - st->t0;
        int status = run_mock_stop(&st->mock);
        st->mock_running = 0;
        /* A mock that crashed (a sanitizer report, a signal) or had to be killed makes the
         * verdict meaningless: that is the environment's failure, not the peer's. */
        if (status != 0 && res->verdict != RUN_ERROR) {
            char what[64];
            if (status < 0)
                snprintf(what, sizeof what, "did not stop and was killed");
            else if (WIFSIGNALED(status))
                snprintf(what, sizeof what, "died of signal %d", WTERMSIG(status));
            else
                snprintf(what, sizeof what, "exited with status %d", WEXITSTATUS(status));
            run_fail(st, RUN_ERROR, "the mock %s (see %s/mock.log)%s%s", what, st->env->work_dir,
                     res->verdict == RUN_FAIL ? "; the step had failed with: " : "",
                     res->verdict == RUN_FAIL ? res->message : "");
            res->verdict = RUN_ERROR;
        }
    }
    if (st->tr)
        transcript_free(st->tr);   /* closes the file */
    st->tr = NULL;
    st->trf = NULL;
    snprintf(res->transcript, sizeof res->transcript, "%s/transcript.log", st->env->work_dir);
    char err[512];
    if (st->own_path[0] &&
        run_tr_merge(st->own_path, had_mock ? st->mock.transcript_dir : NULL, offset, st->owns,
                     st->nowns, st->nconns + 1, res->transcript, err, sizeof err) != 0) {
        if (res->verdict == RUN_PASS) {
            res->verdict = RUN_ERROR;
            run_fail(st, RUN_ERROR, "%s", err);
        }
        return;
    }
    if (st->own_path[0])
        unlink(st->own_path);
    size_t n = 0;
    FILE *f = fopen(res->transcript, "rb");
    char *text = NULL;
    if (f) {
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (sz >= 0 && (text = malloc((size_t)sz + 1)))
            n = fread(text, 1, (size_t)sz, f);
        fclose(f);
    }
    if (text)
        text[n] = '\0';
    int all = run_checks(st, text ? text : "", n);
    free(text);
    if (res->verdict == RUN_PASS && !all) {
        res->verdict = RUN_FAIL;
        for (size_t i = 0; i < res->nchecks; i++)
            if (!res->checks[i].passed) {
                snprintf(res->message, sizeof res->message, "check %s failed: %s",
                         sc_checks[res->checks[i].id].name, res->checks[i].reason);
                break;
            }
    }
}

/* A peer that closes while we write must not kill the process: OpenSSL writes to the socket
 * without MSG_NOSIGNAL. Only a default disposition is changed (a caller's handler stays). */
static void ignore_sigpipe(void)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
}

run_verdict run_scenario_with(const sc_scenario *sc, const run_env *env, const run_deps *deps,
                              run_result *res)
{
    ignore_sigpipe();
    memset(res, 0, sizeof *res);
    res->failed_step = -1;
    run_state *st = calloc(1, sizeof *st);
    if (!st) {
        res->verdict = RUN_ERROR;
        snprintf(res->message, sizeof res->message, "out of memory");
        return RUN_ERROR;
    }
    st->sc = sc;
    st->env = env;
    st->deps = deps;
    st->res = res;
    st->closed_fd = -1;
    st->cur.c.fd = -1;
    st->mock.pid = -1;
    st->mock.stop_fd = -1;
    st->t0 = run_now_s();
    st->start_ms = run_now_ms();
    st->total_deadline = st->start_ms + sc->h.total_timeout_ms;
    st->step_timeout_default = sc->h.step_timeout_ms ? sc->h.step_timeout_ms : 5000;
    int r = setup(st);
    for (size_t i = 0; r == STEP_OK && i < sc->nsteps; i++) {
        const sc_step *s = &sc->steps[i];
        st->step = i;
        int64_t t = run_now_ms();
        if (t >= st->total_deadline)
            r = run_fail(st, RUN_FAIL, "the scenario's total timeout (%ums) ran out before this step",
                         sc->h.total_timeout_ms);
        else
            r = run_step(st, s);
        if (s->kind != SC_CHECK)
            trace(st, s, r, t);   /* checks are traced with their results, at the end */
        if (r != STEP_OK)
            res->failed_step = (int)i;
    }
    res->verdict = r == STEP_OK ? RUN_PASS : (run_verdict)r;
    int64_t start = st->start_ms;
    ERR_clear_error();
    finish(st);
    run_vars_free(&st->v);
    free(st->imap_tok);
    if (st->closed_fd >= 0)
        close(st->closed_fd);
    profile_free(st->owned_profile);
    free(st);
    res->seconds = (double)(run_now_ms() - start) / 1000.0;
    return res->verdict;
}

void run_result_free(run_result *res)
{
    free(res->checks);
    res->checks = NULL;
    res->nchecks = 0;
}
