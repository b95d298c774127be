/* wire.c - the Redis adapter's MessagePack messages <-> roost's JSON-text arguments. */
#include "cluster/wire.h"

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/json.h"
#include "util/utf8.h"

#define MAX_PACK_DEPTH 64
#define MAX_SAFE_INT   9007199254740992ULL /* 2^53: integers beyond are doubles in JS */

/* ---- input bounds ---- */

static int read_be(const unsigned char *p, size_t len, size_t *pos, int bytes, uint64_t *v)
{
    if ((size_t)bytes > len - *pos) return RS_EPROTO;
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++) x = x << 8 | p[*pos + (size_t)i];
    *pos += (size_t)bytes;
    *v = x;
    return 0;
}

/* Walk the value once without allocating: it must be exactly one complete value, and every
 * container must announce no more elements than bytes remain (each element takes at least one
 * byte). msgpack-c allocates a container's element array from its header before reading the
 * elements, so this check bounds what it can allocate to a small multiple of the input. */
static int prescan(const unsigned char *p, size_t len)
{
    size_t pos = 0;
    uint64_t need = 1;
    while (need) {
        if (pos >= len) return RS_EPROTO;
        unsigned c = p[pos++];
        need--;
        uint64_t n = 0, skip = 0;
        int kind = 0; /* 1 array, 2 map */
        int rc = 0;
        if (c <= 0x7f || c >= 0xe0) {
            /* fixint */
        } else if (c <= 0x8f) {
            n = c & 0x0f;
            kind = 2;
        } else if (c <= 0x9f) {
            n = c & 0x0f;
            kind = 1;
        } else if (c <= 0xbf) {
            skip = c & 0x1f;
        } else {
            switch (c) {
            case 0xc0:
            case 0xc2:
            case 0xc3:
                break;
            case 0xc4:
                rc = read_be(p, len, &pos, 1, &skip);
                break;
            case 0xc5:
                rc = read_be(p, len, &pos, 2, &skip);
                break;
            case 0xc6:
                rc = read_be(p, len, &pos, 4, &skip);
                break;
            case 0xc7:
                rc = read_be(p, len, &pos, 1, &skip);
                skip++;
                break;
            case 0xc8:
                rc = read_be(p, len, &pos, 2, &skip);
                skip++;
                break;
            case 0xc9:
                rc = read_be(p, len, &pos, 4, &skip);
                skip++;
                break;
            case 0xca:
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcb:
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xd4:
                skip = 2;
                break;
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            case 0xd9:
                rc = read_be(p, len, &pos, 1, &skip);
                break;
            case 0xda:
                rc = read_be(p, len, &pos, 2, &skip);
                break;
            case 0xdb:
                rc = read_be(p, len, &pos, 4, &skip);
                break;
            case 0xdc:
                rc = read_be(p, len, &pos, 2, &n);
                kind = 1;
                break;
            case 0xdd:
                rc = read_be(p, len, &pos, 4, &n);
                kind = 1;
                break;
            case 0xde:
                rc = read_be(p, len, &pos, 2, &n);
                kind = 2;
                break;
            case 0xdf:
                rc = read_be(p, len, &pos, 4, &n);
                kind = 2;
                break;
            default:
                return RS_EPROTO; /* 0xc1 is never used */
            }
        }
        if (rc) return rc;
        if (kind) {
            need += kind == 2 ? 2 * n : n;
            if (need > len - pos) return RS_EPROTO;
        } else {
            if (skip > len - pos) return RS_EPROTO;
            pos += (size_t)skip;
        }
    }
    return pos == len ? 0 : RS_EPROTO;
}

/* Unpack exactly one value. The caller destroys *up (also after an error). */
static int unpack(span_t msg, msgpack_unpacked *up)
{
    msgpack_unpacked_init(up);
    if (msg.len > WIRE_MAX_MESSAGE) return RS_ETOOBIG;
    int rc = prescan((const unsigned char *)msg.base, msg.len);
    if (rc) return rc;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(up, msg.base, msg.len, &off);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR) return RS_ENOMEM;
    if (r != MSGPACK_UNPACK_SUCCESS || off != msg.len) return RS_EPROTO; /* e.g. nesting > 32 */
    return 0;
}

/* ---- dates ---- */

