#include "ws/deflate.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/err.h"
#include "util/utf8.h"

/* Output is produced in steps of at most this much, so the cap check happens before a bomb's
 * output can grow out much past the cap. */
#define INFLATE_STEP 16384

static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};

struct ws_deflate {
    z_stream in, out;
    ws_deflate_params_t params;
    size_t max_message;
    size_t msg_out; /* decompressed bytes of the message being received */
    int level, mem_level;
    int in_bits, out_bits; /* zlib windowBits actually used */
    bool in_ready, out_ready;
    bool in_ended; /* the message's deflate data ended with BFINAL: ignore the rest */
    bool in_msg;   /* between a message's first and last piece */
    utf8_state_t utf8;
};

/* zlib cannot compress raw deflate with a 256-byte window: deflateInit2 refuses windowBits 8
 * for raw streams (since zlib 1.2.9; before, it silently used 9). RFC 7692 allows a client to
 * ask for server_max_window_bits=8, so the handshake may answer 8, and then we compress with a
 * 512-byte window. A decoder honouring exactly 256 bytes could meet a distance it cannot reach;
 * zlib-based peers (browsers, Node, Python, Autobahn) do not check distances against the
 * negotiated window within one inflate call's output, and this is what other zlib-based servers
 * do too. Symmetrically, a zlib-based client that agreed to client_max_window_bits=8 really
 * compresses with 9, so we always inflate with at least 9. */
static int zlib_bits(uint8_t negotiated)
{
    if (negotiated == 0 || negotiated > 15) return 15; /* not limited */
    if (negotiated < 9) return 9;
    return negotiated;
}

ws_deflate_t *ws_deflate_new(const ws_deflate_params_t *params, size_t max_message, int level,
                             int mem_level)
{
    ws_deflate_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->params = *params;
    d->max_message = max_message ? max_message : (size_t)1 << 20;
    d->level = level <= 0 ? 6 : level > 9 ? 9 : level;
    d->mem_level = mem_level <= 0 ? 8 : mem_level > 9 ? 9 : mem_level;
    d->in_bits = zlib_bits(params->client_max_window_bits);
    d->out_bits = zlib_bits(params->server_max_window_bits);
    return d;
}

static void end_in(ws_deflate_t *d)
{
    if (d->in_ready) inflateEnd(&d->in);
    d->in_ready = false;
}

static void end_out(ws_deflate_t *d)
{
    if (d->out_ready) deflateEnd(&d->out);
    d->out_ready = false;
}

void ws_deflate_free(ws_deflate_t *d)
{
    if (!d) return;
    end_in(d);
    end_out(d);
    free(d);
}

void ws_deflate_trim(ws_deflate_t *d)
{
    if (d->params.server_no_context_takeover) end_out(d);
    if (d->params.client_no_context_takeover && !d->in_msg) end_in(d);
}

size_t ws_deflate_memory(const ws_deflate_t *d)
{
    size_t n = 0;
    if (d->in_ready) n += ((size_t)1 << d->in_bits) + 7 * 1024;
    if (d->out_ready)
        n += ((size_t)1 << (d->out_bits + 2)) + ((size_t)1 << (d->mem_level + 9)) + 6 * 1024;
    return n;
}

static int zerr(int zr)
{
    return zr == Z_MEM_ERROR ? RS_ENOMEM : RS_EPROTO;
}

/* Run the decompressor over in[0..len), appending to out, until it has consumed everything
 * and flushed all it can. */
static int inflate_run(ws_deflate_t *d, const uint8_t *in, size_t len, bool text, buf_t *out)
{
    z_stream *z = &d->in;
    while (!d->in_ended) {
        size_t take = len > UINT_MAX ? UINT_MAX : len;
        z->next_in = (Bytef *)in;
        z->avail_in = (uInt)take;
        /* Room for what the cap still allows, plus one byte to see it overflow. */
        size_t room = d->max_message - d->msg_out + 1;
        size_t step = room < INFLATE_STEP ? room : INFLATE_STEP;
        int rc = buf_reserve(out, step);
        if (rc) return rc;
        char *dst = out->base + out->len;
        z->next_out = (Bytef *)dst;
        z->avail_out = (uInt)step;
        int zr = inflate(z, Z_SYNC_FLUSH);
        size_t used = take - z->avail_in, produced = step - z->avail_out;
        in += used, len -= used;
        if (text && utf8_feed(&d->utf8, dst, produced) != produced) return RS_EUTF8;
        out->len += produced;
        d->msg_out += produced;
        if (d->msg_out > d->max_message) return RS_ETOOBIG;
        if (zr == Z_STREAM_END) {
            /* The client closed its deflate stream (BFINAL): the message's remaining bytes,
             * including our tail, carry nothing; the next message starts a new stream. */
            d->in_ended = true;
            break;
        }
        if (zr == Z_BUF_ERROR) break; /* no progress possible: all input used, all output out */
        if (zr != Z_OK) return zerr(zr);
        if (len == 0 && z->avail_in == 0 && z->avail_out != 0) break;
    }
    return 0;
}

