/* cmd_replay.c -- `mailrig replay LOG`: a recorded conversation played back, printed as a
 * transcript, or written out as an editable scenario.
 *
 *   --as server   listen on loopback and serve the recorded server side to a client: each
 *                 recorded client line is waited for and compared loosely (the command word,
 *                 or the tag and command for IMAP; credentials are never compared), then the
 *                 recorded server lines are sent. Divergences are reported; exit 1 if any.
 *   --as client   connect to a loopback HOST:PORT and play the recorded client side,
 *                 comparing each reply's status (SMTP code, IMAP tag + status, POP3 +OK/-ERR).
 *                 Redacted credentials are filled from --user / --password.
 *   --to-scenario write the conversation as a client-role .scn: sends and expect-replys,
 *                 credentials as {account.*} variables, for `mailrig lint` and `mailrig run`.
 *   --print       write the (redacted) conversation as a mailrig transcript.
 * Any log format log_read.h reads is accepted. TLS is replayed where the recording had it:
 * implicit TLS from the start, or a handshake at the point the recording upgraded after
 * STARTTLS. As a server, replay presents a certificate of the test PKI (`mailrig certs`; its
 * CA file is printed so the client can trust it); as a client it does not verify the server's
 * certificate (a replay compares conversations, not trust).
 */
#include <arpa/inet.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/log_read.h"
#include "harness/log_write.h"
#include "harness/replay_scn.h"
#include "proto/base64.h"
#include "proto/sasl.h"
#include "servers/pki.h"
#include "servers/tls.h"

typedef struct replay_opts {
    const char *log;
    const char *format;
    const char *as;
    const char *target;
    unsigned port;
    const char *user, *password;
    const char *to_scenario;
    const char *profile;
    const char *role;   /* --role client|server for --to-scenario */
    const char *client; /* --client "ADAPTER SETTING=VALUE..." for --role server */
    bool print;
    unsigned conn; /* 1-based; 0 = the first with data */
    const char *sets[16]; /* --set, written as `set` header lines by --to-scenario */
    size_t n_sets;
    int timeout_ms;
    const char *state;   /* --state: the PKI state directory (as `mailrig serve`) */
} replay_opts;

static void replay_usage(FILE *out)
{
    fprintf(out,
            "usage: mailrig replay LOG [--log-format F] [--conn N]\n"
            "                      (--as server [--port N] | --as client HOST:PORT [--user U --password P]\n"
            "                       | --to-scenario FILE [--profile NAME] [--role client|server] | --print)\n\n"
            "Play back a recorded conversation: a mailrig transcript or any log `mailrig diagnose\n"
            "--log` reads (curl -v, msmtp --debug, openssl s_client, imaplib, smtplib, Thunderbird).\n\n"
            "  --as server        listen on 127.0.0.1 (--port N, default a free port, printed as\n"
            "                     `listening 127.0.0.1:PORT`) and serve the recorded server side to one\n"
            "                     client, comparing each client line loosely with the recording\n"
            "  --as client H:P    connect to a loopback address and play the recorded client side,\n"
            "                     comparing each reply's status; redacted credentials are filled from\n"
            "                     --user and --password\n"
            "  --to-scenario FILE write an editable client-role scenario (.scn); secrets become\n"
            "                     {account.*} variables; --profile names the profile it runs against\n"
            "                     (default: generic); --set SECTION.KEY=VALUE adds `set` lines\n"
            "  --role server      with --to-scenario: a server-role scenario (mailrig sends the recorded\n"
            "                     replies to the client under test); --client \"ADAPTER K=V...\" names it\n"
            "  --print            write the conversation (redacted) as a mailrig transcript\n"
            "  --log-format F     transcript, curl, msmtp, openssl, imaplib, smtplib, thunderbird\n"
            "  --conn N           which connection of the log (default: the first with data)\n"
            "  --timeout SECONDS  per read while replaying (default 10)\n\n"
            "  --state DIR        the PKI state directory for --as server over TLS (as mailrig serve)\n\n"
            "TLS is replayed where the recording had it (implicit, or after STARTTLS): as a server\n"
            "with a test-PKI certificate (the CA file is printed as ca_file=PATH), as a client\n"
            "without verifying the server's certificate.\n"
            "Exit status: 0 the peer behaved as recorded, 1 it diverged, 2 usage or unreadable log,\n"
            "3 environment error (cannot listen or connect).\n");
}

