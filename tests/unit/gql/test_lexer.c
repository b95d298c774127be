/* test_lexer.c - tokens, string and block string values, and source locations. The string
 * table's expected values come from graphql-js 16 (parseValue). */
#include "test.h"

#include <jansson.h>

#include "gql/lexer.h"
#include "util/err.h"

typedef struct scase {
    const char *literal;
    const char *value;
    size_t len;
} scase_t;

static const scase_t strings[] = {
    {"\"simple\"", "simple", 6},
    {"\"with \\\"quotes\\\" and \\\\ and \\/\"", "with \"quotes\" and \\ and /", 25},
    {"\"\\b\\f\\n\\r\\t\"",
     "\x08"
     "\x0c"
     "\n\r\t",
     5},
    {"\"\\u0041\\u00e9\\u20AC\"", "Aé€", 6},
    {"\"\\uD83D\\uDE00\"", "😀", 4},
    {"\"\\u{1F600}\"", "😀", 4},
    {"\"\\u{41}\"", "A", 1},
    {"\"\\u{0000041}\"", "A", 1},
    {"\"é😀\"", "é😀", 6},
    {"\"\"", "", 0},
    {"\"\"\"block\"\"\"", "block", 5},
    {"\"\"\"  leading and trailing  \"\"\"", "  leading and trailing  ", 24},
    {"\"\"\"\n    indented\n      more\n    back\n\"\"\"", "indented\n  more\nback", 20},
    {"\"\"\"\n\n  first\n\n  second\n\n\"\"\"", "first\n\nsecond", 13},
    {"\"\"\"escaped \\\"\"\" triple\"\"\"", "escaped \"\"\" triple", 18},
    {"\"\"\"no \\n escapes \\u0041\"\"\"", "no \\n escapes \\u0041", 20},
    {"\"\"\"\r\n  crlf\r\n    x\r\n\"\"\"", "crlf\n  x", 8},
    {"\"\"\"\ttab\n\t\tindent\n\tback\"\"\"", "\ttab\n\tindent\nback", 17},
    {"\"\"\"   \n   \n\"\"\"", "", 0},
    {"\"\"\"first line\n   second\n     third\"\"\"", "first line\nsecond\n  third", 25},
    {"\"\"\"a\rb\"\"\"", "a\nb", 3},
    {"\"\"\"\"\"\"", "", 0},
    {"\"\"\"\\\"\"\"\\\"\"\"\"\"\"", "\"\"\"\"\"\"", 6},
};

/* Kinds of every token in src, as a space-separated string of descriptions. */
static const char *kinds(const char *src, char *out, size_t outlen)
{
    gql_arena_t a;
    gql_arena_init(&a, 0);
    gql_lexer_t lx;
    gql_lexer_init(&lx, src, strlen(src), &a);
    out[0] = 0;
    for (;;) {
        if (gql_lexer_next(&lx) != 0) {
            snprintf(out + strlen(out), outlen - strlen(out), "ERR(%s)", lx.err);
            break;
        }
        snprintf(out + strlen(out), outlen - strlen(out), "%s%s", out[0] ? " " : "",
                 gql_tok_kind_desc(lx.tok.kind));
        if (lx.tok.kind == GQL_TOK_EOF) break;
    }
    gql_arena_free(&a);
    return out;
}

TEST(punctuators_names_and_numbers)
{
    char buf[1024];
    CHECK_EQ_STR(kinds("! $ & ( ) ... : = @ [ ] { | }", buf, sizeof buf),
                 "\"!\" \"$\" \"&\" \"(\" \")\" \"...\" \":\" \"=\" \"@\" \"[\" \"]\" \"{\" \"|\" "
                 "\"}\" <EOF>");
    CHECK_EQ_STR(
        kinds("name _under n4me 0 -12 3.5 -0.5e10 1E-3 \"s\" \"\"\"b\"\"\"", buf, sizeof buf),
        "Name Name Name Int Int Float Float Float String BlockString <EOF>");
}

TEST(ignored_tokens)
{
    char buf[256];
    /* commas, tabs, CR/LF, comments and a byte order mark separate nothing */
    CHECK_EQ_STR(kinds("\xEF\xBB\xBF a,,b\t# comment } {\r\nc\r# x\n", buf, sizeof buf),
                 "Name Name Name <EOF>");
    CHECK_EQ_STR(kinds("", buf, sizeof buf), "<EOF>");
    CHECK_EQ_STR(kinds("# only a comment", buf, sizeof buf), "<EOF>");
}

