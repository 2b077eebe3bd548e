/* imap_parse.c -- see imap_parse.h.
 *
 * One recursive-descent parser for both directions. Invariant that keeps the scanning loops
 * free of length checks: the item ends in LF, LF belongs to no character class, and the
 * parser never moves past an LF except at the end of the item or over the CRLF of a literal
 * marker (after which at least the payload and one LF remain). So `s->p[s->pos]` is always
 * inside the item while parsing, and a class run always stops before its end.
 *
 * Every function returns >= 0 (success; a token index where it makes one) or < 0: MR_ERROR
 * with s->err set, or STOP when a prefix parse reached its pending literal.
 */
#include "proto/imap_parse.h"

#include <string.h>

#include "proto/base64.h"
#include "proto/imap_chars.h"
#include "proto/sasl.h"

#define STOP (-100)

enum { DEPTH_HARD_MAX = 512, TOKENS_HARD_MAX = 1u << 26 };

typedef struct ps {
    const char *p;
    size_t len;
    size_t pos;
    imap_token *tok;
    unsigned cap, n;
    unsigned depth, depth_max;
    int lenient;
    int prefix;
    imap_side side;
    uint64_t inline_max, literal_max, nonsync_max;
    uint16_t m_atom, m_astr, m_list, m_tag, m_q, m_text, m_gen;
    mr_error *err;
} ps;

/* ---------------------------------------------------------------------------------------- */
/* Basics */

static int fail(ps *s, mr_errcode code, const char *rule, size_t off)
{
    return mr_fail(s->err, code, rule, off);
}

static unsigned char cur(const ps *s)
{
    return (unsigned char)s->p[s->pos];
}

static unsigned char at(const ps *s, size_t i)
{
    return (unsigned char)s->p[i];
}

/* The byte at pos is not what `rule` wants: say why as precisely as we can. */
static int unexpected(ps *s, const char *rule)
{
    unsigned char c = cur(s);
    if (c == 0)
        return fail(s, MR_E_NUL, rule, s->pos);
    if (c >= 0x80)
        return fail(s, MR_E_8BIT, rule, s->pos);
    if (c == '\r' && at(s, s->pos + 1) != '\n')
        return fail(s, MR_E_BARE_CR, rule, s->pos);
    return fail(s, MR_E_SYNTAX, rule, s->pos);
}

static inline size_t run(ps *s, uint16_t mask)
{
    const char *p = s->p;
    size_t a = s->pos, i = a;
    while (imap_cls[(unsigned char)p[i]] & mask)
        i++;
    s->pos = i;
    return i - a;
}

/* Case-insensitive compare of p[0..n) with an upper-case keyword. */
static inline int ieq(const char *p, size_t n, const char *kw)
{
    size_t i = 0;
    for (; i < n; i++) {
        unsigned char a = (unsigned char)p[i], b = (unsigned char)kw[i];
        if (b == 0)
            return 0;
        if (a != b && !((a ^ 0x20) == b && b >= 'A' && b <= 'Z'))
            return 0;
    }
    return kw[i] == 0;
}

static int sieq(mr_slice sl, const char *kw)
{
    return ieq(sl.p, sl.n, kw);
}

static inline int add(ps *s, int type, size_t off, size_t len)
{
    if (s->n >= s->cap)
        return fail(s, MR_E_LIMIT_COUNT, "tokens", off);
    imap_token *t = &s->tok[s->n];
    t->off = (uint32_t)off;
    t->len = (uint32_t)len;
    t->next = s->n + 1;
    t->type = (uint8_t)type;
    t->flags = 0;
    t->depth = (uint16_t)s->depth;
    return (int)s->n++;
}

/* A token with children: checks the depth limit. next stays 0 until close(). */
static int open_tok(ps *s, int type, size_t off, const char *rule)
{
    if (s->depth + 1 > s->depth_max)
        return fail(s, MR_E_LIMIT_DEPTH, rule, off);
    int i = add(s, type, off, 0);
    if (i < 0)
        return i;
    s->tok[i].next = 0;
    s->depth++;
    return i;
}

static void close_tok(ps *s, int i)
{
    s->depth--;
    s->tok[i].next = s->n;
}

static mr_slice tslice(const ps *s, int i)
{
    mr_slice sl = {s->p + s->tok[i].off, s->tok[i].len};
    return sl;
}

/* The "(" at s->pos opens a list token: returns its index, with s->pos past the "(". */
static int list_open(ps *s, const char *rule)
{
    size_t open = s->pos;
    if (cur(s) != '(')
        return unexpected(s, rule);
    int i = open_tok(s, IMAP_T_LIST, open, rule);
    if (i >= 0)
        s->pos++;
    return i;
}

/* The ")" at s->pos closes list token i, which spans "(" to ")". */
static int list_close(ps *s, int i)
{
    s->tok[i].len = (uint32_t)(s->pos + 1 - s->tok[i].off);
    s->pos++;
    close_tok(s, i);
    return i;
}

/* SP, or in lenient mode a run of them. */
static inline int sp(ps *s, const char *rule)
{
    size_t i = s->pos;
    if (s->p[i] != ' ')
        return unexpected(s, rule);
    i++;
    if (s->lenient)
        while (s->p[i] == ' ')
            i++;
    s->pos = i;
    return 0;
}

static void lenient_spaces(ps *s)
{
    if (s->lenient)
        while (cur(s) == ' ')
            s->pos++;
}

/* The end of list token i: ")" (after spaces in lenient mode). */
static int list_end(ps *s, int i, const char *rule)
{
    lenient_spaces(s);
    if (cur(s) != ')')
        return unexpected(s, rule);
    return list_close(s, i);
}

/* At the line end (CRLF, or LF in lenient mode)? */
static int at_eol(const ps *s)
{
    unsigned char c = cur(s);
    return (c == '\r' && at(s, s->pos + 1) == '\n') || (c == '\n' && s->lenient);
}

/* Is there another optional element: SP not followed (in lenient mode) by ")" or the end? */
static int more(const ps *s)
{
    if (cur(s) != ' ')
        return 0;
    if (!s->lenient)
        return 1;
    size_t i = s->pos;
    while (at(s, i) == ' ')
        i++;
    unsigned char c = at(s, i);
    return c != ')' && c != '\r' && c != '\n' && c != ']';
}

/* The item must end here: CRLF (LF in lenient mode) as its last bytes. */
static int end_of_item(ps *s, const char *rule)
{
    lenient_spaces(s);
    size_t i = s->pos;
    if (at(s, i) == '\r' && at(s, i + 1) == '\n')
        i += 2;
    else if (at(s, i) == '\n' && s->lenient)
        i += 1;
    else if (at(s, i) == '\n')
        return fail(s, MR_E_BARE_LF, "CRLF", i);
    else if (cur(s) == 0 || cur(s) == '\r' || cur(s) >= 0x80)
        return unexpected(s, rule);
    else
        return fail(s, MR_E_TRAILING, rule, i);
    if (i != s->len)
        return fail(s, MR_E_TRAILING, rule, i);
    s->pos = i;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (2..4), or 0. */
static size_t utf8_seq(const char *p, size_t avail)
{
    unsigned char c = (unsigned char)p[0];
    size_t need = c >= 0xF5 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (need == 0 || need > avail || mr_utf8_check(p, need) != need)
        return 0;
    return need;
}

/* ---------------------------------------------------------------------------------------- */
/* Lexical rules */

static int number_tok(ps *s, const char *rule, uint64_t max, int nz, uint64_t *out)
{
    size_t a = s->pos;
    if (run(s, IMAP_C_DIGIT) == 0)
        return unexpected(s, rule);
    uint64_t v;
    mr_slice d = {s->p + a, s->pos - a};
    if (mr_parse_u64(d, max, &v) != 0)
        return fail(s, MR_E_NUMBER, rule, a);
    if (nz && !s->lenient && (v == 0 || s->p[a] == '0'))
        return fail(s, MR_E_NUMBER, rule, a); /* nz-number = digit-nz *DIGIT */
    if (out)
        *out = v;
    return add(s, IMAP_T_NUMBER, a, s->pos - a);
}

static int number32(ps *s, const char *rule, int nz)
{
    return number_tok(s, rule, UINT32_MAX, nz, NULL);
}

/* Does the 8-byte word hold a byte a quoted string cannot take raw: a CTL below SP (NUL, CR,
 * LF; other CTLs are allowed but rare, so the byte loop sorts them out), DQUOTE, backslash,
 * or (hi = the high bits) an 8-bit byte? Borrows can only flag bytes above a real hit. */
static uint64_t quoted_special(uint64_t v, uint64_t hi)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t lt = (v - ones * 0x20) & ~v;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    q = (q - ones) & ~q;
    b = (b - ones) & ~b;
    return ((lt | q | b) & highs) | (v & hi);
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; RFC 9051 adds UTF8-2/3/4 to QUOTED-CHAR. The hot loop of
 * a FETCH stream: eight bytes per step while none is special, then byte by byte. */
static int quoted(ps *s, const char *rule)
{
    const char *p = s->p;
    const size_t start = s->pos + 1, len = s->len;
    const uint64_t hi = s->lenient ? 0 : 0x8080808080808080ull;
    const uint16_t m = s->m_q;
    size_t i = start;
    int flags = 0;
    for (;;) {
        while (i + 8 <= len) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            uint64_t hit = quoted_special(v, hi);
            if (hit) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                i += (size_t)__builtin_ctzll(hit) >> 3; /* the lowest flag is a real hit */
#endif
                break;
            }
            i += 8;
        }
        while (imap_cls[(unsigned char)p[i]] & m)
            i++;
        unsigned char c = (unsigned char)p[i];
        if (c == '"')
            break;
        s->pos = i;
        if (c == '\\') {
            unsigned char d = (unsigned char)p[i + 1];
            if (d != '"' && d != '\\' && (!s->lenient || d == '\r' || d == '\n' || d == 0))
                return fail(s, MR_E_SYNTAX, "quoted-specials", i);
            flags = IMAP_TF_ESCAPED;
            i += 2;
            continue;
        }
        if (c >= 0x80) { /* strict: only valid UTF-8 */
            size_t k = utf8_seq(p + i, len - i);
            if (!k)
                return fail(s, MR_E_UTF8, rule, i);
            i += k;
            continue;
        }
        if (c == 0)
            return fail(s, MR_E_NUL, rule, i);
        return fail(s, MR_E_SYNTAX, "quoted", i); /* CR or LF: unterminated */
    }
    s->pos = i;
    int t = add(s, IMAP_T_QUOTED, start, i - start);
    if (t < 0)
        return t;
    s->tok[t].flags = (uint8_t)flags;
    s->pos = i + 1;
    return t;
}

