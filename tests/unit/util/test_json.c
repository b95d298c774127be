/* Tests for util/json: the validator, limits, parsing and the JSON.stringify-compatible
 * serializer. Expected serializations were produced with Node.js 20's JSON.stringify. */
#include "util/json.h"

#include <math.h>
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

static int scan(const char *s)
{
    return rs_json_scan(guarded(s, strlen(s)), NULL, NULL, NULL);
}

static char *serialize(const char *text)
{
    json_t *v = NULL;
    if (rs_json_parse(span_cstr(text), NULL, &v)) return NULL;
    buf_t b = BUF_INIT;
    int rc = rs_json_append(&b, v);
    json_decref(v);
    if (rc) return NULL;
    return buf_cstr(&b);
}

TEST(scan_accepts_valid_documents)
{
    static const char *ok[] = {
        "0",
        "-0",
        "1.5",
        "-12.5e+3",
        "1E-7",
        "true",
        "false",
        "null",
        "\"\"",
        "[]",
        "{}",
        " \t\r\n[ 1 , { \"a\" : [ ] } ]\n",
        "{\"a\":1,\"a\":2}",
        "\"\\u0000\"",
        "\"\\ud83d\\ude00\"",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
        "\"\x7f\"",
        "[1,[2,[3,{\"x\":null}]]]",
        "123456789012345678901234567890",
        "1.7976931348623157e308",
        "1e-400",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = scan(ok[i]);
        if (rc) TEST_FAIL_AT("rejected %s (%d)", ok[i], rc);
    }
}

