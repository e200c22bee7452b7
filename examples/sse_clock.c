/* SPDX-License-Identifier: MIT */
/*
 * examples/sse_clock.c: the current time, streamed with Server-Sent Events
 * once a second.
 *
 *   GET /clock     one "message" event per second whose data is the UTC time
 *                  ("2025-01-31T12:34:56Z") and whose id counts the ticks;
 *                  the first event leaves at once. ?n=N ends after N events.
 *
 * How: each response streams from an event generator (hcs_sse_respond) that
 * sends an event when the ticker has moved on since its last one, and
 * otherwise returns HCS_SSE_PENDING. One background thread ticks once a
 * second and wakes every registered response with hcs_waker_wake; the
 * library then pulls the generator again on the response's own loop. There
 * is no polling: an idle response costs nothing until the next tick.
 *
 * Threads: the ticker thread touches only the client list (under its lock)
 * and wakers, which are thread-safe. Generators and close callbacks run on
 * the worker that owns the connection.
 *
 * Builds in-tree, or against an installed hcs:
 *   cc sse_clock.c $(pkg-config --cflags --libs hcs) -pthread -o sse_clock
 * Run:  ./sse_clock [--host 127.0.0.1] [--port 8080] [--workers N]
 *       curl -N http://127.0.0.1:8080/clock
 * It prints "sse_clock: listening on http://HOST:PORT/" once it accepts
 * connections (--port 0 picks a free port) and stops on SIGINT or SIGTERM.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <hcs/hcs.h>

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One /clock response: owned by it, freed in its on_close. */
typedef struct client_s {
  struct client_s *prev, *next; /* in the ticker's list */
  hcs_waker_t *waker;           /* wakes this response's generator */
  uint64_t last_tick;           /* the tick of the last event sent */
  bool sent_any;
  bool listed;           /* in the ticker's list */
  uint64_t count, limit; /* events sent; 0 or the number to send */
  char id[24], data[32]; /* the event being sent (borrowed by the library) */
} client_t;

/* The ticker: a thread that advances `tick` every second. */
typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond; /* signalled to stop */
  bool stopping;
  uint64_t tick;
  client_t *clients;
  pthread_t thread;
} ticker_t;

static ticker_t ticker;

static void *ticker_main(void *arg) {
  (void)arg;
  /* Tick when the wall clock's second changes, so that consecutive events
   * show consecutive seconds; then every second of the monotonic clock, on
   * absolute deadlines so the ticks do not drift. */
  struct timespec deadline, wall;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  clock_gettime(CLOCK_REALTIME, &wall);
  deadline.tv_nsec += 1000000000L - wall.tv_nsec;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  deadline.tv_sec--; /* the loop adds it back */
  pthread_mutex_lock(&ticker.lock);
  while (!ticker.stopping) {
    deadline.tv_sec++;
    while (!ticker.stopping &&
           pthread_cond_timedwait(&ticker.cond, &ticker.lock, &deadline) == 0) {
    }
    if (ticker.stopping)
      break;
    ticker.tick++;
    for (client_t *c = ticker.clients; c != NULL; c = c->next)
      hcs_waker_wake(c->waker);
  }
  pthread_mutex_unlock(&ticker.lock);
  return NULL;
}

static int ticker_start(void) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_mutex_init(&ticker.lock, NULL);
  pthread_cond_init(&ticker.cond, &attr);
  pthread_condattr_destroy(&attr);
  return pthread_create(&ticker.thread, NULL, ticker_main, NULL);
}

static void ticker_stop(void) {
  pthread_mutex_lock(&ticker.lock);
  ticker.stopping = true;
  pthread_cond_signal(&ticker.cond);
  pthread_mutex_unlock(&ticker.lock);
  pthread_join(ticker.thread, NULL);
  pthread_cond_destroy(&ticker.cond);
  pthread_mutex_destroy(&ticker.lock);
}

/*
 * Generator: an event when the clock ticked since the last one (or none was
 * sent yet), else PENDING until the ticker wakes us. The tick is read under
 * the same lock the ticker holds while it advances and wakes, so a tick is
 * never missed: either we see it here, or its wake comes after this pull.
 */
