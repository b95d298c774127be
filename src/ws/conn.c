/* conn.c - WebSocket connections: codec events to messages, pongs and the closing handshake. */
#include "ws/conn.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "util/err.h"
#include "util/log.h"
#include "ws/deflate.h"
#include "ws/frame.h"
#include "ws/handshake.h"

#define CLOSE_WAIT_MS 1000

struct ws_conn {
    conn_t *c;
    const ws_conn_ops_t *ops;
    void *user;
    ws_parser_t parser;
    buf_t *msg; /* pieces of a message that did not arrive in one read (NULL until one) */
    uint16_t close_code;
    uint8_t close_sent;
    uint8_t close_received;
    uint8_t msg_binary;
    uint8_t lingering; /* our close frame is queued: half-close once it is out (see linger) */
    struct ws_deflate *deflate; /* NULL unless negotiated */
};

/* The reassembly buffer, allocated on first use: most connections never need one, and an idle
 * connection should not pay for it. NULL when out of memory. */
static buf_t *msg_buf(ws_conn_t *w)
{
    if (!w->msg && (w->msg = malloc(sizeof *w->msg))) *w->msg = BUF_INIT;
    return w->msg;
}

/* A message is complete: keep no memory for it (the holder stays while deflate is on, since
 * then every message goes through it). */
static void msg_done(ws_conn_t *w)
{
    if (!w->msg) return;
    buf_free(w->msg);
    if (!w->deflate) {
        free(w->msg);
        w->msg = NULL;
    }
}

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

static void send_close(ws_conn_t *w, int code, const char *reason);
static void linger(ws_conn_t *w);

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

/* Compress a whole message and send it as one frame with RSV1. */
static int write_compressed(ws_conn_t *w, int opcode, const struct iovec *iov, int n)
{
    buf_t plain = BUF_INIT, packed = BUF_INIT;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) rc = buf_append(&plain, iov[i].iov_base, iov[i].iov_len);
    if (!rc) rc = ws_deflate_compress(w->deflate, plain.base, plain.len, &packed);
    if (rc) {
        buf_free(&plain);
        buf_free(&packed);
        send_close(w, WS_CLOSE_INTERNAL, "compression failed");
        linger(w);
        return rc;
    }
    char *p = conn_write_reserve(w->c, WS_MAX_SERVER_HEADER + packed.len);
    if (p) {
        size_t off = ws_frame_header((uint8_t *)p, opcode, 1, 1, packed.len);
        memcpy(p + off, packed.base, packed.len);
        conn_write_commit(w->c, off + packed.len);
    }
    buf_free(&plain);
    buf_free(&packed);
    if (!p) return conn_closing(w->c) ? RS_ECLOSED : RS_ENOMEM;
    return conn_closing(w->c) ? RS_ETOOBIG : 0;
}

int ws_sendv(ws_conn_t *w, const struct iovec *iov, int n, bool binary)
{
    if (w->close_sent) return RS_ECLOSED;
    int op = binary ? WS_OP_BINARY : WS_OP_TEXT;
    if (w->deflate) return write_compressed(w, op, iov, n);
    return write_framev(w, op, iov, n);
}

int ws_send2(ws_conn_t *w, const void *a, size_t alen, const void *b, size_t blen, bool binary)
{
    struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
    return ws_sendv(w, iov, 2, binary);
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

/* Finish a connection after our close frame was queued in answer to the peer's close or to a
 * protocol error. Closing the socket at once would be wrong when the peer is still sending
 * (the rest of a message we refused, frames written before it saw our close): close() with
 * unread input makes the kernel send RST instead of FIN, and a peer that receives RST may
 * discard our close frame unread. So we close TCP from our side as soon as the close frame is
 * written (shutdown in ws_on_drain: the peer sees the end of the stream at once, as RFC 6455
 * 7.1.1 asks of servers), keep reading and discarding until the peer closes too (ws_on_eof),
 * and give up after CLOSE_WAIT_MS (ws_on_timeout). */
static void linger(ws_conn_t *w)
{
    if (w->lingering || conn_closing(w->c)) return;
    w->lingering = 1;
    conn_set_deadline(w->c, CLOSE_WAIT_MS);
    /* Nothing queued (our close frame went out earlier, from ws_close): half-close now. */
    if (conn_queued(w->c) == 0) {
        shutdown(conn_fd(w->c), SHUT_WR);
        w->lingering = 2;
    }
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
    if (w->lingering) return (ssize_t)len; /* closing: read only to drain the socket */
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
            if (ev.flags & WS_DATA_COMPRESSED) {
                buf_t *mb = msg_buf(w);
                if (mb && (ev.flags & WS_DATA_FIRST)) mb->len = 0;
                int rc = !mb         ? RS_ENOMEM
                         : w->deflate ? ws_deflate_inflate(w->deflate, ev.data, ev.len,
                                                           (ev.flags & WS_DATA_FINAL) != 0, !binary, mb)
                                      : RS_EPROTO;
                if (rc) {
                    int code = rc == RS_ETOOBIG  ? WS_CLOSE_TOO_BIG
                               : rc == RS_ENOMEM ? WS_CLOSE_INTERNAL
                                                 : WS_CLOSE_INVALID_DATA;
                    send_close(w, code,
                               rc == RS_ETOOBIG ? "message too big" : "invalid compressed data");
                    linger(w);
                    return (ssize_t)len;
                }
                if (ev.flags & WS_DATA_FINAL) {
                    if (!w->close_sent) deliver(w, mb->base, mb->len, binary);
                    msg_done(w);
                }
                break;
            }
            if ((ev.flags & WS_DATA_FIRST) && (ev.flags & WS_DATA_FINAL)) {
                /* The common case: a whole message in one read, delivered in place. */
                if (!w->close_sent) deliver(w, ev.data, ev.len, binary);
                break;
            }
            buf_t *mb = msg_buf(w);
            if (mb && (ev.flags & WS_DATA_FIRST)) mb->len = 0;
            if (!mb || buf_append(mb, ev.data, ev.len)) {
                send_close(w, WS_CLOSE_INTERNAL, "out of memory");
                linger(w);
                return (ssize_t)len;
            }
            if (ev.flags & WS_DATA_FINAL) {
                if (!w->close_sent) deliver(w, mb->base, mb->len, binary);
                /* Keep no memory for idle connections after a large message. */
                msg_done(w);
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
            linger(w);
            return (ssize_t)len;
        case WS_EV_ERROR:
            LOG_DEBUG("ws", "%s: closing with %u: %s", conn_peer_ip(c), ev.code, ev.reason);
            if (!w->close_sent) {
                w->close_code = ev.code;
                send_close(w, ev.code, ev.reason);
            }
            linger(w);
            return (ssize_t)len;
        }
    }
    return (ssize_t)len;
}

