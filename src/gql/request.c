/* request.c - the request pipeline: parse, limits, validate, choose the operation, coerce
 * variables (spec 6.1), then hand over to the executor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql/parser.h"
#include "gql/request.h"
#include "gql/validate.h"
#include "gql/value.h"
#include "util/err.h"

#define SPREAD_MAX_NESTING 64 /* fragment spreads within fragment spreads */

void gql_limits_default(gql_limits_t *l)
{
    memset(l, 0, sizeof *l);
    l->max_bytes = 65536;
    l->max_tokens = 10000;
    l->max_depth = 16;
    l->max_aliases = 30;
    l->max_fields = 1000;
    l->max_expensive = 1;
    l->max_resolved = 50000;
    l->max_memory = 16u << 20;
}

static void request_error(gql_request_t *r, gql_off_t loc, bool has_loc, const char *msg)
{
    gql_errors_add_msg(&r->errors, &loc, has_loc ? 1 : 0, msg, strlen(msg));
    r->failed = true;
}

const gql_ast_def_t *gql_request_fragment(gql_request_t *r, span_t name)
{
    for (uint32_t i = 0; i < r->nfrags; i++)
        if (span_eq(r->frags[i].name, name)) return r->frags[i].def;
    return NULL;
}

/* ---- limits over the document, before validation (so they also bound its cost) ---- */

typedef struct cost {
    uint64_t fields, aliases;
    uint32_t depth; /* deepest field nesting */
} cost_t;

typedef struct frag_cost {
    uint8_t state; /* 0 new, 1 being computed (a cycle if met again), 2 done */
    cost_t cost;
} frag_cost_t;

typedef struct cost_ctx {
    gql_request_t *r;
    frag_cost_t *fc;
    bool too_nested;
} cost_ctx_t;

static void cost_add(cost_t *acc, const cost_t *c, uint32_t depth_offset)
{
    acc->fields += c->fields;
    acc->aliases += c->aliases;
    if (acc->fields > UINT32_MAX) acc->fields = UINT32_MAX;
    if (acc->aliases > UINT32_MAX) acc->aliases = UINT32_MAX;
    if (c->depth + depth_offset > acc->depth) acc->depth = c->depth + depth_offset;
}

static void selset_cost(cost_ctx_t *cx, const gql_ast_selset_t *ss, cost_t *out, int nesting);

static void fragment_cost(cost_ctx_t *cx, uint32_t i, int nesting)
{
    frag_cost_t *f = &cx->fc[i];
    if (f->state) return;
    if (nesting > SPREAD_MAX_NESTING) {
        cx->too_nested = true;
        return;
    }
    f->state = 1;
    cost_t c = {0, 0, 0};
    selset_cost(cx, cx->r->frags[i].def->selset, &c, nesting + 1);
    f->cost = c;
    f->state = 2;
}

static void selset_cost(cost_ctx_t *cx, const gql_ast_selset_t *ss, cost_t *out, int nesting)
{
    if (!ss || cx->too_nested) return;
    for (const gql_ast_selection_t *s = ss->head; s; s = s->next) {
        if (s->kind == GQL_SEL_FIELD) {
            cost_t sub = {1, s->alias.base ? 1 : 0, 1};
            if (s->selset) {
                cost_t inner = {0, 0, 0};
                selset_cost(cx, s->selset, &inner, nesting);
                cost_add(&sub, &inner, 1);
            }
            cost_add(out, &sub, 0);
        } else if (s->kind == GQL_SEL_INLINE) {
            selset_cost(cx, s->selset, out, nesting);
        } else {
            for (uint32_t i = 0; i < cx->r->nfrags; i++) {
                if (!span_eq(cx->r->frags[i].name, s->name)) continue;
                fragment_cost(cx, i, nesting);
                if (cx->fc[i].state == 2) cost_add(out, &cx->fc[i].cost, 0);
                break;
            }
        }
    }
}

