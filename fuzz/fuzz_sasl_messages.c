/* fuzz_sasl_messages.c -- every SASL parser and writer in proto/sasl*.c, both directions.
 *
 * The first input byte selects the target (its value modulo 16, see enum below; the seed files
 * in corpora/sasl_messages/ start with the letter of their target: '@' 0, 'A' 1, ... 'O' 15);
 * the rest is the message. Oracles, in MR_STRICT and MR_LENIENT:
 *  - no parser reads outside the message, every error has a rule and an offset inside it;
 *  - strict acceptance implies lenient acceptance of the same value (LOGIN challenges may be
 *    classified differently, nothing else may);
 *  - round trip: for every parsed value, write it, parse the output in the same mode, and get
 *    the same value;
 *  - incremental path: the message, base64-encoded as a client continuation line, fed to
 *    sasl_response_line_parse() in pieces cut at fuzz_split_points(), decodes to the same
 *    bytes and parses to the same value as the message given whole;
 *  - redaction: the summary of a message equals the summary of its canonical form, and both
 *    redactions of the canonical form do not change when the secret is replaced by another.
 * Target 8 reads the input as a stream of continuation lines, whole and in pieces, and parses
 * each decoded message as every mechanism.
 */
#include <string.h>

#include "fuzz/util.h"
#include "proto/base64.h"
#include "proto/sasl.h"
#include "proto/sasl_oauth.h"
#include "proto/sasl_redact.h"

enum {
    T_PLAIN,
    T_LOGIN_CHALLENGE,
    T_LOGIN_RESPONSE,
    T_CRAM_CHALLENGE,
    T_CRAM_RESPONSE,
    T_XOAUTH2,
    T_OAUTHBEARER,
    T_OAUTH_ERROR,
    T_RESPONSE_LINES,
    T_PAYLOAD,
    T_MECH_NAME,
    T_ESCAPES,
    T_REDACT,
    T_ALL, /* every message parser on the same bytes */
    T_ALL2,
    T_ALL3,
    T__COUNT
};

enum { MAX_MSG = 4096, MAX_CUTS = 64 };

static const sasl_limits lim = {
    .max_line = 2048,
    .max_message = 1024,
    .max_field = 64,
    .max_token = 256,
    .max_pairs = 8,
    .max_json = 512,
    .max_json_members = 8,
};

/* Re-parsing a writer's output: the canonical form may be a little longer than the input
 * (terminators added, numbers quoted), so the whole-message limits are lifted. */
static sasl_limits lim_reparse(void)
{
    sasl_limits l = lim;
    l.max_message = MR_LIMIT_MAX;
    l.max_json = MR_LIMIT_MAX;
    return l;
}

/* Sized for the worst case of each writer on a MAX_MSG input: JSON escapes (6x), saslname
 * escapes (3x), redaction summaries (4x plus labels). */
static char wbuf[MAX_MSG * 6 + 64];
static char wbuf2[MAX_MSG * 6 + 64];
static char rbuf1[MAX_MSG * 5], rbuf2[MAX_MSG * 5];

static void check_err(int r, const mr_error *e, size_t n)
{
    if (r == MR_ERROR)
        FUZZ_CHECK(e->rule != NULL && e->offset <= n && e->code != MR_E_NONE);
    else
        FUZZ_CHECK(r == 0);
}

static int same(mr_slice a, mr_slice b)
{
    if ((a.p == NULL) != (b.p == NULL) || a.n != b.n)
        return 0;
    return a.n == 0 || memcmp(a.p, b.p, a.n) == 0;
}

static int same_kv(const sasl_kv *a, const sasl_kv *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!same(a[k].key, b[k].key) || !same(a[k].value, b[k].value))
            return 0;
    return 1;
}

/* The summary of a redaction, or the wire form, into buf; returns its length. */
static size_t redact(sasl_mech mech, unsigned step, const char *m, size_t n, int style,
                     char *buf)
{
    int r = sasl_redact(mech, step, m, n, 0, (sasl_redact_style)style, buf, sizeof rbuf1);
    FUZZ_CHECK(r >= 0 && (size_t)r <= sizeof rbuf1);
    return (size_t)r;
}

/* The redaction of canonical bytes a equals that of b (the same message with another secret),
 * in both styles; and the summary of the original equals the summary of a. */
