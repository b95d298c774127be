/* redis.c - the Socket.IO Redis adapter: an adapter thread with its own epoll loop driving two
 * hiredis async connections (publish; subscribe), in the wire format of
 * @socket.io/redis-adapter 8 (cluster/wire.h). */
#include "cluster/redis.h"

#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cluster/wire.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

#define QUEUE_CAP        ((size_t)64 << 20) /* bytes waiting for the adapter thread or Redis */
#define CONNECT_TIMEOUT  5000
#define BACKOFF_MIN      100
#define BACKOFF_MAX      5000
#define MAX_NSP_LEN      256
#define DEFAULT_ACK_WAIT 5000

enum conn_state { C_DOWN, C_CONNECTING, C_READY };

struct rconn {
    redis_adapter_t *a;
    const char *name; /* "publisher" / "subscriber" */
    redisAsyncContext *ac;
    int fd;
    uint32_t want, have; /* epoll interest wanted by hiredis / registered */
    bool registered;
    int state;
    uint64_t retry_at, deadline, down_since;
    uint32_t backoff;
    bool ever_up;
    bool reported_down; /* the outage was logged */
};

struct job {
    struct job *next;
    buf_t channel, payload;
};

struct redis_adapter {
    sio_server_t *sio;
    char *host, *user, *password, *prefix;
    int port;
    char uid[13];
    pthread_t thread;
    bool thread_started;
    int epfd, evfd;
    int stopping;                 /* atomic: the thread should exit */
    int stopped;                  /* atomic: hooks are no-ops */
    pthread_mutex_t deliver_lock; /* held while a message from Redis is handed to the workers */
    bool quiesced;                /* under deliver_lock: hand nothing more to the workers */
    int pub_ready; /* atomic mirrors of pub/sub.state == C_READY, for other threads */
    int sub_ready;

    pthread_mutex_t lock; /* queue, namespaces, ready */
    pthread_cond_t ready_cv;
    struct job *head, *tail;
    size_t queued;
    char **nsps; /* namespaces to subscribe requests for */
    size_t nnsps, nsps_subscribed;

    struct rconn pub, sub;
    uint64_t dropped_in_outage;

    redis_adapter_emit_fn on_emit;
    void *on_emit_arg;

    redis_adapter_stats_t stats; /* atomic counters */
};

#define STAT(a, f, n) __atomic_add_fetch(&(a)->stats.f, (n), __ATOMIC_RELAXED)

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wake(redis_adapter_t *a)
{
    uint64_t one = 1;
    ssize_t n = write(a->evfd, &one, sizeof one);
    (void)n; /* EAGAIN: a wake-up is already pending */
}

/* ---- URL ---- */

static int parse_url(redis_adapter_t *a, const char *url, char *err, size_t errlen)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0) {
        snprintf(
            err, errlen,
            "--adapter must be redis://[[user]:password@]host[:port] (rediss:// is not supported)");
        return RS_EINVAL;
    }
    p += 8;
    const char *end = p + strcspn(p, "/?#");
    const char *at = memrchr(p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (colon > p) a->user = strndup(p, (size_t)(colon - p));
            a->password = strndup(colon + 1, (size_t)(at - colon - 1));
        } else {
            a->password = strndup(p, (size_t)(at - p));
        }
        p = at + 1;
    }
    const char *hend, *portp = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) goto bad;
        a->host = strndup(p + 1, (size_t)(rb - p - 1));
        hend = rb + 1;
        if (hend < end && *hend == ':')
            portp = hend + 1;
        else if (hend != end)
            goto bad;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        hend = colon ? colon : end;
        a->host = strndup(p, (size_t)(hend - p));
        if (colon) portp = colon + 1;
    }
    if (!a->host || !a->host[0]) goto bad;
    a->port = 6379;
    if (portp) {
        int port = 0;
        if (portp == end) goto bad;
        for (const char *q = portp; q < end; q++) {
            if (*q < '0' || *q > '9') goto bad;
            port = port * 10 + (*q - '0');
            if (port > 65535) goto bad;
        }
        if (!port) goto bad;
        a->port = port;
    }
    return 0;
bad:
    snprintf(err, errlen, "invalid --adapter URL '%s' (redis://host:port)", url);
    return RS_EINVAL;
}

/* ---- the queue to the adapter thread ---- */

/* Hand a PUBLISH to the adapter thread; takes the buffers' contents either way. */
static int enqueue(redis_adapter_t *a, buf_t *channel, buf_t *payload)
{
    int rc = 0;
    struct job *j = NULL;
    if (__atomic_load_n(&a->stopped, __ATOMIC_ACQUIRE) || !(j = calloc(1, sizeof *j))) {
        rc = j ? RS_EUNAVAIL : RS_ENOMEM;
        goto drop;
    }
    j->channel = *channel;
    j->payload = *payload;
    *channel = BUF_INIT;
    *payload = BUF_INIT;
    size_t size = j->channel.len + j->payload.len + 64;
    pthread_mutex_lock(&a->lock);
    if (a->queued + size > QUEUE_CAP) {
        pthread_mutex_unlock(&a->lock);
        buf_free(&j->channel);
        buf_free(&j->payload);
        free(j);
        rc = RS_EBUSY;
        goto drop;
    }
    a->queued += size;
    bool was_empty = !a->head;
    if (a->tail)
        a->tail->next = j;
    else
        a->head = j;
    a->tail = j;
    pthread_mutex_unlock(&a->lock);
    if (was_empty) wake(a);
    return 0;
drop:
    buf_free(channel);
    buf_free(payload);
    STAT(a, publish_dropped, 1);
    return rc;
}

