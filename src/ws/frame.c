#include "ws/frame.h"

#include <limits.h>
#include <string.h>

#include "util/err.h"

/* The parser lives in every WebSocket connection: keep it within a few dozen bytes. */
_Static_assert(sizeof(ws_parser_t) <= 32, "ws_parser_t grew");

enum { ST_HEADER = 0, ST_PAYLOAD, ST_DONE };

/* Bits of ws_parser_t.msg; 0 when no message is open. */
enum {
    MSG_OPEN = 1 << 0,
    MSG_TEXT = 1 << 1,
    MSG_COMPRESSED = 1 << 2,
    MSG_FIRST_PENDING = 1 << 3, /* no piece delivered yet: the next one carries WS_DATA_FIRST */
    MSG_FIN = 1 << 4,           /* the current frame is the message's last */
};

void ws_parser_init(ws_parser_t *p, const ws_parser_config_t *cfg)
{
    memset(p, 0, sizeof *p);
    p->max_message = cfg && cfg->max_message ? cfg->max_message : WS_DEFAULT_MAX_MESSAGE;
    p->max_fragments = cfg && cfg->max_fragments ? cfg->max_fragments : WS_DEFAULT_MAX_FRAGMENTS;
    p->deflate = cfg && cfg->deflate;
}

bool ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

/* The masking key is kept as the 4 key bytes in memory order, rotated so that its first byte
 * applies to the next payload byte: advancing by n bytes rotates it by n mod 4. */
static inline uint32_t key_advance(uint32_t k, size_t n)
{
    unsigned s = (unsigned)(n & 3) * 8;
    if (!s) return k;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return k >> s | k << (32 - s);
#else
    return k << s | k >> (32 - s);
#endif
}

/* XOR data with the key. The key is laid out twice in a 64-bit word so whole words are done
 * at once; a word covers two key periods, so the phase is unchanged from one word to the next.
 * Words are moved with memcpy, which compiles to plain loads and stores on targets with cheap
 * unaligned access and stays correct on the others. */
static inline void unmask(uint8_t *d, size_t n, uint32_t k)
{
    uint64_t m = (uint64_t)k << 32 | k;
    size_t i = 0;
    for (; n - i >= 32; i += 32) {
        uint64_t w[4];
        memcpy(w, d + i, 32);
        w[0] ^= m, w[1] ^= m, w[2] ^= m, w[3] ^= m;
        memcpy(d + i, w, 32);
    }
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, d + i, 8);
        w ^= m;
        memcpy(d + i, &w, 8);
    }
    if (n - i >= 4) {
        uint32_t w;
        memcpy(&w, d + i, 4);
        w ^= k;
        memcpy(d + i, &w, 4);
        i += 4;
    }
    uint8_t kb[4];
    memcpy(kb, &k, 4);
    for (unsigned j = 0; i < n; i++, j++) d[i] ^= kb[j];
}

static int fail(ws_parser_t *p, ws_event_t *ev, uint16_t code, const char *reason)
{
    p->state = ST_DONE;
    p->msg = 0;
    ev->type = WS_EV_ERROR;
    ev->code = code;
    ev->reason = reason;
    return 0;
}

/* Deliver the payload bytes of the current data frame that are in data[pos..len). */
static inline int payload(ws_parser_t *p, char *data, size_t pos, size_t len, ws_event_t *ev)
{
    size_t n = len - pos;
    if (n > p->frame_left) n = p->frame_left;
    char *d = data + pos;
    unmask((uint8_t *)d, n, p->mask);
    p->mask = key_advance(p->mask, n);
    p->frame_left -= (uint32_t)n;
    bool check_text = (p->msg & (MSG_TEXT | MSG_COMPRESSED)) == MSG_TEXT;
    if (check_text && utf8_feed(&p->utf8, d, n) != n)
        return fail(p, ev, WS_CLOSE_INVALID_DATA, "invalid UTF-8 in text message");
    bool final = false;
    if (p->frame_left == 0) {
        p->state = ST_HEADER;
        if (p->msg & MSG_FIN) {
            final = true;
            if (check_text && !utf8_complete(&p->utf8))
                return fail(p, ev, WS_CLOSE_INVALID_DATA, "truncated UTF-8 at end of text message");
        }
    }
    if (n == 0 && !final) return (int)pos; /* header only, or an empty middle fragment */
    unsigned flags = 0;
    if (p->msg & MSG_TEXT) flags |= WS_DATA_TEXT;
    if (p->msg & MSG_COMPRESSED) flags |= WS_DATA_COMPRESSED;
    if (p->msg & MSG_FIRST_PENDING) flags |= WS_DATA_FIRST;
    p->msg &= (uint8_t)~MSG_FIRST_PENDING;
    if (final) flags |= WS_DATA_FINAL, p->msg = 0;
    ev->type = WS_EV_DATA;
    ev->flags = flags;
    ev->data = d;
    ev->len = n;
    return (int)(pos + n);
}

