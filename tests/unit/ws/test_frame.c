#include "test.h"
#include "util/err.h"
#include "ws/frame.h"
#include "ws_helpers.h"

static const ws_parser_config_t *deflate_cfg(void)
{
    static const ws_parser_config_t c = {0, 0, true};
    return &c;
}

/* Feed the stream whole, split at every byte boundary (when short), one byte at a time and in
 * a few odd step sizes; every way must produce the log `want`. When bad_at >= 0, feeding one
 * byte at a time must report the error exactly when byte bad_at (0-based) arrives. Returns 1 on
 * success, else prints what differed. */
static int expect_ex(const ws_parser_config_t *cfg, const buf_t *s, const char *want, long bad_at,
                     size_t every_split_limit)
{
    int ok = 1;
    wsh_run_t r;
    size_t steps[] = {0, 1, 2, 3, 5, 13, 64, 1000, 65537};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i] == 1 && s->len > (64u << 20)) continue;
        wsh_run_step(cfg, s->base, s->len, steps[i], &r);
        buf_cstr(&r.log);
        if (strcmp(r.log.base, want) != 0 || r.flag_errors || r.after_close ||
            r.max_leftover > WS_PARSER_MAX_LEFTOVER) {
            fprintf(stderr,
                    "    step %zu: got \"%.300s\" want \"%.300s\" flags %d after %d left %zu\n",
                    steps[i], r.log.base, want, r.flag_errors, r.after_close, r.max_leftover);
            ok = 0;
        }
        if (steps[i] == 1 && bad_at >= 0 && r.error_at != bad_at + 1) {
            fprintf(stderr, "    error reported after %ld bytes, want %ld\n", r.error_at,
                    bad_at + 1);
            ok = 0;
        }
        wsh_run_free(&r);
    }
    if (s->len <= every_split_limit) {
        for (size_t cut = 0; cut <= s->len && ok; cut++) {
            wsh_run_cuts(cfg, s->base, s->len, &cut, 1, &r);
            buf_cstr(&r.log);
            if (strcmp(r.log.base, want) != 0 || r.flag_errors || r.after_close) {
                fprintf(stderr, "    cut at %zu: got \"%.300s\" want \"%.300s\"\n", cut, r.log.base,
                        want);
                ok = 0;
            }
            wsh_run_free(&r);
        }
    }
    return ok;
}

static int expect(const ws_parser_config_t *cfg, const buf_t *s, const char *want)
{
    return expect_ex(cfg, s, want, -1, 4096);
}

/* ---- well-formed traffic ---------------------------------------------------------------- */

TEST(single_text_and_binary_messages)
{
    buf_t s2 = BUF_INIT;
    WSH_TEXT(&s2, "Hello");
    wsh_frame(&s2, 1, WS_OP_BINARY, "xyz", 3);
    WSH_TEXT(&s2, "");
    wsh_frame(&s2, 1, WS_OP_BINARY, "", 0);
    CHECK(expect(NULL, &s2, "T:Hello|B:xyz|T:|B:"));
    buf_free(&s2);
}

TEST(control_frames_and_close)
{
    buf_t s = BUF_INIT;
    wsh_frame(&s, 1, WS_OP_PING, "ping!", 5);
    wsh_frame(&s, 1, WS_OP_PONG, "", 0);
    wsh_frame(&s, 1, WS_OP_PING, "", 0);
    wsh_frame(&s, 1, WS_OP_CLOSE,
              "\x03\xe8"
              "bye",
              5);
    CHECK(expect(NULL, &s, "PING:ping!|PONG:|PING:|CLOSE:1000:bye"));
    buf_free(&s);
}

TEST(close_without_code_reports_1005)
{
    buf_t s = BUF_INIT;
    wsh_frame(&s, 1, WS_OP_CLOSE, "", 0);
    CHECK(expect(NULL, &s, "CLOSE:1005:"));
    buf_free(&s);
}

TEST(everything_after_close_is_ignored)
{
    buf_t s = BUF_INIT;
    wsh_frame(&s, 1, WS_OP_CLOSE, "\x0f\xa0", 2); /* 4000 */
    WSH_TEXT(&s, "ignored");
    wsh_frame(&s, 1, WS_OP_PING, "x", 1);
    buf_append(&s, "\xff\xff\xff garbage that is not a frame", 30);
    CHECK(expect(NULL, &s, "CLOSE:4000:"));
    buf_free(&s);
}

