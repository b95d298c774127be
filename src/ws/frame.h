/* frame.h - RFC 6455 frame codec: a sans-I/O receiver for client frames and an encoder for
 * server frames.
 *
 * The receiver works in place on the caller's receive buffer: data frame payloads are
 * unmasked where they lie and handed out as they arrive, in pieces of whatever size the reads
 * produced, so no frame or message is ever buffered here and a ws_parser_t holds no pointers
 * and no buffers (it is embedded in every connection; see the size check in frame.c). The only
 * bytes the caller must keep between reads are an incomplete frame header or an incomplete
 * control frame: at most WS_PARSER_MAX_LEFTOVER bytes.
 *
 * It enforces every failure rule of RFC 6455 for a server: client frames must be masked;
 * RSV1 only on the first frame of a message and only with permessage-deflate negotiated, RSV2
 * and RSV3 never; unknown opcodes; control frames fragmented or longer than 125 bytes; a
 * continuation with no message open, or a new message while one is open; a 64-bit length with
 * its top bit set; close payloads of 1 byte, invalid close codes and close reasons that are not
 * UTF-8; text that is not UTF-8 (checked incrementally, failing at the first bad byte even in
 * the middle of a frame); messages over the size cap (counted across fragments, checked as
 * soon as a frame header announces the length) and messages with too many fragments.
 *
 * The connection glue's read path, in outline:
 *
 *     // rx holds the leftover from the last read followed by the bytes just read
 *     size_t pos = 0;
 *     for (;;) {
 *         ws_event_t ev;
 *         int n = ws_parser_feed(&c->parser, rx + pos, rx_len - pos, &ev);
 *         pos += n;
 *         switch (ev.type) {
 *         case WS_EV_DATA:  deliver or inflate ev.data/ev.len (ev.flags); break;
 *         case WS_EV_PING:  queue a pong with ev.data/ev.len (capped); break;
 *         case WS_EV_CLOSE: echo a close, close TCP soon; break;
 *         case WS_EV_ERROR: send ws_frame_close(ev.code, ev.reason), close TCP; break;
 *         default: break;
 *         }
 *         if (ev.type == WS_EV_ERROR || ev.type == WS_EV_CLOSE) break;
 *         if (n == 0 && ev.type == WS_EV_NONE) break;
 *     }
 *     keep rx[pos..rx_len) (at most WS_PARSER_MAX_LEFTOVER bytes) for the next read
 */
#ifndef ROOST_WS_FRAME_H
#define ROOST_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/utf8.h"

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close status codes (RFC 6455 7.4.1) roost sends or reports. */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* reported for an empty close frame; never sent */
    WS_CLOSE_ABNORMAL = 1006,  /* never sent */
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_EXTENSION = 1010,
    WS_CLOSE_INTERNAL = 1011,
};

#define WS_DEFAULT_MAX_MESSAGE   (1u << 20) /* 1 MiB, like the Engine.IO maxPayload */
#define WS_DEFAULT_MAX_FRAGMENTS 1024
#define WS_MAX_CONTROL_PAYLOAD   125
/* Longest client frame header: 2 + 8 (64-bit length) + 4 (mask key). */
#define WS_MAX_CLIENT_HEADER 14
/* Most bytes ws_parser_feed may leave unconsumed: a whole masked control frame. */
#define WS_PARSER_MAX_LEFTOVER (2 + 4 + WS_MAX_CONTROL_PAYLOAD)
/* Longest server (unmasked) frame header. */
#define WS_MAX_SERVER_HEADER 10
/* Largest close frame: header 2 + code 2 + reason 123. */
#define WS_CLOSE_FRAME_MAX (2 + WS_MAX_CONTROL_PAYLOAD)

typedef struct ws_parser_config {
    uint32_t max_message;   /* cap on a message's payload bytes on the wire, summed over its
                               fragments; 0 means WS_DEFAULT_MAX_MESSAGE */
    uint16_t max_fragments; /* cap on frames per message; 0 means WS_DEFAULT_MAX_FRAGMENTS */
    bool deflate;           /* permessage-deflate was negotiated: RSV1 marks compressed messages */
} ws_parser_config_t;

/* Receiver state; embed it and initialise it with ws_parser_init. Fields are private. */
typedef struct ws_parser {
    uint32_t frame_left; /* payload bytes of the current data frame still to come */
    uint32_t msg_len;    /* payload bytes of the open message so far */
    uint32_t max_message;
    uint32_t mask;      /* the current data frame's masking key, in memory order, rotated so
                           its first byte applies to the next payload byte */
    uint16_t fragments; /* frames of the open message so far */
    uint16_t max_fragments;
    uint8_t state; /* header, payload, done */
    uint8_t msg;   /* flags of the open message (private bits, 0 when none is open) */
    uint8_t deflate;
    utf8_state_t utf8; /* validator for an uncompressed text message */
} ws_parser_t;

enum ws_event_type {
    WS_EV_NONE = 0, /* nothing more without more bytes */
    WS_EV_DATA,     /* a piece of a text or binary message */
    WS_EV_PING,
    WS_EV_PONG,
    WS_EV_CLOSE, /* the peer started or answered the closing handshake */
    WS_EV_ERROR, /* the peer broke the protocol: fail the connection */
};

/* Flags of a WS_EV_DATA event. */
enum {
    WS_DATA_TEXT = 1 << 0,       /* the message is text (else binary); on every piece */
    WS_DATA_FIRST = 1 << 1,      /* first piece of a message */
    WS_DATA_FINAL = 1 << 2,      /* last piece of a message */
    WS_DATA_COMPRESSED = 1 << 3, /* the message is permessage-deflate compressed (RSV1 on its
                                    first frame); on every piece */
};

