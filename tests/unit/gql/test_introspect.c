/* test_introspect.c - introspection (spec 4): the exact query graphql-js 16 sends from
 * getIntrospectionQuery({descriptions, specifiedByUrl, directiveIsRepeatable,
 * inputValueDeprecation: true}) - what GraphiQL sends - must produce what buildClientSchema
 * needs. (The integration tests feed the same answer to buildClientSchema itself.) */
#include "test.h"

#include "social.h"

static const char introspection_query[] = "\n"
                                          "    query IntrospectionQuery {\n"
                                          "      __schema {\n"
                                          "        \n"
                                          "        queryType { name kind }\n"
                                          "        mutationType { name kind }\n"
                                          "        subscriptionType { name kind }\n"
                                          "        types {\n"
                                          "          ...FullType\n"
                                          "        }\n"
                                          "        directives {\n"
                                          "          name\n"
                                          "          description\n"
                                          "          isRepeatable\n"
                                          "          \n"
                                          "          \n"
                                          "          locations\n"
                                          "          args(includeDeprecated: true) {\n"
                                          "            ...InputValue\n"
                                          "          }\n"
                                          "        }\n"
                                          "      }\n"
                                          "    }\n"
                                          "\n"
                                          "    fragment FullType on __Type {\n"
                                          "      kind\n"
                                          "      name\n"
                                          "      description\n"
                                          "      specifiedByURL\n"
                                          "      \n"
                                          "      fields(includeDeprecated: true) {\n"
                                          "        name\n"
                                          "        description\n"
                                          "        args(includeDeprecated: true) {\n"
                                          "          ...InputValue\n"
                                          "        }\n"
                                          "        type {\n"
                                          "          ...TypeRef\n"
                                          "        }\n"
                                          "        isDeprecated\n"
                                          "        deprecationReason\n"
                                          "      }\n"
                                          "      inputFields(includeDeprecated: true) {\n"
                                          "        ...InputValue\n"
                                          "      }\n"
                                          "      interfaces {\n"
                                          "        ...TypeRef\n"
                                          "      }\n"
                                          "      enumValues(includeDeprecated: true) {\n"
                                          "        name\n"
                                          "        description\n"
                                          "        isDeprecated\n"
                                          "        deprecationReason\n"
                                          "      }\n"
                                          "      possibleTypes {\n"
                                          "        ...TypeRef\n"
                                          "      }\n"
                                          "    }\n"
                                          "\n"
                                          "    fragment InputValue on __InputValue {\n"
                                          "      name\n"
                                          "      description\n"
                                          "      type { ...TypeRef }\n"
                                          "      defaultValue\n"
                                          "      isDeprecated\n"
                                          "      deprecationReason\n"
                                          "    }\n"
                                          "\n"
                                          "    fragment TypeRef on __Type {\n"
                                          "      kind\n"
                                          "      name\n"
                                          "      ofType {\n"
                                          "        name\n"
                                          "        kind\n"
                                          "        ofType {\n"
                                          "          name\n"
                                          "          kind\n"
                                          "          ofType {\n"
                                          "            name\n"
                                          "            kind\n"
                                          "            ofType {\n"
                                          "              name\n"
                                          "              kind\n"
                                          "              ofType {\n"
                                          "                name\n"
                                          "                kind\n"
                                          "                ofType {\n"
                                          "                  name\n"
                                          "                  kind\n"
                                          "                  ofType {\n"
                                          "                    name\n"
                                          "                    kind\n"
                                          "                    ofType {\n"
                                          "                      name\n"
                                          "                      kind\n"
                                          "                      ofType {\n"
                                          "                        name\n"
                                          "                        kind\n"
                                          "                      }\n"
                                          "                    }\n"
                                          "                  }\n"
                                          "                }\n"
                                          "              }\n"
                                          "            }\n"
                                          "          }\n"
                                          "        }\n"
                                          "      }\n"
                                          "    }\n"
                                          "  ";

static json_t *run_json(const char *query, const char *opname)
{
    social_result_t r = social_run_ex(query, NULL, opname, NULL, 0, 1);
    json_t *j = json_loads(r.body, 0, NULL);
    if (!j) fprintf(stderr, "not JSON: %s\n", r.body);
    return j;
}

static json_t *find_named(json_t *arr, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) if (json_is_object(o) && json_object_get(o, "name") &&
                                      strcmp(json_string_value(json_object_get(o, "name")) ?: "",
                                             name) == 0) return o;
    return NULL;
}