TEST(scan_rejects_invalid_documents)
{
    static const char *bad[] = {
        "",
        " ",
        "[",
        "]",
        "{",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{\"a\"}",
        "{\"a\" 1}",
        "{1:2}",
        "{'a':1}",
        "[1 2]",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "1e+",
        "+1",
        "0x10",
        "NaN",
        "Infinity",
        "tru",
        "nul",
        "True",
        "\"abc",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "\"a\nb\"",
        "\"\t\"",
        "[1] x",
        "[1][2]",
        "1 2",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"\xc0\x80\"",
        "\"\xed\xa0\x80\"",
        "\"\xf5\x80\x80\x80\"",
        "\"\xe2\x82\"",
        "\"\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\xef\xbb\xbf[]",
        "1e400",
        "-1e400",
        "[1,\"a\":2]",
        "{\"a\":}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = scan(bad[i]);
        if (rc != RS_EPROTO) TEST_FAIL_AT("accepted or wrong code for %s (%d)", bad[i], rc);
    }
}

TEST(scan_rejects_every_truncation)
{
    const char *doc =
        "{\"a\":[1,-2.5e3,\"x\\u00e9\\ud83d\\ude00\xc3\xa9\",true,false,null,{}],\"b\":[]}";
    size_t n = strlen(doc);
    CHECK_EQ_INT(scan(doc), 0);
    for (size_t i = 0; i < n; i++) {
        int rc = rs_json_scan(guarded(doc, i), NULL, NULL, NULL);
        if (rc != RS_EPROTO) TEST_FAIL_AT("prefix of %zu bytes: %d", i, rc);
    }
}

TEST(scan_reports_top_level_array)
{
    rs_json_info_t info;
    const char *doc = "  [\"ev\" , 1,{\"a\":[2]} ]  ";
    REQUIRE(rs_json_scan(span_cstr(doc), NULL, NULL, &info) == 0);
    CHECK_EQ_INT(info.kind, RS_JSON_ARRAY);
    CHECK_EQ_MEM(info.value.base, info.value.len, "[\"ev\" , 1,{\"a\":[2]} ]");
    CHECK_EQ_INT(info.count, 3);
    CHECK_EQ_INT(info.first_kind, RS_JSON_STRING);
    CHECK_EQ_MEM(info.first.base, info.first.len, "\"ev\"");
    CHECK_EQ_INT(info.first_escaped, 0);
    CHECK_EQ_MEM(info.rest.base, info.rest.len, " 1,{\"a\":[2]} ");
    CHECK_EQ_MEM(info.inner.base, info.inner.len, "\"ev\" , 1,{\"a\":[2]} ");

    REQUIRE(rs_json_scan(span_cstr("[[1,2],3]"), NULL, NULL, &info) == 0);
    CHECK_EQ_INT(info.first_kind, RS_JSON_ARRAY);
    CHECK_EQ_MEM(info.first.base, info.first.len, "[1,2]");
    CHECK_EQ_MEM(info.rest.base, info.rest.len, "3");

    REQUIRE(rs_json_scan(span_cstr("[\"a\\n\"]"), NULL, NULL, &info) == 0);
    CHECK_EQ_INT(info.count, 1);
    CHECK_EQ_INT(info.first_escaped, 1);
    CHECK_EQ_INT(info.rest.len, 0);

    REQUIRE(rs_json_scan(span_cstr("[ ]"), NULL, NULL, &info) == 0);
    CHECK_EQ_INT(info.count, 0);
    CHECK_EQ_INT(info.first_kind, RS_JSON_NONE);

    REQUIRE(rs_json_scan(span_cstr("{\"a\":1}"), NULL, NULL, &info) == 0);
    CHECK_EQ_INT(info.kind, RS_JSON_OBJECT);
    CHECK_EQ_INT(info.count, 0);
    REQUIRE(rs_json_scan(span_cstr("-3"), NULL, NULL, &info) == 0);
    CHECK_EQ_INT(info.kind, RS_JSON_NUMBER);
}

TEST(depth_limit_is_exact)
{
    rs_json_limits_t lim = {0, 32};
    char doc[200];
    for (int d = 31; d <= 33; d++) {
        memset(doc, '[', (size_t)d);
        memset(doc + d, ']', (size_t)d);
        doc[2 * d] = '\0';
        int rc = rs_json_scan(span_cstr(doc), &lim, NULL, NULL);
        CHECK_EQ_INT(rc, d <= 32 ? 0 : RS_ETOOBIG);
        json_t *v = NULL;
        rc = rs_json_parse(span_cstr(doc), &lim, &v);
        CHECK_EQ_INT(rc, d <= 32 ? 0 : RS_ETOOBIG);
        CHECK((v != NULL) == (d <= 32));
        json_decref(v);
    }
    /* Objects count the same as arrays. */
    CHECK_EQ_INT(
        rs_json_scan(span_cstr("{\"a\":{\"b\":[1]}}"), &(rs_json_limits_t){0, 3}, NULL, NULL), 0);
    CHECK_EQ_INT(
        rs_json_scan(span_cstr("{\"a\":{\"b\":[1]}}"), &(rs_json_limits_t){0, 2}, NULL, NULL),
        RS_ETOOBIG);
}

TEST(deep_nesting_refused_before_jansson)
{
    /* Ten million levels would overflow any recursive parser's stack; the pre-scan refuses it
     * after 33 bytes. Default limits apply when lim is NULL, the hard maximum caps larger ones. */
    size_t n = 10u * 1000 * 1000;
    char *doc = malloc(n);
    REQUIRE(doc);
    memset(doc, '[', n);
    json_t *v = NULL;
    rs_json_limits_t huge = {0, 1000000};
    CHECK_EQ_INT(rs_json_parse(span_make(doc, n), &huge, &v), RS_ETOOBIG);
    CHECK(v == NULL);
    CHECK_EQ_INT(rs_json_scan(span_make(doc, n), &(rs_json_limits_t){0, 0}, NULL, NULL),
                 RS_ETOOBIG);
    free(doc);
}

TEST(size_limit)
{
    rs_json_limits_t lim = {8, 0};
    CHECK_EQ_INT(rs_json_scan(span_cstr("[1,2,3]"), &lim, NULL, NULL), 0);
    CHECK_EQ_INT(rs_json_scan(span_cstr("[1,2,3,4]"), &lim, NULL, NULL), RS_ETOOBIG);
    json_t *v = NULL;
    CHECK_EQ_INT(rs_json_parse(span_cstr("\"123456789\""), &lim, &v), RS_ETOOBIG);
    CHECK(v == NULL);
}

TEST(parse_matches_javascript_semantics)
{
    json_t *v = NULL;
    REQUIRE(rs_json_parse(span_cstr("\"a\\u0000b\""), NULL, &v) == 0);
    CHECK_EQ_INT(json_string_length(v), 3);
    CHECK(memcmp(json_string_value(v), "a\0b", 3) == 0);
    json_decref(v);

    /* Last duplicate wins, as in JSON.parse. */
    REQUIRE(rs_json_parse(span_cstr("{\"a\":1,\"a\":2}"), NULL, &v) == 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(v, "a")), 2);
    json_decref(v);

    /* An integer beyond 64 bits reads as a double instead of failing. */
    REQUIRE(rs_json_parse(span_cstr("[18446744073709552000, 1]"), NULL, &v) == 0);
    CHECK(json_is_real(json_array_get(v, 0)));
    CHECK(json_real_value(json_array_get(v, 0)) == 18446744073709552000.0);
    json_decref(v);

    CHECK_EQ_INT(rs_json_parse(span_cstr("[1e400]"), NULL, &v), RS_EPROTO);
    CHECK_EQ_INT(rs_json_parse(span_cstr("[1] x"), NULL, &v), RS_EPROTO);
    CHECK(v == NULL);
}

