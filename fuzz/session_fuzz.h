/* session_fuzz.h -- the harness of the session fuzz targets (fuzz_session_smtp.c,
 * fuzz_session_pop3.c), header only so that nothing is linked into the parser targets.
 *
 * Input layout:
 *   byte 0   profile variant: a shipped profile (icloud, exchange, generic) with its first
 *            account put in one of the account states (or as shipped), or with STARTTLS made
 *            vulnerable on purpose
 *   byte 1   the listener: the provider port whose low 7 bits it has (587 -> 0x4b, 465 -> 0x51,
 *            25 -> 0x19, 110 -> 0x6e, 995 -> 0x63), else one of the protocol's open listeners;
 *            its top bit asks for an idle timeout at the end (and, POP3, a second session
 *            holding the first account's maildrop)
 *   rest     the client's bytes, in which "\x01" KIND ACCOUNT is a macro for a credential of
 *            account ACCOUNT (0-based, modulo the count), so the fuzzer can log in:
 *              e email, l local part, p password, a app password (else password),
 *              t OAuth token, s the password the protocol takes (app when it says so),
 *              P base64 PLAIN "\0email\0s", X base64 XOAUTH2 for email and token,
 *              U base64 email, S base64 s
 *            (ci/session-seeds writes seeds this way from pytest transcripts).
 * The bytes are fed in pseudo-random chunks (fuzz_split_points); when the session asked for
 * STARTTLS, the next chunk comes "after the handshake" (memconn: tls_ready first).
 *
 * Oracles (besides ASan/UBSan/LSan): the session never consumes more than offered (memconn
 * aborts), never stalls, never holds more pending input than its line limits allow; every
 * byte fed is consumed, pending, discarded after STARTTLS, or fed after the close; consumed
 * bytes are reported to the transcript; the registry of connections and locks is empty once
 * the sessions are freed. The protocol's target checks the output's framing.
 */
#ifndef MAILRIG_FUZZ_SESSION_FUZZ_H
#define MAILRIG_FUZZ_SESSION_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "proto/base64.h"
#include "servers/memconn.h"
#include "servers/mock.h"
#include "servers/paths.h"
#include "servers/profile.h"
#include "servers/session_util.h"
#include "servers/store.h"

enum { SF_BASES = 3, SF_VARIANTS = 8, SF_PROFILES = SF_BASES * SF_VARIANTS, SF_CUTS = 512, SF_MAX_INPUT = 1 << 16 };

static profile *sf_profiles[SF_PROFILES];
static const char *sf_msgs[4];
static size_t sf_nmsgs;

/* Variant v of a base profile: as shipped, the first account in a state, vulnerable, or (7)
 * few errors allowed and delayed authentication failures (sf_init adds those). */
static const char *sf_variant_set(const char *first_account, int v, char *buf, size_t cap)
{
    static const char *const states[] = {NULL,           "smtp-auth-disabled", "basic-auth-disabled", "not-signed-in",
                                         "pop-disabled", "protocols-disabled", NULL,                  NULL};
    if (v == 6)
        return "tls.starttls_vulnerable=yes";
    if (v == 7)
        return "smtp.max_errors=3";
    if (!states[v])
        return NULL;
    snprintf(buf, cap, "account.%s.state=%s", first_account, states[v]);
    return buf;
}

static char *sf_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static void sf_init(void)
{
    static const char *const bases[SF_BASES] = {"icloud", "exchange", "generic"};
    static const char *const firsts[SF_BASES] = {"emily", "tony", "alice"};
    for (int b = 0; b < SF_BASES; b++)
        for (int v = 0; v < SF_VARIANTS; v++) {
            char buf[128];
            const char *sets[4] = {sf_variant_set(firsts[b], v, buf, sizeof buf)};
            size_t nsets = sets[0] ? 1 : 0;
            if (v == 7) { /* also delayed failure replies: the sessions' stop-after-a-hold path */
                sets[nsets++] = "imap.auth_delay_ms=1";
                sets[nsets++] = "smtp.auth_delay_ms=1";
                sets[nsets++] = "pop3.auth_delay_ms=1";
            }
            profile_opts o = {.sets = sets, .n_sets = nsets};
            profile_diag d = {0};
            sf_profiles[b * SF_VARIANTS + v] = profile_load(bases[b], &o, &d);
            if (!sf_profiles[b * SF_VARIANTS + v]) {
                profile_diag_print(&d, stderr);
                fprintf(stderr, "session fuzz: cannot load profile %s (set MAILRIG_DATA)\n", bases[b]);
                abort();
            }
            profile_diag_free(&d);
        }
    /* a few real messages for the maildrop (POP3 RETR/TOP), read once */
    char dir[4096], path[4200];
    static const char *const names[] = {"plain-text.eml", "utf8-headers.eml", "forward-rfc822.eml"};
    if (paths_data_dir(dir, sizeof dir) > 0)
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            snprintf(path, sizeof path, "%s/profiles/messages/%s", dir, names[i]);
            char *m = sf_read_file(path);
            if (m)
                sf_msgs[sf_nmsgs++] = m;
        }
}

