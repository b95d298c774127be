#include "gql/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql/value.h"
#include "util/err.h"

typedef struct usage {
    span_t name;
    gql_off_t loc;
    const gql_type_t *type; /* expected type at the position, NULL when unknown */
    bool loc_default;       /* the position (argument, input field) has a default */
} usage_t;

typedef struct spread_ref {
    span_t name;
    gql_off_t loc;
} spread_ref_t;

typedef struct def_info {
    const gql_ast_def_t *def;
    usage_t *usages;
    uint32_t nusages, cap_usages;
    spread_ref_t *spreads;
    uint32_t nspreads, cap_spreads;
    gql_errors_t enter, body, leave;
    gql_type_t *frag_type; /* FRAGMENT: the type condition, when it names a known type */
    uint32_t stamp;
    int32_t path_index;
    bool visited;
    int8_t intro_visited, intro_checked, intro_exceeded; /* entry depths, -1 = none */
} def_info_t;

typedef struct vctx {
    const gql_schema_t *s;
    const gql_ast_doc_t *doc;
    gql_arena_t *arena;
    def_info_t *defs;
    uint32_t ndefs;
    def_info_t *cur;
    gql_errors_t first, last;
    uint32_t nerrors;
    uint32_t stamp_gen;
    uint64_t overlap_work; /* field pairs looked at by OverlappingFieldsCanBeMerged */
    bool overlap_exhausted;
    bool aborted;
    bool nomem;
} vctx_t;

/* ---- small helpers ---- */

static gql_errors_t *body(vctx_t *v)
{
    return &v->cur->body;
}

