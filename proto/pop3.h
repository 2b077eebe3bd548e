/* pop3.h -- POP3 commands and responses: parsers and writers.
 *
 * RFC 1939 (commands, responses, multi-line responses), RFC 2449 (CAPA, extended response
 * codes, line lengths), RFC 2595 (STLS), RFC 5034 (AUTH with SASL), RFC 3206 (SYS, AUTH codes).
 *
 * A response is a status line (pop3_response_parse). For LIST and UIDL without an argument,
 * CAPA, RETR and TOP a multi-line body follows, which only the caller can know; it is read
 * with dotstream.h, the same code that reads SMTP DATA: dot_read for RETR/TOP message bodies
 * (streaming, zero-copy), pop3_listing_line (dot_line_next) for LIST/UIDL/CAPA lines, whose
 * content pop3_scan_listing, pop3_uidl_listing and pop3_capa_parse take apart. Bodies are
 * written with dot_write/dot_write_end.
 *
 * Strict: CRLF; keywords case-insensitive (RFC 1939 3) but "+OK"/"-ERR" upper case; single SP
 * between items and no trailing space; arguments of at most 40 octets (RFC 2449 3; PASS is
 * the rest of the line, RFC 1939 7); command lines of 255 octets and status lines of 512 with
 * CRLF (RFC 2449 4); ASCII only; message numbers from 1; "+ " before a SASL challenge
 * (RFC 5034 4); base64 checked. Lenient: bare LF, blanks, trailing blanks, 8-bit, "+" without
 * its space, lower-case status, "AUTH" with no mechanism (the mechanism listing many servers
 * answer), message number 0, any case in an APOP digest. NUL, CR and controls are errors in
 * both modes.
 */
#ifndef MAILRIG_PROTO_POP3_H
#define MAILRIG_PROTO_POP3_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mr.h"

/* ---- limits ---- */

typedef struct pop3_limits {
    size_t max_line;       /* command line without CRLF; default 253 (RFC 2449 4) */
    size_t max_auth_line;  /* AUTH command lines and SASL response lines; default 12286 */
    size_t max_resp_line;  /* response and listing lines without CRLF, both modes; default
                              12286 (SASL challenges); strict also applies RFC 2449's 510 to
                              status lines */
    uint64_t max_number;   /* largest message number, size or line count; default UINT32_MAX */
} pop3_limits;

/* The defaults named above. */
pop3_limits pop3_limits_default(void);

/* ---- commands ---- */

typedef enum pop3_verb {
    POP3_VERB_NONE = 0,
    POP3_USER,
    POP3_PASS,
    POP3_APOP,
    POP3_STAT,
    POP3_LIST,
    POP3_RETR,
    POP3_DELE,
    POP3_NOOP,
    POP3_RSET,
    POP3_QUIT,
    POP3_TOP,
    POP3_UIDL,
    POP3_CAPA,
    POP3_STLS,
    POP3_AUTH,
    POP3_VERB__COUNT
} pop3_verb;

/* The keyword ("RETR"), or "?" for an out-of-range value. */
const char *pop3_verb_name(pop3_verb verb);

/* One parsed command. Only the fields of its verb are set; the rest are zero. */
typedef struct pop3_command {
    pop3_verb verb;
    mr_slice verb_text;          /* as sent */
    mr_slice arg;                /* everything after the keyword and its SP (lenient: trimmed) */
    mr_slice name;               /* USER, APOP */
    mr_slice secret;             /* PASS: the rest of the line, spaces included; APOP: digest */
    uint64_t msg;                /* LIST, UIDL (when has_msg), RETR, DELE, TOP */
    unsigned char has_msg;
    uint64_t lines;              /* TOP */
    mr_slice mechanism;          /* AUTH; empty for a bare lenient "AUTH" */
    mr_slice initial_response;   /* AUTH: base64 as sent; empty for "=" or none */
    unsigned char has_initial_response;
} pop3_command;

/* Parse one command line. Returns the bytes consumed including the line end with *cmd filled
 * (slices into buf), MR_NEED_MORE, or MR_ERROR (MR_E_UNKNOWN_COMMAND for an unknown keyword:
 * reply -ERR and skip the line with mr_line_next; MR_E_LIMIT_LINE as soon as max_line + 2
 * bytes hold no LF, max_auth_line for a line starting "AUTH "). lim may be NULL. *scanned is
 * mr_line_next's resume hint (may be NULL; 0 for each new line). Memory: none beyond *cmd. */
int pop3_command_parse(const char *buf, size_t len, mr_mode mode, const pop3_limits *lim,
                       size_t *scanned, pop3_command *cmd, mr_error *err);

/* Parse a client line answering a "+ " challenge (RFC 5034 4): base64 (may be empty) or "*"
 * to cancel. As smtp_auth_response_parse, except that control and 8-bit bytes fail with rule
 * "base64" (MR_E_NUL, MR_E_BARE_CR, MR_E_CTL, MR_E_8BIT); the limit is lim->max_auth_line. */
int pop3_auth_response_parse(const char *buf, size_t len, mr_mode mode, const pop3_limits *lim,
                             mr_slice *response, int *cancel, mr_error *err);

/* Write cmd as one canonical line with CRLF (keyword in upper case, single spaces).
 * Returns the length (written when <= cap, needed when larger) or MR_ERROR: MR_E_CTL/MR_E_NUL
 * for control bytes in any field (no command injection), MR_E_SYNTAX for a space in a one-word
 * field or an unknown verb, MR_E_EMPTY for a missing required field. */
int pop3_command_write(char *dst, size_t cap, const pop3_command *cmd, mr_error *err);

