/* fuzz_ws_frame - the WebSocket frame receiver over arbitrary client bytes.
 *
 * Input: byte 0 picks the configuration (deflate, a small message cap, a small fragment cap),
 * byte 1 seeds the read sizes, the rest is the stream. The stream is fed once whole and once
 * in pseudo-random reads the way the connection glue does it (keeping the unconsumed
 * leftover); both runs must report the same events, and every invariant of the API is
 * checked: consumed within bounds, leftover within WS_PARSER_MAX_LEFTOVER, event payloads
 * inside the consumed bytes, FIRST/FINAL flags consistent, nothing after CLOSE or ERROR,
 * uncompressed text valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "ws/frame.h"

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

/* Events hashed so that how the stream was cut does not matter: a message's bytes count only
 * once it is complete (a message cut short by an error or the end of input counts as nothing). */
typedef struct digest {
    uint64_t h, msg;
    int in_msg, text, compressed, done;
    utf8_state_t utf8;
} digest_t;

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
    return h;
}

static void mix(digest_t *d, const void *p, size_t n, uint64_t tag)
{
    d->h = mix_bytes((d->h ^ tag) * 1099511628211ull, p, n);
}

static void on_event(digest_t *d, const ws_event_t *ev, const char *lo, const char *hi)
{
    if (ev->type == WS_EV_NONE) return;
    ASSERT(!d->done);
    if (ev->type != WS_EV_ERROR && ev->len) ASSERT(ev->data >= lo && ev->data + ev->len <= hi);
    switch (ev->type) {
    case WS_EV_DATA:
        if (ev->flags & WS_DATA_FIRST) {
            ASSERT(!d->in_msg);
            d->in_msg = 1;
            d->text = !!(ev->flags & WS_DATA_TEXT);
            d->compressed = !!(ev->flags & WS_DATA_COMPRESSED);
            utf8_init(&d->utf8);
            d->msg = 1469598103934665603ull;
        }
        ASSERT(d->in_msg);
        ASSERT(d->text == !!(ev->flags & WS_DATA_TEXT));
        ASSERT(d->compressed == !!(ev->flags & WS_DATA_COMPRESSED));
        if (d->text && !d->compressed) ASSERT(utf8_feed(&d->utf8, ev->data, ev->len) == ev->len);
        d->msg = mix_bytes(d->msg, ev->data, ev->len);
        if (ev->flags & WS_DATA_FINAL) {
            if (d->text && !d->compressed) ASSERT(utf8_complete(&d->utf8));
            d->in_msg = 0;
            mix(d, &d->msg, sizeof d->msg, 2 + (ev->flags & ~(unsigned)WS_DATA_FIRST));
        }
        break;
    case WS_EV_PING:
    case WS_EV_PONG:
        ASSERT(ev->len <= WS_MAX_CONTROL_PAYLOAD);
        mix(d, ev->data, ev->len, 10 + ev->type);
        break;
    case WS_EV_CLOSE:
        ASSERT(ev->code == WS_CLOSE_NO_STATUS || ws_close_code_valid(ev->code));
        ASSERT(utf8_valid(ev->data, ev->len));
        mix(d, ev->data, ev->len, 20 + ev->code);
        d->done = 1;
        break;
    case WS_EV_ERROR:
        ASSERT(ev->code == 1002 || ev->code == 1007 || ev->code == 1009);
        ASSERT(ev->reason && strlen(ev->reason) <= 123);
        mix(d, NULL, 0, 30 + ev->code);
        d->done = 1;
        break;
    default:
        ASSERT(0);
    }
}

static uint64_t run(const ws_parser_config_t *cfg, const uint8_t *s, size_t n, unsigned seed)
{
    ws_parser_t p;
    ws_parser_init(&p, cfg);
    digest_t d = {1469598103934665603ull, 0, 0, 0, 0, 0, UTF8_STATE_INIT};
    char *acc = malloc(n + 1);
    size_t acc_len = 0, off = 0;
    while (off < n || acc_len) {
        size_t k = n - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            size_t r = (seed >> 16) % 23 + 1;
            if (r < k) k = r;
        }
        memcpy(acc + acc_len, s + off, k);
        acc_len += k, off += k;
        size_t pos = 0;
        for (;;) {
            ws_event_t ev;
            int c = ws_parser_feed(&p, acc + pos, acc_len - pos, &ev);
            ASSERT(c >= 0 && (size_t)c <= acc_len - pos);
            on_event(&d, &ev, acc + pos, acc + pos + c);
            pos += (size_t)c;
            if (ev.type == WS_EV_ERROR) {
                pos = acc_len;
                break;
            }
            if (c == 0 && ev.type == WS_EV_NONE) break;
        }
        memmove(acc, acc + pos, acc_len - pos);
        acc_len -= pos;
        ASSERT(acc_len <= WS_PARSER_MAX_LEFTOVER);
        if (off == n) break;
    }
    free(acc);
    return d.h ^ (uint64_t)d.done;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    ws_parser_config_t cfg = {0, 0, false};
    cfg.deflate = data[0] & 1;
    if (data[0] & 2) cfg.max_message = 200;
    if (data[0] & 4) cfg.max_fragments = 4;
    unsigned seed = data[1] | 1u;
    const uint8_t *s = data + 2;
    size_t n = size - 2;
    uint8_t *copy = malloc(n + 1);
    memcpy(copy, s, n);
    uint64_t whole = run(&cfg, copy, n, 0);
    memcpy(copy, s, n);
    uint64_t split = run(&cfg, copy, n, seed);
    /* Leftover bytes at the end (an incomplete frame) make both runs stop at the same place. */
    ASSERT(whole == split);
    free(copy);
    return 0;
}
