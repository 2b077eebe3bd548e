/* dotstream.c -- see dotstream.h. */
#include "proto/dotstream.h"

#include <string.h>

#include "proto/mr_out.h"

/* Reader states. Only two bytes of the wire are ever withheld: the "\r" right after a
 * line-start dot (ST_DOT), until the next byte says whether it ends the body. */
enum {
    ST_BOL = 0, /* at the start of a line */
    ST_MID,     /* inside a line */
    ST_DOT,     /* a line-start dot was consumed (and dropped) */
    ST_DONE,    /* the terminating line was consumed */
};

dot_limits dot_limits_default(void)
{
    dot_limits lim = {.max_line = DOT_MAX_LINE_DEFAULT};
    return lim;
}

void dot_reader_init(dot_reader *r, mr_mode mode, const dot_limits *lim)
{
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->max_line = lim ? lim->max_line : DOT_MAX_LINE_DEFAULT;
    r->state = ST_BOL;
}

static void flag(dot_reader *r, dot_violation v, uint64_t at)
{
    if (r->violations & (1u << v))
        return;
    r->violations |= 1u << v;
    r->first[v] = at;
}

/* Every CR in buf[from, to) is bare: the caller has excluded a CR that precedes an LF. */
static void check_bare_cr(dot_reader *r, const char *buf, size_t from, size_t to)
{
    if ((r->violations & (1u << DOT_V_BARE_CR)) || from >= to)
        return;
    const char *cr = memchr(buf + from, '\r', to - from);
    if (cr)
        flag(r, DOT_V_BARE_CR, r->consumed + (size_t)(cr - buf));
}

/* The line running from r->line_start is `body` wire bytes long without its line end. */
static void check_line_length(dot_reader *r, uint64_t body)
{
    if (body > r->max_line)
        flag(r, DOT_V_LONG_LINE, r->line_start);
}

static int finish(dot_reader *r, size_t used, mr_slice *out, const char *buf)
{
    r->consumed += used;
    r->state = ST_DONE;
    r->done = 1;
    r->cr = 0;
    out->p = buf + used;
    out->n = 0;
    return (int)used;
}

/* Give out buf[start, end) as content and consume `used` bytes (end, or end + a dot). */
static int emit(dot_reader *r, const char *buf, size_t start, size_t end, size_t used,
                mr_slice *out)
{
    r->cr = used > 0 && buf[used - 1] == '\r';
    r->consumed += used;
    r->content += end - start;
    out->p = buf + start;
    out->n = end - start;
    return (int)used;
}

/* Content from buf[i] on, inside a line: one memchr per line. Stops after a line-start dot
 * (consumed, not given out) or at the end of buf. */
static int scan_content(dot_reader *r, const char *buf, size_t i, size_t len, mr_slice *out)
{
    size_t start = i, p = i;
    if (r->cr && buf[i] != '\n') /* a CR that ended the previous call was bare */
        flag(r, DOT_V_BARE_CR, r->consumed - 1);
    for (;;) {
        const char *lf = memchr(buf + p, '\n', len - p);
        if (!lf) {
            /* A CR in the last byte may yet precede an LF: the next call decides. */
            check_bare_cr(r, buf, p, buf[len - 1] == '\r' ? len - 1 : len);
            uint64_t body = r->consumed + len - r->line_start;
            if (body > (uint64_t)r->max_line + 1) /* + 1: a final CR may be the line end's */
                check_line_length(r, body);
            r->state = ST_MID;
            return emit(r, buf, start, len, len, out);
        }
        size_t j = (size_t)(lf - buf);
        int crlf = j > 0 ? buf[j - 1] == '\r' : r->cr;
        check_bare_cr(r, buf, p, crlf && j > p ? j - 1 : j);
        if (!crlf)
            flag(r, DOT_V_BARE_LF, r->consumed + j);
        if (crlf || r->mode == MR_LENIENT) {
            check_line_length(r, r->consumed + j - (crlf ? 1 : 0) - r->line_start);
            r->line_start = r->consumed + j + 1;
            if (j + 1 == len) {
                r->state = ST_BOL;
                return emit(r, buf, start, len, len, out);
            }
            if (buf[j + 1] == '.') {
                r->state = ST_DOT;
                return emit(r, buf, start, j + 1, j + 2, out);
            }
        }
        p = j + 1;
    }
}

