/* social.h - the GraphQL engine's test fixture: a small social schema (like
 * docs/schema.graphql, plus an interface, a union and an input object), in-memory data, and
 * resolvers - some of them asynchronous, completed later by a tiny fake event loop, the way
 * storage commits complete on the real one. Included by the tests in this directory. */
#ifndef ROOST_TEST_GQL_SOCIAL_H
#define ROOST_TEST_GQL_SOCIAL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql/gql.h"

static const char social_sdl[] =
    "\"Something with an id.\"\n"
    "interface Node {\n"
    "  id: ID!\n"
    "}\n"
    "\n"
    "type Query {\n"
    "  \"The viewer (resolved asynchronously).\"\n"
    "  me: User\n"
    "  user(id: ID, username: String): User\n"
    "  users(search: String, first: Int = 20, after: String): UserConnection!\n"
    "  node(id: ID!): Node\n"
    "  search(text: String!): [SearchResult!]!\n"
    "  chatroom(id: ID!): Chatroom\n"
    "  echo(text: String = \"hi\", n: Int, f: Float, kind: ChatroomKind, input: MessageInput, ids: "
    "[ID!]): String\n"
    "}\n"
    "\n"
    "type Mutation {\n"
    "  login(username: String!, password: String!): AuthPayload!\n"
    "  sendMessage(input: MessageInput!): Message!\n"
    "  logout: Boolean!\n"
    "}\n"
    "\n"
    "type AuthPayload {\n"
    "  id: ID!\n"
    "  secretkey: String!\n"
    "  user: User!\n"
    "}\n"
    "\n"
    "type User implements Node {\n"
    "  id: ID!\n"
    "  username: String!\n"
    "  displayName: String!\n"
    "  followerCount: Int!\n"
    "  followers(first: Int = 20, after: String): UserConnection!\n"
    "  lastSeen: String\n"
    "  bestFriend: User\n"
    "  \"Always null: for null propagation tests.\"\n"
    "  broken: String!\n"
    "  oldName: String @deprecated(reason: \"Use `displayName`.\")\n"
    "}\n"
    "\n"
    "type UserConnection {\n"
    "  nodes: [User!]!\n"
    "  pageInfo: PageInfo!\n"
    "}\n"
    "\n"
    "type PageInfo {\n"
    "  hasNextPage: Boolean!\n"
    "  endCursor: String\n"
    "}\n"
    "\n"
    "enum ChatroomKind {\n"
    "  DIRECT\n"
    "  GROUP\n"
    "  LEGACY @deprecated\n"
    "}\n"
    "\n"
    "type Chatroom implements Node {\n"
    "  id: ID!\n"
    "  kind: ChatroomKind!\n"
    "  name: String\n"
    "  members: [User!]!\n"
    "  messages(last: Int = 50): [Message!]!\n"
    "}\n"
    "\n"
    "type Message implements Node {\n"
    "  id: ID!\n"
    "  text: String!\n"
    "  sender: User!\n"
    "}\n"
    "\n"
    "union SearchResult = User | Chatroom\n"
    "\n"
    "input MessageInput {\n"
    "  chatroomId: ID!\n"
    "  text: String!\n"
    "  tags: [String!] = []\n"
    "}\n"
    "\n";

/* ---- data ---- */

static json_t *social_users;    /* array of user objects */
static json_t *social_rooms;    /* array of chatroom objects */
static json_t *social_messages; /* array of message objects */
static const char *social_follows[][2] = {
    {"2", "1"}, {"3", "1"}, {"1", "2"}}; /* follower, followee */

static void social_data_init(void)
{
    if (social_users) return;
    social_users = json_pack(
        "[{s:s,s:s,s:s,s:i,s:n,s:s}, {s:s,s:s,s:s,s:i,s:s,s:s}, {s:s,s:s,s:s,s:i,s:n,s:n}]", "id",
        "1", "username", "alice", "displayName", "Alice", "followerCount", 2, "lastSeen",
        "bestFriendId", "2", "id", "2", "username", "bob", "displayName", "Bob", "followerCount", 1,
        "lastSeen", "2024-05-01T10:00:00Z", "bestFriendId", "1", "id", "3", "username", "carol",
        "displayName", "Carol", "followerCount", 0, "lastSeen", "bestFriendId");
    social_rooms = json_pack("[{s:s,s:s,s:s,s:[s,s]}, {s:s,s:s,s:n,s:[s,s]}]", "id", "c1", "kind",
                             "GROUP", "name", "friends", "memberIds", "1", "2", "id", "c2", "kind",
                             "DIRECT", "name", "memberIds", "1", "3");
    social_messages = json_pack("[{s:s,s:s,s:s,s:s}, {s:s,s:s,s:s,s:s}]", "id", "m1", "chatroomId",
                                "c1", "text", "hello", "senderId", "1", "id", "m2", "chatroomId",
                                "c1", "text", "hi alice", "senderId", "2");
}

