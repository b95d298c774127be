#include "ws/handshake.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "util/base64.h"
#include "util/err.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- small lexing helpers over header values ------------------------------------------- */

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

typedef struct cursor {
    const char *p, *end;
} cursor_t;

static void skip_ows(cursor_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) c->p++;
}

static bool at(cursor_t *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

static bool read_token(cursor_t *c, span_t *tok)
{
    const char *s = c->p;
    while (c->p < c->end && is_tchar((unsigned char)*c->p)) c->p++;
    *tok = span_make(s, (size_t)(c->p - s));
    return tok->len > 0;
}

/* A token or a quoted-string; for the latter *val is the content between the quotes, which is
 * only usable as-is when it has no backslash escapes (*escaped tells). */
static bool read_value(cursor_t *c, span_t *val, bool *escaped)
{
    *escaped = false;
    if (!at(c, '"')) return read_token(c, val);
    const char *s = ++c->p;
    while (c->p < c->end && *c->p != '"') {
        if (*c->p == '\\') {
            *escaped = true;
            if (++c->p == c->end) return false;
        }
        c->p++;
    }
    if (c->p == c->end) return false;
    *val = span_make(s, (size_t)(c->p - s));
    c->p++;
    return true;
}

/* Skip to just past the next top-level comma (respecting quoted strings), or to the end. */
static void skip_element(cursor_t *c)
{
    while (c->p < c->end && *c->p != ',') {
        if (*c->p == '"') {
            span_t v;
            bool e;
            if (!read_value(c, &v, &e)) {
                c->p = c->end;
                return;
            }
            continue;
        }
        c->p++;
    }
    if (c->p < c->end) c->p++;
}

/* Does any header named `name` carry `tok` in its comma-separated list? */
static bool any_header_has_token(const http_request_head_t *req, const char *name, const char *tok)
{
    for (size_t i = 0; i < req->num_headers; i++)
        if (span_ieq_cstr(req->headers[i].name, name) &&
            span_list_has_token(req->headers[i].value, tok))
            return true;
    return false;
}

/* The only header named `name`: returns 1 and *v, 0 when absent, 2 when repeated. */
static int single_header(const http_request_head_t *req, const char *name, span_t *v)
{
    int n = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        if (!span_ieq_cstr(req->headers[i].name, name)) continue;
        if (n++ == 0) *v = span_trim(req->headers[i].value);
    }
    return n > 2 ? 2 : n;
}

/* ---- permessage-deflate ---------------------------------------------------------------- */

/* A window size parameter value: 1*DIGIT without leading zeros, 8..15 (RFC 7692 7.1.2). */
static int window_bits(span_t v)
{
    if (v.len == 1 && v.base[0] == '8') return 8;
    if (v.len == 1 && v.base[0] == '9') return 9;
    if (v.len == 2 && v.base[0] == '1' && v.base[1] >= '0' && v.base[1] <= '5')
        return 10 + (v.base[1] - '0');
    return -1;
}

typedef struct pmd_offer {
    bool valid;
    bool snct, cnct; /* server_/client_no_context_takeover present */
    int smwb;        /* server_max_window_bits value, 0 absent */
    int cmwb;        /* client_max_window_bits: 0 absent, -1 present without value, else value */
    unsigned seen;   /* bit per parameter, to refuse repeats */
} pmd_offer_t;

static void pmd_param(pmd_offer_t *o, span_t name, bool has_value, span_t value, bool escaped)
{
    static const char *const names[] = {"server_no_context_takeover", "client_no_context_takeover",
                                        "server_max_window_bits", "client_max_window_bits"};
    int which = -1;
    for (int i = 0; i < 4; i++)
        if (span_ieq_cstr(name, names[i])) which = i;
    if (which < 0 || (o->seen & (1u << which)) || escaped) {
        o->valid = false; /* unknown or repeated parameter: decline this offer */
        return;
    }
    o->seen |= 1u << which;
    switch (which) {
    case 0:
    case 1:
        if (has_value) o->valid = false;
        if (which == 0)
            o->snct = true;
        else
            o->cnct = true;
        break;
    case 2:
        o->smwb = has_value ? window_bits(value) : -1;
        if (o->smwb < 0) o->valid = false;
        break;
    case 3:
        o->cmwb = has_value ? window_bits(value) : -1;
        if (has_value && o->cmwb < 0) o->valid = false;
        break;
    }
}

