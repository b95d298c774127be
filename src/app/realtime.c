/* realtime.c - the platform's Socket.IO namespace "/": the seed's initialConnection/auth
 * handshake, authentication at CONNECT time, presence, and the live channels followed /
 * updatedChat / chatroom.
 *
 * Identity of a socket. A socket carries at most one identity (user, session). Gaining one
 * counts the socket in presence and records its id on the user's row (USER_SET_SOCKET, under
 * the presence lock so that online/offline writes keep their order); the socket joins the
 * room "user:<id>" once that write committed, and only then hears `auth` true. Losing one -
 * a failed or superseded initialConnection, a disconnect - leaves the room at once, so
 * nothing meant for the old user reaches the socket afterwards, and the last socket of a
 * user going away stores its last-seen time. Answers to initialConnection carry a sequence
 * number: a completion that a newer attempt has overtaken does nothing.
 *
 * Channels are broadcast to user rooms from the sequencer loop, after the write committed
 * (see resolvers.c), so every device of every member gets them in commit order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/platform_internal.h"
#include "util/err.h"
#include "util/log.h"

struct sockstate {
    platform_t *p;
    int64_t user_id; /* 0: anonymous; otherwise counted in presence */
    int64_t session_id;
    uint32_t seq; /* initialConnection attempts so far */
    bool joined;  /* in the user's room */
    /* CONNECT-time credentials, adopted when the socket is connected. */
    int64_t pending_user, pending_session;
};

static void room_of(int64_t uid, char out[32])
{
    snprintf(out, 32, PLATFORM_ROOM_PREFIX "%lld", (long long)uid);
}

static struct sockstate *state_of(sio_socket_t *s, platform_t *p)
{
    struct sockstate *st = sio_socket_data(s);
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return NULL;
        st->p = p;
        sio_socket_set_data(s, st, free);
    }
    return st;
}

/* ---- presence transitions (run under the presence lock) ------------------------------ */

struct transition {
    platform_t *p;
    const char *socket_id; /* going online: the socket to record */
    store_done_fn done;
    void *done_arg;
    int rc;
};

static void went_online(int64_t uid, uint32_t count, void *arg)
{
    struct transition *t = arg;
    t->rc =
        store_user_set_socket(t->p->store, loop_current(), uid, t->socket_id, t->done, t->done_arg);
}

static void went_offline(int64_t uid, uint32_t count, void *arg)
{
    struct transition *t = arg;
    if (count) return;
    store_user_set_socket(t->p->store, loop_current(), uid, NULL, NULL, NULL);
    store_user_set_last_seen(t->p->store, loop_current(), uid, 0, NULL, NULL);
}

/* ---- sockets by session, per loop (for logout) ------------------------------------------ */

struct session_sockets {
    sio_socket_t **v;
    uint32_t n, cap;
};

static struct platform_loop *loop_state(platform_t *p)
{
    loop_t *l = loop_current();
    int i = l ? loop_index(l) : -1;
    return i >= 0 && i < p->nloops ? &p->per[i] : NULL;
}

static void registry_add(platform_t *p, int64_t sid, sio_socket_t *s)
{
    struct platform_loop *pl = loop_state(p);
    if (!pl) return;
    span_t key = span_make((const char *)&sid, sizeof sid);
    struct session_sockets *ss = map_get(&pl->sessions, key);
    if (!ss) {
        ss = calloc(1, sizeof *ss);
        if (!ss || map_put(&pl->sessions, key, ss)) {
            free(ss);
            LOG_WARN("platform", "out of memory: a logout will not reach one socket");
            return;
        }
    }
    if (ss->n == ss->cap) {
        uint32_t cap = ss->cap ? ss->cap * 2 : 2;
        sio_socket_t **v = realloc(ss->v, cap * sizeof *v);
        if (!v) {
            LOG_WARN("platform", "out of memory: a logout will not reach one socket");
            return;
        }
        ss->v = v;
        ss->cap = cap;
    }
    ss->v[ss->n++] = s;
}

