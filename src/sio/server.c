/* server.c - Socket.IO v5 on Engine.IO sessions: clients, namespaces, sockets, rooms, acks,
 * and broadcasts encoded once and shared by every recipient on every worker. */
#include "sio/server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sio/recovery.h"
#include "util/base64.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"
#include "util/map.h"

#define SOCKET_ID_BYTES 15
#define SOCKET_ID_LEN 20

static sio_stats_t stats;
#define STAT_ADD(f, n) __atomic_add_fetch(&stats.f, (n), __ATOMIC_RELAXED)

struct handler {
    sio_event_fn fn;
    void *arg;
};

struct hook {
    void *fn;
    void *arg;
};

struct hooks {
    struct hook *v;
    size_t n;
};

struct room {
    char *name;
    sio_socket_t **m;
    uint32_t n, cap;
};

/* Per-worker state of a namespace. */
struct nsp_loop {
    map_t rooms;            /* name -> struct room */
    map_t by_id;            /* socket id -> socket */
    sio_socket_t **sockets; /* every connected socket, for namespace-wide broadcasts */
    uint32_t nsockets, cap;
    uint32_t gen;           /* broadcast generation, for de-duplication */
};

struct sio_nsp {
    sio_server_t *srv;
    char *name;
    struct hooks middleware, on_connect, on_disconnect;
    map_t handlers;         /* event name -> struct handler (read-only once loops run) */
    struct handler any;
    struct nsp_loop *per;   /* one per worker */
    sio_recovery_t *recovery;
};

struct dyn {
    bool (*match)(span_t, void *);
    void (*setup)(sio_nsp_t *, void *);
    void *arg;
};

struct sio_server {
    sio_config_t cfg;
    loop_t *const *loops;
    int nloops;
    pthread_mutex_t nsp_lock; /* guards nsps during dynamic creation */
    sio_nsp_t **nsps;         /* read without the lock by workers and the adapter thread */
    size_t nnsps, nsps_cap;
    sio_nsp_t ***retired;     /* outgrown arrays, kept until the server is freed (readers) */
    size_t nretired;
    struct dyn *dyns;
    size_t ndyns;
    sio_adapter_ops_t adapter; /* cluster adapter hooks (zero: none) */
    void *adapter_ctx;
};

/* One Engine.IO session's Socket.IO side. */
/* 56 bytes, a 64-byte malloc chunk: the server is the session's callback arg, and "closed"
 * needs no flag since the client is freed in the session's on_close. */
typedef struct sio_client {
    eio_session_t *eio;
    sio_decoder_t dec;
    sio_socket_t *sockets; /* connected namespaces */
    loop_timer_t connect_timer;
} sio_client_t;

struct membership {
    struct room *room;
    uint32_t idx;
};

struct pending_ack {
    int64_t id;
    sio_ack_fn cb;
    void *arg;
    sio_socket_t *s;
    loop_timer_t timer;
    struct pending_ack *next;
};

/* Ordered without holes: one socket per connection, so every 16 bytes is a malloc class. */
struct sio_socket {
    sio_nsp_t *nsp;
    sio_client_t *client;
    sio_socket_t *next_in_client;
    struct membership *rooms;
    int64_t next_ack_id;
    struct pending_ack *acks;
    json_t *auth;
    void *data;
    void (*data_free)(void *);
    char *pid;               /* recovery: private session id */
    int64_t issued_ms;       /* wall-clock connect time, for the adapter's fetchSockets */
    uint32_t refs;
    uint32_t nsp_idx;        /* position in nsp_loop.sockets */
    uint32_t sent_gen, except_gen;
    uint16_t nrooms, rooms_cap;
    uint8_t connected;
    char id[SOCKET_ID_LEN + 1];
};

void sio_get_stats(sio_stats_t *out)
{
#define L(f) out->f = __atomic_load_n(&stats.f, __ATOMIC_RELAXED)
    L(connects);
    L(disconnects);
    L(events_in);
    L(events_out);
    L(broadcasts);
    L(broadcast_deliveries);
    L(volatile_dropped);
    L(connect_errors);
    L(parse_errors);
#undef L
}

/* ---- server and namespaces ---- */

sio_server_t *sio_server_new(const sio_config_t *cfg, loop_t *const *loops, int nloops)
{
    sio_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->cfg = *cfg;
    if (!srv->cfg.connect_timeout_ms) srv->cfg.connect_timeout_ms = 45000;
    if (!srv->cfg.ack_timeout_default_ms) srv->cfg.ack_timeout_default_ms = 10000;
    if (!srv->cfg.max_disconnection_ms) srv->cfg.max_disconnection_ms = 120000;
    if (!srv->cfg.max_output_volatile) srv->cfg.max_output_volatile = 64 * 1024;
    srv->loops = loops;
    srv->nloops = nloops;
    pthread_mutex_init(&srv->nsp_lock, NULL);
    return srv;
}

static void nsp_free(sio_nsp_t *n)
{
    free(n->name);
    free(n->middleware.v);
    free(n->on_connect.v);
    free(n->on_disconnect.v);
    map_entry_t *e;
    for (size_t i = 0; map_next(&n->handlers, &i, &e);) free(e->value);
    map_free(&n->handlers);
    for (int i = 0; i < n->srv->nloops; i++) {
        map_free(&n->per[i].rooms);
        map_free(&n->per[i].by_id);
        free(n->per[i].sockets);
    }
    free(n->per);
    sio_recovery_free(n->recovery);
    free(n);
}

void sio_server_free(sio_server_t *srv)
{
    if (!srv) return;
    for (size_t i = 0; i < srv->nnsps; i++) nsp_free(srv->nsps[i]);
    free(srv->nsps);
    for (size_t i = 0; i < srv->nretired; i++) free(srv->retired[i]);
    free(srv->retired);
    free(srv->dyns);
    pthread_mutex_destroy(&srv->nsp_lock);
    free(srv);
}

static sio_nsp_t *nsp_new(sio_server_t *srv, span_t name)
{
    sio_nsp_t *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->srv = srv;
    n->name = strndup(name.base, name.len);
    n->per = calloc((size_t)srv->nloops, sizeof *n->per);
    if (srv->cfg.recovery) n->recovery = sio_recovery_new(srv->cfg.max_disconnection_ms);
    if (!n->name || !n->per || (srv->cfg.recovery && !n->recovery)) {
        free(n->name);
        free(n->per);
        sio_recovery_free(n->recovery);
        free(n);
        return NULL;
    }
    sio_nsp_t **v = srv->nsps;
    if (srv->nnsps == srv->nsps_cap) {
        /* Never realloc: another thread may be walking the old array right now. It is kept
         * (retired) and the new one published before the count that covers it. */
        size_t cap = srv->nsps_cap ? srv->nsps_cap * 2 : 8;
        sio_nsp_t ***r = realloc(srv->retired, (srv->nretired + 1) * sizeof *r);
        if (r) srv->retired = r;
        v = r ? malloc(cap * sizeof *v) : NULL;
        if (!v) {
            nsp_free(n);
            return NULL;
        }
        if (srv->nnsps) memcpy(v, srv->nsps, srv->nnsps * sizeof *v);
        if (srv->nsps) srv->retired[srv->nretired++] = srv->nsps;
        srv->nsps_cap = cap;
        __atomic_store_n(&srv->nsps, v, __ATOMIC_RELEASE);
    }
    /* Publish the namespace only once it is fully built: other workers read the array
     * without the lock (the count is written last, with release order). */
    v[srv->nnsps] = n;
    __atomic_store_n(&srv->nnsps, srv->nnsps + 1, __ATOMIC_RELEASE);
    if (srv->adapter.nsp_created) srv->adapter.nsp_created(srv->adapter_ctx, n->name);
    return n;
}

