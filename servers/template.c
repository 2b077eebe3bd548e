/* template.c -- see template.h. */
#include "servers/errbuf.h"
#include "servers/template.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto/mr.h"
#include "servers/suggest.h"

static const char *const var_names[TPL_VAR_COUNT] = {
    [TPL_BE] = "be",
    [TPL_FQDN] = "fqdn",
    [TPL_FQDN_UC] = "fqdn_uc",
    [TPL_B64_FQDN] = "b64_fqdn",
    [TPL_HEX16] = "hex16",
    [TPL_DATE] = "date",
    [TPL_ISO_TS] = "iso_ts",
    [TPL_CLIENT_IP] = "client_ip",
    [TPL_HOST] = "host",
    [TPL_SIZE_LIMIT] = "size_limit",
    [TPL_TAG] = "tag",
    [TPL_COMMAND] = "command",
    [TPL_USER] = "user",
    [TPL_EMAIL] = "email",
    [TPL_CAPS] = "caps",
    [TPL_MECH] = "mech",
    [TPL_TEXT] = "text",
    [TPL_FROM] = "from",
    [TPL_TO] = "to",
    [TPL_N] = "n",
    [TPL_SIZE] = "size",
    [TPL_MAILBOX] = "mailbox",
    [TPL_TOOK_MS] = "took_ms",
};

/* A run of literal text (var < 0) or one placeholder. */
typedef struct seg {
    uint32_t off, len; /* into lit, for literal runs */
    int var;
} seg;

struct template {
    const char *src;
    const char *lit; /* the literal text of all runs, with {{ and }} unescaped */
    uint32_t used;
    size_t nseg;
    seg segs[];
};

const char *template_var_name(template_var v)
{
    return (unsigned)v < TPL_VAR_COUNT ? var_names[v] : "?";
}

const char *template_source(const template *t)
{
    return t->src;
}

uint32_t template_vars_used(const template *t)
{
    return t->used;
}

static int find_var(const char *name, size_t n)
{
    for (int v = 0; v < TPL_VAR_COUNT; v++)
        if (strlen(var_names[v]) == n && !memcmp(var_names[v], name, n))
            return v;
    return -1;
}

/* List the placeholders in mask as "{tag}, {user}" into buf. */
static void list_vars(uint32_t mask, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int v = 0; v < TPL_VAR_COUNT && at < cap; v++) {
        if (!(mask & TPL_BIT(v)))
            continue;
        int w = snprintf(buf + at, cap - at, "%s{%s}", at ? ", " : "", var_names[v]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

/* Check that src is a single line of valid UTF-8 without control characters. */
static int check_text(const char *src, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c < 0x20 || c == 0x7f) {
            errbuf_set(err, errlen, "control character 0x%02x at column %zu (a reply is one line)", c, i + 1);
            return -1;
        }
    }
    size_t bad = mr_utf8_check(src, n);
    if (bad < n) {
        errbuf_set(err, errlen, "invalid UTF-8 at column %zu", bad + 1);
        return -1;
    }
    return 0;
}

/* Parse the placeholder whose '{' is at src[i]; return its index and set *end past '}'. */
static int parse_placeholder(const char *src, size_t i, uint32_t allowed, size_t *end, char *err,
                             size_t errlen)
{
    size_t j = i + 1;
    while (src[j] && (islower((unsigned char)src[j]) || isdigit((unsigned char)src[j]) || src[j] == '_'))
        j++;
    if (src[j] != '}' || j == i + 1) {
        errbuf_set(err, errlen, "'{' at column %zu does not start a placeholder like {user}; write '{{' for a literal '{'",
             i + 1);
        return -1;
    }
    int v = find_var(src + i + 1, j - i - 1);
    if (v < 0) {
        const char *s = suggest_closest(src + i + 1, j - i - 1, var_names, TPL_VAR_COUNT);
        errbuf_set(err, errlen, "unknown placeholder '{%.*s}' at column %zu%s%s%s", (int)(j - i - 1), src + i + 1,
             i + 1, s ? " (did you mean '{" : "", s ? s : "", s ? "}'?)" : "");
        return -1;
    }
    uint32_t ok = TPL_CONN_VARS | allowed;
    if (!(ok & TPL_BIT(v))) {
        char avail[512];
        list_vars(allowed & ~TPL_CONN_VARS, avail, sizeof avail);
        errbuf_set(err, errlen, "placeholder '{%s}' at column %zu is not available in this reply%s%s%s", var_names[v],
             i + 1, avail[0] ? " (this reply also has: " : "", avail, avail[0] ? ")" : "");
        return -1;
    }
    *end = j + 1;
    return v;
}

