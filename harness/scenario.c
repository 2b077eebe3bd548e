/* scenario.c -- the scenario language parser and validator; see scenario.h and
 * docs/scenario-language.md.
 *
 * Structure: a file is read (through the read hook), split into lines, each line checked
 * (length, control bytes, UTF-8) and cut into tokens (words, "strings", /regexes/); the first
 * token picks a header line or a step from a table, whose parser turns the remaining tokens
 * into an sc_step. Validation that needs context (role, connection state, defined variables,
 * captures, running client) is a linear walk done as steps are added: the language has no
 * branches or loops, so the state after each step is known exactly at parse time.
 *
 * Error handling: problems are reported (file:line:col) and parsing goes on with the next
 * token or line, so that one run shows every error. A step with errors is still added, so
 * that the connection state stays right and one mistake does not cascade. Allocation failure
 * longjmps back to the entry point, which frees everything.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "harness/scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/scenario_checks.h"
#include "proto/mr.h"

enum {
    MAX_TOKENS = 256,          /* per line */
    MAX_NAME = 64,             /* variable, tag, adapter, check names */
    DEFAULT_STEP_MS = 5000,
    DEFAULT_TOTAL_MS = 60000,
    MAX_DURATION_MS = 3600000,
    DISPLAY_WIDTH = 160,       /* columns of a source line shown in a diagnostic */
};

/* ---- arena ------------------------------------------------------------------------------ */

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[];
} chunk;

typedef struct arena {
    chunk *head;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        chunk *c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = a->head;
        c->cap = cap;
        c->used = 0;
        a->head = c;
    }
    void *r = (unsigned char *)a->head->data + a->head->used;
    a->head->used += n;
    memset(r, 0, n);
    return r;
}

static void arena_free(arena *a)
{
    for (chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

/* The scenario and the arena that holds it, so that sc_free() finds the arena. */
typedef struct sc_owned {
    sc_scenario sc;
    arena a;
} sc_owned;

/* ---- parser state ----------------------------------------------------------------------- */

typedef enum tkind { T_WORD, T_STRING, T_REGEX } tkind;

typedef struct tok {
    tkind kind;
    size_t off, n;     /* byte span in the line: the whole token, quotes and slashes included */
    int glued;         /* no space between this token and the previous one */
} tok;

typedef struct file_ctx {
    const char *path;  /* normalised, arena */
    const char *data;  /* arena copy: line texts point into it */
    size_t len;
    unsigned depth;
    const char *chain; /* "a.scn:3 <- b.scn:7" for diagnostics, or NULL for the top file */
    const struct file_ctx *parent;
} file_ctx;

typedef struct listener {
    unsigned port;
    sc_proto proto;
    sc_mode mode;
    int step;          /* index of the listen step */
} listener;

#define VEC(T) struct { T *v; size_t n, cap; }

typedef struct parser {
    jmp_buf oom;
    arena *a;
    sc_limits lim;
    const sc_options *opt;
    sc_read_fn rd;     /* how files are read, and its context */
    void *rdctx;
    sc_diags *diags;
    size_t nerrors;    /* errors reported in this parse (diags may hold earlier ones) */
    int stop;          /* max_errors reached */
    unsigned nfiles;

    /* the current line */
    const file_ctx *f;
    unsigned lineno;
    const char *s;
    size_t n;
    tok t[MAX_TOKENS];
    size_t nt, i;      /* tokens, cursor */

    /* what is built */
    sc_header h;
    VEC(sc_step) steps;
    VEC(sc_var) vars;
    VEC(const char *) tags;
    VEC(sc_set) sets;
    VEC(const char *) files;
    sc_loc scenario_loc, role_loc, describe_loc, profile_loc, timeout_loc, account_loc;
    int have_steps;    /* a step other than `var` has been seen: the header is over */
    int role_reported; /* "no role" reported once */
    int too_many_steps;

    /* connection state, for validation */
    int open;              /* a connection is open (server role: accepted) */
    sc_proto proto;        /* its protocol */
    int tls;               /* TLS is up on it */
    unsigned open_line;    /* the line of the step that opened it (messages only) */
    unsigned tls_line;     /* the line where TLS went up on it */
    char closed_why[200];  /* why there is no connection, for messages */
    VEC(listener) listeners;
    int serve_step;        /* -1 */
    int client_step;       /* the running client, or -1 */
    VEC(sc_part) tparts;   /* build_text scratch */
    struct sc_owned *own;  /* the result */
    VEC(char) tlit;
    int any_connect;       /* client role: some connect step seen */
    int state_unknown;     /* a mistyped connect/listen made the connection state unknown:
                              do not report missing connections until it is known again */
} parser;

static void *palloc(parser *p, size_t n)
{
    void *r = arena_alloc(p->a, n);
    if (!r)
        longjmp(p->oom, 1);
    return r;
}

static char *pstrndup(parser *p, const char *s, size_t n)
{
    char *r = palloc(p, n + 1);
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static void *vec_grow(parser *p, void *v, size_t *cap, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 8;
    void *nv = realloc(v, ncap * elem);
    if (!nv)
        longjmp(p->oom, 1);
    *cap = ncap;
    return nv;
}

#define VPUSH(p, vec)                                                                      \
    ((vec).n == (vec).cap ? (void)((vec).v = vec_grow((p), (vec).v, &(vec).cap,            \
                                                      sizeof *(vec).v))                    \
                          : (void)0,                                                       \
     memset(&(vec).v[(vec).n], 0, sizeof *(vec).v), &(vec).v[(vec).n++])

/* ---- characters and columns ------------------------------------------------------------- */

/* Byte length of the character at s[0] (n > 0): a valid UTF-8 sequence, else 1. */
static size_t char_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t want = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (want == 1 || want > n)
        return 1;
    return mr_utf8_check(s, want) == want ? want : 1;
}

/* 1-based column (characters) of byte offset off in s. */
static unsigned col_of(const char *s, size_t n, size_t off)
{
    unsigned col = 1;
    for (size_t i = 0; i < off && i < n; i += char_len(s + i, n - i))
        col++;
    return col;
}

/* Byte offset of 1-based column col in s (n when past the end). */
static size_t off_of(const char *s, size_t n, unsigned col)
{
    size_t i = 0;
    for (unsigned c = 1; c < col && i < n; c++)
        i += char_len(s + i, n - i);
    return i;
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_space(int c)
{
    return c == ' ' || c == '\t';
}

static int hexval(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- diagnostics ------------------------------------------------------------------------ */

static char *xstrndup(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = 0;
    }
    return r;
}

static void diag_add(parser *p, const char *file, unsigned line, unsigned col, const char *text,
                     size_t text_n, const char *chain, const char *msg)
{
    p->nerrors++;
    sc_diags *d = p->diags;
    if (p->stop || d->n >= p->lim.max_errors) {
        d->dropped++;
        p->stop = 1;
        return;
    }
    sc_diag *nv = realloc(d->v, (d->n + 1) * sizeof *nv);
    if (!nv)
        return;
    d->v = nv;
    sc_diag *g = &d->v[d->n];
    memset(g, 0, sizeof *g);
    g->file = xstrndup(file, strlen(file));
    g->msg = xstrndup(msg, strlen(msg));
    g->line = line;
    g->col = col;
    if (text) {
        g->text = xstrndup(text, text_n);
        g->text_n = text_n;
    }
    if (chain)
        g->include_chain = xstrndup(chain, strlen(chain));
    if (!g->file || !g->msg || (text && !g->text) || (chain && !g->include_chain)) {
        free(g->file);
        free(g->msg);
        free(g->text);
        free(g->include_chain);
        return;
    }
    d->n++;
}

/* Report a problem at byte offset off of the current line. */
__attribute__((format(printf, 3, 4))) static void err_at(parser *p, size_t off, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_add(p, p->f->path, p->lineno, col_of(p->s, p->n, off), p->s, p->n, p->f->chain, msg);
}

/* Report a problem at a stored location (a step seen earlier). */
__attribute__((format(printf, 3, 4))) static void err_loc(parser *p, const sc_loc *loc,
                                                          const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_add(p, loc->file, loc->line, loc->col, loc->text, loc->text_n, NULL, msg);
}

/* Report msg at the word-th word (0 = the keyword) of the line at loc: a hook's verdict
 * about a header value. */
static void err_loc_word(parser *p, const sc_loc *loc, unsigned word, const char *msg)
{
    size_t i = 0, n = loc->text_n;
    const char *s = loc->text;
    for (unsigned w = 0;; w++) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (w == word || i >= n)
            break;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
    }
    sc_loc l = *loc;
    l.col = col_of(s, n, i);
    err_loc(p, &l, "%s", msg);
}

/* Report a problem about a whole file. */
static void err_file(parser *p, const char *path, const char *msg)
{
    diag_add(p, path, 0, 0, NULL, 0, NULL, msg);
}

/* "line 12", or "other.inc:12" when loc is in another file than the current line. */
static const char *where(const parser *p, const sc_loc *loc, char *buf, size_t cap)
{
    if (p->f && strcmp(loc->file, p->f->path) == 0)
        snprintf(buf, cap, "line %u", loc->line);
    else
        snprintf(buf, cap, "%s:%u", loc->file, loc->line);
    return buf;
}

void sc_diags_free(sc_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
        free(d->v[i].text);
        free(d->v[i].include_chain);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}

/* Print one character of a source line for display: control bytes and invalid UTF-8 as '?'. */
static size_t put_display_char(FILE *out, const char *s, size_t n)
{
    size_t k = char_len(s, n);
    unsigned char c = (unsigned char)s[0];
    if (k > 1)
        fwrite(s, 1, k, out);
    else if (c == '\t')
        fputc('\t', out);
    else if (c < 0x20 || c == 0x7f || c >= 0x80)
        fputc('?', out);
    else
        fputc(c, out);
    return k;
}

static void print_source(FILE *out, const sc_diag *g)
{
    const char *s = g->text;
    size_t n = g->text_n;
    unsigned ncols = col_of(s, n, n) - 1;
    unsigned first = 1;                     /* first column shown */
    if (ncols > DISPLAY_WIDTH && g->col > DISPLAY_WIDTH - 40)
        first = g->col - (DISPLAY_WIDTH - 40);
    size_t from = off_of(s, n, first), to = off_of(s, n, first + DISPLAY_WIDTH);
    fprintf(out, "%5u | %s", g->line, first > 1 ? "..." : "");
    for (size_t i = from; i < to;)
        i += put_display_char(out, s + i, to - i);
    fprintf(out, "%s\n      | %s", to < n ? "..." : "", first > 1 ? "   " : "");
    /* pad with the same whitespace as the source, so tabs line up */
    size_t caret = off_of(s, n, g->col);
    for (size_t i = from; i < caret && i < to; i += char_len(s + i, n - i))
        fputc(s[i] == '\t' ? '\t' : ' ', out);
    fputs("^\n", out);
}

void sc_diags_print(FILE *out, const sc_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const sc_diag *g = &d->v[i];
        if (g->include_chain)
            fprintf(out, "In file included from %s:\n", g->include_chain);
        if (g->line == 0) {
            fprintf(out, "%s: %s\n", g->file, g->msg);
            continue;
        }
        fprintf(out, "%s:%u:%u: %s\n", g->file, g->line, g->col, g->msg);
        if (g->text)
            print_source(out, g);
    }
    if (d->dropped)
        fprintf(out, "too many errors: stopped after %zu\n", d->n);
}

/* ---- suggestions ------------------------------------------------------------------------ */

/* Edit distance (insert, delete, substitute, swap of neighbours), 0 if equal; large when
 * either string is too long to be a typo of the other. */
static unsigned edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    enum { MAXW = MAX_NAME };
    if (na > MAXW || nb > MAXW)
        return 1000;
    unsigned d[MAXW + 1][MAXW + 1];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[na][nb];
}

static const char *suggest_n(const char *w, size_t wn, const char *const *names, size_t n)
{
    const char *best = NULL;
    unsigned bestd = 3;
    for (size_t i = 0; i < n; i++) {
        if (!names[i])
            continue;
        unsigned dist = edit_distance(w, wn, names[i], strlen(names[i]));
        if (dist < bestd && dist * 2 < wn + 1) {
            best = names[i];
            bestd = dist;
        }
    }
    return best;
}

const char *sc_suggest(const char *word, const char *const *names, size_t n)
{
    return suggest_n(word, strlen(word), names, n);
}

/* " (did you mean 'x'?)" or "" */
static const char *mean(const char *sugg, char *buf, size_t cap)
{
    if (!sugg)
        return "";
    snprintf(buf, cap, " (did you mean '%s'?)", sugg);
    return buf;
}

/* ---- small public helpers --------------------------------------------------------------- */

static const char *const step_names[SC_STEP__COUNT] = {
    [SC_STEP_NONE] = "?",
#define X(e, kw, roles) [e] = kw,
    SC_STEPS(X)
#undef X
};

static const char step_roles[SC_STEP__COUNT] = {
#define X(e, kw, roles) [e] = #roles[0],
    SC_STEPS(X)
#undef X
};

const char *sc_step_name(sc_step_kind kind)
{
    return kind > SC_STEP_NONE && kind < SC_STEP__COUNT ? step_names[kind] : "?";
}

const char *sc_proto_name(sc_proto proto)
{
    switch (proto) {
    case SC_PROTO_IMAP: return "imap";
    case SC_PROTO_SMTP: return "smtp";
    case SC_PROTO_POP3: return "pop3";
    default: return "?";
    }
}

const char *sc_mode_name(sc_mode mode)
{
    switch (mode) {
    case SC_MODE_PLAIN: return "plain";
    case SC_MODE_IMPLICIT_TLS: return "implicit-tls";
    default: return "?";
    }
}

unsigned sc_default_port(sc_proto proto, sc_mode mode)
{
    int tls = mode == SC_MODE_IMPLICIT_TLS;
    switch (proto) {
    case SC_PROTO_IMAP: return tls ? 993 : 143;
    case SC_PROTO_SMTP: return tls ? 465 : 587;
    case SC_PROTO_POP3: return tls ? 995 : 110;
    default: return 0;
    }
}

