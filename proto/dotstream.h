/* dotstream.h -- dot-terminated text: SMTP DATA (RFC 5321 4.1.1.4, 4.5.2) and POP3 multi-line
 * responses (RFC 1939 3). One reader and one writer serve both protocols.
 *
 * On the wire the content is a sequence of lines; a line that starts with "." gets one more
 * "." in front (dot-stuffing), and the content ends with a line holding only ".". The CRLF
 * before that line belongs to the content. Empty content is the single line ".\r\n".
 *
 * Line ends. MR_STRICT: only CRLF ends a line, so only "\r\n.\r\n" ends the content (and
 * ".\r\n" at the very start); a "." after a bare LF is content, and "\n.\n" or "\r\n.\n" do
 * not end anything. That is what RFC 5321 says, and it is the reading that closes the "SMTP
 * smuggling" gap between servers with different ideas of the end of DATA. MR_LENIENT: LF ends
 * a line with or without CR before it (what many deployed servers do), so "\n.\n" ends too.
 *
 * The streaming reader (dot_read) gives the content as slices of the caller's input: zero
 * copy, no buffering, any split of the input gives the same bytes. Violations (bare LF, bare
 * CR, long lines) are recorded in both modes as flags with the stream offset of the first of
 * each kind, and never stop the stream: a server wants to read to the end and then decide
 * what to reply (strict conformance checks report them; lenient callers may ignore them).
 * The line reader (dot_line_next) gives one line at a time, for short structured lines such
 * as POP3 LIST/UIDL/CAPA listings. The writer (dot_write, dot_write_end) dot-stuffs.
 */
#ifndef MAILRIG_PROTO_DOTSTREAM_H
#define MAILRIG_PROTO_DOTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mr.h"

/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including its CRLF. */
#define DOT_MAX_LINE_DEFAULT 998

/* Limits of the streaming reader. The reader buffers nothing, so no limit bounds memory; the
 * line limit only decides what is flagged as DOT_V_LONG_LINE. */
typedef struct dot_limits {
    size_t max_line; /* longest line without its line end; default DOT_MAX_LINE_DEFAULT */
} dot_limits;

/* The defaults named above. */
dot_limits dot_limits_default(void);

/* Kinds of violation the reader records (bit 1u << kind in dot_reader.violations). */
typedef enum dot_violation {
    DOT_V_BARE_LF = 0, /* LF not preceded by CR (RFC 5321 2.3.8) */
    DOT_V_BARE_CR,     /* CR not followed by LF (RFC 5321 2.3.8) */
    DOT_V_LONG_LINE,   /* a line longer than max_line (RFC 5321 4.5.3.1.6) */
    DOT_V__COUNT
} dot_violation;

/* A streaming reader of one dot-terminated body. Set up with dot_reader_init; the fields
 * below "results" may be read at any time; the rest is private. */
typedef struct dot_reader {
    mr_mode mode;
    size_t max_line;
    /* results */
    uint64_t consumed;              /* wire bytes consumed so far */
    uint64_t content;               /* content bytes given out so far */
    unsigned violations;            /* bit (1u << dot_violation) per kind seen */
    uint64_t first[DOT_V__COUNT];   /* stream offset of the first violation of each kind; for
                                       a long line, the offset of the line's first byte */
    int done;                       /* the terminating line has been consumed */
    /* private */
    unsigned char state;
    unsigned char cr;               /* the last byte consumed was CR */
    uint64_t line_start;            /* stream offset of the current line */
} dot_reader;

/* Prepare r for a new body. lim may be NULL for the defaults. */
void dot_reader_init(dot_reader *r, mr_mode mode, const dot_limits *lim);

/* Read the next run of content from buf[0..len), the bytes that follow what earlier calls
 * consumed.
 * Returns > 0: that many bytes were consumed and *out is the content they carry, a slice of
 *   buf (possibly empty: a removed dot, or the terminating line). A removed stuffing dot ends
 *   a call, so each call gives one contiguous slice; call again with the rest. When r->done
 *   becomes 1 the body is complete and the bytes after the consumed ones belong to whatever
 *   follows (the next pipelined command, the next response).
 * Returns MR_NEED_MORE when nothing can be consumed yet: len is 0, or buf is only the "\r"
 *   after a line-start dot (the terminator or content; the next byte decides). Call again with
 *   the same bytes plus more.
 * Returns MR_ERROR (MR_E_STATE) when called after the body is complete.
 * A call consumes at most MR_LIMIT_MAX bytes. Cost: one memchr per line plus a scan for CR
 * until the first bare CR is found; no memory beyond *r. */
int dot_read(dot_reader *r, const char *buf, size_t len, mr_slice *out, mr_error *err);

/* Read one line of a dot-terminated listing (a POP3 LIST/UIDL/CAPA response after its status
 * line, RFC 1939 3; RFC 2449 5). Line ends as in dot_read (CRLF; also LF in MR_LENIENT).
 * Returns the bytes consumed including the line end, with *line the line without its end and
 * without its stuffing dot, and *end = 1 when it was the terminating "." line (then *line is
 * empty). MR_NEED_MORE and MR_ERROR as mr_line_next (max_line bounds the line on the wire,
 * dot included; *scanned may be NULL). */
int dot_line_next(const char *buf, size_t len, size_t max_line, mr_mode mode, size_t *scanned,
                  mr_slice *line, int *end, mr_error *err);

/* A streaming dot-stuffing writer. */
typedef struct dot_writer {
    unsigned char state; /* private */
} dot_writer;

/* Prepare w for a new body. */
void dot_writer_init(dot_writer *w);

/* Dot-stuff src[0..n) into dst[0..cap): a "." that starts a line (at the start of the body, or
 * after any LF, bare or not, so that no reader, strict or lenient, takes it for the end) gets
 * another "." in front. src may continue a line from the previous call.
 * Returns the output length: when <= cap it was written and w advanced; when > cap it is the
 * size needed, dst holds an unspecified prefix and w is unchanged (call again with a larger
 * buffer or a shorter src). The output is at most 2 * n bytes. MR_ERROR (MR_E_LIMIT_LITERAL)
 * when the output would exceed MR_LIMIT_MAX. */
int dot_write(dot_writer *w, const char *src, size_t n, char *dst, size_t cap, mr_error *err);

/* End the body: ".\r\n" when the content so far is empty or ends with CRLF, else
 * "\r\n.\r\n" (the content gains a final CRLF, RFC 5321 4.1.1.4). Returns the output length as
 * dot_write (3 or 5); w is ready for a new body once it was written. */
int dot_write_end(dot_writer *w, char *dst, size_t cap, mr_error *err);

/* What dot_read gives back for content written with dot_write + dot_write_end: the content
 * itself, plus "\r\n" when it did not end with CRLF. In MR_LENIENT that holds for any content;
 * in MR_STRICT, content with a bare LF followed by "." reads back with the stuffing dot kept
 * (RFC 5321 forbids bare LF in content; the writer stuffs after it anyway to be safe). */

#endif
