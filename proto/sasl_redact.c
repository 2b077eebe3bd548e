/* sasl_redact.c -- credentials out of transcripts; see sasl_redact.h.
 *
 * Every path that is not a field-by-field redaction of a message that parsed falls back to
 * redacting the whole message: when in doubt, hide.
 */
#include "sasl_redact.h"

#include <string.h>

#include "base64.h"
#include "sasl_oauth.h"
#include "sasl_util.h"

static const char REDACTED[] = "<redacted>";

/* Output of the wire style: bytes are copied, or base64-encoded on the fly when the input was
 * base64, three bytes at a time with the remainder carried to the next piece. */
typedef struct emit {
    mr_out *o;
    int b64;
    unsigned char carry[3];
    size_t nc;
} emit;

static void emit_put(emit *e, const void *p, size_t n)
{
    const unsigned char *s = p;
    if (!e->b64) {
        mr_out_put(e->o, s, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        e->carry[e->nc++] = s[i];
        if (e->nc == 3) {
            char q[4];
            b64_encode(e->carry, 3, q, sizeof q, NULL);
            mr_out_put(e->o, q, 4);
            e->nc = 0;
        }
    }
}

static void emit_str(emit *e, const char *s)
{
    emit_put(e, s, strlen(s));
}

static void emit_slice(emit *e, mr_slice s)
{
    emit_put(e, s.p, s.n);
}

static void emit_byte(emit *e, char c)
{
    emit_put(e, &c, 1);
}

static void emit_end(emit *e)
{
    if (e->b64 && e->nc) {
        char q[4];
        b64_encode(e->carry, e->nc, q, sizeof q, NULL);
        mr_out_put(e->o, q, 4);
        e->nc = 0;
    }
}

/* Summary style: a shown value in quotes, every byte outside printable ASCII (and the quote
 * and backslash) as \xHH. */
static void sum_quoted(mr_out *o, mr_slice s)
{
    static const char hex[] = "0123456789abcdef";
    mr_out_char(o, '"');
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            mr_out_char(o, (char)c);
        } else {
            char x[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            mr_out_put(o, x, sizeof x);
        }
    }
    mr_out_char(o, '"');
}

static void sum_field(mr_out *o, const char *name, mr_slice s)
{
    mr_out_char(o, ' ');
    mr_out_str(o, name);
    mr_out_char(o, '=');
    sum_quoted(o, s);
}

static void sum_secret(mr_out *o, const char *name)
{
    mr_out_char(o, ' ');
    mr_out_str(o, name);
    mr_out_char(o, '=');
    mr_out_str(o, REDACTED);
}

/* The whole message hidden. */
static void redact_whole(mr_out *o, sasl_redact_style style, const char *mech,
                         const char *why, size_t n)
{
    if (style == SASL_REDACT_WIRE) {
        mr_out_str(o, REDACTED);
        return;
    }
    mr_out_str(o, mech);
    mr_out_str(o, " <redacted: ");
    if (why) {
        mr_out_str(o, why);
        mr_out_str(o, ", ");
    }
    mr_out_u64(o, n);
    mr_out_str(o, " bytes>");
}

/* The parsers run leniently with room for anything that fits in the scratch buffer: the goal
 * is to find the fields of what a client really sent, not to judge it. */
static const sasl_limits redact_limits = {
    .max_line = SASL_REDACT_MAX_DECODED,
    .max_message = SASL_REDACT_MAX_DECODED,
    .max_field = SASL_REDACT_MAX_DECODED,
    .max_token = SASL_REDACT_MAX_DECODED,
    .max_pairs = 64,
    .max_json = SASL_REDACT_MAX_DECODED,
    .max_json_members = 64,
};

typedef struct redact_ctx {
    mr_out *o;
    emit *e;
    sasl_redact_style style;
    const char *mech;
} redact_ctx;

static int redact_plain(redact_ctx *c, const char *m, size_t n)
{
    sasl_plain p;
    if (sasl_plain_parse(m, n, MR_LENIENT, &redact_limits, &p, NULL) != 0)
        return -1;
    if (c->style == SASL_REDACT_WIRE) {
        emit_slice(c->e, p.authzid);
        emit_byte(c->e, '\0');
        emit_slice(c->e, p.authcid);
        emit_byte(c->e, '\0');
        emit_str(c->e, REDACTED);
        return 0;
    }
    mr_out_str(c->o, c->mech);
    if (p.authzid.n)
        sum_field(c->o, "authzid", p.authzid);
    sum_field(c->o, "authcid", p.authcid);
    sum_secret(c->o, "passwd");
    return 0;
}

