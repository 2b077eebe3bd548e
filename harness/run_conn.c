/* run_conn.c -- sockets and TLS with deadlines for the scenario interpreter (run_conn.h). */
#include "harness/run_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "servers/tls.h"

int64_t run_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double run_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Milliseconds left before deadline, for poll(): 0 when it has passed. */
static int left_ms(int64_t deadline)
{
    int64_t left = deadline - run_now_ms();
    if (left <= 0)
        return 0;
    return left > 3600000 ? 3600000 : (int)left;
}

/* Wait for fd to become readable (events POLLIN) or writable (POLLOUT) before deadline.
 * Returns 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, left_ms(deadline));
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

void run_conn_init(run_conn *c, int fd)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void run_conn_close(run_conn *c)
{
    if (c->ssl) {
        /* One try at close_notify; the peer may be gone, and we never wait for its answer. */
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
        ERR_clear_error();
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

int run_conn_connect(int port, int64_t deadline, int *fd, char *err, size_t errlen)
{
    *fd = -1;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return RUN_IO_ERROR;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = connect(s, (struct sockaddr *)&sa, sizeof sa);
    if (r != 0 && errno == EINPROGRESS) {
        int w = wait_fd(s, POLLOUT, deadline);
        if (w == 0) {
            close(s);
            return RUN_IO_TIMEOUT;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (w < 0 || getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
            soerr = errno;
        errno = soerr;
        r = soerr ? -1 : 0;
    }
    if (r != 0) {
        int e = errno;
        close(s);
        if (e == ECONNREFUSED)
            return RUN_CONN_REFUSED;
        if (e == ETIMEDOUT)
            return RUN_IO_TIMEOUT;
        snprintf(err, errlen, "connect 127.0.0.1:%d: %s", port, strerror(e));
        return RUN_IO_ERROR;
    }
    *fd = s;
    return RUN_IO_OK;
}

void run_conn_consume(run_conn *c, size_t n)
{
    if (n > run_conn_avail(c))
        n = run_conn_avail(c);
    c->off += n;
    c->consumed += n;
    if (c->off == c->len)
        c->off = c->len = 0;
}

/* Make room for at least one more read; RUN_IO_FULL when the cap is reached. */
static int make_room(run_conn *c)
{
    if (c->off > 0 && c->len == c->cap) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len < c->cap)
        return RUN_IO_OK;
    if (c->cap >= RUN_CONN_MAX_BUF)
        return RUN_IO_FULL;
    size_t ncap = c->cap ? c->cap * 2 : 16384;
    if (ncap > RUN_CONN_MAX_BUF)
        ncap = RUN_CONN_MAX_BUF;
    char *nb = realloc(c->buf, ncap);
    if (!nb) {
        snprintf(c->err, sizeof c->err, "out of memory");
        return RUN_IO_ERROR;
    }
    c->buf = nb;
    c->cap = ncap;
    return RUN_IO_OK;
}

/* One non-blocking read attempt: > 0 bytes, 0 would block (*want set), or a RUN_IO_ code. */
static int read_once(run_conn *c, short *want)
{
    char *dst = c->buf + c->len;
    size_t room = c->cap - c->len;
    *want = POLLIN;
    if (!c->ssl) {
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n > 0)
            return (int)n;
        if (n == 0)
            return RUN_IO_EOF;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        if (errno == ECONNRESET) {
            c->reset = 1;
            return RUN_IO_EOF;
        }
        snprintf(c->err, sizeof c->err, "recv: %s", strerror(errno));
        return RUN_IO_ERROR;
    }
    size_t got = 0;
    int r = SSL_read_ex(c->ssl, dst, room, &got);
    if (r == 1)
        return (int)got;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return 0;
    if (e == SSL_ERROR_WANT_WRITE) {
        *want = POLLOUT;
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return RUN_IO_EOF;
    unsigned long code = ERR_peek_error();
    if ((e == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET)) ||
        ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        /* The peer closed without close_notify: for the script that is still "closed". */
        c->reset = errno == ECONNRESET;
        ERR_clear_error();
        return RUN_IO_EOF;
    }
    tls_describe_failure(c->ssl, e, c->err, sizeof c->err);
    return RUN_IO_ERROR;
}

int run_conn_read(run_conn *c, int64_t deadline, const char **got)
{
    if (c->eof)
        return RUN_IO_EOF;
    for (;;) {
        int r = make_room(c);
        if (r != RUN_IO_OK)
            return r;
        short want;
        r = read_once(c, &want);
        if (r > 0) {
            if (got)
                *got = c->buf + c->len;
            c->len += (size_t)r;
            return r;
        }
        if (r == RUN_IO_EOF) {
            c->eof = 1;
            return r;
        }
        if (r < 0)
            return r;
        int w = wait_fd(c->fd, want, deadline);
        if (w == 0)
            return RUN_IO_TIMEOUT;
        if (w < 0) {
            snprintf(c->err, sizeof c->err, "poll: %s", strerror(errno));
            return RUN_IO_ERROR;
        }
    }
}

int run_conn_write(run_conn *c, const void *p, size_t n, int64_t deadline)
{
    const char *s = p;
    while (n > 0) {
        short want = POLLOUT;
        size_t done = 0;
        if (!c->ssl) {
            ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
            if (w > 0)
                done = (size_t)w;
            else if (errno == EPIPE || errno == ECONNRESET)
                return RUN_IO_EOF;
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                snprintf(c->err, sizeof c->err, "send: %s", strerror(errno));
                return RUN_IO_ERROR;
            }
        } else {
            int r = SSL_write_ex(c->ssl, s, n, &done);
            if (r != 1) {
                int e = SSL_get_error(c->ssl, r);
                done = 0;
                if (e == SSL_ERROR_WANT_READ)
                    want = POLLIN;
                else if (e != SSL_ERROR_WANT_WRITE) {
                    if (e == SSL_ERROR_SYSCALL && (errno == EPIPE || errno == ECONNRESET)) {
                        ERR_clear_error();
                        return RUN_IO_EOF;
                    }
                    tls_describe_failure(c->ssl, e, c->err, sizeof c->err);
                    return RUN_IO_ERROR;
                }
            }
        }
        s += done;
        n -= done;
        if (n == 0)
            break;
        if (done == 0) {
            int w = wait_fd(c->fd, want, deadline);
            if (w == 0)
                return RUN_IO_TIMEOUT;
            if (w < 0) {
                snprintf(c->err, sizeof c->err, "poll: %s", strerror(errno));
                return RUN_IO_ERROR;
            }
        }
    }
    return RUN_IO_OK;
}

int run_conn_tls(run_conn *c, SSL *ssl, int server, int64_t deadline, char *desc, size_t desclen,
                 int *alert_received)
{
    desc[0] = '\0';
    if (alert_received)
        *alert_received = -1;
    SSL_set_fd(ssl, c->fd);
    for (;;) {
        ERR_clear_error();
        int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
        if (r == 1) {
            c->ssl = ssl;
            return RUN_IO_OK;
        }
        int e = SSL_get_error(ssl, r);
        short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!want) {
            int sent;
            tls_alerts(ssl, &sent, alert_received ? alert_received : &sent);
            tls_describe_failure(ssl, e, desc, desclen);
            SSL_free(ssl);
            return RUN_IO_ERROR;
        }
        int w = wait_fd(c->fd, want, deadline);
        if (w <= 0) {
            snprintf(desc, desclen, "reason=\"%s\"", w == 0 ? "handshake timed out" : "poll failed");
            SSL_free(ssl);
            return w == 0 ? RUN_IO_TIMEOUT : RUN_IO_ERROR;
        }
    }
}
