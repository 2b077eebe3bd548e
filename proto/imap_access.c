/* imap_access.c -- see imap_access.h. */
#include "proto/imap_access.h"

#include <string.h>

/* ---- Tokens ----------------------------------------------------------------------------- */

static int valid(const imap_toks *t, unsigned i)
{
    return t && i < t->n;
}

static int is_type(const imap_toks *t, unsigned i, int type)
{
    return valid(t, i) && t->tok[i].type == type;
}

static int elided(const imap_token *k)
{
    return k->type == IMAP_T_LITERAL && (k->flags & (IMAP_TF_STREAMED | IMAP_TF_PENDING));
}

mr_slice imap_tok_slice(const imap_toks *t, unsigned i)
{
    mr_slice s = {"", 0};
    if (!valid(t, i))
        return s;
    const imap_token *k = &t->tok[i];
    s.p = t->base + k->off;
    s.n = elided(k) ? 0 : k->len;
    return s;
}

unsigned imap_tok_next(const imap_toks *t, unsigned i)
{
    if (!valid(t, i))
        return t ? t->n : 0;
    unsigned nx = t->tok[i].next;
    return nx > i && nx <= t->n ? nx : t->n;
}

unsigned imap_tok_count(const imap_toks *t, unsigned i)
{
    unsigned end = imap_tok_next(t, i), c = 0;
    for (unsigned k = i + 1; k < end; k = imap_tok_next(t, k))
        c++;
    return c;
}

unsigned imap_tok_child(const imap_toks *t, unsigned i, unsigned k)
{
    unsigned end = imap_tok_next(t, i);
    for (unsigned j = i + 1; j < end; j = imap_tok_next(t, j))
        if (k-- == 0)
            return j;
    return IMAP_NONE;
}

int imap_tok_u64(const imap_toks *t, unsigned i, uint64_t max, uint64_t *v)
{
    if (!valid(t, i) || (t->tok[i].type != IMAP_T_NUMBER && t->tok[i].type != IMAP_T_ATOM))
        return -1;
    return mr_parse_u64(imap_tok_slice(t, i), max, v);
}

int imap_tok_is(const imap_toks *t, unsigned i, const char *kw)
{
    if (!valid(t, i) || (t->tok[i].type != IMAP_T_ATOM && t->tok[i].type != IMAP_T_NIL))
        return 0;
    return mr_slice_eq_ci(imap_tok_slice(t, i), kw);
}

int imap_tok_nstring(const imap_toks *t, unsigned i, imap_nstring *out)
{
    memset(out, 0, sizeof *out);
    out->s.p = "";
    if (!valid(t, i))
        return -1;
    const imap_token *k = &t->tok[i];
    switch (k->type) {
    case IMAP_T_NIL:
        out->nil = 1;
        return 0;
    case IMAP_T_QUOTED:
    case IMAP_T_ATOM:
    case IMAP_T_NUMBER:
        out->s = imap_tok_slice(t, i);
        out->escaped = (k->flags & IMAP_TF_ESCAPED) != 0;
        out->literal_size = out->s.n;
        return 0;
    case IMAP_T_LITERAL:
        out->s = imap_tok_slice(t, i);
        out->streamed = elided(k);
        out->binary = (k->flags & IMAP_TF_BINARY) != 0;
        out->literal_size = k->len;
        return 0;
    default:
        return -1;
    }
}

size_t imap_unescape(const char *q, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = q[i];
        if (c == '\\' && i + 1 < n)
            c = q[++i];
        if (o < cap)
            buf[o] = c;
        o++;
    }
    return o;
}

int imap_tok_copy(const imap_toks *t, unsigned i, char *buf, size_t cap)
{
    imap_nstring v;
    if (imap_tok_nstring(t, i, &v) != 0 || v.nil || v.streamed)
        return MR_ERROR;
    size_t n = v.escaped ? imap_unescape(v.s.p, v.s.n, buf, cap) : v.s.n;
    if (!v.escaped)
        memcpy(buf, v.s.p, v.s.n < cap ? v.s.n : cap);
    return n > MR_LIMIT_MAX ? MR_ERROR : (int)n;
}

