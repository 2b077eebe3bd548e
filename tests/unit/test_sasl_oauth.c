/* test_sasl_oauth.c -- proto/sasl_oauth.c: XOAUTH2, OAUTHBEARER (RFC 7628), the GS2 header
 * (RFC 5801) and the JSON error challenge, both directions. Vectors: RFC 7628 section 4,
 * Google's and Microsoft's XOAUTH2 documentation. */
#include "tests/unit/sasl_support.h"

#include "proto/base64.h"
#include "proto/sasl_oauth.h"

#define A "\x01"
#define MSG(lit) (lit), sizeof(lit) - 1

/* Google's XOAUTH2 example, and Microsoft's (Exchange Online IMAP/POP/SMTP OAuth doc). */
static const char google_x2[] = "user=someuser@example.com" A
                                "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg" A A;
static const char google_x2_b64[] = "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZG"
                                    "OWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==";
static const char ms_x2[] = "user=test@contoso.onmicrosoft.com" A
                            "auth=Bearer EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA" A A;
/* RFC 7628 section 4.1 */
static const char rfc_ob[] = "n,a=user@example.com," A "host=server.example.com" A "port=143" A
                             "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==" A A;
static const char rfc_ob_b64[] = "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAX"
                                 "BvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSF"
                                 "JoZG1semRHRXVZMjl0Q2c9PQEB";
/* RFC 7628 section 4.3, and Google's XOAUTH2 failure (which ends in LF) */
static const char rfc_err[] = "{\"status\":\"invalid_token\",\"scope\":\"example_scope\","
                              "\"openid-configuration\":\"https://example.com/.well-known/"
                              "openid-configuration\"}";
static const char rfc_err_b64[] = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb"
                                  "3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY2"
                                  "9tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=";
static const char google_err[] =
    "{\"status\":\"401\",\"schemes\":\"bearer mac\",\"scope\":\"https://mail.google.com/\"}\n";
static const char google_err_b64[] = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3Bl"
                                     "IjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K";

/* The RFC and vendor vectors are quoted in base64; check our decoded copies against them. */
static void vectors_match_their_base64(void **state)
{
    (void)state;
    static const struct {
        const char *plain, *b64;
        size_t n;
    } v[] = {
        {google_x2, google_x2_b64, sizeof google_x2 - 1},
        {rfc_ob, rfc_ob_b64, sizeof rfc_ob - 1},
        {rfc_err, rfc_err_b64, sizeof rfc_err - 1},
        {google_err, google_err_b64, sizeof google_err - 1},
    };
    for (size_t i = 0; i < 4; i++) {
        char out[512];
        int n = b64_decode(v[i].b64, strlen(v[i].b64), out, sizeof out, B64_STRICT, NULL);
        assert_int_equal(n, v[i].n);
        assert_memory_equal(out, v[i].plain, v[i].n);
    }
}

/* ---- XOAUTH2 ------------------------------------------------------------------------------ */

typedef struct x2_ctx {
    mr_mode mode;
    sasl_limits lim;
    sasl_xoauth2 m;
    mr_error err;
} x2_ctx;

static int x2_step(void *vctx, const char *msg, size_t n)
{
    x2_ctx *c = vctx;
    return sasl_xoauth2_parse(msg, n, c->mode, &c->lim, &c->m, &c->err);
}

#define X2(c, lit) run_msg(x2_step, (c), (lit), sizeof(lit) - 1)