/* ---- line I/O on a socket ---------------------------------------------------------------------- */

typedef struct sock {
    int fd;
    SSL *ssl;            /* after a handshake */
    SSL_CTX *ctx;        /* for a handshake to come; not owned */
    bool server;
    char buf[16384];
    size_t n;
    int timeout_ms;
} sock;

/* Read one line (without CRLF) into out. Returns its length, -1 on EOF/error, -2 timeout. */
static long sock_line(sock *s, char *out, size_t cap)
{
    for (;;) {
        char *lf = memchr(s->buf, '\n', s->n);
        if (lf) {
            size_t len = (size_t)(lf - s->buf);
            size_t keep = len && s->buf[len - 1] == '\r' ? len - 1 : len;
            if (keep >= cap)
                keep = cap - 1;
            memcpy(out, s->buf, keep);
            out[keep] = 0;
            memmove(s->buf, lf + 1, s->n - len - 1);
            s->n -= len + 1;
            return (long)keep;
        }
        if (s->n == sizeof s->buf)
            s->n = 0; /* an over-long line: dropped */
        if (!s->ssl || !SSL_pending(s->ssl)) {
            struct pollfd p = {.fd = s->fd, .events = POLLIN};
            int r = poll(&p, 1, s->timeout_ms);
            if (r == 0)
                return -2;
            if (r < 0)
                return -1;
        }
        ssize_t got = s->ssl ? SSL_read(s->ssl, s->buf + s->n, (int)(sizeof s->buf - s->n))
                             : read(s->fd, s->buf + s->n, sizeof s->buf - s->n);
        if (got <= 0)
            return -1;
        s->n += (size_t)got;
    }
}

static int sock_send(sock *s, const char *line)
{
    size_t n = strlen(line);
    char *b = malloc(n + 2);
    if (!b)
        return -1;
    memcpy(b, line, n);
    memcpy(b + n, "\r\n", 2);
    size_t off = 0;
    while (off < n + 2) {
        ssize_t w = s->ssl ? SSL_write(s->ssl, b + off, (int)(n + 2 - off))
                           : send(s->fd, b + off, n + 2 - off, MSG_NOSIGNAL);
        if (w <= 0) {
            free(b);
            return -1;
        }
        off += (size_t)w;
    }
    free(b);
    return 0;
}

/* The TLS handshake, now: the connection starts with TLS or the recording upgraded here.
 * Returns 0, or -1 after saying why on stderr. */
static int sock_tls(sock *s, unsigned line)
{
    if (s->ssl)
        return 0;
    if (!s->ctx) {
        fprintf(stderr, "replay: line %u: the recording starts TLS here, but no TLS context\n", line);
        return -1;
    }
    if (s->n)
        fprintf(stderr, "replay: line %u: %zu plaintext bytes arrived before the handshake (discarded)\n", line, s->n);
    s->n = 0;
    s->ssl = SSL_new(s->ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1)
        return -1;
    int r = s->server ? SSL_accept(s->ssl) : SSL_connect(s->ssl);
    if (r != 1) {
        char why[256];
        tls_describe_failure(s->ssl, SSL_get_error(s->ssl, r), why, sizeof why);
        fprintf(stderr, "replay: line %u: TLS handshake failed: %s\n", line, why);
        return -1;
    }
    return 0;
}

static void sock_close(sock *s)
{
    if (s->ssl) {
        SSL_shutdown(s->ssl);
        SSL_free(s->ssl);
    }
    close(s->fd);
}

/* ---- loose comparison --------------------------------------------------------------------------- */

static void first_words(const char *s, unsigned n, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    for (unsigned w = 0; w < n; w++) {
        while (s[i] == ' ')
            i++;
        if (!s[i])
            break;
        if (w && o + 1 < cap)
            out[o++] = ' ';
        while (s[i] && s[i] != ' ' && o + 1 < cap)
            out[o++] = s[i++];
    }
    out[o] = 0;
}

