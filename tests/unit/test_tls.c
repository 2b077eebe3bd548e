/* test_tls.c -- servers/tls.c and proto/tlssniff.c: real handshakes between in-process server
 * and client SSL objects over socketpairs, SNI, client-side verification failures and their
 * descriptions, resumption, idle memory, and sniffing of real ClientHellos. */
#define _XOPEN_SOURCE 700 /* nftw */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "proto/tlssniff.h"
#include "servers/pki.h"
#include "servers/tls.h"
#include "tests/unit/support.h"

/* ---------------------------------------------------------------------------------------- */
/* Counting OpenSSL's heap, for the idle-memory measurement. Installed before OpenSSL
 * allocates anything; each block carries its size in a 16-byte header. */

static size_t ossl_live;

static void *count_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    size_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    p[0] = n;
    ossl_live += n;
    return (char *)p + 16;
}

static void count_free(void *q, const char *file, int line)
{
    (void)file, (void)line;
    if (!q)
        return;
    size_t *p = (size_t *)(void *)((char *)q - 16);
    ossl_live -= p[0];
    free(p);
}

static void *count_realloc(void *q, size_t n, const char *file, int line)
{
    if (!q)
        return count_malloc(n, file, line);
    if (!n) {
        count_free(q, file, line);
        return NULL;
    }
    size_t *p = (size_t *)(void *)((char *)q - 16);
    size_t old = p[0];
    size_t *np = realloc(p, n + 16);
    if (!np)
        return NULL;
    np[0] = n;
    ossl_live += n - old;
    return (char *)np + 16;
}

/* ---------------------------------------------------------------------------------------- */
/* One PKI for the whole run */

static const char *const ICLOUD_HOSTS[] = {"imap.mail.me.com", "smtp.mail.me.com"};
static const char *const EXCHANGE_HOSTS[] = {"outlook.office365.com", "smtp.office365.com"};
static char state_dir[128];
static pki_paths *pki;
static char err[1024];

