#include "test.h"
#include "util/map.h"

#include <stdio.h>

TEST(put_get_del_many)
{
    map_t m = MAP_INIT;
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        REQUIRE(map_put(&m, span_cstr(key), (void *)(intptr_t)(i + 1)) == 0);
    }
    CHECK_EQ_INT(m.len, 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK(map_del(&m, span_cstr(key)) == (void *)(intptr_t)(i + 1));
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        void *v = map_get(&m, span_cstr(key));
        if (i % 2) CHECK(v == (void *)(intptr_t)(i + 1));
        else CHECK(v == NULL);
    }
    map_free(&m);
    CHECK_EQ_INT(m.len, 0);
}

TEST(borrowed_keys_are_not_copied_nor_freed)
{
    struct item {
        char id[16];
    } items[100];
    map_t m = MAP_INIT;
    for (int i = 0; i < 100; i++) {
        snprintf(items[i].id, sizeof items[i].id, "id%03d", i);
        REQUIRE(map_put_borrowed(&m, span_cstr(items[i].id), &items[i]) == 0);
    }
    map_entry_t *e;
    size_t n = 0;
    for (size_t i = 0; map_next(&m, &i, &e);) {
        CHECK(e->key == ((struct item *)e->value)->id); /* the value's own bytes */
        n++;
    }
    CHECK_EQ_INT(n, 100);
    CHECK(map_get(&m, span_cstr("id042")) == &items[42]);
    CHECK(map_del(&m, span_cstr("id042")) == &items[42]);
    CHECK(map_get(&m, span_cstr("id042")) == NULL);
    /* Mixed with copied keys in one map. */
    REQUIRE(map_put(&m, SPAN_LIT("copied"), &items[0]) == 0);
    CHECK(map_get(&m, SPAN_LIT("copied")) == &items[0]);
    map_free(&m); /* frees only the copied key (ASan/LSan would flag a bad free or a leak) */
}

TEST(empty_map_frees_its_storage)
{
    map_t m = MAP_INIT;
    REQUIRE(map_put(&m, SPAN_LIT("a"), &m) == 0);
    CHECK(m.cap > 0);
    map_del(&m, SPAN_LIT("a"));
    CHECK_EQ_INT(m.cap, 0);
    CHECK(m.slots == NULL);
}
