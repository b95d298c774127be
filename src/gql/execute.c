/* execute.c - spec section 6: executing a validated operation, with resolvers that may
 * complete later.
 *
 * The executor keeps no C call stack across resolvers: each field to resolve is a task
 * (struct gql_call) on a stack, and completing a value (lists, objects) pushes the child
 * fields as new tasks. A resolver that does not complete before returning leaves its task
 * pending; the drive loop goes on with the others (so sibling reads can be batched) and
 * returns when nothing is runnable. The completion function then finishes that field, runs
 * the loop again, and the last one writes the response. Results go into a tree of response
 * positions (gql_rnode_t) so that keys keep selection order whatever the completion order,
 * and null propagation marks the nearest nullable ancestor without touching pending work
 * (their results are discarded when they arrive). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gql/parser.h"
#include "gql/request.h"
#include "gql/value.h"
#include "util/err.h"

#define COLLECT_MAX_DEPTH 64

uint64_t gql_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- field collection (spec 6.3.2 CollectFields) ---- */

static int group_add(gql_request_t *r, gql_collected_t *c, const gql_ast_selection_t *f)
{
    span_t key = gql_ast_response_name(f);
    gql_field_group_t *g = NULL;
    for (uint32_t i = 0; i < c->n; i++)
        if (span_eq(c->groups[i]->key, key)) {
            g = c->groups[i];
            break;
        }
    if (!g) {
        if (c->n == c->cap) {
            uint32_t cap = c->cap ? c->cap * 2 : 8;
            gql_field_group_t **ng = gql_arena_alloc(&r->arena, cap * sizeof *ng);
            if (!ng) return RS_ENOMEM;
            if (c->n) memcpy(ng, c->groups, c->n * sizeof *ng);
            c->groups = ng;
            c->cap = cap;
        }
        g = gql_arena_alloc(&r->arena, sizeof *g);
        if (!g) return RS_ENOMEM;
        g->key = key;
        c->groups[c->n++] = g;
    }
    if (g->n == g->cap) {
        uint32_t cap = g->cap ? g->cap * 2 : 2;
        const gql_ast_selection_t **nf = gql_arena_alloc(&r->arena, cap * sizeof *nf);
        if (!nf) return RS_ENOMEM;
        if (g->n) memcpy(nf, g->fields, g->n * sizeof *nf);
        g->fields = nf;
        g->cap = cap;
    }
    g->fields[g->n++] = f;
    return 0;
}

static bool type_applies(gql_request_t *r, const gql_type_t *otype, span_t cond)
{
    if (!cond.base) return true;
    gql_type_t *t = gql_schema_type(r->schema, cond);
    return t && gql_is_possible_type(t, otype);
}

static int collect(gql_request_t *r, const gql_type_t *otype, const gql_ast_selset_t *ss,
                   gql_collected_t *c, uint32_t gen, int depth)
{
    if (!ss || depth > COLLECT_MAX_DEPTH) return 0;
    for (const gql_ast_selection_t *sel = ss->head; sel; sel = sel->next) {
        if (!gql_request_included(r, sel->directives)) continue;
        if (sel->kind == GQL_SEL_FIELD) {
            if (group_add(r, c, sel) < 0) return RS_ENOMEM;
        } else if (sel->kind == GQL_SEL_INLINE) {
            if (!type_applies(r, otype, sel->type_cond)) continue;
            if (collect(r, otype, sel->selset, c, gen, depth + 1) < 0) return RS_ENOMEM;
        } else {
            gql_frag_t *f = NULL;
            for (uint32_t i = 0; i < r->nfrags; i++)
                if (span_eq(r->frags[i].name, sel->name)) {
                    f = &r->frags[i];
                    break;
                }
            if (!f || f->stamp == gen) continue;
            f->stamp = gen;
            if (!type_applies(r, otype, f->def->type_cond)) continue;
            if (collect(r, otype, f->def->selset, c, gen, depth + 1) < 0) return RS_ENOMEM;
        }
    }
    return 0;
}

