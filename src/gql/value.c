#include "gql/value.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/json.h"

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0) return rc_;                                                                   \
    } while (0)

/* ---- numbers and printing ---- */

size_t gql_format_double(double d, char *out)
{
    if (isnan(d) || isinf(d)) return (size_t)sprintf(out, "null");
    if (d == 0) return (size_t)sprintf(out, "0");
    char e[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d) break;
    }
    /* e is "-d.ddde+XX": collect the digits and the decimal exponent. */
    char digits[24];
    int k = 0, neg = 0;
    const char *p = e;
    if (*p == '-') neg = 1, p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0') k--;
    int n = atoi(p + 1) + 1; /* value = 0.digits * 10^n */
    char *o = out;
    if (neg) *o++ = '-';
    if (k <= n && n <= 21) {
        memcpy(o, digits, (size_t)k);
        o += k;
        for (int i = k; i < n; i++) *o++ = '0';
    } else if (0 < n && n <= 21) {
        memcpy(o, digits, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, digits + n, (size_t)(k - n));
        o += k - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n; i++) *o++ = '0';
        memcpy(o, digits, (size_t)k);
        o += k;
    } else {
        *o++ = digits[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += sprintf(o, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    *o = 0;
    return (size_t)(o - out);
}

/* JSON string escaping (for inspect, which uses JSON.stringify: util/json writes exactly that). */
static int json_quote(const char *s, size_t len, buf_t *out)
{
    return rs_json_append_string(out, span_make(s, len));
}

static int inspect_at(const json_t *v, buf_t *out, int depth)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_NULL:
        return buf_append_cstr(out, "null");
    case JSON_TRUE:
        return buf_append_cstr(out, "true");
    case JSON_FALSE:
        return buf_append_cstr(out, "false");
    case JSON_INTEGER:
        return buf_appendf(out, "%lld", (long long)json_integer_value(v));
    case JSON_REAL:
        gql_format_double(json_real_value(v), num);
        return buf_append_cstr(out, num);
    case JSON_STRING:
        return json_quote(json_string_value(v), json_string_length(v), out);
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0) return buf_append_cstr(out, "[]");
        if (depth > 2) return buf_append_cstr(out, "[Array]");
        TRY(buf_append_byte(out, '['));
        for (size_t i = 0; i < n && i < 10; i++) {
            if (i) TRY(buf_append_cstr(out, ", "));
            TRY(inspect_at(json_array_get(v, i), out, depth + 1));
        }
        if (n > 10) TRY(buf_appendf(out, ", ... %zu more item%s", n - 10, n - 10 > 1 ? "s" : ""));
        return buf_append_byte(out, ']');
    }
    case JSON_OBJECT: {
        if (json_object_size(v) == 0) return buf_append_cstr(out, "{}");
        if (depth > 2) return buf_append_cstr(out, "[Object]");
        TRY(buf_append_cstr(out, "{ "));
        const char *key;
        json_t *val;
        int first = 1;
        json_object_foreach((json_t *)v, key, val)
        {
            if (!first) TRY(buf_append_cstr(out, ", "));
            first = 0;
            TRY(buf_appendf(out, "%s: ", key));
            TRY(inspect_at(val, out, depth + 1));
        }
        return buf_append_cstr(out, " }");
    }
    }
    return 0;
}

int gql_inspect_json(const json_t *v, buf_t *out)
{
    if (!v) return buf_append_cstr(out, "undefined");
    return inspect_at(v, out, 1);
}

int gql_print_string(const char *s, size_t len, buf_t *out)
{
    TRY(buf_append_byte(out, '"'));
    size_t chunk = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char tmp[8];
        if (c == '"')
            rep = "\\\"";
        else if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '\r')
            rep = "\\r";
        else if (c == '\t')
            rep = "\\t";
        else if (c == '\b')
            rep = "\\b";
        else if (c == '\f')
            rep = "\\f";
        else if (c < 0x20 || c == 0x7F) {
            snprintf(tmp, sizeof tmp, "\\u%04X", c);
            rep = tmp;
        } else if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] <= 0x9F) {
            /* U+0080..U+009F (C1 controls) are escaped too. */
            snprintf(tmp, sizeof tmp, "\\u%04X", (unsigned char)s[i + 1]);
            TRY(buf_append(out, s + chunk, i - chunk));
            TRY(buf_append_cstr(out, tmp));
            i++;
            chunk = i + 1;
            continue;
        }
        if (!rep) continue;
        TRY(buf_append(out, s + chunk, i - chunk));
        TRY(buf_append_cstr(out, rep));
        chunk = i + 1;
    }
    TRY(buf_append(out, s + chunk, len - chunk));
    return buf_append_byte(out, '"');
}

