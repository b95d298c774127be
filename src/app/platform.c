/* platform.c - the platform's setup, its HTTP glue for /graphql (who is asking, rate limits,
 * session cookies), the JSON shapes shared by the resolvers and the channels, and metrics.
 * The GraphQL resolvers are in resolvers.c, the socket side in realtime.c. */
#include "app/platform.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "app/platform_internal.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

#define HASH_THREADS      2
#define HASH_CAP          32               /* password jobs queued or running */
#define COOKIE_MAX_AGE    (30 * 24 * 3600) /* seconds: the web client keeps them 30 days */
#define REQUEST_BUDGET_MS 10000

/* ---- readers and the sequencer ------------------------------------------------------- */

store_reader_t *platform_reader(platform_t *p)
{
    loop_t *l = loop_current();
    if (!l) return NULL;
    int i = loop_index(l);
    if (i < 0 || i >= p->nloops) return NULL;
    struct platform_loop *pl = &p->per[i];
    if (!pl->reader) {
        int rc = store_reader_open(p->store, &pl->reader);
        if (rc) {
            LOG_ERROR("platform", "cannot open a store reader: %s", rs_strerror(rc));
            pl->reader = NULL;
        }
    }
    return pl->reader;
}

loop_t *platform_sequencer(platform_t *p)
{
    return p->loops[0];
}

/* ---- authentication ---------------------------------------------------------------- */

int platform_authenticate(platform_t *p, span_t id, span_t secret, int64_t *user_id,
                          int64_t *session_id)
{
    int64_t sid = 0;
    if (!id.base || !id.len || id.len > STORE_ID_STR_MAX || store_id_parse(id.base, id.len, &sid))
        return RS_EINVAL;
    if (!secret.base || secret.len != ACCOUNT_SECRET_LEN) return RS_EINVAL;
    char hash[ACCOUNT_SECRET_HASH_LEN + 1];
    if (account_secret_hash(secret.base, secret.len, hash)) return RS_EINVAL;
    store_reader_t *rd = platform_reader(p);
    if (!rd) return RS_EUNAVAIL;
    struct store_session s;
    int rc = store_session_get(rd, sid, &s);
    if (rc == RS_ENOTFOUND) return RS_EPERM;
    if (rc) return rc;
    rc = account_secret_check(secret.base, secret.len, s.secret_hash);
    if (rc) return rc == RS_EINVAL ? RS_EINVAL : RS_EPERM;
    *user_id = s.user_id;
    *session_id = s.id;
    return 0;
}

/* ---- JSON shapes ------------------------------------------------------------------- */