static int channel_for(buf_t *out, const redis_adapter_t *a, const char *kind, const char *nsp)
{
    /* "<prefix><kind>#<nsp>#": kind is "" for broadcasts, "-request" / "-response" */
    return buf_appendf(out, "%s%s#%s#", a->prefix, kind, nsp);
}

static int publish_json(redis_adapter_t *a, const char *kind, const char *nsp, const json_t *v)
{
    buf_t chan = BUF_INIT, payload = BUF_INIT;
    int rc = channel_for(&chan, a, kind, nsp);
    if (!rc) rc = rs_json_append(&payload, v);
    if (rc) {
        buf_free(&chan);
        buf_free(&payload);
        return rc;
    }
    return enqueue(a, &chan, &payload);
}

/* ---- hooks called by the Socket.IO server (worker threads) ---- */

static void hook_publish(void *ctx, sio_nsp_t *nsp, const sio_bcast_t *b, span_t event, span_t args,
                         rbuf_t *const *bins, int nbins)
{
    redis_adapter_t *a = ctx;
    if (!__atomic_load_n(&a->pub_ready, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&a->stopped, __ATOMIC_ACQUIRE)) {
        /* Redis is down: nothing would carry it; the count is logged on reconnection. */
        STAT(a, publish_dropped, 1);
        __atomic_add_fetch(&a->dropped_in_outage, 1, __ATOMIC_RELAXED);
        return;
    }
    wire_target_t t = {0};
    if (b) {
        t = (wire_target_t){b->rooms,
                            b->nrooms,
                            b->except,
                            b->nexcept,
                            b->except_socket ? sio_socket_id(b->except_socket) : NULL,
                            b->is_volatile};
    }
    const char *name = sio_nsp_name(nsp);
    buf_t chan = BUF_INIT, payload = BUF_INIT;
    int rc = wire_broadcast_channel(&chan, span_cstr(a->prefix), span_cstr(name), &t);
    if (!rc)
        rc = wire_broadcast_encode(&payload, span_cstr(a->uid), span_cstr(name), &t, event, args,
                                   bins, nbins);
    if (rc) {
        LOG_WARN("cluster", "broadcast on %s not published: %s", name, rs_strerror(rc));
        buf_free(&chan);
        buf_free(&payload);
        STAT(a, publish_dropped, 1);
        return;
    }
    enqueue(a, &chan, &payload);
}

static void hook_nsp_created(void *ctx, const char *name)
{
    redis_adapter_t *a = ctx;
    char *copy = strdup(name);
    if (!copy) return;
    pthread_mutex_lock(&a->lock);
    char **v = realloc(a->nsps, (a->nnsps + 1) * sizeof *v);
    if (v) {
        a->nsps = v;
        v[a->nnsps++] = copy;
        copy = NULL;
    }
    pthread_mutex_unlock(&a->lock);
    free(copy);
    if (a->epfd >= 0) wake(a);
}

static const sio_adapter_ops_t adapter_ops = {hook_publish, hook_nsp_created};

/* ---- hiredis event hooks (adapter thread) ---- */

static void ev_add_read(void *p)
{
    ((struct rconn *)p)->want |= EPOLLIN;
}
static void ev_del_read(void *p)
{
    ((struct rconn *)p)->want &= ~(uint32_t)EPOLLIN;
}
static void ev_add_write(void *p)
{
    ((struct rconn *)p)->want |= EPOLLOUT;
}
static void ev_del_write(void *p)
{
    ((struct rconn *)p)->want &= ~(uint32_t)EPOLLOUT;
}
/* The context is being freed (its fd closes right after): forget the fd now. */
static void ev_cleanup(void *p)
{
    struct rconn *c = p;
    if (c->registered) epoll_ctl(c->a->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    c->registered = false;
    c->want = c->have = 0;
    c->fd = -1;
}

static void apply_interest(struct rconn *c)
{
    if (!c->ac || c->fd < 0) return;
    if (c->registered && c->want == c->have) return;
    struct epoll_event ev = {.events = c->want, .data.ptr = c};
    if (epoll_ctl(c->a->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) == 0) {
        c->registered = true;
        c->have = c->want;
    } else {
        LOG_ERROR("cluster", "epoll_ctl: %s", strerror(errno));
    }
}

/* ---- connections ---- */

static void set_ready(struct rconn *c, bool ready)
{
    redis_adapter_t *a = c->a;
    __atomic_store_n(c == &a->pub ? &a->pub_ready : &a->sub_ready, ready ? 1 : 0, __ATOMIC_RELEASE);
    if (ready) {
        pthread_mutex_lock(&a->lock);
        pthread_cond_broadcast(&a->ready_cv);
        pthread_mutex_unlock(&a->lock);
    }
}

static void went_down(struct rconn *c, const char *why)
{
    redis_adapter_t *a = c->a;
    bool was_ready = c->state == C_READY;
    c->ac = NULL;
    c->state = C_DOWN;
    set_ready(c, false);
    uint64_t now = now_ms();
    if (was_ready) c->down_since = now;
    if (__atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE)) return;
    if (!c->reported_down && (was_ready || !c->ever_up)) {
        c->reported_down = true;
        if (c == &a->pub)
            LOG_WARN("cluster",
                     "redis %s:%d %s: %s; broadcasts to other nodes are dropped until it is back",
                     a->host, a->port, c->name, why);
        else
            LOG_WARN("cluster",
                     "redis %s:%d %s: %s; broadcasts and requests from other nodes are lost until "
                     "it is back",
                     a->host, a->port, c->name, why);
    }
    if (!c->down_since) c->down_since = now;
    uint32_t jitter = c->backoff / 4 ? (uint32_t)(now % (c->backoff / 4 + 1)) : 0;
    c->retry_at = now + c->backoff + jitter;
    c->backoff = c->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : c->backoff * 2;
}