int gql_ast_value_print(const gql_ast_value_t *v, buf_t *out)
{
    switch (v->kind) {
    case GQL_AV_VARIABLE:
        TRY(buf_append_byte(out, '$'));
        return buf_append_span(out, v->text);
    case GQL_AV_INT:
    case GQL_AV_FLOAT:
    case GQL_AV_ENUM:
        return buf_append_span(out, v->text);
    case GQL_AV_STRING:
        if (v->block && !memchr(v->text.base, '\\', v->text.len)) {
            int multi = memchr(v->text.base, '\n', v->text.len) != NULL;
            TRY(buf_append_cstr(out, multi ? "\"\"\"\n" : "\"\"\""));
            TRY(buf_append_span(out, v->text));
            return buf_append_cstr(out, multi ? "\n\"\"\"" : "\"\"\"");
        }
        return gql_print_string(v->text.base, v->text.len, out);
    case GQL_AV_BOOLEAN:
        return buf_append_cstr(out, v->boolean ? "true" : "false");
    case GQL_AV_NULL:
        return buf_append_cstr(out, "null");
    case GQL_AV_LIST:
        TRY(buf_append_byte(out, '['));
        for (const gql_ast_value_t *i = v->items; i; i = i->next) {
            if (i != v->items) TRY(buf_append_cstr(out, ", "));
            TRY(gql_ast_value_print(i, out));
        }
        return buf_append_byte(out, ']');
    case GQL_AV_OBJECT:
        TRY(buf_append_byte(out, '{'));
        for (const gql_ast_objfield_t *f = v->fields; f; f = f->next) {
            if (f != v->fields) TRY(buf_append_cstr(out, ", "));
            TRY(buf_append_span(out, f->name));
            TRY(buf_append_cstr(out, ": "));
            TRY(gql_ast_value_print(f->value, out));
        }
        return buf_append_byte(out, '}');
    }
    return 0;
}

/* ---- suggestions ---- */

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Optimal-string-alignment distance between a and b (case-insensitively), or -1 when it
 * is over threshold. Exact match 0, case-only difference 1. */
static int lexical_distance(span_t a, const char *bs, size_t blen, int threshold)
{
    if (a.len == blen && memcmp(a.base, bs, blen) == 0) return 0;
    if (a.len == blen && strncasecmp(a.base, bs, blen) == 0) return 1;
    const char *x = a.base, *y = bs;
    size_t xl = a.len, yl = blen;
    if (xl < yl) {
        const char *t = x;
        x = y, y = t;
        size_t tl = xl;
        xl = yl, yl = tl;
    }
    if ((int)(xl - yl) > threshold || yl > 64) return -1;
    int rows[3][66];
    for (size_t j = 0; j <= yl; j++) rows[0][j] = (int)j;
    for (size_t i = 1; i <= xl; i++) {
        int *up = rows[(i - 1) % 3], *cur = rows[i % 3];
        int smallest = cur[0] = (int)i;
        for (size_t j = 1; j <= yl; j++) {
            int cost = lower((unsigned char)x[i - 1]) == lower((unsigned char)y[j - 1]) ? 0 : 1;
            int best = up[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (up[j - 1] + cost < best) best = up[j - 1] + cost;
            if (i > 1 && j > 1 &&
                lower((unsigned char)x[i - 1]) == lower((unsigned char)y[j - 2]) &&
                lower((unsigned char)x[i - 2]) == lower((unsigned char)y[j - 1])) {
                int t = rows[(i - 2) % 3][j - 2] + 1;
                if (t < best) best = t;
            }
            cur[j] = best;
            if (best < smallest) smallest = best;
        }
        if (smallest > threshold) return -1;
    }
    int d = rows[xl % 3][yl];
    return d <= threshold ? d : -1;
}

int gql_did_you_mean(span_t input, const char *const *names, size_t n, const char *sub, buf_t *out)
{
    if (input.len > 64) return 0;
    int threshold = (int)(input.len * 4 / 10) + 1;
    const char *best[5];
    int dist[5];
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        int d = lexical_distance(input, names[i], strlen(names[i]), threshold);
        if (d < 0) continue;
        /* insertion into the five best, by distance then name */
        size_t pos = nb;
        while (pos > 0 &&
               (dist[pos - 1] > d || (dist[pos - 1] == d && strcmp(best[pos - 1], names[i]) > 0)))
            pos--;
        if (pos >= 5) continue;
        size_t end = nb < 5 ? nb : 4;
        for (size_t j = end; j > pos; j--) best[j] = best[j - 1], dist[j] = dist[j - 1];
        best[pos] = names[i];
        dist[pos] = d;
        if (nb < 5) nb++;
    }
    if (nb == 0) return 0;
    TRY(buf_append_cstr(out, " Did you mean "));
    if (sub) TRY(buf_appendf(out, "%s ", sub));
    for (size_t i = 0; i < nb; i++) {
        if (i > 0) TRY(buf_append_cstr(out, nb == 2 ? " or " : (i == nb - 1 ? ", or " : ", ")));
        TRY(buf_appendf(out, "\"%s\"", best[i]));
    }
    return buf_append_byte(out, '?');
}