/* Turn an acceptable offer into our parameters and the response value. */
static void pmd_accept(const pmd_offer_t *o, const ws_handshake_config_t *cfg, ws_handshake_t *hs)
{
    ws_deflate_params_t *d = &hs->deflate;
    int ours = cfg->deflate_server_max_window_bits;
    if (ours == 0 || ours > 15) ours = 15;
    if (ours < 9) ours = 9; /* zlib's smallest raw deflate window: see deflate.c */
    int client_limit = cfg->deflate_client_max_window_bits;
    if (client_limit != 0 && client_limit < 8) client_limit = 8;
    if (client_limit > 15) client_limit = 0;

    d->enabled = true;
    d->server_no_context_takeover = o->snct || cfg->deflate_server_no_context_takeover;
    d->client_no_context_takeover = o->cnct || cfg->deflate_client_no_context_takeover;
    char *r = hs->extensions;
    size_t cap = sizeof hs->extensions, n = 0;
    n += (size_t)snprintf(r + n, cap - n, "permessage-deflate");
    if (d->server_no_context_takeover)
        n += (size_t)snprintf(r + n, cap - n, "; server_no_context_takeover");
    if (d->client_no_context_takeover)
        n += (size_t)snprintf(r + n, cap - n, "; client_no_context_takeover");

    /* server_max_window_bits: an offer's value must be answered with the same or less; without
     * an offer we may still announce a smaller window. The answer may be 8, which our zlib
     * compressor serves with 9 (see deflate.c). */
    int sbits = o->smwb > 0 && o->smwb < ours ? o->smwb : ours;
    d->server_max_window_bits = (uint8_t)sbits;
    if (o->smwb > 0 || sbits < 15)
        n += (size_t)snprintf(r + n, cap - n, "; server_max_window_bits=%d", sbits);

    /* client_max_window_bits may only appear in the answer when the client offered it. */
    int cbits = 15;
    if (o->cmwb > 0) cbits = o->cmwb;
    if (o->cmwb != 0 && client_limit > 0 && client_limit < cbits) cbits = client_limit;
    d->client_max_window_bits = (uint8_t)cbits;
    if (o->cmwb > 0 || (o->cmwb < 0 && cbits < 15))
        n += (size_t)snprintf(r + n, cap - n, "; client_max_window_bits=%d", cbits);
    (void)n;
}

/* Walk every Sec-WebSocket-Extensions header; accept the first good permessage-deflate offer. */
static void negotiate_deflate(const http_request_head_t *req, const ws_handshake_config_t *cfg,
                              ws_handshake_t *hs)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        if (!span_ieq_cstr(req->headers[i].name, "Sec-WebSocket-Extensions")) continue;
        cursor_t c = {req->headers[i].value.base,
                      req->headers[i].value.base + req->headers[i].value.len};
        while (c.p < c.end) {
            skip_ows(&c);
            if (at(&c, ',')) {
                c.p++;
                continue;
            }
            span_t name;
            if (!read_token(&c, &name)) {
                skip_element(&c); /* malformed element: skip it */
                continue;
            }
            bool is_pmd = span_ieq_cstr(name, "permessage-deflate");
            pmd_offer_t o = {.valid = true};
            bool well_formed = true;
            for (;;) {
                skip_ows(&c);
                if (!at(&c, ';')) break;
                c.p++;
                skip_ows(&c);
                span_t pname, pval = SPAN_NULL;
                bool has_value = false, escaped = false;
                if (!read_token(&c, &pname)) {
                    well_formed = false;
                    break;
                }
                skip_ows(&c);
                if (at(&c, '=')) {
                    c.p++;
                    skip_ows(&c);
                    has_value = true;
                    if (!read_value(&c, &pval, &escaped)) {
                        well_formed = false;
                        break;
                    }
                }
                if (is_pmd) pmd_param(&o, pname, has_value, pval, escaped);
            }
            skip_ows(&c);
            if (!well_formed || (c.p < c.end && !at(&c, ','))) {
                skip_element(&c);
                continue;
            }
            if (at(&c, ',')) c.p++;
            if (is_pmd && o.valid) {
                pmd_accept(&o, cfg, hs);
                return;
            }
        }
    }
}

/* ---- subprotocols, origin ------------------------------------------------------------- */

static void select_subprotocol(const http_request_head_t *req, const ws_handshake_config_t *cfg,
                               ws_handshake_t *hs)
{
    if (!cfg->n_subprotocols) return;
    for (size_t i = 0; i < req->num_headers; i++) {
        if (!span_ieq_cstr(req->headers[i].name, "Sec-WebSocket-Protocol")) continue;
        span_t list = req->headers[i].value;
        while (list.base) {
            span_t item;
            list = span_split(list, ',', &item);
            item = span_trim(item);
            if (!item.len) continue;
            for (size_t k = 0; k < cfg->n_subprotocols; k++) {
                /* Subprotocol names are compared exactly (RFC 6455 11.3.4: case-sensitive). */
                if (span_eq_cstr(item, cfg->subprotocols[k])) {
                    hs->subprotocol = span_cstr(cfg->subprotocols[k]);
                    return;
                }
            }
        }
    }
}

static bool origin_allowed(const http_request_head_t *req, const ws_handshake_config_t *cfg)
{
    if (!cfg->n_origins) return true;
    for (size_t i = 0; i < req->num_headers; i++) {
        if (!span_ieq_cstr(req->headers[i].name, "Origin")) continue;
        span_t o = span_trim(req->headers[i].value);
        bool listed = false;
        for (size_t k = 0; k < cfg->n_origins && !listed; k++)
            listed = span_ieq_cstr(o, cfg->origins[k]);
        if (!listed) return false; /* every Origin line must be allowed */
    }
    return true;
}

