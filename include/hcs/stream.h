/* SPDX-License-Identifier: MIT */
/*
 * hcs/stream.h: a bounded, thread-safe queue that one streaming response
 * drains (the seed's `Eio.Stream.create 32`).
 *
 * Producers push items from any thread; the response that consumes the
 * stream (hcs_sse_respond_with_stream and friends) takes them on its loop
 * thread. A push never blocks a loop thread: hcs_stream_try_push reports a
 * full queue with HCS_EAGAIN and the caller chooses a policy (drop, close,
 * retry later). hcs_stream_push waits for room, and is for other threads.
 *
 * Items are opaque pointers; the stream owns each item it accepted and frees
 * it with the free callback given at creation if it is never taken (the
 * consumer was cancelled, or the stream is freed with items left).
 *
 * Lifecycle: hcs_stream_new returns one reference; a consuming response takes
 * its own. hcs_stream_close says "no more items": the consumer ends after
 * what is queued. When the consumer is cancelled (client gone, server
 * stopping) the stream is cancelled: queued items are freed at once and
 * later pushes fail with HCS_ECLOSED, so a producer learns to stop.
 */
#ifndef HCS_STREAM_H
#define HCS_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "export.h"
#include "response.h"

typedef struct hcs_stream_s hcs_stream_t;

/* Frees one item the stream owns. Runs on whichever thread drops it. */
typedef void (*hcs_stream_free_cb)(void *item);

/*
 * Create a stream holding at most `capacity` items (at least 1). free_item
 * (may be NULL: items are not freed) releases items never taken.
 * Sets *out (one reference, the caller's) and returns 0; HCS_EINVAL when
 * capacity is 0; HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_stream_new(hcs_stream_t **out,
                                              size_t capacity,
                                              hcs_stream_free_cb free_item);

/* Take another reference. Any thread. Returns s. */
HCS_EXTERN hcs_stream_t *hcs_stream_ref(hcs_stream_t *s);

/*
 * Drop a reference; the last one frees the stream and every item still in it.
 * Any thread. NULL is a no-op.
 */
HCS_EXTERN void hcs_stream_unref(hcs_stream_t *s);

/*
 * Add an item without waiting. Any thread, including loop threads.
 * Returns 0 (the stream owns item now, and the consumer is woken),
 * HCS_EAGAIN (full: the caller keeps item), HCS_ECLOSED (closed or cancelled:
 * the caller keeps item), HCS_ENOMEM (the ring, which starts small and
 * grows up to the capacity, could not grow: the caller keeps item).
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_stream_try_push(hcs_stream_t *s,
                                                   void *item);

/*
 * Add an item unless the stream holds items already and their bytes plus
 * this one's would pass max_bytes (byte accounting: hcs_stream_set_sizer).
 * One check and push under one lock, for bounded fan-out queues. Any
 * thread. Returns 0 (the stream owns item), HCS_ENOSPC (over the bound: the
 * caller keeps item), or what hcs_stream_try_push returns.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_stream_try_push_within(hcs_stream_t *s,
                                                          void *item,
                                                          size_t max_bytes);

/*
 * Add an item, waiting for room. Not on a loop thread: there it returns
 * HCS_EAGAIN at once when full instead of blocking (hcs_stream_try_push's
 * behaviour). Returns 0 (the stream owns item), HCS_ECLOSED (closed or
 * cancelled, possibly while waiting: the caller keeps item), HCS_EAGAIN,
 * HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_stream_push(hcs_stream_t *s, void *item);

/*
 * Take the oldest item without waiting. Any thread; normally the consuming
 * response's loop. Sets *item (now the caller's) and returns 0; HCS_EAGAIN
 * when empty and still open; HCS_ECLOSED when empty and closed or cancelled.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_stream_try_take(hcs_stream_t *s,
                                                   void **item);

/*
 * No more pushes: later pushes fail with HCS_ECLOSED; items already queued
 * are still delivered, then the consumer ends. Idempotent. Any thread.
 */
HCS_EXTERN void hcs_stream_close(hcs_stream_t *s);

/*
 * Close and drop everything queued (freed with free_item). Waiting pushers
 * return HCS_ECLOSED. Idempotent. Any thread. A consuming response does this
 * itself when it is cancelled.
 */
HCS_EXTERN void hcs_stream_cancel(hcs_stream_t *s);

/* True once hcs_stream_cancel ran (or the consumer was cancelled). */
HCS_EXTERN bool hcs_stream_cancelled(hcs_stream_t *s);

/* Items queued now (a snapshot). Any thread. */
HCS_EXTERN size_t hcs_stream_length(hcs_stream_t *s);

/* The capacity given to hcs_stream_new. */
HCS_EXTERN size_t hcs_stream_capacity(const hcs_stream_t *s);

/* The size of an item in bytes, for byte accounting. */
typedef size_t (*hcs_stream_size_cb)(const void *item);

/*
 * Count bytes: size_of(item) is added when an item is pushed and subtracted
 * when it leaves. Set before the first push. Any thread.
 */
HCS_EXTERN void hcs_stream_set_sizer(hcs_stream_t *s,
                                     hcs_stream_size_cb size_of);

/* Bytes queued now (0 without a sizer). Any thread. */
HCS_EXTERN size_t hcs_stream_bytes(hcs_stream_t *s);

/*
 * Free the oldest queued item (a drop-oldest policy for full streams). Any
 * thread. Sets *bytes (may be NULL) to its size. Returns 0, or HCS_EAGAIN
 * when the stream is empty.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_stream_drop_oldest(hcs_stream_t *s, size_t *bytes);

/*
 * Make `waker` the one woken when an item arrives or the stream closes
 * (a reference is taken; the previous waker is released; NULL detaches).
 * Used by consuming responses; a custom producer that drains a stream may
 * use it too. Any thread.
 */
HCS_EXTERN void hcs_stream_set_waker(hcs_stream_t *s, hcs_waker_t *waker);

#endif
