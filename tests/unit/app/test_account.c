/* test_account.c - password hashing, session secrets, account field rules. Hashing uses
 * ACCOUNT_PWCOST_TEST (libsodium's minimum cost) except where the default cost itself is
 * under test. */
#include <string.h>

#include "app/account.h"
#include "store/store.h"
#include "test.h"
#include "util/err.h"

static const struct account_pwcost test_cost = ACCOUNT_PWCOST_TEST;

TEST(default_cost_meets_owasp)
{
    struct account_pwcost d = ACCOUNT_PWCOST_DEFAULT;
    CHECK(d.memlimit >= (size_t)19 * 1024 * 1024);
    CHECK(d.opslimit >= 2);
    CHECK(account_pwcost_meets_minimum(&d));
    CHECK(!account_pwcost_meets_minimum(&test_cost));
    struct account_pwcost weak = {2, (size_t)18 * 1024 * 1024};
    CHECK(!account_pwcost_meets_minimum(&weak));
    struct account_pwcost big = {1, (size_t)46 * 1024 * 1024};
    CHECK(account_pwcost_meets_minimum(&big));
    /* the stored hash fits the store's column */
    CHECK(ACCOUNT_PWHASH_MAX <= STORE_PWHASH_MAX + 1);
    CHECK(ACCOUNT_SECRET_HASH_LEN <= STORE_SECRET_HASH_MAX);
    CHECK(ACCOUNT_USERNAME_MAX == STORE_USERNAME_MAX);
}