int sc_parse_duration(const char *s, size_t n, unsigned *ms, char *why, size_t whycap)
{
    size_t i = 0;
    unsigned long v = 0;
    while (i < n && is_digit((unsigned char)s[i]) && i < 8)
        v = v * 10 + (unsigned long)(s[i++] - '0');
    if (i == 0) {
        snprintf(why, whycap, "a duration is a number and a unit: 500ms, 5s or 2m");
        return -1;
    }
    if (i < n && is_digit((unsigned char)s[i])) {
        snprintf(why, whycap, "duration is too long (at most 1 hour)");
        return -1;
    }
    const char *u = s + i;
    size_t un = n - i;
    unsigned long mult;
    if (un == 2 && memcmp(u, "ms", 2) == 0)
        mult = 1;
    else if (un == 1 && *u == 's')
        mult = 1000;
    else if (un == 1 && *u == 'm')
        mult = 60000;
    else if (un == 0) {
        snprintf(why, whycap, "a duration needs a unit: %.*sms or %.*ss", (int)i, s, (int)i, s);
        return -1;
    } else if (un > 0 && u[0] == '.') {
        snprintf(why, whycap, "a duration is a whole number: write 1500ms, not 1.5s");
        return -1;
    } else {
        snprintf(why, whycap, "unknown duration unit '%.*s' (ms, s or m)", (int)(un > 20 ? 20 : un),
                 u);
        return -1;
    }
    v *= mult;
    if (v == 0) {
        snprintf(why, whycap, "a duration must be at least 1ms");
        return -1;
    }
    if (v > MAX_DURATION_MS) {
        snprintf(why, whycap, "duration is too long (at most 1 hour)");
        return -1;
    }
    *ms = (unsigned)v;
    return 0;
}

/* ---- files and paths -------------------------------------------------------------------- */

int sc_read_file(void *ctx, const char *path, size_t max, char **data, size_t *len, char *why,
                 size_t whycap)
{
    (void)ctx;
    int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(why, whycap, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whycap, "%s", S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
    char *buf = malloc(cap ? cap : 1);
    if (!buf) {
        snprintf(why, whycap, "out of memory");
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(why, whycap, "%s", strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *len = got;
    return 0;
}

/* Join an include path to the directory of the including file and normalise it lexically:
 * "a/./b", "a/x/../b" and "a//b" all become "a/b". Leading ".." that cannot be folded stay. */
static char *path_join(parser *p, const char *base, const char *rel)
{
    size_t dn = 0;
    if (rel[0] != '/') {
        const char *slash = strrchr(base, '/');
        dn = slash ? (size_t)(slash - base) + 1 : 0;
    }
    size_t rn = strlen(rel);
    char *tmp = palloc(p, dn + rn + 1);
    memcpy(tmp, base, dn);
    memcpy(tmp + dn, rel, rn + 1);
    /* fold the components */
    char *out = palloc(p, dn + rn + 2);
    size_t o = 0, keep = 0;   /* keep: length of the prefix that ".." may not fold into */
    int abs = tmp[0] == '/';
    if (abs)
        out[o++] = '/', keep = 1;
    for (char *c = tmp; *c;) {
        while (*c == '/')
            c++;
        char *e = c;
        while (*e && *e != '/')
            e++;
        size_t cn = (size_t)(e - c);
        if (cn == 0)
            break;
        if (cn == 1 && c[0] == '.') {
            /* skip */
        } else if (cn == 2 && c[0] == '.' && c[1] == '.' && o > keep) {
            while (o > keep && out[o - 1] != '/')
                o--;
            if (o > keep)
                o--;                       /* the slash before the dropped component */
            else if (abs)
                o = 1;
        } else {
            if (o > 0 && out[o - 1] != '/')
                out[o++] = '/';
            memcpy(out + o, c, cn);
            o += cn;
            if (cn == 2 && c[0] == '.' && c[1] == '.')
                keep = o;
        }
        c = e;
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = 0;
    return out;
}

/* ---- tokens ----------------------------------------------------------------------------- */

static const tok *peek(const parser *p)
{
    return p->i < p->nt ? &p->t[p->i] : NULL;
}

static const tok *next_tok(parser *p)
{
    return p->i < p->nt ? &p->t[p->i++] : NULL;
}

static const char *tsrc(const parser *p, const tok *t)
{
    return p->s + t->off;
}

static int tok_is(const parser *p, const tok *t, const char *w)
{
    return t && t->kind == T_WORD && strlen(w) == t->n && memcmp(tsrc(p, t), w, t->n) == 0;
}

/* Validate the escape at s[i] == '\\' inside a string; return its length or 0 (reported). */
static size_t check_escape(parser *p, size_t i)
{
    const char *s = p->s;
    if (i + 1 >= p->n)
        return 1;   /* the string is unterminated; reported by the caller */
    switch (s[i + 1]) {
    case 'r': case 'n': case 't': case '\\': case '"': case '{':
        return 2;
    case 'x':
        if (i + 3 < p->n && hexval((unsigned char)s[i + 2]) >= 0 &&
            hexval((unsigned char)s[i + 3]) >= 0)
            return 4;
        err_at(p, i, "'\\x' needs two hex digits (\\x00 to \\xff)");
        return 0;
    default: {
        size_t k = char_len(s + i + 1, p->n - i - 1);
        err_at(p, i, "unknown escape '\\%.*s' (known: \\r \\n \\t \\\\ \\\" \\{ \\xHH)", (int)k,
               s + i + 1);
        return 0;
    }
    }
}

/* Does the step whose keyword is t take /regex/ arguments? Only these steps lex a leading '/'
 * as a regex, so that paths (profile /x/y.ini) stay words everywhere else. */
static int takes_regex(const parser *p, const tok *t)
{
    return tok_is(p, t, "expect") || tok_is(p, t, "expect-reply") ||
           tok_is(p, t, "expect-client");
}

/* Cut the current line into tokens. Returns 0, or -1 when the line cannot be tokenised (the
 * problem is reported; the line is skipped). */
static int tokenize(parser *p)
{
    const char *s = p->s;
    size_t n = p->n, i = 0;
    int regex_ok = 0, bad = 0;
    p->nt = p->i = 0;
    for (;;) {
        size_t ws = i;
        while (i < n && is_space((unsigned char)s[i]))
            i++;
        if (i >= n || (s[i] == '#' && (i > ws || p->nt == 0)))
            break;
        if (p->nt == MAX_TOKENS) {
            err_at(p, i, "too many words on one line (at most %d)", MAX_TOKENS);
            return -1;
        }
        tok *t = &p->t[p->nt];
        t->off = i;
        t->glued = p->nt > 0 && i == ws;
        if (t->glued) {
            const tok *prev = &p->t[p->nt - 1];
            if (prev->kind != T_WORD || s[prev->off + prev->n - 1] != '=') {
                err_at(p, i, "missing space before this");
                return -1;
            }
        }
        if (s[i] == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"') {
                if (s[j] == '\\') {
                    size_t k = check_escape(p, j);
                    if (k == 0) {
                        bad = 1;
                        k = 2;
                    }
                    j += k;
                } else {
                    j++;
                }
            }
            if (j >= n) {
                err_at(p, i, "unterminated string: no closing '\"' on this line");
                return -1;
            }
            t->kind = T_STRING;
            i = j + 1;
        } else if (s[i] == '/' && regex_ok) {
            size_t j = i + 1;
            while (j < n && s[j] != '/')
                j += (s[j] == '\\' && j + 1 < n) ? 2 : 1;
            if (j >= n) {
                err_at(p, i, "unterminated /regex/: no closing '/' on this line (write \\/ for a "
                             "slash inside it)");
                return -1;
            }
            j++;
            while (j < n && !is_space((unsigned char)s[j])) {
                if (s[j] != 'i') {
                    err_at(p, j, "unknown regex flag '%.*s' (known: i, caseless)",
                           (int)char_len(s + j, n - j), s + j);
                    return -1;
                }
                j++;
            }
            t->kind = T_REGEX;
            i = j;
        } else {
            size_t j = i;
            while (j < n && !is_space((unsigned char)s[j]) && s[j] != '"') {
                j++;
                if (s[j - 1] == '=' && j < n && (s[j] == '"' || (regex_ok && s[j] == '/')))
                    break;
            }
            t->kind = T_WORD;
            i = j;
        }
        t->n = i - t->off;
        if (t->kind == T_STRING && i < n && !is_space((unsigned char)s[i])) {
            err_at(p, i, "missing space after the closing '\"'");
            return -1;
        }
        if (p->nt++ == 0)
            regex_ok = takes_regex(p, t);
    }
    return bad ? -1 : 0;
}

/* ---- variables -------------------------------------------------------------------------- */

static const char *const builtin_names[] = {
    "account.name", "account.email", "account.local", "account.username.imap",
    "account.username.smtp", "account.username.pop3", "account.password",
    "account.app_password", "account.oauth_token", "host", "cafile", "port:imap", "port:smtp", "port:pop3",
};
enum { NBUILTIN = sizeof builtin_names / sizeof builtin_names[0] };

static int find_var(const parser *p, const char *name, size_t n)
{
    for (size_t i = 0; i < p->vars.n; i++)
        if (strlen(p->vars.v[i].name) == n && memcmp(p->vars.v[i].name, name, n) == 0)
            return (int)i;
    return -1;
}

static sc_proto proto_from(const char *s, size_t n)
{
    if (n == 4 && memcmp(s, "imap", 4) == 0)
        return SC_PROTO_IMAP;
    if (n == 4 && memcmp(s, "smtp", 4) == 0)
        return SC_PROTO_SMTP;
    if (n == 4 && memcmp(s, "pop3", 4) == 0)
        return SC_PROTO_POP3;
    return SC_PROTO_NONE;
}

/* Parse a port number 1..65535; -1 if not one. */
static long port_from(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

static void unknown_var(parser *p, size_t off, const char *name, size_t n)
{
    const char *cands[NBUILTIN + 256];
    size_t k = 0;
    for (size_t i = 0; i < NBUILTIN; i++)
        cands[k++] = builtin_names[i];
    for (size_t i = 0; i < p->vars.n && k < sizeof cands / sizeof cands[0]; i++)
        cands[k++] = p->vars.v[i].name;
    char buf[100];
    err_at(p, off, "unknown variable '{%.*s}'%s", (int)(n > 64 ? 64 : n), name,
           mean(suggest_n(name, n, cands, k), buf, sizeof buf));
}

/* Resolve the name inside {...} at byte offset off (of the '{'). Returns 0 or -1 (reported). */
static int resolve_ref(parser *p, const char *name, size_t n, size_t off, sc_ref *r)
{
    memset(r, 0, sizeof *r);
    if (n > 7 && memcmp(name, "base64:", 7) == 0) {
        r->xform = SC_XF_BASE64;
        name += 7;
        n -= 7;
    }
    r->name = pstrndup(p, name, n);
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(name, lit, n) == 0)
    if (IS("account.name"))
        r->kind = SC_VAR_ACCOUNT_NAME;
    else if (IS("account.email"))
        r->kind = SC_VAR_ACCOUNT_EMAIL;
    else if (IS("account.local"))
        r->kind = SC_VAR_ACCOUNT_LOCAL;
    else if (IS("account.password"))
        r->kind = SC_VAR_ACCOUNT_PASSWORD, r->secret = 1;
    else if (IS("account.app_password"))
        r->kind = SC_VAR_ACCOUNT_APP_PASSWORD, r->secret = 1;
    else if (IS("account.oauth_token"))
        r->kind = SC_VAR_ACCOUNT_OAUTH_TOKEN, r->secret = 1;
    else if (IS("host"))
        r->kind = SC_VAR_HOST;
    else if (IS("cafile"))
        r->kind = SC_VAR_CAFILE;
    else if (IS("account.username")) {
        err_at(p, off, "'{account.username}' needs a protocol: {account.username.imap}, "
                       "{account.username.smtp} or {account.username.pop3}");
        return -1;
    } else if (n > 17 && memcmp(name, "account.username.", 17) == 0 &&
               proto_from(name + 17, n - 17)) {
        r->kind = SC_VAR_ACCOUNT_USERNAME;
        r->proto = proto_from(name + 17, n - 17);
    } else if (n >= 5 && memcmp(name, "port:", 5) == 0) {
        const char *a = name + 5, *colon = memchr(a, ':', n - 5);
        size_t an = colon ? (size_t)(colon - a) : n - 5;
        r->kind = SC_VAR_PORT;
        r->proto = proto_from(a, an);
        if (!r->proto) {
            err_at(p, off, "unknown protocol '%.*s' in '{%.*s}' (imap, smtp or pop3)",
                   (int)(an > 20 ? 20 : an), a, (int)n, name);
            return -1;
        }
        if (colon) {
            long port = port_from(colon + 1, (size_t)(name + n - colon - 1));
            if (port < 0) {
                err_at(p, off, "bad port in '{%.*s}': a provider port is 1 to 65535", (int)n,
                       name);
                return -1;
            }
            r->port = (unsigned)port;
        }
    } else {
        int v = find_var(p, name, n);
        if (v < 0 || memchr(name, '.', n) || memchr(name, ':', n)) {
            unknown_var(p, off, name, n);
            return -1;
        }
        r->kind = p->vars.v[v].kind;
        r->slot = (unsigned)v;
        r->secret = p->vars.v[v].secret;
    }
#undef IS
    return 0;
}

static int is_name_char(int c)
{
    return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == ':' || c == '-';
}

/* Find the end of a {name} starting at s[i] == '{' (i < n). Returns the offset just after the
 * '}', 0 when s[i+1] does not start a name (a literal brace), or (size_t)-1 after reporting a
 * malformed reference. base is the offset of s in the line. */
static size_t ref_end(parser *p, const char *s, size_t n, size_t i, size_t base)
{
    if (i + 1 >= n || !(is_alpha((unsigned char)s[i + 1]) || s[i + 1] == '_'))
        return 0;
    size_t j = i + 1;
    while (j < n && is_name_char((unsigned char)s[j]) && j - i <= MAX_NAME + 8)
        j++;
    if (j < n && s[j] == '}')
        return j + 1;
    err_at(p, base + i, "'{' starts a variable here, but '%.*s' is not a name followed by '}' "
                        "(names are letters, digits and _ . : -; write \\{ for a literal brace)",
           (int)((j < n ? j + 1 : j) - i > 40 ? 40 : (j < n ? j + 1 : j) - i), s + i);
    return (size_t)-1;
}

/* ---- texts ------------------------------------------------------------------------------ */

enum {
    TX_SUBST = 1,   /* {name} is a variable reference */
    TX_NO_NUL = 2,  /* a NUL byte is not allowed (the text becomes a C string) */
};

/* Scratch for build_text, kept in the parser so that it is freed on every exit. */
static void tb_flush(parser *p)
{
    if (p->tlit.n == 0)
        return;
    sc_part *part = VPUSH(p, p->tparts);
    part->kind = SC_PART_LIT;
    part->p = pstrndup(p, p->tlit.v, p->tlit.n);
    part->n = p->tlit.n;
    p->tlit.n = 0;
}

static void tb_byte(parser *p, char c)
{
    *(char *)VPUSH(p, p->tlit) = c;
}

/* Build a text from source bytes s[0..n) at line offset base. string: decode escapes (the
 * bytes are a string's inside, already checked by the tokenizer). Returns 0, or -1 when
 * something was reported. */
static int build_text(parser *p, const char *s, size_t n, size_t base, int string, int flags,
                      unsigned col, const char *src, size_t srcn, sc_text *out)
{
    memset(out, 0, sizeof *out);
    p->tparts.n = p->tlit.n = 0;
    int bad = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (string && c == '\\') {
            char e = s[i + 1];
            i += 2;
            switch (e) {
            case 'r': c = '\r'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'x':
                c = (char)(hexval((unsigned char)s[i]) * 16 + hexval((unsigned char)s[i + 1]));
                i += 2;
                break;
            default: c = e; break;   /* \\ \" \{ */
            }
            if (c == 0 && (flags & TX_NO_NUL)) {
                err_at(p, base + i - 4, "a NUL byte (\\x00) is not allowed here");
                bad = 1;
            }
            tb_byte(p, c);
            continue;
        }
        if (c == '{' && (flags & TX_SUBST)) {
            size_t e = ref_end(p, s, n, i, base);
            if (e == (size_t)-1) {
                bad = 1;
                i++;
                continue;
            }
            if (e > 0) {
                tb_flush(p);
                sc_ref ref;
                if (resolve_ref(p, s + i + 1, e - i - 2, base + i, &ref) == 0) {
                    sc_part *part = VPUSH(p, p->tparts);
                    part->kind = SC_PART_REF;
                    part->ref = ref;
                    out->secret |= ref.secret;
                } else {
                    bad = 1;
                }
                i = e;
                continue;
            }
        }
        tb_byte(p, c);
        i++;
    }
    tb_flush(p);
    out->nparts = p->tparts.n;
    if (p->tparts.n) {
        sc_part *parts = palloc(p, p->tparts.n * sizeof *parts);
        memcpy(parts, p->tparts.v, p->tparts.n * sizeof *parts);
        out->parts = parts;
    }
    out->src = pstrndup(p, src, srcn);
    out->col = col;
    return bad ? -1 : 0;
}

/* Build the text of a token: a string (decoded) or a word (as is). */
static int tok_text(parser *p, const tok *t, int flags, sc_text *out)
{
    const char *s = tsrc(p, t);
    unsigned col = col_of(p->s, p->n, t->off);
    if (t->kind == T_STRING)
        return build_text(p, s + 1, t->n - 2, t->off + 1, 1, flags, col, s, t->n, out);
    return build_text(p, s, t->n, t->off, 0, flags, col, s, t->n, out);
}

/* A text with no references, as one C string (for describe, include, set values). */
static const char *plain_string(parser *p, const tok *t)
{
    sc_text tx;
    if (tok_text(p, t, TX_NO_NUL, &tx) != 0)
        return NULL;
    return tx.nparts ? pstrndup(p, tx.parts[0].p, tx.parts[0].n) : pstrndup(p, "", 0);
}
/* ---- patterns --------------------------------------------------------------------------- */

/* Define (or reuse) a capture slot named s[0..n) at the current step. Returns the slot or -1
 * (reported at byte offset off). */
static int define_capture(parser *p, const char *s, size_t n, size_t off)
{
    char buf[100];
    if (n == 0 || n > MAX_NAME || !(is_alpha((unsigned char)s[0]) || s[0] == '_')) {
        err_at(p, off, "bad capture name '%.*s': a name is a letter or '_' followed by letters, "
                       "digits, '_' or '-' (at most %d)", (int)(n > 40 ? 40 : n), s, MAX_NAME);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!(is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) || s[i] == '_' ||
              s[i] == '-')) {
            err_at(p, off, "bad capture name '%.*s': a name is a letter or '_' followed by "
                           "letters, digits, '_' or '-' (at most %d)", (int)(n > 40 ? 40 : n), s,
                   MAX_NAME);
            return -1;
        }
    if ((n == 4 && memcmp(s, "host", 4) == 0) || (n == 6 && memcmp(s, "cafile", 6) == 0)) {
        err_at(p, off, "'%.*s' is a built-in variable; choose another name", (int)n, s);
        return -1;
    }
    int v = find_var(p, s, n);
    if (v >= 0 && p->vars.v[v].kind == SC_VAR_USER) {
        const sc_step *def = &p->steps.v[p->vars.v[v].def_step];
        err_at(p, off, "'%.*s' is a var (%s); a capture cannot reuse its name", (int)n, s,
               where(p, &def->loc, buf, sizeof buf));
        return -1;
    }
    if (v >= 0)
        return v;
    sc_var *var = VPUSH(p, p->vars);
    var->name = pstrndup(p, s, n);
    var->kind = SC_VAR_CAPTURE;
    var->def_step = (unsigned)(p->steps.n - 1);   /* the current step, already added */
    return (int)(p->vars.n - 1);
}

/* The regex source of a T_REGEX token: between the slashes. */
static void regex_span(const parser *p, const tok *t, size_t *off, size_t *n, int *caseless)
{
    const char *s = tsrc(p, t);
    size_t end = t->n - 1;
    while (s[end] != '/')
        end--;
    *off = t->off + 1;
    *n = end - 1;
    *caseless = end + 1 < t->n;
}

/* Build a regex pattern: find {references} (not the regex's own \p{..}, \x{..}, a{2,3}),
 * compile with PCRE2 (references stand in as same-length runs of 'x', so offsets map to the
 * source one to one), collect named groups. Returns 0 or -1 (reported). */
static int build_regex(parser *p, const tok *t, sc_pattern *pat)
{
    size_t off, n;
    int caseless;
    regex_span(p, t, &off, &n, &caseless);
    const char *s = p->s + off;
    char *copy = palloc(p, n + 1);
    memcpy(copy, s, n);
    int bad = 0;
    p->tparts.n = 0;
    size_t lit_from = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '\\') {
            /* an escape; \p{..} \x{..} \g{..} \k{..} \N{..} \o{..} keep their braces */
            i += 2;
            if (i < n && i >= 1 && is_alpha((unsigned char)s[i - 1]) && s[i] == '{') {
                while (i < n && s[i] != '}')
                    i++;
            }
            continue;
        }
        if (s[i] != '{') {
            i++;
            continue;
        }
        size_t e = ref_end(p, s, n, i, off);
        if (e == (size_t)-1) {
            bad = 1;
            i++;
            continue;
        }
        if (e == 0) {
            i++;
            continue;
        }
        if (i > lit_from) {
            sc_part *lit = VPUSH(p, p->tparts);
            lit->kind = SC_PART_LIT;
            lit->p = pstrndup(p, s + lit_from, i - lit_from);
            lit->n = i - lit_from;
        }
        sc_ref ref;
        if (resolve_ref(p, s + i + 1, e - i - 2, off + i, &ref) == 0) {
            sc_part *part = VPUSH(p, p->tparts);
            part->kind = SC_PART_REF;
            part->ref = ref;
            pat->text.secret |= ref.secret;
        } else {
            bad = 1;
        }
        memset(copy + i, 'x', e - i);
        i = lit_from = e;
    }
    if (n > lit_from) {
        sc_part *lit = VPUSH(p, p->tparts);
        lit->kind = SC_PART_LIT;
        lit->p = pstrndup(p, s + lit_from, n - lit_from);
        lit->n = n - lit_from;
    }
    pat->kind = SC_PAT_REGEX;
    pat->caseless = caseless;
    pat->text.nparts = p->tparts.n;
    if (p->tparts.n) {
        sc_part *parts = palloc(p, p->tparts.n * sizeof *parts);
        memcpy(parts, p->tparts.v, p->tparts.n * sizeof *parts);
        pat->text.parts = parts;
    }
    pat->text.src = pstrndup(p, tsrc(p, t), t->n);
    pat->text.col = col_of(p->s, p->n, t->off);
    if (bad)
        return -1;

    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)copy, n, caseless ? PCRE2_CASELESS : 0, &errcode,
                                   &erroff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[200];
        if (pcre2_get_error_message(errcode, msg, sizeof msg) < 0)
            strcpy((char *)msg, "error");
        err_at(p, off + (erroff < n ? erroff : n), "bad regex: %s", (char *)msg);
        return -1;
    }
    uint32_t count = 0, esize = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table);
    sc_group *groups = count ? palloc(p, count * sizeof *groups) : NULL;
    size_t ng = 0;
    for (uint32_t k = 0; k < count; k++) {
        PCRE2_SPTR e = table + (size_t)k * esize;
        const char *name = (const char *)e + 2;
        size_t nn = strnlen(name, esize - 2);
        int slot = define_capture(p, name, nn, t->off);
        if (slot < 0) {
            bad = 1;
            continue;
        }
        groups[ng].name = pstrndup(p, name, nn);
        groups[ng].number = (unsigned)(e[0] << 8 | e[1]);
        groups[ng].slot = (unsigned)slot;
        ng++;
    }
    pcre2_code_free(re);
    pat->groups = groups;
    pat->ngroups = ng;
    return bad ? -1 : 0;
}

