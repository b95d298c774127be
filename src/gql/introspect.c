/* introspect.c - the introspection schema (spec 4.2) as SDL, and its resolvers.
 *
 * Introspection objects are not json: a __Type, __Field, __InputValue, __EnumValue or
 * __Directive value is a json integer holding a pointer into the (immutable) schema. Only
 * these resolvers ever see such values, since no other field can return an introspection
 * type (names starting with "__" are reserved). */
#include <stdint.h>
#include <string.h>

#include "gql/request.h"
#include "gql/schema.h"
#include "util/err.h"

const char gql_introspection_sdl[] =
    "\"A GraphQL Schema defines the capabilities of a GraphQL server: its types, the entry "
    "points for query, mutation and subscription operations, and its directives.\"\n"
    "type __Schema {\n"
    "  description: String\n"
    "  \"Every type this server knows.\"\n"
    "  types: [__Type!]!\n"
    "  \"The type that query operations are rooted at.\"\n"
    "  queryType: __Type!\n"
    "  \"The type that mutation operations are rooted at, if this server supports them.\"\n"
    "  mutationType: __Type\n"
    "  \"The type that subscription operations are rooted at, if this server supports them.\"\n"
    "  subscriptionType: __Type\n"
    "  \"Every directive this server knows.\"\n"
    "  directives: [__Directive!]!\n"
    "}\n"
    "\"Any type in the schema, or a list or non-null wrapper around one; `kind` says which, and "
    "which fields apply.\"\n"
    "type __Type {\n"
    "  kind: __TypeKind!\n"
    "  name: String\n"
    "  description: String\n"
    "  specifiedByURL: String\n"
    "  fields(includeDeprecated: Boolean = false): [__Field!]\n"
    "  interfaces: [__Type!]\n"
    "  possibleTypes: [__Type!]\n"
    "  enumValues(includeDeprecated: Boolean = false): [__EnumValue!]\n"
    "  inputFields(includeDeprecated: Boolean = false): [__InputValue!]\n"
    "  ofType: __Type\n"
    "  isOneOf: Boolean\n"
    "}\n"
    "\"The kinds of type in `__Type`.\"\n"
    "enum __TypeKind {\n"
    "  \"A leaf value: Int, String, a custom scalar...\"\n"
    "  SCALAR\n"
    "  \"Named fields, each with a type; `fields` and `interfaces` apply.\"\n"
    "  OBJECT\n"
    "  \"An abstract type of objects sharing fields; `fields` and `possibleTypes` apply.\"\n"
    "  INTERFACE\n"
    "  \"An abstract type that is one of several object types; `possibleTypes` applies.\"\n"
    "  UNION\n"
    "  \"One of a set of named values; `enumValues` applies.\"\n"
    "  ENUM\n"
    "  \"Named input fields; `inputFields` applies.\"\n"
    "  INPUT_OBJECT\n"
    "  \"A list of the type in `ofType`.\"\n"
    "  LIST\n"
    "  \"The type in `ofType`, never null.\"\n"
    "  NON_NULL\n"
    "}\n"
    "\"A field of an object or interface type: its arguments and its type.\"\n"
    "type __Field {\n"
    "  name: String!\n"
    "  description: String\n"
    "  args(includeDeprecated: Boolean = false): [__InputValue!]!\n"
    "  type: __Type!\n"
    "  isDeprecated: Boolean!\n"
    "  deprecationReason: String\n"
    "}\n"
    "\"An argument or an input object field, with its default value as a GraphQL literal.\"\n"
    "type __InputValue {\n"
    "  name: String!\n"
    "  description: String\n"
    "  type: __Type!\n"
    "  \"The default value, written in GraphQL syntax, or null when there is none.\"\n"
    "  defaultValue: String\n"
    "  isDeprecated: Boolean!\n"
    "  deprecationReason: String\n"
    "}\n"
    "\"One value of an enum type.\"\n"
    "type __EnumValue {\n"
    "  name: String!\n"
    "  description: String\n"
    "  isDeprecated: Boolean!\n"
    "  deprecationReason: String\n"
    "}\n"
    "\"A directive: where it may be used and which arguments it takes.\"\n"
    "type __Directive {\n"
    "  name: String!\n"
    "  description: String\n"
    "  isRepeatable: Boolean!\n"
    "  locations: [__DirectiveLocation!]!\n"
    "  args(includeDeprecated: Boolean = false): [__InputValue!]!\n"
    "}\n"
    "\"Where a directive may appear.\"\n"
    "enum __DirectiveLocation {\n"
    "  QUERY MUTATION SUBSCRIPTION FIELD FRAGMENT_DEFINITION FRAGMENT_SPREAD INLINE_FRAGMENT\n"
    "  VARIABLE_DEFINITION SCHEMA SCALAR OBJECT FIELD_DEFINITION ARGUMENT_DEFINITION INTERFACE\n"
    "  UNION ENUM ENUM_VALUE INPUT_OBJECT INPUT_FIELD_DEFINITION\n"
    "}\n"
    "\"Include this field or fragment only when `if` is true.\"\n"
    "directive @include(\"Included when true.\" if: Boolean!) "
    "on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n"
    "\"Skip this field or fragment when `if` is true.\"\n"
    "directive @skip(\"Skipped when true.\" if: Boolean!) "
    "on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n"
    "\"Marks an element of the schema as no longer supported.\"\n"
    "directive @deprecated(\"Why, and what to use instead (Markdown).\" "
    "reason: String = \"No longer supported\") "
    "on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE\n"
    "\"Links a custom scalar to the specification of its behaviour.\"\n"
    "directive @specifiedBy(\"The URL of the specification.\" url: String!) on SCALAR\n";

