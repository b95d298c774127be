/* store_sqlite.c - the SQLite backend: WAL, synchronous=FULL, foreign keys, cached
 * prepared statements.
 *
 * The writer connection commits with synchronous=FULL, so a COMMIT returns only after the
 * WAL is on disk; reader connections (query_only) read the last committed snapshot without
 * waiting for the writer. Statements are prepared once per connection, on first use, from
 * the constant table in store_sql.c. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_internal.h"
#include "util/err.h"
#include "util/log.h"

struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[ST_COUNT_];
    sqlite3_stmt *tx[TX_ROLLBACK_TO + 1]; /* the simple steps; composites run them in turn */
    sqlite3_stmt *cur;
    const char *path;
};

static const char *const tx_sql[] = {
    [TX_BEGIN] = "BEGIN IMMEDIATE", [TX_COMMIT] = "COMMIT",     [TX_ROLLBACK] = "ROLLBACK",
    [TX_SAVEPOINT] = "SAVEPOINT w", [TX_RELEASE] = "RELEASE w", [TX_ROLLBACK_TO] = "ROLLBACK TO w",
};

static int map_err(struct store_conn *c, int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return RS_EEXIST;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return RS_ENOTFOUND;
    default:
        break;
    }
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return RS_EINVAL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        LOG_WARN("store", "sqlite %s: database is locked by another process: %s", c->path,
                 sqlite3_errmsg(c->db));
        return RS_EBUSY;
    case SQLITE_READONLY:
        LOG_ERROR("store", "sqlite %s: read-only: %s", c->path, sqlite3_errmsg(c->db));
        return RS_EPERM;
    case SQLITE_NOMEM:
        return RS_ENOMEM;
    case SQLITE_TOOBIG:
        return RS_ETOOBIG;
    case SQLITE_FULL:
        LOG_ERROR("store", "sqlite %s: disk full: writes fail until there is room", c->path);
        return RS_ENOSPC;
    default:
        LOG_ERROR("store", "sqlite %s: %s (%d)", c->path, sqlite3_errmsg(c->db), rc);
        return RS_EIO;
    }
}

/* mkdir -p of the directory holding path (first run creates ./data/). */
static int make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char *dir = strdup(path);
    if (!dir) return RS_ENOMEM;
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        for (char *p = dir + 1; *p; p++) {
            if (*p != '/') continue;
            *p = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) goto fail;
            *p = '/';
        }
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) goto fail;
    }
    free(dir);
    return 0;
fail:
    snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
    rc = errno == EACCES || errno == EROFS || errno == EPERM ? RS_EPERM : RS_EIO;
    free(dir);
    return rc;
}

static int journal_cb(void *arg, int n, char **vals, char **names)
{
    char *mode = arg;
    if (n > 0 && vals[0]) snprintf(mode, 16, "%s", vals[0]);
    return 0;
}

static void sl_disconnect(struct store_conn *c)
{
    if (!c) return;
    for (int i = 0; i < ST_COUNT_; i++) sqlite3_finalize(c->stmts[i]);
    for (int i = 0; i <= TX_ROLLBACK_TO; i++) sqlite3_finalize(c->tx[i]);
    sqlite3_close_v2(c->db);
    free(c);
}

