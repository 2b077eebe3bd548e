/* sasl_server.c -- see sasl_server.h. */
#include "servers/sasl_server.h"

#include <stdio.h>
#include <string.h>

#include "proto/base64.h"
#include "proto/sasl_oauth.h"
#include "servers/profile.h"
#include "servers/session_util.h"

void sasl_exchange_init(sasl_exchange *x, mr_slice name, int pm)
{
    memset(x, 0, sizeof *x);
    x->mech = pm;
    x->smech = sasl_mech_lookup(name);
    sess_word(name.p, name.n, x->mech_name, sizeof x->mech_name);
}

void sasl_exchange_clear(sasl_exchange *x)
{
    volatile unsigned char *p = (volatile unsigned char *)x;
    for (size_t i = 0; i < sizeof *x; i++)
        p[i] = 0;
}

static void set_b64(sasl_result *out, const char *p, size_t n)
{
    int k = b64_encode(p, n, out->challenge_b64, sizeof out->challenge_b64 - 1, NULL);
    out->challenge_b64[k > 0 && (size_t)k < sizeof out->challenge_b64 ? k : 0] = '\0';
}

static void challenge(sasl_result *out, sasl_prompt prompt)
{
    out->step = SASL_STEP_CHALLENGE;
    out->prompt = prompt;
    /* draft-murchison-sasl-login: the prompts most servers send ([MS-XLOGIN]) */
    if (prompt == SASL_PROMPT_USERNAME)
        set_b64(out, "Username:", 9);
    else if (prompt == SASL_PROMPT_PASSWORD)
        set_b64(out, "Password:", 9);
}

void sasl_exchange_first(sasl_exchange *x, const char *host, uint64_t rnd, int64_t time_s,
                         sasl_result *out)
{
    memset(out, 0, sizeof *out);
    if (x->mech == PROFILE_MECH_LOGIN) {
        challenge(out, SASL_PROMPT_USERNAME);
        return;
    }
    challenge(out, SASL_PROMPT_NONE);
    if (x->mech == PROFILE_MECH_CRAM_MD5) {
        int n = snprintf(x->challenge, sizeof x->challenge, "<%llu.%lld@%s>",
                         (unsigned long long)(rnd % 10000000000ull), (long long)time_s,
                         host && *host ? host : "localhost");
        x->challenge_len = n > 0 && (size_t)n < sizeof x->challenge ? (size_t)n : 0;
        set_b64(out, x->challenge, x->challenge_len);
    }
}

int sasl_exchange_takes_ir(const sasl_exchange *x)
{
    return x->mech != PROFILE_MECH_CRAM_MD5;
}

static void done(sasl_result *out, const char *u, size_t un, const char *sec, size_t sn)
{
    out->step = SASL_STEP_DONE;
    out->user = (mr_slice){u ? u : "", u ? un : 0};
    out->secret = (mr_slice){sec ? sec : "", sec ? sn : 0};
}

void sasl_exchange_message(sasl_exchange *x, const char *msg, size_t n, sasl_result *out)
{
    memset(out, 0, sizeof *out);
    out->step = SASL_STEP_BAD;
    x->step++;
    switch (x->mech) {
    case PROFILE_MECH_PLAIN: {
        sasl_plain pl;
        if (sasl_plain_parse(msg, n, MR_LENIENT, NULL, &pl, NULL) == 0)
            done(out, pl.authcid.p, pl.authcid.n, pl.passwd.p, pl.passwd.n);
        return;
    }
    case PROFILE_MECH_LOGIN:
        if (!x->have_user) {
            if (n >= sizeof x->user)
                return;
            memcpy(x->user, msg, n);
            x->user_len = n;
            x->have_user = 1;
            challenge(out, SASL_PROMPT_PASSWORD);
            return;
        }
        done(out, x->user, x->user_len, msg, n);
        return;
    case PROFILE_MECH_CRAM_MD5: {
        sasl_cram_response cr;
        if (sasl_cram_response_parse(msg, n, MR_LENIENT, NULL, &cr, NULL) == 0)
            done(out, cr.user.p, cr.user.n, cr.digest.p, cr.digest.n);
        return;
    }
    case PROFILE_MECH_XOAUTH2: {
        sasl_xoauth2 xo;
        if (sasl_xoauth2_parse(msg, n, MR_LENIENT, NULL, &xo, NULL) == 0 && !xo.dummy)
            done(out, xo.user.p, xo.user.n, xo.auth.token.p, xo.auth.token.n);
        return;
    }
    case PROFILE_MECH_OAUTHBEARER: {
        sasl_oauthbearer ob;
        if (sasl_oauthbearer_parse(msg, n, MR_LENIENT, NULL, &ob, NULL) != 0 || ob.dummy)
            return;
        int un = 0;
        if (ob.gs2.authzid.p) {
            un = sasl_gs2_name_decode(ob.gs2.authzid, x->user, sizeof x->user, NULL);
            if (un < 0 || (size_t)un > sizeof x->user)
                return;
        }
        x->user_len = (size_t)un;
        done(out, x->user, x->user_len, ob.auth.token.p, ob.auth.token.n);
        return;
    }
    default:
        /* NTLM, GSSAPI, ATOKEN: one opaque message, which never logs in */
        done(out, NULL, 0, msg, n);
        return;
    }
}