enum intro_field {
    I_SCHEMA_DESCRIPTION,
    I_SCHEMA_TYPES,
    I_SCHEMA_QUERY,
    I_SCHEMA_MUTATION,
    I_SCHEMA_SUBSCRIPTION,
    I_SCHEMA_DIRECTIVES,
    I_TYPE_KIND,
    I_TYPE_NAME,
    I_TYPE_DESCRIPTION,
    I_TYPE_SPECIFIED_BY,
    I_TYPE_FIELDS,
    I_TYPE_INTERFACES,
    I_TYPE_POSSIBLE,
    I_TYPE_ENUM_VALUES,
    I_TYPE_INPUT_FIELDS,
    I_TYPE_OF_TYPE,
    I_TYPE_IS_ONE_OF,
    I_FIELD_NAME,
    I_FIELD_DESCRIPTION,
    I_FIELD_ARGS,
    I_FIELD_TYPE,
    I_FIELD_IS_DEPRECATED,
    I_FIELD_DEPRECATION,
    I_INPUT_NAME,
    I_INPUT_DESCRIPTION,
    I_INPUT_TYPE,
    I_INPUT_DEFAULT,
    I_INPUT_IS_DEPRECATED,
    I_INPUT_DEPRECATION,
    I_ENUM_NAME,
    I_ENUM_DESCRIPTION,
    I_ENUM_IS_DEPRECATED,
    I_ENUM_DEPRECATION,
    I_DIR_NAME,
    I_DIR_DESCRIPTION,
    I_DIR_REPEATABLE,
    I_DIR_LOCATIONS,
    I_DIR_ARGS,
};

static const struct {
    const char *coord;
    enum intro_field f;
} bindings[] = {
    {"__Schema.description", I_SCHEMA_DESCRIPTION},
    {"__Schema.types", I_SCHEMA_TYPES},
    {"__Schema.queryType", I_SCHEMA_QUERY},
    {"__Schema.mutationType", I_SCHEMA_MUTATION},
    {"__Schema.subscriptionType", I_SCHEMA_SUBSCRIPTION},
    {"__Schema.directives", I_SCHEMA_DIRECTIVES},
    {"__Type.kind", I_TYPE_KIND},
    {"__Type.name", I_TYPE_NAME},
    {"__Type.description", I_TYPE_DESCRIPTION},
    {"__Type.specifiedByURL", I_TYPE_SPECIFIED_BY},
    {"__Type.fields", I_TYPE_FIELDS},
    {"__Type.interfaces", I_TYPE_INTERFACES},
    {"__Type.possibleTypes", I_TYPE_POSSIBLE},
    {"__Type.enumValues", I_TYPE_ENUM_VALUES},
    {"__Type.inputFields", I_TYPE_INPUT_FIELDS},
    {"__Type.ofType", I_TYPE_OF_TYPE},
    {"__Type.isOneOf", I_TYPE_IS_ONE_OF},
    {"__Field.name", I_FIELD_NAME},
    {"__Field.description", I_FIELD_DESCRIPTION},
    {"__Field.args", I_FIELD_ARGS},
    {"__Field.type", I_FIELD_TYPE},
    {"__Field.isDeprecated", I_FIELD_IS_DEPRECATED},
    {"__Field.deprecationReason", I_FIELD_DEPRECATION},
    {"__InputValue.name", I_INPUT_NAME},
    {"__InputValue.description", I_INPUT_DESCRIPTION},
    {"__InputValue.type", I_INPUT_TYPE},
    {"__InputValue.defaultValue", I_INPUT_DEFAULT},
    {"__InputValue.isDeprecated", I_INPUT_IS_DEPRECATED},
    {"__InputValue.deprecationReason", I_INPUT_DEPRECATION},
    {"__EnumValue.name", I_ENUM_NAME},
    {"__EnumValue.description", I_ENUM_DESCRIPTION},
    {"__EnumValue.isDeprecated", I_ENUM_IS_DEPRECATED},
    {"__EnumValue.deprecationReason", I_ENUM_DEPRECATION},
    {"__Directive.name", I_DIR_NAME},
    {"__Directive.description", I_DIR_DESCRIPTION},
    {"__Directive.isRepeatable", I_DIR_REPEATABLE},
    {"__Directive.locations", I_DIR_LOCATIONS},
    {"__Directive.args", I_DIR_ARGS},
};

