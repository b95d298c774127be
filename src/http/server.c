/* server.c - HTTP/1.1 connections on the event loop: head, body, dispatch, response,
 * keep-alive, pipelining, upgrade, timeouts. */
#include "http/server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/date.h"
#include "http/status.h"
#include "util/err.h"
#include "util/log.h"

struct route {
    char *method;
    char *path;
    size_t path_len;
    int flags;
    uint64_t max_body;
    http_handler_fn fn;
    void *arg;
};

struct http_server {
    http_limits_t limits;
    struct route *routes;
    size_t nroutes;
    http_handler_fn fallback;
    void *fallback_arg;
    char **origins;
    size_t norigins;
    bool any_origin;
};

enum conn_state {
    ST_HEAD,  /* waiting for (more of) a request head */
    ST_BODY,  /* reading a body */
    ST_WAIT,  /* handler running or answering later; pipelined bytes wait */
};

typedef struct http_conn {
    conn_t *c;
    http_server_t *srv;
    enum conn_state state;
    size_t prev_len;      /* bytes of the head already offered (linear rescans) */
    int eof;              /* the peer half-closed; close once the response is out */
    http_req_t *req;
} http_conn_t;

struct http_req {
    http_conn_t *hc;
    http_request_head_t head;
    char *raw;             /* copy of the head bytes the spans point into */
    buf_t body;
    uint64_t body_left;    /* for Content-Length bodies */
    http_chunked_t chunked;
    uint64_t max_body;
    const struct route *route;
    buf_t extra;           /* response headers added by the handler */
    int close_after;
    int responded;
    void (*abort_fn)(http_req_t *, void *);
    void *abort_arg;
    void *data;
};

static http_stats_t stats;
#define STAT_INC(f) __atomic_add_fetch(&stats.f, 1, __ATOMIC_RELAXED)

void http_get_stats(http_stats_t *out)
{
    out->requests = __atomic_load_n(&stats.requests, __ATOMIC_RELAXED);
    out->responses_4xx = __atomic_load_n(&stats.responses_4xx, __ATOMIC_RELAXED);
    out->responses_5xx = __atomic_load_n(&stats.responses_5xx, __ATOMIC_RELAXED);
    out->rejected_431 = __atomic_load_n(&stats.rejected_431, __ATOMIC_RELAXED);
    out->rejected_413 = __atomic_load_n(&stats.rejected_413, __ATOMIC_RELAXED);
    out->timeouts = __atomic_load_n(&stats.timeouts, __ATOMIC_RELAXED);
}

/* ---- server configuration ---- */

http_server_t *http_server_new(const http_limits_t *limits)
{
    http_server_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->limits = *limits;
    if (!s->limits.max_body) s->limits.max_body = 1u << 20;
    if (!s->limits.header_timeout_ms) s->limits.header_timeout_ms = 10000;
    if (!s->limits.body_timeout_ms) s->limits.body_timeout_ms = 30000;
    if (!s->limits.idle_timeout_ms) s->limits.idle_timeout_ms = 60000;
    return s;
}

void http_server_free(http_server_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nroutes; i++) {
        free(s->routes[i].method);
        free(s->routes[i].path);
    }
    for (size_t i = 0; i < s->norigins; i++) free(s->origins[i]);
    free(s->origins);
    free(s->routes);
    free(s);
}

int http_route(http_server_t *s, const char *method, const char *path, int flags,
               uint64_t max_body, http_handler_fn fn, void *arg)
{
    struct route *r = realloc(s->routes, (s->nroutes + 1) * sizeof *r);
    if (!r) return RS_ENOMEM;
    s->routes = r;
    r = &s->routes[s->nroutes];
    *r = (struct route){method ? strdup(method) : NULL, strdup(path), strlen(path), flags,
                        max_body ? max_body : s->limits.max_body, fn, arg};
    if (!r->path || (method && !r->method)) return RS_ENOMEM;
    s->nroutes++;
    return 0;
}

void http_set_fallback(http_server_t *s, http_handler_fn fn, void *arg)
{
    s->fallback = fn;
    s->fallback_arg = arg;
}

int http_cors_allow(http_server_t *s, const char *origin)
{
    if (strcmp(origin, "*") == 0) {
        s->any_origin = true;
        return 0;
    }
    char **o = realloc(s->origins, (s->norigins + 1) * sizeof *o);
    if (!o) return RS_ENOMEM;
    s->origins = o;
    o[s->norigins] = strdup(origin);
    if (!o[s->norigins]) return RS_ENOMEM;
    /* Origins compare without a trailing slash, as browsers send them. */
    size_t n = strlen(o[s->norigins]);
    if (n && o[s->norigins][n - 1] == '/') o[s->norigins][n - 1] = '\0';
    s->norigins++;
    return 0;
}