/* ---- leaf literal parsing ---- */

static int parse_int_lexeme(span_t t, long long *out)
{
    char tmp[32];
    if (t.len >= sizeof tmp) return -1;
    memcpy(tmp, t.base, t.len);
    tmp[t.len] = 0;
    errno = 0;
    long long v = strtoll(tmp, NULL, 10);
    if (errno) return -1;
    *out = v;
    return 0;
}

static double parse_float_lexeme(span_t t)
{
    char tmp[64];
    if (t.len < sizeof tmp) {
        memcpy(tmp, t.base, t.len);
        tmp[t.len] = 0;
        return strtod(tmp, NULL);
    }
    char *big = strndup(t.base, t.len);
    if (!big) return NAN;
    double d = strtod(big, NULL);
    free(big);
    return d;
}

static int literal_error(buf_t *err, const char *prefix, const gql_ast_value_t *v)
{
    buf_append_cstr(err, prefix);
    gql_ast_value_print(v, err);
    return RS_EPROTO;
}

static int enum_has(const gql_type_t *t, span_t name)
{
    for (uint32_t i = 0; i < t->nvalues; i++)
        if (t->values[i].name_len == name.len &&
            memcmp(t->values[i].name, name.base, name.len) == 0)
            return 1;
    return 0;
}

static int enum_suggest(const gql_type_t *t, span_t input, buf_t *err)
{
    const char *names[256];
    uint32_t n = t->nvalues < 256 ? t->nvalues : 256;
    for (uint32_t i = 0; i < n; i++) names[i] = t->values[i].name;
    return gql_did_you_mean(input, names, n, "the enum value", err);
}

/* A literal without a type (for custom scalars): the json it spells. */
static json_t *untyped_literal(const gql_ast_value_t *v)
{
    switch (v->kind) {
    case GQL_AV_INT: {
        long long i;
        if (parse_int_lexeme(v->text, &i) == 0) return json_integer(i);
        return json_real(parse_float_lexeme(v->text));
    }
    case GQL_AV_FLOAT:
        return json_real(parse_float_lexeme(v->text));
    case GQL_AV_STRING:
        return json_stringn_nocheck(v->text.base, v->text.len);
    case GQL_AV_BOOLEAN:
        return json_boolean(v->boolean);
    case GQL_AV_NULL:
        return json_null();
    case GQL_AV_ENUM:
        return json_stringn_nocheck(v->text.base, v->text.len);
    case GQL_AV_VARIABLE:
        return json_null();
    case GQL_AV_LIST: {
        json_t *a = json_array();
        for (const gql_ast_value_t *i = v->items; a && i; i = i->next)
            json_array_append_new(a, untyped_literal(i));
        return a;
    }
    case GQL_AV_OBJECT: {
        json_t *o = json_object();
        for (const gql_ast_objfield_t *f = v->fields; o && f; f = f->next) {
            char key[256];
            size_t kl = f->name.len < 255 ? f->name.len : 255;
            memcpy(key, f->name.base, kl);
            key[kl] = 0;
            json_object_set_new(o, key, untyped_literal(f->value));
        }
        return o;
    }
    }
    return json_null();
}