static void check_redaction(sasl_mech mech, unsigned step, const char *orig, size_t norig,
                            const char *a, size_t na, const char *b, size_t nb)
{
    for (int style = 0; style < 2; style++) {
        size_t ra = redact(mech, step, a, na, style, rbuf1);
        size_t rb = redact(mech, step, b, nb, style, rbuf2);
        FUZZ_CHECK(ra == rb && memcmp(rbuf1, rbuf2, ra) == 0);
        if (style == SASL_REDACT_SUMMARY) {
            size_t ro = redact(mech, step, orig, norig, style, rbuf2);
            FUZZ_CHECK(ro == ra && memcmp(rbuf1, rbuf2, ra) == 0);
        }
    }
}

/* ---- one parser per message type: parse, compare modes, round trip ---------------------- */

static int plain_same(const sasl_plain *a, const sasl_plain *b)
{
    return a->authzid.n == b->authzid.n && same(a->authcid, b->authcid) &&
           same(a->passwd, b->passwd) &&
           (a->authzid.n == 0 || memcmp(a->authzid.p, b->authzid.p, a->authzid.n) == 0);
}

static void fuzz_plain(const char *m, size_t n)
{
    sasl_plain v[2];
    int r[2];
    for (int mode = 0; mode < 2; mode++) {
        mr_error e;
        r[mode] = sasl_plain_parse(m, n, (mr_mode)mode, &lim, &v[mode], &e);
        check_err(r[mode], &e, n);
        if (r[mode] != 0)
            continue;
        int w = sasl_plain_write(&v[mode], wbuf, sizeof wbuf, NULL);
        FUZZ_CHECK(w >= 0 && (size_t)w == n && memcmp(wbuf, m, n) == 0); /* PLAIN is exact */
        sasl_plain again;
        sasl_limits l = lim_reparse();
        FUZZ_CHECK(sasl_plain_parse(wbuf, (size_t)w, (mr_mode)mode, &l, &again, NULL) == 0);
        FUZZ_CHECK(plain_same(&v[mode], &again));
        sasl_plain other = v[mode];
        other.passwd.p = "Q";
        other.passwd.n = 1;
        int w2 = sasl_plain_write(&other, wbuf2, sizeof wbuf2, NULL);
        FUZZ_CHECK(w2 > 0);
        check_redaction(SASL_MECH_PLAIN, 0, m, n, wbuf, (size_t)w, wbuf2, (size_t)w2);
    }
    if (r[MR_STRICT] == 0)
        FUZZ_CHECK(r[MR_LENIENT] == 0 && plain_same(&v[0], &v[1]));
}

static void fuzz_login(const char *m, size_t n)
{
    int rc[2], rr[2];
    mr_slice val[2];
    for (int mode = 0; mode < 2; mode++) {
        mr_error e;
        sasl_login_challenge ch;
        rc[mode] = sasl_login_challenge_parse(m, n, (mr_mode)mode, &lim, &ch, &e);
        check_err(rc[mode], &e, n);
        if (rc[mode] == 0) {
            FUZZ_CHECK(ch.text.p == m && ch.text.n == n);
            int w = sasl_login_challenge_write(&ch, wbuf, sizeof wbuf, NULL);
            FUZZ_CHECK(w >= 0 && (size_t)w == n && memcmp(wbuf, m, n) == 0);
            sasl_login_challenge canon = {ch.prompt, {NULL, 0}};
            w = sasl_login_challenge_write(&canon, wbuf, sizeof wbuf, NULL);
            if (ch.prompt != SASL_LOGIN_PROMPT_OTHER) {
                sasl_login_challenge again;
                FUZZ_CHECK(w > 0);
                FUZZ_CHECK(sasl_login_challenge_parse(wbuf, (size_t)w, MR_STRICT, &lim, &again,
                                                      NULL) == 0);
                FUZZ_CHECK(again.prompt == ch.prompt);
            } else {
                FUZZ_CHECK(w == MR_ERROR);
            }
        }
        rr[mode] = sasl_login_response_parse(m, n, (mr_mode)mode, &lim, &val[mode], &e);
        check_err(rr[mode], &e, n);
        if (rr[mode] == 0) {
            FUZZ_CHECK(val[mode].p == m && val[mode].n == n);
            int w = sasl_login_response_write(val[mode], wbuf, sizeof wbuf, NULL);
            FUZZ_CHECK(w >= 0 && (size_t)w == n);
            check_redaction(SASL_MECH_LOGIN, 1, m, n, m, n, "Q", 1);
        }
    }
    if (rc[MR_STRICT] == 0)
        FUZZ_CHECK(rc[MR_LENIENT] == 0);
    if (rr[MR_STRICT] == 0)
        FUZZ_CHECK(rr[MR_LENIENT] == 0);
}

