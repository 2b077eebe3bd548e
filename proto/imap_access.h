/* imap_access.h -- typed views over the tokens of a parsed IMAP item (imap_parse.h).
 *
 * Nothing here allocates or copies, except the functions that write into a caller buffer
 * (imap_unescape, imap_tok_copy). Every accessor checks the shape of the tokens it reads and
 * fails (-1) rather than trusting them, so they are safe on any token array the parser made,
 * in either mode. Token indices are `unsigned`; "none" is IMAP_NONE.
 */
#ifndef MAILRIG_PROTO_IMAP_ACCESS_H
#define MAILRIG_PROTO_IMAP_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/imap_parse.h"
#include "proto/mr.h"

#define IMAP_NONE UINT32_MAX

/* ---- Tokens ----------------------------------------------------------------------------- */

/* The slice of token i (see imap_tok_type). A streamed or pending literal gives an empty
 * slice at its "{". */
mr_slice imap_tok_slice(const imap_toks *t, unsigned i);

/* Index of the first token after token i and its children (its next sibling, or the end of
 * its parent). */
unsigned imap_tok_next(const imap_toks *t, unsigned i);

/* Number of direct children of token i. O(children). */
unsigned imap_tok_count(const imap_toks *t, unsigned i);

/* The k-th direct child of token i (k from 0), or IMAP_NONE. O(k). */
unsigned imap_tok_child(const imap_toks *t, unsigned i, unsigned k);

/* A NUMBER token (or an ATOM of digits) as an unsigned value no larger than max.
 * Returns 0, or -1 (not a number, too large, i out of range). */
int imap_tok_u64(const imap_toks *t, unsigned i, uint64_t max, uint64_t *v);

/* Is token i an ATOM (or NIL) equal to kw, ignoring ASCII case? */
int imap_tok_is(const imap_toks *t, unsigned i, const char *kw);

/* An nstring / astring / string value. */
typedef struct imap_nstring {
    mr_slice s;            /* the bytes: quoted content with escapes (see escaped), literal
                              payload, or atom; empty for NIL and for streamed literals */
    uint8_t nil;           /* NIL */
    uint8_t escaped;       /* s holds backslash escapes: use imap_unescape() */
    uint8_t streamed;      /* a literal whose payload the framer streamed: not in s */
    uint8_t binary;        /* literal8 */
    uint64_t literal_size; /* a literal's announced size (also when streamed), else s.n */
} imap_nstring;

/* Read token i as an nstring: QUOTED, LITERAL, NIL or ATOM (an astring's atom form).
 * Returns 0, or -1 for other token types. */
int imap_tok_nstring(const imap_toks *t, unsigned i, imap_nstring *out);

/* Undo quoted-string escapes (\" and \\; in lenient input \x means x) of q[0..n) into
 * buf[0..cap). Returns the unescaped length; when it exceeds cap, only cap bytes were
 * written. Never writes a NUL terminator. */
size_t imap_unescape(const char *q, size_t n, char *buf, size_t cap);

/* Copy the value of string-like token i (QUOTED unescaped, LITERAL, ATOM, NUMBER) into buf.
 * Returns its length (> cap: truncated to cap), or MR_ERROR for NIL, lists, streamed
 * literals and other tokens. */
int imap_tok_copy(const imap_toks *t, unsigned i, char *buf, size_t cap);

/* Compare two token arrays by value: same tree shape and types, strings compared by their
 * unescaped content (a QUOTED equals a LITERAL with the same bytes), numbers by value, atoms
 * byte for byte, NIL in any case. Returns 1 when equal, 0 otherwise. Used by the round-trip oracles. */
int imap_toks_equal(const imap_toks *a, const imap_toks *b);

/* Compare two parsed responses / commands by value: their header fields (tag, name and text
 * byte for byte) and imap_toks_equal(). Returns 1 when equal. */
int imap_response_equal(const imap_response *a, const imap_response *b);
int imap_command_equal(const imap_command *a, const imap_command *b);

/* ---- Capabilities ----------------------------------------------------------------------- */

typedef struct imap_cap_iter {
    const imap_toks *t;
    unsigned i, end;
} imap_cap_iter;

