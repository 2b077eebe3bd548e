/* sasl.h -- SASL (RFC 4422) for mail protocols: the mechanism table, the framing of one SASL
 * message on a line (shared by IMAP AUTHENTICATE, SMTP AUTH and POP3 AUTH), and the messages
 * of PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login) and CRAM-MD5 (RFC 2195).
 * XOAUTH2 and OAUTHBEARER are in sasl_oauth.h, transcript redaction in sasl_redact.h.
 *
 * Two layers:
 *  1. A SASL message travels base64-encoded inside a protocol line (`AUTH PLAIN <b64>`,
 *     `+ <b64>`, `334 <b64>`, or a client continuation line `<b64>` / `*`). The command and
 *     reply parsers of each protocol find that text; sasl_payload_decode() turns it into
 *     bytes, an empty message or an abort. sasl_response_line_parse() does both steps for a
 *     client continuation line, which no command parser owns.
 *  2. A decoded message is parsed by its mechanism's parser. A SASL message arrives whole (it
 *     is one base64 unit), so these parsers are not incremental: they return 0 when the whole
 *     message is valid, or MR_ERROR with *err (offset counted from the start of the message).
 *     Slices in the results point into the message.
 *
 * Nothing here computes a digest or checks a password: proto/ holds no crypto and no secrets.
 * Writers (sasl_*_write) follow one convention: they return the length L of the message, which
 * is complete in dst when L <= cap (dst may be NULL to ask for L; when L > cap, dst[0..cap) may
 * hold a prefix and nothing is written past cap); they return MR_ERROR with *err when the input
 * cannot be written as a message that parses back to the same value (a NUL inside a field, an
 * empty required field) or when L would exceed MR_LIMIT_MAX. Writers do not apply sasl_limits:
 * a test client may send an over-long field on purpose. err may be NULL everywhere.
 *
 * Bounds: every parser looks at each byte of the message at most once and at no more than
 * lim->max_message bytes (fewer when a field limit is passed first); none uses memory beyond its
 * output struct and a few words of stack.
 */
#ifndef MAILRIG_PROTO_SASL_H
#define MAILRIG_PROTO_SASL_H

#include <stddef.h>

#include "mr.h"

/* ---- Limits --------------------------------------------------------------------------- */

/* Every SASL parser bounds what it reads by these. Pass NULL for the defaults. */
typedef struct sasl_limits {
    size_t max_line;    /* a client continuation line without CRLF. Default 12288, the AUTH
                           command line length of RFC 4954 section 4. */
    size_t max_message; /* a decoded message. Default 12288. */
    size_t max_field;   /* an identity or password: PLAIN authzid/authcid/passwd, LOGIN
                           challenge/username/password, CRAM-MD5 user, challenge local part and
                           host, XOAUTH2 user, GS2 authzid and cb-name, OAUTHBEARER host, the
                           key of a key=value pair. Default 255 (RFC 4616 section 2: "MUST
                           accept up to 255 octets"; RFC 1035 host names). */
    size_t max_token;   /* an OAuth bearer token. Default 8192 (Entra ID access tokens are
                           1.5-4 KB, Google's under 300 bytes). Any key=value value may take
                           max_token + 64 bytes (the auth value's scheme and spaces), or
                           max_field if that is larger. */
    size_t max_pairs;   /* key=value pairs in an XOAUTH2 / OAUTHBEARER message. Default 16. */
    size_t max_json;    /* an OAuth error challenge (JSON) in bytes. Default 4096. */
    size_t max_json_members; /* members in that JSON object. Default 16. */
} sasl_limits;

#define SASL_LIMITS_DEFAULT                                                                 \
    {                                                                                       \
        .max_line = 12288, .max_message = 12288, .max_field = 255, .max_token = 8192,       \
        .max_pairs = 16, .max_json = 4096, .max_json_members = 16                           \
    }

/* The defaults above, as a value. */
sasl_limits sasl_limits_default(void);

/* ---- Mechanism names (RFC 4422 section 3.1) -------------------------------------------- */

