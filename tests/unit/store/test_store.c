/* test_store.c - the storage suite. Every STORE_TEST runs against SQLite (a temporary file)
 * and, when ROOST_TEST_PG holds a conninfo URL (scripts/pg-test.sh start), against
 * PostgreSQL too, each test in its own schema. Completions are delivered through a poster
 * into a small loop that the test thread drains, as a worker's event loop would. */
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "util/err.h"
#include "util/log.h"

#define PWHASH "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

/* ---- a loop that completions are posted to -------------------------------------------- */

struct titem {
    struct titem *next;
    void (*fn)(void *);
    void *arg;
};
struct tloop {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct titem *head, *tail;
};

static int tpost(void *origin, void (*fn)(void *), void *arg)
{
    struct tloop *l = origin;
    struct titem *it = malloc(sizeof *it);
    if (!it) return -1;
    *it = (struct titem){NULL, fn, arg};
    pthread_mutex_lock(&l->mu);
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

/* Run one posted function; 0 when one ran, -1 after 20 s without any. */
static int tloop_run_one(struct tloop *l)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    pthread_mutex_lock(&l->mu);
    while (!l->head)
        if (pthread_cond_timedwait(&l->cv, &l->mu, &dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&l->mu);
            return -1;
        }
    struct titem *it = l->head;
    l->head = it->next;
    if (!l->head) l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
    it->fn(it->arg);
    free(it);
    return 0;
}

/* ---- per-test environment ------------------------------------------------------------- */

struct tenv {
    const char *backend; /* "sqlite" / "postgres" */
    char url[1024];
    char dir[256];   /* sqlite: temporary directory */
    char schema[64]; /* postgres: this test's schema */
    char path[512];  /* sqlite: database file */
    struct store_config cfg;
    store_t *s;
    store_reader_t *r;
    struct tloop loop;
    pthread_t thread;
    /* the last completion, copied */
    int ndone;
    bool wrong_thread;
    struct store_result res;
    char text[STORE_TEXT_MAX + 1];
};

static bool is_pg(const struct tenv *e)
{
    return strcmp(e->backend, "postgres") == 0;
}

static void on_done(void *arg, const struct store_result *res)
{
    struct tenv *e = arg;
    if (!pthread_equal(pthread_self(), e->thread)) e->wrong_thread = true;
    e->res = *res;
    if (res->op == STORE_OP_MESSAGE_SEND && !res->err) {
        memcpy(e->text, res->message.text, res->message.text_len + 1);
        e->res.message.text = e->text;
    }
    e->ndone++;
}

/* Wait for the completion of the write just submitted (rc is its submission result). */
static int wait_done(struct tenv *e, int rc)
{
    if (rc) return rc;
    int before = e->ndone;
    while (e->ndone == before)
        if (tloop_run_one(&e->loop) != 0) {
            TEST_FAIL_AT("no completion within 20 s");
            return RS_ETIMEDOUT;
        }
    return e->res.err;
}

#define W(call) wait_done(e, (call))

static int env_open(struct tenv *e)
{
    char err[512] = "";
    e->cfg.url = e->url;
    e->cfg.post = tpost;
    int rc = store_open(&e->cfg, &e->s, err, sizeof err);
    if (rc) {
        TEST_FAIL_AT("store_open(%s): %s: %s", e->url, rs_strerror(rc), err);
        return rc;
    }
    rc = store_reader_open(e->s, &e->r);
    if (rc) TEST_FAIL_AT("store_reader_open: %s", rs_strerror(rc));
    return rc;
}

static void env_close(struct tenv *e)
{
    store_reader_close(e->r);
    e->r = NULL;
    store_close(e->s);
    e->s = NULL;
}

static bool raw_quiet; /* the next raw_exec is expected to fail */

/* Run SQL outside the store (to corrupt, lock or inspect the database). */
static int raw_exec(struct tenv *e, const char *sql)
{
    bool loud = !raw_quiet;
    raw_quiet = false;
    if (is_pg(e)) {
        PGconn *c = PQconnectdb(e->url);
        PGresult *r = PQexec(c, sql);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok && loud) fprintf(stderr, "    raw_exec: %s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return ok ? 0 : -1;
    }
    sqlite3 *db;
    if (sqlite3_open(e->path, &db) != SQLITE_OK) return -1;
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc && loud) fprintf(stderr, "    raw_exec: %s\n", msg);
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc ? -1 : 0;
}

static void quiet(void *arg, const char *msg) {}

static int pg_admin(const char *sql)
{
    PGconn *c = PQconnectdb(getenv("ROOST_TEST_PG"));
    PQsetNoticeProcessor(c, quiet, NULL);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "    pg_admin: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

typedef void (*body_fn)(struct tenv *e);

static void run_sqlite(body_fn body, bool open)
{
    struct tenv *e = calloc(1, sizeof *e);
    e->backend = "sqlite";
    e->thread = pthread_self();
    pthread_mutex_init(&e->loop.mu, NULL);
    pthread_cond_init(&e->loop.cv, NULL);
    snprintf(e->dir, sizeof e->dir, "/tmp/roost-store-test.XXXXXX");
    if (!mkdtemp(e->dir)) {
        TEST_FAIL_AT("mkdtemp");
        return;
    }
    snprintf(e->path, sizeof e->path, "%s/data/sub/roost.db", e->dir);
    snprintf(e->url, sizeof e->url, "sqlite:%s", e->path);
    if (!open || env_open(e) == 0) body(e);
    if (e->s) env_close(e);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd) != 0) fprintf(stderr, "    cleanup of %s failed\n", e->dir);
    if (test_failed_here) fprintf(stderr, "    (backend: sqlite)\n");
    free(e);
}

static void run_pg(body_fn body, bool open)
{
    const char *base = getenv("ROOST_TEST_PG");
    if (!base || !*base) return;
    struct tenv *e = calloc(1, sizeof *e);
    e->backend = "postgres";
    e->thread = pthread_self();
    pthread_mutex_init(&e->loop.mu, NULL);
    pthread_cond_init(&e->loop.cv, NULL);
    static int seq;
    snprintf(e->schema, sizeof e->schema, "rt_%d_%d", (int)getpid(), seq++);
    snprintf(e->url, sizeof e->url, "%s%coptions=-csearch_path%%3D%s&application_name=%s", base,
             strchr(base, '?') ? '&' : '?', e->schema, e->schema);
    char sql[200];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", e->schema);
    if (pg_admin(sql) != 0) {
        TEST_FAIL_AT("cannot create schema on %s", base);
        free(e);
        return;
    }
    int failed_before = test_failed_here;
    test_failed_here = 0;
    if (!open || env_open(e) == 0) body(e);
    if (e->s) env_close(e);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", e->schema);
    pg_admin(sql);
    if (test_failed_here) fprintf(stderr, "    (backend: postgres)\n");
    test_failed_here |= failed_before;
    free(e);
}

static void run_backends(body_fn body, bool open)
{
    log_set_level("off");
    run_sqlite(body, open);
    int failed = test_failed_here;
    test_failed_here = 0;
    run_pg(body, open);
    test_failed_here |= failed;
}

/* A test body run on each backend with an open store (e->s, e->r). */
#define STORE_TEST(name)                                                                           \
    static void name##_body(struct tenv *e);                                                       \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_backends(name##_body, true);                                                           \
    }                                                                                              \
    static void name##_body(struct tenv *e)

