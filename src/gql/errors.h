/* errors.h - the "errors" list of a GraphQL response, and the JSON writing of a response.
 * Internal to gql/. Errors live in the request arena. */
#ifndef ROOST_GQL_ERRORS_H
#define ROOST_GQL_ERRORS_H

#include <jansson.h>
#include <stdint.h>

#include "gql/arena.h"
#include "gql/ast.h"
#include "util/buf.h"

typedef struct gql_path_seg {
    const char *key; /* NULL for a list index */
    size_t len;
    uint32_t index;
} gql_path_seg_t;

typedef struct gql_error {
    char *message;
    gql_off_t *locs;
    uint32_t nlocs;
    gql_path_seg_t *path; /* NULL when the error has no path */
    uint32_t npath;
    json_t *extensions; /* owned; NULL when none */
    struct gql_error *next;
} gql_error_t;

typedef struct gql_errors {
    gql_arena_t *arena;
    gql_error_t *head, *tail;
    uint32_t count;
} gql_errors_t;

/* Append an error with a formatted message and the given locations (copied). Returns the
 * error (to attach a path or extensions) or NULL on ENOMEM. */
gql_error_t *gql_errors_add(gql_errors_t *e, const gql_off_t *locs, uint32_t nlocs, const char *fmt,
                            ...) __attribute__((format(printf, 4, 5)));
gql_error_t *gql_errors_add_msg(gql_errors_t *e, const gql_off_t *locs, uint32_t nlocs,
                                const char *msg, size_t len);
/* Release the extensions objects (the rest goes with the arena). */
void gql_errors_release(gql_errors_t *e);

/* Append v as compact JSON (numbers formatted like JavaScript, strings with only the
 * mandatory escapes). Depth-capped: deeper structures are written as null. */
int gql_json_write(const json_t *v, buf_t *out);
/* Append s[0..len) as a JSON string. */
int gql_json_write_string(const char *s, size_t len, buf_t *out);
/* Append "errors":[...] (without braces) using src for line/column. */
int gql_errors_write(const gql_errors_t *e, const char *src, size_t srclen, buf_t *out);

#endif