TEST(serializer_matches_json_stringify)
{
    char *s = serialize("{\"a\":[1,2.5,-0,1e21,1E-7,0.1,"
                        "\"x\\u001fy\\\"\\\\\\/\\b\\f\\n\\r\\t\\u2028\xc3\xa9\xf0\x9f\x98\x80\"],"
                        "\"b\":{\"c\":null,\"d\":true,\"e\":false},\"\":{}}");
    CHECK_EQ_STR(s, "{\"a\":[1,2.5,0,1e+21,1e-7,0.1,"
                    "\"x\\u001fy\\\"\\\\/\\b\\f\\n\\r\\t\xe2\x80\xa8\xc3\xa9\xf0\x9f\x98\x80\"],"
                    "\"b\":{\"c\":null,\"d\":true,\"e\":false},\"\":{}}");
    free(s);
    s = serialize("[123456789012345678901234567890, -1.5e300, 5e-324, 100e-2, 0.000001, "
                  "1.7976931348623157e308]");
    CHECK_EQ_STR(s, "[1.2345678901234568e+29,-1.5e+300,5e-324,1,0.000001,1.7976931348623157e+308]");
    free(s);
    s = serialize("\"\\u0000\\u007f\\ud83d\\ude00\"");
    CHECK_EQ_STR(s, "\"\\u0000\x7f\xf0\x9f\x98\x80\"");
    free(s);
    /* Insertion order is kept. */
    s = serialize("{\"z\":1,\"a\":2,\"m\":[{\"y\":0,\"b\":1}]}");
    CHECK_EQ_STR(s, "{\"z\":1,\"a\":2,\"m\":[{\"y\":0,\"b\":1}]}");
    free(s);
}

TEST(numbers_format_like_javascript)
{
    static const struct {
        double v;
        const char *js;
    } cases[] = {
        {0.1, "0.1"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1e21, "1e+21"},
        {1e20, "100000000000000000000"},
        {123456789012345680000.0, "123456789012345680000"},
        {1e-6, "0.000001"},
        {1e-7, "1e-7"},
        {1.5e-7, "1.5e-7"},
        {-0.5, "-0.5"},
        {1.0 / 3, "0.3333333333333333"},
        {4.35, "4.35"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {9007199254740992.0, "9007199254740992"},
        {-1152921504606846976.0, "-1152921504606847000"},
        {7.120236347223045e-307, "7.120236347223045e-307"}, /* power of two: lopsided interval */
        {-0.0, "0"},
        {100, "100"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b = BUF_INIT;
        REQUIRE(rs_json_append_number(&b, cases[i].v) == 0);
        CHECK_EQ_STR(buf_cstr(&b), cases[i].js);
        buf_free(&b);
    }
    buf_t b = BUF_INIT;
    rs_json_append_number(&b, NAN);
    rs_json_append_number(&b, INFINITY);
    CHECK_EQ_STR(buf_cstr(&b), "nullnull");
    buf_free(&b);
}

TEST(string_escapes)
{
    buf_t b = BUF_INIT;
    REQUIRE(rs_json_append_string(&b, span_make("a\"\\\x01\x1f\x7f/\xe2\x82\xac", 10)) == 0);
    CHECK_EQ_STR(buf_cstr(&b), "\"a\\\"\\\\\\u0001\\u001f\x7f/\xe2\x82\xac\"");
    buf_free(&b);
    REQUIRE(rs_json_append_string(&b, span_make("", 0)) == 0);
    CHECK_EQ_STR(buf_cstr(&b), "\"\"");
    buf_free(&b);
}

TEST(serializer_refuses_bad_input)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "keep");
    CHECK_EQ_INT(rs_json_append(&b, NULL), RS_EINVAL);
    /* Deeper than the hard maximum. */
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < RS_JSON_DEPTH_HARD_MAX + 5; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    CHECK_EQ_INT(rs_json_append(&b, root), RS_EINVAL);
    CHECK_EQ_INT(b.len, 4);
    json_decref(root);
    buf_free(&b);
}

