/* fuzz_sio_packet - sio/packet: the input is a sequence of Engine.IO messages separated by 0x1e;
 * a message starting with 0x01 is binary (the rest of it), anything else is text. They go
 * through one sio_decoder like a client's stream. Every packet decoded must parse, re-encode
 * (from the tree and from the raw argument text) and decode again to the same thing. */
#include <stdint.h>
#include <stdlib.h>

#include "sio/packet.h"
#include "util/err.h"

static void walk(const sio_packet_t *p, const json_t *v, unsigned depth)
{
    span_t bin;
    if (depth > SIO_JSON_MAX_DEPTH + 1) abort();
    if (sio_packet_binary(p, v, &bin) && bin.len && !bin.base) abort();
    if (json_is_array(v))
        for (size_t i = 0; i < json_array_size(v); i++) walk(p, json_array_get(v, i), depth + 1);
    else if (json_is_object(v))
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it))
            walk(p, json_object_iter_value(it), depth + 1);
}

/* Decode a re-encoded text (plus the packet's attachments) and check it is a packet again. */
static void redecode(const buf_t *enc, const sio_packet_t *orig, int expect_type)
{
    sio_decoder_t d = SIO_DECODER_INIT;
    sio_packet_t q;
    int rc = sio_decoder_text(&d, buf_span(enc), &q);
    for (int k = 0; rc == 0 && k < orig->nbinaries; k++)
        rc = sio_decoder_binary(&d, span_make(orig->binaries[k]->data, orig->binaries[k]->len), &q);
    if (rc == RS_ENOMEM) goto out;
    if (rc != 1) abort();
    if (q.type != expect_type || q.ack_id != orig->ack_id || !span_eq(q.nsp, orig->nsp) ||
        q.nbinaries != orig->nbinaries)
        abort();
    sio_packet_clear(&q);
out:
    sio_decoder_reset(&d);
}

static void check_packet(sio_packet_t *p)
{
    json_t *v;
    int rc = sio_packet_data(p, &v);
    if (rc == RS_ENOMEM) return;
    if (rc) abort(); /* the decoder accepted text that does not parse */
    if ((v == NULL) != (p->payload.base == NULL)) abort();
    if (v) walk(p, v, 0);

    buf_t enc = BUF_INIT, enc2 = BUF_INIT;
    rc = sio_encode(&enc, p->type, p->nsp, p->ack_id, v, p->nbinaries);
    if (rc == RS_ENOMEM) goto out;
    if (rc) abort();
    redecode(&enc, p, p->type);

    if (p->type == SIO_EVENT) {
        rc = sio_encode_event_raw(&enc2, p->nsp, p->ack_id, p->event, &p->args, 1, p->nbinaries);
        if (rc == RS_ENOMEM) goto out;
        if (rc) abort();
        redecode(&enc2, p, SIO_EVENT);
    } else if (p->type == SIO_ACK) {
        rc = sio_encode_ack_raw(&enc2, p->nsp, p->ack_id, &p->args, 1, p->nbinaries);
        if (rc == RS_ENOMEM) goto out;
        if (rc) abort();
        redecode(&enc2, p, SIO_ACK);
    }
out:
    buf_free(&enc);
    buf_free(&enc2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    span_t rest = span_make((const char *)data, size);
    sio_decoder_t d = SIO_DECODER_INIT;
    d.max_binary_bytes = 4096;

    /* The whole input as one text message too. */
    sio_packet_t p;
    if (sio_packet_decode(rest, &p) == 0) sio_packet_clear(&p);

    while (rest.base) {
        span_t msg;
        rest = span_split(rest, '\x1e', &msg);
        int rc;
        if (msg.len && msg.base[0] == '\x01')
            rc = sio_decoder_binary(&d, span_make(msg.base + 1, msg.len - 1), &p);
        else
            rc = sio_decoder_text(&d, msg, &p);
        if (rc == 1) {
            if (p.type == SIO_BINARY_EVENT || p.type == SIO_BINARY_ACK) abort();
            if (p.nbinaries != p.attachments) abort();
            check_packet(&p);
            sio_packet_clear(&p);
        } else if (rc != 0 && rc != RS_EPROTO && rc != RS_ETOOBIG && rc != RS_ENOMEM) {
            abort();
        }
    }
    sio_decoder_reset(&d);
    return 0;
}