static void xoauth2_examples(void **state)
{
    (void)state;
    x2_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    assert_int_equal(X2(&c, google_x2), 0);
    assert_false(c.m.dummy);
    assert_slice_lit(c.m.user, "someuser@example.com");
    assert_slice_lit(c.m.auth.scheme, "Bearer");
    assert_slice_lit(c.m.auth.token, "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    assert_int_equal(c.m.nextra, 0);
    assert_int_equal(X2(&c, ms_x2), 0);
    assert_slice_lit(c.m.user, "test@contoso.onmicrosoft.com");
    /* an Entra ID JWT, and the scheme in lower case (RFC 7628 section 4: case-insensitive) */
    assert_int_equal(X2(&c, "user=tony@contoso.com" A
                            "auth=bearer eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln-_~+/=" A A),
                     0);
    assert_slice_lit(c.m.auth.scheme, "bearer");
    assert_slice_lit(c.m.auth.token, "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln-_~+/=");
    /* the reply to an error challenge is an empty message */
    assert_int_equal(X2(&c, ""), 0);
    assert_true(c.m.dummy);
}

static void xoauth2_errors(void **state)
{
    (void)state;
    x2_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    assert_int_equal(X2(&c, "auth=Bearer x" A "user=u" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "user", 0);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer x" A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvsep", 21);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer x"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvsep", 20);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer x" A A "junk"), MR_ERROR);
    assert_err(&c.err, MR_E_TRAILING, "client-resp", 22);
    assert_int_equal(X2(&c, "user=" A "auth=Bearer x" A A), MR_ERROR);
    assert_err(&c.err, MR_E_EMPTY, "user", 5);
    assert_int_equal(X2(&c, "user=u" A "auth=Basic dTpw" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "credentials", 12);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "credentials", 18);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer " A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "b64token", 19);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer a b" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "b64token", 20);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer a==b" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "b64token", 22);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer a!" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "b64token", 20);
    assert_int_equal(X2(&c, "user=u" A "Auth=Bearer x" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "auth", 7);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer x" A "foo=bar" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvsep", 21);
    assert_int_equal(X2(&c, "us3r=u" A "auth=Bearer x" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "key", 2);
    assert_int_equal(X2(&c, "=u" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "key", 0);
    assert_int_equal(X2(&c, "user"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvpair", 4);
    assert_int_equal(X2(&c, "user=u\x02" A "auth=Bearer x" A A), MR_ERROR);
    assert_err(&c.err, MR_E_CTL, "value", 6);
    assert_int_equal(X2(&c, "user=u\0" A "auth=Bearer x" A A), MR_ERROR);
    assert_err(&c.err, MR_E_NUL, "value", 6);
    assert_int_equal(X2(&c, "user=j\xc3\xb6rg" A "auth=Bearer x" A A), MR_ERROR);
    assert_err(&c.err, MR_E_8BIT, "value", 6);
    assert_int_equal(X2(&c, "user=u" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "auth", 8);
}

static void xoauth2_lenient(void **state)
{
    (void)state;
    x2_ctx c = {.mode = MR_LENIENT, .lim = sasl_limits_default()};
    /* missing terminators, as some clients send */
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer x" A), 0);
    assert_slice_lit(c.m.auth.token, "x");
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer x"), 0);
    assert_slice_lit(c.m.auth.token, "x");
    /* any order, any case, extra pairs kept */
    assert_int_equal(X2(&c, "AUTH=bearer t" A "User=u" A "foo=bar" A A), 0);
    assert_slice_lit(c.m.user, "u");
    assert_int_equal(c.m.nextra, 1);
    assert_slice_lit(c.m.extra[0].key, "foo");
    assert_slice_lit(c.m.extra[0].value, "bar");
    assert_int_equal(X2(&c, "user=j\xc3\xb6rg" A "auth=Bearer x" A A), 0);
    assert_int_equal(X2(&c, "user=u" A "auth=Basic dTpw" A A), 0);
    assert_slice_lit(c.m.auth.scheme, "Basic");
    assert_int_equal(X2(&c, "auth=Bearer x" A A), 0);
    assert_null(c.m.user.p);
    assert_int_equal(X2(&c, "user=" A "auth=Bearer x" A A), 0);
    assert_non_null(c.m.user.p);
    assert_int_equal(c.m.user.n, 0);
    /* still refused: duplicates, bad tokens, missing auth */
    assert_int_equal(X2(&c, "user=u" A "USER=v" A "auth=Bearer x" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvpair", 7);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer x" A "auth=Bearer y" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvpair", 21);
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer a b" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "b64token", 20);
    assert_int_equal(X2(&c, "user=u"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "auth", 6);
}

static void xoauth2_limits(void **state)
{
    (void)state;
    x2_ctx c = {.mode = MR_LENIENT, .lim = sasl_limits_default()};
    char msg[10000];
    memcpy(msg, "user=", 5);
    memset(msg + 5, 'u', 256);
    memcpy(msg + 261, A "auth=Bearer x" A A, 16);
    assert_int_equal(run_msg(x2_step, &c, msg, 277), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "user", 260);
    memcpy(msg, "user=u" A "auth=Bearer ", 19);
    memset(msg + 19, 't', 8193);
    memcpy(msg + 19 + 8193, A A, 2);
    assert_int_equal(run_msg(x2_step, &c, msg, 19 + 8193 + 2), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "b64token", 19 + 8192);
    assert_int_equal(run_msg(x2_step, &c, msg + 1, 19 + 8192 + 1), MR_ERROR); /* "ser=u..." */
    assert_int_equal(run_msg(x2_step, &c, msg, 19 + 8192), 0); /* lenient: no terminators */
    memcpy(msg + 19 + 8192, A A, 2);
    assert_int_equal(run_msg(x2_step, &c, msg, 19 + 8192 + 2), 0);
    c.lim.max_pairs = 3;
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer t" A "a=1" A "b=2" A A), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_COUNT, "kvpair", 25);
    c.lim = sasl_limits_default();
    assert_int_equal(X2(&c, "auth=Bearer t" A "a=1" A "b=2" A "c=3" A "d=4" A "e=5" A "f=6" A
                            "g=7" A "h=8" A A),
                     0);
    assert_int_equal(c.m.nextra, 8);
    assert_int_equal(X2(&c, "auth=Bearer t" A "a=1" A "b=2" A "c=3" A "d=4" A "e=5" A "f=6" A
                            "g=7" A "h=8" A "i=9" A A),
                     MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_COUNT, "kvpair", 46);
    c.lim.max_message = 10;
    assert_int_equal(X2(&c, "user=u" A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "message", 10);
}

static int x2_same(const sasl_xoauth2 *a, const sasl_xoauth2 *b)
{
    if (a->dummy != b->dummy || !slice_same(a->user, b->user) || a->nextra != b->nextra ||
        !slice_same(a->auth.scheme, b->auth.scheme) || !slice_same(a->auth.token, b->auth.token))
        return 0;
    for (size_t k = 0; k < a->nextra; k++)
        if (!slice_same(a->extra[k].key, b->extra[k].key) ||
            !slice_same(a->extra[k].value, b->extra[k].value))
            return 0;
    return 1;
}

static void xoauth2_write(void **state)
{
    (void)state;
    char out[256];
    mr_error e;
    sasl_xoauth2 m = {0};
    m.user = SL("someuser@example.com");
    m.auth.scheme = SL("Bearer");
    m.auth.token = SL("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    int n = sasl_xoauth2_write(&m, out, sizeof out, &e);
    assert_int_equal(n, sizeof google_x2 - 1);
    assert_memory_equal(out, google_x2, (size_t)n);
    char b64[256];
    assert_int_equal(b64_encode(out, (size_t)n, b64, sizeof b64, NULL), strlen(google_x2_b64));
    assert_memory_equal(b64, google_x2_b64, strlen(google_x2_b64));
    m.user = SL("u" A);
    assert_int_equal(sasl_xoauth2_write(&m, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_CTL, "value", 1);
    m.user = SL("u");
    m.auth.scheme = SL("");
    assert_int_equal(sasl_xoauth2_write(&m, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "credentials", 0);
    m.auth.scheme = SL("Bearer");
    m.auth.token = SL("a b");
    assert_int_equal(sasl_xoauth2_write(&m, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "b64token", 1);
    m.auth.token = SL("t");
    m.nextra = 1;
    m.extra[0] = (sasl_kv){SL("Auth"), SL("x")};
    assert_int_equal(sasl_xoauth2_write(&m, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "key", 0);
    m.extra[0] = (sasl_kv){SL("x1"), SL("x")};
    assert_int_equal(sasl_xoauth2_write(&m, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "key", 1);
    sasl_xoauth2 d = {.dummy = 1};
    assert_int_equal(sasl_xoauth2_write(&d, out, sizeof out, &e), 0);
    /* round trips of parsed messages, in the mode they were parsed in */
    static const struct {
        const char *msg;
        size_t n;
        mr_mode mode;
    } items[] = {
        {MSG(google_x2), MR_STRICT},
        {MSG(ms_x2), MR_STRICT},
        {MSG(""), MR_STRICT},
        {MSG("AUTH=bearer t" A "User=u" A "foo=bar" A "q=" A A), MR_LENIENT},
        {MSG("auth=Bearer x"), MR_LENIENT},
        {MSG("user=" A "auth=" A A), MR_LENIENT},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        x2_ctx a = {.mode = items[i].mode, .lim = sasl_limits_default()};
        x2_ctx b = a;
        assert_int_equal(run_msg(x2_step, &a, items[i].msg, items[i].n), 0);
        n = sasl_xoauth2_write(&a.m, out, sizeof out, &e);
        assert_true(n >= 0);
        assert_int_equal(run_msg(x2_step, &b, out, (size_t)n), 0);
        assert_true(x2_same(&a.m, &b.m));
    }
}

/* ---- GS2 names ---------------------------------------------------------------------------- */

static void gs2_names(void **state)
{
    (void)state;
    char out[32];
    mr_error e;
    assert_int_equal(sasl_gs2_name_encode(SL("a,b=c@x"), out, sizeof out, &e), 11);
    assert_memory_equal(out, "a=2Cb=3Dc@x", 11);
    assert_int_equal(sasl_gs2_name_decode(SL("a=2Cb=3Dc@x"), out, sizeof out, &e), 7);
    assert_memory_equal(out, "a,b=c@x", 7);
    assert_int_equal(sasl_gs2_name_decode(SL("a=2cb"), out, sizeof out, &e), 3);
    assert_memory_equal(out, "a,b", 3);
    assert_int_equal(sasl_gs2_name_decode(SL("a=2"), out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "saslname", 1);
    assert_int_equal(sasl_gs2_name_decode(SL("a=41"), out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "saslname", 1);
    assert_int_equal(sasl_gs2_name_decode(SL("a,b"), out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "saslname", 1);
    assert_int_equal(sasl_gs2_name_encode((mr_slice){"a\0b", 3}, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_NUL, "saslname", 1);
    assert_int_equal(sasl_gs2_name_encode(SL("=,="), NULL, 0, &e), 9);
}

/* ---- OAUTHBEARER -------------------------------------------------------------------------- */

typedef struct ob_ctx {
    mr_mode mode;
    sasl_limits lim;
    sasl_oauthbearer m;
    mr_error err;
} ob_ctx;

static int ob_step(void *vctx, const char *msg, size_t n)
{
    ob_ctx *c = vctx;
    return sasl_oauthbearer_parse(msg, n, c->mode, &c->lim, &c->m, &c->err);
}

#define OB(c, lit) run_msg(ob_step, (c), (lit), sizeof(lit) - 1)

static void oauthbearer_rfc7628(void **state)
{
    (void)state;
    ob_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    assert_int_equal(OB(&c, rfc_ob), 0);
    assert_false(c.m.dummy);
    assert_int_equal(c.m.gs2.cbflag, 'n');
    assert_false(c.m.gs2.nonstd);
    assert_slice_lit(c.m.gs2.authzid, "user@example.com");
    assert_slice_lit(c.m.host, "server.example.com");
    assert_slice_lit(c.m.port, "143");
    assert_int_equal(c.m.port_num, 143);
    assert_slice_lit(c.m.auth.scheme, "Bearer");
    assert_slice_lit(c.m.auth.token, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
    assert_int_equal(c.m.nextra, 0);
    /* section 4.2: SMTP on 587 */
    assert_int_equal(OB(&c, "n,a=user@example.com," A "host=server.example.com" A "port=587" A
                            "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==" A A),
                     0);
    assert_int_equal(c.m.port_num, 587);
    /* section 3.2.3: the client's reply to an error challenge */
    assert_int_equal(OB(&c, A), 0);
    assert_true(c.m.dummy);
    /* the minimum: no authzid, no host or port */
    assert_int_equal(OB(&c, "n,," A "auth=Bearer t" A A), 0);
    assert_null(c.m.gs2.authzid.p);
    assert_null(c.m.host.p);
    assert_null(c.m.port.p);
    assert_int_equal(c.m.port_num, 0);
    assert_int_equal(OB(&c, "y,," A "auth=Bearer t" A A), 0);
    assert_int_equal(c.m.gs2.cbflag, 'y');
    /* an escaped authzid; extension keys are kept (section 3.1: servers ignore them) */
    assert_int_equal(OB(&c, "n,a=a=2Cb=3Dc," A "auth=Bearer t" A "mthd=POST" A "path=/x" A A), 0);
    assert_slice_lit(c.m.gs2.authzid, "a=2Cb=3Dc");
    assert_int_equal(c.m.nextra, 2);
    assert_slice_lit(c.m.extra[1].key, "path");
    assert_slice_lit(c.m.extra[1].value, "/x");
    /* value = *(VCHAR / SP / HTAB / CR / LF) */
    assert_int_equal(OB(&c, "n,," A "host=a b\t\r\n" A "auth=Bearer t" A A), 0);
    assert_slice_lit(c.m.host, "a b\t\r\n");
    assert_int_equal(OB(&c, "n,," A "port=080" A "auth=Bearer t" A A), 0);
    assert_int_equal(c.m.port_num, 80);
}

static void oauthbearer_errors(void **state)
{
    (void)state;
    ob_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    assert_int_equal(OB(&c, ""), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "gs2-cb-flag", 0);
    assert_int_equal(OB(&c, "p=tls-unique,," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "gs2-cb-flag", 0);
    assert_int_equal(OB(&c, "F,n,," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "gs2-header", 0);
    assert_int_equal(OB(&c, "x,," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "gs2-cb-flag", 0);
    assert_int_equal(OB(&c, "n;," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "gs2-header", 1);
    assert_int_equal(OB(&c, "n," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "gs2-header", 2);
    assert_int_equal(OB(&c, "n,a=," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "saslname", 4);
    assert_int_equal(OB(&c, "n,a=a=2cb," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "saslname", 5);
    assert_int_equal(OB(&c, "n,a=a=xx," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "saslname", 5);
    assert_int_equal(OB(&c, "n,a=u" A "x," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_CTL, "saslname", 5);
    assert_int_equal(OB(&c, "n,a=j\xf6rg," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_UTF8, "saslname", 5);
    assert_int_equal(OB(&c, "n,a=user"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "gs2-header", 8);
    assert_int_equal(OB(&c, "n,a=user,"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvsep", 9);
    /* KAFKA-7182: no kvsep after the header */
    assert_int_equal(OB(&c, "n,,auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvsep", 3);
    assert_int_equal(OB(&c, "n,," A "host=h" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "auth", 12);
    assert_int_equal(OB(&c, "n,," A "port=65536" A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "port", 9);
    assert_int_equal(OB(&c, "n,," A "port=" A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "port", 9);
    assert_int_equal(OB(&c, "n,," A "port=000143" A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "port", 9);
    assert_int_equal(OB(&c, "n,," A "host=a" A "host=b" A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvpair", 11);
    assert_int_equal(OB(&c, "n,," A "port=1" A "port=1" A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvpair", 11);
    assert_int_equal(OB(&c, "n,," A "auth=Bearer t" A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvpair", 18);
    assert_int_equal(OB(&c, "n,," A "Host=a" A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "key", 4);
    assert_int_equal(OB(&c, "n,," A "auth=" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "credentials", 9);
    assert_int_equal(OB(&c, "n,," A "auth=Bearer t" A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvsep", 18);
    assert_int_equal(OB(&c, "n,," A "auth=Bearer t" A A A), MR_ERROR);
    assert_err(&c.err, MR_E_TRAILING, "client-resp", 19);
    assert_int_equal(OB(&c, A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "gs2-cb-flag", 0);
}

static void oauthbearer_lenient(void **state)
{
    (void)state;
    ob_ctx c = {.mode = MR_LENIENT, .lim = sasl_limits_default()};
    assert_int_equal(OB(&c, "p=tls-unique,," A "auth=Bearer t" A A), 0);
    assert_int_equal(c.m.gs2.cbflag, 'p');
    assert_slice_lit(c.m.gs2.cbname, "tls-unique");
    assert_int_equal(OB(&c, "F,n,," A "auth=Bearer t" A A), 0);
    assert_true(c.m.gs2.nonstd);
    assert_int_equal(OB(&c, "n,,auth=Bearer t" A A), 0); /* KAFKA-7182 */
    assert_slice_lit(c.m.auth.token, "t");
    assert_int_equal(OB(&c, "n,a=a=2cb," A "Host=h" A "AUTH=Bearer t"), 0);
    assert_slice_lit(c.m.host, "h");
    assert_int_equal(OB(&c, "n,," A "auth=" A A), 0); /* PostgreSQL's discovery request */
    assert_int_equal(c.m.auth.scheme.n + c.m.auth.token.n, 0);
    assert_int_equal(OB(&c, "p=,," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "cb-name", 2);
    assert_int_equal(OB(&c, "p,," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "gs2-cb-flag", 1);
    assert_int_equal(OB(&c, "n,,"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "kvsep", 3);
}

static void oauthbearer_limits(void **state)
{
    (void)state;
    ob_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    char msg[600];
    memcpy(msg, "n,a=", 4);
    memset(msg + 4, 'u', 256);
    memcpy(msg + 260, "," A "auth=Bearer t" A A, 17);
    assert_int_equal(run_msg(ob_step, &c, msg, 277), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "saslname", 259);
    memcpy(msg, "n,," A "host=", 9);
    memset(msg + 9, 'h', 256);
    memcpy(msg + 265, A "auth=Bearer t" A A, 16);
    assert_int_equal(run_msg(ob_step, &c, msg, 281), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "host", 264);
    memcpy(msg, "n,," A "x", 5);
    memset(msg + 5, 'k', 300);
    assert_int_equal(run_msg(ob_step, &c, msg, 305), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "key", 259);
    /* an unknown key's value is bounded too, by max_token + 64 (room for the auth value) or
     * max_field, whichever is larger */
    c.lim.max_token = 300;
    memcpy(msg, "n,," A "auth=Bearer t" A "x=", 20);
    memset(msg + 20, 'v', 365);
    memcpy(msg + 385, A A, 2);
    assert_int_equal(run_msg(ob_step, &c, msg, 387), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "value", 20 + 364);
    assert_int_equal(run_msg(ob_step, &c, msg + 1, 386), MR_ERROR); /* ",,^A...": no cb flag */
    memcpy(msg + 384, A A, 2);
    assert_int_equal(run_msg(ob_step, &c, msg, 386), 0);
    assert_int_equal(c.m.extra[0].value.n, 364);
    c.lim = sasl_limits_default();
    c.lim.max_pairs = 2;
    assert_int_equal(OB(&c, "n,," A "host=h" A "port=1" A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_COUNT, "kvpair", 18);
    c.lim = sasl_limits_default();
    c.lim.max_message = 8;
    assert_int_equal(OB(&c, "n,," A "auth=Bearer t" A A), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "message", 8);
    c.lim.max_message = 1;
    assert_int_equal(OB(&c, A), 0);
}

static int ob_same(const sasl_oauthbearer *a, const sasl_oauthbearer *b)
{
    if (a->dummy != b->dummy || a->gs2.nonstd != b->gs2.nonstd ||
        a->gs2.cbflag != b->gs2.cbflag || !slice_same(a->gs2.cbname, b->gs2.cbname) ||
        !slice_same(a->gs2.authzid, b->gs2.authzid) || !slice_same(a->host, b->host) ||
        !slice_same(a->port, b->port) || a->port_num != b->port_num ||
        !slice_same(a->auth.scheme, b->auth.scheme) ||
        !slice_same(a->auth.token, b->auth.token) || a->nextra != b->nextra)
        return 0;
    for (size_t k = 0; k < a->nextra; k++)
        if (!slice_same(a->extra[k].key, b->extra[k].key) ||
            !slice_same(a->extra[k].value, b->extra[k].value))
            return 0;
    return 1;
}

static void oauthbearer_write(void **state)
{
    (void)state;
    char out[256];
    mr_error e;
    sasl_oauthbearer m = {0};
    m.gs2.cbflag = 'n';
    m.gs2.authzid = SL("user@example.com");
    m.host = SL("server.example.com");
    m.port = SL("143");
    m.auth.scheme = SL("Bearer");
    m.auth.token = SL("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
    int n = sasl_oauthbearer_write(&m, out, sizeof out, &e);
    assert_int_equal(n, sizeof rfc_ob - 1);
    assert_memory_equal(out, rfc_ob, (size_t)n);
    char b64[256];
    assert_int_equal(b64_encode(out, (size_t)n, b64, sizeof b64, NULL), strlen(rfc_ob_b64));
    assert_memory_equal(b64, rfc_ob_b64, strlen(rfc_ob_b64));
    sasl_oauthbearer d = {.dummy = 1};
    assert_int_equal(sasl_oauthbearer_write(&d, out, sizeof out, &e), 1);
    assert_memory_equal(out, A, 1);
    sasl_oauthbearer bad = m;
    bad.gs2.cbflag = 'x';
    assert_int_equal(sasl_oauthbearer_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "gs2-cb-flag", 0);
    bad = m;
    bad.gs2.cbflag = 'p';
    assert_int_equal(sasl_oauthbearer_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "cb-name", 0);
    bad = m;
    bad.gs2.authzid = SL("a,b");
    assert_int_equal(sasl_oauthbearer_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "saslname", 0);
    bad.gs2.authzid = SL("");
    assert_int_equal(sasl_oauthbearer_write(&bad, out, sizeof out, &e), MR_ERROR);
    bad = m;
    bad.gs2.cbflag = 'p';
    bad.gs2.cbname = SL("tls unique");
    assert_int_equal(sasl_oauthbearer_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "cb-name", 3);
    bad = m;
    bad.auth.scheme = SL("Bea rer");
    assert_int_equal(sasl_oauthbearer_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "credentials", 3);
    bad = m;
    bad.nextra = 1;
    bad.extra[0] = (sasl_kv){SL(""), SL("v")};
    assert_int_equal(sasl_oauthbearer_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "key", 0);
    bad = m;
    bad.port = SL("14x");
    assert_int_equal(sasl_oauthbearer_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "port", 0);
    bad = m;
    bad.nextra = 1;
    bad.extra[0] = (sasl_kv){SL("host"), SL("again")};
    assert_int_equal(sasl_oauthbearer_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "key", 0);
    bad.nextra = SASL_OAUTH_MAX_EXTRA + 1;
    assert_int_equal(sasl_oauthbearer_write(&bad, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_LIMIT_COUNT, "kvpair", 0);
    /* round trips */
    static const struct {
        const char *msg;
        size_t n;
        mr_mode mode;
    } items[] = {
        {MSG(rfc_ob), MR_STRICT},
        {MSG(A), MR_STRICT},
        {MSG("y,a=a=2Cb=3Dc," A "auth=Bearer t" A "mthd=POST" A "path=/x" A A), MR_STRICT},
        {MSG("F,p=tls-exporter,," A "AUTH=bearer t" A "Port=0" A "q=" A), MR_LENIENT},
        {MSG("n,,auth=" A), MR_LENIENT},
        {MSG("n,a=a=2cb=3dc," A "auth=Bearer t" A A), MR_LENIENT}, /* fuzz regression */
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        ob_ctx a = {.mode = items[i].mode, .lim = sasl_limits_default()};
        ob_ctx b = a;
        if (run_msg(ob_step, &a, items[i].msg, items[i].n) != 0)
            fail_msg("item %zu: %s at %zu", i, a.err.rule, a.err.offset);
        n = sasl_oauthbearer_write(&a.m, out, sizeof out, &e);
        assert_true(n > 0);
        assert_int_equal(run_msg(ob_step, &b, out, (size_t)n), 0);
        assert_true(ob_same(&a.m, &b.m));
    }
}

/* ---- the error challenge ------------------------------------------------------------------ */

typedef struct err_ctx {
    mr_mode mode;
    sasl_limits lim;
    sasl_oauth_error m;
    mr_error err;
} err_ctx;

static int err_step(void *vctx, const char *msg, size_t n)
{
    err_ctx *c = vctx;
    return sasl_oauth_error_parse(msg, n, c->mode, &c->lim, &c->m, &c->err);
}

#define JE(c, lit) run_msg(err_step, (c), (lit), sizeof(lit) - 1)

static void error_challenges(void **state)
{
    (void)state;
    err_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    assert_int_equal(JE(&c, rfc_err), 0);
    assert_slice_lit(c.m.status, "invalid_token");
    assert_slice_lit(c.m.scope, "example_scope");
    assert_slice_lit(c.m.openid_configuration,
                     "https://example.com/.well-known/openid-configuration");
    assert_null(c.m.schemes.p);
    assert_int_equal(c.m.nother, 0);
    assert_int_equal(JE(&c, google_err), 0);
    assert_slice_lit(c.m.status, "401");
    assert_slice_lit(c.m.schemes, "bearer mac");
    assert_slice_lit(c.m.scope, "https://mail.google.com/");
    assert_null(c.m.openid_configuration.p);
    /* whitespace, escapes kept raw, other members skipped */
    assert_int_equal(JE(&c, " {\r\n \"status\" : \"400\" ,\t\"scope\":\"https:\\/\\/x\\/\","
                            "\"error_description\":\"a \\\"b\\\" \\u00e9\",\"n\":-1.5e+3,"
                            "\"ok\":true,\"f\":false,\"z\":null,\"zero\":0} \n"),
                     0);
    assert_slice_lit(c.m.status, "400");
    assert_slice_lit(c.m.scope, "https:\\/\\/x\\/");
    assert_int_equal(c.m.nother, 6);
    assert_int_equal(JE(&c, "{\"status\":\"\"}"), 0);
    assert_non_null(c.m.status.p);
    assert_int_equal(c.m.status.n, 0);
}

static void error_challenge_errors(void **state)
{
    (void)state;
    err_ctx c = {.mode = MR_STRICT, .lim = sasl_limits_default()};
    assert_int_equal(JE(&c, ""), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-object", 0);
    assert_int_equal(JE(&c, "[]"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-object", 0);
    assert_int_equal(JE(&c, "{\"status\":\"x\""), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-object", 13);
    assert_int_equal(JE(&c, "{\"status\":\"x\" ]"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-object", 14);
    assert_int_equal(JE(&c, "{\"status\":\"x\",}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-string", 14);
    assert_int_equal(JE(&c, "{\"status\" \"x\"}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "member", 10);
    assert_int_equal(JE(&c, "{\"status\":x}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-value", 10);
    assert_int_equal(JE(&c, "{\"status\":\"a\\q\"}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-string", 12);
    assert_int_equal(JE(&c, "{\"status\":\"a\\u00\"}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-string", 12);
    assert_int_equal(JE(&c, "{\"status\":\"a\nb\"}"), MR_ERROR);
    assert_err(&c.err, MR_E_CTL, "json-string", 12);
    assert_int_equal(JE(&c, "{\"status\":\"abc"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-string", 14);
    assert_int_equal(JE(&c, "{\"status\":\"x\"} x"), MR_ERROR);
    assert_err(&c.err, MR_E_TRAILING, "json-object", 15);
    assert_int_equal(JE(&c, "{\"status\":\"x\",\"detail\":{\"a\":1}}"), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_DEPTH, "json-value", 23);
    assert_int_equal(JE(&c, "{\"status\":\"x\",\"scopes\":[\"a\"]}"), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_DEPTH, "json-value", 23);
    assert_int_equal(JE(&c, "{\"status\":\"a\",\"status\":\"b\"}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "member", 14);
    assert_int_equal(JE(&c, "{\"scope\":\"x\"}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "status", 12);
    assert_int_equal(JE(&c, "{\"status\":401}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-string", 10);
    assert_int_equal(JE(&c, "{\"status\":\"x\",\"n\":01}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-value", 18);
    assert_int_equal(JE(&c, "{\"status\":\"x\",\"n\":-}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-value", 18);
    assert_int_equal(JE(&c, "{\"status\":\"x\",\"n\":1.}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-value", 20);
    assert_int_equal(JE(&c, "{\"status\":\"x\",\"n\":1e}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-value", 20);
    assert_int_equal(JE(&c, "{\"status\":\"x\",\"b\":tru}"), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-value", 18);
    assert_int_equal(JE(&c, "{\"status\":\"caf\xe9\"}"), MR_ERROR);
    assert_err(&c.err, MR_E_UTF8, "json-string", 14);
    assert_int_equal(JE(&c, "{\"st\xe9tus\":\"x\"}"), MR_ERROR);
    assert_err(&c.err, MR_E_UTF8, "json-string", 4);
    c.mode = MR_LENIENT;
    assert_int_equal(JE(&c, "{\"status\":401}"), 0);
    assert_slice_lit(c.m.status, "401");
    assert_int_equal(JE(&c, "{\"scope\":\"x\"}"), 0);
    assert_null(c.m.status.p);
    assert_int_equal(JE(&c, "{}"), 0);
    assert_int_equal(JE(&c, "{\"status\":\"caf\xe9\"}"), 0);
    assert_int_equal(JE(&c, "{\"status\":\"a\",\"status\":\"b\"}"), MR_ERROR);
    assert_int_equal(JE(&c, "{\"status\":\"x\",\"detail\":{}}"), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_DEPTH, "json-value", 23);
}

static void error_challenge_limits(void **state)
{
    (void)state;
    err_ctx c = {.mode = MR_LENIENT, .lim = sasl_limits_default()};
    /* 10,000 nested brackets are refused at the first one */
    size_t n = 10000;
    char *deep = test_malloc(n + 16);
    memcpy(deep, "{\"a\":", 5);
    memset(deep + 5, '[', n);
    assert_int_equal(run_msg(err_step, &c, deep, 5 + n), MR_ERROR); /* over max_json */
    assert_err(&c.err, MR_E_LIMIT_LITERAL, "json-object", 4096);
    assert_int_equal(run_msg(err_step, &c, deep, 4000), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_DEPTH, "json-value", 5);
    memset(deep, '{', 4000);
    assert_int_equal(run_msg(err_step, &c, deep, 4000), MR_ERROR);
    assert_err(&c.err, MR_E_SYNTAX, "json-string", 1);
    test_free(deep);
    /* members */
    char msg[512] = "{";
    for (int i = 0; i < 17; i++)
        strcat(msg, i ? ",\"k\":1" : "\"k\":1");
    strcat(msg, "}");
    assert_int_equal(run_msg(err_step, &c, msg, strlen(msg)), MR_ERROR);
    assert_err(&c.err, MR_E_LIMIT_COUNT, "member", 1 + 16 * 6);
    c.lim.max_json_members = 17;
    assert_int_equal(run_msg(err_step, &c, msg, strlen(msg)), 0);
    assert_int_equal(c.m.nother, 17);
}

static int err_same(const sasl_oauth_error *a, const sasl_oauth_error *b)
{
    return slice_same(a->status, b->status) && slice_same(a->schemes, b->schemes) &&
           slice_same(a->scope, b->scope) &&
           slice_same(a->openid_configuration, b->openid_configuration);
}

static void error_challenge_write(void **state)
{
    (void)state;
    char out[256];
    mr_error e;
    sasl_oauth_error m = {0};
    m.status = SL("invalid_token");
    m.scope = SL("example_scope");
    m.openid_configuration = SL("https://example.com/.well-known/openid-configuration");
    int n = sasl_oauth_error_write(&m, out, sizeof out, &e);
    assert_int_equal(n, sizeof rfc_err - 1);
    assert_memory_equal(out, rfc_err, (size_t)n);
    m = (sasl_oauth_error){0};
    m.status = SL("401");
    m.schemes = SL("bearer mac");
    m.scope = SL("https://mail.google.com/");
    n = sasl_oauth_error_write(&m, out, sizeof out, &e);
    assert_int_equal(n, sizeof google_err - 2); /* Google's bytes without the final LF */
    assert_memory_equal(out, google_err, (size_t)n);
    sasl_oauth_error empty = {0};
    assert_int_equal(sasl_oauth_error_write(&empty, out, sizeof out, &e), 2);
    assert_memory_equal(out, "{}", 2);
    m.scope = SL("a\"b");
    assert_int_equal(sasl_oauth_error_write(&m, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "json-string", 1);
    m.scope = SL("a\nb");
    assert_int_equal(sasl_oauth_error_write(&m, out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_CTL, "json-string", 1);
    m.scope = SL("a\\");
    assert_int_equal(sasl_oauth_error_write(&m, out, sizeof out, &e), MR_ERROR);
    m.scope = SL("a\\\"b");
    assert_true(sasl_oauth_error_write(&m, out, sizeof out, &e) > 0);
    static const struct {
        const char *msg;
        mr_mode mode;
    } items[] = {
        {rfc_err, MR_STRICT},
        {google_err, MR_STRICT},
        {"{\"status\":\"\\u00e9\\n\",\"other\":[1]}", MR_LENIENT},
        {"{\"status\":-4e1,\"scope\":null}", MR_LENIENT},
        {"{}", MR_LENIENT},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        err_ctx a = {.mode = items[i].mode, .lim = sasl_limits_default()};
        err_ctx b = a;
        if (run_msg(err_step, &a, items[i].msg, strlen(items[i].msg)) != 0) {
            assert_int_equal(i, 2); /* the array is refused: nothing to round-trip */
            continue;
        }
        n = sasl_oauth_error_write(&a.m, out, sizeof out, &e);
        assert_true(n > 0);
        assert_int_equal(run_msg(err_step, &b, out, (size_t)n), 0);
        assert_true(err_same(&a.m, &b.m));
    }
}

static void json_escapes(void **state)
{
    (void)state;
    char out[64];
    mr_error e;
    assert_int_equal(sasl_json_unescape(SL("https:\\/\\/mail.google.com\\/"), out, sizeof out, &e),
                     24);
    assert_memory_equal(out, "https://mail.google.com/", 24);
    assert_int_equal(sasl_json_unescape(SL("caf\\u00e9 \\u20AC"), out, sizeof out, &e), 9);
    assert_memory_equal(out, "caf\xc3\xa9 \xe2\x82\xac", 9);
    assert_int_equal(sasl_json_unescape(SL("\\ud83d\\udce7"), out, sizeof out, &e), 4);
    assert_memory_equal(out, "\xf0\x9f\x93\xa7", 4);
    assert_int_equal(sasl_json_unescape(SL("\\\"\\\\\\b\\f\\n\\r\\t\\u0000"), out, sizeof out,
                                        &e),
                     8);
    assert_memory_equal(out, "\"\\\b\f\n\r\t\0", 8);
    assert_int_equal(sasl_json_unescape(SL("a\\ud83dx"), out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "json-string", 1);
    assert_int_equal(sasl_json_unescape(SL("\\udce7"), out, sizeof out, &e), MR_ERROR);
    assert_int_equal(sasl_json_unescape(SL("\\ud83d\\u0041"), out, sizeof out, &e), MR_ERROR);
    assert_int_equal(sasl_json_unescape(SL("a\\x"), out, sizeof out, &e), MR_ERROR);
    assert_err(&e, MR_E_SYNTAX, "json-string", 1);
    assert_int_equal(sasl_json_unescape(SL("a\\"), out, sizeof out, &e), MR_ERROR);
    assert_int_equal(sasl_json_unescape(SL("a\"b"), out, sizeof out, &e), MR_ERROR);
    assert_int_equal(sasl_json_escape(SL("a\"b\\c\n\x01\x7f\xc3\xa9"), out, sizeof out, &e), 18);
    assert_memory_equal(out, "a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9", 18);
    char back[64];
    assert_int_equal(sasl_json_unescape((mr_slice){out, 18}, back, sizeof back, &e), 10);
    assert_memory_equal(back, "a\"b\\c\n\x01\x7f\xc3\xa9", 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vectors_match_their_base64),
        cmocka_unit_test(xoauth2_examples),
        cmocka_unit_test(xoauth2_errors),
        cmocka_unit_test(xoauth2_lenient),
        cmocka_unit_test(xoauth2_limits),
        cmocka_unit_test(xoauth2_write),
        cmocka_unit_test(gs2_names),
        cmocka_unit_test(oauthbearer_rfc7628),
        cmocka_unit_test(oauthbearer_errors),
        cmocka_unit_test(oauthbearer_lenient),
        cmocka_unit_test(oauthbearer_limits),
        cmocka_unit_test(oauthbearer_write),
        cmocka_unit_test(error_challenges),
        cmocka_unit_test(error_challenge_errors),
        cmocka_unit_test(error_challenge_limits),
        cmocka_unit_test(error_challenge_write),
        cmocka_unit_test(json_escapes),
    };
    return cmocka_run_group_tests_name("sasl_oauth", tests, NULL, NULL);
}
