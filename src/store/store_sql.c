/* store_sql.c - every SQL statement and migration the store runs, for both dialects.
 *
 * All text here is constant: input only ever travels as bound parameters. Parameters are
 * written $N; the SQLite backend binds them as ?N. Where PostgreSQL needs different text
 * (function names, explicit casts where a parameter's type cannot be inferred) the second
 * column holds it. Times are BIGINT milliseconds since the epoch in both dialects. */
#include <stddef.h>

#include "store/store_internal.h"

/* Column lists read by store_row_user / store_row_chatroom: keep them in step. */
#define USER_COLS                                                                                  \
    "u.id, u.username, u.username_norm, u.display_name, u.socket_id, u.last_seen, "                \
    "u.created_at, u.follower_count, u.following_count"
/* Needs the chatroom as c and the viewer's membership row as m. */
#define CHATROOM_COLS                                                                              \
    "c.id, c.kind, c.name, c.created_at, c.last_activity, c.last_message_id, "                     \
    "(SELECT count(*) FROM chatroom_members y WHERE y.chatroom_id = c.id), "                       \
    "m.last_read_message_id, "                                                                     \
    "(SELECT count(*) FROM messages x WHERE x.chatroom_id = c.id "                                 \
    "AND x.id > m.last_read_message_id)"

/* The database's clock in ms since the epoch. Presence compares heartbeats with it, so the
 * nodes' own clocks never need to agree. */
#define SQLITE_NOW "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
#define PG_NOW     "CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS BIGINT)"

