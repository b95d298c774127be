#include "test.h"
#include "util/utf8.h"

/* Feed s in pieces of `step` bytes; return the absolute offset of the first invalid byte, or
 * n when all were accepted. *complete gets utf8_complete at the end. */
static size_t feed_in_steps(const char *s, size_t n, size_t step, int *complete)
{
    utf8_state_t st = UTF8_STATE_INIT;
    size_t off = 0;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        size_t r = utf8_feed(&st, s + off, k);
        if (r < k) {
            *complete = 0;
            return off + r;
        }
        off += k;
    }
    *complete = utf8_complete(&st);
    return n;
}

/* Check that s is rejected at byte `bad` however it is split (whole, every two-piece split,
 * one byte at a time), or accepted when bad < 0 (truncated: accepted byte by byte but not
 * complete when `truncated`). */
static int check_case(const char *s, size_t n, long bad, int truncated)
{
    int ok = 1, complete;
    size_t steps[] = {n ? n : 1, 1, 2, 3, 5, 7, 8, 9, 16};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t r = feed_in_steps(s, n, steps[i], &complete);
        if (bad >= 0) {
            if (r != (size_t)bad) ok = 0;
        } else if (r != n || complete != !truncated) {
            ok = 0;
        }
    }
    for (size_t cut = 0; cut <= n; cut++) {
        utf8_state_t st = UTF8_STATE_INIT;
        size_t r = utf8_feed(&st, s, cut);
        size_t at = r;
        if (r == cut) at = cut + utf8_feed(&st, s + cut, n - cut);
        if (bad >= 0 ? at != (size_t)bad : (at != n || utf8_complete(&st) != !truncated)) ok = 0;
    }
    if (utf8_valid(s, n) != (bad < 0 && !truncated)) ok = 0;
    return ok;
}

#define VALID(lit)      CHECK(check_case(lit, sizeof(lit) - 1, -1, 0))
#define BAD_AT(lit, at) CHECK(check_case(lit, sizeof(lit) - 1, at, 0))
#define TRUNCATED(lit)  CHECK(check_case(lit, sizeof(lit) - 1, -1, 1))

TEST(valid_ascii_and_boundaries)
{
    VALID("");
    VALID("Hello, world! 0123456789 with a long ascii run to use the word path");
    VALID("\x7f");
    VALID("\xc2\x80");                                     /* U+0080 */
    VALID("\xdf\xbf");                                     /* U+07FF */
    VALID("\xe0\xa0\x80");                                 /* U+0800 */
    VALID("\xed\x9f\xbf");                                 /* U+D7FF, last before surrogates */
    VALID("\xee\x80\x80");                                 /* U+E000, first after surrogates */
    VALID("\xef\xbf\xbf");                                 /* U+FFFF */
    VALID("\xf0\x90\x80\x80");                             /* U+10000 */
    VALID("\xf4\x8f\xbf\xbf");                             /* U+10FFFF */
    VALID("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"); /* "kosme" */
}

TEST(noncharacters_are_valid)
{
    VALID("\xef\xbf\xbe");     /* U+FFFE */
    VALID("\xef\xb7\x90");     /* U+FDD0 */
    VALID("\xef\xb7\xaf");     /* U+FDEF */
    VALID("\xf0\x9f\xbf\xbe"); /* U+1FFFE */
    VALID("\xf4\x8f\xbf\xbe"); /* U+10FFFE */
}

TEST(overlongs_fail_at_first_impossible_byte)
{
    BAD_AT("ab\xc0\x80", 2);            /* C0 can only be overlong */
    BAD_AT("\xc1\xbf", 0);              /* C1 likewise */
    BAD_AT("\xe0\x80\x80", 1);          /* overlong 3-byte U+0000 */
    BAD_AT("\xe0\x9f\xbf", 1);          /* overlong U+07FF */
    BAD_AT("\xf0\x80\x80\x80", 1);      /* overlong 4-byte */
    BAD_AT("\xf0\x8f\xbf\xbf", 1);      /* overlong U+FFFF */
    BAD_AT("x\xf8\x88\x80\x80\x80", 1); /* 5-byte form */
    BAD_AT("\xfc\x84\x80\x80\x80\x80", 0);
}

