/* errbuf.h -- the one way servers/ modules fill a caller's error buffer.
 *
 * Functions that can fail take (char *err, size_t errlen) and, on failure, write a message
 * saying what failed, where and why. errbuf_set() is vsnprintf into it, tolerating a NULL or
 * empty buffer (the caller only wanted the return code).
 */
#ifndef MAILRIG_SERVERS_ERRBUF_H
#define MAILRIG_SERVERS_ERRBUF_H

#include <stddef.h>

void errbuf_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