template *template_compile(arena *a, const char *src, uint32_t allowed, char *err, size_t errlen)
{
    size_t n = strlen(src);
    if (err && errlen)
        err[0] = '\0';
    if (check_text(src, n, err, errlen) < 0)
        return NULL;
    /* at most one segment per source byte, plus one */
    size_t nseg_max = n + 1;
    char *lit = arena_alloc(a, n + 1);
    template *t = arena_alloc(a, sizeof *t + nseg_max * sizeof(seg));
    char *copy = arena_strndup(a, src, n);
    if (!lit || !t || !copy) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    t->src = copy;
    t->lit = lit;
    size_t nlit = 0, i = 0;
    while (i < n) {
        if (src[i] == '{' && src[i + 1] != '{') {
            size_t end;
            int v = parse_placeholder(src, i, allowed, &end, err, errlen);
            if (v < 0)
                return NULL;
            t->segs[t->nseg++] = (seg){0, 0, v};
            t->used |= TPL_BIT(v);
            i = end;
            continue;
        }
        /* a literal run up to the next placeholder; {{ and }} stand for one brace */
        size_t start = nlit;
        while (i < n && !(src[i] == '{' && src[i + 1] != '{')) {
            lit[nlit++] = src[i];
            i += ((src[i] == '{' || src[i] == '}') && src[i + 1] == src[i]) ? 2 : 1;
        }
        t->segs[t->nseg++] = (seg){(uint32_t)start, (uint32_t)(nlit - start), -1};
    }
    return t;
}

/* ---- expansion ------------------------------------------------------------------------- */

typedef struct out {
    char *buf;
    size_t cap, len;
} out;

static void put(out *o, const char *p, size_t n, int sanitize)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (sanitize && ((unsigned char)c < 0x20 || c == 0x7f))
            c = '?';
        if (o->len + 1 < o->cap)
            o->buf[o->len] = c;
        o->len++;
    }
}

/* The value of connection-scope placeholder v, formatting the clock into tmp. */
static const char *conn_value(const template_vars *vars, int v, char *tmp, size_t cap)
{
    const template_conn *c = vars->conn;
    if (!c)
        return NULL;
    int64_t now = vars->now_ms ? vars->now_ms : c->start_ms;
    switch (v) {
    case TPL_BE: return c->be;
    case TPL_FQDN: return c->fqdn;
    case TPL_FQDN_UC: return c->fqdn_uc;
    case TPL_B64_FQDN: return c->b64_fqdn;
    case TPL_HEX16: return c->hex16;
    case TPL_CLIENT_IP: return c->client_ip;
    case TPL_HOST: return c->host;
    case TPL_SIZE_LIMIT: return c->size_limit;
    case TPL_DATE: template_format_date(now, tmp, cap); return tmp;
    case TPL_ISO_TS: template_format_iso(now, tmp, cap); return tmp;
    default: return NULL;
    }
}

int template_expand(const template *t, const template_vars *vars, char *buf, size_t cap)
{
    out o = {buf, cap, 0};
    for (size_t i = 0; i < t->nseg; i++) {
        const seg *s = &t->segs[i];
        if (s->var < 0) {
            put(&o, t->lit + s->off, s->len, 0);
            continue;
        }
        char tmp[64];
        const char *val = TPL_BIT(s->var) & TPL_CONN_VARS ? conn_value(vars, s->var, tmp, sizeof tmp)
                                                          : vars->v[s->var];
        if (!val) {
            if (cap)
                buf[0] = '\0';
            return TEMPLATE_E_MISSING;
        }
        put(&o, val, strlen(val), 1);
    }
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len > (size_t)INT32_MAX ? INT32_MAX : (int)o.len;
}

