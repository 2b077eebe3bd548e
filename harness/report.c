/* report.c -- the text table, JSON and JUnit XML reports of a run. See report.h. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/report.h"

enum {
    TAIL_WINDOW = 256 * 1024,  /* bytes read from the end of a file for its tail */
    TAIL_LINE_MAX = 400,       /* bytes of one tail line shown */
    NAME_COL_MAX = 48,         /* widest scenario column in the table */
};

static const char *const verdict_names[REP__COUNT] = {"pass", "fail", "error", "skipped"};
static const char *const verdict_words[REP__COUNT] = {"PASS", "FAIL", "ERROR", "SKIP"};
static const char *const verdict_colors[REP__COUNT] = {"\033[32m", "\033[1;31m", "\033[1;35m",
                                                       "\033[33m"};

const char *rep_verdict_name(rep_verdict v)
{
    return (unsigned)v < REP__COUNT ? verdict_names[v] : "?";
}

static void tail_free(rep_tail *t)
{
    free(t->path);
    free(t->text);
    memset(t, 0, sizeof *t);
}

void rep_item_free(rep_item *it)
{
    if (!it)
        return;
    free(it->name), free(it->file), free(it->role), free(it->profile);
    free(it->description), free(it->group);
    for (size_t i = 0; i < it->ntags; i++)
        free(it->tags[i]);
    free(it->tags);
    free(it->step_file), free(it->step_text), free(it->message), free(it->work_dir);
    for (size_t i = 0; i < it->nchecks; i++) {
        free(it->checks[i].name);
        free(it->checks[i].reason);
        free(it->checks[i].file);
    }
    free(it->checks);
    tail_free(&it->transcript);
    tail_free(&it->client_output);
    tail_free(&it->worker_log);
    memset(it, 0, sizeof *it);
}

void rep_totals(const rep_run *r, size_t counts[REP__COUNT])
{
    memset(counts, 0, REP__COUNT * sizeof counts[0]);
    for (size_t i = 0; i < r->n; i++)
        if ((unsigned)r->items[i].verdict < REP__COUNT)
            counts[r->items[i].verdict]++;
}

int rep_exit_status(const rep_run *r)
{
    size_t c[REP__COUNT];
    rep_totals(r, c);
    return c[REP_FAIL] ? 1 : c[REP_ERROR] ? 3 : 0;
}

/* ---- text helpers --------------------------------------------------------------------------- */

char *rep_redact(const char *s, const char *const *secrets, size_t n)
{
    static const char mark[] = "<redacted>";
    if (!s)
        s = "";
    size_t len = strlen(s), cap = len + 1, o = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t hit = 0;
        for (size_t k = 0; k < n && !hit; k++) {
            size_t sl = secrets[k] ? strlen(secrets[k]) : 0;
            if (sl && sl <= len - i && memcmp(s + i, secrets[k], sl) == 0)
                hit = sl;
        }
        const char *src = hit ? mark : s + i;
        size_t add = hit ? sizeof mark - 1 : 1;
        if (o + add + 1 > cap) {
            cap = (o + add + 1) * 2;
            char *nb = realloc(out, cap);
            if (!nb) {
                free(out);
                return NULL;
            }
            out = nb;
        }
        memcpy(out + o, src, add);
        o += add;
        i += hit ? hit : 1;
    }
    out[o] = '\0';
    return out;
}

/* Length of the valid UTF-8 character at s[0..n) that XML 1.0 can carry (U+0009, U+000A,
 * U+000D, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF), or 0. */
static size_t xml_char_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return c >= 0x20 || c == '\t' || c == '\n' || c == '\r' ? (c == 0x7f ? 0 : 1) : 0;
    size_t k = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (!k || c > 0xf4 || k > n)
        return 0;
    uint32_t cp = c & (0xff >> (k + 1));
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000) || cp == 0xfffe ||
        cp == 0xffff || (cp >= 0x80 && cp < 0xa0))
        return 0;
    return k;
}

/* Append s[0..n) to a growing buffer, control bytes (but tab) and invalid UTF-8 as \xHH. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void buf_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void buf_add_shown(sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = xml_char_len(u + i, n - i);
        if (k && u[i] != '\n' && u[i] != '\r') {
            buf_add(b, s + i, k);
            i += k;
            continue;
        }
        char hex[5];
        snprintf(hex, sizeof hex, "\\x%02x", u[i]);
        buf_add(b, hex, 4);
        i++;
    }
}

char *rep_shown(const char *s, size_t n)
{
    sbuf b = {0};
    buf_add(&b, "", 0);
    buf_add_shown(&b, s, n);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- tails ---------------------------------------------------------------------------------- */

