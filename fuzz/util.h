/* util.h -- helpers shared by the fuzz targets.
 *
 * Each target parses its input whole, then again split at pseudo-random points derived from
 * the input itself (so a crash reproduces from the input file alone), and checks that both
 * parses agree and that serialising the result and parsing it again gives the same result.
 * Any disagreement is a bug: FUZZ_CHECK aborts, which libFuzzer and AFL++ report as a crash.
 */
#ifndef MAILRIG_FUZZ_UTIL_H
#define MAILRIG_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mr.h"

/* The entry point every target defines (libFuzzer's, also driven by AFL++ and replay_main). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* A small deterministic generator (splitmix64) seeded from the input bytes. */
typedef struct fuzz_rng {
    uint64_t s;
} fuzz_rng;

fuzz_rng fuzz_rng_from(const uint8_t *data, size_t size);
uint64_t fuzz_rng_next(fuzz_rng *r);

/* Fill cuts[0..max) with increasing split points in (0, size), return how many.
 * Chunk sizes are skewed towards 1..4 bytes so that every token boundary gets split. */
size_t fuzz_split_points(fuzz_rng *r, size_t size, size_t *cuts, size_t max);

/* The split points of an input: fuzz_split_points() with a generator seeded from it. */
size_t fuzz_cuts(const uint8_t *data, size_t size, size_t *cuts, size_t max);

/* Grow the readable part of an input, avail bytes of size, to the next cut after it (*c
 * remembers where in cuts[] the last one was). Returns 0 when all of it is readable already. */
int fuzz_grow(size_t *avail, size_t size, const size_t *cuts, size_t ncuts, size_t *c);

/* ---- Comparing two parses of one input -------------------------------------------------- */

/* FNV-1a, a word at a time: parsed fields are folded into a hash that the whole and the split
 * parse must agree on. */
#define FUZZ_HASH_SEED 1469598103934665603ull

static inline uint64_t fuzz_mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 1099511628211ull;
}

/* Both parses read the same input array, so a slice is known by its offset and length. */
static inline uint64_t fuzz_mix_slice(uint64_t h, const char *base, mr_slice s)
{
    h = fuzz_mix(h, s.n);
    return s.n ? fuzz_mix(h, (uint64_t)(s.p - base)) : h;
}

/* The same bytes (not necessarily at the same place). */
static inline int fuzz_same_slice(mr_slice a, mr_slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* What one parse call returned: consumed count or MR_NEED_MORE / MR_ERROR with its error, and
 * the hash of what it parsed. */
typedef struct fuzz_item {
    int r;
    mr_errcode code;
    const char *rule;
    size_t offset;
    uint64_t hash;
} fuzz_item;

/* Record r (with *err when it is MR_ERROR) and hash. */
void fuzz_item_set(fuzz_item *it, int r, const mr_error *err, uint64_t hash);

/* Do two runs of items agree: the same count, results, hashes and errors (rule by name)? */
int fuzz_same_items(const fuzz_item *a, size_t na, const fuzz_item *b, size_t nb);

/* ---- SASL continuation lines (SMTP and POP3 command targets) ----------------------------- */

typedef int (*fuzz_auth_parse_fn)(const char *buf, size_t len, mr_mode mode, mr_slice *b64,
                                  int *cancel, mr_error *err);
typedef int (*fuzz_auth_write_fn)(char *dst, size_t cap, mr_slice b64, int cancel,
                                  mr_error *err);

/* Read up to 8 continuation lines of data with parse; each, written with write and read again,
 * gives the same text and cancel flag, unless (MR_LENIENT only) the writer refuses text the
 * lenient reader took (MR_E_BASE64). */
void fuzz_auth_lines(const char *data, size_t size, mr_mode mode, fuzz_auth_parse_fn parse,
                     fuzz_auth_write_fn write);

#endif