static gql_collected_t *subfields(gql_request_t *r, const gql_type_t *otype, gql_field_group_t *g)
{
    if (g->sub && g->sub_type == otype) return g->sub;
    gql_collected_t *c = gql_arena_alloc(&r->arena, sizeof *c);
    if (!c) return NULL;
    uint32_t gen = ++r->stamp_gen;
    for (uint32_t i = 0; i < g->n; i++)
        if (collect(r, otype, g->fields[i]->selset, c, gen, 0) < 0) return NULL;
    g->sub = c;
    g->sub_type = otype;
    return c;
}

/* ---- results ---- */

int gql_request_keep(gql_request_t *r, json_t *v)
{
    if (!v) return 0;
    if (r->nkeep == r->cap_keep) {
        uint32_t cap = r->cap_keep ? r->cap_keep * 2 : 64;
        json_t **nk = realloc(r->keep, cap * sizeof *nk);
        if (!nk) {
            json_decref(v);
            return RS_ENOMEM;
        }
        r->keep = nk;
        r->cap_keep = cap;
    }
    r->keep[r->nkeep++] = v;
    return 0;
}

static gql_rnode_t *rnode_new(gql_request_t *r, gql_rnode_t *parent, bool nonnull)
{
    gql_rnode_t *n = gql_arena_alloc(&r->arena, sizeof *n);
    if (!n) return NULL;
    n->parent = parent;
    n->nonnull = nonnull;
    return n;
}

/* Some ancestor was nulled: the result will never show this position. */
static bool dead(const gql_rnode_t *n)
{
    for (n = n->parent; n; n = n->parent)
        if (n->kind == GQL_RN_NULL) return true;
    return false;
}

/* Null at n, propagated to the nearest nullable position (spec 6.4.4). */
static void null_out(gql_rnode_t *n)
{
    n->kind = GQL_RN_NULL;
    while (n->nonnull && n->parent) {
        n = n->parent;
        n->kind = GQL_RN_NULL;
    }
}

static gql_error_t *error_at(gql_request_t *r, gql_rnode_t *node, const gql_field_group_t *g,
                             const char *msg, size_t len)
{
    gql_off_t locs[16];
    uint32_t nl = 0;
    for (uint32_t i = 0; g && i < g->n && nl < 16; i++) locs[nl++] = g->fields[i]->loc;
    gql_error_t *e = gql_errors_add_msg(&r->errors, locs, nl, msg, len);
    if (!e) return NULL;
    uint32_t depth = 0;
    for (gql_rnode_t *n = node; n && n->parent; n = n->parent) depth++;
    e->path = gql_arena_alloc(&r->arena, (depth ? depth : 1) * sizeof *e->path);
    if (!e->path) return e;
    e->npath = depth;
    for (gql_rnode_t *n = node; n && n->parent; n = n->parent) {
        gql_path_seg_t *seg = &e->path[--depth];
        if (n->parent->kind == GQL_RN_LIST) {
            seg->key = NULL;
            seg->index = n->index;
        } else {
            seg->key = n->key.base;
            seg->len = n->key.len;
        }
    }
    return e;
}

static void field_error(gql_request_t *r, gql_rnode_t *node, const gql_field_group_t *g,
                        const char *msg, json_t *ext)
{
    gql_error_t *e = error_at(r, node, g, msg, strlen(msg));
    if (e)
        e->extensions = ext;
    else
        json_decref(ext);
    null_out(node);
}

static void push_task(gql_request_t *r, gql_call_t *c)
{
    c->next = r->stack;
    r->stack = c;
}

