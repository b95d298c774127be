#include "app/conformance.h"

#include "util/err.h"
#include "ws/conn.h"

/* ---- Engine.IO echo ---- */

static void echo_message(eio_session_t *s, char *data, size_t len, bool binary, void *arg)
{
    eio_send(s, data, len, binary);
}

static const eio_callbacks_t eio_echo = {.on_message = echo_message};

const eio_callbacks_t *conformance_eio_echo(void)
{
    return &eio_echo;
}

/* ---- Socket.IO ---- */

static void on_connect(sio_socket_t *s, void *arg)
{
    json_t *auth = sio_socket_auth(s);
    json_t *args = json_array();
    json_array_append_new(args, auth ? json_incref(auth) : json_object());
    sio_emit(s, "auth", args, NULL, 0);
    json_decref(args);
}

static void on_message(sio_socket_t *s, sio_event_t *ev, void *arg)
{
    sio_emit_raw(s, span_cstr("message-back"), ev->args, ev->packet->binaries, ev->packet->nbinaries);
}

static void on_message_with_ack(sio_socket_t *s, sio_event_t *ev, void *arg)
{
    if (ev->ack_id != SIO_NO_ACK)
        sio_ack_raw(s, ev->ack_id, ev->args, ev->packet->binaries, ev->packet->nbinaries);
}

static void on_broadcast(sio_socket_t *s, sio_event_t *ev, void *arg)
{
    sio_broadcast_raw(sio_socket_nsp(s), NULL, span_cstr("broadcast-back"), ev->args,
                      ev->packet->binaries, ev->packet->nbinaries);
}

int conformance_sio_setup(sio_server_t *srv)
{
    const char *names[] = {"/", "/custom"};
    for (int i = 0; i < 2; i++) {
        sio_nsp_t *nsp = sio_of(srv, names[i]);
        if (!nsp) return RS_ENOMEM;
        if (sio_on_connection(nsp, on_connect, NULL) || sio_on(nsp, "message", on_message, NULL) ||
            sio_on(nsp, "message-with-ack", on_message_with_ack, NULL) ||
            sio_on(nsp, "broadcast", on_broadcast, NULL))
            return RS_ENOMEM;
    }
    return 0;
}

/* ---- WebSocket echo ---- */

static void ws_echo_message(ws_conn_t *w, void *user, char *data, size_t len, bool binary)
{
    ws_send(w, data, len, binary);
}

static const ws_conn_ops_t ws_echo_ops = {.on_message = ws_echo_message};

void conformance_ws_echo(http_req_t *r, void *arg)
{
    const bool *deflate = arg;
    if (!http_req_head(r)->upgrade) {
        http_respond_error(r, 426, "Upgrade Required: this endpoint speaks WebSocket");
        return;
    }
    /* 16 MiB: conformance suites send messages of several MiB. */
    ws_options_t wo = {.max_message = 16u << 20, .deflate = *deflate};
    ws_accept(r, &wo, &ws_echo_ops, NULL);
}
