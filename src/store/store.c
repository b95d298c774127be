/* store.c - opening a store, migrations, the writer thread and its group commit, write
 * submission, and the helpers the ops and reads share.
 *
 * Group commit: the writer takes every queued write (up to max_batch) and commits them in
 * one transaction, then posts the completions, so nothing is acknowledged before it is
 * durable. SQLite runs the writes one after another, each inside a SAVEPOINT so that a write
 * that fails (duplicate username, ...) is rolled back alone. PostgreSQL pipelines the whole
 * batch - BEGIN, one statement per write, COMMIT - in one round trip; its statements report
 * domain errors in their results instead of raising them, so no savepoint is needed. If a
 * batch cannot commit (an unexpected error, the commit failed) every write is retried alone,
 * so that errors land on the writes that cause them. A PostgreSQL connection found closed
 * before sending is reopened and the batch sent again; one lost after COMMIT was sent leaves
 * the outcome unknown and is reported as RS_EUNAVAIL. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_internal.h"
#include "util/err.h"
#include "util/utf8.h"
#include "util/log.h"

#define MAX_GROUP_ARGS 4096 /* members accepted by one createChatroom before dedup */

int64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_text_check(const char *p, size_t n)
{
    if (memchr(p, '\0', n)) return RS_EINVAL;
    return utf8_valid(p, n) ? 0 : RS_EUTF8;
}

int store_id_parse(const char *s, size_t len, int64_t *out)
{
    if (!s || len == 0 || len > STORE_ID_STR_MAX || s[0] == '0') return RS_EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return RS_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > (uint64_t)INT64_MAX) return RS_EINVAL;
    }
    *out = (int64_t)v;
    return 0;
}

size_t store_id_format(int64_t id, char *out)
{
    int n = snprintf(out, STORE_ID_STR_MAX + 1, "%lld", (long long)id);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- cursor helpers ------------------------------------------------------------------- */

int store_q_exec(const struct store_backend *be, struct store_conn *c, enum store_stmt st,
                 const struct store_arg *args, int n)
{
    int rc = be->query(c, st, args, n);
    if (rc < 0) return rc;
    while ((rc = be->step(c)) == 1) {
    }
    be->finish(c);
    return rc;
}

int store_q_row(const struct store_backend *be, struct store_conn *c, enum store_stmt st,
                const struct store_arg *args, int n)
{
    int rc = be->query(c, st, args, n);
    if (rc < 0) return rc;
    rc = be->step(c);
    if (rc != 1) be->finish(c);
    return rc;
}

int store_q_int(const struct store_backend *be, struct store_conn *c, enum store_stmt st,
                const struct store_arg *args, int n, int64_t *out)
{
    int rc = store_q_row(be, c, st, args, n);
    if (rc < 0) return rc;
    if (rc == 0) return RS_ENOTFOUND;
    *out = be->col_int(c, 0);
    /* Drain: a RETURNING statement completes its work only when stepped to the end. */
    while ((rc = be->step(c)) == 1) {
    }
    be->finish(c);
    return rc < 0 ? rc : 0;
}

void store_col_copy(const struct store_backend *be, struct store_conn *c, int col, char *dst,
                    size_t cap)
{
    size_t len = 0;
    const char *t = be->col_text(c, col, &len);
    if (!t) len = 0;
    if (len >= cap) len = cap - 1;
    if (len) memcpy(dst, t, len);
    dst[len] = '\0';
}

void store_row_user(const struct store_backend *be, struct store_conn *c, int col,
                    struct store_user *u)
{
    memset(u, 0, sizeof *u);
    u->id = be->col_int(c, col);
    store_col_copy(be, c, col + 1, u->username, sizeof u->username);
    store_col_copy(be, c, col + 2, u->username_norm, sizeof u->username_norm);
    store_col_copy(be, c, col + 3, u->display_name, sizeof u->display_name);
    store_col_copy(be, c, col + 4, u->socket_id, sizeof u->socket_id);
    u->last_seen_ms = be->col_int(c, col + 5);
    u->created_ms = be->col_int(c, col + 6);
    u->follower_count = be->col_int(c, col + 7);
    u->following_count = be->col_int(c, col + 8);
}

void store_row_chatroom(const struct store_backend *be, struct store_conn *c, int col,
                        struct store_chatroom *ch)
{
    memset(ch, 0, sizeof *ch);
    ch->id = be->col_int(c, col);
    ch->kind = (int)be->col_int(c, col + 1);
    ch->has_name = be->col_text(c, col + 2, NULL) != NULL;
    store_col_copy(be, c, col + 2, ch->name, sizeof ch->name);
    ch->created_ms = be->col_int(c, col + 3);
    ch->last_activity_ms = be->col_int(c, col + 4);
    ch->last_message_id = be->col_int(c, col + 5);
    ch->member_count = be->col_int(c, col + 6);
    ch->last_read_message_id = be->col_int(c, col + 7);
    ch->unread_count = be->col_int(c, col + 8);
}

int store_chatroom_view(const struct store_backend *be, struct store_conn *c, int64_t id,
                        int64_t viewer, struct store_chatroom *out)
{
    struct store_arg a[] = {SARG_INT(id), SARG_INT(viewer)};
    int rc = store_q_row(be, c, ST_CHATROOM_VIEW, a, 2);
    if (rc < 0) return rc;
    if (rc == 1) {
        store_row_chatroom(be, c, 0, out);
        be->finish(c);
        return 0;
    }
    rc = store_q_row(be, c, ST_CHATROOM_EXISTS, a, 1);
    if (rc < 0) return rc;
    if (rc == 1) be->finish(c);
    return rc == 1 ? RS_EPERM : RS_ENOTFOUND;
}

/* ---- opening, migrations -------------------------------------------------------------- */

static int parse_url(const char *url, const struct store_backend **be, char **target, char *err,
                     size_t errlen)
{
    if (!url || !*url) {
        snprintf(err, errlen, "no store URL (expected sqlite:PATH or postgres://...)");
        return RS_EINVAL;
    }
    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url + 7;
        if (strncmp(path, "//", 2) == 0) path += 2; /* sqlite:///abs/path */
        if (!*path) {
            snprintf(err, errlen, "store URL %s has no path", url);
            return RS_EINVAL;
        }
        *be = &store_sqlite_backend;
        *target = strdup(path);
    } else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        *be = &store_pg_backend;
        *target = strdup(url);
    } else {
        snprintf(err, errlen, "unsupported store URL (expected sqlite:PATH or postgres://...)");
        return RS_EINVAL;
    }
    return *target ? 0 : RS_ENOMEM;
}

