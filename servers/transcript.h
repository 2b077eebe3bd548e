/* transcript.h -- mailrig's one transcript format: write it, read it back.
 *
 * Every connection, server side or client side, produces a transcript; checks, reports,
 * `replay`, `diagnose` and the fuzz seed corpora consume it. One record per line:
 *
 *   <seconds> conn <id> <kind> <payload>
 *
 *   0.000 conn 1 open 127.0.0.1:10993 mode=implicit-tls profile=icloud proto=imap port=993
 *   0.012 conn 1 tls ok TLSv1.3 TLS_AES_256_GCM_SHA384 sni=imap.mail.me.com
 *   0.013 conn 1 S: * OK [CAPABILITY IMAP4rev1 ...] ready
 *   0.020 conn 1 C: a1 LOGIN johnappleseed@icloud.com <redacted>
 *   0.021 conn 1 event wrong-username-form expected=local got=full
 *   0.030 conn 1 C| partial line without an end
 *   0.031 conn 1 C# 48213 fnv1a64=9c3f1e0a4b5d6e7f
 *   0.040 conn 1 close peer-closed
 *
 * Data records: `S:`/`C:` are the bytes of one line that ended in CRLF (the CRLF is implied);
 * `S|`/`C|` are bytes exactly as written, with no CRLF implied (a bare-LF line ends in `\n`, a
 * partial line has no end); `S#`/`C#` summarise a payload too large to keep (a literal or DATA
 * body): its length and a hash. In S:/C:/S|/C| text, backslash escapes make the record exact:
 * `\\`, `\r`, `\n`, `\t`, `\0`, `\xHH` for other control bytes and for bytes that are not part
 * of valid UTF-8; valid UTF-8 is kept as it is so transcripts stay readable.
 *
 * Credentials never reach a transcript: the session that knows where they are hands over an
 * already redacted copy, in which `<redacted>` stands for the secret (see sasl_redact in
 * proto/sasl.h for SASL payloads).
 */
#ifndef MAILRIG_SERVERS_TRANSCRIPT_H
#define MAILRIG_SERVERS_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/mr.h"

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct transcript transcript;

/* Payloads longer than this are written as a `#` summary record (length + hash). */
#define TRANSCRIPT_SUMMARY_MIN 4096

/* Start a transcript writing to `out` (not closed by transcript_free unless own_file).
 * `t0` is the time origin in seconds (CLOCK_MONOTONIC), so that several connections of one
 * run share a clock; pass a negative value to start at the first record. Returns NULL on
 * allocation failure. */
transcript *transcript_new(FILE *out, int own_file, double t0);

/* Flush and free. Safe on NULL. */
void transcript_free(transcript *t);

/* Write `open`, `tls`, `close` and other records whose payload is free text (already
 * printable; a newline in it is escaped). kind is a single word: open, tls, close, event,
 * note. */
void transcript_record(transcript *t, unsigned conn, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Write data sent by the client ('C') or the server ('S'): split at LF into one record per
 * line, CRLF lines as `X:`, anything else as `X|`. Data of TRANSCRIPT_SUMMARY_MIN bytes or
 * more that is flagged as a payload (is_payload != 0: a literal, a DATA body) is written as
 * one `X#` summary record instead. */
void transcript_data(transcript *t, unsigned conn, char dir, const char *p, size_t n,
                     int is_payload);

/* ---- reading ---------------------------------------------------------------------------- */

typedef enum transcript_kind {
    TR_DATA_LINE,    /* X:  bytes + implied CRLF */
    TR_DATA_RAW,     /* X|  bytes exactly */
    TR_DATA_SUMMARY, /* X#  length + hash, bytes not kept */
    TR_OPEN,
    TR_TLS,
    TR_CLOSE,
    TR_EVENT,
    TR_NOTE,
} transcript_kind;

typedef struct transcript_rec {
    double time;
    unsigned long conn;
    transcript_kind kind;
    char dir;            /* 'C' or 'S' for data records, 0 otherwise */
    mr_slice text;       /* escaped payload: data text, or the rest of the line for others */
    uint64_t length;     /* TR_DATA_SUMMARY: the payload length */
    mr_slice hash;       /* TR_DATA_SUMMARY: "fnv1a64=..." */
} transcript_rec;

/* Parse one transcript line (without its LF; a trailing CR is not allowed). Pure: slices
 * point into `line`. Returns 0, or MR_ERROR with err naming the field at fault. */
int transcript_parse(const char *line, size_t n, transcript_rec *rec, mr_error *err);

/* Undo the escaping of a data record's text into out (at most cap bytes), appending the
 * implied CRLF for TR_DATA_LINE. Returns the length, or MR_ERROR (bad escape: err->offset
 * into text; or MR_E_LIMIT_COUNT when out is too small). The result is never longer than
 * text.n + 2. */
long transcript_unescape(const transcript_rec *rec, char *out, size_t cap, mr_error *err);

/* Escape bytes into out the way data records are written. Returns the length written, or
 * the length needed if larger than cap (nothing partial is relied upon then). At most
 * 4 * n bytes. */
size_t transcript_escape(const char *p, size_t n, char *out, size_t cap);

#endif
