/* loadgen.c - roost's load generator: raw TCP, WebSocket and Socket.IO (over WebSocket and
 * over HTTP long-polling) clients by the thousand, on loopback only.
 *
 * Modes
 *   echo    once every connection is up, each keeps -d messages of -s bytes in flight and
 *           sends one more for each reply; reports replies per second and the round-trip
 *           latency histogram.
 *   idle    opens -c connections to the fully connected state (Socket.IO: CONNECT answered),
 *           answers heartbeats, and reports the server's RSS growth per connection, sampled
 *           from /proc/<-p PID>/status before connecting and -W seconds after the last one.
 *   fanout  -c members; member 0 also emits `broadcast` (raw TCP: -s bytes) -k times, one
 *           round at a time; reports the time until the LAST member has the message.
 *   storm   -c handshakes in flight at all times; each connection is closed once its
 *           handshake completes and a new one replaces it; reports handshakes per second.
 *
 * With -p PID, echo and storm runs also report the server's CPU time (user + system, all its
 * threads, from /proc/PID/stat) spent during the measurement window, and that time divided
 * by the messages or handshakes measured: what one costs the server, whoever the bottleneck.
 *
 * TLS (-L): every connection (both of a long-polling session) runs TLS over TCP before
 * anything else, with OpenSSL's defaults (TLS 1.3 when the server offers it) and no session
 * resumption, so that every handshake is a full one: the cost of a new client, not of a
 * returning one. The server's certificate is NOT verified: the targets are loopback only and
 * the certificates throwaway self-signed ones; this measures cost, it authenticates nothing.
 *
 * Several targets (-a repeated, up to 8: the nodes of one cluster): connection i goes to
 * target i mod N, so connection 0 (the fan-out emitter) is on the first.
 *
 * Threads: -t workers, each with its own epoll loop and a slice of the connections (member 0
 * is on worker 0), pinned one per CPU of the process's affinity mask (taskset) when it has
 * enough CPUs. Every run ends by itself within -T seconds: the connect phase gets what is
 * left after the warm-up (-W) and measurement (-M) windows, and a run that does not finish
 * in time still prints its result, with "timeout":true.
 *
 * Limits: one process holds at most RLIMIT_NOFILE descriptors (raised to the hard limit,
 * 20,000 on the reference machine): one per connection (two per long-polling session: the
 * long GET and the POST) plus a few per thread. 19,000 WebSocket connections fit in one
 * process; beyond that run two processes and add their results.
 * Source addresses rotate over 127.0.0.1 .. 127.0.0.N (-S N) so that the four-tuples of one
 * target port are not limited to one address's ~28,000 ephemeral ports.
 * Targets outside 127.0.0.0/8 and ::1 are refused: this tool must never load another host.
 *
 * Output: one JSON object on one line on stdout; diagnostics on stderr.
 * Build: cc -O2 loadgen.c hist.c -lpthread -lssl -lcrypto */
#define _GNU_SOURCE
#include "hist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECV_CHUNK      (64 * 1024)
#define MAX_REPLY       (16 * 1024 * 1024) /* a reply bigger than this is a broken server */
#define MAX_DEPTH       4096
#define MAX_PAYLOAD     (1024 * 1024)
#define MAX_SRCS        65000
#define EVENTS_PER_WAIT 512
#define ROUND_TIMEOUT   (10 * NS_PER_S) /* a fan-out round lost for longer is a failure */
#define ROUND_GAP       (20 * NS_PER_MS)
#define NS_PER_S        1000000000ull
#define NS_PER_MS       1000000ull
#define MAX_TARGETS     8

enum proto { PROTO_TCP, PROTO_WS, PROTO_SIO, PROTO_SIO_POLL };
enum mode { MODE_ECHO, MODE_IDLE, MODE_FANOUT, MODE_STORM };
enum phase { PHASE_CONNECT, PHASE_WARMUP, PHASE_MEASURE, PHASE_DONE };

static const char *const proto_names[] = {"tcp", "ws", "sio", "sio-poll"};
static const char *const mode_names[] = {"echo", "idle", "fanout", "storm"};

/* Where a session is in its handshake; only READY sessions carry load. */
enum sess_state {
    ST_NEW,         /* not started (or closed in storm mode, waiting to restart) */
    ST_CONNECTING,  /* TCP connect in progress */
    ST_UPGRADING,   /* HTTP upgrade (or polling handshake GET) sent, reply pending */
    ST_EIO_OPEN,    /* WebSocket up, waiting for the Engine.IO open packet */
    ST_SIO_CONNECT, /* Socket.IO CONNECT sent, waiting for its answer */
    ST_READY,
    ST_DEAD,
};

enum sock_role { ROLE_MAIN, ROLE_POST };

struct session;

/* One TCP connection. Long-polling sessions have two: the GET loop (main) and the POSTs. */
struct sock {
    int fd;
    uint8_t role;
    bool connecting;
    bool busy;     /* polling: an HTTP request is in flight on this connection */
    bool want_out; /* EPOLLOUT is armed after a short write */
    bool dirty;    /* on the worker's flush list */
    bool tls_hs;   /* TCP is up, the TLS handshake is not done yet */
    SSL *ssl;      /* -L: the TLS session over fd, else NULL */
    struct session *sess;
    char *in; /* unparsed bytes left over from earlier reads */
    size_t in_len, in_cap;
    char *out; /* bytes not yet written */
    size_t out_off, out_len, out_cap;
};

struct session {
    struct sock main;
    struct sock post;
    struct worker *w;
    uint32_t idx; /* global index; 0 is the fan-out emitter */
    uint8_t state;
    uint8_t tgt;       /* index into opts.targets: idx mod the number of targets */
    uint32_t mask;     /* WebSocket masking key, varied per frame */
    uint64_t t_start;  /* handshake start, for storm latencies */
    uint32_t inflight; /* echo messages sent and not yet answered */
    uint32_t ts_head;  /* ring of send times: oldest at ts_head */
    uint64_t *ts;      /* [depth] */
    uint64_t tcp_rx;   /* raw TCP: bytes received towards the next whole message */
    char sid[64];      /* long-polling session id */
    char *postq;       /* long-polling: packets waiting for the next POST, \x1e-joined */
    size_t postq_len, postq_cap;
};

struct target {
    struct sockaddr_storage addr;
    socklen_t len;
    char text[80];
};

struct opts {
    enum proto proto;
    enum mode mode;
    struct target targets[MAX_TARGETS];
    int ntargets;
    bool tls;
    const char *path;
    const char *nsp;
    const char *label;
    int conns, threads, depth, size, srcs, ramp, rounds;
    double total_s, warmup_s, measure_s;
    pid_t pid;
};

struct worker {
    int id;
    int epfd;
    int wakefd;
    pthread_t thread;
    struct session *sess;
    uint32_t nsess;
    uint32_t next_start; /* sessions below this index have been started once */
    uint32_t handshaking;
    uint32_t src_rr;
    char *rbuf;
    char *body; /* a de-chunked HTTP body */
    size_t body_len, body_cap;
    struct sock **dirty;
    uint32_t ndirty;
    struct session **restart;
    uint32_t nrestart;
    lat_hist_t hist;
    uint64_t msgs; /* replies (echo), handshakes (storm) counted while measuring */
    uint64_t errors;
    uint64_t bytes_in;
    bool echo_started;
    /* fan-out driver state; used by worker 0 only */
    uint32_t round;
    bool round_active;
    uint64_t round_sent_at;
    uint64_t next_round_at;
};

/* State shared by all threads. Counters are atomics; everything else is written by main()
 * before the workers start. */
