/* platform.h - the social platform on top of the layers: accounts and sessions, the seed's
 * initialConnection/auth handshake, presence, follows, chatrooms and messages, the GraphQL
 * schema (docs/schema.graphql) at /graphql, and the live channels followed / updatedChat /
 * chatroom pushed to user rooms.
 *
 * Built once before the worker loops start; everything after runs on the worker loops. */
#ifndef ROOST_APP_PLATFORM_H
#define ROOST_APP_PLATFORM_H

#include "cluster/redis.h"
#include "http/server.h"
#include "net/loop.h"
#include "sio/server.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/config.h"

typedef struct platform platform_t;

typedef struct platform_config {
    const config_t *cfg;   /* flags (group size cap, TLS for Secure cookies, ...) */
    store_t *store;        /* open; completions are posted to the origin loop */
    sio_server_t *sio;     /* namespace "/" is the platform's */
    http_server_t *http;   /* /graphql is registered here */
    loop_t *const *loops;  /* every worker loop, by loop_index() */
    int nloops;
} platform_config_t;

/* Register the routes, the Socket.IO handlers and the GraphQL schema. NULL on failure, with
 * a one-line reason logged. */
platform_t *platform_new(const platform_config_t *pc);
/* With --adapter, once the adapter started and before the worker loops run: logouts are sent
 * to the other nodes through it and theirs received (serverSideEmit "roost:revoke" on "/"),
 * and presence rows carry the adapter's node id (as in its log lines). */
void platform_set_adapter(platform_t *p, redis_adapter_t *a);
/* After the loops have stopped. */
void platform_free(platform_t *p);
/* Append the platform's series to a /metrics body (metrics_sources_t.extra). */
void platform_metrics(buf_t *out, void *p);

#endif