static int sl_connect(const char *path, enum store_role role, int busy_timeout_ms,
                      struct store_conn **out, char *err, size_t errlen)
{
    int rc;
    char *emsg = NULL;
    char mode[16] = "";
    struct store_conn *c = calloc(1, sizeof *c);
    if (!c) return RS_ENOMEM;
    c->path = path;
    if (role == ROLE_WRITER && (rc = make_parent_dirs(path, err, errlen)) != 0) goto fail;

    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (role == ROLE_WRITER) flags |= SQLITE_OPEN_CREATE;
    errno = 0;
    int src = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (src != SQLITE_OK) {
        snprintf(err, errlen, "cannot open sqlite database %s: %s%s%s", path,
                 c->db ? sqlite3_errmsg(c->db) : "out of memory", errno ? ": " : "",
                 errno ? strerror(errno) : "");
        rc = (src & 0xff) == SQLITE_CANTOPEN && errno == EACCES ? RS_EPERM : RS_EIO;
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, busy_timeout_ms);
    if (role == ROLE_WRITER && sqlite3_db_readonly(c->db, "main") == 1) {
        snprintf(err, errlen,
                 "sqlite database %s is read-only (check the permissions of the file and of "
                 "its directory)",
                 path);
        rc = RS_EPERM;
        goto fail;
    }
    src = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", journal_cb, mode, &emsg);
    if (src != SQLITE_OK || strcmp(mode, "wal") != 0) {
        int base = src & 0xff;
        if (base == SQLITE_BUSY || base == SQLITE_LOCKED) {
            snprintf(err, errlen, "sqlite database %s is locked by another process", path);
            rc = RS_EBUSY;
        } else if (base == SQLITE_READONLY || base == SQLITE_CANTOPEN || base == SQLITE_PERM) {
            snprintf(err, errlen,
                     "sqlite database %s: cannot write its journal (%s): check the "
                     "permissions of its directory",
                     path, emsg ? emsg : sqlite3_errstr(src));
            rc = RS_EPERM;
        } else {
            snprintf(err, errlen, "sqlite database %s: cannot enable WAL mode: %s", path,
                     emsg      ? emsg
                     : mode[0] ? mode
                               : sqlite3_errstr(src));
            rc = base == SQLITE_NOTADB ? RS_EINVAL : RS_EIO;
        }
        goto fail;
    }
    /* FULL: the WAL is synced at every commit, so an acknowledged write survives a power
     * cut (NORMAL would only protect against application crashes). */
    const char *pragmas = role == ROLE_WRITER ? "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                                                "PRAGMA journal_size_limit=67108864;"
                                              : "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                                                "PRAGMA query_only=ON;";
    src = sqlite3_exec(c->db, pragmas, NULL, NULL, &emsg);
    if (src != SQLITE_OK) {
        snprintf(err, errlen, "sqlite database %s: %s", path, emsg ? emsg : sqlite3_errstr(src));
        rc = (src & 0xff) == SQLITE_BUSY ? RS_EBUSY : RS_EIO;
        goto fail;
    }
    *out = c;
    return 0;
fail:
    sqlite3_free(emsg);
    sl_disconnect(c);
    return rc;
}

static int sl_ensure(struct store_conn *c)
{
    return 0;
}

static sqlite3_stmt *prepare(struct store_conn *c, const char *sql, int *rc_out)
{
    /* The table writes $N; SQLite's ?N binds by the same number. */
    size_t n = strlen(sql);
    char *text = malloc(n + 1);
    if (!text) {
        *rc_out = RS_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i <= n; i++) text[i] = sql[i] == '$' ? '?' : sql[i];
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, text, (int)n, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    free(text);
    if (rc != SQLITE_OK) {
        *rc_out = map_err(c, rc);
        return NULL;
    }
    return st;
}

static int sl_tx(struct store_conn *c, enum store_tx what)
{
    static const struct {
        int n;
        enum store_tx step[3];
    } seq[TX_COUNT_] = {
        [TX_BEGIN_SAVEPOINT] = {2, {TX_BEGIN, TX_SAVEPOINT}},
        [TX_NEXT] = {2, {TX_RELEASE, TX_SAVEPOINT}},
        [TX_UNDO_NEXT] = {3, {TX_ROLLBACK_TO, TX_RELEASE, TX_SAVEPOINT}},
        [TX_UNDO_COMMIT] = {2, {TX_ROLLBACK_TO, TX_COMMIT}},
    };
    int rc = 0;
    if (what > TX_ROLLBACK_TO) { /* no round trips to save here: run the steps in turn */
        for (int i = 0; i < seq[what].n; i++)
            if ((rc = sl_tx(c, seq[what].step[i])) != 0) return rc;
        return 0;
    }
    if (!c->tx[what] && !(c->tx[what] = prepare(c, tx_sql[what], &rc))) return rc;
    int src = sqlite3_step(c->tx[what]);
    sqlite3_reset(c->tx[what]);
    return src == SQLITE_DONE ? 0 : map_err(c, src);
}

static bool sl_in_tx(struct store_conn *c)
{
    return !sqlite3_get_autocommit(c->db);
}

