#include "gql/parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gql/lexer.h"
#include "gql/schema.h" /* gql_dir_loc_names: the one list of directive locations */
#include "util/err.h"

typedef struct parser {
    gql_lexer_t lx;
    gql_arena_t *arena;
    gql_parse_error_t *err;
    uint32_t max_tokens;
    uint32_t max_depth;
    uint32_t depth;
} parser_t;

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0) return rc_;                                                                   \
    } while (0)

#define ALLOC(p, type) ((type *)gql_arena_alloc((p)->arena, sizeof(type)))

static int fail(parser_t *p, gql_off_t at, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(parser_t *p, gql_off_t at, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
    va_end(ap);
    p->err->loc = at;
    return rc;
}

/* "Name \"foo\"", "\"{\"", "<EOF>" - a token as graphql-js describes it. Long values are
 * shortened at a character boundary so the message stays readable and valid UTF-8. */
static void token_desc(const gql_token_t *t, char *out, size_t outlen)
{
    const char *kind = gql_tok_kind_desc(t->kind);
    if (!t->value || t->kind < GQL_TOK_NAME) {
        snprintf(out, outlen, "%s", kind);
        return;
    }
    size_t n = t->len, max = 80;
    const char *ell = "";
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)t->value[n] & 0xC0) == 0x80) n--;
        ell = "...";
    }
    /* A NUL inside a decoded string would cut the message short; stop there. */
    const char *nul = memchr(t->value, 0, n);
    if (nul) n = (size_t)(nul - t->value);
    snprintf(out, outlen, "%s \"%.*s%s\"", kind, (int)n, t->value, ell);
}

static int advance(parser_t *p)
{
    int rc = gql_lexer_next(&p->lx);
    if (rc == RS_EPROTO) {
        snprintf(p->err->message, sizeof p->err->message, "%s", p->lx.err);
        p->err->loc = p->lx.err_pos;
        return RS_EPROTO;
    }
    if (rc < 0) return rc;
    if (p->max_tokens && p->lx.tok.kind != GQL_TOK_EOF && p->lx.ntokens > p->max_tokens)
        return fail(p, p->lx.tok.start, RS_ETOOBIG,
                    "Syntax Error: Document contains more than %u tokens. Parsing aborted.",
                    p->max_tokens);
    return 0;
}

static const gql_token_t *tok(parser_t *p)
{
    return &p->lx.tok;
}

static int peek(parser_t *p, enum gql_tok_kind k)
{
    return p->lx.tok.kind == k;
}

static int peek_keyword(parser_t *p, const char *kw)
{
    return p->lx.tok.kind == GQL_TOK_NAME && p->lx.tok.len == strlen(kw) &&
           memcmp(p->lx.tok.value, kw, p->lx.tok.len) == 0;
}

static int unexpected_tok(parser_t *p, const gql_token_t *t)
{
    char d[128];
    token_desc(t, d, sizeof d);
    return fail(p, t->start, RS_EPROTO, "Syntax Error: Unexpected %s.", d);
}

static int unexpected(parser_t *p)
{
    return unexpected_tok(p, tok(p));
}

static int expect(parser_t *p, enum gql_tok_kind k)
{
    if (peek(p, k)) return advance(p);
    char d[128];
    token_desc(tok(p), d, sizeof d);
    return fail(p, tok(p)->start, RS_EPROTO, "Syntax Error: Expected %s, found %s.",
                gql_tok_kind_desc(k), d);
}

/* 1 when the token was there (and consumed), 0 when not, negative on a lexer error. */
static int expect_optional(parser_t *p, enum gql_tok_kind k)
{
    if (!peek(p, k)) return 0;
    TRY(advance(p));
    return 1;
}

static int expect_keyword(parser_t *p, const char *kw)
{
    if (peek_keyword(p, kw)) return advance(p);
    char d[128];
    token_desc(tok(p), d, sizeof d);
    return fail(p, tok(p)->start, RS_EPROTO, "Syntax Error: Expected \"%s\", found %s.", kw, d);
}

static int expect_optional_keyword(parser_t *p, const char *kw)
{
    if (!peek_keyword(p, kw)) return 0;
    TRY(advance(p));
    return 1;
}

