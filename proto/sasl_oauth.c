/* sasl_oauth.c -- XOAUTH2, OAUTHBEARER and their JSON error challenge; see sasl_oauth.h. */
#include "sasl_oauth.h"

#include <string.h>

#include "sasl_util.h"

enum { KVSEP = 0x01 };

/* ---- key=value pairs (RFC 7628 section 3.1) ---------------------------------------------
 *   kvsep  = %x01
 *   key    = 1*(ALPHA)
 *   value  = *(VCHAR / SP / HTAB / CR / LF )
 *   kvpair = key "=" value kvsep
 * A list of pairs ends with an extra kvsep. */

typedef struct kv_iter {
    const char *msg;
    size_t n, at;
    mr_mode mode;
    size_t max_key, max_value;
} kv_iter;

/* May a value hold c? MR_LENIENT also takes 8-bit bytes (UTF-8 user names). */
static int kv_value_char(unsigned char c, mr_mode mode)
{
    if (c >= 0x21 && c <= 0x7E)
        return 1;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
        return 1;
    return c >= 0x80 && mode == MR_LENIENT;
}

static int kv_value_error(unsigned char c, size_t at, mr_error *err)
{
    if (c == 0)
        return mr_fail(err, MR_E_NUL, "value", at);
    if (c >= 0x80)
        return mr_fail(err, MR_E_8BIT, "value", at);
    return mr_fail(err, MR_E_CTL, "value", at);
}

/* The next pair. Returns 1 with *kv set, 0 at the end of the list (the terminating kvsep has
 * been consumed, or MR_LENIENT reached the end of the message), or MR_ERROR. */
static int kv_next(kv_iter *it, sasl_kv *kv, mr_error *err)
{
    const char *m = it->msg;
    size_t n = it->n, i = it->at;
    if (i == n) {
        if (it->mode == MR_LENIENT)
            return 0;
        return mr_fail(err, MR_E_SYNTAX, "kvsep", n);
    }
    if (m[i] == KVSEP) {
        it->at = i + 1;
        return 0;
    }
    size_t key0 = i, key_end = i + sasl_min(n - i, it->max_key + 1);
    while (i < key_end && sasl_is_alpha((unsigned char)m[i]))
        i++;
    if (i - key0 > it->max_key)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "key", key0 + it->max_key);
    if (i == n)
        return mr_fail(err, MR_E_SYNTAX, "kvpair", n);
    if (m[i] != '=' || i == key0)
        return mr_fail(err, MR_E_SYNTAX, "key", i);
    kv->key.p = m + key0;
    kv->key.n = i - key0;
    size_t v0 = ++i, v_end = i + sasl_min(n - i, it->max_value + 1);
    while (i < v_end && m[i] != KVSEP) {
        if (!kv_value_char((unsigned char)m[i], it->mode))
            return kv_value_error((unsigned char)m[i], i, err);
        i++;
    }
    if (i - v0 > it->max_value)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "value", v0 + it->max_value);
    kv->value.p = m + v0;
    kv->value.n = i - v0;
    if (i == n) {
        if (it->mode == MR_STRICT)
            return mr_fail(err, MR_E_SYNTAX, "kvsep", n);
        it->at = n;
        return 1;
    }
    it->at = i + 1;
    return 1;
}

static kv_iter kv_start(const char *msg, size_t n, size_t at, mr_mode mode,
                        const sasl_limits *lim)
{
    size_t maxf = sasl_min(lim->max_field, MR_LIMIT_MAX);
    size_t maxt = sasl_min(lim->max_token, MR_LIMIT_MAX);
    /* The auth value holds the scheme, its spaces and the token. */
    size_t maxv = maxt + 64 > maxf ? maxt + 64 : maxf;
    kv_iter it = {msg, n, at, mode, maxf, maxv};
    return it;
}

static size_t kv_offset(const kv_iter *it, mr_slice s)
{
    return (size_t)(s.p - it->msg);
}

/* Which of the known key names (a NULL-terminated list) key is: its index, or -1 for an
 * unknown key. Keys compare ignoring case in MR_LENIENT; MR_STRICT wants them exact and
 * refuses a known name in another case ("Auth"), which readers would disagree about. */
static int kv_known(mr_slice key, const char *const *names, mr_mode mode, size_t at,
                    int *which, mr_error *err)
{
    *which = -1;
    for (int k = 0; names[k]; k++) {
        if (!mr_slice_eq_ci(key, names[k]))
            continue;
        if (mode == MR_STRICT && !mr_slice_eq(key, names[k]))
            return mr_fail(err, MR_E_SYNTAX, "key", at);
        *which = k;
    }
    return 0;
}

static int kv_add_extra(sasl_kv *extra, size_t *nextra, sasl_kv kv, size_t at, mr_error *err)
{
    if (*nextra == SASL_OAUTH_MAX_EXTRA)
        return mr_fail(err, MR_E_LIMIT_COUNT, "kvpair", at);
    extra[(*nextra)++] = kv;
    return 0;
}

