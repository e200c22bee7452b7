/* SPDX-License-Identifier: MIT */
/*
 * SSE event values that own their bytes (hcs_sse_event, _event_typed, _make).
 *
 * The struct and copies of its fields share one allocation, so an event
 * pushed into a stream is freed with one call on whichever thread drops it.
 * Fields are validated before anything is allocated.
 */
#include <string.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "hcs/sse.h"

/* Copy src into the block at *p and point dst at the copy. */
static void place(hcs_str_t *dst, hcs_str_t src, char **p) {
  if (src.base == NULL) {
    *dst = src;
    return;
  }
  if (src.len)
    memcpy(*p, src.base, src.len);
  dst->base = *p;
  dst->len = src.len;
  *p += src.len;
}

int hcs_sse_make(hcs_sse_event_t **out, hcs_str_t event_type, hcs_str_t id,
                 int64_t retry, const void *data, size_t len) {
  hcs_sse_event_t probe = {event_type, id, retry, {data, len}};
  /* A present field needs bytes to copy: {NULL, n > 0} is a caller bug. */
  if ((event_type.base == NULL && event_type.len) ||
      (id.base == NULL && id.len) || hcs_sse_validate(&probe) < 0)
    return HCS_EINVAL;
  size_t extra = event_type.len + id.len + len;
  hcs_sse_event_t *ev = hcs__malloc(sizeof(*ev) + extra);
  if (ev == NULL)
    return HCS_ENOMEM;
  char *p = (char *)(ev + 1);
  place(&ev->event_type, event_type, &p);
  place(&ev->id, id, &p);
  ev->retry = probe.retry;
  /* Data is always present; an empty payload points at the block's end. */
  hcs_str_t d = {len ? data : p, len};
  place(&ev->data, d, &p);
  *out = ev;
  return 0;
}

int hcs_sse_event(hcs_sse_event_t **out, const void *data, size_t len) {
  hcs_str_t none = {NULL, 0};
  return hcs_sse_make(out, none, none, HCS_SSE_NO_RETRY, data, len);
}

int hcs_sse_event_typed(hcs_sse_event_t **out, const char *event_type,
                        const void *data, size_t len) {
  if (event_type == NULL)
    return HCS_EINVAL;
  hcs_str_t none = {NULL, 0};
  return hcs_sse_make(out, hcs_str_c(event_type), none, HCS_SSE_NO_RETRY, data,
                      len);
}

void hcs_sse_event_free(hcs_sse_event_t *ev) {
  hcs__free(ev);
}

void hcs_sse_event_free_item(void *item) {
  hcs_sse_event_free(item);
}
