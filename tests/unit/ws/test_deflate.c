#include <zlib.h>

#include "test.h"
#include "util/err.h"
#include "ws/deflate.h"
#include "ws/frame.h"
#include "ws_helpers.h"

static ws_deflate_params_t params(bool snct, bool cnct, int sbits, int cbits)
{
    return (ws_deflate_params_t){true, snct, cnct, (uint8_t)sbits, (uint8_t)cbits};
}

/* Inflate one whole message given as a byte string, fed in pieces of `step` bytes (0: whole). */
static int inflate_msg(ws_deflate_t *d, const void *in, size_t len, size_t step, bool text,
                       buf_t *out)
{
    const char *p = in;
    if (step == 0) step = len ? len : 1;
    size_t off = 0;
    do {
        size_t k = len - off < step ? len - off : step;
        int rc = ws_deflate_inflate(d, p + off, k, off + k == len, text, out);
        if (rc) return rc;
        off += k;
    } while (off < len);
    return 0;
}

#define HEX(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static int rfc_example(const uint8_t *in, size_t n, const char *want, ws_deflate_params_t pr)
{
    int ok = 1;
    for (size_t step = 0; step <= n; step++) {
        ws_deflate_t *d = ws_deflate_new(&pr, 0, 0, 0);
        buf_t out = BUF_INIT;
        int rc = inflate_msg(d, in, n, step, true, &out);
        if (rc != 0 || out.len != strlen(want) || memcmp(out.base, want, out.len) != 0) {
            fprintf(stderr, "    step %zu: rc %d out \"%.*s\"\n", step, rc, (int)out.len,
                    out.base ? out.base : "");
            ok = 0;
        }
        buf_free(&out);
        ws_deflate_free(d);
    }
    return ok;
}

TEST(rfc7692_examples_inflate_in_every_piece_size)
{
    ws_deflate_params_t pr = params(false, false, 15, 15);
    /* 7.2.3.1 a message compressed in one block */
    CHECK(rfc_example(HEX(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), "Hello", pr));
    /* 7.2.3.3 a stored block */
    CHECK(
        rfc_example(HEX(0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f), "Hello", pr));
    /* 7.2.3.4 BFINAL set */
    CHECK(rfc_example(HEX(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00), "Hello", pr));
    /* 7.2.3.5 two blocks in one message */
    CHECK(rfc_example(
        HEX(0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00), "Hello",
        pr));
    /* 7.2.3.6 an empty message */
    CHECK(rfc_example(HEX(0x00), "", pr));
}

TEST(rfc7692_shared_window_needs_context_takeover)
{
    ws_deflate_params_t pr = params(false, false, 15, 15);
    ws_deflate_t *d = ws_deflate_new(&pr, 0, 0, 0);
    buf_t out = BUF_INIT;
    CHECK_EQ_INT(inflate_msg(d, HEX(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), 0, true, &out), 0);
    CHECK_EQ_MEM(out.base, out.len, "Hello");
    out.len = 0;
    /* 7.2.3.2: the second "Hello" refers back into the first message */
    CHECK_EQ_INT(inflate_msg(d, HEX(0xf2, 0x00, 0x11, 0x00, 0x00), 0, true, &out), 0);
    CHECK_EQ_MEM(out.base, out.len, "Hello");
    ws_deflate_free(d);
    /* with client_no_context_takeover the window is dropped: the reference now fails */
    pr = params(false, true, 15, 15);
    d = ws_deflate_new(&pr, 0, 0, 0);
    out.len = 0;
    CHECK_EQ_INT(inflate_msg(d, HEX(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), 0, true, &out), 0);
    out.len = 0;
    CHECK_EQ_INT(inflate_msg(d, HEX(0xf2, 0x00, 0x11, 0x00, 0x00), 0, true, &out), RS_EPROTO);
    ws_deflate_free(d);
    buf_free(&out);
}

static void make_text(char *d, size_t n, unsigned seed)
{
    static const char *words[] = {
        "chat ",         "room ", "message ",    "follow ", "\xc3\xa9t\xc3\xa9 ",
        "\xe2\x82\xac ", "user ", "{\"id\":42} "};
    size_t i = 0;
    while (i < n) {
        const char *w = words[(seed = seed * 1103515245u + 12345u) >> 16 & 7];
        size_t k = strlen(w);
        if (i + k > n) {
            memset(d + i, 'x', n - i);
            break;
        }
        memcpy(d + i, w, k);
        i += k;
    }
}