static bool origin_same_site(const http_request_head_t *h, span_t origin)
{
    span_t host = http_head_get(h, "host");
    if (!host.base) return false;
    /* Origin is scheme "://" host[:port]; compare the authority with the Host header. */
    const char *sep = origin.len > 3 ? memmem(origin.base, origin.len, "://", 3) : NULL;
    if (!sep) return false;
    span_t auth = span_make(sep + 3, origin.len - (size_t)(sep + 3 - origin.base));
    return span_ieq(auth, host);
}

static int origin_kind(const http_server_t *s, const http_request_head_t *h, span_t origin)
{
    /* 0 = refused, 1 = listed or same-site, 2 = allowed by "*" */
    if (origin_same_site(h, origin)) return 1;
    for (size_t i = 0; i < s->norigins; i++)
        if (span_ieq_cstr(origin, s->origins[i])) return 1;
    return s->any_origin ? 2 : 0;
}

bool http_origin_allowed(const http_server_t *s, const http_request_head_t *h)
{
    span_t origin = http_head_get(h, "origin");
    if (!origin.base) return true;
    return origin_kind(s, h, origin) != 0;
}

/* ---- request accessors ---- */

const http_request_head_t *http_req_head(const http_req_t *r)
{
    return &r->head;
}
span_t http_req_body(const http_req_t *r)
{
    return buf_span(&r->body);
}
buf_t http_req_take_body(http_req_t *r)
{
    buf_t b = r->body;
    r->body = BUF_INIT;
    return b;
}
conn_t *http_req_conn(const http_req_t *r)
{
    return r->hc->c;
}
loop_t *http_req_loop(const http_req_t *r)
{
    return conn_loop(r->hc->c);
}
http_server_t *http_req_server(const http_req_t *r)
{
    return r->hc->srv;
}
span_t http_req_header(const http_req_t *r, const char *name)
{
    return http_head_get(&r->head, name);
}
span_t http_req_query(const http_req_t *r, const char *key)
{
    return http_query_get(r->head.query, key);
}
void http_req_set_data(http_req_t *r, void *data)
{
    r->data = data;
}
void *http_req_data(const http_req_t *r)
{
    return r->data;
}
void http_req_close_after(http_req_t *r)
{
    r->close_after = 1;
}
void http_req_on_abort(http_req_t *r, void (*fn)(http_req_t *, void *), void *arg)
{
    r->abort_fn = fn;
    r->abort_arg = arg;
}

span_t http_req_cookie(const http_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->head.num_headers; i++) {
        if (!span_ieq_cstr(r->head.headers[i].name, "cookie")) continue;
        span_t v = http_cookie_get(r->head.headers[i].value, name);
        if (v.base) return v;
    }
    return SPAN_NULL;
}

int http_req_add_header(http_req_t *r, const char *name, const char *value)
{
    return buf_appendf(&r->extra, "%s: %s\r\n", name, value);
}

int http_req_add_headerf(http_req_t *r, const char *name, const char *fmt, ...)
{
    int rc = buf_appendf(&r->extra, "%s: ", name);
    if (rc) return rc;
    va_list ap;
    va_start(ap, fmt);
    rc = buf_vappendf(&r->extra, fmt, ap);
    va_end(ap);
    return rc ? rc : buf_append(&r->extra, "\r\n", 2);
}

span_t http_req_extra_headers(const http_req_t *r)
{
    return buf_span(&r->extra);
}

void http_req_add_cors(http_req_t *r)
{
    span_t origin = http_head_get(&r->head, "origin");
    if (!origin.base) return;
    int kind = origin_kind(r->hc->srv, &r->head, origin);
    buf_append_cstr(&r->extra, "Vary: Origin\r\n");
    if (!kind) return;
    buf_appendf(&r->extra, "Access-Control-Allow-Origin: %.*s\r\n", (int)origin.len, origin.base);
    /* Credentials only for listed or same-site origins, never for the "*" wildcard. */
    if (kind == 1) buf_append_cstr(&r->extra, "Access-Control-Allow-Credentials: true\r\n");
}

/* ---- connection lifecycle ---- */

static const conn_handler_t http_handler;

static void req_free(http_req_t *r)
{
    if (!r) return;
    free(r->raw);
    buf_free(&r->body);
    buf_free(&r->extra);
    free(r);
}