TEST(password_hash_and_verify)
{
    REQUIRE(account_init() == 0);
    char h[ACCOUNT_PWHASH_MAX], h2[ACCOUNT_PWHASH_MAX];
    REQUIRE(account_password_hash(&test_cost, "correct horse", 13, h) == 0);
    CHECK(strncmp(h, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
    CHECK(strstr(h, "correct") == NULL);
    CHECK_EQ_INT(account_password_verify(h, "correct horse", 13), 0);
    CHECK_EQ_INT(account_password_verify(h, "correct horsE", 13), RS_EPERM);
    CHECK_EQ_INT(account_password_verify(h, "correct hors", 12), RS_EPERM);
    CHECK_EQ_INT(account_password_verify(h, "short", 5), RS_EPERM);
    /* salted: the same password hashes differently */
    REQUIRE(account_password_hash(&test_cost, "correct horse", 13, h2) == 0);
    CHECK(strcmp(h, h2) != 0);
    CHECK_EQ_INT(account_password_verify(h2, "correct horse", 13), 0);
    /* any bytes, NUL included, count */
    REQUIRE(account_password_hash(&test_cost, "pass\0word", 9, h) == 0);
    CHECK_EQ_INT(account_password_verify(h, "pass\0word", 9), 0);
    CHECK_EQ_INT(account_password_verify(h, "pass\0wore", 9), RS_EPERM);
    /* malformed or foreign hashes */
    CHECK_EQ_INT(account_password_verify("", "password1", 9), RS_EINVAL);
    CHECK_EQ_INT(account_password_verify(NULL, "password1", 9), RS_EINVAL);
    CHECK_EQ_INT(account_password_verify("$2b$10$abcdefghijklmnopqrstuv", "password1", 9),
                 RS_EINVAL);
    CHECK_EQ_INT(account_password_verify("$argon2id$garbage", "password1", 9), RS_EPERM);
    /* length limits */
    char big[ACCOUNT_PASSWORD_MAX + 1];
    memset(big, 'p', sizeof big);
    CHECK_EQ_INT(account_password_hash(&test_cost, big, sizeof big, h), RS_EINVAL);
    CHECK_EQ_INT(account_password_hash(&test_cost, big, ACCOUNT_PASSWORD_MAX, h), 0);
    CHECK_EQ_INT(account_password_verify(h, big, ACCOUNT_PASSWORD_MAX), 0);
    CHECK_EQ_INT(account_password_verify(h, big, sizeof big), RS_EPERM);
    CHECK_EQ_INT(account_password_hash(&test_cost, "1234567", 7, h), RS_EINVAL);
    account_password_dummy_verify(&test_cost, "whatever1", 9); /* must not crash */
    account_password_dummy_verify(&test_cost, "x", 1);
}

TEST(default_cost_hash_is_owasp_grade)
{
    REQUIRE(account_init() == 0);
    char h[ACCOUNT_PWHASH_MAX];
    REQUIRE(account_password_hash(NULL, "production password", 19, h) == 0);
    CHECK(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    CHECK_EQ_INT(account_password_verify(h, "production password", 19), 0);
    CHECK(!account_password_needs_rehash(NULL, h));
}

TEST(rehash_when_cost_rises)
{
    REQUIRE(account_init() == 0);
    char h[ACCOUNT_PWHASH_MAX];
    REQUIRE(account_password_hash(&test_cost, "password1", 9, h) == 0);
    CHECK(!account_password_needs_rehash(&test_cost, h));
    CHECK(account_password_needs_rehash(NULL, h)); /* default is costlier */
    struct account_pwcost more_ops = {2, 8192};
    CHECK(account_password_needs_rehash(&more_ops, h));
    CHECK(account_password_needs_rehash(&test_cost, "garbage"));
    CHECK(account_password_needs_rehash(&test_cost, NULL));
}

TEST(session_secrets)
{
    REQUIRE(account_init() == 0);
    char a[ACCOUNT_SECRET_LEN + 1], b[ACCOUNT_SECRET_LEN + 1];
    account_secret_new(a);
    account_secret_new(b);
    CHECK_EQ_INT(strlen(a), ACCOUNT_SECRET_LEN);
    CHECK(strcmp(a, b) != 0);
    CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          ACCOUNT_SECRET_LEN);
    char ha[ACCOUNT_SECRET_HASH_LEN + 1], ha2[ACCOUNT_SECRET_HASH_LEN + 1],
        hb[ACCOUNT_SECRET_HASH_LEN + 1];
    REQUIRE(account_secret_hash(a, strlen(a), ha) == 0);
    REQUIRE(account_secret_hash(a, strlen(a), ha2) == 0);
    REQUIRE(account_secret_hash(b, strlen(b), hb) == 0);
    CHECK_EQ_INT(strlen(ha), ACCOUNT_SECRET_HASH_LEN);
    CHECK_EQ_STR(ha, ha2); /* deterministic: the stored form is looked up by comparison */
    CHECK(strcmp(ha, hb) != 0);
    CHECK(strstr(ha, a) == NULL);
    CHECK(strspn(ha, "0123456789abcdef") == ACCOUNT_SECRET_HASH_LEN);
    CHECK_EQ_INT(account_secret_check(a, strlen(a), ha), 0);
    CHECK_EQ_INT(account_secret_check(b, strlen(b), ha), RS_EPERM);
    CHECK_EQ_INT(account_secret_check(a, strlen(a), hb), RS_EPERM);
    CHECK_EQ_INT(account_secret_check(a, strlen(a), ""), RS_EPERM);
    CHECK_EQ_INT(account_secret_check(a, strlen(a), NULL), RS_EPERM);
    /* a known vector: BLAKE2b-256 of 43 'A's */
    char hk[ACCOUNT_SECRET_HASH_LEN + 1];
    const char *aaa = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    REQUIRE(account_secret_hash(aaa, 43, hk) == 0);
    CHECK_EQ_STR(hk, "6342b384e5d6294c5df1110132b93b97b395a2ff4cca498af637b3e06b3095dd");
}

TEST(malformed_secrets_refused)
{
    REQUIRE(account_init() == 0);
    char s[ACCOUNT_SECRET_LEN + 1], h[ACCOUNT_SECRET_HASH_LEN + 1], bad[64];
    account_secret_new(s);
    REQUIRE(account_secret_hash(s, ACCOUNT_SECRET_LEN, h) == 0);
    CHECK_EQ_INT(account_secret_hash(s, ACCOUNT_SECRET_LEN - 1, h), RS_EINVAL);
    CHECK_EQ_INT(account_secret_hash(NULL, 0, h), RS_EINVAL);
    CHECK_EQ_INT(account_secret_hash("", 0, h), RS_EINVAL);
    memcpy(bad, s, ACCOUNT_SECRET_LEN);
    bad[ACCOUNT_SECRET_LEN] = 'A';
    CHECK_EQ_INT(account_secret_hash(bad, ACCOUNT_SECRET_LEN + 1, h), RS_EINVAL);
    const char *chars = "+/=. '\"\\%\x80\xff";
    for (size_t k = 0; k < strlen(chars); k++) {
        memcpy(bad, s, ACCOUNT_SECRET_LEN);
        bad[5] = chars[k];
        CHECK_EQ_INT(account_secret_hash(bad, ACCOUNT_SECRET_LEN, h), RS_EINVAL);
        CHECK_EQ_INT(account_secret_check(bad, ACCOUNT_SECRET_LEN, h), RS_EINVAL);
    }
    memcpy(bad, s, ACCOUNT_SECRET_LEN);
    bad[7] = '\0';
    CHECK_EQ_INT(account_secret_hash(bad, ACCOUNT_SECRET_LEN, h), RS_EINVAL);
    /* non-canonical last character (padding bits set) */
    memcpy(bad, s, ACCOUNT_SECRET_LEN);
    bad[ACCOUNT_SECRET_LEN - 1] = 'B';
    CHECK_EQ_INT(account_secret_hash(bad, ACCOUNT_SECRET_LEN, h), RS_EINVAL);
    bad[ACCOUNT_SECRET_LEN - 1] = '8';
    CHECK_EQ_INT(account_secret_hash(bad, ACCOUNT_SECRET_LEN, h), 0);
}

TEST(username_rules)
{
    char out[ACCOUNT_USERNAME_MAX + 1];
    const char *why = NULL;
    CHECK_EQ_INT(account_username_normalize("Alice_01.x", 10, out, &why), 0);
    CHECK_EQ_STR(out, "alice_01.x");
    CHECK(why == NULL);
    CHECK_EQ_INT(account_username_normalize("abc", 3, out, &why), 0);
    CHECK_EQ_INT(account_username_normalize("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", 32, out, &why), 0);
    CHECK_EQ_STR(out, "abcdefghijklmnopqrstuvwxyz012345");
    CHECK_EQ_INT(account_username_normalize("ab", 2, out, &why), RS_EINVAL);
    CHECK_EQ_STR(why, "username must be at least 3 characters");
    CHECK_EQ_INT(account_username_normalize("abcdefghijklmnopqrstuvwxyz0123456", 33, out, &why),
                 RS_EINVAL);
    CHECK_EQ_STR(why, "username must be at most 32 characters");
    const char *bad[] = {"a b",  "ab-c",  "ab'c", "a;--", "ab\0c",
                         "é_ab", "abc\n", "<b>",  "a%c",  "ab/c"};
    size_t lens[] = {3, 4, 4, 4, 4, 5, 4, 3, 3, 4};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        CHECK_EQ_INT(account_username_normalize(bad[i], lens[i], out, &why), RS_EINVAL);
        CHECK(why && strstr(why, "only"));
    }
    CHECK_EQ_INT(account_username_normalize(NULL, 0, out, NULL), RS_EINVAL);
}

TEST(display_name_rules)
{
    const char *why = NULL;
    CHECK_EQ_INT(account_display_name_check("Alice Liddell", 13, &why), 0);
    CHECK_EQ_INT(account_display_name_check("x", 1, &why), 0);
    CHECK_EQ_INT(account_display_name_check("Zoë 漢字 🙂", strlen("Zoë 漢字 🙂"), &why),
                 0);
    CHECK_EQ_INT(account_display_name_check("<script>alert(1)</script>", 25, &why), 0);
    /* 64 characters of 4 bytes: fine; 65: too long */
    char big[66 * 4];
    for (int i = 0; i < 65; i++) memcpy(big + 4 * i, "\xf0\x9f\x99\x82", 4);
    CHECK_EQ_INT(account_display_name_check(big, 64 * 4, &why), 0);
    CHECK_EQ_INT(account_display_name_check(big, 65 * 4, &why), RS_EINVAL);
    CHECK_EQ_STR(why, "display name must be at most 64 characters");
    char ascii[65];
    memset(ascii, 'a', sizeof ascii);
    CHECK_EQ_INT(account_display_name_check(ascii, 64, &why), 0);
    CHECK_EQ_INT(account_display_name_check(ascii, 65, &why), RS_EINVAL);

    CHECK_EQ_INT(account_display_name_check("", 0, &why), RS_EINVAL);
    CHECK_EQ_STR(why, "display name must not be empty");
    CHECK_EQ_INT(account_display_name_check("   ", 3, &why), RS_EINVAL);
    CHECK_EQ_STR(why, "display name must not be blank");
    CHECK_EQ_INT(account_display_name_check("\xe3\x80\x80", 3, &why), RS_EINVAL); /* U+3000 */
    CHECK_EQ_INT(account_display_name_check(" Al", 3, &why), RS_EINVAL);
    CHECK_EQ_STR(why, "display name must not start or end with a space");
    CHECK_EQ_INT(account_display_name_check("Al ", 3, &why), RS_EINVAL);
    const char *controls[] = {"a\nb",
                              "a\tb",
                              "a\0b",
                              "a\x7f",
                              "a\xc2\x85",
                              "a\xe2\x80\xae"
                              "b", /* right-to-left override */
                              "a\xe2\x81\xa6"
                              "b", /* left-to-right isolate */
                              "a\xe2\x80\xa8"
                              "b", /* line separator */
                              "\xef\xbb\xbf"
                              "ab"};
    size_t clen[] = {3, 3, 3, 2, 3, 5, 5, 5, 5};
    for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++) {
        why = NULL;
        CHECK_EQ_INT(account_display_name_check(controls[i], clen[i], &why), RS_EINVAL);
        CHECK(why && strstr(why, "control"));
    }
    const char *bad_utf8[] = {"a\xff",
                              "a\xc0\xaf",
                              "\xed\xa0\x80",
                              "\xf4\x90\x80\x80",
                              "ab\xe2\x82",
                              "\x80"
                              "abc"};
    size_t blen[] = {2, 3, 3, 4, 4, 4};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        why = NULL;
        CHECK_EQ_INT(account_display_name_check(bad_utf8[i], blen[i], &why), RS_EUTF8);
        CHECK_EQ_STR(why, "display name is not valid UTF-8");
    }
}

TEST(password_rules)
{
    const char *why = NULL;
    CHECK_EQ_INT(account_password_check(8, &why), 0);
    CHECK(why == NULL);
    CHECK_EQ_INT(account_password_check(256, &why), 0);
    CHECK_EQ_INT(account_password_check(7, &why), RS_EINVAL);
    CHECK_EQ_STR(why, "password must be at least 8 characters");
    CHECK_EQ_INT(account_password_check(257, &why), RS_EINVAL);
    CHECK_EQ_STR(why, "password must be at most 256 bytes");
    CHECK_EQ_INT(account_password_check(0, NULL), RS_EINVAL);
}
