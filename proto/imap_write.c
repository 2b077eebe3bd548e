/* imap_write.c -- see imap_write.h. */
#include "proto/imap_write.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "proto/imap_chars.h"

/* out and the p, cap, len view of it must be the same bytes. */
_Static_assert(offsetof(imap_wbuf, p) == offsetof(imap_wbuf, out) + offsetof(mr_out, p) &&
                   offsetof(imap_wbuf, cap) == offsetof(imap_wbuf, out) + offsetof(mr_out, cap) &&
                   offsetof(imap_wbuf, len) == offsetof(imap_wbuf, out) + offsetof(mr_out, len),
               "imap_wbuf's p, cap and len alias its mr_out");

void imap_wbuf_init(imap_wbuf *w, char *buf, size_t cap)
{
    mr_out_init(&w->out, buf, cap);
    w->err = MR_E_NONE;
    w->last = 0;
}

int imap_wbuf_result(const imap_wbuf *w)
{
    if (w->err != MR_E_NONE)
        return MR_ERROR;
    if (w->len > MR_LIMIT_MAX)
        return MR_ERROR;
    if (w->len > w->cap)
        return MR_NEED_MORE;
    return (int)w->len;
}

static void bad(imap_wbuf *w, mr_errcode code)
{
    if (w->err == MR_E_NONE)
        w->err = code;
}

void imap_w_raw(imap_wbuf *w, const char *p, size_t n)
{
    if (n == 0)
        return;
    mr_out_put(&w->out, p, n);
    w->last = p[n - 1];
}

static void put1(imap_wbuf *w, char c)
{
    imap_w_raw(w, &c, 1);
}

void imap_w_cstr(imap_wbuf *w, const char *s)
{
    imap_w_raw(w, s, strlen(s));
}

void imap_w_sp(imap_wbuf *w)
{
    put1(w, ' ');
}

void imap_w_crlf(imap_wbuf *w)
{
    imap_w_raw(w, "\r\n", 2);
}

void imap_w_number(imap_wbuf *w, uint64_t v)
{
    mr_out_u64(&w->out, v);
    w->last = (char)('0' + v % 10);
}

static int all_class(mr_slice s, uint16_t mask)
{
    for (size_t i = 0; i < s.n; i++)
        if (!(imap_cls[(unsigned char)s.p[i]] & mask))
            return 0;
    return 1;
}

void imap_w_atom(imap_wbuf *w, mr_slice s)
{
    if (s.n == 0 || !all_class(s, IMAP_C_ATOM))
        bad(w, MR_E_SYNTAX);
    else
        imap_w_raw(w, s.p, s.n);
}

void imap_w_flag(imap_wbuf *w, mr_slice s)
{
    mr_slice a = s;
    if (a.n && a.p[0] == '\\') {
        a.p++;
        a.n--;
        if (a.n == 1 && a.p[0] == '*') {
            imap_w_raw(w, s.p, s.n);
            return;
        }
    }
    if (a.n == 0 || !all_class(a, IMAP_C_ATOM))
        bad(w, MR_E_SYNTAX);
    else
        imap_w_raw(w, s.p, s.n);
}

/* What keeps raw bytes out of a quoted string: MR_E_NONE when they may be quoted. */
static mr_errcode quote_check(mr_slice s, unsigned opts)
{
    int hi = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '\r' || c == '\n')
            return MR_E_SYNTAX;
        if (c == 0)
            return MR_E_NUL;
        hi |= c >= 0x80;
    }
    if (hi && !(opts & IMAP_W_UTF8))
        return MR_E_8BIT;
    if (hi && mr_utf8_check(s.p, s.n) != s.n)
        return MR_E_UTF8;
    return MR_E_NONE;
}

static void quoted_unchecked(imap_wbuf *w, mr_slice s)
{
    put1(w, '"');
    size_t a = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] == '"' || s.p[i] == '\\') {
            imap_w_raw(w, s.p + a, i - a);
            put1(w, '\\');
            a = i;
        }
    }
    imap_w_raw(w, s.p + a, s.n - a);
    put1(w, '"');
}

void imap_w_quoted(imap_wbuf *w, mr_slice raw, unsigned opts)
{
    mr_errcode why = quote_check(raw, opts);
    if (why != MR_E_NONE)
        bad(w, why);
    else
        quoted_unchecked(w, raw);
}

