/* smtp_reply.c -- see smtp_reply.h. */
#include "proto/smtp_reply.h"

#include <string.h>

#include "proto/mr_out.h"
#include "proto/mr_scan.h"

#define RFC_REPLY_LINE 510  /* RFC 5321 4.5.3.1.5: 512 octets with CRLF */
#define RFC_AUTH_LINE 12286 /* RFC 4954 4: 12288 octets with CRLF */

smtp_reply_limits smtp_reply_limits_default(void)
{
    smtp_reply_limits lim = {.max_line = RFC_AUTH_LINE};
    return lim;
}

void smtp_reply_init(smtp_reply *rep, smtp_reply_line *lines, size_t lines_cap)
{
    memset(rep, 0, sizeof *rep);
    rep->lines = lines;
    rep->lines_cap = lines_cap;
}

static int is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static void reset_scan(smtp_reply *rep)
{
    rep->scan_pos = 0;
    rep->scan_lines = 0;
}

/* Text of a reply line: HT and printable ASCII (textstring, RFC 5321 4.2); lenient also takes
 * 8-bit bytes. Returns 0 or MR_ERROR at the first bad byte. Runs of printable ASCII, the
 * common case, go 8 bytes a step. */
static int check_text(const char *buf, size_t from, size_t to, mr_mode mode, mr_error *err)
{
    for (size_t i = from;; i++) {
        i += mr_scan_printable(buf + i, to - i);
        if (i >= to)
            return 0;
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\t')
            continue;
        if (ch >= 0x80) {
            if (mode == MR_STRICT)
                return mr_fail(err, MR_E_8BIT, "textstring", i);
            continue;
        }
        mr_errcode code = ch == 0 ? MR_E_NUL : ch == '\r' ? MR_E_BARE_CR : MR_E_CTL;
        return mr_fail(err, code, "textstring", i);
    }
}

/* An enhanced status code at the start of p: class "." 1*3digit "." 1*3digit (RFC 3463 2),
 * class 2, 4 or 5, followed by SP or the end. Returns its length, or 0. */
static size_t status_len(const char *p, size_t n)
{
    if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
        return 0;
    size_t i = 2;
    for (int part = 0; part < 2; part++) {
        size_t from = i;
        while (i < n && is_digit(p[i]) && i - from < 4)
            i++;
        if (i == from || i - from > 3)
            return 0;
        if (part == 0) {
            if (i >= n || p[i] != '.')
                return 0;
            i++;
        }
    }
    return i < n && p[i] != ' ' ? 0 : i;
}

static unsigned small_number(const char *p, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(p[i] - '0');
    return v;
}

static void record_status(smtp_reply *rep, mr_slice s)
{
    const char *dot1 = memchr(s.p + 2, '.', s.n - 2);
    rep->has_status = 1;
    rep->status_class = (unsigned)(s.p[0] - '0');
    rep->status_subject = small_number(s.p + 2, (size_t)(dot1 - s.p) - 2);
    rep->status_detail = small_number(dot1 + 1, (size_t)(s.p + s.n - dot1) - 1);
}

/* Reply-code = %x32-35 %x30-35 %x30-39 (strict); lenient takes 100-599. */
static int parse_code(const char *p, size_t n, size_t at, mr_mode mode, unsigned *code,
                      mr_error *err)
{
    static const char lo_strict[3] = {'2', '0', '0'}, hi_strict[3] = {'5', '5', '9'};
    static const char lo_lenient[3] = {'1', '0', '0'}, hi_lenient[3] = {'5', '9', '9'};
    const char *lo = mode == MR_STRICT ? lo_strict : lo_lenient;
    const char *hi = mode == MR_STRICT ? hi_strict : hi_lenient;
    for (size_t k = 0; k < 3; k++)
        if (k >= n || p[k] < lo[k] || p[k] > hi[k])
            return mr_fail(err, MR_E_SYNTAX, "Reply-code", at + k);
    *code = small_number(p, 3);
    return 0;
}

