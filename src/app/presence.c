/* presence.c - online counts per user (see presence.h). */
#include "app/presence.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/map.h"

struct presence {
    pthread_mutex_t mu;
    map_t users; /* 8-byte user id -> count, stored in the pointer */
};

presence_t *presence_new(void)
{
    presence_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->users = MAP_INIT;
    return p;
}

void presence_free(presence_t *p)
{
    if (!p) return;
    map_free(&p->users);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int presence_add(presence_t *p, int64_t user_id, int delta, presence_changed_fn changed, void *arg)
{
    span_t key = span_make((const char *)&user_id, sizeof user_id);
    pthread_mutex_lock(&p->mu);
    uintptr_t n = (uintptr_t)map_get(&p->users, key);
    if (delta > 0) {
        n++;
        if (map_put(&p->users, key, (void *)n)) {
            pthread_mutex_unlock(&p->mu);
            return RS_ENOMEM;
        }
    } else if (n > 0) {
        n--;
        if (n)
            map_put(&p->users, key, (void *)n); /* replacing never allocates */
        else
            map_del(&p->users, key);
    }
    if (changed) changed(user_id, (uint32_t)n, arg);
    pthread_mutex_unlock(&p->mu);
    return (int)n;
}

bool presence_online(presence_t *p, int64_t user_id)
{
    span_t key = span_make((const char *)&user_id, sizeof user_id);
    pthread_mutex_lock(&p->mu);
    bool on = map_get(&p->users, key) != NULL;
    pthread_mutex_unlock(&p->mu);
    return on;
}

uint64_t presence_users(presence_t *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t n = p->users.len;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int presence_with_users(presence_t *p, void (*fn)(const int64_t *ids, size_t n, void *arg),
                        void *arg)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->users.len, i = 0, it = 0;
    int64_t *ids = n ? malloc(n * sizeof *ids) : NULL;
    if (n && !ids) {
        pthread_mutex_unlock(&p->mu);
        return RS_ENOMEM;
    }
    map_entry_t *e;
    while (i < n && map_next(&p->users, &it, &e)) memcpy(&ids[i++], e->key, sizeof *ids);
    fn(ids, i, arg);
    pthread_mutex_unlock(&p->mu);
    free(ids);
    return 0;
}
