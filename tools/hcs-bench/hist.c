/* SPDX-License-Identifier: MIT */
/* The log-bucket latency histogram (see hist.h). */
#include "hist.h"

#include <string.h>

/* Bucket of V: V itself below 128; else, with S = (bit length of V) - 7,
 * 64 * S + (V >> S), where V >> S lies in 64..127. */
static unsigned bucket_of(uint64_t v) {
  if (v < 128)
    return (unsigned)v;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v);
  unsigned shift = msb - 6;
  return 64 * shift + (unsigned)(v >> shift);
}

/* The highest value that falls into bucket I. */
static uint64_t bucket_high(unsigned i) {
  if (i < 128)
    return i;
  unsigned shift = i / 64 - 1;
  uint64_t m = i % 64 + 64;
  return ((m + 1) << shift) - 1;
}

void hb_hist_init(hb_hist_t *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

void hb_hist_add(hb_hist_t *h, uint64_t v) {
  if (v > HB_HIST_MAX_VALUE)
    v = HB_HIST_MAX_VALUE;
  h->b[bucket_of(v)]++;
  h->count++;
  h->sum += v;
  if (v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
}

void hb_hist_merge(hb_hist_t *dst, const hb_hist_t *src) {
  for (unsigned i = 0; i < HB_HIST_BUCKETS; i++)
    dst->b[i] += src->b[i];
  dst->count += src->count;
  dst->sum += src->sum;
  if (src->min < dst->min)
    dst->min = src->min;
  if (src->max > dst->max)
    dst->max = src->max;
}

uint64_t hb_hist_percentile(const hb_hist_t *h, double p) {
  if (h->count == 0)
    return 0;
  if (p >= 100.0)
    return h->max;
  /* The rank of the value: ceil(p% of count), at least 1. */
  uint64_t rank = (uint64_t)((p / 100.0) * (double)h->count);
  if ((double)rank < (p / 100.0) * (double)h->count)
    rank++;
  if (rank < 1)
    rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HB_HIST_BUCKETS; i++) {
    seen += h->b[i];
    if (seen >= rank) {
      uint64_t v = bucket_high(i);
      if (v > h->max)
        v = h->max;
      if (v < h->min)
        v = h->min;
      return v;
    }
  }
  return h->max;
}