/* The password proto takes for account a. */
static const char *sf_secret(const profile *p, const profile_account *a, profile_proto proto)
{
    const profile_service *s = profile_service_of(p, proto);
    return (s->passwords & PROFILE_PW_APP) && a->app_password ? a->app_password : a->password;
}

static void sf_put(char *out, size_t *n, size_t cap, const void *p, size_t k)
{
    if (*n + k <= cap) {
        memcpy(out + *n, p, k);
        *n += k;
    }
}

static void sf_put_b64(char *out, size_t *n, size_t cap, const void *p, size_t k)
{
    char b[2048];
    int w = b64_encode(p, k, b, sizeof b, NULL);
    if (w > 0)
        sf_put(out, n, cap, b, (size_t)w);
}

/* Expand the credential macros of in[0..n) into out (at most cap bytes). */
static size_t sf_expand(const profile *p, profile_proto proto, const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != 0x01 || i + 2 >= n || p->n_accounts == 0) {
            sf_put(out, &o, cap, &in[i], 1);
            continue;
        }
        const profile_account *a = &p->accounts[in[i + 2] % p->n_accounts];
        const char *secret = sf_secret(p, a, proto);
        const char *token = a->oauth_token ? a->oauth_token : "no-token";
        char buf[1024];
        int k;
        switch (in[i + 1]) {
        case 'e': sf_put(out, &o, cap, a->email, strlen(a->email)); break;
        case 'l': sf_put(out, &o, cap, a->local, strlen(a->local)); break;
        case 'p': sf_put(out, &o, cap, a->password, strlen(a->password)); break;
        case 'a': {
            const char *ap = a->app_password ? a->app_password : a->password;
            sf_put(out, &o, cap, ap, strlen(ap));
            break;
        }
        case 't': sf_put(out, &o, cap, token, strlen(token)); break;
        case 's': sf_put(out, &o, cap, secret, strlen(secret)); break;
        case 'P':
            k = snprintf(buf, sizeof buf, "%c%s%c%s", 0, a->email, 0, secret);
            sf_put_b64(out, &o, cap, buf, (size_t)k);
            break;
        case 'X':
            k = snprintf(buf, sizeof buf, "user=%s\001auth=Bearer %s\001\001", a->email, token);
            sf_put_b64(out, &o, cap, buf, (size_t)k);
            break;
        case 'U': sf_put_b64(out, &o, cap, a->email, strlen(a->email)); break;
        case 'S': sf_put_b64(out, &o, cap, secret, strlen(secret)); break;
        default: sf_put(out, &o, cap, &in[i], 3); break;
        }
        i += 2;
    }
    return o;
}

/* The listener byte 1 names among proto's open listeners of p, or NULL when there is none. */
static const profile_listener *sf_listener(const profile *p, profile_proto proto, uint8_t b)
{
    const profile_listener *open[PROFILE_MAX_LISTENERS];
    size_t n = 0;
    for (size_t i = 0; i < p->n_listeners; i++) {
        const profile_listener *l = &p->listeners[i];
        if (l->proto != proto || l->mode == PROFILE_MODE_CLOSED || l->mode == PROFILE_MODE_SILENT)
            continue;
        if ((l->port & 0x7f) == (b & 0x7f))
            return l;
        open[n++] = l;
    }
    return n ? open[(b & 0x7f) % n] : NULL;
}

static memconn *sf_connect(mock_listener *ml, session_factory factory, unsigned id)
{
    const profile_listener *l = ml->pl;
    memconn_opts o = {
        .provider_port = (int)l->port,
        .tls_active = l->mode == PROFILE_MODE_IMPLICIT_TLS,
        .starttls_offered = l->mode == PROFILE_MODE_STARTTLS,
        .vulnerable = ml->prof->tls.starttls_vulnerable,
        .conn_id = id,
    };
    memconn *m = memconn_new(factory, ml, &o);
    FUZZ_CHECK(m != NULL);
    return m;
}

/* Feed buf[0..n) in chunks, with the STARTTLS upgrade point between chunks. */
static void sf_feed(memconn *m, const char *buf, size_t n, const uint8_t *data, size_t size)
{
    fuzz_rng rng = fuzz_rng_from(data, size);
    size_t cuts[SF_CUTS];
    size_t nc = fuzz_split_points(&rng, n, cuts, SF_CUTS);
    size_t at = 0;
    for (size_t i = 0; i <= nc; i++) {
        size_t end = i < nc ? cuts[i] : n;
        if (memconn_tls_pending(m))
            memconn_tls(m);
        memconn_feed(m, buf + at, end - at);
        at = end;
    }
}

/* The checks every session target makes after feeding. */
static void sf_check_counts(const memconn *m, size_t line_limit)
{
    memconn_counts c = memconn_get_counts(m);
    FUZZ_CHECK(!memconn_stalled(m));
    FUZZ_CHECK(c.fed == c.consumed + c.pending + c.discarded + c.dropped);
    FUZZ_CHECK(c.pending <= line_limit + 2);
    FUZZ_CHECK(c.consumed == 0 || c.reported > 0);
}

#endif