static void registry_del(platform_t *p, int64_t sid, sio_socket_t *s)
{
    struct platform_loop *pl = loop_state(p);
    if (!pl) return;
    span_t key = span_make((const char *)&sid, sizeof sid);
    struct session_sockets *ss = map_get(&pl->sessions, key);
    if (!ss) return;
    for (uint32_t i = 0; i < ss->n; i++)
        if (ss->v[i] == s) {
            ss->v[i] = ss->v[--ss->n];
            break;
        }
    if (!ss->n) {
        map_del(&pl->sessions, key);
        free(ss->v);
        free(ss);
    }
}

/* ---- identities of sockets that may be recovered ------------------------------------------- */

struct recovering {
    int64_t user_id, session_id;
    uint64_t expires_ms;
};

/* The reasons after which Socket.IO keeps a session for recovery (as sio/server.c). */
static bool recoverable(const char *reason)
{
    return strcmp(reason, "transport close") == 0 || strcmp(reason, "transport error") == 0 ||
           strcmp(reason, "ping timeout") == 0 || strcmp(reason, "server shutting down") == 0;
}

static void recovering_put(platform_t *p, const char *socket_id, int64_t uid, int64_t sid)
{
    uint64_t now = ratelimit_now_ms();
    pthread_mutex_lock(&p->recovering_mu);
    if (p->recovering.len >= 1024) {
        /* Sweep what can no longer come back. */
        const char *old[64];
        uint32_t lens[64];
        size_t n = 0, it = 0;
        map_entry_t *e;
        while (n < 64 && map_next(&p->recovering, &it, &e))
            if (((struct recovering *)e->value)->expires_ms < now) {
                old[n] = e->key;
                lens[n++] = e->klen;
            }
        for (size_t i = 0; i < n; i++) free(map_del(&p->recovering, span_make(old[i], lens[i])));
    }
    struct recovering *r = malloc(sizeof *r);
    if (r) {
        *r = (struct recovering){uid, sid, now + p->recovery_ms};
        void *prev = map_get(&p->recovering, span_cstr(socket_id));
        if (map_put(&p->recovering, span_cstr(socket_id), r))
            free(r);
        else
            free(prev);
    }
    pthread_mutex_unlock(&p->recovering_mu);
}

static bool recovering_take(platform_t *p, const char *socket_id, struct recovering *out)
{
    pthread_mutex_lock(&p->recovering_mu);
    struct recovering *r = map_del(&p->recovering, span_cstr(socket_id));
    pthread_mutex_unlock(&p->recovering_mu);
    if (!r) return false;
    /* Expired or not: the socket is back with its rooms, so it must be dealt with. */
    *out = *r;
    free(r);
    return true;
}

void platform_realtime_free(platform_t *p)
{
    size_t rit = 0;
    map_entry_t *re;
    while (map_next(&p->recovering, &rit, &re)) free(re->value);
    map_free(&p->recovering);
    for (int i = 0; p->per && i < p->nloops; i++) {
        size_t it = 0;
        map_entry_t *e;
        while (map_next(&p->per[i].sessions, &it, &e)) {
            struct session_sockets *ss = e->value;
            free(ss->v);
            free(ss);
        }
        map_free(&p->per[i].sessions);
    }
}

static void drop_identity(sio_socket_t *s, struct sockstate *st)
{
    if (!st->user_id) return;
    registry_del(st->p, st->session_id, s);
    if (st->joined && sio_socket_connected(s)) {
        char room[32];
        room_of(st->user_id, room);
        sio_leave(s, room);
    }
    st->joined = false;
    struct transition t = {.p = st->p};
    presence_add(st->p->presence, st->user_id, -1, went_offline, &t);
    st->user_id = st->session_id = 0;
}

/* Count the socket for uid and record it on the row; done runs when that committed.
 * 0, or a negative code with the socket left anonymous (done will not run). */