/* Children of an object value: one position per response key, one task per field. */
static int complete_object(gql_request_t *r, const gql_type_t *otype, json_t *value,
                           gql_collected_t *col, gql_rnode_t *node, bool defer_tasks)
{
    node->kind = GQL_RN_OBJECT;
    node->nkids = col->n;
    node->kids = col->n ? gql_arena_alloc(&r->arena, col->n * sizeof *node->kids) : NULL;
    if (col->n && !node->kids) return RS_ENOMEM;
    gql_call_t **tasks = col->n ? gql_arena_alloc(&r->arena, col->n * sizeof *tasks) : NULL;
    if (col->n && !tasks) return RS_ENOMEM;
    for (uint32_t i = 0; i < col->n; i++) {
        gql_field_group_t *g = col->groups[i];
        const gql_field_def_t *fd = gql_schema_field(r->schema, otype, g->fields[0]->name);
        gql_rnode_t *kid = rnode_new(r, node, fd && fd->type->kind == GQL_NON_NULL);
        if (!kid) return RS_ENOMEM;
        kid->key = g->key;
        node->kids[i] = kid;
        tasks[i] = NULL;
        if (!fd) {
            kid->kind = GQL_RN_SKIP;
            continue;
        }
        if (fd->meta == GQL_META_TYPENAME) {
            json_t *name = json_string(otype->name);
            if (!name || gql_request_keep(r, name) < 0) return RS_ENOMEM;
            kid->kind = GQL_RN_LEAF;
            kid->leaf = name;
            r->resolved++;
            continue;
        }
        gql_call_t *c = gql_arena_alloc(&r->arena, sizeof *c);
        if (!c) return RS_ENOMEM;
        c->req = r;
        c->parent_type = otype;
        c->parent = value;
        c->fdef = fd;
        c->group = g;
        c->node = kid;
        tasks[i] = c;
    }
    if (defer_tasks) return 0;
    for (uint32_t i = 0; i < col->n; i++) {
        if (!tasks[i]) continue;
        if (r->nbatch == r->cap_batch) {
            uint32_t cap = r->cap_batch ? r->cap_batch * 2 : 64;
            gql_call_t **nb = realloc(r->batch, cap * sizeof *nb);
            if (!nb) return RS_ENOMEM;
            r->batch = nb;
            r->cap_batch = cap;
        }
        r->batch[r->nbatch++] = tasks[i];
    }
    return 0;
}

/* Move the tasks made while completing one value onto the stack so that the first one made
 * runs first: depth-first, in selection and list order, like graphql-js. */
static void flush_batch(gql_request_t *r)
{
    while (r->nbatch) push_task(r, r->batch[--r->nbatch]);
}

static const gql_type_t *runtime_type(gql_request_t *r, gql_call_t *c, const gql_type_t *abstract,
                                      json_t *value, gql_rnode_t *node)
{
    const char *name = NULL;
    if (abstract->resolve_type) {
        name = abstract->resolve_type(value, r->ctx, abstract->resolve_type_udata);
    } else {
        json_t *tn = json_is_object(value) ? json_object_get(value, "__typename") : NULL;
        name = json_string_value(tn);
    }
    buf_t msg = BUF_INIT;
    if (!name) {
        buf_appendf(&msg,
                    "Abstract type \"%s\" must resolve to an Object type at runtime for field "
                    "\"%s.%s\". Either the \"%s\" type should provide a \"resolveType\" "
                    "function or each possible type should provide an \"isTypeOf\" function.",
                    abstract->name, c->parent_type->name, c->fdef->name, abstract->name);
    } else {
        gql_type_t *t = gql_schema_type(r->schema, span_cstr(name));
        if (!t || t->kind != GQL_OBJECT)
            buf_appendf(&msg,
                        "Abstract type \"%s\" was resolved to a type \"%s\" that does not exist "
                        "inside the schema.",
                        abstract->name, name);
        else if (!gql_is_possible_type(abstract, t))
            buf_appendf(&msg, "Runtime Object type \"%s\" is not a possible type for \"%s\".",
                        t->name, abstract->name);
        else
            return t;
    }
    field_error(r, node, c->group, buf_cstr(&msg) ? msg.base : "out of memory", NULL);
    buf_free(&msg);
    return NULL;
}

