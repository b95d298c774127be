/* test_schema.c - building schemas from SDL (and refusing invalid ones), binding resolvers,
 * custom scalars, resolver look-ahead, and the platform schema in docs/schema.graphql. */
#include "test.h"

#include <jansson.h>

#include "gql/gql.h"
#include "util/err.h"

static char *build_error(const char *sdl)
{
    gql_schema_t *s = NULL;
    buf_t err = BUF_INIT;
    int rc = gql_schema_build(sdl, strlen(sdl), &s, &err);
    if (rc == 0) {
        gql_schema_free(s);
        buf_free(&err);
        return NULL;
    }
    char *out = strndup(err.base ? err.base : "", err.len);
    buf_free(&err);
    return out;
}

#define CHECK_BUILD_ERROR(sdl, expected)                                                           \
    do {                                                                                           \
        char *e_ = build_error(sdl);                                                               \
        if (!e_ || !strstr(e_, expected))                                                          \
            TEST_FAIL_AT("SDL %s: expected error containing [%s], got [%s]", sdl, expected,        \
                         e_ ? e_ : "(built)");                                                     \
        free(e_);                                                                                  \
    } while (0)

TEST(invalid_schemas_are_refused_with_reasons)
{
    CHECK_BUILD_ERROR("type Query { a: Nope }", "Unknown type \"Nope\". (line 1, column 17)");
    CHECK_BUILD_ERROR("type Query { a: Int } type Query { b: Int }",
                      "There can be only one type named \"Query\".");
    CHECK_BUILD_ERROR("type Q { a: Int }", "Query root type must be provided.");
    CHECK_BUILD_ERROR("type Query { a: In } input In { x: Int }",
                      "The type of Query.a must be Output Type but got: In.");
    CHECK_BUILD_ERROR("type Query { a(x: Query): Int }",
                      "The type of Query.a(x:) must be Input Type but got: Query.");
    CHECK_BUILD_ERROR("interface I { id: ID! } type Query implements I { a: Int }",
                      "Interface field I.id expected but Query does not provide it.");
    CHECK_BUILD_ERROR("interface I { id: ID! } type Query implements I { id: ID }",
                      "Interface field I.id expects type ID! but Query.id is type ID.");
    CHECK_BUILD_ERROR("interface I { f(a: Int): ID } type Query implements I { f: ID }",
                      "Interface field argument I.f(a:) expected but Query.f does not provide it.");
    CHECK_BUILD_ERROR("interface I { f: ID } type Query implements I { f(b: Int!): ID }",
                      "Object field Query.f includes required argument b that is missing from "
                      "the Interface field I.f.");
    CHECK_BUILD_ERROR("interface A { x: Int } interface B implements A { x: Int } type Query "
                      "implements B { x: Int }",
                      "Type Query must implement A because it is implemented by B.");
    CHECK_BUILD_ERROR("type Query { a: Int } union U = Query | String",
                      "Union type U can only include Object types, it cannot include String.");
    CHECK_BUILD_ERROR("type Query { a(x: Int = \"s\"): Int }",
                      "Invalid default value for Query.a(x:)");
    CHECK_BUILD_ERROR("type Query { __a: Int }", "Name \"__a\" must not begin with \"__\"");
    CHECK_BUILD_ERROR("type Query { a: Int } extend type Nope { b: Int }",
                      "Cannot extend type \"Nope\" because it is not defined.");
    CHECK_BUILD_ERROR("type Query { a: Int a: String }",
                      "Field \"Query.a\" can only be defined once.");
    CHECK_BUILD_ERROR("type Query { a: Int } enum E { A A }",
                      "Enum value \"E.A\" can only be defined once.");
    CHECK_BUILD_ERROR("type Query { a(x: Int! @deprecated): Int }",
                      "Required argument Query.a(x:) cannot be deprecated.");
    CHECK_BUILD_ERROR("type Query { a: Int", "Syntax Error: Expected Name, found <EOF>. (line 1, "
                                             "column 20)");
    CHECK_BUILD_ERROR("type Query { a: Int } { a }",
                      "Executable definitions are not allowed in a schema.");
}

