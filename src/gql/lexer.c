#include "gql/lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

static const char *const kind_desc[] = {
    [GQL_TOK_SOF] = "<SOF>",
    [GQL_TOK_EOF] = "<EOF>",
    [GQL_TOK_BANG] = "\"!\"",
    [GQL_TOK_DOLLAR] = "\"$\"",
    [GQL_TOK_AMP] = "\"&\"",
    [GQL_TOK_PAREN_L] = "\"(\"",
    [GQL_TOK_PAREN_R] = "\")\"",
    [GQL_TOK_SPREAD] = "\"...\"",
    [GQL_TOK_COLON] = "\":\"",
    [GQL_TOK_EQUALS] = "\"=\"",
    [GQL_TOK_AT] = "\"@\"",
    [GQL_TOK_BRACKET_L] = "\"[\"",
    [GQL_TOK_BRACKET_R] = "\"]\"",
    [GQL_TOK_BRACE_L] = "\"{\"",
    [GQL_TOK_PIPE] = "\"|\"",
    [GQL_TOK_BRACE_R] = "\"}\"",
    [GQL_TOK_NAME] = "Name",
    [GQL_TOK_INT] = "Int",
    [GQL_TOK_FLOAT] = "Float",
    [GQL_TOK_STRING] = "String",
    [GQL_TOK_BLOCK_STRING] = "BlockString",
};

const char *gql_tok_kind_desc(enum gql_tok_kind kind)
{
    if ((unsigned)kind < sizeof kind_desc / sizeof kind_desc[0] && kind_desc[kind])
        return kind_desc[kind];
    return "<?>";
}

int gql_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

void gql_source_location(const char *src, size_t len, uint32_t off, uint32_t *line,
                         uint32_t *column)
{
    uint32_t ln = 1;
    size_t line_start = 0;
    if (off > len) off = (uint32_t)len;
    for (size_t i = 0; i < off; i++) {
        if (src[i] == '\n') {
            ln++;
            line_start = i + 1;
        } else if (src[i] == '\r') {
            if (i + 1 < len && src[i + 1] == '\n') {
                if (i + 1 < off) continue; /* the \n that follows ends the line */
            }
            ln++;
            line_start = i + 1;
        }
    }
    uint32_t col = 1;
    for (size_t i = line_start; i < off; i++) {
        unsigned char c = (unsigned char)src[i];
        if ((c & 0xC0) == 0x80) continue;        /* continuation byte */
        col += (c >= 0xF0 && c <= 0xF4) ? 2 : 1; /* astral: a UTF-16 surrogate pair */
    }
    *line = ln;
    *column = col;
}

