#include "util/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* Number tokens longer than this are checked for overflow even without an exponent: 300 digits
 * stay below DBL_MAX (about 1.8e308), so shorter plain tokens cannot overflow. */
#define NUMBER_PLAIN_SAFE_LEN 300

static inline int is_ws(unsigned c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && is_ws(*p)) p++;
    return p;
}

static inline int is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

static int hex_digit(unsigned c)
{
    if (c >= '0' && c <= '9') return (int)(c - '0');
    if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
    return -1;
}

/* Four hex digits at p (p + 4 <= end checked by the caller) -> code unit, or -1. */
static long hex4(const unsigned char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

/* Length of the well-formed UTF-8 sequence at p (p[0] >= 0x80), or 0: no overlong forms, no
 * UTF-16 surrogates, nothing above U+10FFFF - the same rule jansson applies. */
static size_t utf8_seq_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - p) < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

/* A \uXXXX escape at p (p[0] == '\\', p[1] == 'u'), joined with a following low surrogate when
 * it is a high one. Returns the code point and advances *pp, or -1 (bad hex, lone surrogate). */
static long unicode_escape(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    if (end - p < 6) return -1;
    long cp = hex4(p + 2);
    if (cp < 0) return -1;
    p += 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return -1;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return -1;
        long low = hex4(p + 2);
        if (low < 0xDC00 || low > 0xDFFF) return -1;
        p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    *pp = p;
    return cp;
}

/* Skip eight bytes at a time while none of them can be special in a JSON string: a byte
 * below 0x20, '"', '\\' or one of 0x80 and above sets its top bit in t. Borrows between bytes
 * only add false alarms, which the caller's byte loop sorts out; a special byte is never
 * skipped. Returns where the byte-wise look must start. */
static inline const unsigned char *skip_plain8(const unsigned char *p, const unsigned char *end)
{
    while (end - p >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        uint64_t t = (v - 0x2020202020202020ull) |
                     ((v ^ 0x2222222222222222ull) - 0x0101010101010101ull) |
                     ((v ^ 0x5C5C5C5C5C5C5C5Cull) - 0x0101010101010101ull) | v;
        if (t & 0x8080808080808080ull) break;
        p += 8;
    }
    return p;
}

/* A string whose opening quote is at p. Returns the byte after the closing quote, or NULL. */
static const unsigned char *scan_string(const unsigned char *p, const unsigned char *end,
                                        int *escaped)
{
    /* Printable ASCII other than '"' and '\\' needs no further look: skip runs of it. */
    static const unsigned char plain[256] = {
        [0x20 ... 0x21] = 1, /* 0x22 is '"' */
        [0x23 ... 0x5B] = 1, /* 0x5C is '\\' */
        [0x5D ... 0x7F] = 1,
    };
    p++;
    *escaped = 0;
    while (p < end) {
        p = skip_plain8(p, end);
        while (p < end && plain[*p]) p++;
        if (p >= end) return NULL;
        unsigned c = *p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c == '\\') {
            *escaped = 1;
            if (end - p < 2) return NULL;
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                break;
            case 'u':
                if (unicode_escape(&p, end) < 0) return NULL;
                break;
            default:
                return NULL;
            }
            continue;
        }
        size_t n = utf8_seq_len(p, end);
        if (!n) return NULL;
        p += n;
    }
    return NULL;
}

/* Does the number token [start, end) overflow a double? */
static int number_overflows(const unsigned char *start, size_t len)
{
    char small[64];
    char *tmp = small;
    if (len >= sizeof small) {
        tmp = malloc(len + 1);
        if (!tmp) return RS_ENOMEM;
    }
    memcpy(tmp, start, len);
    tmp[len] = '\0';
    double v = strtod(tmp, NULL);
    if (tmp != small) free(tmp);
    return isinf(v) ? 1 : 0;
}

/* A number at p (p[0] is '-' or a digit). Returns the byte after it, or NULL; *err gets
 * RS_ENOMEM when the overflow check could not allocate. */
static const unsigned char *scan_number(const unsigned char *p, const unsigned char *end, int *err)
{
    const unsigned char *start = p;
    int exponent = 0;
    if (*p == '-') p++;
    if (p >= end) return NULL;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < end && is_digit(*p)) p++;
    else
        return NULL;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) return NULL;
        while (p < end && is_digit(*p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        exponent = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !is_digit(*p)) return NULL;
        while (p < end && is_digit(*p)) p++;
    }
    if (exponent || (size_t)(p - start) > NUMBER_PLAIN_SAFE_LEN) {
        int o = number_overflows(start, (size_t)(p - start));
        if (o < 0) *err = o;
        if (o) return NULL;
    }
    return p;
}

