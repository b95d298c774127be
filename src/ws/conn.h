/* conn.h - a WebSocket connection on the event loop: the frame codec (ws/frame.h) glued to a
 * loop connection, with reassembly of fragmented messages, automatic pongs, the closing
 * handshake and optional permessage-deflate.
 *
 * Lifetime: ws_accept() upgrades an HTTP request; from then on the ws_conn_t lives until
 * ops->on_close runs (exactly once, from the loop's close phase), after which it is freed.
 * Never free it yourself. Sending after the close started is a no-op returning RS_ECLOSED. */
#ifndef ROOST_WS_CONN_H
#define ROOST_WS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/server.h"
#include "util/buf.h"

typedef struct ws_conn ws_conn_t;

typedef struct ws_conn_ops {
    /* A complete message. data is valid only during the call (it may point into the loop's
     * receive buffer); the callee may modify it in place. */
    void (*on_message)(ws_conn_t *w, void *user, char *data, size_t len, bool binary);
    /* The connection is gone: code is the close code received or sent (1006 when TCP closed
     * without a closing handshake). Release user state here. */
    void (*on_close)(ws_conn_t *w, void *user, int code);
    /* Optional: the server is stopping. Default: ws_close(w, 1001, "server shutting down"). */
    void (*on_stop)(ws_conn_t *w, void *user);
} ws_conn_ops_t;

typedef struct ws_options {
    uint32_t max_message;          /* 0 = 1 MiB; bigger messages close with 1009 */
    bool deflate;                  /* offer permessage-deflate when the client asks */
    const char *const *protocols;  /* subprotocols we speak, NULL-terminated; NULL = none */
} ws_options_t;

/* Validate the upgrade request and switch the connection to WebSocket. On a bad request it
 * answers 400 (or 426 for a wrong version) itself and returns NULL; the request is then
 * finished. On success the 101 response is queued, the request is finished, and the new
 * connection is returned; user is passed to every callback. The caller checks Origin before
 * (http_origin_allowed) and answers 403 itself. */
ws_conn_t *ws_accept(http_req_t *r, const ws_options_t *opts, const ws_conn_ops_t *ops, void *user);

/* Send one message (a single frame; compressed when deflate was negotiated). 0, RS_ECLOSED,
 * RS_ETOOBIG (output cap passed: the connection is being dropped), RS_ENOMEM. */
int ws_send(ws_conn_t *w, const void *data, size_t len, bool binary);
/* Send a message given in two parts (e.g. a type byte and a shared payload) without joining
 * them first. */
int ws_send2(ws_conn_t *w, const void *a, size_t alen, const void *b, size_t blen, bool binary);
/* Send a message gathered from n parts. */
struct iovec;
int ws_sendv(ws_conn_t *w, const struct iovec *iov, int n, bool binary);
/* Send a frame prepared once with ws_frame_prepare for many connections. Connections that
 * negotiated deflate cannot take prepared frames: use ws_send (ws_can_share tells). */
int ws_send_prepared(ws_conn_t *w, rbuf_t *frame);
bool ws_can_share(const ws_conn_t *w);
/* Start the closing handshake: send a close frame, wait up to a second for the peer's, then
 * close TCP. */
void ws_close(ws_conn_t *w, int code, const char *reason);
/* Bytes queued towards the peer (backpressure). */
size_t ws_queued(const ws_conn_t *w);
conn_t *ws_conn_raw(const ws_conn_t *w);
void ws_set_user(ws_conn_t *w, const ws_conn_ops_t *ops, void *user);

#endif
