#include "util/base64.h"

#include "util/err.h"

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t encode(const unsigned char *in, size_t n, char *out, const char *alpha, int pad)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = alpha[(v >> 6) & 63];
        else if (pad) out[o++] = '=';
        if (pad) out[o++] = '=';
    }
    return o;
}

void base64_encode(const void *in, size_t n, char *out)
{
    encode(in, n, out, std_alpha, 1);
}

size_t base64url_encode(const void *in, size_t n, char *out)
{
    return encode(in, n, out, url_alpha, 0);
}

int base64_append(buf_t *b, const void *in, size_t n)
{
    size_t need = base64_encoded_len(n);
    int rc = buf_reserve(b, need);
    if (rc) return rc;
    base64_encode(in, n, b->base + b->len);
    b->len += need;
    return 0;
}

static int decode_char(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int base64_decode_append(buf_t *out, const char *in, size_t n)
{
    /* Strip up to two '=' of padding; what remains must be whole groups plus 2 or 3 chars. */
    size_t pad = 0;
    while (n > 0 && in[n - 1] == '=' && pad < 2) n--, pad++;
    if (n % 4 == 1) return RS_EPROTO;
    if (pad && (n + pad) % 4 != 0) return RS_EPROTO;
    int rc = buf_reserve(out, n / 4 * 3 + 3);
    if (rc) return rc;
    unsigned char *o = (unsigned char *)out->base + out->len;
    size_t olen = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int d = decode_char((unsigned char)in[i]);
        if (d < 0) return RS_EPROTO;
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[olen++] = (unsigned char)(v >> bits);
            v &= (1u << bits) - 1;
        }
    }
    out->len += olen;
    return 0;
}
