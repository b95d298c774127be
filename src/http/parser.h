/* parser.h - HTTP/1.1 request head parser and chunked body decoder: pure functions over bytes.
 *
 * No I/O, no allocation. The caller owns the buffer; every span in the result points into
 * it and is valid while those bytes are. */
#ifndef ROOST_HTTP_PARSER_H
#define ROOST_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "util/span.h"

#define HTTP_MAX_HEADERS 100          /* more -> 431 */
#define HTTP_MAX_LINE 8192            /* request line or one header line longer -> 431 (414 for the request line) */
#define HTTP_MAX_HEAD (64 * 1024)     /* whole head larger -> 431 */

typedef struct http_header {
    span_t name;  /* as sent (compare case-insensitively) */
    span_t value; /* surrounding whitespace removed */
} http_header_t;

enum http_body_kind { HTTP_BODY_NONE = 0, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

typedef struct http_request_head {
    span_t method;       /* "GET" */
    span_t target;       /* "/socket.io/?EIO=4&transport=polling" as sent */
    span_t path;         /* target up to '?', still percent-encoded */
    span_t query;        /* after '?', without it; base NULL when there is none */
    int minor_version;   /* 0 or 1 (HTTP/1.0 or HTTP/1.1) */
    size_t num_headers;
    http_header_t headers[HTTP_MAX_HEADERS];

    /* Derived from the headers by the parser: */
    enum http_body_kind body_kind;
    uint64_t content_length; /* valid when body_kind == HTTP_BODY_LENGTH */
    int keep_alive;          /* 1.1 default on unless "Connection: close"; 1.0 only with keep-alive */
    int upgrade;             /* "Connection" lists "upgrade" and an "Upgrade" header is present */
    int expect_continue;     /* "Expect: 100-continue" */
} http_request_head_t;

/* Parse a request head from buf[0..len).
 *
 * prev_len is how many bytes of this same head the caller already offered in an earlier call
 * that returned RS_EMORE (0 the first time): the parser only looks for the end of the head
 * in the new bytes, so feeding a head one byte at a time costs linear time overall.
 *
 * Returns the length of the head (bytes up to and including the blank line) on success,
 * with *out filled in; RS_EMORE (-2) if the head is not complete yet (call again with more
 * bytes); or RS_EPROTO (-1) with *status set to the HTTP status to answer before closing:
 *   400 malformed request line, header, or framing (both Content-Length and
 *       Transfer-Encoding, several differing Content-Length values, bad chunked coding name,
 *       bare CR, obs-fold, control characters, whitespace before a colon)
 *   414 request line over HTTP_MAX_LINE
 *   431 a header line over HTTP_MAX_LINE, more than HTTP_MAX_HEADERS headers, or a head over
 *       HTTP_MAX_HEAD (these are reported as soon as the limit is passed, even while
 *       incomplete)
 *   501 a Transfer-Encoding other than "chunked"
 *   505 an HTTP version other than 1.0 / 1.1
 * Leading empty lines before the request line are skipped (RFC 9112 2.2). */
int http_parse_request_head(const char *buf, size_t len, size_t prev_len, http_request_head_t *out,
                            int *status);

/* Find a header by name (case-insensitive); returns its value or SPAN_NULL (base NULL). */
span_t http_head_get(const http_request_head_t *h, const char *name);

/* Resumable decoder for a chunked body. Zero-initialise before the first call. */
typedef struct http_chunked {
    int state;
    uint64_t remaining; /* bytes left in the current chunk */
    size_t ext_len;     /* bytes of chunk extension/trailer line seen, capped */
} http_chunked_t;

/* Decode chunked data in place: reads buf[0..*len), moves the payload bytes to the front of
 * buf and sets *len to their count. *consumed is how many input bytes were used (the rest
 * belongs to the next request on the connection, once done).
 * Returns 1 when the final chunk and trailers are complete, 0 when more input is needed
 * (call again with the next bytes), or RS_EPROTO on malformed framing (answer 400 and close).
 * A chunk-size larger than 2^60 or a line over HTTP_MAX_LINE is malformed. */
int http_chunked_decode(http_chunked_t *st, char *buf, size_t *len, size_t *consumed);

/* Decode %XX escapes of a path into out (cap bytes). Returns the decoded length, or
 * RS_EPROTO for a malformed escape or a decoded NUL, or RS_ETOOBIG. */
int http_percent_decode(span_t in, char *out, size_t cap);

/* Find the value of key in an application/x-www-form-urlencoded query string ("EIO=4&t=x").
 * Returns the raw (still encoded) value, SPAN_NULL when absent; "k" alone gives an empty,
 * non-NULL span. */
span_t http_query_get(span_t query, const char *key);

#endif
