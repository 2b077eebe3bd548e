/* mime.c -- RFC 5322 / MIME structure parser; see mime.h. */
#include "mime.h"

#include <string.h>

mime_limits mime_limits_default(void)
{
    mime_limits lim = MIME_LIMITS_DEFAULT;
    return lim;
}

static const mime_limits default_limits = MIME_LIMITS_DEFAULT;

static const mime_limits *limits_or_default(const mime_limits *lim)
{
    return lim ? lim : &default_limits;
}

/* ------------------------------------------------------------------------------------------ */
/* Character classes */

static int is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Whitespace inside a field value: WSP and the CR/LF of folding. */
static int is_fws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Is ASCII byte c in a 128-bit set given as two words (bit c of lo/hi)? */
static int in_set(unsigned char c, uint64_t lo, uint64_t hi)
{
    return c < 64 ? (lo >> c) & 1 : c < 128 ? (hi >> (c - 64)) & 1 : 0;
}

/* "!#$%&'*+-/=?^_`{|}~" and "()<>@,;:\\\"/[]?=" as bit sets. */
#define ATEXT_LO 0xa000acfa00000000ull
#define ATEXT_HI 0x78000001c0000000ull
#define TSPECIALS_LO 0xfc00930400000000ull
#define TSPECIALS_HI 0x0000000038000001ull

/* RFC 5322 3.2.3 atext; 8-bit bytes count as atext (RFC 6532 3.2 allows UTF-8 there). */
static int is_atext(unsigned char c)
{
    return c >= 0x80 || is_alpha(c) || is_digit(c) || in_set(c, ATEXT_LO, ATEXT_HI);
}

/* RFC 2045 5.1 token: CHAR except SPACE, CTLs and tspecials. MR_LENIENT adds 8-bit bytes. */
static int is_token_char(unsigned char c, mr_mode mode)
{
    if (c >= 0x80)
        return mode == MR_LENIENT;
    return c > 0x20 && c != 0x7f && !in_set(c, TSPECIALS_LO, TSPECIALS_HI);
}

/* RFC 5322 3.6.8 ftext: printable US-ASCII except ':'. */
static int is_ftext(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

static mr_slice slice_at(const char *p, size_t from, size_t to)
{
    mr_slice s = {p + from, to > from ? to - from : 0};
    return s;
}

static mr_slice slice_lit(const char *s)
{
    mr_slice r = {s, strlen(s)};
    return r;
}

/* Shift an error reported relative to a sub-slice so it counts from the outer buffer. */
static int fail_shifted(mr_error *err, const mr_error *inner, size_t shift)
{
    return mr_fail(err, inner->code, inner->rule, inner->offset + shift);
}

/* Bounded output for the copy functions: keep counting past cap, write only inside it. */
typedef struct outbuf {
    char *p;
    size_t cap, len;
} outbuf;

static void out_byte(outbuf *o, char c)
{
    if (o->len < o->cap)
        o->p[o->len] = c;
    o->len++;
}

static void out_bytes(outbuf *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->p + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

/* ------------------------------------------------------------------------------------------ */
/* Lines */

typedef struct line {
    size_t start;   /* first byte */
    size_t end;     /* end of content: before CRLF / LF, or the end of input */
    size_t next;    /* first byte of the next line */
    int has_lf;     /* ended by LF (else by the end of input) */
    int bare_lf;    /* ended by LF without CR */
} line;

static void line_at(const char *p, size_t n, size_t at, line *l)
{
    const char *lf = mr_find_lf(p + at, n - at);
    l->start = at;
    if (!lf) {
        l->end = l->next = n;
        l->has_lf = l->bare_lf = 0;
        return;
    }
    size_t i = (size_t)(lf - p);
    l->next = i + 1;
    l->has_lf = 1;
    l->bare_lf = !(i > at && p[i - 1] == '\r');
    l->end = l->bare_lf ? i : i - 1;
}

/* Any byte >= 0x80 in [p, p+n)? Eight bytes per step: most header lines are ASCII, and this
 * keeps the UTF-8 check off them. */
static int has_8bit(const char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ull)
            return 1;
    }
    for (; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return 1;
    return 0;
}

/* Strict checks every line must pass (RFC 5322 2.1, 2.1.1, 2.3): CRLF ends, no lone CR, no NUL,
 * at most max_line octets; utf8 also requires any 8-bit bytes to be UTF-8 (RFC 6532, headers).
 * Returns 0 or MR_ERROR. */
static int check_line(const char *p, const line *l, size_t max_line, int utf8, mr_error *err)
{
    if (l->bare_lf)
        return mr_fail(err, MR_E_BARE_LF, "CRLF", l->end);
    size_t len = l->end - l->start;
    const char *s = p + l->start;
    const char *nul = memchr(s, '\0', len);
    if (nul)
        return mr_fail(err, MR_E_NUL, "text", (size_t)(nul - p));
    const char *cr = memchr(s, '\r', len);
    if (cr)
        return mr_fail(err, MR_E_BARE_CR, "CRLF", (size_t)(cr - p));
    if (len > max_line)
        return mr_fail(err, MR_E_LIMIT_LINE, "line", l->start + max_line);
    if (utf8 && has_8bit(s, len)) {
        size_t bad = mr_utf8_check(s, len);
        if (bad < len)
            return mr_fail(err, MR_E_UTF8, "field-body", l->start + bad);
    }
    return 0;
}

/* The lenient flags a line would earn (what check_line() would reject). */
static unsigned line_flags(const char *p, const line *l, size_t max_line)
{
    unsigned fl = 0;
    size_t len = l->end - l->start;
    const char *s = p + l->start;
    if (l->bare_lf)
        fl |= MIME_PF_BARE_LF;
    if (len > max_line)
        fl |= MIME_PF_LONG_LINE;
    if (memchr(s, '\0', len) || memchr(s, '\r', len) || (has_8bit(s, len) && mr_utf8_check(s, len) < len))
        fl |= MIME_PF_BAD_HEADER;
    return fl;
}

static size_t count_lf(const char *p, size_t n)
{
    size_t count = 0;
    const char *end = p + n;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf)
            break;
        count++;
        p = lf + 1;
    }
    return count;
}

/* ------------------------------------------------------------------------------------------ */
/* Header fields */

enum field_end { FIELD_END_EMPTY, FIELD_END_EOF, FIELD_END_NOT_FIELD };

/* The field name of a line, or 0 when the line is not a field (no colon, bad name).
 * Strict names are ftext; lenient names are any bytes but CTL and SP. */
static int field_name(const char *p, const line *l, mr_mode mode, size_t *colon)
{
    const char *c = memchr(p + l->start, ':', l->end - l->start);
    if (!c)
        return 0;
    size_t at = (size_t)(c - p), name_end = at;
    while (name_end > l->start && is_wsp((unsigned char)p[name_end - 1]))
        name_end--; /* obs-optional: WSP before the colon (RFC 5322 4.5.2) */
    if (name_end == l->start)
        return 0;
    for (size_t i = l->start; i < name_end; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (mode == MR_STRICT ? !is_ftext(ch) : (ch <= 0x20 || ch == 0x7f))
            return 0;
    }
    *colon = at;
    return 1;
}

/* mime_field_next() with the reason a header ended and the lenient flags it earned (flags may
 * be NULL when nobody wants them: computing them costs a pass over each line).
 * On 0, *empty_len is the length of the empty line (FIELD_END_EMPTY) to add to the header. */
static int field_scan(const char *p, size_t n, mr_mode mode, const mime_limits *lim,
                      mime_field *f, enum field_end *why, size_t *empty_len, unsigned *flags,
                      mr_error *err)
{
    size_t pos = 0;
    line l;
    for (;;) {
        if (pos >= n) {
            *why = FIELD_END_EOF;
            return 0;
        }
        line_at(p, n, pos, &l);
        if (!is_wsp((unsigned char)p[pos]) || mode == MR_STRICT)
            break;
        if (flags) /* lenient: a stray continuation line */
            *flags |= line_flags(p, &l, lim->max_line);
        pos = l.next;
    }
    if (l.end == l.start && l.has_lf) {
        if (mode == MR_STRICT && l.bare_lf)
            return mr_fail(err, MR_E_BARE_LF, "CRLF", l.end);
        if (flags && l.bare_lf)
            *flags |= MIME_PF_BARE_LF;
        *why = FIELD_END_EMPTY;
        *empty_len = l.next - l.start;
        return 0;
    }
    if (mode == MR_STRICT && check_line(p, &l, lim->max_line, 1, err) != 0)
        return MR_ERROR;
    size_t colon;
    if (!field_name(p, &l, mode, &colon)) {
        if (mode == MR_STRICT)
            return mr_fail(err, MR_E_SYNTAX, "field-name", l.start);
        *why = FIELD_END_NOT_FIELD;
        return 0;
    }
    size_t name_end = colon;
    while (is_wsp((unsigned char)p[name_end - 1]))
        name_end--;
    f->name = slice_at(p, l.start, name_end);
    size_t vstart = colon + 1;
    while (vstart < l.end && is_wsp((unsigned char)p[vstart]))
        vstart++;
    size_t vend = l.end;
    for (int first = 1;; first = 0) { /* the first line, then continuation lines */
        if (mode == MR_STRICT) {
            if (!first && check_line(p, &l, lim->max_line, 1, err) != 0)
                return MR_ERROR;
            if (!l.has_lf)
                return mr_fail(err, MR_E_SYNTAX, "CRLF", l.end);
        } else if (flags) {
            *flags |= line_flags(p, &l, lim->max_line);
        }
        vend = l.end;
        if (l.next >= n || !is_wsp((unsigned char)p[l.next]))
            break;
        line_at(p, n, l.next, &l); /* a continuation line (RFC 5322 2.2.3) */
    }
    if (vstart > vend) /* "Name:" followed by folding only */
        vstart = vend;
    f->value = slice_at(p, vstart, vend);
    f->raw = slice_at(p, pos, l.next);
    return (int)l.next;
}

int mime_field_next(const char *p, size_t n, mr_mode mode, const mime_limits *lim,
                    mime_field *f, mr_error *err)
{
    enum field_end why;
    size_t empty_len;
    if (n > MR_LIMIT_MAX)
        n = MR_LIMIT_MAX;
    return field_scan(p, n, mode, limits_or_default(lim), f, &why, &empty_len, NULL, err);
}

