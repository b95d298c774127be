#include "sio/packet.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/utf8.h"

/* Event names the reference refuses: they mean something to its EventEmitters. */
static const span_t reserved_events[] = {
    SPAN_LIT("connect"),       SPAN_LIT("connect_error"), SPAN_LIT("disconnect"),
    SPAN_LIT("disconnecting"), SPAN_LIT("newListener"),   SPAN_LIT("removeListener"),
};

static const char root_nsp[] = "/";

static int is_reserved_event(span_t name)
{
    if (name.len < 7 || name.len > 14) return 0;
    /* Every event name is checked: most leave at their first byte. */
    if (!memchr("cdnr", name.base[0], 4)) return 0;
    for (size_t i = 0; i < sizeof reserved_events / sizeof reserved_events[0]; i++)
        if (span_eq(name, reserved_events[i])) return 1;
    return 0;
}

static inline int is_digit(char c)
{
    return c >= '0' && c <= '9';
}


/* Runs twice per packet received: field by field, leaving binaries[] (up to 80 bytes, only read
 * below nbinaries) untouched. */
void sio_packet_init(sio_packet_t *p)
{
    p->type = 0;
    p->attachments = 0;
    p->nsp = span_make(root_nsp, 1);
    p->ack_id = SIO_NO_ACK;
    p->payload = SPAN_NULL;
    p->payload_kind = RS_JSON_NONE;
    p->event = SPAN_NULL;
    p->event_is_number = 0;
    p->args = SPAN_NULL;
    p->nargs = 0;
    p->nbinaries = 0;
    p->data_ = NULL;
    p->text_ = BUF_INIT;
    p->name_ = BUF_INIT;
}

void sio_packet_clear(sio_packet_t *p)
{
    if (p->data_) json_decref(p->data_);
    for (int i = 0; i < p->nbinaries; i++) rbuf_unref(p->binaries[i]);
    if (p->text_.base) buf_free(&p->text_);
    if (p->name_.base) buf_free(&p->name_);
    sio_packet_init(p);
}

/* ---- placeholder check ---------------------------------------------------------------------- *
 * Visits the objects of a binary packet's payload: per nesting level it remembers whether the
 * last "_placeholder" member was true and whether the last "num" member was a valid index. */

struct ph_check {
    int nattach;
    unsigned char is_ph[SIO_JSON_MAX_DEPTH + 1];
    unsigned char num_ok[SIO_JSON_MAX_DEPTH + 1];
};

/* Is the JSON number token an integer in [0, n)? As JavaScript: 1.0 and 1e0 are 1, -0 is 0. */
static int index_in_range(span_t tok, int n)
{
    char tmp[64];
    if (tok.len == 0 || tok.len >= sizeof tmp) return 0;
    memcpy(tmp, tok.base, tok.len);
    tmp[tok.len] = '\0';
    double v = strtod(tmp, NULL);
    return v >= 0 && v < n && v == (double)(long)v;
}

static int ph_object_begin(void *ctx, unsigned depth)
{
    struct ph_check *c = ctx;
    c->is_ph[depth] = 0;
    c->num_ok[depth] = 0;
    return 0;
}

static int ph_member(void *ctx, unsigned depth, span_t key, int key_escaped, rs_json_kind_t kind,
                     span_t value)
{
    struct ph_check *c = ctx;
    if (rs_json_string_eq(key, key_escaped, SPAN_LIT("_placeholder")))
        c->is_ph[depth] = kind == RS_JSON_TRUE;
    else if (rs_json_string_eq(key, key_escaped, SPAN_LIT("num")))
        c->num_ok[depth] = kind == RS_JSON_NUMBER && index_in_range(value, c->nattach);
    return 0;
}

static int ph_object_end(void *ctx, unsigned depth)
{
    struct ph_check *c = ctx;
    return c->is_ph[depth] && !c->num_ok[depth] ? RS_EPROTO : 0;
}

/* ---- decoding ------------------------------------------------------------------------------- */

