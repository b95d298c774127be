/* test_parser.c - the HTTP request-head parser, chunked decoder and URL helpers.
 *
 * Every valid input is fed whole, split at every byte boundary (prefix, then everything with
 * prev_len = prefix) and one byte at a time; all three must agree. Inputs are copied into
 * exact-size heap blocks so ASan sees any read past len, and one test puts inputs flush
 * against a PROT_NONE page for the release build. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/parser.h"
#include "test.h"
#include "util/err.h"

/* ---- helpers --------------------------------------------------------------------------- */

static char *dup_exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (n) memcpy(p, s, n);
    return p;
}

/* A textual summary of a parsed head, so heads parsed from different buffers compare. */
static void describe(const http_request_head_t *h, char *out, size_t cap)
{
    size_t o = 0;
#define PUT(...) o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__)
#define SP(s)    (int)(s).len, (s).base ? (s).base : ""
    PUT("%.*s|%.*s|%.*s|%s%.*s|1.%d|", SP(h->method), SP(h->target), SP(h->path),
        h->query.base ? "?" : "(none)", SP(h->query), h->minor_version);
    for (size_t i = 0; i < h->num_headers; i++)
        PUT("[%.*s=%.*s]", SP(h->headers[i].name), SP(h->headers[i].value));
    PUT("|body=%d,%llu|ka=%d|up=%d|ec=%d", (int)h->body_kind, (unsigned long long)h->content_length,
        h->keep_alive, h->upgrade, h->expect_continue);
#undef PUT
#undef SP
}

static int parse_copy(const char *s, size_t n, size_t prev, http_request_head_t *h, int *st,
                      char *desc, size_t dcap)
{
    char *b = dup_exact(s, n);
    *st = 0;
    int rc = http_parse_request_head(b, n, prev, h, st);
    if (rc > 0 && desc) describe(h, desc, dcap);
    free(b);
    return rc;
}

static char g_desc[1 << 17], g_desc2[1 << 17];
static http_request_head_t g_h;

/* Expect a valid head of head_len bytes at the start of s[0..n) (n may include a body).
 * Checks whole, every split (or every stride-th for big inputs) and byte-at-a-time, and
 * leaves the whole-parse description in g_desc. */
static void check_ok_stride(const char *s, size_t n, size_t head_len, size_t stride)
{
    int st;
    int rc = parse_copy(s, n, 0, &g_h, &st, g_desc, sizeof g_desc);
    if (rc != (int)head_len) {
        TEST_FAIL_AT("whole: rc %d status %d, want %zu", rc, st, head_len);
        return;
    }
    int exact = n <= 4096;
    char *shared = exact ? NULL : dup_exact(s, n);
    for (size_t k = 1; k < n; k += (k + stride < n && k > 8 && k + 8 < head_len) ? stride : 1) {
        if (exact)
            rc = parse_copy(s, k, 0, &g_h, &st, NULL, 0);
        else
            rc = http_parse_request_head(shared, k, 0, &g_h, &st);
        int want = k < head_len ? RS_EMORE : (int)head_len;
        if (rc != want) {
            TEST_FAIL_AT("prefix %zu: rc %d status %d, want %d", k, rc, st, want);
            break;
        }
        if (rc != RS_EMORE) continue; /* prev_len is only for heads that were incomplete */
        if (exact)
            rc = parse_copy(s, n, k, &g_h, &st, g_desc2, sizeof g_desc2);
        else {
            rc = http_parse_request_head(shared, n, k, &g_h, &st);
            if (rc > 0) describe(&g_h, g_desc2, sizeof g_desc2);
        }
        if (rc != (int)head_len || strcmp(g_desc, g_desc2) != 0) {
            TEST_FAIL_AT("split %zu: rc %d status %d; %s vs %s", k, rc, st, g_desc, g_desc2);
            break;
        }
    }
    /* One byte at a time. */
    rc = RS_EMORE;
    size_t k;
    for (k = 1; k <= n && rc == RS_EMORE; k++) {
        if (exact)
            rc = parse_copy(s, k, k - 1, &g_h, &st, g_desc2, sizeof g_desc2);
        else {
            rc = http_parse_request_head(shared, k, k - 1, &g_h, &st);
            if (rc > 0) describe(&g_h, g_desc2, sizeof g_desc2);
        }
    }
    if (rc != (int)head_len || k - 1 != head_len || strcmp(g_desc, g_desc2) != 0)
        TEST_FAIL_AT("bytewise: rc %d at %zu status %d; %s vs %s", rc, k - 1, st, g_desc, g_desc2);
    free(shared);
}

static void check_ok(const char *s, size_t head_len)
{
    check_ok_stride(s, strlen(s), head_len, 1);
}

/* Parse s whole (already checked all ways) and return the head for field checks; the spans
 * point into the returned heap copy, which the test leaks (each test is its own process). */
static http_request_head_t *parse_ok(const char *s)
{
    check_ok(s, strlen(s));
    static http_request_head_t h;
    char *b = dup_exact(s, strlen(s));
    int st;
    int rc = http_parse_request_head(b, strlen(s), 0, &h, &st);
    if (rc != (int)strlen(s)) TEST_FAIL_AT("parse_ok: rc %d status %d", rc, st);
    return &h;
}

/* Expect RS_EPROTO with status, whole, at every split (an early error must carry the same
 * status) and byte-at-a-time. */