/* Writers: a value must read back whole, so it may hold no kvsep or other control. */
static int kv_value_ok(mr_slice v, mr_error *err)
{
    for (size_t i = 0; i < v.n; i++)
        if (!kv_value_char((unsigned char)v.p[i], MR_LENIENT))
            return kv_value_error((unsigned char)v.p[i], i, err);
    return 0;
}

static int kv_key_ok(mr_slice k, mr_error *err)
{
    if (k.n == 0)
        return mr_fail(err, MR_E_SYNTAX, "key", 0);
    for (size_t i = 0; i < k.n; i++)
        if (!sasl_is_alpha((unsigned char)k.p[i]))
            return mr_fail(err, MR_E_SYNTAX, "key", i);
    return 0;
}

static void kv_put(mr_out *o, const char *key, mr_slice value)
{
    mr_out_str(o, key);
    mr_out_char(o, '=');
    mr_out_slice(o, value);
    mr_out_char(o, KVSEP);
}

/* Extra pairs must be well formed and must not repeat a known key (the reader would take
 * them for it, or report a duplicate). */
static int kv_put_extras(mr_out *o, const sasl_kv *extra, size_t nextra,
                         const char *const *known, mr_error *err)
{
    if (nextra > SASL_OAUTH_MAX_EXTRA)
        return mr_fail(err, MR_E_LIMIT_COUNT, "kvpair", 0);
    for (size_t k = 0; k < nextra; k++) {
        if (kv_key_ok(extra[k].key, err) || kv_value_ok(extra[k].value, err))
            return MR_ERROR;
        for (const char *const *name = known; *name; name++)
            if (mr_slice_eq_ci(extra[k].key, *name))
                return mr_fail(err, MR_E_SYNTAX, "key", 0);
        mr_out_slice(o, extra[k].key);
        mr_out_char(o, '=');
        mr_out_slice(o, extra[k].value);
        mr_out_char(o, KVSEP);
    }
    return 0;
}

/* What a mechanism does with its k-th pair (from 0), which starts at offset at; *have_auth is
 * set once the auth pair has been read. */
typedef int (*kv_pair_fn)(void *out, const kv_iter *it, sasl_kv kv, size_t k, size_t at,
                          const sasl_limits *lim, int *have_auth, mr_error *err);

/* The pairs from it to the end of the message, at most lim->max_pairs, each handed to pair;
 * then the message must end there (a kvsep after the last pair) and have had an auth pair. */
static int kv_pairs(kv_iter *it, const sasl_limits *lim, kv_pair_fn pair, void *out,
                    mr_error *err)
{
    int have_auth = 0;
    for (size_t k = 0;; k++) {
        size_t at = it->at;
        sasl_kv kv;
        int r = kv_next(it, &kv, err);
        if (r < 0)
            return MR_ERROR;
        if (r == 0)
            break;
        if (k == lim->max_pairs)
            return mr_fail(err, MR_E_LIMIT_COUNT, "kvpair", at);
        if (pair(out, it, kv, k, at, lim, &have_auth, err))
            return MR_ERROR;
    }
    if (it->at != it->n)
        return mr_fail(err, MR_E_TRAILING, "client-resp", it->at);
    if (!have_auth)
        return mr_fail(err, MR_E_SYNTAX, "auth", it->n);
    return 0;
}

/* ---- The auth value: credentials = "Bearer" 1*SP b64token (RFC 6750 section 2.1) ---------- */

/* tchar (RFC 9110 section 5.6.2): the characters of an auth-scheme token. */
static int is_tchar(unsigned char c)
{
    return sasl_is_alpha(c) || sasl_is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int is_b64token_char(unsigned char c)
{
    return sasl_is_alpha(c) || sasl_is_digit(c) || (c && strchr("-._~+/", c));
}

/* MR_LENIENT tokens: any visible or 8-bit byte. */
static int is_loose_token_char(unsigned char c)
{
    return (c > 0x20 && c != 0x7F);
}

/* Check a token; return the offset of the first bad byte, or t.n. */
static size_t token_check(mr_slice t, mr_mode mode)
{
    size_t i = 0;
    if (mode == MR_LENIENT) {
        while (i < t.n && is_loose_token_char((unsigned char)t.p[i]))
            i++;
        return i;
    }
    while (i < t.n && is_b64token_char((unsigned char)t.p[i]))
        i++;
    while (i < t.n && t.p[i] == '=')
        i++;
    return i;
}

static int bearer_parse(mr_slice v, size_t base, mr_mode mode, size_t max_token,
                        sasl_bearer *out, mr_error *err)
{
    out->scheme.p = v.p;
    out->scheme.n = 0;
    out->token.p = v.p;
    out->token.n = 0;
    if (v.n == 0) {
        if (mode == MR_STRICT)
            return mr_fail(err, MR_E_SYNTAX, "credentials", base);
        return 0;
    }
    size_t i = 0;
    while (i < v.n && is_tchar((unsigned char)v.p[i]))
        i++;
    out->scheme.n = i;
    if (i == 0 || (mode == MR_STRICT && !mr_slice_eq_ci(out->scheme, "Bearer")))
        return mr_fail(err, MR_E_SYNTAX, "credentials", base);
    if (i == v.n || v.p[i] != ' ')
        return mr_fail(err, MR_E_SYNTAX, "credentials", base + i);
    while (i < v.n && v.p[i] == ' ')
        i++;
    out->token.p = v.p + i;
    out->token.n = v.n - i;
    if (out->token.n == 0)
        return mr_fail(err, MR_E_SYNTAX, "b64token", base + i);
    if (out->token.n > max_token)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "b64token", base + i + max_token);
    size_t bad = token_check(out->token, mode);
    if (bad < out->token.n)
        return mr_fail(err, MR_E_SYNTAX, "b64token", base + i + bad);
    return 0;
}