static int cram_ch_same(const sasl_cram_challenge *a, const sasl_cram_challenge *b)
{
    return a->random.n == b->random.n && a->timestamp.n == b->timestamp.n &&
           memcmp(a->random.p, b->random.p, a->random.n) == 0 &&
           (a->timestamp.n == 0 || memcmp(a->timestamp.p, b->timestamp.p, a->timestamp.n) == 0) &&
           same(a->host, b->host);
}

static void fuzz_cram(const char *m, size_t n)
{
    sasl_cram_challenge ch[2];
    sasl_cram_response rs[2];
    int rc[2], rr[2];
    sasl_limits l = lim_reparse();
    for (int mode = 0; mode < 2; mode++) {
        mr_error e;
        rc[mode] = sasl_cram_challenge_parse(m, n, (mr_mode)mode, &lim, &ch[mode], &e);
        check_err(rc[mode], &e, n);
        if (rc[mode] == 0) {
            int w = sasl_cram_challenge_write(&ch[mode], wbuf, sizeof wbuf, NULL);
            FUZZ_CHECK(w >= 0 && (size_t)w == n && memcmp(wbuf, m, n) == 0);
            sasl_cram_challenge again;
            FUZZ_CHECK(sasl_cram_challenge_parse(wbuf, (size_t)w, (mr_mode)mode, &l, &again,
                                                 NULL) == 0);
            FUZZ_CHECK(cram_ch_same(&ch[mode], &again));
        }
        rr[mode] = sasl_cram_response_parse(m, n, (mr_mode)mode, &lim, &rs[mode], &e);
        check_err(rr[mode], &e, n);
        if (rr[mode] == 0) {
            int w = sasl_cram_response_write(&rs[mode], wbuf, sizeof wbuf, NULL);
            FUZZ_CHECK(w >= 0 && (size_t)w == n && memcmp(wbuf, m, n) == 0);
            unsigned char md[16];
            char hex[32];
            FUZZ_CHECK(sasl_cram_digest_decode(rs[mode].digest, md) == 0);
            sasl_cram_digest_encode(md, hex);
            for (size_t i = 0; i < 32; i++)
                FUZZ_CHECK(hex[i] == (rs[mode].digest.p[i] | (rs[mode].digest.p[i] > '9' ? 0x20 : 0)));
            sasl_cram_response other = rs[mode];
            other.digest.p = "00000000000000000000000000000000";
            int w2 = sasl_cram_response_write(&other, wbuf2, sizeof wbuf2, NULL);
            FUZZ_CHECK(w2 == w);
            check_redaction(SASL_MECH_CRAM_MD5, 0, m, n, wbuf, (size_t)w, wbuf2, (size_t)w2);
        }
    }
    if (rc[MR_STRICT] == 0)
        FUZZ_CHECK(rc[MR_LENIENT] == 0 && cram_ch_same(&ch[0], &ch[1]));
    if (rr[MR_STRICT] == 0)
        FUZZ_CHECK(rr[MR_LENIENT] == 0 && same(rs[0].user, rs[1].user) &&
                   same(rs[0].digest, rs[1].digest));
}

static int bearer_same(const sasl_bearer *a, const sasl_bearer *b)
{
    return same(a->scheme, b->scheme) && same(a->token, b->token);
}

static int x2_same(const sasl_xoauth2 *a, const sasl_xoauth2 *b)
{
    return a->dummy == b->dummy && same(a->user, b->user) && bearer_same(&a->auth, &b->auth) &&
           a->nextra == b->nextra && same_kv(a->extra, b->extra, a->nextra);
}

