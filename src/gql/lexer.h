/* lexer.h - GraphQL lexical tokens (spec October 2021, section 2.1) over a byte span.
 *
 * Pure: no I/O, no globals. The lexer reads UTF-8 source, skips ignored tokens (white space,
 * line terminators, commas, comments, a byte order mark) and hands out one token at a time.
 * String and block string values are decoded (escapes, surrogate pairs, the block string
 * indentation algorithm) into the caller's arena; every other token's value points into the
 * source. Errors carry a graphql-js style message ("Syntax Error: Unterminated string.") and
 * the byte offset they refer to; gql_source_location turns an offset into line and column. */
#ifndef ROOST_GQL_LEXER_H
#define ROOST_GQL_LEXER_H

#include <stddef.h>
#include <stdint.h>

#include "gql/arena.h"

enum gql_tok_kind {
    GQL_TOK_SOF = 0,
    GQL_TOK_EOF,
    GQL_TOK_BANG,
    GQL_TOK_DOLLAR,
    GQL_TOK_AMP,
    GQL_TOK_PAREN_L,
    GQL_TOK_PAREN_R,
    GQL_TOK_SPREAD,
    GQL_TOK_COLON,
    GQL_TOK_EQUALS,
    GQL_TOK_AT,
    GQL_TOK_BRACKET_L,
    GQL_TOK_BRACKET_R,
    GQL_TOK_BRACE_L,
    GQL_TOK_PIPE,
    GQL_TOK_BRACE_R,
    GQL_TOK_NAME,
    GQL_TOK_INT,
    GQL_TOK_FLOAT,
    GQL_TOK_STRING,
    GQL_TOK_BLOCK_STRING,
};

typedef struct gql_token {
    enum gql_tok_kind kind;
    uint32_t start; /* byte offset of the token's first byte */
    uint32_t end;   /* byte offset just past it */
    /* NAME, INT, FLOAT: the lexeme in the source. STRING, BLOCK_STRING: the decoded value in
     * the arena, NUL-terminated (it may also contain NUL bytes: use len). */
    const char *value;
    size_t len;
} gql_token_t;

#define GQL_LEXER_ERR_MAX 256

typedef struct gql_lexer {
    const char *src;
    size_t len; /* at most UINT32_MAX - 1 */
    size_t pos; /* where the next token starts looking */
    gql_arena_t *arena;
    gql_token_t tok;  /* the current token (GQL_TOK_SOF before the first gql_lexer_next) */
    uint32_t ntokens; /* tokens produced so far, excluding EOF */
    uint32_t err_pos; /* on error: byte offset the message refers to */
    char err[GQL_LEXER_ERR_MAX]; /* on error: "Syntax Error: ..." */
} gql_lexer_t;

/* Start lexing src[0..len) (the caller keeps it alive). Decoded strings go to arena. */
void gql_lexer_init(gql_lexer_t *lx, const char *src, size_t len, gql_arena_t *arena);

/* Advance to the next token (lx->tok); at the end of input that is GQL_TOK_EOF, and asking
 * again keeps returning EOF. Returns 0; RS_EPROTO for a lexical error (lx->err and
 * lx->err_pos describe it; the lexer must not be used further); RS_ENOMEM when the arena is
 * exhausted (the caller reports the request as too large). */
int gql_lexer_next(gql_lexer_t *lx);

/* "Name", "Int", "<EOF>", "\"{\"" ...: how graphql-js names a token kind in messages. */
const char *gql_tok_kind_desc(enum gql_tok_kind kind);

/* 1-based line and column of byte offset off in src (line terminators \n, \r\n, \r;
 * the column counts UTF-16 code units, like graphql-js). */
void gql_source_location(const char *src, size_t len, uint32_t off, uint32_t *line,
                         uint32_t *column);

/* Decode one UTF-8 scalar value at s[0..n): returns its length (1-4) and sets *cp, or 0 for
 * an invalid, overlong, surrogate or truncated sequence. */
int gql_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