static int migrate(const struct store_backend *be, struct store_conn *c, const char *where,
                   int *from, int *to, char *err, size_t errlen)
{
    int64_t version = 0;
    int rc = be->tx(c, TX_BEGIN);
    if (rc) {
        if (rc == RS_EBUSY)
            snprintf(err, errlen, "%s database %s is locked by another process", be->name, where);
        else
            snprintf(err, errlen, "%s: cannot begin a transaction: %s", be->name, be->errmsg(c));
        return rc;
    }
    /* Several nodes may start at once against one PostgreSQL: one migrates, the others
     * wait here and then find nothing left to do. */
    if (be->dialect == STORE_PG &&
        (rc = be->script(c, "SELECT pg_advisory_xact_lock(7370766585141776)")) != 0)
        goto fail;
    if ((rc = be->script(c, store_migrations_table[be->dialect])) != 0) goto fail;
    if ((rc = store_q_int(be, c, ST_SCHEMA_VERSION, NULL, 0, &version)) != 0) goto fail;
    if (from) *from = (int)version;
    if (version > STORE_SCHEMA_VERSION) {
        be->tx(c, TX_ROLLBACK);
        snprintf(err, errlen,
                 "the database schema is version %lld, newer than this roost's %d: "
                 "upgrade roost (or point it at another database)",
                 (long long)version, STORE_SCHEMA_VERSION);
        return RS_EINVAL;
    }
    for (int64_t v = version + 1; v <= STORE_SCHEMA_VERSION; v++) {
        if ((rc = be->script(c, store_migrations[be->dialect][v - 1])) != 0) goto fail;
        struct store_arg a[] = {SARG_INT(v), SARG_INT(store_now_ms())};
        if ((rc = store_q_exec(be, c, ST_SCHEMA_INSERT, a, 2)) != 0) goto fail;
        LOG_INFO("store", "%s: applied migration %lld", be->name, (long long)v);
    }
    if ((rc = be->tx(c, TX_COMMIT)) != 0) goto fail;
    if (to) *to = version > STORE_SCHEMA_VERSION ? (int)version : STORE_SCHEMA_VERSION;
    return 0;
fail:
    snprintf(err, errlen, "%s: migration failed: %s", be->name, be->errmsg(c));
    if (be->in_tx(c)) be->tx(c, TX_ROLLBACK);
    return rc;
}