static int key_has_nul(span_t inner);

static const unsigned char *scan_literal(const unsigned char *p, const unsigned char *end,
                                         const char *lit, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, lit, n) != 0) return NULL;
    return p + n;
}

int rs_json_scan(span_t text, const rs_json_limits_t *lim, const rs_json_visitor_t *vis,
                 rs_json_info_t *info)
{
    rs_json_info_t scratch;
    if (!info) info = &scratch;
    rs_json_info_clear(info);
    size_t max_size = lim ? lim->max_size : RS_JSON_SIZE_DEFAULT;
    unsigned max_depth = lim && lim->max_depth ? lim->max_depth : RS_JSON_DEPTH_DEFAULT;
    if (max_depth > RS_JSON_DEPTH_HARD_MAX) max_depth = RS_JSON_DEPTH_HARD_MAX;
    if (max_size && text.len > max_size) return RS_ETOOBIG;
    if (!text.base) return RS_EPROTO;

    const unsigned char *p = (const unsigned char *)text.base;
    const unsigned char *end = p + text.len;
    const unsigned char *top_start, *inner_start = NULL, *first_start = NULL, *rest_start = NULL;
    char stack[RS_JSON_DEPTH_HARD_MAX]; /* 'o' object or 'a' array, per open level */
    unsigned depth = 0;
    span_t key = SPAN_NULL;
    int key_esc = 0, esc = 0, err = 0, rc;
    rs_json_kind_t kind;

    p = skip_ws(p, end);
    top_start = p;

value:
    if (p >= end) return RS_EPROTO;
    {
        const unsigned char *vstart = p;
        int first_elem = depth == 1 && stack[0] == 'a' && info->count++ == 0;
        if (first_elem) first_start = p;
        esc = 0;
        switch (*p) {
        case '{':
        case '[':
            kind = *p == '{' ? RS_JSON_OBJECT : RS_JSON_ARRAY;
            if (depth >= max_depth) return RS_ETOOBIG;
            if (first_elem) info->first_kind = kind;
            if (depth == 0) info->kind = kind;
            if (depth && stack[depth - 1] == 'o' && vis && vis->member) {
                rc = vis->member(vis->ctx, depth, key, key_esc, kind, SPAN_NULL);
                if (rc) return rc;
            }
            stack[depth++] = kind == RS_JSON_OBJECT ? 'o' : 'a';
            p = skip_ws(p + 1, end);
            if (kind == RS_JSON_ARRAY) {
                if (depth == 1) inner_start = vstart + 1;
                if (p < end && *p == ']') goto close_array;
                goto value;
            }
            if (vis && vis->object_begin) {
                rc = vis->object_begin(vis->ctx, depth);
                if (rc) return rc;
            }
            if (p < end && *p == '}') goto close_object;
            goto member_key;
        case '"':
            kind = RS_JSON_STRING;
            p = scan_string(p, end, &esc);
            break;
        case 't':
            kind = RS_JSON_TRUE;
            p = scan_literal(p, end, "true", 4);
            break;
        case 'f':
            kind = RS_JSON_FALSE;
            p = scan_literal(p, end, "false", 5);
            break;
        case 'n':
            kind = RS_JSON_NULL;
            p = scan_literal(p, end, "null", 4);
            break;
        default:
            if (*p != '-' && !is_digit(*p)) return RS_EPROTO;
            kind = RS_JSON_NUMBER;
            p = scan_number(p, end, &err);
            break;
        }
        if (!p) return err ? err : RS_EPROTO;
        if (depth == 0) info->kind = kind;
        if (first_elem) {
            info->first_kind = kind;
            info->first_escaped = esc;
        }
        if (depth && stack[depth - 1] == 'o' && vis && vis->member) {
            rc = vis->member(vis->ctx, depth, key, key_esc, kind,
                             span_make((const char *)vstart, (size_t)(p - vstart)));
            if (rc) return rc;
        }
        goto after_value;
    }

member_key:
    if (p >= end || *p != '"') return RS_EPROTO;
    {
        const unsigned char *ks = p;
        p = scan_string(p, end, &key_esc);
        if (!p) return RS_EPROTO;
        key = span_make((const char *)ks + 1, (size_t)(p - ks - 2));
        /* jansson keeps keys as C strings: "\u0000" in a key is refused there, so here too. */
        if (key_esc && key_has_nul(key)) return RS_EPROTO;
    }
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return RS_EPROTO;
    p = skip_ws(p + 1, end);
    goto value;

close_object: /* p at '}' */
    if (vis && vis->object_end) {
        rc = vis->object_end(vis->ctx, depth);
        if (rc) return rc;
    }
    p++;
    depth--;
    goto after_value;

close_array: /* p at ']' */
    if (depth == 1) {
        info->inner = span_make((const char *)inner_start, (size_t)(p - inner_start));
        if (rest_start) info->rest = span_make((const char *)rest_start, (size_t)(p - rest_start));
    }
    p++;
    depth--;
    /* fall through */

after_value: /* p just after a complete value; depth is its container's level */
    if (depth == 1 && stack[0] == 'a' && info->count == 1 && !info->first.base)
        info->first = span_make((const char *)first_start, (size_t)(p - first_start));
    if (depth == 0) {
        info->value = span_make((const char *)top_start, (size_t)(p - top_start));
        p = skip_ws(p, end);
        return p == end ? 0 : RS_EPROTO;
    }
    p = skip_ws(p, end);
    if (p >= end) return RS_EPROTO;
    if (stack[depth - 1] == 'o') {
        if (*p == '}') goto close_object;
        if (*p != ',') return RS_EPROTO;
        p = skip_ws(p + 1, end);
        goto member_key;
    }
    if (*p == ']') goto close_array;
    if (*p != ',') return RS_EPROTO;
    if (depth == 1 && info->count == 1) rest_start = p + 1;
    p = skip_ws(p + 1, end);
    goto value;
}

