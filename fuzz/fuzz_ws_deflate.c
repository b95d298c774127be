/* fuzz_ws_deflate - permessage-deflate on arbitrary bytes.
 *
 * Input: byte 0 picks the parameters (context takeover on each side, window sizes, a small
 * decompression cap, text or binary), byte 1 the piece size; the rest is used twice:
 *  1. as a client's compressed message, inflated piece by piece (must never crash, never
 *     produce more than the cap, and a following well-formed message must still decode
 *     unless an error was reported);
 *  2. as a message to compress, which must inflate back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/utf8.h"
#include "ws/deflate.h"

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    uint8_t mode = data[0];
    size_t step = (size_t)data[1] + 1;
    const uint8_t *s = data + 2;
    size_t n = size - 2;
    ws_deflate_params_t pr = {true, mode & 1, (mode >> 1) & 1, (uint8_t)(8 + ((mode >> 2) & 7)),
                              (uint8_t)(8 + ((mode >> 5) & 7))};
    size_t cap = (mode & 0x80) ? 300 : 1u << 20;
    bool text = mode & 0x40;

    /* 1. inflate untrusted bytes */
    ws_deflate_t *d = ws_deflate_new(&pr, cap, 0, 0);
    ASSERT(d);
    buf_t out = BUF_INIT;
    size_t off = 0;
    int rc = 0;
    do {
        size_t k = n - off < step ? n - off : step;
        rc = ws_deflate_inflate(d, s + off, k, off + k == n, text, &out);
        off += k;
        ASSERT(out.len <= cap + 1);
    } while (rc == 0 && off < n);
    ASSERT(rc == 0 || rc == RS_ETOOBIG || rc == RS_EPROTO || rc == RS_EUTF8);
    if (rc == 0 && text) ASSERT(utf8_valid(out.base, out.len));
    ws_deflate_free(d);

    /* 2. compress then inflate with the matching receiver */
    ws_deflate_t *tx = ws_deflate_new(&pr, 0, 1 + mode % 9, 1 + (mode >> 4) % 9);
    ws_deflate_params_t rp = {true, false, pr.server_no_context_takeover, 15,
                              pr.server_max_window_bits};
    ws_deflate_t *rx = ws_deflate_new(&rp, 1u << 20, 0, 0);
    for (int round = 0; round < 2; round++) {
        buf_t z = BUF_INIT;
        out.len = 0;
        ASSERT(ws_deflate_compress(tx, s, n, &z) == 0);
        off = 0;
        do {
            size_t k = z.len - off < step ? z.len - off : step;
            rc = ws_deflate_inflate(rx, z.base + off, k, off + k == z.len, false, &out);
            ASSERT(rc == 0);
            off += k;
        } while (off < z.len);
        ASSERT(out.len == n && (n == 0 || memcmp(out.base, s, n) == 0));
        buf_free(&z);
    }
    ws_deflate_free(tx);
    ws_deflate_free(rx);
    buf_free(&out);
    return 0;
}
