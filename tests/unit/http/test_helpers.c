/* test_helpers.c - Content-Type by extension, IMF-fixdate, reason phrases. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "http/date.h"
#include "http/mime.h"
#include "http/status.h"
#include "test.h"
#include "http/parser.h"
#include "util/err.h"

static const char *mime(const char *path)
{
    return http_mime_type(span_cstr(path));
}

TEST(mime_known_extensions)
{
    CHECK_EQ_STR(mime("/index.html"), "text/html; charset=utf-8");
    CHECK_EQ_STR(mime("/assets/app.js"), "text/javascript; charset=utf-8");
    CHECK_EQ_STR(mime("/assets/app.mjs"), "text/javascript; charset=utf-8");
    CHECK_EQ_STR(mime("/a.css"), "text/css; charset=utf-8");
    CHECK_EQ_STR(mime("/a.json"), "application/json");
    CHECK_EQ_STR(mime("/a.js.map"), "application/json");
    CHECK_EQ_STR(mime("/logo.svg"), "image/svg+xml");
    CHECK_EQ_STR(mime("/a.png"), "image/png");
    CHECK_EQ_STR(mime("/a.jpg"), "image/jpeg");
    CHECK_EQ_STR(mime("/a.jpeg"), "image/jpeg");
    CHECK_EQ_STR(mime("/a.gif"), "image/gif");
    CHECK_EQ_STR(mime("/a.webp"), "image/webp");
    CHECK_EQ_STR(mime("/favicon.ico"), "image/x-icon");
    CHECK_EQ_STR(mime("/f.woff"), "font/woff");
    CHECK_EQ_STR(mime("/f.woff2"), "font/woff2");
    CHECK_EQ_STR(mime("/robots.txt"), "text/plain; charset=utf-8");
    CHECK_EQ_STR(mime("/m.wasm"), "application/wasm");
    CHECK_EQ_STR(mime("app.js"), "text/javascript; charset=utf-8");
}

TEST(mime_case_and_defaults)
{
    CHECK_EQ_STR(mime("/INDEX.HTML"), "text/html; charset=utf-8");
    CHECK_EQ_STR(mime("/a.Woff2"), "font/woff2");
    CHECK_EQ_STR(mime("/a.exe"), "application/octet-stream");
    CHECK_EQ_STR(mime("/a.htm"), "application/octet-stream");
    CHECK_EQ_STR(mime("/a.jsx"), "application/octet-stream");
    CHECK_EQ_STR(mime("/a.j"), "application/octet-stream");
    CHECK_EQ_STR(mime("/noext"), "application/octet-stream");
    CHECK_EQ_STR(mime("/dir.html/file"), "application/octet-stream");
    CHECK_EQ_STR(mime("/a."), "application/octet-stream");
    CHECK_EQ_STR(mime(""), "application/octet-stream");
    CHECK_EQ_STR(mime("/"), "application/octet-stream");
    CHECK_EQ_STR(http_mime_type(SPAN_NULL), "application/octet-stream");
    /* Only the span counts, not what follows it. */
    CHECK_EQ_STR(http_mime_type(span_make("/a.css.gz", 6)), "text/css; charset=utf-8");
}

static const char *fmt(time_t t, char *buf)
{
    int n = http_date_format(t, buf, HTTP_DATE_SIZE);
    CHECK_EQ_INT(n, HTTP_DATE_LEN);
    return buf;
}

TEST(date_format_known_values)
{
    char b[HTTP_DATE_SIZE];
    CHECK_EQ_STR(fmt(0, b), "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK_EQ_STR(fmt(784111777, b), "Sun, 06 Nov 1994 08:49:37 GMT"); /* RFC 9110's example */
    CHECK_EQ_STR(fmt(1795881600, b), "Sat, 28 Nov 2026 16:00:00 GMT");
    CHECK_EQ_STR(fmt(951782400, b), "Tue, 29 Feb 2000 00:00:00 GMT");
    CHECK_EQ_STR(fmt(253402300799LL, b), "Fri, 31 Dec 9999 23:59:59 GMT");
    CHECK_EQ_STR(fmt(-1, b), "Wed, 31 Dec 1969 23:59:59 GMT");
    CHECK_EQ_INT(http_date_format(253402300800LL, b, sizeof b), RS_EINVAL);
    char small[HTTP_DATE_LEN];
    CHECK_EQ_INT(http_date_format(0, small, sizeof small), RS_ETOOBIG);
    CHECK_EQ_INT(http_date_now(small, sizeof small), RS_ETOOBIG);
}

TEST(date_now_matches_clock_and_caches)
{
    char a[HTTP_DATE_SIZE], b[HTTP_DATE_SIZE], want[HTTP_DATE_SIZE];
    for (int tries = 0; tries < 3; tries++) {
        time_t before = time(NULL);
        CHECK_EQ_INT(http_date_now(a, sizeof a), HTTP_DATE_LEN);
        CHECK_EQ_INT(http_date_now(b, sizeof b), HTTP_DATE_LEN);
        time_t after = time(NULL);
        if (before != after) continue; /* the second ticked over: try again */
        fmt(before, want);
        CHECK_EQ_STR(a, want);
        CHECK_EQ_STR(b, want);
        return;
    }
    TEST_FAIL_AT("clock kept ticking");
}

static void *date_thread(void *arg)
{
    char *out = arg;
    for (int i = 0; i < 1000; i++) http_date_now(out, HTTP_DATE_SIZE);
    return NULL;
}

TEST(date_now_thread_local)
{
    char outs[4][HTTP_DATE_SIZE];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, date_thread, outs[i]);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    time_t dummy;
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(strlen(outs[i]), HTTP_DATE_LEN);
        CHECK_EQ_INT(http_date_parse(span_cstr(outs[i]), &dummy), 0);
    }
}