/* Round trip: server compresses, a receiver with the same window inflates. */
static void round_trip(ws_deflate_params_t pr, size_t n, int rounds, size_t step, size_t *sizes)
{
    ws_deflate_t *tx = ws_deflate_new(&pr, 0, 0, 0);
    /* The receiver plays the client's side: its "client" params are our server ones. */
    ws_deflate_params_t rp =
        params(false, pr.server_no_context_takeover, 15, pr.server_max_window_bits);
    ws_deflate_t *rx = ws_deflate_new(&rp, 16u << 20, 0, 0);
    char *msg = malloc(n + 1);
    make_text(msg, n, 77);
    for (int r = 0; r < rounds; r++) {
        buf_t z = BUF_INIT, out = BUF_INIT;
        CHECK_EQ_INT(ws_deflate_compress(tx, msg, n, &z), 0);
        CHECK(z.len >= 1);
        if (z.len >= 4) CHECK(memcmp(z.base + z.len - 4, "\x00\x00\xff\xff", 4) != 0);
        if (sizes) sizes[r] = z.len;
        CHECK_EQ_INT(inflate_msg(rx, z.base, z.len, step, true, &out), 0);
        CHECK(out.len == n && (n == 0 || memcmp(out.base, msg, n) == 0));
        buf_free(&z);
        buf_free(&out);
    }
    free(msg);
    ws_deflate_free(tx);
    ws_deflate_free(rx);
}

TEST(round_trip_with_context_takeover_shrinks_repeats)
{
    size_t sizes[3];
    round_trip(params(false, false, 15, 15), 4000, 3, 0, sizes);
    CHECK(sizes[1] < sizes[0] / 4); /* the repeat is mostly a back-reference */
    round_trip(params(false, false, 15, 15), 4000, 3, 7, NULL);
}

TEST(round_trip_without_context_takeover_is_independent)
{
    size_t sizes[3];
    round_trip(params(true, true, 15, 15), 4000, 3, 0, sizes);
    CHECK_EQ_INT(sizes[0], sizes[1]);
    CHECK_EQ_INT(sizes[1], sizes[2]);
    round_trip(params(true, true, 15, 15), 4000, 3, 1, NULL);
}

TEST(round_trip_sizes_and_windows)
{
    size_t lens[] = {0, 1, 125, 126, 65535, 65536, 3u << 20};
    int bits[] = {8, 9, 12, 15};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        for (size_t b = 0; b < 4; b++) {
            round_trip(params(false, false, bits[b], 15), lens[i], 2, 0, NULL);
            round_trip(params(true, false, bits[b], 15), lens[i], 2, 4093, NULL);
        }
}

TEST(empty_message_compresses_to_one_zero_byte)
{
    ws_deflate_params_t pr = params(false, false, 15, 15);
    ws_deflate_t *d = ws_deflate_new(&pr, 0, 0, 0);
    buf_t z = BUF_INIT;
    CHECK_EQ_INT(ws_deflate_compress(d, "", 0, &z), 0);
    CHECK_EQ_INT(ws_deflate_compress(d, "", 0, &z), 0);
    CHECK_EQ_INT(z.len, 2);
    CHECK(z.base[0] == 0 && z.base[1] == 0);
    /* and a real message after empties still works */
    z.len = 0;
    CHECK_EQ_INT(ws_deflate_compress(d, "abc", 3, &z), 0);
    buf_t out = BUF_INIT;
    ws_deflate_t *rx = ws_deflate_new(&pr, 0, 0, 0);
    CHECK_EQ_INT(inflate_msg(rx, "\x00", 1, 0, false, &out), 0);
    CHECK_EQ_INT(out.len, 0);
    CHECK_EQ_INT(inflate_msg(rx, z.base, z.len, 0, false, &out), 0);
    CHECK_EQ_MEM(out.base, out.len, "abc");
    buf_free(&z), buf_free(&out);
    ws_deflate_free(d), ws_deflate_free(rx);
}

/* Raw-deflate n zero bytes with a sync flush and strip the tail, as a client would. */
static void client_compress(const void *in, size_t n, buf_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    buf_reserve(out, deflateBound(&z, n) + 16);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out->base + out->len;
    z.avail_out = (uInt)(out->cap - out->len);
    deflate(&z, Z_SYNC_FLUSH);
    out->len = out->cap - z.avail_out;
    out->len -= 4;
    deflateEnd(&z);
}

