/* server.c - Engine.IO v4 sessions: handshake, long-polling, WebSocket, upgrade, heartbeat. */
#include "eio/server.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>

#include "eio/packet.h"
#include "util/base64.h"
#include "util/err.h"
#include "util/log.h"
#include "util/map.h"
#include "ws/conn.h"
#include "ws/frame.h"

#define SID_RANDOM_BYTES 15 /* 120 bits */
#define SID_LEN (1 + 20)    /* worker character + base64url of the random bytes */

enum transport { T_POLLING = 0, T_WEBSOCKET = 1 };
enum sstate { S_OPEN = 0, S_CLOSED = 1 };

struct eio_loop {
    map_t sessions;
    size_t npolling, nwebsocket;
};

struct eio_server {
    eio_config_t cfg;
    char *path;
    loop_t *const *loops;
    int nloops;
    eio_callbacks_t cb;
    void *arg;
    struct eio_loop *per;
};

/* What only a long-polling session needs, kept apart so that a WebSocket session (the steady
 * state of nearly every client) carries none of it: allocated with a polling session, freed
 * when its upgrade completes. */
struct eio_poll {
    eio_session_t *s;
    http_req_t *get;  /* the pending long-polling GET */
    buf_t buf;        /* packets waiting for a GET, already in polling form */
    ws_conn_t *probe; /* a WebSocket being upgraded to */
    loop_timer_t upgrade_timer;
};

struct eio_session {
    eio_server_t *srv;
    loop_t *loop;
    char sid[SID_LEN + 1];
    uint8_t transport;
    uint8_t state;
    uint8_t awaiting_pong;
    uint8_t probing;         /* a WebSocket answered "3probe" and waits for "5" */
    uint8_t flush_scheduled;
    uint8_t opened;          /* on_open ran: on_close is owed */
    struct eio_poll *poll;   /* long-polling state; NULL once on WebSocket (or never polled) */
    ws_conn_t *ws;           /* the WebSocket transport */
    loop_timer_t ping_timer;
    uint64_t rate_at;        /* token bucket for --max-message-rate: last refill (ms) */
    uint32_t rate_tokens;
    void *user;
    char *cookies;           /* the handshake's Cookie header, or NULL */
    struct in6_addr ip;      /* the client's address (IPv4 as mapped), text on demand */
};

static const ws_conn_ops_t main_ws_ops;
static const ws_conn_ops_t probe_ws_ops;

/* ---- small accessors ---- */

void *eio_server_arg(const eio_session_t *s)
{
    return s->srv->arg;
}

const char *eio_sid(const eio_session_t *s)
{
    return s->sid;
}
loop_t *eio_loop(const eio_session_t *s)
{
    return s->loop;
}
bool eio_is_websocket(const eio_session_t *s)
{
    return s->transport == T_WEBSOCKET;
}
void eio_set_user(eio_session_t *s, void *user)
{
    s->user = user;
}
void *eio_user(const eio_session_t *s)
{
    return s->user;
}
const char *eio_remote_ip(const eio_session_t *s)
{
    static __thread char text[INET6_ADDRSTRLEN];
    if (IN6_IS_ADDR_V4MAPPED(&s->ip)) inet_ntop(AF_INET, &s->ip.s6_addr[12], text, sizeof text);
    else inet_ntop(AF_INET6, &s->ip, text, sizeof text);
    return text;
}

span_t eio_handshake_cookie(const eio_session_t *s, const char *name)
{
    return s->cookies ? http_cookie_get(span_cstr(s->cookies), name) : SPAN_NULL;
}

size_t eio_queued(const eio_session_t *s)
{
    if (s->transport == T_WEBSOCKET && s->ws) return ws_queued(s->ws);
    return s->poll ? s->poll->buf.len : 0;
}

bool eio_writable(const eio_session_t *s)
{
    if (s->state != S_OPEN) return false;
    if (s->transport == T_WEBSOCKET) return s->ws && ws_queued(s->ws) == 0;
    return s->poll && s->poll->get && s->poll->buf.len == 0;
}

