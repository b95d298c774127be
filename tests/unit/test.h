/* test.h - roost's unit-test harness: each test runs in its own process with a timeout, so a
 * crash or hang fails that test alone. A binary prints one line per test and closes with
 * "N passed, N failed"; its exit status is non-zero when anything failed.
 *
 *   TEST(parses_get) { CHECK(x == 1); CHECK_EQ_INT(a, b); CHECK_EQ_STR(s, "x"); }
 *
 * Run one test: ./test_binary name_of_test. */
#ifndef ROOST_TEST_H
#define ROOST_TEST_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void (*test_fn)(void);
struct test_case {
    const char *name;
    test_fn fn;
};
static struct test_case test_cases[1024];
static int test_count;
static int test_failed_here;

static inline void test_register(const char *name, test_fn fn)
{
    if (test_count < 1024) test_cases[test_count++] = (struct test_case){name, fn};
}

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void test_reg_##name(void)                                 \
    {                                                                                              \
        test_register(#name, name);                                                                \
    }                                                                                              \
    static void name(void)

#define TEST_FAIL_AT(...)                                                                          \
    do {                                                                                           \
        fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);                                        \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        test_failed_here = 1;                                                                      \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) TEST_FAIL_AT("CHECK(%s) failed", #cond);                                      \
    } while (0)

/* Stop the test at the first failure (for preconditions later checks depend on). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            TEST_FAIL_AT("REQUIRE(%s) failed", #cond);                                             \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long test_a_ = (long long)(a), test_b_ = (long long)(b);                              \
        if (test_a_ != test_b_) TEST_FAIL_AT("%s == %s: %lld != %lld", #a, #b, test_a_, test_b_);  \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *test_a_ = (a), *test_b_ = (b);                                                 \
        if (!test_a_ || !test_b_ || strcmp(test_a_, test_b_) != 0)                                 \
            TEST_FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, test_a_ ? test_a_ : "(null)",       \
                         test_b_ ? test_b_ : "(null)");                                            \
    } while (0)

/* Compare a (base,len) pair with a C string. */
#define CHECK_EQ_MEM(base, len, s)                                                                 \
    do {                                                                                           \
        size_t test_l_ = (size_t)(len);                                                            \
        if (test_l_ != strlen(s) || memcmp((base), (s), test_l_) != 0)                             \
            TEST_FAIL_AT("%s == \"%s\": got \"%.*s\"", #base, (s), (int)test_l_, (const char *)(base)); \
    } while (0)

static int test_run_one(const struct test_case *tc)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        test_failed_here = 0;
        tc->fn();
        fflush(stderr);
        _exit(test_failed_here ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok   %s\n", tc->name);
        return 1;
    }
    if (WIFSIGNALED(status))
        printf("FAIL %s (signal %d%s)\n", tc->name, WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? ": timed out" : "");
    else
        printf("FAIL %s\n", tc->name);
    return 0;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 0; i < test_count; i++) {
        if (argc > 1 && strcmp(argv[1], test_cases[i].name) != 0) continue;
        if (test_run_one(&test_cases[i])) passed++;
        else failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
