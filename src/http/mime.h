/* mime.h - Content-Type for the static file server, chosen by file extension. */
#ifndef ROOST_HTTP_MIME_H
#define ROOST_HTTP_MIME_H

#include "util/span.h"

/* The Content-Type for a file path or name ("/assets/app.JS" -> "text/javascript;
 * charset=utf-8"), looked up by the extension after the last '.' of the last path segment,
 * case-insensitively. Text types carry charset=utf-8 so browsers never sniff an encoding.
 * Unknown or missing extensions give "application/octet-stream", which browsers will not
 * render as a page. Returns a static string; never NULL. */
const char *http_mime_type(span_t path);

#endif
