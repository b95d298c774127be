/* store_pg.c - the PostgreSQL backend (libpq): one connection per role, named prepared
 * statements, SQLSTATE-mapped errors, reconnection after the server restarts.
 *
 * Each connection is used synchronously by one thread: the writer thread (whose batching
 * already amortises round trips over a whole group commit) or a reader's thread. A lost
 * connection is detected on the next call (libpq reports CONNECTION_BAD, or the writer finds
 * the socket closed before sending) and reopened; after a failed attempt the next waits
 * RECONNECT_MS, so that an outage costs callers a fast RS_EUNAVAIL, not a connect timeout
 * each. Prepared statements die with the connection and are prepared again on first use.
 * The writer pipelines each batch (store_internal.h: pipe_*). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/err.h"
#include "util/log.h"

#define RECONNECT_MS 500
#define MAX_ARGS     8

struct store_conn {
    PGconn *pg;
    enum store_role role;
    PGresult *res;
    int row, nrows;
    bool broken;
    int64_t last_fail_ms; /* last failed reconnection, 0 after a success */
    bool prepared[ST_COUNT_];
    char *target;     /* conninfo, for reconnecting */
    bool in_pipe;     /* in pipeline mode */
    int pipe_pending; /* commands sent in the current pipeline whose result is unread */
    bool pipe_begun;  /* BEGIN's result is still to be read */
    bool pipe_failed; /* a command of the current pipeline failed */
    char err[256];
};

static const char *const tx_sql[] = {
    [TX_BEGIN] = "BEGIN",
    [TX_COMMIT] = "COMMIT",
    [TX_ROLLBACK] = "ROLLBACK",
    [TX_SAVEPOINT] = "SAVEPOINT w",
    [TX_RELEASE] = "RELEASE SAVEPOINT w",
    [TX_ROLLBACK_TO] = "ROLLBACK TO SAVEPOINT w",
    [TX_BEGIN_SAVEPOINT] = "BEGIN; SAVEPOINT w",
    [TX_NEXT] = "RELEASE SAVEPOINT w; SAVEPOINT w",
    [TX_UNDO_NEXT] = "ROLLBACK TO SAVEPOINT w; RELEASE SAVEPOINT w; SAVEPOINT w",
    [TX_UNDO_COMMIT] = "ROLLBACK TO SAVEPOINT w; COMMIT",
};

/* libpq's messages span lines ("...refused\n\tIs the server running..."): make one. */
static void copy_msg(char *dst, size_t cap, const char *msg)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = msg ? msg : ""; *p && n + 1 < cap; p++) {
        bool ws = *p == '\n' || *p == '\t' || *p == '\r' || *p == ' ';
        if (ws && (space || n == 0)) continue;
        dst[n++] = ws ? ' ' : *p;
        space = ws;
    }
    while (n && dst[n - 1] == ' ') n--;
    dst[n] = '\0';
}

static bool lost(struct store_conn *c)
{
    if (PQstatus(c->pg) == CONNECTION_BAD) c->broken = true;
    return c->broken;
}

/* SQLSTATE (or its two-character class) -> rs_err. */
static const struct {
    const char *state;
    int err;
} sqlstates[] = {
    {"23505", RS_EEXIST},    /* unique_violation */
    {"23503", RS_ENOTFOUND}, /* foreign_key_violation */
    {"23514", RS_EINVAL},    /* check_violation */
    {"23502", RS_EINVAL},    /* not_null_violation */
    {"22", RS_EINVAL},       /* data exception: bad encoding, out of range */
    {"40001", RS_EBUSY},     /* serialization_failure */
    {"40P01", RS_EBUSY},     /* deadlock_detected */
    {"55P03", RS_EBUSY},     /* lock_not_available */
    {"53100", RS_ENOSPC},    /* disk_full */
    {"08", RS_EUNAVAIL},     /* connection exception */
    {"57P0", RS_EUNAVAIL},   /* admin/crash shutdown, cannot connect now */
};

