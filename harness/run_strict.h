/* run_strict.h -- strict well-formedness of what a server sends, checked as it is consumed.
 *
 * In the client role every byte the interpreter takes from a server (by expect, expect-reply,
 * or any other step) is also fed here, and cut into the protocol's responses with the proto/
 * parsers in MR_STRICT: SMTP replies (smtp_reply_parse), IMAP responses (imap_response_next),
 * POP3 status lines and, after a command known to get a multi-line answer (CAPA, LIST and
 * UIDL without argument, RETR, TOP) and a +OK, the dot-terminated body. The first violation
 * is kept with its ABNF rule, error code and offset, counted from the first byte the server
 * sent on that connection; the step that fed it fails even when its own pattern matched.
 *
 * The checker copies bytes it cannot parse yet (a response still incomplete at the end of a
 * step), bounded by RUN_STRICT_MAX; past that it reports a limit violation.
 */
#ifndef MAILRIG_HARNESS_RUN_STRICT_H
#define MAILRIG_HARNESS_RUN_STRICT_H

#include <stddef.h>
#include <stdint.h>

#include "harness/scenario.h"
#include "proto/imap_framer.h"
#include "proto/mr.h"

#define RUN_STRICT_MAX (4u << 20)

/* POP3: the answers still expected to be multi-line, oldest first (pipelined commands). */
enum { RUN_STRICT_QUEUE = 64 };

typedef struct run_strict {
    sc_proto proto;
    char *buf;                /* unparsed bytes */
    size_t len, cap;
    uint64_t base;            /* stream offset of buf[0] */
    int in_body;              /* POP3: inside a multi-line body */
    unsigned char queue[RUN_STRICT_QUEUE];  /* POP3: 1 = multi-line command sent */
    size_t qhead, qlen;
    /* the first violation */
    int failed;
    mr_error err;
    uint64_t offset;          /* stream offset of the error */
    char what[64];            /* "SMTP reply", "IMAP response", "POP3 status line" ... */
    void *scratch;            /* parser line/token arrays */
} run_strict;

/* Start checking a stream of proto (SC_PROTO_NONE: nothing is checked). */
void run_strict_init(run_strict *s, sc_proto proto);   /* out of memory: checks nothing */
void run_strict_free(run_strict *s);

/* Tell the checker about a command line the client sent (POP3 needs it to know which
 * responses are multi-line; others ignore it). line without its line end. */
void run_strict_sent(run_strict *s, const char *line, size_t n);

/* Feed bytes the interpreter consumed. Returns 0, or -1 when this call found the first
 * violation (s->failed is then set; later calls return 0 and check nothing more). */
int run_strict_feed(run_strict *s, const char *p, size_t n);

/* The violation in words: "strict: SMTP reply at byte 17: bare LF (rule Reply-line)". */
void run_strict_describe(const run_strict *s, char *buf, size_t n);

/* The IMAP limits the interpreter frames with (strictly here, leniently for expect-reply):
 * the defaults, with literals kept inline up to half a connection's buffer. */
imap_limits run_imap_limits(mr_mode mode);

#endif
