/* SPDX-License-Identifier: MIT */
/*
 * response/response.h: the response object's private side, shared with the
 * connection code that sends it (server/conn.c). The public API is in
 * hcs/response.h.
 *
 * A response is built by a handler, then owned by its connection: a fixed
 * one is serialised into the write queue and freed at once; a streaming one
 * lives until its close callback has run.
 */
#ifndef HCS_RESPONSE_RESPONSE_H
#define HCS_RESPONSE_RESPONSE_H

#include <stdatomic.h>
#include <stdbool.h>

#include <uv.h>

#include "hcs/response.h"
#include "response/writeq.h"

struct hcs_worker_s;

struct hcs_response_s {
  int status;
  char *headers; /* "Name: value\r\n"... as they will be sent */
  size_t headers_len, headers_cap;
  hcs_buf_t *body; /* fixed body, or NULL */
  hcs_produce_cb produce;
  hcs_close_cb on_close;
  void *ud;
  bool flush_headers;
  bool close_conn;
  bool announce_keep_alive; /* write Connection: keep-alive when kept alive */
  bool abort_requested;     /* hcs_response_abort before it was streaming */
  bool head_queued;         /* a streaming response's head is written */
  bool sent;        /* handed to the server: no more building */
  bool in_produce;  /* inside the producer: writes allowed */
  hcs_writeq_t *wq; /* where writes go during a pull */
  size_t produced;  /* bytes written by the current pull */
  hcs_waker_t *waker; /* created on first hcs_response_waker, or NULL */
  void *conn;       /* owning connection while streaming */
};

struct hcs_waker_s {
  atomic_size_t refs;
  atomic_bool queued;           /* in the worker's wake queue */
  uv_mutex_t lock;              /* guards worker against the response ending */
  struct hcs_worker_s *worker;  /* under lock; NULL once the response ended */
  hcs_response_t *res;          /* loop thread only; NULL once ended */
  struct hcs_waker_s *next;     /* wake-queue link, under the worker lock */
};

/* Run the close callback (if any) with `reason`, detach the waker, free. */
void hcs__response_finish(hcs_response_t *res, hcs_close_reason_t reason);

/* The reason phrase for a status code ("OK", "Not Found"), or "". */
const char *hcs__status_reason(int status);

/* The worker whose loop runs on this thread, or NULL. */
struct hcs_worker_s *hcs__current_worker(void);

#endif