TEST(string_decode_and_compare)
{
    buf_t b = BUF_INIT;
    span_t in = SPAN_LIT("a\\n\\u00e9\\ud83d\\ude00\\/x");
    REQUIRE(rs_json_string_decode(in, &b) == 0);
    CHECK_EQ_MEM(b.base, b.len, "a\n\xc3\xa9\xf0\x9f\x98\x80/x");
    buf_free(&b);
    CHECK_EQ_INT(rs_json_string_decode(SPAN_LIT("\\ud800"), &b), RS_EPROTO);
    buf_free(&b);

    CHECK(rs_json_string_eq(SPAN_LIT("num"), 0, SPAN_LIT("num")));
    CHECK(!rs_json_string_eq(SPAN_LIT("nu"), 0, SPAN_LIT("num")));
    CHECK(rs_json_string_eq(SPAN_LIT("\\u005fplaceholder"), 1, SPAN_LIT("_placeholder")));
    CHECK(rs_json_string_eq(SPAN_LIT("n\\u0075m"), 1, SPAN_LIT("num")));
    CHECK(!rs_json_string_eq(SPAN_LIT("n\\u0075mm"), 1, SPAN_LIT("num")));
    CHECK(!rs_json_string_eq(SPAN_LIT("n\\u0075"), 1, SPAN_LIT("num")));
}

struct trace {
    buf_t log;
    int fail_at;
    int calls;
};

static int tr_begin(void *ctx, unsigned depth)
{
    struct trace *t = ctx;
    buf_appendf(&t->log, "B%u ", depth);
    return ++t->calls == t->fail_at ? -99 : 0;
}

static int tr_member(void *ctx, unsigned depth, span_t key, int esc, rs_json_kind_t kind,
                     span_t value)
{
    struct trace *t = ctx;
    buf_appendf(&t->log, "M%u:%.*s%s=%d:%.*s ", depth, (int)key.len, key.base, esc ? "(e)" : "",
                kind, (int)value.len, value.base ? value.base : "");
    return ++t->calls == t->fail_at ? -99 : 0;
}

static int tr_end(void *ctx, unsigned depth)
{
    struct trace *t = ctx;
    buf_appendf(&t->log, "E%u ", depth);
    return ++t->calls == t->fail_at ? -99 : 0;
}

TEST(visitor_sees_members_in_order)
{
    struct trace t = {BUF_INIT, 0, 0};
    rs_json_visitor_t vis = {&t, tr_begin, tr_member, tr_end};
    const char *doc = "[{\"a\":1,\"b\":{\"c\":\"x\"},\"d\\u0021\":[{}],\"e\":true}]";
    REQUIRE(rs_json_scan(span_cstr(doc), NULL, &vis, NULL) == 0);
    CHECK_EQ_STR(buf_cstr(&t.log), "B2 M2:a=4:1 M2:b=1: B3 M3:c=3:\"x\" E3 M2:d\\u0021(e)=2: B4 "
                                   "E4 M2:e=5:true E2 ");
    buf_free(&t.log);
    /* A callback's error stops the scan and is returned. */
    t = (struct trace){BUF_INIT, 3, 0};
    CHECK_EQ_INT(rs_json_scan(span_cstr(doc), NULL, &vis, NULL), -99);
    CHECK_EQ_STR(buf_cstr(&t.log), "B2 M2:a=4:1 M2:b=1: ");
    buf_free(&t.log);
}