static int redact_login(redact_ctx *c, unsigned step, const char *m, size_t n)
{
    mr_slice v = {m, n};
    if (c->style == SASL_REDACT_WIRE) {
        if (step == 0)
            emit_slice(c->e, v);
        else
            emit_str(c->e, REDACTED);
        return 0;
    }
    mr_out_str(c->o, c->mech);
    if (step == 0)
        sum_field(c->o, "username", v);
    else
        sum_secret(c->o, "password");
    return 0;
}

static int redact_cram(redact_ctx *c, const char *m, size_t n)
{
    sasl_cram_response r;
    if (sasl_cram_response_parse(m, n, MR_LENIENT, &redact_limits, &r, NULL) != 0)
        return -1;
    if (c->style == SASL_REDACT_WIRE) {
        emit_slice(c->e, r.user);
        emit_byte(c->e, ' ');
        emit_str(c->e, REDACTED);
        return 0;
    }
    mr_out_str(c->o, c->mech);
    sum_field(c->o, "user", r.user);
    sum_secret(c->o, "digest");
    return 0;
}

/* The auth value and the unknown pairs, whose values may hold secrets too. */
static void redact_bearer_wire(emit *e, const sasl_bearer *b, const sasl_kv *extra,
                               size_t nextra)
{
    emit_str(e, "auth=");
    if (b->scheme.n || b->token.n) {
        emit_slice(e, b->scheme);
        emit_byte(e, ' ');
        emit_str(e, REDACTED);
    }
    emit_byte(e, 0x01);
    for (size_t k = 0; k < nextra; k++) {
        emit_slice(e, extra[k].key);
        emit_byte(e, '=');
        emit_str(e, REDACTED);
        emit_byte(e, 0x01);
    }
    emit_byte(e, 0x01);
}

static void redact_bearer_summary(mr_out *o, const sasl_bearer *b, const sasl_kv *extra,
                                  size_t nextra)
{
    mr_out_str(o, " auth=");
    if (b->scheme.n || b->token.n) {
        mr_out_slice(o, b->scheme); /* tchar only: printable, no quote or backslash */
        mr_out_char(o, ' ');
        mr_out_str(o, REDACTED);
    } else {
        mr_out_str(o, "(empty)");
    }
    for (size_t k = 0; k < nextra; k++) {
        mr_out_char(o, ' ');
        sum_quoted(o, extra[k].key);
        mr_out_char(o, '=');
        mr_out_str(o, REDACTED);
    }
}

static int redact_xoauth2(redact_ctx *c, const char *m, size_t n)
{
    sasl_xoauth2 x;
    if (sasl_xoauth2_parse(m, n, MR_LENIENT, &redact_limits, &x, NULL) != 0)
        return -1;
    if (c->style == SASL_REDACT_WIRE) {
        if (x.dummy)
            return 0;
        if (x.user.p) {
            emit_str(c->e, "user=");
            emit_slice(c->e, x.user);
            emit_byte(c->e, 0x01);
        }
        redact_bearer_wire(c->e, &x.auth, x.extra, x.nextra);
        return 0;
    }
    mr_out_str(c->o, c->mech);
    if (x.dummy) {
        mr_out_str(c->o, " (empty reply after an error)");
        return 0;
    }
    if (x.user.p)
        sum_field(c->o, "user", x.user);
    redact_bearer_summary(c->o, &x.auth, x.extra, x.nextra);
    return 0;
}

static void gs2_wire(emit *e, const sasl_gs2 *g)
{
    if (g->nonstd)
        emit_str(e, "F,");
    emit_byte(e, g->cbflag);
    if (g->cbflag == 'p') {
        emit_byte(e, '=');
        emit_slice(e, g->cbname);
    }
    emit_byte(e, ',');
    if (g->authzid.p) {
        emit_str(e, "a=");
        emit_slice(e, g->authzid);
    }
    emit_byte(e, ',');
}

