/* fuzz_json - util/json: the validator must never crash or over-read, must agree with jansson
 * (anything it accepts jansson parses; anything jansson parses within the depth limit it
 * accepts), and serialization must be a fixed point after one parse/serialize round. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/json.h"

static int on_begin(void *ctx, unsigned depth)
{
    (void)ctx;
    return depth > RS_JSON_DEPTH_HARD_MAX ? RS_EPROTO : 0;
}

static int on_member(void *ctx, unsigned depth, span_t key, int esc, rs_json_kind_t kind,
                     span_t value)
{
    buf_t *scratch = ctx;
    scratch->len = 0;
    if (rs_json_string_decode(key, scratch) == RS_EPROTO) abort();
    (void)rs_json_string_eq(key, esc, SPAN_LIT("_placeholder"));
    if (kind == RS_JSON_STRING) {
        scratch->len = 0;
        if (rs_json_string_decode(span_make(value.base + 1, value.len - 2), scratch) == RS_EPROTO)
            abort();
    }
    (void)depth;
    return 0;
}

static int on_end(void *ctx, unsigned depth)
{
    (void)ctx, (void)depth;
    return 0;
}

static void serialize_or_die(const json_t *v, buf_t *out)
{
    out->len = 0;
    int rc = rs_json_append(out, v);
    if (rc && rc != RS_ENOMEM) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    span_t text = span_make((const char *)data, size);
    rs_json_limits_t lim = {0, 64};
    buf_t scratch = BUF_INIT, s1 = BUF_INIT, s2 = BUF_INIT;
    rs_json_visitor_t vis = {&scratch, on_begin, on_member, on_end};
    rs_json_info_t info;
    int scanned = rs_json_scan(text, &lim, &vis, &info);

    /* jansson's own verdict, with the flags rs_json_parse uses (its parser recurses, but the
     * input is small and its own depth cap is 2048). */
    json_error_t jerr;
    json_t *ref = json_loadb(text.base, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    /* We refused what jansson reads? (jansson stops at a NUL byte outside strings and ignores
     * the rest - "true\0x" - which the validator rightly refuses.) */
    if (ref && scanned == RS_EPROTO && !memchr(data, 0, size)) abort();
    json_decref(ref);

    if (scanned == 0) {
        if (info.kind == RS_JSON_ARRAY && info.count && (!info.first.base || info.first.len == 0))
            abort();
        json_t *v = NULL;
        int rc = rs_json_parse(text, &lim, &v);
        if (rc == RS_ENOMEM) goto out;
        if (rc) abort(); /* validated text must parse */
        serialize_or_die(v, &s1);
        json_decref(v);
        /* Our output must read back, and re-serializing must reach a fixed point. One extra
         * round is allowed: an integer literal beyond 64 bits makes the whole document read as
         * doubles (JavaScript's model), which can round other large integers once. */
        for (int round = 0; round < 2; round++) {
            v = NULL;
            rc = rs_json_parse(buf_span(&s1), &lim, &v);
            if (rc == RS_ENOMEM) goto out;
            if (rc) abort();
            serialize_or_die(v, &s2);
            json_decref(v);
            if (span_eq(buf_span(&s1), buf_span(&s2))) break;
            if (round == 1) abort();
            buf_t t = s1;
            s1 = s2;
            s2 = t;
        }
    }
out:
    buf_free(&scratch);
    buf_free(&s1);
    buf_free(&s2);
    return 0;
}