static int clock_next(hcs_response_t *res, hcs_sse_event_t *out, void *ud) {
  (void)res;
  client_t *c = ud;
  if (c->limit && c->count >= c->limit)
    return HCS_SSE_END;
  pthread_mutex_lock(&ticker.lock);
  uint64_t tick = ticker.tick;
  pthread_mutex_unlock(&ticker.lock);
  if (c->sent_any && tick == c->last_tick)
    return HCS_SSE_PENDING;
  c->sent_any = true;
  c->last_tick = tick;
  c->count++;

  struct timespec now;
  struct tm utc;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &utc);
  strftime(c->data, sizeof c->data, "%Y-%m-%dT%H:%M:%SZ", &utc);
  snprintf(c->id, sizeof c->id, "%" PRIu64, tick);
  out->id = hcs_str_c(c->id);
  out->data = hcs_str_c(c->data);
  return HCS_SSE_NEXT;
}

/* The response ended: leave the ticker's list. Loop thread, exactly once. */
static void clock_closed(hcs_response_t *res, hcs_close_reason_t reason,
                         void *ud) {
  (void)res;
  (void)reason;
  client_t *c = ud;
  if (c->listed) {
    pthread_mutex_lock(&ticker.lock);
    if (c->prev)
      c->prev->next = c->next;
    else
      ticker.clients = c->next;
    if (c->next)
      c->next->prev = c->prev;
    pthread_mutex_unlock(&ticker.lock);
  }
  hcs_waker_unref(c->waker);
  free(c);
}

static hcs_response_t *clock_handler(hcs_request_t *req, void *ud) {
  (void)ud;
  client_t *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  hcs_str_t v;
  if (hcs_request_query_param(req, "n", &v) == 0 && v.len > 0 && v.len < 10) {
    char tmp[16];
    memcpy(tmp, v.base, v.len);
    tmp[v.len] = '\0';
    long n = strtol(tmp, NULL, 10);
    c->limit = n > 0 ? (uint64_t)n : 0;
  }
  hcs_sse_options_t opts = {
      .flush_headers_immediately = true, .on_close = clock_closed, .ud = c};
  hcs_response_t *res;
  if (hcs_sse_respond(&res, &opts, clock_next) < 0) {
    free(c); /* on failure on_close never runs */
    return NULL;
  }
  /* The handler runs on the response's loop thread, where a waker may be
   * taken; from now on the ticker wakes this response every second. */
  c->waker = hcs_response_waker(res);
  if (c->waker == NULL) {
    hcs_response_free(res); /* runs clock_closed, which frees c */
    return NULL;
  }
  pthread_mutex_lock(&ticker.lock);
  c->listed = true;
  c->next = ticker.clients;
  if (c->next)
    c->next->prev = c;
  ticker.clients = c;
  pthread_mutex_unlock(&ticker.lock);
  return res;
}

int main(int argc, char **argv) {
  hcs_server_config_t cfg;
  hcs_server_config_init(&cfg);
  cfg.port = 8080;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--host") == 0)
      cfg.host = argv[i + 1];
    else if (strcmp(argv[i], "--port") == 0)
      cfg.port = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--workers") == 0)
      cfg.workers = (unsigned)atoi(argv[i + 1]);
    else
      argc = 0; /* usage below */
  }
  if (argc % 2 == 0) {
    fprintf(stderr, "usage: %s [--host H] [--port P] [--workers N]\n", argv[0]);
    return 2;
  }

  /* Signals are taken by sigwait below: block them before any thread starts,
   * so that every thread inherits the mask. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  hcs_server_t *srv;
  int err = hcs_server_new(&srv, &cfg);
  if (err < 0) {
    fprintf(stderr, "sse_clock: %s\n", hcs_strerror(err));
    return 2;
  }
  if (hcs_server_route(srv, "GET", "/clock", 0, clock_handler, NULL) < 0) {
    fprintf(stderr, "sse_clock: cannot add routes\n");
    hcs_server_free(srv);
    return 1;
  }
  if (ticker_start() != 0) {
    fprintf(stderr, "sse_clock: cannot start the ticker thread\n");
    hcs_server_free(srv);
    return 1;
  }
  err = hcs_server_start(srv);
  if (err < 0) {
    fprintf(stderr, "sse_clock: %s\n", hcs_strerror(err));
    ticker_stop();
    hcs_server_free(srv);
    return 1;
  }
  fprintf(stderr, "sse_clock: listening on http://%s:%d/\n",
          cfg.host ? cfg.host : "127.0.0.1", hcs_server_port(srv));

  int sig = 0;
  sigwait(&stop_signals, &sig);
  hcs_server_stop(srv);
  hcs_server_wait(srv);
  /* Every response has ended and left the list: the ticker wakes no one. */
  ticker_stop();
  hcs_server_free(srv);
  return 0;
}
