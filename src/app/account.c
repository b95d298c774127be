/* account.c - passwords, session secrets and account field rules (see account.h). */
#include "app/account.h"

#include <sodium.h>
#include <string.h>

#include "util/base64.h"
#include "util/err.h"

_Static_assert(ACCOUNT_PWHASH_MAX == crypto_pwhash_STRBYTES, "encoded hash size");
_Static_assert(ACCOUNT_SECRET_LEN == (ACCOUNT_SECRET_BYTES * 4 + 2) / 3, "secret length");

static const char *const pwhash_prefix = "$argon2id$";

int account_init(void)
{
    return sodium_init() < 0 ? RS_EIO : 0;
}

bool account_pwcost_meets_minimum(const struct account_pwcost *c)
{
    const size_t mib = 1024 * 1024;
    return (c->memlimit >= 19 * mib && c->opslimit >= 2) ||
           (c->memlimit >= 46 * mib && c->opslimit >= 1);
}

int account_password_check(size_t len, const char **why)
{
    const char *w = NULL;
    if (len < ACCOUNT_PASSWORD_MIN)
        w = "password must be at least 8 characters";
    else if (len > ACCOUNT_PASSWORD_MAX)
        w = "password must be at most 256 bytes";
    if (why) *why = w;
    return w ? RS_EINVAL : 0;
}

