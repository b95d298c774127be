#include "test.h"
#include "util/err.h"
#include "ws/handshake.h"

/* A minimal request-head reader for tests (the real parser is the HTTP layer's): request line,
 * then "Name: value" lines, CRLF-separated, spans pointing into text. */
static void req_parse(const char *text, http_request_head_t *h)
{
    memset(h, 0, sizeof *h);
    span_t rest = span_cstr(text), line;
    const char *eol = strstr(rest.base, "\r\n");
    line = span_make(rest.base, (size_t)(eol - rest.base));
    rest = span_make(eol + 2, rest.len - line.len - 2);
    span_t m, t, v;
    span_t after = span_split(line, ' ', &m);
    span_t ver = span_split(after, ' ', &t);
    v = ver;
    h->method = m;
    h->target = t;
    h->path = t;
    h->minor_version = span_eq_cstr(v, "HTTP/1.0") ? 0 : 1;
    while (rest.len > 2) {
        eol = strstr(rest.base, "\r\n");
        line = span_make(rest.base, (size_t)(eol - rest.base));
        rest = span_make(eol + 2, rest.len - line.len - 2);
        span_t name, value = span_split(line, ':', &name);
        h->headers[h->num_headers].name = name;
        h->headers[h->num_headers].value = span_trim(value);
        h->num_headers++;
    }
}

#define BASE_HEAD                                                                                  \
    "GET /chat HTTP/1.1\r\n"                                                                       \
    "Host: server.example.com\r\n"                                                                 \
    "Upgrade: websocket\r\n"                                                                       \
    "Connection: Upgrade\r\n"                                                                      \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                                              \
    "Sec-WebSocket-Version: 13\r\n"

static int check(const char *text, const ws_handshake_config_t *cfg, ws_handshake_t *hs)
{
    http_request_head_t h;
    req_parse(text, &h);
    return ws_handshake_check(&h, cfg, hs);
}

static int status_of(const char *text)
{
    ws_handshake_t hs;
    int rc = check(text, NULL, &hs);
    if (rc == 0 && hs.status != 101) return -1;
    if (rc != 0 && (rc != RS_EPROTO || !hs.error)) return -2;
    return hs.status;
}

TEST(rfc6455_example_accept_key)
{
    char acc[WS_ACCEPT_LEN + 1];
    CHECK_EQ_INT(ws_handshake_accept_key(SPAN_LIT("dGhlIHNhbXBsZSBub25jZQ=="), acc), 0);
    CHECK_EQ_STR(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(rfc6455_example_full_response)
{
    ws_handshake_t hs;
    CHECK_EQ_INT(check(BASE_HEAD "Origin: http://example.com\r\n"
                                 "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n",
                       NULL, &hs),
                 0);
    CHECK_EQ_INT(hs.status, 101);
    CHECK_EQ_STR(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(hs.subprotocol.base == NULL);
    CHECK(!hs.deflate.enabled);
    buf_t out = BUF_INIT;
    CHECK_EQ_INT(ws_handshake_write_response(&out, &hs, SPAN_NULL), 0);
    buf_cstr(&out);
    CHECK_EQ_STR(out.base, "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                           "\r\n");
    buf_free(&out);
}

TEST(tokens_are_case_insensitive_lists)
{
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\n"
                           "Connection: keep-alive, UPGRADE\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"),
                 101);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nhost: h\r\nupgrade: foo/1, websocket\r\n"
                           "connection: keep-alive\r\nCONNECTION: upgrade\r\n"
                           "sec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==  \r\n"
                           "SEC-WEBSOCKET-VERSION: 13\r\n\r\n"),
                 101);
}

TEST(bad_requests_are_400)
{
    const char *bad[] = {
        "POST /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "get /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgradex\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = status_of(bad[i]);
        if (st != 400) fprintf(stderr, "    case %zu gave %d\n", i, st);
        CHECK_EQ_INT(st, 400);
    }
}

#define HEAD_NO_KEY                                                                                \
    "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"               \
    "Sec-WebSocket-Version: 13\r\n"