int gql_leaf_parse_literal(const gql_type_t *t, const gql_ast_value_t *v, json_t **out, buf_t *err)
{
    *out = NULL;
    if (t->kind == GQL_ENUM) {
        if (v->kind != GQL_AV_ENUM) {
            buf_appendf(err, "Enum \"%s\" cannot represent non-enum value: ", t->name);
            gql_ast_value_print(v, err);
            buf_append_byte(err, '.');
            buf_t printed = BUF_INIT;
            gql_ast_value_print(v, &printed);
            enum_suggest(t, buf_span(&printed), err);
            buf_free(&printed);
            return RS_EPROTO;
        }
        if (!enum_has(t, v->text)) {
            buf_appendf(err, "Value \"%.*s\" does not exist in \"%s\" enum.", (int)v->text.len,
                        v->text.base, t->name);
            enum_suggest(t, v->text, err);
            return RS_EPROTO;
        }
        *out = json_stringn_nocheck(v->text.base, v->text.len);
        return *out ? 0 : RS_ENOMEM;
    }
    switch (t->builtin) {
    case GQL_INT: {
        if (v->kind != GQL_AV_INT)
            return literal_error(err, "Int cannot represent non-integer value: ", v);
        long long i;
        if (parse_int_lexeme(v->text, &i) < 0 || i > INT32_MAX || i < INT32_MIN)
            return literal_error(err, "Int cannot represent non 32-bit signed integer value: ", v);
        *out = json_integer(i);
        break;
    }
    case GQL_FLOAT:
        if (v->kind != GQL_AV_INT && v->kind != GQL_AV_FLOAT)
            return literal_error(err, "Float cannot represent non numeric value: ", v);
        {
            double d = parse_float_lexeme(v->text);
            if (!isfinite(d))
                return literal_error(err, "Float cannot represent non numeric value: ", v);
            *out = json_real(d);
        }
        break;
    case GQL_STRING:
        if (v->kind != GQL_AV_STRING)
            return literal_error(err, "String cannot represent a non string value: ", v);
        *out = json_stringn_nocheck(v->text.base, v->text.len);
        break;
    case GQL_BOOLEAN:
        if (v->kind != GQL_AV_BOOLEAN)
            return literal_error(err, "Boolean cannot represent a non boolean value: ", v);
        *out = json_boolean(v->boolean);
        break;
    case GQL_ID:
        if (v->kind != GQL_AV_STRING && v->kind != GQL_AV_INT)
            return literal_error(err,
                                 "ID cannot represent a non-string and non-integer value: ", v);
        *out = json_stringn_nocheck(v->text.base, v->text.len);
        break;
    case GQL_CUSTOM: {
        json_t *raw = untyped_literal(v);
        if (!raw) return RS_ENOMEM;
        if (!t->parse) {
            *out = raw;
            return 0;
        }
        int rc = t->parse(t->scalar_udata, raw, out, err);
        json_decref(raw);
        if (rc < 0) {
            *out = NULL;
            if (rc == RS_ENOMEM) return rc;
            if (err->len == 0) literal_error(err, "Invalid value: ", v);
            return RS_EPROTO;
        }
        break;
    }
    }
    return *out ? 0 : RS_ENOMEM;
}

/* ---- literal to value (valueFromAST) ---- */

static json_t *var_value(json_t *vars, span_t name)
{
    if (!vars || name.len > 255) return NULL;
    char key[256];
    memcpy(key, name.base, name.len);
    key[name.len] = 0;
    return json_object_get(vars, key);
}

int gql_value_from_ast(const gql_type_t *type, const gql_ast_value_t *v, json_t *vars, json_t **out,
                       buf_t *err)
{
    *out = NULL;
    if (v->kind == GQL_AV_VARIABLE) {
        json_t *val = var_value(vars, v->text);
        if (!val) return GQL_VALUE_ABSENT;
        if (json_is_null(val) && type->kind == GQL_NON_NULL) {
            buf_append_cstr(err, "Expected a non-null value.");
            return RS_EPROTO;
        }
        /* Variables were coerced to their declared type, which validation made sure fits. */
        *out = json_incref(val);
        return 0;
    }
    if (type->kind == GQL_NON_NULL) {
        if (v->kind == GQL_AV_NULL) {
            buf_append_cstr(err, "Expected a non-null value.");
            return RS_EPROTO;
        }
        return gql_value_from_ast(type->of_type, v, vars, out, err);
    }
    if (v->kind == GQL_AV_NULL) {
        *out = json_null();
        return 0;
    }
    if (type->kind == GQL_LIST) {
        json_t *arr = json_array();
        if (!arr) return RS_ENOMEM;
        if (v->kind == GQL_AV_LIST) {
            for (const gql_ast_value_t *i = v->items; i; i = i->next) {
                json_t *item;
                int rc = gql_value_from_ast(type->of_type, i, vars, &item, err);
                if (rc == GQL_VALUE_ABSENT) {
                    /* A missing variable inside a list reads as null. */
                    if (type->of_type->kind == GQL_NON_NULL) {
                        json_decref(arr);
                        buf_append_cstr(err, "Expected a non-null value.");
                        return RS_EPROTO;
                    }
                    item = json_null();
                } else if (rc < 0) {
                    json_decref(arr);
                    return rc;
                }
                json_array_append_new(arr, item);
            }
        } else {
            json_t *item;
            int rc = gql_value_from_ast(type->of_type, v, vars, &item, err);
            if (rc != 0) {
                json_decref(arr);
                return rc;
            }
            json_array_append_new(arr, item);
        }
        *out = arr;
        return 0;
    }
    if (type->kind == GQL_INPUT_OBJECT) {
        if (v->kind != GQL_AV_OBJECT) {
            buf_appendf(err, "Expected type \"%s\" to be an object.", type->name);
            return RS_EPROTO;
        }
        json_t *obj = json_object();
        if (!obj) return RS_ENOMEM;
        for (uint32_t i = 0; i < type->ninputs; i++) {
            const gql_input_value_t *fd = &type->inputs[i];
            const gql_ast_objfield_t *f = v->fields;
            while (f && !(f->name.len == fd->name_len &&
                          memcmp(f->name.base, fd->name, fd->name_len) == 0))
                f = f->next;
            json_t *fv = NULL;
            int rc = f ? gql_value_from_ast(fd->type, f->value, vars, &fv, err) : GQL_VALUE_ABSENT;
            if (rc < 0) {
                json_decref(obj);
                return rc;
            }
            if (rc == GQL_VALUE_ABSENT) {
                if (fd->defval) {
                    fv = json_deep_copy(fd->defval);
                } else if (fd->type->kind == GQL_NON_NULL) {
                    buf_appendf(err, "Field \"%s.%s\" was not provided.", type->name, fd->name);
                    json_decref(obj);
                    return RS_EPROTO;
                } else {
                    continue;
                }
            }
            json_object_set_new_nocheck(obj, fd->name, fv);
        }
        *out = obj;
        return 0;
    }
    /* Leaf */
    int rc = gql_leaf_parse_literal(type, v, out, err);
    return rc;
}

