/* imap_framer.h -- where one IMAP command or response ends (RFC 3501, RFC 9051, RFC 7888).
 *
 * An IMAP item (a client command or a server response) is a line, unless that line ends in a
 * literal marker `{n}`, `{n+}` (LITERAL+/LITERAL-, commands only) or `~{n}` (literal8): then
 * n payload bytes follow, and the item continues with another line. The framer finds the end
 * of one item without interpreting anything else: memchr to the next LF, a look at the bytes
 * just before it, literal payloads skipped by length. The grammar (imap_parse.h) then reads
 * the framed item.
 *
 * Literals up to limits.inline_literal_max stay inside the item. Larger ones are *streamed*:
 * the item text before the payload is handed out as a segment, the payload as chunks, and the
 * item text continues after it. The grammar knows a literal was streamed from its size alone
 * (n > inline_literal_max), so pass the same limits to the framer and to the parser.
 *
 * Memory bound: the caller keeps at most limits.item_max bytes of one item (its lines and
 * inline literals; streamed payloads pass through), plus whatever it reads ahead. The framer
 * itself is a few words of state, and each call scans at most line_max + 2 new bytes of text
 * (one memchr) or skips literal bytes without reading them.
 *
 * Context-free framing: a line whose last bytes before CRLF are `{digits}` or `{digits+}`,
 * with the `{` preceded by SP, "(" or "~", announces a literal wherever it occurs, even inside
 * resp-text; every IMAP implementation frames this way (the protocol gives no other way to
 * find the end of an item), and the grammar then rejects a literal in text.
 */
#ifndef MAILRIG_PROTO_IMAP_FRAMER_H
#define MAILRIG_PROTO_IMAP_FRAMER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/mr.h"

/* Limits shared by the framer and the grammar. Every value must be <= MR_LIMIT_MAX. */
typedef struct imap_limits {
    size_t line_max;            /* longest line without its CRLF; RFC 7162 section 4: 8192 */
    uint64_t literal_max;       /* largest literal size accepted: 64 MiB */
    uint64_t nonsync_literal_max; /* largest {n+} accepted: 64 MiB; 4096 for LITERAL- (RFC 7888) */
    size_t inline_literal_max;  /* literals up to this stay in the item: 64 KiB; larger stream */
    size_t item_max;            /* item text kept (lines + inline literals): 1 MiB */
    unsigned depth_max;         /* nesting of lists, body structures, search keys: 64 */
    unsigned tokens_max;        /* tokens per item: 16384 (16 bytes each) */
    mr_mode mode;               /* MR_STRICT (default) or MR_LENIENT */
} imap_limits;

/* The defaults above, in strict mode. */
#define IMAP_LIMITS_DEFAULT                                                                  \
    {                                                                                        \
        .line_max = 8192, .literal_max = 64u << 20, .nonsync_literal_max = 64u << 20,        \
        .inline_literal_max = 64u << 10, .item_max = 1u << 20, .depth_max = 64,              \
        .tokens_max = 16384, .mode = MR_STRICT                                               \
    }

/* Return the defaults (IMAP_LIMITS_DEFAULT). */
imap_limits imap_limits_default(void);

/* Who sends the items being framed. Only commands have synchronizing literals (RFC 3501
 * section 7.5: the server sends "+" before the client sends the payload) and `{n+}`. */
typedef enum imap_side { IMAP_SIDE_COMMAND = 0, IMAP_SIDE_RESPONSE = 1 } imap_side;

/* What one call to imap_framer_next() found. */
typedef enum imap_frame_kind {
    IMAP_FRAME_ITEM = 1,     /* buf[0..n) ends the item (and is the whole item if no segment
                                came before). Consumed. */
    IMAP_FRAME_SEGMENT,      /* buf[0..n) is item text ending with the CRLF after a streamed
                                literal's marker. Consumed: keep it (append it to the item). */
    IMAP_FRAME_LITERAL,      /* buf[0..n) is payload of a streamed literal. Consumed: sink it.
                                literal_left more payload bytes follow. */
    IMAP_FRAME_SYNC_LITERAL, /* commands only: a synchronizing literal {literal_size} was
                                announced; buf[0..n) is the item text so far, up to and with
                                the CRLF. Nothing consumed. To accept, send a continuation
                                ("+ ...") and call again with the same bytes; the next calls
                                go on as usual. To reject (too big, bad command), answer the
                                tag, drop buf[0..n) and any segments, and imap_framer_reset(). */
} imap_frame_kind;