static int redact_oauthbearer(redact_ctx *c, const char *m, size_t n)
{
    sasl_oauthbearer b;
    if (sasl_oauthbearer_parse(m, n, MR_LENIENT, &redact_limits, &b, NULL) != 0)
        return -1;
    if (c->style == SASL_REDACT_WIRE) {
        if (b.dummy) {
            emit_byte(c->e, 0x01);
            return 0;
        }
        gs2_wire(c->e, &b.gs2);
        emit_byte(c->e, 0x01);
        if (b.host.p) {
            emit_str(c->e, "host=");
            emit_slice(c->e, b.host);
            emit_byte(c->e, 0x01);
        }
        if (b.port.p) {
            emit_str(c->e, "port=");
            emit_slice(c->e, b.port);
            emit_byte(c->e, 0x01);
        }
        redact_bearer_wire(c->e, &b.auth, b.extra, b.nextra);
        return 0;
    }
    mr_out_str(c->o, c->mech);
    if (b.dummy) {
        mr_out_str(c->o, " (kvsep reply after an error)");
        return 0;
    }
    if (b.gs2.authzid.p)
        sum_field(c->o, "authzid", b.gs2.authzid);
    if (b.host.p)
        sum_field(c->o, "host", b.host);
    if (b.port.p)
        sum_field(c->o, "port", b.port);
    redact_bearer_summary(c->o, &b.auth, b.extra, b.nextra);
    return 0;
}

/* EXTERNAL (an authzid) and ANONYMOUS (trace text) carry no credential. */
static int redact_shown(redact_ctx *c, const char *field, const char *m, size_t n)
{
    mr_slice v = {m, n};
    if (c->style == SASL_REDACT_WIRE) {
        emit_slice(c->e, v);
        return 0;
    }
    mr_out_str(c->o, c->mech);
    sum_field(c->o, field, v);
    return 0;
}

static int redact_decoded(redact_ctx *c, sasl_mech mech, unsigned step, const char *m,
                          size_t n)
{
    switch (mech) {
    case SASL_MECH_PLAIN:
    case SASL_MECH_PLAIN_CLIENTTOKEN:
        return redact_plain(c, m, n);
    case SASL_MECH_LOGIN:
        return redact_login(c, step, m, n);
    case SASL_MECH_CRAM_MD5:
        return redact_cram(c, m, n);
    case SASL_MECH_XOAUTH2:
        return redact_xoauth2(c, m, n);
    case SASL_MECH_OAUTHBEARER:
        return redact_oauthbearer(c, m, n);
    case SASL_MECH_EXTERNAL:
        return redact_shown(c, "authzid", m, n);
    case SASL_MECH_ANONYMOUS:
        return redact_shown(c, "trace", m, n);
    default:
        return -1;
    }
}

/* "*" and "="/"" on the line: framing, not a message. Returns 1 when handled. */
static int redact_framing(mr_out *o, sasl_redact_style style, const char *mech,
                          const char *msg, size_t n)
{
    int cancel = n == 1 && msg[0] == '*';
    int empty = n == 0 || (n == 1 && msg[0] == '=');
    if (!cancel && !empty)
        return 0;
    if (style == SASL_REDACT_WIRE) {
        mr_out_put(o, msg, n);
    } else {
        mr_out_str(o, mech);
        mr_out_str(o, cancel ? " (cancelled)" : " (empty)");
    }
    return 1;
}

int sasl_redact(sasl_mech mech, unsigned step, const char *msg, size_t n, int is_base64,
                sasl_redact_style style, char *dst, size_t cap)
{
    mr_out o;
    mr_out_init(&o, dst, cap);
    emit e = {&o, is_base64, {0}, 0};
    const char *name = sasl_mech_name(mech);
    redact_ctx c = {&o, &e, style, name};
    char scratch[SASL_REDACT_MAX_DECODED];
    const char *m = msg;
    size_t len = n;
    if (is_base64) {
        if (redact_framing(&o, style, name, msg, n))
            return sasl_write_done(&o, NULL);
        mr_error err;
        int r = b64_decode(msg, n, scratch, sizeof scratch, B64_LENIENT | B64_SKIP_SPACE, &err);
        if (r < 0) {
            int too_long = err.code == MR_E_LIMIT_LITERAL;
            redact_whole(&o, style, name, too_long ? "too long" : "not base64", n);
            return sasl_write_done(&o, NULL);
        }
        m = scratch;
        len = (size_t)r;
    } else if (n > SASL_REDACT_MAX_DECODED) {
        redact_whole(&o, style, name, "too long", n);
        return sasl_write_done(&o, NULL);
    }
    if (redact_decoded(&c, mech, step, m, len) != 0) {
        o.len = 0; /* drop anything a failed redactor began (none do today) */
        int parsed = (sasl_mech_flags(mech) & SASL_MECHF_PARSED) != 0;
        redact_whole(&o, style, name, parsed ? "malformed" : NULL, len);
        return sasl_write_done(&o, NULL);
    }
    emit_end(&e);
    return sasl_write_done(&o, NULL);
}