static void report(vctx_t *v, gql_errors_t *list, const gql_off_t *locs, uint32_t nlocs,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void report(vctx_t *v, gql_errors_t *list, const gql_off_t *locs, uint32_t nlocs,
                   const char *fmt, ...)
{
    if (v->aborted) return;
    if (v->nerrors >= GQL_MAX_VALIDATION_ERRORS) {
        v->aborted = true;
        return;
    }
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vappendf(&b, fmt, ap);
    va_end(ap);
    if (rc || !gql_errors_add_msg(list, locs, nlocs, b.base ? b.base : "", b.len)) v->nomem = true;
    buf_free(&b);
    v->nerrors++;
}

static void report1(vctx_t *v, gql_errors_t *list, gql_off_t loc, const char *msg)
{
    report(v, list, &loc, 1, "%s", msg);
}

static void type_str(const gql_type_t *t, buf_t *b)
{
    b->len = 0;
    gql_type_print(t, b);
    buf_cstr(b);
}

static void ast_type_print(const gql_ast_type_t *t, buf_t *b)
{
    if (t->kind == GQL_AT_NAMED) {
        buf_append_span(b, t->name);
    } else if (t->kind == GQL_AT_LIST) {
        buf_append_byte(b, '[');
        ast_type_print(t->of, b);
        buf_append_byte(b, ']');
    } else {
        ast_type_print(t->of, b);
        buf_append_byte(b, '!');
    }
}

#define GROW(ptr, n, cap) (((n) < (cap)) ? 0 : grow_array((void **)&(ptr), &(cap), sizeof *(ptr)))

static int grow_array(void **p, uint32_t *cap, size_t elt)
{
    uint32_t ncap = *cap ? *cap * 2 : 8;
    void *np = realloc(*p, ncap * elt);
    if (!np) return RS_ENOMEM;
    *p = np;
    *cap = ncap;
    return 0;
}

/* The fragment a spread of name refers to: with duplicates (an error of their own), the last
 * definition, as graphql-js's fragment map has it. */
static def_info_t *find_fragment(vctx_t *v, span_t name)
{
    for (uint32_t i = v->ndefs; i-- > 0;)
        if (v->defs[i].def->kind == GQL_DEF_FRAGMENT && span_eq(v->defs[i].def->name, name))
            return &v->defs[i];
    return NULL;
}

static void add_usage(vctx_t *v, span_t name, gql_off_t loc, const gql_type_t *type, bool locdef)
{
    def_info_t *d = v->cur;
    if (GROW(d->usages, d->nusages, d->cap_usages)) {
        v->nomem = true;
        return;
    }
    d->usages[d->nusages++] = (usage_t){name, loc, type, locdef};
}

/* Names of every referenced type, for suggestions (caller frees the array). */
static const char **type_names(vctx_t *v, size_t *n)
{
    const char **names = malloc(v->s->ntypes * sizeof *names);
    *n = 0;
    if (!names) return NULL;
    for (uint32_t i = 0; i < v->s->ntypes; i++)
        if (v->s->types[i]->referenced) names[(*n)++] = v->s->types[i]->name;
    return names;
}

static void unknown_type(vctx_t *v, gql_errors_t *list, span_t name, gql_off_t loc)
{
    buf_t b = BUF_INIT;
    buf_appendf(&b, "Unknown type \"%.*s\".", (int)name.len, name.base);
    size_t n;
    const char **names = type_names(v, &n);
    if (names) gql_did_you_mean(name, names, n, NULL, &b);
    free(names);
    report(v, list, &loc, 1, "%s", buf_cstr(&b) ? b.base : "");
    buf_free(&b);
}

/* ---- values (ValuesOfCorrectType, UniqueInputFieldNames, variable usages) ---- */

static void invalid_leaf(vctx_t *v, const gql_ast_value_t *val, const gql_type_t *loc_type)
{
    buf_t ts = BUF_INIT, msg = BUF_INIT, pv = BUF_INIT;
    type_str(loc_type, &ts);
    gql_ast_value_print(val, &pv);
    buf_cstr(&pv);
    gql_type_t *named = gql_named_type((gql_type_t *)loc_type);
    if (!gql_is_leaf(named)) {
        report(v, body(v), &val->loc, 1, "Expected value of type \"%s\", found %s.", ts.base,
               pv.base);
    } else {
        json_t *out = NULL;
        int rc = gql_leaf_parse_literal(named, val, &out, &msg);
        json_decref(out);
        if (rc == RS_ENOMEM)
            v->nomem = true;
        else if (rc < 0 && named->builtin == GQL_CUSTOM && named->kind == GQL_SCALAR)
            report(v, body(v), &val->loc, 1, "Expected value of type \"%s\", found %s; %s", ts.base,
                   pv.base, buf_cstr(&msg) ? msg.base : "");
        else if (rc < 0)
            report(v, body(v), &val->loc, 1, "%s", buf_cstr(&msg) ? msg.base : "");
    }
    buf_free(&ts);
    buf_free(&msg);
    buf_free(&pv);
}

/* check: report type mismatches (off inside a value already found wrong, where only the
 * variables still need recording). */
static void visit_value(vctx_t *v, const gql_ast_value_t *val, const gql_type_t *type, bool locdef,
                        bool check)
{
    if (v->aborted) return;
    switch (val->kind) {
    case GQL_AV_VARIABLE:
        add_usage(v, val->text, val->loc, type, locdef);
        return;
    case GQL_AV_NULL:
        if (check && type && type->kind == GQL_NON_NULL) {
            buf_t ts = BUF_INIT;
            type_str(type, &ts);
            report(v, body(v), &val->loc, 1, "Expected value of type \"%s\", found null.", ts.base);
            buf_free(&ts);
        }
        return;
    case GQL_AV_LIST: {
        const gql_type_t *nullable = type && type->kind == GQL_NON_NULL ? type->of_type : type;
        const gql_type_t *item = type;
        if (nullable && nullable->kind == GQL_LIST) {
            item = nullable->of_type;
        } else if (check && type) {
            invalid_leaf(v, val, type);
            check = false;
        }
        for (const gql_ast_value_t *i = val->items; i; i = i->next)
            visit_value(v, i, item, false, check);
        return;
    }
    case GQL_AV_OBJECT: {
        gql_type_t *named = type ? gql_named_type((gql_type_t *)type) : NULL;
        if (named && named->kind != GQL_INPUT_OBJECT) {
            if (check) invalid_leaf(v, val, type);
            check = false;
            named = NULL;
        }
        if (check && named) {
            for (uint32_t i = 0; i < named->ninputs; i++) {
                const gql_input_value_t *fd = &named->inputs[i];
                if (fd->type->kind != GQL_NON_NULL || fd->defval) continue;
                const gql_ast_objfield_t *f = val->fields;
                while (f && !span_eq_cstr(f->name, fd->name)) f = f->next;
                if (f) continue;
                buf_t ts = BUF_INIT;
                type_str(fd->type, &ts);
                report(v, body(v), &val->loc, 1,
                       "Field \"%s.%s\" of required type \"%s\" was not provided.", named->name,
                       fd->name, ts.base);
                buf_free(&ts);
            }
        }
        for (const gql_ast_objfield_t *f = val->fields; f; f = f->next) {
            for (const gql_ast_objfield_t *g = val->fields; g != f; g = g->next) {
                if (span_eq(g->name, f->name)) {
                    gql_off_t locs[2] = {g->loc, f->loc};
                    report(v, body(v), locs, 2, "There can be only one input field named \"%.*s\".",
                           (int)f->name.len, f->name.base);
                    break;
                }
            }
            const gql_input_value_t *fd =
                named ? gql_find_arg(named->inputs, named->ninputs, f->name) : NULL;
            if (named && !fd && check) {
                buf_t b = BUF_INIT;
                buf_appendf(&b, "Field \"%.*s\" is not defined by type \"%s\".", (int)f->name.len,
                            f->name.base, named->name);
                const char **names = malloc((named->ninputs + 1) * sizeof *names);
                if (names) {
                    for (uint32_t i = 0; i < named->ninputs; i++) names[i] = named->inputs[i].name;
                    gql_did_you_mean(f->name, names, named->ninputs, NULL, &b);
                }
                free(names);
                report(v, body(v), &f->loc, 1, "%s", buf_cstr(&b) ? b.base : "");
                buf_free(&b);
            }
            visit_value(v, f->value, fd ? fd->type : NULL, fd && fd->defval, check && fd);
        }
        return;
    }
    default:
        if (check && type) invalid_leaf(v, val, type);
        return;
    }
}

/* ---- arguments and directives ---- */

static void visit_args(vctx_t *v, const gql_ast_arg_t *args, const gql_input_value_t *defs,
                       uint32_t ndefs, bool known, const char *owner_kind, const char *owner)
{
    for (const gql_ast_arg_t *a = args; a && !v->aborted; a = a->next) {
        /* UniqueArgumentNames: one error per repeated name, at every occurrence. */
        bool seen = false;
        for (const gql_ast_arg_t *b = args; b != a; b = b->next)
            if (span_eq(a->name, b->name)) seen = true;
        if (!seen) {
            gql_off_t locs[16];
            uint32_t n = 0;
            for (const gql_ast_arg_t *b = a; b; b = b->next)
                if (span_eq(a->name, b->name) && n < 16) locs[n++] = b->loc;
            if (n > 1)
                report(v, body(v), locs, n, "There can be only one argument named \"%.*s\".",
                       (int)a->name.len, a->name.base);
        }
        const gql_input_value_t *def = known ? gql_find_arg(defs, ndefs, a->name) : NULL;
        if (known && !def) {
            buf_t b = BUF_INIT;
            buf_appendf(&b, "Unknown argument \"%.*s\" on %s \"%s\".", (int)a->name.len,
                        a->name.base, owner_kind, owner);
            const char **names = malloc((ndefs + 1) * sizeof *names);
            if (names) {
                for (uint32_t i = 0; i < ndefs; i++) names[i] = defs[i].name;
                gql_did_you_mean(a->name, names, ndefs, NULL, &b);
            }
            free(names);
            report(v, body(v), &a->loc, 1, "%s", buf_cstr(&b) ? b.base : "");
            buf_free(&b);
        }
        visit_value(v, a->value, def ? def->type : NULL, def && def->defval, def != NULL);
    }
}

static void required_args(vctx_t *v, const gql_ast_arg_t *args, const gql_input_value_t *defs,
                          uint32_t ndefs, gql_off_t loc, bool directive, const char *owner)
{
    for (uint32_t i = 0; i < ndefs; i++) {
        if (defs[i].type->kind != GQL_NON_NULL || defs[i].defval) continue;
        const gql_ast_arg_t *a = args;
        while (a && !span_eq_cstr(a->name, defs[i].name)) a = a->next;
        if (a) continue;
        buf_t ts = BUF_INIT;
        type_str(defs[i].type, &ts);
        if (directive)
            report(v, body(v), &loc, 1,
                   "Directive \"@%s\" argument \"%s\" of type \"%s\" is required, but it was not "
                   "provided.",
                   owner, defs[i].name, ts.base);
        else
            report(v, body(v), &loc, 1,
                   "Field \"%s\" argument \"%s\" of type \"%s\" is required, but it was not "
                   "provided.",
                   owner, defs[i].name, ts.base);
        buf_free(&ts);
    }
}

static void visit_directives(vctx_t *v, gql_errors_t *list, const gql_ast_directive_t *dirs,
                             enum gql_dir_loc where)
{
    for (const gql_ast_directive_t *d = dirs; d && !v->aborted; d = d->next) {
        gql_directive_def_t *dd = gql_schema_directive(v->s, d->name);
        if (!dd) {
            report(v, list, &d->loc, 1, "Unknown directive \"@%.*s\".", (int)d->name.len,
                   d->name.base);
        } else if (!(dd->locations & where)) {
            int bit = 0;
            while (bit < GQL_DL_COUNT && !((1u << bit) & where)) bit++;
            report(v, list, &d->loc, 1, "Directive \"@%s\" may not be used on %s.", dd->name,
                   bit < GQL_DL_COUNT ? gql_dir_loc_names[bit] : "?");
        }
        if (dd && !dd->repeatable) {
            for (const gql_ast_directive_t *e = dirs; e != d; e = e->next) {
                if (span_eq(e->name, d->name)) {
                    gql_off_t locs[2] = {e->loc, d->loc};
                    report(v, list, locs, 2,
                           "The directive \"@%s\" can only be used once at this location.",
                           dd->name);
                    break;
                }
            }
        }
        char owner[300];
        snprintf(owner, sizeof owner, "@%s", dd ? dd->name : "");
        visit_args(v, d->args, dd ? dd->args : NULL, dd ? dd->nargs : 0, dd != NULL, "directive",
                   owner);
        if (dd) required_args(v, d->args, dd->args, dd->nargs, d->loc, true, dd->name);
    }
}

/* ---- OverlappingFieldsCanBeMerged ---- */

typedef struct ofield {
    const gql_type_t *parent;
    const gql_ast_selection_t *node;
    const gql_field_def_t *def;
    int32_t origin; /* index of the named fragment it came through at the top, or -1 */
} ofield_t;

typedef struct ovec {
    ofield_t *v;
    uint32_t n, cap;
} ovec_t;

#define OVERLAP_MAX_DEPTH 64
/* Comparing same-named fields is quadratic, and a fragment is re-compared wherever it is
 * spread; past this many field pairs the document is refused instead. */
#define OVERLAP_BUDGET 2000000

static bool overlap_spend(vctx_t *v)
{
    if (v->overlap_exhausted) return false;
    if (++v->overlap_work <= OVERLAP_BUDGET) return true;
    v->overlap_exhausted = true;
    report(v, &v->last, NULL, 0,
           "The document has too many fields with the same names to "
           "check that they can be merged; use fewer or distinct aliases.");
    return false;
}

static void ocollect(vctx_t *v, const gql_type_t *parent, const gql_ast_selset_t *ss, ovec_t *out,
                     int32_t origin, uint32_t gen, int depth)
{
    if (!ss || depth > OVERLAP_MAX_DEPTH) return;
    for (const gql_ast_selection_t *sel = ss->head; sel; sel = sel->next) {
        if (sel->kind == GQL_SEL_FIELD) {
            if (GROW(out->v, out->n, out->cap)) {
                v->nomem = true;
                return;
            }
            const gql_field_def_t *def = parent && gql_is_composite(parent)
                                             ? gql_schema_field(v->s, parent, sel->name)
                                             : NULL;
            out->v[out->n++] = (ofield_t){parent, sel, def, origin};
        } else if (sel->kind == GQL_SEL_INLINE) {
            const gql_type_t *t = parent;
            if (sel->type_cond.base) t = gql_schema_type(v->s, sel->type_cond);
            ocollect(v, t, sel->selset, out, origin, gen, depth + 1);
        } else {
            def_info_t *f = find_fragment(v, sel->name);
            if (!f || f->stamp == gen) continue;
            f->stamp = gen;
            ocollect(v, f->frag_type, f->def->selset, out,
                     origin >= 0 ? origin : (int32_t)(f - v->defs), gen, depth + 1);
        }
    }
}

static bool same_value(const gql_ast_value_t *a, const gql_ast_value_t *b)
{
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case GQL_AV_BOOLEAN:
        return a->boolean == b->boolean;
    case GQL_AV_NULL:
        return true;
    case GQL_AV_STRING:
    case GQL_AV_VARIABLE:
    case GQL_AV_ENUM:
    case GQL_AV_INT:
    case GQL_AV_FLOAT:
        return span_eq(a->text, b->text);
    case GQL_AV_LIST: {
        if (a->count != b->count) return false;
        const gql_ast_value_t *x = a->items, *y = b->items;
        for (; x && y; x = x->next, y = y->next)
            if (!same_value(x, y)) return false;
        return true;
    }
    case GQL_AV_OBJECT:
        if (a->count != b->count) return false;
        for (const gql_ast_objfield_t *x = a->fields; x; x = x->next) {
            const gql_ast_objfield_t *y = b->fields;
            while (y && !span_eq(x->name, y->name)) y = y->next;
            if (!y || !same_value(x->value, y->value)) return false;
        }
        return true;
    }
    return false;
}

