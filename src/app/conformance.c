#include "app/conformance.h"

#include <stdlib.h>
#include <string.h>

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

/* ---- test hooks (names prefixed "test:", beyond what the official suites use) ---- */

/* "test:join" room [ack]: join a room. */
static void on_join(sio_socket_t *s, sio_event_t *ev, void *arg)
{
    json_t *data = NULL;
    sio_packet_data(ev->packet, &data);
    const char *room = json_string_value(json_array_get(data, 1));
    int rc = room ? sio_join(s, room) : RS_EINVAL;
    if (ev->ack_id != SIO_NO_ACK) sio_ack_raw(s, ev->ack_id, rc ? span_cstr("false") : span_cstr("true"), NULL, 0);
}

static void on_leave(sio_socket_t *s, sio_event_t *ev, void *arg)
{
    json_t *data = NULL;
    sio_packet_data(ev->packet, &data);
    const char *room = json_string_value(json_array_get(data, 1));
    if (room) sio_leave(s, room);
    if (ev->ack_id != SIO_NO_ACK) sio_ack_raw(s, ev->ack_id, span_cstr("true"), NULL, 0);
}

/* "test:to" {rooms:[], except:[], volatile:bool, skipSelf:bool}, event, ...args */
static void on_to(sio_socket_t *s, sio_event_t *ev, void *arg)
{
    json_t *data = NULL;
    sio_packet_data(ev->packet, &data);
    json_t *opts = json_array_get(data, 1);
    const char *event = json_string_value(json_array_get(data, 2));
    if (!json_is_object(opts) || !event) return;
    const char *rooms[64], *except[64];
    size_t nr = 0, ne = 0, i;
    json_t *v;
    json_array_foreach(json_object_get(opts, "rooms"), i, v) if (nr < 64 && json_is_string(v)) rooms[nr++] = json_string_value(v);
    json_array_foreach(json_object_get(opts, "except"), i, v) if (ne < 64 && json_is_string(v)) except[ne++] = json_string_value(v);
    sio_bcast_t b = {.rooms = rooms, .nrooms = nr, .except = except, .nexcept = ne,
                     .is_volatile = json_is_true(json_object_get(opts, "volatile")),
                     .except_socket = json_is_true(json_object_get(opts, "skipSelf")) ? s : NULL};
    json_t *args = json_array();
    for (i = 3; i < json_array_size(data); i++) json_array_append(args, json_array_get(data, i));
    sio_broadcast(sio_socket_nsp(s), &b, event, args);
    json_decref(args);
    if (ev->ack_id != SIO_NO_ACK) sio_ack_raw(s, ev->ack_id, span_cstr("true"), NULL, 0);
}

struct ask {
    int64_t reply_to;
};

static void asked(sio_socket_t *s, int err, sio_event_t *ack, void *arg)
{
    struct ask *a = arg;
    if (err == 0) {
        sio_ack_raw(s, a->reply_to, ack->args, ack->packet->binaries, ack->packet->nbinaries);
    } else {
        const char *why = err == RS_ETIMEDOUT ? "\"timeout\"" : "\"closed\"";
        sio_ack_raw(s, a->reply_to, span_cstr(why), NULL, 0);
    }
    free(a);
}

/* "test:ask" timeoutMs, event, ...args [ack]: the server emits event with an ack to this
 * client and acknowledges with what the client answered (or "timeout"). */
static void on_ask(sio_socket_t *s, sio_event_t *ev, void *arg)
{
    json_t *data = NULL;
    sio_packet_data(ev->packet, &data);
    json_int_t timeout = json_integer_value(json_array_get(data, 1));
    const char *event = json_string_value(json_array_get(data, 2));
    if (!event || ev->ack_id == SIO_NO_ACK) return;
    struct ask *a = malloc(sizeof *a);
    if (!a) return;
    a->reply_to = ev->ack_id;
    json_t *args = json_array();
    for (size_t i = 3; i < json_array_size(data); i++) json_array_append(args, json_array_get(data, i));
    if (sio_emit_ack(s, event, args, (uint32_t)timeout, asked, a)) free(a);
    json_decref(args);
}

/* "test:disconnect" closeAll: the server disconnects this socket. */
static void on_kick(sio_socket_t *s, sio_event_t *ev, void *arg)
{
    json_t *data = NULL;
    sio_packet_data(ev->packet, &data);
    sio_disconnect(s, json_is_true(json_array_get(data, 1)));
}

/* "/test-private": a middleware that wants auth {token: "secret"}. */
static int need_token(sio_socket_t *s, json_t *auth, const char **message, json_t **data, void *arg)
{
    const char *token = json_string_value(json_object_get(auth, "token"));
    if (token && strcmp(token, "secret") == 0) return 0;
    *message = "unauthorized";
    *data = json_pack("{s:s}", "reason", token ? "bad token" : "no token");
    return RS_EPERM;
}

/* Dynamic namespaces "/test-dyn-<anything>". */
static bool dyn_match(span_t name, void *arg)
{
    return span_starts_with(name, "/test-dyn-");
}

static void dyn_setup(sio_nsp_t *nsp, void *arg)
{
    sio_on_connection(nsp, on_connect, NULL);
    sio_on(nsp, "message", on_message, NULL);
}

int conformance_sio_setup(sio_server_t *srv)
{
    sio_nsp_t *priv = sio_of(srv, "/test-private");
    if (!priv || sio_use(priv, need_token, NULL) || sio_on_connection(priv, on_connect, NULL) ||
        sio_dynamic(srv, dyn_match, dyn_setup, NULL))
        return RS_ENOMEM;
    const char *names[] = {"/", "/custom"};
    for (int i = 0; i < 2; i++) {
        sio_nsp_t *nsp = sio_of(srv, names[i]);
        if (!nsp) return RS_ENOMEM;
        if (sio_on_connection(nsp, on_connect, NULL) || sio_on(nsp, "message", on_message, NULL) ||
            sio_on(nsp, "message-with-ack", on_message_with_ack, NULL) ||
            sio_on(nsp, "broadcast", on_broadcast, NULL) || sio_on(nsp, "test:join", on_join, NULL) ||
            sio_on(nsp, "test:leave", on_leave, NULL) || sio_on(nsp, "test:to", on_to, NULL) ||
            sio_on(nsp, "test:ask", on_ask, NULL) || sio_on(nsp, "test:disconnect", on_kick, NULL))
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
