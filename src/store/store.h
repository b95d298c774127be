/* store.h - everything the platform knows: users, sessions, follows, chatrooms, messages.
 *
 * One interface, two backends chosen by URL: `sqlite:PATH` (the directory is created) or
 * `postgres://...` / `postgresql://...` (a libpq URI). Nothing above this header knows which
 * backend runs; both pass the same test suite (tests/unit/store/test_store.c).
 *
 * Threads.
 *  - Writes are asynchronous. Every write request is copied into a queue served by ONE writer
 *    thread that does group commit: it takes every pending write (up to max_batch), runs them
 *    in one transaction in which a write that fails (duplicate username, self-follow, ...)
 *    changes nothing, COMMITs once (one fsync), and only then hands each completion to
 *    config.post(origin, ...), so the caller answers its client and emits its events only
 *    for durable data. On PostgreSQL the whole batch travels in one pipelined round trip.
 *    With no_group_commit every write is its own transaction (the benchmark baseline).
 *    Submission functions are thread-safe.
 *  - Reads are synchronous, on a store_reader_t that one thread owns (one per worker thread).
 *    SQLite readers are separate WAL connections: they see the last committed state and never
 *    wait for the writer. PostgreSQL readers are separate libpq connections, so a read costs
 *    the caller's thread one blocking round trip to the server: keep PostgreSQL on a near
 *    host (a pool of reader threads answering through the poster is the way to go further;
 *    not built, not measured).
 *    A read issued after a write's completion sees that write.
 *
 * Ids. Every id is a positive int64 (1..2^63-1), shown to clients as its decimal string
 * (store_id_format / store_id_parse). Users, follows, chatrooms and messages take ascending
 * ids from the database, so message ids follow commit order on one node and serve as history
 * cursors. Session ids are random (libsodium randombytes) so that a session's `id` credential
 * says nothing about how many sessions exist; the secret beside it does the authenticating.
 * Times are milliseconds since the Unix epoch (UTC), set by the writer when the write runs.
 *
 * Text. Every text field is stored and returned byte for byte (never interpreted, never
 * built into SQL: prepared statements only). The store refuses, with RS_EUTF8, text that is
 * not valid UTF-8 and, with RS_EINVAL, text containing NUL (PostgreSQL cannot store it), so
 * both backends hold the same data. Content rules (username charset, message trimming,
 * 4,000-character limit) belong to the app layer (app/account.h); the store caps bytes.
 *
 * Errors. Functions return 0 or a negative rs_err (util/err.h): RS_EEXIST duplicate
 * username, RS_EINVAL bad argument or self-follow, RS_ENOTFOUND unknown user/chatroom/session,
 * RS_EPERM not a member, RS_ETOOBIG a size cap, RS_EUTF8 bad text, RS_EBUSY the write queue
 * is full or the SQLite file is locked by another process, RS_EUNAVAIL the PostgreSQL server
 * is unreachable (the store reconnects by itself; retry later), RS_EIO anything else (the
 * detail is logged under component "store"). */
#ifndef ROOST_STORE_STORE_H
#define ROOST_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define STORE_SCHEMA_VERSION    2     /* the newest migration this binary knows */
#define STORE_USERNAME_MAX      32    /* bytes */
#define STORE_DISPLAY_NAME_MAX  256   /* bytes: 64 characters of up to 4 bytes */
#define STORE_PWHASH_MAX        255   /* bytes of an encoded password hash */
#define STORE_SECRET_HASH_MAX   128   /* bytes of an encoded session-secret hash */
#define STORE_SOCKET_ID_MAX     63    /* bytes */
#define STORE_CHATROOM_NAME_MAX 256   /* bytes */
#define STORE_TEXT_MAX          16000 /* bytes of a message: 4,000 characters of up to 4 bytes */
#define STORE_PAGE_MAX          100   /* most items one list call returns */
#define STORE_ID_STR_MAX        20    /* decimal digits of the largest id */
#define STORE_NODE_ID_MAX       32    /* bytes of a presence node id */