/* Lines in the whole file (a last line without '\n' counts), or 0 on a read error. */
static size_t count_lines(int fd, off_t size)
{
    char chunk[65536];
    size_t lines = 0;
    char last = '\n';
    for (off_t off = 0; off < size;) {
        ssize_t got = pread(fd, chunk, sizeof chunk, off);
        if (got <= 0)
            break;
        for (const char *p = chunk; (p = memchr(p, '\n', (size_t)(chunk + got - p))); p++)
            lines++;
        last = chunk[got - 1];
        off += got;
    }
    return lines + (last != '\n');
}

/* Keep the last max_lines lines of w[0..n) in t->text. cut: the window starts mid-file, so
 * its first line may be partial and is dropped. */
static int take_tail(const char *w, size_t n, int cut, size_t max_lines,
                     const char *const *secrets, size_t ns, rep_tail *t)
{
    size_t start = 0;
    if (cut) {
        const char *nl = memchr(w, '\n', n);
        start = nl ? (size_t)(nl - w) + 1 : n;
    }
    if (n > start && w[n - 1] == '\n')
        n--;   /* the file's last line end: not an empty line after it */
    size_t from = n, seen = 0, lines;
    while (from > start && !(w[from - 1] == '\n' && ++seen == max_lines))
        from--;
    lines = from > start ? max_lines : n > start ? seen + 1 : 0;
    sbuf b = {0};
    for (size_t i = from; i <= n && lines;) {
        const char *nl = memchr(w + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (w + i)) : n - i;
        size_t show = len > TAIL_LINE_MAX ? TAIL_LINE_MAX : len;
        char *line = strndup(w + i, show);
        char *red = line ? rep_redact(line, secrets, ns) : NULL;
        free(line);
        if (!red) {
            free(b.p);
            return -1;
        }
        buf_add_shown(&b, red, strlen(red));
        free(red);
        if (show < len)
            buf_add(&b, "...", 3);
        buf_add(&b, "\n", 1);
        if (!nl)
            break;
        i += len + 1;
    }
    if (b.oom) {
        free(b.p);
        return -1;
    }
    t->text = b.p;
    t->shown = lines;
    return 0;
}

int rep_read_tail(const char *path, size_t max_lines, const char *const *secrets, size_t n,
                  rep_tail *t)
{
    memset(t, 0, sizeof *t);
    if (!path || !*path)
        return 0;
    if (!(t->path = strdup(path)))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    off_t size = lseek(fd, 0, SEEK_END);
    int rc = 0;
    if (size > 0 && max_lines > 0) {
        size_t want = size > TAIL_WINDOW ? TAIL_WINDOW : (size_t)size;
        char *w = malloc(want);
        ssize_t got = w ? pread(fd, w, want, size - (off_t)want) : -1;
        if (got > 0) {
            t->total = count_lines(fd, size);
            rc = take_tail(w, (size_t)got, (off_t)want < size, max_lines, secrets, n, t);
        }
        rc = w ? rc : -1;
        free(w);
    }
    close(fd);
    return rc;
}

/* ---- the table ------------------------------------------------------------------------------ */

void rep_totals_line(const rep_run *r, char *out, size_t cap)
{
    size_t c[REP__COUNT];
    rep_totals(r, c);
    snprintf(out, cap, "%zu scenario%s: %zu passed, %zu failed, %zu error%s, %zu skipped (%.1f s)",
             r->n, r->n == 1 ? "" : "s", c[REP_PASS], c[REP_FAIL], c[REP_ERROR],
             c[REP_ERROR] == 1 ? "" : "s", c[REP_SKIP], r->seconds);
}

static void put_verdict(FILE *out, rep_verdict v, int color, int width)
{
    const char *w = (unsigned)v < REP__COUNT ? verdict_words[v] : "?";
    if (color && (unsigned)v < REP__COUNT)
        fprintf(out, "%s%s\033[0m%*s", verdict_colors[v], w, width - (int)strlen(w), "");
    else
        fprintf(out, "%-*s", width, w);
}

/* A text from a run, printed on one line: control bytes as \xHH. */
static void put_shown(FILE *out, const char *s)
{
    sbuf b = {0};
    buf_add_shown(&b, s ? s : "", s ? strlen(s) : 0);
    fputs(b.p ? b.p : "", out);
    free(b.p);
}

