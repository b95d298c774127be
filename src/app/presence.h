/* presence.h - who is online: the number of authenticated sockets per user, process-wide.
 * (Other nodes of a cluster learn it through the store: app/realtime.c.)
 *
 * Sockets of one user may sit on different workers, so the counts live in one table behind
 * a mutex. The `changed` callback runs with the lock held, so that work depending on the
 * transition (recording the socket, the last-seen time) is submitted in transition order:
 * an offline write cannot overtake the online write that followed it. It must not call back
 * into presence. */
#ifndef ROOST_APP_PRESENCE_H
#define ROOST_APP_PRESENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct presence presence_t;

/* Called under the lock after user_id's count changed to `count`. */
typedef void (*presence_changed_fn)(int64_t user_id, uint32_t count, void *arg);

presence_t *presence_new(void);
void presence_free(presence_t *p);

/* Add delta (+1 or -1) to user_id's count (never below 0), then run changed (may be NULL).
 * Returns the new count, or RS_ENOMEM when a new entry could not be stored. */
int presence_add(presence_t *p, int64_t user_id, int delta, presence_changed_fn changed, void *arg);
bool presence_online(presence_t *p, int64_t user_id);
/* Users online now. */
uint64_t presence_users(presence_t *p);
/* Run fn with the ids of every user counted now (n of them; ids is NULL when n is 0), under
 * the lock: writes fn submits are ordered after every transition so far and before every
 * later one (a node's full presence state, for the shared store). fn must not call back into
 * presence. RS_ENOMEM (fn not called), else 0. */
int presence_with_users(presence_t *p, void (*fn)(const int64_t *ids, size_t n, void *arg),
                        void *arg);

#endif
