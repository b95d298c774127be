/* server.h - Socket.IO v5 server: namespaces, sockets, events, acks, rooms, broadcasts.
 *
 * The C counterpart of the JavaScript API, for application code (the platform, and the
 * conformance mode). Everything runs on the worker loop that owns the client; broadcasts
 * reach sockets on every worker (and, through the adapter, on other nodes).
 *
 * Arguments travel as JSON text: an event's arguments are handed to handlers as the raw
 * comma-separated JSON values (sio_event_t.args) with a lazily parsed jansson array when
 * wanted; emits take either a jansson array or raw text. Binary arguments are placeholders
 * {"_placeholder":true,"num":i} in the JSON plus the attachment bytes.
 *
 * Lifetime: a sio_socket_t is valid from the connection hook until its disconnect hook has
 * returned. Code that answers later (an ack after a database commit) takes a reference with
 * sio_socket_ref() and drops it with sio_socket_unref(); emitting on a disconnected socket is
 * a harmless no-op returning RS_ECLOSED. */
#ifndef ROOST_SIO_SERVER_H
#define ROOST_SIO_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "eio/server.h"
#include "net/loop.h"
#include "sio/packet.h"
#include "util/buf.h"
#include "util/span.h"

typedef struct sio_server sio_server_t;
typedef struct sio_nsp sio_nsp_t;
typedef struct sio_socket sio_socket_t;

typedef struct sio_config {
    uint32_t connect_timeout_ms; /* CONNECT must arrive within this (45 s) */
    uint32_t ack_timeout_default_ms;
    bool recovery;               /* connection-state recovery */
    uint32_t max_disconnection_ms;
    size_t max_output_volatile;  /* volatile packets are dropped beyond this much queued output */
} sio_config_t;

/* An incoming event. */
typedef struct sio_event {
    span_t name;
    span_t args;          /* raw JSON of the arguments after the name, comma-separated */
    size_t nargs;
    int64_t ack_id;       /* SIO_NO_ACK when the client wants no acknowledgement */
    sio_packet_t *packet; /* the decoded packet: binaries, sio_packet_data() */
} sio_event_t;

typedef void (*sio_event_fn)(sio_socket_t *s, sio_event_t *ev, void *arg);
typedef void (*sio_socket_fn)(sio_socket_t *s, void *arg);
typedef void (*sio_disconnect_fn)(sio_socket_t *s, const char *reason, void *arg);
/* Middleware: return 0 to accept; or fill *message (static or owned by the socket: see
 * sio_socket_set_error) and optionally *data (a reference the server takes) and return a
 * negative code to refuse with CONNECT_ERROR. auth is the CONNECT payload (NULL: none). */
typedef int (*sio_middleware_fn)(sio_socket_t *s, json_t *auth, const char **message,
                                 json_t **data, void *arg);
/* Ack from a client for a server emit: err 0 with the args, or RS_ETIMEDOUT / RS_ECLOSED with
 * args NULL. */
typedef void (*sio_ack_fn)(sio_socket_t *s, int err, sio_event_t *ack, void *arg);

sio_server_t *sio_server_new(const sio_config_t *cfg, loop_t *const *loops, int nloops);
void sio_server_free(sio_server_t *srv);
/* The Engine.IO callbacks that drive this server (pass to eio_server_new with srv as arg). */
const eio_callbacks_t *sio_eio_callbacks(void);

/* A static namespace (created on first call). Configure namespaces before the loops run. */
sio_nsp_t *sio_of(sio_server_t *srv, const char *name);
/* Dynamic namespaces: a name matching the predicate is created on first CONNECT and set up
 * by setup() (on the connecting loop; namespaces are per process, setup runs once). */
int sio_dynamic(sio_server_t *srv, bool (*match)(span_t name, void *arg),
                void (*setup)(sio_nsp_t *nsp, void *arg), void *arg);
const char *sio_nsp_name(const sio_nsp_t *nsp);