static void put_failure_details(FILE *out, const rep_item *it)
{
    if (it->failed_step >= 0 && it->step_file) {
        fprintf(out, "    at %s:%u:%u: ", it->step_file, it->step_line, it->step_col);
        put_shown(out, it->step_text);
        fputc('\n', out);
        if (it->message && *it->message) {
            fputs("       ", out);
            put_shown(out, it->message);
            fputc('\n', out);
        }
    } else if (it->message && *it->message) {
        fputs("    ", out);
        put_shown(out, it->message);
        fputc('\n', out);
    }
    for (size_t i = 0; i < it->nchecks; i++) {
        const rep_check *c = &it->checks[i];
        if (c->passed)
            continue;
        fprintf(out, "    check %s failed (%s:%u:%u): ", c->name, c->file ? c->file : "?",
                c->line, c->col);
        put_shown(out, c->reason);
        fputc('\n', out);
    }
}

static void put_tail(FILE *out, const char *what, const rep_tail *t)
{
    if (!t->path || (!t->text && !t->total))
        return;
    fprintf(out, "%s: %s", what, t->path);
    if (t->shown < t->total)
        fprintf(out, " (last %zu of %zu lines)", t->shown, t->total);
    fputc('\n', out);
    for (const char *p = t->text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = rep_shown(p, len);   /* idempotent on a tail rep_read_tail made */
        fprintf(out, "  | %s\n", line ? line : "");
        free(line);
        p += len + (nl != NULL);
    }
}

int rep_text(FILE *out, const rep_run *r, int color)
{
    int wn = 8, wp = 7;
    for (size_t i = 0; i < r->n; i++) {
        int n = (int)strlen(r->items[i].name), p = (int)strlen(r->items[i].profile);
        wn = n > wn ? n : wn;
        wp = p > wp ? p : wp;
    }
    wn = wn > NAME_COL_MAX ? NAME_COL_MAX : wn;
    wp = wp > 20 ? 20 : wp;
    fprintf(out, "%-*s  %-6s  %-*s  %-7s  %s\n", wn, "SCENARIO", "ROLE", wp, "PROFILE",
            "VERDICT", "TIME");
    for (size_t i = 0; i < r->n; i++) {
        const rep_item *it = &r->items[i];
        fprintf(out, "%-*s  %-6s  %-*s  ", wn, it->name, it->role, wp, it->profile);
        put_verdict(out, it->verdict, color, 7);
        if (it->verdict == REP_SKIP)
            fputs("  -\n", out);
        else
            fprintf(out, "  %.2fs\n", it->seconds);
        if (it->verdict != REP_PASS)
            put_failure_details(out, it);
    }
    for (size_t i = 0; i < r->n; i++) {
        const rep_item *it = &r->items[i];
        if (it->verdict == REP_PASS || it->verdict == REP_SKIP)
            continue;
        fprintf(out, "\n--- %s: ", it->name);
        put_verdict(out, it->verdict, color, 0);
        fputc('\n', out);
        if (it->work_dir)
            fprintf(out, "work directory: %s\n", it->work_dir);
        put_tail(out, "transcript", &it->transcript);
        put_tail(out, "client output", &it->client_output);
        put_tail(out, "worker log", &it->worker_log);
    }
    char line[200];
    rep_totals_line(r, line, sizeof line);
    fprintf(out, "\n%s\n", line);
    if (r->work_dir)
        fprintf(out, "transcripts and logs: %s\n", r->work_dir);
    return ferror(out) ? -1 : 0;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* JSON strings must be UTF-8: anything else (a transcript of raw bytes) is shown escaped. */
static json_t *jtext(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    sbuf b = {0};
    buf_add_shown(&b, s, strlen(s));
    j = json_string(b.p ? b.p : "");
    free(b.p);
    return j;
}

static json_t *jtail(const rep_tail *t)
{
    if (!t->path)
        return json_null();
    return json_pack("{s:s, s:o, s:I, s:I}", "path", t->path, "tail", jtext(t->text), "lines",
                     (json_int_t)t->total, "shown", (json_int_t)t->shown);
}

static json_t *json_item(const rep_item *it)
{
    json_t *tags = json_array(), *checks = json_array();
    for (size_t i = 0; i < it->ntags; i++)
        json_array_append_new(tags, json_string(it->tags[i]));
    for (size_t i = 0; i < it->nchecks; i++) {
        const rep_check *c = &it->checks[i];
        json_array_append_new(checks,
                              json_pack("{s:s, s:b, s:o, s:o, s:i, s:i}", "name", c->name,
                                        "passed", c->passed, "reason", jtext(c->reason), "file",
                                        jstr(c->file), "line", (int)c->line, "col", (int)c->col));
    }
    json_t *step = json_null();
    if (it->failed_step >= 0 && it->step_file)
        step = json_pack("{s:i, s:s, s:i, s:i, s:o}", "index", it->failed_step, "file",
                         it->step_file, "line", (int)it->step_line, "col", (int)it->step_col,
                         "text", jtext(it->step_text));
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:f, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "name", it->name, "file", it->file, "role", it->role, "profile",
                     it->profile, "description", jtext(it->description), "tags", tags,
                     "verdict", rep_verdict_name(it->verdict), "seconds", it->seconds,
                     "failed_step", step ? step : json_null(), "message", jtext(it->message),
                     "checks", checks, "work_dir", jstr(it->work_dir), "transcript",
                     jtail(&it->transcript), "client_output", jtail(&it->client_output),
                     "worker_log", jtail(&it->worker_log));
}

