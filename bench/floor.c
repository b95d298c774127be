/* floor.c - the floor the kernel allows: a minimal epoll TCP server that does no protocol work.
 *
 *   echo    every byte read is written back on the same connection
 *   fanout  every byte read from any connection is written to every connection (the sender
 *           included), one write() per connection, the same buffer for all: what a broadcast
 *           costs when nothing is spent above the kernel
 *
 * One thread, level-triggered epoll, one shared receive buffer. Bytes that a connection
 * cannot take now wait in its own buffer (EPOLLOUT armed until it drains); a connection
 * with more than OUT_CAP waiting is dropped, as a real server must. roost's figures are read
 * against this one's in bench/README.md.
 *
 * Usage: floor -l 127.0.0.1:PORT [-m echo|fanout]   (loopback addresses only) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECV_CHUNK (64 * 1024)
#define OUT_CAP    (4 * 1024 * 1024)
#define MAX_EVENTS 512

struct conn {
    bool open;
    bool want_out;
    uint32_t pos; /* index in the open-connection list */
    char *out;
    size_t out_off, out_len, out_cap;
};

static struct {
    int epfd;
    int lfd;
    bool fanout;
    struct conn *conns; /* indexed by descriptor */
    size_t nconns_max;
    int *list; /* open descriptors, dense, for fan-out */
    uint32_t nlist;
    char *rbuf;
} g;

static void fatal(const char *what)
{
    perror(what);
    exit(1);
}

static void conn_close(int fd)
{
    struct conn *c = &g.conns[fd];
    if (!c->open) return;
    uint32_t pos = c->pos;
    int last = g.list[--g.nlist];
    g.list[pos] = last;
    g.conns[last].pos = pos;
    c->open = false;
    c->out_off = c->out_len = 0;
    close(fd);
}

static void want_out(int fd, bool on)
{
    struct conn *c = &g.conns[fd];
    if (c->want_out == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = fd};
    epoll_ctl(g.epfd, EPOLL_CTL_MOD, fd, &ev);
    c->want_out = on;
}

/* Keeps what the kernel did not take; drops a connection that falls too far behind. */
static int queue_rest(int fd, const char *p, size_t n)
{
    struct conn *c = &g.conns[fd];
    size_t pending = c->out_len - c->out_off;
    if (pending + n > OUT_CAP) return -1;
    if (c->out_off) {
        memmove(c->out, c->out + c->out_off, pending);
        c->out_off = 0;
        c->out_len = pending;
    }
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n) cap *= 2;
        char *nb = realloc(c->out, cap);
        if (!nb) return -1;
        c->out = nb;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    want_out(fd, true);
    return 0;
}

/* Writes p to fd, or queues it behind bytes already waiting. Returns -1 when fd must close. */
static int send_to(int fd, const char *p, size_t n)
{
    struct conn *c = &g.conns[fd];
    if (c->out_len > c->out_off) return queue_rest(fd, p, n);
    ssize_t w = write(fd, p, n);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) return -1;
        w = 0;
    }
    if ((size_t)w < n) return queue_rest(fd, p + w, n - (size_t)w);
    return 0;
}

static void drain(int fd)
{
    struct conn *c = &g.conns[fd];
    while (c->out_off < c->out_len) {
        ssize_t w = write(fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (w <= 0) {
            conn_close(fd);
            return;
        }
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    want_out(fd, false);
}

static void on_readable(int fd)
{
    ssize_t n = read(fd, g.rbuf, RECV_CHUNK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        conn_close(fd);
        return;
    }
    if (!g.fanout) {
        if (send_to(fd, g.rbuf, (size_t)n) < 0) conn_close(fd);
        return;
    }
    /* walk backwards: closing a connection moves the last one into its slot */
    for (uint32_t i = g.nlist; i-- > 0;) {
        int to = g.list[i];
        if (send_to(to, g.rbuf, (size_t)n) < 0) conn_close(to);
    }
}

static void on_accept(void)
{
    for (;;) {
        int fd = accept4(g.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or out of descriptors: try again on the next event */
        if ((size_t)fd >= g.nconns_max) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            continue;
        }
        struct conn *c = &g.conns[fd];
        c->open = true;
        c->want_out = false;
        c->out_off = c->out_len = 0;
        c->pos = g.nlist;
        g.list[g.nlist++] = fd;
    }
}

static void listen_on(const char *arg)
{
    char host[64];
    const char *colon = strrchr(arg, ':');
    if (!colon || (size_t)(colon - arg) >= sizeof(host)) {
        fprintf(stderr, "floor: -l wants 127.0.0.1:PORT\n");
        exit(2);
    }
    memcpy(host, arg, (size_t)(colon - arg));
    host[colon - arg] = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "floor: refusing to listen on %s: loopback (127.0.0.0/8) only\n", host);
        exit(2);
    }
    g.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (g.lfd < 0) fatal("socket");
    int one = 1;
    setsockopt(g.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(g.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) fatal("bind");
    if (listen(g.lfd, 4096) < 0) fatal("listen");
}

int main(int argc, char **argv)
{
    const char *addr = NULL;
    int c;
    while ((c = getopt(argc, argv, "l:m:")) != -1) {
        if (c == 'l')
            addr = optarg;
        else if (c == 'm' && strcmp(optarg, "fanout") == 0)
            g.fanout = true;
        else if (c == 'm' && strcmp(optarg, "echo") == 0)
            g.fanout = false;
        else
            addr = NULL, optind = argc;
    }
    if (!addr) {
        fprintf(stderr, "usage: floor -l 127.0.0.1:PORT [-m echo|fanout]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    g.nconns_max = rl.rlim_cur > 1u << 20 ? 1u << 20 : (size_t)rl.rlim_cur;
    g.conns = calloc(g.nconns_max, sizeof(*g.conns));
    g.list = calloc(g.nconns_max, sizeof(*g.list));
    g.rbuf = malloc(RECV_CHUNK);
    if (!g.conns || !g.list || !g.rbuf) fatal("malloc");
    listen_on(addr);
    g.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g.epfd < 0) fatal("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = g.lfd};
    if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.lfd, &lev) < 0) fatal("epoll_ctl");
    fprintf(stderr, "floor: %s on %s\n", g.fanout ? "fan-out" : "echo", addr);

    struct epoll_event ev[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(g.epfd, ev, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) fatal("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            if (fd == g.lfd) {
                on_accept();
                continue;
            }
            if (!g.conns[fd].open) continue;
            if (ev[i].events & EPOLLOUT) drain(fd);
            if (g.conns[fd].open && (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(fd);
        }
    }
}
