/* fuzz_probe_server.c -- what `mailrig probe` reads from a server (harness/probe_net.c, in
 * memory mode: probe_converse_memory) fed arbitrary server bytes, then everything probe.c
 * concludes from the attempt (port kind, the settings' verdicts, the recommendation, the
 * signals). A server is not trusted: the probe must never crash, hang or over-read on it.
 *
 * Byte 0 picks the protocol (IMAP, SMTP, POP3) and whether the attempt opens with TLS; the
 * rest is the server's byte stream.
 * Oracles:
 *  - the same stream delivered whole and split at points derived from the input gives the
 *    same first impression: outcome, greeting and the capabilities before TLS (what happens
 *    after a STARTTLS reply legitimately depends on where the bytes were cut: bytes in the
 *    same read as the reply are injection, later ones come "under TLS");
 *  - everything kept for the report is NUL-terminated printable ASCII (what the table and the
 *    JSON print), mechanisms are upper case;
 *  - probe_signals() never writes past the array it is given.
 */
#include <string.h>

#include "fuzz/util.h"
#include "harness/probe.h"

enum { MAX_CUTS = 512 };

static void check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    FUZZ_CHECK(n < cap);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(s[i] >= 0x20 && s[i] < 0x7f);
}

static void check_caps(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    FUZZ_CHECK(n < cap);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((s[i] >= 0x20 && s[i] < 0x7f) || s[i] == '\n');
}

static void check_attempt(const probe_attempt *a)
{
    FUZZ_CHECK(a->outcome > PROBE_NOT_RUN && a->outcome < PROBE_OUTCOME_COUNT);
    check_text(a->greeting, sizeof a->greeting);
    check_text(a->detail, sizeof a->detail);
    check_caps(a->caps_before, sizeof a->caps_before);
    check_caps(a->caps_after, sizeof a->caps_after);
    const char *mechs[] = {a->before.mechs, a->after.mechs};
    for (int m = 0; m < 2; m++) {
        check_text(mechs[m], PROBE_MECHS);
        for (const char *p = mechs[m]; *p; p++)
            FUZZ_CHECK(!(*p >= 'a' && *p <= 'z'));
    }
}

static int map_all(void *ctx, int port)
{
    (void)ctx;
    return port;
}

/* Put the attempt in a plan where every other attempt was refused, and judge it all. */
static void judge(const probe_attempt *a, int port)
{
    static probe_result r;
    probe_plan(&r, map_all, NULL);
    for (size_t i = 0; i < r.n; i++) {
        r.a[i].outcome = PROBE_REFUSED;
        if (r.a[i].provider_port == port && r.a[i].start == a->start) {
            r.a[i] = *a;
            r.a[i].provider_port = port;
            r.a[i].port = port;
        }
    }
    FUZZ_CHECK(probe_port_classify(&r, port) < PROBE_PORT_COUNT);
    for (size_t i = 0; i < sizeof probe_settings / sizeof probe_settings[0]; i++) {
        probe_verdict v = probe_judge(&r, probe_settings[i]);
        check_text(v.why, sizeof v.why);
        FUZZ_CHECK(!v.auth || v.connects);
    }
    bool cp;
    for (int p = 0; p < PROFILE_PROTO_COUNT; p++)
        FUZZ_CHECK(probe_recommend(&r, (profile_proto)p, &cp) < 10);
    probe_signal sg[3];
    memset(sg, 0, sizeof sg);
    size_t n = probe_signals(&r, "127.0.0.1", sg, 2);
    for (size_t i = 0; i < n && i < 2; i++)
        check_text(sg[i].text, sizeof sg[i].text);
    FUZZ_CHECK(sg[2].code == NULL); /* nothing past the two slots given */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256 * 1024)
        return 0;
    static const int ports[2][3] = {{143, 587, 110}, {993, 465, 995}};
    profile_proto proto = (profile_proto)(data[0] % 3);
    probe_start start = (data[0] >> 2) & 1 ? PROBE_START_TLS : PROBE_START_PLAIN;
    int port = ports[start == PROBE_START_TLS][proto];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    static probe_attempt whole, split;
    whole = (probe_attempt){.proto = proto, .start = start, .provider_port = port, .port = port};
    split = whole;
    probe_converse_memory(&whole, in, n, NULL, 0);
    fuzz_rng rng = fuzz_rng_from(data, size);
    size_t cuts[MAX_CUTS];
    size_t ncuts = fuzz_split_points(&rng, n, cuts, MAX_CUTS);
    probe_converse_memory(&split, in, n, cuts, ncuts);
    check_attempt(&whole);
    check_attempt(&split);
    FUZZ_CHECK(whole.outcome == split.outcome);
    FUZZ_CHECK(strcmp(whole.greeting, split.greeting) == 0);
    FUZZ_CHECK(whole.greeting_ok == split.greeting_ok);
    FUZZ_CHECK(strcmp(whole.caps_before, split.caps_before) == 0);
    FUZZ_CHECK(strcmp(whole.before.mechs, split.before.mechs) == 0);
    judge(&whole, port);
    return 0;
}