static sio_nsp_t *nsp_find(sio_server_t *srv, span_t name)
{
    size_t n = __atomic_load_n(&srv->nnsps, __ATOMIC_ACQUIRE);
    sio_nsp_t **v = __atomic_load_n(&srv->nsps, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < n; i++)
        if (span_eq_cstr(name, v[i]->name)) return v[i];
    return NULL;
}

sio_nsp_t *sio_of(sio_server_t *srv, const char *name)
{
    sio_nsp_t *n = nsp_find(srv, span_cstr(name));
    if (n) return n;
    pthread_mutex_lock(&srv->nsp_lock);
    n = nsp_find(srv, span_cstr(name));
    if (!n) n = nsp_new(srv, span_cstr(name));
    pthread_mutex_unlock(&srv->nsp_lock);
    return n;
}

int sio_dynamic(sio_server_t *srv, bool (*match)(span_t, void *), void (*setup)(sio_nsp_t *, void *),
                void *arg)
{
    struct dyn *d = realloc(srv->dyns, (srv->ndyns + 1) * sizeof *d);
    if (!d) return RS_ENOMEM;
    srv->dyns = d;
    d[srv->ndyns++] = (struct dyn){match, setup, arg};
    return 0;
}

/* The namespace a CONNECT names: static, or created from a dynamic pattern. */
static sio_nsp_t *nsp_for_connect(sio_server_t *srv, span_t name)
{
    sio_nsp_t *n = nsp_find(srv, name);
    if (n || !srv->ndyns || name.len > 256) return n;
    for (size_t i = 0; i < srv->ndyns; i++) {
        if (!srv->dyns[i].match(name, srv->dyns[i].arg)) continue;
        pthread_mutex_lock(&srv->nsp_lock);
        n = nsp_find(srv, name);
        if (!n) {
            n = nsp_new(srv, name);
            /* setup runs under the lock so no other worker sees a half-configured namespace. */
            if (n) srv->dyns[i].setup(n, srv->dyns[i].arg);
        }
        pthread_mutex_unlock(&srv->nsp_lock);
        return n;
    }
    return NULL;
}

const char *sio_nsp_name(const sio_nsp_t *nsp)
{
    return nsp->name;
}

static int hook_add(struct hooks *h, void *fn, void *arg)
{
    struct hook *v = realloc(h->v, (h->n + 1) * sizeof *v);
    if (!v) return RS_ENOMEM;
    h->v = v;
    v[h->n++] = (struct hook){fn, arg};
    return 0;
}

int sio_use(sio_nsp_t *nsp, sio_middleware_fn fn, void *arg)
{
    return hook_add(&nsp->middleware, (void *)fn, arg);
}
int sio_on_connection(sio_nsp_t *nsp, sio_socket_fn fn, void *arg)
{
    return hook_add(&nsp->on_connect, (void *)fn, arg);
}
int sio_on_disconnect(sio_nsp_t *nsp, sio_disconnect_fn fn, void *arg)
{
    return hook_add(&nsp->on_disconnect, (void *)fn, arg);
}

int sio_on(sio_nsp_t *nsp, const char *event, sio_event_fn fn, void *arg)
{
    if (strcmp(event, "*") == 0) {
        nsp->any = (struct handler){fn, arg};
        return 0;
    }
    struct handler *h = malloc(sizeof *h);
    if (!h) return RS_ENOMEM;
    *h = (struct handler){fn, arg};
    free(map_get(&nsp->handlers, span_cstr(event)));
    return map_put(&nsp->handlers, span_cstr(event), h);
}

void sio_loop_counts(sio_server_t *srv, loop_t *l, size_t *sockets, size_t *rooms)
{
    *sockets = *rooms = 0;
    size_t n = __atomic_load_n(&srv->nnsps, __ATOMIC_ACQUIRE);
    sio_nsp_t **v = __atomic_load_n(&srv->nsps, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < n; i++) {
        struct nsp_loop *pl = &v[i]->per[loop_index(l)];
        *sockets += pl->nsockets;
        *rooms += pl->rooms.len;
    }
}

/* ---- socket accessors ---- */

const char *sio_socket_id(const sio_socket_t *s)
{
    return s->id;
}
sio_nsp_t *sio_socket_nsp(const sio_socket_t *s)
{
    return s->nsp;
}
eio_session_t *sio_socket_session(const sio_socket_t *s)
{
    return s->client ? s->client->eio : NULL;
}
bool sio_socket_connected(const sio_socket_t *s)
{
    return s->connected;
}
json_t *sio_socket_auth(const sio_socket_t *s)
{
    return s->auth;
}
void *sio_socket_data(const sio_socket_t *s)
{
    return s->data;
}
void sio_socket_set_data(sio_socket_t *s, void *data, void (*free_fn)(void *))
{
    if (s->data && s->data_free && s->data != data) s->data_free(s->data);
    s->data = data;
    s->data_free = free_fn;
}

sio_socket_t *sio_socket_ref(sio_socket_t *s)
{
    s->refs++;
    return s;
}

void sio_socket_unref(sio_socket_t *s)
{
    if (!s || --s->refs) return;
    if (s->data && s->data_free) s->data_free(s->data);
    json_decref(s->auth);
    free(s->rooms);
    free(s->pid);
    free(s);
}

/* ---- rooms (per worker) ---- */

static struct nsp_loop *nsp_here(const sio_socket_t *s)
{
    return &s->nsp->per[loop_index(eio_loop(s->client->eio))];
}

static struct membership *membership_of(sio_socket_t *s, const struct room *r)
{
    for (uint16_t i = 0; i < s->nrooms; i++)
        if (s->rooms[i].room == r) return &s->rooms[i];
    return NULL;
}

