/* fuzz_pop3_command.c -- POP3 command lines (proto/pop3.c), client to server.
 *
 * The input is a client stream (POP3 clients pipeline with RFC 2449 PIPELINING). Oracles, in
 * strict and lenient mode:
 *  - split: whole-buffer parsing and parsing as the bytes arrive give the same commands,
 *    consumed counts and errors;
 *  - round trip: pop3_command_write then pop3_command_parse gives the same fields;
 *  - the same for SASL response lines (pop3_auth_response_parse / _write).
 */
#include "fuzz/util.h"
#include "proto/pop3.h"

enum { MAX_INPUT = 1024, MAX_ITEMS = 64, MAX_CUTS = 64, OUT_CAP = 16384 };

static uint64_t hash_command(const pop3_command *c, const char *base)
{
    uint64_t h = FUZZ_HASH_SEED;
    h = fuzz_mix(h, c->verb);
    h = fuzz_mix_slice(h, base, c->verb_text);
    h = fuzz_mix_slice(h, base, c->arg);
    h = fuzz_mix_slice(h, base, c->name);
    h = fuzz_mix_slice(h, base, c->secret);
    h = fuzz_mix(h, c->msg);
    h = fuzz_mix(h, c->has_msg);
    h = fuzz_mix(h, c->lines);
    h = fuzz_mix_slice(h, base, c->mechanism);
    h = fuzz_mix_slice(h, base, c->initial_response);
    return fuzz_mix(h, c->has_initial_response);
}

static void round_trip(const pop3_command *c, mr_mode mode, const pop3_limits *lim)
{
    static char out[OUT_CAP];
    mr_error err;
    int n = pop3_command_write(out, sizeof out, c, &err);
    if (n == MR_ERROR) {
        /* Lenient USER takes the rest of the line; the writer sends one word only. */
        FUZZ_CHECK(mode == MR_LENIENT && c->verb == POP3_USER && err.code == MR_E_SYNTAX);
        return;
    }
    FUZZ_CHECK(n > 0 && n <= OUT_CAP && pop3_command_write(NULL, 0, c, &err) == n);
    pop3_limits wide = *lim;
    wide.max_line += 8;
    wide.max_auth_line += 8;
    pop3_command d;
    FUZZ_CHECK(pop3_command_parse(out, (size_t)n, mode, &wide, NULL, &d, &err) == n);
    FUZZ_CHECK(d.verb == c->verb);
    FUZZ_CHECK(fuzz_same_slice(d.name, c->name) && fuzz_same_slice(d.secret, c->secret));
    FUZZ_CHECK(d.msg == c->msg && d.has_msg == c->has_msg && d.lines == c->lines);
    FUZZ_CHECK(fuzz_same_slice(d.mechanism, c->mechanism));
    FUZZ_CHECK(fuzz_same_slice(d.initial_response, c->initial_response));
    FUZZ_CHECK(d.has_initial_response == c->has_initial_response);
}

static size_t parse_stream(const char *data, size_t size, mr_mode mode, const pop3_limits *lim,
                           const size_t *cuts, size_t ncuts, fuzz_item *items, int check)
{
    size_t n = 0, at = 0, c = 0, scanned = 0;
    size_t avail = ncuts ? cuts[0] : size;
    while (n < MAX_ITEMS) {
        pop3_command cmd;
        mr_error err;
        int r = pop3_command_parse(data + at, avail - at, mode, lim, &scanned, &cmd, &err);
        if (r == MR_NEED_MORE && fuzz_grow(&avail, size, cuts, ncuts, &c))
            continue;
        scanned = 0;
        fuzz_item_set(&items[n++], r, &err, r > 0 ? hash_command(&cmd, data) : 0);
        if (r <= 0)
            break;
        FUZZ_CHECK((size_t)r <= avail - at);
        FUZZ_CHECK(cmd.verb > POP3_VERB_NONE && cmd.verb < POP3_VERB__COUNT);
        if (check)
            round_trip(&cmd, mode, lim);
        at += (size_t)r;
        if (avail < at)
            avail = at;
    }
    return n;
}

static int auth_parse(const char *buf, size_t len, mr_mode mode, mr_slice *b64, int *cancel,
                      mr_error *err)
{
    return pop3_auth_response_parse(buf, len, mode, NULL, b64, cancel, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) /* the limits below are small: longer inputs reach nothing new */
        size = MAX_INPUT;
    const char *s = (const char *)data;
    size_t cuts[MAX_CUTS];
    size_t ncuts = fuzz_cuts(data, size, cuts, MAX_CUTS);
    for (int m = 0; m < 2; m++) {
        mr_mode mode = m ? MR_LENIENT : MR_STRICT;
        pop3_limits lim = pop3_limits_default();
        if (m) {
            lim.max_line = 60;
            lim.max_auth_line = 200;
            lim.max_number = 100000;
        }
        fuzz_item whole[MAX_ITEMS], split[MAX_ITEMS];
        size_t nw = parse_stream(s, size, mode, &lim, NULL, 0, whole, 1);
        size_t ns = parse_stream(s, size, mode, &lim, cuts, ncuts, split, 0);
        FUZZ_CHECK(fuzz_same_items(whole, nw, split, ns));
        fuzz_auth_lines(s, size, mode, auth_parse, pop3_auth_response_write);
    }
    return 0;
}
