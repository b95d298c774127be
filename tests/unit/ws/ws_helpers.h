/* ws_helpers.h - helpers shared by the WebSocket unit tests: build masked client frames and
 * drive a ws_parser_t over a byte stream cut into chunks, the way the connection glue does
 * (keep the unconsumed leftover, append the next read, feed until nothing happens). */
#ifndef ROOST_TEST_WS_HELPERS_H
#define ROOST_TEST_WS_HELPERS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "ws/frame.h"

/* Append a masked client frame. rsv is the 3 RSV bits (0..7, RSV1 = 4). len_form forces a
 * length encoding: 0 minimal, 2 the 16-bit form, 8 the 64-bit form. */
static inline void wsh_frame_ex(buf_t *out, int fin, int rsv, int op, uint32_t key,
                                const void *payload, size_t len, int len_form, int masked)
{
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (op & 0xF));
    uint8_t m = masked ? 0x80 : 0;
    if (len_form == 0 && len < 126) {
        h[hl++] = (uint8_t)(m | len);
    } else if (len_form != 8 && len <= 0xFFFF) {
        h[hl++] = m | 126;
        h[hl++] = (uint8_t)(len >> 8);
        h[hl++] = (uint8_t)len;
    } else {
        h[hl++] = m | 127;
        for (int i = 0; i < 8; i++) h[hl++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    uint8_t k[4] = {(uint8_t)(key >> 24), (uint8_t)(key >> 16), (uint8_t)(key >> 8), (uint8_t)key};
    if (masked) memcpy(h + hl, k, 4), hl += 4;
    buf_append(out, h, hl);
    size_t at = out->len;
    buf_append(out, payload, len);
    if (masked)
        for (size_t i = 0; i < len; i++) out->base[at + i] ^= (char)k[i & 3];
}

static inline void wsh_frame(buf_t *out, int fin, int op, const void *payload, size_t len)
{
    static uint32_t key = 0x37fa213d;
    key = key * 1103515245u + 12345u;
    wsh_frame_ex(out, fin, 0, op, key, payload, len, 0, 1);
}

#define WSH_TEXT(out, lit) wsh_frame(out, 1, WS_OP_TEXT, lit, sizeof(lit) - 1)

/* The outcome of feeding a stream: a log of events, rendered as text. */
typedef struct wsh_run {
    buf_t log; /* "T:hello|PING:x|CLOSE:1000:bye|ERR:1002" ; long messages as T(len)#hash */
    buf_t msg; /* message being assembled */
    int in_msg;
    int msg_flags;
    long error_at; /* stream bytes received when ERROR was reported, -1 if none */
    int error_code;
    size_t max_leftover;
    int flag_errors; /* FIRST/FINAL/TEXT flags inconsistent */
    int after_close; /* events seen after CLOSE or ERROR */
    int closed;
    long pieces;
} wsh_run_t;

static inline uint64_t wsh_hash(const void *d, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)d)[i]) * 1099511628211ull;
    return h;
}

static inline void wsh_log_bytes(buf_t *log, const char *tag, const char *d, size_t n)
{
    if (log->len) buf_append_byte(log, '|');
    if (n <= 64) {
        buf_appendf(log, "%s:", tag);
        buf_append(log, d, n);
    } else {
        buf_appendf(log, "%s(%zu)#%016llx", tag, n, (unsigned long long)wsh_hash(d, n));
    }
}