static const char *const kind_names[] = {
    [GQL_SCALAR] = "SCALAR", [GQL_OBJECT] = "OBJECT",     [GQL_INTERFACE] = "INTERFACE",
    [GQL_UNION] = "UNION",   [GQL_ENUM] = "ENUM",         [GQL_INPUT_OBJECT] = "INPUT_OBJECT",
    [GQL_LIST] = "LIST",     [GQL_NON_NULL] = "NON_NULL",
};

static json_t *ptr(const void *p)
{
    return p ? json_integer((json_int_t)(intptr_t)p) : json_null();
}

static const void *unptr(json_t *v)
{
    return json_is_integer(v) ? (const void *)(intptr_t)json_integer_value(v) : NULL;
}

static json_t *str(const char *s)
{
    return s ? json_string(s) : json_null();
}

static bool include_deprecated(gql_call_t *c)
{
    return json_is_true(gql_call_arg(c, "includeDeprecated"));
}

static json_t *input_list(gql_call_t *c, const gql_input_value_t *ivs, uint32_t n)
{
    json_t *a = json_array();
    bool all = include_deprecated(c);
    for (uint32_t i = 0; a && i < n; i++)
        if (all || !ivs[i].deprecation) json_array_append_new(a, ptr(&ivs[i]));
    return a;
}

