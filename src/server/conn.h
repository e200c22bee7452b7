/* SPDX-License-Identifier: MIT */
/*
 * server/conn.h: one HTTP/1.1 connection: reading and parsing requests,
 * dispatching them to handlers, queueing responses in order, driving
 * streaming producers, timeouts and closing.
 *
 * A connection belongs to one worker and is touched only on its loop
 * thread. Its state decides which worker list (and so which timeout) it is
 * on:
 *
 *   READING  a request is expected or partly received   header timeout
 *   IDLE     keep-alive, nothing received               keep-alive timeout
 *   BUSY     a response is being produced or sent       none
 *   LINGER   the last response is sent; discarding
 *            input until the peer closes                linger timeout
 *   CLOSED   uv_close called; freed in its callback
 */
#ifndef HCS_SERVER_CONN_H
#define HCS_SERVER_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/list.h"
#include "http1/chunked.h"
#include "response/response.h"
#include "response/writeq.h"
#include "server/worker.h"

typedef enum {
  HCS_CONN_READING,
  HCS_CONN_IDLE,
  HCS_CONN_BUSY,
  HCS_CONN_LINGER,
  HCS_CONN_CLOSED,
} hcs_conn_state_t;

typedef enum {
  HCS_STREAM_READY,   /* pull when the socket allows */
  HCS_STREAM_PENDING, /* wait for a wake */
  HCS_STREAM_ENDING,  /* ended; close callback once the queue drains */
} hcs_stream_state_t;

typedef struct hcs_conn_s {
  uv_tcp_t tcp;
  hcs_worker_t *worker;
  hcs_list_t node;       /* in the worker list of its state */
  hcs_list_t ready_node; /* in worker->ready */
  uint64_t deadline;     /* loop ms; meaning depends on state */
  uint8_t state;         /* hcs_conn_state_t */

  /* The request being received. */
  bool keep_alive;     /* of the current request */
  bool is_head;        /* the current request is HEAD */
  bool close_after;    /* close once the write queue drains */
  bool reading;        /* uv_read_start is active */
  bool in_borrowed;    /* `in` is the worker's read buffer (one callback) */
  uint8_t minor;       /* HTTP minor version of the current request */
  uint8_t body_kind;   /* hcs_http1_body_t of the current request */
  char *in;            /* unprocessed input; NULL when there is none */
  size_t in_len, in_cap;
  size_t head_len;     /* > 0: head parsed, waiting for the body */
  uint64_t body_need;  /* Content-Length */
  size_t body_len;     /* decoded chunked bytes, at in + head_len */
  size_t raw_pos;      /* offset of undecoded chunked input */
  hcs_chunked_decoder_t chunked;

  /* Output. */
  hcs_writeq_t wq;
  bool write_in_flight;
  size_t write_bytes;  /* bytes in the in-flight uv_write */
  uv_write_t *write_req; /* allocated on first use */

  /* The streaming response in progress, if any. */
  hcs_response_t *stream;
  uint8_t stream_state;  /* hcs_stream_state_t */
  uint8_t stream_reason; /* hcs_close_reason_t once ENDING */
  bool stream_chunked;
  bool stream_head_queued;
  bool stream_abort;   /* hcs_response_abort: close on the next drive */
} hcs_conn_t;

/* Accept a connection on w's listener (libuv connection callback). */
void hcs__conn_accept(hcs_worker_t *w);

/* Resume a connection: pull its producer or continue with input. */
void hcs__conn_drive(hcs_conn_t *c);

/* A waker fired for c's streaming response. */
void hcs__conn_wake(hcs_conn_t *c, hcs_response_t *res);

/* Loop thread: true when the socket did not take everything written. */
bool hcs__conn_write_blocked(const hcs_conn_t *c);

/* Loop thread: close c (dropping unsent bytes) on its next drive, because
 * its streaming response res was aborted. */
void hcs__conn_abort(hcs_conn_t *c, hcs_response_t *res);

/* A timeout of c's current state has passed. */
void hcs__conn_timeout(hcs_conn_t *c);

/* Graceful stop: end streams, close idle connections, finish the rest. */
void hcs__conn_shutdown(hcs_conn_t *c);

/* Close now; a streaming response gets `reason`. */
void hcs__conn_close(hcs_conn_t *c, hcs_close_reason_t reason);

#endif
