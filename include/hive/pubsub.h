/* SPDX-License-Identifier: MIT */
/*
 * hive/pubsub.h: topic publish/subscribe for fan-out to many connections (the
 * seed's `Hive.Pubsub`).
 *
 * A bus belongs to one hcs server and delivers on its workers. A message is
 * formatted once into SSE wire bytes in a reference-counted buffer; each
 * subscriber receives a view of it and may keep a reference to the bytes
 * instead of a copy (hive/sse.h does exactly that for SSE responses).
 *
 * Threads: publish from any thread. Subscribe and unsubscribe on a worker
 * thread (a handler, a producer, a close callback, a task from
 * hcs_server_post); a subscription's callback always runs on the loop
 * thread of the worker that subscribed, so it may touch that connection's
 * state without locks. Inside a callback, unsubscribing any subscription of
 * this worker (its own included) is safe.
 *
 * Order: per topic, messages get consecutive sequence numbers in publish
 * order (concurrent publishers are serialised by the topic), and every
 * subscriber sees them in that order.
 *
 * History (optional, per topic, bounded by count and bytes) keeps the latest
 * messages with their ids so that a subscription can start after a given id
 * (Last-Event-ID): replay and live delivery join with no gap and no
 * duplicate. A topic with history is kept while it has any; topics without
 * history or subscribers are freed.
 *
 * Backends: the bus's backend carries messages between processes; NULL
 * means in-process. The API does not change with the backend: with one, a
 * message is delivered (here and in every other process) once the backend
 * has stored it, in the backend's order; hive_publish_async says when that
 * happened, or that the backend is unavailable.
 */
#ifndef HIVE_PUBSUB_H
#define HIVE_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hcs/buf.h"
#include "hcs/export.h"
#include "hcs/server.h"
#include "hcs/sse.h"
#include "hcs/str.h"

typedef struct hive_bus_s hive_bus_t;
typedef struct hive_sub_s hive_sub_t;
typedef struct hive_backend_s hive_backend_t;

/* Longest topic name accepted, in bytes. */
#define HIVE_TOPIC_MAX 4096

/* One message as a subscriber sees it; borrowed for the callback only. */
typedef struct hive_message_s {
  hcs_str_t topic;
  hcs_str_t id;      /* the event id: as published, or the decimal seq */
  hcs_str_t event_type; /* the event type as published (base NULL: none) */
  hcs_str_t payload; /* the data as published */
  hcs_buf_t *wire;   /* the whole SSE event ("id: …\ndata: …\n\n"); take a
                        reference (hcs_buf_ref) to keep it past the call */
  uint64_t seq;      /* position in the topic: 1, 2, … */
} hive_message_t;

/*
 * A message for subscription `sub`. Runs on the subscriber's worker loop.
 * May call hive_unsubscribe on any subscription of this worker.
 */
typedef void (*hive_message_cb)(hive_sub_t *sub, const hive_message_t *msg,
                                void *ud);

/* Bus settings; hive_bus_config_init gives the defaults. */
typedef struct hive_bus_config_s {
  size_t history_count; /* messages kept per topic (default 0: no history) */
  size_t history_bytes; /* wire bytes kept per topic (default 1 MiB) */
  hive_backend_t *backend; /* NULL: in-process (the default); taken by
                              hive_bus_new on success, freed with the bus */
} hive_bus_config_t;

/* A backend's counters; a snapshot. */
typedef struct hive_backend_stats_s {
  const char *name;         /* "in-process", "redis" */
  bool connected;           /* can publish now */
  uint64_t reconnects;      /* connections made after the first */
  uint64_t read_lag;        /* messages in the log not yet read here */
  double read_lag_ms;       /* age of the oldest unread message */
  double publish_ms;        /* last publish round trip to the backend */
  uint64_t publish_errors;  /* publishes refused (unavailable) */
} hive_backend_stats_t;

/* Counters; a snapshot. */
typedef struct hive_stats_s {
  uint64_t topics;        /* topics now */
  uint64_t subscribers;   /* subscriptions now */
  uint64_t published;     /* messages published */
  uint64_t deliveries;    /* callbacks run for live messages and replays */
  uint64_t drops;         /* messages a slow subscriber's policy dropped */
  uint64_t slow_closes;   /* connections closed as too slow */
} hive_stats_t;

HCS_EXTERN void hive_bus_config_init(hive_bus_config_t *cfg);

/*
 * A bus delivering on the workers of srv (borrowed: it must outlive the
 * bus). cfg NULL means the defaults. Sets *out and returns 0; HCS_ENOMEM;
 * or the backend's error when it cannot start (e.g. unreachable).
 */