static bool same_arguments(const gql_ast_selection_t *a, const gql_ast_selection_t *b)
{
    if (a->nargs != b->nargs) return false;
    for (const gql_ast_arg_t *x = a->args; x; x = x->next) {
        const gql_ast_arg_t *y = b->args;
        while (y && !span_eq(x->name, y->name)) y = y->next;
        if (!y || !same_value(x->value, y->value)) return false;
    }
    return true;
}

static bool types_conflict(const gql_type_t *a, const gql_type_t *b)
{
    if (a->kind == GQL_LIST)
        return b->kind == GQL_LIST ? types_conflict(a->of_type, b->of_type) : true;
    if (b->kind == GQL_LIST) return true;
    if (a->kind == GQL_NON_NULL)
        return b->kind == GQL_NON_NULL ? types_conflict(a->of_type, b->of_type) : true;
    if (b->kind == GQL_NON_NULL) return true;
    if (gql_is_leaf(a) || gql_is_leaf(b)) return a != b;
    return false;
}

typedef struct conflict {
    buf_t reason;
    gql_off_t *locs1, *locs2;
    uint32_t n1, n2, cap1, cap2;
} conflict_t;

static void conflict_free(conflict_t *c)
{
    buf_free(&c->reason);
    free(c->locs1);
    free(c->locs2);
}

static void push_loc(vctx_t *v, gql_off_t **arr, uint32_t *n, uint32_t *cap, gql_off_t loc)
{
    if (*n >= 64) return;
    if (GROW(*arr, *n, *cap)) {
        v->nomem = true;
        return;
    }
    (*arr)[(*n)++] = loc;
}

static bool find_conflict(vctx_t *v, bool mutex, const ofield_t *a, const ofield_t *b,
                          conflict_t *out, int depth);