/* Days since 1970-01-01 to a proleptic Gregorian date (valid far beyond Date's range). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    uint64_t doe = (uint64_t)(z - era * 146097);
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yy + (*m <= 2);
}

size_t wire_iso_date(int64_t ms, char out[32])
{
    if (ms > 8640000000000000LL || ms < -8640000000000000LL) return 0;
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    unsigned h = (unsigned)(rem / 3600000), mi = (unsigned)(rem / 60000 % 60),
             s = (unsigned)(rem / 1000 % 60), frac = (unsigned)(rem % 1000);
    int n;
    if (y >= 0 && y <= 9999)
        n = snprintf(out, 32, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", (int)y, mo, d, h, mi, s, frac);
    else
        n = snprintf(out, 32, "%c%06lld-%02u-%02uT%02u:%02u:%02u.%03uZ", y < 0 ? '-' : '+',
                     (long long)(y < 0 ? -y : y), mo, d, h, mi, s, frac);
    return n > 0 && n < 32 ? (size_t)n : 0;
}

static uint64_t be_bytes(const char *p, int n)
{
    uint64_t x = 0;
    for (int i = 0; i < n; i++) x = x << 8 | (unsigned char)p[i];
    return x;
}

/* notepack.io's Date decodings. Returns 1 and *ms when ext is a date, 0 otherwise. The result
 * is what new Date(x) keeps: x truncated towards zero; NaN for the out-of-range case. */
static int ext_date(const msgpack_object_ext *e, int64_t *ms, bool *invalid)
{
    double t;
    *invalid = false;
    if (e->type == -1 && e->size == 4) {
        t = (double)be_bytes(e->ptr, 4) * 1e3;
    } else if (e->type == -1 && e->size == 8) {
        uint64_t hi = be_bytes(e->ptr, 4), lo = be_bytes(e->ptr + 4, 4);
        double sec = (double)(hi & 3) * 4294967296.0 + (double)lo;
        t = sec * 1e3 + (double)(hi >> 2) / 1e6;
    } else if (e->type == -1 && e->size == 12) {
        uint64_t ns = be_bytes(e->ptr, 4);
        int64_t sec = (int64_t)be_bytes(e->ptr + 4, 8);
        t = (double)sec * 1e3 + (double)ns / 1e6;
    } else if (e->type == 0 && e->size == 8) {
        /* legacy notepack date: int32 hi * 2^32 + uint32 lo, in ms */
        int32_t hi = (int32_t)(uint32_t)be_bytes(e->ptr, 4);
        t = (double)hi * 4294967296.0 + (double)be_bytes(e->ptr + 4, 4);
    } else {
        return 0;
    }
    if (!(fabs(t) <= 8.64e15)) {
        *invalid = true;
        return 1;
    }
    *ms = (int64_t)trunc(t);
    return 1;
}

/* ---- MessagePack -> JSON text ---- */

struct bins_out {
    rbuf_t **v;
    int *n;
    int max;
};

static int append_placeholder(buf_t *out, struct bins_out *bo, const char *p, size_t len)
{
    if (*bo->n >= bo->max) return RS_ETOOBIG;
    if (len > UINT32_MAX) return RS_ETOOBIG;
    rbuf_t *r = rbuf_new(p, len);
    if (!r) return RS_ENOMEM;
    int num = (*bo->n)++;
    bo->v[num] = r;
    return buf_appendf(out, "{\"_placeholder\":true,\"num\":%d}", num);
}

static int append_str(buf_t *out, const char *p, size_t len)
{
    if (!utf8_valid(p, len)) return RS_EPROTO;
    return rs_json_append_string(out, span_make(p, len));
}

static int append_uint(buf_t *out, uint64_t u)
{
    if (u > MAX_SAFE_INT) return rs_json_append_number(out, (double)u);
    return buf_appendf(out, "%llu", (unsigned long long)u);
}

static int append_int(buf_t *out, int64_t i)
{
    if (i < -(int64_t)MAX_SAFE_INT) return rs_json_append_number(out, (double)i);
    return buf_appendf(out, "%lld", (long long)i);
}

static int obj_to_json(buf_t *out, const msgpack_object *o, struct bins_out *bo, int depth);