/* ---- server ---- */

eio_server_t *eio_server_new(const eio_config_t *cfg, loop_t *const *loops, int nloops,
                             const eio_callbacks_t *cb, void *arg)
{
    if (nloops < 1 || nloops > 64) return NULL;
    eio_server_t *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->cfg = *cfg;
    srv->path = strdup(cfg->path);
    srv->loops = loops;
    srv->nloops = nloops;
    srv->cb = *cb;
    srv->arg = arg;
    srv->per = calloc((size_t)nloops, sizeof *srv->per);
    if (!srv->path || !srv->per) {
        eio_server_free(srv);
        return NULL;
    }
    srv->cfg.path = srv->path;
    return srv;
}

void eio_server_free(eio_server_t *srv)
{
    if (!srv) return;
    if (srv->per)
        for (int i = 0; i < srv->nloops; i++) map_free(&srv->per[i].sessions);
    free(srv->per);
    free(srv->path);
    free(srv);
}

void eio_server_counts(eio_server_t *srv, loop_t *l, size_t *polling, size_t *websocket)
{
    struct eio_loop *pl = &srv->per[loop_index(l)];
    *polling = pl->npolling;
    *websocket = pl->nwebsocket;
}

static const char sid_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int sid_owner(const eio_server_t *srv, span_t sid)
{
    if (sid.len != SID_LEN) return -1;
    const char *p = strchr(sid_alphabet, sid.base[0]);
    if (!p || !*p) return -1;
    int idx = (int)(p - sid_alphabet);
    return idx < srv->nloops ? idx : -1;
}

static void make_sid(char out[SID_LEN + 1], int worker)
{
    unsigned char rnd[SID_RANDOM_BYTES];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
        if (n > 0) got += (size_t)n;
    }
    out[0] = sid_alphabet[worker];
    base64url_encode(rnd, sizeof rnd, out + 1);
    out[SID_LEN] = '\0';
}

/* ---- sending ---- */

static void flush_cb(void *arg);

static void schedule_flush(eio_session_t *s)
{
    if (s->flush_scheduled || !s->poll || !s->poll->get) return;
    /* Batch everything sent during this iteration into one response. */
    if (loop_defer(s->loop, flush_cb, s) == 0) s->flush_scheduled = 1;
}

static void respond_poll(eio_session_t *s, const char *body, size_t len)
{
    http_req_t *r = s->poll->get;
    s->poll->get = NULL;
    http_req_on_abort(r, NULL, NULL);
    http_req_add_cors(r);
    http_respond(r, 200, "text/plain; charset=UTF-8", body, len);
}

static void flush_cb(void *arg)
{
    eio_session_t *s = arg;
    s->flush_scheduled = 0;
    struct eio_poll *pp = s->poll;
    if (!pp || !pp->get || !pp->buf.len) return;
    respond_poll(s, pp->buf.base, pp->buf.len);
    buf_free(&pp->buf);
}

/* Queue one packet in polling form. */
static int poll_append(eio_session_t *s, int type, const void *a, size_t alen, const void *b,
                       size_t blen, bool binary)
{
    buf_t *pb = &s->poll->buf;
    size_t mark = pb->len;
    int rc = 0;
    if (pb->len) rc = buf_append_byte(pb, EIO_RECORD_SEPARATOR);
    if (!binary) {
        if (!rc) rc = buf_append_byte(pb, (char)('0' + type));
        if (!rc) rc = buf_append(pb, a, alen);
        if (!rc) rc = buf_append(pb, b, blen);
    } else {
        /* Binary over polling is "b" + base64 of the whole message. */
        if (!rc) rc = buf_append_byte(pb, 'b');
        if (!rc && blen == 0) rc = base64_append(pb, a, alen);
        if (!rc && blen) {
            buf_t joined = BUF_INIT;
            rc = buf_append(&joined, a, alen);
            if (!rc) rc = buf_append(&joined, b, blen);
            if (!rc) rc = base64_append(pb, joined.base, joined.len);
            buf_free(&joined);
        }
    }
    if (rc) {
        pb->len = mark;
        return rc;
    }
    schedule_flush(s);
    return 0;
}