static json_t *json_strs(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, jtext(v[i]));
    return a;
}

static json_t *json_options(const rep_run *r)
{
    return json_pack("{s:o, s:o, s:I, s:o, s:o, s:b, s:o, s:o, s:o, s:o, s:b}", "args",
                     json_strs(r->args, r->nargs), "tags", json_strs(r->tags, r->ntags), "jobs",
                     (json_int_t)r->jobs, "client", jstr(r->client), "profile", jstr(r->profile),
                     "external", r->external,
                     "port_base", r->external ? json_integer(r->port_base) : json_null(),
                     "timeout_seconds",
                     r->timeout_ms ? json_real(r->timeout_ms / 1000.0) : json_null(),
                     "state_dir", jstr(r->state_dir), "work_dir", jstr(r->work_dir),
                     "require_clients", r->require_clients);
}

int rep_json(FILE *out, const rep_run *r)
{
    size_t c[REP__COUNT];
    rep_totals(r, c);
    json_t *items = json_array();
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(items, json_item(&r->items[i]));
    json_t *root = json_pack(
        "{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:f}, s:i, s:o}", "options", json_options(r),
        "totals", "scenarios", (json_int_t)r->n, "passed", (json_int_t)c[REP_PASS], "failed",
        (json_int_t)c[REP_FAIL], "errors", (json_int_t)c[REP_ERROR], "skipped",
        (json_int_t)c[REP_SKIP], "seconds", r->seconds, "exit_status", rep_exit_status(r),
        "scenarios", items);
    if (!root)
        return -1;
    int rc = json_dumpf(root, out, JSON_INDENT(2)) == 0 && fputc('\n', out) != EOF ? 0 : -1;
    json_decref(root);
    return rc;
}

/* ---- JUnit XML ------------------------------------------------------------------------------ */

/* s as XML character data (attr: as an attribute value in double quotes). */
static void xml_put(FILE *out, const char *s, int attr)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)u);
    for (size_t i = 0; i < n;) {
        size_t k = xml_char_len(u + i, n - i);
        if (!k) {
            fprintf(out, "\\x%02x", u[i++]);
            continue;
        }
        switch (u[i]) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs(attr ? "&quot;" : "\"", out); break;
        case '\n': fputs(attr ? "&#10;" : "\n", out); break;
        case '\r': fputs("&#13;", out); break;
        case '\t': fputs(attr ? "&#9;" : "\t", out); break;
        default: fwrite(u + i, 1, k, out);
        }
        i += k;
    }
}

static void xml_attr(FILE *out, const char *name, const char *value)
{
    fprintf(out, " %s=\"", name);
    xml_put(out, value, 1);
    fputc('"', out);
}

/* The body of <failure>/<error>: where, what, the checks, the tails. */
static void junit_body(FILE *out, const rep_item *it)
{
    if (it->failed_step >= 0 && it->step_file) {
        fprintf(out, "at %s:%u:%u: ", it->step_file, it->step_line, it->step_col);
        xml_put(out, it->step_text, 0);
        fputc('\n', out);
    }
    if (it->message && *it->message) {
        xml_put(out, it->message, 0);
        fputc('\n', out);
    }
    for (size_t i = 0; i < it->nchecks; i++)
        if (!it->checks[i].passed) {
            fprintf(out, "check %s failed (%s:%u:%u): ", it->checks[i].name,
                    it->checks[i].file ? it->checks[i].file : "?", it->checks[i].line,
                    it->checks[i].col);
            xml_put(out, it->checks[i].reason, 0);
            fputc('\n', out);
        }
    const rep_tail *tails[] = {&it->transcript, &it->client_output, &it->worker_log};
    const char *names[] = {"transcript", "client output", "worker log"};
    for (size_t i = 0; i < 3; i++) {
        if (!tails[i]->path || !tails[i]->text)
            continue;
        fprintf(out, "\n%s: ", names[i]);
        xml_put(out, tails[i]->path, 0);
        fprintf(out, " (last %zu of %zu lines)\n", tails[i]->shown, tails[i]->total);
        xml_put(out, tails[i]->text, 0);
    }
}