int sio_join(sio_socket_t *s, const char *name)
{
    if (!s->connected) return RS_ECLOSED;
    struct nsp_loop *pl = nsp_here(s);
    span_t key = span_cstr(name);
    struct room *r = map_get(&pl->rooms, key);
    if (r && membership_of(s, r)) return 0;
    if (s->nrooms == UINT16_MAX) return RS_ETOOBIG;
    if (s->nrooms == s->rooms_cap) {
        uint16_t cap = s->rooms_cap ? (uint16_t)(s->rooms_cap * 2) : 2;
        struct membership *m = realloc(s->rooms, cap * sizeof *m);
        if (!m) return RS_ENOMEM;
        s->rooms = m;
        s->rooms_cap = cap;
    }
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r || !(r->name = strdup(name)) || map_put(&pl->rooms, key, r)) {
            if (r) free(r->name);
            free(r);
            return RS_ENOMEM;
        }
    }
    if (r->n == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 4;
        sio_socket_t **m = realloc(r->m, cap * sizeof *m);
        if (!m) {
            if (!r->n) {
                map_del(&pl->rooms, key);
                free(r->name);
                free(r);
            }
            return RS_ENOMEM;
        }
        r->m = m;
        r->cap = cap;
    }
    r->m[r->n] = s;
    s->rooms[s->nrooms++] = (struct membership){r, r->n};
    r->n++;
    return 0;
}

static void room_remove(struct nsp_loop *pl, sio_socket_t *s, uint16_t mi)
{
    struct room *r = s->rooms[mi].room;
    uint32_t idx = s->rooms[mi].idx;
    sio_socket_t *last = r->m[--r->n];
    if (last != s) {
        r->m[idx] = last;
        membership_of(last, r)->idx = idx;
    }
    s->rooms[mi] = s->rooms[--s->nrooms];
    if (!r->n) {
        map_del(&pl->rooms, span_cstr(r->name));
        free(r->name);
        free(r->m);
        free(r);
    }
}

int sio_leave(sio_socket_t *s, const char *name)
{
    if (!s->connected) return RS_ECLOSED;
    struct nsp_loop *pl = nsp_here(s);
    struct room *r = map_get(&pl->rooms, span_cstr(name));
    if (!r) return 0;
    for (uint16_t i = 0; i < s->nrooms; i++)
        if (s->rooms[i].room == r) {
            room_remove(pl, s, i);
            break;
        }
    return 0;
}

bool sio_in_room(const sio_socket_t *s, const char *name)
{
    if (!s->connected) return false;
    if (strcmp(name, s->id) == 0) return true;
    for (uint16_t i = 0; i < s->nrooms; i++)
        if (strcmp(s->rooms[i].room->name, name) == 0) return true;
    return false;
}

/* ---- sending ---- */

static int send_text(sio_socket_t *s, buf_t *pkt, rbuf_t *const *bins, int nbins)
{
    eio_session_t *e = s->client->eio;
    /* pkt holds "4" + the Socket.IO packet. */
    int rc = eio_send(e, pkt->base + 1, pkt->len - 1, false);
    for (int i = 0; i < nbins && !rc; i++) rc = eio_send(e, bins[i]->data, bins[i]->len, true);
    if (!rc) STAT_ADD(events_out, 1);
    return rc;
}

/* Packets to one socket are encoded into one buffer per worker thread: no allocation per
 * emit. A nested use (not expected: sending runs no callbacks) falls back to a local buffer. */
static __thread buf_t scratch;
static __thread int scratch_busy;

static buf_t *scratch_take(buf_t *local)
{
    if (scratch_busy) return local;
    scratch_busy = 1;
    scratch.len = 0;
    return &scratch;
}

static void scratch_give(buf_t *b, buf_t *local)
{
    if (b == local) {
        buf_free(local);
        return;
    }
    scratch_busy = 0;
    if (b->cap > 65536) buf_free(b); /* do not keep a large message's buffer around */
}

void sio_thread_release(void)
{
    buf_free(&scratch);
}

/* A jansson array of arguments as the raw form wants it: the values without the brackets. */
static int args_inner(const json_t *args, buf_t *text, span_t *inner)
{
    int rc = args ? rs_json_append(text, args) : 0;
    if (!rc && args && (text->len < 2 || text->base[0] != '[')) rc = RS_EINVAL;
    *inner = text->len >= 2 ? span_make(text->base + 1, text->len - 2) : SPAN_NULL;
    return rc;
}

int sio_emit_raw(sio_socket_t *s, span_t event, span_t args, rbuf_t *const *binaries, int nbinaries)
{
    if (!s->connected) return RS_ECLOSED;
    if (s->nsp->recovery) {
        /* As the reference does with recovery on: an emit to one socket is a broadcast to its
         * own room, so it is stored with an offset and replayed if the client comes back. */
        const char *room = s->id;
        sio_bcast_t b = {.rooms = &room, .nrooms = 1, .local = true};
        return sio_broadcast_raw(s->nsp, &b, event, args, binaries, nbinaries);
    }
    buf_t local = BUF_INIT, *pkt = scratch_take(&local);
    int rc = buf_append_byte(pkt, '4');
    if (!rc) rc = sio_encode_event_raw(pkt, span_cstr(s->nsp->name), SIO_NO_ACK, event, &args, 1, nbinaries);
    if (!rc) rc = send_text(s, pkt, binaries, nbinaries);
    scratch_give(pkt, &local);
    return rc;
}

int sio_emit(sio_socket_t *s, const char *event, const json_t *args, rbuf_t *const *binaries,
             int nbinaries)
{
    if (!s->connected) return RS_ECLOSED;
    if (s->nsp->recovery) {
        buf_t text = BUF_INIT;
        span_t inner;
        int rc = args_inner(args, &text, &inner);
        if (!rc) rc = sio_emit_raw(s, span_cstr(event), inner, binaries, nbinaries);
        buf_free(&text);
        return rc;
    }
    buf_t local = BUF_INIT, *pkt = scratch_take(&local);
    int rc = buf_append_byte(pkt, '4');
    if (!rc) rc = sio_encode_event(pkt, span_cstr(s->nsp->name), SIO_NO_ACK, span_cstr(event), args, nbinaries);
    if (!rc) rc = send_text(s, pkt, binaries, nbinaries);
    scratch_give(pkt, &local);
    return rc;
}

