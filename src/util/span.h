/* span.h - a borrowed run of bytes: {base, len}, never NUL-terminated by contract.
 *
 * Every parser in roost takes and returns spans into the caller's buffer; a span owns
 * nothing and is valid only as long as the bytes it points into. */
#ifndef ROOST_UTIL_SPAN_H
#define ROOST_UTIL_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct span {
    const char *base;
    size_t len;
} span_t;

#define SPAN_LIT(s) ((span_t){(s), sizeof(s) - 1})
#define SPAN_NULL ((span_t){NULL, 0})

static inline span_t span_make(const char *base, size_t len)
{
    return (span_t){base, len};
}

static inline span_t span_cstr(const char *s)
{
    return (span_t){s, s ? strlen(s) : 0};
}

static inline bool span_eq(span_t a, span_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

static inline bool span_eq_cstr(span_t a, const char *s)
{
    return span_eq(a, span_cstr(s));
}

/* ASCII case-insensitive comparison (header names, tokens). */
static inline bool span_ieq(span_t a, span_t b)
{
    return a.len == b.len && (a.len == 0 || strncasecmp(a.base, b.base, a.len) == 0);
}

static inline bool span_ieq_cstr(span_t a, const char *s)
{
    return span_ieq(a, span_cstr(s));
}

static inline bool span_starts_with(span_t a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && memcmp(a.base, prefix, n) == 0;
}

/* Strip leading and trailing spaces and tabs (HTTP optional whitespace). */
static inline span_t span_trim(span_t a)
{
    while (a.len && (a.base[0] == ' ' || a.base[0] == '\t')) a.base++, a.len--;
    while (a.len && (a.base[a.len - 1] == ' ' || a.base[a.len - 1] == '\t')) a.len--;
    return a;
}

/* Split at the first occurrence of sep: *head gets what precedes it, the return value what
 * follows. When sep is absent, *head is the whole span and the result has base NULL. */
static inline span_t span_split(span_t a, char sep, span_t *head)
{
    const char *p = a.len ? memchr(a.base, sep, a.len) : NULL;
    if (!p) {
        *head = a;
        return SPAN_NULL;
    }
    *head = span_make(a.base, (size_t)(p - a.base));
    return span_make(p + 1, a.len - (size_t)(p - a.base) - 1);
}

/* Does the comma-separated token list contain tok (case-insensitive)? ("Upgrade, keep-alive") */
static inline bool span_list_has_token(span_t list, const char *tok)
{
    while (list.base) {
        span_t item;
        list = span_split(list, ',', &item);
        if (span_ieq_cstr(span_trim(item), tok)) return true;
    }
    return false;
}

#endif