typedef enum sasl_mech {
    SASL_MECH_UNKNOWN = 0, /* a syntactically valid name mailrig has no entry for */
    SASL_MECH_PLAIN,       /* RFC 4616 */
    SASL_MECH_LOGIN,       /* draft-murchison-sasl-login; Exchange's only password mech */
    SASL_MECH_CRAM_MD5,    /* RFC 2195 */
    SASL_MECH_DIGEST_MD5,  /* RFC 2831, historic (RFC 6331) but still advertised */
    SASL_MECH_XOAUTH2,     /* Google / Microsoft */
    SASL_MECH_OAUTHBEARER, /* RFC 7628 */
    SASL_MECH_XOAUTH,      /* Gmail's OAuth 1.0 predecessor of XOAUTH2 */
    SASL_MECH_NTLM,        /* Exchange on-premises ("Secure Password Authentication") */
    SASL_MECH_GSSAPI,      /* RFC 4752, Kerberos */
    SASL_MECH_GSS_SPNEGO,  /* Microsoft Negotiate */
    SASL_MECH_ATOKEN,      /* iCloud's token mechanism (undocumented) */
    SASL_MECH_SCRAM_SHA_1, /* RFC 5802 */
    SASL_MECH_SCRAM_SHA_1_PLUS,
    SASL_MECH_SCRAM_SHA_256, /* RFC 7677 */
    SASL_MECH_SCRAM_SHA_256_PLUS,
    SASL_MECH_EXTERNAL,  /* RFC 4422 appendix A */
    SASL_MECH_ANONYMOUS, /* RFC 4505 */
    SASL_MECH_PLAIN_CLIENTTOKEN, /* Gmail */
    SASL_MECH__COUNT
} sasl_mech;

/* Properties of a mechanism, for client choice and for checks. */
enum sasl_mech_flags {
    SASL_MECHF_CLEARTEXT = 1u << 0,    /* the password can be read off the wire */
    SASL_MECHF_BEARER = 1u << 1,       /* carries a bearer token: replayable if seen */
    SASL_MECHF_CLIENT_FIRST = 1u << 2, /* the client speaks first (an initial response) */
    SASL_MECHF_PARSED = 1u << 3,       /* mailrig parses its messages (and can redact them
                                          field by field rather than whole) */
    SASL_MECHF_NO_SECRET = 1u << 4,    /* its messages carry no credential (EXTERNAL,
                                          ANONYMOUS), so transcripts may show them */
};

/* The mechanism called name, compared ignoring ASCII case (the protocols carry mechanism
 * names as atoms); SASL_MECH_UNKNOWN for anything else. */
sasl_mech sasl_mech_lookup(mr_slice name);

/* The registered (upper-case) name of m, or "UNKNOWN". */
const char *sasl_mech_name(sasl_mech m);

/* The SASL_MECHF_* flags of m (0 for SASL_MECH_UNKNOWN). */
unsigned sasl_mech_flags(sasl_mech m);

/* Check a mechanism name's syntax: sasl-mech = 1*20mech-char, mech-char = UPPER-ALPHA /
 * DIGIT / "-" / "_" (RFC 4422 section 3.1). MR_LENIENT also allows lower case.
 * Returns 0, or MR_ERROR: MR_E_EMPTY, MR_E_LIMIT_LITERAL (more than 20, offset 20) or
 * MR_E_SYNTAX (a bad character, at its offset), rule "sasl-mech". */
int sasl_mech_name_check(mr_slice name, mr_mode mode, mr_error *err);

/* ---- The base64 payload on a line ------------------------------------------------------ */

/* Where a payload appears; each place gives "=" , "" and "*" a different meaning. */
typedef enum sasl_payload_role {
    SASL_INITIAL_RESPONSE,  /* on the AUTHENTICATE / AUTH line (RFC 4959, RFC 4954, RFC 5034):
                               "=" is an empty response */
    SASL_CLIENT_RESPONSE,   /* a client continuation line: "" is an empty response, "*"
                               cancels the exchange (RFC 4422 section 3.5) */
    SASL_SERVER_CHALLENGE,  /* the text after "+ " (IMAP, POP3) or "334 " (SMTP): "" is an
                               empty challenge */
} sasl_payload_role;