static inline void wsh_handle(wsh_run_t *r, const ws_event_t *ev, long received)
{
    if (ev->type != WS_EV_NONE && r->closed) r->after_close++;
    switch (ev->type) {
    case WS_EV_NONE:
        break;
    case WS_EV_DATA:
        r->pieces++;
        if (ev->flags & WS_DATA_FIRST) {
            if (r->in_msg) r->flag_errors++;
            r->in_msg = 1;
            r->msg_flags = (int)ev->flags & (WS_DATA_TEXT | WS_DATA_COMPRESSED);
            r->msg.len = 0;
        } else if (!r->in_msg ||
                   ((int)ev->flags & (WS_DATA_TEXT | WS_DATA_COMPRESSED)) != r->msg_flags) {
            r->flag_errors++;
        }
        buf_append(&r->msg, ev->data, ev->len);
        if (ev->flags & WS_DATA_FINAL) {
            const char *tag = r->msg_flags & WS_DATA_TEXT ? "T" : "B";
            if (r->msg_flags & WS_DATA_COMPRESSED) tag = r->msg_flags & WS_DATA_TEXT ? "TZ" : "BZ";
            wsh_log_bytes(&r->log, tag, r->msg.base, r->msg.len);
            r->in_msg = 0;
        }
        break;
    case WS_EV_PING:
        wsh_log_bytes(&r->log, "PING", ev->data, ev->len);
        break;
    case WS_EV_PONG:
        wsh_log_bytes(&r->log, "PONG", ev->data, ev->len);
        break;
    case WS_EV_CLOSE: {
        char tag[32];
        snprintf(tag, sizeof tag, "CLOSE:%u", ev->code);
        wsh_log_bytes(&r->log, tag, ev->data, ev->len);
        r->closed = 1;
        break;
    }
    case WS_EV_ERROR:
        if (r->log.len) buf_append_byte(&r->log, '|');
        buf_appendf(&r->log, "ERR:%u", ev->code);
        if (!ev->reason || !*ev->reason || strlen(ev->reason) > 123) r->flag_errors++;
        r->error_at = received;
        r->error_code = ev->code;
        r->closed = 1;
        break;
    }
}

/* Feed s[0..n) in chunks ending at the offsets cuts[0..ncuts) (then the rest). */
static inline void wsh_run_cuts(const ws_parser_config_t *cfg, const void *s, size_t n,
                                const size_t *cuts, size_t ncuts, wsh_run_t *r)
{
    memset(r, 0, sizeof *r);
    r->error_at = -1;
    ws_parser_t p;
    ws_parser_init(&p, cfg);
    /* +8 and an odd offset so the parser sees unaligned payloads too */
    char *acc = malloc(n + 16);
    size_t acc_len = 0, prev = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : n;
        if (end < prev) continue;
        memcpy(acc + 1 + acc_len, (const char *)s + prev, end - prev);
        acc_len += end - prev;
        prev = end;
        size_t pos = 0;
        for (;;) {
            ws_event_t ev;
            int k = ws_parser_feed(&p, acc + 1 + pos, acc_len - pos, &ev);
            if (k < 0 || (size_t)k > acc_len - pos) {
                r->flag_errors++;
                break;
            }
            if (ev.type == WS_EV_DATA || ev.type == WS_EV_PING || ev.type == WS_EV_PONG ||
                ev.type == WS_EV_CLOSE) {
                if (ev.len && (ev.data < acc + 1 + pos || ev.data + ev.len > acc + 1 + pos + k))
                    r->flag_errors++;
            }
            pos += (size_t)k;
            wsh_handle(r, &ev, (long)end);
            if (k == 0 && ev.type == WS_EV_ERROR) {
                /* the glue would close now; the test keeps feeding to check the parser
                 * swallows the rest quietly, without counting it as leftover */
                pos = acc_len;
                break;
            }
            if (k == 0 && ev.type == WS_EV_NONE) break;
        }
        memmove(acc + 1, acc + 1 + pos, acc_len - pos);
        acc_len -= pos;
        if (acc_len > r->max_leftover) r->max_leftover = acc_len;
    }
    free(acc);
    buf_free(&r->msg);
}

/* Feed in fixed steps of `step` bytes. */
static inline void wsh_run_step(const ws_parser_config_t *cfg, const void *s, size_t n, size_t step,
                                wsh_run_t *r)
{
    size_t ncuts = step ? n / step : 0;
    size_t *cuts = malloc((ncuts + 1) * sizeof *cuts);
    for (size_t i = 0; i < ncuts; i++) cuts[i] = (i + 1) * step;
    wsh_run_cuts(cfg, s, n, cuts, ncuts, r);
    free(cuts);
}

static inline void wsh_run_free(wsh_run_t *r)
{
    buf_free(&r->log);
    buf_free(&r->msg);
}

#endif