/* spec 6.4.3 CompleteValue for the value of call c at position node. */
static int complete_value(gql_request_t *r, gql_call_t *c, const gql_type_t *type, json_t *value,
                          gql_rnode_t *node, int depth)
{
    r->resolved++;
    if (type->kind == GQL_NON_NULL) type = type->of_type;
    if (!value || json_is_null(value)) {
        if (node->nonnull) {
            char msg[600];
            snprintf(msg, sizeof msg, "Cannot return null for non-nullable field %s.%s.",
                     c->parent_type->name, c->fdef->name);
            field_error(r, node, c->group, msg, NULL);
        } else {
            node->kind = GQL_RN_NULL;
        }
        return 0;
    }
    if (type->kind == GQL_LIST) {
        if (!json_is_array(value) || depth > GQL_PARSE_HARD_DEPTH) {
            char msg[600];
            snprintf(msg, sizeof msg,
                     "Expected Iterable, but did not find one for field \"%s.%s\".",
                     c->parent_type->name, c->fdef->name);
            field_error(r, node, c->group, msg, NULL);
            return 0;
        }
        size_t n = json_array_size(value);
        const gql_type_t *item = type->of_type;
        node->kind = GQL_RN_LIST;
        node->nkids = (uint32_t)n;
        node->kids = n ? gql_arena_alloc(&r->arena, n * sizeof *node->kids) : NULL;
        if (n && !node->kids) return RS_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            gql_rnode_t *kid = rnode_new(r, node, item->kind == GQL_NON_NULL);
            if (!kid) return RS_ENOMEM;
            kid->index = (uint32_t)i;
            node->kids[i] = kid;
        }
        for (size_t i = 0; i < n && node->kind == GQL_RN_LIST; i++) {
            int rc = complete_value(r, c, item, json_array_get(value, i), node->kids[i], depth + 1);
            if (rc < 0) return rc;
        }
        return 0;
    }
    if (gql_is_leaf(type)) {
        buf_t msg = BUF_INIT;
        json_t *out = NULL;
        int rc = gql_leaf_serialize(type, value, &out, &msg);
        if (rc == RS_ENOMEM) {
            buf_free(&msg);
            return rc;
        }
        if (rc < 0) {
            field_error(r, node, c->group, buf_cstr(&msg) ? msg.base : "", NULL);
        } else {
            if (gql_request_keep(r, out) < 0) {
                buf_free(&msg);
                return RS_ENOMEM;
            }
            node->kind = GQL_RN_LEAF;
            node->leaf = out;
        }
        buf_free(&msg);
        return 0;
    }
    const gql_type_t *otype = type;
    if (gql_is_abstract(type)) {
        otype = runtime_type(r, c, type, value, node);
        if (!otype) return 0;
    }
    gql_collected_t *col = subfields(r, otype, c->group);
    if (!col) return RS_ENOMEM;
    return complete_object(r, otype, value, col, node, false);
}

/* Handle a resolver's outcome (value is stolen). */
static int process(gql_request_t *r, gql_call_t *c, json_t *value, bool failed, char *msg,
                   json_t *ext)
{
    if (gql_request_keep(r, value) < 0) {
        free(msg);
        json_decref(ext);
        return RS_ENOMEM;
    }
    int rc = 0;
    if (dead(c->node)) {
        json_decref(ext);
    } else if (failed) {
        field_error(r, c->node, c->group, msg ? msg : "Unknown error", ext);
    } else {
        rc = complete_value(r, c, c->fdef->type, value, c->node, 0);
        flush_batch(r);
    }
    free(msg);
    return rc;
}

static bool limits_passed(gql_request_t *r, gql_call_t *c)
{
    if (r->limit_hit) return true;
    const char *what = NULL;
    char msg[160];
    if (r->limits.max_resolved && r->resolved > r->limits.max_resolved) {
        snprintf(msg, sizeof msg, "Execution limit of %u resolved fields exceeded.",
                 r->limits.max_resolved);
        what = msg;
    } else if (r->limits.deadline_ms && gql_now_ms() > r->limits.deadline_ms) {
        what = "Execution deadline exceeded.";
    }
    if (!what) return false;
    /* One error names the first field left out; everything not started yet stays null. */
    r->limit_hit = true;
    error_at(r, c->node, c->group, what, strlen(what));
    return true;
}