/* literal = "{" number64 ["+"] "}" CRLF *CHAR8; literal8 = "~{" number64 "}" CRLF *OCTET. */
static int literal(ps *s, const char *rule, int binary_ok)
{
    int flags = 0;
    if (cur(s) == '~') {
        if (!binary_ok)
            return fail(s, MR_E_SYNTAX, rule, s->pos);
        flags |= IMAP_TF_BINARY;
        s->pos++;
        if (cur(s) != '{')
            return unexpected(s, "literal8");
    }
    size_t brace = s->pos++;
    size_t d0 = s->pos;
    if (run(s, IMAP_C_DIGIT) == 0)
        return unexpected(s, "literal");
    mr_slice digits = {s->p + d0, s->pos - d0};
    if (cur(s) == '+') {
        if (s->side == IMAP_SIDE_RESPONSE && !s->lenient)
            return fail(s, MR_E_SYNTAX, "literal", s->pos);
        flags |= IMAP_TF_NONSYNC;
        s->pos++;
    }
    if (cur(s) != '}')
        return unexpected(s, "literal");
    s->pos++;
    if (cur(s) == '\r' && at(s, s->pos + 1) == '\n')
        s->pos += 2;
    else if (cur(s) == '\n' && s->lenient)
        s->pos++;
    else if (cur(s) == '\n')
        return fail(s, MR_E_BARE_LF, "CRLF", s->pos);
    else
        return unexpected(s, "literal");
    uint64_t max = (flags & IMAP_TF_NONSYNC) && s->side == IMAP_SIDE_COMMAND ? s->nonsync_max
                                                                             : s->literal_max;
    uint64_t size;
    if (mr_parse_u64(digits, max, &size) != 0)
        return fail(s, MR_E_LIMIT_LITERAL, "literal", brace);
    if (size > s->inline_max || (s->prefix && s->pos == s->len)) {
        int i = add(s, IMAP_T_LITERAL, brace, 0);
        if (i < 0)
            return i;
        s->tok[i].len = (uint32_t)size;
        if (size > s->inline_max)
            flags |= IMAP_TF_STREAMED;
        if (s->pos == s->len) {
            if (!s->prefix)
                return fail(s, MR_E_SYNTAX, "literal", s->pos);
            s->tok[i].flags = (uint8_t)(flags | IMAP_TF_PENDING);
            return STOP;
        }
        s->tok[i].flags = (uint8_t)flags;
        return i;
    }
    if (size >= s->len - s->pos) /* the payload and at least the final LF must be there */
        return fail(s, MR_E_SYNTAX, "literal", s->pos);
    if (!(flags & IMAP_TF_BINARY) && !s->lenient && size) {
        const char *nul = memchr(s->p + s->pos, 0, (size_t)size);
        if (nul) /* CHAR8 excludes NUL; only literal8 may carry it */
            return fail(s, MR_E_NUL, "literal", (size_t)(nul - s->p));
    }
    int i = add(s, IMAP_T_LITERAL, s->pos, (size_t)size);
    if (i < 0)
        return i;
    s->tok[i].flags = (uint8_t)flags;
    s->pos += (size_t)size;
    return i;
}

/* "NIL" followed by something that cannot continue an atom. */
static inline int at_nil(const ps *s)
{
    const char *p = s->p + s->pos;
    return (p[0] | 0x20) == 'n' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'l' &&
           !(imap_cls[(unsigned char)p[3]] & IMAP_C_ATOM);
}

static int nil_tok(ps *s)
{
    int i = add(s, IMAP_T_NIL, s->pos, 3);
    s->pos += 3;
    return i;
}

/* string = quoted / literal */
static int string(ps *s, const char *rule)
{
    unsigned char c = cur(s);
    if (c == '"')
        return quoted(s, rule);
    if (c == '{')
        return literal(s, rule, 0);
    return unexpected(s, rule);
}

/* nstring = string / nil */
static int nstring(ps *s, const char *rule)
{
    if (at_nil(s))
        return nil_tok(s);
    return string(s, rule);
}

/* astring = 1*ASTRING-CHAR / string */
static int astring(ps *s, const char *rule)
{
    unsigned char c = cur(s);
    if (c == '"' || c == '{')
        return string(s, rule);
    size_t a = s->pos;
    if (run(s, s->m_astr) == 0)
        return unexpected(s, rule);
    return add(s, IMAP_T_ATOM, a, s->pos - a);
}

static int atom(ps *s, const char *rule)
{
    size_t a = s->pos;
    if (run(s, s->m_atom) == 0)
        return unexpected(s, rule);
    return add(s, IMAP_T_ATOM, a, s->pos - a);
}

/* flag = "\" atom / atom (flag-keyword, flag-extension); flag-perm adds "\*". */
static int flag(ps *s, int perm, const char *rule)
{
    size_t a = s->pos;
    if (cur(s) == '\\') {
        s->pos++;
        if (perm && cur(s) == '*') {
            s->pos++;
            return add(s, IMAP_T_ATOM, a, 2);
        }
    }
    if (run(s, s->m_atom) == 0)
        return unexpected(s, rule);
    return add(s, IMAP_T_ATOM, a, s->pos - a);
}

/* Generic values, for unknown commands and responses and extension data. */
static int gvalue(ps *s, const char *rule);

/* A list of generic values: list_of(gvalue), defined below. */
static int glist(ps *s, const char *rule);

static int gatom(ps *s, const char *rule)
{
    size_t a = s->pos;
    int digits = 1;
    for (;;) {
        size_t b = s->pos;
        while (imap_cls[cur(s)] & s->m_gen)
            s->pos++;
        for (size_t k = b; k < s->pos && digits; k++)
            digits = (imap_cls[at(s, k)] & IMAP_C_DIGIT) != 0;
        if (cur(s) != '[')
            break;
        /* BODY[HEADER.FIELDS (A B)]: a bracketed run may hold spaces and parentheses */
        digits = 0;
        s->pos++;
        for (unsigned char c; (c = cur(s)) != ']'; s->pos++)
            if (c == '\r' || c == '\n' || c == 0 || c == '[' || (c >= 0x80 && !s->lenient))
                return unexpected(s, rule);
        s->pos++;
    }
    size_t n = s->pos - a;
    if (n == 0)
        return unexpected(s, rule);
    if (n == 3 && ieq(s->p + a, 3, "NIL"))
        return add(s, IMAP_T_NIL, a, 3);
    return add(s, digits ? IMAP_T_NUMBER : IMAP_T_ATOM, a, n);
}

static int gvalue(ps *s, const char *rule)
{
    unsigned char c = cur(s);
    if (c == '(')
        return glist(s, rule);
    if (c == '"')
        return quoted(s, rule);
    if (c == '{' || (c == '~' && at(s, s->pos + 1) == '{'))
        return literal(s, rule, 1);
    return gatom(s, rule);
}

/* *(SP value) to the end of the item. */
static int gtail(ps *s, const char *rule)
{
    while (cur(s) == ' ') {
        int r = sp(s, rule);
        if (r < 0)
            return r;
        if (at_eol(s) && s->lenient)
            break;
        if ((r = gvalue(s, rule)) < 0)
            return r;
    }
    return 0;
}

typedef int (*elem_fn)(ps *s, const char *rule);

/* "(" [elem *(SP elem)] ")"; nonempty: at least one element. */
static int list_of(ps *s, elem_fn elem, const char *rule, int nonempty)
{
    int i = list_open(s, rule);
    if (i < 0)
        return i;
    lenient_spaces(s);
    if (cur(s) == ')') {
        if (nonempty && !s->lenient)
            return fail(s, MR_E_SYNTAX, rule, s->pos);
    } else {
        for (;;) {
            int r = elem(s, rule);
            if (r < 0)
                return r;
            if (cur(s) == ')')
                break;
            if ((r = sp(s, rule)) < 0)
                return r;
            if (s->lenient && cur(s) == ')')
                break;
        }
    }
    return list_close(s, i);
}

static int glist(ps *s, const char *rule)
{
    return list_of(s, gvalue, rule, 0);
}

/* "(" [pair *(SP pair)] ")" for lists of key-value pairs, where a pair is more than one token
 * (so the SP before one is known by a token having been made since the "("). */
static int pair_list(ps *s, elem_fn pair, const char *rule, int nonempty)
{
    int i = list_open(s, rule);
    if (i < 0)
        return i;
    lenient_spaces(s);
    if (nonempty && cur(s) == ')' && !s->lenient)
        return fail(s, MR_E_SYNTAX, rule, s->pos);
    while (cur(s) != ')') {
        int r;
        if (s->n > (unsigned)i + 1 && (r = sp(s, rule)) < 0)
            return r;
        if (s->lenient && cur(s) == ')')
            break;
        if ((r = pair(s, rule)) < 0)
            return r;
    }
    return list_close(s, i);
}

static int flag_elem(ps *s, const char *rule)
{
    return flag(s, 0, rule);
}

static int flag_perm_elem(ps *s, const char *rule)
{
    return flag(s, 1, rule);
}

static int atom_elem(ps *s, const char *rule)
{
    return atom(s, rule);
}

static int astring_elem(ps *s, const char *rule)
{
    return astring(s, rule);
}

static int string_elem(ps *s, const char *rule)
{
    return string(s, rule);
}

/* seq-number = nz-number / "*"; sequence-set = (seq-number / seq-range) *("," ...) / "$". */
enum { SEQ_NO_STAR = 1, SEQ_DOLLAR = 2 };

static int seq_number(ps *s, int flags, const char *rule)
{
    if (cur(s) == '*') {
        if (flags & SEQ_NO_STAR)
            return fail(s, MR_E_SYNTAX, rule, s->pos);
        s->pos++;
        return 0;
    }
    size_t a = s->pos;
    if (run(s, IMAP_C_DIGIT) == 0)
        return unexpected(s, rule);
    uint64_t v;
    mr_slice d = {s->p + a, s->pos - a};
    if (mr_parse_u64(d, UINT32_MAX, &v) != 0 || v == 0 || s->p[a] == '0')
        return fail(s, MR_E_NUMBER, rule, a);
    return 0;
}

static int seqset(ps *s, int flags, const char *rule)
{
    size_t a = s->pos;
    if (cur(s) == '$' && (flags & SEQ_DOLLAR)) {
        s->pos++;
    } else {
        for (;;) {
            int r = seq_number(s, flags, rule);
            if (r < 0)
                return r;
            if (cur(s) == ':') {
                s->pos++;
                if ((r = seq_number(s, flags, rule)) < 0)
                    return r;
            }
            if (cur(s) != ',')
                break;
            s->pos++;
        }
    }
    return add(s, IMAP_T_SEQSET, a, s->pos - a);
}

/* ---------------------------------------------------------------------------------------- */
/* Dates */

static const char months[12][4] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};

static int digits_at(const char *p, size_t n, int *v)
{
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        x = x * 10 + (p[i] - '0');
    }
    *v = x;
    return 0;
}

static int month_at(const char *p)
{
    for (int m = 0; m < 12; m++)
        if (ieq(p, 3, months[m]))
            return m + 1;
    return 0;
}

/* date-day "-" date-month "-" date-year starting at p[0..n); returns bytes used or -1.
 * fixed: date-day-fixed (SP DIGIT / 2DIGIT); else date-day = 1*2DIGIT. */
static int date_part(const char *p, size_t n, int fixed, int lenient, imap_datetime *dt)
{
    size_t i = 0;
    int day = 0, year;
    if (fixed && n > 0 && p[0] == ' ') {
        if (n < 2 || digits_at(p + 1, 1, &day))
            return -1;
        i = 2;
    } else {
        while (i < n && i < 2 && p[i] >= '0' && p[i] <= '9')
            day = day * 10 + (p[i++] - '0');
        if (i == 0 || (fixed && i == 1 && !lenient))
            return -1;
    }
    if (n - i < 9 || p[i] != '-' || p[i + 4] != '-')
        return -1;
    int mon = month_at(p + i + 1);
    if (!mon || digits_at(p + i + 5, 4, &year))
        return -1;
    if (day < 1 || day > 31)
        return -1;
    dt->day = day;
    dt->month = mon;
    dt->year = year;
    return (int)(i + 9);
}

