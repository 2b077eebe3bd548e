/* imap_write.h -- IMAP writers: commands, responses, and their parts (RFC 3501, RFC 9051).
 *
 * Every writer appends to an imap_wbuf: a caller buffer and its size. Nothing is written past
 * the buffer; when the output does not fit, writing goes on counting, so that the caller
 * learns the size it needs. Inputs are validated as they are written: a value that cannot be
 * expressed in the syntax asked for (CR or LF in text, NUL in a string, a non-atom where an
 * atom is required) makes the whole result an error -- this is what keeps API inputs from
 * injecting protocol lines. String values are raw bytes (imap_nstring with escaped = 0), or
 * quoted-string content straight from the parser (escaped = 1), which is written back
 * verbatim when it stays quoted.
 *
 * Quote-or-literal (imap_w_string and friends): a literal when the value holds CR or LF, 8-bit
 * bytes (unless IMAP_W_UTF8: IMAP4rev2 or UTF8=ACCEPT allows valid UTF-8 in quoted strings),
 * or is longer than IMAP_W_QUOTED_MAX; a quoted string with \" and \\ escapes otherwise; NUL
 * only fits a literal8 (imap_w_literal with IMAP_W_BINARY), elsewhere it is an error.
 *
 * Commands with synchronizing literals: the writer produces the whole command; a client sends
 * it up to each literal's CRLF and waits for "+" -- run imap_framer_next() (IMAP_SIDE_COMMAND)
 * over the output to find those points (IMAP_FRAME_SYNC_LITERAL), or use IMAP_W_NONSYNC where
 * the server has LITERAL+.
 */
#ifndef MAILRIG_PROTO_IMAP_WRITE_H
#define MAILRIG_PROTO_IMAP_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/imap_access.h"
#include "proto/imap_parse.h"
#include "proto/mr.h"
#include "proto/mr_out.h"

#define IMAP_W_QUOTED_MAX 1024 /* longer strings are written as literals */

/* Writer options (bit set). */
enum {
    IMAP_W_UTF8 = 1,    /* valid UTF-8 may stay in quoted strings */
    IMAP_W_NONSYNC = 2, /* literals are {n+} (LITERAL+ / LITERAL-, RFC 7888) */
    IMAP_W_BINARY = 4,  /* imap_w_literal: literal8 ~{n} (may hold NUL) */
};

/* An output buffer: the bounded output builder of mr_out.h (out, also readable as p, cap and
 * len) plus what the IMAP writers add to it. */
typedef struct imap_wbuf {
    union {
        mr_out out; /* what the writers append through */
        struct {
            char *p;
            size_t cap;
            size_t len; /* bytes of output so far, including what did not fit */
        };
    };
    mr_errcode err;  /* first invalid input, or MR_E_NONE */
    char last;       /* last byte appended (for list separators) */
} imap_wbuf;

/* Start writing into buf[0..cap). */
void imap_wbuf_init(imap_wbuf *w, char *buf, size_t cap);

/* The outcome: the output length when all of it fit in the buffer; MR_NEED_MORE when it did
 * not (w->len is the size needed; the buffer holds a truncated prefix); MR_ERROR when an input
 * was invalid (w->err says why). */
int imap_wbuf_result(const imap_wbuf *w);

/* ---- Primitives --------------------------------------------------------------------------- */

void imap_w_raw(imap_wbuf *w, const char *p, size_t n); /* bytes as they are, unchecked */
void imap_w_cstr(imap_wbuf *w, const char *s);          /* a C string, unchecked */
void imap_w_sp(imap_wbuf *w);                          /* " " */
void imap_w_crlf(imap_wbuf *w);                        /* "\r\n" */
void imap_w_number(imap_wbuf *w, uint64_t v);          /* decimal, no leading zeros */

/* An atom (1*ATOM-CHAR). Error MR_E_SYNTAX when s is empty or has other bytes. */
void imap_w_atom(imap_wbuf *w, mr_slice s);

/* A flag: "\" atom or atom ("\*" too). Error as imap_w_atom. */
void imap_w_flag(imap_wbuf *w, mr_slice s);

/* A quoted string of raw bytes, escaping " and \. Error (MR_E_SYNTAX) for CR or LF,
 * MR_E_NUL for NUL, MR_E_8BIT for 8-bit bytes without IMAP_W_UTF8 or invalid UTF-8. */
void imap_w_quoted(imap_wbuf *w, mr_slice raw, unsigned opts);

/* A literal: {n}CRLF (IMAP_W_NONSYNC: {n+}, IMAP_W_BINARY: ~{n}) and the bytes. NUL is an
 * error (MR_E_NUL) unless IMAP_W_BINARY. */
void imap_w_literal(imap_wbuf *w, mr_slice raw, unsigned opts);

/* Only the marker of a literal of `size` bytes, for a caller that sends the payload itself
 * (an APPEND streamed from disk). */
void imap_w_literal_marker(imap_wbuf *w, uint64_t size, unsigned opts);