static int exec_task(gql_request_t *r, gql_call_t *c)
{
    if (dead(c->node)) return 0;
    if (limits_passed(r, c)) {
        null_out(c->node);
        return 0;
    }
    const gql_field_def_t *fd = c->fdef;
    json_t *args = r->empty_args;
    if (fd->nargs || c->group->fields[0]->nargs) {
        buf_t msg = BUF_INIT;
        int rc =
            gql_request_coerce_args(r, fd->args, fd->nargs, c->group->fields[0]->args, &args, &msg);
        if (rc == RS_ENOMEM || (rc == 0 && gql_request_keep(r, args) < 0)) {
            buf_free(&msg);
            return RS_ENOMEM;
        }
        if (rc < 0) {
            field_error(r, c->node, c->group, buf_cstr(&msg) ? msg.base : "", NULL);
            buf_free(&msg);
            return 0;
        }
        buf_free(&msg);
    }
    c->args = args;
    if (fd->meta == GQL_META_SCHEMA) return process(r, c, json_true(), false, NULL, NULL);
    if (fd->meta == GQL_META_TYPE) {
        json_t *name = json_object_get(args, "name");
        gql_type_t *t = name ? gql_schema_type(r->schema, span_make(json_string_value(name),
                                                                    json_string_length(name)))
                             : NULL;
        return process(r, c, t ? json_integer((json_int_t)(intptr_t)t) : json_null(), false, NULL,
                       NULL);
    }
    if (!fd->resolve) {
        json_t *v =
            json_is_object(c->parent) ? json_object_getn(c->parent, fd->name, fd->name_len) : NULL;
        return process(r, c, v ? json_incref(v) : NULL, false, NULL, NULL);
    }
    c->state = GQL_CALL_RUNNING;
    fd->resolve(c);
    if (c->state == GQL_CALL_SYNC_DONE) {
        c->state = GQL_CALL_QUEUED;
        json_t *v = c->value;
        c->value = NULL;
        return process(r, c, v, c->failed, c->errmsg, c->errext);
    }
    c->state = GQL_CALL_PENDING;
    r->pending++;
    return 0;
}

/* ---- response ---- */

static int write_node(const gql_rnode_t *n, buf_t *out)
{
    switch (n->kind) {
    case GQL_RN_LEAF:
        return gql_json_write(n->leaf, out);
    case GQL_RN_OBJECT: {
        int rc = buf_append_byte(out, '{');
        int first = 1;
        for (uint32_t i = 0; i < n->nkids && !rc; i++) {
            const gql_rnode_t *k = n->kids[i];
            if (k->kind == GQL_RN_SKIP) continue;
            if (!first) rc = buf_append_byte(out, ',');
            first = 0;
            if (!rc) rc = gql_json_write_string(k->key.base, k->key.len, out);
            if (!rc) rc = buf_append_byte(out, ':');
            if (!rc) rc = write_node(k, out);
        }
        return rc ? rc : buf_append_byte(out, '}');
    }
    case GQL_RN_LIST: {
        int rc = buf_append_byte(out, '[');
        for (uint32_t i = 0; i < n->nkids && !rc; i++) {
            if (i) rc = buf_append_byte(out, ',');
            if (!rc) rc = write_node(n->kids[i], out);
        }
        return rc ? rc : buf_append_byte(out, ']');
    }
    default:
        return buf_append(out, "null", 4);
    }
}

static void finish(gql_request_t *r, bool nomem)
{
    gql_response_t resp = {BUF_INIT, GQL_OUTCOME_EXECUTED, r->op_type, r->errors.count > 0};
    int rc = nomem ? RS_ENOMEM : buf_append_byte(&resp.body, '{');
    if (!rc && r->errors.count) {
        rc = gql_errors_write(&r->errors, r->query, r->len, &resp.body);
        if (!rc) rc = buf_append_byte(&resp.body, ',');
    }
    if (!rc) rc = buf_append_cstr(&resp.body, "\"data\":");
    if (!rc) rc = write_node(r->root, &resp.body);
    if (!rc) rc = buf_append_byte(&resp.body, '}');
    if (rc) {
        /* Out of memory: still answer, with a body that needs no allocation to describe. */
        buf_free(&resp.body);
        static const char oom[] =
            "{\"errors\":[{\"message\":\"The response is too large to produce.\"}],\"data\":null}";
        buf_append(&resp.body, oom, sizeof oom - 1);
        resp.has_errors = true;
    }
    gql_done_fn done = r->done;
    void *arg = r->done_arg;
    gql_request_free(r);
    done(arg, &resp);
    buf_free(&resp.body);
}

