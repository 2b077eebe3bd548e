/* sasl_support.h -- helpers for the SASL unit tests (header only, static functions).
 *
 * A SASL message arrives whole (one base64 unit), so its parsers have no "need more" state for
 * test_prefixes() to check. What they must still never do is read outside the message: run()
 * parses every prefix and then the whole message from guard-page copies, then the whole message
 * once more in place so that the slices left in the result point into the caller's bytes.
 */
#ifndef MAILRIG_TESTS_SASL_SUPPORT_H
#define MAILRIG_TESTS_SASL_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "proto/mr.h"
#include "tests/unit/support.h"

/* A message parser under test: parse msg[0..n) and return 0 or MR_ERROR. */
typedef int (*msg_fn)(void *ctx, const char *msg, size_t n);

static inline int run_msg(msg_fn f, void *ctx, const char *msg, size_t n)
{
    for (size_t k = 0; k <= n; k++) {
        char *copy = guard_dup(msg, k);
        int r = f(ctx, copy, k);
        guard_free(copy, k);
        if (k == n) {
            int again = f(ctx, msg, n);
            if (again != r)
                fail_msg("guarded copy returned %d, in place %d", r, again);
            return again;
        }
        if (r != 0 && r != MR_ERROR)
            fail_msg("prefix of %zu bytes returned %d", k, r);
    }
    return MR_ERROR; /* not reached */
}

static inline int slice_same(mr_slice a, mr_slice b)
{
    if ((a.p == NULL) != (b.p == NULL) || a.n != b.n)
        return 0;
    return a.n == 0 || memcmp(a.p, b.p, a.n) == 0;
}

#endif