static void check_status_n(const char *s, size_t n, int status, size_t stride)
{
    int st;
    int rc = parse_copy(s, n, 0, &g_h, &st, NULL, 0);
    if (rc != RS_EPROTO || st != status) {
        TEST_FAIL_AT("whole: rc %d status %d, want status %d", rc, st, status);
        return;
    }
    int exact = n <= 4096;
    char *shared = dup_exact(s, n);
    for (size_t k = 1; k < n; k += (k + stride < n && k > 8) ? stride : 1) {
        if (exact)
            rc = parse_copy(s, k, 0, &g_h, &st, NULL, 0);
        else
            rc = http_parse_request_head(shared, k, 0, &g_h, &st);
        if (rc == RS_EPROTO && st == status) continue;
        if (rc != RS_EMORE) {
            TEST_FAIL_AT("prefix %zu: rc %d status %d, want more or %d", k, rc, st, status);
            break;
        }
        if (exact)
            rc = parse_copy(s, n, k, &g_h, &st, NULL, 0);
        else
            rc = http_parse_request_head(shared, n, k, &g_h, &st);
        if (rc != RS_EPROTO || st != status) {
            TEST_FAIL_AT("split %zu: rc %d status %d, want %d", k, rc, st, status);
            break;
        }
    }
    rc = RS_EMORE;
    for (size_t k = 1; k <= n && rc == RS_EMORE; k++) {
        if (exact)
            rc = parse_copy(s, k, k - 1, &g_h, &st, NULL, 0);
        else
            rc = http_parse_request_head(shared, k, k - 1, &g_h, &st);
    }
    if (rc != RS_EPROTO || st != status)
        TEST_FAIL_AT("bytewise: rc %d status %d, want %d", rc, st, status);
    free(shared);
}

static void check_status(const char *s, int status)
{
    check_status_n(s, strlen(s), status, 1);
}

/* The status of parsing s[0..n) whole in one call, or 0 for RS_EMORE, or -rc for success. */
static int status_of(const char *s, size_t n)
{
    int st;
    int rc = parse_copy(s, n, 0, &g_h, &st, NULL, 0);
    if (rc == RS_EMORE) return 0;
    if (rc > 0) return -rc;
    return st;
}

#define SPAN_IS(sp, s) CHECK_EQ_MEM((sp).base, (sp).len, s)

/* ---- valid requests -------------------------------------------------------------------- */

TEST(get_simple)
{
    const char *r = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n";
    http_request_head_t *h = parse_ok(r);
    SPAN_IS(h->method, "GET");
    SPAN_IS(h->target, "/index.html");
    SPAN_IS(h->path, "/index.html");
    CHECK(h->query.base == NULL);
    CHECK_EQ_INT(h->minor_version, 1);
    CHECK_EQ_INT(h->num_headers, 2);
    SPAN_IS(h->headers[0].name, "Host");
    SPAN_IS(h->headers[0].value, "example.com");
    SPAN_IS(h->headers[1].name, "User-Agent");
    CHECK_EQ_INT(h->body_kind, HTTP_BODY_NONE);
    CHECK_EQ_INT(h->keep_alive, 1);
    CHECK_EQ_INT(h->upgrade, 0);
    CHECK_EQ_INT(h->expect_continue, 0);
    SPAN_IS(http_head_get(h, "HOST"), "example.com");
    SPAN_IS(http_head_get(h, "user-agent"), "t");
    CHECK(http_head_get(h, "Accept").base == NULL);
}

TEST(get_query)
{
    http_request_head_t *h =
        parse_ok("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n");
    SPAN_IS(h->target, "/socket.io/?EIO=4&transport=polling");
    SPAN_IS(h->path, "/socket.io/");
    SPAN_IS(h->query, "EIO=4&transport=polling");
    SPAN_IS(http_query_get(h->query, "transport"), "polling");

    h = parse_ok("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n");
    SPAN_IS(h->path, "/a");
    CHECK(h->query.base != NULL);
    CHECK_EQ_INT(h->query.len, 0);

    h = parse_ok("GET /a?b?c%20d HTTP/1.1\r\nHost: h\r\n\r\n");
    SPAN_IS(h->path, "/a");
    SPAN_IS(h->query, "b?c%20d");
}

TEST(post_content_length_and_pipelined_get)
{
    const char *r = "POST /graphql HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                    "Content-Type: application/json\r\n\r\n"
                    "hello"
                    "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t n = strlen(r);
    size_t head1 = (size_t)(strstr(r, "hello") - r);
    check_ok_stride(r, n, head1, 1);
    http_request_head_t h;
    int st;
    int rc = http_parse_request_head(r, n, 0, &h, &st);
    REQUIRE(rc == (int)head1);
    SPAN_IS(h.method, "POST");
    CHECK_EQ_INT(h.body_kind, HTTP_BODY_LENGTH);
    CHECK_EQ_INT(h.content_length, 5);
    const char *next = r + rc + h.content_length;
    CHECK_EQ_MEM(r + rc, 5, "hello");
    rc = http_parse_request_head(next, n - (size_t)(next - r), 0, &h, &st);
    CHECK_EQ_INT(rc, (int)(n - (size_t)(next - r)));
    SPAN_IS(h.path, "/next");
}

TEST(pipelined_gets_in_one_buffer)
{
    const char *r = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
                    "GET /3 HTTP/1.0\r\n\r\n";
    size_t n = strlen(r), off = 0;
    const char *want[] = {"/1", "/2", "/3"};
    for (int i = 0; i < 3; i++) {
        http_request_head_t h;
        int st;
        int rc = http_parse_request_head(r + off, n - off, 0, &h, &st);
        REQUIRE(rc > 0);
        SPAN_IS(h.path, want[i]);
        off += (size_t)rc;
    }
    CHECK_EQ_INT(off, n);
    /* The first head is found with the rest of the buffer present, at every split. */
    check_ok_stride(r, n, 28, 1);
}

TEST(post_chunked)
{
    http_request_head_t *h = parse_ok("POST /up HTTP/1.1\r\nHost: h\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n");
    CHECK_EQ_INT(h->body_kind, HTTP_BODY_CHUNKED);
    h = parse_ok("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  CHUNKED \r\n\r\n");
    CHECK_EQ_INT(h->body_kind, HTTP_BODY_CHUNKED);
    /* Empty list elements are ignored. */
    h = parse_ok("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n");
    CHECK_EQ_INT(h->body_kind, HTTP_BODY_CHUNKED);
}

