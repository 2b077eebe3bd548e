/* smtp_command.h -- SMTP/ESMTP command lines, client to server: parser and writer.
 *
 * RFC 5321 4.1 (commands, paths, address literals), 3207 STARTTLS, 4954 AUTH, 1870 SIZE,
 * 6152 8BITMIME, 3030 BDAT/CHUNKING/BINARYMIME, 3461 DSN (RET ENVID NOTIFY ORCPT), 6531
 * SMTPUTF8, 8689 REQUIRETLS. One call parses one command line; with PIPELINING (RFC 2920) the
 * caller calls again on the bytes after the consumed ones. The DATA content that follows a
 * 354 reply is read with dotstream.h, BDAT chunks by their announced size.
 *
 * What strict and lenient mean here:
 *   MR_STRICT   the ABNF of RFC 5321 4.1 as extended by the RFCs above: CRLF, exactly one SP
 *               between items, no trailing space, "MAIL FROM:<path>" with no space after the
 *               colon, angle brackets, no source route (A-d-l, deprecated by RFC 5321 C and
 *               refused here), 8-bit bytes only when SMTPUTF8 is in effect, the RFC 5321
 *               4.5.3.1 length limits (local part 64, domain 255, path 256 octets), and the
 *               values of the known ESMTP parameters checked (SIZE BODY SMTPUTF8 RET ENVID
 *               AUTH REQUIRETLS on MAIL; NOTIFY ORCPT on RCPT), each at most once.
 *   MR_LENIENT  what real clients send: bare LF, runs of spaces and tabs, trailing spaces,
 *               "MAIL FROM: <a@b>", "MAIL FROM:a@b" without brackets, source routes, local
 *               parts like "a..b." (docomo), UTF-8 without SMTPUTF8, any non-space token as
 *               the EHLO/HELO domain, lower-case SASL mechanism names.
 * Verbs and the "FROM:"/"TO:" keywords are case-insensitive in both modes (RFC 5321 2.4).
 * Invalid UTF-8, NUL, CR and other control characters are errors in both modes.
 */
#ifndef MAILRIG_PROTO_SMTP_COMMAND_H
#define MAILRIG_PROTO_SMTP_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mr.h"

/* The verbs this parser knows. An unknown verb is an MR_E_UNKNOWN_COMMAND error (reply 500);
 * a known verb with bad arguments is any other error (reply 501). */
typedef enum smtp_verb {
    SMTP_VERB_NONE = 0,
    SMTP_EHLO,
    SMTP_HELO,
    SMTP_MAIL,
    SMTP_RCPT,
    SMTP_DATA,
    SMTP_BDAT,
    SMTP_RSET,
    SMTP_NOOP,
    SMTP_QUIT,
    SMTP_VRFY,
    SMTP_EXPN,
    SMTP_HELP,
    SMTP_STARTTLS,
    SMTP_AUTH,
    SMTP_VERB__COUNT
} smtp_verb;

/* The verb as written on the wire ("EHLO"), or "?" for an out-of-range value. */
const char *smtp_verb_name(smtp_verb verb);

/* What a domain slot holds (EHLO argument, the domain of a mailbox). */
typedef enum smtp_host_kind {
    SMTP_HOST_NONE = 0,  /* empty: "<>", "<Postmaster>" */
    SMTP_HOST_DOMAIN,    /* a Domain (or, lenient, any token) */
    SMTP_HOST_IPV4,      /* "[192.0.2.1]" */
    SMTP_HOST_IPV6,      /* "[IPv6:2001:db8::1]" */
    SMTP_HOST_GENERAL,   /* "[tag:content]" (General-address-literal) */
} smtp_host_kind;

/* A reverse-path or forward-path. Slices point into the parsed line. */
typedef struct smtp_path {
    mr_slice route;              /* A-d-l without its ":" ("@a,@b"); lenient only, else empty */
    mr_slice local;              /* Local-part as sent: quotes and backslashes kept */
    mr_slice domain;             /* Domain, or the address literal with its brackets */
    smtp_host_kind domain_kind;
    unsigned char null_path;     /* "<>" (MAIL only) */
    unsigned char bracketed;     /* 0 when lenient mode took a path without "<" ">" */
    unsigned char utf8;          /* the path has non-ASCII bytes (valid UTF-8) */
} smtp_path;

/* An ESMTP parameter (esmtp-param): keyword with an optional "=" value. */
typedef struct smtp_param {
    mr_slice keyword;
    mr_slice value;              /* empty when has_value is 0 */
    unsigned char has_value;     /* "KEY=..." (lenient: "KEY=" gives has_value 1, empty value) */
} smtp_param;

/* Room in smtp_command for parameters; smtp_command_limits.max_params may lower it. */
#define SMTP_PARAMS_MAX 16

/* One parsed command. Only the fields of its verb are set; the rest are zero, except
 * params[nparams..], which are unspecified. */
