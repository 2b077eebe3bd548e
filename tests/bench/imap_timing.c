/* imap_timing.c -- development timing of the IMAP response path (not a test: no assertions
 * on time). Frames a response stream, parses every item and walks the FETCH attributes
 * (decoding each ENVELOPE), as a client would; prints MB/s next to a memchr scan for LF.
 *
 *   python3 tests/bench/imap_gen_fetch_session.py 52428800 1.0 > /tmp/meta.txt
 *   cc -O2 -D_DEFAULT_SOURCE -I. tests/bench/imap_timing.c proto/imap_*.c proto/mr.c \
 *      -o /tmp/imap_timing
 *   /tmp/imap_timing /tmp/meta.txt [lenient 0|1] [repetitions]
 * With -DWITH_ETPAN and -letpan it also times libetpan's mailimap_response_parse on the same
 * bytes (one call over the whole stream, which is one IMAP "response").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/imap_access.h"
#include "proto/imap_framer.h"
#include "proto/imap_parse.h"
#ifdef WITH_ETPAN
#include <libetpan/libetpan.h>
int mailimap_response_parse(mailstream *fd, MMAPString *buffer, struct mailimap_parser_context *ctx,
                            size_t *indx, struct mailimap_response **result, size_t progr_rate,
                            progress_function *progr_fun);
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0)
        exit(2);
    *n = (size_t)ftell(f);
    rewind(f);
    char *b = malloc(*n + 1);
    if (!b || fread(b, 1, *n, f) != *n)
        exit(2);
    fclose(f);
    return b;
}

static imap_token tok[65536];

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [lenient 0|1] [repetitions]\n", argv[0]);
        return 2;
    }
    size_t n;
    char *buf = slurp(argv[1], &n);
    imap_limits lim = imap_limits_default();
    lim.mode = argc > 2 && atoi(argv[2]) ? MR_LENIENT : MR_STRICT;
    lim.inline_literal_max = lim.literal_max; /* whole items in one buffer */
    lim.item_max = 64u << 20;
    int reps = argc > 3 ? atoi(argv[3]) : 10;
    double best = 1e9;
    unsigned long atts = 0, items = 0, envs = 0;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now();
        atts = items = envs = 0;
        imap_framer f;
        imap_framer_init(&f, IMAP_SIDE_RESPONSE, &lim);
        for (size_t at = 0; at < n;) {
            imap_frame ev;
            mr_error err;
            imap_response rs;
            int r = imap_framer_next(&f, buf + at, n - at, &ev, &err);
            if (r <= 0 || ev.kind != IMAP_FRAME_ITEM) {
                fprintf(stderr, "framing stopped (%d) at %zu\n", r, at);
                return 1;
            }
            if (imap_response_parse(buf + at, ev.n, &lim, &rs, tok, 65536, &err) < 0) {
                fprintf(stderr, "parse error %s (%s) at %zu+%zu\n", mr_errcode_str(err.code),
                        err.rule, at, err.offset);
                return 1;
            }
            items++;
            imap_fetch_iter it;
            imap_fetch_att a;
            if (imap_fetch_begin(&it, &rs) == 0)
                while (imap_fetch_next(&it, &a) == 1) {
                    atts++;
                    imap_envelope e;
                    if (a.att == IMAP_ATT_ENVELOPE && imap_envelope_decode(&rs.t, a.value, &e) == 0)
                        envs++;
                }
            at += (size_t)r;
        }
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    printf("mailrig: %.1f MB/s (%lu items, %lu atts, %lu envelopes)\n", (double)n / best / 1e6,
           items, atts, envs);
    best = 1e9;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now();
        size_t lines = 0;
        for (const char *p = buf, *e = buf + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
            lines++;
        double dt = now() - t0;
        if (dt < best)
            best = dt;
        if (lines == 0)
            return 1;
    }
    printf("memchr:  %.1f MB/s\n", (double)n / best / 1e6);
#ifdef WITH_ETPAN
    MMAPString *s = mmap_string_new_len(buf, n);
    size_t idx = 0;
    struct mailimap_response *resp = NULL;
    mailimap *sess = mailimap_new(0, NULL);
    struct mailimap_parser_context *ctx = mailimap_parser_context_new(sess);
    double t0 = now();
    int r = mailimap_response_parse(NULL, s, ctx, &idx, &resp, 0, NULL);
    printf("libetpan: %.1f MB/s (r=%d, %zu bytes)\n", (double)n / (now() - t0) / 1e6, r, idx);
#endif
    free(buf);
    return 0;
}