void imap_w_literal_marker(imap_wbuf *w, uint64_t size, unsigned opts)
{
    if (opts & IMAP_W_BINARY)
        put1(w, '~');
    put1(w, '{');
    imap_w_number(w, size);
    if (opts & IMAP_W_NONSYNC)
        put1(w, '+');
    imap_w_raw(w, "}\r\n", 3);
}

void imap_w_literal(imap_wbuf *w, mr_slice raw, unsigned opts)
{
    if (!(opts & IMAP_W_BINARY) && raw.n && memchr(raw.p, 0, raw.n)) {
        bad(w, MR_E_NUL); /* CHAR8 excludes NUL (RFC 9051 literal) */
        return;
    }
    imap_w_literal_marker(w, raw.n, opts);
    imap_w_raw(w, raw.p, raw.n);
}

void imap_w_string(imap_wbuf *w, mr_slice raw, unsigned opts)
{
    mr_errcode why = raw.n > IMAP_W_QUOTED_MAX ? MR_E_LIMIT_LINE : quote_check(raw, opts);
    if (why == MR_E_NONE)
        quoted_unchecked(w, raw);
    else if (why == MR_E_NUL)
        bad(w, MR_E_NUL);
    else
        imap_w_literal(w, raw, opts & IMAP_W_NONSYNC);
}

void imap_w_astring(imap_wbuf *w, mr_slice raw, unsigned opts)
{
    if (raw.n && all_class(raw, IMAP_C_ASTR))
        imap_w_raw(w, raw.p, raw.n);
    else
        imap_w_string(w, raw, opts);
}

/* Quoted content with its escapes, from the parser: valid to write back between quotes? */
static int escaped_ok(mr_slice s)
{
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '\r' || c == '\n' || c == 0 || c == '"')
            return 0;
        if (c == '\\' && ++i == s.n)
            return 0;
    }
    return 1;
}

/* Write escaped quoted content as a literal, unescaping on the way. */
static void escaped_as_literal(imap_wbuf *w, mr_slice s, unsigned opts)
{
    size_t n = imap_unescape(s.p, s.n, NULL, 0);
    imap_w_literal_marker(w, n, opts & IMAP_W_NONSYNC);
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] == '\\' && i + 1 < s.n)
            i++;
        put1(w, s.p[i]);
    }
}

void imap_w_nstring(imap_wbuf *w, const imap_nstring *v, unsigned opts)
{
    if (v->nil) {
        imap_w_raw(w, "NIL", 3);
    } else if (v->streamed) {
        imap_w_literal_marker(w, v->literal_size, v->binary ? IMAP_W_BINARY : 0);
    } else if (v->binary) {
        imap_w_literal(w, v->s, IMAP_W_BINARY);
    } else if (v->escaped) {
        if (!escaped_ok(v->s))
            bad(w, MR_E_SYNTAX);
        else if (v->s.n > IMAP_W_QUOTED_MAX)
            escaped_as_literal(w, v->s, opts);
        else {
            put1(w, '"');
            imap_w_raw(w, v->s.p, v->s.n);
            put1(w, '"');
        }
    } else {
        imap_w_string(w, v->s, opts);
    }
}

void imap_w_nstr(imap_wbuf *w, const char *p, size_t n, unsigned opts)
{
    imap_nstring v;
    memset(&v, 0, sizeof v);
    v.nil = p == NULL;
    v.s.p = p ? p : "";
    v.s.n = p ? n : 0;
    imap_w_nstring(w, &v, opts);
}

void imap_w_text(imap_wbuf *w, mr_slice text, unsigned opts)
{
    mr_errcode why = quote_check(text, opts);
    if (why != MR_E_NONE)
        bad(w, why);
    else
        imap_w_raw(w, text.p, text.n);
}

void imap_w_datetime(imap_wbuf *w, const imap_datetime *dt)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (dt->day < 1 || dt->day > 31 || dt->month < 1 || dt->month > 12 || dt->year < 0 ||
        dt->year > 9999 || dt->hour < 0 || dt->hour > 23 || dt->min < 0 || dt->min > 59 ||
        dt->sec < 0 || dt->sec > 60 || dt->zone < -5999 || dt->zone > 5999) {
        bad(w, MR_E_SYNTAX);
        return;
    }
    int z = dt->zone < 0 ? -dt->zone : dt->zone;
    char b[40];
    int n = snprintf(b, sizeof b, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", dt->day,
                     months[dt->month - 1], dt->year, dt->hour, dt->min, dt->sec,
                     dt->zone < 0 ? '-' : '+', z / 60, z % 60);
    if (n > 0 && (size_t)n < sizeof b)
        imap_w_raw(w, b, (size_t)n);
    else
        bad(w, MR_E_SYNTAX);
}

