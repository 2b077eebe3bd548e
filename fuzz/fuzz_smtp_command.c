/* fuzz_smtp_command.c -- SMTP command lines (proto/smtp_command.c), client to server.
 *
 * The input is a pipelined client stream. Oracles, in strict and lenient mode:
 *  - split: parsing the stream whole and parsing it as it arrives in pieces (the buffer grows
 *    at fuzz_split_points, with the mr_line_next resume hint) give the same commands, consumed
 *    counts and errors;
 *  - round trip: every parsed command, written with smtp_command_write and parsed again, gives
 *    the same fields; the size query agrees with the write;
 *  - the same for AUTH response lines (smtp_auth_response_parse / _write).
 */
#include "fuzz/util.h"
#include "proto/smtp_command.h"

enum { MAX_INPUT = 1024, MAX_ITEMS = 64, MAX_CUTS = 64, OUT_CAP = 16384 };

static uint64_t hash_command(const smtp_command *c, const char *base)
{
    uint64_t h = FUZZ_HASH_SEED;
    h = fuzz_mix(h, c->verb);
    h = fuzz_mix_slice(h, base, c->verb_text);
    h = fuzz_mix_slice(h, base, c->arg);
    h = fuzz_mix_slice(h, base, c->domain);
    h = fuzz_mix(h, c->domain_kind);
    h = fuzz_mix_slice(h, base, c->path.route);
    h = fuzz_mix_slice(h, base, c->path.local);
    h = fuzz_mix_slice(h, base, c->path.domain);
    h = fuzz_mix(h, c->path.domain_kind * 8u + c->path.null_path * 4u +
                        c->path.bracketed * 2u + c->path.utf8);
    h = fuzz_mix(h, c->nparams);
    for (size_t k = 0; k < c->nparams; k++) {
        h = fuzz_mix_slice(h, base, c->params[k].keyword);
        h = fuzz_mix_slice(h, base, c->params[k].value);
        h = fuzz_mix(h, c->params[k].has_value);
    }
    h = fuzz_mix(h, c->chunk_size);
    h = fuzz_mix(h, c->last);
    h = fuzz_mix_slice(h, base, c->mechanism);
    h = fuzz_mix_slice(h, base, c->initial_response);
    h = fuzz_mix(h, c->has_initial_response);
    return fuzz_mix_slice(h, base, c->string);
}

/* parse(write(c)) == c for the fields the writer carries. */
static void round_trip(const smtp_command *c, mr_mode mode, const smtp_command_limits *lim)
{
    static char out[OUT_CAP];
    mr_error err;
    int need = smtp_command_write(NULL, 0, c, &err);
    int n = smtp_command_write(out, sizeof out, c, &err);
    FUZZ_CHECK(n == need);
    FUZZ_CHECK(n > 0 && n <= OUT_CAP);
    /* Canonical output can be a little longer than lenient input ("<" ">" added). */
    smtp_command_limits wide = *lim;
    wide.max_line += 8;
    wide.max_auth_line += 8;
    smtp_command d;
    int r = smtp_command_parse(out, (size_t)n, mode, &wide, NULL, &d, &err);
    FUZZ_CHECK(r == n);
    FUZZ_CHECK(d.verb == c->verb);
    FUZZ_CHECK(fuzz_same_slice(d.domain, c->domain) && d.domain_kind == c->domain_kind);
    FUZZ_CHECK(fuzz_same_slice(d.path.route, c->path.route));
    FUZZ_CHECK(fuzz_same_slice(d.path.local, c->path.local));
    FUZZ_CHECK(fuzz_same_slice(d.path.domain, c->path.domain));
    FUZZ_CHECK(d.path.domain_kind == c->path.domain_kind && d.path.null_path == c->path.null_path);
    FUZZ_CHECK(d.path.utf8 == c->path.utf8);
    FUZZ_CHECK(d.nparams == c->nparams);
    for (size_t k = 0; k < c->nparams; k++) {
        FUZZ_CHECK(fuzz_same_slice(d.params[k].keyword, c->params[k].keyword));
        FUZZ_CHECK(fuzz_same_slice(d.params[k].value, c->params[k].value));
        FUZZ_CHECK(d.params[k].has_value == c->params[k].has_value);
    }
    FUZZ_CHECK(d.chunk_size == c->chunk_size && d.last == c->last);
    FUZZ_CHECK(fuzz_same_slice(d.mechanism, c->mechanism));
    FUZZ_CHECK(fuzz_same_slice(d.initial_response, c->initial_response));
    FUZZ_CHECK(d.has_initial_response == c->has_initial_response);
    FUZZ_CHECK(fuzz_same_slice(d.string, c->string));
}

/* Parse the stream with the buffer growing to each cut in turn (ncuts 0: whole). */
static size_t parse_stream(const char *data, size_t size, mr_mode mode,
                           const smtp_command_limits *lim, const size_t *cuts, size_t ncuts,
                           fuzz_item *items, int check)
{
    size_t n = 0, at = 0, c = 0, scanned = 0;
    size_t avail = ncuts ? cuts[0] : size;
    while (n < MAX_ITEMS) {
        smtp_command cmd;
        mr_error err;
        int r = smtp_command_parse(data + at, avail - at, mode, lim, &scanned, &cmd, &err);
        if (r == MR_NEED_MORE && fuzz_grow(&avail, size, cuts, ncuts, &c))
            continue;
        scanned = 0;
        fuzz_item_set(&items[n++], r, &err, r > 0 ? hash_command(&cmd, data) : 0);
        if (r <= 0)
            break;
        FUZZ_CHECK((size_t)r <= avail - at);
        if (check) {
            FUZZ_CHECK(cmd.verb > SMTP_VERB_NONE && cmd.verb < SMTP_VERB__COUNT);
            FUZZ_CHECK(cmd.nparams <= SMTP_PARAMS_MAX && cmd.nparams <= lim->max_params);
            round_trip(&cmd, mode, lim);
        }
        at += (size_t)r;
        if (avail < at)
            avail = at;
    }
    return n;
}

static int auth_parse(const char *buf, size_t len, mr_mode mode, mr_slice *b64, int *cancel,
                      mr_error *err)
{
    return smtp_auth_response_parse(buf, len, mode, NULL, b64, cancel, err);
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
        smtp_command_limits lim = smtp_command_limits_default();
        if (m) { /* small limits in lenient mode, so inputs reach them */
            lim.max_line = 120;
            lim.max_auth_line = 300;
            lim.max_params = 4;
            lim.max_chunk = 100000;
        } else {
            lim.smtputf8 = size > 0 && (data[0] & 1);
        }
        fuzz_item whole[MAX_ITEMS], split[MAX_ITEMS];
        size_t nw = parse_stream(s, size, mode, &lim, NULL, 0, whole, 1);
        size_t ns = parse_stream(s, size, mode, &lim, cuts, ncuts, split, 0);
        FUZZ_CHECK(fuzz_same_items(whole, nw, split, ns));
        fuzz_auth_lines(s, size, mode, auth_parse, smtp_auth_response_write);
    }
    return 0;
}