int ws_deflate_inflate(ws_deflate_t *d, const void *in, size_t len, bool final, bool text,
                       buf_t *out)
{
    if (!d->in_ready) {
        memset(&d->in, 0, sizeof d->in);
        int zr = inflateInit2(&d->in, -d->in_bits);
        if (zr != Z_OK) return zerr(zr);
        d->in_ready = true;
    }
    if (!d->in_msg) {
        d->in_msg = true;
        d->msg_out = 0;
        d->in_ended = false;
        utf8_init(&d->utf8);
    }
    int rc = inflate_run(d, in, len, text, out);
    if (rc || !final) return rc;
    if (!d->in_ended) {
        rc = inflate_run(d, tail, sizeof tail, text, out);
        if (rc) return rc;
        /* Normally the tail completes the empty stored block the sender's sync flush began,
         * leaving the decoder at a block boundary. A message that ends on a byte boundary
         * after a complete block (RFC 7692 7.2.3.3's stored-block example) or one cut short
         * leaves it inside a block instead; decoding the next message from there would read
         * it as the rest of this block, so start afresh (such a sender cannot expect its
         * window to survive anyway). */
        if (!d->in_ended && !(d->in.data_type & 128)) d->in_ended = true;
    }
    if (text && !utf8_complete(&d->utf8)) return RS_EUTF8;
    d->in_msg = false;
    if (d->in_ended || d->params.client_no_context_takeover) {
        int zr = inflateReset(&d->in);
        if (zr != Z_OK) return zerr(zr);
    }
    return 0;
}

int ws_deflate_compress(ws_deflate_t *d, const void *in, size_t len, buf_t *out)
{
    if (len == 0) {
        /* An empty stored block without its LEN/NLEN, as RFC 7692 7.2.3.6 suggests; zlib would
         * emit nothing for a second flush in a row. */
        return buf_append_byte(out, 0x00);
    }
    if (!d->out_ready) {
        memset(&d->out, 0, sizeof d->out);
        int zr = deflateInit2(&d->out, d->level, Z_DEFLATED, -d->out_bits, d->mem_level,
                              Z_DEFAULT_STRATEGY);
        if (zr != Z_OK) return zr == Z_MEM_ERROR ? RS_ENOMEM : RS_EINVAL;
        d->out_ready = true;
    }
    z_stream *z = &d->out;
    const uint8_t *p = in;
    size_t start = out->len;
    while (len > 0) {
        size_t take = len > UINT_MAX / 2 ? UINT_MAX / 2 : len;
        z->next_in = (Bytef *)p;
        z->avail_in = (uInt)take;
        int last = take == len;
        do {
            size_t step = deflateBound(z, z->avail_in) + 16;
            if (step > UINT_MAX) step = UINT_MAX;
            int rc = buf_reserve(out, step);
            if (rc) return rc;
            z->next_out = (Bytef *)out->base + out->len;
            z->avail_out = (uInt)step;
            int zr = deflate(z, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
            if (zr != Z_OK && zr != Z_BUF_ERROR) return RS_EINVAL;
            out->len += step - z->avail_out;
            if (zr == Z_BUF_ERROR) break; /* nothing left to do */
        } while (z->avail_out == 0 || z->avail_in != 0);
        p += take, len -= take;
    }
    /* A sync flush ends with an empty stored block, 00 00 ff ff, which the receiver adds back. */
    if (out->len - start < 4 || memcmp(out->base + out->len - 4, tail, 4) != 0) return RS_EINVAL;
    out->len -= 4;
    if (d->params.server_no_context_takeover && deflateReset(z) != Z_OK) return RS_EINVAL;
    return 0;
}
