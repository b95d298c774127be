#include "sio/recovery.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/err.h"

struct stored {
    uint64_t seq;
    uint64_t at_ms;
    eio_prepared_t text;
    eio_prepared_t bins[SIO_MAX_ATTACHMENTS];
    int nbins;
    char **rooms;
    size_t nrooms;
    char **except;
    size_t nexcept;
};

struct session {
    char *pid;
    char sid[32];
    char **rooms;
    size_t nrooms;
    uint64_t at_ms;
    struct session *next;
};

struct sio_recovery {
    pthread_mutex_t lock;
    uint32_t max_ms;
    uint64_t next_seq;
    char prefix[12]; /* random per process: offsets from a previous run never match */
    struct stored *ring;
    size_t head, len, cap;
    struct session *sessions;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char **dup_names(const char *const *v, size_t n)
{
    if (!n) return NULL;
    char **o = calloc(n, sizeof *o);
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) o[i] = strdup(v[i]);
    return o;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void prepared_copy(eio_prepared_t *dst, const eio_prepared_t *src)
{
    dst->payload = src->payload ? rbuf_ref(src->payload) : NULL;
    dst->ws_frame = src->ws_frame ? rbuf_ref(src->ws_frame) : NULL;
    dst->binary = src->binary;
}

static void stored_release(struct stored *s)
{
    eio_prepared_release(&s->text);
    for (int i = 0; i < s->nbins; i++) eio_prepared_release(&s->bins[i]);
    free_names(s->rooms, s->nrooms);
    free_names(s->except, s->nexcept);
    memset(s, 0, sizeof *s);
}

sio_recovery_t *sio_recovery_new(uint32_t max_disconnection_ms)
{
    sio_recovery_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_mutex_init(&r->lock, NULL);
    r->max_ms = max_disconnection_ms;
    unsigned char rnd[4];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) memset(rnd, 7, sizeof rnd);
    snprintf(r->prefix, sizeof r->prefix, "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
    return r;
}

void sio_recovery_free(sio_recovery_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->len; i++) stored_release(&r->ring[(r->head + i) % r->cap]);
    free(r->ring);
    while (r->sessions) {
        struct session *s = r->sessions;
        r->sessions = s->next;
        free(s->pid);
        free_names(s->rooms, s->nrooms);
        free(s);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void sio_recovery_next_offset(sio_recovery_t *r, char *out, size_t cap)
{
    pthread_mutex_lock(&r->lock);
    uint64_t seq = ++r->next_seq;
    pthread_mutex_unlock(&r->lock);
    snprintf(out, cap, "%s-%llx", r->prefix, (unsigned long long)seq);
}

static int parse_offset(const sio_recovery_t *r, const char *offset, uint64_t *seq)
{
    size_t pl = strlen(r->prefix);
    if (strncmp(offset, r->prefix, pl) != 0 || offset[pl] != '-') return RS_ENOTFOUND;
    char *end;
    unsigned long long v = strtoull(offset + pl + 1, &end, 16);
    if (*end || end == offset + pl + 1) return RS_ENOTFOUND;
    *seq = v;
    return 0;
}

static void expire(sio_recovery_t *r, uint64_t now)
{
    while (r->len && (now - r->ring[r->head].at_ms > r->max_ms || r->len >= RECOVERY_MAX_PACKETS)) {
        stored_release(&r->ring[r->head]);
        r->head = (r->head + 1) % r->cap;
        r->len--;
    }
    for (struct session **pp = &r->sessions; *pp;) {
        struct session *s = *pp;
        if (now - s->at_ms > r->max_ms) {
            *pp = s->next;
            free(s->pid);
            free_names(s->rooms, s->nrooms);
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

void sio_recovery_store(sio_recovery_t *r, const char *offset, const eio_prepared_t *text,
                        const char *const *rooms, size_t nrooms, const char *const *except,
                        size_t nexcept, const eio_prepared_t *bins, int nbins)
{
    uint64_t seq;
    if (parse_offset(r, offset, &seq)) return;
    pthread_mutex_lock(&r->lock);
    uint64_t now = now_ms();
    expire(r, now);
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        struct stored *n = calloc(cap, sizeof *n);
        if (!n) goto out;
        for (size_t i = 0; i < r->len; i++) n[i] = r->ring[(r->head + i) % r->cap];
        free(r->ring);
        r->ring = n;
        r->cap = cap;
        r->head = 0;
    }
    struct stored *s = &r->ring[(r->head + r->len) % r->cap];
    s->seq = seq;
    s->at_ms = now;
    prepared_copy(&s->text, text);
    for (int i = 0; i < nbins; i++) prepared_copy(&s->bins[i], &bins[i]);
    s->nbins = nbins;
    s->rooms = dup_names(rooms, nrooms);
    s->nrooms = s->rooms ? nrooms : 0;
    s->except = dup_names(except, nexcept);
    s->nexcept = s->except ? nexcept : 0;
    r->len++;
out:
    pthread_mutex_unlock(&r->lock);
}

void sio_recovery_persist(sio_recovery_t *r, const char *pid, const char *sid,
                          const char *const *rooms, size_t nrooms)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s) return;
    s->pid = strdup(pid);
    snprintf(s->sid, sizeof s->sid, "%s", sid);
    s->rooms = dup_names(rooms, nrooms);
    s->nrooms = s->rooms ? nrooms : 0;
    pthread_mutex_lock(&r->lock);
    s->at_ms = now_ms();
    expire(r, s->at_ms);
    s->next = r->sessions;
    r->sessions = s;
    pthread_mutex_unlock(&r->lock);
}

static int in_names(char **v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], name) == 0) return 1;
    return 0;
}

