/* fuzz_ws_handshake - the opening handshake validator and extension negotiation.
 *
 * The input is read as a request head: a request line, then "Name: value" lines separated by
 * LF (CR stripped), split here by a trivial reader because the HTTP layer's parser is not this
 * driver's subject. The result must be a consistent decision: 101 with a well-formed response,
 * or an error status with a complete error response. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "ws/handshake.h"

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

static void read_head(const char *s, size_t n, http_request_head_t *h)
{
    memset(h, 0, sizeof *h);
    span_t rest = span_make(s, n), line;
    rest = span_split(rest, '\n', &line);
    span_t m, t;
    span_t after = span_split(line, ' ', &m);
    span_t ver = span_split(after, ' ', &t);
    h->method = m;
    h->target = t;
    h->path = t;
    h->minor_version = span_starts_with(span_trim(ver), "HTTP/1.0") ? 0 : 1;
    while (rest.base && h->num_headers < HTTP_MAX_HEADERS) {
        rest = span_split(rest, '\n', &line);
        if (line.len && line.base[line.len - 1] == '\r') line.len--;
        span_t name, value = span_split(line, ':', &name);
        if (!value.base) continue;
        h->headers[h->num_headers].name = name;
        h->headers[h->num_headers].value = span_trim(value);
        h->num_headers++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char *const protos[] = {"chat", "superchat", "v1.graphql"};
    static const char *const origins[] = {"https://app.example.com", "http://localhost:3000"};
    ws_handshake_config_t cfg = {0};
    uint8_t mode = data[0];
    if (mode & 1) cfg.subprotocols = protos, cfg.n_subprotocols = 3;
    if (mode & 2) cfg.origins = origins, cfg.n_origins = 2;
    cfg.deflate = mode & 4;
    cfg.deflate_server_no_context_takeover = mode & 8;
    cfg.deflate_client_no_context_takeover = mode & 16;
    cfg.deflate_server_max_window_bits = (uint8_t)((mode >> 5) * 2 + 1); /* 1..15 */
    cfg.deflate_client_max_window_bits = (uint8_t)((mode >> 5) * 2);

    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    http_request_head_t *h = malloc(sizeof *h);
    read_head(text, size - 1, h);
    ws_handshake_t hs;
    int rc = ws_handshake_check(h, &cfg, &hs);
    buf_t out = BUF_INIT;
    if (rc == 0) {
        ASSERT(hs.status == 101 && !hs.error);
        ASSERT(strlen(hs.accept) == WS_ACCEPT_LEN);
        if (hs.deflate.enabled) {
            ASSERT(strncmp(hs.extensions, "permessage-deflate", 18) == 0);
            ASSERT(hs.deflate.server_max_window_bits >= 8 &&
                   hs.deflate.server_max_window_bits <= 15);
            ASSERT(hs.deflate.client_max_window_bits >= 8 &&
                   hs.deflate.client_max_window_bits <= 15);
            ASSERT(cfg.deflate);
        } else {
            ASSERT(hs.extensions[0] == '\0');
        }
        if (hs.subprotocol.base) ASSERT(cfg.n_subprotocols);
        ASSERT(ws_handshake_write_response(&out, &hs, SPAN_NULL) == 0);
        ASSERT(out.len > 4 && memcmp(out.base + out.len - 4, "\r\n\r\n", 4) == 0);
        /* exactly one blank line, at the end */
        ASSERT(memmem(out.base, out.len, "\r\n\r\n", 4) == out.base + out.len - 4);
    } else {
        ASSERT(rc == RS_EPROTO && hs.error);
        ASSERT(hs.status == 400 || hs.status == 403 || hs.status == 426 || hs.status == 500);
        ASSERT(ws_handshake_write_error(&out, hs.status, hs.error) == 0);
    }
    buf_free(&out);
    free(h);
    free(text);
    return 0;
}
