/* SPDX-License-Identifier: MIT */
/*
 * hive's SSE glue (hive/sse.h): subscriptions whose callback pushes a
 * reference to each message's wire buffer into a byte-counted raw stream,
 * drained by an hcs SSE response; the slow-subscriber policy is applied at
 * push time. Everything here runs on the subscriber's worker loop.
 */
#include "hive/sse.h"

#include "common/alloc.h"
#include "hcs/error.h"
#include "hive/bus.h"
#include "sse/respond.h"

/* How far past its bound a subscriber that keeps up may queue a burst. */
#define BURST_FACTOR 8

/* Items a subscriber's stream may hold; bytes are the real bound. */
#define STREAM_CAPACITY 65536

typedef struct {
  hive_bus_t *bus;
  hcs_stream_t *stream;
  hcs_response_t *res;
  size_t max_bytes;
  hive_slow_policy_t policy;
  hive_sse_filter_cb filter;
  void *filter_ud;
  bool closing;          /* too slow: no more pushes */
  hcs_close_cb on_close; /* the user's */
  void *ud;
  size_t nsubs;
  hive_sub_t *subs[];
} hive_sse_t;

void hive_sse_options_init(hive_sse_options_t *o) {
  *o = (hive_sse_options_t){0};
  o->sse.flush_headers_immediately = true;
  o->max_queued_bytes = 1u << 20;
  o->slow_policy = HIVE_SLOW_CLOSE;
  o->heartbeat_interval = 15.0;
}

/* Too slow under HIVE_SLOW_CLOSE: close the connection (or, if the response
 * is not on one yet, end it) and ignore further messages. */
static void close_slow(hive_sse_t *h) {
  h->closing = true;
  hive__count_slow_close(h->bus);
  if (hcs_response_abort(h->res) < 0)
    hcs_stream_cancel(h->stream);
}

static void on_message(hive_sub_t *sub, const hive_message_t *msg, void *ud) {
  (void)sub;
  hive_sse_t *h = ud;
  if (h->closing || (h->filter && !h->filter(msg, h->filter_ud)))
    return;
  /* One message always fits an empty queue, however large: the bound is on
   * what piles up behind a slow reader, not on message size. A reader whose
   * socket takes everything is not slow: a burst delivered within one loop
   * turn, before its connection could write, may reach BURST_FACTOR times
   * the bound. */
  size_t bound = hcs_response_write_blocked(h->res) ? h->max_bytes
                                                     : h->max_bytes * BURST_FACTOR;
  hcs_buf_t *ref = hcs_buf_ref(msg->wire);
  int err = hcs_stream_try_push_within(h->stream, ref, bound);
  if (err == HCS_ENOSPC || err == HCS_EAGAIN) {
    if (h->policy == HIVE_SLOW_CLOSE) {
      hcs_buf_unref(ref);
      close_slow(h);
      return;
    }
    uint64_t dropped = 0;
    do {
      if (hcs_stream_drop_oldest(h->stream, NULL) < 0)
        break;
      dropped++;
      err = hcs_stream_try_push_within(h->stream, ref, bound);
    } while (err == HCS_ENOSPC || err == HCS_EAGAIN);
    hive__count_drops(h->bus, dropped);
  }
  if (err < 0) {
    /* Cancelled (the response is ending) or out of memory. */
    hcs_buf_unref(ref);
    if (!hcs_stream_cancelled(h->stream))
      close_slow(h);
  }
}

static void unsubscribe_all(hive_sse_t *h) {
  for (size_t i = 0; i < h->nsubs; i++)
    hive_unsubscribe(&h->subs[i]);
}

static void on_close(hcs_response_t *res, hcs_close_reason_t reason, void *ud) {
  hive_sse_t *h = ud;
  unsubscribe_all(h);
  if (h->on_close)
    h->on_close(res, reason, h->ud);
  hcs_stream_unref(h->stream);
  hcs__free(h);
}

int hive_sse_respond(hcs_response_t **out, hive_bus_t *bus,
                     const char *const *topics, size_t ntopics,
                     const hive_sse_options_t *opts) {
  hive_sse_options_t defaults;
  if (opts == NULL) {
    hive_sse_options_init(&defaults);
    opts = &defaults;
  }
  if (ntopics == 0 || topics == NULL || opts->max_queued_bytes == 0 ||
      opts->heartbeat_interval < 0 || opts->end_after < 0)
    return HCS_EINVAL;
  hive_sse_t *h = hcs__calloc(1, sizeof(*h) + ntopics * sizeof(hive_sub_t *));
  if (h == NULL)
    return HCS_ENOMEM;
  h->bus = bus;
  h->max_bytes = opts->max_queued_bytes;
  h->policy = opts->slow_policy;
  h->filter = opts->filter;
  h->filter_ud = opts->filter_ud;
  h->on_close = opts->sse.on_close;
  h->ud = opts->sse.ud;
  int err = hcs_stream_new(&h->stream, STREAM_CAPACITY, hcs_buf_unref_item);
  if (err < 0) {
    hcs__free(h);
    return err;
  }
  hcs_stream_set_sizer(h->stream, hcs_buf_size_item);

  /* The response first (its close callback owns h), subscriptions after:
   * replayed messages then find the response to abort if needed. */
  hcs_sse_options_t sse = opts->sse;
  sse.on_close = on_close;
  sse.ud = h;
  hcs_clock_t *clock = opts->clock ? opts->clock : hcs_clock_monotonic();
  err = hcs__sse_respond_stream(&h->res, &sse, h->stream, true, clock,
                                opts->heartbeat_interval, opts->end_after);
  if (err < 0) {
    hcs_stream_unref(h->stream);
    hcs__free(h);
    return err;
  }
  bool found = true;
  for (size_t i = 0; i < ntopics && err >= 0; i++) {
    if (opts->last_event_id || opts->replay_all)
      err = hive_subscribe_after(&h->subs[i], bus, topics[i],
                                 opts->last_event_id, on_message, h);
    else
      err = hive_subscribe(&h->subs[i], bus, topics[i], on_message, h);
    if (err == HCS_ENOENT) {
      found = false;
      err = 0; /* subscribed, live only */
    }
    if (err == 0)
      h->nsubs = i + 1;
  }
  if (err < 0) {
    /* Freeing the response runs on_close: unsubscribes and frees h, but the
     * user's on_close must not run for a call that failed. */
    h->on_close = NULL;
    hcs_response_free(h->res);
    return err;
  }
  if (opts->last_event_id_found)
    *opts->last_event_id_found = found;
  *out = h->res;
  return 0;
}