static json_t *social_find(json_t *arr, const char *key, const char *val)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        const char *s = json_string_value(json_object_get(o, key));
        if (s && val && strcmp(s, val) == 0) return o;
    }
    return NULL;
}

static json_t *social_user(const char *id)
{
    return social_find(social_users, "id", id);
}

/* ---- the fake event loop ---- */

typedef struct social_pending {
    gql_call_t *call;
    json_t *value;
    char *error;
    const char *log_done;
} social_pending_t;

static social_pending_t social_queue[512];
static int social_nqueue;
static char social_log[4096]; /* what resolvers did, in order, for serial-execution checks */
static int social_started;    /* resolvers started (sync and async) */

static void social_logf(const char *fmt, const char *arg)
{
    size_t n = strlen(social_log);
    snprintf(social_log + n, sizeof social_log - n, fmt, arg ? arg : "");
    n = strlen(social_log);
    if (n + 1 < sizeof social_log) social_log[n] = ' ', social_log[n + 1] = 0;
}

/* Complete the call later, from the loop, as a storage callback would. */
static void social_later(gql_call_t *call, json_t *value, const char *error, const char *log_done)
{
    social_queue[social_nqueue++] =
        (social_pending_t){call, value, error ? strdup(error) : NULL, log_done};
}

/* Run one queued completion: the oldest (fifo) or the newest. Returns 0 when none. */
static int social_step(int fifo)
{
    if (!social_nqueue) return 0;
    social_pending_t p;
    if (fifo) {
        p = social_queue[0];
        memmove(social_queue, social_queue + 1, (size_t)(social_nqueue - 1) * sizeof p);
    } else {
        p = social_queue[social_nqueue - 1];
    }
    social_nqueue--;
    if (p.log_done) social_logf("%s", p.log_done);
    if (p.error) {
        gql_call_fail(p.call, p.error, json_pack("{s:s}", "code", "FORBIDDEN"));
        free(p.error);
    } else {
        gql_call_return(p.call, p.value);
    }
    return 1;
}

/* ---- resolvers ---- */

static void r_me(gql_call_t *c)
{
    social_started++;
    social_later(c, json_incref(social_user("1")), NULL, NULL);
}

static void r_user(gql_call_t *c)
{
    social_started++;
    json_t *id = gql_call_arg(c, "id"), *name = gql_call_arg(c, "username");
    if ((id && !json_is_null(id)) == (name && !json_is_null(name))) {
        gql_call_fail(c, "Provide exactly one of id and username.", NULL);
        return;
    }
    json_t *u = id && !json_is_null(id)
                    ? social_user(json_string_value(id))
                    : social_find(social_users, "username", json_string_value(name));
    gql_call_return(c, u ? json_incref(u) : NULL);
}

static json_t *connection(json_t *nodes, int first, int more)
{
    json_t *last =
        json_array_size(nodes) ? json_array_get(nodes, json_array_size(nodes) - 1) : NULL;
    (void)first;
    return json_pack("{s:o,s:{s:b,s:O}}", "nodes", nodes, "pageInfo", "hasNextPage", more,
                     "endCursor", last ? json_object_get(last, "id") : json_null());
}