TEST(token_values_and_offsets)
{
    gql_arena_t a;
    gql_arena_init(&a, 0);
    gql_lexer_t lx;
    const char *src = "  query -3.25e2";
    gql_lexer_init(&lx, src, strlen(src), &a);
    REQUIRE(gql_lexer_next(&lx) == 0);
    CHECK_EQ_INT(lx.tok.kind, GQL_TOK_NAME);
    CHECK_EQ_INT(lx.tok.start, 2);
    CHECK_EQ_INT(lx.tok.end, 7);
    CHECK_EQ_MEM(lx.tok.value, lx.tok.len, "query");
    REQUIRE(gql_lexer_next(&lx) == 0);
    CHECK_EQ_INT(lx.tok.kind, GQL_TOK_FLOAT);
    CHECK_EQ_MEM(lx.tok.value, lx.tok.len, "-3.25e2");
    REQUIRE(gql_lexer_next(&lx) == 0);
    CHECK_EQ_INT(lx.tok.kind, GQL_TOK_EOF);
    REQUIRE(gql_lexer_next(&lx) == 0); /* EOF repeats */
    CHECK_EQ_INT(lx.tok.kind, GQL_TOK_EOF);
    CHECK_EQ_INT(lx.ntokens, 2);
    gql_arena_free(&a);
}

TEST(string_values_match_graphql_js)
{
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        gql_arena_t a;
        gql_arena_init(&a, 0);
        gql_lexer_t lx;
        gql_lexer_init(&lx, strings[i].literal, strlen(strings[i].literal), &a);
        int rc = gql_lexer_next(&lx);
        if (rc != 0) {
            TEST_FAIL_AT("%s: %s", strings[i].literal, lx.err);
        } else if (lx.tok.len != strings[i].len ||
                   memcmp(lx.tok.value, strings[i].value, strings[i].len) != 0) {
            TEST_FAIL_AT("%s: got [%.*s]", strings[i].literal, (int)lx.tok.len, lx.tok.value);
        } else if (lx.tok.end != strlen(strings[i].literal)) {
            TEST_FAIL_AT("%s: token ends at %u", strings[i].literal, lx.tok.end);
        }
        gql_arena_free(&a);
    }
}

TEST(string_with_nul_escape_keeps_its_length)
{
    gql_arena_t a;
    gql_arena_init(&a, 0);
    gql_lexer_t lx;
    const char *src = "\"a\\u0000b\"";
    gql_lexer_init(&lx, src, strlen(src), &a);
    REQUIRE(gql_lexer_next(&lx) == 0);
    CHECK_EQ_INT(lx.tok.len, 3);
    CHECK(memcmp(lx.tok.value, "a\0b", 3) == 0);
    gql_arena_free(&a);
}

TEST(invalid_utf8_is_refused)
{
    char buf[512];
    CHECK_EQ_STR(kinds("\"\xC3\x28\"", buf, sizeof buf),
                 "ERR(Syntax Error: Invalid character within String: U+FFFD.)");
    CHECK_EQ_STR(kinds("\"\"\"\xED\xA0\x80\"\"\"", buf, sizeof buf),
                 "ERR(Syntax Error: Invalid character within String: U+FFFD.)");
    CHECK_EQ_STR(kinds("# \xFF", buf, sizeof buf), "ERR(Syntax Error: Invalid character: U+FFFD.)");
    CHECK_EQ_STR(kinds("\xF0\x9F\x98", buf, sizeof buf),
                 "ERR(Syntax Error: Invalid character: U+FFFD.)");
}

TEST(locations_count_lines_and_utf16_columns)
{
    uint32_t line, col;
    const char *src = "ab\ncd\r\nef\rgh";
    gql_source_location(src, strlen(src), 0, &line, &col);
    CHECK(line == 1 && col == 1);
    gql_source_location(src, strlen(src), 4, &line, &col); /* d */
    CHECK(line == 2 && col == 2);
    gql_source_location(src, strlen(src), 5, &line, &col); /* \r of \r\n */
    CHECK(line == 2 && col == 3);
    gql_source_location(src, strlen(src), 7, &line, &col); /* e */
    CHECK(line == 3 && col == 1);
    gql_source_location(src, strlen(src), 11, &line, &col); /* h after a lone \r */
    CHECK(line == 4 && col == 2);
    const char *u = "\"é😀\" x"; /* é is one UTF-16 unit, 😀 two */
    gql_source_location(u, strlen(u), (uint32_t)(strlen(u) - 1), &line, &col);
    CHECK_EQ_INT(line, 1);
    CHECK_EQ_INT(col, 7);
}

TEST(every_prefix_lexes_or_fails_cleanly)
{
    const char *src = "query Q($a: [Int!] = [1, -2.5e3]) { f(s: \"x\\u00e9\\uD83D\\uDE00\", b: "
                      "\"\"\"\n  block \\\"\"\" \n\"\"\") @d ...F } # end";
    size_t n = strlen(src);
    for (size_t cut = 0; cut <= n; cut++) {
        gql_arena_t a;
        gql_arena_init(&a, 0);
        gql_lexer_t lx;
        /* A copy of exactly cut bytes, so reading past it is caught by ASan. */
        char *p = malloc(cut ? cut : 1);
        memcpy(p, src, cut);
        gql_lexer_init(&lx, p, cut, &a);
        int steps = 0, rc;
        while ((rc = gql_lexer_next(&lx)) == 0 && lx.tok.kind != GQL_TOK_EOF) steps++;
        CHECK(rc == 0 || rc == RS_EPROTO);
        CHECK(steps < 100);
        free(p);
        gql_arena_free(&a);
    }
}
