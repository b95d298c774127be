/* loop.h - one event loop per worker thread: epoll, connections, timers, cross-thread posts.
 *
 * Lifetime rules (read these before writing a handler):
 * - A conn_t is created by the loop on accept and freed by the loop, never by a handler. A
 *   handler asks for a close with conn_close(); the connection's on_close callback runs at the
 *   end of the current loop iteration, after pending output was flushed (or dropped, for an
 *   abortive close). Handler state may be freed only in on_close.
 * - Output is corked: conn_write*() queue bytes and mark the connection dirty; all dirty
 *   connections are flushed once per iteration with writev. EPOLLOUT is requested only after
 *   a short write. A connection whose backlog (output still queued when more is written)
 *   passes its cap is closed (RS_ETOOBIG).
 * - One receive buffer per loop: a handler sees incoming bytes in on_data and returns how many
 *   it consumed; only the unconsumed tail is copied into a per-connection leftover.
 * - Callbacks are never invoked re-entrantly from inside the call that caused them: closes,
 *   timer expiries and posted functions all run from the loop's own phases.
 * - Everything here is single-threaded per loop except loop_post() and loop_stop(), which any
 *   thread may call. */
#ifndef ROOST_NET_LOOP_H
#define ROOST_NET_LOOP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

typedef struct loop loop_t;
typedef struct conn conn_t;

/* A timer embedded in the caller's struct. Zero-initialise; fires once per loop_timer_start. */
typedef struct loop_timer {
    uint64_t at;        /* monotonic ms */
    uint32_t heap_idx;  /* 0 = not armed; otherwise 1-based index in the heap */
    void (*cb)(struct loop_timer *t);
} loop_timer_t;

typedef struct conn_handler {
    /* Bytes arrived: data[0..len) is everything not yet consumed (earlier leftover first).
     * The handler may modify the bytes in place (unmasking). Return how many bytes were
     * consumed (0..len; the rest is kept and offered again with the next bytes), or a
     * negative rs_err to close the connection abortively. If the handler switched handlers
     * (conn_set_handler), the unconsumed rest is offered to the new handler at once. */
    ssize_t (*on_data)(conn_t *c, char *data, size_t len);
    /* The peer closed its side (EOF). Optional: default is conn_close(c, RS_ECLOSED). */
    void (*on_eof)(conn_t *c);
    /* Queued output fell to zero (called on every drain, also after a write that went out at
     * once). Optional. */
    void (*on_drain)(conn_t *c);
    /* The connection's deadline (conn_set_deadline) passed. Optional: default closes. */
    void (*on_timeout)(conn_t *c);
    /* The connection is going away (err: 0 for a local graceful close, or the rs_err cause).
     * Called exactly once, from the loop's close phase. Release handler state here; the fd is
     * closed and the conn freed right after it returns. */
    void (*on_close)(conn_t *c, int err);
    /* The server is stopping (SIGTERM): finish or close politely. Optional: default closes
     * gracefully at once. */
    void (*on_stop)(conn_t *c);
} conn_handler_t;

/* ---- loops ---- */

typedef struct loop_config {
    int index;                /* worker index, 0..count-1 */
    size_t max_conn_input;    /* leftover input cap per connection (default 2 MiB) */
    size_t max_conn_output;   /* queued output cap per connection (default 8 MiB) */
    int max_conns_per_ip;     /* 0 = unlimited; counted per loop */
    void *tls_ctx;            /* an SSL_CTX* (net/tls.h): accepted connections speak TLS */
} loop_config_t;

/* Create a loop (epoll instance, eventfd, receive buffer). NULL on failure (logged). */
loop_t *loop_new(const loop_config_t *cfg);
/* Free a stopped loop. Open connections are closed abortively (their on_close runs). */
void loop_free(loop_t *l);

/* Run until loop_stop(); returns 0, or RS_EIO if epoll fails. */
int loop_run(loop_t *l);
/* Ask the loop to begin stopping: listeners close, the stop hook runs (from the loop's thread),
 * and loop_run returns once no connections remain or grace_ms passed (the rest are closed
 * abortively). Thread-safe. */
void loop_stop(loop_t *l, int grace_ms);
/* Called on the loop's thread when a stop begins (to close sessions politely). */
void loop_set_stop_hook(loop_t *l, void (*hook)(loop_t *l, void *arg), void *arg);
bool loop_stopping(const loop_t *l);
/* After loop_run returned: run what was posted or deferred since, on the calling thread (as if
 * it were the loop's). Returns true when anything ran (call again until false). */
bool loop_drain(loop_t *l);