/* Write an AUTH response line: base64 + CRLF, or "*\r\n". As smtp_auth_response_write. */
int pop3_auth_response_write(char *dst, size_t cap, mr_slice response, int cancel,
                             mr_error *err);

/* ---- responses ---- */

typedef enum pop3_status {
    POP3_STATUS_NONE = 0,
    POP3_OK,     /* "+OK" */
    POP3_ERR,    /* "-ERR" */
    POP3_CONT,   /* "+ " SASL continuation (RFC 5034 4) */
} pop3_status;

typedef struct pop3_response {
    pop3_status status;
    mr_slice code;  /* RFC 2449 8 extended response code without brackets ("IN-USE",
                       "SYS/TEMP", "AUTH"), empty when none */
    mr_slice text;  /* the text after the status, its SP and the code with its SP; for
                       POP3_CONT the base64 challenge */
} pop3_response;

/* Parse one response line (a status line or a SASL continuation). Returns the bytes consumed
 * with *resp filled (slices into buf), MR_NEED_MORE, or MR_ERROR. lim may be NULL. */
int pop3_response_parse(const char *buf, size_t len, mr_mode mode, const pop3_limits *lim,
                        pop3_response *resp, mr_error *err);

/* Write a status line: "+OK", "-ERR" or "+", then SP, "[code] " when there is a code, and
 * the text ("+OK" alone when both are empty; "+ " for an empty continuation). Returns the
 * length or MR_ERROR (MR_E_CTL/MR_E_NUL/MR_E_BARE_CR in code or text; MR_E_SYNTAX for a
 * code holding "]" or a space, or an unknown status). */
int pop3_response_write(char *dst, size_t cap, const pop3_response *resp, mr_error *err);

/* ---- multi-line bodies ---- */

/* One line of a LIST/UIDL/CAPA multi-line body: dot_line_next with lim->max_resp_line. */
int pop3_listing_line(const char *buf, size_t len, mr_mode mode, const pop3_limits *lim,
                      mr_slice *line, int *end, mr_error *err);

/* A scan listing "msg SP size" (LIST, RFC 1939 5; also the text of "+OK 1 120") or a drop
 * listing "count SP size" (STAT). Strict: exactly the two numbers (STAT: anything after a
 * further SP is allowed, RFC 1939 5); lenient: whatever follows a blank is ignored. Returns 0
 * or MR_ERROR (offsets count from line.p). */
int pop3_scan_listing(mr_slice line, mr_mode mode, const pop3_limits *lim, uint64_t *msg,
                      uint64_t *size, mr_error *err);
int pop3_stat_listing(mr_slice text, mr_mode mode, const pop3_limits *lim, uint64_t *count,
                      uint64_t *size, mr_error *err);

/* A unique-id listing "msg SP unique-id" (UIDL, RFC 1939 7): unique-id is 1 to 70 octets of
 * %x21-7E. Returns 0 or MR_ERROR. */
int pop3_uidl_listing(mr_slice line, mr_mode mode, const pop3_limits *lim, uint64_t *msg,
                      mr_slice *uid, mr_error *err);

/* One CAPA line (RFC 2449 5): capa-tag *(SP param), tag and params of %x21-7E. */
typedef struct pop3_capa {
    mr_slice tag;     /* "SASL", "TOP", "EXPIRE" */
    mr_slice params;  /* "PLAIN XOAUTH2", "NEVER"; empty when none */
} pop3_capa;

/* Parse one CAPA line. Returns 0 or MR_ERROR (offsets count from line.p). Lenient: blanks,
 * 8-bit. */
int pop3_capa_parse(mr_slice line, mr_mode mode, pop3_capa *cap, mr_error *err);

/* Iterate the lines of a CAPA body (the bytes after "+OK ...\r\n"). */
typedef struct pop3_capa_iter {
    const char *buf;
    size_t len;
    size_t pos;       /* bytes consumed so far; after the end, the size of the whole body */
    mr_mode mode;
    pop3_limits lim;
    int done;
} pop3_capa_iter;

/* Start iterating the CAPA body buf[0..len) (lim may be NULL; it is copied). Nothing is read
 * until pop3_capa_next. */
void pop3_capa_iter_init(pop3_capa_iter *it, const char *buf, size_t len, mr_mode mode,
                         const pop3_limits *lim);

/* Returns 1 with *cap, 0 once the terminating "." line is consumed (it->pos is then the body
 * size), MR_NEED_MORE when the body is cut short (init again with more bytes), MR_ERROR. */
int pop3_capa_next(pop3_capa_iter *it, pop3_capa *cap, mr_error *err);

/* 1 when a CAPA body (read leniently) lists tag (case-insensitive), with *cap_r (may be NULL)
 * filled; 0 otherwise or when the body is incomplete or bad. */
int pop3_capa_has(const char *buf, size_t len, const char *tag, pop3_capa *cap_r);

/* 1 when the params of cap hold word (case-insensitive): SASL has "XOAUTH2". */
int pop3_capa_has_param(const pop3_capa *cap, const char *word);

/* Write a whole CAPA response: "+OK <text>" (or "+OK"), one line per capability, ".".
 * Returns the length or MR_ERROR (MR_E_EMPTY/MR_E_SYNTAX for an empty tag or one with a
 * space; control bytes as pop3_response_write). A tag can never start with "." (RFC 2449
 * capa-tag), so no stuffing is needed. */
int pop3_capa_write(char *dst, size_t cap, mr_slice text, const pop3_capa *caps, size_t n,
                    mr_error *err);

/* The APOP timestamp in a greeting ("<1896.697170952@dbc.mtview.ca.us>", RFC 1939 7), with
 * its angle brackets, or 0 when the text has none. */
int pop3_apop_timestamp(mr_slice text, mr_slice *stamp);

#endif