/* string = quoted / literal, chosen as described at the top. */
void imap_w_string(imap_wbuf *w, mr_slice raw, unsigned opts);

/* astring: an atom when raw is a non-empty run of ASTRING-CHAR, else a string. */
void imap_w_astring(imap_wbuf *w, mr_slice raw, unsigned opts);

/* nstring: NIL or a string. A streamed literal (v->streamed) writes its marker only. */
void imap_w_nstring(imap_wbuf *w, const imap_nstring *v, unsigned opts);

/* An nstring from raw bytes; p NULL means NIL. */
void imap_w_nstr(imap_wbuf *w, const char *p, size_t n, unsigned opts);

/* Free text (resp-text text): error for CR, LF or NUL; 8-bit as imap_w_quoted. */
void imap_w_text(imap_wbuf *w, mr_slice text, unsigned opts);

/* A quoted date-time, "17-Jul-1996 02:44:25 -0700". Error for out-of-range fields. */
void imap_w_datetime(imap_wbuf *w, const imap_datetime *dt);

/* A sequence set from ranges; IMAP_SEQ_STAR (0) writes "*". Error when n == 0. */
typedef struct imap_seq_range {
    uint32_t lo, hi;
} imap_seq_range;
void imap_w_seqset(imap_wbuf *w, const imap_seq_range *r, size_t n);

/* A sequence set from sorted numbers, with runs folded into ranges ("1:3,7"). */
void imap_w_seq_numbers(imap_wbuf *w, const uint32_t *sorted, size_t n);

/* "(" flag *(SP flag) ")" */
void imap_w_flag_list(imap_wbuf *w, const mr_slice *flags, size_t n);

/* ---- Tokens (re-serialising a parsed item) ----------------------------------------------- */

/* Tokens [from, to) of t (as the parser made them) as siblings: separated by SP, except
 * those flagged IMAP_TF_NOSP. Literals are written whole; streamed ones as their marker. */
void imap_w_tokens(imap_wbuf *w, const imap_toks *t, unsigned from, unsigned to);

/* A parsed command / response, canonically spaced, CRLF line ends. parse(write(x)) == x. */
void imap_w_command_parsed(imap_wbuf *w, const imap_command *c);
void imap_w_response_parsed(imap_wbuf *w, const imap_response *r);

/* ---- Commands ----------------------------------------------------------------------------- */

/* "tag SP name": validates the tag (1*<ASTRING-CHAR except "+">) and name (atom; "UID FETCH"
 * may be given as one name with one space). Follow with arguments, each preceded by
 * imap_w_sp(), then imap_w_crlf(). */
void imap_w_command(imap_wbuf *w, mr_slice tag, const char *name);

/* Command arguments for imap_write_command(). */
typedef enum imap_arg_kind {
    IMAP_ARG_ATOM,       /* s: an atom */
    IMAP_ARG_ASTRING,    /* s: raw bytes, as astring */
    IMAP_ARG_STRING,     /* s: raw bytes, as string */
    IMAP_ARG_LITERAL,    /* s: raw bytes, always a literal */
    IMAP_ARG_NUMBER,     /* n */
    IMAP_ARG_SEQSET,     /* s: a sequence set, checked ("1:*", "$") */
    IMAP_ARG_FLAG,       /* s: a flag */
    IMAP_ARG_NIL,
    IMAP_ARG_OPEN,       /* "(" */
    IMAP_ARG_CLOSE,      /* ")" */
    IMAP_ARG_RAW,        /* s: written as is (no CR, LF or NUL): "BODY.PEEK[HEADER]" */
} imap_arg_kind;

typedef struct imap_arg {
    imap_arg_kind kind;
    mr_slice s;
    uint64_t n;
} imap_arg;

/* A whole command: tag SP name *(SP arg) CRLF, with no SP after "(" or before ")".
 * Returns as imap_wbuf_result() for buf[0..cap). */
int imap_write_command(char *buf, size_t cap, mr_slice tag, const char *name,
                       const imap_arg *args, size_t nargs, unsigned opts);

/* ---- Responses ---------------------------------------------------------------------------- */

/* Status response: tag (empty: "*") SP status [SP "[" code [SP code_args] "]"] SP text CRLF.
 * code: a name (imap_code_name() or another atom), NULL for none; code_args: raw text
 * (checked: no CR, LF, NUL or "]"), empty for none. */
void imap_w_status(imap_wbuf *w, mr_slice tag, imap_status st, const char *code,
                   mr_slice code_args, mr_slice text, unsigned opts);

/* "+" SP text CRLF (text may be base64). */
void imap_w_continuation(imap_wbuf *w, mr_slice text, unsigned opts);

/* "* CAPABILITY" *(SP atom) CRLF */
void imap_w_capability(imap_wbuf *w, const mr_slice *caps, size_t n);

/* "* LIST (flags) delim mailbox" CRLF; kw "LIST" or "LSUB"; delim 0 writes NIL. */
void imap_w_list_resp(imap_wbuf *w, const char *kw, const mr_slice *flags, size_t nflags,
                      char delim, mr_slice mailbox, unsigned opts);