static void seq_num(imap_wbuf *w, uint32_t v)
{
    if (v == IMAP_SEQ_STAR)
        put1(w, '*');
    else
        imap_w_number(w, v);
}

void imap_w_seqset(imap_wbuf *w, const imap_seq_range *r, size_t n)
{
    if (n == 0) {
        bad(w, MR_E_EMPTY);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            put1(w, ',');
        seq_num(w, r[i].lo);
        if (r[i].hi != r[i].lo) {
            put1(w, ':');
            seq_num(w, r[i].hi);
        }
    }
}

void imap_w_seq_numbers(imap_wbuf *w, const uint32_t *sorted, size_t n)
{
    if (n == 0) {
        bad(w, MR_E_EMPTY);
        return;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && sorted[j] != UINT32_MAX && sorted[j + 1] == sorted[j] + 1)
            j++;
        if (sorted[i] == 0) {
            bad(w, MR_E_NUMBER);
            return;
        }
        if (i)
            put1(w, ',');
        imap_w_number(w, sorted[i]);
        if (j > i) {
            put1(w, ':');
            imap_w_number(w, sorted[j]);
        }
        i = j + 1;
    }
}

void imap_w_flag_list(imap_wbuf *w, const mr_slice *flags, size_t n)
{
    put1(w, '(');
    for (size_t i = 0; i < n; i++) {
        if (i)
            put1(w, ' ');
        imap_w_flag(w, flags[i]);
    }
    put1(w, ')');
}

/* ---- Tokens ------------------------------------------------------------------------------- */

static void w_tok(imap_wbuf *w, const imap_toks *t, unsigned i);

static unsigned tok_next(const imap_toks *t, unsigned i)
{
    unsigned nx = t->tok[i].next;
    return nx > i && nx <= t->n ? nx : t->n;
}

void imap_w_tokens(imap_wbuf *w, const imap_toks *t, unsigned from, unsigned to)
{
    if (to > t->n)
        to = t->n;
    for (unsigned k = from, first = 1; k < to; k = tok_next(t, k), first = 0) {
        if (!first && !(t->tok[k].flags & IMAP_TF_NOSP))
            put1(w, ' ');
        w_tok(w, t, k);
    }
}

/* Does token i's subtree end the array with a literal still pending (a prefix parse)? Then
 * the text ends at its marker: the containers around it are not closed yet. */
static int ends_pending(const imap_toks *t, unsigned i)
{
    return t->n && tok_next(t, i) == t->n && t->tok[t->n - 1].type == IMAP_T_LITERAL &&
           (t->tok[t->n - 1].flags & IMAP_TF_PENDING);
}

static void w_children(imap_wbuf *w, const imap_toks *t, unsigned i, char open, char close)
{
    put1(w, open);
    imap_w_tokens(w, t, i + 1, tok_next(t, i));
    if (!ends_pending(t, i))
        put1(w, close);
}

static void w_tok(imap_wbuf *w, const imap_toks *t, unsigned i)
{
    const imap_token *k = &t->tok[i];
    const char *s = t->base + k->off;
    switch (k->type) {
    case IMAP_T_QUOTED:
        put1(w, '"');
        imap_w_raw(w, s, k->len);
        put1(w, '"');
        break;
    case IMAP_T_LITERAL: {
        unsigned opts = (k->flags & IMAP_TF_BINARY ? IMAP_W_BINARY : 0) |
                        (k->flags & IMAP_TF_NONSYNC ? IMAP_W_NONSYNC : 0);
        imap_w_literal_marker(w, k->len, opts);
        if (!(k->flags & (IMAP_TF_STREAMED | IMAP_TF_PENDING)))
            imap_w_raw(w, s, k->len);
        break;
    }
    case IMAP_T_LIST:
        w_children(w, t, i, '(', ')');
        break;
    case IMAP_T_CODE:
    case IMAP_T_SECTION:
        w_children(w, t, i, '[', ']');
        break;
    case IMAP_T_PARTIAL:
        put1(w, '<');
        imap_w_raw(w, s, k->len);
        put1(w, '>');
        break;
    case IMAP_T_ATOM: { /* a fetch-att keeps its section and partial; a search key its args */
        imap_w_raw(w, s, k->len);
        unsigned end = tok_next(t, i);
        for (unsigned j = i + 1; j < end; j = tok_next(t, j)) {
            int glued = t->tok[j].type == IMAP_T_SECTION || t->tok[j].type == IMAP_T_PARTIAL;
            if (!glued)
                put1(w, ' ');
            w_tok(w, t, j);
        }
        break;
    }
    default: /* NUMBER, NIL, TEXT, SEQSET: as sent */
        imap_w_raw(w, s, k->len);
        break;
    }
}