TEST(platform_schema_builds)
{
    FILE *f = fopen("docs/schema.graphql", "rb");
    REQUIRE(f != NULL); /* tests run from the repository root */
    static char sdl[65536];
    size_t n = fread(sdl, 1, sizeof sdl - 1, f);
    fclose(f);
    sdl[n] = 0;
    gql_schema_t *s;
    buf_t err = BUF_INIT;
    int rc = gql_schema_build(sdl, n, &s, &err);
    if (rc) fprintf(stderr, "%.*s\n", (int)err.len, err.base);
    REQUIRE(rc == 0);
    static const char *coords[] = {
        "Query.me",          "Query.users",          "Mutation.register",
        "Mutation.login",    "Mutation.sendMessage", "User.followers",
        "Chatroom.messages", "Message.sender",       "FollowResult.user"};
    for (size_t i = 0; i < sizeof coords / sizeof *coords; i++)
        CHECK_EQ_INT(gql_schema_set_resolver(s, coords[i], NULL, NULL), 0);
    CHECK_EQ_INT(gql_schema_set_expensive(s, "Mutation.login"), 0);
    CHECK_EQ_INT(gql_schema_set_resolver(s, "Query.nope", NULL, NULL), RS_ENOTFOUND);
    CHECK_EQ_INT(gql_schema_set_resolver(s, "ChatroomKind.DIRECT", NULL, NULL), RS_ENOTFOUND);
    CHECK_EQ_INT(gql_schema_set_type_resolver(s, "User", NULL, NULL), RS_ENOTFOUND);
    gql_schema_free(s);
    buf_free(&err);
}

/* ---- a small schema with custom scalars and look-ahead ---- */

static const char mini_sdl[] =
    "\"A date, YYYY-MM-DD.\" scalar Date @specifiedBy(url: \"https://example.com/date\")\n"
    "scalar Json\n"
    "schema { query: Root }\n"
    "type Root { today: Date shift(d: Date!, days: Int = 1): Date raw(v: Json): Json "
    "conn: Conn bad: Date }\n"
    "type Conn { count: Int items: [String] }\n"
    "extend type Root { extra: String }\n";

static int date_ok(const char *s)
{
    return s && strlen(s) == 10 && s[4] == '-' && s[7] == '-';
}

static int date_serialize(void *udata, json_t *in, json_t **out, buf_t *err)
{
    if (!date_ok(json_string_value(in))) {
        buf_append_cstr(err, "Date cannot represent an invalid date.");
        return RS_EPROTO;
    }
    *out = json_incref(in);
    return 0;
}

static int date_parse(void *udata, json_t *in, json_t **out, buf_t *err)
{
    if (!date_ok(json_string_value(in))) {
        buf_append_cstr(err, "Expected a YYYY-MM-DD date.");
        return RS_EPROTO;
    }
    *out = json_incref(in);
    return 0;
}

static void r_today(gql_call_t *c)
{
    gql_call_return(c, json_string("2024-05-01"));
}

static void r_bad(gql_call_t *c)
{
    gql_call_return(c, json_string("yesterday"));
}

/* Not real date arithmetic: "2024-01-31" shifted by n days reads "2024-01-3n". */
static void r_shift(gql_call_t *c)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.9s%lld", json_string_value(gql_call_arg(c, "d")),
             (long long)json_integer_value(gql_call_arg(c, "days")) % 10);
    gql_call_return(c, json_string(buf));
}

static void r_raw(gql_call_t *c)
{
    json_t *v = gql_call_arg(c, "v");
    gql_call_return(c, v ? json_incref(v) : NULL);
}

static int counted_items;

/* Computes the expensive list only when the query asks for it. */
static void r_conn(gql_call_t *c)
{
    json_t *conn = json_pack("{s:i}", "count", 3);
    if (gql_call_selects(c, "items")) {
        counted_items++;
        json_object_set_new(conn, "items", json_pack("[s,s,s]", "a", "b", "c"));
    }
    buf_t path = BUF_INIT;
    gql_call_path(c, &path);
    json_object_set_new(conn, "path", json_stringn(path.base, path.len));
    buf_free(&path);
    gql_call_return(c, conn);
}