static int enter(parser_t *p)
{
    if (++p->depth > p->max_depth)
        return fail(p, tok(p)->start, RS_ETOOBIG,
                    "Document nesting exceeds the maximum depth of %u.", p->max_depth);
    return 0;
}

static void leave(parser_t *p)
{
    p->depth--;
}

static int parse_name(parser_t *p, span_t *name, gql_off_t *loc)
{
    if (!peek(p, GQL_TOK_NAME)) return expect(p, GQL_TOK_NAME);
    *name = span_make(tok(p)->value, tok(p)->len);
    if (loc) *loc = tok(p)->start;
    return advance(p);
}

/* The token after the current one, without consuming anything. */
static int lookahead(parser_t *p, gql_token_t *out)
{
    gql_lexer_t saved = p->lx;
    int rc = advance(p);
    *out = p->lx.tok;
    p->lx = saved;
    return rc;
}

static int parse_value(parser_t *p, int is_const, gql_ast_value_t **out);

static int parse_list_value(parser_t *p, int is_const, gql_ast_value_t *v)
{
    TRY(enter(p));
    TRY(advance(p)); /* [ */
    gql_ast_value_t **tail = &v->items;
    while (!peek(p, GQL_TOK_BRACKET_R)) {
        gql_ast_value_t *item;
        TRY(parse_value(p, is_const, &item));
        *tail = item;
        tail = &item->next;
        v->count++;
    }
    TRY(advance(p)); /* ] */
    leave(p);
    return 0;
}

static int parse_object_value(parser_t *p, int is_const, gql_ast_value_t *v)
{
    TRY(enter(p));
    TRY(advance(p)); /* { */
    gql_ast_objfield_t **tail = &v->fields;
    while (!peek(p, GQL_TOK_BRACE_R)) {
        gql_ast_objfield_t *f = ALLOC(p, gql_ast_objfield_t);
        if (!f) return RS_ENOMEM;
        TRY(parse_name(p, &f->name, &f->loc));
        TRY(expect(p, GQL_TOK_COLON));
        TRY(parse_value(p, is_const, &f->value));
        *tail = f;
        tail = &f->next;
        v->count++;
    }
    TRY(advance(p)); /* } */
    leave(p);
    return 0;
}

static int parse_value(parser_t *p, int is_const, gql_ast_value_t **out)
{
    gql_ast_value_t *v = ALLOC(p, gql_ast_value_t);
    if (!v) return RS_ENOMEM;
    const gql_token_t *t = tok(p);
    v->loc = t->start;
    *out = v;
    switch (t->kind) {
    case GQL_TOK_BRACKET_L:
        v->kind = GQL_AV_LIST;
        return parse_list_value(p, is_const, v);
    case GQL_TOK_BRACE_L:
        v->kind = GQL_AV_OBJECT;
        return parse_object_value(p, is_const, v);
    case GQL_TOK_INT:
    case GQL_TOK_FLOAT:
        v->kind = t->kind == GQL_TOK_INT ? GQL_AV_INT : GQL_AV_FLOAT;
        v->text = span_make(t->value, t->len);
        return advance(p);
    case GQL_TOK_STRING:
    case GQL_TOK_BLOCK_STRING:
        v->kind = GQL_AV_STRING;
        v->block = t->kind == GQL_TOK_BLOCK_STRING;
        v->text = span_make(t->value, t->len);
        return advance(p);
    case GQL_TOK_NAME:
        v->text = span_make(t->value, t->len);
        if (span_eq_cstr(v->text, "true") || span_eq_cstr(v->text, "false")) {
            v->kind = GQL_AV_BOOLEAN;
            v->boolean = v->text.len == 4;
        } else if (span_eq_cstr(v->text, "null")) {
            v->kind = GQL_AV_NULL;
        } else {
            v->kind = GQL_AV_ENUM;
        }
        return advance(p);
    case GQL_TOK_DOLLAR:
        if (is_const) {
            gql_off_t at = t->start;
            gql_token_t dollar = *t;
            TRY(advance(p));
            if (peek(p, GQL_TOK_NAME))
                return fail(p, at, RS_EPROTO,
                            "Syntax Error: Unexpected variable \"$%.*s\" in constant value.",
                            (int)tok(p)->len, tok(p)->value);
            return unexpected_tok(p, &dollar);
        }
        v->kind = GQL_AV_VARIABLE;
        TRY(advance(p));
        return parse_name(p, &v->text, NULL);
    default:
        return unexpected(p);
    }
}

