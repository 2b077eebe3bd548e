/* smtp_reply.h -- SMTP replies, server to client: parser, EHLO keyword lists, writers.
 *
 * RFC 5321 4.2 (Reply-line, multi-line replies), 4.5.3.1.5 (512 octets a line), RFC 2034 and
 * RFC 3463 (enhanced status codes "5.7.139"), RFC 5321 4.1.1.1 and RFC 1869 (EHLO keyword
 * lines), RFC 4954 4 ("334 " with an empty or long base64 challenge).
 *
 * One call parses one complete reply, all of its lines, and returns the bytes it consumed; a
 * reply that is not complete yet costs only a memchr per line to find that out, and the parser
 * remembers where it stopped (see smtp_reply_parse). Line slices go into an array the caller
 * supplies, whose size bounds the lines per reply.
 *
 * Strict (the RFCs): CRLF; Reply-code %x32-35 %x30-35 %x30-39; every line of a reply with the
 * same code; "-" or SP after the code (nothing at all on a final line); a final "code SP"
 * must carry text except for 334; text of HT and printable ASCII; 512 octets a line with CRLF
 * (12288 for 334, RFC 4954 4); an enhanced status class that agrees with the reply class.
 * Lenient (deployed servers): bare LF, any code 100-599, lines with different codes (the reply
 * takes the last line's, as clients do), 8-bit text, "250 " with no text, lines up to
 * max_line. NUL, bare CR and controls other than HT are errors in both modes.
 */
#ifndef MAILRIG_PROTO_SMTP_REPLY_H
#define MAILRIG_PROTO_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mr.h"

/* One line of a reply, without its code, separator and line end. */
typedef struct smtp_reply_line {
    mr_slice status; /* the enhanced status code "5.7.139" when the text starts with one
                        (class 2, 4 or 5, then SP or the end), else empty */
    mr_slice text;   /* the text after the code and separator, and after the status and the
                        one SP that follows it; may be empty */
    size_t end;      /* offset of the line's LF in the buffer (the parser's bookkeeping) */
} smtp_reply_line;

/* A parsed reply, and the parser's state while a reply is incomplete. Set it up with
 * smtp_reply_init; reuse it for reply after reply. */
typedef struct smtp_reply {
    smtp_reply_line *lines; /* caller's array: lines[0..nlines) after a parse */
    size_t lines_cap;       /* its size: more lines in one reply is MR_E_LIMIT_COUNT */
    size_t nlines;
    unsigned code;          /* the reply code (of the last line; strict: of every line) */
    /* the first line's enhanced status code as numbers, when it has one */
    unsigned char has_status;
    unsigned status_class, status_subject, status_detail;
    /* private: framing progress between MR_NEED_MORE calls */
    size_t scan_pos, scan_lines;
} smtp_reply;

/* Limits. Use smtp_reply_limits_default() and change what you need. */
typedef struct smtp_reply_limits {
    size_t max_line; /* a reply line without CRLF, both modes; default 12286 (RFC 4954 4 allows
                        334 lines of 12288 octets; strict also applies RFC 5321's 510 to the
                        other codes) */
} smtp_reply_limits;

/* The defaults named above. */
smtp_reply_limits smtp_reply_limits_default(void);

/* Point rep at the caller's line array and clear its state. */
void smtp_reply_init(smtp_reply *rep, smtp_reply_line *lines, size_t lines_cap);

/* Parse one reply from buf[0..len).
 * Returns the bytes consumed (all its lines with their line ends) with rep filled: slices point
 * into buf. MR_NEED_MORE when the reply is not complete: rep remembers how far it framed, so
 * call again with the same bytes plus more (the buffer may move); only the new bytes are
 * scanned. MR_ERROR with *err: framing limits (MR_E_LIMIT_LINE: a line longer than max_line,
 * reported as soon as max_line + 2 bytes hold no LF; MR_E_LIMIT_COUNT: more than lines_cap
 * lines) are found as the bytes arrive; grammar errors once the reply is complete. After a
 * complete reply or an error, rep is ready for the next reply; after MR_NEED_MORE or MR_ERROR
 * its result fields and lines[] are unspecified (framing keeps notes there). err->offset
 * counts from buf.
 * lim may be NULL for the defaults. Cost: O(reply bytes); memory: none beyond rep and lines. */
int smtp_reply_parse(const char *buf, size_t len, mr_mode mode, const smtp_reply_limits *lim,
                     smtp_reply *rep, mr_error *err);

