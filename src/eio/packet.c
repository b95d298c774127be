#include "eio/packet.h"

#include <string.h>

#include "util/base64.h"
#include "util/err.h"
#include "util/json.h"

static inline int type_valid(int type)
{
    return type >= EIO_OPEN && type <= EIO_NOOP;
}

int eio_packet_decode_text(span_t text, eio_packet_t *out)
{
    if (text.len == 0 || text.base[0] < '0' || text.base[0] > '6') return RS_EPROTO;
    out->type = text.base[0] - '0';
    out->binary = 0;
    out->data = span_make(text.base + 1, text.len - 1);
    return 0;
}

int eio_packet_from_ws(span_t frame, int is_binary, eio_packet_t *out)
{
    if (!is_binary) return eio_packet_decode_text(frame, out);
    out->type = EIO_MESSAGE;
    out->binary = 1;
    out->data = frame;
    return 0;
}

int eio_packet_to_ws(buf_t *out, const eio_packet_t *p, int *is_binary)
{
    if (!type_valid(p->type) || (p->binary && p->type != EIO_MESSAGE)) return RS_EINVAL;
    if (is_binary) *is_binary = p->binary ? 1 : 0;
    if (buf_reserve(out, p->data.len + 1)) return RS_ENOMEM;
    if (!p->binary) out->base[out->len++] = eio_type_char(p->type);
    if (p->data.len) memcpy(out->base + out->len, p->data.base, p->data.len);
    out->len += p->data.len;
    return 0;
}

/* ---- polling payloads ----------------------------------------------------------------------- */

void eio_payload_iter_init(eio_payload_iter_t *it, span_t body, size_t max_packets)
{
    it->rest = body;
    if (!it->rest.base) it->rest.base = "";
    it->count = 0;
    it->max_packets = max_packets;
    it->done = 0;
}

static int b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* The acceptance rule of base64_decode_append, without decoding. */
static int base64_valid(const char *in, size_t n)
{
    size_t pad = 0;
    while (n > 0 && in[n - 1] == '=' && pad < 2) n--, pad++;
    if (n % 4 == 1) return 0;
    if (pad && (n + pad) % 4 != 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!b64_char((unsigned char)in[i])) return 0;
    return 1;
}

/* Split the next record off *rest (NULL base when none is left). */
static span_t next_record(span_t *rest)
{
    span_t rec;
    *rest = span_split(*rest, EIO_RECORD_SEPARATOR, &rec);
    return rec;
}

/* Classify a record: 0 text, 1 binary, RS_EPROTO. */
static int record_kind(span_t rec)
{
    if (rec.len == 0) return RS_EPROTO;
    if (rec.base[0] == 'b') return base64_valid(rec.base + 1, rec.len - 1) ? 1 : RS_EPROTO;
    if (rec.base[0] < '0' || rec.base[0] > '6') return RS_EPROTO;
    return 0;
}

int eio_payload_next(eio_payload_iter_t *it, buf_t *scratch, eio_packet_t *out)
{
    if (it->done < 0) return it->done;
    if (it->done || !it->rest.base) {
        it->done = 1;
        return 0;
    }
    int rc;
    if (it->max_packets && it->count >= it->max_packets) {
        rc = RS_ETOOBIG;
        goto fail;
    }
    span_t rec = next_record(&it->rest);
    int kind = record_kind(rec);
    if (kind < 0) {
        rc = kind;
        goto fail;
    }
    if (kind == 0) {
        eio_packet_decode_text(rec, out);
    } else {
        if (!scratch) {
            rc = RS_EINVAL;
            goto fail;
        }
        scratch->len = 0;
        rc = base64_decode_append(scratch, rec.base + 1, rec.len - 1);
        if (rc) goto fail;
        out->type = EIO_MESSAGE;
        out->binary = 1;
        out->data = buf_span(scratch);
        if (!out->data.base) out->data.base = "";
    }
    it->count++;
    return 1;
fail:
    it->done = rc;
    return rc;
}

int eio_payload_validate(span_t body, size_t max_packets)
{
    if (!body.base) body.base = "";
    size_t count = 0;
    while (body.base) {
        if (max_packets && count >= max_packets) return RS_ETOOBIG;
        int kind = record_kind(next_record(&body));
        if (kind < 0) return kind;
        count++;
    }
    return count > (size_t)0x7fffffff ? RS_ETOOBIG : (int)count;
}

int eio_payload_append(buf_t *out, const eio_packet_t *p, int first)
{
    if (!type_valid(p->type) || (p->binary && p->type != EIO_MESSAGE)) return RS_EINVAL;
    size_t start = out->len;
    size_t need = 1 + (p->binary ? 1 + base64_encoded_len(p->data.len) : 1 + p->data.len);
    if (buf_reserve(out, need)) return RS_ENOMEM;
    if (!first) out->base[out->len++] = EIO_RECORD_SEPARATOR;
    if (p->binary) {
        out->base[out->len++] = 'b';
        if (base64_append(out, p->data.base, p->data.len)) goto nomem;
    } else {
        out->base[out->len++] = eio_type_char(p->type);
        if (buf_append_span(out, p->data)) goto nomem;
    }
    return 0;
nomem:
    out->len = start;
    return RS_ENOMEM;
}

int eio_payload_encode(buf_t *out, const eio_packet_t *packets, size_t n)
{
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        int rc = eio_payload_append(out, &packets[i], i == 0);
        if (rc) {
            out->len = start;
            return rc;
        }
    }
    return 0;
}

/* ---- documents ------------------------------------------------------------------------------ */

int eio_open_json(buf_t *out, span_t sid, const char *const *upgrades, size_t nupgrades,
                  unsigned long ping_interval_ms, unsigned long ping_timeout_ms,
                  unsigned long long max_payload)
{
    size_t start = out->len;
    if (buf_append_cstr(out, "{\"sid\":") || rs_json_append_string(out, sid) ||
        buf_append_cstr(out, ",\"upgrades\":["))
        goto nomem;
    for (size_t i = 0; i < nupgrades; i++) {
        if (i && buf_append_byte(out, ',')) goto nomem;
        if (rs_json_append_string(out, span_cstr(upgrades[i]))) goto nomem;
    }
    if (buf_appendf(out, "],\"pingInterval\":%lu,\"pingTimeout\":%lu,\"maxPayload\":%llu}",
                    ping_interval_ms, ping_timeout_ms, max_payload))
        goto nomem;
    return 0;
nomem:
    out->len = start;
    return RS_ENOMEM;
}

static const char *const error_messages[] = {
    "Transport unknown", "Session ID unknown", "Bad handshake method",
    "Bad request",       "Forbidden",          "Unsupported protocol version",
};

const char *eio_error_message(int code)
{
    if (code < 0 || code > EIO_ERR_UNSUPPORTED_PROTOCOL_VERSION) code = EIO_ERR_BAD_REQUEST;
    return error_messages[code];
}

int eio_error_status(int code)
{
    return code == EIO_ERR_FORBIDDEN ? 403 : 400;
}

int eio_error_json(buf_t *out, int code, span_t message)
{
    size_t start = out->len;
    if (!message.base) message = span_cstr(eio_error_message(code));
    if (buf_appendf(out, "{\"code\":%d,\"message\":", code) ||
        rs_json_append_string(out, message) || buf_append_byte(out, '}')) {
        out->len = start;
        return RS_ENOMEM;
    }
    return 0;
}
