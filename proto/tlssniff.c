/* tlssniff.c -- classify first bytes and read a ClientHello; see tlssniff.h. */
#include "proto/tlssniff.h"

enum {
    REC_HANDSHAKE = 0x16,
    REC_FIRST = 0x14,        /* change_cipher_spec */
    REC_LAST = 0x18,         /* heartbeat */
    HS_CLIENT_HELLO = 1,
    MAX_PLAIN = 1 << 14,     /* RFC 8446 5.1: TLSPlaintext.length <= 2^14 */
    MAX_CIPHER = (1 << 14) + 2048,
    EXT_SERVER_NAME = 0,
    EXT_SUPPORTED_VERSIONS = 43,
    SNI_HOST_NAME = 0,
    SSL2_MIN_LEN = 9,        /* msg_type, version, three length fields */
};

static int is_text(unsigned char c)
{
    return (c >= 0x20 && c <= 0x7e) || c == '\t' || c == '\r' || c == '\n';
}

/* A TLS record header, checked field by field as its bytes arrive. */
static tlssniff_kind classify_record(const unsigned char *b, size_t len, int final)
{
    int handshake = b[0] == REC_HANDSHAKE;
    if (len >= 2 && b[1] != 0x03)
        return TLSSNIFF_UNKNOWN;
    if (len >= 3 && b[2] > 0x04)
        return TLSSNIFF_UNKNOWN;
    if (len >= 5) {
        unsigned rl = (unsigned)b[3] << 8 | b[4];
        if (rl == 0 || rl > (handshake ? MAX_PLAIN : MAX_CIPHER))
            return TLSSNIFF_UNKNOWN;
        if (!handshake)
            return TLSSNIFF_TLS_RECORD;
        if (len >= 6)
            return b[5] == HS_CLIENT_HELLO ? TLSSNIFF_TLS_HELLO : TLSSNIFF_TLS_RECORD;
    }
    if (!final)
        return TLSSNIFF_NEED_MORE;
    return handshake ? TLSSNIFF_TLS_HELLO : TLSSNIFF_TLS_RECORD;
}

/* SSL 2.0 record: 2-byte length with the top bit set, CLIENT-HELLO (1), version 0x0002 or
 * 0x0300..0x0304 (the form TLS clients used to reach SSL 2.0 servers). */
static tlssniff_kind classify_ssl2(const unsigned char *b, size_t len, int final)
{
    if (len >= 2 && (((unsigned)b[0] & 0x7f) << 8 | b[1]) < SSL2_MIN_LEN)
        return TLSSNIFF_UNKNOWN;
    if (len >= 3 && b[2] != 0x01)
        return TLSSNIFF_UNKNOWN;
    if (len >= 4 && b[3] != 0x00 && b[3] != 0x03)
        return TLSSNIFF_UNKNOWN;
    if (len >= 5) {
        int ok = (b[3] == 0x00 && b[4] == 0x02) || (b[3] == 0x03 && b[4] <= 0x04);
        return ok ? TLSSNIFF_SSL2_HELLO : TLSSNIFF_UNKNOWN;
    }
    /* One byte >= 0x80 proves nothing (it may be 8-bit text). */
    return final ? TLSSNIFF_UNKNOWN : TLSSNIFF_NEED_MORE;
}

static tlssniff_kind classify_text(const unsigned char *b, size_t len, int final)
{
    size_t window = len < TLSSNIFF_DECIDE_BYTES ? len : TLSSNIFF_DECIDE_BYTES;
    for (size_t i = 0; i < window; i++) {
        if (!is_text(b[i]))
            return TLSSNIFF_UNKNOWN;
        if (b[i] == '\n')
            return TLSSNIFF_PLAINTEXT;
    }
    if (len >= TLSSNIFF_DECIDE_BYTES || final)
        return TLSSNIFF_PLAINTEXT;
    return TLSSNIFF_NEED_MORE;
}