/* Write rep->lines[0..nlines) with rep->code: "code-" on every line but the last, "code "
 * on the last (just "code" when its status and text are empty), the status and one SP when
 * present, the text, CRLF. Returns the length (written when <= cap, needed when larger), or
 * MR_ERROR: MR_E_SYNTAX for a code outside 100..599 or no lines, MR_E_CTL/MR_E_NUL/
 * MR_E_BARE_CR for control characters in a status or text (no reply injection). */
int smtp_reply_write(char *dst, size_t cap, const smtp_reply *rep, mr_error *err);

/* Write a reply from one text: code, optional enhanced status (NULL or "" for none) on every
 * line, the text split into lines at each LF and wrapped at spaces (words longer than a line
 * are cut) so that no line exceeds width octets without CRLF (0: 510, RFC 5321 4.5.3.1.5).
 * Returns as smtp_reply_write; MR_E_LIMIT_LINE when width leaves no room for text;
 * MR_E_BARE_CR/MR_E_CTL/MR_E_NUL for such bytes in text or status. */
int smtp_reply_format(char *dst, size_t cap, unsigned code, const char *status, mr_slice text,
                      size_t width, mr_error *err);

/* ---- EHLO replies (RFC 5321 4.1.1.1): "250-domain greeting", then one keyword per line ---- */

/* One EHLO keyword line: ehlo-keyword *( SP ehlo-param ). */
typedef struct smtp_ehlo_kw {
    mr_slice keyword;         /* "AUTH", "SIZE", "8BITMIME" */
    mr_slice params;          /* "LOGIN XOAUTH2", "157286400"; empty when none */
    unsigned char old_form;   /* "AUTH=LOGIN PLAIN" (pre-RFC 2554 servers; lenient only) */
} smtp_ehlo_kw;

/* The first line of an EHLO reply: *domain its first word, *greeting the rest (may be empty).
 * Returns 0, or MR_ERROR (MR_E_STATE) when rep is not a 250 reply or has no lines. */
int smtp_ehlo_greeting(const smtp_reply *rep, mr_slice *domain, mr_slice *greeting,
                       mr_error *err);

/* Iterate the keyword lines of a parsed 250 EHLO reply (lines 1..nlines-1). */
typedef struct smtp_ehlo_iter {
    const smtp_reply *rep;
    mr_mode mode;
    size_t next;
} smtp_ehlo_iter;

/* Start at the first keyword line of rep (which must stay as parsed while iterating). */
void smtp_ehlo_iter_init(smtp_ehlo_iter *it, const smtp_reply *rep, mr_mode mode);

/* Returns 1 with *kw (slices into the reply's buffer), 0 after the last keyword, MR_ERROR with
 * *err (offset counted from the start of that line's text, rule "ehlo-keyword"/"ehlo-param";
 * MR_E_STATE when the reply is not 250). Strict: keyword (ALPHA / DIGIT) *(ALPHA / DIGIT /
 * "-"), single SPs, params of %d33-126. Lenient: "KEYWORD=params", runs of blanks, 8-bit. */
int smtp_ehlo_next(smtp_ehlo_iter *it, smtp_ehlo_kw *kw, mr_error *err);

/* Find a keyword (case-insensitive) in a 250 EHLO reply, reading leniently. Returns 1 with
 * *kw_r (may be NULL) filled, or 0. */
int smtp_ehlo_has(const smtp_reply *rep, const char *keyword, smtp_ehlo_kw *kw_r);

/* Take the next blank-separated word from *params (advanced past it). Returns 1 with *word,
 * or 0 when none is left. */
int smtp_ehlo_param_next(mr_slice *params, mr_slice *word);

/* 1 when kw's params hold word (case-insensitive), e.g. AUTH has "PLAIN". */
int smtp_ehlo_kw_has_param(const smtp_ehlo_kw *kw, const char *word);

/* Write a 250 EHLO reply: "250-<domain> <greeting>" (no SP when greeting is empty), then one
 * line per keyword ("KEYWORD params", or "KEYWORD=params" when old_form), the last with
 * "250 ". Returns as smtp_reply_write; MR_E_EMPTY for an empty domain or keyword; MR_E_SYNTAX
 * for a space in a domain or keyword. */
int smtp_ehlo_write(char *dst, size_t cap, mr_slice domain, mr_slice greeting,
                    const smtp_ehlo_kw *kws, size_t nkws, mr_error *err);

#endif
