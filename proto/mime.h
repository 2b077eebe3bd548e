/* mime.h -- RFC 5322 / MIME (RFC 2045-2047, 2231) structure of a complete message in memory.
 *
 * What the mock IMAP/POP3 servers need to serve a stored message: header fields, the part tree
 * with byte ranges for every IMAP section (1, 1.2, 2.HEADER, 2.MIME, TEXT, ...), the fields
 * BODYSTRUCTURE and ENVELOPE are built from, and line/octet counts.
 *
 * Pure and zero-copy like every proto/ module: no I/O, no globals, no allocation. Every slice
 * points into the caller's message bytes (or, for defaults such as "text"/"plain", into static
 * strings of this module) and stays valid as long as those bytes stay where they are. Encoded
 * words (RFC 2047) and RFC 2231 parameter continuations are left as they are: IMAP ENVELOPE and
 * BODYSTRUCTURE send them raw.
 *
 * Unlike the streaming protocol parsers, these functions see a COMPLETE message (or header, or
 * field value): they never return MR_NEED_MORE. The part tree parser returns the number of parts;
 * iterators return the bytes consumed (> 0), 0 at the end, or MR_ERROR.
 *
 * Modes (mr.h):
 *   MR_STRICT  reports every RFC violation as MR_ERROR with rule and offset: bare LF or CR, NUL,
 *              lines over limits.max_line, 8-bit header bytes that are not UTF-8 (RFC 6532 allows
 *              UTF-8), header lines that are not fields, malformed Content-Type, multipart
 *              without boundary or close-delimiter, encoded multipart/message bodies, limits.
 *   MR_LENIENT accepts what real mail looks like and never fails on message content: bare LF
 *              line ends, missing final boundary, 8-bit headers, broken parameters, nesting or
 *              part counts over the limits. What it had to repair is recorded in the part's
 *              flags (MIME_PF_*), and limits degrade the tree (deeper parts become leaves, extra
 *              parts stay inside their parent's body) instead of failing.
 *
 * Cost: mime_parse() looks at every byte a bounded number of times (one line scan, plus one
 * LF count per part per nesting level: at most (max_depth + 2) passes over the message) and
 * compares each line that starts with "--" against at most max_depth boundaries.
 */
#ifndef MAILRIG_PROTO_MIME_H
#define MAILRIG_PROTO_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mr.h"

/* An absent part index (no parent, no child, no sibling). */
#define MIME_NONE UINT32_MAX

/* Hard ceiling on limits.max_depth: the boundary stack of mime_parse() is this deep. */
#define MIME_DEPTH_CEILING 64

/* Most numbers in an IMAP section path ("1.2.3" has 3). Deeper paths cannot name a part. */
#define MIME_SECTION_MAX_PATH (MIME_DEPTH_CEILING + 1)

/* Limits for mime_parse() and the iterators. Use MIME_LIMITS_DEFAULT or mime_limits_default(). */
typedef struct mime_limits {
    size_t max_parts;         /* parts in the tree, root included (default 1000) */
    size_t max_depth;         /* nesting below the root (default 32, at most MIME_DEPTH_CEILING) */
    size_t max_header_fields; /* fields in one header (default 1000) */
    size_t max_line;          /* octets in a line without its CRLF (default 998, RFC 5322 2.1.1);
                                 enforced in MR_STRICT only: lenient lines cost nothing extra,
                                 they are scanned once and never copied */
    size_t max_boundary;      /* octets in a boundary parameter (default 70, RFC 2046 5.1.1; a
                                 longer one in MR_LENIENT is still used up to 200 octets) */
    size_t max_comment_depth; /* nested comments in structured fields (default 32) */
} mime_limits;

#define MIME_LIMITS_DEFAULT {1000, 32, 1000, 998, 70, 32}

mime_limits mime_limits_default(void);

/* ------------------------------------------------------------------------------------------ */
/* Header fields (RFC 5322 2.2, 3.6) */

/* One header field. name has no colon and no WSP before the colon (obs-optional). value starts
 * after the colon and the WSP that follows it, and runs through the field's last line, without
 * that line's CRLF: folding (CRLF WSP) is kept. raw is the whole field with its final line end,
 * what IMAP HEADER.FIELDS returns. */
