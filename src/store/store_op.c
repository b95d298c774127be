/* store_op.c - what each write does, run by the writer inside the transaction (and the
 * savepoint) that store.c opened for it. Written once for both backends.
 *
 * Domain errors are found by reading first (unknown user, not a member, self-follow), so
 * they never depend on how a backend reports a constraint; the constraints (unique
 * username, unique follow pair, unique direct_key, foreign keys, CHECKs) back them up and
 * decide races between nodes sharing one PostgreSQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/store_internal.h"
#include "util/err.h"

#define BE (s->be)
#define C  (s->wconn)

/* 0 when the row exists, RS_ENOTFOUND when not, <0 on error. */
static int exists(store_t *s, enum store_stmt st, const struct store_arg *a, int n)
{
    int rc = store_q_row(BE, C, st, a, n);
    if (rc == 1) BE->finish(C);
    return rc == 1 ? 0 : rc == 0 ? RS_ENOTFOUND : rc;
}

static int user_exists(store_t *s, int64_t id)
{
    struct store_arg a[] = {SARG_INT(id)};
    return exists(s, ST_USER_EXISTS, a, 1);
}

static int read_user(store_t *s, int64_t id, struct store_user *u)
{
    struct store_arg a[] = {SARG_INT(id)};
    int rc = store_q_row(BE, C, ST_USER_BY_ID, a, 1);
    if (rc != 1) return rc == 0 ? RS_ENOTFOUND : rc;
    store_row_user(BE, C, 0, u);
    BE->finish(C);
    return 0;
}

static int64_t random_session_id(void)
{
    uint64_t v;
    randombytes_buf(&v, sizeof v);
    v &= (uint64_t)INT64_MAX;
    return v ? (int64_t)v : 1;
}

static int insert_session(store_t *s, int64_t user_id, const char *secret_hash, int64_t now,
                          struct store_session *out)
{
    int64_t id = random_session_id();
    struct store_arg a[] = {SARG_INT(id), SARG_INT(user_id), SARG_TEXT(secret_hash), SARG_INT(now)};
    int rc = store_q_exec(BE, C, ST_SESSION_INSERT, a, 4);
    if (rc) return rc;
    if (out) {
        out->id = id;
        out->user_id = user_id;
        out->created_ms = now;
        snprintf(out->secret_hash, sizeof out->secret_hash, "%s", secret_hash);
    }
    return 0;
}

static int op_user_create(store_t *s, struct store_req *q, int64_t now)
{
    int64_t id;
    struct store_arg a[] = {SARG_TEXTN(q->str[0], q->len[0]), SARG_TEXTN(q->str[1], q->len[1]),
                            SARG_TEXTN(q->str[2], q->len[2]), SARG_TEXTN(q->str[3], q->len[3]),
                            SARG_INT(now)};
    int rc = store_q_int(BE, C, ST_USER_INSERT, a, 5, &id);
    if (rc) return rc;
    if (q->str[4]) {
        struct store_session sess;
        if ((rc = insert_session(s, id, q->str[4], now, &sess)) != 0) return rc;
        q->res.user_create.session_id = sess.id;
    }
    return read_user(s, id, &q->res.user_create.user);
}

/* UPDATE ... RETURNING id: RS_ENOTFOUND when no row matched. */
static int update_user(store_t *s, enum store_stmt st, int64_t id, struct store_arg value)
{
    int64_t got;
    struct store_arg a[] = {SARG_INT(id), value};
    return store_q_int(BE, C, st, a, 2, &got);
}

