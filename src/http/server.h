/* server.h - HTTP/1.1 server on the event loop: requests, routes, responses, upgrades.
 *
 * One http_server_t per process (read-only once the loops run); connections live on every
 * worker loop. A route handler runs on the connection's loop when the request head and body
 * are complete (for an upgrade request: the head only). It answers now or later:
 *  - http_respond*() sends the response; the request is finished and must not be used again.
 *  - To answer later (long-polling), keep the pointer and call http_respond later on the same
 *    loop. If the connection dies first, the abort callback (http_req_on_abort) runs and the
 *    request is freed right after it: drop the pointer there.
 *  - http_req_upgrade() hands the connection to another protocol handler (WebSocket).
 * Pipelined requests wait until the previous response was queued. */
#ifndef ROOST_HTTP_SERVER_H
#define ROOST_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "http/parser.h"
#include "net/loop.h"
#include "util/buf.h"
#include "util/span.h"

typedef struct http_server http_server_t;
typedef struct http_req http_req_t;
typedef void (*http_handler_fn)(http_req_t *req, void *arg);

typedef struct http_limits {
    uint64_t max_body;         /* default body cap (413 beyond); routes may set their own */
    uint32_t header_timeout_ms; /* whole head must arrive within this (slowloris), default 10 s */
    uint32_t body_timeout_ms;   /* whole body must arrive within this, default 30 s */
    uint32_t idle_timeout_ms;   /* keep-alive idle, default 60 s */
} http_limits_t;

http_server_t *http_server_new(const http_limits_t *limits);
void http_server_free(http_server_t *s);

enum http_route_flags {
    HTTP_ROUTE_PREFIX = 1 << 0,  /* path starts with the pattern (else exact match) */
    HTTP_ROUTE_UPGRADE = 1 << 1, /* the handler also gets upgrade requests (head only) */
};

/* Add a route. method NULL matches any method (the handler checks). Routes match in the
 * order added; the first match wins. max_body 0 = the server default. 0 or RS_ENOMEM. */
int http_route(http_server_t *s, const char *method, const char *path, int flags,
               uint64_t max_body, http_handler_fn fn, void *arg);
/* Handler for requests no route matched (default: 404). */
void http_set_fallback(http_server_t *s, http_handler_fn fn, void *arg);

/* CORS allowlist: exact origins ("https://app.example"), "*" allows every origin (never
 * combined with credentials: the origin is then echoed without Allow-Credentials). A request
 * whose Origin equals its own scheme://Host is always same-origin and allowed. */
int http_cors_allow(http_server_t *s, const char *origin);
/* Is this request's Origin (if any) acceptable? Requests without Origin are (non-browser). */
bool http_origin_allowed(const http_server_t *s, const http_request_head_t *h);

/* Called by the accept path of each worker: takes over the new connection. */
void http_server_accept(conn_t *c, void *server);
/* Adopt a connection migrated from another loop: the request bytes are replayed. */
void http_server_adopt(conn_t *c, void *server);

/* ---- requests ---- */
const http_request_head_t *http_req_head(const http_req_t *r);
span_t http_req_body(const http_req_t *r);
/* The request body, owned by the caller from now on (the request forgets it). */
buf_t http_req_take_body(http_req_t *r);
conn_t *http_req_conn(const http_req_t *r);
loop_t *http_req_loop(const http_req_t *r);
http_server_t *http_req_server(const http_req_t *r);
span_t http_req_header(const http_req_t *r, const char *name);
span_t http_req_query(const http_req_t *r, const char *key);
/* Cookie value by name from the Cookie header (SPAN_NULL when absent). */
span_t http_req_cookie(const http_req_t *r, const char *name);

/* Add a response header (copied). Must come before http_respond. 0 or RS_ENOMEM. */
int http_req_add_header(http_req_t *r, const char *name, const char *value);
int http_req_add_headerf(http_req_t *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The response headers added so far ("Name: value\r\n" lines), for handlers that write the
 * response themselves (the WebSocket 101). */
span_t http_req_extra_headers(const http_req_t *r);
/* Add the CORS response headers for this request's Origin when it is allowed. */
void http_req_add_cors(http_req_t *r);

/* Send the response; body copied. content_type may be NULL (no body type). Adds Date,
 * Content-Length and Connection. For HEAD requests the body is not sent. */
void http_respond(http_req_t *r, int status, const char *content_type, const void *body,
                  size_t len);
/* The same with a shared body chunk (static files, broadcasts); takes its own reference. */
void http_respond_rbuf(http_req_t *r, int status, const char *content_type, rbuf_t *body);
/* A short error response: text/plain body "<reason>\n" or the given text. */
void http_respond_error(http_req_t *r, int status, const char *text);
/* Close the connection after this response even if keep-alive was possible. */
void http_req_close_after(http_req_t *r);

/* Called if the connection goes away before the response (client abort, server stop). */
void http_req_on_abort(http_req_t *r, void (*fn)(http_req_t *r, void *arg), void *arg);

/* Hand the connection to another handler (101 already written by the caller, or to be
 * written by the new handler). The request is freed; bytes after the head go to h. */
void http_req_upgrade(http_req_t *r, const conn_handler_t *h, void *user);

/* Move this request's connection to another worker loop, where the request is parsed again
 * and routed there (sessions owned by that worker). 0, or RS_ENOMEM (answer 503). */
int http_req_migrate(http_req_t *r, loop_t *to);

/* Per-request user data for handlers that answer later. */
void http_req_set_data(http_req_t *r, void *data);
void *http_req_data(const http_req_t *r);

/* Counters (process-wide, relaxed atomics) for /metrics. */
typedef struct http_stats {
    uint64_t requests, responses_4xx, responses_5xx, rejected_431, rejected_413, timeouts;
} http_stats_t;
void http_get_stats(http_stats_t *out);

#endif
