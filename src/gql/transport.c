#include "gql/transport.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/parser.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

#define MEDIA_GRAPHQL "application/graphql-response+json; charset=utf-8"
#define MEDIA_JSON "application/json; charset=utf-8"

static gql_http_stats_t stats;
#define STAT_INC(f) __atomic_add_fetch(&stats.f, 1, __ATOMIC_RELAXED)

void gql_http_get_stats(gql_http_stats_t *out)
{
    out->operations = __atomic_load_n(&stats.operations, __ATOMIC_RELAXED);
    out->errors = __atomic_load_n(&stats.errors, __ATOMIC_RELAXED);
    out->request_errors = __atomic_load_n(&stats.request_errors, __ATOMIC_RELAXED);
    out->refused = __atomic_load_n(&stats.refused, __ATOMIC_RELAXED);
}

typedef struct call {
    http_req_t *r;      /* NULL once the client went away */
    const gql_http_config_t *cfg;
    void *ctx;
    int graphql_media;  /* answer with application/graphql-response+json */
} call_t;

/* Does the Accept header allow this media type (or a wildcard covering it)? */
static int accepts(span_t accept, const char *type, const char *family)
{
    while (accept.base) {
        span_t item;
        accept = span_split(accept, ',', &item);
        span_t mt;
        span_split(span_trim(item), ';', &mt);
        mt = span_trim(mt);
        if (span_ieq_cstr(mt, type) || span_ieq_cstr(mt, family) || span_eq_cstr(mt, "*/*")) return 1;
    }
    return 0;
}

static void respond_json(http_req_t *r, int status, int graphql_media, const char *body, size_t len)
{
    http_req_add_cors(r);
    http_respond(r, status, graphql_media ? MEDIA_GRAPHQL : MEDIA_JSON, body, len);
}

static void respond_error(http_req_t *r, int status, int graphql_media, const char *message)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"errors\":[{\"message\":");
    rs_json_append_string(&b, span_cstr(message));
    buf_append_cstr(&b, "}]}");
    respond_json(r, status, graphql_media, b.base, b.len);
    buf_free(&b);
}

static void call_abort(http_req_t *r, void *arg)
{
    call_t *c = arg;
    c->r = NULL;
}

static void done(void *arg, gql_response_t *resp)
{
    call_t *c = arg;
    if (resp->has_errors) STAT_INC(errors);
    if (resp->outcome == GQL_OUTCOME_REQUEST_ERROR) STAT_INC(request_errors);
    if (c->r) {
        http_req_t *r = c->r;
        http_req_on_abort(r, NULL, NULL);
        int status = 200;
        if (resp->outcome == GQL_OUTCOME_REQUEST_ERROR && c->graphql_media) status = 400;
        if (resp->outcome == GQL_OUTCOME_NOT_ALLOWED) {
            status = 405;
            http_req_add_header(r, "Allow", "POST");
        }
        if (c->cfg->finish) c->cfg->finish(c->ctx, r, c->cfg->arg);
        respond_json(r, status, c->graphql_media, resp->body.base, resp->body.len);
    }
    if (c->cfg->free_ctx) c->cfg->free_ctx(c->ctx, c->cfg->arg);
    free(c);
}

static int serve_graphiql(http_req_t *r, const gql_http_config_t *cfg)
{
    if (!cfg->graphiql_path) return 0;
    int fd = open(cfg->graphiql_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || sb.st_size > (16 << 20)) {
        close(fd);
        return 0;
    }
    rbuf_t *body = rbuf_alloc((size_t)sb.st_size);
    ssize_t n = body ? pread(fd, body->data, (size_t)sb.st_size, 0) : -1;
    close(fd);
    if (n != sb.st_size) {
        rbuf_unref(body);
        return 0;
    }
    http_req_add_header(r, "Cache-Control", "no-cache");
    http_respond_rbuf(r, 200, "text/html; charset=utf-8", body);
    rbuf_unref(body);
    return 1;
}