int mime_field_find(mr_slice header, const char *name, mime_field *f)
{
    size_t pos = 0;
    mr_slice want = slice_lit(name);
    for (;;) {
        int r = mime_field_next(header.p + pos, header.n - pos, MR_LENIENT, NULL, f, NULL);
        if (r <= 0)
            return 0;
        if (mr_slices_eq_ci(f->name, want))
            return 1;
        pos += (size_t)r;
    }
}

size_t mime_field_count(mr_slice header)
{
    size_t pos = 0, count = 0;
    mime_field f;
    int r;
    while ((r = mime_field_next(header.p + pos, header.n - pos, MR_LENIENT, NULL, &f, NULL)) > 0) {
        pos += (size_t)r;
        count++;
    }
    return count;
}

/* Trim WSP and folding from both ends of [*from, *to). */
static void trim_fws(const char *p, size_t *from, size_t *to)
{
    while (*from < *to && is_fws((unsigned char)p[*from]))
        (*from)++;
    while (*to > *from && is_fws((unsigned char)p[*to - 1]))
        (*to)--;
}

size_t mime_unfold(mr_slice value, char *out, size_t cap)
{
    outbuf o = {out, cap, 0};
    size_t from = 0, to = value.n;
    trim_fws(value.p, &from, &to);
    for (size_t i = from; i < to; i++) {
        char c = value.p[i];
        if (c == '\r' && i + 1 < to && value.p[i + 1] == '\n')
            continue; /* the LF decides */
        if (c == '\n' && i + 1 < to && is_wsp((unsigned char)value.p[i + 1]))
            continue;
        if (c == '\n') { /* a line break not followed by WSP: not folding; keep it */
            if (i > from && value.p[i - 1] == '\r')
                out_byte(&o, '\r');
        }
        out_byte(&o, c);
    }
    return o.len;
}

/* ------------------------------------------------------------------------------------------ */
/* CFWS, tokens and quoted strings */

/* Skip a comment starting at p[*pos] == '(' (RFC 5322 3.2.2; comments nest). On return *pos is
 * after the closing ')'. An unterminated comment is an error in MR_STRICT and runs to the end
 * in MR_LENIENT; nesting deeper than max is an error in both. */
static int skip_comment(const char *p, size_t n, size_t *pos, size_t max, mr_mode mode,
                        mr_error *err)
{
    size_t depth = 0, i = *pos;
    while (i < n) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            i += 2;
            continue;
        }
        i++;
        if (c == '(') {
            if (++depth > max)
                return mr_fail(err, MR_E_LIMIT_DEPTH, "comment", i - 1);
        } else if (c == ')') {
            if (--depth == 0) {
                *pos = i;
                return 0;
            }
        }
    }
    if (mode == MR_STRICT)
        return mr_fail(err, MR_E_SYNTAX, "comment", *pos);
    *pos = n;
    return 0;
}

/* Skip CFWS from *pos. If last_comment is not NULL it receives the content of the last
 * comment skipped (without parentheses), or is left alone when there was none. */
static int skip_cfws(const char *p, size_t n, size_t *pos, size_t max, mr_mode mode,
                     mr_slice *last_comment, mr_error *err)
{
    while (*pos < n) {
        unsigned char c = (unsigned char)p[*pos];
        if (is_fws(c)) {
            (*pos)++;
        } else if (c == '(') {
            size_t start = *pos;
            if (skip_comment(p, n, pos, max, mode, err) != 0)
                return MR_ERROR;
            if (last_comment) {
                size_t end = *pos;
                if (end > start + 1 && p[end - 1] == ')')
                    end--;
                *last_comment = slice_at(p, start + 1, end);
            }
        } else {
            break;
        }
    }
    return 0;
}

/* Scan a quoted-string whose '"' is at p[*pos]; on success *pos is after the closing quote and
 * *content the bytes between the quotes. MR_ERROR when it is not terminated. */
static int scan_quoted(const char *p, size_t n, size_t *pos, mr_slice *content, mr_error *err)
{
    size_t i = *pos + 1;
    while (i < n) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            i += 2;
            continue;
        }
        if (c == '"') {
            *content = slice_at(p, *pos + 1, i);
            *pos = i + 1;
            return 0;
        }
        i++;
    }
    return mr_fail(err, MR_E_SYNTAX, "quoted-string", *pos);
}

static size_t scan_token(const char *p, size_t n, size_t pos, mr_mode mode)
{
    while (pos < n && is_token_char((unsigned char)p[pos], mode))
        pos++;
    return pos;
}

size_t mime_unquote(mr_slice content, char *out, size_t cap)
{
    outbuf o = {out, cap, 0};
    for (size_t i = 0; i < content.n; i++) {
        char c = content.p[i];
        if (c == '\\' && i + 1 < content.n) {
            out_byte(&o, content.p[++i]);
            continue;
        }
        if (c == '\r' && i + 1 < content.n && content.p[i + 1] == '\n')
            continue;
        if (c == '\n' && i + 1 < content.n && is_wsp((unsigned char)content.p[i + 1]))
            continue;
        out_byte(&o, c);
    }
    return o.len;
}

/* ------------------------------------------------------------------------------------------ */
/* Parameters (RFC 2045 5.1, RFC 2231) */

/* Lenient recovery: skip to the next ';' outside quoted strings (or the end). */
static size_t skip_to_semicolon(const char *p, size_t n, size_t pos)
{
    while (pos < n && p[pos] != ';') {
        if (p[pos] == '"') {
            mr_slice ignored = {NULL, 0};
            if (scan_quoted(p, n, &pos, &ignored, NULL) != 0)
                return n;
            continue;
        }
        pos++;
    }
    return pos;
}

/* Read a lenient unquoted value: everything up to ';', trailing FWS trimmed. */
static mr_slice lenient_value(const char *p, size_t n, size_t *pos)
{
    size_t start = *pos, end = *pos;
    while (end < n && p[end] != ';')
        end++;
    *pos = end;
    size_t to = end;
    while (to > start && is_fws((unsigned char)p[to - 1]))
        to--;
    return slice_at(p, start, to);
}

/* The value after '=': a quoted-string or a token (RFC 2045 5.1); MR_LENIENT also takes an
 * unterminated quoted-string (to the end) and unquoted text with spaces up to ';'. */
static int read_param_value(const char *p, size_t n, mr_mode mode, size_t max, size_t *pos,
                            mime_param *prm, mr_error *err)
{
    prm->quoted = 0;
    if (*pos < n && p[*pos] == '"') {
        prm->quoted = 1;
        if (scan_quoted(p, n, pos, &prm->value, err) == 0)
            return 0;
        if (mode == MR_STRICT)
            return MR_ERROR;
        prm->value = slice_at(p, *pos + 1, n);
        *pos = n;
        return 0;
    }
    size_t vstart = *pos;
    *pos = scan_token(p, n, *pos, mode);
    if (mode == MR_STRICT && *pos == vstart)
        return mr_fail(err, MR_E_SYNTAX, "value", *pos);
    prm->value = slice_at(p, vstart, *pos);
    if (mode == MR_LENIENT) {
        size_t after = *pos;
        if (skip_cfws(p, n, &after, max, mode, NULL, err) != 0)
            return MR_ERROR;
        if (after < n && p[after] != ';') { /* spaces or specials inside the value */
            *pos = vstart;
            prm->value = lenient_value(p, n, pos);
        }
    }
    return 0;
}

int mime_param_next(const char *p, size_t n, mr_mode mode, const mime_limits *lim,
                    mime_param *prm, mr_error *err)
{
    lim = limits_or_default(lim);
    size_t max = lim->max_comment_depth, pos = 0;
    for (;;) { /* each round reads one parameter; lenient rounds may skip a broken one */
        if (skip_cfws(p, n, &pos, max, mode, NULL, err) != 0)
            return MR_ERROR;
        if (pos >= n)
            return 0;
        if (p[pos] == ';')
            pos++;
        else if (mode == MR_STRICT)
            return mr_fail(err, MR_E_SYNTAX, "parameter", pos);
        /* else lenient: a missing ';' between parameters */
        if (skip_cfws(p, n, &pos, max, mode, NULL, err) != 0)
            return MR_ERROR;
        if (pos >= n || p[pos] == ';') {
            if (mode == MR_STRICT)
                return mr_fail(err, MR_E_SYNTAX, "parameter", pos);
            continue; /* lenient: a trailing ';' or an empty parameter ";;" */
        }
        size_t name_start = pos;
        pos = scan_token(p, n, pos, mode);
        size_t name_end = pos;
        if (skip_cfws(p, n, &pos, max, mode, NULL, err) != 0)
            return MR_ERROR;
        if (name_end == name_start || pos >= n || p[pos] != '=') {
            if (mode == MR_STRICT)
                return mr_fail(err, MR_E_SYNTAX, "parameter", pos);
            pos = skip_to_semicolon(p, n, pos > name_start ? pos : name_start + 1);
            continue;
        }
        pos++; /* '=' */
        if (skip_cfws(p, n, &pos, max, mode, NULL, err) != 0)
            return MR_ERROR;
        prm->name = slice_at(p, name_start, name_end);
        if (read_param_value(p, n, mode, max, &pos, prm, err) != 0)
            return MR_ERROR;
        size_t end = pos;
        if (skip_cfws(p, n, &end, max, mode, NULL, err) != 0)
            return MR_ERROR;
        if (mode == MR_STRICT && end < n && p[end] != ';')
            return mr_fail(err, MR_E_SYNTAX, "parameter", end);
        return (int)end;
    }
}

int mime_param_find(mr_slice params, const char *name, mime_param *prm)
{
    mr_slice want = slice_lit(name);
    size_t pos = 0;
    for (;;) {
        int r = mime_param_next(params.p + pos, params.n - pos, MR_LENIENT, NULL, prm, NULL);
        if (r <= 0)
            return 0;
        pos += (size_t)r;
        if (mr_slices_eq_ci(prm->name, want))
            return 1;
    }
}

/* Read the parameters after a type token and check them in MR_STRICT. */
static int check_params(mr_slice params, mr_mode mode, const mime_limits *lim, mr_error *err)
{
    size_t pos = 0;
    mime_param prm;
    for (;;) {
        mr_error e;
        int r = mime_param_next(params.p + pos, params.n - pos, mode, lim, &prm, &e);
        if (r == 0)
            return 0;
        if (r < 0)
            return fail_shifted(err, &e, pos);
        pos += (size_t)r;
    }
}