static int bearer_put(mr_out *o, const sasl_bearer *b, mr_error *err)
{
    mr_out_str(o, "auth=");
    if (b->scheme.n == 0 && b->token.n == 0) {
        mr_out_char(o, KVSEP);
        return 0;
    }
    if (b->scheme.n == 0 || b->token.n == 0)
        return mr_fail(err, MR_E_SYNTAX, "credentials", 0);
    for (size_t i = 0; i < b->scheme.n; i++)
        if (!is_tchar((unsigned char)b->scheme.p[i]))
            return mr_fail(err, MR_E_SYNTAX, "credentials", i);
    if (token_check(b->token, MR_LENIENT) < b->token.n)
        return mr_fail(err, MR_E_SYNTAX, "b64token", token_check(b->token, MR_LENIENT));
    mr_out_slice(o, b->scheme);
    mr_out_char(o, ' ');
    mr_out_slice(o, b->token);
    mr_out_char(o, KVSEP);
    return 0;
}

/* The end of an XOAUTH2 or OAUTHBEARER client response: auth, the extra pairs, the final
 * kvsep; returns the writer's result. */
static int kv_put_end(mr_out *o, const sasl_bearer *auth, const sasl_kv *extra, size_t nextra,
                      const char *const *known, mr_error *err)
{
    if (bearer_put(o, auth, err) || kv_put_extras(o, extra, nextra, known, err))
        return MR_ERROR;
    mr_out_char(o, KVSEP);
    return sasl_write_done(o, err);
}

/* ---- XOAUTH2 ------------------------------------------------------------------------- */

static const char *const xoauth2_keys[] = {"user", "auth", NULL};

/* MR_STRICT wants exactly user, auth, end: which key is due at pair number k. */
static const char *xoauth2_strict_key(size_t k)
{
    return k == 0 ? "user" : k == 1 ? "auth" : NULL;
}

static int xoauth2_pair(void *vout, const kv_iter *it, sasl_kv kv, size_t k, size_t at,
                        const sasl_limits *lim, int *have_auth, mr_error *err)
{
    sasl_xoauth2 *out = vout;
    mr_mode mode = it->mode;
    if (mode == MR_STRICT) {
        const char *due = xoauth2_strict_key(k);
        if (!due || !mr_slice_eq(kv.key, due))
            return mr_fail(err, MR_E_SYNTAX, due ? due : "kvsep", at);
    }
    int which;
    if (kv_known(kv.key, xoauth2_keys, mode, at, &which, err))
        return MR_ERROR;
    if (which == 0) {
        if (out->user.p)
            return mr_fail(err, MR_E_SYNTAX, "kvpair", at);
        if (kv.value.n == 0 && mode == MR_STRICT)
            return mr_fail(err, MR_E_EMPTY, "user", kv_offset(it, kv.value));
        if (kv.value.n > lim->max_field)
            return mr_fail(err, MR_E_LIMIT_LITERAL, "user",
                           kv_offset(it, kv.value) + lim->max_field);
        out->user = kv.value;
        return 0;
    }
    if (which == 1) {
        if (*have_auth)
            return mr_fail(err, MR_E_SYNTAX, "kvpair", at);
        if (bearer_parse(kv.value, kv_offset(it, kv.value), mode, lim->max_token, &out->auth,
                         err))
            return MR_ERROR;
        *have_auth = 1;
        return 0;
    }
    return kv_add_extra(out->extra, &out->nextra, kv, at, err);
}

int sasl_xoauth2_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                       sasl_xoauth2 *out, mr_error *err)
{
    sasl_limits tmp;
    lim = sasl_limits_or(lim, &tmp);
    memset(out, 0, sizeof *out);
    if (n > lim->max_message)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "message", lim->max_message);
    if (n == 0) {
        out->dummy = 1;
        return 0;
    }
    kv_iter it = kv_start(msg, n, 0, mode, lim);
    return kv_pairs(&it, lim, xoauth2_pair, out, err);
}

