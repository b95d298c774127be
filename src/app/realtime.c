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
 * (see resolvers.c), so every device of every member gets them in commit order.
 *
 * Presence across nodes. The counts in app/presence.h are this process's; other nodes sharing
 * the store learn them from rows (user, this node) that the transitions add and remove - in
 * transition order, under the presence lock, next to the socket-id and last-seen writes. A
 * heartbeat on the sequencer loop (every TTL/6) keeps this node's rows counting and sweeps the
 * rows of nodes silent for longer than the TTL (killed), so a dead node's users go offline
 * everywhere within the TTL. If a presence write failed, or this node's rows were swept while
 * it was merely slow, the next heartbeat replaces its rows with its full state. User.online
 * asks presence first (this node) and the store only when the user has no socket here.
 *
 * Logout across nodes. With the Redis adapter, a revoked session is announced to every other
 * node as serverSideEmit("roost:revoke", "<session id>") on namespace "/"; each node then
 * does what a local logout does to its own sockets. */
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void presence_written(void *arg, const struct store_result *res);

/* Queue the shared-store presence write for a transition (under the presence lock). A write
 * that cannot be queued or fails marks the node's rows stale: the next heartbeat resets them. */
static void presence_row(platform_t *p, int64_t uid, bool online)
{
    __atomic_add_fetch(&p->presence_inflight, 1, __ATOMIC_RELAXED);
    loop_t *seq = platform_sequencer(p);
    int rc = online ? store_presence_add(p->store, seq, p->node, uid, presence_written, p)
                    : store_presence_remove(p->store, seq, p->node, uid, presence_written, p);
    if (rc) {
        __atomic_sub_fetch(&p->presence_inflight, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&p->presence_dirty, 1, __ATOMIC_RELAXED);
        PSTAT_INC(p, presence_write_failures);
    }
}

/* The presence row goes first: the writer commits in queue order, so by the time the socket
 * hears `auth` true (after the socket-id write committed) every node sees the user online. */
static void went_online(int64_t uid, uint32_t count, void *arg)
{
    struct transition *t = arg;
    if (count == 1) presence_row(t->p, uid, true);
    t->rc =
        store_user_set_socket(t->p->store, loop_current(), uid, t->socket_id, t->done, t->done_arg);
}

