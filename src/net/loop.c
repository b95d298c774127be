/* loop.c - the event loop: epoll, corked writev output, a timer heap, deferred closes,
 * cross-thread posts woken by an eventfd. See loop.h for the lifetime rules. */
#include "net/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "net/ipcount.h"
#include "util/err.h"
#include "util/log.h"

#define RECV_BUF_SIZE (64 * 1024)
#define READS_PER_EVENT 4        /* fairness: then let others run; level-triggered brings us back */
#define WRITE_IOV_MAX 64
#define WRITE_CAP_PER_FLUSH (4u << 20) /* fairness: bytes per connection per iteration */
#define OUT_CHUNK_MIN 1000 /* rbuf header included, stays in malloc's per-thread cache */
#define OUT_ENTS_MIN  4    /* first size of a connection's output entry array */
#define SPARE_MAX     256  /* spare output chunks (256 KiB) and entry arrays kept per loop */
#define ACCEPTS_PER_EVENT 64
#define ACCEPT_BACKOFF_MS 100
#define DEFAULT_LINGER_MS 1000

enum src_kind { SRC_CONN = 1, SRC_LISTENER, SRC_EVENTFD };

enum conn_flag {
    CF_CLOSING = 1 << 0,   /* close requested */
    CF_QUEUED = 1 << 1,    /* on the close list */
    CF_DIRTY = 1 << 2,     /* on the dirty list */
    CF_WANT_OUT = 1 << 3,  /* EPOLLOUT registered */
    CF_NO_READ = 1 << 4,   /* EPOLLIN not registered (paused, EOF or closing) */
    CF_PAUSED = 1 << 5,    /* reading paused by the handler */
    CF_EOF = 1 << 6,       /* peer sent FIN */
    CF_DRAIN = 1 << 7,     /* graceful close waiting for output to drain */
    CF_MIGRATE = 1 << 8,   /* handed to another loop at the end of the iteration */
    CF_REPLAY = 1 << 9,    /* replay leftover input at the end of the iteration */
    CF_IN_DATA = 1 << 10,  /* inside on_data (no replay needed) */
    CF_ZOMBIE = 1 << 11,   /* closed while a replay was pending: the replay frees it */
    CF_TLS_READ_OUT = 1 << 12, /* TLS: a read needs the socket writable (handshake) */
};

struct outent {
    rbuf_t *b;
    uint32_t off; /* first unwritten byte */
    uint32_t end; /* one past the last valid byte */
    uint32_t priv; /* 1 = our own chunk: bytes may be appended up to b->len */
};

struct migrate_msg {
    conn_t *c;
    loop_t *to;
    char *input;
    size_t input_len;
    void (*on_adopt)(conn_t *c, void *arg);
    void *arg;
};

struct conn {
    int kind; /* SRC_CONN: first, so epoll data can be told apart */
    int fd;
    uint32_t flags;
    int close_err;
    loop_t *loop;
    const conn_handler_t *h;
    void *user;
    char *in;
    uint32_t in_len, in_cap;
    uint32_t in_max;
    uint32_t out_head, out_n, out_cap;
    uint32_t out_max;       /* clamped to 4 GiB: 32 bits keep conn in a smaller malloc class */
    uint32_t tls_retry;     /* TLS: length of an SSL_write that must be retried as it was */
    size_t out_bytes;
    struct outent *out;
    conn_t *prev, *next;    /* all connections of the loop */
    conn_t *next_dirty;
    conn_t *next_close;
    loop_timer_t deadline;
    struct migrate_msg *migrate;
    struct in6_addr peer;   /* IPv4 as mapped */
    SSL *ssl;               /* NULL for plain TCP */
};

struct listener {
    int kind;
    int fd;
    void (*on_accept)(conn_t *c, void *arg);
    void *arg;
    loop_t *loop;
    loop_timer_t backoff;
    int paused;
};

struct fnarg {
    void (*fn)(void *);
    void *arg;
};

struct loop {
    int epfd;
    struct {
        int kind;
        int fd;
    } evsrc;
    int index;
    loop_config_t cfg;
    uint64_t now;
    char *rbuf;
    struct listener **listeners;
    size_t num_listeners;

    loop_timer_t **heap;
    size_t heap_n, heap_cap;

    pthread_mutex_t post_lock;
    struct fnarg *posts;
    size_t posts_n, posts_cap;
    int post_signalled;

    struct fnarg *defers;
    size_t defers_n, defers_cap;

    conn_t *all;
    size_t nconns;
    conn_t *dirty;
    conn_t *closing;

    int stop_requested; /* atomic */
    int stop_grace_ms;  /* atomic */
    int stopping;
    uint64_t stop_deadline;
    void (*stop_hook)(loop_t *, void *);
    void *stop_hook_arg;
    void *data;
    loop_stats_t stats;

    /* A connection that drains its output frees its chunk and entry array (an idle connection
     * holds no output memory); the next reply needs them again. A few are kept here for reuse,
     * which saves two malloc/free pairs per request-reply on a busy loop. Loop thread only. */
    rbuf_t *spare_chunks[SPARE_MAX];
    struct outent *spare_outs[SPARE_MAX];
    uint32_t nspare_chunks, nspare_outs;
};

static __thread loop_t *current_loop;

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- timers: a binary min-heap of embedded timers ---- */

static void heap_swap(loop_t *l, size_t a, size_t b)
{
    loop_timer_t *t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->heap[a]->heap_idx = (uint32_t)a + 1;
    l->heap[b]->heap_idx = (uint32_t)b + 1;
}