/* Run tasks until none is runnable; finish when nothing is pending. Returns true when the
 * request completed (and is freed). */
static bool drive(gql_request_t *r)
{
    r->running = true;
    int rc = 0;
    for (;;) {
        while (r->stack && rc == 0) {
            gql_call_t *c = r->stack;
            r->stack = c->next;
            rc = exec_task(r, c);
        }
        if (rc < 0) {
            /* Out of memory mid-way: pending resolvers still hold calls into this request, so
             * it can end only once they are all back. */
            r->stack = NULL;
            r->root->kind = GQL_RN_NULL;
            if (r->pending) break;
            finish(r, true);
            return true;
        }
        if (r->pending) break;
        if (r->serial && r->serial_next < r->root->nkids && r->root->kind == GQL_RN_OBJECT) {
            /* Mutations: the next top-level field starts once the previous one is complete. */
            gql_collected_t *col = r->root_fields;
            uint32_t i = r->serial_next++;
            gql_rnode_t *kid = r->root->kids[i];
            if (kid->kind != GQL_RN_PENDING) continue;
            gql_call_t *c = gql_arena_alloc(&r->arena, sizeof *c);
            if (!c) {
                rc = RS_ENOMEM;
                continue;
            }
            c->req = r;
            c->parent_type = r->op_type == GQL_OP_MUTATION ? r->schema->mutation : r->schema->query;
            c->parent = r->root_value;
            c->fdef = gql_schema_field(r->schema, c->parent_type, col->groups[i]->fields[0]->name);
            c->group = col->groups[i];
            c->node = kid;
            push_task(r, c);
            continue;
        }
        finish(r, false);
        return true;
    }
    r->running = false;
    return false;
}

void gql_exec_start(gql_request_t *r)
{
    const gql_type_t *root_type = r->op_type == GQL_OP_MUTATION       ? r->schema->mutation
                                  : r->op_type == GQL_OP_SUBSCRIPTION ? r->schema->subscription
                                                                      : r->schema->query;
    bool nomem = true;
    r->root_value = json_object();
    r->empty_args = json_object();
    if (!r->root_value || !r->empty_args) goto oom;
    if (gql_request_keep(r, r->root_value) < 0 || gql_request_keep(r, r->empty_args) < 0) goto oom;
    r->root = rnode_new(r, NULL, false);
    r->root_fields = gql_arena_alloc(&r->arena, sizeof *r->root_fields);
    if (!r->root || !r->root_fields) goto oom;
    if (collect(r, root_type, r->op->selset, r->root_fields, ++r->stamp_gen, 0) < 0) goto oom;
    r->serial = r->op_type == GQL_OP_MUTATION;
    if (complete_object(r, root_type, r->root_value, r->root_fields, r->root, r->serial) < 0)
        goto oom;
    flush_batch(r);
    nomem = false;
    drive(r);
    return;
oom:
    if (!r->root) r->root = rnode_new(r, NULL, false);
    if (!r->root) {
        gql_done_fn done = r->done;
        void *arg = r->done_arg;
        gql_response_t resp = {BUF_INIT, GQL_OUTCOME_EXECUTED, r->op_type, true};
        gql_request_free(r);
        buf_append_cstr(&resp.body,
                        "{\"errors\":[{\"message\":\"Out of memory.\"}],\"data\":null}");
        done(arg, &resp);
        buf_free(&resp.body);
        return;
    }
    r->root->kind = GQL_RN_NULL;
    finish(r, nomem);
}

/* ---- the resolver-facing API ---- */

void *gql_call_context(const gql_call_t *c)
{
    return c->req->ctx;
}

void *gql_call_udata(const gql_call_t *c)
{
    return c->fdef->udata;
}

