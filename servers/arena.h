/* arena.h -- bump allocation for data that is built once and freed all at once.
 *
 * A loaded profile lives in one arena: every string, template and array it points to is
 * carved out of a few large chunks, so freeing the profile is one call and a half-built
 * profile after a validation error is released the same way. Nothing is freed one by one.
 *
 * Memory bound: an arena never holds more than the `limit` given to arena_new() (plus one
 * chunk header per chunk); an allocation that would cross it fails with NULL. That is how a
 * hostile or runaway profile file gets an error instead of unbounded memory.
 */
#ifndef MAILRIG_SERVERS_ARENA_H
#define MAILRIG_SERVERS_ARENA_H

#include <stddef.h>

typedef struct arena arena;

/* A new empty arena that will hand out at most `limit` bytes in total. NULL when out of
 * memory. Free with arena_free(). */
arena *arena_new(size_t limit);

/* n bytes, aligned for any object type, zero-filled, owned by the arena. NULL when the
 * limit would be exceeded, n is 0 is allowed (returns a valid unique pointer), or the system
 * is out of memory. Never frees anything on failure: earlier allocations stay valid. */
void *arena_alloc(arena *a, size_t n);

/* A NUL-terminated copy of s[0..n) in the arena (s need not be terminated). NULL on
 * failure, as arena_alloc(). */
char *arena_strndup(arena *a, const char *s, size_t n);

/* A copy of the NUL-terminated string s. NULL on failure. */
char *arena_strdup(arena *a, const char *s);

/* Bytes handed out so far (what counts against the limit). */
size_t arena_used(const arena *a);

/* Release the arena and everything allocated from it. NULL is allowed. */
void arena_free(arena *a);

#endif
