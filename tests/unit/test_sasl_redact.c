/* test_sasl_redact.c -- proto/sasl_redact.c: what stays visible, what is hidden, and that the
 * output never depends on a secret. Expected base64 outputs were computed with Python's
 * base64 module from the redacted messages written out by hand. */
#include "tests/unit/sasl_support.h"

#include "proto/sasl_redact.h"

#define A "\x01"
#define MSG(lit) (lit), sizeof(lit) - 1

static char out[20000];

/* Redact from a guard-page copy; return the output as a NUL-terminated string in out. */
static const char *redact_n(sasl_mech mech, unsigned step, const char *msg, size_t n, int b64,
                            sasl_redact_style style)
{
    char *copy = guard_dup(msg, n);
    int len = sasl_redact(mech, step, copy, n, b64, style, out, sizeof out - 1);
    guard_free(copy, n);
    assert_true(len >= 0 && (size_t)len < sizeof out);
    out[len] = '\0';
    /* the length alone, with no buffer, is the same */
    assert_int_equal(sasl_redact(mech, step, msg, n, b64, style, NULL, 0), len);
    if (style == SASL_REDACT_SUMMARY)
        for (int i = 0; i < len; i++)
            if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7F)
                fail_msg("summary byte %d is 0x%02x", i, (unsigned char)out[i]);
    return out;
}

#define SUM64(mech, step, lit) redact_n((mech), (step), (lit), strlen(lit), 1, SASL_REDACT_SUMMARY)
#define WIRE64(mech, step, lit) redact_n((mech), (step), (lit), strlen(lit), 1, SASL_REDACT_WIRE)
#define SUM(mech, step, lit) redact_n((mech), (step), (lit), sizeof(lit) - 1, 0, SASL_REDACT_SUMMARY)
#define WIRE(mech, step, lit) redact_n((mech), (step), (lit), sizeof(lit) - 1, 0, SASL_REDACT_WIRE)