TEST(fragmented_message_with_interleaved_controls)
{
    buf_t s = BUF_INIT;
    wsh_frame(&s, 0, WS_OP_TEXT, "Hel", 3);
    wsh_frame(&s, 1, WS_OP_PING, "p1", 2);
    wsh_frame(&s, 0, WS_OP_CONT, "", 0);
    wsh_frame(&s, 1, WS_OP_PONG, "p2", 2);
    wsh_frame(&s, 0, WS_OP_CONT, "lo, ", 4);
    wsh_frame(&s, 1, WS_OP_PING, "", 0);
    wsh_frame(&s, 1, WS_OP_CONT, "world", 5);
    wsh_frame(&s, 0, WS_OP_BINARY, "", 0);
    wsh_frame(&s, 1, WS_OP_CONT, "", 0);
    CHECK(expect(NULL, &s, "PING:p1|PONG:p2|PING:|T:Hello, world|B:"));
    buf_free(&s);
}

TEST(ping_inside_fragmented_message_is_reported_while_message_is_open)
{
    buf_t s = BUF_INIT;
    wsh_frame(&s, 0, WS_OP_BINARY, "ab", 2);
    wsh_frame(&s, 1, WS_OP_PING, "now", 3);
    wsh_frame(&s, 1, WS_OP_CONT, "cd", 2);
    ws_parser_t p;
    ws_parser_init(&p, NULL);
    ws_event_t ev;
    size_t pos = 0;
    int saw_ping = 0;
    for (;;) {
        int k = ws_parser_feed(&p, s.base + pos, s.len - pos, &ev);
        pos += (size_t)k;
        if (ev.type == WS_EV_PING) {
            saw_ping = 1;
            CHECK(ws_parser_in_message(&p));
            CHECK_EQ_MEM(ev.data, ev.len, "now");
        }
        if (k == 0 && ev.type == WS_EV_NONE) break;
    }
    CHECK(saw_ping);
    CHECK(!ws_parser_in_message(&p));
    CHECK_EQ_INT(pos, s.len);
    buf_free(&s);
}

TEST(pieces_are_delivered_progressively_without_buffering)
{
    /* A 1000-byte frame fed in 10-byte reads yields a DATA event per read, nothing held back. */
    char payload[1000];
    for (int i = 0; i < 1000; i++) payload[i] = (char)('a' + i % 26);
    buf_t s = BUF_INIT;
    wsh_frame(&s, 1, WS_OP_TEXT, payload, sizeof payload);
    ws_parser_t p;
    ws_parser_init(&p, NULL);
    size_t hl = s.len - sizeof payload, off = 0, got = 0, events = 0;
    ws_event_t ev;
    int k = ws_parser_feed(&p, s.base, hl, &ev);
    CHECK_EQ_INT(k, hl);
    CHECK_EQ_INT(ev.type, WS_EV_NONE);
    off = hl;
    while (off < s.len) {
        int n = ws_parser_feed(&p, s.base + off, 10, &ev);
        REQUIRE(n == 10);
        CHECK_EQ_INT(ev.type, WS_EV_DATA);
        CHECK(memcmp(ev.data, payload + got, 10) == 0);
        CHECK_EQ_INT(!!(ev.flags & WS_DATA_FIRST), got == 0);
        CHECK_EQ_INT(!!(ev.flags & WS_DATA_FINAL), got + 10 == sizeof payload);
        got += 10, off += 10, events++;
    }
    CHECK_EQ_INT(events, 100);
    buf_free(&s);
}

/* ---- length encodings at their boundaries ----------------------------------------------- */

static void fill_text(char *d, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) d[i] = (char)(' ' + (i * 7 + seed) % 90);
}

static void check_length(size_t n, int len_form, size_t every_split_limit, int *ok)
{
    ws_parser_config_t cfg = {64u << 20, 0, false};
    char *d = malloc(n + 1);
    fill_text(d, n, (unsigned)n);
    for (int op = WS_OP_TEXT; op <= WS_OP_BINARY; op++) {
        buf_t s = BUF_INIT, want = BUF_INIT;
        wsh_frame_ex(&s, 1, 0, op, 0xa1b2c3d4u ^ (uint32_t)n, d, n, len_form, 1);
        wsh_frame(&s, 1, WS_OP_PING, "end", 3);
        wsh_log_bytes(&want, op == WS_OP_TEXT ? "T" : "B", d, n);
        buf_append_cstr(&want, "|PING:end");
        buf_cstr(&want);
        if (!expect_ex(&cfg, &s, want.base, -1, every_split_limit)) {
            fprintf(stderr, "    length %zu form %d op %d failed\n", n, len_form, op);
            *ok = 0;
        }
        buf_free(&s);
        buf_free(&want);
    }
    free(d);
}