/* Start on the capabilities of a CAPABILITY or ENABLED response, or of a [CAPABILITY ...]
 * response code. Returns 0, or -1 when r carries none. */
int imap_cap_begin(imap_cap_iter *it, const imap_response *r);

/* Next capability ("IMAP4rev1", "AUTH=PLAIN"). Returns 1, or 0 at the end. */
int imap_cap_next(imap_cap_iter *it, mr_slice *cap);

/* Does r list capability name (ASCII case-insensitive)? 1 or 0. */
int imap_cap_has(const imap_response *r, const char *name);

/* ---- Sequence sets ---------------------------------------------------------------------- */

#define IMAP_SEQ_STAR 0 /* "*": the largest number in use */

typedef struct imap_seq_iter {
    const char *p, *end;
    int saved; /* the set is "$" (RFC 5182 SEARCHRES): the last saved search result */
} imap_seq_iter;

/* Start on a sequence set (a SEQSET, NUMBER or ATOM token's slice: "1:3,5,7:*"). */
void imap_seq_begin(imap_seq_iter *it, mr_slice set);

/* Next element: *lo and *hi as written (a single number gives lo == hi; "*" is
 * IMAP_SEQ_STAR; a range may be written high:low). Returns 1, 0 at the end (and at once for
 * "$"), -1 when malformed. */
int imap_seq_next(imap_seq_iter *it, uint32_t *lo, uint32_t *hi);

/* ---- FETCH ------------------------------------------------------------------------------ */

/* Section text kinds (RFC 9051 section-msgtext / section-text). */
typedef enum imap_section_text {
    IMAP_SECT_NONE = 0,     /* BODY[] or BODY[1.2] */
    IMAP_SECT_HEADER,
    IMAP_SECT_HEADER_FIELDS,
    IMAP_SECT_HEADER_FIELDS_NOT,
    IMAP_SECT_TEXT,
    IMAP_SECT_MIME,
} imap_section_text;

#define IMAP_SECTION_PARTS_MAX 32

/* A decoded section: part path, text kind, header list. */
typedef struct imap_section {
    uint32_t part[IMAP_SECTION_PARTS_MAX];
    unsigned nparts;
    imap_section_text text;
    unsigned fields;      /* HEADER.FIELDS[.NOT]: the header-list LIST token, else IMAP_NONE */
} imap_section;

/* One fetch attribute: of a FETCH response (with its value) or a FETCH command. */
typedef struct imap_fetch_att {
    imap_att att;         /* which one (IMAP_ATT_OTHER for extensions) */
    mr_slice name;        /* the name as sent, without section ("BODY.PEEK", "X-GM-LABELS") */
    unsigned name_tok;
    int has_section;      /* BODY[...] / BINARY[...] */
    mr_slice section;     /* between the brackets */
    unsigned section_tok; /* the SECTION token, for imap_section_decode() */
    int has_partial;
    uint32_t origin;      /* <origin> or <origin.size> */
    uint32_t size;        /* <origin.size> (commands), else 0 */
    unsigned value;       /* responses: the value token; commands: IMAP_NONE */
} imap_fetch_att;

typedef struct imap_fetch_iter {
    const imap_toks *t;
    unsigned i, end;
    int command;
} imap_fetch_iter;

/* Start on the msg-atts of a FETCH response. Returns 0, or -1 when r is not one. */
int imap_fetch_begin(imap_fetch_iter *it, const imap_response *r);

/* Start on the fetch attributes of a FETCH command (a macro ALL/FAST/FULL comes out as one
 * attribute of that kind). Returns 0, or -1 when c is not one. */
int imap_fetch_cmd_begin(imap_fetch_iter *it, const imap_command *c);

/* Next attribute. Returns 1, 0 at the end, -1 when the tokens do not have the shape. */
int imap_fetch_next(imap_fetch_iter *it, imap_fetch_att *att);

/* Decode a SECTION token. Returns 0, or -1 (malformed, or more than IMAP_SECTION_PARTS_MAX
 * parts). */
int imap_section_decode(const imap_toks *t, unsigned section_tok, imap_section *out);

/* ---- ENVELOPE --------------------------------------------------------------------------- */