static int send_packet(eio_session_t *s, int type, const void *a, size_t alen, const void *b,
                       size_t blen, bool binary)
{
    if (s->transport == T_WEBSOCKET) {
        char t = (char)('0' + type);
        struct iovec iov[3] = {{&t, 1}, {(void *)a, alen}, {(void *)b, blen}};
        /* A binary message is the bytes alone; text carries the type digit. */
        return binary ? ws_sendv(s->ws, iov + 1, 2, true) : ws_sendv(s->ws, iov, 3, false);
    }
    return poll_append(s, type, a, alen, b, blen, binary);
}

int eio_send2(eio_session_t *s, const void *a, size_t alen, const void *b, size_t blen, bool binary)
{
    if (s->state != S_OPEN) return RS_ECLOSED;
    return send_packet(s, EIO_MESSAGE, a, alen, b, blen, binary);
}

int eio_send(eio_session_t *s, const void *data, size_t len, bool binary)
{
    return eio_send2(s, data, len, NULL, 0, binary);
}

int eio_prepared_init(eio_prepared_t *p, rbuf_t *payload, bool binary)
{
    p->payload = rbuf_ref(payload);
    p->binary = binary;
    p->ws_frame = ws_frame_prepare(binary ? WS_OP_BINARY : WS_OP_TEXT, 0, payload->data, payload->len);
    if (!p->ws_frame) {
        rbuf_unref(p->payload);
        p->payload = NULL;
        return RS_ENOMEM;
    }
    return 0;
}

void eio_prepared_release(eio_prepared_t *p)
{
    rbuf_unref(p->payload);
    rbuf_unref(p->ws_frame);
    p->payload = p->ws_frame = NULL;
}

int eio_send_prepared(eio_session_t *s, const eio_prepared_t *p)
{
    if (s->state != S_OPEN) return RS_ECLOSED;
    if (s->transport == T_WEBSOCKET) {
        if (p->ws_frame && ws_can_share(s->ws)) return ws_send_prepared(s->ws, p->ws_frame);
        return ws_send(s->ws, p->payload->data, p->payload->len, p->binary);
    }
    if (p->binary) return poll_append(s, EIO_MESSAGE, p->payload->data, p->payload->len, NULL, 0, true);
    if (!p->payload->len) return 0;
    /* Text payloads already start with their type digit. */
    return poll_append(s, p->payload->data[0] - '0', p->payload->data + 1, p->payload->len - 1,
                       NULL, 0, false);
}

/* ---- closing ---- */

/* Release the polling state; the caller made sure no GET waits and no probe is open. */
static void poll_free(eio_session_t *s)
{
    if (!s->poll) return;
    buf_free(&s->poll->buf);
    free(s->poll);
    s->poll = NULL;
}

static void free_cb(void *arg)
{
    eio_session_t *s = arg;
    poll_free(s);
    free(s->cookies);
    free(s);
}

