/* run_mock.c -- the scenario's mock in a child process; the run transcript merge (run_mock.h). */
#include "harness/run_mock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "harness/run_conn.h"
#include "servers/mock.h"
#include "servers/transcript.h"

/* ---- the child ------------------------------------------------------------------------- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

static sc_proto sc_proto_of(profile_proto p)
{
    return p == PROFILE_SMTP ? SC_PROTO_SMTP : p == PROFILE_POP3 ? SC_PROTO_POP3 : SC_PROTO_IMAP;
}

/* Never returns. Reports on info (the write end), stops when stop (read end) closes. */
static void child_main(const profile *p, const char *state_dir, uint64_t seed,
                       const char *transcript_dir, const char *log_path, int info, int stop)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    FILE *out = fdopen(info, "w");
    FILE *log = log_path ? fopen(log_path, "a") : NULL;
    struct event_base *base = event_base_new();
    if (!out || !base) {
        if (out)
            fprintf(out, "error env cannot create the event loop\n");
        _exit(3);
    }
    mock_options mo = mock_options_default();
    mo.port_base = 0;
    mo.state_dir = state_dir;
    mo.transcript_dir = transcript_dir;
    mo.seed = seed;
    mo.log = log;
    char err[1024];
    int env_error = 0;
    mock *m = mock_start(base, p, &mo, err, sizeof err, &env_error);
    /* The mock's transcripts count from when its server was made, inside mock_start after
     * the store and the TLS contexts and just before the listeners are bound: now is that
     * origin plus the binding time (microseconds), so merged mock records land at most that
     * much late -- after the client-side record that caused them, never before. */
    fprintf(out, "t0 %.6f\n", run_now_s());
    if (!m) {
        for (char *c = err; *c; c++)
            if (*c == '\n')
                *c = ' ';
        fprintf(out, "error %s %s\n", env_error ? "env" : "profile", err);
        fclose(out);
        _exit(env_error ? 3 : 2);
    }
    fprintf(out, "ca %s\n", mock_ca_file(m));
    for (size_t i = 0; i < mock_listener_count(m); i++) {
        const mock_listener *ml = mock_listener_at(m, i);
        fprintf(out, "port %d %u %d\n", (int)sc_proto_of(ml->pl->proto), ml->pl->port, ml->port);
    }
    fprintf(out, "ready\n");
    fclose(out);
    struct event *ev = event_new(base, stop, EV_READ | EV_PERSIST, on_stop, base);
    event_add(ev, NULL);
    event_base_dispatch(base);
    event_free(ev);
    mock_free(m);
    event_base_free(base);
    if (log)
        fclose(log);
    _exit(0);
}

/* ---- the parent ------------------------------------------------------------------------ */

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A pipe whose ends are closed on exec (a client under test must not inherit them). */
static int cloexec_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

/* Read the child's report up to "ready" or "error". Returns 0, -1 (err filled). */
static int read_report(run_mock *m, int fd, int64_t deadline, char *err, size_t errlen,
                       int *env_error)
{
    char buf[16384];
    size_t len = 0;
    for (;;) {
        char *nl;
        while ((nl = memchr(buf, '\n', len))) {
            *nl = '\0';
            int proto, local;
            unsigned provider;
            if (strncmp(buf, "t0 ", 3) == 0) {
                m->t0 = strtod(buf + 3, NULL);
            } else if (strncmp(buf, "ca ", 3) == 0) {
                copy_str(m->ca_file, sizeof m->ca_file, buf + 3);
            } else if (sscanf(buf, "port %d %u %d", &proto, &provider, &local) == 3) {
                if (m->nports < RUN_MAX_PORTS)
                    m->ports[m->nports++] = (run_port){(sc_proto)proto, provider, local};
            } else if (strcmp(buf, "ready") == 0) {
                return 0;
            } else if (strncmp(buf, "error ", 6) == 0) {
                *env_error = strncmp(buf + 6, "env", 3) == 0;
                const char *msg = strchr(buf + 6, ' ');
                snprintf(err, errlen, "mock: %s", msg ? msg + 1 : buf);
                return -1;
            }
            size_t used = (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len - used);
            len -= used;
        }
        if (len == sizeof buf) {
            snprintf(err, errlen, "mock: report too long");
            return -1;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - run_now_ms();
        int r = left > 0 ? poll(&pf, 1, (int)(left > 60000 ? 60000 : left)) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *env_error = 1;
            snprintf(err, errlen, "mock: not ready in time");
            return -1;
        }
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *env_error = 1;
            snprintf(err, errlen, "mock: exited before it was ready");
            return -1;
        }
        len += (size_t)n;
    }
}