static void went_offline(int64_t uid, uint32_t count, void *arg)
{
    struct transition *t = arg;
    if (count) return;
    store_user_set_socket(t->p->store, loop_current(), uid, NULL, NULL, NULL);
    store_user_set_last_seen(t->p->store, loop_current(), uid, 0, NULL, NULL);
    presence_row(t->p, uid, false);
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

/* Every worker of this node drops the session's sockets (any thread: posts to the loops). */
static void revoke_on_this_node(platform_t *p, int64_t session_id)
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

#define REVOKE_EVENT "roost:revoke"

void platform_session_revoked(platform_t *p, int64_t session_id)
{
    revoke_on_this_node(p, session_id);
    if (!p->adapter) return;
    char id[STORE_ID_STR_MAX + 1];
    store_id_format(session_id, id);
    json_t *data = json_pack("[s,s]", REVOKE_EVENT, id);
    int rc = data ? redis_adapter_server_side_emit(p->adapter, "/", data) : RS_ENOMEM;
    json_decref(data);
    if (rc)
        LOG_WARN("platform",
                 "a logout could not be sent to the other nodes (%s): their sockets of that "
                 "session stay authenticated until they reconnect",
                 rs_strerror(rc));
}

/* serverSideEmit from another node, on the adapter thread: must not block (posts only). */
static void on_server_side_emit(void *arg, const char *nsp, json_t *data, json_t **reply)
{
    platform_t *p = arg;
    if (strcmp(nsp, "/") != 0 || json_array_size(data) != 2) return;
    const char *ev = json_string_value(json_array_get(data, 0));
    json_t *jid = json_array_get(data, 1);
    if (!ev || strcmp(ev, REVOKE_EVENT) != 0) return; /* someone else's event */
    int64_t sid = 0;
    if (!json_is_string(jid) ||
        store_id_parse(json_string_value(jid), json_string_length(jid), &sid) != 0) {
        LOG_DEBUG("platform", "ignoring a malformed " REVOKE_EVENT " from another node");
        return;
    }
    PSTAT_INC(p, remote_revokes);
    revoke_on_this_node(p, sid);
}

void platform_set_adapter(platform_t *p, redis_adapter_t *a)
{
    if (!p || !a) return;
    p->adapter = a;
    snprintf(p->node, sizeof p->node, "%s", redis_adapter_uid(a));
    redis_adapter_on_server_side_emit(a, on_server_side_emit, p);
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

/* ---- presence across nodes ----------------------------------------------------------------- */

static void presence_written(void *arg, const struct store_result *res)
{
    platform_t *p = arg;
    if (res->err) {
        __atomic_store_n(&p->presence_dirty, 1, __ATOMIC_RELAXED);
        PSTAT_INC(p, presence_write_failures);
    }
    __atomic_sub_fetch(&p->presence_inflight, 1, __ATOMIC_RELAXED);
}

struct reset {
    platform_t *p;
    int rc;
    size_t n;
};

/* Under the presence lock: this node's rows become exactly the users counted now. */
static void submit_reset(const int64_t *ids, size_t n, void *arg)
{
    struct reset *r = arg;
    platform_t *p = r->p;
    __atomic_add_fetch(&p->presence_inflight, 1, __ATOMIC_RELAXED);
    r->rc =
        store_presence_reset(p->store, platform_sequencer(p), p->node, ids, n, presence_written, p);
    if (r->rc) __atomic_sub_fetch(&p->presence_inflight, 1, __ATOMIC_RELAXED);
    r->n = n;
}

static void beat_fired(loop_timer_t *t);

static uint64_t beat_interval(const platform_t *p)
{
    return (uint64_t)p->presence_ttl_ms / 6;
}

static void beat_done(void *arg, const struct store_result *res)
{
    platform_t *p = arg;
    __atomic_sub_fetch(&p->presence_inflight, 1, __ATOMIC_RELAXED);
    if (p->closing) return;
    bool first = !p->beaten;
    if (!res->err) {
        p->beaten = true;
        if (p->beat_failing) LOG_INFO("presence", "heartbeat of node %s works again", p->node);
        p->beat_failing = false;
        if (res->heartbeat.swept)
            LOG_INFO("presence", "%lld silent node(s) removed: their users are offline",
                     (long long)res->heartbeat.swept);
        bool dirty = __atomic_exchange_n(&p->presence_dirty, 0, __ATOMIC_RELAXED);
        if (res->heartbeat.created || dirty) {
            struct reset r = {p, 0, 0};
            int rc = presence_with_users(p->presence, submit_reset, &r);
            if (rc || r.rc) {
                __atomic_store_n(&p->presence_dirty, 1, __ATOMIC_RELAXED);
            } else if (!first) {
                PSTAT_INC(p, presence_resets);
                LOG_WARN("presence", "node %s: %s; its %zu online user(s) are stored again",
                         p->node,
                         res->heartbeat.created
                             ? "its rows had been swept (a heartbeat came later than the TTL)"
                             : "a presence write had failed",
                         r.n);
            }
        }
    } else if (!p->beat_failing) {
        p->beat_failing = true;
        LOG_WARN("presence",
                 "heartbeat of node %s failed (%s): other nodes will count its users "
                 "offline after %lld ms without one",
                 p->node, rs_strerror(res->err), (long long)p->presence_ttl_ms);
    }
    loop_timer_start(platform_sequencer(p), &p->beat_timer, beat_interval(p), beat_fired);
}

static void beat(platform_t *p)
{
    __atomic_add_fetch(&p->presence_inflight, 1, __ATOMIC_RELAXED);
    int rc = store_presence_heartbeat(p->store, platform_sequencer(p), p->node, p->presence_ttl_ms,
                                      beat_done, p);
    if (rc) { /* queue full or closing: try again later */
        __atomic_sub_fetch(&p->presence_inflight, 1, __ATOMIC_RELAXED);
        if (!p->closing)
            loop_timer_start(platform_sequencer(p), &p->beat_timer, beat_interval(p), beat_fired);
    }
}

static void beat_fired(loop_timer_t *t)
{
    platform_t *p = (platform_t *)((char *)t - offsetof(platform_t, beat_timer));
    if (!p->closing) beat(p);
}

/* On the sequencer loop when it starts: by then platform_set_adapter fixed the node id. */
static void beat_start(void *arg)
{
    platform_t *p = arg;
    LOG_INFO("presence", "node %s: presence shared through the store (%s), TTL %lld ms", p->node,
             store_backend_name(p->store), (long long)p->presence_ttl_ms);
    if (!p->closing) beat(p);
}

int platform_user_online(platform_t *p, int64_t user_id, bool *out)
{
    if (presence_online(p->presence, user_id)) {
        *out = true;
        return 0;
    }
    store_reader_t *rd = platform_reader(p);
    if (!rd) return RS_EUNAVAIL;
    return store_presence_online(rd, user_id, p->node, out);
}

void platform_realtime_stop(platform_t *p)
{
    if (!p->store || !p->loops || p->nloops < 1) return;
    p->closing = true;
    loop_t *seq = platform_sequencer(p);
    loop_timer_stop(seq, &p->beat_timer);
    while (loop_drain(seq)) {
    }
    /* Completions of presence writes go to the sequencer loop, which no longer runs: run them
     * here (bounded), so none arrives after the platform is gone. */
    for (int i = 0; i < 10000 && __atomic_load_n(&p->presence_inflight, __ATOMIC_RELAXED); i++)
        if (!loop_drain(seq)) usleep(1000);
    if (__atomic_load_n(&p->presence_inflight, __ATOMIC_RELAXED))
        LOG_WARN("presence", "presence writes still pending at exit");
    if (store_presence_node_remove(p->store, NULL, p->node, NULL, NULL) == 0)
        LOG_INFO("presence", "node %s: leaving, its users are offline", p->node);
}

static void make_node_id(char out[STORE_NODE_ID_MAX + 1])
{
    unsigned char rnd[6];
    randombytes_buf(rnd, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

int platform_realtime_setup(platform_t *p)
{
    p->nsp = sio_of(p->sio, "/");
    if (!p->nsp) return RS_ENOMEM;
    if (sio_use(p->nsp, connect_auth, p) || sio_on_connection(p->nsp, on_connection, p) ||
        sio_on_disconnect(p->nsp, on_disconnect, p) ||
        sio_on(p->nsp, "initialConnection", on_initial_connection, p))
        return RS_ENOMEM;
    make_node_id(p->node);
    if (p->nloops > 0 && loop_post(platform_sequencer(p), beat_start, p) != 0) return RS_ENOMEM;
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