/* One token with CFWS around it, as the start of a structured value; *pos ends after it. */
static int leading_token(mr_slice v, mr_mode mode, const mime_limits *lim, size_t *pos,
                         mr_slice *tok, const char *rule, mr_error *err)
{
    if (skip_cfws(v.p, v.n, pos, lim->max_comment_depth, mode, NULL, err) != 0)
        return MR_ERROR;
    size_t start = *pos;
    *pos = scan_token(v.p, v.n, *pos, mode);
    if (*pos == start)
        return mr_fail(err, MR_E_SYNTAX, rule, start);
    *tok = slice_at(v.p, start, *pos);
    return skip_cfws(v.p, v.n, pos, lim->max_comment_depth, mode, NULL, err);
}

/* The parameter list that follows a type: from ';' to the end (empty if none). */
static int trailing_params(mr_slice v, mr_mode mode, const mime_limits *lim, size_t pos,
                           mr_slice *params, mr_error *err)
{
    if (pos < v.n && v.p[pos] != ';' && mode == MR_STRICT)
        return mr_fail(err, MR_E_SYNTAX, "parameter", pos);
    *params = slice_at(v.p, pos, v.n);
    mr_error e;
    if (mode == MR_STRICT && check_params(*params, mode, lim, &e) != 0)
        return fail_shifted(err, &e, pos);
    return 0;
}

int mime_content_type(mr_slice value, mr_mode mode, const mime_limits *lim, mr_slice *type,
                      mr_slice *subtype, mr_slice *params, mr_error *err)
{
    lim = limits_or_default(lim);
    size_t pos = 0;
    if (leading_token(value, mode, lim, &pos, type, "type", err) != 0)
        return MR_ERROR;
    if (pos >= value.n || value.p[pos] != '/')
        return mr_fail(err, MR_E_SYNTAX, "subtype", pos);
    pos++;
    if (leading_token(value, mode, lim, &pos, subtype, "subtype", err) != 0)
        return MR_ERROR;
    return trailing_params(value, mode, lim, pos, params, err);
}

int mime_disposition(mr_slice value, mr_mode mode, const mime_limits *lim, mr_slice *dtype,
                     mr_slice *params, mr_error *err)
{
    lim = limits_or_default(lim);
    size_t pos = 0;
    if (leading_token(value, mode, lim, &pos, dtype, "disposition-type", err) != 0)
        return MR_ERROR;
    return trailing_params(value, mode, lim, pos, params, err);
}

int mime_token_value(mr_slice value, mr_mode mode, const mime_limits *lim, mr_slice *token,
                     mr_error *err)
{
    lim = limits_or_default(lim);
    size_t pos = 0;
    if (leading_token(value, mode, lim, &pos, token, "mechanism", err) != 0)
        return MR_ERROR;
    if (pos < value.n && mode == MR_STRICT)
        return mr_fail(err, MR_E_SYNTAX, "mechanism", pos);
    return 0;
}