static void r_users(gql_call_t *c)
{
    social_started++;
    const char *search = json_string_value(gql_call_arg(c, "search"));
    const char *after = json_string_value(gql_call_arg(c, "after"));
    int first = (int)json_integer_value(gql_call_arg(c, "first"));
    json_t *nodes = json_array();
    int skipping = after != NULL, more = 0;
    size_t i;
    json_t *u;
    json_array_foreach(social_users, i, u)
    {
        const char *id = json_string_value(json_object_get(u, "id"));
        if (skipping) {
            if (strcmp(id, after) == 0) skipping = 0;
            continue;
        }
        if (search && !strcasestr(json_string_value(json_object_get(u, "username")), search) &&
            !strcasestr(json_string_value(json_object_get(u, "displayName")), search))
            continue;
        if ((int)json_array_size(nodes) >= first) {
            more = 1;
            break;
        }
        json_array_append(nodes, u);
    }
    gql_call_return(c, connection(nodes, first, more));
}

static json_t *typed(json_t *o, const char *type)
{
    json_t *copy = json_copy(o);
    json_object_set_new(copy, "__typename", json_string(type));
    return copy;
}

static void r_node(gql_call_t *c)
{
    social_started++;
    const char *id = json_string_value(gql_call_arg(c, "id"));
    json_t *o;
    if ((o = social_user(id)))
        gql_call_return(c, typed(o, "User"));
    else if ((o = social_find(social_rooms, "id", id)))
        gql_call_return(c, typed(o, "Chatroom"));
    else if ((o = social_find(social_messages, "id", id)))
        gql_call_return(c, typed(o, "Message"));
    else
        gql_call_return(c, NULL);
}

static void r_search(gql_call_t *c)
{
    social_started++;
    const char *text = json_string_value(gql_call_arg(c, "text"));
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(social_users, i,
                       o) if (strcasestr(json_string_value(json_object_get(o, "username")), text))
        json_array_append(out, o);
    json_array_foreach(social_rooms, i, o)
    {
        const char *name = json_string_value(json_object_get(o, "name"));
        if (name && strcasestr(name, text)) json_array_append(out, o);
    }
    gql_call_return(c, out);
}

/* SearchResult values carry no __typename: tell them apart by shape. */
static const char *resolve_search_type(json_t *value, void *ctx, void *udata)
{
    if (json_object_get(value, "username")) return "User";
    if (json_object_get(value, "memberIds")) return "Chatroom";
    return NULL;
}

static void r_chatroom(gql_call_t *c)
{
    social_started++;
    json_t *room = social_find(social_rooms, "id", json_string_value(gql_call_arg(c, "id")));
    if (room)
        social_later(c, json_incref(room), NULL, NULL);
    else
        social_later(c, NULL, "Not a member of this chatroom.", NULL);
}

static void r_echo(gql_call_t *c)
{
    social_started++;
    char *s = json_dumps(gql_call_args(c), JSON_COMPACT | JSON_SORT_KEYS);
    gql_call_return(c, json_string(s));
    free(s);
}

static void r_login(gql_call_t *c)
{
    social_started++;
    const char *name = json_string_value(gql_call_arg(c, "username"));
    social_logf("login:%s", name);
    json_t *u = social_find(social_users, "username", name);
    if (!u || strcmp(json_string_value(gql_call_arg(c, "password")), "secret") != 0) {
        social_later(c, NULL, "Invalid username or password.", "login-done");
        return;
    }
    social_later(c, json_pack("{s:s,s:s,s:O}", "id", "s1", "secretkey", "k1", "user", u), NULL,
                 "login-done");
}

static void r_send(gql_call_t *c)
{
    social_started++;
    json_t *in = gql_call_arg(c, "input");
    social_logf("send:%s", json_string_value(json_object_get(in, "text")));
    social_later(c,
                 json_pack("{s:s,s:O,s:s,s:O}", "id", "m9", "text", json_object_get(in, "text"),
                           "senderId", "1", "tags", json_object_get(in, "tags")),
                 NULL, "send-done");
}

static void r_logout(gql_call_t *c)
{
    social_started++;
    social_logf("logout", NULL);
    gql_call_return(c, json_true());
}

static void r_followers(gql_call_t *c)
{
    social_started++;
    const char *id = json_string_value(json_object_get(gql_call_parent(c), "id"));
    int first = (int)json_integer_value(gql_call_arg(c, "first"));
    json_t *nodes = json_array();
    int more = 0;
    for (size_t i = 0; i < sizeof social_follows / sizeof *social_follows; i++) {
        if (strcmp(social_follows[i][1], id) != 0) continue;
        if ((int)json_array_size(nodes) >= first) {
            more = 1;
            break;
        }
        json_array_append(nodes, social_user(social_follows[i][0]));
    }
    gql_call_return(c, connection(nodes, first, more));
}