static struct {
    struct opts o;
    _Atomic int phase;
    _Atomic uint32_t ready;
    _Atomic uint32_t gone; /* sessions that died (not in storm mode) */
    _Atomic uint64_t fan_got;
    _Atomic uint64_t fan_last_at;
    _Atomic int fan_done;
    _Atomic uint32_t fan_members;
    uint64_t *fan_times;            /* [rounds], time to the last member */
    _Atomic uint32_t fan_completed; /* rounds done; written by worker 0, watched by main() */
    _Atomic int fan_failed;
    struct worker *workers;
    SSL_CTX *tls_ctx; /* -L: shared by every worker (OpenSSL allows it) */
    char *payload;    /* -s bytes of JSON-safe text */
    char *sio_msg;    /* Engine.IO packet sent in echo mode */
    size_t sio_msg_len;
    char *sio_bcast; /* Engine.IO packet sent in fan-out mode */
    size_t sio_bcast_len;
    char sio_prefix[80]; /* "42" or "42/custom," */
    size_t sio_prefix_len;
    size_t sio_reply_len; /* exact length of a message-back packet */
} g;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* ---- buffers ---------------------------------------------------------------------------- */

/* Grows *buf so that `extra` more bytes fit after *len. Returns 0 or -1 (out of memory / cap). */
static int grow(char **buf, size_t *cap, size_t len, size_t extra)
{
    if (len + extra <= *cap) return 0;
    if (len + extra > MAX_REPLY) return -1;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < len + extra) ncap *= 2;
    char *n = realloc(*buf, ncap);
    if (!n) return -1;
    *buf = n;
    *cap = ncap;
    return 0;
}

/* The flush list holds every socket of the worker at most once (two per session), so it is
 * sized once at start-up and never grows. */
static void mark_dirty(struct sock *s)
{
    struct worker *w = s->sess->w;
    if (s->dirty) return;
    s->dirty = true;
    w->dirty[w->ndirty++] = s;
}

/* Queues bytes on s; they go out when the worker flushes at the end of its iteration. */
static int sock_put(struct sock *s, const void *data, size_t len)
{
    if (s->out_off && s->out_off == s->out_len) s->out_off = s->out_len = 0;
    if (grow(&s->out, &s->out_cap, s->out_len, len) < 0) return -1;
    memcpy(s->out + s->out_len, data, len);
    s->out_len += len;
    mark_dirty(s);
    return 0;
}

/* Appends one masked client frame (RFC 6455 section 5.3: clients must mask). */
static int ws_put_frame(struct session *ss, int opcode, const char *data, size_t len)
{
    struct sock *s = &ss->main;
    uint8_t head[14];
    size_t hl = 0;
    head[hl++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        head[hl++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        head[hl++] = 0x80 | 126;
        head[hl++] = (uint8_t)(len >> 8);
        head[hl++] = (uint8_t)len;
    } else {
        head[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) head[hl++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    /* xorshift: a different key per frame, cheap and good enough for a load generator */
    uint32_t m = ss->mask;
    m ^= m << 13;
    m ^= m >> 17;
    m ^= m << 5;
    ss->mask = m;
    uint8_t key[4] = {(uint8_t)(m >> 24), (uint8_t)(m >> 16), (uint8_t)(m >> 8), (uint8_t)m};
    memcpy(head + hl, key, 4);
    hl += 4;
    if (s->out_off && s->out_off == s->out_len) s->out_off = s->out_len = 0;
    if (grow(&s->out, &s->out_cap, s->out_len, hl + len) < 0) return -1;
    char *dst = s->out + s->out_len;
    memcpy(dst, head, hl);
    dst += hl;
    for (size_t i = 0; i < len; i++) dst[i] = (char)(data[i] ^ key[i & 3]);
    s->out_len += hl + len;
    mark_dirty(s);
    return 0;
}

/* ---- sockets ---------------------------------------------------------------------------- */

static void sock_close(struct sock *s)
{
    /* no close_notify: a storm client closes the way a plain one does, with a FIN only */
    if (s->ssl) SSL_free(s->ssl);
    s->ssl = NULL;
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    s->connecting = s->busy = s->want_out = s->tls_hs = false;
    s->in_len = 0;
    s->out_off = s->out_len = 0;
}

static int sock_open(struct sock *s)
{
    struct worker *w = s->sess->w;
    const struct opts *o = &g.o;
    const struct target *t = &o->targets[s->sess->tgt];
    int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (t->addr.ss_family == AF_INET && o->srcs > 1) {
        /* defer the port choice to connect(): ports are then unique per four-tuple, not per
         * source address, so every source address gets the whole ephemeral range */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in src = {.sin_family = AF_INET};
        uint32_t k = (s->sess->idx + w->src_rr++) % (uint32_t)o->srcs;
        src.sin_addr.s_addr = htonl(0x7f000001u + k);
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) goto fail;
    }
    if (connect(fd, (const struct sockaddr *)&t->addr, t->len) < 0 && errno != EINPROGRESS)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = s};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) goto fail;
    s->fd = fd;
    s->connecting = true;
    s->want_out = true;
    return 0;
fail:
    close(fd);
    return -1;
}

static void sock_want_out(struct sock *s, bool on)
{
    if (s->want_out == on || s->fd < 0) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = s};
    epoll_ctl(s->sess->w->epfd, EPOLL_CTL_MOD, s->fd, &ev);
    s->want_out = on;
}

/* One write of queued bytes, through TLS with -L. Returns bytes written, or -1 with errno
 * EAGAIN (wait for EPOLLOUT; TLS asking to read first waits for the next EPOLLIN, which
 * re-marks the socket) or another error. */
static ssize_t sock_write(struct sock *s, const char *p, size_t n)
{
    if (!s->ssl) return write(s->fd, p, n);
    ERR_clear_error();
    int rc = SSL_write(s->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (rc > 0) return rc;
    int e = SSL_get_error(s->ssl, rc);
    errno = e == SSL_ERROR_WANT_WRITE ? EAGAIN : e == SSL_ERROR_WANT_READ ? EINPROGRESS : EPIPE;
    return -1;
}

/* Writes what s has queued. Returns 0, or -1 when the connection failed. */
static int sock_flush(struct sock *s)
{
    if (s->fd < 0 || s->connecting || s->tls_hs) return 0;
    while (s->out_off < s->out_len) {
        ssize_t n = sock_write(s, s->out + s->out_off, s->out_len - s->out_off);
        if (n > 0) {
            s->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            sock_want_out(s, true);
            return 0;
        }
        if (n < 0 && errno == EINPROGRESS) return 0; /* TLS wants to read first */
        return -1;
    }
    s->out_off = s->out_len = 0;
    sock_want_out(s, false);
    return 0;
}

/* ---- sessions --------------------------------------------------------------------------- */

static int phase(void)
{
    return atomic_load_explicit(&g.phase, memory_order_acquire);
}

static void session_fail(struct session *ss, const char *why)
{
    struct worker *w = ss->w;
    if (ss->state == ST_DEAD || ss->state == ST_NEW) return;
    bool was_ready = ss->state == ST_READY;
    if (g.o.mode != MODE_STORM || was_ready || phase() < PHASE_DONE) {
        w->errors++;
        if (w->errors <= 3) fprintf(stderr, "loadgen: connection %u: %s\n", ss->idx, why);
    }
    if (was_ready)
        atomic_fetch_sub(&g.ready, 1);
    else if (w->handshaking)
        w->handshaking--;
    if (g.o.mode != MODE_STORM) atomic_fetch_add(&g.gone, 1);
    sock_close(&ss->main);
    sock_close(&ss->post);
    ss->state = ST_DEAD;
    if (g.o.mode == MODE_STORM) { /* keep the offered load constant */
        ss->state = ST_NEW;
        w->restart[w->nrestart++] = ss;
    }
}

static int session_start(struct session *ss)
{
    ss->state = ST_CONNECTING;
    ss->t_start = now_ns();
    ss->inflight = 0;
    ss->ts_head = 0;
    ss->tcp_rx = 0;
    ss->postq_len = 0;
    ss->sid[0] = 0;
    sock_close(&ss->main); /* drops bytes queued after an earlier close */
    sock_close(&ss->post);
    ss->w->handshaking++;
    if (sock_open(&ss->main) < 0) {
        ss->w->handshaking--;
        ss->state = ST_DEAD;
        ss->w->errors++;
        if (g.o.mode != MODE_STORM) atomic_fetch_add(&g.gone, 1);
        if (ss->w->errors <= 3) perror("loadgen: connect");
        return -1;
    }
    return 0;
}

static int send_http_get(struct session *ss, bool upgrade)
{
    char req[512];
    const struct opts *o = &g.o;
    const char *host = o->targets[ss->tgt].text;
    int n;
    if (o->proto == PROTO_WS)
        n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     o->path, host);
    else if (upgrade)
        n = snprintf(req, sizeof(req),
                     "GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     o->path, host);
    else if (ss->sid[0])
        n = snprintf(req, sizeof(req),
                     "GET %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\n\r\n", o->path,
                     ss->sid, host);
    else
        n = snprintf(req, sizeof(req),
                     "GET %s?EIO=4&transport=polling HTTP/1.1\r\nHost: %s\r\n\r\n", o->path, host);
    if (n < 0 || (size_t)n >= sizeof(req)) return -1;
    ss->main.busy = true;
    return sock_put(&ss->main, req, (size_t)n);
}

/* Long-polling: sends the queued packets in one POST when none is in flight. */
static int poll_kick_post(struct session *ss)
{
    struct sock *p = &ss->post;
    if (ss->postq_len == 0 || p->busy) return 0;
    if (p->fd < 0) {
        if (sock_open(p) < 0) return -1;
        return 0; /* the POST goes out when the connect completes */
    }
    if (p->connecting) return 0;
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "POST %s?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\n"
                     "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n",
                     g.o.path, ss->sid, g.o.targets[ss->tgt].text, ss->postq_len);
    if (n < 0 || (size_t)n >= sizeof(head)) return -1;
    if (sock_put(p, head, (size_t)n) < 0 || sock_put(p, ss->postq, ss->postq_len) < 0) return -1;
    ss->postq_len = 0;
    p->busy = true;
    return 0;
}

