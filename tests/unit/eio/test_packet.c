/* Tests for eio/packet: text and WebSocket packets, polling payloads, the open packet and the
 * polling error body. Wire examples come from docs/engine.io-protocol/v4-current.md and the
 * reference server (engine.io 6). */
#include "eio/packet.h"

#include <sys/mman.h>

#include "test.h"
#include "util/err.h"

/* Copy s so that it ends flush against an unreadable page: an over-read faults. */
static span_t guarded(const char *s, size_t n)
{
    static char *pages;
    long pg = sysconf(_SC_PAGESIZE);
    if (!pages) {
        pages =
            mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (pages == MAP_FAILED) abort();
        mprotect(pages + pg, (size_t)pg, PROT_NONE);
    }
    if (n > (size_t)pg) abort();
    char *at = pages + pg - n;
    memcpy(at, s, n);
    return span_make(at, n);
}

static int within(span_t inner, span_t outer)
{
    return inner.base >= outer.base && inner.base + inner.len <= outer.base + outer.len;
}

/* Decode a whole body; writes "T<type>:<data>|" or "B:<hex>|" per packet into log.
 * Returns the final code (0 at a clean end, or the error). */
static int decode_all(span_t body, size_t max, buf_t *log)
{
    eio_payload_iter_t it;
    buf_t scratch = BUF_INIT;
    eio_packet_t p;
    int rc;
    eio_payload_iter_init(&it, body, max);
    while ((rc = eio_payload_next(&it, &scratch, &p)) == 1) {
        if (p.binary) {
            buf_append_cstr(log, "B:");
            for (size_t i = 0; i < p.data.len; i++)
                buf_appendf(log, "%02x", (unsigned char)p.data.base[i]);
        } else {
            buf_appendf(log, "T%d:", p.type);
            buf_append_span(log, p.data);
        }
        buf_append_byte(log, '|');
    }
    buf_free(&scratch);
    buf_cstr(log);
    return rc;
}

