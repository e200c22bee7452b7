/* SPDX-License-Identifier: MIT */
/*
 * response/writeq.h: a connection's queue of bytes waiting for the socket.
 *
 * The queue is a list of segments, each a slice of a reference-counted
 * buffer: shared buffers (a fan-out message, a response body) are queued by
 * reference, small copied bytes (status lines, chunk sizes) go into
 * connection-owned blocks. Everything leaves through writev, many segments
 * per call. A slot may be reserved and filled later, so a chunk header or a
 * response head can be placed before bytes that were queued after it.
 *
 * One thread (the connection's loop) owns a queue. An empty queue holds no
 * memory.
 */
#ifndef HCS_RESPONSE_WRITEQ_H
#define HCS_RESPONSE_WRITEQ_H

#include <stddef.h>
#include <sys/uio.h>

#include "hcs/buf.h"

typedef struct hcs_seg_s {
  hcs_buf_t *buf;   /* holds a reference; NULL for an unfilled slot */
  const char *base; /* first unsent byte */
  size_t len;       /* unsent bytes */
} hcs_seg_t;

typedef struct hcs_writeq_s {
  hcs_seg_t *segs;   /* segs[head .. head+count) are queued */
  size_t head, count, cap;
  size_t dropped;    /* segments consumed since init: slot numbers are
                        dropped + index, stable across compaction */
  hcs_buf_t *block;  /* tail copy block, or NULL */
  size_t bytes;      /* unsent bytes in all segments */
} hcs_writeq_t;

#define HCS_WRITEQ_BLOCK 4096 /* minimum copy-block size */

void hcs_writeq_init(hcs_writeq_t *q);

/* Drop every segment and free all memory. The queue is empty after. */
void hcs_writeq_cleanup(hcs_writeq_t *q);

/* Queue a copy of len bytes. 0 or HCS_ENOMEM (then nothing is queued). */
int hcs_writeq_copy(hcs_writeq_t *q, const void *data, size_t len);

/* Queue len bytes of buf at data by reference (takes a new reference).
 * Zero-length appends are ignored. 0 or HCS_ENOMEM. */
int hcs_writeq_ref(hcs_writeq_t *q, hcs_buf_t *buf, const char *data,
                   size_t len);

/* Reserve an empty slot at the tail and store its number in *slot.
 * Fill it (or truncate back to it) before the next consume. 0 or
 * HCS_ENOMEM. */
int hcs_writeq_reserve(hcs_writeq_t *q, size_t *slot);

/* Drop the segments from slot `slot` to the tail; every one of them must be
 * an unfilled slot (used when a pull produced nothing after reserving). */
void hcs_writeq_truncate(hcs_writeq_t *q, size_t slot);

/* Fill a reserved slot with a copy of len bytes. 0 or HCS_ENOMEM. */
int hcs_writeq_fill(hcs_writeq_t *q, size_t slot, const void *data,
                    size_t len);

/* Fill iov with up to max segments from the front; returns how many. Empty
 * slots are skipped (they hold nothing). */
size_t hcs_writeq_iov(const hcs_writeq_t *q, struct iovec *iov, size_t max);

/* Mark n bytes from the front as written: drop finished segments. The
 * memory is kept for the next bytes (see hcs_writeq_release). */
void hcs_writeq_consume(hcs_writeq_t *q, size_t n);

/* Free the memory of an empty queue (no-op when not empty), so an idle
 * connection holds none. */
void hcs_writeq_release(hcs_writeq_t *q);

#endif