static gql_schema_t *mini(void)
{
    gql_schema_t *s;
    buf_t err = BUF_INIT;
    if (gql_schema_build(mini_sdl, strlen(mini_sdl), &s, &err) != 0) {
        fprintf(stderr, "%.*s\n", (int)err.len, err.base);
        exit(2);
    }
    buf_free(&err);
    gql_schema_set_scalar(s, "Date", date_serialize, date_parse, NULL);
    gql_schema_set_resolver(s, "Root.today", r_today, NULL);
    gql_schema_set_resolver(s, "Root.bad", r_bad, NULL);
    gql_schema_set_resolver(s, "Root.shift", r_shift, NULL);
    gql_schema_set_resolver(s, "Root.raw", r_raw, NULL);
    gql_schema_set_resolver(s, "Root.conn", r_conn, NULL);
    return s;
}

static char *last_body;

static void on_done(void *arg, gql_response_t *r)
{
    free(last_body);
    last_body = strndup(r->body.base, r->body.len);
}

static const char *exec(gql_schema_t *s, const char *q, const char *vars)
{
    json_t *v = vars ? json_loads(vars, 0, NULL) : NULL;
    free(last_body);
    last_body = NULL;
    gql_execute_request(s, q, strlen(q), v, NULL, NULL, NULL, 0, on_done, NULL);
    json_decref(v);
    return last_body ? last_body : "(none)";
}

TEST(custom_scalars_serialize_and_parse)
{
    gql_schema_t *s = mini();
    CHECK_EQ_STR(exec(s, "{ today shift(d: \"2024-01-31\") }", NULL),
                 "{\"data\":{\"today\":\"2024-05-01\",\"shift\":\"2024-01-31\"}}");
    CHECK_EQ_STR(exec(s, "{ bad }", NULL),
                 "{\"errors\":[{\"message\":\"Date cannot represent an invalid date.\","
                 "\"locations\":[{\"line\":1,\"column\":3}],\"path\":[\"bad\"]}],\"data\":{\"bad\":"
                 "null}}");
    CHECK_EQ_STR(exec(s, "{ shift(d: \"soon\") }", NULL),
                 "{\"errors\":[{\"message\":\"Expected value of type \\\"Date!\\\", found "
                 "\\\"soon\\\"; Expected a YYYY-MM-DD date.\",\"locations\":[{\"line\":1,"
                 "\"column\":12}]}]}");
    CHECK_EQ_STR(exec(s, "query ($d: Date!) { shift(d: $d, days: 2) }", "{\"d\": \"2024-01-31\"}"),
                 "{\"data\":{\"shift\":\"2024-01-32\"}}");
    CHECK_EQ_STR(exec(s, "query ($d: Date!) { shift(d: $d, days: 2) }", "{\"d\": \"x\"}"),
                 "{\"errors\":[{\"message\":\"Variable \\\"$d\\\" got invalid value \\\"x\\\"; "
                 "Expected a YYYY-MM-DD date.\",\"locations\":[{\"line\":1,\"column\":8}]}]}");
    gql_schema_free(s);
}

TEST(scalar_without_functions_passes_json_through)
{
    gql_schema_t *s = mini();
    CHECK_EQ_STR(exec(s, "{ raw(v: {a: [1, 2.5, \"x\", null, true], b: ENUMISH}) }", NULL),
                 "{\"data\":{\"raw\":{\"a\":[1,2.5,\"x\",null,true],\"b\":\"ENUMISH\"}}}");
    CHECK_EQ_STR(exec(s, "query ($v: Json) { raw(v: $v) }", "{\"v\": {\"deep\": [[1e300]]}}"),
                 "{\"data\":{\"raw\":{\"deep\":[[1e+300]]}}}");
    gql_schema_free(s);
}