/* Percent-decode a query-string value ('+' is a space) into a NUL-terminated buffer. */
static int query_value(span_t raw, buf_t *out)
{
    out->len = 0;
    if (buf_reserve(out, raw.len + 1)) return RS_ENOMEM;
    for (size_t i = 0; i < raw.len; i++) {
        char ch = raw.base[i];
        if (ch == '+') ch = ' ';
        if (ch == '%') {
            if (i + 2 >= raw.len) return RS_EPROTO;
            char hex[3] = {raw.base[i + 1], raw.base[i + 2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end || end != hex + 2) return RS_EPROTO;
            ch = (char)v;
            i += 2;
        }
        out->base[out->len++] = ch;
    }
    out->base[out->len] = '\0';
    return 0;
}

static void execute(http_req_t *r, const gql_http_config_t *cfg, int graphql_media, const char *query,
                    size_t qlen, json_t *variables, const char *opname, unsigned flags)
{
    gql_limits_t lim = cfg->limits;
    if (lim.deadline_ms) lim.deadline_ms = gql_now_ms() + lim.deadline_ms;
    gql_request_t *req = NULL;
    if (gql_prepare(cfg->schema, query, qlen, variables, opname, &lim, &req)) {
        respond_error(r, 503, graphql_media, "out of memory");
        return;
    }
    if ((flags & GQL_QUERIES_ONLY) && !gql_request_failed(req) && gql_request_op(req) != GQL_OP_QUERY) {
        gql_request_free(req);
        http_req_add_header(r, "Allow", "POST");
        respond_error(r, 405, graphql_media, "Only queries can be sent with GET; use POST for mutations.");
        return;
    }
    call_t *c = calloc(1, sizeof *c);
    if (!c) {
        gql_request_free(req);
        respond_error(r, 503, graphql_media, "out of memory");
        return;
    }
    c->r = r;
    c->cfg = cfg;
    c->graphql_media = graphql_media;
    c->ctx = cfg->make_ctx ? cfg->make_ctx(r, cfg->arg) : NULL;
    if (cfg->make_ctx && !c->ctx) {
        /* make_ctx answered the request itself (refused it). */
        gql_request_free(req);
        free(c);
        return;
    }
    if (cfg->admit && !gql_request_failed(req)) {
        const char *message = NULL;
        int status = cfg->admit(c->ctx, req, &message, cfg->arg);
        if (status) {
            STAT_INC(refused);
            gql_request_free(req);
            if (status == 429) http_req_add_header(r, "Retry-After", "1");
            if (cfg->finish) cfg->finish(c->ctx, r, cfg->arg);
            respond_error(r, status, graphql_media, message ? message : "refused");
            if (cfg->free_ctx) cfg->free_ctx(c->ctx, cfg->arg);
            free(c);
            return;
        }
    }
    STAT_INC(operations);
    http_req_on_abort(r, call_abort, c);
    gql_request_start(req, c->ctx, done, c);
}

void gql_http_handle(http_req_t *r, void *arg)
{
    const gql_http_config_t *cfg = arg;
    const http_request_head_t *h = http_req_head(r);
    span_t accept = http_req_header(r, "accept");
    if (span_eq_cstr(h->method, "OPTIONS")) {
        if (!http_origin_allowed(http_req_server(r), h)) {
            http_respond_error(r, 403, "Forbidden: origin not allowed");
            return;
        }
        http_req_add_cors(r);
        http_req_add_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        http_req_add_header(r, "Access-Control-Allow-Headers", "content-type, authorization");
        http_req_add_header(r, "Access-Control-Max-Age", "600");
        http_respond(r, 204, NULL, NULL, 0);
        return;
    }
    int graphql_media = 0;
    if (accept.base && accept.len) {
        /* The first acceptable of the two media types in the client's list wins. */
        int g = accepts(accept, "application/graphql-response+json", "application/*");
        int j = accepts(accept, "application/json", "application/*");
        int html = accepts(accept, "text/html", "text/*") && !j && !g;
        if (span_eq_cstr(h->method, "GET") && !http_req_query(r, "query").base &&
            (html || (accept.len >= 9 && memmem(accept.base, accept.len, "text/html", 9)))) {
            if (serve_graphiql(r, cfg)) return;
        }
        if (!g && !j) {
            respond_error(r, 406, 0, "Not Acceptable: ask for application/graphql-response+json or application/json");
            return;
        }
        /* graphql-response+json when asked for by name and listed before application/json. */
        const char *gpos = memmem(accept.base, accept.len, "application/graphql-response+json", 33);
        const char *jpos = memmem(accept.base, accept.len, "application/json", 16);
        graphql_media = gpos && (!jpos || gpos < jpos);
    }
    if (!http_origin_allowed(http_req_server(r), h)) {
        respond_error(r, 403, graphql_media, "Forbidden: origin not allowed");
        return;
    }
    if (span_eq_cstr(h->method, "GET")) {
        buf_t q = BUF_INIT, op = BUF_INIT, vars = BUF_INIT;
        span_t rq = http_req_query(r, "query");
        if (!rq.base || query_value(rq, &q) || !q.len) {
            buf_free(&q);
            respond_error(r, 400, graphql_media, "Missing query");
            return;
        }
        span_t rop = http_req_query(r, "operationName");
        span_t rv = http_req_query(r, "variables");
        json_t *variables = NULL;
        int bad = 0;
        if (rop.base && query_value(rop, &op)) bad = 1;
        if (!bad && rv.base && rv.len) {
            if (query_value(rv, &vars) || rs_json_parse(buf_span(&vars), NULL, &variables)) bad = 1;
            else if (!json_is_object(variables) && !json_is_null(variables)) bad = 1;
        }
        if (bad) {
            respond_error(r, 400, graphql_media, "Malformed operationName or variables");
        } else {
            execute(r, cfg, graphql_media, q.base, q.len, variables,
                    op.len ? op.base : NULL, GQL_QUERIES_ONLY);
        }
        json_decref(variables);
        buf_free(&q);
        buf_free(&op);
        buf_free(&vars);
        return;
    }
    if (!span_eq_cstr(h->method, "POST")) {
        http_req_add_header(r, "Allow", "GET, POST, OPTIONS");
        respond_error(r, 405, graphql_media, "Method Not Allowed");
        return;
    }
    span_t ctype = http_req_header(r, "content-type");
    span_t mt;
    span_t params = span_split(ctype, ';', &mt);
    if (!ctype.base || !span_ieq_cstr(span_trim(mt), "application/json")) {
        /* text/plain and form bodies would let a cross-site form post a mutation (CSRF). */
        respond_error(r, 415, graphql_media, "Unsupported Media Type: send application/json");
        return;
    }
    while (params.base) {
        span_t p;
        params = span_split(params, ';', &p);
        p = span_trim(p);
        if (p.len > 8 && strncasecmp(p.base, "charset=", 8) == 0 &&
            !span_ieq_cstr(span_make(p.base + 8, p.len - 8), "utf-8") &&
            !span_ieq_cstr(span_make(p.base + 8, p.len - 8), "\"utf-8\"")) {
            respond_error(r, 415, graphql_media, "Unsupported charset: use utf-8");
            return;
        }
    }
    json_t *body = NULL;
    if (rs_json_parse(http_req_body(r), NULL, &body) || !json_is_object(body)) {
        json_decref(body);
        respond_error(r, 400, graphql_media, "The body must be a JSON object {query, operationName, variables}");
        return;
    }
    json_t *query = json_object_get(body, "query");
    json_t *opname = json_object_get(body, "operationName");
    json_t *variables = json_object_get(body, "variables");
    json_t *ext = json_object_get(body, "extensions");
    const char *bad = NULL;
    if (!json_is_string(query)) bad = "query must be a string";
    else if (opname && !json_is_null(opname) && !json_is_string(opname)) bad = "operationName must be a string";
    else if (variables && !json_is_null(variables) && !json_is_object(variables)) bad = "variables must be an object";
    else if (ext && !json_is_null(ext) && !json_is_object(ext)) bad = "extensions must be an object";
    if (bad) {
        respond_error(r, 400, graphql_media, bad);
    } else {
        execute(r, cfg, graphql_media, json_string_value(query), json_string_length(query),
                json_is_object(variables) ? variables : NULL,
                json_is_string(opname) ? json_string_value(opname) : NULL, 0);
    }
    json_decref(body);
}