static void ws_on_timeout(conn_t *c)
{
    /* The peer did not answer our close frame (or close TCP after it) in time. */
    conn_close(c, RS_ETIMEDOUT);
}

static void ws_on_drain(conn_t *c)
{
    ws_conn_t *w = conn_user(c);
    /* Our close frame is written: end our half of the stream; see linger. (The loop reports
     * every drain after a flush; were it to report only some, the deadline still closes.) */
    if (w->lingering == 1) {
        shutdown(conn_fd(c), SHUT_WR);
        w->lingering = 2;
    }
}

static void ws_on_eof(conn_t *c)
{
    /* The peer finished sending: after a closing handshake the normal end; otherwise the
     * connection was dropped (on_close reports 1006). Either way nothing unread is left, so
     * close gracefully: whatever we still queued (our close frame) goes out first. */
    conn_close_after_flush(c, CLOSE_WAIT_MS);
}

static void ws_on_close(conn_t *c, int err)
{
    ws_conn_t *w = conn_user(c);
    int code = w->close_code ? w->close_code : WS_CLOSE_ABNORMAL;
    if (!w->close_received && !w->close_sent) code = WS_CLOSE_ABNORMAL;
    if (w->ops && w->ops->on_close) w->ops->on_close(w, w->user, code);
    if (w->msg) buf_free(w->msg);
    free(w->msg);
    ws_deflate_free(w->deflate);
    free(w);
}

static void ws_on_stop(conn_t *c)
{
    ws_conn_t *w = conn_user(c);
    if (w->ops && w->ops->on_stop)
        w->ops->on_stop(w, w->user);
    else
        ws_close(w, WS_CLOSE_GOING_AWAY, "server shutting down");
}

static const conn_handler_t ws_handler = {
    .on_data = ws_on_data,
    .on_eof = ws_on_eof,
    .on_drain = ws_on_drain,
    .on_timeout = ws_on_timeout,
    .on_close = ws_on_close,
    .on_stop = ws_on_stop,
};

ws_conn_t *ws_accept(http_req_t *r, const ws_options_t *opts, const ws_conn_ops_t *ops, void *user)
{
    ws_handshake_config_t hc = {0};
    size_t np = 0;
    if (opts->protocols)
        while (opts->protocols[np]) np++;
    hc.subprotocols = opts->protocols;
    hc.n_subprotocols = np;
    hc.deflate = opts->deflate;
    /* Without context takeover on our side the compressor can be freed between messages:
     * memory per idle connection stays small. */
    hc.deflate_server_no_context_takeover = true;
    ws_handshake_t hs;
    if (ws_handshake_check(http_req_head(r), &hc, &hs) < 0) {
        if (hs.status == 426) {
            http_req_add_header(r, "Sec-WebSocket-Version", "13");
            http_req_add_header(r, "Upgrade", "websocket");
        }
        http_req_close_after(r);
        http_respond_error(r, hs.status ? hs.status : 400,
                           hs.error ? hs.error : "Bad WebSocket handshake");
        return NULL;
    }
    uint32_t max = opts->max_message ? opts->max_message : WS_DEFAULT_MAX_MESSAGE;
    ws_deflate_t *deflate = NULL;
    if (hs.deflate.enabled && !(deflate = ws_deflate_new(&hs.deflate, max, -1, 8))) {
        http_req_close_after(r);
        http_respond_error(r, 503, "Service Unavailable");
        return NULL;
    }
    ws_conn_t *w = calloc(1, sizeof *w);
    buf_t resp = BUF_INIT;
    if (!w || ws_handshake_write_response(&resp, &hs, http_req_extra_headers(r))) {
        free(w);
        ws_deflate_free(deflate);
        buf_free(&resp);
        http_req_close_after(r);
        http_respond_error(r, 503, "Service Unavailable");
        return NULL;
    }
    w->c = http_req_conn(r);
    w->ops = ops;
    w->user = user;
    w->deflate = deflate;
    ws_parser_config_t pc = {.max_message = max, .deflate = deflate != NULL};
    ws_parser_init(&w->parser, &pc);
    conn_write(w->c, resp.base, resp.len);
    buf_free(&resp);
    http_req_upgrade(r, &ws_handler, w);
    return w;
}
