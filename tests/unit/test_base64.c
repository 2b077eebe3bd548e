/* test_base64.c -- proto/base64.c: RFC 4648 vectors, every error rule with its offset,
 * size arithmetic at the overflow edge, and round trips. Every decode reads a guard-page
 * copy of its input, so an over-read faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "proto/base64.h"
#include "tests/unit/support.h"

/* Decode s (length n) from a guard-page copy, and every proper prefix of it too (each must
 * return without reading past its end; the result is not checked). */
static int dec_n(const char *s, size_t n, unsigned flags, void *out, size_t cap, mr_error *err)
{
    char scratch[256];
    for (size_t k = 0; k < n && k < 64; k++) {
        char *p = guard_dup(s, k);
        mr_error e;
        (void)b64_decode(p, k, scratch, sizeof scratch, flags, &e);
        guard_free(p, k);
    }
    char *copy = guard_dup(s, n);
    int r = b64_decode(copy, n, out, cap, flags, err);
    guard_free(copy, n);
    return r;
}

static int dec(const char *s, unsigned flags, void *out, size_t cap, mr_error *err)
{
    return dec_n(s, strlen(s), flags, out, cap, err);
}

static void expect_ok(const char *in, unsigned flags, const char *want, size_t want_n)
{
    char out[256];
    mr_error err = {0};
    int r = dec(in, flags, out, sizeof out, &err);
    if (r < 0)
        fail_msg("decode \"%s\" failed: %s at %zu", in, err.rule, err.offset);
    assert_int_equal(r, want_n);
    assert_memory_equal(out, want, want_n);
}

static void expect_err(const char *in, unsigned flags, mr_errcode code, const char *rule,
                       size_t offset)
{
    char out[256];
    mr_error err = {0};
    assert_int_equal(dec(in, flags, out, sizeof out, &err), MR_ERROR);
    assert_err(&err, code, rule, offset);
}

/* RFC 4648 section 10, both directions. */
static void rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        size_t n = strlen(plain[i]);
        int r = b64_encode(plain[i], n, out, sizeof out, NULL);
        assert_int_equal(r, strlen(enc[i]));
        assert_memory_equal(out, enc[i], (size_t)r);
        assert_int_equal(b64_encoded_len(n), strlen(enc[i]));
        expect_ok(enc[i], B64_STRICT, plain[i], n);
        expect_ok(enc[i], B64_LENIENT, plain[i], n);
    }
}

/* The decode table, checked against the alphabet itself for all 256 byte values. */
static void every_byte(void **state)
{
    (void)state;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int c = 0; c < 256; c++) {
        char in[4] = {'A', 'A', 'A', (char)c};
        unsigned char out[3];
        mr_error err = {0};
        int r = dec_n(in, 4, B64_STRICT, out, sizeof out, &err);
        const char *pos = c ? strchr(alphabet, c) : NULL;
        if (pos) {
            assert_int_equal(r, 3);
            assert_int_equal(out[2], (unsigned)(pos - alphabet));
        } else if (c == '=') {
            /* "AAA=" is valid: two bytes */
            assert_int_equal(r, 2);
        } else {
            assert_int_equal(r, MR_ERROR);
            assert_err(&err, MR_E_BASE64, "base64-char", 3);
        }
    }
}

static void bad_characters(void **state)
{
    (void)state;
    expect_err("Zm9v!mFy", B64_STRICT, MR_E_BASE64, "base64-char", 4);
    expect_err("Zm9v!mFy", B64_LENIENT | B64_SKIP_SPACE, MR_E_BASE64, "base64-char", 4);
    expect_err("Zm9-YmFy", B64_STRICT, MR_E_BASE64, "base64-char", 3); /* base64url '-' */
    expect_err("Zm9_YmFy", B64_STRICT, MR_E_BASE64, "base64-char", 3); /* base64url '_' */
    expect_err("Zm9v\xc3\xa9", B64_LENIENT, MR_E_BASE64, "base64-char", 4);
    char nul[] = {'Z', 'm', '\0', 'v'};
    char out[8];
    mr_error err;
    assert_int_equal(dec_n(nul, 4, B64_LENIENT, out, sizeof out, &err), MR_ERROR);
    assert_int_equal(err.offset, 2);
    assert_string_equal(err.rule, "base64-char");
}

