/* resolvers.c - the GraphQL schema of docs/schema.graphql and its resolvers.
 *
 * Reads are synchronous on the worker's store reader. Writes are asynchronous: a mutation
 * that announces something on a live channel submits its write with the sequencer loop as the
 * origin, so its completion - which emits the events and then builds the answer - runs there
 * in commit order; the answer then hops back to the request's own loop (gql calls complete on
 * the thread that started them). Accounts (register, login) pass through the hashing pool.
 *
 * Values: User, Chatroom and Message are JSON objects holding the fields the default
 * resolver reads, plus private "_id"-style members that field resolvers use (never selected:
 * the schema has no such fields). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/platform_internal.h"
#include "app/schema_sdl.h"
#include "gql/request.h" /* platform_login_username peeks at the prepared request */
#include "util/base64.h"
#include "util/err.h"
#include "util/log.h"
#include "util/utf8.h"

/* ---- small helpers -------------------------------------------------------------------- */

static pctx_t *ctx_of(gql_call_t *call)
{
    return gql_call_context(call);
}

/* Fail with extensions {code, field?}: field names the input the error is about (the web
 * client shows it beside that form field). */
static void fail(gql_call_t *call, const char *code, const char *field, const char *msg)
{
    json_t *ext = json_pack("{s:s}", "code", code);
    if (ext && field) json_object_set_new(ext, "field", json_string(field));
    gql_call_fail(call, msg, ext);
}

/* What a client is told about a storage failure: an error code and a message. */
static void store_error(int rc, const char **code, const char **msg)
{
    switch (rc) {
    case RS_EBUSY:
        *code = "UNAVAILABLE", *msg = "The server is busy: try again in a moment.";
        break;
    case RS_EUNAVAIL:
        *code = "UNAVAILABLE", *msg = "Storage is unavailable: try again shortly.";
        break;
    case RS_ENOSPC:
        *code = "STORAGE_FULL", *msg = "Storage is full: the change was not saved. Reading still works.";
        break;
    case RS_ENOMEM:
        *code = "INTERNAL", *msg = "Out of memory.";
        break;
    default:
        *code = "INTERNAL", *msg = "Internal error.";
        break;
    }
}

static void fail_store(gql_call_t *call, int rc)
{
    const char *code, *msg;
    store_error(rc, &code, &msg);
    fail(call, code, NULL, msg);
}

static void fail_unauthenticated(gql_call_t *call)
{
    fail(call, "UNAUTHENTICATED", NULL, "unauthenticated");
}

static void fail_room(gql_call_t *call)
{
    /* One answer for "no such chatroom" and "not a member": existence must not leak. */
    fail(call, "NOT_FOUND", "chatroomId", "Chatroom not found (or you are not a member).");
}

static pctx_t *need_viewer(gql_call_t *call)
{
    pctx_t *c = ctx_of(call);
    if (!c || !c->viewer_id) {
        fail_unauthenticated(call);
        return NULL;
    }
    return c;
}

static store_reader_t *need_reader(gql_call_t *call)
{
    store_reader_t *rd = platform_reader(ctx_of(call)->p);
    if (!rd) fail_store(call, RS_EUNAVAIL);
    return rd;
}

static int64_t json_int_member(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* An ID argument: its canonical decimal string (or an integer). */
static bool parse_id(const json_t *v, int64_t *out)
{
    if (json_is_string(v))
        return store_id_parse(json_string_value(v), json_string_length(v), out) == 0;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    return false;
}

static bool id_arg(gql_call_t *call, const char *name, int64_t *out)
{
    if (parse_id(gql_call_arg(call, name), out)) return true;
    char msg[96];
    snprintf(msg, sizeof msg, "Invalid id for \"%s\".", name);
    fail(call, "BAD_USER_INPUT", name, msg);
    return false;
}

/* A page size argument (first / last): default when absent or null, 1..STORE_PAGE_MAX. */
static bool page_arg(gql_call_t *call, const char *name, int def, int *out)
{
    json_t *v = gql_call_arg(call, name);
    if (!v || json_is_null(v)) {
        *out = def;
        return true;
    }
    json_int_t n = json_integer_value(v);
    if (!json_is_integer(v) || n < 1 || n > STORE_PAGE_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "\"%s\" must be between 1 and %d.", name, STORE_PAGE_MAX);
        fail(call, "BAD_USER_INPUT", name, msg);
        return false;
    }
    *out = (int)n;
    return true;
}

/* ---- cursors: base64 of "<kind>:<payload>", opaque to clients ------------------------- */

static json_t *cursor_json(char kind, const char *payload)
{
    char raw[128];
    int n = snprintf(raw, sizeof raw, "%c:%s", kind, payload);
    if (n < 0 || (size_t)n >= sizeof raw) return json_null();
    char enc[180];
    base64_encode(raw, (size_t)n, enc);
    enc[base64_encoded_len((size_t)n)] = '\0';
    return json_string(enc);
}

static json_t *cursor_int(char kind, int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", (long long)v);
    return cursor_json(kind, s);
}

/* Decode the cursor argument `name` of the given kind into out (NUL-terminated payload).
 * Absent or null: *present = false. Returns false after failing the call. */
