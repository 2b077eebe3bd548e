/* fuzz_checks.c -- every client-behaviour check (harness/checks.c) over arbitrary transcript
 * text.
 *
 * The first input byte picks the context (role, a profile's username forms, parameters); the
 * rest is the transcript. Oracles: no crash, leak or runaway (sanitizers, libFuzzer's timeout);
 * every verdict is 0 or 1 with a one-line printable reason; evaluating again gives the same
 * verdict and reason (no hidden state); a transcript that cannot be read fails every check
 * with the same reason.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "harness/checks.h"

static void one(sc_check_id id, const sc_check_param *p, size_t np, const check_ctx *ctx,
                const char *text, size_t n, int *unreadable)
{
    char r1[512], r2[512];
    int v1 = check_eval(id, p, np, ctx, text, n, r1, sizeof r1);
    int v2 = check_eval(id, p, np, ctx, text, n, r2, sizeof r2);
    FUZZ_CHECK(v1 == 0 || v1 == 1);
    FUZZ_CHECK(v1 == v2 && strcmp(r1, r2) == 0);
    FUZZ_CHECK(r1[0] != 0);
    for (const char *q = r1; *q; q++)
        FUZZ_CHECK((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f);
    int bad = strstr(r1, "transcript cannot be read") != NULL;
    if (*unreadable < 0)
        *unreadable = bad;
    FUZZ_CHECK(bad == *unreadable);
    FUZZ_CHECK(!bad || v1 == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned sel = data[0];
    /* a copy without a terminating NUL, so an over-read is caught */
    char *text = malloc(size - 1 ? size - 1 : 1);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    size_t n = size - 1;
    static const char *const forms[] = {NULL, "local", "full", "local|full"};
    check_ctx ctx = {.role = (sel & 1) ? SC_ROLE_CLIENT : SC_ROLE_SERVER, .profile = "fuzz"};
    for (int p = 1; p <= 3; p++)
        ctx.username_form[p] = forms[(sel >> 1) & 3];
    static const char *const nvals[] = {"0", "1", "3", "40"};
    const char *nv = nvals[(sel >> 3) & 3];
    static const char *const fvals[] = {"profile", "local", "full", "profile"};
    int unreadable = -1;
    for (int id = 0; id < SC_CHECK__COUNT; id++) {
        sc_check_param params[1];
        size_t np = 0;
        if (id == SC_CHECK_MAX_AUTH_RETRIES || id == SC_CHECK_MAX_LINE_LENGTH)
            params[np++] = (sc_check_param){"n", nv, strtol(nv, NULL, 10)};
        if (id == SC_CHECK_USERNAME_FORM)
            params[np++] = (sc_check_param){"form", fvals[(sel >> 5) & 3], 0};
        one((sc_check_id)id, params, np, (sel & 0x80) ? NULL : &ctx, text, n, &unreadable);
    }
    free(text);
    return 0;
}
