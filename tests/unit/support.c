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

void test_prefixes_want(prefix_step_fn step, void *ctx, const char *input, size_t n, int want,
                        const mr_error *err)
{
    int r = test_prefixes(step, ctx, input, n);
    if (r != want)
        fail_msg("\"%.*s\" gave %d, want %d (%s, rule %s, offset %zu)", (int)n, input, r, want,
                 r == MR_ERROR ? mr_errcode_str(err->code) : "-",
                 r == MR_ERROR ? err->rule : "-", r == MR_ERROR ? err->offset : 0);
}

void test_prefixes_fail(prefix_step_fn step, void *ctx, const char *input, size_t n,
                        const mr_error *err, mr_errcode code, const char *rule, size_t offset)
{
    int r = test_prefixes(step, ctx, input, n);
    if (r != MR_ERROR)
        fail_msg("\"%.*s\" gave %d, expected an error", (int)n, input, r);
    if (err->code != code || strcmp(err->rule, rule) != 0 || err->offset != offset)
        fail_msg("\"%.*s\": got %s rule %s offset %zu, expected %s rule %s offset %zu", (int)n,
                 input, mr_errcode_str(err->code), err->rule, err->offset,
                 mr_errcode_str(code), rule, offset);
}

int slices_equal(mr_slice a, mr_slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

void assert_slice_at(const char *file, int line, mr_slice s, const char *want, size_t n)
{
    if (s.n == n && (n == 0 || memcmp(s.p, want, n) == 0))
        return;
    print_error("ERROR: slice \"%.*s\" (%zu bytes), want \"%.*s\" (%zu bytes)\n", (int)s.n,
                s.p ? s.p : "", s.n, (int)n, want, n);
    _fail(file, line);
}

void assert_slice_str_at(const char *file, int line, mr_slice s, const char *str)
{
    assert_slice_at(file, line, s, str, strlen(str));
}

void assert_err_at(const char *file, int line, const mr_error *e, mr_errcode code,
                   const char *rule, size_t offset)
{
    if (e->code == code && e->rule && strcmp(e->rule, rule) == 0 && e->offset == offset)
        return;
    print_error("ERROR: error {%s, %s, %zu}, want {%s, %s, %zu}\n", mr_errcode_str(e->code),
                e->rule ? e->rule : "(null)", e->offset, mr_errcode_str(code), rule, offset);
    _fail(file, line);
}