static int decode(span_t text, sio_packet_t *out)
{
    const char *s = text.base;
    size_t n = text.len, i = 0;
    if (n == 0 || s[0] < '0' || s[0] > '6') return RS_EPROTO;
    int type = s[i++] - '0';
    out->type = type;

    int binary = type == SIO_BINARY_EVENT || type == SIO_BINARY_ACK;
    if (binary) {
        size_t d0 = i;
        int count = 0;
        for (; i < n && is_digit(s[i]); i++) {
            count = count * 10 + (s[i] - '0');
            if (count > SIO_MAX_ATTACHMENTS) return RS_EPROTO;
        }
        if (i == d0 || i >= n || s[i] != '-') return RS_EPROTO;
        i++;
        out->attachments = count;
    }

    if (i < n && s[i] == '/') {
        size_t start = i;
        while (i < n && s[i] != ',') i++;
        out->nsp = span_make(s + start, i - start);
        if (!utf8_valid(out->nsp.base, out->nsp.len)) return RS_EPROTO;
        if (i < n) i++; /* the comma */
    }

    if (i < n && is_digit(s[i])) {
        int64_t id = 0;
        for (; i < n && is_digit(s[i]); i++) {
            id = id * 10 + (s[i] - '0');
            if (id > SIO_ACK_ID_MAX) return RS_EPROTO;
        }
        out->ack_id = id;
    }

    rs_json_info_t info;
    rs_json_info_clear(&info);
    if (i < n) {
        out->payload = span_make(s + i, n - i);
        rs_json_limits_t lim = {0, SIO_JSON_MAX_DEPTH};
        struct ph_check ph;
        rs_json_visitor_t vis = {&ph, ph_object_begin, ph_member, ph_object_end};
        ph.nattach = out->attachments;
        int rc = rs_json_scan(out->payload, &lim, out->attachments ? &vis : NULL, &info);
        if (rc == RS_ENOMEM) return rc;
        if (rc) return RS_EPROTO;
        out->payload_kind = info.kind;
    }

    int has_ack = out->ack_id != SIO_NO_ACK;
    switch (type) {
    case SIO_CONNECT:
        if (has_ack || (out->payload.base && info.kind != RS_JSON_OBJECT)) return RS_EPROTO;
        return 0;
    case SIO_DISCONNECT:
        if (has_ack || out->payload.base) return RS_EPROTO;
        return 0;
    case SIO_CONNECT_ERROR:
        if (has_ack || (info.kind != RS_JSON_OBJECT && info.kind != RS_JSON_STRING))
            return RS_EPROTO;
        return 0;
    case SIO_ACK:
    case SIO_BINARY_ACK:
        if (!has_ack || info.kind != RS_JSON_ARRAY) return RS_EPROTO;
        out->nargs = info.count;
        out->args = info.count ? info.inner : span_make(info.inner.base, 0);
        return 0;
    default: /* SIO_EVENT, SIO_BINARY_EVENT */
        break;
    }

    if (info.kind != RS_JSON_ARRAY || info.count == 0) return RS_EPROTO;
    if (info.first_kind == RS_JSON_NUMBER) {
        out->event = info.first;
        out->event_is_number = 1;
    } else if (info.first_kind == RS_JSON_STRING) {
        span_t inner = span_make(info.first.base + 1, info.first.len - 2);
        if (info.first_escaped) {
            int rc = rs_json_string_decode(inner, &out->name_);
            if (rc) return rc;
            out->event = buf_span(&out->name_);
            if (!out->event.base) out->event.base = inner.base; /* decoded to nothing */
        } else {
            out->event = inner;
        }
        if (is_reserved_event(out->event)) return RS_EPROTO;
    } else {
        return RS_EPROTO;
    }
    out->nargs = info.count - 1;
    out->args = info.rest.base ? info.rest : span_make(info.inner.base + info.inner.len, 0);
    return 0;
}

int sio_packet_decode(span_t text, sio_packet_t *out)
{
    sio_packet_init(out);
    if (!text.base) return RS_EPROTO;
    int rc = decode(text, out);
    if (rc) sio_packet_clear(out);
    return rc;
}

int sio_packet_data(sio_packet_t *p, json_t **out)
{
    *out = NULL;
    if (!p->payload.base) return 0;
    if (!p->data_) {
        rs_json_limits_t lim = {0, SIO_JSON_MAX_DEPTH};
        int rc = rs_json_parse(p->payload, &lim, &p->data_);
        if (rc) return rc == RS_ENOMEM ? rc : RS_EPROTO;
    }
    *out = p->data_;
    return 0;
}