/* Parse the line buf[pos, body_end) as line number k of the reply. */
static int parse_line(const char *buf, size_t pos, size_t body_end, size_t k, int final,
                      mr_mode mode, smtp_reply *rep, mr_error *err)
{
    size_t n = body_end - pos;
    unsigned code = 0;
    if (parse_code(buf + pos, n, pos, mode, &code, err))
        return MR_ERROR;
    int strict = mode == MR_STRICT;
    if (strict && n > RFC_REPLY_LINE && code != 334)
        return mr_fail(err, MR_E_LIMIT_LINE, "Reply-line", pos + RFC_REPLY_LINE);
    if (n > 3 && buf[pos + 3] != (final ? ' ' : '-'))
        return mr_fail(err, MR_E_SYNTAX, "Reply-line", pos + 3);
    if (strict && k > 0 && code != rep->code) /* RFC 5321 4.2.1: one code per reply */
        return mr_fail(err, MR_E_SYNTAX, "Reply-code", pos);
    size_t t = n > 3 ? pos + 4 : body_end;
    if (check_text(buf, t, body_end, mode, err))
        return MR_ERROR;
    if (strict && final && n == 4 && code != 334) /* "SP textstring": 1* (334: RFC 4954 4) */
        return mr_fail(err, MR_E_EMPTY, "textstring", t);
    smtp_reply_line *line = &rep->lines[k];
    size_t sl = status_len(buf + t, body_end - t);
    line->status.p = buf + t;
    line->status.n = sl;
    if (sl) {
        if (strict && (unsigned)(buf[t] - '0') != code / 100) /* RFC 3463 2: class = reply */
            return mr_fail(err, MR_E_SYNTAX, "status-code", t);
        if (k == 0)
            record_status(rep, line->status);
        t += sl + (t + sl < body_end); /* the status and its SP */
    }
    line->text.p = buf + t;
    line->text.n = body_end - t;
    rep->code = code;
    return 0;
}

/* Check and record line k of the reply, buf[pos..lf] (lf: its LF), while it is still in
 * the cache from the framing memchr. */
static int parse_framed_line(const char *buf, size_t pos, size_t lf, size_t k, int final,
                             mr_mode mode, size_t max_line, smtp_reply *rep, mr_error *err)
{
    size_t body_end = lf;
    if (lf > pos && buf[lf - 1] == '\r')
        body_end = lf - 1;
    else if (mode == MR_STRICT)
        return mr_fail(err, MR_E_BARE_LF, "CRLF", lf);
    if (body_end - pos > max_line)
        return mr_fail(err, MR_E_LIMIT_LINE, "Reply-line", pos + max_line);
    if (k == 0) {
        rep->has_status = 0;
        rep->status_class = rep->status_subject = rep->status_detail = 0;
    }
    return parse_line(buf, pos, body_end, k, final, mode, rep, err);
}

int smtp_reply_parse(const char *buf, size_t len, mr_mode mode, const smtp_reply_limits *lim,
                     smtp_reply *rep, mr_error *err)
{
    size_t max_line = lim ? lim->max_line : RFC_AUTH_LINE;
    if (max_line > MR_LIMIT_MAX)
        max_line = MR_LIMIT_MAX;
    size_t pos = rep->scan_pos, nl = rep->scan_lines;
    if (pos > len || nl > rep->lines_cap) { /* not the earlier call's bytes or array: restart */
        pos = 0;
        nl = 0;
    }
    /* One memchr per line finds its end; a line continues the reply when its fourth byte
     * is "-" (anything else, garbage included, ends it). Each complete line is checked as
     * soon as it is found, while it is in the cache, so a reply split over calls is checked
     * line by line exactly as a whole one. Lines checked in earlier calls keep only their
     * end offsets: the caller may have moved the bytes, so their slices are made again
     * from this call's buffer once the reply is complete. */
    size_t checked_before = nl;
    for (;;) {
        size_t avail = len - pos, window = max_line + 2;
        if (avail > 0 && nl >= rep->lines_cap) { /* a line too many has started */
            reset_scan(rep);
            return mr_fail(err, MR_E_LIMIT_COUNT, "Reply-line", pos);
        }
        const char *lf = memchr(buf + pos, '\n', avail < window ? avail : window);
        if (!lf) {
            if (avail >= window) {
                reset_scan(rep);
                return mr_fail(err, MR_E_LIMIT_LINE, "Reply-line", pos + max_line);
            }
            rep->scan_pos = pos;
            rep->scan_lines = nl;
            return MR_NEED_MORE;
        }
        size_t end = (size_t)(lf - buf);
        int more = end - pos >= 4 && buf[pos + 3] == '-';
        if (end + 1 > MR_LIMIT_MAX) {
            reset_scan(rep);
            return mr_fail(err, MR_E_LIMIT_COUNT, "Reply", end);
        }
        if (parse_framed_line(buf, pos, end, nl, !more, mode, max_line, rep, err)) {
            reset_scan(rep);
            return MR_ERROR;
        }
        rep->lines[nl++].end = end;
        pos = end + 1;
        if (!more)
            break;
    }
    reset_scan(rep);
    if (checked_before) /* rebuild every line's slices in order, from this buffer */
        for (size_t k = 0, from = 0; k < nl; from = rep->lines[k++].end + 1)
            if (parse_framed_line(buf, from, rep->lines[k].end, k, k + 1 == nl, mode, max_line,
                                  rep, err))
                return MR_ERROR; /* cannot happen: these bytes passed the same checks */
    rep->nlines = nl;
    return (int)pos;
}