static void padding(void **state)
{
    (void)state;
    /* missing padding: strict points at the end, lenient accepts */
    expect_err("Zg", B64_STRICT, MR_E_BASE64, "base64-pad", 2);
    expect_err("Zm8", B64_STRICT, MR_E_BASE64, "base64-pad", 3);
    expect_err("Zg=", B64_STRICT, MR_E_BASE64, "base64-pad", 3);
    expect_err("Zm9vYg", B64_STRICT, MR_E_BASE64, "base64-pad", 6);
    expect_ok("Zg", B64_PAD_OPTIONAL, "f", 1);
    expect_ok("Zg=", B64_PAD_OPTIONAL, "f", 1);
    expect_ok("Zm8", B64_LENIENT, "fo", 2);
    expect_ok("Zm9vYg", B64_LENIENT, "foob", 4);
    /* misplaced padding: at its own offset, in every mode */
    expect_err("=Zg=", B64_LENIENT, MR_E_BASE64, "base64-pad", 0);
    expect_err("Z===", B64_LENIENT, MR_E_BASE64, "base64-pad", 1);
    expect_err("Zg===", B64_LENIENT, MR_E_BASE64, "base64-pad", 4);
    expect_err("Zm8==", B64_LENIENT, MR_E_BASE64, "base64-pad", 4);
    expect_err("====", B64_STRICT, MR_E_BASE64, "base64-pad", 0);
    expect_err("=", B64_STRICT, MR_E_BASE64, "base64-pad", 0);
    /* data after the padding: concatenated encodings are not one encoding */
    expect_err("Zm8=Zg==", B64_LENIENT, MR_E_BASE64, "base64-pad", 4);
    expect_err("Zg==Zg==", B64_STRICT, MR_E_BASE64, "base64-pad", 4);
    /* a lone final character holds no byte, whatever the mode */
    expect_err("Zm9vY", B64_STRICT, MR_E_BASE64, "base64-length", 4);
    expect_err("Zm9vY", B64_LENIENT | B64_SKIP_SPACE, MR_E_BASE64, "base64-length", 4);
    expect_err("Z", B64_LENIENT, MR_E_BASE64, "base64-length", 0);
}

/* RFC 4648 section 3.5: "Zh==" and "Zg==" would both decode to "f". */
static void pad_bits(void **state)
{
    (void)state;
    expect_err("Zh==", B64_STRICT, MR_E_BASE64, "base64-padbits", 1);
    expect_err("Zm9=", B64_STRICT, MR_E_BASE64, "base64-padbits", 2);
    /* each of the four (two) padding bits on its own */
    expect_err("ZB==", B64_STRICT, MR_E_BASE64, "base64-padbits", 1);
    expect_err("ZC==", B64_STRICT, MR_E_BASE64, "base64-padbits", 1);
    expect_err("ZE==", B64_STRICT, MR_E_BASE64, "base64-padbits", 1);
    expect_err("ZI==", B64_STRICT, MR_E_BASE64, "base64-padbits", 1);
    expect_ok("ZQ==", B64_STRICT, "e", 1);
    expect_err("ZmB=", B64_STRICT, MR_E_BASE64, "base64-padbits", 2);
    expect_err("ZmC=", B64_STRICT, MR_E_BASE64, "base64-padbits", 2);
    expect_ok("ZmE=", B64_STRICT, "fa", 2);
    expect_err("Zh", B64_PAD_OPTIONAL, MR_E_BASE64, "base64-padbits", 1);
    expect_ok("Zh==", B64_PADBITS_ANY, "f", 1);
    expect_ok("Zm9=", B64_LENIENT, "fo", 2);
    expect_ok("Zh", B64_LENIENT, "f", 1);
}

static void whitespace(void **state)
{
    (void)state;
    expect_err("Zm9v\r\nYmFy", B64_STRICT, MR_E_BASE64, "base64-char", 4);
    expect_err("Zm9v YmFy", B64_LENIENT, MR_E_BASE64, "base64-char", 4);
    expect_err(" Zg==", B64_STRICT, MR_E_BASE64, "base64-char", 0);
    expect_ok("Zm9v\r\nYmFy", B64_SKIP_SPACE, "foobar", 6);
    expect_ok(" Z m 9 v\tY g = = \r\n", B64_SKIP_SPACE, "foob", 4);
    expect_ok("Zm9vYg\r\n", B64_LENIENT | B64_SKIP_SPACE, "foob", 4);
    expect_ok("  ", B64_SKIP_SPACE, "", 0);
    /* whitespace does not hide data after the padding */
    expect_err("Zg== Zg==", B64_SKIP_SPACE, MR_E_BASE64, "base64-pad", 5);
}

