/* SPDX-License-Identifier: MIT */
/*
 * server/worker.c: a worker thread and its loop: accepting, timeouts, the
 * cross-thread wake queue, the ready list, and graceful stop.
 */
#include "server/worker.h"

#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "hcs/error.h"
#include "http1/parser.h"
#include "server/conn.h"
#include "server/server.h"

static _Thread_local hcs_worker_t *current_worker;

hcs_worker_t *hcs__current_worker(void) {
  return current_worker;
}

/*
 * Out of descriptors: refuse what waits in the backlog with a spare
 * descriptor kept for this (accept, close), so clients are told at once
 * instead of waiting. One spare for the process, under a lock, so two
 * workers never race for the descriptor it frees. Returns false when there
 * was no spare to use.
 */
static uv_once_t spare_once = UV_ONCE_INIT;
static uv_mutex_t spare_lock;
static int spare_fd = -1;

static void spare_init(void) {
  uv_mutex_init(&spare_lock);
  spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static bool refuse_backlog(int listen_fd) {
  uv_once(&spare_once, spare_init);
  uv_mutex_lock(&spare_lock);
  if (spare_fd < 0) /* taken by a race earlier: try to get it back */
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  bool had = spare_fd >= 0;
  if (had) {
    close(spare_fd);
    /* Bounded: at most a backlog's worth per call. */
    for (int i = 0; i < 4096; i++) {
      int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        break;
      close(fd);
    }
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  uv_mutex_unlock(&spare_lock);
  return had;
}

static void on_listener_closed(uv_handle_t *h) {
  hcs_worker_t *w = h->data;
  w->listener_closed = true;
}

static void on_connection(uv_stream_t *listener, int status) {
  hcs_worker_t *w = listener->data;
  if (status < 0) {
    atomic_fetch_add_explicit(&w->stats.refused, 1, memory_order_relaxed);
    /* Out of descriptors. libuv accepts and drops the connection with a
     * reserve descriptor, but with several loops in one process another
     * thread may take the descriptor it frees, and libuv then retries
     * accept() without end. So: refuse the backlog with our own spare
     * (refuse_backlog); if there is none, stop listening for a moment:
     * closing the handle ends libuv's accept loop, the socket stays open
     * through listen_dup, and the timer listens again soon. */
    /* A few refusals per loop turn at most: while other threads take every
     * descriptor freed, refusing could go on without end; pause instead. */
    uint64_t now = uv_now(&w->loop);
    if (now != w->emfile_at) {
      w->emfile_at = now;
      w->emfile_count = 0;
    }
    if ((status == UV_EMFILE || status == UV_ENFILE) && w->listen_dup >= 0 &&
        ++w->emfile_count <= 8 && refuse_backlog(w->listen_dup))
      return; /* the backlog is empty now: libuv's accept loop ends */
    if ((status == UV_EMFILE || status == UV_ENFILE) && w->listen_dup >= 0 &&
        !w->listener_paused && !w->stopping) {
      w->listener_paused = true;
      w->listener_closed = false;
      w->paused_at = uv_now(&w->loop);
      uv_close((uv_handle_t *)&w->listener, on_listener_closed);
    }
    return;
  }
  hcs__conn_accept(w);
}

/* Listen again after a pause, if a descriptor is free for it. */
static void resume_listening(hcs_worker_t *w) {
  int fd = dup(w->listen_dup);
  if (fd < 0)
    return; /* still out of descriptors: the next tick tries again */
  uv_tcp_init(&w->loop, &w->listener);
  w->listener.data = w;
  if (uv_tcp_open(&w->listener, fd) < 0 ||
      uv_listen((uv_stream_t *)&w->listener, 4096, on_connection) < 0) {
    w->listener_closed = false;
    uv_close((uv_handle_t *)&w->listener, on_listener_closed); /* retry later */
    return;
  }
  w->listener_paused = false;
}

/* Timer period: a fraction of the shortest timeout, within bounds. */
static uint64_t tick_ms(const hcs_server_config_t *cfg) {
  uint64_t t = cfg->header_timeout_ms < cfg->keepalive_timeout_ms
                   ? cfg->header_timeout_ms
                   : cfg->keepalive_timeout_ms;
  t /= 8;
  return t < 5 ? 5 : t > 250 ? 250 : t;
}

/* Expire the front of a deadline-ordered list. */
static void expire(hcs_list_t *list, uint64_t now) {
  hcs_list_t *n;
  while ((n = hcs_list_first(list)) != NULL) {
    hcs_conn_t *c = hcs_list_entry(n, hcs_conn_t, node);
    if (c->deadline > now)
      break;
    hcs__conn_timeout(c); /* moves c off this list */
  }
}

static void close_all(hcs_list_t *list) {
  hcs_list_t *n;
  while ((n = hcs_list_first(list)) != NULL)
    hcs__conn_close(hcs_list_entry(n, hcs_conn_t, node), HCS_CLOSE_SHUTDOWN);
}

static void on_timer(uv_timer_t *t) {
  hcs_worker_t *w = t->data;
  uint64_t now = uv_now(&w->loop);
  expire(&w->conns_reading, now);
  expire(&w->conns_idle, now);
  expire(&w->conns_linger, now);
  if (w->listener_paused && w->listener_closed && !w->stopping &&
      now >= w->paused_at + 100) {
    /* Listen again if a descriptor is free; else refuse who waits, so they
     * are told at once (after a resume the backlog is served normally). */
    resume_listening(w);
    if (w->listener_paused)
      (void)refuse_backlog(w->listen_dup);
  }
  if (w->stopping && now >= w->shutdown_deadline) {
    /* The graceful period is over: whatever is left is cut. */
    close_all(&w->conns_reading);
    close_all(&w->conns_idle);
    close_all(&w->conns_busy);
    close_all(&w->conns_linger);
  }
}

static void run_wakes(hcs_waker_t *k);

static void on_idle(uv_idle_t *idle) {
  hcs_worker_t *w = idle->data;
  hcs_waker_t *k = w->local_wakes;
  w->local_wakes = w->local_wakes_tail = NULL;
  run_wakes(k);
  /* Detach the list first: driving a connection may schedule it again. */
  hcs_list_t batch;
  hcs_list_init(&batch);
  hcs_list_move_all(&w->ready, &batch);
  hcs_list_t *n;
  while ((n = hcs_list_first(&batch)) != NULL) {
    hcs_list_remove(n);
    hcs__conn_drive(hcs_list_entry(n, hcs_conn_t, ready_node));
  }
  if (hcs_list_empty(&w->ready) && w->local_wakes == NULL)
    uv_idle_stop(&w->idle);
}

void hcs__worker_schedule(hcs_worker_t *w, hcs_conn_t *c) {
  if (hcs_list_linked(&c->ready_node))
    return;
  hcs_list_push_back(&w->ready, &c->ready_node);
  uv_idle_start(&w->idle, on_idle);
}

static void begin_stop(hcs_worker_t *w);

/* Resume the producers of a detached list of wakers and drop the queue's
 * references. */
static void run_wakes(hcs_waker_t *k) {
  while (k) {
    hcs_waker_t *next = k->next;
    /* Clear before resuming, so a wake during the pull queues again. */
    atomic_store_explicit(&k->queued, false, memory_order_release);
    hcs_response_t *res = k->res;
    if (res && res->conn)
      hcs__conn_wake(res->conn, res);
    hcs_waker_unref(k); /* the queue's reference */
    k = next;
  }
}

static void run_tasks(hcs__task_t *t, int status) {
  while (t) {
    hcs__task_t *next = t->next;
    t->fn(t, status); /* may free t */
    t = next;
  }
}

static void on_async(uv_async_t *async) {
  hcs_worker_t *w = async->data;
  if (atomic_load(&w->stop_requested) && !w->stopping)
    begin_stop(w);

  uv_mutex_lock(&w->wake_lock);
  hcs_waker_t *k = w->wakes;
  hcs__task_t *t = w->tasks;
  w->wakes = NULL;
  w->tasks = w->tasks_tail = NULL;
  uv_mutex_unlock(&w->wake_lock);
  run_tasks(t, 0);
  run_wakes(k);
}

void hcs__worker_post_wake(hcs_worker_t *w, hcs_waker_t *k) {
  hcs_waker_ref(k);
  if (current_worker == w) {
    /* Our own loop: queue it for the idle turn, after the current callback,
     * so a wake from inside a pull is never lost nor re-entrant. */
    k->next = NULL;
    if (w->local_wakes_tail)
      w->local_wakes_tail->next = k;
    else
      w->local_wakes = k;
    w->local_wakes_tail = k;
    uv_idle_start(&w->idle, on_idle);
    return;
  }
  uv_mutex_lock(&w->wake_lock);
  if (!w->accepting_wakes) {
    uv_mutex_unlock(&w->wake_lock);
    hcs_waker_unref(k); /* the loop is gone: nothing left to resume */
    return;
  }
  bool was_empty = w->wakes == NULL && w->tasks == NULL;
  k->next = w->wakes;
  w->wakes = k;
  if (was_empty)
    uv_async_send(&w->async);
  uv_mutex_unlock(&w->wake_lock);
}

int hcs__worker_post_task(hcs_worker_t *w, hcs__task_t *t) {
  t->next = NULL;
  uv_mutex_lock(&w->wake_lock);
  if (!w->accepting_wakes) {
    uv_mutex_unlock(&w->wake_lock);
    return HCS_ECLOSED;
  }
  bool was_empty = w->wakes == NULL && w->tasks == NULL;
  if (w->tasks_tail)
    w->tasks_tail->next = t;
  else
    w->tasks = t;
  w->tasks_tail = t;
  if (was_empty)
    uv_async_send(&w->async);
  uv_mutex_unlock(&w->wake_lock);
  return 0;
}

const char *hcs__worker_date(hcs_worker_t *w, size_t *len) {
  time_t now = time(NULL);
  if (now != w->date_sec) {
    struct tm tm;
    gmtime_r(&now, &tm);
    w->date_len = strftime(w->date, sizeof(w->date),
                           "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    w->date_sec = now;
  }
  *len = w->date_len;
  return w->date;
}

/* Close the loop's own handles once no connection is left. */
static void maybe_finish(hcs_worker_t *w) {
  if (!w->stopping || w->closed || w->nconns > 0)
    return;
  w->closed = true;
  uv_mutex_lock(&w->wake_lock);
  w->accepting_wakes = false;
  hcs_waker_t *k = w->wakes;
  hcs__task_t *t = w->tasks;
  w->wakes = NULL;
  w->tasks = w->tasks_tail = NULL;
  uv_mutex_unlock(&w->wake_lock);
  run_tasks(t, HCS_ECANCELED);
  /* No connection is left: these wakes find nothing to resume. */
  run_wakes(k);
  run_wakes(w->local_wakes);
  w->local_wakes = w->local_wakes_tail = NULL;
  uv_close((uv_handle_t *)&w->async, NULL);
  uv_close((uv_handle_t *)&w->timer, NULL);
  uv_close((uv_handle_t *)&w->idle, NULL);
}

void hcs__worker_conn_gone(hcs_worker_t *w) {
  w->nconns--;
  maybe_finish(w);
}

/* Apply fn to every connection on a list; fn may move or close it. */
static void each_conn(hcs_list_t *list, void (*fn)(hcs_conn_t *)) {
  hcs_list_t batch;
  hcs_list_init(&batch);
  hcs_list_move_all(list, &batch);
  hcs_list_t *n;
  while ((n = hcs_list_first(&batch)) != NULL) {
    hcs_conn_t *c = hcs_list_entry(n, hcs_conn_t, node);
    /* Put it back where it was before acting, so fn sees a normal state. */
    hcs_list_remove(n);
    hcs_list_push_back(list, n);
    fn(c);
  }
}

static void begin_stop(hcs_worker_t *w) {
  w->stopping = true;
  w->shutdown_deadline =
      uv_now(&w->loop) + w->server->cfg.shutdown_timeout_ms;
  if (!w->listener_paused)
    uv_close((uv_handle_t *)&w->listener, NULL);
  each_conn(&w->conns_idle, hcs__conn_shutdown);
  each_conn(&w->conns_reading, hcs__conn_shutdown);
  each_conn(&w->conns_busy, hcs__conn_shutdown);
  maybe_finish(w);
}

void hcs__worker_request_stop(hcs_worker_t *w) {
  atomic_store(&w->stop_requested, true);
  /* The async handle is closed once the worker finished: send only while
   * it still takes wakes. */
  uv_mutex_lock(&w->wake_lock);
  if (w->accepting_wakes)
    uv_async_send(&w->async);
  uv_mutex_unlock(&w->wake_lock);
}

int hcs__worker_init(hcs_worker_t *w, hcs_server_t *srv, unsigned index,
                     int listen_fd) {
  memset(w, 0, sizeof(*w));
  w->server = srv;
  w->index = index;
  w->listen_fd = listen_fd;
  w->listen_dup = -1;
  w->date_sec = -1;
  hcs_list_init(&w->conns_reading);
  hcs_list_init(&w->conns_idle);
  hcs_list_init(&w->conns_linger);
  hcs_list_init(&w->conns_busy);
  hcs_list_init(&w->ready);
  w->read_buf = hcs__malloc(HCS_READ_BUF_SIZE);
  w->path_buf = hcs__malloc(srv->cfg.max_header_bytes + 1);
  w->parsed = hcs__malloc(sizeof(hcs_http1_request_t));
  int err = HCS_ENOMEM;
  if (w->read_buf == NULL || w->path_buf == NULL || w->parsed == NULL)
    goto fail_mem;
  if ((err = uv_mutex_init(&w->wake_lock)) < 0)
    goto fail_mem;
  w->lock_inited = true;
  if ((err = uv_loop_init(&w->loop)) < 0)
    goto fail_mutex;
  w->loop.data = w;
  uv_tcp_init(&w->loop, &w->listener);
  w->listener.data = w;
  if ((err = uv_tcp_open(&w->listener, listen_fd)) < 0)
    goto fail_loop;
  /* A second descriptor of the listening socket keeps it open while the
   * listener pauses (out of descriptors); without one, it never pauses. */
  w->listen_dup = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
  uv_async_init(&w->loop, &w->async, on_async);
  w->async.data = w;
  uv_timer_init(&w->loop, &w->timer);
  w->timer.data = w;
  uv_idle_init(&w->loop, &w->idle);
  w->idle.data = w;
  w->accepting_wakes = true;
  return 0;

fail_loop:
  /* The fd was not adopted: the caller closes it. Close what we opened. */
  uv_close((uv_handle_t *)&w->listener, NULL);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
fail_mutex:
  uv_mutex_destroy(&w->wake_lock);
  w->lock_inited = false;
fail_mem:
  hcs__free(w->read_buf);
  hcs__free(w->path_buf);
  hcs__free(w->parsed);
  w->read_buf = w->path_buf = NULL;
  w->parsed = NULL;
  w->listen_fd = -1;
  return err;
}

static void worker_main(void *arg) {
  hcs_worker_t *w = arg;
  current_worker = w;
  uint64_t tick = tick_ms(&w->server->cfg);
  uv_timer_start(&w->timer, on_timer, tick, tick);
  if (uv_listen((uv_stream_t *)&w->listener, 4096, on_connection) < 0) {
    /* The socket already listens (hcs_server_start did it), so this cannot
     * fail in practice; stop cleanly if it does. */
    atomic_store(&w->stop_requested, true);
    begin_stop(w);
  }
  if (atomic_load(&w->stop_requested) && !w->stopping)
    begin_stop(w);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  current_worker = NULL;
  hcs__server_worker_done(w->server);
}

int hcs__worker_start(hcs_worker_t *w) {
  int err = uv_thread_create(&w->thread, worker_main, w);
  if (err == 0)
    w->thread_started = true;
  return err;
}

void hcs__worker_join(hcs_worker_t *w) {
  if (w->read_buf == NULL)
    return; /* init failed or already joined */
  if (w->thread_started) {
    uv_thread_join(&w->thread);
    w->thread_started = false;
  } else {
    /* Never ran: close the handles init opened. */
    w->stopping = true;
    uv_close((uv_handle_t *)&w->listener, NULL);
    maybe_finish(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&w->loop);
  if (w->listen_dup >= 0) {
    close(w->listen_dup);
    w->listen_dup = -1;
  }
  /* wake_lock stays: wakers and posts may still arrive (and be refused)
   * until the server is freed; hcs__worker_destroy ends it. */
  hcs__free(w->read_buf);
  hcs__free(w->path_buf);
  hcs__free(w->parsed);
  w->read_buf = w->path_buf = NULL;
  w->parsed = NULL;
}

void hcs__worker_destroy(hcs_worker_t *w) {
  if (w->lock_inited) {
    uv_mutex_destroy(&w->wake_lock);
    w->lock_inited = false;
  }
}
