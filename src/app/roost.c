#include "app/roost.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/conformance.h"
#include "app/metrics.h"
#include "app/platform.h"
#include "cluster/redis.h"
#include "eio/server.h"
#include "http/server.h"
#include "http/static.h"
#include "net/ipcount.h"
#include "net/listen.h"
#include "net/loop.h"
#include "net/tls.h"
#include "util/err.h"
#include "sio/server.h"
#include "store/store.h"
#include "util/log.h"

struct worker {
    roost_t *r;
    loop_t *loop;
    pthread_t thread;
    int started;
};

struct roost {
    config_t cfg;
    http_server_t *http;
    http_static_t *web;
    int nworkers;
    struct worker *workers;
    loop_t **loops;
    sio_server_t *sio;
    eio_server_t *eio;       /* Socket.IO's Engine.IO at cfg.path */
    eio_server_t *eio_echo;  /* conformance: raw Engine.IO echo at /engine.io/ */
    bool ws_deflate;
    metrics_sources_t metrics;
    store_t *store;
    platform_t *platform;
    void *tls_ctx;
    redis_adapter_t *adapter; /* --adapter: the Redis cluster adapter */
};

/* Storage completions come back to the loop that asked. */
static int post_to_loop(void *origin, void (*fn)(void *), void *arg)
{
    return loop_post(origin, fn, arg);
}

/* SIGTERM on each worker: close the real-time sessions politely so clients reconnect. */
static void stop_hook(loop_t *l, void *arg)
{
    roost_t *r = arg;
    if (r->eio) eio_server_stop_loop(r->eio, l);
    if (r->eio_echo) eio_server_stop_loop(r->eio_echo, l);
}