static void fuzz_xoauth2(const char *m, size_t n)
{
    sasl_xoauth2 v[2];
    int r[2];
    sasl_limits l = lim_reparse();
    for (int mode = 0; mode < 2; mode++) {
        mr_error e;
        r[mode] = sasl_xoauth2_parse(m, n, (mr_mode)mode, &lim, &v[mode], &e);
        check_err(r[mode], &e, n);
        if (r[mode] != 0)
            continue;
        int w = sasl_xoauth2_write(&v[mode], wbuf, sizeof wbuf, NULL);
        FUZZ_CHECK(w >= 0);
        sasl_xoauth2 again;
        FUZZ_CHECK(sasl_xoauth2_parse(wbuf, (size_t)w, (mr_mode)mode, &l, &again, NULL) == 0);
        FUZZ_CHECK(x2_same(&v[mode], &again));
        sasl_xoauth2 other = v[mode];
        if (other.auth.token.n) {
            other.auth.token.p = "Q";
            other.auth.token.n = 1;
        }
        for (size_t k = 0; k < other.nextra; k++)
            other.extra[k].value.n = 0;
        int w2 = sasl_xoauth2_write(&other, wbuf2, sizeof wbuf2, NULL);
        FUZZ_CHECK(w2 >= 0);
        check_redaction(SASL_MECH_XOAUTH2, 0, m, n, wbuf, (size_t)w, wbuf2, (size_t)w2);
    }
    if (r[MR_STRICT] == 0)
        FUZZ_CHECK(r[MR_LENIENT] == 0 && x2_same(&v[0], &v[1]));
}

static int ob_same(const sasl_oauthbearer *a, const sasl_oauthbearer *b)
{
    return a->dummy == b->dummy && a->gs2.nonstd == b->gs2.nonstd &&
           a->gs2.cbflag == b->gs2.cbflag && same(a->gs2.cbname, b->gs2.cbname) &&
           same(a->gs2.authzid, b->gs2.authzid) && same(a->host, b->host) &&
           same(a->port, b->port) && a->port_num == b->port_num &&
           bearer_same(&a->auth, &b->auth) && a->nextra == b->nextra &&
           same_kv(a->extra, b->extra, a->nextra);
}

static void fuzz_oauthbearer(const char *m, size_t n)
{
    sasl_oauthbearer v[2];
    int r[2];
    sasl_limits l = lim_reparse();
    for (int mode = 0; mode < 2; mode++) {
        mr_error e;
        r[mode] = sasl_oauthbearer_parse(m, n, (mr_mode)mode, &lim, &v[mode], &e);
        check_err(r[mode], &e, n);
        if (r[mode] != 0)
            continue;
        int w = sasl_oauthbearer_write(&v[mode], wbuf, sizeof wbuf, NULL);
        FUZZ_CHECK(w > 0);
        sasl_oauthbearer again;
        FUZZ_CHECK(sasl_oauthbearer_parse(wbuf, (size_t)w, (mr_mode)mode, &l, &again, NULL) == 0);
        FUZZ_CHECK(ob_same(&v[mode], &again));
        sasl_oauthbearer other = v[mode];
        if (other.auth.token.n) {
            other.auth.token.p = "Q";
            other.auth.token.n = 1;
        }
        for (size_t k = 0; k < other.nextra; k++)
            other.extra[k].value.n = 0;
        int w2 = sasl_oauthbearer_write(&other, wbuf2, sizeof wbuf2, NULL);
        FUZZ_CHECK(w2 > 0);
        check_redaction(SASL_MECH_OAUTHBEARER, 0, m, n, wbuf, (size_t)w, wbuf2, (size_t)w2);
    }
    if (r[MR_STRICT] == 0)
        FUZZ_CHECK(r[MR_LENIENT] == 0 && ob_same(&v[0], &v[1]));
}

static int oe_same(const sasl_oauth_error *a, const sasl_oauth_error *b)
{
    return same(a->status, b->status) && same(a->schemes, b->schemes) &&
           same(a->scope, b->scope) && same(a->openid_configuration, b->openid_configuration);
}