static void came_up(struct rconn *c)
{
    redis_adapter_t *a = c->a;
    c->state = C_READY;
    c->backoff = BACKOFF_MIN;
    if (c->ever_up || c->reported_down) {
        STAT(a, reconnects, 1);
        double secs = c->down_since ? (double)(now_ms() - c->down_since) / 1000.0 : 0;
        if (c == &a->pub) {
            uint64_t lost = __atomic_exchange_n(&a->dropped_in_outage, 0, __ATOMIC_RELAXED);
            LOG_INFO("cluster",
                     "redis %s back after %.1f s; %llu broadcast(s) to other nodes were dropped "
                     "meanwhile",
                     c->name, secs, (unsigned long long)lost);
        } else {
            LOG_INFO("cluster",
                     "redis %s back after %.1f s, resubscribed; anything other nodes published "
                     "meanwhile was lost",
                     c->name, secs);
        }
    } else {
        LOG_INFO("cluster", "redis %s connected to %s:%d (node %s)", c->name, a->host, a->port,
                 a->uid);
        if (c == &a->pub) __atomic_store_n(&a->dropped_in_outage, 0, __ATOMIC_RELAXED);
    }
    c->ever_up = true;
    c->reported_down = false;
    c->down_since = 0;
    set_ready(c, true);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *c = ac->data;
    if (status != REDIS_OK) {
        went_down(c, ac->errstr[0] ? ac->errstr : "connect failed"); /* hiredis frees ac */
        return;
    }
    /* The publisher is usable at once; the subscriber once its subscriptions are confirmed. */
    if (c == &c->a->pub) came_up(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rconn *c = ac->data;
    went_down(c, status == REDIS_OK ? "closed" : (ac->errstr[0] ? ac->errstr : "connection lost"));
}

static void on_auth(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    struct rconn *c = ac->data;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        LOG_ERROR("cluster", "redis %s: AUTH refused: %s", c->name, reply->str);
        redisAsyncDisconnect(ac);
    }
}

static void on_pmessage(redisAsyncContext *ac, void *r, void *priv);
static void on_message(redisAsyncContext *ac, void *r, void *priv);

static void subscribe_requests(redis_adapter_t *a)
{
    struct rconn *c = &a->sub;
    if (!c->ac) return;
    pthread_mutex_lock(&a->lock);
    for (; a->nsps_subscribed < a->nnsps; a->nsps_subscribed++) {
        buf_t chan = BUF_INIT;
        if (channel_for(&chan, a, "-request", a->nsps[a->nsps_subscribed])) break;
        /* One call per channel: hiredis keeps one callback per subscribed channel. */
        redisAsyncCommand(c->ac, on_message, NULL, "SUBSCRIBE %b", chan.base, chan.len);
        buf_free(&chan);
    }
    pthread_mutex_unlock(&a->lock);
}

static void rconn_open(struct rconn *c)
{
    redis_adapter_t *a = c->a;
    redisAsyncContext *ac = redisAsyncConnect(a->host, a->port);
    if (!ac || ac->err) {
        const char *why = ac ? ac->errstr : "out of memory";
        char msg[128];
        snprintf(msg, sizeof msg, "%s", why);
        if (ac) redisAsyncFree(ac);
        c->state = C_CONNECTING; /* so went_down computes the next retry */
        went_down(c, msg);
        return;
    }
    c->ac = ac;
    c->fd = ac->c.fd;
    c->registered = false;
    c->want = EPOLLIN | EPOLLOUT; /* the connect completes with writability */
    c->have = 0;
    ac->data = c;
    ac->ev.data = c;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->state = C_CONNECTING;
    c->deadline = now_ms() + CONNECT_TIMEOUT;
    if (a->password) {
        if (a->user)
            redisAsyncCommand(ac, on_auth, NULL, "AUTH %s %s", a->user, a->password);
        else
            redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", a->password);
    }
    if (c == &a->sub) {
        pthread_mutex_lock(&a->lock);
        a->nsps_subscribed = 0;
        pthread_mutex_unlock(&a->lock);
        subscribe_requests(a);
        /* Last: its confirmation means every subscription before it is in place. */
        buf_t pattern = BUF_INIT;
        for (const char *p = a->prefix; *p; p++) {
            if (strchr("*?[]\\", *p)) buf_append_byte(&pattern, '\\');
            buf_append_byte(&pattern, *p);
        }
        buf_append_cstr(&pattern, "#*");
        redisAsyncCommand(ac, on_pmessage, NULL, "PSUBSCRIBE %b", pattern.base, pattern.len);
        buf_free(&pattern);
    }
    apply_interest(c);
}

