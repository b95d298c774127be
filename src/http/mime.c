/* mime.c - extension -> Content-Type (see mime.h). */
#include "http/mime.h"

struct mime_entry {
    const char *ext;
    const char *type;
};

/* Small and fixed: a linear scan beats hashing at this size. */
static const struct mime_entry mime_table[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"}, /* RFC 9239 */
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"}, /* source maps are JSON */
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"}, /* required for WebAssembly streaming compilation */
};

const char *http_mime_type(span_t path)
{
    size_t i = path.len;
    while (i > 0 && path.base[i - 1] != '.' && path.base[i - 1] != '/') i--;
    if (i == 0 || path.base[i - 1] != '.') return "application/octet-stream";
    span_t ext = span_make(path.base + i, path.len - i);
    for (size_t k = 0; k < sizeof mime_table / sizeof mime_table[0]; k++)
        if (span_ieq_cstr(ext, mime_table[k].ext)) return mime_table[k].type;
    return "application/octet-stream";
}