TEST(surrogates_fail_at_second_byte)
{
    BAD_AT("\xed\xa0\x80", 1); /* U+D800 */
    BAD_AT("\xed\xad\xbf", 1); /* U+DB7F */
    BAD_AT("\xed\xb0\x80", 1); /* U+DC00 */
    BAD_AT("\xed\xbf\xbf", 1); /* U+DFFF */
    BAD_AT("\xed\xa0\x80\xed\xb0\x80", 1);
}

TEST(above_max_code_point_fails_early)
{
    BAD_AT("\xf4\x90\x80\x80", 1); /* U+110000 */
    BAD_AT("\xf5\x80\x80\x80", 0);
    BAD_AT("\xf7\xbf\xbf\xbf", 0);
    BAD_AT("\xff", 0);
    BAD_AT("\xfe", 0);
}

TEST(lone_continuations_and_broken_sequences)
{
    BAD_AT("\x80", 0);
    BAD_AT("abc\xbf", 3);
    BAD_AT("\xc2\x80\x80", 2);
    BAD_AT("\xc2\x41", 1); /* lead followed by ASCII */
    BAD_AT("\xe1\x80\x41", 2);
    BAD_AT("\xf1\x80\x80\xc0", 3);
    BAD_AT("\xe1\xc2\x80", 1); /* new lead inside a sequence */
    /* "kosme" then a surrogate then "edited" (Autobahn 6.3.1): fails at the A0. */
    BAD_AT("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 12);
}

TEST(truncated_sequences_are_incomplete)
{
    TRUNCATED("\xc2");
    TRUNCATED("ab\xe0\xa0");
    TRUNCATED("\xf0\x90\x80");
    TRUNCATED("\xf4");
    CHECK(!utf8_valid("\xe2\x82", 2));
    CHECK(utf8_valid("\xe2\x82\xac", 3));
}

TEST(failure_is_sticky)
{
    utf8_state_t st = UTF8_STATE_INIT;
    CHECK_EQ_INT(utf8_feed(&st, "a\xff", 2), 1);
    CHECK(utf8_failed(&st));
    CHECK(!utf8_complete(&st));
    CHECK_EQ_INT(utf8_feed(&st, "abc", 3), 0);
    CHECK(utf8_failed(&st));
    utf8_init(&st);
    CHECK(!utf8_failed(&st));
    CHECK_EQ_INT(utf8_feed(&st, "abc", 3), 3);
}

/* A second, independent definition: decode each sequence to a code point and check the
 * RFC 3629 ranges. Used to cross-check every string of up to 4 bytes over interesting bytes. */
static int reference_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], need, cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (i + need >= n) return 0;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

TEST(agrees_with_reference_on_all_short_strings)
{
    static const unsigned char bytes[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                          0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
                                          0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFF};
    size_t nb = sizeof bytes;
    unsigned char s[4];
    long mismatches = 0;
    for (size_t len = 1; len <= 4; len++) {
        size_t total = 1;
        for (size_t k = 0; k < len; k++) total *= nb;
        for (size_t idx = 0; idx < total; idx++) {
            size_t x = idx;
            for (size_t k = 0; k < len; k++) s[k] = bytes[x % nb], x /= nb;
            int want = reference_valid(s, len);
            if (utf8_valid((const char *)s, len) != want) mismatches++;
            /* byte by byte must agree too */
            utf8_state_t st = UTF8_STATE_INIT;
            int ok = 1;
            for (size_t k = 0; k < len && ok; k++) ok = utf8_feed(&st, s + k, 1) == 1;
            if ((ok && utf8_complete(&st)) != want) mismatches++;
        }
    }
    CHECK_EQ_INT(mismatches, 0);
}

TEST(ascii_word_path_finds_late_error)
{
    char buf[100];
    memset(buf, 'a', sizeof buf);
    for (size_t at = 0; at < sizeof buf; at++) {
        buf[at] = (char)0x80;
        utf8_state_t st = UTF8_STATE_INIT;
        CHECK_EQ_INT(utf8_feed(&st, buf, sizeof buf), at);
        buf[at] = 'a';
    }
}