typedef struct store store_t;
typedef struct store_reader store_reader_t;

/* Runs fn(arg) on the event loop identified by origin (any thread may call it). Returns 0
 * when fn will run, non-zero when it never will (the loop is gone). */
typedef int (*store_post_fn)(void *origin, void (*fn)(void *arg), void *arg);

struct store_config {
    const char *url;      /* "sqlite:PATH", "postgres://..." or "postgresql://..." */
    store_post_fn post;   /* NULL: completions run on the writer thread (tools, tests) */
    bool no_group_commit; /* one transaction per write (benchmark baseline) */
    int max_batch;        /* most writes in one transaction; 0 = 1024 (SQLite), 64 (PG) */
    int queue_max;        /* most queued writes before RS_EBUSY; 0 = 65536 */
    int group_max;        /* most members of a group chatroom, creator included; 0 = 64 */
    int busy_timeout_ms;  /* SQLite: wait this long for another process's lock; 0 = 5000 */
};

struct store_user {
    int64_t id;
    char username[STORE_USERNAME_MAX + 1];      /* as registered */
    char username_norm[STORE_USERNAME_MAX + 1]; /* ASCII-lowercased: the unique key */
    char display_name[STORE_DISPLAY_NAME_MAX + 1];
    char socket_id[STORE_SOCKET_ID_MAX + 1]; /* "" when none */
    int64_t last_seen_ms;                    /* 0 when never seen */
    int64_t created_ms;
    int64_t follower_count;
    int64_t following_count;
};

struct store_session {
    int64_t id;
    int64_t user_id;
    int64_t created_ms;
    char secret_hash[STORE_SECRET_HASH_MAX + 1];
};

enum store_chatroom_kind { STORE_CHATROOM_DIRECT = 1, STORE_CHATROOM_GROUP = 2 };

struct store_chatroom {
    int64_t id;
    int kind; /* enum store_chatroom_kind */
    bool has_name;
    char name[STORE_CHATROOM_NAME_MAX + 1]; /* "" when !has_name */
    int64_t created_ms;
    int64_t last_activity_ms; /* creation, then each message */
    int64_t last_message_id;  /* 0 when no message yet */
    int64_t member_count;
    /* For the member the chatroom was read for (the viewer): */
    int64_t last_read_message_id;
    int64_t unread_count; /* messages after last_read_message_id */
};

struct store_message {
    int64_t id;
    int64_t chatroom_id;
    int64_t sender_id;
    int64_t created_ms;
    char *text; /* NUL-terminated, owned by whatever holds the struct */
    size_t text_len;
};

/* Lists. Items are owned by the page; free it with its _free function (which leaves it
 * empty, so freeing twice is harmless). */
struct store_user_page {
    struct store_user *items;
    size_t n;
    bool has_more;      /* more items after the last one */
    int64_t end_cursor; /* follower lists: pass as `after` for the next page */
};
struct store_chatroom_page {
    struct store_chatroom *items;
    size_t n;
    bool has_more; /* next page: after = (items[n-1].last_activity_ms, items[n-1].id) */
};
struct store_message_page {
    struct store_message *items; /* oldest first */
    size_t n;
    bool has_more; /* older messages exist: pass items[0].id as `before` */
};

void store_user_page_free(struct store_user_page *p);
void store_chatroom_page_free(struct store_chatroom_page *p);
void store_message_page_free(struct store_message_page *p);
void store_message_clear(struct store_message *m);

/* ---- lifecycle ------------------------------------------------------------------------ */

/* Open the store: connect, apply pending migrations, start the writer thread. On failure
 * returns RS_EINVAL (bad URL or config; database newer than this binary), RS_EBUSY (SQLite
 * file locked by another process), RS_EPERM (read-only file or directory), RS_EUNAVAIL
 * (PostgreSQL unreachable), RS_EIO or RS_ENOMEM, with a one-line explanation in err. */
int store_open(const struct store_config *cfg, store_t **out, char *err, size_t errlen);

