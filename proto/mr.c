/* mr.c -- helpers shared by the parsers; see mr.h. */
#include "mr.h"

#include <string.h>

static const char *const errcode_names[MR_E__COUNT] = {
    [MR_E_NONE] = "no error",
    [MR_E_BARE_LF] = "bare LF (line end without CR)",
    [MR_E_BARE_CR] = "bare CR (CR not followed by LF)",
    [MR_E_NUL] = "NUL byte",
    [MR_E_8BIT] = "8-bit byte where only ASCII is allowed",
    [MR_E_CTL] = "control character",
    [MR_E_LIMIT_LINE] = "line too long",
    [MR_E_LIMIT_LITERAL] = "literal or length too large",
    [MR_E_LIMIT_DEPTH] = "nesting too deep",
    [MR_E_LIMIT_COUNT] = "too many items",
    [MR_E_NUMBER] = "malformed number",
    [MR_E_EMPTY] = "empty item",
    [MR_E_TRAILING] = "unexpected trailing bytes",
    [MR_E_SYNTAX] = "syntax error",
    [MR_E_UNKNOWN_COMMAND] = "unknown command",
    [MR_E_UTF8] = "invalid UTF-8",
    [MR_E_BASE64] = "invalid base64",
    [MR_E_STATE] = "not allowed in this state",
};

const char *mr_errcode_str(mr_errcode code)
{
    if ((unsigned)code >= MR_E__COUNT)
        return "unknown error";
    return errcode_names[code];
}

int mr_fail(mr_error *err, mr_errcode code, const char *rule, size_t offset)
{
    if (err) {
        err->code = code;
        err->rule = rule ? rule : "?";
        err->offset = offset;
    }
    return MR_ERROR;
}

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int mr_slices_eq_ci(mr_slice a, mr_slice b)
{
    if (a.n != b.n)
        return 0;
    for (size_t i = 0; i < a.n; i++)
        if (ascii_lower((unsigned char)a.p[i]) != ascii_lower((unsigned char)b.p[i]))
            return 0;
    return 1;
}

int mr_slice_eq_ci(mr_slice s, const char *lit)
{
    mr_slice l = {lit, strlen(lit)};
    return mr_slices_eq_ci(s, l);
}

int mr_slice_eq(mr_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && (n == 0 || memcmp(s.p, lit, n) == 0);
}

int mr_parse_u64(mr_slice s, uint64_t max, uint64_t *out)
{
    if (s.n == 0 || s.n > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';
        if (d > 9)
            return -1;
        if (v > (max - d) / 10) /* v * 10 + d > max, without overflow */
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

const char *mr_find_lf(const char *p, size_t n)
{
    return n ? memchr(p, '\n', n) : NULL;
}

int mr_line_next(const char *buf, size_t len, size_t max_line, mr_mode mode, size_t *scanned,
                 mr_slice *line, mr_error *err)
{
    size_t from = scanned ? *scanned : 0;
    if (max_line > MR_LIMIT_MAX)
        max_line = MR_LIMIT_MAX;
    size_t window = max_line + 2; /* the longest line we accept, with its CRLF */
    if (from > len)
        from = len;
    size_t end = len < window ? len : window;
    const char *lf = from < end ? mr_find_lf(buf + from, end - from) : NULL;
    if (!lf) {
        if (len >= window)
            return mr_fail(err, MR_E_LIMIT_LINE, "line", max_line);
        if (scanned)
            *scanned = len;
        return MR_NEED_MORE;
    }
    size_t at = (size_t)(lf - buf);
    size_t body = at;
    if (at > 0 && buf[at - 1] == '\r')
        body = at - 1;
    else if (mode == MR_STRICT)
        return mr_fail(err, MR_E_BARE_LF, "CRLF", at);
    if (body > max_line)
        return mr_fail(err, MR_E_LIMIT_LINE, "line", max_line);
    if (scanned)
        *scanned = 0;
    line->p = buf;
    line->n = body;
    return (int)(at + 1);
}

size_t mr_utf8_check(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            min = 0x10000;
        } else {
            return i;
        }
        if (n - i <= need)
            return i;
        unsigned cp = c & (0x3F >> need);
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return n;
}
