/* sasl_redact.h -- keep credentials out of transcripts.
 *
 * mailrig must never log a password or token. This is the one place that knows where they sit
 * in each mechanism's messages: given a client SASL message and the mechanism, it produces a
 * form that keeps the identity visible and replaces every secret with "<redacted>".
 *
 * What counts as secret: PLAIN passwd; LOGIN's second and later responses; the CRAM-MD5 digest
 * (an offline guessing oracle for the password); XOAUTH2 / OAUTHBEARER tokens and the values of
 * unknown key=value pairs; every message of a mechanism mailrig does not parse (NTLM, GSSAPI,
 * SCRAM, ATOKEN, DIGEST-MD5, unknown names) and every message that fails to parse. EXTERNAL and
 * ANONYMOUS messages carry no credential and are shown. A message hidden whole is summarised by
 * its length in bytes (useful to tell an empty message from a full one; a password's length is
 * all it can reveal). The username of a LOGIN exchange is whatever the client sent first: a
 * client that sends its password first has it shown, as the server would have read it.
 */
#ifndef MAILRIG_PROTO_SASL_REDACT_H
#define MAILRIG_PROTO_SASL_REDACT_H

#include <stddef.h>

#include "sasl.h"

typedef enum sasl_redact_style {
    /* One printable line for people: `PLAIN authcid="tim" passwd=<redacted>`. Bytes outside
     * printable ASCII, '"' and '\\' in shown values are written as \xHH, so the output never
     * holds a control character (no log injection). */
    SASL_REDACT_SUMMARY,
    /* The message itself with each secret replaced, in the input's encoding: base64 in,
     * base64 out (so the transcript line keeps its shape); decoded in, decoded out (may hold
     * NUL and ^A: escape it when printing). A message that cannot be redacted field by field
     * becomes the text "<redacted>". */
    SASL_REDACT_WIRE,
} sasl_redact_style;

/* Messages longer than this (decoded) are redacted whole. */
#define SASL_REDACT_MAX_DECODED 16384

/* Redact one client message of mechanism mech.
 * step counts the client's messages in this exchange from 0 (the initial response, or the
 * reply to the first challenge); it matters for LOGIN (0 = username, later = password).
 * is_base64: msg is the payload text as on the line ("*" cancel and "="/"" empty are
 * recognised); otherwise msg is the decoded message.
 * Returns the output length L, written to dst only when L <= cap (dst may be NULL); never
 * fails. Memory: SASL_REDACT_MAX_DECODED bytes of stack for base64 input. */
int sasl_redact(sasl_mech mech, unsigned step, const char *msg, size_t n, int is_base64,
                sasl_redact_style style, char *dst, size_t cap);

#endif