typedef enum sasl_payload_kind {
    SASL_PAYLOAD_DATA,  /* base64, decoded into the caller's buffer (at least one byte) */
    SASL_PAYLOAD_EMPTY, /* an empty message: "=" (initial response) or "" */
    SASL_PAYLOAD_ABORT, /* "*": the client cancels (client responses only) */
    SASL_PAYLOAD_TEXT,  /* MR_LENIENT server challenges only: text that is not base64 (and
                           holds no NUL, CR or LF), which some servers send (Exchange's
                           "334 NTLM supported"); see raw */
} sasl_payload_kind;

typedef struct sasl_payload {
    sasl_payload_kind kind;
    mr_slice raw; /* the payload text as it was on the line */
    size_t len;   /* SASL_PAYLOAD_DATA: decoded bytes written to the caller's buffer */
} sasl_payload;

/* Interpret the payload text p[0..n) (no CRLF) found in the given role, decoding base64 into
 * dst[0..cap). MR_STRICT accepts canonical padded base64 only, "=" only as an initial
 * response, "" only as a client response or challenge, "*" only as a client response.
 * MR_LENIENT also accepts unpadded base64, whitespace inside it, "=" and "" in any role, and
 * (challenges only) non-base64 text as SASL_PAYLOAD_TEXT.
 * Returns 0, or MR_ERROR: the b64_decode() errors (MR_E_BASE64 with rule base64-*, at the
 * offending offset; MR_E_LIMIT_LITERAL when the decoded message exceeds cap), MR_E_EMPTY
 * "initial-response" for "" as a strict initial response. Memory: none beyond dst. */
int sasl_payload_decode(const char *p, size_t n, sasl_payload_role role, mr_mode mode,
                        void *dst, size_t cap, sasl_payload *out, mr_error *err);

/* Write a payload: DATA as padded base64 of data[0..n) (n == 0 is written as EMPTY), EMPTY as
 * "=" (initial response) or "" (otherwise), ABORT as "*" (client responses only), TEXT as
 * data verbatim (server challenges only; no CR, LF or NUL). No line end. See the writer
 * convention at the top; MR_E_SYNTAX "payload" when kind does not fit role. */
int sasl_payload_write(sasl_payload_role role, sasl_payload_kind kind, const void *data,
                       size_t n, char *dst, size_t cap, mr_error *err);

/* A client continuation line: the payload (role SASL_CLIENT_RESPONSE) and its CRLF (or bare LF
 * in MR_LENIENT), decoded into dst. Returns the bytes consumed including the line end,
 * MR_NEED_MORE, or MR_ERROR with the errors of mr_line_next() (limit lim->max_line) and of
 * sasl_payload_decode(); offsets count from buf. *scanned as in mr_line_next() (may be NULL).
 * Memory: none beyond dst; at most max_line + 2 bytes are scanned per call. */
int sasl_response_line_parse(const char *buf, size_t len, mr_mode mode,
                             const sasl_limits *lim, size_t *scanned, void *dst, size_t cap,
                             sasl_payload *out, mr_error *err);

/* Write a client continuation line: sasl_payload_write(SASL_CLIENT_RESPONSE, ...) + CRLF. */
int sasl_response_line_write(sasl_payload_kind kind, const void *data, size_t n, char *dst,
                             size_t cap, mr_error *err);

/* ---- A client continuation line passed on undecoded ----------------------------------- */

/* How sasl_response_text_check() reads a line that is not "*" (the protocols differ here, and
 * each keeps the errors it has always reported). */
enum sasl_text_flags {
    SASL_TEXT_WORD = 1u << 0, /* SMTP, POP3: the line is one word. A byte <= SP or >= DEL is an
                                 error in both modes, and MR_LENIENT takes any other text.
                                 Without it (IMAP), MR_LENIENT still wants b64_span() to cover
                                 the line; only its length may be off. */
};

