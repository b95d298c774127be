/* server.h - Engine.IO v4 server: sessions over long-polling and WebSocket, the upgrade,
 * heartbeats, and the reference server's HTTP error answers.
 *
 * One eio_server_t per endpoint path (/socket.io/, and /engine.io/ in conformance mode),
 * shared read-only by every worker; each session lives on the worker that created it, and
 * its sid names that worker so a request arriving elsewhere is handed to the owner.
 *
 * Callbacks run on the session's loop. After on_close returns the session is freed: drop
 * every pointer to it there. Sending from inside on_message is fine; output is corked and
 * flushed once per loop iteration. */
#ifndef ROOST_EIO_SERVER_H
#define ROOST_EIO_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/server.h"
#include "net/loop.h"
#include "util/buf.h"

typedef struct eio_server eio_server_t;
typedef struct eio_session eio_session_t;

typedef struct eio_callbacks {
    /* A new session was opened (its open packet is queued). Return 0 to accept; the upper
     * layer sets its user data here. */
    void (*on_open)(eio_session_t *s, void *arg);
    /* A message packet (text or binary). data is valid only during the call. */
    void (*on_message)(eio_session_t *s, char *data, size_t len, bool binary, void *arg);
    /* The session ended: "transport close", "ping timeout", "parse error", "transport error",
     * "forced close", "server shutting down". */
    void (*on_close)(eio_session_t *s, const char *reason, void *arg);
} eio_callbacks_t;

typedef struct eio_config {
    const char *path;          /* "/socket.io/" */
    uint32_t ping_interval_ms;
    uint32_t ping_timeout_ms;
    uint64_t max_payload;
    uint32_t upgrade_timeout_ms;
    bool ws_deflate;
    const char *cookie;        /* "io" cookie name, or NULL */
    uint32_t max_message_rate; /* messages per second per session (burst: 2 s worth); 0 = off */
} eio_config_t;

/* loops: every worker's loop, indexed by loop_index(); the array must outlive the server. */
eio_server_t *eio_server_new(const eio_config_t *cfg, loop_t *const *loops, int nloops,
                             const eio_callbacks_t *cb, void *arg);
void eio_server_free(eio_server_t *srv);
/* Route handler for cfg->path (register with HTTP_ROUTE_PREFIX | HTTP_ROUTE_UPGRADE). */
void eio_server_handle(http_req_t *r, void *srv);
/* Close every session of the calling loop with "server shutting down" (from the stop hook). */
void eio_server_stop_loop(eio_server_t *srv, loop_t *l);
/* Sessions currently open on this loop, by transport. */
void eio_server_counts(eio_server_t *srv, loop_t *l, size_t *polling, size_t *websocket);

/* Queue a message packet. 0, RS_ECLOSED (session closing), RS_ENOMEM. */
int eio_send(eio_session_t *s, const void *data, size_t len, bool binary);
/* The same, message given as prefix + payload (avoids joining, e.g. "42" + JSON). */
int eio_send2(eio_session_t *s, const void *a, size_t alen, const void *b, size_t blen, bool binary);
/* A packet encoded once for many sessions: payload is the whole Engine.IO packet ("4..." for
 * text; raw bytes for a binary message); ws_frame, when set, is payload already framed as one
 * WebSocket message (ws_frame_prepare) for sessions that can share it. Immutable once built;
 * safe to share across workers. */
typedef struct eio_prepared {
    rbuf_t *payload;
    rbuf_t *ws_frame;
    bool binary;
} eio_prepared_t;
/* Build a prepared packet (takes a reference to payload). 0 or RS_ENOMEM. */
int eio_prepared_init(eio_prepared_t *p, rbuf_t *payload, bool binary);
void eio_prepared_release(eio_prepared_t *p);
int eio_send_prepared(eio_session_t *s, const eio_prepared_t *p);
/* Close the session from the server side ("forced close"): a close packet is sent. */
void eio_close(eio_session_t *s);
/* Bytes waiting to go out on the session (polling buffer or WebSocket output). */
size_t eio_queued(const eio_session_t *s);
/* Would a message sent now be written without waiting (for volatile emits)? */
bool eio_writable(const eio_session_t *s);
const char *eio_sid(const eio_session_t *s);
loop_t *eio_loop(const eio_session_t *s);
bool eio_is_websocket(const eio_session_t *s);
void eio_set_user(eio_session_t *s, void *user);
/* The arg given to eio_server_new (what the callbacks receive), for code holding a session. */
void *eio_server_arg(const eio_session_t *s);
void *eio_user(const eio_session_t *s);
/* The handshake request's headers were copied for the upper layer: cookies and auth. */
span_t eio_handshake_cookie(const eio_session_t *s, const char *name);
const char *eio_remote_ip(const eio_session_t *s);

#endif
