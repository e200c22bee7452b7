/* SPDX-License-Identifier: MIT */
/*
 * response/writeq.c: segment queue feeding writev (see writeq.h).
 */
#include "response/writeq.h"

#include <assert.h>
#include <string.h>

#include "common/alloc.h"
#include "hcs/error.h"

void hcs_writeq_init(hcs_writeq_t *q) {
  memset(q, 0, sizeof(*q));
}

void hcs_writeq_cleanup(hcs_writeq_t *q) {
  for (size_t i = 0; i < q->count; i++)
    hcs_buf_unref(q->segs[q->head + i].buf);
  hcs_buf_unref(q->block);
  hcs__free(q->segs);
  size_t dropped = q->dropped + q->count;
  hcs_writeq_init(q);
  q->dropped = dropped;
}

/* Make room for one more segment at the tail. */
static int grow(hcs_writeq_t *q) {
  if (q->head + q->count < q->cap)
    return 0;
  if (q->head > 0 && q->count < q->cap / 2) {
    /* Plenty of room at the front: slide down instead of growing. */
    memmove(q->segs, q->segs + q->head, q->count * sizeof(*q->segs));
    q->head = 0;
    return 0;
  }
  size_t cap = q->cap ? q->cap * 2 : 8;
  hcs_seg_t *segs = hcs__malloc(cap * sizeof(*segs));
  if (segs == NULL)
    return HCS_ENOMEM;
  if (q->count)
    memcpy(segs, q->segs + q->head, q->count * sizeof(*segs));
  hcs__free(q->segs);
  q->segs = segs;
  q->cap = cap;
  q->head = 0;
  return 0;
}

static hcs_seg_t *tail_seg(hcs_writeq_t *q) {
  return q->count ? &q->segs[q->head + q->count - 1] : NULL;
}

/* Copy len bytes into the tail block (a fresh one when it lacks room) and
 * return where they went and which block holds them. */
static int copy_to_block(hcs_writeq_t *q, const void *data, size_t len,
                         hcs_buf_t **blockp, const char **at) {
  hcs_buf_t *b = q->block;
  if (b == NULL || b->cap - b->len < len) {
    int err = hcs_buf_new(&b, len > HCS_WRITEQ_BLOCK ? len : HCS_WRITEQ_BLOCK);
    if (err < 0)
      return err;
    hcs_buf_unref(q->block);
    q->block = b;
  }
  char *dst = b->data + b->len;
  memcpy(dst, data, len);
  b->len += len;
  *blockp = b;
  *at = dst;
  return 0;
}

int hcs_writeq_copy(hcs_writeq_t *q, const void *data, size_t len) {
  if (len == 0)
    return 0;
  int err = grow(q);
  if (err < 0)
    return err;
  hcs_buf_t *b;
  const char *at;
  err = copy_to_block(q, data, len, &b, &at);
  if (err < 0)
    return err;
  q->bytes += len;
  /* Bytes that land right after the tail segment's bytes in the same block
   * extend that segment: many small copies become one iovec. */
  hcs_seg_t *t = tail_seg(q);
  if (t && t->buf == b && t->base + t->len == at) {
    t->len += len;
    return 0;
  }
  q->segs[q->head + q->count++] = (hcs_seg_t){hcs_buf_ref(b), at, len};
  return 0;
}

int hcs_writeq_ref(hcs_writeq_t *q, hcs_buf_t *buf, const char *data,
                   size_t len) {
  if (len == 0)
    return 0;
  int err = grow(q);
  if (err < 0)
    return err;
  q->segs[q->head + q->count++] = (hcs_seg_t){hcs_buf_ref(buf), data, len};
  q->bytes += len;
  return 0;
}

int hcs_writeq_reserve(hcs_writeq_t *q, size_t *slot) {
  int err = grow(q);
  if (err < 0)
    return err;
  *slot = q->dropped + q->count;
  q->segs[q->head + q->count++] = (hcs_seg_t){NULL, NULL, 0};
  return 0;
}

int hcs_writeq_fill(hcs_writeq_t *q, size_t slot, const void *data,
                    size_t len) {
  assert(slot >= q->dropped && slot - q->dropped < q->count);
  hcs_seg_t *s = &q->segs[q->head + (slot - q->dropped)];
  assert(s->buf == NULL);
  if (len == 0)
    return 0;
  hcs_buf_t *b;
  const char *at;
  int err = copy_to_block(q, data, len, &b, &at);
  if (err < 0)
    return err;
  *s = (hcs_seg_t){hcs_buf_ref(b), at, len};
  q->bytes += len;
  return 0;
}

void hcs_writeq_truncate(hcs_writeq_t *q, size_t slot) {
  assert(slot >= q->dropped && slot - q->dropped <= q->count);
  size_t keep = slot - q->dropped;
  for (size_t i = keep; i < q->count; i++)
    assert(q->segs[q->head + i].buf == NULL);
  q->count = keep;
}

size_t hcs_writeq_iov(const hcs_writeq_t *q, struct iovec *iov, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < q->count && n < max; i++) {
    const hcs_seg_t *s = &q->segs[q->head + i];
    if (s->len == 0)
      continue;
    iov[n].iov_base = (void *)s->base;
    iov[n].iov_len = s->len;
    n++;
  }
  return n;
}

void hcs_writeq_consume(hcs_writeq_t *q, size_t n) {
  assert(n <= q->bytes);
  q->bytes -= n;
  while (q->count > 0) {
    hcs_seg_t *s = &q->segs[q->head];
    if (s->len > n) {
      s->base += n;
      s->len -= n;
      return;
    }
    n -= s->len;
    hcs_buf_unref(s->buf);
    q->head++;
    q->count--;
    q->dropped++;
  }
  /* Drained. When nothing else references the copy block, rewind it so
   * the next bytes reuse it instead of a fresh allocation. */
  q->head = 0;
  if (q->block && atomic_load(&q->block->refs) == 1)
    q->block->len = 0;
}

void hcs_writeq_release(hcs_writeq_t *q) {
  if (q->count != 0)
    return;
  hcs__free(q->segs);
  q->segs = NULL;
  q->cap = q->head = 0;
  hcs_buf_unref(q->block);
  q->block = NULL;
}