int mime_list_next(mr_slice list, size_t *pos, mr_slice *item, mr_error *err)
{
    const char *p = list.p;
    size_t n = list.n, i = *pos;
    for (;;) {
        if (skip_cfws(p, n, &i, default_limits.max_comment_depth, MR_LENIENT, NULL, err) != 0)
            return MR_ERROR;
        if (i >= n) {
            *pos = n;
            return 0;
        }
        if (p[i] != ',')
            break;
        i++; /* an empty element */
    }
    if (p[i] == '"') {
        if (scan_quoted(p, n, &i, item, NULL) != 0)
            return mr_fail(err, MR_E_SYNTAX, "list", i);
    } else {
        size_t start = i;
        i = scan_token(p, n, i, MR_LENIENT);
        if (i == start)
            return mr_fail(err, MR_E_SYNTAX, "list", i);
        *item = slice_at(p, start, i);
    }
    if (skip_cfws(p, n, &i, default_limits.max_comment_depth, MR_LENIENT, NULL, err) != 0)
        return MR_ERROR;
    if (i < n && p[i] != ',')
        return mr_fail(err, MR_E_SYNTAX, "list", i);
    *pos = i < n ? i + 1 : n;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Addresses (RFC 5322 3.4, obsolete forms of 4.4) */

void mime_addr_init(mime_addr_iter *it, mr_slice value, mr_mode mode, const mime_limits *lim)
{
    it->p = value.p;
    it->n = value.n > MR_LIMIT_MAX ? MR_LIMIT_MAX : value.n;
    it->pos = 0;
    it->mode = mode;
    it->max_comment_depth = limits_or_default(lim)->max_comment_depth;
    it->in_group = 0;
}

/* A run of words (atoms, quoted-strings) and dots with CFWS between them: a phrase, a
 * local-part or a domain. [start, end) covers the words only, not the CFWS around them. */
typedef struct words {
    size_t start, end;
    size_t nwords;
    int spaced;          /* two words with no '.' between them: a phrase, not a local-part */
    int quoted;          /* a quoted-string among the words */
    mr_slice comment;    /* content of a comment after the last word, if has_comment */
    int has_comment;
} words;

static int scan_words(const mime_addr_iter *it, size_t *pos, words *w, int dot_atom,
                      mr_error *err)
{
    const char *p = it->p;
    size_t n = it->n;
    int prev_word = 0, gap = 0;
    memset(w, 0, sizeof *w);
    w->start = w->end = *pos;
    for (;;) {
        size_t before = *pos;
        mr_slice comment = {NULL, 0};
        if (skip_cfws(p, n, pos, it->max_comment_depth, it->mode, &comment, err) != 0)
            return MR_ERROR;
        gap |= *pos > before;
        if (comment.p) {
            w->comment = comment;
            w->has_comment = 1;
        }
        if (*pos >= n)
            return 0;
        unsigned char ch = (unsigned char)p[*pos];
        size_t tok = *pos;
        if (dot_atom && prev_word && gap && ch != '.')
            return 0; /* a domain ends where a word follows a word with no dot between */
        if (ch == '"') {
            mr_slice ignored = {NULL, 0};
            if (scan_quoted(p, n, pos, &ignored, err) != 0)
                return MR_ERROR;
            w->quoted = 1;
        } else if (ch == '.') {
            (*pos)++;
        } else if (is_atext(ch)) {
            while (*pos < n && is_atext((unsigned char)p[*pos]))
                (*pos)++;
        } else {
            return 0;
        }
        int is_word = ch != '.';
        if (is_word && prev_word) /* CFWS or nothing between two words: not a dot-atom */
            w->spaced = 1;
        if (w->nwords == 0 && w->end == w->start)
            w->start = tok;
        w->nwords += is_word;
        w->end = *pos;
        w->has_comment = 0;
        prev_word = is_word;
        gap = 0;
    }
}

/* A domain after '@': a dot-atom / obs-domain or a domain-literal "[...]". */
static int scan_domain(const mime_addr_iter *it, size_t *pos, mime_addr *a, words *w,
                       mr_error *err)
{
    const char *p = it->p;
    size_t n = it->n;
    if (skip_cfws(p, n, pos, it->max_comment_depth, it->mode, NULL, err) != 0)
        return MR_ERROR;
    if (*pos < n && p[*pos] == '[') {
        size_t start = *pos, i = *pos + 1;
        while (i < n && p[i] != ']' && p[i] != '[')
            i += (p[i] == '\\' && i + 1 < n) ? 2 : 1;
        if (i >= n || p[i] != ']')
            return mr_fail(err, MR_E_SYNTAX, "domain-literal", start);
        *pos = i + 1;
        a->domain = slice_at(p, start, *pos);
        memset(w, 0, sizeof *w);
        mr_slice comment = {NULL, 0};
        if (skip_cfws(p, n, pos, it->max_comment_depth, it->mode, &comment, err) != 0)
            return MR_ERROR;
        w->comment = comment;
        w->has_comment = comment.p != NULL;
        return 0;
    }
    if (scan_words(it, pos, w, 1, err) != 0)
        return MR_ERROR;
    if (w->nwords == 0 || w->spaced || w->quoted)
        return mr_fail(err, MR_E_SYNTAX, "domain", w->start);
    a->domain = slice_at(p, w->start, w->end);
    return 0;
}

/* The local part words must be one dot-separated run (dot-atom or obs-local-part). */
static int check_local(const words *w, mr_error *err)
{
    if (w->nwords == 0 || w->spaced)
        return mr_fail(err, MR_E_SYNTAX, "local-part", w->start);
    return 0;
}

/* addr-spec after its local part: "@" domain. */
static int finish_addr_spec(const mime_addr_iter *it, size_t *pos, mime_addr *a,
                            const words *local, words *dom, mr_error *err)
{
    if (check_local(local, err) != 0)
        return MR_ERROR;
    a->local = slice_at(it->p, local->start, local->end);
    (*pos)++; /* '@' */
    return scan_domain(it, pos, a, dom, err);
}

/* angle-addr from '<': [obs-route] addr-spec ">" (RFC 5322 3.4, 4.4). */
static int scan_angle(const mime_addr_iter *it, size_t *pos, mime_addr *a, mr_error *err)
{
    const char *p = it->p;
    size_t n = it->n, open = *pos;
    (*pos)++;
    if (skip_cfws(p, n, pos, it->max_comment_depth, it->mode, NULL, err) != 0)
        return MR_ERROR;
    if (*pos < n && p[*pos] == '@') { /* obs-route: "@a,@b:" */
        size_t start = *pos, i = *pos;
        while (i < n && p[i] != ':' && p[i] != '>')
            i++;
        if (i >= n || p[i] != ':')
            return mr_fail(err, MR_E_SYNTAX, "obs-route", start);
        size_t end = i;
        trim_fws(p, &start, &end);
        a->route = slice_at(p, start, end);
        *pos = i + 1;
    }
    words local, dom;
    if (scan_words(it, pos, &local, 0, err) != 0)
        return MR_ERROR;
    if (*pos < n && p[*pos] == '@') {
        if (finish_addr_spec(it, pos, a, &local, &dom, err) != 0)
            return MR_ERROR;
    } else if (it->mode == MR_LENIENT && local.nwords > 0 && !local.spaced) {
        a->local = slice_at(p, local.start, local.end); /* "<postmaster>" */
    } else if (!(it->mode == MR_LENIENT && local.nwords == 0)) { /* lenient "<>" */
        return mr_fail(err, MR_E_SYNTAX, "addr-spec", *pos);
    }
    if (skip_cfws(p, n, pos, it->max_comment_depth, it->mode, NULL, err) != 0)
        return MR_ERROR;
    if (*pos >= n || p[*pos] != '>')
        return mr_fail(err, MR_E_SYNTAX, "angle-addr", open);
    (*pos)++;
    return 0;
}

/* Lenient recovery: skip to the next top-level ',' (consumed) or, inside a group, ';' (left
 * for the next call). Quoted strings, comments and <...> are skipped whole. */
static size_t resync(const mime_addr_iter *it, size_t pos)
{
    const char *p = it->p;
    size_t n = it->n;
    while (pos < n) {
        char c = p[pos];
        if (c == ',')
            return pos + 1;
        if (c == ';' && it->in_group)
            return pos;
        if (c == '"') {
            mr_slice ignored = {NULL, 0};
            if (scan_quoted(p, n, &pos, &ignored, NULL) != 0)
                return n;
        } else if (c == '(') {
            if (skip_comment(p, n, &pos, it->max_comment_depth, MR_LENIENT, NULL) != 0)
                pos++;
        } else if (c == '<') {
            const char *gt = memchr(p + pos, '>', n - pos);
            pos = gt ? (size_t)(gt - p) + 1 : n;
        } else {
            pos++;
        }
    }
    return n;
}

static void addr_clear(mime_addr *a, const char *at)
{
    mr_slice empty = {at, 0};
    a->kind = MIME_ADDR_MAILBOX;
    a->name = a->route = a->local = a->domain = a->raw = empty;
    a->invalid = 0;
}

/* After an element: CFWS, then ',' (consumed), ';' inside a group (left), or the end. */
static int element_end(mime_addr_iter *it, size_t *pos, mr_error *err)
{
    if (skip_cfws(it->p, it->n, pos, it->max_comment_depth, it->mode, NULL, err) != 0)
        return MR_ERROR;
    if (*pos >= it->n)
        return 0;
    if (it->p[*pos] == ',') {
        (*pos)++;
        return 0;
    }
    if (it->p[*pos] == ';')
        return it->in_group ? 0 : mr_fail(err, MR_E_SYNTAX, "group", *pos);
    return mr_fail(err, MR_E_SYNTAX, "address", *pos);
}

/* One mailbox or group start at *pos (not at ';' or the end). */
static int read_element(mime_addr_iter *it, size_t *pos, mime_addr *a, mr_error *err)
{
    const char *p = it->p;
    size_t n = it->n;
    words w, dom;
    if (scan_words(it, pos, &w, 0, err) != 0)
        return MR_ERROR;
    char c = *pos < n ? p[*pos] : '\0';
    if (c == ':') {
        if (it->in_group || w.nwords == 0)
            return mr_fail(err, MR_E_SYNTAX, "group", *pos);
        a->kind = MIME_ADDR_GROUP_START;
        a->name = slice_at(p, w.start, w.end);
        it->in_group = 1;
        (*pos)++;
        return 0;
    }
    if (c == '<') {
        a->name = slice_at(p, w.start, w.end);
        if (scan_angle(it, pos, a, err) != 0)
            return MR_ERROR;
        return element_end(it, pos, err);
    }
    if (c == '@') {
        if (finish_addr_spec(it, pos, a, &w, &dom, err) != 0)
            return MR_ERROR;
        if (dom.has_comment) /* "a@b (Ann)": RFC 822 style name */
            a->name = dom.comment;
        return element_end(it, pos, err);
    }
    return mr_fail(err, MR_E_SYNTAX, "addr-spec", *pos);
}

int mime_addr_next(mime_addr_iter *it, mime_addr *a, mr_error *err)
{
    const char *p = it->p;
    size_t n = it->n, pos = it->pos;
    mr_error e;
    for (;;) { /* CFWS and empty elements (obs-addr-list) */
        if (skip_cfws(p, n, &pos, it->max_comment_depth, it->mode, NULL, &e) != 0) {
            if (it->mode == MR_STRICT)
                return mr_fail(err, e.code, e.rule, e.offset);
            break; /* lenient: read_element meets the same comment and recovers */
        }
        if (pos < n && p[pos] == ',') {
            pos++;
            continue;
        }
        break;
    }
    addr_clear(a, p + pos);
    if (pos >= n) {
        it->pos = n;
        if (!it->in_group)
            return 0;
        if (it->mode == MR_STRICT)
            return mr_fail(err, MR_E_SYNTAX, "group", n);
        it->in_group = 0; /* lenient: close a group left open */
        a->kind = MIME_ADDR_GROUP_END;
        return 1;
    }
    size_t start = pos;
    if (p[pos] == ';' && it->in_group) {
        it->in_group = 0;
        a->kind = MIME_ADDR_GROUP_END;
        a->raw = slice_at(p, pos, pos + 1);
        it->pos = pos + 1;
        return 1;
    }
    int in_group = it->in_group;
    if (p[pos] == ';') {
        if (it->mode == MR_STRICT)
            return mr_fail(err, MR_E_SYNTAX, "group", pos);
    } else if (read_element(it, &pos, a, &e) == 0) {
        size_t end = pos;
        if (end > start && p[end - 1] == ',')
            end--;
        trim_fws(p, &start, &end);
        a->raw = slice_at(p, start, end);
        it->pos = pos;
        return 1;
    } else if (it->mode == MR_STRICT) {
        return mr_fail(err, e.code, e.rule, e.offset);
    }
    /* lenient: hand back the unreadable element whole (a stray ';' alone) */
    it->in_group = in_group;
    size_t next = p[start] == ';' ? start + 1 : resync(it, start);
    if (next <= start)
        next = start + 1;
    size_t end = next;
    if (end > start && p[end - 1] == ',')
        end--;
    addr_clear(a, p + start);
    a->invalid = 1;
    trim_fws(p, &start, &end);
    a->raw = a->local = slice_at(p, start, end);
    it->pos = next;
    return 1;
}

size_t mime_addr_clean(mr_slice s, char *out, size_t cap)
{
    outbuf o = {out, cap, 0};
    size_t i = 0;
    while (i < s.n) {
        char c = s.p[i];
        if (is_fws((unsigned char)c)) {
            i++;
        } else if (c == '(') {
            if (skip_comment(s.p, s.n, &i, default_limits.max_comment_depth, MR_LENIENT, NULL) != 0)
                i++;
        } else if (c == '"') {
            size_t q = i;
            mr_slice content = {NULL, 0};
            if (scan_quoted(s.p, s.n, &q, &content, NULL) != 0)
                q = s.n;
            out_bytes(&o, s.p + i, q - i);
            i = q;
        } else {
            out_byte(&o, c);
            i++;
        }
    }
    return o.len;
}

size_t mime_phrase(mr_slice phrase, char *out, size_t cap)
{
    outbuf o = {out, cap, 0};
    const char *p = phrase.p;
    size_t n = phrase.n, i = 0;
    int space = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (is_fws(c) || c == '(') {
            if (c == '(') {
                if (skip_comment(p, n, &i, default_limits.max_comment_depth, MR_LENIENT, NULL) != 0)
                    i++; /* too deep: drop the parenthesis, keep going */
            } else {
                i++;
            }
            space = o.len > 0;
            continue;
        }
        if (space)
            out_byte(&o, ' ');
        space = 0;
        if (c == '"') {
            size_t q = i;
            mr_slice content = {NULL, 0};
            if (scan_quoted(p, n, &q, &content, NULL) != 0) {
                content = slice_at(p, i + 1, n); /* unterminated: to the end */
                q = n;
            }
            size_t len = mime_unquote(content, o.len < cap ? out + o.len : NULL,
                                      o.len < cap ? cap - o.len : 0);
            o.len += len;
            i = q;
            continue;
        }
        if (c == '\\' && i + 1 < n)
            i++;
        out_byte(&o, p[i++]);
    }
    return o.len;
}

