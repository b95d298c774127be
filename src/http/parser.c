/* parser.c - HTTP/1.1 request head parser and chunked body decoder (see parser.h). */
#include "http/parser.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "util/err.h"

/* RFC 9110 5.6.2 tchar: the characters of methods, header names and coding names. */
static const unsigned char tchar_tab[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1,         ['&'] = 1,         ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,         ['^'] = 1,         ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static inline bool is_tchar(char c)
{
    return tchar_tab[(unsigned char)c] != 0;
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int fail(int *status, int code)
{
    *status = code;
    return RS_EPROTO;
}

static bool is_ctl_byte(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Does p[0..n) hold a control character other than HTAB? Header values are the bulk of a
 * head, so eight bytes are tested at a time: a word is looked at bytewise only when it holds
 * a byte below 0x20 (a tab, usually) or a DEL. */
static bool has_ctl(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        uint64_t x, del;
        memcpy(&x, p + j, 8);
        del = x ^ (0x7f * ones);
        if ((((x - 0x20 * ones) & ~x) | ((del - ones) & ~del)) & highs)
            for (size_t k = j; k < j + 8; k++)
                if (is_ctl_byte((unsigned char)p[k])) return true;
    }
    for (; j < n; j++)
        if (is_ctl_byte((unsigned char)p[j])) return true;
    return false;
}

/* ---- request line ---------------------------------------------------------------------- */

static void split_path_query(span_t t, http_request_head_t *out)
{
    out->query = span_split(t, '?', &out->path);
}

/* Returns 0 or the HTTP status for a target that is not one roost serves. */
static int parse_target(span_t t, http_request_head_t *out)
{
    if (t.base[0] == '/') {
        split_path_query(t, out);
        return 0;
    }
    if (t.len == 1 && t.base[0] == '*') {
        /* asterisk-form exists only for a server-wide OPTIONS (RFC 9112 3.2.4). */
        if (!span_eq_cstr(out->method, "OPTIONS")) return 400;
        out->path = t;
        out->query = SPAN_NULL;
        return 0;
    }
    /* absolute-form: proxies' form, which a server must accept too (RFC 9112 3.2.2). */
    size_t skip;
    if (t.len >= 7 && strncasecmp(t.base, "http://", 7) == 0)
        skip = 7;
    else if (t.len >= 8 && strncasecmp(t.base, "https://", 8) == 0)
        skip = 8;
    else
        return 400;
    size_t i = skip;
    while (i < t.len && t.base[i] != '/' && t.base[i] != '?') {
        if (t.base[i] == '@') return 400; /* userinfo is forbidden in http URIs */
        i++;
    }
    if (i == skip) return 400; /* empty authority */
    if (i < t.len && t.base[i] == '/') {
        split_path_query(span_make(t.base + i, t.len - i), out);
        return 0;
    }
    out->path = SPAN_LIT("/");
    out->query = i < t.len ? span_make(t.base + i + 1, t.len - i - 1) : SPAN_NULL;
    return 0;
}

/* b[0..n) is the request line without its CRLF. Returns 0, 400 or 505. */
static int parse_request_line(const char *b, size_t n, http_request_head_t *out)
{
    size_t i = 0;
    while (i < n && is_tchar(b[i])) i++;
    if (i == 0 || i == n || b[i] != ' ') return 400;
    out->method = span_make(b, i);

    size_t t0 = ++i;
    while (i < n && b[i] != ' ') {
        unsigned char c = (unsigned char)b[i];
        if (c < 0x21 || c == 0x7f) return 400;
        i++;
    }
    if (i == t0 || i == n) return 400;
    out->target = span_make(b + t0, i - t0);

    const char *v = b + i + 1;
    if (n - i - 1 != 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]) || v[6] != '.' ||
        !is_digit(v[7]))
        return 400;
    if (v[5] != '1' || v[7] > '1') return 505;
    out->minor_version = v[7] - '0';
    return parse_target(out->target, out);
}

