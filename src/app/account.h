/* account.h - the account primitives that need no network: password hashing, session
 * secrets, and the rules for usernames, display names and passwords.
 *
 * Passwords are hashed with argon2id (libsodium crypto_pwhash_str_alg) at a cost that meets
 * OWASP's minimum by default (19 MiB, t=2, p=1); the encoded hash carries its parameters, so
 * account_password_needs_rehash tells when a stored hash is below the current cost and should
 * be replaced after the next successful login. Hashing costs ~tens of milliseconds of CPU and
 * 19 MiB of memory: callers run it off the event loop and cap how many run at once.
 *
 * A session is an id (the store's, see store.h) and a secret: 32 random bytes as 43 URL-safe
 * base64 characters, shown to the client once. Only its hash is stored (BLAKE2b-256 as 64
 * hex digits - a fast hash is right here, the secret having 256 bits of entropy), and it is
 * compared in constant time.
 *
 * Every function is thread-safe after account_init. Validation functions return 0, or
 * RS_EINVAL (RS_EUTF8 for text that is not UTF-8) with *why (when why is non-NULL) pointing
 * to a static sentence fit to show the user. */
#ifndef ROOST_APP_ACCOUNT_H
#define ROOST_APP_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>

#define ACCOUNT_USERNAME_MIN     3 /* characters (= bytes: the charset is ASCII) */
#define ACCOUNT_USERNAME_MAX     32
#define ACCOUNT_DISPLAY_NAME_MAX 64  /* characters (code points) */
#define ACCOUNT_PASSWORD_MIN     8   /* bytes */
#define ACCOUNT_PASSWORD_MAX     256 /* bytes */
#define ACCOUNT_PWHASH_MAX       128 /* bytes of an encoded hash, NUL included */
#define ACCOUNT_SECRET_BYTES     32
#define ACCOUNT_SECRET_LEN       43 /* characters of an encoded secret */
#define ACCOUNT_SECRET_HASH_LEN  64 /* hex digits of a secret's hash */

/* argon2id cost. Production uses ACCOUNT_PWCOST_DEFAULT; tests pass ACCOUNT_PWCOST_TEST
 * (libsodium's minimum) to stay fast. */
struct account_pwcost {
    unsigned long long opslimit; /* iterations (t) */
    size_t memlimit;             /* bytes (m) */
};
#define ACCOUNT_PWCOST_DEFAULT ((struct account_pwcost){2, (size_t)19 * 1024 * 1024})
#define ACCOUNT_PWCOST_TEST    ((struct account_pwcost){1, 8192})

/* Initialise libsodium (idempotent). 0, or RS_EIO when it cannot (no entropy source). */
int account_init(void);

/* Does cost reach OWASP's argon2id minimum (m >= 19 MiB with t >= 2, or m >= 46 MiB)? A
 * server refuses to start with a configured cost below it. */
bool account_pwcost_meets_minimum(const struct account_pwcost *cost);

/* Hash a password (pw, len bytes, any bytes) into out (ACCOUNT_PWHASH_MAX bytes,
 * NUL-terminated "$argon2id$v=19$m=...,t=...,p=1$salt$hash"). cost NULL means the default.
 * RS_EINVAL: length outside ACCOUNT_PASSWORD_MIN..MAX (see account_password_check); RS_ENOMEM:
 * argon2 could not get its memory (retry later, or lower the concurrency cap). */
int account_password_hash(const struct account_pwcost *cost, const char *pw, size_t len, char *out);

/* Check a password against a stored hash: 0 match, RS_EPERM mismatch (also for a password
 * whose length no account can have, answered without hashing), RS_EINVAL when hash is not an
 * argon2id hash (a corrupt row: log it, deny the login). */
int account_password_verify(const char *hash, const char *pw, size_t len);

/* Spend the time of one verification without a hash to verify against, so that a login for
 * an unknown username takes as long as a wrong password (no user enumeration by timing). */
void account_password_dummy_verify(const struct account_pwcost *cost, const char *pw, size_t len);

/* Was hash made with parameters other than cost (NULL: default)? Then, after a successful
 * verify, store account_password_hash's new value. Malformed hashes need a rehash too. */
bool account_password_needs_rehash(const struct account_pwcost *cost, const char *hash);

/* A new session secret: ACCOUNT_SECRET_LEN URL-safe base64 characters + NUL into out. */
void account_secret_new(char *out);

/* The stored form of a secret: 64 lowercase hex digits + NUL into out. RS_EINVAL when secret
 * is not exactly ACCOUNT_SECRET_LEN URL-safe base64 characters (so malformed client input
 * never reaches the database). */
int account_secret_hash(const char *secret, size_t len, char *out);

/* Does secret match stored_hash? Compared in constant time. 0 match, RS_EPERM mismatch,
 * RS_EINVAL malformed secret. */
int account_secret_check(const char *secret, size_t len, const char *stored_hash);

/* Validate a username and write its normalised (ASCII-lowercased) form into out
 * (ACCOUNT_USERNAME_MAX + 1 bytes). Rules: 3-32 characters from [A-Za-z0-9_.]; usernames are
 * unique case-insensitively (the store keys them by the normalised form). */
int account_username_normalize(const char *in, size_t len, char *out, const char **why);

/* Validate a display name: valid UTF-8, 1-64 characters, no control, format or
 * direction-override characters, not blank, no leading or trailing whitespace. Stored as
 * given. */
int account_display_name_check(const char *in, size_t len, const char **why);

/* Validate a new password's length: ACCOUNT_PASSWORD_MIN..MAX bytes. */
int account_password_check(size_t len, const char **why);

#endif