/* The same, but the body opens the store itself. */
#define STORE_TEST_NOOPEN(name)                                                                    \
    static void name##_body(struct tenv *e);                                                       \
    TEST(name)                                                                                     \
    {                                                                                              \
        run_backends(name##_body, false);                                                          \
    }                                                                                              \
    static void name##_body(struct tenv *e)

/* ---- helpers -------------------------------------------------------------------------- */

static int64_t mk_user(struct tenv *e, const char *name)
{
    int rc = W(store_user_create(e->s, &e->loop, name, strlen(name), name, strlen(name), PWHASH,
                                 NULL, on_done, e));
    if (rc) {
        TEST_FAIL_AT("creating user %s: %s", name, rs_strerror(rc));
        return 0;
    }
    return e->res.user_create.user.id;
}

static int follow(struct tenv *e, int64_t a, int64_t b)
{
    return W(store_follow_toggle(e->s, &e->loop, a, b, on_done, e));
}

static int64_t direct(struct tenv *e, int64_t a, int64_t b)
{
    int rc = W(store_chatroom_direct(e->s, &e->loop, a, b, on_done, e));
    if (rc) {
        TEST_FAIL_AT("direct chatroom: %s", rs_strerror(rc));
        return 0;
    }
    return e->res.chatroom.chatroom.id;
}

static int send_msg(struct tenv *e, int64_t room, int64_t sender, const char *text)
{
    return W(store_message_send(e->s, &e->loop, room, sender, text, strlen(text), on_done, e));
}

/* ---- pure helpers --------------------------------------------------------------------- */

TEST(id_parse_and_format)
{
    int64_t v = 0;
    CHECK_EQ_INT(store_id_parse("1", 1, &v), 0);
    CHECK_EQ_INT(v, 1);
    CHECK_EQ_INT(store_id_parse("9223372036854775807", 19, &v), 0);
    CHECK_EQ_INT(v, INT64_MAX);
    CHECK_EQ_INT(store_id_parse("9223372036854775808", 19, &v), RS_EINVAL);
    CHECK_EQ_INT(store_id_parse("99999999999999999999", 20, &v), RS_EINVAL);
    CHECK_EQ_INT(store_id_parse("0", 1, &v), RS_EINVAL);
    CHECK_EQ_INT(store_id_parse("01", 2, &v), RS_EINVAL);
    CHECK_EQ_INT(store_id_parse("-1", 2, &v), RS_EINVAL);
    CHECK_EQ_INT(store_id_parse("+1", 2, &v), RS_EINVAL);
    CHECK_EQ_INT(store_id_parse("1 ", 2, &v), RS_EINVAL);
    CHECK_EQ_INT(store_id_parse("", 0, &v), RS_EINVAL);
    CHECK_EQ_INT(store_id_parse("1' OR 1=1", 9, &v), RS_EINVAL);
    char buf[STORE_ID_STR_MAX + 1];
    CHECK_EQ_INT(store_id_format(INT64_MAX, buf), 19);
    CHECK_EQ_STR(buf, "9223372036854775807");
    CHECK_EQ_INT(store_id_format(42, buf), 2);
    CHECK_EQ_STR(buf, "42");
}

TEST(bad_urls_refused)
{
    struct store_config cfg = {0};
    store_t *s = NULL;
    char err[256];
    const char *bad[] = {
        "", "mysql://localhost/x", "sqlite:", "sqlite://", "postgres:/x", "SQLITE:/tmp/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.url = bad[i];
        err[0] = '\0';
        CHECK_EQ_INT(store_open(&cfg, &s, err, sizeof err), RS_EINVAL);
        CHECK(err[0] != '\0');
    }
    cfg.url = NULL;
    CHECK_EQ_INT(store_open(&cfg, &s, err, sizeof err), RS_EINVAL);
}

TEST(postgres_backend)
{
    const char *pg = getenv("ROOST_TEST_PG");
    if (!pg || !*pg) {
        fprintf(stderr, "note: ROOST_TEST_PG not set: the storage suite ran against SQLite only "
                        "(PostgreSQL skipped; see scripts/pg-test.sh)\n");
        return;
    }
    PGconn *c = PQconnectdb(pg);
    CHECK(PQstatus(c) == CONNECTION_OK);
    PQfinish(c);
}

/* ---- schema and migrations ------------------------------------------------------------ */

STORE_TEST_NOOPEN(migrations_idempotent)
{
    char err[256] = "";
    int from = -1, to = -1;
    struct store_config cfg = {.url = e->url};
    CHECK_EQ_INT(store_migrate(&cfg, &from, &to, err, sizeof err), 0);
    CHECK_EQ_INT(from, 0);
    CHECK_EQ_INT(to, STORE_SCHEMA_VERSION);
    if (!is_pg(e)) {
        struct stat st;
        CHECK(stat(e->path, &st) == 0); /* data/sub/ was created */
    }
    CHECK_EQ_INT(store_migrate(&cfg, &from, &to, err, sizeof err), 0);
    CHECK_EQ_INT(from, STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(to, STORE_SCHEMA_VERSION);
    REQUIRE(env_open(e) == 0); /* open migrates too: nothing left to do */
    int64_t id = mk_user(e, "alice");
    CHECK(id > 0);
    env_close(e);
    REQUIRE(env_open(e) == 0);
    struct store_user u;
    CHECK_EQ_INT(store_user_get(e->r, id, &u), 0);
    CHECK_EQ_INT(store_check(e->s, NULL), 0);
}

STORE_TEST_NOOPEN(newer_schema_refused)
{
    REQUIRE(env_open(e) == 0);
    env_close(e);
    REQUIRE(raw_exec(e, "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)") ==
            0);
    char err[256] = "";
    store_t *s = NULL;
    struct store_config cfg = {.url = e->url};
    CHECK_EQ_INT(store_open(&cfg, &s, err, sizeof err), RS_EINVAL);
    CHECK(strstr(err, "newer") != NULL);
    CHECK(strstr(err, "999") != NULL);
    int from = 0;
    CHECK_EQ_INT(store_migrate(&cfg, &from, NULL, err, sizeof err), RS_EINVAL);
    CHECK_EQ_INT(from, 999);
}

/* ---- users ---------------------------------------------------------------------------- */

STORE_TEST(user_create_and_get)
{
    int64_t before = (int64_t)time(NULL) * 1000 - 2000;
    int rc = W(store_user_create(e->s, &e->loop, "Alice", 5, "Alice Liddell", 13, PWHASH, NULL,
                                 on_done, e));
    REQUIRE(rc == 0);
    CHECK(!e->wrong_thread);
    const struct store_user *u = &e->res.user_create.user;
    CHECK(u->id > 0);
    CHECK_EQ_STR(u->username, "Alice");
    CHECK_EQ_STR(u->username_norm, "alice");
    CHECK_EQ_STR(u->display_name, "Alice Liddell");
    CHECK_EQ_STR(u->socket_id, "");
    CHECK_EQ_INT(u->last_seen_ms, 0);
    CHECK(u->created_ms >= before);
    CHECK_EQ_INT(e->res.user_create.session_id, 0);
    int64_t id = u->id;

    struct store_user g;
    CHECK_EQ_INT(store_user_get(e->r, id, &g), 0);
    CHECK_EQ_STR(g.display_name, "Alice Liddell");
    CHECK_EQ_INT(store_user_get_by_username(e->r, "ALICE", 5, &g), 0);
    CHECK_EQ_INT(g.id, id);
    CHECK_EQ_INT(store_user_get_by_username(e->r, "alice", 5, &g), 0);
    CHECK_EQ_INT(store_user_get_by_username(e->r, "alic", 4, &g), RS_ENOTFOUND);
    CHECK_EQ_INT(store_user_get_by_username(e->r, "", 0, &g), RS_ENOTFOUND);
    CHECK_EQ_INT(store_user_get(e->r, id + 1000, &g), RS_ENOTFOUND);
    char hash[STORE_PWHASH_MAX + 1];
    CHECK_EQ_INT(store_user_password_hash(e->r, id, hash), 0);
    CHECK_EQ_STR(hash, PWHASH);
    CHECK_EQ_INT(store_user_password_hash(e->r, id + 1000, hash), RS_ENOTFOUND);

    int64_t id2 = mk_user(e, "bob");
    CHECK(id2 > id);
}

STORE_TEST(duplicate_username_is_eexist)
{
    int64_t id = mk_user(e, "Bob");
    REQUIRE(id > 0);
    CHECK_EQ_INT(
        W(store_user_create(e->s, &e->loop, "bob", 3, "Other", 5, PWHASH, NULL, on_done, e)),
        RS_EEXIST);
    CHECK_EQ_INT(e->res.user_create.user.id, 0); /* zeroed on error */
    CHECK_EQ_INT(
        W(store_user_create(e->s, &e->loop, "BOB", 3, "Other", 5, PWHASH, "abc", on_done, e)),
        RS_EEXIST);
    /* the failed registration left no session behind and the store still works */
    CHECK(mk_user(e, "bobby") > 0);
    CHECK_EQ_INT(store_check(e->s, NULL), 0);
}

STORE_TEST(register_creates_session)
{
    int rc = W(store_user_create(e->s, &e->loop, "carol", 5, "Carol", 5, PWHASH, "hash-of-secret",
                                 on_done, e));
    REQUIRE(rc == 0);
    int64_t sid = e->res.user_create.session_id, uid = e->res.user_create.user.id;
    CHECK(sid > 0);
    struct store_session s;
    CHECK_EQ_INT(store_session_get(e->r, sid, &s), 0);
    CHECK_EQ_INT(s.user_id, uid);
    CHECK_EQ_STR(s.secret_hash, "hash-of-secret");
}

STORE_TEST(bad_text_refused_before_queueing)
{
    int called = e->ndone;
    CHECK_EQ_INT(store_user_create(e->s, &e->loop, "a\xff", 2, "x", 1, PWHASH, NULL, on_done, e),
                 RS_EUTF8);
    CHECK_EQ_INT(store_user_create(e->s, &e->loop, "a\0b", 3, "x", 1, PWHASH, NULL, on_done, e),
                 RS_EINVAL);
    CHECK_EQ_INT(store_user_create(e->s, &e->loop, "", 0, "x", 1, PWHASH, NULL, on_done, e),
                 RS_EINVAL);
    CHECK_EQ_INT(store_user_create(e->s, &e->loop, "abc", 3, "", 0, PWHASH, NULL, on_done, e),
                 RS_EINVAL);
    CHECK_EQ_INT(store_user_create(e->s, &e->loop, "abc", 3, "x", 1, NULL, NULL, on_done, e),
                 RS_EINVAL);
    CHECK_EQ_INT(store_user_create(e->s, &e->loop, "abcdefghijklmnopqrstuvwxyz0123456", 33, "x", 1,
                                   PWHASH, NULL, on_done, e),
                 RS_ETOOBIG);
    CHECK_EQ_INT(
        store_user_create(e->s, &e->loop, "abc", 3, "\xed\xa0\x80", 3, PWHASH, NULL, on_done, e),
        RS_EUTF8); /* a UTF-16 surrogate */
    CHECK_EQ_INT(
        store_user_create(e->s, &e->loop, "abc", 3, "\xc0\xaf", 2, PWHASH, NULL, on_done, e),
        RS_EUTF8); /* overlong */
    CHECK_EQ_INT(store_user_create(e->s, &e->loop, "abc", 3, "\xf4\x90\x80\x80", 4, PWHASH, NULL,
                                   on_done, e),
                 RS_EUTF8); /* past U+10FFFF */
    CHECK_EQ_INT(
        store_user_create(e->s, &e->loop, "abc", 3, "\xe2\x82", 2, PWHASH, NULL, on_done, e),
        RS_EUTF8); /* truncated */
    char *big = malloc(STORE_TEXT_MAX + 2);
    memset(big, 'x', STORE_TEXT_MAX + 1);
    CHECK_EQ_INT(store_message_send(e->s, &e->loop, 1, 1, big, STORE_TEXT_MAX + 1, on_done, e),
                 RS_ETOOBIG);
    CHECK_EQ_INT(store_message_send(e->s, &e->loop, 1, 1, big, 0, on_done, e), RS_EINVAL);
    free(big);
    char sock[STORE_SOCKET_ID_MAX + 2];
    memset(sock, 's', sizeof sock - 1);
    sock[sizeof sock - 1] = '\0';
    CHECK_EQ_INT(store_user_set_socket(e->s, &e->loop, 1, sock, on_done, e), RS_ETOOBIG);
    CHECK_EQ_INT(store_user_set_last_seen(e->s, &e->loop, 1, -5, on_done, e), RS_EINVAL);
    /* nothing was queued, so nothing completes */
    struct store_stats st;
    store_stats_get(e->s, &st);
    CHECK_EQ_INT(st.queued, 0);
    CHECK_EQ_INT(st.writes, 0);
    CHECK_EQ_INT(e->ndone, called);
    /* valid multibyte text of every length class is fine */
    CHECK(mk_user(e, "\xc3\xa9\xe6\xbc\xa2\xf0\x9f\x99\x82") > 0);
}

static const char *const injections[] = {
    "'; DROP TABLE users; --",
    "Robert'); DROP TABLE messages;--",
    "\" OR \"1\"=\"1",
    "' OR '1'='1",
    "1; DELETE FROM sessions",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "%_\\%\\_[]*?",
    "$1 $2 ?1 :name @x",
    "\\x00\\'\\\"",
    "ü漢字🙂 \t\r\n",
    "{{7*7}} ${7*7} #{7*7}",
};
#define N_INJ (sizeof injections / sizeof injections[0])

STORE_TEST(injection_strings_stored_verbatim)
{
    int64_t ids[N_INJ];
    for (size_t i = 0; i < N_INJ; i++) {
        char uname[STORE_USERNAME_MAX + 1];
        snprintf(uname, sizeof uname, "%.28s%zu", injections[i], i);
        size_t ul = strlen(uname);
        /* never cut a UTF-8 sequence: the 12th string is short enough */
        int rc = W(store_user_create(e->s, &e->loop, uname, ul, injections[i],
                                     strlen(injections[i]), PWHASH, injections[i], on_done, e));
        REQUIRE(rc == 0);
        ids[i] = e->res.user_create.user.id;
        struct store_user u;
        CHECK_EQ_INT(store_user_get(e->r, ids[i], &u), 0);
        CHECK_EQ_STR(u.display_name, injections[i]);
        CHECK_EQ_STR(u.username, uname);
        CHECK_EQ_INT(store_user_get_by_username(e->r, uname, ul, &u), 0);
        CHECK_EQ_INT(u.id, ids[i]);
        struct store_session s;
        CHECK_EQ_INT(store_session_get(e->r, e->res.user_create.session_id, &s), 0);
        CHECK_EQ_STR(s.secret_hash, injections[i]);
        CHECK_EQ_INT(W(store_user_set_socket(e->s, &e->loop, ids[i], injections[i], on_done, e)),
                     0);
        CHECK_EQ_INT(store_user_get(e->r, ids[i], &u), 0);
        CHECK_EQ_STR(u.socket_id, injections[i]);
    }
    int64_t room = 0;
    int rc = W(store_chatroom_group(e->s, &e->loop, ids[0], ids + 1, N_INJ - 1, injections[0],
                                    strlen(injections[0]), on_done, e));
    REQUIRE(rc == 0);
    room = e->res.chatroom.chatroom.id;
    CHECK_EQ_STR(e->res.chatroom.chatroom.name, injections[0]);
    for (size_t i = 0; i < N_INJ; i++) {
        REQUIRE(send_msg(e, room, ids[i], injections[i]) == 0);
        CHECK_EQ_STR(e->res.message.text, injections[i]);
    }
    struct store_message_page p;
    REQUIRE(store_message_history(e->r, room, ids[0], 0, 50, &p) == 0);
    CHECK_EQ_INT(p.n, N_INJ);
    for (size_t i = 0; i < p.n && i < N_INJ; i++) {
        CHECK_EQ_STR(p.items[i].text, injections[i]);
        CHECK_EQ_INT(p.items[i].text_len, strlen(injections[i]));
    }
    store_message_page_free(&p);
    /* searching with injection strings finds only literal matches */
    struct store_user_page up;
    CHECK_EQ_INT(store_user_search(e->r, "' OR '1'='1", 11, NULL, 50, &up), 0);
    CHECK_EQ_INT(up.n, 1);
    store_user_page_free(&up);
    CHECK_EQ_INT(store_user_search(e->r, "%", 1, NULL, 50, &up), 0);
    CHECK_EQ_INT(up.n, 1); /* only the user whose name contains a literal '%' */
    store_user_page_free(&up);
    CHECK_EQ_INT(store_check(e->s, NULL), 0);
}

STORE_TEST(user_search_paginates)
{
    const char *names[] = {"anna", "Annabel", "bob", "hannah", "joanne", "zed"};
    for (size_t i = 0; i < 6; i++) REQUIRE(mk_user(e, names[i]) > 0);
    struct store_user_page p;
    CHECK_EQ_INT(store_user_search(e->r, "ANN", 3, NULL, 2, &p), 0);
    REQUIRE(p.n == 2);
    CHECK_EQ_STR(p.items[0].username_norm, "anna");
    CHECK_EQ_STR(p.items[1].username_norm, "annabel");
    CHECK(p.has_more);
    char after[STORE_USERNAME_MAX + 1];
    snprintf(after, sizeof after, "%s", p.items[1].username_norm);
    store_user_page_free(&p);
    CHECK_EQ_INT(store_user_search(e->r, "ann", 3, after, 2, &p), 0);
    REQUIRE(p.n == 2);
    CHECK_EQ_STR(p.items[0].username, "hannah");
    CHECK_EQ_STR(p.items[1].username, "joanne");
    CHECK(!p.has_more);
    store_user_page_free(&p);
    CHECK_EQ_INT(store_user_search(e->r, "", 0, NULL, 100, &p), 0);
    CHECK_EQ_INT(p.n, 6);
    CHECK(!p.has_more);
    store_user_page_free(&p);
    /* display names match too */
    REQUIRE(W(store_user_create(e->s, &e->loop, "zz", 2, "Dr. JOHANN", 10, PWHASH, NULL, on_done,
                                e)) == 0);
    CHECK_EQ_INT(store_user_search(e->r, "hAnN", 4, "joanne", 10, &p), 0);
    CHECK_EQ_INT(p.n, 1);
    if (p.n) CHECK_EQ_STR(p.items[0].username, "zz");
    store_user_page_free(&p);
    CHECK_EQ_INT(store_user_search(e->r, "nobody", 6, NULL, 10, &p), 0);
    CHECK_EQ_INT(p.n, 0);
    store_user_page_free(&p);
    CHECK_EQ_INT(store_user_search(e->r, "a", 1, NULL, 0, &p), RS_EINVAL);
    CHECK_EQ_INT(store_user_search(e->r, "a", 1, NULL, STORE_PAGE_MAX + 1, &p), RS_EINVAL);
    CHECK_EQ_INT(store_user_search(e->r, "\xff", 1, NULL, 5, &p), RS_EUTF8);
}

STORE_TEST(socket_last_seen_password)
{
    int64_t id = mk_user(e, "dave");
    REQUIRE(id > 0);
    struct store_user u;
    CHECK_EQ_INT(W(store_user_set_socket(e->s, &e->loop, id, "sock-123", on_done, e)), 0);
    CHECK_EQ_INT(store_user_get(e->r, id, &u), 0);
    CHECK_EQ_STR(u.socket_id, "sock-123");
    CHECK_EQ_INT(W(store_user_set_socket(e->s, &e->loop, id, NULL, on_done, e)), 0);
    CHECK_EQ_INT(store_user_get(e->r, id, &u), 0);
    CHECK_EQ_STR(u.socket_id, "");
    CHECK_EQ_INT(W(store_user_set_socket(e->s, &e->loop, id + 99, "x", on_done, e)), RS_ENOTFOUND);

    CHECK_EQ_INT(W(store_user_set_last_seen(e->s, &e->loop, id, 1234567, on_done, e)), 0);
    CHECK_EQ_INT(store_user_get(e->r, id, &u), 0);
    CHECK_EQ_INT(u.last_seen_ms, 1234567);
    int64_t now = (int64_t)time(NULL) * 1000;
    CHECK_EQ_INT(W(store_user_set_last_seen(e->s, &e->loop, id, 0, on_done, e)), 0);
    CHECK_EQ_INT(store_user_get(e->r, id, &u), 0);
    CHECK(u.last_seen_ms >= now - 2000 && u.last_seen_ms <= now + 2000);
    CHECK_EQ_INT(W(store_user_set_last_seen(e->s, &e->loop, id + 99, 0, on_done, e)), RS_ENOTFOUND);

    CHECK_EQ_INT(W(store_user_set_password_hash(e->s, &e->loop, id, "$argon2id$new", on_done, e)),
                 0);
    char hash[STORE_PWHASH_MAX + 1];
    CHECK_EQ_INT(store_user_password_hash(e->r, id, hash), 0);
    CHECK_EQ_STR(hash, "$argon2id$new");
    CHECK_EQ_INT(W(store_user_set_password_hash(e->s, &e->loop, id + 99, "x", on_done, e)),
                 RS_ENOTFOUND);
}

/* ---- sessions ------------------------------------------------------------------------- */

STORE_TEST(sessions_create_lookup_revoke)
{
    int64_t id = mk_user(e, "erin");
    REQUIRE(id > 0);
    int64_t sids[3];
    for (int i = 0; i < 3; i++) {
        char h[16];
        snprintf(h, sizeof h, "h%d", i);
        REQUIRE(W(store_session_create(e->s, &e->loop, id, h, on_done, e)) == 0);
        sids[i] = e->res.session.id;
        CHECK(sids[i] > 0);
        CHECK_EQ_INT(e->res.session.user_id, id);
        CHECK_EQ_STR(e->res.session.secret_hash, h);
    }
    CHECK(sids[0] != sids[1] && sids[1] != sids[2] && sids[0] != sids[2]);
    /* random, not sequential: at least one is far from the others */
    CHECK(sids[0] > 1000000 || sids[1] > 1000000 || sids[2] > 1000000);
    struct store_session s;
    CHECK_EQ_INT(store_session_get(e->r, sids[1], &s), 0);
    CHECK_EQ_INT(s.user_id, id);
    CHECK_EQ_STR(s.secret_hash, "h1");
    CHECK_EQ_INT(W(store_session_revoke(e->s, &e->loop, sids[1], on_done, e)), 0);
    CHECK_EQ_INT(store_session_get(e->r, sids[1], &s), RS_ENOTFOUND);
    CHECK_EQ_INT(W(store_session_revoke(e->s, &e->loop, sids[1], on_done, e)), RS_ENOTFOUND);
    CHECK_EQ_INT(store_session_get(e->r, sids[0], &s), 0); /* other devices stay logged in */
    CHECK_EQ_INT(store_session_get(e->r, sids[2], &s), 0);
    CHECK_EQ_INT(store_session_get(e->r, 12345, &s), RS_ENOTFOUND);
    CHECK_EQ_INT(W(store_session_create(e->s, &e->loop, id + 99, "h", on_done, e)), RS_ENOTFOUND);
    CHECK_EQ_INT(W(store_session_revoke(e->s, &e->loop, 777, on_done, e)), RS_ENOTFOUND);
}

/* ---- follows -------------------------------------------------------------------------- */

STORE_TEST(follow_toggle_counts_and_errors)
{
    int64_t a = mk_user(e, "amy"), b = mk_user(e, "ben");
    REQUIRE(a && b);
    CHECK_EQ_INT(follow(e, a, b), 0);
    CHECK(e->res.follow.following);
    CHECK_EQ_INT(e->res.follow.follower_count, 1);
    CHECK_EQ_INT(e->res.follow.following_count, 1);
    bool f = false;
    CHECK_EQ_INT(store_follow_is_following(e->r, a, b, &f), 0);
    CHECK(f);
    CHECK_EQ_INT(store_follow_is_following(e->r, b, a, &f), 0);
    CHECK(!f);
    struct store_user u;
    CHECK_EQ_INT(store_user_get(e->r, b, &u), 0);
    CHECK_EQ_INT(u.follower_count, 1);
    CHECK_EQ_INT(u.following_count, 0);
    CHECK_EQ_INT(follow(e, b, a), 0);
    CHECK_EQ_INT(e->res.follow.follower_count, 1);
    CHECK_EQ_INT(e->res.follow.following_count, 1);
    CHECK_EQ_INT(follow(e, a, b), 0); /* toggles off */
    CHECK(!e->res.follow.following);
    CHECK_EQ_INT(e->res.follow.follower_count, 0);
    CHECK_EQ_INT(e->res.follow.following_count, 0);
    CHECK_EQ_INT(store_follow_is_following(e->r, a, b, &f), 0);
    CHECK(!f);
    CHECK_EQ_INT(follow(e, a, a), RS_EINVAL);
    CHECK_EQ_INT(follow(e, a, b + 999), RS_ENOTFOUND);
    CHECK_EQ_INT(follow(e, a + 999, b), RS_ENOTFOUND);
    CHECK_EQ_INT(store_check(e->s, NULL), 0);
    /* the CHECK constraint backs the rule up even for a write that bypasses the store */
    char sql[200];
    snprintf(sql, sizeof sql,
             "INSERT INTO follows (follower_id, followee_id, created_at) VALUES (%lld, %lld, 0)",
             (long long)a, (long long)a);
    raw_quiet = true;
    CHECK(raw_exec(e, sql) != 0);
}

STORE_TEST(follow_lists_paginate_newest_first)
{
    int64_t star = mk_user(e, "star"), fans[5];
    for (int i = 0; i < 5; i++) {
        char n[16];
        snprintf(n, sizeof n, "fan%d", i);
        fans[i] = mk_user(e, n);
        REQUIRE(follow(e, fans[i], star) == 0);
    }
    struct store_user_page p;
    int64_t after = 0;
    int seen = 4;
    for (int page = 0; page < 3; page++) {
        REQUIRE(store_follow_followers(e->r, star, after, 2, &p) == 0);
        CHECK_EQ_INT(p.n, page < 2 ? 2 : 1);
        CHECK_EQ_INT(p.has_more, page < 2);
        for (size_t i = 0; i < p.n; i++) CHECK_EQ_INT(p.items[i].id, fans[seen--]);
        after = p.end_cursor;
        store_user_page_free(&p);
    }
    CHECK_EQ_INT(seen, -1);
    REQUIRE(store_follow_following(e->r, fans[0], 0, 10, &p) == 0);
    CHECK_EQ_INT(p.n, 1);
    if (p.n) CHECK_EQ_INT(p.items[0].id, star);
    CHECK_EQ_INT(p.items[0].follower_count, 5);
    store_user_page_free(&p);
    REQUIRE(store_follow_followers(e->r, star + 999, 0, 10, &p) == 0);
    CHECK_EQ_INT(p.n, 0);
    store_user_page_free(&p);
    CHECK_EQ_INT(store_follow_followers(e->r, star, 0, 0, &p), RS_EINVAL);
    CHECK_EQ_INT(store_follow_following(e->r, star, -1, 5, &p), RS_EINVAL);
}

/* ---- chatrooms and messages ----------------------------------------------------------- */

STORE_TEST(direct_chatroom_is_idempotent)
{
    int64_t a = mk_user(e, "ann"), b = mk_user(e, "bea"), c = mk_user(e, "cy");
    REQUIRE(a && b && c);
    REQUIRE(W(store_chatroom_direct(e->s, &e->loop, a, b, on_done, e)) == 0);
    int64_t room = e->res.chatroom.chatroom.id;
    CHECK(e->res.chatroom.created);
    CHECK_EQ_INT(e->res.chatroom.chatroom.kind, STORE_CHATROOM_DIRECT);
    CHECK_EQ_INT(e->res.chatroom.chatroom.member_count, 2);
    CHECK(!e->res.chatroom.chatroom.has_name);
    CHECK_EQ_INT(e->res.chatroom.chatroom.last_message_id, 0);
    REQUIRE(W(store_chatroom_direct(e->s, &e->loop, b, a, on_done, e)) == 0);
    CHECK_EQ_INT(e->res.chatroom.chatroom.id, room);
    CHECK(!e->res.chatroom.created);
    /* a burst of requests for one new pair, likely in one group commit: one room */
    int base = e->ndone;
    for (int i = 0; i < 8; i++)
        REQUIRE(store_chatroom_direct(e->s, &e->loop, i % 2 ? a : c, i % 2 ? c : a, on_done, e) ==
                0);
    int64_t ac = 0, created = 0;
    while (e->ndone < base + 8) {
        REQUIRE(tloop_run_one(&e->loop) == 0);
        CHECK_EQ_INT(e->res.err, 0);
        if (!ac) ac = e->res.chatroom.chatroom.id;
        CHECK_EQ_INT(e->res.chatroom.chatroom.id, ac);
        created += e->res.chatroom.created;
    }
    CHECK_EQ_INT(created, 1);
    CHECK(ac != room);
    CHECK_EQ_INT(W(store_chatroom_direct(e->s, &e->loop, a, a, on_done, e)), RS_EINVAL);
    CHECK_EQ_INT(W(store_chatroom_direct(e->s, &e->loop, a, c + 99, on_done, e)), RS_ENOTFOUND);
    struct store_user_page m;
    REQUIRE(store_chatroom_members(e->r, room, &m) == 0);
    CHECK_EQ_INT(m.n, 2);
    if (m.n == 2) {
        CHECK_EQ_STR(m.items[0].username, "ann");
        CHECK_EQ_STR(m.items[1].username, "bea");
    }
    store_user_page_free(&m);
    CHECK_EQ_INT(store_chatroom_members(e->r, room + 99, &m), RS_ENOTFOUND);
    CHECK_EQ_INT(store_check(e->s, NULL), 0);
}

static void group_max_4(struct tenv *e)
{
    int64_t u[6];
    for (int i = 0; i < 6; i++) {
        char n[16];
        snprintf(n, sizeof n, "g%d", i);
        u[i] = mk_user(e, n);
    }
    int64_t members[] = {u[1], u[2], u[1], u[0], u[2]}; /* duplicates and the creator */
    REQUIRE(W(store_chatroom_group(e->s, &e->loop, u[0], members, 5, "Team", 4, on_done, e)) == 0);
    struct store_chatroom ch = e->res.chatroom.chatroom;
    CHECK_EQ_INT(ch.kind, STORE_CHATROOM_GROUP);
    CHECK(ch.has_name);
    CHECK_EQ_STR(ch.name, "Team");
    CHECK_EQ_INT(ch.member_count, 3);
    CHECK(e->res.chatroom.created);
    struct store_chatroom g;
    CHECK_EQ_INT(store_chatroom_get(e->r, ch.id, u[2], &g), 0);
    CHECK_EQ_INT(g.member_count, 3);
    CHECK_EQ_INT(store_chatroom_get(e->r, ch.id, u[3], &g), RS_EPERM);
    CHECK_EQ_INT(store_chatroom_get(e->r, ch.id + 99, u[0], &g), RS_ENOTFOUND);
    /* no name */
    REQUIRE(W(store_chatroom_group(e->s, &e->loop, u[0], members, 2, NULL, 0, on_done, e)) == 0);
    CHECK(!e->res.chatroom.chatroom.has_name);
    CHECK(e->res.chatroom.chatroom.id != ch.id);
    /* errors */
    CHECK_EQ_INT(W(store_chatroom_group(e->s, &e->loop, u[0], u, 1, "x", 1, on_done, e)),
                 RS_EINVAL); /* only the creator */
    CHECK_EQ_INT(W(store_chatroom_group(e->s, &e->loop, u[0], NULL, 0, "x", 1, on_done, e)),
                 RS_EINVAL);
    CHECK_EQ_INT(W(store_chatroom_group(e->s, &e->loop, u[0], u + 1, 4, "x", 1, on_done, e)),
                 RS_ETOOBIG); /* 5 > group_max 4 */
    CHECK_EQ_INT(W(store_chatroom_group(e->s, &e->loop, u[0], u + 1, 3, "x", 1, on_done, e)), 0);
    int64_t ghost[] = {u[1], u[5] + 99};
    CHECK_EQ_INT(W(store_chatroom_group(e->s, &e->loop, u[0], ghost, 2, "x", 1, on_done, e)),
                 RS_ENOTFOUND);
    CHECK_EQ_INT(W(store_chatroom_group(e->s, &e->loop, u[5] + 99, u, 2, "x", 1, on_done, e)),
                 RS_ENOTFOUND);
    CHECK_EQ_INT(store_check(e->s, NULL), 0);
}

STORE_TEST_NOOPEN(group_chatroom_rules)
{
    e->cfg.group_max = 4;
    REQUIRE(env_open(e) == 0);
    group_max_4(e);
}

STORE_TEST(messages_history_and_errors)
{
    int64_t a = mk_user(e, "al"), b = mk_user(e, "bo"), c = mk_user(e, "cid");
    int64_t room = direct(e, a, b);
    REQUIRE(room);
    int64_t ids[7];
    int64_t t0 = (int64_t)time(NULL) * 1000 - 2000;
    for (int i = 0; i < 7; i++) {
        char t[16];
        snprintf(t, sizeof t, "m%d", i);
        REQUIRE(send_msg(e, room, i % 2 ? b : a, t) == 0);
        ids[i] = e->res.message.id;
        CHECK_EQ_STR(e->res.message.text, t);
        CHECK_EQ_INT(e->res.message.chatroom_id, room);
        CHECK_EQ_INT(e->res.message.sender_id, i % 2 ? b : a);
        CHECK(e->res.message.created_ms >= t0);
        if (i) CHECK(ids[i] > ids[i - 1]);
    }
    struct store_message_page p;
    int64_t before = 0;
    int next = 6;
    for (int page = 0; page < 3; page++) {
        REQUIRE(store_message_history(e->r, room, b, before, 3, &p) == 0);
        CHECK_EQ_INT(p.n, page < 2 ? 3 : 1);
        CHECK_EQ_INT(p.has_more, page < 2);
        /* oldest first within the page */
        for (size_t i = p.n; i-- > 0;) CHECK_EQ_INT(p.items[i].id, ids[next--]);
        before = p.n ? p.items[0].id : 0;
        store_message_page_free(&p);
    }
    CHECK_EQ_INT(next, -1);
    struct store_message last;
    REQUIRE(store_message_last(e->r, room, &last) == 0);
    CHECK_EQ_INT(last.id, ids[6]);
    CHECK_EQ_STR(last.text, "m6");
    store_message_clear(&last);
    int64_t empty = direct(e, a, c);
    CHECK_EQ_INT(store_message_last(e->r, empty, &last), RS_ENOTFOUND);
    CHECK_EQ_INT(store_message_history(e->r, empty, a, 0, 5, &p), 0);
    CHECK_EQ_INT(p.n, 0);
    store_message_page_free(&p);

    CHECK_EQ_INT(send_msg(e, room, c, "intruder"), RS_EPERM);
    CHECK_EQ_INT(send_msg(e, room + 99, a, "nowhere"), RS_ENOTFOUND);
    CHECK_EQ_INT(store_message_history(e->r, room, c, 0, 5, &p), RS_EPERM);
    CHECK_EQ_INT(store_message_history(e->r, room + 99, a, 0, 5, &p), RS_ENOTFOUND);
    CHECK_EQ_INT(store_message_history(e->r, room, a, 0, 0, &p), RS_EINVAL);
    CHECK_EQ_INT(store_message_history(e->r, room, a, 0, STORE_PAGE_MAX + 1, &p), RS_EINVAL);
    CHECK_EQ_INT(store_check(e->s, NULL), 0);
}

STORE_TEST(unread_counts_and_mark_read)
{
    int64_t a = mk_user(e, "ada"), b = mk_user(e, "bix"), c = mk_user(e, "cal");
    int64_t room = direct(e, a, b);
    REQUIRE(room);
    for (int i = 0; i < 3; i++) REQUIRE(send_msg(e, room, a, "hi") == 0);
    int64_t last_id = e->res.message.id;
    int64_t n = -1;
    CHECK_EQ_INT(store_chatroom_unread(e->r, room, b, &n), 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(store_chatroom_unread(e->r, room, a, &n), 0);
    CHECK_EQ_INT(n, 0); /* sending reads */
    CHECK_EQ_INT(store_chatroom_unread(e->r, room, c, &n), RS_EPERM);
    CHECK_EQ_INT(store_chatroom_unread(e->r, room + 99, c, &n), RS_ENOTFOUND);
    struct store_chatroom ch;
    REQUIRE(store_chatroom_get(e->r, room, b, &ch) == 0);
    CHECK_EQ_INT(ch.unread_count, 3);
    CHECK_EQ_INT(ch.last_read_message_id, 0);
    CHECK_EQ_INT(ch.last_message_id, last_id);
    REQUIRE(W(store_chatroom_mark_read(e->s, &e->loop, room, b, on_done, e)) == 0);
    CHECK_EQ_INT(e->res.last_read_message_id, last_id);
    CHECK_EQ_INT(store_chatroom_unread(e->r, room, b, &n), 0);
    CHECK_EQ_INT(n, 0);
    REQUIRE(send_msg(e, room, a, "again") == 0);
    CHECK_EQ_INT(store_chatroom_unread(e->r, room, b, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(W(store_chatroom_mark_read(e->s, &e->loop, room, c, on_done, e)), RS_EPERM);
    CHECK_EQ_INT(W(store_chatroom_mark_read(e->s, &e->loop, room + 99, b, on_done, e)),
                 RS_ENOTFOUND);
    CHECK_EQ_INT(store_check(e->s, NULL), 0);
}

STORE_TEST(chatroom_list_by_activity)
{
    int64_t me = mk_user(e, "me"), x = mk_user(e, "x1"), y = mk_user(e, "y1"), z = mk_user(e, "z1");
    int64_t rx = direct(e, me, x), ry = direct(e, me, y), rz = direct(e, me, z);
    REQUIRE(rx && ry && rz);
    struct store_chatroom_page p;
    /* same-millisecond activity is ordered by id, newest first */
    usleep(5000);
    REQUIRE(send_msg(e, rx, x, "bump") == 0);
    REQUIRE(store_chatroom_list(e->r, me, 0, 0, 10, &p) == 0);
    REQUIRE(p.n == 3);
    CHECK_EQ_INT(p.items[0].id, rx);
    CHECK_EQ_INT(p.items[0].unread_count, 1);
    CHECK_EQ_INT(p.items[0].member_count, 2);
    CHECK_EQ_INT(p.items[0].last_message_id, e->res.message.id);
    CHECK(p.items[0].last_activity_ms >= p.items[1].last_activity_ms);
    store_chatroom_page_free(&p);
    /* one at a time through the cursor */
    int64_t aa = 0, ai = 0, seen[3];
    for (int i = 0; i < 3; i++) {
        REQUIRE(store_chatroom_list(e->r, me, aa, ai, 1, &p) == 0);
        REQUIRE(p.n == 1);
        CHECK_EQ_INT(p.has_more, i < 2);
        seen[i] = p.items[0].id;
        aa = p.items[0].last_activity_ms;
        ai = p.items[0].id;
        store_chatroom_page_free(&p);
    }
    CHECK_EQ_INT(seen[0], rx);
    CHECK(seen[1] != seen[2] && seen[1] != rx && seen[2] != rx);
    REQUIRE(store_chatroom_list(e->r, me, aa, ai, 1, &p) == 0);
    CHECK_EQ_INT(p.n, 0);
    store_chatroom_page_free(&p);
    REQUIRE(store_chatroom_list(e->r, x, 0, 0, 10, &p) == 0);
    CHECK_EQ_INT(p.n, 1);
    store_chatroom_page_free(&p);
    CHECK_EQ_INT(store_chatroom_list(e->r, me, 0, 0, 0, &p), RS_EINVAL);
}

/* ---- presence across nodes ------------------------------------------------------------- */

#define TTL 30000

static bool online_at(struct tenv *e, int64_t user, const char *except)
{
    bool on = false;
    int rc = store_presence_online(e->r, user, except, &on);
    if (rc) TEST_FAIL_AT("store_presence_online: %s", rs_strerror(rc));
    return on;
}
#define ONLINE(user) online_at(e, (user), NULL)

static int beat(struct tenv *e, const char *node, int64_t ttl)
{
    return W(store_presence_heartbeat(e->s, &e->loop, node, ttl, on_done, e));
}

STORE_TEST(presence_rows_follow_adds_and_removes)
{
    int64_t u1 = mk_user(e, "pr1"), u2 = mk_user(e, "pr2");
    REQUIRE(u1 && u2);
    REQUIRE(beat(e, "nodeA", TTL) == 0);
    CHECK(e->res.heartbeat.created);
    CHECK_EQ_INT(e->res.heartbeat.swept, 0);
    REQUIRE(beat(e, "nodeA", TTL) == 0);
    CHECK(!e->res.heartbeat.created);
    CHECK(!ONLINE(u1));
    CHECK_EQ_INT(W(store_presence_add(e->s, &e->loop, "nodeA", u1, on_done, e)), 0);
    CHECK(ONLINE(u1));
    CHECK(!ONLINE(u2));
    CHECK(!online_at(e, u1, "nodeA")); /* a node asks about the others only */
    CHECK(online_at(e, u1, "nodeB"));
    CHECK_EQ_INT(W(store_presence_add(e->s, &e->loop, "nodeA", u1, on_done, e)), 0); /* again */
    CHECK_EQ_INT(W(store_presence_remove(e->s, &e->loop, "nodeA", u1, on_done, e)), 0);
    CHECK(!ONLINE(u1));
    CHECK_EQ_INT(W(store_presence_remove(e->s, &e->loop, "nodeA", u1, on_done, e)), 0);
    /* Rows of a node without an entry (it never beat) count for nothing. */
    CHECK_EQ_INT(W(store_presence_add(e->s, &e->loop, "ghost", u2, on_done, e)), 0);
    CHECK(!ONLINE(u2));
    /* Submitted without waiting, so they share batches: the last one decides. */
    int base = e->ndone;
    for (int i = 0; i < 10; i++) {
        REQUIRE(store_presence_add(e->s, &e->loop, "nodeA", u1, on_done, e) == 0);
        REQUIRE(store_presence_remove(e->s, &e->loop, "nodeA", u1, on_done, e) == 0);
        REQUIRE(store_presence_add(e->s, &e->loop, "nodeA", u2, on_done, e) == 0);
        REQUIRE(store_presence_remove(e->s, &e->loop, "nodeA", u2, on_done, e) == 0);
    }
    REQUIRE(store_presence_add(e->s, &e->loop, "nodeA", u2, on_done, e) == 0);
    while (e->ndone < base + 41) {
        REQUIRE(tloop_run_one(&e->loop) == 0);
        CHECK_EQ_INT(e->res.err, 0);
    }
    CHECK(!ONLINE(u1));
    CHECK(ONLINE(u2));
}

STORE_TEST(presence_silent_node_expires_and_is_swept)
{
    int64_t u1 = mk_user(e, "ps1"), u2 = mk_user(e, "ps2"), u3 = mk_user(e, "ps3");
    REQUIRE(u1 && u2 && u3);
    REQUIRE(beat(e, "nodeA", TTL) == 0);
    REQUIRE(beat(e, "nodeB", TTL) == 0);
    REQUIRE(W(store_presence_add(e->s, &e->loop, "nodeA", u1, on_done, e)) == 0);
    REQUIRE(W(store_presence_add(e->s, &e->loop, "nodeB", u2, on_done, e)) == 0);
    CHECK(ONLINE(u1) && ONLINE(u2));
    /* nodeA went quiet a minute ago (as if killed): its users stop counting at once... */
    REQUIRE(raw_exec(e, "UPDATE presence_nodes SET seen_at = seen_at - 60000 "
                        "WHERE node = 'nodeA'") == 0);
    CHECK(!ONLINE(u1));
    CHECK(ONLINE(u2));
    /* (its row is still there: with a TTL of an hour it would count) */
    REQUIRE(raw_exec(e, "UPDATE presence_nodes SET ttl_ms = 3600000 WHERE node = 'nodeA'") == 0);
    CHECK(ONLINE(u1));
    REQUIRE(raw_exec(e, "UPDATE presence_nodes SET ttl_ms = 30000 WHERE node = 'nodeA'") == 0);
    CHECK(!ONLINE(u1));
    if (is_pg(e)) {
        /* A transaction of nodeA's that stopped halfway holds its entry: the sweep skips it
         * rather than wait (a wait would stall nodeB's writer: no completion within 20 s). */
        PGconn *c = PQconnectdb(e->url);
        PGresult *r = PQexec(c, "BEGIN; SELECT 1 FROM presence_nodes WHERE node = 'nodeA' "
                                "FOR UPDATE");
        CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
        PQclear(r);
        REQUIRE(beat(e, "nodeB", TTL) == 0);
        CHECK_EQ_INT(e->res.heartbeat.swept, 0);
        CHECK(!ONLINE(u1)); /* it still does not count */
        PQclear(PQexec(c, "ROLLBACK"));
        PQfinish(c);
    }
    /* ... and the next beat of another node removes its entry and rows. */
    REQUIRE(beat(e, "nodeB", TTL) == 0);
    CHECK(!e->res.heartbeat.created);
    CHECK_EQ_INT(e->res.heartbeat.swept, 1);
    CHECK(ONLINE(u2));
    REQUIRE(beat(e, "nodeB", TTL) == 0);
    CHECK_EQ_INT(e->res.heartbeat.swept, 0);
    /* nodeA was only slow: its next beat says it had been swept, and it resets its rows. */
    REQUIRE(beat(e, "nodeA", TTL) == 0);
    CHECK(e->res.heartbeat.created);
    CHECK(!ONLINE(u1)); /* its old rows went with its entry */
    int64_t ids[] = {u1, u3, u1};
    CHECK_EQ_INT(W(store_presence_reset(e->s, &e->loop, "nodeA", ids, 3, on_done, e)), 0);
    CHECK(ONLINE(u1) && ONLINE(u3));
    CHECK_EQ_INT(W(store_presence_reset(e->s, &e->loop, "nodeA", ids + 1, 1, on_done, e)), 0);
    CHECK(!ONLINE(u1) && ONLINE(u3));
    CHECK(ONLINE(u2)); /* another node's rows untouched */
    CHECK_EQ_INT(W(store_presence_reset(e->s, &e->loop, "nodeA", NULL, 0, on_done, e)), 0);
    CHECK(!ONLINE(u3));
    /* Each node's own TTL applies: nodeB promises only 10 ms. */
    REQUIRE(beat(e, "nodeB", 10) == 0);
    usleep(50000);
    CHECK(!ONLINE(u2));
    REQUIRE(beat(e, "nodeB", TTL) == 0);
    CHECK(ONLINE(u2));
    REQUIRE(beat(e, "nodeB", 10) == 0);
    usleep(50000);
    REQUIRE(beat(e, "nodeA", TTL) == 0); /* sweeps nodeB by nodeB's TTL */
    CHECK_EQ_INT(e->res.heartbeat.swept, 1);
    REQUIRE(beat(e, "nodeB", TTL) == 0);
    CHECK(e->res.heartbeat.created);
    CHECK(!ONLINE(u2));
}

STORE_TEST(presence_node_leaves_cleanly)
{
    int64_t u1 = mk_user(e, "pl1");
    REQUIRE(u1);
    REQUIRE(beat(e, "nodeA", TTL) == 0);
    REQUIRE(W(store_presence_add(e->s, &e->loop, "nodeA", u1, on_done, e)) == 0);
    CHECK(ONLINE(u1));
    CHECK_EQ_INT(W(store_presence_node_remove(e->s, &e->loop, "nodeA", on_done, e)), 0);
    CHECK(!ONLINE(u1));
    REQUIRE(beat(e, "nodeA", TTL) == 0);
    CHECK(e->res.heartbeat.created); /* its entry went too */
    CHECK(!ONLINE(u1));
    CHECK_EQ_INT(W(store_presence_node_remove(e->s, &e->loop, "nodeA", on_done, e)), 0);
    CHECK_EQ_INT(W(store_presence_node_remove(e->s, &e->loop, "never", on_done, e)), 0);
}

STORE_TEST(presence_bad_arguments_refused_before_queueing)
{
    char longid[STORE_NODE_ID_MAX + 2];
    memset(longid, 'n', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    int base = e->ndone;
    CHECK_EQ_INT(store_presence_add(e->s, &e->loop, NULL, 1, on_done, e), RS_EINVAL);
    CHECK_EQ_INT(store_presence_add(e->s, &e->loop, "", 1, on_done, e), RS_EINVAL);
    CHECK_EQ_INT(store_presence_remove(e->s, &e->loop, longid, 1, on_done, e), RS_ETOOBIG);
    CHECK_EQ_INT(store_presence_heartbeat(e->s, &e->loop, "n", 0, on_done, e), RS_EINVAL);
    CHECK_EQ_INT(store_presence_heartbeat(e->s, &e->loop, "\xff", TTL, on_done, e), RS_EUTF8);
    CHECK_EQ_INT(store_presence_reset(e->s, &e->loop, "n", NULL, 2, on_done, e), RS_EINVAL);
    CHECK_EQ_INT(store_presence_node_remove(e->s, &e->loop, longid, on_done, e), RS_ETOOBIG);
    bool on = true;
    CHECK_EQ_INT(store_presence_online(e->r, 1, longid, &on), RS_EINVAL);
    CHECK_EQ_INT(store_presence_online(e->r, 1, "\xff", &on), RS_EINVAL);
    CHECK(on);                        /* untouched */
    longid[STORE_NODE_ID_MAX] = '\0'; /* the longest id is fine */
    CHECK_EQ_INT(beat(e, longid, TTL), 0);
    CHECK_EQ_INT(store_presence_online(e->r, 1, longid, &on), 0);
    CHECK(!on);
    CHECK_EQ_INT(e->ndone, base + 1);
}

/* ---- group commit, durability order, the writer --------------------------------------- */

struct burst {
    struct tenv *e;
    int64_t room;
    int64_t user;
    int n;
    atomic_int *submitted_fail;
};
static atomic_int burst_done;

static void on_burst_done(void *arg, const struct store_result *res)
{
    if (res->err == 0)
        atomic_fetch_add(&burst_done, 1);
    else
        atomic_fetch_add(&burst_done, 1000000);
}

static void *burst_thread(void *arg)
{
    struct burst *b = arg;
    for (int i = 0; i < b->n; i++) {
        char t[32];
        snprintf(t, sizeof t, "msg %d", i);
        if (store_message_send(b->e->s, &b->e->loop, b->room, b->user, t, strlen(t), on_burst_done,
                               NULL) != 0)
            atomic_fetch_add(b->submitted_fail, 1);
    }
    return NULL;
}

static void concurrent_burst(struct tenv *e, bool expect_batching)
{
    enum { THREADS = 4, PER = 150 };
    int64_t u[THREADS];
    for (int i = 0; i < THREADS; i++) {
        char n[16];
        snprintf(n, sizeof n, "w%d", i);
        u[i] = mk_user(e, n);
    }
    REQUIRE(W(store_chatroom_group(e->s, &e->loop, u[0], u + 1, THREADS - 1, "load", 4, on_done,
                                   e)) == 0);
    int64_t room = e->res.chatroom.chatroom.id;
    struct store_stats before, after;
    store_stats_get(e->s, &before);
    atomic_int fail = 0;
    atomic_store(&burst_done, 0);
    pthread_t th[THREADS];
    struct burst b[THREADS];
    for (int i = 0; i < THREADS; i++) {
        b[i] = (struct burst){e, room, u[i], PER, &fail};
        pthread_create(&th[i], NULL, burst_thread, &b[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    CHECK_EQ_INT(atomic_load(&fail), 0);
    while (atomic_load(&burst_done) < THREADS * PER) REQUIRE(tloop_run_one(&e->loop) == 0);
    CHECK_EQ_INT(atomic_load(&burst_done), THREADS * PER); /* each exactly once, no failure */
    store_stats_get(e->s, &after);
    uint64_t writes = after.writes - before.writes, txns = after.transactions - before.transactions;
    CHECK_EQ_INT(writes, THREADS * PER);
    CHECK_EQ_INT(after.writes_failed - before.writes_failed, 0);
    if (expect_batching) {
        CHECK(txns < writes);
        CHECK(after.batch_max > 1);
    } else {
        CHECK_EQ_INT(txns, writes);
    }
    /* every message is there, once, in id order, and per sender in submission order */
    int next[THREADS] = {0};
    int64_t before_id = 0, total = 0;
    for (;;) {
        struct store_message_page p;
        REQUIRE(store_message_history(e->r, room, u[0], before_id, STORE_PAGE_MAX, &p) == 0);
        for (size_t i = p.n; i-- > 0;) {
            int who = -1;
            for (int k = 0; k < THREADS; k++)
                if (p.items[i].sender_id == u[k]) who = k;
            REQUIRE(who >= 0);
            char t[32];
            snprintf(t, sizeof t, "msg %d", PER - 1 - next[who]++);
            CHECK_EQ_STR(p.items[i].text, t);
            total++;
        }
        bool more = p.has_more;
        before_id = p.n ? p.items[0].id : 0;
        store_message_page_free(&p);
        if (!more) break;
    }
    CHECK_EQ_INT(total, THREADS * PER);
    CHECK_EQ_INT(store_check(e->s, NULL), 0);
}

STORE_TEST(group_commit_batches_concurrent_writes)
{
    concurrent_burst(e, true);
}

STORE_TEST_NOOPEN(no_group_commit_is_one_transaction_per_write)
{
    e->cfg.no_group_commit = true;
    REQUIRE(env_open(e) == 0);
    concurrent_burst(e, false);
}

/* Duplicates inside one burst fail alone; their neighbours commit. */
STORE_TEST(failing_write_does_not_spoil_its_batch)
{
    const char *names[] = {"p1", "dup", "p2", "DUP", "p3", "Dup", "p4"};
    int base = e->ndone, ok = 0, eexist = 0;
    for (int i = 0; i < 7; i++)
        REQUIRE(store_user_create(e->s, &e->loop, names[i], strlen(names[i]), "n", 1, PWHASH, NULL,
                                  on_done, e) == 0);
    while (e->ndone < base + 7) {
        REQUIRE(tloop_run_one(&e->loop) == 0);
        if (e->res.err == 0)
            ok++;
        else if (e->res.err == RS_EEXIST)
            eexist++;
    }
    CHECK_EQ_INT(ok, 5);
    CHECK_EQ_INT(eexist, 2);
    struct store_user u;
    for (int i = 0; i < 7; i++)
        CHECK_EQ_INT(store_user_get_by_username(e->r, names[i], strlen(names[i]), &u), 0);
    CHECK_EQ_STR(u.username, "p4");
    struct store_user_page p;
    REQUIRE(store_user_search(e->r, "", 0, NULL, 50, &p) == 0);
    CHECK_EQ_INT(p.n, 5);
    store_user_page_free(&p);
}

/* A write failing in a way no statement anticipates (here a CHECK added behind the store's
 * back) aborts its batch's transaction: the others are retried alone and commit. */
STORE_TEST(unexpected_failure_isolated_to_its_write)
{
    int64_t a = mk_user(e, "ua"), b = mk_user(e, "ub");
    int64_t room = direct(e, a, b);
    REQUIRE(room);
    REQUIRE(raw_exec(e, is_pg(e)
                            ? "ALTER TABLE messages ADD CONSTRAINT no_boom "
                              "CHECK (text <> 'boom')"
                            : "CREATE TRIGGER no_boom BEFORE INSERT ON messages "
                              "WHEN NEW.text = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END") ==
            0);
    const char *texts[] = {"one", "two", "boom", "three", "four"};
    int base = e->ndone, ok = 0, bad = 0;
    for (int i = 0; i < 5; i++)
        REQUIRE(store_message_send(e->s, &e->loop, room, a, texts[i], strlen(texts[i]), on_done,
                                   e) == 0);
    while (e->ndone < base + 5) {
        REQUIRE(tloop_run_one(&e->loop) == 0);
        if (e->res.err == 0)
            ok++;
        else
            bad++;
    }
    CHECK_EQ_INT(ok, 4);
    CHECK_EQ_INT(bad, 1);
    struct store_message_page p;
    REQUIRE(store_message_history(e->r, room, b, 0, 10, &p) == 0);
    CHECK_EQ_INT(p.n, 4);
    if (p.n == 4) {
        CHECK_EQ_STR(p.items[0].text, "one");
        CHECK_EQ_STR(p.items[3].text, "four");
    }
    store_message_page_free(&p);
    CHECK_EQ_INT(store_check(e->s, NULL), 0);
}

/* A completion runs after COMMIT: a fresh connection already sees the row. */
struct visible_ctx {
    struct tenv *e;
    store_reader_t *fresh;
    int seen;
};

static void on_visible(void *arg, const struct store_result *res)
{
    struct visible_ctx *v = arg;
    struct store_user u;
    if (res->err == 0 && store_user_get(v->fresh, res->user_create.user.id, &u) == 0)
        v->seen++;
    else
        v->seen += 1000;
}

static void visible_after_commit(struct tenv *e)
{
    struct visible_ctx v = {e, NULL, 0};
    REQUIRE(store_reader_open(e->s, &v.fresh) == 0);
    for (int i = 0; i < 20; i++) {
        char n[16];
        snprintf(n, sizeof n, "v%d", i);
        REQUIRE(store_user_create(e->s, &e->loop, n, strlen(n), n, strlen(n), PWHASH, NULL,
                                  on_visible, &v) == 0);
    }
    while (v.seen < 20) REQUIRE(tloop_run_one(&e->loop) == 0);
    CHECK_EQ_INT(v.seen, 20);
    store_reader_close(v.fresh);
}

STORE_TEST(completion_only_after_commit)
{
    visible_after_commit(e);
}

STORE_TEST_NOOPEN(completion_only_after_commit_single)
{
    e->cfg.no_group_commit = true;
    REQUIRE(env_open(e) == 0);
    visible_after_commit(e);
}

static atomic_int drained;
static void on_drain(void *arg, const struct store_result *res)
{
    if (res->err == 0) atomic_fetch_add(&drained, 1);
}

STORE_TEST_NOOPEN(close_commits_everything_queued)
{
    char err[256];
    struct store_config cfg = {.url = e->url}; /* no poster: completions on the writer */
    store_t *s = NULL;
    REQUIRE(store_open(&cfg, &s, err, sizeof err) == 0);
    atomic_store(&drained, 0);
    for (int i = 0; i < 200; i++) {
        char n[16];
        snprintf(n, sizeof n, "q%d", i);
        REQUIRE(store_user_create(s, NULL, n, strlen(n), n, strlen(n), PWHASH, NULL,
                                  i % 2 ? on_drain : NULL, NULL) == 0);
    }
    store_close(s);
    CHECK_EQ_INT(atomic_load(&drained), 100);
    REQUIRE(env_open(e) == 0);
    struct store_user u;
    CHECK_EQ_INT(store_user_get_by_username(e->r, "q0", 2, &u), 0);
    CHECK_EQ_INT(store_user_get_by_username(e->r, "q199", 4, &u), 0);
    CHECK_EQ_INT(store_user_create(e->s, NULL, "late", 4, "l", 1, PWHASH, NULL, NULL, NULL), 0);
}

/* ---- integrity check ------------------------------------------------------------------ */

STORE_TEST(check_finds_inconsistencies)
{
    int64_t a = mk_user(e, "ia"), b = mk_user(e, "ib");
    REQUIRE(follow(e, a, b) == 0);
    int64_t room = direct(e, a, b);
    REQUIRE(send_msg(e, room, a, "x") == 0);
    buf_t rep = BUF_INIT;
    CHECK_EQ_INT(store_check(e->s, &rep), 0);
    CHECK_EQ_INT(rep.len, 0);
    REQUIRE(raw_exec(e, "UPDATE users SET follower_count = 7") == 0);
    REQUIRE(raw_exec(e, "UPDATE chatrooms SET last_message_id = 0") == 0);
    CHECK_EQ_INT(store_check(e->s, &rep), RS_EIO);
    char *text = buf_cstr(&rep);
    REQUIRE(text);
    CHECK(strstr(text, "follower_count") != NULL);
    CHECK(strstr(text, "last_message_id") != NULL);
    buf_free(&rep);
}

/* ---- reads never wait for writers ----------------------------------------------------- */

STORE_TEST(reader_not_blocked_by_open_write_transaction)
{
    int64_t a = mk_user(e, "ra");
    REQUIRE(a);
    /* another connection holds the write lock with an uncommitted change */
    sqlite3 *db = NULL;
    PGconn *pg = NULL;
    if (is_pg(e)) {
        pg = PQconnectdb(e->url);
        PQclear(PQexec(pg, "BEGIN"));
        PQclear(PQexec(pg, "UPDATE users SET display_name = 'uncommitted'"));
    } else {
        REQUIRE(sqlite3_open(e->path, &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db,
                             "BEGIN IMMEDIATE; UPDATE users SET display_name = "
                             "'uncommitted'",
                             NULL, NULL, NULL) == SQLITE_OK);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct store_user u;
    CHECK_EQ_INT(store_user_get(e->r, a, &u), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_EQ_STR(u.display_name, "ra");
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(ms < 500);
    if (pg) {
        PQclear(PQexec(pg, "ROLLBACK"));
        PQfinish(pg);
    } else {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
    }
}

/* ---- SQLite-specific failure modes ---------------------------------------------------- */

static void sqlite_only(body_fn body)
{
    log_set_level("off");
    run_sqlite(body, false);
}

static void locked_body(struct tenv *e)
{
    REQUIRE(env_open(e) == 0);
    env_close(e);
    sqlite3 *db;
    REQUIRE(sqlite3_open(e->path, &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    char err[256] = "";
    store_t *s = NULL;
    struct store_config cfg = {.url = e->url, .busy_timeout_ms = 100};
    CHECK_EQ_INT(store_open(&cfg, &s, err, sizeof err), RS_EBUSY);
    CHECK(strstr(err, "locked") != NULL);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    /* once released, writes queued behind the lock go through */
    REQUIRE(store_open(&cfg, &s, err, sizeof err) == 0);
    store_close(s);
    sqlite3_close(db);
}

TEST(sqlite_locked_file_is_a_clear_error)
{
    sqlite_only(locked_body);
}

static void queue_full_body(struct tenv *e)
{
    e->cfg.queue_max = 3;
    e->cfg.busy_timeout_ms = 3000;
    REQUIRE(env_open(e) == 0);
    sqlite3 *db;
    REQUIRE(sqlite3_open(e->path, &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    int accepted = 0, busy = 0;
    for (int i = 0; i < 10; i++) {
        char n[16];
        snprintf(n, sizeof n, "f%d", i);
        int rc = store_user_create(e->s, &e->loop, n, strlen(n), n, 1, PWHASH, NULL, on_done, e);
        if (rc == 0)
            accepted++;
        else if (rc == RS_EBUSY)
            busy++;
        usleep(20000); /* let the writer take the first one and block on the lock */
    }
    CHECK(accepted >= 3 && accepted <= 4);
    CHECK_EQ_INT(busy, 10 - accepted);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    int ok = 0;
    while (ok < accepted) {
        REQUIRE(tloop_run_one(&e->loop) == 0);
        CHECK_EQ_INT(e->res.err, 0);
        ok++;
    }
}

TEST(sqlite_full_queue_sheds_load)
{
    sqlite_only(queue_full_body);
}

static void read_only_body(struct tenv *e)
{
    REQUIRE(env_open(e) == 0);
    env_close(e);
    /* root ignores permission bits: become nobody (this test runs in its own process) */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/data/sub", e->dir);
    REQUIRE(chmod(e->path, 0444) == 0);
    REQUIRE(chmod(dir, 0555) == 0);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", e->path);
    chmod(wal, 0444);
    snprintf(wal, sizeof wal, "%s-shm", e->path);
    chmod(wal, 0444);
    chmod(e->dir, 0755);
    if (geteuid() == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
                _exit(3);
            char err[256] = "";
            store_t *s = NULL;
            struct store_config cfg = {.url = e->url, .busy_timeout_ms = 100};
            int rc = store_open(&cfg, &s, err, sizeof err);
            if (rc != RS_EPERM) {
                fprintf(stderr, "    store_open: %s: %s\n", rs_strerror(rc), err);
                _exit(1);
            }
            _exit(strstr(err, "read-only") || strstr(err, "permission") ? 0 : 2);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    } else {
        char err[256] = "";
        store_t *s = NULL;
        struct store_config cfg = {.url = e->url, .busy_timeout_ms = 100};
        CHECK_EQ_INT(store_open(&cfg, &s, err, sizeof err), RS_EPERM);
    }
    chmod(dir, 0755);
}

TEST(sqlite_read_only_file_is_a_clear_error)
{
    sqlite_only(read_only_body);
}

/* ---- PostgreSQL-specific: reconnection ------------------------------------------------ */

static void reconnect_body(struct tenv *e)
{
    REQUIRE(env_open(e) == 0);
    int64_t a = mk_user(e, "before");
    REQUIRE(a);
    /* what a server restart does to existing connections */
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
             "'%s' AND pid <> pg_backend_pid()",
             e->schema);
    PGconn *c = PQconnectdb(getenv("ROOST_TEST_PG"));
    PGresult *r = PQexec(c, sql);
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 2);
    PQclear(r);
    PQfinish(c);
    usleep(100000);
    struct store_user u;
    CHECK_EQ_INT(store_user_get(e->r, a, &u), 0); /* the reader reconnects and retries */
    int64_t b = mk_user(e, "after");              /* the writer reconnects, reruns the batch */
    CHECK(b > a);
    struct store_stats st;
    store_stats_get(e->s, &st);
    CHECK(st.reconnects >= 1);
    CHECK_EQ_INT(store_user_get(e->r, b, &u), 0);
}

TEST(postgres_reconnects_after_connections_die)
{
    if (!getenv("ROOST_TEST_PG") || !*getenv("ROOST_TEST_PG")) return;
    log_set_level("off");
    run_pg(reconnect_body, false);
}

/* A private server (scripts/pg-test.sh), stopped and started under an open store: writes
 * and reads fail fast with RS_EUNAVAIL meanwhile, then work again without reopening. */
static char private_url[256];

static int pg_script(const char *verb)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "scripts/pg-test.sh %s '%s' >/dev/null 2>&1", verb, private_url);
    return system(cmd);
}

static double since_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void restart_body(struct tenv *e)
{
    snprintf(e->url, sizeof e->url, "%s", private_url);
    REQUIRE(env_open(e) == 0);
    int64_t a = mk_user(e, "steady");
    REQUIRE(a);
    REQUIRE(pg_script("halt") == 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(W(store_user_set_last_seen(e->s, &e->loop, a, 0, on_done, e)), RS_EUNAVAIL);
    CHECK_EQ_INT(W(store_user_set_last_seen(e->s, &e->loop, a, 0, on_done, e)), RS_EUNAVAIL);
    struct store_user u;
    CHECK_EQ_INT(store_user_get(e->r, a, &u), RS_EUNAVAIL);
    CHECK(since_ms(&t0) < 3000);
    REQUIRE(pg_script("resume") == 0);
    int rc = RS_EUNAVAIL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (rc == RS_EUNAVAIL && since_ms(&t0) < 10000) {
        rc = W(store_user_set_last_seen(e->s, &e->loop, a, 4242, on_done, e));
        if (rc) usleep(100000);
    }
    CHECK_EQ_INT(rc, 0);
    rc = RS_EUNAVAIL;
    while (rc == RS_EUNAVAIL && since_ms(&t0) < 10000) {
        rc = store_user_get(e->r, a, &u);
        if (rc) usleep(100000);
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(u.last_seen_ms, 4242);
    struct store_stats st;
    store_stats_get(e->s, &st);
    CHECK(st.reconnects >= 1);
}

TEST(postgres_server_restart_recovers)
{
    if (!getenv("ROOST_TEST_PG") || !*getenv("ROOST_TEST_PG")) return;
    if (access("scripts/pg-test.sh", X_OK) != 0) {
        fprintf(stderr, "note: scripts/pg-test.sh not found from here: restart test skipped\n");
        return;
    }
    FILE *f = popen("scripts/pg-test.sh start 2>/dev/null", "r");
    REQUIRE(f);
    char *got = fgets(private_url, sizeof private_url, f);
    pclose(f);
    REQUIRE(got && strncmp(private_url, "postgresql://", 13) == 0);
    private_url[strcspn(private_url, "\n")] = '\0';
    log_set_level("off");
    struct tenv *e = calloc(1, sizeof *e);
    e->backend = "postgres";
    e->thread = pthread_self();
    pthread_mutex_init(&e->loop.mu, NULL);
    pthread_cond_init(&e->loop.cv, NULL);
    restart_body(e);
    if (e->s) env_close(e);
    free(e);
    CHECK_EQ_INT(pg_script("stop"), 0);
}