static void r_best_friend(gql_call_t *c)
{
    social_started++;
    json_t *u = social_user(json_string_value(json_object_get(gql_call_parent(c), "bestFriendId")));
    gql_call_return(c, u ? json_incref(u) : NULL);
}

static void r_members(gql_call_t *c)
{
    social_started++;
    json_t *out = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(gql_call_parent(c), "memberIds"), i, id)
        json_array_append(out, social_user(json_string_value(id)));
    gql_call_return(c, out);
}

static void r_messages(gql_call_t *c)
{
    social_started++;
    const char *room = json_string_value(json_object_get(gql_call_parent(c), "id"));
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(social_messages, i,
                       m) if (strcmp(json_string_value(json_object_get(m, "chatroomId")), room) ==
                              0) json_array_append(out, m);
    gql_call_return(c, out);
}

/* Message.sender completes later: lists of objects with pending fields inside. */
static void r_sender(gql_call_t *c)
{
    social_started++;
    json_t *u = social_user(json_string_value(json_object_get(gql_call_parent(c), "senderId")));
    social_later(c, u ? json_incref(u) : NULL, NULL, NULL);
}

static gql_schema_t *social_schema(void)
{
    static gql_schema_t *s;
    if (s) return s;
    social_data_init();
    buf_t err = BUF_INIT;
    if (gql_schema_build(social_sdl, strlen(social_sdl), &s, &err) < 0) {
        fprintf(stderr, "social schema: %.*s\n", (int)err.len, err.base);
        exit(2);
    }
    buf_free(&err);
    static const struct {
        const char *coord;
        gql_resolver_fn fn;
    } binds[] = {
        {"Query.me", r_me},
        {"Query.user", r_user},
        {"Query.users", r_users},
        {"Query.node", r_node},
        {"Query.search", r_search},
        {"Query.chatroom", r_chatroom},
        {"Query.echo", r_echo},
        {"Mutation.login", r_login},
        {"Mutation.sendMessage", r_send},
        {"Mutation.logout", r_logout},
        {"User.followers", r_followers},
        {"User.bestFriend", r_best_friend},
        {"Chatroom.members", r_members},
        {"Chatroom.messages", r_messages},
        {"Message.sender", r_sender},
    };
    for (size_t i = 0; i < sizeof binds / sizeof *binds; i++)
        if (gql_schema_set_resolver(s, binds[i].coord, binds[i].fn, NULL) != 0) exit(3);
    if (gql_schema_set_type_resolver(s, "SearchResult", resolve_search_type, NULL) != 0) exit(4);
    if (gql_schema_set_expensive(s, "Mutation.login") != 0) exit(5);
    return s;
}

/* ---- running requests ---- */

typedef struct social_result {
    char *body;
    enum gql_outcome outcome;
    enum gql_op_type op;
    bool has_errors;
    int calls; /* times done was called */
} social_result_t;

static void social_done(void *arg, gql_response_t *resp)
{
    social_result_t *r = arg;
    r->calls++;
    r->body = strndup(resp->body.base, resp->body.len);
    r->outcome = resp->outcome;
    r->op = resp->op;
    r->has_errors = resp->has_errors;
}

/* Execute and drive the fake loop until the response is complete. */
static inline social_result_t social_run_ex(const char *query, const char *vars_json,
                                            const char *opname, const gql_limits_t *limits,
                                            unsigned flags, int fifo)
{
    social_result_t r = {0};
    json_t *vars = vars_json ? json_loads(vars_json, JSON_DECODE_ANY, NULL) : NULL;
    gql_limits_t l;
    gql_limits_default(&l);
    if (gql_execute_request(social_schema(), query, strlen(query), vars, opname, NULL,
                            limits ? limits : &l, flags, social_done, &r) != 0) {
        r.body = strdup("(execute failed)");
        json_decref(vars);
        return r;
    }
    json_decref(vars);
    while (!r.calls && social_step(fifo)) {
    }
    if (!r.body) r.body = strdup("(no response)");
    return r;
}

/* The response body of a query with optional variables (JSON text). */
static inline const char *social_run(const char *query, const char *vars_json)
{
    return social_run_ex(query, vars_json, NULL, NULL, 0, 1).body;
}

#endif
