/* sasl_oauth.h -- the OAuth 2.0 SASL mechanisms: XOAUTH2 (Google, Microsoft) and OAUTHBEARER
 * (RFC 7628), both directions, and the JSON error challenge they share.
 *
 * Conventions as in sasl.h: parsers take one whole decoded message and return 0 or MR_ERROR
 * with *err (offsets from the start of the message); slices point into the message; writers
 * return the message length and write only when it fits. A slice with p == NULL is absent;
 * a present but empty value has p != NULL and n == 0.
 *
 * Wire forms (^A is the byte 0x01, "kvsep" in RFC 7628):
 *   XOAUTH2 client      user=<addr>^Aauth=Bearer <token>^A^A
 *   OAUTHBEARER client  n,a=<authzid>,^Ahost=<host>^Aport=<port>^Aauth=Bearer <token>^A^A
 *   error challenge     {"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}
 *                       {"status":"invalid_token","scope":"...","openid-configuration":"..."}
 *   client after error  XOAUTH2: an empty message; OAUTHBEARER: ^A alone (RFC 7628 3.2.3)
 */
#ifndef MAILRIG_PROTO_SASL_OAUTH_H
#define MAILRIG_PROTO_SASL_OAUTH_H

#include <stddef.h>

#include "mr.h"
#include "sasl.h"

/* Unknown key=value pairs kept per message (RFC 7628 section 3.1: a server ignores keys it
 * does not know; mailrig keeps them so that a message can be written back unchanged). More
 * than this many is MR_E_LIMIT_COUNT. */
#define SASL_OAUTH_MAX_EXTRA 8

typedef struct sasl_kv {
    mr_slice key;
    mr_slice value;
} sasl_kv;

/* The "auth" value: credentials = "Bearer" 1*SP b64token (RFC 6750 section 2.1). The scheme is
 * compared ignoring case (RFC 7628 section 4 / RFC 9110). */
typedef struct sasl_bearer {
    mr_slice scheme; /* "Bearer" as sent; empty for an empty auth value (MR_LENIENT) */
    mr_slice token;
} sasl_bearer;

/* ---- XOAUTH2 ------------------------------------------------------------------------- */

typedef struct sasl_xoauth2 {
    int dummy;        /* the message was empty: the client's reply to an error challenge */
    mr_slice user;    /* the mailbox address (for Exchange, the shared mailbox if any) */
    sasl_bearer auth;
    size_t nextra;    /* MR_LENIENT: pairs with other keys, in order */
    sasl_kv extra[SASL_OAUTH_MAX_EXTRA];
} sasl_xoauth2;

/* Parse an XOAUTH2 client message. MR_STRICT: exactly "user=" user ^A "auth=" credentials ^A ^A
 * with a non-empty user and a b64token. MR_LENIENT: the pairs in any order, key names in any
 * case, extra pairs, an empty or missing user, 8-bit bytes in values, a missing final ^A or
 * both, any scheme, any token of visible characters.
 * Errors: MR_E_SYNTAX with rule "kvpair" / "key" / "kvsep" / "user" / "auth" / "credentials"
 * / "b64token" at the offending byte; MR_E_NUL, MR_E_CTL or (MR_STRICT) MR_E_8BIT "value" for
 * a byte a value may not hold; MR_E_EMPTY "user"; MR_E_LIMIT_LITERAL (key over max_field, user
 * over max_field, token over max_token, message over max_message); MR_E_LIMIT_COUNT "kvpair"
 * (more than lim->max_pairs pairs or SASL_OAUTH_MAX_EXTRA unknown ones); MR_E_TRAILING after
 * the final ^A. A key given twice is MR_E_SYNTAX "kvpair". Scans each byte once. */
int sasl_xoauth2_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                       sasl_xoauth2 *out, mr_error *err);

/* Write "user=" user ^A "auth=" scheme SP token ^A [extra pairs ^A] ^A, or nothing for a
 * dummy. Values may not contain ^A, NUL or other control characters except HTAB, CR, LF
 * (MR_E_CTL); keys must be letters (MR_E_SYNTAX "key"). */
int sasl_xoauth2_write(const sasl_xoauth2 *m, char *dst, size_t cap, mr_error *err);

/* ---- GS2 header (RFC 5801 section 4), as used by OAUTHBEARER ---------------------------- */

typedef struct sasl_gs2 {
    int nonstd;       /* "F," prefix (gs2-nonstd-flag) */
    char cbflag;      /* 'n', 'y' or 'p' */
    mr_slice cbname;  /* after "p=" */
    mr_slice authzid; /* after "a=", still escaped (=2C for ',', =3D for '='); absent: p NULL */
} sasl_gs2;

/* Decode a saslname (=2C -> ',', =3D -> '='). Returns the decoded length, written when it
 * fits in cap; MR_ERROR with MR_E_SYNTAX "saslname" for '=' not followed by 2C or 3D, or for
 * a raw ','. */
int sasl_gs2_name_decode(mr_slice name, char *dst, size_t cap, mr_error *err);

/* Encode a name as a saslname (',' -> =2C, '=' -> =3D). Returns the length, written when it
 * fits; MR_E_NUL for a NUL. */
int sasl_gs2_name_encode(mr_slice name, char *dst, size_t cap, mr_error *err);

/* ---- OAUTHBEARER (RFC 7628) ------------------------------------------------------------ */

