/* SPDX-License-Identifier: MIT */
/*
 * common/alloc.h: the one allocation hook every hcs module uses, so tests can
 * make the N-th allocation fail and prove each path returns HCS_ENOMEM
 * cleanly. Production builds call the C library directly; the counters cost
 * one relaxed atomic load.
 */
#ifndef HCS_COMMON_ALLOC_H
#define HCS_COMMON_ALLOC_H

#include <stddef.h>

void *hcs__malloc(size_t n);
void *hcs__calloc(size_t count, size_t n);
void *hcs__realloc(void *p, size_t n);
void hcs__free(void *p);
char *hcs__strdup(const char *s);
char *hcs__strndup(const char *s, size_t n);

/*
 * Test hook: make allocation number `nth` (counting from 1 after this call)
 * and every later one fail, or disarm with 0. Not thread-safe to arm while
 * other threads allocate; tests arm it on a quiet process.
 */
void hcs__alloc_fail_after(unsigned long nth);

/* Allocations made since the last hcs__alloc_fail_after call. */
unsigned long hcs__alloc_count(void);

#endif