static int parse_arguments(parser_t *p, int is_const, gql_ast_arg_t **head, uint32_t *count)
{
    if (!peek(p, GQL_TOK_PAREN_L)) return 0;
    TRY(advance(p));
    gql_ast_arg_t **tail = head;
    do {
        gql_ast_arg_t *a = ALLOC(p, gql_ast_arg_t);
        if (!a) return RS_ENOMEM;
        TRY(parse_name(p, &a->name, &a->loc));
        TRY(expect(p, GQL_TOK_COLON));
        TRY(parse_value(p, is_const, &a->value));
        *tail = a;
        tail = &a->next;
        (*count)++;
    } while (!peek(p, GQL_TOK_PAREN_R));
    return advance(p);
}

static int parse_directives(parser_t *p, int is_const, gql_ast_directive_t **head)
{
    gql_ast_directive_t **tail = head;
    while (peek(p, GQL_TOK_AT)) {
        gql_ast_directive_t *d = ALLOC(p, gql_ast_directive_t);
        if (!d) return RS_ENOMEM;
        d->loc = tok(p)->start;
        TRY(advance(p));
        TRY(parse_name(p, &d->name, NULL));
        TRY(parse_arguments(p, is_const, &d->args, &d->nargs));
        *tail = d;
        tail = &d->next;
    }
    return 0;
}

static int parse_type_ref(parser_t *p, gql_ast_type_t **out)
{
    gql_ast_type_t *t = ALLOC(p, gql_ast_type_t);
    if (!t) return RS_ENOMEM;
    t->loc = tok(p)->start;
    if (peek(p, GQL_TOK_BRACKET_L)) {
        TRY(enter(p));
        TRY(advance(p));
        t->kind = GQL_AT_LIST;
        TRY(parse_type_ref(p, &t->of));
        TRY(expect(p, GQL_TOK_BRACKET_R));
        leave(p);
    } else {
        t->kind = GQL_AT_NAMED;
        TRY(parse_name(p, &t->name, NULL));
    }
    if (peek(p, GQL_TOK_BANG)) {
        gql_ast_type_t *nn = ALLOC(p, gql_ast_type_t);
        if (!nn) return RS_ENOMEM;
        nn->kind = GQL_AT_NON_NULL;
        nn->loc = t->loc;
        nn->of = t;
        t = nn;
        TRY(advance(p));
    }
    *out = t;
    return 0;
}

static int parse_selset(parser_t *p, gql_ast_selset_t **out);
static int parse_description(parser_t *p, span_t *out);

static int parse_selection(parser_t *p, gql_ast_selection_t **out)
{
    gql_ast_selection_t *s = ALLOC(p, gql_ast_selection_t);
    if (!s) return RS_ENOMEM;
    s->loc = tok(p)->start;
    *out = s;
    if (peek(p, GQL_TOK_SPREAD)) {
        TRY(advance(p));
        int has_cond = expect_optional_keyword(p, "on");
        TRY(has_cond);
        if (!has_cond && peek(p, GQL_TOK_NAME)) {
            s->kind = GQL_SEL_SPREAD;
            TRY(parse_name(p, &s->name, &s->name_loc));
            return parse_directives(p, 0, &s->directives);
        }
        s->kind = GQL_SEL_INLINE;
        if (has_cond) {
            s->type_cond_loc = tok(p)->start;
            TRY(parse_name(p, &s->type_cond, NULL));
        }
        TRY(parse_directives(p, 0, &s->directives));
        return parse_selset(p, &s->selset);
    }
    s->kind = GQL_SEL_FIELD;
    span_t first;
    gql_off_t first_loc = 0;
    TRY(parse_name(p, &first, &first_loc));
    int aliased = expect_optional(p, GQL_TOK_COLON);
    TRY(aliased);
    if (aliased) {
        s->alias = first;
        TRY(parse_name(p, &s->name, &s->name_loc));
    } else {
        s->name = first;
        s->name_loc = first_loc;
    }
    TRY(parse_arguments(p, 0, &s->args, &s->nargs));
    TRY(parse_directives(p, 0, &s->directives));
    if (peek(p, GQL_TOK_BRACE_L)) return parse_selset(p, &s->selset);
    return 0;
}

