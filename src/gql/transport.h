/* transport.h - GraphQL over HTTP (the graphql-http audit's rules) on the HTTP server.
 *
 * POST application/json {query, operationName?, variables?, extensions?} and GET with the
 * same fields in the query string (queries only: a mutation over GET gets 405, Allow: POST).
 * Media type: application/graphql-response+json when the client accepts it (a request that
 * fails before execution then gets 400), application/json otherwise (always 200 once the
 * body parsed, as Apollo and urql expect). Bad JSON: 400; other media types: 415; an Accept
 * naming neither: 406. OPTIONS preflights answered with CORS. A browser asking GET /graphql
 * for text/html gets the GraphiQL page when one is configured.
 *
 * Execution may finish later (resolvers waiting for a storage commit); a client that goes
 * away meanwhile is simply not answered, and the context is released when execution ends. */
#ifndef ROOST_GQL_TRANSPORT_H
#define ROOST_GQL_TRANSPORT_H

#include "gql/gql.h"
#include "http/server.h"

typedef struct gql_http_config {
    const gql_schema_t *schema;
    gql_limits_t limits;       /* deadline_ms is relative here: budget per request in ms */
    /* Per-request context handed to resolvers (the viewer, the store reader, ...). May refuse
     * the request by returning NULL after answering it (e.g. 429). */
    void *(*make_ctx)(http_req_t *r, void *arg);
    /* Look at a prepared request before it runs (rate limits counted per field). Return 0 to
     * run it, or an HTTP status with *message to refuse it with a GraphQL error. */
    int (*admit)(void *ctx, gql_request_t *req, const char **message, void *arg);
    /* Add response headers (Set-Cookie) just before the response is written. */
    void (*finish)(void *ctx, http_req_t *r, void *arg);
    void (*free_ctx)(void *ctx, void *arg);
    void *arg;
    const char *graphiql_path; /* file served for browsers (text/html), or NULL */
} gql_http_config_t;

/* Route handler for /graphql; arg is a gql_http_config_t that outlives the server. */
void gql_http_handle(http_req_t *r, void *arg);

/* Counters for /metrics. */
typedef struct gql_http_stats {
    uint64_t operations, errors, request_errors, refused;
} gql_http_stats_t;
void gql_http_get_stats(gql_http_stats_t *out);

#endif