int sio_packet_binary(const sio_packet_t *p, const json_t *v, span_t *out)
{
    if (!p->nbinaries || !json_is_object(v)) return 0;
    if (!json_is_true(json_object_get(v, "_placeholder"))) return 0;
    const json_t *num = json_object_get(v, "num");
    double d;
    if (json_is_integer(num))
        d = (double)json_integer_value(num);
    else if (json_is_real(num))
        d = json_real_value(num);
    else
        return 0;
    if (!(d >= 0 && d < p->nbinaries && d == (double)(long)d)) return 0;
    const rbuf_t *r = p->binaries[(int)d];
    *out = span_make(r->data, r->len);
    return 1;
}

/* ---- stateful decoder ----------------------------------------------------------------------- */

struct sio_pending {
    sio_packet_t pkt;
    size_t bytes;
};

void sio_decoder_reset(sio_decoder_t *d)
{
    if (!d->pending) return;
    sio_packet_clear(&d->pending->pkt);
    free(d->pending);
    d->pending = NULL;
}

/* Point s at the same bytes in the copy when it pointed into the original. */
static void rebase(span_t *s, span_t from, const char *to)
{
    uintptr_t b = (uintptr_t)s->base, lo = (uintptr_t)from.base;
    if (s->base && b >= lo && b <= lo + from.len) s->base = to + (b - lo);
}

int sio_decoder_text(sio_decoder_t *d, span_t msg, sio_packet_t *out)
{
    if (d->pending) {
        sio_decoder_reset(d);
        sio_packet_init(out);
        return RS_EPROTO;
    }
    int rc = sio_packet_decode(msg, out);
    if (rc) return rc;
    if (out->type != SIO_BINARY_EVENT && out->type != SIO_BINARY_ACK) return 1;
    out->type = out->type == SIO_BINARY_EVENT ? SIO_EVENT : SIO_ACK;
    if (out->attachments == 0) return 1;

    struct sio_pending *pd = calloc(1, sizeof *pd);
    if (!pd) goto nomem;
    pd->pkt = *out;
    sio_packet_init(out);
    if (buf_append_span(&pd->pkt.text_, msg)) {
        sio_packet_clear(&pd->pkt);
        free(pd);
        return RS_ENOMEM;
    }
    const char *copy = pd->pkt.text_.base;
    rebase(&pd->pkt.nsp, msg, copy);
    rebase(&pd->pkt.payload, msg, copy);
    rebase(&pd->pkt.event, msg, copy);
    rebase(&pd->pkt.args, msg, copy);
    d->pending = pd;
    return 0;
nomem:
    sio_packet_clear(out);
    return RS_ENOMEM;
}

int sio_decoder_binary(sio_decoder_t *d, span_t bin, sio_packet_t *out)
{
    sio_packet_init(out);
    struct sio_pending *pd = d->pending;
    if (!pd) return RS_EPROTO;
    int rc;
    if (d->max_binary_bytes && bin.len > d->max_binary_bytes - pd->bytes) {
        rc = RS_ETOOBIG;
        goto fail;
    }
    if (bin.len > UINT32_MAX) {
        rc = RS_ETOOBIG;
        goto fail;
    }
    rbuf_t *r = rbuf_new(bin.base, bin.len);
    if (!r) {
        rc = RS_ENOMEM;
        goto fail;
    }
    pd->pkt.binaries[pd->pkt.nbinaries++] = r;
    pd->bytes += bin.len;
    if (pd->pkt.nbinaries < pd->pkt.attachments) return 0;
    *out = pd->pkt;
    free(pd);
    d->pending = NULL;
    return 1;
fail:
    sio_decoder_reset(d);
    return rc;
}

/* ---- encoding ------------------------------------------------------------------------------- */

static int nsp_is_root(span_t nsp)
{
    return nsp.len == 0 || (nsp.len == 1 && nsp.base[0] == '/');
}

/* Write v in decimal at the end of tmp (which ends at `end`); returns the first digit. */
static char *format_uint(char *end, uint64_t v)
{
    do *--end = (char)('0' + v % 10);
    while (v /= 10);
    return end;
}