static int pki_setup(void **state)
{
    (void)state;
    snprintf(state_dir, sizeof state_dir, "/tmp/mailrig-test-tls-XXXXXX");
    if (!mkdtemp(state_dir))
        return -1;
    pki_profile_request prof[2] = {{"icloud", ICLOUD_HOSTS, 2}, {"exchange", EXCHANGE_HOSTS, 2}};
    pki_request req = {.key_type = PKI_KEY_ECDSA_P256, .profiles = prof, .nprofiles = 2};
    if (pki_ensure(state_dir, &req, &pki, err, sizeof err) != PKI_OK) {
        fprintf(stderr, "pki_ensure: %s\n", err);
        return -1;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int pki_teardown(void **state)
{
    (void)state;
    pki_paths_free(pki);
    nftw(state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static SSL_CTX *server_ctx(const char *profile, pki_variant v, int min, int max)
{
    tls_server_config opts = {.min_version = min, .max_version = max};
    SSL_CTX *ctx = tls_server_ctx_from_pki(pki, profile, v, &opts, err, sizeof err);
    if (!ctx)
        fail_msg("tls_server_ctx_from_pki: %s", err);
    return ctx;
}

static SSL_CTX *client_ctx(int insecure, int max)
{
    tls_client_config cfg = {.ca_file = pki->ca_cert, .insecure = insecure, .max_version = max};
    SSL_CTX *ctx = tls_client_ctx_new(&cfg, err, sizeof err);
    if (!ctx)
        fail_msg("tls_client_ctx_new: %s", err);
    return ctx;
}

/* ---------------------------------------------------------------------------------------- */
/* A server and a client SSL over a non-blocking socketpair, driven in turn in this thread.
 * A side's failure is described at once: the OpenSSL error queue is per thread and the other
 * side's next call would add to it. */

typedef struct conn {
    int fd[2];  /* [0] server, [1] client */
    SSL *srv, *cli;
    int srv_done, cli_done, srv_failed, cli_failed;
    char srv_why[512], cli_why[512];
} conn;

static void conn_open(conn *c, SSL_CTX *server, SSL_CTX *client, const char *host)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c->fd), 0);
    for (int i = 0; i < 2; i++)
        fcntl(c->fd[i], F_SETFL, O_NONBLOCK);
    c->srv = SSL_new(server);
    c->cli = SSL_new(client);
    assert_non_null(c->srv);
    assert_non_null(c->cli);
    SSL_set_fd(c->srv, c->fd[0]);
    SSL_set_fd(c->cli, c->fd[1]);
    SSL_set_accept_state(c->srv);
    SSL_set_connect_state(c->cli);
    if (host)
        assert_int_equal(tls_client_set_host(c->cli, host, err, sizeof err), 0);
}

static void step(SSL *ssl, int *done, int *failed, char *why, size_t n)
{
    if (*done || *failed)
        return;
    int rc = SSL_do_handshake(ssl);
    if (rc == 1) {
        *done = 1;
        return;
    }
    int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
    *failed = 1;
    tls_describe_failure(ssl, e, why, n);
}

/* Returns 1 when both sides completed the handshake. */
static int handshake(conn *c)
{
    for (int i = 0; i < 100; i++) {
        step(c->cli, &c->cli_done, &c->cli_failed, c->cli_why, sizeof c->cli_why);
        step(c->srv, &c->srv_done, &c->srv_failed, c->srv_why, sizeof c->srv_why);
        if ((c->cli_done && c->srv_done) || (c->cli_failed && (c->srv_failed || c->srv_done))
            || (c->srv_failed && (c->cli_failed || c->cli_done)))
            break;
    }
    return c->cli_done && c->srv_done;
}

/* After the handshake, let each side read once: the client takes its TLS 1.3 session tickets,
 * the server settles into "waiting for a command", as an idle connection does. */
static void settle(conn *c)
{
    char b[16];
    for (int i = 0; i < 3; i++) {
        if (c->cli)
            assert_true(SSL_read(c->cli, b, sizeof b) <= 0);
        if (c->srv)
            assert_true(SSL_read(c->srv, b, sizeof b) <= 0);
    }
    ERR_clear_error();
}

static void conn_close(conn *c)
{
    SSL_free(c->srv);
    SSL_free(c->cli);
    if (c->fd[0] >= 0)
        close(c->fd[0]);
    if (c->fd[1] >= 0)
        close(c->fd[1]);
    ERR_clear_error();
}

static int peer_has_name(SSL *cli, const char *name)
{
    X509 *x = SSL_get0_peer_certificate(cli);
    return x && X509_check_host(x, name, 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
}

/* ---------------------------------------------------------------------------------------- */

static void handshake_tls13(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("icloud", PKI_VALID, 0, 0), *c = client_ctx(0, 0);
    conn k;
    conn_open(&k, s, c, "imap.mail.me.com");
    assert_true(handshake(&k));
    char d[256];
    tls_describe_session(k.srv, d, sizeof d);
    assert_string_equal(d, "TLSv1.3 TLS_AES_256_GCM_SHA384 sni=imap.mail.me.com");
    tls_describe_session(k.cli, d, sizeof d);
    assert_string_equal(d, "TLSv1.3 TLS_AES_256_GCM_SHA384 sni=imap.mail.me.com");
    assert_int_equal(tls_describe_verify(k.cli, d, sizeof d), TLS_VERIFY_OK);
    assert_string_equal(d, "ok");
    /* Application data flows both ways. */
    assert_int_equal(SSL_write(k.srv, "* OK ready\r\n", 12), 12);
    char buf[32];
    assert_int_equal(SSL_read(k.cli, buf, sizeof buf), 12);
    assert_memory_equal(buf, "* OK ready\r\n", 12);
    /* Truncation: the full length is returned, the text cut to fit. */
    assert_int_equal(tls_describe_session(k.srv, d, 8), 51);
    assert_string_equal(d, "TLSv1.3");
    conn_close(&k);
    SSL_CTX_free(s);
    SSL_CTX_free(c);
}

static void handshake_tls12(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("icloud", PKI_VALID, 0, 0);
    SSL_CTX *c = client_ctx(0, TLS1_2_VERSION);
    conn k;
    conn_open(&k, s, c, "smtp.mail.me.com");
    assert_true(handshake(&k));
    char d[256];
    tls_describe_session(k.srv, d, sizeof d);
    assert_string_equal(d, "TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 sni=smtp.mail.me.com");
    conn_close(&k);
    /* A server limited to TLS 1.2 against a client that offers 1.3: 1.2. */
    SSL_CTX *s12 = server_ctx("icloud", PKI_VALID, 0, TLS1_2_VERSION), *c13 = client_ctx(0, 0);
    conn_open(&k, s12, c13, "smtp.mail.me.com");
    assert_true(handshake(&k));
    assert_string_equal(SSL_get_version(k.cli), "TLSv1.2");
    conn_close(&k);
    SSL_CTX_free(s);
    SSL_CTX_free(c);
    SSL_CTX_free(s12);
    SSL_CTX_free(c13);
}

static void sni_picks_the_certificate(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("icloud", PKI_VALID, 0, 0), *c = client_ctx(0, 0);
    static const struct { const char *host, *san; } cases[] = {
        {"smtp.office365.com", "outlook.office365.com"},
        {"outlook.office365.com", "smtp.office365.com"},
        {"imap.mail.me.com", "smtp.mail.me.com"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conn k;
        conn_open(&k, s, c, cases[i].host);
        assert_true(handshake(&k));
        assert_true(peer_has_name(k.cli, cases[i].san));  /* the profile's cert, not just a name */
        conn_close(&k);
    }
    /* A name no certificate covers: the default (first) one, which the client refuses... */
    conn k;
    conn_open(&k, s, c, "mail.example.org");
    assert_false(handshake(&k));
    assert_true(k.cli_failed);
    assert_non_null(strstr(k.cli_why, "verify=hostname-mismatch"));
    conn_close(&k);
    /* ... and an insecure client shows to be the first profile's. */
    SSL_CTX *ci = client_ctx(1, 0);
    conn_open(&k, s, ci, "mail.example.org");
    assert_true(handshake(&k));
    assert_true(peer_has_name(k.cli, "imap.mail.me.com"));
    conn_close(&k);
    /* The other profile first: it becomes the default. */
    SSL_CTX *sx = server_ctx("exchange", PKI_VALID, 0, 0);
    conn_open(&k, sx, ci, "mail.example.org");
    assert_true(handshake(&k));
    assert_true(peer_has_name(k.cli, "outlook.office365.com"));
    char d[256];
    tls_describe_session(k.srv, d, sizeof d);
    assert_string_equal(d, "TLSv1.3 TLS_AES_256_GCM_SHA384 sni=mail.example.org");
    conn_close(&k);
    SSL_CTX_free(s);
    SSL_CTX_free(sx);
    SSL_CTX_free(c);
    SSL_CTX_free(ci);
}

static void ip_literal_sends_no_sni(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx(NULL, PKI_VALID, 0, 0), *c = client_ctx(0, 0);
    static const char *const hosts[] = {"127.0.0.1", "::1", "[::1]", "localhost"};
    for (size_t i = 0; i < 4; i++) {
        conn k;
        conn_open(&k, s, c, hosts[i]);
        if (!handshake(&k))
            fail_msg("%s: client %s / server %s", hosts[i], k.cli_why, k.srv_why);
        char d[256];
        tls_describe_session(k.srv, d, sizeof d);
        assert_string_equal(d, i < 3 ? "TLSv1.3 TLS_AES_256_GCM_SHA384 sni=-"
                                     : "TLSv1.3 TLS_AES_256_GCM_SHA384 sni=localhost");
        conn_close(&k);
    }
    /* An IP the certificate does not hold. */
    conn k;
    conn_open(&k, s, c, "127.0.0.2");
    assert_false(handshake(&k));
    char d[256];
    assert_int_equal(tls_describe_verify(k.cli, d, sizeof d), TLS_VERIFY_HOSTNAME_MISMATCH);
    assert_string_equal(d, "hostname-mismatch (IP address mismatch)");
    conn_close(&k);
    SSL_CTX_free(s);
    SSL_CTX_free(c);
}

/* The three certificates made to fail, each failing the client check it is for. */
static void client_rejects_bad_certificates(void **state)
{
    (void)state;
    static const struct {
        pki_variant v;
        tls_verify_class cls;
        const char *verify, *cli, *srv;
    } cases[] = {
        {PKI_UNTRUSTED, TLS_VERIFY_UNTRUSTED, "untrusted (unable to get local issuer certificate)",
         "reason=\"certificate verify failed\" alert-sent=unknown_ca verify=untrusted",
         "reason=\"tlsv1 alert unknown ca\" alert-received=unknown_ca"},
        {PKI_WRONG_HOST, TLS_VERIFY_HOSTNAME_MISMATCH, "hostname-mismatch (hostname mismatch)",
         "reason=\"certificate verify failed\" alert-sent=bad_certificate "
         "verify=hostname-mismatch",
         "reason=\"sslv3 alert bad certificate\" alert-received=bad_certificate"},
        {PKI_EXPIRED, TLS_VERIFY_EXPIRED, "expired (certificate has expired)",
         "reason=\"certificate verify failed\" alert-sent=certificate_expired verify=expired",
         "reason=\"sslv3 alert certificate expired\" alert-received=certificate_expired"},
    };
    SSL_CTX *c = client_ctx(0, 0), *insecure = client_ctx(1, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        SSL_CTX *s = server_ctx("icloud", cases[i].v, 0, 0);
        conn k;
        conn_open(&k, s, c, "imap.mail.me.com");
        assert_false(handshake(&k));
        assert_true(k.cli_failed && k.srv_failed);
        char d[256];
        assert_int_equal(tls_describe_verify(k.cli, d, sizeof d), cases[i].cls);
        assert_string_equal(d, cases[i].verify);
        assert_string_equal(k.cli_why, cases[i].cli);
        assert_string_equal(k.srv_why, cases[i].srv);
        conn_close(&k);
        /* An insecure client goes on, but still knows what it accepted. */
        conn_open(&k, s, insecure, "imap.mail.me.com");
        assert_true(handshake(&k));
        assert_int_equal(tls_describe_verify(k.cli, d, sizeof d), cases[i].cls);
        conn_close(&k);
        SSL_CTX_free(s);
    }
    SSL_CTX_free(c);
    SSL_CTX_free(insecure);
}

static void version_mismatch_and_eof(void **state)
{
    (void)state;
    SSL_CTX *s13 = server_ctx("icloud", PKI_VALID, TLS1_3_VERSION, 0);
    SSL_CTX *c12 = client_ctx(0, TLS1_2_VERSION);
    conn k;
    conn_open(&k, s13, c12, "imap.mail.me.com");
    assert_false(handshake(&k));
    assert_string_equal(k.srv_why, "reason=\"unsupported protocol\" alert-sent=protocol_version");
    assert_string_equal(k.cli_why, "reason=\"tlsv1 alert protocol version\" "
                                   "alert-received=protocol_version");
    conn_close(&k);
    /* A client that sends its ClientHello and hangs up. */
    SSL_CTX *c = client_ctx(0, 0);
    conn_open(&k, s13, c, "imap.mail.me.com");
    step(k.cli, &k.cli_done, &k.cli_failed, k.cli_why, sizeof k.cli_why);
    shutdown(k.fd[1], SHUT_WR);
    for (int i = 0; i < 3; i++)
        step(k.srv, &k.srv_done, &k.srv_failed, k.srv_why, sizeof k.srv_why);
    assert_true(k.srv_failed);
    /* OpenSSL answers a half-closed handshake with a decode_error alert. */
    assert_string_equal(k.srv_why, "reason=\"unexpected eof while reading\" "
                                   "alert-sent=decode_error");
    conn_close(&k);
    SSL_CTX_free(s13);
    SSL_CTX_free(c12);
    SSL_CTX_free(c);
}

/* What OpenSSL says when a client speaks plaintext to an implicit-TLS port, and what the
 * sniffer says about the same bytes first. */
static void plaintext_on_tls_port(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("icloud", PKI_VALID, 0, 0), *c = client_ctx(0, 0);
    static const struct { const char *bytes, *reason; } cases[] = {
        {"a1 CAPABILITY\r\n", "reason=\"wrong version number\""},
        {"GET / HTTP/1.1\r\n\r\n", "reason=\"http request\""},
    };
    for (size_t i = 0; i < 2; i++) {
        conn k;
        conn_open(&k, s, c, NULL);
        size_t len = strlen(cases[i].bytes);
        assert_int_equal(write(k.fd[1], cases[i].bytes, len), (ssize_t)len);
        char peek[16];
        ssize_t got = recv(k.fd[0], peek, sizeof peek, MSG_PEEK);
        assert_true(got > 0);
        assert_int_equal(tlssniff_classify(peek, (size_t)got, 0), TLSSNIFF_PLAINTEXT);
        step(k.srv, &k.srv_done, &k.srv_failed, k.srv_why, sizeof k.srv_why);
        assert_true(k.srv_failed);
        assert_string_equal(k.srv_why, cases[i].reason);
        conn_close(&k);
    }
    SSL_CTX_free(s);
    SSL_CTX_free(c);
}

/* A peer-chosen SNI name cannot break a transcript line. */
static void hostile_sni_is_escaped(void **state)
{
    (void)state;
    SSL_CTX *s = server_ctx("icloud", PKI_VALID, 0, 0), *c = client_ctx(1, 0);
    conn k;
    conn_open(&k, s, c, NULL);
    assert_int_equal(SSL_set_tlsext_host_name(k.cli, "evil\r\n0.000 conn 9 \"x\""), 1);
    assert_true(handshake(&k));
    char d[256];
    tls_describe_session(k.srv, d, sizeof d);
    assert_string_equal(d, "TLSv1.3 TLS_AES_256_GCM_SHA384 "
                           "sni=evil\\x0d\\x0a0.000\\x20conn\\x209\\x20\\x22x\\x22");
    conn_close(&k);
    SSL_CTX_free(s);
    SSL_CTX_free(c);
}

/* Resume with the session from a first connection: on by default, off with no_tickets. */
static int resumes(SSL_CTX *s, SSL_CTX *c, int max)
{
    (void)max;
    conn k;
    conn_open(&k, s, c, "imap.mail.me.com");
    assert_true(handshake(&k));
    settle(&k);
    SSL_SESSION *sess = SSL_get1_session(k.cli);
    int resumable = sess && SSL_SESSION_is_resumable(sess);
    /* Without close_notify OpenSSL marks the session unresumable (ssl_clear_bad_session). */
    SSL_shutdown(k.cli);
    conn_close(&k);
    conn_open(&k, s, c, "imap.mail.me.com");
    if (resumable)
        assert_int_equal(SSL_set_session(k.cli, sess), 1);
    assert_true(handshake(&k));
    char d[256];
    tls_describe_session(k.srv, d, sizeof d);
    int reused = SSL_session_reused(k.srv);
    assert_int_equal(reused, strstr(d, " resumed") != NULL);
    conn_close(&k);
    SSL_SESSION_free(sess);
    return reused;
}

static void session_tickets(void **state)
{
    (void)state;
    SSL_CTX *c = client_ctx(0, 0), *c12 = client_ctx(0, TLS1_2_VERSION);
    SSL_CTX *s = server_ctx("icloud", PKI_VALID, 0, 0);
    assert_true(resumes(s, c, 0));
    assert_true(resumes(s, c12, TLS1_2_VERSION));
    tls_server_config off = {.no_tickets = 1};
    SSL_CTX *soff = tls_server_ctx_from_pki(pki, "icloud", PKI_VALID, &off, err, sizeof err);
    assert_non_null(soff);
    assert_false(resumes(soff, c, 0));
    assert_false(resumes(soff, c12, TLS1_2_VERSION));
    SSL_CTX_free(s);
    SSL_CTX_free(soff);
    SSL_CTX_free(c);
    SSL_CTX_free(c12);
}

/* OpenSSL heap held per idle server connection, with and without SSL_MODE_RELEASE_BUFFERS. */
static size_t idle_bytes_per_conn(int release)
{
    enum { N = 200 };
    SSL_CTX *s = server_ctx("icloud", PKI_VALID, 0, 0), *c = client_ctx(0, 0);
    if (!release)
        SSL_CTX_clear_mode(s, SSL_MODE_RELEASE_BUFFERS);
    conn *k = calloc(N, sizeof *k);
    size_t before = ossl_live;
    for (int i = 0; i < N; i++) {
        conn_open(&k[i], s, c, "imap.mail.me.com");
        assert_true(handshake(&k[i]));
        settle(&k[i]);
        /* Keep only the server side: as in `serve`, the client lives in another process. */
        SSL_free(k[i].cli);
        k[i].cli = NULL;
    }
    size_t per = (ossl_live - before) / N;
    for (int i = 0; i < N; i++)
        conn_close(&k[i]);
    free(k);
    SSL_CTX_free(s);
    SSL_CTX_free(c);
    return per;
}

static void idle_memory(void **state)
{
    (void)state;
    size_t with = idle_bytes_per_conn(1), without = idle_bytes_per_conn(0);
    print_message("OpenSSL heap per idle TLS 1.3 server connection: %zu bytes with "
                  "SSL_MODE_RELEASE_BUFFERS, %zu without\n", with, without);
    assert_true(with < 16 * 1024);
    assert_true(without > 3 * with);
}

static void config_errors(void **state)
{
    (void)state;
    tls_cert_files missing = {"/nonexistent/cert.pem", pki->profiles[0].pair[PKI_VALID].key};
    tls_server_config cfg = {.certs = &missing, .ncerts = 1};
    assert_null(tls_server_ctx_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/cert.pem: load certificate chain: error:"));
    tls_cert_files mixed = {pki->profiles[0].pair[PKI_VALID].cert,
                            pki->profiles[1].pair[PKI_VALID].key};
    cfg.certs = &mixed;
    assert_null(tls_server_ctx_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "exchange/valid.key: does not match the certificate in "));
    /* The second of two fails: the first context is freed again (ASan would see a leak). */
    tls_cert_files two[2] = {{pki->profiles[0].pair[PKI_VALID].cert,
                              pki->profiles[0].pair[PKI_VALID].key},
                             {pki->profiles[1].pair[PKI_VALID].cert, "/nonexistent/key.pem"}};
    cfg.certs = two;
    cfg.ncerts = 2;
    assert_null(tls_server_ctx_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/key.pem: load private key: error:"));
    cfg.ncerts = 0;
    assert_null(tls_server_ctx_new(&cfg, err, sizeof err));
    assert_string_equal(err, "tls: a server needs 1 to 17 certificates (0 given)");
    tls_server_config backwards = {.min_version = TLS1_3_VERSION, .max_version = TLS1_2_VERSION};
    assert_null(tls_server_ctx_from_pki(pki, NULL, PKI_VALID, &backwards, err, sizeof err));
    assert_string_equal(err, "tls: minimum version TLSv1.3 is above maximum TLSv1.2");
    assert_null(tls_server_ctx_from_pki(pki, "gmail", PKI_VALID, NULL, err, sizeof err));
    assert_string_equal(err, "tls: no profile 'gmail' in the PKI");
    assert_null(tls_server_ctx_from_pki(pki, NULL, (pki_variant)9, NULL, err, sizeof err));
    assert_string_equal(err, "tls: unknown certificate variant 9");
    tls_client_config none = {0};
    assert_null(tls_client_ctx_new(&none, err, sizeof err));
    assert_non_null(strstr(err, "no CA file"));
    tls_client_config bad_ca = {.ca_file = pki->profiles[0].pair[PKI_VALID].key};
    assert_null(tls_client_ctx_new(&bad_ca, err, sizeof err));
    assert_non_null(strstr(err, "icloud/valid.key: load CA certificates: error:"));
    /* The wrong-host variant needs no profile. */
    SSL_CTX *w = tls_server_ctx_from_pki(pki, "gmail", PKI_WRONG_HOST, NULL, err, sizeof err);
    assert_non_null(w);
    SSL_CTX_free(w);
    /* TLS 1.0 can be asked for (security level 0) and is then negotiated. */
    SSL_CTX *s10 = server_ctx("icloud", PKI_VALID, TLS1_VERSION, TLS1_VERSION);
    tls_client_config old = {.ca_file = pki->ca_cert, .min_version = TLS1_VERSION,
                             .max_version = TLS1_VERSION};
    SSL_CTX *c10 = tls_client_ctx_new(&old, err, sizeof err);
    assert_non_null(c10);
    conn k;
    conn_open(&k, s10, c10, "imap.mail.me.com");
    if (!handshake(&k))
        fail_msg("TLS 1.0: client %s / server %s", k.cli_why, k.srv_why);
    assert_string_equal(SSL_get_version(k.srv), "TLSv1");
    conn_close(&k);
    SSL_CTX_free(s10);
    SSL_CTX_free(c10);
}

static void names(void **state)
{
    (void)state;
    assert_int_equal(tls_version_parse("1.2"), TLS1_2_VERSION);
    assert_int_equal(tls_version_parse("TLSv1.3"), TLS1_3_VERSION);
    assert_int_equal(tls_version_parse("tls1"), TLS1_VERSION);
    assert_int_equal(tls_version_parse("1.4"), 0);
    assert_int_equal(tls_version_parse(NULL), 0);
    assert_string_equal(tls_version_name(TLS1_1_VERSION), "TLSv1.1");
    assert_string_equal(tls_alert_name(48), "unknown_ca");
    assert_string_equal(tls_alert_name(0), "close_notify");
    assert_null(tls_alert_name(255));
    assert_int_equal(tls_verify_classify(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
                     TLS_VERIFY_UNTRUSTED);
    assert_int_equal(tls_verify_classify(X509_V_ERR_CERT_NOT_YET_VALID),
                     TLS_VERIFY_NOT_YET_VALID);
    assert_int_equal(tls_verify_classify(X509_V_ERR_CERT_SIGNATURE_FAILURE), TLS_VERIFY_OTHER);
    assert_string_equal(tls_verify_class_name(TLS_VERIFY_HOSTNAME_MISMATCH),
                        "hostname-mismatch");
}

/* ---------------------------------------------------------------------------------------- */
/* Sniffing */

/* The ClientHello an OpenSSL client writes first, captured through a memory BIO. */
static size_t openssl_hello(int max_version, const char *host, char *out, size_t cap)
{
    tls_client_config cfg = {.insecure = 1, .max_version = max_version};
    SSL_CTX *ctx = tls_client_ctx_new(&cfg, err, sizeof err);
    SSL *ssl = SSL_new(ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rb, wb);
    if (host)
        assert_int_equal(tls_client_set_host(ssl, host, err, sizeof err), 0);
    assert_int_equal(SSL_connect(ssl), -1);
    char *data;
    long len = BIO_get_mem_data(wb, &data);
    assert_true(len > 0 && (size_t)len <= cap);
    memcpy(out, data, (size_t)len);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return (size_t)len;
}

typedef struct hello_ctx {
    tlssniff_hello h;
    mr_error e;
} hello_ctx;

static int hello_step(void *vctx, const char *buf, size_t len)
{
    hello_ctx *c = vctx;
    return tlssniff_parse_hello(buf, len, &c->h, &c->e);
}

static void sniff_openssl_hellos(void **state)
{
    (void)state;
    char buf[4096];
    static const struct { int max; const char *host; uint16_t version; } cases[] = {
        {0, "imap.mail.me.com", 0x0304},
        {TLS1_2_VERSION, "smtp.office365.com", 0x0303},
        {0, "127.0.0.1", 0x0304},  /* no SNI for an IP literal */
    };
    for (size_t i = 0; i < 3; i++) {
        size_t n = openssl_hello(cases[i].max, cases[i].host, buf, sizeof buf);
        assert_int_equal(tlssniff_classify(buf, n, 0), TLSSNIFF_TLS_HELLO);
        for (size_t k = 0; k < 6; k++)  /* undecided until the handshake type byte */
            assert_int_equal(tlssniff_classify(buf, k, 0), TLSSNIFF_NEED_MORE);
        hello_ctx hc;
        /* Every prefix, each in a guard-page copy: NEED_MORE until the record is whole. */
        assert_int_equal(test_prefixes(hello_step, &hc, buf, n), (int)n);
        assert_int_equal(hc.h.max_version, cases[i].version);
        assert_int_equal(hc.h.legacy_version, 0x0303);
        if (i < 2) {
            assert_int_equal(hc.h.sni.n, strlen(cases[i].host));
            assert_memory_equal(hc.h.sni.p, cases[i].host, hc.h.sni.n);
        } else {
            assert_null(hc.h.sni.p);
        }
    }
}

static char *read_seed(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* The seeds captured by ci/capture-tls-hellos from openssl s_client, curl and Python. */
static void sniff_captured_seeds(void **state)
{
    (void)state;
    const char *dir = "corpora/tls_sniff";
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("%s: %s (run the tests from the repository root)", dir, strerror(errno));
    int hellos = 0, plains = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len;
        char *buf = read_seed(dir, e->d_name, &len);
        tlssniff_kind k = tlssniff_classify(buf, len, 0);
        if (!strncmp(e->d_name, "hello-", 6)) {
            hellos++;
            if (k != TLSSNIFF_TLS_HELLO)
                fail_msg("%s: %s", e->d_name, tlssniff_kind_name(k));
            tlssniff_hello h;
            mr_error me;
            if (tlssniff_parse_hello(buf, len, &h, &me) != (int)len)
                fail_msg("%s: %s at %zu", e->d_name, me.rule, me.offset);
            int want_sni = !strstr(e->d_name, "noservername");
            assert_int_equal(h.sni.p != NULL, want_sni);
            if (want_sni && !(h.sni.n == 16 && !memcmp(h.sni.p, "imap.mail.me.com", 16))
                && !(h.sni.n == 16 && !memcmp(h.sni.p, "smtp.mail.me.com", 16)))
                fail_msg("%s: sni %.*s", e->d_name, (int)h.sni.n, h.sni.p);
            size_t nl = strlen(e->d_name);
            if (strstr(e->d_name, "tls1_2") || !strcmp(e->d_name + nl - 5, "-tls1"))
                assert_true(h.max_version <= 0x0303);
            else
                assert_int_equal(h.max_version, 0x0304);
        } else if (!strncmp(e->d_name, "plain-", 6)) {
            plains++;
            assert_int_equal(k, TLSSNIFF_PLAINTEXT);
        } else if (!strcmp(e->d_name, "synthetic-ssl2-hello")) {
            assert_int_equal(k, TLSSNIFF_SSL2_HELLO);
        }
        free(buf);
    }
    closedir(d);
    assert_true(hellos >= 5);
    assert_true(plains >= 5);
}

static void sniff_edges(void **state)
{
    (void)state;
    static const struct { const char *b; size_t n; int final; tlssniff_kind k; } cases[] = {
        {"", 0, 0, TLSSNIFF_NEED_MORE},
        {"", 0, 1, TLSSNIFF_UNKNOWN},
        {"\x16", 1, 0, TLSSNIFF_NEED_MORE},
        {"\x16\x03\x01", 3, 1, TLSSNIFF_TLS_HELLO},      /* cut short: still a TLS attempt */
        {"\x16\x03\x05", 3, 0, TLSSNIFF_UNKNOWN},        /* no such version */
        {"\x16\x02", 2, 0, TLSSNIFF_UNKNOWN},
        {"\x16\x03\x01\x00\x00", 5, 0, TLSSNIFF_UNKNOWN}, /* empty record */
        {"\x16\x03\x01\x40\x01", 5, 0, TLSSNIFF_UNKNOWN}, /* 2^14 + 1 */
        {"\x16\x03\x03\x00\x40\x02", 6, 0, TLSSNIFF_TLS_RECORD},  /* ServerHello */
        {"\x15\x03\x03\x00\x02", 5, 0, TLSSNIFF_TLS_RECORD},      /* alert */
        {"\x17\x03\x03\x48\x00", 5, 0, TLSSNIFF_TLS_RECORD},      /* 2^14 + 2048 */
        {"\x17\x03\x03\x48\x01", 5, 0, TLSSNIFF_UNKNOWN},
        {"a1", 2, 0, TLSSNIFF_NEED_MORE},
        {"a1", 2, 1, TLSSNIFF_PLAINTEXT},
        {"QUIT\r\n", 6, 0, TLSSNIFF_PLAINTEXT},
        {"\r\n", 2, 0, TLSSNIFF_PLAINTEXT},
        {"a1 NOOPX", 8, 0, TLSSNIFF_PLAINTEXT},
        {"a1\x00NOOP", 7, 0, TLSSNIFF_UNKNOWN},
        {"EHLO \xc3\xa9", 7, 0, TLSSNIFF_UNKNOWN},
        {"\x80", 1, 0, TLSSNIFF_NEED_MORE},
        {"\x80", 1, 1, TLSSNIFF_UNKNOWN},
        {"\x80\x2e\x01\x03\x01", 5, 0, TLSSNIFF_SSL2_HELLO},
        {"\x80\x2e\x01\x00\x02", 5, 0, TLSSNIFF_SSL2_HELLO},
        {"\x80\x2e\x04", 3, 0, TLSSNIFF_UNKNOWN},
        {"\x80\x02", 2, 0, TLSSNIFF_UNKNOWN},
        {"\x00\x00", 2, 0, TLSSNIFF_UNKNOWN},
        {"\x05\x01\x00", 3, 0, TLSSNIFF_UNKNOWN},            /* SOCKS5 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *g = guard_dup(cases[i].b, cases[i].n);
        tlssniff_kind k = tlssniff_classify(g, cases[i].n, cases[i].final);
        guard_free(g, cases[i].n);
        if (k != cases[i].k)
            fail_msg("case %zu: got %s, want %s", i, tlssniff_kind_name(k),
                     tlssniff_kind_name(cases[i].k));
    }
    assert_string_equal(tlssniff_kind_name(TLSSNIFF_TLS_HELLO), "tls-client-hello");
    assert_string_equal(tlssniff_version_name(0x0304), "TLSv1.3");
    assert_string_equal(tlssniff_version_name(0x0a0a), "unknown");
}

static void sniff_hello_errors(void **state)
{
    (void)state;
    char buf[4096];
    size_t n = openssl_hello(0, "imap.mail.me.com", buf, sizeof buf);
    hello_ctx hc;
    /* A record that says it is longer than it is: fine until the bytes run out. */
    assert_int_equal(tlssniff_parse_hello(buf, n - 1, &hc.h, &hc.e), MR_NEED_MORE);
    /* A handshake length that disagrees with the record. */
    buf[8]++;
    assert_int_equal(tlssniff_parse_hello(buf, n, &hc.h, &hc.e), MR_ERROR);
    assert_int_equal(hc.e.code, MR_E_LIMIT_LINE);
    assert_string_equal(hc.e.rule, "ClientHello in one record");
    buf[8] -= 2;
    assert_int_equal(tlssniff_parse_hello(buf, n, &hc.h, &hc.e), MR_ERROR);
    assert_string_equal(hc.e.rule, "Handshake.length");
    buf[8]++;
    /* Not a ClientHello. */
    buf[5] = 2;
    assert_int_equal(tlssniff_parse_hello(buf, n, &hc.h, &hc.e), MR_ERROR);
    assert_string_equal(hc.e.rule, "Handshake.msg_type");
    assert_int_equal(hc.e.offset, 5);
    buf[5] = 1;
    /* Plaintext fails at the first byte. */
    assert_int_equal(tlssniff_parse_hello("EHLO x\r\n", 8, &hc.h, &hc.e), MR_ERROR);
    assert_string_equal(hc.e.rule, "TLSPlaintext.type");
    assert_int_equal(tlssniff_parse_hello("\x16\x03\x01\x40\x01", 5, &hc.h, &hc.e), MR_ERROR);
    assert_int_equal(hc.e.code, MR_E_LIMIT_LINE);
    /* A cipher_suites vector running past the message. */
    size_t suites_at = 5 + 4 + 2 + 32 + 1 + (unsigned char)buf[5 + 4 + 2 + 32];
    buf[suites_at] = (char)0x7f;
    assert_int_equal(tlssniff_parse_hello(buf, n, &hc.h, &hc.e), MR_ERROR);
    assert_string_equal(hc.e.rule, "ClientHello.cipher_suites");
    assert_int_equal(hc.e.offset, suites_at + 2);
}

int main(void)
{
    /* Before OpenSSL allocates anything, so every block is counted. */
    if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free)) {
        fprintf(stderr, "CRYPTO_set_mem_functions failed\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_tls13),
        cmocka_unit_test(handshake_tls12),
        cmocka_unit_test(sni_picks_the_certificate),
        cmocka_unit_test(ip_literal_sends_no_sni),
        cmocka_unit_test(client_rejects_bad_certificates),
        cmocka_unit_test(version_mismatch_and_eof),
        cmocka_unit_test(plaintext_on_tls_port),
        cmocka_unit_test(hostile_sni_is_escaped),
        cmocka_unit_test(session_tickets),
        cmocka_unit_test(idle_memory),
        cmocka_unit_test(config_errors),
        cmocka_unit_test(names),
        cmocka_unit_test(sniff_openssl_hellos),
        cmocka_unit_test(sniff_captured_seeds),
        cmocka_unit_test(sniff_edges),
        cmocka_unit_test(sniff_hello_errors),
    };
    return cmocka_run_group_tests_name("tls", tests, pki_setup, pki_teardown);
}