TEST(decompression_bomb_is_refused_without_allocating_it)
{
    size_t n = 10u << 20;
    char *zeros = calloc(1, n);
    buf_t z = BUF_INIT;
    client_compress(zeros, n, &z);
    free(zeros);
    CHECK(z.len < 20000);
    ws_deflate_params_t pr = params(false, false, 15, 15);
    size_t steps[] = {0, 1000, 1};
    for (size_t i = 0; i < 3; i++) {
        ws_deflate_t *d = ws_deflate_new(&pr, 1u << 20, 0, 0);
        buf_t out = BUF_INIT;
        int rc = inflate_msg(d, z.base, z.len, steps[i], false, &out);
        CHECK_EQ_INT(rc, RS_ETOOBIG);
        CHECK(out.len <= (1u << 20) + 1);
        CHECK(out.cap <= (2u << 20) + 64); /* never near the 10 MiB */
        CHECK(ws_deflate_memory(d) < 64 * 1024);
        buf_free(&out);
        ws_deflate_free(d);
    }
    buf_free(&z);
}

TEST(cap_is_on_decompressed_size_exactly)
{
    char msg[5000];
    make_text(msg, sizeof msg, 5);
    buf_t z = BUF_INIT;
    client_compress(msg, sizeof msg, &z);
    ws_deflate_params_t pr = params(false, false, 15, 15);
    ws_deflate_t *d = ws_deflate_new(&pr, sizeof msg, 0, 0);
    buf_t out = BUF_INIT;
    CHECK_EQ_INT(inflate_msg(d, z.base, z.len, 3, true, &out), 0);
    CHECK_EQ_INT(out.len, sizeof msg);
    /* the count restarts per message even when the caller keeps appending to out */
    CHECK_EQ_INT(inflate_msg(d, "\x00", 1, 0, true, &out), 0);
    ws_deflate_free(d);
    d = ws_deflate_new(&pr, sizeof msg - 1, 0, 0);
    out.len = 0;
    CHECK_EQ_INT(inflate_msg(d, z.base, z.len, 0, true, &out), RS_ETOOBIG);
    ws_deflate_free(d);
    buf_free(&out);
    buf_free(&z);
}

TEST(corrupt_data_is_eproto_and_truncated_data_does_not_poison_the_next_message)
{
    ws_deflate_params_t pr = params(false, false, 15, 15);
    ws_deflate_t *d = ws_deflate_new(&pr, 0, 0, 0);
    buf_t out = BUF_INIT;
    /* block type 3 is invalid */
    CHECK_EQ_INT(inflate_msg(d, HEX(0xff, 0xff, 0xff), 0, false, &out), RS_EPROTO);
    ws_deflate_free(d);
    /* a message cut inside a block */
    char msg[3000];
    make_text(msg, sizeof msg, 9);
    buf_t z = BUF_INIT;
    client_compress(msg, sizeof msg, &z);
    d = ws_deflate_new(&pr, 0, 0, 0);
    int cut_ok = 0;
    for (size_t cut = 1; cut < z.len; cut += 7) {
        /* decodes what it can (or fails); either way the next message starts cleanly */
        out.len = 0;
        int rc = inflate_msg(d, z.base, cut, 0, false, &out);
        CHECK(rc == 0 || rc == RS_EPROTO);
        if (rc) {
            ws_deflate_free(d);
            d = ws_deflate_new(&pr, 0, 0, 0);
            continue;
        }
        out.len = 0;
        CHECK_EQ_INT(inflate_msg(d, HEX(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), 0, false, &out),
                     0);
        CHECK_EQ_MEM(out.base, out.len, "Hello");
        cut_ok++;
    }
    CHECK(cut_ok > 0);
    ws_deflate_free(d);
    /* stored block with a bad NLEN */
    d = ws_deflate_new(&pr, 0, 0, 0);
    CHECK_EQ_INT(
        inflate_msg(d, HEX(0x00, 0x05, 0x00, 0xfb, 0xff, 'H', 'e', 'l', 'l', 'o'), 0, false, &out),
        RS_EPROTO);
    ws_deflate_free(d);
    buf_free(&out);
    buf_free(&z);
}