/* b[0..n) is one header line without its CRLF. Returns 0 or 400. */
static int parse_header_line(const char *b, size_t n, http_header_t *h)
{
    if (n == 0 || b[0] == ' ' || b[0] == '\t') return 400; /* obs-fold (RFC 9112 5.2) */
    size_t i = 0;
    while (i < n && is_tchar(b[i])) i++;
    if (i == 0 || i == n || b[i] != ':') return 400; /* also whitespace before the colon */
    h->name = span_make(b, i);
    if (has_ctl(b + i + 1, n - i - 1)) return 400;
    h->value = span_trim(span_make(b + i + 1, n - i - 1));
    return 0;
}

/* ---- lines ----------------------------------------------------------------------------- */

/* Walks the lines of buf[start..stop), each ending in LF. Line lengths and the header count
 * are checked for every line before any syntax error is reported, because an incremental
 * caller learns about a too-long line before it sees the rest of the head: limits first
 * keeps the answer independent of how the input was split. With out NULL only the limits
 * are checked; otherwise the request line and headers are parsed into out. */
static int scan_lines(const char *buf, size_t start, size_t stop, http_request_head_t *out,
                      int *status)
{
    size_t pos = start, nh = 0;
    int syntax = 0;
    while (pos < stop) {
        const char *lf = memchr(buf + pos, '\n', stop - pos);
        if (!lf) break; /* stop is always just after an LF */
        size_t e = (size_t)(lf - buf);
        if (e > pos && buf[e - 1] == '\r')
            e--;
        else if (!syntax)
            syntax = 400; /* only reachable if the caller lied about prev_len */
        size_t n = e - pos;
        if (pos == start) {
            if (n > HTTP_MAX_LINE) return fail(status, 414);
            if (out && !syntax) syntax = parse_request_line(buf + pos, n, out);
        } else {
            if (n > HTTP_MAX_LINE || nh == HTTP_MAX_HEADERS) return fail(status, 431);
            if (out && !syntax) syntax = parse_header_line(buf + pos, n, &out->headers[nh]);
            nh++;
        }
        pos = (size_t)(lf - buf) + 1;
    }
    if (out) out->num_headers = nh;
    if (syntax) return fail(status, syntax);
    return 0;
}

/* ---- semantics ------------------------------------------------------------------------- */

/* Content-Length: 1*DIGIT, at most HTTP_MAX_CONTENT_LENGTH. */
static bool parse_content_length(span_t v, uint64_t *out)
{
    if (v.len == 0) return false;
    uint64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (!is_digit(v.base[i])) return false;
        n = n * 10 + (uint64_t)(v.base[i] - '0');
        if (n > HTTP_MAX_CONTENT_LENGTH) return false;
    }
    *out = n;
    return true;
}

struct te_state {
    int elements;
    bool chunked; /* "chunked" seen */
    bool other;   /* a coding roost does not implement */
    bool bad;     /* malformed list, or chunked repeated / not last */
};

static void te_add(struct te_state *te, span_t list)
{
    while (list.base) {
        span_t item;
        list = span_split(list, ',', &item);
        item = span_trim(item);
        if (item.len == 0) continue; /* empty list elements are ignored (RFC 9110 5.6.1) */
        te->elements++;
        span_t name;
        span_t params = span_split(item, ';', &name);
        name = span_trim(name);
        for (size_t i = 0; i < name.len; i++)
            if (!is_tchar(name.base[i])) te->bad = true;
        if (name.len == 0) te->bad = true;
        if (te->chunked) te->bad = true; /* something after chunked, or chunked twice */
        if (span_ieq_cstr(name, "chunked")) {
            if (params.base) te->bad = true; /* chunked takes no parameters */
            te->chunked = true;
        } else {
            te->other = true;
        }
    }
}

