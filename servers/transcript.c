/* transcript.c -- see transcript.h. */
#include "servers/transcript.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct transcript {
    FILE *out;
    int own_file;
    double t0; /* < 0 until the first record */
};

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

transcript *transcript_new(FILE *out, int own_file, double t0)
{
    transcript *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->out = out;
    t->own_file = own_file;
    t->t0 = t0;
    return t;
}

void transcript_free(transcript *t)
{
    if (!t)
        return;
    if (t->own_file)
        fclose(t->out);
    else
        fflush(t->out);
    free(t);
}

static double elapsed(transcript *t)
{
    double now = monotonic_now();
    if (t->t0 < 0)
        t->t0 = now;
    double dt = now - t->t0;
    return dt < 0 ? 0 : dt;
}

/* Length of the valid UTF-8 sequence starting at p (2..4), or 0 if it is not one. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 0;
    if (len == 0 || len > n)
        return 0;
    return mr_utf8_check((const char *)p, len) == len ? len : 0;
}

size_t transcript_escape(const char *p, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)p;
    size_t o = 0;
#define PUT(c)                          \
    do {                                \
        if (o < cap)                    \
            out[o] = (char)(c);         \
        o++;                            \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            PUT(c);
            continue;
        }
        if (c >= 0x80) {
            size_t len = utf8_seq_len(s + i, n - i);
            if (len) {
                for (size_t k = 0; k < len; k++)
                    PUT(s[i + k]);
                i += len - 1;
                continue;
            }
        }
        PUT('\\');
        switch (c) {
        case '\\': PUT('\\'); break;
        case '\r': PUT('r'); break;
        case '\n': PUT('n'); break;
        case '\t': PUT('t'); break;
        case '\0': PUT('0'); break;
        default:
            PUT('x');
            PUT(hex[c >> 4]);
            PUT(hex[c & 15]);
        }
    }
#undef PUT
    return o;
}

static void write_prefix(transcript *t, unsigned conn)
{
    fprintf(t->out, "%.3f conn %u ", elapsed(t), conn);
}

void transcript_record(transcript *t, unsigned conn, const char *kind, const char *fmt, ...)
{
    if (!t)
        return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t len = (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    char esc[sizeof text * 4];
    size_t elen = transcript_escape(text, len, esc, sizeof esc);
    write_prefix(t, conn);
    fprintf(t->out, "%s %.*s\n", kind, (int)elen, esc);
}

static uint64_t fnv1a64(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static void write_data_record(transcript *t, unsigned conn, char dir, char mark, const char *p,
                              size_t n)
{
    char stackbuf[2048];
    size_t need = transcript_escape(p, n, stackbuf, sizeof stackbuf);
    char *esc = stackbuf;
    if (need > sizeof stackbuf) {
        esc = malloc(need);
        if (!esc) {
            write_prefix(t, conn);
            fprintf(t->out, "note transcript: out of memory for a %zu-byte record\n", n);
            return;
        }
        transcript_escape(p, n, esc, need);
    }
    write_prefix(t, conn);
    fprintf(t->out, "%c%c %.*s\n", dir, mark, (int)need, esc);
    if (esc != stackbuf)
        free(esc);
}

void transcript_data(transcript *t, unsigned conn, char dir, const char *p, size_t n,
                     int is_payload)
{
    if (!t || n == 0)
        return;
    if (is_payload && n >= TRANSCRIPT_SUMMARY_MIN) {
        write_prefix(t, conn);
        fprintf(t->out, "%c# %zu fnv1a64=%016llx\n", dir, n, (unsigned long long)fnv1a64(p, n));
        return;
    }
    while (n > 0) {
        const char *lf = memchr(p, '\n', n);
        size_t len = lf ? (size_t)(lf - p) + 1 : n;
        if (len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n')
            write_data_record(t, conn, dir, ':', p, len - 2);
        else
            write_data_record(t, conn, dir, '|', p, len);
        p += len;
        n -= len;
    }
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Split off the next space-separated field of [*at, n); returns 0 when none is left. */
static int next_field(const char *line, size_t n, size_t *at, mr_slice *field)
{
    size_t i = *at;
    if (i >= n)
        return 0;
    size_t start = i;
    while (i < n && line[i] != ' ')
        i++;
    field->p = line + start;
    field->n = i - start;
    *at = i < n ? i + 1 : i;
    return field->n > 0;
}