int imap_date_parse(mr_slice s, imap_datetime *dt)
{
    memset(dt, 0, sizeof *dt);
    int k = date_part(s.p, s.n, 0, 0, dt);
    return k >= 0 && (size_t)k == s.n ? 0 : -1;
}

int imap_datetime_parse(mr_slice s, mr_mode mode, imap_datetime *dt)
{
    memset(dt, 0, sizeof *dt);
    int k = date_part(s.p, s.n, 1, mode == MR_LENIENT, dt);
    if (k < 0)
        return -1;
    const char *p = s.p + k;
    size_t n = s.n - (size_t)k;
    int hh, mm, ss, zz;
    /* SP time SP zone: " hh:mm:ss +zzzz" */
    if (n != 15 || p[0] != ' ' || p[3] != ':' || p[6] != ':' || p[9] != ' ' ||
        (p[10] != '+' && p[10] != '-'))
        return -1;
    if (digits_at(p + 1, 2, &hh) || digits_at(p + 4, 2, &mm) || digits_at(p + 7, 2, &ss) ||
        digits_at(p + 11, 4, &zz))
        return -1;
    if (hh > 23 || mm > 59 || ss > 60 || zz % 100 > 59)
        return -1;
    dt->hour = hh;
    dt->min = mm;
    dt->sec = ss;
    dt->zone = (zz / 100 * 60 + zz % 100) * (p[10] == '-' ? -1 : 1);
    dt->has_time = 1;
    return 0;
}

/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE */
static int date_time(ps *s, const char *rule)
{
    size_t a = s->pos;
    if (cur(s) != '"')
        return unexpected(s, rule);
    int i = quoted(s, rule);
    if (i < 0)
        return i;
    imap_datetime dt;
    if (imap_datetime_parse(tslice(s, i), s->lenient ? MR_LENIENT : MR_STRICT, &dt) != 0)
        return fail(s, MR_E_SYNTAX, rule, a);
    return i;
}

/* date = date-text / DQUOTE date-text DQUOTE (search keys) */
static int date_arg(ps *s, const char *rule)
{
    size_t a = s->pos;
    int i = cur(s) == '"' ? quoted(s, rule) : atom(s, rule);
    if (i < 0)
        return i;
    imap_datetime dt;
    if (imap_date_parse(tslice(s, i), &dt) != 0)
        return fail(s, MR_E_SYNTAX, rule, a);
    return i;
}

/* ---------------------------------------------------------------------------------------- */
/* Fetch attributes and sections (both directions) */

imap_att imap_att_lookup(const char *p, size_t n)
{
    if (n < 3) /* dispatch on the first letter, then compare whole names */
        return IMAP_ATT_OTHER;
    switch (p[0] & 0xDF) {
    case 'A':
        return ieq(p, n, "ALL") ? IMAP_ATT_ALL : IMAP_ATT_OTHER;
    case 'B':
        if (n == 4)
            return ieq(p, n, "BODY") ? IMAP_ATT_BODY : IMAP_ATT_OTHER;
        if (n == 9)
            return ieq(p, n, "BODY.PEEK") ? IMAP_ATT_BODY_PEEK : IMAP_ATT_OTHER;
        if (n == 13)
            return ieq(p, n, "BODYSTRUCTURE") ? IMAP_ATT_BODYSTRUCTURE : IMAP_ATT_OTHER;
        if (n == 6)
            return ieq(p, n, "BINARY") ? IMAP_ATT_BINARY : IMAP_ATT_OTHER;
        if (n == 11 && ieq(p, n, "BINARY.PEEK"))
            return IMAP_ATT_BINARY_PEEK;
        if (n == 11 && ieq(p, n, "BINARY.SIZE"))
            return IMAP_ATT_BINARY_SIZE;
        return IMAP_ATT_OTHER;
    case 'E':
        return ieq(p, n, "ENVELOPE") ? IMAP_ATT_ENVELOPE : IMAP_ATT_OTHER;
    case 'F':
        if (n == 5)
            return ieq(p, n, "FLAGS") ? IMAP_ATT_FLAGS : IMAP_ATT_OTHER;
        if (ieq(p, n, "FAST"))
            return IMAP_ATT_FAST;
        return ieq(p, n, "FULL") ? IMAP_ATT_FULL : IMAP_ATT_OTHER;
    case 'I':
        return ieq(p, n, "INTERNALDATE") ? IMAP_ATT_INTERNALDATE : IMAP_ATT_OTHER;
    case 'M':
        return ieq(p, n, "MODSEQ") ? IMAP_ATT_MODSEQ : IMAP_ATT_OTHER;
    case 'R':
        if (n == 6)
            return ieq(p, n, "RFC822") ? IMAP_ATT_RFC822 : IMAP_ATT_OTHER;
        if (n == 11 && ieq(p, n, "RFC822.SIZE"))
            return IMAP_ATT_RFC822_SIZE;
        if (n == 11 && ieq(p, n, "RFC822.TEXT"))
            return IMAP_ATT_RFC822_TEXT;
        return ieq(p, n, "RFC822.HEADER") ? IMAP_ATT_RFC822_HEADER : IMAP_ATT_OTHER;
    case 'U':
        return ieq(p, n, "UID") ? IMAP_ATT_UID : IMAP_ATT_OTHER;
    default:
        return IMAP_ATT_OTHER;
    }
}

/* section-spec = section-msgtext / (section-part ["." section-text]); returns 1 when it ends
 * in HEADER.FIELDS[.NOT] (a header-list follows), 0 otherwise, -1 when invalid. */
static int section_spec(const char *p, size_t n, int binary)
{
    size_t i = 0;
    int parts = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        if (p[i] == '0')
            return -1; /* nz-number */
        size_t a = i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i - a > 10)
            return -1;
        parts++;
        if (i == n)
            return 0;
        if (p[i] != '.')
            return -1;
        i++;
        if (i == n)
            return -1;
    }
    if (binary)
        return -1; /* section-binary = "[" [section-part] "]" */
    const char *t = p + i;
    size_t m = n - i;
    if (ieq(t, m, "HEADER") || ieq(t, m, "TEXT") || (parts && ieq(t, m, "MIME")))
        return 0;
    if (ieq(t, m, "HEADER.FIELDS") || ieq(t, m, "HEADER.FIELDS.NOT"))
        return 1;
    return -1;
}

/* "[" section-spec "]" after BODY / BINARY (RFC 9051 section, section-binary). */
static int section(ps *s, int binary)
{
    size_t open = s->pos++;
    int i = open_tok(s, IMAP_T_SECTION, open + 1, "section");
    if (i < 0)
        return i;
    if (cur(s) != ']') {
        size_t a = s->pos;
        while (imap_cls[cur(s)] & IMAP_C_FNAME)
            s->pos++;
        int kind = section_spec(s->p + a, s->pos - a, binary);
        if (kind < 0)
            return fail(s, MR_E_SYNTAX, binary ? "section-binary" : "section-spec", a);
        int r = add(s, IMAP_T_ATOM, a, s->pos - a);
        if (r < 0)
            return r;
        if (kind == 1) {
            if ((r = sp(s, "header-list")) < 0)
                return r;
            if ((r = list_of(s, astring_elem, "header-list", 1)) < 0)
                return r;
        }
    }
    if (cur(s) != ']')
        return unexpected(s, "section");
    s->tok[i].len = (uint32_t)(s->pos - (open + 1));
    s->pos++;
    close_tok(s, i);
    return i;
}

/* partial = "<" number "." nz-number ">" (commands); "<" number ">" (responses). */
static int partial(ps *s, int command)
{
    size_t a = ++s->pos;
    uint64_t v;
    mr_slice d;
    size_t b = s->pos;
    if (run(s, IMAP_C_DIGIT) == 0)
        return unexpected(s, "partial");
    d.p = s->p + b;
    d.n = s->pos - b;
    if (mr_parse_u64(d, UINT32_MAX, &v) != 0)
        return fail(s, MR_E_NUMBER, "partial", b);
    if (cur(s) == '.' && (command || s->lenient)) {
        s->pos++;
        b = s->pos;
        if (run(s, IMAP_C_DIGIT) == 0)
            return unexpected(s, "partial");
        d.p = s->p + b;
        d.n = s->pos - b;
        if (mr_parse_u64(d, UINT32_MAX, &v) != 0 || v == 0)
            return fail(s, MR_E_NUMBER, "partial", b);
    } else if (command) {
        return unexpected(s, "partial");
    }
    if (cur(s) != '>')
        return unexpected(s, "partial");
    int i = add(s, IMAP_T_PARTIAL, a, s->pos - a);
    s->pos++;
    return i;
}

static int att_has_section(imap_att att)
{
    return att == IMAP_ATT_BODY || att == IMAP_ATT_BODY_PEEK || att == IMAP_ATT_BINARY ||
           att == IMAP_ATT_BINARY_PEEK || att == IMAP_ATT_BINARY_SIZE;
}

static int att_is_binary(imap_att att)
{
    return att == IMAP_ATT_BINARY || att == IMAP_ATT_BINARY_PEEK || att == IMAP_ATT_BINARY_SIZE;
}

/* A fetch attribute name with its SECTION / PARTIAL children; *att_r: which one. */
static int att_name(ps *s, int command, imap_att *att_r, int *has_section)
{
    size_t a = s->pos;
    while (imap_cls[cur(s)] & IMAP_C_FNAME)
        s->pos++;
    if (s->pos == a)
        return unexpected(s, command ? "fetch-att" : "msg-att");
    imap_att att = imap_att_lookup(s->p + a, s->pos - a);
    *att_r = att;
    *has_section = 0;
    int i = open_tok(s, IMAP_T_ATOM, a, "fetch-att");
    if (i < 0)
        return i;
    s->tok[i].len = (uint32_t)(s->pos - a);
    int r;
    if (cur(s) == '[') {
        if (!att_has_section(att))
            return fail(s, MR_E_SYNTAX, command ? "fetch-att" : "msg-att-static", s->pos);
        *has_section = 1;
        if ((r = section(s, att_is_binary(att))) < 0)
            return r;
        if (cur(s) == '<' && att != IMAP_ATT_BINARY_SIZE && (r = partial(s, command)) < 0)
            return r;
    } else if (command && att_has_section(att) && att != IMAP_ATT_BODY) {
        return unexpected(s, "section");
    }
    close_tok(s, i);
    return i;
}

/* ---------------------------------------------------------------------------------------- */
/* ENVELOPE and BODYSTRUCTURE (RFC 9051 section 9: envelope, body) */

static int address(ps *s)
{
    static const char *const rules[4] = {"addr-name", "addr-adl", "addr-mailbox", "addr-host"};
    int i = list_open(s, "address");
    if (i < 0)
        return i;
    for (int k = 0; k < 4; k++) {
        int r;
        if (k && (r = sp(s, "address")) < 0)
            return r;
        if ((r = nstring(s, rules[k])) < 0)
            return r;
    }
    return list_end(s, i, "address");
}

/* env-from etc. = "(" 1*address ")" / nil */
static int addr_list(ps *s, const char *rule)
{
    if (at_nil(s))
        return nil_tok(s);
    int i = list_open(s, rule);
    if (i < 0)
        return i;
    lenient_spaces(s);
    if (cur(s) == ')' && !s->lenient)
        return fail(s, MR_E_SYNTAX, rule, s->pos);
    for (int first = 1; cur(s) != ')'; first = 0) {
        int r = address(s); /* addresses follow each other without SP */
        if (r < 0)
            return r;
        if (!first && at(s, s->tok[r].off - 1) == ')')
            s->tok[r].flags |= IMAP_TF_NOSP;
        lenient_spaces(s);
    }
    return list_close(s, i);
}

