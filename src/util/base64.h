/* base64.h - standard base64 (RFC 4648 section 4, with padding) and the URL-safe alphabet
 * (section 5, no padding) used for ids. Pure functions. */
#ifndef ROOST_UTIL_BASE64_H
#define ROOST_UTIL_BASE64_H

#include <stddef.h>

#include "util/buf.h"

/* Encoded length of n bytes, standard alphabet with padding. */
static inline size_t base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Write the standard encoding of in[0..n) to out (base64_encoded_len(n) bytes, no NUL). */
void base64_encode(const void *in, size_t n, char *out);
/* URL-safe alphabet, no padding; writes ceil(4n/3) bytes, returns that count. */
size_t base64url_encode(const void *in, size_t n, char *out);
/* Append the standard encoding to b. 0 or RS_ENOMEM. */
int base64_append(buf_t *b, const void *in, size_t n);
/* Decode standard base64 (padding required when the length is not a multiple of 4 is
 * tolerated missing). Appends the bytes to out. Returns 0, RS_EPROTO on a character outside
 * the alphabet or bad padding, RS_ENOMEM. */
int base64_decode_append(buf_t *out, const char *in, size_t n);

#endif