void platform_iso_time(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    size_t n = strlen(out);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static json_t *id_json(int64_t id)
{
    char s[STORE_ID_STR_MAX + 1];
    store_id_format(id, s);
    return json_string(s);
}

static json_t *time_json(int64_t ms)
{
    char s[32];
    platform_iso_time(ms, s);
    return json_string(s);
}

json_t *platform_user_brief(const struct store_user *u)
{
    return json_pack("{s:o,s:s,s:s}", "id", id_json(u->id), "username", u->username, "displayName",
                     u->display_name);
}

json_t *platform_user_json(const struct store_user *u)
{
    return json_pack("{s:o,s:s,s:s,s:I,s:I,s:o,s:I}", "id", id_json(u->id), "username", u->username,
                     "displayName", u->display_name, "followerCount", (json_int_t)u->follower_count,
                     "followingCount", (json_int_t)u->following_count, "lastSeen",
                     u->last_seen_ms ? time_json(u->last_seen_ms) : json_null(), "_id",
                     (json_int_t)u->id);
}

json_t *platform_chatroom_json(const struct store_chatroom *c)
{
    return json_pack("{s:o,s:s,s:o,s:I,s:o,s:I,s:I}", "id", id_json(c->id), "kind",
                     c->kind == STORE_CHATROOM_GROUP ? "GROUP" : "DIRECT", "name",
                     c->has_name ? json_string(c->name) : json_null(), "unreadCount",
                     (json_int_t)c->unread_count, "createdAt", time_json(c->created_ms), "_id",
                     (json_int_t)c->id, "_last", (json_int_t)c->last_message_id);
}

json_t *platform_message_json(const struct store_message *m)
{
    return json_pack("{s:o,s:s%,s:o,s:I,s:I,s:I}", "id", id_json(m->id), "text",
                     m->text ? m->text : "", m->text ? m->text_len : (size_t)0, "createdAt",
                     time_json(m->created_ms), "_id", (json_int_t)m->id, "_room",
                     (json_int_t)m->chatroom_id, "_sender", (json_int_t)m->sender_id);
}

json_t *platform_message_event(platform_t *p, store_reader_t *rd, const struct store_message *m)
{
    struct store_user u;
    if (!rd || store_user_get(rd, m->sender_id, &u)) return NULL;
    return json_pack("{s:o,s:o,s:o,s:s%,s:o}", "id", id_json(m->id), "chatroomId",
                     id_json(m->chatroom_id), "sender", platform_user_brief(&u), "text",
                     m->text ? m->text : "", m->text ? m->text_len : (size_t)0, "createdAt",
                     time_json(m->created_ms));
}

/* ---- /graphql: context, admission, cookies ----------------------------------------- */

/* A request refused before GraphQL runs (the 503s below: a transient condition, so the client
 * is told when to retry and gets the same error code a resolver would give). */
static void respond_json_error(http_req_t *r, int status, const char *message)
{
    buf_t b = BUF_INIT;
    buf_append_cstr(&b, "{\"errors\":[{\"message\":");
    rs_json_append_string(&b, span_cstr(message));
    buf_append_cstr(&b, ",\"extensions\":{\"code\":\"UNAVAILABLE\"}}]}");
    http_req_add_cors(r);
    http_req_add_header(r, "Retry-After", "1");
    http_respond(r, status, "application/json; charset=utf-8", b.base, b.len);
    buf_free(&b);
}

static void *make_ctx(http_req_t *r, void *arg)
{
    platform_t *p = arg;
    pctx_t *c = calloc(1, sizeof *c);
    if (!c) {
        respond_json_error(r, 503, "out of memory");
        return NULL;
    }
    c->p = p;
    c->loop = http_req_loop(r);
    const char *ip = conn_peer_ip(http_req_conn(r));
    snprintf(c->ip, sizeof c->ip, "%s", ip ? ip : "?");

    span_t id = http_req_cookie(r, "id"), secret = http_req_cookie(r, "secretkey");
    span_t az = span_trim(http_req_header(r, "authorization"));
    if (az.base && az.len > 7 && strncasecmp(az.base, "Bearer ", 7) == 0) {
        span_t cred = span_trim(span_make(az.base + 7, az.len - 7));
        const char *colon = memchr(cred.base, ':', cred.len);
        if (colon) {
            id = span_make(cred.base, (size_t)(colon - cred.base));
            secret = span_make(colon + 1, cred.len - (size_t)(colon - cred.base) - 1);
        } else {
            id = cred;
            secret = SPAN_NULL;
        }
    }
    if (id.base || secret.base) {
        int rc = platform_authenticate(p, id, secret, &c->viewer_id, &c->session_id);
        if (rc == RS_EUNAVAIL || rc == RS_EIO || rc == RS_ENOMEM) {
            free(c);
            respond_json_error(r, 503, "storage unavailable: try again shortly");
            return NULL;
        }
        if (rc) {
            c->viewer_id = c->session_id = 0;
            c->bad_credentials = true;
        }
    }
    return c;
}

static int admit(void *ctx, gql_request_t *req, const char **message, void *arg)
{
    pctx_t *c = ctx;
    platform_t *p = arg;
    uint32_t logins = gql_request_count_field(req, "Mutation.login");
    uint32_t regs = gql_request_count_field(req, "Mutation.register");
    if (!logins && !regs) return 0;
    uint64_t now = ratelimit_now_ms();
    uint64_t wait = ratelimit_check(p->rl_ip, span_cstr(c->ip), now);
    if (!wait && logins) {
        char name[ACCOUNT_USERNAME_MAX + 64], norm[ACCOUNT_USERNAME_MAX + 1];
        if (platform_login_username(req, name, sizeof name) &&
            account_username_normalize(name, strlen(name), norm, NULL) == 0)
            wait = ratelimit_check(p->rl_account, span_cstr(norm), now);
    }
    if (wait) {
        PSTAT_INC(p, rate_limited);
        *message = "Too many attempts: wait a moment and try again.";
        return 429;
    }
    int n = (int)(logins + regs);
    if (!hasher_reserve(p->hasher, n)) {
        PSTAT_INC(p, hash_busy);
        *message = "The server is busy: try again in a moment.";
        return 503;
    }
    c->hash_reserved = n;
    return 0;
}

static void add_cookie(http_req_t *r, platform_t *p, const char *name, const char *value,
                       int max_age)
{
    http_req_add_headerf(r, "Set-Cookie", "%s=%s; Path=/; Max-Age=%d; SameSite=Strict%s", name,
                         value, max_age, p->secure_cookies ? "; Secure" : "");
}

static void finish(void *ctx, http_req_t *r, void *arg)
{
    pctx_t *c = ctx;
    platform_t *p = arg;
    http_req_add_header(r, "Cache-Control", "no-store");
    if (c->set_cookies) {
        add_cookie(r, p, "id", c->cookie_id, COOKIE_MAX_AGE);
        add_cookie(r, p, "secretkey", c->cookie_secret, COOKIE_MAX_AGE);
    } else if (c->clear_cookies) {
        add_cookie(r, p, "id", "", 0);
        add_cookie(r, p, "secretkey", "", 0);
    }
}

static void free_ctx(void *ctx, void *arg)
{
    pctx_t *c = ctx;
    platform_t *p = arg;
    if (c->hash_reserved > 0) hasher_release(p->hasher, c->hash_reserved);
    memset(c->cookie_secret, 0, sizeof c->cookie_secret);
    free(c);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

platform_t *platform_new(const platform_config_t *pc)
{
    if (account_init()) {
        LOG_ERROR("platform", "libsodium cannot initialise");
        return NULL;
    }
    platform_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cfg = pc->cfg;
    p->store = pc->store;
    p->sio = pc->sio;
    p->loops = pc->loops;
    p->nloops = pc->nloops;
    p->secure_cookies = pc->cfg && pc->cfg->tls_cert;
    p->recovery = pc->cfg && pc->cfg->recovery;
    p->recovery_ms = pc->cfg && pc->cfg->max_disconnection_ms > 0
                         ? (uint32_t)pc->cfg->max_disconnection_ms
                         : 120000;
    pthread_mutex_init(&p->recovering_mu, NULL);
    p->recovering = MAP_INIT;
    p->presence_ttl_ms =
        pc->cfg && pc->cfg->presence_ttl_ms >= 1000 ? pc->cfg->presence_ttl_ms : 30000;
    p->per = calloc((size_t)p->nloops, sizeof *p->per);
    p->hasher = hasher_new(HASH_THREADS, HASH_CAP, NULL);
    p->presence = presence_new();
    /* Accounts: 5 free failures, then 1 s, 2 s, 4 s ... up to 15 min; forgotten after 15 min
     * of quiet. Addresses tolerate many users behind one NAT. */
    ratelimit_policy_t acct = {
        .free_failures = 5, .base_ms = 1000, .max_ms = 15 * 60 * 1000, .quiet_ms = 15 * 60 * 1000};
    ratelimit_policy_t ip = {
        .free_failures = 50, .base_ms = 1000, .max_ms = 15 * 60 * 1000, .quiet_ms = 15 * 60 * 1000};
    p->rl_account = ratelimit_new(&acct);
    p->rl_ip = ratelimit_new(&ip);
    p->rl_sock_ip = ratelimit_new(&ip);
    p->rl_sock_id = ratelimit_new(&acct);
    if (!p->per || !p->hasher || !p->presence || !p->rl_account || !p->rl_ip || !p->rl_sock_ip ||
        !p->rl_sock_id) {
        LOG_ERROR("platform", "out of memory (or cannot start the hashing threads)");
        goto fail;
    }
    if (platform_schema_setup(p)) goto fail;
    gql_http_config_t *hc = &p->http_cfg;
    hc->schema = p->schema;
    gql_limits_default(&hc->limits);
    hc->limits.deadline_ms = REQUEST_BUDGET_MS;
    hc->make_ctx = make_ctx;
    hc->admit = admit;
    hc->finish = finish;
    hc->free_ctx = free_ctx;
    hc->arg = p;
    /* Browsers asking GET /graphql for text/html get GraphiQL from the web bundle. */
    char *giql = NULL;
    if (pc->cfg && pc->cfg->web_root && asprintf(&giql, "%s/graphiql.html", pc->cfg->web_root) < 0)
        giql = NULL;
    hc->graphiql_path = giql;
    if (http_route(pc->http, NULL, "/graphql", 0, 0, gql_http_handle, hc)) {
        LOG_ERROR("platform", "cannot register /graphql");
        goto fail;
    }
    if (platform_realtime_setup(p)) {
        LOG_ERROR("platform", "cannot set up the Socket.IO namespace");
        goto fail;
    }
    return p;
fail:
    platform_free(p);
    return NULL;
}

void platform_free(platform_t *p)
{
    if (!p) return;
    if (p->nsp) platform_realtime_stop(p);
    hasher_free(p->hasher);
    platform_realtime_free(p);
    for (int i = 0; p->per && i < p->nloops; i++) store_reader_close(p->per[i].reader);
    free(p->per);
    pthread_mutex_destroy(&p->recovering_mu);
    gql_schema_free(p->schema);
    free((char *)p->http_cfg.graphiql_path);
    presence_free(p->presence);
    ratelimit_free(p->rl_account);
    ratelimit_free(p->rl_ip);
    ratelimit_free(p->rl_sock_ip);
    ratelimit_free(p->rl_sock_id);
    free(p);
}

/* ---- metrics ------------------------------------------------------------------------- */

static void series(buf_t *out, const char *name, const char *type, const char *help, uint64_t v)
{
    buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name,
                v);
}

#define LOAD(f) __atomic_load_n(&p->stats.f, __ATOMIC_RELAXED)

void platform_metrics(buf_t *out, void *arg)
{
    platform_t *p = arg;
    if (!p) return;
    buf_appendf(
        out,
        "# HELP roost_logins_total login attempts by result\n# TYPE roost_logins_total counter\n"
        "roost_logins_total{result=\"ok\"} %" PRIu64
        "\nroost_logins_total{result=\"failed\"} %" PRIu64 "\n",
        LOAD(logins), LOAD(login_failures));
    buf_appendf(out,
                "# HELP roost_registrations_total registrations by result\n# TYPE "
                "roost_registrations_total counter\n"
                "roost_registrations_total{result=\"ok\"} %" PRIu64
                "\nroost_registrations_total{result=\"failed\"} %" PRIu64 "\n",
                LOAD(registrations), LOAD(register_failures));
    series(out, "roost_logouts_total", "counter", "sessions revoked by logout", LOAD(logouts));
    buf_appendf(out,
                "# HELP roost_socket_auth_total socket authentications by way and result\n"
                "# TYPE roost_socket_auth_total counter\n"
                "roost_socket_auth_total{way=\"initialConnection\",result=\"ok\"} %" PRIu64 "\n"
                "roost_socket_auth_total{way=\"initialConnection\",result=\"failed\"} %" PRIu64 "\n"
                "roost_socket_auth_total{way=\"connect\",result=\"ok\"} %" PRIu64 "\n"
                "roost_socket_auth_total{way=\"connect\",result=\"failed\"} %" PRIu64 "\n",
                LOAD(socket_auth_ok), LOAD(socket_auth_failed), LOAD(connect_auth_ok),
                LOAD(connect_auth_failed));
    series(out, "roost_rate_limited_total", "counter",
           "attempts refused by the login/socket-auth rate limits", LOAD(rate_limited));
    series(out, "roost_password_hash_busy_total", "counter",
           "requests refused because the password-hash pool was full", LOAD(hash_busy));
    series(out, "roost_password_hash_load", "gauge", "password jobs queued or running",
           (uint64_t)hasher_load(p->hasher));
    series(out, "roost_messages_sent_total", "counter", "messages stored", LOAD(messages));
    series(out, "roost_follows_total", "counter", "follow toggles committed", LOAD(follows));
    series(out, "roost_chatrooms_created_total", "counter", "chatrooms created",
           LOAD(chatrooms_created));
    series(out, "roost_channel_events_total", "counter",
           "live channel broadcasts (followed, updatedChat, chatroom)", LOAD(events));
    series(out, "roost_users_online", "gauge",
           "users with at least one authenticated socket on this node",
           presence_users(p->presence));
    series(out, "roost_remote_logouts_total", "counter",
           "sessions revoked on another node whose sockets here were logged out",
           LOAD(remote_revokes));
    series(out, "roost_presence_resets_total", "counter",
           "times this node stored its whole presence state again (rows swept or a write failed)",
           LOAD(presence_resets));
    series(out, "roost_presence_write_failures_total", "counter",
           "presence writes to the shared store that failed (repaired by the next heartbeat)",
           LOAD(presence_write_failures));
    struct store_stats st;
    store_stats_get(p->store, &st);
    series(out, "roost_store_writes_total", "counter", "store writes completed", st.writes);
    series(out, "roost_store_writes_failed_total", "counter",
           "store writes completed with an error", st.writes_failed);
    series(out, "roost_store_commits_total", "counter", "store transactions committed (fsyncs)",
           st.transactions);
    series(out, "roost_store_batch_max", "gauge", "most writes committed in one transaction",
           st.batch_max);
    series(out, "roost_store_queued", "gauge", "store writes waiting", st.queued);
    series(out, "roost_store_reconnects_total", "counter", "PostgreSQL reconnections",
           st.reconnects);
    /* Prometheus histograms: cumulative buckets, then _sum and _count. */
    static const uint64_t ms_bounds[] = STORE_COMMIT_MS_BOUNDS;
    static const uint64_t batch_bounds[] = STORE_BATCH_BOUNDS;
    uint64_t cum = 0;
    buf_appendf(out, "# HELP roost_store_commit_seconds time from BEGIN to COMMIT of a store transaction\n"
                     "# TYPE roost_store_commit_seconds histogram\n");
    for (int i = 0; i < STORE_COMMIT_BUCKETS; i++) {
        cum += st.commit_ms_hist[i];
        if (i < STORE_COMMIT_BUCKETS - 1)
            buf_appendf(out, "roost_store_commit_seconds_bucket{le=\"%.3f\"} %llu\n", ms_bounds[i] / 1000.0,
                        (unsigned long long)cum);
        else
            buf_appendf(out, "roost_store_commit_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    buf_appendf(out, "roost_store_commit_seconds_sum %.6f\nroost_store_commit_seconds_count %llu\n",
                st.commit_us_sum / 1e6, (unsigned long long)cum);
    cum = 0;
    buf_appendf(out, "# HELP roost_store_commit_batch_size writes committed together in one transaction\n"
                     "# TYPE roost_store_commit_batch_size histogram\n");
    for (int i = 0; i < STORE_BATCH_BUCKETS; i++) {
        cum += st.batch_hist[i];
        if (i < STORE_BATCH_BUCKETS - 1)
            buf_appendf(out, "roost_store_commit_batch_size_bucket{le=\"%llu\"} %llu\n",
                        (unsigned long long)batch_bounds[i], (unsigned long long)cum);
        else
            buf_appendf(out, "roost_store_commit_batch_size_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    buf_appendf(out, "roost_store_commit_batch_size_sum %llu\nroost_store_commit_batch_size_count %llu\n",
                (unsigned long long)st.batch_sum, (unsigned long long)cum);
}
