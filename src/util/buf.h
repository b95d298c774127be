/* buf.h - growable byte buffers, and refcounted immutable chunks shared across connections.
 *
 * buf_t owns its bytes (base may be NULL while cap is 0). Functions return 0 or RS_ENOMEM;
 * on RS_ENOMEM the buffer is unchanged. rbuf_t is the unit of shared output: a broadcast is
 * encoded once into an rbuf and every recipient holds a reference; the last rbuf_unref frees
 * it. Reference counts are atomic, so an rbuf may cross worker threads. */
#ifndef ROOST_UTIL_BUF_H
#define ROOST_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/span.h"

typedef struct buf {
    char *base;
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT ((buf_t){NULL, 0, 0})

/* Grow the storage for `extra` more bytes (the slow path of buf_reserve). */
int buf_grow(buf_t *b, size_t extra);

/* The appends run per byte of every message encoded: inline, so that the common case (room
 * left) is a compare and a copy. */

/* Make room for at least `extra` more bytes. */
static inline int buf_reserve(buf_t *b, size_t extra)
{
    return b->cap - b->len >= extra ? 0 : buf_grow(b, extra);
}

static inline int buf_append(buf_t *b, const void *data, size_t len)
{
    if (len == 0) return 0;
    int rc = buf_reserve(b, len);
    if (rc) return rc;
    memcpy(b->base + b->len, data, len);
    b->len += len;
    return 0;
}

static inline int buf_append_span(buf_t *b, span_t s)
{
    return buf_append(b, s.base, s.len);
}

static inline int buf_append_cstr(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

static inline int buf_append_byte(buf_t *b, char c)
{
    if (b->len == b->cap) {
        int rc = buf_grow(b, 1);
        if (rc) return rc;
    }
    b->base[b->len++] = c;
    return 0;
}

int buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vappendf(buf_t *b, const char *fmt, va_list ap);
/* Drop the first n bytes (n <= len), keeping the rest. */
void buf_consume(buf_t *b, size_t n);
/* Release the storage; the buffer is BUF_INIT afterwards. */
void buf_free(buf_t *b);
static inline span_t buf_span(const buf_t *b)
{
    return span_make(b->base, b->len);
}
/* Append NUL without counting it; returns base or NULL on ENOMEM. */
char *buf_cstr(buf_t *b);

typedef struct rbuf {
    uint32_t refs; /* atomic */
    uint32_t len;
    char data[];
} rbuf_t;

/* A new rbuf holding a copy of data, with one reference; NULL on ENOMEM. */
rbuf_t *rbuf_new(const void *data, size_t len);
/* A new rbuf with room for len bytes (contents undefined), one reference. */
rbuf_t *rbuf_alloc(size_t len);
rbuf_t *rbuf_ref(rbuf_t *r);
void rbuf_unref(rbuf_t *r);

#endif