static int parse_selset(parser_t *p, gql_ast_selset_t **out)
{
    gql_ast_selset_t *ss = ALLOC(p, gql_ast_selset_t);
    if (!ss) return RS_ENOMEM;
    ss->loc = tok(p)->start;
    TRY(expect(p, GQL_TOK_BRACE_L));
    TRY(enter(p));
    gql_ast_selection_t **tail = &ss->head;
    do {
        gql_ast_selection_t *s;
        TRY(parse_selection(p, &s));
        *tail = s;
        tail = &s->next;
        ss->count++;
    } while (!peek(p, GQL_TOK_BRACE_R));
    leave(p);
    TRY(advance(p));
    *out = ss;
    return 0;
}

static int parse_op_type(parser_t *p, enum gql_op_type *op)
{
    if (!peek(p, GQL_TOK_NAME)) return expect(p, GQL_TOK_NAME);
    if (peek_keyword(p, "query"))
        *op = GQL_OP_QUERY;
    else if (peek_keyword(p, "mutation"))
        *op = GQL_OP_MUTATION;
    else if (peek_keyword(p, "subscription"))
        *op = GQL_OP_SUBSCRIPTION;
    else
        return unexpected(p);
    return advance(p);
}

static int parse_operation(parser_t *p, gql_ast_def_t *d)
{
    d->kind = GQL_DEF_OPERATION;
    if (peek(p, GQL_TOK_BRACE_L)) {
        d->op = GQL_OP_QUERY;
        return parse_selset(p, &d->selset);
    }
    TRY(parse_op_type(p, &d->op));
    if (peek(p, GQL_TOK_NAME)) TRY(parse_name(p, &d->name, &d->name_loc));
    if (peek(p, GQL_TOK_PAREN_L)) {
        TRY(advance(p));
        gql_ast_vardef_t **tail = &d->vars;
        do {
            gql_ast_vardef_t *v = ALLOC(p, gql_ast_vardef_t);
            if (!v) return RS_ENOMEM;
            v->loc = tok(p)->start;
            TRY(parse_description(p, &v->description));
            TRY(expect(p, GQL_TOK_DOLLAR));
            TRY(parse_name(p, &v->name, &v->name_loc));
            TRY(expect(p, GQL_TOK_COLON));
            TRY(parse_type_ref(p, &v->type));
            int has_default = expect_optional(p, GQL_TOK_EQUALS);
            TRY(has_default);
            if (has_default) TRY(parse_value(p, 1, &v->defval));
            TRY(parse_directives(p, 1, &v->directives));
            *tail = v;
            tail = &v->next;
            d->nvars++;
        } while (!peek(p, GQL_TOK_PAREN_R));
        TRY(advance(p));
    }
    TRY(parse_directives(p, 0, &d->directives));
    return parse_selset(p, &d->selset);
}

static int parse_fragment_name(parser_t *p, span_t *name, gql_off_t *loc)
{
    if (peek_keyword(p, "on")) return unexpected(p);
    return parse_name(p, name, loc);
}

static int parse_fragment(parser_t *p, gql_ast_def_t *d)
{
    d->kind = GQL_DEF_FRAGMENT;
    TRY(expect_keyword(p, "fragment"));
    TRY(parse_fragment_name(p, &d->name, &d->name_loc));
    TRY(expect_keyword(p, "on"));
    d->type_cond_loc = tok(p)->start;
    TRY(parse_name(p, &d->type_cond, NULL));
    TRY(parse_directives(p, 0, &d->directives));
    return parse_selset(p, &d->selset);
}

/* ---- type system definitions ---- */

static int parse_description(parser_t *p, span_t *out)
{
    if (peek(p, GQL_TOK_STRING) || peek(p, GQL_TOK_BLOCK_STRING)) {
        *out = span_make(tok(p)->value, tok(p)->len);
        return advance(p);
    }
    return 0;
}