void mime_envelope_get(mr_slice header, mime_envelope *env)
{
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"Date", offsetof(mime_envelope, date)},
        {"Subject", offsetof(mime_envelope, subject)},
        {"From", offsetof(mime_envelope, from)},
        {"Sender", offsetof(mime_envelope, sender)},
        {"Reply-To", offsetof(mime_envelope, reply_to)},
        {"To", offsetof(mime_envelope, to)},
        {"Cc", offsetof(mime_envelope, cc)},
        {"Bcc", offsetof(mime_envelope, bcc)},
        {"In-Reply-To", offsetof(mime_envelope, in_reply_to)},
        {"Message-ID", offsetof(mime_envelope, message_id)},
    };
    memset(env, 0, sizeof *env);
    size_t pos = 0;
    mime_field f;
    int r;
    while ((r = mime_field_next(header.p + pos, header.n - pos, MR_LENIENT, NULL, &f, NULL)) > 0) {
        pos += (size_t)r;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            mr_slice *slot = (mr_slice *)(void *)((char *)env + fields[i].off);
            if (!slot->p && mr_slice_eq_ci(f.name, fields[i].name)) {
                *slot = f.value;
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Dates (RFC 5322 3.3, 4.3) */

typedef struct dscan {
    const char *p;
    size_t n, pos;
    mr_mode mode;
} dscan;

static int d_skip(dscan *d, mr_error *err)
{
    return skip_cfws(d->p, d->n, &d->pos, default_limits.max_comment_depth, d->mode, NULL, err);
}

/* Read 1..max digits; returns the count (0 if none) and the value. */
static size_t d_digits(dscan *d, size_t max, int *value)
{
    size_t count = 0;
    int v = 0;
    while (d->pos < d->n && is_digit((unsigned char)d->p[d->pos]) && count < max) {
        v = v * 10 + (d->p[d->pos] - '0');
        d->pos++;
        count++;
    }
    *value = v;
    return count;
}

static size_t d_alpha(dscan *d)
{
    size_t start = d->pos;
    while (d->pos < d->n && is_alpha((unsigned char)d->p[d->pos]))
        d->pos++;
    return d->pos - start;
}

/* Index of a 3-letter name in a table (case-insensitive), or -1. Lenient accepts a longer
 * word that starts with the name ("Monday", "September"). */
static int d_name(const char *s, size_t len, const char *const *names, int count, mr_mode mode)
{
    if (len < 3 || (len > 3 && mode == MR_STRICT))
        return -1;
    for (int i = 0; i < count; i++)
        if (lower((unsigned char)s[0]) == names[i][0] && lower((unsigned char)s[1]) == names[i][1]
            && lower((unsigned char)s[2]) == names[i][2])
            return i;
    return -1;
}

static const char *const day_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const month_names[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* obs-zone (RFC 5322 4.3): the US zones by name; military letters mean -0000 (unknown). */
static int d_zone_name(const char *s, size_t len, int *zone)
{
    static const struct {
        const char *name;
        int minutes;
    } zones[] = {{"ut", 0},       {"gmt", 0},      {"utc", 0},      {"est", -300},
                 {"edt", -240},   {"cst", -360},   {"cdt", -300},   {"mst", -420},
                 {"mdt", -360},   {"pst", -480},   {"pdt", -420}};
    mr_slice have = {s, len};
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
        if (mr_slice_eq_ci(have, zones[i].name)) {
            *zone = zones[i].minutes;
            return 0;
        }
    if (len == 1 && is_alpha((unsigned char)s[0]) && lower((unsigned char)s[0]) != 'j') {
        *zone = 0;
        return 0;
    }
    return -1;
}

static int d_fail(mr_error *err, const char *rule, size_t at)
{
    return mr_fail(err, MR_E_SYNTAX, rule, at);
}

/* [day-of-week ","] */
static int d_day_of_week(dscan *d, mr_error *err)
{
    size_t at = d->pos, len = d_alpha(d);
    if (len == 0)
        return 0;
    if (d_name(d->p + at, len, day_names, 7, d->mode) < 0)
        return d_fail(err, "day-of-week", at);
    if (d_skip(d, err) != 0)
        return MR_ERROR;
    if (d->pos < d->n && d->p[d->pos] == ',')
        d->pos++;
    else if (d->mode == MR_STRICT)
        return d_fail(err, "day-of-week", d->pos);
    return d_skip(d, err);
}

/* day month year */
static int d_date(dscan *d, mime_date *out, mr_error *err)
{
    size_t at = d->pos;
    if (d_digits(d, 2, &out->day) == 0 || out->day < 1 || out->day > 31)
        return d_fail(err, "day", at);
    if (d_skip(d, err) != 0)
        return MR_ERROR;
    at = d->pos;
    size_t len = d_alpha(d);
    int m = d_name(d->p + at, len, month_names, 12, d->mode);
    if (m < 0)
        return d_fail(err, "month", at);
    out->month = m + 1;
    if (d_skip(d, err) != 0)
        return MR_ERROR;
    at = d->pos;
    size_t digits = d_digits(d, 4, &out->year);
    if (digits < 2 || (d->pos < d->n && is_digit((unsigned char)d->p[d->pos])))
        return d_fail(err, "year", at);
    if (digits == 2) /* obs-year (RFC 5322 4.3) */
        out->year += out->year < 50 ? 2000 : 1900;
    else if (digits == 3)
        out->year += 1900;
    else if (out->year < 1900 && d->mode == MR_STRICT)
        return d_fail(err, "year", at);
    if (d->mode == MR_STRICT && out->day > days_in_month(out->year, out->month))
        return d_fail(err, "day", at);
    return d_skip(d, err);
}

/* hour ":" minute [":" second] */
static int d_time(dscan *d, mime_date *out, mr_error *err)
{
    size_t at = d->pos, want = d->mode == MR_STRICT ? 2 : 1;
    size_t hd = d_digits(d, 2, &out->hour);
    if (hd < want || out->hour > 23 || d->pos >= d->n || d->p[d->pos] != ':')
        return d_fail(err, "time", at);
    d->pos++;
    if (d_digits(d, 2, &out->min) != 2 || out->min > 59)
        return d_fail(err, "time", at);
    out->sec = 0;
    if (d->pos < d->n && d->p[d->pos] == ':') {
        d->pos++;
        if (d_digits(d, 2, &out->sec) != 2 || out->sec > 60)
            return d_fail(err, "time", at);
    }
    return d_skip(d, err);
}

static int d_zone(dscan *d, mime_date *out, mr_error *err)
{
    size_t at = d->pos;
    out->zone = 0;
    if (d->pos >= d->n)
        return d->mode == MR_STRICT ? d_fail(err, "zone", at) : 0;
    char sign = d->p[d->pos];
    if (sign == '+' || sign == '-') {
        d->pos++;
        int hhmm;
        if (d_digits(d, 4, &hhmm) != 4 || hhmm % 100 > 59)
            return d_fail(err, "zone", at);
        out->zone = (hhmm / 100 * 60 + hhmm % 100) * (sign == '-' ? -1 : 1);
        return d_skip(d, err);
    }
    size_t len = d_alpha(d);
    if (len == 0 || d_zone_name(d->p + at, len, &out->zone) != 0) {
        if (d->mode == MR_STRICT)
            return d_fail(err, "zone", at);
        out->zone = 0; /* lenient: an unknown zone counts as +0000 (RFC 5322 4.3) */
    }
    return d_skip(d, err);
}

int mime_date_parse(mr_slice value, mr_mode mode, mime_date *d, mr_error *err)
{
    dscan s = {value.p, value.n, 0, mode};
    memset(d, 0, sizeof *d);
    if (d_skip(&s, err) != 0 || d_day_of_week(&s, err) != 0 || d_date(&s, d, err) != 0
        || d_time(&s, d, err) != 0 || d_zone(&s, d, err) != 0)
        return MR_ERROR;
    if (mode == MR_STRICT && s.pos < s.n)
        return d_fail(err, "date-time", s.pos);
    return 0;
}

int64_t mime_date_to_unix(const mime_date *d)
{
    /* days_from_civil (H. Hinnant): exact for the proleptic Gregorian calendar. */
    int64_t y = d->year - (d->month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (d->month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d->day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + d->hour * 3600 + d->min * 60 + d->sec - (int64_t)d->zone * 60;
}

/* ------------------------------------------------------------------------------------------ */
/* The part tree */

static const char s_text[] = "text", s_plain[] = "plain", s_message[] = "message",
                  s_rfc822[] = "rfc822", s_ascii[] = "; charset=us-ascii";

typedef struct pctx {
    const char *msg;
    size_t len;
    const mime_limits *lim;
    mr_mode mode;
    mime_part *parts;
    size_t n, max_parts, max_depth;
    mr_slice bnd[MIME_DEPTH_CEILING]; /* open boundaries, outermost first */
    size_t nbnd;
    mr_error *err;
} pctx;

/* What ended an entity: a delimiter line of an open boundary, or the end of the message. */
typedef struct term {
    size_t body_end; /* the entity's body ends here (before the delimiter's own line end) */
    size_t next;     /* first byte after the delimiter line; len at the end of the message */
    size_t line;     /* where the delimiter line starts, and where its content ends */
    size_t line_end;
    int level;       /* index of the boundary in pctx.bnd, -1 for the end of the message */
    int close;       /* a close-delimiter ("--b--") */
} term;

/* The Content-* fields of one header, first occurrence of each. */
typedef struct cfields {
    mr_slice ctype, cte, id, desc, md5, disp, lang, loc;
} cfields;

/* Is line l a delimiter line "--" boundary ["--"] *LWSP (RFC 2046 5.1.1) of an open boundary?
 * Returns its stack index, innermost first, or -1. Both modes match exactly (no prefix
 * matching as some readers do), so an inner boundary that extends an outer one still works,
 * and a message strict mode accepts gets the same tree in lenient mode. */
static int delimiter_of(const pctx *c, const line *l, int *close)
{
    size_t len = l->end - l->start;
    const char *s = c->msg + l->start;
    if (c->nbnd == 0 || len < 3 || s[0] != '-' || s[1] != '-')
        return -1;
    for (size_t k = c->nbnd; k-- > 0;) {
        mr_slice b = c->bnd[k];
        if (len - 2 < b.n || memcmp(s + 2, b.p, b.n) != 0)
            continue;
        size_t i = 2 + b.n;
        int cl = i + 1 < len && s[i] == '-' && s[i + 1] == '-';
        if (cl)
            i += 2;
        while (i < len && is_wsp((unsigned char)s[i]))
            i++;
        if (i == len) {
            *close = cl;
            return (int)k;
        }
    }
    return -1;
}

/* The body that started at `from` ends before the line end preceding the delimiter at ls:
 * that CRLF belongs to the delimiter (RFC 2046 5.1.1). */
static size_t body_end_before(const pctx *c, size_t from, size_t ls)
{
    if (ls == from)
        return from;
    size_t e = ls - 1; /* the LF */
    if (e > from && c->msg[e - 1] == '\r')
        e--;
    return e;
}

/* Scan lines from `from` (a line start) to the first delimiter of an open boundary or the end
 * of the message; MR_STRICT checks every line on the way. */
static int scan_body(pctx *c, size_t from, term *t)
{
    t->level = -1;
    t->close = 0;
    t->next = t->body_end = t->line = t->line_end = c->len;
    if (c->nbnd == 0 && c->mode == MR_LENIENT)
        return 0; /* nothing can end it but the end of the message */
    size_t pos = from;
    line l;
    while (pos < c->len) {
        line_at(c->msg, c->len, pos, &l);
        if (c->mode == MR_STRICT && check_line(c->msg, &l, c->lim->max_line, 0, c->err) != 0)
            return MR_ERROR;
        int close, k = delimiter_of(c, &l, &close);
        if (k >= 0) {
            t->level = k;
            t->close = close;
            t->next = l.next;
            t->line = l.start;
            t->line_end = l.end;
            t->body_end = body_end_before(c, from, l.start);
            return 0;
        }
        pos = l.next;
    }
    return 0;
}

/* Remember the Content-* fields (first occurrence wins). */
static void note_field(cfields *cf, const mime_field *f)
{
    if (f->name.n < 10 || lower((unsigned char)f->name.p[0]) != 'c')
        return;
    static const struct {
        const char *name;
        size_t off;
    } known[] = {
        {"Content-Type", offsetof(cfields, ctype)},
        {"Content-Transfer-Encoding", offsetof(cfields, cte)},
        {"Content-ID", offsetof(cfields, id)},
        {"Content-Description", offsetof(cfields, desc)},
        {"Content-MD5", offsetof(cfields, md5)},
        {"Content-Disposition", offsetof(cfields, disp)},
        {"Content-Language", offsetof(cfields, lang)},
        {"Content-Location", offsetof(cfields, loc)},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (!mr_slice_eq_ci(f->name, known[i].name))
            continue;
        mr_slice *slot = (mr_slice *)(void *)((char *)cf + known[i].off);
        if (!slot->p) {
            size_t from = 0, to = f->value.n;
            trim_fws(f->value.p, &from, &to);
            *slot = slice_at(f->value.p, from, to);
        }
        return;
    }
}

/* Read the header at `start` up to its empty line, a delimiter line, the end of the message,
 * or (lenient) a line that is not a field. Sets part->header and *body_start. */
static int read_header(pctx *c, mime_part *part, size_t start, cfields *cf, size_t *body_start)
{
    size_t pos = start, nfields = 0;
    unsigned flags = 0;
    memset(cf, 0, sizeof *cf);
    for (;;) {
        if (pos >= c->len) {
            *body_start = c->len;
            break;
        }
        line l;
        int close;
        line_at(c->msg, c->len, pos, &l);
        if (delimiter_of(c, &l, &close) >= 0) {
            flags |= MIME_PF_HEADER_CUT;
            *body_start = pos;
            break;
        }
        mime_field f;
        enum field_end why;
        size_t empty_len = 0;
        mr_error e;
        int r = field_scan(c->msg + pos, c->len - pos, c->mode, c->lim, &f, &why, &empty_len,
                           &flags, &e);
        if (r < 0)
            return fail_shifted(c->err, &e, pos);
        if (r == 0) {
            if (why == FIELD_END_NOT_FIELD)
                flags |= MIME_PF_HEADER_CUT;
            *body_start = pos + empty_len;
            break;
        }
        if (++nfields > c->lim->max_header_fields) {
            if (c->mode == MR_STRICT)
                return mr_fail(c->err, MR_E_LIMIT_COUNT, "header", pos);
            flags |= MIME_PF_MANY_FIELDS;
        }
        note_field(cf, &f);
        pos += (size_t)r;
    }
    part->header = slice_at(c->msg, start, *body_start);
    part->header_fields = nfields;
    part->flags |= (uint16_t)flags;
    return 0;
}

static void default_type(mime_part *part, int in_digest)
{
    part->type = slice_lit(in_digest ? s_message : s_text);
    part->subtype = slice_lit(in_digest ? s_rfc822 : s_plain);
    part->params = in_digest ? slice_at(s_ascii, 0, 0) : slice_lit(s_ascii);
}

/* An error in a field value: fatal in MR_STRICT, else remembered in the part's flags. */
static int value_error(pctx *c, const mr_error *e, mr_slice value)
{
    if (c->mode == MR_STRICT)
        return fail_shifted(c->err, e, (size_t)(value.p - c->msg));
    return 0;
}

static int interpret_content(pctx *c, mime_part *part, const cfields *cf, int in_digest)
{
    mr_error e;
    default_type(part, in_digest);
    if (!cf->ctype.p) {
        part->flags |= MIME_PF_DEFAULT_TYPE;
    } else if (mime_content_type(cf->ctype, c->mode, c->lim, &part->type, &part->subtype,
                                 &part->params, &e) != 0) {
        if (value_error(c, &e, cf->ctype) != 0)
            return MR_ERROR;
        default_type(part, in_digest); /* RFC 2045 5.2: an unreadable type means the default */
        part->flags |= MIME_PF_BAD_TYPE;
    }
    if (cf->cte.p && mime_token_value(cf->cte, c->mode, c->lim, &part->encoding, &e) != 0) {
        if (value_error(c, &e, cf->cte) != 0)
            return MR_ERROR;
        part->encoding = cf->cte;
    }
    if (cf->disp.p
        && mime_disposition(cf->disp, c->mode, c->lim, &part->disposition, &part->disp_params,
                            &e) != 0) {
        if (value_error(c, &e, cf->disp) != 0)
            return MR_ERROR;
        part->disposition = part->disp_params = slice_at(cf->disp.p, 0, 0);
    }
    const mr_slice *raw[] = {&cf->id, &cf->desc, &cf->md5, &cf->lang, &cf->loc};
    mr_slice *dst[] = {&part->id, &part->description, &part->md5, &part->language,
                       &part->location};
    for (size_t i = 0; i < 5; i++)
        if (raw[i]->p)
            *dst[i] = *raw[i];
    return 0;
}

/* The boundary parameter of a multipart, checked (RFC 2046 5.1.1 bchars, 1..70 octets; lenient
 * takes up to 200 octets of anything but CR/LF/backslash). Returns 0 with *b, or -1. */
static int get_boundary(const pctx *c, const mime_part *part, mr_slice *b)
{
    mime_param prm;
    if (!mime_param_find(part->params, "boundary", &prm))
        return -1;
    size_t max = c->lim->max_boundary;
    if (c->mode == MR_LENIENT && max < 200)
        max = 200;
    if (prm.value.n == 0 || prm.value.n > max)
        return -1;
    for (size_t i = 0; i < prm.value.n; i++) {
        unsigned char ch = (unsigned char)prm.value.p[i];
        if (ch == '\r' || ch == '\n' || ch == '\\')
            return -1;
        int bchar = is_alpha(ch) || is_digit(ch) || (ch && strchr("'()+_,-./:=? ", ch));
        if (c->mode == MR_STRICT && !bchar)
            return -1;
    }
    if (c->mode == MR_STRICT && prm.value.p[prm.value.n - 1] == ' ')
        return -1;
    *b = prm.value;
    return 0;
}

static int identity_encoding(mr_slice enc)
{
    return enc.n == 0 || mr_slice_eq_ci(enc, "7bit") || mr_slice_eq_ci(enc, "8bit") ||
           mr_slice_eq_ci(enc, "binary");
}

/* Decide whether a part is opened as a container. Strict errors, lenient flags. */
static int decide_kind(pctx *c, mime_part *part, mr_slice *boundary)
{
    int multi = mr_slice_eq_ci(part->type, "multipart");
    int message = mr_slice_eq_ci(part->type, "message")
                  && (mr_slice_eq_ci(part->subtype, "rfc822")
                      || mr_slice_eq_ci(part->subtype, "global"));
    size_t at = (size_t)(part->header.p - c->msg);
    part->kind = MIME_KIND_LEAF;
    if (!multi && !message)
        return 0;
    if (!identity_encoding(part->encoding)) { /* RFC 2045 6.4, RFC 2046 5.2.1 */
        if (c->mode == MR_STRICT)
            return mr_fail(c->err, MR_E_SYNTAX, "encoding", at);
        part->flags |= MIME_PF_ENCODED;
        return 0;
    }
    if (multi && get_boundary(c, part, boundary) != 0) {
        if (c->mode == MR_STRICT)
            return mr_fail(c->err, MR_E_SYNTAX, "boundary", at);
        part->flags |= MIME_PF_NO_BOUNDARY;
        return 0;
    }
    if (part->depth >= c->max_depth) {
        if (c->mode == MR_STRICT)
            return mr_fail(c->err, MR_E_LIMIT_DEPTH, multi ? "multipart" : "message", at);
        part->flags |= MIME_PF_TRUNCATED;
        return 0;
    }
    if (message && c->n >= c->max_parts) {
        if (c->mode == MR_STRICT)
            return mr_fail(c->err, MR_E_LIMIT_COUNT, "parts", at);
        part->flags |= MIME_PF_TRUNCATED;
        return 0;
    }
    part->kind = multi ? MIME_KIND_MULTIPART : MIME_KIND_MESSAGE;
    return 0;
}

static void link_child(pctx *c, uint32_t parent, uint32_t *last, uint32_t child)
{
    if (*last == MIME_NONE)
        c->parts[parent].first_child = child;
    else
        c->parts[*last].next_sibling = child;
    *last = child;
    c->parts[parent].nchildren++;
}

static int parse_entity(pctx *c, size_t start, uint32_t parent, uint32_t number, int in_digest,
                        uint32_t *idx_out, term *t);

/* The body of a multipart from bs: preamble, body parts, close-delimiter, epilogue. */
static int parse_multipart(pctx *c, uint32_t idx, mr_slice boundary, size_t bs, term *t)
{
    int digest = mr_slice_eq_ci(c->parts[idx].subtype, "digest");
    int level = (int)c->nbnd;
    c->bnd[c->nbnd++] = boundary;
    term d;
    if (scan_body(c, bs, &d) != 0)
        return MR_ERROR;
    c->parts[idx].preamble = slice_at(c->msg, bs, d.body_end);
    uint32_t number = 0, last = MIME_NONE;
    while (d.level == level && !d.close) {
        if (c->n >= c->max_parts) {
            if (c->mode == MR_STRICT)
                return mr_fail(c->err, MR_E_LIMIT_COUNT, "parts", d.next);
            c->parts[idx].flags |= MIME_PF_TRUNCATED; /* the rest stays in our body */
            do {
                if (scan_body(c, d.next, &d) != 0)
                    return MR_ERROR;
            } while (d.level == level && !d.close);
            break;
        }
        uint32_t child;
        term ct;
        if (parse_entity(c, d.next, idx, ++number, digest, &child, &ct) != 0)
            return MR_ERROR;
        link_child(c, idx, &last, child);
        d = ct;
    }
    c->nbnd = (size_t)level; /* our delimiters are plain text in the epilogue */
    mime_part *part = &c->parts[idx];
    if (d.level != level) {
        if (c->mode == MR_STRICT)
            return mr_fail(c->err, MR_E_SYNTAX, "close-delimiter", d.body_end);
        part->flags |= MIME_PF_NO_CLOSE;
        part->epilogue = slice_at(c->msg, d.body_end, d.body_end);
        *t = d;
        return 0;
    }
    if (number == 0 && c->mode == MR_STRICT)
        return mr_fail(c->err, MR_E_SYNTAX, "multipart-body", d.next);
    if (scan_body(c, d.next, t) != 0)
        return MR_ERROR;
    if (t->level >= 0 && t->line == d.next) {
        /* An outer delimiter right after our close-delimiter line: the close line's own line
         * end is the CRLF that belongs to the outer delimiter (RFC 2046 5.1.1). */
        t->body_end = d.line_end;
        part = &c->parts[idx];
        part->epilogue = slice_at(c->msg, d.line_end, d.line_end);
        return 0;
    }
    part->epilogue = slice_at(c->msg, d.next, t->body_end);
    return 0;
}

/* One entity (header + body) at `start`; *t says what ended it. */
static int parse_entity(pctx *c, size_t start, uint32_t parent, uint32_t number, int in_digest,
                        uint32_t *idx_out, term *t)
{
    uint32_t idx = (uint32_t)c->n++;
    mime_part *part = &c->parts[idx];
    mr_slice empty = {c->msg + start, 0};
    memset(part, 0, sizeof *part);
    part->parent = parent;
    part->first_child = part->next_sibling = MIME_NONE;
    part->number = number;
    part->depth = (uint16_t)(parent == MIME_NONE ? 0 : c->parts[parent].depth + 1);
    part->header = part->body = part->preamble = part->epilogue = empty;
    part->encoding = part->id = part->description = part->md5 = part->location = empty;
    part->disposition = part->disp_params = part->language = empty;
    cfields cf;
    size_t bs = start;
    mr_slice boundary = empty;
    if (read_header(c, part, start, &cf, &bs) != 0 || interpret_content(c, part, &cf, in_digest) != 0
        || decide_kind(c, part, &boundary) != 0)
        return MR_ERROR;
    part->body = part->preamble = part->epilogue = slice_at(c->msg, bs, bs);
    if (part->kind == MIME_KIND_MULTIPART) {
        if (parse_multipart(c, idx, boundary, bs, t) != 0)
            return MR_ERROR;
    } else if (part->kind == MIME_KIND_MESSAGE) {
        uint32_t child, last = MIME_NONE;
        if (parse_entity(c, bs, idx, 1, 0, &child, t) != 0)
            return MR_ERROR;
        link_child(c, idx, &last, child);
    } else if (scan_body(c, bs, t) != 0) {
        return MR_ERROR;
    }
    part = &c->parts[idx];
    part->body = slice_at(c->msg, bs, t->body_end);
    part->body_lines = count_lf(part->body.p, part->body.n);
    *idx_out = idx;
    return 0;
}

int mime_parse(const char *msg, size_t len, const mime_limits *lim, mr_mode mode,
               mime_part *parts, size_t cap, mr_error *err)
{
    lim = limits_or_default(lim);
    if (cap < 1 || !parts)
        return mr_fail(err, MR_E_LIMIT_COUNT, "parts", 0);
    if (len > MR_LIMIT_MAX)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "message", MR_LIMIT_MAX);
    pctx c;
    memset(&c, 0, sizeof c);
    c.msg = msg;
    c.len = len;
    c.lim = lim;
    c.mode = mode;
    c.parts = parts;
    c.max_parts = cap < lim->max_parts ? cap : lim->max_parts;
    if (c.max_parts < 1)
        c.max_parts = 1;
    if (c.max_parts > MR_LIMIT_MAX)
        c.max_parts = MR_LIMIT_MAX;
    c.max_depth = lim->max_depth < MIME_DEPTH_CEILING ? lim->max_depth : MIME_DEPTH_CEILING;
    c.err = err;
    uint32_t root;
    term t;
    if (parse_entity(&c, 0, MIME_NONE, 0, 0, &root, &t) != 0)
        return MR_ERROR;
    return (int)c.n;
}

int mime_part_is_text(const mime_part *part)
{
    return mr_slice_eq_ci(part->type, "text");
}

/* ------------------------------------------------------------------------------------------ */
/* IMAP sections */

static const struct {
    const char *name;
    mime_sect_text text;
} sect_names[] = {
    /* longest first: "HEADER" is a prefix of the others */
    {"HEADER.FIELDS.NOT", MIME_SECT_HEADER_FIELDS_NOT},
    {"HEADER.FIELDS", MIME_SECT_HEADER_FIELDS},
    {"HEADER", MIME_SECT_HEADER},
    {"TEXT", MIME_SECT_TEXT},
    {"MIME", MIME_SECT_MIME},
};

static int prefix_ieq(const char *p, size_t n, const char *lit)
{
    size_t len = strlen(lit);
    if (n < len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (lower((unsigned char)p[i]) != lower((unsigned char)lit[i]))
            return 0;
    return 1;
}

/* IMAP ASTRING-CHAR (RFC 3501 9): ATOM-CHAR or ']'. Lenient also takes 8-bit bytes. */
static int is_astring_char(unsigned char c, mr_mode mode)
{
    if (c >= 0x80)
        return mode == MR_LENIENT;
    if (c <= 0x20 || c == 0x7f)
        return 0;
    return strchr("(){%*\"\\", c) == NULL;
}

/* header-list content: header-fld-name *(SP header-fld-name); lenient: any WSP runs. */
static int check_header_list(const char *p, size_t from, size_t to, mr_mode mode, mr_error *err)
{
    size_t i = from, count = 0;
    while (i < to) {
        if (p[i] == ' ' || (mode == MR_LENIENT && is_wsp((unsigned char)p[i]))) {
            if (mode == MR_STRICT && (i == from || i + 1 == to || p[i + 1] == ' '))
                return mr_fail(err, MR_E_SYNTAX, "header-list", i);
            i++;
            continue;
        }
        if (p[i] != '"' && !is_astring_char((unsigned char)p[i], mode))
            return mr_fail(err, MR_E_SYNTAX, "header-fld-name", i);
        if (count > 0 && p[i - 1] != ' ' && !(mode == MR_LENIENT && is_wsp((unsigned char)p[i - 1])))
            return mr_fail(err, MR_E_SYNTAX, "header-list", i); /* "a"b: no space between */
        if (p[i] == '"') {
            mr_slice content = {NULL, 0};
            if (scan_quoted(p, to, &i, &content, err) != 0)
                return MR_ERROR;
            for (size_t k = 0; k < content.n; k++) {
                unsigned char ch = (unsigned char)content.p[k];
                if (ch == '\r' || ch == '\n' || ch == 0 || (ch >= 0x80 && mode == MR_STRICT))
                    return mr_fail(err, MR_E_SYNTAX, "quoted", (size_t)(content.p - p) + k);
            }
        } else {
            while (i < to && is_astring_char((unsigned char)p[i], mode))
                i++;
        }
        count++;
    }
    if (count == 0)
        return mr_fail(err, MR_E_SYNTAX, "header-list", from);
    return 0;
}

/* The text part of a section: a keyword, and for HEADER.FIELDS its list, to the end. */
static int parse_sect_text(const char *p, size_t n, size_t pos, mr_mode mode, mime_section *s,
                           mr_error *err)
{
    size_t k;
    for (k = 0; k < sizeof sect_names / sizeof sect_names[0]; k++)
        if (prefix_ieq(p + pos, n - pos, sect_names[k].name))
            break;
    if (k == sizeof sect_names / sizeof sect_names[0]
        || (sect_names[k].text == MIME_SECT_MIME && s->npath == 0))
        return mr_fail(err, MR_E_SYNTAX, s->npath ? "section-text" : "section-msgtext", pos);
    s->text = sect_names[k].text;
    pos += strlen(sect_names[k].name);
    if (s->text != MIME_SECT_HEADER_FIELDS && s->text != MIME_SECT_HEADER_FIELDS_NOT) {
        if (pos != n)
            return mr_fail(err, MR_E_SYNTAX, "section-text", pos);
        return (int)n;
    }
    size_t sp = pos;
    while (pos < n && (p[pos] == ' ' || (mode == MR_LENIENT && is_wsp((unsigned char)p[pos]))))
        pos++;
    if (pos == sp || (mode == MR_STRICT && pos != sp + 1) || pos >= n || p[pos] != '('
        || p[n - 1] != ')' || n - 1 <= pos)
        return mr_fail(err, MR_E_SYNTAX, "header-list", pos);
    if (check_header_list(p, pos + 1, n - 1, mode, err) != 0)
        return MR_ERROR;
    s->fields = slice_at(p, pos + 1, n - 1);
    return (int)n;
}

int mime_section_parse(const char *p, size_t n, mr_mode mode, mime_section *s, mr_error *err)
{
    memset(s, 0, sizeof *s);
    s->fields.p = p;
    if (n > MR_LIMIT_MAX)
        return mr_fail(err, MR_E_LIMIT_LINE, "section-spec", MR_LIMIT_MAX);
    size_t pos = 0;
    while (pos < n && is_digit((unsigned char)p[pos])) {
        size_t start = pos;
        while (pos < n && is_digit((unsigned char)p[pos]))
            pos++;
        uint64_t v;
        if (p[start] == '0' || mr_parse_u64(slice_at(p, start, pos), UINT32_MAX, &v) != 0)
            return mr_fail(err, MR_E_NUMBER, "nz-number", start);
        if (s->npath == MIME_SECTION_MAX_PATH)
            return mr_fail(err, MR_E_LIMIT_DEPTH, "section-part", start);
        s->path[s->npath++] = (uint32_t)v;
        if (pos == n)
            return (int)n;
        if (p[pos] != '.' || pos + 1 == n)
            return mr_fail(err, MR_E_SYNTAX, "section-part", pos);
        pos++;
    }
    if (pos == n)
        return (int)n; /* "" */
    return parse_sect_text(p, n, pos, mode, s, err);
}

size_t mime_section_write(const mime_section *s, char *out, size_t cap)
{
    outbuf o = {out, cap, 0};
    for (size_t i = 0; i < s->npath; i++) {
        char num[12];
        size_t len = 0;
        uint32_t v = s->path[i];
        do {
            num[sizeof num - 1 - len++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        if (i)
            out_byte(&o, '.');
        out_bytes(&o, num + sizeof num - len, len);
    }
    if (s->text == MIME_SECT_NONE)
        return o.len;
    if (s->npath)
        out_byte(&o, '.');
    for (size_t k = 0; k < sizeof sect_names / sizeof sect_names[0]; k++)
        if (sect_names[k].text == s->text)
            out_bytes(&o, sect_names[k].name, strlen(sect_names[k].name));
    if (s->text == MIME_SECT_HEADER_FIELDS || s->text == MIME_SECT_HEADER_FIELDS_NOT) {
        out_bytes(&o, " (", 2);
        out_bytes(&o, s->fields.p, s->fields.n);
        out_byte(&o, ')');
    }
    return o.len;
}

/* The child numbered k of the list a section step indexes into, or MIME_NONE. */
static uint32_t nth_child(const mime_part *parts, size_t nparts, uint32_t parent, uint32_t k)
{
    uint32_t c = parts[parent].first_child;
    for (uint32_t j = 1; j < k && c != MIME_NONE && c < nparts; j++)
        c = parts[c].next_sibling;
    return c < nparts ? c : MIME_NONE;
}

/* One numeric step (RFC 3501 6.4.5): from `cur` (MIME_NONE = the top) to its part k. */
static uint32_t section_step(const mime_part *parts, size_t nparts, uint32_t cur, uint32_t k)
{
    uint32_t list = cur == MIME_NONE ? 0 : cur;
    if (k == 0) /* a caller-built path; the parser never makes one */
        return MIME_NONE;
    if (cur != MIME_NONE && parts[cur].kind == MIME_KIND_MESSAGE) {
        list = parts[cur].first_child; /* numbers continue into the encapsulated message */
        if (list >= nparts)
            return MIME_NONE;
    } else if (cur != MIME_NONE && parts[cur].kind != MIME_KIND_MULTIPART) {
        return MIME_NONE; /* a leaf has no parts */
    }
    if (parts[list].kind == MIME_KIND_MULTIPART)
        return nth_child(parts, nparts, list, k);
    /* a non-multipart message has exactly one part: itself */
    return k == 1 ? list : MIME_NONE;
}

int mime_section_find(const mime_part *parts, size_t nparts, const mime_section *s,
                      mime_range *r, mr_error *err)
{
    if (nparts == 0)
        return mr_fail(err, MR_E_SYNTAX, "section", 0);
    uint32_t cur = MIME_NONE;
    for (size_t i = 0; i < s->npath; i++) {
        cur = section_step(parts, nparts, cur, s->path[i]);
        if (cur == MIME_NONE)
            return mr_fail(err, MR_E_SYNTAX, "section", i);
    }
    const mime_part *root = &parts[0];
    if (s->text == MIME_SECT_NONE) {
        if (s->npath == 0) {
            r->part = 0;
            r->bytes.p = root->header.p;
            r->bytes.n = (size_t)(root->body.p + root->body.n - root->header.p);
        } else {
            r->part = cur;
            r->bytes = parts[cur].body;
        }
        return 0;
    }
    if (s->text == MIME_SECT_MIME) {
        if (s->npath == 0)
            return mr_fail(err, MR_E_SYNTAX, "section", 0);
        r->part = cur;
        r->bytes = parts[cur].header;
        return 0;
    }
    uint32_t msg = 0;
    if (s->npath > 0) {
        if (parts[cur].kind != MIME_KIND_MESSAGE || parts[cur].first_child >= nparts)
            return mr_fail(err, MR_E_SYNTAX, "section", s->npath - 1);
        msg = parts[cur].first_child;
    }
    r->part = msg;
    r->bytes = s->text == MIME_SECT_TEXT ? parts[msg].body : parts[msg].header;
    return 0;
}

int mime_part_path(const mime_part *parts, size_t nparts, uint32_t i, uint32_t *path,
                   size_t max)
{
    uint32_t rev[MIME_SECTION_MAX_PATH + 2];
    size_t nr = 0;
    if (i >= nparts)
        return -1;
    uint32_t x = i;
    if (x != 0 && parts[parts[x].parent].kind == MIME_KIND_MESSAGE)
        x = parts[x].parent; /* an encapsulated message: its message part's path + HEADER */
    while (x != 0) {
        uint32_t par = parts[x].parent;
        if (par >= nparts || nr >= MIME_SECTION_MAX_PATH + 1)
            return -1;
        if (parts[par].kind == MIME_KIND_MULTIPART) {
            rev[nr++] = parts[x].number;
            uint32_t up = parts[par].parent;
            /* a multipart that is an encapsulated message is numbered by its message part */
            x = (par != 0 && up < nparts && parts[up].kind == MIME_KIND_MESSAGE) ? up : par;
        } else if (parts[par].kind == MIME_KIND_MESSAGE) {
            rev[nr++] = 1; /* a non-multipart encapsulated message is its own part 1 */
            x = par;
        } else {
            return -1;
        }
    }
    if (i != 0 && parts[0].kind != MIME_KIND_MULTIPART)
        rev[nr++] = 1; /* below a non-multipart root: the root is part 1 */
    if (nr > max)
        return -1;
    for (size_t k = 0; k < nr; k++)
        path[k] = rev[nr - 1 - k];
    return (int)nr;
}

/* Does `name` appear in an IMAP header-list content (atoms and quoted strings)? */
static int in_header_list(mr_slice name, mr_slice list)
{
    const char *p = list.p;
    size_t i = 0, n = list.n;
    while (i < n) {
        if (is_fws((unsigned char)p[i])) {
            i++;
            continue;
        }
        size_t k = 0;
        int match = 1;
        if (p[i] == '"') {
            for (i++; i < n && p[i] != '"'; i++, k++) {
                if (p[i] == '\\' && i + 1 < n)
                    i++;
                if (k >= name.n || lower((unsigned char)p[i]) != lower((unsigned char)name.p[k]))
                    match = 0;
            }
            i++;
        } else {
            for (; i < n && !is_fws((unsigned char)p[i]); i++, k++)
                if (k >= name.n || lower((unsigned char)p[i]) != lower((unsigned char)name.p[k]))
                    match = 0;
        }
        if (match && k == name.n)
            return 1;
    }
    return 0;
}

size_t mime_header_filter(mr_slice header, mr_slice fields, int exclude, char *out, size_t cap)
{
    outbuf o = {out, cap, 0};
    size_t pos = 0;
    mime_field f;
    int r;
    while ((r = mime_field_next(header.p + pos, header.n - pos, MR_LENIENT, NULL, &f, NULL)) > 0) {
        if (in_header_list(f.name, fields) != exclude)
            out_bytes(&o, f.raw.p, f.raw.n);
        pos += (size_t)r;
    }
    out_bytes(&o, "\r\n", 2);
    return o.len;
}

/* ------------------------------------------------------------------------------------------ */
/* Tree invariants */

static const char *slice_end(mr_slice s)
{
    return s.p + s.n;
}

static int inside(mr_slice in, const char *from, const char *to)
{
    return in.p >= from && in.p <= to && in.n <= (size_t)(to - in.p);
}

/* A part's own ranges and its place in the parent. */
static const char *check_part_ranges(const char *msg, size_t len, const mime_part *parts,
                                     uint32_t i)
{
    const mime_part *pt = &parts[i];
    if (!inside(pt->header, msg, msg + len) || !inside(pt->body, msg, msg + len))
        return "range outside the message";
    if (slice_end(pt->header) != pt->body.p)
        return "header not followed by body";
    if (pt->body_lines != count_lf(pt->body.p, pt->body.n))
        return "body_lines wrong";
    if (i == 0)
        return pt->parent != MIME_NONE || pt->depth != 0 || pt->header.p != msg
                       || slice_end(pt->body) != msg + len
                   ? "root does not span the message"
                   : NULL;
    if (pt->parent >= i)
        return "bad parent link";
    const mime_part *par = &parts[pt->parent];
    if (pt->depth != par->depth + 1)
        return "bad depth";
    if (!inside(slice_at(pt->header.p, 0, (size_t)(slice_end(pt->body) - pt->header.p)),
                par->body.p, slice_end(par->body)))
        return "part outside its parent's body";
    return NULL;
}

/* A container's children: order, numbering, and how they fill its body. */
static const char *check_children(const mime_part *parts, size_t n, uint32_t i)
{
    const mime_part *pt = &parts[i];
    uint32_t count = 0, prev = i;
    const char *at = pt->kind == MIME_KIND_MULTIPART ? slice_end(pt->preamble) : pt->body.p;
    for (uint32_t c = pt->first_child; c != MIME_NONE; c = parts[c].next_sibling) {
        if (c >= n || c <= prev || parts[c].parent != i || parts[c].number != ++count)
            return "bad child links";
        if (parts[c].header.p < at)
            return "children overlap";
        at = slice_end(parts[c].body);
        prev = c;
    }
    if (count != pt->nchildren)
        return "nchildren wrong";
    switch (pt->kind) {
    case MIME_KIND_LEAF:
        return count ? "leaf with children" : NULL;
    case MIME_KIND_MESSAGE: {
        if (count != 1)
            return "message/rfc822 without exactly one child";
        const mime_part *e = &parts[pt->first_child];
        return e->header.p != pt->body.p || slice_end(e->body) != slice_end(pt->body)
                   ? "encapsulated message does not fill its part"
                   : NULL;
    }
    case MIME_KIND_MULTIPART:
        if (pt->preamble.p != pt->body.p || slice_end(pt->epilogue) != slice_end(pt->body)
            || pt->epilogue.p < at)
            return "preamble/epilogue misplaced";
        return NULL;
    }
    return "bad kind";
}

static const char *check_section(const mime_part *parts, size_t n, uint32_t i)
{
    mime_section s;
    memset(&s, 0, sizeof s);
    int len = mime_part_path(parts, n, i, s.path, MIME_SECTION_MAX_PATH);
    if (len < 0)
        return "no section path";
    s.npath = (size_t)len;
    int encapsulated = i != 0 && parts[parts[i].parent].kind == MIME_KIND_MESSAGE;
    s.text = encapsulated ? MIME_SECT_HEADER : MIME_SECT_NONE;
    mime_range r;
    if (mime_section_find(parts, n, &s, &r, NULL) != 0 || r.part != i)
        return "section lookup does not find the part";
    if (encapsulated ? r.bytes.p != parts[i].header.p : (i != 0 && r.bytes.p != parts[i].body.p))
        return "section lookup gives the wrong bytes";
    return NULL;
}

const char *mime_tree_check(const char *msg, size_t len, const mime_part *parts, size_t n)
{
    if (n == 0)
        return "no parts";
    for (uint32_t i = 0; i < n; i++) {
        const char *why = check_part_ranges(msg, len, parts, i);
        if (!why)
            why = check_children(parts, n, i);
        if (!why)
            why = check_section(parts, n, i);
        if (why)
            return why;
    }
    return NULL;
}