int sio_use(sio_nsp_t *nsp, sio_middleware_fn fn, void *arg);
int sio_on_connection(sio_nsp_t *nsp, sio_socket_fn fn, void *arg);
int sio_on_disconnect(sio_nsp_t *nsp, sio_disconnect_fn fn, void *arg);
/* Handler for an event name on every socket of the namespace ("*" = any event not handled). */
int sio_on(sio_nsp_t *nsp, const char *event, sio_event_fn fn, void *arg);

/* ---- sockets ---- */
const char *sio_socket_id(const sio_socket_t *s);
sio_nsp_t *sio_socket_nsp(const sio_socket_t *s);
eio_session_t *sio_socket_session(const sio_socket_t *s);
bool sio_socket_connected(const sio_socket_t *s);
void sio_socket_set_data(sio_socket_t *s, void *data, void (*free_fn)(void *));
void *sio_socket_data(const sio_socket_t *s);
sio_socket_t *sio_socket_ref(sio_socket_t *s);
void sio_socket_unref(sio_socket_t *s);
/* The CONNECT auth payload (borrowed; NULL when none). */
json_t *sio_socket_auth(const sio_socket_t *s);

/* Emit an event with a jansson array of arguments (NULL = none); binaries[i] fill the
 * placeholders numbered i. 0, RS_ECLOSED, RS_ENOMEM. */
int sio_emit(sio_socket_t *s, const char *event, const json_t *args, rbuf_t *const *binaries,
             int nbinaries);
/* Emit with raw JSON argument text (comma-separated values, may be empty). */
int sio_emit_raw(sio_socket_t *s, span_t event, span_t args, rbuf_t *const *binaries,
                 int nbinaries);
/* Emit expecting an acknowledgement within timeout_ms (0 = the server default). */
int sio_emit_ack(sio_socket_t *s, const char *event, const json_t *args, uint32_t timeout_ms,
                 sio_ack_fn cb, void *arg);
/* Acknowledge an event (ev->ack_id) with raw JSON args or a jansson array; later is fine. */
int sio_ack_raw(sio_socket_t *s, int64_t ack_id, span_t args, rbuf_t *const *binaries, int nbinaries);
int sio_ack(sio_socket_t *s, int64_t ack_id, const json_t *args);

int sio_join(sio_socket_t *s, const char *room);
int sio_leave(sio_socket_t *s, const char *room);
bool sio_in_room(const sio_socket_t *s, const char *room);
/* Disconnect from the namespace (reason "server namespace disconnect"); close_all also closes
 * the underlying connection. */
void sio_disconnect(sio_socket_t *s, bool close_all);

/* ---- broadcasts ---- */
typedef struct sio_bcast {
    const char *const *rooms;  /* NULL/0: every socket of the namespace */
    size_t nrooms;
    const char *const *except; /* rooms whose members are skipped */
    size_t nexcept;
    const sio_socket_t *except_socket; /* "socket.broadcast": skip the sender */
    bool is_volatile;          /* dropped for clients that cannot take it now */
    bool local;                /* this node only (no adapter) */
} sio_bcast_t;

/* Emit to the sockets selected by b on every worker (and node). Encoded once. */
int sio_broadcast(sio_nsp_t *nsp, const sio_bcast_t *b, const char *event, const json_t *args);
int sio_broadcast_raw(sio_nsp_t *nsp, const sio_bcast_t *b, span_t event, span_t args,
                      rbuf_t *const *binaries, int nbinaries);

/* ---- cluster adapter ----
 * The hooks a cluster adapter (cluster/redis.c) plugs in, and the entry points it calls from
 * its own thread. Everything below except sio_set_adapter is thread-safe: it may run on a
 * non-loop thread, where work for the sockets is posted to every worker loop. */
typedef struct sio_adapter_ops {
    /* A broadcast with b->local false was delivered on this node: forward it to the others.
     * Runs on the broadcasting thread (a worker, or any thread); must not block. b may be
     * NULL (every socket of the namespace); b->except_socket, when set, is to be skipped. */
    void (*publish)(void *ctx, sio_nsp_t *nsp, const sio_bcast_t *b, span_t event, span_t args,
                    rbuf_t *const *bins, int nbins);
    /* A namespace exists (called by sio_set_adapter for those already created, then on each
     * creation, possibly on a worker thread under the namespace lock: must not block). */
    void (*nsp_created)(void *ctx, const char *name);
} sio_adapter_ops_t;

