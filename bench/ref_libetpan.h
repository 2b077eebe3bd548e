/* ref_libetpan.h -- libetpan's IMAP response parser driven over an in-memory stream: the
 * reference the mailrig IMAP response parser is measured against. */
#ifndef MAILRIG_BENCH_REF_LIBETPAN_H
#define MAILRIG_BENCH_REF_LIBETPAN_H

#include <stddef.h>

/* Parse every response in [p, p+n) the way libetpan's own session code does (read a line,
 * then mailimap_response_parse, which pulls further lines and literals from the stream).
 * Returns the number of tagged responses parsed, or (size_t)-1 on a parse error. */
size_t ref_libetpan_parse_responses(const char *p, size_t n);

#endif