/* A map key as the text JavaScript would make of it. */
static int key_to_json(buf_t *out, const msgpack_object *k)
{
    char tmp[32];
    switch (k->type) {
    case MSGPACK_OBJECT_STR:
        /* roost's JSON (like jansson) refuses NUL in object keys: refuse it here too, rather
         * than hand on text the other layers would reject. */
        if (k->via.str.size && memchr(k->via.str.ptr, '\0', k->via.str.size)) return RS_EPROTO;
        return append_str(out, k->via.str.ptr, k->via.str.size);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: {
        buf_t num = BUF_INIT;
        int rc = k->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? append_uint(&num, k->via.u64)
                                                            : append_int(&num, k->via.i64);
        if (!rc) rc = rs_json_append_string(out, buf_span(&num));
        buf_free(&num);
        return rc;
    }
    case MSGPACK_OBJECT_BOOLEAN:
        snprintf(tmp, sizeof tmp, "\"%s\"", k->via.boolean ? "true" : "false");
        return buf_append_cstr(out, tmp);
    case MSGPACK_OBJECT_NIL:
        return buf_append_cstr(out, "\"null\"");
    default:
        return RS_EPROTO;
    }
}

struct key_order {
    const char *text;
    const size_t *off;
};

static int key_cmp(const void *pa, const void *pb, void *ctx)
{
    const struct key_order *k = ctx;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    size_t la = k->off[a + 1] - k->off[a], lb = k->off[b + 1] - k->off[b];
    int c = memcmp(k->text + k->off[a], k->text + k->off[b], la < lb ? la : lb);
    if (c) return c;
    if (la != lb) return la < lb ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* A map as the object notepack.io builds from it: a key given twice keeps the place of its
 * first occurrence and the value of its last (obj[key] = value, in order). Duplicates are found
 * by sorting, so a huge map costs n log n, not n^2. */
static int map_to_json(buf_t *out, const msgpack_object_map *m, struct bins_out *bo, int depth)
{
    uint32_t n = m->size;
    buf_t keys = BUF_INIT;
    size_t *off = malloc(((size_t)n + 1) * sizeof *off);
    uint32_t *order = malloc(((size_t)n + 1) * sizeof *order);
    int64_t *take = malloc(((size_t)n + 1) * sizeof *take);
    int rc = off && order && take ? 0 : RS_ENOMEM;
    for (uint32_t i = 0; i < n && !rc; i++) {
        off[i] = keys.len;
        rc = key_to_json(&keys, &m->ptr[i].key);
        order[i] = i;
        take[i] = -1;
    }
    if (!rc) {
        off[n] = keys.len;
        struct key_order ko = {keys.base, off};
        if (n > 1) qsort_r(order, n, sizeof *order, key_cmp, &ko);
        for (uint32_t g = 0; g < n;) {
            uint32_t e = g + 1;
            while (e < n &&
                   off[order[e] + 1] - off[order[e]] == off[order[g] + 1] - off[order[g]] &&
                   !memcmp(keys.base + off[order[e]], keys.base + off[order[g]],
                           off[order[g] + 1] - off[order[g]]))
                e++;
            take[order[g]] = order[e - 1]; /* first place, last value */
            g = e;
        }
        rc = buf_append_byte(out, '{');
    }
    bool first = true;
    for (uint32_t i = 0; i < n && !rc; i++) {
        if (take[i] < 0) continue;
        if (!first) rc = buf_append_byte(out, ',');
        first = false;
        if (!rc) rc = buf_append(out, keys.base + off[i], off[i + 1] - off[i]);
        if (!rc) rc = buf_append_byte(out, ':');
        if (!rc) rc = obj_to_json(out, &m->ptr[take[i]].val, bo, depth + 1);
    }
    if (!rc) rc = buf_append_byte(out, '}');
    buf_free(&keys);
    free(off);
    free(order);
    free(take);
    return rc;
}

static int obj_to_json(buf_t *out, const msgpack_object *o, struct bins_out *bo, int depth)
{
    if (depth > MAX_PACK_DEPTH) return RS_ETOOBIG;
    int rc = 0;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return buf_append_cstr(out, "null");
    case MSGPACK_OBJECT_BOOLEAN:
        return buf_append_cstr(out, o->via.boolean ? "true" : "false");
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return append_uint(out, o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return append_int(out, o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return rs_json_append_number(out, o->via.f64);
    case MSGPACK_OBJECT_STR:
        return append_str(out, o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return append_placeholder(out, bo, o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_EXT: {
        const msgpack_object_ext *e = &o->via.ext;
        int64_t ms;
        bool invalid;
        if (ext_date(e, &ms, &invalid)) {
            char iso[32];
            size_t n = invalid ? 0 : wire_iso_date(ms, iso);
            if (!n) return buf_append_cstr(out, "null");
            return rs_json_append_string(out, span_make(iso, n));
        }
        if (e->type == 0 && e->size == 1) return buf_append_cstr(out, "null"); /* undefined */
        if (e->type == 0) return append_placeholder(out, bo, e->ptr, e->size); /* ArrayBuffer */
        /* notepack.io decodes any other extension as [type, Buffer]. */
        rc = buf_appendf(out, "[%d,", (int)e->type);
        if (!rc) rc = append_placeholder(out, bo, e->ptr, e->size);
        if (!rc) rc = buf_append_byte(out, ']');
        return rc;
    }
    case MSGPACK_OBJECT_ARRAY:
        rc = buf_append_byte(out, '[');
        for (uint32_t i = 0; i < o->via.array.size && !rc; i++) {
            if (i) rc = buf_append_byte(out, ',');
            if (!rc) rc = obj_to_json(out, &o->via.array.ptr[i], bo, depth + 1);
        }
        if (!rc) rc = buf_append_byte(out, ']');
        return rc;
    case MSGPACK_OBJECT_MAP:
        return map_to_json(out, &o->via.map, bo, depth);
    }
    return RS_EPROTO;
}

int wire_to_json(span_t msg, buf_t *out, rbuf_t **bins, int *nbins, int max_bins)
{
    msgpack_unpacked up;
    size_t mark = out->len;
    int rc = unpack(msg, &up);
    struct bins_out bo = {bins, nbins, max_bins};
    if (!rc) rc = obj_to_json(out, &up.data, &bo, 0);
    msgpack_unpacked_destroy(&up);
    if (rc) out->len = mark;
    return rc;
}

/* ---- broadcasts in ---- */

static const msgpack_object *map_get(const msgpack_object *m, const char *key)
{
    if (m->type != MSGPACK_OBJECT_MAP) return NULL;
    size_t kl = strlen(key);
    const msgpack_object *found = NULL;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        /* Duplicate keys: the last wins, as when JavaScript builds the object. */
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
            !memcmp(k->via.str.ptr, key, kl))
            found = &m->via.map.ptr[i].val;
    }
    return found;
}

static bool truthy(const msgpack_object *o)
{
    if (!o) return false;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return false;
    case MSGPACK_OBJECT_BOOLEAN:
        return o->via.boolean;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 != 0;
    case MSGPACK_OBJECT_STR:
        return o->via.str.size != 0;
    default:
        return true;
    }
}

/* Room names: strings, or numbers as their decimal text (a JavaScript Set may hold numbers). */
static int collect_names(const msgpack_object *arr, buf_t *store, size_t *count)
{
    *count = 0;
    if (!arr || arr->type == MSGPACK_OBJECT_NIL) return 0;
    if (arr->type != MSGPACK_OBJECT_ARRAY) return RS_EPROTO;
    if (arr->via.array.size > WIRE_MAX_NAMES) return RS_ETOOBIG;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        int rc;
        if (o->type == MSGPACK_OBJECT_STR) {
            if (!utf8_valid(o->via.str.ptr, o->via.str.size) ||
                memchr(o->via.str.ptr, 0, o->via.str.size))
                return RS_EPROTO;
            rc = buf_append(store, o->via.str.ptr, o->via.str.size);
        } else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            rc = append_uint(store, o->via.u64);
        } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            rc = append_int(store, o->via.i64);
        } else {
            return RS_EPROTO;
        }
        if (!rc) rc = buf_append_byte(store, '\0');
        if (rc) return rc;
        (*count)++;
    }
    return 0;
}

