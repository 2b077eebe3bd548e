/* streams.h -- realistic, deterministic byte streams for the parser benchmarks.
 *
 * Every generator is seeded, so two runs (and two parsers in one run) see the same bytes.
 * The caller frees the returned buffer.
 */
#ifndef MAILRIG_BENCH_STREAMS_H
#define MAILRIG_BENCH_STREAMS_H

#include <stddef.h>

typedef struct bench_stream {
    char *p;
    size_t n;
    size_t items; /* responses, replies or messages the stream holds, for sanity checks */
} bench_stream;

/* The server side of a large FETCH-heavy IMAP session: a greeting-less run of tagged FETCH
 * commands' responses, each `* n FETCH (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE
 * BODYSTRUCTURE BODY[] {literal})` for a batch of messages, then `aN OK FETCH completed`.
 * Messages are 1-60 KB, some multipart with attachments, with UTF-8 headers. items counts
 * tagged responses. About `bytes` long. */
bench_stream bench_imap_fetch_session(size_t bytes);

/* One SMTP DATA payload as sent on the wire: dot-stuffed lines of typical mail text
 * (some lines start with '.'), ending with CRLF.CRLF. items = 1. */
bench_stream bench_smtp_data(size_t bytes);

/* The server side of many SMTP submission sessions: banners, multi-line EHLO replies (before
 * and after TLS, Exchange- and Postfix-style), 250/354/235 replies and multi-line 5xx errors
 * with enhanced status codes. items counts replies. */
bench_stream bench_smtp_replies(size_t bytes);

/* Count the CRLF-terminated lines in a stream with memchr: the practical upper bound any
 * line-oriented parser is measured against. */
size_t bench_memchr_lines(const char *p, size_t n);

#endif