int sasl_xoauth2_write(const sasl_xoauth2 *m, char *dst, size_t cap, mr_error *err)
{
    mr_out o;
    mr_out_init(&o, dst, cap);
    if (m->dummy)
        return sasl_write_done(&o, err);
    if (m->user.p) {
        if (kv_value_ok(m->user, err))
            return MR_ERROR;
        kv_put(&o, "user", m->user);
    }
    return kv_put_end(&o, &m->auth, m->extra, m->nextra, xoauth2_keys, err);
}

/* ---- GS2 header (RFC 5801 section 4) ------------------------------------------------------
 *   gs2-header  = [gs2-nonstd-flag ","] gs2-cb-flag "," [gs2-authzid] ","
 *   gs2-cb-flag = ("p=" cb-name) / "n" / "y"
 *   gs2-authzid = "a=" saslname
 *   saslname    = 1*(UTF8-char-safe / "=2C" / "=3D")
 * UTF8-char-safe admits %x01-1F; mailrig rejects control characters in names anyway, since a
 * ^A there would make the header ambiguous to every reader that splits on kvsep first. */

static int cb_name_char(unsigned char c)
{
    return sasl_is_alpha(c) || sasl_is_digit(c) || c == '.' || c == '-';
}

/* The escape at name[i] ('='): "2C" or "3D" (either case in MR_LENIENT). */
static int saslname_escape_ok(const char *p, size_t n, size_t i, mr_mode mode)
{
    if (n - i < 3)
        return 0;
    char a = p[i + 1], b = p[i + 2];
    if (mode == MR_LENIENT)
        b = (char)(b & ~0x20);
    return (a == '2' && b == 'C') || (a == '3' && b == 'D');
}

/* Check saslname characters from at until a ',' or stop; set *end to where it ended. */
static int saslname_chars(const char *m, size_t n, size_t at, size_t stop, mr_mode mode,
                          size_t *end, mr_error *err)
{
    size_t i = at;
    while (i < stop && m[i] != ',') {
        unsigned char c = (unsigned char)m[i];
        if (c == '=') {
            if (!saslname_escape_ok(m, n, i, mode))
                return mr_fail(err, MR_E_SYNTAX, "saslname", i);
            i += 3;
            continue;
        }
        if (sasl_is_ctl(c))
            return mr_fail(err, c ? MR_E_CTL : MR_E_NUL, "saslname", i);
        i++;
    }
    *end = i;
    return 0;
}

/* Scan a saslname from at up to the ',' that ends it; set *end to that ','. */
static int saslname_scan(const char *m, size_t n, size_t at, mr_mode mode, size_t max,
                         size_t *end, mr_error *err)
{
    size_t i = 0;
    if (saslname_chars(m, n, at, at + sasl_min(n - at, max + 1), mode, &i, err))
        return MR_ERROR;
    if (i - at > max)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "saslname", at + max);
    if (i >= n)
        return mr_fail(err, MR_E_SYNTAX, "gs2-header", n);
    if (i == at)
        return mr_fail(err, MR_E_SYNTAX, "saslname", at);
    if (mode == MR_STRICT) {
        mr_slice s = {m + at, i - at};
        if (sasl_check_utf8(s, at, "saslname", err))
            return MR_ERROR;
    }
    *end = i;
    return 0;
}

static int gs2_parse(const char *m, size_t n, mr_mode mode, size_t maxf, sasl_gs2 *g,
                     size_t *next, mr_error *err)
{
    size_t i = 0;
    if (n >= 2 && m[0] == 'F' && m[1] == ',') {
        if (mode == MR_STRICT) /* RFC 5801: only for non-standard GSS-API mechanisms */
            return mr_fail(err, MR_E_SYNTAX, "gs2-header", 0);
        g->nonstd = 1;
        i = 2;
    }
    if (i == n)
        return mr_fail(err, MR_E_SYNTAX, "gs2-cb-flag", i);
    char c = m[i];
    if (c == 'n' || c == 'y') {
        g->cbflag = c;
        i++;
    } else if (c == 'p' && mode == MR_LENIENT) {
        if (i + 1 >= n || m[i + 1] != '=')
            return mr_fail(err, MR_E_SYNTAX, "gs2-cb-flag", i + 1);
        size_t c0 = i + 2, stop = c0 + sasl_min(n - c0, maxf + 1);
        for (i = c0; i < stop && cb_name_char((unsigned char)m[i]); i++)
            ;
        if (i - c0 > maxf)
            return mr_fail(err, MR_E_LIMIT_LITERAL, "cb-name", c0 + maxf);
        if (i == c0)
            return mr_fail(err, MR_E_SYNTAX, "cb-name", i);
        g->cbflag = 'p';
        g->cbname.p = m + c0;
        g->cbname.n = i - c0;
    } else {
        /* OAUTHBEARER has no channel binding (no -PLUS variant), so MR_STRICT refuses 'p'. */
        return mr_fail(err, MR_E_SYNTAX, "gs2-cb-flag", i);
    }
    if (i == n || m[i] != ',')
        return mr_fail(err, MR_E_SYNTAX, "gs2-header", i);
    i++;
    if (n - i >= 2 && m[i] == 'a' && m[i + 1] == '=') {
        size_t end = 0;
        if (saslname_scan(m, n, i + 2, mode, maxf, &end, err))
            return MR_ERROR;
        g->authzid.p = m + i + 2;
        g->authzid.n = end - (i + 2);
        i = end;
    }
    if (i == n || m[i] != ',')
        return mr_fail(err, MR_E_SYNTAX, "gs2-header", i);
    *next = i + 1;
    return 0;
}

