/* schema.h - the engine's view of a built schema (internal to gql/; the app uses gql.h).
 *
 * Everything here lives in the schema's arena and is immutable once gql_schema_build has
 * returned (bindings aside), so requests on any thread may read it without locks. Named
 * types are unique objects (compare pointers); list and non-null wrappers are not interned
 * (a request builds its variables' types in its own arena), so compare those with
 * gql_type_equal. */
#ifndef ROOST_GQL_SCHEMA_H
#define ROOST_GQL_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gql/arena.h"
#include "gql/gql.h"
#include "util/span.h"

enum gql_kind {
    GQL_SCALAR,
    GQL_OBJECT,
    GQL_INTERFACE,
    GQL_UNION,
    GQL_ENUM,
    GQL_INPUT_OBJECT,
    GQL_LIST,
    GQL_NON_NULL,
};

enum gql_builtin_scalar { GQL_CUSTOM = 0, GQL_INT, GQL_FLOAT, GQL_STRING, GQL_BOOLEAN, GQL_ID };

typedef struct gql_type gql_type_t;

typedef struct gql_input_value {
    const char *name;
    size_t name_len;
    const char *description;
    gql_type_t *type;
    json_t *defval;          /* coerced default value; NULL when there is none */
    const char *defval_text; /* the default printed as a GraphQL literal, or NULL */
    const char *deprecation; /* deprecation reason; NULL when not deprecated */
} gql_input_value_t;

enum gql_meta_field { GQL_META_NONE = 0, GQL_META_TYPENAME, GQL_META_SCHEMA, GQL_META_TYPE };

typedef struct gql_field_def {
    const char *name;
    size_t name_len;
    const char *description;
    gql_type_t *type;
    gql_input_value_t *args;
    uint32_t nargs;
    const char *deprecation;
    gql_resolver_fn resolve;
    void *udata;
    bool expensive;
    enum gql_meta_field meta;
    gql_type_t *owner;
} gql_field_def_t;

typedef struct gql_enum_value {
    const char *name;
    size_t name_len;
    const char *description;
    const char *deprecation;
} gql_enum_value_t;

struct gql_type {
    enum gql_kind kind;
    const char *name; /* NULL for wrappers */
    size_t name_len;
    const char *description;
    const char *specified_by; /* scalars */
    enum gql_builtin_scalar builtin;
    bool introspection; /* one of the __ types */
    bool referenced;    /* reachable: listed by introspection */

    gql_field_def_t *fields; /* OBJECT, INTERFACE */
    uint32_t nfields;
    gql_type_t **interfaces; /* OBJECT, INTERFACE */
    uint32_t ninterfaces;
    gql_type_t **possible; /* UNION members; INTERFACE implementing objects */
    uint32_t npossible;
    gql_enum_value_t *values; /* ENUM */
    uint32_t nvalues;
    gql_input_value_t *inputs; /* INPUT_OBJECT fields */
    uint32_t ninputs;

    gql_type_t *of_type; /* LIST, NON_NULL */

    gql_type_resolver_fn resolve_type;
    void *resolve_type_udata;
    gql_scalar_fn serialize, parse;
    void *scalar_udata;

    uint32_t index;
    uint8_t defaults_state; /* building: 0 not yet, 1 in progress, 2 done */
    const void *ast;        /* the defining gql_ast_def_t while building */
};

enum gql_dir_loc {
    GQL_DL_QUERY = 1u << 0,
    GQL_DL_MUTATION = 1u << 1,
    GQL_DL_SUBSCRIPTION = 1u << 2,
    GQL_DL_FIELD = 1u << 3,
    GQL_DL_FRAGMENT_DEFINITION = 1u << 4,
    GQL_DL_FRAGMENT_SPREAD = 1u << 5,
    GQL_DL_INLINE_FRAGMENT = 1u << 6,
    GQL_DL_VARIABLE_DEFINITION = 1u << 7,
    GQL_DL_SCHEMA = 1u << 8,
    GQL_DL_SCALAR = 1u << 9,
    GQL_DL_OBJECT = 1u << 10,
    GQL_DL_FIELD_DEFINITION = 1u << 11,
    GQL_DL_ARGUMENT_DEFINITION = 1u << 12,
    GQL_DL_INTERFACE = 1u << 13,
    GQL_DL_UNION = 1u << 14,
    GQL_DL_ENUM = 1u << 15,
    GQL_DL_ENUM_VALUE = 1u << 16,
    GQL_DL_INPUT_OBJECT = 1u << 17,
    GQL_DL_INPUT_FIELD_DEFINITION = 1u << 18,
};
#define GQL_DL_COUNT 19
extern const char *const gql_dir_loc_names[GQL_DL_COUNT];