TEST(compressed_text_is_utf8_checked_after_inflating)
{
    ws_deflate_params_t pr = params(false, false, 15, 15);
    const char *bad[] = {"abc\xed\xa0\x80xyz", "\xc0\xaf", "truncated \xe2\x82", "\xff"};
    for (size_t i = 0; i < 4; i++) {
        buf_t z = BUF_INIT, out = BUF_INIT;
        client_compress(bad[i], strlen(bad[i]), &z);
        for (size_t step = 0; step <= z.len; step++) {
            ws_deflate_t *d = ws_deflate_new(&pr, 0, 0, 0);
            out.len = 0;
            CHECK_EQ_INT(inflate_msg(d, z.base, z.len, step, true, &out), RS_EUTF8);
            ws_deflate_free(d);
            d = ws_deflate_new(&pr, 0, 0, 0);
            out.len = 0;
            CHECK_EQ_INT(inflate_msg(d, z.base, z.len, step, false, &out), 0); /* binary */
            ws_deflate_free(d);
        }
        buf_free(&z), buf_free(&out);
    }
}

TEST(window_8_is_compressed_with_9_and_inflated_with_9)
{
    /* the client asked server_max_window_bits=8: compression must still work */
    ws_deflate_params_t pr = params(false, false, 8, 8);
    ws_deflate_t *d = ws_deflate_new(&pr, 0, 0, 0);
    char msg[2000];
    make_text(msg, sizeof msg, 1);
    buf_t z = BUF_INIT, out = BUF_INIT;
    CHECK_EQ_INT(ws_deflate_compress(d, msg, sizeof msg, &z), 0);
    /* a zlib inflater with a 512-byte window decodes it */
    z_stream s;
    memset(&s, 0, sizeof s);
    REQUIRE(inflateInit2(&s, -9) == Z_OK);
    buf_append(&z, "\x00\x00\xff\xff", 4);
    buf_reserve(&out, sizeof msg + 16);
    s.next_in = (Bytef *)z.base;
    s.avail_in = (uInt)z.len;
    s.next_out = (Bytef *)out.base;
    s.avail_out = (uInt)out.cap;
    CHECK_EQ_INT(inflate(&s, Z_SYNC_FLUSH), Z_OK);
    CHECK_EQ_INT(out.cap - s.avail_out, sizeof msg);
    CHECK(memcmp(out.base, msg, sizeof msg) == 0);
    inflateEnd(&s);
    /* and our inflater, told the client uses 8, accepts a zlib client's 9-bit stream */
    buf_t c = BUF_INIT;
    z_stream cz;
    memset(&cz, 0, sizeof cz);
    REQUIRE(deflateInit2(&cz, 6, Z_DEFLATED, -9, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    buf_reserve(&c, 4096);
    cz.next_in = (Bytef *)msg;
    cz.avail_in = sizeof msg;
    cz.next_out = (Bytef *)c.base;
    cz.avail_out = (uInt)c.cap;
    deflate(&cz, Z_SYNC_FLUSH);
    c.len = c.cap - cz.avail_out - 4;
    deflateEnd(&cz);
    out.len = 0;
    CHECK_EQ_INT(inflate_msg(d, c.base, c.len, 100, true, &out), 0);
    CHECK(out.len == sizeof msg && memcmp(out.base, msg, sizeof msg) == 0);
    buf_free(&z), buf_free(&out), buf_free(&c);
    ws_deflate_free(d);
}

TEST(memory_is_allocated_lazily_and_trimmed)
{
    ws_deflate_params_t pr = params(true, true, 10, 15);
    ws_deflate_t *d = ws_deflate_new(&pr, 0, 0, 4);
    CHECK_EQ_INT(ws_deflate_memory(d), 0);
    buf_t z = BUF_INIT, out = BUF_INIT;
    CHECK_EQ_INT(ws_deflate_compress(d, "hello hello hello", 17, &z), 0);
    size_t m = ws_deflate_memory(d);
    CHECK(m > 0 && m < 32 * 1024); /* 10-bit window, memLevel 4 */
    CHECK_EQ_INT(inflate_msg(d, HEX(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), 0, true, &out), 0);
    CHECK(ws_deflate_memory(d) > m);
    ws_deflate_trim(d);
    CHECK_EQ_INT(ws_deflate_memory(d), 0);
    /* still works after trimming */
    z.len = 0;
    CHECK_EQ_INT(ws_deflate_compress(d, "hello", 5, &z), 0);
    out.len = 0;
    CHECK_EQ_INT(inflate_msg(d, HEX(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), 0, true, &out), 0);
    CHECK_EQ_MEM(out.base, out.len, "Hello");
    ws_deflate_free(d);
    /* with context takeover nothing can be dropped */
    pr = params(false, false, 15, 15);
    d = ws_deflate_new(&pr, 0, 0, 0);
    CHECK_EQ_INT(ws_deflate_compress(d, "hello", 5, &z), 0);
    m = ws_deflate_memory(d);
    CHECK(m > 200 * 1024); /* w=15, m=8: about 262 KiB */
    ws_deflate_trim(d);
    CHECK_EQ_INT(ws_deflate_memory(d), m);
    ws_deflate_free(d);
    buf_free(&z), buf_free(&out);
}

/* The whole receive path: frames through the parser, compressed pieces through the inflater. */
TEST(frames_to_inflated_messages)
{
    ws_deflate_params_t pr = params(false, false, 15, 15);
    ws_deflate_t *d = ws_deflate_new(&pr, 0, 0, 0);
    char msg[3000];
    make_text(msg, sizeof msg, 3);
    buf_t z = BUF_INIT, s = BUF_INIT;
    client_compress(msg, sizeof msg, &z);
    size_t half = z.len / 2;
    wsh_frame_ex(&s, 0, 4, WS_OP_TEXT, 0x12345678, z.base, half, 0, 1);
    wsh_frame(&s, 1, WS_OP_PING, "hb", 2);
    wsh_frame_ex(&s, 1, 0, WS_OP_CONT, 0x9abcdef0, z.base + half, z.len - half, 0, 1);
    wsh_frame(&s, 1, WS_OP_TEXT, "plain", 5);
    ws_parser_config_t cfg = {0, 0, true};
    for (size_t step = 1; step <= s.len; step += (step < 40 ? 1 : 97)) {
        ws_parser_t p;
        ws_parser_init(&p, &cfg);
        buf_t out = BUF_INIT, log = BUF_INIT;
        /* bytes up to `recv` have arrived; the parser has consumed up to `off` */
        size_t off = 0, recv = 0;
        while (recv < s.len) {
            recv = s.len - recv < step ? s.len : recv + step;
            for (;;) {
                ws_event_t ev;
                int c = ws_parser_feed(&p, s.base + off, recv - off, &ev);
                off += (size_t)c;
                if (ev.type == WS_EV_DATA && (ev.flags & WS_DATA_COMPRESSED)) {
                    CHECK_EQ_INT(ws_deflate_inflate(d, ev.data, ev.len, ev.flags & WS_DATA_FINAL,
                                                    ev.flags & WS_DATA_TEXT, &out),
                                 0);
                    if (ev.flags & WS_DATA_FINAL) {
                        CHECK(out.len == sizeof msg && memcmp(out.base, msg, out.len) == 0);
                        buf_append_cstr(&log, "Z ");
                        out.len = 0;
                    }
                } else if (ev.type == WS_EV_DATA) {
                    buf_append(&log, ev.data, ev.len);
                } else if (ev.type == WS_EV_PING) {
                    buf_append_cstr(&log, "ping ");
                }
                CHECK(ev.type != WS_EV_ERROR);
                if (c == 0 && ev.type == WS_EV_NONE) break;
            }
        }
        CHECK_EQ_INT(off, s.len);
        buf_cstr(&log);
        CHECK_EQ_STR(log.base, "ping Z plain");
        buf_free(&out), buf_free(&log);
        /* the stream was unmasked in place: rebuild it for the next split */
        s.len = 0;
        wsh_frame_ex(&s, 0, 4, WS_OP_TEXT, 0x12345678, z.base, half, 0, 1);
        wsh_frame(&s, 1, WS_OP_PING, "hb", 2);
        wsh_frame_ex(&s, 1, 0, WS_OP_CONT, 0x9abcdef0, z.base + half, z.len - half, 0, 1);
        wsh_frame(&s, 1, WS_OP_TEXT, "plain", 5);
    }
    ws_deflate_free(d);
    buf_free(&z), buf_free(&s);
}