HCS_EXTERN HCS_WARN_UNUSED int hive_bus_new(hive_bus_t **out,
                                            hcs_server_t *srv,
                                            const hive_bus_config_t *cfg);

/*
 * Free the bus, its topics, history and any subscription left. Call after
 * the server has stopped (hcs_server_wait returned): no callback may run
 * during or after this. NULL is a no-op.
 */
HCS_EXTERN void hive_bus_free(hive_bus_t *bus);

/*
 * Publish len bytes of payload (copied) to topic (NUL-terminated) as a
 * "message" event whose id is the topic's sequence number. Any thread.
 * Returns 0 (delivered to the subscribers of this moment, recorded in
 * history), HCS_EINVAL (empty or too long topic), HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hive_publish(hive_bus_t *bus,
                                            const char *topic,
                                            const void *payload, size_t len);

/*
 * Publish an event with its own fields (borrowed for the call). An absent
 * id (ev->id.base NULL) becomes the sequence number. Any thread. Returns 0,
 * HCS_EINVAL (bad topic or event: see hcs_sse_validate), HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hive_publish_event(hive_bus_t *bus,
                                                  const char *topic,
                                                  const hcs_sse_event_t *ev);

/*
 * Like hive_publish_event, but subscribers see `payload` (len bytes, copied;
 * e.g. routing data for their callbacks) as msg->payload instead of the
 * event's data. The wire bytes are still the formatted event. Any thread.
 */
HCS_EXTERN HCS_WARN_UNUSED int hive_publish_event_with(
    hive_bus_t *bus, const char *topic, const hcs_sse_event_t *ev,
    const void *payload, size_t len);

/*
 * The outcome of hive_publish_async: status 0 and the message's id (as
 * delivered), or a negative code: HCS_EAGAIN when the backend is
 * unavailable (nothing was published; try later), or another error.
 */
typedef void (*hive_publish_cb)(int status, const char *id, size_t id_len,
                                void *ud);

/*
 * Publish like hive_publish_event_with and learn when it is safely done.
 * In-process, cb runs before this returns. With a backend, cb runs once the
 * backend answered: on the calling worker's loop when called on a worker
 * thread, else on the backend's thread. Returns 0 (cb runs exactly once),
 * or HCS_EINVAL / HCS_ENOMEM (cb never runs). An absent id becomes the
 * topic's sequence number in-process, the backend's id otherwise.
 */
HCS_EXTERN HCS_WARN_UNUSED int hive_publish_async(
    hive_bus_t *bus, const char *topic, const hcs_sse_event_t *ev,
    const void *payload, size_t len, hive_publish_cb cb, void *ud);

/*
 * Subscribe to topic (copied). cb(sub, msg, ud) runs on this worker for
 * every message published after this call. Worker thread only. Sets *out
 * and returns 0; HCS_ESTATE (not on a worker of the bus's server);
 * HCS_EINVAL; HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hive_subscribe(hive_sub_t **out,
                                              hive_bus_t *bus,
                                              const char *topic,
                                              hive_message_cb cb, void *ud);

/*
 * Subscribe, first replaying the history after the message whose id is
 * last_id (NUL-terminated), or all of it when last_id is NULL. The replayed messages are delivered to cb
 * before this returns (after *out is set), then live ones follow with no
 * gap and no duplicate. Returns 0 as hive_subscribe, or HCS_ENOENT when
 * last_id is not in the history (unknown or evicted): the subscription is
 * still made, live only, and *out is set — the caller decides whether the
 * client must resynchronise. last_id equal to the newest id replays nothing.
 */
HCS_EXTERN HCS_WARN_UNUSED int hive_subscribe_after(hive_sub_t **out,
                                                    hive_bus_t *bus,
                                                    const char *topic,
                                                    const char *last_id,
                                                    hive_message_cb cb,
                                                    void *ud);

/*
 * End a subscription and set *sub to NULL: no callback for it runs after
 * this returns. Idempotent (*sub NULL, or sub NULL, is a no-op). On the
 * subscription's worker thread only, including from inside any callback
 * of that worker and from an SSE response's close callback.
 */
HCS_EXTERN void hive_unsubscribe(hive_sub_t **sub);

/* The bus a subscription belongs to. */
HCS_EXTERN hive_bus_t *hive_sub_bus(const hive_sub_t *sub);

/* Counters of the bus. Any thread. */
HCS_EXTERN void hive_bus_stats(hive_bus_t *bus, hive_stats_t *out);

/* Free a backend that no bus took (hive_bus_new failed). NULL is a no-op. */
HCS_EXTERN void hive_backend_free(hive_backend_t *backend);

/* Counters of the bus's backend (name "in-process" without one). */
HCS_EXTERN void hive_bus_backend_stats(hive_bus_t *bus,
                                       hive_backend_stats_t *out);

#endif
