/* SPDX-License-Identifier: MIT */
/*
 * The bounded stream (hcs/stream.h): a ring of item pointers under one short
 * mutex, a condition variable for pushers that may wait (never loop threads),
 * and the waker of the response that drains it.
 *
 * Every accepted push and every close wakes the consumer; wakes coalesce in
 * the waker, so this costs one atomic exchange when a wake is already queued.
 * Items leave the lock before they are freed, so free callbacks never run
 * under it.
 */
#include "hcs/stream.h"

#include <stdatomic.h>
#include <uv.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "response/response.h"

#define INITIAL_SLOTS 8

struct hcs_stream_s {
  uv_mutex_t lock;
  uv_cond_t room;   /* signalled when a slot frees or the stream closes */
  atomic_size_t refs;
  hcs_stream_free_cb free_item;
  hcs_stream_size_cb size_of; /* optional byte accounting */
  size_t bytes;               /* sum of size_of over queued items */
  size_t capacity;    /* most items queued at once */
  size_t slots;       /* ring size: starts small, doubles up to capacity */
  size_t head, count; /* ring: items[(head + i) % slots], i < count */
  unsigned waiters;   /* pushers blocked on `room` */
  bool closed;        /* no more pushes */
  bool cancelled;     /* closed and emptied by the consumer's cancel */
  hcs_waker_t *waker; /* the consumer's, or NULL */
  void **items;
};

int hcs_stream_new(hcs_stream_t **out, size_t capacity,
                   hcs_stream_free_cb free_item) {
  if (capacity == 0 || capacity > SIZE_MAX / sizeof(void *))
    return HCS_EINVAL;
  hcs_stream_t *s = hcs__calloc(1, sizeof(*s));
  if (s == NULL)
    return HCS_ENOMEM;
  /* A small ring first: an idle stream costs little, and it grows. */
  s->slots = capacity < INITIAL_SLOTS ? capacity : INITIAL_SLOTS;
  s->items = hcs__malloc(s->slots * sizeof(void *));
  if (s->items == NULL) {
    hcs__free(s);
    return HCS_ENOMEM;
  }
  if (uv_mutex_init(&s->lock) != 0) {
    hcs__free(s->items);
    hcs__free(s);
    return HCS_ENOMEM;
  }
  if (uv_cond_init(&s->room) != 0) {
    uv_mutex_destroy(&s->lock);
    hcs__free(s->items);
    hcs__free(s);
    return HCS_ENOMEM;
  }
  atomic_init(&s->refs, 1);
  s->capacity = capacity;
  s->free_item = free_item;
  *out = s;
  return 0;
}

hcs_stream_t *hcs_stream_ref(hcs_stream_t *s) {
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  return s;
}

/* Free the n items of ring (`slots` slots) starting at head. */
static void free_ring(hcs_stream_t *s, void **ring, size_t slots, size_t head,
                      size_t n) {
  if (s->free_item)
    for (size_t i = 0; i < n; i++)
      s->free_item(ring[(head + i) % slots]);
}