static void init_broadcast(wire_broadcast_t *b)
{
    memset(b, 0, sizeof *b);
    b->ack_id = -1;
}

void wire_broadcast_clear(wire_broadcast_t *b)
{
    buf_free(&b->args);
    buf_free(&b->names_);
    for (int i = 0; i < b->nbins; i++) rbuf_unref(b->bins[i]);
    free(b->rooms); /* one array holds rooms then except */
    init_broadcast(b);
}

int wire_broadcast_decode(span_t msg, wire_broadcast_t *out)
{
    init_broadcast(out);
    msgpack_unpacked up;
    int rc = unpack(msg, &up);
    if (rc) goto done;
    const msgpack_object *root = &up.data;
    rc = RS_EPROTO;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 2) goto done;
    const msgpack_object *uid = &root->via.array.ptr[0], *packet = &root->via.array.ptr[1];
    const msgpack_object *opts = root->via.array.size > 2 ? &root->via.array.ptr[2] : NULL;
    if (uid->type == MSGPACK_OBJECT_STR)
        out->uid = span_make(uid->via.str.ptr, uid->via.str.size);
    else if (uid->type != MSGPACK_OBJECT_NIL)
        goto done;
    if (packet->type != MSGPACK_OBJECT_MAP) goto done;
    const msgpack_object *type = map_get(packet, "type"), *data = map_get(packet, "data"),
                         *nsp = map_get(packet, "nsp"), *id = map_get(packet, "id");
    /* 2 EVENT; 5 BINARY_EVENT is accepted too (a sender that pre-marked binary). */
    if (!type || type->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        (type->via.u64 != 2 && type->via.u64 != 5))
        goto done;
    if (!nsp || nsp->type == MSGPACK_OBJECT_NIL) {
        out->nsp = span_cstr("/");
    } else {
        if (nsp->type != MSGPACK_OBJECT_STR || !nsp->via.str.size || nsp->via.str.ptr[0] != '/' ||
            !utf8_valid(nsp->via.str.ptr, nsp->via.str.size))
            goto done;
        out->nsp = span_make(nsp->via.str.ptr, nsp->via.str.size);
    }
    if (id && id->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        id->via.u64 <= (uint64_t)SIO_ACK_ID_MAX)
        out->ack_id = (int64_t)id->via.u64;
    if (!data || data->type != MSGPACK_OBJECT_ARRAY || !data->via.array.size) goto done;
    const msgpack_object *ev = &data->via.array.ptr[0];
    /* A number event name keeps its text at the start of names_, before the room names. */
    size_t evlen = 0;
    if (ev->type == MSGPACK_OBJECT_STR) {
        if (!utf8_valid(ev->via.str.ptr, ev->via.str.size)) goto done;
        out->event = span_make(ev->via.str.ptr, ev->via.str.size);
    } else if (ev->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
               ev->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        rc = ev->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? append_uint(&out->names_, ev->via.u64)
                                                         : append_int(&out->names_, ev->via.i64);
        if (rc) goto done;
        evlen = out->names_.len;
    } else {
        goto done;
    }
    struct bins_out bo = {out->bins, &out->nbins, SIO_MAX_ATTACHMENTS};
    for (uint32_t i = 1; i < data->via.array.size; i++) {
        if (i > 1 && (rc = buf_append_byte(&out->args, ','))) goto done;
        if ((rc = obj_to_json(&out->args, &data->via.array.ptr[i], &bo, 1))) goto done;
    }
    out->nargs = data->via.array.size - 1;
    if (opts && opts->type != MSGPACK_OBJECT_NIL) {
        rc = RS_EPROTO;
        if (opts->type != MSGPACK_OBJECT_MAP) goto done;
        if ((rc = collect_names(map_get(opts, "rooms"), &out->names_, &out->nrooms))) goto done;
        if ((rc = collect_names(map_get(opts, "except"), &out->names_, &out->nexcept))) goto done;
        const msgpack_object *flags = map_get(opts, "flags");
        if (flags && flags->type == MSGPACK_OBJECT_MAP)
            out->is_volatile = truthy(map_get(flags, "volatile"));
    }
    /* names_ is final: point the name arrays (and a number event name) into it. */
    if (evlen) out->event = span_make(out->names_.base, evlen);
    if (out->nrooms + out->nexcept) {
        const char **v = calloc(out->nrooms + out->nexcept, sizeof *v);
        if (!v) {
            rc = RS_ENOMEM;
            goto done;
        }
        const char *p = out->names_.base + evlen;
        for (size_t i = 0; i < out->nrooms + out->nexcept; i++) {
            v[i] = p;
            p += strlen(p) + 1;
        }
        out->rooms = v;
        out->except = v + out->nrooms;
    }
    rc = 0;
