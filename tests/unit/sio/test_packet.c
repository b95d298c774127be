/* Tests for sio/packet: decoding and validation as strict as socket.io-parser 4.2.x, binary
 * reconstruction, and encoders compared byte for byte with the reference (examples from
 * docs/socket.io-protocol/v5-current.md, its test suite and socket.io-parser's own tests). */
#include "sio/packet.h"

#include <stdarg.h>
#include <sys/mman.h>

#include "test.h"
#include "util/err.h"

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

static int decode_str(const char *s, sio_packet_t *p)
{
    return sio_packet_decode(guarded(s, strlen(s)), p);
}

static int rejects(const char *s)
{
    sio_packet_t p;
    int rc = decode_str(s, &p);
    if (rc == 0) sio_packet_clear(&p);
    return rc == RS_EPROTO;
}

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v) abort();
    return v;
}

#define ENC_EQ(call, expect)                                                                       \
    do {                                                                                           \
        buf_t b_ = BUF_INIT;                                                                       \
        int rc_ = (call(&b_));                                                                     \
        if (rc_)                                                                                   \
            TEST_FAIL_AT("%s: rc %d", #call, rc_);                                                 \
        else                                                                                       \
            CHECK_EQ_MEM(b_.base, b_.len, expect);                                                 \
        buf_free(&b_);                                                                             \
    } while (0)

/* ---- decoding ------------------------------------------------------------------------------- */

TEST(decodes_connect_forms)
{
    sio_packet_t p;
    REQUIRE(decode_str("0", &p) == 0);
    CHECK_EQ_INT(p.type, SIO_CONNECT);
    CHECK_EQ_MEM(p.nsp.base, p.nsp.len, "/");
    CHECK(p.payload.base == NULL);
    CHECK_EQ_INT(p.payload_kind, RS_JSON_NONE);
    CHECK_EQ_INT(p.ack_id, SIO_NO_ACK);
    sio_packet_clear(&p);

    REQUIRE(decode_str("0/custom,", &p) == 0);
    CHECK_EQ_MEM(p.nsp.base, p.nsp.len, "/custom");
    CHECK(p.payload.base == NULL);
    sio_packet_clear(&p);

    REQUIRE(decode_str("0/random", &p) == 0); /* the trailing comma is optional */
    CHECK_EQ_MEM(p.nsp.base, p.nsp.len, "/random");
    sio_packet_clear(&p);

    REQUIRE(decode_str("0/custom,{\"token\":\"abc\"}", &p) == 0);
    CHECK_EQ_MEM(p.payload.base, p.payload.len, "{\"token\":\"abc\"}");
    CHECK_EQ_INT(p.payload_kind, RS_JSON_OBJECT);
    json_t *d;
    REQUIRE(sio_packet_data(&p, &d) == 0);
    CHECK_EQ_STR(json_string_value(json_object_get(d, "token")), "abc");
    sio_packet_clear(&p);

    REQUIRE(decode_str("0{\"pid\":\"x\",\"offset\":\"1-0\"}", &p) == 0);
    CHECK_EQ_MEM(p.nsp.base, p.nsp.len, "/");
    sio_packet_clear(&p);
}

TEST(decodes_events_and_acks)
{
    sio_packet_t p;
    REQUIRE(decode_str("2[\"message\",1,\"2\",{\"3\":[true]}]", &p) == 0);
    CHECK_EQ_INT(p.type, SIO_EVENT);
    CHECK_EQ_MEM(p.event.base, p.event.len, "message");
    CHECK_EQ_INT(p.event_is_number, 0);
    CHECK_EQ_MEM(p.args.base, p.args.len, "1,\"2\",{\"3\":[true]}");
    CHECK_EQ_INT(p.nargs, 3);
    sio_packet_clear(&p);

    REQUIRE(decode_str("2456[\"message-with-ack\"]", &p) == 0);
    CHECK_EQ_INT(p.ack_id, 456);
    CHECK_EQ_MEM(p.event.base, p.event.len, "message-with-ack");
    CHECK_EQ_INT(p.args.len, 0);
    CHECK_EQ_INT(p.nargs, 0);
    sio_packet_clear(&p);

    REQUIRE(decode_str("2/admin,0[\"x\"]", &p) == 0);
    CHECK_EQ_MEM(p.nsp.base, p.nsp.len, "/admin");
    CHECK_EQ_INT(p.ack_id, 0);
    sio_packet_clear(&p);

    REQUIRE(decode_str("2[42,\"a\"]", &p) == 0); /* number event names are allowed */
    CHECK_EQ_INT(p.event_is_number, 1);
    CHECK_EQ_MEM(p.event.base, p.event.len, "42");
    CHECK_EQ_MEM(p.args.base, p.args.len, "\"a\"");
    sio_packet_clear(&p);

    REQUIRE(decode_str("3/admin,13[\"bar\"]", &p) == 0);
    CHECK_EQ_INT(p.type, SIO_ACK);
    CHECK_EQ_INT(p.ack_id, 13);
    CHECK_EQ_MEM(p.args.base, p.args.len, "\"bar\"");
    CHECK_EQ_INT(p.nargs, 1);
    sio_packet_clear(&p);

    REQUIRE(decode_str("312[]", &p) == 0);
    CHECK_EQ_INT(p.nargs, 0);
    CHECK_EQ_INT(p.args.len, 0);
    sio_packet_clear(&p);

    REQUIRE(decode_str("1/admin,", &p) == 0);
    CHECK_EQ_INT(p.type, SIO_DISCONNECT);
    CHECK_EQ_MEM(p.nsp.base, p.nsp.len, "/admin");
    sio_packet_clear(&p);

    REQUIRE(decode_str("4\"Unauthorized\"", &p) == 0);
    CHECK_EQ_INT(p.payload_kind, RS_JSON_STRING);
    sio_packet_clear(&p);
    REQUIRE(decode_str("4{\"message\":\"Unauthorized\"}", &p) == 0);
    sio_packet_clear(&p);
}

TEST(ack_id_bounds)
{
    sio_packet_t p;
    REQUIRE(decode_str("29007199254740991[\"a\"]", &p) == 0);
    CHECK(p.ack_id == SIO_ACK_ID_MAX);
    sio_packet_clear(&p);
    REQUIRE(decode_str("2000000000000000000000000000007[\"a\"]", &p) == 0); /* leading zeros */
    CHECK_EQ_INT(p.ack_id, 7);
    sio_packet_clear(&p);
    CHECK(rejects("29007199254740992[\"a\"]"));
    CHECK(rejects("299999999999999999999999999999[\"a\"]"));
}

TEST(escaped_and_multibyte_names)
{
    sio_packet_t p;
    REQUIRE(decode_str("2[\"\\u0061b\\nc\"]", &p) == 0);
    CHECK_EQ_MEM(p.event.base, p.event.len, "ab\nc");
    sio_packet_clear(&p);
    /* JSON.parse resolves escapes before the reserved-name check, so must we. */
    CHECK(rejects("2[\"\\u0063onnect\"]"));
    REQUIRE(
        decode_str("2/\xc3\xbc,[\"h\xc3\xa9llo\xe2\x82\xac\xf0\x9f\x98\x80\",\"\xf0\x9f\x98\x80\"]",
                   &p) == 0);
    CHECK_EQ_MEM(p.nsp.base, p.nsp.len, "/\xc3\xbc");
    CHECK_EQ_MEM(p.event.base, p.event.len, "h\xc3\xa9llo\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK_EQ_MEM(p.args.base, p.args.len, "\"\xf0\x9f\x98\x80\"");
    sio_packet_clear(&p);
    CHECK(rejects("2/\xff,[\"a\"]"));            /* namespace not UTF-8 */
    CHECK(rejects("2[\"\xc3\"]"));               /* truncated sequence */
    CHECK(rejects("2[\"a\",\"\xed\xa0\x80\"]")); /* UTF-16 surrogate in UTF-8 */
    CHECK(rejects("2[\"a\",\"\\ud800\"]"));      /* lone surrogate escape */
}

TEST(rejects_like_the_reference_parser)
{
    /* socket.io-parser test/parser.js "throw an error upon parsing error" */
    static const char *bad[] = {
        "42[\"some\",\"data\"",
        "0/admin,\"invalid\"",
        "0[]",
        "1/admin,{}",
        "2/admin,\"invalid",
        "2/admin,{}",
        "2[{\"toString\":\"foo\"}]",
        "2[true,\"foo\"]",
        "2[null,\"bar\"]",
        "2[\"connect\"]",
        "2[\"disconnect\",\"123\"]",
        "5",
        "51",
        "5a-",
        "51.23-",
        "999",
        /* the Socket.IO v5 test suite */
        "abc",
        "2{}",
        "2abc[\"message-with-ack\",1,\"2\",{\"3\":[false]}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!rejects(bad[i])) TEST_FAIL_AT("accepted %s", bad[i]);
}

TEST(rejects_reserved_event_names)
{
    static const char *names[] = {"connect",       "connect_error", "disconnect",
                                  "disconnecting", "newListener",   "removeListener"};
    for (size_t i = 0; i < 6; i++) {
        char s[64];
        snprintf(s, sizeof s, "2[\"%s\",1]", names[i]);
        CHECK(rejects(s));
        snprintf(s, sizeof s, "51-[\"%s\",{\"_placeholder\":true,\"num\":0}]", names[i]);
        CHECK(rejects(s));
    }
    sio_packet_t p;
    REQUIRE(decode_str("2[\"connected\"]", &p) == 0);
    sio_packet_clear(&p);
    REQUIRE(decode_str("2[\"error\"]", &p) == 0);
    sio_packet_clear(&p);
}

TEST(rejects_bad_structure)
{
    static const char *bad[] = {
        "",
        "7",
        "8[\"a\"]",
        "/",
        "2",
        "2[]",
        "2[ ]",
        "2 ",
        "2[\"a\"] x",
        "2[\"a\"]]",
        "2[\"a\"",
        "2[\"a\",]",
        "2[[\"a\"]]",
        "2[{}]",
        "2[\"a\"]\n,",
        "2/nsp,",
        "3[]",
        "3/admin,[]",
        "3[\"a\"]",
        "312{}",
        "312\"a\"",
        "312", /* acks need an id and an array */
        "05{}",
        "15",
        "1/a,3",
        "44{}", /* ack id where none belongs */
        "4",
        "4[]",
        "41",
        "4null", /* connect error payloads */
        "0null",
        "0\"x\"",
        "0{} ,", /* connect payloads */
        "1null",
        "1{}", /* disconnect: nothing */
        "5-[\"a\"]",
        "5 1-[\"a\"]",
        "50x1-[\"a\"]",
        "511-[\"a\"]",
        "599999999999-[\"a\"]",
        "51[\"a\"]",
        "6[\"a\"]",
        "61-[{\"_placeholder\":true,\"num\":0}]", /* binary ack, no id */
        "51-{\"a\":1}",
        "51-",
        "51-/a",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!rejects(bad[i])) TEST_FAIL_AT("accepted \"%s\"", bad[i]);
}

TEST(attachment_count_limit)
{
    char s[512];
    for (int n = 9; n <= 11; n++) {
        int o = snprintf(s, sizeof s, "5%d-[\"hello\"", n);
        for (int i = 0; i < n; i++)
            o += snprintf(s + o, sizeof s - (size_t)o, ",{\"_placeholder\":true,\"num\":%d}", i);
        snprintf(s + o, sizeof s - (size_t)o, "]");
        sio_packet_t p;
        int rc = decode_str(s, &p);
        CHECK_EQ_INT(rc, n <= SIO_MAX_ATTACHMENTS ? 0 : RS_EPROTO);
        if (rc == 0) {
            CHECK_EQ_INT(p.attachments, n);
            CHECK_EQ_INT(p.type, SIO_BINARY_EVENT);
            sio_packet_clear(&p);
        }
    }
    sio_packet_t p;
    REQUIRE(decode_str("5010-[\"a\"]", &p) == 0); /* leading zeros: 10 */
    CHECK_EQ_INT(p.attachments, 10);
    sio_packet_clear(&p);
}

TEST(placeholder_validation)
{
    static const char *bad[] = {
        "51-[\"hello\",{\"_placeholder\":true,\"num\":\"splice\"}]",
        "51-[\"hello\",{\"_placeholder\":true,\"num\":1}]",
        "52-[\"hello\",{\"_placeholder\":true,\"num\":2}]",
        "51-[\"hello\",{\"_placeholder\":true,\"num\":-1}]",
        "51-[\"hello\",{\"_placeholder\":true,\"num\":0.5}]",
        "51-[\"hello\",{\"_placeholder\":true}]",
        "51-[\"hello\",{\"_placeholder\":true,\"num\":null}]",
        "51-[\"hello\",{\"_placeholder\":true,\"num\":[0]}]",
        "51-[\"hello\",{\"_placeholder\":true,\"num\":{}}]",
        "51-[\"hello\",{\"a\":{\"b\":[{\"_placeholder\":true,\"num\":3}]}}]",
        "51-[\"hello\",{\"\\u005fplaceholder\":true,\"n\\u0075m\":1}]",
        "51-[\"hello\",{\"_placeholder\":true,\"num\":0,\"num\":5}]",
        "52-[\"hello\",{\"_placeholder\":true,\"num\":1e300}]",
        "61-2[{\"_placeholder\":true,\"num\":1}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!rejects(bad[i])) TEST_FAIL_AT("accepted %s", bad[i]);
    static const char *good[] = {
        "51-[\"hello\",{\"_placeholder\":true,\"num\":0}]",
        "52-[\"hello\",{\"num\":1,\"_placeholder\":true},{\"_placeholder\":true,\"num\":0}]",
        "52-[\"hello\",{\"_placeholder\":true,\"num\":1.0},{\"_placeholder\":true,\"num\":1e0}]",
        "51-[\"hello\",{\"_placeholder\":true,\"num\":-0}]",
        "51-[\"hello\",{\"_placeholder\":true,\"num\":5,\"num\":0}]",
        "51-[\"hello\",{\"_placeholder\":false,\"num\":99}]",
        "51-[\"hello\",{\"_placeholder\":\"true\",\"num\":99}]",
        "51-[\"hello\",{\"_placeholder\":true,\"_placeholder\":false,\"num\":99}]",
        "51-[\"hello\"]", /* an attachment may go unused */
        "52-[\"hello\",{\"x\":[{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":1}]"
        "}]",
        /* with 0 attachments placeholders are plain data, as in the reference */
        "50-[\"hello\",{\"_placeholder\":true,\"num\":7}]",
        "2[\"hello\",{\"_placeholder\":true,\"num\":7}]",
        "60-5[{\"_placeholder\":true,\"num\":3}]",
        "61-5[{\"_placeholder\":true,\"num\":0}]",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        sio_packet_t p;
        int rc = decode_str(good[i], &p);
        if (rc)
            TEST_FAIL_AT("rejected %s (%d)", good[i], rc);
        else
            sio_packet_clear(&p);
    }
}

TEST(depth_limit_before_parsing)
{
    char s[256];
    for (int d = 30; d <= 33; d++) {
        /* 2["a",[[...]]]: the payload array itself is one level */
        int o = snprintf(s, sizeof s, "2[\"a\",");
        for (int i = 0; i < d - 1; i++) s[o++] = '[';
        for (int i = 0; i < d - 1; i++) s[o++] = ']';
        s[o++] = ']';
        s[o] = '\0';
        sio_packet_t p;
        int rc = decode_str(s, &p);
        CHECK_EQ_INT(rc, d <= SIO_JSON_MAX_DEPTH ? 0 : RS_EPROTO);
        if (rc == 0) {
            json_t *v;
            CHECK_EQ_INT(sio_packet_data(&p, &v), 0);
            CHECK(json_is_array(v));
            sio_packet_clear(&p);
        }
    }
    /* A million levels: refused by the scan, no recursion anywhere. */
    size_t n = 1000000;
    char *big = malloc(n + 8);
    REQUIRE(big);
    memcpy(big, "2[\"a\",", 6);
    memset(big + 6, '[', n);
    CHECK(sio_packet_decode(span_make(big, n + 6), &(sio_packet_t){0}) == RS_EPROTO);
    free(big);
}

TEST(every_prefix_stays_in_bounds)
{
    const char *msgs[] = {
        "52-/admin,789[\"message-with-ack\",{\"_placeholder\":true,\"num\":0},"
        "{\"_placeholder\":true,\"num\":1},\"\\u00e9\"]",
        "0/custom,{\"token\":\"abc\",\"n\":[1,2.5e3,null]}",
        "3/x,13[\"a\",{\"b\":\"\xf0\x9f\x98\x80\"}]",
    };
    for (size_t m = 0; m < sizeof msgs / sizeof msgs[0]; m++) {
        size_t n = strlen(msgs[m]);
        for (size_t i = 0; i <= n; i++) {
            span_t in = guarded(msgs[m], i);
            sio_packet_t p;
            int rc = sio_packet_decode(in, &p);
            CHECK(rc == 0 || rc == RS_EPROTO);
            if (rc == 0) {
                CHECK(p.payload.base == NULL ||
                      (p.payload.base >= in.base && p.payload.base + p.payload.len == in.base + i));
                sio_packet_clear(&p);
            }
            CHECK_EQ_INT(rc, i == n ? 0 : rc); /* the whole message decodes */
        }
        sio_packet_t p;
        CHECK_EQ_INT(decode_str(msgs[m], &p), 0);
        sio_packet_clear(&p);
    }
}

/* ---- binary reconstruction ------------------------------------------------------------------ */

TEST(reconstructs_binary_event)
{
    sio_decoder_t d = SIO_DECODER_INIT;
    sio_packet_t p;
    char msg[] = "452-/admin,7[\"message\",{\"_placeholder\":true,\"num\":0},"
                 "{\"k\":{\"_placeholder\":true,\"num\":1}}]";
    /* The Engine.IO data after the '4'; the buffer is scribbled over after the call to show the
     * pending packet kept its own copy. */
    CHECK_EQ_INT(sio_decoder_text(&d, span_make(msg + 1, strlen(msg) - 1), &p), 0);
    CHECK(sio_decoder_busy(&d));
    memset(msg, 'X', sizeof msg - 1);
    CHECK_EQ_INT(sio_decoder_binary(&d, SPAN_LIT("\x01\x02\x03"), &p), 0);
    REQUIRE(sio_decoder_binary(&d, SPAN_LIT("\x04\x05\x06"), &p) == 1);
    CHECK(!sio_decoder_busy(&d));
    CHECK_EQ_INT(p.type, SIO_EVENT);
    CHECK_EQ_INT(p.attachments, 2);
    CHECK_EQ_INT(p.nbinaries, 2);
    CHECK_EQ_MEM(p.nsp.base, p.nsp.len, "/admin");
    CHECK_EQ_INT(p.ack_id, 7);
    CHECK_EQ_MEM(p.event.base, p.event.len, "message");
    CHECK_EQ_MEM(p.args.base, p.args.len,
                 "{\"_placeholder\":true,\"num\":0},{\"k\":{\"_placeholder\":true,\"num\":1}}");
    CHECK(p.binaries[1]->len == 3 && memcmp(p.binaries[1]->data, "\x04\x05\x06", 3) == 0);

    json_t *data;
    REQUIRE(sio_packet_data(&p, &data) == 0);
    span_t bin;
    CHECK_EQ_INT(sio_packet_binary(&p, json_array_get(data, 1), &bin), 1);
    CHECK(bin.len == 3 && memcmp(bin.base, "\x01\x02\x03", 3) == 0);
    CHECK_EQ_INT(sio_packet_binary(&p, json_object_get(json_array_get(data, 2), "k"), &bin), 1);
    CHECK(bin.len == 3 && memcmp(bin.base, "\x04\x05\x06", 3) == 0);
    CHECK_EQ_INT(sio_packet_binary(&p, json_array_get(data, 2), &bin), 0);
    CHECK_EQ_INT(sio_packet_binary(&p, json_array_get(data, 0), &bin), 0);

    /* Echo: the argument text and the attachments go back out unchanged. */
    buf_t out = BUF_INIT;
    buf_append_byte(&out, '4');
    REQUIRE(sio_encode_event_raw(&out, p.nsp, SIO_NO_ACK, SPAN_LIT("message-back"), &p.args, 1,
                                 p.nbinaries) == 0);
    CHECK_EQ_MEM(out.base, out.len,
                 "452-/admin,[\"message-back\",{\"_placeholder\":true,\"num\":0},"
                 "{\"k\":{\"_placeholder\":true,\"num\":1}}]");
    buf_free(&out);
    sio_packet_clear(&p);

    /* The decoder is reusable. */
    REQUIRE(sio_decoder_text(&d, SPAN_LIT("2[\"x\"]"), &p) == 1);
    CHECK_EQ_MEM(p.event.base, p.event.len, "x");
    sio_packet_clear(&p);
}

TEST(reconstructs_binary_ack_and_zero_attachments)
{
    sio_decoder_t d = SIO_DECODER_INIT;
    sio_packet_t p;
    CHECK_EQ_INT(
        sio_decoder_text(&d, SPAN_LIT("61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]"), &p), 0);
    REQUIRE(sio_decoder_binary(&d, span_make("", 0), &p) == 1); /* empty attachment */
    CHECK_EQ_INT(p.type, SIO_ACK);
    CHECK_EQ_INT(p.ack_id, 15);
    CHECK_EQ_INT(p.nbinaries, 1);
    CHECK_EQ_INT(p.binaries[0]->len, 0);
    sio_packet_clear(&p);

    REQUIRE(sio_decoder_text(&d, SPAN_LIT("50-[\"a\",{\"_placeholder\":true,\"num\":0}]"), &p) ==
            1);
    CHECK_EQ_INT(p.type, SIO_EVENT);
    CHECK_EQ_INT(p.nbinaries, 0);
    json_t *v;
    REQUIRE(sio_packet_data(&p, &v) == 0);
    span_t bin;
    CHECK_EQ_INT(sio_packet_binary(&p, json_array_get(v, 1), &bin), 0);
    sio_packet_clear(&p);
    CHECK(!sio_decoder_busy(&d));
}

TEST(reconstruction_errors)
{
    sio_decoder_t d = SIO_DECODER_INIT;
    sio_packet_t p;
    /* binary with nothing pending */
    CHECK_EQ_INT(sio_decoder_binary(&d, SPAN_LIT("world"), &p), RS_EPROTO);
    /* text while attachments are awaited */
    CHECK_EQ_INT(
        sio_decoder_text(&d, SPAN_LIT("51-[\"hello\",{\"_placeholder\":true,\"num\":0}]"), &p), 0);
    CHECK_EQ_INT(sio_decoder_text(&d, SPAN_LIT("2[\"hello\"]"), &p), RS_EPROTO);
    CHECK(!sio_decoder_busy(&d));
    /* an invalid header leaves nothing pending */
    CHECK_EQ_INT(
        sio_decoder_text(&d, SPAN_LIT("51-[\"hello\",{\"_placeholder\":true,\"num\":1}]"), &p),
        RS_EPROTO);
    CHECK(!sio_decoder_busy(&d));
    /* size cap across attachments */
    d.max_binary_bytes = 5;
    CHECK_EQ_INT(sio_decoder_text(&d, SPAN_LIT("52-[\"a\",{\"_placeholder\":true,\"num\":0}]"), &p),
                 0);
    CHECK_EQ_INT(sio_decoder_binary(&d, SPAN_LIT("abc"), &p), 0);
    CHECK_EQ_INT(sio_decoder_binary(&d, SPAN_LIT("def"), &p), RS_ETOOBIG);
    CHECK(!sio_decoder_busy(&d));
    /* reset drops a pending packet */
    CHECK_EQ_INT(sio_decoder_text(&d, SPAN_LIT("51-[\"a\",{\"_placeholder\":true,\"num\":0}]"), &p),
                 0);
    sio_decoder_reset(&d);
    CHECK(!sio_decoder_busy(&d));
    CHECK_EQ_INT(sio_decoder_binary(&d, SPAN_LIT("x"), &p), RS_EPROTO);
}

/* ---- encoding ------------------------------------------------------------------------------- */

static int enc_connect_root(buf_t *b)
{
    return sio_encode(b, SIO_CONNECT, SPAN_LIT("/"), SIO_NO_ACK, NULL, 0);
}
static int enc_connect_admin(buf_t *b)
{
    return sio_encode_connect(b, SPAN_LIT("/admin"), SPAN_LIT("oSO0OpakMV_3jnilAAAA"), SPAN_NULL);
}
static int enc_connect_pid(buf_t *b)
{
    buf_append_byte(b, '4');
    return sio_encode_connect(b, SPAN_LIT("/"), SPAN_LIT("wZX3oN0bSVIhsaknAAAI"), SPAN_LIT("p1"));
}
static int enc_not_authorized(buf_t *b)
{
    return sio_encode_connect_error(b, SPAN_LIT("/"), SPAN_LIT("Not authorized"), NULL);
}
static int enc_invalid_nsp(buf_t *b)
{
    buf_append_byte(b, '4');
    return sio_encode_connect_error(b, SPAN_LIT("/random"), SPAN_LIT("Invalid namespace"), NULL);
}
static int enc_connect_error_data(buf_t *b)
{
    json_t *d = J("{\"retry\":5}");
    int rc = sio_encode_connect_error(b, SPAN_LIT("/x"), SPAN_LIT("no"), d);
    json_decref(d);
    return rc;
}
static int enc_foo(buf_t *b)
{
    return sio_encode_event(b, SPAN_LIT("/"), SIO_NO_ACK, SPAN_LIT("foo"), NULL, 0);
}
static int enc_bar_admin(buf_t *b)
{
    return sio_encode_event(b, SPAN_LIT("/admin"), SIO_NO_ACK, SPAN_LIT("bar"), NULL, 0);
}
static int enc_baz_binary(buf_t *b)
{
    json_t *args = json_array();
    json_array_append_new(args, sio_placeholder_new(0));
    int rc = sio_encode_event(b, SPAN_LIT("/"), SIO_NO_ACK, SPAN_LIT("baz"), args, 1);
    json_decref(args);
    return rc;
}
static int enc_baz_two(buf_t *b)
{
    json_t *args = json_array();
    json_array_append_new(args, sio_placeholder_new(0));
    json_array_append_new(args, sio_placeholder_new(1));
    int rc = sio_encode_event(b, SPAN_LIT("/admin"), SIO_NO_ACK, SPAN_LIT("baz"), args, 2);
    json_decref(args);
    return rc;
}
static int enc_foo_ack(buf_t *b)
{
    return sio_encode_event(b, SPAN_LIT("/"), 12, SPAN_LIT("foo"), NULL, 0);
}
static int enc_ack_admin(buf_t *b)
{
    json_t *args = J("[\"bar\"]");
    int rc = sio_encode_ack(b, SPAN_LIT("/admin"), 13, args, 0);
    json_decref(args);
    return rc;
}
static int enc_binary_ack(buf_t *b)
{
    json_t *args = json_array();
    json_array_append_new(args, json_string("bar"));
    json_array_append_new(args, sio_placeholder_new(0));
    int rc = sio_encode_ack(b, SPAN_LIT("/"), 15, args, 1);
    json_decref(args);
    return rc;
}
static int enc_empty_ack(buf_t *b)
{
    return sio_encode_ack(b, SPAN_LIT("/"), 12, NULL, 0);
}
static int enc_disconnect_root(buf_t *b)
{
    return sio_encode_disconnect(b, SPAN_LIT("/"));
}
static int enc_disconnect_admin(buf_t *b)
{
    return sio_encode_disconnect(b, SPAN_LIT("/admin"));
}
static int enc_tellme_ack(buf_t *b)
{
    json_t *args = json_array();
    json_array_append_new(args, sio_placeholder_new(0));
    buf_append_byte(b, '4');
    int rc = sio_encode_ack(b, SPAN_LIT("/admin"), 1, args, 1);
    json_decref(args);
    return rc;
}

TEST(encodings_match_the_spec)
{
    ENC_EQ(enc_connect_root, "0");
    ENC_EQ(enc_connect_admin, "0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}");
    ENC_EQ(enc_connect_pid, "40{\"sid\":\"wZX3oN0bSVIhsaknAAAI\",\"pid\":\"p1\"}");
    ENC_EQ(enc_not_authorized, "4{\"message\":\"Not authorized\"}");
    ENC_EQ(enc_invalid_nsp, "44/random,{\"message\":\"Invalid namespace\"}");
    ENC_EQ(enc_connect_error_data, "4/x,{\"message\":\"no\",\"data\":{\"retry\":5}}");
    ENC_EQ(enc_foo, "2[\"foo\"]");
    ENC_EQ(enc_bar_admin, "2/admin,[\"bar\"]");
    ENC_EQ(enc_baz_binary, "51-[\"baz\",{\"_placeholder\":true,\"num\":0}]");
    ENC_EQ(enc_baz_two, "52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},"
                        "{\"_placeholder\":true,\"num\":1}]");
    ENC_EQ(enc_foo_ack, "212[\"foo\"]");
    ENC_EQ(enc_ack_admin, "3/admin,13[\"bar\"]");
    ENC_EQ(enc_binary_ack, "61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]");
    ENC_EQ(enc_empty_ack, "312[]");
    ENC_EQ(enc_disconnect_root, "1");
    ENC_EQ(enc_disconnect_admin, "1/admin,");
    ENC_EQ(enc_tellme_ack, "461-/admin,1[{\"_placeholder\":true,\"num\":0}]");
}

/* socket.io-parser test/parser.js and test/buffer.js: packet objects -> encodeAsString output. */
TEST(encodings_match_the_reference_parser_tests)
{
    static const struct {
        int type;
        const char *nsp;
        int64_t id;
        const char *data; /* JSON or NULL */
        int nbin;
        const char *wire;
    } cases[] = {
        {SIO_CONNECT, "/woot", SIO_NO_ACK, "{\"token\":\"123\"}", 0, "0/woot,{\"token\":\"123\"}"},
        {SIO_DISCONNECT, "/woot", SIO_NO_ACK, NULL, 0, "1/woot,"},
        {SIO_EVENT, "/", SIO_NO_ACK, "[\"a\",1,{}]", 0, "2[\"a\",1,{}]"},
        {SIO_EVENT, "/", SIO_NO_ACK, "[1,\"a\",{}]", 0, "2[1,\"a\",{}]"},
        {SIO_EVENT, "/test", 1, "[\"a\",1,{}]", 0, "2/test,1[\"a\",1,{}]"},
        {SIO_ACK, "/", 123, "[\"a\",1,{}]", 0, "3123[\"a\",1,{}]"},
        {SIO_CONNECT_ERROR, "/", SIO_NO_ACK, "\"Unauthorized\"", 0, "4\"Unauthorized\""},
        {SIO_CONNECT_ERROR, "/", SIO_NO_ACK, "{\"message\":\"Unauthorized\"}", 0,
         "4{\"message\":\"Unauthorized\"}"},
        {SIO_EVENT, "/cool", 23, "[\"a\",{\"_placeholder\":true,\"num\":0}]", 1,
         "51-/cool,23[\"a\",{\"_placeholder\":true,\"num\":0}]"},
        {SIO_EVENT, "/cool", 23, "[\"a\",{\"b\":[\"c\",{\"_placeholder\":true,\"num\":0}]}]", 1,
         "51-/cool,23[\"a\",{\"b\":[\"c\",{\"_placeholder\":true,\"num\":0}]}]"},
        {SIO_ACK, "/back", 127, "[\"a\",{\"_placeholder\":true,\"num\":0},{}]", 1,
         "61-/back,127[\"a\",{\"_placeholder\":true,\"num\":0},{}]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *data = cases[i].data ? J(cases[i].data) : NULL;
        buf_t b = BUF_INIT;
        int rc = sio_encode(&b, cases[i].type, span_cstr(cases[i].nsp), cases[i].id, data,
                            cases[i].nbin);
        if (rc)
            TEST_FAIL_AT("case %zu: rc %d", i, rc);
        else
            CHECK_EQ_MEM(b.base, b.len, cases[i].wire);

        /* and back: decoding yields the same packet, re-encoding the same bytes */
        sio_decoder_t d = SIO_DECODER_INIT;
        sio_packet_t p;
        rc = sio_decoder_text(&d, buf_span(&b), &p);
        for (int k = 0; rc == 0 && k < cases[i].nbin; k++)
            rc = sio_decoder_binary(&d, SPAN_LIT("abc"), &p);
        if (rc != 1) {
            TEST_FAIL_AT("case %zu: decode %d", i, rc);
        } else {
            json_t *back;
            REQUIRE(sio_packet_data(&p, &back) == 0);
            CHECK((data == NULL) == (back == NULL));
            if (data) CHECK(json_equal(data, back));
            buf_t again = BUF_INIT;
            REQUIRE(sio_encode(&again, p.type, p.nsp, p.ack_id, back, p.nbinaries) == 0);
            CHECK(span_eq(buf_span(&again), buf_span(&b)));
            buf_free(&again);
            sio_packet_clear(&p);
        }
        sio_decoder_reset(&d);
        buf_free(&b);
        json_decref(data);
    }
}

TEST(round_trip_every_type_namespace_and_ack)
{
    static const char *nsps[] = {"/", "/admin", "/\xc3\xbc\xe2\x82\xac"};
    static const int64_t ids[] = {SIO_NO_ACK, 0, 12, SIO_ACK_ID_MAX};
    static const struct {
        int type;
        const char *data;
        int nbin;
    } shapes[] = {
        {SIO_CONNECT, NULL, 0},
        {SIO_CONNECT, "{\"token\":\"\xf0\x9f\x98\x80\"}", 0},
        {SIO_DISCONNECT, NULL, 0},
        {SIO_EVENT, "[\"ev\",null,1.5,-2,\"\\u0000\",[],{\"a\":[true,false]}]", 0},
        {SIO_EVENT, "[7]", 0},
        {SIO_ACK, "[]", 0},
        {SIO_ACK, "[\"x\",{\"y\":\"h\xc3\xa9\"}]", 0},
        {SIO_CONNECT_ERROR, "{\"message\":\"m\",\"data\":[1]}", 0},
        {SIO_CONNECT_ERROR, "\"plain\"", 0},
        {SIO_EVENT, "[\"b\",{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":0}]",
         2},
        {SIO_ACK, "[{\"_placeholder\":true,\"num\":0}]", 1},
    };
    int checked = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t n = 0; n < 3; n++)
            for (size_t a = 0; a < 4; a++) {
                int type = shapes[s].type;
                int64_t id = ids[a];
                int acky = type == SIO_EVENT || type == SIO_ACK;
                if (!acky && id != SIO_NO_ACK) continue;
                if (type == SIO_ACK && id == SIO_NO_ACK) continue;
                json_t *data = shapes[s].data ? J(shapes[s].data) : NULL;
                buf_t b = BUF_INIT;
                REQUIRE(sio_encode(&b, type, span_cstr(nsps[n]), id, data, shapes[s].nbin) == 0);
                sio_decoder_t d = SIO_DECODER_INIT;
                sio_packet_t p;
                int rc = sio_decoder_text(&d, buf_span(&b), &p);
                for (int k = 0; rc == 0 && k < shapes[s].nbin; k++) {
                    char bin[2] = {(char)k, (char)0xff};
                    rc = sio_decoder_binary(&d, span_make(bin, 2), &p);
                }
                if (rc != 1) {
                    TEST_FAIL_AT("%.*s: decode %d", (int)b.len, b.base, rc);
                    buf_free(&b);
                    json_decref(data);
                    continue;
                }
                CHECK_EQ_INT(p.type, type);
                CHECK(span_eq_cstr(p.nsp, nsps[n]));
                CHECK(p.ack_id == id);
                CHECK_EQ_INT(p.nbinaries, shapes[s].nbin);
                for (int k = 0; k < p.nbinaries; k++)
                    CHECK(p.binaries[k]->len == 2 && p.binaries[k]->data[0] == (char)k);
                json_t *back;
                REQUIRE(sio_packet_data(&p, &back) == 0);
                CHECK(data ? json_equal(data, back) : back == NULL);
                buf_t again = BUF_INIT;
                REQUIRE(sio_encode(&again, p.type, p.nsp, p.ack_id, back, p.nbinaries) == 0);
                CHECK(span_eq(buf_span(&again), buf_span(&b)));
                buf_free(&again);
                sio_packet_clear(&p);
                buf_free(&b);
                json_decref(data);
                checked++;
            }
    CHECK(checked > 60);
}