/* Map a failed result (res may be NULL) to an rs_err; consumes res. */
static int map_res(struct store_conn *c, PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg) msg = PQerrorMessage(c->pg);
    copy_msg(c->err, sizeof c->err, msg);
    int rc = lost(c) ? RS_EUNAVAIL : !res ? RS_ENOMEM : RS_EIO;
    for (size_t i = 0; rc == RS_EIO && state && i < sizeof sqlstates / sizeof sqlstates[0]; i++)
        if (strncmp(state, sqlstates[i].state, strlen(sqlstates[i].state)) == 0)
            rc = sqlstates[i].err;
    if (rc == RS_EUNAVAIL) c->broken = true;
    if (rc == RS_EIO || rc == RS_EUNAVAIL)
        LOG_ERROR("store", "postgres %s: %s%s%s", what, state ? state : "", state ? " " : "",
                  c->err);
    PQclear(res);
    return rc;
}

static int setup(struct store_conn *c)
{
    /* Durability must not depend on the server's default: an acknowledged write is one
     * whose COMMIT was flushed. */
    if (c->role != ROLE_WRITER) return 0;
    PGresult *r = PQexec(c->pg, "SET synchronous_commit TO on");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return map_res(c, r, "setup");
    PQclear(r);
    return 0;
}

/* Server notices ("relation already exists, skipping") are chatter, not errors. */
static void on_notice(void *arg, const char *msg)
{
    LOG_DEBUG("store", "postgres: %s", msg);
}

static void pg_disconnect(struct store_conn *c)
{
    if (!c) return;
    PQclear(c->res);
    PQfinish(c->pg);
    free(c->target);
    free(c);
}

static PGconn *open_conn(const char *target)
{
    /* Keywords before dbname are defaults the URI may override. */
    const char *const keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname",
                                NULL};
    const char *const vals[] = {"5", "roost", "UTF8", target, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg) PQsetNoticeProcessor(pg, on_notice, NULL);
    return pg;
}