static void hc_start_head(http_conn_t *hc, int idle)
{
    hc->state = ST_HEAD;
    hc->prev_len = 0;
    conn_set_deadline(hc->c, idle ? hc->srv->limits.idle_timeout_ms : hc->srv->limits.header_timeout_ms);
}

void http_server_accept(conn_t *c, void *server)
{
    http_conn_t *hc = calloc(1, sizeof *hc);
    if (!hc) {
        conn_close(c, RS_ENOMEM);
        return;
    }
    hc->c = c;
    hc->srv = server;
    conn_set_handler(c, &http_handler, hc);
    hc_start_head(hc, 0);
}

void http_server_adopt(conn_t *c, void *server)
{
    http_server_accept(c, server);
}

/* Write a complete response head + body. */
static void write_response(http_req_t *r, int status, const char *ctype, size_t body_len,
                           const void *body, rbuf_t *rbody)
{
    http_conn_t *hc = r->hc;
    conn_t *c = hc->c;
    char date[40];
    http_date_now(date, sizeof date);
    int keep = r->head.keep_alive && !r->close_after && !hc->eof && !loop_stopping(conn_loop(c));
    if (status >= 500) STAT_INC(responses_5xx);
    else if (status >= 400) STAT_INC(responses_4xx);
    buf_t h = BUF_INIT;
    buf_appendf(&h, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, http_status_reason(status), date);
    if (ctype) buf_appendf(&h, "Content-Type: %s\r\n", ctype);
    if (status != 204 && status != 304 && !(status >= 100 && status < 200))
        buf_appendf(&h, "Content-Length: %zu\r\n", body_len);
    buf_append(&h, r->extra.base, r->extra.len);
    buf_append_cstr(&h, keep ? (r->head.minor_version == 0 ? "Connection: keep-alive\r\n\r\n" : "\r\n")
                             : "Connection: close\r\n\r\n");
    int head_only = span_eq_cstr(r->head.method, "HEAD") || status == 204 || status == 304;
    if (h.base) conn_write(c, h.base, h.len);
    buf_free(&h);
    if (!head_only && body_len) {
        if (rbody) conn_write_rbuf(c, rbody);
        else conn_write(c, body, body_len);
    }
    r->responded = 1;
    hc->req = NULL;
    req_free(r);
    if (!keep) {
        conn_close_after_flush(c, 2000);
        return;
    }
    hc_start_head(hc, 1);
    conn_replay_input(c); /* a pipelined request may be waiting */
}

void http_respond(http_req_t *r, int status, const char *content_type, const void *body,
                  size_t len)
{
    write_response(r, status, content_type, len, body, NULL);
}

void http_respond_rbuf(http_req_t *r, int status, const char *content_type, rbuf_t *body)
{
    write_response(r, status, content_type, body ? body->len : 0, NULL, body);
}

void http_respond_error(http_req_t *r, int status, const char *text)
{
    char body[256];
    int n = snprintf(body, sizeof body, "%s\n", text ? text : http_status_reason(status));
    http_respond(r, status, "text/plain; charset=utf-8", body, (size_t)n);
}

/* An error before a request object exists (bad head): answer and close. */
static void early_error(http_conn_t *hc, int status, const char *text)
{
    char date[40], out[512];
    http_date_now(date, sizeof date);
    if (status == 431) STAT_INC(rejected_431);
    if (status == 413) STAT_INC(rejected_413);
    if (status >= 400 && status < 500) STAT_INC(responses_4xx);
    size_t blen = strlen(text) + 1;
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                     status, http_status_reason(status), date, blen, text);
    conn_write(hc->c, out, (size_t)n);
    conn_close_after_flush(hc->c, 2000);
    hc->state = ST_WAIT;
}

void http_req_upgrade(http_req_t *r, const conn_handler_t *h, void *user)
{
    http_conn_t *hc = r->hc;
    conn_t *c = hc->c;
    conn_set_deadline(c, 0);
    req_free(r);
    free(hc);
    conn_set_handler(c, h, user);
    conn_replay_input(c);
}

static void adopt_request(conn_t *c, void *server)
{
    http_server_accept(c, server);
}

