/* mr_out.c -- see mr_out.h. */
#include "proto/mr_out.h"

#include <string.h>

void mr_out_init(mr_out *o, char *dst, size_t cap)
{
    o->p = dst;
    o->cap = dst ? cap : 0;
    o->len = 0;
}

void mr_out_put(mr_out *o, const void *s, size_t n)
{
    if (n > MR_LIMIT_MAX || o->len + n > MR_LIMIT_MAX) {
        o->len = MR_LIMIT_MAX + 1; /* saturate: the result is an error anyway */
        return;
    }
    /* Copy what fits, so the buffer holds the output's first cap bytes. */
    if (o->len < o->cap && n) {
        size_t room = o->cap - o->len;
        memcpy(o->p + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

void mr_out_str(mr_out *o, const char *s)
{
    mr_out_put(o, s, strlen(s));
}

void mr_out_char(mr_out *o, char c)
{
    mr_out_put(o, &c, 1);
}

void mr_out_slice(mr_out *o, mr_slice s)
{
    mr_out_put(o, s.p, s.n);
}

void mr_out_u64(mr_out *o, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    mr_out_put(o, digits + sizeof digits - n, n);
}

int mr_out_result(const mr_out *o, const char *rule, mr_error *err)
{
    return mr_out_result_at(o, rule, 0, err);
}

int mr_out_result_at(const mr_out *o, const char *rule, size_t offset, mr_error *err)
{
    if (o->len > MR_LIMIT_MAX)
        return mr_fail(err, MR_E_LIMIT_LITERAL, rule, offset);
    return (int)o->len;
}

int mr_out_field_check(mr_slice s, int space_ok, const char *rule, mr_error *err)
{
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch == 0)
            return mr_fail(err, MR_E_NUL, rule, i);
        if (ch == ' ' || ch == '\t') {
            if (!space_ok)
                return mr_fail(err, MR_E_SYNTAX, rule, i);
            continue;
        }
        if (ch < 0x20 || ch == 0x7F)
            return mr_fail(err, MR_E_CTL, rule, i);
    }
    return 0;
}
