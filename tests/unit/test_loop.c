/* test_loop.c -- the listener/connection loop over real loopback sockets.
 *
 * A child process runs a server with a tiny line-echo session on every listener mode; the
 * test connects with plain sockets and OpenSSL and checks what a client sees, and what the
 * transcripts record: greetings, STARTTLS with injected plaintext (discarded, or kept by a
 * deliberately vulnerable listener), implicit TLS, plaintext on an implicit-TLS port, a
 * ClientHello on a STARTTLS port, a closed port (refused) and a silent port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "servers/loop.h"

/* ---- a line-echo session ------------------------------------------------------------------ */

typedef struct echo_session {
    session base;
} echo_session;

static void echo_open(session *s)
{
    s->io->send(s->io->ctx, "* OK echo ready\r\n", 17);
}

static size_t echo_input(session *s, const char *p, size_t n)
{
    const char *lf = memchr(p, '\n', n);
    if (!lf)
        return 0;
    size_t len = (size_t)(lf - p) + 1;
    s->io->client_data(s->io->ctx, p, len, 0);
    size_t body = len >= 2 && p[len - 2] == '\r' ? len - 2 : len - 1;
    if (body == 8 && memcmp(p, "STARTTLS", 8) == 0) {
        s->io->send(s->io->ctx, "OK begin TLS\r\n", 14);
        s->io->start_tls(s->io->ctx);
    } else if (body == 4 && memcmp(p, "QUIT", 4) == 0) {
        s->io->send(s->io->ctx, "BYE\r\n", 5);
        s->io->close(s->io->ctx, "quit");
    } else {
        char out[600];
        int k = snprintf(out, sizeof out, "echo: %.*s%s\r\n", (int)(body > 500 ? 500 : body), p,
                         s->info->tls_active ? " (tls)" : "");
        s->io->send(s->io->ctx, out, (size_t)k);
    }
    return len;
}

static void echo_tls_ready(session *s)
{
    (void)s;
}

static void echo_timeout(session *s)
{
    s->io->send(s->io->ctx, "* BYE idle\r\n", 12);
}

static void echo_free(session *s)
{
    free(s);
}

static const session_ops echo_ops = {echo_open, echo_input, echo_tls_ready, echo_timeout, echo_free};

static session *echo_factory(void *ctx, const session_io *io, session_info *info)
{
    (void)ctx;
    echo_session *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->base.ops = &echo_ops;
    e->base.io = io;
    e->base.info = info;
    return &e->base;
}

/* ---- a throwaway self-signed certificate ---------------------------------------------------- */

static SSL_CTX *test_server_ctx(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *crt = X509_new();
    assert_non_null(key);
    X509_set_version(crt, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(crt), 1);
    X509_gmtime_adj(X509_getm_notBefore(crt), -60);
    X509_gmtime_adj(X509_getm_notAfter(crt), 3600);
    X509_NAME *name = X509_get_subject_name(crt);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(crt, name);
    X509_set_pubkey(crt, key);
    assert_true(X509_sign(crt, key, EVP_sha256()) > 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx, crt);
    SSL_CTX_use_PrivateKey(ctx, key);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    X509_free(crt);
    EVP_PKEY_free(key);
    return ctx;
}

/* ---- the server child ------------------------------------------------------------------------ */

enum { L_PLAIN, L_STARTTLS, L_VULNERABLE, L_IMPLICIT, L_IMPLICIT_SILENCE, L_CLOSED, L_SILENT, L_COUNT };

static pid_t server_pid;
static int ports[L_COUNT];
static char transcript_dir[] = "/tmp/mailrig-test-loop-XXXXXX";

static void stop_loop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    event_base_loopexit(arg, NULL);
}