/* ---- per-connection values ------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const char *pattern_alphabet(char esc)
{
    switch (esc) {
    case 'd': return "0123456789";
    case 'a': return "abcdefghijklmnopqrstuvwxyz";
    case 'A': return "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    case 'x': return "0123456789abcdef";
    case 'X': return "0123456789ABCDEF";
    default: return NULL;
    }
}

static int host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

int template_pattern_check(const char *pat, size_t max_len, char *err, size_t errlen)
{
    size_t len = 0;
    for (size_t i = 0; pat[i]; i++, len++) {
        if (pat[i] == '%') {
            if (!pat[i + 1] || !pattern_alphabet(pat[i + 1])) {
                errbuf_set(err, errlen, "'%%' at column %zu must be followed by d, a, A, x or X", i + 1);
                return -1;
            }
            i++;
        } else if (!host_char(pat[i])) {
            errbuf_set(err, errlen, "character '%c' at column %zu is not allowed in a host name pattern "
                 "(letters, digits, '.', '-', '_' and %%d %%a %%A %%x %%X)", isprint((unsigned char)pat[i]) ? pat[i] : '?', i + 1);
            return -1;
        }
    }
    if (len > max_len) {
        errbuf_set(err, errlen, "pattern expands to %zu characters (at most %zu)", len, max_len);
        return -1;
    }
    return 0;
}

/* Expand a checked pattern; returns -1 if it is invalid or does not fit. */
static int pattern_expand(const char *pat, uint64_t *rng, char *buf, size_t cap)
{
    size_t at = 0;
    for (size_t i = 0; pat[i]; i++) {
        char c = pat[i];
        if (c == '%') {
            const char *alpha = pattern_alphabet(pat[++i]);
            if (!alpha)
                return -1;
            c = alpha[splitmix(rng) % strlen(alpha)];
        } else if (!host_char(c)) {
            return -1;
        }
        if (at + 1 >= cap)
            return -1;
        buf[at++] = c;
    }
    buf[at] = '\0';
    return 0;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "";
    size_t n = strlen(src);
    if (n >= cap)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

int template_conn_init(template_conn *c, const template_conn_params *p)
{
    memset(c, 0, sizeof *c);
    uint64_t rng = p->seed ^ (p->conn_id * 0xD1B54A32D192ED03ull);
    char domain[TEMPLATE_DOMAIN_MAX + 1];
    int bad = pattern_expand(p->backend ? p->backend : "", &rng, c->be, TEMPLATE_BACKEND_MAX + 1) < 0 ||
              pattern_expand(p->backend_domain ? p->backend_domain : "", &rng, domain, sizeof domain) < 0 ||
              copy_field(c->host, sizeof c->host, p->host) < 0 ||
              copy_field(c->client_ip, sizeof c->client_ip, p->client_ip) < 0;
    if (bad) {
        memset(c, 0, sizeof *c);
        return -1;
    }
    snprintf(c->fqdn, sizeof c->fqdn, "%s%s%s", c->be, domain[0] ? "." : "", domain);
    for (size_t i = 0; c->fqdn[i]; i++)
        c->fqdn_uc[i] = (char)toupper((unsigned char)c->fqdn[i]);
    template_b64_utf16le(c->fqdn, strlen(c->fqdn), c->b64_fqdn, sizeof c->b64_fqdn);
    uint64_t h = splitmix(&rng);
    for (int i = 0; i < 16; i++)
        c->hex16[i] = "0123456789ABCDEF"[(h >> (60 - 4 * i)) & 15];
    snprintf(c->size_limit, sizeof c->size_limit, "%llu", (unsigned long long)p->size_limit);
    c->start_ms = p->now_ms;
    return 0;
}

/* ---- formatting helpers ---------------------------------------------------------------- */

static int utc(int64_t ms, struct tm *tm)
{
    time_t s = (time_t)(ms / 1000);
    return gmtime_r(&s, tm) ? 0 : -1;
}

int template_format_date(int64_t ms, char *buf, size_t cap)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (ms < 0 || utc(ms, &tm) < 0)
        return snprintf(buf, cap, "Thu, 1 Jan 1970 00:00:00 +0000");
    return snprintf(buf, cap, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
                    months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int template_format_iso(int64_t ms, char *buf, size_t cap)
{
    struct tm tm;
    if (ms < 0 || utc(ms, &tm) < 0)
        return snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
    return snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int template_b64_utf16le(const char *s, size_t n, char *buf, size_t cap)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out o = {buf, cap, 0};
    unsigned char in[3];
    size_t have = 0;
    for (size_t i = 0; i < n * 2; i++) {
        unsigned char c = (unsigned char)s[i / 2];
        /* UTF-16LE of an ASCII byte is the byte then 0; others become U+FFFD (FD FF) */
        in[have++] = (unsigned char)(c < 0x80 ? (i % 2 ? 0 : c) : (i % 2 ? 0xFF : 0xFD));
        if (have < 3)
            continue;
        char q[4] = {alpha[in[0] >> 2], alpha[((in[0] & 3) << 4) | (in[1] >> 4)],
                     alpha[((in[1] & 15) << 2) | (in[2] >> 6)], alpha[in[2] & 63]};
        put(&o, q, 4, 0);
        have = 0;
    }
    if (have) {
        if (have == 1)
            in[1] = 0;
        char q[4] = {alpha[in[0] >> 2], alpha[((in[0] & 3) << 4) | (in[1] >> 4)],
                     have == 2 ? alpha[(in[1] & 15) << 2] : '=', '='};
        put(&o, q, 4, 0);
    }
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return (int)o.len;
}
