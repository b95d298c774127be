/* value.h - input and output values: literals and variables to json (input coercion, spec
 * 5.6 / 6.4), leaf results to response values (6.4.3 serialization), and printing values as
 * GraphQL literals or in error messages. Internal to gql/. */
#ifndef ROOST_GQL_VALUE_H
#define ROOST_GQL_VALUE_H

#include <jansson.h>

#include "gql/ast.h"
#include "gql/schema.h"
#include "util/buf.h"

/* The shortest decimal that reads back as d, written the way JavaScript's String(d) does
 * ("1.5", "100", "1e+21", "1e-7"); out holds at least 32 bytes. Returns the length. */
size_t gql_format_double(double d, char *out);

/* Append v as graphql-js's inspect() would show it in a message: "abc" (JSON string),
 * 12, true, null, [1, 2], { a: 1 }. */
int gql_inspect_json(const json_t *v, buf_t *out);
/* Append the AST value as GraphQL source: "abc", 12, ENUM, $var, [1, 2], {a: 1}. */
int gql_ast_value_print(const gql_ast_value_t *v, buf_t *out);
/* Append s as a GraphQL string literal with graphql-js's escapes. */
int gql_print_string(const char *s, size_t len, buf_t *out);

/* A leaf type's literal to its value: 0 with *out (new ref); negative with the reason
 * appended to err ("Int cannot represent non-integer value: 1.5"). Variables are not
 * accepted here (the caller resolves them). */
int gql_leaf_parse_literal(const gql_type_t *leaf, const gql_ast_value_t *v, json_t **out,
                           buf_t *err);

#define GQL_COERCE_MAX_DEPTH 64 /* nesting of input values from json */
#define GQL_VALUE_ABSENT     1  /* a variable without a value: treat the argument as not given */

/* Literal (with variables from vars, an object, or NULL in constant contexts) to the value
 * of type; the literal is assumed to have passed validation. Returns 0 with *out (new ref),
 * GQL_VALUE_ABSENT when v is a variable that has no value, or RS_EPROTO (the value cannot be
 * coerced; err says why) / RS_ENOMEM. */
int gql_value_from_ast(const gql_type_t *type, const gql_ast_value_t *v, json_t *vars, json_t **out,
                       buf_t *err);

/* Error sink for gql_value_coerce: path is the location inside the value (".a[0]", "" at
 * the top), invalid the offending value, msg the reason. */
typedef void (*gql_coerce_err_fn)(void *arg, const char *path, const json_t *invalid,
                                  const char *msg);

/* Coerce a json input (a variable's value) to type, reporting every problem to onerr.
 * Returns 0 with *out (new ref), RS_EPROTO after at least one onerr, or RS_ENOMEM. */
int gql_value_coerce(const gql_type_t *type, json_t *in, json_t **out, gql_coerce_err_fn onerr,
                     void *arg);

/* Append v (a value of type) as a GraphQL literal, for introspection's defaultValue. */
int gql_value_print(const gql_type_t *type, const json_t *v, buf_t *out);

/* A resolver's value for a leaf type to the response value: 0 with *out (new ref), or
 * RS_EPROTO with the reason in err ("Int cannot represent non-integer value: 1.5"). */
int gql_leaf_serialize(const gql_type_t *leaf, json_t *in, json_t **out, buf_t *err);

/* Append graphql-js's suggestion text (" Did you mean \"a\", \"b\", or \"c\"?", up to five,
 * closest first) for the names close to input; nothing when none is close. sub, when not
 * NULL, goes after "Did you mean " ("the enum value"). */
int gql_did_you_mean(span_t input, const char *const *names, size_t n, const char *sub, buf_t *out);
#endif
