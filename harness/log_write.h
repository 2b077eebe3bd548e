/* log_write.h -- writing a normalised conversation (log_read.h) back out. */
#ifndef MAILRIG_HARNESS_LOG_WRITE_H
#define MAILRIG_HARNESS_LOG_WRITE_H

#include <stdio.h>

#include "harness/log_read.h"

/* "implicit", "starttls" or "plain": how connection k used TLS, as transcripts spell it. */
const char *log_wire_word(const log_conn *k);

/* Write c as a mailrig transcript: one `open` per connection (target, mode, protocol, and
 * source=LOG:LINE), its records in order (data as C:/S:, TLS outcomes as `tls`, client
 * errors as `note client-error KIND`, events, `close`). Everything in c is already redacted.
 * source names the log in the open records. Returns 0, or -1 on a write error. */
int log_conv_write_transcript(const log_conv *c, const char *source, FILE *f);

#endif
