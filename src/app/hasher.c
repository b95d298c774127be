/* hasher.c - the password-hashing pool (see hasher.h). */
#include "app/hasher.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

struct hasher {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    hasher_job_t *head, *tail;
    int load; /* reserved + queued + running */
    int cap;
    bool stopping;
    unsigned long refused;
    struct account_pwcost cost;
    int nthreads;
    pthread_t *threads;
};

static void run_job(hasher_t *h, hasher_job_t *j)
{
    switch (j->kind) {
    case HASHER_HASH:
        j->rc = account_password_hash(&h->cost, j->pw, j->pw_len, j->hash);
        break;
    case HASHER_VERIFY:
        j->rc = account_password_verify(j->hash, j->pw, j->pw_len);
        if (j->rc == 0 && account_password_needs_rehash(&h->cost, j->hash)) {
            char fresh[ACCOUNT_PWHASH_MAX];
            if (account_password_hash(&h->cost, j->pw, j->pw_len, fresh) == 0) {
                memcpy(j->hash, fresh, sizeof fresh);
                j->rehashed = true;
            }
        }
        break;
    case HASHER_DUMMY:
        account_password_dummy_verify(&h->cost, j->pw, j->pw_len);
        j->rc = RS_EPERM;
        break;
    }
    /* The password leaves this thread's memory now; done only needs the result. */
    sodium_memzero(j->pw, sizeof j->pw);
}

static void deliver(void *arg)
{
    hasher_job_t *j = arg;
    j->done(j);
}

static void *thread_main(void *arg)
{
    hasher_t *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->head && !h->stopping) pthread_cond_wait(&h->cv, &h->mu);
        if (h->stopping) break;
        hasher_job_t *j = h->head;
        h->head = j->next;
        if (!h->head) h->tail = NULL;
        pthread_mutex_unlock(&h->mu);
        run_job(h, j);
        if (loop_post(j->origin, deliver, j) != 0) LOG_ERROR("hasher", "cannot deliver a result");
        pthread_mutex_lock(&h->mu);
        h->load--;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

hasher_t *hasher_new(int threads, int cap, const struct account_pwcost *cost)
{
    hasher_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    h->cap = cap > 0 ? cap : 1;
    h->cost = cost ? *cost : ACCOUNT_PWCOST_DEFAULT;
    h->threads = calloc((size_t)(threads > 0 ? threads : 1), sizeof *h->threads);
    if (!h->threads) goto fail;
    for (int i = 0; i < (threads > 0 ? threads : 1); i++) {
        if (pthread_create(&h->threads[i], NULL, thread_main, h) != 0) goto fail;
        h->nthreads++;
    }
    return h;
fail:
    hasher_free(h);
    return NULL;
}

void hasher_free(hasher_t *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    for (int i = 0; i < h->nthreads; i++) pthread_join(h->threads[i], NULL);
    /* Jobs never started belong to requests that can no longer be answered. */
    while (h->head) {
        hasher_job_t *j = h->head;
        h->head = j->next;
        sodium_memzero(j->pw, sizeof j->pw);
        LOG_WARN("hasher", "dropping a password job at shutdown");
    }
    free(h->threads);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

bool hasher_reserve(hasher_t *h, int n)
{
    pthread_mutex_lock(&h->mu);
    bool ok = !h->stopping && h->load + n <= h->cap;
    if (ok)
        h->load += n;
    else
        h->refused++;
    pthread_mutex_unlock(&h->mu);
    return ok;
}

void hasher_release(hasher_t *h, int n)
{
    pthread_mutex_lock(&h->mu);
    h->load -= n;
    pthread_mutex_unlock(&h->mu);
}

int hasher_submit(hasher_t *h, hasher_job_t *job)
{
    pthread_mutex_lock(&h->mu);
    if (h->stopping) {
        h->load--;
        pthread_mutex_unlock(&h->mu);
        return RS_ECLOSED;
    }
    job->next = NULL;
    if (h->tail)
        h->tail->next = job;
    else
        h->head = job;
    h->tail = job;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

int hasher_load(hasher_t *h)
{
    pthread_mutex_lock(&h->mu);
    int n = h->load;
    pthread_mutex_unlock(&h->mu);
    return n;
}

unsigned long hasher_refused(hasher_t *h)
{
    pthread_mutex_lock(&h->mu);
    unsigned long n = h->refused;
    pthread_mutex_unlock(&h->mu);
    return n;
}