/* Stop accepting writes, commit and complete every queued write, stop the writer and close
 * every connection. Every reader must be closed first. The poster must stay usable until
 * this returns. NULL is a no-op. */
void store_close(store_t *s);

/* `roost migrate`: connect, apply pending migrations, report the versions, disconnect.
 * *from / *to (either may be NULL) get the schema version before and after. Errors as for
 * store_open. store_open migrates too; this is for running it alone. */
int store_migrate(const struct store_config *cfg, int *from, int *to, char *err, size_t errlen);

/* `roost check`: run the backend's integrity check (SQLite: integrity_check and
 * foreign_key_check; both: consistency queries over counters, activity times and
 * memberships) on a fresh connection. Appends one line per finding to report (may be NULL).
 * Returns 0 when clean, RS_EIO when anything is wrong, RS_EUNAVAIL / RS_ENOMEM. */
int store_check(store_t *s, buf_t *report);

/* "sqlite" or "postgres". */
const char *store_backend_name(const store_t *s);

/* Histogram bucket upper bounds (inclusive); the last bucket is +Inf. */
#define STORE_COMMIT_MS_BOUNDS {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}
#define STORE_BATCH_BOUNDS {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}
#define STORE_COMMIT_BUCKETS 11 /* 10 bounds + Inf */
#define STORE_BATCH_BUCKETS 12  /* 11 bounds + Inf */

struct store_stats {
    uint64_t writes;        /* write requests completed (success or failure) */
    uint64_t writes_failed; /* of which completed with an error */
    uint64_t transactions;  /* transactions committed by the writer (= fsyncs) */
    uint64_t batch_max;     /* largest number of writes committed in one transaction */
    uint64_t queued;        /* writes waiting right now */
    uint64_t reconnects;    /* PostgreSQL reconnections */
    /* Committed transactions by duration (begin to commit, in ms) and by writes per commit:
     * counts per bucket (not cumulative), and the sum of durations in microseconds. */
    uint64_t commit_ms_hist[STORE_COMMIT_BUCKETS];
    uint64_t commit_us_sum;
    uint64_t batch_hist[STORE_BATCH_BUCKETS];
    uint64_t batch_sum; /* writes committed, summed over the transactions counted above */
};
void store_stats_get(store_t *s, struct store_stats *out);

/* Ids as clients see them. store_id_parse accepts exactly the canonical decimal form
 * (no sign, no leading zero, 1..INT64_MAX): anything else is RS_EINVAL. store_id_format
 * writes it NUL-terminated into out (STORE_ID_STR_MAX + 1 bytes) and returns its length. */
int store_id_parse(const char *s, size_t len, int64_t *out);
size_t store_id_format(int64_t id, char *out);

/* ---- reads ---------------------------------------------------------------------------- */

/* A connection for synchronous reads, used by one thread at a time. RS_ENOMEM, RS_EIO,
 * RS_EUNAVAIL. A PostgreSQL reader reconnects by itself (a read during an outage returns
 * RS_EUNAVAIL). Close it before store_close. */
int store_reader_open(store_t *s, store_reader_t **out);
void store_reader_close(store_reader_t *r);

/* One user. RS_ENOTFOUND. By username: compared ASCII-case-insensitively. */
int store_user_get(store_reader_t *r, int64_t id, struct store_user *out);
int store_user_get_by_username(store_reader_t *r, const char *username, size_t len,
                               struct store_user *out);
/* The stored password hash (NUL-terminated into out, STORE_PWHASH_MAX + 1 bytes): only for
 * verifying a login. RS_ENOTFOUND. */
int store_user_password_hash(store_reader_t *r, int64_t id, char *out);
/* Users whose username or display name contains `search` (case-insensitively: for ASCII on
 * SQLite, per the database's LC_CTYPE on PostgreSQL; empty matches all), by username_norm,
 * after the username_norm `after` (NULL or "" from the start). first is 1..STORE_PAGE_MAX,
 * otherwise RS_EINVAL. */