static int check_limits(gql_request_t *r)
{
    cost_ctx_t cx = {r, calloc(r->nfrags + 1, sizeof(frag_cost_t)), false};
    if (!cx.fc) return RS_ENOMEM;
    cost_t worst = {0, 0, 0};
    for (const gql_ast_def_t *d = r->doc->defs; d; d = d->next) {
        if (d->kind != GQL_DEF_OPERATION && d->kind != GQL_DEF_FRAGMENT) continue;
        cost_t c = {0, 0, 0};
        if (d->kind == GQL_DEF_OPERATION) {
            selset_cost(&cx, d->selset, &c, 0);
        } else {
            for (uint32_t i = 0; i < r->nfrags; i++)
                if (r->frags[i].def == d) {
                    fragment_cost(&cx, i, 0);
                    c = cx.fc[i].cost;
                }
        }
        if (c.fields > worst.fields) worst.fields = c.fields;
        if (c.aliases > worst.aliases) worst.aliases = c.aliases;
        if (c.depth > worst.depth) worst.depth = c.depth;
    }
    free(cx.fc);
    char msg[160];
    const gql_limits_t *l = &r->limits;
    if (cx.too_nested) {
        snprintf(msg, sizeof msg, "Fragment spreads are nested more than %d levels deep.",
                 SPREAD_MAX_NESTING);
        request_error(r, 0, false, msg);
    }
    if (l->max_depth && worst.depth > l->max_depth) {
        snprintf(msg, sizeof msg, "Query depth limit of %u exceeded, found %u.", l->max_depth,
                 worst.depth);
        request_error(r, 0, false, msg);
    }
    if (l->max_aliases && worst.aliases > l->max_aliases) {
        snprintf(msg, sizeof msg, "Alias limit of %u exceeded, found %llu.", l->max_aliases,
                 (unsigned long long)worst.aliases);
        request_error(r, 0, false, msg);
    }
    if (l->max_fields && worst.fields > l->max_fields) {
        snprintf(msg, sizeof msg, "Field limit of %u exceeded, found %llu.", l->max_fields,
                 (unsigned long long)worst.fields);
        request_error(r, 0, false, msg);
    }
    return 0;
}

/* ---- directives, arguments ---- */

bool gql_request_included(gql_request_t *r, const gql_ast_directive_t *dirs)
{
    for (const gql_ast_directive_t *d = dirs; d; d = d->next) {
        bool skip = span_eq_cstr(d->name, "skip");
        if (!skip && !span_eq_cstr(d->name, "include")) continue;
        for (const gql_ast_arg_t *a = d->args; a; a = a->next) {
            if (!span_eq_cstr(a->name, "if")) continue;
            bool val = false;
            if (a->value->kind == GQL_AV_BOOLEAN) {
                val = a->value->boolean;
            } else if (a->value->kind == GQL_AV_VARIABLE && r->vars) {
                char key[256];
                size_t n = a->value->text.len < 255 ? a->value->text.len : 255;
                memcpy(key, a->value->text.base, n);
                key[n] = 0;
                val = json_is_true(json_object_get(r->vars, key));
            }
            if (skip && val) return false;
            if (!skip && !val) return false;
        }
    }
    return true;
}

