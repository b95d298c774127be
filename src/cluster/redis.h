/* redis.h - the Socket.IO Redis adapter: roost nodes (and Node.js Socket.IO servers using
 * @socket.io/redis-adapter 8, and @socket.io/redis-emitter 5 processes) share broadcasts and
 * answer each other's requests through Redis pub/sub, in the official adapter's wire format
 * (cluster/wire.h, docs/deployment.md).
 *
 * One adapter thread runs a small epoll loop with two hiredis async connections: one for
 * PUBLISH, one subscribed to `<key>#*` (every namespace's broadcasts) and to
 * `<key>-request#<nsp>#` for each namespace this node has (so Node peers count it with
 * PUBSUB NUMSUB and wait for its answers). Workers never block on Redis: a broadcast is
 * encoded on the worker and queued for the adapter thread; messages from Redis are delivered
 * through sio_broadcast_remote, which posts them to every worker.
 *
 * Failure model: if Redis is unreachable, each connection retries with a capped exponential
 * backoff (100 ms to 5 s). While the publisher is down, broadcasts to other nodes are dropped
 * (counted, and the count logged on reconnection); while the subscriber is down, whatever the
 * other nodes publish is lost - Redis pub/sub keeps nothing for absent subscribers. Local
 * delivery is never affected. Output queued for Redis is capped (64 MiB); beyond it broadcasts
 * are dropped and counted. */
#ifndef ROOST_CLUSTER_REDIS_H
#define ROOST_CLUSTER_REDIS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sio/server.h"

typedef struct redis_adapter redis_adapter_t;

typedef struct redis_adapter_config {
    const char *url;   /* redis://[[user]:password@]host[:port][/db] */
    const char *key;   /* channel prefix; NULL = "socket.io", as the reference */
    sio_server_t *sio; /* must outlive the adapter */
    uint32_t wait_ms;  /* how long redis_adapter_start waits for Redis (0: 3000) */
} redis_adapter_config_t;

/* Validate the URL, install the adapter's hooks on cfg->sio (sio_set_adapter) and start the
 * adapter thread; then wait up to wait_ms for both connections (a node that starts while Redis
 * is down runs alone and joins the cluster when Redis comes back, which is logged). Call before
 * the worker loops run. Returns 0 with *out set; RS_EINVAL for a bad URL (message in err);
 * RS_ENOMEM, RS_EIO (thread or epoll could not be created). */
int redis_adapter_start(const redis_adapter_config_t *cfg, redis_adapter_t **out, char *err,
                        size_t errlen);

/* Stop handing messages from Redis to the workers (synchronous: when it returns, nothing more
 * is posted to a worker loop). Publishing goes on, so the broadcasts the workers make while
 * they close their sessions still reach the other nodes. Call before stopping the worker
 * loops. Idempotent; NULL is fine. */
void redis_adapter_stop(redis_adapter_t *a);

/* After the worker loops are stopped and freed (their last callbacks may still reach the
 * adapter): publish what is still queued (bounded: 500 ms), close the connections, join the
 * thread, remove the hooks from the Socket.IO server and free. NULL is fine. */
void redis_adapter_free(redis_adapter_t *a);

/* The node id other nodes see in our messages (12 hex digits). */
const char *redis_adapter_uid(const redis_adapter_t *a);

/* serverSideEmit() from a Node peer: fn runs on the adapter thread with the namespace and
 * the emitted array [event, ...args] (borrowed). When the peer asked for an acknowledgement,
 * *reply is non-NULL on entry pointing to NULL: set it to a new reference to answer (one
 * answer, as the reference). Must not block. */
typedef void (*redis_adapter_emit_fn)(void *arg, const char *nsp, json_t *data, json_t **reply);
/* Set it before the worker loops run (it is read on the adapter thread without a lock). */
void redis_adapter_on_server_side_emit(redis_adapter_t *a, redis_adapter_emit_fn fn, void *arg);

/* serverSideEmit() to every other server of the namespace (without acknowledgement): data is
 * the array [event, ...args]. Thread-safe. 0, RS_ENOMEM, RS_EUNAVAIL (not connected: dropped). */
int redis_adapter_server_side_emit(redis_adapter_t *a, const char *nsp, const json_t *data);

typedef struct redis_adapter_stats {
    uint64_t published, publish_dropped, received, received_own, delivered, malformed, requests,
        responses, reconnects;
} redis_adapter_stats_t;
void redis_adapter_get_stats(const redis_adapter_t *a, redis_adapter_stats_t *out);

#endif