tlssniff_kind tlssniff_classify(const char *buf, size_t len, int final)
{
    const unsigned char *b = (const unsigned char *)buf;
    if (len == 0)
        return final ? TLSSNIFF_UNKNOWN : TLSSNIFF_NEED_MORE;
    if (b[0] >= REC_FIRST && b[0] <= REC_LAST)
        return classify_record(b, len, final);
    if (b[0] & 0x80)
        return classify_ssl2(b, len, final);
    if (is_text(b[0]))
        return classify_text(b, len, final);
    return TLSSNIFF_UNKNOWN;
}

const char *tlssniff_kind_name(tlssniff_kind kind)
{
    switch (kind) {
    case TLSSNIFF_NEED_MORE: return "need-more";
    case TLSSNIFF_TLS_HELLO: return "tls-client-hello";
    case TLSSNIFF_SSL2_HELLO: return "ssl2-client-hello";
    case TLSSNIFF_TLS_RECORD: return "tls-record";
    case TLSSNIFF_PLAINTEXT: return "plaintext";
    case TLSSNIFF_UNKNOWN: return "unknown";
    }
    return "unknown";
}

const char *tlssniff_version_name(uint16_t version)
{
    switch (version) {
    case 0x0300: return "SSLv3";
    case 0x0301: return "TLSv1";
    case 0x0302: return "TLSv1.1";
    case 0x0303: return "TLSv1.2";
    case 0x0304: return "TLSv1.3";
    }
    return "unknown";
}

/* ---------------------------------------------------------------------------------------- */
/* ClientHello reader: a cursor over [p, p+n) whose offsets are reported from buffer start. */

typedef struct cursor {
    const unsigned char *p;
    size_t n, at, base;  /* base: offset of p in the caller's buffer, for errors */
} cursor;

static int get(cursor *c, size_t width, size_t *v)
{
    if (c->n - c->at < width)
        return -1;
    size_t x = 0;
    for (size_t i = 0; i < width; i++)
        x = x << 8 | c->p[c->at + i];
    c->at += width;
    *v = x;
    return 0;
}

/* Split off a length-prefixed vector: width-byte length, then that many bytes into *sub. */
static int vector(cursor *c, size_t width, cursor *sub)
{
    size_t len;
    if (get(c, width, &len) || c->n - c->at < len)
        return -1;
    *sub = (cursor){c->p + c->at, len, 0, c->base + c->at};
    c->at += len;
    return 0;
}

static size_t here(const cursor *c)
{
    return c->base + c->at;
}

/* server_name (RFC 6066 3): ServerNameList of (name_type, opaque HostName<1..2^16-1>). */
static int read_sni(cursor ext, tlssniff_hello *h, mr_error *err)
{
    cursor list;
    if (vector(&ext, 2, &list) || ext.at != ext.n)
        return mr_fail(err, MR_E_SYNTAX, "ServerNameList", here(&ext));
    while (list.at < list.n) {
        size_t type;
        cursor name;
        if (get(&list, 1, &type) || vector(&list, 2, &name))
            return mr_fail(err, MR_E_SYNTAX, "ServerName", here(&list));
        if (type == SNI_HOST_NAME && !h->sni.p && name.n) {
            h->sni.p = (const char *)name.p;
            h->sni.n = name.n;
        }
    }
    return 0;
}

/* supported_versions (RFC 8446 4.2.1): ProtocolVersion versions<2..254>. */
static int read_versions(cursor ext, tlssniff_hello *h, mr_error *err)
{
    cursor list;
    if (vector(&ext, 1, &list) || ext.at != ext.n || list.n % 2)
        return mr_fail(err, MR_E_SYNTAX, "SupportedVersions", here(&ext));
    h->has_supported_versions = 1;
    size_t v;
    while (get(&list, 2, &v) == 0)
        if ((v >> 8) == 0x03 && v > h->max_version)  /* GREASE (0x?a?a) never starts 0x03 */
            h->max_version = (uint16_t)v;
    return 0;
}

