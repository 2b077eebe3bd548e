/* imap_parse.h -- IMAP4rev1/IMAP4rev2 grammar over one framed item (RFC 3501, RFC 9051).
 *
 * Input: one item as imap_framer.h frames it -- a command or a response, ending in CRLF (LF
 * in lenient mode), with inline literals in place and streamed literals (size above
 * limits.inline_literal_max) reduced to their marker line, the payload absent.
 * Output: a small header struct (tag, kind, command or response type, status, code, text)
 * and a jsmn-style array of tokens, supplied by the caller, in wire order. Tokens are
 * slices of the item (offsets, so an array can be copied with its item); a list, section,
 * response code or search key is followed by its children, and every token records the index
 * just past its subtree (`next`), so walking siblings skips sublists in O(1).
 *
 * Recursive descent with an explicit depth limit (limits.depth_max) on every recursive rule:
 * lists, body structures, envelopes, search keys (NOT/OR/parens). Token count is limited by
 * min(tok_cap, limits.tokens_max). No allocation. Memory bound: the caller's token array
 * (16 bytes a token) and the stack, about 150 bytes a nesting level at -O2 (depth_max is
 * clamped to 512: at most ~80 KiB; the default 64: ~10 KiB).
 *
 * Strict mode (MR_STRICT) validates the RFC grammar of every response and command it knows,
 * naming the failing ABNF rule ("body-fld-param", "env-from", "search-key", ...). Lenient mode
 * (MR_LENIENT) accepts what deployed servers send: bare LF, runs of spaces and a space before
 * ")", 8-bit bytes in atoms and text, a missing space after "* OK" / "+" / "[code]", "\x"
 * escapes, NIL or "()" where a parameter list or an encoding is required, message/rfc822 parts
 * without envelope, "0" where nz-number is required, an unpadded day in date-time, tagged
 * BYE/PREAUTH, and unknown untagged data kept as text when it is not even generic values.
 *
 * In both modes: keywords and NIL match case-insensitively, as ABNF strings do (RFC 5234
 * section 2.3), so "nil" and "* ok" are RFC-valid; valid UTF-8 is accepted in quoted strings
 * and text (RFC 9051 QUOTED-CHAR, text), invalid UTF-8 there is MR_E_UTF8 in strict mode; NUL
 * is refused everywhere except in literal payloads (strict mode: only in literal8 payloads).
 * Unknown commands and unknown untagged responses parse as generic values (atoms, strings,
 * literals, lists) so that a server can answer BAD and a client can skip them.
 */
#ifndef MAILRIG_PROTO_IMAP_PARSE_H
#define MAILRIG_PROTO_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/imap_framer.h"
#include "proto/mr.h"

/* Token types. Slices are described as what imap_tok_slice() returns. */
typedef enum imap_tok_type {
    IMAP_T_ATOM = 1, /* atom, flag ("\Seen"), keyword, capability, command argument atom;
                        slice: the atom. May have children: a fetch attribute's SECTION and
                        PARTIAL, a search key's arguments. */
    IMAP_T_NUMBER,   /* 1*DIGIT; slice: the digits (read with imap_tok_u64) */
    IMAP_T_QUOTED,   /* quoted string; slice: between the quotes, escapes kept (flag ESCAPED
                        when there is one; imap_tok_copy() unescapes) */
    IMAP_T_LITERAL,  /* literal or literal8; slice: the payload. Streamed or pending: empty
                        slice at the "{", and len = the announced size */
    IMAP_T_NIL,      /* NIL */
    IMAP_T_LIST,     /* "(" ... ")"; slice: from "(" to ")" inclusive; children: elements */
    IMAP_T_CODE,     /* resp-text-code; slice: between "[" and "]"; children: ATOM name, then
                        arguments (ATOM/NUMBER/LIST/SEQSET, or one TEXT for other codes) */
    IMAP_T_TEXT,     /* text; slice: the text (resp-text, or a generic code's argument) */
    IMAP_T_SECTION,  /* section of BODY[...] / BINARY[...]; slice: between the brackets;
                        children: ATOM section-spec ("1.2.HEADER.FIELDS"), LIST header-list */
    IMAP_T_PARTIAL,  /* <origin> or <origin.size>; slice: between the angle brackets */
    IMAP_T_SEQSET,   /* sequence-set, uid-set or "$"; slice: the set (imap_seq_next walks it) */
} imap_tok_type;