static void w_top_tokens(imap_wbuf *w, const imap_toks *t)
{
    for (unsigned k = 0; k < t->n; k = tok_next(t, k)) {
        put1(w, ' ');
        w_tok(w, t, k);
    }
}

void imap_w_command_parsed(imap_wbuf *w, const imap_command *c)
{
    imap_w_raw(w, c->tag.p, c->tag.n);
    if (c->uid)
        imap_w_raw(w, " UID", 4);
    put1(w, ' ');
    imap_w_raw(w, c->name.p, c->name.n);
    w_top_tokens(w, &c->t);
    if (!c->partial)
        imap_w_crlf(w);
}

void imap_w_response_parsed(imap_wbuf *w, const imap_response *r)
{
    const imap_toks *t = &r->t;
    imap_w_raw(w, r->tag.p, r->tag.n);
    put1(w, ' ');
    if (r->kind == IMAP_KIND_UNTAGGED && r->has_number) {
        imap_w_number(w, r->number);
        put1(w, ' ');
    }
    if (r->kind != IMAP_KIND_CONTINUATION)
        imap_w_raw(w, r->name.p, r->name.n);
    if (r->kind == IMAP_KIND_CONTINUATION || r->type == IMAP_R_COND) {
        if (r->kind != IMAP_KIND_CONTINUATION)
            put1(w, ' ');
        if (r->code_tok >= 0 && (unsigned)r->code_tok < t->n) {
            w_tok(w, t, (unsigned)r->code_tok);
            put1(w, ' ');
        }
        imap_w_raw(w, r->text.p, r->text.n);
    } else {
        w_top_tokens(w, t);
    }
    imap_w_crlf(w);
}

/* ---- Commands ----------------------------------------------------------------------------- */

static void w_tag(imap_wbuf *w, mr_slice tag)
{
    if (tag.n == 0 || !all_class(tag, IMAP_C_TAG))
        bad(w, MR_E_SYNTAX);
    else
        imap_w_raw(w, tag.p, tag.n);
}

void imap_w_command(imap_wbuf *w, mr_slice tag, const char *name)
{
    w_tag(w, tag);
    put1(w, ' ');
    mr_slice n = {name, strlen(name)};
    const char *sp = memchr(n.p, ' ', n.n);
    if (sp) { /* "UID FETCH" */
        mr_slice a = {n.p, (size_t)(sp - n.p)}, b = {sp + 1, n.n - a.n - 1};
        imap_w_atom(w, a);
        put1(w, ' ');
        imap_w_atom(w, b);
    } else {
        imap_w_atom(w, n);
    }
}

static int seqset_ok(mr_slice s)
{
    if (s.n == 1 && s.p[0] == '$')
        return 1;
    imap_seq_iter it;
    uint32_t lo, hi;
    int r, any = 0;
    imap_seq_begin(&it, s);
    while ((r = imap_seq_next(&it, &lo, &hi)) == 1)
        any = 1;
    return r == 0 && any;
}

static void raw_checked(imap_wbuf *w, mr_slice s)
{
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == 0) {
            bad(w, s.p[i] ? MR_E_SYNTAX : MR_E_NUL);
            return;
        }
    imap_w_raw(w, s.p, s.n);
}