static void ack_timed_out(loop_timer_t *t)
{
    struct pending_ack *a = (struct pending_ack *)((char *)t - offsetof(struct pending_ack, timer));
    sio_socket_t *s = a->s;
    for (struct pending_ack **pp = &s->acks; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    a->cb(s, RS_ETIMEDOUT, NULL, a->arg);
    free(a);
}

static int emit_ack_raw(sio_socket_t *s, span_t event, span_t args, rbuf_t *const *bins, int nbins,
                        uint32_t timeout_ms, sio_ack_fn cb, void *arg)
{
    if (!s->connected) return RS_ECLOSED;
    struct pending_ack *a = calloc(1, sizeof *a);
    if (!a) return RS_ENOMEM;
    a->id = s->next_ack_id++;
    if (s->next_ack_id > SIO_ACK_ID_MAX) s->next_ack_id = 0;
    a->cb = cb;
    a->arg = arg;
    a->s = s;
    buf_t local = BUF_INIT, *pkt = scratch_take(&local);
    int rc = buf_append_byte(pkt, '4');
    if (!rc) rc = sio_encode_event_raw(pkt, span_cstr(s->nsp->name), a->id, event, &args, 1, nbins);
    if (!rc) rc = send_text(s, pkt, bins, nbins);
    scratch_give(pkt, &local);
    if (rc) {
        free(a);
        return rc;
    }
    a->next = s->acks;
    s->acks = a;
    loop_timer_start(eio_loop(s->client->eio), &a->timer,
                     timeout_ms ? timeout_ms : s->nsp->srv->cfg.ack_timeout_default_ms, ack_timed_out);
    return 0;
}

int sio_emit_ack(sio_socket_t *s, const char *event, const json_t *args, uint32_t timeout_ms,
                 sio_ack_fn cb, void *arg)
{
    buf_t text = BUF_INIT;
    span_t inner;
    int rc = args_inner(args, &text, &inner);
    if (!rc) rc = emit_ack_raw(s, span_cstr(event), inner, NULL, 0, timeout_ms, cb, arg);
    buf_free(&text);
    return rc;
}

int sio_ack_raw(sio_socket_t *s, int64_t ack_id, span_t args, rbuf_t *const *binaries, int nbinaries)
{
    if (!s->connected) return RS_ECLOSED;
    if (ack_id < 0) return RS_EINVAL;
    buf_t local = BUF_INIT, *pkt = scratch_take(&local);
    int rc = buf_append_byte(pkt, '4');
    if (!rc) rc = sio_encode_ack_raw(pkt, span_cstr(s->nsp->name), ack_id, &args, 1, nbinaries);
    if (!rc) rc = send_text(s, pkt, binaries, nbinaries);
    scratch_give(pkt, &local);
    return rc;
}

int sio_ack(sio_socket_t *s, int64_t ack_id, const json_t *args)
{
    if (!s->connected) return RS_ECLOSED;
    if (ack_id < 0) return RS_EINVAL;
    buf_t local = BUF_INIT, *pkt = scratch_take(&local);
    int rc = buf_append_byte(pkt, '4');
    if (!rc) rc = sio_encode_ack(pkt, span_cstr(s->nsp->name), ack_id, args, 0);
    if (!rc) rc = send_text(s, pkt, NULL, 0);
    scratch_give(pkt, &local);
    return rc;
}

/* ---- broadcasts ---- */

struct bcast_msg {
    uint32_t refs; /* atomic */
    sio_nsp_t *nsp;
    char **rooms;
    size_t nrooms;
    char **except;
    size_t nexcept;
    char except_id[SOCKET_ID_LEN + 1];
    bool is_volatile;
    eio_prepared_t text;
    eio_prepared_t bins[SIO_MAX_ATTACHMENTS];
    int nbins;
};

static void bcast_unref(struct bcast_msg *m)
{
    if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL)) return;
    for (size_t i = 0; i < m->nrooms; i++) free(m->rooms[i]);
    for (size_t i = 0; i < m->nexcept; i++) free(m->except[i]);
    free(m->rooms);
    free(m->except);
    eio_prepared_release(&m->text);
    for (int i = 0; i < m->nbins; i++) eio_prepared_release(&m->bins[i]);
    free(m);
}

static void deliver(sio_socket_t *s, const struct bcast_msg *m)
{
    eio_session_t *e = s->client->eio;
    if (m->is_volatile && eio_queued(e) > 0) {
        /* Volatile: a client that cannot take it right now does not get it. */
        STAT_ADD(volatile_dropped, 1);
        return;
    }
    if (eio_send_prepared(e, &m->text)) return;
    for (int i = 0; i < m->nbins; i++) eio_send_prepared(e, &m->bins[i]);
    STAT_ADD(broadcast_deliveries, 1);
}

static void mark_room(struct nsp_loop *pl, const char *name, uint32_t gen, int except)
{
    struct room *r = map_get(&pl->rooms, span_cstr(name));
    if (r) {
        for (uint32_t i = 0; i < r->n; i++) {
            if (except) r->m[i]->except_gen = gen;
        }
        return;
    }
    /* A socket's own id is an implicit room. */
    sio_socket_t *s = map_get(&pl->by_id, span_cstr(name));
    if (s && except) s->except_gen = gen;
}

static void send_if_new(sio_socket_t *s, const struct bcast_msg *m, uint32_t gen)
{
    if (s->sent_gen == gen || s->except_gen == gen || !s->connected) return;
    if (m->except_id[0] && strcmp(s->id, m->except_id) == 0) return;
    s->sent_gen = gen;
    deliver(s, m);
}

static void deliver_local(loop_t *l, struct bcast_msg *m)
{
    struct nsp_loop *pl = &m->nsp->per[loop_index(l)];
    if (!pl->nsockets) return;
    uint32_t gen = ++pl->gen;
    if (gen == 0) gen = ++pl->gen; /* 0 means "never" in the marks */
    for (size_t i = 0; i < m->nexcept; i++) mark_room(pl, m->except[i], gen, 1);
    if (!m->nrooms) {
        for (uint32_t i = 0; i < pl->nsockets; i++) send_if_new(pl->sockets[i], m, gen);
        return;
    }
    for (size_t i = 0; i < m->nrooms; i++) {
        struct room *r = map_get(&pl->rooms, span_cstr(m->rooms[i]));
        if (r) {
            /* Delivery cannot change membership (no callbacks run), so iterate in place. */
            for (uint32_t k = 0; k < r->n; k++) send_if_new(r->m[k], m, gen);
        } else {
            sio_socket_t *s = map_get(&pl->by_id, span_cstr(m->rooms[i]));
            if (s) send_if_new(s, m, gen);
        }
    }
}

static void deliver_posted(void *arg)
{
    struct bcast_msg *m = arg;
    deliver_local(loop_current(), m);
    bcast_unref(m);
}

static char **copy_names(const char *const *names, size_t n)
{
    if (!n) return NULL;
    char **v = calloc(n, sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = strdup(names[i]))) {
            while (i--) free(v[i]);
            free(v);
            return NULL;
        }
    return v;
}