const struct store_sql store_sql_table[ST_COUNT_] = {
    [ST_SCHEMA_VERSION] = {{"SELECT coalesce(max(version), 0) FROM schema_migrations", NULL}},
    [ST_SCHEMA_INSERT] = {{"INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                           NULL}},

    [ST_USER_INSERT] = {{"INSERT INTO users (username, username_norm, display_name, "
                         "password_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                         NULL}},
    [ST_USER_BY_ID] = {{"SELECT " USER_COLS " FROM users u WHERE u.id = $1", NULL}},
    [ST_USER_BY_NORM] = {{"SELECT " USER_COLS " FROM users u WHERE u.username_norm = $1", NULL}},
    [ST_USER_PWHASH] = {{"SELECT password_hash FROM users WHERE id = $1", NULL}},
    [ST_USER_SET_PWHASH] = {{"UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id",
                             NULL}},
    [ST_USER_SET_SOCKET] = {{"UPDATE users SET socket_id = $2 WHERE id = $1 RETURNING id", NULL}},
    [ST_USER_SET_LAST_SEEN] = {{"UPDATE users SET last_seen = $2 WHERE id = $1 RETURNING id",
                                NULL}},
    [ST_USER_EXISTS] = {{"SELECT 1 FROM users WHERE id = $1", NULL}},
    [ST_USER_SEARCH] = {{"SELECT " USER_COLS " FROM users u WHERE u.username_norm > $2 AND "
                         "($1 = '' OR instr(u.username_norm, lower($1)) > 0 "
                         "OR instr(lower(u.display_name), lower($1)) > 0) "
                         "ORDER BY u.username_norm LIMIT $3",
                         "SELECT " USER_COLS " FROM users u WHERE u.username_norm > $2 AND "
                         "(CAST($1 AS TEXT) = '' "
                         "OR strpos(u.username_norm, lower(CAST($1 AS TEXT))) > 0 "
                         "OR strpos(lower(u.display_name), lower(CAST($1 AS TEXT))) > 0) "
                         "ORDER BY u.username_norm LIMIT $3"}},
    [ST_USER_ADD_FOLLOWERS] = {{"UPDATE users SET follower_count = follower_count + $2 "
                                "WHERE id = $1 RETURNING follower_count",
                                NULL}},
    [ST_USER_ADD_FOLLOWING] = {{"UPDATE users SET following_count = following_count + $2 "
                                "WHERE id = $1 RETURNING following_count",
                                NULL}},
    [ST_USER_COUNTS] = {{"SELECT follower_count, following_count FROM users WHERE id = $1", NULL}},

    [ST_SESSION_INSERT] = {{"INSERT INTO sessions (id, user_id, secret_hash, created_at) "
                            "VALUES ($1, $2, $3, $4)",
                            NULL}},
    [ST_SESSION_GET] = {{"SELECT id, user_id, created_at, secret_hash FROM sessions "
                         "WHERE id = $1 AND revoked = 0",
                         NULL}},
    [ST_SESSION_REVOKE] = {{"UPDATE sessions SET revoked = 1 WHERE id = $1 AND revoked = 0 "
                            "RETURNING id",
                            NULL}},

    [ST_FOLLOW_DELETE] = {{"DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2 "
                           "RETURNING id",
                           NULL}},
    [ST_FOLLOW_INSERT] = {{"INSERT INTO follows (follower_id, followee_id, created_at) "
                           "VALUES ($1, $2, $3) ON CONFLICT (follower_id, followee_id) "
                           "DO NOTHING RETURNING id",
                           NULL}},
    [ST_FOLLOW_EXISTS] = {{"SELECT 1 FROM follows WHERE follower_id = $1 AND followee_id = $2",
                           NULL}},
    [ST_FOLLOWERS] = {{"SELECT " USER_COLS ", f.id FROM follows f JOIN users u "
                       "ON u.id = f.follower_id WHERE f.followee_id = $1 AND f.id < $2 "
                       "ORDER BY f.id DESC LIMIT $3",
                       NULL}},
    [ST_FOLLOWING] = {{"SELECT " USER_COLS ", f.id FROM follows f JOIN users u "
                       "ON u.id = f.followee_id WHERE f.follower_id = $1 AND f.id < $2 "
                       "ORDER BY f.id DESC LIMIT $3",
                       NULL}},

    [ST_CHATROOM_INSERT] = {{"INSERT INTO chatrooms (kind, name, direct_key, created_at, "
                             "last_activity) VALUES ($1, $2, $3, $4, $4) "
                             "ON CONFLICT (direct_key) DO NOTHING RETURNING id",
                             NULL}},
    [ST_CHATROOM_BY_KEY] = {{"SELECT id FROM chatrooms WHERE direct_key = $1", NULL}},
    [ST_CHATROOM_EXISTS] = {{"SELECT 1 FROM chatrooms WHERE id = $1", NULL}},
    [ST_CHATROOM_VIEW] = {{"SELECT " CHATROOM_COLS " FROM chatrooms c JOIN chatroom_members m "
                           "ON m.chatroom_id = c.id AND m.user_id = $2 WHERE c.id = $1",
                           NULL}},
    [ST_CHATROOM_LIST] = {{"SELECT " CHATROOM_COLS " FROM chatroom_members m JOIN chatrooms c "
                           "ON c.id = m.chatroom_id WHERE m.user_id = $1 AND "
                           "(c.last_activity < $2 OR (c.last_activity = $2 AND "
                           "c.id < $3)) "
                           "ORDER BY c.last_activity DESC, c.id DESC LIMIT $4",
                           NULL}},
    [ST_CHATROOM_TOUCH] = {{"UPDATE chatrooms SET last_activity = $2, last_message_id = $3 "
                            "WHERE id = $1",
                            NULL}},

    [ST_MEMBER_INSERT] = {{"INSERT INTO chatroom_members (chatroom_id, user_id, "
                           "last_read_message_id, joined_at) VALUES ($1, $2, 0, $3)",
                           NULL}},
    [ST_MEMBERSHIP] = {{"SELECT (SELECT count(*) FROM chatrooms WHERE id = $1), "
                        "(SELECT count(*) FROM chatroom_members WHERE chatroom_id = $1 "
                        "AND user_id = $2)",
                        NULL}},
    [ST_MEMBERS] = {{"SELECT " USER_COLS " FROM chatroom_members m JOIN users u "
                     "ON u.id = m.user_id WHERE m.chatroom_id = $1 "
                     "ORDER BY u.username_norm LIMIT $2",
                     NULL}},
    [ST_MEMBER_READ_TO] = {{"UPDATE chatroom_members SET last_read_message_id = $3 "
                            "WHERE chatroom_id = $1 AND user_id = $2",
                            NULL}},
    [ST_MEMBER_MARK_READ] = {{"UPDATE chatroom_members SET last_read_message_id = "
                              "(SELECT c.last_message_id FROM chatrooms c WHERE c.id = $1) "
                              "WHERE chatroom_id = $1 AND user_id = $2 "
                              "RETURNING last_read_message_id",
                              NULL}},
    [ST_MEMBER_UNREAD] = {{"SELECT (SELECT count(*) FROM messages x WHERE x.chatroom_id = "
                           "m.chatroom_id AND x.id > m.last_read_message_id) "
                           "FROM chatroom_members m WHERE m.chatroom_id = $1 AND m.user_id = $2",
                           NULL}},

    [ST_MESSAGE_INSERT] = {{"INSERT INTO messages (chatroom_id, sender_id, text, created_at) "
                            "VALUES ($1, $2, $3, $4) RETURNING id",
                            NULL}},
    [ST_MESSAGE_HISTORY] = {{"SELECT id, chatroom_id, sender_id, created_at, text FROM messages "
                             "WHERE chatroom_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                             NULL}},
    [ST_MESSAGE_LAST] = {{"SELECT id, chatroom_id, sender_id, created_at, text FROM messages "
                          "WHERE chatroom_id = $1 ORDER BY id DESC LIMIT 1",
                          NULL}},

    /* Presence: (user, node) rows, and one heartbeat row per node. */
    [ST_PRESENCE_ADD] = {{"INSERT INTO presence (user_id, node) VALUES ($2, $1) "
                          "ON CONFLICT (user_id, node) DO NOTHING",
                          NULL}},
    [ST_PRESENCE_REMOVE] = {{"DELETE FROM presence WHERE node = $1 AND user_id = $2", NULL}},
    [ST_PRESENCE_CLEAR] = {{"DELETE FROM presence WHERE node = $1", NULL}},
    [ST_PRESENCE_NODE_DELETE] = {{"DELETE FROM presence_nodes WHERE node = $1", NULL}},
    [ST_PRESENCE_CLOCK] = {{"SELECT " SQLITE_NOW, "SELECT " PG_NOW}},
    [ST_PRESENCE_BEAT] = {{"UPDATE presence_nodes SET seen_at = $2, ttl_ms = $3 WHERE node = $1 "
                           "RETURNING node",
                           NULL}},
    [ST_PRESENCE_NODE_INSERT] =
        {{"INSERT INTO presence_nodes (node, seen_at, ttl_ms) VALUES ($1, $2, $3)", NULL}},
    /* Rows first, then the nodes, with one cutoff: no row outlives its node's entry. */
    [ST_PRESENCE_SWEEP_ROWS] = {{"DELETE FROM presence WHERE node IN (SELECT node FROM "
                                 "presence_nodes WHERE node <> $1 AND seen_at < $2 - ttl_ms)",
                                 NULL}},
    [ST_PRESENCE_SWEEP_NODES] =
        {{"DELETE FROM presence_nodes WHERE node <> $1 AND seen_at < $2 - ttl_ms "
          "RETURNING node",
          NULL}},
    /* Another node (not $2) has the user, and that node beat within its own TTL. */
    [ST_PRESENCE_ONLINE] = {{"SELECT count(*) FROM (SELECT 1 FROM presence p JOIN presence_nodes n "
                             "ON n.node = p.node WHERE p.user_id = $1 AND p.node <> $2 AND "
                             "n.seen_at >= " SQLITE_NOW " - n.ttl_ms LIMIT 1) x",
                             "SELECT count(*) FROM (SELECT 1 FROM presence p JOIN presence_nodes n "
                             "ON n.node = p.node WHERE p.user_id = $1 AND p.node <> $2 AND "
                             "n.seen_at >= " PG_NOW " - n.ttl_ms LIMIT 1) x"}},

    /* PostgreSQL only (see store_internal.h): data-modifying WITH clauses all run, once,
     * whether or not the final SELECT reads them, and see the same snapshot; explicit casts
     * where a parameter's type cannot be inferred. Each reports its domain errors as counts. */
    [ST_PG_USER_CREATE] = {{NULL,
                            "WITH ins AS (INSERT INTO users (username, username_norm, "
                            "display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) "
                            "ON CONFLICT (username_norm) DO NOTHING RETURNING id, username, "
                            "username_norm, display_name, socket_id, last_seen, created_at, "
                            "follower_count, following_count), "
                            "s AS (INSERT INTO sessions (id, user_id, secret_hash, created_at) "
                            "SELECT CAST($6 AS BIGINT), ins.id, CAST($7 AS TEXT), "
                            "CAST($5 AS BIGINT) FROM ins WHERE $7 IS NOT NULL) "
                            "SELECT * FROM ins"}},
    [ST_PG_SESSION_CREATE] = {{NULL,
                               "INSERT INTO sessions (id, user_id, secret_hash, created_at) "
                               "SELECT CAST($1 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS TEXT), "
                               "CAST($4 AS BIGINT) WHERE EXISTS (SELECT 1 FROM users "
                               "WHERE id = $2) RETURNING id"}},
    /* Toggle: the DELETE and the NOT EXISTS see the same snapshot, so exactly one of them
     * acts; an insert lost to a concurrent node's (ON CONFLICT) counts as following. */
    [ST_PG_FOLLOW_TOGGLE] = {{NULL,
                              "WITH u AS (SELECT "
                              "(SELECT count(*) FROM users WHERE id = CAST($1 AS BIGINT)) AS a, "
                              "(SELECT count(*) FROM users WHERE id = CAST($2 AS BIGINT)) AS b), "
                              "del AS (DELETE FROM follows WHERE follower_id = $1 "
                              "AND followee_id = $2 RETURNING id), "
                              "ins AS (INSERT INTO follows (follower_id, followee_id, created_at) "
                              "SELECT $1, $2, CAST($3 AS BIGINT) FROM u WHERE u.a > 0 AND "
                              "u.b > 0 AND NOT EXISTS (SELECT 1 FROM follows WHERE "
                              "follower_id = $1 AND followee_id = $2) "
                              "ON CONFLICT (follower_id, followee_id) DO NOTHING RETURNING id), "
                              "d AS (SELECT (SELECT count(*) FROM ins) - (SELECT count(*) "
                              "FROM del) AS delta), "
                              "fe AS (UPDATE users SET follower_count = follower_count + d.delta "
                              "FROM d WHERE users.id = $2 AND d.delta <> 0 "
                              "RETURNING follower_count), "
                              "fr AS (UPDATE users SET following_count = following_count + "
                              "d.delta FROM d WHERE users.id = $1 AND d.delta <> 0 "
                              "RETURNING following_count) "
                              "SELECT u.a, u.b, (SELECT count(*) FROM del), "
                              "coalesce((SELECT follower_count FROM fe), "
                              "(SELECT follower_count FROM users WHERE id = $2)), "
                              "coalesce((SELECT following_count FROM fr), "
                              "(SELECT following_count FROM users WHERE id = $1)) FROM u"}},
    [ST_PG_DIRECT_CREATE] = {{NULL,
                              "WITH u AS (SELECT "
                              "(SELECT count(*) FROM users WHERE id = CAST($1 AS BIGINT)) AS a, "
                              "(SELECT count(*) FROM users WHERE id = CAST($2 AS BIGINT)) AS b), "
                              "ins AS (INSERT INTO chatrooms (kind, name, direct_key, created_at, "
                              "last_activity) SELECT 1, NULL, CAST($3 AS TEXT), "
                              "CAST($4 AS BIGINT), CAST($4 AS BIGINT) FROM u WHERE u.a > 0 AND "
                              "u.b > 0 ON CONFLICT (direct_key) DO NOTHING RETURNING id), "
                              "mem AS (INSERT INTO chatroom_members (chatroom_id, user_id, "
                              "last_read_message_id, joined_at) "
                              "SELECT ins.id, x.uid, 0, CAST($4 AS BIGINT) "
                              "FROM ins, (VALUES (CAST($1 AS BIGINT)), (CAST($2 AS BIGINT))) "
                              "AS x (uid)) "
                              "SELECT u.a, u.b, (SELECT id FROM ins) FROM u"}},
    /* A statement of its own: it sees the room whether this batch or another node made it. */
    [ST_PG_DIRECT_VIEW] = {{NULL, "SELECT " CHATROOM_COLS " FROM chatrooms c "
                                  "JOIN chatroom_members m ON m.chatroom_id = c.id AND "
                                  "m.user_id = $2 WHERE c.direct_key = $1"}},
    [ST_PG_GROUP_CREATE] = {{NULL,
                             "WITH chk AS (SELECT count(*) AS n FROM users "
                             "WHERE id = ANY (CAST($1 AS BIGINT[]))), "
                             "ins AS (INSERT INTO chatrooms (kind, name, direct_key, created_at, "
                             "last_activity) SELECT 2, CAST($2 AS TEXT), NULL, "
                             "CAST($3 AS BIGINT), CAST($3 AS BIGINT) FROM chk "
                             "WHERE chk.n = CAST($4 AS BIGINT) RETURNING id), "
                             "mem AS (INSERT INTO chatroom_members (chatroom_id, user_id, "
                             "last_read_message_id, joined_at) "
                             "SELECT ins.id, x, 0, CAST($3 AS BIGINT) "
                             "FROM ins, unnest(CAST($1 AS BIGINT[])) AS x) "
                             "SELECT chk.n, (SELECT id FROM ins) FROM chk"}},
    [ST_PG_MESSAGE_SEND] = {{NULL,
                             "WITH chk AS (SELECT "
                             "(SELECT count(*) FROM chatrooms WHERE id = CAST($1 AS BIGINT)) "
                             "AS room, (SELECT count(*) FROM chatroom_members WHERE "
                             "chatroom_id = $1 AND user_id = CAST($2 AS BIGINT)) AS member), "
                             "ins AS (INSERT INTO messages (chatroom_id, sender_id, text, "
                             "created_at) SELECT $1, $2, CAST($3 AS TEXT), CAST($4 AS BIGINT) "
                             "FROM chk WHERE chk.member > 0 RETURNING id), "
                             "c AS (UPDATE chatrooms SET last_activity = $4, "
                             "last_message_id = ins.id FROM ins WHERE chatrooms.id = $1), "
                             "m AS (UPDATE chatroom_members SET last_read_message_id = ins.id "
                             "FROM ins WHERE chatroom_id = $1 AND user_id = $2) "
                             "SELECT chk.room, chk.member, (SELECT id FROM ins) FROM chk"}},
    [ST_PG_MARK_READ] = {{NULL,
                          "WITH chk AS (SELECT "
                          "(SELECT count(*) FROM chatrooms WHERE id = CAST($1 AS BIGINT)) AS room, "
                          "(SELECT count(*) FROM chatroom_members WHERE chatroom_id = $1 AND "
                          "user_id = CAST($2 AS BIGINT)) AS member), "
                          "upd AS (UPDATE chatroom_members SET last_read_message_id = "
                          "(SELECT c.last_message_id FROM chatrooms c WHERE c.id = $1) "
                          "WHERE chatroom_id = $1 AND user_id = $2 "
                          "RETURNING last_read_message_id) "
                          "SELECT chk.room, chk.member, (SELECT last_read_message_id FROM upd) "
                          "FROM chk"}},

    [ST_PG_PRESENCE_ADD_MANY] = {{NULL,
                                  "INSERT INTO presence (user_id, node) SELECT x, CAST($1 AS TEXT) "
                                  "FROM unnest(CAST($2 AS BIGINT[])) AS x "
                                  "ON CONFLICT (user_id, node) DO NOTHING"}},
    /* Beat (insert the entry when it is missing, and say so), then sweep the nodes silent for
     * longer than their own TTL, with their rows. The sweep never waits for a lock (SKIP
     * LOCKED): two nodes sweeping at once take disjoint rows (no deadlock), and a node stopped
     * in the middle of a transaction (SIGSTOP, a hung VM) cannot stall another's writer. What
     * is skipped stays behind without counting (its node is silent) until a later sweep, or
     * until that node comes back and resets its rows. */
    [ST_PG_PRESENCE_HEARTBEAT] =
        {{NULL, "WITH t AS (SELECT " PG_NOW " AS ts), "
                "upd AS (UPDATE presence_nodes SET seen_at = t.ts, ttl_ms = CAST($2 AS BIGINT) "
                "FROM t WHERE presence_nodes.node = $1 RETURNING presence_nodes.node), "
                "ins AS (INSERT INTO presence_nodes (node, seen_at, ttl_ms) "
                "SELECT CAST($1 AS TEXT), t.ts, CAST($2 AS BIGINT) FROM t WHERE NOT EXISTS "
                "(SELECT 1 FROM upd) ON CONFLICT (node) DO UPDATE "
                "SET seen_at = excluded.seen_at, ttl_ms = excluded.ttl_ms RETURNING node), "
                "gone AS (DELETE FROM presence_nodes WHERE node IN (SELECT n.node "
                "FROM presence_nodes n, t WHERE n.node <> $1 AND n.seen_at < t.ts - n.ttl_ms "
                "FOR UPDATE OF n SKIP LOCKED) RETURNING node), "
                "r AS (DELETE FROM presence WHERE (user_id, node) IN (SELECT p.user_id, p.node "
                "FROM presence p WHERE p.node IN (SELECT node FROM gone) "
                "FOR UPDATE OF p SKIP LOCKED)) "
                "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM gone)"}},

    [ST_CHECK_FOLLOWER_COUNTS] = {{"SELECT count(*) FROM users u WHERE u.follower_count <> "
                                   "(SELECT count(*) FROM follows f WHERE f.followee_id = u.id)",
                                   NULL}},
    [ST_CHECK_FOLLOWING_COUNTS] = {{"SELECT count(*) FROM users u WHERE u.following_count <> "
                                    "(SELECT count(*) FROM follows f WHERE f.follower_id = u.id)",
                                    NULL}},
    [ST_CHECK_LAST_MESSAGE] = {{"SELECT count(*) FROM chatrooms c WHERE c.last_message_id <> "
                                "coalesce((SELECT max(x.id) FROM messages x "
                                "WHERE x.chatroom_id = c.id), 0)",
                                NULL}},
    [ST_CHECK_DIRECT_MEMBERS] = {{"SELECT count(*) FROM chatrooms c WHERE c.kind = 1 AND "
                                  "(SELECT count(*) FROM chatroom_members y "
                                  "WHERE y.chatroom_id = c.id) <> 2",
                                  NULL}},
    [ST_CHECK_SENDER_MEMBERS] = {{"SELECT count(*) FROM messages x WHERE NOT EXISTS "
                                  "(SELECT 1 FROM chatroom_members y WHERE "
                                  "y.chatroom_id = x.chatroom_id AND y.user_id = x.sender_id)",
                                  NULL}},
    [ST_CHECK_READ_MARKERS] = {{"SELECT count(*) FROM chatroom_members m JOIN chatrooms c "
                                "ON c.id = m.chatroom_id "
                                "WHERE m.last_read_message_id > c.last_message_id",
                                NULL}},
};

const char *store_sql_text(enum store_stmt st, enum store_dialect d)
{
    const char *s = store_sql_table[st].sql[d];
    if (!s) s = store_sql_table[st].sql[STORE_SQLITE];
    return s ? s : "SELECT 1 WHERE 1 = 0"; /* a statement the dialect lacks: never used */
}

const struct store_check_query store_check_queries[] = {
    {ST_CHECK_FOLLOWER_COUNTS, "users whose follower_count differs from their follows"},
    {ST_CHECK_FOLLOWING_COUNTS, "users whose following_count differs from their follows"},
    {ST_CHECK_LAST_MESSAGE, "chatrooms whose last_message_id is not their newest message"},
    {ST_CHECK_DIRECT_MEMBERS, "direct chatrooms without exactly two members"},
    {ST_CHECK_SENDER_MEMBERS, "messages whose sender is not a member of the chatroom"},
    {ST_CHECK_READ_MARKERS, "read markers past the chatroom's newest message"},
};
const int store_check_query_count =
    (int)(sizeof store_check_queries / sizeof store_check_queries[0]);

const char *const store_migrations_table[2] = {
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
    "applied_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
    "applied_at BIGINT NOT NULL)",
};

/* Version 1.
 * Indexes follow the queries: history is messages (chatroom_id, id) read backwards; follower
 * and following lists are follows (followee_id, id) / (follower_id, id), newest first; a
 * user's chatrooms come from chatroom_members (user_id, chatroom_id) and are sorted by the
 * chatroom's last_activity - a user's rooms are few, while keeping a copy of last_activity
 * on every membership (to index it) would make each message rewrite, and re-index, one row
 * per member. Counters (follower_count, following_count, last_message_id) are kept in the
 * same transaction as the rows they count; store_check verifies them.
 * The dialects differ only in how ids are generated (SQLite's rowid alias,
 * PostgreSQL's identity column; session ids are random and supplied by the writer) and in the
 * byte-order collation PostgreSQL needs so that username order - the search cursor - is the same as
 * SQLite's. */
#define SCHEMA_V1(ID, KEY, NORM_COLLATE)                                                           \
    "CREATE TABLE users ("                                                                         \
    " id " ID ","                                                                                  \
    " username TEXT NOT NULL,"                                                                     \
    " username_norm TEXT " NORM_COLLATE " NOT NULL UNIQUE,"                                        \
    " display_name TEXT NOT NULL,"                                                                 \
    " password_hash TEXT NOT NULL,"                                                                \
    " socket_id TEXT,"                                                                             \
    " last_seen BIGINT,"                                                                           \
    " created_at BIGINT NOT NULL,"                                                                 \
    " follower_count BIGINT NOT NULL DEFAULT 0 CHECK (follower_count >= 0),"                       \
    " following_count BIGINT NOT NULL DEFAULT 0 CHECK (following_count >= 0));"                    \
    "CREATE TABLE sessions ("                                                                      \
    " id " KEY ","                                                                                 \
    " user_id BIGINT NOT NULL REFERENCES users (id),"                                              \
    " secret_hash TEXT NOT NULL,"                                                                  \
    " created_at BIGINT NOT NULL,"                                                                 \
    " revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)));"                              \
    "CREATE INDEX sessions_user ON sessions (user_id);"                                            \
    "CREATE TABLE follows ("                                                                       \
    " id " ID ","                                                                                  \
    " follower_id BIGINT NOT NULL REFERENCES users (id),"                                          \
    " followee_id BIGINT NOT NULL REFERENCES users (id),"                                          \
    " created_at BIGINT NOT NULL,"                                                                 \
    " UNIQUE (follower_id, followee_id),"                                                          \
    " CHECK (follower_id <> followee_id));"                                                        \
    "CREATE INDEX follows_followee ON follows (followee_id, id);"                                  \
    "CREATE INDEX follows_follower ON follows (follower_id, id);"                                  \
    "CREATE TABLE chatrooms ("                                                                     \
    " id " ID ","                                                                                  \
    " kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"                                               \
    " name TEXT,"                                                                                  \
    " direct_key TEXT UNIQUE,"                                                                     \
    " created_at BIGINT NOT NULL,"                                                                 \
    " last_activity BIGINT NOT NULL,"                                                              \
    " last_message_id BIGINT NOT NULL DEFAULT 0,"                                                  \
    " CHECK ((kind = 1) = (direct_key IS NOT NULL)));"                                             \
    "CREATE TABLE chatroom_members ("                                                              \
    " chatroom_id BIGINT NOT NULL REFERENCES chatrooms (id),"                                      \
    " user_id BIGINT NOT NULL REFERENCES users (id),"                                              \
    " last_read_message_id BIGINT NOT NULL DEFAULT 0,"                                             \
    " joined_at BIGINT NOT NULL,"                                                                  \
    " PRIMARY KEY (chatroom_id, user_id));"                                                        \
    "CREATE INDEX chatroom_members_user ON chatroom_members "                                      \
    " (user_id, chatroom_id);"                                                                     \
    "CREATE TABLE messages ("                                                                      \
    " id " ID ","                                                                                  \
    " chatroom_id BIGINT NOT NULL REFERENCES chatrooms (id),"                                      \
    " sender_id BIGINT NOT NULL REFERENCES users (id),"                                            \
    " text TEXT NOT NULL,"                                                                         \
    " created_at BIGINT NOT NULL);"                                                                \
    "CREATE INDEX messages_chatroom ON messages (chatroom_id, id);"

/* Version 2: presence across nodes. A row (user, node) while the user has an authenticated
 * socket on that node; a node's entry holds its last heartbeat (the database's clock, ms) and
 * how long it may stay silent before its rows stop counting (its TTL).
 * The primary key serves "is this user online anywhere"; presence_node serves a node's own
 * clean-up and the sweep of silent nodes. No foreign keys: these rows are hints about live
 * connections, written fire-and-forget, and must never make a batch of real writes fail. */
#define SCHEMA_V2                                                                                  \
    "CREATE TABLE presence_nodes ("                                                                \
    " node TEXT PRIMARY KEY,"                                                                      \
    " seen_at BIGINT NOT NULL,"                                                                    \
    " ttl_ms BIGINT NOT NULL);"                                                                    \
    "CREATE TABLE presence ("                                                                      \
    " user_id BIGINT NOT NULL,"                                                                    \
    " node TEXT NOT NULL,"                                                                         \
    " PRIMARY KEY (user_id, node));"                                                               \
    "CREATE INDEX presence_node ON presence (node);"

const char *const store_migrations[2][STORE_SCHEMA_VERSION] = {
    [STORE_SQLITE] = {SCHEMA_V1("INTEGER PRIMARY KEY", "INTEGER PRIMARY KEY", ""), SCHEMA_V2},
    [STORE_PG] = {SCHEMA_V1("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                            "BIGINT PRIMARY KEY", "COLLATE \"C\""),
                  SCHEMA_V2},
};