int store_user_search(store_reader_t *r, const char *search, size_t search_len, const char *after,
                      int first, struct store_user_page *out);

/* A live session (id -> user and secret hash). RS_ENOTFOUND when unknown or revoked. The
 * caller compares the secret's hash in constant time (app/account.h). */
int store_session_get(store_reader_t *r, int64_t session_id, struct store_session *out);

/* Does follower follow followee? */
int store_follow_is_following(store_reader_t *r, int64_t follower, int64_t followee, bool *out);
/* Who follows user_id / whom user_id follows, most recent follow first. after: 0 for the
 * first page, then the previous page's end_cursor. first 1..STORE_PAGE_MAX. An unknown user
 * has no followers (empty page, not an error). */
int store_follow_followers(store_reader_t *r, int64_t user_id, int64_t after, int first,
                           struct store_user_page *out);
int store_follow_following(store_reader_t *r, int64_t user_id, int64_t after, int first,
                           struct store_user_page *out);

/* A chatroom as seen by the member viewer_id. RS_ENOTFOUND (no such chatroom), RS_EPERM
 * (viewer_id is not a member: callers must not reveal whether it exists). */
int store_chatroom_get(store_reader_t *r, int64_t chatroom_id, int64_t viewer_id,
                       struct store_chatroom *out);
/* The chatrooms user_id belongs to, most recent activity first. First page: after_activity
 * and after_id 0; then the last item's (last_activity_ms, id). first 1..STORE_PAGE_MAX. */
int store_chatroom_list(store_reader_t *r, int64_t user_id, int64_t after_activity,
                        int64_t after_id, int first, struct store_chatroom_page *out);
/* Every member (at most group_max), by username. RS_ENOTFOUND for an unknown chatroom. */
int store_chatroom_members(store_reader_t *r, int64_t chatroom_id, struct store_user_page *out);
/* Messages after user_id's read marker. RS_ENOTFOUND, RS_EPERM (not a member). */
int store_chatroom_unread(store_reader_t *r, int64_t chatroom_id, int64_t user_id, int64_t *out);

/* The `last` (1..STORE_PAGE_MAX) newest messages older than message id `before` (0: the
 * newest), returned oldest first, for member viewer_id. RS_ENOTFOUND, RS_EPERM. */
int store_message_history(store_reader_t *r, int64_t chatroom_id, int64_t viewer_id, int64_t before,
                          int last, struct store_message_page *out);
/* The newest message (out->text owned by out: store_message_clear). RS_ENOTFOUND when the
 * chatroom has none (or does not exist). */
int store_message_last(store_reader_t *r, int64_t chatroom_id, struct store_message *out);

/* Presence (see "presence across nodes" below): is user_id online on a node other than
 * except_node (NULL: any node) whose last heartbeat is within that node's TTL (on the
 * database's clock)? RS_EINVAL for a bad node id. */
int store_presence_online(store_reader_t *r, int64_t user_id, const char *except_node, bool *out);

/* ---- writes --------------------------------------------------------------------------- */

enum store_op {
    STORE_OP_USER_CREATE = 1,
    STORE_OP_USER_SET_PASSWORD,
    STORE_OP_USER_SET_SOCKET,
    STORE_OP_USER_SET_LAST_SEEN,
    STORE_OP_SESSION_CREATE,
    STORE_OP_SESSION_REVOKE,
    STORE_OP_FOLLOW_TOGGLE,
    STORE_OP_CHATROOM_DIRECT,
    STORE_OP_CHATROOM_GROUP,
    STORE_OP_MESSAGE_SEND,
    STORE_OP_CHATROOM_MARK_READ,
    STORE_OP_PRESENCE_ADD,
    STORE_OP_PRESENCE_REMOVE,
    STORE_OP_PRESENCE_RESET,
    STORE_OP_PRESENCE_HEARTBEAT,
    STORE_OP_PRESENCE_NODE_REMOVE,
};