typedef struct sasl_oauthbearer {
    int dummy;         /* the message was ^A alone: the client's reply to an error challenge */
    sasl_gs2 gs2;
    mr_slice host;     /* absent: p NULL */
    mr_slice port;     /* the digits; absent: p NULL */
    unsigned port_num; /* their value (0 when absent) */
    sasl_bearer auth;  /* required */
    size_t nextra;     /* other pairs, in order */
    sasl_kv extra[SASL_OAUTH_MAX_EXTRA];
} sasl_oauthbearer;

/* Parse an OAUTHBEARER client message: client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep.
 * MR_STRICT: cb flag 'n' or 'y' (OAUTHBEARER defines no channel binding), no "F," flag, a
 * valid UTF-8 saslname, key = 1*ALPHA, value = *(VCHAR / SP / HTAB / CR / LF), port =
 * 1*5DIGIT up to 65535, auth = "Bearer" 1*SP b64token, present exactly once; "host", "port" and
 * "auth" in lower case (a known key in another case, which readers would disagree about, is
 * MR_E_SYNTAX "key"); other keys are kept in extra. MR_LENIENT also accepts 'p=' and "F,",
 * keys in any case, 8-bit bytes, lower-case hex in saslname escapes, any scheme and any token
 * of visible characters, an empty auth value (PostgreSQL's discovery request), a missing
 * kvsep after the header (KAFKA-7182) and a missing final kvsep.
 * Both modes refuse control characters in the authzid although RFC 5801 allows %x01-1F there:
 * a ^A in it would read differently to every implementation that splits on kvsep first.
 * Errors: MR_E_SYNTAX with rule "gs2-header", "gs2-cb-flag", "saslname", "cb-name", "kvsep",
 * "kvpair", "key", "port", "auth", "credentials" or "b64token" at the offending byte; MR_E_NUL /
 * MR_E_CTL "saslname"; MR_E_UTF8 "saslname" (MR_STRICT); the value, limit and trailing errors
 * of XOAUTH2 (host over max_field is MR_E_LIMIT_LITERAL "host", authzid "saslname"). */
int sasl_oauthbearer_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                           sasl_oauthbearer *out, mr_error *err);

/* Write gs2-header ^A [host=..^A] [port=..^A] auth=scheme SP token^A [extra pairs^A] ^A, or ^A
 * alone for a dummy. cbflag must be 'n', 'y' or 'p' (with a cb-name); authzid must be a valid
 * saslname; port must be digits. */
int sasl_oauthbearer_write(const sasl_oauthbearer *m, char *dst, size_t cap, mr_error *err);

/* ---- The error challenge (RFC 7628 section 3.2.2; Google's XOAUTH2 failure) -------------- */

/* Kept as parsed fields rather than an opaque blob because the client role and the diagnosis
 * act on them (a 401 "invalid_token" means refresh the token; a missing scope means the app
 * asked for the wrong one), and mock servers must write Google's and RFC 7628's exact bytes.
 * The scanner reads one flat JSON object (RFC 8259) of bounded size: nested objects and arrays
 * are MR_E_LIMIT_DEPTH, never recursed into. Values are the raw contents of the JSON strings,
 * escapes untouched: use sasl_json_unescape() for the text. */
typedef struct sasl_oauth_error {
    mr_slice status;               /* RFC 7628: required; Google: "401", "400" */
    mr_slice schemes;              /* Google: "bearer" or "bearer mac" */
    mr_slice scope;                /* space-separated scopes */
    mr_slice openid_configuration; /* RFC 7628: discovery document URL */
    size_t nother;                 /* other members, skipped */
} sasl_oauth_error;

/* Parse an error challenge. Whitespace is allowed around tokens (Google ends the object with
 * LF). MR_STRICT requires "status" and string values for the four known members, and valid
 * UTF-8 in strings; MR_LENIENT also accepts a missing status and numbers, true, false or null
 * for them (kept as the raw token). Errors: MR_E_SYNTAX "json-object" / "json-string" /
 * "json-value" / "status" at the offending byte, MR_E_SYNTAX "member" for a known member given
 * twice, MR_E_CTL "json-string" for a raw control character, MR_E_UTF8, MR_E_TRAILING after the
 * object, MR_E_LIMIT_DEPTH "json-value" for a nested object or array, MR_E_LIMIT_LITERAL
 * "json-object" over lim->max_json, MR_E_LIMIT_COUNT "member" over lim->max_json_members. */
int sasl_oauth_error_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                           sasl_oauth_error *out, mr_error *err);

/* Write {"status":..,"schemes":..,"scope":..,"openid-configuration":..} with the members that
 * are present, in that order (Google's order, then RFC 7628's), no spaces. Each value is
 * written as a JSON string verbatim, so it must already be valid string content (escape plain
 * text with sasl_json_escape()): MR_E_SYNTAX "json-string" otherwise. */
int sasl_oauth_error_write(const sasl_oauth_error *e, char *dst, size_t cap, mr_error *err);

/* Decode the escapes of JSON string contents (RFC 8259 section 7) to UTF-8. Returns the length,
 * written when it fits in cap; MR_ERROR MR_E_SYNTAX "json-string" for a bad escape, a lone
 * surrogate, a raw '"' or a control character. */
int sasl_json_unescape(mr_slice s, char *dst, size_t cap, mr_error *err);

/* Escape text as JSON string contents: '"', '\\' and control characters. Returns the length,
 * written when it fits. */
int sasl_json_escape(mr_slice s, char *dst, size_t cap, mr_error *err);

#endif
