/* imap_framer.c -- see imap_framer.h. */
#include "proto/imap_framer.h"

#include <string.h>

enum { FR_LINE, FR_INLINE, FR_STREAM, FR_SYNC };

imap_limits imap_limits_default(void)
{
    imap_limits lim = IMAP_LIMITS_DEFAULT;
    return lim;
}

static size_t clamp_size(size_t v)
{
    return v > MR_LIMIT_MAX ? MR_LIMIT_MAX : v;
}

static uint64_t clamp_u64(uint64_t v)
{
    return v > MR_LIMIT_MAX ? MR_LIMIT_MAX : v;
}

void imap_framer_init(imap_framer *f, imap_side side, const imap_limits *lim)
{
    memset(f, 0, sizeof *f);
    f->lim = lim ? *lim : imap_limits_default();
    f->lim.line_max = clamp_size(f->lim.line_max);
    f->lim.item_max = clamp_size(f->lim.item_max);
    f->lim.inline_literal_max = clamp_size(f->lim.inline_literal_max);
    f->lim.literal_max = clamp_u64(f->lim.literal_max);
    f->lim.nonsync_literal_max = clamp_u64(f->lim.nonsync_literal_max);
    f->side = side;
    f->state = FR_LINE;
}

void imap_framer_reset(imap_framer *f)
{
    f->state = FR_LINE;
    f->pos = f->line_start = f->kept = 0;
    f->lit_left = f->lit_size = 0;
    f->lit_line_end = f->lit_brace = 0;
    f->lit_binary = 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A literal marker announced by the line buf[ls..be) (be: where CRLF starts)?
 * RFC 3501 literal = "{" number "}" CRLF; RFC 7888 adds "{" number "+}"; RFC 9051 literal8 is
 * "~{" number "}". Returns 1 (size, flags and brace offset set), 0 (no marker), MR_ERROR. */
static int literal_marker(const imap_framer *f, const char *buf, size_t ls, size_t be,
                          uint64_t *size, int *nonsync, int *binary, size_t *brace, mr_error *err)
{
    size_t q = be;
    if (q - ls < 4 || buf[q - 1] != '}') /* shortest: " {0}" */
        return 0;
    q--;
    *nonsync = buf[q - 1] == '+';
    q -= (size_t)*nonsync;
    size_t d = q;
    while (d > ls && is_digit(buf[d - 1]))
        d--;
    if (d == q || d - ls < 2 || buf[d - 1] != '{')
        return 0;
    char prev = buf[d - 2];
    if (prev != ' ' && prev != '(' && prev != '~')
        return 0;
    *brace = d - 1;
    *binary = prev == '~';
    if (*nonsync && f->side == IMAP_SIDE_RESPONSE && f->lim.mode == MR_STRICT)
        return mr_fail(err, MR_E_SYNTAX, "literal", *brace);
    uint64_t max = *nonsync && f->side == IMAP_SIDE_COMMAND ? f->lim.nonsync_literal_max
                                                            : f->lim.literal_max;
    mr_slice digits = {buf + d, q - d};
    if (mr_parse_u64(digits, max, size) != 0)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "literal", *brace);
    return 1;
}

/* The marker line buf[0..line_end) announced a literal of `size` bytes: skip it inline, or
 * hand out the text so far as a segment and stream the payload. */
static int begin_literal(imap_framer *f, size_t line_end, uint64_t size, int binary,
                         size_t brace, imap_frame *ev, mr_error *err)
{
    if (size <= f->lim.inline_literal_max) {
        if (size > f->lim.item_max - f->kept - line_end)
            return mr_fail(err, MR_E_LIMIT_COUNT, "literal", brace);
        f->state = FR_INLINE;
        f->lit_left = size;
        f->pos = line_end;
        return 1; /* go on scanning */
    }
    if (f->no_stream)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "literal", brace);
    f->kept += line_end;
    f->state = FR_STREAM;
    f->lit_left = size;
    f->pos = f->line_start = 0;
    ev->kind = IMAP_FRAME_SEGMENT;
    ev->n = line_end;
    ev->literal_size = size;
    ev->literal_left = size;
    ev->literal_binary = binary;
    return 0; /* event ready */
}

/* Scan the current line. Returns 1 to go on scanning (an inline literal follows), 0 when *ev
 * is ready, MR_NEED_MORE or MR_ERROR. */