int sio_broadcast_raw(sio_nsp_t *nsp, const sio_bcast_t *b, span_t event, span_t args,
                      rbuf_t *const *binaries, int nbinaries)
{
    if (nbinaries < 0 || nbinaries > SIO_MAX_ATTACHMENTS) return RS_EINVAL;
    struct bcast_msg *m = calloc(1, sizeof *m);
    if (!m) return RS_ENOMEM;
    m->refs = 1;
    m->nsp = nsp;
    m->is_volatile = b && b->is_volatile;
    int rc = 0;
    if (b && b->nrooms && !(m->rooms = copy_names(b->rooms, b->nrooms))) rc = RS_ENOMEM;
    else if (b) m->nrooms = b->nrooms;
    if (!rc && b && b->nexcept && !(m->except = copy_names(b->except, b->nexcept))) rc = RS_ENOMEM;
    else if (!rc && b) m->nexcept = b->nexcept;
    if (!rc && b && b->except_socket) snprintf(m->except_id, sizeof m->except_id, "%s", b->except_socket->id);
    buf_t pkt = BUF_INIT;
    if (!rc) rc = buf_append_byte(&pkt, '4');
    /* Recovery: stored broadcasts carry an offset as their last argument. */
    char offset[32] = "";
    if (!rc && nsp->recovery && !m->is_volatile)
        sio_recovery_next_offset(nsp->recovery, offset, sizeof offset);
    if (!rc) {
        span_t frags[2] = {args, SPAN_NULL};
        char quoted[40];
        size_t nf = 1;
        if (offset[0]) {
            int n = snprintf(quoted, sizeof quoted, "\"%s\"", offset);
            frags[1] = span_make(quoted, (size_t)n);
            nf = 2;
        }
        rc = sio_encode_event_raw(&pkt, span_cstr(nsp->name), SIO_NO_ACK, event, frags, nf, nbinaries);
    }
    if (!rc) {
        rbuf_t *text = rbuf_new(pkt.base, pkt.len);
        if (!text || eio_prepared_init(&m->text, text, false)) rc = RS_ENOMEM;
        rbuf_unref(text);
    }
    buf_free(&pkt);
    for (int i = 0; i < nbinaries && !rc; i++) {
        if (eio_prepared_init(&m->bins[i], binaries[i], true)) rc = RS_ENOMEM;
        else m->nbins++;
    }
    if (rc) {
        bcast_unref(m);
        return rc;
    }
    if (offset[0])
        sio_recovery_store(nsp->recovery, offset, &m->text, (const char *const *)m->rooms, m->nrooms,
                           (const char *const *)m->except, m->nexcept, m->bins, m->nbins);
    STAT_ADD(broadcasts, 1);
    /* Other workers get a reference each, in order after anything posted before. */
    loop_t *here = loop_current();
    for (int i = 0; i < nsp->srv->nloops; i++) {
        loop_t *l = nsp->srv->loops[i];
        if (l == here) continue;
        __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
        if (loop_post(l, deliver_posted, m) < 0) bcast_unref(m);
    }
    if (here) deliver_local(here, m);
    bcast_unref(m);
    /* Other nodes get it after this one delivered (the adapter encodes and queues; no I/O). */
    sio_server_t *srv = nsp->srv;
    if (srv->adapter.publish && !(b && b->local))
        srv->adapter.publish(srv->adapter_ctx, nsp, b, event, args, binaries, nbinaries);
    return 0;
}

int sio_broadcast(sio_nsp_t *nsp, const sio_bcast_t *b, const char *event, const json_t *args)
{
    buf_t text = BUF_INIT;
    span_t inner;
    int rc = args_inner(args, &text, &inner);
    if (!rc) rc = sio_broadcast_raw(nsp, b, span_cstr(event), inner, NULL, 0);
    buf_free(&text);
    return rc;
}

/* ---- connecting and disconnecting sockets ---- */

static void make_id(char out[SOCKET_ID_LEN + 1])
{
    unsigned char rnd[SOCKET_ID_BYTES];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
        if (n > 0) got += (size_t)n;
    }
    base64url_encode(rnd, sizeof rnd, out);
    out[SOCKET_ID_LEN] = '\0';
}

static int nsp_add_socket(struct nsp_loop *pl, sio_socket_t *s)
{
    if (pl->nsockets == pl->cap) {
        uint32_t cap = pl->cap ? pl->cap * 2 : 16;
        sio_socket_t **v = realloc(pl->sockets, cap * sizeof *v);
        if (!v) return RS_ENOMEM;
        pl->sockets = v;
        pl->cap = cap;
    }
    if (map_put_borrowed(&pl->by_id, span_cstr(s->id), s)) return RS_ENOMEM;
    s->nsp_idx = pl->nsockets;
    pl->sockets[pl->nsockets++] = s;
    return 0;
}

static void nsp_remove_socket(struct nsp_loop *pl, sio_socket_t *s)
{
    map_del(&pl->by_id, span_cstr(s->id));
    sio_socket_t *last = pl->sockets[--pl->nsockets];
    pl->sockets[s->nsp_idx] = last;
    last->nsp_idx = s->nsp_idx;
    if (!pl->nsockets) {
        free(pl->sockets);
        pl->sockets = NULL;
        pl->cap = 0;
    }
}

static void client_unlink_socket(sio_client_t *c, sio_socket_t *s)
{
    for (sio_socket_t **pp = &c->sockets; *pp; pp = &(*pp)->next_in_client)
        if (*pp == s) {
            *pp = s->next_in_client;
            break;
        }
    s->next_in_client = NULL;
}

static bool recoverable(const char *reason)
{
    return strcmp(reason, "transport close") == 0 || strcmp(reason, "transport error") == 0 ||
           strcmp(reason, "ping timeout") == 0 || strcmp(reason, "server shutting down") == 0;
}

static void socket_disconnect(sio_socket_t *s, const char *reason)
{
    if (!s->connected) return;
    struct nsp_loop *pl = nsp_here(s);
    if (s->nsp->recovery && s->pid && recoverable(reason)) {
        /* Keep what a reconnecting client needs: id, rooms; missed packets are in the store. */
        const char *names[256];
        size_t n = 0;
        for (uint16_t i = 0; i < s->nrooms && n < 256; i++) names[n++] = s->rooms[i].room->name;
        sio_recovery_persist(s->nsp->recovery, s->pid, s->id, names, n);
    }
    s->connected = 0;
    while (s->nrooms) room_remove(pl, s, (uint16_t)(s->nrooms - 1));
    nsp_remove_socket(pl, s);
    client_unlink_socket(s->client, s);
    /* Pending acks fail now: their callers may be waiting on a timer otherwise. */
    while (s->acks) {
        struct pending_ack *a = s->acks;
        s->acks = a->next;
        loop_timer_stop(eio_loop(s->client->eio), &a->timer);
        a->cb(s, RS_ECLOSED, NULL, a->arg);
        free(a);
    }
    STAT_ADD(disconnects, 1);
    for (size_t i = 0; i < s->nsp->on_disconnect.n; i++)
        ((sio_disconnect_fn)s->nsp->on_disconnect.v[i].fn)(s, reason, s->nsp->on_disconnect.v[i].arg);
    sio_socket_unref(s);
}

static void send_raw_packet(sio_client_t *c, buf_t *pkt)
{
    eio_send(c->eio, pkt->base, pkt->len, false);
}

void sio_disconnect(sio_socket_t *s, bool close_all)
{
    if (!s->connected) return;
    sio_client_t *c = s->client;
    buf_t pkt = BUF_INIT;
    if (!sio_encode_disconnect(&pkt, span_cstr(s->nsp->name))) send_raw_packet(c, &pkt);
    buf_free(&pkt);
    socket_disconnect(s, "server namespace disconnect");
    if (close_all) eio_close(c->eio);
}

static void connect_error(sio_client_t *c, span_t nsp, const char *message, json_t *data)
{
    buf_t pkt = BUF_INIT;
    if (!sio_encode_connect_error(&pkt, nsp, span_cstr(message), data)) send_raw_packet(c, &pkt);
    buf_free(&pkt);
    STAT_ADD(connect_errors, 1);
}

