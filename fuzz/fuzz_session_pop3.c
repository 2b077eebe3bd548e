/* fuzz_session_pop3.c -- the POP3 session (servers/pop3d.c) fed arbitrary client bytes in
 * memory, with every shipped profile that has POP3, account states and listeners (see
 * session_fuzz.h). With the top bit of byte 1 a second session first logs in as the first
 * account, so the fuzzed one meets a locked maildrop.
 *
 * Output oracle: the first line is a status line the lenient response parser reads, and the
 * whole output is lines ending in CRLF with no CR inside (message bodies are stored with CRLF
 * line ends and dot-stuffed on the way out).
 */
#include "fuzz/session_fuzz.h"
#include "proto/pop3.h"
#include "servers/pop3d.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    sf_init();
    return 0;
}

static void check_output(const char *out, size_t n)
{
    /* the greeting (or the refusal that replaces it) is a status line */
    const char *lf = memchr(out, '\n', n);
    FUZZ_CHECK(lf != NULL);
    pop3_response resp;
    mr_error err;
    FUZZ_CHECK(pop3_response_parse(out, (size_t)(lf - out) + 1, MR_LENIENT, NULL, &resp, &err) ==
               (int)((size_t)(lf - out) + 1));
    /* then only whole CRLF lines */
    size_t at = 0;
    while (at < n) {
        lf = memchr(out + at, '\n', n - at);
        FUZZ_CHECK(lf != NULL);
        size_t len = (size_t)(lf - (out + at)) + 1;
        FUZZ_CHECK(len >= 2 && out[at + len - 2] == '\r');
        FUZZ_CHECK(memchr(out + at, '\r', len - 2) == NULL);
        at += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > SF_MAX_INPUT)
        return 0;
    if (!sf_profiles[0])
        sf_init();
    const profile *p = sf_profiles[data[0] % SF_PROFILES];
    if (!p->pop3.s.enabled)
        return 0;
    const profile_listener *l = sf_listener(p, PROFILE_POP3, data[1]);
    if (!l)
        return 0;
    char *buf = malloc(4 * size + 64);
    size_t n = sf_expand(p, PROFILE_POP3, data + 2, size - 2, buf, 4 * size + 64);
    store *st = memconn_store(p, sf_msgs, sf_nmsgs);
    FUZZ_CHECK(st != NULL);
    mock_listener ml = {NULL, p, l, st, 1, 0};
    memconn *holder = NULL;
    if (data[1] & 0x80) {
        /* someone else has the first account's maildrop */
        holder = sf_connect(&ml, pop3d_new, 2);
        char login[600];
        const profile_account *a = &p->accounts[0];
        if (l->mode == PROFILE_MODE_STARTTLS) {
            memconn_feed_str(holder, "STLS\r\n");
            memconn_tls(holder);
        }
        snprintf(login, sizeof login, "USER %s\r\nPASS %s\r\n", a->email, sf_secret(p, a, PROFILE_POP3));
        memconn_feed_str(holder, login);
    }
    memconn *m = sf_connect(&ml, pop3d_new, 1);
    sf_feed(m, buf, n, data, size);
    if (data[1] & 0x80)
        memconn_timeout(m);
    size_t limit = p->pop3.s.max_line > p->pop3.s.max_auth_line ? p->pop3.s.max_line : p->pop3.s.max_auth_line;
    sf_check_counts(m, limit);
    size_t outn;
    const char *out = memconn_output(m, &outn);
    check_output(out, outn);
    memconn_free(m);
    memconn_free(holder);
    store_close(st);
    FUZZ_CHECK(sess_registry_size() == 0);
    free(buf);
    return 0;
}
