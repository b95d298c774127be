/* status.h - reason phrases for HTTP status codes. */
#ifndef ROOST_HTTP_STATUS_H
#define ROOST_HTTP_STATUS_H

/* The reason phrase for code ("Not Found" for 404), a static string. Unknown codes give ""
 * ("HTTP/1.1 599 \r\n" is still a valid status line: RFC 9112 4 allows an empty reason). */
const char *http_status_reason(int code);

#endif