/* The text of a client continuation line (line: without its line end) for the protocol
 * parsers that hand the base64 on undecoded (smtp_auth_response_parse,
 * pop3_auth_response_parse, imap_sasl_line). "*" sets *cancel to 1 and *b64 to an empty slice
 * at the line; anything else sets *cancel to 0 and *b64 to the line, which MR_STRICT checks
 * with b64_syntax_check(). The outputs are set even when the check then fails.
 * Returns 0, or MR_ERROR with MR_E_BASE64 "base64" at the offending byte (at line.n when only
 * the length is wrong). Memory: none; looks at each byte at most twice. */
int sasl_response_text_check(mr_slice line, mr_mode mode, unsigned flags, mr_slice *b64,
                             int *cancel, mr_error *err);

/* Write a continuation line from base64 text: b64 + CRLF, or "*\r\n" when cancel is set (b64
 * is then ignored). See the writer convention at the top; MR_E_BASE64 "base64" at the first
 * byte of b64 that is neither a base64 character nor '=', MR_E_LIMIT_LITERAL "base64" (offset
 * 0) when the line would exceed MR_LIMIT_MAX. */
int sasl_response_text_write(mr_slice b64, int cancel, char *dst, size_t cap, mr_error *err);

/* ---- PLAIN (RFC 4616) ---------------------------------------------------------------- */

/* message = [authzid] UTF8NUL authcid UTF8NUL passwd */
typedef struct sasl_plain {
    mr_slice authzid; /* empty when absent (act as authcid) */
    mr_slice authcid;
    mr_slice passwd;
} sasl_plain;

/* Parse a PLAIN client message. Errors (rule in quotes):
 *   MR_E_SYNTAX "message"        fewer than two NULs (offset = end of message)
 *   MR_E_NUL "passwd"            a third NUL (offset = that NUL)
 *   MR_E_EMPTY "authcid"/"passwd" an empty authcid or passwd
 *   MR_E_LIMIT_LITERAL <field>   a field over lim->max_field (offset = where it passes the
 *                                limit); the message over lim->max_message ("message")
 *   MR_E_UTF8 <field>            MR_STRICT only: invalid UTF-8 (offset = the bad byte)
 * Scans at most 3 * max_field + 2 bytes. */
int sasl_plain_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                     sasl_plain *out, mr_error *err);

/* Write authzid NUL authcid NUL passwd. MR_E_NUL for a NUL in a field, MR_E_EMPTY for an empty
 * authcid or passwd (rule = the field). */
int sasl_plain_write(const sasl_plain *m, char *dst, size_t cap, mr_error *err);

/* ---- LOGIN (draft-murchison-sasl-login) ------------------------------------------------ */

/* The draft says the server SHOULD send "User Name" and "Password"; Cyrus SASL sends them
 * with a trailing NUL ("VXNlciBOYW1lAA==", "UGFzc3dvcmQA"); Exchange, Dovecot, Postfix and
 * most others send "Username:" and "Password:" ("VXNlcm5hbWU6", "UGFzc3dvcmQ6"), as
 * Microsoft's [MS-XLOGIN] specifies. Clients must ignore the text, so any text is valid. */
typedef enum sasl_login_prompt {
    SASL_LOGIN_PROMPT_OTHER = 0, /* text that names neither */
    SASL_LOGIN_PROMPT_USERNAME,
    SASL_LOGIN_PROMPT_PASSWORD,
} sasl_login_prompt;

typedef struct sasl_login_challenge {
    sasl_login_prompt prompt;
    mr_slice text; /* the whole challenge */
} sasl_login_challenge;

/* Classify a LOGIN challenge. Both modes recognise the six forms above exactly; MR_LENIENT
 * also ignores case, spaces and a trailing ':' or NUL ("username", "USER NAME:"). Returns 0,
 * or MR_ERROR: MR_E_LIMIT_LITERAL "login-challenge" over lim->max_field; in MR_STRICT a
 * control character (MR_E_CTL, or MR_E_NUL for a NUL other than one final NUL) or invalid
 * UTF-8 (MR_E_UTF8). */
int sasl_login_challenge_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                               sasl_login_challenge *out, mr_error *err);

/* Write c->text when c->text.p is not NULL, else "Username:" / "Password:" for c->prompt
 * (MR_E_SYNTAX "login-challenge" for SASL_LOGIN_PROMPT_OTHER without text). */
