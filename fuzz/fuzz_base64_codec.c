/* fuzz_base64_codec.c -- proto/base64.c, both directions.
 *
 * Oracles, for the input read as base64 under every flag combination:
 *  - decoding into a buffer and counting only (dst NULL) agree, error included;
 *  - an accepted input decodes to at most b64_decoded_max() bytes, re-encodes to exactly
 *    b64_encoded_len() characters, and that encoding decodes strictly to the same bytes; with
 *    one byte less of room the decode fails with MR_E_LIMIT_LITERAL;
 *  - the strict decoder accepts exactly what the encoder produces: a strictly accepted input
 *    is its own re-encoding, byte for byte;
 *  - each relaxation accepts a superset with the same result (strict => pad-optional /
 *    padbits-any => lenient => lenient + whitespace), and skipping whitespace equals removing it;
 *  - a strictly valid input cut at a quantum boundary decodes to a prefix of the output;
 *  - an error names a rule and an offset inside the input.
 * And for the input read as raw bytes: encode, then strict decode, gives the input back.
 */
#include <string.h>

#include "fuzz/util.h"
#include "proto/base64.h"

/* Base64 errors and quanta are local, so long inputs add time and no coverage: only the first
 * 512 bytes are used. */
enum { MAX_IN = 512, MAX_CUTS = 8 };

static const unsigned flag_sets[] = {
    B64_STRICT,     B64_PAD_OPTIONAL, B64_PADBITS_ANY,
    B64_LENIENT,    B64_SKIP_SPACE,   B64_LENIENT | B64_SKIP_SPACE,
};
enum { NSETS = sizeof flag_sets / sizeof flag_sets[0] };

static unsigned char out[NSETS][MAX_IN];
static char enc[MAX_IN * 4 / 3 + 8];
static unsigned char back[MAX_IN + 8];
static char stripped[MAX_IN];

static void check_accepted(const char *s, size_t n, unsigned flags, const unsigned char *dec,
                           int r)
{
    FUZZ_CHECK((size_t)r <= b64_decoded_max(n));
    int e = b64_encode(dec, (size_t)r, enc, sizeof enc, NULL);
    FUZZ_CHECK(e >= 0 && (size_t)e == b64_encoded_len((size_t)r));
    mr_error err;
    int again = b64_decode(enc, (size_t)e, back, sizeof back, B64_STRICT, &err);
    FUZZ_CHECK(again == r && memcmp(back, dec, (size_t)r) == 0);
    if (flags == B64_STRICT)
        FUZZ_CHECK((size_t)e == n && memcmp(enc, s, n) == 0);
    if (r > 0) {
        int short_r = b64_decode(s, n, back, (size_t)r - 1, flags, &err);
        FUZZ_CHECK(short_r == MR_ERROR && err.code == MR_E_LIMIT_LITERAL && err.offset < n);
    }
}

FUZZ_NO_COVERAGE
static void check_quanta(const uint8_t *data, size_t size, const char *s, size_t n,
                         const unsigned char *dec)
{
    size_t cuts[MAX_CUTS];
    fuzz_rng rng = fuzz_rng_from(data, size);
    size_t ncuts = fuzz_split_points(&rng, n, cuts, MAX_CUTS);
    for (size_t c = 0; c < ncuts; c++) {
        size_t k = cuts[c] / 4 * 4;
        int r = b64_decode(s, k, back, sizeof back, B64_STRICT, NULL);
        FUZZ_CHECK(r >= 0 && (size_t)r == k / 4 * 3 && memcmp(back, dec, (size_t)r) == 0);
    }
}

FUZZ_NO_COVERAGE
static size_t strip_space(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            stripped[k++] = s[i];
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t n = size < MAX_IN ? size : MAX_IN;
    int r[NSETS];
    for (size_t f = 0; f < NSETS; f++) {
        mr_error err = {MR_E_NONE, NULL, 0}, err2 = {MR_E_NONE, NULL, 0};
        r[f] = b64_decode(s, n, out[f], MAX_IN, flag_sets[f], &err);
        /* counting (dst NULL) takes the same path: check it for the extreme sets only */
        int counted = f == 0 || f == NSETS - 1
                          ? b64_decode(s, n, NULL, (size_t)-1, flag_sets[f], &err2)
                          : (err2 = err, r[f]);
        FUZZ_CHECK(counted == r[f]);
        if (r[f] < 0) {
            FUZZ_CHECK(r[f] == MR_ERROR && err.code == MR_E_BASE64 && err.rule != NULL);
            FUZZ_CHECK(err.offset <= n);
            FUZZ_CHECK(err2.code == err.code && err2.offset == err.offset &&
                       strcmp(err2.rule, err.rule) == 0);
            continue;
        }
        /* a relaxed set that decoded to the same bytes as the strict one needs no re-check */
        if (f == 0 || r[0] != r[f] || memcmp(out[0], out[f], (size_t)r[f]) != 0)
            check_accepted(s, n, flag_sets[f], out[f], r[f]);
    }
    /* strict => pad-optional, padbits-any => lenient => lenient+space; space => lenient+space */
    static const int implies[][2] = {{0, 1}, {0, 2}, {0, 4}, {1, 3}, {2, 3}, {3, 5}, {4, 5}};
    for (size_t k = 0; k < sizeof implies / sizeof implies[0]; k++) {
        int a = implies[k][0], b = implies[k][1];
        if (r[a] >= 0)
            FUZZ_CHECK(r[b] == r[a] && memcmp(out[a], out[b], (size_t)r[a]) == 0);
    }
    if (r[0] >= 0)
        check_quanta(data, size, s, n, out[0]);
    /* skipping whitespace is the same as not having it */
    size_t ns = strip_space(s, n);
    int rs = b64_decode(stripped, ns, back, sizeof back, B64_LENIENT, NULL);
    FUZZ_CHECK(rs == r[5] || (rs < 0 && r[5] < 0));
    if (rs >= 0)
        FUZZ_CHECK(memcmp(back, out[5], (size_t)rs) == 0);
    /* the input as raw bytes */
    int e = b64_encode(data, n, enc, sizeof enc, NULL);
    FUZZ_CHECK(e >= 0 && (size_t)e == b64_encoded_len(n));
    int d = b64_decode(enc, (size_t)e, back, sizeof back, B64_STRICT, NULL);
    FUZZ_CHECK(d >= 0 && (size_t)d == n && memcmp(back, data, n) == 0);
    return 0;
}