int http_req_migrate(http_req_t *r, loop_t *to)
{
    http_conn_t *hc = r->hc;
    /* Hand over the raw head and the body already read; the new owner parses them again. The
     * body is re-framed with Content-Length by rebuilding the request bytes. */
    buf_t bytes = BUF_INIT;
    span_t target = r->head.target;
    int rc = buf_appendf(&bytes, "%.*s %.*s HTTP/1.%d\r\n", (int)r->head.method.len,
                         r->head.method.base, (int)target.len, target.base, r->head.minor_version);
    for (size_t i = 0; i < r->head.num_headers && !rc; i++) {
        const http_header_t *hd = &r->head.headers[i];
        if (span_ieq_cstr(hd->name, "content-length") || span_ieq_cstr(hd->name, "transfer-encoding") ||
            span_ieq_cstr(hd->name, "expect"))
            continue;
        rc = buf_appendf(&bytes, "%.*s: %.*s\r\n", (int)hd->name.len, hd->name.base,
                         (int)hd->value.len, hd->value.base);
    }
    if (!rc && r->head.body_kind != HTTP_BODY_NONE)
        rc = buf_appendf(&bytes, "Content-Length: %zu\r\n", r->body.len);
    if (!rc) rc = buf_append(&bytes, "\r\n", 2);
    if (!rc) rc = buf_append(&bytes, r->body.base, r->body.len);
    if (rc) {
        buf_free(&bytes);
        return rc;
    }
    /* Pipelined bytes after this request travel too: the new owner keeps them as leftover. */
    rc = conn_migrate(hc->c, to, bytes.base, bytes.len, adopt_request, hc->srv);
    buf_free(&bytes);
    if (rc) return rc;
    hc->req = NULL;
    req_free(r);
    free(hc);
    return 0;
}

static const struct route *find_route(const http_server_t *s, const http_request_head_t *h)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct route *rt = &s->routes[i];
        if (rt->method && !span_eq_cstr(h->method, rt->method)) continue;
        if (rt->flags & HTTP_ROUTE_PREFIX) {
            if (h->path.len >= rt->path_len && memcmp(h->path.base, rt->path, rt->path_len) == 0)
                return rt;
        } else if (span_eq(h->path, span_make(rt->path, rt->path_len))) {
            return rt;
        }
    }
    return NULL;
}

static void dispatch(http_conn_t *hc)
{
    http_req_t *r = hc->req;
    hc->state = ST_WAIT;
    conn_set_deadline(hc->c, 0);
    STAT_INC(requests);
    if (r->route) r->route->fn(r, r->route->arg);
    else if (hc->srv->fallback) hc->srv->fallback(r, hc->srv->fallback_arg);
    else http_respond_error(r, 404, "Not Found");
}

/* Copy the head into the request and point its spans at the copy: the connection's input
 * buffer moves as more bytes arrive. */
static void rebase(span_t *s, const char *from, const char *to)
{
    if (s->base) s->base = to + (s->base - from);
}

static http_req_t *req_new(http_conn_t *hc, const char *data, size_t head_len,
                           const http_request_head_t *parsed)
{
    http_req_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->raw = malloc(head_len);
    if (!r->raw) {
        free(r);
        return NULL;
    }
    memcpy(r->raw, data, head_len);
    r->head = *parsed;
    rebase(&r->head.method, data, r->raw);
    rebase(&r->head.target, data, r->raw);
    rebase(&r->head.path, data, r->raw);
    rebase(&r->head.query, data, r->raw);
    for (size_t i = 0; i < r->head.num_headers; i++) {
        rebase(&r->head.headers[i].name, data, r->raw);
        rebase(&r->head.headers[i].value, data, r->raw);
    }
    r->hc = hc;
    return r;
}