int run_mock_start(run_mock *m, const profile *p, const char *state_dir, uint64_t seed,
                   const char *transcript_dir, const char *log_path, int64_t deadline_ms,
                   char *err, size_t errlen, int *env_error)
{
    memset(m, 0, sizeof *m);
    m->pid = -1;
    m->stop_fd = -1;
    *env_error = 1;
    copy_str(m->transcript_dir, sizeof m->transcript_dir, transcript_dir);
    int info[2], stop[2];
    if (cloexec_pipe(info) != 0) {
        snprintf(err, errlen, "mock: pipe: %s", strerror(errno));
        return -1;
    }
    if (cloexec_pipe(stop) != 0) {
        snprintf(err, errlen, "mock: pipe: %s", strerror(errno));
        close(info[0]);
        close(info[1]);
        return -1;
    }
    fflush(NULL);   /* the child must not write our buffered output again */
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "mock: fork: %s", strerror(errno));
        close(info[0]);
        close(info[1]);
        close(stop[0]);
        close(stop[1]);
        return -1;
    }
    if (pid == 0) {
        close(info[0]);
        close(stop[1]);
        child_main(p, state_dir, seed, transcript_dir, log_path, info[1], stop[0]);
    }
    close(info[1]);
    close(stop[0]);
    m->pid = pid;
    m->stop_fd = stop[1];
    int r = read_report(m, info[0], deadline_ms, err, errlen, env_error);
    close(info[0]);
    if (r != 0)
        run_mock_stop(m);
    return r;
}

