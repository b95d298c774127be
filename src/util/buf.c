#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/err.h"

int buf_grow(buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra) return 0;
    if (extra > SIZE_MAX / 2 - b->len) return RS_ENOMEM;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->base, cap);
    if (!p) return RS_ENOMEM;
    b->base = p;
    b->cap = cap;
    return 0;
}

int buf_vappendf(buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0) return RS_EINVAL;
    if ((size_t)n < sizeof small) return buf_append(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n + 1);
    if (rc) return rc;
    vsnprintf(b->base + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_appendf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->base, b->base + n, b->len - n);
    b->len -= n;
}

void buf_free(buf_t *b)
{
    free(b->base);
    *b = BUF_INIT;
}

char *buf_cstr(buf_t *b)
{
    if (buf_reserve(b, 1)) return NULL;
    b->base[b->len] = '\0';
    return b->base;
}

rbuf_t *rbuf_alloc(size_t len)
{
    if (len > UINT32_MAX) return NULL;
    rbuf_t *r = malloc(sizeof *r + len);
    if (!r) return NULL;
    r->refs = 1;
    r->len = (uint32_t)len;
    return r;
}

rbuf_t *rbuf_new(const void *data, size_t len)
{
    rbuf_t *r = rbuf_alloc(len);
    if (r && len) memcpy(r->data, data, len);
    return r;
}

rbuf_t *rbuf_ref(rbuf_t *r)
{
    __atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
    return r;
}

void rbuf_unref(rbuf_t *r)
{
    if (r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0) free(r);
}