/* The key a client line is compared by: the command word (IMAP: tag and command). */
static void client_key(const char *s, char *out, size_t cap)
{
    char w[2][64];
    first_words(s, 1, w[0], sizeof w[0]);
    char two[130];
    first_words(s, 2, two, sizeof two);
    const char *sp = strchr(two, ' ');
    snprintf(w[1], sizeof w[1], "%s", sp ? sp + 1 : "");
    static const char *const cmds[] = {"LOGIN", "AUTHENTICATE", "SELECT", "EXAMINE", "LIST", "LSUB", "FETCH", "UID",
                                       "CAPABILITY", "LOGOUT", "STARTTLS", "NOOP", "ID", "ENABLE", "NAMESPACE",
                                       "STATUS", "IDLE", "APPEND", "STORE", "SEARCH", "CLOSE", "EXPUNGE"};
    bool imap = false;
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        imap |= !strcasecmp(w[1], cmds[i]);
    snprintf(out, cap, "%s", imap ? w[1] : w[0]);
    for (char *p = out; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
}

/* The status a server line is compared by: "250", "OK"/"NO"/"BAD" (tagged), "+OK", "-ERR",
 * "+", "*". */
static void server_key(const char *s, char *out, size_t cap)
{
    if (s[0] >= '0' && s[0] <= '9') {
        snprintf(out, cap, "%.3s", s);
        return;
    }
    if (!strncmp(s, "+OK", 3) || !strncmp(s, "-ERR", 4)) {
        snprintf(out, cap, "%s", s[0] == '+' ? "+OK" : "-ERR");
        return;
    }
    char two[130];
    first_words(s, 2, two, sizeof two);
    const char *sp = strchr(two, ' ');
    if (s[0] == '*' || s[0] == '+')
        snprintf(out, cap, "%c", s[0]);
    else
        snprintf(out, cap, "%.60s", sp ? sp + 1 : two);
}

/* ---- the recorded connection ---------------------------------------------------------------------- */

static const log_conn *pick_conn(const log_conv *c, unsigned want)
{
    if (want)
        return want <= c->n ? &c->conn[want - 1] : NULL;
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < c->conn[i].n; j++)
            if (c->conn[i].rec[j].kind == LOG_DATA)
                return &c->conn[i];
    return NULL;
}

/* IMAP tags: a client picks its own (imaplib: four random letters), so the recorded server
 * lines are sent with the tag the client used for the command they answer. */
typedef struct tag_map {
    char rec[16][32], got[16][32];
    size_t n;
} tag_map;

static void tag_learn(tag_map *m, const char *recorded, const char *got)
{
    char rw[32], gw[32], key[64];
    first_words(recorded, 1, rw, sizeof rw);
    first_words(got, 1, gw, sizeof gw);
    client_key(recorded, key, sizeof key);
    char w0[64];
    first_words(recorded, 1, w0, sizeof w0);
    for (char *q = w0; *q; q++)
        *q = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
    if (!strcmp(key, w0) || !strcmp(rw, gw)) /* not a tagged command, or the same tag */
        return;
    size_t i = m->n < 16 ? m->n++ : (memmove(m->rec, m->rec + 1, sizeof m->rec[0] * 15),
                                     memmove(m->got, m->got + 1, sizeof m->got[0] * 15), 15);
    snprintf(m->rec[i], sizeof m->rec[i], "%s", rw);
    snprintf(m->got[i], sizeof m->got[i], "%s", gw);
}

/* line with its recorded tag replaced by the client's, into out. */
static const char *tag_apply(const tag_map *m, const char *line, char *out, size_t cap)
{
    char w[32];
    first_words(line, 1, w, sizeof w);
    for (size_t i = m->n; i > 0; i--)
        if (!strcmp(m->rec[i - 1], w)) {
            snprintf(out, cap, "%s%s", m->got[i - 1], line + strlen(w));
            return out;
        }
    return line;
}

/* Whether the recording has client lines after record i. */
static bool client_lines_after(const log_conn *k, size_t i)
{
    for (size_t j = i + 1; j < k->n; j++)
        if (k->rec[j].kind == LOG_DATA && k->rec[j].dir == LOG_DIR_C)
            return true;
    return false;
}

/* Serve the recorded server side on fd. Returns the number of divergences, -1 when the
 * client went away early. */
