/* packet.h - Socket.IO v5 packet codec: decoder (with binary reconstruction) and encoders.
 *
 * A Socket.IO packet travels as the data of an Engine.IO message (type 4):
 *     <type>[<attachments>-][<nsp>,][<ack id>][<JSON payload>]    + N binary messages
 * e.g. `2["foo"]`, `2/admin,12["bar",1]`, `51-["baz",{"_placeholder":true,"num":0}]` + <bytes>.
 * (docs/socket.io-protocol/v5-current.md in the socket.io repository; behaviour checked against
 * socket.io-parser 4.2.x.) Encoders here write only the Socket.IO part: put the '4' in the buffer
 * first when the bytes are to be an Engine.IO text packet - then one buffer serves as the WebSocket
 * frame payload and as a polling record alike, so a broadcast is encoded once.
 *
 * Hot path - JSON stays text. Decoding validates the payload with rs_json_scan (no allocation,
 * no tree) and reports the event name and the raw text of the arguments; the jansson tree is
 * built only when asked (sio_packet_data). An echo or a broadcast re-frames the client's
 * argument text with sio_encode_event_raw / sio_encode_ack_raw, binary placeholders included,
 * and forwards the attachments by reference. Raw argument text keeps the sender's whitespace
 * (clients send JSON.stringify output, which has none).
 *
 * Binary data is represented by placeholders: the JSON keeps {"_placeholder":true,"num":i} where
 * the binary goes, and the packet carries the attachments in order (binaries[i]). To send
 * binary, put sio_placeholder_new(i) where attachment i belongs and pass the count; the encoders
 * write BINARY_EVENT / BINARY_ACK with the count. Placeholders are written as given, so they must
 * number 0..n-1 (the reference numbers them in document order; any order decodes the same).
 *
 * Strictness (what the fixed reference parser refuses, plus the limits chosen here) - every one
 * of these is RS_EPROTO from the decoder, and the server closes that client:
 *  - type not 0-6; for 5/6 the "N-" count missing, not decimal digits, or above 10; trailing
 *    data that is not JSON (garbage, trailing garbage after the value, invalid UTF-8, nesting
 *    deeper than SIO_JSON_MAX_DEPTH);
 *  - CONNECT: payload absent or an object; DISCONNECT: no payload; CONNECT_ERROR: an object or
 *    a string; EVENT / BINARY_EVENT: a non-empty array whose first element is a number or a
 *    string other than connect, connect_error, disconnect, disconnecting, newListener,
 *    removeListener; ACK / BINARY_ACK: an array, and an ack id is required;
 *  - ack id: decimal digits, at most SIO_ACK_ID_MAX (2^53 - 1, JavaScript's largest exact
 *    integer); only EVENT / ACK and their BINARY_ forms may carry one (the reference ignores it
 *    elsewhere; no client sends it);
 *  - binary packets with N > 0 attachments: every object whose "_placeholder" member is true
 *    must have a "num" member that is an integer in 0..N-1 (1.0 counts as 1; duplicate keys:
 *    the last wins, as in JSON.parse). A num may repeat and an attachment may go unused, as in
 *    the reference. With N = 0 placeholders are plain data, as in the reference.
 *  - a text message while attachments are awaited, or a binary message when none are.
 * Stricter than socket.io-parser where it is lenient by accident: attachment counts and ack ids
 * must be plain digits ("5-", not " 5-" or "0x5-"); EVENT and CONNECT_ERROR need a payload (the
 * parser lets a bare "2" through, the spec requires one); ACK needs an id. The namespace is
 * everything up to the first ',' and must be valid UTF-8. */
#ifndef ROOST_SIO_PACKET_H
#define ROOST_SIO_PACKET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/span.h"

enum sio_type {
    SIO_CONNECT = 0,
    SIO_DISCONNECT = 1,
    SIO_EVENT = 2,
    SIO_ACK = 3,
    SIO_CONNECT_ERROR = 4,
    SIO_BINARY_EVENT = 5,
    SIO_BINARY_ACK = 6,
};

