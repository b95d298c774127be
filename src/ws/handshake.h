/* handshake.h - the server side of the WebSocket opening handshake (RFC 6455 section 4.2),
 * subprotocol selection and permessage-deflate negotiation (RFC 7692 section 7.1).
 *
 * Pure functions over a parsed request head: no I/O, no allocation except into the caller's
 * output buffer. The HTTP layer's upgrade hook calls ws_handshake_check, then writes either
 * ws_handshake_write_response (and switches the connection to WebSocket framing, with a
 * ws_parser_t configured from the result) or ws_handshake_write_error (and closes). */
#ifndef ROOST_WS_HANDSHAKE_H
#define ROOST_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parser.h"
#include "util/buf.h"
#include "util/span.h"
#include "ws/deflate.h"

/* Length of a Sec-WebSocket-Accept value: base64 of a 20-byte SHA-1. */
#define WS_ACCEPT_LEN 28

typedef struct ws_handshake_config {
    /* Subprotocols the application speaks. The first one the client offers (in the client's
     * order of preference) that appears here is selected; none is selected when the client
     * offers none of them (the client then decides whether to go on without). */
    const char *const *subprotocols;
    size_t n_subprotocols;
    /* Origin allowlist against Cross-Site WebSocket Hijacking: when n_origins > 0, a request
     * whose Origin header is present and not listed (compared case-insensitively, exactly as
     * "https://example.com[:port]") is refused with 403. Requests without Origin come from
     * non-browser clients, which cannot be hijacked, and are let through. */
    const char *const *origins;
    size_t n_origins;
    /* permessage-deflate: off unless set. */
    bool deflate;
    bool deflate_server_no_context_takeover; /* reset our compressor after every message, even
                                                if the client does not ask (less memory when
                                                combined with ws_deflate_trim) */
    bool deflate_client_no_context_takeover; /* ask the client to reset its compressor */
    uint8_t deflate_server_max_window_bits;  /* our compressor's window, 9..15 (0: 15) */
    uint8_t deflate_client_max_window_bits;  /* ask the client for at most this window when it
                                                allows it, 8..15 (0: no request) */
} ws_handshake_config_t;

typedef struct ws_handshake {
    int status;                     /* 101 when accepted; else 400, 403, 426 (or 500 if
                                       libcrypto fails) */
    const char *error;              /* why it was refused (static); NULL when accepted */
    char accept[WS_ACCEPT_LEN + 1]; /* Sec-WebSocket-Accept, NUL-terminated */
    span_t subprotocol;             /* the selected subprotocol (points into the config's
                                       strings), or SPAN_NULL */
    ws_deflate_params_t deflate;    /* deflate.enabled when permessage-deflate was accepted */
    char extensions[160];           /* the Sec-WebSocket-Extensions response value, "" if none */
} ws_handshake_t;

/* Does the request ask for a WebSocket upgrade at all (an Upgrade header listing
 * "websocket")? Lets the router send other requests elsewhere before validating. */
bool ws_handshake_requested(const http_request_head_t *req);

/* Validate a WebSocket opening handshake and negotiate its options.
 *
 * Checks: method GET; HTTP/1.1; a Host header; Upgrade lists "websocket" and Connection lists
 * "upgrade" (token lists, any case, any number of header lines); exactly one
 * Sec-WebSocket-Version, equal to 13; exactly one Sec-WebSocket-Key that is base64 for
 * exactly 16 bytes; the Origin allowlist. Then selects a subprotocol and, when cfg->deflate,
 * accepts the first acceptable permessage-deflate offer (an offer with an unknown, repeated or
 * malformed parameter, or an out-of-range window size, is declined and the next one tried).
 *
 * The request head and the config strings must outlive *out (spans point into them).
 * Returns 0 with out->status 101 when the upgrade may proceed: answer with
 * ws_handshake_write_response. Returns RS_EPROTO with out->status (400, 403, 426, or 500
 * when libcrypto fails) and
 * out->error otherwise: answer with ws_handshake_write_error(buf, out->status, out->error)
 * and close the connection after writing. */
int ws_handshake_check(const http_request_head_t *req, const ws_handshake_config_t *cfg,
                       ws_handshake_t *out);

/* Compute the Sec-WebSocket-Accept value for a Sec-WebSocket-Key as sent (RFC 6455 4.2.2):
 * base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). Writes WS_ACCEPT_LEN chars and
 * a NUL. Returns 0, or RS_ENOMEM if libcrypto fails. */
int ws_handshake_accept_key(span_t key, char out[WS_ACCEPT_LEN + 1]);

/* Append the complete "101 Switching Protocols" response for an accepted handshake to out.
 * extra_headers (may be empty) are inserted verbatim before the blank line; each must end
 * with CRLF (e.g. a Set-Cookie). Returns 0 or RS_ENOMEM. */
int ws_handshake_write_response(buf_t *out, const ws_handshake_t *hs, span_t extra_headers);

/* Append a complete plain-text error response with Connection: close; 426 also carries
 * "Sec-WebSocket-Version: 13" and "Upgrade: websocket" as RFC 6455 4.4 and RFC 9110 ask.
 * reason (may be NULL) becomes the body. Returns 0 or RS_ENOMEM. */
int ws_handshake_write_error(buf_t *out, int status, const char *reason);

#endif