static int adopt_identity(sio_socket_t *s, struct sockstate *st, int64_t uid, int64_t sid,
                          store_done_fn done, void *arg)
{
    struct transition t = {
        .p = st->p, .socket_id = sio_socket_id(s), .done = done, .done_arg = arg};
    int n = presence_add(st->p->presence, uid, +1, went_online, &t);
    if (n < 0) return n;
    st->user_id = uid;
    st->session_id = sid;
    registry_add(st->p, sid, s);
    if (t.rc) {
        drop_identity(s, st);
        return t.rc;
    }
    return 0;
}

static void join_user_room(sio_socket_t *s, struct sockstate *st)
{
    if (st->joined) return;
    char room[32];
    room_of(st->user_id, room);
    if (sio_join(s, room) == 0) st->joined = true;
}

/* ---- initialConnection ------------------------------------------------------------------ */

static void answer(sio_socket_t *s, int64_t ack_id, bool ok, const char *reason)
{
    json_t *args = ok ? json_pack("[b]", 1) : json_pack("[b,{s:s}]", 0, "reason", reason);
    sio_emit(s, "auth", args, NULL, 0);
    json_decref(args);
    if (ack_id != SIO_NO_ACK) {
        json_t *a = json_pack("[b]", ok);
        sio_ack(s, ack_id, a);
        json_decref(a);
    }
}

struct revoke {
    platform_t *p;
    int64_t session_id;
};

static void revoke_here(void *arg)
{
    struct revoke *r = arg;
    struct platform_loop *pl = loop_state(r->p);
    span_t key = span_make((const char *)&r->session_id, sizeof r->session_id);
    struct session_sockets *ss = pl ? map_get(&pl->sessions, key) : NULL;
    uint32_t n = ss ? ss->n : 0;
    sio_socket_t **v = n ? malloc(n * sizeof *v) : NULL;
    for (uint32_t i = 0; v && i < n; i++) v[i] = sio_socket_ref(ss->v[i]);
    /* drop_identity edits the registry: work on the copy. */
    for (uint32_t i = 0; v && i < n; i++) {
        struct sockstate *st = sio_socket_data(v[i]);
        if (st && st->session_id == r->session_id && sio_socket_connected(v[i])) {
            drop_identity(v[i], st);
            answer(v[i], SIO_NO_ACK, false, "logged out");
        }
        sio_socket_unref(v[i]);
    }
    if (n && !v) LOG_WARN("platform", "out of memory: a logout did not reach its sockets");
    free(v);
    free(r);
}

void platform_session_revoked(platform_t *p, int64_t session_id)
{
    for (int i = 0; i < p->nloops; i++) {
        struct revoke *r = malloc(sizeof *r);
        if (!r) continue;
        *r = (struct revoke){p, session_id};
        if (p->loops[i] == loop_current())
            revoke_here(r);
        else if (loop_post(p->loops[i], revoke_here, r) != 0)
            free(r);
    }
}

struct auth_op {
    sio_socket_t *s; /* referenced */
    uint32_t seq;
    int64_t user_id;
    int64_t ack_id;
};

static void auth_committed(void *arg, const struct store_result *res)
{
    struct auth_op *op = arg;
    sio_socket_t *s = op->s;
    struct sockstate *st = sio_socket_data(s);
    if (st && sio_socket_connected(s) && st->seq == op->seq && st->user_id == op->user_id) {
        if (res->err) {
            drop_identity(s, st);
            PSTAT_INC(st->p, socket_auth_failed);
            answer(s, op->ack_id, false, "unavailable");
        } else {
            join_user_room(s, st);
            PSTAT_INC(st->p, socket_auth_ok);
            answer(s, op->ack_id, true, NULL);
        }
    }
    sio_socket_unref(s);
    free(op);
}