TEST(length_encodings_at_small_boundaries_every_split)
{
    int ok = 1;
    size_t lens[] = {0, 1, 124, 125, 126, 127};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) check_length(lens[i], 0, 4096, &ok);
    /* non-minimal encodings are accepted */
    check_length(5, 2, 4096, &ok);
    check_length(5, 8, 4096, &ok);
    check_length(300, 8, 4096, &ok);
    CHECK(ok);
}

TEST(length_encodings_at_16_bit_boundaries)
{
    int ok = 1;
    check_length(65535, 0, 0, &ok);
    check_length(65536, 0, 0, &ok);
    CHECK(ok);
}

TEST(length_several_mib)
{
    int ok = 1;
    check_length((5u << 20) + 3, 0, 0, &ok);
    CHECK(ok);
}

TEST(fragmented_large_message_across_many_frames)
{
    ws_parser_config_t cfg = {8u << 20, 0, false};
    size_t n = 3u << 20, chunk = 70000;
    char *d = malloc(n);
    fill_text(d, n, 3);
    buf_t s = BUF_INIT, want = BUF_INIT;
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        wsh_frame(&s, off + k == n, off ? WS_OP_CONT : WS_OP_BINARY, d + off, k);
        if (off == chunk * 3) wsh_frame(&s, 1, WS_OP_PING, "mid", 3);
    }
    wsh_log_bytes(&want, "PING", "mid", 3);
    wsh_log_bytes(&want, "B", d, n);
    buf_cstr(&want);
    CHECK(expect_ex(&cfg, &s, want.base, -1, 0));
    buf_free(&s);
    buf_free(&want);
    free(d);
}

/* ---- protocol violations ---------------------------------------------------------------- */

/* The stream `s` must fail with `code` exactly when byte bad_at arrives (one byte at a time),
 * and fail the same way whatever the split. prefix_log is what comes before the error. */
static int expect_error(const ws_parser_config_t *cfg, const buf_t *s, const char *prefix_log,
                        unsigned code, long bad_at)
{
    char want[512];
    snprintf(want, sizeof want, "%s%sERR:%u", prefix_log, *prefix_log ? "|" : "", code);
    return expect_ex(cfg, s, want, bad_at, 2048);
}

TEST(unmasked_frame_is_1002)
{
    buf_t s = BUF_INIT;
    wsh_frame_ex(&s, 1, 0, WS_OP_TEXT, 0, "hi", 2, 0, 0);
    CHECK(expect_error(NULL, &s, "", 1002, 1));
    s.len = 0;
    wsh_frame_ex(&s, 1, 0, WS_OP_PING, 0, "", 0, 0, 0);
    CHECK(expect_error(NULL, &s, "", 1002, 1));
    buf_free(&s);
}

TEST(rsv_bits_without_extension_are_1002)
{
    for (int rsv = 1; rsv <= 7; rsv++) {
        buf_t s = BUF_INIT;
        WSH_TEXT(&s, "ok");
        wsh_frame_ex(&s, 1, rsv, WS_OP_TEXT, 0x01020304, "bad", 3, 0, 1);
        CHECK(expect_error(NULL, &s, "T:ok", 1002, (long)(s.len - 9)));
        buf_free(&s);
    }
    /* on control frames too */
    for (int rsv = 1; rsv <= 7; rsv++) {
        buf_t s = BUF_INIT;
        wsh_frame_ex(&s, 1, rsv, WS_OP_PING, 0x01020304, "", 0, 0, 1);
        CHECK(expect_error(NULL, &s, "", 1002, 0));
        buf_free(&s);
    }
}

TEST(rsv1_with_deflate_only_on_first_data_frame)
{
    const ws_parser_config_t *cfg = deflate_cfg();
    buf_t s = BUF_INIT;
    /* compressed: the parser reports the flag and does not validate text (caller inflates) */
    wsh_frame_ex(&s, 0, 4, WS_OP_TEXT, 0x11223344, "\xff\x01", 2, 0, 1);
    wsh_frame(&s, 1, WS_OP_PING, "", 0);
    wsh_frame_ex(&s, 1, 0, WS_OP_CONT, 0x55667788, "\xfe", 1, 0, 1);
    wsh_frame_ex(&s, 1, 4, WS_OP_BINARY, 0x55667788, "zz", 2, 0, 1);
    CHECK(expect(cfg, &s, "PING:|TZ:\xff\x01\xfe|BZ:zz"));
    buf_free(&s);

    /* RSV1 on a continuation */
    s = BUF_INIT;
    wsh_frame_ex(&s, 0, 4, WS_OP_TEXT, 0x11223344, "ab", 2, 0, 1);
    size_t at = s.len;
    wsh_frame_ex(&s, 1, 4, WS_OP_CONT, 0x11223344, "cd", 2, 0, 1);
    CHECK(expect_error(cfg, &s, "", 1002, (long)at));
    buf_free(&s);

    /* RSV1 on a control frame, RSV2 and RSV3 even with deflate */
    int bad[][2] = {
        {4, WS_OP_PING}, {4, WS_OP_CLOSE}, {2, WS_OP_TEXT}, {1, WS_OP_BINARY}, {6, WS_OP_TEXT}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = BUF_INIT;
        wsh_frame_ex(&s, 1, bad[i][0], bad[i][1], 0x1, "", 0, 0, 1);
        CHECK(expect_error(cfg, &s, "", 1002, 0));
        buf_free(&s);
    }
}