/* What a write produced. Valid only during the completion callback: copy what you keep. */
struct store_result {
    enum store_op op;
    int err; /* 0 or a negative rs_err; on error the union is zeroed */
    union {
        struct { /* USER_CREATE */
            struct store_user user;
            int64_t session_id; /* 0 when no session was requested */
        } user_create;
        struct store_session session; /* SESSION_CREATE */
        struct {                      /* FOLLOW_TOGGLE */
            bool following;           /* the new state */
            int64_t follower_count;   /* of the followee, after the toggle */
            int64_t following_count;  /* of the follower, after the toggle */
        } follow;
        struct { /* CHATROOM_DIRECT, CHATROOM_GROUP: as seen by the requester */
            struct store_chatroom chatroom;
            bool created; /* false: the direct chatroom already existed */
        } chatroom;
        struct store_message message; /* MESSAGE_SEND */
        int64_t last_read_message_id; /* CHATROOM_MARK_READ */
        struct {                      /* PRESENCE_HEARTBEAT */
            bool created;  /* the node had no entry: its first beat, or it had been swept as
                              silent and its rows are gone (reset them) */
            int64_t swept; /* silent nodes removed by this beat, with their rows */
        } heartbeat;
    };
};

/* Called on origin's loop (through config.post) after the write's transaction committed -
 * or failed. Never called from inside the submitting call. */
typedef void (*store_done_fn)(void *arg, const struct store_result *res);

/* Every write below copies its arguments and returns 0 when queued: done(arg, result) then
 * runs exactly once, later, through post(origin, ...) (done may be NULL: fire and forget).
 * A negative return means nothing was queued and done never runs: RS_EINVAL / RS_ETOOBIG /
 * RS_EUTF8 (bad argument, checked before queueing), RS_EBUSY (queue full: shed load),
 * RS_ECLOSED (store closing), RS_ENOMEM. If post fails for a completion, the result is
 * dropped (logged) and done does not run. Errors delivered in res->err are listed per call;
 * any write may also fail with RS_EIO, RS_EBUSY or RS_EUNAVAIL (not applied - except that a
 * PostgreSQL connection lost during COMMIT leaves it unknown, reported as RS_EUNAVAIL). */

/* A user. username 1..STORE_USERNAME_MAX bytes (validated and normalised by the app first:
 * app/account.h), display name 1..STORE_DISPLAY_NAME_MAX bytes, password hash as encoded
 * by account_password_hash. With secret_hash non-NULL a session is created in the same
 * transaction (register = create + log in). res: user_create. RS_EEXIST: username taken. */
int store_user_create(store_t *s, void *origin, const char *username, size_t username_len,
                      const char *display_name, size_t display_name_len, const char *pwhash,
                      const char *secret_hash, store_done_fn done, void *arg);
/* Replace the password hash (rehash after a cost increase). RS_ENOTFOUND. */
int store_user_set_password_hash(store_t *s, void *origin, int64_t user_id, const char *pwhash,
                                 store_done_fn done, void *arg);
/* Record the user's current socket id (NULL or "" clears it). RS_ENOTFOUND. */
int store_user_set_socket(store_t *s, void *origin, int64_t user_id, const char *socket_id,
                          store_done_fn done, void *arg);
/* Record when the user was last seen (ms; 0 = now). RS_ENOTFOUND. */
int store_user_set_last_seen(store_t *s, void *origin, int64_t user_id, int64_t ms,
                             store_done_fn done, void *arg);
/* A session for user_id holding the secret's hash (res: session, with its new random id).
 * RS_ENOTFOUND: unknown user. */
int store_session_create(store_t *s, void *origin, int64_t user_id, const char *secret_hash,
                         store_done_fn done, void *arg);
/* Revoke a session (logout). RS_ENOTFOUND when unknown or already revoked. */
int store_session_revoke(store_t *s, void *origin, int64_t session_id, store_done_fn done,
                         void *arg);
/* Follow followee, or unfollow when already following. res: follow. RS_EINVAL self-follow,
 * RS_ENOTFOUND unknown follower or followee. */