int rs_json_parse(span_t text, const rs_json_limits_t *lim, json_t **out)
{
    *out = NULL;
    int rc = rs_json_scan(text, lim, NULL, NULL);
    if (rc) return rc;
    json_error_t jerr;
    size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_t *v = json_loadb(text.base, text.len, flags, &jerr);
    /* An integer literal beyond 64 bits: JavaScript reads every number as a double; do so too. */
    if (!v && json_error_code(&jerr) == json_error_numeric_overflow)
        v = json_loadb(text.base, text.len, flags | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!v) return json_error_code(&jerr) == json_error_out_of_memory ? RS_ENOMEM : RS_EPROTO;
    *out = v;
    return 0;
}

/* ---- serializer ---------------------------------------------------------------------------- */

int rs_json_append_string(buf_t *out, span_t s)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = out->len;
    if (!s.len) return buf_append(out, "\"\"", 2); /* s.base may be NULL (an empty msgpack str) */
    if (buf_reserve(out, s.len + 2)) return RS_ENOMEM;
    out->base[out->len++] = '"';
    const unsigned char *p = (const unsigned char *)s.base, *end = p + s.len, *run = p;
    for (; p < end; p++) {
        p = skip_plain8(p, end); /* bytes of 0x80 and above stop it too: only slower here */
        if (p >= end) break;
        unsigned c = *p;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (buf_append(out, run, (size_t)(p - run))) goto nomem;
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            n = 6;
        }
        if (buf_append(out, esc, n)) goto nomem;
        run = p + 1;
    }
    if (buf_append(out, run, (size_t)(p - run)) || buf_append_byte(out, '"')) goto nomem;
    return 0;
nomem:
    out->len = start;
    return RS_ENOMEM;
}

/* Does "<digits[0]>.<digits[1..k)>e<e10>" read back as exactly v? */
static int digits_round_trip(const char *digits, int k, int e10, double v)
{
    char tmp[48];
    int n = 0;
    tmp[n++] = digits[0];
    if (k > 1) {
        tmp[n++] = '.';
        memcpy(tmp + n, digits + 1, (size_t)(k - 1));
        n += k - 1;
    }
    snprintf(tmp + n, sizeof tmp - (size_t)n, "e%d", e10);
    return strtod(tmp, NULL) == v;
}

/* Add delta (+1 or -1) to the k-digit decimal integer in digits, keeping k digits: a carry out
 * of the top digit raises *e10, a borrow from 10..0 lowers it. */