int sio_encode_header(buf_t *out, int type, int attachments, span_t nsp, int64_t ack_id)
{
    if (type < SIO_CONNECT || type > SIO_BINARY_ACK || ack_id > SIO_ACK_ID_MAX) return RS_EINVAL;
    int binary = type == SIO_BINARY_EVENT || type == SIO_BINARY_ACK;
    if (binary && (attachments < 0 || attachments > SIO_MAX_ATTACHMENTS)) return RS_EINVAL;
    int root = nsp_is_root(nsp);
    /* type, "10-", the namespace and its comma, 16 digits of ack id */
    if (buf_reserve(out, 4 + (root ? 0 : nsp.len + 1) + 16)) return RS_ENOMEM;
    char *o = out->base + out->len;
    *o++ = (char)('0' + type);
    if (binary) {
        if (attachments >= 10) *o++ = '1';
        *o++ = (char)('0' + attachments % 10);
        *o++ = '-';
    }
    if (!root) {
        memcpy(o, nsp.base, nsp.len);
        o += nsp.len;
        *o++ = ',';
    }
    if (ack_id >= 0) {
        char tmp[24], *d = format_uint(tmp + sizeof tmp, (uint64_t)ack_id);
        size_t n = (size_t)(tmp + sizeof tmp - d);
        memcpy(o, d, n);
        o += n;
    }
    out->len = (size_t)(o - out->base);
    return 0;
}

/* Header for an EVENT or ACK that carries nbinaries attachments. */
static int event_header(buf_t *out, int type, span_t nsp, int64_t ack_id, int nbinaries)
{
    if (nbinaries < 0 || nbinaries > SIO_MAX_ATTACHMENTS) return RS_EINVAL;
    if (nbinaries) type = type == SIO_EVENT ? SIO_BINARY_EVENT : SIO_BINARY_ACK;
    return sio_encode_header(out, type, nbinaries, nsp, ack_id);
}

static int data_fits_type(int type, const json_t *data)
{
    switch (type) {
    case SIO_CONNECT:
        return !data || json_is_object(data);
    case SIO_DISCONNECT:
        return !data;
    case SIO_CONNECT_ERROR:
        return json_is_object(data) || json_is_string(data);
    case SIO_ACK:
    case SIO_BINARY_ACK:
        return json_is_array(data);
    default: {
        const json_t *name = json_array_get(data, 0);
        if (json_is_number(name)) return 1;
        return json_is_string(name) &&
               !is_reserved_event(span_make(json_string_value(name), json_string_length(name)));
    }
    }
}

int sio_encode(buf_t *out, int type, span_t nsp, int64_t ack_id, const json_t *data, int nbinaries)
{
    if (type < SIO_CONNECT || type > SIO_BINARY_ACK || !data_fits_type(type, data))
        return RS_EINVAL;
    int attachments = 0;
    if (type == SIO_EVENT || type == SIO_ACK) {
        if (nbinaries < 0 || nbinaries > SIO_MAX_ATTACHMENTS) return RS_EINVAL;
        if (nbinaries) type = type == SIO_EVENT ? SIO_BINARY_EVENT : SIO_BINARY_ACK;
        attachments = nbinaries;
    } else if (type == SIO_BINARY_EVENT || type == SIO_BINARY_ACK) {
        attachments = nbinaries;
    } else if (nbinaries) {
        return RS_EINVAL;
    }
    size_t start = out->len;
    int rc = sio_encode_header(out, type, attachments, nsp, ack_id);
    if (rc) return rc;
    if (data && (rc = rs_json_append(out, data))) out->len = start;
    return rc;
}

int sio_encode_event(buf_t *out, span_t nsp, int64_t ack_id, span_t name, const json_t *args,
                     int nbinaries)
{
    if (is_reserved_event(name) || (args && !json_is_array(args))) return RS_EINVAL;
    size_t start = out->len;
    int rc = event_header(out, SIO_EVENT, nsp, ack_id, nbinaries);
    if (rc) return rc;
    if ((rc = buf_append_byte(out, '[')) || (rc = rs_json_append_string(out, name))) goto fail;
    size_t n = args ? json_array_size(args) : 0;
    for (size_t i = 0; i < n; i++)
        if ((rc = buf_append_byte(out, ',')) || (rc = rs_json_append(out, json_array_get(args, i))))
            goto fail;
    if ((rc = buf_append_byte(out, ']'))) goto fail;
    return 0;
fail:
    out->len = start;
    return rc;
}