int dot_read(dot_reader *r, const char *buf, size_t len, mr_slice *out, mr_error *err)
{
    if (r->state == ST_DONE)
        return mr_fail(err, MR_E_STATE, "dot-stream", 0);
    if (len > MR_LIMIT_MAX)
        len = MR_LIMIT_MAX;
    if (len == 0)
        return MR_NEED_MORE;
    size_t i = 0;
    if (r->state == ST_BOL) {
        r->state = ST_MID;
        if (buf[0] == '.') { /* dropped: a stuffing dot, or the start of the terminator */
            r->state = ST_DOT;
            i = 1;
        }
    }
    if (r->state == ST_DOT) {
        if (i == len) /* the dot alone */
            return emit(r, buf, i, i, i, out);
        if (buf[i] == '\r') {
            if (i + 1 == len)
                return i ? emit(r, buf, 0, 0, i, out) : MR_NEED_MORE;
            if (buf[i + 1] == '\n')
                return finish(r, i + 2, out, buf);
        } else if (buf[i] == '\n') {
            flag(r, DOT_V_BARE_LF, r->consumed + i);
            if (r->mode == MR_LENIENT)
                return finish(r, i + 1, out, buf);
        }
        r->state = ST_MID; /* it was a stuffing dot: the line goes on */
        r->cr = 0;
    }
    return scan_content(r, buf, i, len, out);
}

int dot_line_next(const char *buf, size_t len, size_t max_line, mr_mode mode, size_t *scanned,
                  mr_slice *line, int *end, mr_error *err)
{
    int r = mr_line_next(buf, len, max_line, mode, scanned, line, err);
    if (r <= 0)
        return r;
    *end = 0;
    if (line->n > 0 && line->p[0] == '.') {
        *end = line->n == 1;
        line->p++;
        line->n--;
    }
    return r;
}

/* Writer states: what the last byte written was, as far as stuffing and the end care. */
enum {
    W_BOL_CRLF = 0, /* start of the body, or after CRLF */
    W_BOL_LF,       /* after a bare LF: a line start for lenient readers */
    W_CR,           /* after CR */
    W_MID,          /* anything else */
};

void dot_writer_init(dot_writer *w)
{
    w->state = W_BOL_CRLF;
}

static int at_line_start(unsigned state)
{
    return state == W_BOL_CRLF || state == W_BOL_LF;
}

/* Number of dots dot_write adds to src[0..n) written in `state`. */
static size_t count_stuffing(unsigned state, const char *src, size_t n)
{
    size_t dots = at_line_start(state) && src[0] == '.';
    const char *p = src, *end = src + n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (++p == end)
            break;
        dots += *p == '.';
    }
    return dots;
}

static unsigned state_after(unsigned state, const char *src, size_t n)
{
    char last = src[n - 1];
    if (last == '\r')
        return W_CR;
    if (last != '\n')
        return W_MID;
    int cr = n >= 2 ? src[n - 2] == '\r' : state == W_CR;
    return cr ? W_BOL_CRLF : W_BOL_LF;
}

int dot_write(dot_writer *w, const char *src, size_t n, char *dst, size_t cap, mr_error *err)
{
    if (n == 0)
        return 0;
    if (n > MR_LIMIT_MAX / 2)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "dot-stream", 0);
    size_t need = n + count_stuffing(w->state, src, n);
    if (need > cap)
        return (int)need;
    char *o = dst;
    const char *p = src, *end = src + n;
    if (at_line_start(w->state) && *p == '.')
        *o++ = '.';
    for (;;) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        const char *stop = lf ? lf + 1 : end;
        memcpy(o, p, (size_t)(stop - p));
        o += stop - p;
        p = stop;
        if (p == end)
            break;
        if (*p == '.')
            *o++ = '.';
    }
    w->state = (unsigned char)state_after(w->state, src, n);
    return (int)need;
}

int dot_write_end(dot_writer *w, char *dst, size_t cap, mr_error *err)
{
    mr_out o;
    mr_out_init(&o, dst, cap);
    mr_out_str(&o, w->state == W_BOL_CRLF ? ".\r\n" : "\r\n.\r\n");
    int r = mr_out_result(&o, "dot-stream", err);
    if (r > 0 && (size_t)r <= cap)
        dot_writer_init(w);
    return r;
}
