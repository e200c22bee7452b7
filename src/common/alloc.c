/* SPDX-License-Identifier: MIT */
/*
 * common/alloc.c: allocation hook with a fail-the-N-th-call switch for tests.
 */
#include "common/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_ulong fail_at;  /* 0: never fail */
static atomic_ulong count;

static int should_fail(void) {
  unsigned long at = atomic_load_explicit(&fail_at, memory_order_relaxed);
  unsigned long n = atomic_fetch_add_explicit(&count, 1, memory_order_relaxed) + 1;
  return at != 0 && n >= at;
}

void hcs__alloc_fail_after(unsigned long nth) {
  atomic_store(&count, 0);
  atomic_store(&fail_at, nth);
}

unsigned long hcs__alloc_count(void) {
  return atomic_load(&count);
}

void *hcs__malloc(size_t n) {
  return should_fail() ? NULL : malloc(n ? n : 1);
}

void *hcs__calloc(size_t c, size_t n) {
  return should_fail() ? NULL : calloc(c ? c : 1, n ? n : 1);
}

void *hcs__realloc(void *p, size_t n) {
  return should_fail() ? NULL : realloc(p, n ? n : 1);
}

void hcs__free(void *p) {
  free(p);
}

char *hcs__strndup(const char *s, size_t n) {
  char *d = hcs__malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

char *hcs__strdup(const char *s) {
  return hcs__strndup(s, strlen(s));
}