typedef struct mime_field {
    mr_slice name;
    mr_slice value;
    mr_slice raw;
} mime_field;

/* Read the next header field from [p, p+n): a header block (e.g. mime_part.header) or what is
 * left of it. Returns the bytes consumed (> 0, the field with its line end) and fills *f;
 * 0 when the header ends here (an empty line, the end of the input, or in MR_LENIENT a line
 * that is not a field, which then starts the body); MR_ERROR with *err (offsets from p):
 * MR_E_SYNTAX "field-name" (a line with no colon, or a bad name), MR_E_BARE_LF, MR_E_BARE_CR,
 * MR_E_NUL, MR_E_UTF8 (8-bit that is not UTF-8), MR_E_LIMIT_LINE (strict only).
 * MR_LENIENT skips stray continuation lines at the start. lim may be NULL (defaults). */
int mime_field_next(const char *p, size_t n, mr_mode mode, const mime_limits *lim,
                    mime_field *f, mr_error *err);

/* Find the first field called name (ASCII case-insensitive) in a header block, read leniently.
 * Returns 1 and fills *f, or 0 when there is none. Costs one pass over the header. */
int mime_field_find(mr_slice header, const char *name, mime_field *f);

/* Copy a field value into out with its line folding removed (RFC 5322 2.2.3: every CRLF or LF
 * followed by WSP is dropped) and leading and trailing WSP trimmed. Writes at most cap bytes
 * (no NUL terminator); returns the full unfolded length, so a result > cap means truncated. */
size_t mime_unfold(mr_slice value, char *out, size_t cap);

/* Count the fields of a header block (lenient reading), for limits and tests. */
size_t mime_field_count(mr_slice header);

/* ------------------------------------------------------------------------------------------ */
/* Structured field values: CFWS, parameters, lists */

/* Content-Type / Content-Disposition parameter (RFC 2045 5.1, RFC 2183). name is the attribute
 * token, kept as written (RFC 2231 "filename*0*", "title*" included). value is the token, or the
 * content of a quoted-string without its quotes but with its backslash escapes (quoted = 1);
 * mime_unquote() removes those. */
typedef struct mime_param {
    mr_slice name;
    mr_slice value;
    int quoted;
} mime_param;

/* Read the next parameter from a parameter list (the `params` slice of a part, which starts at
 * a ';' or is empty). Returns the bytes consumed (> 0) with *prm filled, 0 at the end of the
 * list, or MR_ERROR (offsets from p): MR_E_SYNTAX "parameter" (missing ';', '=', name or value),
 * MR_E_SYNTAX "quoted-string" (unterminated), MR_E_LIMIT_DEPTH "comment". MR_LENIENT accepts
 * empty parameters (";;"), a trailing ';', values with spaces or 8-bit bytes up to the next
 * ';', and a missing ';' between parameters; what it cannot read it skips to the next ';'. */
int mime_param_next(const char *p, size_t n, mr_mode mode, const mime_limits *lim,
                    mime_param *prm, mr_error *err);

/* Find parameter name (case-insensitive) in a parameter list, read leniently.
 * Returns 1 and fills *prm, or 0. */
int mime_param_find(mr_slice params, const char *name, mime_param *prm);

/* Copy the content of a quoted-string (as in mime_param.value) without its backslash escapes
 * and with folding removed. Same return and bound as mime_unfold(). */
size_t mime_unquote(mr_slice content, char *out, size_t cap);

/* Parse a Content-Type value: type "/" subtype *(";" parameter), CFWS allowed around tokens.
 * On success returns 0 and sets type, subtype (tokens as written; compare case-insensitively)
 * and params (from the first ';' to the end of the value, possibly empty; iterate it with
 * mime_param_next()). MR_ERROR: MR_E_SYNTAX "type", "subtype" (MR_STRICT also checks the
 * parameters: "parameter", "quoted-string"), MR_E_LIMIT_DEPTH "comment". */
int mime_content_type(mr_slice value, mr_mode mode, const mime_limits *lim, mr_slice *type,
                      mr_slice *subtype, mr_slice *params, mr_error *err);

