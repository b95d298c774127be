/* wire.h - the wire format of the Socket.IO Redis adapter (@socket.io/redis-adapter 8 and
 * @socket.io/redis-emitter 5): MessagePack messages converted to and from roost's JSON-text
 * event arguments. Pure functions over bytes: no I/O, no globals.
 *
 * A broadcast on the channel socket.io#<nsp># (or socket.io#<nsp>#<room># when exactly one room
 * is targeted) is the MessagePack array
 *     [uid, {type: 2, data: [event, ...args], nsp}, {rooms: [...], except: [...], flags: {...}}]
 * where binary arguments are MessagePack bin values in place (type stays 2), a JavaScript Date
 * is the timestamp extension (type -1) and undefined is nil. Map key order varies by sender, so
 * maps are read by key.
 *
 * roost keeps event arguments as JSON text with binary placeholders {"_placeholder":true,
 * "num":i} plus attachments (sio/packet.h). Converting:
 *  - JSON -> MessagePack: integers (and reals with an integral value that fits 64 bits, as
 *    JavaScript has one number type) become the smallest int format, other numbers float64;
 *    strings str; arrays, objects, true/false/null as themselves; a placeholder whose num names
 *    one of the given attachments becomes bin with those bytes.
 *  - MessagePack -> JSON: what JSON.stringify would print for the value notepack.io decodes:
 *    nil -> null; integers beyond 2^53 and floats as JavaScript numbers; bin (and the legacy
 *    ArrayBuffer ext 0) -> a placeholder plus an attachment; ext -1 timestamps and the legacy
 *    ext 0 date -> the ISO string Date.prototype.toJSON gives (null when out of Date's range);
 *    ext 0 of one byte (legacy undefined) -> null; any other ext -> [type, placeholder]. Map
 *    keys must be strings, integers, booleans or nil (converted to text as JavaScript does).
 *
 * Input limits (a hostile or broken peer on Redis must not exhaust memory or crash a node):
 * messages of at most WIRE_MAX_MESSAGE bytes; every container's element count is checked
 * against the bytes left before msgpack-c allocates for it; nesting of at most 32 levels
 * (msgpack-c's own stack); at most SIO_MAX_ATTACHMENTS binaries; strings must be UTF-8. */
#ifndef ROOST_CLUSTER_WIRE_H
#define ROOST_CLUSTER_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sio/packet.h"
#include "util/buf.h"
#include "util/span.h"

#define WIRE_MAX_MESSAGE ((size_t)64 << 20)
#define WIRE_MAX_NAMES   1024 /* rooms or except entries in one message */

/* A decoded broadcast. Spans point into the message given to wire_broadcast_decode (which must
 * outlive their use) or into storage the struct owns. */
typedef struct wire_broadcast {
    span_t uid;   /* sender's node id ("emitter" for the emitter) */
    span_t nsp;   /* the packet's namespace; "/" when absent */
    span_t event; /* event name, raw UTF-8 (a number name: its decimal text) */
    buf_t args;   /* JSON text of the arguments after the name, comma-separated, no brackets */
    size_t nargs;
    rbuf_t *bins[SIO_MAX_ATTACHMENTS]; /* attachments for the placeholders in args (owned) */
    int nbins;
    const char **rooms; /* NUL-terminated copies (owned) */
    size_t nrooms;
    const char **except;
    size_t nexcept;
    bool is_volatile;
    int64_t ack_id; /* packet.id when present (broadcasts with acks), else -1 */
    /* private */
    buf_t names_;
} wire_broadcast_t;

/* Decode [uid, packet, opts]. *out is overwritten (need not be initialised). Returns 0 (the caller
 * owns *out and must wire_broadcast_clear it); RS_EPROTO when the bytes are not such a message
 * (malformed MessagePack, trailing bytes, packet not an EVENT, data not an array starting with a
 * string or number, names not strings, invalid UTF-8); RS_ETOOBIG beyond the limits above;
 * RS_ENOMEM. On error *out is left cleared. */
int wire_broadcast_decode(span_t msg, wire_broadcast_t *out);

void wire_broadcast_clear(wire_broadcast_t *b);

/* What to encode for a broadcast. */
typedef struct wire_target {
    const char *const *rooms;
    size_t nrooms;
    const char *const *except;
    size_t nexcept;
    const char *except_id; /* one more except entry (the sender's socket id), or NULL */
    bool is_volatile;
} wire_target_t;

/* Append the MessagePack broadcast message [uid, {type:2, data:[event, ...args], nsp}, opts]
 * to out. args is JSON text as in sio_event_t.args (comma-separated values, may be empty); its
 * placeholders numbered below nbins become bin values. Returns 0; RS_EPROTO when args is not
 * valid JSON values; RS_EINVAL for nbins outside 0..SIO_MAX_ATTACHMENTS; RS_ENOMEM. On error
 * out->len is restored. */
int wire_broadcast_encode(buf_t *out, span_t uid, span_t nsp, const wire_target_t *t, span_t event,
                          span_t args, rbuf_t *const *bins, int nbins);

/* The channel a broadcast goes to: "<prefix>#<nsp>#" or "<prefix>#<nsp>#<room>#" when exactly
 * one room is targeted. Appends to out; 0 or RS_ENOMEM. */
int wire_broadcast_channel(buf_t *out, span_t prefix, span_t nsp, const wire_target_t *t);

/* Convert one MessagePack value (the whole of msg) to JSON text appended to out, binaries
 * becoming placeholders numbered from *nbins on, their bytes stored in bins[] (owned by the
 * caller afterwards, also on error). Returns 0, RS_EPROTO, RS_ETOOBIG (limits, or more than
 * max_bins binaries), RS_ENOMEM; on error out->len is restored. */
int wire_to_json(span_t msg, buf_t *out, rbuf_t **bins, int *nbins, int max_bins);

/* Decode a request or response from socket.io-request# / socket.io-response#: JSON when the
 * first byte is '{', MessagePack otherwise (converted as wire_to_json does, binaries becoming
 * placeholders for bins[]). *out receives a new jansson object the caller must json_decref;
 * the caller owns bins[0..*nbins) and must rbuf_unref them. Returns 0, RS_EPROTO (not an
 * object, malformed), RS_ETOOBIG, RS_ENOMEM. */
int wire_request_decode(span_t msg, json_t **out, rbuf_t **bins, int *nbins);

/* Append v as MessagePack (the conversion described above); placeholders numbered below nbins
 * become bin values. 0, RS_EINVAL (nesting beyond 64 levels), RS_ENOMEM; out->len restored on
 * error. */
int wire_pack_json(buf_t *out, const json_t *v, rbuf_t *const *bins, int nbins);

/* Format a time in ms since the epoch as Date.prototype.toISOString does
 * ("2024-01-02T03:04:05.678Z", "+275760-09-13T00:00:00.000Z"). Returns the length written to
 * out, or 0 when the time is outside Date's range (|ms| > 8.64e15), where toJSON gives null. */
size_t wire_iso_date(int64_t ms, char out[32]);

#endif
