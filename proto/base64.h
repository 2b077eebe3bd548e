/* base64.h -- RFC 4648 base64 (section 4 alphabet): an encoder and a checked decoder.
 *
 * Both work on caller buffers: no allocation, no OpenSSL, no state between calls. The decoder
 * is table-driven and takes whole quanta (4 characters -> 3 bytes) in its hot loop.
 *
 * Sizes are computed without overflow (curl CVE-2016-8617 multiplied first and wrapped on
 * 32-bit hosts): b64_encoded_len() saturates at SIZE_MAX, and no function ever produces more
 * than MR_LIMIT_MAX bytes, so every result fits in an int.
 */
#ifndef MAILRIG_PROTO_BASE64_H
#define MAILRIG_PROTO_BASE64_H

#include <stddef.h>

#include "mr.h"

/* Decoder flags. B64_STRICT (no flag) accepts exactly what b64_encode() produces: only the
 * 64 alphabet characters, '=' padding to a multiple of 4 characters, zero bits in the padding
 * positions (RFC 4648 section 3.5 allows a decoder to reject non-zero ones), no whitespace.
 * The others relax one rule each. */
enum b64_flags {
    B64_STRICT = 0,
    B64_PAD_OPTIONAL = 1u << 0, /* the final '=' padding may be missing or short */
    B64_PADBITS_ANY = 1u << 1,  /* non-zero bits before the padding are ignored */
    B64_SKIP_SPACE = 1u << 2,   /* CR, LF, SP and HTAB are skipped wherever they appear */
    /* What deployed clients send in one line: unpadded or sloppily padded base64. */
    B64_LENIENT = B64_PAD_OPTIONAL | B64_PADBITS_ANY,
};

/* Length of the encoding of n bytes: 4 * ceil(n / 3). Saturates at SIZE_MAX when that does
 * not fit in a size_t (no buffer is that large, so a "does it fit" check then fails). */
size_t b64_encoded_len(size_t n);

/* Largest number of bytes n characters of base64 can decode to: 3 per 4 characters, plus
 * 1 or 2 for an unpadded tail of 2 or 3. Never overflows (the result is less than n). */
size_t b64_decoded_max(size_t n);

/* Encode src[0..n) into dst with '=' padding, no line breaks, no NUL terminator.
 * Returns the encoded length L (b64_encoded_len(n)). dst is written only when L <= cap, and
 * dst may be NULL to ask for the length. Returns MR_ERROR (MR_E_LIMIT_LITERAL, rule "base64")
 * when L would exceed MR_LIMIT_MAX. err may be NULL. Memory: none beyond dst. */
int b64_encode(const void *src, size_t n, char *dst, size_t cap, mr_error *err);

/* Decode src[0..n) into dst, checking it against the rules selected by flags.
 * Returns the decoded length (>= 0), or MR_ERROR with *err (err may be NULL):
 *   MR_E_BASE64 "base64-char"     a byte outside the alphabet (or whitespace without
 *                                 B64_SKIP_SPACE); offset = that byte
 *   MR_E_BASE64 "base64-pad"      '=' where it cannot be (offset = the '='), data after the
 *                                 padding (offset = that byte), or a final quantum of 2 or 3
 *                                 characters without its full padding (offset = n), unless
 *                                 B64_PAD_OPTIONAL
 *   MR_E_BASE64 "base64-padbits"  non-zero bits in the last character before the padding
 *                                 (offset = that character), unless B64_PADBITS_ANY
 *   MR_E_BASE64 "base64-length"   a final quantum of a single character, which cannot hold
 *                                 a byte (offset = that character)
 *   MR_E_LIMIT_LITERAL "base64"   the decoded bytes would exceed cap (offset = the first
 *                                 character of the quantum that does not fit)
 * cap is the caller's limit on the decoded size (clamped to MR_LIMIT_MAX); size dst with
 * b64_decoded_max(n) to never hit it. dst may be NULL to validate and count only. Nothing is
 * written past dst[cap-1]; on error dst may hold a prefix of the output. Time is linear in the
 * bytes examined, and decoding stops at the first error. */
int b64_decode(const char *src, size_t n, void *dst, size_t cap, unsigned flags, mr_error *err);

/* ---- Syntax only, for protocol parsers that pass base64 on undecoded --------------------- */

/* Is c one of the 64 alphabet characters ('=' is not)? */
int b64_is_char(unsigned char c);

/* The base64 text at the start of p[0..n): a run of alphabet characters, then at most two
 * '='. Returns its length; *data (may be NULL) gets the number of alphabet characters in it.
 * Neither the length nor the padding bits are checked, nothing is decoded. */
size_t b64_span(const char *p, size_t n, size_t *data);

/* Is p[0..n) base64 with its padding (the whole of it is a b64_span() whose length is a
 * multiple of 4; empty is valid)? What SMTP and POP3 check of base64 they pass on undecoded
 * (RFC 4954 section 4, RFC 5034 section 4). Returns 0, or -1 with *bad set to the offset of the
 * first byte that does not fit, or to n when only the length is wrong. */
int b64_syntax_check(const char *p, size_t n, size_t *bad);

#endif
