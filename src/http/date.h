/* date.h - HTTP dates in IMF-fixdate form ("Sat, 28 Nov 2026 16:00:00 GMT", RFC 9110 5.6.7). */
#ifndef ROOST_HTTP_DATE_H
#define ROOST_HTTP_DATE_H

#include <stddef.h>
#include <time.h>

#include "util/span.h"

#define HTTP_DATE_LEN  29 /* strlen("Sat, 28 Nov 2026 16:00:00 GMT") */
#define HTTP_DATE_SIZE 30 /* with the terminating NUL: the buffer size callers need */

/* Format t (seconds since the epoch, UTC) into out as a NUL-terminated IMF-fixdate.
 * Pure; independent of the locale and TZ. Returns HTTP_DATE_LEN, RS_ETOOBIG when cap <
 * HTTP_DATE_SIZE (out untouched), or RS_EINVAL when the year is outside 0..9999. */
int http_date_format(time_t t, char *out, size_t cap);

/* Format the current time like http_date_format. The string is rebuilt at most once per
 * second per thread (a thread-local cache), so calling it for every response is cheap and
 * needs no locking. Returns HTTP_DATE_LEN or RS_ETOOBIG. */
int http_date_now(char *out, size_t cap);

/* Parse an IMF-fixdate (If-Modified-Since) into *t. Only the preferred form is accepted; the
 * obsolete RFC 850 and asctime forms give RS_EPROTO, which callers treat like an absent
 * header (RFC 9110 13.1.3 lets them ignore an invalid date). Returns 0 or RS_EPROTO. */
int http_date_parse(span_t s, time_t *t);

#endif
