/* test_parser.c - the executable-document grammar: AST shape, every syntax error with its
 * message and location (expected values from graphql-js 16's parse()), and parser limits. */
#include "test.h"

#include "gql/lexer.h"
#include "gql/parser.h"
#include "util/err.h"

typedef struct pcase {
    const char *src;
    const char *message; /* NULL: parses */
    uint32_t line, column;
} pcase_t;

static const pcase_t syntax[] = {
    {"", "Syntax Error: Unexpected <EOF>.", 1, 1},
    {"{", "Syntax Error: Expected Name, found <EOF>.", 1, 2},
    {"{ a", "Syntax Error: Expected Name, found <EOF>.", 1, 4},
    {"{ a }", NULL, 0, 0},
    {"{}", "Syntax Error: Expected Name, found \"}\".", 1, 2},
    {"query", "Syntax Error: Expected \"{\", found <EOF>.", 1, 6},
    {"query Q", "Syntax Error: Expected \"{\", found <EOF>.", 1, 8},
    {"query Q(", "Syntax Error: Expected \"$\", found <EOF>.", 1, 9},
    {"query Q()", "Syntax Error: Expected \"$\", found \")\".", 1, 9},
    {"query Q($a) { a }", "Syntax Error: Expected \":\", found \")\".", 1, 11},
    {"query Q($a: Int = $b) { a }", "Syntax Error: Unexpected variable \"$b\" in constant value.",
     1, 19},
    {"query Q($a: Int = 1) { a(x: $a) }", NULL, 0, 0},
    {"{ a(x: ) }", "Syntax Error: Unexpected \")\".", 1, 8},
    {"{ a() }", "Syntax Error: Expected Name, found \")\".", 1, 5},
    {"{ ...on }", "Syntax Error: Expected Name, found \"}\".", 1, 9},
    {"{ ... on T { a } }", NULL, 0, 0},
    {"{ ... { a } }", NULL, 0, 0},
    {"{ ...F }", NULL, 0, 0},
    {"fragment on on T { a }", "Syntax Error: Unexpected Name \"on\".", 1, 10},
    {"fragment F T { a }", "Syntax Error: Expected \"on\", found Name \"T\".", 1, 12},
    {"fragment F on T", "Syntax Error: Expected \"{\", found <EOF>.", 1, 16},
    {"{ a: }", "Syntax Error: Expected Name, found \"}\".", 1, 6},
    {"{ a: b: c }", "Syntax Error: Expected Name, found \":\".", 1, 7},
    {"{ a(x: [1, 2, {a: \"b\"}]) }", NULL, 0, 0},
    {"{ a(x: [1, 2) }", "Syntax Error: Unexpected \")\".", 1, 13},
    {"{ a(x: {a 1}) }", "Syntax Error: Expected \":\", found Int \"1\".", 1, 11},
    {"{ a(x: 01) }", "Syntax Error: Invalid number, unexpected digit after 0: \"1\".", 1, 9},
    {"{ a(x: 1.) }", "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 10},
    {"{ a(x: 1.e3) }", "Syntax Error: Invalid number, expected digit but got: \"e\".", 1, 10},
    {"{ a(x: 1e) }", "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 10},
    {"{ a(x: 1a) }", "Syntax Error: Invalid number, expected digit but got: \"a\".", 1, 9},
    {"{ a(x: 0x1) }", "Syntax Error: Invalid number, expected digit but got: \"x\".", 1, 9},
    {"{ a(x: -) }", "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 9},
    {"{ a(x: -0.5e-3) }", NULL, 0, 0},
    {"{ a(x: \"abc) }", "Syntax Error: Unterminated string.", 1, 15},
    {"{ a(x: \"abc\n\") }", "Syntax Error: Unterminated string.", 1, 12},
    {"{ a(x: \"\\x\") }", "Syntax Error: Invalid character escape sequence: \"\\x\".", 1, 9},
    {"{ a(x: \"\\u12G4\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u12G4\".", 1, 9},
    {"{ a(x: \"\\uD83D\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\uD83D\".", 1, 9},
    {"{ a(x: \"\\uD83D\\uDE00\") }", NULL, 0, 0},
    {"{ a(x: \"\\uDE00\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\uDE00\".", 1, 9},
    {"{ a(x: \"\\u{1F600}\") }", NULL, 0, 0},
    {"{ a(x: \"\\u{}\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u{}\".", 1, 9},
    {"{ a(x: \"\\u{110000}\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u{110000}\".",
     1, 9},
    {"{ a(x: \"\\u{D800}\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\u{D800}\".", 1,
     9},
    {"{ a(x: \"\\u{00000041}\") }", NULL, 0, 0},
    {"{ a(x: \"\\u{000000041}\") }",
     "Syntax Error: Invalid Unicode escape sequence: \"\\u{000000041\".", 1, 9},
    {"{ a(x: \"\"\"abc) }", "Syntax Error: Unterminated string.", 1, 17},
    {"{ a(x: 'abc') }",
     "Syntax Error: Unexpected single quote character ('), did you mean to use a double quote "
     "(\")?",
     1, 8},
    {"{ a(x: .5) }", "Syntax Error: Unexpected character: \".\".", 1, 8},
    {"{ a .. }", "Syntax Error: Unexpected character: \".\".", 1, 5},
    {"{ a ? }", "Syntax Error: Unexpected character: \"?\".", 1, 5},
    {"{ a é }", "Syntax Error: Unexpected character: U+00E9.", 1, 5},
    {"{ a \x07"
     " }",
     "Syntax Error: Unexpected character: U+0007.", 1, 5},
    {"query Q @dir(a: 1) { a }", NULL, 0, 0},
    {"mutation { a }", NULL, 0, 0},
    {"subscription S { a }", NULL, 0, 0},
    {"sub { a }", "Syntax Error: Unexpected Name \"sub\".", 1, 1},
    {"\"desc\" query { a }", NULL, 0, 0},
    {"\"desc\" type T { a: Int }", NULL, 0, 0},
    {"\"desc\" { a }",
     "Syntax Error: Unexpected description, descriptions are not supported on shorthand queries.",
     1, 1},
    {"type T { a: Int }", NULL, 0, 0},
    {"extend type T { b: Int }", NULL, 0, 0},
    {"extend foo", "Syntax Error: Unexpected Name \"foo\".", 1, 8},
    {"extend", "Syntax Error: Unexpected <EOF>.", 1, 7},
    {"enum E { true }",
     "Syntax Error: Name \"true\" is reserved and cannot be used for an enum value.", 1, 10},
    {"enum E { A B }", NULL, 0, 0},
    {"directive @d on FIELD | QUERY", NULL, 0, 0},
    {"directive @d on FOO", "Syntax Error: Unexpected Name \"FOO\".", 1, 17},
    {"union U = | A | B", NULL, 0, 0},
    {"schema { query: Q }", NULL, 0, 0},
    {"input I { a: Int = 1, b: [String!]! }", NULL, 0, 0},
    {"type T implements & A & B { a(x: Int = 2 @deprecated): Int }", NULL, 0, 0},
    {"{ a(x: $) }", "Syntax Error: Expected Name, found \")\".", 1, 9},
    {"{ a(x: $1) }", "Syntax Error: Expected Name, found Int \"1\".", 1, 9},
    {"query ($v: [[Int!]!]! = [[1]]) { a }", NULL, 0, 0},
    {"query ($v: [Int) { a }", "Syntax Error: Expected \"]\", found \")\".", 1, 16},
    {"{ a @ }", "Syntax Error: Expected Name, found \"}\".", 1, 7},
    {"{ a } }", "Syntax Error: Unexpected \"}\".", 1, 7},
    {"{ a } b", "Syntax Error: Unexpected Name \"b\".", 1, 7},
    {"# comment only", "Syntax Error: Unexpected <EOF>.", 1, 15},
    {"﻿{ a }", NULL, 0, 0},
    {"{ a(s: \"\"\"  a\n    b\n  \"\"\") }", NULL, 0, 0},
    {"\"desc\" fragment F on T { a }", NULL, 0, 0},
    {"query Q(\"d\" $a: Int) { a }", NULL, 0, 0},
    {"\"desc\" extend type T { a: Int }",
     "Syntax Error: Unexpected description, only GraphQL definitions support descriptions.", 1, 1},
    {"\"d\" mutation { a }", NULL, 0, 0},
    {"\"d\" \"e\" query { a }", "Syntax Error: Unexpected String \"e\".", 1, 5},
    {"extend type T", "Syntax Error: Unexpected <EOF>.", 1, 14},
    {"extend type T @d", NULL, 0, 0},
    {"extend schema", "Syntax Error: Unexpected <EOF>.", 1, 14},
    {"extend schema @d", NULL, 0, 0},
    {"extend scalar S", "Syntax Error: Unexpected <EOF>.", 1, 16},
    {"extend union U", "Syntax Error: Unexpected <EOF>.", 1, 15},
    {"extend union U = A", NULL, 0, 0},
    {"extend enum E", "Syntax Error: Unexpected <EOF>.", 1, 14},
    {"extend enum E {A}", NULL, 0, 0},
    {"extend input I", "Syntax Error: Unexpected <EOF>.", 1, 15},
    {"extend interface I", "Syntax Error: Unexpected <EOF>.", 1, 19},
    {"extend interface I implements J", NULL, 0, 0},
    {"schema { query: T] }", "Syntax Error: Expected Name, found \"]\".", 1, 18},
    {"schema { foo: T }", "Syntax Error: Unexpected Name \"foo\".", 1, 10},
    {"{ a(x: \"\\u{1F600}\") }\n\n  {", "Syntax Error: Expected Name, found <EOF>.", 3, 4},
    {"query Q {\r\n  a\r\n  b(\r\n}", "Syntax Error: Expected Name, found \"}\".", 4, 1},
    {"{ a(s: \"\"\"x\ny\"\"\" 1) }", "Syntax Error: Expected Name, found Int \"1\".", 2, 6},
    {"{ é }", "Syntax Error: Unexpected character: U+00E9.", 1, 3},
    {"{ a(x: \"😀\") } ]", "Syntax Error: Unexpected \"]\".", 1, 16},
    {"{ a(x: [[1] [2]) }", "Syntax Error: Unexpected \")\".", 1, 16},
    {"{ a(b: {c: {d: }}) }", "Syntax Error: Unexpected \"}\".", 1, 16},
    {"{ a @d(x: 1) @ }", "Syntax Error: Expected Name, found \"}\".", 1, 16},
    {"fragment F on T @d { a } {", "Syntax Error: Expected Name, found <EOF>.", 1, 27},
    {"query ($a: [[Int!]!]! = [[1], [2]] @d) { a }", NULL, 0, 0},
    {"{ a(x: 1e5 y: -0 z: 0.5e+3 w: \"\\/\\b\\f\\n\\r\\t\\\"\\\\\") }", NULL, 0, 0},
    {"ï", "Syntax Error: Unexpected character: U+00EF.", 1, 1},
    {"{ a(x: \"\\uD83D\\u0041\") }", "Syntax Error: Invalid Unicode escape sequence: \"\\uD83D\".",
     1, 9},
};

TEST(syntax_errors_match_graphql_js)
{
    for (size_t i = 0; i < sizeof syntax / sizeof *syntax; i++) {
        const pcase_t *c = &syntax[i];
        gql_arena_t a;
        gql_arena_init(&a, 0);
        gql_ast_doc_t *doc;
        gql_parse_error_t err;
        int rc = gql_parse(&a, c->src, strlen(c->src), NULL, &doc, &err);
        if (!c->message) {
            if (rc != 0) TEST_FAIL_AT("[%s]: unexpected error %s", c->src, err.message);
        } else if (rc != RS_EPROTO) {
            TEST_FAIL_AT("[%s]: expected %s, rc %d", c->src, c->message, rc);
        } else {
            uint32_t line, col;
            gql_source_location(c->src, strlen(c->src), err.loc, &line, &col);
            if (strcmp(err.message, c->message) != 0 || line != c->line || col != c->column)
                TEST_FAIL_AT("[%s]: expected %s (%u:%u), got %s (%u:%u)", c->src, c->message,
                             c->line, c->column, err.message, line, col);
        }
        gql_arena_free(&a);
    }
}

static gql_ast_doc_t *parse_ok(gql_arena_t *a, const char *src)
{
    gql_ast_doc_t *doc = NULL;
    gql_parse_error_t err;
    gql_arena_init(a, 0);
    if (gql_parse(a, src, strlen(src), NULL, &doc, &err) != 0)
        fprintf(stderr, "parse failed: %s\n", err.message);
    return doc;
}

TEST(operation_with_variables_directives_and_selections)
{
    gql_arena_t a;
    const char *src = "query Feed($first: Int = 10, $ids: [ID!]! @v) @op {\n"
                      "  alias: users(first: $first, filter: {a: [1, 2.5, \"s\", true, null, E]}) "
                      "@include(if: true) {\n    ...F\n    ... on User { id }\n    ... @skip(if: "
                      "false) { name }\n  }\n}\nfragment F on User { id }";
    gql_ast_doc_t *doc = parse_ok(&a, src);
    REQUIRE(doc != NULL);
    CHECK_EQ_INT(doc->ndefs, 2);
    gql_ast_def_t *op = doc->defs;
    CHECK_EQ_INT(op->kind, GQL_DEF_OPERATION);
    CHECK_EQ_INT(op->op, GQL_OP_QUERY);
    CHECK_EQ_MEM(op->name.base, op->name.len, "Feed");
    CHECK_EQ_INT(op->nvars, 2);
    CHECK_EQ_MEM(op->vars->name.base, op->vars->name.len, "first");
    REQUIRE(op->vars->defval != NULL);
    CHECK_EQ_INT(op->vars->defval->kind, GQL_AV_INT);
    gql_ast_type_t *t = op->vars->next->type;
    CHECK(t->kind == GQL_AT_NON_NULL && t->of->kind == GQL_AT_LIST &&
          t->of->of->kind == GQL_AT_NON_NULL && t->of->of->of->kind == GQL_AT_NAMED);
    CHECK_EQ_MEM(op->vars->next->directives->name.base, op->vars->next->directives->name.len, "v");
    CHECK_EQ_MEM(op->directives->name.base, op->directives->name.len, "op");
    gql_ast_selection_t *f = op->selset->head;
    CHECK_EQ_INT(f->kind, GQL_SEL_FIELD);
    CHECK_EQ_MEM(f->alias.base, f->alias.len, "alias");
    CHECK_EQ_MEM(f->name.base, f->name.len, "users");
    CHECK_EQ_INT(f->nargs, 2);
    CHECK_EQ_INT(f->args->value->kind, GQL_AV_VARIABLE);
    gql_ast_value_t *obj = f->args->next->value;
    CHECK_EQ_INT(obj->kind, GQL_AV_OBJECT);
    gql_ast_value_t *list = obj->fields->value;
    CHECK_EQ_INT(list->kind, GQL_AV_LIST);
    CHECK_EQ_INT(list->count, 6);
    int kinds[] = {GQL_AV_INT,     GQL_AV_FLOAT, GQL_AV_STRING,
                   GQL_AV_BOOLEAN, GQL_AV_NULL,  GQL_AV_ENUM};
    int k = 0;
    for (gql_ast_value_t *v = list->items; v; v = v->next) CHECK_EQ_INT(v->kind, kinds[k++]);
    CHECK_EQ_INT(f->selset->count, 3);
    gql_ast_selection_t *s = f->selset->head;
    CHECK_EQ_INT(s->kind, GQL_SEL_SPREAD);
    CHECK_EQ_MEM(s->name.base, s->name.len, "F");
    CHECK_EQ_INT(s->next->kind, GQL_SEL_INLINE);
    CHECK_EQ_MEM(s->next->type_cond.base, s->next->type_cond.len, "User");
    CHECK(s->next->next->type_cond.base == NULL);
    CHECK(s->next->next->directives != NULL);
    /* Locations: the field starts at its alias on line 2, column 3. */
    uint32_t line, col;
    gql_source_location(src, strlen(src), f->loc, &line, &col);
    CHECK(line == 2 && col == 3);
    gql_ast_def_t *frag = op->next;
    CHECK_EQ_INT(frag->kind, GQL_DEF_FRAGMENT);
    CHECK_EQ_MEM(frag->type_cond.base, frag->type_cond.len, "User");
    gql_arena_free(&a);
}

TEST(anonymous_query_shorthand_and_other_operations)
{
    gql_arena_t a;
    gql_ast_doc_t *doc = parse_ok(&a, "{ a } mutation { b } subscription S { c }");
    REQUIRE(doc != NULL);
    CHECK_EQ_INT(doc->defs->op, GQL_OP_QUERY);
    CHECK(doc->defs->name.base == NULL);
    CHECK_EQ_INT(doc->defs->next->op, GQL_OP_MUTATION);
    CHECK_EQ_INT(doc->defs->next->next->op, GQL_OP_SUBSCRIPTION);
    gql_arena_free(&a);
}

TEST(type_system_definitions)
{
    gql_arena_t a;
    gql_ast_doc_t *doc = parse_ok(
        &a, "\"d\" schema { query: Q mutation: M } scalar S @specifiedBy(url: \"u\") "
            "type T implements & I & J @x { \"f\" f(a: Int = 1 @deprecated): [T!]! } "
            "interface I implements J { f: Int } union U = | A | B enum E { A B @deprecated } "
            "input In { a: Int = 2 } directive @d(a: Int) repeatable on FIELD | QUERY "
            "extend type T { g: Int } extend schema @x");
    REQUIRE(doc != NULL);
    CHECK_EQ_INT(doc->ndefs, 10);
    gql_ast_def_t *d = doc->defs;
    CHECK_EQ_INT(d->kind, GQL_DEF_SCHEMA);
    CHECK_EQ_MEM(d->description.base, d->description.len, "d");
    CHECK_EQ_INT(d->members->op, GQL_OP_QUERY);
    CHECK_EQ_INT(d->members->next->op, GQL_OP_MUTATION);
    d = d->next->next;
    CHECK_EQ_INT(d->kind, GQL_DEF_OBJECT);
    CHECK_EQ_MEM(d->interfaces->next->name.base, d->interfaces->next->name.len, "J");
    CHECK_EQ_MEM(d->fields->description.base, d->fields->description.len, "f");
    CHECK_EQ_INT(d->fields->nargs, 1);
    d = d->next->next;
    CHECK_EQ_INT(d->kind, GQL_DEF_UNION);
    CHECK_EQ_MEM(d->members->name.base, d->members->name.len, "A");
    d = d->next->next->next;
    CHECK_EQ_INT(d->kind, GQL_DEF_DIRECTIVE);
    CHECK(d->repeatable);
    d = d->next;
    CHECK(d->extend);
    gql_arena_free(&a);
}

TEST(depth_limit_is_enforced_while_parsing)
{
    gql_arena_t a;
    gql_arena_init(&a, 0);
    char src[4096] = "";
    for (int i = 0; i < 20; i++) strcat(src, "{ a ");
    for (int i = 0; i < 20; i++) strcat(src, "} ");
    gql_parse_opts_t o = {0, 0, 10};
    gql_ast_doc_t *doc;
    gql_parse_error_t err;
    CHECK_EQ_INT(gql_parse(&a, src, strlen(src), &o, &doc, &err), RS_ETOOBIG);
    CHECK_EQ_STR(err.message, "Document nesting exceeds the maximum depth of 10.");
    o.max_depth = 20;
    CHECK_EQ_INT(gql_parse(&a, src, strlen(src), &o, &doc, &err), 0);
    /* Values and list types nest too, and count against the same limit. */
    o.max_depth = 5;
    const char *vals = "{ a(x: [[[[[[1]]]]]]) }";
    CHECK_EQ_INT(gql_parse(&a, vals, strlen(vals), &o, &doc, &err), RS_ETOOBIG);
    const char *types = "query ($v: [[[[[[Int]]]]]]) { a }";
    CHECK_EQ_INT(gql_parse(&a, types, strlen(types), &o, &doc, &err), RS_ETOOBIG);
    gql_arena_free(&a);
}

TEST(hard_depth_limit_without_options)
{
    size_t n = 100000;
    char *src = malloc(n + 1);
    memset(src, '[', n);
    src[n] = 0;
    char *q = malloc(n + 20);
    snprintf(q, n + 20, "{ a(x: %s) }", src);
    gql_arena_t a;
    gql_arena_init(&a, 0);
    gql_ast_doc_t *doc;
    gql_parse_error_t err;
    CHECK_EQ_INT(gql_parse(&a, q, strlen(q), NULL, &doc, &err), RS_ETOOBIG);
    gql_arena_free(&a);
    free(src);
    free(q);
}

TEST(token_and_size_limits)
{
    gql_arena_t a;
    gql_arena_init(&a, 0);
    gql_parse_opts_t o = {0, 4, 0};
    gql_ast_doc_t *doc;
    gql_parse_error_t err;
    CHECK_EQ_INT(gql_parse(&a, "{ a b c }", 9, &o, &doc, &err), RS_ETOOBIG);
    CHECK_EQ_STR(err.message,
                 "Syntax Error: Document contains more than 4 tokens. Parsing aborted.");
    CHECK_EQ_INT(err.loc, 8);
    o.max_tokens = 5;
    CHECK_EQ_INT(gql_parse(&a, "{ a b c }", 9, &o, &doc, &err), 0);
    gql_parse_opts_t sz = {8, 0, 0};
    CHECK_EQ_INT(gql_parse(&a, "{ a b c }", 9, &sz, &doc, &err), RS_ETOOBIG);
    CHECK_EQ_STR(err.message, "Document exceeds the maximum size of 8 bytes.");
    gql_arena_free(&a);
}

TEST(arena_limit_reports_enomem)
{
    gql_arena_t a;
    gql_arena_init(&a, 4096);
    char src[20000] = "{";
    for (int i = 0; i < 2000; i++) strcat(src, " a");
    strcat(src, " }");
    gql_ast_doc_t *doc;
    gql_parse_error_t err;
    CHECK_EQ_INT(gql_parse(&a, src, strlen(src), NULL, &doc, &err), RS_ENOMEM);
    gql_arena_free(&a);
}

TEST(every_prefix_parses_or_fails_with_a_location_inside)
{
    const char *src = "query Q($a: [Int!] = [1]) @d { f(x: {y: \"s\", z: [$a]}) { ...F ... on T "
                      "{ g } } } fragment F on T { h }";
    size_t n = strlen(src);
    for (size_t cut = 0; cut <= n; cut++) {
        char *p = malloc(cut ? cut : 1);
        memcpy(p, src, cut);
        gql_arena_t a;
        gql_arena_init(&a, 0);
        gql_ast_doc_t *doc;
        gql_parse_error_t err;
        int rc = gql_parse(&a, p, cut, NULL, &doc, &err);
        if (cut == n)
            CHECK_EQ_INT(rc, 0);
        else if (rc != 0)
            CHECK(rc == RS_EPROTO && err.loc <= cut && err.message[0]);
        free(p);
        gql_arena_free(&a);
    }
}