enum { PAT_NOT = 1, PAT_EXACT = 2 };

/* Parse one pattern at the cursor: "glob", exact "text", /regex/[i], and `not` before any
 * of them when PAT_NOT is allowed. Returns 0, 1 when the next token is not a pattern (nothing
 * consumed), or -1 (reported; the pattern's tokens are consumed). */
static int parse_pattern(parser *p, int allow, sc_pattern *pat)
{
    memset(pat, 0, sizeof *pat);
    size_t save = p->i;
    const tok *t = peek(p);
    if ((allow & PAT_NOT) && tok_is(p, t, "not")) {
        pat->negate = 1;
        p->i++;
        t = peek(p);
        if (!t || tok_is(p, t, "as") || (t->kind == T_WORD && memchr(tsrc(p, t), '=', t->n))) {
            err_at(p, p->t[p->i - 1].off, "'not' must be followed by a pattern");
            return -1;
        }
    }
    if ((allow & PAT_EXACT) && tok_is(p, t, "exact")) {
        p->i++;
        const tok *s = peek(p);
        if (!s || s->kind != T_STRING) {
            err_at(p, s ? s->off : t->off + t->n, "'exact' must be followed by a quoted string");
            return -1;
        }
        p->i++;
        pat->kind = SC_PAT_EXACT;
        return tok_text(p, s, TX_SUBST, &pat->text) == 0 ? 0 : -1;
    }
    if (t && t->kind == T_STRING) {
        p->i++;
        pat->kind = SC_PAT_GLOB;
        return tok_text(p, t, TX_SUBST, &pat->text) == 0 ? 0 : -1;
    }
    if (t && t->kind == T_REGEX) {
        p->i++;
        return build_regex(p, t, pat);
    }
    if (pat->negate) {
        err_at(p, t->off, "'not' must be followed by a pattern: \"glob\", exact \"text\" or "
                          "/regex/");
        return -1;
    }
    p->i = save;
    return 1;
}

/* ---- KEY=VALUE ---------------------------------------------------------------------------- */

typedef struct kv {
    const char *key;
    size_t keyn, key_off;
    const tok *vtok;       /* the value's own token when glued (key="..." or key=/re/) */
    const char *val;       /* else the value's bytes inside the word */
    size_t valn, val_off;
} kv;

/* If the token at the cursor is KEY=VALUE, consume it (and its glued value) and return 1. */
static int take_kv(parser *p, kv *out)
{
    const tok *t = peek(p);
    if (!t || t->kind != T_WORD)
        return 0;
    const char *s = tsrc(p, t), *eq = memchr(s, '=', t->n);
    if (!eq || eq == s)
        return 0;
    memset(out, 0, sizeof *out);
    out->key = s;
    out->keyn = (size_t)(eq - s);
    out->key_off = t->off;
    p->i++;
    const tok *v = peek(p);
    if ((size_t)(eq - s) == t->n - 1 && v && v->glued) {
        out->vtok = v;
        p->i++;
    } else {
        out->val = eq + 1;
        out->valn = t->n - (size_t)(eq - s) - 1;
        out->val_off = t->off + (size_t)(eq - s) + 1;
    }
    return 1;
}

static int kv_is(const kv *k, const char *key)
{
    return strlen(key) == k->keyn && memcmp(k->key, key, k->keyn) == 0;
}

static size_t kv_off(const kv *k)
{
    return k->vtok ? k->vtok->off : k->val_off;
}

/* The value as a text (strings decoded; words as they are). */
static int kv_text(parser *p, const kv *k, int flags, sc_text *out)
{
    if (k->vtok) {
        if (k->vtok->kind == T_REGEX) {
            err_at(p, k->vtok->off, "'%.*s=' takes a word or a quoted string here, not a /regex/",
                   (int)k->keyn, k->key);
            return -1;
        }
        return tok_text(p, k->vtok, flags, out);
    }
    return build_text(p, k->val, k->valn, k->val_off, 0, flags, col_of(p->s, p->n, k->val_off),
                      k->val, k->valn, out);
}

/* The value when it must be a plain word (no quotes, no variables): bytes and length. */
static int kv_word(parser *p, const kv *k, const char **s, size_t *n)
{
    if (k->vtok) {
        err_at(p, k->vtok->off, "'%.*s=' takes a plain word here", (int)k->keyn, k->key);
        return -1;
    }
    if (k->valn == 0) {
        err_at(p, k->val_off, "'%.*s=' needs a value", (int)k->keyn, k->key);
        return -1;
    }
    *s = k->val;
    *n = k->valn;
    return 0;
}