done:
    msgpack_unpacked_destroy(&up);
    if (rc) wire_broadcast_clear(out);
    return rc;
}

/* ---- JSON -> MessagePack ---- */

static int buf_write(void *data, const char *p, size_t len)
{
    return buf_append(data, p, len) ? -1 : 0;
}

/* Is v a placeholder for one of nbins attachments? Returns its num or -1. */
static int placeholder_num(const json_t *v, int nbins)
{
    if (!nbins || !json_is_object(v) || !json_is_true(json_object_get(v, "_placeholder")))
        return -1;
    const json_t *num = json_object_get(v, "num");
    double d;
    if (json_is_integer(num))
        d = (double)json_integer_value(num);
    else if (json_is_real(num))
        d = json_real_value(num);
    else
        return -1;
    if (d < 0 || d >= nbins || d != floor(d)) return -1;
    return (int)d;
}

static int pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    if (n > UINT32_MAX || msgpack_pack_str(pk, n)) return -1;
    return n ? msgpack_pack_str_body(pk, s, n) : 0;
}

static int pack_json(msgpack_packer *pk, const json_t *v, rbuf_t *const *bins, int nbins, int depth)
{
    if (depth > MAX_PACK_DEPTH) return RS_EINVAL;
    int num = placeholder_num(v, nbins);
    if (num >= 0) {
        const rbuf_t *r = bins[num];
        if (msgpack_pack_bin(pk, r->len)) return RS_ENOMEM;
        return r->len && msgpack_pack_bin_body(pk, r->data, r->len) ? RS_ENOMEM : 0;
    }
    int rc = 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (msgpack_pack_map(pk, json_object_size(v))) return RS_ENOMEM;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            if (pack_str(pk, key, strlen(key))) return RS_ENOMEM;
            if ((rc = pack_json(pk, val, bins, nbins, depth + 1))) return rc;
        }
        return 0;
    }
    case JSON_ARRAY: {
        if (msgpack_pack_array(pk, json_array_size(v))) return RS_ENOMEM;
        size_t i;
        json_t *val;
        json_array_foreach(v, i, val)
        {
            if ((rc = pack_json(pk, val, bins, nbins, depth + 1))) return rc;
        }
        return 0;
    }
    case JSON_STRING:
        return pack_str(pk, json_string_value(v), json_string_length(v)) ? RS_ENOMEM : 0;
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(v)) ? RS_ENOMEM : 0;
    case JSON_REAL: {
        double d = json_real_value(v);
        /* One number type in JavaScript: an integral value goes out as an integer, as
         * notepack.io writes it (-0 included, as 0). */
        if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            return msgpack_pack_int64(pk, (int64_t)d) ? RS_ENOMEM : 0;
        return msgpack_pack_double(pk, d) ? RS_ENOMEM : 0;
    }
    case JSON_TRUE:
        return msgpack_pack_true(pk) ? RS_ENOMEM : 0;
    case JSON_FALSE:
        return msgpack_pack_false(pk) ? RS_ENOMEM : 0;
    case JSON_NULL:
        return msgpack_pack_nil(pk) ? RS_ENOMEM : 0;
    }
    return RS_EINVAL;
}

