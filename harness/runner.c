/* runner.c -- worker processes, their results, and the progress line. See runner.h. */
#define _GNU_SOURCE   /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/runner.h"
#include "harness/scenario_checks.h"

/* ---- describing a scenario ------------------------------------------------------------------ */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
}

int runner_describe(rep_item *it, const sc_scenario *sc, const char *default_profile)
{
    const char *profile = sc->h.profile ? sc->h.profile : default_profile;
    it->failed_step = -1;
    it->name = strdup(sc->h.name ? sc->h.name : "?");
    it->file = strdup(sc->file ? sc->file : "?");
    it->role = strdup(sc->h.role == SC_ROLE_SERVER ? "server" : "client");
    it->profile = strdup(profile ? profile : "-");
    it->group = profile ? strdup(profile) : dir_of(it->file ? it->file : "?");
    it->description = sc->h.describe ? strdup(sc->h.describe) : NULL;
    it->tags = calloc(sc->h.ntags + 1, sizeof *it->tags);
    for (size_t i = 0; it->tags && i < sc->h.ntags; i++)
        if ((it->tags[i] = strdup(sc->h.tags[i])))
            it->ntags++;
    it->message = strdup("");
    int ok = it->name && it->file && it->role && it->profile && it->group && it->tags &&
             it->ntags == sc->h.ntags && it->message && (!sc->h.describe || it->description);
    return ok ? 0 : -1;
}

/* ---- the result over the pipe --------------------------------------------------------------- */

/* A fixed-size text of run_result as a JSON string (escaped when it is not UTF-8). */
static json_t *jfield(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *shown = rep_shown(s, n);
    j = json_string(shown ? shown : "");
    free(shown);
    return j;
}

char *runner_encode_result(const sc_scenario *sc, const run_result *res)
{
    json_t *checks = json_array();
    for (size_t i = 0; checks && i < res->nchecks; i++) {
        const run_check *c = &res->checks[i];
        json_array_append_new(checks,
                              json_pack("{s:I, s:b, s:o, s:s, s:i, s:i}", "id", (json_int_t)c->id,
                                        "passed", c->passed, "reason",
                                        jfield(c->reason, sizeof c->reason), "file",
                                        c->loc.file ? c->loc.file : sc->file, "line",
                                        (int)c->loc.line, "col", (int)c->loc.col));
    }
    json_t *root = json_pack("{s:i, s:f, s:i, s:o, s:o, s:o, s:o}", "verdict", (int)res->verdict,
                             "seconds", res->seconds, "failed_step", res->failed_step, "message",
                             jfield(res->message, sizeof res->message), "transcript",
                             jfield(res->transcript, sizeof res->transcript), "client_output",
                             jfield(res->client_output, sizeof res->client_output), "checks",
                             checks ? checks : json_array());
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return text;
}

static char *redacted(const char *s, const char *const *secrets, size_t n)
{
    return rep_redact(s, secrets, n);
}

/* The failed step's location, from the tree (the worker's copy of it is the same). */
static int fill_step(rep_item *it, const sc_scenario *sc, json_int_t step)
{
    it->failed_step = -1;
    if (step < 0 || (size_t)step >= sc->nsteps)
        return 0;
    const sc_loc *l = &sc->steps[step].loc;
    it->failed_step = (int)step;
    it->step_file = strdup(l->file ? l->file : sc->file);
    it->step_text = rep_shown(l->text ? l->text : "", l->text ? l->text_n : 0);
    it->step_line = l->line;
    it->step_col = l->col;
    return it->step_file && it->step_text ? 0 : -1;
}

static int fill_checks(rep_item *it, json_t *checks, const char *const *secrets, size_t ns)
{
    size_t n = json_array_size(checks);
    it->checks = calloc(n + 1, sizeof *it->checks);
    if (!it->checks)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_int_t id = -1;
        int passed = 0, line = 0, col = 0;
        const char *reason = "", *file = "";
        if (json_unpack(json_array_get(checks, i), "{s:I, s:b, s:s, s:s, s:i, s:i}", "id", &id,
                        "passed", &passed, "reason", &reason, "file", &file, "line", &line,
                        "col", &col) != 0)
            return -1;
        rep_check *c = &it->checks[it->nchecks++];
        c->name = strdup(id >= 0 && id < SC_CHECK__COUNT ? sc_checks[id].name : "?");
        c->passed = passed;
        c->reason = redacted(reason, secrets, ns);
        c->file = strdup(file);
        c->line = line > 0 ? (unsigned)line : 0;
        c->col = col > 0 ? (unsigned)col : 0;
        if (!c->name || !c->reason || !c->file)
            return -1;
    }
    return 0;
}

