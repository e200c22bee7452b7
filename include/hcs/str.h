/* SPDX-License-Identifier: MIT */
/*
 * hcs/str.h: a borrowed byte slice. hcs hands out request fields as slices
 * that point into memory the library owns; each accessor documents how long
 * the slice stays valid. Slices are not NUL-terminated.
 */
#ifndef HCS_STR_H
#define HCS_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct hcs_str_s {
  const char *base; /* first byte; may be NULL when len is 0 */
  size_t len;       /* number of bytes */
} hcs_str_t;

/* A slice of a NUL-terminated C string (borrowed, not copied). */
static inline hcs_str_t hcs_str_c(const char *s) {
  hcs_str_t r = {s, s ? strlen(s) : 0};
  return r;
}

/* True when the slice holds exactly the bytes of the C string s. */
static inline bool hcs_str_eq(hcs_str_t a, const char *s) {
  size_t n = strlen(s);
  return a.len == n && (n == 0 || memcmp(a.base, s, n) == 0);
}

#endif