int gql_request_coerce_args(gql_request_t *r, const gql_input_value_t *defs, uint32_t ndefs,
                            const gql_ast_arg_t *args, json_t **out, buf_t *err)
{
    json_t *obj = json_object();
    if (!obj) return RS_ENOMEM;
    for (uint32_t i = 0; i < ndefs; i++) {
        const gql_input_value_t *d = &defs[i];
        const gql_ast_arg_t *a = args;
        while (a && !span_eq_cstr(a->name, d->name)) a = a->next;
        json_t *v = NULL;
        int rc = GQL_VALUE_ABSENT;
        bool from_var = a && a->value->kind == GQL_AV_VARIABLE;
        if (a) {
            buf_t why = BUF_INIT;
            rc = gql_value_from_ast(d->type, a->value, r->vars, &v, &why);
            buf_free(&why);
            if (rc == RS_ENOMEM) goto oom;
            if (rc < 0) {
                buf_t ts = BUF_INIT;
                gql_type_print(d->type, &ts);
                if (a->value->kind == GQL_AV_NULL || from_var) {
                    buf_appendf(err, "Argument \"%s\" of non-null type \"%.*s\" must not be null.",
                                d->name, (int)ts.len, ts.base);
                } else {
                    buf_appendf(err, "Argument \"%s\" has invalid value ", d->name);
                    gql_ast_value_print(a->value, err);
                    buf_append_byte(err, '.');
                }
                buf_free(&ts);
                json_decref(obj);
                return RS_EPROTO;
            }
        }
        if (rc == GQL_VALUE_ABSENT) {
            if (d->defval) {
                v = json_deep_copy(d->defval);
                if (!v) goto oom;
            } else if (d->type->kind == GQL_NON_NULL) {
                buf_t ts = BUF_INIT;
                gql_type_print(d->type, &ts);
                if (from_var)
                    buf_appendf(err,
                                "Argument \"%s\" of required type \"%.*s\" was provided the "
                                "variable \"$%.*s\" which was not provided a runtime value.",
                                d->name, (int)ts.len, ts.base, (int)a->value->text.len,
                                a->value->text.base);
                else
                    buf_appendf(err, "Argument \"%s\" of required type \"%.*s\" was not provided.",
                                d->name, (int)ts.len, ts.base);
                buf_free(&ts);
                json_decref(obj);
                return RS_EPROTO;
            } else {
                continue;
            }
        }
        if (json_object_set_new_nocheck(obj, d->name, v) < 0) goto oom;
    }
    *out = obj;
    return 0;
oom:
    json_decref(obj);
    return RS_ENOMEM;
}

/* ---- variables (spec 6.1.2 CoerceVariableValues) ---- */

typedef struct var_err_ctx {
    gql_request_t *r;
    const gql_ast_vardef_t *vd;
} var_err_ctx_t;

static void var_error(void *arg, const char *path, const json_t *invalid, const char *msg)
{
    var_err_ctx_t *x = arg;
    buf_t b = BUF_INIT;
    buf_appendf(&b, "Variable \"$%.*s\" got invalid value ", (int)x->vd->name.len,
                x->vd->name.base);
    gql_inspect_json(invalid, &b);
    if (path[0]) buf_appendf(&b, " at \"%.*s%s\"", (int)x->vd->name.len, x->vd->name.base, path);
    buf_appendf(&b, "; %s", msg);
    if (buf_cstr(&b)) request_error(x->r, x->vd->loc, true, b.base);
    buf_free(&b);
}