/* Conflicts between the subfields of two same-named fields. Returns true when any. */
static bool sub_conflicts(vctx_t *v, bool mutex, const ofield_t *a, const ofield_t *b,
                          conflict_t *out, int depth)
{
    ovec_t m1 = {0}, m2 = {0};
    gql_type_t *t1 = a->def ? gql_named_type(a->def->type) : NULL;
    gql_type_t *t2 = b->def ? gql_named_type(b->def->type) : NULL;
    ocollect(v, t1, a->node->selset, &m1, -1, ++v->stamp_gen, 0);
    ocollect(v, t2, b->node->selset, &m2, -1, ++v->stamp_gen, 0);
    bool any = false;
    for (uint32_t i = 0; i < m1.n && !v->nomem; i++) {
        span_t key = gql_ast_response_name(m1.v[i].node);
        for (uint32_t j = 0; j < m2.n; j++) {
            if (!span_eq(key, gql_ast_response_name(m2.v[j].node))) continue;
            if (!overlap_spend(v)) break;
            conflict_t c = {0};
            /* graphql-js compares a field met directly before one met through a fragment. */
            const ofield_t *x = &m1.v[i], *y = &m2.v[j];
            if (x->origin >= 0 && y->origin < 0) x = &m2.v[j], y = &m1.v[i];
            if (find_conflict(v, mutex, x, y, &c, depth + 1)) {
                buf_appendf(&out->reason, "%ssubfields \"%.*s\" conflict because %.*s",
                            any ? " and " : "", (int)key.len, key.base, (int)c.reason.len,
                            c.reason.base ? c.reason.base : "");
                for (uint32_t k = 0; k < c.n1; k++)
                    push_loc(v, &out->locs1, &out->n1, &out->cap1, c.locs1[k]);
                for (uint32_t k = 0; k < c.n2; k++)
                    push_loc(v, &out->locs2, &out->n2, &out->cap2, c.locs2[k]);
                any = true;
            }
            conflict_free(&c);
        }
    }
    free(m1.v);
    free(m2.v);
    return any;
}

static bool find_conflict(vctx_t *v, bool mutex, const ofield_t *a, const ofield_t *b,
                          conflict_t *out, int depth)
{
    if (a->node == b->node || depth > OVERLAP_MAX_DEPTH) return false;
    bool exclusive = mutex || (a->parent != b->parent && a->parent && b->parent &&
                               a->parent->kind == GQL_OBJECT && b->parent->kind == GQL_OBJECT);
    push_loc(v, &out->locs1, &out->n1, &out->cap1, a->node->loc);
    push_loc(v, &out->locs2, &out->n2, &out->cap2, b->node->loc);
    if (!exclusive) {
        if (!span_eq(a->node->name, b->node->name)) {
            buf_appendf(&out->reason, "\"%.*s\" and \"%.*s\" are different fields",
                        (int)a->node->name.len, a->node->name.base, (int)b->node->name.len,
                        b->node->name.base);
            return true;
        }
        if (!same_arguments(a->node, b->node)) {
            buf_append_cstr(&out->reason, "they have differing arguments");
            return true;
        }
    }
    if (a->def && b->def && types_conflict(a->def->type, b->def->type)) {
        buf_t x = BUF_INIT, y = BUF_INIT;
        type_str(a->def->type, &x);
        type_str(b->def->type, &y);
        buf_appendf(&out->reason, "they return conflicting types \"%s\" and \"%s\"", x.base,
                    y.base);
        buf_free(&x);
        buf_free(&y);
        return true;
    }
    if (a->node->selset && b->node->selset) return sub_conflicts(v, exclusive, a, b, out, depth);
    return false;
}

static int cmp_key(const void *x, const void *y, void *arg)
{
    const ofield_t *f = arg;
    uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
    span_t a = gql_ast_response_name(f[i].node), b = gql_ast_response_name(f[j].node);
    size_t n = a.len < b.len ? a.len : b.len;
    int c = memcmp(a.base, b.base, n);
    if (c) return c;
    if (a.len != b.len) return a.len < b.len ? -1 : 1;
    return i < j ? -1 : (i > j);
}

static void check_overlaps(vctx_t *v, const gql_type_t *parent, const gql_ast_selset_t *ss)
{
    if (v->overlap_exhausted) return;
    ovec_t all = {0};
    ocollect(v, parent, ss, &all, -1, ++v->stamp_gen, 0);
    if (all.n < 2) {
        free(all.v);
        return;
    }
    uint32_t *idx = malloc(all.n * sizeof *idx);
    if (!idx) {
        v->nomem = true;
        free(all.v);
        return;
    }
    for (uint32_t i = 0; i < all.n; i++) idx[i] = i;
    qsort_r(idx, all.n, sizeof *idx, cmp_key, all.v);
    for (uint32_t g = 0; g < all.n && !v->aborted && !v->nomem;) {
        span_t key = gql_ast_response_name(all.v[idx[g]].node);
        uint32_t e = g + 1;
        while (e < all.n && span_eq(key, gql_ast_response_name(all.v[idx[e]].node))) e++;
        for (uint32_t i = g; i < e && !v->aborted; i++) {
            for (uint32_t j = i + 1; j < e && !v->aborted; j++) {
                if (!overlap_spend(v)) break;
                const ofield_t *a = &all.v[idx[i]], *b = &all.v[idx[j]];
                if (a->origin >= 0 && b->origin < 0) a = &all.v[idx[j]], b = &all.v[idx[i]];
                /* Pairs inside one named fragment are checked where it is defined. */
                if (a->origin >= 0 && a->origin == b->origin) continue;
                conflict_t c = {0};
                if (find_conflict(v, false, a, b, &c, 0)) {
                    gql_off_t locs[128];
                    uint32_t n = 0;
                    for (uint32_t k = 0; k < c.n1 && n < 128; k++) locs[n++] = c.locs1[k];
                    for (uint32_t k = 0; k < c.n2 && n < 128; k++) locs[n++] = c.locs2[k];
                    report(v, body(v), locs, n,
                           "Fields \"%.*s\" conflict because %.*s. Use different aliases on the "
                           "fields to fetch both if this was intentional.",
                           (int)key.len, key.base, (int)c.reason.len,
                           c.reason.base ? c.reason.base : "");
                }
                conflict_free(&c);
            }
        }
        g = e;
    }
    free(idx);
    free(all.v);
}

/* ---- MaxIntrospectionDepth (graphql-js 16) ---- */

/* Introspection lists (fields, interfaces, possibleTypes, inputFields) nested three deep make
 * the answer grow exponentially; graphql-js refuses them. Per fragment name it remembers the
 * entry depths already known to pass or fail, so shared fragments are walked a bounded number
 * of times (depths are 0..2). */
static bool is_intro_list_field(span_t name)
{
    return span_eq_cstr(name, "fields") || span_eq_cstr(name, "interfaces") ||
           span_eq_cstr(name, "possibleTypes") || span_eq_cstr(name, "inputFields");
}

