/* support.c -- see support.h. */
#include "tests/unit/support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proto/mr.h"

static size_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

static size_t mapping_size(size_t n)
{
    size_t ps = page_size();
    return (n + ps - 1) / ps * ps + ps; /* data pages + one guard page */
}

char *guard_dup(const void *p, size_t n)
{
    size_t ps = page_size(), total = mapping_size(n);
    char *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        perror("guard_dup: mmap");
        abort();
    }
    char *guard = base + total - ps;
    if (mprotect(guard, ps, PROT_NONE) != 0) {
        perror("guard_dup: mprotect");
        abort();
    }
    char *copy = guard - n;
    if (n)
        memcpy(copy, p, n);
    return copy;
}

void guard_free(char *copy, size_t n)
{
    size_t ps = page_size(), total = mapping_size(n);
    char *guard = copy + n;
    munmap(guard + ps - total, total);
}

int test_prefixes(prefix_step_fn step, void *ctx, const char *input, size_t n)
{
    char *whole_copy = guard_dup(input, n);
    int whole = step(ctx, whole_copy, n);
    guard_free(whole_copy, n);
    for (size_t k = 0; k < n; k++) {
        char *copy = guard_dup(input, k);
        int r = step(ctx, copy, k);
        guard_free(copy, k);
        if (whole > 0 && k >= (size_t)whole) {
            if (r != whole)
                fail_msg("prefix of %zu bytes returned %d, whole input %d", k, r, whole);
        } else if (r != MR_NEED_MORE && !(whole == MR_ERROR && r == MR_ERROR)) {
            fail_msg("prefix of %zu of %zu bytes returned %d, expected need-more (whole: %d)",
                     k, n, r, whole);
        }
    }
    /* Last, the caller's own bytes, so that slices left in ctx point into them. */
    int again = step(ctx, input, n);
    if (again != whole)
        fail_msg("whole input returned %d in a guarded copy but %d in place", whole, again);
    return whole;
}

int test_prefixes_str(prefix_step_fn step, void *ctx, const char *input)
{
    return test_prefixes(step, ctx, input, strlen(input));
}