static ssize_t on_head(http_conn_t *hc, char *data, size_t len)
{
    static __thread http_request_head_t scratch;
    int status = 0;
    int rc = http_parse_request_head(data, len, hc->prev_len, &scratch, &status);
    if (rc == RS_EMORE) {
        /* First bytes of a new request: the overall header deadline starts now, not per read. */
        if (hc->prev_len == 0) conn_set_deadline(hc->c, hc->srv->limits.header_timeout_ms);
        hc->prev_len = len;
        return 0;
    }
    if (rc < 0) {
        early_error(hc, status ? status : 400,
                    status == 431   ? "Request Header Fields Too Large"
                    : status == 414 ? "URI Too Long"
                    : status == 501 ? "Not Implemented"
                    : status == 505 ? "HTTP Version Not Supported"
                                    : "Bad Request");
        return (ssize_t)len;
    }
    size_t head_len = (size_t)rc;
    http_req_t *r = req_new(hc, data, head_len, &scratch);
    if (!r) return RS_ENOMEM;
    hc->req = r;
    hc->prev_len = 0;
    r->route = find_route(hc->srv, &r->head);
    r->max_body = r->route ? r->route->max_body : hc->srv->limits.max_body;
    if (r->head.upgrade && r->route && (r->route->flags & HTTP_ROUTE_UPGRADE)) {
        dispatch(hc);
        return (ssize_t)head_len;
    }
    if (r->head.body_kind == HTTP_BODY_LENGTH && r->head.content_length > r->max_body) {
        hc->req = NULL;
        req_free(r);
        early_error(hc, 413, "Payload Too Large");
        return (ssize_t)len;
    }
    if (r->head.body_kind == HTTP_BODY_NONE ||
        (r->head.body_kind == HTTP_BODY_LENGTH && r->head.content_length == 0)) {
        dispatch(hc);
        return (ssize_t)head_len;
    }
    r->body_left = r->head.content_length;
    hc->state = ST_BODY;
    conn_set_deadline(hc->c, hc->srv->limits.body_timeout_ms);
    if (r->head.expect_continue) conn_write(hc->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return (ssize_t)head_len;
}

static ssize_t on_body(http_conn_t *hc, char *data, size_t len)
{
    http_req_t *r = hc->req;
    if (r->head.body_kind == HTTP_BODY_LENGTH) {
        size_t take = len < r->body_left ? len : (size_t)r->body_left;
        if (buf_append(&r->body, data, take)) return RS_ENOMEM;
        r->body_left -= take;
        if (!r->body_left) dispatch(hc);
        return (ssize_t)take;
    }
    size_t n = len, consumed = 0;
    int rc = http_chunked_decode(&r->chunked, data, &n, &consumed);
    if (rc < 0) {
        hc->req = NULL;
        req_free(r);
        early_error(hc, 400, "Bad Request: malformed chunked body");
        return (ssize_t)len;
    }
    if (r->body.len + n > r->max_body) {
        hc->req = NULL;
        req_free(r);
        early_error(hc, 413, "Payload Too Large");
        return (ssize_t)len;
    }
    if (buf_append(&r->body, data, n)) return RS_ENOMEM;
    if (rc == 1) dispatch(hc);
    return (ssize_t)consumed;
}

static ssize_t http_on_data(conn_t *c, char *data, size_t len)
{
    http_conn_t *hc = conn_user(c);
    size_t off = 0;
    while (off < len) {
        ssize_t n;
        if (hc->state == ST_HEAD) n = on_head(hc, data + off, len - off);
        else if (hc->state == ST_BODY) n = on_body(hc, data + off, len - off);
        else break; /* a response is pending: pipelined bytes wait */
        if (n < 0) return n;
        off += (size_t)n;
        if (conn_user(c) != hc || conn_closing(c)) break; /* upgraded, migrated or closing */
        if (n == 0) break;
    }
    return (ssize_t)off;
}

static void http_on_eof(conn_t *c)
{
    http_conn_t *hc = conn_user(c);
    /* A half-closed client still gets the answer to a request it completed. Long-polling
     * requests are an exception the handler chooses via its abort callback. */
    if (hc->state == ST_WAIT && hc->req) {
        hc->eof = 1;
        if (hc->req->abort_fn) conn_close(c, RS_ECLOSED);
        return;
    }
    conn_close(c, RS_ECLOSED);
}

static void http_on_timeout(conn_t *c)
{
    http_conn_t *hc = conn_user(c);
    if (hc->state == ST_HEAD && hc->prev_len == 0) {
        conn_close(c, 0); /* idle keep-alive connection: nothing to say */
        return;
    }
    STAT_INC(timeouts);
    LOG_DEBUG("http", "%s: request timed out (%s)", conn_peer_ip(c),
              hc->state == ST_HEAD ? "head" : "body");
    if (hc->req) {
        req_free(hc->req);
        hc->req = NULL;
    }
    early_error(hc, 408, "Request Timeout");
}

static void http_on_close(conn_t *c, int err)
{
    http_conn_t *hc = conn_user(c);
    if (!hc) return;
    http_req_t *r = hc->req;
    if (r) {
        if (r->abort_fn) r->abort_fn(r, r->abort_arg);
        req_free(r);
    }
    free(hc);
}

static void http_on_stop(conn_t *c)
{
    http_conn_t *hc = conn_user(c);
    /* Idle: close now. Mid-request: the response will carry Connection: close. A request
     * whose handler answers later (long-polling) is the handler's to finish via its stop hook;
     * the loop's grace period bounds it. */
    if (hc->state == ST_HEAD && hc->prev_len == 0) conn_close(c, 0);
}

static const conn_handler_t http_handler = {
    .on_data = http_on_data,
    .on_eof = http_on_eof,
    .on_timeout = http_on_timeout,
    .on_close = http_on_close,
    .on_stop = http_on_stop,
};