int sasl_gs2_name_decode(mr_slice name, char *dst, size_t cap, mr_error *err)
{
    mr_out o;
    mr_out_init(&o, dst, cap);
    for (size_t i = 0; i < name.n; i++) {
        char c = name.p[i];
        if (c == ',')
            return mr_fail(err, MR_E_SYNTAX, "saslname", i);
        if (c == '=') {
            if (!saslname_escape_ok(name.p, name.n, i, MR_LENIENT))
                return mr_fail(err, MR_E_SYNTAX, "saslname", i);
            c = name.p[i + 1] == '2' ? ',' : '=';
            i += 2;
        }
        mr_out_char(&o, c);
    }
    return sasl_write_done(&o, err);
}

int sasl_gs2_name_encode(mr_slice name, char *dst, size_t cap, mr_error *err)
{
    mr_out o;
    mr_out_init(&o, dst, cap);
    for (size_t i = 0; i < name.n; i++) {
        char c = name.p[i];
        if (c == '\0')
            return mr_fail(err, MR_E_NUL, "saslname", i);
        if (c == ',')
            mr_out_str(&o, "=2C");
        else if (c == '=')
            mr_out_str(&o, "=3D");
        else
            mr_out_char(&o, c);
    }
    return sasl_write_done(&o, err);
}

static int gs2_put(mr_out *o, const sasl_gs2 *g, mr_error *err)
{
    if (g->nonstd)
        mr_out_str(o, "F,");
    if (g->cbflag == 'n' || g->cbflag == 'y') {
        mr_out_char(o, g->cbflag);
    } else if (g->cbflag == 'p') {
        if (g->cbname.n == 0)
            return mr_fail(err, MR_E_SYNTAX, "cb-name", 0);
        for (size_t i = 0; i < g->cbname.n; i++)
            if (!cb_name_char((unsigned char)g->cbname.p[i]))
                return mr_fail(err, MR_E_SYNTAX, "cb-name", i);
        mr_out_str(o, "p=");
        mr_out_slice(o, g->cbname);
    } else {
        return mr_fail(err, MR_E_SYNTAX, "gs2-cb-flag", 0);
    }
    mr_out_char(o, ',');
    if (g->authzid.p) {
        size_t end = 0;
        mr_slice a = g->authzid;
        /* MR_LENIENT: "=2c" came from a lenient read and must be written back as it was */
        if (a.n == 0 || saslname_chars(a.p, a.n, 0, a.n, MR_LENIENT, &end, NULL) != 0 ||
            end != a.n)
            return mr_fail(err, MR_E_SYNTAX, "saslname", 0);
        mr_out_str(o, "a=");
        mr_out_slice(o, g->authzid);
    }
    mr_out_char(o, ',');
    return 0;
}

/* ---- OAUTHBEARER -------------------------------------------------------------------------- */

/* port = 1*5DIGIT, at most 65535. */
static int port_parse(mr_slice v, unsigned *num)
{
    if (v.n == 0 || v.n > 5)
        return -1;
    unsigned x = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (!sasl_is_digit((unsigned char)v.p[i]))
            return -1;
        x = x * 10 + (unsigned)(v.p[i] - '0');
    }
    if (x > 65535)
        return -1;
    *num = x;
    return 0;
}

static const char *const oauthbearer_keys[] = {"auth", "host", "port", NULL};

static int oauthbearer_pair(void *vout, const kv_iter *it, sasl_kv kv, size_t k, size_t at,
                            const sasl_limits *lim, int *have_auth, mr_error *err)
{
    sasl_oauthbearer *out = vout;
    mr_mode mode = it->mode;
    (void)k;
    size_t v0 = kv_offset(it, kv.value);
    int which;
    if (kv_known(kv.key, oauthbearer_keys, mode, at, &which, err))
        return MR_ERROR;
    if (which == 0) {
        if (*have_auth)
            return mr_fail(err, MR_E_SYNTAX, "kvpair", at);
        *have_auth = 1;
        return bearer_parse(kv.value, v0, mode, lim->max_token, &out->auth, err);
    }
    if (which == 1) {
        if (out->host.p)
            return mr_fail(err, MR_E_SYNTAX, "kvpair", at);
        if (kv.value.n > lim->max_field)
            return mr_fail(err, MR_E_LIMIT_LITERAL, "host", v0 + lim->max_field);
        out->host = kv.value;
        return 0;
    }
    if (which == 2) {
        if (out->port.p)
            return mr_fail(err, MR_E_SYNTAX, "kvpair", at);
        if (port_parse(kv.value, &out->port_num) != 0)
            return mr_fail(err, MR_E_SYNTAX, "port", v0);
        out->port = kv.value;
        return 0;
    }
    return kv_add_extra(out->extra, &out->nextra, kv, at, err);
}