TEST(options_asterisk)
{
    http_request_head_t *h = parse_ok("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    SPAN_IS(h->method, "OPTIONS");
    SPAN_IS(h->target, "*");
    SPAN_IS(h->path, "*");
    CHECK(h->query.base == NULL);
    h = parse_ok("OPTIONS /socket.io/ HTTP/1.1\r\nHost: h\r\nOrigin: http://a\r\n\r\n");
    SPAN_IS(h->path, "/socket.io/");
}

TEST(absolute_form)
{
    http_request_head_t *h =
        parse_ok("GET http://example.com:80/a/b?x=1 HTTP/1.1\r\nHost: e\r\n\r\n");
    SPAN_IS(h->target, "http://example.com:80/a/b?x=1");
    SPAN_IS(h->path, "/a/b");
    SPAN_IS(h->query, "x=1");
    h = parse_ok("GET HTTPS://example.com HTTP/1.1\r\nHost: e\r\n\r\n");
    SPAN_IS(h->path, "/");
    CHECK(h->query.base == NULL);
    h = parse_ok("GET http://example.com?q HTTP/1.1\r\nHost: e\r\n\r\n");
    SPAN_IS(h->path, "/");
    SPAN_IS(h->query, "q");
}

TEST(http10_keep_alive_rules)
{
    http_request_head_t *h = parse_ok("GET / HTTP/1.0\r\n\r\n");
    CHECK_EQ_INT(h->minor_version, 0);
    CHECK_EQ_INT(h->keep_alive, 0);
    CHECK_EQ_INT(h->num_headers, 0);
    h = parse_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    CHECK_EQ_INT(h->keep_alive, 1);
    h = parse_ok("GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n");
    CHECK_EQ_INT(h->keep_alive, 1);
    h = parse_ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
    CHECK_EQ_INT(h->keep_alive, 0);
    /* "keep-alive-ish" is a different token. */
    h = parse_ok("GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n");
    CHECK_EQ_INT(h->keep_alive, 0);
    /* Host is optional in 1.0 but a duplicate is still refused. */
    check_status("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400);
}

TEST(http11_keep_alive_rules)
{
    http_request_head_t *h = parse_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    CHECK_EQ_INT(h->keep_alive, 0);
    h = parse_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n");
    CHECK_EQ_INT(h->keep_alive, 0);
    h = parse_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: x\r\nConnection: close\r\n\r\n");
    CHECK_EQ_INT(h->keep_alive, 0);
    h = parse_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n");
    CHECK_EQ_INT(h->keep_alive, 1);
}

TEST(upgrade_rules)
{
    http_request_head_t *h = parse_ok("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                                      "Host: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                                      "Sec-WebSocket-Version: 13\r\n\r\n");
    CHECK_EQ_INT(h->upgrade, 1);
    h = parse_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, upgrade\r\n"
                 "Upgrade: websocket\r\n\r\n");
    CHECK_EQ_INT(h->upgrade, 1);
    CHECK_EQ_INT(h->keep_alive, 1);
    h = parse_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n");
    CHECK_EQ_INT(h->upgrade, 0);
    h = parse_ok("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n");
    CHECK_EQ_INT(h->upgrade, 0);
    h = parse_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgraded\r\nUpgrade: x\r\n\r\n");
    CHECK_EQ_INT(h->upgrade, 0);
    h = parse_ok("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    CHECK_EQ_INT(h->upgrade, 0);
}

TEST(expect_continue)
{
    http_request_head_t *h = parse_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n"
                                      "Expect: 100-Continue\r\n\r\n");
    CHECK_EQ_INT(h->expect_continue, 1);
    h = parse_ok("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continued\r\n\r\n");
    CHECK_EQ_INT(h->expect_continue, 0);
    h = parse_ok("POST / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n");
    CHECK_EQ_INT(h->expect_continue, 0);
}

TEST(header_values_trimmed)
{
    http_request_head_t *h =
        parse_ok("GET / HTTP/1.1\r\nHost:h\r\nX-A: \t a  b \t \r\nX-B:\r\nX-C:   \r\n"
                 "X-D: caf\xc3\xa9\r\n\r\n");
    CHECK_EQ_INT(h->num_headers, 5);
    SPAN_IS(h->headers[0].value, "h");
    SPAN_IS(h->headers[1].value, "a  b");
    SPAN_IS(h->headers[2].value, "");
    SPAN_IS(h->headers[3].value, "");
    SPAN_IS(h->headers[4].value, "caf\xc3\xa9");
    /* Token characters in names. */
    h = parse_ok("GET / HTTP/1.1\r\nHost: h\r\n!#$%&'*+-.^_`|~09az: v\r\n\r\n");
    SPAN_IS(h->headers[1].name, "!#$%&'*+-.^_`|~09az");
}

TEST(methods_are_tokens)
{
    http_request_head_t *h = parse_ok("M-SEARCH /x HTTP/1.1\r\nHost: h\r\n\r\n");
    SPAN_IS(h->method, "M-SEARCH");
    h = parse_ok("get / HTTP/1.1\r\nHost: h\r\n\r\n");
    SPAN_IS(h->method, "get"); /* methods are case-sensitive: the router decides */
    check_status("M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GE\"T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET@ / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

TEST(leading_empty_lines)
{
    http_request_head_t *h = parse_ok("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    SPAN_IS(h->method, "GET");
    char r[256];
    strcpy(r, "");
    for (int i = 0; i < HTTP_MAX_LEADING_CRLF; i++) strcat(r, "\r\n");
    strcat(r, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    check_ok(r, strlen(r));
    char r2[256];
    strcpy(r2, "\r\n");
    strcat(r2, r);
    check_status(r2, 400);
    /* Only CRLF: still waiting. */
    CHECK_EQ_INT(status_of("\r\n\r\n", 4), 0);
    check_status("\r\n\n", 400);
}

TEST(content_length_values)
{
    http_request_head_t *h = parse_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    CHECK_EQ_INT(h->body_kind, HTTP_BODY_LENGTH);
    CHECK_EQ_INT(h->content_length, 0);
    h = parse_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\ncontent-length: 012\r\n\r\n");
    CHECK_EQ_INT(h->content_length, 12);
    h = parse_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9007199254740992\r\n\r\n");
    CHECK(h->content_length == (UINT64_C(1) << 53));
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9007199254740993\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1a\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400);
}

TEST(transfer_encoding_rules)
{
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 501);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chu nked\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\r\n\r\n", 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Length: 3\r\n\r\n",
                 400);
    check_status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 400);
    check_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

TEST(host_rules)
{
    check_status("GET / HTTP/1.1\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nX: y\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    http_request_head_t *h = parse_ok("GET / HTTP/1.1\r\nhOsT: \r\n\r\n");
    SPAN_IS(http_head_get(h, "host"), "");
}

/* ---- malformed requests ---------------------------------------------------------------- */

TEST(line_endings_strict)
{
    check_status("GET / HTTP/1.1\nHost: h\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: h\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: h\r\n\n", 400);
    check_status("GET / HTTP/1.1\n\n", 400);
    check_status("GET / HTTP/1.1\rHost: h\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", 400);
    check_status("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("\n", 400);
    check_status("\rGET / HTTP/1.1\r\n\r\n", 400);
    /* Bare LF is reported early, before the head could complete. */
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\nHo", 17), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nHost: h\rX", 25), 400);
    /* A trailing CR is just incomplete. */
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r", 15), 0);
}

TEST(obs_fold_and_colon_whitespace)
{
    check_status("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: h\r\nX(a): v\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: v\r\n\r\n", 400);
}

TEST(control_characters)
{
    check_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", 400);
    check_status("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n", 400);
    static const char nul1[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0z\r\n\r\n";
    static const char nul2[] = "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n";
    check_status_n(nul1, sizeof nul1 - 1, 400, 1);
    check_status_n(nul2, sizeof nul2 - 1, 400, 1);
    check_status("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET /a\x1b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    /* HTAB is allowed inside values; bytes >= 0x80 in the target are passed through. */
    http_request_head_t *h = parse_ok("GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\nX: a\tb\r\n\r\n");
    SPAN_IS(h->path, "/\xc3\xa9");
    SPAN_IS(h->headers[1].value, "a\tb");
}

TEST(request_line_malformed)
{
    check_status("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status(" / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400);
    check_status("GET /\r\nHost: h\r\n\r\n", 400);
    check_status("GET\r\nHost: h\r\n\r\n", 400);
    check_status("GET / \r\nHost: h\r\n\r\n", 400);
    check_status("GET / http/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET / HTTP/1\r\nHost: h\r\n\r\n", 400);
    check_status("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400);
    check_status("GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400);
    check_status("GET / HTTP/11.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET / FOO/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", 400);
}

TEST(targets_malformed)
{
    check_status("GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("OPTIONS ** HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    check_status("GET ?a HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

TEST(versions)
{
    check_status("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505);
    check_status("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    check_status("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505);
    check_status("GET / HTTP/9.9\r\n\r\n", 505);
    /* A syntax error in the request line wins over a header error later. */
    check_status("GET / HTTP/3.0\r\nHost : h\r\n\r\n", 505);
}

TEST(prev_len_larger_than_len_is_ignored)
{
    const char *r = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    http_request_head_t h;
    int st;
    CHECK_EQ_INT(http_parse_request_head(r, strlen(r), 1000, &h, &st), (int)strlen(r));
    CHECK_EQ_INT(http_parse_request_head(r, 0, 0, &h, &st), RS_EMORE);
    CHECK_EQ_INT(http_parse_request_head(r, strlen(r), 0, &h, NULL), (int)strlen(r));
}

/* ---- limits ---------------------------------------------------------------------------- */

/* "GET /aaa...a HTTP/1.1" of exactly line_len bytes, then CRLF + rest. */
static char *request_line_of(size_t line_len, const char *rest, size_t *n)
{
    size_t rl = strlen(rest);
    char *b = malloc(line_len + 2 + rl + 1);
    memcpy(b, "GET /", 5);
    memset(b + 5, 'a', line_len - 5 - 9);
    memcpy(b + line_len - 9, " HTTP/1.1\r\n", 11);
    memcpy(b + line_len + 2, rest, rl + 1);
    *n = line_len + 2 + rl;
    return b;
}

TEST(request_line_limit)
{
    size_t n;
    char *b = request_line_of(HTTP_MAX_LINE, "Host: h\r\n\r\n", &n);
    check_ok_stride(b, n, n, 61);
    free(b);
    b = request_line_of(HTTP_MAX_LINE + 1, "Host: h\r\n\r\n", &n);
    check_status_n(b, n, 414, 61);
    /* Reported before the line ends: max+1 bytes that cannot be the start of a CRLF. */
    CHECK_EQ_INT(status_of(b, HTTP_MAX_LINE), 0);
    CHECK_EQ_INT(status_of(b, HTTP_MAX_LINE + 1), 414);
    CHECK_EQ_INT(status_of(b, HTTP_MAX_LINE + 2), 414); /* max+1 bytes, then CR */
    free(b);
    /* Far past the limit, whole and after an earlier incomplete call. */
    b = request_line_of(HTTP_MAX_LINE + 300, "Host: h\r\n\r\n", &n);
    CHECK_EQ_INT(status_of(b, HTTP_MAX_LINE + 250), 414);
    http_request_head_t h;
    int st = 0;
    CHECK_EQ_INT(http_parse_request_head(b, 8000, 0, &h, &st), RS_EMORE);
    CHECK_EQ_INT(http_parse_request_head(b, HTTP_MAX_LINE + 250, 8000, &h, &st), RS_EPROTO);
    CHECK_EQ_INT(st, 414);
    /* A bare LF right after max bytes is a length problem, after fewer a syntax one. */
    b[HTTP_MAX_LINE + 1] = '\n';
    CHECK_EQ_INT(status_of(b, HTTP_MAX_LINE + 250), 414);
    b[HTTP_MAX_LINE] = '\n';
    CHECK_EQ_INT(status_of(b, HTTP_MAX_LINE + 250), 400);
    free(b);
    /* max bytes then CR: still possibly the end of the line. */
    b = request_line_of(HTTP_MAX_LINE, "", &n);
    CHECK_EQ_INT(status_of(b, HTTP_MAX_LINE + 1), 0);
    /* The limit wins over a syntax error earlier in the same line. */
    b[0] = '(';
    CHECK_EQ_INT(status_of(b, n), 0);
    free(b);
    b = request_line_of(HTTP_MAX_LINE + 1, "", &n);
    b[0] = '(';
    CHECK_EQ_INT(status_of(b, n), 414);
    free(b);
}

/* The head of a request whose header line number `which` (0 = Host) has line_len bytes. */
static char *header_line_of(size_t line_len, size_t *n)
{
    const char *pre = "GET / HTTP/1.1\r\nHost: h\r\n";
    size_t pl = strlen(pre);
    char *b = malloc(pl + line_len + 4 + 1);
    memcpy(b, pre, pl);
    memcpy(b + pl, "X: ", 3);
    memset(b + pl + 3, 'v', line_len - 3);
    memcpy(b + pl + line_len, "\r\n\r\n", 5);
    *n = pl + line_len + 4;
    return b;
}

TEST(header_line_limit)
{
    size_t n;
    char *b = header_line_of(HTTP_MAX_LINE, &n);
    check_ok_stride(b, n, n, 67);
    free(b);
    b = header_line_of(HTTP_MAX_LINE + 1, &n);
    check_status_n(b, n, 431, 67);
    size_t pl = strlen("GET / HTTP/1.1\r\nHost: h\r\n");
    CHECK_EQ_INT(status_of(b, pl + HTTP_MAX_LINE), 0);
    CHECK_EQ_INT(status_of(b, pl + HTTP_MAX_LINE + 1), 431);
    free(b);
    b = header_line_of(HTTP_MAX_LINE + 300, &n);
    CHECK_EQ_INT(status_of(b, pl + HTTP_MAX_LINE + 250), 431);
    http_request_head_t h;
    int st = 0;
    CHECK_EQ_INT(http_parse_request_head(b, pl + 8000, 0, &h, &st), RS_EMORE);
    CHECK_EQ_INT(http_parse_request_head(b, pl + HTTP_MAX_LINE + 250, pl + 8000, &h, &st),
                 RS_EPROTO);
    CHECK_EQ_INT(st, 431);
    b[pl + HTTP_MAX_LINE] = '\n';
    CHECK_EQ_INT(status_of(b, pl + HTTP_MAX_LINE + 250), 400);
    free(b);
    /* A long line after a malformed short one: the limit is reported. */
    b = header_line_of(HTTP_MAX_LINE + 1, &n);
    b[strlen("GET / HTTP/1.1\r\nHost")] = ' ';
    check_status_n(b, n, 431, 67);
    free(b);
}

static char *headers_request(int count, int complete, size_t *n)
{
    char *b = malloc(64 + (size_t)count * 16);
    size_t o = (size_t)sprintf(b, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 1; i < count; i++) o += (size_t)sprintf(b + o, "X-%d: %d\r\n", i, i);
    if (complete) o += (size_t)sprintf(b + o, "\r\n");
    *n = o;
    return b;
}

TEST(header_count_limit)
{
    size_t n;
    char *b = headers_request(HTTP_MAX_HEADERS, 1, &n);
    check_ok_stride(b, n, n, 1);
    http_request_head_t h;
    int st;
    CHECK_EQ_INT(http_parse_request_head(b, n, 0, &h, &st), (int)n);
    CHECK_EQ_INT(h.num_headers, HTTP_MAX_HEADERS);
    SPAN_IS(h.headers[HTTP_MAX_HEADERS - 1].value, "99");
    free(b);
    b = headers_request(HTTP_MAX_HEADERS + 1, 1, &n);
    check_status_n(b, n, 431, 1);
    free(b);
    /* Reported while the head is still incomplete. */
    b = headers_request(HTTP_MAX_HEADERS + 1, 0, &n);
    CHECK_EQ_INT(status_of(b, n), 431);
    CHECK_EQ_INT(status_of(b, n - 1), 0);
    free(b);
    b = headers_request(HTTP_MAX_HEADERS, 0, &n);
    CHECK_EQ_INT(status_of(b, n), 0);
    free(b);
}

/* A valid head of exactly total bytes made of headers up to 8000 bytes long. */
static char *head_of_size(size_t total)
{
    char *b = malloc(total + 1);
    size_t p = (size_t)sprintf(b, "GET / HTTP/1.1\r\nHost: h\r\n");
    while (total - p > 2) {
        size_t rest = total - p - 2, line = rest > 8002 ? 8002 : rest;
        if (rest - line > 0 && rest - line < 5) line -= 5;
        memcpy(b + p, "X:", 2);
        memset(b + p + 2, 'a', line - 4);
        memcpy(b + p + line - 2, "\r\n", 2);
        p += line;
    }
    memcpy(b + p, "\r\n", 3);
    return b;
}

TEST(head_size_limit)
{
    char *b = head_of_size(HTTP_MAX_HEAD);
    CHECK_EQ_INT(strlen(b), HTTP_MAX_HEAD);
    check_ok_stride(b, HTTP_MAX_HEAD, HTTP_MAX_HEAD, 509);
    /* With more bytes after it (a body) it is still accepted. */
    char *more = malloc(HTTP_MAX_HEAD + 10);
    memcpy(more, b, HTTP_MAX_HEAD);
    memset(more + HTTP_MAX_HEAD, 'z', 10);
    CHECK_EQ_INT(status_of(more, HTTP_MAX_HEAD + 10), -HTTP_MAX_HEAD);
    /* Incomplete at the limit: the end cannot fit any more. */
    CHECK_EQ_INT(status_of(b, HTTP_MAX_HEAD - 1), 0);
    memcpy(more, b, HTTP_MAX_HEAD);
    more[HTTP_MAX_HEAD - 1] = 'x'; /* "...\r\n\rx": a bare CR inside the limit */
    CHECK_EQ_INT(status_of(more, HTTP_MAX_HEAD), 400);
    /* "...\r\na\r" + "x": the CR's successor is past the limit, so only the size counts. */
    more[HTTP_MAX_HEAD - 2] = 'a';
    more[HTTP_MAX_HEAD - 1] = '\r';
    more[HTTP_MAX_HEAD] = 'x';
    CHECK_EQ_INT(status_of(more, HTTP_MAX_HEAD - 1), 0);
    CHECK_EQ_INT(status_of(more, HTTP_MAX_HEAD), 431);
    CHECK_EQ_INT(status_of(more, HTTP_MAX_HEAD + 10), 431);
    free(b);
    b = head_of_size(HTTP_MAX_HEAD + 1);
    check_status_n(b, HTTP_MAX_HEAD + 1, 431, 509);
    CHECK_EQ_INT(status_of(b, HTTP_MAX_HEAD), 431);
    free(b);
    free(more);
}

/* ---- no over-read ---------------------------------------------------------------------- */

static const char *const guard_inputs[] = {
    "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    "\r\n\r\nPOST /x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET http://h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\n \r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r",
    "GET / HTTP/1.1\nHost",
    "G",
    "GET / HTTP/1.1\r\nHost: h\r\nX:\r\n\r\n",
    "GET / HTTP/9.1\r\n\r\n",
};

static const char *const guard_chunked[] = {
    "5\r\nhello\r\n0\r\n\r\n",
    "A;ext=1\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
    "fffffffffffffff\r\nab",
    "0 \t;x\r\n\r\n",
    "5\r\nhelloX",
};

TEST(no_overread_guard_page)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *base =
        mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(base != MAP_FAILED);
    REQUIRE(mprotect(base + pg, (size_t)pg, PROT_NONE) == 0);
    char *end = base + pg;
    for (size_t t = 0; t < sizeof guard_inputs / sizeof guard_inputs[0]; t++) {
        const char *s = guard_inputs[t];
        size_t n = strlen(s);
        int prev = RS_EMORE;
        for (size_t k = 0; k <= n; k++) {
            memcpy(end - k, s, k);
            http_request_head_t h;
            int st;
            int a = http_parse_request_head(end - k, k, 0, &h, &st);
            if (prev == RS_EMORE) {
                int b = http_parse_request_head(end - k, k, k ? k - 1 : 0, &h, &st);
                CHECK_EQ_INT(a, b);
            }
            prev = a;
            if (a > 0) {
                /* The spans must lie inside the buffer. */
                CHECK(h.method.base >= end - k && h.method.base + h.method.len <= end);
                for (size_t i = 0; i < h.num_headers; i++)
                    CHECK(h.headers[i].value.base + h.headers[i].value.len <= end);
            }
        }
    }
    for (size_t t = 0; t < sizeof guard_chunked / sizeof guard_chunked[0]; t++) {
        const char *s = guard_chunked[t];
        size_t n = strlen(s);
        for (size_t k = 0; k <= n; k++) {
            memcpy(end - k, s, k);
            http_chunked_t c = {0};
            size_t len = k, used = 0;
            int rc = http_chunked_decode(&c, end - k, &len, &used);
            CHECK(rc == 0 || rc == 1 || rc == RS_EPROTO);
            CHECK(used <= k && len <= k);
        }
    }
    /* Percent-decoding an escape cut off by the end of the buffer. */
    char out[8];
    memcpy(end - 2, "a%", 2);
    CHECK_EQ_INT(http_percent_decode(span_make(end - 2, 2), out, sizeof out), RS_EPROTO);
    memcpy(end - 3, "a%4", 3);
    CHECK_EQ_INT(http_percent_decode(span_make(end - 3, 3), out, sizeof out), RS_EPROTO);
    memcpy(end - 3, "k=v", 3);
    SPAN_IS(http_query_get(span_make(end - 3, 3), "k"), "v");
    memcpy(end - 1, "k", 1);
    span_t v = http_query_get(span_make(end - 1, 1), "k");
    CHECK(v.base != NULL && v.len == 0);
    munmap(base, (size_t)pg * 2);
}

/* ---- chunked --------------------------------------------------------------------------- */

struct chunked_result {
    int rc;
    size_t consumed;
    char payload[4096];
    size_t payload_len;
};

/* Decode s[0..n) fed in pieces of the given sizes (the last piece gets the rest). */
static struct chunked_result decode_pieces(const char *s, size_t n, const size_t *cuts,
                                           size_t ncuts)
{
    struct chunked_result r = {0};
    http_chunked_t st = {0};
    size_t off = 0;
    for (size_t i = 0; i <= ncuts && r.rc == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        if (end < off) continue;
        size_t len = end - off, used = 0;
        char *b = dup_exact(s + off, len);
        r.rc = http_chunked_decode(&st, b, &len, &used);
        if (r.payload_len + len <= sizeof r.payload) memcpy(r.payload + r.payload_len, b, len);
        r.payload_len += len;
        r.consumed += used;
        free(b);
        if (r.rc == 0 && used != end - off) r.rc = 99; /* must consume everything */
        off = end;
    }
    return r;
}

/* Expect s (whole, every split and bytewise) to decode to payload, using `used` bytes, with
 * rc (1 done, 0 more, RS_EPROTO). */
static void check_chunked(const char *s, size_t n, int rc, const char *payload, size_t used)
{
    struct chunked_result w = decode_pieces(s, n, NULL, 0);
    if (w.rc != rc) TEST_FAIL_AT("whole: rc %d want %d", w.rc, rc);
    if (rc != RS_EPROTO) {
        CHECK_EQ_MEM(w.payload, w.payload_len, payload);
        CHECK_EQ_INT(w.consumed, used);
    }
    for (size_t k = 0; k <= n; k++) {
        struct chunked_result r = decode_pieces(s, n, &k, 1);
        if (r.rc != rc) {
            TEST_FAIL_AT("split %zu: rc %d want %d", k, r.rc, rc);
            return;
        }
        if (rc != RS_EPROTO &&
            (r.payload_len != w.payload_len || memcmp(r.payload, w.payload, w.payload_len) ||
             r.consumed != used)) {
            TEST_FAIL_AT("split %zu: payload or consumed differ", k);
            return;
        }
    }
    size_t cuts[512];
    REQUIRE(n < 512);
    for (size_t k = 0; k < n; k++) cuts[k] = k + 1;
    struct chunked_result b = decode_pieces(s, n, cuts, n);
    CHECK_EQ_INT(b.rc, rc);
    if (rc != RS_EPROTO) {
        CHECK_EQ_MEM(b.payload, b.payload_len, payload);
        CHECK_EQ_INT(b.consumed, used);
    }
}

#define CHUNKED_OK(s, payload) check_chunked(s, strlen(s), 1, payload, strlen(s))
#define CHUNKED_BAD(s)         check_chunked(s, strlen(s), RS_EPROTO, "", 0)

TEST(chunked_valid)
{
    CHUNKED_OK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world");
    CHUNKED_OK("0\r\n\r\n", "");
    CHUNKED_OK("a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij");
    CHUNKED_OK("0005\r\nhello\r\n000\r\n\r\n", "hello");
    CHUNKED_OK("5;name=value;flag\r\nhello\r\n0;last\r\n\r\n", "hello");
    CHUNKED_OK("5 ;x\r\nhello\r\n0\t \r\n\r\n", "hello");
    CHUNKED_OK("5\r\nhe\r\nl\r\n0\r\nTrailer: v\r\nOther:\tx y\r\n\r\n", "he\r\nl");
    static const char nul[] = "2\r\n\0\0\r\n0\r\n\r\n";
    struct chunked_result r = decode_pieces(nul, sizeof nul - 1, NULL, 0);
    CHECK_EQ_INT(r.rc, 1);
    CHECK(r.payload_len == 2 && r.payload[0] == 0 && r.payload[1] == 0);
    /* Data containing CRLFs and hex-looking bytes is opaque. */
    CHUNKED_OK("3\r\n0\r\n\r\n0\r\n\r\n", "0\r\n");
}

TEST(chunked_followed_by_next_request)
{
    const char *s = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    size_t body = strlen("3\r\nabc\r\n0\r\n\r\n");
    check_chunked(s, strlen(s), 1, "abc", body);
    /* Calling again after the end consumes nothing. */
    http_chunked_t st = {0};
    char b[64];
    strcpy(b, s);
    size_t len = strlen(s), used;
    CHECK_EQ_INT(http_chunked_decode(&st, b, &len, &used), 1);
    CHECK_EQ_INT(used, body);
    len = 5;
    CHECK_EQ_INT(http_chunked_decode(&st, b, &len, &used), 1);
    CHECK_EQ_INT(used, 0);
    CHECK_EQ_INT(len, 0);
}

TEST(chunked_incomplete)
{
    const char *s = "5\r\nhel";
    check_chunked(s, strlen(s), 0, "hel", strlen(s));
    s = "fffffffffffffff\r\nab";
    check_chunked(s, strlen(s), 0, "ab", strlen(s));
    http_chunked_t st = {0};
    char b[32];
    strcpy(b, s);
    size_t len = strlen(s), used;
    CHECK_EQ_INT(http_chunked_decode(&st, b, &len, &used), 0);
    CHECK(st.remaining == 0xfffffffffffffffULL - 2);
    s = "0\r\nTrailer: x";
    check_chunked(s, strlen(s), 0, "", strlen(s));
}

TEST(chunked_errors)
{
    CHUNKED_BAD("\r\n");
    CHUNKED_BAD(";x\r\n");
    CHUNKED_BAD(" 5\r\nhello\r\n0\r\n\r\n");
    CHUNKED_BAD("g\r\n");
    CHUNKED_BAD("-1\r\n");
    CHUNKED_BAD("0x5\r\nhello\r\n0\r\n\r\n");
    CHUNKED_BAD("1000000000000000\r\n"); /* 16 digits */
    CHUNKED_BAD("0000000000000000\r\n\r\n");
    CHUNKED_BAD("5 x\r\nhello\r\n0\r\n\r\n");
    CHUNKED_BAD("5\nhello\r\n0\r\n\r\n");
    CHUNKED_BAD("5\rhello\r\n0\r\n\r\n");
    CHUNKED_BAD("5\r\nhelloX\r\n0\r\n\r\n");
    CHUNKED_BAD("5\r\nhello\rX0\r\n\r\n");
    CHUNKED_BAD("5\r\nhello\n0\r\n\r\n");
    CHUNKED_BAD("5\r\nhello0\r\n\r\n");
    CHUNKED_BAD("5\r\nhelloX\n0\r\n\r\n");
    CHUNKED_BAD("5;a\x01\r\nhello\r\n0\r\n\r\n");
    CHUNKED_BAD("5;a\nb\r\nhello\r\n0\r\n\r\n");
    CHUNKED_BAD("0\r\nT: \x01\r\n\r\n");
    CHUNKED_BAD("0\r\nT: v\n\r\n");
    CHUNKED_BAD("0\r\nT: v\r\n\rX");
    CHUNKED_BAD("0\r\n\n");
    /* Once failed, it keeps failing. */
    http_chunked_t st = {0};
    char b[16] = "g\r\n";
    size_t len = 3, used;
    CHECK_EQ_INT(http_chunked_decode(&st, b, &len, &used), RS_EPROTO);
    strcpy(b, "0\r\n\r\n");
    len = 5;
    CHECK_EQ_INT(http_chunked_decode(&st, b, &len, &used), RS_EPROTO);
}

static int chunked_whole(const char *s, size_t n)
{
    http_chunked_t st = {0};
    char *b = dup_exact(s, n);
    size_t len = n, used;
    int rc = http_chunked_decode(&st, b, &len, &used);
    free(b);
    return rc;
}

TEST(chunked_line_limits)
{
    /* A chunk-size line of exactly HTTP_MAX_LINE bytes (before CRLF) is accepted. */
    size_t n = HTTP_MAX_LINE + 64;
    char *b = malloc(n);
    memcpy(b, "1;", 2);
    memset(b + 2, 'e', HTTP_MAX_LINE - 2);
    size_t o = HTTP_MAX_LINE;
    memcpy(b + o, "\r\nx\r\n0\r\n\r\n", 10);
    CHECK_EQ_INT(chunked_whole(b, o + 10), 1);
    b[o] = 'e'; /* one more byte */
    memcpy(b + o + 1, "\r\nx\r\n0\r\n\r\n", 10);
    CHECK_EQ_INT(chunked_whole(b, o + 11), RS_EPROTO);
    /* Trailer lines likewise. */
    memcpy(b, "0\r\n", 3);
    memset(b + 3, 't', HTTP_MAX_LINE);
    memcpy(b + 3 + HTTP_MAX_LINE, "\r\n\r\n", 4);
    CHECK_EQ_INT(chunked_whole(b, 3 + HTTP_MAX_LINE + 4), 1);
    b[3 + HTTP_MAX_LINE] = 't';
    memcpy(b + 4 + HTTP_MAX_LINE, "\r\n\r\n", 4);
    CHECK_EQ_INT(chunked_whole(b, 4 + HTTP_MAX_LINE + 4), RS_EPROTO);
    free(b);
    /* Trailers are capped in total, however they are split into lines. */
    size_t lines = HTTP_MAX_HEAD / 100 + 2;
    b = malloc(3 + lines * 102 + 2);
    memcpy(b, "0\r\n", 3);
    for (size_t i = 0; i < lines; i++) {
        memset(b + 3 + i * 102, 'q', 100);
        memcpy(b + 3 + i * 102 + 100, "\r\n", 2);
    }
    memcpy(b + 3 + lines * 102, "\r\n", 2);
    CHECK_EQ_INT(chunked_whole(b, 3 + lines * 102 + 2), RS_EPROTO);
    CHECK_EQ_INT(chunked_whole(b, 3 + (lines - 3) * 102), 0);
    free(b);
}

/* ---- URL helpers ----------------------------------------------------------------------- */

static int pdec(const char *s, char *out, size_t cap)
{
    return http_percent_decode(span_cstr(s), out, cap);
}

TEST(percent_decode)
{
    char out[64];
    int n = pdec("/a%20b%2Fc%7e+d", out, sizeof out);
    CHECK_EQ_MEM(out, n, "/a b/c~+d");
    n = pdec("", out, sizeof out);
    CHECK_EQ_INT(n, 0);
    n = pdec("%C3%A9", out, sizeof out);
    CHECK_EQ_MEM(out, n, "\xc3\xa9");
    CHECK_EQ_INT(pdec("%", out, sizeof out), RS_EPROTO);
    CHECK_EQ_INT(pdec("a%4", out, sizeof out), RS_EPROTO);
    CHECK_EQ_INT(pdec("%4g", out, sizeof out), RS_EPROTO);
    CHECK_EQ_INT(pdec("%g4", out, sizeof out), RS_EPROTO);
    CHECK_EQ_INT(pdec("%00", out, sizeof out), RS_EPROTO);
    CHECK_EQ_INT(http_percent_decode(span_make("a\0b", 3), out, sizeof out), RS_EPROTO);
    CHECK_EQ_INT(pdec("abcd", out, 4), 4);
    CHECK_EQ_INT(pdec("abcde", out, 4), RS_ETOOBIG);
    CHECK_EQ_INT(pdec("abc%41", out, 4), 4);
    CHECK_EQ_INT(pdec("a", NULL, 0), RS_ETOOBIG);
    CHECK_EQ_INT(pdec("", NULL, 0), 0);
}

TEST(query_get)
{
    span_t q = span_cstr("EIO=4&transport=polling&t=Nx1&sid=&flag&a=b=c&&EIO=3");
    SPAN_IS(http_query_get(q, "EIO"), "4");
    SPAN_IS(http_query_get(q, "transport"), "polling");
    SPAN_IS(http_query_get(q, "t"), "Nx1");
    span_t v = http_query_get(q, "sid");
    CHECK(v.base != NULL && v.len == 0);
    v = http_query_get(q, "flag");
    CHECK(v.base != NULL && v.len == 0);
    SPAN_IS(http_query_get(q, "a"), "b=c");
    CHECK(http_query_get(q, "eio").base == NULL);
    CHECK(http_query_get(q, "trans").base == NULL);
    CHECK(http_query_get(q, "x").base == NULL);
    CHECK(http_query_get(q, "").base == NULL);
    CHECK(http_query_get(q, NULL).base == NULL);
    CHECK(http_query_get(SPAN_NULL, "EIO").base == NULL);
    CHECK(http_query_get(span_cstr(""), "EIO").base == NULL);
    v = http_query_get(span_cstr("k"), "k");
    CHECK(v.base != NULL && v.len == 0);
}
