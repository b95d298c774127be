/* ast.h - the GraphQL document tree produced by gql_parse (parser.h).
 *
 * Every node lives in the arena passed to the parser and is freed with it. Names are spans
 * into the source text, which must outlive the tree; string values are decoded copies in the
 * arena. Lists are singly linked through `next` with a count beside the head. Each node
 * records the byte offset it starts at (`loc`); gql_source_location turns it into
 * line/column for error messages. */
#ifndef ROOST_GQL_AST_H
#define ROOST_GQL_AST_H

#include <stdbool.h>
#include <stdint.h>

#include "util/span.h"

typedef uint32_t gql_off_t;

enum gql_op_type {
    GQL_OP_NONE = 0, /* not determined (the request failed before an operation was chosen) */
    GQL_OP_QUERY,
    GQL_OP_MUTATION,
    GQL_OP_SUBSCRIPTION,
};

enum gql_ast_value_kind {
    GQL_AV_VARIABLE,
    GQL_AV_INT,
    GQL_AV_FLOAT,
    GQL_AV_STRING,
    GQL_AV_BOOLEAN,
    GQL_AV_NULL,
    GQL_AV_ENUM,
    GQL_AV_LIST,
    GQL_AV_OBJECT,
};

typedef struct gql_ast_value gql_ast_value_t;
typedef struct gql_ast_objfield gql_ast_objfield_t;

struct gql_ast_value {
    enum gql_ast_value_kind kind;
    gql_off_t loc;
    gql_ast_value_t *next;      /* next item when this is a list item */
    span_t text;                /* VARIABLE/ENUM: the name; INT/FLOAT: the lexeme;
                                   STRING: the decoded value (arena) */
    bool boolean;               /* BOOLEAN */
    bool block;                 /* STRING written as a block string */
    uint32_t count;             /* LIST: items, OBJECT: fields */
    gql_ast_value_t *items;     /* LIST */
    gql_ast_objfield_t *fields; /* OBJECT */
};

struct gql_ast_objfield {
    span_t name;
    gql_off_t loc;
    gql_ast_value_t *value;
    gql_ast_objfield_t *next;
};

typedef struct gql_ast_arg {
    span_t name;
    gql_off_t loc;
    gql_ast_value_t *value;
    struct gql_ast_arg *next;
} gql_ast_arg_t;

typedef struct gql_ast_directive {
    span_t name;
    gql_off_t loc;
    gql_ast_arg_t *args;
    uint32_t nargs;
    struct gql_ast_directive *next;
} gql_ast_directive_t;

enum gql_ast_type_kind { GQL_AT_NAMED, GQL_AT_LIST, GQL_AT_NON_NULL };

typedef struct gql_ast_type {
    enum gql_ast_type_kind kind;
    gql_off_t loc;
    span_t name;             /* NAMED */
    struct gql_ast_type *of; /* LIST, NON_NULL */
} gql_ast_type_t;

enum gql_ast_sel_kind { GQL_SEL_FIELD, GQL_SEL_SPREAD, GQL_SEL_INLINE };

typedef struct gql_ast_selection gql_ast_selection_t;

typedef struct gql_ast_selset {
    gql_off_t loc;
    uint32_t count;
    gql_ast_selection_t *head;
} gql_ast_selset_t;

struct gql_ast_selection {
    enum gql_ast_sel_kind kind;
    gql_off_t loc;
    span_t alias; /* FIELD: base NULL when there is none */
    span_t name;  /* FIELD: field name; SPREAD: fragment name */
    gql_off_t name_loc;
    span_t type_cond; /* INLINE: base NULL when there is none */
    gql_off_t type_cond_loc;
    gql_ast_arg_t *args; /* FIELD */
    uint32_t nargs;
    gql_ast_directive_t *directives;
    gql_ast_selset_t *selset; /* FIELD (may be NULL), INLINE */
    gql_ast_selection_t *next;
};

/* The name under which a field appears in the response: its alias, else its name. */
static inline span_t gql_ast_response_name(const gql_ast_selection_t *f)
{
    return f->alias.base ? f->alias : f->name;
}

typedef struct gql_ast_vardef {
    span_t description;
    span_t name; /* without the '$' */
    gql_off_t loc;
    gql_off_t name_loc;
    gql_ast_type_t *type;
    gql_ast_value_t *defval; /* NULL when there is no default */
    gql_ast_directive_t *directives;
    struct gql_ast_vardef *next;
} gql_ast_vardef_t;

/* Type-system definitions (SDL), parsed so that a schema can be built from them and so that
 * validation can name them when they appear in a request. */
typedef struct gql_ast_inputval {
    span_t description; /* base NULL when absent */
    span_t name;
    gql_off_t loc;
    gql_ast_type_t *type;
    gql_ast_value_t *defval;
    gql_ast_directive_t *directives;
    struct gql_ast_inputval *next;
} gql_ast_inputval_t;

typedef struct gql_ast_fielddef {
    span_t description;
    span_t name;
    gql_off_t loc;
    gql_ast_inputval_t *args;
    uint32_t nargs;
    gql_ast_type_t *type;
    gql_ast_directive_t *directives;
    struct gql_ast_fielddef *next;
} gql_ast_fielddef_t;

typedef struct gql_ast_name {
    span_t name;
    gql_off_t loc;
    enum gql_op_type op; /* schema { query: Q }: the operation this root type is for */
    struct gql_ast_name *next;
} gql_ast_name_t;

enum gql_ast_def_kind {
    GQL_DEF_OPERATION,
    GQL_DEF_FRAGMENT,
    GQL_DEF_SCHEMA,
    GQL_DEF_SCALAR,
    GQL_DEF_OBJECT,
    GQL_DEF_INTERFACE,
    GQL_DEF_UNION,
    GQL_DEF_ENUM,
    GQL_DEF_INPUT,
    GQL_DEF_DIRECTIVE,
};

typedef struct gql_ast_def {
    enum gql_ast_def_kind kind;
    gql_off_t loc;
    span_t name; /* operation (base NULL when anonymous), fragment, type or directive name */
    gql_off_t name_loc;
    gql_ast_directive_t *directives;
    struct gql_ast_def *next;

    /* OPERATION */
    enum gql_op_type op;
    gql_ast_vardef_t *vars;
    uint32_t nvars;
    /* OPERATION, FRAGMENT */
    gql_ast_selset_t *selset;
    /* FRAGMENT */
    span_t type_cond;
    gql_off_t type_cond_loc;

    /* type system */
    bool extend;
    span_t description;
    gql_ast_name_t *interfaces; /* OBJECT, INTERFACE */
    gql_ast_name_t *members;    /* UNION members; SCHEMA root types; DIRECTIVE locations */
    gql_ast_fielddef_t *fields; /* OBJECT, INTERFACE */
    gql_ast_inputval_t *inputs; /* INPUT fields; DIRECTIVE arguments */
    gql_ast_fielddef_t *values; /* ENUM values (name, description, directives) */
    bool repeatable;            /* DIRECTIVE */
} gql_ast_def_t;

typedef struct gql_ast_doc {
    const char *src;
    size_t len;
    gql_ast_def_t *defs;
    uint32_t ndefs;
    uint32_t ntokens;
} gql_ast_doc_t;

#endif