int account_password_hash(const struct account_pwcost *cost, const char *pw, size_t len, char *out)
{
    struct account_pwcost def = ACCOUNT_PWCOST_DEFAULT;
    if (!cost) cost = &def;
    if (!pw || account_password_check(len, NULL)) return RS_EINVAL;
    if (crypto_pwhash_str_alg(out, pw, len, cost->opslimit, cost->memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return RS_ENOMEM; /* argon2 fails only when it cannot allocate its memory */
    return 0;
}

int account_password_verify(const char *hash, const char *pw, size_t len)
{
    if (!hash || strncmp(hash, pwhash_prefix, strlen(pwhash_prefix)) != 0 ||
        strnlen(hash, ACCOUNT_PWHASH_MAX) >= ACCOUNT_PWHASH_MAX)
        return RS_EINVAL;
    if (!pw || account_password_check(len, NULL)) return RS_EPERM;
    return crypto_pwhash_str_verify(hash, pw, len) == 0 ? 0 : RS_EPERM;
}

void account_password_dummy_verify(const struct account_pwcost *cost, const char *pw, size_t len)
{
    /* Verifying costs one hash computation at the stored hash's parameters: so does this. */
    char out[ACCOUNT_PWHASH_MAX];
    if (!pw || account_password_check(len, NULL)) return;
    (void)account_password_hash(cost, pw, len, out);
    sodium_memzero(out, sizeof out);
}

bool account_password_needs_rehash(const struct account_pwcost *cost, const char *hash)
{
    struct account_pwcost def = ACCOUNT_PWCOST_DEFAULT;
    if (!cost) cost = &def;
    if (!hash || strncmp(hash, pwhash_prefix, strlen(pwhash_prefix)) != 0) return true;
    return crypto_pwhash_str_needs_rehash(hash, cost->opslimit, cost->memlimit) != 0;
}

void account_secret_new(char *out)
{
    unsigned char raw[ACCOUNT_SECRET_BYTES];
    randombytes_buf(raw, sizeof raw);
    size_t n = base64url_encode(raw, sizeof raw, out);
    out[n] = '\0';
    sodium_memzero(raw, sizeof raw);
}

static bool secret_wellformed(const char *s, size_t len)
{
    if (!s || len != ACCOUNT_SECRET_LEN) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    /* 43 characters carry 258 bits: the last one holds 2 padding bits that must be zero,
     * so each secret has exactly one spelling. */
    return strchr("AEIMQUYcgkosw048", s[len - 1]) != NULL;
}

int account_secret_hash(const char *secret, size_t len, char *out)
{
    unsigned char h[ACCOUNT_SECRET_HASH_LEN / 2];
    if (!secret_wellformed(secret, len)) return RS_EINVAL;
    crypto_generichash(h, sizeof h, (const unsigned char *)secret, len, NULL, 0);
    sodium_bin2hex(out, ACCOUNT_SECRET_HASH_LEN + 1, h, sizeof h);
    return 0;
}

int account_secret_check(const char *secret, size_t len, const char *stored_hash)
{
    char h[ACCOUNT_SECRET_HASH_LEN + 1];
    if (account_secret_hash(secret, len, h) != 0) return RS_EINVAL;
    if (!stored_hash ||
        strnlen(stored_hash, ACCOUNT_SECRET_HASH_LEN + 1) != ACCOUNT_SECRET_HASH_LEN)
        return RS_EPERM;
    return sodium_memcmp(h, stored_hash, ACCOUNT_SECRET_HASH_LEN) == 0 ? 0 : RS_EPERM;
}

int account_username_normalize(const char *in, size_t len, char *out, const char **why)
{
    const char *w = NULL;
    if (!in || len < ACCOUNT_USERNAME_MIN)
        w = "username must be at least 3 characters";
    else if (len > ACCOUNT_USERNAME_MAX)
        w = "username must be at most 32 characters";
    for (size_t i = 0; !w && i < len; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            w = "username may contain only letters a-z, digits, '_' and '.'";
        else
            out[i] = c;
    }
    if (why) *why = w;
    if (w) {
        if (out) out[0] = '\0';
        return RS_EINVAL;
    }
    out[len] = '\0';
    return 0;
}

/* Decode one UTF-8 sequence at s[i..n): its code point, or -1 when malformed (overlong,
 * surrogate, past U+10FFFF, truncated). */
static long utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned c = s[*i];
    size_t need;
    unsigned long cp, min;
    if (c < 0x80) {
        (*i)++;
        return (long)c;
    }
    if (c >= 0xc2 && c <= 0xdf)
        need = 1, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        need = 2, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 3, min = 0x10000, cp = c & 0x07;
    else
        return -1;
    if (n - *i - 1 < need) return -1;
    for (size_t k = 1; k <= need; k++) {
        if ((s[*i + k] & 0xc0) != 0x80) return -1;
        cp = cp << 6 | (s[*i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    *i += need + 1;
    return (long)cp;
}

/* Characters that make a name render as something it is not: controls, and the invisible
 * format characters that reorder or hide text (bidi overrides, zero-width joiners aside). */
static bool forbidden(long cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff ||
           (cp >= 0xfff9 && cp <= 0xfffb);
}

static bool is_space(long cp)
{
    return cp == ' ' || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200b) ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0x3164 || cp == 0x115f ||
           cp == 0x1160 || cp == 0x2800;
}

int account_display_name_check(const char *in, size_t len, const char **why)
{
    const unsigned char *s = (const unsigned char *)in;
    const char *w = NULL;
    int rc = RS_EINVAL;
    size_t i = 0, chars = 0;
    bool all_space = true, first_space = false, last_space = false;
    if (!in || len == 0) w = "display name must not be empty";
    while (!w && i < len) {
        long cp = utf8_next(s, len, &i);
        if (cp < 0) {
            w = "display name is not valid UTF-8";
            rc = RS_EUTF8;
        } else if (forbidden(cp)) {
            w = "display name must not contain control or direction-changing characters";
        } else if (++chars > ACCOUNT_DISPLAY_NAME_MAX) {
            w = "display name must be at most 64 characters";
        } else {
            bool sp = is_space(cp);
            if (chars == 1) first_space = sp;
            last_space = sp;
            if (!sp) all_space = false;
        }
    }
    if (!w && all_space)
        w = "display name must not be blank";
    else if (!w && (first_space || last_space))
        w = "display name must not start or end with a space";
    if (why) *why = w;
    return w ? rc : 0;
}