static int pg_connect(const char *target, enum store_role role, int busy_timeout_ms,
                      struct store_conn **out, char *err, size_t errlen)
{
    struct store_conn *c = calloc(1, sizeof *c);
    if (!c) return RS_ENOMEM;
    c->role = role;
    c->target = strdup(target);
    c->pg = c->target ? open_conn(target) : NULL;
    if (!c->pg) {
        pg_disconnect(c);
        return RS_ENOMEM;
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char m[200];
        copy_msg(m, sizeof m, PQerrorMessage(c->pg));
        snprintf(err, errlen, "cannot connect to postgres: %s", m);
        pg_disconnect(c);
        return RS_EUNAVAIL;
    }
    int rc = setup(c);
    if (rc) {
        snprintf(err, errlen, "postgres: %s", c->err);
        pg_disconnect(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int reconnect(struct store_conn *c)
{
    int64_t now = store_now_ms();
    if (c->last_fail_ms && now - c->last_fail_ms < RECONNECT_MS) return RS_EUNAVAIL;
    PQclear(c->res);
    c->res = NULL;
    /* A fresh connection rather than PQreset: nothing of the old one's state (an abandoned
     * pipeline, prepared statements) can leak into the new one. */
    PGconn *pg = open_conn(c->target);
    if (!pg) return RS_EUNAVAIL;
    PQfinish(c->pg);
    c->pg = pg;
    c->in_pipe = false;
    c->pipe_begun = false;
    c->pipe_pending = 0;
    memset(c->prepared, 0, sizeof c->prepared);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        copy_msg(c->err, sizeof c->err, PQerrorMessage(c->pg));
        c->last_fail_ms = now;
        return RS_EUNAVAIL;
    }
    c->broken = false;
    if (setup(c) != 0) {
        c->last_fail_ms = now;
        return RS_EUNAVAIL;
    }
    c->last_fail_ms = 0;
    LOG_INFO("store", "postgres: reconnected");
    return 1;
}

static int pg_ensure(struct store_conn *c)
{
    /* A server that restarted (or killed this session) told us so, or closed the socket,
     * while we were idle: reading what is pending finds out without sending anything, so
     * the work about to be sent can go to a fresh connection instead of being lost. */
    /* Twice: a terminated session sends its FATAL message first and end-of-file after, and
     * one read may see only the message. */
    for (int i = 0; i < 2 && !c->broken; i++)
        if (PQstatus(c->pg) != CONNECTION_OK || !PQconsumeInput(c->pg) ||
            PQstatus(c->pg) != CONNECTION_OK)
            c->broken = true;
    if (!c->broken) {
        PGnotify *n;
        while ((n = PQnotifies(c->pg)) != NULL) PQfreemem(n);
        return 0;
    }
    return reconnect(c);
}

static int pg_tx(struct store_conn *c, enum store_tx what)
{
    if (c->broken) return RS_EUNAVAIL;
    PGresult *r = PQexec(c->pg, tx_sql[what]);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return map_res(c, r, tx_sql[what]);
    /* COMMIT of a transaction that failed answers "ROLLBACK": nothing was stored. */
    if ((what == TX_COMMIT || what == TX_UNDO_COMMIT) && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        copy_msg(c->err, sizeof c->err, "COMMIT rolled back");
        PQclear(r);
        return RS_EIO;
    }
    PQclear(r);
    return 0;
}

static bool pg_in_tx(struct store_conn *c)
{
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static void stmt_name(char *name, enum store_stmt st)
{
    snprintf(name, 16, "s%d", (int)st);
}

static int pg_prepare(struct store_conn *c, enum store_stmt st)
{
    char name[16];
    if (c->broken) return RS_EUNAVAIL;
    if (c->prepared[st]) return 0;
    stmt_name(name, st);
    PGresult *p = PQprepare(c->pg, name, store_sql_text(st, STORE_PG), 0, NULL);
    if (PQresultStatus(p) != PGRES_COMMAND_OK) return map_res(c, p, "prepare");
    PQclear(p);
    c->prepared[st] = true;
    return 0;
}

/* Text-format parameter values; ints are written into nums. */
static void params(const struct store_arg *args, int n, char nums[][24], const char **values)
{
    for (int i = 0; i < n; i++) {
        switch (args[i].type) {
        case SA_INT:
            snprintf(nums[i], sizeof nums[i], "%lld", (long long)args[i].i);
            values[i] = nums[i];
            break;
        case SA_TEXT:
            values[i] = args[i].s;
            break;
        default:
            values[i] = NULL;
            break;
        }
    }
}

static int run(struct store_conn *c, enum store_stmt st, const struct store_arg *args, int n)
{
    char name[16], nums[MAX_ARGS][24];
    const char *values[MAX_ARGS];
    int rc;
    if (n > MAX_ARGS) return RS_EINVAL;
    if ((rc = pg_prepare(c, st)) != 0) return rc;
    stmt_name(name, st);
    params(args, n, nums, values);
    PGresult *r = PQexecPrepared(c->pg, name, n, values, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) return map_res(c, r, "query");
    c->res = r;
    c->row = -1;
    c->nrows = PQntuples(r);
    return 0;
}

static int pg_query(struct store_conn *c, enum store_stmt st, const struct store_arg *args, int n)
{
    PQclear(c->res);
    c->res = NULL;
    int rc = run(c, st, args, n);
    /* A reader runs single statements outside any transaction: after a server restart it
     * may reconnect and run the statement again. The writer retries whole batches. */
    if (rc == RS_EUNAVAIL && c->role == ROLE_READER && reconnect(c) == 1) rc = run(c, st, args, n);
    return rc;
}

static int pg_step(struct store_conn *c)
{
    if (!c->res) return 0;
    return ++c->row < c->nrows ? 1 : 0;
}

static int64_t pg_col_int(struct store_conn *c, int col)
{
    if (!c->res || c->row >= c->nrows || PQgetisnull(c->res, c->row, col)) return 0;
    return strtoll(PQgetvalue(c->res, c->row, col), NULL, 10);
}

static const char *pg_col_text(struct store_conn *c, int col, size_t *len)
{
    if (!c->res || c->row >= c->nrows || PQgetisnull(c->res, c->row, col)) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = (size_t)PQgetlength(c->res, c->row, col);
    return PQgetvalue(c->res, c->row, col);
}

static void pg_finish(struct store_conn *c)
{
    PQclear(c->res);
    c->res = NULL;
}

static int pg_script(struct store_conn *c, const char *sql)
{
    if (c->broken) return RS_EUNAVAIL;
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) return map_res(c, r, "script");
    PQclear(r);
    return 0;
}

/* Rows of a constant query, each reported as a finding. */
static int findings(struct store_conn *c, const char *sql, const char *what, buf_t *report)
{
    PGresult *r = PQexec(c->pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return map_res(c, r, what);
    int n = PQntuples(r);
    for (int i = 0; i < n && report; i++)
        buf_appendf(report, "%s: %s\n", what, PQgetvalue(r, i, 0));
    PQclear(r);
    return n;
}

static int pg_integrity(struct store_conn *c, buf_t *report)
{
    /* Indexes left invalid (a failed concurrent build) silently stop enforcing uniqueness. */
    int found = findings(c,
                         "SELECT c.relname FROM pg_index i JOIN pg_class c "
                         "ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                         "WHERE n.nspname = current_schema() AND NOT (i.indisvalid AND "
                         "i.indisready)",
                         "invalid index", report);
    if (found < 0) return found;
    /* With the amcheck extension installed, verify every B-tree index of our schema. */
    PGresult *r = PQexec(c->pg, "SELECT 1 FROM pg_extension WHERE extname = 'amcheck'");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return map_res(c, r, "amcheck");
    bool amcheck = PQntuples(r) > 0;
    PQclear(r);
    if (amcheck) {
        /* bt_index_check raises an error on the first corrupt index it meets. */
        r = PQexec(c->pg, "SELECT count(bt_index_check(c.oid)) FROM pg_index i JOIN pg_class c "
                          "ON c.oid = i.indexrelid JOIN pg_namespace n "
                          "ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam "
                          "WHERE n.nspname = current_schema() AND a.amname = 'btree'");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            int rc = map_res(c, r, "bt_index_check");
            if (rc == RS_EUNAVAIL || rc == RS_ENOMEM) return rc;
            if (report) buf_appendf(report, "bt_index_check: %s\n", c->err);
            found++;
        } else {
            PQclear(r);
        }
    }
    return found;
}

/* ---- pipelined transactions --------------------------------------------------------- */

static int pipe_lost(struct store_conn *c, const char *what)
{
    c->broken = true;
    copy_msg(c->err, sizeof c->err, PQerrorMessage(c->pg));
    LOG_ERROR("store", "postgres %s: %s", what, c->err);
    return RS_EUNAVAIL;
}

static int send_plain(struct store_conn *c, const char *sql)
{
    if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0)) return pipe_lost(c, sql);
    c->pipe_pending++;
    return 0;
}

static int pg_pipe_begin(struct store_conn *c)
{
    if (c->broken) return RS_EUNAVAIL;
    PQclear(c->res);
    c->res = NULL;
    c->pipe_pending = 0;
    c->pipe_failed = false;
    if (!PQenterPipelineMode(c->pg)) return pipe_lost(c, "pipeline");
    c->in_pipe = true;
    c->pipe_begun = true;
    return send_plain(c, "BEGIN");
}

static int pg_pipe_send(struct store_conn *c, enum store_stmt st, const struct store_arg *args,
                        int n)
{
    char name[16], nums[MAX_ARGS][24];
    const char *values[MAX_ARGS];
    if (n > MAX_ARGS || !c->prepared[st]) return RS_EINVAL;
    stmt_name(name, st);
    params(args, n, nums, values);
    if (!PQsendQueryPrepared(c->pg, name, n, values, NULL, NULL, 0)) return pipe_lost(c, "send");
    c->pipe_pending++;
    return 0;
}

static int pg_pipe_commit(struct store_conn *c)
{
    int rc = send_plain(c, "COMMIT");
    if (rc) return rc;
    /* The sync point flushes everything queued: the batch leaves in one flight. */
    return PQpipelineSync(c->pg) ? 0 : pipe_lost(c, "sync");
}

/* The next command's result (consuming the NULL that ends it). NULL when the connection
 * failed. */
static PGresult *next_result(struct store_conn *c)
{
    PGresult *r = PQgetResult(c->pg);
    if (!r || PQstatus(c->pg) == CONNECTION_BAD) {
        PQclear(r);
        c->broken = true;
        return NULL;
    }
    PGresult *extra = PQgetResult(c->pg); /* NULL: the end of this command's results */
    if (extra) {                          /* not expected from our statements */
        LOG_WARN("store", "postgres: unexpected extra result");
        PQclear(extra);
    }
    c->pipe_pending--;
    return r;
}

/* 0 for a good result (kept in c->res), RS_EAGAIN for a skipped one, else its error. */
static int take_result(struct store_conn *c, PGresult *r, const char *what)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        c->res = r;
        c->row = -1;
        c->nrows = PQntuples(r);
        return 0;
    }
    c->pipe_failed = true;
    if (st == PGRES_PIPELINE_ABORTED) {
        PQclear(r);
        return RS_EAGAIN;
    }
    return map_res(c, r, what);
}