typedef struct ws_event {
    enum ws_event_type type;
    unsigned flags;     /* WS_DATA_* for WS_EV_DATA, else 0 */
    uint16_t code;      /* CLOSE: the peer's code, WS_CLOSE_NO_STATUS when it sent none;
                           ERROR: the close code to send (1002, 1007 or 1009) */
    char *data;         /* DATA, PING, PONG: the payload, unmasked, inside the caller's buffer;
                           CLOSE: the reason (valid UTF-8, not NUL-terminated); else NULL */
    size_t len;         /* length of data */
    const char *reason; /* ERROR: a short static explanation, fit for a close frame and a log
                           line; else NULL */
} ws_event_t;

/* Prepare p for a new connection. cfg may be NULL for the defaults (1 MiB, 1024 fragments,
 * no deflate). Cannot fail; allocates nothing. */
void ws_parser_init(ws_parser_t *p, const ws_parser_config_t *cfg);

/* Consume client bytes from data[0..len) and describe at most one event in *ev.
 *
 * Returns how many bytes were consumed (>= 0; never more than INT_MAX per call). The caller
 * drops those bytes and calls again with the rest until a call returns 0 with WS_EV_NONE; the
 * unconsumed rest (at most WS_PARSER_MAX_LEFTOVER bytes: a partial header or a partial
 * control frame) must be kept and offered again, followed by the next bytes read. Any split of
 * the stream is accepted, down to one byte per call.
 *
 * data is modified: payload bytes are unmasked in place. Pointers in *ev point into data and
 * stay valid only while the caller keeps those bytes; handle the event before compacting or
 * reusing the buffer.
 *
 * Events:
 *   WS_EV_NONE   a frame header with no payload yet, an empty middle fragment, or (0 consumed)
 *                nothing to do until more bytes arrive.
 *   WS_EV_DATA   the next piece of the open message (possibly empty when it only carries
 *                WS_DATA_FINAL, e.g. an empty message). Every message produces at least one
 *                piece; the first has WS_DATA_FIRST, the last WS_DATA_FINAL. Uncompressed text
 *                has already been validated up to the end of the piece and, on FINAL, to the
 *                end of the message (a piece may end inside a character: only the whole
 *                message is guaranteed to be complete UTF-8); compressed text must be validated
 * after inflating (ws_deflate_inflate does it). WS_EV_PING   answer with a pong carrying the same
 * payload (the payload is valid until the caller drops the consumed bytes; copy it if the pong is
 * queued). Pings may arrive between the fragments of a message. WS_EV_PONG   may be ignored.
 *   WS_EV_CLOSE  the code (validated: see ws_close_code_valid) and reason are valid. Answer
 *                with a close frame (echo the code, or send an empty one for
 *                WS_CLOSE_NO_STATUS) unless one was already sent, then close TCP. Everything
 *                after it is ignored: later calls consume all bytes and report WS_EV_NONE.
 *   WS_EV_ERROR  send a close frame with ev->code and ev->reason, then close TCP (within a
 *                second). Later calls consume all bytes and report WS_EV_NONE.
 * Never fails in any other way and never allocates. */
int ws_parser_feed(ws_parser_t *p, char *data, size_t len, ws_event_t *ev);

/* True between the first and the last piece of a message. */
static inline bool ws_parser_in_message(const ws_parser_t *p)
{
    return p->msg != 0;
}

/* Is code acceptable in a close frame received from a peer? RFC 6455 7.4: 1000-1003,
 * 1007-1011 and 3000-4999 (registered and private-use codes). 1004-1006 and 1015 are reserved
 * and must never be sent; 0-999 are not used; 1012-2999 are reserved for future standards and
 * treated as invalid, as the roost issue specifies. */
bool ws_close_code_valid(unsigned code);

/* Write an unmasked server frame header for a payload of len bytes into out; returns its
 * length (2, 4 or 10). fin and rsv1 are booleans (rsv1 marks a compressed message's first
 * frame). The caller is responsible for sensible arguments (control frames <= 125 bytes). */
size_t ws_frame_header(uint8_t out[WS_MAX_SERVER_HEADER], int opcode, int fin, int rsv1,
                       uint64_t len);

/* Append one complete frame (header and payload) to out. Returns 0, RS_EINVAL for a control
 * frame over 125 bytes or a fragmented control frame, or RS_ENOMEM (out unchanged). */
int ws_frame_append(buf_t *out, int opcode, int fin, int rsv1, const void *payload, size_t len);

/* Write a complete close frame into out and return its length. code 0 or WS_CLOSE_NO_STATUS
 * gives an empty payload (no code); otherwise the code followed by reason, cut to 123 bytes at
 * a UTF-8 character boundary. reason may be NULL. No allocation. */
size_t ws_frame_close(uint8_t out[WS_CLOSE_FRAME_MAX], unsigned code, const char *reason,
                      size_t reason_len);

/* Encode a whole single-frame message (FIN set) once, to be shared by many connections: the
 * returned rbuf holds header and payload and has one reference, which the caller owns (take
 * more with rbuf_ref, release with rbuf_unref). Returns NULL on allocation failure or when the
 * frame would not fit an rbuf (over 4 GiB), or for a control frame over 125 bytes. */
rbuf_t *ws_frame_prepare(int opcode, int rsv1, const void *payload, size_t len);

#endif