TEST(unknown_opcodes_are_1002)
{
    int ops[] = {3, 4, 5, 6, 7, 11, 12, 13, 14, 15};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        for (int fin = 0; fin <= 1; fin++) {
            buf_t s = BUF_INIT;
            wsh_frame(&s, 1, WS_OP_PING, "a", 1);
            size_t at = s.len;
            wsh_frame(&s, fin, ops[i], "x", 1);
            CHECK(expect_error(NULL, &s, "PING:a", 1002, (long)at));
            buf_free(&s);
        }
    }
}

TEST(oversized_or_fragmented_control_frames_are_1002)
{
    char big[200];
    memset(big, 'p', sizeof big);
    int ops[] = {WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE};
    for (size_t i = 0; i < 3; i++) {
        buf_t s = BUF_INIT;
        /* 125 is fine for ping/pong */
        if (ops[i] != WS_OP_CLOSE) {
            wsh_frame(&s, 1, ops[i], big, 125);
            buf_t want = BUF_INIT;
            wsh_log_bytes(&want, ops[i] == WS_OP_PING ? "PING" : "PONG", big, 125);
            buf_cstr(&want);
            CHECK(expect(NULL, &s, want.base));
            buf_free(&want);
            s.len = 0;
        }
        wsh_frame(&s, 1, ops[i], big, 126); /* length 126 in the 16-bit form */
        CHECK(expect_error(NULL, &s, "", 1002, 1));
        s.len = 0;
        wsh_frame_ex(&s, 1, 0, ops[i], 7, big, 5, 8, 1); /* 64-bit form, even if small */
        CHECK(expect_error(NULL, &s, "", 1002, 1));
        s.len = 0;
        wsh_frame(&s, 0, ops[i], "ab", 2);
        CHECK(expect_error(NULL, &s, "", 1002, 0));
        buf_free(&s);
    }
}

TEST(continuation_without_start_is_1002)
{
    buf_t s = BUF_INIT;
    wsh_frame(&s, 1, WS_OP_CONT, "x", 1);
    CHECK(expect_error(NULL, &s, "", 1002, 0));
    s.len = 0;
    WSH_TEXT(&s, "done");
    size_t at = s.len;
    wsh_frame(&s, 0, WS_OP_CONT, "x", 1);
    CHECK(expect_error(NULL, &s, "T:done", 1002, (long)at));
    buf_free(&s);
}

TEST(new_data_frame_inside_fragmented_message_is_1002)
{
    for (int op = WS_OP_TEXT; op <= WS_OP_BINARY; op++) {
        buf_t s = BUF_INIT;
        wsh_frame(&s, 0, WS_OP_TEXT, "frag", 4);
        wsh_frame(&s, 1, WS_OP_PING, "", 0);
        size_t at = s.len;
        wsh_frame(&s, 1, op, "new", 3);
        CHECK(expect_error(NULL, &s, "PING:", 1002, (long)at));
        buf_free(&s);
    }
}