static int pg_pipe_result(struct store_conn *c)
{
    PQclear(c->res);
    c->res = NULL;
    if (c->broken) return RS_EUNAVAIL;
    if (c->pipe_begun) {
        c->pipe_begun = false;
        PGresult *b = next_result(c);
        if (!b) return pipe_lost(c, "BEGIN");
        int rc = take_result(c, b, "BEGIN");
        PQclear(c->res);
        c->res = NULL;
        if (rc) {
            PGresult *r = next_result(c); /* the statement, skipped */
            if (!r) return pipe_lost(c, "result");
            PQclear(r);
            return rc;
        }
    }
    PGresult *r = next_result(c);
    if (!r) return pipe_lost(c, "result");
    return take_result(c, r, "pipelined statement");
}

static int pg_pipe_end(struct store_conn *c)
{
    PQclear(c->res);
    c->res = NULL;
    int rc = 0;
    bool committed = false;
    if (!c->in_pipe) return c->broken ? RS_EUNAVAIL : RS_EIO;
    if (c->broken) return RS_EUNAVAIL; /* reconnecting discards the pipeline */
    /* Whatever the caller left unread, then COMMIT's result, then the sync point. */
    while (c->pipe_pending > 0) {
        bool last = c->pipe_pending == 1;
        PGresult *r = next_result(c);
        if (!r) return pipe_lost(c, "COMMIT");
        if (last) {
            committed =
                PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0;
            if (!committed && !c->pipe_failed)
                rc = map_res(c, r, "COMMIT");
            else
                PQclear(r);
        } else {
            PQclear(r);
        }
    }
    PGresult *sync = PQgetResult(c->pg);
    if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
        PQclear(sync);
        return pipe_lost(c, "sync");
    }
    PQclear(sync);
    if (!PQexitPipelineMode(c->pg)) return pipe_lost(c, "pipeline exit");
    c->in_pipe = false;
    c->pipe_begun = false;
    if (committed) return 0;
    /* The failed transaction block is still open on the server. */
    PGresult *r = PQexec(c->pg, "ROLLBACK");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return map_res(c, r, "ROLLBACK");
    PQclear(r);
    return rc ? rc : RS_EIO;
}

static const char *pg_errmsg(struct store_conn *c)
{
    return c->err[0] ? c->err : PQerrorMessage(c->pg);
}

const struct store_backend store_pg_backend = {
    .name = "postgres",
    .dialect = STORE_PG,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .ensure = pg_ensure,
    .tx = pg_tx,
    .in_tx = pg_in_tx,
    .query = pg_query,
    .step = pg_step,
    .col_int = pg_col_int,
    .col_text = pg_col_text,
    .finish = pg_finish,
    .script = pg_script,
    .integrity = pg_integrity,
    .errmsg = pg_errmsg,
    .prepare = pg_prepare,
    .pipe_begin = pg_pipe_begin,
    .pipe_send = pg_pipe_send,
    .pipe_commit = pg_pipe_commit,
    .pipe_result = pg_pipe_result,
    .pipe_end = pg_pipe_end,
};