int sasl_oauthbearer_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                           sasl_oauthbearer *out, mr_error *err)
{
    sasl_limits tmp;
    lim = sasl_limits_or(lim, &tmp);
    memset(out, 0, sizeof *out);
    if (n > lim->max_message)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "message", lim->max_message);
    if (n == 1 && msg[0] == KVSEP) {
        out->dummy = 1;
        return 0;
    }
    size_t at = 0;
    if (gs2_parse(msg, n, mode, sasl_min(lim->max_field, MR_LIMIT_MAX), &out->gs2, &at, err))
        return MR_ERROR;
    if (at < n && msg[at] == KVSEP)
        at++;
    else if (mode == MR_STRICT || at == n) /* KAFKA-7182: clients that omitted it */
        return mr_fail(err, MR_E_SYNTAX, "kvsep", at);
    kv_iter it = kv_start(msg, n, at, mode, lim);
    return kv_pairs(&it, lim, oauthbearer_pair, out, err);
}

int sasl_oauthbearer_write(const sasl_oauthbearer *m, char *dst, size_t cap, mr_error *err)
{
    mr_out o;
    mr_out_init(&o, dst, cap);
    if (m->dummy) {
        mr_out_char(&o, KVSEP);
        return sasl_write_done(&o, err);
    }
    if (gs2_put(&o, &m->gs2, err))
        return MR_ERROR;
    mr_out_char(&o, KVSEP);
    if (m->host.p) {
        if (kv_value_ok(m->host, err))
            return MR_ERROR;
        kv_put(&o, "host", m->host);
    }
    if (m->port.p) {
        unsigned num;
        if (port_parse(m->port, &num) != 0)
            return mr_fail(err, MR_E_SYNTAX, "port", 0);
        kv_put(&o, "port", m->port);
    }
    return kv_put_end(&o, &m->auth, m->extra, m->nextra, oauthbearer_keys, err);
}

/* ---- The JSON error challenge ---------------------------------------------------------------
 * A bounded scanner for one flat object (RFC 8259): no recursion, no allocation; nesting is
 * refused rather than followed. */

typedef struct json_cur {
    const char *p;
    size_t n, i;
    mr_mode mode;
} json_cur;

static void json_ws(json_cur *c)
{
    while (c->i < c->n && (c->p[c->i] == ' ' || c->p[c->i] == '\t' || c->p[c->i] == '\r' ||
                           c->p[c->i] == '\n'))
        c->i++;
}

static int is_hex(unsigned char c)
{
    return sasl_is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Scan string contents starting at p[i] up to the closing quote (or the end for a writer's
 * bare contents when quoted == 0). Returns the offset of the closing quote (or n), or MR_ERROR
 * with the offending offset. */
static int json_string_scan(const char *p, size_t n, size_t i, int quoted, size_t *end,
                            mr_error *err)
{
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"') {
            if (quoted) {
                *end = i;
                return 0;
            }
            return mr_fail(err, MR_E_SYNTAX, "json-string", i);
        }
        if (c < 0x20)
            return mr_fail(err, MR_E_CTL, "json-string", i);
        if (c != '\\') {
            i++;
            continue;
        }
        if (i + 1 == n)
            return mr_fail(err, MR_E_SYNTAX, "json-string", i);
        char e = p[i + 1];
        if (e == 'u') {
            if (n - i < 6 || !is_hex((unsigned char)p[i + 2]) ||
                !is_hex((unsigned char)p[i + 3]) || !is_hex((unsigned char)p[i + 4]) ||
                !is_hex((unsigned char)p[i + 5]))
                return mr_fail(err, MR_E_SYNTAX, "json-string", i);
            i += 6;
        } else if (e && strchr("\"\\/bfnrt", e)) {
            i += 2;
        } else {
            return mr_fail(err, MR_E_SYNTAX, "json-string", i);
        }
    }
    if (quoted)
        return mr_fail(err, MR_E_SYNTAX, "json-string", n);
    *end = n;
    return 0;
}