/* ---- writers ---- */

/* Status and text written into a reply may hold HT and printable bytes only. */
static int check_out_text(mr_slice s, const char *rule, mr_error *err)
{
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch >= 0x20 && ch != 0x7F)
            continue;
        if (ch == '\t')
            continue;
        mr_errcode code = ch == 0 ? MR_E_NUL : ch == '\r' ? MR_E_BARE_CR : MR_E_CTL;
        return mr_fail(err, code, rule, i);
    }
    return 0;
}

static void put_line_start(mr_out *o, unsigned code, int final)
{
    mr_out_u64(o, code);
    mr_out_char(o, final ? ' ' : '-');
}

int smtp_reply_write(char *dst, size_t cap, const smtp_reply *rep, mr_error *err)
{
    if (rep->code < 100 || rep->code > 599 || rep->nlines == 0)
        return mr_fail(err, MR_E_SYNTAX, "Reply-line", 0);
    mr_out o;
    mr_out_init(&o, dst, cap);
    for (size_t k = 0; k < rep->nlines; k++) {
        const smtp_reply_line *l = &rep->lines[k];
        int final = k + 1 == rep->nlines;
        if (check_out_text(l->status, "status-code", err) ||
            check_out_text(l->text, "textstring", err))
            return MR_ERROR;
        if (final && !l->status.n && !l->text.n) {
            mr_out_u64(&o, rep->code); /* Reply-code CRLF */
        } else {
            put_line_start(&o, rep->code, final);
            mr_out_slice(&o, l->status);
            if (l->status.n && l->text.n)
                mr_out_char(&o, ' ');
            mr_out_slice(&o, l->text);
        }
        mr_out_str(&o, "\r\n");
    }
    return mr_out_result(&o, "Reply-line", err);
}

/* smtp_reply_format: one output line, known to be final or not once the next one is found. */
typedef struct formatter {
    mr_out o;
    unsigned code;
    mr_slice status;
    mr_slice pending;
    int have_pending;
} formatter;

static void emit_pending(formatter *f, int final)
{
    if (!f->have_pending)
        return;
    if (final && !f->status.n && !f->pending.n) {
        mr_out_u64(&f->o, f->code);
    } else {
        put_line_start(&f->o, f->code, final);
        mr_out_slice(&f->o, f->status);
        if (f->status.n && f->pending.n)
            mr_out_char(&f->o, ' ');
        mr_out_slice(&f->o, f->pending);
    }
    mr_out_str(&f->o, "\r\n");
}

static void add_line(formatter *f, mr_slice text)
{
    emit_pending(f, 0);
    f->pending = text;
    f->have_pending = 1;
}

/* Wrap one LF-free segment into lines of at most room bytes, breaking at a space. */
static void wrap_segment(formatter *f, mr_slice seg, size_t room)
{
    while (seg.n > room) {
        size_t cut = room;
        while (cut > 0 && seg.p[cut] != ' ')
            cut--;
        size_t skip = 1;
        if (cut == 0) { /* one word longer than a line: cut it */
            cut = room;
            skip = 0;
        }
        add_line(f, (mr_slice){seg.p, cut});
        seg.p += cut + skip;
        seg.n -= cut + skip;
    }
    add_line(f, seg);
}

