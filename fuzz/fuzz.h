/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz.h: helpers shared by the libFuzzer targets (fuzz/<target>.c).
 *
 * A broken invariant is reported with FUZZ_CHECK, which prints what failed
 * and aborts, so libFuzzer saves the input as a crash. Inputs the library
 * reads are copied to exact-size heap blocks first (fuzz_dup), so that
 * AddressSanitizer catches a read one byte past the end.
 */
#ifndef HCS_FUZZ_H
#define HCS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* An exact-size heap copy of p[0..n) (a 1-byte block for n == 0). Never
 * NULL: out of memory aborts, which is the harness's own failure. */
static inline char *fuzz_dup(const void *p, size_t n) {
  char *d = malloc(n > 0 ? n : 1);
  if (d == NULL)
    abort();
  if (n > 0)
    memcpy(d, p, n);
  return d;
}

/* Print p[0..n) as an escaped string on stderr (for check messages). */
static inline void fuzz_dump(const char *what, const void *p, size_t n) {
  const unsigned char *s = p;
  fprintf(stderr, "%s (%zu bytes): \"", what, n);
  for (size_t i = 0; i < n && i < 400; i++) {
    if (s[i] == '"' || s[i] == '\\')
      fprintf(stderr, "\\%c", s[i]);
    else if (s[i] < 0x20 || s[i] >= 0x7f)
      fprintf(stderr, "\\x%02x", s[i]);
    else
      fputc(s[i], stderr);
  }
  fprintf(stderr, "%s\"\n", n > 400 ? "..." : "");
}

/*
 * Split points from control bytes: each byte b of ctl[0..n) gives the point
 * b * (len + 1) / 256 in [0, len], so a seed scales to any length and the
 * fuzzer steers where pieces end. Writes n points to out, sorted, and
 * returns how many distinct ones there are (duplicates removed).
 */
static inline size_t fuzz_split_points(const uint8_t *ctl, size_t n, size_t len,
                                       size_t *out) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    size_t p = (size_t)ctl[i] * (len + 1) / 256, j = k;
    for (; j > 0 && out[j - 1] > p; j--)
      out[j] = out[j - 1];
    out[j] = p;
    k++;
  }
  size_t m = 0;
  for (size_t i = 0; i < k; i++)
    if (m == 0 || out[m - 1] != out[i])
      out[m++] = out[i];
  return m;
}

#endif