static int coerce_variables(gql_request_t *r, json_t *input)
{
    r->vars = json_object();
    if (!r->vars) return RS_ENOMEM;
    if (input && !json_is_null(input) && !json_is_object(input)) {
        request_error(r, 0, false,
                      "Variables must be provided as an Object where each property is a "
                      "variable value.");
        return 0;
    }
    for (const gql_ast_vardef_t *vd = r->op->vars; vd; vd = vd->next) {
        span_t unknown;
        gql_type_t *t = gql_type_from_ast(r->schema, &r->arena, vd->type, &unknown);
        if (!t) return RS_ENOMEM; /* validated: only allocation can fail */
        char name[256];
        size_t nl = vd->name.len < 255 ? vd->name.len : 255;
        memcpy(name, vd->name.base, nl);
        name[nl] = 0;
        json_t *v = input ? json_object_get(input, name) : NULL;
        buf_t ts = BUF_INIT;
        if (!v) {
            if (vd->defval) {
                json_t *dv = NULL;
                buf_t why = BUF_INIT;
                int rc = gql_value_from_ast(t, vd->defval, NULL, &dv, &why);
                buf_free(&why);
                if (rc == RS_ENOMEM) return rc;
                if (rc == 0) json_object_set_new_nocheck(r->vars, name, dv);
            } else if (t->kind == GQL_NON_NULL) {
                gql_type_print(t, &ts);
                buf_t m = BUF_INIT;
                buf_appendf(&m, "Variable \"$%s\" of required type \"%.*s\" was not provided.",
                            name, (int)ts.len, ts.base);
                if (buf_cstr(&m)) request_error(r, vd->loc, true, m.base);
                buf_free(&m);
            }
        } else if (json_is_null(v) && t->kind == GQL_NON_NULL) {
            gql_type_print(t, &ts);
            buf_t m = BUF_INIT;
            buf_appendf(&m, "Variable \"$%s\" of non-null type \"%.*s\" must not be null.", name,
                        (int)ts.len, ts.base);
            if (buf_cstr(&m)) request_error(r, vd->loc, true, m.base);
            buf_free(&m);
        } else {
            var_err_ctx_t x = {r, vd};
            json_t *out = NULL;
            int rc = gql_value_coerce(t, v, &out, var_error, &x);
            if (rc == RS_ENOMEM) {
                buf_free(&ts);
                return rc;
            }
            if (rc == 0) json_object_set_new_nocheck(r->vars, name, out);
        }
        buf_free(&ts);
    }
    return 0;
}

/* ---- counting selections (expensive fields) ---- */

typedef struct count_ctx {
    gql_request_t *r;
    const gql_field_def_t *target; /* count this field, or NULL: count every expensive one */
    uint32_t count;
    const gql_field_def_t *worst;
    uint32_t worst_count;
    const gql_field_def_t **seen;
    uint32_t *seen_count;
    uint32_t nseen;
} count_ctx_t;

static void count_selset(count_ctx_t *cx, const gql_type_t *type, const gql_ast_selset_t **sets,
                         uint32_t nsets, int depth);

/* Response keys of a selection set, with the sub-selections of each merged. */
typedef struct key_group {
    span_t key;
    span_t name;
    const gql_ast_selset_t *subs[32];
    uint32_t nsubs;
} key_group_t;

static void gather(count_ctx_t *cx, const gql_type_t *type, const gql_ast_selset_t *ss,
                   key_group_t **groups, uint32_t *n, uint32_t *cap, uint32_t gen, int depth)
{
    if (!ss || depth > SPREAD_MAX_NESTING) return;
    gql_request_t *r = cx->r;
    for (const gql_ast_selection_t *s = ss->head; s; s = s->next) {
        if (!gql_request_included(r, s->directives)) continue;
        if (s->kind == GQL_SEL_FIELD) {
            span_t key = gql_ast_response_name(s);
            key_group_t *g = NULL;
            for (uint32_t i = 0; i < *n && !g; i++)
                if (span_eq((*groups)[i].key, key)) g = &(*groups)[i];
            if (!g) {
                if (*n == *cap) {
                    uint32_t nc = *cap ? *cap * 2 : 16;
                    key_group_t *ng = realloc(*groups, nc * sizeof *ng);
                    if (!ng) return;
                    *groups = ng;
                    *cap = nc;
                }
                g = &(*groups)[(*n)++];
                g->key = key;
                g->name = s->name;
                g->nsubs = 0;
            }
            if (s->selset && g->nsubs < 32) g->subs[g->nsubs++] = s->selset;
        } else {
            const gql_ast_selset_t *inner = s->selset;
            span_t cond = s->type_cond;
            if (s->kind == GQL_SEL_SPREAD) {
                bool found = false;
                for (uint32_t i = 0; i < r->nfrags; i++) {
                    gql_frag_t *f = &r->frags[i];
                    if (!span_eq(f->name, s->name)) continue;
                    found = f->stamp != gen;
                    f->stamp = gen;
                    inner = f->def->selset;
                    cond = f->def->type_cond;
                    break;
                }
                if (!found) continue;
            }
            /* On an object type a condition decides; on abstract ones count it (an upper bound). */
            if (cond.base && type->kind == GQL_OBJECT) {
                gql_type_t *ct = gql_schema_type(r->schema, cond);
                if (ct && !gql_is_possible_type(ct, type)) continue;
            }
            gather(cx, type, inner, groups, n, cap, gen, depth + 1);
        }
    }
}