/* One event. */
typedef struct imap_frame {
    imap_frame_kind kind;
    size_t n;               /* bytes of buf the event covers (see the kinds) */
    uint64_t literal_size;  /* SEGMENT, SYNC_LITERAL: the size announced by the marker */
    uint64_t literal_left;  /* LITERAL: payload bytes still to come after this chunk */
    int literal_binary;     /* SEGMENT, SYNC_LITERAL: the marker was ~{n} (literal8) */
} imap_frame;

/* Framer state: a few words, no buffer. Initialise with imap_framer_init(). */
typedef struct imap_framer {
    imap_limits lim;
    imap_side side;
    int state;              /* internal */
    size_t pos;             /* bytes of the unconsumed item text already scanned */
    size_t line_start;      /* where the current line starts within them */
    size_t kept;            /* item text handed out as segments so far */
    uint64_t lit_left;      /* payload bytes of the current literal not yet skipped */
    uint64_t lit_size;      /* size of the literal being announced (sync pending) */
    size_t lit_line_end;    /* offset just after the marker line's LF (sync pending) */
    size_t lit_brace;       /* offset of its "{" */
    int lit_binary;
    int no_stream;          /* internal: imap_frame_whole() */
} imap_framer;

/* Set up a framer for items sent by `side`, with a copy of *lim (NULL: defaults).
 * Limits above MR_LIMIT_MAX are clamped to it. */
void imap_framer_init(imap_framer *f, imap_side side, const imap_limits *lim);

/* Forget the item in progress: the next call starts a new item at buf[0]. */
void imap_framer_reset(imap_framer *f);

/* Find the next event in buf[0..len), which must start where the previous call left off:
 * at the first byte not consumed (after an ITEM, SEGMENT or LITERAL event, the caller drops
 * the n consumed bytes; after MR_NEED_MORE or SYNC_LITERAL it passes the same bytes again,
 * with more appended).
 * Returns the number of bytes consumed (>= 0; 0 only for IMAP_FRAME_SYNC_LITERAL) and fills
 * *ev; or MR_NEED_MORE (nothing consumed; the framer remembers how far it scanned); or
 * MR_ERROR with *err (the item cannot be framed; reset before reusing the framer):
 *   MR_E_LIMIT_LINE     a line is longer than line_max (offset: where the limit was hit)
 *   MR_E_LIMIT_LITERAL  a literal size over literal_max / nonsync_literal_max, or with more
 *                       digits than fit in 64 bits (offset: its "{"). For a synchronizing
 *                       literal the client sends no payload until "+", so a server can
 *                       answer "tag NO [TOOBIG]" (imap_tag_len), skip the line and reset;
 *                       after {n+} it can only answer BAD and close (RFC 7888 section 4).
 *   MR_E_LIMIT_COUNT    the item text would exceed item_max
 *   MR_E_BARE_LF        strict mode: a line ends in LF without CR (offset: the LF)
 *   MR_E_SYNTAX         a response announced {n+} (strict mode), rule "literal"
 * Whole-item common case: one call returns IMAP_FRAME_ITEM with n = the item length. */
int imap_framer_next(imap_framer *f, const char *buf, size_t len, imap_frame *ev, mr_error *err);

/* Find the end of one item held whole in buf (all literals inline), without keeping state:
 * returns its length, MR_NEED_MORE, or MR_ERROR as imap_framer_next(), and MR_E_LIMIT_LITERAL for a
 * literal larger than inline_literal_max (use imap_framer_next() to stream those). Synchronizing
 * literals are taken as accepted. Rescans from buf[0] on every call. */
int imap_frame_whole(imap_side side, const imap_limits *lim, const char *buf, size_t len,
                     mr_error *err);

#endif