/* Drop a connection from our side (timeout, shutdown). Not from inside a hiredis callback. */
static void rconn_close(struct rconn *c, const char *why)
{
    if (!c->ac) return;
    /* redisAsyncFree calls on_disconnect (which clears c->ac) only for a connected context. */
    redisAsyncFree(c->ac);
    if (c->ac) went_down(c, why);
}

/* ---- incoming broadcasts ---- */

static void handle_broadcast(redis_adapter_t *a, span_t channel, span_t msg)
{
    STAT(a, received, 1);
    wire_broadcast_t b;
    int rc = wire_broadcast_decode(msg, &b);
    if (rc) {
        STAT(a, malformed, 1);
        LOG_DEBUG("cluster", "ignoring a malformed message on %.*s: %s", (int)channel.len,
                  channel.base, rs_strerror(rc));
        return;
    }
    if (span_eq_cstr(b.uid, a->uid)) {
        STAT(a, received_own, 1);
        goto done;
    }
    /* The channel must be this packet's namespace's ("<prefix>#<nsp>#..."), as the reference
     * checks; anything else is some other application's traffic. */
    size_t pl = strlen(a->prefix);
    if (b.nsp.len > MAX_NSP_LEN || channel.len < pl + b.nsp.len + 2 ||
        memcmp(channel.base, a->prefix, pl) || channel.base[pl] != '#' ||
        memcmp(channel.base + pl + 1, b.nsp.base, b.nsp.len) ||
        channel.base[pl + 1 + b.nsp.len] != '#')
        goto done;
    char nsp[MAX_NSP_LEN + 1];
    memcpy(nsp, b.nsp.base, b.nsp.len);
    nsp[b.nsp.len] = '\0';
    sio_bcast_t sb = {.rooms = b.rooms,
                      .nrooms = b.nrooms,
                      .except = b.except,
                      .nexcept = b.nexcept,
                      .is_volatile = b.is_volatile,
                      .local = true};
    rc = sio_broadcast_remote(a->sio, nsp, &sb, b.event, buf_span(&b.args), b.bins, b.nbins);
    if (rc == 0)
        STAT(a, delivered, 1);
    else if (rc != RS_ENOTFOUND)
        LOG_WARN("cluster", "broadcast from node %.*s not delivered: %s", (int)b.uid.len,
                 b.uid.base, rs_strerror(rc));
done:
    wire_broadcast_clear(&b);
}

static void on_pmessage(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    struct rconn *c = ac->data;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    redisReply *kind = reply->element[0];
    if (kind->type != REDIS_REPLY_STRING) return;
    if (!strcmp(kind->str, "psubscribe")) {
        if (c->state != C_READY) came_up(c);
        return;
    }
    if (strcmp(kind->str, "pmessage") || reply->elements < 4) return;
    redisReply *chan = reply->element[2], *msg = reply->element[3];
    if (chan->type != REDIS_REPLY_STRING || msg->type != REDIS_REPLY_STRING) return;
    pthread_mutex_lock(&c->a->deliver_lock);
    if (!c->a->quiesced)
        handle_broadcast(c->a, span_make(chan->str, chan->len), span_make(msg->str, msg->len));
    pthread_mutex_unlock(&c->a->deliver_lock);
}

/* ---- requests from other nodes ---- */

enum req_type {
    REQ_SOCKETS = 0,
    REQ_ALL_ROOMS = 1,
    REQ_REMOTE_JOIN = 2,
    REQ_REMOTE_LEAVE = 3,
    REQ_REMOTE_DISCONNECT = 4,
    REQ_REMOTE_FETCH = 5,
    REQ_SERVER_SIDE_EMIT = 6,
    REQ_BROADCAST = 7,
    REQ_BROADCAST_CLIENT_COUNT = 8,
    REQ_BROADCAST_ACK = 9,
};

/* What an answer needs once the workers are done (freed by the callback). */
struct pending {
    redis_adapter_t *a;
    int type;
    char nsp[MAX_NSP_LEN + 1];
    json_t *request_id; /* as the requester sent it */
};

static struct pending *pending_new(redis_adapter_t *a, int type, const char *nsp,
                                   json_t *request_id)
{
    struct pending *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->a = a;
    p->type = type;
    snprintf(p->nsp, sizeof p->nsp, "%s", nsp);
    p->request_id = request_id ? json_incref(request_id) : NULL;
    return p;
}

static void pending_free(struct pending *p)
{
    json_decref(p->request_id);
    free(p);
}

static void respond(struct pending *p, json_t *resp)
{
    if (!resp) return;
    if (p->request_id) json_object_set(resp, "requestId", p->request_id);
    if (publish_json(p->a, "-response", p->nsp, resp) == 0) STAT(p->a, responses, 1);
    json_decref(resp);
}