static int derive(http_request_head_t *h, int *status)
{
    bool has_cl = false, has_te = false, has_host = false, has_upgrade = false;
    bool conn_close = false, conn_keep = false, conn_upgrade = false;
    uint64_t cl = 0;
    struct te_state te = {0};

    h->expect_continue = 0;
    for (size_t i = 0; i < h->num_headers; i++) {
        span_t name = h->headers[i].name, v = h->headers[i].value;
        switch (name.len) {
        case 4:
            if (span_ieq_cstr(name, "host")) {
                if (has_host) return fail(status, 400);
                has_host = true;
            }
            break;
        case 6:
            if (span_ieq_cstr(name, "expect") && span_ieq_cstr(v, "100-continue"))
                h->expect_continue = 1;
            break;
        case 7:
            if (span_ieq_cstr(name, "upgrade") && v.len) has_upgrade = true;
            break;
        case 10:
            if (span_ieq_cstr(name, "connection")) {
                conn_close |= span_list_has_token(v, "close");
                conn_keep |= span_list_has_token(v, "keep-alive");
                conn_upgrade |= span_list_has_token(v, "upgrade");
            }
            break;
        case 14:
            if (span_ieq_cstr(name, "content-length")) {
                uint64_t n;
                if (!parse_content_length(v, &n)) return fail(status, 400);
                if (has_cl && n != cl) return fail(status, 400);
                has_cl = true;
                cl = n;
            }
            break;
        case 17:
            if (span_ieq_cstr(name, "transfer-encoding")) {
                has_te = true;
                te_add(&te, v);
            }
            break;
        default:
            break;
        }
    }

    if (h->minor_version == 1 && !has_host) return fail(status, 400);
    h->body_kind = HTTP_BODY_NONE;
    h->content_length = 0;
    if (has_te) {
        /* Both framings, or chunked in 1.0, is the classic smuggling vector (RFC 9112 6.1). */
        if (has_cl || h->minor_version == 0 || te.bad || te.elements == 0) return fail(status, 400);
        if (te.other) return fail(status, 501);
        h->body_kind = HTTP_BODY_CHUNKED;
    } else if (has_cl) {
        h->body_kind = HTTP_BODY_LENGTH;
        h->content_length = cl;
    }
    if (h->minor_version == 1) {
        h->keep_alive = !conn_close;
        h->upgrade = conn_upgrade && has_upgrade;
    } else {
        /* 1.0 knows neither Upgrade (RFC 9110 7.8) nor 100-continue (RFC 9110 10.1.1). */
        h->keep_alive = conn_keep && !conn_close;
        h->upgrade = 0;
        h->expect_continue = 0;
    }
    return 0;
}

/* ---- the head -------------------------------------------------------------------------- */

