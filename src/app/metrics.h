/* metrics.h - GET /metrics in the Prometheus text format (version 0.0.4).
 *
 * Counters are process-wide relaxed atomics kept by each layer; gauges are summed over the
 * workers from their own counters (read without locks: a scrape may be a moment stale). */
#ifndef ROOST_APP_METRICS_H
#define ROOST_APP_METRICS_H

#include "cluster/redis.h"
#include "eio/server.h"
#include "http/server.h"
#include "net/loop.h"
#include "sio/server.h"

typedef struct metrics_sources {
    loop_t *const *loops;
    int nloops;
    eio_server_t *eio;
    sio_server_t *sio;
    /* --adapter: its counters (roost_adapter_*) */
    const redis_adapter_t *adapter;
    /* Optional extra writer (storage, GraphQL) appending more series. */
    void (*extra)(buf_t *out, void *arg);
    void *extra_arg;
} metrics_sources_t;

/* Route handler; arg is a metrics_sources_t that outlives the server. */
void metrics_handle(http_req_t *r, void *arg);

#endif