/* Compare two quoted/literal contents by their unescaped bytes, without a buffer. */
static int string_eq(mr_slice a, int aesc, mr_slice b, int besc)
{
    size_t i = 0, j = 0;
    for (;;) {
        if (i == a.n || j == b.n)
            return i == a.n && j == b.n;
        char x = a.p[i], y = b.p[j];
        if (aesc && x == '\\' && i + 1 < a.n)
            x = a.p[++i];
        if (besc && y == '\\' && j + 1 < b.n)
            y = b.p[++j];
        if (x != y)
            return 0;
        i++;
        j++;
    }
}

static int string_class(int type)
{
    return type == IMAP_T_QUOTED || type == IMAP_T_LITERAL;
}

int imap_toks_equal(const imap_toks *a, const imap_toks *b)
{
    if (a->n != b->n)
        return 0;
    const uint8_t keep = IMAP_TF_BINARY | IMAP_TF_STREAMED | IMAP_TF_PENDING;
    for (unsigned k = 0; k < a->n; k++) {
        const imap_token *x = &a->tok[k], *y = &b->tok[k];
        int same_type = x->type == y->type || (string_class(x->type) && string_class(y->type));
        if (!same_type || x->next != y->next || x->depth != y->depth ||
            (x->flags & keep) != (y->flags & keep))
            return 0;
        if (elided(x) || elided(y)) {
            if (x->len != y->len)
                return 0;
            continue;
        }
        mr_slice sx = imap_tok_slice(a, k), sy = imap_tok_slice(b, k);
        switch (x->type) {
        case IMAP_T_LIST:
        case IMAP_T_CODE:
        case IMAP_T_SECTION: /* containers: their children say it all */
            break;
        case IMAP_T_NIL:
            break;
        case IMAP_T_QUOTED:
        case IMAP_T_LITERAL:
            if (!string_eq(sx, (x->flags & IMAP_TF_ESCAPED) != 0, sy,
                           (y->flags & IMAP_TF_ESCAPED) != 0))
                return 0;
            break;
        case IMAP_T_NUMBER: /* by value: "05" is 5 */
            while (sx.n > 1 && sx.p[0] == '0') {
                sx.p++;
                sx.n--;
            }
            while (sy.n > 1 && sy.p[0] == '0') {
                sy.p++;
                sy.n--;
            }
            if (sx.n != sy.n || memcmp(sx.p, sy.p, sx.n) != 0)
                return 0;
            break;
        default:
            if (sx.n != sy.n || (sx.n && memcmp(sx.p, sy.p, sx.n) != 0))
                return 0;
        }
    }
    return 1;
}

