/* fuzz_http_request.c - libFuzzer driver for the HTTP request-head parser, the chunked
 * decoder and the URL helpers.
 *
 * The first input byte picks the mode: bit 7 set feeds the rest to the chunked decoder alone;
 * otherwise the rest is a request. Each input is parsed whole and incrementally (prefixes of
 * a step size taken from the mode byte, with prev_len), and the two must agree exactly: same
 * result, same status, same spans. A chunked body after a valid head is decoded whole and in
 * pieces and must also agree. Every buffer is an exact-size heap copy so ASan catches any
 * read past the length. Bit 6 of the mode byte expands each 0xff byte into 1000 'a's, so the
 * fuzzer can reach the 8 KiB line and 64 KiB head limits with small inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "util/err.h"

#define FUZZ_ASSERT(c)                                                                             \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

static char *copy(const uint8_t *d, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (n) memcpy(p, d, n);
    return p;
}

/* A span's position relative to its buffer, so heads from two copies can be compared. */
static void span_check(span_t s, const char *buf, size_t len, long *off, size_t *n)
{
    if (!s.base) {
        *off = -1;
        *n = 0;
        return;
    }
    if (s.base >= buf && s.base <= buf + len) {
        FUZZ_ASSERT(s.base + s.len <= buf + len);
        *off = s.base - buf;
    } else {
        *off = -2; /* the static "/" of an absolute URI without a path */
        FUZZ_ASSERT(s.len == 1 && s.base[0] == '/');
    }
    *n = s.len;
}

struct flat {
    long off[4 + 2 * HTTP_MAX_HEADERS];
    size_t n[4 + 2 * HTTP_MAX_HEADERS];
    size_t num_headers;
    int minor, kind, ka, up, ec;
    uint64_t cl;
};

static void flatten(const http_request_head_t *h, const char *buf, size_t len, struct flat *f)
{
    memset(f, 0, sizeof *f);
    FUZZ_ASSERT(h->num_headers <= HTTP_MAX_HEADERS);
    span_check(h->method, buf, len, &f->off[0], &f->n[0]);
    span_check(h->target, buf, len, &f->off[1], &f->n[1]);
    span_check(h->path, buf, len, &f->off[2], &f->n[2]);
    span_check(h->query, buf, len, &f->off[3], &f->n[3]);
    FUZZ_ASSERT(h->method.len > 0 && h->target.len > 0);
    for (size_t i = 0; i < h->num_headers; i++) {
        span_check(h->headers[i].name, buf, len, &f->off[4 + 2 * i], &f->n[4 + 2 * i]);
        span_check(h->headers[i].value, buf, len, &f->off[5 + 2 * i], &f->n[5 + 2 * i]);
        FUZZ_ASSERT(h->headers[i].name.len > 0 && h->headers[i].value.base);
    }
    f->num_headers = h->num_headers;
    f->minor = h->minor_version;
    f->kind = h->body_kind;
    f->ka = h->keep_alive;
    f->up = h->upgrade;
    f->ec = h->expect_continue;
    f->cl = h->body_kind == HTTP_BODY_LENGTH ? h->content_length : 0;
    FUZZ_ASSERT(f->minor == 0 || f->minor == 1);
    FUZZ_ASSERT(f->cl <= HTTP_MAX_CONTENT_LENGTH);
}

static int valid_status(int st)
{
    return st == 400 || st == 414 || st == 431 || st == 501 || st == 505;
}

struct decoded {
    int rc;
    size_t consumed, payload_len;
    uint64_t payload_hash;
};

/* Decode d[0..n) as a chunked body fed in pieces of `step` bytes (0 = all at once). */
static struct decoded chunked_run(const uint8_t *d, size_t n, size_t step)
{
    struct decoded r = {0, 0, 0, 1469598103934665603ULL};
    http_chunked_t st = {0};
    size_t off = 0;
    do {
        size_t piece = step && n - off > step ? step : n - off;
        char *b = copy(d + off, piece);
        size_t len = piece, used = 0;
        r.rc = http_chunked_decode(&st, b, &len, &used);
        FUZZ_ASSERT(len <= piece && used <= piece && len <= used);
        FUZZ_ASSERT(r.rc == 0 || r.rc == 1 || r.rc == RS_EPROTO);
        if (r.rc == 0) FUZZ_ASSERT(used == piece);
        for (size_t i = 0; i < len; i++)
            r.payload_hash = (r.payload_hash ^ (uint8_t)b[i]) * 1099511628211ULL;
        r.payload_len += len;
        r.consumed += used;
        free(b);
        off += piece;
    } while (r.rc == 0 && off < n);
    return r;
}

