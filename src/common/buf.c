/* SPDX-License-Identifier: MIT */
/*
 * common/buf.c: immutable reference-counted buffers (hcs/buf.h). Header and
 * bytes share one allocation; a count of 0 marks a static buffer.
 */
#include "hcs/buf.h"

#include <string.h>

#include "common/alloc.h"
#include "hcs/error.h"

int hcs_buf_new(hcs_buf_t **out, size_t cap) {
  hcs_buf_t *b = hcs__malloc(sizeof(*b) + cap);
  if (b == NULL)
    return HCS_ENOMEM;
  atomic_init(&b->refs, 1);
  b->len = 0;
  b->cap = cap;
  b->data = (char *)(b + 1);
  *out = b;
  return 0;
}

int hcs_buf_copy(hcs_buf_t **out, const void *data, size_t len) {
  hcs_buf_t *b;
  int err = hcs_buf_new(&b, len);
  if (err < 0)
    return err;
  if (len)
    memcpy(b->data, data, len);
  b->len = len;
  *out = b;
  return 0;
}

hcs_buf_t *hcs_buf_ref(hcs_buf_t *b) {
  if (b && atomic_load_explicit(&b->refs, memory_order_relaxed) != 0)
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
  return b;
}

void hcs_buf_unref(hcs_buf_t *b) {
  if (b == NULL || atomic_load_explicit(&b->refs, memory_order_relaxed) == 0)
    return;
  /* Release on every drop, acquire before the free, so the freeing thread
   * sees every write made through other references. */
  if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
    hcs__free(b);
}

void hcs_buf_unref_item(void *item) {
  hcs_buf_unref(item);
}

size_t hcs_buf_size_item(const void *item) {
  return ((const hcs_buf_t *)item)->len;
}
