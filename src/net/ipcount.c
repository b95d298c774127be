#include "net/ipcount.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Open addressing with tombstone-free deletion by backward shift; grows at 50% load. */
struct slot {
    struct in6_addr addr;
    int count; /* 0 = empty */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots;
static size_t cap, used;
static int limit;

void ipcount_set_limit(int max_per_ip)
{
    limit = max_per_ip;
}

static size_t hash(const struct in6_addr *a)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++) h = (h ^ a->s6_addr[i]) * 1099511628211ull;
    return (size_t)h;
}

static struct slot *find(const struct in6_addr *a, int create)
{
    if (!cap) {
        if (!create) return NULL;
        cap = 256;
        slots = calloc(cap, sizeof *slots);
        if (!slots) {
            cap = 0;
            return NULL;
        }
    }
    if (create && (used + 1) * 2 > cap) {
        size_t ncap = cap * 2;
        struct slot *n = calloc(ncap, sizeof *n);
        if (!n) return NULL;
        for (size_t i = 0; i < cap; i++) {
            if (!slots[i].count) continue;
            size_t j = hash(&slots[i].addr) & (ncap - 1);
            while (n[j].count) j = (j + 1) & (ncap - 1);
            n[j] = slots[i];
        }
        free(slots);
        slots = n;
        cap = ncap;
    }
    size_t i = hash(a) & (cap - 1);
    while (slots[i].count) {
        if (memcmp(&slots[i].addr, a, sizeof *a) == 0) return &slots[i];
        i = (i + 1) & (cap - 1);
    }
    if (!create) return NULL;
    slots[i].addr = *a;
    used++;
    return &slots[i];
}

static void erase(struct slot *s)
{
    size_t i = (size_t)(s - slots);
    slots[i].count = 0;
    used--;
    /* Backward-shift the cluster after i so lookups never stop early. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & (cap - 1);
        if (!slots[j].count) break;
        size_t home = hash(&slots[j].addr) & (cap - 1);
        if (((j - home) & (cap - 1)) >= ((j - i) & (cap - 1))) {
            slots[i] = slots[j];
            slots[j].count = 0;
            i = j;
        }
    }
}

bool ipcount_acquire(const struct in6_addr *addr)
{
    if (!limit) return true;
    pthread_mutex_lock(&lock);
    struct slot *s = find(addr, 1);
    bool ok = s && s->count < limit;
    if (ok) s->count++;
    else if (s && s->count == 0) erase(s);
    pthread_mutex_unlock(&lock);
    return ok;
}

void ipcount_release(const struct in6_addr *addr)
{
    if (!limit) return;
    pthread_mutex_lock(&lock);
    struct slot *s = find(addr, 0);
    if (s && --s->count == 0) erase(s);
    pthread_mutex_unlock(&lock);
}

int ipcount_get(const struct in6_addr *addr)
{
    pthread_mutex_lock(&lock);
    struct slot *s = cap ? find(addr, 0) : NULL;
    int n = s ? s->count : 0;
    pthread_mutex_unlock(&lock);
    return n;
}