/* Token flags. */
enum {
    IMAP_TF_ESCAPED = 1,  /* QUOTED: contains backslash escapes */
    IMAP_TF_BINARY = 2,   /* LITERAL: literal8, ~{n} (RFC 9051, RFC 3516) */
    IMAP_TF_NONSYNC = 4,  /* LITERAL: {n+} (RFC 7888) */
    IMAP_TF_STREAMED = 8, /* LITERAL: payload streamed by the framer, not in the item */
    IMAP_TF_PENDING = 16, /* LITERAL: prefix parse; the payload has not arrived yet */
    IMAP_TF_NOSP = 32,    /* follows its previous sibling without a space (addresses of an
                             address list, parts of a multipart body), as the RFC writes them */
};

/* One token: 16 bytes. The slice is item + off, len bytes. */
typedef struct imap_token {
    uint32_t off;
    uint32_t len;
    uint32_t next;  /* index of the first token after this one and its children */
    uint8_t type;   /* imap_tok_type */
    uint8_t flags;  /* IMAP_TF_* */
    uint16_t depth; /* nesting level, 0 at the top */
} imap_token;

/* A parsed item's tokens, with the item they point into. */
typedef struct imap_toks {
    const char *base;
    const imap_token *tok;
    unsigned n;
} imap_toks;

/* Item kinds. */
typedef enum imap_kind {
    IMAP_KIND_NONE = 0,
    IMAP_KIND_TAGGED,       /* response: tag SP resp-cond-state */
    IMAP_KIND_UNTAGGED,     /* response: "*" SP ... */
    IMAP_KIND_CONTINUATION, /* response: "+" SP (resp-text / base64) */
    IMAP_KIND_COMMAND,      /* command: tag SP command */
} imap_kind;

/* Condition of a status response. */
typedef enum imap_status {
    IMAP_STATUS_NONE = 0,
    IMAP_STATUS_OK,
    IMAP_STATUS_NO,
    IMAP_STATUS_BAD,
    IMAP_STATUS_PREAUTH,
    IMAP_STATUS_BYE,
} imap_status;

/* Response types (untagged data; tagged responses are IMAP_R_COND). */
typedef enum imap_resp_type {
    IMAP_R_NONE = 0,    /* continuation request */
    IMAP_R_COND,        /* OK / NO / BAD / PREAUTH / BYE: status, code, text */
    IMAP_R_CAPABILITY,  /* tokens: ATOM per capability */
    IMAP_R_ENABLED,     /* tokens: ATOM per capability (RFC 5161) */
    IMAP_R_FLAGS,       /* tokens: LIST of flags */
    IMAP_R_LIST,        /* LIST or XLIST; tokens: LIST flags, QUOTED/NIL delimiter, mailbox,
                           [LIST extended data] */
    IMAP_R_LSUB,        /* as LIST */
    IMAP_R_STATUS,      /* tokens: mailbox, LIST of ATOM NUMBER pairs */
    IMAP_R_SEARCH,      /* tokens: NUMBER per message, [LIST (MODSEQ n)] (RFC 7162) */
    IMAP_R_ESEARCH,     /* tokens: generic (RFC 4731) */
    IMAP_R_NAMESPACE,   /* tokens: three NIL or LIST (RFC 2342) */
    IMAP_R_ID,          /* tokens: NIL or LIST of string/nstring pairs (RFC 2971) */
    IMAP_R_EXISTS,      /* number */
    IMAP_R_RECENT,      /* number */
    IMAP_R_EXPUNGE,     /* number */
    IMAP_R_FETCH,       /* number; tokens: LIST of msg-att name/value pairs */
    IMAP_R_OTHER,       /* any other untagged data; tokens: generic values */
} imap_resp_type;