/* Sends one Engine.IO packet over the session's transport. */
static int eio_send(struct session *ss, const char *pkt, size_t len)
{
    if (g.o.proto == PROTO_SIO) return ws_put_frame(ss, 0x1, pkt, len);
    size_t extra = len + (ss->postq_len ? 1 : 0);
    if (grow(&ss->postq, &ss->postq_cap, ss->postq_len, extra) < 0) return -1;
    if (ss->postq_len) ss->postq[ss->postq_len++] = '\x1e';
    memcpy(ss->postq + ss->postq_len, pkt, len);
    ss->postq_len += len;
    return poll_kick_post(ss);
}

/* Sends one echo message and remembers when, for the round-trip time. */
static int echo_send(struct session *ss, uint64_t now)
{
    uint32_t slot = (ss->ts_head + ss->inflight) % (uint32_t)g.o.depth;
    ss->ts[slot] = now;
    ss->inflight++;
    switch (g.o.proto) {
    case PROTO_TCP:
        return sock_put(&ss->main, g.payload, (size_t)g.o.size);
    case PROTO_WS:
        return ws_put_frame(ss, 0x1, g.payload, (size_t)g.o.size);
    default:
        return eio_send(ss, g.sio_msg, g.sio_msg_len);
    }
}

static void echo_start(struct session *ss, uint64_t now);

static void on_ready(struct session *ss, uint64_t now)
{
    struct worker *w = ss->w;
    ss->state = ST_READY;
    if (w->handshaking) w->handshaking--;
    if (g.o.mode == MODE_STORM) {
        if (phase() == PHASE_MEASURE) {
            w->msgs++;
            lat_hist_record(&w->hist, now - ss->t_start);
        }
        sock_close(&ss->main);
        sock_close(&ss->post);
        ss->state = ST_NEW;
        w->restart[w->nrestart++] = ss;
        return;
    }
    atomic_fetch_add(&g.ready, 1);
    /* echo load starts when every connection is up (see echo_start_all): load during the
     * connect phase would slow the handshakes of a busy server without bound */
    if (g.o.mode == MODE_ECHO && w->echo_started) echo_start(ss, now);
}

static void echo_start(struct session *ss, uint64_t now)
{
    for (int i = 0; i < g.o.depth; i++)
        if (echo_send(ss, now) < 0) {
            session_fail(ss, "out of memory");
            return;
        }
}

static void echo_start_all(struct worker *w)
{
    uint64_t now = now_ns();
    w->echo_started = true;
    for (uint32_t i = 0; i < w->nsess; i++)
        if (w->sess[i].state == ST_READY) echo_start(&w->sess[i], now);
}

static void on_echo_reply(struct session *ss, uint64_t now)
{
    struct worker *w = ss->w;
    if (g.o.mode == MODE_FANOUT) {
        uint64_t got = atomic_fetch_add(&g.fan_got, 1) + 1;
        if (got == g.fan_members) {
            atomic_store(&g.fan_last_at, now);
            atomic_store(&g.fan_done, 1);
            uint64_t one = 1;
            if (write(g.workers[0].wakefd, &one, sizeof(one)) < 0) { /* it polls anyway */
            }
        }
        return;
    }
    if (g.o.mode != MODE_ECHO || ss->inflight == 0) return;
    uint64_t sent = ss->ts[ss->ts_head];
    ss->ts_head = (ss->ts_head + 1) % (uint32_t)g.o.depth;
    ss->inflight--;
    if (phase() == PHASE_MEASURE) {
        w->msgs++;
        lat_hist_record(&w->hist, now - sent);
    }
    if (phase() < PHASE_DONE && echo_send(ss, now) < 0) session_fail(ss, "out of memory");
}

/* ---- Engine.IO / Socket.IO packets ------------------------------------------------------ */

static int sio_connect_packet(struct session *ss)
{
    char pkt[96];
    int n;
    if (strcmp(g.o.nsp, "/") == 0)
        n = snprintf(pkt, sizeof(pkt), "40");
    else
        n = snprintf(pkt, sizeof(pkt), "40%s,", g.o.nsp);
    return eio_send(ss, pkt, (size_t)n);
}

