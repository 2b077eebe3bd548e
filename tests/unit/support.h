/* support.h -- helpers shared by the cmocka unit tests.
 *
 * Guard pages (picohttpparser's test.c idea): a copy of the input ends exactly where a
 * PROT_NONE page begins, so a parser that reads one byte too far faults at once, even
 * without ASan.
 */
#ifndef MAILRIG_TESTS_SUPPORT_H
#define MAILRIG_TESTS_SUPPORT_H

#include <stddef.h>
#include <string.h>

#include "proto/mr.h"

/* Return a copy of [p, p+n) whose last byte is the last byte before a PROT_NONE page.
 * Free it with guard_free(). n may be 0 (the result then points at the guard page itself,
 * and must not be read). Aborts on mmap failure. */
char *guard_dup(const void *p, size_t n);

/* Release a copy made by guard_dup() of n bytes. */
void guard_free(char *copy, size_t n);

/* Step function for test_prefixes(): parse buf[0..len) from the start and return the
 * parser's result (> 0 consumed, MR_NEED_MORE, MR_ERROR). */
typedef int (*prefix_step_fn)(void *ctx, const char *buf, size_t len);

/* Dovecot's "one byte at a time" test in its picohttpparser form: call step with every
 * prefix of the input (1, 2, ... n bytes), each in a guard-page copy, and fail the test
 * if a proper prefix returns anything but MR_NEED_MORE before the full item's consumed
 * count is reached. Returns the result for the whole input. Prefixes at or beyond the
 * consumed count must return that same count. */
int test_prefixes(prefix_step_fn step, void *ctx, const char *input, size_t n);

/* Same, for a NUL-terminated input. */
int test_prefixes_str(prefix_step_fn step, void *ctx, const char *input);

/* test_prefixes() on an input that must give want (its consumed count): fails the test naming
 * the input and *err (where step leaves its error) otherwise. */
void test_prefixes_want(prefix_step_fn step, void *ctx, const char *input, size_t n, int want,
                        const mr_error *err);

/* test_prefixes() on an input that must fail with exactly {code, rule, offset} in *err. */
void test_prefixes_fail(prefix_step_fn step, void *ctx, const char *input, size_t n,
                        const mr_error *err, mr_errcode code, const char *rule, size_t offset);

/* ---- Slices and errors (failures are reported at the caller's line) ----------------------- */

/* A slice over a string literal, NUL bytes included. */
#define SL(lit) ((mr_slice){(lit), sizeof(lit) - 1})

/* Do a and b hold the same bytes? */
int slices_equal(mr_slice a, mr_slice b);

/* Fail unless s holds exactly want[0..n) / the C string str / the bytes of a literal. */
#define assert_slice_n(s, want, n) assert_slice_at(__FILE__, __LINE__, (s), (want), (n))
#define assert_slice(s, str) assert_slice_str_at(__FILE__, __LINE__, (s), (str))
#define assert_slice_lit(s, lit) assert_slice_n((s), (lit), sizeof(lit) - 1)
void assert_slice_at(const char *file, int line, mr_slice s, const char *want, size_t n);
void assert_slice_str_at(const char *file, int line, mr_slice s, const char *str);

/* Fail unless *e is exactly {code, rule, offset}. */
#define assert_err(e, code, rule, offset)                                                       \
    assert_err_at(__FILE__, __LINE__, (e), (code), (rule), (offset))
void assert_err_at(const char *file, int line, const mr_error *e, mr_errcode code,
                   const char *rule, size_t offset);

#endif
