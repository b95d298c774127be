/* json.h - JSON glue over jansson: a strict, non-recursive validator with limits, parsing that
 * runs the validator before jansson sees a byte, and a compact serializer that writes exactly
 * what JavaScript's JSON.stringify writes.
 *
 * Why a validator of our own: jansson's parser recurses once per nesting level, so a hostile
 * `[[[[...` must be refused before jansson is called. The validator is also the fast path for
 * Socket.IO: it checks a payload, finds the event name and the raw argument text, and visits
 * object members (binary placeholders), all without allocating - so an echo or a broadcast can
 * forward the client's JSON text unparsed.
 *
 * Why a serializer of our own: jansson prints 0.1 as 0.10000000000000001, 1.0 as 1.0 and
 * "\u001F" in upper case; JSON.stringify prints 0.1, 1 and "\u001f". Peers compare bytes.
 *
 * What the validator accepts is what jansson accepts with JSON_DECODE_ANY | JSON_ALLOW_NUL
 * (RFC 8259 plus "\u0000" in strings), so a text that passes rs_json_scan always parses -
 * with three deliberate refusals where JavaScript is more lenient: lone UTF-16 surrogate escapes
 * ("\ud800"), "\u0000" inside an object key, and numbers beyond the double range (1e400) are
 * RS_EPROTO. Integer literals beyond 64 bits parse as reals, as in JavaScript.
 *
 * Names carry the rs_ prefix because json_ is jansson's namespace. */
#ifndef ROOST_UTIL_JSON_H
#define ROOST_UTIL_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/span.h"

/* The deepest nesting any caller may configure; the validator keeps one byte per level. */
#define RS_JSON_DEPTH_HARD_MAX 128
/* Defaults: 32 levels, 1 MiB of text. */
#define RS_JSON_DEPTH_DEFAULT 32
#define RS_JSON_SIZE_DEFAULT  ((size_t)1 << 20)

typedef enum rs_json_kind {
    RS_JSON_NONE = 0,
    RS_JSON_OBJECT,
    RS_JSON_ARRAY,
    RS_JSON_STRING,
    RS_JSON_NUMBER,
    RS_JSON_TRUE,
    RS_JSON_FALSE,
    RS_JSON_NULL,
} rs_json_kind_t;

typedef struct rs_json_limits {
    size_t max_size;    /* bytes of text; 0 means no limit */
    unsigned max_depth; /* nesting of arrays and objects; 0 means RS_JSON_DEPTH_DEFAULT; values
                           above RS_JSON_DEPTH_HARD_MAX are clamped to it */
} rs_json_limits_t;

#define RS_JSON_LIMITS_DEFAULT ((rs_json_limits_t){RS_JSON_SIZE_DEFAULT, RS_JSON_DEPTH_DEFAULT})

/* Optional callbacks while scanning; any may be NULL. depth is the nesting level of the object
 * concerned (1 for a top-level object). A callback returns 0 to go on or a negative rs_err code,
 * which stops the scan and becomes its result.
 *
 * member fires once per object member: for a scalar value after the value was validated (value
 * is its exact text: a string with its quotes, a number, true/false/null), for an array or
 * object value when it opens (value is SPAN_NULL) - its own members are reported after that.
 * key is the key's text between the quotes, still escaped when key_escaped is non-zero (compare
 * it with rs_json_string_eq). Spans point into the scanned text. */
typedef struct rs_json_visitor {
    void *ctx;
    int (*object_begin)(void *ctx, unsigned depth);
    int (*member)(void *ctx, unsigned depth, span_t key, int key_escaped, rs_json_kind_t kind,
                  span_t value);
    int (*object_end)(void *ctx, unsigned depth);
} rs_json_visitor_t;

/* What rs_json_scan learned about the top-level value. Spans point into the scanned text. */
typedef struct rs_json_info {
    rs_json_kind_t kind; /* kind of the top-level value */
    span_t value;        /* the top-level value without surrounding whitespace */
    /* Only for a top-level array: */
    size_t count;              /* number of elements */
    span_t inner;              /* text between the brackets, whitespace kept */
    rs_json_kind_t first_kind; /* kind of element 0 (RS_JSON_NONE when empty) */
    span_t first;              /* text of element 0 (a string keeps its quotes) */
    int first_escaped;         /* element 0 is a string containing a backslash escape */
    span_t rest;               /* text after the comma that follows element 0, up to the closing
                                  bracket, whitespace kept; empty when count <= 1 */
} rs_json_info_t;

/* Field by field rather than memset: this runs for every packet, and a memset of this size
 * compiles to `rep stos`, whose start-up cost showed in the echo profile. */
static inline void rs_json_info_clear(rs_json_info_t *i)
{
    i->kind = RS_JSON_NONE;
    i->value = i->inner = i->first = i->rest = SPAN_NULL;
    i->count = 0;
    i->first_kind = RS_JSON_NONE;
    i->first_escaped = 0;
}

/* Validate text as one JSON value (surrounding whitespace allowed), without allocating and in
 * linear time. lim may be NULL (defaults), vis and info may be NULL.
 * Returns 0 when valid; RS_ETOOBIG when text exceeds max_size or nests deeper than max_depth;
 * RS_EPROTO for anything else that is not JSON (syntax, invalid UTF-8, control characters in a
 * string, bad or lone-surrogate escapes, numbers beyond the double range); or the first negative
 * value a visitor callback returned. On failure *info is unspecified. */
int rs_json_scan(span_t text, const rs_json_limits_t *lim, const rs_json_visitor_t *vis,
                 rs_json_info_t *info);

/* Parse text into a new jansson value after rs_json_scan accepted it. *out receives one reference
 * the caller must json_decref. Strings may contain NUL (use json_string_length).
 * Returns 0, RS_ETOOBIG or RS_EPROTO as rs_json_scan does, or RS_ENOMEM; *out is NULL on error. */
int rs_json_parse(span_t text, const rs_json_limits_t *lim, json_t **out);

/* Append v as JSON.stringify(v) would: compact, keys in insertion order, numbers in the shortest
 * form that reads back to the same double ("1", "0.1", "1e+21"; integers beyond 2^53 as the
 * nearest double, "288888888888845700"), NaN and infinities as null,
 * strings escaped exactly as ECMAScript does (only '"', '\\' and control characters; other bytes,
 * including non-ASCII, verbatim and not re-validated). Returns 0; RS_EINVAL when v is NULL or
 * nests deeper than RS_JSON_DEPTH_HARD_MAX (a bug in the caller's data); RS_ENOMEM. On error
 * out->len is restored. */
int rs_json_append(buf_t *out, const json_t *v);

/* Append s as a quoted JSON string, escaped as rs_json_append does. 0 or RS_ENOMEM. */
int rs_json_append_string(buf_t *out, span_t s);

/* Append a number as JavaScript's Number.prototype.toString writes it (null for NaN and the
 * infinities, "0" for -0). 0 or RS_ENOMEM. */
int rs_json_append_number(buf_t *out, double v);

/* Decode the text between the quotes of a string that rs_json_scan accepted (escapes resolved,
 * surrogate pairs joined into UTF-8) and append the bytes to out. Returns 0, RS_EPROTO when the
 * text is not a valid string body, RS_ENOMEM. */
int rs_json_string_decode(span_t inner, buf_t *out);

/* Does the string body `inner` (as rs_json_scan reports keys) decode to exactly lit? escaped
 * says whether it may hold escapes; when zero, this is a plain byte comparison. Never allocates. */
int rs_json_string_eq(span_t inner, int escaped, span_t lit);

#endif