static int read_extensions(cursor *body, tlssniff_hello *h, mr_error *err)
{
    cursor exts;
    if (vector(body, 2, &exts) || body->at != body->n)
        return mr_fail(err, MR_E_SYNTAX, "ClientHello.extensions", here(body));
    while (exts.at < exts.n) {
        size_t type;
        cursor data;
        if (get(&exts, 2, &type) || vector(&exts, 2, &data))
            return mr_fail(err, MR_E_SYNTAX, "Extension", here(&exts));
        int rc = 0;
        if (type == EXT_SERVER_NAME)
            rc = read_sni(data, h, err);
        else if (type == EXT_SUPPORTED_VERSIONS && !h->has_supported_versions)
            rc = read_versions(data, h, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ClientHello body (RFC 8446 4.1.2): version, random, session id, suites, compression,
 * then extensions unless the message ends there (pre-TLS 1.2 clients may send none). */
static int read_body(cursor *body, tlssniff_hello *h, mr_error *err)
{
    size_t v;
    cursor skip, suites;
    if (get(body, 2, &v) || (v >> 8) != 0x03)
        return mr_fail(err, MR_E_SYNTAX, "ClientHello.legacy_version", here(body));
    h->legacy_version = (uint16_t)v;
    h->max_version = 0;
    if (body->n - body->at < 32)
        return mr_fail(err, MR_E_SYNTAX, "ClientHello.random", here(body));
    body->at += 32;
    if (vector(body, 1, &skip) || skip.n > 32)
        return mr_fail(err, MR_E_SYNTAX, "ClientHello.legacy_session_id", here(body));
    if (vector(body, 2, &suites) || suites.n < 2 || suites.n % 2)
        return mr_fail(err, MR_E_SYNTAX, "ClientHello.cipher_suites", here(body));
    h->ncipher_suites = (uint16_t)(suites.n / 2);
    if (vector(body, 1, &skip) || skip.n < 1)
        return mr_fail(err, MR_E_SYNTAX, "ClientHello.legacy_compression_methods",
                       here(body));
    int rc = body->at == body->n ? 0 : read_extensions(body, h, err);
    if (!rc && !h->max_version)
        h->max_version = h->legacy_version;
    return rc;
}

int tlssniff_parse_hello(const char *buf, size_t len, tlssniff_hello *out, mr_error *err)
{
    const unsigned char *b = (const unsigned char *)buf;
    if (len >= 1 && b[0] != REC_HANDSHAKE)
        return mr_fail(err, MR_E_SYNTAX, "TLSPlaintext.type", 0);
    if (len >= 2 && b[1] != 0x03)
        return mr_fail(err, MR_E_SYNTAX, "TLSPlaintext.legacy_record_version", 1);
    if (len >= 3 && b[2] > 0x04)
        return mr_fail(err, MR_E_SYNTAX, "TLSPlaintext.legacy_record_version", 2);
    if (len < 5)
        return MR_NEED_MORE;
    size_t rl = (size_t)b[3] << 8 | b[4];
    if (rl == 0)
        return mr_fail(err, MR_E_SYNTAX, "TLSPlaintext.length", 3);
    if (rl > MAX_PLAIN)
        return mr_fail(err, MR_E_LIMIT_LINE, "TLSPlaintext.length", 3);
    if (len < 5 + rl)
        return MR_NEED_MORE;
    cursor rec = {b + 5, rl, 0, 5};
    size_t type, hl;
    if (get(&rec, 1, &type) || type != HS_CLIENT_HELLO)
        return mr_fail(err, MR_E_SYNTAX, "Handshake.msg_type", 5);
    if (get(&rec, 3, &hl))
        return mr_fail(err, MR_E_SYNTAX, "Handshake.length", here(&rec));
    if (hl > rec.n - rec.at)
        return mr_fail(err, MR_E_LIMIT_LINE, "ClientHello in one record", 6);
    if (hl < rec.n - rec.at)
        return mr_fail(err, MR_E_SYNTAX, "Handshake.length", 6);
    tlssniff_hello h = {.record_version = (uint16_t)(b[1] << 8 | b[2])};
    cursor body = {rec.p + rec.at, hl, 0, here(&rec)};
    int rc = read_body(&body, &h, err);
    if (rc)
        return rc;
    *out = h;
    return (int)(5 + rl);
}