static int serve_side(sock *s, const log_conn *k)
{
    int diverged = 0;
    bool in_sasl = false; /* the last server line was a SASL continuation */
    tag_map tags = {.n = 0};
    char got[8192];
    for (size_t i = 0; i < k->n; i++) {
        const log_rec *r = &k->rec[i];
        if (r->kind == LOG_TLS_OK && r->tls == LOG_TLS_AFTER_STARTTLS && sock_tls(s, r->line) < 0)
            return diverged + 1;
        if (r->kind != LOG_DATA)
            continue;
        if (r->dir == LOG_DIR_S) {
            char line[8192];
            in_sasl = !strncmp(r->text, "334 ", 4) || !strcmp(r->text, "+") || !strncmp(r->text, "+ ", 2);
            if (sock_send(s, tag_apply(&tags, r->text, line, sizeof line)) < 0)
                return diverged + (client_lines_after(k, i) ? 1 : 0); /* it left after its last line: fine */
            continue;
        }
        long n = sock_line(s, got, sizeof got);
        if (n >= 0)
            tag_learn(&tags, r->text, got);
        if (n < 0) {
            fprintf(stderr, "replay: line %u: the client %s before sending \"%s\"\n", r->line,
                    n == -2 ? "went silent" : "closed the connection", r->text);
            return diverged + 1;
        }
        char want_k[64], got_k[64];
        client_key(r->text, want_k, sizeof want_k);
        client_key(got, got_k, sizeof got_k);
        if (strcmp(want_k, got_k) && !in_sasl) { /* SASL responses differ by nature (challenges) */
            fprintf(stderr, "replay: line %u: expected a client line like \"%s\", got a %s command\n", r->line,
                    r->text, got_k);
            diverged++;
        }
    }
    return diverged;
}

/* A base64 word whose decoded bytes hold "<redacted>" (a redacted SASL message): rebuilt
 * with the password, and for PLAIN with --user as the identity when given. Returns the
 * encoded length written to out, or -1 when w is not such a word. */
static int fill_sasl_word(const char *w, size_t n, const replay_opts *o, char *out, size_t cap)
{
    char dec[1024], fixed[1200];
    mr_error err;
    int m = n >= 8 ? b64_decode(w, n, dec, sizeof dec, 0, &err) : -1;
    if (m <= 0)
        return -1;
    const char *red = log_find(dec, (size_t)m, "<redacted>");
    if (!red)
        return -1;
    size_t f = 0, pl = strlen(o->password);
    const char *z1 = memchr(dec, 0, (size_t)m);
    if (o->user && z1 && z1 < red) { /* PLAIN: authzid \0 authcid \0 passwd */
        memcpy(fixed, dec, (size_t)(z1 - dec) + 1);
        f = (size_t)(z1 - dec) + 1;
        size_t ul = strlen(o->user);
        if (f + ul + 1 + pl >= sizeof fixed)
            return -1;
        memcpy(fixed + f, o->user, ul);
        f += ul;
        fixed[f++] = 0;
    } else {
        if ((size_t)(red - dec) + pl >= sizeof fixed)
            return -1;
        memcpy(fixed, dec, (size_t)(red - dec));
        f = (size_t)(red - dec);
    }
    memcpy(fixed + f, o->password, pl);
    f += pl;
    size_t tail = (size_t)(dec + m - red - 10);
    if (f + tail >= sizeof fixed)
        return -1;
    memcpy(fixed + f, red + 10, tail);
    f += tail;
    return b64_encode(fixed, f, out, cap, &err);
}

/* A CRAM-MD5 response (RFC 2195) to the base64 challenge, for user (from the recording's
 * redacted "user <redacted>") and the password, base64-encoded into out. Returns its length
 * or -1. */
static int cram_response(const char *challenge_b64, const char *user, const char *password, char *out, size_t cap)
{
    char ch[1024];
    mr_error err;
    int cn = b64_decode(challenge_b64, strlen(challenge_b64), ch, sizeof ch, 0, &err);
    if (cn < 0)
        return -1;
    unsigned char md[16];
    unsigned mdlen = 0;
    if (!HMAC(EVP_md5(), password, (int)strlen(password), (const unsigned char *)ch, (size_t)cn, md, &mdlen) ||
        mdlen != 16)
        return -1;
    char resp[600], hex[32];
    sasl_cram_digest_encode(md, hex);
    int rl = snprintf(resp, sizeof resp, "%s %.32s", user, hex);
    if (rl < 0 || (size_t)rl >= sizeof resp)
        return -1;
    return b64_encode(resp, (size_t)rl, out, cap, &err);
}

/* Fill a redacted client line with the real credentials: a literal "<redacted>" becomes the
 * password; a redacted SASL message is rebuilt (fill_sasl_word). Without --password the line
 * is sent as recorded. */
