/* gql.h - roost's GraphQL engine: build a schema, bind resolvers, run requests.
 *
 * Values are jansson json_t everywhere: variables come in as a json object, resolvers receive
 * their parent value and coerced arguments as json_t, and return json_t. An object-typed
 * field's value is usually a json object whose properties the default resolver reads by field
 * name (like graphql-js); any json value may be used as long as every field of that type has
 * a resolver that understands it. The response is JSON text with keys in selection order.
 *
 * Memory: a request copies the query and allocates its AST, errors and execution bookkeeping
 * from one arena capped by limits.max_memory, freed in one go when the request ends; it holds
 * a reference to every json value a resolver returns until then. Values handed to resolvers
 * (parent, arguments) are shared: read them, never modify them.
 *
 * Threading: a schema is immutable once built and bound, and may be shared by every worker
 * thread. A request belongs to the thread that started it: its resolvers run there, and
 * asynchronous completions (gql_call_return / gql_call_fail) must be made on that thread.
 *
 * Typical use (the app layer):
 *     gql_schema_t *s;
 *     if (gql_schema_build(sdl, strlen(sdl), &s, &err) < 0) die(err.base);
 *     gql_schema_set_resolver(s, "Query.me", resolve_me, NULL);
 *     gql_schema_set_expensive(s, "Mutation.login");
 * and per HTTP request (the transport):
 *     gql_execute_request(s, query, len, variables, op_name, viewer_ctx, &limits, flags,
 *                         on_done, conn);
 */
#ifndef ROOST_GQL_GQL_H
#define ROOST_GQL_GQL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gql/ast.h" /* enum gql_op_type */
#include "util/buf.h"

typedef struct gql_schema gql_schema_t;
typedef struct gql_call gql_call_t;
typedef struct gql_request gql_request_t;

/* ------------------------------------------------------------------------------------------ */
/* Schema                                                                                      */

/* Build a schema from SDL text: type, interface (may implement interfaces), union, enum,
 * input, scalar, schema { query mutation subscription }, directive definitions, `extend`
 * of each, descriptions, @deprecated(reason:) on fields, arguments, input fields and enum
 * values, @specifiedBy(url:) on scalars. Int, Float, String, Boolean, ID and the directives
 * @include, @skip, @deprecated, @specifiedBy are built in; the root types default to the
 * types named Query, Mutation and Subscription. The text is copied.
 * Returns 0 with *out set (free it with gql_schema_free); RS_EPROTO when the SDL does not
 * parse or describes an invalid schema (unknown type, object not implementing an interface's
 * field, ...), with the reasons in err (one per line); RS_ENOMEM. */
int gql_schema_build(const char *sdl, size_t len, gql_schema_t **out, buf_t *err);
void gql_schema_free(gql_schema_t *s);

/* A resolver computes one field's value. It must eventually complete `call` exactly once,
 * with gql_call_return or gql_call_fail: either before it returns (synchronous) or later,
 * from the same thread (asynchronous: keep the pointer, e.g. in a storage completion).
 * Sibling fields of a query may be started while earlier ones are pending, so a resolver
 * may batch its reads; top-level mutation fields run one after another. */
typedef void (*gql_resolver_fn)(gql_call_t *call);

/* Bind fn to the field named by coordinate "Type.field" (udata is handed back through
 * gql_call_udata). Fields without a resolver read the parent json object's property of
 * the same name (missing -> null). Call before the schema serves requests.
 * Returns 0; RS_ENOTFOUND when there is no such object/interface field. */
int gql_schema_set_resolver(gql_schema_t *s, const char *coord, gql_resolver_fn fn, void *udata);

/* How an interface or union value tells its concrete object type: return the type's name
 * (static or schema-lived string), or NULL when unknown (a field error). Without a type
 * resolver the value's "__typename" property (a string) is used. ctx is the request context.
 * Returns 0; RS_ENOTFOUND when the type is not an interface or union. */