static int envelope(ps *s)
{
    static const char *const rules[10] = {
        "env-date", "env-subject", "env-from", "env-sender", "env-reply-to",
        "env-to",   "env-cc",      "env-bcc",  "env-in-reply-to", "env-message-id"};
    int i = list_open(s, "envelope");
    if (i < 0)
        return i;
    for (int k = 0; k < 10; k++) {
        int r;
        if (k && (r = sp(s, "envelope")) < 0)
            return r;
        r = (k >= 2 && k <= 7) ? addr_list(s, rules[k]) : nstring(s, rules[k]);
        if (r < 0)
            return r;
    }
    return list_end(s, i, "envelope");
}

/* string SP string (lenient: the value may be NIL) */
static int fld_param_pair(ps *s, const char *rule)
{
    int r;
    if ((r = string(s, rule)) < 0 || (r = sp(s, rule)) < 0)
        return r;
    return s->lenient ? nstring(s, rule) : string(s, rule);
}

/* body-fld-param = "(" string SP string *(SP string SP string) ")" / nil */
static int fld_param(ps *s)
{
    if (at_nil(s))
        return nil_tok(s);
    return pair_list(s, fld_param_pair, "body-fld-param", 1);
}

/* body-fld-dsp = "(" string SP body-fld-param ")" / nil */
static int fld_dsp(ps *s)
{
    static const char rule[] = "body-fld-dsp";
    if (at_nil(s))
        return nil_tok(s);
    int i = list_open(s, rule);
    if (i < 0)
        return i;
    int r;
    if ((r = string(s, rule)) < 0 || (r = sp(s, rule)) < 0 || (r = fld_param(s)) < 0)
        return r;
    return list_end(s, i, rule);
}

/* body-fld-lang = nstring / "(" string *(SP string) ")" */
static int fld_lang(ps *s)
{
    if (cur(s) == '(')
        return list_of(s, string_elem, "body-fld-lang", 1);
    return nstring(s, "body-fld-lang");
}

/* body-extension = nstring / number / number64 / "(" body-extension *(SP body-extension) ")" */
static int body_extension(ps *s, const char *rule)
{
    unsigned char c = cur(s);
    if (c == '(')
        return list_of(s, body_extension, "body-extension", 1);
    if (imap_cls[c] & IMAP_C_DIGIT)
        return number_tok(s, "body-extension", UINT64_MAX >> 1, 0, NULL);
    (void)rule;
    return nstring(s, "body-extension");
}

/* [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]] after the
 * first extension field (md5 or param). */
static int body_ext_tail(ps *s)
{
    int r;
    if (!more(s))
        return 0;
    if ((r = sp(s, "body-ext")) < 0 || (r = fld_dsp(s)) < 0)
        return r;
    if (!more(s))
        return 0;
    if ((r = sp(s, "body-ext")) < 0 || (r = fld_lang(s)) < 0)
        return r;
    if (!more(s))
        return 0;
    if ((r = sp(s, "body-ext")) < 0 || (r = nstring(s, "body-fld-loc")) < 0)
        return r;
    while (more(s))
        if ((r = sp(s, "body-ext")) < 0 || (r = body_extension(s, NULL)) < 0)
            return r;
    return 0;
}

/* body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP
 *               body-fld-octets */
static int body_fields(ps *s)
{
    int r;
    if ((r = fld_param(s)) < 0 || (r = sp(s, "body-fields")) < 0)
        return r;
    if ((r = nstring(s, "body-fld-id")) < 0 || (r = sp(s, "body-fields")) < 0)
        return r;
    if ((r = nstring(s, "body-fld-desc")) < 0 || (r = sp(s, "body-fields")) < 0)
        return r;
    r = s->lenient ? nstring(s, "body-fld-enc") : string(s, "body-fld-enc");
    if (r < 0 || (r = sp(s, "body-fields")) < 0)
        return r;
    return number_tok(s, "body-fld-octets", UINT32_MAX, 0, NULL);
}

static int body(ps *s);

static int body_1part(ps *s)
{
    int r, type, sub;
    if ((type = string(s, "media-type")) < 0 || (r = sp(s, "media-type")) < 0)
        return type < 0 ? type : r;
    if ((sub = string(s, "media-subtype")) < 0 || (r = sp(s, "body-type-1part")) < 0)
        return sub < 0 ? sub : r;
    if ((r = body_fields(s)) < 0)
        return r;
    mr_slice t = tslice(s, type), st = tslice(s, sub);
    if (sieq(t, "TEXT")) {
        if ((r = sp(s, "body-type-text")) < 0 ||
            (r = number_tok(s, "body-fld-lines", UINT64_MAX >> 1, 0, NULL)) < 0)
            return r;
    } else if (sieq(t, "MESSAGE") && (sieq(st, "RFC822") || sieq(st, "GLOBAL")) &&
               (!s->lenient || (cur(s) == ' ' && at(s, s->pos + 1) == '('))) {
        if ((r = sp(s, "body-type-msg")) < 0 || (r = envelope(s)) < 0)
            return r;
        if ((r = sp(s, "body-type-msg")) < 0 || (r = body(s)) < 0)
            return r;
        if ((r = sp(s, "body-type-msg")) < 0 ||
            (r = number_tok(s, "body-fld-lines", UINT64_MAX >> 1, 0, NULL)) < 0)
            return r;
    }
    if (!more(s))
        return 0;
    if ((r = sp(s, "body-ext-1part")) < 0 || (r = nstring(s, "body-fld-md5")) < 0)
        return r;
    return body_ext_tail(s);
}

static int body_mpart(ps *s)
{
    int r, first = 1;
    do {
        if ((r = body(s)) < 0)
            return r;
        if (!first && at(s, s->tok[r].off - 1) == ')')
            s->tok[r].flags |= IMAP_TF_NOSP; /* 1*body: no SP between parts */
        first = 0;
        if (s->lenient && cur(s) == ' ' && at(s, s->pos + 1) == '(')
            s->pos++;
    } while (cur(s) == '(');
    if ((r = sp(s, "body-type-mpart")) < 0 || (r = string(s, "media-subtype")) < 0)
        return r;
    if (!more(s))
        return 0;
    if ((r = sp(s, "body-ext-mpart")) < 0 || (r = fld_param(s)) < 0)
        return r;
    return body_ext_tail(s);
}

/* body = "(" (body-type-1part / body-type-mpart) ")" */
static int body(ps *s)
{
    int i = list_open(s, "body");
    if (i < 0)
        return i;
    int r = cur(s) == '(' ? body_mpart(s) : body_1part(s);
    if (r < 0)
        return r;
    return list_end(s, i, "body");
}

/* ---------------------------------------------------------------------------------------- */
/* Responses */

/* msg-att value for one attribute (RFC 9051 msg-att-dynamic / msg-att-static). */
static int msg_att_value(ps *s, imap_att att, int has_section)
{
    switch (att) {
    case IMAP_ATT_FLAGS:
        return list_of(s, flag_elem, "flag-fetch", 0);
    case IMAP_ATT_ENVELOPE:
        return envelope(s);
    case IMAP_ATT_INTERNALDATE:
        return s->lenient ? nstring(s, "date-time") : date_time(s, "date-time");
    case IMAP_ATT_UID:
        return number32(s, "uniqueid", 1);
    case IMAP_ATT_RFC822_SIZE:
    case IMAP_ATT_BINARY_SIZE:
        return number_tok(s, "number64", UINT64_MAX >> 1, 0, NULL);
    case IMAP_ATT_BODY:
    case IMAP_ATT_BODYSTRUCTURE:
        if (!has_section)
            return body(s);
        return nstring(s, "nstring");
    case IMAP_ATT_RFC822:
    case IMAP_ATT_RFC822_HEADER:
    case IMAP_ATT_RFC822_TEXT:
        return nstring(s, "nstring");
    case IMAP_ATT_BINARY:
        if (cur(s) == '~')
            return literal(s, "literal8", 1);
        return nstring(s, "nstring");
    case IMAP_ATT_MODSEQ:
        return list_of(s, body_extension, "permsg-modsequence", 1);
    default:
        return gvalue(s, "msg-att");
    }
}

/* msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP ...) ")" */
static int msg_att(ps *s)
{
    int i = list_open(s, "msg-att");
    if (i < 0)
        return i;
    lenient_spaces(s);
    if (cur(s) == ')' && !s->lenient)
        return fail(s, MR_E_SYNTAX, "msg-att", s->pos);
    while (cur(s) != ')') {
        imap_att att;
        int has_section, r;
        if ((r = att_name(s, 0, &att, &has_section)) < 0)
            return r;
        if ((r = sp(s, "msg-att")) < 0 || (r = msg_att_value(s, att, has_section)) < 0)
            return r;
        if (cur(s) == ')')
            break;
        if ((r = sp(s, "msg-att")) < 0)
            return r;
    }
    return list_close(s, i);
}

static const char *const code_names[IMAP_CODE__COUNT] = {
    [IMAP_CODE_ALERT] = "ALERT",
    [IMAP_CODE_ALREADYEXISTS] = "ALREADYEXISTS",
    [IMAP_CODE_APPENDUID] = "APPENDUID",
    [IMAP_CODE_AUTHENTICATIONFAILED] = "AUTHENTICATIONFAILED",
    [IMAP_CODE_AUTHORIZATIONFAILED] = "AUTHORIZATIONFAILED",
    [IMAP_CODE_BADCHARSET] = "BADCHARSET",
    [IMAP_CODE_CANNOT] = "CANNOT",
    [IMAP_CODE_CAPABILITY] = "CAPABILITY",
    [IMAP_CODE_CLIENTBUG] = "CLIENTBUG",
    [IMAP_CODE_CLOSED] = "CLOSED",
    [IMAP_CODE_CONTACTADMIN] = "CONTACTADMIN",
    [IMAP_CODE_COPYUID] = "COPYUID",
    [IMAP_CODE_CORRUPTION] = "CORRUPTION",
    [IMAP_CODE_EXPIRED] = "EXPIRED",
    [IMAP_CODE_EXPUNGEISSUED] = "EXPUNGEISSUED",
    [IMAP_CODE_HASCHILDREN] = "HASCHILDREN",
    [IMAP_CODE_HIGHESTMODSEQ] = "HIGHESTMODSEQ",
    [IMAP_CODE_INUSE] = "INUSE",
    [IMAP_CODE_LIMIT] = "LIMIT",
    [IMAP_CODE_MODIFIED] = "MODIFIED",
    [IMAP_CODE_NOMODSEQ] = "NOMODSEQ",
    [IMAP_CODE_NONEXISTENT] = "NONEXISTENT",
    [IMAP_CODE_NOPERM] = "NOPERM",
    [IMAP_CODE_NOTSAVED] = "NOTSAVED",
    [IMAP_CODE_OVERQUOTA] = "OVERQUOTA",
    [IMAP_CODE_PARSE] = "PARSE",
    [IMAP_CODE_PERMANENTFLAGS] = "PERMANENTFLAGS",
    [IMAP_CODE_PRIVACYREQUIRED] = "PRIVACYREQUIRED",
    [IMAP_CODE_READ_ONLY] = "READ-ONLY",
    [IMAP_CODE_READ_WRITE] = "READ-WRITE",
    [IMAP_CODE_REFERRAL] = "REFERRAL",
    [IMAP_CODE_SERVERBUG] = "SERVERBUG",
    [IMAP_CODE_TOOBIG] = "TOOBIG",
    [IMAP_CODE_TRYCREATE] = "TRYCREATE",
    [IMAP_CODE_UIDNEXT] = "UIDNEXT",
    [IMAP_CODE_UIDNOTSTICKY] = "UIDNOTSTICKY",
    [IMAP_CODE_UIDVALIDITY] = "UIDVALIDITY",
    [IMAP_CODE_UNAVAILABLE] = "UNAVAILABLE",
    [IMAP_CODE_UNKNOWN_CTE] = "UNKNOWN-CTE",
    [IMAP_CODE_UNSEEN] = "UNSEEN",
};