/* {id, secretkey} as strings, else false (types are part of the sanitising). */
static bool credentials_of(json_t *data, span_t *id, span_t *secret)
{
    if (!json_is_object(data)) return false;
    json_t *jid = json_object_get(data, "id"), *jsk = json_object_get(data, "secretkey");
    if (!json_is_string(jid) || !json_is_string(jsk)) return false;
    *id = span_make(json_string_value(jid), json_string_length(jid));
    *secret = span_make(json_string_value(jsk), json_string_length(jsk));
    return id->len <= STORE_ID_STR_MAX && secret->len == ACCOUNT_SECRET_LEN;
}

static const char *remote_ip(sio_socket_t *s)
{
    const char *ip = eio_remote_ip(sio_socket_session(s));
    return ip ? ip : "?";
}

/* Is this address or credential locked out? (Counted as a refusal.) */
static bool limited(platform_t *p, const char *ip, span_t id, bool has_id)
{
    uint64_t now = ratelimit_now_ms();
    if (ratelimit_check(p->rl_sock_ip, span_cstr(ip), now) ||
        (has_id && ratelimit_check(p->rl_sock_id, id, now))) {
        PSTAT_INC(p, rate_limited);
        return true;
    }
    return false;
}

static void count_failure(platform_t *p, const char *ip, span_t id, bool has_id)
{
    uint64_t now = ratelimit_now_ms();
    ratelimit_fail(p->rl_sock_ip, span_cstr(ip), now);
    if (has_id) ratelimit_fail(p->rl_sock_id, id, now);
}

static bool storage_error(int rc)
{
    return rc == RS_EUNAVAIL || rc == RS_EIO || rc == RS_ENOMEM || rc == RS_EBUSY;
}

static void on_initial_connection(sio_socket_t *s, sio_event_t *ev, void *arg)
{
    platform_t *p = arg;
    struct sockstate *st = state_of(s, p);
    if (!st) return;
    uint32_t seq = ++st->seq;
    json_t *all = NULL;
    span_t id = SPAN_NULL, secret = SPAN_NULL;
    bool wellformed = sio_packet_data(ev->packet, &all) == 0 &&
                      credentials_of(json_array_get(all, 1), &id, &secret);
    const char *ip = remote_ip(s);
    if (limited(p, ip, id, wellformed)) {
        drop_identity(s, st);
        answer(s, ev->ack_id, false, "rate limited");
        return;
    }
    int64_t uid = 0, sid = 0;
    int rc = wellformed ? platform_authenticate(p, id, secret, &uid, &sid) : RS_EINVAL;
    if (rc) {
        drop_identity(s, st);
        PSTAT_INC(p, socket_auth_failed);
        if (storage_error(rc)) {
            answer(s, ev->ack_id, false, "unavailable");
            return;
        }
        count_failure(p, ip, id, wellformed);
        answer(s, ev->ack_id, false, "invalid credentials");
        return;
    }
    struct auth_op *op = malloc(sizeof *op);
    if (!op) {
        drop_identity(s, st);
        answer(s, ev->ack_id, false, "unavailable");
        return;
    }
    *op = (struct auth_op){sio_socket_ref(s), seq, uid, ev->ack_id};
    if (st->user_id == uid && st->session_id == sid) {
        /* The same identity again (the client re-announces on every connect): refresh. */
        rc = store_user_set_socket(p->store, loop_current(), uid, sio_socket_id(s), auth_committed,
                                   op);
    } else {
        drop_identity(s, st);
        rc = adopt_identity(s, st, uid, sid, auth_committed, op);
    }
    if (rc) {
        sio_socket_unref(op->s);
        free(op);
        drop_identity(s, st);
        answer(s, ev->ack_id, false, "unavailable");
    }
}

/* ---- CONNECT-time authentication ------------------------------------------------------- */

