/* bench.h -- the table of mailrig parsers the benchmark runs (bench/ours.c). */
#ifndef MAILRIG_BENCH_BENCH_H
#define MAILRIG_BENCH_BENCH_H

#include <stddef.h>

#include "bench/streams.h"

typedef enum bench_kind { BENCH_IMAP, BENCH_DATA, BENCH_REPLIES } bench_kind;

typedef struct bench_parser {
    const char *name;
    bench_kind stream;
    size_t (*run)(const bench_stream *s);    /* parse all of s, return items parsed */
    size_t (*expect)(const bench_stream *s); /* how many items run must report */
    double min_vs_reference;                 /* IMAP: at least this many times libetpan */
    double max_vs_memchr;                    /* SMTP: at most this many times slower */
} bench_parser;

/* Terminated by an entry with name == NULL. */
extern const bench_parser bench_parsers[];

#endif