static void plain(void **state)
{
    (void)state;
    /* RFC 4616's example as sent on the AUTHENTICATE line */
    assert_string_equal(SUM64(SASL_MECH_PLAIN, 0, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"),
                        "PLAIN authcid=\"tim\" passwd=<redacted>");
    assert_string_equal(WIRE64(SASL_MECH_PLAIN, 0, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"),
                        "AHRpbQA8cmVkYWN0ZWQ+");
    assert_string_equal(SUM(SASL_MECH_PLAIN, 0, "Ursel\0Kurt\0xipj3plmq"),
                        "PLAIN authzid=\"Ursel\" authcid=\"Kurt\" passwd=<redacted>");
    const char *w = WIRE(SASL_MECH_PLAIN, 0, "Ursel\0Kurt\0xipj3plmq");
    assert_memory_equal(w, "Ursel\0Kurt\0<redacted>", 21);
    /* unpadded base64, as some clients send */
    assert_string_equal(SUM64(SASL_MECH_PLAIN, 0, "AGrDtnJnAHNlY3JldA"),
                        "PLAIN authcid=\"j\\xc3\\xb6rg\" passwd=<redacted>");
    assert_string_equal(WIRE64(SASL_MECH_PLAIN, 0, "AGrDtnJnAHNlY3JldA"),
                        "AGrDtnJnADxyZWRhY3RlZD4=");
    /* PLAIN-CLIENTTOKEN has PLAIN's layout */
    assert_string_equal(SUM(SASL_MECH_PLAIN_CLIENTTOKEN, 0, "\0u@gmail.com\0ya29.token"),
                        "PLAIN-CLIENTTOKEN authcid=\"u@gmail.com\" passwd=<redacted>");
}

static void plain_malformed_is_hidden_whole(void **state)
{
    (void)state;
    assert_string_equal(SUM(SASL_MECH_PLAIN, 0, "\0tim\0pa\0ss"),
                        "PLAIN <redacted: malformed, 10 bytes>");
    assert_string_equal(WIRE(SASL_MECH_PLAIN, 0, "\0tim\0pa\0ss"), "<redacted>");
    assert_string_equal(SUM(SASL_MECH_PLAIN, 0, "tim secret"),
                        "PLAIN <redacted: malformed, 10 bytes>");
    assert_string_equal(SUM64(SASL_MECH_PLAIN, 0, "dGlt!c2VjcmV0"),
                        "PLAIN <redacted: not base64, 13 bytes>");
    assert_string_equal(WIRE64(SASL_MECH_PLAIN, 0, "dGlt!c2VjcmV0"), "<redacted>");
    /* too long to look inside */
    static char big[SASL_REDACT_MAX_DECODED + 10];
    memset(big, 'x', sizeof big);
    big[0] = '\0';
    big[2] = '\0';
    assert_string_equal(redact_n(SASL_MECH_PLAIN, 0, big, sizeof big, 0, SASL_REDACT_SUMMARY),
                        "PLAIN <redacted: too long, 16394 bytes>");
    static char big64[SASL_REDACT_MAX_DECODED / 3 * 4 + 100];
    memset(big64, 'A', sizeof big64);
    assert_string_equal(
        redact_n(SASL_MECH_PLAIN, 0, big64, sizeof big64, 1, SASL_REDACT_SUMMARY),
        "PLAIN <redacted: too long, 21944 bytes>");
}

static void framing(void **state)
{
    (void)state;
    assert_string_equal(SUM64(SASL_MECH_LOGIN, 1, "*"), "LOGIN (cancelled)");
    assert_string_equal(WIRE64(SASL_MECH_LOGIN, 1, "*"), "*");
    assert_string_equal(SUM64(SASL_MECH_XOAUTH2, 1, ""), "XOAUTH2 (empty)");
    assert_string_equal(WIRE64(SASL_MECH_XOAUTH2, 1, ""), "");
    assert_string_equal(SUM64(SASL_MECH_EXTERNAL, 0, "="), "EXTERNAL (empty)");
    assert_string_equal(WIRE64(SASL_MECH_EXTERNAL, 0, "="), "=");
}

static void login(void **state)
{
    (void)state;
    /* Exchange Online: 334 VXNlcm5hbWU6 / dG9ueUBjb250b3NvLmNvbQ== / 334 UGFzc3dvcmQ6 / ... */
    assert_string_equal(SUM64(SASL_MECH_LOGIN, 0, "dG9ueUBjb250b3NvLmNvbQ=="),
                        "LOGIN username=\"tony@contoso.com\"");
    assert_string_equal(WIRE64(SASL_MECH_LOGIN, 0, "dG9ueUBjb250b3NvLmNvbQ=="),
                        "dG9ueUBjb250b3NvLmNvbQ==");
    assert_string_equal(SUM64(SASL_MECH_LOGIN, 1, "UEBzc3cwcmQ="), "LOGIN password=<redacted>");
    assert_string_equal(WIRE64(SASL_MECH_LOGIN, 1, "UEBzc3cwcmQ="), "PHJlZGFjdGVkPg==");
    assert_string_equal(SUM(SASL_MECH_LOGIN, 7, "anything"), "LOGIN password=<redacted>");
    assert_string_equal(WIRE(SASL_MECH_LOGIN, 2, "anything"), "<redacted>");
}

static void cram_md5(void **state)
{
    (void)state;
    const char *rfc = "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw";
    assert_string_equal(SUM64(SASL_MECH_CRAM_MD5, 0, rfc),
                        "CRAM-MD5 user=\"tim\" digest=<redacted>");
    assert_string_equal(WIRE64(SASL_MECH_CRAM_MD5, 0, rfc), "dGltIDxyZWRhY3RlZD4=");
    assert_string_equal(SUM(SASL_MECH_CRAM_MD5, 0, "tim b913a6"),
                        "CRAM-MD5 <redacted: malformed, 10 bytes>");
}

static void xoauth2(void **state)
{
    (void)state;
    const char *google = "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRx"
                         "bVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==";
    assert_string_equal(SUM64(SASL_MECH_XOAUTH2, 0, google),
                        "XOAUTH2 user=\"someuser@example.com\" auth=Bearer <redacted>");
    assert_string_equal(WIRE64(SASL_MECH_XOAUTH2, 0, google),
                        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciA8cmVkYWN0ZWQ+AQE=");
    assert_string_equal(SUM(SASL_MECH_XOAUTH2, 1, ""), "XOAUTH2 (empty reply after an error)");
    assert_string_equal(WIRE(SASL_MECH_XOAUTH2, 1, ""), "");
    /* unknown pairs may carry secrets too */
    assert_string_equal(SUM(SASL_MECH_XOAUTH2, 0, "user=u" A "auth=Bearer t" A "sig=s3cr3t" A A),
                        "XOAUTH2 user=\"u\" auth=Bearer <redacted> \"sig\"=<redacted>");
    const char *w = WIRE(SASL_MECH_XOAUTH2, 0, "user=u" A "auth=Bearer t" A "sig=s3cr3t" A A);
    assert_string_equal(w, "user=u" A "auth=Bearer <redacted>" A "sig=<redacted>" A A);
    assert_string_equal(SUM(SASL_MECH_XOAUTH2, 0, "user=u" A "auth=" A A),
                        "XOAUTH2 user=\"u\" auth=(empty)");
    assert_string_equal(SUM(SASL_MECH_XOAUTH2, 0, "user=u" A "auth=Bearer a b" A A),
                        "XOAUTH2 <redacted: malformed, 24 bytes>");
    assert_string_equal(SUM(SASL_MECH_OAUTHBEARER, 0, "x,," A "auth=Bearer t" A A),
                        "OAUTHBEARER <redacted: malformed, 19 bytes>");
}

static void oauthbearer(void **state)
{
    (void)state;
    const char *rfc = "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQz"
                      "AWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9"
                      "PQEB";
    assert_string_equal(SUM64(SASL_MECH_OAUTHBEARER, 0, rfc),
                        "OAUTHBEARER authzid=\"user@example.com\" host=\"server.example.com\" "
                        "port=\"143\" auth=Bearer <redacted>");
    assert_string_equal(WIRE64(SASL_MECH_OAUTHBEARER, 0, rfc),
                        "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQz"
                        "AWF1dGg9QmVhcmVyIDxyZWRhY3RlZD4BAQ==");
    assert_string_equal(SUM64(SASL_MECH_OAUTHBEARER, 1, "AQ=="),
                        "OAUTHBEARER (kvsep reply after an error)");
    assert_string_equal(WIRE64(SASL_MECH_OAUTHBEARER, 1, "AQ=="), "AQ==");
    const char *w = WIRE(SASL_MECH_OAUTHBEARER, 0, "p=tls-unique,," A "auth=Bearer t" A A);
    assert_string_equal(w, "p=tls-unique,," A "auth=Bearer <redacted>" A A);
    w = WIRE(SASL_MECH_OAUTHBEARER, 0, "F,n,a=x," A "auth=Bearer t" A "qs=secret" A A);
    assert_string_equal(w, "F,n,a=x," A "auth=Bearer <redacted>" A "qs=<redacted>" A A);
}

static void shown_and_hidden_mechanisms(void **state)
{
    (void)state;
    assert_string_equal(SUM64(SASL_MECH_ANONYMOUS, 0, "c2lyaEBleGFtcGxlLmNvbQ=="),
                        "ANONYMOUS trace=\"sirh@example.com\"");
    assert_string_equal(WIRE64(SASL_MECH_ANONYMOUS, 0, "c2lyaEBleGFtcGxlLmNvbQ=="),
                        "c2lyaEBleGFtcGxlLmNvbQ==");
    assert_string_equal(SUM(SASL_MECH_EXTERNAL, 0, ""), "EXTERNAL authzid=\"\"");
    /* an NTLM type 1 message: nothing of it is shown */
    const char *ntlm = "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==";
    assert_string_equal(SUM64(SASL_MECH_NTLM, 0, ntlm), "NTLM <redacted: 40 bytes>");
    assert_string_equal(WIRE64(SASL_MECH_NTLM, 0, ntlm), "<redacted>");
    assert_string_equal(SUM(SASL_MECH_SCRAM_SHA_256, 0, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
                        "SCRAM-SHA-256 <redacted: 32 bytes>");
    assert_string_equal(SUM(SASL_MECH_ATOKEN, 0, "token"), "ATOKEN <redacted: 5 bytes>");
    assert_string_equal(SUM(SASL_MECH_UNKNOWN, 0, "xyz"), "UNKNOWN <redacted: 3 bytes>");
    assert_string_equal(SUM((sasl_mech)999, 0, "xyz"), "UNKNOWN <redacted: 3 bytes>");
}

/* Shown values cannot inject lines or quotes into a transcript. */
static void escaping(void **state)
{
    (void)state;
    assert_string_equal(SUM(SASL_MECH_PLAIN, 0, "\0a\r\n\"b\\\0pw"),
                        "PLAIN authcid=\"a\\x0d\\x0a\\x22b\\x5c\" passwd=<redacted>");
    assert_string_equal(SUM(SASL_MECH_LOGIN, 0, "\x1b[31mred\x7f"),
                        "LOGIN username=\"\\x1b[31mred\\x7f\"");
}

static void output_buffer(void **state)
{
    (void)state;
    char small[16];
    memset(small, 'x', sizeof small);
    int n = sasl_redact(SASL_MECH_PLAIN, 0, "\0tim\0pw", 7, 0, SASL_REDACT_SUMMARY, small, 10);
    assert_int_equal(n, 37);
    for (size_t i = 10; i < sizeof small; i++)
        assert_int_equal(small[i], 'x');
    memset(small, 'x', sizeof small);
    n = sasl_redact(SASL_MECH_PLAIN, 0, "AHRpbQB0", 8, 1, SASL_REDACT_WIRE, small, 5);
    assert_int_equal(n, 20);
    for (size_t i = 5; i < sizeof small; i++)
        assert_int_equal(small[i], 'x');
}

/* The output must not depend on the secret: messages that differ only in it redact alike. */
static void independent_of_the_secret(void **state)
{
    (void)state;
    static const struct {
        sasl_mech mech;
        unsigned step;
        const char *a;
        size_t na;
        const char *b;
        size_t nb;
    } pairs[] = {
        {SASL_MECH_PLAIN, 0, MSG("z\0tim\0hunter2"), MSG("z\0tim\0correct horse battery")},
        {SASL_MECH_LOGIN, 1, MSG("hunter2"), MSG("x")},
        {SASL_MECH_CRAM_MD5, 0, MSG("tim b913a602c7eda7a495b4e6e7334d3890"),
         MSG("tim 00000000000000000000000000000000")},
        {SASL_MECH_XOAUTH2, 0, MSG("user=u" A "auth=Bearer ya29.A" A "k=1" A A),
         MSG("user=u" A "auth=Bearer eyJ.B.C" A "k=2222" A A)},
        {SASL_MECH_OAUTHBEARER, 0, MSG("n,," A "port=1" A "auth=Bearer aaaa" A A),
         MSG("n,," A "port=1" A "auth=Bearer bb" A A)},
        {SASL_MECH_NTLM, 0, MSG("NTLMSSP\0\x01"), MSG("NTLMSSP\0\x03")},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        for (int style = 0; style < 2; style++) {
            char ra[256], rb[256];
            int na = sasl_redact(pairs[i].mech, pairs[i].step, pairs[i].a, pairs[i].na, 0,
                                 (sasl_redact_style)style, ra, sizeof ra);
            int nb = sasl_redact(pairs[i].mech, pairs[i].step, pairs[i].b, pairs[i].nb, 0,
                                 (sasl_redact_style)style, rb, sizeof rb);
            if (na != nb || memcmp(ra, rb, (size_t)na) != 0)
                fail_msg("pair %zu style %d: \"%.*s\" vs \"%.*s\"", i, style, na, ra, nb, rb);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain),          cmocka_unit_test(plain_malformed_is_hidden_whole),
        cmocka_unit_test(framing),        cmocka_unit_test(login),
        cmocka_unit_test(cram_md5),       cmocka_unit_test(xoauth2),
        cmocka_unit_test(oauthbearer),    cmocka_unit_test(shown_and_hidden_mechanisms),
        cmocka_unit_test(escaping),       cmocka_unit_test(output_buffer),
        cmocka_unit_test(independent_of_the_secret),
    };
    return cmocka_run_group_tests_name("sasl_redact", tests, NULL, NULL);
}