typedef const char *(*gql_type_resolver_fn)(json_t *value, void *ctx, void *udata);
int gql_schema_set_type_resolver(gql_schema_t *s, const char *type, gql_type_resolver_fn fn,
                                 void *udata);

/* Custom scalar conversion. serialize: a resolver's value -> the response value. parse: a
 * variable's json value, or a literal converted to json, -> the value resolvers receive.
 * Each returns 0 with *out a new reference, or a negative code with a message appended to
 * err ("Date cannot represent ..."). Without functions, a custom scalar passes json through
 * unchanged. Returns 0; RS_ENOTFOUND when type is not a custom scalar. */
typedef int (*gql_scalar_fn)(void *udata, json_t *in, json_t **out, buf_t *err);
int gql_schema_set_scalar(gql_schema_t *s, const char *type, gql_scalar_fn serialize,
                          gql_scalar_fn parse, void *udata);

/* Mark a field ("Mutation.login") as expensive: a request selecting it more times than
 * limits.max_expensive (aliases and fragments counted) is refused before execution.
 * Returns 0; RS_ENOTFOUND. */
int gql_schema_set_expensive(gql_schema_t *s, const char *coord);

/* ------------------------------------------------------------------------------------------ */
/* Resolver calls                                                                              */

/* The request's context pointer (the viewer, the store, the Socket.IO server...). */
void *gql_call_context(const gql_call_t *call);
/* The udata given to gql_schema_set_resolver. */
void *gql_call_udata(const gql_call_t *call);
/* The parent object's value (borrowed; the root value for top-level fields). */
json_t *gql_call_parent(const gql_call_t *call);
/* The coerced arguments as an object (borrowed): defaults applied; an optional argument that
 * was neither given nor defaulted is absent; an explicit null is json null. */
json_t *gql_call_args(const gql_call_t *call);
/* One argument (borrowed) or NULL when absent. */
json_t *gql_call_arg(const gql_call_t *call, const char *name);
const char *gql_call_field_name(const gql_call_t *call);
const char *gql_call_parent_type(const gql_call_t *call);
const char *gql_call_return_type_name(const gql_call_t *call); /* named type, no wrappers */
/* The response path ("users.nodes.3.id") appended to out, for logs. Returns 0 or RS_ENOMEM. */
int gql_call_path(const gql_call_t *call, buf_t *out);
/* Does this field's selection set select the field `name` (at the first level, through
 * fragments, ignoring type conditions)? Lets a resolver skip work nobody asked for. */
bool gql_call_selects(const gql_call_t *call, const char *name);

/* Complete the call with a value (a new reference is stolen; NULL means null). */
void gql_call_return(gql_call_t *call, json_t *value);
/* Complete the call with a field error: the field becomes null (propagating to the nearest
 * nullable parent) and {message, locations, path, extensions} joins "errors". extensions
 * (stolen, may be NULL) is an object such as {"code":"UNAUTHENTICATED"}. */
