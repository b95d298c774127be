/* conn.c - WebSocket connections: codec events to messages, pongs and the closing handshake. */
#include "ws/conn.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "util/err.h"
#include "util/log.h"
#include "ws/frame.h"

#define CLOSE_WAIT_MS 1000

struct ws_conn {
    conn_t *c;
    const ws_conn_ops_t *ops;
    void *user;
    ws_parser_t parser;
    buf_t msg;          /* pieces of a message that did not arrive in one read */
    uint16_t close_code;
    uint8_t close_sent;
    uint8_t close_received;
    uint8_t msg_binary;
    struct ws_deflate *deflate; /* NULL unless negotiated */
};

conn_t *ws_conn_raw(const ws_conn_t *w)
{
    return w->c;
}
size_t ws_queued(const ws_conn_t *w)
{
    return conn_queued(w->c);
}
bool ws_can_share(const ws_conn_t *w)
{
    return w->deflate == NULL;
}
void ws_set_user(ws_conn_t *w, const ws_conn_ops_t *ops, void *user)
{
    w->ops = ops;
    w->user = user;
}

static int write_framev(ws_conn_t *w, int opcode, const struct iovec *iov, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) len += iov[i].iov_len;
    char *p = conn_write_reserve(w->c, WS_MAX_SERVER_HEADER + len);
    if (!p) return conn_closing(w->c) ? RS_ECLOSED : RS_ENOMEM;
    size_t off = ws_frame_header((uint8_t *)p, opcode, 1, 0, len);
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len) memcpy(p + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    conn_write_commit(w->c, off);
    return conn_closing(w->c) ? RS_ETOOBIG : 0;
}

static int write_frame(ws_conn_t *w, int opcode, const void *a, size_t alen, const void *b,
                       size_t blen)
{
    struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
    return write_framev(w, opcode, iov, 2);
}

int ws_sendv(ws_conn_t *w, const struct iovec *iov, int n, bool binary)
{
    if (w->close_sent) return RS_ECLOSED;
    return write_framev(w, binary ? WS_OP_BINARY : WS_OP_TEXT, iov, n);
}

int ws_send2(ws_conn_t *w, const void *a, size_t alen, const void *b, size_t blen, bool binary)
{
    if (w->close_sent) return RS_ECLOSED;
    return write_frame(w, binary ? WS_OP_BINARY : WS_OP_TEXT, a, alen, b, blen);
}

int ws_send(ws_conn_t *w, const void *data, size_t len, bool binary)
{
    return ws_send2(w, data, len, NULL, 0, binary);
}

int ws_send_prepared(ws_conn_t *w, rbuf_t *frame)
{
    if (w->close_sent) return RS_ECLOSED;
    return conn_write_rbuf(w->c, frame);
}

static void send_close(ws_conn_t *w, int code, const char *reason)
{
    if (w->close_sent) return;
    uint8_t f[WS_CLOSE_FRAME_MAX];
    size_t n = ws_frame_close(f, (unsigned)code, reason, reason ? strlen(reason) : 0);
    conn_write(w->c, f, n);
    w->close_sent = 1;
    if (!w->close_code) w->close_code = (uint16_t)code;
}

void ws_close(ws_conn_t *w, int code, const char *reason)
{
    if (w->close_sent || conn_closing(w->c)) return;
    send_close(w, code, reason);
    /* Wait a bounded time for the peer's close frame, then close TCP ourselves. */
    conn_set_deadline(w->c, CLOSE_WAIT_MS);
}

static void deliver(ws_conn_t *w, char *data, size_t len, bool binary)
{
    if (w->ops && w->ops->on_message) w->ops->on_message(w, w->user, data, len, binary);
}