/* Append ',' + each non-empty fragment; the first one without a comma when lead is 0. */
static int append_frags(buf_t *out, const span_t *frags, size_t nfrags, int lead)
{
    for (size_t i = 0; i < nfrags; i++) {
        if (!frags[i].len) continue;
        if (lead && buf_append_byte(out, ',')) return RS_ENOMEM;
        if (buf_append_span(out, frags[i])) return RS_ENOMEM;
        lead = 1;
    }
    return 0;
}

int sio_encode_event_raw(buf_t *out, span_t nsp, int64_t ack_id, span_t name, const span_t *frags,
                         size_t nfrags, int nbinaries)
{
    if (is_reserved_event(name)) return RS_EINVAL;
    size_t start = out->len;
    int rc = event_header(out, SIO_EVENT, nsp, ack_id, nbinaries);
    if (rc) return rc;
    if ((rc = buf_append_byte(out, '[')) || (rc = rs_json_append_string(out, name)) ||
        (rc = append_frags(out, frags, nfrags, 1)) || (rc = buf_append_byte(out, ']'))) {
        out->len = start;
        return rc;
    }
    return 0;
}

int sio_encode_ack(buf_t *out, span_t nsp, int64_t ack_id, const json_t *args, int nbinaries)
{
    if (ack_id < 0 || (args && !json_is_array(args))) return RS_EINVAL;
    size_t start = out->len;
    int rc = event_header(out, SIO_ACK, nsp, ack_id, nbinaries);
    if (rc) return rc;
    rc = args ? rs_json_append(out, args) : buf_append(out, "[]", 2);
    if (rc) out->len = start;
    return rc;
}

int sio_encode_ack_raw(buf_t *out, span_t nsp, int64_t ack_id, const span_t *frags, size_t nfrags,
                       int nbinaries)
{
    if (ack_id < 0) return RS_EINVAL;
    size_t start = out->len;
    int rc = event_header(out, SIO_ACK, nsp, ack_id, nbinaries);
    if (rc) return rc;
    if ((rc = buf_append_byte(out, '[')) || (rc = append_frags(out, frags, nfrags, 0)) ||
        (rc = buf_append_byte(out, ']'))) {
        out->len = start;
        return rc;
    }
    return 0;
}

int sio_encode_connect(buf_t *out, span_t nsp, span_t sid, span_t pid)
{
    size_t start = out->len;
    int rc = sio_encode_header(out, SIO_CONNECT, 0, nsp, SIO_NO_ACK);
    if (rc) return rc;
    if (buf_append_cstr(out, "{\"sid\":") || rs_json_append_string(out, sid)) goto nomem;
    if (pid.base && (buf_append_cstr(out, ",\"pid\":") || rs_json_append_string(out, pid)))
        goto nomem;
    if (buf_append_byte(out, '}')) goto nomem;
    return 0;
nomem:
    out->len = start;
    return RS_ENOMEM;
}

int sio_encode_connect_error(buf_t *out, span_t nsp, span_t message, const json_t *data)
{
    size_t start = out->len;
    int rc = sio_encode_header(out, SIO_CONNECT_ERROR, 0, nsp, SIO_NO_ACK);
    if (rc) return rc;
    if ((rc = buf_append_cstr(out, "{\"message\":")) || (rc = rs_json_append_string(out, message)))
        goto fail;
    if (data && ((rc = buf_append_cstr(out, ",\"data\":")) || (rc = rs_json_append(out, data))))
        goto fail;
    if ((rc = buf_append_byte(out, '}'))) goto fail;
    return 0;
fail:
    out->len = start;
    return rc;
}

int sio_encode_disconnect(buf_t *out, span_t nsp)
{
    return sio_encode_header(out, SIO_DISCONNECT, 0, nsp, SIO_NO_ACK);
}

json_t *sio_placeholder_new(int num)
{
    return json_pack("{s:b,s:i}", "_placeholder", 1, "num", num);
}
