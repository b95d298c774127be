/* test_execute.c - spec section 6 on the social test schema: resolvers (synchronous and
 * asynchronous), variables and argument coercion, fragments, aliases, directives, abstract
 * types, null propagation, serial mutations, limits and the request entry points. */
#include "test.h"

#include "social.h"

#define RUN(q) social_run((q), NULL)

TEST(sync_fields_in_selection_order)
{
    CHECK_EQ_STR(RUN("{ user(id: \"2\") { username id displayName lastSeen } }"),
                 "{\"data\":{\"user\":{\"username\":\"bob\",\"id\":\"2\",\"displayName\":\"Bob\","
                 "\"lastSeen\":\"2024-05-01T10:00:00Z\"}}}");
}

TEST(async_resolver_completes_later)
{
    social_result_t r = {0};
    const char *q = "{ me { id username } }";
    REQUIRE(gql_execute_request(social_schema(), q, strlen(q), NULL, NULL, NULL, NULL, 0,
                                social_done, &r) == 0);
    /* Nothing is done until the loop completes the storage call. */
    CHECK_EQ_INT(r.calls, 0);
    CHECK_EQ_INT(social_nqueue, 1);
    CHECK(social_step(1));
    CHECK_EQ_INT(r.calls, 1);
    CHECK_EQ_STR(r.body, "{\"data\":{\"me\":{\"id\":\"1\",\"username\":\"alice\"}}}");
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_EXECUTED);
    CHECK_EQ_INT(r.op, GQL_OP_QUERY);
    CHECK(!r.has_errors);
}

TEST(sibling_resolvers_start_before_earlier_ones_complete)
{
    social_result_t r = {0};
    const char *q = "{ a: chatroom(id: \"c1\") { id } b: chatroom(id: \"c2\") { name } me { id } "
                    "x: user(id: \"3\") { username } }";
    REQUIRE(gql_execute_request(social_schema(), q, strlen(q), NULL, NULL, NULL, NULL, 0,
                                social_done, &r) == 0);
    CHECK_EQ_INT(social_nqueue, 3); /* all three reads are in flight together: batchable */
    CHECK_EQ_INT(social_started, 4);
    /* Completing in reverse order changes nothing in the response. */
    while (social_step(0)) {
    }
    CHECK_EQ_INT(r.calls, 1);
    CHECK_EQ_STR(r.body, "{\"data\":{\"a\":{\"id\":\"c1\"},\"b\":{\"name\":null},\"me\":{\"id\":"
                         "\"1\"},\"x\":{\"username\":\"carol\"}}}");
}

TEST(async_fields_inside_lists)
{
    social_result_t r = social_run_ex("{ chatroom(id: \"c1\") { name messages { text sender { "
                                      "username bestFriend { username } } } } }",
                                      NULL, NULL, NULL, 0, 0);
    CHECK_EQ_STR(r.body, "{\"data\":{\"chatroom\":{\"name\":\"friends\",\"messages\":[{\"text\":"
                         "\"hello\",\"sender\":{\"username\":\"alice\",\"bestFriend\":{"
                         "\"username\":\"bob\"}}},{\"text\":\"hi alice\",\"sender\":{\"username\":"
                         "\"bob\",\"bestFriend\":{\"username\":\"alice\"}}}]}}}");
}

TEST(field_error_has_message_locations_path_and_extensions)
{
    CHECK_EQ_STR(RUN("{\n  ok: chatroom(id: \"c2\") { id }\n  chatroom(id: \"nope\") { id }\n}"),
                 "{\"errors\":[{\"message\":\"Not a member of this chatroom.\",\"locations\":[{"
                 "\"line\":3,\"column\":3}],\"path\":[\"chatroom\"],\"extensions\":{\"code\":"
                 "\"FORBIDDEN\"}}],\"data\":{\"ok\":{\"id\":\"c2\"},\"chatroom\":null}}");
}