/* Parse a Content-Disposition value (RFC 2183): disposition-type *(";" parameter). Same
 * contract as mime_content_type() with one token; MR_E_SYNTAX "disposition-type". */
int mime_disposition(mr_slice value, mr_mode mode, const mime_limits *lim, mr_slice *dtype,
                     mr_slice *params, mr_error *err);

/* Read a single token value with surrounding CFWS (Content-Transfer-Encoding). Returns 0 and
 * the token, or MR_ERROR (MR_E_SYNTAX "mechanism": no token, or in MR_STRICT trailing bytes). */
int mime_token_value(mr_slice value, mr_mode mode, const mime_limits *lim, mr_slice *token,
                     mr_error *err);

/* Read the next element of a comma-separated list of tokens or quoted-strings with CFWS
 * (Content-Language, RFC 3282).
 * Starts at *pos, advances it; returns 1 with *item (quoted-strings without their quotes),
 * 0 at the end, MR_ERROR (MR_E_SYNTAX "list"). Empty elements (",,") are skipped. */
int mime_list_next(mr_slice list, size_t *pos, mr_slice *item, mr_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Addresses (RFC 5322 3.4) for IMAP ENVELOPE */

typedef enum mime_addr_kind {
    MIME_ADDR_MAILBOX,     /* a mailbox: name, route, local, domain */
    MIME_ADDR_GROUP_START, /* "name:" -- IMAP (NIL NIL "name" NIL); name is set */
    MIME_ADDR_GROUP_END,   /* ";"     -- IMAP (NIL NIL NIL NIL) */
} mime_addr_kind;

/* One element of an address list. All slices are raw (quotes, escapes, comments and encoded
 * words kept); mime_phrase() makes the display form. name is the display-name phrase, or when
 * there is none, the content of a trailing comment ("a@b (Ann)", RFC 822 style); empty if none.
 * route is the obs-route without its final ':' ("@a,@b"). local is the local-part (a dot-atom
 * or quoted-string as written), domain the domain (dot-atom or domain-literal), empty when the
 * address has none (lenient: "<postmaster>"). invalid is set in MR_LENIENT for an element that
 * could not be read; then raw is the whole element and local holds it too, so IMAP can still
 * send something. */
typedef struct mime_addr {
    mime_addr_kind kind;
    mr_slice name;
    mr_slice route;
    mr_slice local;
    mr_slice domain;
    mr_slice raw;
    int invalid;
} mime_addr;

/* State of an address-list reader; set up with mime_addr_init(). */
typedef struct mime_addr_iter {
    const char *p;
    size_t n, pos;
    mr_mode mode;
    size_t max_comment_depth;
    int in_group;
} mime_addr_iter;

/* Start reading the address list in value (a From/To/Cc/... field value). lim may be NULL. */
void mime_addr_init(mime_addr_iter *it, mr_slice value, mr_mode mode, const mime_limits *lim);

/* Read the next element. Returns 1 with *a filled, 0 at the end of the list, or MR_ERROR with
 * *err (offset from the start of the value): MR_E_SYNTAX "address", "angle-addr", "addr-spec",
 * "group" (nested group, ';' outside a group, missing ';' at the end), "quoted-string",
 * "domain-literal"; MR_E_LIMIT_DEPTH "comment". MR_LENIENT never fails: a bad element comes back
 * with invalid = 1 and reading resumes after the next top-level ','; a group left open at the
 * end gets its MIME_ADDR_GROUP_END. Each call consumes at least one byte or returns 0, so a
 * list of n bytes takes at most n + 1 calls. */
int mime_addr_next(mime_addr_iter *it, mime_addr *a, mr_error *err);

/* Copy a local-part or domain for IMAP ENVELOPE (mailbox, host): CFWS outside quoted strings
 * removed ("test  . example" -> "test.example"), quoted strings kept as written, quotes
 * included, so that local "@" domain is still a valid address. Same return and bound as
 * mime_unfold(). An empty domain (lenient "<postmaster>") must not become NIL in ENVELOPE: NIL
 * host means group syntax; Dovecot sends "MISSING_DOMAIN". */
size_t mime_addr_clean(mr_slice s, char *out, size_t cap);

/* Copy a phrase or a comment's content for display: comments removed (phrases only), quotes
 * and backslash escapes removed, folding removed and runs of WSP collapsed to one space,
 * leading and trailing WSP trimmed. Same return and bound as mime_unfold(). */
size_t mime_phrase(mr_slice phrase, char *out, size_t cap);

/* The header fields IMAP ENVELOPE is made of (RFC 3501 7.4.2), first occurrence of each,
 * raw values as in mime_field.value (folding kept); p is NULL for an absent field. ENVELOPE
 * itself sends NIL for absent fields, except that sender and reply-to default to from
 * (RFC 3501: "the server MUST default"). Address fields go through mime_addr_next(). */
typedef struct mime_envelope {
    mr_slice date, subject, from, sender, reply_to, to, cc, bcc, in_reply_to, message_id;
} mime_envelope;

/* Fill *env from a header block (a message's mime_part.header, root or encapsulated) in one
 * lenient pass. */
void mime_envelope_get(mr_slice header, mime_envelope *env);

/* ------------------------------------------------------------------------------------------ */
/* Dates (RFC 5322 3.3, with the obsolete forms of 4.3) */

typedef struct mime_date {
    int year, month, day;  /* 4-digit year (obs 2-digit years mapped per RFC 5322 4.3), 1..12 */
    int hour, min, sec;    /* sec 0 when absent; 60 allowed (leap second) */
    int zone;              /* minutes east of UTC (+0200 = 120; obs zones: EST = -300 ...) */
} mime_date;

/* Parse a date-time: [day-name ","] day month year hour ":" minute [":" second] zone, CFWS
 * between tokens. Returns 0, or MR_ERROR with MR_E_SYNTAX "date-time" (or "day", "month",
 * "year", "time", "zone") and the offset. MR_LENIENT also accepts a missing zone (as +0000),
 * unknown alphabetic zones (as +0000, RFC 5322 4.3) and single-digit hours. */
int mime_date_parse(mr_slice value, mr_mode mode, mime_date *d, mr_error *err);

/* Seconds since 1970-01-01T00:00:00Z of a parsed date (proleptic Gregorian, zone applied). */
int64_t mime_date_to_unix(const mime_date *d);

/* ------------------------------------------------------------------------------------------ */
/* The part tree */

typedef enum mime_kind {
    MIME_KIND_LEAF,      /* any non-container body (also containers the parser did not open) */
    MIME_KIND_MULTIPART, /* multipart/...: children are the body parts */
    MIME_KIND_MESSAGE,   /* message/rfc822 or message/global: exactly one child, the
                            encapsulated message (its own header and body) */
} mime_kind;

/* What MR_LENIENT repaired or degraded in a part (MR_STRICT fails instead). */
enum mime_part_flags {
    MIME_PF_DEFAULT_TYPE = 1 << 0,  /* no Content-Type: type/subtype/params are the defaults */
    MIME_PF_BAD_TYPE = 1 << 1,      /* unreadable Content-Type: defaults used (RFC 2045 5.2) */
    MIME_PF_NO_BOUNDARY = 1 << 2,   /* multipart without a usable boundary: made a leaf */
    MIME_PF_NO_CLOSE = 1 << 3,      /* multipart ended without its close-delimiter */
    MIME_PF_TRUNCATED = 1 << 4,     /* depth or part limit reached: contents not parsed */
    MIME_PF_HEADER_CUT = 1 << 5,    /* header not ended by an empty line */
    MIME_PF_BAD_HEADER = 1 << 6,    /* header bytes strict mode rejects (NUL, bad 8-bit, CR) */
    MIME_PF_BARE_LF = 1 << 7,       /* a bare LF line end in the header */
    MIME_PF_ENCODED = 1 << 8,       /* multipart/message with base64/quoted-printable: a leaf */
    MIME_PF_LONG_LINE = 1 << 9,     /* a header line longer than limits.max_line */
    MIME_PF_MANY_FIELDS = 1 << 10,  /* more header fields than limits.max_header_fields */
};

/* One entity of the message: the root message, a body part of a multipart, or an encapsulated
 * message (the single child of a MIME_KIND_MESSAGE part). Tree links are indices into the
 * array given to mime_parse(); children always come after their parent (pre-order).
 *
 * Byte ranges (slices into the message):
 *   header    the header fields, each with its line end, and the empty line that ends them
 *             (IMAP HEADER and MIME return it like this); may be empty.
 *   body      everything after the header up to the line end that precedes the delimiter
 *             ending this part (that line end belongs to the delimiter, RFC 2046 5.1.1), or up
 *             to the end of the message. For a multipart it holds preamble, children and
 *             epilogue; for a message/rfc822 part, the whole encapsulated message.
 *   preamble, epilogue   multipart only: the text before the first delimiter line and after
 *             the close-delimiter line (both inside body).
 * Content fields are the field values as written (trimmed of surrounding CFWS, comments
 * removed from tokens); empty when the field is absent:
 *   type/subtype/params  Content-Type; defaults "text"/"plain"/"; charset=us-ascii"
 *             (RFC 2045 5.2), or "message"/"rfc822"/"" inside multipart/digest (RFC 2046 5.1.5).
 *   encoding  Content-Transfer-Encoding token (empty = 7bit).
 *   id, description, md5, location: raw values of Content-ID, Content-Description,
 *             Content-MD5, Content-Location (folding kept; unfold for output).
 *   disposition, disp_params: Content-Disposition type token and parameter list.
 *   language  raw Content-Language list (iterate with mime_list_next()).
 * body_lines is the number of LF bytes in body (IMAP body-fld-lines). */
typedef struct mime_part {
    uint32_t parent;       /* MIME_NONE for the root */
    uint32_t first_child;  /* MIME_NONE when none */
    uint32_t next_sibling; /* MIME_NONE when last */
    uint32_t nchildren;
    uint32_t number;       /* 1-based position among the parent's children; 0 for the root */
    uint16_t depth;        /* 0 for the root */
    uint16_t flags;        /* enum mime_part_flags */
    mime_kind kind;
    mr_slice header, body, preamble, epilogue;
    size_t body_lines;
    size_t header_fields;
    mr_slice type, subtype, params;
    mr_slice encoding, id, description, md5, location;
    mr_slice disposition, disp_params, language;
} mime_part;

/* Parse the complete message [msg, msg+len) into parts[0..cap). parts[0] is the root.
 * Returns the number of parts written (>= 1), or MR_ERROR with *err (offset from msg):
 *   MR_E_LIMIT_COUNT "parts" when cap < 1 (both modes) or, in MR_STRICT, when the message has
 *     more than min(cap, lim->max_parts) parts; MR_E_LIMIT_LITERAL "message" when len is over
 *     MR_LIMIT_MAX (both modes); MR_E_LIMIT_DEPTH "multipart" or "message" (strict);
 *   MR_STRICT only: everything mime_field_next() reports in any header, MR_E_SYNTAX
 *     "content-type", "boundary" (multipart without one), "close-delimiter" (missing),
 *     "multipart-body" (no body part), "encoding" (multipart/message with base64/qp),
 *     MR_E_BARE_LF/BARE_CR/NUL/LIMIT_LINE in body lines.
 * MR_LENIENT fails only on cap < 1. lim may be NULL (defaults). Memory: none beyond parts and
 * a fixed stack frame per nesting level (at most MIME_DEPTH_CEILING levels). */
int mime_parse(const char *msg, size_t len, const mime_limits *lim, mr_mode mode,
               mime_part *parts, size_t cap, mr_error *err);

/* Check the invariants every tree from mime_parse() over [msg, msg+len) has: ranges inside the
 * message and inside their parent's body, header directly followed by body, children in order
 * and between preamble and epilogue, a message/rfc822 part's body exactly its one child,
 * body_lines right, and every part found again by mime_section_find() at mime_part_path().
 * Returns NULL when all hold, else a static description of the first violation. For tests,
 * fuzz targets and debug assertions: costs one pass over the message per nesting level. */
const char *mime_tree_check(const char *msg, size_t len, const mime_part *parts, size_t n);

/* Is this part text/... (IMAP adds body-fld-lines for those)? */
int mime_part_is_text(const mime_part *part);

/* ------------------------------------------------------------------------------------------ */
/* IMAP sections (RFC 3501 6.4.5, RFC 9051 6.4.5) */

typedef enum mime_sect_text {
    MIME_SECT_NONE,              /* "" or "1.2": the whole message / the part's body */
    MIME_SECT_HEADER,            /* HEADER */
    MIME_SECT_HEADER_FIELDS,     /* HEADER.FIELDS (list) */
    MIME_SECT_HEADER_FIELDS_NOT, /* HEADER.FIELDS.NOT (list) */
    MIME_SECT_TEXT,              /* TEXT */
    MIME_SECT_MIME,              /* MIME (only after a part number) */
} mime_sect_text;

/* A parsed section-spec. fields is the raw inside of the parenthesised list of HEADER.FIELDS
 * (without the parentheses), for mime_header_filter(). */
typedef struct mime_section {
    uint32_t path[MIME_SECTION_MAX_PATH];
    size_t npath;
    mime_sect_text text;
    mr_slice fields;
} mime_section;

/* Parse the text between '[' and ']' of BODY[...] ("", "TEXT", "1.2.MIME",
 * "HEADER.FIELDS (From To)", ...). Part numbers are nz-number (no 0, no leading zero);
 * keywords case-insensitive; field names are atoms or quoted strings separated by single
 * spaces (MR_LENIENT: any WSP). Returns n (the whole input is the spec) or MR_ERROR:
 * MR_E_SYNTAX "section-part", "section-msgtext", "header-list", MR_E_NUMBER "nz-number",
 * MR_E_LIMIT_DEPTH "section-part" (more than MIME_SECTION_MAX_PATH numbers). Literals inside the
 * list are the IMAP command parser's business: pass names it decoded as a quoted list. */
int mime_section_parse(const char *p, size_t n, mr_mode mode, mime_section *s, mr_error *err);

/* Write a section-spec (the inverse of mime_section_parse()) into out. Returns the length
 * (writes nothing past cap; a result > cap means it did not fit). No NUL terminator. */
size_t mime_section_write(const mime_section *s, char *out, size_t cap);

/* Where a section lives. part is the index of the part the section names (the root for "",
 * HEADER, TEXT). bytes is the range to send; for HEADER.FIELDS[.NOT] it is the header to pass
 * through mime_header_filter(). */
typedef struct mime_range {
    uint32_t part;
    mr_slice bytes;
} mime_range;

/* Resolve a section against a parsed tree (RFC 3501 6.4.5 numbering): a non-multipart message
 * has only part 1 (itself); a message/rfc822 part's numbers continue into the encapsulated
 * message; HEADER/TEXT/HEADER.FIELDS after numbers need a message/rfc822 part; MIME needs
 * numbers. Returns 0 with *r, or MR_ERROR with MR_E_SYNTAX "section" (no such part, or a
 * text specifier the part does not have); err->offset is the index in s->path that failed. */
int mime_section_find(const mime_part *parts, size_t nparts, const mime_section *s,
                      mime_range *r, mr_error *err);

/* Build the section path of part index i (the inverse of mime_section_find()) into
 * path[0..max). Returns the path length (0 for the root: the whole message), or -1 when max is
 * too small. An encapsulated message (the child of a message/rfc822 part) has no number of
 * its own: it gets its message part's path, and is reached with that path + HEADER or TEXT. */
int mime_part_path(const mime_part *parts, size_t nparts, uint32_t i, uint32_t *path,
                   size_t max);

/* Copy the fields of header whose names are (exclude = 0) or are not (exclude = 1) in the
 * list (the raw mime_section.fields: names separated by WSP, atoms or quoted strings), in
 * their original order and form, followed by the empty line CRLF. Writes at most cap bytes;
 * returns the full length (result > cap: truncated, call again with a bigger buffer).
 * Reads the header leniently. */
size_t mime_header_filter(mr_slice header, mr_slice fields, int exclude, char *out, size_t cap);

#endif