static int parse_input_value_def(parser_t *p, gql_ast_inputval_t **out)
{
    gql_ast_inputval_t *iv = ALLOC(p, gql_ast_inputval_t);
    if (!iv) return RS_ENOMEM;
    TRY(parse_description(p, &iv->description));
    TRY(parse_name(p, &iv->name, &iv->loc));
    TRY(expect(p, GQL_TOK_COLON));
    TRY(parse_type_ref(p, &iv->type));
    int has_default = expect_optional(p, GQL_TOK_EQUALS);
    TRY(has_default);
    if (has_default) TRY(parse_value(p, 1, &iv->defval));
    TRY(parse_directives(p, 1, &iv->directives));
    *out = iv;
    return 0;
}

/* ( InputValueDefinition+ ) when present. */
static int parse_input_value_defs(parser_t *p, enum gql_tok_kind open, enum gql_tok_kind close,
                                  gql_ast_inputval_t **head, uint32_t *count)
{
    if (!peek(p, open)) return 0;
    TRY(advance(p));
    gql_ast_inputval_t **tail = head;
    while (*tail) tail = &(*tail)->next;
    do {
        gql_ast_inputval_t *iv;
        TRY(parse_input_value_def(p, &iv));
        *tail = iv;
        tail = &iv->next;
        if (count) (*count)++;
    } while (!peek(p, close));
    return advance(p);
}

static int parse_named_list(parser_t *p, enum gql_tok_kind sep, gql_ast_name_t **head)
{
    gql_ast_name_t **tail = head;
    while (*tail) tail = &(*tail)->next;
    TRY(expect_optional(p, sep));
    do {
        gql_ast_name_t *n = ALLOC(p, gql_ast_name_t);
        if (!n) return RS_ENOMEM;
        TRY(parse_name(p, &n->name, &n->loc));
        *tail = n;
        tail = &n->next;
        int more = expect_optional(p, sep);
        TRY(more);
        if (!more) break;
    } while (1);
    return 0;
}

static int parse_field_defs(parser_t *p, gql_ast_def_t *d)
{
    if (!peek(p, GQL_TOK_BRACE_L)) return 0;
    TRY(advance(p));
    gql_ast_fielddef_t **tail = &d->fields;
    while (*tail) tail = &(*tail)->next;
    do {
        gql_ast_fielddef_t *f = ALLOC(p, gql_ast_fielddef_t);
        if (!f) return RS_ENOMEM;
        TRY(parse_description(p, &f->description));
        TRY(parse_name(p, &f->name, &f->loc));
        TRY(parse_input_value_defs(p, GQL_TOK_PAREN_L, GQL_TOK_PAREN_R, &f->args, &f->nargs));
        TRY(expect(p, GQL_TOK_COLON));
        TRY(parse_type_ref(p, &f->type));
        TRY(parse_directives(p, 1, &f->directives));
        *tail = f;
        tail = &f->next;
    } while (!peek(p, GQL_TOK_BRACE_R));
    return advance(p);
}

static int parse_enum_values(parser_t *p, gql_ast_def_t *d)
{
    if (!peek(p, GQL_TOK_BRACE_L)) return 0;
    TRY(advance(p));
    gql_ast_fielddef_t **tail = &d->values;
    do {
        gql_ast_fielddef_t *f = ALLOC(p, gql_ast_fielddef_t);
        if (!f) return RS_ENOMEM;
        TRY(parse_description(p, &f->description));
        if (peek_keyword(p, "true") || peek_keyword(p, "false") || peek_keyword(p, "null")) {
            char desc[128];
            token_desc(tok(p), desc, sizeof desc);
            return fail(p, tok(p)->start, RS_EPROTO,
                        "Syntax Error: %s is reserved and cannot be used for an enum value.", desc);
        }
        TRY(parse_name(p, &f->name, &f->loc));
        TRY(parse_directives(p, 1, &f->directives));
        *tail = f;
        tail = &f->next;
    } while (!peek(p, GQL_TOK_BRACE_R));
    return advance(p);
}