static int parse_time(mr_slice f, double *out)
{
    /* seconds "." milliseconds, as written; more fraction digits are accepted */
    uint64_t whole = 0, frac = 0, scale = 1;
    size_t i = 0;
    while (i < f.n && f.p[i] != '.')
        i++;
    mr_slice w = {f.p, i};
    if (mr_parse_u64(w, UINT64_C(1) << 40, &whole) != 0)
        return -1;
    if (i < f.n) {
        mr_slice fr = {f.p + i + 1, f.n - i - 1};
        if (fr.n > 9 || mr_parse_u64(fr, UINT64_MAX, &frac) != 0)
            return -1;
        for (size_t k = 0; k < fr.n; k++)
            scale *= 10;
    }
    *out = (double)whole + (double)frac / (double)scale;
    return 0;
}

static const struct {
    const char *word;
    transcript_kind kind;
} kind_words[] = {
    {"open", TR_OPEN}, {"tls", TR_TLS},   {"close", TR_CLOSE},
    {"event", TR_EVENT}, {"note", TR_NOTE},
};

int transcript_parse(const char *line, size_t n, transcript_rec *rec, mr_error *err)
{
    size_t at = 0;
    mr_slice f;
    memset(rec, 0, sizeof *rec);
    if (!next_field(line, n, &at, &f) || parse_time(f, &rec->time) != 0)
        return mr_fail(err, MR_E_SYNTAX, "time", 0);
    size_t conn_at = at;
    if (!next_field(line, n, &at, &f) || !mr_slice_eq(f, "conn"))
        return mr_fail(err, MR_E_SYNTAX, "conn", conn_at);
    size_t id_at = at;
    uint64_t id;
    if (!next_field(line, n, &at, &f) || mr_parse_u64(f, UINT32_MAX, &id) != 0)
        return mr_fail(err, MR_E_NUMBER, "conn-id", id_at);
    rec->conn = (unsigned long)id;
    size_t kind_at = at;
    if (!next_field(line, n, &at, &f))
        return mr_fail(err, MR_E_SYNTAX, "kind", kind_at);
    rec->text.p = line + at;
    rec->text.n = n - at;
    if (f.n == 2 && (f.p[0] == 'C' || f.p[0] == 'S') &&
        (f.p[1] == ':' || f.p[1] == '|' || f.p[1] == '#')) {
        rec->dir = f.p[0];
        if (f.p[1] == ':')
            rec->kind = TR_DATA_LINE;
        else if (f.p[1] == '|')
            rec->kind = TR_DATA_RAW;
        else {
            rec->kind = TR_DATA_SUMMARY;
            size_t len_at = at;
            mr_slice lenf;
            if (!next_field(line, n, &at, &lenf) || mr_parse_u64(lenf, UINT64_MAX, &rec->length) != 0)
                return mr_fail(err, MR_E_NUMBER, "summary-length", len_at);
            size_t hash_at = at;
            if (!next_field(line, n, &at, &rec->hash) || at != n)
                return mr_fail(err, MR_E_SYNTAX, "summary-hash", hash_at);
        }
        return 0;
    }
    for (size_t i = 0; i < sizeof kind_words / sizeof kind_words[0]; i++) {
        if (mr_slice_eq(f, kind_words[i].word)) {
            rec->kind = kind_words[i].kind;
            return 0;
        }
    }
    return mr_fail(err, MR_E_SYNTAX, "kind", kind_at);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long transcript_unescape(const transcript_rec *rec, char *out, size_t cap, mr_error *err)
{
    const char *s = rec->text.p;
    size_t n = rec->text.n, o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\') {
            if (i + 1 >= n)
                return mr_fail(err, MR_E_SYNTAX, "escape", i);
            char e = s[++i];
            switch (e) {
            case '\\': c = '\\'; break;
            case 'r': c = '\r'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case '0': c = '\0'; break;
            case 'x': {
                int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = hi >= 0 ? hexval(s[i + 2]) : -1;
                if (lo < 0)
                    return mr_fail(err, MR_E_SYNTAX, "escape", i - 1);
                c = (char)(hi * 16 + lo);
                i += 2;
                break;
            }
            default:
                return mr_fail(err, MR_E_SYNTAX, "escape", i - 1);
            }
        }
        if (o >= cap)
            return mr_fail(err, MR_E_LIMIT_COUNT, "unescape-buffer", i);
        out[o++] = c;
    }
    if (rec->kind == TR_DATA_LINE) {
        if (o + 2 > cap)
            return mr_fail(err, MR_E_LIMIT_COUNT, "unescape-buffer", n);
        out[o++] = '\r';
        out[o++] = '\n';
    }
    return (long)o;
}
