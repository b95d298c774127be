#include "util/utf8.h"

#include <string.h>

/* States: how much of the current sequence is still expected, and for the lead bytes whose
 * second byte has a narrower range than 80..BF, which range. Keeping those ranges in the state
 * is what lets an overlong, a surrogate or a code point above U+10FFFF fail on its second byte
 * instead of at the end of the sequence. */
enum {
    S_ACCEPT = 0, /* at a character boundary */
    S_NEED1,      /* one more 80..BF */
    S_NEED2,      /* two more 80..BF */
    S_NEED3,      /* three more 80..BF */
    S_E0,         /* after E0: A0..BF, then one more (no overlongs below U+0800) */
    S_ED,         /* after ED: 80..9F, then one more (no surrogates D800..DFFF) */
    S_F0,         /* after F0: 90..BF, then two more (no overlongs below U+10000) */
    S_F4,         /* after F4: 80..8F, then two more (nothing above U+10FFFF) */
    S_REJECT,
};

/* Next state from S_ACCEPT for a non-ASCII byte. */
static uint8_t lead_state(uint8_t c)
{
    if (c < 0xC2) return S_REJECT; /* lone continuation, or overlong C0/C1 */
    if (c < 0xE0) return S_NEED1;
    if (c == 0xE0) return S_E0;
    if (c == 0xED) return S_ED;
    if (c < 0xF0) return S_NEED2;
    if (c == 0xF0) return S_F0;
    if (c < 0xF4) return S_NEED3;
    if (c == 0xF4) return S_F4;
    return S_REJECT; /* F5..FF can never appear */
}

static uint8_t step(uint8_t s, uint8_t c)
{
    switch (s) {
    case S_ACCEPT:
        return c < 0x80 ? S_ACCEPT : lead_state(c);
    case S_NEED1:
        return (c & 0xC0) == 0x80 ? S_ACCEPT : S_REJECT;
    case S_NEED2:
        return (c & 0xC0) == 0x80 ? S_NEED1 : S_REJECT;
    case S_NEED3:
        return (c & 0xC0) == 0x80 ? S_NEED2 : S_REJECT;
    case S_E0:
        return c >= 0xA0 && c <= 0xBF ? S_NEED1 : S_REJECT;
    case S_ED:
        return c >= 0x80 && c <= 0x9F ? S_NEED1 : S_REJECT;
    case S_F0:
        return c >= 0x90 && c <= 0xBF ? S_NEED2 : S_REJECT;
    case S_F4:
        return c >= 0x80 && c <= 0x8F ? S_NEED2 : S_REJECT;
    default:
        return S_REJECT;
    }
}

size_t utf8_feed(utf8_state_t *st, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint8_t s = st->s;
    size_t i = 0;
    if (s == S_REJECT) return 0;
    while (i < len) {
        if (s == S_ACCEPT) {
            /* Most text is ASCII: skip it eight bytes at a time. */
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ull) break;
                i += 8;
            }
            while (i < len && p[i] < 0x80) i++;
            if (i == len) break;
        }
        s = step(s, p[i]);
        if (s == S_REJECT) {
            st->s = s;
            return i;
        }
        i++;
    }
    st->s = s;
    return len;
}

bool utf8_failed(const utf8_state_t *st)
{
    return st->s == S_REJECT;
}

bool utf8_valid(const char *s, size_t n)
{
    utf8_state_t st = UTF8_STATE_INIT;
    return utf8_feed(&st, s, n) == n && utf8_complete(&st);
}
