/* ours.c -- mailrig's parsers, as the benchmark runs them. */
#include "bench/bench.h"

const bench_parser bench_parsers[] = {
    {0},
};