static void unknown_key(parser *p, const kv *k, const char *step, const char *const *keys,
                        size_t nkeys)
{
    char buf[100], list[300];
    size_t o = 0;
    list[0] = 0;
    for (size_t i = 0; i < nkeys && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s=", i ? " " : "", keys[i]);
    err_at(p, k->key_off, "unknown setting '%.*s' for '%s'%s (known: %s)",
           (int)(k->keyn > 40 ? 40 : k->keyn), k->key, step,
           mean(suggest_n(k->key, k->keyn, keys, nkeys), buf, sizeof buf), list);
}

/* Match a word against '|'-separated choices; returns the index or -1. */
static int choice(const char *s, size_t n, const char *choices)
{
    int idx = 0;
    for (const char *c = choices;; idx++) {
        const char *bar = strchr(c, '|');
        size_t cn = bar ? (size_t)(bar - c) : strlen(c);
        if (cn == n && memcmp(c, s, n) == 0)
            return idx;
        if (!bar)
            return -1;
        c = bar + 1;
    }
}

/* Report a bad choice, with a suggestion among the choices. */
static void bad_choice(parser *p, size_t off, const char *what, const char *s, size_t n,
                       const char *choices)
{
    const char *names[16];
    char copy[200];
    snprintf(copy, sizeof copy, "%s", choices);
    size_t k = 0;
    for (char *c = copy; c && k < 16;) {
        names[k++] = c;
        c = strchr(c, '|');
        if (c)
            *c++ = 0;
    }
    char buf[100];
    const char *sugg = suggest_n(s, n, names, k);
    char list[300];
    size_t o = 0;
    list[0] = 0;
    for (size_t i = 0; i < k && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", names[i]);
    err_at(p, off, "unknown %s '%.*s'%s (one of: %s)", what, (int)(n > 40 ? 40 : n), s,
           mean(sugg, buf, sizeof buf), list);
}

/* ---- usage lines, for messages ---------------------------------------------------------- */

static const char *usage_of(const char *kw)
{
    static const char *const u[][2] = {
        {"scenario", "scenario NAME"},
        {"describe", "describe \"TEXT\""},
        {"tags", "tags TAG..."},
        {"profile", "profile NAME|PATH"},
        {"role", "role client|server"},
        {"timeout", "timeout [step=DURATION] [total=DURATION]"},
        {"set", "set SECTION.KEY=VALUE"},
        {"account", "account NAME"},
        {"include", "include \"FILE\""},
        {"connect", "connect PROTO [PORT] implicit-tls|plain [timeout=DURATION]"},
        {"expect-connect", "expect-connect ok|refused|timeout"},
        {"tls", "tls [expect=ok|fail|alert] [verify=on|off] [sni=NAME] [version=1.2|1.3]"},
        {"listen", "listen PROTO PORT implicit-tls|plain"},
        {"serve", "serve [PROTO...]"},
        {"accept", "accept [PORT] [timeout=DURATION]"},
        {"client", "client ADAPTER [KEY=VALUE...]"},
        {"expect-client", "expect-client exit=0|nonzero|N [output=PATTERN] [timeout=DURATION]"},
        {"send", "send \"LINE\"..."},
        {"send-raw", "send-raw \"BYTES\"..."},
        {"expect", "expect PATTERN... [as NAME] [timeout=DURATION]"},
        {"expect-reply", "expect-reply STATUS [[not] PATTERN...] [as NAME] [timeout=DURATION]"},
        {"expect-nothing", "expect-nothing DURATION [open]"},
        {"expect-closed", "expect-closed [timeout=DURATION]"},
        {"starttls", "starttls [timeout=DURATION]"},
        {"close", "close"},
        {"wait", "wait DURATION"},
        {"var", "var NAME=VALUE"},
        {"check", "check NAME [KEY=VALUE...]"},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if (strcmp(u[i][0], kw) == 0)
            return u[i][1];
    return kw;
}

/* Report the first token left over on the line, if any. Returns 0 when none was left. */
static int expect_end(parser *p, const char *kw)
{
    const tok *t = peek(p);
    if (!t)
        return 0;
    err_at(p, t->off, "unexpected '%.*s' (usage: %s)", (int)(t->n > 40 ? 40 : t->n), tsrc(p, t),
           usage_of(kw));
    p->i = p->nt;
    return -1;
}

/* Report a missing argument at the end of the line (or at the token found instead). */
static void missing(parser *p, const char *kw, const char *what)
{
    const tok *t = peek(p);
    size_t off = t ? t->off : p->t[p->nt - 1].off + p->t[p->nt - 1].n;
    err_at(p, off, "'%s' needs %s (usage: %s)", kw, what, usage_of(kw));
}

/* A name: [a-z0-9][a-z0-9._-]* of at most MAX_NAME bytes (scenario, tag, profile, account,
 * adapter, check names). Returns 0 or -1 (reported). */
static int check_ident(parser *p, const tok *t, const char *what)
{
    const char *s = tsrc(p, t);
    int ok = t->kind == T_WORD && t->n <= MAX_NAME &&
             (is_digit((unsigned char)s[0]) || (s[0] >= 'a' && s[0] <= 'z'));
    for (size_t i = 0; ok && i < t->n; i++)
        ok = is_digit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '.' ||
             s[i] == '_' || s[i] == '-';
    if (!ok)
        err_at(p, t->off, "bad %s '%.*s': use lower-case letters, digits, '.', '_' and '-', "
                          "starting with a letter or digit (at most %d)", what,
               (int)(t->n > 40 ? 40 : t->n), s, MAX_NAME);
    return ok ? 0 : -1;
}

static sc_loc cur_loc(const parser *p, size_t off)
{
    sc_loc l = {p->f->path, p->lineno, col_of(p->s, p->n, off), p->s, p->n};
    return l;
}

/* Parse a duration word at the cursor; returns 0 or -1 (reported). */
static int take_duration(parser *p, const char *kw, unsigned *ms)
{
    const tok *t = next_tok(p);
    if (!t) {
        missing(p, kw, "a duration such as 500ms or 5s");
        return -1;
    }
    char why[160];
    if (t->kind != T_WORD || sc_parse_duration(tsrc(p, t), t->n, ms, why, sizeof why) != 0) {
        if (t->kind != T_WORD)
            snprintf(why, sizeof why, "a duration is a number and a unit: 500ms, 5s or 2m");
        err_at(p, t->off, "bad duration '%.*s': %s", (int)(t->n > 40 ? 40 : t->n), tsrc(p, t),
               why);
        return -1;
    }
    return 0;
}

static int kv_duration(parser *p, const kv *k, unsigned *ms)
{
    const char *s;
    size_t n;
    if (kv_word(p, k, &s, &n) != 0)
        return -1;
    char why[160];
    if (sc_parse_duration(s, n, ms, why, sizeof why) != 0) {
        err_at(p, k->val_off, "bad duration '%.*s': %s", (int)(n > 40 ? 40 : n), s, why);
        return -1;
    }
    return 0;
}

/* Parse the protocol word at the cursor. */
static sc_proto take_proto(parser *p, const char *kw)
{
    const tok *t = peek(p);
    if (!t || t->kind != T_WORD) {
        missing(p, kw, "a protocol: imap, smtp or pop3");
        return SC_PROTO_NONE;
    }
    p->i++;
    sc_proto proto = proto_from(tsrc(p, t), t->n);
    if (!proto) {
        if (tok_is(p, t, "pop"))
            err_at(p, t->off, "unknown protocol 'pop' (did you mean 'pop3'?)");
        else
            bad_choice(p, t->off, "protocol", tsrc(p, t), t->n, "imap|smtp|pop3");
    }
    return proto;
}

/* Parse MODE at the cursor; 0 when bad (reported). */
static sc_mode take_mode(parser *p, const char *kw)
{
    const tok *t = peek(p);
    if (!t || t->kind != T_WORD) {
        missing(p, kw, "a mode: implicit-tls or plain");
        return 0;
    }
    p->i++;
    if (tok_is(p, t, "plain"))
        return SC_MODE_PLAIN;
    if (tok_is(p, t, "implicit-tls"))
        return SC_MODE_IMPLICIT_TLS;
    if (tok_is(p, t, "starttls") || tok_is(p, t, "stls"))
        err_at(p, t->off, "mode '%.*s' is scripted: use 'plain', send the STARTTLS command, then "
                          "a 'starttls' step", (int)t->n, tsrc(p, t));
    else if (tok_is(p, t, "tls") || tok_is(p, t, "ssl") || tok_is(p, t, "implicit"))
        err_at(p, t->off, "unknown mode '%.*s' (did you mean 'implicit-tls'?)", (int)t->n,
               tsrc(p, t));
    else
        bad_choice(p, t->off, "mode", tsrc(p, t), t->n, "implicit-tls|plain");
    return 0;
}

/* An optional port number at the cursor (a word of digits). Returns the port, 0 when the next
 * token is not a number, or -1 when it is a bad one (reported). */
static long take_port(parser *p, int required, const char *kw)
{
    const tok *t = peek(p);
    if (!t || t->kind != T_WORD || !is_digit((unsigned char)tsrc(p, t)[0])) {
        if (required) {
            missing(p, kw, "a port number");
            return -1;
        }
        return 0;
    }
    p->i++;
    long port = port_from(tsrc(p, t), t->n);
    if (port < 0)
        err_at(p, t->off, "bad port '%.*s': a port is 1 to 65535", (int)(t->n > 20 ? 20 : t->n),
               tsrc(p, t));
    return port;
}

/* Options that only set the step timeout: timeout=DURATION. */
static void timeout_opts(parser *p, sc_step *st, const char *kw)
{
    static const char *const keys[] = {"timeout"};
    kv k;
    while (take_kv(p, &k)) {
        if (kv_is(&k, "timeout"))
            kv_duration(p, &k, &st->timeout_ms);
        else
            unknown_key(p, &k, kw, keys, 1);
    }
    expect_end(p, kw);
    if (st->timeout_ms > p->h.total_timeout_ms)
        err_at(p, p->t[0].off, "the step timeout (%ums) is longer than the scenario's total "
                               "timeout (%ums)", st->timeout_ms, p->h.total_timeout_ms);
}

/* ---- connection state ------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void set_closed(parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->closed_why, sizeof p->closed_why, fmt, ap);
    va_end(ap);
    p->open = 0;
    p->tls = 0;
    p->state_unknown = 0;
}

static int listener_fails_tls(const parser *p, const listener *l)
{
    const sc_step *st = &p->steps.v[l->step];
    return l->mode == SC_MODE_IMPLICIT_TLS && st->u.listen.tls.expect != SC_TLS_OK;
}

/* Open the server role's connection implicitly (accept) for a step that needs one. */
static int server_accept(parser *p, const char *kw, size_t off, unsigned port)
{
    const listener *use = NULL;
    int nusable = 0, failing = -1;
    sc_proto proto = SC_PROTO_NONE;
    int tls = 1;
    for (size_t i = 0; i < p->listeners.n; i++) {
        const listener *l = &p->listeners.v[i];
        if (port && l->port != port)
            continue;
        if (listener_fails_tls(p, l)) {
            failing = (int)i;
            continue;
        }
        if (nusable++ == 0)
            proto = l->proto, use = l;
        else if (l->proto != proto)
            proto = SC_PROTO_NONE;
        tls &= l->mode == SC_MODE_IMPLICIT_TLS;
    }
    if (!use) {
        if (failing >= 0) {
            const sc_step *ls = &p->steps.v[p->listeners.v[failing].step];
            err_at(p, off, "'%s' needs a connection, but connections to the listener of line %u "
                           "are expected to fail their TLS handshake", kw, ls->loc.line);
        } else {
            err_at(p, off, "'%s' needs a connection: there is no 'listen' before it", kw);
        }
        return -1;
    }
    p->open = 1;
    p->proto = proto;
    p->tls = tls;
    p->open_line = p->tls_line = p->lineno;
    return 0;
}

/* A step that reads or writes the connection: check there is one. Returns 0 or -1. */
static int need_conn(parser *p, const char *kw, size_t off)
{
    if (p->h.role == SC_ROLE_NONE)
        return 0;
    if (p->h.role == SC_ROLE_SERVER && p->serve_step >= 0) {
        err_at(p, off, "'%s' is for scripted servers: after 'serve' (line %u) the profile-driven "
                       "mock writes every reply (use 'listen' for a scripted server)", kw,
               p->steps.v[p->serve_step].loc.line);
        return -1;
    }
    if (p->open || p->state_unknown)
        return 0;
    if (p->h.role == SC_ROLE_SERVER)
        return server_accept(p, kw, off, 0);
    if (!p->any_connect)
        err_at(p, off, "'%s' needs a connection: there is no 'connect' before it", kw);
    else
        err_at(p, off, "'%s' needs a connection: %s", kw, p->closed_why);
    return -1;
}

/* ---- header lines ----------------------------------------------------------------------- */

static int header_once(parser *p, const tok *kw, sc_loc *seen)
{
    char buf[100];
    if (seen->line) {
        err_at(p, kw->off, "duplicate '%.*s' (first at %s)", (int)kw->n, tsrc(p, kw),
               where(p, seen, buf, sizeof buf));
        return -1;
    }
    *seen = cur_loc(p, kw->off);
    return 0;
}

static void h_scenario(parser *p, const tok *kw)
{
    if (header_once(p, kw, &p->scenario_loc) != 0)
        return;
    const tok *t = next_tok(p);
    if (!t) {
        missing(p, "scenario", "a name");
        return;
    }
    if (check_ident(p, t, "scenario name") == 0)
        p->h.name = pstrndup(p, tsrc(p, t), t->n);
    expect_end(p, "scenario");
}

static void h_describe(parser *p, const tok *kw)
{
    if (header_once(p, kw, &p->describe_loc) != 0)
        return;
    const tok *t = next_tok(p);
    if (!t || t->kind != T_STRING) {
        if (t)
            p->i--;
        missing(p, "describe", "a quoted text");
        p->i = p->nt;
        return;
    }
    p->h.describe = plain_string(p, t);
    expect_end(p, "describe");
}

static void h_tags(parser *p, const tok *kw)
{
    (void)kw;
    if (!peek(p)) {
        missing(p, "tags", "at least one tag");
        return;
    }
    for (const tok *t; (t = next_tok(p)) != NULL;) {
        if (check_ident(p, t, "tag") != 0)
            continue;
        int dup = 0;
        for (size_t i = 0; i < p->tags.n; i++)
            dup |= strlen(p->tags.v[i]) == t->n && memcmp(p->tags.v[i], tsrc(p, t), t->n) == 0;
        if (dup)
            err_at(p, t->off, "duplicate tag '%.*s'", (int)t->n, tsrc(p, t));
        else
            *VPUSH(p, p->tags) = pstrndup(p, tsrc(p, t), t->n);
    }
}

static void h_profile(parser *p, const tok *kw)
{
    if (header_once(p, kw, &p->profile_loc) != 0)
        return;
    const tok *t = next_tok(p);
    if (!t || t->kind != T_WORD) {
        if (t)
            p->i--;
        missing(p, "profile", "a profile name (icloud) or a path to a profile file");
        p->i = p->nt;
        return;
    }
    const char *s = tsrc(p, t);
    int is_path = memchr(s, '/', t->n) || (t->n > 4 && memcmp(s + t->n - 4, ".ini", 4) == 0);
    if (!is_path && check_ident(p, t, "profile name") != 0)
        return;
    p->h.profile = pstrndup(p, s, t->n);
    if (is_path)
        p->h.profile_path = path_join(p, p->f->path, p->h.profile);
    expect_end(p, "profile");
}

static void h_role(parser *p, const tok *kw)
{
    if (header_once(p, kw, &p->role_loc) != 0)
        return;
    const tok *t = next_tok(p);
    if (!t) {
        missing(p, "role", "client or server");
        return;
    }
    if (tok_is(p, t, "client"))
        p->h.role = SC_ROLE_CLIENT;
    else if (tok_is(p, t, "server"))
        p->h.role = SC_ROLE_SERVER;
    else
        bad_choice(p, t->off, "role", tsrc(p, t), t->n, "client|server");
    expect_end(p, "role");
}

static void h_timeout(parser *p, const tok *kw)
{
    static const char *const keys[] = {"step", "total"};
    if (header_once(p, kw, &p->timeout_loc) != 0)
        return;
    kv k;
    int any = 0;
    size_t step_off = kw->off;
    while (take_kv(p, &k)) {
        any = 1;
        if (kv_is(&k, "step")) {
            kv_duration(p, &k, &p->h.step_timeout_ms);
            step_off = k.key_off;
        } else if (kv_is(&k, "total")) {
            kv_duration(p, &k, &p->h.total_timeout_ms);
        } else {
            unknown_key(p, &k, "timeout", keys, 2);
        }
    }
    if (!any && !peek(p))
        missing(p, "timeout", "step=DURATION and/or total=DURATION");
    expect_end(p, "timeout");
    if (p->h.step_timeout_ms > p->h.total_timeout_ms)
        err_at(p, step_off, "the step timeout (%ums) is longer than the total timeout (%ums)",
               p->h.step_timeout_ms, p->h.total_timeout_ms);
}

static void h_set(parser *p, const tok *kw)
{
    (void)kw;
    kv k;
    if (!take_kv(p, &k)) {
        missing(p, "set", "SECTION.KEY=VALUE");
        p->i = p->nt;
        return;
    }
    int ok = memchr(k.key, '.', k.keyn) && k.key[0] != '.' && k.key[k.keyn - 1] != '.';
    for (size_t i = 0; ok && i < k.keyn; i++)
        ok = is_alpha((unsigned char)k.key[i]) || is_digit((unsigned char)k.key[i]) ||
             k.key[i] == '_' || k.key[i] == '-' || k.key[i] == '.';
    if (!ok) {
        err_at(p, k.key_off, "bad profile key '%.*s': write SECTION.KEY, e.g. imap.username or "
                             "listener.587.mode", (int)(k.keyn > 40 ? 40 : k.keyn), k.key);
        expect_end(p, "set");
        return;
    }
    const char *value;
    if (k.vtok) {
        if (k.vtok->kind != T_STRING) {
            err_at(p, k.vtok->off, "'set' takes a word or a quoted string as its value");
            return;
        }
        value = plain_string(p, k.vtok);
    } else {
        value = pstrndup(p, k.val, k.valn);
    }
    expect_end(p, "set");
    if (!value)
        return;
    sc_set *st = VPUSH(p, p->sets);
    st->key = pstrndup(p, k.key, k.keyn);
    st->value = value;
    st->loc = cur_loc(p, k.key_off);
}

static void h_account(parser *p, const tok *kw)
{
    if (header_once(p, kw, &p->account_loc) != 0)
        return;
    const tok *t = next_tok(p);
    if (!t) {
        missing(p, "account", "an account name from the profile");
        return;
    }
    if (check_ident(p, t, "account name") == 0)
        p->h.account = pstrndup(p, tsrc(p, t), t->n);
    expect_end(p, "account");
}

/* ---- steps ------------------------------------------------------------------------------ */

static void s_connect(parser *p, sc_step *st)
{
    sc_connect *c = &st->u.connect;
    c->outcome = SC_CONNECT_OK;
    c->outcome_step = -1;
    c->tls.expect = SC_TLS_OK;
    c->tls.verify = SC_VERIFY_ON;
    c->tls.step = -1;
    c->proto = take_proto(p, "connect");
    long port = c->proto ? take_port(p, 0, "connect") : 0;
    c->port = port > 0 ? (unsigned)port : 0;
    if (c->proto && port >= 0)
        c->mode = take_mode(p, "connect");
    timeout_opts(p, st, "connect");
    if (p->h.role != SC_ROLE_CLIENT)
        return;
    if (p->open)
        err_at(p, p->t[0].off, "already connected (since line %u): 'close' or 'expect-closed' "
                               "first", p->open_line);
    p->any_connect = 1;
    p->state_unknown = 0;
    p->open = 1;
    p->proto = c->proto;
    p->tls = c->mode == SC_MODE_IMPLICIT_TLS;
    p->open_line = p->tls_line = p->lineno;
}

static void s_expect_connect(parser *p, sc_step *st)
{
    const tok *t = next_tok(p);
    sc_connect_outcome o = 0;
    if (!t)
        missing(p, "expect-connect", "ok, refused or timeout");
    else if (tok_is(p, t, "ok"))
        o = SC_CONNECT_OK;
    else if (tok_is(p, t, "refused"))
        o = SC_CONNECT_REFUSED;
    else if (tok_is(p, t, "timeout"))
        o = SC_CONNECT_TIMEOUT;
    else
        bad_choice(p, t->off, "connect outcome", tsrc(p, t), t->n, "ok|refused|timeout");
    expect_end(p, "expect-connect");
    st->u.expect_connect.outcome = o;
    st->u.expect_connect.target = -1;
    int prev = (int)p->steps.n - 2;
    if (prev < 0 || p->steps.v[prev].kind != SC_CONNECT) {
        err_at(p, p->t[0].off, "'expect-connect' must directly follow a 'connect' step (it says "
                               "how that connect ends)");
        return;
    }
    sc_step *c = &p->steps.v[prev];
    st->u.expect_connect.target = prev;
    if (!o)
        return;
    c->u.connect.outcome = o;
    c->u.connect.outcome_step = (int)p->steps.n - 1;
    if (o != SC_CONNECT_OK && p->h.role == SC_ROLE_CLIENT)
        set_closed(p, o == SC_CONNECT_REFUSED ? "the connect at line %u is expected to be refused"
                                              : "the connect at line %u is expected to time out",
                   c->loc.line);
}

/* Where a `tls` step's settings go: the handshake of the step right before it. */
static sc_tls *tls_target(parser *p, int *target)
{
    int prev = (int)p->steps.n - 2;
    if (prev < 0)
        return NULL;
    sc_step *s = &p->steps.v[prev];
    if (s->kind == SC_EXPECT_CONNECT && s->u.expect_connect.outcome == SC_CONNECT_OK &&
        s->u.expect_connect.target >= 0)
        s = &p->steps.v[prev = s->u.expect_connect.target];
    *target = prev;
    if (s->kind == SC_CONNECT && s->u.connect.mode == SC_MODE_IMPLICIT_TLS &&
        s->u.connect.outcome == SC_CONNECT_OK)
        return &s->u.connect.tls;
    if (s->kind == SC_LISTEN && s->u.listen.mode == SC_MODE_IMPLICIT_TLS)
        return &s->u.listen.tls;
    if (s->kind == SC_STARTTLS)
        return &s->u.starttls.tls;
    return NULL;
}

static void s_tls(parser *p, sc_step *st)
{
    static const char *const keys[] = {"expect", "verify", "sni", "version"};
    sc_tls *tls = &st->u.tls.tls;
    tls->expect = SC_TLS_OK;
    tls->verify = SC_VERIFY_ON;
    tls->step = (int)p->steps.n - 1;
    st->u.tls.target = -1;
    kv k;
    while (take_kv(p, &k)) {
        const char *s;
        size_t n;
        int c;
        if (kv_is(&k, "sni")) {
            sc_text *sni = palloc(p, sizeof *sni);
            if (kv_text(p, &k, TX_SUBST | TX_NO_NUL, sni) == 0)
                tls->sni = sni;
            continue;
        }
        if (!kv_is(&k, "expect") && !kv_is(&k, "verify") && !kv_is(&k, "version")) {
            unknown_key(p, &k, "tls", keys, 4);
            continue;
        }
        if (kv_word(p, &k, &s, &n) != 0)
            continue;
        if (kv_is(&k, "expect")) {
            if ((c = choice(s, n, "ok|fail|alert")) < 0)
                bad_choice(p, k.val_off, "TLS expectation", s, n, "ok|fail|alert");
            else
                tls->expect = (sc_tls_expect)(c + 1);
        } else if (kv_is(&k, "verify")) {
            if ((c = choice(s, n, "on|off")) < 0)
                bad_choice(p, k.val_off, "verify setting", s, n, "on|off");
            else if (p->h.role == SC_ROLE_SERVER)
                err_at(p, k.key_off, "'verify=' is for the client role (mailrig checking the "
                                     "server's certificate); in the server role the client under "
                                     "test does the verifying");
            else
                tls->verify = (sc_tls_verify)(c + 1);
        } else {
            if ((c = choice(s, n, "1.2|1.3")) < 0)
                bad_choice(p, k.val_off, "TLS version", s, n, "1.2|1.3");
            else
                tls->version = c == 0 ? 12 : 13;
        }
    }
    if (peek(p) && !p->stop)
        expect_end(p, "tls");
    int target = -1;
    sc_tls *dst = tls_target(p, &target);
    if (!dst) {
        err_at(p, p->t[0].off, "'tls' must directly follow 'connect ... implicit-tls', "
                               "'listen ... implicit-tls' or 'starttls' (it sets how that "
                               "handshake must go)");
        return;
    }
    if (dst->step >= 0) {
        err_at(p, p->t[0].off, "a second 'tls' for the same handshake (the first is at line %u)",
               p->steps.v[dst->step].loc.line);
        return;
    }
    *dst = *tls;
    st->u.tls.target = target;
    const sc_step *ts = &p->steps.v[target];
    if (tls->expect != SC_TLS_OK && ts->kind != SC_LISTEN && p->h.role != SC_ROLE_NONE)
        set_closed(p, "the TLS handshake at line %u is expected to fail, which ends the "
                      "connection", p->lineno);
}

static void s_listen(parser *p, sc_step *st)
{
    sc_listen *l = &st->u.listen;
    l->tls.expect = SC_TLS_OK;
    l->tls.verify = SC_VERIFY_ON;
    l->tls.step = -1;
    l->proto = take_proto(p, "listen");
    long port = l->proto ? take_port(p, 1, "listen") : -1;
    if (port > 0)
        l->port = (unsigned)port;
    if (port > 0)
        l->mode = take_mode(p, "listen");
    expect_end(p, "listen");
    if (p->h.role != SC_ROLE_SERVER)
        return;
    if (p->serve_step >= 0) {
        err_at(p, p->t[0].off, "'listen' cannot be mixed with 'serve' (line %u): a scenario is "
                               "either a scripted server or the profile-driven mock",
               p->steps.v[p->serve_step].loc.line);
        return;
    }
    for (size_t i = 0; i < p->steps.n - 1; i++)
        if (p->steps.v[i].kind == SC_CLIENT) {
            err_at(p, p->t[0].off, "'listen' after 'client' (line %u): start every listener "
                                   "before the client, which may already be connecting",
                   p->steps.v[i].loc.line);
            return;
        }
    for (size_t i = 0; i < p->listeners.n; i++)
        if (l->port && p->listeners.v[i].port == l->port) {
            err_at(p, p->t[2].off, "port %u is already listened on (line %u)", l->port,
                   p->steps.v[p->listeners.v[i].step].loc.line);
            return;
        }
    if (!l->proto || !l->port || !l->mode)
        return;
    listener *ln = VPUSH(p, p->listeners);
    ln->port = l->port;
    ln->proto = l->proto;
    ln->mode = l->mode;
    ln->step = (int)p->steps.n - 1;
}

static void s_serve(parser *p, sc_step *st)
{
    for (const tok *t; (t = peek(p)) != NULL;) {
        size_t before = p->i;
        sc_proto proto = take_proto(p, "serve");
        if (p->i == before)
            p->i++;   /* not a word: reported by take_proto; go on with the next token */
        if (!proto)
            continue;
        if (st->u.serve.protos & (1u << proto))
            err_at(p, t->off, "'%s' is listed twice", sc_proto_name(proto));
        st->u.serve.protos |= 1u << proto;
    }
    if (p->h.role != SC_ROLE_SERVER)
        return;
    if (p->serve_step >= 0) {
        err_at(p, p->t[0].off, "a second 'serve' (the first is at line %u)",
               p->steps.v[p->serve_step].loc.line);
        return;
    }
    if (p->listeners.n) {
        err_at(p, p->t[0].off, "'serve' cannot be mixed with 'listen' (line %u): a scenario is "
                               "either a scripted server or the profile-driven mock",
               p->steps.v[p->listeners.v[0].step].loc.line);
        return;
    }
    for (size_t i = 0; i < p->steps.n - 1; i++)
        if (p->steps.v[i].kind == SC_CLIENT) {
            err_at(p, p->t[0].off, "'serve' after 'client' (line %u): start the servers before "
                                   "the client", p->steps.v[i].loc.line);
            return;
        }
    p->serve_step = (int)p->steps.n - 1;
}

static void s_accept(parser *p, sc_step *st)
{
    long port = take_port(p, 0, "accept");
    st->u.accept.port = port > 0 ? (unsigned)port : 0;
    timeout_opts(p, st, "accept");
    if (p->h.role != SC_ROLE_SERVER || port < 0)
        return;
    if (p->serve_step >= 0) {
        need_conn(p, "accept", p->t[0].off);   /* reports the serve conflict */
        return;
    }
    if (p->open) {
        err_at(p, p->t[0].off, "'accept' while the connection accepted at line %u is open: "
                               "'close' or 'expect-closed' it first",
               p->open_line);
        return;
    }
    if (port > 0) {
        int found = 0;
        for (size_t i = 0; i < p->listeners.n; i++)
            found |= p->listeners.v[i].port == (unsigned)port;
        if (!found) {
            err_at(p, p->t[1].off, "'accept %ld': no 'listen' on port %ld before it", port, port);
            return;
        }
    }
    server_accept(p, "accept", p->t[0].off, (unsigned)(port > 0 ? port : 0));
}

static void s_client(parser *p, sc_step *st)
{
    static const char *const keys[] = {"server", "port",  "security", "user", "password",
                                       "cafile", "proto", "auth",     "from", "to"};
    enum { NKEYS = sizeof keys / sizeof keys[0] };
    const tok *a = next_tok(p);
    if (!a || a->kind != T_WORD || memchr(tsrc(p, a), '=', a->n)) {
        if (a)
            p->i--;
        missing(p, "client", "an adapter name (msmtp, curl-imap, ...)");
        p->i = p->nt;
        return;
    }
    char why[300];
    if (check_ident(p, a, "adapter name") == 0) {
        st->u.client.adapter = pstrndup(p, tsrc(p, a), a->n);
        if (p->opt->check_client &&
            p->opt->check_client(p->opt->ctx, st->u.client.adapter, NULL, NULL, why,
                                 sizeof why) != 0)
            err_at(p, a->off, "%s", why);
    }
    sc_kv tmp[MAX_TOKENS];
    size_t n = 0;
    kv k;
    while (peek(p)) {
        if (!take_kv(p, &k)) {
            expect_end(p, "client");
            break;
        }
        int known = 0;
        for (size_t i = 0; i < NKEYS; i++)
            known |= kv_is(&k, keys[i]);
        if (!known) {
            unknown_key(p, &k, "client", keys, NKEYS);
            continue;
        }
        int dup = 0;
        for (size_t i = 0; i < n; i++)
            dup |= strlen(tmp[i].key) == k.keyn && memcmp(tmp[i].key, k.key, k.keyn) == 0;
        if (dup) {
            err_at(p, k.key_off, "'%.*s=' is given twice", (int)k.keyn, k.key);
            continue;
        }
        sc_kv *e = &tmp[n];
        if (kv_text(p, &k, TX_SUBST | TX_NO_NUL, &e->value) != 0)
            continue;
        e->key = pstrndup(p, k.key, k.keyn);
        e->key_col = col_of(p->s, p->n, k.key_off);
        /* a literal port or protocol can be checked now */
        const sc_part *only = e->value.nparts == 1 ? &e->value.parts[0] : NULL;
        if (only && only->kind == SC_PART_LIT && kv_is(&k, "port") &&
            port_from(only->p, only->n) < 0) {
            err_at(p, kv_off(&k), "bad port '%.*s': a port is 1 to 65535",
                   (int)(only->n > 20 ? 20 : only->n), only->p);
            continue;
        }
        if (only && only->kind == SC_PART_LIT && kv_is(&k, "proto") &&
            !proto_from(only->p, only->n)) {
            bad_choice(p, kv_off(&k), "protocol", only->p, only->n, "imap|smtp|pop3");
            continue;
        }
        if (p->opt->check_client && st->u.client.adapter &&
            p->opt->check_client(p->opt->ctx, st->u.client.adapter, e->key,
                                 e->value.src, why, sizeof why) != 0) {
            err_at(p, k.key_off, "%s", why);
            continue;
        }
        n++;
    }
    if (n) {
        sc_kv *kvs = palloc(p, n * sizeof *kvs);
        memcpy(kvs, tmp, n * sizeof *kvs);
        st->u.client.kv = kvs;
        st->u.client.nkv = n;
    }
    if (p->h.role != SC_ROLE_SERVER)
        return;
    if (p->client_step >= 0) {
        err_at(p, p->t[0].off, "a client is already running (started at line %u): "
                               "'expect-client' it first", p->steps.v[p->client_step].loc.line);
        return;
    }
    if (!p->listeners.n && p->serve_step < 0)
        err_at(p, p->t[0].off, "the client has nothing to connect to: put 'listen' or 'serve' "
                               "before 'client'");
    p->client_step = (int)p->steps.n - 1;
}

/* The pattern of `output=`: a kv whose value is a string (glob) or a regex. */
static int kv_pattern(parser *p, const kv *k, sc_pattern *pat)
{
    memset(pat, 0, sizeof *pat);
    if (!k->vtok) {
        err_at(p, k->val_off, "'%.*s=' takes a \"glob\" or a /regex/", (int)k->keyn, k->key);
        return -1;
    }
    if (k->vtok->kind == T_REGEX)
        return build_regex(p, k->vtok, pat);
    pat->kind = SC_PAT_GLOB;
    return tok_text(p, k->vtok, TX_SUBST, &pat->text);
}

static void s_expect_client(parser *p, sc_step *st)
{
    static const char *const keys[] = {"exit", "output", "timeout"};
    int have_exit = 0;
    kv k;
    while (peek(p)) {
        if (!take_kv(p, &k)) {
            expect_end(p, "expect-client");
            break;
        }
        if (kv_is(&k, "exit")) {
            const char *s;
            size_t n;
            if (kv_word(p, &k, &s, &n) != 0)
                continue;
            have_exit = 1;
            long code = -1;
            if (n <= 3 && is_digit((unsigned char)s[0])) {
                code = 0;
                for (size_t i = 0; i < n && code >= 0; i++)
                    code = is_digit((unsigned char)s[i]) ? code * 10 + (s[i] - '0') : -1;
            }
            if (n == 7 && memcmp(s, "nonzero", 7) == 0) {
                st->u.expect_client.exit = SC_EXIT_NONZERO;
            } else if (code == 0) {
                st->u.expect_client.exit = SC_EXIT_ZERO;
            } else if (code > 0 && code <= 255) {
                st->u.expect_client.exit = SC_EXIT_CODE;
                st->u.expect_client.code = (int)code;
            } else {
                err_at(p, k.val_off, "bad exit status '%.*s': 0, nonzero, or a number 1 to 255",
                       (int)(n > 20 ? 20 : n), s);
            }
        } else if (kv_is(&k, "output")) {
            sc_pattern *pat = palloc(p, sizeof *pat);
            if (kv_pattern(p, &k, pat) == 0)
                st->u.expect_client.output = pat;
        } else if (kv_is(&k, "timeout")) {
            kv_duration(p, &k, &st->timeout_ms);
        } else {
            unknown_key(p, &k, "expect-client", keys, 3);
        }
    }
    if (!have_exit)
        err_at(p, p->t[0].off, "'expect-client' needs exit=0, exit=nonzero or exit=N (usage: %s)",
               usage_of("expect-client"));
    if (p->h.role != SC_ROLE_SERVER)
        return;
    if (p->client_step < 0) {
        err_at(p, p->t[0].off, "no client is running: 'expect-client' follows a 'client' step");
        return;
    }
    p->client_step = -1;
}

static void s_send(parser *p, sc_step *st)
{
    const char *kw = st->kind == SC_SEND ? "send" : "send-raw";
    sc_text tmp[MAX_TOKENS];
    size_t n = 0;
    for (const tok *t; (t = next_tok(p)) != NULL;) {
        if (t->kind != T_STRING) {
            err_at(p, t->off, "'%s' takes quoted strings: %s \"a1 NOOP\"", kw, kw);
            continue;
        }
        if (tok_text(p, t, TX_SUBST, &tmp[n]) == 0)
            n++;
    }
    if (p->nt == 1)
        missing(p, kw, "a quoted string");
    if (n) {
        sc_text *v = palloc(p, n * sizeof *v);
        memcpy(v, tmp, n * sizeof *v);
        st->u.send.lines = v;
        st->u.send.n = n;
    }
    need_conn(p, kw, p->t[0].off);
}

/* `as NAME` at the cursor: define the capture; returns the slot, -1 when absent or bad. */
static int take_as(parser *p)
{
    if (!tok_is(p, peek(p), "as"))
        return -1;
    p->i++;
    const tok *t = next_tok(p);
    if (!t || t->kind != T_WORD) {
        err_at(p, t ? t->off : p->t[p->i - 1].off, "'as' must be followed by a variable name");
        return -1;
    }
    return define_capture(p, tsrc(p, t), t->n, t->off);
}

static int take_patterns(parser *p, int allow, const sc_pattern **out, size_t *nout)
{
    sc_pattern tmp[MAX_TOKENS];
    size_t n = 0;
    int bad = 0;
    for (;;) {
        int r = parse_pattern(p, allow, &tmp[n]);
        if (r > 0)
            break;
        if (r == 0)
            n++;
        else
            bad = 1;
    }
    if (n) {
        sc_pattern *v = palloc(p, n * sizeof *v);
        memcpy(v, tmp, n * sizeof *v);
        *out = v;
    }
    *nout = n;
    return bad ? -1 : (int)n;
}

static void s_expect(parser *p, sc_step *st)
{
    int r = take_patterns(p, PAT_EXACT, &st->u.expect.pats, &st->u.expect.n);
    if (r == 0) {
        const tok *t = peek(p);
        if (t && t->kind == T_WORD && !tok_is(p, t, "as") && !memchr(tsrc(p, t), '=', t->n))
            err_at(p, t->off, "expected a pattern: \"glob\", exact \"text\" or /regex/ (a "
                              "pattern in quotes)");
        else
            missing(p, "expect", "a pattern: \"glob\", exact \"text\" or /regex/");
        p->i = p->nt;
    }
    st->u.expect.capture = take_as(p);
    timeout_opts(p, st, "expect");
    need_conn(p, "expect", p->t[0].off);
    st->u.expect.proto = p->proto;
}

/* The status part of expect-reply, by protocol. Returns 0 or -1 (reported). */
static int reply_status(parser *p, sc_reply *r)
{
    const tok *t = peek(p);
    if (!t || t->kind != T_WORD) {
        missing(p, "expect-reply", r->proto == SC_PROTO_SMTP   ? "a reply code (250, 2xx, 25x)"
                                   : r->proto == SC_PROTO_IMAP ? "a tag and a status (a1 OK)"
                                                               : "+OK, -ERR or +");
        return -1;
    }
    p->i++;
    const char *s = tsrc(p, t);
    size_t n = t->n;
    if (r->proto == SC_PROTO_SMTP) {
        int ok = n == 3 && s[0] >= '2' && s[0] <= '5';
        for (size_t i = 1; ok && i < 3; i++)
            ok = is_digit((unsigned char)s[i]) || (s[i] == 'x' && (i == 2 || s[2] == 'x'));
        if (!ok) {
            err_at(p, t->off, "bad SMTP reply code '%.*s': three digits, the first 2 to 5; "
                              "trailing digits may be x (250, 2xx, 25x)", (int)(n > 20 ? 20 : n),
                   s);
            return -1;
        }
        memcpy(r->smtp_code, s, 3);
        return 0;
    }
    if (r->proto == SC_PROTO_POP3) {
        int c = choice(s, n, "+OK|-ERR|+");
        if (c < 0) {
            bad_choice(p, t->off, "POP3 status", s, n, "+OK|-ERR|+");
            return -1;
        }
        r->status = c == 0 ? "+OK" : c == 1 ? "-ERR" : "+";
        if (tok_is(p, peek(p), "multiline")) {
            p->i++;
            if (c != 0) {
                err_at(p, p->t[p->i - 1].off, "only a +OK response can be multi-line");
                return -1;
            }
            r->multiline = 1;
        }
        return 0;
    }
    /* IMAP: TAG STATUS, "*" STATUS, or "+" */
    if (n == 1 && s[0] == '+') {
        r->imap_tag = "+";
        return 0;
    }
    int untagged = n == 1 && s[0] == '*';
    for (size_t i = 0; !untagged && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\+", c)) {
            err_at(p, t->off + i, "bad IMAP tag '%.*s': a tag is printable ASCII without "
                                  "( ) { %% * \" \\ + or spaces", (int)(n > 20 ? 20 : n), s);
            return -1;
        }
    }
    r->imap_tag = pstrndup(p, s, n);
    const tok *st = peek(p);
    if (!st || st->kind != T_WORD) {
        missing(p, "expect-reply", untagged ? "a status after '*' (OK, NO, BAD, PREAUTH or BYE)"
                                            : "a status after the tag (OK, NO or BAD)");
        return -1;
    }
    p->i++;
    char up[8] = {0};
    for (size_t i = 0; i < st->n && i < 7; i++) {
        char c = tsrc(p, st)[i];
        up[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
    }
    const char *choices = untagged ? "OK|NO|BAD|PREAUTH|BYE" : "OK|NO|BAD";
    int c = st->n < 8 ? choice(up, st->n, choices) : -1;
    if (c < 0) {
        bad_choice(p, st->off, untagged ? "untagged IMAP status" : "IMAP status", tsrc(p, st),
                   st->n, choices);
        return -1;
    }
    static const char *const names[] = {"OK", "NO", "BAD", "PREAUTH", "BYE"};
    r->status = names[c];
    return 0;
}

static void s_expect_reply(parser *p, sc_step *st)
{
    st->u.expect_reply.capture = -1;
    if (need_conn(p, "expect-reply", p->t[0].off) != 0 || p->h.role != SC_ROLE_CLIENT ||
        !p->proto) {
        p->i = p->nt;
        return;
    }
    sc_reply *r = &st->u.expect_reply.reply;
    r->proto = p->proto;
    if (reply_status(p, r) != 0) {
        p->i = p->nt;
        return;
    }
    take_patterns(p, PAT_NOT | PAT_EXACT, &st->u.expect_reply.pats, &st->u.expect_reply.n);
    st->u.expect_reply.capture = take_as(p);
    timeout_opts(p, st, "expect-reply");
}

static void s_duration(parser *p, sc_step *st)
{
    const char *kw = sc_step_name(st->kind);
    take_duration(p, kw, &st->u.duration.ms);
    /* `open`: silence that must not end in a close (a server that stays silent, as opposed
     * to one that hangs up, is what makes a client time out) */
    if (st->kind == SC_EXPECT_NOTHING && peek(p) && tok_is(p, peek(p), "open")) {
        st->u.duration.open = 1;
        next_tok(p);
    }
    expect_end(p, kw);
    if (st->u.duration.ms > p->h.total_timeout_ms)
        err_at(p, p->t[0].off, "'%s %ums' is longer than the scenario's total timeout (%ums)", kw,
               st->u.duration.ms, p->h.total_timeout_ms);
    if (st->kind == SC_EXPECT_NOTHING)
        need_conn(p, kw, p->t[0].off);
}

static void s_expect_closed(parser *p, sc_step *st)
{
    timeout_opts(p, st, "expect-closed");
    if (need_conn(p, "expect-closed", p->t[0].off) == 0 && p->h.role != SC_ROLE_NONE)
        set_closed(p, "the connection is expected to close at line %u", p->lineno);
}

static void s_close(parser *p, sc_step *st)
{
    (void)st;
    expect_end(p, "close");
    if (need_conn(p, "close", p->t[0].off) == 0 && p->h.role != SC_ROLE_NONE)
        set_closed(p, "the connection was closed at line %u", p->lineno);
}

static void s_starttls(parser *p, sc_step *st)
{
    st->u.starttls.tls.expect = SC_TLS_OK;
    st->u.starttls.tls.verify = SC_VERIFY_ON;
    st->u.starttls.tls.step = -1;
    timeout_opts(p, st, "starttls");
    if (need_conn(p, "starttls", p->t[0].off) != 0 || p->h.role == SC_ROLE_NONE || !p->open)
        return;
    if (p->tls) {
        err_at(p, p->t[0].off, "'starttls' on a connection that is already TLS (since line %u)",
               p->tls_line);
        return;
    }
    p->tls = 1;
    p->tls_line = p->lineno;
}

static void s_wait(parser *p, sc_step *st)
{
    s_duration(p, st);
}

static void s_var(parser *p, sc_step *st)
{
    kv k;
    if (!take_kv(p, &k)) {
        missing(p, "var", "NAME=VALUE");
        p->i = p->nt;
        return;
    }
    int ok = k.keyn <= MAX_NAME && (is_alpha((unsigned char)k.key[0]) || k.key[0] == '_');
    for (size_t i = 0; ok && i < k.keyn; i++)
        ok = is_alpha((unsigned char)k.key[i]) || is_digit((unsigned char)k.key[i]) ||
             k.key[i] == '_' || k.key[i] == '-';
    if (!ok) {
        err_at(p, k.key_off, "bad variable name '%.*s': a letter or '_' followed by letters, "
                             "digits, '_' or '-' (at most %d)", (int)(k.keyn > 40 ? 40 : k.keyn),
               k.key, MAX_NAME);
    }
    int bad = kv_text(p, &k, TX_SUBST, &st->u.var.value) != 0;
    expect_end(p, "var");
    if (!ok || bad)
        return;
    if ((k.keyn == 4 && memcmp(k.key, "host", 4) == 0) ||
        (k.keyn == 6 && memcmp(k.key, "cafile", 6) == 0)) {
        err_at(p, k.key_off, "'%.*s' is a built-in variable; choose another name", (int)k.keyn,
               k.key);
        return;
    }
    int v = find_var(p, k.key, k.keyn);
    if (v >= 0) {
        char buf[100];
        const sc_var *old = &p->vars.v[v];
        err_at(p, k.key_off, "'%.*s' is already defined (%s %s); a var is set once", (int)k.keyn,
               k.key, old->kind == SC_VAR_USER ? "var at" : "captured at",
               where(p, &p->steps.v[old->def_step].loc, buf, sizeof buf));
        return;
    }
    sc_var *var = VPUSH(p, p->vars);
    var->name = pstrndup(p, k.key, k.keyn);
    var->kind = SC_VAR_USER;
    var->def_step = (unsigned)(p->steps.n - 1);
    var->secret = st->u.var.value.secret;
    st->u.var.slot = (unsigned)(p->vars.n - 1);
}

static void s_check(parser *p, sc_step *st)
{
    const tok *t = next_tok(p);
    if (!t || t->kind != T_WORD || memchr(tsrc(p, t), '=', t->n)) {
        if (t)
            p->i--;
        missing(p, "check", "a check name");
        p->i = p->nt;
        return;
    }
    int id = sc_check_find(tsrc(p, t), t->n);
    if (id < 0) {
        const char *names[SC_CHECK__COUNT];
        for (int i = 0; i < SC_CHECK__COUNT; i++)
            names[i] = sc_checks[i].name;
        char buf[100];
        err_at(p, t->off, "unknown check '%.*s'%s; the checks are listed in "
                          "docs/scenario-language.md",
               (int)(t->n > 40 ? 40 : t->n), tsrc(p, t),
               mean(suggest_n(tsrc(p, t), t->n, names, SC_CHECK__COUNT), buf, sizeof buf));
        p->i = p->nt;
        return;
    }
    const sc_check_def *def = &sc_checks[id];
    st->u.check.id = (unsigned)id;
    sc_check_param *params = palloc(p, SC_CHECK_MAX_PARAMS * sizeof *params);
    const char *keys[SC_CHECK_MAX_PARAMS];
    int given[SC_CHECK_MAX_PARAMS] = {0};
    size_t nk = 0;
    for (; nk < SC_CHECK_MAX_PARAMS && def->params[nk].key; nk++)
        keys[nk] = def->params[nk].key;
    kv k;
    while (peek(p)) {
        if (!take_kv(p, &k)) {
            expect_end(p, "check");
            break;
        }
        size_t i = 0;
        while (i < nk && !kv_is(&k, keys[i]))
            i++;
        if (i == nk) {
            if (nk == 0)
                err_at(p, k.key_off, "check '%s' takes no settings", def->name);
            else
                unknown_key(p, &k, def->name, keys, nk);
            continue;
        }
        const char *s;
        size_t n;
        if (kv_word(p, &k, &s, &n) != 0)
            continue;
        if (given[i]++) {
            err_at(p, k.key_off, "'%s=' is given twice", keys[i]);
            continue;
        }
        const sc_check_param_def *pd = &def->params[i];
        if (pd->type == SC_PARAM_UINT) {
            long v = 0;
            int ok = n > 0 && n <= 9;
            for (size_t j = 0; ok && j < n; j++)
                ok = is_digit((unsigned char)s[j]), v = v * 10 + (s[j] - '0');
            if (!ok || v < pd->min || v > pd->max) {
                err_at(p, k.val_off, "bad value '%.*s' for %s=: a number from %ld to %ld (%s)",
                       (int)(n > 20 ? 20 : n), s, keys[i], pd->min, pd->max, pd->help);
                continue;
            }
            params[i].number = v;
        } else if (choice(s, n, pd->choices) < 0) {
            bad_choice(p, k.val_off, pd->key, s, n, pd->choices);
            continue;
        }
        params[i].key = pd->key;
        params[i].value = pstrndup(p, s, n);
    }
    for (size_t i = 0; i < nk; i++) {
        if (params[i].key || given[i])
            continue;
        const sc_check_param_def *pd = &def->params[i];
        if (!pd->def) {
            err_at(p, t->off, "check '%s' needs %s=%s (%s)", def->name, pd->key,
                   pd->type == SC_PARAM_UINT ? "NUMBER" : pd->choices, pd->help);
            continue;
        }
        params[i].key = pd->key;
        params[i].value = pd->def;
        params[i].number = pd->type == SC_PARAM_UINT ? strtol(pd->def, NULL, 10) : 0;
    }
    st->u.check.params = params;
    st->u.check.nparams = nk;
    for (size_t i = 0; i + 1 < p->steps.n; i++)
        if (p->steps.v[i].kind == SC_CHECK && p->steps.v[i].u.check.id == (unsigned)id) {
            char buf[100];
            err_at(p, t->off, "check '%s' is already listed (%s)", def->name,
                   where(p, &p->steps.v[i].loc, buf, sizeof buf));
            break;
        }
    unsigned want = p->h.role == SC_ROLE_SERVER ? SC_CHECK_ROLE_SERVER
                    : p->h.role == SC_ROLE_CLIENT ? SC_CHECK_ROLE_CLIENT
                                                  : 0;
    if (want && !(def->roles & want))
        err_at(p, t->off, "check '%s' judges the client under test: it belongs in a 'role server' "
                          "scenario", def->name);
}

/* ---- lines and files -------------------------------------------------------------------- */

typedef void (*header_fn)(parser *, const tok *);
typedef void (*step_fn)(parser *, sc_step *);

static const struct {
    const char *kw;
    header_fn fn;
} header_lines[] = {
    {"scenario", h_scenario}, {"describe", h_describe}, {"tags", h_tags},
    {"profile", h_profile},   {"role", h_role},         {"timeout", h_timeout},
    {"set", h_set},           {"account", h_account},
};
enum { NHEADER = sizeof header_lines / sizeof header_lines[0] };

static const step_fn step_fns[SC_STEP__COUNT] = {
    [SC_CONNECT] = s_connect,           [SC_EXPECT_CONNECT] = s_expect_connect,
    [SC_TLS] = s_tls,                   [SC_LISTEN] = s_listen,
    [SC_SERVE] = s_serve,               [SC_ACCEPT] = s_accept,
    [SC_CLIENT] = s_client,             [SC_EXPECT_CLIENT] = s_expect_client,
    [SC_SEND] = s_send,                 [SC_SEND_RAW] = s_send,
    [SC_EXPECT] = s_expect,             [SC_EXPECT_REPLY] = s_expect_reply,
    [SC_EXPECT_NOTHING] = s_duration,   [SC_EXPECT_CLOSED] = s_expect_closed,
    [SC_STARTTLS] = s_starttls,         [SC_CLOSE] = s_close,
    [SC_WAIT] = s_wait,                 [SC_VAR] = s_var,
    [SC_CHECK] = s_check,
};

/* Why a step is not allowed in the role, with what to do instead. */
static void wrong_role(parser *p, sc_step_kind kind)
{
    const char *hint;
    switch (kind) {
    case SC_CONNECT:
    case SC_EXPECT_CONNECT:
        hint = "in the server role the client under test connects to a 'listen' port";
        break;
    case SC_EXPECT_REPLY:
        hint = "in the server role, read the client's commands with 'expect'";
        break;
    case SC_CLIENT:
    case SC_EXPECT_CLIENT:
        hint = "in the client role mailrig itself is the client";
        break;
    default:
        hint = "in the client role mailrig connects: use 'connect'";
        break;
    }
    char buf[100];
    err_at(p, p->t[0].off, "'%s' is a %s-role step, but this scenario is 'role %s' (%s): %s",
           sc_step_name(kind), step_roles[kind] == 'C' ? "client" : "server",
           p->h.role == SC_ROLE_CLIENT ? "client" : "server", where(p, &p->role_loc, buf, sizeof buf),
           hint);
}

static void parse_file(parser *p, const char *path, unsigned depth, const file_ctx *parent,
                       const char *chain);

static void do_include(parser *p, const tok *kw)
{
    const tok *t = next_tok(p);
    if (!t || t->kind != T_STRING) {
        if (t)
            p->i--;
        missing(p, "include", "a quoted file name");
        return;
    }
    const char *rel = plain_string(p, t);
    if (expect_end(p, "include") != 0 || !rel)
        return;
    if (!rel[0]) {
        err_at(p, t->off, "'include' needs a file name");
        return;
    }
    const char *path = path_join(p, p->f->path, rel);
    /* a cycle: the file is already being read further up */
    for (const file_ctx *f = p->f; f; f = f->parent)
        if (strcmp(f->path, path) == 0) {
            char cycle[600];
            size_t o = 0;
            const file_ctx *stack[64];
            size_t ns = 0;
            for (const file_ctx *g = p->f; g && ns < 64; g = g->parent) {
                stack[ns++] = g;
                if (g == f)
                    break;
            }
            while (ns > 0 && o < sizeof cycle)
                o += (size_t)snprintf(cycle + o, sizeof cycle - o, "%s -> ", stack[--ns]->path);
            if (o < sizeof cycle)
                snprintf(cycle + o, sizeof cycle - o, "%s", path);
            err_at(p, t->off, "include cycle: %s", cycle);
            return;
        }
    if (p->f->depth + 1 > p->lim.max_depth) {
        err_at(p, t->off, "includes nested too deep (more than %u levels)", p->lim.max_depth);
        return;
    }
    if (p->nfiles >= p->lim.max_files) {
        err_at(p, t->off, "too many files (at most %u, includes counted)", p->lim.max_files);
        return;
    }
    char chainbuf[1024];
    snprintf(chainbuf, sizeof chainbuf, "%s:%u%s%s", p->f->path, p->lineno,
             p->f->chain ? ", " : "", p->f->chain ? p->f->chain : "");
    (void)kw;
    /* the line context is overwritten by the included file; save it */
    const file_ctx *f = p->f;
    unsigned lineno = p->lineno;
    const char *s = p->s;
    size_t n = p->n;
    parse_file(p, path, f->depth + 1, f, pstrndup(p, chainbuf, strlen(chainbuf)));
    p->f = f;
    p->lineno = lineno;
    p->s = s;
    p->n = n;
    p->nt = p->i = 0;   /* the include line is done */
}

/* Handle one tokenised line. */
static void dispatch(parser *p)
{
    const tok *kw = next_tok(p);
    char buf[100];
    if (kw->kind != T_WORD) {
        err_at(p, kw->off, "a line starts with a step name, not a %s",
               kw->kind == T_STRING ? "quoted string" : "regex");
        return;
    }
    int is_top = p->f->parent == NULL;
    if (!p->scenario_loc.line && is_top && !tok_is(p, kw, "scenario")) {
        err_at(p, kw->off, "a scenario starts with 'scenario NAME' (before any other line)");
        p->scenario_loc = cur_loc(p, kw->off);   /* report once */
    }
    for (size_t i = 0; i < NHEADER; i++) {
        if (!tok_is(p, kw, header_lines[i].kw))
            continue;
        if (!is_top)
            err_at(p, kw->off, "'%s' cannot be used in an included file: the header belongs to "
                               "the scenario that includes it", header_lines[i].kw);
        else if (p->have_steps)
            err_at(p, kw->off, "'%s' belongs to the header: move it above the first step",
                   header_lines[i].kw);
        else
            header_lines[i].fn(p, kw);
        return;
    }
    if (tok_is(p, kw, "include")) {
        do_include(p, kw);
        return;
    }
    sc_step_kind kind = SC_STEP_NONE;
    for (int k = 1; k < SC_STEP__COUNT; k++)
        if (tok_is(p, kw, step_names[k]))
            kind = (sc_step_kind)k;
    if (kind == SC_STEP_NONE) {
        const char *names[NHEADER + SC_STEP__COUNT + 1];
        size_t nn = 0;
        for (size_t i = 0; i < NHEADER; i++)
            names[nn++] = header_lines[i].kw;
        for (int k = 1; k < SC_STEP__COUNT; k++)
            names[nn++] = step_names[k];
        names[nn++] = "include";
        const char *sugg = suggest_n(tsrc(p, kw), kw->n, names, nn);
        err_at(p, kw->off, "unknown step '%.*s'%s", (int)(kw->n > 40 ? 40 : kw->n), tsrc(p, kw),
               mean(sugg, buf, sizeof buf));
        /* a mistyped connect/listen/accept: do not also report every step after it */
        if (sugg && (!strcmp(sugg, "connect") || !strcmp(sugg, "listen") ||
                     !strcmp(sugg, "accept") || !strcmp(sugg, "serve")))
            p->state_unknown = 1;
        return;
    }
    if (p->steps.n >= p->lim.max_steps) {
        err_at(p, kw->off, "too many steps (at most %zu, includes counted)", p->lim.max_steps);
        p->stop = 1;
        return;
    }
    if (kind != SC_VAR) {
        p->have_steps = 1;
        if (p->h.role == SC_ROLE_NONE && !p->role_reported) {
            err_at(p, kw->off, "the header has no 'role client' or 'role server' before this "
                               "first step");
            p->role_reported = 1;
        }
    }
    sc_step *st = VPUSH(p, p->steps);
    st->kind = kind;
    st->loc = cur_loc(p, kw->off);
    st->timeout_ms = p->h.step_timeout_ms;
    char r = step_roles[kind];
    if (p->h.role != SC_ROLE_NONE && r != 'B' &&
        (r == 'C') != (p->h.role == SC_ROLE_CLIENT)) {
        wrong_role(p, kind);
        p->i = p->nt;
        return;
    }
    step_fns[kind](p, st);
}

/* Check one raw line: length, control bytes, UTF-8. Returns 0 when it can be tokenised. */
static int check_line(parser *p)
{
    if (p->n > p->lim.max_line) {
        err_at(p, p->lim.max_line, "line is longer than %zu bytes", p->lim.max_line);
        return -1;
    }
    for (size_t i = 0; i < p->n;) {
        unsigned char c = (unsigned char)p->s[i];
        if (c == 0 || (c < 0x20 && c != '\t') || c == 0x7f) {
            err_at(p, i, "control character 0x%02x in the line (inside a quoted string, write it "
                         "as \\x%02x)", c, c);
            return -1;
        }
        if (c >= 0x80) {
            size_t k = char_len(p->s + i, p->n - i);
            if (k == 1) {
                err_at(p, i, "invalid UTF-8 (inside a quoted string, write raw bytes as \\xHH)");
                return -1;
            }
            i += k;
            continue;
        }
        i++;
    }
    return 0;
}

/* Order the diagnostics of one line (from index first on) by column, stably, so that they
 * read left to right. Diagnostics of included files (another file) stay where they are. */
static void sort_by_col(sc_diags *d, size_t first)
{
    for (size_t i = first + 1; i < d->n; i++) {
        sc_diag g = d->v[i];
        size_t j = i;
        while (j > first && strcmp(d->v[j - 1].file, g.file) == 0 && d->v[j - 1].line == g.line &&
               d->v[j - 1].col > g.col) {
            d->v[j] = d->v[j - 1];
            j--;
        }
        d->v[j] = g;
    }
}

static void parse_file(parser *p, const char *path, unsigned depth, const file_ctx *parent,
                       const char *chain)
{
    char *data = NULL;
    size_t len = 0;
    char why[300];
    p->nfiles++;
    if (p->rd(p->rdctx, path, p->lim.max_file_size, &data, &len, why, sizeof why) != 0) {
        if (parent) {
            const tok *t = &p->t[1];
            err_at(p, t->off, "cannot include '%s': %s", path, why);
        } else {
            char msg[400];
            snprintf(msg, sizeof msg, "cannot read: %s", why);
            err_file(p, path, msg);
        }
        return;
    }
    if (len > p->lim.max_file_size) {
        free(data);
        if (parent) {
            err_at(p, p->t[1].off, "cannot include '%s': larger than %zu bytes", path,
                   p->lim.max_file_size);
        } else {
            char msg[200];
            snprintf(msg, sizeof msg, "file is larger than %zu bytes", p->lim.max_file_size);
            err_file(p, path, msg);
        }
        return;
    }
    file_ctx *f = palloc(p, sizeof *f);
    char *copy = palloc(p, len + 1);
    if (len)
        memcpy(copy, data, len);
    free(data);
    f->path = pstrndup(p, path, strlen(path));
    f->data = copy;
    f->len = len;
    f->depth = depth;
    f->chain = chain;
    f->parent = parent;
    *VPUSH(p, p->files) = f->path;
    if (len == 0 && !parent) {
        err_file(p, f->path, "empty file: a scenario starts with 'scenario NAME'");
        return;
    }
    unsigned lineno = 0;
    for (size_t at = 0; at < len && !p->stop;) {
        const char *lf = memchr(copy + at, '\n', len - at);
        size_t end = lf ? (size_t)(lf - copy) : len;
        size_t n = end - at;
        if (n > 0 && copy[at + n - 1] == '\r')
            n--;
        p->f = f;
        p->lineno = ++lineno;
        p->s = copy + at;
        p->n = n;
        at = lf ? end + 1 : len;
        if (check_line(p) != 0 || tokenize(p) != 0 || p->nt == 0)
            continue;
        size_t first = p->diags->n;
        dispatch(p);
        sort_by_col(p->diags, first);
    }
}

/* ---- the whole scenario ----------------------------------------------------------------- */

/* Checks that need the whole scenario. */
static void finish(parser *p)
{
    if (p->stop || !p->files.n)
        return;   /* stopped, or the top file could not be read (reported) */
    if (!p->scenario_loc.line) {
        if (p->nerrors == 0)
            err_file(p, p->files.v[0], "no 'scenario NAME' line: a scenario starts with one");
        return;
    }
    /* the profile hooks run once the whole header is known (profile may follow set) */
    char why[300];
    if (p->h.profile && p->opt->check_profile &&
        p->opt->check_profile(p->opt->ctx, p->h.profile, p->h.profile_path, why, sizeof why) != 0)
        err_loc_word(p, &p->profile_loc, 1, why);
    for (size_t i = 0; i < p->sets.n && p->opt->check_set; i++)
        if (p->opt->check_set(p->opt->ctx, p->h.profile, p->sets.v[i].key, p->sets.v[i].value, why,
                              sizeof why) != 0)
            err_loc(p, &p->sets.v[i].loc, "%s", why);
    if (p->h.account && p->opt->check_account &&
        p->opt->check_account(p->opt->ctx, p->h.profile, p->h.account, why, sizeof why) != 0)
        err_loc_word(p, &p->account_loc, 1, why);
    size_t real = 0;
    for (size_t i = 0; i < p->steps.n; i++)
        real += p->steps.v[i].kind != SC_VAR && p->steps.v[i].kind != SC_CHECK;
    if (p->h.role == SC_ROLE_NONE && !p->role_reported)
        err_loc(p, &p->scenario_loc, "the header has no 'role client' or 'role server'");
    if (real == 0) {
        err_loc(p, &p->scenario_loc, "the scenario has no steps");
        return;
    }
    if (p->client_step >= 0)
        err_loc(p, &p->steps.v[p->client_step].loc,
                "this client is never waited for: add 'expect-client exit=0' (or exit=nonzero) to "
                "say how it must end");
    if (p->h.role == SC_ROLE_SERVER && !p->listeners.n && p->serve_step < 0) {
        int any = 0;
        for (size_t i = 0; i < p->steps.n; i++)
            any |= p->steps.v[i].kind == SC_LISTEN;
        if (!any)
            err_loc(p, &p->role_loc, "a server-role scenario needs 'listen' (scripted) or 'serve' "
                                     "(profile-driven mock)");
    }
    if (p->h.role == SC_ROLE_CLIENT && !p->any_connect && !p->state_unknown)
        err_loc(p, &p->role_loc, "a client-role scenario needs a 'connect' step");
}

static void fill_limits(sc_limits *l, const sc_options *opt)
{
    static const sc_limits zero;
    const sc_limits *in = opt ? &opt->limits : &zero;
    l->max_file_size = in->max_file_size ? in->max_file_size : (size_t)1 << 20;
    l->max_line = in->max_line ? in->max_line : 4096;
    l->max_steps = in->max_steps ? in->max_steps : 4096;
    l->max_depth = in->max_depth ? in->max_depth : 8;
    l->max_files = in->max_files ? in->max_files : 64;
    l->max_errors = in->max_errors ? in->max_errors : 50;
}

static void *arena_copy(parser *p, const void *v, size_t n, size_t elem)
{
    if (n == 0)
        return NULL;
    void *r = palloc(p, n * elem);
    memcpy(r, v, n * elem);
    return r;
}

typedef struct mem_file {
    const char *name, *data;
    size_t len;
    const sc_options *inner;
} mem_file;

/* Serves the top file of sc_parse_mem from memory and everything else through the caller's
 * reader. */
static int mem_read(void *ctx, const char *path, size_t max, char **data, size_t *len, char *why,
                    size_t whycap)
{
    const mem_file *m = ctx;
    if (strcmp(path, m->name) == 0) {
        size_t n = m->len < max + 1 ? m->len : max + 1;
        *data = malloc(n ? n : 1);
        if (!*data) {
            snprintf(why, whycap, "out of memory");
            return -1;
        }
        if (n)
            memcpy(*data, m->data, n);
        *len = n;
        return 0;
    }
    sc_read_fn rd = m->inner && m->inner->read ? m->inner->read : sc_read_file;
    return rd(m->inner ? m->inner->ctx : NULL, path, max, data, len, why, whycap);
}

/* Parse the top file and, when nothing was wrong, copy the result into the arena (p->own). */
static void build(parser *p, const char *path)
{
    char *top = path_join(p, "", path);
    parse_file(p, top, 0, NULL, NULL);
    p->f = NULL;
    finish(p);
    if (p->nerrors)
        return;
    sc_owned *own = palloc(p, sizeof *own);
    sc_scenario *sc = &own->sc;
    sc->h = p->h;
    sc->h.tags = arena_copy(p, p->tags.v, p->tags.n, sizeof *p->tags.v);
    sc->h.ntags = p->tags.n;
    sc->h.sets = arena_copy(p, p->sets.v, p->sets.n, sizeof *p->sets.v);
    sc->h.nsets = p->sets.n;
    sc->steps = arena_copy(p, p->steps.v, p->steps.n, sizeof *p->steps.v);
    sc->nsteps = p->steps.n;
    sc->vars = arena_copy(p, p->vars.v, p->vars.n, sizeof *p->vars.v);
    sc->nvars = p->vars.n;
    sc->files = arena_copy(p, p->files.v, p->files.n, sizeof *p->files.v);
    sc->nfiles = p->files.n;
    sc->file = p->files.v[0];
    p->own = own;
}

static sc_scenario *parse(const char *path, const sc_options *opt, sc_read_fn rd, void *rdctx,
                          sc_diags *diags)
{
    static const sc_options defaults;
    if (!opt)
        opt = &defaults;
    arena a = {0};
    parser *p = calloc(1, sizeof *p);
    if (!p) {
        parser tmp = {0};
        fill_limits(&tmp.lim, opt);
        tmp.diags = diags;
        err_file(&tmp, path, "out of memory");
        return NULL;
    }
    p->a = &a;
    p->opt = opt;
    p->rd = rd;
    p->rdctx = rdctx;
    p->diags = diags;
    fill_limits(&p->lim, opt);
    p->h.step_timeout_ms = DEFAULT_STEP_MS;
    p->h.total_timeout_ms = DEFAULT_TOTAL_MS;
    p->serve_step = p->client_step = -1;
    if (setjmp(p->oom) == 0) {
        build(p, path);
    } else {
        p->own = NULL;
        p->stop = 0;
        err_file(p, path, "out of memory");
    }
    sc_owned *own = p->own;
    free(p->steps.v);
    free(p->vars.v);
    free(p->tags.v);
    free(p->sets.v);
    free(p->files.v);
    free(p->listeners.v);
    free(p->tparts.v);
    free(p->tlit.v);
    free(p);
    if (!own) {
        arena_free(&a);
        return NULL;
    }
    own->a = a;
    return &own->sc;
}

sc_scenario *sc_parse_file(const char *path, const sc_options *opt, sc_diags *diags)
{
    sc_read_fn rd = opt && opt->read ? opt->read : sc_read_file;
    return parse(path, opt, rd, opt ? opt->ctx : NULL, diags);
}

sc_scenario *sc_parse_mem(const char *name, const char *data, size_t len, const sc_options *opt,
                          sc_diags *diags)
{
    /* the top file is served from memory under its normalised name; the rest as usual */
    parser tmp = {0};
    arena a = {0};
    tmp.a = &a;
    fill_limits(&tmp.lim, opt);
    tmp.diags = diags;
    if (setjmp(tmp.oom) != 0) {
        arena_free(&a);
        err_file(&tmp, name, "out of memory");
        return NULL;
    }
    mem_file m = {path_join(&tmp, "", name), data, len, opt};
    sc_scenario *sc = parse(m.name, opt, mem_read, &m, diags);
    arena_free(&a);
    return sc;
}

void sc_free(sc_scenario *sc)
{
    if (!sc)
        return;
    sc_owned *own = (sc_owned *)sc;
    arena a = own->a;
    arena_free(&a);
}