/* ---- json input coercion (variables) ---- */

typedef struct coerce_ctx {
    gql_coerce_err_fn onerr;
    void *arg;
    buf_t path;
    buf_t msg;
    int failed;
} coerce_ctx_t;

static void coerce_fail(coerce_ctx_t *c, const json_t *invalid)
{
    c->failed = 1;
    c->onerr(c->arg, c->path.len ? buf_cstr(&c->path) : "", invalid,
             c->msg.len ? buf_cstr(&c->msg) : "");
    c->msg.len = 0;
}

static int coerce_leaf(const gql_type_t *t, json_t *in, json_t **out, buf_t *msg)
{
    *out = NULL;
    if (t->kind == GQL_ENUM) {
        if (!json_is_string(in)) {
            buf_appendf(msg, "Enum \"%s\" cannot represent non-string value: ", t->name);
            buf_t shown = BUF_INIT;
            gql_inspect_json(in, &shown);
            buf_append(msg, shown.base, shown.len);
            buf_append_byte(msg, '.');
            enum_suggest(t, buf_span(&shown), msg);
            buf_free(&shown);
            return RS_EPROTO;
        }
        span_t name = span_make(json_string_value(in), json_string_length(in));
        if (!enum_has(t, name)) {
            buf_appendf(msg, "Value \"%.*s\" does not exist in \"%s\" enum.", (int)name.len,
                        name.base, t->name);
            enum_suggest(t, name, msg);
            return RS_EPROTO;
        }
        *out = json_incref(in);
        return 0;
    }
    switch (t->builtin) {
    case GQL_INT: {
        double d;
        if (json_is_integer(in)) {
            json_int_t i = json_integer_value(in);
            if (i > INT32_MAX || i < INT32_MIN) goto int_range;
            *out = json_incref(in);
            return 0;
        }
        d = json_is_real(in) ? json_real_value(in) : 0.5;
        if (d != floor(d)) {
            buf_append_cstr(msg, "Int cannot represent non-integer value: ");
            gql_inspect_json(in, msg);
            return RS_EPROTO;
        }
        if (d > INT32_MAX || d < INT32_MIN) goto int_range;
        *out = json_integer((json_int_t)d);
        return *out ? 0 : RS_ENOMEM;
    int_range:
        buf_append_cstr(msg, "Int cannot represent non 32-bit signed integer value: ");
        gql_inspect_json(in, msg);
        return RS_EPROTO;
    }
    case GQL_FLOAT:
        if (!json_is_number(in)) {
            buf_append_cstr(msg, "Float cannot represent non numeric value: ");
            gql_inspect_json(in, msg);
            return RS_EPROTO;
        }
        *out = json_real(json_number_value(in));
        return *out ? 0 : RS_ENOMEM;
    case GQL_STRING:
        if (!json_is_string(in)) {
            buf_append_cstr(msg, "String cannot represent a non string value: ");
            gql_inspect_json(in, msg);
            return RS_EPROTO;
        }
        *out = json_incref(in);
        return 0;
    case GQL_BOOLEAN:
        if (!json_is_boolean(in)) {
            buf_append_cstr(msg, "Boolean cannot represent a non boolean value: ");
            gql_inspect_json(in, msg);
            return RS_EPROTO;
        }
        *out = json_incref(in);
        return 0;
    case GQL_ID:
        if (json_is_string(in)) {
            *out = json_incref(in);
            return 0;
        }
        if (json_is_integer(in)) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(in));
            *out = json_string(tmp);
            return *out ? 0 : RS_ENOMEM;
        }
        buf_append_cstr(msg, "ID cannot represent value: ");
        gql_inspect_json(in, msg);
        return RS_EPROTO;
    case GQL_CUSTOM:
        if (!t->parse) {
            *out = json_incref(in);
            return 0;
        }
        {
            int rc = t->parse(t->scalar_udata, in, out, msg);
            if (rc < 0) {
                *out = NULL;
                if (rc == RS_ENOMEM) return rc;
                if (msg->len == 0) buf_appendf(msg, "Expected type \"%s\".", t->name);
                return RS_EPROTO;
            }
            return *out ? 0 : RS_ENOMEM;
        }
    }
    return RS_EPROTO;
}