int smtp_reply_format(char *dst, size_t cap, unsigned code, const char *status, mr_slice text,
                      size_t width, mr_error *err)
{
    if (code < 100 || code > 599)
        return mr_fail(err, MR_E_SYNTAX, "Reply-code", 0);
    formatter f = {.code = code};
    f.status.p = status ? status : "";
    f.status.n = status ? strlen(status) : 0;
    if (check_out_text(f.status, "status-code", err))
        return MR_ERROR;
    for (size_t i = 0; i < text.n; i++) { /* LF separates lines; other controls are refused */
        unsigned char ch = (unsigned char)text.p[i];
        if (ch != '\n' && check_out_text((mr_slice){text.p + i, 1}, "textstring", NULL))
            return mr_fail(err, ch == 0 ? MR_E_NUL : ch == '\r' ? MR_E_BARE_CR : MR_E_CTL,
                           "textstring", i);
    }
    if (width == 0)
        width = RFC_REPLY_LINE;
    size_t prefix = 4 + (f.status.n ? f.status.n + 1 : 0);
    if (width <= prefix)
        return mr_fail(err, MR_E_LIMIT_LINE, "Reply-line", width);
    mr_out_init(&f.o, dst, cap);
    size_t at = 0;
    for (;;) {
        const char *lf = memchr(text.p + at, '\n', text.n - at);
        size_t end = lf ? (size_t)(lf - text.p) : text.n;
        wrap_segment(&f, (mr_slice){text.p + at, end - at}, width - prefix);
        if (!lf)
            break;
        at = end + 1;
    }
    emit_pending(&f, 1);
    return mr_out_result(&f.o, "Reply-line", err);
}

/* ---- EHLO ---- */

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The whole text of a line, its status included (an EHLO line is not a status). */
static mr_slice full_text(const smtp_reply_line *l)
{
    if (!l->status.n)
        return l->text;
    mr_slice s = {l->status.p, (size_t)(l->text.p + l->text.n - l->status.p)};
    return s;
}

int smtp_ehlo_greeting(const smtp_reply *rep, mr_slice *domain, mr_slice *greeting,
                       mr_error *err)
{
    if (rep->code != 250 || rep->nlines == 0)
        return mr_fail(err, MR_E_STATE, "ehlo-ok-rsp", 0);
    mr_slice t = full_text(&rep->lines[0]);
    const char *sp = memchr(t.p, ' ', t.n);
    size_t dn = sp ? (size_t)(sp - t.p) : t.n;
    domain->p = t.p;
    domain->n = dn;
    greeting->p = t.p + (sp ? dn + 1 : dn);
    greeting->n = sp ? t.n - dn - 1 : 0;
    return 0;
}

void smtp_ehlo_iter_init(smtp_ehlo_iter *it, const smtp_reply *rep, mr_mode mode)
{
    it->rep = rep;
    it->mode = mode;
    it->next = 1; /* line 0 is the domain and greeting */
}

static int is_keyword_char(char ch, int first)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           (!first && ch == '-');
}

/* ehlo-line = ehlo-keyword *( SP ehlo-param ); ehlo-param = 1*(%d33-126) */
static int ehlo_line_strict(mr_slice t, smtp_ehlo_kw *kw, mr_error *err)
{
    size_t i = 0;
    while (i < t.n && is_keyword_char(t.p[i], i == 0))
        i++;
    if (i == 0)
        return mr_fail(err, t.n ? MR_E_SYNTAX : MR_E_EMPTY, "ehlo-keyword", 0);
    kw->keyword = (mr_slice){t.p, i};
    if (i == t.n)
        return 1;
    if (t.p[i] != ' ')
        return mr_fail(err, MR_E_SYNTAX, "ehlo-keyword", i);
    size_t start = ++i;
    int need_param = 1;
    for (; i < t.n; i++) {
        unsigned char ch = (unsigned char)t.p[i];
        if (ch == ' ' && !need_param) {
            need_param = 1;
            continue;
        }
        if (ch < 33 || ch > 126)
            return mr_fail(err, ch >= 0x80 ? MR_E_8BIT : MR_E_SYNTAX, "ehlo-param", i);
        need_param = 0;
    }
    if (need_param)
        return mr_fail(err, MR_E_SYNTAX, "ehlo-param", i);
    kw->params = (mr_slice){t.p + start, t.n - start};
    return 1;
}