int imap_write_command(char *buf, size_t cap, mr_slice tag, const char *name,
                       const imap_arg *args, size_t nargs, unsigned opts)
{
    imap_wbuf w;
    imap_wbuf_init(&w, buf, cap);
    imap_w_command(&w, tag, name);
    for (size_t i = 0; i < nargs; i++) {
        const imap_arg *a = &args[i];
        if (a->kind != IMAP_ARG_CLOSE && w.last != '(')
            put1(&w, ' ');
        switch (a->kind) {
        case IMAP_ARG_ATOM:
            imap_w_atom(&w, a->s);
            break;
        case IMAP_ARG_ASTRING:
            imap_w_astring(&w, a->s, opts);
            break;
        case IMAP_ARG_STRING:
            imap_w_string(&w, a->s, opts);
            break;
        case IMAP_ARG_LITERAL:
            imap_w_literal(&w, a->s, opts & (IMAP_W_NONSYNC | IMAP_W_BINARY));
            break;
        case IMAP_ARG_NUMBER:
            imap_w_number(&w, a->n);
            break;
        case IMAP_ARG_SEQSET:
            if (!seqset_ok(a->s))
                bad(&w, MR_E_SYNTAX);
            else
                imap_w_raw(&w, a->s.p, a->s.n);
            break;
        case IMAP_ARG_FLAG:
            imap_w_flag(&w, a->s);
            break;
        case IMAP_ARG_NIL:
            imap_w_raw(&w, "NIL", 3);
            break;
        case IMAP_ARG_OPEN:
            put1(&w, '(');
            break;
        case IMAP_ARG_CLOSE:
            put1(&w, ')');
            break;
        case IMAP_ARG_RAW:
            raw_checked(&w, a->s);
            break;
        default:
            bad(&w, MR_E_STATE);
        }
    }
    imap_w_crlf(&w);
    return imap_wbuf_result(&w);
}

/* ---- Responses ---------------------------------------------------------------------------- */

static const char *status_name(imap_status st)
{
    switch (st) {
    case IMAP_STATUS_OK:
        return "OK";
    case IMAP_STATUS_NO:
        return "NO";
    case IMAP_STATUS_BAD:
        return "BAD";
    case IMAP_STATUS_PREAUTH:
        return "PREAUTH";
    case IMAP_STATUS_BYE:
        return "BYE";
    default:
        return NULL;
    }
}

void imap_w_status(imap_wbuf *w, mr_slice tag, imap_status st, const char *code,
                   mr_slice code_args, mr_slice text, unsigned opts)
{
    const char *name = status_name(st);
    if (!name) {
        bad(w, MR_E_SYNTAX);
        return;
    }
    if (tag.n)
        w_tag(w, tag);
    else
        put1(w, '*');
    put1(w, ' ');
    imap_w_cstr(w, name);
    put1(w, ' ');
    if (code) {
        put1(w, '[');
        imap_w_atom(w, (mr_slice){code, strlen(code)});
        if (code_args.n) {
            put1(w, ' ');
            if (memchr(code_args.p, ']', code_args.n))
                bad(w, MR_E_SYNTAX);
            imap_w_text(w, code_args, 0);
        }
        imap_w_raw(w, "] ", 2);
    }
    imap_w_text(w, text, opts);
    imap_w_crlf(w);
}

void imap_w_continuation(imap_wbuf *w, mr_slice text, unsigned opts)
{
    imap_w_raw(w, "+ ", 2);
    if (text.n && text.p[0] == '[')
        bad(w, MR_E_SYNTAX); /* would read as a response code */
    imap_w_text(w, text, opts);
    imap_w_crlf(w);
}

void imap_w_capability(imap_wbuf *w, const mr_slice *caps, size_t n)
{
    imap_w_cstr(w, "* CAPABILITY");
    for (size_t i = 0; i < n; i++) {
        put1(w, ' ');
        imap_w_atom(w, caps[i]);
    }
    imap_w_crlf(w);
}

void imap_w_list_resp(imap_wbuf *w, const char *kw, const mr_slice *flags, size_t nflags,
                      char delim, mr_slice mailbox, unsigned opts)
{
    imap_w_raw(w, "* ", 2);
    imap_w_atom(w, (mr_slice){kw, strlen(kw)});
    put1(w, ' ');
    imap_w_flag_list(w, flags, nflags);
    put1(w, ' ');
    if (delim == 0)
        imap_w_raw(w, "NIL", 3);
    else
        imap_w_quoted(w, (mr_slice){&delim, 1}, 0);
    put1(w, ' ');
    imap_w_astring(w, mailbox, opts);
    imap_w_crlf(w);
}

void imap_w_status_resp(imap_wbuf *w, mr_slice mailbox, const char *const *names,
                        const uint64_t *values, size_t n, unsigned opts)
{
    imap_w_cstr(w, "* STATUS ");
    imap_w_astring(w, mailbox, opts);
    imap_w_raw(w, " (", 2);
    for (size_t i = 0; i < n; i++) {
        if (i)
            put1(w, ' ');
        imap_w_atom(w, (mr_slice){names[i], strlen(names[i])});
        put1(w, ' ');
        imap_w_number(w, values[i]);
    }
    put1(w, ')');
    imap_w_crlf(w);
}