static bool intro_too_deep(vctx_t *v, const gql_ast_selset_t *ss, int depth, int nesting)
{
    if (!ss || nesting > 256) return false;
    for (const gql_ast_selection_t *sel = ss->head; sel; sel = sel->next) {
        if (sel->kind == GQL_SEL_FIELD) {
            int d = depth;
            if (is_intro_list_field(sel->name) && ++d >= 3) return true;
            if (intro_too_deep(v, sel->selset, d, nesting + 1)) return true;
        } else if (sel->kind == GQL_SEL_INLINE) {
            if (intro_too_deep(v, sel->selset, depth, nesting + 1)) return true;
        } else {
            def_info_t *f = find_fragment(v, sel->name);
            if (!f) continue;
            if (f->intro_exceeded >= 0 && f->intro_exceeded <= depth) return true;
            if (f->intro_visited >= depth || f->intro_checked >= depth) continue;
            f->intro_visited = (int8_t)depth;
            if (intro_too_deep(v, f->def->selset, depth, nesting + 1)) {
                f->intro_exceeded = (int8_t)depth;
                return true;
            }
            f->intro_checked = (int8_t)depth;
        }
    }
    return false;
}

static void check_introspection_depth(vctx_t *v, const gql_ast_selection_t *field)
{
    for (uint32_t i = 0; i < v->ndefs; i++) v->defs[i].intro_visited = -1;
    if (intro_too_deep(v, field->selset, 0, 0))
        report1(v, body(v), field->loc, "Maximum introspection depth exceeded");
}

/* ---- selections ---- */

static void visit_selset(vctx_t *v, const gql_type_t *parent, const gql_ast_selset_t *ss)
{
    if (v->aborted || !ss) return;
    check_overlaps(v, parent, ss); /* also under an unknown type, like graphql-js */
    for (const gql_ast_selection_t *sel = ss->head; sel && !v->aborted; sel = sel->next) {
        if (sel->kind == GQL_SEL_FIELD) {
            const gql_field_def_t *fd = parent ? gql_schema_field(v->s, parent, sel->name) : NULL;
            gql_type_t *named = fd ? gql_named_type(fd->type) : NULL;
            if (fd) {
                buf_t ts = BUF_INIT;
                type_str(fd->type, &ts);
                if (gql_is_leaf(named) && sel->selset)
                    report(v, body(v), &sel->selset->loc, 1,
                           "Field \"%.*s\" must not have a selection since type \"%s\" has no "
                           "subfields.",
                           (int)sel->name.len, sel->name.base, ts.base);
                else if (!gql_is_leaf(named) && !sel->selset)
                    report(v, body(v), &sel->loc, 1,
                           "Field \"%.*s\" of type \"%s\" must have a selection of subfields. Did "
                           "you mean \"%.*s { ... }\"?",
                           (int)sel->name.len, sel->name.base, ts.base, (int)sel->name.len,
                           sel->name.base);
                buf_free(&ts);
            } else if (parent) {
                buf_t b = BUF_INIT;
                buf_appendf(&b, "Cannot query field \"%.*s\" on type \"%s\".", (int)sel->name.len,
                            sel->name.base, parent->name);
                const char *names[256];
                uint32_t n = 0;
                if (gql_is_abstract(parent)) {
                    /* graphql-js: the possible types and their interfaces that have the
                     * field, most used first, an interface before its implementations. */
                    const gql_type_t *cand[256];
                    uint32_t uses[256];
                    for (uint32_t i = 0; i < parent->npossible; i++) {
                        const gql_type_t *pt = parent->possible[i];
                        if (!gql_schema_field(v->s, pt, sel->name)) continue;
                        const gql_type_t *add[65];
                        uint32_t na = 0;
                        add[na++] = pt;
                        for (uint32_t k = 0; k < pt->ninterfaces && na < 65; k++)
                            if (gql_schema_field(v->s, pt->interfaces[k], sel->name))
                                add[na++] = pt->interfaces[k];
                        for (uint32_t k = 0; k < na; k++) {
                            uint32_t m = 0;
                            while (m < n && cand[m] != add[k]) m++;
                            if (m == n) {
                                if (n == 256) continue;
                                cand[n] = add[k];
                                uses[n++] = 0;
                            }
                            uses[m]++;
                        }
                    }
                    for (uint32_t i = 1; i < n; i++) { /* insertion sort, n is small */
                        for (uint32_t j = i; j > 0; j--) {
                            const gql_type_t *x = cand[j - 1], *y = cand[j];
                            int before = uses[j] > uses[j - 1] ||
                                         (uses[j] == uses[j - 1] &&
                                          ((y->kind == GQL_INTERFACE && gql_is_subtype(x, y)) ||
                                           (!(x->kind == GQL_INTERFACE && gql_is_subtype(y, x)) &&
                                            strcmp(y->name, x->name) < 0)));
                            if (!before) break;
                            cand[j - 1] = y, cand[j] = x;
                            uint32_t t = uses[j - 1];
                            uses[j - 1] = uses[j], uses[j] = t;
                        }
                    }
                    for (uint32_t i = 0; i < n; i++) names[i] = cand[i]->name;
                    if (n) {
                        buf_append_cstr(&b, " Did you mean to use an inline fragment on ");
                        uint32_t shown = n < 5 ? n : 5;
                        for (uint32_t i = 0; i < shown; i++) {
                            if (i)
                                buf_append_cstr(&b, shown == 2       ? " or "
                                                    : i == shown - 1 ? ", or "
                                                                     : ", ");
                            buf_appendf(&b, "\"%s\"", names[i]);
                        }
                        buf_append_byte(&b, '?');
                    }
                }
                if (n == 0 && (parent->kind == GQL_OBJECT || parent->kind == GQL_INTERFACE)) {
                    for (uint32_t i = 0; i < parent->nfields && n < 256; i++)
                        names[n++] = parent->fields[i].name;
                    gql_did_you_mean(sel->name, names, n, NULL, &b);
                }
                report(v, body(v), &sel->loc, 1, "%s", buf_cstr(&b) ? b.base : "");
                buf_free(&b);
            }
            if (span_eq_cstr(sel->name, "__schema") || span_eq_cstr(sel->name, "__type"))
                check_introspection_depth(v, sel);
            char owner[300];
            if (fd) snprintf(owner, sizeof owner, "%s.%s", parent->name, fd->name);
            visit_args(v, sel->args, fd ? fd->args : NULL, fd ? fd->nargs : 0, fd != NULL, "field",
                       owner);
            visit_directives(v, body(v), sel->directives, GQL_DL_FIELD);
            if (sel->selset)
                visit_selset(v, named && gql_is_composite(named) ? named : NULL, sel->selset);
            if (fd) required_args(v, sel->args, fd->args, fd->nargs, sel->loc, false, fd->name);
        } else if (sel->kind == GQL_SEL_SPREAD) {
            visit_directives(v, body(v), sel->directives, GQL_DL_FRAGMENT_SPREAD);
            def_info_t *f = find_fragment(v, sel->name);
            if (!f) {
                report(v, body(v), &sel->name_loc, 1, "Unknown fragment \"%.*s\".",
                       (int)sel->name.len, sel->name.base);
            } else if (parent && f->frag_type && gql_is_composite(f->frag_type) &&
                       !gql_types_overlap(f->frag_type, parent)) {
                report(v, body(v), &sel->loc, 1,
                       "Fragment \"%.*s\" cannot be spread here as objects of type \"%s\" can "
                       "never be of type \"%s\".",
                       (int)sel->name.len, sel->name.base, parent->name, f->frag_type->name);
            }
        } else {
            const gql_type_t *t = parent;
            if (sel->type_cond.base) {
                gql_type_t *c = gql_schema_type(v->s, sel->type_cond);
                t = NULL;
                if (!c) {
                    unknown_type(v, body(v), sel->type_cond, sel->type_cond_loc);
                } else if (!gql_is_composite(c)) {
                    report(v, body(v), &sel->type_cond_loc, 1,
                           "Fragment cannot condition on non composite type \"%s\".", c->name);
                } else {
                    if (parent && !gql_types_overlap(c, parent))
                        report(v, body(v), &sel->loc, 1,
                               "Fragment cannot be spread here as objects of type \"%s\" can "
                               "never be of type \"%s\".",
                               parent->name, c->name);
                    t = c;
                }
            }
            visit_directives(v, body(v), sel->directives, GQL_DL_INLINE_FRAGMENT);
            visit_selset(v, t, sel->selset);
        }
    }
}