static void heap_up(loop_t *l, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (l->heap[p]->at <= l->heap[i]->at) break;
        heap_swap(l, p, i);
        i = p;
    }
}

static void heap_down(loop_t *l, size_t i)
{
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->heap_n && l->heap[a]->at < l->heap[m]->at) m = a;
        if (b < l->heap_n && l->heap[b]->at < l->heap[m]->at) m = b;
        if (m == i) break;
        heap_swap(l, i, m);
        i = m;
    }
}

void loop_timer_stop(loop_t *l, loop_timer_t *t)
{
    if (!t->heap_idx) return;
    size_t i = t->heap_idx - 1;
    t->heap_idx = 0;
    l->heap_n--;
    if (i == l->heap_n) return;
    l->heap[i] = l->heap[l->heap_n];
    l->heap[i]->heap_idx = (uint32_t)i + 1;
    heap_up(l, i);
    heap_down(l, l->heap[i]->heap_idx - 1);
}

void loop_timer_start(loop_t *l, loop_timer_t *t, uint64_t delay_ms, void (*cb)(loop_timer_t *t))
{
    loop_timer_stop(l, t);
    if (l->heap_n == l->heap_cap) {
        size_t cap = l->heap_cap ? l->heap_cap * 2 : 256;
        loop_timer_t **h = realloc(l->heap, cap * sizeof *h);
        if (!h) {
            /* Running out of memory for a timer would silently break a deadline; treat it as
             * fatal for this process rather than serve without timeouts. */
            LOG_ERROR("loop", "out of memory growing the timer heap");
            abort();
        }
        l->heap = h;
        l->heap_cap = cap;
    }
    t->at = l->now + delay_ms;
    t->cb = cb;
    l->heap[l->heap_n] = t;
    t->heap_idx = (uint32_t)++l->heap_n;
    heap_up(l, l->heap_n - 1);
}

static void run_timers(loop_t *l)
{
    while (l->heap_n && l->heap[0]->at <= l->now) {
        loop_timer_t *t = l->heap[0];
        loop_timer_stop(l, t);
        t->cb(t);
    }
}

/* ---- epoll registration ---- */

static void conn_update_events(conn_t *c)
{
    uint32_t ev = 0;
    if (!(c->flags & (CF_NO_READ | CF_PAUSED | CF_EOF | CF_CLOSING))) ev |= EPOLLIN;
    if (c->flags & (CF_WANT_OUT | CF_TLS_READ_OUT)) ev |= EPOLLOUT;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
        LOG_WARN("loop", "epoll_ctl MOD fd %d: %s", c->fd, strerror(errno));
}

/* ---- loop lifecycle ---- */

loop_t *loop_new(const loop_config_t *cfg)
{
    loop_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->cfg = *cfg;
    if (!l->cfg.max_conn_input) l->cfg.max_conn_input = 2u << 20;
    if (!l->cfg.max_conn_output) l->cfg.max_conn_output = 8u << 20;
    l->index = cfg->index;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->evsrc.kind = SRC_EVENTFD;
    l->evsrc.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->rbuf = malloc(RECV_BUF_SIZE);
    pthread_mutex_init(&l->post_lock, NULL);
    if (l->epfd < 0 || l->evsrc.fd < 0 || !l->rbuf) goto fail;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &l->evsrc};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evsrc.fd, &e) < 0) goto fail;
    l->now = monotonic_ms();
    return l;
fail:
    LOG_ERROR("loop", "cannot create event loop: %s", strerror(errno));
    if (l->epfd >= 0) close(l->epfd);
    if (l->evsrc.fd >= 0) close(l->evsrc.fd);
    free(l->rbuf);
    free(l);
    return NULL;
}

static void conn_free(conn_t *c);

void loop_free(loop_t *l)
{
    if (!l) return;
    while (l->all) {
        conn_t *c = l->all;
        if (c->h && c->h->on_close) c->h->on_close(c, RS_ECLOSED);
        c->h = NULL;
        conn_free(c);
    }
    for (size_t i = 0; i < l->num_listeners; i++) {
        if (l->listeners[i]->fd >= 0) close(l->listeners[i]->fd);
        free(l->listeners[i]);
    }
    free(l->listeners);
    /* Posts never run: their args leak by contract only if the loop is freed while others
     * still post to it, which shutdown order prevents. */
    free(l->posts);
    free(l->defers);
    free(l->heap);
    for (uint32_t i = 0; i < l->nspare_chunks; i++) free(l->spare_chunks[i]);
    for (uint32_t i = 0; i < l->nspare_outs; i++) free(l->spare_outs[i]);
    close(l->epfd);
    close(l->evsrc.fd);
    pthread_mutex_destroy(&l->post_lock);
    free(l->rbuf);
    free(l);
}

int loop_index(const loop_t *l)
{
    return l->index;
}
uint64_t loop_now(const loop_t *l)
{
    return l->now;
}
void loop_set_data(loop_t *l, void *data)
{
    l->data = data;
}
void *loop_data(const loop_t *l)
{
    return l->data;
}
loop_t *loop_current(void)
{
    return current_loop;
}
bool loop_stopping(const loop_t *l)
{
    return l->stopping;
}

static void run_posts(loop_t *l);
static void run_defers(loop_t *l);
static void close_phase(loop_t *l);