/* "[User!]!" from an ofType chain. */
static void type_ref(json_t *t, char *out, size_t n)
{
    const char *kind = json_string_value(json_object_get(t, "kind"));
    char inner[256] = "";
    if (strcmp(kind, "NON_NULL") == 0) {
        type_ref(json_object_get(t, "ofType"), inner, sizeof inner);
        snprintf(out, n, "%s!", inner);
    } else if (strcmp(kind, "LIST") == 0) {
        type_ref(json_object_get(t, "ofType"), inner, sizeof inner);
        snprintf(out, n, "[%s]", inner);
    } else {
        snprintf(out, n, "%s", json_string_value(json_object_get(t, "name")));
    }
}

TEST(full_introspection_query_shape)
{
    json_t *res = run_json(introspection_query, "IntrospectionQuery");
    REQUIRE(res != NULL);
    CHECK(json_object_get(res, "errors") == NULL);
    json_t *schema = json_object_get(json_object_get(res, "data"), "__schema");
    REQUIRE(schema != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(schema, "queryType"), "name")),
                 "Query");
    CHECK_EQ_STR(
        json_string_value(json_object_get(json_object_get(schema, "mutationType"), "name")),
        "Mutation");
    CHECK(json_is_null(json_object_get(schema, "subscriptionType")));
    json_t *types = json_object_get(schema, "types");
    /* every referenced scalar (the social schema uses all five) and the __ types */
    CHECK(find_named(types, "String") && find_named(types, "Boolean"));
    CHECK(find_named(types, "ID") && find_named(types, "Int") && find_named(types, "Float"));
    CHECK(find_named(types, "__Type") && find_named(types, "__TypeKind"));
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t)
    {
        const char *kind = json_string_value(json_object_get(t, "kind"));
        json_t *ifaces = json_object_get(t, "interfaces");
        json_t *fields = json_object_get(t, "fields");
        if (strcmp(kind, "OBJECT") == 0 || strcmp(kind, "INTERFACE") == 0) {
            CHECK(json_is_array(ifaces));
            CHECK(json_array_size(fields) > 0);
            size_t k;
            json_t *f;
            json_array_foreach(fields, k, f) CHECK(json_is_array(json_object_get(f, "args")));
        } else {
            CHECK(json_is_null(ifaces));
            CHECK(json_is_null(fields));
        }
        CHECK(json_is_array(json_object_get(t, "possibleTypes")) ==
              (strcmp(kind, "UNION") == 0 || strcmp(kind, "INTERFACE") == 0));
        CHECK(json_is_array(json_object_get(t, "enumValues")) == (strcmp(kind, "ENUM") == 0));
        CHECK(json_is_array(json_object_get(t, "inputFields")) ==
              (strcmp(kind, "INPUT_OBJECT") == 0));
    }
    /* Fields, arguments, defaults, deprecation, wrappers. */
    json_t *user = find_named(types, "User");
    REQUIRE(user != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(
                     json_array_get(json_object_get(user, "interfaces"), 0), "name")),
                 "Node");
    json_t *followers = find_named(json_object_get(user, "fields"), "followers");
    REQUIRE(followers != NULL);
    char ref[256];
    type_ref(json_object_get(followers, "type"), ref, sizeof ref);
    CHECK_EQ_STR(ref, "UserConnection!");
    json_t *first = find_named(json_object_get(followers, "args"), "first");
    CHECK_EQ_STR(json_string_value(json_object_get(first, "defaultValue")), "20");
    json_t *old = find_named(json_object_get(user, "fields"), "oldName");
    REQUIRE(old != NULL);
    CHECK(json_is_true(json_object_get(old, "isDeprecated")));
    CHECK_EQ_STR(json_string_value(json_object_get(old, "deprecationReason")),
                 "Use `displayName`.");
    json_t *conn = find_named(types, "UserConnection");
    type_ref(json_object_get(find_named(json_object_get(conn, "fields"), "nodes"), "type"), ref,
             sizeof ref);
    CHECK_EQ_STR(ref, "[User!]!");
    json_t *kind = find_named(types, "ChatroomKind");
    json_t *legacy = find_named(json_object_get(kind, "enumValues"), "LEGACY");
    REQUIRE(legacy != NULL);
    CHECK(json_is_true(json_object_get(legacy, "isDeprecated")));
    json_t *input = find_named(types, "MessageInput");
    json_t *tags = find_named(json_object_get(input, "inputFields"), "tags");
    CHECK_EQ_STR(json_string_value(json_object_get(tags, "defaultValue")), "[]");
    json_t *node = find_named(types, "Node");
    CHECK_EQ_INT(json_array_size(json_object_get(node, "possibleTypes")), 3);
    json_t *sr = find_named(types, "SearchResult");
    CHECK_EQ_INT(json_array_size(json_object_get(sr, "possibleTypes")), 2);
    json_t *query = find_named(types, "Query");
    CHECK(find_named(json_object_get(query, "fields"), "__schema") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(
                     find_named(json_object_get(query, "fields"), "me"), "description")),
                 "The viewer (resolved asynchronously).");
    /* Directives. */
    json_t *dirs = json_object_get(schema, "directives");
    json_t *skip = find_named(dirs, "skip");
    REQUIRE(skip != NULL);
    CHECK(json_is_false(json_object_get(skip, "isRepeatable")));
    CHECK_EQ_INT(json_array_size(json_object_get(skip, "locations")), 3);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(skip, "locations"), 0)), "FIELD");
    type_ref(json_object_get(find_named(json_object_get(skip, "args"), "if"), "type"), ref,
             sizeof ref);
    CHECK_EQ_STR(ref, "Boolean!");
    CHECK(find_named(dirs, "include") && find_named(dirs, "deprecated") &&
          find_named(dirs, "specifiedBy"));
    json_t *dep = find_named(dirs, "deprecated");
    CHECK_EQ_STR(json_string_value(json_object_get(
                     find_named(json_object_get(dep, "args"), "reason"), "defaultValue")),
                 "\"No longer supported\"");
    json_decref(res);
}