typedef struct smtp_command {
    smtp_verb verb;
    mr_slice verb_text;          /* the verb as sent ("ehlo") */
    mr_slice arg;                /* everything after the verb and its space, without the line
                                    end (lenient: without trailing blanks); may be empty */
    /* EHLO, HELO */
    mr_slice domain;             /* Domain or address literal (lenient: first token) */
    smtp_host_kind domain_kind;
    /* MAIL, RCPT */
    smtp_path path;
    /* BDAT */
    uint64_t chunk_size;
    unsigned char last;          /* "BDAT n LAST" */
    /* AUTH */
    mr_slice mechanism;
    mr_slice initial_response;   /* base64 as sent; empty for "=" or none */
    unsigned char has_initial_response; /* 1 for "AUTH X <b64>" and for "AUTH X =" */
    /* VRFY, EXPN, HELP, NOOP */
    mr_slice string;             /* the String argument (HELP/NOOP: empty when none) */
    /* MAIL, RCPT; VRFY and EXPN use them for "SMTPUTF8" (RFC 6531 3.7.4.2). Last, so that
     * clearing a command does not touch the array. */
    size_t nparams;
    smtp_param params[SMTP_PARAMS_MAX];
} smtp_command;

/* Limits and options. Use smtp_command_limits_default() and change what you need. */
typedef struct smtp_command_limits {
    size_t max_line;       /* command line without CRLF; default 510 (RFC 5321 4.5.3.1.4:
                              512 with CRLF) */
    size_t max_auth_line;  /* an AUTH line or AUTH response line; default 12286 (RFC 4954 4:
                              12288 with CRLF) */
    size_t max_params;     /* ESMTP parameters per command; default and maximum
                              SMTP_PARAMS_MAX */
    uint64_t max_chunk;    /* largest BDAT chunk size accepted; default MR_LIMIT_MAX (1 GiB) */
    int smtputf8;          /* 1: UTF-8 is allowed in paths and parameter values (the server
                              offered SMTPUTF8 and, for RCPT, the transaction's MAIL carried
                              it). A MAIL command carrying SMTPUTF8 allows it for itself. */
} smtp_command_limits;

/* The defaults named above (smtputf8 = 0). */
smtp_command_limits smtp_command_limits_default(void);

/* Parse one command line from buf[0..len).
 * Returns the bytes consumed including the line end, with *cmd filled (slices point into buf);
 * MR_NEED_MORE when buf holds no complete line yet; MR_ERROR with *err when the line is
 * invalid or too long. After an error the caller skips the line itself (mr_line_next in
 * MR_LENIENT finds its end) and replies 500 (MR_E_UNKNOWN_COMMAND) or 501/500 (others);
 * MR_E_LIMIT_LINE is reported as soon as max_line + 2 bytes hold no LF (max_auth_line for a
 * line starting with "AUTH "), so a line that never ends costs bounded scanning.
 * lim may be NULL for the defaults. *scanned (may be NULL) is the resume hint of
 * mr_line_next: set it to 0 for each new command. Memory: none beyond *cmd. */
int smtp_command_parse(const char *buf, size_t len, mr_mode mode,
                       const smtp_command_limits *lim, size_t *scanned, smtp_command *cmd,
                       mr_error *err);

/* Parse a client line answering a 334 challenge during AUTH (RFC 4954 4): base64, possibly
 * empty, or "*" to cancel the exchange. Returns the bytes consumed, with *response the base64
 * text (empty for "*" and for an empty line) and *cancel 1 for "*"; MR_NEED_MORE; MR_ERROR
 * (MR_E_BASE64 when strict base64 syntax fails; lenient takes any printable ASCII without
 * spaces). The line limit is lim->max_auth_line. Control bytes fail as in
 * smtp_command_parse (rule "command-line"); the rest is sasl_response_text_check() with
 * SASL_TEXT_WORD. */
int smtp_auth_response_parse(const char *buf, size_t len, mr_mode mode,
                             const smtp_command_limits *lim, mr_slice *response, int *cancel,
                             mr_error *err);

/* Find a parameter by keyword (case-insensitive), or NULL. */
const smtp_param *smtp_command_param(const smtp_command *cmd, const char *keyword);

/* Write cmd as one canonical command line with CRLF into dst[0..cap): the verb in upper case,
 * single spaces, the path in angle brackets, "KEY=value" parameters. Uses the fields of
 * cmd->verb only (not arg). Returns the line length (written when <= cap, needed when larger),
 * or MR_ERROR with MR_E_CTL/MR_E_NUL when a slice holds CR, LF, NUL or another control
 * character (no command injection through API inputs), MR_E_EMPTY when a required field is
 * empty, MR_E_SYNTAX when the verb is unknown. The writer does not check the grammar beyond
 * that: parse the output to check it. */
int smtp_command_write(char *dst, size_t cap, const smtp_command *cmd, mr_error *err);

/* Write an AUTH response line: base64 text + CRLF, or "*\r\n" when cancel is set. Same return
 * convention; MR_E_BASE64 when response holds a byte outside the base64 alphabet.
 * The same as sasl_response_text_write(). */
int smtp_auth_response_write(char *dst, size_t cap, mr_slice response, int cancel,
                             mr_error *err);

#endif