bool loop_drain(loop_t *l)
{
    pthread_mutex_lock(&l->post_lock);
    bool any = l->posts_n > 0 || l->defers_n > 0;
    pthread_mutex_unlock(&l->post_lock);
    if (!any) return false;
    loop_t *saved = current_loop;
    current_loop = l;
    run_posts(l);
    run_defers(l);
    close_phase(l);
    current_loop = saved;
    return true;
}
void loop_set_stop_hook(loop_t *l, void (*hook)(loop_t *, void *), void *arg)
{
    l->stop_hook = hook;
    l->stop_hook_arg = arg;
}

void loop_get_stats(const loop_t *l, loop_stats_t *out)
{
    *out = l->stats;
    out->conns_open = l->nconns;
}

static void wake(loop_t *l)
{
    uint64_t one = 1;
    ssize_t w = write(l->evsrc.fd, &one, sizeof one);
    (void)w;
}

void loop_stop(loop_t *l, int grace_ms)
{
    __atomic_store_n(&l->stop_grace_ms, grace_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&l->stop_requested, 1, __ATOMIC_RELEASE);
    wake(l);
}

int loop_post(loop_t *l, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&l->post_lock);
    if (l->posts_n == l->posts_cap) {
        size_t cap = l->posts_cap ? l->posts_cap * 2 : 64;
        struct fnarg *p = realloc(l->posts, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&l->post_lock);
            return RS_ENOMEM;
        }
        l->posts = p;
        l->posts_cap = cap;
    }
    l->posts[l->posts_n++] = (struct fnarg){fn, arg};
    int need_wake = !l->post_signalled;
    l->post_signalled = 1;
    pthread_mutex_unlock(&l->post_lock);
    if (need_wake) wake(l);
    return 0;
}

static void run_posts(loop_t *l)
{
    uint64_t cnt;
    ssize_t r = read(l->evsrc.fd, &cnt, sizeof cnt);
    (void)r;
    for (;;) {
        pthread_mutex_lock(&l->post_lock);
        struct fnarg *batch = l->posts;
        size_t n = l->posts_n;
        l->posts = NULL;
        l->posts_n = l->posts_cap = 0;
        l->post_signalled = 0;
        pthread_mutex_unlock(&l->post_lock);
        if (!n) {
            free(batch);
            return;
        }
        for (size_t i = 0; i < n; i++) batch[i].fn(batch[i].arg);
        free(batch);
    }
}

int loop_defer(loop_t *l, void (*fn)(void *), void *arg)
{
    if (l->defers_n == l->defers_cap) {
        size_t cap = l->defers_cap ? l->defers_cap * 2 : 64;
        struct fnarg *p = realloc(l->defers, cap * sizeof *p);
        if (!p) return RS_ENOMEM;
        l->defers = p;
        l->defers_cap = cap;
    }
    l->defers[l->defers_n++] = (struct fnarg){fn, arg};
    return 0;
}

static void run_defers(loop_t *l)
{
    /* Deferred functions may defer more; bound the rounds so a loop of defers cannot starve
     * I/O (the remainder runs next iteration with a zero epoll timeout). */
    for (int round = 0; round < 16 && l->defers_n; round++) {
        struct fnarg *batch = l->defers;
        size_t n = l->defers_n;
        l->defers = NULL;
        l->defers_n = l->defers_cap = 0;
        for (size_t i = 0; i < n; i++) batch[i].fn(batch[i].arg);
        free(batch);
    }
}

/* ---- connections ---- */

void conn_set_handler(conn_t *c, const conn_handler_t *h, void *user)
{
    c->h = h;
    c->user = user;
}
void *conn_user(const conn_t *c)
{
    return c->user;
}
loop_t *conn_loop(const conn_t *c)
{
    return c->loop;
}
int conn_fd(const conn_t *c)
{
    return c->fd;
}
size_t conn_queued(const conn_t *c)
{
    return c->out_bytes;
}
bool conn_closing(const conn_t *c)
{
    return (c->flags & (CF_CLOSING | CF_MIGRATE)) != 0;
}
void conn_set_output_cap(conn_t *c, size_t cap)
{
    c->out_max = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}
void conn_set_input_cap(conn_t *c, size_t cap)
{
    c->in_max = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}

const char *conn_peer_ip(const conn_t *c)
{
    static __thread char text[INET6_ADDRSTRLEN];
    if (IN6_IS_ADDR_V4MAPPED(&c->peer))
        inet_ntop(AF_INET, &c->peer.s6_addr[12], text, sizeof text);
    else
        inet_ntop(AF_INET6, &c->peer, text, sizeof text);
    return text;
}

static void mark_dirty(conn_t *c)
{
    if (c->flags & CF_DIRTY) return;
    c->flags |= CF_DIRTY;
    c->next_dirty = c->loop->dirty;
    c->loop->dirty = c;
}

static void queue_close(conn_t *c)
{
    if (c->flags & CF_QUEUED) return;
    c->flags |= CF_QUEUED;
    c->next_close = c->loop->closing;
    c->loop->closing = c;
}

/* Give back an output chunk: a private one (never shared, so ours alone) of the standard size
 * goes to the loop's spares. */
static void chunk_put(loop_t *l, struct outent *e)
{
    rbuf_t *b = e->b;
    if (e->priv && b->len == OUT_CHUNK_MIN && l->nspare_chunks < SPARE_MAX)
        l->spare_chunks[l->nspare_chunks++] = b;
    else
        rbuf_unref(b);
}