static int coerce_at(coerce_ctx_t *c, const gql_type_t *t, json_t *in, json_t **out, int depth)
{
    *out = NULL;
    if (depth > GQL_COERCE_MAX_DEPTH) {
        buf_append_cstr(&c->msg, "Value is nested too deeply.");
        coerce_fail(c, in);
        return RS_EPROTO;
    }
    if (t->kind == GQL_NON_NULL) {
        if (json_is_null(in)) {
            buf_append_cstr(&c->msg, "Expected non-nullable type \"");
            gql_type_print(t, &c->msg);
            buf_append_cstr(&c->msg, "\" not to be null.");
            coerce_fail(c, in);
            return RS_EPROTO;
        }
        return coerce_at(c, t->of_type, in, out, depth);
    }
    if (json_is_null(in)) {
        *out = json_null();
        return 0;
    }
    if (t->kind == GQL_LIST) {
        json_t *arr = json_array();
        if (!arr) return RS_ENOMEM;
        if (!json_is_array(in)) {
            json_t *item;
            int rc = coerce_at(c, t->of_type, in, &item, depth + 1);
            if (rc < 0) {
                json_decref(arr);
                return rc;
            }
            json_array_append_new(arr, item);
            *out = arr;
            return 0;
        }
        int bad = 0;
        for (size_t i = 0; i < json_array_size(in); i++) {
            size_t mark = c->path.len;
            buf_appendf(&c->path, "[%zu]", i);
            json_t *item;
            int rc = coerce_at(c, t->of_type, json_array_get(in, i), &item, depth + 1);
            c->path.len = mark;
            if (rc == RS_ENOMEM) {
                json_decref(arr);
                return rc;
            }
            if (rc < 0)
                bad = 1;
            else
                json_array_append_new(arr, item);
        }
        if (bad) {
            json_decref(arr);
            return RS_EPROTO;
        }
        *out = arr;
        return 0;
    }
    if (t->kind == GQL_INPUT_OBJECT) {
        if (!json_is_object(in)) {
            buf_appendf(&c->msg, "Expected type \"%s\" to be an object.", t->name);
            coerce_fail(c, in);
            return RS_EPROTO;
        }
        json_t *obj = json_object();
        if (!obj) return RS_ENOMEM;
        int bad = 0;
        for (uint32_t i = 0; i < t->ninputs; i++) {
            const gql_input_value_t *fd = &t->inputs[i];
            json_t *fv = json_object_get(in, fd->name);
            if (!fv) {
                if (fd->defval) {
                    json_object_set_new_nocheck(obj, fd->name, json_deep_copy(fd->defval));
                } else if (fd->type->kind == GQL_NON_NULL) {
                    buf_appendf(&c->msg, "Field \"%s\" of required type \"", fd->name);
                    gql_type_print(fd->type, &c->msg);
                    buf_append_cstr(&c->msg, "\" was not provided.");
                    coerce_fail(c, in);
                    bad = 1;
                }
                continue;
            }
            size_t mark = c->path.len;
            buf_appendf(&c->path, ".%s", fd->name);
            json_t *cv;
            int rc = coerce_at(c, fd->type, fv, &cv, depth + 1);
            c->path.len = mark;
            if (rc == RS_ENOMEM) {
                json_decref(obj);
                return rc;
            }
            if (rc < 0)
                bad = 1;
            else
                json_object_set_new_nocheck(obj, fd->name, cv);
        }
        const char *key;
        json_t *val;
        json_object_foreach(in, key, val)
        {
            int known = 0;
            for (uint32_t i = 0; i < t->ninputs && !known; i++)
                known = strcmp(t->inputs[i].name, key) == 0;
            if (known) continue;
            buf_appendf(&c->msg, "Field \"%s\" is not defined by type \"%s\".", key, t->name);
            const char *names[256];
            uint32_t n = t->ninputs < 256 ? t->ninputs : 256;
            for (uint32_t i = 0; i < n; i++) names[i] = t->inputs[i].name;
            gql_did_you_mean(span_cstr(key), names, n, NULL, &c->msg);
            coerce_fail(c, in);
            bad = 1;
        }
        if (bad) {
            json_decref(obj);
            return RS_EPROTO;
        }
        *out = obj;
        return 0;
    }
    int rc = coerce_leaf(t, in, out, &c->msg);
    if (rc == RS_EPROTO) coerce_fail(c, in);
    return rc;
}

