/* fuzz_mr_line.c -- the shared line splitter and UTF-8 checker in proto/mr.c.
 *
 * Oracle: splitting the input into lines with the whole buffer present gives the same lines
 * as growing the buffer a few bytes at a time with the `scanned` resume hint.
 */
#include <string.h>

#include "fuzz/util.h"
#include "proto/mr.h"

enum { MAX_LINE = 64, MAX_CUTS = 512 };

/* Split data into lines; return how many bytes were consumed in total and the error seen. */
static size_t split_whole(const char *data, size_t size, mr_mode mode, int *last)
{
    size_t at = 0;
    for (;;) {
        mr_slice line;
        mr_error err;
        int r = mr_line_next(data + at, size - at, MAX_LINE, mode, NULL, &line, &err);
        *last = r;
        if (r <= 0)
            return at;
        FUZZ_CHECK(line.p == data + at && line.n <= MAX_LINE && line.n < (size_t)r);
        FUZZ_CHECK(memchr(line.p, '\n', line.n) == NULL);
        at += (size_t)r;
    }
}

static size_t split_growing(const char *data, size_t size, mr_mode mode, const size_t *cuts,
                            size_t ncuts, int *last)
{
    size_t at = 0, scanned = 0, c = 0;
    for (;;) {
        while (c < ncuts && cuts[c] <= at)
            c++;
        size_t avail = (c < ncuts ? cuts[c] : size) - at;
        mr_slice line;
        mr_error err;
        int r = mr_line_next(data + at, avail, MAX_LINE, mode, &scanned, &line, &err);
        if (r == MR_NEED_MORE && at + avail < size) {
            c++;
            continue;
        }
        *last = r;
        if (r <= 0)
            return at;
        at += (size_t)r;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t cuts[MAX_CUTS];
    size_t ncuts = fuzz_cuts(data, size, cuts, MAX_CUTS);
    for (int m = 0; m < 2; m++) {
        mr_mode mode = m ? MR_LENIENT : MR_STRICT;
        int last_whole, last_grown;
        size_t whole = split_whole(s, size, mode, &last_whole);
        size_t grown = split_growing(s, size, mode, cuts, ncuts, &last_grown);
        FUZZ_CHECK(whole == grown && last_whole == last_grown);
    }
    size_t bad = mr_utf8_check(s, size);
    FUZZ_CHECK(bad <= size);
    if (bad < size)
        FUZZ_CHECK(mr_utf8_check(s, bad) == bad);
    return 0;
}