static void out_release(conn_t *c)
{
    loop_t *l = c->loop;
    for (uint32_t i = 0; i < c->out_n; i++) chunk_put(l, &c->out[c->out_head + i]);
    if (c->out && c->out_cap == OUT_ENTS_MIN && l->nspare_outs < SPARE_MAX)
        l->spare_outs[l->nspare_outs++] = c->out;
    else
        free(c->out);
    c->out = NULL;
    c->out_head = c->out_n = c->out_cap = 0;
    c->out_bytes = 0;
}

void conn_close(conn_t *c, int err)
{
    if (c->flags & CF_CLOSING) {
        /* An abortive close overrides a graceful one still draining. */
        if (err < 0 && (c->flags & CF_DRAIN)) {
            c->flags &= ~CF_DRAIN;
            c->close_err = err;
            queue_close(c);
        }
        return;
    }
    c->flags |= CF_CLOSING;
    c->close_err = err;
    if (err == 0 && c->out_bytes > 0) {
        c->flags |= CF_DRAIN;
        conn_update_events(c);
        loop_timer_start(c->loop, &c->deadline, DEFAULT_LINGER_MS, c->deadline.cb);
        return;
    }
    queue_close(c);
}

void conn_close_after_flush(conn_t *c, uint32_t linger_ms)
{
    if (c->flags & CF_CLOSING) return;
    conn_close(c, 0);
    if (c->flags & CF_DRAIN) loop_timer_start(c->loop, &c->deadline, linger_ms, c->deadline.cb);
}

/* Make room for one more entry at the end of the output array. */
static int out_slot(conn_t *c)
{
    if (c->out_head + c->out_n < c->out_cap) return 0;
    if (c->out_head > 0) {
        memmove(c->out, c->out + c->out_head, c->out_n * sizeof *c->out);
        c->out_head = 0;
        return 0;
    }
    uint32_t cap = c->out_cap ? c->out_cap * 2 : OUT_ENTS_MIN;
    loop_t *l = c->loop;
    struct outent *o = !c->out && l->nspare_outs ? l->spare_outs[--l->nspare_outs]
                                                 : realloc(c->out, cap * sizeof *o);
    if (!o) return RS_ENOMEM;
    c->out = o;
    c->out_cap = cap;
    return 0;
}

static struct outent *out_tail_room(conn_t *c, size_t need)
{
    if (c->out_n) {
        struct outent *t = &c->out[c->out_head + c->out_n - 1];
        if (t->priv && t->b->len - t->end >= need) return t;
    }
    if (out_slot(c)) return NULL;
    size_t size = need < OUT_CHUNK_MIN ? OUT_CHUNK_MIN : need;
    loop_t *l = c->loop;
    rbuf_t *b = size == OUT_CHUNK_MIN && l->nspare_chunks ? l->spare_chunks[--l->nspare_chunks]
                                                          : rbuf_alloc(size);
    if (!b) return NULL;
    struct outent *t = &c->out[c->out_head + c->out_n++];
    *t = (struct outent){b, 0, 0, 1};
    return t;
}

/* The cap measures the peer's backlog: what was still queued before this write. One reply
 * larger than the cap may go to a reader that keeps up (queued output stays bounded by the cap
 * plus one message); a slow reader is dropped on its next write. */
static int check_out_cap(conn_t *c, size_t just_written)
{
    if (c->out_bytes - just_written > c->out_max) {
        c->loop->stats.output_cap_closes++;
        LOG_INFO("loop", "closing %s: %zu bytes queued, over the output cap", conn_peer_ip(c),
                 c->out_bytes);
        conn_close(c, RS_ETOOBIG);
        return RS_ETOOBIG;
    }
    return 0;
}

char *conn_write_reserve(conn_t *c, size_t need)
{
    if (c->flags & (CF_CLOSING | CF_MIGRATE)) return NULL;
    struct outent *t = out_tail_room(c, need);
    return t ? t->b->data + t->end : NULL;
}

void conn_write_commit(conn_t *c, size_t n)
{
    if (!n) return;
    struct outent *t = &c->out[c->out_head + c->out_n - 1];
    t->end += (uint32_t)n;
    c->out_bytes += n;
    mark_dirty(c);
    check_out_cap(c, n);
}

int conn_write(conn_t *c, const void *data, size_t len)
{
    if (c->flags & (CF_CLOSING | CF_MIGRATE)) return RS_ECLOSED;
    if (!len) return 0;
    /* Large payloads get their own exactly-sized chunk; small ones share the tail chunk. */
    char *p = conn_write_reserve(c, len);
    if (!p) return RS_ENOMEM;
    memcpy(p, data, len);
    conn_write_commit(c, len);
    return (c->flags & CF_CLOSING) ? RS_ETOOBIG : 0;
}

int conn_write_rbuf(conn_t *c, rbuf_t *r)
{
    if (c->flags & (CF_CLOSING | CF_MIGRATE)) return RS_ECLOSED;
    if (!r->len) return 0;
    /* Tiny shared chunks are cheaper copied than referenced (one iovec fewer). */
    if (r->len <= 256) return conn_write(c, r->data, r->len);
    int rc = out_slot(c);
    if (rc) return rc;
    c->out[c->out_head + c->out_n++] = (struct outent){rbuf_ref(r), 0, r->len, 0};
    c->out_bytes += r->len;
    mark_dirty(c);
    return check_out_cap(c, r->len);
}

void conn_pause_reading(conn_t *c)
{
    if (c->flags & CF_PAUSED) return;
    c->flags |= CF_PAUSED;
    conn_update_events(c);
}

