/* deflate.h - permessage-deflate (RFC 7692) for one WebSocket connection, on zlib.
 *
 * Allocated only for connections that negotiated the extension (see ws/handshake.h), and each
 * zlib stream only when first used: a connection that only receives compressed messages never
 * pays for a compressor. Costs per connection, from zlib's own formulas (window bits w,
 * memLevel m):
 *   compressor   (1 << (w + 2)) + (1 << (m + 9)) + ~6 KiB   w=15, m=8: ~262 KiB
 *                                                          w=10, m=4: ~18 KiB
 *   decompressor (1 << w) + ~7 KiB                         w=15: ~39 KiB
 * which is why the extension is off unless enabled, why the server may ask for smaller
 * windows during negotiation, and why ws_deflate_trim exists.
 *
 * Messages are inflated piece by piece as the frame parser delivers them, into a caller's
 * buffer, with a hard cap on the decompressed size: a decompression bomb is refused as soon as
 * its output would pass the cap, having allocated no more than the cap. */
#ifndef ROOST_WS_DEFLATE_H
#define ROOST_WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* The negotiated parameters, as ws_handshake_check agrees them with the client. */
typedef struct ws_deflate_params {
    bool enabled;                    /* permessage-deflate was accepted */
    bool server_no_context_takeover; /* we reset our compressor after every message */
    bool client_no_context_takeover; /* the client resets its compressor after every message */
    uint8_t server_max_window_bits;  /* 8..15: the LZ77 window our compressor may use (0: 15) */
    uint8_t client_max_window_bits;  /* 8..15: the window the client's compressor uses at most
                                        (0: 15) */
} ws_deflate_params_t;

typedef struct ws_deflate ws_deflate_t;

/* Create the per-connection state for the negotiated params (params->enabled must be true).
 * max_message caps the decompressed size of one received message (0: 1 MiB). level is the
 * zlib compression level (1..9; 0 picks 6) and mem_level the zlib memLevel (1..9; 0 picks 8);
 * out-of-range values are clamped. No zlib memory is allocated yet. Returns NULL on ENOMEM. */
ws_deflate_t *ws_deflate_new(const ws_deflate_params_t *params, size_t max_message, int level,
                             int mem_level);

/* Release everything. NULL is fine. */
void ws_deflate_free(ws_deflate_t *d);

/* Inflate the next piece of a received compressed message (the payload of a WS_EV_DATA event
 * with WS_DATA_COMPRESSED), appending the output to out. final is true for the message's last
 * piece (WS_DATA_FINAL): the RFC 7692 tail 00 00 ff ff is then supplied and the message closed.
 * text is true for text messages: the output is validated as UTF-8 across pieces, failing at
 * the first bad byte. The decompressed size of the message (not out->len: the caller may
 * drain out between pieces) is capped at max_message.
 * Returns 0, or, after which the caller must fail the connection:
 *   RS_ETOOBIG  decompressed size would pass the cap          -> close 1009
 *   RS_EUTF8    text output is not valid UTF-8                  -> close 1007
 *   RS_EPROTO   corrupt or truncated compressed data            -> close 1007
 *   RS_ENOMEM   zlib or out could not allocate                  -> close 1011
 * out may have grown by a partial piece when an error is returned. */
int ws_deflate_inflate(ws_deflate_t *d, const void *in, size_t len, bool final, bool text,
                       buf_t *out);

/* Compress one whole outgoing message, appending the frame payload (the deflate data with the
 * trailing 00 00 ff ff removed, RFC 7692 7.2.1) to out; send it in frames whose first has
 * RSV1 set. An empty message gives the single byte 00 (RFC 7692 7.2.3.6). Returns 0, or
 * RS_ENOMEM, or RS_EINVAL for an unexpected zlib failure; after either, out may hold a partial
 * result (truncate it to its old length) and the compressor state is unusable: close the
 * connection with 1011. */
int ws_deflate_compress(ws_deflate_t *d, const void *in, size_t len, buf_t *out);

/* Free the zlib state that holds no context worth keeping: the compressor when
 * server_no_context_takeover, the decompressor when client_no_context_takeover and no message
 * is being received. They are re-created on next use. Call it for idle connections (e.g. from
 * the sweep timer) to trade a later allocation for memory. */
void ws_deflate_trim(ws_deflate_t *d);

/* Bytes of zlib state currently allocated (an estimate from zlib's formulas), for metrics. */
size_t ws_deflate_memory(const ws_deflate_t *d);

#endif
