#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gql/errors.h"
#include "gql/lexer.h"
#include "gql/value.h"
#include "util/err.h"

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0) return rc_;                                                                   \
    } while (0)

gql_error_t *gql_errors_add_msg(gql_errors_t *e, const gql_off_t *locs, uint32_t nlocs,
                                const char *msg, size_t len)
{
    gql_error_t *err = gql_arena_alloc(e->arena, sizeof *err);
    if (!err) return NULL;
    err->message = gql_arena_strndup(e->arena, msg, len);
    if (!err->message) return NULL;
    if (nlocs) {
        err->locs = gql_arena_alloc(e->arena, nlocs * sizeof *locs);
        if (!err->locs) return NULL;
        memcpy(err->locs, locs, nlocs * sizeof *locs);
        err->nlocs = nlocs;
    }
    if (e->tail)
        e->tail->next = err;
    else
        e->head = err;
    e->tail = err;
    e->count++;
    return err;
}

gql_error_t *gql_errors_add(gql_errors_t *e, const gql_off_t *locs, uint32_t nlocs, const char *fmt,
                            ...)
{
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vappendf(&b, fmt, ap);
    va_end(ap);
    gql_error_t *err = rc ? NULL : gql_errors_add_msg(e, locs, nlocs, b.base ? b.base : "", b.len);
    buf_free(&b);
    return err;
}

void gql_errors_release(gql_errors_t *e)
{
    for (gql_error_t *err = e->head; err; err = err->next) {
        json_decref(err->extensions);
        err->extensions = NULL;
    }
}

int gql_json_write_string(const char *s, size_t len, buf_t *out)
{
    TRY(buf_reserve(out, len + 2));
    out->base[out->len++] = '"';
    size_t chunk = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            /* Strings from resolvers are not trusted to be UTF-8: keep the output valid. */
            uint32_t cp;
            int l = gql_utf8_decode((const unsigned char *)s + i, len - i, &cp);
            if (l) {
                i += (size_t)l - 1;
                continue;
            }
            TRY(buf_append(out, s + chunk, i - chunk));
            TRY(buf_append(out, "\\ufffd", 6));
            chunk = i + 1;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        TRY(buf_append(out, s + chunk, i - chunk));
        chunk = i + 1;
        char esc[8];
        switch (c) {
        case '"':
            TRY(buf_append(out, "\\\"", 2));
            break;
        case '\\':
            TRY(buf_append(out, "\\\\", 2));
            break;
        case '\n':
            TRY(buf_append(out, "\\n", 2));
            break;
        case '\r':
            TRY(buf_append(out, "\\r", 2));
            break;
        case '\t':
            TRY(buf_append(out, "\\t", 2));
            break;
        case '\b':
            TRY(buf_append(out, "\\b", 2));
            break;
        case '\f':
            TRY(buf_append(out, "\\f", 2));
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            TRY(buf_append(out, esc, 6));
        }
    }
    TRY(buf_append(out, s + chunk, len - chunk));
    return buf_append_byte(out, '"');
}

static int write_json(const json_t *v, buf_t *out, int depth)
{
    char num[32];
    if (!v || depth > 256) return buf_append(out, "null", 4);
    switch (json_typeof(v)) {
    case JSON_NULL:
        return buf_append(out, "null", 4);
    case JSON_TRUE:
        return buf_append(out, "true", 4);
    case JSON_FALSE:
        return buf_append(out, "false", 5);
    case JSON_INTEGER: {
        int n = snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return buf_append(out, num, (size_t)n);
    }
    case JSON_REAL: {
        size_t n = gql_format_double(json_real_value(v), num);
        return buf_append(out, num, n);
    }
    case JSON_STRING:
        return gql_json_write_string(json_string_value(v), json_string_length(v), out);
    case JSON_ARRAY:
        TRY(buf_append_byte(out, '['));
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) TRY(buf_append_byte(out, ','));
            TRY(write_json(json_array_get(v, i), out, depth + 1));
        }
        return buf_append_byte(out, ']');
    case JSON_OBJECT: {
        TRY(buf_append_byte(out, '{'));
        const char *key;
        json_t *val;
        int first = 1;
        json_object_foreach((json_t *)v, key, val)
        {
            if (!first) TRY(buf_append_byte(out, ','));
            first = 0;
            TRY(gql_json_write_string(key, strlen(key), out));
            TRY(buf_append_byte(out, ':'));
            TRY(write_json(val, out, depth + 1));
        }
        return buf_append_byte(out, '}');
    }
    }
    return 0;
}

int gql_json_write(const json_t *v, buf_t *out)
{
    return write_json(v, out, 0);
}

/* Offsets repeat (every item of a list reports the same field), so remember recent ones. */
typedef struct loc_cache {
    gql_off_t off[64];
    uint32_t line[64], col[64];
    uint8_t used[64];
} loc_cache_t;

static void locate(loc_cache_t *c, const char *src, size_t len, gql_off_t off, uint32_t *line,
                   uint32_t *col)
{
    unsigned slot = (off * 2654435761u) >> 26;
    if (c->used[slot] && c->off[slot] == off) {
        *line = c->line[slot];
        *col = c->col[slot];
        return;
    }
    gql_source_location(src, len, off, line, col);
    c->used[slot] = 1;
    c->off[slot] = off;
    c->line[slot] = *line;
    c->col[slot] = *col;
}

int gql_errors_write(const gql_errors_t *e, const char *src, size_t srclen, buf_t *out)
{
    loc_cache_t cache;
    memset(cache.used, 0, sizeof cache.used);
    TRY(buf_append_cstr(out, "\"errors\":["));
    for (const gql_error_t *err = e->head; err; err = err->next) {
        if (err != e->head) TRY(buf_append_byte(out, ','));
        TRY(buf_append_cstr(out, "{\"message\":"));
        TRY(gql_json_write_string(err->message, strlen(err->message), out));
        if (err->nlocs && src) {
            TRY(buf_append_cstr(out, ",\"locations\":["));
            for (uint32_t i = 0; i < err->nlocs; i++) {
                uint32_t line, col;
                locate(&cache, src, srclen, err->locs[i], &line, &col);
                TRY(buf_appendf(out, "%s{\"line\":%u,\"column\":%u}", i ? "," : "", line, col));
            }
            TRY(buf_append_byte(out, ']'));
        }
        if (err->path) {
            TRY(buf_append_cstr(out, ",\"path\":["));
            for (uint32_t i = 0; i < err->npath; i++) {
                if (i) TRY(buf_append_byte(out, ','));
                if (err->path[i].key)
                    TRY(gql_json_write_string(err->path[i].key, err->path[i].len, out));
                else
                    TRY(buf_appendf(out, "%u", err->path[i].index));
            }
            TRY(buf_append_byte(out, ']'));
        }
        if (err->extensions) {
            TRY(buf_append_cstr(out, ",\"extensions\":"));
            TRY(gql_json_write(err->extensions, out));
        }
        TRY(buf_append_byte(out, '}'));
    }
    return buf_append_byte(out, ']');
}