static int slice_same(mr_slice a, mr_slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

int imap_response_equal(const imap_response *a, const imap_response *b)
{
    return a->kind == b->kind && a->type == b->type && a->status == b->status &&
           a->code == b->code && a->code_tok == b->code_tok && a->has_number == b->has_number &&
           a->number == b->number && slice_same(a->tag, b->tag) && slice_same(a->name, b->name) &&
           slice_same(a->text, b->text) && imap_toks_equal(&a->t, &b->t);
}

int imap_command_equal(const imap_command *a, const imap_command *b)
{
    return a->kind == b->kind && a->type == b->type && a->uid == b->uid &&
           a->partial == b->partial && slice_same(a->tag, b->tag) &&
           slice_same(a->name, b->name) && imap_toks_equal(&a->t, &b->t);
}

/* ---- Capabilities ----------------------------------------------------------------------- */

int imap_cap_begin(imap_cap_iter *it, const imap_response *r)
{
    it->t = &r->t;
    if (r->type == IMAP_R_CAPABILITY || r->type == IMAP_R_ENABLED) {
        it->i = 0;
        it->end = r->t.n;
        return 0;
    }
    if (r->code == IMAP_CODE_CAPABILITY && r->code_tok >= 0 &&
        is_type(&r->t, (unsigned)r->code_tok, IMAP_T_CODE)) {
        it->i = (unsigned)r->code_tok + 2; /* after the CODE and its name */
        it->end = imap_tok_next(&r->t, (unsigned)r->code_tok);
        return 0;
    }
    it->i = it->end = 0;
    return -1;
}

int imap_cap_next(imap_cap_iter *it, mr_slice *cap)
{
    while (it->i < it->end) {
        unsigned k = it->i;
        it->i = imap_tok_next(it->t, k);
        if (it->t->tok[k].type == IMAP_T_ATOM) {
            *cap = imap_tok_slice(it->t, k);
            return 1;
        }
    }
    return 0;
}

int imap_cap_has(const imap_response *r, const char *name)
{
    imap_cap_iter it;
    mr_slice c;
    if (imap_cap_begin(&it, r) != 0)
        return 0;
    while (imap_cap_next(&it, &c))
        if (mr_slice_eq_ci(c, name))
            return 1;
    return 0;
}

/* ---- Sequence sets ---------------------------------------------------------------------- */

void imap_seq_begin(imap_seq_iter *it, mr_slice set)
{
    it->p = set.p;
    it->end = set.p + set.n;
    it->saved = set.n == 1 && set.p[0] == '$';
    if (it->saved)
        it->p = it->end;
}

static int seq_num(imap_seq_iter *it, uint32_t *v)
{
    if (it->p < it->end && *it->p == '*') {
        it->p++;
        *v = IMAP_SEQ_STAR;
        return 0;
    }
    const char *a = it->p;
    while (it->p < it->end && *it->p >= '0' && *it->p <= '9')
        it->p++;
    uint64_t x;
    mr_slice d = {a, (size_t)(it->p - a)};
    if (mr_parse_u64(d, UINT32_MAX, &x) != 0 || x == 0)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

int imap_seq_next(imap_seq_iter *it, uint32_t *lo, uint32_t *hi)
{
    if (it->p >= it->end)
        return 0;
    if (seq_num(it, lo) != 0)
        return -1;
    *hi = *lo;
    if (it->p < it->end && *it->p == ':') {
        it->p++;
        if (seq_num(it, hi) != 0)
            return -1;
    }
    if (it->p < it->end) {
        if (*it->p != ',' || it->p + 1 == it->end)
            return -1;
        it->p++;
    }
    return 1;
}

/* ---- FETCH ------------------------------------------------------------------------------ */

int imap_fetch_begin(imap_fetch_iter *it, const imap_response *r)
{
    it->t = &r->t;
    it->command = 0;
    it->i = it->end = 0;
    if (r->type != IMAP_R_FETCH || !is_type(&r->t, 0, IMAP_T_LIST))
        return -1;
    it->i = 1;
    it->end = imap_tok_next(&r->t, 0);
    return 0;
}

int imap_fetch_cmd_begin(imap_fetch_iter *it, const imap_command *c)
{
    it->t = &c->t;
    it->command = 1;
    it->i = it->end = 0;
    if (c->type != IMAP_CMD_FETCH || !is_type(&c->t, 0, IMAP_T_SEQSET) || c->t.n < 2)
        return -1;
    unsigned k = imap_tok_next(&c->t, 0);
    if (is_type(&c->t, k, IMAP_T_LIST)) {
        it->i = k + 1;
        it->end = imap_tok_next(&c->t, k);
    } else {
        it->i = k;
        it->end = imap_tok_next(&c->t, k);
    }
    return 0;
}

static int partial_decode(mr_slice p, uint32_t *origin, uint32_t *size)
{
    const char *dot = memchr(p.p, '.', p.n);
    uint64_t a = 0, b = 0;
    mr_slice first = {p.p, dot ? (size_t)(dot - p.p) : p.n};
    if (mr_parse_u64(first, UINT32_MAX, &a) != 0)
        return -1;
    if (dot) {
        mr_slice second = {dot + 1, p.n - first.n - 1};
        if (mr_parse_u64(second, UINT32_MAX, &b) != 0)
            return -1;
    }
    *origin = (uint32_t)a;
    *size = (uint32_t)b;
    return 0;
}

int imap_fetch_next(imap_fetch_iter *it, imap_fetch_att *att)
{
    if (it->i >= it->end)
        return 0;
    const imap_toks *t = it->t;
    unsigned k = it->i;
    memset(att, 0, sizeof *att);
    att->section_tok = att->value = IMAP_NONE;
    if (!is_type(t, k, IMAP_T_ATOM))
        return -1;
    att->name_tok = k;
    att->name = imap_tok_slice(t, k);
    att->att = imap_att_lookup(att->name.p, att->name.n);
    unsigned end = imap_tok_next(t, k);
    for (unsigned j = k + 1; j < end; j = imap_tok_next(t, j)) {
        if (t->tok[j].type == IMAP_T_SECTION) {
            att->has_section = 1;
            att->section = imap_tok_slice(t, j);
            att->section_tok = j;
        } else if (t->tok[j].type == IMAP_T_PARTIAL) {
            att->has_partial = 1;
            if (partial_decode(imap_tok_slice(t, j), &att->origin, &att->size) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    it->i = end;
    if (!it->command) {
        if (it->i >= it->end)
            return -1;
        att->value = it->i;
        it->i = imap_tok_next(t, it->i);
    }
    return 1;
}

int imap_section_decode(const imap_toks *t, unsigned section_tok, imap_section *out)
{
    memset(out, 0, sizeof *out);
    out->fields = IMAP_NONE;
    if (!is_type(t, section_tok, IMAP_T_SECTION))
        return -1;
    unsigned spec = section_tok + 1, end = imap_tok_next(t, section_tok);
    if (spec >= end)
        return 0;
    if (!is_type(t, spec, IMAP_T_ATOM))
        return -1;
    mr_slice s = imap_tok_slice(t, spec);
    size_t i = 0;
    while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9') {
        size_t a = i;
        while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9')
            i++;
        uint64_t v;
        mr_slice d = {s.p + a, i - a};
        if (mr_parse_u64(d, UINT32_MAX, &v) != 0 || v == 0 ||
            out->nparts == IMAP_SECTION_PARTS_MAX)
            return -1;
        out->part[out->nparts++] = (uint32_t)v;
        if (i < s.n && s.p[i] == '.')
            i++;
        else
            break;
    }
    mr_slice text = {s.p + i, s.n - i};
    if (text.n == 0)
        out->text = IMAP_SECT_NONE;
    else if (mr_slice_eq_ci(text, "HEADER"))
        out->text = IMAP_SECT_HEADER;
    else if (mr_slice_eq_ci(text, "HEADER.FIELDS"))
        out->text = IMAP_SECT_HEADER_FIELDS;
    else if (mr_slice_eq_ci(text, "HEADER.FIELDS.NOT"))
        out->text = IMAP_SECT_HEADER_FIELDS_NOT;
    else if (mr_slice_eq_ci(text, "TEXT"))
        out->text = IMAP_SECT_TEXT;
    else if (mr_slice_eq_ci(text, "MIME"))
        out->text = IMAP_SECT_MIME;
    else
        return -1;
    unsigned list = imap_tok_next(t, spec);
    int wants_list = out->text == IMAP_SECT_HEADER_FIELDS ||
                     out->text == IMAP_SECT_HEADER_FIELDS_NOT;
    if (wants_list != (list < end) || (wants_list && !is_type(t, list, IMAP_T_LIST)))
        return -1;
    if (wants_list)
        out->fields = list;
    return 0;
}

/* ---- ENVELOPE --------------------------------------------------------------------------- */

static int is_addr_list(const imap_toks *t, unsigned i)
{
    return is_type(t, i, IMAP_T_LIST) || is_type(t, i, IMAP_T_NIL);
}

int imap_envelope_decode(const imap_toks *t, unsigned i, imap_envelope *env)
{
    memset(env, 0, sizeof *env);
    if (!is_type(t, i, IMAP_T_LIST) || imap_tok_count(t, i) != 10)
        return -1;
    unsigned f[10];
    for (unsigned k = 0, j = i + 1; k < 10; k++, j = imap_tok_next(t, j))
        f[k] = j;
    for (unsigned k = 2; k < 8; k++)
        if (!is_addr_list(t, f[k]))
            return -1;
    env->from = f[2];
    env->sender = f[3];
    env->reply_to = f[4];
    env->to = f[5];
    env->cc = f[6];
    env->bcc = f[7];
    if (imap_tok_nstring(t, f[0], &env->date) || imap_tok_nstring(t, f[1], &env->subject) ||
        imap_tok_nstring(t, f[8], &env->in_reply_to) ||
        imap_tok_nstring(t, f[9], &env->message_id))
        return -1;
    return 0;
}

int imap_addr_begin(imap_addr_iter *it, const imap_toks *t, unsigned list)
{
    it->t = t;
    it->i = it->end = 0;
    if (is_type(t, list, IMAP_T_NIL))
        return 0;
    if (!is_type(t, list, IMAP_T_LIST))
        return -1;
    it->i = list + 1;
    it->end = imap_tok_next(t, list);
    return 0;
}

int imap_addr_next(imap_addr_iter *it, imap_address *a)
{
    if (it->i >= it->end)
        return 0;
    const imap_toks *t = it->t;
    unsigned k = it->i;
    memset(a, 0, sizeof *a);
    if (!is_type(t, k, IMAP_T_LIST) || imap_tok_count(t, k) != 4)
        return -1;
    imap_nstring *f[4] = {&a->name, &a->adl, &a->mailbox, &a->host};
    unsigned j = k + 1;
    for (int n = 0; n < 4; n++, j = imap_tok_next(t, j))
        if (imap_tok_nstring(t, j, f[n]) != 0)
            return -1;
    if (a->host.nil)
        a->kind = a->mailbox.nil ? IMAP_ADDR_GROUP_END : IMAP_ADDR_GROUP_START;
    it->i = imap_tok_next(t, k);
    return 1;
}

/* ---- BODY / BODYSTRUCTURE --------------------------------------------------------------- */

static int is_nstring_tok(const imap_toks *t, unsigned i)
{
    return valid(t, i) && (t->tok[i].type == IMAP_T_QUOTED || t->tok[i].type == IMAP_T_LITERAL ||
                           t->tok[i].type == IMAP_T_NIL);
}

static int is_param_tok(const imap_toks *t, unsigned i)
{
    return is_type(t, i, IMAP_T_LIST) || is_type(t, i, IMAP_T_NIL);
}

/* Extension fields after md5 (1part) or params (mpart): dsp, lang, loc, more. */
static void body_ext_tail(const imap_toks *t, unsigned j, unsigned end, imap_body *b)
{
    if (j >= end)
        return;
    b->dsp = j;
    if ((j = imap_tok_next(t, j)) >= end)
        return;
    b->lang = j;
    if ((j = imap_tok_next(t, j)) >= end)
        return;
    b->loc = j;
    if ((j = imap_tok_next(t, j)) >= end)
        return;
    b->ext = j;
}

static int nstr_eq(const imap_nstring *s, const char *kw)
{
    return !s->nil && mr_slice_eq_ci(s->s, kw);
}

int imap_body_decode(const imap_toks *t, unsigned i, imap_body *b)
{
    memset(b, 0, sizeof *b);
    b->tok = i;
    b->first_part = b->params = b->envelope = b->body = IMAP_NONE;
    b->dsp = b->lang = b->loc = b->ext = IMAP_NONE;
    b->type.s.p = b->subtype.s.p = "";
    if (!is_type(t, i, IMAP_T_LIST))
        return -1;
    unsigned end = imap_tok_next(t, i), j = i + 1;
    if (j >= end)
        return -1;
    if (t->tok[j].type == IMAP_T_LIST) {
        b->multipart = 1;
        b->first_part = j;
        while (j < end && t->tok[j].type == IMAP_T_LIST) {
            b->nparts++;
            j = imap_tok_next(t, j);
        }
        if (j >= end || !is_nstring_tok(t, j) || imap_tok_nstring(t, j, &b->subtype) != 0)
            return -1;
        if ((j = imap_tok_next(t, j)) >= end)
            return 0;
        if (!is_param_tok(t, j))
            return -1;
        b->has_ext = 1;
        b->params = j;
        body_ext_tail(t, imap_tok_next(t, j), end, b);
        return 0;
    }
    unsigned f[7];
    for (unsigned k = 0; k < 7; k++, j = imap_tok_next(t, j)) {
        if (j >= end)
            return -1;
        f[k] = j;
    }
    if (!is_nstring_tok(t, f[0]) || !is_nstring_tok(t, f[1]) || !is_param_tok(t, f[2]) ||
        !is_nstring_tok(t, f[3]) || !is_nstring_tok(t, f[4]) || !is_nstring_tok(t, f[5]))
        return -1;
    imap_tok_nstring(t, f[0], &b->type);
    imap_tok_nstring(t, f[1], &b->subtype);
    b->params = f[2];
    imap_tok_nstring(t, f[3], &b->id);
    imap_tok_nstring(t, f[4], &b->description);
    imap_tok_nstring(t, f[5], &b->encoding);
    if (imap_tok_u64(t, f[6], UINT32_MAX, &b->octets) != 0 || t->tok[f[6]].type != IMAP_T_NUMBER)
        return -1;
    int is_msg = nstr_eq(&b->type, "MESSAGE") &&
                 (nstr_eq(&b->subtype, "RFC822") || nstr_eq(&b->subtype, "GLOBAL"));
    if (nstr_eq(&b->type, "TEXT")) {
        if (!is_type(t, j, IMAP_T_NUMBER) || j >= end ||
            imap_tok_u64(t, j, UINT64_MAX, &b->lines) != 0)
            return -1;
        b->has_lines = 1;
        j = imap_tok_next(t, j);
    } else if (is_msg && j < end && is_type(t, j, IMAP_T_LIST)) {
        b->envelope = j;
        j = imap_tok_next(t, j);
        if (j >= end || !is_type(t, j, IMAP_T_LIST))
            return -1;
        b->body = j;
        j = imap_tok_next(t, j);
        if (j >= end || !is_type(t, j, IMAP_T_NUMBER) ||
            imap_tok_u64(t, j, UINT64_MAX, &b->lines) != 0)
            return -1;
        b->has_lines = 1;
        j = imap_tok_next(t, j);
    }
    if (j >= end)
        return 0;
    if (!is_nstring_tok(t, j))
        return -1;
    b->has_ext = 1;
    imap_tok_nstring(t, j, &b->md5);
    body_ext_tail(t, imap_tok_next(t, j), end, b);
    return 0;
}

int imap_body_find(const imap_toks *t, unsigned root, const uint32_t *path, unsigned n,
                   imap_body *out)
{
    unsigned cur = root;
    for (unsigned d = 0; d < n; d++) {
        imap_body b;
        if (imap_body_decode(t, cur, &b) != 0)
            return -1;
        if (!b.multipart && b.body != IMAP_NONE) { /* message/rfc822: into the message */
            if (imap_body_decode(t, b.body, &b) != 0)
                return -1;
            cur = b.tok;
        }
        if (b.multipart) {
            if (path[d] < 1 || path[d] > b.nparts)
                return -1;
            unsigned p = b.first_part;
            for (uint32_t k = 1; k < path[d]; k++)
                p = imap_tok_next(t, p);
            cur = p;
        } else if (path[d] != 1) {
            return -1;
        }
    }
    return imap_body_decode(t, cur, out);
}

int imap_param_begin(imap_param_iter *it, const imap_toks *t, unsigned params)
{
    it->t = t;
    it->i = it->end = 0;
    if (params == IMAP_NONE || is_type(t, params, IMAP_T_NIL))
        return 0;
    if (!is_type(t, params, IMAP_T_LIST))
        return -1;
    it->i = params + 1;
    it->end = imap_tok_next(t, params);
    return 0;
}

int imap_param_next(imap_param_iter *it, imap_nstring *name, imap_nstring *value)
{
    if (it->i >= it->end)
        return 0;
    unsigned k = it->i, v = imap_tok_next(it->t, k);
    if (v >= it->end || !is_nstring_tok(it->t, k) || !is_nstring_tok(it->t, v))
        return -1;
    imap_tok_nstring(it->t, k, name);
    imap_tok_nstring(it->t, v, value);
    it->i = imap_tok_next(it->t, v);
    return 1;
}

int imap_dsp_decode(const imap_toks *t, unsigned dsp, imap_nstring *type, unsigned *params)
{
    *params = IMAP_NONE;
    if (is_type(t, dsp, IMAP_T_NIL))
        return imap_tok_nstring(t, dsp, type);
    if (!is_type(t, dsp, IMAP_T_LIST) || imap_tok_count(t, dsp) != 2)
        return -1;
    unsigned p = imap_tok_next(t, dsp + 1);
    if (!is_nstring_tok(t, dsp + 1) || !is_param_tok(t, p))
        return -1;
    imap_tok_nstring(t, dsp + 1, type);
    *params = p;
    return 0;
}