TEST(resolver_error_leaves_sibling_data)
{
    CHECK_EQ_STR(RUN("{ a: user(id: \"1\") { username } b: user { id } }"),
                 "{\"errors\":[{\"message\":\"Provide exactly one of id and username.\","
                 "\"locations\":[{\"line\":1,\"column\":33}],\"path\":[\"b\"]}],\"data\":{\"a\":{"
                 "\"username\":\"alice\"},\"b\":null}}");
}

TEST(null_in_non_null_field_nulls_the_nearest_nullable_parent)
{
    /* User.broken is String! and null: `me` (nullable) becomes null. */
    CHECK_EQ_STR(RUN("{ me { id broken } user(id: \"2\") { id } }"),
                 "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
                 "User.broken.\",\"locations\":[{\"line\":1,\"column\":11}],\"path\":[\"me\","
                 "\"broken\"]}],\"data\":{\"me\":null,\"user\":{\"id\":\"2\"}}}");
}

TEST(null_propagates_through_non_null_lists_to_data)
{
    /* users: UserConnection!, nodes: [User!]!: nothing nullable between broken and the root,
     * so data itself is null (spec 6.4.4). */
    CHECK_EQ_STR(RUN("{ users(first: 2) { nodes { username broken } } }"),
                 "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
                 "User.broken.\",\"locations\":[{\"line\":1,\"column\":38}],\"path\":[\"users\","
                 "\"nodes\",0,\"broken\"]}],\"data\":null}");
}

TEST(null_propagation_stops_at_nullable_list_item_parent)
{
    /* search: [SearchResult!]! inside a nullable field: the error nulls `a` only. */
    CHECK_EQ_STR(RUN("{ a: user(id: \"1\") { followers { nodes { broken } } } b: user(id: \"3\") "
                     "{ username } }"),
                 "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
                 "User.broken.\",\"locations\":[{\"line\":1,\"column\":42}],\"path\":[\"a\","
                 "\"followers\",\"nodes\",0,\"broken\"]}],\"data\":{\"a\":null,\"b\":{"
                 "\"username\":\"carol\"}}}");
}

TEST(fragments_inline_fragments_and_aliases)
{
    CHECK_EQ_STR(RUN("query Q { me { ...Names who: username ... on User { followerCount } } } "
                     "fragment Names on User { displayName name: username }"),
                 "{\"data\":{\"me\":{\"displayName\":\"Alice\",\"name\":\"alice\",\"who\":"
                 "\"alice\",\"followerCount\":2}}}");
}

TEST(merged_fields_combine_their_subselections)
{
    CHECK_EQ_STR(RUN("{ user(id: \"1\") { bestFriend { id } } user(id: \"1\") { bestFriend { "
                     "username } id } }"),
                 "{\"data\":{\"user\":{\"bestFriend\":{\"id\":\"2\",\"username\":\"bob\"},\"id\":"
                 "\"1\"}}}");
}

TEST(typename_everywhere)
{
    CHECK_EQ_STR(RUN("{ __typename users(first: 1) { __typename nodes { __typename ...F } "
                     "pageInfo { __typename } } } fragment F on User { t: __typename }"),
                 "{\"data\":{\"__typename\":\"Query\",\"users\":{\"__typename\":"
                 "\"UserConnection\",\"nodes\":[{\"__typename\":\"User\",\"t\":\"User\"}],"
                 "\"pageInfo\":{\"__typename\":\"PageInfo\"}}}}");
}

TEST(interface_resolves_by_typename_property)
{
    CHECK_EQ_STR(RUN("{ a: node(id: \"c1\") { __typename id ... on Chatroom { name kind } ... on "
                     "User { username } } b: node(id: \"2\") { ... on User { username } } c: "
                     "node(id: \"zz\") { id } }"),
                 "{\"data\":{\"a\":{\"__typename\":\"Chatroom\",\"id\":\"c1\",\"name\":"
                 "\"friends\",\"kind\":\"GROUP\"},\"b\":{\"username\":\"bob\"},\"c\":null}}");
}

