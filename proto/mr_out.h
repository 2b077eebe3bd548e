/* mr_out.h -- a bounded output builder for the writers in proto/.
 *
 * Every writer in proto/ writes into a caller buffer of a given size and returns the length
 * of its whole output: when that is <= the buffer size the output was written; when it is
 * larger, it is the size needed and the buffer holds the output's first cap bytes (never
 * more). mr_out is the one place that implements this: puts copy what fits and count the rest,
 * so a writer is straight-line code with no size checks. (The IMAP writers' imap_wbuf is an
 * mr_out plus their own state.)
 */
#ifndef MAILRIG_PROTO_MR_OUT_H
#define MAILRIG_PROTO_MR_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mr.h"

typedef struct mr_out {
    char *p;      /* caller's buffer (may be NULL when cap is 0: a pure size query) */
    size_t cap;   /* its size */
    size_t len;   /* bytes the output needs so far; saturates at MR_LIMIT_MAX + 1 */
} mr_out;

/* Start an output into dst[0..cap). */
void mr_out_init(mr_out *o, char *dst, size_t cap);

/* Append n bytes (copied only while the whole output still fits). */
void mr_out_put(mr_out *o, const void *s, size_t n);

/* Append a NUL-terminated string, one byte, a slice, or a decimal number. */
void mr_out_str(mr_out *o, const char *s);
void mr_out_char(mr_out *o, char c);
void mr_out_slice(mr_out *o, mr_slice s);
void mr_out_u64(mr_out *o, uint64_t v);

/* The writer's return value: the output length (written when <= cap, needed when > cap), or
 * MR_ERROR with MR_E_LIMIT_LITERAL (rule given) when the output would exceed MR_LIMIT_MAX. */
int mr_out_result(const mr_out *o, const char *rule, mr_error *err);

/* The same, with the error at the given offset (the SASL writers report MR_LIMIT_MAX). */
int mr_out_result_at(const mr_out *o, const char *rule, size_t offset, mr_error *err);

/* Check an API input a line writer is about to copy, so that it cannot end the line early
 * (CRLF injection) or split a token: MR_E_NUL for NUL, MR_E_CTL for another control byte or
 * DEL, MR_E_SYNTAX for SP or HT unless space_ok. Offsets count from s.p. Returns 0 or
 * MR_ERROR. */
int mr_out_field_check(mr_slice s, int space_ok, const char *rule, mr_error *err);

#endif