static void healthz(http_req_t *req, void *arg)
{
    http_req_add_header(req, "Cache-Control", "no-store");
    http_respond(req, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

/* Socket.IO at cfg.path (and the conformance endpoints when asked). */
static int setup_realtime(roost_t *r)
{
    const config_t *cfg = &r->cfg;
    sio_config_t sc = {.connect_timeout_ms = (uint32_t)cfg->connect_timeout_ms,
                       .recovery = cfg->recovery,
                       .max_disconnection_ms = (uint32_t)cfg->max_disconnection_ms};
    r->sio = sio_server_new(&sc, r->loops, r->nworkers);
    if (!r->sio) return RS_ENOMEM;
    eio_config_t ec = {.path = cfg->path,
                       .ping_interval_ms = (uint32_t)cfg->ping_interval_ms,
                       .ping_timeout_ms = (uint32_t)cfg->ping_timeout_ms,
                       .max_payload = cfg->max_payload,
                       .upgrade_timeout_ms = (uint32_t)cfg->upgrade_timeout_ms,
                       .ws_deflate = cfg->ws_deflate,
                       .cookie = cfg->cookie,
                       .max_message_rate = (uint32_t)cfg->max_message_rate};
    r->eio = eio_server_new(&ec, r->loops, r->nworkers, sio_eio_callbacks(), r->sio);
    if (!r->eio) return RS_ENOMEM;
    /* The polling POST body is capped at maxPayload (413 beyond), like the reference. */
    http_route(r->http, NULL, cfg->path, HTTP_ROUTE_PREFIX | HTTP_ROUTE_UPGRADE, cfg->max_payload,
               eio_server_handle, r->eio);
    r->ws_deflate = cfg->ws_deflate;
    r->metrics = (metrics_sources_t){.loops = r->loops, .nloops = r->nworkers, .eio = r->eio, .sio = r->sio};
    http_route(r->http, "GET", "/metrics", 0, 0, metrics_handle, &r->metrics);
    if (!cfg->conformance) {
        struct store_config stc = {.url = cfg->store, .post = post_to_loop,
                                   .no_group_commit = cfg->no_group_commit, .group_max = cfg->group_max};
        char err[256];
        if (store_open(&stc, &r->store, err, sizeof err)) {
            fprintf(stderr, "roost: %s\n", err);
            return RS_EUNAVAIL;
        }
        platform_config_t pc = {.cfg = cfg, .store = r->store, .sio = r->sio, .http = r->http,
                                .loops = r->loops, .nloops = r->nworkers};
        r->platform = platform_new(&pc);
        if (!r->platform) return RS_EINVAL;
        r->metrics.extra = platform_metrics;
        r->metrics.extra_arg = r->platform;
    }
    if (cfg->conformance) {
        eio_config_t echo = ec;
        echo.path = "/engine.io/";
        r->eio_echo = eio_server_new(&echo, r->loops, r->nworkers, conformance_eio_echo(), NULL);
        if (!r->eio_echo) return RS_ENOMEM;
        http_route(r->http, NULL, "/engine.io/", HTTP_ROUTE_PREFIX | HTTP_ROUTE_UPGRADE, cfg->max_payload,
                   eio_server_handle, r->eio_echo);
        http_route(r->http, NULL, "/ws-echo", HTTP_ROUTE_UPGRADE, 0, conformance_ws_echo, &r->ws_deflate);
        if (conformance_sio_setup(r->sio)) return RS_ENOMEM;
    }
    /* Last, once the namespaces the app configured exist (later ones subscribe as created). */
    if (cfg->adapter && *cfg->adapter) {
        redis_adapter_config_t ac = {.url = cfg->adapter, .sio = r->sio};
        char err[256] = "";
        int rc = redis_adapter_start(&ac, &r->adapter, err, sizeof err);
        if (rc) {
            fprintf(stderr, "roost: %s\n", err[0] ? err : rs_strerror(rc));
            return rc;
        }
        r->metrics.adapter = r->adapter;
        platform_set_adapter(r->platform, r->adapter);
    }
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    loop_run(w->loop);
    sio_thread_release();
    return NULL;
}

int roost_start(const config_t *cfg, roost_t **out)
{
    roost_t *r = calloc(1, sizeof *r);
    if (!r) return RS_ENOMEM;
    r->cfg = *cfg;
    ipcount_set_limit(cfg->max_conns_per_ip);

    http_limits_t lim = {.max_body = cfg->max_body,
                         .header_timeout_ms = (uint32_t)cfg->header_timeout_ms,
                         .body_timeout_ms = (uint32_t)cfg->body_timeout_ms,
                         .idle_timeout_ms = (uint32_t)cfg->idle_timeout_ms};
    r->http = http_server_new(&lim);
    if (!r->http) goto fail;
    if (cfg->cors_origins && *cfg->cors_origins) {
        char *list = strdup(cfg->cors_origins), *save = NULL;
        for (char *o = strtok_r(list, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
            while (*o == ' ') o++;
            if (*o) http_cors_allow(r->http, o);
        }
        free(list);
    }
    http_route(r->http, NULL, "/healthz", 0, 0, healthz, r);
    r->web = http_static_new(cfg->web_root, 1);
    http_set_fallback(r->http, http_static_handle, r->web);

    if (cfg->tls_cert) {
        char err[512];
        r->tls_ctx = tls_ctx_new(cfg->tls_cert, cfg->tls_key, err, sizeof err);
        if (!r->tls_ctx) {
            fprintf(stderr, "roost: %s\n", err);
            goto fail;
        }
    }
    r->nworkers = cfg->threads;
    r->workers = calloc((size_t)r->nworkers, sizeof *r->workers);
    r->loops = calloc((size_t)r->nworkers, sizeof *r->loops);
    if (!r->workers || !r->loops) goto fail;
    int port = cfg->listen_port;
    for (int i = 0; i < r->nworkers; i++) {
        struct worker *w = &r->workers[i];
        w->r = r;
        loop_config_t lc = {.index = i, .max_conn_output = cfg->max_output, .tls_ctx = r->tls_ctx};
        w->loop = loop_new(&lc);
        if (!w->loop) goto fail;
        loop_set_data(w->loop, w);
        loop_set_stop_hook(w->loop, stop_hook, r);
        r->loops[i] = w->loop;
        char err[256];
        int bound = 0;
        int fd = net_listen(cfg->listen_host, port, i == 0, &bound, err, sizeof err);
        if (fd < 0) {
            fprintf(stderr, "roost: %s\n", err);
            goto fail;
        }
        port = bound; /* workers after the first share the port the first one got */
        if (loop_add_listener(w->loop, fd, http_server_accept, r->http) < 0) {
            close(fd);
            goto fail;
        }
    }
    if (setup_realtime(r)) goto fail;
    for (int i = 0; i < r->nworkers; i++) {
        if (pthread_create(&r->workers[i].thread, NULL, worker_main, &r->workers[i]) != 0) {
            fprintf(stderr, "roost: cannot start worker threads\n");
            goto fail;
        }
        r->workers[i].started = 1;
    }
    int v6 = strchr(cfg->listen_host, ':') != NULL;
    LOG_INFO("main", "listening on http%s://%s%s%s:%d (%d worker%s)", r->tls_ctx ? "s" : "", v6 ? "[" : "", cfg->listen_host,
             v6 ? "]" : "", port, r->nworkers, r->nworkers == 1 ? "" : "s");
    *out = r;
    return 0;
fail:
    roost_stop(r);
    return RS_EIO;
}

void roost_stop(roost_t *r)
{
    if (!r) return;
    /* The adapter stops delivering first, so it posts nothing to a loop that no longer runs;
     * it still publishes the workers' last broadcasts, and is freed after the loops. */
    redis_adapter_stop(r->adapter);
    for (int i = 0; i < r->nworkers; i++)
        if (r->workers[i].started) loop_stop(r->workers[i].loop, r->cfg.shutdown_grace_ms);
    for (int i = 0; i < r->nworkers; i++)
        if (r->workers[i].started) pthread_join(r->workers[i].thread, NULL);
    /* The loops no longer run but stay allocated. Writes still queued in the store commit and
     * post their completions to them: run those here, with the platform (and its readers)
     * alive, until the store's queue is empty and nothing more arrives for a few rounds. Then
     * the platform closes its readers, and the store (idle by now) closes. */
    for (int idle = 0, rounds = 0; idle < 3 && rounds < 5000; rounds++) {
        bool ran = false;
        for (int i = 0; i < r->nworkers; i++)
            if (r->workers && r->workers[i].loop && loop_drain(r->workers[i].loop)) ran = true;
        struct store_stats st = {0};
        if (r->store) store_stats_get(r->store, &st);
        idle = ran || st.queued ? 0 : idle + 1;
        if (!ran) usleep(2000);
    }
    platform_free(r->platform);
    store_close(r->store);
    for (int i = 0; i < r->nworkers; i++)
        if (r->workers && r->workers[i].loop) loop_free(r->workers[i].loop);
    redis_adapter_free(r->adapter);
    free(r->workers);
    free(r->loops);
    eio_server_free(r->eio);
    eio_server_free(r->eio_echo);
    sio_server_free(r->sio);
    http_static_free(r->web);
    tls_ctx_free(r->tls_ctx);
    http_server_free(r->http);
    free(r);
}

int roost_command(const config_t *cfg)
{
    struct store_config stc = {.url = cfg->store};
    char err[256];
    if (strcmp(cfg->command, "migrate") == 0) {
        int from = 0, to = 0;
        if (store_migrate(&stc, &from, &to, err, sizeof err)) {
            fprintf(stderr, "roost: migrate: %s\n", err);
            return 1;
        }
        printf("schema version %d -> %d\n", from, to);
        return 0;
    }
    store_t *s = NULL;
    if (store_open(&stc, &s, err, sizeof err)) {
        fprintf(stderr, "roost: check: %s\n", err);
        return 1;
    }
    buf_t report = BUF_INIT;
    int rc = store_check(s, &report);
    if (report.len) fwrite(report.base, 1, report.len, stdout);
    printf("%s: %s\n", store_backend_name(s), rc ? "FAILED" : "ok");
    buf_free(&report);
    store_close(s);
    return rc ? 1 : 0;
}