int run_mock_stop(run_mock *m)
{
    if (m->stop_fd >= 0)
        close(m->stop_fd);
    m->stop_fd = -1;
    if (m->pid <= 0)
        return 0;
    int status = 0;
    int64_t deadline = run_now_ms() + 2000;
    for (;;) {
        pid_t r = waitpid(m->pid, &status, WNOHANG);
        if (r == m->pid || (r < 0 && errno != EINTR))
            break;
        if (run_now_ms() >= deadline) {
            kill(m->pid, SIGKILL);
            waitpid(m->pid, &status, 0);
            status = -1;
            break;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    m->pid = -1;
    return status;
}

/* ---- the merged transcript -------------------------------------------------------------- */

typedef struct tr_line {
    double time;
    size_t seq;      /* input order, for a stable sort */
    char *text;      /* the whole record line, rewritten, with its LF */
} tr_line;

typedef struct tr_lines {
    tr_line *v;
    size_t n, cap;
} tr_lines;

static int push_line(tr_lines *L, double t, const char *text, size_t n)
{
    if (L->n == L->cap) {
        size_t nc = L->cap ? L->cap * 2 : 256;
        tr_line *nv = realloc(L->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        L->v = nv;
        L->cap = nc;
    }
    char *c = malloc(n + 2);
    if (!c)
        return -1;
    memcpy(c, text, n);
    c[n] = '\n';
    c[n + 1] = '\0';
    L->v[L->n] = (tr_line){t, L->n, c};
    L->n++;
    return 0;
}

/* Rewrite one record with a new time and conn id; rest starts after "conn <id> ". */
static int push_record(tr_lines *L, double t, unsigned id, const char *rest, size_t rn)
{
    char head[64];
    int hn = snprintf(head, sizeof head, "%.3f conn %u ", t < 0 ? 0.0 : t, id);
    char *line = malloc((size_t)hn + rn + 1);
    if (!line)
        return -1;
    memcpy(line, head, (size_t)hn);
    memcpy(line + hn, rest, rn);
    int r = push_line(L, t, line, (size_t)hn + rn);
    free(line);
    return r;
}

/* The rest of a record after "<time> conn <id> ". */
static const char *record_rest(const char *line, size_t n)
{
    const char *p = memchr(line, ' ', n);                    /* after time */
    if (!p || (size_t)(p - line) + 6 > n || memcmp(p, " conn ", 6) != 0)
        return NULL;
    p += 6;
    const char *q = memchr(p, ' ', n - (size_t)(p - line));  /* after id */
    return q ? q + 1 : NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 8192, n = 0;
    char *b = malloc(cap);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

/* Peer port from an open record's "peer=HOST:PORT". */
static int peer_port(const transcript_rec *rec)
{
    const char *s = rec->text.p, *end = s + rec->text.n;
    for (const char *p = s; p + 5 <= end; p++) {
        if (memcmp(p, "peer=", 5) != 0)
            continue;
        const char *e = p + 5;
        while (e < end && *e != ' ')
            e++;
        const char *colon = NULL;
        for (const char *q = p + 5; q < e; q++)
            if (*q == ':')
                colon = q;
        return colon ? atoi(colon + 1) : 0;
    }
    return 0;
}

static int add_own(tr_lines *L, const char *path)
{
    size_t n;
    char *text = slurp(path, &n);
    if (!text)
        return -1;
    size_t pos = 0;
    while (pos < n) {
        const char *nl = memchr(text + pos, '\n', n - pos);
        size_t ln = nl ? (size_t)(nl - (text + pos)) : n - pos;
        if (ln && push_line(L, strtod(text + pos, NULL), text + pos, ln) != 0) {
            free(text);
            return -1;
        }
        pos += ln + 1;
    }
    free(text);
    return 0;
}

static int add_mock_file(tr_lines *L, const char *path, double offset, const run_tr_own *own,
                         size_t nown, unsigned *next_id)
{
    size_t n;
    char *text = slurp(path, &n);
    if (!text)
        return -1;
    unsigned id = 0;
    int events_only = 0;
    size_t pos = 0;
    while (pos < n) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', n - pos);
        size_t ln = nl ? (size_t)(nl - line) : n - pos;
        pos += ln + 1;
        transcript_rec rec;
        mr_error e;
        const char *rest = record_rest(line, ln);
        if (!rest || transcript_parse(line, ln, &rec, &e) != 0)
            continue;
        if (id == 0) {
            int port = rec.kind == TR_OPEN ? peer_port(&rec) : 0;
            for (size_t i = 0; port && i < nown; i++)
                if (own[i].local_port == port) {
                    id = own[i].id;
                    events_only = 1;
                }
            if (!id)
                id = (*next_id)++;
        }
        if (events_only && rec.kind != TR_EVENT && rec.kind != TR_NOTE)
            continue;
        if (push_record(L, rec.time + offset, id, rest, ln - (size_t)(rest - line)) != 0) {
            free(text);
            return -1;
        }
    }
    free(text);
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    const tr_line *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The mock's transcript file names, sorted (conn-00001-... sorts by conn id). */
static char **mock_files(const char *dir, size_t *count)
{
    *count = 0;
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d)
        return NULL;
    char **v = NULL;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "conn-", 5) != 0)
            continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv)
                break;
            v = nv;
        }
        size_t need = strlen(dir) + strlen(de->d_name) + 2;
        if (!(v[*count] = malloc(need)))
            break;
        snprintf(v[*count], need, "%s/%s", dir, de->d_name);
        (*count)++;
    }
    closedir(d);
    if (v)
        qsort(v, *count, sizeof *v, cmp_name);
    return v;
}

int run_tr_merge(const char *own_path, const char *mock_dir, double mock_offset,
                 const run_tr_own *own, size_t nown, unsigned next_id, const char *out_path,
                 char *err, size_t errlen)
{
    tr_lines L = {0};
    int rc = -1;
    size_t nfiles = 0;
    char **files = mock_files(mock_dir, &nfiles);
    if (own_path && add_own(&L, own_path) != 0) {
        snprintf(err, errlen, "transcript %s: %s", own_path, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < nfiles; i++)
        if (add_mock_file(&L, files[i], mock_offset, own, nown, &next_id) != 0) {
            snprintf(err, errlen, "transcript %s: cannot read", files[i]);
            goto out;
        }
    if (L.n)
        qsort(L.v, L.n, sizeof *L.v, cmp_line);
    FILE *f = fopen(out_path, "w");
    if (!f) {
        snprintf(err, errlen, "transcript %s: %s", out_path, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < L.n; i++)
        fputs(L.v[i].text, f);
    rc = fclose(f) == 0 ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "transcript %s: write failed", out_path);
out:
    for (size_t i = 0; i < L.n; i++)
        free(L.v[i].text);
    free(L.v);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return rc;
}