static int sl_query(struct store_conn *c, enum store_stmt st, const struct store_arg *args, int n)
{
    int rc = 0;
    if (!c->stmts[st] && !(c->stmts[st] = prepare(c, store_sql_text(st, STORE_SQLITE), &rc)))
        return rc;
    sqlite3_stmt *s = c->stmts[st];
    for (int i = 0; i < n; i++) {
        int b;
        switch (args[i].type) {
        case SA_INT:
            b = sqlite3_bind_int64(s, i + 1, args[i].i);
            break;
        case SA_TEXT:
            b = sqlite3_bind_text64(s, i + 1, args[i].s, args[i].len, SQLITE_STATIC, SQLITE_UTF8);
            break;
        default:
            b = sqlite3_bind_null(s, i + 1);
            break;
        }
        if (b != SQLITE_OK) {
            sqlite3_clear_bindings(s);
            return map_err(c, b);
        }
    }
    c->cur = s;
    return 0;
}

static int sl_step(struct store_conn *c)
{
    int rc = sqlite3_step(c->cur);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return map_err(c, rc);
}

static int64_t sl_col_int(struct store_conn *c, int col)
{
    return sqlite3_column_int64(c->cur, col);
}

static const char *sl_col_text(struct store_conn *c, int col, size_t *len)
{
    if (sqlite3_column_type(c->cur, col) == SQLITE_NULL) {
        if (len) *len = 0;
        return NULL;
    }
    const char *t = (const char *)sqlite3_column_text(c->cur, col);
    if (len) *len = (size_t)sqlite3_column_bytes(c->cur, col);
    return t ? t : "";
}

static void sl_finish(struct store_conn *c)
{
    if (!c->cur) return;
    /* Resetting ends the statement's implicit read transaction, so a reader never pins an
     * old WAL snapshot (which would keep checkpoints from completing). */
    sqlite3_reset(c->cur);
    sqlite3_clear_bindings(c->cur);
    c->cur = NULL;
}

static int sl_script(struct store_conn *c, const char *sql)
{
    char *emsg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &emsg);
    if (rc != SQLITE_OK) {
        LOG_ERROR("store", "sqlite %s: %s", c->path, emsg ? emsg : sqlite3_errstr(rc));
        sqlite3_free(emsg);
        return map_err(c, rc);
    }
    return 0;
}

static int pragma_rows(struct store_conn *c, const char *sql, bool ok_row, buf_t *report,
                       int *found)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return map_err(c, rc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int cols = sqlite3_column_count(st);
        const char *first = (const char *)sqlite3_column_text(st, 0);
        if (ok_row && cols == 1 && first && strcmp(first, "ok") == 0) continue;
        (*found)++;
        if (report) {
            buf_appendf(report, "%s:", sql);
            for (int i = 0; i < cols; i++) {
                const char *v = (const char *)sqlite3_column_text(st, i);
                buf_appendf(report, " %s", v ? v : "NULL");
            }
            buf_append_byte(report, '\n');
        }
    }
    int res = rc == SQLITE_DONE ? 0 : map_err(c, rc);
    sqlite3_finalize(st);
    return res;
}

static int sl_integrity(struct store_conn *c, buf_t *report)
{
    int found = 0, rc;
    if ((rc = pragma_rows(c, "PRAGMA integrity_check", true, report, &found)) < 0) return rc;
    if ((rc = pragma_rows(c, "PRAGMA foreign_key_check", false, report, &found)) < 0) return rc;
    return found;
}

static const char *sl_errmsg(struct store_conn *c)
{
    return sqlite3_errmsg(c->db);
}

const struct store_backend store_sqlite_backend = {
    .name = "sqlite",
    .dialect = STORE_SQLITE,
    .connect = sl_connect,
    .disconnect = sl_disconnect,
    .ensure = sl_ensure,
    .tx = sl_tx,
    .in_tx = sl_in_tx,
    .query = sl_query,
    .step = sl_step,
    .col_int = sl_col_int,
    .col_text = sl_col_text,
    .finish = sl_finish,
    .script = sl_script,
    .integrity = sl_integrity,
    .errmsg = sl_errmsg,
};