/* A whole control frame is at data[0..hlen+plen): unmask and report it. */
static int control(ws_parser_t *p, char *data, size_t hlen, size_t plen, int op, ws_event_t *ev)
{
    char *d = data + hlen;
    uint32_t key;
    memcpy(&key, data + hlen - 4, 4);
    unmask((uint8_t *)d, plen, key);
    if (op == WS_OP_CLOSE) {
        uint16_t code = WS_CLOSE_NO_STATUS;
        if (plen == 1) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "close payload of 1 byte");
        if (plen >= 2) {
            code = (uint16_t)((uint8_t)d[0] << 8 | (uint8_t)d[1]);
            if (!ws_close_code_valid(code))
                return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "invalid close code");
            /* RFC 6455 7.4.1 calls 1007 "data within a message that was not consistent with
             * the type of the message"; a close reason is defined as UTF-8 text, so a bad one
             * gets 1007 like bad text (Autobahn 7.5.1 accepts 1002 or 1007). */
            if (!utf8_valid(d + 2, plen - 2))
                return fail(p, ev, WS_CLOSE_INVALID_DATA, "close reason is not UTF-8");
            d += 2, plen -= 2;
        }
        p->state = ST_DONE;
        p->msg = 0;
        ev->type = WS_EV_CLOSE;
        ev->code = code;
    } else {
        ev->type = op == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
    }
    ev->data = d;
    ev->len = plen;
    return (int)(d - data) + (int)plen;
}

int ws_parser_feed(ws_parser_t *p, char *data, size_t len, ws_event_t *ev)
{
    *ev = (ws_event_t){0};
    if (len > INT_MAX) len = INT_MAX;
    if (p->state == ST_DONE) return (int)len;
    if (len == 0) return 0; /* (in ST_PAYLOAD at least one payload byte is still due) */
    if (p->state == ST_PAYLOAD) return payload(p, data, 0, len, ev);

    /* Check each header byte as soon as it is there, so a bad frame fails at once even when
     * its header trickles in; consume nothing until the header is complete. */
    const uint8_t *h = (const uint8_t *)data;
    bool fin = h[0] & 0x80, rsv1 = h[0] & 0x40;
    int op = h[0] & 0x0F;
    if (h[0] & 0x30) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "RSV2 or RSV3 set");
    switch (op) {
    case WS_OP_CONT:
        if (!p->msg) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "continuation without a message");
        if (rsv1) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "RSV1 set on a continuation frame");
        if (p->fragments >= p->max_fragments)
            return fail(p, ev, WS_CLOSE_TOO_BIG, "too many fragments in one message");
        break;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (p->msg)
            return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "new message inside a fragmented message");
        if (rsv1 && !p->deflate)
            return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "RSV1 set without an extension");
        break;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (rsv1) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "RSV1 set on a control frame");
        if (!fin) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "fragmented control frame");
        break;
    default:
        return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "unknown opcode");
    }
    if (len < 2) return 0;
    if (!(h[1] & 0x80)) return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "unmasked client frame");
    uint64_t plen = h[1] & 0x7F;
    size_t hlen = 2 + 4;
    if (op & 0x8) {
        if (plen > WS_MAX_CONTROL_PAYLOAD)
            return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "control frame over 125 bytes");
    } else if (plen == 126) {
        hlen += 2;
        if (len < 4) return 0;
        plen = (uint64_t)h[2] << 8 | h[3];
    } else if (plen == 127) {
        hlen += 8;
        if (len < 3) return 0;
        if (h[2] & 0x80)
            return fail(p, ev, WS_CLOSE_PROTOCOL_ERROR, "64-bit length with the top bit set");
        if (len < 10) return 0;
        plen = 0;
        for (int i = 2; i < 10; i++) plen = plen << 8 | h[i];
    }
    if (!(op & 0x8)) {
        uint32_t so_far = op == WS_OP_CONT ? p->msg_len : 0;
        if (plen > p->max_message - so_far) return fail(p, ev, WS_CLOSE_TOO_BIG, "message too big");
    }
    if (len < hlen) return 0;

    if (op & 0x8) {
        if (len - hlen < plen) return 0; /* control frames are handled whole */
        return control(p, data, hlen, (size_t)plen, op, ev);
    }
    if (op == WS_OP_CONT) {
        p->fragments++;
        p->msg = (uint8_t)((p->msg & ~MSG_FIN) | (fin ? MSG_FIN : 0));
    } else {
        p->msg = MSG_OPEN | MSG_FIRST_PENDING | (op == WS_OP_TEXT ? MSG_TEXT : 0) |
                 (rsv1 ? MSG_COMPRESSED : 0) | (fin ? MSG_FIN : 0);
        p->msg_len = 0;
        p->fragments = 1;
        utf8_init(&p->utf8);
    }
    p->msg_len += (uint32_t)plen;
    p->frame_left = (uint32_t)plen;
    memcpy(&p->mask, h + hlen - 4, 4);
    p->state = ST_PAYLOAD;
    return payload(p, data, hlen, len, ev);
}

