/* parser.h - GraphQL documents (executable and type-system definitions) to an AST (ast.h).
 *
 * A recursive-descent parser whose recursion is bounded: every nesting construct (selection
 * set, list or object value, list type) counts against a depth limit, checked before
 * descending. Input size and token count are capped as well, so the work and memory spent on
 * a hostile document are bounded by the limits, not by the document. */
#ifndef ROOST_GQL_PARSER_H
#define ROOST_GQL_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "gql/arena.h"
#include "gql/ast.h"

#define GQL_PARSE_HARD_DEPTH 128 /* nesting never goes deeper than this, whatever opts say */

typedef struct gql_parse_opts {
    size_t max_bytes;    /* longer source -> RS_ETOOBIG; 0 = no cap */
    uint32_t max_tokens; /* more tokens -> RS_ETOOBIG; 0 = no cap */
    uint32_t max_depth;  /* deeper nesting -> RS_ETOOBIG; 0 or larger = GQL_PARSE_HARD_DEPTH */
} gql_parse_opts_t;

typedef struct gql_parse_error {
    char message[256]; /* "Syntax Error: Expected Name, found <EOF>." */
    gql_off_t loc;     /* byte offset the message refers to */
} gql_parse_error_t;

/* Parse src[0..len) into *out, allocating every node from arena (src must outlive the tree).
 * Returns 0; RS_EPROTO for a syntax error, or RS_ETOOBIG when a limit in opts (may be NULL)
 * was passed, with *err filled in either way (report it to the client with its location);
 * RS_ENOMEM when the arena ran out (report the request as too large). */
int gql_parse(gql_arena_t *arena, const char *src, size_t len, const gql_parse_opts_t *opts,
              gql_ast_doc_t **out, gql_parse_error_t *err);

#endif