static int op_follow_toggle(store_t *s, struct store_req *q, int64_t now)
{
    int64_t follower = q->a, followee = q->b, id, delta;
    int rc;
    if (follower == followee) return RS_EINVAL;
    if ((rc = user_exists(s, follower)) != 0 || (rc = user_exists(s, followee)) != 0) return rc;
    struct store_arg pair[] = {SARG_INT(follower), SARG_INT(followee), SARG_INT(now)};
    rc = store_q_int(BE, C, ST_FOLLOW_DELETE, pair, 2, &id);
    if (rc == 0) {
        delta = -1;
        q->res.follow.following = false;
    } else if (rc == RS_ENOTFOUND) {
        rc = store_q_int(BE, C, ST_FOLLOW_INSERT, pair, 3, &id);
        /* No row: another node inserted the same pair meanwhile - already following. */
        if (rc != 0 && rc != RS_ENOTFOUND) return rc;
        delta = rc == 0 ? 1 : 0;
        q->res.follow.following = true;
    } else {
        return rc;
    }
    if (delta) {
        struct store_arg fe[] = {SARG_INT(followee), SARG_INT(delta)};
        struct store_arg fr[] = {SARG_INT(follower), SARG_INT(delta)};
        if ((rc = store_q_int(BE, C, ST_USER_ADD_FOLLOWERS, fe, 2,
                              &q->res.follow.follower_count)) != 0 ||
            (rc = store_q_int(BE, C, ST_USER_ADD_FOLLOWING, fr, 2,
                              &q->res.follow.following_count)) != 0)
            return rc;
        return 0;
    }
    struct store_user u;
    if ((rc = read_user(s, followee, &u)) != 0) return rc;
    q->res.follow.follower_count = u.follower_count;
    if ((rc = read_user(s, follower, &u)) != 0) return rc;
    q->res.follow.following_count = u.following_count;
    return 0;
}

static int add_member(store_t *s, int64_t chatroom_id, int64_t user_id, int64_t now)
{
    struct store_arg a[] = {SARG_INT(chatroom_id), SARG_INT(user_id), SARG_INT(now)};
    return store_q_exec(BE, C, ST_MEMBER_INSERT, a, 3);
}

static int op_chatroom_direct(store_t *s, struct store_req *q, int64_t now)
{
    int64_t a = q->a, b = q->b, id;
    int rc;
    if (a == b) return RS_EINVAL;
    if ((rc = user_exists(s, a)) != 0 || (rc = user_exists(s, b)) != 0) return rc;
    char key[2 * STORE_ID_STR_MAX + 2];
    snprintf(key, sizeof key, "%lld:%lld", (long long)(a < b ? a : b), (long long)(a < b ? b : a));
    struct store_arg ins[] = {SARG_INT(STORE_CHATROOM_DIRECT), SARG_NULL, SARG_TEXT(key),
                              SARG_INT(now)};
    rc = store_q_int(BE, C, ST_CHATROOM_INSERT, ins, 4, &id);
    if (rc == 0) {
        if ((rc = add_member(s, id, a, now)) != 0 || (rc = add_member(s, id, b, now)) != 0)
            return rc;
        q->res.chatroom.created = true;
    } else if (rc == RS_ENOTFOUND) { /* the pair already has its room */
        struct store_arg k[] = {SARG_TEXT(key)};
        if ((rc = store_q_int(BE, C, ST_CHATROOM_BY_KEY, k, 1, &id)) != 0)
            return rc == RS_ENOTFOUND ? RS_EIO : rc;
    } else {
        return rc;
    }
    return store_chatroom_view(BE, C, id, a, &q->res.chatroom.chatroom);
}