static void session_close(eio_session_t *s, const char *reason, int send_close_packet)
{
    if (s->state == S_CLOSED) return;
    s->state = S_CLOSED;
    struct eio_loop *pl = &s->srv->per[loop_index(s->loop)];
    map_del(&pl->sessions, span_make(s->sid, SID_LEN));
    if (s->transport == T_WEBSOCKET) pl->nwebsocket--;
    else pl->npolling--;
    loop_timer_stop(s->loop, &s->ping_timer);
    struct eio_poll *pp = s->poll;
    if (pp) loop_timer_stop(s->loop, &pp->upgrade_timer);
    if (pp && pp->get) {
        /* Tell a waiting poller the session is over. */
        if (send_close_packet) respond_poll(s, "1", 1);
        else {
            http_req_t *r = pp->get;
            pp->get = NULL;
            http_req_on_abort(r, NULL, NULL);
            http_req_add_cors(r);
            http_respond(r, 200, "text/plain; charset=UTF-8", "1", 1);
        }
    }
    if (pp && pp->probe) {
        ws_set_user(pp->probe, NULL, NULL);
        ws_close(pp->probe, 1000, NULL);
        pp->probe = NULL;
    }
    if (s->ws) {
        ws_conn_t *w = s->ws;
        s->ws = NULL;
        ws_set_user(w, NULL, NULL);
        if (send_close_packet) ws_send(w, "1", 1, false);
        ws_close(w, strcmp(reason, "server shutting down") == 0 ? 1001 : 1000, NULL);
    }
    if (s->opened && s->srv->cb.on_close) s->srv->cb.on_close(s, reason, s->srv->arg);
    /* Free after this iteration's other callbacks, which may still hold the pointer. */
    if (loop_defer(s->loop, free_cb, s) < 0) LOG_ERROR("eio", "cannot defer session free; leaking");
}

void eio_close(eio_session_t *s)
{
    session_close(s, "forced close", 1);
}

void eio_server_stop_loop(eio_server_t *srv, loop_t *l)
{
    struct eio_loop *pl = &srv->per[loop_index(l)];
    size_t n = pl->sessions.len, k = 0;
    if (!n) return;
    eio_session_t **all = malloc(n * sizeof *all);
    if (!all) return;
    map_entry_t *e;
    for (size_t i = 0; map_next(&pl->sessions, &i, &e);) all[k++] = e->value;
    for (size_t i = 0; i < k; i++) session_close(all[i], "server shutting down", 0);
    free(all);
}

/* ---- heartbeat ---- */

static void ping_fired(loop_timer_t *t)
{
    eio_session_t *s = (eio_session_t *)((char *)t - offsetof(eio_session_t, ping_timer));
    if (s->awaiting_pong) {
        session_close(s, "ping timeout", 0);
        return;
    }
    s->awaiting_pong = 1;
    send_packet(s, EIO_PING, NULL, 0, NULL, 0, false);
    loop_timer_start(s->loop, &s->ping_timer, s->srv->cfg.ping_timeout_ms, ping_fired);
}

/* ---- incoming packets ---- */

/* A flood of tiny messages from one client would monopolise its worker: refill a token
 * bucket at the configured rate and close sessions that run dry. */
static bool rate_ok(eio_session_t *s)
{
    uint32_t rate = s->srv->cfg.max_message_rate;
    if (!rate) return true;
    uint64_t now = loop_now(s->loop);
    uint64_t burst = (uint64_t)rate * 2;
    uint64_t refill = (now - s->rate_at) * rate / 1000;
    if (refill) {
        uint64_t t = s->rate_tokens + refill;
        s->rate_tokens = (uint32_t)(t > burst ? burst : t);
        s->rate_at = now;
    }
    if (!s->rate_tokens) return false;
    s->rate_tokens--;
    return true;
}

static void handle_packet(eio_session_t *s, const eio_packet_t *p)
{
    switch (p->type) {
    case EIO_MESSAGE:
        if (!rate_ok(s)) {
            LOG_INFO("eio", "%s: closing session %s: more than %u messages/s", eio_remote_ip(s), s->sid,
                     s->srv->cfg.max_message_rate);
            session_close(s, "transport error", 0);
            break;
        }
        if (s->srv->cb.on_message)
            s->srv->cb.on_message(s, (char *)p->data.base, p->data.len, p->binary != 0, s->srv->arg);
        break;
    case EIO_PONG:
        if (s->awaiting_pong) {
            s->awaiting_pong = 0;
            loop_timer_start(s->loop, &s->ping_timer, s->srv->cfg.ping_interval_ms, ping_fired);
        }
        break;
    case EIO_CLOSE:
        session_close(s, "transport close", 0);
        break;
    case EIO_NOOP:
        break;
    default:
        /* A client ping (the heartbeat goes server to client in v4), an open or an upgrade
         * outside the upgrade dance: the reference treats these as transport errors. */
        session_close(s, "transport error", 0);
        break;
    }
}