static void fuzz_oauth_error(const char *m, size_t n)
{
    sasl_oauth_error v[2];
    int r[2];
    sasl_limits l = lim_reparse();
    for (int mode = 0; mode < 2; mode++) {
        mr_error e;
        r[mode] = sasl_oauth_error_parse(m, n, (mr_mode)mode, &lim, &v[mode], &e);
        check_err(r[mode], &e, n);
        if (r[mode] != 0)
            continue;
        int w = sasl_oauth_error_write(&v[mode], wbuf, sizeof wbuf, NULL);
        FUZZ_CHECK(w >= 2);
        sasl_oauth_error again;
        int rr = sasl_oauth_error_parse(wbuf, (size_t)w, (mr_mode)mode, &l, &again, NULL);
        FUZZ_CHECK(rr == 0 && oe_same(&v[mode], &again));
        mr_slice *fields[] = {&v[mode].status, &v[mode].schemes, &v[mode].scope,
                              &v[mode].openid_configuration};
        for (size_t k = 0; k < 4; k++) {
            if (!fields[k]->p)
                continue;
            /* escapes only shrink: \uXXXX gives at most 3 bytes, a surrogate pair 4 */
            int u = sasl_json_unescape(*fields[k], wbuf2, sizeof wbuf2, NULL);
            FUZZ_CHECK(u == MR_ERROR || (u >= 0 && (size_t)u <= fields[k]->n));
        }
    }
    if (r[MR_STRICT] == 0)
        FUZZ_CHECK(r[MR_LENIENT] == 0 && oe_same(&v[0], &v[1]));
}

static void fuzz_all(const char *m, size_t n)
{
    fuzz_plain(m, n);
    fuzz_login(m, n);
    fuzz_cram(m, n);
    fuzz_xoauth2(m, n);
    fuzz_oauthbearer(m, n);
    fuzz_oauth_error(m, n);
}

/* ---- the incremental path: continuation lines ---------------------------------------------- */

static char lbuf[MAX_MSG * 2 + 16];
static char dec_whole[MAX_MSG], dec_grown[MAX_MSG];

/* Parse lines from buf whole, then growing at the cut points, and compare line by line. */
static void fuzz_lines(const uint8_t *seed, size_t seed_n, const char *buf, size_t len,
                       mr_mode mode, int parse_messages)
{
    size_t cuts[MAX_CUTS];
    fuzz_rng rng = fuzz_rng_from(seed, seed_n);
    size_t ncuts = fuzz_split_points(&rng, len, cuts, MAX_CUTS);
    size_t at_w = 0, at_g = 0, scanned = 0, c = 0;
    /* A few lines show every framing case; messages are parsed from the first two only, to
     * keep the per-input work small. */
    for (int lines = 0; lines < 16; lines++) {
        sasl_payload pw, pg;
        mr_error ew = {MR_E_NONE, NULL, 0}, eg = {MR_E_NONE, NULL, 0};
        int rw = sasl_response_line_parse(buf + at_w, len - at_w, mode, &lim, NULL, dec_whole,
                                          sizeof dec_whole, &pw, &ew);
        int rg;
        for (;;) {
            while (c < ncuts && cuts[c] <= at_g)
                c++;
            size_t avail = (c < ncuts ? cuts[c] : len) - at_g;
            rg = sasl_response_line_parse(buf + at_g, avail, mode, &lim, &scanned, dec_grown,
                                          sizeof dec_grown, &pg, &eg);
            if (rg == MR_NEED_MORE && at_g + avail < len) {
                c++;
                continue;
            }
            break;
        }
        FUZZ_CHECK(rw == rg);
        if (rw == MR_ERROR)
            FUZZ_CHECK(ew.code == eg.code && ew.offset == eg.offset && !strcmp(ew.rule, eg.rule));
        if (rw <= 0)
            return;
        FUZZ_CHECK(pw.kind == pg.kind && pw.len == pg.len && pw.raw.n == pg.raw.n);
        FUZZ_CHECK(memcmp(dec_whole, dec_grown, pw.len) == 0);
        /* write it back and read it again */
        int w = sasl_response_line_write(pw.kind, dec_whole, pw.len, wbuf, sizeof wbuf, NULL);
        FUZZ_CHECK(w > 0);
        sasl_payload pa;
        int ra = sasl_response_line_parse(wbuf, (size_t)w, MR_STRICT, &lim, NULL, dec_grown,
                                          sizeof dec_grown, &pa, NULL);
        FUZZ_CHECK(ra == w && (pa.kind == pw.kind || (pw.kind == SASL_PAYLOAD_DATA && !pw.len)));
        FUZZ_CHECK(pa.len == pw.len && memcmp(dec_grown, dec_whole, pw.len) == 0);
        if (parse_messages && pw.kind == SASL_PAYLOAD_DATA && lines < 2)
            fuzz_all(dec_whole, pw.len);
        at_w += (size_t)rw;
        at_g += (size_t)rg;
        scanned = 0;
    }
}