TEST(conformance_echoes_from_raw_text)
{
    /* message -> message-back, message-with-ack -> ack, auth from the CONNECT payload: the
     * expectations of the Socket.IO v5 test suite. */
    sio_packet_t p;
    buf_t out = BUF_INIT;
    REQUIRE(decode_str("2[\"message\",1,\"2\",{\"3\":[true]}]", &p) == 0);
    buf_append_byte(&out, '4');
    REQUIRE(sio_encode_event_raw(&out, p.nsp, SIO_NO_ACK, SPAN_LIT("message-back"), &p.args, 1,
                                 0) == 0);
    CHECK_EQ_MEM(out.base, out.len, "42[\"message-back\",1,\"2\",{\"3\":[true]}]");
    sio_packet_clear(&p);

    out.len = 0;
    REQUIRE(decode_str("2456[\"message-with-ack\",1,\"2\",{\"3\":[false]}]", &p) == 0);
    buf_append_byte(&out, '4');
    REQUIRE(sio_encode_ack_raw(&out, p.nsp, p.ack_id, &p.args, 1, 0) == 0);
    CHECK_EQ_MEM(out.base, out.len, "43456[1,\"2\",{\"3\":[false]}]");
    sio_packet_clear(&p);

    out.len = 0;
    REQUIRE(decode_str("0/custom,{\"token\":\"abc\"}", &p) == 0);
    buf_append_byte(&out, '4');
    REQUIRE(sio_encode_event_raw(&out, p.nsp, SIO_NO_ACK, SPAN_LIT("auth"), &p.payload, 1, 0) == 0);
    CHECK_EQ_MEM(out.base, out.len, "42/custom,[\"auth\",{\"token\":\"abc\"}]");
    sio_packet_clear(&p);

    /* Binary ack echo: 452-789["message-with-ack",ph0,ph1] -> 462-789[ph0,ph1] */
    sio_decoder_t d = SIO_DECODER_INIT;
    REQUIRE(sio_decoder_text(&d,
                             SPAN_LIT("52-789[\"message-with-ack\",{\"_placeholder\":true,\"num\":"
                                      "0},{\"_placeholder\":true,\"num\":1}]"),
                             &p) == 0);
    REQUIRE(sio_decoder_binary(&d, SPAN_LIT("\x01\x02\x03"), &p) == 0);
    REQUIRE(sio_decoder_binary(&d, SPAN_LIT("\x04\x05\x06"), &p) == 1);
    out.len = 0;
    buf_append_byte(&out, '4');
    REQUIRE(sio_encode_ack_raw(&out, p.nsp, p.ack_id, &p.args, 1, p.nbinaries) == 0);
    CHECK_EQ_MEM(out.base, out.len,
                 "462-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
    sio_packet_clear(&p);

    /* Fragments: empty ones are skipped, a recovery offset is appended as the last argument. */
    out.len = 0;
    span_t frags[] = {SPAN_LIT("1,{\"a\":2}"), span_make("", 0), SPAN_LIT("\"MjQ-0\"")};
    REQUIRE(sio_encode_event_raw(&out, SPAN_LIT("/"), SIO_NO_ACK, SPAN_LIT("ev"), frags, 3, 0) ==
            0);
    CHECK_EQ_MEM(out.base, out.len, "2[\"ev\",1,{\"a\":2},\"MjQ-0\"]");
    out.len = 0;
    REQUIRE(sio_encode_ack_raw(&out, SPAN_LIT("/"), 5, frags + 1, 1, 0) == 0);
    CHECK_EQ_MEM(out.base, out.len, "35[]");
    buf_free(&out);
}

TEST(encoder_refuses_bad_arguments)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "keep");
    json_t *arr = J("[\"a\"]"), *obj = J("{}"), *reserved = J("[\"disconnect\"]"), *empty = J("[]");
    CHECK_EQ_INT(sio_encode_event(&b, SPAN_LIT("/"), SIO_NO_ACK, SPAN_LIT("connect"), NULL, 0),
                 RS_EINVAL);
    CHECK_EQ_INT(
        sio_encode_event_raw(&b, SPAN_LIT("/"), SIO_NO_ACK, SPAN_LIT("newListener"), NULL, 0, 0),
        RS_EINVAL);
    CHECK_EQ_INT(sio_encode_event(&b, SPAN_LIT("/"), SIO_ACK_ID_MAX + 1, SPAN_LIT("a"), NULL, 0),
                 RS_EINVAL);
    CHECK_EQ_INT(sio_encode_event(&b, SPAN_LIT("/"), SIO_NO_ACK, SPAN_LIT("a"), obj, 0), RS_EINVAL);
    CHECK_EQ_INT(sio_encode_event(&b, SPAN_LIT("/"), SIO_NO_ACK, SPAN_LIT("a"), arr, 11),
                 RS_EINVAL);
    CHECK_EQ_INT(sio_encode_ack(&b, SPAN_LIT("/"), SIO_NO_ACK, arr, 0), RS_EINVAL);
    CHECK_EQ_INT(sio_encode_ack_raw(&b, SPAN_LIT("/"), SIO_NO_ACK, NULL, 0, 0), RS_EINVAL);
    CHECK_EQ_INT(sio_encode(&b, SIO_CONNECT, SPAN_LIT("/"), SIO_NO_ACK, arr, 0), RS_EINVAL);
    CHECK_EQ_INT(sio_encode(&b, SIO_DISCONNECT, SPAN_LIT("/"), SIO_NO_ACK, obj, 0), RS_EINVAL);
    CHECK_EQ_INT(sio_encode(&b, SIO_EVENT, SPAN_LIT("/"), SIO_NO_ACK, reserved, 0), RS_EINVAL);
    CHECK_EQ_INT(sio_encode(&b, SIO_EVENT, SPAN_LIT("/"), SIO_NO_ACK, empty, 0), RS_EINVAL);
    CHECK_EQ_INT(sio_encode(&b, SIO_ACK, SPAN_LIT("/"), 1, obj, 0), RS_EINVAL);
    CHECK_EQ_INT(sio_encode(&b, SIO_CONNECT_ERROR, SPAN_LIT("/"), SIO_NO_ACK, NULL, 0), RS_EINVAL);
    CHECK_EQ_INT(sio_encode(&b, SIO_CONNECT, SPAN_LIT("/"), SIO_NO_ACK, NULL, 1), RS_EINVAL);
    CHECK_EQ_INT(sio_encode(&b, 7, SPAN_LIT("/"), SIO_NO_ACK, NULL, 0), RS_EINVAL);
    CHECK_EQ_INT(sio_encode_header(&b, SIO_BINARY_EVENT, 11, SPAN_LIT("/"), SIO_NO_ACK), RS_EINVAL);
    CHECK_EQ_MEM(b.base, b.len, "keep");
    /* a 1-arg array of a non-string/number name cannot be an event either */
    json_t *badname = J("[null]");
    CHECK_EQ_INT(sio_encode(&b, SIO_EVENT, SPAN_LIT("/"), SIO_NO_ACK, badname, 0), RS_EINVAL);
    json_decref(badname);
    json_decref(arr);
    json_decref(obj);
    json_decref(reserved);
    json_decref(empty);
    buf_free(&b);
}

TEST(event_names_and_args_are_escaped)
{
    buf_t b = BUF_INIT;
    json_t *args = J("[\"line\\nbreak\",0.1,1e21,\"\xf0\x9f\x98\x80\"]");
    REQUIRE(sio_encode_event(&b, SPAN_LIT("/"), SIO_NO_ACK, SPAN_LIT("q\"\\\x01"), args, 0) == 0);
    CHECK_EQ_MEM(b.base, b.len,
                 "2[\"q\\\"\\\\\\u0001\",\"line\\nbreak\",0.1,1e+21,\"\xf0\x9f\x98\x80\"]");
    json_decref(args);
    buf_free(&b);
}
