#include "gql/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql/lexer.h"
#include "gql/parser.h"
#include "gql/value.h"
#include "util/err.h"

const char *const gql_dir_loc_names[GQL_DL_COUNT] = {
    "QUERY",
    "MUTATION",
    "SUBSCRIPTION",
    "FIELD",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION",
    "SCHEMA",
    "SCALAR",
    "OBJECT",
    "FIELD_DEFINITION",
    "ARGUMENT_DEFINITION",
    "INTERFACE",
    "UNION",
    "ENUM",
    "ENUM_VALUE",
    "INPUT_OBJECT",
    "INPUT_FIELD_DEFINITION",
};

/* ---- type helpers ---- */

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static gql_type_t *lookup_any(const gql_schema_t *s, span_t name)
{
    if (!s->table_size) return NULL;
    uint32_t mask = s->table_size - 1;
    for (uint32_t i = name_hash(name.base, name.len) & mask;; i = (i + 1) & mask) {
        gql_type_t *t = s->table[i];
        if (!t) return NULL;
        if (t->name_len == name.len && memcmp(t->name, name.base, name.len) == 0) return t;
    }
}

gql_type_t *gql_schema_type(const gql_schema_t *s, span_t name)
{
    gql_type_t *t = lookup_any(s, name);
    return t && t->referenced ? t : NULL;
}

const gql_input_value_t *gql_find_arg(const gql_input_value_t *args, uint32_t nargs, span_t name)
{
    for (uint32_t i = 0; i < nargs; i++)
        if (args[i].name_len == name.len && memcmp(args[i].name, name.base, name.len) == 0)
            return &args[i];
    return NULL;
}

const gql_field_def_t *gql_schema_field(const gql_schema_t *s, const gql_type_t *t, span_t name)
{
    if (name.len >= 2 && name.base[0] == '_' && name.base[1] == '_') {
        if (span_eq_cstr(name, "__typename") && gql_is_composite(t)) return &s->typename_field;
        if (t == s->query && span_eq_cstr(name, "__schema")) return &s->schema_field;
        if (t == s->query && span_eq_cstr(name, "__type")) return &s->type_field;
    }
    if (t->kind != GQL_OBJECT && t->kind != GQL_INTERFACE) return NULL;
    for (uint32_t i = 0; i < t->nfields; i++)
        if (t->fields[i].name_len == name.len &&
            memcmp(t->fields[i].name, name.base, name.len) == 0)
            return &t->fields[i];
    return NULL;
}

gql_directive_def_t *gql_schema_directive(const gql_schema_t *s, span_t name)
{
    for (uint32_t i = 0; i < s->ndirectives; i++)
        if (s->directives[i]->name_len == name.len &&
            memcmp(s->directives[i]->name, name.base, name.len) == 0)
            return s->directives[i];
    return NULL;
}

bool gql_is_input_type(const gql_type_t *t)
{
    t = gql_named_type((gql_type_t *)t);
    return t->kind == GQL_SCALAR || t->kind == GQL_ENUM || t->kind == GQL_INPUT_OBJECT;
}

bool gql_is_output_type(const gql_type_t *t)
{
    t = gql_named_type((gql_type_t *)t);
    return t->kind != GQL_INPUT_OBJECT;
}

bool gql_is_possible_type(const gql_type_t *abstract, const gql_type_t *obj)
{
    if (abstract == obj) return true;
    for (uint32_t i = 0; i < abstract->npossible; i++)
        if (abstract->possible[i] == obj) return true;
    return false;
}

bool gql_types_overlap(const gql_type_t *a, const gql_type_t *b)
{
    if (a == b) return true;
    if (gql_is_abstract(a)) {
        if (gql_is_abstract(b)) {
            for (uint32_t i = 0; i < a->npossible; i++)
                if (gql_is_possible_type(b, a->possible[i])) return true;
            return false;
        }
        return gql_is_possible_type(a, b);
    }
    if (gql_is_abstract(b)) return gql_is_possible_type(b, a);
    return false;
}

static bool implements(const gql_type_t *t, const gql_type_t *iface)
{
    for (uint32_t i = 0; i < t->ninterfaces; i++)
        if (t->interfaces[i] == iface) return true;
    return false;
}

bool gql_is_subtype(const gql_type_t *sub, const gql_type_t *super)
{
    if (gql_type_equal(sub, super)) return true;
    if (super->kind == GQL_NON_NULL) {
        if (sub->kind == GQL_NON_NULL) return gql_is_subtype(sub->of_type, super->of_type);
        return false;
    }
    if (sub->kind == GQL_NON_NULL) return gql_is_subtype(sub->of_type, super);
    if (super->kind == GQL_LIST) {
        if (sub->kind == GQL_LIST) return gql_is_subtype(sub->of_type, super->of_type);
        return false;
    }
    if (sub->kind == GQL_LIST) return false;
    if (gql_is_abstract(super) && (sub->kind == GQL_INTERFACE || sub->kind == GQL_OBJECT) &&
        (gql_is_possible_type(super, sub) || implements(sub, super)))
        return true;
    return false;
}

bool gql_type_equal(const gql_type_t *a, const gql_type_t *b)
{
    while (a && b) {
        if (a == b) return true;
        if (a->kind != b->kind || !a->of_type) return false; /* distinct named types */
        a = a->of_type;
        b = b->of_type;
    }
    return a == b;
}