typedef struct gql_directive_def {
    const char *name;
    size_t name_len;
    const char *description;
    gql_input_value_t *args;
    uint32_t nargs;
    uint32_t locations;              /* enum gql_dir_loc bits */
    uint8_t loc_order[GQL_DL_COUNT]; /* bit numbers in the order declared */
    uint8_t nlocs;
    bool repeatable;
} gql_directive_def_t;

struct gql_schema {
    gql_arena_t arena;
    char *sdl; /* the SDL copy the type-system AST points into */
    const char *description;
    gql_type_t **types; /* every named type, definition order */
    uint32_t ntypes;
    gql_type_t **table; /* open-addressing hash of types by name */
    uint32_t table_size;
    gql_type_t *query, *mutation, *subscription;
    gql_directive_def_t **directives;
    uint32_t ndirectives;
    gql_field_def_t typename_field, schema_field, type_field; /* meta fields */
    json_t **owned; /* json values (defaults) to release with the schema */
    uint32_t nowned, owned_cap;
};

/* Named type by name, or NULL. */
gql_type_t *gql_schema_type(const gql_schema_t *s, span_t name);
/* Field of an object or interface type by name, including __typename (on every composite
 * type, unions too) and __schema/__type (on the query root); NULL when absent. */
const gql_field_def_t *gql_schema_field(const gql_schema_t *s, const gql_type_t *t, span_t name);
gql_directive_def_t *gql_schema_directive(const gql_schema_t *s, span_t name);
const gql_input_value_t *gql_find_arg(const gql_input_value_t *args, uint32_t nargs, span_t name);

/* The named type under any wrappers. */
static inline gql_type_t *gql_named_type(gql_type_t *t)
{
    while (t && t->of_type) t = t->of_type;
    return t;
}

static inline bool gql_is_leaf(const gql_type_t *t)
{
    return t->kind == GQL_SCALAR || t->kind == GQL_ENUM;
}

static inline bool gql_is_composite(const gql_type_t *t)
{
    return t->kind == GQL_OBJECT || t->kind == GQL_INTERFACE || t->kind == GQL_UNION;
}

static inline bool gql_is_abstract(const gql_type_t *t)
{
    return t->kind == GQL_INTERFACE || t->kind == GQL_UNION;
}

/* Input types: scalars, enums, input objects and wrappers of them. */
bool gql_is_input_type(const gql_type_t *t);
bool gql_is_output_type(const gql_type_t *t);
/* Is obj a possible runtime type of the abstract (or same) type t? */
bool gql_is_possible_type(const gql_type_t *abstract, const gql_type_t *obj);
/* Do the two composite types share a possible object type? */
bool gql_types_overlap(const gql_type_t *a, const gql_type_t *b);
/* Is sub a subtype of super (output-type covariance: non-null, lists, interfaces)? */
bool gql_is_subtype(const gql_type_t *sub, const gql_type_t *super);
/* "[User!]!" */
int gql_type_print(const gql_type_t *t, buf_t *out);
/* A list or non-null wrapper around of, allocated in a; NULL on ENOMEM. */
gql_type_t *gql_type_wrap(gql_arena_t *a, enum gql_kind kind, gql_type_t *of);
/* Structural equality of two type references. */
bool gql_type_equal(const gql_type_t *a, const gql_type_t *b);
/* Resolve an AST type reference against the schema; NULL when a named type is unknown
 * (*unknown then names it) or on ENOMEM (*unknown base NULL). */
gql_type_t *gql_type_from_ast(const gql_schema_t *s, gql_arena_t *a, const gql_ast_type_t *t,
                              span_t *unknown);

/* The introspection types' SDL and resolver binding (introspect.c). */
extern const char gql_introspection_sdl[];
int gql_introspection_bind(gql_schema_t *s);

#endif