static void resolve(gql_call_t *c)
{
    enum intro_field f = (enum intro_field)(intptr_t)gql_call_udata(c);
    const gql_schema_t *s = gql_call_schema(c);
    json_t *parent = gql_call_parent(c);
    const gql_type_t *t = unptr(parent);
    const gql_field_def_t *fd = unptr(parent);
    const gql_input_value_t *iv = unptr(parent);
    const gql_enum_value_t *ev = unptr(parent);
    const gql_directive_def_t *dd = unptr(parent);
    json_t *out = NULL;
    switch (f) {
    case I_SCHEMA_DESCRIPTION:
        out = str(s->description);
        break;
    case I_SCHEMA_TYPES:
        out = json_array();
        for (uint32_t i = 0; out && i < s->ntypes; i++)
            if (s->types[i]->referenced) json_array_append_new(out, ptr(s->types[i]));
        break;
    case I_SCHEMA_QUERY:
        out = ptr(s->query);
        break;
    case I_SCHEMA_MUTATION:
        out = ptr(s->mutation);
        break;
    case I_SCHEMA_SUBSCRIPTION:
        out = ptr(s->subscription);
        break;
    case I_SCHEMA_DIRECTIVES:
        out = json_array();
        for (uint32_t i = 0; out && i < s->ndirectives; i++)
            json_array_append_new(out, ptr(s->directives[i]));
        break;
    case I_TYPE_KIND:
        out = json_string(kind_names[t->kind]);
        break;
    case I_TYPE_NAME:
        out = str(t->name);
        break;
    case I_TYPE_DESCRIPTION:
        out = str(t->description);
        break;
    case I_TYPE_SPECIFIED_BY:
        out = str(t->kind == GQL_SCALAR ? t->specified_by : NULL);
        break;
    case I_TYPE_FIELDS:
        if (t->kind != GQL_OBJECT && t->kind != GQL_INTERFACE) {
            out = json_null();
            break;
        }
        out = json_array();
        for (uint32_t i = 0; out && i < t->nfields; i++)
            if (include_deprecated(c) || !t->fields[i].deprecation)
                json_array_append_new(out, ptr(&t->fields[i]));
        break;
    case I_TYPE_INTERFACES:
        if (t->kind != GQL_OBJECT && t->kind != GQL_INTERFACE) {
            out = json_null();
            break;
        }
        out = json_array();
        for (uint32_t i = 0; out && i < t->ninterfaces; i++)
            json_array_append_new(out, ptr(t->interfaces[i]));
        break;
    case I_TYPE_POSSIBLE:
        if (!gql_is_abstract(t)) {
            out = json_null();
            break;
        }
        out = json_array();
        for (uint32_t i = 0; out && i < t->npossible; i++)
            json_array_append_new(out, ptr(t->possible[i]));
        break;
    case I_TYPE_ENUM_VALUES:
        if (t->kind != GQL_ENUM) {
            out = json_null();
            break;
        }
        out = json_array();
        for (uint32_t i = 0; out && i < t->nvalues; i++)
            if (include_deprecated(c) || !t->values[i].deprecation)
                json_array_append_new(out, ptr(&t->values[i]));
        break;
    case I_TYPE_INPUT_FIELDS:
        out = t->kind == GQL_INPUT_OBJECT ? input_list(c, t->inputs, t->ninputs) : json_null();
        break;
    case I_TYPE_OF_TYPE:
        out = ptr(t->of_type);
        break;
    case I_TYPE_IS_ONE_OF:
        out = t->kind == GQL_INPUT_OBJECT ? json_false() : json_null();
        break;
    case I_FIELD_NAME:
        out = json_string(fd->name);
        break;
    case I_FIELD_DESCRIPTION:
        out = str(fd->description);
        break;
    case I_FIELD_ARGS:
        out = input_list(c, fd->args, fd->nargs);
        break;
    case I_FIELD_TYPE:
        out = ptr(fd->type);
        break;
    case I_FIELD_IS_DEPRECATED:
        out = json_boolean(fd->deprecation != NULL);
        break;
    case I_FIELD_DEPRECATION:
        out = str(fd->deprecation);
        break;
    case I_INPUT_NAME:
        out = json_string(iv->name);
        break;
    case I_INPUT_DESCRIPTION:
        out = str(iv->description);
        break;
    case I_INPUT_TYPE:
        out = ptr(iv->type);
        break;
    case I_INPUT_DEFAULT:
        out = str(iv->defval_text);
        break;
    case I_INPUT_IS_DEPRECATED:
        out = json_boolean(iv->deprecation != NULL);
        break;
    case I_INPUT_DEPRECATION:
        out = str(iv->deprecation);
        break;
    case I_ENUM_NAME:
        out = json_string(ev->name);
        break;
    case I_ENUM_DESCRIPTION:
        out = str(ev->description);
        break;
    case I_ENUM_IS_DEPRECATED:
        out = json_boolean(ev->deprecation != NULL);
        break;
    case I_ENUM_DEPRECATION:
        out = str(ev->deprecation);
        break;
    case I_DIR_NAME:
        out = json_string(dd->name);
        break;
    case I_DIR_DESCRIPTION:
        out = str(dd->description);
        break;
    case I_DIR_REPEATABLE:
        out = json_boolean(dd->repeatable);
        break;
    case I_DIR_LOCATIONS:
        out = json_array();
        for (uint8_t i = 0; out && i < dd->nlocs; i++)
            json_array_append_new(out, json_string(gql_dir_loc_names[dd->loc_order[i]]));
        break;
    case I_DIR_ARGS:
        out = input_list(c, dd->args, dd->nargs);
        break;
    }
    gql_call_return(c, out);
}

int gql_introspection_bind(gql_schema_t *s)
{
    for (size_t i = 0; i < sizeof bindings / sizeof *bindings; i++) {
        int rc =
            gql_schema_set_resolver(s, bindings[i].coord, resolve, (void *)(intptr_t)bindings[i].f);
        if (rc < 0) return rc;
    }
    return 0;
}