TEST(deprecated_members_hidden_unless_asked)
{
    json_t *res = run_json("{ __type(name: \"ChatroomKind\") { enumValues { name } all: "
                           "enumValues(includeDeprecated: true) { name } } u: __type(name: "
                           "\"User\") { fields { name } } }",
                           NULL);
    REQUIRE(res != NULL);
    json_t *t = json_object_get(json_object_get(res, "data"), "__type");
    CHECK_EQ_INT(json_array_size(json_object_get(t, "enumValues")), 2);
    CHECK_EQ_INT(json_array_size(json_object_get(t, "all")), 3);
    json_t *u = json_object_get(json_object_get(res, "data"), "u");
    CHECK(find_named(json_object_get(u, "fields"), "oldName") == NULL);
    CHECK(find_named(json_object_get(u, "fields"), "displayName") != NULL);
    json_decref(res);
}

TEST(type_by_name)
{
    CHECK_EQ_STR(social_run("{ __type(name: \"PageInfo\") { kind name fields { name type { kind "
                            "ofType { name } } } interfaces { name } possibleTypes { name } } }",
                            NULL),
                 "{\"data\":{\"__type\":{\"kind\":\"OBJECT\",\"name\":\"PageInfo\",\"fields\":[{"
                 "\"name\":\"hasNextPage\",\"type\":{\"kind\":\"NON_NULL\",\"ofType\":{\"name\":"
                 "\"Boolean\"}}},{\"name\":\"endCursor\",\"type\":{\"kind\":\"SCALAR\",\"ofType\":"
                 "null}}],\"interfaces\":[],\"possibleTypes\":null}}}");
    CHECK_EQ_STR(social_run("{ __type(name: \"Nope\") { name } f: __type(name: \"Float\") { name "
                            "} }",
                            NULL),
                 "{\"data\":{\"__type\":null,\"f\":{\"name\":\"Float\"}}}");
}

TEST(introspection_inside_fragments_and_with_typename)
{
    CHECK_EQ_STR(social_run("query { ...Q } fragment Q on Query { __schema { __typename "
                            "queryType { __typename name } } }",
                            NULL),
                 "{\"data\":{\"__schema\":{\"__typename\":\"__Schema\",\"queryType\":{"
                 "\"__typename\":\"__Type\",\"name\":\"Query\"}}}}");
}

TEST(schema_field_only_on_the_query_root)
{
    social_result_t r =
        social_run_ex("{ me { __schema { types { name } } } }", NULL, NULL, NULL, 0, 1);
    CHECK_EQ_STR(r.body, "{\"errors\":[{\"message\":\"Cannot query field \\\"__schema\\\" on type "
                         "\\\"User\\\".\",\"locations\":[{\"line\":1,\"column\":8}]}]}");
}

TEST(introspection_fits_the_default_limits)
{
    social_result_t r = social_run_ex(introspection_query, NULL, "IntrospectionQuery", NULL, 0, 1);
    CHECK_EQ_INT(r.outcome, GQL_OUTCOME_EXECUTED);
    CHECK(!r.has_errors);
}
