/* run_peer.c -- scripted test peers for the interpreter's tests (run_peer.h). */
#include "run_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>

#include "servers/tls.h"

int peer_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
        abort();
    *port = ntohs(sa.sin_port);
    return fd;
}

typedef struct io {
    int fd;
    SSL *ssl;
} io;

static ssize_t io_read(io *c, char *b, size_t n)
{
    if (c->ssl) {
        int r = SSL_read(c->ssl, b, (int)n);
        return r > 0 ? r : 0;
    }
    return recv(c->fd, b, n, 0);
}

static void io_write(io *c, const char *p, size_t n)
{
    if (c->ssl)
        SSL_write(c->ssl, p, (int)n);
    else if (send(c->fd, p, n, MSG_NOSIGNAL) < 0)
        return;
}

/* One byte at a time: nothing is read past the line, so a later TLS handshake finds its
 * bytes still in the socket. */
static ssize_t read_line(io *c, char *line, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        char ch;
        if (io_read(c, &ch, 1) != 1)
            return n ? (ssize_t)n : -1;
        line[n++] = ch;
        if (ch == '\n')
            break;
    }
    line[n] = '\0';
    return (ssize_t)n;
}

static int do_tls(io *c, const peer_tls *t, int server)
{
    char err[256];
    SSL_CTX *ctx;
    if (server) {
        tls_cert_files f = {t->cert, t->key};
        tls_server_config cfg = {.certs = &f, .ncerts = 1};
        ctx = tls_server_ctx_new(&cfg, err, sizeof err);
    } else {
        tls_client_config cfg = {.ca_file = t->ca_file};
        ctx = tls_client_ctx_new(&cfg, err, sizeof err);
    }
    if (!ctx)
        return -1;
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    SSL_set_fd(c->ssl, c->fd);
    if (!server)
        tls_client_set_host(c->ssl, t->host ? t->host : "localhost", err, sizeof err);
    return (server ? SSL_accept(c->ssl) : SSL_connect(c->ssl)) == 1 ? 0 : -1;
}

/* The listening socket of a forked server, for the "A" action. */
static int peer_lfd = -1;

int peer_play(int fd, const char *const *actions, const peer_tls *tls, int server)
{
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    io c = {fd, NULL};
    char line[8192];
    for (size_t i = 0; actions[i]; i++) {
        const char *a = actions[i];
        switch (a[0]) {
        case 'S': io_write(&c, a + 2, strlen(a + 2)); break;
        case 'A':
            if (c.ssl) {
                SSL_free(c.ssl);
                c.ssl = NULL;
            }
            close(c.fd);
            if (peer_lfd < 0 || (c.fd = accept(peer_lfd, NULL, NULL)) < 0)
                return 9;
            setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            break;
        case 'R': read_line(&c, line, sizeof line); break;
        case 'E': {
            ssize_t n = read_line(&c, line, sizeof line);
            if (n > 0) {
                const char *pre = a[1] == ':' ? a + 2 : "ECHO ";
                io_write(&c, pre, strlen(pre));
                io_write(&c, line, (size_t)n);
            }
            break;
        }
        case 'W': {
            long ms = atol(a + 2);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            break;
        }
        case 'T':
            if (do_tls(&c, tls, server) != 0) {
                printf("tls failed\n");
                return 7;
            }
            break;
        case 'D':
            while (io_read(&c, line, sizeof line) > 0)
                ;
            break;
        case 'O': printf("%s\n", a + 2); fflush(stdout); break;
        case 'X': return atoi(a + 2);
        default: break;
        }
    }
    if (c.ssl) {
        SSL_shutdown(c.ssl);
        SSL_free(c.ssl);
    }
    return 0;
}

pid_t peer_serve(int lfd, const char *const *actions, const peer_tls *tls)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    signal(SIGPIPE, SIG_IGN);
    struct timeval tv = {10, 0};
    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        _exit(9);
    peer_lfd = lfd;
    int st = peer_play(fd, actions, tls, 1);
    close(fd);
    _exit(st);
}

pid_t peer_client(int port, const char *const *actions, const peer_tls *tls, const char *out_path)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    signal(SIGPIPE, SIG_IGN);
    if (out_path) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o >= 0) {
            dup2(o, 1);
            close(o);
        }
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        printf("connect failed: %s\n", strerror(errno));
        fflush(stdout);
        _exit(8);
    }
    int st = peer_play(fd, actions, tls, 0);
    fflush(stdout);
    close(fd);
    _exit(st);
}

int peer_reap(pid_t pid, int ms)
{
    int status;
    for (int waited = 0; waited < ms; waited += 5) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        struct timespec ts = {0, 5000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

void peer_stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