void conn_resume_reading(conn_t *c)
{
    if (!(c->flags & CF_PAUSED)) return;
    c->flags &= ~CF_PAUSED;
    conn_update_events(c);
    if (c->in_len) conn_replay_input(c);
}

static void conn_deadline_fired(loop_timer_t *t)
{
    conn_t *c = (conn_t *)((char *)t - offsetof(conn_t, deadline));
    if (c->flags & CF_DRAIN) {
        /* Linger bound passed: the peer is not reading; give up on the rest. */
        c->flags &= ~CF_DRAIN;
        queue_close(c);
        return;
    }
    if (c->flags & CF_CLOSING) return;
    if (c->h && c->h->on_timeout) c->h->on_timeout(c);
    else conn_close(c, RS_ETIMEDOUT);
}

void conn_set_deadline(conn_t *c, uint64_t delay_ms)
{
    if (c->flags & CF_DRAIN) return; /* the linger bound owns the timer now */
    if (!delay_ms) loop_timer_stop(c->loop, &c->deadline);
    else loop_timer_start(c->loop, &c->deadline, delay_ms, conn_deadline_fired);
}

static conn_t *conn_new(loop_t *l, int fd, const struct sockaddr_storage *ss)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->kind = SRC_CONN;
    c->fd = fd;
    c->loop = l;
    c->in_max = (uint32_t)l->cfg.max_conn_input;
    conn_set_output_cap(c, l->cfg.max_conn_output);
    c->deadline.cb = conn_deadline_fired;
    if (ss && ss->ss_family == AF_INET6) {
        c->peer = ((const struct sockaddr_in6 *)ss)->sin6_addr;
    } else if (ss && ss->ss_family == AF_INET) {
        memset(&c->peer, 0, sizeof c->peer);
        c->peer.s6_addr[10] = c->peer.s6_addr[11] = 0xff;
        memcpy(&c->peer.s6_addr[12], &((const struct sockaddr_in *)ss)->sin_addr, 4);
    }
    c->next = l->all;
    if (l->all) l->all->prev = c;
    l->all = c;
    l->nconns++;
    return c;
}

static void conn_unlink(conn_t *c)
{
    loop_t *l = c->loop;
    if (c->prev) c->prev->next = c->next;
    else l->all = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    l->nconns--;
}

static void conn_free(conn_t *c)
{
    loop_timer_stop(c->loop, &c->deadline);
    conn_unlink(c);
    ipcount_release(&c->peer);
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) close(c->fd);
    out_release(c);
    free(c->in);
    c->in = NULL;
    /* A replay scheduled for this connection still holds the pointer: it frees the struct. */
    if (c->flags & CF_REPLAY) c->flags |= CF_ZOMBIE;
    else free(c);
}

/* Offer data to the handler; keep what it leaves. data may be the loop's receive buffer or
 * the connection's own leftover buffer. */
static void conn_process(conn_t *c, char *data, size_t len)
{
    size_t off = 0;
    c->flags |= CF_IN_DATA;
    while (off < len && !(c->flags & (CF_CLOSING | CF_MIGRATE)) && c->h) {
        const conn_handler_t *h = c->h;
        ssize_t n = h->on_data(c, data + off, len - off);
        if (n < 0) {
            conn_close(c, (int)n);
            break;
        }
        off += (size_t)n;
        if (c->h == h) break; /* same handler: it took what it could */
    }
    c->flags &= ~CF_IN_DATA;
    if (c->flags & CF_MIGRATE) {
        /* What the handler left (pipelined bytes) follows the handed-over input. */
        struct migrate_msg *m = c->migrate;
        size_t rest = len - off;
        if (m && rest) {
            char *p = realloc(m->input, m->input_len + rest);
            if (p) {
                memcpy(p + m->input_len, data + off, rest);
                m->input = p;
                m->input_len += rest;
            }
        }
        return;
    }
    size_t rest = len - off;
    if (data == c->in) {
        if (off) memmove(c->in, c->in + off, rest);
        c->in_len = (uint32_t)rest;
    } else if (rest) {
        if (rest > c->in_max) {
            conn_close(c, RS_ETOOBIG);
            return;
        }
        if (rest > c->in_cap) {
            char *p = realloc(c->in, rest);
            if (!p) {
                conn_close(c, RS_ENOMEM);
                return;
            }
            c->in = p;
            c->in_cap = (uint32_t)rest;
        }
        memcpy(c->in, data + off, rest);
        c->in_len = (uint32_t)rest;
    } else {
        c->in_len = 0;
    }
    /* An idle connection keeps no input buffer. */
    if (!c->in_len && c->in) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

static void replay_cb(void *arg);

void conn_replay_input(conn_t *c)
{
    /* Inside on_data the handler's own loop sees the rest: no replay needed. */
    if (c->flags & (CF_REPLAY | CF_IN_DATA)) return;
    c->flags |= CF_REPLAY;
    /* The defer holds a pointer: the close phase runs after defers, so c is still alive. */
    if (loop_defer(c->loop, replay_cb, c) < 0) c->flags &= ~CF_REPLAY;
}

static void replay_cb(void *arg)
{
    conn_t *c = arg;
    c->flags &= ~CF_REPLAY;
    if (c->flags & CF_ZOMBIE) {
        free(c);
        return;
    }
    if (c->flags & (CF_CLOSING | CF_MIGRATE | CF_PAUSED)) return;
    if (c->in_len) conn_process(c, c->in, c->in_len);
}

/* Receive into buf: like read(2) (bytes, 0 at EOF, -1 with errno EAGAIN or another error),
 * over TLS when the connection has an SSL object. */
static ssize_t conn_recv(conn_t *c, char *buf, size_t len)
{
    if (!c->ssl) return read(c->fd, buf, len);
    ERR_clear_error();
    int n = SSL_read(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
    if (n > 0) return n;
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        /* The handshake has to send before it can read on: wake up on writability. */
        if (!(c->flags & CF_TLS_READ_OUT)) {
            c->flags |= CF_TLS_READ_OUT;
            conn_update_events(c);
        }
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0) return 0; /* EOF without close_notify */
        return -1;
    default:
        LOG_DEBUG("tls", "%s: TLS error, closing", conn_peer_ip(c));
        errno = EPROTO;
        return -1;
    }
}