int gql_value_coerce(const gql_type_t *type, json_t *in, json_t **out, gql_coerce_err_fn onerr,
                     void *arg)
{
    coerce_ctx_t c = {onerr, arg, BUF_INIT, BUF_INIT, 0};
    int rc = coerce_at(&c, type, in, out, 0);
    buf_free(&c.path);
    buf_free(&c.msg);
    if (rc == 0 && c.failed) {
        json_decref(*out);
        *out = NULL;
        rc = RS_EPROTO;
    }
    return rc;
}

/* ---- printing values as literals ---- */

static int print_untyped(const json_t *v, buf_t *out, int depth)
{
    char num[32];
    if (depth > GQL_COERCE_MAX_DEPTH) return buf_append_cstr(out, "null");
    switch (json_typeof(v)) {
    case JSON_NULL:
        return buf_append_cstr(out, "null");
    case JSON_TRUE:
        return buf_append_cstr(out, "true");
    case JSON_FALSE:
        return buf_append_cstr(out, "false");
    case JSON_INTEGER:
        return buf_appendf(out, "%lld", (long long)json_integer_value(v));
    case JSON_REAL:
        gql_format_double(json_real_value(v), num);
        return buf_append_cstr(out, num);
    case JSON_STRING:
        return gql_print_string(json_string_value(v), json_string_length(v), out);
    case JSON_ARRAY:
        TRY(buf_append_byte(out, '['));
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) TRY(buf_append_cstr(out, ", "));
            TRY(print_untyped(json_array_get(v, i), out, depth + 1));
        }
        return buf_append_byte(out, ']');
    case JSON_OBJECT: {
        TRY(buf_append_byte(out, '{'));
        const char *key;
        json_t *val;
        int first = 1;
        json_object_foreach((json_t *)v, key, val)
        {
            if (!first) TRY(buf_append_cstr(out, ", "));
            first = 0;
            TRY(buf_appendf(out, "%s: ", key));
            TRY(print_untyped(val, out, depth + 1));
        }
        return buf_append_byte(out, '}');
    }
    }
    return 0;
}

static int print_typed(const gql_type_t *t, const json_t *v, buf_t *out, int depth)
{
    if (t->kind == GQL_NON_NULL) return print_typed(t->of_type, v, out, depth);
    if (json_is_null(v) || depth > GQL_COERCE_MAX_DEPTH) return buf_append_cstr(out, "null");
    if (t->kind == GQL_LIST) {
        if (!json_is_array(v)) return print_typed(t->of_type, v, out, depth + 1);
        TRY(buf_append_byte(out, '['));
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) TRY(buf_append_cstr(out, ", "));
            TRY(print_typed(t->of_type, json_array_get(v, i), out, depth + 1));
        }
        return buf_append_byte(out, ']');
    }
    if (t->kind == GQL_INPUT_OBJECT) {
        if (!json_is_object(v)) return print_untyped(v, out, depth);
        TRY(buf_append_byte(out, '{'));
        int first = 1;
        for (uint32_t i = 0; i < t->ninputs; i++) {
            json_t *fv = json_object_get(v, t->inputs[i].name);
            if (!fv) continue;
            if (!first) TRY(buf_append_cstr(out, ", "));
            first = 0;
            TRY(buf_appendf(out, "%s: ", t->inputs[i].name));
            TRY(print_typed(t->inputs[i].type, fv, out, depth + 1));
        }
        return buf_append_byte(out, '}');
    }
    if (t->kind == GQL_ENUM && json_is_string(v))
        return buf_append(out, json_string_value(v), json_string_length(v));
    if (t->builtin == GQL_ID && json_is_string(v)) {
        /* An ID that looks like an integer prints as an Int literal, like graphql-js. */
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), i = (n > 0 && s[0] == '-') ? 1 : 0;
        int intlike = n > i && (s[i] != '0' || n == i + 1);
        for (; intlike && i < n; i++) intlike = s[i] >= '0' && s[i] <= '9';
        if (intlike) return buf_append(out, s, n);
    }
    if (t->builtin == GQL_FLOAT && json_is_number(v)) {
        char num[32];
        gql_format_double(json_number_value(v), num);
        return buf_append_cstr(out, num);
    }
    return print_untyped(v, out, depth);
}

