/* test_session_util.c -- the helpers the protocol sessions share (servers/session_util.c):
 * ClientHello detection on plaintext ports, per-address admission, the peer address, the
 * clock override, event words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "servers/profile.h"
#include "servers/session_util.h"

/* The first 11 bytes of a TLS 1.2 ClientHello record announcing 0x0200 bytes of body. */
static const char HELLO_HEAD[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

static void hello_whole_record_in_one_read(void **state)
{
    (void)state;
    char rec[5 + 0x200];
    memset(rec, 0, sizeof rec);
    memcpy(rec, HELLO_HEAD, sizeof HELLO_HEAD - 1);
    char buf[sizeof rec + 6];
    memcpy(buf, rec, sizeof rec);
    memcpy(buf + sizeof rec, "a NOOP", 6); /* what follows the record is not part of it */
    sess_hello h = sess_hello_classify(buf, sizeof buf);
    assert_int_equal(h.kind, SESS_HELLO_FOUND);
    assert_int_equal(h.record, sizeof rec);
    assert_int_equal(h.left, 0);
}

static void hello_record_split_across_reads(void **state)
{
    (void)state;
    sess_hello h = sess_hello_classify(HELLO_HEAD, sizeof HELLO_HEAD - 1);
    assert_int_equal(h.kind, SESS_HELLO_FOUND);
    assert_int_equal(h.record, sizeof HELLO_HEAD - 1);
    assert_int_equal(h.left, 5 + 0x200 - (sizeof HELLO_HEAD - 1));
}

static void hello_undecided_until_enough_bytes_or_a_line_end(void **state)
{
    (void)state;
    assert_int_equal(sess_hello_classify("\x16\x03", 2).kind, SESS_HELLO_UNDECIDED);
    assert_int_equal(sess_hello_classify("a1", 2).kind, SESS_HELLO_UNDECIDED);
    /* a command shorter than the sniffer's window is plaintext as soon as its line ends */
    assert_int_equal(sess_hello_classify("QUIT\r\n", 6).kind, SESS_HELLO_NONE);
    assert_int_equal(sess_hello_classify("EHLO client.example\r\n", 21).kind, SESS_HELLO_NONE);
}

static void admission_counts_per_address_and_releases(void **state)
{
    (void)state;
    int scope;
    session_info a = {.peer = "127.0.0.1:40000"}, b = {.peer = "127.0.0.1:40001"},
                 other = {.peer = "::1:40002"};
    sess_admission x, y, z;
    size_t before = sess_registry_size();
    assert_int_equal(sess_admit(&x, &scope, PROFILE_SMTP, &a, 1), 1);
    assert_string_equal(x.ip, "127.0.0.1");
    assert_int_equal(x.open, 1);
    assert_int_equal(sess_admit(&y, &scope, PROFILE_SMTP, &b, 1), 0); /* same address */
    assert_int_equal(y.open, 2);
    assert_int_equal(sess_admit(&z, &scope, PROFILE_SMTP, &other, 1), 1);
    assert_string_equal(z.ip, "::1");
    sess_release(&y);
    sess_release(&y); /* idempotent */
    sess_release(&x);
    assert_int_equal(sess_admit(&y, &scope, PROFILE_SMTP, &b, 1), 1);
    assert_int_equal(sess_admit(&x, &scope, PROFILE_POP3, &a, 1), 1); /* per protocol */
    sess_release(&x);
    sess_release(&y);
    sess_release(&z);
    assert_int_equal(sess_registry_size(), before);
}

static void admission_without_a_limit(void **state)
{
    (void)state;
    int scope;
    session_info a = {.peer = "10.0.0.1:1"};
    sess_admission x[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(sess_admit(&x[i], &scope, PROFILE_IMAP, &a, 0), 1);
    assert_int_equal(x[2].open, 3);
    for (int i = 0; i < 3; i++)
        sess_release(&x[i]);
}

static int64_t fixed(void)
{
    return 1700000000123;
}

static void clock_override(void **state)
{
    (void)state;
    sess_set_clock(fixed);
    assert_int_equal(sess_now_ms(), 1700000000123);
    sess_set_clock(NULL);
    assert_true(sess_now_ms() > 1700000000123); /* the real clock is later than 2023 */
}

static void words_and_text(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(sess_word("a b\x01\xffzzzz", 9, out, sizeof out), 7);
    assert_string_equal(out, "a?b??zz");
    assert_int_equal(sess_text("a b\x01", 4, out, sizeof out), 4);
    assert_string_equal(out, "a b?");
    assert_string_equal(sess_errcode_word(MR_E_BARE_LF), "bare-lf");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hello_whole_record_in_one_read),
        cmocka_unit_test(hello_record_split_across_reads),
        cmocka_unit_test(hello_undecided_until_enough_bytes_or_a_line_end),
        cmocka_unit_test(admission_counts_per_address_and_releases),
        cmocka_unit_test(admission_without_a_limit),
        cmocka_unit_test(clock_override),
        cmocka_unit_test(words_and_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