static void digits_step(char *digits, int k, int *e10, int delta)
{
    int i = k - 1;
    if (delta > 0) {
        while (i >= 0 && digits[i] == '9') digits[i--] = '0';
        if (i >= 0)
            digits[i]++;
        else
            digits[0] = '1', (*e10)++;
    } else {
        while (i >= 0 && digits[i] == '0') digits[i--] = '9';
        digits[i]--;
        if (digits[0] == '0') {
            memmove(digits, digits + 1, (size_t)(k - 1));
            digits[k - 1] = '9';
            (*e10)--;
        }
    }
}

/* The k-significant-digit decimal nearest to v (v > 0) that reads back as v, if any:
 * the correctly rounded one, or at a power of two (where the rounding interval is lopsided)
 * one of its neighbours. Returns 1 and fills digits/e10 when found. */
static int digits_at(double v, int k, char *digits, int *e10)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", k - 1, v);
    int n = 0;
    const char *s = tmp;
    for (; *s && *s != 'e'; s++)
        if (is_digit((unsigned char)*s)) digits[n++] = *s;
    *e10 = atoi(s + 1);
    if (digits_round_trip(digits, k, *e10, v)) return 1;
    for (int delta = -1; delta <= 1; delta += 2) {
        char d2[24];
        int e2 = *e10;
        memcpy(d2, digits, (size_t)k);
        digits_step(d2, k, &e2, delta);
        if (digits_round_trip(d2, k, e2, v)) {
            memcpy(digits, d2, (size_t)k);
            *e10 = e2;
            return 1;
        }
    }
    return 0;
}

int rs_json_append_number(buf_t *out, double v)
{
    if (isnan(v) || isinf(v)) return buf_append(out, "null", 4);
    if (v == 0) return buf_append_byte(out, '0');
    /* Integral values below 2^53 are the common case and print exactly. */
    if (fabs(v) < 9007199254740992.0 && v == trunc(v)) return buf_appendf(out, "%.0f", v);

    /* ECMAScript's Number::toString: the fewest significant digits k that read back as v.
     * Whether k digits suffice is monotonic in k, so search; 17 always do. */
    int neg = v < 0;
    double a = neg ? -v : v;
    char digits[24], best[24];
    int e10 = 0, best_e10 = 0, lo = 1, hi = 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (digits_at(a, mid, digits, &e10))
            hi = mid;
        else
            lo = mid + 1;
    }
    digits_at(a, lo, best, &best_e10);
    int k = lo;
    while (k > 1 && best[k - 1] == '0') k--;
    memcpy(digits, best, (size_t)k);
    int n = best_e10 + 1; /* v = 0.d1d2...dk * 10^n */

    char res[64];
    int r = 0;
    if (neg) res[r++] = '-';
    if (k <= n && n <= 21) {
        memcpy(res + r, digits, (size_t)k), r += k;
        for (int i = k; i < n; i++) res[r++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(res + r, digits, (size_t)n), r += n;
        res[r++] = '.';
        memcpy(res + r, digits + n, (size_t)(k - n)), r += k - n;
    } else if (-6 < n && n <= 0) {
        res[r++] = '0', res[r++] = '.';
        for (int i = 0; i < -n; i++) res[r++] = '0';
        memcpy(res + r, digits, (size_t)k), r += k;
    } else {
        res[r++] = digits[0];
        if (k > 1) {
            res[r++] = '.';
            memcpy(res + r, digits + 1, (size_t)(k - 1)), r += k - 1;
        }
        r += snprintf(res + r, sizeof res - (size_t)r, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    return buf_append(out, res, (size_t)r);
}

static int append_value(buf_t *out, const json_t *v, unsigned depth)
{
    int rc;
    if (!v || depth > RS_JSON_DEPTH_HARD_MAX) return RS_EINVAL;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if ((rc = buf_append_byte(out, '{'))) return rc;
        int first = 1;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first && (rc = buf_append_byte(out, ','))) return rc;
            first = 0;
            span_t key = span_make(json_object_iter_key(it), json_object_iter_key_len(it));
            if ((rc = rs_json_append_string(out, key))) return rc;
            if ((rc = buf_append_byte(out, ':'))) return rc;
            if ((rc = append_value(out, json_object_iter_value(it), depth + 1))) return rc;
        }
        return buf_append_byte(out, '}');
    }
    case JSON_ARRAY: {
        if ((rc = buf_append_byte(out, '['))) return rc;
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            if (i && (rc = buf_append_byte(out, ','))) return rc;
            if ((rc = append_value(out, json_array_get(v, i), depth + 1))) return rc;
        }
        return buf_append_byte(out, ']');
    }
    case JSON_STRING:
        return rs_json_append_string(out, span_make(json_string_value(v), json_string_length(v)));
    case JSON_INTEGER: {
        /* Beyond 2^53 JavaScript holds the nearest double and prints that. */
        json_int_t i = json_integer_value(v);
        if (i > 9007199254740992LL || i < -9007199254740992LL)
            return rs_json_append_number(out, (double)i);
        return buf_appendf(out, "%" JSON_INTEGER_FORMAT, i);
    }
    case JSON_REAL:
        return rs_json_append_number(out, json_real_value(v));
    case JSON_TRUE:
        return buf_append(out, "true", 4);
    case JSON_FALSE:
        return buf_append(out, "false", 5);
    case JSON_NULL:
        return buf_append(out, "null", 4);
    }
    return RS_EINVAL;
}