const char *imap_code_name(imap_code c)
{
    return (unsigned)c < IMAP_CODE__COUNT ? code_names[c] : NULL;
}

static imap_code code_lookup(const char *p, size_t n)
{
    if (n == 0)
        return IMAP_CODE_OTHER;
    char first = (char)(p[0] & 0xDF);
    for (int c = IMAP_CODE_ALERT; c < IMAP_CODE__COUNT; c++)
        if (code_names[c][0] == first && ieq(p, n, code_names[c]))
            return (imap_code)c;
    return IMAP_CODE_OTHER;
}

/* Does an IMAP4rev1 or IMAP4rev2 capability occur among tokens [from, s->n)? */
static int has_rev(const ps *s, unsigned from)
{
    for (unsigned k = from; k < s->n; k++)
        if (sieq(tslice(s, (int)k), "IMAP4REV1") || sieq(tslice(s, (int)k), "IMAP4REV2"))
            return 1;
    return 0;
}

/* capability-data's list: 1*(SP capability), at least IMAP4rev1 or IMAP4rev2 in strict. */
static int capabilities(ps *s, const char *rule, int stop_at_bracket)
{
    unsigned from = s->n;
    while (cur(s) == ' ') {
        int r = sp(s, rule);
        if (r < 0)
            return r;
        if (s->lenient && (at_eol(s) || (stop_at_bracket && cur(s) == ']')))
            break;
        if ((r = atom(s, rule)) < 0)
            return r;
    }
    if (!s->lenient && !has_rev(s, from))
        return fail(s, MR_E_SYNTAX, rule, s->pos);
    return 0;
}

/* atom [SP 1*<any TEXT-CHAR except "]">] */
static int code_text(ps *s)
{
    if (cur(s) != ' ')
        return 0;
    s->pos++;
    size_t a = s->pos;
    for (;;) {
        unsigned char c = cur(s);
        if (c == ']' || c == '\r' || c == '\n' || c == 0)
            break;
        if (c >= 0x80 && !s->lenient)
            return fail(s, MR_E_8BIT, "resp-text-code", s->pos);
        s->pos++;
    }
    if (s->pos == a && !s->lenient)
        return unexpected(s, "resp-text-code");
    return add(s, IMAP_T_TEXT, a, s->pos - a);
}

static int code_args(ps *s, imap_code code)
{
    int r = 0;
    switch (code) {
    case IMAP_CODE_CAPABILITY:
        r = capabilities(s, "capability-data", 1);
        break;
    case IMAP_CODE_PERMANENTFLAGS:
        if ((r = sp(s, "resp-text-code")) >= 0)
            r = list_of(s, flag_perm_elem, "flag-perm", 0);
        break;
    case IMAP_CODE_BADCHARSET:
        if (cur(s) == ' ' && (r = sp(s, "resp-text-code")) >= 0)
            r = list_of(s, astring_elem, "charset", 1);
        break;
    case IMAP_CODE_UIDNEXT:
    case IMAP_CODE_UIDVALIDITY:
    case IMAP_CODE_UNSEEN:
        if ((r = sp(s, "resp-text-code")) >= 0)
            r = number32(s, "nz-number", 1);
        break;
    case IMAP_CODE_APPENDUID:
        if ((r = sp(s, "resp-code-apnd")) >= 0 && (r = number32(s, "nz-number", 1)) >= 0 &&
            (r = sp(s, "resp-code-apnd")) >= 0)
            r = seqset(s, SEQ_NO_STAR, "append-uid");
        break;
    case IMAP_CODE_COPYUID:
        if ((r = sp(s, "resp-code-copy")) >= 0 && (r = number32(s, "nz-number", 1)) >= 0 &&
            (r = sp(s, "resp-code-copy")) >= 0 && (r = seqset(s, SEQ_NO_STAR, "uid-set")) >= 0 &&
            (r = sp(s, "resp-code-copy")) >= 0)
            r = seqset(s, SEQ_NO_STAR, "uid-set");
        break;
    case IMAP_CODE_HIGHESTMODSEQ:
        if ((r = sp(s, "resp-text-code")) >= 0)
            r = number_tok(s, "mod-sequence-value", UINT64_MAX >> 1, 1, NULL);
        break;
    case IMAP_CODE_MODIFIED:
        if ((r = sp(s, "resp-text-code")) >= 0)
            r = seqset(s, 0, "sequence-set");
        break;
    default:
        r = code_text(s);
        break;
    }
    if (r < 0)
        return r;
    if (cur(s) != ']')
        return unexpected(s, "resp-text-code");
    return 0;
}

/* "[" resp-text-code "]" */
static int resp_code(ps *s, imap_response *rsp)
{
    size_t open = s->pos++;
    int i = open_tok(s, IMAP_T_CODE, open + 1, "resp-text-code");
    if (i < 0)
        return i;
    size_t a = s->pos;
    int r = atom(s, "resp-text-code");
    if (r < 0)
        return r;
    imap_code code = code_lookup(s->p + a, s->pos - a);
    rsp->code = code;
    rsp->code_tok = i;
    size_t save_pos = s->pos;
    unsigned save_n = s->n, save_depth = s->depth;
    r = code_args(s, code);
    if (r < 0 && r != STOP && s->lenient && code != IMAP_CODE_OTHER) {
        /* a known code with odd arguments: keep it as atom + text */
        s->pos = save_pos;
        s->n = save_n;
        s->depth = save_depth;
        r = code_text(s);
        if (r >= 0 && cur(s) != ']')
            r = unexpected(s, "resp-text-code");
    }
    if (r < 0)
        return r;
    s->tok[i].len = (uint32_t)(s->pos - (open + 1));
    s->pos++;
    close_tok(s, i);
    return i;
}

/* resp-text = ["[" resp-text-code "]" SP] [text]   (RFC 9051; RFC 3501 wants 1 text char) */
static int resp_text(ps *s, imap_response *rsp)
{
    int r;
    if (cur(s) == '[') {
        if ((r = resp_code(s, rsp)) < 0)
            return r;
        if (cur(s) == ' ')
            s->pos++;
        else if (!(s->lenient && at_eol(s)))
            return unexpected(s, "resp-text");
    }
    size_t a = s->pos;
    for (;;) {
        while (imap_cls[cur(s)] & s->m_text)
            s->pos++;
        unsigned char c = cur(s);
        if (c >= 0x80) { /* strict: UTF-8 only (RFC 9051 text) */
            size_t k = utf8_seq(s->p + s->pos, s->len - s->pos);
            if (!k)
                return fail(s, MR_E_UTF8, "text", s->pos);
            s->pos += k;
            continue;
        }
        if (c == '\r' && at(s, s->pos + 1) != '\n' && s->lenient) {
            s->pos++;
            continue;
        }
        break;
    }
    if ((r = add(s, IMAP_T_TEXT, a, s->pos - a)) < 0)
        return r;
    rsp->text.p = s->p + a;
    rsp->text.n = s->pos - a;
    return end_of_item(s, "text");
}

/* After OK/NO/BAD/PREAUTH/BYE: SP resp-text. */
static int cond_rest(ps *s, imap_response *rsp)
{
    if (cur(s) == ' ')
        s->pos++;
    else if (!(s->lenient && (cur(s) == '[' || at_eol(s))))
        return unexpected(s, "resp-text");
    return resp_text(s, rsp);
}

static imap_status status_lookup(mr_slice n)
{
    if (n.n == 2 && sieq(n, "OK"))
        return IMAP_STATUS_OK;
    if (n.n == 2 && sieq(n, "NO"))
        return IMAP_STATUS_NO;
    if (sieq(n, "BAD"))
        return IMAP_STATUS_BAD;
    if (sieq(n, "BYE"))
        return IMAP_STATUS_BYE;
    if (sieq(n, "PREAUTH"))
        return IMAP_STATUS_PREAUTH;
    return IMAP_STATUS_NONE;
}

/* mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
 *                [SP mbox-list-extended] */
static int mailbox_list(ps *s)
{
    int r;
    if ((r = list_of(s, flag_elem, "mbx-list-flags", 0)) < 0 || (r = sp(s, "mailbox-list")) < 0)
        return r;
    if (at_nil(s)) {
        r = nil_tok(s);
    } else if (s->lenient) {
        r = string(s, "mailbox-list");
    } else {
        size_t a = s->pos;
        if (cur(s) != '"')
            return unexpected(s, "mailbox-list");
        if ((r = quoted(s, "mailbox-list")) < 0)
            return r;
        mr_slice d = tslice(s, r);
        if (!(d.n == 1 || (d.n == 2 && d.p[0] == '\\')))
            return fail(s, MR_E_SYNTAX, "mailbox-list", a);
    }
    if (r < 0 || (r = sp(s, "mailbox-list")) < 0 || (r = astring(s, "mailbox")) < 0)
        return r;
    if (more(s) && ((r = sp(s, "mbox-list-extended")) < 0 || (r = glist(s, "mbox-list-extended")) < 0))
        return r;
    return 0;
}

/* status-att-val = status-att SP number (the list's rule is not this pair's) */
static int status_att_val(ps *s, const char *list_rule)
{
    static const char rule[] = "status-att-val";
    int r;
    (void)list_rule;
    if ((r = atom(s, rule)) < 0 || (r = sp(s, rule)) < 0)
        return r;
    return number_tok(s, rule, UINT64_MAX >> 1, 0, NULL);
}

/* "STATUS" SP mailbox SP "(" [status-att-list] ")" */
static int status_data(ps *s)
{
    int r;
    if ((r = sp(s, "mailbox-data")) < 0 || (r = astring(s, "mailbox")) < 0 ||
        (r = sp(s, "mailbox-data")) < 0)
        return r;
    r = pair_list(s, status_att_val, "status-att-list", 0);
    return r < 0 ? r : 0;
}

/* "SEARCH" *(SP nz-number) [SP "(" "MODSEQ" SP mod-sequence-value ")"] */
static int search_data(ps *s)
{
    while (cur(s) == ' ') {
        int r = sp(s, "mailbox-data");
        if (r < 0)
            return r;
        if (at_eol(s) && s->lenient)
            break;
        if (cur(s) == '(') {
            if ((r = glist(s, "search-sort-mod-seq")) < 0)
                return r;
            break;
        }
        if ((r = number32(s, "nz-number", 1)) < 0)
            return r;
    }
    return 0;
}

/* namespace = nil / "(" 1*namespace-descr ")";
 * namespace-descr = "(" string SP (DQUOTE QUOTED-CHAR DQUOTE / nil) *ns-response-ext ")" */