int sasl_login_challenge_write(const sasl_login_challenge *c, char *dst, size_t cap,
                               mr_error *err);

/* Parse a LOGIN response (the username, then the password: the caller knows which).
 * *value is the whole message. MR_STRICT rejects an empty value (MR_E_EMPTY), a NUL (MR_E_NUL)
 * and invalid UTF-8 (MR_E_UTF8); both modes reject more than lim->max_field bytes
 * (MR_E_LIMIT_LITERAL). Rule "login-response". */
int sasl_login_response_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                              mr_slice *value, mr_error *err);

/* Write a LOGIN response: value verbatim. */
int sasl_login_response_write(mr_slice value, char *dst, size_t cap, mr_error *err);

/* ---- CRAM-MD5 (RFC 2195) ------------------------------------------------------------- */

/* The challenge is an RFC 822 msg-id: "<" random-digits "." timestamp-digits "@" host ">",
 * e.g. "<1896.697170952@postoffice.reston.mci.net>". The verifier keys HMAC-MD5 with the
 * shared secret over the whole challenge (text), exactly as sent. */
typedef struct sasl_cram_challenge {
    mr_slice text;      /* the whole challenge, "<" to ">" */
    mr_slice random;    /* the digits before '.'; MR_LENIENT: the whole local part when it is
                           not digits "." digits */
    mr_slice timestamp; /* the digits after '.'; empty in that lenient case */
    mr_slice host;      /* between '@' and '>' */
} sasl_cram_challenge;

/* Parse a CRAM-MD5 challenge. MR_STRICT: "<" 1*DIGIT "." 1*DIGIT "@" host ">" with host made
 * of letters, digits, '-', '.' and '_'. MR_LENIENT: "<" local "@" host ">" where local and host
 * are printable ASCII without '<', '>', '@' and SP. Errors: MR_E_SYNTAX (rules "msg-id",
 * "random", "timestamp", "host") at the offending byte, MR_E_EMPTY, MR_E_LIMIT_LITERAL when the
 * local part or host exceeds lim->max_field. */
int sasl_cram_challenge_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                              sasl_cram_challenge *out, mr_error *err);

/* Write "<" random "." timestamp "@" host ">", or "<" random "@" host ">" when timestamp is
 * empty (text is ignored). random and host must be non-empty; with a timestamp both random
 * and timestamp must be digits (else the message would read back differently). */
int sasl_cram_challenge_write(const sasl_cram_challenge *c, char *dst, size_t cap,
                              mr_error *err);

/* response = user SP digest, digest = 32 lower-case hex digits of HMAC-MD5(secret, challenge).
 * The user name may itself contain spaces: the digest is the last 32 bytes. */
typedef struct sasl_cram_response {
    mr_slice user;
    mr_slice digest; /* the 32 hex digits */
} sasl_cram_response;

/* Parse a CRAM-MD5 response. MR_LENIENT also accepts upper-case hex. Errors: MR_E_SYNTAX
 * "cram-response" when there is no SP before a 32-character digest (offset = where the SP
 * should be, or the end), MR_E_SYNTAX "digest" for a non-hex digit (at it), MR_E_EMPTY "user",
 * MR_E_CTL / MR_E_NUL "user" for control characters, MR_E_UTF8 "user" (MR_STRICT),
 * MR_E_LIMIT_LITERAL "user" over lim->max_field. */
int sasl_cram_response_parse(const char *msg, size_t n, mr_mode mode, const sasl_limits *lim,
                             sasl_cram_response *out, mr_error *err);

/* Write user SP digest. user must be non-empty without control characters; digest must be 32
 * hex digits. */
int sasl_cram_response_write(const sasl_cram_response *r, char *dst, size_t cap,
                             mr_error *err);

/* The 16 bytes of a 32-hex-digit digest (either case), for a verifier to compare with the
 * HMAC-MD5 it computed. Returns 0, or -1 when digest is not 32 hex digits. */
int sasl_cram_digest_decode(mr_slice digest, unsigned char out[16]);

/* The 32 lower-case hex digits of a 16-byte digest, for a client that computed HMAC-MD5. */
void sasl_cram_digest_encode(const unsigned char md[16], char hex[32]);

#endif