static int connect_auth(sio_socket_t *s, json_t *auth, const char **message, json_t **data,
                        void *arg)
{
    platform_t *p = arg;
    span_t id = SPAN_NULL, secret = SPAN_NULL;
    bool present, wellformed;
    if (json_is_object(auth) &&
        (json_object_get(auth, "id") || json_object_get(auth, "secretkey"))) {
        present = true;
        wellformed = credentials_of(auth, &id, &secret);
    } else {
        eio_session_t *es = sio_socket_session(s);
        id = eio_handshake_cookie(es, "id");
        secret = eio_handshake_cookie(es, "secretkey");
        present = id.base || secret.base;
        wellformed = id.base && secret.base && id.len <= STORE_ID_STR_MAX &&
                     secret.len == ACCOUNT_SECRET_LEN;
    }
    if (!present) return 0; /* anonymous: the seed's client authenticates with initialConnection */
    const char *ip = remote_ip(s);
    *message = "unauthorized";
    if (limited(p, ip, id, wellformed)) {
        *data = json_pack("{s:s}", "reason", "rate limited");
        return RS_EBUSY;
    }
    int64_t uid = 0, sid = 0;
    int rc = wellformed ? platform_authenticate(p, id, secret, &uid, &sid) : RS_EINVAL;
    if (rc) {
        PSTAT_INC(p, connect_auth_failed);
        if (storage_error(rc)) {
            *data = json_pack("{s:s}", "reason", "unavailable");
            return rc;
        }
        count_failure(p, ip, id, wellformed);
        *data = json_pack("{s:s}", "reason", "invalid credentials");
        return RS_EPERM;
    }
    struct sockstate *st = state_of(s, p);
    if (!st) {
        *message = "Internal server error";
        return RS_ENOMEM;
    }
    st->pending_user = uid;
    st->pending_session = sid;
    *message = NULL;
    return 0;
}

/* A recovered socket got its rooms back, its user room included, but not our state: give it
 * its identity back while the session is valid, otherwise take it out of that room. */
static void restore_identity(sio_socket_t *s, struct sockstate *st, const struct recovering *r)
{
    if (st->user_id == r->user_id) return; /* authenticated again at CONNECT as the same user */
    if (!st->user_id) {
        store_reader_t *rd = platform_reader(st->p);
        struct store_session sess;
        if (rd && store_session_get(rd, r->session_id, &sess) == 0 && sess.user_id == r->user_id &&
            adopt_identity(s, st, r->user_id, r->session_id, NULL, NULL) == 0) {
            join_user_room(s, st);
            return;
        }
    }
    char room[32];
    room_of(r->user_id, room);
    sio_leave(s, room);
}

static void on_connection(sio_socket_t *s, void *arg)
{
    platform_t *p = arg;
    struct sockstate *st = sio_socket_data(s);
    if (st && st->pending_user) {
        int64_t uid = st->pending_user, sid = st->pending_session;
        st->pending_user = st->pending_session = 0;
        if (adopt_identity(s, st, uid, sid, NULL, NULL) == 0) {
            join_user_room(s, st);
            PSTAT_INC(st->p, connect_auth_ok);
        }
    }
    struct recovering r;
    if (p->recovery && recovering_take(p, sio_socket_id(s), &r)) {
        if (!st) st = state_of(s, p);
        if (st) restore_identity(s, st, &r);
    }
}

static void on_disconnect(sio_socket_t *s, const char *reason, void *arg)
{
    platform_t *p = arg;
    struct sockstate *st = sio_socket_data(s);
    if (!st) return;
    if (p->recovery && st->user_id && st->joined && recoverable(reason))
        recovering_put(p, sio_socket_id(s), st->user_id, st->session_id);
    drop_identity(s, st);
}

int platform_realtime_setup(platform_t *p)
{
    p->nsp = sio_of(p->sio, "/");
    if (!p->nsp) return RS_ENOMEM;
    if (sio_use(p->nsp, connect_auth, p) || sio_on_connection(p->nsp, on_connection, p) ||
        sio_on_disconnect(p->nsp, on_disconnect, p) ||
        sio_on(p->nsp, "initialConnection", on_initial_connection, p))
        return RS_ENOMEM;
    return 0;
}

/* ---- channels ------------------------------------------------------------------------------ */

