/* arena.h - bump allocation for one GraphQL request (or one schema): everything allocated
 * from an arena is released together by gql_arena_free, never piece by piece.
 *
 * Memory is zeroed. An arena has a byte limit fixed at init: an allocation that would pass it
 * fails like ENOMEM, so a hostile document or a huge result cannot grow a request without
 * bound. Not thread-safe: one arena belongs to one request on one thread. */
#ifndef ROOST_GQL_ARENA_H
#define ROOST_GQL_ARENA_H

#include <stddef.h>

typedef struct gql_arena_chunk gql_arena_chunk_t;

typedef struct gql_arena {
    gql_arena_chunk_t *head; /* current chunk; older chunks follow through ->prev */
    size_t total;            /* bytes obtained from malloc so far */
    size_t limit;            /* cap on total; 0 means no cap */
} gql_arena_t;

/* Prepare an empty arena (allocates nothing yet). limit 0 = unlimited. */
void gql_arena_init(gql_arena_t *a, size_t limit);
/* n zeroed bytes aligned for any scalar type; NULL when out of memory or over the limit. */
void *gql_arena_alloc(gql_arena_t *a, size_t n);
/* A NUL-terminated copy of s[0..n); NULL on failure. */
char *gql_arena_strndup(gql_arena_t *a, const char *s, size_t n);
/* Release every chunk; the arena is empty (and reusable) afterwards. */
void gql_arena_free(gql_arena_t *a);

#endif