void imap_w_search(imap_wbuf *w, const uint32_t *nums, size_t n)
{
    imap_w_cstr(w, "* SEARCH");
    for (size_t i = 0; i < n; i++) {
        put1(w, ' ');
        if (nums[i] == 0)
            bad(w, MR_E_NUMBER);
        imap_w_number(w, nums[i]);
    }
    imap_w_crlf(w);
}

void imap_w_flags(imap_wbuf *w, const mr_slice *flags, size_t n)
{
    imap_w_cstr(w, "* FLAGS ");
    imap_w_flag_list(w, flags, n);
    imap_w_crlf(w);
}

void imap_w_number_resp(imap_wbuf *w, uint32_t n, const char *kw)
{
    imap_w_raw(w, "* ", 2);
    imap_w_number(w, n);
    put1(w, ' ');
    imap_w_atom(w, (mr_slice){kw, strlen(kw)});
    imap_w_crlf(w);
}

void imap_w_fetch_begin(imap_wbuf *w, uint32_t msgno)
{
    imap_w_raw(w, "* ", 2);
    if (msgno == 0)
        bad(w, MR_E_NUMBER);
    imap_w_number(w, msgno);
    imap_w_raw(w, " FETCH (", 8);
}

void imap_w_fetch_att(imap_wbuf *w, const char *name)
{
    if (w->last != '(')
        put1(w, ' ');
    raw_checked(w, (mr_slice){name, strlen(name)});
    put1(w, ' ');
}

void imap_w_fetch_end(imap_wbuf *w)
{
    put1(w, ')');
    imap_w_crlf(w);
}

/* ---- ENVELOPE and BODYSTRUCTURE ------------------------------------------------------------ */

static void w_addr_list(imap_wbuf *w, const imap_addr_list_w *l, unsigned opts)
{
    if (l->nil) {
        imap_w_raw(w, "NIL", 3);
        return;
    }
    put1(w, '(');
    for (size_t i = 0; i < l->n; i++) {
        const imap_address *a = &l->a[i];
        put1(w, '(');
        imap_w_nstring(w, &a->name, opts);
        put1(w, ' ');
        imap_w_nstring(w, &a->adl, opts);
        put1(w, ' ');
        imap_w_nstring(w, &a->mailbox, opts);
        put1(w, ' ');
        imap_w_nstring(w, &a->host, opts);
        put1(w, ')');
    }
    put1(w, ')');
}

void imap_w_envelope(imap_wbuf *w, const imap_envelope_w *e, unsigned opts)
{
    const imap_addr_list_w *lists[6] = {&e->from, &e->sender, &e->reply_to,
                                        &e->to,   &e->cc,     &e->bcc};
    put1(w, '(');
    imap_w_nstring(w, &e->date, opts);
    put1(w, ' ');
    imap_w_nstring(w, &e->subject, opts);
    for (int k = 0; k < 6; k++) {
        put1(w, ' ');
        w_addr_list(w, lists[k], opts);
    }
    put1(w, ' ');
    imap_w_nstring(w, &e->in_reply_to, opts);
    put1(w, ' ');
    imap_w_nstring(w, &e->message_id, opts);
    put1(w, ')');
}

static void w_params(imap_wbuf *w, const imap_param_w *p, size_t n, int nil, unsigned opts)
{
    if (nil) {
        imap_w_raw(w, "NIL", 3);
        return;
    }
    put1(w, '(');
    for (size_t i = 0; i < n; i++) {
        if (i)
            put1(w, ' ');
        imap_w_nstring(w, &p[i].name, opts);
        put1(w, ' ');
        imap_w_nstring(w, &p[i].value, opts);
    }
    put1(w, ')');
}

static void w_body_ext(imap_wbuf *w, const imap_body_w *b, unsigned opts)
{
    if (b->ext < 2)
        return;
    put1(w, ' ');
    if (b->dsp_nil) {
        imap_w_raw(w, "NIL", 3);
    } else {
        put1(w, '(');
        imap_w_nstring(w, &b->dsp_type, opts);
        put1(w, ' ');
        w_params(w, b->dsp_params, b->ndsp_params, b->dsp_params_nil, opts);
        put1(w, ')');
    }
    if (b->ext < 3)
        return;
    put1(w, ' ');
    if (b->lang_list) {
        put1(w, '(');
        for (size_t i = 0; i < b->nlang; i++) {
            if (i)
                put1(w, ' ');
            imap_w_nstring(w, &b->lang[i], opts);
        }
        put1(w, ')');
    } else if (b->nlang) {
        imap_w_nstring(w, &b->lang[0], opts);
    } else {
        imap_w_raw(w, "NIL", 3);
    }
    if (b->ext < 4)
        return;
    put1(w, ' ');
    imap_w_nstring(w, &b->loc, opts);
    if (b->ext < 5 || !b->ext_toks || b->ext_from >= b->ext_to)
        return;
    put1(w, ' ');
    imap_w_tokens(w, b->ext_toks, b->ext_from, b->ext_to);
}