static int cmp_id(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* The other members of a group request, sorted, without duplicates or the creator, into
 * a new array (*out, to free). RS_EINVAL none, RS_ETOOBIG over group_max. */
static int group_members(store_t *s, const struct store_req *q, int64_t **out, size_t *n_out)
{
    size_t n = 0;
    int64_t *ids = malloc((q->n_ids ? q->n_ids : 1) * sizeof *ids);
    if (!ids) return RS_ENOMEM;
    if (q->n_ids) {
        memcpy(ids, q->ids, q->n_ids * sizeof *ids);
        qsort(ids, q->n_ids, sizeof *ids, cmp_id);
    }
    for (size_t i = 0; i < q->n_ids; i++)
        if (ids[i] != q->a && (n == 0 || ids[n - 1] != ids[i])) ids[n++] = ids[i];
    int rc = n == 0 ? RS_EINVAL : n + 1 > (size_t)s->cfg.group_max ? RS_ETOOBIG : 0;
    if (rc) {
        free(ids);
        return rc;
    }
    *out = ids;
    *n_out = n;
    return 0;
}

static int op_chatroom_group(store_t *s, struct store_req *q, int64_t now)
{
    int64_t creator = q->a, id;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = group_members(s, q, &ids, &n);
    if (rc) return rc;
    if ((rc = user_exists(s, creator)) != 0) goto out;
    for (size_t i = 0; i < n; i++)
        if ((rc = user_exists(s, ids[i])) != 0) goto out;
    struct store_arg ins[] = {SARG_INT(STORE_CHATROOM_GROUP),
                              q->str[0] ? SARG_TEXTN(q->str[0], q->len[0]) : SARG_NULL, SARG_NULL,
                              SARG_INT(now)};
    if ((rc = store_q_int(BE, C, ST_CHATROOM_INSERT, ins, 4, &id)) != 0) {
        if (rc == RS_ENOTFOUND) rc = RS_EIO;
        goto out;
    }
    if ((rc = add_member(s, id, creator, now)) != 0) goto out;
    for (size_t i = 0; i < n; i++)
        if ((rc = add_member(s, id, ids[i], now)) != 0) goto out;
    q->res.chatroom.created = true;
    rc = store_chatroom_view(BE, C, id, creator, &q->res.chatroom.chatroom);
out:
    free(ids);
    return rc;
}

/* 0 when user_id is a member, RS_ENOTFOUND (no chatroom), RS_EPERM (not a member). */
int store_membership(const struct store_backend *be, struct store_conn *c, int64_t chatroom_id,
                     int64_t user_id)
{
    struct store_arg a[] = {SARG_INT(chatroom_id), SARG_INT(user_id)};
    int rc = store_q_row(be, c, ST_MEMBERSHIP, a, 2);
    if (rc != 1) return rc == 0 ? RS_EIO : rc;
    int64_t room = be->col_int(c, 0), member = be->col_int(c, 1);
    be->finish(c);
    return !room ? RS_ENOTFOUND : !member ? RS_EPERM : 0;
}

static int op_message_send(store_t *s, struct store_req *q, int64_t now)
{
    int64_t cid = q->a, sender = q->b, id;
    int rc = store_membership(BE, C, cid, sender);
    if (rc) return rc;
    struct store_arg ins[] = {SARG_INT(cid), SARG_INT(sender), SARG_TEXTN(q->str[0], q->len[0]),
                              SARG_INT(now)};
    if ((rc = store_q_int(BE, C, ST_MESSAGE_INSERT, ins, 4, &id)) != 0)
        return rc == RS_ENOTFOUND ? RS_EIO : rc;
    struct store_arg touch[] = {SARG_INT(cid), SARG_INT(now), SARG_INT(id)};
    struct store_arg read[] = {SARG_INT(cid), SARG_INT(sender), SARG_INT(id)};
    if ((rc = store_q_exec(BE, C, ST_CHATROOM_TOUCH, touch, 3)) != 0 ||
        (rc = store_q_exec(BE, C, ST_MEMBER_READ_TO, read, 3)) != 0)
        return rc;
    struct store_message *m = &q->res.message;
    m->id = id;
    m->chatroom_id = cid;
    m->sender_id = sender;
    m->created_ms = now;
    m->text = (char *)q->str[0]; /* lives in the request until the completion returns */
    m->text_len = q->len[0];
    return 0;
}

static int op_mark_read(store_t *s, struct store_req *q)
{
    struct store_arg a[] = {SARG_INT(q->a), SARG_INT(q->b)};
    int rc = store_q_int(BE, C, ST_MEMBER_MARK_READ, a, 2, &q->res.last_read_message_id);
    if (rc != RS_ENOTFOUND) return rc;
    rc = store_membership(BE, C, q->a, q->b); /* tell a missing chatroom from a non-member */
    return rc ? rc : RS_EIO;
}

/* ---- presence ---- */

static struct store_arg node_of(const struct store_req *q)
{
    return SARG_TEXTN(q->str[0], q->len[0]);
}

static int presence_row(store_t *s, enum store_stmt st, const struct store_req *q, int64_t user)
{
    struct store_arg a[] = {node_of(q), SARG_INT(user)};
    return store_q_exec(BE, C, st, a, 2);
}

static int op_presence_reset(store_t *s, struct store_req *q)
{
    struct store_arg a[] = {node_of(q)};
    int rc = store_q_exec(BE, C, ST_PRESENCE_CLEAR, a, 1);
    for (size_t i = 0; rc == 0 && i < q->n_ids; i++)
        rc = presence_row(s, ST_PRESENCE_ADD, q, q->ids[i]);
    return rc;
}

/* One reading of the database's clock for the beat and the sweep's cutoff, so that the rows
 * and the entry of a silent node always go together. */
static int op_presence_heartbeat(store_t *s, struct store_req *q)
{
    int64_t now, got;
    int rc = store_q_int(BE, C, ST_PRESENCE_CLOCK, NULL, 0, &now);
    if (rc) return rc;
    struct store_arg beat[] = {node_of(q), SARG_INT(now), SARG_INT(q->b)};
    rc = store_q_int(BE, C, ST_PRESENCE_BEAT, beat, 3, &got);
    if (rc == RS_ENOTFOUND) {
        q->res.heartbeat.created = true;
        rc = store_q_exec(BE, C, ST_PRESENCE_NODE_INSERT, beat, 3);
    }
    if (rc) return rc;
    struct store_arg cut[] = {node_of(q), SARG_INT(now)};
    if ((rc = store_q_exec(BE, C, ST_PRESENCE_SWEEP_ROWS, cut, 2)) != 0) return rc;
    if ((rc = BE->query(C, ST_PRESENCE_SWEEP_NODES, cut, 2)) < 0) return rc;
    while ((rc = BE->step(C)) == 1) q->res.heartbeat.swept++;
    BE->finish(C);
    return rc;
}

static int op_presence_node_remove(store_t *s, struct store_req *q)
{
    struct store_arg a[] = {node_of(q)};
    int rc = store_q_exec(BE, C, ST_PRESENCE_CLEAR, a, 1);
    return rc ? rc : store_q_exec(BE, C, ST_PRESENCE_NODE_DELETE, a, 1);
}

int store_op_run(store_t *s, struct store_req *q)
{
    int64_t now = store_now_ms();
    int rc;
    switch (q->res.op) {
    case STORE_OP_USER_CREATE:
        return op_user_create(s, q, now);
    case STORE_OP_USER_SET_PASSWORD:
        return update_user(s, ST_USER_SET_PWHASH, q->a, SARG_TEXTN(q->str[0], q->len[0]));
    case STORE_OP_USER_SET_SOCKET:
        return update_user(s, ST_USER_SET_SOCKET, q->a,
                           q->str[0] ? SARG_TEXTN(q->str[0], q->len[0]) : SARG_NULL);
    case STORE_OP_USER_SET_LAST_SEEN:
        return update_user(s, ST_USER_SET_LAST_SEEN, q->a, SARG_INT(q->b ? q->b : now));
    case STORE_OP_SESSION_CREATE:
        if ((rc = user_exists(s, q->a)) != 0) return rc;
        return insert_session(s, q->a, q->str[0], now, &q->res.session);
    case STORE_OP_SESSION_REVOKE: {
        int64_t id;
        struct store_arg a[] = {SARG_INT(q->a)};
        return store_q_int(BE, C, ST_SESSION_REVOKE, a, 1, &id);
    }
    case STORE_OP_FOLLOW_TOGGLE:
        return op_follow_toggle(s, q, now);
    case STORE_OP_CHATROOM_DIRECT:
        return op_chatroom_direct(s, q, now);
    case STORE_OP_CHATROOM_GROUP:
        return op_chatroom_group(s, q, now);
    case STORE_OP_MESSAGE_SEND:
        return op_message_send(s, q, now);
    case STORE_OP_CHATROOM_MARK_READ:
        return op_mark_read(s, q);
    case STORE_OP_PRESENCE_ADD:
        return presence_row(s, ST_PRESENCE_ADD, q, q->a);
    case STORE_OP_PRESENCE_REMOVE:
        return presence_row(s, ST_PRESENCE_REMOVE, q, q->a);
    case STORE_OP_PRESENCE_RESET:
        return op_presence_reset(s, q);
    case STORE_OP_PRESENCE_HEARTBEAT:
        return op_presence_heartbeat(s, q);
    case STORE_OP_PRESENCE_NODE_REMOVE:
        return op_presence_node_remove(s, q);
    }
    return RS_EINVAL;
}

/* ---- pipelined (PostgreSQL) ------------------------------------------------------------
 * Each write is one statement (two for a direct chatroom) from the ST_PG_ family, which
 * reports "no such user" and friends as counts rather than errors, so a batch needs no
 * savepoints and travels in one round trip. Arguments that decide the outcome alone
 * (self-follow, an empty group) never reach the server. */

static int pipe_stmts(enum store_op op, enum store_stmt *out)
{
    switch (op) {
    case STORE_OP_USER_CREATE:
        out[0] = ST_PG_USER_CREATE;
        return 1;
    case STORE_OP_USER_SET_PASSWORD:
        out[0] = ST_USER_SET_PWHASH;
        return 1;
    case STORE_OP_USER_SET_SOCKET:
        out[0] = ST_USER_SET_SOCKET;
        return 1;
    case STORE_OP_USER_SET_LAST_SEEN:
        out[0] = ST_USER_SET_LAST_SEEN;
        return 1;
    case STORE_OP_SESSION_CREATE:
        out[0] = ST_PG_SESSION_CREATE;
        return 1;
    case STORE_OP_SESSION_REVOKE:
        out[0] = ST_SESSION_REVOKE;
        return 1;
    case STORE_OP_FOLLOW_TOGGLE:
        out[0] = ST_PG_FOLLOW_TOGGLE;
        return 1;
    case STORE_OP_CHATROOM_DIRECT:
        out[0] = ST_PG_DIRECT_CREATE;
        out[1] = ST_PG_DIRECT_VIEW;
        return 2;
    case STORE_OP_CHATROOM_GROUP:
        out[0] = ST_PG_GROUP_CREATE;
        return 1;
    case STORE_OP_MESSAGE_SEND:
        out[0] = ST_PG_MESSAGE_SEND;
        return 1;
    case STORE_OP_CHATROOM_MARK_READ:
        out[0] = ST_PG_MARK_READ;
        return 1;
    case STORE_OP_PRESENCE_ADD:
        out[0] = ST_PRESENCE_ADD;
        return 1;
    case STORE_OP_PRESENCE_REMOVE:
        out[0] = ST_PRESENCE_REMOVE;
        return 1;
    case STORE_OP_PRESENCE_RESET:
        /* Two statements: an INSERT beside a DELETE of the same rows in one statement could
         * see a row as present (conflict: nothing inserted) that the DELETE then removes. */
        out[0] = ST_PRESENCE_CLEAR;
        out[1] = ST_PG_PRESENCE_ADD_MANY;
        return 2;
    case STORE_OP_PRESENCE_HEARTBEAT:
        out[0] = ST_PG_PRESENCE_HEARTBEAT;
        return 1;
    case STORE_OP_PRESENCE_NODE_REMOVE:
        out[0] = ST_PRESENCE_CLEAR;
        out[1] = ST_PRESENCE_NODE_DELETE;
        return 2;
    }
    return 0;
}

int store_op_pipe_prepare(store_t *s, struct store_req *q)
{
    enum store_stmt st[2];
    int n = pipe_stmts(q->res.op, st), rc;
    for (int i = 0; i < n; i++)
        if ((rc = BE->prepare(C, st[i])) != 0) return rc;
    return 0;
}

static void direct_key(const struct store_req *q, char *key, size_t cap)
{
    int64_t a = q->a, b = q->b;
    snprintf(key, cap, "%lld:%lld", (long long)(a < b ? a : b), (long long)(a < b ? b : a));
}

static int send1(store_t *s, struct store_req *q, enum store_stmt st, const struct store_arg *a,
                 int n)
{
    int rc = BE->pipe_send(C, st, a, n);
    if (rc == 0) q->pipe_n++;
    return rc;
}

static int pipe_send_group(store_t *s, struct store_req *q)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = group_members(s, q, &ids, &n);
    if (rc) {
        q->res.err = rc;
        return rc == RS_ENOMEM ? rc : 0;
    }
    buf_t arr = BUF_INIT; /* "{creator,member,...}" */
    rc = buf_appendf(&arr, "{%lld", (long long)q->a);
    for (size_t i = 0; rc == 0 && i < n; i++) rc = buf_appendf(&arr, ",%lld", (long long)ids[i]);
    if (rc == 0) rc = buf_append_byte(&arr, '}');
    if (rc == 0 && !buf_cstr(&arr)) rc = RS_ENOMEM;
    if (rc == 0) {
        struct store_arg a[] = {SARG_TEXTN(arr.base, arr.len),
                                q->str[0] ? SARG_TEXTN(q->str[0], q->len[0]) : SARG_NULL,
                                SARG_INT(q->now), SARG_INT((int64_t)n + 1)};
        q->b = (int64_t)n + 1; /* members, for the result */
        rc = send1(s, q, ST_PG_GROUP_CREATE, a, 4);
    }
    buf_free(&arr);
    free(ids);
    return rc;
}

