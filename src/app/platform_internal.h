/* platform_internal.h - what the platform's files share (platform.c: setup, HTTP glue,
 * metrics; resolvers.c: the GraphQL schema and resolvers; realtime.c: the socket handshake,
 * presence and the live channels). Not for use outside src/app/platform*.c, resolvers.c and
 * realtime.c. */
#ifndef ROOST_APP_PLATFORM_INTERNAL_H
#define ROOST_APP_PLATFORM_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "app/account.h"
#include "app/hasher.h"
#include "app/platform.h"
#include "app/presence.h"
#include "app/ratelimit.h"
#include "cluster/redis.h"
#include "gql/gql.h"
#include "gql/transport.h"
#include "util/map.h"

#define PLATFORM_TEXT_MAX_CHARS 4000 /* characters of a message */
#define PLATFORM_ROOM_NAME_MAX  64   /* characters of a group chatroom's name */
#define PLATFORM_SEARCH_MAX     64   /* bytes of a user search */
#define PLATFORM_ROOM_PREFIX    "user:"

struct platform_loop {
    store_reader_t *reader; /* opened lazily on this loop's thread */
    map_t sessions;         /* 8-byte session id -> struct session_sockets: authenticated
                               sockets on this loop, so that a logout reaches them */
};

struct platform_stats {
    uint64_t logins, login_failures, registrations, register_failures, logouts;
    uint64_t socket_auth_ok, socket_auth_failed, connect_auth_ok, connect_auth_failed;
    uint64_t rate_limited, hash_busy, messages, follows, chatrooms_created, events;
    uint64_t remote_revokes, presence_resets, presence_write_failures;
};

struct platform {
    const config_t *cfg;
    store_t *store;
    sio_server_t *sio;
    sio_nsp_t *nsp;
    loop_t *const *loops;
    int nloops;
    struct platform_loop *per;
    gql_schema_t *schema;
    gql_http_config_t http_cfg;
    hasher_t *hasher;
    presence_t *presence;
    ratelimit_t *rl_account; /* login failures per username */
    ratelimit_t *rl_ip;      /* login/register failures per address */
    ratelimit_t *rl_sock_ip; /* socket authentication failures per address */
    ratelimit_t *rl_sock_id; /* socket authentication failures per session id */
    bool secure_cookies;
    /* Connection-state recovery brings a socket back with its rooms (a user room included):
     * socket id -> the identity it had, so it gets that identity back (if the session is
     * still valid) or leaves the room. */
    bool recovery;
    uint32_t recovery_ms;
    pthread_mutex_t recovering_mu;
    map_t recovering;
    /* Presence across nodes (realtime.c): this process's id in the store's presence tables,
     * and the heartbeat that keeps its rows counting, on the sequencer loop. */
    char node[STORE_NODE_ID_MAX + 1];
    int64_t presence_ttl_ms;
    loop_timer_t beat_timer;
    bool beaten;                 /* sequencer loop: a heartbeat has committed */
    bool beat_failing;           /* sequencer loop: the last heartbeat failed (logged once) */
    bool closing;                /* platform_free began: no more heartbeats or resets */
    int presence_dirty;          /* atomic: a presence write failed; reset at the next beat */
    int presence_inflight;       /* atomic: presence writes whose completion has not run */
    redis_adapter_t *adapter;    /* --adapter: logouts reach the other nodes through it */
    struct platform_stats stats; /* relaxed atomics */
};

#define PSTAT_INC(p, f) __atomic_add_fetch(&(p)->stats.f, 1, __ATOMIC_RELAXED)

/* The store reader of the calling worker loop (opened on first use); NULL when it cannot be
 * opened (logged). */
store_reader_t *platform_reader(platform_t *p);
/* The loop on which every event-producing write completes, so that events leave in commit
 * order: broadcasts issued from one thread reach every worker in the order issued. */
loop_t *platform_sequencer(platform_t *p);

/* The per-request GraphQL context. */
typedef struct pctx {
    platform_t *p;
    loop_t *loop;
    int64_t viewer_id;  /* 0: anonymous */
    int64_t session_id; /* the session the request authenticated with */
    bool bad_credentials;
    char ip[64];
    int hash_reserved; /* hasher reservations taken by admit and not yet used */
    /* Set by register/login/logout for finish(): cookies to send. */
    bool set_cookies, clear_cookies;
    char cookie_id[STORE_ID_STR_MAX + 1];
    char cookie_secret[ACCOUNT_SECRET_LEN + 1];
} pctx_t;

/* Authenticate {id, secretkey} given as text: 0 with *user_id / *session_id, RS_EINVAL
 * (malformed), RS_EPERM (unknown, revoked or wrong), RS_EUNAVAIL / RS_EIO (storage). Reads on
 * the calling loop's reader; the secret is compared in constant time. */
int platform_authenticate(platform_t *p, span_t id, span_t secret, int64_t *user_id,
                          int64_t *session_id);

/* JSON shapes. */
void platform_iso_time(int64_t ms, char out[32]);
json_t *platform_user_json(const struct store_user *u);  /* GraphQL User value */
json_t *platform_user_brief(const struct store_user *u); /* {id, username, displayName} */
json_t *platform_chatroom_json(const struct store_chatroom *c);
json_t *platform_message_json(const struct store_message *m);
/* The channel form of a message: {id, chatroomId, sender:{...}, text, createdAt}. NULL when
 * the sender cannot be read. */
json_t *platform_message_event(platform_t *p, store_reader_t *rd, const struct store_message *m);

/* resolvers.c */
int platform_schema_setup(platform_t *p);
/* admit() helper: the username argument of a top-level login field, if any (best effort). */
bool platform_login_username(gql_request_t *req, char *out, size_t outlen);

/* realtime.c: Socket.IO namespace "/" (handshake, presence) and the channels. Each emit runs
 * on the sequencer loop after the write it announces committed. Setup also starts the
 * presence heartbeat. */
int platform_realtime_setup(platform_t *p);
/* A session was revoked: every socket authenticated with it, on every worker, loses its
 * identity and hears `auth` false {reason: "logged out"}; with the adapter, every other node
 * is told to do the same (serverSideEmit "roost:revoke"). Call on a worker loop. */
void platform_session_revoked(platform_t *p, int64_t session_id);
/* Is user_id online on any node: this one (no storage read) or another (a store read on the
 * calling loop's reader)? 0 with *out, or a store error (RS_EUNAVAIL, RS_EIO, ...). */
int platform_user_online(platform_t *p, int64_t user_id, bool *out);
/* After the loops stopped, before the readers close: finish the presence writes in flight and
 * delete this node's presence rows (a clean exit takes its users offline at once). */
void platform_realtime_stop(platform_t *p);
/* Release what the socket side keeps per loop (after the loops stopped). */
void platform_realtime_free(platform_t *p);
void platform_emit_followed(platform_t *p, int64_t followee, int64_t follower,
                            int64_t follower_count);
/* updatedChat to every member (or only to `only` when non-zero) of the chatroom, and when m
 * is given, chatroom {chatroomId, message} to every member first. */
void platform_emit_chat(platform_t *p, int64_t chatroom_id, const struct store_message *m,
                        int64_t only);

#endif
