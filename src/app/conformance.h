/* conformance.h - the endpoints the official protocol test suites drive (PROTOCOL.md):
 * an Engine.IO echo at /engine.io/, Socket.IO namespaces "/" and "/custom" with the auth,
 * message-back, message-with-ack and broadcast-back behaviours, and a WebSocket echo at
 * /ws-echo. Enabled by --conformance only. */
#ifndef ROOST_APP_CONFORMANCE_H
#define ROOST_APP_CONFORMANCE_H

#include "eio/server.h"
#include "http/server.h"
#include "sio/server.h"

/* Engine.IO callbacks that echo every message back unchanged. */
const eio_callbacks_t *conformance_eio_echo(void);
/* Set up "/" and "/custom" on the Socket.IO server. */
int conformance_sio_setup(sio_server_t *srv);
/* Route handler for /ws-echo (arg: a bool* saying whether deflate is offered). */
void conformance_ws_echo(http_req_t *r, void *arg);

#endif