TEST(union_resolves_with_type_resolver)
{
    CHECK_EQ_STR(RUN("{ search(text: \"a\") { __typename ... on User { username } ... on "
                     "Chatroom { members { username } } } }"),
                 "{\"data\":{\"search\":[{\"__typename\":\"User\",\"username\":\"alice\"},{"
                 "\"__typename\":\"User\",\"username\":\"carol\"}]}}");
    CHECK_EQ_STR(RUN("{ search(text: \"friends\") { ... on Chatroom { id } } }"),
                 "{\"data\":{\"search\":[{\"id\":\"c1\"}]}}");
}

TEST(skip_and_include)
{
    CHECK_EQ_STR(social_run("query ($yes: Boolean!, $no: Boolean = false) { me { a: id @skip(if: "
                            "$yes) b: id @include(if: $yes) c: id @include(if: $no) ... @skip(if: "
                            "true) { d: id } ...F @include(if: $yes) } } fragment F on User { e: "
                            "username }",
                            "{\"yes\": true}"),
                 "{\"data\":{\"me\":{\"b\":\"1\",\"e\":\"alice\"}}}");
}

TEST(argument_defaults_and_coercion)
{
    CHECK_EQ_STR(RUN("{ echo }"), "{\"data\":{\"echo\":\"{\\\"text\\\":\\\"hi\\\"}\"}}");
    CHECK_EQ_STR(RUN("{ echo(text: null, n: -5, f: 2, kind: GROUP, ids: 7) }"),
                 "{\"data\":{\"echo\":\"{\\\"f\\\":2.0,\\\"ids\\\":[\\\"7\\\"],\\\"kind\\\":"
                 "\\\"GROUP\\\",\\\"n\\\":-5,\\\"text\\\":null}\"}}");
    CHECK_EQ_STR(RUN("{ echo(input: {text: \"t\", chatroomId: 12}) }"),
                 "{\"data\":{\"echo\":\"{\\\"input\\\":{\\\"chatroomId\\\":\\\"12\\\",\\\"tags\\\":"
                 "[],\\\"text\\\":\\\"t\\\"},\\\"text\\\":\\\"hi\\\"}\"}}");
}

TEST(variables_coerced_with_defaults_and_list_wrapping)
{
    CHECK_EQ_STR(social_run("query ($n: Int, $f: Float, $k: ChatroomKind = DIRECT, $in: "
                            "MessageInput, $ids: [ID!], $t: String) { echo(n: $n, f: $f, kind: "
                            "$k, input: $in, ids: $ids, text: $t) }",
                            "{\"n\": 3, \"f\": 4, \"in\": {\"chatroomId\": 5, \"text\": \"x\", "
                            "\"tags\": \"solo\"}, \"ids\": \"9\"}"),
                 "{\"data\":{\"echo\":\"{\\\"f\\\":4.0,\\\"ids\\\":[\\\"9\\\"],\\\"input\\\":{"
                 "\\\"chatroomId\\\":\\\"5\\\",\\\"tags\\\":[\\\"solo\\\"],\\\"text\\\":\\\"x\\\"},"
                 "\\\"kind\\\":\\\"DIRECT\\\",\\\"n\\\":3,\\\"text\\\":\\\"hi\\\"}\"}}");
}

