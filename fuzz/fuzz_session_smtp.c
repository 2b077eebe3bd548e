/* fuzz_session_smtp.c -- the SMTP session (servers/smtpd.c) fed arbitrary client bytes in
 * memory, with every shipped profile, account states and listeners (see session_fuzz.h for
 * the input layout, the credential macros and the common oracles).
 *
 * Output oracle: everything the session sent is a sequence of complete SMTP replies as the
 * lenient reply parser reads them (smtp_reply.h): no half reply, no line that is not a reply
 * line, no reply over the parser's limits.
 */
#include "fuzz/session_fuzz.h"
#include "proto/smtp_reply.h"
#include "servers/smtpd.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    sf_init();
    return 0;
}

static void check_output(const char *out, size_t n)
{
    smtp_reply_line lines[256];
    smtp_reply rep;
    smtp_reply_init(&rep, lines, 256);
    size_t at = 0;
    while (at < n) {
        mr_error err;
        int r = smtp_reply_parse(out + at, n - at, MR_LENIENT, NULL, &rep, &err);
        if (r <= 0)
            fprintf(stderr, "bad reply at %zu (%s %s): %.*s\n", at, err.rule, mr_errcode_str(err.code),
                    (int)(n - at > 200 ? 200 : n - at), out + at);
        FUZZ_CHECK(r > 0);
        at += (size_t)r;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > SF_MAX_INPUT)
        return 0;
    if (!sf_profiles[0])
        sf_init();
    const profile *p = sf_profiles[data[0] % SF_PROFILES];
    const profile_listener *l = sf_listener(p, PROFILE_SMTP, data[1]);
    if (!l)
        return 0;
    char *buf = malloc(4 * size + 64);
    size_t n = sf_expand(p, PROFILE_SMTP, data + 2, size - 2, buf, 4 * size + 64);
    store *st = memconn_store(p, sf_msgs, 1);
    FUZZ_CHECK(st != NULL);
    mock_listener ml = {NULL, p, l, st, 1, 0};
    memconn *m = sf_connect(&ml, smtpd_new, 1);
    sf_feed(m, buf, n, data, size);
    if (data[1] & 0x80)
        memconn_timeout(m);
    size_t limit = p->smtp.s.max_line > p->smtp.s.max_auth_line ? p->smtp.s.max_line : p->smtp.s.max_auth_line;
    sf_check_counts(m, limit);
    size_t outn;
    const char *out = memconn_output(m, &outn);
    check_output(out, outn);
    memconn_free(m);
    store_close(st);
    FUZZ_CHECK(sess_registry_size() == 0);
    free(buf);
    return 0;
}
