/* fuzz_profile_ini.c -- the profile loader (servers/profile.c) on arbitrary INI text.
 *
 * The input is a profile file. Lines "#set SECTION.KEY=VALUE" (comments to the INI reader)
 * become --set overrides, so the fuzzer mutates overrides too; a few fixed overrides chosen
 * from the input's hash are added. Never crash, never leak, and when the profile loads:
 *  - round trip: profile_write() output loads back to an equal profile, and writes the same
 *    text again (the Dovecot bodystructure oracle, for profiles);
 *  - every template of every listener expands within bounds, every capability list joins,
 *    and authentication decisions run for input-derived credentials.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "servers/profile.h"

enum { MAX_SETS = 8 };

static const char *const fixed_sets[] = {
    "imap.username=local, full",      "listener.587.mode=plain",          "account.emily.state=not-signed-in",
    "imap.greeting=* OK {caps} {be}", "smtp.ehlo=SIZE {size_limit}, {auth}", "tls.starttls_vulnerable=yes",
    "imap.usrname=full",              "listener.2525.protocol=smtp",      "pop3.enabled=no",
    "folder.New.flags=\\Sent",        "profile.backend=x%d%A",            "smtp.auth_continue=\"334 \"",
};

/* The text written by profile_write, in a malloc'd buffer. */
static char *write_text(const profile *p, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(profile_write(p, f) == 0);
    fclose(f);
    return text;
}

static void check_round_trip(const profile *p)
{
    size_t len = 0, len2 = 0;
    char *text = write_text(p, &len);
    profile_diag d = {0};
    profile *q = profile_load_string(text, len, "<written>", NULL, &d);
    if (!q) {
        fprintf(stderr, "written profile does not load:\n%s\n", text);
        profile_diag_print(&d, stderr);
    }
    FUZZ_CHECK(q != NULL);
    char what[200];
    bool same = profile_equal(p, q, what, sizeof what);
    if (!same)
        fprintf(stderr, "round trip changed %s\n", what);
    FUZZ_CHECK(same);
    char *text2 = write_text(q, &len2);
    FUZZ_CHECK(len == len2 && !memcmp(text, text2, len));
    free(text);
    free(text2);
    profile_free(q);
    profile_diag_free(&d);
}

/* Expand t with every context placeholder set; the result must fit the declared size. */
static void expand(const template *t, const template_vars *v)
{
    if (!t)
        return;
    char buf[2048];
    int n = template_expand(t, v, buf, sizeof buf);
    if (!v->conn && n == TEMPLATE_E_MISSING)
        return;
    FUZZ_CHECK(n >= 0);
    FUZZ_CHECK(strlen(buf) == ((size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1));
    FUZZ_CHECK(!memchr(buf, '\r', strlen(buf)) && !memchr(buf, '\n', strlen(buf)));
}

static void exercise(const profile *p, const uint8_t *data, size_t size)
{
    template_vars v = {0};
    template_conn c;
    for (int i = TPL_TAG; i < TPL_VAR_COUNT; i++)
        v.v[i] = "x\r\ny";
    for (size_t i = 0; i < p->n_listeners; i++) {
        const profile_listener *l = &p->listeners[i];
        const profile_service *s = profile_service_of(p, l->proto);
        FUZZ_CHECK(profile_conn_init(p, l, 1, i + 1, "127.0.0.1", 0, &c) == 0);
        v.conn = &c;
        if (s->enabled || l->greeting)
            expand(profile_listener_greeting(p, l), &v);
        for (int tls = 0; tls < 2; tls++) {
            profile_offer o = profile_offer_now(p, l->proto, l, tls);
            char buf[4096];
            int n = profile_caps_join(l->proto, &s->caps, &o, &v, " ", buf, sizeof buf);
            FUZZ_CHECK(n >= 0);
            for (int mech = -1; mech < PROFILE_MECH_COUNT; mech++)
                profile_auth_gate(p, l->proto, l, tls, PROFILE_VIA_SASL, mech);
            profile_auth_outcome g = profile_auth_gate(p, l->proto, l, tls, PROFILE_VIA_LOGIN, 0);
            profile_auth_result r = profile_auth_refusal(p, l->proto, PROFILE_VIA_LOGIN, g, 0);
            if (s->enabled)
                expand(r.reply, &v);
        }
    }
    v.conn = NULL; /* replies that need the connection scope now report TEMPLATE_E_MISSING */
    /* credentials from the input: split it in three */
    size_t a = size / 3, b = 2 * size / 3;
    profile_credentials cr = {.user = (const char *)data, .user_len = a, .secret = (const char *)data + a,
                              .secret_len = b - a, .challenge = (const char *)data + b, .challenge_len = size - b};
    for (int pr = 0; pr < PROFILE_PROTO_COUNT; pr++) {
        for (int mech = -1; mech < PROFILE_MECH_COUNT; mech++) {
            cr.via = mech < 0 ? PROFILE_VIA_LOGIN : PROFILE_VIA_SASL;
            cr.mech = mech;
            profile_auth_result r = profile_auth_check(p, (profile_proto)pr, &cr, 0);
            FUZZ_CHECK((unsigned)r.outcome < PROFILE_AUTH_OUTCOME_COUNT);
            if (profile_service_of(p, (profile_proto)pr)->enabled)
                expand(r.reply, &v);
        }
    }
    for (size_t i = 0; i < p->n_accounts; i++) {
        const profile_account *acct = &p->accounts[i];
        char user[600];
        for (int pr = 0; pr < PROFILE_PROTO_COUNT; pr++) {
            profile_account_username(p, acct, (profile_proto)pr, user, sizeof user);
            const char *pw = acct->app_password ? acct->app_password : acct->password;
            profile_credentials ok = {.via = PROFILE_VIA_LOGIN, .user = user, .user_len = strlen(user),
                                      .secret = pw, .secret_len = strlen(pw)};
            profile_auth_check(p, (profile_proto)pr, &ok, 0);
        }
    }
    const char *hosts[16];
    FUZZ_CHECK(profile_hosts(p, hosts, 16) <= 3 + p->n_listeners + p->extra_hosts.n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *sets[MAX_SETS + 2];
    char *owned[MAX_SETS];
    size_t nsets = 0, nowned = 0;
    /* "#set K=V" lines */
    for (size_t i = 0; i + 5 < size && nowned < MAX_SETS; i++) {
        if ((i && data[i - 1] != '\n') || memcmp(data + i, "#set ", 5))
            continue;
        const uint8_t *end = memchr(data + i, '\n', size - i);
        size_t n = (end ? (size_t)(end - data) : size) - i - 5;
        owned[nowned] = strndup((const char *)data + i + 5, n);
        if (owned[nowned])
            sets[nsets++] = owned[nowned++];
    }
    fuzz_rng rng = fuzz_rng_from(data, size);
    uint64_t pick = fuzz_rng_next(&rng);
    size_t nfixed = sizeof fixed_sets / sizeof *fixed_sets;
    for (int k = 0; k < (int)(pick % 3); k++)
        sets[nsets++] = fixed_sets[(pick >> (8 * (k + 1))) % nfixed];

    profile_opts o = {.sets = sets, .n_sets = nsets};
    profile_diag d = {0};
    profile *p = profile_load_string((const char *)data, size, "<fuzz>", &o, &d);
    FUZZ_CHECK(p != NULL || d.n > 0);
    if (p) {
        check_round_trip(p);
        exercise(p, data, size);
    }
    profile_free(p);
    profile_diag_free(&d);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    return 0;
}