/* Response codes (RFC 3501, 9051, 5530, 4315, 7162, 7888, 3516, 2221, 5182). */
typedef enum imap_code {
    IMAP_CODE_NONE = 0,
    IMAP_CODE_OTHER, /* an atom not listed here: see the CODE token */
    IMAP_CODE_ALERT,
    IMAP_CODE_ALREADYEXISTS,
    IMAP_CODE_APPENDUID,
    IMAP_CODE_AUTHENTICATIONFAILED,
    IMAP_CODE_AUTHORIZATIONFAILED,
    IMAP_CODE_BADCHARSET,
    IMAP_CODE_CANNOT,
    IMAP_CODE_CAPABILITY,
    IMAP_CODE_CLIENTBUG,
    IMAP_CODE_CLOSED,
    IMAP_CODE_CONTACTADMIN,
    IMAP_CODE_COPYUID,
    IMAP_CODE_CORRUPTION,
    IMAP_CODE_EXPIRED,
    IMAP_CODE_EXPUNGEISSUED,
    IMAP_CODE_HASCHILDREN,
    IMAP_CODE_HIGHESTMODSEQ,
    IMAP_CODE_INUSE,
    IMAP_CODE_LIMIT,
    IMAP_CODE_MODIFIED,
    IMAP_CODE_NOMODSEQ,
    IMAP_CODE_NONEXISTENT,
    IMAP_CODE_NOPERM,
    IMAP_CODE_NOTSAVED,
    IMAP_CODE_OVERQUOTA,
    IMAP_CODE_PARSE,
    IMAP_CODE_PERMANENTFLAGS,
    IMAP_CODE_PRIVACYREQUIRED,
    IMAP_CODE_READ_ONLY,
    IMAP_CODE_READ_WRITE,
    IMAP_CODE_REFERRAL,
    IMAP_CODE_SERVERBUG,
    IMAP_CODE_TOOBIG,
    IMAP_CODE_TRYCREATE,
    IMAP_CODE_UIDNEXT,
    IMAP_CODE_UIDNOTSTICKY,
    IMAP_CODE_UIDVALIDITY,
    IMAP_CODE_UNAVAILABLE,
    IMAP_CODE_UNKNOWN_CTE,
    IMAP_CODE_UNSEEN,
    IMAP_CODE__COUNT
} imap_code;

/* The code's name as the RFCs spell it ("READ-WRITE"), or NULL for NONE/OTHER. */
const char *imap_code_name(imap_code c);

/* A parsed response. Slices point into the item. */
typedef struct imap_response {
    imap_kind kind;      /* TAGGED, UNTAGGED or CONTINUATION */
    imap_resp_type type;
    imap_status status;  /* IMAP_R_COND only */
    imap_code code;      /* resp-text-code, or IMAP_CODE_NONE */
    int code_tok;        /* index of the CODE token, or -1 */
    mr_slice tag;        /* TAGGED: the tag; else "*" or "+" */
    mr_slice name;       /* the response keyword as sent ("FETCH", "ok", "XLIST"); empty for
                            continuations */
    int has_number;      /* "* number name ..." */
    uint32_t number;     /* EXISTS, RECENT, EXPUNGE, FETCH: the number before the keyword */
    mr_slice text;       /* COND and continuation: the text after the code (may be empty);
                            a continuation's base64 is here too */
    int partial;         /* always 0 for responses */
    imap_toks t;         /* data tokens (a COND has the CODE token, if any, then TEXT) */
} imap_response;

/* Commands. UID COPY/MOVE/FETCH/SEARCH/STORE/EXPUNGE set `uid` and keep the inner type. */
typedef enum imap_cmd_type {
    IMAP_CMD_UNKNOWN = 0, /* a well-formed unknown command; tokens: generic values */
    IMAP_CMD_APPEND,
    IMAP_CMD_AUTHENTICATE,
    IMAP_CMD_CAPABILITY,
    IMAP_CMD_CHECK,
    IMAP_CMD_CLOSE,
    IMAP_CMD_COPY,
    IMAP_CMD_CREATE,
    IMAP_CMD_DELETE,
    IMAP_CMD_ENABLE,
    IMAP_CMD_EXAMINE,
    IMAP_CMD_EXPUNGE,
    IMAP_CMD_FETCH,
    IMAP_CMD_ID,
    IMAP_CMD_IDLE,
    IMAP_CMD_LIST,
    IMAP_CMD_LOGIN,
    IMAP_CMD_LOGOUT,
    IMAP_CMD_LSUB,
    IMAP_CMD_MOVE,
    IMAP_CMD_NAMESPACE,
    IMAP_CMD_NOOP,
    IMAP_CMD_RENAME,
    IMAP_CMD_SEARCH,
    IMAP_CMD_SELECT,
    IMAP_CMD_STARTTLS,
    IMAP_CMD_STATUS,
    IMAP_CMD_STORE,
    IMAP_CMD_SUBSCRIBE,
    IMAP_CMD_UNSELECT,
    IMAP_CMD_UNSUBSCRIBE,
    IMAP_CMD__COUNT
} imap_cmd_type;

