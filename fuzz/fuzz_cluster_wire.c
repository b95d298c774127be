/* fuzz_cluster_wire - the Redis adapter's MessagePack decoding (cluster/wire.h), fed whatever
 * another process could publish on Redis.
 *
 * Checks: no crash, leak or out-of-bounds read on any input (msgpack-c allocates from container
 * headers, so the bound check before it matters); a decoded broadcast's arguments are valid JSON
 * and survive re-encoding unchanged; a converted value is valid JSON and, once normalised, a
 * fixpoint of JSON -> MessagePack -> JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/wire.h"
#include "util/err.h"
#include "util/json.h"

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

static void check_valid_json_values(span_t args)
{
    buf_t t = BUF_INIT;
    ASSERT(buf_append_byte(&t, '[') == 0 && buf_append_span(&t, args) == 0 &&
           buf_append_byte(&t, ']') == 0);
    rs_json_limits_t lim = {0, RS_JSON_DEPTH_HARD_MAX};
    ASSERT(rs_json_scan(buf_span(&t), &lim, NULL, NULL) == 0);
    buf_free(&t);
}

static void broadcast(span_t in)
{
    wire_broadcast_t b;
    if (wire_broadcast_decode(in, &b)) return;
    check_valid_json_values(buf_span(&b.args));
    wire_target_t t = {(const char *const *)b.rooms,
                       b.nrooms,
                       (const char *const *)b.except,
                       b.nexcept,
                       NULL,
                       b.is_volatile};
    buf_t msg = BUF_INIT;
    int rc =
        wire_broadcast_encode(&msg, b.uid, b.nsp, &t, b.event, buf_span(&b.args), b.bins, b.nbins);
    /* deeper than the JSON limit can be refused; anything else must re-encode */
    ASSERT(rc == 0 || rc == RS_ETOOBIG || rc == RS_EPROTO);
    if (rc == 0) {
        wire_broadcast_t again;
        ASSERT(wire_broadcast_decode(buf_span(&msg), &again) == 0);
        ASSERT(span_eq(buf_span(&again.args), buf_span(&b.args)));
        ASSERT(span_eq(again.event, b.event));
        ASSERT(again.nbins == b.nbins && again.is_volatile == b.is_volatile);
        for (int i = 0; i < b.nbins; i++)
            ASSERT(again.bins[i]->len == b.bins[i]->len &&
                   !memcmp(again.bins[i]->data, b.bins[i]->data, b.bins[i]->len));
        wire_broadcast_clear(&again);
    }
    buf_free(&msg);
    wire_broadcast_clear(&b);
}

/* JSON text -> MessagePack -> JSON text */
static int cycle(span_t json, rbuf_t **bins, int nbins, buf_t *out, rbuf_t **obins, int *onbins)
{
    json_t *v = NULL;
    rs_json_limits_t lim = {0, RS_JSON_DEPTH_HARD_MAX};
    if (rs_json_parse(json, &lim, &v)) return -1;
    buf_t mp = BUF_INIT;
    int rc = wire_pack_json(&mp, v, bins, nbins);
    json_decref(v);
    if (!rc) rc = wire_to_json(buf_span(&mp), out, obins, onbins, SIO_MAX_ATTACHMENTS);
    buf_free(&mp);
    return rc;
}

static void convert(span_t in)
{
    buf_t j1 = BUF_INIT, j2 = BUF_INIT, j3 = BUF_INIT;
    rbuf_t *b1[SIO_MAX_ATTACHMENTS], *b2[SIO_MAX_ATTACHMENTS], *b3[SIO_MAX_ATTACHMENTS];
    int n1 = 0, n2 = 0, n3 = 0;
    if (wire_to_json(in, &j1, b1, &n1, SIO_MAX_ATTACHMENTS) == 0) {
        rs_json_limits_t lim = {0, RS_JSON_DEPTH_HARD_MAX};
        ASSERT(rs_json_scan(buf_span(&j1), &lim, NULL, NULL) == 0);
        if (cycle(buf_span(&j1), b1, n1, &j2, b2, &n2) == 0 &&
            cycle(buf_span(&j2), b2, n2, &j3, b3, &n3) == 0)
            ASSERT(span_eq(buf_span(&j2), buf_span(&j3)) && n2 == n3);
    }
    for (int i = 0; i < n1; i++) rbuf_unref(b1[i]);
    for (int i = 0; i < n2; i++) rbuf_unref(b2[i]);
    for (int i = 0; i < n3; i++) rbuf_unref(b3[i]);
    buf_free(&j1);
    buf_free(&j2);
    buf_free(&j3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 16)) return 0;
    /* an exact-size copy, so a read past the end is caught */
    char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    span_t in = span_make(copy, size);
    broadcast(in);
    convert(in);
    json_t *req = NULL;
    rbuf_t *bins[SIO_MAX_ATTACHMENTS];
    int nb = 0;
    if (wire_request_decode(in, &req, bins, &nb) == 0) {
        ASSERT(json_is_object(req));
        json_decref(req);
        for (int i = 0; i < nb; i++) rbuf_unref(bins[i]);
    }
    free(copy);
    return 0;
}
