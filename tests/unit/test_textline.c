/* test_textline.c -- servers/textline.c: lines of a text in memory for the INI readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "servers/textline.h"

/* Every line of text joined with '|', into out. */
static void lines(const char *text, size_t len, char *out, size_t cap)
{
    size_t pos = 0, k = 0, n;
    const char *p;
    out[0] = 0;
    while (textline_next(text, len, &pos, &p, &n)) {
        assert_true(k + n + 2 < cap);
        memcpy(out + k, p, n);
        k += n;
        out[k++] = '|';
        out[k] = 0;
    }
    assert_int_equal(pos, len);
}

static void splits_on_lf_and_keeps_cr(void **state)
{
    (void)state;
    char out[128];
    const char t[] = "a = 1\r\n\n[s]\nb";
    lines(t, sizeof t - 1, out, sizeof out);
    assert_string_equal(out, "a = 1\r||[s]|b|");
}

static void drops_a_bom_on_the_first_line_only(void **state)
{
    (void)state;
    char out[128];
    const char t[] = "\xEF\xBB\xBF" "a\n\xEF\xBB\xBF" "b\n";
    lines(t, sizeof t - 1, out, sizeof out);
    assert_string_equal(out, "a|\xEF\xBB\xBF" "b|");
}

static void empty_text_and_trailing_newline(void **state)
{
    (void)state;
    char out[16];
    lines("", 0, out, sizeof out);
    assert_string_equal(out, "");
    lines("x\n", 2, out, sizeof out);
    assert_string_equal(out, "x|");
    lines("\xEF\xBB", 2, out, sizeof out); /* a cut-off mark is text, not a mark */
    assert_string_equal(out, "\xEF\xBB|");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(splits_on_lf_and_keeps_cr),
        cmocka_unit_test(drops_a_bom_on_the_first_line_only),
        cmocka_unit_test(empty_text_and_trailing_newline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