#define SIO_NO_ACK          ((int64_t)-1)
#define SIO_ACK_ID_MAX      ((int64_t)9007199254740991) /* 2^53 - 1 */
#define SIO_MAX_ATTACHMENTS 10
#define SIO_JSON_MAX_DEPTH  32

typedef struct sio_packet {
    int type;                    /* enum sio_type; see sio_decoder_text for binary packets */
    int attachments;             /* declared attachment count of a BINARY_* header, else 0 */
    span_t nsp;                  /* namespace, "/" when omitted; never empty */
    int64_t ack_id;              /* SIO_NO_ACK when absent */
    span_t payload;              /* the JSON text as received; base NULL when absent */
    rs_json_kind_t payload_kind; /* RS_JSON_NONE when absent */
    /* EVENT / BINARY_EVENT: */
    span_t event;        /* the name, unescaped (a number event name: its JSON text) */
    int event_is_number; /* the name was a JSON number (the reference allows it) */
    /* EVENT: the arguments after the name; ACK: all elements. Raw JSON values separated by
     * commas, without the brackets; empty (len 0) when there are none. */
    span_t args;
    size_t nargs;
    /* Attachments of a reconstructed binary packet, in order; owned references. */
    rbuf_t *binaries[SIO_MAX_ATTACHMENTS];
    int nbinaries;
    /* private */
    json_t *data_;
    buf_t text_; /* copy of a binary packet's header text (spans above point into it) */
    buf_t name_; /* unescaped event name when it had escapes */
} sio_packet_t;

/* Make an empty packet; clearing it is then a no-op. */
void sio_packet_init(sio_packet_t *p);

/* Release what a decoded packet owns (parsed data, copied text, attachment references) and
 * re-initialise it. Safe on an initialised or cleared packet. */
void sio_packet_clear(sio_packet_t *p);

/* Decode one text message (the Engine.IO message data, without the '4') into *out, which is
 * overwritten (it need not be initialised; release what it held first). Spans point into text
 * (or into storage the packet owns, for escaped event names), so text must outlive the use of
 * *out. A BINARY_* packet is decoded as a header: type stays 5/6, attachments says how many
 * binary messages follow (sio_decoder collects them). Returns 0 - the caller then owns *out and
 * must sio_packet_clear it; RS_EPROTO for any violation listed above (*out is left cleared);
 * RS_ENOMEM. Never builds a tree. */
int sio_packet_decode(span_t text, sio_packet_t *out);

/* The payload as a jansson value, parsed on first use (limits as the decoder's) and owned by
 * the packet: *out is borrowed until sio_packet_clear - json_incref it to keep it. Binary
 * placeholders stay in the tree (see sio_packet_binary). Returns 0 (with *out NULL when there
 * is no payload), RS_ENOMEM, or RS_EPROTO only for text the decoder never accepted. */
int sio_packet_data(sio_packet_t *p, json_t **out);

/* If v (a value inside sio_packet_data's tree) is a placeholder for one of the packet's
 * attachments, set *out to its bytes (owned by the packet) and return 1; else 0. */
int sio_packet_binary(const sio_packet_t *p, const json_t *v, span_t *out);

/* Stateful decoder for one client connection: turns Engine.IO messages into complete packets,
 * holding a binary packet's header until its attachments have arrived. Embed it zeroed
 * (SIO_DECODER_INIT); it allocates only while attachments are awaited. */
struct sio_pending;
typedef struct sio_decoder {
    struct sio_pending *pending;
    size_t max_binary_bytes; /* cap on the attachments of one packet, 0: none */
} sio_decoder_t;

#define SIO_DECODER_INIT ((sio_decoder_t){NULL, 0})

/* Feed a text message. *out is overwritten as by sio_packet_decode. Returns 1 when *out holds a
 * complete packet (the caller owns it and must sio_packet_clear it); 0 when it was a binary
 * header and attachments are now awaited (feed them with sio_decoder_binary); RS_EPROTO on any
 * violation, including a text message while attachments are awaited - close the client; RS_ENOMEM.
 * Complete packets are reported like the reference reports them: BINARY_EVENT / BINARY_ACK
 * become SIO_EVENT / SIO_ACK, with `attachments` the declared count and binaries[] filled
 * (a header declaring 0 attachments completes at once, with no binaries). A packet that had to
 * wait for attachments owns a copy of its text, so the message need not outlive the call; the
 * others point into msg, as sio_packet_decode's do. */