int http_parse_request_head(const char *buf, size_t len, size_t prev_len, http_request_head_t *out,
                            int *status)
{
    int status_unused;
    if (!status) status = &status_unused;
    *status = 0;
    if (prev_len > len) prev_len = 0;
    /* Nothing past HTTP_MAX_HEAD can belong to an acceptable head. */
    size_t limit = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;

    size_t start = 0;
    for (int empties = 0; start + 1 < limit && buf[start] == '\r' && buf[start + 1] == '\n';) {
        if (++empties > HTTP_MAX_LEADING_CRLF) return fail(status, 400);
        start += 2;
    }

    /* Look at the new bytes only; one byte back so a CR that ended the old bytes is checked
     * against the byte that follows it now. */
    size_t from = start;
    if (prev_len > 0 && prev_len - 1 > from) from = prev_len - 1;
    size_t last_lf = SIZE_MAX, bad = SIZE_MAX;
    bool new_lf = false;
    for (size_t seg = from;;) {
        const char *lfp = seg < limit ? memchr(buf + seg, '\n', limit - seg) : NULL;
        size_t p = lfp ? (size_t)(lfp - buf) : limit;
        /* Any CR before p - 1 (before the last byte when there is no LF) is not followed by
         * an LF, so it is bare; a CR as the very last byte may still be. */
        size_t cr_end = p > seg ? p - 1 : seg;
        const char *crp = cr_end > seg ? memchr(buf + seg, '\r', cr_end - seg) : NULL;
        if (crp) {
            bad = (size_t)(crp - buf);
            break;
        }
        if (!lfp) break;
        if (p == start || buf[p - 1] != '\r') {
            bad = p;
            break;
        }
        if (p >= start + 3 && buf[p - 2] == '\n' && buf[p - 3] == '\r') {
            size_t end = p + 1;
            int rc = scan_lines(buf, start, end - 2, out, status);
            if (rc < 0) return rc;
            rc = derive(out, status);
            if (rc < 0) return rc;
            return (int)end;
        }
        last_lf = p;
        if (p >= prev_len) new_lf = true;
        seg = p + 1;
    }
    size_t stop = bad != SIZE_MAX ? bad : limit;

    /* Lines completed by these bytes may be too long or too many. */
    if (new_lf) {
        int rc = scan_lines(buf, start, last_lf + 1, NULL, status);
        if (rc < 0) return rc;
    }

    /* The unfinished line (or the one holding the bad byte) may already be too long. */
    size_t ls = start;
    bool too_long = false;
    if (last_lf != SIZE_MAX) {
        ls = last_lf + 1;
    } else {
        size_t lo = stop > HTTP_MAX_LINE + 2 ? stop - (HTTP_MAX_LINE + 2) : 0;
        if (lo < start) lo = start;
        const char *lf = from > lo ? memrchr(buf + lo, '\n', from - lo) : NULL;
        if (lf) {
            ls = (size_t)(lf - buf) + 1;
        } else if (lo > start) {
            too_long = true; /* no LF in the last HTTP_MAX_LINE + 2 bytes */
            ls = memchr(buf + start, '\n', lo - start) ? lo : start;
        }
    }
    if (!too_long) {
        size_t n = stop - ls;
        if (bad != SIZE_MAX)
            too_long = n > HTTP_MAX_LINE;
        else /* a CR at the very end may be the start of the CRLF */
            too_long = n > HTTP_MAX_LINE + 1 || (n == HTTP_MAX_LINE + 1 && buf[stop - 1] != '\r');
    }
    if (too_long) return fail(status, ls == start ? 414 : 431);

    if (bad != SIZE_MAX) return fail(status, 400);
    if (limit == HTTP_MAX_HEAD) return fail(status, 431); /* the end cannot be within limits */
    return RS_EMORE;
}

span_t http_head_get(const http_request_head_t *h, const char *name)
{
    span_t n = span_cstr(name);
    for (size_t i = 0; i < h->num_headers; i++)
        if (span_ieq(h->headers[i].name, n)) return h->headers[i].value;
    return SPAN_NULL;
}

/* ---- chunked --------------------------------------------------------------------------- */

enum {
    CK_SIZE = 0, /* hex digits of the chunk size */
    CK_SIZE_WS,  /* BWS after the size */
    CK_EXT,      /* chunk extensions, skipped */
    CK_SIZE_LF,  /* CR seen at the end of the size line */
    CK_DATA,     /* chunk payload */
    CK_DATA_CR,  /* CRLF after the payload */
    CK_DATA_LF,
    CK_TRAILER_START, /* start of a trailer line, or of the final empty line */
    CK_TRAILER,       /* inside a trailer line, skipped */
    CK_TRAILER_LF,
    CK_END_LF, /* CR of the final empty line seen */
    CK_DONE,
    CK_ERROR,
};