TEST(bad_keys_are_400)
{
    const char *keys[] = {
        "",
        "Sec-WebSocket-Key: \r\n",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n",     /* no padding */
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n",    /* bad padding */
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZUE=\r\n",   /* 17 bytes */
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n",       /* 15 bytes */
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==AA\r\n", /* trailing junk */
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub2!jZQ==\r\n",   /* bad character */
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",     /* repeated */
        "Sec-WebSocket-Key: ZGhlIHNhbXBsZSBub25jZWVlZWU=\r\n", /* 20 bytes */
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, HEAD_NO_KEY "%s\r\n", keys[i]);
        int st = status_of(req);
        if (st != 400) fprintf(stderr, "    key case %zu gave %d\n", i, st);
        CHECK_EQ_INT(st, 400);
    }
    char ok[512];
    snprintf(ok, sizeof ok, HEAD_NO_KEY "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n");
    CHECK_EQ_INT(status_of(ok), 101);
}

#define HEAD_NO_VERSION                                                                            \
    "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"               \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

TEST(wrong_version_is_426_with_version_header)
{
    const char *vers[] = {"",
                          "Sec-WebSocket-Version: 8\r\n",
                          "Sec-WebSocket-Version: 13, 8\r\n",
                          "Sec-WebSocket-Version: 013\r\n",
                          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n",
                          "Sec-WebSocket-Version: \r\n"};
    for (size_t i = 0; i < sizeof vers / sizeof vers[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, HEAD_NO_VERSION "%s\r\n", vers[i]);
        CHECK_EQ_INT(status_of(req), 426);
    }
    buf_t out = BUF_INIT;
    CHECK_EQ_INT(ws_handshake_write_error(&out, 426, NULL), 0);
    buf_cstr(&out);
    CHECK(strncmp(out.base, "HTTP/1.1 426 Upgrade Required\r\n", 31) == 0);
    CHECK(strstr(out.base, "\r\nSec-WebSocket-Version: 13\r\n") != NULL);
    CHECK(strstr(out.base, "\r\nUpgrade: websocket\r\n") != NULL);
    CHECK(strstr(out.base, "\r\nContent-Length: 17\r\n") != NULL); /* "Upgrade Required\n" */
    CHECK(strstr(out.base, "\r\n\r\nUpgrade Required\n") != NULL);
    buf_free(&out);
}

TEST(error_response_is_complete)
{
    buf_t out = BUF_INIT;
    CHECK_EQ_INT(ws_handshake_write_error(&out, 400, "bad Sec-WebSocket-Key"), 0);
    buf_cstr(&out);
    CHECK_EQ_STR(out.base, "HTTP/1.1 400 Bad Request\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n"
                           "Content-Length: 22\r\n"
                           "Connection: close\r\n"
                           "\r\n"
                           "bad Sec-WebSocket-Key\n");
    CHECK(strstr(out.base, "Sec-WebSocket-Version") == NULL);
    buf_free(&out);
}

TEST(origin_allowlist)
{
    const char *origins[] = {"https://app.example.com", "http://localhost:3000"};
    ws_handshake_config_t cfg = {.origins = origins, .n_origins = 2};
    ws_handshake_t hs;
    CHECK_EQ_INT(check(BASE_HEAD "Origin: https://app.example.com\r\n\r\n", &cfg, &hs), 0);
    CHECK_EQ_INT(check(BASE_HEAD "Origin: HTTPS://APP.example.com\r\n\r\n", &cfg, &hs), 0);
    CHECK_EQ_INT(check(BASE_HEAD "Origin: http://localhost:3000\r\n\r\n", &cfg, &hs), 0);
    CHECK_EQ_INT(check(BASE_HEAD "\r\n", &cfg, &hs), 0); /* no Origin: not a browser */
    CHECK_EQ_INT(check(BASE_HEAD "Origin: https://evil.example\r\n\r\n", &cfg, &hs), RS_EPROTO);
    CHECK_EQ_INT(hs.status, 403);
    CHECK_EQ_INT(check(BASE_HEAD "Origin: https://app.example.com.evil\r\n\r\n", &cfg, &hs),
                 RS_EPROTO);
    CHECK_EQ_INT(check(BASE_HEAD "Origin: null\r\n\r\n", &cfg, &hs), RS_EPROTO);
    CHECK_EQ_INT(check(BASE_HEAD "Origin: https://app.example.com\r\nOrigin: https://evil\r\n\r\n",
                       &cfg, &hs),
                 RS_EPROTO);
    /* without an allowlist, any origin */
    CHECK_EQ_INT(check(BASE_HEAD "Origin: https://evil.example\r\n\r\n", NULL, &hs), 0);
}