int loop_index(const loop_t *l);
/* The loop's cached monotonic clock (ms), refreshed every iteration. */
uint64_t loop_now(const loop_t *l);
/* Per-loop application data (one pointer per layer would be overkill; the app keeps a struct). */
void loop_set_data(loop_t *l, void *data);
void *loop_data(const loop_t *l);
/* The loop running on the calling thread, or NULL. */
loop_t *loop_current(void);

/* Listen: a non-blocking listening socket (the caller made it; the loop owns it from now on).
 * on_accept runs for each new connection; it must call conn_set_handler. */
int loop_add_listener(loop_t *l, int fd, void (*on_accept)(conn_t *c, void *arg), void *arg);

/* Run fn(arg) on loop l's thread during its next iteration. Thread-safe. Returns 0 or
 * RS_ENOMEM (fn will then never run: the caller keeps ownership of arg). Posts from one thread
 * to one loop run in order. */
int loop_post(loop_t *l, void (*fn)(void *arg), void *arg);

/* Run fn(arg) at the end of the current iteration of l, after handlers (same thread only).
 * Used to defer work out of a callback. */
int loop_defer(loop_t *l, void (*fn)(void *arg), void *arg);

/* Timers (same thread only). Starting an armed timer re-arms it. The callback may restart it. */
void loop_timer_start(loop_t *l, loop_timer_t *t, uint64_t delay_ms, void (*cb)(loop_timer_t *t));
void loop_timer_stop(loop_t *l, loop_timer_t *t);
static inline bool loop_timer_armed(const loop_timer_t *t)
{
    return t->heap_idx != 0;
}

/* ---- connections ---- */

void conn_set_handler(conn_t *c, const conn_handler_t *h, void *user);
void *conn_user(const conn_t *c);
loop_t *conn_loop(const conn_t *c);
int conn_fd(const conn_t *c);
/* The peer's address as text ("127.0.0.1"), and its raw form for per-IP accounting. */
const char *conn_peer_ip(const conn_t *c);

/* Queue bytes (copied). 0, RS_ENOMEM, RS_ETOOBIG (output cap passed: the connection is being
 * closed; stop writing to it), RS_ECLOSED (already closing). */
int conn_write(conn_t *c, const void *data, size_t len);
/* Queue a shared chunk: takes a new reference to r (the caller keeps its own). */
int conn_write_rbuf(conn_t *c, rbuf_t *r);
/* Reserve room for up to `need` bytes at the tail of the output and return a pointer to it;
 * commit with conn_write_commit(c, n) (n <= need). NULL on RS_ENOMEM / closing. Lets encoders
 * write frames without an intermediate copy. */
char *conn_write_reserve(conn_t *c, size_t need);
void conn_write_commit(conn_t *c, size_t n);
/* Bytes queued but not yet written to the kernel (for backpressure and volatile drops). */
size_t conn_queued(const conn_t *c);
void conn_set_output_cap(conn_t *c, size_t cap);
void conn_set_input_cap(conn_t *c, size_t cap);

/* Close. RS_OK (0) = graceful: stop reading, flush queued output (bounded by linger_ms, then
 * abort), shutdown, close. Negative = abortive: drop queued output. Idempotent; the first
 * call's reason is the one on_close sees. */
void conn_close(conn_t *c, int err);
/* Graceful close once output drains, with a bound (ms) after which the close is forced. */
void conn_close_after_flush(conn_t *c, uint32_t linger_ms);
bool conn_closing(const conn_t *c);

/* Offer the kept leftover input to the handler again at the end of this iteration, without
 * waiting for new bytes (a pipelined request held back while an earlier one completed). */
void conn_replay_input(conn_t *c);

/* Stop / resume reading (backpressure towards the peer). */
void conn_pause_reading(conn_t *c);
void conn_resume_reading(conn_t *c);

/* Arm the connection's single deadline timer (on_timeout fires); 0 disarms. */
void conn_set_deadline(conn_t *c, uint64_t delay_ms);

/* Move a connection to another loop (another worker): it is removed from this loop now and
 * adopted by `to` on its thread, where on_adopt(c, arg) runs and must set a handler; `input`
 * bytes (e.g. an already-read request) are offered to that handler's on_data first. The
 * current handler's on_close is NOT called (ownership of handler state moves with arg).
 * Returns 0 or RS_ENOMEM (nothing changed). */
int conn_migrate(conn_t *c, loop_t *to, const char *input, size_t input_len,
                 void (*on_adopt)(conn_t *c, void *arg), void *arg);

/* Counters for /metrics. */
typedef struct loop_stats {
    uint64_t conns_open, conns_accepted, conns_rejected, bytes_in, bytes_out, output_cap_closes;
} loop_stats_t;
void loop_get_stats(const loop_t *l, loop_stats_t *out);

#endif