static void output_limit(void **state)
{
    (void)state;
    char out[8];
    mr_error err;
    memset(out, 'x', sizeof out);
    assert_int_equal(dec("Zm9vYmFy", B64_STRICT, out, 5, &err), MR_ERROR);
    assert_err(&err, MR_E_LIMIT_LITERAL, "base64", 4);
    assert_int_equal(out[5], 'x'); /* nothing past cap */
    assert_int_equal(dec("Zm9vYmE=", B64_STRICT, out, 4, &err), MR_ERROR);
    assert_int_equal(err.offset, 4);
    assert_int_equal(dec("Zm9vYmE=", B64_STRICT, out, 5, &err), 5);
    assert_int_equal(dec("Zm9vYmFy", B64_STRICT, out, 6, &err), 6);
    /* the same limit on the slow path, after whitespace */
    assert_int_equal(dec("Zm9v YmFy", B64_SKIP_SPACE, out, 5, &err), MR_ERROR);
    assert_err(&err, MR_E_LIMIT_LITERAL, "base64", 5);
    /* dst NULL: validate and count */
    assert_int_equal(dec("Zm9vYmFy", B64_STRICT, NULL, SIZE_MAX, &err), 6);
    assert_int_equal(dec("Zm9vYmF!", B64_STRICT, NULL, SIZE_MAX, &err), MR_ERROR);
    assert_int_equal(err.offset, 7);
}