static bool cursor_arg(gql_call_t *call, const char *name, char kind, char *out, size_t outlen,
                       bool *present)
{
    json_t *v = gql_call_arg(call, name);
    *present = false;
    if (!v || json_is_null(v)) return true;
    bool ok = false;
    buf_t b = BUF_INIT;
    if (json_is_string(v) && json_string_length(v) <= 160 &&
        base64_decode_append(&b, json_string_value(v), json_string_length(v)) == 0 && b.len >= 2 &&
        b.base[0] == kind && b.base[1] == ':' && b.len - 2 < outlen &&
        !memchr(b.base + 2, 0, b.len - 2)) {
        memcpy(out, b.base + 2, b.len - 2);
        out[b.len - 2] = '\0';
        ok = true;
    }
    buf_free(&b);
    if (!ok) {
        char msg[96];
        snprintf(msg, sizeof msg, "Malformed cursor in \"%s\".", name);
        fail(call, "BAD_USER_INPUT", name, msg);
        return false;
    }
    *present = true;
    return true;
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (!*s) return false;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

static bool cursor_int_arg(gql_call_t *call, const char *name, char kind, int64_t *out)
{
    char payload[32];
    bool present;
    *out = 0;
    if (!cursor_arg(call, name, kind, payload, sizeof payload, &present)) return false;
    if (present && (!parse_i64(payload, out) || *out <= 0)) {
        fail(call, "BAD_USER_INPUT", name, "Malformed cursor.");
        return false;
    }
    return true;
}

static json_t *user_connection(struct store_user_page *pg, json_t *end_cursor)
{
    json_t *nodes = json_array();
    for (size_t i = 0; i < pg->n; i++)
        json_array_append_new(nodes, platform_user_json(&pg->items[i]));
    return json_pack("{s:o,s:{s:b,s:o}}", "nodes", nodes, "pageInfo", "hasNextPage", pg->has_more,
                     "endCursor", end_cursor ? end_cursor : json_null());
}

/* ---- text rules ------------------------------------------------------------------------ */

/* Decode one UTF-8 character at s (valid UTF-8 assumed); returns its length. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80 || n < 2) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if ((s[0] & 0xF0) == 0xE0 && n >= 3) {
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (n >= 4) {
        *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
              ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return 4;
    }
    *cp = s[0];
    return 1;
}

/* JavaScript's String.prototype.trim whitespace (WhiteSpace and LineTerminator). */
static bool is_space(uint32_t c)
{
    return c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D || c == 0x20 ||
           c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

/* Trim s (as a span) and count the characters that remain. */
static span_t trim_text(span_t s, size_t *chars)
{
    const unsigned char *b = (const unsigned char *)s.base;
    size_t start = 0, end = s.len;
    while (start < end) {
        uint32_t cp;
        size_t k = utf8_next(b + start, end - start, &cp);
        if (!is_space(cp)) break;
        start += k;
    }
    /* Forward scan (UTF-8 does not read well backwards): remember where the last non-space
     * character ends and how many characters lie before that point. */
    size_t last_end = start, count = 0, n = 0;
    for (size_t i = start; i < end;) {
        uint32_t cp;
        i += utf8_next(b + i, end - i, &cp);
        n++;
        if (!is_space(cp)) {
            last_end = i;
            count = n;
        }
    }
    *chars = count;
    return span_make(s.base + start, last_end - start);
}

/* ---- sequenced writes: complete on the sequencer, answer on the request's loop ------- */

typedef struct seq_op {
    platform_t *p;
    loop_t *home;
    gql_call_t *call;
    int64_t viewer, target;
    json_t *value; /* the answer, or NULL with err set */
    const char *err_code, *err_field;
    char err[160];
} seq_op_t;

static seq_op_t *seq_op_new(gql_call_t *call, int64_t target)
{
    seq_op_t *op = calloc(1, sizeof *op);
    if (!op) {
        fail(call, "INTERNAL", NULL, "Out of memory.");
        return NULL;
    }
    pctx_t *c = ctx_of(call);
    op->p = c->p;
    op->home = c->loop;
    op->call = call;
    op->viewer = c->viewer_id;
    op->target = target;
    return op;
}

static void seq_answer(void *arg)
{
    seq_op_t *op = arg;
    if (op->value) {
        gql_call_return(op->call, op->value);
    } else {
        json_t *ext = json_pack("{s:s}", "code", op->err_code ? op->err_code : "INTERNAL");
        if (ext && op->err_field) json_object_set_new(ext, "field", json_string(op->err_field));
        gql_call_fail(op->call, op->err[0] ? op->err : "Internal error.", ext);
    }
    free(op);
}

/* From the sequencer back to the request's loop. */
static void seq_finish(seq_op_t *op)
{
    if (op->home == loop_current()) {
        seq_answer(op);
        return;
    }
    if (loop_post(op->home, seq_answer, op) != 0) {
        LOG_ERROR("platform", "cannot hand a result back to its worker");
        json_decref(op->value);
        free(op);
    }
}

static void seq_fail(seq_op_t *op, const char *code, const char *field, const char *msg)
{
    json_decref(op->value);
    op->value = NULL;
    op->err_code = code;
    op->err_field = field;
    snprintf(op->err, sizeof op->err, "%s", msg);
    seq_finish(op);
}

static void seq_fail_store(seq_op_t *op, int rc)
{
    const char *code, *msg;
    store_error(rc, &code, &msg);
    seq_fail(op, code, NULL, msg);
}

/* ---- Query -------------------------------------------------------------------------------- */

static void q_me(gql_call_t *call)
{
    pctx_t *c = ctx_of(call);
    if (!c->viewer_id) {
        gql_call_return(call, NULL);
        return;
    }
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_user u;
    int rc = store_user_get(rd, c->viewer_id, &u);
    if (rc == RS_ENOTFOUND)
        gql_call_return(call, NULL);
    else if (rc)
        fail_store(call, rc);
    else
        gql_call_return(call, platform_user_json(&u));
}

static void q_user(gql_call_t *call)
{
    json_t *id = gql_call_arg(call, "id"), *name = gql_call_arg(call, "username");
    bool has_id = id && !json_is_null(id), has_name = name && !json_is_null(name);
    if (has_id == has_name) {
        fail(call, "BAD_USER_INPUT", NULL, "Give exactly one of \"id\" and \"username\".");
        return;
    }
    int64_t uid = 0;
    if (has_id && !id_arg(call, "id", &uid)) return;
    if (has_name &&
        (json_string_length(name) < 1 || json_string_length(name) > STORE_USERNAME_MAX)) {
        fail(call, "NOT_FOUND", "username", "No such user.");
        return;
    }
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_user u;
    int rc = has_id ? store_user_get(rd, uid, &u)
                    : store_user_get_by_username(rd, json_string_value(name),
                                                 json_string_length(name), &u);
    if (rc == RS_ENOTFOUND)
        fail(call, "NOT_FOUND", has_id ? "id" : "username", "No such user.");
    else if (rc)
        fail_store(call, rc);
    else
        gql_call_return(call, platform_user_json(&u));
}

static void q_users(gql_call_t *call)
{
    int first;
    if (!page_arg(call, "first", 20, &first)) return;
    char after[STORE_USERNAME_MAX + 1];
    bool has_after;
    if (!cursor_arg(call, "after", 'u', after, sizeof after, &has_after)) return;
    json_t *search = gql_call_arg(call, "search");
    const char *s = json_is_string(search) ? json_string_value(search) : "";
    size_t slen = json_is_string(search) ? json_string_length(search) : 0;
    if (slen > PLATFORM_SEARCH_MAX) {
        fail(call, "BAD_USER_INPUT", "search", "The search is too long (at most 64 bytes).");
        return;
    }
    if (memchr(s, 0, slen)) {
        fail(call, "BAD_USER_INPUT", "search", "The search contains a NUL character.");
        return;
    }
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_user_page pg = {0};
    int rc = store_user_search(rd, s, slen, has_after ? after : NULL, first, &pg);
    if (rc) {
        fail_store(call, rc);
        return;
    }
    json_t *end = pg.n ? cursor_json('u', pg.items[pg.n - 1].username_norm) : NULL;
    gql_call_return(call, user_connection(&pg, end));
    store_user_page_free(&pg);
}

static void q_chatrooms(gql_call_t *call)
{
    pctx_t *c = need_viewer(call);
    if (!c) return;
    int first;
    if (!page_arg(call, "first", 20, &first)) return;
    char after[64];
    bool has_after;
    if (!cursor_arg(call, "after", 'c', after, sizeof after, &has_after)) return;
    int64_t act = 0, aid = 0;
    if (has_after) {
        char *colon = strchr(after, ':');
        if (!colon || (*colon = '\0', !parse_i64(after, &act)) || !parse_i64(colon + 1, &aid) ||
            aid <= 0) {
            fail(call, "BAD_USER_INPUT", "after", "Malformed cursor.");
            return;
        }
    }
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_chatroom_page pg = {0};
    int rc = store_chatroom_list(rd, c->viewer_id, act, aid, first, &pg);
    if (rc) {
        fail_store(call, rc);
        return;
    }
    json_t *nodes = json_array();
    for (size_t i = 0; i < pg.n; i++)
        json_array_append_new(nodes, platform_chatroom_json(&pg.items[i]));
    json_t *end = json_null();
    if (pg.n) {
        char cur[64];
        snprintf(cur, sizeof cur, "%lld:%lld", (long long)pg.items[pg.n - 1].last_activity_ms,
                 (long long)pg.items[pg.n - 1].id);
        json_decref(end);
        end = cursor_json('c', cur);
    }
    gql_call_return(call, json_pack("{s:o,s:{s:b,s:o}}", "nodes", nodes, "pageInfo", "hasNextPage",
                                    pg.has_more, "endCursor", end));
    store_chatroom_page_free(&pg);
}

static void q_chatroom(gql_call_t *call)
{
    pctx_t *c = need_viewer(call);
    if (!c) return;
    int64_t id;
    if (!id_arg(call, "id", &id)) return;
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_chatroom room;
    int rc = store_chatroom_get(rd, id, c->viewer_id, &room);
    if (rc == RS_ENOTFOUND || rc == RS_EPERM)
        fail(call, "NOT_FOUND", "id", "Chatroom not found (or you are not a member).");
    else if (rc)
        fail_store(call, rc);
    else
        gql_call_return(call, platform_chatroom_json(&room));
}

/* ---- User -------------------------------------------------------------------------------- */

static void follow_list(gql_call_t *call, bool followers)
{
    int64_t uid = json_int_member(gql_call_parent(call), "_id");
    int first;
    if (!page_arg(call, "first", 20, &first)) return;
    int64_t after;
    if (!cursor_int_arg(call, "after", 'f', &after)) return;
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_user_page pg = {0};
    int rc = followers ? store_follow_followers(rd, uid, after, first, &pg)
                       : store_follow_following(rd, uid, after, first, &pg);
    if (rc) {
        fail_store(call, rc);
        return;
    }
    gql_call_return(call, user_connection(&pg, pg.n ? cursor_int('f', pg.end_cursor) : NULL));
    store_user_page_free(&pg);
}

static void u_followers(gql_call_t *call)
{
    follow_list(call, true);
}

static void u_following(gql_call_t *call)
{
    follow_list(call, false);
}

static void u_is_followed(gql_call_t *call)
{
    pctx_t *c = ctx_of(call);
    int64_t uid = json_int_member(gql_call_parent(call), "_id");
    if (!c->viewer_id || c->viewer_id == uid) {
        gql_call_return(call, json_false());
        return;
    }
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    bool f = false;
    int rc = store_follow_is_following(rd, c->viewer_id, uid, &f);
    if (rc)
        fail_store(call, rc);
    else
        gql_call_return(call, json_boolean(f));
}

static void u_online(gql_call_t *call)
{
    int64_t uid = json_int_member(gql_call_parent(call), "_id");
    bool on = false;
    int rc = platform_user_online(ctx_of(call)->p, uid, &on);
    if (rc)
        fail_store(call, rc);
    else
        gql_call_return(call, json_boolean(on));
}

/* ---- Chatroom ------------------------------------------------------------------------------ */

static void c_members(gql_call_t *call)
{
    int64_t id = json_int_member(gql_call_parent(call), "_id");
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_user_page pg = {0};
    int rc = store_chatroom_members(rd, id, &pg);
    if (rc) {
        fail_store(call, rc);
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < pg.n; i++) json_array_append_new(a, platform_user_json(&pg.items[i]));
    store_user_page_free(&pg);
    gql_call_return(call, a);
}

static void c_last_message(gql_call_t *call)
{
    json_t *parent = gql_call_parent(call);
    if (!json_int_member(parent, "_last")) {
        gql_call_return(call, NULL);
        return;
    }
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_message m = {0};
    int rc = store_message_last(rd, json_int_member(parent, "_id"), &m);
    if (rc == RS_ENOTFOUND)
        gql_call_return(call, NULL);
    else if (rc)
        fail_store(call, rc);
    else
        gql_call_return(call, platform_message_json(&m));
    store_message_clear(&m);
}

static void c_messages(gql_call_t *call)
{
    pctx_t *c = need_viewer(call);
    if (!c) return;
    int64_t id = json_int_member(gql_call_parent(call), "_id");
    int last;
    if (!page_arg(call, "last", 50, &last)) return;
    int64_t before;
    if (!cursor_int_arg(call, "before", 'm', &before)) return;
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_message_page pg = {0};
    int rc = store_message_history(rd, id, c->viewer_id, before, last, &pg);
    if (rc == RS_ENOTFOUND || rc == RS_EPERM) {
        fail_room(call);
        return;
    }
    if (rc) {
        fail_store(call, rc);
        return;
    }
    json_t *nodes = json_array();
    for (size_t i = 0; i < pg.n; i++)
        json_array_append_new(nodes, platform_message_json(&pg.items[i]));
    json_t *start = pg.n ? cursor_int('m', pg.items[0].id) : json_null();
    gql_call_return(call, json_pack("{s:o,s:{s:b,s:o}}", "nodes", nodes, "pageInfo",
                                    "hasPreviousPage", pg.has_more, "startCursor", start));
    store_message_page_free(&pg);
}

/* ---- Message ------------------------------------------------------------------------------- */

static void m_sender(gql_call_t *call)
{
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_user u;
    int rc = store_user_get(rd, json_int_member(gql_call_parent(call), "_sender"), &u);
    if (rc)
        fail_store(call, rc);
    else
        gql_call_return(call, platform_user_json(&u));
}

static void m_chatroom(gql_call_t *call)
{
    pctx_t *c = need_viewer(call);
    if (!c) return;
    store_reader_t *rd = need_reader(call);
    if (!rd) return;
    struct store_chatroom room;
    int rc = store_chatroom_get(rd, json_int_member(gql_call_parent(call), "_room"), c->viewer_id,
                                &room);
    if (rc == RS_ENOTFOUND || rc == RS_EPERM)
        fail_room(call);
    else if (rc)
        fail_store(call, rc);
    else
        gql_call_return(call, platform_chatroom_json(&room));
}

/* ---- accounts: register, login, logout ------------------------------------------------- */

typedef struct acct_op {
    hasher_job_t job;
    gql_call_t *call;
    pctx_t *c;
    bool is_login;
    int64_t user_id;
    char username[STORE_USERNAME_MAX + 1];
    char norm[STORE_USERNAME_MAX + 1];
    char display[STORE_DISPLAY_NAME_MAX + 1];
    size_t display_len;
    char secret[ACCOUNT_SECRET_LEN + 1];
} acct_op_t;

static void acct_op_free(acct_op_t *op)
{
    memset(op->secret, 0, sizeof op->secret);
    memset(op->job.pw, 0, sizeof op->job.pw);
    free(op);
}

/* The AuthPayload for a new session; also the cookies finish() sets. */
static void acct_succeed(acct_op_t *op, int64_t session_id, const struct store_user *u)
{
    pctx_t *c = op->c;
    store_id_format(session_id, c->cookie_id);
    memcpy(c->cookie_secret, op->secret, sizeof c->cookie_secret);
    c->set_cookies = true;
    c->clear_cookies = false;
    json_t *v = json_pack("{s:s,s:s,s:o}", "id", c->cookie_id, "secretkey", op->secret, "user",
                          platform_user_json(u));
    gql_call_return(op->call, v);
    acct_op_free(op);
}

static void acct_fail(acct_op_t *op, const char *code, const char *field, const char *msg)
{
    fail(op->call, code, field, msg);
    acct_op_free(op);
}

static void login_failed(acct_op_t *op)
{
    platform_t *p = op->c->p;
    uint64_t now = ratelimit_now_ms();
    ratelimit_fail(p->rl_account, span_cstr(op->norm), now);
    ratelimit_fail(p->rl_ip, span_cstr(op->c->ip), now);
    PSTAT_INC(p, login_failures);
    acct_fail(op, "BAD_CREDENTIALS", "password", "Incorrect username or password.");
}

static void registered(void *arg, const struct store_result *res)
{
    acct_op_t *op = arg;
    platform_t *p = op->c->p;
    if (res->err == RS_EEXIST) {
        PSTAT_INC(p, register_failures);
        ratelimit_fail(p->rl_ip, span_cstr(op->c->ip), ratelimit_now_ms());
        acct_fail(op, "BAD_USER_INPUT", "username", "That username is taken.");
        return;
    }
    if (res->err) {
        PSTAT_INC(p, register_failures);
        fail_store(op->call, res->err);
        acct_op_free(op);
        return;
    }
    PSTAT_INC(p, registrations);
    acct_succeed(op, res->user_create.session_id, &res->user_create.user);
}

static void session_created(void *arg, const struct store_result *res)
{
    acct_op_t *op = arg;
    if (res->err) {
        fail_store(op->call, res->err);
        acct_op_free(op);
        return;
    }
    store_reader_t *rd = platform_reader(op->c->p);
    struct store_user u;
    int rc = rd ? store_user_get(rd, op->user_id, &u) : RS_EUNAVAIL;
    if (rc) {
        fail_store(op->call, rc);
        acct_op_free(op);
        return;
    }
    PSTAT_INC(op->c->p, logins);
    acct_succeed(op, res->session.id, &u);
}

/* A new secret, and its hash for the store. */
static void new_secret(acct_op_t *op, char hash[ACCOUNT_SECRET_HASH_LEN + 1])
{
    account_secret_new(op->secret);
    account_secret_hash(op->secret, ACCOUNT_SECRET_LEN, hash);
}

/* The hashing pool is done (on the request's loop). */
static void acct_hashed(hasher_job_t *job)
{
    acct_op_t *op = (acct_op_t *)job;
    platform_t *p = op->c->p;
    char sh[ACCOUNT_SECRET_HASH_LEN + 1];
    if (!op->is_login) {
        if (job->rc) {
            PSTAT_INC(p, register_failures);
            acct_fail(op, "UNAVAILABLE", NULL, "The server is busy: try again in a moment.");
            return;
        }
        new_secret(op, sh);
        int rc = store_user_create(p->store, op->c->loop, op->username, strlen(op->username),
                                   op->display, op->display_len, job->hash, sh, registered, op);
        if (rc) {
            fail_store(op->call, rc);
            acct_op_free(op);
        }
        return;
    }
    if (job->rc == RS_EINVAL)
        LOG_ERROR("platform", "user %lld has a corrupt password hash", (long long)op->user_id);
    if (job->rc) {
        login_failed(op);
        return;
    }
    ratelimit_reset(p->rl_account, span_cstr(op->norm));
    if (job->rehashed)
        store_user_set_password_hash(p->store, op->c->loop, op->user_id, job->hash, NULL, NULL);
    new_secret(op, sh);
    int rc = store_session_create(p->store, op->c->loop, op->user_id, sh, session_created, op);
    if (rc) {
        fail_store(op->call, rc);
        acct_op_free(op);
    }
}

static int submit_hash(acct_op_t *op)
{
    pctx_t *c = op->c;
    if (c->hash_reserved <= 0 && !hasher_reserve(c->p->hasher, 1)) {
        PSTAT_INC(c->p, hash_busy);
        return RS_EBUSY;
    }
    if (c->hash_reserved > 0) c->hash_reserved--;
    op->job.origin = c->loop;
    op->job.done = acct_hashed;
    return hasher_submit(c->p->hasher, &op->job);
}

static acct_op_t *acct_op_new(gql_call_t *call, bool is_login)
{
    acct_op_t *op = calloc(1, sizeof *op);
    if (!op) {
        fail(call, "INTERNAL", NULL, "Out of memory.");
        return NULL;
    }
    op->call = call;
    op->c = ctx_of(call);
    op->is_login = is_login;
    return op;
}

static void mu_register(gql_call_t *call)
{
    json_t *jn = gql_call_arg(call, "username"), *jd = gql_call_arg(call, "displayName"),
           *jp = gql_call_arg(call, "password");
    const char *why = NULL;
    acct_op_t *op = acct_op_new(call, false);
    if (!op) return;
    if (account_username_normalize(json_string_value(jn), json_string_length(jn), op->norm, &why)) {
        acct_fail(op, "BAD_USER_INPUT", "username", why ? why : "Invalid username.");
        return;
    }
    if (account_display_name_check(json_string_value(jd), json_string_length(jd), &why)) {
        acct_fail(op, "BAD_USER_INPUT", "displayName", why ? why : "Invalid display name.");
        return;
    }
    if (account_password_check(json_string_length(jp), &why)) {
        acct_fail(op, "BAD_USER_INPUT", "password", why ? why : "Invalid password.");
        return;
    }
    memcpy(op->username, json_string_value(jn), json_string_length(jn));
    op->display_len = json_string_length(jd);
    memcpy(op->display, json_string_value(jd), op->display_len);
    /* Taken already? Then spare the hash (the store still settles races: RS_EEXIST). */
    store_reader_t *rd = platform_reader(op->c->p);
    struct store_user u;
    if (rd && store_user_get_by_username(rd, op->norm, strlen(op->norm), &u) == 0) {
        PSTAT_INC(op->c->p, register_failures);
        ratelimit_fail(op->c->p->rl_ip, span_cstr(op->c->ip), ratelimit_now_ms());
        acct_fail(op, "BAD_USER_INPUT", "username", "That username is taken.");
        return;
    }
    op->job.kind = HASHER_HASH;
    op->job.pw_len = json_string_length(jp);
    memcpy(op->job.pw, json_string_value(jp), op->job.pw_len);
    int rc = submit_hash(op);
    if (rc) acct_fail(op, "UNAVAILABLE", NULL, "The server is busy: try again in a moment.");
}

static void mu_login(gql_call_t *call)
{
    json_t *jn = gql_call_arg(call, "username"), *jp = gql_call_arg(call, "password");
    acct_op_t *op = acct_op_new(call, true);
    if (!op) return;
    platform_t *p = op->c->p;
    if (account_username_normalize(json_string_value(jn), json_string_length(jn), op->norm, NULL)) {
        /* No account can have this name: nothing to guess, nothing to time. */
        ratelimit_fail(p->rl_ip, span_cstr(op->c->ip), ratelimit_now_ms());
        PSTAT_INC(p, login_failures);
        acct_fail(op, "BAD_CREDENTIALS", "password", "Incorrect username or password.");
        return;
    }
    /* Also enforced by admit(); repeated here for logins it could not see (fragments). */
    if (ratelimit_check(p->rl_account, span_cstr(op->norm), ratelimit_now_ms())) {
        PSTAT_INC(p, rate_limited);
        acct_fail(op, "RATE_LIMITED", NULL, "Too many attempts: wait a moment and try again.");
        return;
    }
    store_reader_t *rd = platform_reader(p);
    if (!rd) {
        fail_store(call, RS_EUNAVAIL);
        acct_op_free(op);
        return;
    }
    size_t pwlen = json_string_length(jp);
    if (pwlen > ACCOUNT_PASSWORD_MAX) pwlen = ACCOUNT_PASSWORD_MAX + 1; /* verify refuses it */
    if (pwlen > ACCOUNT_PASSWORD_MAX) {
        login_failed(op);
        return;
    }
    memcpy(op->job.pw, json_string_value(jp), pwlen);
    op->job.pw_len = pwlen;
    struct store_user u;
    int rc = store_user_get_by_username(rd, op->norm, strlen(op->norm), &u);
    if (rc == 0) rc = store_user_password_hash(rd, u.id, op->job.hash);
    if (rc == 0) {
        op->user_id = u.id;
        op->job.kind = HASHER_VERIFY;
    } else if (rc == RS_ENOTFOUND) {
        op->job.kind = HASHER_DUMMY; /* as slow as a wrong password */
    } else {
        fail_store(call, rc);
        acct_op_free(op);
        return;
    }
    if (submit_hash(op))
        acct_fail(op, "UNAVAILABLE", NULL, "The server is busy: try again in a moment.");
}

typedef struct logout_op {
    gql_call_t *call;
    platform_t *p;
    int64_t session_id;
} logout_op_t;

static void logged_out(void *arg, const struct store_result *res)
{
    logout_op_t *op = arg;
    if (res->err == 0) platform_session_revoked(op->p, op->session_id);
    if (res->err && res->err != RS_ENOTFOUND)
        fail_store(op->call, res->err);
    else
        gql_call_return(op->call, json_boolean(res->err == 0));
    free(op);
}

static void mu_logout(gql_call_t *call)
{
    pctx_t *c = ctx_of(call);
    c->clear_cookies = true;
    c->set_cookies = false;
    if (!c->session_id) {
        gql_call_return(call, json_false());
        return;
    }
    logout_op_t *op = malloc(sizeof *op);
    if (!op) {
        fail(call, "INTERNAL", NULL, "Out of memory.");
        return;
    }
    op->call = call;
    op->p = c->p;
    op->session_id = c->session_id;
    int rc = store_session_revoke(c->p->store, c->loop, c->session_id, logged_out, op);
    if (rc) {
        free(op);
        fail_store(call, rc);
        return;
    }
    PSTAT_INC(c->p, logouts);
}

/* ---- social mutations --------------------------------------------------------------------- */

static void followed_done(void *arg, const struct store_result *res)
{
    seq_op_t *op = arg;
    if (res->err == RS_ENOTFOUND) {
        seq_fail(op, "NOT_FOUND", "userId", "No such user.");
        return;
    }
    if (res->err == RS_EINVAL) {
        seq_fail(op, "BAD_USER_INPUT", "userId", "You cannot follow yourself.");
        return;
    }
    if (res->err) {
        seq_fail_store(op, res->err);
        return;
    }
    PSTAT_INC(op->p, follows);
    if (res->follow.following)
        platform_emit_followed(op->p, op->target, op->viewer, res->follow.follower_count);
    store_reader_t *rd = platform_reader(op->p);
    struct store_user u;
    int rc = rd ? store_user_get(rd, op->target, &u) : RS_EUNAVAIL;
    if (rc) {
        seq_fail_store(op, rc);
        return;
    }
    op->value =
        json_pack("{s:b,s:o}", "following", res->follow.following, "user", platform_user_json(&u));
    seq_finish(op);
}

static void mu_follow(gql_call_t *call)
{
    pctx_t *c = need_viewer(call);
    if (!c) return;
    int64_t target;
    if (!id_arg(call, "userId", &target)) return;
    if (target == c->viewer_id) {
        fail(call, "BAD_USER_INPUT", "userId", "You cannot follow yourself.");
        return;
    }
    seq_op_t *op = seq_op_new(call, target);
    if (!op) return;
    int rc = store_follow_toggle(c->p->store, platform_sequencer(c->p), c->viewer_id, target,
                                 followed_done, op);
    if (rc) {
        free(op);
        fail_store(call, rc);
    }
}

/* getLocation, createChatroom: the chatroom as the requester sees it; members hear of it. */
static void chatroom_done(void *arg, const struct store_result *res)
{
    seq_op_t *op = arg;
    if (res->err == RS_ENOTFOUND) {
        seq_fail(op, "NOT_FOUND", op->target ? "userId" : "memberIds", "No such user.");
        return;
    }
    if (res->err == RS_EINVAL) {
        seq_fail(op, "BAD_USER_INPUT", op->target ? "userId" : "memberIds",
                 op->target ? "You cannot open a chat with yourself."
                            : "Add at least one other member.");
        return;
    }
    if (res->err == RS_ETOOBIG) {
        seq_fail(op, "BAD_USER_INPUT", "memberIds", "Too many members for one chatroom.");
        return;
    }
    if (res->err) {
        seq_fail_store(op, res->err);
        return;
    }
    if (res->chatroom.created) {
        PSTAT_INC(op->p, chatrooms_created);
        platform_emit_chat(op->p, res->chatroom.chatroom.id, NULL, 0);
    }
    op->value = platform_chatroom_json(&res->chatroom.chatroom);
    seq_finish(op);
}

static void mu_get_location(gql_call_t *call)
{
    pctx_t *c = need_viewer(call);
    if (!c) return;
    int64_t other;
    if (!id_arg(call, "userId", &other)) return;
    if (other == c->viewer_id) {
        fail(call, "BAD_USER_INPUT", "userId", "You cannot open a chat with yourself.");
        return;
    }
    seq_op_t *op = seq_op_new(call, other);
    if (!op) return;
    int rc = store_chatroom_direct(c->p->store, platform_sequencer(c->p), c->viewer_id, other,
                                   chatroom_done, op);
    if (rc) {
        free(op);
        fail_store(call, rc);
    }
}

static void mu_create_chatroom(gql_call_t *call)
{
    pctx_t *c = need_viewer(call);
    if (!c) return;
    json_t *ids = gql_call_arg(call, "memberIds");
    size_t n = json_array_size(ids);
    int group_max = c->p->cfg && c->p->cfg->group_max > 0 ? c->p->cfg->group_max : 64;
    if (n > (size_t)group_max * 2) {
        fail(call, "BAD_USER_INPUT", "memberIds", "Too many members for one chatroom.");
        return;
    }
    int64_t *members = malloc((n ? n : 1) * sizeof *members);
    if (!members) {
        fail(call, "INTERNAL", NULL, "Out of memory.");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!parse_id(json_array_get(ids, i), &members[i])) {
            free(members);
            fail(call, "BAD_USER_INPUT", "memberIds", "Invalid id in \"memberIds\".");
            return;
        }
    const char *name = NULL;
    size_t name_len = 0;
    json_t *jname = gql_call_arg(call, "name");
    if (json_is_string(jname)) {
        size_t chars;
        span_t t =
            trim_text(span_make(json_string_value(jname), json_string_length(jname)), &chars);
        if (chars > PLATFORM_ROOM_NAME_MAX) {
            free(members);
            fail(call, "BAD_USER_INPUT", "name",
                 "The chatroom name is too long (at most 64 characters).");
            return;
        }
        for (size_t i = 0; i < t.len; i++)
            if ((unsigned char)t.base[i] < 0x20 || t.base[i] == 0x7f) {
                free(members);
                fail(call, "BAD_USER_INPUT", "name",
                     "The chatroom name contains control characters.");
                return;
            }
        name = t.base;
        name_len = t.len;
    }
    seq_op_t *op = seq_op_new(call, 0);
    if (!op) {
        free(members);
        return;
    }
    int rc = store_chatroom_group(c->p->store, platform_sequencer(c->p), c->viewer_id, members, n,
                                  name, name_len, chatroom_done, op);
    free(members);
    if (rc) {
        free(op);
        if (rc == RS_ETOOBIG)
            fail(call, "BAD_USER_INPUT", "memberIds", "Too many members for one chatroom.");
        else if (rc == RS_EINVAL)
            fail(call, "BAD_USER_INPUT", "memberIds", "Add at least one other member.");
        else
            fail_store(call, rc);
    }
}

static void sent_done(void *arg, const struct store_result *res)
{
    seq_op_t *op = arg;
    if (res->err == RS_ENOTFOUND || res->err == RS_EPERM) {
        seq_fail(op, "NOT_FOUND", "chatroomId", "Chatroom not found (or you are not a member).");
        return;
    }
    if (res->err) {
        seq_fail_store(op, res->err);
        return;
    }
    PSTAT_INC(op->p, messages);
    platform_emit_chat(op->p, res->message.chatroom_id, &res->message, 0);
    op->value = platform_message_json(&res->message);
    seq_finish(op);
}

static void mu_send_message(gql_call_t *call)
{
    pctx_t *c = need_viewer(call);
    if (!c) return;
    int64_t room;
    if (!id_arg(call, "chatroomId", &room)) return;
    json_t *jt = gql_call_arg(call, "text");
    span_t text = span_make(json_string_value(jt), json_string_length(jt));
    if (!text.base || !utf8_valid(text.base, text.len)) {
        fail(call, "BAD_USER_INPUT", "text", "The message is not valid UTF-8.");
        return;
    }
    size_t chars;
    text = trim_text(text, &chars);
    if (!text.len) {
        fail(call, "BAD_USER_INPUT", "text", "The message is empty.");
        return;
    }
    if (chars > PLATFORM_TEXT_MAX_CHARS || text.len > STORE_TEXT_MAX) {
        fail(call, "BAD_USER_INPUT", "text", "The message is too long (at most 4000 characters).");
        return;
    }
    if (memchr(text.base, 0, text.len)) {
        fail(call, "BAD_USER_INPUT", "text", "The message contains a NUL character.");
        return;
    }
    seq_op_t *op = seq_op_new(call, room);
    if (!op) return;
    int rc = store_message_send(c->p->store, platform_sequencer(c->p), room, c->viewer_id,
                                text.base, text.len, sent_done, op);
    if (rc) {
        free(op);
        fail_store(call, rc);
    }
}

static void read_done(void *arg, const struct store_result *res)
{
    seq_op_t *op = arg;
    if (res->err == RS_ENOTFOUND || res->err == RS_EPERM) {
        seq_fail(op, "NOT_FOUND", "chatroomId", "Chatroom not found (or you are not a member).");
        return;
    }
    if (res->err) {
        seq_fail_store(op, res->err);
        return;
    }
    platform_emit_chat(op->p, op->target, NULL, op->viewer);
    store_reader_t *rd = platform_reader(op->p);
    struct store_chatroom room;
    int rc = rd ? store_chatroom_get(rd, op->target, op->viewer, &room) : RS_EUNAVAIL;
    if (rc) {
        seq_fail_store(op, rc);
        return;
    }
    op->value = platform_chatroom_json(&room);
    seq_finish(op);
}

static void mu_mark_read(gql_call_t *call)
{
    pctx_t *c = need_viewer(call);
    if (!c) return;
    int64_t room;
    if (!id_arg(call, "chatroomId", &room)) return;
    seq_op_t *op = seq_op_new(call, room);
    if (!op) return;
    int rc = store_chatroom_mark_read(c->p->store, platform_sequencer(c->p), room, c->viewer_id,
                                      read_done, op);
    if (rc) {
        free(op);
        fail_store(call, rc);
    }
}

/* ---- setup ------------------------------------------------------------------------------- */

bool platform_login_username(gql_request_t *req, char *out, size_t outlen)
{
    if (!req || req->failed || !req->op || !req->op->selset) return false;
    for (const gql_ast_selection_t *s = req->op->selset->head; s; s = s->next) {
        if (s->kind != GQL_SEL_FIELD || !span_eq_cstr(s->name, "login")) continue;
        for (const gql_ast_arg_t *a = s->args; a; a = a->next) {
            if (!span_eq_cstr(a->name, "username") || !a->value) continue;
            span_t v = SPAN_NULL;
            if (a->value->kind == GQL_AV_STRING) {
                v = a->value->text;
            } else if (a->value->kind == GQL_AV_VARIABLE && req->vars) {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)a->value->text.len, a->value->text.base);
                json_t *jv = json_object_get(req->vars, name);
                if (json_is_string(jv))
                    v = span_make(json_string_value(jv), json_string_length(jv));
            }
            if (!v.base || v.len >= outlen || memchr(v.base, 0, v.len)) return false;
            memcpy(out, v.base, v.len);
            out[v.len] = '\0';
            return true;
        }
    }
    return false;
}