static int pipe_send_reset(store_t *s, struct store_req *q)
{
    struct store_arg clear[] = {node_of(q)};
    int rc = send1(s, q, ST_PRESENCE_CLEAR, clear, 1);
    if (rc) return rc;
    buf_t arr = BUF_INIT; /* "{id,id,...}" */
    rc = buf_append_byte(&arr, '{');
    for (size_t i = 0; rc == 0 && i < q->n_ids; i++)
        rc = buf_appendf(&arr, i ? ",%lld" : "%lld", (long long)q->ids[i]);
    if (rc == 0) rc = buf_append_byte(&arr, '}');
    if (rc == 0 && !buf_cstr(&arr)) rc = RS_ENOMEM;
    if (rc == 0) {
        struct store_arg a[] = {node_of(q), SARG_TEXTN(arr.base, arr.len)};
        rc = send1(s, q, ST_PG_PRESENCE_ADD_MANY, a, 2);
    }
    buf_free(&arr);
    return rc;
}

int store_op_pipe_send(store_t *s, struct store_req *q)
{
    q->now = store_now_ms();
    q->pipe_n = 0;
    switch (q->res.op) {
    case STORE_OP_USER_CREATE: {
        q->session_id = q->str[4] ? random_session_id() : 0;
        struct store_arg a[] = {SARG_TEXTN(q->str[0], q->len[0]),
                                SARG_TEXTN(q->str[1], q->len[1]),
                                SARG_TEXTN(q->str[2], q->len[2]),
                                SARG_TEXTN(q->str[3], q->len[3]),
                                SARG_INT(q->now),
                                SARG_INT(q->session_id),
                                q->str[4] ? SARG_TEXTN(q->str[4], q->len[4]) : SARG_NULL};
        return send1(s, q, ST_PG_USER_CREATE, a, 7);
    }
    case STORE_OP_USER_SET_PASSWORD:
    case STORE_OP_USER_SET_SOCKET: {
        enum store_stmt st[1];
        pipe_stmts(q->res.op, st);
        struct store_arg a[] = {SARG_INT(q->a),
                                q->str[0] ? SARG_TEXTN(q->str[0], q->len[0]) : SARG_NULL};
        return send1(s, q, st[0], a, 2);
    }
    case STORE_OP_USER_SET_LAST_SEEN: {
        struct store_arg a[] = {SARG_INT(q->a), SARG_INT(q->b ? q->b : q->now)};
        return send1(s, q, ST_USER_SET_LAST_SEEN, a, 2);
    }
    case STORE_OP_SESSION_CREATE: {
        q->session_id = random_session_id();
        struct store_arg a[] = {SARG_INT(q->session_id), SARG_INT(q->a),
                                SARG_TEXTN(q->str[0], q->len[0]), SARG_INT(q->now)};
        return send1(s, q, ST_PG_SESSION_CREATE, a, 4);
    }
    case STORE_OP_SESSION_REVOKE: {
        struct store_arg a[] = {SARG_INT(q->a)};
        return send1(s, q, ST_SESSION_REVOKE, a, 1);
    }
    case STORE_OP_FOLLOW_TOGGLE: {
        if (q->a == q->b) {
            q->res.err = RS_EINVAL;
            return 0;
        }
        struct store_arg a[] = {SARG_INT(q->a), SARG_INT(q->b), SARG_INT(q->now)};
        return send1(s, q, ST_PG_FOLLOW_TOGGLE, a, 3);
    }
    case STORE_OP_CHATROOM_DIRECT: {
        if (q->a == q->b) {
            q->res.err = RS_EINVAL;
            return 0;
        }
        char key[2 * STORE_ID_STR_MAX + 2];
        direct_key(q, key, sizeof key);
        struct store_arg a[] = {SARG_INT(q->a), SARG_INT(q->b), SARG_TEXT(key), SARG_INT(q->now)};
        struct store_arg v[] = {SARG_TEXT(key), SARG_INT(q->a)};
        int rc = send1(s, q, ST_PG_DIRECT_CREATE, a, 4);
        return rc ? rc : send1(s, q, ST_PG_DIRECT_VIEW, v, 2);
    }
    case STORE_OP_CHATROOM_GROUP:
        return pipe_send_group(s, q);
    case STORE_OP_MESSAGE_SEND: {
        struct store_arg a[] = {SARG_INT(q->a), SARG_INT(q->b), SARG_TEXTN(q->str[0], q->len[0]),
                                SARG_INT(q->now)};
        return send1(s, q, ST_PG_MESSAGE_SEND, a, 4);
    }
    case STORE_OP_CHATROOM_MARK_READ: {
        struct store_arg a[] = {SARG_INT(q->a), SARG_INT(q->b)};
        return send1(s, q, ST_PG_MARK_READ, a, 2);
    }
    case STORE_OP_PRESENCE_ADD:
    case STORE_OP_PRESENCE_REMOVE: {
        struct store_arg a[] = {node_of(q), SARG_INT(q->a)};
        return send1(
            s, q, q->res.op == STORE_OP_PRESENCE_ADD ? ST_PRESENCE_ADD : ST_PRESENCE_REMOVE, a, 2);
    }
    case STORE_OP_PRESENCE_RESET:
        return pipe_send_reset(s, q);
    case STORE_OP_PRESENCE_HEARTBEAT: {
        struct store_arg a[] = {node_of(q), SARG_INT(q->b)};
        return send1(s, q, ST_PG_PRESENCE_HEARTBEAT, a, 2);
    }
    case STORE_OP_PRESENCE_NODE_REMOVE: {
        struct store_arg a[] = {node_of(q)};
        int rc = send1(s, q, ST_PRESENCE_CLEAR, a, 1);
        return rc ? rc : send1(s, q, ST_PRESENCE_NODE_DELETE, a, 1);
    }
    }
    return RS_EINVAL;
}