/* Workers finished a request (on the last worker's thread). */
static void request_done(json_t *result, size_t matched, void *arg)
{
    struct pending *p = arg;
    json_t *resp = NULL;
    switch (p->type) {
    case REQ_SOCKETS: {
        json_t *ids = json_array();
        size_t i;
        json_t *s;
        json_array_foreach(result, i, s) json_array_append(ids, json_object_get(s, "id"));
        resp = json_object();
        json_object_set_new(resp, "sockets", ids);
        break;
    }
    case REQ_ALL_ROOMS:
        resp = json_object();
        json_object_set(resp, "rooms", result);
        break;
    case REQ_REMOTE_FETCH:
        resp = json_object();
        json_object_set(resp, "sockets", result);
        break;
    case REQ_REMOTE_JOIN:
    case REQ_REMOTE_LEAVE:
    case REQ_REMOTE_DISCONNECT:
        /* Single-socket form: only the node that has the socket answers. */
        if (matched && p->request_id) resp = json_object();
        break;
    }
    if (resp) respond(p, resp);
    pending_free(p);
}

/* Room names of a JSON array (strings; numbers as JavaScript prints them). Borrowed from the
 * tree or from store (numbers); at most WIRE_MAX_NAMES. */
static size_t json_names(json_t *arr, const char **out, char (*store)[32], size_t max)
{
    size_t n = 0, i;
    json_t *v;
    if (!json_is_array(arr)) return 0;
    json_array_foreach(arr, i, v)
    {
        if (n == max) break;
        if (json_is_string(v)) {
            out[n++] = json_string_value(v);
        } else if (json_is_integer(v)) {
            snprintf(store[n], 32, "%lld", (long long)json_integer_value(v));
            out[n] = store[n];
            n++;
        }
    }
    return n;
}

#define MAX_REQ_NAMES 256

struct selector {
    const char *rooms[MAX_REQ_NAMES], *except[MAX_REQ_NAMES];
    char rooms_num[MAX_REQ_NAMES][32], except_num[MAX_REQ_NAMES][32];
    sio_bcast_t b;
};

static void selector_from(struct selector *s, json_t *opts)
{
    memset(&s->b, 0, sizeof s->b);
    s->b.rooms = s->rooms;
    s->b.except = s->except;
    s->b.nrooms = json_names(json_object_get(opts, "rooms"), s->rooms, s->rooms_num, MAX_REQ_NAMES);
    s->b.nexcept =
        json_names(json_object_get(opts, "except"), s->except, s->except_num, MAX_REQ_NAMES);
}

static void start_op(redis_adapter_t *a, int type, const char *nsp, json_t *request_id,
                     sio_remote_op_t op, const sio_bcast_t *b, const char *const *names,
                     size_t nnames, bool close)
{
    struct pending *p = pending_new(a, type, nsp, request_id);
    if (!p) return;
    if (sio_remote_apply(a->sio, nsp, op, b, names, nnames, close, request_done, p))
        pending_free(p);
}

/* ---- broadcasts with acknowledgements (request type 7) ---- */

static void ack_count(void *arg, size_t clients)
{
    struct pending *p = arg;
    json_t *resp = json_object();
    json_object_set_new(resp, "type", json_integer(REQ_BROADCAST_CLIENT_COUNT));
    json_object_set_new(resp, "clientCount", json_integer((json_int_t)clients));
    respond(p, resp);
}

/* A client answered: the reference forwards the first argument of its ack, MessagePack-encoded
 * (it may hold binaries). */
static void ack_answer(void *arg, sio_event_t *ev)
{
    struct pending *p = arg;
    buf_t text = BUF_INIT, payload = BUF_INIT, chan = BUF_INIT;
    json_t *args = NULL, *first = NULL;
    int rc = buf_append_byte(&text, '[');
    if (!rc) rc = buf_append_span(&text, ev->args);
    if (!rc) rc = buf_append_byte(&text, ']');
    if (!rc) rc = rs_json_parse(buf_span(&text), NULL, &args);
    if (!rc) first = json_array_size(args) ? json_array_get(args, 0) : NULL;
    json_t *msg = rc ? NULL : json_object();
    if (msg) {
        json_object_set_new(msg, "type", json_integer(REQ_BROADCAST_ACK));
        json_object_set(msg, "requestId", p->request_id ? p->request_id : json_null());
        json_object_set(msg, "packet", first ? first : json_null());
        rc = wire_pack_json(&payload, msg, ev->packet ? ev->packet->binaries : NULL,
                            ev->packet ? ev->packet->nbinaries : 0);
        json_decref(msg);
    }
    if (!rc) rc = channel_for(&chan, p->a, "-response", p->nsp);
    if (!rc && enqueue(p->a, &chan, &payload) == 0) STAT(p->a, responses, 1);
    json_decref(args);
    buf_free(&text);
    buf_free(&payload);
    buf_free(&chan);
}

static void ack_release(void *arg)
{
    pending_free(arg);
}

static const sio_remote_ack_ops_t ack_ops = {ack_count, ack_answer, ack_release};

static void handle_broadcast_request(redis_adapter_t *a, const char *nsp, json_t *req,
                                     rbuf_t **bins, int nbins)
{
    json_t *packet = json_object_get(req, "packet"), *opts = json_object_get(req, "opts");
    json_t *data = json_object_get(packet, "data");
    const char *event = json_string_value(json_array_get(data, 0));
    if (!event || !json_object_get(req, "requestId")) return;
    buf_t args = BUF_INIT;
    for (size_t i = 1; i < json_array_size(data); i++) {
        if (i > 1 && buf_append_byte(&args, ',')) goto out;
        if (rs_json_append(&args, json_array_get(data, i))) goto out;
    }
    struct selector *sel = malloc(sizeof *sel);
    if (!sel) goto out;
    selector_from(sel, opts);
    json_t *flags = json_object_get(opts, "flags");
    sel->b.is_volatile = json_is_true(json_object_get(flags, "volatile"));
    json_t *timeout = json_object_get(flags, "timeout");
    uint32_t wait = DEFAULT_ACK_WAIT;
    if (json_is_number(timeout) && json_number_value(timeout) > 0 &&
        json_number_value(timeout) < 3600000)
        wait = (uint32_t)json_number_value(timeout);
    struct pending *p = pending_new(a, REQ_BROADCAST, nsp, json_object_get(req, "requestId"));
    if (p && sio_broadcast_remote_ack(a->sio, nsp, &sel->b, span_cstr(event), buf_span(&args), bins,
                                      nbins, wait, &ack_ops, p))
        pending_free(p);
    free(sel);
out:
    buf_free(&args);
}

