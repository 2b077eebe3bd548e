/* fuzz_tls_sniff.c -- the first-bytes classifier and ClientHello reader in proto/tlssniff.c.
 *
 * Seeds: corpora/tls_sniff/, real ClientHellos captured by ci/capture-tls-hellos from
 * `openssl s_client`, curl and Python's ssl module, plus plaintext first lines.
 * Oracles:
 *  - classify is monotonic: once a prefix has a verdict, every longer prefix has the same one;
 *    it decides within TLSSNIFF_DECIDE_BYTES; with final set it always decides, and agrees
 *    with any verdict already reached without it;
 *  - a ClientHello that parses whole gives MR_NEED_MORE for every proper prefix of its record,
 *    the same result with any bytes after the record, an SNI slice inside the record, and the
 *    classifier's TLSSNIFF_TLS_HELLO verdict.
 */
#include <string.h>

#include "fuzz/util.h"
#include "proto/tlssniff.h"

enum { MAX_CUTS = 256 };

FUZZ_NO_COVERAGE
static void check_classify(const char *s, size_t size)
{
    tlssniff_kind decided = TLSSNIFF_NEED_MORE;
    size_t limit = size < 2 * TLSSNIFF_DECIDE_BYTES ? size : 2 * TLSSNIFF_DECIDE_BYTES;
    for (size_t k = 0; k <= limit; k++) {
        tlssniff_kind c = tlssniff_classify(s, k, 0);
        tlssniff_kind f = tlssniff_classify(s, k, 1);
        FUZZ_CHECK(f != TLSSNIFF_NEED_MORE);
        FUZZ_CHECK(c == TLSSNIFF_NEED_MORE || c == f);
        FUZZ_CHECK(decided == TLSSNIFF_NEED_MORE || c == decided);
        FUZZ_CHECK(k < TLSSNIFF_DECIDE_BYTES || c != TLSSNIFF_NEED_MORE);
        if (c != TLSSNIFF_NEED_MORE)
            decided = c;
    }
    FUZZ_CHECK(tlssniff_classify(s, size, 0) == decided || size < TLSSNIFF_DECIDE_BYTES);
    FUZZ_CHECK(strcmp(tlssniff_kind_name(decided), "") != 0);
}

static void check_hello(const uint8_t *data, const char *s, size_t size)
{
    tlssniff_hello h;
    mr_error err = {0};
    int whole = tlssniff_parse_hello(s, size, &h, &err);
    if (whole == MR_ERROR) {
        FUZZ_CHECK(err.rule != NULL && err.offset <= size);
        return;
    }
    if (whole == MR_NEED_MORE) {
        FUZZ_CHECK(size < 5 + (1u << 14));
        return;
    }
    FUZZ_CHECK(whole >= 5 + 4 + 38 && (size_t)whole <= size);
    FUZZ_CHECK(tlssniff_classify(s, size, 0) == TLSSNIFF_TLS_HELLO);
    FUZZ_CHECK(!h.sni.p || (h.sni.p > s && h.sni.p + h.sni.n <= s + whole && h.sni.n > 0));
    FUZZ_CHECK(h.max_version >> 8 == 0x03 && h.ncipher_suites >= 1);
    FUZZ_CHECK(strcmp(tlssniff_version_name(h.max_version), "") != 0);
    tlssniff_hello again;
    FUZZ_CHECK(tlssniff_parse_hello(s, (size_t)whole, &again, &err) == whole);
    FUZZ_CHECK(again.sni.p == h.sni.p && again.sni.n == h.sni.n);
    FUZZ_CHECK(again.max_version == h.max_version);
    size_t cuts[MAX_CUTS];
    fuzz_rng rng = fuzz_rng_from(data, size);
    size_t ncuts = fuzz_split_points(&rng, (size_t)whole, cuts, MAX_CUTS);
    for (size_t i = 0; i < ncuts; i++)
        FUZZ_CHECK(tlssniff_parse_hello(s, cuts[i], &again, &err) == MR_NEED_MORE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_classify(s, size);
    check_hello(data, s, size);
    return 0;
}
