/* parser.h - HTTP/1.1 request head parser and chunked body decoder: pure functions over bytes.
 *
 * No I/O, no allocation, no globals. The caller owns the buffer; every span in the result
 * points into it and is valid while those bytes are (the one exception is noted at `path`).
 *
 * The parser is deliberately strict, because every leniency is a request-smuggling or
 * desync risk when roost sits behind a proxy: lines must end in CRLF (a bare LF or a bare CR
 * is 400), obs-fold is 400, whitespace before a header colon is 400, and the body framing
 * headers (Content-Length, Transfer-Encoding) must be unambiguous. */
#ifndef ROOST_HTTP_PARSER_H
#define ROOST_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "util/span.h"

/* Limits. Line lengths exclude the CRLF. */
#define HTTP_MAX_HEADERS        100         /* more -> 431 */
#define HTTP_MAX_LINE           8192        /* longer request line -> 414, header line -> 431 */
#define HTTP_MAX_HEAD           (64 * 1024) /* whole head larger -> 431 */
#define HTTP_MAX_LEADING_CRLF   8           /* empty lines before the request line; more -> 400 */
#define HTTP_MAX_CONTENT_LENGTH (UINT64_C(1) << 53) /* a larger Content-Length -> 400 */

typedef struct http_header {
    span_t name;  /* as sent (compare case-insensitively) */
    span_t value; /* surrounding whitespace removed */
} http_header_t;