json_t *gql_call_parent(const gql_call_t *c)
{
    return c->parent;
}

json_t *gql_call_args(const gql_call_t *c)
{
    return c->args;
}

json_t *gql_call_arg(const gql_call_t *c, const char *name)
{
    return json_object_get(c->args, name);
}

const char *gql_call_field_name(const gql_call_t *c)
{
    return c->fdef->name;
}

const char *gql_call_parent_type(const gql_call_t *c)
{
    return c->parent_type->name;
}

const char *gql_call_return_type_name(const gql_call_t *c)
{
    return gql_named_type(c->fdef->type)->name;
}

const gql_schema_t *gql_call_schema(const gql_call_t *c)
{
    return c->req->schema;
}

int gql_call_path(const gql_call_t *c, buf_t *out)
{
    const gql_rnode_t *chain[256];
    uint32_t n = 0;
    for (const gql_rnode_t *x = c->node; x && x->parent && n < 256; x = x->parent) chain[n++] = x;
    int rc = 0;
    while (n-- > 0 && !rc) {
        const gql_rnode_t *x = chain[n];
        if (x->parent->kind == GQL_RN_LIST)
            rc = buf_appendf(out, ".%u", x->index);
        else
            rc = buf_appendf(out, "%s%.*s", out->len ? "." : "", (int)x->key.len, x->key.base);
    }
    return rc;
}

static bool selects_in(gql_request_t *r, const gql_ast_selset_t *ss, span_t name, uint32_t gen,
                       int depth)
{
    if (!ss || depth > COLLECT_MAX_DEPTH) return false;
    for (const gql_ast_selection_t *sel = ss->head; sel; sel = sel->next) {
        if (!gql_request_included(r, sel->directives)) continue;
        if (sel->kind == GQL_SEL_FIELD) {
            if (span_eq(sel->name, name)) return true;
        } else if (sel->kind == GQL_SEL_INLINE) {
            if (selects_in(r, sel->selset, name, gen, depth + 1)) return true;
        } else {
            for (uint32_t i = 0; i < r->nfrags; i++) {
                gql_frag_t *f = &r->frags[i];
                if (!span_eq(f->name, sel->name) || f->stamp == gen) continue;
                f->stamp = gen;
                if (selects_in(r, f->def->selset, name, gen, depth + 1)) return true;
                break;
            }
        }
    }
    return false;
}

bool gql_call_selects(const gql_call_t *c, const char *name)
{
    gql_request_t *r = c->req;
    uint32_t gen = ++r->stamp_gen;
    for (uint32_t i = 0; i < c->group->n; i++)
        if (selects_in(r, c->group->fields[i]->selset, span_cstr(name), gen, 0)) return true;
    return false;
}

static void complete_call(gql_call_t *c, json_t *value, bool failed, char *msg, json_t *ext)
{
    gql_request_t *r = c->req;
    if (c->state == GQL_CALL_RUNNING) {
        /* Completed inside the resolver: exec_task picks it up when the resolver returns. */
        c->value = value;
        c->failed = failed;
        c->errmsg = msg;
        c->errext = ext;
        c->state = GQL_CALL_SYNC_DONE;
        return;
    }
    if (c->state != GQL_CALL_PENDING) {
        /* Completed twice: a resolver bug. Ignore the second completion. */
        json_decref(value);
        json_decref(ext);
        free(msg);
        return;
    }
    c->state = GQL_CALL_QUEUED;
    r->pending--;
    int rc = process(r, c, value, failed, msg, ext);
    if (rc < 0) {
        r->root->kind = GQL_RN_NULL;
        r->stack = NULL;
    }
    if (!r->running) drive(r);
}

void gql_call_return(gql_call_t *c, json_t *value)
{
    complete_call(c, value, false, NULL, NULL);
}

void gql_call_fail(gql_call_t *c, const char *message, json_t *extensions)
{
    complete_call(c, NULL, true, strdup(message ? message : "Unknown error"), extensions);
}

void gql_call_failf(gql_call_t *c, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    complete_call(c, NULL, true, msg ? msg : strdup("Unknown error"), NULL);
}