void hcs_stream_unref(hcs_stream_t *s) {
  if (s == NULL ||
      atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
    return;
  /* The last reference: nobody else can touch the ring. */
  free_ring(s, s->items, s->slots, s->head, s->count);
  hcs_waker_unref(s->waker);
  uv_cond_destroy(&s->room);
  uv_mutex_destroy(&s->lock);
  hcs__free(s->items);
  hcs__free(s);
}

/* Queue item if there is room. Under the lock. Returns the waker to wake
 * (a new reference) through *to_wake on success. */
static int push_locked(hcs_stream_t *s, void *item, hcs_waker_t **to_wake) {
  if (s->closed)
    return HCS_ECLOSED;
  if (s->count == s->capacity)
    return HCS_EAGAIN;
  if (s->count == s->slots) {
    /* Double the ring, oldest item first. */
    size_t slots = s->slots * 2 < s->capacity ? s->slots * 2 : s->capacity;
    void **ring = hcs__malloc(slots * sizeof(void *));
    if (ring == NULL)
      return HCS_ENOMEM;
    for (size_t i = 0; i < s->count; i++)
      ring[i] = s->items[(s->head + i) % s->slots];
    hcs__free(s->items);
    s->items = ring;
    s->slots = slots;
    s->head = 0;
  }
  s->items[(s->head + s->count) % s->slots] = item;
  s->count++;
  if (s->size_of)
    s->bytes += s->size_of(item);
  *to_wake = s->waker ? hcs_waker_ref(s->waker) : NULL;
  return 0;
}

static void wake(hcs_waker_t *w) {
  if (w) {
    hcs_waker_wake(w);
    hcs_waker_unref(w);
  }
}

int hcs_stream_try_push(hcs_stream_t *s, void *item) {
  hcs_waker_t *w = NULL;
  uv_mutex_lock(&s->lock);
  int err = push_locked(s, item, &w);
  uv_mutex_unlock(&s->lock);
  wake(w);
  return err;
}

int hcs_stream_try_push_within(hcs_stream_t *s, void *item,
                               size_t max_bytes) {
  hcs_waker_t *w = NULL;
  size_t len = s->size_of ? s->size_of(item) : 0;
  uv_mutex_lock(&s->lock);
  int err = s->count > 0 && s->bytes + len > max_bytes
                ? (s->closed ? HCS_ECLOSED : HCS_ENOSPC)
                : push_locked(s, item, &w);
  uv_mutex_unlock(&s->lock);
  wake(w);
  return err;
}

int hcs_stream_push(hcs_stream_t *s, void *item) {
  /* A loop thread must never wait: it gets try_push's answer. */
  bool may_wait = hcs__current_worker() == NULL;
  hcs_waker_t *w = NULL;
  uv_mutex_lock(&s->lock);
  int err;
  while ((err = push_locked(s, item, &w)) == HCS_EAGAIN && may_wait) {
    s->waiters++;
    uv_cond_wait(&s->room, &s->lock);
    s->waiters--;
  }
  uv_mutex_unlock(&s->lock);
  wake(w);
  return err;
}

/* Remove the oldest item. Under the lock; the stream is not empty. */
static void *shift_locked(hcs_stream_t *s, size_t *bytes) {
  void *item = s->items[s->head];
  s->head = (s->head + 1) % s->slots;
  s->count--;
  size_t n = s->size_of ? s->size_of(item) : 0;
  s->bytes -= n;
  if (bytes)
    *bytes = n;
  if (s->waiters)
    uv_cond_signal(&s->room);
  return item;
}

int hcs_stream_try_take(hcs_stream_t *s, void **item) {
  uv_mutex_lock(&s->lock);
  int err = 0;
  if (s->count == 0)
    err = s->closed ? HCS_ECLOSED : HCS_EAGAIN;
  else
    *item = shift_locked(s, NULL);
  uv_mutex_unlock(&s->lock);
  return err;
}

int hcs_stream_drop_oldest(hcs_stream_t *s, size_t *bytes) {
  uv_mutex_lock(&s->lock);
  if (s->count == 0) {
    uv_mutex_unlock(&s->lock);
    return HCS_EAGAIN;
  }
  void *item = shift_locked(s, bytes);
  uv_mutex_unlock(&s->lock);
  if (s->free_item)
    s->free_item(item);
  return 0;
}

void hcs_stream_set_sizer(hcs_stream_t *s, hcs_stream_size_cb size_of) {
  uv_mutex_lock(&s->lock);
  s->size_of = size_of;
  uv_mutex_unlock(&s->lock);
}

size_t hcs_stream_bytes(hcs_stream_t *s) {
  uv_mutex_lock(&s->lock);
  size_t n = s->bytes;
  uv_mutex_unlock(&s->lock);
  return n;
}

/* Close, and on cancel empty the ring; wakes the consumer and all waiters. */
static void close_stream(hcs_stream_t *s, bool cancel) {
  /* A cancelled ring is swapped for a small fresh one (allocated outside
   * the lock) so that its items are freed after unlocking; without memory
   * for it they are freed under the lock. */
  void **fresh = cancel ? hcs__malloc(INITIAL_SLOTS * sizeof(void *)) : NULL;
  void **old = NULL;
  size_t old_slots = 0, head = 0, n = 0;
  uv_mutex_lock(&s->lock);
  s->closed = true;
  if (cancel && !s->cancelled) {
    s->cancelled = true;
    if (fresh) {
      old = s->items, old_slots = s->slots, head = s->head, n = s->count;
      s->items = fresh;
      s->slots = s->capacity < INITIAL_SLOTS ? s->capacity : INITIAL_SLOTS;
      fresh = NULL;
    } else {
      free_ring(s, s->items, s->slots, s->head, s->count);
    }
    s->head = s->count = 0;
    s->bytes = 0;
  }
  uv_cond_broadcast(&s->room);
  hcs_waker_t *w = s->waker ? hcs_waker_ref(s->waker) : NULL;
  uv_mutex_unlock(&s->lock);
  free_ring(s, old, old_slots, head, n);
  hcs__free(old);
  hcs__free(fresh);
  wake(w);
}

void hcs_stream_close(hcs_stream_t *s) { close_stream(s, false); }

void hcs_stream_cancel(hcs_stream_t *s) { close_stream(s, true); }

bool hcs_stream_cancelled(hcs_stream_t *s) {
  uv_mutex_lock(&s->lock);
  bool c = s->cancelled;
  uv_mutex_unlock(&s->lock);
  return c;
}

size_t hcs_stream_length(hcs_stream_t *s) {
  uv_mutex_lock(&s->lock);
  size_t n = s->count;
  uv_mutex_unlock(&s->lock);
  return n;
}

size_t hcs_stream_capacity(const hcs_stream_t *s) { return s->capacity; }

void hcs_stream_set_waker(hcs_stream_t *s, hcs_waker_t *waker) {
  if (waker)
    hcs_waker_ref(waker);
  uv_mutex_lock(&s->lock);
  hcs_waker_t *old = s->waker;
  s->waker = waker;
  uv_mutex_unlock(&s->lock);
  hcs_waker_unref(old);
}
