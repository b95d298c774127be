#include "gql/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct gql_arena_chunk {
    gql_arena_chunk_t *prev;
    size_t used;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

#define ARENA_FIRST_CHUNK 4096
#define ARENA_MAX_CHUNK   (256 * 1024)

void gql_arena_init(gql_arena_t *a, size_t limit)
{
    a->head = NULL;
    a->total = 0;
    a->limit = limit;
}

void *gql_arena_alloc(gql_arena_t *a, size_t n)
{
    if (n > SIZE_MAX / 2) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    gql_arena_chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        /* Chunks double up to a ceiling so small requests stay small and big ones do not
         * call malloc for every node; an oversized allocation gets a chunk of its own. */
        size_t cap = c ? c->cap * 2 : ARENA_FIRST_CHUNK;
        if (cap > ARENA_MAX_CHUNK) cap = ARENA_MAX_CHUNK;
        if (cap < n) cap = n;
        if (a->limit && (a->total + cap + sizeof *c > a->limit)) return NULL;
        gql_arena_chunk_t *nc = malloc(sizeof *nc + cap);
        if (!nc) return NULL;
        nc->cap = cap;
        nc->used = 0;
        a->total += cap + sizeof *nc;
        if (c && c->cap - c->used > cap - n) {
            /* The current chunk still has more room than the new one will: keep allocating
             * from it, and slot the new (dedicated) chunk behind it. */
            nc->prev = c->prev;
            c->prev = nc;
            nc->used = n;
            memset(nc->data, 0, n);
            return nc->data;
        }
        nc->prev = c;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *gql_arena_strndup(gql_arena_t *a, const char *s, size_t n)
{
    char *p = gql_arena_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void gql_arena_free(gql_arena_t *a)
{
    gql_arena_chunk_t *c = a->head;
    while (c) {
        gql_arena_chunk_t *prev = c->prev;
        free(c);
        c = prev;
    }
    a->head = NULL;
    a->total = 0;
}