static void run_server(int report_fd)
{
    struct event_base *base = event_base_new();
    SSL_CTX *tls = test_server_ctx();
    server_limits limits = server_limits_default();
    limits.handshake_timeout_s = 2;
    limits.silent_hold_s = 2;
    char err[256];
    server *srv = server_new(base, &limits, NULL, transcript_dir, err, sizeof err);
    static const struct {
        listen_mode mode;
        int vulnerable;
        plaintext_answer plain;
    } kinds[L_COUNT] = {
        [L_PLAIN] = {LISTEN_PLAIN, 0, PLAINTEXT_CLOSE},
        [L_STARTTLS] = {LISTEN_STARTTLS, 0, PLAINTEXT_CLOSE},
        [L_VULNERABLE] = {LISTEN_STARTTLS, 1, PLAINTEXT_CLOSE},
        [L_IMPLICIT] = {LISTEN_IMPLICIT_TLS, 0, PLAINTEXT_CLOSE},
        [L_IMPLICIT_SILENCE] = {LISTEN_IMPLICIT_TLS, 0, PLAINTEXT_SILENCE},
        [L_CLOSED] = {LISTEN_CLOSED, 0, PLAINTEXT_CLOSE},
        [L_SILENT] = {LISTEN_SILENT, 0, PLAINTEXT_CLOSE},
    };
    for (int i = 0; i < L_COUNT; i++) {
        listener_spec spec = {
            .protocol = "echo", .provider_port = 1000 + i, .host = "127.0.0.1", .port = 0,
            .mode = kinds[i].mode, .tls = tls, .on_plaintext = kinds[i].plain,
            .on_client_hello = HELLO_SESSION, .starttls_vulnerable = kinds[i].vulnerable,
            .factory = echo_factory,
        };
        ports[i] = server_listen(srv, &spec, err, sizeof err);
        if (ports[i] < 0) {
            fprintf(stderr, "listen: %s\n", err);
            _exit(1);
        }
    }
    if (write(report_fd, ports, sizeof ports) != (ssize_t)sizeof ports)
        _exit(1);
    close(report_fd);
    struct event *term = evsignal_new(base, SIGTERM, stop_loop, base);
    event_add(term, NULL);
    event_base_dispatch(base);
    server_free(srv);
    event_free(term);
    SSL_CTX_free(tls);
    event_base_free(base);
    _exit(0);
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(transcript_dir));
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    server_pid = fork();
    assert_true(server_pid >= 0);
    if (server_pid == 0) {
        close(fds[0]);
        run_server(fds[1]);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], ports, sizeof ports), (ssize_t)sizeof ports);
    close(fds[0]);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kill(server_pid, SIGTERM);
    int status;
    waitpid(server_pid, &status, 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", transcript_dir);
    if (system(cmd) != 0)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- client helpers -------------------------------------------------------------------------- */

static int connect_to(int port, int *err)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    *err = 0;
    return fd;
}

static int connect_ok(int port)
{
    int e;
    int fd = connect_to(port, &e);
    if (fd < 0)
        fail_msg("connect to %d: %s", port, strerror(e));
    return fd;
}

/* Read until a LF (or timeout/EOF); returns the bytes read, NUL-terminated. */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, 1, 0);
        if (r <= 0)
            break;
        n++;
        if (buf[n - 1] == '\n')
            break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

static void send_str(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), 0), (ssize_t)strlen(s));
}

static SSL *tls_client(int fd)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL keeps its own reference */
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    return ssl;
}