/* Fragment spreads under a selection set (through inline fragments and fields), in the order
 * graphql-js lists them: a stack of selection sets, so the spreads directly in a set come
 * first and nested sets are taken last-first. The order decides which cycle is reported. */
static void collect_spreads(vctx_t *v, def_info_t *d, const gql_ast_selset_t *root)
{
    const gql_ast_selset_t **stack = NULL;
    uint32_t n = 0, cap = 0;
    if (!root) return;
    if (GROW(stack, n, cap)) goto oom;
    stack[n++] = root;
    while (n) {
        const gql_ast_selset_t *ss = stack[--n];
        for (const gql_ast_selection_t *sel = ss->head; sel; sel = sel->next) {
            if (sel->kind == GQL_SEL_SPREAD) {
                if (GROW(d->spreads, d->nspreads, d->cap_spreads)) goto oom;
                d->spreads[d->nspreads++] = (spread_ref_t){sel->name, sel->loc};
            } else if (sel->selset) {
                if (GROW(stack, n, cap)) goto oom;
                stack[n++] = sel->selset;
            }
        }
    }
    free(stack);
    return;
oom:
    free(stack);
    v->nomem = true;
}

/* ---- definitions ---- */

static const char *op_name(enum gql_op_type op)
{
    return op == GQL_OP_MUTATION       ? "mutation"
           : op == GQL_OP_SUBSCRIPTION ? "subscription"
                                       : "query";
}

static void detect_cycles(vctx_t *v, def_info_t *start)
{
    /* Iterative depth-first search over fragment spreads, reporting each cycle once with the
     * spreads that form it (graphql-js's NoFragmentCycles). */
    uint32_t *frames = malloc(v->ndefs * 2 * sizeof *frames);
    spread_ref_t *path = malloc((v->ndefs + 1) * sizeof *path);
    if (!frames || !path) {
        v->nomem = true;
        goto out;
    }
    uint32_t nf = 0, np = 0;
    /* Visits and the path are kept per fragment name (on the definition the name resolves
     * to); the spreads walked are those of the definition entered. */
    find_fragment(v, start->def->name)->visited = true;
    find_fragment(v, start->def->name)->path_index = 0;
    frames[0] = (uint32_t)(start - v->defs);
    frames[1] = 0;
    nf = 1;
    while (nf) {
        def_info_t *d = &v->defs[frames[2 * (nf - 1)]];
        uint32_t *i = &frames[2 * (nf - 1) + 1];
        if (*i >= d->nspreads) {
            find_fragment(v, d->def->name)->path_index = -1;
            nf--;
            if (nf) np--;
            continue;
        }
        spread_ref_t sp = d->spreads[(*i)++];
        def_info_t *t = find_fragment(v, sp.name);
        int32_t cyc = t ? t->path_index : -1;
        path[np++] = sp;
        if (cyc < 0) {
            if (t && !t->visited && nf < v->ndefs) {
                t->visited = true;
                t->path_index = (int32_t)np;
                frames[2 * nf] = (uint32_t)(t - v->defs);
                frames[2 * nf + 1] = 0;
                nf++;
                continue;
            }
        } else {
            buf_t b = BUF_INIT;
            buf_appendf(&b, "Cannot spread fragment \"%.*s\" within itself", (int)sp.name.len,
                        sp.name.base);
            for (uint32_t k = (uint32_t)cyc; k + 1 < np; k++)
                buf_appendf(&b, "%s\"%.*s\"", k == (uint32_t)cyc ? " via " : ", ",
                            (int)path[k].name.len, path[k].name.base);
            buf_append_byte(&b, '.');
            gql_off_t locs[64];
            uint32_t n = 0;
            for (uint32_t k = (uint32_t)cyc; k < np && n < 64; k++) locs[n++] = path[k].loc;
            report(v, &v->cur->enter, locs, n, "%s", buf_cstr(&b) ? b.base : "");
            buf_free(&b);
        }
        np--;
    }
out:
    free(frames);
    free(path);
}