/* ---- session creation ---- */

static eio_session_t *session_new(eio_server_t *srv, loop_t *l, span_t cookie, const char *ip,
                                  int transport)
{
    eio_session_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (cookie.base && !(s->cookies = strndup(cookie.base, cookie.len))) {
        free(s);
        return NULL;
    }
    if (transport == T_POLLING) {
        if (!(s->poll = calloc(1, sizeof *s->poll))) {
            free(s->cookies);
            free(s);
            return NULL;
        }
        s->poll->s = s;
    }
    s->srv = srv;
    s->loop = l;
    s->transport = (uint8_t)transport;
    struct eio_loop *pl = &srv->per[loop_index(l)];
    do make_sid(s->sid, loop_index(l));
    while (map_get(&pl->sessions, span_make(s->sid, SID_LEN)));
    if (map_put_borrowed(&pl->sessions, span_make(s->sid, SID_LEN), s)) {
        free(s->poll);
        free(s->cookies);
        free(s);
        return NULL;
    }
    if (transport == T_WEBSOCKET) pl->nwebsocket++;
    else pl->npolling++;
    if (inet_pton(AF_INET6, ip, &s->ip) != 1) {
        struct in_addr v4;
        memset(&s->ip, 0, sizeof s->ip);
        if (inet_pton(AF_INET, ip, &v4) == 1) {
            s->ip.s6_addr[10] = s->ip.s6_addr[11] = 0xff;
            memcpy(&s->ip.s6_addr[12], &v4, 4);
        }
    }
    s->rate_at = loop_now(l);
    s->rate_tokens = srv->cfg.max_message_rate * 2;
    return s;
}

static int open_packet(eio_session_t *s, buf_t *out, int with_upgrades)
{
    static const char *const upgrades[] = {"websocket"};
    int rc = buf_append_byte(out, '0');
    if (!rc)
        rc = eio_open_json(out, span_make(s->sid, SID_LEN), upgrades, with_upgrades ? 1 : 0,
                           s->srv->cfg.ping_interval_ms, s->srv->cfg.ping_timeout_ms,
                           s->srv->cfg.max_payload);
    return rc;
}

static void start_session(eio_session_t *s)
{
    loop_timer_start(s->loop, &s->ping_timer, s->srv->cfg.ping_interval_ms, ping_fired);
    s->opened = 1;
    if (s->srv->cb.on_open) s->srv->cb.on_open(s, s->srv->arg);
}

/* ---- HTTP answers ---- */

static void respond_error(http_req_t *r, int code)
{
    buf_t body = BUF_INIT;
    eio_error_json(&body, code, SPAN_NULL);
    http_req_add_cors(r);
    http_respond(r, eio_error_status(code), "application/json", body.base, body.len);
    buf_free(&body);
}

static void get_aborted(http_req_t *r, void *arg)
{
    eio_session_t *s = arg;
    if (!s->poll || s->poll->get != r) return;
    s->poll->get = NULL;
    /* The reference closes the session when a poll is cut off: the client is gone. */
    session_close(s, "transport error", 0);
}

static void handle_poll_get(eio_session_t *s, http_req_t *r)
{
    if (s->poll->get) {
        /* Two polls at once: the reference answers 400 and closes the session. */
        respond_error(r, EIO_ERR_BAD_REQUEST);
        session_close(s, "transport error", 0);
        return;
    }
    s->poll->get = r;
    http_req_on_abort(r, get_aborted, s);
    if (s->poll->buf.len) {
        flush_cb(s);
    } else if (s->probing) {
        /* Upgrading: release the poller so the client can pause polling. */
        respond_poll(s, "6", 1);
    }
}