/* Send gathered bytes: like writev(2). Over TLS the pieces are coalesced into one record of
 * at most 16 KiB; a write that would block is retried later with exactly the same length, as
 * OpenSSL requires. */
static ssize_t conn_send(conn_t *c, const struct iovec *iov, int n)
{
    /* One piece (the usual reply) skips writev's iovec import. */
    if (!c->ssl)
        return n == 1 ? write(c->fd, iov[0].iov_base, iov[0].iov_len) : writev(c->fd, iov, n);
    static __thread char scratch[16384];
    size_t len = 0;
    size_t want = c->tls_retry ? c->tls_retry : sizeof scratch;
    for (int i = 0; i < n && len < want; i++) {
        size_t k = iov[i].iov_len < want - len ? iov[i].iov_len : want - len;
        memcpy(scratch + len, iov[i].iov_base, k);
        len += k;
    }
    ERR_clear_error();
    int w = SSL_write(c->ssl, scratch, (int)len);
    if (w > 0) {
        c->tls_retry = 0;
        return w;
    }
    switch (SSL_get_error(c->ssl, w)) {
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_READ:
        c->tls_retry = (uint32_t)len;
        errno = EAGAIN;
        return -1;
    default:
        errno = EPIPE;
        return -1;
    }
}

static void conn_on_readable(conn_t *c)
{
    loop_t *l = c->loop;
    if (c->flags & CF_TLS_READ_OUT) {
        c->flags &= ~CF_TLS_READ_OUT;
        conn_update_events(c);
    }
    /* TLS keeps decrypted bytes inside OpenSSL where epoll cannot see them: read until it has
     * nothing more rather than stopping after a few reads. */
    for (int i = 0; c->ssl || i < READS_PER_EVENT; i++) {
        if (c->flags & (CF_CLOSING | CF_MIGRATE | CF_PAUSED | CF_EOF)) return;
        ssize_t n = conn_recv(c, l->rbuf, RECV_BUF_SIZE);
        if (n > 0) {
            l->stats.bytes_in += (uint64_t)n;
            if (c->in_len) {
                if ((size_t)c->in_len + (size_t)n > c->in_max) {
                    conn_close(c, RS_ETOOBIG);
                    return;
                }
                if (c->in_len + (size_t)n > c->in_cap) {
                    size_t cap = c->in_cap * 2;
                    if (cap < c->in_len + (size_t)n) cap = c->in_len + (size_t)n;
                    char *p = realloc(c->in, cap);
                    if (!p) {
                        conn_close(c, RS_ENOMEM);
                        return;
                    }
                    c->in = p;
                    c->in_cap = (uint32_t)cap;
                }
                memcpy(c->in + c->in_len, l->rbuf, (size_t)n);
                c->in_len += (uint32_t)n;
                conn_process(c, c->in, c->in_len);
            } else {
                conn_process(c, l->rbuf, (size_t)n);
            }
            if (n < RECV_BUF_SIZE && !c->ssl) return;
            continue;
        }
        if (n == 0) {
            c->flags |= CF_EOF;
            conn_update_events(c);
            if (c->h && c->h->on_eof) c->h->on_eof(c);
            else conn_close(c, RS_ECLOSED);
            return;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        conn_close(c, RS_EIO);
        return;
    }
}

/* Write as much queued output as the kernel takes (bounded for fairness). */
static void conn_flush(conn_t *c)
{
    loop_t *l = c->loop;
    size_t budget = WRITE_CAP_PER_FLUSH;
    while (c->out_n && budget) {
        struct iovec iov[WRITE_IOV_MAX];
        int n = 0;
        for (uint32_t i = 0; i < c->out_n && n < WRITE_IOV_MAX; i++) {
            struct outent *e = &c->out[c->out_head + i];
            if (e->end == e->off) continue;
            iov[n].iov_base = e->b->data + e->off;
            iov[n].iov_len = e->end - e->off;
            n++;
        }
        if (n == 0) {
            out_release(c);
            break;
        }
        ssize_t w = conn_send(c, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            out_release(c);
            conn_close(c, RS_EIO);
            return;
        }
        l->stats.bytes_out += (uint64_t)w;
        c->out_bytes -= (size_t)w;
        budget = (size_t)w >= budget ? 0 : budget - (size_t)w;
        size_t left = (size_t)w;
        while (c->out_n) {
            struct outent *e = &c->out[c->out_head];
            size_t avail = e->end - e->off;
            if (left < avail) {
                e->off += (uint32_t)left;
                break;
            }
            left -= avail;
            e->off = e->end;
            chunk_put(l, e);
            c->out_head++;
            c->out_n--;
        }
        if (!c->out_n) c->out_head = 0;
    }
    if (c->out_bytes == 0) {
        /* Drained: an idle connection holds no output memory. */
        out_release(c);
        if (c->flags & CF_WANT_OUT) {
            c->flags &= ~CF_WANT_OUT;
            conn_update_events(c);
        }
        if (c->flags & CF_DRAIN) {
            c->flags &= ~CF_DRAIN;
            queue_close(c);
        } else if (c->h && c->h->on_drain && !(c->flags & CF_CLOSING)) {
            c->h->on_drain(c);
        }
    } else if (!(c->flags & CF_WANT_OUT)) {
        c->flags |= CF_WANT_OUT;
        conn_update_events(c);
    }
}

static void flush_dirty(loop_t *l)
{
    /* Flushing may trigger on_drain, which may write and re-dirty: loop until quiet, bounded. */
    for (int round = 0; round < 4 && l->dirty; round++) {
        conn_t *list = l->dirty;
        l->dirty = NULL;
        while (list) {
            conn_t *c = list;
            list = c->next_dirty;
            c->flags &= ~CF_DIRTY;
            if ((c->flags & CF_QUEUED) || (c->flags & CF_WANT_OUT)) continue;
            conn_flush(c);
        }
    }
}

static void adopt_cb(void *arg);

static void close_phase(loop_t *l)
{
    while (l->closing) {
        conn_t *list = l->closing;
        l->closing = NULL;
        while (list) {
            conn_t *c = list;
            list = c->next_close;
            if (c->flags & CF_MIGRATE) {
                struct migrate_msg *m = c->migrate;
                epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
                loop_timer_stop(l, &c->deadline);
                conn_unlink(c);
                c->flags &= ~(CF_QUEUED | CF_DIRTY | CF_MIGRATE | CF_WANT_OUT | CF_REPLAY);
                c->migrate = NULL;
                /* The caller handed over the input the new owner must see; drop ours. */
                free(c->in);
                c->in = NULL;
                c->in_len = c->in_cap = 0;
                if (loop_post(m->to, adopt_cb, m) < 0) {
                    /* Cannot hand over: the connection is lost; tell the new owner's side by
                     * closing the socket (the client retries). */
                    close(c->fd);
                    ipcount_release(&c->peer);
                    out_release(c);
                    free(c->in);
                    free(c);
                    free(m->input);
                    free(m);
                }
                continue;
            }
            if (c->h && c->h->on_close) c->h->on_close(c, c->close_err);
            c->h = NULL;
            if (c->close_err == 0) {
                if (c->ssl) SSL_shutdown(c->ssl); /* best effort close_notify */
                shutdown(c->fd, SHUT_WR);
            }
            conn_free(c);
        }
    }
}

int conn_migrate(conn_t *c, loop_t *to, const char *input, size_t input_len,
                 void (*on_adopt)(conn_t *c, void *arg), void *arg)
{
    struct migrate_msg *m = calloc(1, sizeof *m);
    if (!m) return RS_ENOMEM;
    if (input_len) {
        m->input = malloc(input_len);
        if (!m->input) {
            free(m);
            return RS_ENOMEM;
        }
        memcpy(m->input, input, input_len);
    }
    m->c = c;
    m->to = to;
    m->input_len = input_len;
    m->on_adopt = on_adopt;
    m->arg = arg;
    c->migrate = m;
    c->flags |= CF_MIGRATE;
    queue_close(c);
    return 0;
}

static void adopt_cb(void *arg)
{
    struct migrate_msg *m = arg;
    conn_t *c = m->c;
    loop_t *l = m->to;
    c->loop = l;
    c->flags &= ~(CF_NO_READ);
    c->next = l->all;
    c->prev = NULL;
    if (l->all) l->all->prev = c;
    l->all = c;
    l->nconns++;
    c->deadline.heap_idx = 0;
    struct epoll_event e = {.events = EPOLLIN | (c->out_bytes ? EPOLLOUT : 0), .data.ptr = c};
    if (c->out_bytes) c->flags |= CF_WANT_OUT;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &e) < 0) {
        LOG_WARN("loop", "adopting fd %d: %s", c->fd, strerror(errno));
    }
    m->on_adopt(c, m->arg);
    if (m->input_len && !(c->flags & CF_CLOSING)) {
        c->in = m->input;
        c->in_len = c->in_cap = (uint32_t)m->input_len;
        m->input = NULL;
        conn_process(c, c->in, c->in_len);
    }
    free(m->input);
    free(m);
    /* OpenSSL may hold decrypted bytes epoll cannot signal: look once. */
    if (c->ssl && !(c->flags & (CF_CLOSING | CF_MIGRATE))) conn_on_readable(c);
}

