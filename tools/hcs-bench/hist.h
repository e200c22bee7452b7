/* SPDX-License-Identifier: MIT */
/*
 * A latency histogram with logarithmic buckets, in the manner of HdrHistogram:
 * values below 128 have a bucket each; above, every power of two is split
 * into 64 buckets, so any value is known to within 1/64 (1.6 %). It holds
 * values up to 2^40 (in nanoseconds, 18 minutes; larger ones are clamped)
 * in a fixed array, so adding is a few instructions and never allocates,
 * and two histograms merge by adding their arrays (that is how hcs-bench's
 * worker processes combine theirs).
 *
 * Threads: none; a histogram belongs to its user.
 */
#ifndef HCS_BENCH_HIST_H
#define HCS_BENCH_HIST_H

#include <stdint.h>

#define HB_HIST_MAX_VALUE (((uint64_t)1 << 40) - 1)
#define HB_HIST_BUCKETS (64 * 35)

typedef struct {
  uint64_t count;
  uint64_t min; /* exact; UINT64_MAX while empty */
  uint64_t max; /* exact */
  uint64_t sum; /* of the values, for the mean */
  uint64_t b[HB_HIST_BUCKETS];
} hb_hist_t;

/* Empties H. */
void hb_hist_init(hb_hist_t *h);
/* Adds one value (clamped to HB_HIST_MAX_VALUE). */
void hb_hist_add(hb_hist_t *h, uint64_t v);
/* Adds every value of SRC to DST. */
void hb_hist_merge(hb_hist_t *dst, const hb_hist_t *src);
/* The value at percentile P (0 < P <= 100): the highest value of the bucket
 * that holds it, never above the exact maximum; 0 when H is empty. */
uint64_t hb_hist_percentile(const hb_hist_t *h, double p);

#endif