int sio_decoder_text(sio_decoder_t *d, span_t msg, sio_packet_t *out);

/* Feed a binary message (copied into an rbuf the packet will own). *out is overwritten. Returns
 * 1 when it completed the awaited packet, now in *out (the caller owns it); 0 when more attachments
 * are awaited; RS_EPROTO when no packet awaits attachments; RS_ETOOBIG beyond max_binary_bytes;
 * RS_ENOMEM. After an error the pending packet is dropped. */
int sio_decoder_binary(sio_decoder_t *d, span_t bin, sio_packet_t *out);

/* Is a binary packet waiting for attachments? */
static inline int sio_decoder_busy(const sio_decoder_t *d)
{
    return d->pending != NULL;
}

/* Drop any pending packet (on disconnect). The decoder is reusable afterwards. */
void sio_decoder_reset(sio_decoder_t *d);

/* ---- encoders ------------------------------------------------------------------------------ *
 * All append to out and on error restore out->len, returning RS_ENOMEM, or RS_EINVAL for bad
 * arguments (unknown type, ack id above SIO_ACK_ID_MAX, attachment count outside 0..10, data
 * that is not what the type requires, JSON nested too deep). nsp "/" or empty is omitted, as
 * the reference does; ack_id < 0 means none. */

/* The header: <type>[<attachments>-][<nsp>,][<ack id>]. Writes the type as given. */
int sio_encode_header(buf_t *out, int type, int attachments, span_t nsp, int64_t ack_id);

/* Any packet with a jansson payload (NULL: none). For EVENT or ACK with nbinaries > 0 the
 * packet is written as BINARY_EVENT / BINARY_ACK with that count. */
int sio_encode(buf_t *out, int type, span_t nsp, int64_t ack_id, const json_t *data, int nbinaries);

/* EVENT ["name", ...args]; args a JSON array of the arguments or NULL for none. */
int sio_encode_event(buf_t *out, span_t nsp, int64_t ack_id, span_t name, const json_t *args,
                     int nbinaries);

/* EVENT from raw JSON text: ["name",frag0,frag1,...] where each fragment is one or more JSON
 * values separated by commas (e.g. a decoded packet's args, or an offset string "\"42\"");
 * empty fragments are skipped. Fragments are copied as they are, not validated. */
int sio_encode_event_raw(buf_t *out, span_t nsp, int64_t ack_id, span_t name, const span_t *frags,
                         size_t nfrags, int nbinaries);

/* ACK [...args] with the id to acknowledge (required); args a JSON array or NULL for []. */
int sio_encode_ack(buf_t *out, span_t nsp, int64_t ack_id, const json_t *args, int nbinaries);

/* ACK from raw JSON fragments, as sio_encode_event_raw. */
int sio_encode_ack_raw(buf_t *out, span_t nsp, int64_t ack_id, const span_t *frags, size_t nfrags,
                       int nbinaries);

/* The server's CONNECT answer: 0[<nsp>,]{"sid":"…"} or {"sid":"…","pid":"…"} when pid.base is
 * not NULL (connection-state recovery). */
int sio_encode_connect(buf_t *out, span_t nsp, span_t sid, span_t pid);

/* CONNECT_ERROR: 4[<nsp>,]{"message":"…"} or {"message":"…","data":<data>} when data is not
 * NULL - what the reference sends for a refused middleware (err.message, err.data). */
int sio_encode_connect_error(buf_t *out, span_t nsp, span_t message, const json_t *data);

/* DISCONNECT: 1 or 1/admin, */
int sio_encode_disconnect(buf_t *out, span_t nsp);

/* A new placeholder {"_placeholder":true,"num":num} (one reference), or NULL on ENOMEM. */
json_t *sio_placeholder_new(int num);

#endif