static int busy_ms(const struct store_config *cfg)
{
    return cfg->busy_timeout_ms > 0 ? cfg->busy_timeout_ms : 5000;
}

int store_migrate(const struct store_config *cfg, int *from, int *to, char *err, size_t errlen)
{
    const struct store_backend *be;
    char *target = NULL;
    struct store_conn *c = NULL;
    int rc = parse_url(cfg->url, &be, &target, err, errlen);
    if (rc) goto out;
    if ((rc = be->connect(target, ROLE_WRITER, busy_ms(cfg), &c, err, errlen)) != 0) goto out;
    rc = migrate(be, c, target, from, to, err, errlen);
    be->disconnect(c);
out:
    free(target);
    return rc;
}

static void *writer_main(void *arg);

int store_open(const struct store_config *cfg, store_t **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) err = dummy, errlen = sizeof dummy;
    err[0] = '\0';
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return RS_EIO;
    }
    store_t *s = calloc(1, sizeof *s);
    if (!s) return RS_ENOMEM;
    int rc = parse_url(cfg->url, &s->be, &s->target, err, errlen);
    if (rc) goto fail;
    s->cfg = *cfg;
    s->cfg.url = NULL; /* not ours to keep */
    /* PostgreSQL: past a few dozen writes a batch stops gaining (its cost is then the
     * statements themselves, and rows updated again and again in one transaction - a busy
     * chatroom - grow version chains); measured 1.6-2k messages/s from 32 to 1,024. */
    if (s->cfg.max_batch <= 0) s->cfg.max_batch = s->be->dialect == STORE_PG ? 64 : 1024;
    if (s->cfg.queue_max <= 0) s->cfg.queue_max = 65536;
    if (s->cfg.group_max <= 0) s->cfg.group_max = 64;
    s->cfg.busy_timeout_ms = busy_ms(cfg);
    rc = s->be->connect(s->target, ROLE_WRITER, s->cfg.busy_timeout_ms, &s->wconn, err, errlen);
    if (rc) goto fail;
    if ((rc = migrate(s->be, s->wconn, s->target, NULL, NULL, err, errlen)) != 0) goto fail;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->stats_mu, NULL);
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        snprintf(err, errlen, "cannot start the store writer thread: %s", strerror(errno));
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->stats_mu);
        rc = RS_EIO;
        goto fail;
    }
    s->started = true;
    *out = s;
    return 0;
fail:
    if (s->wconn) s->be->disconnect(s->wconn);
    free(s->target);
    free(s);
    return rc;
}

void store_close(store_t *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    s->be->disconnect(s->wconn);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->stats_mu);
    free(s->target);
    free(s);
}

const char *store_backend_name(const store_t *s)
{
    return s->be->name;
}

void store_stats_get(store_t *s, struct store_stats *out)
{
    pthread_mutex_lock(&s->stats_mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->stats_mu);
    pthread_mutex_lock(&s->mu);
    out->queued = s->queued;
    pthread_mutex_unlock(&s->mu);
}

int store_check(store_t *s, buf_t *report)
{
    char err[256];
    struct store_conn *c = NULL;
    int rc = s->be->connect(s->target, ROLE_READER, s->cfg.busy_timeout_ms, &c, err, sizeof err);
    if (rc) {
        if (report) buf_appendf(report, "%s\n", err);
        return rc;
    }
    int found = s->be->integrity(c, report);
    if (found < 0) {
        rc = found;
        goto out;
    }
    for (int i = 0; i < store_check_query_count; i++) {
        int64_t n = 0;
        rc = store_q_int(s->be, c, store_check_queries[i].stmt, NULL, 0, &n);
        if (rc) goto out;
        if (n > 0) {
            found++;
            if (report) buf_appendf(report, "%lld %s\n", (long long)n, store_check_queries[i].what);
        }
    }
    rc = found ? RS_EIO : 0;
out:
    if (rc && rc != RS_EIO && report) buf_appendf(report, "check failed: %s\n", s->be->errmsg(c));
    s->be->disconnect(c);
    return rc;
}