static int lex_error(gql_lexer_t *lx, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int lex_error(gql_lexer_t *lx, size_t pos, const char *fmt, ...)
{
    int n = snprintf(lx->err, sizeof lx->err, "Syntax Error: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lx->err + n, sizeof lx->err - (size_t)n, fmt, ap);
    va_end(ap);
    lx->err_pos = (uint32_t)pos;
    return RS_EPROTO;
}

/* How graphql-js shows the character at pos in a message: "x", '"', U+00E9 or <EOF>. */
static void describe_char(const gql_lexer_t *lx, size_t pos, char *out, size_t outlen)
{
    if (pos >= lx->len) {
        snprintf(out, outlen, "<EOF>");
        return;
    }
    unsigned char c = (unsigned char)lx->src[pos];
    if (c >= 0x20 && c <= 0x7E) {
        if (c == '"')
            snprintf(out, outlen, "'\"'");
        else
            snprintf(out, outlen, "\"%c\"", c);
        return;
    }
    uint32_t cp;
    if (!gql_utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &cp)) cp = 0xFFFD;
    snprintf(out, outlen, "U+%04X", (unsigned)cp);
}

static int is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_continue(int c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int peek_at(const gql_lexer_t *lx, size_t pos)
{
    return pos < lx->len ? (unsigned char)lx->src[pos] : -1;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at pos as a 16-bit value, or -1. */
static long hex4(const gql_lexer_t *lx, size_t pos)
{
    long v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = hex_value(peek_at(lx, pos + i));
        if (h < 0) return -1;
        v = (v << 4) | h;
    }
    return v;
}

/* The raw source text [pos, pos+n) clipped to the input, for escape error messages. */
static int escape_error(gql_lexer_t *lx, size_t pos, size_t n, const char *what)
{
    if (pos + n > lx->len) n = lx->len - pos;
    /* Keep the message valid UTF-8: stop before a partial multi-byte sequence. */
    size_t ok = 0;
    while (ok < n) {
        uint32_t cp;
        int l = gql_utf8_decode((const unsigned char *)lx->src + pos + ok, n - ok, &cp);
        if (!l) break;
        ok += (size_t)l;
    }
    return lex_error(lx, pos, "Invalid %s escape sequence: \"%.*s\".", what, (int)ok,
                     lx->src + pos);
}

/* One escape sequence at pos (the backslash). Writes the decoded UTF-8 to out (when not
 * NULL) and returns the number of source bytes consumed, or a negative error. */
static int read_escape(gql_lexer_t *lx, size_t pos, char *out, size_t *outlen)
{
    int c = peek_at(lx, pos + 1);
    char ch;
    switch (c) {
    case '"':
        ch = '"';
        break;
    case '\\':
        ch = '\\';
        break;
    case '/':
        ch = '/';
        break;
    case 'b':
        ch = '\b';
        break;
    case 'f':
        ch = '\f';
        break;
    case 'n':
        ch = '\n';
        break;
    case 'r':
        ch = '\r';
        break;
    case 't':
        ch = '\t';
        break;
    case 'u': {
        uint32_t cp;
        size_t size;
        if (peek_at(lx, pos + 2) == '{') {
            /* Variable width \u{X...}: 1 to 8 hex digits naming a Unicode scalar value. */
            uint32_t point = 0;
            size = 3;
            for (;;) {
                if (size >= 12) return escape_error(lx, pos, size, "Unicode");
                int d = peek_at(lx, pos + size);
                size++;
                if (d == '}') {
                    if (size < 5 || (point >= 0xD800 && point <= 0xDFFF) || point > 0x10FFFF)
                        return escape_error(lx, pos, size, "Unicode");
                    break;
                }
                int h = hex_value(d);
                if (h < 0 || point > 0x10FFFF) return escape_error(lx, pos, size, "Unicode");
                point = (point << 4) | (uint32_t)h;
            }
            cp = point;
        } else {
            long v = hex4(lx, pos + 2);
            if (v < 0) return escape_error(lx, pos, 6, "Unicode");
            size = 6;
            if (v >= 0xD800 && v <= 0xDBFF) {
                /* A JSON-style surrogate pair is accepted only when both halves are present. */
                long lo = -1;
                if (peek_at(lx, pos + 6) == '\\' && peek_at(lx, pos + 7) == 'u')
                    lo = hex4(lx, pos + 8);
                if (lo < 0xDC00 || lo > 0xDFFF) return escape_error(lx, pos, 6, "Unicode");
                cp = 0x10000 + (((uint32_t)v - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                size = 12;
            } else if (v >= 0xDC00 && v <= 0xDFFF) {
                return escape_error(lx, pos, 6, "Unicode");
            } else {
                cp = (uint32_t)v;
            }
        }
        if (out) *outlen += utf8_encode(cp, out + *outlen);
        return (int)size;
    }
    default:
        return escape_error(lx, pos, 2, "character");
    }
    if (out) out[(*outlen)++] = ch;
    return 2;
}

/* A "..." string starting at lx->pos. Pass 1 (out NULL) validates and finds the end;
 * pass 2 decodes into out. Returns the end offset (after the closing quote) or an error. */
static long scan_string(gql_lexer_t *lx, char *out, size_t *outlen)
{
    size_t pos = lx->pos + 1;
    size_t chunk = pos;
    while (pos < lx->len) {
        unsigned char c = (unsigned char)lx->src[pos];
        if (c == '"') {
            if (out) {
                memcpy(out + *outlen, lx->src + chunk, pos - chunk);
                *outlen += pos - chunk;
            }
            return (long)(pos + 1);
        }
        if (c == '\\') {
            if (out) {
                memcpy(out + *outlen, lx->src + chunk, pos - chunk);
                *outlen += pos - chunk;
            }
            int n = read_escape(lx, pos, out, outlen);
            if (n < 0) return n;
            pos += (size_t)n;
            chunk = pos;
            continue;
        }
        if (c == '\n' || c == '\r') break;
        if (c < 0x80) {
            pos++;
            continue;
        }
        uint32_t cp;
        int l = gql_utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &cp);
        if (!l) {
            char d[16];
            describe_char(lx, pos, d, sizeof d);
            return lex_error(lx, pos, "Invalid character within String: %s.", d);
        }
        pos += (size_t)l;
    }
    return lex_error(lx, pos, "Unterminated string.");
}

/* Block string: find the end (validating UTF-8), then unescape \""" , split into lines,
 * strip the common indentation and the leading/trailing blank lines (spec 2.9.4). */
static int read_block_string(gql_lexer_t *lx)
{
    size_t start = lx->pos;
    size_t pos = start + 3;
    size_t end = 0;
    while (pos < lx->len) {
        unsigned char c = (unsigned char)lx->src[pos];
        if (c == '"' && peek_at(lx, pos + 1) == '"' && peek_at(lx, pos + 2) == '"') {
            end = pos;
            break;
        }
        if (c == '\\' && peek_at(lx, pos + 1) == '"' && peek_at(lx, pos + 2) == '"' &&
            peek_at(lx, pos + 3) == '"') {
            pos += 4;
            continue;
        }
        if (c < 0x80) {
            pos++;
            continue;
        }
        uint32_t cp;
        int l = gql_utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &cp);
        if (!l) {
            char d[16];
            describe_char(lx, pos, d, sizeof d);
            return lex_error(lx, pos, "Invalid character within String: %s.", d);
        }
        pos += (size_t)l;
    }
    if (!end) return lex_error(lx, lx->len, "Unterminated string.");

    /* Raw text with \""" unescaped and line terminators normalised to \n. */
    size_t rawcap = end - (start + 3);
    char *raw = gql_arena_alloc(lx->arena, rawcap + 1);
    if (!raw) return RS_ENOMEM;
    size_t rl = 0;
    for (size_t i = start + 3; i < end;) {
        char c = lx->src[i];
        if (c == '\\' && i + 3 < end && lx->src[i + 1] == '"' && lx->src[i + 2] == '"' &&
            lx->src[i + 3] == '"') {
            memcpy(raw + rl, "\"\"\"", 3);
            rl += 3;
            i += 4;
        } else if (c == '\r') {
            raw[rl++] = '\n';
            i += (i + 1 < end && lx->src[i + 1] == '\n') ? 2 : 1;
        } else {
            raw[rl++] = c;
            i++;
        }
    }

    /* Common indentation over the non-blank lines after the first. */
    size_t common = SIZE_MAX, first_nb = SIZE_MAX, last_nb = 0, line = 0;
    int any_nb = 0;
    for (size_t i = 0; i <= rl; line++) {
        size_t ls = i;
        while (i < rl && raw[i] != '\n') i++;
        size_t le = i;
        size_t indent = 0;
        while (ls + indent < le && (raw[ls + indent] == ' ' || raw[ls + indent] == '\t')) indent++;
        if (indent < le - ls) {
            if (!any_nb) first_nb = line;
            any_nb = 1;
            last_nb = line;
            if (line != 0 && indent < common) common = indent;
        }
        i = le + 1;
    }
    char *out = gql_arena_alloc(lx->arena, rl + 1);
    if (!out) return RS_ENOMEM;
    size_t ol = 0;
    if (any_nb) {
        line = 0;
        for (size_t i = 0; i <= rl; line++) {
            size_t ls = i;
            while (i < rl && raw[i] != '\n') i++;
            size_t le = i;
            i = le + 1;
            if (line < first_nb || line > last_nb) continue;
            if (line != 0) {
                size_t cut = common == SIZE_MAX ? 0 : common;
                ls = (le - ls < cut) ? le : ls + cut;
            }
            if (line != first_nb) out[ol++] = '\n';
            memcpy(out + ol, raw + ls, le - ls);
            ol += le - ls;
        }
    }
    out[ol] = 0;
    lx->tok.kind = GQL_TOK_BLOCK_STRING;
    lx->tok.end = (uint32_t)(end + 3);
    lx->tok.value = out;
    lx->tok.len = ol;
    lx->pos = end + 3;
    return 0;
}

static int read_string(gql_lexer_t *lx)
{
    long end = scan_string(lx, NULL, NULL);
    if (end < 0) return (int)end;
    size_t cap = (size_t)end - lx->pos; /* decoded text is never longer than its source */
    char *out = gql_arena_alloc(lx->arena, cap + 1);
    if (!out) return RS_ENOMEM;
    size_t ol = 0;
    scan_string(lx, out, &ol);
    out[ol] = 0;
    lx->tok.kind = GQL_TOK_STRING;
    lx->tok.end = (uint32_t)end;
    lx->tok.value = out;
    lx->tok.len = ol;
    lx->pos = (size_t)end;
    return 0;
}

static long read_digits(gql_lexer_t *lx, size_t pos)
{
    if (!is_digit(peek_at(lx, pos))) {
        char d[16];
        describe_char(lx, pos, d, sizeof d);
        return lex_error(lx, pos, "Invalid number, expected digit but got: %s.", d);
    }
    while (is_digit(peek_at(lx, pos))) pos++;
    return (long)pos;
}

static int read_number(gql_lexer_t *lx)
{
    size_t pos = lx->pos;
    int is_float = 0;
    char d[16];
    if (peek_at(lx, pos) == '-') pos++;
    if (peek_at(lx, pos) == '0') {
        pos++;
        if (is_digit(peek_at(lx, pos))) {
            describe_char(lx, pos, d, sizeof d);
            return lex_error(lx, pos, "Invalid number, unexpected digit after 0: %s.", d);
        }
    } else {
        long p = read_digits(lx, pos);
        if (p < 0) return (int)p;
        pos = (size_t)p;
    }
    if (peek_at(lx, pos) == '.') {
        is_float = 1;
        long p = read_digits(lx, pos + 1);
        if (p < 0) return (int)p;
        pos = (size_t)p;
    }
    if (peek_at(lx, pos) == 'e' || peek_at(lx, pos) == 'E') {
        is_float = 1;
        pos++;
        if (peek_at(lx, pos) == '+' || peek_at(lx, pos) == '-') pos++;
        long p = read_digits(lx, pos);
        if (p < 0) return (int)p;
        pos = (size_t)p;
    }
    int c = peek_at(lx, pos);
    if (c == '.' || is_name_start(c)) {
        describe_char(lx, pos, d, sizeof d);
        return lex_error(lx, pos, "Invalid number, expected digit but got: %s.", d);
    }
    lx->tok.kind = is_float ? GQL_TOK_FLOAT : GQL_TOK_INT;
    lx->tok.end = (uint32_t)pos;
    lx->tok.value = lx->src + lx->pos;
    lx->tok.len = pos - lx->pos;
    lx->pos = pos;
    return 0;
}

void gql_lexer_init(gql_lexer_t *lx, const char *src, size_t len, gql_arena_t *arena)
{
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->len = len;
    lx->arena = arena;
    lx->tok.kind = GQL_TOK_SOF;
}

int gql_lexer_next(gql_lexer_t *lx)
{
    size_t pos = lx->pos;
    /* Skip ignored tokens. */
    for (;;) {
        if (pos >= lx->len) break;
        unsigned char c = (unsigned char)lx->src[pos];
        if (c == ' ' || c == '\t' || c == ',' || c == '\n' || c == '\r') {
            pos++;
        } else if (c == 0xEF && pos + 2 < lx->len && (unsigned char)lx->src[pos + 1] == 0xBB &&
                   (unsigned char)lx->src[pos + 2] == 0xBF) {
            pos += 3; /* U+FEFF byte order mark */
        } else if (c == '#') {
            pos++;
            while (pos < lx->len && lx->src[pos] != '\n' && lx->src[pos] != '\r') {
                unsigned char cc = (unsigned char)lx->src[pos];
                if (cc < 0x80) {
                    pos++;
                    continue;
                }
                uint32_t cp;
                int l = gql_utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &cp);
                if (!l) {
                    lx->pos = pos;
                    return lex_error(lx, pos, "Invalid character: U+FFFD.");
                }
                pos += (size_t)l;
            }
        } else {
            break;
        }
    }
    lx->pos = pos;
    lx->tok.start = (uint32_t)pos;
    lx->tok.value = NULL;
    lx->tok.len = 0;
    if (pos >= lx->len) {
        lx->tok.kind = GQL_TOK_EOF;
        lx->tok.end = (uint32_t)pos;
        return 0;
    }
    unsigned char c = (unsigned char)lx->src[pos];
    enum gql_tok_kind k = GQL_TOK_SOF;
    switch (c) {
    case '!':
        k = GQL_TOK_BANG;
        break;
    case '$':
        k = GQL_TOK_DOLLAR;
        break;
    case '&':
        k = GQL_TOK_AMP;
        break;
    case '(':
        k = GQL_TOK_PAREN_L;
        break;
    case ')':
        k = GQL_TOK_PAREN_R;
        break;
    case ':':
        k = GQL_TOK_COLON;
        break;
    case '=':
        k = GQL_TOK_EQUALS;
        break;
    case '@':
        k = GQL_TOK_AT;
        break;
    case '[':
        k = GQL_TOK_BRACKET_L;
        break;
    case ']':
        k = GQL_TOK_BRACKET_R;
        break;
    case '{':
        k = GQL_TOK_BRACE_L;
        break;
    case '|':
        k = GQL_TOK_PIPE;
        break;
    case '}':
        k = GQL_TOK_BRACE_R;
        break;
    case '.':
        if (peek_at(lx, pos + 1) == '.' && peek_at(lx, pos + 2) == '.') {
            lx->tok.kind = GQL_TOK_SPREAD;
            lx->tok.end = (uint32_t)(pos + 3);
            lx->pos = pos + 3;
            lx->ntokens++;
            return 0;
        }
        break;
    case '"': {
        int rc = (peek_at(lx, pos + 1) == '"' && peek_at(lx, pos + 2) == '"')
                     ? read_block_string(lx)
                     : read_string(lx);
        if (rc == 0) lx->ntokens++;
        return rc;
    }
    default:
        break;
    }
    if (k != GQL_TOK_SOF) {
        lx->tok.kind = k;
        lx->tok.end = (uint32_t)(pos + 1);
        lx->pos = pos + 1;
        lx->ntokens++;
        return 0;
    }
    if (is_digit(c) || c == '-') {
        int rc = read_number(lx);
        if (rc == 0) lx->ntokens++;
        return rc;
    }
    if (is_name_start(c)) {
        size_t e = pos + 1;
        while (e < lx->len && is_name_continue((unsigned char)lx->src[e])) e++;
        lx->tok.kind = GQL_TOK_NAME;
        lx->tok.end = (uint32_t)e;
        lx->tok.value = lx->src + pos;
        lx->tok.len = e - pos;
        lx->pos = e;
        lx->ntokens++;
        return 0;
    }
    if (c == '\'')
        return lex_error(lx, pos,
                         "Unexpected single quote character ('), did you mean to use a double "
                         "quote (\")?");
    uint32_t cp;
    if (c >= 0x80 && !gql_utf8_decode((const unsigned char *)lx->src + pos, lx->len - pos, &cp))
        return lex_error(lx, pos, "Invalid character: U+FFFD.");
    char d[16];
    describe_char(lx, pos, d, sizeof d);
    return lex_error(lx, pos, "Unexpected character: %s.", d);
}