int gql_value_print(const gql_type_t *type, const json_t *v, buf_t *out)
{
    return print_typed(type, v, out, 0);
}

/* ---- output serialization ---- */

int gql_leaf_serialize(const gql_type_t *t, json_t *in, json_t **out, buf_t *err)
{
    *out = NULL;
    if (t->kind == GQL_ENUM) {
        if (json_is_string(in) &&
            enum_has(t, span_make(json_string_value(in), json_string_length(in)))) {
            *out = json_incref(in);
            return 0;
        }
        buf_appendf(err, "Enum \"%s\" cannot represent value: ", t->name);
        gql_inspect_json(in, err);
        return RS_EPROTO;
    }
    char num[32];
    switch (t->builtin) {
    case GQL_INT: {
        double d;
        if (json_is_integer(in)) {
            json_int_t i = json_integer_value(in);
            if (i > INT32_MAX || i < INT32_MIN) goto int_range;
            *out = json_incref(in);
            return 0;
        }
        if (json_is_boolean(in)) {
            *out = json_integer(json_is_true(in));
            return 0;
        }
        if (json_is_string(in) && json_string_length(in) > 0) {
            char *end;
            d = strtod(json_string_value(in), &end);
            if (*end) goto int_type;
        } else if (json_is_real(in)) {
            d = json_real_value(in);
        } else {
            goto int_type;
        }
        if (d != floor(d) || !isfinite(d)) goto int_type;
        if (d > INT32_MAX || d < INT32_MIN) goto int_range;
        *out = json_integer((json_int_t)d);
        return 0;
    int_type:
        buf_append_cstr(err, "Int cannot represent non-integer value: ");
        gql_inspect_json(in, err);
        return RS_EPROTO;
    int_range:
        buf_append_cstr(err, "Int cannot represent non 32-bit signed integer value: ");
        gql_inspect_json(in, err);
        return RS_EPROTO;
    }
    case GQL_FLOAT: {
        double d;
        if (json_is_number(in))
            d = json_number_value(in);
        else if (json_is_boolean(in))
            d = json_is_true(in);
        else if (json_is_string(in) && json_string_length(in) > 0) {
            char *end;
            d = strtod(json_string_value(in), &end);
            if (*end) d = NAN;
        } else
            d = NAN;
        if (!isfinite(d)) {
            buf_append_cstr(err, "Float cannot represent non numeric value: ");
            gql_inspect_json(in, err);
            return RS_EPROTO;
        }
        *out = json_is_real(in) ? json_incref(in) : json_real(d);
        return 0;
    }
    case GQL_STRING:
        if (json_is_string(in)) {
            *out = json_incref(in);
            return 0;
        }
        if (json_is_boolean(in)) {
            *out = json_string(json_is_true(in) ? "true" : "false");
            return 0;
        }
        if (json_is_integer(in)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(in));
            *out = json_string(num);
            return 0;
        }
        if (json_is_real(in) && isfinite(json_real_value(in))) {
            gql_format_double(json_real_value(in), num);
            *out = json_string(num);
            return 0;
        }
        buf_append_cstr(err, "String cannot represent value: ");
        gql_inspect_json(in, err);
        return RS_EPROTO;
    case GQL_BOOLEAN:
        if (json_is_boolean(in)) {
            *out = json_incref(in);
            return 0;
        }
        if (json_is_number(in) && isfinite(json_number_value(in))) {
            *out = json_boolean(json_number_value(in) != 0);
            return 0;
        }
        buf_append_cstr(err, "Boolean cannot represent a non boolean value: ");
        gql_inspect_json(in, err);
        return RS_EPROTO;
    case GQL_ID:
        if (json_is_string(in)) {
            *out = json_incref(in);
            return 0;
        }
        if (json_is_integer(in)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(in));
            *out = json_string(num);
            return 0;
        }
        if (json_is_real(in) && json_real_value(in) == floor(json_real_value(in)) &&
            fabs(json_real_value(in)) < 9007199254740992.0) {
            snprintf(num, sizeof num, "%lld", (long long)json_real_value(in));
            *out = json_string(num);
            return 0;
        }
        buf_append_cstr(err, "ID cannot represent value: ");
        gql_inspect_json(in, err);
        return RS_EPROTO;
    case GQL_CUSTOM:
        if (!t->serialize) {
            *out = json_incref(in);
            return 0;
        }
        {
            int rc = t->serialize(t->scalar_udata, in, out, err);
            if (rc < 0) {
                *out = NULL;
                if (rc == RS_ENOMEM) return rc;
                if (err->len == 0) buf_appendf(err, "%s cannot represent value.", t->name);
                return RS_EPROTO;
            }
            return *out ? 0 : RS_ENOMEM;
        }
    }
    return RS_EPROTO;
}