static void count_selset(count_ctx_t *cx, const gql_type_t *type, const gql_ast_selset_t **sets,
                         uint32_t nsets, int depth)
{
    if (depth > 64) return;
    key_group_t *groups = NULL;
    uint32_t n = 0, cap = 0, gen = ++cx->r->stamp_gen;
    for (uint32_t i = 0; i < nsets; i++) gather(cx, type, sets[i], &groups, &n, &cap, gen, 0);
    for (uint32_t i = 0; i < n; i++) {
        const gql_field_def_t *fd = gql_schema_field(cx->r->schema, type, groups[i].name);
        if (!fd) continue;
        if (cx->target ? fd == cx->target : fd->expensive) {
            if (cx->target) {
                cx->count++;
            } else {
                uint32_t k = 0;
                while (k < cx->nseen && cx->seen[k] != fd) k++;
                if (k == cx->nseen && k < 64) cx->seen[cx->nseen++] = fd, cx->seen_count[k] = 0;
                if (k < 64 && ++cx->seen_count[k] > cx->worst_count) {
                    cx->worst_count = cx->seen_count[k];
                    cx->worst = fd;
                }
            }
        }
        gql_type_t *named = gql_named_type(fd->type);
        if (groups[i].nsubs && gql_is_composite(named))
            count_selset(cx, named, groups[i].subs, groups[i].nsubs, depth + 1);
    }
    free(groups);
}

static const gql_type_t *op_root(const gql_request_t *r)
{
    return r->op_type == GQL_OP_MUTATION       ? r->schema->mutation
           : r->op_type == GQL_OP_SUBSCRIPTION ? r->schema->subscription
                                               : r->schema->query;
}

uint32_t gql_request_count_field(const gql_request_t *rc, const char *coord)
{
    gql_request_t *r = (gql_request_t *)rc;
    if (r->failed || !r->op) return 0;
    const char *dot = strchr(coord, '.');
    if (!dot) return 0;
    gql_type_t *t = gql_schema_type(r->schema, span_make(coord, (size_t)(dot - coord)));
    const gql_field_def_t *fd = t ? gql_schema_field(r->schema, t, span_cstr(dot + 1)) : NULL;
    if (!fd) return 0;
    count_ctx_t cx = {r, fd, 0, NULL, 0, NULL, NULL, 0};
    const gql_ast_selset_t *root = r->op->selset;
    count_selset(&cx, op_root(r), &root, 1, 0);
    return cx.count;
}

static void check_expensive(gql_request_t *r)
{
    if (!r->limits.max_expensive) return;
    const gql_field_def_t *seen[64];
    uint32_t counts[64];
    count_ctx_t cx = {r, NULL, 0, NULL, 0, seen, counts, 0};
    const gql_ast_selset_t *root = r->op->selset;
    count_selset(&cx, op_root(r), &root, 1, 0);
    if (cx.worst && cx.worst_count > r->limits.max_expensive) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "Field \"%s.%s\" may be selected at most %u time%s per request, found %u.",
                 cx.worst->owner ? cx.worst->owner->name : "?", cx.worst->name,
                 r->limits.max_expensive, r->limits.max_expensive == 1 ? "" : "s", cx.worst_count);
        request_error(r, r->op->loc, true, msg);
    }
}

/* ---- the pipeline ---- */