/* curl CVE-2016-8617: the encoded size of a large input overflowed. */
static void sizes_at_the_edge(void **state)
{
    (void)state;
    assert_int_equal(b64_encoded_len(0), 0);
    assert_int_equal(b64_encoded_len(1), 4);
    assert_int_equal(b64_encoded_len(3), 4);
    assert_int_equal(b64_encoded_len(4), 8);
    size_t edge = SIZE_MAX / 4 * 3;
    assert_true(b64_encoded_len(edge) == SIZE_MAX / 4 * 4);
    assert_true(b64_encoded_len(edge + 1) == SIZE_MAX);
    assert_true(b64_encoded_len(SIZE_MAX) == SIZE_MAX);
    assert_int_equal(b64_decoded_max(0), 0);
    assert_int_equal(b64_decoded_max(1), 0);
    assert_int_equal(b64_decoded_max(2), 1);
    assert_int_equal(b64_decoded_max(3), 2);
    assert_int_equal(b64_decoded_max(4), 3);
    assert_int_equal(b64_decoded_max(8), 6);
    assert_true(b64_decoded_max(SIZE_MAX) == SIZE_MAX / 4 * 3 + 2);
    /* The encoder refuses, without touching src, anything whose encoding passes the limit. */
    char src[1] = {0}, out[8];
    mr_error err;
    assert_int_equal(b64_encode(src, (size_t)MR_LIMIT_MAX, out, sizeof out, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(b64_encode(src, SIZE_MAX, out, sizeof out, &err), MR_ERROR);
    assert_int_equal(b64_encode(src, MR_LIMIT_MAX / 4 * 3, NULL, 0, &err), MR_LIMIT_MAX);
}

static void encode_fits_or_untouched(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'x', sizeof out);
    assert_int_equal(b64_encode("foob", 4, out, 7, NULL), 8);
    assert_int_equal(out[0], 'x');
    assert_int_equal(b64_encode("foob", 4, NULL, 0, NULL), 8);
    assert_int_equal(b64_encode("foob", 4, out, 8, NULL), 8);
    assert_memory_equal(out, "Zm9vYg==", 8);
    assert_int_equal(b64_encode(NULL, 0, out, 0, NULL), 0);
}

/* 100 MB of input stops at the output limit, or at the first bad byte. */
static void hundred_megabytes(void **state)
{
    (void)state;
    size_t n = 100u << 20;
    char *big = test_malloc(n);
    memset(big, 'A', n);
    char out[1024];
    mr_error err;
    assert_int_equal(b64_decode(big, n, out, sizeof out, B64_STRICT, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_LITERAL);
    assert_int_equal(err.offset, 1024 / 3 * 4);
    memset(big, '!', 16);
    assert_int_equal(b64_decode(big, n, NULL, SIZE_MAX, B64_STRICT, &err), MR_ERROR);
    assert_int_equal(err.offset, 0);
    test_free(big);
}

/* Every byte string of up to 3 bytes drawn from a few edge values, and pseudo-random strings
 * up to 300 bytes: the strict decoder takes back exactly what the encoder wrote. */
static void round_trip(void **state)
{
    (void)state;
    static const unsigned char vals[] = {0x00, 0x01, 0x3F, 0x7F, 0x80, 0xFE, 0xFF};
    unsigned char src[300], back[300];
    char enc[400];
    for (size_t len = 0; len <= 3; len++) {
        size_t combos = 1;
        for (size_t k = 0; k < len; k++)
            combos *= sizeof vals;
        for (size_t c = 0; c < combos; c++) {
            size_t x = c;
            for (size_t k = 0; k < len; k++, x /= sizeof vals)
                src[k] = vals[x % sizeof vals];
            int e = b64_encode(src, len, enc, sizeof enc, NULL);
            assert_int_equal(dec_n(enc, (size_t)e, B64_STRICT, back, sizeof back, NULL), len);
            assert_memory_equal(back, src, len);
        }
    }
    uint32_t seed = 12345;
    for (size_t len = 0; len < sizeof src; len += 7) {
        for (size_t k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            src[k] = (unsigned char)(seed >> 16);
        }
        int e = b64_encode(src, len, enc, sizeof enc, NULL);
        assert_int_equal(e, b64_encoded_len(len));
        char *copy = guard_dup(enc, (size_t)e);
        assert_int_equal(b64_decode(copy, (size_t)e, back, b64_decoded_max((size_t)e),
                                     B64_STRICT, NULL), len);
        guard_free(copy, (size_t)e);
        assert_memory_equal(back, src, len);
    }
}

/* A prefix cut at a quantum boundary decodes to a prefix of the output. */
static void quantum_prefixes(void **state)
{
    (void)state;
    const char *in = "TWFpbHJpZyBkZWNvZGVzIGluIHF1YW50YQ==";
    unsigned char whole[64], part[64];
    int n = dec(in, B64_STRICT, whole, sizeof whole, NULL);
    assert_int_equal(n, 25);
    assert_memory_equal(whole, "Mailrig decodes in quanta", 25);
    for (size_t k = 0; k + 4 <= strlen(in); k += 4) {
        int r = dec_n(in, k, B64_STRICT, part, sizeof part, NULL);
        assert_int_equal(r, k / 4 * 3);
        assert_memory_equal(part, whole, (size_t)r);
    }
}

/* The syntax checks agree with the decoder's alphabet, and report where the shape breaks. */
static void syntax_only(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        char one[4] = {(char)c, 'A', 'A', 'A'};
        int decodes = b64_decode(one, 4, NULL, 3, B64_PADBITS_ANY, NULL) == 3;
        assert_int_equal(b64_is_char((unsigned char)c), decodes);
    }
    struct {
        const char *in;
        size_t span, data;
        int ok;
        size_t bad;
    } cases[] = {
        {"", 0, 0, 1, 0},           {"Zm9v", 4, 4, 1, 0},       {"Zg==", 4, 2, 1, 0},
        {"Zm8=", 4, 3, 1, 0},       {"Zg=", 3, 2, 0, 3},        {"Zm9vY", 5, 5, 0, 5},
        {"Zg===", 4, 2, 0, 4},      {"A=BC", 2, 1, 0, 2},       {"Zm9v YmFy", 4, 4, 0, 4},
        {"=", 1, 0, 0, 1},          {"==", 2, 0, 0, 2},         {"Zm-v", 2, 2, 0, 2},
        {"Zh==", 4, 2, 1, 0},       /* padding bits are not the syntax check's business */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n = strlen(cases[k].in), data = 99, bad = 99;
        char *copy = guard_dup(cases[k].in, n);
        assert_int_equal(b64_span(copy, n, &data), cases[k].span);
        assert_int_equal(data, cases[k].data);
        assert_int_equal(b64_span(copy, n, NULL), cases[k].span);
        int r = b64_syntax_check(copy, n, &bad);
        guard_free(copy, n);
        if (cases[k].ok) {
            assert_int_equal(r, 0);
        } else {
            assert_int_equal(r, -1);
            assert_int_equal(bad, cases[k].bad);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc4648_vectors),   cmocka_unit_test(every_byte),
        cmocka_unit_test(bad_characters),    cmocka_unit_test(padding),
        cmocka_unit_test(pad_bits),          cmocka_unit_test(whitespace),
        cmocka_unit_test(output_limit),      cmocka_unit_test(sizes_at_the_edge),
        cmocka_unit_test(encode_fits_or_untouched), cmocka_unit_test(hundred_megabytes),
        cmocka_unit_test(round_trip),        cmocka_unit_test(quantum_prefixes),
        cmocka_unit_test(syntax_only),
    };
    return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