TEST(subprotocol_selection_follows_client_order)
{
    const char *mine[] = {"superchat", "chat"};
    ws_handshake_config_t cfg = {.subprotocols = mine, .n_subprotocols = 2};
    ws_handshake_t hs;
    CHECK_EQ_INT(check(BASE_HEAD "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n", &cfg, &hs), 0);
    CHECK(span_eq_cstr(hs.subprotocol, "chat"));
    buf_t out = BUF_INIT;
    CHECK_EQ_INT(ws_handshake_write_response(&out, &hs, SPAN_LIT("Set-Cookie: a=b\r\n")), 0);
    buf_cstr(&out);
    CHECK(strstr(out.base, "\r\nSec-WebSocket-Protocol: chat\r\nSet-Cookie: a=b\r\n\r\n") != NULL);
    buf_free(&out);
    CHECK_EQ_INT(check(BASE_HEAD "Sec-WebSocket-Protocol: v1\r\n"
                                 "Sec-WebSocket-Protocol:  , superchat ,chat\r\n\r\n",
                       &cfg, &hs),
                 0);
    CHECK(span_eq_cstr(hs.subprotocol, "superchat"));
    CHECK_EQ_INT(check(BASE_HEAD "Sec-WebSocket-Protocol: Chat, mqtt\r\n\r\n", &cfg, &hs), 0);
    CHECK(hs.subprotocol.base == NULL); /* case-sensitive, and no match is not an error */
    out = BUF_INIT;
    ws_handshake_write_response(&out, &hs, SPAN_NULL);
    buf_cstr(&out);
    CHECK(strstr(out.base, "Sec-WebSocket-Protocol") == NULL);
    buf_free(&out);
}

/* ---- permessage-deflate negotiation ---------------------------------------------------- */

static ws_handshake_t negotiate(const char *ext_lines, ws_handshake_config_t cfg)
{
    static char req[2048];
    snprintf(req, sizeof req, BASE_HEAD "%s\r\n", ext_lines);
    ws_handshake_t hs;
    cfg.deflate = true;
    int rc = check(req, &cfg, &hs);
    if (rc != 0) hs.status = -1;
    return hs;
}

#define EXT(v) "Sec-WebSocket-Extensions: " v "\r\n"
static const ws_handshake_config_t plain = {.deflate = true};