TEST(length_with_top_bit_set_is_1002_at_third_byte)
{
    buf_t s = BUF_INIT;
    uint8_t h[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    buf_append(&s, h, sizeof h);
    CHECK(expect_error(NULL, &s, "", 1002, 2));
    buf_free(&s);
}

TEST(close_payload_of_one_byte_is_1002)
{
    buf_t s = BUF_INIT;
    wsh_frame(&s, 1, WS_OP_CLOSE, "\x03", 1);
    CHECK(expect_error(NULL, &s, "", 1002, (long)s.len - 1));
    buf_free(&s);
}

TEST(every_close_code_is_classified)
{
    int wrong = 0;
    for (unsigned code = 0; code < 70000; code += (code < 5200 ? 1 : 97)) {
        unsigned c16 = code & 0xFFFF;
        bool valid = (c16 >= 1000 && c16 <= 1003) || (c16 >= 1007 && c16 <= 1011) ||
                     (c16 >= 3000 && c16 <= 4999);
        if (ws_close_code_valid(c16) != valid) wrong++;
        uint8_t pl[2] = {(uint8_t)(c16 >> 8), (uint8_t)c16};
        buf_t s = BUF_INIT;
        wsh_frame(&s, 1, WS_OP_CLOSE, pl, 2);
        wsh_run_t r;
        wsh_run_step(NULL, s.base, s.len, 0, &r);
        buf_cstr(&r.log);
        char want[64];
        if (valid)
            snprintf(want, sizeof want, "CLOSE:%u:", c16);
        else
            snprintf(want, sizeof want, "ERR:1002");
        if (strcmp(r.log.base, want) != 0) wrong++;
        wsh_run_free(&r);
        buf_free(&s);
    }
    CHECK_EQ_INT(wrong, 0);
    /* the classes named in the issue */
    unsigned invalid[] = {0,    1,    999,  1004, 1005, 1006, 1012, 1013,
                          1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        CHECK(!ws_close_code_valid(invalid[i]));
    unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                        1010, 1011, 3000, 3999, 4000, 4999};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        CHECK(ws_close_code_valid(valid[i]));
}

TEST(invalid_close_code_split_every_way)
{
    buf_t s = BUF_INIT;
    wsh_frame(&s, 1, WS_OP_CLOSE,
              "\x03\xed"
              "reason",
              8); /* 1005 */
    CHECK(expect_error(NULL, &s, "", 1002, (long)s.len - 1));
    buf_free(&s);
}

TEST(close_reason_must_be_utf8_1007)
{
    buf_t s = BUF_INIT;
    /* Autobahn 7.5.1: kosme + a surrogate */
    const char r[] = "\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64";
    wsh_frame(&s, 1, WS_OP_CLOSE, r, sizeof r - 1);
    CHECK(expect_error(NULL, &s, "", 1007, (long)s.len - 1));
    s.len = 0;
    wsh_frame(&s, 1, WS_OP_CLOSE, "\x03\xe8\xe2\x82", 4); /* truncated */
    CHECK(expect_error(NULL, &s, "", 1007, (long)s.len - 1));
    s.len = 0;
    wsh_frame(&s, 1, WS_OP_CLOSE, "\x03\xe8\xe2\x82\xac", 5);
    CHECK(expect(NULL, &s, "CLOSE:1000:\xe2\x82\xac"));
    buf_free(&s);
}

TEST(message_size_cap_is_1009_at_the_header)
{
    ws_parser_config_t cfg = {1000, 0, false};
    char d[1001];
    memset(d, 'x', sizeof d);
    buf_t s = BUF_INIT, want = BUF_INIT;
    wsh_frame(&s, 1, WS_OP_BINARY, d, 1000);
    wsh_log_bytes(&want, "B", d, 1000);
    buf_cstr(&want);
    CHECK(expect(&cfg, &s, want.base)); /* exactly the cap is fine */
    s.len = 0;
    wsh_frame(&s, 1, WS_OP_BINARY, d, 1001);
    CHECK(expect_error(&cfg, &s, "", 1009, 3)); /* known once the 16-bit length is read */
    /* cumulative over fragments, including across an interleaved ping */
    s.len = 0;
    wsh_frame(&s, 0, WS_OP_TEXT, d, 600);
    wsh_frame(&s, 1, WS_OP_PING, "", 0);
    size_t at = s.len;
    wsh_frame(&s, 1, WS_OP_CONT, d, 401);
    CHECK(expect_error(&cfg, &s, "PING:", 1009, (long)at + 3));
    /* a huge 64-bit length is refused before any payload */
    s.len = 0;
    uint8_t h[] = {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4};
    buf_append(&s, h, sizeof h);
    CHECK(expect_error(&cfg, &s, "", 1009, 9));
    /* the default cap is 1 MiB */
    s.len = 0;
    uint8_t h2[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 0x10, 0, 1, 1, 2, 3, 4};
    buf_append(&s, h2, sizeof h2);
    CHECK(expect_error(NULL, &s, "", 1009, 9));
    buf_free(&s);
    buf_free(&want);
}

TEST(fragment_count_cap_is_1009)
{
    ws_parser_config_t cfg = {0, 10, false};
    buf_t s = BUF_INIT;
    for (int i = 0; i < 9; i++) wsh_frame(&s, 0, i ? WS_OP_CONT : WS_OP_TEXT, "a", 1);
    buf_t ok = BUF_INIT;
    buf_append(&ok, s.base, s.len);
    wsh_frame(&ok, 1, WS_OP_CONT, "", 0);
    CHECK(expect(&cfg, &ok, "T:aaaaaaaaa")); /* 10 frames: at the cap */
    wsh_frame(&s, 0, WS_OP_CONT, "", 0);
    size_t at = s.len;
    wsh_frame(&s, 1, WS_OP_CONT, "", 0);
    CHECK(expect_error(&cfg, &s, "", 1009, (long)at));
    /* the count restarts with each message */
    buf_t two = BUF_INIT;
    buf_append(&two, ok.base, ok.len);
    buf_append(&two, ok.base, ok.len);
    CHECK(expect(&cfg, &two, "T:aaaaaaaaa|T:aaaaaaaaa"));
    buf_free(&s);
    buf_free(&ok);
    buf_free(&two);
}

/* ---- UTF-8 in text messages --------------------------------------------------------------- */

struct bad_utf8 {
    const char *seq;
    size_t len;
    size_t bad; /* offset of the first invalid byte in seq; == len for a truncated tail */
};

#define B(lit, at)                                                                                 \
    {                                                                                              \
        lit, sizeof(lit) - 1, at                                                                   \
    }
static const struct bad_utf8 bad_utf8[] = {
    B("\xc0\xaf", 0),
    B("\xc1\xbf", 0),
    B("\xe0\x80\xaf", 1),
    B("\xe0\x9f\xbf", 1),
    B("\xf0\x80\x80\xaf", 1),
    B("\xf0\x8f\xbf\xbf", 1),
    B("\xed\xa0\x80", 1),
    B("\xed\xbf\xbf", 1),
    B("\xf4\x90\x80\x80", 1),
    B("\xf5\x80\x80\x80", 0),
    B("\xff", 0),
    B("\x80", 0),
    B("\xbf\x80", 0),
    B("\xc2\x41", 1),
    B("\xe2\x82\x41", 2),
    B("\xe2\x82", 2),
    B("\xf0\x9f\x98", 3),
    B("\xc3", 1),
};
#undef B

/* Put "ab" + seq + "cd" in a text message (the trailing "cd" only when the sequence fails
 * before its end), split into frames at payload offsets cut1 and cut2 (0 for none), and check
 * the error fires exactly when the bad byte arrives. */
static int check_bad_utf8(const struct bad_utf8 *b, size_t cut1, size_t cut2)
{
    char payload[64];
    size_t n = 0;
    memcpy(payload, "ab", 2), n = 2;
    memcpy(payload + n, b->seq, b->len), n += b->len;
    bool truncated = b->bad == b->len;
    if (!truncated) memcpy(payload + n, "cd", 2), n += 2;
    size_t cuts[3] = {0}, nc = 0;
    if (cut1 > 0 && cut1 < n) cuts[nc++] = cut1;
    if (cut2 > cut1 && cut2 < n) cuts[nc++] = cut2;
    cuts[nc] = n;
    buf_t s = BUF_INIT;
    wsh_frame(&s, 1, WS_OP_PING, "x", 1);
    long bad_stream = -1;
    size_t start = 0;
    for (size_t i = 0; i <= nc; i++) {
        wsh_frame(&s, i == nc, i ? WS_OP_CONT : WS_OP_TEXT, payload + start, cuts[i] - start);
        size_t plen = cuts[i] - start;
        size_t bad_payload = 2 + b->bad; /* in the whole payload */
        if (!truncated && bad_payload >= start && bad_payload < cuts[i])
            bad_stream = (long)(s.len - plen + (bad_payload - start));
        if (i == nc && truncated) bad_stream = (long)s.len - 1; /* the message's last byte */
        start = cuts[i];
    }
    int ok = expect_error(NULL, &s, "PING:x", 1007, bad_stream);
    if (!ok) fprintf(stderr, "    sequence %zu bytes, cuts %zu %zu\n", b->len, cut1, cut2);
    buf_free(&s);
    return ok;
}

TEST(invalid_utf8_fails_at_the_bad_byte_whole_and_across_fragments)
{
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        const struct bad_utf8 *b = &bad_utf8[i];
        size_t n = 2 + b->len + 2;
        CHECK(check_bad_utf8(b, 0, 0));
        for (size_t c1 = 1; c1 < n; c1++) {
            CHECK(check_bad_utf8(b, c1, 0));
            for (size_t c2 = c1 + 1; c2 < n; c2++) CHECK(check_bad_utf8(b, c1, c2));
        }
    }
}

