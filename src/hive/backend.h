/* SPDX-License-Identifier: MIT */
/*
 * hive/backend.h: what a backend implements to carry a bus's messages
 * between processes (the in-process bus needs none).
 *
 * With a backend, publishing hands the message to the backend (publish),
 * which stores it and reports the outcome (done). The backend also reads
 * every message of the shared log, its own included, in the log's order,
 * and gives each to hive__deliver, which fans it out locally exactly as an
 * in-process publish does. So every process sees one order, and a message
 * is delivered only once the backend has it.
 */
#ifndef HIVE_BACKEND_H
#define HIVE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "hive/pubsub.h"

/* The outcome of a backend publish: status 0 with the message's id as the
 * backend recorded it, or a negative code (HCS_EAGAIN: unavailable). Any
 * thread, exactly once. */
typedef void (*hive_backend_done_cb)(void *ctx, int status, const char *id,
                                     size_t id_len);

typedef struct hive_backend_ops_s {
  const char *name; /* "redis" */
  /* Start serving bus: connect and read the log, delivering with
   * hive__deliver. Called once by hive_bus_new. Returns 0 or an error
   * (the bus is then not created). */
  int (*start)(hive_backend_t *b, hive_bus_t *bus);
  /* Append a message (fields borrowed for the call). Returns 0 (done runs
   * later) or an error (done never runs). Any thread. */
  int (*publish)(hive_backend_t *b, const char *topic, size_t topic_len,
                 const hcs_sse_event_t *ev, const void *payload, size_t len,
                 hive_backend_done_cb done, void *ctx);
  /* Fill the counters. Any thread. */
  void (*stats)(hive_backend_t *b, hive_backend_stats_t *out);
  /* Stop reading and writing, complete pending publishes with an error,
   * and free everything. Called by hive_bus_free, after the server stopped. */
  void (*destroy)(hive_backend_t *b);
} hive_backend_ops_t;

/* Every backend starts with this. */
struct hive_backend_s {
  const hive_backend_ops_t *ops;
};

/*
 * Fan a message read from the log out to this process's subscribers, and
 * keep it in history. ev->id must be set. Any thread; in log order.
 * Returns 0 or an error (bad topic, event, or no memory).
 */
int hive__deliver(hive_bus_t *bus, const char *topic, size_t topic_len,
                  const hcs_sse_event_t *ev, const void *payload, size_t len);

#endif
