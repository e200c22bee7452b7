/* SPDX-License-Identifier: MIT */
/*
 * hcs/buf.h: immutable, reference-counted byte buffers.
 *
 * A buffer is written once by its creator, then shared read-only: a fan-out
 * message is formatted once and every subscriber's write queue holds a
 * reference instead of a copy. The count is atomic, so references may be
 * taken and dropped on any thread. Header and bytes live in one allocation.
 * Static buffers (hcs_buf_static) are never freed and ignore ref/unref.
 */
#ifndef HCS_BUF_H
#define HCS_BUF_H

#include <stdatomic.h>
#include <stddef.h>

#include "export.h"

typedef struct hcs_buf_s {
  atomic_size_t refs; /* 0 marks a static buffer that is never freed */
  size_t len;         /* bytes in use */
  size_t cap;         /* bytes allocated after the header */
  char *data;         /* points at the bytes (just after the header) */
} hcs_buf_t;

/*
 * Allocate a buffer with room for cap bytes, length 0, one reference owned by
 * the caller. Fill data[0..cap) and set len before sharing it.
 * Returns 0 and sets *out, or HCS_ENOMEM (then *out is untouched).
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_buf_new(hcs_buf_t **out, size_t cap);

/*
 * Allocate a buffer holding a copy of len bytes of data (borrowed for the
 * call). Returns 0 and sets *out, or HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_buf_copy(hcs_buf_t **out, const void *data,
                                            size_t len);

/* Take one more reference; returns b. Any thread. NULL is allowed. */
HCS_EXTERN hcs_buf_t *hcs_buf_ref(hcs_buf_t *b);

/* Drop one reference; the last one frees the buffer. NULL is a no-op. */
HCS_EXTERN void hcs_buf_unref(hcs_buf_t *b);

/* hcs_buf_unref for a stream's free callback (item is an hcs_buf_t *). */
HCS_EXTERN void hcs_buf_unref_item(void *item);

/* A buffer's length, for a stream's byte accounting (item is an hcs_buf_t *). */
HCS_EXTERN size_t hcs_buf_size_item(const void *item);

/*
 * Initialise a caller-owned static buffer over constant bytes, e.g. the
 * keepalive comment. ref/unref never free it.
 */
#define HCS_BUF_STATIC(bytes)                                                 \
  { 0, sizeof(bytes) - 1, sizeof(bytes) - 1, (char *)(bytes) }

#endif