/* A string at c->i: *s is its raw contents. */
static int json_string(json_cur *c, mr_slice *s, mr_error *err)
{
    if (c->i == c->n || c->p[c->i] != '"')
        return mr_fail(err, MR_E_SYNTAX, "json-string", c->i);
    size_t start = c->i + 1, end;
    if (json_string_scan(c->p, c->n, start, 1, &end, err))
        return MR_ERROR;
    s->p = c->p + start;
    s->n = end - start;
    c->i = end + 1;
    if (c->mode == MR_STRICT)
        return sasl_check_utf8(*s, start, "json-string", err);
    return 0;
}

static size_t json_digits(json_cur *c)
{
    size_t start = c->i;
    while (c->i < c->n && sasl_is_digit((unsigned char)c->p[c->i]))
        c->i++;
    return c->i - start;
}

/* number = [ "-" ] int [ frac ] [ exp ] */
static int json_number(json_cur *c, mr_error *err)
{
    size_t start = c->i;
    if (c->i < c->n && c->p[c->i] == '-')
        c->i++;
    size_t int0 = c->i, nd = json_digits(c);
    if (nd == 0 || (nd > 1 && c->p[int0] == '0'))
        return mr_fail(err, MR_E_SYNTAX, "json-value", start);
    if (c->i < c->n && c->p[c->i] == '.') {
        c->i++;
        if (json_digits(c) == 0)
            return mr_fail(err, MR_E_SYNTAX, "json-value", c->i);
    }
    if (c->i < c->n && (c->p[c->i] == 'e' || c->p[c->i] == 'E')) {
        c->i++;
        if (c->i < c->n && (c->p[c->i] == '+' || c->p[c->i] == '-'))
            c->i++;
        if (json_digits(c) == 0)
            return mr_fail(err, MR_E_SYNTAX, "json-value", c->i);
    }
    return 0;
}

static int json_literal(json_cur *c, const char *word)
{
    size_t len = strlen(word);
    if (c->n - c->i < len || memcmp(c->p + c->i, word, len) != 0)
        return -1;
    c->i += len;
    return 0;
}

/* A value: *s is a string's contents or another value's raw text; *is_string says which. */
static int json_value(json_cur *c, mr_slice *s, int *is_string, mr_error *err)
{
    if (c->i == c->n)
        return mr_fail(err, MR_E_SYNTAX, "json-value", c->n);
    char ch = c->p[c->i];
    size_t start = c->i;
    *is_string = ch == '"';
    if (ch == '"')
        return json_string(c, s, err);
    if (ch == '{' || ch == '[')
        return mr_fail(err, MR_E_LIMIT_DEPTH, "json-value", start);
    if (ch == '-' || sasl_is_digit((unsigned char)ch)) {
        if (json_number(c, err))
            return MR_ERROR;
    } else if (json_literal(c, "true") && json_literal(c, "false") && json_literal(c, "null")) {
        return mr_fail(err, MR_E_SYNTAX, "json-value", start);
    }
    s->p = c->p + start;
    s->n = c->i - start;
    return 0;
}

/* The field a member name selects, or NULL for a member mailrig does not keep. */
static mr_slice *oauth_error_field(sasl_oauth_error *e, mr_slice name)
{
    if (mr_slice_eq(name, "status"))
        return &e->status;
    if (mr_slice_eq(name, "schemes"))
        return &e->schemes;
    if (mr_slice_eq(name, "scope"))
        return &e->scope;
    if (mr_slice_eq(name, "openid-configuration"))
        return &e->openid_configuration;
    return NULL;
}

static int json_member(json_cur *c, sasl_oauth_error *out, mr_error *err)
{
    size_t at = c->i;
    mr_slice name, value;
    int is_string = 0;
    if (json_string(c, &name, err))
        return MR_ERROR;
    json_ws(c);
    if (c->i == c->n || c->p[c->i] != ':')
        return mr_fail(err, MR_E_SYNTAX, "member", c->i);
    c->i++;
    json_ws(c);
    size_t v0 = c->i;
    if (json_value(c, &value, &is_string, err))
        return MR_ERROR;
    mr_slice *field = oauth_error_field(out, name);
    if (!field) {
        out->nother++;
        return 0;
    }
    if (field->p)
        return mr_fail(err, MR_E_SYNTAX, "member", at);
    if (!is_string && c->mode == MR_STRICT)
        return mr_fail(err, MR_E_SYNTAX, "json-string", v0);
    *field = value;
    return 0;
}