void imap_w_body(imap_wbuf *w, const imap_body_w *b, unsigned opts)
{
    put1(w, '(');
    if (b->nparts) {
        for (size_t i = 0; i < b->nparts; i++)
            imap_w_body(w, &b->parts[i], opts);
        put1(w, ' ');
        imap_w_nstring(w, &b->subtype, opts);
        if (b->ext >= 1) {
            put1(w, ' ');
            w_params(w, b->params, b->nparams, b->params_nil, opts);
        }
    } else {
        imap_w_nstring(w, &b->type, opts);
        put1(w, ' ');
        imap_w_nstring(w, &b->subtype, opts);
        put1(w, ' ');
        w_params(w, b->params, b->nparams, b->params_nil, opts);
        put1(w, ' ');
        imap_w_nstring(w, &b->id, opts);
        put1(w, ' ');
        imap_w_nstring(w, &b->description, opts);
        put1(w, ' ');
        imap_w_nstring(w, &b->encoding, opts);
        put1(w, ' ');
        imap_w_number(w, b->octets);
        if (b->envelope && b->body) {
            put1(w, ' ');
            imap_w_envelope(w, b->envelope, opts);
            put1(w, ' ');
            imap_w_body(w, b->body, opts);
        }
        if (b->has_lines) {
            put1(w, ' ');
            imap_w_number(w, b->lines);
        }
        if (b->ext >= 1) {
            put1(w, ' ');
            imap_w_nstring(w, &b->md5, opts);
        }
    }
    w_body_ext(w, b, opts);
    put1(w, ')');
}

/* ---- Parsed structures back to writer structs ---------------------------------------------- */

static int addr_list_to_w(const imap_toks *t, unsigned list, imap_struct_pool *pool,
                          imap_addr_list_w *out)
{
    memset(out, 0, sizeof *out);
    if (list < t->n && t->tok[list].type == IMAP_T_NIL) {
        out->nil = 1;
        return 0;
    }
    imap_addr_iter it;
    imap_address a;
    int r;
    if (imap_addr_begin(&it, t, list) != 0)
        return -1;
    out->a = pool->addrs + pool->addrs_used;
    while ((r = imap_addr_next(&it, &a)) == 1) {
        if (pool->addrs_used == pool->naddrs)
            return -1;
        pool->addrs[pool->addrs_used++] = a;
        out->n++;
    }
    return r;
}

int imap_envelope_to_w(const imap_toks *t, unsigned env, imap_struct_pool *pool,
                       const imap_envelope_w **out)
{
    imap_envelope e;
    if (imap_envelope_decode(t, env, &e) != 0 || pool->envelopes_used == pool->nenvelopes)
        return -1;
    imap_envelope_w *w = &pool->envelopes[pool->envelopes_used++];
    memset(w, 0, sizeof *w);
    w->date = e.date;
    w->subject = e.subject;
    w->in_reply_to = e.in_reply_to;
    w->message_id = e.message_id;
    if (addr_list_to_w(t, e.from, pool, &w->from) || addr_list_to_w(t, e.sender, pool, &w->sender) ||
        addr_list_to_w(t, e.reply_to, pool, &w->reply_to) ||
        addr_list_to_w(t, e.to, pool, &w->to) || addr_list_to_w(t, e.cc, pool, &w->cc) ||
        addr_list_to_w(t, e.bcc, pool, &w->bcc))
        return -1;
    *out = w;
    return 0;
}

static int params_to_w(const imap_toks *t, unsigned params, imap_struct_pool *pool,
                       const imap_param_w **p, size_t *n, int *nil)
{
    *p = pool->params + pool->params_used;
    *n = 0;
    *nil = params == IMAP_NONE || (params < t->n && t->tok[params].type == IMAP_T_NIL);
    imap_param_iter it;
    imap_param_w pw;
    int r;
    if (imap_param_begin(&it, t, params) != 0)
        return -1;
    while ((r = imap_param_next(&it, &pw.name, &pw.value)) == 1) {
        if (pool->params_used == pool->nparams)
            return -1;
        pool->params[pool->params_used++] = pw;
        (*n)++;
    }
    return r;
}