/* ---- readers -------------------------------------------------------------------------- */

int store_reader_open(store_t *s, store_reader_t **out)
{
    char err[256];
    store_reader_t *r = calloc(1, sizeof *r);
    if (!r) return RS_ENOMEM;
    r->store = s;
    int rc =
        s->be->connect(s->target, ROLE_READER, s->cfg.busy_timeout_ms, &r->conn, err, sizeof err);
    if (rc) {
        LOG_ERROR("store", "cannot open a reader: %s", err);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void store_reader_close(store_reader_t *r)
{
    if (!r) return;
    r->store->be->disconnect(r->conn);
    free(r);
}

/* ---- the writer ----------------------------------------------------------------------- */

static void reset_result(struct store_req *req)
{
    enum store_op op = req->res.op;
    memset(&req->res, 0, sizeof req->res);
    req->res.op = op;
}

static void deliver(void *arg)
{
    struct store_req *req = arg;
    req->done(req->arg, &req->res);
    free(req);
}

static void complete(store_t *s, struct store_req *req)
{
    if (req->res.err) { /* the union is zeroed on error, as store.h promises */
        int err = req->res.err;
        reset_result(req);
        req->res.err = err;
    }
    if (!req->done) {
        free(req);
    } else if (!s->cfg.post) {
        deliver(req);
    } else if (s->cfg.post(req->origin, deliver, req) != 0) {
        LOG_WARN("store", "completion of write op %d dropped: its loop is gone", req->res.op);
        free(req);
    }
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static size_t bucket(uint64_t v, const uint64_t *bounds, size_t nbounds)
{
    size_t i = 0;
    while (i < nbounds && v > bounds[i]) i++;
    return i;
}

/* took_us: begin to commit of the transaction(s) counted here. */
static void count(store_t *s, struct store_req *list, uint64_t committed_txns, uint64_t batch,
                  uint64_t took_us)
{
    static const uint64_t ms_bounds[] = STORE_COMMIT_MS_BOUNDS;
    static const uint64_t batch_bounds[] = STORE_BATCH_BOUNDS;
    uint64_t n = 0, failed = 0;
    for (struct store_req *r = list; r; r = r->next) {
        n++;
        if (r->res.err) failed++;
    }
    pthread_mutex_lock(&s->stats_mu);
    s->stats.writes += n;
    s->stats.writes_failed += failed;
    s->stats.transactions += committed_txns;
    if (batch > s->stats.batch_max) s->stats.batch_max = batch;
    if (committed_txns) {
        s->stats.commit_ms_hist[bucket((took_us + 999) / 1000, ms_bounds, 10)]++;
        s->stats.commit_us_sum += took_us;
        s->stats.batch_hist[bucket(batch, batch_bounds, 11)]++;
        s->stats.batch_sum += batch;
    }
    pthread_mutex_unlock(&s->stats_mu);
}

static void note_reconnect(store_t *s)
{
    pthread_mutex_lock(&s->stats_mu);
    s->stats.reconnects++;
    pthread_mutex_unlock(&s->stats_mu);
}

/* 1 when the connection was lost and is back (so work may be retried), 0 otherwise. */
static int revived(store_t *s)
{
    if (s->be->ensure(s->wconn) == 1) {
        note_reconnect(s);
        return 1;
    }
    return 0;
}

enum { BATCH_COMMITTED, BATCH_FAILED, BATCH_RETRY_SINGLY };

/* One write in its own transaction. Returns 1 when it committed. */
static int run_single(store_t *s, struct store_req *req)
{
    const struct store_backend *be = s->be;
    for (int attempt = 0; attempt < 2; attempt++) {
        reset_result(req);
        int rc = be->tx(s->wconn, TX_BEGIN);
        if (rc == 0) {
            rc = store_op_run(s, req);
            if (rc == 0) {
                rc = be->tx(s->wconn, TX_COMMIT);
                if (rc == 0) return 1;
                if (be->in_tx(s->wconn)) be->tx(s->wconn, TX_ROLLBACK);
                reset_result(req);
                req->res.err = rc; /* RS_EUNAVAIL here: outcome unknown, never retried */
                return 0;
            }
            if (be->in_tx(s->wconn)) be->tx(s->wconn, TX_ROLLBACK);
        }
        if (rc == RS_EUNAVAIL && attempt == 0 && revived(s)) continue;
        reset_result(req);
        req->res.err = rc;
        return 0;
    }
    return 0;
}

/* The whole batch in one transaction, one savepoint per write. */
static int run_group(store_t *s, struct store_req *list)
{
    const struct store_backend *be = s->be;
    struct store_conn *c = s->wconn;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool last_failed = false;
        int rc = be->tx(c, TX_BEGIN_SAVEPOINT);
        if (rc) {
            if (be->in_tx(c)) be->tx(c, TX_ROLLBACK);
            if (rc == RS_EUNAVAIL && attempt == 0 && revived(s)) continue;
            for (struct store_req *r = list; r; r = r->next) r->res.err = rc;
            return BATCH_FAILED;
        }
        for (struct store_req *r = list; r; r = r->next) {
            reset_result(r);
            int op_rc = store_op_run(s, r);
            if (!be->in_tx(c)) { /* the database gave up the whole transaction */
                rc = op_rc ? op_rc : RS_EIO;
                goto abort;
            }
            if (op_rc == RS_EUNAVAIL || op_rc == RS_ENOMEM) {
                rc = op_rc;
                goto abort;
            }
            if (op_rc) {
                reset_result(r);
                r->res.err = op_rc;
            }
            if (!r->next)
                last_failed = op_rc != 0;
            else if ((rc = be->tx(c, op_rc ? TX_UNDO_NEXT : TX_NEXT)) != 0)
                goto abort;
        }
        rc = be->tx(c, last_failed ? TX_UNDO_COMMIT : TX_COMMIT);
        if (rc == 0) return BATCH_COMMITTED;
        if (rc == RS_EUNAVAIL) { /* lost during COMMIT: it may or may not have happened */
            for (struct store_req *r = list; r; r = r->next) {
                reset_result(r);
                r->res.err = RS_EUNAVAIL;
            }
            return BATCH_FAILED;
        }
    abort:
        if (be->in_tx(c)) be->tx(c, TX_ROLLBACK);
        if (rc == RS_EUNAVAIL && attempt == 0 && revived(s)) continue;
        return BATCH_RETRY_SINGLY;
    }
    return BATCH_RETRY_SINGLY;
}

/* The batch in one pipelined transaction: one round trip (backends with pipe_begin). The
 * statements report domain errors in their rows, so only an unexpected error aborts the
 * batch - which then runs one write at a time to find the culprit. */
static int run_pipelined(store_t *s, struct store_req *list)
{
    const struct store_backend *be = s->be;
    struct store_conn *c = s->wconn;
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = 0, first = 0;
        for (struct store_req *r = list; r && !rc; r = r->next) rc = store_op_pipe_prepare(s, r);
        if (rc == 0) rc = be->pipe_begin(c);
        for (struct store_req *r = list; r && !rc; r = r->next) {
            reset_result(r);
            rc = store_op_pipe_send(s, r);
        }
        if (rc == 0) rc = be->pipe_commit(c);
        if (rc) { /* COMMIT never left: nothing can have been committed */
            be->pipe_end(c);
            if (rc == RS_EUNAVAIL && attempt == 0 && revived(s)) continue;
            for (struct store_req *r = list; r; r = r->next) {
                reset_result(r);
                r->res.err = rc;
            }
            return BATCH_FAILED;
        }
        for (struct store_req *r = list; r; r = r->next) {
            int r_rc = store_op_pipe_read(s, r);
            if (r_rc && r_rc != RS_EAGAIN && !first) first = r_rc;
        }
        rc = be->pipe_end(c);
        if (rc == 0) return BATCH_COMMITTED;
        if (rc == RS_EUNAVAIL) { /* lost after sending COMMIT: outcome unknown */
            for (struct store_req *r = list; r; r = r->next) {
                reset_result(r);
                r->res.err = RS_EUNAVAIL;
            }
            return BATCH_FAILED;
        }
        if (list->next) return BATCH_RETRY_SINGLY;
        reset_result(list);
        list->res.err = first ? first : rc;
        return BATCH_FAILED;
    }
    return BATCH_FAILED;
}

/* Each write in its own transaction, completed as soon as it commits. */
static void one_by_one(store_t *s, struct store_req *list)
{
    struct store_req *next;
    for (struct store_req *r = list; r; r = next) {
        next = r->next;
        r->next = NULL;
        uint64_t t0 = now_us();
        bool ok = s->be->pipe_begin ? run_pipelined(s, r) == BATCH_COMMITTED : run_single(s, r);
        count(s, r, ok, 1, now_us() - t0);
        complete(s, r);
    }
}

static void run_batch(store_t *s, struct store_req *list, uint64_t n)
{
    if (s->be->ensure(s->wconn) == 1) note_reconnect(s);
    if (s->cfg.no_group_commit || n == 1) {
        one_by_one(s, list);
        return;
    }
    uint64_t t0 = now_us();
    int outcome = s->be->pipe_begin ? run_pipelined(s, list) : run_group(s, list);
    if (outcome == BATCH_RETRY_SINGLY) {
        LOG_WARN("store", "group commit of %llu writes failed; retrying them one by one",
                 (unsigned long long)n);
        one_by_one(s, list);
        return;
    }
    bool ok = outcome == BATCH_COMMITTED;
    count(s, list, ok, ok ? n : 0, now_us() - t0);
    struct store_req *next;
    for (struct store_req *r = list; r; r = next) {
        next = r->next;
        complete(s, r);
    }
}

static void *writer_main(void *arg)
{
    store_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->head && !s->stopping) pthread_cond_wait(&s->cv, &s->mu);
        if (!s->head) { /* stopping, and everything queued has been committed */
            pthread_mutex_unlock(&s->mu);
            break;
        }
        struct store_req *list = s->head, *last = s->head;
        uint64_t n = 1;
        while (last->next && n < (uint64_t)s->cfg.max_batch) last = last->next, n++;
        s->head = last->next;
        if (!s->head) s->tail = NULL;
        last->next = NULL;
        s->queued -= n;
        pthread_mutex_unlock(&s->mu);
        run_batch(s, list, n);
    }
    return NULL;
}