/* ---- listeners ---- */

static void listener_resume(loop_timer_t *t)
{
    struct listener *ls = (struct listener *)((char *)t - offsetof(struct listener, backoff));
    if (ls->fd < 0) return;
    ls->paused = 0;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = ls};
    epoll_ctl(ls->loop->epfd, EPOLL_CTL_MOD, ls->fd, &e);
}

static void listener_on_readable(struct listener *ls)
{
    loop_t *l = ls->loop;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(ls->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop accepting for a moment instead of spinning on a
                 * level-triggered listener that stays readable. */
                LOG_WARN("loop", "accept: %s; pausing accepts for %d ms", strerror(errno),
                         ACCEPT_BACKOFF_MS);
                l->stats.conns_rejected++;
                ls->paused = 1;
                struct epoll_event e = {.events = 0, .data.ptr = ls};
                epoll_ctl(l->epfd, EPOLL_CTL_MOD, ls->fd, &e);
                loop_timer_start(l, &ls->backoff, ACCEPT_BACKOFF_MS, listener_resume);
                return;
            }
            LOG_WARN("loop", "accept: %s", strerror(errno));
            return;
        }
        struct in6_addr peer;
        memset(&peer, 0, sizeof peer);
        if (ss.ss_family == AF_INET6) {
            peer = ((struct sockaddr_in6 *)&ss)->sin6_addr;
        } else {
            peer.s6_addr[10] = peer.s6_addr[11] = 0xff;
            memcpy(&peer.s6_addr[12], &((struct sockaddr_in *)&ss)->sin_addr, 4);
        }
        if (!ipcount_acquire(&peer)) {
            l->stats.conns_rejected++;
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *c = conn_new(l, fd, &ss);
        if (!c) {
            ipcount_release(&peer);
            close(fd);
            continue;
        }
        if (l->cfg.tls_ctx) {
            c->ssl = SSL_new(l->cfg.tls_ctx);
            if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
                conn_free(c);
                continue;
            }
            SSL_set_accept_state(c->ssl);
        }
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
            conn_free(c);
            continue;
        }
        l->stats.conns_accepted++;
        ls->on_accept(c, ls->arg);
        if (!c->h) conn_close(c, RS_EINVAL);
    }
}

