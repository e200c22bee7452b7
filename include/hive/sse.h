/* SPDX-License-Identifier: MIT */
/*
 * hive/sse.h: an SSE response fed by hive subscriptions — the seed's
 * events_handler pattern (subscribe, push into a stream, stream feeds the
 * response, unsubscribe on cancel) as one call, on the zero-copy path.
 *
 * Each message's wire bytes are shared: the subscriber's stream holds a
 * reference to the buffer hive formatted once, and the response writes it
 * with writev; several queued messages leave in one writev per loop turn.
 *
 * Slow subscribers: messages waiting in a subscriber's stream are bounded by
 * max_queued_bytes (on top of the server's per-connection max_unsent_bytes,
 * which holds what the socket has not taken yet); one message always fits
 * in an empty queue, whatever its size, and a subscriber whose socket keeps
 * up may take a burst of up to 8 times the bound within one loop turn (it
 * is written at the end of the turn). Past the bound the policy applies: HIVE_SLOW_CLOSE (default) closes the connection at once, dropping
 * what it had not sent; HIVE_SLOW_DROP_OLDEST drops the oldest queued
 * messages to make room. Both are counted in the bus's stats.
 */
#ifndef HIVE_SSE_H
#define HIVE_SSE_H

#include <stddef.h>

#include "hcs/clock.h"
#include "hcs/export.h"
#include "hcs/response.h"
#include "hcs/sse.h"
#include "hive/pubsub.h"

typedef enum {
  HIVE_SLOW_CLOSE = 0,      /* close the connection (default) */
  HIVE_SLOW_DROP_OLDEST = 1 /* drop the oldest queued messages, count them */
} hive_slow_policy_t;

/*
 * Decides whether a message goes to this response (e.g. topic selectors and
 * authorization). Runs on the response's worker, for live and replayed
 * messages alike.
 */
typedef bool (*hive_sse_filter_cb)(const hive_message_t *msg, void *ud);

/* Options; hive_sse_options_init gives the defaults. */
typedef struct hive_sse_options_s {
  hcs_sse_options_t sse;     /* flush_headers_immediately (default true),
                                on_close and ud (after the subscriptions end) */
  hive_sse_filter_cb filter; /* NULL: every message */
  void *filter_ud;           /* borrowed until on_close */
  const char *last_event_id; /* replay history after this id (NULL: none) */
  bool replay_all;           /* without last_event_id: replay all history */
  bool *last_event_id_found; /* if set: whether every topic knew the id */
  size_t max_queued_bytes;   /* per subscriber (default 1 MiB) */
  hive_slow_policy_t slow_policy;
  double heartbeat_interval; /* seconds; 0: no heartbeat (default 15) */
  double end_after;          /* end the stream after this many seconds
                                (e.g. when the client's token expires);
                                0: never (default) */
  hcs_clock_t *clock;        /* clock of both (NULL: monotonic) */
} hive_sse_options_t;

HCS_EXTERN void hive_sse_options_init(hive_sse_options_t *opts);

/*
 * A streaming SSE response subscribed to ntopics topics of bus (names
 * copied) on the calling worker. opts NULL means the defaults; borrowed for
 * the call. With last_event_id, each topic's history after that id is
 * queued first (a topic that does not know the id replays nothing).
 * Subscriptions end when the response ends, before opts->sse.on_close runs.
 * Worker thread only (a handler). Sets *out and returns 0; HCS_EINVAL (no
 * topics, bad topic); HCS_ESTATE (not on a worker of the bus's server);
 * HCS_ENOMEM. On failure nothing stays subscribed and on_close never runs.
 */
HCS_EXTERN HCS_WARN_UNUSED int hive_sse_respond(hcs_response_t **out,
                                                hive_bus_t *bus,
                                                const char *const *topics,
                                                size_t ntopics,
                                                const hive_sse_options_t *opts);

#endif