/* ---- submission ----------------------------------------------------------------------- */

struct req_build {
    struct store_req *req;
    char *p;
};

static int req_new(struct req_build *b, enum store_op op, void *origin, store_done_fn done,
                   void *arg, size_t extra)
{
    b->req = calloc(1, sizeof *b->req + extra);
    if (!b->req) return RS_ENOMEM;
    b->req->res.op = op;
    b->req->origin = origin;
    b->req->done = done;
    b->req->arg = arg;
    b->p = b->req->data;
    return 0;
}

static void req_str(struct req_build *b, int i, const char *s, size_t n)
{
    if (!s) return;
    memcpy(b->p, s, n);
    b->p[n] = '\0';
    b->req->str[i] = b->p;
    b->req->len[i] = n;
    b->p += n + 1;
}

static int submit(store_t *s, struct store_req *req)
{
    req->store = s;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->stopping)
        rc = RS_ECLOSED;
    else if (s->queued >= (size_t)s->cfg.queue_max)
        rc = RS_EBUSY;
    if (rc) {
        pthread_mutex_unlock(&s->mu);
        free(req);
        return rc;
    }
    if (s->tail)
        s->tail->next = req;
    else
        s->head = req;
    s->tail = req;
    s->queued++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Validate a text argument: 1..max bytes (0 allowed when optional), UTF-8, no NUL. */