static void client_close(sio_client_t *c, const char *why)
{
    LOG_DEBUG("sio", "closing client %s: %s", eio_sid(c->eio), why);
    /* on_close (below) disconnects the sockets; during that, this is a no-op. */
    eio_close(c->eio);
}

static void handle_connect(sio_client_t *c, sio_packet_t *p)
{
    sio_server_t *srv = eio_server_arg(c->eio);
    for (sio_socket_t *s = c->sockets; s; s = s->next_in_client)
        if (span_eq_cstr(p->nsp, s->nsp->name)) {
            /* A second CONNECT to a joined namespace: the reference closes the client. */
            client_close(c, "duplicate connect");
            return;
        }
    sio_nsp_t *nsp = nsp_for_connect(srv, p->nsp);
    if (!nsp) {
        connect_error(c, p->nsp, "Invalid namespace", NULL);
        return;
    }
    json_t *auth = NULL;
    if (sio_packet_data(p, &auth) < 0) {
        client_close(c, "bad connect payload");
        return;
    }
    sio_socket_t *s = calloc(1, sizeof *s);
    if (!s) {
        connect_error(c, p->nsp, "Internal server error", NULL);
        return;
    }
    s->nsp = nsp;
    s->client = c;
    s->refs = 1;
    s->auth = auth ? json_incref(auth) : NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    s->issued_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;

    /* Recovery: a known pid within the window gets its id and rooms back, and the packets it
     * missed are replayed before the CONNECT answer. */
    sio_recovered_t rec = {0};
    bool restored = false;
    if (nsp->recovery && auth && json_is_object(auth)) {
        const char *pid = json_string_value(json_object_get(auth, "pid"));
        const char *offset = json_string_value(json_object_get(auth, "offset"));
        if (pid && offset && sio_recovery_restore(nsp->recovery, pid, offset, &rec) == 0) restored = true;
    }
    if (restored) {
        snprintf(s->id, sizeof s->id, "%.*s", SOCKET_ID_LEN, rec.sid);
        s->pid = rec.pid;
        rec.pid = NULL;
    } else {
        make_id(s->id);
        if (nsp->recovery) {
            char pid[SOCKET_ID_LEN + 1];
            make_id(pid);
            s->pid = strdup(pid);
        }
    }
    for (size_t i = 0; i < nsp->middleware.n; i++) {
        const char *message = NULL;
        json_t *data = NULL;
        int rc = ((sio_middleware_fn)nsp->middleware.v[i].fn)(s, auth, &message, &data, nsp->middleware.v[i].arg);
        if (rc < 0) {
            connect_error(c, p->nsp, message ? message : "unauthorized", data);
            json_decref(data);
            sio_recovered_release(&rec);
            sio_socket_unref(s);
            return;
        }
    }
    struct nsp_loop *pl = &nsp->per[loop_index(eio_loop(c->eio))];
    if (nsp_add_socket(pl, s)) {
        connect_error(c, p->nsp, "Internal server error", NULL);
        sio_recovered_release(&rec);
        sio_socket_unref(s);
        return;
    }
    s->connected = 1;
    s->next_in_client = c->sockets;
    c->sockets = s;
    loop_timer_stop(eio_loop(c->eio), &c->connect_timer);
    if (restored) {
        for (size_t i = 0; i < rec.nrooms; i++) sio_join(s, rec.rooms[i]);
        for (size_t i = 0; i < rec.npackets; i++) {
            eio_send_prepared(c->eio, &rec.packets[i].text);
            for (int k = 0; k < rec.packets[i].nbins; k++) eio_send_prepared(c->eio, &rec.packets[i].bins[k]);
        }
    }
    sio_recovered_release(&rec);
    buf_t pkt = BUF_INIT;
    int rc = sio_encode_connect(&pkt, p->nsp, span_cstr(s->id), s->pid ? span_cstr(s->pid) : SPAN_NULL);
    if (!rc) send_raw_packet(c, &pkt);
    buf_free(&pkt);
    STAT_ADD(connects, 1);
    for (size_t i = 0; i < nsp->on_connect.n && s->connected; i++)
        ((sio_socket_fn)nsp->on_connect.v[i].fn)(s, nsp->on_connect.v[i].arg);
}

static sio_socket_t *client_socket(sio_client_t *c, span_t nsp)
{
    for (sio_socket_t *s = c->sockets; s; s = s->next_in_client)
        if (span_eq_cstr(nsp, s->nsp->name)) return s;
    return NULL;
}

static void handle_event(sio_socket_t *s, sio_packet_t *p)
{
    sio_event_t ev = {p->event, p->args, p->nargs, p->ack_id, p};
    STAT_ADD(events_in, 1);
    const struct handler *h = NULL;
    if (!p->event_is_number) h = map_get(&s->nsp->handlers, p->event);
    if (!h && s->nsp->any.fn) h = &s->nsp->any;
    if (!h) return;
    sio_socket_ref(s);
    h->fn(s, &ev, h->arg);
    sio_socket_unref(s);
}

static void handle_ack(sio_socket_t *s, sio_packet_t *p)
{
    for (struct pending_ack **pp = &s->acks; *pp; pp = &(*pp)->next) {
        struct pending_ack *a = *pp;
        if (a->id != p->ack_id) continue;
        *pp = a->next;
        loop_timer_stop(eio_loop(s->client->eio), &a->timer);
        sio_event_t ev = {SPAN_NULL, p->args, p->nargs, p->ack_id, p};
        a->cb(s, 0, &ev, a->arg);
        free(a);
        return;
    }
    /* An unknown ack id is ignored, as the reference does. */
}

static void handle_packet(sio_client_t *c, sio_packet_t *p)
{
    if (p->type == SIO_CONNECT) {
        handle_connect(c, p);
        return;
    }
    sio_socket_t *s = client_socket(c, p->nsp);
    if (!s) {
        /* A packet for a namespace the client has not joined closes it (the reference). */
        client_close(c, "packet for a namespace not joined");
        return;
    }
    switch (p->type) {
    case SIO_DISCONNECT:
        socket_disconnect(s, "client namespace disconnect");
        break;
    case SIO_EVENT:
        handle_event(s, p);
        break;
    case SIO_ACK:
        handle_ack(s, p);
        break;
    default:
        client_close(c, "unexpected packet type");
        break;
    }
}

/* ---- Engine.IO callbacks ---- */

static void connect_timed_out(loop_timer_t *t)
{
    sio_client_t *c = (sio_client_t *)((char *)t - offsetof(sio_client_t, connect_timer));
    if (!c->sockets) client_close(c, "connect timeout");
}

static void on_open(eio_session_t *e, void *arg)
{
    sio_server_t *srv = arg;
    sio_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        eio_close(e);
        return;
    }
    c->eio = e;
    c->dec = SIO_DECODER_INIT;
    c->dec.max_binary_bytes = 16u << 20;
    eio_set_user(e, c);
    loop_timer_start(eio_loop(e), &c->connect_timer, srv->cfg.connect_timeout_ms, connect_timed_out);
}