/* "* STATUS mailbox (name value ...)" CRLF */
void imap_w_status_resp(imap_wbuf *w, mr_slice mailbox, const char *const *names,
                        const uint64_t *values, size_t n, unsigned opts);

/* "* SEARCH" *(SP nz-number) CRLF */
void imap_w_search(imap_wbuf *w, const uint32_t *nums, size_t n);

/* "* FLAGS (flags)" CRLF */
void imap_w_flags(imap_wbuf *w, const mr_slice *flags, size_t n);

/* "* n kw" CRLF, kw "EXISTS", "RECENT" or "EXPUNGE". */
void imap_w_number_resp(imap_wbuf *w, uint32_t n, const char *kw);

/* FETCH: imap_w_fetch_begin ("* n FETCH ("), then per attribute imap_w_fetch_att (name,
 * with SP before all but the first, and SP after) and its value, then imap_w_fetch_end
 * (")" CRLF). name: "UID", "BODY[HEADER.FIELDS (FROM)]<0>" (raw, checked: no CR/LF/NUL). */
void imap_w_fetch_begin(imap_wbuf *w, uint32_t msgno);
void imap_w_fetch_att(imap_wbuf *w, const char *name);
void imap_w_fetch_end(imap_wbuf *w);

/* ENVELOPE and BODYSTRUCTURE from structs. Address lists: nil writes NIL, else the n
 * addresses (their kind field is ignored: groups are written as the fields say). */
typedef struct imap_addr_list_w {
    const imap_address *a;
    size_t n;
    int nil;
} imap_addr_list_w;

typedef struct imap_envelope_w {
    imap_nstring date, subject;
    imap_addr_list_w from, sender, reply_to, to, cc, bcc;
    imap_nstring in_reply_to, message_id;
} imap_envelope_w;

/* envelope: "(" date SP subject SP 6 address lists SP in-reply-to SP message-id ")". */
void imap_w_envelope(imap_wbuf *w, const imap_envelope_w *env, unsigned opts);

typedef struct imap_param_w {
    imap_nstring name, value;
} imap_param_w;

typedef struct imap_body_w imap_body_w;
struct imap_body_w {
    const imap_body_w *parts;      /* nparts > 0: a multipart; then type/fields are unused */
    size_t nparts;
    imap_nstring type, subtype;
    const imap_param_w *params;
    size_t nparams;
    int params_nil;                /* NIL instead of a list */
    imap_nstring id, description, encoding;
    uint64_t octets;
    const imap_envelope_w *envelope; /* message/rfc822: with body, written before lines */
    const imap_body_w *body;
    int has_lines;
    uint64_t lines;
    /* Extension data (BODYSTRUCTURE): ext = how many extension fields to write: 0 none;
     * 1 md5 (multipart: params); 2 + disposition; 3 + language; 4 + location; 5 + the raw
     * tokens in ext_toks. */
    int ext;
    imap_nstring md5;
    int dsp_nil;                   /* NIL disposition */
    imap_nstring dsp_type;
    const imap_param_w *dsp_params;
    size_t ndsp_params;
    int dsp_params_nil;
    const imap_nstring *lang;      /* nlang strings; lang_list: as "(" ... ")" */
    size_t nlang;
    int lang_list;
    imap_nstring loc;
    const imap_toks *ext_toks;     /* further body-extension tokens [ext_from, ext_to) */
    unsigned ext_from, ext_to;
};

/* body: "(" ... ")" as RFC 9051 writes it; multipart parts without SP between them.
 * Recursion follows the structure: at most as deep as the caller built it. */
void imap_w_body(imap_wbuf *w, const imap_body_w *b, unsigned opts);

/* Storage for turning a parsed ENVELOPE or BODYSTRUCTURE back into writer structs (a proxy,
 * a mock server replaying a structure, the round-trip oracle). Each array is the caller's,
 * with its capacity; the *used counts start at 0 and grow. */
typedef struct imap_struct_pool {
    imap_body_w *bodies;
    size_t nbodies, bodies_used;
    imap_envelope_w *envelopes;
    size_t nenvelopes, envelopes_used;
    imap_address *addrs;
    size_t naddrs, addrs_used;
    imap_param_w *params;
    size_t nparams, params_used;
    imap_nstring *strings; /* body-fld-lang lists */
    size_t nstrings, strings_used;
} imap_struct_pool;

/* The ENVELOPE list at token env of t as an imap_envelope_w in pool (strings stay slices of
 * the parsed item). Returns 0 with *out, or -1 (malformed, or the pool is full). */
int imap_envelope_to_w(const imap_toks *t, unsigned env, imap_struct_pool *pool,
                       const imap_envelope_w **out);

/* The body at token body of t as a tree of imap_body_w in pool, extension data included.
 * Returns 0 with *out, or -1. Recursion is bounded by the parse's depth limit. */
int imap_body_to_w(const imap_toks *t, unsigned body, imap_struct_pool *pool,
                   const imap_body_w **out);

#endif