size_t ws_frame_header(uint8_t out[WS_MAX_SERVER_HEADER], int opcode, int fin, int rsv1,
                       uint64_t len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

static bool control_args_ok(int opcode, int fin, size_t len)
{
    return !(opcode & 0x8) || (fin && len <= WS_MAX_CONTROL_PAYLOAD);
}

int ws_frame_append(buf_t *out, int opcode, int fin, int rsv1, const void *payload, size_t len)
{
    if (!control_args_ok(opcode, fin, len)) return RS_EINVAL;
    uint8_t h[WS_MAX_SERVER_HEADER];
    size_t hl = ws_frame_header(h, opcode, fin, rsv1, len);
    int rc = buf_reserve(out, hl + len);
    if (rc) return rc;
    memcpy(out->base + out->len, h, hl);
    if (len) memcpy(out->base + out->len + hl, payload, len);
    out->len += hl + len;
    return 0;
}

/* Longest prefix of s[0..n) that is at most max bytes and does not cut a UTF-8 character. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max) return n;
    size_t k = max;
    while (k > 0 && ((uint8_t)s[k] & 0xC0) == 0x80) k--;
    return k;
}

size_t ws_frame_close(uint8_t out[WS_CLOSE_FRAME_MAX], unsigned code, const char *reason,
                      size_t reason_len)
{
    if (code == 0 || code == WS_CLOSE_NO_STATUS) {
        out[0] = 0x80 | WS_OP_CLOSE;
        out[1] = 0;
        return 2;
    }
    size_t rl = reason ? utf8_cut(reason, reason_len, WS_MAX_CONTROL_PAYLOAD - 2) : 0;
    size_t hl = ws_frame_header(out, WS_OP_CLOSE, 1, 0, 2 + rl);
    out[hl] = (uint8_t)(code >> 8);
    out[hl + 1] = (uint8_t)code;
    if (rl) memcpy(out + hl + 2, reason, rl);
    return hl + 2 + rl;
}

rbuf_t *ws_frame_prepare(int opcode, int rsv1, const void *payload, size_t len)
{
    if (!control_args_ok(opcode, 1, len)) return NULL;
    if (len > UINT32_MAX - WS_MAX_SERVER_HEADER) return NULL;
    uint8_t h[WS_MAX_SERVER_HEADER];
    size_t hl = ws_frame_header(h, opcode, 1, rsv1, len);
    rbuf_t *r = rbuf_alloc(hl + len);
    if (!r) return NULL;
    memcpy(r->data, h, hl);
    if (len) memcpy(r->data + hl, payload, len);
    return r;
}
