#include "util/map.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define BORROWED 0x80000000u
#define KLEN(e) ((e)->klen & ~BORROWED)

uint32_t map_hash(span_t key)
{
    /* FNV-1a; keys are server-generated ids and room names, but rooms come from app code
     * that may use user input, so mix in a per-process seed against crafted collisions. */
    static uint32_t seed;
    if (!seed) {
        uint32_t s = (uint32_t)(uintptr_t)&seed ^ 0x9e3779b9u;
        __atomic_compare_exchange_n(&seed, &(uint32_t){0}, s | 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < key.len; i++) h = (h ^ (unsigned char)key.base[i]) * 16777619u;
    return h ? h : 1;
}

static map_entry_t *find(const map_t *m, span_t key, uint32_t h)
{
    if (!m->cap) return NULL;
    size_t i = h & (m->cap - 1);
    for (;;) {
        map_entry_t *e = &m->slots[i];
        if (!e->key) return NULL;
        if (e->hash == h && KLEN(e) == key.len && memcmp(e->key, key.base, key.len) == 0) return e;
        i = (i + 1) & (m->cap - 1);
    }
}

void *map_get(const map_t *m, span_t key)
{
    map_entry_t *e = find(m, key, map_hash(key));
    return e ? e->value : NULL;
}

static int grow(map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    map_entry_t *n = calloc(ncap, sizeof *n);
    if (!n) return RS_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key) continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (n[j].key) j = (j + 1) & (ncap - 1);
        n[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = n;
    m->cap = ncap;
    return 0;
}

static int put(map_t *m, span_t key, void *value, int borrow)
{
    if (key.len >= BORROWED) return RS_ETOOBIG;
    uint32_t h = map_hash(key);
    map_entry_t *e = find(m, key, h);
    if (e) {
        e->value = value;
        return 0;
    }
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m)) return RS_ENOMEM;
    char *k;
    if (borrow) {
        k = (char *)key.base;
    } else {
        k = malloc(key.len ? key.len : 1);
        if (!k) return RS_ENOMEM;
        if (key.len) memcpy(k, key.base, key.len);
    }
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key) i = (i + 1) & (m->cap - 1);
    m->slots[i] = (map_entry_t){k, (uint32_t)key.len | (borrow ? BORROWED : 0), h, value};
    m->len++;
    return 0;
}

int map_put(map_t *m, span_t key, void *value)
{
    return put(m, key, value, 0);
}

int map_put_borrowed(map_t *m, span_t key, void *value)
{
    return put(m, key, value, 1);
}

void *map_del(map_t *m, span_t key)
{
    map_entry_t *e = find(m, key, map_hash(key));
    if (!e) return NULL;
    void *v = e->value;
    if (!(e->klen & BORROWED)) free(e->key);
    size_t i = (size_t)(e - m->slots);
    m->slots[i].key = NULL;
    m->len--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->slots[j].key) break;
        size_t home = m->slots[j].hash & (m->cap - 1);
        if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
    if (m->len == 0) map_free(m); /* empty maps (rooms) hold no memory */
    return v;
}

void map_free(map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (!(m->slots[i].klen & BORROWED)) free(m->slots[i].key);
    free(m->slots);
    *m = MAP_INIT;
}

int map_next(const map_t *m, size_t *i, map_entry_t **e)
{
    while (*i < m->cap) {
        map_entry_t *s = &m->slots[(*i)++];
        if (s->key) {
            *e = s;
            return 1;
        }
    }
    return 0;
}