/* Interpret the rows of the op's i-th statement (already fetched by pipe_result). */
static void pipe_interpret(store_t *s, struct store_req *q, int i)
{
    struct store_result *res = &q->res;
    int row = BE->step(C);
    if (row < 0) {
        res->err = row;
        return;
    }
    switch (res->op) {
    case STORE_OP_USER_CREATE:
        if (!row) {
            res->err = RS_EEXIST;
            return;
        }
        store_row_user(BE, C, 0, &res->user_create.user);
        res->user_create.session_id = q->session_id;
        return;
    case STORE_OP_USER_SET_PASSWORD:
    case STORE_OP_USER_SET_SOCKET:
    case STORE_OP_USER_SET_LAST_SEEN:
    case STORE_OP_SESSION_REVOKE:
        if (!row) res->err = RS_ENOTFOUND;
        return;
    case STORE_OP_SESSION_CREATE:
        if (!row) {
            res->err = RS_ENOTFOUND;
            return;
        }
        res->session.id = q->session_id;
        res->session.user_id = q->a;
        res->session.created_ms = q->now;
        snprintf(res->session.secret_hash, sizeof res->session.secret_hash, "%s", q->str[0]);
        return;
    case STORE_OP_FOLLOW_TOGGLE:
        if (!row || !BE->col_int(C, 0) || !BE->col_int(C, 1)) {
            res->err = row ? RS_ENOTFOUND : RS_EIO;
            return;
        }
        res->follow.following = BE->col_int(C, 2) == 0;
        res->follow.follower_count = BE->col_int(C, 3);
        res->follow.following_count = BE->col_int(C, 4);
        return;
    case STORE_OP_CHATROOM_DIRECT:
        if (i == 0) {
            if (!row || !BE->col_int(C, 0) || !BE->col_int(C, 1))
                res->err = row ? RS_ENOTFOUND : RS_EIO;
            else
                res->chatroom.created = BE->col_int(C, 2) > 0;
        } else if (!res->err) {
            if (row)
                store_row_chatroom(BE, C, 0, &res->chatroom.chatroom);
            else
                res->err = RS_EIO;
        }
        return;
    case STORE_OP_CHATROOM_GROUP: {
        if (!row || BE->col_int(C, 0) != q->b || BE->col_int(C, 1) <= 0) {
            res->err = row ? RS_ENOTFOUND : RS_EIO;
            return;
        }
        struct store_chatroom *ch = &res->chatroom.chatroom;
        ch->id = BE->col_int(C, 1);
        ch->kind = STORE_CHATROOM_GROUP;
        ch->has_name = q->str[0] != NULL;
        if (q->str[0]) snprintf(ch->name, sizeof ch->name, "%s", q->str[0]);
        ch->created_ms = ch->last_activity_ms = q->now;
        ch->member_count = q->b;
        res->chatroom.created = true;
        return;
    }
    case STORE_OP_MESSAGE_SEND: {
        int64_t room = row ? BE->col_int(C, 0) : 0, member = row ? BE->col_int(C, 1) : 0;
        int64_t id = row ? BE->col_int(C, 2) : 0;
        if (!room || !member || id <= 0) {
            res->err = !row ? RS_EIO : !room ? RS_ENOTFOUND : !member ? RS_EPERM : RS_EIO;
            return;
        }
        struct store_message *m = &res->message;
        m->id = id;
        m->chatroom_id = q->a;
        m->sender_id = q->b;
        m->created_ms = q->now;
        m->text = (char *)q->str[0];
        m->text_len = q->len[0];
        return;
    }
    case STORE_OP_CHATROOM_MARK_READ:
        if (!row || !BE->col_int(C, 0) || !BE->col_int(C, 1)) {
            res->err = !row ? RS_EIO : !BE->col_int(C, 0) ? RS_ENOTFOUND : RS_EPERM;
            return;
        }
        res->last_read_message_id = BE->col_int(C, 2);
        return;
    case STORE_OP_PRESENCE_ADD:
    case STORE_OP_PRESENCE_REMOVE:
    case STORE_OP_PRESENCE_RESET:
    case STORE_OP_PRESENCE_NODE_REMOVE:
        return; /* no rows, no domain errors */
    case STORE_OP_PRESENCE_HEARTBEAT:
        if (!row) {
            res->err = RS_EIO;
            return;
        }
        res->heartbeat.created = BE->col_int(C, 0) > 0;
        res->heartbeat.swept = BE->col_int(C, 1);
        return;
    }
}

int store_op_pipe_read(store_t *s, struct store_req *q)
{
    int first = 0;
    for (int i = 0; i < q->pipe_n; i++) {
        int rc = BE->pipe_result(C);
        if (rc == 0 && !first) pipe_interpret(s, q, i);
        BE->finish(C);
        if (rc < 0 && !first) first = rc;
    }
    return first;
}