static int parse_type_system(parser_t *p, gql_ast_def_t *d, span_t kw, int extend)
{
    d->extend = extend;
    TRY(advance(p)); /* the keyword */
    if (span_eq_cstr(kw, "schema")) {
        d->kind = GQL_DEF_SCHEMA;
        TRY(parse_directives(p, 1, &d->directives));
        if (extend && !peek(p, GQL_TOK_BRACE_L)) return 0;
        TRY(expect(p, GQL_TOK_BRACE_L));
        gql_ast_name_t **tail = &d->members;
        do {
            gql_ast_name_t *n = ALLOC(p, gql_ast_name_t);
            if (!n) return RS_ENOMEM;
            TRY(parse_op_type(p, &n->op));
            TRY(expect(p, GQL_TOK_COLON));
            TRY(parse_name(p, &n->name, &n->loc));
            *tail = n;
            tail = &n->next;
        } while (!peek(p, GQL_TOK_BRACE_R));
        return advance(p);
    }
    if (span_eq_cstr(kw, "directive")) {
        d->kind = GQL_DEF_DIRECTIVE;
        TRY(expect(p, GQL_TOK_AT));
        TRY(parse_name(p, &d->name, &d->name_loc));
        TRY(parse_input_value_defs(p, GQL_TOK_PAREN_L, GQL_TOK_PAREN_R, &d->inputs, NULL));
        int rep = expect_optional_keyword(p, "repeatable");
        TRY(rep);
        d->repeatable = rep;
        TRY(expect_keyword(p, "on"));
        TRY(expect_optional(p, GQL_TOK_PIPE));
        gql_ast_name_t **tail = &d->members;
        for (;;) {
            gql_token_t start = *tok(p);
            gql_ast_name_t *n = ALLOC(p, gql_ast_name_t);
            if (!n) return RS_ENOMEM;
            TRY(parse_name(p, &n->name, &n->loc));
            int known = 0;
            for (size_t i = 0; i < GQL_DL_COUNT; i++)
                if (span_eq_cstr(n->name, gql_dir_loc_names[i])) known = 1;
            if (!known) return unexpected_tok(p, &start);
            *tail = n;
            tail = &n->next;
            int more = expect_optional(p, GQL_TOK_PIPE);
            TRY(more);
            if (!more) break;
        }
        return 0;
    }
    TRY(parse_name(p, &d->name, &d->name_loc));
    if (span_eq_cstr(kw, "scalar")) {
        d->kind = GQL_DEF_SCALAR;
        return parse_directives(p, 1, &d->directives);
    }
    if (span_eq_cstr(kw, "type") || span_eq_cstr(kw, "interface")) {
        d->kind = kw.len == 4 ? GQL_DEF_OBJECT : GQL_DEF_INTERFACE;
        int impl = expect_optional_keyword(p, "implements");
        TRY(impl);
        if (impl) TRY(parse_named_list(p, GQL_TOK_AMP, &d->interfaces));
        TRY(parse_directives(p, 1, &d->directives));
        return parse_field_defs(p, d);
    }
    if (span_eq_cstr(kw, "union")) {
        d->kind = GQL_DEF_UNION;
        TRY(parse_directives(p, 1, &d->directives));
        int eq = expect_optional(p, GQL_TOK_EQUALS);
        TRY(eq);
        if (eq) TRY(parse_named_list(p, GQL_TOK_PIPE, &d->members));
        return 0;
    }
    if (span_eq_cstr(kw, "enum")) {
        d->kind = GQL_DEF_ENUM;
        TRY(parse_directives(p, 1, &d->directives));
        return parse_enum_values(p, d);
    }
    /* input */
    d->kind = GQL_DEF_INPUT;
    TRY(parse_directives(p, 1, &d->directives));
    return parse_input_value_defs(p, GQL_TOK_BRACE_L, GQL_TOK_BRACE_R, &d->inputs, NULL);
}

/* An extension must add something (graphql-js: "Unexpected ..." at what follows). */
static int parse_type_system_checked(parser_t *p, gql_ast_def_t *d, span_t kw, int extend)
{
    TRY(parse_type_system(p, d, kw, extend));
    if (extend && !d->directives && !d->interfaces && !d->members && !d->fields && !d->inputs &&
        !d->values)
        return unexpected(p);
    return 0;
}

