/* SPDX-License-Identifier: MIT */
/*
 * hive/redis.h: a backend for hive/pubsub.h that carries a bus's messages
 * through a Redis stream, so that several processes (hubs behind a load
 * balancer) share topics, order, history and Last-Event-ID replay.
 *
 * Every topic goes through one stream (default key "hive:stream"): each
 * publish is an XADD (bounded with MAXLEN ~), answered once Redis has the
 * entry; one reader per process follows the stream with blocking XREAD and
 * delivers every entry, its own included, in the stream's order. At start
 * the reader fills the bus's history with the stream's newest entries, so a
 * client may resume on any process. docs/design.md ("hive on Redis") has the
 * why and the failure behaviour.
 *
 * It is not: a cluster client (one Redis server, or a proxy in front of
 * many), TLS (hiredis 0.14 has none: put stunnel in front), or durable
 * beyond what the Redis server is configured to persist.
 *
 * Threads: the backend runs a thread of its own with its own libuv loop and
 * two connections (commands, and the reader); nothing it does blocks a
 * caller. Publishes are queued to that thread; their outcome comes back
 * through hive_publish_async's callback (see hive/pubsub.h). While Redis is
 * unreachable publishes fail at once with HCS_EAGAIN, the connections come
 * back with jittered exponential backoff, and the reader resumes after the
 * last entry it delivered: nothing lost, nothing twice.
 *
 * Example:
 *
 *   hive_backend_t *be;
 *   const char *why;
 *   if (hive_backend_redis_new(&be, "redis://127.0.0.1:6379/0", NULL, &why) <
 * 0) die(why); hive_bus_config_t cfg; hive_bus_config_init(&cfg);
 *   cfg.history_count = 1000;
 *   cfg.backend = be;
 *   if (hive_bus_new(&bus, srv, &cfg) < 0) {
 *     die(hive_backend_redis_error(be));  // e.g. "connection refused"
 *     hive_backend_free(be);
 *   }
 */
#ifndef HIVE_REDIS_H
#define HIVE_REDIS_H

#include <stddef.h>

#include "hcs/export.h"
#include "hive/pubsub.h"

/* A line about the backend's connections (lost, back, failing), for an
 * operator's log. Runs on the backend's thread; msg is borrowed for the
 * call. Must not call into the backend or the bus. */
typedef void (*hive_redis_log_cb)(const char *msg, void *ud);

/* Settings; hive_redis_options_init gives the defaults. */
typedef struct hive_redis_options_s {
  const char *stream_key;      /* the stream every topic goes through (copied;
                                  default "hive:stream"); processes that share
                                  one must use the same key */
  size_t max_len;              /* XADD MAXLEN ~ this many entries (default
                                  100000; 0: unbounded) */
  size_t backfill;             /* newest entries read into history at start
                                  (default 1000; set it to the bus's
                                  history_count) */
  unsigned connect_timeout_ms; /* to connect and authenticate; also how
                                  long start waits (default 2000) */
  unsigned reply_timeout_ms;   /* a connection whose reply is this late is
                                  taken for dead (default 5000) */
  unsigned block_ms;           /* the reader's XREAD BLOCK (default 1000) */
  unsigned reconnect_min_ms;   /* first retry delay (default 100) ... */
  unsigned reconnect_max_ms;   /* ... doubling up to this (default 2000);
                                  each wait is jittered to 50-100 % */
  size_t max_inflight;         /* publishes sent and not yet answered; more
                                  fail at once with HCS_EAGAIN (default 10000) */
  hive_redis_log_cb log;       /* NULL: silent */
  void *log_ud;
} hive_redis_options_t;

HCS_EXTERN void hive_redis_options_init(hive_redis_options_t *opts);

/*
 * A Redis backend for hive_bus_config_t.backend, not yet connected (the bus
 * starts it: hive_bus_new fails when Redis cannot be reached, and
 * hive_backend_redis_error says why).
 *
 * url: "redis://[[user]:password@]host[:port][/db][?stream=KEY&maxlen=N]"
 * (borrowed for the call). host is a name, an IPv4 address or [IPv6];
 * port defaults to 6379, db to 0; user and password may be %-encoded and
 * are sent with AUTH (user too only when given: Redis 6 ACLs); the query
 * overrides opts->stream_key and opts->max_len. "rediss://" is refused:
 * this hiredis has no TLS.
 *
 * opts NULL means the defaults; borrowed for the call (strings copied).
 * Sets *out and returns 0; HCS_EINVAL with *errmsg (static text) saying
 * what is wrong with the URL or options; HCS_ENOMEM. errmsg may be NULL.
 */
HCS_EXTERN HCS_WARN_UNUSED int
hive_backend_redis_new(hive_backend_t **out, const char *url,
                       const hive_redis_options_t *opts, const char **errmsg);

/*
 * Why the backend could not start: after hive_bus_new failed with it (the
 * backend is then stopped, and still the caller's), e.g. "cannot connect to
 * Redis at 127.0.0.1:6379: Connection refused"; "" if nothing failed. The
 * text belongs to the backend. Not for a running backend (its connections'
 * troubles go to hive_redis_options_t.log).
 */
HCS_EXTERN const char *hive_backend_redis_error(const hive_backend_t *backend);

#endif
