/* ratelimit.h - failure counting with exponential backoff, per key (an account, an address).
 *
 * Each key counts its recent failures. The first `free_failures` cost nothing; every failure
 * after them locks the key for base_ms * 2^(n-1) (n = failures beyond the free ones), capped
 * at max_ms. A key with no failure for quiet_ms is forgotten; ratelimit_reset forgets it at
 * once (a successful login resets its account, never its address). Refused attempts are not
 * failures: a locked key does not lock itself for longer by being tried.
 *
 * Thread-safe (one mutex): every worker checks the same table, so moving between workers
 * does not reset anything. Memory is bounded by max_keys; when full, forgotten keys are
 * pruned and, failing that, new keys are not tracked (the address limit still applies). */
#ifndef ROOST_APP_RATELIMIT_H
#define ROOST_APP_RATELIMIT_H

#include <stdint.h>

#include "util/span.h"

typedef struct ratelimit ratelimit_t;

typedef struct ratelimit_policy {
    uint32_t free_failures;
    uint32_t base_ms;
    uint32_t max_ms;
    uint32_t quiet_ms;
    uint32_t max_keys;
} ratelimit_policy_t;

/* NULL on allocation failure. */
ratelimit_t *ratelimit_new(const ratelimit_policy_t *policy);
void ratelimit_free(ratelimit_t *rl);

/* 0 when key may try now, otherwise how many ms until it may. now_ms: monotonic. */
uint64_t ratelimit_check(ratelimit_t *rl, span_t key, uint64_t now_ms);
/* Count one failure of key; returns the lock it now has (ms, 0 when none). */
uint64_t ratelimit_fail(ratelimit_t *rl, span_t key, uint64_t now_ms);
/* Forget key (after a success). */
void ratelimit_reset(ratelimit_t *rl, span_t key);
/* Keys tracked now (metrics). */
uint64_t ratelimit_size(ratelimit_t *rl);

/* Monotonic milliseconds. */
uint64_t ratelimit_now_ms(void);

#endif