/* The message attribute: the step's message, else the first failed check. */
static const char *junit_message(const rep_item *it, char *mbuf, size_t cap)
{
    if (it->message && *it->message)
        return it->message;
    for (size_t i = 0; i < it->nchecks; i++)
        if (!it->checks[i].passed) {
            snprintf(mbuf, cap, "check %s failed: %s", it->checks[i].name,
                     it->checks[i].reason ? it->checks[i].reason : "");
            return mbuf;
        }
    return rep_verdict_name(it->verdict);
}

static void junit_case(FILE *out, const rep_item *it)
{
    fputs("    <testcase", out);
    xml_attr(out, "classname", it->group);
    xml_attr(out, "name", it->name);
    fprintf(out, " time=\"%.3f\">\n", it->seconds);
    char mbuf[700];
    const char *msg = junit_message(it, mbuf, sizeof mbuf);
    if (it->verdict == REP_FAIL || it->verdict == REP_ERROR) {
        const char *tag = it->verdict == REP_FAIL ? "failure" : "error";
        fprintf(out, "      <%s", tag);
        xml_attr(out, "message", msg);
        xml_attr(out, "type", tag);
        fputc('>', out);
        junit_body(out, it);
        fprintf(out, "</%s>\n", tag);
    } else if (it->verdict == REP_SKIP) {
        fputs("      <skipped", out);
        xml_attr(out, "message", msg);
        fputs("/>\n", out);
    }
    fputs("      <system-out>scenario: ", out);
    xml_put(out, it->file, 0);
    if (it->description) {
        fputs("\ndescription: ", out);
        xml_put(out, it->description, 0);
    }
    if (it->transcript.path) {
        fputs("\ntranscript: ", out);
        xml_put(out, it->transcript.path, 0);
    }
    fputs("\n</system-out>\n    </testcase>\n", out);
}

/* Counts of the items of one group. */
static void group_counts(const rep_run *r, const char *group, size_t c[REP__COUNT], double *t)
{
    memset(c, 0, REP__COUNT * sizeof c[0]);
    *t = 0;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i].group, group) == 0) {
            c[r->items[i].verdict]++;
            *t += r->items[i].seconds;
        }
}

static int group_seen_before(const rep_run *r, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(r->items[j].group, r->items[i].group) == 0)
            return 1;
    return 0;
}

int rep_junit(FILE *out, const rep_run *r)
{
    size_t c[REP__COUNT];
    rep_totals(r, c);
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out, "<testsuites name=\"mailrig\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
                 "skipped=\"%zu\" time=\"%.3f\">\n", r->n, c[REP_FAIL], c[REP_ERROR],
            c[REP_SKIP], r->seconds);
    char stamp[32] = "1970-01-01T00:00:00";
    time_t started = (time_t)r->started;
    struct tm tm;
    if (gmtime_r(&started, &tm))
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    for (size_t i = 0; i < r->n; i++) {
        if (group_seen_before(r, i))
            continue;
        const char *g = r->items[i].group;
        size_t gc[REP__COUNT];
        double t;
        group_counts(r, g, gc, &t);
        fputs("  <testsuite", out);
        xml_attr(out, "name", g);
        fprintf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" "
                     "time=\"%.3f\" timestamp=\"%s\">\n",
                gc[REP_PASS] + gc[REP_FAIL] + gc[REP_ERROR] + gc[REP_SKIP], gc[REP_FAIL],
                gc[REP_ERROR], gc[REP_SKIP], t, stamp);
        for (size_t j = i; j < r->n; j++)
            if (strcmp(r->items[j].group, g) == 0)
                junit_case(out, &r->items[j]);
        fputs("  </testsuite>\n", out);
    }
    fputs("</testsuites>\n", out);
    return ferror(out) ? -1 : 0;
}

/* ---- atomic files --------------------------------------------------------------------------- */

int rep_write_file(const char *path, int (*writer)(FILE *, const rep_run *), const rep_run *r,
                   char *err, size_t errlen)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a temporary file beside it: %s", path,
                 strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    int rc = f && writer(f, r) == 0 && fflush(f) == 0 && fsync(fd) == 0 ? 0 : -1;
    int saved = errno;
    if (f ? fclose(f) != 0 : close(fd) != 0)
        rc = -1;
    mode_t mask = umask(0);   /* mkstemp made it 0600; a report is for everyone to read */
    umask(mask);
    if (rc == 0 && (chmod(tmp, 0666 & ~mask) != 0 || rename(tmp, path) != 0)) {
        saved = errno;
        rc = -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(saved));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}