/* The message as a base64 continuation line, through the incremental path. */
static void fuzz_wrapped(const uint8_t *seed, size_t seed_n, const char *m, size_t n)
{
    int w = sasl_response_line_write(SASL_PAYLOAD_DATA, m, n, lbuf, sizeof lbuf, NULL);
    if (w < 0 || (size_t)w > sizeof lbuf || (size_t)w > lim.max_line + 2 || n > lim.max_message)
        return;
    size_t cuts[MAX_CUTS];
    fuzz_rng rng = fuzz_rng_from(seed, seed_n);
    size_t ncuts = fuzz_split_points(&rng, (size_t)w, cuts, MAX_CUTS);
    size_t scanned = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t avail = c < ncuts ? cuts[c] : (size_t)w;
        sasl_payload p;
        int r = sasl_response_line_parse(lbuf, avail, MR_STRICT, &lim, &scanned, dec_grown,
                                         sizeof dec_grown, &p, NULL);
        if (c < ncuts) {
            FUZZ_CHECK(r == MR_NEED_MORE);
            continue;
        }
        FUZZ_CHECK(r == w);
        FUZZ_CHECK(p.len == n && memcmp(dec_grown, m, n) == 0);
    }
}

/* ---- payload framing, names, escapes, redaction ---------------------------------------- */

static void fuzz_payload(const char *m, size_t n, unsigned sel)
{
    sasl_payload_role role = (sasl_payload_role)(sel % 3);
    sasl_payload p[2];
    int r[2];
    for (int mode = 0; mode < 2; mode++) {
        mr_error e;
        r[mode] = sasl_payload_decode(m, n, role, (mr_mode)mode, dec_whole, sizeof dec_whole,
                                      &p[mode], &e);
        check_err(r[mode], &e, n);
        if (r[mode] != 0)
            continue;
        FUZZ_CHECK(p[mode].raw.p == m && p[mode].raw.n == n);
        const void *data = p[mode].kind == SASL_PAYLOAD_TEXT ? (const void *)m : dec_whole;
        size_t dn = p[mode].kind == SASL_PAYLOAD_TEXT ? n : p[mode].len;
        int w = sasl_payload_write(role, p[mode].kind, data, dn, wbuf, sizeof wbuf, NULL);
        FUZZ_CHECK(w >= 0);
        sasl_payload again;
        FUZZ_CHECK(sasl_payload_decode(wbuf, (size_t)w, role, (mr_mode)mode, dec_grown,
                                       sizeof dec_grown, &again, NULL) == 0);
        FUZZ_CHECK(again.kind == p[mode].kind && again.len == p[mode].len);
        FUZZ_CHECK(memcmp(dec_grown, dec_whole, p[mode].len) == 0);
        if (p[mode].kind == SASL_PAYLOAD_TEXT)
            FUZZ_CHECK((size_t)w == n && memcmp(wbuf, m, n) == 0);
    }
    if (r[MR_STRICT] == 0) {
        FUZZ_CHECK(r[MR_LENIENT] == 0);
        sasl_payload l2;
        char tmp[MAX_MSG];
        FUZZ_CHECK(sasl_payload_decode(m, n, role, MR_LENIENT, tmp, sizeof tmp, &l2, NULL) == 0);
        FUZZ_CHECK(l2.kind == p[MR_STRICT].kind && l2.len == p[MR_STRICT].len);
    }
}

static void fuzz_mech_name(const char *m, size_t n)
{
    mr_slice s = {m, n};
    sasl_mech mech = sasl_mech_lookup(s);
    int strict = sasl_mech_name_check(s, MR_STRICT, NULL);
    int lenient = sasl_mech_name_check(s, MR_LENIENT, NULL);
    if (strict == 0)
        FUZZ_CHECK(lenient == 0);
    if (mech != SASL_MECH_UNKNOWN) {
        FUZZ_CHECK(lenient == 0 && mr_slice_eq_ci(s, sasl_mech_name(mech)));
    }
}