static void visit_operation(vctx_t *v, def_info_t *di, uint32_t nops)
{
    const gql_ast_def_t *d = di->def;
    if (d->name.base) {
        for (uint32_t i = 0; i < v->ndefs && &v->defs[i] != di; i++) {
            const gql_ast_def_t *o = v->defs[i].def;
            if (o->kind == GQL_DEF_OPERATION && o->name.base && span_eq(o->name, d->name)) {
                gql_off_t locs[2] = {o->name_loc, d->name_loc};
                report(v, &di->enter, locs, 2, "There can be only one operation named \"%.*s\".",
                       (int)d->name.len, d->name.base);
                break;
            }
        }
    } else if (nops > 1) {
        report1(v, &di->enter, d->loc,
                "This anonymous operation must be the only defined operation.");
    }
    gql_type_t *root = d->op == GQL_OP_QUERY      ? v->s->query
                       : d->op == GQL_OP_MUTATION ? v->s->mutation
                                                  : v->s->subscription;
    if (!root)
        report(v, &di->enter, &d->loc, 1, "Schema is not configured to execute %s operation.",
               op_name(d->op));
    if (d->op == GQL_OP_SUBSCRIPTION && root) {
        ovec_t f = {0};
        ocollect(v, root, d->selset, &f, -1, ++v->stamp_gen, 0);
        if (f.n > 1) {
            gql_off_t locs[64];
            uint32_t n = 0;
            for (uint32_t i = 1; i < f.n && n < 64; i++) locs[n++] = f.v[i].node->loc;
            if (d->name.base)
                report(v, &di->enter, locs, n,
                       "Subscription \"%.*s\" must select only one top level field.",
                       (int)d->name.len, d->name.base);
            else
                report(v, &di->enter, locs, n,
                       "Anonymous Subscription must select only one top level field.");
        }
        free(f.v);
    }
    /* Variable definitions. */
    for (const gql_ast_vardef_t *vd = d->vars; vd && !v->aborted; vd = vd->next) {
        bool first = true;
        for (const gql_ast_vardef_t *o = d->vars; o != vd; o = o->next)
            if (span_eq(o->name, vd->name)) first = false;
        if (first) {
            gql_off_t locs[16];
            uint32_t n = 0;
            for (const gql_ast_vardef_t *o = vd; o; o = o->next)
                if (span_eq(o->name, vd->name) && n < 16) locs[n++] = o->name_loc;
            if (n > 1)
                report(v, body(v), locs, n, "There can be only one variable named \"$%.*s\".",
                       (int)vd->name.len, vd->name.base);
        }
        span_t unknown;
        gql_type_t *t = gql_type_from_ast(v->s, v->arena, vd->type, &unknown);
        if (!t && unknown.base) {
            const gql_ast_type_t *nt = vd->type;
            while (nt->kind != GQL_AT_NAMED) nt = nt->of;
            unknown_type(v, body(v), unknown, nt->loc);
        } else if (!t) {
            v->nomem = true;
        } else if (!gql_is_input_type(t)) {
            buf_t ts = BUF_INIT;
            ast_type_print(vd->type, &ts);
            buf_cstr(&ts);
            report(v, body(v), &vd->type->loc, 1,
                   "Variable \"$%.*s\" cannot be non-input type \"%s\".", (int)vd->name.len,
                   vd->name.base, ts.base ? ts.base : "");
            buf_free(&ts);
            t = NULL;
        }
        if (vd->defval) visit_value(v, vd->defval, t, false, t != NULL);
        visit_directives(v, body(v), vd->directives, GQL_DL_VARIABLE_DEFINITION);
    }
    visit_directives(v, body(v), d->directives,
                     d->op == GQL_OP_QUERY      ? GQL_DL_QUERY
                     : d->op == GQL_OP_MUTATION ? GQL_DL_MUTATION
                                                : GQL_DL_SUBSCRIPTION);
    visit_selset(v, root, d->selset);
}

/* Is a variable of type vt (with a default, or not) allowed where lt is expected? */
static bool allowed_usage(const gql_type_t *vt, const gql_ast_value_t *vdef, const gql_type_t *lt,
                          bool loc_default)
{
    if (lt->kind == GQL_NON_NULL && vt->kind != GQL_NON_NULL) {
        bool var_default = vdef && vdef->kind != GQL_AV_NULL;
        if (!var_default && !loc_default) return false;
        return gql_is_subtype(vt, lt->of_type);
    }
    return gql_is_subtype(vt, lt);
}

static void check_variables(vctx_t *v, def_info_t *di)
{
    const gql_ast_def_t *op = di->def;
    /* This operation plus every fragment it reaches. */
    uint32_t *queue = malloc((v->ndefs + 1) * sizeof *queue);
    bool *used = calloc(op->nvars + 1, sizeof *used);
    if (!queue || !used) {
        v->nomem = true;
        goto out;
    }
    /* queue: the operation, then fragments in the order graphql-js discovers them (taking
     * the most recently found fragment next). */
    uint32_t *todo = malloc((v->ndefs + 1) * sizeof *todo);
    if (!todo) {
        v->nomem = true;
        goto out;
    }
    uint32_t gen = ++v->stamp_gen, qn = 0, tn = 0;
    queue[qn++] = (uint32_t)(di - v->defs);
    todo[tn++] = queue[0];
    di->stamp = gen;
    while (tn) {
        def_info_t *d = &v->defs[todo[--tn]];
        for (uint32_t k = 0; k < d->nspreads; k++) {
            def_info_t *f = find_fragment(v, d->spreads[k].name);
            if (f && f->stamp != gen) {
                f->stamp = gen;
                queue[qn++] = (uint32_t)(f - v->defs);
                todo[tn++] = (uint32_t)(f - v->defs);
            }
        }
    }
    free(todo);
    for (uint32_t qi = 0; qi < qn && !v->aborted; qi++) {
        def_info_t *d = &v->defs[queue[qi]];
        for (uint32_t k = 0; k < d->nusages && !v->aborted; k++) {
            const usage_t *u = &d->usages[k];
            bool defined = false;
            uint32_t vi = 0;
            for (const gql_ast_vardef_t *vd = op->vars; vd; vd = vd->next, vi++)
                if (span_eq(vd->name, u->name)) defined = used[vi] = true;
            if (!defined) {
                gql_off_t locs[2] = {u->loc, op->loc};
                if (op->name.base)
                    report(v, &di->leave, locs, 2,
                           "Variable \"$%.*s\" is not defined by operation \"%.*s\".",
                           (int)u->name.len, u->name.base, (int)op->name.len, op->name.base);
                else
                    report(v, &di->leave, locs, 2, "Variable \"$%.*s\" is not defined.",
                           (int)u->name.len, u->name.base);
            }
        }
    }
    uint32_t vi = 0;
    for (const gql_ast_vardef_t *vd = op->vars; vd && !v->aborted; vd = vd->next, vi++) {
        if (used[vi]) continue;
        if (op->name.base)
            report(v, &di->leave, &vd->loc, 1,
                   "Variable \"$%.*s\" is never used in operation \"%.*s\".", (int)vd->name.len,
                   vd->name.base, (int)op->name.len, op->name.base);
        else
            report(v, &di->leave, &vd->loc, 1, "Variable \"$%.*s\" is never used.",
                   (int)vd->name.len, vd->name.base);
    }
    for (uint32_t qi = 0; qi < qn && !v->aborted; qi++) {
        def_info_t *d = &v->defs[queue[qi]];
        for (uint32_t k = 0; k < d->nusages && !v->aborted; k++) {
            const usage_t *u = &d->usages[k];
            if (!u->type) continue;
            /* With duplicates, the last definition counts (as in graphql-js). */
            const gql_ast_vardef_t *vd = NULL;
            for (const gql_ast_vardef_t *x = op->vars; x; x = x->next)
                if (span_eq(x->name, u->name)) vd = x;
            if (!vd) continue;
            span_t unknown;
            gql_type_t *vt = gql_type_from_ast(v->s, v->arena, vd->type, &unknown);
            if (!vt || !gql_is_input_type(vt)) continue;
            if (allowed_usage(vt, vd->defval, u->type, u->loc_default)) continue;
            buf_t a = BUF_INIT, b = BUF_INIT;
            type_str(vt, &a);
            type_str(u->type, &b);
            gql_off_t locs[2] = {vd->loc, u->loc};
            report(v, &di->leave, locs, 2,
                   "Variable \"$%.*s\" of type \"%s\" used in position expecting type \"%s\".",
                   (int)u->name.len, u->name.base, a.base, b.base);
            buf_free(&a);
            buf_free(&b);
        }
    }
out:
    free(queue);
    free(used);
}