TEST(valid_utf8_split_across_fragments_and_reads)
{
    const char text[] =
        "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80 \xef\xbf\xbe";
    size_t n = sizeof text - 1;
    for (size_t c1 = 0; c1 <= n; c1++) {
        for (size_t c2 = c1; c2 <= n; c2++) {
            buf_t s = BUF_INIT;
            wsh_frame(&s, 0, WS_OP_TEXT, text, c1);
            wsh_frame(&s, 0, WS_OP_CONT, text + c1, c2 - c1);
            wsh_frame(&s, 1, WS_OP_PING, "", 0);
            wsh_frame(&s, 1, WS_OP_CONT, text + c2, n - c2);
            char want[128];
            snprintf(want, sizeof want, "PING:|T:%s", text);
            wsh_run_t r;
            wsh_run_step(NULL, s.base, s.len, 1, &r);
            buf_cstr(&r.log);
            CHECK_EQ_STR(r.log.base, want);
            wsh_run_free(&r);
            wsh_run_step(NULL, s.base, s.len, 0, &r);
            buf_cstr(&r.log);
            CHECK_EQ_STR(r.log.base, want);
            wsh_run_free(&r);
            buf_free(&s);
        }
    }
}

TEST(binary_messages_are_not_utf8_checked)
{
    buf_t s = BUF_INIT;
    wsh_frame(&s, 0, WS_OP_BINARY, "\xff\xfe", 2);
    wsh_frame(&s, 1, WS_OP_CONT, "\xc0", 1);
    CHECK(expect(NULL, &s, "B:\xff\xfe\xc0"));
    buf_free(&s);
}