static ssize_t ws_on_data(conn_t *c, char *data, size_t len)
{
    ws_conn_t *w = conn_user(c);
    size_t off = 0;
    while (!conn_closing(c)) {
        ws_event_t ev;
        int n = ws_parser_feed(&w->parser, data + off, len - off, &ev);
        off += (size_t)n;
        switch (ev.type) {
        case WS_EV_NONE:
            if (n == 0) return (ssize_t)off;
            break;
        case WS_EV_DATA: {
            bool binary = !(ev.flags & WS_DATA_TEXT);
            if ((ev.flags & WS_DATA_FIRST) && (ev.flags & WS_DATA_FINAL)) {
                /* The common case: a whole message in one read, delivered in place. */
                if (!w->close_sent) deliver(w, ev.data, ev.len, binary);
                break;
            }
            if (ev.flags & WS_DATA_FIRST) w->msg.len = 0;
            if (buf_append(&w->msg, ev.data, ev.len)) {
                send_close(w, WS_CLOSE_INTERNAL, "out of memory");
                conn_close_after_flush(c, CLOSE_WAIT_MS);
                return (ssize_t)off;
            }
            if (ev.flags & WS_DATA_FINAL) {
                if (!w->close_sent) deliver(w, w->msg.base, w->msg.len, binary);
                /* Keep no memory for idle connections after a large message. */
                buf_free(&w->msg);
            }
            break;
        }
        case WS_EV_PING:
            if (!w->close_sent) write_frame(w, WS_OP_PONG, ev.data, ev.len, NULL, 0);
            break;
        case WS_EV_PONG:
            break;
        case WS_EV_CLOSE:
            w->close_received = 1;
            if (!w->close_code) w->close_code = ev.code;
            if (!w->close_sent) {
                /* Echo the peer's code (an empty close for "no status"). */
                send_close(w, ev.code == WS_CLOSE_NO_STATUS ? 0 : ev.code, NULL);
                w->close_code = ev.code;
            }
            conn_close_after_flush(c, CLOSE_WAIT_MS);
            return (ssize_t)len;
        case WS_EV_ERROR:
            LOG_DEBUG("ws", "%s: closing with %u: %s", conn_peer_ip(c), ev.code, ev.reason);
            if (!w->close_sent) {
                w->close_code = ev.code;
                send_close(w, ev.code, ev.reason);
            }
            conn_close_after_flush(c, CLOSE_WAIT_MS);
            return (ssize_t)len;
        }
    }
    return (ssize_t)len;
}

static void ws_on_timeout(conn_t *c)
{
    /* The peer did not answer our close frame in time. */
    conn_close(c, RS_ETIMEDOUT);
}

static void ws_on_close(conn_t *c, int err)
{
    ws_conn_t *w = conn_user(c);
    int code = w->close_code ? w->close_code : WS_CLOSE_ABNORMAL;
    if (!w->close_received && !w->close_sent) code = WS_CLOSE_ABNORMAL;
    if (w->ops && w->ops->on_close) w->ops->on_close(w, w->user, code);
    buf_free(&w->msg);
    free(w);
}

static void ws_on_stop(conn_t *c)
{
    ws_conn_t *w = conn_user(c);
    if (w->ops && w->ops->on_stop) w->ops->on_stop(w, w->user);
    else ws_close(w, WS_CLOSE_GOING_AWAY, "server shutting down");
}

static const conn_handler_t ws_handler = {
    .on_data = ws_on_data,
    .on_timeout = ws_on_timeout,
    .on_close = ws_on_close,
    .on_stop = ws_on_stop,
};

/* Called by ws_accept once the handshake is answered. */
static ws_conn_t *ws_conn_start(http_req_t *r, const ws_options_t *opts, const ws_conn_ops_t *ops,
                                void *user, struct ws_deflate *deflate)
{
    ws_conn_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->c = http_req_conn(r);
    w->ops = ops;
    w->user = user;
    w->deflate = deflate;
    ws_parser_config_t pc = {.max_message = opts->max_message, .deflate = deflate != NULL};
    ws_parser_init(&w->parser, &pc);
    http_req_upgrade(r, &ws_handler, w);
    return w;
}