int http_chunked_decode(http_chunked_t *st, char *buf, size_t *len, size_t *consumed)
{
    size_t n = *len, in = 0, outp = 0;
    int rc = 0;

    if (st->state == CK_DONE) {
        *len = 0;
        *consumed = 0;
        return 1;
    }
    if (st->state == CK_ERROR) goto error;

    while (in < n) {
        if (st->state == CK_DATA) {
            size_t take = n - in;
            if (take > st->remaining) take = (size_t)st->remaining;
            if (outp != in) memmove(buf + outp, buf + in, take);
            outp += take;
            in += take;
            st->remaining -= take;
            if (st->remaining == 0) st->state = CK_DATA_CR;
            continue;
        }
        char c = buf[in++];
        switch (st->state) {
        case CK_SIZE: {
            int v = hex_value(c);
            if (v >= 0) {
                if (st->ext_len == 15) goto error;
                st->remaining = (st->remaining << 4) | (uint64_t)v;
                st->ext_len++;
                break;
            }
            if (st->ext_len == 0) goto error;
            if (c == '\r') {
                st->state = CK_SIZE_LF;
                break;
            }
            if (c == ' ' || c == '\t')
                st->state = CK_SIZE_WS;
            else if (c == ';')
                st->state = CK_EXT;
            else
                goto error;
            st->ext_len++;
            break;
        }
        case CK_SIZE_WS:
        case CK_EXT:
            if (c == '\r') {
                st->state = CK_SIZE_LF;
                break;
            }
            if (st->state == CK_SIZE_WS && c == ';')
                st->state = CK_EXT;
            else if (st->state == CK_SIZE_WS ? c != ' ' && c != '\t'
                                             : is_ctl_byte((unsigned char)c))
                goto error;
            if (++st->ext_len > HTTP_MAX_LINE) goto error;
            break;
        case CK_SIZE_LF:
            if (c != '\n') goto error;
            st->ext_len = 0;
            st->state = st->remaining ? CK_DATA : CK_TRAILER_START;
            break;
        case CK_DATA_CR:
            if (c != '\r') goto error;
            st->state = CK_DATA_LF;
            break;
        case CK_DATA_LF:
            if (c != '\n') goto error;
            st->state = CK_SIZE;
            st->remaining = 0;
            st->ext_len = 0;
            break;
        case CK_TRAILER_START:
            if (c == '\r') {
                st->state = CK_END_LF;
                break;
            }
            st->state = CK_TRAILER; /* c is the first byte of a trailer line */
            __attribute__((fallthrough));
        case CK_TRAILER:
            if (c == '\r') {
                st->state = CK_TRAILER_LF;
                break;
            }
            if (is_ctl_byte((unsigned char)c)) goto error;
            if (++st->ext_len > HTTP_MAX_LINE || ++st->remaining > HTTP_MAX_HEAD) goto error;
            break;
        case CK_TRAILER_LF:
            if (c != '\n') goto error;
            st->ext_len = 0;
            st->state = CK_TRAILER_START;
            break;
        case CK_END_LF:
            if (c != '\n') goto error;
            st->state = CK_DONE;
            rc = 1;
            goto out;
        default:
            goto error;
        }
    }
out:
    *len = outp;
    *consumed = in;
    return rc;
error:
    st->state = CK_ERROR;
    *len = outp;
    *consumed = in;
    return RS_EPROTO;
}

/* ---- URL helpers ----------------------------------------------------------------------- */

int http_percent_decode(span_t in, char *out, size_t cap)
{
    if (in.len > INT_MAX) return RS_ETOOBIG;
    size_t o = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.base[i];
        if (c == '%') {
            if (in.len - i < 3) return RS_EPROTO;
            int hi = hex_value(in.base[i + 1]), lo = hex_value(in.base[i + 2]);
            if (hi < 0 || lo < 0) return RS_EPROTO;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0') return RS_EPROTO;
        if (o == cap) return RS_ETOOBIG;
        out[o++] = c;
    }
    return (int)o;
}

span_t http_query_get(span_t query, const char *key)
{
    if (!query.base || !key || !key[0]) return SPAN_NULL;
    size_t kl = strlen(key);
    span_t rest = query;
    while (rest.base) {
        span_t pair, k;
        rest = span_split(rest, '&', &pair);
        span_t v = span_split(pair, '=', &k);
        if (k.len == kl && memcmp(k.base, key, kl) == 0)
            return v.base ? v : span_make(pair.base + pair.len, 0);
    }
    return SPAN_NULL;
}

span_t http_cookie_get(span_t header_value, const char *name)
{
    size_t nlen = strlen(name);
    span_t rest = header_value;
    while (rest.base) {
        span_t item;
        rest = span_split(rest, ';', &item);
        item = span_trim(item);
        if (item.len > nlen && memcmp(item.base, name, nlen) == 0 && item.base[nlen] == '=')
            return span_make(item.base + nlen + 1, item.len - nlen - 1);
    }
    return SPAN_NULL;
}