enum http_body_kind { HTTP_BODY_NONE = 0, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

typedef struct http_request_head {
    span_t method;     /* "GET": a token, case-sensitive */
    span_t target;     /* "/socket.io/?EIO=4&transport=polling" as sent */
    span_t path;       /* target up to '?', still percent-encoded. For the absolute form
                        * ("http://host/p?q") it is the "/p" part, and a static "/" when the
                        * URI has no path; for "OPTIONS *" it is "*". */
    span_t query;      /* after '?', without it; base NULL when there is none */
    int minor_version; /* 0 or 1 (HTTP/1.0 or HTTP/1.1) */
    size_t num_headers;
    http_header_t headers[HTTP_MAX_HEADERS];

    /* Derived from the headers by the parser: */
    enum http_body_kind body_kind;
    uint64_t content_length; /* valid when body_kind == HTTP_BODY_LENGTH (may be 0) */
    int keep_alive;      /* 1.1 default on unless "Connection: close"; 1.0 only with keep-alive */
    int upgrade;         /* 1.1, "Connection" lists "upgrade" and an "Upgrade" header exists */
    int expect_continue; /* 1.1 and "Expect: 100-continue" */
} http_request_head_t;

/* Parse a request head from buf[0..len). buf may hold more than the head (a body, or the next
 * pipelined request); only the head is looked at.
 *
 * prev_len is how many bytes of this same buffer the caller already offered in an earlier
 * call that returned RS_EMORE (0 the first time); the bytes before prev_len must not have
 * changed. The parser looks for the end of the head only in the new bytes, so a call costs
 * O(new bytes + length of the unfinished line, at most HTTP_MAX_LINE); a call whose new
 * bytes complete a line also recounts the complete lines (O(len)), which can happen at most
 * HTTP_MAX_HEADERS + 2 times before the head completes or is refused. prev_len > len is
 * treated as 0.
 *
 * Returns the length of the head (bytes up to and including the blank line, counting any
 * leading empty lines) on success, with *out filled in; RS_EMORE (-2) if the head is not
 * complete yet (*out is unspecified; call again with more bytes); or RS_EPROTO (-1) with
 * *status set to the HTTP status to answer before closing:
 *   400 malformed request line, header, or framing (both Content-Length and
 *       Transfer-Encoding, several differing Content-Length values, a Content-Length that
 *       is not all digits or exceeds HTTP_MAX_CONTENT_LENGTH, a malformed Transfer-Encoding
 *       list, "chunked" not last or repeated, Transfer-Encoding in an HTTP/1.0 request,
 *       missing Host in HTTP/1.1, more than one Host, bare CR or bare LF, obs-fold, control
 *       characters, whitespace before a colon, a target that is neither origin-form, "*"
 *       with OPTIONS, nor absolute http(s) form, more than HTTP_MAX_LEADING_CRLF leading
 *       empty lines)
 *   414 request line over HTTP_MAX_LINE bytes (CRLF not counted)
 *   431 a header line over HTTP_MAX_LINE bytes (CRLF not counted), more than
 *       HTTP_MAX_HEADERS headers, or a head over HTTP_MAX_HEAD bytes
 *   501 a Transfer-Encoding other than "chunked" (e.g. "gzip, chunked")
 *   505 an HTTP version other than 1.0 / 1.1 ("HTTP/d.d" shaped; anything else is 400)
 * 414 and 431 are reported as soon as the limit is passed, even while the head is incomplete,
 * and take precedence over syntax errors elsewhere in the head, so the answer does not
 * depend on how the bytes were split across calls. Bare CR / bare LF are reported as soon as
 * seen; other syntax errors once the head is complete.
 * Leading empty lines before the request line are skipped (RFC 9112 2.2). status may be
 * NULL. */
int http_parse_request_head(const char *buf, size_t len, size_t prev_len, http_request_head_t *out,
                            int *status);

/* Find a header by name (case-insensitive); returns the first one's value or SPAN_NULL
 * (base NULL). */
span_t http_head_get(const http_request_head_t *h, const char *name);

/* Resumable decoder for a chunked body. Zero-initialise before the first call. */
typedef struct http_chunked {
    int state;
    uint64_t remaining; /* bytes left in the current chunk; in the trailer section, trailer
                         * bytes seen so far (capped at HTTP_MAX_HEAD) */
    size_t ext_len;     /* bytes of the current chunk-size or trailer line seen, capped */
} http_chunked_t;

/* Decode chunked data in place: reads buf[0..*len), moves the payload bytes to the front of
 * buf and sets *len to their count. *consumed is how many input bytes were used (the rest
 * belongs to the next request on the connection, once done). Input may be split anywhere.
 * Returns 1 when the final chunk and trailers are complete (*consumed stops right after the
 * final CRLF; calling again returns 1 and consumes nothing), 0 when more input is needed
 * (all input consumed; call again with the next bytes), or RS_EPROTO on malformed framing
 * (answer 400 and close; further calls keep failing).
 * Malformed: a chunk-size with no hex digit or more than 15 (so sizes stay below 2^60),
 * anything but SP/HTAB/';' after the size, control characters in an extension or trailer,
 * a missing CRLF after a chunk's data, bare CR or LF, a chunk-size line or trailer line
 * over HTTP_MAX_LINE, trailers over HTTP_MAX_HEAD in total. Extensions and trailers are
 * skipped. The decoder does not cap the body: the caller adds up *len against its limit. */
int http_chunked_decode(http_chunked_t *st, char *buf, size_t *len, size_t *consumed);

/* Decode %XX escapes of a path into out (cap bytes; not NUL-terminated, '+' is left as is).
 * Returns the decoded length, or RS_EPROTO for a malformed escape or a NUL (raw or decoded),
 * or RS_ETOOBIG when the result does not fit in cap (or the input is over INT_MAX). */
int http_percent_decode(span_t in, char *out, size_t cap);

/* Find the value of key in an application/x-www-form-urlencoded query string ("EIO=4&t=x").
 * Keys are compared raw (case-sensitive, not decoded); the first match wins.
 * Returns the raw (still encoded) value, SPAN_NULL when absent (or key is NULL or empty);
 * "k" alone gives an empty, non-NULL span. */
span_t http_query_get(span_t query, const char *key);

/* Find a cookie's value in one Cookie header value ("a=1; b=2"). Returns the raw value,
 * SPAN_NULL when absent. */
span_t http_cookie_get(span_t header_value, const char *name);

#endif