/* Install the adapter (before the loops run). ops and ctx must outlive the server's use;
 * sio_set_adapter(srv, NULL, NULL) removes it. */
void sio_set_adapter(sio_server_t *srv, const sio_adapter_ops_t *ops, void *ctx);

/* Deliver a broadcast that came from another node to the local sockets selected by b (b->local
 * and b->except_socket are ignored: the delivery is always local). Encoded once; posted to every
 * worker. Returns 0; RS_ENOTFOUND when this node has no such namespace (nothing to deliver);
 * RS_EINVAL (nbins out of range), RS_ENOMEM. */
int sio_broadcast_remote(sio_server_t *srv, const char *nsp, const sio_bcast_t *b, span_t event,
                         span_t args, rbuf_t *const *bins, int nbins);

/* Operations over the local sockets that b->rooms / b->except select (as a broadcast would),
 * for the adapter's requests. */
typedef enum sio_remote_op {
    SIO_REMOTE_FETCH,      /* result: array of {id, handshake, rooms, data} */
    SIO_REMOTE_ROOMS,      /* every room of the namespace (sockets' own ids included); b unused */
    SIO_REMOTE_JOIN,       /* selected sockets join names[] */
    SIO_REMOTE_LEAVE,      /* selected sockets leave names[] */
    SIO_REMOTE_DISCONNECT, /* selected sockets are disconnected (close: the whole connection) */
} sio_remote_op_t;

/* result: a new jansson array (FETCH, ROOMS; NULL otherwise) the callee may keep with
 * json_incref; matched: how many sockets were selected. */
typedef void (*sio_remote_done_fn)(json_t *result, size_t matched, void *arg);

/* Run op on every worker; done(arg) runs exactly once, on the last worker to finish, after all
 * did their part. Returns 0 (done will run); RS_ENOTFOUND when the namespace does not exist
 * here, RS_ENOMEM (done will not run). */
int sio_remote_apply(sio_server_t *srv, const char *nsp, sio_remote_op_t op, const sio_bcast_t *b,
                     const char *const *names, size_t nnames, bool close, sio_remote_done_fn done,
                     void *arg);

/* A broadcast from another node that wants each client's acknowledgement (socket.io's
 * emitWithAck across a cluster). Each selected socket gets the event with an ack id; count()
 * runs once (on a worker) with the number of sockets sent to; ack() runs for each client answer
 * (on that client's worker; ev->args and ev->packet->binaries hold the answer); release() runs
 * once nothing refers to arg any more (after count, and after every ack answered, timed out
 * after timeout_ms, or its socket closed). Returns 0 (count and release will run);
 * RS_ENOTFOUND, RS_EINVAL, RS_ENOMEM (no callback will run). */
typedef struct sio_remote_ack_ops {
    void (*count)(void *arg, size_t clients);
    void (*ack)(void *arg, sio_event_t *ev);
    void (*release)(void *arg);
} sio_remote_ack_ops_t;
int sio_broadcast_remote_ack(sio_server_t *srv, const char *nsp, const sio_bcast_t *b, span_t event,
                             span_t args, rbuf_t *const *bins, int nbins, uint32_t timeout_ms,
                             const sio_remote_ack_ops_t *ops, void *arg);

/* Release this worker thread's encoding buffer (call when a worker thread ends). */
void sio_thread_release(void);

/* Counters for /metrics (process-wide). */
typedef struct sio_stats {
    uint64_t connects, disconnects, events_in, events_out, broadcasts, broadcast_deliveries,
        volatile_dropped, connect_errors, parse_errors;
} sio_stats_t;
void sio_get_stats(sio_stats_t *out);
/* Sockets and rooms on this loop. */
void sio_loop_counts(sio_server_t *srv, loop_t *l, size_t *sockets, size_t *rooms);

#endif