static ssize_t tls_read_line(SSL *ssl, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        int r = SSL_read(ssl, buf + n, 1);
        if (r <= 0)
            break;
        n++;
        if (buf[n - 1] == '\n')
            break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

/* The transcript of the most recent connection on a provider port, as one string. */
static char *transcript_of(int provider_port)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -1 %s/*-echo-%d.log 2>/dev/null | tail -n 1", transcript_dir,
             provider_port);
    FILE *ls = popen(cmd, "r");
    char path[400] = "";
    if (!fgets(path, sizeof path, ls))
        path[0] = '\0';
    pclose(ls);
    path[strcspn(path, "\n")] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("no transcript for port %d", provider_port);
    static char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* Wait until the server has written the close record of the last connection on a port. */
static char *closed_transcript_of(int provider_port)
{
    for (int i = 0; i < 100; i++) {
        char *t = transcript_of(provider_port);
        if (strstr(t, " close "))
            return t;
        usleep(20000);
    }
    return transcript_of(provider_port);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void plain_greeting_echo_quit(void **state)
{
    (void)state;
    int fd = connect_ok(ports[L_PLAIN]);
    char line[256];
    read_line(fd, line, sizeof line);
    assert_string_equal(line, "* OK echo ready\r\n");
    send_str(fd, "hello\r\nQUIT\r\n");
    read_line(fd, line, sizeof line);
    assert_string_equal(line, "echo: hello\r\n");
    read_line(fd, line, sizeof line);
    assert_string_equal(line, "BYE\r\n");
    assert_int_equal(read_line(fd, line, sizeof line), 0); /* closed after BYE */
    close(fd);
    char *t = closed_transcript_of(1000 + L_PLAIN);
    assert_non_null(strstr(t, " open 127.0.0.1:"));
    assert_non_null(strstr(t, " S: * OK echo ready\n"));
    assert_non_null(strstr(t, " C: hello\n"));
    assert_non_null(strstr(t, " close quit\n"));
}

/* STARTTLS with a command pipelined behind it in the same write. */
static void starttls_injection(int which, int expect_kept)
{
    int fd = connect_ok(ports[which]);
    char line[256];
    read_line(fd, line, sizeof line);
    send_str(fd, "STARTTLS\r\nINJECTED\r\n");
    read_line(fd, line, sizeof line);
    assert_string_equal(line, "OK begin TLS\r\n");
    SSL *ssl = tls_client(fd);
    assert_int_equal(SSL_connect(ssl), 1);
    assert_int_equal(SSL_write(ssl, "PING\r\n", 6), 6);
    tls_read_line(ssl, line, sizeof line);
    if (expect_kept) {
        assert_string_equal(line, "echo: INJECTED (tls)\r\n");
        tls_read_line(ssl, line, sizeof line);
    }
    assert_string_equal(line, "echo: PING (tls)\r\n");
    SSL_free(ssl);
    close(fd);
    char *t = closed_transcript_of(1000 + which);
    assert_non_null(strstr(t, " tls ok TLSv1.3 "));
    if (expect_kept) {
        assert_non_null(strstr(t, " event starttls-plaintext-kept bytes=10\n"));
        assert_non_null(strstr(t, " event starttls-plaintext-accepted bytes=10\n"));
    } else {
        assert_non_null(strstr(t, " event starttls-discarded-plaintext bytes=10\n"));
        assert_null(strstr(t, "C: INJECTED"));
    }
}

static void starttls_discards_pipelined_plaintext(void **state)
{
    (void)state;
    starttls_injection(L_STARTTLS, 0);
}

static void vulnerable_listener_keeps_it(void **state)
{
    (void)state;
    starttls_injection(L_VULNERABLE, 1);
}

static void implicit_tls(void **state)
{
    (void)state;
    int fd = connect_ok(ports[L_IMPLICIT]);
    SSL *ssl = tls_client(fd);
    assert_int_equal(SSL_connect(ssl), 1);
    char line[256];
    tls_read_line(ssl, line, sizeof line);
    assert_string_equal(line, "* OK echo ready\r\n");
    SSL_write(ssl, "QUIT\r\n", 6);
    tls_read_line(ssl, line, sizeof line);
    assert_string_equal(line, "BYE\r\n");
    SSL_free(ssl);
    close(fd);
    char *t = closed_transcript_of(1000 + L_IMPLICIT);
    assert_non_null(strstr(t, "mode=implicit"));
    assert_non_null(strstr(t, " sni=localhost\n"));
}

static void plaintext_on_implicit_port_closes(void **state)
{
    (void)state;
    int fd = connect_ok(ports[L_IMPLICIT]);
    send_str(fd, "a1 LOGIN user pass\r\n");
    char line[256];
    assert_int_equal(read_line(fd, line, sizeof line), 0);
    close(fd);
    char *t = closed_transcript_of(1000 + L_IMPLICIT);
    assert_non_null(strstr(t, " event plaintext-on-implicit-tls-port answer=close\n"));
}

/* Two bytes are too few to tell TLS from plaintext: the server waits for more. */
static void plaintext_in_pieces_on_implicit_port(void **state)
{
    (void)state;
    int fd = connect_ok(ports[L_IMPLICIT]);
    send_str(fd, "a1");
    usleep(150000);
    send_str(fd, " NOOP\r\n");
    char line[256];
    assert_int_equal(read_line(fd, line, sizeof line), 0);
    close(fd);
    char *t = closed_transcript_of(1000 + L_IMPLICIT);
    assert_non_null(strstr(t, " event plaintext-on-implicit-tls-port answer=close\n"));
}

static void plaintext_on_implicit_port_silence(void **state)
{
    (void)state;
    int fd = connect_ok(ports[L_IMPLICIT_SILENCE]);
    send_str(fd, "a1 CAPABILITY\r\n");
    char line[256];
    errno = 0;
    assert_int_equal(read_line(fd, line, sizeof line), 0);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK); /* timed out: still open, silent */
    close(fd);
    char *t = closed_transcript_of(1000 + L_IMPLICIT_SILENCE);
    assert_non_null(strstr(t, " event plaintext-on-implicit-tls-port answer=silence\n"));
}

static void client_hello_on_starttls_port(void **state)
{
    (void)state;
    int fd = connect_ok(ports[L_STARTTLS]);
    SSL *ssl = tls_client(fd);
    assert_true(SSL_connect(ssl) <= 0); /* the plaintext greeting is not a ServerHello */
    SSL_free(ssl);
    close(fd);
    char *t = closed_transcript_of(1000 + L_STARTTLS);
    assert_non_null(strstr(t, " event tls-handshake-on-starttls-port\n"));
}

static void closed_port_refuses(void **state)
{
    (void)state;
    int e;
    assert_int_equal(connect_to(ports[L_CLOSED], &e), -1);
    assert_int_equal(e, ECONNREFUSED);
}

static void silent_port_says_nothing(void **state)
{
    (void)state;
    int fd = connect_ok(ports[L_SILENT]);
    char line[64];
    errno = 0;
    assert_int_equal(read_line(fd, line, sizeof line), 0);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(fd);
    char *t = closed_transcript_of(1000 + L_SILENT);
    assert_non_null(strstr(t, " event silent-port\n"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_greeting_echo_quit),
        cmocka_unit_test(starttls_discards_pipelined_plaintext),
        cmocka_unit_test(vulnerable_listener_keeps_it),
        cmocka_unit_test(implicit_tls),
        cmocka_unit_test(plaintext_on_implicit_port_closes),
        cmocka_unit_test(plaintext_in_pieces_on_implicit_port),
        cmocka_unit_test(plaintext_on_implicit_port_silence),
        cmocka_unit_test(client_hello_on_starttls_port),
        cmocka_unit_test(closed_port_refuses),
        cmocka_unit_test(silent_port_says_nothing),
    };
    return cmocka_run_group_tests_name("loop", tests, setup, teardown);
}
