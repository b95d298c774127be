/* test_presence.c - per-process presence counts and the snapshot a node stores when it resets
 * its shared presence rows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/presence.h"
#include "test.h"
#include "util/err.h"

struct snap {
    int calls;
    size_t n;
    int64_t ids[64];
    bool null_when_empty;
};

static void take(const int64_t *ids, size_t n, void *arg)
{
    struct snap *s = arg;
    s->calls++;
    s->n = n;
    s->null_when_empty = n || ids == NULL;
    if (n && n <= 64) memcpy(s->ids, ids, n * sizeof *ids);
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int transitions;
static void count_transitions(int64_t uid, uint32_t count, void *arg)
{
    transitions++;
}

TEST(snapshot_lists_exactly_the_users_counted)
{
    presence_t *p = presence_new();
    REQUIRE(p);
    struct snap s = {0};
    CHECK_EQ_INT(presence_with_users(p, take, &s), 0);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(s.n, 0);
    CHECK(s.null_when_empty);
    int64_t big = INT64_MAX;
    CHECK_EQ_INT(presence_add(p, 7, +1, NULL, NULL), 1);
    CHECK_EQ_INT(presence_add(p, 7, +1, NULL, NULL), 2);
    CHECK_EQ_INT(presence_add(p, 3, +1, count_transitions, NULL), 1);
    CHECK_EQ_INT(presence_add(p, big, +1, NULL, NULL), 1);
    CHECK_EQ_INT(presence_add(p, 9, +1, NULL, NULL), 1);
    CHECK_EQ_INT(presence_add(p, 9, -1, count_transitions, NULL), 0);
    CHECK_EQ_INT(presence_add(p, 9, -1, NULL, NULL), 0); /* never below 0 */
    CHECK_EQ_INT(transitions, 2);
    CHECK_EQ_INT(presence_users(p), 3);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(presence_with_users(p, take, &s), 0);
    CHECK_EQ_INT(s.n, 3);
    qsort(s.ids, s.n, sizeof s.ids[0], cmp);
    CHECK_EQ_INT(s.ids[0], 3);
    CHECK_EQ_INT(s.ids[1], 7);
    CHECK(s.ids[2] == big);
    CHECK(presence_online(p, 7) && !presence_online(p, 9));
    presence_add(p, 7, -1, NULL, NULL);
    presence_add(p, 7, -1, NULL, NULL);
    presence_add(p, 3, -1, NULL, NULL);
    presence_add(p, big, -1, NULL, NULL);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(presence_with_users(p, take, &s), 0);
    CHECK_EQ_INT(s.n, 0);
    presence_free(p);
}

/* Many users: the snapshot grows with the table (no fixed cap). */
TEST(snapshot_of_many_users)
{
    presence_t *p = presence_new();
    REQUIRE(p);
    for (int64_t u = 1; u <= 5000; u++) REQUIRE(presence_add(p, u, +1, NULL, NULL) == 1);
    struct snap s = {0};
    CHECK_EQ_INT(presence_with_users(p, take, &s), 0);
    CHECK_EQ_INT(s.n, 5000);
    presence_free(p);
}
