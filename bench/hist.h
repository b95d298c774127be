/* hist.h - latency histogram with logarithmic buckets, for the load generator.
 *
 * Values (nanoseconds) fall into 16 linear sub-buckets per power of two, so every reported
 * quantile is within about 3% of the true value, whatever the range (1 ns to centuries),
 * in a fixed 8 KiB table: no allocation, so a worker thread can record on its hot path and
 * histograms of several threads merge by addition. */
#ifndef ROOST_BENCH_HIST_H
#define ROOST_BENCH_HIST_H

#include <stdint.h>

#define LAT_HIST_SUB_BITS 4
#define LAT_HIST_BUCKETS  (64 << LAT_HIST_SUB_BITS)

/* Embedded by its owner (one per worker thread); not shared between threads while recording. */
typedef struct lat_hist {
    uint64_t count;
    uint64_t sum;
    uint64_t min;
    uint64_t max;
    uint64_t bucket[LAT_HIST_BUCKETS];
} lat_hist_t;

/* Empties h. */
void lat_hist_init(lat_hist_t *h);

/* Counts one value. Never fails. */
void lat_hist_record(lat_hist_t *h, uint64_t value);

/* Adds every count of src to dst (src is unchanged). */
void lat_hist_merge(lat_hist_t *dst, const lat_hist_t *src);

/* The value below which a fraction q (0..1) of the recorded values lie: the midpoint of the
 * bucket holding that rank, clamped to [min, max]. 0 when h is empty. */
uint64_t lat_hist_quantile(const lat_hist_t *h, double q);

/* Arithmetic mean of the recorded values; 0 when h is empty. */
double lat_hist_mean(const lat_hist_t *h);

#endif
