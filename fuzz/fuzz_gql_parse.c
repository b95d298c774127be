/* fuzz_gql_parse - the GraphQL engine on arbitrary documents: parse, limits, validation,
 * variable coercion and execution against a small schema with synchronous resolvers.
 *
 * Input: a query document; or variables JSON, a NUL byte, then the document. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gql/arena.h"
#include "gql/gql.h"
#include "gql/parser.h"

static const char sdl[] =
    "interface Node { id: ID! }\n"
    "type Query { me: User user(id: ID, name: String): User users(first: Int = 2, after: "
    "String): [User!]! node(id: ID!): Node search(text: String!, kinds: [Kind!] = [A]): "
    "[Result!] echo(i: In, f: Float, b: Boolean, l: [[Int]]): String deep: Query }\n"
    "type Mutation { login(name: String!, password: String!): User! logout: Boolean }\n"
    "type User implements Node { id: ID! name: String! friends(first: Int): [User] kind: Kind "
    "broken: Int! }\n"
    "type Room implements Node { id: ID! title: String members: [User!]! }\n"
    "union Result = User | Room\n"
    "enum Kind { A B C @deprecated }\n"
    "input In { a: Int! = 1 b: [String!] c: In d: Kind = B }\n"
    "scalar Json\n";

static json_t *alice, *room;

static void r_user(gql_call_t *c)
{
    gql_call_return(c, json_incref(alice));
}

static void r_users(gql_call_t *c)
{
    json_int_t n = json_integer_value(gql_call_arg(c, "first"));
    json_t *a = json_array();
    for (json_int_t i = 0; i < n && i < 5; i++) json_array_append(a, alice);
    gql_call_return(c, a);
}

static void r_node(gql_call_t *c)
{
    const char *id = json_string_value(gql_call_arg(c, "id"));
    gql_call_return(c, json_incref(id && id[0] == 'r' ? room : alice));
}

static void r_search(gql_call_t *c)
{
    gql_call_return(c, json_pack("[O,O,n]", alice, room));
}

static void r_echo(gql_call_t *c)
{
    char *s = json_dumps(gql_call_args(c), JSON_COMPACT | JSON_ENCODE_ANY);
    gql_call_return(c, s ? json_string(s) : NULL);
    free(s);
}

static void r_deep(gql_call_t *c)
{
    gql_call_return(c, json_object());
}

static void r_login(gql_call_t *c)
{
    if (strcmp(json_string_value(gql_call_arg(c, "password")) ?: "", "x") == 0)
        gql_call_return(c, json_incref(alice));
    else
        gql_call_fail(c, "bad password", json_pack("{s:s}", "code", "FORBIDDEN"));
}

static void r_friends(gql_call_t *c)
{
    gql_call_return(c, json_pack("[O,n,s]", alice, "not an object"));
}

static gql_schema_t *schema;

static void setup(void)
{
    buf_t err = BUF_INIT;
    if (gql_schema_build(sdl, strlen(sdl), &schema, &err) != 0) abort();
    buf_free(&err);
    alice = json_pack("{s:s,s:s,s:s,s:s}", "__typename", "User", "id", "1", "name", "alice", "kind",
                      "A");
    room = json_pack("{s:s,s:s,s:s,s:[]}", "__typename", "Room", "id", "r1", "title", "hall",
                     "members");
    gql_schema_set_resolver(schema, "Query.me", r_user, NULL);
    gql_schema_set_resolver(schema, "Query.user", r_user, NULL);
    gql_schema_set_resolver(schema, "Query.users", r_users, NULL);
    gql_schema_set_resolver(schema, "Query.node", r_node, NULL);
    gql_schema_set_resolver(schema, "Query.search", r_search, NULL);
    gql_schema_set_resolver(schema, "Query.echo", r_echo, NULL);
    gql_schema_set_resolver(schema, "Query.deep", r_deep, NULL);
    gql_schema_set_resolver(schema, "Mutation.login", r_login, NULL);
    gql_schema_set_resolver(schema, "User.friends", r_friends, NULL);
    gql_schema_set_expensive(schema, "Mutation.login");
}

static void done(void *arg, gql_response_t *resp)
{
    /* The response must always be valid JSON. */
    json_error_t e;
    json_t *j = json_loadb(resp->body.base, resp->body.len, 0, &e);
    if (!j) abort();
    json_decref(j);
    (*(int *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!schema) setup();
    const char *query = (const char *)data;
    size_t qlen = size;
    json_t *vars = NULL;
    const uint8_t *nul = memchr(data, 0, size);
    if (nul) {
        vars = json_loadb((const char *)data, (size_t)(nul - data), JSON_DECODE_ANY, NULL);
        query = (const char *)nul + 1;
        qlen = size - (size_t)(nul - data) - 1;
    }

    /* The parser alone, with tight limits. */
    gql_arena_t a;
    gql_arena_init(&a, 1 << 20);
    gql_parse_opts_t po = {0, 2000, 32};
    gql_ast_doc_t *doc;
    gql_parse_error_t err;
    gql_parse(&a, query, qlen, &po, &doc, &err);
    gql_arena_free(&a);

    /* The whole pipeline, default limits. */
    int calls = 0;
    if (gql_execute_request(schema, query, qlen, vars, NULL, NULL, NULL, 0, done, &calls) == 0 &&
        calls != 1)
        abort();
    gql_operation_type(query, qlen, NULL);
    json_decref(vars);
    return 0;
}
