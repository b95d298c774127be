/* hasher.h - password hashing off the event loops: a small thread pool with a hard cap.
 *
 * argon2id costs tens of milliseconds of CPU and 19 MiB per hash, so worker loops never run
 * it: they submit a job and get it back on their own loop (loop_post) when it is done. The
 * number of jobs queued or running is capped: callers reserve capacity before they commit to
 * hashing (an HTTP request reserves in its admission check, so a full pool is answered with
 * 503 before any work starts) and each submit consumes one reservation.
 *
 * Jobs finish in submission order per thread; there is no ordering across threads. */
#ifndef ROOST_APP_HASHER_H
#define ROOST_APP_HASHER_H

#include <stdbool.h>
#include <stddef.h>

#include "app/account.h"
#include "net/loop.h"

typedef struct hasher hasher_t;

enum hasher_kind {
    HASHER_HASH,   /* hash pw into hash */
    HASHER_VERIFY, /* verify pw against hash; when it matches and the hash is below the current
                      cost, put a fresh hash into hash and set rehashed */
    HASHER_DUMMY,  /* spend one verification's time (unknown user): rc = RS_EPERM */
};

typedef struct hasher_job hasher_job_t;
struct hasher_job {
    enum hasher_kind kind;
    char pw[ACCOUNT_PASSWORD_MAX + 1];
    size_t pw_len;
    char hash[ACCOUNT_PWHASH_MAX]; /* in (VERIFY) / out (HASH, rehash) */
    int rc;                        /* result: 0, RS_EPERM (mismatch), RS_EINVAL, RS_ENOMEM */
    bool rehashed;
    /* done(job) runs on origin's thread; the job belongs to the caller again then. */
    loop_t *origin;
    void (*done)(hasher_job_t *job);
    void *arg;
    hasher_job_t *next;
};

/* threads: worker threads (>= 1); cap: most jobs queued or running; cost: argon2id cost
 * (NULL: ACCOUNT_PWCOST_DEFAULT). NULL on failure. */
hasher_t *hasher_new(int threads, int cap, const struct account_pwcost *cost);
/* Stop the threads (jobs not started are dropped: their done never runs) and free. */
void hasher_free(hasher_t *h);

/* Reserve room for n jobs: true when granted. Release what you did not submit. */
bool hasher_reserve(hasher_t *h, int n);
void hasher_release(hasher_t *h, int n);
/* Queue a job using one reservation. 0, or RS_ECLOSED when the pool is stopping (the
 * reservation is released; done will not run). */
int hasher_submit(hasher_t *h, hasher_job_t *job);

/* Jobs queued or running right now, and how many reservations were refused. */
int hasher_load(hasher_t *h);
unsigned long hasher_refused(hasher_t *h);

#endif