static const gql_ast_def_t *choose_operation(gql_request_t *r, const char *name)
{
    const gql_ast_def_t *found = NULL;
    uint32_t nops = 0;
    for (const gql_ast_def_t *d = r->doc->defs; d; d = d->next) {
        if (d->kind != GQL_DEF_OPERATION) continue;
        nops++;
        if (name ? (d->name.base && span_eq_cstr(d->name, name)) : !found) found = d;
    }
    if (!name && nops > 1) {
        request_error(r, 0, false,
                      "Must provide operation name if query contains multiple operations.");
        return NULL;
    }
    if (!found) {
        if (name) {
            buf_t m = BUF_INIT;
            buf_appendf(&m, "Unknown operation named \"%s\".", name);
            request_error(r, 0, false, buf_cstr(&m) ? m.base : "Unknown operation.");
            buf_free(&m);
        } else {
            request_error(r, 0, false, "Must provide an operation.");
        }
    }
    return found;
}

int gql_prepare(const gql_schema_t *s, const char *query, size_t len, json_t *variables,
                const char *operation_name, const gql_limits_t *limits, gql_request_t **out)
{
    *out = NULL;
    gql_request_t *r = calloc(1, sizeof *r);
    if (!r) return RS_ENOMEM;
    if (limits)
        r->limits = *limits;
    else
        gql_limits_default(&r->limits);
    gql_arena_init(&r->arena, r->limits.max_memory);
    r->schema = s;
    r->errors.arena = &r->arena;
    *out = r;

    if (r->limits.max_bytes && len > r->limits.max_bytes) {
        char msg[120];
        snprintf(msg, sizeof msg, "Document exceeds the maximum size of %zu bytes.",
                 r->limits.max_bytes);
        request_error(r, 0, false, msg);
        return 0;
    }
    r->query = gql_arena_strndup(&r->arena, query ? query : "", query ? len : 0);
    if (!r->query) goto oom;
    r->len = query ? len : 0;
    gql_parse_opts_t po = {r->limits.max_bytes, r->limits.max_tokens, 0};
    gql_parse_error_t perr;
    int rc = gql_parse(&r->arena, r->query, r->len, &po, &r->doc, &perr);
    if (rc == RS_ENOMEM) goto oom;
    if (rc < 0) {
        request_error(r, perr.loc, rc == RS_EPROTO || perr.loc, perr.message);
        return 0;
    }
    for (const gql_ast_def_t *d = r->doc->defs; d; d = d->next)
        if (d->kind == GQL_DEF_FRAGMENT) r->nfrags++;
    if (r->nfrags && !(r->frags = gql_arena_alloc(&r->arena, r->nfrags * sizeof *r->frags)))
        goto oom;
    uint32_t fi = 0;
    for (const gql_ast_def_t *d = r->doc->defs; d; d = d->next)
        if (d->kind == GQL_DEF_FRAGMENT) r->frags[fi++] = (gql_frag_t){d->name, d, 0};

    if (check_limits(r) < 0) goto oom;
    if (r->failed) return 0;
    rc = gql_validate(s, r->doc, &r->arena, &r->errors);
    if (rc < 0) goto oom;
    if (rc > 0) {
        r->failed = true;
        return 0;
    }
    r->op = choose_operation(r, operation_name);
    if (!r->op) return 0;
    r->op_type = r->op->op;
    if (coerce_variables(r, variables) < 0) goto oom;
    if (r->failed) return 0;
    check_expensive(r);
    return 0;
oom:
    gql_request_free(r);
    *out = NULL;
    return RS_ENOMEM;
}

enum gql_op_type gql_request_op(const gql_request_t *r)
{
    return r->failed ? GQL_OP_NONE : r->op_type;
}

bool gql_request_failed(const gql_request_t *r)
{
    return r->failed;
}

void gql_request_free(gql_request_t *r)
{
    if (!r) return;
    for (uint32_t i = 0; i < r->nkeep; i++) json_decref(r->keep[i]);
    free(r->keep);
    free(r->batch);
    json_decref(r->vars);
    gql_errors_release(&r->errors);
    gql_arena_free(&r->arena);
    free(r);
}