static void fill_secrets(const char *line, const replay_opts *o, const char *cram_challenge, char *out, size_t cap)
{
    snprintf(out, cap, "%s", line);
    if (!o->password)
        return;
    if (cram_challenge) { /* the recording's "user <redacted>", answered anew */
        char dec[600];
        mr_error err;
        int m = b64_decode(line, strlen(line), dec, sizeof dec - 1, 0, &err);
        char *sp = m > 0 ? memchr(dec, ' ', (size_t)m) : NULL;
        if (!sp && !strcmp(line, "<redacted>") && o->user) { /* hidden whole: the user from --user */
            snprintf(dec, sizeof dec, "%.500s <redacted>", o->user);
            sp = strchr(dec, ' ');
        }
        if (sp) {
            *sp = 0;
            char enc[1024];
            int e = cram_response(cram_challenge, o->user ? o->user : dec, o->password, enc, sizeof enc);
            if (e > 0 && (size_t)e < cap) {
                snprintf(out, cap, "%.*s", e, enc);
                return;
            }
        }
    }
    const char *red = strstr(line, "<redacted>");
    if (red) {
        snprintf(out, cap, "%.*s%s%s", (int)(red - line), line, o->password, red + 10);
        return;
    }
    const char *last = strrchr(line, ' ');
    const char *w = last ? last + 1 : line;
    char enc[2048];
    int m = fill_sasl_word(w, strlen(w), o, enc, sizeof enc);
    if (m > 0)
        snprintf(out, cap, "%.*s%.*s", (int)(w - line), line, m, enc);
}

/* Play the client side on fd. Returns the number of divergences. */
static int client_side(sock *s, const log_conn *k, const replay_opts *o)
{
    int diverged = 0;
    bool cram = false;
    char challenge[1024] = "";
    char got[8192], line[8192];
    for (size_t i = 0; i < k->n; i++) {
        const log_rec *r = &k->rec[i];
        if (r->kind == LOG_TLS_OK && r->tls == LOG_TLS_AFTER_STARTTLS && sock_tls(s, r->line) < 0)
            return diverged + 1;
        if (r->kind != LOG_DATA)
            continue;
        if (r->dir == LOG_DIR_C) {
            char key[64];
            client_key(r->text, key, sizeof key);
            if (!strcmp(key, "AUTH") || !strcmp(key, "AUTHENTICATE"))
                cram = strstr(r->text, "CRAM-MD5") != NULL;
            fill_secrets(r->text, o, cram && challenge[0] ? challenge : NULL, line, sizeof line);
            if (sock_send(s, line) < 0) {
                fprintf(stderr, "replay: line %u: the server closed the connection\n", r->line);
                return diverged + 1;
            }
            continue;
        }
        long n = sock_line(s, got, sizeof got);
        if (n < 0) {
            fprintf(stderr, "replay: line %u: the server %s instead of \"%s\"\n", r->line,
                    n == -2 ? "did not answer" : "closed the connection", r->text);
            return diverged + 1;
        }
        char want_k[64], got_k[64];
        server_key(r->text, want_k, sizeof want_k);
        server_key(got, got_k, sizeof got_k);
        if (strcmp(want_k, got_k)) {
            fprintf(stderr, "replay: line %u: expected \"%s\", got \"%s\"\n", r->line, r->text, got);
            diverged++;
        }
        /* a SASL challenge of this server (it differs from the recorded one) */
        const char *c = !strncmp(got, "334 ", 4) ? got + 4 : !strncmp(got, "+ ", 2) ? got + 2 : NULL;
        snprintf(challenge, sizeof challenge, "%.1000s", c ? c : "");
    }
    return diverged;
}

/* A server context over the test PKI (a certificate for localhost and the recorded host). */
static SSL_CTX *server_ctx(const log_conn *k, const replay_opts *o, char *ca, size_t cap)
{
    char dir[PKI_PATH_MAX], err[512];
    if (pki_default_state_dir(o->state, dir, sizeof dir, err, sizeof err) != 0) {
        fprintf(stderr, "replay: pki: %s\n", err);
        return NULL;
    }
    const char *hosts[2] = {"localhost", k->host};
    size_t nh = k->host[0] && strcmp(k->host, "unknown") && !strchr(k->host, ' ') ? 2 : 1;
    pki_profile_request pr = {.name = "replay", .hosts = hosts, .nhosts = nh};
    pki_request req = {.key_type = PKI_KEY_ECDSA_P256, .profiles = &pr, .nprofiles = 1};
    pki_paths *pki = NULL;
    if (pki_ensure(dir, &req, &pki, err, sizeof err) != PKI_OK) {
        pr.nhosts = 1; /* a recorded name the PKI refuses: localhost alone */
        if (pki_ensure(dir, &req, &pki, err, sizeof err) != PKI_OK) {
            fprintf(stderr, "replay: pki: %s\n", err);
            return NULL;
        }
    }
    snprintf(ca, cap, "%s", pki->ca_cert);
    SSL_CTX *ctx = tls_server_ctx_from_pki(pki, "replay", PKI_VALID, NULL, err, sizeof err);
    if (!ctx)
        fprintf(stderr, "replay: tls: %s\n", err);
    pki_paths_free(pki);
    return ctx;
}

