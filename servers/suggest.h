/* suggest.h -- "did you mean ...?" for names typed by people (keys, sections, placeholders).
 *
 * Pure functions, no allocation.
 */
#ifndef MAILRIG_SERVERS_SUGGEST_H
#define MAILRIG_SERVERS_SUGGEST_H

#include <stddef.h>

/* The candidate closest to word[0..n) by edit distance (insert, delete, substitute,
 * transpose), or NULL when none is close enough to be a plausible typo: the distance must be
 * at most 1 for words of up to 4 characters, 2 up to 8, and 3 beyond. Failing that, the one
 * candidate that word starts or that starts word (both at least 3 characters: "implicit" ->
 * "implicit-tls"), when only one does. Comparison ignores ASCII case. Candidates longer than
 * 63 bytes are never suggested. */
const char *suggest_closest(const char *word, size_t n, const char *const *cands, size_t ncands);

#endif
