/* Tests for cluster/redis without a Redis server: URL validation, and an adapter that starts
 * while Redis is unreachable (it must run alone, retry, and stop cleanly). The exchanges with
 * real Redis, roost nodes and Node.js peers are in tests/integration/cluster.test.mjs. */
#include "cluster/redis.h"

#include <string.h>
#include <unistd.h>

#include "test.h"
#include "util/err.h"
#include "util/log.h"

static int start(const char *url, redis_adapter_t **a, char *err, size_t errlen)
{
    static sio_server_t *srv;
    if (!srv) {
        sio_config_t sc = {0};
        srv = sio_server_new(&sc, NULL, 0);
    }
    redis_adapter_config_t cfg = {.url = url, .sio = srv, .wait_ms = 100};
    return redis_adapter_start(&cfg, a, err, errlen);
}

TEST(refuses_bad_urls)
{
    log_set_level("off");
    const char *bad[] = {"",
                         "http://127.0.0.1:6379",
                         "rediss://h:6379",
                         "redis://",
                         "redis://:6379",
                         "redis://h:",
                         "redis://h:0",
                         "redis://h:65536",
                         "redis://h:12x",
                         "redis://[::1",
                         "redis://[::1]x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        redis_adapter_t *a = (redis_adapter_t *)1;
        char err[256] = "";
        CHECK_EQ_INT(start(bad[i], &a, err, sizeof err), RS_EINVAL);
        CHECK(a == NULL);
        CHECK(strstr(err, "redis://") != NULL);
    }
}

TEST(starts_alone_when_redis_is_unreachable_and_stops)
{
    log_set_level("off");
    redis_adapter_t *a = NULL;
    char err[256] = "";
    /* port 1 on loopback: connection refused at once; user and password parse */
    REQUIRE(start("redis://user:secret@127.0.0.1:1/0", &a, err, sizeof err) == 0);
    REQUIRE(a != NULL);
    CHECK_EQ_INT((int)strlen(redis_adapter_uid(a)), 12);
    usleep(300 * 1000); /* a few retries */
    json_t *data = json_pack("[s]", "ev");
    CHECK_EQ_INT(redis_adapter_server_side_emit(a, "/", data), RS_EUNAVAIL);
    json_decref(data);
    redis_adapter_stop(a);
    redis_adapter_free(a);
    /* IPv6 literal and default port */
    REQUIRE(start("redis://[::1]", &a, err, sizeof err) == 0);
    redis_adapter_free(a);
}
