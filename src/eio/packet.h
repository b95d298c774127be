/* packet.h - Engine.IO v4 packet codec: polling payloads, WebSocket frame payloads, and the two
 * JSON documents the server writes itself (the open packet and the polling error body).
 *
 * Pure functions over spans: no I/O, no globals. Decoded text packets point into the caller's
 * bytes (no copy); binary packets from a polling payload are base64-decoded into a caller buffer.
 *
 * Wire forms (docs/engine.io-protocol/v4-current.md in the socket.io repository):
 *   text packet    <type digit 0-6><data>            e.g. "4hello", "2", "3probe"
 *   binary message polling: "b" + base64(bytes); WebSocket: a binary frame holding the bytes
 *   polling body   packets joined by the record separator 0x1e ("4hello\x1ebAQIDBA==")
 * A binary packet is always a message (type 4); binary is a property of the data. */
#ifndef ROOST_EIO_PACKET_H
#define ROOST_EIO_PACKET_H

#include <stddef.h>

#include "util/buf.h"
#include "util/span.h"

enum eio_type {
    EIO_OPEN = 0,
    EIO_CLOSE = 1,
    EIO_PING = 2,
    EIO_PONG = 3,
    EIO_MESSAGE = 4,
    EIO_UPGRADE = 5,
    EIO_NOOP = 6,
};

#define EIO_RECORD_SEPARATOR '\x1e'
/* A suggested cap on packets per polling body: a 1 MB body of the smallest records ("6\x1e")
 * holds 500,000; real clients batch what they queued, which can be thousands of small emits. */
#define EIO_PAYLOAD_MAX_PACKETS_DEFAULT 65536

typedef struct eio_packet {
    int type;    /* enum eio_type */
    int binary;  /* 1: data is raw bytes of a binary message (type is EIO_MESSAGE) */
    span_t data; /* text after the type digit, or the binary bytes; may be empty */
} eio_packet_t;

/* The wire character of a packet type ('0'..'6'); type must be valid. */
static inline char eio_type_char(int type)
{
    return (char)('0' + type);
}

/* ---- single packets (WebSocket frames) ------------------------------------------------------ */

/* Decode one text packet "<digit><data>": data points into text. Returns 0, or RS_EPROTO when
 * text is empty or does not start with '0'..'6'. (The reference also reads "b<base64>" in a text
 * frame; no client sends it over WebSocket, so here it is RS_EPROTO.) */
int eio_packet_decode_text(span_t text, eio_packet_t *out);

/* Decode a WebSocket message: a text frame as eio_packet_decode_text, a binary frame as a binary
 * message whose data is the whole frame (empty allowed). Returns 0 or RS_EPROTO; the caller
 * closes the session with "parse error" on RS_EPROTO. */
int eio_packet_from_ws(span_t frame, int is_binary, eio_packet_t *out);

/* Append the WebSocket frame payload of p to out - the type digit and data for text, the bytes
 * alone for binary - and set *is_binary to the frame kind to send (is_binary may be NULL).
 * Returns 0, RS_EINVAL for a bad type or a binary packet that is not a message, RS_ENOMEM; on
 * error out is unchanged. For zero copies the caller may instead send eio_type_char(type)
 * followed by data as two iovecs. */
int eio_packet_to_ws(buf_t *out, const eio_packet_t *p, int *is_binary);

/* ---- polling payloads ----------------------------------------------------------------------- */

/* Iterator over a polling POST body. The body must stay valid while iterating. */
typedef struct eio_payload_iter {
    span_t rest;        /* what has not been split yet */
    size_t count;       /* packets returned so far */
    size_t max_packets; /* 0: no cap */
    int done;
} eio_payload_iter_t;

/* Start iterating body, allowing at most max_packets packets (0: no cap). */
void eio_payload_iter_init(eio_payload_iter_t *it, span_t body, size_t max_packets);

/* Next packet of the body into *out. Text packets point into the body. A binary record's bytes
 * are decoded into scratch, which is emptied first (scratch->len = 0, storage kept), so they are
 * valid until the next call; scratch may be NULL only when the caller accepts RS_EINVAL on a
 * binary record. Returns 1 with *out filled; 0 at the end of the body; RS_EPROTO for an empty
 * body or record, an unknown type character or bad base64; RS_ETOOBIG when the body holds more
 * than max_packets; RS_ENOMEM. After an error the iterator stays failed (further calls repeat
 * the error). Packets returned before an error were valid: the reference server handles them,
 * then closes the session with "parse error" - the caller may do the same, or run
 * eio_payload_validate first to refuse the body whole. */
int eio_payload_next(eio_payload_iter_t *it, buf_t *scratch, eio_packet_t *out);

/* Check a whole body without allocating or decoding: returns the packet count (>= 1), or
 * RS_EPROTO / RS_ETOOBIG as eio_payload_next would at the first bad record. */
int eio_payload_validate(span_t body, size_t max_packets);

/* Append one packet to a polling body under construction in out: a separator first unless
 * first is non-zero, then "<digit><data>" or "b<base64>" for binary. Returns 0, RS_EINVAL
 * (bad type, binary non-message), RS_ENOMEM; on error out is unchanged. Text data must not
 * contain 0x1e (JSON text never does; the protocol has no escape for it). */
int eio_payload_append(buf_t *out, const eio_packet_t *p, int first);

/* Append n packets joined as one polling body. Errors as eio_payload_append; on error out is
 * unchanged. */
int eio_payload_encode(buf_t *out, const eio_packet_t *packets, size_t n);

/* ---- documents the server writes ----------------------------------------------------------- */

/* Append the open packet's JSON (without the '0' type digit), keys exactly as the reference:
 * {"sid":"…","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
 * upgrades may be NULL when nupgrades is 0. 0 or RS_ENOMEM (out unchanged). */
int eio_open_json(buf_t *out, span_t sid, const char *const *upgrades, size_t nupgrades,
                  unsigned long ping_interval_ms, unsigned long ping_timeout_ms,
                  unsigned long long max_payload);

/* Polling error codes of the reference server (HTTP 403 for FORBIDDEN, 400 otherwise). */
enum eio_error {
    EIO_ERR_TRANSPORT_UNKNOWN = 0,
    EIO_ERR_UNKNOWN_SID = 1,
    EIO_ERR_BAD_HANDSHAKE_METHOD = 2,
    EIO_ERR_BAD_REQUEST = 3,
    EIO_ERR_FORBIDDEN = 4,
    EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION = 5,
};

/* "Transport unknown", "Session ID unknown", ... for a code; "Bad request" for unknown codes. */
const char *eio_error_message(int code);
/* The HTTP status the reference answers with: 403 for EIO_ERR_FORBIDDEN, else 400. */
int eio_error_status(int code);
/* Append {"code":N,"message":"…"}; message SPAN_NULL (base NULL) means the standard text for
 * code (the reference lets allowRequest substitute its own). 0 or RS_ENOMEM (out unchanged). */
int eio_error_json(buf_t *out, int code, span_t message);

#endif