int store_follow_toggle(store_t *s, void *origin, int64_t follower, int64_t followee,
                        store_done_fn done, void *arg);
/* The one-to-one chatroom of a and b, created on first use; idempotent, also when requests
 * race (one row per pair, enforced by a unique key). res: chatroom as seen by a.
 * RS_EINVAL a == b, RS_ENOTFOUND unknown user. */
int store_chatroom_direct(store_t *s, void *origin, int64_t a, int64_t b, store_done_fn done,
                          void *arg);
/* A group chatroom of creator and members (duplicates and the creator are ignored; at least
 * one other member, at most group_max in all), named name (NULL/empty: no name,
 * STORE_CHATROOM_NAME_MAX bytes at most). res: chatroom as seen by creator. RS_EINVAL no
 * other member, RS_ETOOBIG over group_max, RS_ENOTFOUND unknown user. */
int store_chatroom_group(store_t *s, void *origin, int64_t creator, const int64_t *members,
                         size_t n_members, const char *name, size_t name_len, store_done_fn done,
                         void *arg);
/* Store a message (1..STORE_TEXT_MAX bytes, verbatim), make it the chatroom's latest
 * activity, and move the sender's read marker to it. res: message (with id, created_ms).
 * RS_ENOTFOUND unknown chatroom, RS_EPERM sender not a member. */
int store_message_send(store_t *s, void *origin, int64_t chatroom_id, int64_t sender_id,
                       const char *text, size_t text_len, store_done_fn done, void *arg);
/* Move user_id's read marker to the chatroom's newest message. res: last_read_message_id.
 * RS_ENOTFOUND, RS_EPERM. */
int store_chatroom_mark_read(store_t *s, void *origin, int64_t chatroom_id, int64_t user_id,
                             store_done_fn done, void *arg);

/* ---- presence across nodes -------------------------------------------------------------
 * Which users have an authenticated socket on which node, kept where every node sharing the
 * database reads it. A node is a text id (1..STORE_NODE_ID_MAX bytes, chosen at random per
 * process) with an entry holding its last heartbeat and its TTL; a (user, node) row says the
 * user is online there. Rows count only while their node's last heartbeat is younger than the
 * node's own TTL, so a node that died without cleaning up stops counting within its TTL (nodes
 * may use different TTLs); any node's heartbeat then deletes the silent node's entry and rows.
 * Times are the database's clock (PostgreSQL clock_timestamp(), SQLite julianday('now')), so
 * the nodes' clocks need not agree. These writes are idempotent and take part in group commit
 * like any other; a node submits its adds and removes in transition order (app/realtime.c).
 * RS_EINVAL for a bad node id. */

/* (user_id, node) is online / no longer online. No domain errors (adding twice or removing
 * what is absent is fine). */
int store_presence_add(store_t *s, void *origin, const char *node, int64_t user_id,
                       store_done_fn done, void *arg);
int store_presence_remove(store_t *s, void *origin, const char *node, int64_t user_id,
                          store_done_fn done, void *arg);
/* Replace every row of node with user_ids (n of them, duplicates allowed): a node's full
 * state, after its rows were swept or a presence write failed. */
int store_presence_reset(store_t *s, void *origin, const char *node, const int64_t *user_ids,
                         size_t n, store_done_fn done, void *arg);
/* Record the node's heartbeat (now) and its TTL (ttl_ms > 0: how long after this beat its rows
 * still count), then delete the entries and rows of every other node silent for longer than
 * its own TTL. res: heartbeat. On PostgreSQL the sweep skips rows another transaction holds
 * (they do not count, and a later sweep takes them), so it never waits. */
int store_presence_heartbeat(store_t *s, void *origin, const char *node, int64_t ttl_ms,
                             store_done_fn done, void *arg);
/* The node leaves: its rows and its entry are deleted. */
int store_presence_node_remove(store_t *s, void *origin, const char *node, store_done_fn done,
                               void *arg);

#endif