static int ns_descr(ps *s, const char *rule)
{
    int i = list_open(s, rule);
    if (i < 0)
        return i;
    int r;
    if ((r = string(s, rule)) < 0 || (r = sp(s, rule)) < 0 || (r = nstring(s, rule)) < 0)
        return r;
    while (more(s)) { /* namespace-response-extension = SP string SP "(" string *(SP string) ")" */
        if ((r = sp(s, rule)) < 0 || (r = string(s, rule)) < 0 || (r = sp(s, rule)) < 0 ||
            (r = list_of(s, string_elem, rule, 1)) < 0)
            return r;
    }
    return list_end(s, i, rule);
}

static int namespace_one(ps *s)
{
    if (at_nil(s))
        return nil_tok(s);
    int i = list_open(s, "namespace");
    if (i < 0)
        return i;
    int first = 1;
    do {
        int r = ns_descr(s, "namespace-descr");
        if (r < 0)
            return r;
        if (!first && at(s, s->tok[r].off - 1) == ')')
            s->tok[r].flags |= IMAP_TF_NOSP; /* 1*namespace-descr: no SP between */
        first = 0;
        lenient_spaces(s);
    } while (cur(s) == '(');
    return list_end(s, i, "namespace");
}

static int id_param_pair(ps *s, const char *rule)
{
    int r;
    if ((r = string(s, rule)) < 0 || (r = sp(s, rule)) < 0)
        return r;
    return nstring(s, rule);
}

/* id-params-list = "(" *(string SP nstring) ")" / nil  (RFC 2971) */
static int id_params(ps *s)
{
    if (at_nil(s))
        return nil_tok(s);
    return pair_list(s, id_param_pair, "id-params-list", 0);
}

/* "*" SP number SP ("EXISTS" / "RECENT" / "EXPUNGE" / "FETCH" SP msg-att) */
static int numbered(ps *s, imap_response *rsp)
{
    size_t a = s->pos;
    run(s, IMAP_C_DIGIT);
    uint64_t v;
    mr_slice d = {s->p + a, s->pos - a};
    if (mr_parse_u64(d, UINT32_MAX, &v) != 0)
        return fail(s, MR_E_NUMBER, "number", a);
    rsp->number = (uint32_t)v;
    rsp->has_number = 1;
    int r = sp(s, "message-data");
    if (r < 0)
        return r;
    size_t b = s->pos;
    if (run(s, IMAP_C_FNAME) == 0)
        return unexpected(s, "message-data");
    mr_slice n = {s->p + b, s->pos - b};
    rsp->name = n;
    int nz = 1;
    if (n.n == 5 && sieq(n, "FETCH")) {
        rsp->type = IMAP_R_FETCH;
        if ((r = sp(s, "message-data")) < 0 || (r = msg_att(s)) < 0)
            return r;
    } else if (sieq(n, "EXISTS")) {
        rsp->type = IMAP_R_EXISTS;
        nz = 0;
    } else if (sieq(n, "EXPUNGE")) {
        rsp->type = IMAP_R_EXPUNGE;
    } else if (sieq(n, "RECENT")) {
        rsp->type = IMAP_R_RECENT;
        nz = 0;
    } else {
        rsp->type = IMAP_R_OTHER;
        nz = 0;
        if ((r = gtail(s, "response-data")) < 0)
            return r;
    }
    if (nz && !s->lenient && (v == 0 || s->p[a] == '0'))
        return fail(s, MR_E_NUMBER, "nz-number", a);
    return end_of_item(s, "message-data");
}

static int untagged(ps *s, imap_response *rsp)
{
    int r;
    if (imap_cls[cur(s)] & IMAP_C_DIGIT)
        return numbered(s, rsp);
    size_t a = s->pos;
    if (run(s, IMAP_C_FNAME) == 0) /* a name ends at "[" too: "* OK[ALERT]" */
        return unexpected(s, "response-data");
    mr_slice n = {s->p + a, s->pos - a};
    rsp->name = n;
    imap_status st = status_lookup(n);
    if (st != IMAP_STATUS_NONE) {
        rsp->type = IMAP_R_COND;
        rsp->status = st;
        return cond_rest(s, rsp);
    }
    if (cur(s) != ' ' && !at_eol(s))
        return unexpected(s, "response-data");
    if (sieq(n, "CAPABILITY")) {
        rsp->type = IMAP_R_CAPABILITY;
        r = capabilities(s, "capability-data", 0);
    } else if (sieq(n, "FLAGS")) {
        rsp->type = IMAP_R_FLAGS;
        if ((r = sp(s, "mailbox-data")) >= 0)
            r = list_of(s, flag_elem, "flag-list", 0);
    } else if (sieq(n, "LIST") || sieq(n, "XLIST") || sieq(n, "LSUB")) {
        rsp->type = sieq(n, "LSUB") ? IMAP_R_LSUB : IMAP_R_LIST;
        if ((r = sp(s, "mailbox-data")) >= 0)
            r = mailbox_list(s);
    } else if (sieq(n, "STATUS")) {
        rsp->type = IMAP_R_STATUS;
        r = status_data(s);
    } else if (sieq(n, "SEARCH")) {
        rsp->type = IMAP_R_SEARCH;
        r = search_data(s);
    } else if (sieq(n, "ESEARCH")) {
        rsp->type = IMAP_R_ESEARCH;
        r = gtail(s, "esearch-response");
    } else if (sieq(n, "ENABLED")) {
        rsp->type = IMAP_R_ENABLED;
        r = 0;
        while (r >= 0 && cur(s) == ' ')
            if ((r = sp(s, "enable-data")) >= 0 && !(s->lenient && at_eol(s)))
                r = atom(s, "capability");
    } else if (sieq(n, "NAMESPACE")) {
        rsp->type = IMAP_R_NAMESPACE;
        r = 0;
        for (int k = 0; k < 3 && r >= 0; k++)
            if ((r = sp(s, "namespace-response")) >= 0)
                r = namespace_one(s);
    } else if (sieq(n, "ID")) {
        rsp->type = IMAP_R_ID;
        if ((r = sp(s, "id-response")) >= 0)
            r = id_params(s);
    } else {
        rsp->type = IMAP_R_OTHER;
        size_t save_pos = s->pos;
        unsigned save_n = s->n;
        r = gtail(s, "response-data");
        if (r >= 0)
            r = end_of_item(s, "response-data");
        if (r < 0 && s->lenient && r != STOP) { /* keep the rest as text */
            s->pos = save_pos;
            s->n = save_n;
            s->depth = 0;
            if (cur(s) == ' ')
                s->pos++;
            size_t t = s->pos;
            while (cur(s) != '\n' && !(cur(s) == '\r' && at(s, s->pos + 1) == '\n') && cur(s))
                s->pos++;
            if ((r = add(s, IMAP_T_TEXT, t, s->pos - t)) >= 0)
                r = end_of_item(s, "response-data");
        }
        return r;
    }
    if (r < 0)
        return r;
    return end_of_item(s, "response-data");
}

static int response(ps *s, imap_response *rsp)
{
    unsigned char c = cur(s);
    if (c == '+') {
        rsp->kind = IMAP_KIND_CONTINUATION;
        rsp->tag.p = s->p;
        rsp->tag.n = 1;
        s->pos++;
        if (cur(s) == ' ')
            s->pos++;
        else if (!(s->lenient && at_eol(s)))
            return unexpected(s, "continue-req");
        return resp_text(s, rsp);
    }
    if (c == '*') {
        rsp->kind = IMAP_KIND_UNTAGGED;
        rsp->tag.p = s->p;
        rsp->tag.n = 1;
        s->pos++;
        int r = sp(s, "response-data");
        return r < 0 ? r : untagged(s, rsp);
    }
    if (run(s, s->m_tag) == 0)
        return unexpected(s, "tag");
    rsp->kind = IMAP_KIND_TAGGED;
    rsp->tag.p = s->p;
    rsp->tag.n = s->pos;
    int r = sp(s, "response-tagged");
    if (r < 0)
        return r;
    size_t a = s->pos;
    run(s, IMAP_C_FNAME);
    mr_slice n = {s->p + a, s->pos - a};
    rsp->name = n;
    imap_status st = status_lookup(n);
    if (st == IMAP_STATUS_NONE ||
        ((st == IMAP_STATUS_BYE || st == IMAP_STATUS_PREAUTH) && !s->lenient))
        return fail(s, MR_E_SYNTAX, "resp-cond-state", a);
    rsp->type = IMAP_R_COND;
    rsp->status = st;
    return cond_rest(s, rsp);
}

/* ---------------------------------------------------------------------------------------- */
/* Commands */

typedef struct cmd_entry {
    const char *name;
    imap_cmd_type type;
} cmd_entry;

static const cmd_entry commands[] = {
    {"APPEND", IMAP_CMD_APPEND},       {"AUTHENTICATE", IMAP_CMD_AUTHENTICATE},
    {"CAPABILITY", IMAP_CMD_CAPABILITY}, {"CHECK", IMAP_CMD_CHECK},
    {"CLOSE", IMAP_CMD_CLOSE},         {"COPY", IMAP_CMD_COPY},
    {"CREATE", IMAP_CMD_CREATE},       {"DELETE", IMAP_CMD_DELETE},
    {"ENABLE", IMAP_CMD_ENABLE},       {"EXAMINE", IMAP_CMD_EXAMINE},
    {"EXPUNGE", IMAP_CMD_EXPUNGE},     {"FETCH", IMAP_CMD_FETCH},
    {"ID", IMAP_CMD_ID},               {"IDLE", IMAP_CMD_IDLE},
    {"LIST", IMAP_CMD_LIST},           {"LOGIN", IMAP_CMD_LOGIN},
    {"LOGOUT", IMAP_CMD_LOGOUT},       {"LSUB", IMAP_CMD_LSUB},
    {"MOVE", IMAP_CMD_MOVE},           {"NAMESPACE", IMAP_CMD_NAMESPACE},
    {"NOOP", IMAP_CMD_NOOP},           {"RENAME", IMAP_CMD_RENAME},
    {"SEARCH", IMAP_CMD_SEARCH},       {"SELECT", IMAP_CMD_SELECT},
    {"STARTTLS", IMAP_CMD_STARTTLS},   {"STATUS", IMAP_CMD_STATUS},
    {"STORE", IMAP_CMD_STORE},         {"SUBSCRIBE", IMAP_CMD_SUBSCRIBE},
    {"UNSELECT", IMAP_CMD_UNSELECT},   {"UNSUBSCRIBE", IMAP_CMD_UNSUBSCRIBE},
};

const char *imap_cmd_name(imap_cmd_type t)
{
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (commands[k].type == t)
            return commands[k].name;
    return NULL;
}

static imap_cmd_type cmd_lookup(mr_slice n)
{
    if (n.n == 0)
        return IMAP_CMD_UNKNOWN;
    char first = (char)(n.p[0] & 0xDF); /* cheap filter before the full comparison */
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (commands[k].name[0] == first && sieq(n, commands[k].name))
            return commands[k].type;
    return IMAP_CMD_UNKNOWN;
}

/* list-mailbox = 1*list-char / string */
static int list_mailbox(ps *s, const char *rule)
{
    unsigned char c = cur(s);
    if (c == '"' || c == '{')
        return string(s, rule);
    size_t a = s->pos;
    if (run(s, s->m_list) == 0)
        return unexpected(s, rule);
    return add(s, IMAP_T_ATOM, a, s->pos - a);
}

