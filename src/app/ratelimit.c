/* ratelimit.c - per-key failure backoff (see ratelimit.h). */
#include "app/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "util/map.h"

struct entry {
    uint32_t failures;
    uint64_t last_fail_ms;
    uint64_t locked_until_ms;
};

struct ratelimit {
    pthread_mutex_t mu;
    ratelimit_policy_t pol;
    map_t keys;
};

uint64_t ratelimit_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

ratelimit_t *ratelimit_new(const ratelimit_policy_t *policy)
{
    ratelimit_t *rl = calloc(1, sizeof *rl);
    if (!rl) return NULL;
    pthread_mutex_init(&rl->mu, NULL);
    rl->pol = *policy;
    if (!rl->pol.max_keys) rl->pol.max_keys = 100000;
    if (!rl->pol.base_ms) rl->pol.base_ms = 1000;
    if (!rl->pol.max_ms) rl->pol.max_ms = 15 * 60 * 1000;
    if (!rl->pol.quiet_ms) rl->pol.quiet_ms = 15 * 60 * 1000;
    rl->keys = MAP_INIT;
    return rl;
}

void ratelimit_free(ratelimit_t *rl)
{
    if (!rl) return;
    size_t i = 0;
    map_entry_t *e;
    while (map_next(&rl->keys, &i, &e)) free(e->value);
    map_free(&rl->keys);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static bool forgotten(const ratelimit_t *rl, const struct entry *en, uint64_t now)
{
    return now >= en->locked_until_ms && now - en->last_fail_ms >= rl->pol.quiet_ms;
}

/* Drop every entry that no longer matters (called when the table is full). */
static void prune(ratelimit_t *rl, uint64_t now)
{
    for (;;) {
        char *victims[64];
        uint32_t lens[64];
        size_t n = 0, i = 0;
        map_entry_t *e;
        while (n < 64 && map_next(&rl->keys, &i, &e))
            if (forgotten(rl, e->value, now)) {
                victims[n] = e->key;
                lens[n++] = e->klen;
            }
        if (!n) return;
        for (size_t k = 0; k < n; k++) free(map_del(&rl->keys, span_make(victims[k], lens[k])));
        if (n < 64) return;
    }
}

uint64_t ratelimit_check(ratelimit_t *rl, span_t key, uint64_t now_ms)
{
    uint64_t wait = 0;
    pthread_mutex_lock(&rl->mu);
    struct entry *en = map_get(&rl->keys, key);
    if (en && en->locked_until_ms > now_ms) wait = en->locked_until_ms - now_ms;
    pthread_mutex_unlock(&rl->mu);
    return wait;
}

uint64_t ratelimit_fail(ratelimit_t *rl, span_t key, uint64_t now_ms)
{
    uint64_t lock = 0;
    pthread_mutex_lock(&rl->mu);
    struct entry *en = map_get(&rl->keys, key);
    if (en && forgotten(rl, en, now_ms)) *en = (struct entry){0};
    if (!en) {
        if (rl->keys.len >= rl->pol.max_keys) prune(rl, now_ms);
        if (rl->keys.len < rl->pol.max_keys && (en = calloc(1, sizeof *en)) &&
            map_put(&rl->keys, key, en)) {
            free(en);
            en = NULL;
        }
    }
    if (en) {
        if (en->failures < UINT32_MAX) en->failures++;
        en->last_fail_ms = now_ms;
        if (en->failures > rl->pol.free_failures) {
            uint32_t k = en->failures - rl->pol.free_failures - 1;
            lock = k >= 30 ? rl->pol.max_ms : (uint64_t)rl->pol.base_ms << k;
            if (lock > rl->pol.max_ms) lock = rl->pol.max_ms;
            en->locked_until_ms = now_ms + lock;
        }
    }
    pthread_mutex_unlock(&rl->mu);
    return lock;
}

void ratelimit_reset(ratelimit_t *rl, span_t key)
{
    pthread_mutex_lock(&rl->mu);
    free(map_del(&rl->keys, key));
    pthread_mutex_unlock(&rl->mu);
}

uint64_t ratelimit_size(ratelimit_t *rl)
{
    pthread_mutex_lock(&rl->mu);
    uint64_t n = rl->keys.len;
    pthread_mutex_unlock(&rl->mu);
    return n;
}
