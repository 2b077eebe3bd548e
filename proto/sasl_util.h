/* sasl_util.h -- helpers private to the sasl*.c files (not part of the API).
 *
 * The writers build their output with mr_out (mr_out.h), the bounded output builder every
 * writer in proto/ shares; sasl_write_done() is their return value.
 */
#ifndef MAILRIG_PROTO_SASL_UTIL_H
#define MAILRIG_PROTO_SASL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mr.h"
#include "mr_out.h"
#include "sasl.h"

/* The writer's return value: the length, or MR_ERROR (MR_E_LIMIT_LITERAL "message", offset
 * MR_LIMIT_MAX) when it cannot be an int. */
static inline int sasl_write_done(const mr_out *o, mr_error *err)
{
    return mr_out_result_at(o, "message", MR_LIMIT_MAX, err);
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