static void handle_poll_post(eio_session_t *s, http_req_t *r)
{
    span_t ctype = http_req_header(r, "content-type");
    if (ctype.base && ctype.len >= 24 && strncasecmp(ctype.base, "application/octet-stream", 24) == 0) {
        respond_error(r, EIO_ERR_BAD_REQUEST);
        return;
    }
    buf_t body = http_req_take_body(r);
    span_t sb = buf_span(&body);
    if (eio_payload_validate(sb, EIO_PAYLOAD_MAX_PACKETS_DEFAULT) < 0) {
        buf_free(&body);
        respond_error(r, EIO_ERR_BAD_REQUEST);
        session_close(s, "parse error", 0);
        return;
    }
    /* Answer first: packet handlers may close the session, which must not touch r. */
    http_req_add_cors(r);
    http_respond(r, 200, "text/html", "ok", 2);
    eio_payload_iter_t it;
    eio_payload_iter_init(&it, sb, EIO_PAYLOAD_MAX_PACKETS_DEFAULT);
    buf_t scratch = BUF_INIT;
    eio_packet_t p;
    while (s->state == S_OPEN && eio_payload_next(&it, &scratch, &p) == 1) handle_packet(s, &p);
    buf_free(&scratch);
    buf_free(&body);
}

static void preflight(http_req_t *r)
{
    if (!http_origin_allowed(http_req_server(r), http_req_head(r))) {
        respond_error(r, EIO_ERR_FORBIDDEN);
        return;
    }
    http_req_add_cors(r);
    http_req_add_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    span_t want = http_req_header(r, "access-control-request-headers");
    if (want.base && want.len < 512)
        http_req_add_headerf(r, "Access-Control-Allow-Headers", "%.*s", (int)want.len, want.base);
    http_req_add_header(r, "Access-Control-Max-Age", "600");
    http_respond(r, 204, NULL, NULL, 0);
}

/* ---- WebSocket transport ---- */

static void ws_message(eio_session_t *s, char *data, size_t len, bool binary)
{
    eio_packet_t p;
    if (eio_packet_from_ws(span_make(data, len), binary, &p) < 0) {
        session_close(s, "parse error", 0);
        return;
    }
    handle_packet(s, &p);
}

static void main_ws_message(ws_conn_t *w, void *user, char *data, size_t len, bool binary)
{
    eio_session_t *s = user;
    if (s && s->state == S_OPEN) ws_message(s, data, len, binary);
}

static void main_ws_close(ws_conn_t *w, void *user, int code)
{
    eio_session_t *s = user;
    if (!s || s->ws != w) return;
    s->ws = NULL;
    session_close(s, "transport close", 0);
}

static void main_ws_stop(ws_conn_t *w, void *user)
{
    eio_session_t *s = user;
    if (s) session_close(s, "server shutting down", 0);
    else ws_close(w, 1001, "server shutting down");
}

static const ws_conn_ops_t main_ws_ops = {
    .on_message = main_ws_message,
    .on_close = main_ws_close,
    .on_stop = main_ws_stop,
};

static void upgrade_timed_out(loop_timer_t *t)
{
    struct eio_poll *pp = (struct eio_poll *)((char *)t - offsetof(struct eio_poll, upgrade_timer));
    eio_session_t *s = pp->s;
    if (!pp->probe) return;
    ws_conn_t *w = pp->probe;
    pp->probe = NULL;
    s->probing = 0;
    ws_set_user(w, NULL, NULL);
    ws_close(w, 1000, "upgrade timeout");
}

/* Send what the polling buffer holds over the new WebSocket, packet by packet, in order. */
static void drain_pollbuf_to_ws(eio_session_t *s)
{
    if (!s->poll->buf.len) return;
    eio_payload_iter_t it;
    eio_payload_iter_init(&it, buf_span(&s->poll->buf), 0);
    buf_t scratch = BUF_INIT;
    eio_packet_t p;
    while (eio_payload_next(&it, &scratch, &p) == 1)
        send_packet(s, p.type, p.data.base, p.data.len, NULL, 0, p.binary != 0);
    buf_free(&scratch);
    buf_free(&s->poll->buf);
}