static int is_type_system_keyword(span_t kw)
{
    static const char *const kws[] = {"schema", "scalar", "type",  "interface",
                                      "union",  "enum",   "input", "directive"};
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++)
        if (span_eq_cstr(kw, kws[i])) return 1;
    return 0;
}

static int parse_definition(parser_t *p, gql_ast_def_t *d)
{
    d->loc = tok(p)->start;
    if (peek(p, GQL_TOK_BRACE_L)) return parse_operation(p, d);
    /* graphql-js 16 accepts descriptions on operations, fragments and variables too (a later
     * spec draft); only shorthand queries and extensions refuse them. */
    int has_desc = peek(p, GQL_TOK_STRING) || peek(p, GQL_TOK_BLOCK_STRING);
    gql_token_t kw_tok = *tok(p);
    if (has_desc) TRY(lookahead(p, &kw_tok));
    if (has_desc && kw_tok.kind == GQL_TOK_BRACE_L)
        return fail(p, tok(p)->start, RS_EPROTO,
                    "Syntax Error: Unexpected description, descriptions are not supported on "
                    "shorthand queries.");
    if (kw_tok.kind == GQL_TOK_NAME) {
        span_t kw = span_make(kw_tok.value, kw_tok.len);
        if (span_eq_cstr(kw, "extend")) {
            if (has_desc)
                return fail(p, tok(p)->start, RS_EPROTO,
                            "Syntax Error: Unexpected description, only GraphQL definitions "
                            "support descriptions.");
            gql_token_t next;
            TRY(lookahead(p, &next));
            span_t nk = span_make(next.value, next.len);
            if (next.kind == GQL_TOK_NAME && is_type_system_keyword(nk) &&
                !span_eq_cstr(nk, "directive")) {
                TRY(advance(p)); /* extend */
                return parse_type_system_checked(p, d, nk, 1);
            }
            return unexpected_tok(p, &next);
        }
        int known = is_type_system_keyword(kw) || span_eq_cstr(kw, "query") ||
                    span_eq_cstr(kw, "mutation") || span_eq_cstr(kw, "subscription") ||
                    span_eq_cstr(kw, "fragment");
        if (known) TRY(parse_description(p, &d->description));
        if (is_type_system_keyword(kw)) return parse_type_system(p, d, kw, 0);
        if (span_eq_cstr(kw, "fragment")) return parse_fragment(p, d);
        if (known) return parse_operation(p, d);
    }
    return unexpected_tok(p, &kw_tok);
}

int gql_parse(gql_arena_t *arena, const char *src, size_t len, const gql_parse_opts_t *opts,
              gql_ast_doc_t **out, gql_parse_error_t *err)
{
    parser_t p;
    memset(err, 0, sizeof *err);
    *out = NULL;
    if (len >= UINT32_MAX || (opts && opts->max_bytes && len > opts->max_bytes)) {
        snprintf(err->message, sizeof err->message,
                 "Document exceeds the maximum size of %zu bytes.",
                 opts && opts->max_bytes ? opts->max_bytes : (size_t)UINT32_MAX - 1);
        return RS_ETOOBIG;
    }
    memset(&p, 0, sizeof p);
    gql_lexer_init(&p.lx, src, len, arena);
    p.arena = arena;
    p.err = err;
    p.max_tokens = opts ? opts->max_tokens : 0;
    p.max_depth = opts && opts->max_depth && opts->max_depth < GQL_PARSE_HARD_DEPTH
                      ? opts->max_depth
                      : GQL_PARSE_HARD_DEPTH;
    gql_ast_doc_t *doc = gql_arena_alloc(arena, sizeof *doc);
    if (!doc) return RS_ENOMEM;
    doc->src = src;
    doc->len = len;
    TRY(advance(&p));
    if (peek(&p, GQL_TOK_EOF)) return unexpected(&p);
    gql_ast_def_t **tail = &doc->defs;
    while (!peek(&p, GQL_TOK_EOF)) {
        gql_ast_def_t *d = ALLOC(&p, gql_ast_def_t);
        if (!d) return RS_ENOMEM;
        TRY(parse_definition(&p, d));
        *tail = d;
        tail = &d->next;
        doc->ndefs++;
    }
    doc->ntokens = p.lx.ntokens;
    *out = doc;
    return 0;
}
