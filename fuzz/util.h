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

#endif