int gql_type_print(const gql_type_t *t, buf_t *out)
{
    if (t->kind == GQL_LIST) {
        int rc = buf_append_byte(out, '[');
        if (!rc) rc = gql_type_print(t->of_type, out);
        if (!rc) rc = buf_append_byte(out, ']');
        return rc;
    }
    if (t->kind == GQL_NON_NULL) {
        int rc = gql_type_print(t->of_type, out);
        if (!rc) rc = buf_append_byte(out, '!');
        return rc;
    }
    return buf_append(out, t->name, t->name_len);
}

gql_type_t *gql_type_wrap(gql_arena_t *a, enum gql_kind kind, gql_type_t *of)
{
    gql_type_t *t = gql_arena_alloc(a, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->of_type = of;
    return t;
}

static gql_type_t *type_from_ast(const gql_schema_t *s, gql_arena_t *a, const gql_ast_type_t *t,
                                 span_t *unknown, bool any)
{
    if (t->kind == GQL_AT_NAMED) {
        gql_type_t *n = any ? lookup_any(s, t->name) : gql_schema_type(s, t->name);
        if (!n) *unknown = t->name;
        return n;
    }
    gql_type_t *inner = type_from_ast(s, a, t->of, unknown, any);
    if (!inner) return NULL;
    gql_type_t *w = gql_type_wrap(a, t->kind == GQL_AT_LIST ? GQL_LIST : GQL_NON_NULL, inner);
    if (!w) *unknown = SPAN_NULL;
    return w;
}

gql_type_t *gql_type_from_ast(const gql_schema_t *s, gql_arena_t *a, const gql_ast_type_t *t,
                              span_t *unknown)
{
    *unknown = SPAN_NULL;
    return type_from_ast(s, a, t, unknown, false);
}

/* ---- building ---- */

typedef struct builder {
    gql_schema_t *s;
    buf_t *err;
    int nerr;
    const gql_ast_doc_t *doc; /* the document being processed, for error locations */
    const gql_ast_doc_t *idoc, *udoc;
} builder_t;

static void berr(builder_t *b, gql_off_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void berr(builder_t *b, gql_off_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (b->err) {
        buf_vappendf(b->err, fmt, ap);
        if (b->doc && b->doc->src != gql_introspection_sdl) {
            uint32_t line, col;
            gql_source_location(b->doc->src, b->doc->len, at, &line, &col);
            buf_appendf(b->err, " (line %u, column %u)", line, col);
        }
        buf_append_byte(b->err, '\n');
    }
    va_end(ap);
    b->nerr++;
}

static char *sdup(builder_t *b, span_t s)
{
    return gql_arena_strndup(&b->s->arena, s.base ? s.base : "", s.len);
}

static int own_json(gql_schema_t *s, json_t *v)
{
    if (s->nowned == s->owned_cap) {
        uint32_t cap = s->owned_cap ? s->owned_cap * 2 : 32;
        json_t **n = realloc(s->owned, cap * sizeof *n);
        if (!n) return RS_ENOMEM;
        s->owned = n;
        s->owned_cap = cap;
    }
    s->owned[s->nowned++] = v;
    return 0;
}

static int table_insert(gql_schema_t *s, gql_type_t *t)
{
    uint32_t mask = s->table_size - 1;
    for (uint32_t i = name_hash(t->name, t->name_len) & mask;; i = (i + 1) & mask) {
        if (!s->table[i]) {
            s->table[i] = t;
            return 0;
        }
    }
}

static gql_type_t *add_type(builder_t *b, enum gql_kind kind, span_t name, const char *desc)
{
    gql_schema_t *s = b->s;
    gql_type_t *t = gql_arena_alloc(&s->arena, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->name = sdup(b, name);
    t->name_len = name.len;
    t->description = desc;
    t->index = s->ntypes;
    s->types[s->ntypes++] = t;
    table_insert(s, t);
    return t;
}

/* @deprecated(reason:) on a definition: its reason, or NULL when not deprecated. */
static const char *deprecation(builder_t *b, const gql_ast_directive_t *d)
{
    for (; d; d = d->next) {
        if (!span_eq_cstr(d->name, "deprecated")) continue;
        for (const gql_ast_arg_t *a = d->args; a; a = a->next)
            if (span_eq_cstr(a->name, "reason") && a->value->kind == GQL_AV_STRING)
                return sdup(b, a->value->text);
        return "No longer supported";
    }
    return NULL;
}

static const char *directive_string_arg(builder_t *b, const gql_ast_directive_t *d, const char *dir,
                                        const char *arg)
{
    for (; d; d = d->next) {
        if (!span_eq_cstr(d->name, dir)) continue;
        for (const gql_ast_arg_t *a = d->args; a; a = a->next)
            if (span_eq_cstr(a->name, arg) && a->value->kind == GQL_AV_STRING)
                return sdup(b, a->value->text);
    }
    return NULL;
}

static bool reserved(span_t n)
{
    return n.len >= 2 && n.base[0] == '_' && n.base[1] == '_';
}

static void check_name(builder_t *b, span_t n, gql_off_t at)
{
    if (b->doc->src != gql_introspection_sdl && reserved(n))
        berr(b, at,
             "Name \"%.*s\" must not begin with \"__\", which is reserved by GraphQL "
             "introspection.",
             (int)n.len, n.base);
}

static gql_type_t *resolve_ref(builder_t *b, const gql_ast_type_t *t)
{
    span_t unknown;
    gql_type_t *r = type_from_ast(b->s, &b->s->arena, t, &unknown, true);
    if (!r && unknown.base)
        berr(b, t->loc, "Unknown type \"%.*s\".", (int)unknown.len, unknown.base);
    return r;
}

/* Input values (arguments or input fields) from a linked list; defaults are coerced later. */
static gql_input_value_t *build_inputs(builder_t *b, const gql_ast_inputval_t *head,
                                       uint32_t *count, const char *owner)
{
    uint32_t n = 0;
    for (const gql_ast_inputval_t *iv = head; iv; iv = iv->next) n++;
    *count = n;
    if (!n) return NULL;
    gql_input_value_t *out = gql_arena_alloc(&b->s->arena, n * sizeof *out);
    if (!out) return NULL;
    uint32_t i = 0;
    for (const gql_ast_inputval_t *iv = head; iv; iv = iv->next, i++) {
        check_name(b, iv->name, iv->loc);
        for (uint32_t j = 0; j < i; j++)
            if (out[j].name_len == iv->name.len &&
                memcmp(out[j].name, iv->name.base, iv->name.len) == 0)
                berr(b, iv->loc, "Argument \"%s(%.*s:)\" can only be defined once.", owner,
                     (int)iv->name.len, iv->name.base);
        out[i].name = sdup(b, iv->name);
        out[i].name_len = iv->name.len;
        out[i].description = iv->description.base ? sdup(b, iv->description) : NULL;
        out[i].type = resolve_ref(b, iv->type);
        out[i].deprecation = deprecation(b, iv->directives);
        if (out[i].type && !gql_is_input_type(out[i].type)) {
            buf_t ts = BUF_INIT;
            gql_type_print(out[i].type, &ts);
            berr(b, iv->loc, "The type of %s(%s:) must be Input Type but got: %.*s.", owner,
                 out[i].name, (int)ts.len, ts.base);
            buf_free(&ts);
        }
        if (out[i].deprecation && out[i].type && out[i].type->kind == GQL_NON_NULL && !iv->defval)
            berr(b, iv->loc, "Required argument %s(%s:) cannot be deprecated.", owner, out[i].name);
    }
    return out;
}

/* Coerce an input value's default literal and print it back for introspection. */
static void build_default(builder_t *b, gql_input_value_t *iv, const gql_ast_value_t *lit,
                          const char *owner)
{
    if (!lit || !iv->type) return;
    json_t *v = NULL;
    buf_t msg = BUF_INIT;
    int rc = gql_value_from_ast(iv->type, lit, NULL, &v, &msg);
    if (rc != 0) {
        berr(b, lit->loc, "Invalid default value for %s(%s:): %.*s", owner, iv->name, (int)msg.len,
             msg.base ? msg.base : "");
        buf_free(&msg);
        return;
    }
    buf_free(&msg);
    if (own_json(b->s, v) < 0) {
        json_decref(v);
        b->nerr++;
        return;
    }
    iv->defval = v;
    buf_t text = BUF_INIT;
    if (gql_value_print(iv->type, v, &text) == 0 && buf_cstr(&text))
        iv->defval_text = gql_arena_strndup(&b->s->arena, text.base, text.len);
    buf_free(&text);
}

static bool def_is_type(const gql_ast_def_t *d)
{
    return d->kind >= GQL_DEF_SCALAR && d->kind <= GQL_DEF_INPUT;
}

static enum gql_kind def_kind(const gql_ast_def_t *d)
{
    switch (d->kind) {
    case GQL_DEF_OBJECT:
        return GQL_OBJECT;
    case GQL_DEF_INTERFACE:
        return GQL_INTERFACE;
    case GQL_DEF_UNION:
        return GQL_UNION;
    case GQL_DEF_ENUM:
        return GQL_ENUM;
    case GQL_DEF_INPUT:
        return GQL_INPUT_OBJECT;
    default:
        return GQL_SCALAR;
    }
}

/* Pass 1: named types and directives. */
static void declare(builder_t *b, const gql_ast_doc_t *doc)
{
    b->doc = doc;
    for (const gql_ast_def_t *d = doc->defs; d; d = d->next) {
        if (d->kind == GQL_DEF_OPERATION || d->kind == GQL_DEF_FRAGMENT) {
            berr(b, d->loc, "Executable definitions are not allowed in a schema.");
            continue;
        }
        if (d->kind == GQL_DEF_DIRECTIVE) {
            check_name(b, d->name, d->name_loc);
            if (gql_schema_directive(b->s, d->name)) {
                berr(b, d->name_loc, "Directive \"@%.*s\" already exists in the schema.",
                     (int)d->name.len, d->name.base);
                continue;
            }
            gql_directive_def_t *dd = gql_arena_alloc(&b->s->arena, sizeof *dd);
            if (!dd) {
                b->nerr++;
                return;
            }
            dd->name = sdup(b, d->name);
            dd->name_len = d->name.len;
            dd->description = d->description.base ? sdup(b, d->description) : NULL;
            dd->repeatable = d->repeatable;
            for (const gql_ast_name_t *l = d->members; l; l = l->next)
                for (int i = 0; i < GQL_DL_COUNT; i++)
                    if (span_eq_cstr(l->name, gql_dir_loc_names[i]) &&
                        !(dd->locations & (1u << i))) {
                        dd->locations |= 1u << i;
                        dd->loc_order[dd->nlocs++] = (uint8_t)i;
                    }
            dd->args = build_inputs(b, d->inputs, &dd->nargs, dd->name);
            b->s->directives[b->s->ndirectives++] = dd;
            continue;
        }
        if (!def_is_type(d) || d->extend) continue;
        check_name(b, d->name, d->name_loc);
        if (lookup_any(b->s, d->name)) {
            berr(b, d->name_loc, "There can be only one type named \"%.*s\".", (int)d->name.len,
                 d->name.base);
            continue;
        }
        gql_type_t *t =
            add_type(b, def_kind(d), d->name, d->description.base ? sdup(b, d->description) : NULL);
        if (!t) {
            b->nerr++;
            return;
        }
        t->ast = d;
        t->introspection = doc->src == gql_introspection_sdl;
        if (t->kind == GQL_SCALAR)
            t->specified_by = directive_string_arg(b, d->directives, "specifiedBy", "url");
    }
}

/* Pass 2: members of each type, from its definition and every extension of it. */
static void define_members(builder_t *b, const gql_ast_doc_t *doc, gql_type_t *t)
{
    const gql_ast_def_t *d0 = t->ast;
    uint32_t nfields = 0, nifaces = 0, nmembers = 0, nvalues = 0, ninputs = 0;
    for (const gql_ast_def_t *d = doc->defs; d; d = d->next) {
        if (d != d0 && !(d->extend && def_is_type(d) && span_eq_cstr(d->name, t->name))) continue;
        for (const gql_ast_fielddef_t *f = d->fields; f; f = f->next) nfields++;
        for (const gql_ast_name_t *n = d->interfaces; n; n = n->next) nifaces++;
        for (const gql_ast_name_t *n = d->members; n; n = n->next) nmembers++;
        for (const gql_ast_fielddef_t *f = d->values; f; f = f->next) nvalues++;
        for (const gql_ast_inputval_t *iv = d->inputs; iv; iv = iv->next) ninputs++;
    }
    gql_arena_t *a = &b->s->arena;
    if (nfields && !(t->fields = gql_arena_alloc(a, nfields * sizeof *t->fields))) goto oom;
    if (nifaces && !(t->interfaces = gql_arena_alloc(a, nifaces * sizeof *t->interfaces))) goto oom;
    if (nmembers && !(t->possible = gql_arena_alloc(a, nmembers * sizeof *t->possible))) goto oom;
    if (nvalues && !(t->values = gql_arena_alloc(a, nvalues * sizeof *t->values))) goto oom;
    if (ninputs && !(t->inputs = gql_arena_alloc(a, ninputs * sizeof *t->inputs))) goto oom;

    for (const gql_ast_def_t *d = doc->defs; d; d = d->next) {
        if (d != d0 && !(d->extend && def_is_type(d) && span_eq_cstr(d->name, t->name))) continue;
        for (const gql_ast_fielddef_t *f = d->fields; f; f = f->next) {
            check_name(b, f->name, f->loc);
            if (gql_schema_field(b->s, t, f->name) && !reserved(f->name)) {
                berr(b, f->loc, "Field \"%s.%.*s\" can only be defined once.", t->name,
                     (int)f->name.len, f->name.base);
                continue;
            }
            gql_field_def_t *fd = &t->fields[t->nfields++];
            fd->name = sdup(b, f->name);
            fd->name_len = f->name.len;
            fd->description = f->description.base ? sdup(b, f->description) : NULL;
            fd->owner = t;
            fd->type = resolve_ref(b, f->type);
            fd->deprecation = deprecation(b, f->directives);
            char owner[300];
            snprintf(owner, sizeof owner, "%s.%s", t->name, fd->name);
            fd->args = build_inputs(b, f->args, &fd->nargs, owner);
            if (fd->type && !gql_is_output_type(fd->type)) {
                buf_t ts = BUF_INIT;
                gql_type_print(fd->type, &ts);
                berr(b, f->loc, "The type of %s must be Output Type but got: %.*s.", owner,
                     (int)ts.len, ts.base);
                buf_free(&ts);
            }
        }
        for (const gql_ast_name_t *n = d->interfaces; n; n = n->next) {
            gql_type_t *it = lookup_any(b->s, n->name);
            if (!it) {
                berr(b, n->loc, "Unknown type \"%.*s\".", (int)n->name.len, n->name.base);
                continue;
            }
            if (it->kind != GQL_INTERFACE) {
                berr(b, n->loc,
                     "Type %s must only implement Interface types, it cannot implement "
                     "%s.",
                     t->name, it->name);
                continue;
            }
            if (implements(t, it)) {
                berr(b, n->loc, "Type %s can only implement %s once.", t->name, it->name);
                continue;
            }
            t->interfaces[t->ninterfaces++] = it;
        }
        for (const gql_ast_name_t *n = d->members; n; n = n->next) {
            gql_type_t *mt = lookup_any(b->s, n->name);
            if (!mt) {
                berr(b, n->loc, "Unknown type \"%.*s\".", (int)n->name.len, n->name.base);
                continue;
            }
            if (mt->kind != GQL_OBJECT) {
                berr(b, n->loc,
                     "Union type %s can only include Object types, it cannot include "
                     "%s.",
                     t->name, mt->name);
                continue;
            }
            if (gql_is_possible_type(t, mt)) {
                berr(b, n->loc, "Union type %s can only include type %s once.", t->name, mt->name);
                continue;
            }
            t->possible[t->npossible++] = mt;
        }
        for (const gql_ast_fielddef_t *f = d->values; f; f = f->next) {
            int dup = 0;
            for (uint32_t i = 0; i < t->nvalues; i++)
                if (span_eq_cstr(f->name, t->values[i].name)) dup = 1;
            if (dup) {
                berr(b, f->loc, "Enum value \"%s.%.*s\" can only be defined once.", t->name,
                     (int)f->name.len, f->name.base);
                continue;
            }
            gql_enum_value_t *ev = &t->values[t->nvalues++];
            ev->name = sdup(b, f->name);
            ev->name_len = f->name.len;
            ev->description = f->description.base ? sdup(b, f->description) : NULL;
            ev->deprecation = deprecation(b, f->directives);
        }
        if (d->inputs) {
            uint32_t n;
            gql_input_value_t *ivs = build_inputs(b, d->inputs, &n, t->name);
            for (uint32_t i = 0; ivs && i < n; i++) {
                if (gql_find_arg(t->inputs, t->ninputs, span_make(ivs[i].name, ivs[i].name_len))) {
                    berr(b, d->loc, "Input field \"%s.%s\" can only be defined once.", t->name,
                         ivs[i].name);
                    continue;
                }
                t->inputs[t->ninputs++] = ivs[i];
            }
        }
    }
    return;
oom:
    b->nerr++;
    if (b->err) buf_append_cstr(b->err, "out of memory\n");
}

/* Pass 3: default values. A default like {n: 1} picks up the defaults of the input type's
 * own fields, so an input type's field defaults are built before anything that uses it. */
static const gql_ast_doc_t *doc_of(builder_t *b, const gql_type_t *t);

static void input_defaults(builder_t *b, gql_type_t *t);

static void ensure_defaults(builder_t *b, gql_type_t *t)
{
    t = gql_named_type(t);
    if (t && t->kind == GQL_INPUT_OBJECT && t->defaults_state == 0) input_defaults(b, t);
}

static void input_defaults(builder_t *b, gql_type_t *t)
{
    t->defaults_state = 1; /* a cycle through required fields is refused elsewhere */
    const gql_ast_doc_t *doc = doc_of(b, t), *saved = b->doc;
    const gql_ast_def_t *d0 = t->ast;
    for (uint32_t i = 0; i < t->ninputs; i++)
        if (t->inputs[i].type) ensure_defaults(b, t->inputs[i].type);
    b->doc = doc;
    for (const gql_ast_def_t *d = doc->defs; d; d = d->next) {
        if (d != d0 && !(d->extend && def_is_type(d) && span_eq_cstr(d->name, t->name))) continue;
        for (const gql_ast_inputval_t *iv = d->inputs; iv; iv = iv->next) {
            gql_input_value_t *fd =
                (gql_input_value_t *)gql_find_arg(t->inputs, t->ninputs, iv->name);
            if (fd && !fd->defval) build_default(b, fd, iv->defval, t->name);
        }
    }
    b->doc = saved;
    t->defaults_state = 2;
}

static void define_defaults(builder_t *b, const gql_ast_doc_t *doc, gql_type_t *t)
{
    if (t->kind == GQL_INPUT_OBJECT) {
        ensure_defaults(b, t);
        return;
    }
    const gql_ast_def_t *d0 = t->ast;
    uint32_t fi = 0;
    for (const gql_ast_def_t *d = doc->defs; d; d = d->next) {
        if (d != d0 && !(d->extend && def_is_type(d) && span_eq_cstr(d->name, t->name))) continue;
        for (const gql_ast_fielddef_t *f = d->fields; f; f = f->next) {
            gql_field_def_t *fd = NULL;
            for (uint32_t i = fi; i < t->nfields && !fd; i++)
                if (span_eq_cstr(f->name, t->fields[i].name)) fd = &t->fields[i], fi = i + 1;
            if (!fd) continue;
            char owner[300];
            snprintf(owner, sizeof owner, "%s.%s", t->name, fd->name);
            uint32_t ai = 0;
            for (const gql_ast_inputval_t *iv = f->args; iv && ai < fd->nargs;
                 iv = iv->next, ai++) {
                if (fd->args[ai].type) ensure_defaults(b, fd->args[ai].type);
                b->doc = doc;
                build_default(b, &fd->args[ai], iv->defval, owner);
            }
        }
    }
}

static void check_extensions(builder_t *b, const gql_ast_doc_t *doc)
{
    b->doc = doc;
    for (const gql_ast_def_t *d = doc->defs; d; d = d->next) {
        if (!d->extend || !def_is_type(d)) continue;
        gql_type_t *t = lookup_any(b->s, d->name);
        if (!t || !t->ast) {
            berr(b, d->name_loc, "Cannot extend type \"%.*s\" because it is not defined.",
                 (int)d->name.len, d->name.base);
        } else if (t->kind != def_kind(d)) {
            berr(b, d->name_loc, "Cannot extend non-%s type \"%s\".",
                 d->kind == GQL_DEF_OBJECT ? "object" : "matching", t->name);
        }
    }
}

static void mark_referenced(gql_type_t *t)
{
    t = gql_named_type(t);
    if (t) t->referenced = true;
}

/* Checks of the finished schema (spec 3.6.1 / 3.7.1 type validation). */
static void validate_types(builder_t *b)
{
    gql_schema_t *s = b->s;
    b->doc = NULL;
    for (uint32_t i = 0; i < s->ntypes; i++) {
        gql_type_t *t = s->types[i];
        if (!t->ast) continue;
        if ((t->kind == GQL_OBJECT || t->kind == GQL_INTERFACE) && t->nfields == 0)
            berr(b, 0, "Type %s must define one or more fields.", t->name);
        if (t->kind == GQL_UNION && t->npossible == 0)
            berr(b, 0, "Union type %s must define one or more member types.", t->name);
        if (t->kind == GQL_ENUM && t->nvalues == 0)
            berr(b, 0, "Enum type %s must define one or more values.", t->name);
        if (t->kind == GQL_INPUT_OBJECT && t->ninputs == 0)
            berr(b, 0, "Input Object type %s must define one or more fields.", t->name);
        for (uint32_t k = 0; k < t->ninterfaces; k++) {
            gql_type_t *it = t->interfaces[k];
            if (it == t) {
                berr(b, 0,
                     "Type %s cannot implement itself because it would create a circular "
                     "reference.",
                     t->name);
                continue;
            }
            for (uint32_t m = 0; m < it->ninterfaces; m++)
                if (!implements(t, it->interfaces[m]) && it->interfaces[m] != t)
                    berr(b, 0, "Type %s must implement %s because it is implemented by %s.",
                         t->name, it->interfaces[m]->name, it->name);
            for (uint32_t f = 0; f < it->nfields; f++) {
                const gql_field_def_t *ifd = &it->fields[f];
                const gql_field_def_t *ofd =
                    gql_schema_field(s, t, span_make(ifd->name, ifd->name_len));
                if (!ofd) {
                    berr(b, 0, "Interface field %s.%s expected but %s does not provide it.",
                         it->name, ifd->name, t->name);
                    continue;
                }
                if (ifd->type && ofd->type && !gql_is_subtype(ofd->type, ifd->type)) {
                    buf_t x = BUF_INIT, y = BUF_INIT;
                    gql_type_print(ifd->type, &x);
                    gql_type_print(ofd->type, &y);
                    berr(b, 0, "Interface field %s.%s expects type %.*s but %s.%s is type %.*s.",
                         it->name, ifd->name, (int)x.len, x.base, t->name, ofd->name, (int)y.len,
                         y.base);
                    buf_free(&x);
                    buf_free(&y);
                }
                for (uint32_t a = 0; a < ifd->nargs; a++) {
                    const gql_input_value_t *oa = gql_find_arg(
                        ofd->args, ofd->nargs, span_make(ifd->args[a].name, ifd->args[a].name_len));
                    if (!oa)
                        berr(b, 0,
                             "Interface field argument %s.%s(%s:) expected but %s.%s does "
                             "not provide it.",
                             it->name, ifd->name, ifd->args[a].name, t->name, ofd->name);
                    else if (oa->type && ifd->args[a].type &&
                             !gql_type_equal(oa->type, ifd->args[a].type))
                        berr(b, 0,
                             "Interface field argument %s.%s(%s:) and %s.%s(%s:) have "
                             "different types.",
                             it->name, ifd->name, ifd->args[a].name, t->name, ofd->name, oa->name);
                }
                for (uint32_t a = 0; a < ofd->nargs; a++) {
                    const gql_input_value_t *oa = &ofd->args[a];
                    if (oa->type && oa->type->kind == GQL_NON_NULL && !oa->defval &&
                        !gql_find_arg(ifd->args, ifd->nargs, span_make(oa->name, oa->name_len)))
                        berr(b, 0,
                             "Object field %s.%s includes required argument %s that is "
                             "missing from the Interface field %s.%s.",
                             t->name, ofd->name, oa->name, it->name, ifd->name);
                }
            }
        }
    }
}

static int builtin_scalars(builder_t *b)
{
    static const struct {
        const char *name;
        enum gql_builtin_scalar kind;
        const char *desc;
    } sc[] = {
        {"Int", GQL_INT, "A signed 32-bit integer."},
        {"Float", GQL_FLOAT, "A signed double-precision floating-point number."},
        {"String", GQL_STRING, "UTF-8 text."},
        {"Boolean", GQL_BOOLEAN, "true or false."},
        {"ID", GQL_ID,
         "A unique identifier, serialized as a string; input accepts strings and "
         "integers."},
    };
    for (size_t i = 0; i < sizeof sc / sizeof *sc; i++) {
        gql_type_t *t = add_type(b, GQL_SCALAR, span_cstr(sc[i].name), sc[i].desc);
        if (!t) return RS_ENOMEM;
        t->builtin = sc[i].kind;
    }
    return 0;
}

static uint32_t count_defs(const gql_ast_doc_t *d)
{
    return d ? d->ndefs : 0;
}

static const gql_ast_doc_t *doc_of(builder_t *b, const gql_type_t *t)
{
    return t->introspection ? b->idoc : b->udoc;
}

int gql_schema_build(const char *sdl, size_t len, gql_schema_t **out, buf_t *err)
{
    *out = NULL;
    gql_schema_t *s = calloc(1, sizeof *s);
    if (!s) return RS_ENOMEM;
    gql_arena_init(&s->arena, 0);
    builder_t b = {s, err, 0, NULL, NULL, NULL};
    int rc = RS_ENOMEM;
    gql_parse_error_t perr;
    gql_ast_doc_t *idoc = NULL, *udoc = NULL;

    s->sdl = gql_arena_strndup(&s->arena, sdl, len);
    if (!s->sdl) goto fail;
    rc = gql_parse(&s->arena, gql_introspection_sdl, strlen(gql_introspection_sdl), NULL, &idoc,
                   &perr);
    if (rc < 0) {
        if (err) buf_appendf(err, "introspection SDL: %s\n", perr.message);
        goto fail;
    }
    rc = gql_parse(&s->arena, s->sdl, len, NULL, &udoc, &perr);
    if (rc < 0) {
        if (rc != RS_ENOMEM && err) {
            uint32_t line, col;
            gql_source_location(s->sdl, len, perr.loc, &line, &col);
            buf_appendf(err, "%s (line %u, column %u)\n", perr.message, line, col);
        }
        if (rc != RS_ENOMEM) rc = RS_EPROTO;
        goto fail;
    }
    b.idoc = idoc;
    b.udoc = udoc;
    rc = RS_ENOMEM;
    uint32_t cap = 5 + count_defs(idoc) + count_defs(udoc);
    s->types = gql_arena_alloc(&s->arena, cap * sizeof *s->types);
    s->directives = gql_arena_alloc(&s->arena, cap * sizeof *s->directives);
    for (s->table_size = 16; s->table_size < cap * 2; s->table_size *= 2) {
    }
    s->table = gql_arena_alloc(&s->arena, s->table_size * sizeof *s->table);
    if (!s->types || !s->directives || !s->table) goto fail;

    if (builtin_scalars(&b) < 0) goto fail;
    declare(&b, idoc);
    declare(&b, udoc);
    check_extensions(&b, udoc);
    for (uint32_t i = 0; i < s->ntypes; i++) {
        gql_type_t *t = s->types[i];
        if (!t->ast) continue;
        b.doc = t->introspection ? idoc : udoc;
        define_members(&b, b.doc, t);
    }
    for (uint32_t i = 0; i < s->ntypes; i++) {
        gql_type_t *t = s->types[i];
        if (!t->ast) continue;
        b.doc = t->introspection ? idoc : udoc;
        define_defaults(&b, b.doc, t);
    }
    /* Directive argument defaults. */
    for (uint32_t i = 0; i < s->ndirectives; i++) {
        gql_directive_def_t *dd = s->directives[i];
        const gql_ast_doc_t *docs[2] = {idoc, udoc};
        for (int k = 0; k < 2; k++) {
            b.doc = docs[k];
            for (const gql_ast_def_t *d = docs[k]->defs; d; d = d->next) {
                if (d->kind != GQL_DEF_DIRECTIVE || !span_eq_cstr(d->name, dd->name)) continue;
                uint32_t ai = 0;
                for (const gql_ast_inputval_t *iv = d->inputs; iv && ai < dd->nargs;
                     iv = iv->next, ai++) {
                    if (dd->args[ai].type) ensure_defaults(&b, dd->args[ai].type);
                    b.doc = docs[k];
                    build_default(&b, &dd->args[ai], iv->defval, dd->name);
                }
            }
        }
    }

    /* Root types: schema { ... } or the conventional names. */
    b.doc = udoc;
    const gql_ast_def_t *schema_def = NULL;
    for (const gql_ast_def_t *d = udoc->defs; d; d = d->next) {
        if (d->kind != GQL_DEF_SCHEMA) continue;
        if (!d->extend && schema_def) berr(&b, d->loc, "Must provide only one schema definition.");
        if (!d->extend) {
            schema_def = d;
            if (d->description.base) s->description = sdup(&b, d->description);
        }
        for (const gql_ast_name_t *n = d->members; n; n = n->next) {
            gql_type_t *t = lookup_any(s, n->name);
            if (!t || t->kind != GQL_OBJECT) {
                berr(&b, n->loc, "Root type \"%.*s\" must be an existing Object type.",
                     (int)n->name.len, n->name.base);
                continue;
            }
            gql_type_t **slot = n->op == GQL_OP_QUERY      ? &s->query
                                : n->op == GQL_OP_MUTATION ? &s->mutation
                                                           : &s->subscription;
            if (*slot) berr(&b, n->loc, "There can be only one root type for each operation.");
            *slot = t;
        }
    }
    if (!schema_def) {
        gql_type_t *q = lookup_any(s, SPAN_LIT("Query"));
        gql_type_t *m = lookup_any(s, SPAN_LIT("Mutation"));
        gql_type_t *sub = lookup_any(s, SPAN_LIT("Subscription"));
        if (q && q->kind == GQL_OBJECT) s->query = q;
        if (m && m->kind == GQL_OBJECT) s->mutation = m;
        if (sub && sub->kind == GQL_OBJECT) s->subscription = sub;
    }
    if (!s->query) berr(&b, 0, "Query root type must be provided.");

    /* Meta fields. */
    gql_type_t *string_t = lookup_any(s, SPAN_LIT("String"));
    s->typename_field =
        (gql_field_def_t){.name = "__typename",
                          .name_len = 10,
                          .description = "The name of the current Object type at runtime.",
                          .meta = GQL_META_TYPENAME};
    s->typename_field.type = gql_type_wrap(&s->arena, GQL_NON_NULL, string_t);
    s->schema_field =
        (gql_field_def_t){.name = "__schema",
                          .name_len = 8,
                          .description = "Access the current type schema of this server.",
                          .meta = GQL_META_SCHEMA};
    s->schema_field.type =
        gql_type_wrap(&s->arena, GQL_NON_NULL, lookup_any(s, SPAN_LIT("__Schema")));
    s->type_field =
        (gql_field_def_t){.name = "__type",
                          .name_len = 6,
                          .description = "Request the type information of a single type.",
                          .meta = GQL_META_TYPE};
    s->type_field.type = lookup_any(s, SPAN_LIT("__Type"));
    s->type_field.args = gql_arena_alloc(&s->arena, sizeof *s->type_field.args);
    if (!s->typename_field.type || !s->schema_field.type || !s->type_field.args) goto fail;
    s->type_field.nargs = 1;
    s->type_field.args[0] = (gql_input_value_t){.name = "name", .name_len = 4};
    s->type_field.args[0].type = gql_type_wrap(&s->arena, GQL_NON_NULL, string_t);
    if (!s->type_field.args[0].type) goto fail;

    /* Possible types of interfaces; what introspection lists. */
    for (uint32_t i = 0; i < s->ntypes; i++) {
        gql_type_t *t = s->types[i];
        if (t->kind == GQL_INTERFACE && !t->possible) {
            uint32_t n = 0;
            for (uint32_t j = 0; j < s->ntypes; j++)
                if (s->types[j]->kind == GQL_OBJECT && implements(s->types[j], t)) n++;
            if (n && !(t->possible = gql_arena_alloc(&s->arena, n * sizeof *t->possible)))
                goto fail;
            for (uint32_t j = 0; j < s->ntypes; j++)
                if (s->types[j]->kind == GQL_OBJECT && implements(s->types[j], t))
                    t->possible[t->npossible++] = s->types[j];
        }
        if (t->ast) t->referenced = true;
        for (uint32_t f = 0; f < t->nfields; f++) {
            if (t->fields[f].type) mark_referenced(t->fields[f].type);
            for (uint32_t a = 0; a < t->fields[f].nargs; a++)
                if (t->fields[f].args[a].type) mark_referenced(t->fields[f].args[a].type);
        }
        for (uint32_t f = 0; f < t->ninputs; f++)
            if (t->inputs[f].type) mark_referenced(t->inputs[f].type);
    }
    for (uint32_t i = 0; i < s->ndirectives; i++)
        for (uint32_t a = 0; a < s->directives[i]->nargs; a++)
            if (s->directives[i]->args[a].type) mark_referenced(s->directives[i]->args[a].type);

    validate_types(&b);
    if (b.nerr) {
        rc = RS_EPROTO;
        goto fail;
    }
    rc = gql_introspection_bind(s);
    if (rc < 0) goto fail;
    *out = s;
    return 0;
fail:
    gql_schema_free(s);
    return rc == RS_ENOMEM ? RS_ENOMEM : RS_EPROTO;
}

void gql_schema_free(gql_schema_t *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->nowned; i++) json_decref(s->owned[i]);
    free(s->owned);
    gql_arena_free(&s->arena);
    free(s);
}

/* ---- bindings ---- */

static gql_field_def_t *field_by_coord(gql_schema_t *s, const char *coord)
{
    const char *dot = strchr(coord, '.');
    if (!dot) return NULL;
    gql_type_t *t = lookup_any(s, span_make(coord, (size_t)(dot - coord)));
    if (!t || (t->kind != GQL_OBJECT && t->kind != GQL_INTERFACE)) return NULL;
    span_t fname = span_cstr(dot + 1);
    for (uint32_t i = 0; i < t->nfields; i++)
        if (span_eq_cstr(fname, t->fields[i].name)) return &t->fields[i];
    return NULL;
}

int gql_schema_set_resolver(gql_schema_t *s, const char *coord, gql_resolver_fn fn, void *udata)
{
    gql_field_def_t *f = field_by_coord(s, coord);
    if (!f) return RS_ENOTFOUND;
    f->resolve = fn;
    f->udata = udata;
    return 0;
}

int gql_schema_set_expensive(gql_schema_t *s, const char *coord)
{
    gql_field_def_t *f = field_by_coord(s, coord);
    if (!f) return RS_ENOTFOUND;
    f->expensive = true;
    return 0;
}

int gql_schema_set_type_resolver(gql_schema_t *s, const char *type, gql_type_resolver_fn fn,
                                 void *udata)
{
    gql_type_t *t = lookup_any(s, span_cstr(type));
    if (!t || !gql_is_abstract(t)) return RS_ENOTFOUND;
    t->resolve_type = fn;
    t->resolve_type_udata = udata;
    return 0;
}

int gql_schema_set_scalar(gql_schema_t *s, const char *type, gql_scalar_fn serialize,
                          gql_scalar_fn parse, void *udata)
{
    gql_type_t *t = lookup_any(s, span_cstr(type));
    if (!t || t->kind != GQL_SCALAR || t->builtin != GQL_CUSTOM) return RS_ENOTFOUND;
    t->serialize = serialize;
    t->parse = parse;
    t->scalar_udata = udata;
    return 0;
}