static void on_message(eio_session_t *e, char *data, size_t len, bool binary, void *arg)
{
    sio_client_t *c = eio_user(e);
    if (!c) return;
    sio_packet_t p;
    sio_packet_init(&p);
    int rc = binary ? sio_decoder_binary(&c->dec, span_make(data, len), &p)
                    : sio_decoder_text(&c->dec, span_make(data, len), &p);
    if (rc < 0) {
        STAT_ADD(parse_errors, 1);
        client_close(c, rc == RS_ETOOBIG ? "attachments too large" : "parse error");
        return;
    }
    if (rc == 1) handle_packet(c, &p);
    sio_packet_clear(&p);
}

static void on_close(eio_session_t *e, const char *reason, void *arg)
{
    sio_client_t *c = eio_user(e);
    if (!c) return;
    loop_timer_stop(eio_loop(e), &c->connect_timer);
    while (c->sockets) socket_disconnect(c->sockets, reason);
    sio_decoder_reset(&c->dec);
    eio_set_user(e, NULL);
    free(c);
}

static const eio_callbacks_t sio_callbacks = {on_open, on_message, on_close};

const eio_callbacks_t *sio_eio_callbacks(void)
{
    return &sio_callbacks;
}

/* ---- cluster adapter ----
 * The adapter runs on its own thread: everything here either only reads what is immutable once
 * the loops run (namespaces are published with release order, handlers are fixed) or posts the
 * work to each worker loop, which alone touches its sockets and rooms. */

void sio_set_adapter(sio_server_t *srv, const sio_adapter_ops_t *ops, void *ctx)
{
    pthread_mutex_lock(&srv->nsp_lock);
    srv->adapter = ops ? *ops : (sio_adapter_ops_t){0};
    srv->adapter_ctx = ctx;
    for (size_t i = 0; i < srv->nnsps && srv->adapter.nsp_created; i++)
        srv->adapter.nsp_created(ctx, srv->nsps[i]->name);
    pthread_mutex_unlock(&srv->nsp_lock);
}

int sio_broadcast_remote(sio_server_t *srv, const char *name, const sio_bcast_t *b, span_t event,
                         span_t args, rbuf_t *const *bins, int nbins)
{
    sio_nsp_t *nsp = nsp_find(srv, span_cstr(name));
    if (!nsp) return RS_ENOTFOUND;
    sio_bcast_t lb = b ? *b : (sio_bcast_t){0};
    lb.local = true; /* never published again */
    lb.except_socket = NULL;
    return sio_broadcast_raw(nsp, &lb, event, args, bins, nbins);
}

enum { JOB_ACK_BROADCAST = 100 };

struct remote_job {
    sio_nsp_t *nsp;
    int op; /* sio_remote_op_t or JOB_ACK_BROADCAST */
    char **rooms, **except, **names;
    size_t nrooms, nexcept, nnames;
    bool close;
    int pending;   /* workers yet to run their part (atomic) */
    uint32_t refs; /* the worker phase + each awaited client ack (atomic) */
    pthread_mutex_t lock;
    json_t *result;
    size_t matched; /* under lock */
    sio_remote_done_fn done;
    void *arg;
    /* JOB_ACK_BROADCAST */
    const sio_remote_ack_ops_t *ack_ops;
    buf_t event, args;
    rbuf_t *bins[SIO_MAX_ATTACHMENTS];
    int nbins;
    uint32_t timeout_ms;
};

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void job_free(struct remote_job *j)
{
    free_names(j->rooms, j->nrooms);
    free_names(j->except, j->nexcept);
    free_names(j->names, j->nnames);
    json_decref(j->result);
    buf_free(&j->event);
    buf_free(&j->args);
    for (int i = 0; i < j->nbins; i++) rbuf_unref(j->bins[i]);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

static void job_unref(struct remote_job *j)
{
    if (__atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL)) return;
    if (j->op == JOB_ACK_BROADCAST) j->ack_ops->release(j->arg);
    job_free(j);
}

/* The connected sockets of this loop that j's rooms/except select, each once (the same marks as
 * a broadcast). Returns a new array of *n sockets (NULL when none or out of memory). */
static sio_socket_t **select_local(struct nsp_loop *pl, const struct remote_job *j, size_t *n)
{
    *n = 0;
    if (!pl->nsockets) return NULL;
    sio_socket_t **v = malloc(pl->nsockets * sizeof *v);
    if (!v) return NULL;
    uint32_t gen = ++pl->gen;
    if (gen == 0) gen = ++pl->gen;
    for (size_t i = 0; i < j->nexcept; i++) mark_room(pl, j->except[i], gen, 1);
#define TAKE(sock)                                                                                 \
    do {                                                                                           \
        sio_socket_t *s_ = (sock);                                                                 \
        if (s_->connected && s_->sent_gen != gen && s_->except_gen != gen) {                       \
            s_->sent_gen = gen;                                                                    \
            v[(*n)++] = s_;                                                                        \
        }                                                                                          \
    } while (0)
    if (!j->nrooms) {
        for (uint32_t i = 0; i < pl->nsockets; i++) TAKE(pl->sockets[i]);
    } else {
        for (size_t i = 0; i < j->nrooms; i++) {
            struct room *r = map_get(&pl->rooms, span_cstr(j->rooms[i]));
            if (r) {
                for (uint32_t k = 0; k < r->n; k++) TAKE(r->m[k]);
            } else {
                sio_socket_t *s = map_get(&pl->by_id, span_cstr(j->rooms[i]));
                if (s) TAKE(s);
            }
        }
    }
#undef TAKE
    return v;
}

/* What the reference's fetchSockets() answer carries for a socket (its handshake, rooms with
 * its own id first, data). */
static json_t *socket_details(sio_socket_t *s)
{
    json_t *o = json_object(), *hs = json_object(), *rooms = json_array(), *query = json_object();
    if (!o || !hs || !rooms || !query) goto fail;
    json_array_append_new(rooms, json_string(s->id));
    for (uint16_t i = 0; i < s->nrooms; i++) json_array_append_new(rooms, json_string(s->rooms[i].room->name));
    eio_session_t *e = s->client->eio;
    time_t secs = (time_t)(s->issued_ms / 1000);
    struct tm tm;
    char when[64] = "";
    if (gmtime_r(&secs, &tm))
        snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(s->issued_ms % 1000));
    const char *ip = eio_remote_ip(e);
    json_object_set_new(query, "EIO", json_string("4"));
    json_object_set_new(query, "transport", json_string(eio_is_websocket(e) ? "websocket" : "polling"));
    json_object_set_new(hs, "headers", json_object());
    json_object_set_new(hs, "time", json_string(when));
    json_object_set_new(hs, "address", json_string(ip ? ip : ""));
    json_object_set_new(hs, "xdomain", json_false());
    json_object_set_new(hs, "secure", json_false());
    json_object_set_new(hs, "issued", json_integer(s->issued_ms));
    json_object_set_new(hs, "url", json_string(""));
    json_object_set_new(hs, "query", query);
    json_object_set_new(hs, "auth", s->auth ? json_incref(s->auth) : json_object());
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "handshake", hs);
    json_object_set_new(o, "rooms", rooms);
    json_object_set_new(o, "data", json_object());
    return o;
