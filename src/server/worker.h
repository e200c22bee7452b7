/* SPDX-License-Identifier: MIT */
/*
 * server/worker.h: one worker = one thread running one libuv loop, with its
 * own listening socket (SO_REUSEPORT), its connections, and their timeouts.
 *
 * Nothing a worker owns is touched by another thread, except through:
 * the stop flag + async handle (hcs_server_stop), the wake queue (wakers
 * posted from any thread), and the atomic stats counters.
 */
#ifndef HCS_SERVER_WORKER_H
#define HCS_SERVER_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/list.h"
#include "hcs/response.h"

struct hcs_server_s;
struct hcs_conn_s;

typedef struct hcs_worker_stats_s {
  atomic_uint_fast64_t accepted, refused, requests, bad_requests, timeouts,
      streams_open, open, bytes_out, writes;
} hcs_worker_stats_t;

/*
 * A unit of work posted to a worker's loop from any thread (intrusive: embed
 * it in your own object). fn runs once on the loop thread with status 0, or,
 * when the worker stops before running it, with HCS_ECANCELED (then on the
 * stopping loop, or in hcs__worker_post_task's caller if the worker was
 * already gone: see there).
 */
typedef struct hcs__task_s hcs__task_t;
typedef void (*hcs__task_fn)(hcs__task_t *t, int status);
struct hcs__task_s {
  hcs__task_fn fn;
  hcs__task_t *next;
};

typedef struct hcs_worker_s {
  struct hcs_server_s *server;
  unsigned index;
  uv_thread_t thread;
  uv_loop_t loop;
  uv_tcp_t listener;
  int listen_fd;          /* bound + listening before the thread starts */
  int listen_dup;         /* the same socket, kept while the listener pauses */
  bool listener_paused;   /* out of descriptors: not accepting for a while */
  bool listener_closed;   /* the paused listener's handle is closed */
  uint64_t paused_at;     /* loop ms of the pause */
  uint64_t emfile_at;     /* loop ms of the latest EMFILE refusals */
  unsigned emfile_count;  /* how many in that loop turn */
  uv_async_t async;       /* stop requests and cross-thread wakes */
  uv_timer_t timer;       /* timeouts and the shutdown deadline */
  uv_idle_t idle;         /* runs `ready` connections without blocking */
  atomic_bool stop_requested;
  bool stopping;          /* loop thread: graceful stop under way */
  bool closed;            /* loop thread: handles closed */
  bool thread_started;
  uint64_t shutdown_deadline; /* loop ms, once stopping */

  /* Wakes and tasks from any thread: under a short lock. */
  uv_mutex_t wake_lock;
  hcs_waker_t *wakes;     /* LIFO stack */
  hcs__task_t *tasks, *tasks_tail; /* FIFO */
  bool accepting_wakes;   /* under wake_lock */
  bool lock_inited;       /* wake_lock lives until hcs__worker_destroy */

  /* Wakes made on the loop thread itself: no lock, no syscall. */
  hcs_waker_t *local_wakes, *local_wakes_tail;

  /* Loop-thread lists of connections. */
  hcs_list_t conns_reading; /* waiting for a request head/body: header
                               timeout, ordered by deadline */
  hcs_list_t conns_idle;    /* keep-alive idle: ordered by deadline */
  hcs_list_t conns_linger;  /* closing: draining input before close */
  hcs_list_t conns_busy;    /* responding (no timeout) */
  hcs_list_t ready;         /* connections to drive on the next idle turn */
  unsigned nconns;

  /* Scratch shared by this worker's connections; used within one callback. */
  char *read_buf;           /* reads land here first */
  char *path_buf;           /* decoded path of the request being handled */
  void *parsed;             /* hcs_http1_request_t being dispatched */
  const void *parsed_owner; /* connection whose head is in `parsed` */
  const char *parsed_base;  /* the buffer it was parsed from */

  char date[40];            /* "Date: ...\r\n" for the current second */
  size_t date_len;
  int64_t date_sec;

  hcs_worker_stats_t stats;
} hcs_worker_t;

#define HCS_READ_BUF_SIZE 65536

/* Prepare a worker (loop, handles, scratch) around a listening fd. */
int hcs__worker_init(hcs_worker_t *w, struct hcs_server_s *srv,
                     unsigned index, int listen_fd);

/* Start the worker's thread; it accepts until asked to stop. */
int hcs__worker_start(hcs_worker_t *w);

/* Ask the worker to stop gracefully. Any thread. */
void hcs__worker_request_stop(hcs_worker_t *w);

/* Join the thread and free what init allocated, except the wake lock. */
void hcs__worker_join(hcs_worker_t *w);

/* After join: destroy the wake lock (no wake or post may come any more). */
void hcs__worker_destroy(hcs_worker_t *w);

/* Queue a waker for its loop. Any thread; the caller flipped w->queued. On
 * the worker's own thread it costs no lock and no syscall. */
void hcs__worker_post_wake(hcs_worker_t *w, hcs_waker_t *k);

/*
 * Run t->fn on the worker's loop. Any thread. Returns 0, or HCS_ECLOSED when
 * the worker no longer takes work (then fn is not called: the task is still
 * the caller's).
 */
int hcs__worker_post_task(hcs_worker_t *w, hcs__task_t *t);

/* Loop thread: drive conn on the next loop turn (no syscall). */
void hcs__worker_schedule(hcs_worker_t *w, struct hcs_conn_s *c);

/* Loop thread: the "Date: ...\r\n" line for now. */
const char *hcs__worker_date(hcs_worker_t *w, size_t *len);

/* Loop thread: a connection closed; the worker may finish stopping. */
void hcs__worker_conn_gone(hcs_worker_t *w);

#endif