int platform_schema_setup(platform_t *p)
{
    buf_t err = BUF_INIT;
    if (gql_schema_build(platform_schema_sdl, strlen(platform_schema_sdl), &p->schema, &err) < 0) {
        LOG_ERROR("platform", "schema: %s", buf_cstr(&err) ? err.base : "?");
        buf_free(&err);
        return RS_EINVAL;
    }
    buf_free(&err);
    static const struct {
        const char *coord;
        gql_resolver_fn fn;
    } binds[] = {
        {"Query.me", q_me},
        {"Query.user", q_user},
        {"Query.users", q_users},
        {"Query.chatrooms", q_chatrooms},
        {"Query.chatroom", q_chatroom},
        {"Mutation.register", mu_register},
        {"Mutation.login", mu_login},
        {"Mutation.logout", mu_logout},
        {"Mutation.followUnfollowUser", mu_follow},
        {"Mutation.getLocation", mu_get_location},
        {"Mutation.createChatroom", mu_create_chatroom},
        {"Mutation.sendMessage", mu_send_message},
        {"Mutation.markRead", mu_mark_read},
        {"User.followers", u_followers},
        {"User.following", u_following},
        {"User.isFollowedByMe", u_is_followed},
        {"User.online", u_online},
        {"Chatroom.members", c_members},
        {"Chatroom.lastMessage", c_last_message},
        {"Chatroom.messages", c_messages},
        {"Message.sender", m_sender},
        {"Message.chatroom", m_chatroom},
    };
    for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++)
        if (gql_schema_set_resolver(p->schema, binds[i].coord, binds[i].fn, p)) {
            LOG_ERROR("platform", "schema has no field %s", binds[i].coord);
            return RS_EINVAL;
        }
    if (gql_schema_set_expensive(p->schema, "Mutation.login") ||
        gql_schema_set_expensive(p->schema, "Mutation.register"))
        return RS_EINVAL;
    return 0;
}