/* Handles one Engine.IO packet from the server. Returns 0, or -1 when the session failed. */
static int eio_packet(struct session *ss, const char *p, size_t n, uint64_t now)
{
    if (n == 0) return 0;
    switch (p[0]) {
    case '0': /* open */
        if (ss->state != ST_EIO_OPEN) return 0;
        ss->state = ST_SIO_CONNECT;
        return sio_connect_packet(ss);
    case '1':
        session_fail(ss, "server closed the Engine.IO session");
        return -1;
    case '2': /* heartbeat: the server pings, the client answers */
        return eio_send(ss, "3", 1);
    case '4':
        break;
    default:
        return 0;
    }
    if (n < 2) return 0;
    const char *body = p + 2;
    size_t blen = n - 2;
    if (blen && body[0] == '/') { /* namespace: skip to its comma */
        const char *comma = memchr(body, ',', blen);
        if (!comma) return 0;
        blen -= (size_t)(comma + 1 - body);
        body = comma + 1;
    }
    switch (p[1]) {
    case '0':
        if (ss->state == ST_SIO_CONNECT) on_ready(ss, now);
        return 0;
    case '1':
        session_fail(ss, "server disconnected the Socket.IO namespace");
        return -1;
    case '4':
        session_fail(ss, "Socket.IO CONNECT refused");
        return -1;
    case '2':
        if (ss->state != ST_READY) return 0;
        if (g.o.mode == MODE_FANOUT) {
            if (blen > 17 && memcmp(body, "[\"broadcast-back\"", 17) == 0) on_echo_reply(ss, now);
        } else if (blen > 15 && memcmp(body, "[\"message-back\"", 15) == 0) {
            if (n != g.sio_reply_len) ss->w->errors++;
            on_echo_reply(ss, now);
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- WebSocket frames from the server --------------------------------------------------- */

/* Parses the frames in p[0..n). Returns bytes consumed, or -1 when the session failed. */
static ssize_t ws_consume(struct session *ss, const char *p, size_t n, uint64_t now)
{
    size_t off = 0;
    while (n - off >= 2) {
        const uint8_t *h = (const uint8_t *)p + off;
        int opcode = h[0] & 0x0f;
        if (h[1] & 0x80) {
            session_fail(ss, "masked frame from the server");
            return -1;
        }
        uint64_t len = h[1] & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (n - off < 4) break;
            len = ((uint64_t)h[2] << 8) | h[3];
            hl = 4;
        } else if (len == 127) {
            if (n - off < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i];
            hl = 10;
        }
        if (len > MAX_REPLY) {
            session_fail(ss, "frame too big");
            return -1;
        }
        if (n - off - hl < len) break;
        const char *pl = p + off + hl;
        off += hl + (size_t)len;
        switch (opcode) {
        case 0x8:
            session_fail(ss, "server sent close");
            return -1;
        case 0x9:
            if (ws_put_frame(ss, 0xA, pl, (size_t)len) < 0) return -1;
            break;
        case 0xA:
            break;
        default: /* text, binary, continuation: the servers here send whole messages */
            if (g.o.proto == PROTO_WS) {
                if (ss->state != ST_READY) break;
                if (len != (uint64_t)g.o.size && g.o.mode == MODE_ECHO) ss->w->errors++;
                on_echo_reply(ss, now);
            } else if (eio_packet(ss, pl, (size_t)len, now) < 0) {
                return -1;
            }
        }
    }
    return (ssize_t)off;
}

/* ---- HTTP responses --------------------------------------------------------------------- */

/* Parses a response head. Returns the head's length, 0 when incomplete, -1 when malformed;
 * sets *status, *body_len (0 when absent) and *chunked (Transfer-Encoding: chunked). */
static ssize_t http_head(const char *p, size_t n, int *status, size_t *body_len, bool *chunked)
{
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end) return n > 16384 ? -1 : 0;
    if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0) return -1;
    *status = atoi(p + 9);
    *body_len = 0;
    *chunked = false;
    const char *line = memchr(p, '\n', (size_t)(end - p));
    while (line && line < end) {
        line++;
        size_t left = (size_t)(end - line);
        const char *eol = memchr(line, '\r', left);
        size_t ll = eol ? (size_t)(eol - line) : left;
        if (ll >= 15 && strncasecmp(line, "content-length:", 15) == 0)
            *body_len = strtoull(line + 15, NULL, 10);
        if (ll >= 18 && strncasecmp(line, "transfer-encoding:", 18) == 0)
            *chunked = memmem(line, ll, "chunked", 7) != NULL;
        line = memchr(line, '\n', left);
    }
    if (*body_len > MAX_REPLY) return -1;
    return end + 4 - p;
}

/* Decodes a chunked body from p[0..n) into the worker's scratch buffer. Returns the bytes it
 * spans when complete, 0 when incomplete, -1 when malformed (trailers are not supported). */
static ssize_t http_chunked(struct worker *w, const char *p, size_t n)
{
    size_t off = 0;
    w->body_len = 0;
    for (;;) {
        const char *eol = memmem(p + off, n - off, "\r\n", 2);
        if (!eol) return n - off > 32 ? -1 : 0;
        char *end;
        unsigned long long size = strtoull(p + off, &end, 16);
        if (end == p + off || (end != eol && *end != ';') || size > MAX_REPLY) return -1;
        off = (size_t)(eol + 2 - p);
        if (n - off < size + 2) return 0;
        if (size == 0) return memcmp(p + off, "\r\n", 2) == 0 ? (ssize_t)(off + 2) : -1;
        if (grow(&w->body, &w->body_cap, w->body_len, size) < 0) return -1;
        memcpy(w->body + w->body_len, p + off, size);
        w->body_len += size;
        off += size;
        if (memcmp(p + off, "\r\n", 2) != 0) return -1;
        off += 2;
    }
}

/* Long-polling GET answer: splits the payload on the record separator. */
static int poll_payload(struct session *ss, const char *body, size_t len, uint64_t now)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && body[i] != '\x1e') continue;
        const char *pkt = body + start;
        size_t plen = i - start;
        start = i + 1;
        if (ss->state == ST_UPGRADING) { /* handshake: 0{"sid":"…",…} */
            const char *k = memmem(pkt, plen, "\"sid\":\"", 7);
            if (plen < 2 || pkt[0] != '0' || !k) {
                session_fail(ss, "bad Engine.IO handshake");
                return -1;
            }
            k += 7;
            size_t sl = 0;
            while (k + sl < pkt + plen && k[sl] != '"' && sl < sizeof(ss->sid) - 1) sl++;
            memcpy(ss->sid, k, sl);
            ss->sid[sl] = 0;
            ss->state = ST_SIO_CONNECT;
            if (sio_connect_packet(ss) < 0) return -1;
            continue;
        }
        if (eio_packet(ss, pkt, plen, now) < 0) return -1;
    }
    return 0;
}

/* Parses HTTP responses on a long-polling connection. Returns bytes consumed or -1. */
static ssize_t poll_consume(struct sock *s, const char *p, size_t n, uint64_t now)
{
    struct session *ss = s->sess;
    size_t off = 0;
    while (off < n) {
        int status = 0;
        size_t blen = 0;
        bool chunked;
        ssize_t hl = http_head(p + off, n - off, &status, &blen, &chunked);
        if (hl < 0) {
            session_fail(ss, "bad HTTP response");
            return -1;
        }
        if (hl == 0) break;
        const char *body = p + off + hl;
        if (chunked) {
            ssize_t span = http_chunked(ss->w, body, n - off - (size_t)hl);
            if (span < 0) {
                session_fail(ss, "bad chunked HTTP body");
                return -1;
            }
            if (span == 0) break;
            off += (size_t)hl + (size_t)span;
            body = ss->w->body;
            blen = ss->w->body_len;
        } else {
            if (n - off - (size_t)hl < blen) break;
            off += (size_t)hl + blen;
        }
        if (status != 200) {
            session_fail(ss, "HTTP error on long-polling");
            return -1;
        }
        s->busy = false;
        if (s->role == ROLE_POST) {
            if (poll_kick_post(ss) < 0) return -1;
            continue;
        }
        if (poll_payload(ss, body, blen, now) < 0) return -1;
        if (ss->state == ST_DEAD || ss->state == ST_NEW || s->fd < 0) return -1;
        if (send_http_get(ss, false) < 0) return -1; /* the next long poll */
    }
    return (ssize_t)off;
}

/* ---- reading ---------------------------------------------------------------------------- */

static ssize_t consume(struct sock *s, const char *p, size_t n, uint64_t now)
{
    struct session *ss = s->sess;
    switch (g.o.proto) {
    case PROTO_TCP: {
        ss->tcp_rx += n;
        uint64_t whole = ss->tcp_rx / (uint64_t)g.o.size;
        ss->tcp_rx %= (uint64_t)g.o.size;
        for (uint64_t i = 0; i < whole && ss->state == ST_READY; i++) on_echo_reply(ss, now);
        return (ssize_t)n;
    }
    case PROTO_SIO_POLL:
        return poll_consume(s, p, n, now);
    default:
        break;
    }
    size_t off = 0;
    if (ss->state == ST_UPGRADING) {
        int status = 0;
        size_t blen = 0;
        bool chunked;
        ssize_t hl = http_head(p, n, &status, &blen, &chunked);
        if (hl == 0) return 0;
        if (hl < 0 || status != 101) {
            session_fail(ss, "WebSocket upgrade refused");
            return -1;
        }
        off = (size_t)hl;
        ss->main.busy = false;
        if (g.o.proto == PROTO_WS)
            on_ready(ss, now);
        else
            ss->state = ST_EIO_OPEN;
        if (ss->state == ST_NEW) return -1; /* storm: closed and queued for restart */
    }
    ssize_t used = ws_consume(ss, p + off, n - off, now);
    return used < 0 ? -1 : (ssize_t)off + used;
}