static void fuzz_escapes(const char *m, size_t n)
{
    mr_slice s = {m, n};
    int d = sasl_gs2_name_decode(s, wbuf, sizeof wbuf, NULL);
    if (d >= 0) {
        mr_slice dec = {wbuf, (size_t)d};
        int e = sasl_gs2_name_encode(dec, wbuf2, sizeof wbuf2, NULL);
        FUZZ_CHECK(e == MR_ERROR || (size_t)e <= sizeof wbuf2);
        if (e >= 0) { /* fails only for a NUL in the name */
            int d2 = sasl_gs2_name_decode((mr_slice){wbuf2, (size_t)e}, rbuf1, sizeof rbuf1, NULL);
            FUZZ_CHECK(d2 == d && memcmp(rbuf1, wbuf, (size_t)d) == 0);
        }
    }
    int e = sasl_json_escape(s, wbuf, sizeof wbuf, NULL);
    FUZZ_CHECK(e >= 0 && (size_t)e <= sizeof wbuf);
    int u = sasl_json_unescape((mr_slice){wbuf, (size_t)e}, wbuf2, sizeof wbuf2, NULL);
    FUZZ_CHECK(u >= 0 && (size_t)u == n && memcmp(wbuf2, m, n) == 0);
    u = sasl_json_unescape(s, wbuf, sizeof wbuf, NULL);
    if (u >= 0)
        FUZZ_CHECK((size_t)u <= n);
}

static void fuzz_redact(const char *m, size_t n, const uint8_t *sel)
{
    sasl_mech mech = (sasl_mech)(sel[0] % (SASL_MECH__COUNT + 1));
    unsigned step = sel[1] % 3;
    int b64 = sel[1] & 4 ? 1 : 0;
    for (int style = 0; style < 2; style++) {
        int r = sasl_redact(mech, step, m, n, b64, (sasl_redact_style)style, rbuf1, sizeof rbuf1);
        FUZZ_CHECK(r >= 0 && (size_t)r <= sizeof rbuf1);
        FUZZ_CHECK(sasl_redact(mech, step, m, n, b64, (sasl_redact_style)style, NULL, 0) == r);
        int small = sasl_redact(mech, step, m, n, b64, (sasl_redact_style)style, rbuf2, 7);
        FUZZ_CHECK(small == r);
        if (style == SASL_REDACT_SUMMARY)
            for (int i = 0; i < r; i++)
                FUZZ_CHECK((unsigned char)rbuf1[i] >= 0x20 && (unsigned char)rbuf1[i] < 0x7F);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *m = (const char *)data + 1;
    size_t n = size - 1 < MAX_MSG ? size - 1 : MAX_MSG;
    switch (data[0] % T__COUNT) {
    case T_PLAIN:
        fuzz_plain(m, n);
        break;
    case T_LOGIN_CHALLENGE:
    case T_LOGIN_RESPONSE:
        fuzz_login(m, n);
        break;
    case T_CRAM_CHALLENGE:
    case T_CRAM_RESPONSE:
        fuzz_cram(m, n);
        break;
    case T_XOAUTH2:
        fuzz_xoauth2(m, n);
        break;
    case T_OAUTHBEARER:
        fuzz_oauthbearer(m, n);
        break;
    case T_OAUTH_ERROR:
        fuzz_oauth_error(m, n);
        break;
    case T_RESPONSE_LINES:
        fuzz_lines(data, size, m, n, MR_STRICT, 1);
        fuzz_lines(data, size, m, n, MR_LENIENT, 0);
        return 0;
    case T_PAYLOAD:
        if (n < 1)
            return 0;
        fuzz_payload(m + 1, n - 1, (unsigned char)m[0]);
        return 0;
    case T_MECH_NAME:
        fuzz_mech_name(m, n);
        return 0;
    case T_ESCAPES:
        fuzz_escapes(m, n);
        return 0;
    case T_REDACT:
        if (n < 2)
            return 0;
        fuzz_redact(m + 2, n - 2, (const uint8_t *)m);
        return 0;
    default:
        fuzz_all(m, n);
        break;
    }
    fuzz_wrapped(data, size, m, n);
    return 0;
}
