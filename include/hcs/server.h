/* SPDX-License-Identifier: MIT */
/*
 * hcs/server.h: an HTTP/1.1 server: configuration, routes, start and stop.
 *
 * The server runs `workers` threads, each with its own libuv loop and its own
 * listening socket bound with SO_REUSEPORT; the kernel spreads connections
 * over them and a connection stays on one worker for its whole life. Routes
 * are added before start and never change afterwards, so handlers run on the
 * workers without locks.
 *
 * Typical use:
 *
 *   hcs_server_config_t cfg;
 *   hcs_server_config_init(&cfg);
 *   cfg.port = 8080;
 *   hcs_server_t *srv;
 *   if (hcs_server_new(&srv, &cfg) < 0) ...
 *   hcs_server_route(srv, "GET", "/", 0, hello, NULL);
 *   return hcs_server_run(srv) < 0;   // until SIGINT or SIGTERM
 */
#ifndef HCS_SERVER_H
#define HCS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "request.h"
#include "response.h"

typedef struct hcs_server_s hcs_server_t;

/* Server settings. Start from hcs_server_config_init(); 0 means "default". */
typedef struct hcs_server_config_s {
  const char *host;              /* IPv4/IPv6 literal to bind; "127.0.0.1" */
  int port;                      /* TCP port; 0 picks a free one (see
                                    hcs_server_port)                       */
  unsigned workers;              /* worker threads; default: online cores  */
  unsigned max_connections;      /* open connections, all workers; 10000   */
  size_t max_header_bytes;       /* request line + header fields; 16384    */
  size_t max_body_bytes;         /* de-chunked request body; 1 MiB         */
  unsigned header_timeout_ms;    /* to receive a whole request head; 10000 */
  unsigned keepalive_timeout_ms; /* idle between requests; 60000           */
  unsigned shutdown_timeout_ms;  /* graceful-shutdown deadline; 10000      */
  size_t max_unsent_bytes;       /* per-connection bytes queued for the
                                    socket before producers pause; 1 MiB   */
} hcs_server_config_t;

/*
 * Handle one request. Runs on the worker thread that owns the connection.
 * Returns a response, which the server takes, or NULL, which is answered
 * 500. req is borrowed for the call only (see hcs/request.h).
 */
typedef hcs_response_t *(*hcs_handler_cb)(hcs_request_t *req, void *ud);

/* Route flags. */
enum {
  HCS_ROUTE_PREFIX = 1 << 0, /* match paths that start with `path`         */
};

/* Fill cfg with the defaults documented above. */
HCS_EXTERN void hcs_server_config_init(hcs_server_config_t *cfg);

/*
 * Create a server (not started). cfg is copied (host too).
 * Returns 0 and sets *out, HCS_EINVAL for an invalid setting (host that is
 * not an IP literal, port outside 0..65535), or HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_server_new(hcs_server_t **out,
                                              const hcs_server_config_t *cfg);

/*
 * Route requests to `handler`. method: a method token, or NULL for any
 * method ("GET" routes also answer HEAD, without the body). path: the
 * decoded path, matched exactly, or as a prefix with HCS_ROUTE_PREFIX. The
 * first route added that matches wins. A path that matches only routes of
 * other methods is answered 405 with Allow; no match at all is 404.
 * Strings are copied; ud is borrowed until hcs_server_free.
 * Returns 0, HCS_EINVAL (path not starting with '/', bad method token),
 * HCS_ENOMEM, or HCS_ESTATE once the server has started.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_server_route(hcs_server_t *srv,
                                                const char *method,
                                                const char *path,
                                                unsigned flags,
                                                hcs_handler_cb handler,
                                                void *ud);

/*
 * Bind the listening sockets and start the workers; returns once they
 * accept connections. Does not install signal handlers.
 * Returns 0, a libuv/errno code from socket/bind/listen (e.g.
 * HCS_EADDRINUSE), HCS_ENOMEM, or HCS_ESTATE if already started.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_server_start(hcs_server_t *srv);

/* The bound port (useful with port 0), or 0 before start. */
HCS_EXTERN int hcs_server_port(const hcs_server_t *srv);

/*
 * Begin a graceful stop: stop accepting, finish in-flight requests, end
 * streaming responses (their close callbacks get HCS_CLOSE_SHUTDOWN), and
 * force-close what is left at the shutdown deadline. Any thread, but not
 * from a signal handler (hcs_server_run handles SIGINT and SIGTERM; or
 * sigwait in a thread). Idempotent, also after hcs_server_wait.
 */
HCS_EXTERN void hcs_server_stop(hcs_server_t *srv);

/*
 * Block until the server has stopped (all workers joined). Returns 0, or
 * HCS_ESTATE if it was never started.
 */
HCS_EXTERN int hcs_server_wait(hcs_server_t *srv);

/*
 * Start (unless hcs_server_start already did), stop on SIGINT or SIGTERM,
 * and wait: the whole life of a server binary. Returns 0 after a graceful
 * stop, or an error from hcs_server_start.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_server_run(hcs_server_t *srv);

/*
 * Free a server that is stopped (or never started). NULL is a no-op.
 */
HCS_EXTERN void hcs_server_free(hcs_server_t *srv);

/* The number of worker threads (the config's, or the number of cores). */
HCS_EXTERN unsigned hcs_server_worker_count(const hcs_server_t *srv);

/*
 * The index (0 .. worker_count - 1) of the worker whose loop runs on the
 * calling thread, or -1 when the caller is not a worker thread.
 */
HCS_EXTERN int hcs_worker_index(void);

/*
 * Runs on a worker's loop thread: status 0 when it ran normally, or
 * HCS_ECANCELED when the worker stopped before it could run (arg must still
 * be released).
 */
typedef void (*hcs_task_cb)(void *arg, int status);

/*
 * Run fn(arg, 0) on worker `worker`'s loop thread soon. Any thread. Tasks
 * posted to one worker run in the order posted. Returns 0 (fn runs exactly
 * once), HCS_EINVAL (no such worker), HCS_ESTATE (not started), HCS_ECLOSED
 * (the worker has stopped; fn is not called), HCS_ENOMEM.
 */
HCS_EXTERN HCS_WARN_UNUSED int hcs_server_post(hcs_server_t *srv,
                                               unsigned worker,
                                               hcs_task_cb fn, void *arg);

/* Counters, summed over workers; a consistent-enough snapshot. Any thread. */
typedef struct hcs_server_stats_s {
  uint64_t connections_open;     /* now                                    */
  uint64_t connections_accepted; /* since start                            */
  uint64_t connections_refused;  /* at max_connections or on EMFILE        */
  uint64_t requests;             /* handled by a route                     */
  uint64_t bad_requests;         /* answered 4xx/5xx by the parser/limits  */
  uint64_t timeouts;             /* header or idle timeouts                */
  uint64_t streams_open;         /* streaming responses in progress        */
  uint64_t bytes_out;            /* bytes written to sockets               */
  uint64_t writes;               /* writev calls made (each may carry many
                                    responses' or events' bytes)          */
} hcs_server_stats_t;

HCS_EXTERN void hcs_server_stats(const hcs_server_t *srv,
                                 hcs_server_stats_t *out);

#endif
