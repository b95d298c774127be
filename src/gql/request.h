/* request.h - one GraphQL request from parse to response (internal to gql/).
 *
 * A request owns an arena holding its copy of the query, the AST, the errors and every
 * piece of execution bookkeeping (result tree nodes, resolver calls), and a list of the json
 * values it holds references to. Execution is a resumable state machine: a stack of field
 * tasks that a drive loop runs until it is empty and no resolver is pending. */
#ifndef ROOST_GQL_REQUEST_H
#define ROOST_GQL_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gql/arena.h"
#include "gql/ast.h"
#include "gql/errors.h"
#include "gql/gql.h"
#include "gql/schema.h"

/* Fields with one response key in one selection set, merged (spec CollectFields). */
typedef struct gql_field_group {
    span_t key;
    const gql_ast_selection_t **fields;
    uint32_t n, cap;
    /* Subfields collected for the runtime type last seen (lists repeat it). */
    const gql_type_t *sub_type;
    struct gql_collected *sub;
} gql_field_group_t;

typedef struct gql_collected {
    gql_field_group_t **groups;
    uint32_t n, cap;
} gql_collected_t;

enum gql_rnode_kind {
    GQL_RN_PENDING,
    GQL_RN_NULL,
    GQL_RN_LEAF,
    GQL_RN_OBJECT,
    GQL_RN_LIST,
    GQL_RN_SKIP
};

/* A position in the response: a field of an object or an item of a list. */
typedef struct gql_rnode {
    uint8_t kind;
    bool nonnull; /* this position's type is non-null: a null here nulls the parent */
    struct gql_rnode *parent;
    span_t key;     /* in an object */
    uint32_t index; /* in a list */
    json_t *leaf;
    struct gql_rnode **kids;
    uint32_t nkids;
} gql_rnode_t;

enum gql_call_state { GQL_CALL_QUEUED, GQL_CALL_RUNNING, GQL_CALL_SYNC_DONE, GQL_CALL_PENDING };

struct gql_call {
    gql_request_t *req;
    const gql_type_t *parent_type;
    json_t *parent;
    const gql_field_def_t *fdef;
    gql_field_group_t *group;
    gql_rnode_t *node;
    json_t *args;
    uint8_t state;
    /* A completion that arrived while the resolver was still running. */
    json_t *value;
    bool failed;
    char *errmsg;
    json_t *errext;
    struct gql_call *next; /* task stack */
};

typedef struct gql_frag {
    span_t name;
    const gql_ast_def_t *def;
    uint32_t stamp;
} gql_frag_t;

struct gql_request {
    gql_arena_t arena;
    const gql_schema_t *schema;
    gql_limits_t limits;
    char *query;
    size_t len;
    gql_ast_doc_t *doc;
    const gql_ast_def_t *op;
    enum gql_op_type op_type;
    json_t *vars; /* coerced variable values, an object */
    gql_errors_t errors;
    bool failed;
    gql_frag_t *frags;
    uint32_t nfrags;
    uint32_t stamp_gen;

    /* execution */
    void *ctx;
    gql_done_fn done;
    void *done_arg;
    gql_rnode_t *root;
    gql_collected_t *root_fields;
    gql_call_t *stack;
    gql_call_t **batch; /* tasks made while completing one value, in order */
    uint32_t nbatch, cap_batch;
    uint32_t pending;
    uint32_t serial_next;
    uint32_t resolved;
    bool serial;
    bool running;
    bool limit_hit;
    json_t *root_value;
    json_t *empty_args;
    json_t **keep;
    uint32_t nkeep, cap_keep;
};

/* Hold a reference until the request ends (v may be NULL). Returns 0 or RS_ENOMEM (v is
 * released then). */
int gql_request_keep(gql_request_t *r, json_t *v);
/* The fragment definition named name, or NULL. */
const gql_ast_def_t *gql_request_fragment(gql_request_t *r, span_t name);
/* @skip / @include with the request's variables: should this selection be included? */
bool gql_request_included(gql_request_t *r, const gql_ast_directive_t *dirs);
/* Coerce the arguments of field node f for a field with defs (spec CoerceArgumentValues).
 * Returns 0 with *out (new ref) or RS_EPROTO with the message in err, or RS_ENOMEM. */
int gql_request_coerce_args(gql_request_t *r, const gql_input_value_t *defs, uint32_t ndefs,
                            const gql_ast_arg_t *args, json_t **out, buf_t *err);

/* Run the validated request (execute.c): calls done and frees r when complete. */
void gql_exec_start(gql_request_t *r);
/* The schema of the request a call belongs to (for introspection resolvers). */
const gql_schema_t *gql_call_schema(const gql_call_t *call);

#endif