/* ---- the handshake ------------------------------------------------------------------- */

bool ws_handshake_requested(const http_request_head_t *req)
{
    return any_header_has_token(req, "Upgrade", "websocket");
}

int ws_handshake_accept_key(span_t key, char out[WS_ACCEPT_LEN + 1])
{
    char in[128];
    if (key.len > sizeof in - (sizeof ws_guid - 1)) return RS_EINVAL;
    memcpy(in, key.base, key.len);
    memcpy(in + key.len, ws_guid, sizeof ws_guid - 1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(in, key.len + sizeof ws_guid - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return RS_ENOMEM;
    base64_encode(md, 20, out);
    out[WS_ACCEPT_LEN] = '\0';
    return 0;
}

static int refuse(ws_handshake_t *hs, int status, const char *why)
{
    hs->status = status;
    hs->error = why;
    return RS_EPROTO;
}

/* A Sec-WebSocket-Key must be 24 base64 characters, the last two "=", decoding to 16 bytes. */
static bool key_valid(span_t key)
{
    if (key.len != 24 || key.base[22] != '=' || key.base[23] != '=') return false;
    /* Decode into a stack buffer dressed as a buf_t: its capacity covers the decoder's
     * reservation for 24 characters (21 bytes), so it is never reallocated. */
    char raw[32];
    buf_t b = {raw, 0, sizeof raw};
    if (base64_decode_append(&b, key.base, key.len) != 0) return false;
    return b.len == 16;
}

int ws_handshake_check(const http_request_head_t *req, const ws_handshake_config_t *cfg,
                       ws_handshake_t *out)
{
    static const ws_handshake_config_t defaults = {0};
    if (!cfg) cfg = &defaults;
    memset(out, 0, sizeof *out);
    out->subprotocol = SPAN_NULL;

    if (!span_eq_cstr(req->method, "GET")) return refuse(out, 400, "WebSocket needs GET");
    if (req->minor_version < 1) return refuse(out, 400, "WebSocket needs HTTP/1.1");
    span_t v;
    if (single_header(req, "Host", &v) != 1) return refuse(out, 400, "missing or repeated Host");
    if (!any_header_has_token(req, "Upgrade", "websocket"))
        return refuse(out, 400, "Upgrade must be websocket");
    if (!any_header_has_token(req, "Connection", "upgrade"))
        return refuse(out, 400, "Connection must include upgrade");
    if (single_header(req, "Sec-WebSocket-Version", &v) != 1 || !span_eq_cstr(v, "13"))
        return refuse(out, 426, "unsupported WebSocket version (13 only)");
    span_t key;
    if (single_header(req, "Sec-WebSocket-Key", &key) != 1 || !key_valid(key))
        return refuse(out, 400, "bad Sec-WebSocket-Key");
    if (!origin_allowed(req, cfg)) return refuse(out, 403, "origin not allowed");
    if (ws_handshake_accept_key(key, out->accept) != 0)
        return refuse(out, 500, "cannot compute the accept key");

    select_subprotocol(req, cfg, out);
    if (cfg->deflate) negotiate_deflate(req, cfg, out);
    out->status = 101;
    return 0;
}

int ws_handshake_write_response(buf_t *out, const ws_handshake_t *hs, span_t extra_headers)
{
    size_t old = out->len;
    int rc = buf_appendf(out,
                         "HTTP/1.1 101 Switching Protocols\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\n",
                         hs->accept);
    if (!rc && hs->subprotocol.len)
        rc = buf_appendf(out, "Sec-WebSocket-Protocol: %.*s\r\n", (int)hs->subprotocol.len,
                         hs->subprotocol.base);
    if (!rc && hs->deflate.enabled && hs->extensions[0])
        rc = buf_appendf(out, "Sec-WebSocket-Extensions: %s\r\n", hs->extensions);
    if (!rc) rc = buf_append_span(out, extra_headers);
    if (!rc) rc = buf_append(out, "\r\n", 2);
    if (rc) out->len = old;
    return rc;
}

static const char *status_text(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 426:
        return "Upgrade Required";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

int ws_handshake_write_error(buf_t *out, int status, const char *reason)
{
    size_t old = out->len;
    if (!reason) reason = status_text(status);
    int rc = buf_appendf(out,
                         "HTTP/1.1 %d %s\r\n"
                         "Content-Type: text/plain; charset=utf-8\r\n"
                         "Content-Length: %zu\r\n"
                         "%s"
                         "\r\n"
                         "%s\n",
                         status, status_text(status), strlen(reason) + 1,
                         /* RFC 9110: a 426 names the protocol in Upgrade, and whoever sends
                          * Upgrade lists it in Connection too. */
                         status == 426 ? "Sec-WebSocket-Version: 13\r\n"
                                         "Upgrade: websocket\r\n"
                                         "Connection: Upgrade, close\r\n"
                                       : "Connection: close\r\n",
                         reason);
    if (rc) out->len = old;
    return rc;
}