static void respond_now(gql_request_t *r, enum gql_outcome outcome, gql_done_fn done, void *arg)
{
    gql_response_t resp = {BUF_INIT, outcome, r->failed ? GQL_OP_NONE : r->op_type, true};
    int rc = buf_append_byte(&resp.body, '{');
    if (!rc) rc = gql_errors_write(&r->errors, r->query, r->len, &resp.body);
    if (!rc) rc = buf_append_byte(&resp.body, '}');
    if (rc) {
        buf_free(&resp.body);
        buf_append_cstr(&resp.body, "{\"errors\":[{\"message\":\"Out of memory.\"}]}");
    }
    gql_request_free(r);
    done(arg, &resp);
    buf_free(&resp.body);
}

void gql_request_start(gql_request_t *r, void *ctx, gql_done_fn done, void *done_arg)
{
    r->ctx = ctx;
    r->done = done;
    r->done_arg = done_arg;
    if (r->failed) {
        respond_now(r, GQL_OUTCOME_REQUEST_ERROR, done, done_arg);
        return;
    }
    if (r->op_type == GQL_OP_SUBSCRIPTION) {
        request_error(r, r->op->loc, true, "Subscriptions are not supported over this transport.");
        respond_now(r, GQL_OUTCOME_REQUEST_ERROR, done, done_arg);
        return;
    }
    gql_exec_start(r);
}

int gql_execute_request(const gql_schema_t *s, const char *query, size_t len, json_t *variables,
                        const char *operation_name, void *ctx, const gql_limits_t *limits,
                        unsigned flags, gql_done_fn done, void *done_arg)
{
    gql_request_t *r;
    int rc = gql_prepare(s, query, len, variables, operation_name, limits, &r);
    if (rc < 0) return rc;
    if ((flags & GQL_QUERIES_ONLY) && !r->failed && r->op_type != GQL_OP_QUERY) {
        enum gql_op_type op = r->op_type;
        gql_errors_add(&r->errors, NULL, 0, "Can only perform a %s operation from a POST request.",
                       op == GQL_OP_MUTATION ? "mutation" : "subscription");
        r->failed = true;
        r->ctx = ctx;
        gql_response_t resp = {BUF_INIT, GQL_OUTCOME_NOT_ALLOWED, op, true};
        int wrc = buf_append_byte(&resp.body, '{');
        if (!wrc) wrc = gql_errors_write(&r->errors, r->query, r->len, &resp.body);
        if (!wrc) wrc = buf_append_byte(&resp.body, '}');
        gql_request_free(r);
        if (wrc) {
            buf_free(&resp.body);
            return RS_ENOMEM;
        }
        done(done_arg, &resp);
        buf_free(&resp.body);
        return 0;
    }
    gql_request_start(r, ctx, done, done_arg);
    return 0;
}

enum gql_op_type gql_operation_type(const char *query, size_t len, const char *operation_name)
{
    gql_limits_t l;
    gql_limits_default(&l);
    if (!query || len > l.max_bytes) return GQL_OP_NONE;
    gql_arena_t a;
    gql_arena_init(&a, l.max_memory);
    gql_parse_opts_t po = {l.max_bytes, l.max_tokens, 0};
    gql_parse_error_t perr;
    gql_ast_doc_t *doc;
    enum gql_op_type op = GQL_OP_NONE;
    if (gql_parse(&a, query, len, &po, &doc, &perr) == 0) {
        const gql_ast_def_t *found = NULL;
        uint32_t nops = 0;
        for (const gql_ast_def_t *d = doc->defs; d; d = d->next) {
            if (d->kind != GQL_DEF_OPERATION) continue;
            nops++;
            if (operation_name ? (d->name.base && span_eq_cstr(d->name, operation_name)) : !found)
                found = d;
        }
        if (found && (operation_name || nops == 1)) op = found->op;
    }
    gql_arena_free(&a);
    return op;
}