TEST(decodes_every_text_type)
{
    for (int t = 0; t <= 6; t++) {
        char s[16];
        snprintf(s, sizeof s, "%dxy", t);
        eio_packet_t p;
        span_t in = guarded(s, 3);
        REQUIRE(eio_packet_decode_text(in, &p) == 0);
        CHECK_EQ_INT(p.type, t);
        CHECK_EQ_INT(p.binary, 0);
        CHECK_EQ_MEM(p.data.base, p.data.len, "xy");
        CHECK(p.data.base == in.base + 1);
    }
    eio_packet_t p;
    REQUIRE(eio_packet_decode_text(guarded("2", 1), &p) == 0);
    CHECK_EQ_INT(p.type, EIO_PING);
    CHECK_EQ_INT(p.data.len, 0);
    static const char *bad[] = {"", "7", "9x", "a", "bAQID", "/", " 4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(eio_packet_decode_text(guarded(bad[i], strlen(bad[i])), &p), RS_EPROTO);
}

TEST(websocket_frames)
{
    eio_packet_t p;
    REQUIRE(eio_packet_from_ws(SPAN_LIT("3probe"), 0, &p) == 0);
    CHECK_EQ_INT(p.type, EIO_PONG);
    CHECK_EQ_MEM(p.data.base, p.data.len, "probe");
    REQUIRE(eio_packet_from_ws(SPAN_LIT("\x01\x02\x03\x04"), 1, &p) == 0);
    CHECK_EQ_INT(p.type, EIO_MESSAGE);
    CHECK_EQ_INT(p.binary, 1);
    CHECK_EQ_INT(p.data.len, 4);
    REQUIRE(eio_packet_from_ws(span_make("", 0), 1, &p) == 0);
    CHECK_EQ_INT(p.data.len, 0);
    CHECK_EQ_INT(eio_packet_from_ws(span_make("", 0), 0, &p), RS_EPROTO);
    CHECK_EQ_INT(eio_packet_from_ws(SPAN_LIT("8"), 0, &p), RS_EPROTO);

    buf_t b = BUF_INIT;
    int is_bin = -1;
    REQUIRE(eio_packet_to_ws(&b, &(eio_packet_t){EIO_MESSAGE, 0, SPAN_LIT("hello")}, &is_bin) == 0);
    CHECK_EQ_MEM(b.base, b.len, "4hello");
    CHECK_EQ_INT(is_bin, 0);
    b.len = 0;
    REQUIRE(eio_packet_to_ws(&b, &(eio_packet_t){EIO_MESSAGE, 1, SPAN_LIT("\x01\x02")}, &is_bin) ==
            0);
    CHECK_EQ_INT(b.len, 2);
    CHECK(memcmp(b.base, "\x01\x02", 2) == 0);
    CHECK_EQ_INT(is_bin, 1);
    b.len = 0;
    REQUIRE(eio_packet_to_ws(&b, &(eio_packet_t){EIO_PING, 0, SPAN_NULL}, NULL) == 0);
    CHECK_EQ_MEM(b.base, b.len, "2");
    b.len = 0;
    CHECK_EQ_INT(eio_packet_to_ws(&b, &(eio_packet_t){7, 0, SPAN_NULL}, NULL), RS_EINVAL);
    CHECK_EQ_INT(eio_packet_to_ws(&b, &(eio_packet_t){EIO_PING, 1, SPAN_NULL}, NULL), RS_EINVAL);
    CHECK_EQ_INT(b.len, 0);
    buf_free(&b);
}

TEST(payload_spec_examples)
{
    buf_t log = BUF_INIT;
    CHECK_EQ_INT(decode_all(SPAN_LIT("4hello\x1e"
                                     "2\x1e"
                                     "4world"),
                            0, &log),
                 0);
    CHECK_EQ_STR(log.base, "T4:hello|T2:|T4:world|");
    log.len = 0;
    CHECK_EQ_INT(decode_all(SPAN_LIT("4hello\x1e"
                                     "bAQIDBA=="),
                            0, &log),
                 0);
    CHECK_EQ_STR(log.base, "T4:hello|B:01020304|");
    log.len = 0;
    /* From the Socket.IO sample session. */
    CHECK_EQ_INT(decode_all(SPAN_LIT("42[\"hello\"]\x1e"
                                     "42[\"world\"]"),
                            0, &log),
                 0);
    CHECK_EQ_STR(log.base, "T4:2[\"hello\"]|T4:2[\"world\"]|");
    buf_free(&log);
}

TEST(payload_text_is_zero_copy_and_binary_uses_scratch)
{
    span_t body = SPAN_LIT("4h\xc3\xa9llo \xe2\x82\xac\xf0\x9f\x98\x80\x1e"
                           "bAQID\x1e"
                           "b\x1e"
                           "6");
    eio_payload_iter_t it;
    eio_payload_iter_init(&it, body, 0);
    buf_t scratch = BUF_INIT;
    eio_packet_t p;
    REQUIRE(eio_payload_next(&it, &scratch, &p) == 1);
    CHECK(within(p.data, body));
    CHECK_EQ_MEM(p.data.base, p.data.len, "h\xc3\xa9llo \xe2\x82\xac\xf0\x9f\x98\x80");
    REQUIRE(eio_payload_next(&it, &scratch, &p) == 1);
    CHECK(p.binary && p.type == EIO_MESSAGE);
    CHECK(p.data.base == scratch.base && p.data.len == 3);
    CHECK(memcmp(p.data.base, "\x01\x02\x03", 3) == 0);
    REQUIRE(eio_payload_next(&it, &scratch, &p) == 1); /* empty binary */
    CHECK(p.binary && p.data.len == 0 && p.data.base != NULL);
    REQUIRE(eio_payload_next(&it, &scratch, &p) == 1);
    CHECK_EQ_INT(p.type, EIO_NOOP);
    CHECK_EQ_INT(eio_payload_next(&it, &scratch, &p), 0);
    CHECK_EQ_INT(eio_payload_next(&it, &scratch, &p), 0);
    CHECK_EQ_INT(it.count, 4);
    /* Without scratch a binary record cannot be decoded. */
    eio_payload_iter_init(&it, SPAN_LIT("bAQID"), 0);
    CHECK_EQ_INT(eio_payload_next(&it, NULL, &p), RS_EINVAL);
    buf_free(&scratch);
}

TEST(payload_split_errors)
{
    static const struct {
        const char *body;
        const char *before; /* packets delivered before the error */
    } cases[] = {
        {"", ""},
        {"\x1e", ""},
        {"\x1e"
         "4a",
         ""},
        {"4a\x1e", "T4:a|"},
        {"4a\x1e\x1e"
         "4b",
         "T4:a|"},
        {"7", ""},
        {"4a\x1e"
         "x",
         "T4:a|"},
        {"b!!!!", ""},
        {"bA", ""},
        {"bAQIDB", ""},
        {"bAQ=A", ""},
        {"bA===", ""},
        {"bAQIDBA==\x1e"
         "4\x1e"
         "b@",
         "B:01020304|T4:|"},
        {"abc", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t log = BUF_INIT;
        span_t body = guarded(cases[i].body, strlen(cases[i].body));
        int rc = decode_all(body, 0, &log);
        if (rc != RS_EPROTO) TEST_FAIL_AT("case %zu: rc %d", i, rc);
        if (strcmp(log.base ? log.base : "", cases[i].before))
            TEST_FAIL_AT("case %zu: got %s", i, log.base);
        CHECK_EQ_INT(eio_payload_validate(body, 0), RS_EPROTO);
        buf_free(&log);
    }
}

TEST(payload_error_is_sticky)
{
    eio_payload_iter_t it;
    eio_packet_t p;
    buf_t scratch = BUF_INIT;
    eio_payload_iter_init(&it,
                          SPAN_LIT("9\x1e"
                                   "4ok"),
                          0);
    CHECK_EQ_INT(eio_payload_next(&it, &scratch, &p), RS_EPROTO);
    CHECK_EQ_INT(eio_payload_next(&it, &scratch, &p), RS_EPROTO);
    buf_free(&scratch);
}

TEST(payload_packet_cap)
{
    span_t body = SPAN_LIT("2\x1e"
                           "3\x1e"
                           "4x");
    buf_t log = BUF_INIT;
    CHECK_EQ_INT(decode_all(body, 2, &log), RS_ETOOBIG);
    CHECK_EQ_STR(log.base, "T2:|T3:|");
    log.len = 0;
    CHECK_EQ_INT(decode_all(body, 3, &log), 0);
    CHECK_EQ_STR(log.base, "T2:|T3:|T4:x|");
    CHECK_EQ_INT(eio_payload_validate(body, 2), RS_ETOOBIG);
    CHECK_EQ_INT(eio_payload_validate(body, 3), 3);
    CHECK_EQ_INT(eio_payload_validate(body, 0), 3);
    buf_free(&log);
}

TEST(payload_every_prefix_agrees_with_validate)
{
    /* Every truncation of a body either decodes cleanly or fails - never reads past its end -
     * and the validator agrees with the iterator about which. */
    const char *full = "4h\xc3\xa9\x1e"
                       "bAQIDBA==\x1e"
                       "2probe\x1e"
                       "b/w==\x1e"
                       "40{\"a\":1}";
    size_t n = strlen(full);
    for (size_t i = 0; i <= n; i++) {
        span_t body = guarded(full, i);
        buf_t log = BUF_INIT;
        int rc = decode_all(body, 0, &log);
        int v = eio_payload_validate(body, 0);
        if ((rc == 0) != (v > 0)) TEST_FAIL_AT("prefix %zu: iterate %d, validate %d", i, rc, v);
        buf_free(&log);
    }
}

TEST(payload_encoding_matches_reference)
{
    buf_t b = BUF_INIT;
    eio_packet_t pk[] = {
        {EIO_MESSAGE, 0, SPAN_LIT("hello")},
        {EIO_MESSAGE, 1, SPAN_LIT("\x01\x02\x03\x04")},
    };
    REQUIRE(eio_payload_encode(&b, pk, 2) == 0);
    CHECK_EQ_MEM(b.base, b.len,
                 "4hello\x1e"
                 "bAQIDBA==");
    b.len = 0;
    eio_packet_t pk2[] = {
        {EIO_MESSAGE, 0, SPAN_LIT("test1")},
        {EIO_MESSAGE, 0, SPAN_LIT("test2")},
        {EIO_MESSAGE, 0, SPAN_LIT("test3")},
    };
    REQUIRE(eio_payload_encode(&b, pk2, 3) == 0);
    CHECK_EQ_MEM(b.base, b.len,
                 "4test1\x1e"
                 "4test2\x1e"
                 "4test3");
    b.len = 0;
    REQUIRE(eio_payload_append(&b, &(eio_packet_t){EIO_NOOP, 0, SPAN_NULL}, 1) == 0);
    CHECK_EQ_MEM(b.base, b.len, "6");
    REQUIRE(eio_payload_append(&b, &(eio_packet_t){EIO_MESSAGE, 1, span_make("", 0)}, 0) == 0);
    CHECK_EQ_MEM(b.base, b.len,
                 "6\x1e"
                 "b");
    size_t len = b.len;
    eio_packet_t badp[] = {{EIO_PING, 0, SPAN_NULL}, {EIO_OPEN, 1, SPAN_LIT("x")}};
    CHECK_EQ_INT(eio_payload_encode(&b, badp, 2), RS_EINVAL);
    CHECK_EQ_INT(b.len, len);
    buf_free(&b);
}

TEST(payload_round_trip)
{
    char bin[256];
    for (int i = 0; i < 256; i++) bin[i] = (char)i;
    eio_packet_t in[] = {
        {EIO_OPEN, 0, SPAN_LIT("{\"sid\":\"x\"}")},
        {EIO_CLOSE, 0, SPAN_NULL},
        {EIO_PING, 0, SPAN_LIT("probe")},
        {EIO_PONG, 0, SPAN_NULL},
        {EIO_MESSAGE, 0, SPAN_LIT("2[\"\xe2\x82\xac\xf0\x9f\x98\x80\"]")},
        {EIO_MESSAGE, 1, span_make(bin, 256)},
        {EIO_MESSAGE, 1, span_make(bin, 1)},
        {EIO_MESSAGE, 1, span_make(bin, 2)},
        {EIO_UPGRADE, 0, SPAN_NULL},
        {EIO_NOOP, 0, SPAN_NULL},
    };
    size_t n = sizeof in / sizeof in[0];
    buf_t body = BUF_INIT, scratch = BUF_INIT;
    REQUIRE(eio_payload_encode(&body, in, n) == 0);
    CHECK_EQ_INT(eio_payload_validate(buf_span(&body), 0), (int)n);
    eio_payload_iter_t it;
    eio_payload_iter_init(&it, buf_span(&body), 0);
    for (size_t i = 0; i < n; i++) {
        eio_packet_t p;
        REQUIRE(eio_payload_next(&it, &scratch, &p) == 1);
        CHECK_EQ_INT(p.type, in[i].type);
        CHECK_EQ_INT(p.binary, in[i].binary);
        CHECK(span_eq(p.data, in[i].data));
    }
    eio_packet_t p;
    CHECK_EQ_INT(eio_payload_next(&it, &scratch, &p), 0);
    buf_free(&body);
    buf_free(&scratch);
}

TEST(open_packet_json)
{
    buf_t b = BUF_INIT;
    const char *up[] = {"websocket"};
    REQUIRE(eio_open_json(&b, SPAN_LIT("lv_VI97HAXpY6yYWAAAC"), up, 1, 25000, 20000, 1000000) == 0);
    CHECK_EQ_MEM(b.base, b.len,
                 "{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"],"
                 "\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}");
    b.len = 0;
    REQUIRE(eio_open_json(&b, SPAN_LIT("abc"), NULL, 0, 300, 200, 1000000) == 0);
    CHECK_EQ_MEM(b.base, b.len,
                 "{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":300,\"pingTimeout\":200,"
                 "\"maxPayload\":1000000}");
    buf_free(&b);
}

TEST(error_bodies)
{
    static const char *expect[] = {
        "{\"code\":0,\"message\":\"Transport unknown\"}",
        "{\"code\":1,\"message\":\"Session ID unknown\"}",
        "{\"code\":2,\"message\":\"Bad handshake method\"}",
        "{\"code\":3,\"message\":\"Bad request\"}",
        "{\"code\":4,\"message\":\"Forbidden\"}",
        "{\"code\":5,\"message\":\"Unsupported protocol version\"}",
    };
    for (int c = 0; c <= 5; c++) {
        buf_t b = BUF_INIT;
        REQUIRE(eio_error_json(&b, c, SPAN_NULL) == 0);
        CHECK_EQ_MEM(b.base, b.len, expect[c]);
        CHECK_EQ_INT(eio_error_status(c), c == EIO_ERR_FORBIDDEN ? 403 : 400);
        buf_free(&b);
    }
    buf_t b = BUF_INIT;
    REQUIRE(eio_error_json(&b, EIO_ERR_FORBIDDEN, SPAN_LIT("not \"allowed\"")) == 0);
    CHECK_EQ_MEM(b.base, b.len, "{\"code\":4,\"message\":\"not \\\"allowed\\\"\"}");
    buf_free(&b);
    CHECK_EQ_STR(eio_error_message(99), "Bad request");
}