int runner_parse_result(const char *text, size_t n, const sc_scenario *sc, rep_item *it,
                        const char *const *secrets, size_t ns, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, n, 0, &je);
    if (!root) {
        snprintf(err, errlen, "not JSON: %s", je.text);
        return -1;
    }
    int verdict = -1;
    double seconds = 0;
    json_int_t step = -1;
    const char *message = "", *transcript = "", *client = "";
    json_t *checks = NULL;
    int rc = -1;
    if (json_unpack_ex(root, &je, JSON_STRICT, "{s:i, s:F, s:I, s:s, s:s, s:s, s:o}", "verdict",
                       &verdict, "seconds", &seconds, "failed_step", &step, "message", &message,
                       "transcript", &transcript, "client_output", &client, "checks",
                       &checks) != 0 || !json_is_array(checks))
        snprintf(err, errlen, "not a result: %s", je.text);
    else if (verdict != RUN_PASS && verdict != RUN_FAIL && verdict != RUN_ERROR)
        snprintf(err, errlen, "unknown verdict %d", verdict);
    else {
        it->verdict = verdict == RUN_PASS ? REP_PASS : verdict == RUN_FAIL ? REP_FAIL : REP_ERROR;
        free(it->message);
        it->message = redacted(message, secrets, ns);
        free(it->transcript.path);
        it->transcript.path = *transcript ? strdup(transcript) : NULL;
        free(it->client_output.path);
        it->client_output.path = *client ? strdup(client) : NULL;
        rc = it->message && fill_step(it, sc, step) == 0 && fill_checks(it, checks, secrets, ns) == 0
                 ? 0 : -1;
        if (rc)
            snprintf(err, errlen, "a malformed check, or out of memory");
    }
    json_decref(root);
    return rc;
}

/* ---- signals -------------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;   /* SIGINT or SIGTERM received */
static int wake[2] = {-1, -1};               /* self-pipe: a signal wakes poll() */

static void on_signal(int sig)
{
    int saved = errno;
    if (sig != SIGCHLD)
        stop_signal = sig;
    if (write(wake[1], "", 1) < 0) {
        /* the pipe is full: poll() will wake anyway */
    }
    errno = saved;
}

typedef struct saved_signals {
    struct sigaction chld, intr, term, pipe;
} saved_signals;

static int signals_install(saved_signals *s)
{
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    stop_signal = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, &s->chld);
    sigaction(SIGINT, &sa, &s->intr);
    sigaction(SIGTERM, &sa, &s->term);
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &s->pipe);   /* `mailrig run | head` must not kill the runner */
    return 0;
}

static void signals_restore(const saved_signals *s)
{
    sigaction(SIGCHLD, &s->chld, NULL);
    sigaction(SIGINT, &s->intr, NULL);
    sigaction(SIGTERM, &s->term, NULL);
    sigaction(SIGPIPE, &s->pipe, NULL);
    close(wake[0]);
    close(wake[1]);
    wake[0] = wake[1] = -1;
}

/* ---- the worker ----------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static unsigned effective_total_ms(const runner_opts *o, const sc_scenario *sc)
{
    unsigned t = sc->h.total_timeout_ms ? sc->h.total_timeout_ms : 60000;
    return o->timeout_ms && o->timeout_ms < t ? o->timeout_ms : t;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The child: set up its process, run the scenario, send the result, exit. */
static void worker_main(const runner_opts *o, const runner_job *j, const char *dir, int out)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &dfl, NULL);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGPIPE, &dfl, NULL);
    close(wake[0]);
    close(wake[1]);
    char path[PATH_MAX];
    FILE *trace = NULL;
    if (o->verbose && o->jobs == 1)
        trace = fdopen(dup(STDERR_FILENO), "w");   /* live, before stderr goes to the log */
    else if (o->verbose && snprintf(path, sizeof path, "%s/trace.log", dir) < (int)sizeof path)
        trace = fopen(path, "w");
    int null = open("/dev/null", O_RDONLY);
    snprintf(path, sizeof path, "%s/worker.log", dir);
    int log = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (null >= 0)
        dup2(null, STDIN_FILENO);
    if (log >= 0) {
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
    }
    run_env env = o->env;
    env.work_dir = dir;
    env.verbose = trace;
    env.seed = fnv1a(j->sc->h.name);   /* repeatable per scenario */
    sc_scenario sc = *j->sc;
    sc.h.total_timeout_ms = effective_total_ms(o, j->sc);
    run_result res;
    memset(&res, 0, sizeof res);
    res.failed_step = -1;
    res.verdict = o->run(&sc, &env, &res);
    char *text = runner_encode_result(&sc, &res);
    int rc = text && write_all(out, text, strlen(text)) == 0 ? 0 : 70;
    free(text);
    if (o->free_result)
        o->free_result(&res);
    else
        free(res.checks);
    if (trace)
        fclose(trace);
    exit(rc);   /* exit, not _exit: the sanitizers' leak check runs in the worker too */
}