/* The command's name in upper case ("APPEND"), or NULL for UNKNOWN. */
const char *imap_cmd_name(imap_cmd_type t);

/* A parsed command. Argument tokens, per type (brackets: optional):
 *   LOGIN: astring astring. AUTHENTICATE: ATOM mechanism [ATOM initial response, "=" = empty].
 *   SELECT/EXAMINE/CREATE: mailbox [LIST params]. DELETE/SUBSCRIBE/UNSUBSCRIBE: mailbox.
 *   RENAME: mailbox mailbox [LIST]. LIST: [LIST select-opts] mailbox pattern-or-LIST
 *   [ATOM RETURN, LIST]. LSUB: mailbox pattern. STATUS: mailbox LIST of ATOMs.
 *   APPEND: mailbox, then per message [LIST flags] [QUOTED date-time] LITERAL (MULTIAPPEND
 *   repeats). ENABLE: ATOM... ID: NIL or LIST of string/nstring pairs.
 *   COPY/MOVE: SEQSET mailbox. FETCH: SEQSET, ATOM macro or fetch-att or LIST of them, [LIST
 *   modifiers]; a fetch-att is an ATOM with SECTION and PARTIAL children.
 *   STORE: SEQSET [LIST modifiers] ATOM ("+FLAGS.SILENT"...) LIST-or-flags.
 *   SEARCH: [ATOM RETURN, LIST] [ATOM CHARSET, astring] then one token per search-key: an
 *   ATOM key whose children are its arguments (NOT/OR: their keys), a LIST of keys, or a SEQSET.
 *   UID EXPUNGE: SEQSET. Others: no arguments. */
typedef struct imap_command {
    imap_kind kind;      /* IMAP_KIND_COMMAND */
    imap_cmd_type type;
    int uid;             /* "UID" prefix */
    mr_slice tag;        /* set as soon as it parsed, even when the command fails later */
    mr_slice name;       /* the command name as sent (after "UID ") */
    int partial;         /* prefix parse stopped at a pending literal */
    imap_toks t;
} imap_command;

/* Fetch attribute names (RFC 9051 fetch-att, msg-att), matched case-insensitively. */
typedef enum imap_att {
    IMAP_ATT_OTHER = 0, /* an extension (X-GM-LABELS, EMAILID, PREVIEW, ...) */
    IMAP_ATT_ALL,       /* macros: commands only */
    IMAP_ATT_FAST,
    IMAP_ATT_FULL,
    IMAP_ATT_ENVELOPE,
    IMAP_ATT_FLAGS,
    IMAP_ATT_INTERNALDATE,
    IMAP_ATT_RFC822,
    IMAP_ATT_RFC822_HEADER,
    IMAP_ATT_RFC822_SIZE,
    IMAP_ATT_RFC822_TEXT,
    IMAP_ATT_BODY,          /* BODY (structure) or BODY[section] */
    IMAP_ATT_BODY_PEEK,
    IMAP_ATT_BODYSTRUCTURE,
    IMAP_ATT_UID,
    IMAP_ATT_BINARY,
    IMAP_ATT_BINARY_PEEK,
    IMAP_ATT_BINARY_SIZE,
    IMAP_ATT_MODSEQ,        /* RFC 7162 */
} imap_att;

/* Which attribute the name p[0..n) (without section) is. */
imap_att imap_att_lookup(const char *p, size_t n);

/* A date or date-time. zone: minutes east of UTC. */
typedef struct imap_datetime {
    int year, month, day; /* month 1..12 */
    int hour, min, sec;
    int zone;
    int has_time;         /* a date-time, not a date */
} imap_datetime;