static bool uses_tls(const log_conn *k)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->rec[i].kind == LOG_TLS_OK)
            return true;
    return k->implicit;
}

static int as_server(const log_conn *k, const replay_opts *o)
{
    char ca[PKI_PATH_MAX] = "";
    SSL_CTX *ctx = NULL;
    if (uses_tls(k) && !(ctx = server_ctx(k, o, ca, sizeof ca)))
        return cli_env_error("replay", "cannot set up TLS for the replay");
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1) < 0) {
        if (lfd >= 0)
            close(lfd);
        SSL_CTX_free(ctx);
        return cli_env_error("replay", "cannot listen on 127.0.0.1:%u: %s", o->port, strerror(errno));
    }
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    if (ctx)
        printf("ca_file=%s\n", ca);
    printf("listening 127.0.0.1:%u\n", ntohs(a.sin_port));
    fflush(stdout);
    int fd = accept(lfd, NULL, NULL);
    close(lfd);
    if (fd < 0) {
        SSL_CTX_free(ctx);
        return cli_env_error("replay", "accept: %s", strerror(errno));
    }
    sock s = {.fd = fd, .timeout_ms = o->timeout_ms, .ctx = ctx, .server = true};
    int d = k->implicit && sock_tls(&s, k->line) < 0 ? 1 : serve_side(&s, k);
    sock_close(&s);
    SSL_CTX_free(ctx);
    fprintf(stderr, "replay: %s\n", d ? "the client diverged from the recording" : "the client behaved as recorded");
    return d ? EXIT_FAIL : EXIT_PASS;
}

static int as_client(const log_conn *k, const replay_opts *o)
{
    char host[64];
    unsigned port;
    if (!o->target || log_parse_target(o->target, strlen(o->target), host, sizeof host, &port) < 0)
        return cli_usage_error("replay", "--as client needs HOST:PORT (got '%s')", o->target ? o->target : "");
    if (strcmp(host, "127.0.0.1") && strcmp(host, "localhost"))
        return cli_usage_error("replay", "--as client connects to loopback only (127.0.0.1, localhost), not '%s'", host);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        return cli_env_error("replay", "cannot connect to 127.0.0.1:%u: %s", port, strerror(errno));
    }
    SSL_CTX *ctx = NULL;
    if (uses_tls(k)) {
        char err[256];
        tls_client_config cc = {.insecure = 1};
        if (!(ctx = tls_client_ctx_new(&cc, err, sizeof err))) {
            close(fd);
            return cli_env_error("replay", "tls: %s", err);
        }
    }
    sock s = {.fd = fd, .timeout_ms = o->timeout_ms, .ctx = ctx};
    int d = k->implicit && sock_tls(&s, k->line) < 0 ? 1 : client_side(&s, k, o);
    sock_close(&s);
    SSL_CTX_free(ctx);
    fprintf(stderr, "replay: %s\n", d ? "the server diverged from the recording" : "the server answered as recorded");
    return d ? EXIT_FAIL : EXIT_PASS;
}

/* ---- command line --------------------------------------------------------------------------------- */

