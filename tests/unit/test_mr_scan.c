/* test_mr_scan.c -- the word-at-a-time scans in proto/mr_scan.c against a byte loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "proto/mr_scan.h"
#include "tests/unit/support.h"

static size_t naive_printable(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7E)
            return i;
    return n;
}

/* Every byte value at every position of buffers of 0..40 bytes, in guard-page copies (a scan
 * that reads a whole word past the end would fault). */
static void printable_every_byte_every_position(void **state)
{
    (void)state;
    char buf[40];
    for (size_t n = 0; n <= sizeof buf; n++) {
        for (size_t pos = 0; pos < n; pos++) {
            for (int b = 0; b < 256; b++) {
                memset(buf, 'a', n);
                buf[pos] = (char)b;
                char *g = guard_dup(buf, n);
                assert_int_equal(mr_scan_printable(g, n), naive_printable(buf, n));
                guard_free(g, n);
            }
        }
        char *g = guard_dup("", 0);
        assert_int_equal(mr_scan_printable(g, 0), 0);
        guard_free(g, 0);
    }
}

/* Neighbours that could carry or borrow into each other in the SWAR arithmetic. */
static void printable_borrow_and_carry(void **state)
{
    (void)state;
    static const unsigned char edge[] = {0x00, 0x01, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xFF};
    unsigned char buf[16];
    for (size_t i = 0; i < sizeof edge; i++)
        for (size_t j = 0; j < sizeof edge; j++)
            for (size_t at = 0; at + 1 < sizeof buf; at++) {
                memset(buf, ' ', sizeof buf);
                buf[at] = edge[i];
                buf[at + 1] = edge[j];
                assert_int_equal(mr_scan_printable((const char *)buf, sizeof buf),
                                 naive_printable((const char *)buf, sizeof buf));
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(printable_every_byte_every_position),
        cmocka_unit_test(printable_borrow_and_carry),
    };
    return cmocka_run_group_tests_name("mr_scan", tests, NULL, NULL);
}
