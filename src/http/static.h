/* static.h - serve files from a directory (the web client's build) with ETags.
 *
 * Paths are percent-decoded and every segment checked: "..", ".", empty segments from "//",
 * backslashes and NUL are refused with 400 before the file system is touched, so neither
 * "/../" nor "%2e%2e/" can leave the root. Files are opened relative to the root directory's
 * descriptor with O_NOFOLLOW. With spa_fallback, a GET for a path whose last segment has no
 * extension and no file answers index.html (client-side routes). */
#ifndef ROOST_HTTP_STATIC_H
#define ROOST_HTTP_STATIC_H

#include "http/server.h"

typedef struct http_static http_static_t;

/* NULL when root cannot be opened (logged); the caller may continue without static files. */
http_static_t *http_static_new(const char *root, int spa_fallback);
void http_static_free(http_static_t *st);
/* Route handler (arg = the http_static_t). */
void http_static_handle(http_req_t *r, void *arg);

/* Check a decoded request path ("/a/b.js") for traversal; 0 when safe, RS_EPERM otherwise. */
int http_static_path_safe(const char *path, size_t len);

#endif