/* Lenient: blanks anywhere, "KEYWORD=params", 8-bit. Empty lines are skipped (returns 0). */
static int ehlo_line_lenient(mr_slice t, smtp_ehlo_kw *kw)
{
    size_t i = 0, n = t.n;
    while (i < n && is_blank(t.p[i]))
        i++;
    while (n > i && is_blank(t.p[n - 1]))
        n--;
    size_t k = i;
    while (k < n && !is_blank(t.p[k]) && t.p[k] != '=')
        k++;
    if (k == i)
        return 0;
    kw->keyword = (mr_slice){t.p + i, k - i};
    if (k < n && t.p[k] == '=') {
        kw->old_form = 1;
        k++;
    }
    while (k < n && is_blank(t.p[k]))
        k++;
    kw->params = (mr_slice){t.p + k, n - k};
    return 1;
}

int smtp_ehlo_next(smtp_ehlo_iter *it, smtp_ehlo_kw *kw, mr_error *err)
{
    if (it->rep->code != 250)
        return mr_fail(err, MR_E_STATE, "ehlo-ok-rsp", 0);
    while (it->next < it->rep->nlines) {
        mr_slice t = full_text(&it->rep->lines[it->next++]);
        memset(kw, 0, sizeof *kw);
        kw->params.p = t.p + t.n;
        if (it->mode == MR_STRICT)
            return ehlo_line_strict(t, kw, err);
        if (ehlo_line_lenient(t, kw))
            return 1;
    }
    return 0;
}

int smtp_ehlo_has(const smtp_reply *rep, const char *keyword, smtp_ehlo_kw *kw_r)
{
    smtp_ehlo_iter it;
    smtp_ehlo_kw kw;
    smtp_ehlo_iter_init(&it, rep, MR_LENIENT);
    while (smtp_ehlo_next(&it, &kw, NULL) == 1) {
        if (mr_slice_eq_ci(kw.keyword, keyword)) {
            if (kw_r)
                *kw_r = kw;
            return 1;
        }
    }
    return 0;
}

int smtp_ehlo_param_next(mr_slice *params, mr_slice *word)
{
    size_t i = 0;
    while (i < params->n && is_blank(params->p[i]))
        i++;
    size_t start = i;
    while (i < params->n && !is_blank(params->p[i]))
        i++;
    word->p = params->p + start;
    word->n = i - start;
    params->p += i;
    params->n -= i;
    return word->n > 0;
}

int smtp_ehlo_kw_has_param(const smtp_ehlo_kw *kw, const char *word)
{
    mr_slice rest = kw->params, w;
    while (smtp_ehlo_param_next(&rest, &w))
        if (mr_slice_eq_ci(w, word))
            return 1;
    return 0;
}

static int check_token(mr_slice s, const char *rule, mr_error *err)
{
    if (!s.n)
        return mr_fail(err, MR_E_EMPTY, rule, 0);
    if (check_out_text(s, rule, err))
        return MR_ERROR;
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == '=')
            return mr_fail(err, MR_E_SYNTAX, rule, i);
    return 0;
}

int smtp_ehlo_write(char *dst, size_t cap, mr_slice domain, mr_slice greeting,
                    const smtp_ehlo_kw *kws, size_t nkws, mr_error *err)
{
    if (check_token(domain, "Domain", err) || check_out_text(greeting, "ehlo-greet", err))
        return MR_ERROR;
    mr_out o;
    mr_out_init(&o, dst, cap);
    put_line_start(&o, 250, nkws == 0);
    mr_out_slice(&o, domain);
    if (greeting.n) {
        mr_out_char(&o, ' ');
        mr_out_slice(&o, greeting);
    }
    mr_out_str(&o, "\r\n");
    for (size_t k = 0; k < nkws; k++) {
        const smtp_ehlo_kw *kw = &kws[k];
        if (check_token(kw->keyword, "ehlo-keyword", err) ||
            check_out_text(kw->params, "ehlo-param", err))
            return MR_ERROR;
        put_line_start(&o, 250, k + 1 == nkws);
        mr_out_slice(&o, kw->keyword);
        if (kw->old_form || kw->params.n)
            mr_out_char(&o, kw->old_form ? '=' : ' ');
        mr_out_slice(&o, kw->params);
        mr_out_str(&o, "\r\n");
    }
    return mr_out_result(&o, "ehlo-ok-rsp", err);
}
