/* mr.h -- conventions shared by every parser in proto/.
 *
 * Every parser in proto/ is pure: bytes in, parsed items out. No I/O, no global state, no
 * allocation. The caller owns the input buffer; parsed items are slices (pointer + length)
 * into it, valid for as long as the caller keeps those bytes where they are.
 *
 * Return convention of every parse function (picohttpparser's, with a stored error):
 *   > 0            one item is complete; the value is the number of bytes it consumed.
 *   MR_NEED_MORE   the input ends inside an item. Nothing was consumed: call again with the
 *                  same bytes plus more. A parser may remember how far it scanned (see each
 *                  header) so that the next call does not rescan.
 *   MR_ERROR       the input is not valid; *err says which rule failed and at which byte
 *                  offset, counted from the start of the buffer passed in that call.
 * Streaming parsers (SMTP DATA, POP3 multi-line, IMAP literals) also return partial items;
 * their headers say how.
 *
 * Every length and count is bounded by a limit the caller sets; exceeding one is an error
 * (MR_E_LIMIT_*), never an allocation or an unbounded scan.
 */
#ifndef MAILRIG_PROTO_MR_H
#define MAILRIG_PROTO_MR_H

#include <stddef.h>
#include <stdint.h>

/* Return codes shared by all parsers (item sizes are positive). */
enum { MR_ERROR = -1, MR_NEED_MORE = -2 };

/* No limit may exceed this, so that a consumed byte count always fits in an int.
 * Streaming parsers consume at most this much per call. */
#define MR_LIMIT_MAX ((size_t)1 << 30)

/* A run of bytes inside the caller's buffer. Not NUL-terminated. */
typedef struct mr_slice {
    const char *p;
    size_t n;
} mr_slice;

/* How strictly a parser reads its input.
 * MR_STRICT reports every RFC violation as an error (bare LF, bare CR, 8-bit bytes where the
 * grammar allows only ASCII, NUL, lines over the RFC limit, case or spacing the ABNF does not
 * allow). It is what conformance checks use.
 * MR_LENIENT accepts what deployed servers and clients send: bare LF line ends, 8-bit text,
 * extra spaces, lower-case keywords where upper case is required, and so on. It never accepts
 * anything that would make the parse ambiguous or exceed a limit. */
typedef enum mr_mode { MR_STRICT = 0, MR_LENIENT = 1 } mr_mode;

/* Why a parse failed. Codes are shared by all protocols so that tools can print and count
 * them uniformly; each parser documents the subset it returns. */
typedef enum mr_errcode {
    MR_E_NONE = 0,
    /* line and framing */
    MR_E_BARE_LF,          /* LF not preceded by CR (strict) */
    MR_E_BARE_CR,          /* CR not followed by LF */
    MR_E_NUL,              /* NUL byte where text is expected */
    MR_E_8BIT,             /* byte >= 0x80 where only ASCII is allowed (strict) */
    MR_E_CTL,              /* other control character where text is expected */
    MR_E_LIMIT_LINE,       /* line longer than the configured limit */
    MR_E_LIMIT_LITERAL,    /* literal or length field larger than the configured limit */
    MR_E_LIMIT_DEPTH,      /* nesting deeper than the configured limit */
    MR_E_LIMIT_COUNT,      /* more items (tokens, lines, parameters) than the limit */
    MR_E_NUMBER,           /* malformed or overflowing number */
    MR_E_EMPTY,            /* empty line or empty item where one is required */
    MR_E_TRAILING,         /* unexpected bytes after a complete item */
    /* grammar */
    MR_E_SYNTAX,           /* generic grammar violation; the rule name says which */
    MR_E_UNKNOWN_COMMAND,  /* command or keyword not known */
    MR_E_UTF8,             /* invalid UTF-8 where UTF-8 is allowed */
    MR_E_BASE64,           /* invalid base64 */
    MR_E_STATE,            /* call not allowed in the parser's current state */
    MR_E__COUNT
} mr_errcode;

/* A parse error: what went wrong, where, and the grammar rule being matched.
 * rule is a static string naming the ABNF rule (e.g. "resp-text-code", "Mail-parameters"),
 * never NULL after an error. offset counts from the start of the buffer of the failing call. */
typedef struct mr_error {
    mr_errcode code;
    const char *rule;
    size_t offset;
} mr_error;

/* A short English description of an error code ("bare LF", "line too long", ...). */
const char *mr_errcode_str(mr_errcode code);

/* Record an error and return MR_ERROR, for use as `return mr_fail(err, ...)`.
 * err may be NULL (the caller only wants the return code). */
int mr_fail(mr_error *err, mr_errcode code, const char *rule, size_t offset);

/* Compare a slice with a NUL-terminated ASCII string, ignoring ASCII case. */
int mr_slice_eq_ci(mr_slice s, const char *lit);

/* Compare two slices, ignoring ASCII case. */
int mr_slices_eq_ci(mr_slice a, mr_slice b);

/* Compare a slice with a NUL-terminated string, byte for byte. */
int mr_slice_eq(mr_slice s, const char *lit);

/* Parse an unsigned decimal number of 1..20 digits with no sign or spaces into *out.
 * Returns 0, or -1 when the slice is empty, has a non-digit, or exceeds max. */
int mr_parse_u64(mr_slice s, uint64_t max, uint64_t *out);

/* Find the first LF in [p, p+n), or NULL. A thin wrapper over memchr so hot loops all
 * scan the same way. */
const char *mr_find_lf(const char *p, size_t n);

/* Find the next line: the bytes up to and excluding its CRLF (or bare LF in MR_LENIENT).
 * Returns the bytes consumed including the line end, MR_NEED_MORE when no line end is in
 * buf yet, or MR_ERROR: MR_E_LIMIT_LINE when the line without its end is longer than max_line
 * (reported as soon as max_line + 2 bytes hold no LF, so a peer that never sends a line end
 * costs at most max_line bytes of scanning per call); MR_E_BARE_LF in MR_STRICT.
 * *scanned (may be NULL) carries how far a previous MR_NEED_MORE call looked, so repeated
 * calls on a growing buffer scan each byte once; set it to 0 for a new line. */
int mr_line_next(const char *buf, size_t len, size_t max_line, mr_mode mode, size_t *scanned,
                 mr_slice *line, mr_error *err);

/* Validate UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
 * Returns the offset of the first invalid byte, or n when the whole slice is valid. */
size_t mr_utf8_check(const char *p, size_t n);

#endif
