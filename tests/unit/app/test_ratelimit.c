/* test_ratelimit.c - failure backoff per key, and presence counts. */
#include <stdio.h>
#include <string.h>

#include "app/presence.h"
#include "app/ratelimit.h"
#include "test.h"

static const ratelimit_policy_t pol = {
    .free_failures = 3, .base_ms = 1000, .max_ms = 8000, .quiet_ms = 60000, .max_keys = 4};

TEST(free_failures_then_doubling_backoff_capped)
{
    ratelimit_t *rl = ratelimit_new(&pol);
    REQUIRE(rl);
    span_t k = span_cstr("alice");
    uint64_t t = 1000000;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(ratelimit_check(rl, k, t), 0);
        CHECK_EQ_INT(ratelimit_fail(rl, k, t), 0);
    }
    CHECK_EQ_INT(ratelimit_check(rl, k, t), 0);
    CHECK_EQ_INT(ratelimit_fail(rl, k, t), 1000); /* 4th failure: 1 s */
    CHECK_EQ_INT(ratelimit_check(rl, k, t), 1000);
    CHECK_EQ_INT(ratelimit_check(rl, k, t + 400), 600);
    CHECK_EQ_INT(ratelimit_check(rl, k, t + 1000), 0); /* released */
    CHECK_EQ_INT(ratelimit_fail(rl, k, t + 1000), 2000);
    CHECK_EQ_INT(ratelimit_fail(rl, k, t + 3000), 4000);
    CHECK_EQ_INT(ratelimit_fail(rl, k, t + 7000), 8000);
    CHECK_EQ_INT(ratelimit_fail(rl, k, t + 15000), 8000); /* capped */
    for (int i = 0; i < 100; i++) ratelimit_fail(rl, k, t + 15000);
    CHECK_EQ_INT(ratelimit_check(rl, k, t + 15000), 8000); /* no overflow past 2^30 */
    /* other keys are independent */
    CHECK_EQ_INT(ratelimit_check(rl, span_cstr("bob"), t), 0);
    ratelimit_free(rl);
}

TEST(reset_and_quiet_period_forget)
{
    ratelimit_t *rl = ratelimit_new(&pol);
    span_t k = span_cstr("k");
    uint64_t t = 5000;
    for (int i = 0; i < 4; i++) ratelimit_fail(rl, k, t);
    CHECK(ratelimit_check(rl, k, t) > 0);
    ratelimit_reset(rl, k);
    CHECK_EQ_INT(ratelimit_check(rl, k, t), 0);
    CHECK_EQ_INT(ratelimit_fail(rl, k, t), 0); /* counting starts over */
    for (int i = 0; i < 3; i++) ratelimit_fail(rl, k, t);
    CHECK(ratelimit_check(rl, k, t) > 0);
    /* a quiet minute later the key is forgotten: the next failure is free again */
    CHECK_EQ_INT(ratelimit_fail(rl, k, t + 61000), 0);
    ratelimit_free(rl);
}

TEST(table_is_bounded)
{
    ratelimit_t *rl = ratelimit_new(&pol);
    char name[16];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "key%d", i);
        ratelimit_fail(rl, span_cstr(name), 1000);
    }
    CHECK(ratelimit_size(rl) <= 4);
    /* forgotten entries make room for new ones */
    ratelimit_fail(rl, span_cstr("late"), 1000 + 61000);
    ratelimit_fail(rl, span_cstr("late"), 1000 + 61000);
    CHECK(ratelimit_size(rl) <= 4);
    ratelimit_free(rl);
}

struct seen {
    int calls;
    uint32_t last;
};

static void changed(int64_t uid, uint32_t count, void *arg)
{
    struct seen *s = arg;
    s->calls++;
    s->last = count;
}

TEST(presence_counts_per_user)
{
    presence_t *p = presence_new();
    REQUIRE(p);
    struct seen s = {0};
    CHECK(!presence_online(p, 7));
    CHECK_EQ_INT(presence_add(p, 7, +1, changed, &s), 1);
    CHECK_EQ_INT(presence_add(p, 7, +1, changed, &s), 2);
    CHECK_EQ_INT(presence_add(p, 9, +1, NULL, NULL), 1);
    CHECK(presence_online(p, 7));
    CHECK_EQ_INT(presence_users(p), 2);
    CHECK_EQ_INT(presence_add(p, 7, -1, changed, &s), 1);
    CHECK(presence_online(p, 7));
    CHECK_EQ_INT(presence_add(p, 7, -1, changed, &s), 0);
    CHECK_EQ_INT(s.calls, 4);
    CHECK_EQ_INT(s.last, 0);
    CHECK(!presence_online(p, 7));
    CHECK_EQ_INT(presence_add(p, 7, -1, NULL, NULL), 0); /* never below zero */
    CHECK_EQ_INT(presence_users(p), 1);
    presence_free(p);
}