/* One read, through TLS with -L. Returns bytes read, 0 at the end of the stream, or -1 with
 * errno EAGAIN (nothing yet) or another error. */
static ssize_t sock_read(struct sock *s, char *buf, size_t cap)
{
    if (!s->ssl) return read(s->fd, buf, cap);
    ERR_clear_error();
    int rc = SSL_read(s->ssl, buf, (int)cap);
    if (rc > 0) return rc;
    switch (SSL_get_error(s->ssl, rc)) {
    case SSL_ERROR_ZERO_RETURN: /* close_notify, or a bare FIN (SSL_OP_IGNORE_UNEXPECTED_EOF) */
        return 0;
    case SSL_ERROR_WANT_WRITE: /* a TLS 1.3 KeyUpdate answer; servers here never ask */
        sock_want_out(s, true);
        /* fall through */
    case SSL_ERROR_WANT_READ: /* a partial record, or a post-handshake message (tickets) */
        errno = EAGAIN;
        return -1;
    default:
        errno = EPROTO;
        return -1;
    }
}

static void on_input(struct worker *w, struct sock *s, ssize_t n, uint64_t now);

/* Reads once (level-triggered epoll comes back for the rest), and with TLS until OpenSSL holds
 * no decrypted bytes that epoll cannot see. */
static void on_readable(struct worker *w, struct sock *s, uint64_t now)
{
    do {
        on_input(w, s, sock_read(s, w->rbuf, RECV_CHUNK), now);
    } while (s->fd >= 0 && s->ssl && SSL_pending(s->ssl) > 0);
}

/* Handles the outcome n of one sock_read into w->rbuf. */
static void on_input(struct worker *w, struct sock *s, ssize_t n, uint64_t now)
{
    struct session *ss = s->sess;
    if (n == 0) {
        if (s->role == ROLE_POST && !s->busy) { /* keep-alive timeout: reopen when needed */
            sock_close(s);
            return;
        }
        session_fail(ss, "server closed the connection");
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        session_fail(ss, strerror(errno));
        return;
    }
    w->bytes_in += (uint64_t)n;
    const char *p = w->rbuf;
    size_t len = (size_t)n;
    if (s->in_len) { /* a partial frame is waiting: complete it in the session's buffer */
        if (grow(&s->in, &s->in_cap, s->in_len, len) < 0) {
            session_fail(ss, "reply too big");
            return;
        }
        memcpy(s->in + s->in_len, p, len);
        s->in_len += len;
        p = s->in;
        len = s->in_len;
    }
    ssize_t used = consume(s, p, len, now);
    if (used < 0 || s->fd < 0) return;
    size_t left = len - (size_t)used;
    if (left == 0) {
        s->in_len = 0;
        return;
    }
    if (p == s->in) {
        memmove(s->in, s->in + used, left);
    } else if (grow(&s->in, &s->in_cap, 0, left) < 0) {
        session_fail(ss, "reply too big");
        return;
    } else {
        memcpy(s->in, p + used, left);
    }
    s->in_len = left;
}

/* The connection carries bytes now (TCP connected, and TLS done with -L): start talking. */
static void on_transport_up(struct sock *s)
{
    struct session *ss = s->sess;
    if (s->role == ROLE_POST) {
        if (poll_kick_post(ss) < 0) session_fail(ss, "out of memory");
        return;
    }
    if (g.o.proto == PROTO_TCP) {
        on_ready(ss, now_ns());
        return;
    }
    ss->state = ST_UPGRADING;
    if (send_http_get(ss, g.o.proto == PROTO_SIO) < 0) session_fail(ss, "out of memory");
}

/* Advances the TLS handshake; called when the TCP connect completes and then on each event of
 * the socket until the handshake is done. EPOLLOUT is armed only while OpenSSL wants to write. */
static void tls_handshake(struct sock *s)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) {
        s->tls_hs = false;
        sock_want_out(s, false);
        on_transport_up(s);
        if (s->fd >= 0 && s->out_off < s->out_len) mark_dirty(s);
        return;
    }
    switch (SSL_get_error(s->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        sock_want_out(s, false);
        return;
    case SSL_ERROR_WANT_WRITE:
        sock_want_out(s, true);
        return;
    default: {
        char why[160];
        unsigned long e = ERR_peek_error();
        const char *r = e ? ERR_reason_error_string(e) : NULL;
        if (!r) r = e ? "?" : "connection closed";
        snprintf(why, sizeof(why), "TLS handshake failed: %s", r);
        session_fail(s->sess, why);
    }
    }
}

static void on_connected(struct sock *s)
{
    struct session *ss = s->sess;
    int err = 0;
    socklen_t el = sizeof(err);
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        session_fail(ss, strerror(err));
        return;
    }
    s->connecting = false;
    if (g.tls_ctx) {
        s->ssl = SSL_new(g.tls_ctx);
        if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1) {
            session_fail(ss, "cannot create the TLS session");
            return;
        }
        SSL_set_connect_state(s->ssl);
        s->tls_hs = true;
        tls_handshake(s);
        return;
    }
    sock_want_out(s, false);
    on_transport_up(s);
}

/* ---- worker loop ------------------------------------------------------------------------ */

/* Opens more connections while fewer than -b are between connect() and ready. */
static void ramp(struct worker *w)
{
    while (w->next_start < w->nsess && w->handshaking < (uint32_t)g.o.ramp && phase() < PHASE_DONE)
        session_start(&w->sess[w->next_start++]);
}

static void flush_dirty(struct worker *w)
{
    for (uint32_t i = 0; i < w->ndirty; i++) {
        struct sock *s = w->dirty[i];
        s->dirty = false;
        if (sock_flush(s) < 0) session_fail(s->sess, "write failed");
    }
    w->ndirty = 0;
}

/* Worker 0 drives the fan-out rounds: one broadcast at a time, the next only after every
 * member has the previous one. */
static void fanout_drive(struct worker *w, uint64_t now)
{
    if (phase() != PHASE_MEASURE) return;
    if (w->round_active) {
        if (atomic_load(&g.fan_done)) {
            uint64_t last = atomic_load(&g.fan_last_at);
            g.fan_times[atomic_load(&g.fan_completed)] = last - w->round_sent_at;
            atomic_fetch_add(&g.fan_completed, 1);
            w->round_active = false;
            w->round++;
            w->next_round_at = now + ROUND_GAP;
        } else if (now - w->round_sent_at > ROUND_TIMEOUT) {
            fprintf(stderr, "loadgen: fan-out round %u: %" PRIu64 " of %u members got it\n",
                    w->round, atomic_load(&g.fan_got), g.fan_members);
            atomic_store(&g.fan_failed, 1);
            atomic_store(&g.phase, PHASE_DONE);
        }
        return;
    }
    if (w->round >= (uint32_t)g.o.rounds || now < w->next_round_at) return;
    struct session *emitter = &w->sess[0];
    if (emitter->state != ST_READY) {
        atomic_store(&g.fan_failed, 1);
        atomic_store(&g.phase, PHASE_DONE);
        return;
    }
    atomic_store(&g.fan_got, 0);
    atomic_store(&g.fan_done, 0);
    int rc;
    if (g.o.proto == PROTO_TCP)
        rc = sock_put(&emitter->main, g.payload, (size_t)g.o.size);
    else if (g.o.proto == PROTO_WS)
        rc = ws_put_frame(emitter, 0x1, g.payload, (size_t)g.o.size);
    else
        rc = eio_send(emitter, g.sio_bcast, g.sio_bcast_len);
    w->round_sent_at = now_ns();
    w->round_active = true;
    if (rc < 0) session_fail(emitter, "out of memory");
    flush_dirty(w); /* out now: the clock is running */
}

