/* store_internal.h - what store.c, its ops and its two backends share; not for callers.
 *
 * The domain logic (store_op.c, store_read.c) is written once against a tiny cursor
 * interface, `struct store_backend`, that runs one of a fixed table of statements
 * (store_sql.c) with typed arguments and reads typed columns. Each backend maps its native
 * errors to rs_err codes: unique violation RS_EEXIST, foreign-key violation RS_ENOTFOUND,
 * check/not-null violation RS_EINVAL, lock timeout RS_EBUSY, lost server RS_EUNAVAIL,
 * anything else RS_EIO (logged). */
#ifndef ROOST_STORE_INTERNAL_H
#define ROOST_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"

/* Every statement the store runs. SQL text lives in store_sql.c, with $N parameters. */
enum store_stmt {
    ST_SCHEMA_VERSION,
    ST_SCHEMA_INSERT,
    ST_USER_INSERT,
    ST_USER_BY_ID,
    ST_USER_BY_NORM,
    ST_USER_PWHASH,
    ST_USER_SET_PWHASH,
    ST_USER_SET_SOCKET,
    ST_USER_SET_LAST_SEEN,
    ST_USER_EXISTS,
    ST_USER_SEARCH,
    ST_USER_ADD_FOLLOWERS,
    ST_USER_ADD_FOLLOWING,
    ST_USER_COUNTS,
    ST_SESSION_INSERT,
    ST_SESSION_GET,
    ST_SESSION_REVOKE,
    ST_FOLLOW_DELETE,
    ST_FOLLOW_INSERT,
    ST_FOLLOW_EXISTS,
    ST_FOLLOWERS,
    ST_FOLLOWING,
    ST_CHATROOM_INSERT,
    ST_CHATROOM_BY_KEY,
    ST_CHATROOM_EXISTS,
    ST_CHATROOM_VIEW,
    ST_CHATROOM_LIST,
    ST_CHATROOM_TOUCH,
    ST_MEMBER_INSERT,
    ST_MEMBERSHIP,
    ST_MEMBERS,
    ST_MEMBER_READ_TO,
    ST_MEMBER_MARK_READ,
    ST_MEMBER_UNREAD,
    ST_MESSAGE_INSERT,
    ST_MESSAGE_HISTORY,
    ST_MESSAGE_LAST,
    ST_PRESENCE_ADD,
    ST_PRESENCE_REMOVE,
    ST_PRESENCE_CLEAR,
    ST_PRESENCE_NODE_DELETE,
    ST_PRESENCE_CLOCK,
    ST_PRESENCE_BEAT,
    ST_PRESENCE_NODE_INSERT,
    ST_PRESENCE_SWEEP_ROWS,
    ST_PRESENCE_SWEEP_NODES,
    ST_PRESENCE_ONLINE,
    /* PostgreSQL only: each write as one statement that reports domain errors in its result
     * instead of raising them, so a whole batch can be pipelined without savepoints. */
    ST_PG_USER_CREATE,
    ST_PG_SESSION_CREATE,
    ST_PG_FOLLOW_TOGGLE,
    ST_PG_DIRECT_CREATE,
    ST_PG_DIRECT_VIEW,
    ST_PG_GROUP_CREATE,
    ST_PG_MESSAGE_SEND,
    ST_PG_MARK_READ,
    ST_PG_PRESENCE_ADD_MANY,
    ST_PG_PRESENCE_HEARTBEAT,
    ST_CHECK_FOLLOWER_COUNTS,
    ST_CHECK_FOLLOWING_COUNTS,
    ST_CHECK_LAST_MESSAGE,
    ST_CHECK_DIRECT_MEMBERS,
    ST_CHECK_SENDER_MEMBERS,
    ST_CHECK_READ_MARKERS,
    ST_COUNT_
};

enum store_dialect { STORE_SQLITE = 0, STORE_PG = 1 };

struct store_sql {
    const char *sql[2]; /* per dialect; [STORE_PG] NULL means the same text as SQLite's */
};
extern const struct store_sql store_sql_table[ST_COUNT_];
/* The statement's text for a dialect (never NULL). */
const char *store_sql_text(enum store_stmt st, enum store_dialect d);

/* Consistency checks run by store_check: each statement returns one count of bad rows. */
struct store_check_query {
    enum store_stmt stmt;
    const char *what;
};
extern const struct store_check_query store_check_queries[];
extern const int store_check_query_count;