TEST(resolver_look_ahead_and_path)
{
    gql_schema_t *s = mini();
    counted_items = 0;
    CHECK_EQ_STR(exec(s, "{ conn { count } }", NULL), "{\"data\":{\"conn\":{\"count\":3}}}");
    CHECK_EQ_INT(counted_items, 0);
    CHECK_EQ_STR(exec(s, "{ c: conn { ...F } } fragment F on Conn { items }", NULL),
                 "{\"data\":{\"c\":{\"items\":[\"a\",\"b\",\"c\"]}}}");
    CHECK_EQ_INT(counted_items, 1);
    gql_schema_free(s);
}

TEST(unused_builtin_scalars_are_not_in_the_schema)
{
    gql_schema_t *s = mini();
    CHECK_EQ_STR(exec(s,
                      "{ t: __type(name: \"Date\") { name specifiedByURL description } f: "
                      "__type(name: \"Float\") { name } i: __type(name: \"Int\") { name } }",
                      NULL),
                 "{\"data\":{\"t\":{\"name\":\"Date\",\"specifiedByURL\":"
                 "\"https://example.com/date\",\"description\":\"A date, YYYY-MM-DD.\"},\"f\":"
                 "null,\"i\":{\"name\":\"Int\"}}}");
    CHECK_EQ_STR(
        exec(s, "query ($x: Float) { today }", NULL),
        "{\"errors\":[{\"message\":\"Unknown type \\\"Float\\\". Did you mean \\\"Root\\\"?\","
        "\"locations\":[{\"line\":1,\"column\":12}]},{\"message\":\"Variable \\\"$x\\\" is "
        "never used.\",\"locations\":[{\"line\":1,\"column\":8}]}]}");
    gql_schema_free(s);
}

TEST(extensions_add_fields)
{
    gql_schema_t *s = mini();
    CHECK_EQ_STR(exec(s, "{ extra }", NULL), "{\"data\":{\"extra\":null}}");
    gql_schema_free(s);
}

TEST(schema_is_shareable_between_threads_after_building)
{
    /* Requests never write to the schema: run two concurrently-prepared requests and make
     * sure nothing is cached on the schema between them (wrappers live in the request). */
    gql_schema_t *s = mini();
    gql_request_t *a, *b;
    const char *qa = "query ($d: Date!) { shift(d: $d) }";
    const char *qb = "query ($d: Date! = \"2024-02-02\") { shift(d: $d) }";
    json_t *vb = json_pack("{s:s}", "d", "2024-01-01");
    REQUIRE(gql_prepare(s, qa, strlen(qa), vb, NULL, NULL, &a) == 0);
    REQUIRE(gql_prepare(s, qb, strlen(qb), NULL, NULL, NULL, &b) == 0);
    CHECK(!gql_request_failed(a));
    CHECK(!gql_request_failed(b));
    gql_request_free(a);
    gql_request_free(b);
    json_decref(vb);
    gql_schema_free(s);
}

static char seen[256];

static void r_info(gql_call_t *c)
{
    snprintf(seen, sizeof seen, "%s %s.%s -> %s udata=%s", (const char *)gql_call_context(c),
             gql_call_parent_type(c), gql_call_field_name(c), gql_call_return_type_name(c),
             (const char *)gql_call_udata(c));
    gql_call_failf(c, "failed with %d %s", 42, "reasons");
}

static char *ctx_body;

static void ctx_done(void *arg, gql_response_t *r)
{
    ctx_body = strndup(r->body.base, r->body.len);
    r->body.len = 0; /* the callback may take or change the buffer */
}

TEST(call_accessors_and_formatted_failures)
{
    gql_schema_t *s = mini();
    REQUIRE(gql_schema_set_resolver(s, "Root.today", r_info, "u1") == 0);
    const char *q = "{ today }";
    REQUIRE(gql_execute_request(s, q, strlen(q), NULL, NULL, "the-viewer", NULL, 0, ctx_done,
                                NULL) == 0);
    CHECK_EQ_STR(seen, "the-viewer Root.today -> Date udata=u1");
    CHECK_EQ_STR(ctx_body, "{\"errors\":[{\"message\":\"failed with 42 reasons\",\"locations\":[{"
                           "\"line\":1,\"column\":3}],\"path\":[\"today\"]}],\"data\":{\"today\":"
                           "null}}");
    gql_schema_free(s);
}