static void handle_request(redis_adapter_t *a, const char *nsp, span_t msg)
{
    json_t *req = NULL;
    rbuf_t *bins[SIO_MAX_ATTACHMENTS];
    int nbins = 0;
    int rc = wire_request_decode(msg, &req, bins, &nbins);
    if (rc) {
        STAT(a, malformed, 1);
        LOG_DEBUG("cluster", "ignoring a malformed request on %s: %s", nsp, rs_strerror(rc));
        return;
    }
    STAT(a, requests, 1);
    const char *uid = json_string_value(json_object_get(req, "uid"));
    if (uid && !strcmp(uid, a->uid)) goto done; /* our own */
    json_t *type = json_object_get(req, "type"), *rid = json_object_get(req, "requestId");
    json_t *opts = json_object_get(req, "opts");
    if (!json_is_integer(type)) goto done;
    struct selector *sel = malloc(sizeof *sel);
    if (!sel) goto done;
    selector_from(sel, opts);
    int t = (int)json_integer_value(type);
    switch (t) {
    case REQ_SOCKETS: {
        /* {rooms}: every socket when empty */
        selector_from(sel, req);
        sel->b.nexcept = 0;
        if (rid) start_op(a, t, nsp, rid, SIO_REMOTE_FETCH, &sel->b, NULL, 0, false);
        break;
    }
    case REQ_ALL_ROOMS:
        if (rid) start_op(a, t, nsp, rid, SIO_REMOTE_ROOMS, NULL, NULL, 0, false);
        break;
    case REQ_REMOTE_FETCH:
        if (rid) start_op(a, t, nsp, rid, SIO_REMOTE_FETCH, &sel->b, NULL, 0, false);
        break;
    case REQ_REMOTE_JOIN:
    case REQ_REMOTE_LEAVE: {
        sio_remote_op_t op = t == REQ_REMOTE_JOIN ? SIO_REMOTE_JOIN : SIO_REMOTE_LEAVE;
        const char *names[MAX_REQ_NAMES];
        char nums[MAX_REQ_NAMES][32];
        if (opts) {
            size_t n = json_names(json_object_get(req, "rooms"), names, nums, MAX_REQ_NAMES);
            start_op(a, t, nsp, NULL, op, &sel->b, names, n, false);
        } else {
            /* {sid, room, requestId}: one socket by id */
            const char *sid = json_string_value(json_object_get(req, "sid"));
            const char *room = json_string_value(json_object_get(req, "room"));
            if (!sid || !room) break;
            sio_bcast_t one = {.rooms = &sid, .nrooms = 1};
            start_op(a, t, nsp, rid, op, &one, &room, 1, false);
        }
        break;
    }
    case REQ_REMOTE_DISCONNECT: {
        bool close = json_is_true(json_object_get(req, "close"));
        if (opts) {
            start_op(a, t, nsp, NULL, SIO_REMOTE_DISCONNECT, &sel->b, NULL, 0, close);
        } else {
            const char *sid = json_string_value(json_object_get(req, "sid"));
            if (!sid) break;
            sio_bcast_t one = {.rooms = &sid, .nrooms = 1};
            start_op(a, t, nsp, rid, SIO_REMOTE_DISCONNECT, &one, NULL, 0, close);
        }
        break;
    }
    case REQ_SERVER_SIDE_EMIT: {
        json_t *data = json_object_get(req, "data");
        if (!a->on_emit || !json_is_array(data)) break;
        json_t *reply = NULL;
        a->on_emit(a->on_emit_arg, nsp, data, rid ? &reply : NULL);
        if (rid && reply) {
            json_t *resp = json_object();
            json_object_set_new(resp, "type", json_integer(REQ_SERVER_SIDE_EMIT));
            json_object_set(resp, "requestId", rid);
            json_object_set_new(resp, "data", reply);
            if (publish_json(a, "-response", nsp, resp) == 0) STAT(a, responses, 1);
            json_decref(resp);
        } else {
            json_decref(reply);
        }
        break;
    }
    case REQ_BROADCAST:
        handle_broadcast_request(a, nsp, req, bins, nbins);
        break;
    default:
        break; /* responses of other nodes' requests, unknown types */
    }
    free(sel);
done:
    json_decref(req);
    for (int i = 0; i < nbins; i++) rbuf_unref(bins[i]);
}

