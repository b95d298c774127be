#include "app/metrics.h"

#include <inttypes.h>

static void series(buf_t *out, const char *name, const char *type, const char *help, uint64_t v)
{
    buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

void metrics_handle(http_req_t *r, void *arg)
{
    const metrics_sources_t *m = arg;
    buf_t out = BUF_INIT;
    loop_stats_t tot = {0};
    size_t polling = 0, websocket = 0, sockets = 0, rooms = 0;
    for (int i = 0; i < m->nloops; i++) {
        loop_stats_t s;
        loop_get_stats(m->loops[i], &s);
        tot.conns_open += s.conns_open;
        tot.conns_accepted += s.conns_accepted;
        tot.conns_rejected += s.conns_rejected;
        tot.bytes_in += s.bytes_in;
        tot.bytes_out += s.bytes_out;
        tot.output_cap_closes += s.output_cap_closes;
        size_t p = 0, w = 0, so = 0, ro = 0;
        if (m->eio) eio_server_counts(m->eio, m->loops[i], &p, &w);
        if (m->sio) sio_loop_counts(m->sio, m->loops[i], &so, &ro);
        polling += p;
        websocket += w;
        sockets += so;
        rooms += ro;
    }
    series(&out, "roost_connections_open", "gauge", "TCP connections open", tot.conns_open);
    series(&out, "roost_connections_accepted_total", "counter", "TCP connections accepted", tot.conns_accepted);
    series(&out, "roost_connections_rejected_total", "counter", "connections refused (per-IP cap, out of descriptors)", tot.conns_rejected);
    series(&out, "roost_bytes_in_total", "counter", "bytes received", tot.bytes_in);
    series(&out, "roost_bytes_out_total", "counter", "bytes sent", tot.bytes_out);
    series(&out, "roost_output_cap_closes_total", "counter", "connections dropped for queueing too much output", tot.output_cap_closes);
    buf_appendf(&out, "# HELP roost_eio_sessions Engine.IO sessions by transport\n# TYPE roost_eio_sessions gauge\n"
                      "roost_eio_sessions{transport=\"polling\"} %zu\nroost_eio_sessions{transport=\"websocket\"} %zu\n",
                polling, websocket);
    series(&out, "roost_sio_sockets", "gauge", "Socket.IO sockets connected", sockets);
    series(&out, "roost_sio_rooms", "gauge", "Socket.IO rooms with members", rooms);
    sio_stats_t ss;
    sio_get_stats(&ss);
    series(&out, "roost_sio_connects_total", "counter", "Socket.IO namespace connections", ss.connects);
    series(&out, "roost_sio_disconnects_total", "counter", "Socket.IO namespace disconnections", ss.disconnects);
    series(&out, "roost_sio_connect_errors_total", "counter", "CONNECT_ERROR answers", ss.connect_errors);
    series(&out, "roost_sio_events_in_total", "counter", "events received", ss.events_in);
    series(&out, "roost_sio_events_out_total", "counter", "events sent to one socket", ss.events_out);
    series(&out, "roost_sio_broadcasts_total", "counter", "broadcasts (encoded once each)", ss.broadcasts);
    series(&out, "roost_sio_broadcast_deliveries_total", "counter", "broadcast deliveries to sockets (fan-out)", ss.broadcast_deliveries);
    series(&out, "roost_sio_volatile_dropped_total", "counter", "volatile packets dropped for busy clients", ss.volatile_dropped);
    series(&out, "roost_sio_parse_errors_total", "counter", "clients closed for malformed packets", ss.parse_errors);
    http_stats_t hs;
    http_get_stats(&hs);
    series(&out, "roost_http_requests_total", "counter", "HTTP requests dispatched", hs.requests);
    buf_appendf(&out, "# HELP roost_http_rejected_total HTTP requests refused before dispatch, by reason\n"
                      "# TYPE roost_http_rejected_total counter\n"
                      "roost_http_rejected_total{reason=\"header_too_large\"} %" PRIu64 "\n"
                      "roost_http_rejected_total{reason=\"body_too_large\"} %" PRIu64 "\n"
                      "roost_http_rejected_total{reason=\"timeout\"} %" PRIu64 "\n",
                hs.rejected_431, hs.rejected_413, hs.timeouts);
    buf_appendf(&out, "# HELP roost_http_responses_total HTTP error responses by class\n"
                      "# TYPE roost_http_responses_total counter\n"
                      "roost_http_responses_total{class=\"4xx\"} %" PRIu64 "\n"
                      "roost_http_responses_total{class=\"5xx\"} %" PRIu64 "\n",
                hs.responses_4xx, hs.responses_5xx);
    if (m->adapter) {
        redis_adapter_stats_t as;
        redis_adapter_get_stats(m->adapter, &as);
        series(&out, "roost_adapter_published_total", "counter", "messages published to Redis (broadcasts, requests, responses)", as.published);
        series(&out, "roost_adapter_publish_dropped_total", "counter", "messages not published: Redis down or the output cap reached", as.publish_dropped);
        series(&out, "roost_adapter_received_total", "counter", "broadcasts received from Redis, own ones included", as.received);
        series(&out, "roost_adapter_received_own_total", "counter", "own broadcasts received back and ignored", as.received_own);
        series(&out, "roost_adapter_delivered_total", "counter", "broadcasts from other nodes handed to the workers", as.delivered);
        series(&out, "roost_adapter_malformed_total", "counter", "messages from Redis ignored as malformed", as.malformed);
        series(&out, "roost_adapter_requests_total", "counter", "inter-node requests received (fetchSockets, serverSideEmit, ...; own ones included)", as.requests);
        series(&out, "roost_adapter_responses_total", "counter", "answers published to other nodes' requests", as.responses);
        series(&out, "roost_adapter_reconnects_total", "counter", "reconnections to Redis", as.reconnects);
    }
    if (m->extra) m->extra(&out, m->extra_arg);
    http_req_add_header(r, "Cache-Control", "no-store");
    http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.base, out.len);
    buf_free(&out);
}