int sasl_oauth_error_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                           sasl_oauth_error *out, mr_error *err)
{
    sasl_limits tmp;
    lim = sasl_limits_or(lim, &tmp);
    memset(out, 0, sizeof *out);
    if (n > lim->max_json)
        return mr_fail(err, MR_E_LIMIT_LITERAL, "json-object", lim->max_json);
    json_cur c = {msg, n, 0, mode};
    json_ws(&c);
    if (c.i == n || msg[c.i] != '{')
        return mr_fail(err, MR_E_SYNTAX, "json-object", c.i);
    c.i++;
    json_ws(&c);
    size_t members = 0;
    if (c.i < n && msg[c.i] == '}') {
        c.i++;
    } else {
        for (;;) {
            if (members == lim->max_json_members)
                return mr_fail(err, MR_E_LIMIT_COUNT, "member", c.i);
            members++;
            if (json_member(&c, out, err))
                return MR_ERROR;
            json_ws(&c);
            if (c.i == n)
                return mr_fail(err, MR_E_SYNTAX, "json-object", n);
            char ch = msg[c.i++];
            if (ch == '}')
                break;
            if (ch != ',')
                return mr_fail(err, MR_E_SYNTAX, "json-object", c.i - 1);
            json_ws(&c);
        }
    }
    size_t close = c.i - 1;
    json_ws(&c);
    if (c.i != n)
        return mr_fail(err, MR_E_TRAILING, "json-object", c.i);
    if (!out->status.p && mode == MR_STRICT) /* RFC 7628 section 3.2.2: status is required */
        return mr_fail(err, MR_E_SYNTAX, "status", close);
    return 0;
}

static void json_put_member(mr_out *o, const char *name, mr_slice value, int *first)
{
    if (!*first)
        mr_out_char(o, ',');
    *first = 0;
    mr_out_char(o, '"');
    mr_out_str(o, name);
    mr_out_str(o, "\":\"");
    mr_out_slice(o, value);
    mr_out_char(o, '"');
}

int sasl_oauth_error_write(const sasl_oauth_error *e, char *dst, size_t cap, mr_error *err)
{
    const struct {
        const char *name;
        mr_slice value;
    } members[] = {
        {"status", e->status},
        {"schemes", e->schemes},
        {"scope", e->scope},
        {"openid-configuration", e->openid_configuration},
    };
    mr_out o;
    mr_out_init(&o, dst, cap);
    int first = 1;
    mr_out_char(&o, '{');
    for (size_t k = 0; k < sizeof members / sizeof members[0]; k++) {
        mr_slice v = members[k].value;
        if (!v.p)
            continue;
        size_t end = 0;
        if (json_string_scan(v.p, v.n, 0, 0, &end, err))
            return MR_ERROR;
        json_put_member(&o, members[k].name, v, &first);
    }
    mr_out_char(&o, '}');
    return sasl_write_done(&o, err);
}

/* ---- JSON string escapes ---------------------------------------------------------------- */

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = (unsigned char)p[k];
        v = v << 4 | (unsigned)(sasl_is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static void put_utf8(mr_out *o, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12);
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | cp >> 18);
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    mr_out_put(o, b, n);
}

/* The code point of a \u escape at p[i] (already checked to be well formed), combining a
 * surrogate pair; *len is how many bytes of p it took. Returns -1 for a lone surrogate. */
static long json_unicode(const char *p, size_t n, size_t i, size_t *len)
{
    unsigned hi = hex4(p + i + 2);
    *len = 6;
    if (hi < 0xD800 || hi > 0xDFFF)
        return (long)hi;
    if (hi > 0xDBFF || n - i < 12 || p[i + 6] != '\\' || p[i + 7] != 'u')
        return -1;
    unsigned lo = hex4(p + i + 8);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return -1;
    *len = 12;
    return 0x10000 + ((long)(hi - 0xD800) << 10) + (lo - 0xDC00);
}

int sasl_json_unescape(mr_slice s, char *dst, size_t cap, mr_error *err)
{
    size_t end = 0;
    if (json_string_scan(s.p, s.n, 0, 0, &end, err))
        return MR_ERROR;
    mr_out o;
    mr_out_init(&o, dst, cap);
    for (size_t i = 0; i < s.n;) {
        if (s.p[i] != '\\') {
            mr_out_char(&o, s.p[i++]);
            continue;
        }
        char e = s.p[i + 1];
        if (e == 'u') {
            size_t len;
            long cp = json_unicode(s.p, s.n, i, &len);
            if (cp < 0)
                return mr_fail(err, MR_E_SYNTAX, "json-string", i);
            put_utf8(&o, (unsigned)cp);
            i += len;
            continue;
        }
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        mr_out_char(&o, to[strchr(from, e) - from]);
        i += 2;
    }
    return sasl_write_done(&o, err);
}

int sasl_json_escape(mr_slice s, char *dst, size_t cap, mr_error *err)
{
    static const char hex[] = "0123456789abcdef";
    mr_out o;
    mr_out_init(&o, dst, cap);
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        const char *short_form = c == '"'    ? "\\\""
                                 : c == '\\' ? "\\\\"
                                 : c == '\n' ? "\\n"
                                 : c == '\r' ? "\\r"
                                 : c == '\t' ? "\\t"
                                 : c == '\b' ? "\\b"
                                 : c == '\f' ? "\\f"
                                             : NULL;
        if (short_form) {
            mr_out_str(&o, short_form);
        } else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            mr_out_put(&o, u, sizeof u);
        } else {
            mr_out_char(&o, (char)c);
        }
    }
    return sasl_write_done(&o, err);
}