/* Extension data of b (decoded) into w: how many fields there are, and their values. */
static int body_ext_to_w(const imap_toks *t, const imap_body *b, imap_struct_pool *pool,
                         imap_body_w *w)
{
    if (!b->has_ext)
        return 0;
    w->ext = 1;
    if (b->dsp == IMAP_NONE)
        return 0;
    w->ext = 2;
    unsigned dp;
    if (imap_dsp_decode(t, b->dsp, &w->dsp_type, &dp) != 0)
        return -1;
    w->dsp_nil = t->tok[b->dsp].type == IMAP_T_NIL;
    if (!w->dsp_nil && params_to_w(t, dp, pool, &w->dsp_params, &w->ndsp_params,
                                   &w->dsp_params_nil) != 0)
        return -1;
    if (b->lang == IMAP_NONE)
        return 0;
    w->ext = 3;
    w->lang = pool->strings + pool->strings_used;
    if (t->tok[b->lang].type == IMAP_T_LIST) {
        w->lang_list = 1;
        unsigned end = imap_tok_next(t, b->lang);
        for (unsigned k = b->lang + 1; k < end; k = imap_tok_next(t, k)) {
            if (pool->strings_used == pool->nstrings ||
                imap_tok_nstring(t, k, &pool->strings[pool->strings_used]) != 0)
                return -1;
            pool->strings_used++;
            w->nlang++;
        }
    } else if (t->tok[b->lang].type != IMAP_T_NIL) {
        if (pool->strings_used == pool->nstrings ||
            imap_tok_nstring(t, b->lang, &pool->strings[pool->strings_used]) != 0)
            return -1;
        pool->strings_used++;
        w->nlang = 1;
    }
    if (b->loc == IMAP_NONE)
        return 0;
    w->ext = 4;
    if (imap_tok_nstring(t, b->loc, &w->loc) != 0)
        return -1;
    if (b->ext == IMAP_NONE)
        return 0;
    w->ext = 5;
    w->ext_toks = t;
    w->ext_from = b->ext;
    w->ext_to = imap_tok_next(t, b->tok); /* the extensions run to the end of the body */
    return 0;
}

static int body_fill(const imap_toks *t, unsigned body, imap_struct_pool *pool, imap_body_w *w)
{
    imap_body b;
    memset(w, 0, sizeof *w);
    if (imap_body_decode(t, body, &b) != 0)
        return -1;
    w->subtype = b.subtype;
    if (b.multipart) {
        if (pool->nbodies - pool->bodies_used < b.nparts)
            return -1;
        imap_body_w *parts = pool->bodies + pool->bodies_used;
        pool->bodies_used += b.nparts;
        w->parts = parts;
        w->nparts = b.nparts;
        unsigned p = b.first_part;
        for (unsigned k = 0; k < b.nparts; k++, p = imap_tok_next(t, p))
            if (body_fill(t, p, pool, &parts[k]) != 0)
                return -1;
        if (b.has_ext &&
            params_to_w(t, b.params, pool, &w->params, &w->nparams, &w->params_nil) != 0)
            return -1;
        return body_ext_to_w(t, &b, pool, w);
    }
    w->type = b.type;
    w->id = b.id;
    w->description = b.description;
    w->encoding = b.encoding;
    w->octets = b.octets;
    w->has_lines = b.has_lines;
    w->lines = b.lines;
    w->md5 = b.md5;
    if (params_to_w(t, b.params, pool, &w->params, &w->nparams, &w->params_nil) != 0)
        return -1;
    if (b.envelope != IMAP_NONE) {
        if (imap_envelope_to_w(t, b.envelope, pool, &w->envelope) != 0 ||
            pool->bodies_used == pool->nbodies)
            return -1;
        imap_body_w *inner = &pool->bodies[pool->bodies_used++];
        if (body_fill(t, b.body, pool, inner) != 0)
            return -1;
        w->body = inner;
    }
    return body_ext_to_w(t, &b, pool, w);
}

int imap_body_to_w(const imap_toks *t, unsigned body, imap_struct_pool *pool,
                   const imap_body_w **out)
{
    if (pool->bodies_used == pool->nbodies)
        return -1;
    imap_body_w *w = &pool->bodies[pool->bodies_used++];
    if (body_fill(t, body, pool, w) != 0)
        return -1;
    *out = w;
    return 0;
}