static void on_message(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    struct rconn *c = ac->data;
    redis_adapter_t *a = c->a;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    redisReply *kind = reply->element[0], *chan = reply->element[1], *msg = reply->element[2];
    if (kind->type != REDIS_REPLY_STRING || strcmp(kind->str, "message")) return;
    if (chan->type != REDIS_REPLY_STRING || msg->type != REDIS_REPLY_STRING) return;
    /* "<prefix>-request#<nsp>#" */
    size_t pl = strlen(a->prefix);
    span_t ch = span_make(chan->str, chan->len);
    if (ch.len < pl + 11 || memcmp(ch.base, a->prefix, pl) ||
        memcmp(ch.base + pl, "-request#", 9) || ch.base[ch.len - 1] != '#')
        return;
    size_t nl = ch.len - pl - 10;
    if (!nl || nl > MAX_NSP_LEN) return;
    char nsp[MAX_NSP_LEN + 1];
    memcpy(nsp, ch.base + pl + 9, nl);
    nsp[nl] = '\0';
    pthread_mutex_lock(&a->deliver_lock);
    if (!a->quiesced) handle_request(a, nsp, span_make(msg->str, msg->len));
    pthread_mutex_unlock(&a->deliver_lock);
}

/* ---- the adapter thread ---- */

static void drain_queue(redis_adapter_t *a)
{
    pthread_mutex_lock(&a->lock);
    struct job *j = a->head;
    a->head = a->tail = NULL;
    a->queued = 0;
    pthread_mutex_unlock(&a->lock);
    struct rconn *c = &a->pub;
    size_t sent = 0, dropped = 0;
    while (j) {
        struct job *next = j->next;
        if (c->state == C_READY && c->ac && sdslen(c->ac->c.obuf) < QUEUE_CAP) {
            redisAsyncCommand(c->ac, NULL, NULL, "PUBLISH %b %b", j->channel.base, j->channel.len,
                              j->payload.base ? j->payload.base : "", j->payload.len);
            sent++;
        } else {
            dropped++;
        }
        buf_free(&j->channel);
        buf_free(&j->payload);
        free(j);
        j = next;
    }
    if (sent) STAT(a, published, sent);
    if (dropped) {
        STAT(a, publish_dropped, dropped);
        __atomic_add_fetch(&a->dropped_in_outage, dropped, __ATOMIC_RELAXED);
    }
    /* Write now rather than after an EPOLLOUT round trip; hiredis asks for writability only
     * if the socket did not take everything. */
    if (sent && c->ac) redisAsyncHandleWrite(c->ac);
}

static void *adapter_main(void *arg)
{
    redis_adapter_t *a = arg;
    struct rconn *conns[2] = {&a->pub, &a->sub};
    while (!__atomic_load_n(&a->stopping, __ATOMIC_ACQUIRE)) {
        uint64_t now = now_ms();
        int timeout = 1000;
        for (int i = 0; i < 2; i++) {
            struct rconn *c = conns[i];
            if (c->state == C_DOWN && now >= c->retry_at) rconn_open(c);
            /* The subscriber counts as connecting until its subscriptions are confirmed. */
            if (c->state == C_CONNECTING && c->ac && now >= c->deadline)
                rconn_close(c, "connect timeout");
            uint64_t at = c->state == C_DOWN         ? c->retry_at
                          : c->state == C_CONNECTING ? c->deadline
                                                     : 0;
            if (at) {
                int left = at > now ? (int)(at - now) : 0;
                if (left < timeout) timeout = left;
            }
        }
        drain_queue(a);
        if (a->sub.state == C_READY) subscribe_requests(a);
        if (a->sub.ac && sdslen(a->sub.ac->c.obuf)) redisAsyncHandleWrite(a->sub.ac);
        for (int i = 0; i < 2; i++) apply_interest(conns[i]);
        struct epoll_event evs[8];
        int n = epoll_wait(a->epfd, evs, 8, timeout);
        if (n < 0 && errno != EINTR) {
            LOG_ERROR("cluster", "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr) {
                uint64_t v;
                ssize_t got = read(a->evfd, &v, sizeof v);
                (void)got;
                continue;
            }
            struct rconn *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            /* Each call may free the context (its callbacks then clear c->ac). */
            if (c->ac && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) redisAsyncHandleWrite(c->ac);
            if (c->ac && (e & (EPOLLIN | EPOLLERR | EPOLLHUP))) redisAsyncHandleRead(c->ac);
        }
    }
    /* What the workers published while they shut down goes out, within a bound. */
    drain_queue(a);
    for (uint64_t until = now_ms() + 500;
         a->pub.ac && sdslen(a->pub.ac->c.obuf) && now_ms() < until;) {
        struct pollfd pfd = {.fd = a->pub.fd, .events = POLLOUT};
        if (poll(&pfd, 1, 50) > 0 && a->pub.ac) redisAsyncHandleWrite(a->pub.ac);
    }
    for (int i = 0; i < 2; i++) {
        struct rconn *c = conns[i];
        if (c->ac) redisAsyncFree(c->ac);
        c->ac = NULL;
    }
    return NULL;
}

/* ---- public ---- */

static void make_uid(char out[13])
{
    unsigned char rnd[6];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
        if (n > 0) got += (size_t)n;
    }
    for (int i = 0; i < 6; i++) snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