TEST(utf8_state_resets_between_messages)
{
    buf_t s = BUF_INIT;
    WSH_TEXT(&s, "ok");
    wsh_frame(&s, 1, WS_OP_BINARY, "\xe2", 1); /* binary: ignored */
    WSH_TEXT(&s, "\x82\xac");                  /* would complete \xe2 if state leaked */
    CHECK(expect_error(NULL, &s, "T:ok|B:\xe2", 1007, (long)s.len - 2));
    buf_free(&s);
}

/* ---- after an error ------------------------------------------------------------------------- */

TEST(after_error_input_is_swallowed)
{
    ws_parser_t p;
    ws_parser_init(&p, NULL);
    char bad[] = "\x83\x80\0\0\0\0";
    ws_event_t ev;
    CHECK_EQ_INT(ws_parser_feed(&p, bad, 6, &ev), 0);
    CHECK_EQ_INT(ev.type, WS_EV_ERROR);
    CHECK_EQ_INT(ev.code, 1002);
    CHECK(ev.reason != NULL);
    char more[] = "\x81\x80\0\0\0\0";
    CHECK_EQ_INT(ws_parser_feed(&p, more, 6, &ev), 6);
    CHECK_EQ_INT(ev.type, WS_EV_NONE);
    CHECK_EQ_INT(ws_parser_feed(&p, more, 0, &ev), 0);
    CHECK_EQ_INT(ev.type, WS_EV_NONE);
}

/* ---- encoder ------------------------------------------------------------------------------- */

TEST(frame_header_encodings)
{
    uint8_t h[WS_MAX_SERVER_HEADER];
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_TEXT, 1, 0, 0), 2);
    CHECK(h[0] == 0x81 && h[1] == 0);
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_BINARY, 0, 1, 125), 2);
    CHECK(h[0] == 0x42 && h[1] == 125);
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_TEXT, 1, 0, 126), 4);
    CHECK(h[1] == 126 && h[2] == 0 && h[3] == 126);
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_TEXT, 1, 0, 65535), 4);
    CHECK(h[2] == 0xFF && h[3] == 0xFF);
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_CONT, 1, 0, 65536), 10);
    CHECK(h[0] == 0x80 && h[1] == 127);
    CHECK(h[2] == 0 && h[3] == 0 && h[4] == 0 && h[5] == 0 && h[6] == 0 && h[7] == 1 && h[8] == 0 &&
          h[9] == 0);
    CHECK_EQ_INT(ws_frame_header(h, WS_OP_BINARY, 1, 0, 0x0102030405060708ull), 10);
    CHECK(h[2] == 1 && h[9] == 8);
}

/* Turn a server frame into the equivalent client frame (add a mask) and parse it back. */
static void mask_server_frame(const char *in, size_t n, buf_t *out)
{
    const uint8_t *h = (const uint8_t *)in;
    size_t hl = (h[1] & 0x7F) == 126 ? 4 : (h[1] & 0x7F) == 127 ? 10 : 2;
    size_t plen = n - hl;
    int fin = h[0] >> 7, rsv = (h[0] >> 4) & 7, op = h[0] & 0xF;
    wsh_frame_ex(out, fin, rsv, op, 0xdeadbeef, in + hl, plen, 0, 1);
}