static int parse(int argc, char **argv, replay_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **str = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return -1;
        if (!strcmp(a, "--print")) {
            o->print = true;
            continue;
        }
        if (!strcmp(a, "--log-format")) str = &o->format;
        else if (!strcmp(a, "--as")) str = &o->as;
        else if (!strcmp(a, "--user")) str = &o->user;
        else if (!strcmp(a, "--password")) str = &o->password;
        else if (!strcmp(a, "--to-scenario")) str = &o->to_scenario;
        else if (!strcmp(a, "--profile")) str = &o->profile;
        else if (!strcmp(a, "--role")) str = &o->role;
        else if (!strcmp(a, "--state")) str = &o->state;
        else if (!strcmp(a, "--client")) str = &o->client;
        else if (!strcmp(a, "--set")) {
            if (i + 1 >= argc || o->n_sets >= 16)
                return cli_usage_error("replay", "--set needs a value (at most 16)");
            o->sets[o->n_sets++] = argv[++i];
            continue;
        }
        else if (!strcmp(a, "--port") || !strcmp(a, "--conn") || !strcmp(a, "--timeout")) {
            if (i + 1 >= argc)
                return cli_usage_error("replay", "%s needs a value", a);
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end || v > 65535)
                return cli_usage_error("replay", "%s=%s: not a number in 0-65535", a, argv[i]);
            if (a[2] == 'p') o->port = (unsigned)v;
            else if (a[2] == 'c') o->conn = (unsigned)v;
            else o->timeout_ms = (int)v * 1000;
            continue;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("replay", "unknown option '%s' (see mailrig replay --help)", a);
        } else if (!o->log) {
            o->log = a;
            continue;
        } else if (o->as && !strcmp(o->as, "client") && !o->target) {
            o->target = a;
            continue;
        } else
            return cli_usage_error("replay", "unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error("replay", "%s needs a value", a);
        *str = argv[++i];
        if (str == &o->as && !strcmp(o->as, "client") && i + 1 < argc && argv[i + 1][0] != '-')
            o->target = argv[++i];
    }
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a peer that hangs up is reported, not fatal (SSL_write) */
    replay_opts o = {.timeout_ms = 10000};
    int pr = parse(argc, argv, &o);
    if (pr < 0) {
        replay_usage(stdout);
        return EXIT_PASS;
    }
    if (pr > 0)
        return pr;
    if (!o.log)
        return cli_usage_error("replay", "no log given (see mailrig replay --help)");
    int modes = (o.as != NULL) + (o.to_scenario != NULL) + o.print;
    if (modes != 1)
        return cli_usage_error("replay", "give exactly one of --as server, --as client HOST:PORT, --to-scenario "
                                         "FILE, --print");
    if (o.role && strcmp(o.role, "server") && strcmp(o.role, "client"))
        return cli_usage_error("replay", "--role %s: accepted: client, server", o.role);
    if (o.as && strcmp(o.as, "server") && strcmp(o.as, "client"))
        return cli_usage_error("replay", "--as %s: accepted: server, client", o.as);
    log_format f = LOG_FMT_UNKNOWN;
    if (o.format && (f = log_format_from_name(o.format)) == LOG_FMT_UNKNOWN)
        return cli_usage_error("replay", "--log-format=%s: unknown (accepted: %s)", o.format, log_format_names());
    log_conv c;
    log_conv_init(&c);
    char err[512];
    int rc = log_read_file(o.log, f, &c, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "mailrig replay: %s\n", rc < 0 ? err : c.seen);
        log_conv_free(&c);
        return EXIT_USAGE;
    }
    int status;
    if (c.dropped)
        fprintf(stderr, "replay: %s: only the first %d records were read (%zu more dropped)\n", o.log, LOG_MAX_RECS,
                c.dropped);
    const log_conn *k = pick_conn(&c, o.conn);
    if (o.print) {
        status = log_conv_write_transcript(&c, o.log, stdout) < 0 ? EXIT_ENV : EXIT_PASS;
    } else if (!k) {
        status = cli_usage_error("replay", "%s: no connection %u with data", o.log, o.conn);
    } else if (o.to_scenario && o.role && !strcmp(o.role, "server")) {
        FILE *out = fopen(o.to_scenario, "w");
        if (!out)
            status = cli_env_error("replay", "cannot write %s", o.to_scenario);
        else {
            int w = replay_scn_write_server(k, o.log, o.profile ? o.profile : "generic", o.client, out);
            status = fclose(out) != 0 || w < 0 ? cli_env_error("replay", "write error on %s", o.to_scenario) : EXIT_PASS;
        }
    } else if (o.to_scenario) {
        status = replay_write_scenario(k, o.log, o.profile ? o.profile : "generic", o.sets, o.n_sets, o.to_scenario);
    } else {
        status = !strcmp(o.as, "server") ? as_server(k, &o) : as_client(k, &o);
    }
    log_conv_free(&c);
    return status;
}
