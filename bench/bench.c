/* bench.c -- parser throughput on realistic streams, side by side with references.
 *
 * For each stream, every parser runs over the same bytes in the same process; the best of
 * several runs (in thread CPU time) is kept. Printed ratios: against libetpan (IMAP only; higher is better) and
 * against a plain memchr scan for LF over the same bytes (the practical upper bound; the
 * "distance" is how many times slower than memchr a parser is). Each parser's item count is
 * checked against the generator's, so a parser that skips work cannot look fast.
 *
 * usage: bench [-s MB] [-r RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/ref_libetpan.h"
#include "bench/streams.h"

/* CPU time of this thread, not wall time: on a shared machine a run is preempted at random,
 * and wall time would charge whichever parser was running for other processes' work. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Best wall time of `runs` runs of fn over s; *items gets fn's result (checked by caller). */
static double best_time(size_t (*fn)(const bench_stream *), const bench_stream *s, int runs,
                        size_t *items)
{
    double best = 1e30;
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        *items = fn(s);
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    return best;
}

static size_t run_memchr(const bench_stream *s)
{
    return bench_memchr_lines(s->p, s->n);
}

static size_t run_libetpan(const bench_stream *s)
{
    return ref_libetpan_parse_responses(s->p, s->n);
}

typedef struct measured {
    const char *name;
    double mbps;
} measured;

static int failures;

static measured measure(const char *name, size_t (*fn)(const bench_stream *),
                        const bench_stream *s, size_t expect_items, int runs)
{
    size_t items = 0;
    double t = best_time(fn, s, runs, &items);
    measured m = {name, (double)s->n / t / 1e6};
    if (expect_items && items != expect_items) {
        fprintf(stderr, "bench: %s parsed %zu items, the stream holds %zu\n", name, items,
                expect_items);
        failures++;
    }
    return m;
}

static void print_header(void)
{
    printf("%-20s %-28s %10s %12s %14s %s\n", "stream", "parser", "MB/s", "vs libetpan",
           "vs memchr", "target");
}

static void print_row(const char *stream, const measured *m, const measured *memchr_m,
                      const measured *libetpan_m, const char *target, int met)
{
    char vs_etpan[32] = "-", vs_memchr[32];
    if (libetpan_m)
        snprintf(vs_etpan, sizeof vs_etpan, "%.1fx", m->mbps / libetpan_m->mbps);
    snprintf(vs_memchr, sizeof vs_memchr, "%.2fx slower", memchr_m->mbps / m->mbps);
    printf("%-20s %-28s %10.1f %12s %14s %s%s\n", stream, m->name, m->mbps, vs_etpan, vs_memchr,
           target ? target : "", target ? (met ? "  MET" : "  MISSED") : "");
}

int main(int argc, char **argv)
{
    size_t mb = 64;
    int runs = 5, opt;
    while ((opt = getopt(argc, argv, "s:r:h")) != -1) {
        switch (opt) {
        case 's': mb = (size_t)strtoul(optarg, NULL, 10); break;
        case 'r': runs = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-s MB per stream] [-r runs, best kept]\n", argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (mb == 0 || runs <= 0) {
        fprintf(stderr, "bench: -s and -r must be positive\n");
        return 2;
    }

    bench_stream imap = bench_imap_fetch_session(mb << 20);
    bench_stream data = bench_smtp_data(mb << 20);
    bench_stream replies = bench_smtp_replies((mb / 4 ? mb / 4 : 1) << 20);
    printf("streams: imap-fetch %.1f MB (%zu tagged responses), smtp-data %.1f MB, "
           "smtp-replies %.1f MB (%zu replies); best of %d runs\n\n",
           (double)imap.n / 1e6, imap.items, (double)data.n / 1e6, (double)replies.n / 1e6,
           replies.items, runs);
    print_header();

    measured m = measure("memchr LF scan", run_memchr, &imap, 0, runs);
    measured e = measure("libetpan 1.9 response parse", run_libetpan, &imap, imap.items, runs);
    print_row("imap-fetch-session", &m, &m, &e, NULL, 0);
    print_row("imap-fetch-session", &e, &m, &e, NULL, 0);
    for (const bench_parser *p = bench_parsers; p->name; p++) {
        const bench_stream *s = p->stream == BENCH_IMAP ? &imap
                              : p->stream == BENCH_DATA ? &data : &replies;
        if (p->stream != BENCH_IMAP)
            continue;
        measured ours = measure(p->name, p->run, s, p->expect(s), runs);
        char target[64];
        snprintf(target, sizeof target, ">= %.0fx libetpan", p->min_vs_reference);
        print_row("imap-fetch-session", &ours, &m, &e, target,
                  ours.mbps >= p->min_vs_reference * e.mbps);
    }

    for (int k = BENCH_DATA; k <= BENCH_REPLIES; k++) {
        const bench_stream *s = k == BENCH_DATA ? &data : &replies;
        const char *sname = k == BENCH_DATA ? "smtp-data" : "smtp-replies";
        measured ms = measure("memchr LF scan", run_memchr, s, 0, runs);
        print_row(sname, &ms, &ms, NULL, NULL, 0);
        for (const bench_parser *p = bench_parsers; p->name; p++) {
            if ((int)p->stream != k)
                continue;
            measured ours = measure(p->name, p->run, s, p->expect(s), runs);
            char target[64];
            snprintf(target, sizeof target, "within %.0fx of memchr", p->max_vs_memchr);
            print_row(sname, &ours, &ms, NULL, target, ms.mbps / ours.mbps <= p->max_vs_memchr);
        }
    }
    free(imap.p);
    free(data.p);
    free(replies.p);
    if (failures) {
        fprintf(stderr, "bench: %d parser(s) disagreed with the stream's item count\n", failures);
        return 1;
    }
    return 0;
}
