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
#include <string.h>

#include "fuzz/util.h"
#include "proto/smtp_command.h"

enum { MAX_INPUT = 1024, MAX_ITEMS = 64, MAX_CUTS = 64, OUT_CAP = 16384 };

typedef struct item {
    int r;                /* consumed, or MR_NEED_MORE / MR_ERROR at the end */
    mr_errcode code;
    const char *rule;
    size_t offset;
    uint64_t hash;        /* of the parsed fields, offsets relative to the input */
} item;

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 1099511628211ull;
}

/* Both parses read the same input array, so a slice is known by its offset and length. */
static uint64_t mix_slice(uint64_t h, const char *base, mr_slice s)
{
    h = mix(h, s.n);
    return s.n ? mix(h, (uint64_t)(s.p - base)) : h;
}

static uint64_t hash_command(const smtp_command *c, const char *base)
{
    uint64_t h = 1469598103934665603ull;
    h = mix(h, c->verb);
    h = mix_slice(h, base, c->verb_text);
    h = mix_slice(h, base, c->arg);
    h = mix_slice(h, base, c->domain);
    h = mix(h, c->domain_kind);
    h = mix_slice(h, base, c->path.route);
    h = mix_slice(h, base, c->path.local);
    h = mix_slice(h, base, c->path.domain);
    h = mix(h, c->path.domain_kind * 8u + c->path.null_path * 4u + c->path.bracketed * 2u +
                   c->path.utf8);
    h = mix(h, c->nparams);
    for (size_t k = 0; k < c->nparams; k++) {
        h = mix_slice(h, base, c->params[k].keyword);
        h = mix_slice(h, base, c->params[k].value);
        h = mix(h, c->params[k].has_value);
    }
    h = mix(h, c->chunk_size);
    h = mix(h, c->last);
    h = mix_slice(h, base, c->mechanism);
    h = mix_slice(h, base, c->initial_response);
    h = mix(h, c->has_initial_response);
    return mix_slice(h, base, c->string);
}

static int same_slice(mr_slice a, mr_slice b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
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
    FUZZ_CHECK(same_slice(d.domain, c->domain) && d.domain_kind == c->domain_kind);
    FUZZ_CHECK(same_slice(d.path.route, c->path.route));
    FUZZ_CHECK(same_slice(d.path.local, c->path.local));
    FUZZ_CHECK(same_slice(d.path.domain, c->path.domain));
    FUZZ_CHECK(d.path.domain_kind == c->path.domain_kind && d.path.null_path == c->path.null_path);
    FUZZ_CHECK(d.path.utf8 == c->path.utf8);
    FUZZ_CHECK(d.nparams == c->nparams);
    for (size_t k = 0; k < c->nparams; k++) {
        FUZZ_CHECK(same_slice(d.params[k].keyword, c->params[k].keyword));
        FUZZ_CHECK(same_slice(d.params[k].value, c->params[k].value));
        FUZZ_CHECK(d.params[k].has_value == c->params[k].has_value);
    }
    FUZZ_CHECK(d.chunk_size == c->chunk_size && d.last == c->last);
    FUZZ_CHECK(same_slice(d.mechanism, c->mechanism));
    FUZZ_CHECK(same_slice(d.initial_response, c->initial_response));
    FUZZ_CHECK(d.has_initial_response == c->has_initial_response);
    FUZZ_CHECK(same_slice(d.string, c->string));
}

static void record(item *it, int r, const mr_error *err, uint64_t hash)
{
    it->r = r;
    it->code = r == MR_ERROR ? err->code : MR_E_NONE;
    it->rule = r == MR_ERROR ? err->rule : NULL;
    it->offset = r == MR_ERROR ? err->offset : 0;
    it->hash = hash;
}

/* Parse the stream with the buffer growing to each cut in turn (ncuts 0: whole). */
static size_t parse_stream(const char *data, size_t size, mr_mode mode,
                           const smtp_command_limits *lim, const size_t *cuts, size_t ncuts,
                           item *items, int check)
{
    size_t n = 0, at = 0, c = 0, scanned = 0;
    size_t avail = ncuts ? cuts[0] : size;
    while (n < MAX_ITEMS) {
        smtp_command cmd;
        mr_error err;
        int r = smtp_command_parse(data + at, avail - at, mode, lim, &scanned, &cmd, &err);
        if (r == MR_NEED_MORE && avail < size) {
            while (c < ncuts && cuts[c] <= avail)
                c++;
            avail = c < ncuts ? cuts[c] : size;
            continue;
        }
        scanned = 0;
        record(&items[n++], r, &err, r > 0 ? hash_command(&cmd, data) : 0);
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

static void auth_lines(const char *data, size_t size, mr_mode mode)
{
    size_t at = 0;
    for (int k = 0; k < 8 && at < size; k++) {
        mr_slice resp;
        int cancel;
        mr_error err;
        int r = smtp_auth_response_parse(data + at, size - at, mode, NULL, &resp, &cancel, &err);
        if (r <= 0)
            return;
        static char out[OUT_CAP];
        int n = smtp_auth_response_write(out, sizeof out, resp, cancel, &err);
        if (n == MR_ERROR) { /* lenient reads what the writer refuses to send */
            FUZZ_CHECK(mode == MR_LENIENT && err.code == MR_E_BASE64);
        } else {
            mr_slice again;
            int c2;
            FUZZ_CHECK(smtp_auth_response_parse(out, (size_t)n, mode, NULL, &again, &c2, &err) == n);
            FUZZ_CHECK(c2 == cancel && same_slice(again, resp));
        }
        at += (size_t)r;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) /* the limits below are small: longer inputs reach nothing new */
        size = MAX_INPUT;
    const char *s = (const char *)data;
    size_t cuts[MAX_CUTS];
    fuzz_rng rng = fuzz_rng_from(data, size);
    size_t ncuts = fuzz_split_points(&rng, size, cuts, MAX_CUTS);
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
        item whole[MAX_ITEMS], split[MAX_ITEMS];
        size_t nw = parse_stream(s, size, mode, &lim, NULL, 0, whole, 1);
        size_t ns = parse_stream(s, size, mode, &lim, cuts, ncuts, split, 0);
        FUZZ_CHECK(nw == ns);
        for (size_t k = 0; k < nw; k++) {
            FUZZ_CHECK(whole[k].r == split[k].r && whole[k].hash == split[k].hash);
            FUZZ_CHECK(whole[k].code == split[k].code && whole[k].offset == split[k].offset);
            FUZZ_CHECK(whole[k].rule == split[k].rule ||
                       (whole[k].rule && split[k].rule && !strcmp(whole[k].rule, split[k].rule)));
        }
        auth_lines(s, size, mode);
    }
    return 0;
}