static void splice(gql_errors_t *dst, gql_errors_t *src)
{
    if (!src->head) return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->count += src->count;
    src->head = src->tail = NULL;
    src->count = 0;
}

int gql_validate(const gql_schema_t *s, const gql_ast_doc_t *doc, gql_arena_t *arena,
                 gql_errors_t *errs)
{
    vctx_t v = {0};
    v.s = s;
    v.doc = doc;
    v.arena = arena;
    v.first.arena = v.last.arena = arena;
    v.defs = calloc(doc->ndefs + 1, sizeof *v.defs);
    if (!v.defs) return RS_ENOMEM;
    uint32_t nops = 0;
    for (const gql_ast_def_t *d = doc->defs; d; d = d->next) {
        def_info_t *di = &v.defs[v.ndefs++];
        di->def = d;
        di->path_index = -1;
        di->intro_checked = di->intro_exceeded = -1;
        di->enter.arena = di->body.arena = di->leave.arena = arena;
        if (d->kind == GQL_DEF_OPERATION) nops++;
        if (d->kind == GQL_DEF_FRAGMENT) di->frag_type = gql_schema_type(s, d->type_cond);
    }
    /* ExecutableDefinitions, and the spreads of every definition (for cycles and reach). */
    for (uint32_t i = 0; i < v.ndefs; i++) {
        const gql_ast_def_t *d = v.defs[i].def;
        if (d->kind == GQL_DEF_OPERATION || d->kind == GQL_DEF_FRAGMENT) {
            v.cur = &v.defs[i];
            collect_spreads(&v, &v.defs[i], d->selset);
        } else if (d->kind == GQL_DEF_SCHEMA) {
            report1(&v, &v.first, d->loc, "The schema definition is not executable.");
        } else {
            report(&v, &v.first, &d->loc, 1, "The \"%.*s\" definition is not executable.",
                   (int)d->name.len, d->name.base);
        }
    }
    for (uint32_t i = 0; i < v.ndefs && !v.aborted && !v.nomem; i++) {
        def_info_t *di = &v.defs[i];
        const gql_ast_def_t *d = di->def;
        v.cur = di;
        if (d->kind == GQL_DEF_OPERATION) {
            visit_operation(&v, di, nops);
        } else if (d->kind == GQL_DEF_FRAGMENT) {
            if (!find_fragment(&v, d->name)->visited) detect_cycles(&v, di);
            for (uint32_t j = 0; j < i; j++) {
                const gql_ast_def_t *o = v.defs[j].def;
                if (o->kind == GQL_DEF_FRAGMENT && span_eq(o->name, d->name)) {
                    gql_off_t locs[2] = {o->name_loc, d->name_loc};
                    report(&v, &di->enter, locs, 2,
                           "There can be only one fragment named \"%.*s\".", (int)d->name.len,
                           d->name.base);
                    break;
                }
            }
            gql_type_t *t = NULL;
            if (!di->frag_type) {
                unknown_type(&v, &di->enter, d->type_cond, d->type_cond_loc);
            } else if (!gql_is_composite(di->frag_type)) {
                report(&v, &di->enter, &d->type_cond_loc, 1,
                       "Fragment \"%.*s\" cannot condition on non composite type \"%s\".",
                       (int)d->name.len, d->name.base, di->frag_type->name);
            } else {
                t = di->frag_type;
            }
            visit_directives(&v, body(&v), d->directives, GQL_DL_FRAGMENT_DEFINITION);
            visit_selset(&v, t, d->selset);
        }
    }
    for (uint32_t i = 0; i < v.ndefs && !v.aborted && !v.nomem; i++) {
        v.cur = &v.defs[i];
        if (v.defs[i].def->kind == GQL_DEF_OPERATION) check_variables(&v, &v.defs[i]);
    }
    /* NoUnusedFragments: what no operation reaches. */
    if (!v.aborted && !v.nomem) {
        uint32_t gen = ++v.stamp_gen;
        uint32_t *queue = malloc((v.ndefs + 1) * sizeof *queue);
        uint32_t qn = 0;
        if (!queue) {
            v.nomem = true;
        } else {
            for (uint32_t i = 0; i < v.ndefs; i++)
                if (v.defs[i].def->kind == GQL_DEF_OPERATION) {
                    v.defs[i].stamp = gen;
                    queue[qn++] = i;
                }
            for (uint32_t qi = 0; qi < qn; qi++) {
                def_info_t *d = &v.defs[queue[qi]];
                for (uint32_t k = 0; k < d->nspreads; k++) {
                    def_info_t *f = find_fragment(&v, d->spreads[k].name);
                    if (f && f->stamp != gen) {
                        f->stamp = gen;
                        queue[qn++] = (uint32_t)(f - v.defs);
                    }
                }
            }
            for (uint32_t i = 0; i < v.ndefs; i++) {
                const gql_ast_def_t *d = v.defs[i].def;
                /* By name: duplicates are all unused or all used. */
                if (d->kind != GQL_DEF_FRAGMENT || find_fragment(&v, d->name)->stamp == gen)
                    continue;
                report(&v, &v.last, &d->loc, 1, "Fragment \"%.*s\" is never used.",
                       (int)d->name.len, d->name.base);
            }
            free(queue);
        }
    }
    int rc = 0;
    if (v.nomem) {
        rc = RS_ENOMEM;
    } else {
        gql_errors_t all = {arena, NULL, NULL, 0};
        splice(&all, &v.first);
        for (uint32_t i = 0; i < v.ndefs; i++) {
            splice(&all, &v.defs[i].enter);
            splice(&all, &v.defs[i].body);
            splice(&all, &v.defs[i].leave);
        }
        splice(&all, &v.last);
        rc = (int)all.count;
        splice(errs, &all);
        if (v.aborted) {
            gql_errors_add(errs, NULL, 0,
                           "Too many validation errors, error limit reached. Validation aborted.");
            rc++;
        }
    }
    for (uint32_t i = 0; i < v.ndefs; i++) {
        free(v.defs[i].usages);
        free(v.defs[i].spreads);
    }
    free(v.defs);
    return rc;
}