/* Migrations: migration i (1-based version) is store_migrations[d][i - 1], a script of
 * constant statements separated by ';'. */
extern const char *const store_migrations[2][STORE_SCHEMA_VERSION];
extern const char *const store_migrations_table[2]; /* creates schema_migrations if absent */

enum store_arg_type { SA_NULL, SA_INT, SA_TEXT };
struct store_arg {
    enum store_arg_type type;
    int64_t i;
    const char *s; /* NUL-terminated (libpq text parameters need it) */
    size_t len;
};
#define SARG_INT(v)      ((struct store_arg){SA_INT, (int64_t)(v), NULL, 0})
#define SARG_TEXT(p)     ((struct store_arg){SA_TEXT, 0, (p), strlen(p)})
#define SARG_TEXTN(p, n) ((struct store_arg){SA_TEXT, 0, (p), (n)})
#define SARG_NULL        ((struct store_arg){SA_NULL, 0, NULL, 0})

/* Transaction control. The composite steps exist so that group commit costs PostgreSQL one
 * round trip between two writes rather than three; COMMIT releases any open savepoint. */
enum store_tx {
    TX_BEGIN,
    TX_COMMIT,
    TX_ROLLBACK,
    TX_SAVEPOINT,
    TX_RELEASE,
    TX_ROLLBACK_TO,
    TX_BEGIN_SAVEPOINT, /* BEGIN; SAVEPOINT */
    TX_NEXT,            /* RELEASE; SAVEPOINT: keep the last write, start the next */
    TX_UNDO_NEXT,       /* ROLLBACK TO; RELEASE; SAVEPOINT: drop the last write, start the next */
    TX_UNDO_COMMIT,     /* ROLLBACK TO; COMMIT: drop the last write, commit the others */
    TX_COUNT_
};
enum store_role { ROLE_WRITER, ROLE_READER };

struct store_conn; /* backend-defined */

struct store_backend {
    const char *name;
    enum store_dialect dialect;
    /* Connect to target (a path or a libpq URI). err gets a one-line reason. */
    int (*connect)(const char *target, enum store_role role, int busy_timeout_ms,
                   struct store_conn **out, char *err, size_t errlen);
    void (*disconnect)(struct store_conn *c);
    /* Make sure the connection is usable before a unit of work; reconnect if it was lost
     * (PostgreSQL). 1 when it reconnected, 0 when it was fine, RS_EUNAVAIL. */
    int (*ensure)(struct store_conn *c);
    int (*tx)(struct store_conn *c, enum store_tx what);
    /* Is a transaction open (false after the database rolled one back by itself)? */
    bool (*in_tx)(struct store_conn *c);
    /* Run a statement; then step() yields its rows. One statement at a time per connection:
     * finish() before the next query. */
    int (*query)(struct store_conn *c, enum store_stmt st, const struct store_arg *args, int n);
    int (*step)(struct store_conn *c); /* 1 row, 0 no more rows, <0 error */
    int64_t (*col_int)(struct store_conn *c, int col);
    /* NULL for SQL NULL; valid until the next step/finish. */
    const char *(*col_text)(struct store_conn *c, int col, size_t *len);
    void (*finish)(struct store_conn *c);
    /* Run a constant multi-statement script (migrations). */
    int (*script)(struct store_conn *c, const char *sql);
    /* Backend-specific integrity check; appends findings; returns how many (>= 0) or <0. */
    int (*integrity)(struct store_conn *c, buf_t *report);
    /* Last error text of this connection, for logs. */
    const char *(*errmsg)(struct store_conn *c);

    /* Pipelined transactions (PostgreSQL; NULL for SQLite, which has no round trips to
     * save). A batch is: prepare() every statement it uses, pipe_begin() (enters pipeline
     * mode and sends BEGIN), pipe_send() each statement, pipe_commit() (sends COMMIT and a
     * sync point: everything so far leaves in one flight), then pipe_result() once per
     * statement sent, in order - 0 with the rows available through step/col_*, or the
     * statement's error, or RS_EAGAIN for a statement skipped after an earlier error - and
     * finally pipe_end(), which reads the COMMIT and leaves pipeline mode: 0 when the batch
     * committed, RS_EUNAVAIL when the connection was lost (the outcome is then unknown),
     * another error when it rolled back. */
    int (*prepare)(struct store_conn *c, enum store_stmt st);
    int (*pipe_begin)(struct store_conn *c);
    int (*pipe_send)(struct store_conn *c, enum store_stmt st, const struct store_arg *args, int n);
    int (*pipe_commit)(struct store_conn *c);
    int (*pipe_result)(struct store_conn *c);
    int (*pipe_end)(struct store_conn *c);
};

extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_pg_backend;

struct store_req {
    struct store_req *next;
    store_t *store;
    void *origin;
    store_done_fn done;
    void *arg;
    struct store_result res;
    int64_t a, b;       /* op arguments (ids, times) */
    const char *str[5]; /* string arguments, NUL-terminated copies in data[] or NULL */
    size_t len[5];
    const int64_t *ids; /* copy in data[] */
    size_t n_ids;
    int64_t session_id;            /* chosen before a pipelined USER_CREATE / SESSION_CREATE */
    int64_t now;                   /* when a pipelined write was sent: its created_ms */
    int pipe_n;                    /* statements this request sent in the current pipeline */
    _Alignas(int64_t) char data[]; /* argument copies; an id array goes first */
};

struct store {
    const struct store_backend *be;
    char *target; /* path or conninfo handed to the backend */
    struct store_config cfg;
    struct store_conn *wconn; /* the writer's connection */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_req *head, *tail;
    size_t queued;
    bool stopping;
    bool started;
    pthread_t writer;

    pthread_mutex_t stats_mu;
    struct store_stats stats;
};

struct store_reader {
    store_t *store;
    struct store_conn *conn;
};

/* Execute a write request on the writer's connection, inside a transaction the caller
 * manages (store_op.c). Returns 0 or an rs_err for res.err. */
int store_op_run(store_t *s, struct store_req *req);
/* The pipelined form (backends with pipe_begin). prepare: make sure every statement the op
 * may send is prepared (before pipe_begin). send: queue the op's statements - or none, when
 * its arguments alone decide the error, which it then stores in res.err - and record their
 * number in req->pipe_n. read: consume exactly pipe_n results and fill res; returns the
 * statement error that aborted the transaction (<0) or 0 (domain errors go to res.err). */
int store_op_pipe_prepare(store_t *s, struct store_req *req);
int store_op_pipe_send(store_t *s, struct store_req *req);
int store_op_pipe_read(store_t *s, struct store_req *req);

/* Cursor helpers shared by store_op.c and store_read.c. */
int store_q_exec(const struct store_backend *be, struct store_conn *c, enum store_stmt st,
                 const struct store_arg *args, int n);
/* Run st and fetch its first row: 1 row (call finish after reading it), 0 none, <0 error. */
int store_q_row(const struct store_backend *be, struct store_conn *c, enum store_stmt st,
                const struct store_arg *args, int n);
/* Single integer result: 0 and *out set, RS_ENOTFOUND when no row, <0 error. */
int store_q_int(const struct store_backend *be, struct store_conn *c, enum store_stmt st,
                const struct store_arg *args, int n, int64_t *out);
/* Copy a text column into a fixed buffer of cap bytes (truncating; "" for NULL). */
void store_col_copy(const struct store_backend *be, struct store_conn *c, int col, char *dst,
                    size_t cap);
/* Read the user columns (see USER_COLS in store_sql.c) starting at col. */
void store_row_user(const struct store_backend *be, struct store_conn *c, int col,
                    struct store_user *u);
/* Read the chatroom-view columns (CHATROOM_COLS) starting at col. */
void store_row_chatroom(const struct store_backend *be, struct store_conn *c, int col,
                        struct store_chatroom *ch);
/* Fetch a chatroom as seen by viewer on any connection: RS_ENOTFOUND / RS_EPERM. */
int store_chatroom_view(const struct store_backend *be, struct store_conn *c, int64_t id,
                        int64_t viewer, struct store_chatroom *out);

/* 0 when user_id is a member of chatroom_id, RS_ENOTFOUND (no such chatroom), RS_EPERM. */
int store_membership(const struct store_backend *be, struct store_conn *c, int64_t chatroom_id,
                     int64_t user_id);
/* Milliseconds since the epoch, now. */
int64_t store_now_ms(void);
/* Is [p, p+n) valid UTF-8 without NUL? 0, RS_EUTF8 or RS_EINVAL (NUL). */
int store_text_check(const char *p, size_t n);

#endif