TEST(variable_errors_are_request_errors)
{
    social_result_t r = social_run_ex("query ($id: ID!, $n: Int, $in: MessageInput, $k: "
                                      "ChatroomKind) { chatroom(id: $id) { id } echo(n: $n, "
                                      "input: $in, kind: $k) }",
                                      "{\"n\": 2147483648, \"in\": {\"text\": 1, \"x\": 2}, \"k\": "
                                      "\"GRUOP\"}",
                                      NULL, NULL, 0, 1);
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_REQUEST_ERROR);
    CHECK_EQ_INT(social_started, 0);
    CHECK_EQ_STR(
        r.body,
        "{\"errors\":[{\"message\":\"Variable \\\"$id\\\" of required type \\\"ID!\\\" was not "
        "provided.\",\"locations\":[{\"line\":1,\"column\":8}]},{\"message\":\"Variable "
        "\\\"$n\\\" got invalid value 2147483648; Int cannot represent non 32-bit signed integer "
        "value: 2147483648\",\"locations\":[{\"line\":1,\"column\":18}]},{\"message\":\"Variable "
        "\\\"$in\\\" got invalid value { text: 1, x: 2 }; Field \\\"chatroomId\\\" of required "
        "type \\\"ID!\\\" was not provided.\",\"locations\":[{\"line\":1,\"column\":27}]},{"
        "\"message\":\"Variable \\\"$in\\\" got invalid value 1 at \\\"in.text\\\"; String "
        "cannot represent a non string value: 1\",\"locations\":[{\"line\":1,\"column\":27}]},{"
        "\"message\":\"Variable \\\"$in\\\" got invalid value { text: 1, x: 2 }; Field \\\"x\\\" "
        "is not defined by type \\\"MessageInput\\\".\",\"locations\":[{\"line\":1,\"column\":"
        "27}]},{\"message\":\"Variable \\\"$k\\\" got invalid value \\\"GRUOP\\\"; Value "
        "\\\"GRUOP\\\" does not exist in \\\"ChatroomKind\\\" enum. Did you mean the enum value "
        "\\\"GROUP\\\"?\",\"locations\":[{\"line\":1,\"column\":46}]}]}");
}

TEST(null_variable_for_non_null_type)
{
    social_result_t r = social_run_ex("query ($id: ID!) { chatroom(id: $id) { id } }",
                                      "{\"id\": null}", NULL, NULL, 0, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Variable \\\"$id\\\" of non-null type "
                         "\\\"ID!\\\" must not be null.\",\"locations\":[{\"line\":1,\"column\":8}"
                         "]}]}");
    r = social_run_ex("{ me { id } }", "[1]", NULL, NULL, 0, 1);
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_REQUEST_ERROR);
}

TEST(nullable_variable_in_defaulted_non_null_argument)
{
    /* users(first: Int = 20) and a variable explicitly null: null reaches the resolver. */
    CHECK_EQ_STR(social_run("query ($k: ChatroomKind) { echo(kind: $k) }", "{\"k\": null}"),
                 "{\"data\":{\"echo\":\"{\\\"kind\\\":null,\\\"text\\\":\\\"hi\\\"}\"}}");
    /* A variable that was not provided leaves the argument absent (its default applies). */
    CHECK_EQ_STR(social_run("query ($t: String) { echo(text: $t) }", "{}"),
                 "{\"data\":{\"echo\":\"{\\\"text\\\":\\\"hi\\\"}\"}}");
}

TEST(operation_selection_by_name)
{
    social_result_t r = social_run_ex("query A { me { id } } query B { user(id: \"3\") { id } }",
                                      NULL, "B", NULL, 0, 1);
    CHECK_EQ_STR(r.body, "{\"data\":{\"user\":{\"id\":\"3\"}}}");
    r = social_run_ex("query A { me { id } } query B { me { id } }", NULL, NULL, NULL, 0, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Must provide operation name if query "
                         "contains multiple operations.\"}]}");
    r = social_run_ex("query A { me { id } }", NULL, "C", NULL, 0, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Unknown operation named \\\"C\\\".\"}]}");
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_REQUEST_ERROR);
    CHECK_EQ_INT(r.op, GQL_OP_NONE);
}

TEST(syntax_error_is_a_request_error_without_data)
{
    social_result_t r = social_run_ex("{ me { id }", NULL, NULL, NULL, 0, 1);
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_REQUEST_ERROR);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Syntax Error: Expected Name, found "
                         "<EOF>.\",\"locations\":[{\"line\":1,\"column\":12}]}]}");
}