/* One thread per core: worker i runs on the i-th CPU the process may use (taskset), when
 * there are at least as many CPUs as workers; otherwise the scheduler places them. */
static void pin_worker(const struct worker *w)
{
    cpu_set_t allowed, mine;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
    if (CPU_COUNT(&allowed) < g.o.threads) return;
    int seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (seen++ != w->id) continue;
        CPU_ZERO(&mine);
        CPU_SET(cpu, &mine);
        pthread_setaffinity_np(pthread_self(), sizeof(mine), &mine);
        return;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event ev[EVENTS_PER_WAIT];
    pin_worker(w);
    while (phase() < PHASE_DONE) {
        ramp(w);
        if (g.o.mode == MODE_ECHO && !w->echo_started && phase() >= PHASE_WARMUP) echo_start_all(w);
        flush_dirty(w);
        int timeout = 10;
        if (w->id == 0 && g.o.mode == MODE_FANOUT && phase() == PHASE_MEASURE) {
            uint64_t t = now_ns();
            fanout_drive(w, t);
            if (!w->round_active && w->next_round_at > t)
                timeout = (int)((w->next_round_at - t) / NS_PER_MS) + 1;
            else if (!w->round_active)
                timeout = 0;
        }
        int n = epoll_wait(w->epfd, ev, EVENTS_PER_WAIT, timeout);
        if (n < 0 && errno != EINTR) break;
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            struct sock *s = ev[i].data.ptr;
            if (s == NULL) { /* the wake-up eventfd */
                uint64_t v;
                if (read(w->wakefd, &v, sizeof(v)) < 0) { /* spurious: fine */
                }
                continue;
            }
            if (s->fd < 0) continue; /* closed earlier in this batch */
            if (s->connecting) {
                if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(s);
                continue;
            }
            if (s->tls_hs) {
                tls_handshake(s);
                continue;
            }
            if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(w, s, now);
            /* EPOLLOUT, or TLS that wanted to read before it could write */
            if (s->fd >= 0 && ((ev[i].events & EPOLLOUT) || (s->ssl && s->out_off < s->out_len)))
                mark_dirty(s);
        }
        flush_dirty(w);
        /* storm: restart closed sessions only now, so that no event of this batch can reach a
         * descriptor number that was reused within it */
        for (uint32_t i = 0; i < w->nrestart; i++)
            if (phase() < PHASE_DONE) session_start(w->restart[i]);
        w->nrestart = 0;
    }
    return NULL;
}

/* ---- setup and report ------------------------------------------------------------------- */

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

/* The CPU time (user + system) process pid has used, in microseconds, its threads included
 * (exited ones too); -1 when it cannot be read. Resolution: one clock tick (10 ms). The user
 * part goes to *user_us when it is not NULL: the kernel's share is what no server can avoid. */
static int64_t cpu_us(pid_t pid, int64_t *user_us)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = 0;
    const char *p = strrchr(line, ')'); /* the command name may hold spaces and parentheses */
    if (!p) return -1;
    /* after ")": state is field 3; utime and stime are fields 14 and 15 */
    unsigned long long ut, st;
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long long div = (unsigned long long)(hz > 0 ? hz : 100);
    if (user_us) *user_us = (int64_t)(ut * 1000000ull / div);
    return (int64_t)((ut + st) * 1000000ull / div);
}

static void tls_setup(void)
{
    g.tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!g.tls_ctx) die("cannot create the TLS context");
    /* no verification: loopback targets with throwaway self-signed certificates (see the
     * header); a handshake costs the server the same either way */
    SSL_CTX_set_verify(g.tls_ctx, SSL_VERIFY_NONE, NULL);
    /* every connection a new client: full handshakes, no resumption (the tickets a server
     * sends after a TLS 1.3 handshake are read and dropped, as its default costs include them) */
    SSL_CTX_set_session_cache_mode(g.tls_ctx, SSL_SESS_CACHE_OFF);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    SSL_CTX_set_options(g.tls_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    /* partial writes and a moving buffer match sock_flush's queue; released buffers keep
     * 19,000 idle TLS clients in memory */
    SSL_CTX_set_mode(g.tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
}

/* Accepts only literal loopback addresses ("localhost" means 127.0.0.1). */
static void parse_target(struct target *t, const char *arg)
{
    char host[64];
    const char *port;
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (!close || close[1] != ':' || (size_t)(close - arg - 1) >= sizeof(host))
            die("bad target %s: want 127.0.0.1:PORT or [::1]:PORT", arg);
        memcpy(host, arg + 1, (size_t)(close - arg - 1));
        host[close - arg - 1] = 0;
        port = close + 2;
    } else {
        const char *colon = strrchr(arg, ':');
        if (!colon || (size_t)(colon - arg) >= sizeof(host))
            die("bad target %s: want 127.0.0.1:PORT or [::1]:PORT", arg);
        memcpy(host, arg, (size_t)(colon - arg));
        host[colon - arg] = 0;
        port = colon + 1;
    }
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    char *endp;
    long pn = strtol(port, &endp, 10);
    if (*endp || pn < 1 || pn > 65535) die("bad port in %s", arg);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&t->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&t->addr;
    memset(&t->addr, 0, sizeof(t->addr));
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127)
            die("refusing target %s: only 127.0.0.0/8 and ::1 may be loaded", arg);
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)pn);
        t->len = sizeof(*v4);
        snprintf(t->text, sizeof(t->text), "%s:%ld", host, pn);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
            die("refusing target %s: only 127.0.0.0/8 and ::1 may be loaded", arg);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)pn);
        t->len = sizeof(*v6);
        snprintf(t->text, sizeof(t->text), "[::1]:%ld", pn);
    } else {
        die("bad target %s: want a literal loopback address (names are not resolved)", arg);
    }
}

static int pick(const char *arg, const char *const *names, int count, const char *what)
{
    for (int i = 0; i < count; i++)
        if (strcmp(arg, names[i]) == 0) return i;
    fprintf(stderr, "loadgen: unknown %s '%s'\n", what, arg);
    exit(2);
}

