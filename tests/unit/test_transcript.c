/* test_transcript.c -- the transcript writer and reader round trip, and reader errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servers/transcript.h"
#include "tests/unit/support.h"

/* Write data through a transcript into memory; return the text (caller frees). */
static char *write_data(char dir, const char *p, size_t n, int is_payload)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    transcript *t = transcript_new(f, 0, -1);
    transcript_data(t, 7, dir, p, n, is_payload);
    transcript_free(t);
    fclose(f);
    return text;
}

/* Parse every line of a transcript text and concatenate the unescaped data of one direction. */
static size_t read_back(const char *text, char dir, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *line = text; *line;) {
        const char *lf = strchr(line, '\n');
        assert_non_null(lf);
        transcript_rec rec;
        mr_error err;
        size_t n = (size_t)(lf - line);
        char *copy = guard_dup(line, n);
        assert_int_equal(transcript_parse(copy, n, &rec, &err), 0);
        assert_int_equal(rec.conn, 7);
        if (rec.dir == dir) {
            long k = transcript_unescape(&rec, out + o, cap - o, &err);
            assert_true(k >= 0);
            o += (size_t)k;
        }
        guard_free(copy, n);
        line = lf + 1;
    }
    return o;
}

static void round_trip(const char *p, size_t n)
{
    char *text = write_data('C', p, n, 0);
    char back[8192];
    size_t k = read_back(text, 'C', back, sizeof back);
    assert_int_equal(k, n);
    assert_memory_equal(back, p, n);
    free(text);
}

static void crlf_lines(void **state)
{
    (void)state;
    const char in[] = "a1 LOGIN johnappleseed <redacted>\r\na2 SELECT INBOX\r\n";
    char *text = write_data('C', in, sizeof in - 1, 0);
    assert_non_null(strstr(text, " conn 7 C: a1 LOGIN johnappleseed <redacted>\n"));
    assert_non_null(strstr(text, " conn 7 C: a2 SELECT INBOX\n"));
    free(text);
    round_trip(in, sizeof in - 1);
}

static void bare_lf_and_partial(void **state)
{
    (void)state;
    const char in[] = "bare\nline\r\npartial";
    char *text = write_data('S', in, sizeof in - 1, 0);
    assert_non_null(strstr(text, " S| bare\\n\n"));
    assert_non_null(strstr(text, " S: line\n"));
    assert_non_null(strstr(text, " S| partial\n"));
    free(text);
}

static void escapes(void **state)
{
    (void)state;
    const char in[] = "tab\there \\ nul\0 del\x7f 8bit\xff utf8 Gr\xc3\xbc\xc3\x9f" "e cr\r only\r\n";
    round_trip(in, sizeof in - 1);
    char *text = write_data('C', in, sizeof in - 1, 0);
    assert_non_null(strstr(text, "tab\\there \\\\ nul\\0 del\\x7f 8bit\\xff utf8 Gr\xc3\xbc\xc3\x9f" "e cr\\r only\n"));
    free(text);
}

static void every_byte(void **state)
{
    (void)state;
    char in[512];
    for (int i = 0; i < 512; i++)
        in[i] = (char)(i * 37 + 11);
    round_trip(in, sizeof in);
}

static void payload_summary(void **state)
{
    (void)state;
    size_t n = TRANSCRIPT_SUMMARY_MIN;
    char *big = malloc(n);
    memset(big, 'x', n);
    char *text = write_data('C', big, n, 1);
    assert_non_null(strstr(text, " C# 4096 fnv1a64="));
    transcript_rec rec;
    mr_error err;
    assert_int_equal(transcript_parse(text, strlen(text) - 1, &rec, &err), 0);
    assert_int_equal(rec.kind, TR_DATA_SUMMARY);
    assert_int_equal(rec.length, n);
    assert_int_equal(rec.hash.n, strlen("fnv1a64=") + 16);
    free(text);
    /* Not flagged as a payload: kept byte for byte. */
    text = write_data('C', big, n, 0);
    assert_null(strstr(text, "C#"));
    free(text);
    free(big);
}

static void records(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    transcript *t = transcript_new(f, 0, -1);
    transcript_record(t, 1, "open", "127.0.0.1:10993 mode=%s profile=%s", "implicit-tls", "icloud");
    transcript_record(t, 1, "event", "wrong-username-form expected=local got=full");
    transcript_record(t, 1, "close", "peer-closed\nnewline");
    transcript_free(t);
    fclose(f);
    assert_non_null(strstr(text, "0.000 conn 1 open 127.0.0.1:10993 mode=implicit-tls profile=icloud\n"));
    assert_non_null(strstr(text, " conn 1 close peer-closed\\nnewline\n"));
    const char *ev = strstr(text, "conn 1 event");
    assert_non_null(ev);
    while (ev > text && ev[-1] != '\n')
        ev--;
    transcript_rec rec;
    mr_error err;
    assert_int_equal(transcript_parse(ev, (size_t)(strchr(ev, '\n') - ev), &rec, &err), 0);
    assert_int_equal(rec.kind, TR_EVENT);
    assert_true(mr_slice_eq(rec.text, "wrong-username-form expected=local got=full"));
    free(text);
}

static void parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *rule;
        size_t offset;
    } bad[] = {
        {"x conn 1 open", "time", 0},
        {"0.1 con 1 open", "conn", 4},
        {"0.1 conn -1 open", "conn-id", 9},
        {"0.1 conn 99999999999 open", "conn-id", 9},
        {"0.1 conn 1 opened", "kind", 11},
        {"0.1 conn 1", "kind", 10},
        {"0.1 conn 1 C# abc fnv", "summary-length", 14},
        {"0.1 conn 1 C# 12", "summary-hash", 16},
        {"0.1 conn 1 C# 12 h extra", "summary-hash", 17},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        transcript_rec rec;
        mr_error err = {0};
        size_t n = strlen(bad[i].line);
        char *copy = guard_dup(bad[i].line, n);
        assert_int_equal(transcript_parse(copy, n, &rec, &err), MR_ERROR);
        guard_free(copy, n);
        if (strcmp(err.rule, bad[i].rule) != 0 || err.offset != bad[i].offset)
            fail_msg("'%s': got %s@%zu, want %s@%zu", bad[i].line, err.rule, err.offset,
                     bad[i].rule, bad[i].offset);
    }
}

static void unescape_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"0.1 conn 1 C: end\\", "0.1 conn 1 C: \\q", "0.1 conn 1 C: \\x4",
                                      "0.1 conn 1 C: \\xg0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        transcript_rec rec;
        mr_error err;
        char out[64];
        assert_int_equal(transcript_parse(bad[i], strlen(bad[i]), &rec, &err), 0);
        assert_int_equal(transcript_unescape(&rec, out, sizeof out, &err), MR_ERROR);
        assert_string_equal(err.rule, "escape");
    }
    transcript_rec rec;
    mr_error err;
    char small[4];
    const char *line = "0.1 conn 1 C: abcd";
    assert_int_equal(transcript_parse(line, strlen(line), &rec, &err), 0);
    assert_int_equal(transcript_unescape(&rec, small, sizeof small, &err), MR_ERROR);
    assert_int_equal(err.code, MR_E_LIMIT_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crlf_lines),      cmocka_unit_test(bare_lf_and_partial),
        cmocka_unit_test(escapes),         cmocka_unit_test(every_byte),
        cmocka_unit_test(payload_summary), cmocka_unit_test(records),
        cmocka_unit_test(parse_errors),    cmocka_unit_test(unescape_errors),
    };
    return cmocka_run_group_tests_name("transcript", tests, NULL, NULL);
}