TEST(mutation_fields_run_one_after_another)
{
    social_result_t r = {0};
    const char *q = "mutation { one: sendMessage(input: {chatroomId: \"c1\", text: \"one\"}) { "
                    "id text sender { username } } two: sendMessage(input: {chatroomId: \"c1\", "
                    "text: \"two\", tags: [\"x\"]}) { text } out: logout }";
    REQUIRE(gql_execute_request(social_schema(), q, strlen(q), NULL, NULL, NULL, NULL, 0,
                                social_done, &r) == 0);
    CHECK_EQ_INT(social_nqueue, 1); /* only the first mutation field has started */
    while (social_step(1)) {
    }
    CHECK_EQ_STR(social_log, "send:one send-done send:two send-done logout ");
    CHECK_EQ_INT(r.op, GQL_OP_MUTATION);
    CHECK_EQ_STR(r.body, "{\"data\":{\"one\":{\"id\":\"m9\",\"text\":\"one\",\"sender\":{"
                         "\"username\":\"alice\"}},\"two\":{\"text\":\"two\"},\"out\":true}}");
}

TEST(failed_non_null_mutation_stops_the_rest)
{
    social_result_t r = social_run_ex("mutation { login(username: \"alice\", password: \"bad\") "
                                      "{ id } logout }",
                                      NULL, NULL, NULL, 0, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Invalid username or password.\","
                         "\"locations\":[{\"line\":1,\"column\":12}],\"path\":[\"login\"],"
                         "\"extensions\":{\"code\":\"FORBIDDEN\"}}],\"data\":null}");
    CHECK_EQ_STR(social_log, "login:alice login-done ");
}

TEST(expensive_field_counted_through_aliases_and_fragments)
{
    social_result_t r = social_run_ex("mutation { a: login(username: \"alice\", password: \"x\") "
                                      "{ id } ...M } fragment M on Mutation { b: login(username: "
                                      "\"bob\", password: \"y\") { id } }",
                                      NULL, NULL, NULL, 0, 1);
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_REQUEST_ERROR);
    CHECK_EQ_INT(social_started, 0);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Field \\\"Mutation.login\\\" may be "
                         "selected at most 1 time per request, found 2.\",\"locations\":[{"
                         "\"line\":1,\"column\":1}]}]}");
    /* The same field twice under one response key executes once. */
    r = social_run_ex("mutation { login(username: \"alice\", password: \"secret\") { id } login("
                      "username: \"alice\", password: \"secret\") { secretkey } }",
                      NULL, NULL, NULL, 0, 1);
    CHECK_EQ_STR(r.body, "{\"data\":{\"login\":{\"id\":\"s1\",\"secretkey\":\"k1\"}}}");
}

TEST(count_field_after_prepare)
{
    gql_request_t *req;
    const char *q = "mutation ($s: Boolean!) { a: login(username: \"a\", password: \"b\") { id } "
                    "b: login(username: \"a\", password: \"b\") @skip(if: $s) { id } ...M logout } "
                    "fragment M on Mutation { c: login(username: \"a\", password: \"b\") { id } }";
    json_t *vars = json_pack("{s:b}", "s", 1);
    gql_limits_t l;
    gql_limits_default(&l);
    l.max_expensive = 0; /* no limit: the caller counts */
    REQUIRE(gql_prepare(social_schema(), q, strlen(q), vars, NULL, &l, &req) == 0);
    CHECK(!gql_request_failed(req));
    CHECK_EQ_INT(gql_request_op(req), GQL_OP_MUTATION);
    CHECK_EQ_INT(gql_request_count_field(req, "Mutation.login"), 2);
    CHECK_EQ_INT(gql_request_count_field(req, "Mutation.logout"), 1);
    CHECK_EQ_INT(gql_request_count_field(req, "AuthPayload.id"), 2);
    CHECK_EQ_INT(gql_request_count_field(req, "Query.me"), 0);
    CHECK_EQ_INT(gql_request_count_field(req, "nonsense"), 0);
    gql_request_free(req);
    json_decref(vars);
}