static void usage(void)
{
    fputs("usage: loadgen -a 127.0.0.1:PORT [-a ...] [-x tcp|ws|sio|sio-poll] [-L]\n"
          "               [-m echo|idle|fanout|storm] [-c conns] [-t threads] [-d depth]\n"
          "               [-s bytes] [-T total_s] [-W warmup_s] [-M measure_s] [-k rounds]\n"
          "               [-p server_pid] [-S source_addrs] [-b handshakes_in_flight]\n"
          "               [-u path] [-n nsp] [-l label]\n"
          "  -a  target; only 127.0.0.0/8 and [::1] are accepted; repeated (up to 8): the\n"
          "      connections go round-robin over them, the first (the fan-out emitter) to the\n"
          "      first target\n"
          "  -L  TLS (OpenSSL defaults: TLS 1.3 when offered; full handshakes, no resumption;\n"
          "      the certificate is not verified: loopback benchmarks only)\n"
          "  -x  protocol (default sio)        -m  mode (default echo)\n"
          "  -c  connections / members / storm concurrency (default 100)\n"
          "  -t  worker threads, one per core (default 1)\n"
          "  -d  echo messages in flight per connection (default 1)\n"
          "  -s  payload bytes (default 20): the Socket.IO string argument, the WebSocket\n"
          "      message, or the raw TCP message\n"
          "  -T  hard bound on the whole run in seconds (default 30)\n"
          "  -W  warm-up (echo, storm, fanout) or settle time (idle) in seconds (default 1)\n"
          "  -M  measurement window in seconds, echo and storm (default 5)\n"
          "  -k  fan-out rounds (default 20)\n"
          "  -p  server pid: RSS growth (idle, and reported always), CPU time (echo, storm)\n"
          "  -S  spread sources over 127.0.0.1..127.0.0.N (default 32)\n"
          "  -b  handshakes in flight per thread while connecting (default 256)\n"
          "  -u  path (default / for ws, /socket.io/ for Socket.IO)\n"
          "  -n  Socket.IO namespace (default /)\n",
          stderr);
    exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.proto = PROTO_SIO,
                       .mode = MODE_ECHO,
                       .nsp = "/",
                       .label = "",
                       .conns = 100,
                       .threads = 1,
                       .depth = 1,
                       .size = 20,
                       .srcs = 32,
                       .ramp = 256,
                       .rounds = 20,
                       .total_s = 30,
                       .warmup_s = 1,
                       .measure_s = 5};
    int c;
    while ((c = getopt(argc, argv, "a:x:m:c:t:d:s:T:W:M:k:p:S:b:u:n:l:Lh")) != -1) {
        switch (c) {
        case 'a':
            if (o->ntargets == MAX_TARGETS) die("at most %d targets (-a)", MAX_TARGETS);
            parse_target(&o->targets[o->ntargets++], optarg);
            break;
        case 'L':
            o->tls = true;
            break;
        case 'x':
            o->proto = (enum proto)pick(optarg, proto_names, 4, "protocol");
            break;
        case 'm':
            o->mode = (enum mode)pick(optarg, mode_names, 4, "mode");
            break;
        case 'c':
            o->conns = atoi(optarg);
            break;
        case 't':
            o->threads = atoi(optarg);
            break;
        case 'd':
            o->depth = atoi(optarg);
            break;
        case 's':
            o->size = atoi(optarg);
            break;
        case 'T':
            o->total_s = atof(optarg);
            break;
        case 'W':
            o->warmup_s = atof(optarg);
            break;
        case 'M':
            o->measure_s = atof(optarg);
            break;
        case 'k':
            o->rounds = atoi(optarg);
            break;
        case 'p':
            o->pid = (pid_t)atoi(optarg);
            break;
        case 'S':
            o->srcs = atoi(optarg);
            break;
        case 'b':
            o->ramp = atoi(optarg);
            break;
        case 'u':
            o->path = optarg;
            break;
        case 'n':
            o->nsp = optarg;
            break;
        case 'l':
            o->label = optarg;
            break;
        default:
            usage();
        }
    }
    if (!o->ntargets) usage();
    if (!o->path) o->path = (o->proto == PROTO_WS || o->proto == PROTO_TCP) ? "/" : "/socket.io/";
    if (o->conns < 1 || o->threads < 1 || o->threads > 256 || o->threads > o->conns)
        die("bad -c or -t");
    if (o->depth < 1 || o->depth > MAX_DEPTH) die("-d must be 1..4096");
    if (o->size < 1 || o->size > MAX_PAYLOAD) die("-s must be 1..1048576");
    if (o->srcs < 1 || o->srcs > MAX_SRCS) die("-S must be 1..65000");
    if (o->ramp < 1 || o->rounds < 1 || o->rounds > 100000) die("bad -b or -k");
    if (!(o->total_s > 0) || o->total_s > 3600 || o->warmup_s < 0 || o->measure_s <= 0)
        die("bad -T, -W or -M (the run must be bounded: -T at most 3600)");
    if (o->mode == MODE_IDLE && o->pid <= 0) die("idle mode needs the server's pid (-p)");
    if (o->nsp[0] != '/' || strlen(o->nsp) > 64 || strpbrk(o->nsp, ",\"\\ ?&"))
        die("bad namespace %s", o->nsp);
    if (strlen(o->path) > 200 || o->path[0] != '/' || strpbrk(o->path, " \r\n?"))
        die("bad path %s", o->path);
    for (const char *ch = o->label; *ch; ch++) /* printed into the JSON as is */
        if (*ch == '"' || *ch == '\\' || (unsigned char)*ch < 0x20)
            die("bad character in -l label");
}

/* Raises the descriptor limit and checks that the run fits in it. */
static void fit_descriptors(const struct opts *o)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    uint64_t need =
        (uint64_t)o->conns * (o->proto == PROTO_SIO_POLL ? 2 : 1) + (uint64_t)o->threads * 2 + 16;
    if (need > rl.rlim_cur) {
        fprintf(stderr,
                "loadgen: %d connections need %" PRIu64 " descriptors, the limit is %llu;\n"
                "         split the run over several loadgen processes\n",
                o->conns, need, (unsigned long long)rl.rlim_cur);
        exit(2);
    }
}

static void build_messages(const struct opts *o)
{
    g.payload = malloc((size_t)o->size + 1);
    if (!g.payload) die("out of memory");
    for (int i = 0; i < o->size; i++) g.payload[i] = (char)('a' + i % 26);
    g.payload[o->size] = 0;
    if (strcmp(o->nsp, "/") == 0)
        snprintf(g.sio_prefix, sizeof(g.sio_prefix), "42");
    else
        snprintf(g.sio_prefix, sizeof(g.sio_prefix), "42%s,", o->nsp);
    g.sio_prefix_len = strlen(g.sio_prefix);
    size_t cap = (size_t)o->size + 128;
    g.sio_msg = malloc(cap);
    g.sio_bcast = malloc(cap);
    if (!g.sio_msg || !g.sio_bcast) die("out of memory");
    g.sio_msg_len =
        (size_t)snprintf(g.sio_msg, cap, "%s[\"message\",\"%s\"]", g.sio_prefix, g.payload);
    g.sio_bcast_len =
        (size_t)snprintf(g.sio_bcast, cap, "%s[\"broadcast\",\"%s\"]", g.sio_prefix, g.payload);
    g.sio_reply_len = g.sio_prefix_len + strlen("[\"message-back\",\"\"]") + (size_t)o->size;
}

static void setup_workers(const struct opts *o)
{
    g.workers = calloc((size_t)o->threads, sizeof(*g.workers));
    if (!g.workers) die("out of memory");
    uint32_t base = 0;
    for (int t = 0; t < o->threads; t++) {
        struct worker *w = &g.workers[t];
        w->id = t;
        w->nsess = (uint32_t)(o->conns / o->threads + (t < o->conns % o->threads ? 1 : 0));
        w->sess = calloc(w->nsess, sizeof(*w->sess));
        w->restart = calloc(w->nsess, sizeof(*w->restart));
        w->dirty = calloc((size_t)w->nsess * 2, sizeof(*w->dirty));
        w->rbuf = malloc(RECV_CHUNK);
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (!w->sess || !w->restart || !w->dirty || !w->rbuf || w->epfd < 0 || w->wakefd < 0)
            die("cannot set up worker threads");
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev);
        lat_hist_init(&w->hist);
        for (uint32_t i = 0; i < w->nsess; i++) {
            struct session *ss = &w->sess[i];
            ss->w = w;
            ss->idx = base + i;
            ss->tgt = (uint8_t)(ss->idx % (uint32_t)o->ntargets);
            ss->main = (struct sock){.fd = -1, .role = ROLE_MAIN, .sess = ss};
            ss->post = (struct sock){.fd = -1, .role = ROLE_POST, .sess = ss};
            ss->mask = 0x9e3779b9u ^ (ss->idx * 2654435761u) ^ (uint32_t)getpid();
            if (!ss->mask) ss->mask = 1;
            if (o->mode == MODE_ECHO) {
                ss->ts = calloc((size_t)o->depth, sizeof(*ss->ts));
                if (!ss->ts) die("out of memory");
            }
        }
        base += w->nsess;
    }
}