int wire_pack_json(buf_t *out, const json_t *v, rbuf_t *const *bins, int nbins)
{
    size_t mark = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    int rc = v ? pack_json(&pk, v, bins, nbins, 0) : RS_EINVAL;
    if (rc) out->len = mark;
    return rc;
}

static int pack_names(msgpack_packer *pk, const char *const *names, size_t n, const char *extra)
{
    /* A name given twice goes out once, as the reference's Set does. */
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) dup = strcmp(names[k], names[i]) == 0;
        if (!dup) count++;
    }
    bool extra_dup = false;
    for (size_t i = 0; extra && i < n && !extra_dup; i++) extra_dup = strcmp(names[i], extra) == 0;
    if (extra && !extra_dup) count++;
    if (msgpack_pack_array(pk, count)) return RS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) dup = strcmp(names[k], names[i]) == 0;
        if (!dup && pack_str(pk, names[i], strlen(names[i]))) return RS_ENOMEM;
    }
    if (extra && !extra_dup && pack_str(pk, extra, strlen(extra))) return RS_ENOMEM;
    return 0;
}

int wire_broadcast_encode(buf_t *out, span_t uid, span_t nsp, const wire_target_t *t, span_t event,
                          span_t args, rbuf_t *const *bins, int nbins)
{
    if (nbins < 0 || nbins > SIO_MAX_ATTACHMENTS) return RS_EINVAL;
    size_t mark = out->len;
    json_t *arr = NULL;
    int rc = 0;
    if (args.len) {
        buf_t text = BUF_INIT;
        rc = buf_append_byte(&text, '[');
        if (!rc) rc = buf_append_span(&text, args);
        if (!rc) rc = buf_append_byte(&text, ']');
        rs_json_limits_t lim = {0, SIO_JSON_MAX_DEPTH + 1};
        if (!rc) rc = rs_json_parse(buf_span(&text), &lim, &arr);
        buf_free(&text);
        if (!rc && !json_is_array(arr)) rc = RS_EPROTO;
        if (rc) goto done;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    rc = RS_ENOMEM;
    if (msgpack_pack_array(&pk, 3) || pack_str(&pk, uid.base, uid.len)) goto done;
    /* packet: {type, data, nsp}, the order socket.io builds it in */
    if (msgpack_pack_map(&pk, 3) || pack_str(&pk, "type", 4) || msgpack_pack_int(&pk, SIO_EVENT) ||
        pack_str(&pk, "data", 4))
        goto done;
    size_t nargs = arr ? json_array_size(arr) : 0;
    if (msgpack_pack_array(&pk, 1 + nargs) || pack_str(&pk, event.base, event.len)) goto done;
    for (size_t i = 0; i < nargs; i++)
        if ((rc = pack_json(&pk, json_array_get(arr, i), bins, nbins, 1))) goto done;
    rc = RS_ENOMEM;
    if (pack_str(&pk, "nsp", 3) || pack_str(&pk, nsp.base, nsp.len)) goto done;
    /* opts: {rooms, except, flags} */
    if (msgpack_pack_map(&pk, 3) || pack_str(&pk, "rooms", 5)) goto done;
    if ((rc = pack_names(&pk, t ? t->rooms : NULL, t ? t->nrooms : 0, NULL))) goto done;
    rc = RS_ENOMEM;
    if (pack_str(&pk, "except", 6)) goto done;
    if ((rc = pack_names(&pk, t ? t->except : NULL, t ? t->nexcept : 0, t ? t->except_id : NULL)))
        goto done;
    rc = RS_ENOMEM;
    if (pack_str(&pk, "flags", 5)) goto done;
    if (t && t->is_volatile) {
        if (msgpack_pack_map(&pk, 1) || pack_str(&pk, "volatile", 8) || msgpack_pack_true(&pk))
            goto done;
    } else if (msgpack_pack_map(&pk, 0)) {
        goto done;
    }
    rc = 0;
done:
    json_decref(arr);
    if (rc) out->len = mark;
    return rc;
}

int wire_broadcast_channel(buf_t *out, span_t prefix, span_t nsp, const wire_target_t *t)
{
    size_t mark = out->len;
    int rc = buf_append_span(out, prefix);
    if (!rc) rc = buf_append_byte(out, '#');
    if (!rc) rc = buf_append_span(out, nsp);
    if (!rc) rc = buf_append_byte(out, '#');
    /* Exactly one distinct room: the room's own channel. */
    bool one = t && t->nrooms > 0;
    for (size_t i = 1; one && i < t->nrooms; i++) one = strcmp(t->rooms[i], t->rooms[0]) == 0;
    if (!rc && one) {
        rc = buf_append_cstr(out, t->rooms[0]);
        if (!rc) rc = buf_append_byte(out, '#');
    }
    if (rc) out->len = mark;
    return rc;
}

/* ---- requests ---- */

int wire_request_decode(span_t msg, json_t **out, rbuf_t **bins, int *nbins)
{
    *out = NULL;
    *nbins = 0;
    if (msg.len > WIRE_MAX_MESSAGE) return RS_ETOOBIG;
    rs_json_limits_t lim = {0, SIO_JSON_MAX_DEPTH + 8};
    int rc;
    if (msg.len && msg.base[0] == '{') {
        rc = rs_json_parse(msg, &lim, out);
    } else {
        buf_t text = BUF_INIT;
        rc = wire_to_json(msg, &text, bins, nbins, SIO_MAX_ATTACHMENTS);
        if (!rc) rc = rs_json_parse(buf_span(&text), &lim, out);
        buf_free(&text);
    }
    if (!rc && !json_is_object(*out)) rc = RS_EPROTO;
    if (rc) {
        json_decref(*out);
        *out = NULL;
        for (int i = 0; i < *nbins; i++) rbuf_unref(bins[i]);
        *nbins = 0;
    }
    return rc;
}