/* ---- the pool ------------------------------------------------------------------------------- */

typedef struct slot {
    size_t job;
    pid_t pid;            /* 0: free */
    int fd;               /* read end of the result pipe, -1 at EOF */
    char *out;
    size_t nout;
    int overflow;
    double start, deadline;
    int timed_out, interrupted;
    char dir[PATH_MAX];
} slot;

typedef struct pool {
    const runner_opts *o;
    const runner_job *jobs;
    rep_item *items;
    size_t n, finished, started;
    size_t counts[REP__COUNT];
    slot *slots;
    size_t nslots, running;
    int tty, line_shown;
} pool;

/* ---- progress ---- */

static void progress_clear(pool *p)
{
    if (p->tty && p->line_shown) {
        fputs("\r\033[K", p->o->progress);
        p->line_shown = 0;
    }
}

static int term_width(FILE *f)
{
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

static void progress_draw(pool *p)
{
    if (!p->tty || !p->running)
        return;
    char line[512];
    size_t len = (size_t)snprintf(line, sizeof line, "[%zu/%zu] running", p->started, p->n);
    size_t shown = 0;
    for (size_t i = 0; i < p->nslots && len < sizeof line; i++)
        if (p->slots[i].pid && shown++ < 2)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s %s", shown > 1 ? "," : "",
                                    p->jobs[p->slots[i].job].sc->h.name);
    if (shown > 2 && len < sizeof line)
        len += (size_t)snprintf(line + len, sizeof line - len, " +%zu", shown - 2);
    if (len < sizeof line)
        len += (size_t)snprintf(line + len, sizeof line - len, " (%zu passed, %zu failed",
                                p->counts[REP_PASS], p->counts[REP_FAIL]);
    if (p->counts[REP_ERROR] && len < sizeof line)
        len += (size_t)snprintf(line + len, sizeof line - len, ", %zu errors", p->counts[REP_ERROR]);
    if (p->counts[REP_SKIP] && len < sizeof line)
        len += (size_t)snprintf(line + len, sizeof line - len, ", %zu skipped", p->counts[REP_SKIP]);
    if (len < sizeof line)
        snprintf(line + len, sizeof line - len, ")");
    int width = term_width(p->o->progress) - 1;
    fprintf(p->o->progress, "%.*s", width, line);
    fflush(p->o->progress);
    p->line_shown = 1;
}

static void progress_result(pool *p, const rep_item *it)
{
    p->finished++;
    p->counts[it->verdict]++;
    FILE *f = p->o->progress;
    if (!f)
        return;
    static const char *const words[REP__COUNT] = {"PASS", "FAIL", "ERROR", "SKIP"};
    progress_clear(p);
    if (!p->tty || it->verdict != REP_PASS) {
        fprintf(f, "[%zu/%zu] %-5s %s", p->finished, p->n, words[it->verdict], it->name);
        if (it->verdict != REP_SKIP)
            fprintf(f, " (%.2fs)", it->seconds);
        if (it->message && *it->message)
            fprintf(f, ": %s", it->message);
        fputc('\n', f);
    }
    progress_draw(p);
    fflush(f);
}

/* ---- starting ---- */

