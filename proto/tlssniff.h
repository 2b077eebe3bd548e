/* tlssniff.h -- what did the peer send first: a TLS ClientHello, protocol text, or neither?
 *
 * Two setup mistakes are common enough to deserve a name in every transcript: a client that
 * starts TLS on a plaintext/STARTTLS port ("TLS handshake on STARTTLS port": its ClientHello
 * arrives where a command was expected), and a client that speaks plaintext on an implicit-TLS
 * port ("plaintext on implicit-TLS port"). A server peeks at the first bytes a connection sends
 * (recv(MSG_PEEK), or the input buffer before it is consumed) and asks tlssniff_classify();
 * the same works on the client side for what a server sent when TLS was expected (a plaintext
 * "220 ..." banner on a port the client treated as implicit TLS).
 *
 * Pure byte parsing, no allocation, no state: bytes in, a verdict out. The ClientHello reader
 * follows proto/mr.h: slices into the caller's buffer, MR_NEED_MORE / MR_ERROR.
 * RFC 8446 section 5.1 (records), 4.1.2 (ClientHello), RFC 6066 section 3 (server_name),
 * RFC 6101 appendix E.2 / RFC 5246 appendix E.2 (the SSL 2.0-format ClientHello).
 */
#ifndef MAILRIG_PROTO_TLSSNIFF_H
#define MAILRIG_PROTO_TLSSNIFF_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mr.h"

typedef enum tlssniff_kind {
    TLSSNIFF_NEED_MORE = 0,  /* not enough bytes to say yet */
    TLSSNIFF_TLS_HELLO,      /* a TLS handshake record (0x16 0x03 0x00..0x04, length 1..2^14)
                                holding a ClientHello (handshake type 1) */
    TLSSNIFF_SSL2_HELLO,     /* an SSL 2.0-format ClientHello, sent by pre-2010 clients */
    TLSSNIFF_TLS_RECORD,     /* another well-formed TLS record: a ServerHello or other
                                handshake message, an alert, application data */
    TLSSNIFF_PLAINTEXT,      /* printable ASCII (plus tab, CR, LF) up to the first LF or for
                                TLSSNIFF_DECIDE_BYTES bytes: a command, greeting or reply */
    TLSSNIFF_UNKNOWN,        /* anything else: binary, NUL, 8-bit bytes, a broken header */
} tlssniff_kind;

/* tlssniff_classify() never needs more than this many bytes to decide. */
#define TLSSNIFF_DECIDE_BYTES 8

/* Classify the first len bytes a peer sent on a connection.
 * Returns TLSSNIFF_NEED_MORE while undecided, which happens only for len < TLSSNIFF_DECIDE_BYTES.
 * final != 0 says no more bytes will come (EOF, a timeout): the verdict is then the best one
 * for what is there, never TLSSNIFF_NEED_MORE (an empty input is TLSSNIFF_UNKNOWN; a
 * consistent start of a TLS header counts as that record).
 * Monotonic: once a prefix gets a verdict, every longer input starting with it gets the same,
 * so calling again as bytes arrive is safe. Reads at most TLSSNIFF_DECIDE_BYTES bytes. */
tlssniff_kind tlssniff_classify(const char *buf, size_t len, int final);

/* A stable name for logs and transcripts: "need-more", "tls-client-hello",
 * "ssl2-client-hello", "tls-record", "plaintext", "unknown". */
const char *tlssniff_kind_name(tlssniff_kind kind);

/* What a ClientHello offers, as far as the transcript cares. */
typedef struct tlssniff_hello {
    uint16_t record_version;   /* TLSPlaintext.legacy_record_version, e.g. 0x0301 */
    uint16_t legacy_version;   /* ClientHello.legacy_version, e.g. 0x0303 */
    uint16_t max_version;      /* the highest 0x03xx in supported_versions (GREASE ignored),
                                  else legacy_version */
    int has_supported_versions;
    mr_slice sni;              /* the first host_name in server_name; {NULL, 0} when absent.
                                  Raw peer bytes (not validated, never NUL-terminated): escape
                                  before printing */
    uint16_t ncipher_suites;   /* cipher suites offered, GREASE included */
} tlssniff_hello;

/* Read the ClientHello in the first TLS record of buf[0..len).
 * Returns the bytes of that record (5 + its length) when it holds a whole ClientHello,
 * MR_NEED_MORE when the record is incomplete (at most 5 + 2^14 bytes are ever needed), or
 * MR_ERROR with *err (rule names the structure, offset the byte): MR_E_SYNTAX for a record
 * or message that is not a ClientHello or whose lengths disagree, MR_E_LIMIT_LINE for a
 * record longer than 2^14 or a ClientHello continued in a second record (legal, never seen
 * from mail clients, not supported here). Whenever this returns > 0, tlssniff_classify() on
 * the same bytes says TLSSNIFF_TLS_HELLO. *out is filled only on success. */
int tlssniff_parse_hello(const char *buf, size_t len, tlssniff_hello *out, mr_error *err);

/* "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3" (OpenSSL's spelling), or "unknown". */
const char *tlssniff_version_name(uint16_t version);

#endif