static void print_us(const char *name, double ns, bool comma)
{
    printf("\"%s\":%.1f%s", name, ns / 1000.0, comma ? "," : "");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct opts *o = &g.o;
    parse_opts(argc, argv, o);
    signal(SIGPIPE, SIG_IGN);
    fit_descriptors(o);
    build_messages(o);
    if (o->tls) tls_setup();
    setup_workers(o);
    g.fan_times = calloc((size_t)o->rounds, sizeof(uint64_t));
    if (!g.fan_times) die("out of memory");
    if (o->mode == MODE_STORM) o->ramp = o->conns; /* every slot handshakes all the time */

    long rss_before = o->pid > 0 ? rss_kib(o->pid) : -1;
    if (o->mode == MODE_IDLE && rss_before < 0) die("cannot read /proc/<pid>/status");
    uint64_t t0 = now_ns();
    uint64_t deadline = t0 + (uint64_t)(o->total_s * 1e9);
    /* the connect phase may use whatever the later phases leave of the bound */
    double later = o->warmup_s + (o->mode == MODE_ECHO || o->mode == MODE_STORM ? o->measure_s : 0);
    if (o->mode == MODE_FANOUT) later += 0.5 * o->total_s;
    uint64_t connect_deadline =
        t0 + (uint64_t)((o->total_s - later > 0.5 ? o->total_s - later : 0.5) * 1e9);
    atomic_store(&g.phase, o->mode == MODE_STORM ? PHASE_WARMUP : PHASE_CONNECT);

    for (int t = 0; t < o->threads; t++)
        if (pthread_create(&g.workers[t].thread, NULL, worker_main, &g.workers[t]) != 0)
            die("cannot start threads");

    uint64_t t_connected = 0, t_measure = 0, t_end = 0;
    int64_t cpu_start = -1, cpu_end = -1, cpu_user_start = 0, cpu_user_end = 0;
    long rss_after = -1;
    bool timed_out = false;
    uint64_t phase_at = t0; /* when the current phase began */
    for (;;) {
        struct timespec nap = {0, 2 * 1000 * 1000};
        nanosleep(&nap, NULL);
        uint64_t now = now_ns();
        int ph = phase();
        if (ph == PHASE_DONE) break;
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        if (ph == PHASE_CONNECT) {
            bool all = atomic_load(&g.ready) + atomic_load(&g.gone) >= (uint32_t)o->conns;
            if (all || now >= connect_deadline) {
                if (!all) timed_out = true;
                t_connected = now;
                g.fan_members = atomic_load(&g.ready);
                atomic_store(&g.phase, PHASE_WARMUP);
                phase_at = now;
            }
        } else if (ph == PHASE_WARMUP && now - phase_at >= (uint64_t)(o->warmup_s * 1e9)) {
            if (o->mode == MODE_IDLE) {
                rss_after = rss_kib(o->pid);
                t_end = now;
                break;
            }
            g.fan_members = atomic_load(&g.ready);
            t_measure = now;
            phase_at = now;
            if (o->pid > 0) cpu_start = cpu_us(o->pid, &cpu_user_start);
            atomic_store(&g.phase, PHASE_MEASURE);
        } else if (ph == PHASE_MEASURE) {
            if ((o->mode == MODE_ECHO || o->mode == MODE_STORM) &&
                now - phase_at >= (uint64_t)(o->measure_s * 1e9))
                break;
            if (o->mode == MODE_FANOUT && atomic_load(&g.fan_completed) >= (uint32_t)o->rounds)
                break;
        }
    }
    if (!t_end) t_end = now_ns();
    if (cpu_start >= 0) cpu_end = cpu_us(o->pid, &cpu_user_end);
    atomic_store(&g.phase, PHASE_DONE);
    for (int t = 0; t < o->threads; t++) pthread_join(g.workers[t].thread, NULL);

    lat_hist_t all;
    lat_hist_init(&all);
    uint64_t msgs = 0, errors = 0, bytes_in = 0;
    for (int t = 0; t < o->threads; t++) {
        lat_hist_merge(&all, &g.workers[t].hist);
        msgs += g.workers[t].msgs;
        errors += g.workers[t].errors;
        bytes_in += g.workers[t].bytes_in;
    }
    if (atomic_load(&g.fan_failed)) errors++;
    uint32_t ready = atomic_load(&g.ready);
    double measured = t_measure ? (double)(t_end - t_measure) / 1e9 : 0;

    printf("{\"tool\":\"loadgen\",\"label\":\"%s\",\"proto\":\"%s\",\"tls\":%s,\"mode\":\"%s\","
           "\"target\":\"",
           o->label, proto_names[o->proto], o->tls ? "true" : "false", mode_names[o->mode]);
    for (int t = 0; t < o->ntargets; t++) printf("%s%s", t ? "," : "", o->targets[t].text);
    printf("\",\"conns\":%d,\"threads\":%d,\"depth\":%d,\"size\":%d,\"srcs\":%d,", o->conns,
           o->threads, o->depth, o->size, o->srcs);
    printf("\"ready\":%u,\"connect_s\":%.3f,", o->mode == MODE_STORM ? 0 : ready,
           t_connected ? (double)(t_connected - t0) / 1e9 : 0.0);
    if (o->mode == MODE_ECHO || o->mode == MODE_STORM) {
        printf("\"measure_s\":%.3f,\"msgs\":%" PRIu64 ",\"rate\":%.1f,\"lat_us\":{", measured, msgs,
               measured > 0 ? (double)msgs / measured : 0.0);
        print_us("p50", (double)lat_hist_quantile(&all, 0.50), true);
        print_us("p90", (double)lat_hist_quantile(&all, 0.90), true);
        print_us("p99", (double)lat_hist_quantile(&all, 0.99), true);
        print_us("p999", (double)lat_hist_quantile(&all, 0.999), true);
        print_us("max", (double)all.max * (all.count > 0), true);
        print_us("mean", lat_hist_mean(&all), false);
        printf("},");
        if (cpu_start >= 0 && cpu_end >= cpu_start)
            printf("\"server_cpu_s\":%.3f,\"server_cpu_us_per_msg\":%.2f,"
                   "\"server_user_us_per_msg\":%.3f,",
                   (double)(cpu_end - cpu_start) / 1e6,
                   msgs ? (double)(cpu_end - cpu_start) / (double)msgs : 0.0,
                   msgs ? (double)(cpu_user_end - cpu_user_start) / (double)msgs : 0.0);
    }
    if (o->mode == MODE_IDLE || o->pid > 0) {
        long after = rss_after >= 0 ? rss_after : rss_kib(o->pid);
        printf("\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,\"kib_per_conn\":%.3f,", rss_before,
               after, ready && after >= 0 ? (double)(after - rss_before) / ready : 0.0);
    }
    if (o->mode == MODE_FANOUT) {
        uint32_t k = atomic_load(&g.fan_completed);
        qsort(g.fan_times, k, sizeof(uint64_t), cmp_u64);
        uint64_t p50 = k ? g.fan_times[(k - 1) / 2] : 0;
        uint64_t p99 = k ? g.fan_times[(size_t)((k - 1) * 0.99 + 0.5)] : 0;
        printf("\"members\":%u,\"rounds\":%u,\"last_us\":{", g.fan_members, k);
        print_us("p50", (double)p50, true);
        print_us("p99", (double)p99, true);
        print_us("min", k ? (double)g.fan_times[0] : 0, true);
        print_us("max", k ? (double)g.fan_times[k - 1] : 0, false);
        uint64_t sum = 0;
        for (uint32_t i = 0; i < k; i++) sum += g.fan_times[i];
        printf("},\"per_member_us\":%.3f,\"deliveries_per_s\":%.1f,",
               g.fan_members ? (double)p50 / 1000.0 / g.fan_members : 0,
               sum ? (double)g.fan_members * k / ((double)sum / 1e9) : 0.0);
    }
    printf("\"bytes_in\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"timeout\":%s}\n", bytes_in, errors,
           timed_out ? "true" : "false");
    fflush(stdout);
    return 0;
}