static int set_message(rep_item *it, rep_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_message(rep_item *it, rep_verdict v, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(it->message);
    it->message = strdup(msg);
    it->verdict = v;
    return it->message ? 0 : -1;
}

/* The scenario's directory in the run's work directory. */
static int make_dir(const runner_opts *o, const runner_job *j, char *dir, size_t cap)
{
    const char *base = o->env.work_dir ? o->env.work_dir : ".";
    if ((size_t)snprintf(dir, cap, "%s/%s", base, j->sc->h.name) >= cap)
        return -1;
    return mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int start_worker(pool *p, slot *s, size_t job)
{
    const runner_job *j = &p->jobs[job];
    rep_item *it = &p->items[job];
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (make_dir(p->o, j, s->dir, sizeof s->dir) != 0)
        return set_message(it, REP_ERROR, "cannot create its work directory %s: %s", s->dir,
                           strerror(errno)), -1;
    free(it->work_dir);
    it->work_dir = strdup(s->dir);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return set_message(it, REP_ERROR, "cannot create a pipe: %s", strerror(errno)), -1;
    fflush(NULL);   /* nothing buffered may be written twice */
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return set_message(it, REP_ERROR, "cannot start a worker: %s", strerror(errno)), -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* the runner died: so does the worker */
        close(fds[0]);
        worker_main(p->o, j, s->dir, fds[1]);
    }
    setpgid(pid, pid);   /* also here, so a kill of the group cannot race the child's own */
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    s->job = job;
    s->pid = pid;
    s->fd = fds[0];
    s->start = now_s();
    unsigned grace = p->o->grace_ms ? p->o->grace_ms : RUNNER_GRACE_MS;
    s->deadline = s->start + (effective_total_ms(p->o, j->sc) + grace) / 1000.0;
    p->running++;
    p->started++;
    return 0;
}

/* ---- reading and finishing ---- */

static void slot_read(slot *s)
{
    char chunk[16384];
    for (;;) {
        ssize_t got = read(s->fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got == 0 || errno != EAGAIN) {
                close(s->fd);
                s->fd = -1;
            }
            return;
        }
        if (s->overflow || s->nout + (size_t)got > RUNNER_RESULT_MAX) {
            s->overflow = 1;
            continue;
        }
        char *nb = realloc(s->out, s->nout + (size_t)got + 1);
        if (!nb) {
            s->overflow = 1;
            continue;
        }
        s->out = nb;
        memcpy(s->out + s->nout, chunk, (size_t)got);
        s->nout += (size_t)got;
        s->out[s->nout] = '\0';
    }
}

static void fill_tail(rep_tail *t, size_t lines, const runner_job *j)
{
    char *path = t->path;
    t->path = NULL;
    if (path && *path)
        rep_read_tail(path, lines, j->secrets, j->nsecrets, t);
    free(path);
}

/* The verdict of a worker that has ended with status st. */
static void judge(pool *p, slot *s, int st)
{
    const runner_job *j = &p->jobs[s->job];
    rep_item *it = &p->items[s->job];
    char why[300] = "";
    int have = !s->overflow && s->nout &&
               runner_parse_result(s->out, s->nout, j->sc, it, j->secrets, j->nsecrets, why,
                                   sizeof why) == 0;
    if (s->timed_out) {
        unsigned grace = p->o->grace_ms ? p->o->grace_ms : RUNNER_GRACE_MS;
        set_message(it, REP_ERROR, "did not finish within its total timeout of %.1f s and "
                    "%.1f s of grace: killed", effective_total_ms(p->o, j->sc) / 1000.0,
                    grace / 1000.0);
    } else if (s->interrupted)
        set_message(it, REP_ERROR, "interrupted (signal %d): killed", (int)stop_signal);
    else if (WIFSIGNALED(st))
        set_message(it, REP_ERROR, "the worker died of signal %d (%s)", WTERMSIG(st),
                    strsignal(WTERMSIG(st)));
    else if (WIFEXITED(st) && WEXITSTATUS(st) != 0 && have) {
        char was[600];
        snprintf(was, sizeof was, "%s%s%s", rep_verdict_name(it->verdict),
                 *it->message ? ": " : "", it->message);
        set_message(it, REP_ERROR, "the worker exited with status %d after its result (%s)",
                    WEXITSTATUS(st), was);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        set_message(it, REP_ERROR, "the worker exited with status %d without a result",
                    WEXITSTATUS(st));
    else if (!have)
        set_message(it, REP_ERROR, "the worker's result could not be read: %s",
                    s->overflow ? "larger than 1 MiB" : s->nout ? why : "nothing was sent");
    it->seconds = now_s() - s->start;
    fill_tail(&it->transcript, RUNNER_TRANSCRIPT_LINES, j);
    fill_tail(&it->client_output, RUNNER_OUTPUT_LINES, j);
    char log[PATH_MAX + 16];
    struct stat sb;
    snprintf(log, sizeof log, "%s/worker.log", s->dir);
    if (it->verdict != REP_PASS && stat(log, &sb) == 0 && sb.st_size > 0)
        rep_read_tail(log, RUNNER_OUTPUT_LINES, j->secrets, j->nsecrets, &it->worker_log);
}

/* Print the trace of a scenario run in parallel, now that it is over. */
static void replay_trace(pool *p, const slot *s)
{
    if (!p->o->verbose || p->o->jobs == 1)
        return;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/trace.log", s->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    progress_clear(p);
    fprintf(stderr, "--- trace of %s\n", p->jobs[s->job].sc->h.name);
    char line[4096];
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
    fflush(stderr);
}

/* If the worker in s has ended, finish it: kill what is left of its group, take the rest of
 * its result, reap it, judge it. */
static void slot_poll(pool *p, slot *s)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) {
        if (!s->timed_out && now_s() >= s->deadline) {
            kill(-s->pid, SIGKILL);
            s->timed_out = 1;
        }
        return;
    }
    kill(-s->pid, SIGKILL);   /* before reaping: the group id cannot be reused meanwhile */
    if (s->fd >= 0)
        slot_read(s);
    if (s->fd >= 0)
        close(s->fd);   /* a straggler may hold the write end; the result is complete */
    int st = 0;
    while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR) {
    }
    judge(p, s, st);
    replay_trace(p, s);
    progress_result(p, &p->items[s->job]);
    free(s->out);
    memset(s, 0, sizeof *s);
    s->fd = -1;
    p->running--;
}

