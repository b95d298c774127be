/* utf8.h - incremental UTF-8 validation (RFC 3629), fed chunk by chunk.
 *
 * WebSocket text must be rejected as soon as the first invalid byte arrives, even when a
 * character is split across frames or reads, so the validator keeps the position inside the
 * current sequence in one byte of state and never looks back. It is strict: overlong forms
 * (C0, C1, E0 80..9F, F0 80..8F), UTF-16 surrogates (ED A0..BF), code points above U+10FFFF
 * (F4 90.., F5..FF), lone continuation bytes and sequences cut short at the end of the text are
 * invalid. Noncharacters (U+FFFE, U+FDD0, ...) are valid UTF-8 and accepted. Each bad sequence
 * is reported at the first byte that can no longer start or continue a valid one. */
#ifndef ROOST_UTIL_UTF8_H
#define ROOST_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One byte of state; UTF8_STATE_INIT (all zero) is "at a character boundary". */
typedef struct utf8_state {
    uint8_t s;
} utf8_state_t;

#define UTF8_STATE_INIT ((utf8_state_t){0})

static inline void utf8_init(utf8_state_t *st)
{
    st->s = 0;
}

/* Validate the next len bytes of a text that continues whatever st has seen so far.
 * Returns len when every byte is acceptable so far (a sequence may still be open: see
 * utf8_complete), otherwise the offset in data of the first invalid byte. After a failure the
 * state stays failed and later calls return 0. No allocation; safe with len 0. */
size_t utf8_feed(utf8_state_t *st, const void *data, size_t len);

/* True when the text seen so far is valid and ends at a character boundary, i.e. it is a
 * complete valid text if it ends here. Call at the end of a message: false means a truncated
 * sequence (or an earlier failure). */
static inline bool utf8_complete(const utf8_state_t *st)
{
    return st->s == 0;
}

/* True once an invalid byte has been seen. */
bool utf8_failed(const utf8_state_t *st);

/* One shot: is s[0..n) complete, valid UTF-8? */
bool utf8_valid(const char *s, size_t n);

#endif