static void probe_ws_message(ws_conn_t *w, void *user, char *data, size_t len, bool binary)
{
    eio_session_t *s = user;
    if (!s || !s->poll || s->poll->probe != w || s->state != S_OPEN) return;
    struct eio_poll *pp = s->poll;
    eio_packet_t p;
    if (eio_packet_from_ws(span_make(data, len), binary, &p) < 0) goto fail;
    if (p.type == EIO_PING && span_eq_cstr(p.data, "probe")) {
        ws_send(w, "3probe", 6, false);
        s->probing = 1;
        /* A poll waiting now is released with a noop so the client can pause polling. */
        if (pp->get && !pp->buf.len) respond_poll(s, "6", 1);
        return;
    }
    if (p.type == EIO_UPGRADE && s->probing) {
        loop_timer_stop(s->loop, &pp->upgrade_timer);
        struct eio_loop *pl = &s->srv->per[loop_index(s->loop)];
        pl->npolling--;
        pl->nwebsocket++;
        pp->probe = NULL;
        s->probing = 0;
        s->ws = w;
        s->transport = T_WEBSOCKET;
        ws_set_user(w, &main_ws_ops, s);
        if (pp->get) {
            /* The last poll gets what was queued for it, or a noop. */
            if (pp->buf.len) flush_cb(s);
            else respond_poll(s, "6", 1);
        }
        drain_pollbuf_to_ws(s);
        /* On WebSocket for good: the polling state is not needed any more. */
        poll_free(s);
        return;
    }
    if (p.type == EIO_NOOP) return;
fail:
    /* Anything else during the upgrade fails the upgrade, not the session. */
    pp->probe = NULL;
    s->probing = 0;
    loop_timer_stop(s->loop, &pp->upgrade_timer);
    ws_set_user(w, NULL, NULL);
    ws_close(w, 1002, "bad upgrade");
}

static void probe_ws_close(ws_conn_t *w, void *user, int code)
{
    eio_session_t *s = user;
    if (!s || !s->poll || s->poll->probe != w) return;
    s->poll->probe = NULL;
    s->probing = 0;
    loop_timer_stop(s->loop, &s->poll->upgrade_timer);
}

static const ws_conn_ops_t probe_ws_ops = {
    .on_message = probe_ws_message,
    .on_close = probe_ws_close,
};

/* ---- the route ---- */