int rs_json_append(buf_t *out, const json_t *v)
{
    size_t start = out->len;
    int rc = append_value(out, v, 1);
    if (rc) out->len = start;
    return rc;
}

/* ---- string bodies ------------------------------------------------------------------------- */

/* Decode one character of a string body at *pp into out (1..4 bytes); 0 when malformed. */
static size_t decode_char(const unsigned char **pp, const unsigned char *end, unsigned char *out)
{
    const unsigned char *p = *pp;
    if (*p != '\\') {
        out[0] = *p;
        *pp = p + 1;
        return 1;
    }
    if (end - p < 2) return 0;
    unsigned char c;
    switch (p[1]) {
    case '"':
        c = '"';
        break;
    case '\\':
        c = '\\';
        break;
    case '/':
        c = '/';
        break;
    case 'b':
        c = '\b';
        break;
    case 'f':
        c = '\f';
        break;
    case 'n':
        c = '\n';
        break;
    case 'r':
        c = '\r';
        break;
    case 't':
        c = '\t';
        break;
    case 'u': {
        long cp = unicode_escape(pp, end);
        if (cp < 0) return 0;
        if (cp < 0x80) {
            out[0] = (unsigned char)cp;
            return 1;
        }
        if (cp < 0x800) {
            out[0] = (unsigned char)(0xC0 | cp >> 6);
            out[1] = (unsigned char)(0x80 | (cp & 0x3F));
            return 2;
        }
        if (cp < 0x10000) {
            out[0] = (unsigned char)(0xE0 | cp >> 12);
            out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            out[2] = (unsigned char)(0x80 | (cp & 0x3F));
            return 3;
        }
        out[0] = (unsigned char)(0xF0 | cp >> 18);
        out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (unsigned char)(0x80 | (cp & 0x3F));
        return 4;
    }
    default:
        return 0;
    }
    out[0] = c;
    *pp = p + 2;
    return 1;
}

static int key_has_nul(span_t inner)
{
    const unsigned char *p = (const unsigned char *)inner.base, *end = p + inner.len;
    while (p < end) {
        unsigned char ch[4];
        size_t k = decode_char(&p, end, ch);
        if (!k) return 0;
        if (k == 1 && ch[0] == 0) return 1;
    }
    return 0;
}

int rs_json_string_decode(span_t inner, buf_t *out)
{
    /* Decoding never lengthens: an escape of n bytes yields at most n - 2 bytes, or 1 for 2. */
    if (inner.len == 0) return 0;
    if (buf_reserve(out, inner.len)) return RS_ENOMEM;
    const unsigned char *p = (const unsigned char *)inner.base, *end = p + inner.len;
    unsigned char *o = (unsigned char *)out->base + out->len;
    size_t n = 0;
    while (p < end) {
        size_t k = decode_char(&p, end, o + n);
        if (!k) return RS_EPROTO;
        n += k;
    }
    out->len += n;
    return 0;
}

int rs_json_string_eq(span_t inner, int escaped, span_t lit)
{
    if (!escaped) return span_eq(inner, lit);
    const unsigned char *p = (const unsigned char *)inner.base, *end = p + inner.len;
    size_t i = 0;
    while (p < end) {
        unsigned char ch[4];
        size_t k = decode_char(&p, end, ch);
        if (!k || lit.len - i < k || memcmp(lit.base + i, ch, k) != 0) return 0;
        i += k;
    }
    return i == lit.len;
}
