/* arena.c -- see arena.h. */
#include "servers/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Most profiles fit in two or three chunks of this size. */
enum { CHUNK_SIZE = 16 * 1024 };

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    alignas(max_align_t) unsigned char data[];
} chunk;

struct arena {
    chunk *head;   /* the chunk being filled; older chunks follow */
    size_t limit;  /* bytes that may still be handed out in total */
    size_t used;
};

arena *arena_new(size_t limit)
{
    arena *a = calloc(1, sizeof *a);
    if (a)
        a->limit = limit;
    return a;
}

static size_t align_up(size_t n)
{
    size_t al = alignof(max_align_t);
    return (n + al - 1) / al * al;
}

/* Start a chunk big enough for n bytes. Large requests get a chunk of their own, placed
 * after the head so that the head keeps its free space. */
static chunk *new_chunk(arena *a, size_t n)
{
    size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
    chunk *c = malloc(sizeof *c + size);
    if (!c)
        return NULL;
    c->size = size;
    c->used = 0;
    if (n > CHUNK_SIZE / 4 && a->head) {
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    return c;
}

void *arena_alloc(arena *a, size_t n)
{
    size_t need = align_up(n ? n : 1);
    if (need < n || need > a->limit - a->used)
        return NULL;
    chunk *c = a->head;
    if (!c || c->size - c->used < need) {
        c = new_chunk(a, need);
        if (!c)
            return NULL;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->used += need;
    memset(p, 0, need);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = arena_alloc(a, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

size_t arena_used(const arena *a)
{
    return a->used;
}

void arena_free(arena *a)
{
    if (!a)
        return;
    chunk *c = a->head;
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}
