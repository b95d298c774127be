/* fuzz_eio_payload - eio/packet: a polling body through the iterator and the validator (which
 * must agree), then re-encoded and decoded again to the same packets; the same bytes as a
 * WebSocket text and binary frame. */
#include <stdint.h>
#include <stdlib.h>

#include "eio/packet.h"
#include "util/err.h"

#define MAX_PACKETS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    span_t body = span_make((const char *)data, size);
    eio_packet_t p;
    (void)eio_packet_from_ws(body, 0, &p);
    (void)eio_packet_from_ws(body, 1, &p);

    eio_packet_t pk[MAX_PACKETS];
    buf_t scratch[MAX_PACKETS]; /* one per binary so earlier packets stay valid */
    for (int i = 0; i < MAX_PACKETS; i++) scratch[i] = BUF_INIT;
    buf_t enc = BUF_INIT, again = BUF_INIT;
    eio_payload_iter_t it;
    eio_payload_iter_init(&it, body, MAX_PACKETS);
    size_t n = 0;
    int rc;
    while ((rc = eio_payload_next(&it, &scratch[n < MAX_PACKETS ? n : 0], &p)) == 1) {
        if (n >= MAX_PACKETS) abort(); /* the cap was not enforced */
        if (p.type < EIO_OPEN || p.type > EIO_NOOP) abort();
        pk[n++] = p;
    }
    int v = eio_payload_validate(body, MAX_PACKETS);
    if (rc == 0 && v != (int)n) abort();
    if (rc < 0 && v != rc) abort();

    if (rc == 0) {
        if (eio_payload_encode(&enc, pk, n)) goto out;
        eio_payload_iter_init(&it, buf_span(&enc), MAX_PACKETS);
        for (size_t i = 0; i < n; i++) {
            if (eio_payload_next(&it, &again, &p) != 1) abort();
            if (p.type != pk[i].type || p.binary != pk[i].binary || !span_eq(p.data, pk[i].data))
                abort();
        }
        if (eio_payload_next(&it, &again, &p) != 0) abort();
    }
out:
    for (int i = 0; i < MAX_PACKETS; i++) buf_free(&scratch[i]);
    buf_free(&enc);
    buf_free(&again);
    return 0;
}