static void adapter_destroy(redis_adapter_t *a)
{
    while (a->head) {
        struct job *j = a->head;
        a->head = j->next;
        buf_free(&j->channel);
        buf_free(&j->payload);
        free(j);
    }
    for (size_t i = 0; i < a->nnsps; i++) free(a->nsps[i]);
    free(a->nsps);
    if (a->epfd >= 0) close(a->epfd);
    if (a->evfd >= 0) close(a->evfd);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->deliver_lock);
    pthread_cond_destroy(&a->ready_cv);
    free(a->host);
    free(a->user);
    free(a->password);
    free(a->prefix);
    free(a);
}

int redis_adapter_start(const redis_adapter_config_t *cfg, redis_adapter_t **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    redis_adapter_t *a = calloc(1, sizeof *a);
    if (!a) return RS_ENOMEM;
    a->epfd = a->evfd = -1;
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->deliver_lock, NULL);
    pthread_cond_init(&a->ready_cv, NULL);
    a->sio = cfg->sio;
    int rc = parse_url(a, cfg->url ? cfg->url : "", err, errlen);
    if (rc) goto fail;
    rc = RS_ENOMEM;
    a->prefix = strdup(cfg->key && *cfg->key ? cfg->key : "socket.io");
    if (!a->prefix) goto fail;
    make_uid(a->uid);
    a->pub = (struct rconn){.a = a, .name = "publisher", .fd = -1, .backoff = BACKOFF_MIN};
    a->sub = (struct rconn){.a = a, .name = "subscriber", .fd = -1, .backoff = BACKOFF_MIN};
    rc = RS_EIO;
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    a->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->epfd < 0 || a->evfd < 0) {
        snprintf(err, errlen, "adapter: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->evfd, &ev)) goto fail;
    /* The namespaces that exist now are reported at once; later ones as they are created. */
    sio_set_adapter(a->sio, &adapter_ops, a);
    if (pthread_create(&a->thread, NULL, adapter_main, a)) {
        sio_set_adapter(a->sio, NULL, NULL);
        snprintf(err, errlen, "adapter: cannot start its thread");
        goto fail;
    }
    a->thread_started = true;
    /* Start clustered in the normal case: wait for both connections a little. */
    uint32_t wait = cfg->wait_ms ? cfg->wait_ms : 3000;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait / 1000;
    until.tv_nsec += (long)(wait % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&a->lock);
    while (!(__atomic_load_n(&a->pub_ready, __ATOMIC_ACQUIRE) &&
             __atomic_load_n(&a->sub_ready, __ATOMIC_ACQUIRE)))
        if (pthread_cond_timedwait(&a->ready_cv, &a->lock, &until)) break;
    bool up = __atomic_load_n(&a->pub_ready, __ATOMIC_ACQUIRE) &&
              __atomic_load_n(&a->sub_ready, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&a->lock);
    if (!up)
        LOG_WARN("cluster", "redis %s:%d not reachable yet; running alone until it is (retrying)",
                 a->host, a->port);
    *out = a;
    return 0;
fail:
    adapter_destroy(a);
    return rc;
}

void redis_adapter_stop(redis_adapter_t *a)
{
    if (!a) return;
    /* Once the lock is ours no delivery is in progress, and none starts after. */
    pthread_mutex_lock(&a->deliver_lock);
    a->quiesced = true;
    pthread_mutex_unlock(&a->deliver_lock);
}

void redis_adapter_free(redis_adapter_t *a)
{
    if (!a) return;
    redis_adapter_stop(a);
    __atomic_store_n(&a->stopping, 1, __ATOMIC_RELEASE);
    if (a->thread_started) {
        wake(a);
        pthread_join(a->thread, NULL);
        a->thread_started = false;
    }
    __atomic_store_n(&a->stopped, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&a->pub_ready, 0, __ATOMIC_RELEASE);
    sio_set_adapter(a->sio, NULL, NULL);
    redis_adapter_stats_t st;
    redis_adapter_get_stats(a, &st);
    LOG_INFO("cluster",
             "adapter stopped: %llu published, %llu dropped, %llu received, %llu delivered",
             (unsigned long long)st.published, (unsigned long long)st.publish_dropped,
             (unsigned long long)st.received, (unsigned long long)st.delivered);
    adapter_destroy(a);
}

const char *redis_adapter_uid(const redis_adapter_t *a)
{
    return a->uid;
}

void redis_adapter_on_server_side_emit(redis_adapter_t *a, redis_adapter_emit_fn fn, void *arg)
{
    a->on_emit = fn;
    a->on_emit_arg = arg;
}

int redis_adapter_server_side_emit(redis_adapter_t *a, const char *nsp, const json_t *data)
{
    if (!__atomic_load_n(&a->pub_ready, __ATOMIC_ACQUIRE)) return RS_EUNAVAIL;
    json_t *req = json_object();
    if (!req) return RS_ENOMEM;
    json_object_set_new(req, "uid", json_string(a->uid));
    json_object_set_new(req, "type", json_integer(REQ_SERVER_SIDE_EMIT));
    json_object_set(req, "data", (json_t *)data);
    int rc = publish_json(a, "-request", nsp, req);
    json_decref(req);
    return rc;
}

void redis_adapter_get_stats(const redis_adapter_t *a, redis_adapter_stats_t *out)
{
#define L(f) out->f = __atomic_load_n(&a->stats.f, __ATOMIC_RELAXED)
    L(published);
    L(publish_dropped);
    L(received);
    L(received_own);
    L(delivered);
    L(malformed);
    L(requests);
    L(responses);
    L(reconnects);
#undef L
}