int loop_add_listener(loop_t *l, int fd, void (*on_accept)(conn_t *c, void *arg), void *arg)
{
    struct listener *ls = calloc(1, sizeof *ls);
    struct listener **arr = realloc(l->listeners, (l->num_listeners + 1) * sizeof *arr);
    if (!ls || !arr) {
        free(ls);
        if (arr) l->listeners = arr;
        return RS_ENOMEM;
    }
    l->listeners = arr;
    ls->kind = SRC_LISTENER;
    ls->fd = fd;
    ls->on_accept = on_accept;
    ls->arg = arg;
    ls->loop = l;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = ls};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
        free(ls);
        return RS_EIO;
    }
    l->listeners[l->num_listeners++] = ls;
    return 0;
}

/* ---- the loop ---- */

static void begin_stop(loop_t *l)
{
    l->stopping = 1;
    l->stop_deadline = l->now + (uint64_t)__atomic_load_n(&l->stop_grace_ms, __ATOMIC_RELAXED);
    for (size_t i = 0; i < l->num_listeners; i++) {
        struct listener *ls = l->listeners[i];
        loop_timer_stop(l, &ls->backoff);
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, ls->fd, NULL);
        close(ls->fd);
        ls->fd = -1;
    }
    if (l->stop_hook) l->stop_hook(l, l->stop_hook_arg);
    for (conn_t *c = l->all, *next; c; c = next) {
        next = c->next;
        if (c->flags & CF_CLOSING) continue;
        if (c->h && c->h->on_stop) c->h->on_stop(c);
        else conn_close(c, 0);
    }
}

int loop_run(loop_t *l)
{
    current_loop = l;
    struct epoll_event events[256];
    for (;;) {
        int timeout = -1;
        if (l->defers_n || l->dirty) timeout = 0;
        else if (l->heap_n) {
            uint64_t at = l->heap[0]->at;
            timeout = at <= l->now ? 0 : (int)(at - l->now > 60000 ? 60000 : at - l->now);
        }
        if (l->stopping) {
            uint64_t left = l->stop_deadline > l->now ? l->stop_deadline - l->now : 0;
            if (timeout < 0 || (uint64_t)timeout > left) timeout = (int)left;
        }
        int n = epoll_wait(l->epfd, events, 256, timeout);
        if (n < 0 && errno != EINTR) {
            LOG_ERROR("loop", "epoll_wait: %s", strerror(errno));
            current_loop = NULL;
            return RS_EIO;
        }
        l->now = monotonic_ms();
        for (int i = 0; i < n; i++) {
            int kind = *(int *)events[i].data.ptr;
            if (kind == SRC_CONN) {
                conn_t *c = events[i].data.ptr;
                if (c->flags & (CF_QUEUED | CF_MIGRATE)) continue;
                uint32_t ev = events[i].events;
                if ((ev & EPOLLOUT) && (c->flags & CF_TLS_READ_OUT)) ev |= EPOLLIN;
                if (ev & EPOLLOUT) conn_flush(c);
                if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                    if (!(c->flags & (CF_CLOSING | CF_PAUSED | CF_EOF))) conn_on_readable(c);
                    else if (ev & (EPOLLHUP | EPOLLERR)) conn_close(c, RS_EIO);
                }
            } else if (kind == SRC_LISTENER) {
                listener_on_readable(events[i].data.ptr);
            } else {
                run_posts(l);
            }
        }
        if (!l->stopping && __atomic_load_n(&l->stop_requested, __ATOMIC_ACQUIRE)) begin_stop(l);
        run_timers(l);
        run_defers(l);
        flush_dirty(l);
        close_phase(l);
        if (l->stopping) {
            if (l->nconns == 0) break;
            if (l->now >= l->stop_deadline) {
                for (conn_t *c = l->all; c; c = c->next) conn_close(c, RS_ECLOSED);
                for (conn_t *c = l->all; c; c = c->next)
                    if (c->flags & CF_DRAIN) {
                        c->flags &= ~CF_DRAIN;
                        queue_close(c);
                    }
                close_phase(l);
                break;
            }
        }
    }
    /* Posts that arrived during shutdown still run, so their args are released. */
    run_posts(l);
    run_defers(l);
    current_loop = NULL;
    return 0;
}