/* search keys: name and argument kinds. a astring, d date, n number, s sequence-set,
 * f flag-keyword, k search-key, m MODSEQ arguments. */
typedef struct skey {
    const char *name;
    const char *args;
} skey;

static const skey search_keys[] = {
    {"ALL", ""},          {"ANSWERED", ""},    {"BCC", "a"},         {"BEFORE", "d"},
    {"BODY", "a"},        {"CC", "a"},         {"DELETED", ""},      {"DRAFT", ""},
    {"FLAGGED", ""},      {"FROM", "a"},       {"HEADER", "aa"},     {"KEYWORD", "f"},
    {"LARGER", "n"},      {"NEW", ""},         {"NOT", "k"},         {"OLD", ""},
    {"ON", "d"},          {"OR", "kk"},        {"RECENT", ""},       {"SEEN", ""},
    {"SENTBEFORE", "d"},  {"SENTON", "d"},     {"SENTSINCE", "d"},   {"SINCE", "d"},
    {"SMALLER", "n"},     {"SUBJECT", "a"},    {"TEXT", "a"},        {"TO", "a"},
    {"UID", "s"},         {"UNANSWERED", ""},  {"UNDELETED", ""},    {"UNDRAFT", ""},
    {"UNFLAGGED", ""},    {"UNKEYWORD", "f"},  {"UNSEEN", ""},
    /* extensions: WITHIN (5032), CONDSTORE (7162), SAVEDATE (8514), OBJECTID (8474),
     * FUZZY (6203), FILTERS (5466), Gmail X-GM-EXT-1 */
    {"OLDER", "n"},       {"YOUNGER", "n"},    {"MODSEQ", "m"},      {"SAVEDBEFORE", "d"},
    {"SAVEDON", "d"},     {"SAVEDSINCE", "d"}, {"SAVEDATESUPPORTED", ""},
    {"EMAILID", "a"},     {"THREADID", "a"},   {"FUZZY", "k"},       {"FILTER", "a"},
    {"X-GM-RAW", "a"},    {"X-GM-MSGID", "n"}, {"X-GM-THRID", "n"},  {"X-GM-LABELS", "a"},
};

static int search_key(ps *s, const char *rule);

static int search_arg(ps *s, char kind)
{
    int r;
    switch (kind) {
    case 'a':
        return astring(s, "search-key");
    case 'd':
        return date_arg(s, "date");
    case 'n':
        return number_tok(s, "number", UINT64_MAX >> 1, 0, NULL);
    case 's':
        return seqset(s, SEQ_DOLLAR, "sequence-set");
    case 'f':
        return atom(s, "flag-keyword");
    case 'k':
        return search_key(s, "search-key");
    case 'm': /* [entry-name SP entry-type-req SP] mod-sequence-valzer */
        if (cur(s) == '"') {
            if ((r = quoted(s, "entry-name")) < 0 || (r = sp(s, "search-modsequence")) < 0 ||
                (r = atom(s, "entry-type-req")) < 0 || (r = sp(s, "search-modsequence")) < 0)
                return r;
        }
        return number_tok(s, "mod-sequence-valzer", UINT64_MAX >> 1, 0, NULL);
    default:
        return fail(s, MR_E_STATE, "search-key", s->pos);
    }
}

static int search_key(ps *s, const char *rule)
{
    unsigned char c = cur(s);
    (void)rule;
    if (c == '(')
        return list_of(s, search_key, "search-key", 1);
    if ((imap_cls[c] & IMAP_C_DIGIT) || c == '*' || c == '$')
        return seqset(s, SEQ_DOLLAR, "sequence-set");
    size_t a = s->pos;
    if (run(s, s->m_atom) == 0)
        return unexpected(s, "search-key");
    const skey *k = NULL;
    char first = (char)(s->p[a] & 0xDF);
    for (size_t j = 0; j < sizeof search_keys / sizeof search_keys[0]; j++)
        if (search_keys[j].name[0] == first && ieq(s->p + a, s->pos - a, search_keys[j].name)) {
            k = &search_keys[j];
            break;
        }
    if (!k)
        return fail(s, MR_E_SYNTAX, "search-key", a);
    int i = open_tok(s, IMAP_T_ATOM, a, "search-key");
    if (i < 0)
        return i;
    s->tok[i].len = (uint32_t)(s->pos - a);
    for (const char *arg = k->args; *arg; arg++) {
        int r;
        if ((r = sp(s, "search-key")) < 0 || (r = search_arg(s, *arg)) < 0)
            return r;
    }
    close_tok(s, i);
    return i;
}

/* search = "SEARCH" [search-return-opts] SP search-program;
 * search-program = ["CHARSET" SP charset SP] search-key *(SP search-key) */
static int search_cmd(ps *s)
{
    int r;
    if ((r = sp(s, "search")) < 0)
        return r;
    if (ieq(s->p + s->pos, 6, "RETURN") && at(s, s->pos + 6) == ' ') {
        if ((r = atom(s, "search-return-opts")) < 0 || (r = sp(s, "search-return-opts")) < 0 ||
            (r = glist(s, "search-return-opts")) < 0 || (r = sp(s, "search")) < 0)
            return r;
    }
    if (ieq(s->p + s->pos, 7, "CHARSET") && at(s, s->pos + 7) == ' ') {
        if ((r = atom(s, "search")) < 0 || (r = sp(s, "search")) < 0 ||
            (r = astring(s, "charset")) < 0 || (r = sp(s, "search")) < 0)
            return r;
    }
    for (;;) {
        if ((r = search_key(s, "search-key")) < 0)
            return r;
        if (!more(s))
            return 0;
        if ((r = sp(s, "search")) < 0)
            return r;
    }
}

static int fetch_att_elem(ps *s, const char *rule)
{
    imap_att att;
    int has_section;
    (void)rule;
    int r = att_name(s, 1, &att, &has_section);
    if (r >= 0 && (att == IMAP_ATT_ALL || att == IMAP_ATT_FAST || att == IMAP_ATT_FULL) &&
        !s->lenient)
        return fail(s, MR_E_SYNTAX, "fetch-att", s->tok[r].off);
    return r;
}

/* fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
 *         "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers] */
static int fetch_cmd(ps *s)
{
    int r;
    if ((r = sp(s, "fetch")) < 0 || (r = seqset(s, SEQ_DOLLAR, "sequence-set")) < 0 ||
        (r = sp(s, "fetch")) < 0)
        return r;
    if (cur(s) == '(') {
        r = list_of(s, fetch_att_elem, "fetch-att", 1);
    } else {
        imap_att att;
        int has_section;
        r = att_name(s, 1, &att, &has_section);
    }
    if (r < 0)
        return r;
    if (more(s) && ((r = sp(s, "fetch-modifiers")) < 0 || (r = glist(s, "fetch-modifiers")) < 0))
        return r;
    return 0;
}

/* store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags;
 * store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag))) */
static int store_cmd(ps *s)
{
    int r;
    if ((r = sp(s, "store")) < 0 || (r = seqset(s, SEQ_DOLLAR, "sequence-set")) < 0 ||
        (r = sp(s, "store")) < 0)
        return r;
    if (cur(s) == '(' && ((r = glist(s, "store-modifiers")) < 0 || (r = sp(s, "store")) < 0))
        return r;
    size_t a = s->pos;
    if ((r = atom(s, "store-att-flags")) < 0)
        return r;
    mr_slice n = tslice(s, r);
    if (n.n && (n.p[0] == '+' || n.p[0] == '-')) {
        n.p++;
        n.n--;
    }
    int flags_att = sieq(n, "FLAGS") || sieq(n, "FLAGS.SILENT");
    if (!flags_att && !s->lenient)
        return fail(s, MR_E_SYNTAX, "store-att-flags", a);
    if ((r = sp(s, "store-att-flags")) < 0)
        return r;
    if (!flags_att) { /* lenient: an extension attribute (X-GM-LABELS ...) */
        if ((r = gvalue(s, "store-att-flags")) < 0)
            return r;
        return gtail(s, "store-att-flags");
    }
    if (cur(s) == '(')
        return list_of(s, flag_elem, "flag-list", 0);
    for (;;) {
        if ((r = flag(s, 0, "flag")) < 0)
            return r;
        if (!more(s))
            return 0;
        if ((r = sp(s, "store-att-flags")) < 0)
            return r;
    }
}

/* append = "APPEND" SP mailbox 1*append-message (RFC 3502 MULTIAPPEND);
 * append-message = [SP flag-list] [SP date-time] SP append-data; append-data = literal /
 * literal8 */
static int append_cmd(ps *s)
{
    int r;
    if ((r = sp(s, "append")) < 0 || (r = astring(s, "mailbox")) < 0)
        return r;
    do {
        if ((r = sp(s, "append")) < 0)
            return r;
        if (cur(s) == '(' &&
            ((r = list_of(s, flag_elem, "flag-list", 0)) < 0 || (r = sp(s, "append")) < 0))
            return r;
        if (cur(s) == '"' && ((r = date_time(s, "date-time")) < 0 || (r = sp(s, "append")) < 0))
            return r;
        if (cur(s) != '{' && cur(s) != '~')
            return unexpected(s, "append-data");
        if ((r = literal(s, "append-data", 1)) < 0)
            return r;
    } while (more(s));
    return 0;
}

/* authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")] (RFC 4959 SASL-IR) */
static int authenticate_cmd(ps *s)
{
    int r;
    if ((r = sp(s, "authenticate")) < 0 || (r = atom(s, "auth-type")) < 0)
        return r;
    if (!more(s))
        return 0;
    if ((r = sp(s, "authenticate")) < 0)
        return r;
    size_t a = s->pos;
    if (cur(s) == '=') {
        s->pos++;
    } else {
        size_t data, k = b64_span(s->p + a, s->len - a, &data);
        s->pos += k;
        if (data == 0 || (!s->lenient && k % 4 != 0))
            return fail(s, MR_E_BASE64, "base64", s->pos);
    }
    return add(s, IMAP_T_ATOM, a, s->pos - a);
}

static int mailbox_and_params(ps *s, int two)
{
    int r;
    if ((r = sp(s, "mailbox")) < 0 || (r = astring(s, "mailbox")) < 0)
        return r;
    if (two && ((r = sp(s, "mailbox")) < 0 || (r = astring(s, "mailbox")) < 0))
        return r;
    if (more(s) && ((r = sp(s, "params")) < 0 || (r = glist(s, "params")) < 0))
        return r;
    return 0;
}

/* list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts] */
static int list_cmd(ps *s)
{
    int r;
    if ((r = sp(s, "list")) < 0)
        return r;
    if (cur(s) == '(' && ((r = glist(s, "list-select-opts")) < 0 || (r = sp(s, "list")) < 0))
        return r;
    if ((r = astring(s, "mailbox")) < 0 || (r = sp(s, "list")) < 0)
        return r;
    if (cur(s) == '(')
        r = list_of(s, list_mailbox, "patterns", 1);
    else
        r = list_mailbox(s, "list-mailbox");
    if (r < 0)
        return r;
    if (more(s)) {
        if ((r = sp(s, "list-return-opts")) < 0)
            return r;
        if (!ieq(s->p + s->pos, 6, "RETURN") || at(s, s->pos + 6) != ' ')
            return fail(s, MR_E_SYNTAX, "list-return-opts", s->pos);
        if ((r = atom(s, "list-return-opts")) < 0 || (r = sp(s, "list-return-opts")) < 0 ||
            (r = glist(s, "list-return-opts")) < 0)
            return r;
    }
    return 0;
}