TEST(queries_only_refuses_mutations_without_running_them)
{
    social_result_t r = social_run_ex("mutation { logout }", NULL, NULL, NULL, GQL_QUERIES_ONLY, 1);
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_NOT_ALLOWED);
    CHECK_EQ_INT(r.op, GQL_OP_MUTATION);
    CHECK_EQ_STR(social_log, "");
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Can only perform a mutation operation "
                         "from a POST request.\"}]}");
    r = social_run_ex("{ user(id: \"1\") { id } }", NULL, NULL, NULL, GQL_QUERIES_ONLY, 1);
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_EXECUTED);
}

TEST(operation_type_without_executing)
{
    CHECK_EQ_INT(gql_operation_type("{ a }", 5, NULL), GQL_OP_QUERY);
    const char *two = "query A { a } mutation B { b }";
    CHECK_EQ_INT(gql_operation_type(two, strlen(two), "B"), GQL_OP_MUTATION);
    CHECK_EQ_INT(gql_operation_type(two, strlen(two), "A"), GQL_OP_QUERY);
    CHECK_EQ_INT(gql_operation_type(two, strlen(two), NULL), GQL_OP_NONE);
    CHECK_EQ_INT(gql_operation_type(two, strlen(two), "C"), GQL_OP_NONE);
    CHECK_EQ_INT(gql_operation_type("mutation {", 10, NULL), GQL_OP_NONE);
    CHECK_EQ_INT(gql_operation_type("subscription S { s }", 20, NULL), GQL_OP_SUBSCRIPTION);
}

TEST(deprecated_fields_still_resolve)
{
    CHECK_EQ_STR(RUN("{ user(id: \"1\") { oldName } }"),
                 "{\"data\":{\"user\":{\"oldName\":null}}}");
}

TEST(done_is_called_exactly_once_even_with_errors_everywhere)
{
    social_result_t r = social_run_ex("{ a: chatroom(id: \"x\") { id } b: chatroom(id: \"y\") { "
                                      "id } me { broken } users { nodes { broken } } }",
                                      NULL, NULL, NULL, 0, 0);
    CHECK_EQ_INT(r.calls, 1);
    CHECK_EQ_INT(social_nqueue, 0);
    CHECK(strstr(r.body, "\"data\":null") != NULL);
}

TEST(late_completions_under_a_nulled_parent_are_discarded)
{
    /* users.nodes[0].broken nulls data while me and the chatroom are still pending. */
    social_result_t r = {0};
    const char *q = "{ me { id } chatroom(id: \"c1\") { id } users(first: 1) { nodes { broken } "
                    "} }";
    REQUIRE(gql_execute_request(social_schema(), q, strlen(q), NULL, NULL, NULL, NULL, 0,
                                social_done, &r) == 0);
    CHECK_EQ_INT(r.calls, 0);
    CHECK_EQ_INT(social_nqueue, 2);
    while (social_step(1)) {
    }
    CHECK_EQ_INT(r.calls, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
                         "User.broken.\",\"locations\":[{\"line\":1,\"column\":65}],\"path\":["
                         "\"users\",\"nodes\",0,\"broken\"]}],\"data\":null}");
}

TEST(limit_depth_counts_through_fragments)
{
    gql_limits_t l;
    gql_limits_default(&l);
    l.max_depth = 3;
    social_result_t r = social_run_ex("{ me { ...F } } fragment F on User { bestFriend { "
                                      "bestFriend { id } } }",
                                      NULL, NULL, &l, 0, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Query depth limit of 3 exceeded, found "
                         "4.\"}]}");
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_REQUEST_ERROR);
    r = social_run_ex("{ me { bestFriend { id } } }", NULL, NULL, &l, 0, 1);
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_EXECUTED);
}

TEST(limit_aliases)
{
    gql_limits_t l;
    gql_limits_default(&l);
    l.max_aliases = 2;
    social_result_t r =
        social_run_ex("{ a: me { id } b: me { id } c: me { i: id } }", NULL, NULL, &l, 0, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Alias limit of 2 exceeded, found 4.\"}]}");
}