/* Regressions found by fuzz_json. */
TEST(fuzz_regressions)
{
    /* an empty string body decodes into an empty buffer without touching it */
    buf_t b = BUF_INIT;
    CHECK_EQ_INT(rs_json_string_decode(span_make("", 0), &b), 0);
    CHECK_EQ_INT(b.len, 0);
    CHECK(b.base == NULL);
    /* jansson stops reading at a NUL outside strings; the validator must not */
    CHECK_EQ_INT(rs_json_scan(span_make("true\0x", 6), NULL, NULL, NULL), RS_EPROTO);
    CHECK_EQ_INT(rs_json_scan(span_make("[1]\0", 4), NULL, NULL, NULL), RS_EPROTO);
    /* jansson refuses NUL in keys (values are fine), so the validator does too */
    CHECK_EQ_INT(scan("{\"a\\u0000\":1}"), RS_EPROTO);
    CHECK_EQ_INT(scan("{\"a\\\\u0000\":\"\\u0000\"}"), 0); /* an escaped backslash, then text */
    /* integers beyond 2^53 print as JavaScript prints them (node agrees on both) */
    char *s = serialize("[1288888888888845678900e-2,288888888888845670]");
    CHECK_EQ_STR(s, "[12888888888888457000,288888888888845700]");
    free(s);
    s = serialize("[12888888888888457000,288888888888845670]");
    CHECK_EQ_STR(s, "[12888888888888457000,288888888888845700]");
    free(s);
    json_t *big = json_pack("[I,I,I]", (json_int_t)9223372036854775807LL,
                            (json_int_t)-9007199254740993LL, (json_int_t)9007199254740992LL);
    b = BUF_INIT;
    REQUIRE(rs_json_append(&b, big) == 0);
    CHECK_EQ_STR(buf_cstr(&b), "[9223372036854776000,-9007199254740992,9007199254740992]");
    json_decref(big);
    buf_free(&b);
}

/* Found by fuzzing the Redis wire decoder: an empty string may come as a NULL pointer. */
TEST(append_empty_string_with_null_base)
{
    buf_t b = BUF_INIT;
    REQUIRE(rs_json_append_string(&b, span_make(NULL, 0)) == 0);
    CHECK_EQ_MEM(b.base, b.len, "\"\"");
    buf_free(&b);
}

/* The string scanner and the escaper skip eight bytes at a time: put each kind of special byte
 * at every offset of a long string (both word-aligned and not, and in the tail) and check that
 * none slips through. */
TEST(word_at_a_time_string_paths_see_every_special_byte)
{
    static const struct {
        const char *ins;
        int valid; /* the scanner's verdict on "aaa<ins>aaa" */
    } cases[] = {
        {"\x01", 0},         {"\x1f", 0},    {"\\\"", 1}, {"\\\\", 1},
        {"\\n", 1},          {"\\u00e9", 1}, {"\\x", 0},  {"\xc3\xa9", 1},
        {"\xe2\x82\xac", 1}, {"\xc3", 0},    {"\xff", 0}, {"\xed\xa0\x80", 0},
        {"\x7f", 1},         {" ", 1},
    };
    char doc[128], raw[64];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int at = 0; at < 40; at++) {
            size_t n = 0;
            doc[n++] = '"';
            for (int i = 0; i < at; i++) doc[n++] = 'a' + i % 26;
            size_t il = strlen(cases[k].ins);
            memcpy(doc + n, cases[k].ins, il);
            n += il;
            for (int i = 0; i < 9; i++) doc[n++] = 'z';
            doc[n++] = '"';
            doc[n] = '\0';
            int rc = rs_json_scan(guarded(doc, n), NULL, NULL, NULL);
            if (cases[k].valid)
                CHECK_EQ_INT(rc, 0);
            else
                CHECK(rc != 0);
        }
    /* The escaper: a control byte, a quote or a backslash at every offset is escaped. */
    const char specials[] = {'\x01', '"', '\\', '\n', '\x1f'};
    for (size_t k = 0; k < sizeof specials; k++)
        for (int at = 0; at < 40; at++) {
            size_t n = 0;
            for (int i = 0; i < at; i++) raw[n++] = 'a' + i % 26;
            raw[n++] = specials[k];
            for (int i = 0; i < 9; i++) raw[n++] = 'z';
            buf_t out = BUF_INIT;
            REQUIRE(rs_json_append_string(&out, span_make(raw, n)) == 0);
            /* Valid JSON that decodes back to the same bytes. */
            CHECK_EQ_INT(rs_json_scan(buf_span(&out), NULL, NULL, NULL), 0);
            buf_t back = BUF_INIT;
            CHECK_EQ_INT(rs_json_string_decode(span_make(out.base + 1, out.len - 2), &back), 0);
            CHECK(back.len == n && memcmp(back.base, raw, n) == 0);
            buf_free(&back);
            buf_free(&out);
        }
}