static void emit_to_users(platform_t *p, const int64_t *users, size_t n, const char *event,
                          json_t *payload)
{
    if (!payload || !n) return;
    char names[8][32];
    const char *rooms_small[8];
    const char **rooms = rooms_small;
    char(*buf)[32] = names;
    if (n > 8) {
        rooms = malloc(n * sizeof *rooms);
        buf = malloc(n * sizeof *buf);
        if (!rooms || !buf) {
            if (rooms != rooms_small) free(rooms);
            if (buf != names) free(buf);
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        room_of(users[i], buf[i]);
        rooms[i] = buf[i];
    }
    json_t *args = json_pack("[O]", payload);
    sio_bcast_t b = {.rooms = rooms, .nrooms = n};
    if (args && sio_broadcast(p->nsp, &b, event, args) == 0) PSTAT_INC(p, events);
    json_decref(args);
    if (rooms != rooms_small) free(rooms);
    if (buf != names) free(buf);
}

void platform_emit_followed(platform_t *p, int64_t followee, int64_t follower,
                            int64_t follower_count)
{
    store_reader_t *rd = platform_reader(p);
    struct store_user u;
    if (!rd || store_user_get(rd, follower, &u)) {
        LOG_WARN("platform", "followed: cannot read user %lld", (long long)follower);
        return;
    }
    json_t *payload = json_pack("{s:o,s:I}", "follower", platform_user_brief(&u), "followerCount",
                                (json_int_t)follower_count);
    emit_to_users(p, &followee, 1, "followed", payload);
    json_decref(payload);
}

void platform_emit_chat(platform_t *p, int64_t chatroom_id, const struct store_message *m,
                        int64_t only)
{
    store_reader_t *rd = platform_reader(p);
    if (!rd) return;
    struct store_user_page members = {0};
    if (store_chatroom_members(rd, chatroom_id, &members)) {
        LOG_WARN("platform", "chat event: cannot read the members of %lld", (long long)chatroom_id);
        return;
    }
    int64_t *ids = malloc((members.n ? members.n : 1) * sizeof *ids);
    json_t *brief = json_array();
    for (size_t i = 0; ids && i < members.n; i++) {
        ids[i] = members.items[i].id;
        json_array_append_new(brief, platform_user_brief(&members.items[i]));
    }
    json_t *last = NULL;
    if (m) {
        last = platform_message_event(p, rd, m);
    } else {
        struct store_message lm = {0};
        if (store_message_last(rd, chatroom_id, &lm) == 0)
            last = platform_message_event(p, rd, &lm);
        store_message_clear(&lm);
    }
    if (!ids) goto out;
    if (m && last) {
        char room_id[STORE_ID_STR_MAX + 1];
        store_id_format(chatroom_id, room_id);
        json_t *payload = json_pack("{s:s,s:O}", "chatroomId", room_id, "message", last);
        emit_to_users(p, ids, members.n, "chatroom", payload);
        json_decref(payload);
    }
    for (size_t i = 0; i < members.n; i++) {
        if (only && ids[i] != only) continue;
        struct store_chatroom c;
        if (store_chatroom_get(rd, chatroom_id, ids[i], &c)) continue;
        char room_id[STORE_ID_STR_MAX + 1];
        store_id_format(c.id, room_id);
        json_t *payload = json_pack("{s:{s:s,s:s,s:o,s:O,s:O,s:I}}", "chatroom", "id", room_id,
                                    "kind", c.kind == STORE_CHATROOM_GROUP ? "GROUP" : "DIRECT",
                                    "name", c.has_name ? json_string(c.name) : json_null(),
                                    "members", brief, "lastMessage", last ? last : json_null(),
                                    "unreadCount", (json_int_t)c.unread_count);
        emit_to_users(p, &ids[i], 1, "updatedChat", payload);
        json_decref(payload);
    }
out:
    free(ids);
    json_decref(brief);
    json_decref(last);
    store_user_page_free(&members);
}
