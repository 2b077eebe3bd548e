/* sasl_util.h -- helpers private to the sasl*.c files (not part of the API).
 *
 * sasl_out is the writers' output cursor: it counts every byte offered and copies a piece only
 * while the whole message so far fits in the caller's buffer, so a writer can be written as
 * straight-line code and still never write past cap.
 */
#ifndef MAILRIG_PROTO_SASL_UTIL_H
#define MAILRIG_PROTO_SASL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mr.h"
#include "sasl.h"

typedef struct sasl_out {
    char *dst; /* NULL: count only */
    size_t cap;
    size_t len; /* bytes offered so far (saturating) */
} sasl_out;

static inline sasl_out sasl_out_make(char *dst, size_t cap)
{
    sasl_out o = {dst, cap, 0};
    return o;
}

static inline void sasl_out_put(sasl_out *o, const void *p, size_t n)
{
    if (o->dst && o->len <= o->cap && n <= o->cap - o->len && n)
        memcpy(o->dst + o->len, p, n);
    o->len = n > SIZE_MAX - o->len ? SIZE_MAX : o->len + n;
}

static inline void sasl_out_str(sasl_out *o, const char *s)
{
    sasl_out_put(o, s, strlen(s));
}

static inline void sasl_out_slice(sasl_out *o, mr_slice s)
{
    sasl_out_put(o, s.p, s.n);
}

static inline void sasl_out_byte(sasl_out *o, char c)
{
    sasl_out_put(o, &c, 1);
}

/* The writer's return value: the length, or MR_ERROR when it cannot be an int. */
static inline int sasl_out_done(const sasl_out *o, mr_error *err)
{
    if (o->len > MR_LIMIT_MAX)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "message", MR_LIMIT_MAX);
    return (int)o->len;
}

static inline const sasl_limits *sasl_limits_or(const sasl_limits *lim, sasl_limits *tmp)
{
    if (lim)
        return lim;
    *tmp = sasl_limits_default();
    return tmp;
}

static inline size_t sasl_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

static inline int sasl_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline int sasl_is_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* CTL = %x00-1F / %x7F (RFC 5234) */
static inline int sasl_is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7F;
}

/* Validate UTF-8 of s and report the bad byte at base + its offset. */
static inline int sasl_check_utf8(mr_slice s, size_t base, const char *rule, mr_error *err)
{
    size_t bad = mr_utf8_check(s.p, s.n);
    if (bad < s.n)
        return mr_fail(err, MR_E_UTF8, rule, base + bad);
    return 0;
}

#endif