void gql_call_fail(gql_call_t *call, const char *message, json_t *extensions);
void gql_call_failf(gql_call_t *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After return/fail the call is gone: do not touch it again. Either function may run the rest
 * of the request, including its done callback, before returning. */

/* ------------------------------------------------------------------------------------------ */
/* Requests                                                                                    */

typedef struct gql_limits {
    size_t max_bytes;       /* query text length; default 65536 */
    uint32_t max_tokens;    /* default 10000 */
    uint32_t max_depth;     /* field nesting counted through fragments; default 16 */
    uint32_t max_aliases;   /* aliased fields in the operation; default 30 */
    uint32_t max_fields;    /* fields selected, expanded through fragments; default 1000 */
    uint32_t max_expensive; /* selections of each field marked expensive; default 1 */
    uint32_t max_resolved;  /* field values produced while executing (lists multiply them);
                               past it no resolver starts; default 50000 */
    uint64_t deadline_ms;   /* CLOCK_MONOTONIC time in ms after which no resolver starts; 0 none */
    size_t max_memory;      /* bytes of request arena (AST, bookkeeping); default 16 MiB */
} gql_limits_t;

/* The defaults above. */
void gql_limits_default(gql_limits_t *l);
/* Now on CLOCK_MONOTONIC in ms, for deadline_ms = gql_now_ms() + budget. */
uint64_t gql_now_ms(void);

enum gql_outcome {
    GQL_OUTCOME_EXECUTED = 0,  /* the operation ran: body has "data" (and maybe "errors") */
    GQL_OUTCOME_REQUEST_ERROR, /* refused before execution (syntax, validation, variables,
                                  limits, unknown operation): body is {"errors":[...]} only;
                                  with application/graphql-response+json answer 400 */
    GQL_OUTCOME_NOT_ALLOWED,   /* GQL_QUERIES_ONLY and the operation is not a query: nothing
                                  ran; answer 405 with Allow: POST */
};

typedef struct gql_response {
    buf_t body; /* the response JSON; the callback may take it (then leave BUF_INIT) */
    enum gql_outcome outcome;
    enum gql_op_type op; /* the chosen operation's type, GQL_OP_NONE when none was chosen */
    bool has_errors;     /* body has an "errors" key */
} gql_response_t;

/* GraphQL over HTTP, for the transport: answer EXECUTED with 200; REQUEST_ERROR with 400 when
 * the response media type is application/graphql-response+json and 200 with
 * application/json; NOT_ALLOWED with 405 and "Allow: POST". A missing or non-string "query",
 * bad JSON or non-object "variables" are the transport's own 400s, before calling in here. */

/* Called exactly once per request, when the response is complete. May run before
 * gql_execute_request returns (all resolvers synchronous) or inside the gql_call_return /
 * gql_call_fail that completed the last pending resolver. resp is valid during the call. */
typedef void (*gql_done_fn)(void *arg, gql_response_t *resp);

#define GQL_QUERIES_ONLY 1u /* refuse mutations and subscriptions (GET requests) */

/* Parse, validate, coerce variables, check limits, then execute the chosen operation.
 * query[0..len) is copied; variables (borrowed; NULL or json null = none) must be an object;
 * operation_name may be NULL; ctx is handed to every resolver; limits NULL = defaults.
 * Returns 0 (done will be / has been called) or RS_ENOMEM (done is not called). */
int gql_execute_request(const gql_schema_t *s, const char *query, size_t len, json_t *variables,
                        const char *operation_name, void *ctx, const gql_limits_t *limits,
                        unsigned flags, gql_done_fn done, void *done_arg);

/* The same in two steps, for callers that want to look before running: gql_prepare does all
 * the checks and never runs a resolver. It returns 0 with *out set even when the request is
 * invalid (gql_request_start then reports the errors); RS_ENOMEM otherwise. */
int gql_prepare(const gql_schema_t *s, const char *query, size_t len, json_t *variables,
                const char *operation_name, const gql_limits_t *limits, gql_request_t **out);
/* The chosen operation's type; GQL_OP_NONE when the request is invalid. */
enum gql_op_type gql_request_op(const gql_request_t *r);
/* True when the request failed before execution. */
bool gql_request_failed(const gql_request_t *r);
/* How many times the operation selects the field "Type.field" (aliases and fragments counted,
 * @skip/@include applied; a selection under a list counts once). For a top-level mutation
 * field this is exactly how many times its resolver will run. 0 for an invalid request. */
uint32_t gql_request_count_field(const gql_request_t *r, const char *coord);
/* Run it (or report its errors): done fires as for gql_execute_request, and the request is
 * freed after done returns. */
void gql_request_start(gql_request_t *r, void *ctx, gql_done_fn done, void *done_arg);
/* Discard a prepared request that was never started. */
void gql_request_free(gql_request_t *r);

/* The type of the operation that a request would run, parsing only (for refusing mutations
 * over GET before doing anything else). Returns GQL_OP_QUERY/MUTATION/SUBSCRIPTION, or
 * GQL_OP_NONE when the document does not parse or names no single operation (executing it
 * then yields the error). */
enum gql_op_type gql_operation_type(const char *query, size_t len, const char *operation_name);

#endif