static int poll_timeout_ms(const pool *p)
{
    double next = -1, now = now_s();
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i].pid && !p->slots[i].timed_out &&
            (next < 0 || p->slots[i].deadline < next))
            next = p->slots[i].deadline;
    if (next < 0)
        return 1000;
    double ms = (next - now) * 1000 + 1;
    return ms < 0 ? 0 : ms > 1000 ? 1000 : (int)ms;
}

/* Wait for a signal, a result or a deadline, then deal with what happened. */
static void pool_wait(pool *p)
{
    struct pollfd fds[1 + 256];
    size_t nf = 0;
    fds[nf++] = (struct pollfd){.fd = wake[0], .events = POLLIN};
    for (size_t i = 0; i < p->nslots && nf < 257; i++)
        if (p->slots[i].pid && p->slots[i].fd >= 0)
            fds[nf++] = (struct pollfd){.fd = p->slots[i].fd, .events = POLLIN};
    if (poll(fds, nf, poll_timeout_ms(p)) > 0 && (fds[0].revents & POLLIN)) {
        char drain[64];
        while (read(wake[0], drain, sizeof drain) > 0) {
        }
    }
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i].pid && p->slots[i].fd >= 0)
            slot_read(&p->slots[i]);
    if (stop_signal)
        for (size_t i = 0; i < p->nslots; i++)
            if (p->slots[i].pid && !p->slots[i].interrupted) {
                kill(-p->slots[i].pid, SIGKILL);
                p->slots[i].interrupted = 1;
            }
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i].pid)
            slot_poll(p, &p->slots[i]);
}

/* Jobs that are not run: skipped, refused before the start, or cut off by a signal. */
static void not_run(pool *p, size_t job)
{
    const runner_job *j = &p->jobs[job];
    rep_item *it = &p->items[job];
    if (stop_signal)
        set_message(it, REP_ERROR, "not run: the run was interrupted");
    else if (j->skip)
        set_message(it, REP_SKIP, "%s", j->skip);
    else
        set_message(it, REP_ERROR, "%s", j->error);
    progress_result(p, it);
}

int runner_run(const runner_opts *o, const runner_job *jobs, size_t n, rep_item *items)
{
    pool p = {.o = o, .jobs = jobs, .items = items, .n = n};
    p.nslots = o->jobs < 1 ? 1 : o->jobs > 256 ? 256 : o->jobs;
    p.slots = calloc(p.nslots, sizeof *p.slots);
    saved_signals saved;
    if (!p.slots || signals_install(&saved) != 0) {
        free(p.slots);
        for (size_t i = 0; i < n; i++)
            if (runner_describe(&items[i], jobs[i].sc, o->default_profile) == 0)
                set_message(&items[i], REP_ERROR, "not run: out of memory or descriptors");
        return 0;
    }
    p.tty = o->progress && o->progress_tty && !(o->verbose && o->jobs == 1);
    size_t next = 0;
    while (next < n || p.running) {
        while (next < n && (stop_signal || p.running < p.nslots)) {
            size_t job = next++;
            runner_describe(&items[job], jobs[job].sc, o->default_profile);
            if (stop_signal || jobs[job].skip || jobs[job].error) {
                not_run(&p, job);
                continue;
            }
            slot *s = NULL;
            for (size_t i = 0; i < p.nslots && !s; i++)
                s = p.slots[i].pid ? NULL : &p.slots[i];
            if (start_worker(&p, s, job) != 0)
                progress_result(&p, &items[job]);
            else
                progress_draw(&p);
        }
        if (p.running)
            pool_wait(&p);
    }
    progress_clear(&p);
    if (o->progress)
        fflush(o->progress);
    free(p.slots);
    int interrupted = stop_signal != 0;
    signals_restore(&saved);
    return interrupted;
}