TEST(encoder_round_trips_through_parser)
{
    size_t lens[] = {0, 1, 125, 126, 65535, 65536, 200000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        char *d = malloc(n + 1);
        fill_text(d, n, 9);
        buf_t out = BUF_INIT, client = BUF_INIT, want = BUF_INIT;
        CHECK_EQ_INT(ws_frame_append(&out, WS_OP_TEXT, 1, 0, d, n), 0);
        CHECK_EQ_INT(out.len, n + (n < 126 ? 2 : n < 65536 ? 4 : 10));
        mask_server_frame(out.base, out.len, &client);
        wsh_log_bytes(&want, "T", d, n);
        buf_cstr(&want);
        CHECK(expect_ex(NULL, &client, want.base, -1, 0));
        buf_free(&out), buf_free(&client), buf_free(&want);
        free(d);
    }
}

TEST(frame_append_refuses_bad_control_frames)
{
    buf_t out = BUF_INIT;
    char big[126] = {0};
    CHECK_EQ_INT(ws_frame_append(&out, WS_OP_PING, 1, 0, big, 126), RS_EINVAL);
    CHECK_EQ_INT(ws_frame_append(&out, WS_OP_PONG, 0, 0, big, 1), RS_EINVAL);
    CHECK_EQ_INT(out.len, 0);
    CHECK_EQ_INT(ws_frame_append(&out, WS_OP_PONG, 1, 0, big, 125), 0);
    CHECK_EQ_INT(out.len, 127);
    buf_free(&out);
}

TEST(close_frame_encoding)
{
    uint8_t f[WS_CLOSE_FRAME_MAX];
    size_t n = ws_frame_close(f, 1000, "bye", 3);
    CHECK_EQ_INT(n, 7);
    CHECK(memcmp(f,
                 "\x88\x05\x03\xe8"
                 "bye",
                 7) == 0);
    n = ws_frame_close(f, WS_CLOSE_NO_STATUS, "ignored", 7);
    CHECK_EQ_INT(n, 2);
    CHECK(f[0] == 0x88 && f[1] == 0);
    n = ws_frame_close(f, 0, NULL, 0);
    CHECK_EQ_INT(n, 2);
    n = ws_frame_close(f, 1002, NULL, 0);
    CHECK_EQ_INT(n, 4);
    CHECK(f[1] == 2 && f[2] == 0x03 && f[3] == 0xea);
    /* a long reason is cut to 123 bytes, never inside a character */
    char reason[200];
    memset(reason, 'r', sizeof reason);
    n = ws_frame_close(f, 1001, reason, sizeof reason);
    CHECK_EQ_INT(n, 127);
    CHECK_EQ_INT(f[1], 125);
    for (size_t i = 0; i < 200; i += 3)
        memcpy(reason + i, "\xe2\x82\xac", i + 3 <= 200 ? 3 : 200 - i);
    n = ws_frame_close(f, 1001, reason, 198);
    CHECK_EQ_INT(n, 2 + 2 + 123);                 /* 123 is a multiple of 3 */
    n = ws_frame_close(f, 1001, reason + 1, 197); /* starts mid-character: cut still bounded */
    CHECK(n - 4 <= 123);
    n = ws_frame_close(f, 1001, reason, 199);
    CHECK(utf8_valid((const char *)f + 4, n - 4));
    CHECK_EQ_INT(n, 127);
    /* what we send parses back */
    buf_t c = BUF_INIT;
    n = ws_frame_close(f, 4001, "\xe2\x82\xac", 3);
    mask_server_frame((const char *)f, n, &c);
    CHECK(expect(NULL, &c, "CLOSE:4001:\xe2\x82\xac"));
    buf_free(&c);
}

TEST(prepared_frame_is_shared)
{
    const char msg[] = "broadcast payload";
    rbuf_t *r = ws_frame_prepare(WS_OP_TEXT, 0, msg, sizeof msg - 1);
    REQUIRE(r != NULL);
    CHECK_EQ_INT(r->len, 2 + sizeof msg - 1);
    CHECK(memcmp(r->data,
                 "\x81\x11"
                 "broadcast payload",
                 r->len) == 0);
    CHECK_EQ_INT(r->refs, 1);
    rbuf_t *r2 = rbuf_ref(r);
    CHECK(r2 == r);
    CHECK_EQ_INT(r->refs, 2);
    rbuf_unref(r);
    rbuf_unref(r2);
    CHECK(ws_frame_prepare(WS_OP_PING, 0, msg, 200) == NULL);
    rbuf_t *z = ws_frame_prepare(WS_OP_BINARY, 1, "", 0);
    REQUIRE(z != NULL);
    CHECK(z->len == 2 && (uint8_t)z->data[0] == 0xC2 && z->data[1] == 0);
    rbuf_unref(z);
}

TEST(parser_struct_is_small)
{
    CHECK(sizeof(ws_parser_t) <= 32);
}
