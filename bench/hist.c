/* hist.c - see hist.h. */
#include "hist.h"

#include <string.h>

#define SUB_COUNT (1u << LAT_HIST_SUB_BITS)

/* Values below SUB_COUNT get one bucket each; above, the top LAT_HIST_SUB_BITS bits after
 * the leading one pick the sub-bucket within the value's power of two. */
static unsigned bucket_of(uint64_t v)
{
    if (v < SUB_COUNT) return (unsigned)v;
    unsigned exp = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (exp - LAT_HIST_SUB_BITS)) & (SUB_COUNT - 1);
    return (exp - LAT_HIST_SUB_BITS + 1) * SUB_COUNT + sub;
}

static uint64_t bucket_low(unsigned idx)
{
    if (idx < SUB_COUNT) return idx;
    unsigned exp = idx / SUB_COUNT + LAT_HIST_SUB_BITS - 1;
    uint64_t sub = idx % SUB_COUNT;
    return (SUB_COUNT + sub) << (exp - LAT_HIST_SUB_BITS);
}

static uint64_t bucket_width(unsigned idx)
{
    if (idx < SUB_COUNT) return 1;
    unsigned exp = idx / SUB_COUNT + LAT_HIST_SUB_BITS - 1;
    return (uint64_t)1 << (exp - LAT_HIST_SUB_BITS);
}

void lat_hist_init(lat_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void lat_hist_record(lat_hist_t *h, uint64_t value)
{
    h->bucket[bucket_of(value)]++;
    h->count++;
    h->sum += value;
    if (value < h->min) h->min = value;
    if (value > h->max) h->max = value;
}

void lat_hist_merge(lat_hist_t *dst, const lat_hist_t *src)
{
    if (src->count == 0) return;
    for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++) dst->bucket[i] += src->bucket[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
}

uint64_t lat_hist_quantile(const lat_hist_t *h, double q)
{
    if (h->count == 0) return 0;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    /* rank is 1-based: the smallest value v such that at least q*count values are <= v */
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t v = bucket_low(i) + bucket_width(i) / 2;
            if (v < h->min) v = h->min;
            if (v > h->max) v = h->max;
            return v;
        }
    }
    return h->max;
}

double lat_hist_mean(const lat_hist_t *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
