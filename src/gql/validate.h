/* validate.h - the spec's validation rules (section 5) for an executable document.
 * Internal to gql/. */
#ifndef ROOST_GQL_VALIDATE_H
#define ROOST_GQL_VALIDATE_H

#include "gql/arena.h"
#include "gql/ast.h"
#include "gql/errors.h"
#include "gql/schema.h"

#define GQL_MAX_VALIDATION_ERRORS 100

/* Check doc against s, appending each problem to errs with graphql-js's wording and
 * locations; after GQL_MAX_VALIDATION_ERRORS it stops with "Too many validation errors".
 * Scratch data goes to arena. Returns the number of errors added (0 = valid) or RS_ENOMEM.
 * Work is bounded on its own (recursion caps, a budget for the quadratic field-merging
 * rule); the request pipeline also caps fields, depth and fragment nesting before calling. */
int gql_validate(const gql_schema_t *s, const gql_ast_doc_t *doc, gql_arena_t *arena,
                 gql_errors_t *errs);

#endif