/* Read the content of a date-time string (between the quotes):
 * date-day-fixed "-" date-month "-" date-year SP time SP zone, e.g. "17-Jul-1996 02:44:25
 * -0700" (RFC 9051). Lenient mode also takes a one-digit day without its leading space.
 * Returns 0, or -1 when it is not one. */
int imap_datetime_parse(mr_slice s, mr_mode mode, imap_datetime *dt);

/* Read a search date-text: date-day "-" date-month "-" date-year ("1-Feb-1994").
 * Returns 0 or -1. */
int imap_date_parse(mr_slice s, imap_datetime *dt);

/* Parse one framed response item[0..len).
 * Returns len, or MR_ERROR with *err (offset from item): MR_E_SYNTAX, MR_E_TRAILING,
 * MR_E_LIMIT_DEPTH, MR_E_LIMIT_COUNT (tokens), MR_E_LIMIT_LITERAL, MR_E_NUMBER, MR_E_NUL,
 * MR_E_8BIT, MR_E_UTF8, MR_E_BARE_LF, MR_E_EMPTY. lim NULL: defaults. *r is filled as far as
 * the parse got. tok[0..min(tok_cap, tokens_max)) receives the tokens. */
int imap_response_parse(const char *item, size_t len, const imap_limits *lim, imap_response *r,
                        imap_token *tok, unsigned tok_cap, mr_error *err);

/* Parse one framed command item[0..len). Returns and errors as imap_response_parse().
 * cmd->tag is set whenever the tag parsed, so that a server can answer "tag BAD" to a
 * command that fails later; an unknown command parses (type IMAP_CMD_UNKNOWN) when its
 * arguments are well-formed generic values. */
int imap_command_parse(const char *item, size_t len, const imap_limits *lim, imap_command *cmd,
                       imap_token *tok, unsigned tok_cap, mr_error *err);

/* Parse the text of a command up to a synchronizing literal, as imap_framer_next() reports
 * it with IMAP_FRAME_SYNC_LITERAL (buf[0..ev.n), segments first if any): the grammar runs
 * until the announced literal, which becomes a LITERAL token flagged PENDING, and stops
 * there (cmd->partial = 1). A server uses it to check an APPEND's mailbox, flags and size
 * before it sends "+". A complete item parses as with imap_command_parse(). */
int imap_command_parse_prefix(const char *item, size_t len, const imap_limits *lim,
                              imap_command *cmd, imap_token *tok, unsigned tok_cap,
                              mr_error *err);

/* Frame (imap_frame_whole) and parse the next response at the start of buf[0..len), for
 * callers that keep whole items with inline literals. Returns the bytes it spans,
 * MR_NEED_MORE, or MR_ERROR (framing or grammar). */
int imap_response_next(const char *buf, size_t len, const imap_limits *lim, imap_response *r,
                       imap_token *tok, unsigned tok_cap, mr_error *err);

/* Same for a command (synchronizing literals are taken as already accepted). */
int imap_command_next(const char *buf, size_t len, const imap_limits *lim, imap_command *cmd,
                      imap_token *tok, unsigned tok_cap, mr_error *err);

/* Is the framed line item[0..len) the "DONE" that ends IDLE (RFC 2177, RFC 9051 idle)?
 * Case-insensitive; lenient mode also takes bare LF and trailing spaces. Returns 1 or 0. */
int imap_is_idle_done(const char *item, size_t len, mr_mode mode);

/* A client's line during AUTHENTICATE (RFC 9051 section 6.2.2): base64 CRLF, or "*" CRLF to
 * cancel. Returns len with *b64 set (may be empty) and *cancel 0/1, or MR_ERROR with
 * MR_E_BASE64 (offset of the first bad character) or MR_E_BARE_LF. After the line end, this
 * is sasl_response_text_check() without SASL_TEXT_WORD. */
int imap_sasl_line(const char *item, size_t len, mr_mode mode, mr_slice *b64, int *cancel,
                   mr_error *err);

/* The tag at the start of buf (1*<ASTRING-CHAR except "+">, 8-bit bytes too in lenient mode
 * as the parser takes them; or "*" / "+" for responses), for answering an item that cannot
 * be parsed. Returns its length (0 when there is none). */
size_t imap_tag_len(const char *buf, size_t len, mr_mode mode);

#endif