typedef struct imap_envelope {
    imap_nstring date, subject;
    unsigned from, sender, reply_to, to, cc, bcc; /* address lists: LIST or NIL tokens */
    imap_nstring in_reply_to, message_id;
} imap_envelope;

/* Decode the ENVELOPE list at token i. Returns 0 or -1. */
int imap_envelope_decode(const imap_toks *t, unsigned i, imap_envelope *env);

/* RFC 9051 section 9 (address): a group is announced by an address whose host is NIL and
 * mailbox is the group name, and ended by one whose mailbox and host are both NIL. */
typedef enum imap_addr_kind {
    IMAP_ADDR_MAILBOX = 0,
    IMAP_ADDR_GROUP_START, /* mailbox: the group name */
    IMAP_ADDR_GROUP_END,
} imap_addr_kind;

typedef struct imap_address {
    imap_nstring name, adl, mailbox, host;
    imap_addr_kind kind;
} imap_address;

typedef struct imap_addr_iter {
    const imap_toks *t;
    unsigned i, end;
} imap_addr_iter;

/* Start on an address list token (LIST of addresses, or NIL: no addresses). Returns 0 or -1. */
int imap_addr_begin(imap_addr_iter *it, const imap_toks *t, unsigned list);

/* Next address. Returns 1, 0 at the end, -1 when malformed. */
int imap_addr_next(imap_addr_iter *it, imap_address *a);

/* ---- BODY / BODYSTRUCTURE --------------------------------------------------------------- */

typedef struct imap_body {
    unsigned tok;            /* the body LIST token */
    int multipart;
    imap_nstring type;       /* media type ("TEXT"); multipart: empty */
    imap_nstring subtype;    /* media subtype ("PLAIN", "MIXED") */
    unsigned first_part;     /* multipart: the first child body; siblings via imap_tok_next */
    unsigned nparts;         /* multipart: how many */
    unsigned params;         /* body-fld-param (LIST or NIL); IMAP_NONE if absent (multipart
                                without extension data) */
    imap_nstring id, description, encoding;
    uint64_t octets;
    int has_lines;           /* text/ and message/rfc822 parts */
    uint64_t lines;
    unsigned envelope;       /* message/rfc822: ENVELOPE list, else IMAP_NONE */
    unsigned body;           /* message/rfc822: the encapsulated message's body, else IMAP_NONE */
    int has_ext;             /* extension data present (BODYSTRUCTURE) */
    imap_nstring md5;        /* single part extension */
    unsigned dsp;            /* body-fld-dsp (LIST or NIL), or IMAP_NONE */
    unsigned lang;           /* body-fld-lang (string, NIL or LIST), or IMAP_NONE */
    unsigned loc;            /* body-fld-loc, or IMAP_NONE */
    unsigned ext;            /* first further body-extension, or IMAP_NONE; the rest follow
                                as siblings up to the end of the body */
} imap_body;

/* Decode the body list at token i. Returns 0 or -1. */
int imap_body_decode(const imap_toks *t, unsigned i, imap_body *b);

/* Find the part with the given part path (RFC 9051 section 6.4.5 numbering: parts of a
 * multipart count from 1; a message/rfc822 part's number also names its encapsulated
 * message's parts; a non-multipart body is part 1). Returns 0 with *out, or -1. */
int imap_body_find(const imap_toks *t, unsigned root, const uint32_t *path, unsigned n,
                   imap_body *out);

/* Iterate a body-fld-param list (LIST of name/value strings, NIL or IMAP_NONE: empty). */
typedef struct imap_param_iter {
    const imap_toks *t;
    unsigned i, end;
} imap_param_iter;

/* Start on params (a body-fld-param token, or IMAP_NONE). Returns 0, or -1 when the token is
 * neither a LIST nor NIL. */
int imap_param_begin(imap_param_iter *it, const imap_toks *t, unsigned params);

/* Next name/value pair. Returns 1, 0 at the end, -1 when malformed. */
int imap_param_next(imap_param_iter *it, imap_nstring *name, imap_nstring *value);

/* Decode a body-fld-dsp token: *type (NIL when the token is NIL) and *params (the param
 * token, or IMAP_NONE). Returns 0 or -1. */
int imap_dsp_decode(const imap_toks *t, unsigned dsp, imap_nstring *type, unsigned *params);

#endif