fail:
    json_decref(o);
    json_decref(hs);
    json_decref(rooms);
    json_decref(query);
    return NULL;
}


static void remote_ack_answer(sio_socket_t *s, int err, sio_event_t *ev, void *arg)
{
    struct remote_job *j = arg;
    if (err == 0 && ev) j->ack_ops->ack(j->arg, ev);
    job_unref(j);
}

static void job_finish(struct remote_job *j)
{
    if (j->op == JOB_ACK_BROADCAST) {
        j->ack_ops->count(j->arg, j->matched);
    } else if (j->op == SIO_REMOTE_ROOMS) {
        /* Several workers may hold a room of the same name: list each once. */
        json_t *set = json_object(), *list = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(j->result, i, v)
        {
            const char *name = json_string_value(v);
            if (name && set && list && !json_object_get(set, name)) {
                json_object_set_new(set, name, json_true());
                json_array_append(list, v);
            }
        }
        json_decref(set);
        j->done(list, j->matched, j->arg);
        json_decref(list);
    } else {
        j->done(j->result, j->matched, j->arg);
    }
    job_unref(j);
}

static void job_run(void *arg)
{
    struct remote_job *j = arg;
    struct nsp_loop *pl = &j->nsp->per[loop_index(loop_current())];
    size_t n = 0;
    json_t *local = json_array();
    if (j->op == SIO_REMOTE_ROOMS) {
        map_entry_t *e;
        for (size_t i = 0; map_next(&pl->rooms, &i, &e);)
            json_array_append_new(local, json_string(((struct room *)e->value)->name));
        for (uint32_t i = 0; i < pl->nsockets; i++) json_array_append_new(local, json_string(pl->sockets[i]->id));
        n = pl->nsockets;
    } else {
        sio_socket_t **v = select_local(pl, j, &n);
        /* Joining, leaving and disconnecting change the room arrays select_local walked, so the
         * selection is complete before any of it runs; references keep each socket valid. */
        for (size_t i = 0; i < n; i++) sio_socket_ref(v[i]);
        size_t sent = 0;
        for (size_t i = 0; i < n; i++) {
            sio_socket_t *s = v[i];
            switch (j->op) {
            case SIO_REMOTE_FETCH:
                json_array_append_new(local, socket_details(s));
                break;
            case SIO_REMOTE_JOIN:
                for (size_t k = 0; k < j->nnames; k++) sio_join(s, j->names[k]);
                break;
            case SIO_REMOTE_LEAVE:
                for (size_t k = 0; k < j->nnames; k++) sio_leave(s, j->names[k]);
                break;
            case SIO_REMOTE_DISCONNECT:
                sio_disconnect(s, j->close);
                break;
            case JOB_ACK_BROADCAST:
                __atomic_add_fetch(&j->refs, 1, __ATOMIC_RELAXED);
                if (emit_ack_raw(s, buf_span(&j->event), buf_span(&j->args), j->bins, j->nbins, j->timeout_ms,
                                 remote_ack_answer, j) == 0)
                    sent++;
                else
                    job_unref(j); /* never the last reference: the worker phase holds one */
                break;
            }
        }
        for (size_t i = 0; i < n; i++) sio_socket_unref(v[i]);
        free(v);
        if (j->op == JOB_ACK_BROADCAST) n = sent;
    }
    pthread_mutex_lock(&j->lock);
    j->matched += n;
    if (local && j->result) json_array_extend(j->result, local);
    pthread_mutex_unlock(&j->lock);
    json_decref(local);
    if (__atomic_sub_fetch(&j->pending, 1, __ATOMIC_ACQ_REL) == 0) job_finish(j);
}

static struct remote_job *job_new(sio_server_t *srv, const char *name, int op, const sio_bcast_t *b,
                                  const char *const *names, size_t nnames)
{
    sio_nsp_t *nsp = nsp_find(srv, span_cstr(name));
    if (!nsp) return NULL;
    struct remote_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_mutex_init(&j->lock, NULL);
    j->nsp = nsp;
    j->op = op;
    j->refs = 1;
    j->pending = srv->nloops;
    j->result = json_array();
    bool ok = j->result != NULL;
    if (ok && b && b->nrooms) ok = (j->rooms = copy_names(b->rooms, b->nrooms)) != NULL;
    if (ok && b) j->nrooms = b->nrooms;
    if (ok && b && b->nexcept) ok = (j->except = copy_names(b->except, b->nexcept)) != NULL;
    if (ok && b) j->nexcept = b->nexcept;
    if (ok && nnames) ok = (j->names = copy_names(names, nnames)) != NULL;
    if (ok) j->nnames = nnames;
    if (!ok) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* Post j to every worker. The last one to run finishes it. */
static void job_start(sio_server_t *srv, struct remote_job *j)
{
    for (int i = 0; i < srv->nloops; i++)
        if (loop_post(srv->loops[i], job_run, j) < 0 &&
            __atomic_sub_fetch(&j->pending, 1, __ATOMIC_ACQ_REL) == 0)
            job_finish(j);
}

int sio_remote_apply(sio_server_t *srv, const char *nsp, sio_remote_op_t op, const sio_bcast_t *b,
                     const char *const *names, size_t nnames, bool close, sio_remote_done_fn done,
                     void *arg)
{
    if (!nsp_find(srv, span_cstr(nsp))) return RS_ENOTFOUND;
    struct remote_job *j = job_new(srv, nsp, (int)op, b, names, nnames);
    if (!j) return RS_ENOMEM;
    j->close = close;
    j->done = done;
    j->arg = arg;
    job_start(srv, j);
    return 0;
}

int sio_broadcast_remote_ack(sio_server_t *srv, const char *nsp, const sio_bcast_t *b, span_t event,
                             span_t args, rbuf_t *const *bins, int nbins, uint32_t timeout_ms,
                             const sio_remote_ack_ops_t *ops, void *arg)
{
    if (nbins < 0 || nbins > SIO_MAX_ATTACHMENTS) return RS_EINVAL;
    if (!nsp_find(srv, span_cstr(nsp))) return RS_ENOTFOUND;
    struct remote_job *j = job_new(srv, nsp, JOB_ACK_BROADCAST, b, NULL, 0);
    if (!j) return RS_ENOMEM;
    j->ack_ops = ops;
    j->arg = arg;
    j->timeout_ms = timeout_ms;
    if (buf_append_span(&j->event, event) || buf_append_span(&j->args, args)) {
        job_free(j);
        return RS_ENOMEM;
    }
    for (int i = 0; i < nbins; i++) j->bins[j->nbins++] = rbuf_ref(bins[i]);
    job_start(srv, j);
    return 0;
}