/* Would a socket with this id and these rooms have received the stored packet? */
static int matches(const struct stored *p, const struct session *s)
{
    for (size_t i = 0; i < p->nexcept; i++)
        if (strcmp(p->except[i], s->sid) == 0 || in_names(s->rooms, s->nrooms, p->except[i])) return 0;
    if (!p->nrooms) return 1;
    for (size_t i = 0; i < p->nrooms; i++)
        if (strcmp(p->rooms[i], s->sid) == 0 || in_names(s->rooms, s->nrooms, p->rooms[i])) return 1;
    return 0;
}

int sio_recovery_restore(sio_recovery_t *r, const char *pid, const char *offset, sio_recovered_t *out)
{
    memset(out, 0, sizeof *out);
    uint64_t seq;
    if (parse_offset(r, offset, &seq)) return RS_ENOTFOUND;
    pthread_mutex_lock(&r->lock);
    expire(r, now_ms());
    struct session **pp = &r->sessions, *s = NULL;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->pid, pid) == 0) {
            s = *pp;
            break;
        }
    /* The offset must still be in the store (or be the newest one issued), else packets may
     * have been lost: the reference then refuses recovery too. */
    int known = seq == r->next_seq;
    for (size_t i = 0; i < r->len && !known; i++)
        if (r->ring[(r->head + i) % r->cap].seq == seq) known = 1;
    if (!s || !known) {
        pthread_mutex_unlock(&r->lock);
        return RS_ENOTFOUND;
    }
    *pp = s->next;
    for (size_t i = 0; i < r->len; i++) {
        struct stored *p = &r->ring[(r->head + i) % r->cap];
        if (p->seq <= seq || !matches(p, s)) continue;
        sio_recovered_packet_t *v = realloc(out->packets, (out->npackets + 1) * sizeof *v);
        if (!v) break;
        out->packets = v;
        sio_recovered_packet_t *d = &v[out->npackets++];
        memset(d, 0, sizeof *d);
        prepared_copy(&d->text, &p->text);
        for (int k = 0; k < p->nbins; k++) prepared_copy(&d->bins[k], &p->bins[k]);
        d->nbins = p->nbins;
    }
    pthread_mutex_unlock(&r->lock);
    out->pid = s->pid;
    snprintf(out->sid, sizeof out->sid, "%s", s->sid);
    out->rooms = s->rooms;
    out->nrooms = s->nrooms;
    free(s);
    return 0;
}

void sio_recovered_release(sio_recovered_t *rec)
{
    free(rec->pid);
    free_names(rec->rooms, rec->nrooms);
    for (size_t i = 0; i < rec->npackets; i++) {
        eio_prepared_release(&rec->packets[i].text);
        for (int k = 0; k < rec->packets[i].nbins; k++) eio_prepared_release(&rec->packets[i].bins[k]);
    }
    free(rec->packets);
    memset(rec, 0, sizeof *rec);
}