TEST(limit_fields_counts_fragment_expansion)
{
    /* Each fragment spreads the next one twice: 2^12 fields from a short document. */
    buf_t q = BUF_INIT;
    buf_append_cstr(&q, "{ me { ...F0 } } ");
    for (int i = 0; i < 12; i++)
        buf_appendf(&q, "fragment F%d on User { ...F%d bestFriend { ...F%d } } ", i, i + 1, i + 1);
    buf_append_cstr(&q, "fragment F12 on User { id }");
    buf_cstr(&q);
    social_result_t r = social_run_ex(q.base, NULL, NULL, NULL, 0, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Field limit of 1000 exceeded, found "
                         "8192.\"}]}");
    buf_free(&q);
}

TEST(limit_document_size_and_tokens)
{
    gql_limits_t l;
    gql_limits_default(&l);
    l.max_bytes = 10;
    social_result_t r = social_run_ex("{ me { id } }", NULL, NULL, &l, 0, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Document exceeds the maximum size of 10 "
                         "bytes.\"}]}");
    gql_limits_default(&l);
    l.max_tokens = 5;
    r = social_run_ex("{ me { id } }", NULL, NULL, &l, 0, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Syntax Error: Document contains more than "
                         "5 tokens. Parsing aborted.\",\"locations\":[{\"line\":1,\"column\":13}]}"
                         "]}");
}

TEST(limit_nesting_during_parse)
{
    buf_t q = BUF_INIT;
    for (int i = 0; i < 200; i++) buf_append_cstr(&q, "{ me ");
    buf_cstr(&q);
    social_result_t r = social_run_ex(q.base, NULL, NULL, NULL, 0, 1);
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_REQUEST_ERROR);
    CHECK(strstr(r.body, "Document nesting exceeds the maximum depth of 128.") != NULL);
    buf_free(&q);
}

TEST(deadline_stops_starting_resolvers)
{
    gql_limits_t l;
    gql_limits_default(&l);
    l.deadline_ms = 1; /* long past */
    social_result_t r = social_run_ex("{ me { id } user(id: \"1\") { id } }", NULL, NULL, &l, 0, 1);
    CHECK_EQ_INT(social_started, 0);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Execution deadline exceeded.\","
                         "\"locations\":[{\"line\":1,\"column\":3}],\"path\":[\"me\"]}],\"data\":{"
                         "\"me\":null,\"user\":null}}");
}

TEST(max_resolved_bounds_list_fan_out)
{
    gql_limits_t l;
    gql_limits_default(&l);
    l.max_resolved = 5;
    social_result_t r = social_run_ex("{ users { nodes { username followers { nodes { username } "
                                      "} } } }",
                                      NULL, NULL, &l, 0, 1);
    CHECK(strstr(r.body, "Execution limit of 5 resolved fields exceeded.") != NULL);
    CHECK_EQ_INT(r.calls, 1);
}

TEST(gql_prepare_then_start)
{
    gql_request_t *req;
    const char *q = "query ($id: ID!) { user(id: $id) { displayName } }";
    json_t *vars = json_pack("{s:i}", "id", 2);
    REQUIRE(gql_prepare(social_schema(), q, strlen(q), vars, NULL, NULL, &req) == 0);
    json_decref(vars);
    CHECK(!gql_request_failed(req));
    CHECK_EQ_INT(gql_request_op(req), GQL_OP_QUERY);
    social_result_t r = {0};
    gql_request_start(req, NULL, social_done, &r);
    CHECK_EQ_STR(r.body, "{\"data\":{\"user\":{\"displayName\":\"Bob\"}}}");
}

TEST(call_info_for_resolvers)
{
    /* followers resolver sees its path and can look ahead into its selection. */
    CHECK_EQ_STR(RUN("{ user(id: \"1\") { followers(first: 1) { pageInfo { hasNextPage "
                     "endCursor } nodes { id } } } }"),
                 "{\"data\":{\"user\":{\"followers\":{\"pageInfo\":{\"hasNextPage\":true,"
                 "\"endCursor\":\"2\"},\"nodes\":[{\"id\":\"2\"}]}}}}");
}