void eio_server_handle(http_req_t *r, void *arg)
{
    eio_server_t *srv = arg;
    const http_request_head_t *h = http_req_head(r);
    loop_t *l = http_req_loop(r);

    if (span_eq_cstr(h->method, "OPTIONS")) {
        preflight(r);
        return;
    }
    /* Only the endpoint itself: "/socket.io/" plus nothing else but the query. */
    if (h->path.len != strlen(srv->path)) {
        respond_error(r, EIO_ERR_TRANSPORT_UNKNOWN);
        return;
    }
    if (!http_origin_allowed(http_req_server(r), h)) {
        respond_error(r, EIO_ERR_FORBIDDEN);
        return;
    }
    span_t transport = http_req_query(r, "transport");
    int t;
    if (span_eq_cstr(transport, "polling")) t = T_POLLING;
    else if (span_eq_cstr(transport, "websocket")) t = T_WEBSOCKET;
    else {
        respond_error(r, EIO_ERR_TRANSPORT_UNKNOWN);
        return;
    }
    span_t eio = http_req_query(r, "EIO");
    if (!span_eq_cstr(eio, "4")) {
        respond_error(r, EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION);
        return;
    }
    if (t == T_WEBSOCKET && !h->upgrade) {
        respond_error(r, EIO_ERR_BAD_REQUEST);
        return;
    }
    if (t == T_POLLING && h->upgrade) {
        respond_error(r, EIO_ERR_BAD_REQUEST);
        return;
    }
    span_t sid = http_req_query(r, "sid");
    if (sid.base) {
        int owner = sid_owner(srv, sid);
        if (owner < 0) {
            respond_error(r, EIO_ERR_UNKNOWN_SID);
            return;
        }
        if (owner != loop_index(l)) {
            /* The session lives on another worker: hand the connection over. */
            if (http_req_migrate(r, srv->loops[owner]) < 0) http_respond_error(r, 503, "Service Unavailable");
            return;
        }
        eio_session_t *s = map_get(&srv->per[owner].sessions, sid);
        if (!s || s->state != S_OPEN) {
            respond_error(r, EIO_ERR_UNKNOWN_SID);
            return;
        }
        if (t == T_WEBSOCKET) {
            /* Upgrade of a polling session; a second WebSocket for the sid is refused. */
            if (s->transport == T_WEBSOCKET || !s->poll || s->poll->probe) {
                respond_error(r, EIO_ERR_BAD_REQUEST);
                return;
            }
            ws_options_t wo = {.max_message = (uint32_t)srv->cfg.max_payload, .deflate = srv->cfg.ws_deflate};
            ws_conn_t *w = ws_accept(r, &wo, &probe_ws_ops, s);
            if (!w) return;
            s->poll->probe = w;
            loop_timer_start(l, &s->poll->upgrade_timer, srv->cfg.upgrade_timeout_ms, upgrade_timed_out);
            return;
        }
        if (s->transport != T_POLLING) {
            respond_error(r, EIO_ERR_BAD_REQUEST);
            return;
        }
        if (span_eq_cstr(h->method, "GET")) handle_poll_get(s, r);
        else if (span_eq_cstr(h->method, "POST")) handle_poll_post(s, r);
        else respond_error(r, EIO_ERR_BAD_REQUEST);
        return;
    }

    /* A handshake. */
    if (!span_eq_cstr(h->method, "GET")) {
        respond_error(r, EIO_ERR_BAD_HANDSHAKE_METHOD);
        return;
    }
    char ip[46];
    snprintf(ip, sizeof ip, "%s", conn_peer_ip(http_req_conn(r)));
    if (t == T_WEBSOCKET) {
        eio_session_t *s = session_new(srv, l, http_req_header(r, "cookie"), ip, T_WEBSOCKET);
        buf_t open = BUF_INIT;
        if (!s || open_packet(s, &open, 0)) {
            buf_free(&open);
            if (s) session_close(s, "transport error", 0);
            http_respond_error(r, 503, "Service Unavailable");
            return;
        }
        if (srv->cfg.cookie)
            http_req_add_headerf(r, "Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Lax", srv->cfg.cookie, s->sid);
        ws_options_t wo = {.max_message = (uint32_t)srv->cfg.max_payload, .deflate = srv->cfg.ws_deflate};
        ws_conn_t *w = ws_accept(r, &wo, &main_ws_ops, s);
        if (!w) {
            /* Refused (and answered) by the WebSocket layer: the session never opened. */
            buf_free(&open);
            session_close(s, "transport error", 0);
            return;
        }
        s->ws = w;
        ws_send(w, open.base, open.len, false);
        buf_free(&open);
        start_session(s);
        return;
    }
    eio_session_t *s = session_new(srv, l, http_req_header(r, "cookie"), ip, T_POLLING);
    if (!s) {
        http_respond_error(r, 503, "Service Unavailable");
        return;
    }
    if (srv->cfg.cookie)
        http_req_add_headerf(r, "Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Lax", srv->cfg.cookie, s->sid);
    buf_t open = BUF_INIT;
    if (open_packet(s, &open, 1)) {
        buf_free(&open);
        session_close(s, "transport error", 0);
        http_respond_error(r, 503, "Service Unavailable");
        return;
    }
    /* Polling handshake: the open packet answers this GET; what on_open queues waits. */
    s->poll->buf = open;
    s->poll->get = r;
    http_req_on_abort(r, get_aborted, s);
    flush_cb(s);
    start_session(s);
}