static void chunked_diff(const uint8_t *d, size_t n, size_t step)
{
    struct decoded a = chunked_run(d, n, 0), b = chunked_run(d, n, step);
    FUZZ_ASSERT(a.rc == b.rc);
    if (a.rc != RS_EPROTO) {
        FUZZ_ASSERT(a.consumed == b.consumed && a.payload_len == b.payload_len);
        FUZZ_ASSERT(a.payload_hash == b.payload_hash);
    }
}

static void url_helpers(const http_request_head_t *h)
{
    char out[256];
    int n = http_percent_decode(h->path, out, sizeof out);
    FUZZ_ASSERT(n == RS_EPROTO || n == RS_ETOOBIG || (n >= 0 && (size_t)n <= h->path.len));
    static const char *const keys[] = {"EIO", "transport", "sid", "t", "b64"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        span_t v = http_query_get(h->query, keys[i]);
        if (v.base)
            FUZZ_ASSERT(v.base >= h->query.base && v.base + v.len <= h->query.base + h->query.len);
    }
    (void)http_head_get(h, "host");
}

#define EXPAND_RUN 1000
#define EXPAND_MAX (HTTP_MAX_HEAD + 3 * HTTP_MAX_LINE)

/* Returns a heap copy of d with every 0xff replaced by EXPAND_RUN 'a's (capped), or NULL. */
static uint8_t *expand(const uint8_t *d, size_t n, size_t *out_n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += d[i] == 0xff ? EXPAND_RUN : 1;
    if (total > EXPAND_MAX) total = EXPAND_MAX;
    uint8_t *o = malloc(total ? total : 1);
    size_t k = 0;
    for (size_t i = 0; i < n && k < total; i++) {
        if (d[i] != 0xff) {
            o[k++] = d[i];
            continue;
        }
        size_t run = total - k < EXPAND_RUN ? total - k : EXPAND_RUN;
        memset(o + k, 'a', run);
        k += run;
    }
    *out_n = total;
    return o;
}

static void run(uint8_t mode, const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0];
    if (mode & 0x40) {
        size_t n;
        uint8_t *big = expand(data + 1, size - 1, &n);
        run(mode, big, n);
        free(big);
    } else {
        run(mode, data + 1, size - 1);
    }
    return 0;
}

static void run(uint8_t mode, const uint8_t *data, size_t size)
{
    size_t step = 1 + (mode & 0x3f);
    if (size > 4096 && step < 16) step *= 37; /* keep big inputs quick */

    if (mode & 0x80) {
        chunked_diff(data, size, step);
        return;
    }

    static http_request_head_t h1, h2;
    static struct flat f1, f2;
    char *whole = copy(data, size);
    int st1 = 0;
    int r1 = http_parse_request_head(whole, size, 0, &h1, &st1);
    if (r1 > 0) {
        FUZZ_ASSERT((size_t)r1 <= size && r1 <= HTTP_MAX_HEAD);
        flatten(&h1, whole, size, &f1);
        url_helpers(&h1);
    } else if (r1 == RS_EPROTO) {
        FUZZ_ASSERT(valid_status(st1));
    } else {
        FUZZ_ASSERT(r1 == RS_EMORE && size < HTTP_MAX_HEAD);
    }

    /* Incremental feeding must reach the same answer. Exact-size copies per prefix while the
     * input is small; one shared buffer beyond that to keep the fuzzer fast. */
    int exact = size <= 1024;
    int r2 = RS_EMORE, st2 = 0;
    size_t prev = 0, k = 0;
    while (r2 == RS_EMORE && k < size) {
        k = size - k > step ? k + step : size;
        char *b = exact ? copy(data, k) : whole;
        r2 = http_parse_request_head(b, k, prev, &h2, &st2);
        if (r2 > 0) flatten(&h2, b, k, &f2);
        if (exact) free(b);
        prev = k;
    }
    FUZZ_ASSERT(r1 == r2);
    if (r1 == RS_EPROTO) FUZZ_ASSERT(st1 == st2);
    if (r1 > 0) FUZZ_ASSERT(memcmp(&f1, &f2, sizeof f1) == 0);

    if (r1 > 0 && h1.body_kind == HTTP_BODY_CHUNKED)
        chunked_diff(data + r1, size - (size_t)r1, step);
    free(whole);
}