TEST(deflate_basic_offers)
{
    ws_handshake_t hs = negotiate(EXT("permessage-deflate"), plain);
    CHECK(hs.deflate.enabled);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate");
    CHECK_EQ_INT(hs.deflate.server_max_window_bits, 15);
    CHECK_EQ_INT(hs.deflate.client_max_window_bits, 15);
    CHECK(!hs.deflate.server_no_context_takeover && !hs.deflate.client_no_context_takeover);
    buf_t out = BUF_INIT;
    ws_handshake_write_response(&out, &hs, SPAN_NULL);
    buf_cstr(&out);
    CHECK(strstr(out.base, "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n") != NULL);
    buf_free(&out);

    /* Chromium's offer */
    hs = negotiate(EXT("permessage-deflate; client_max_window_bits"), plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate");
    CHECK_EQ_INT(hs.deflate.client_max_window_bits, 15);

    /* not enabled in the config: ignored */
    ws_handshake_t off;
    char req[512];
    snprintf(req, sizeof req, BASE_HEAD EXT("permessage-deflate") "\r\n");
    CHECK_EQ_INT(check(req, NULL, &off), 0);
    CHECK(!off.deflate.enabled);
    CHECK_EQ_STR(off.extensions, "");
    out = BUF_INIT;
    ws_handshake_write_response(&out, &off, SPAN_NULL);
    buf_cstr(&out);
    CHECK(strstr(out.base, "Extensions") == NULL);
    buf_free(&out);
}

TEST(deflate_parameters_rfc7692)
{
    ws_handshake_t hs;
    hs = negotiate(EXT("permessage-deflate; server_no_context_takeover; "
                       "client_no_context_takeover"),
                   plain);
    CHECK_EQ_STR(hs.extensions,
                 "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    CHECK(hs.deflate.server_no_context_takeover && hs.deflate.client_no_context_takeover);

    hs = negotiate(EXT("permessage-deflate; server_max_window_bits=10"), plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; server_max_window_bits=10");
    CHECK_EQ_INT(hs.deflate.server_max_window_bits, 10);

    hs = negotiate(EXT("permessage-deflate; server_max_window_bits=15"), plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; server_max_window_bits=15");

    /* 8 is answered as asked (compressed with 9 underneath: see deflate.c) */
    hs = negotiate(EXT("permessage-deflate; server_max_window_bits=8"), plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; server_max_window_bits=8");
    CHECK_EQ_INT(hs.deflate.server_max_window_bits, 8);

    hs = negotiate(EXT("permessage-deflate; client_max_window_bits=10"), plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; client_max_window_bits=10");
    CHECK_EQ_INT(hs.deflate.client_max_window_bits, 10);

    /* quoted values are allowed when their content is a valid value */
    hs = negotiate(EXT("permessage-deflate; client_max_window_bits=\"9\""), plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; client_max_window_bits=9");

    /* the RFC 7692 section 5.2 example: the first offer is acceptable */
    hs = negotiate(EXT("permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
                       "permessage-deflate; client_max_window_bits"),
                   plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; server_max_window_bits=10");
    CHECK_EQ_INT(hs.deflate.server_max_window_bits, 10);

    /* Autobahn 13.7: three offers, the first acceptable */
    hs = negotiate(EXT("permessage-deflate; client_no_context_takeover; client_max_window_bits; "
                       "server_no_context_takeover; server_max_window_bits=8, "
                       "permessage-deflate; client_no_context_takeover; client_max_window_bits; "
                       "server_no_context_takeover, permessage-deflate; "
                       "client_no_context_takeover; client_max_window_bits"),
                   plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; server_no_context_takeover; "
                                "client_no_context_takeover; server_max_window_bits=8");
}

TEST(deflate_server_policy)
{
    ws_handshake_config_t cfg = {.deflate = true,
                                 .deflate_server_max_window_bits = 12,
                                 .deflate_client_max_window_bits = 11,
                                 .deflate_server_no_context_takeover = true};
    ws_handshake_t hs;
    /* our window is announced even unasked; the client limit only when the client allows it */
    hs = negotiate(EXT("permessage-deflate"), cfg);
    CHECK_EQ_STR(hs.extensions,
                 "permessage-deflate; server_no_context_takeover; server_max_window_bits=12");
    CHECK_EQ_INT(hs.deflate.client_max_window_bits, 15);
    hs = negotiate(EXT("permessage-deflate; client_max_window_bits"), cfg);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; server_no_context_takeover; "
                                "server_max_window_bits=12; client_max_window_bits=11");
    CHECK_EQ_INT(hs.deflate.client_max_window_bits, 11);
    /* the smaller of theirs and ours */
    hs = negotiate(EXT("permessage-deflate; server_max_window_bits=14; client_max_window_bits=9"),
                   cfg);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; server_no_context_takeover; "
                                "server_max_window_bits=12; client_max_window_bits=9");
    CHECK_EQ_INT(hs.deflate.server_max_window_bits, 12);
    CHECK_EQ_INT(hs.deflate.client_max_window_bits, 9);
    hs = negotiate(EXT("permessage-deflate; server_max_window_bits=10"), cfg);
    CHECK_EQ_INT(hs.deflate.server_max_window_bits, 10);
    /* asking the client not to take over context */
    ws_handshake_config_t c2 = {.deflate = true, .deflate_client_no_context_takeover = true};
    hs = negotiate(EXT("permessage-deflate"), c2);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; client_no_context_takeover");
    CHECK(hs.deflate.client_no_context_takeover);
}

TEST(deflate_invalid_offers_are_declined)
{
    const char *bad[] = {
        EXT("permessage-deflate; server_max_window_bits=7"),
        EXT("permessage-deflate; server_max_window_bits=16"),
        EXT("permessage-deflate; server_max_window_bits=010"),
        EXT("permessage-deflate; server_max_window_bits=0x0a"),
        EXT("permessage-deflate; server_max_window_bits"),
        EXT("permessage-deflate; server_max_window_bits="),
        EXT("permessage-deflate; client_max_window_bits=abc"),
        EXT("permessage-deflate; client_max_window_bits=1"),
        EXT("permessage-deflate; server_no_context_takeover=1"),
        EXT("permessage-deflate; client_no_context_takeover=\"\""),
        EXT("permessage-deflate; unknown_param"),
        EXT("permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
        EXT("permessage-deflate; client_max_window_bits; client_max_window_bits=10"),
        EXT("permessage-deflate; client_max_window_bits=\"1\\0\""),
        EXT("permessage-deflate; =5"),
        EXT("permessage-deflate;;"),
        EXT("permessage-deflate junk"),
        EXT("permessage-deflate; client_max_window_bits=\"10"),
        EXT("x-webkit-deflate-frame"),
        EXT("permessage-deflatex"),
        EXT(""),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ws_handshake_t hs = negotiate(bad[i], plain);
        CHECK_EQ_INT(hs.status, 101); /* the handshake goes on, without the extension */
        if (hs.deflate.enabled) fprintf(stderr, "    accepted: %s", bad[i]);
        CHECK(!hs.deflate.enabled);
        CHECK_EQ_STR(hs.extensions, "");
    }
}

TEST(deflate_falls_back_to_a_later_offer)
{
    ws_handshake_t hs;
    hs = negotiate(EXT("permessage-deflate; server_max_window_bits=7, "
                       "permessage-deflate; client_max_window_bits=12"),
                   plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; client_max_window_bits=12");
    /* across header lines, after other extensions and malformed elements */
    hs = negotiate(EXT("x-webkit-deflate-frame; no_context_takeover, foo; bar=\"a,b;c\"")
                       EXT("permessage-deflate; bogus, ; , permessage-deflate; "
                           "server_no_context_takeover"),
                   plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; server_no_context_takeover");
    hs = negotiate(EXT("PerMessage-Deflate; Server_No_Context_Takeover"), plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate; server_no_context_takeover");
    /* the first acceptable offer wins, later ones are ignored */
    hs =
        negotiate(EXT("permessage-deflate, permessage-deflate; server_no_context_takeover"), plain);
    CHECK_EQ_STR(hs.extensions, "permessage-deflate");
}

TEST(requested_detects_websocket_upgrades)
{
    http_request_head_t h;
    req_parse("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", &h);
    CHECK(ws_handshake_requested(&h));
    req_parse("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n", &h);
    CHECK(!ws_handshake_requested(&h));
    req_parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &h);
    CHECK(!ws_handshake_requested(&h));
}

TEST(response_is_unchanged_on_enomem_free_path)
{
    /* write_response appends: an existing prefix is kept */
    ws_handshake_t hs;
    REQUIRE(check(BASE_HEAD "\r\n", NULL, &hs) == 0);
    buf_t out = BUF_INIT;
    buf_append_cstr(&out, "PREFIX");
    CHECK_EQ_INT(ws_handshake_write_response(&out, &hs, SPAN_NULL), 0);
    CHECK(strncmp(out.base, "PREFIXHTTP/1.1 101", 18) == 0);
    buf_free(&out);
}