static int text_arg(const char *p, size_t n, size_t max, bool optional)
{
    if (!p) return optional ? 0 : RS_EINVAL;
    if (n == 0) return optional ? 0 : RS_EINVAL;
    if (n > max) return RS_ETOOBIG;
    return store_text_check(p, n);
}

int store_user_create(store_t *s, void *origin, const char *username, size_t username_len,
                      const char *display_name, size_t display_name_len, const char *pwhash,
                      const char *secret_hash, store_done_fn done, void *arg)
{
    size_t pl = pwhash ? strlen(pwhash) : 0, sl = secret_hash ? strlen(secret_hash) : 0;
    int rc;
    if ((rc = text_arg(username, username_len, STORE_USERNAME_MAX, false)) ||
        (rc = text_arg(display_name, display_name_len, STORE_DISPLAY_NAME_MAX, false)) ||
        (rc = text_arg(pwhash, pl, STORE_PWHASH_MAX, false)) ||
        (rc = text_arg(secret_hash, sl, STORE_SECRET_HASH_MAX, true)))
        return rc;
    struct req_build b;
    if ((rc = req_new(&b, STORE_OP_USER_CREATE, origin, done, arg,
                      2 * username_len + display_name_len + pl + sl + 5)) != 0)
        return rc;
    req_str(&b, 0, username, username_len);
    req_str(&b, 1, username, username_len);
    for (char *p = (char *)b.req->str[1]; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    req_str(&b, 2, display_name, display_name_len);
    req_str(&b, 3, pwhash, pl);
    if (sl) req_str(&b, 4, secret_hash, sl);
    return submit(s, b.req);
}

int store_user_set_password_hash(store_t *s, void *origin, int64_t user_id, const char *pwhash,
                                 store_done_fn done, void *arg)
{
    size_t pl = pwhash ? strlen(pwhash) : 0;
    int rc = text_arg(pwhash, pl, STORE_PWHASH_MAX, false);
    struct req_build b;
    if (rc || (rc = req_new(&b, STORE_OP_USER_SET_PASSWORD, origin, done, arg, pl + 1)) != 0)
        return rc;
    b.req->a = user_id;
    req_str(&b, 0, pwhash, pl);
    return submit(s, b.req);
}

int store_user_set_socket(store_t *s, void *origin, int64_t user_id, const char *socket_id,
                          store_done_fn done, void *arg)
{
    size_t l = socket_id ? strlen(socket_id) : 0;
    int rc = text_arg(socket_id, l, STORE_SOCKET_ID_MAX, true);
    struct req_build b;
    if (rc || (rc = req_new(&b, STORE_OP_USER_SET_SOCKET, origin, done, arg, l + 1)) != 0)
        return rc;
    b.req->a = user_id;
    if (l) req_str(&b, 0, socket_id, l);
    return submit(s, b.req);
}

int store_user_set_last_seen(store_t *s, void *origin, int64_t user_id, int64_t ms,
                             store_done_fn done, void *arg)
{
    struct req_build b;
    if (ms < 0) return RS_EINVAL;
    int rc = req_new(&b, STORE_OP_USER_SET_LAST_SEEN, origin, done, arg, 0);
    if (rc) return rc;
    b.req->a = user_id;
    b.req->b = ms;
    return submit(s, b.req);
}

int store_session_create(store_t *s, void *origin, int64_t user_id, const char *secret_hash,
                         store_done_fn done, void *arg)
{
    size_t l = secret_hash ? strlen(secret_hash) : 0;
    int rc = text_arg(secret_hash, l, STORE_SECRET_HASH_MAX, false);
    struct req_build b;
    if (rc || (rc = req_new(&b, STORE_OP_SESSION_CREATE, origin, done, arg, l + 1)) != 0) return rc;
    b.req->a = user_id;
    req_str(&b, 0, secret_hash, l);
    return submit(s, b.req);
}

int store_session_revoke(store_t *s, void *origin, int64_t session_id, store_done_fn done,
                         void *arg)
{
    struct req_build b;
    int rc = req_new(&b, STORE_OP_SESSION_REVOKE, origin, done, arg, 0);
    if (rc) return rc;
    b.req->a = session_id;
    return submit(s, b.req);
}

int store_follow_toggle(store_t *s, void *origin, int64_t follower, int64_t followee,
                        store_done_fn done, void *arg)
{
    struct req_build b;
    int rc = req_new(&b, STORE_OP_FOLLOW_TOGGLE, origin, done, arg, 0);
    if (rc) return rc;
    b.req->a = follower;
    b.req->b = followee;
    return submit(s, b.req);
}

int store_chatroom_direct(store_t *s, void *origin, int64_t a, int64_t b_id, store_done_fn done,
                          void *arg)
{
    struct req_build b;
    int rc = req_new(&b, STORE_OP_CHATROOM_DIRECT, origin, done, arg, 0);
    if (rc) return rc;
    b.req->a = a;
    b.req->b = b_id;
    return submit(s, b.req);
}

int store_chatroom_group(store_t *s, void *origin, int64_t creator, const int64_t *members,
                         size_t n_members, const char *name, size_t name_len, store_done_fn done,
                         void *arg)
{
    if (n_members > MAX_GROUP_ARGS) return RS_ETOOBIG;
    if (n_members && !members) return RS_EINVAL;
    if (!name) name_len = 0;
    int rc = text_arg(name, name_len, STORE_CHATROOM_NAME_MAX, true);
    if (rc) return rc;
    struct req_build b;
    size_t ids_bytes = n_members * sizeof(int64_t);
    if ((rc = req_new(&b, STORE_OP_CHATROOM_GROUP, origin, done, arg, ids_bytes + name_len + 1)))
        return rc;
    if (n_members) memcpy(b.p, members, ids_bytes);
    b.req->ids = (const int64_t *)(void *)b.p;
    b.req->n_ids = n_members;
    b.p += ids_bytes;
    b.req->a = creator;
    if (name_len) req_str(&b, 0, name, name_len);
    return submit(s, b.req);
}

int store_message_send(store_t *s, void *origin, int64_t chatroom_id, int64_t sender_id,
                       const char *text, size_t text_len, store_done_fn done, void *arg)
{
    int rc = text_arg(text, text_len, STORE_TEXT_MAX, false);
    struct req_build b;
    if (rc || (rc = req_new(&b, STORE_OP_MESSAGE_SEND, origin, done, arg, text_len + 1)) != 0)
        return rc;
    b.req->a = chatroom_id;
    b.req->b = sender_id;
    req_str(&b, 0, text, text_len);
    return submit(s, b.req);
}

int store_chatroom_mark_read(store_t *s, void *origin, int64_t chatroom_id, int64_t user_id,
                             store_done_fn done, void *arg)
{
    struct req_build b;
    int rc = req_new(&b, STORE_OP_CHATROOM_MARK_READ, origin, done, arg, 0);
    if (rc) return rc;
    b.req->a = chatroom_id;
    b.req->b = user_id;
    return submit(s, b.req);
}

/* ---- presence ------------------------------------------------------------------------- */

#define MAX_PRESENCE_RESET (1u << 24) /* users of one node in one reset */

static int node_arg(const char *node, size_t *len)
{
    *len = node ? strlen(node) : 0;
    return text_arg(node, *len, STORE_NODE_ID_MAX, false);
}

/* A presence write naming node (and user_id / ttl in a / b). */
static int presence_req(store_t *s, enum store_op op, void *origin, const char *node, int64_t a,
                        int64_t b, store_done_fn done, void *arg)
{
    size_t l;
    int rc = node_arg(node, &l);
    struct req_build q;
    if (rc || (rc = req_new(&q, op, origin, done, arg, l + 1)) != 0) return rc;
    q.req->a = a;
    q.req->b = b;
    req_str(&q, 0, node, l);
    return submit(s, q.req);
}

int store_presence_add(store_t *s, void *origin, const char *node, int64_t user_id,
                       store_done_fn done, void *arg)
{
    return presence_req(s, STORE_OP_PRESENCE_ADD, origin, node, user_id, 0, done, arg);
}

int store_presence_remove(store_t *s, void *origin, const char *node, int64_t user_id,
                          store_done_fn done, void *arg)
{
    return presence_req(s, STORE_OP_PRESENCE_REMOVE, origin, node, user_id, 0, done, arg);
}

int store_presence_heartbeat(store_t *s, void *origin, const char *node, int64_t ttl_ms,
                             store_done_fn done, void *arg)
{
    if (ttl_ms <= 0) return RS_EINVAL;
    return presence_req(s, STORE_OP_PRESENCE_HEARTBEAT, origin, node, 0, ttl_ms, done, arg);
}

int store_presence_node_remove(store_t *s, void *origin, const char *node, store_done_fn done,
                               void *arg)
{
    return presence_req(s, STORE_OP_PRESENCE_NODE_REMOVE, origin, node, 0, 0, done, arg);
}

int store_presence_reset(store_t *s, void *origin, const char *node, const int64_t *user_ids,
                         size_t n, store_done_fn done, void *arg)
{
    size_t l;
    int rc = node_arg(node, &l);
    if (rc) return rc;
    if (n > MAX_PRESENCE_RESET) return RS_ETOOBIG;
    if (n && !user_ids) return RS_EINVAL;
    struct req_build q;
    size_t ids_bytes = n * sizeof(int64_t);
    if ((rc = req_new(&q, STORE_OP_PRESENCE_RESET, origin, done, arg, ids_bytes + l + 1)) != 0)
        return rc;
    if (n) memcpy(q.p, user_ids, ids_bytes);
    q.req->ids = (const int64_t *)(void *)q.p;
    q.req->n_ids = n;
    q.p += ids_bytes;
    req_str(&q, 0, node, l);
    return submit(s, q.req);
}