static int scan_line(imap_framer *f, const char *buf, size_t len, imap_frame *ev,
                     mr_error *err)
{
    size_t ls = f->line_start;
    size_t room = f->lim.item_max - f->kept;     /* bytes of buf that may be item text */
    size_t win = ls + f->lim.line_max + 2;       /* the longest line, with its CRLF */
    size_t end = len < win ? len : win;
    if (end > room)
        end = room;
    size_t from = f->pos < ls ? ls : f->pos;
    const char *lf = from < end ? mr_find_lf(buf + from, end - from) : NULL;
    if (!lf) {
        if (len >= win && win <= room)
            return mr_fail(err, MR_E_LIMIT_LINE, "line", ls + f->lim.line_max);
        if (len >= room)
            return mr_fail(err, MR_E_LIMIT_COUNT, "item", room);
        f->pos = len;
        return MR_NEED_MORE;
    }
    size_t e = (size_t)(lf - buf), be = e;
    if (e > ls && buf[e - 1] == '\r')
        be = e - 1;
    else if (f->lim.mode == MR_STRICT)
        return mr_fail(err, MR_E_BARE_LF, "CRLF", e);
    if (be - ls > f->lim.line_max)
        return mr_fail(err, MR_E_LIMIT_LINE, "line", ls + f->lim.line_max);
    uint64_t size;
    int nonsync, binary;
    size_t brace;
    int m = literal_marker(f, buf, ls, be, &size, &nonsync, &binary, &brace, err);
    if (m < 0)
        return m;
    if (m == 0) {
        ev->kind = IMAP_FRAME_ITEM;
        ev->n = e + 1;
        ev->literal_size = ev->literal_left = 0;
        ev->literal_binary = 0;
        imap_framer_reset(f);
        return 0;
    }
    if (f->side == IMAP_SIDE_COMMAND && !nonsync && !f->no_stream) {
        f->state = FR_SYNC;
        f->lit_size = size;
        f->lit_line_end = e + 1;
        f->lit_binary = binary;
        f->lit_brace = brace;
        ev->kind = IMAP_FRAME_SYNC_LITERAL;
        ev->n = e + 1;
        ev->literal_size = size;
        ev->literal_left = size;
        ev->literal_binary = binary;
        return 0;
    }
    return begin_literal(f, e + 1, size, binary, brace, ev, err);
}

int imap_framer_next(imap_framer *f, const char *buf, size_t len, imap_frame *ev, mr_error *err)
{
    if (f->pos > len && f->state != FR_STREAM)
        f->pos = len; /* a shorter buffer than last time: rescan what is there */
    for (;;) {
        int r;
        switch (f->state) {
        case FR_LINE:
            r = scan_line(f, buf, len, ev, err);
            if (r == 0)
                return ev->kind == IMAP_FRAME_SYNC_LITERAL ? 0 : (int)ev->n;
            if (r < 0)
                return r;
            break;
        case FR_SYNC:
            if (len < f->lit_line_end) /* not the same bytes: the caller broke the contract */
                return mr_fail(err, MR_E_STATE, "literal", len);
            r = begin_literal(f, f->lit_line_end, f->lit_size, f->lit_binary, f->lit_brace, ev,
                              err);
            if (r == 0)
                return (int)ev->n;
            if (r < 0)
                return r;
            break;
        case FR_INLINE: {
            size_t avail = len - f->pos;
            size_t take = f->lit_left < avail ? (size_t)f->lit_left : avail;
            f->pos += take;
            f->lit_left -= take;
            if (f->lit_left)
                return MR_NEED_MORE;
            f->state = FR_LINE;
            f->line_start = f->pos;
            break;
        }
        case FR_STREAM: {
            if (len == 0)
                return MR_NEED_MORE;
            size_t take = f->lit_left < len ? (size_t)f->lit_left : len;
            if (take > MR_LIMIT_MAX)
                take = MR_LIMIT_MAX;
            f->lit_left -= take;
            if (f->lit_left == 0) {
                f->state = FR_LINE;
                f->pos = f->line_start = 0;
            }
            ev->kind = IMAP_FRAME_LITERAL;
            ev->n = take;
            ev->literal_size = 0;
            ev->literal_left = f->lit_left;
            ev->literal_binary = 0;
            return (int)take;
        }
        default:
            return mr_fail(err, MR_E_STATE, "framer", 0);
        }
    }
}

int imap_frame_whole(imap_side side, const imap_limits *lim, const char *buf, size_t len,
                     mr_error *err)
{
    imap_framer f;
    imap_framer_init(&f, side, lim);
    f.no_stream = 1;
    imap_frame ev;
    return imap_framer_next(&f, buf, len, &ev, err);
}
