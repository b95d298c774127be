/* map.h - a hash map from byte-string keys to pointers (open addressing, linear probing,
 * backward-shift deletion). Keys are copied; values are the caller's. Not thread-safe: each
 * worker keeps its own maps. */
#ifndef ROOST_UTIL_MAP_H
#define ROOST_UTIL_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/span.h"

typedef struct map_entry {
    char *key;
    uint32_t klen; /* top bit: the key is borrowed (owned by the value), not copied */
    uint32_t hash;
    void *value;
} map_entry_t;

typedef struct map {
    map_entry_t *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
} map_t;

#define MAP_INIT ((map_t){NULL, 0, 0})

void *map_get(const map_t *m, span_t key);
/* Insert or replace. 0 or RS_ENOMEM. */
int map_put(map_t *m, span_t key, void *value);
/* The same without copying the key: its bytes must stay valid and unchanged until the entry is
 * deleted (typically the key lives inside the value: a session's id). Saves an allocation per
 * entry for maps of many small objects. */
int map_put_borrowed(map_t *m, span_t key, void *value);
/* Remove; returns the old value or NULL. */
void *map_del(map_t *m, span_t key);
void map_free(map_t *m);
/* Iterate: for (size_t i = 0; map_next(m, &i, &e);) - no insertions or deletions while
 * iterating (collect keys first, then delete). */
int map_next(const map_t *m, size_t *i, map_entry_t **e);
uint32_t map_hash(span_t key);

#endif