static int command_args(ps *s, imap_command *c)
{
    int r;
    switch (c->type) {
    case IMAP_CMD_CAPABILITY:
    case IMAP_CMD_LOGOUT:
    case IMAP_CMD_NOOP:
    case IMAP_CMD_STARTTLS:
    case IMAP_CMD_CHECK:
    case IMAP_CMD_CLOSE:
    case IMAP_CMD_UNSELECT:
    case IMAP_CMD_IDLE:
    case IMAP_CMD_NAMESPACE:
        return 0;
    case IMAP_CMD_EXPUNGE:
        if (!c->uid)
            return 0;
        if ((r = sp(s, "uid-expunge")) < 0)
            return r;
        return seqset(s, SEQ_DOLLAR, "sequence-set");
    case IMAP_CMD_AUTHENTICATE:
        return authenticate_cmd(s);
    case IMAP_CMD_LOGIN:
        if ((r = sp(s, "login")) < 0 || (r = astring(s, "userid")) < 0 ||
            (r = sp(s, "login")) < 0)
            return r;
        return astring(s, "password");
    case IMAP_CMD_SELECT:
    case IMAP_CMD_EXAMINE:
    case IMAP_CMD_CREATE:
        return mailbox_and_params(s, 0);
    case IMAP_CMD_RENAME:
        return mailbox_and_params(s, 1);
    case IMAP_CMD_DELETE:
    case IMAP_CMD_SUBSCRIBE:
    case IMAP_CMD_UNSUBSCRIBE:
        if ((r = sp(s, "mailbox")) < 0)
            return r;
        return astring(s, "mailbox");
    case IMAP_CMD_LIST:
        return list_cmd(s);
    case IMAP_CMD_LSUB:
        if ((r = sp(s, "lsub")) < 0 || (r = astring(s, "mailbox")) < 0 ||
            (r = sp(s, "lsub")) < 0)
            return r;
        return list_mailbox(s, "list-mailbox");
    case IMAP_CMD_STATUS:
        if ((r = sp(s, "status")) < 0 || (r = astring(s, "mailbox")) < 0 ||
            (r = sp(s, "status")) < 0)
            return r;
        return list_of(s, atom_elem, "status-att", 1);
    case IMAP_CMD_APPEND:
        return append_cmd(s);
    case IMAP_CMD_ENABLE:
        do {
            if ((r = sp(s, "enable")) < 0 || (r = atom(s, "capability")) < 0)
                return r;
        } while (more(s));
        return 0;
    case IMAP_CMD_ID:
        if ((r = sp(s, "id")) < 0)
            return r;
        return id_params(s);
    case IMAP_CMD_COPY:
    case IMAP_CMD_MOVE:
        if ((r = sp(s, "copy")) < 0 || (r = seqset(s, SEQ_DOLLAR, "sequence-set")) < 0 ||
            (r = sp(s, "copy")) < 0)
            return r;
        return astring(s, "mailbox");
    case IMAP_CMD_FETCH:
        return fetch_cmd(s);
    case IMAP_CMD_STORE:
        return store_cmd(s);
    case IMAP_CMD_SEARCH:
        return search_cmd(s);
    default:
        return gtail(s, "command");
    }
}

static int command(ps *s, imap_command *c)
{
    if (run(s, s->m_tag) == 0)
        return unexpected(s, "tag");
    c->tag.p = s->p;
    c->tag.n = s->pos;
    int r = sp(s, "command");
    if (r < 0)
        return r;
    size_t a = s->pos;
    if (run(s, s->m_atom) == 0)
        return unexpected(s, "command");
    mr_slice n = {s->p + a, s->pos - a};
    c->name = n;
    c->type = cmd_lookup(n);
    if (c->type == IMAP_CMD_UNKNOWN && sieq(n, "UID")) {
        c->uid = 1;
        if ((r = sp(s, "uid")) < 0)
            return r;
        a = s->pos;
        if (run(s, s->m_atom) == 0)
            return unexpected(s, "uid");
        c->name.p = s->p + a;
        c->name.n = s->pos - a;
        c->type = cmd_lookup(c->name);
        switch (c->type) {
        case IMAP_CMD_COPY:
        case IMAP_CMD_MOVE:
        case IMAP_CMD_FETCH:
        case IMAP_CMD_SEARCH:
        case IMAP_CMD_STORE:
        case IMAP_CMD_EXPUNGE:
        case IMAP_CMD_UNKNOWN: /* UID SORT, UID THREAD, ...: generic */
            break;
        default:
            return fail(s, MR_E_SYNTAX, "uid", a);
        }
    }
    if ((r = command_args(s, c)) < 0)
        return r;
    return end_of_item(s, "command");
}

/* ---------------------------------------------------------------------------------------- */
/* Entry points */

static void ps_init(ps *s, const char *item, size_t len, const imap_limits *lim,
                    imap_side side, imap_token *tok, unsigned tok_cap, mr_error *err)
{
    static const imap_limits def = IMAP_LIMITS_DEFAULT;
    if (!lim)
        lim = &def;
    memset(s, 0, sizeof *s);
    s->p = item;
    s->len = len;
    s->tok = tok;
    s->cap = tok_cap < lim->tokens_max ? tok_cap : lim->tokens_max;
    if (s->cap > TOKENS_HARD_MAX)
        s->cap = TOKENS_HARD_MAX;
    s->depth_max = lim->depth_max < DEPTH_HARD_MAX ? lim->depth_max : DEPTH_HARD_MAX;
    s->lenient = lim->mode == MR_LENIENT;
    s->side = side;
    s->inline_max = lim->inline_literal_max;
    s->literal_max = lim->literal_max < MR_LIMIT_MAX ? lim->literal_max : MR_LIMIT_MAX;
    s->nonsync_max = lim->nonsync_literal_max < MR_LIMIT_MAX ? lim->nonsync_literal_max
                                                             : MR_LIMIT_MAX;
    uint16_t hi = s->lenient ? IMAP_C_HI : 0;
    s->m_atom = IMAP_C_ATOM | hi;
    s->m_astr = IMAP_C_ASTR | hi;
    s->m_list = IMAP_C_LIST | hi;
    s->m_tag = IMAP_C_TAG | hi;
    s->m_q = IMAP_C_QCHAR | hi;
    s->m_text = IMAP_C_TEXT | hi;
    s->m_gen = IMAP_C_GEN | hi;
    s->err = err;
}

/* The framed item must end in LF; everything else relies on it. */
static int check_item(ps *s)
{
    if (s->len == 0)
        return fail(s, MR_E_EMPTY, "CRLF", 0);
    if (s->len > MR_LIMIT_MAX)
        return fail(s, MR_E_LIMIT_COUNT, "item", MR_LIMIT_MAX);
    if (s->p[s->len - 1] != '\n')
        return fail(s, MR_E_SYNTAX, "CRLF", s->len);
    return 0;
}

/* Prefix parse stopped: give every open container the tokens made so far. */
static void close_open(ps *s)
{
    for (unsigned k = 0; k < s->n; k++)
        if (s->tok[k].next == 0)
            s->tok[k].next = s->n;
}

int imap_response_parse(const char *item, size_t len, const imap_limits *lim, imap_response *r,
                        imap_token *tok, unsigned tok_cap, mr_error *err)
{
    ps s;
    ps_init(&s, item, len, lim, IMAP_SIDE_RESPONSE, tok, tok_cap, err);
    memset(r, 0, sizeof *r);
    r->code_tok = -1;
    r->t.base = item;
    r->t.tok = tok;
    int rc = check_item(&s);
    if (rc >= 0)
        rc = response(&s, r);
    r->t.n = s.n;
    return rc < 0 ? MR_ERROR : (int)len;
}

static int command_parse(const char *item, size_t len, const imap_limits *lim, imap_command *c,
                         imap_token *tok, unsigned tok_cap, mr_error *err, int prefix)
{
    ps s;
    ps_init(&s, item, len, lim, IMAP_SIDE_COMMAND, tok, tok_cap, err);
    s.prefix = prefix;
    memset(c, 0, sizeof *c);
    c->kind = IMAP_KIND_COMMAND;
    c->t.base = item;
    c->t.tok = tok;
    int rc = check_item(&s);
    if (rc >= 0)
        rc = command(&s, c);
    if (rc == STOP) {
        close_open(&s);
        c->partial = 1;
        rc = 0;
    }
    c->t.n = s.n;
    return rc < 0 ? MR_ERROR : (int)len;
}

int imap_command_parse(const char *item, size_t len, const imap_limits *lim, imap_command *cmd,
                       imap_token *tok, unsigned tok_cap, mr_error *err)
{
    return command_parse(item, len, lim, cmd, tok, tok_cap, err, 0);
}

int imap_command_parse_prefix(const char *item, size_t len, const imap_limits *lim,
                              imap_command *cmd, imap_token *tok, unsigned tok_cap,
                              mr_error *err)
{
    return command_parse(item, len, lim, cmd, tok, tok_cap, err, 1);
}

int imap_response_next(const char *buf, size_t len, const imap_limits *lim, imap_response *r,
                       imap_token *tok, unsigned tok_cap, mr_error *err)
{
    int n = imap_frame_whole(IMAP_SIDE_RESPONSE, lim, buf, len, err);
    if (n <= 0)
        return n;
    return imap_response_parse(buf, (size_t)n, lim, r, tok, tok_cap, err);
}

int imap_command_next(const char *buf, size_t len, const imap_limits *lim, imap_command *cmd,
                      imap_token *tok, unsigned tok_cap, mr_error *err)
{
    int n = imap_frame_whole(IMAP_SIDE_COMMAND, lim, buf, len, err);
    if (n <= 0)
        return n;
    return imap_command_parse(buf, (size_t)n, lim, cmd, tok, tok_cap, err);
}

int imap_is_idle_done(const char *item, size_t len, mr_mode mode)
{
    size_t n = len;
    if (n && item[n - 1] == '\n')
        n--;
    else
        return 0;
    if (n && item[n - 1] == '\r')
        n--;
    else if (mode == MR_STRICT)
        return 0;
    if (mode == MR_LENIENT)
        while (n && item[n - 1] == ' ')
            n--;
    return ieq(item, n, "DONE");
}

int imap_sasl_line(const char *item, size_t len, mr_mode mode, mr_slice *b64, int *cancel,
                   mr_error *err)
{
    size_t n = len;
    if (n == 0 || item[n - 1] != '\n')
        return mr_fail(err, MR_E_SYNTAX, "CRLF", len);
    n--;
    if (n && item[n - 1] == '\r')
        n--;
    else if (mode == MR_STRICT)
        return mr_fail(err, MR_E_BARE_LF, "CRLF", n);
    mr_slice line = {item, n};
    if (sasl_response_text_check(line, mode, 0, b64, cancel, err))
        return MR_ERROR;
    return (int)len;
}

size_t imap_tag_len(const char *buf, size_t len, mr_mode mode)
{
    if (len && (buf[0] == '*' || buf[0] == '+'))
        return 1;
    uint16_t m = IMAP_C_TAG | (mode == MR_LENIENT ? IMAP_C_HI : 0);
    size_t i = 0;
    while (i < len && (imap_cls[(unsigned char)buf[i]] & m))
        i++;
    return i;
}