TEST(date_parse)
{
    time_t t = 0;
    CHECK_EQ_INT(http_date_parse(span_cstr("Sun, 06 Nov 1994 08:49:37 GMT"), &t), 0);
    CHECK_EQ_INT(t, 784111777);
    CHECK_EQ_INT(http_date_parse(span_cstr("Sat, 28 Nov 2026 16:00:00 GMT"), &t), 0);
    CHECK_EQ_INT(t, 1795881600);
    const char *bad[] = {
        "Mon, 06 Nov 1994 08:49:37 GMT", /* wrong weekday */
        "Sun, 06 Nov 1994 08:49:37 UTC",  "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
        "Sun Nov  6 08:49:37 1994",       /* asctime */
        "Sun, 06 Nov 1994 24:00:00 GMT",  "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",  "Sun, 06 Nov 1994 08:49:3x GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = 42;
        if (http_date_parse(span_cstr(bad[i]), &t) != RS_EPROTO)
            TEST_FAIL_AT("accepted %s", bad[i]);
        CHECK_EQ_INT(t, 42);
    }
    /* Round trip over a range of times. */
    for (time_t v = 0; v < 4102444800LL; v += 86400 * 37 + 3607) {
        char b[HTTP_DATE_SIZE];
        fmt(v, b);
        REQUIRE(http_date_parse(span_cstr(b), &t) == 0);
        CHECK_EQ_INT(t, v);
    }
}

TEST(status_reasons)
{
    CHECK_EQ_STR(http_status_reason(200), "OK");
    CHECK_EQ_STR(http_status_reason(101), "Switching Protocols");
    CHECK_EQ_STR(http_status_reason(204), "No Content");
    CHECK_EQ_STR(http_status_reason(304), "Not Modified");
    CHECK_EQ_STR(http_status_reason(400), "Bad Request");
    CHECK_EQ_STR(http_status_reason(403), "Forbidden");
    CHECK_EQ_STR(http_status_reason(404), "Not Found");
    CHECK_EQ_STR(http_status_reason(413), "Content Too Large");
    CHECK_EQ_STR(http_status_reason(414), "URI Too Long");
    CHECK_EQ_STR(http_status_reason(415), "Unsupported Media Type");
    CHECK_EQ_STR(http_status_reason(429), "Too Many Requests");
    CHECK_EQ_STR(http_status_reason(431), "Request Header Fields Too Large");
    CHECK_EQ_STR(http_status_reason(501), "Not Implemented");
    CHECK_EQ_STR(http_status_reason(505), "HTTP Version Not Supported");
    CHECK_EQ_STR(http_status_reason(599), "");
    CHECK_EQ_STR(http_status_reason(-1), "");
}

TEST(cookie_get_finds_values_and_misses_prefixes)
{
    span_t h = SPAN_LIT("id=12; secretkey=abc_DEF-1;  io=xyz; idx=9");
    span_t v = http_cookie_get(h, "secretkey");
    CHECK_EQ_MEM(v.base, v.len, "abc_DEF-1");
    v = http_cookie_get(h, "id");
    CHECK_EQ_MEM(v.base, v.len, "12");
    v = http_cookie_get(h, "io");
    CHECK_EQ_MEM(v.base, v.len, "xyz");
    CHECK(http_cookie_get(h, "i").base == NULL);
    CHECK(http_cookie_get(h, "nope").base == NULL);
    CHECK(http_cookie_get(SPAN_LIT(""), "id").base == NULL);
    v = http_cookie_get(SPAN_LIT("empty=; a=1"), "a");
    CHECK_EQ_MEM(v.base, v.len, "1");
}
