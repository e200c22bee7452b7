/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_http_stream.c: streaming responses over real
 * sockets: producers that return MORE/PENDING/END/errors, wakers fired from
 * other threads (and coalesced), close callbacks (exactly once, with the
 * right reason: finished, peer gone, shutdown, error), chunked framing on
 * HTTP/1.1 and close-delimited bodies on HTTP/1.0, flushed headers,
 * backpressure on a large body with a slow reader, shared buffers written to
 * several responses, and graceful shutdown with open streams.
 *
 * Producers and close callbacks run on the server's worker threads; they
 * record what happened in atomics (and a mutex-protected queue) that the
 * test thread reads. Per-response state is malloc'd in the handler and freed
 * in the close callback; test-wide state is static so that a failed test
 * never leaves a worker pointing into a dead stack frame.
 * Run one case: ./test_http_stream <case-name-glob>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testnet.h"

/* ---- shared test state --------------------------------------------------- */

/* What the close callbacks saw. Reset by each fixture. */
static atomic_int closes;         /* close callbacks run */
static atomic_int last_reason;    /* reason of the latest one */
static atomic_int reason_count[4]; /* per hcs_close_reason_t */
static atomic_int handler_calls;
static atomic_int bad_calls;      /* a producer called after END/error/close */

static void reset_counters(void) {
  atomic_store(&closes, 0);
  atomic_store(&last_reason, -1);
  for (int i = 0; i < 4; i++)
    atomic_store(&reason_count[i], 0);
  atomic_store(&handler_calls, 0);
  atomic_store(&bad_calls, 0);
}

/* Per-response state of the simple producers. */
typedef struct {
  int i, n;      /* pulls so far, pulls wanted */
  int fail_at;   /* return HCS_EIO on this pull (-1: never) */
  bool empty_odd; /* odd pulls write nothing and return MORE */
  bool ended;    /* returned END or an error */
} counter_t;

static void on_close_counter(hcs_response_t *res, hcs_close_reason_t why,
                             void *ud) {
  (void)res;
  if (why >= 0 && why < 4)
    atomic_fetch_add(&reason_count[why], 1);
  atomic_store(&last_reason, (int)why);
  atomic_fetch_add(&closes, 1);
  free(ud);
}

static int produce_counter(hcs_response_t *res, void *ud) {
  counter_t *c = ud;
  if (c->ended)
    atomic_fetch_add(&bad_calls, 1);
  int pull = c->i++;
  if (pull == c->fail_at) {
    c->ended = true;
    return HCS_EIO;
  }
  if (c->empty_odd && pull % 2 == 1)
    return HCS_PRODUCE_MORE;
  char line[32];
  int len = snprintf(line, sizeof(line), "chunk-%d;", pull);
  if (hcs_response_write(res, line, (size_t)len) < 0)
    return HCS_ENOMEM;
  if (c->i >= c->n) {
    c->ended = true;
    return HCS_PRODUCE_END; /* the bytes of this pull are the last ones */
  }
  return HCS_PRODUCE_MORE;
}

static long query_long(hcs_request_t *req, const char *name, long dflt) {
  hcs_str_t v;
  if (hcs_request_query_param(req, name, &v) != 0 || v.len == 0 || v.len > 15)
    return dflt;
  char tmp[16];
  memcpy(tmp, v.base, v.len);
  tmp[v.len] = '\0';
  return strtol(tmp, NULL, 10);
}

/* GET /chunks?n=N[&fail=K][&empty=1]: N pulls of "chunk-<i>;". */
static hcs_response_t *h_chunks(hcs_request_t *req, void *ud) {
  (void)ud;
  atomic_fetch_add(&handler_calls, 1);
  counter_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->n = (int)query_long(req, "n", 3);
  c->fail_at = (int)query_long(req, "fail", -1);
  c->empty_odd = query_long(req, "empty", 0) != 0;
  if (c->empty_odd)
    c->n = c->n * 2 - 1; /* even pulls write, the last one too */
  hcs_response_t *res;
  if (hcs_response_new(&res, 200) < 0) {
    free(c);
    return NULL;
  }
  if (hcs_response_add_header(res, "Content-Type", "text/plain") < 0 ||
      hcs_response_set_producer(res, produce_counter, on_close_counter, c) <
          0) {
    free(c);
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

static hcs_response_t *h_hello(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  return tn_text(200, "hello", 5);
}

/* ---- a queue fed from the test thread ------------------------------------ */

/* One stream at a time reads this queue: the test thread appends bytes and
 * wakes the producer. */
typedef struct {
  pthread_mutex_t lock;
  char *data;
  size_t len, off, cap; /* bytes [off, len) not yet written */
  bool done;            /* end the body once drained */
  bool fail;            /* return an error once drained */
  hcs_waker_t *waker;   /* set by the handler (a reference for the test) */
  atomic_int ready;     /* the handler ran and published waker */
  atomic_int pulls;
  atomic_int ended;
  atomic_int flush;       /* hcs_response_set_flush_headers */
  atomic_int write_first; /* write "start" on the first pull */
} queue_t;

static queue_t q = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void queue_reset(void) {
  pthread_mutex_lock(&q.lock);
  free(q.data);
  q.data = NULL;
  q.len = q.off = q.cap = 0;
  q.done = q.fail = false;
  q.waker = NULL;
  pthread_mutex_unlock(&q.lock);
  atomic_store(&q.flush, 0);
  atomic_store(&q.write_first, 0);
  atomic_store(&q.ready, 0);
  atomic_store(&q.pulls, 0);
  atomic_store(&q.ended, 0);
}

static void queue_push(const char *s, size_t n) {
  pthread_mutex_lock(&q.lock);
  if (q.len + n > q.cap) {
    size_t cap = q.cap ? q.cap : 4096;
    while (cap < q.len + n)
      cap *= 2;
    char *p = realloc(q.data, cap);
    if (p == NULL)
      abort();
    q.data = p;
    q.cap = cap;
  }
  memcpy(q.data + q.len, s, n);
  q.len += n;
  pthread_mutex_unlock(&q.lock);
}

static void queue_finish(bool fail) {
  pthread_mutex_lock(&q.lock);
  if (fail)
    q.fail = true;
  else
    q.done = true;
  pthread_mutex_unlock(&q.lock);
}

static int produce_queue(hcs_response_t *res, void *ud) {
  (void)ud;
  if (atomic_load(&q.ended))
    atomic_fetch_add(&bad_calls, 1);
  int pull = atomic_fetch_add(&q.pulls, 1);
  if (pull == 0 && atomic_load(&q.write_first)) {
    if (hcs_response_write(res, "start", 5) < 0)
      return HCS_ENOMEM;
  }
  pthread_mutex_lock(&q.lock);
  int rc = HCS_PRODUCE_PENDING;
  if (q.off < q.len) {
    if (hcs_response_write(res, q.data + q.off, q.len - q.off) < 0)
      rc = HCS_ENOMEM;
    q.off = q.len;
  }
  if (rc == HCS_PRODUCE_PENDING && q.done)
    rc = HCS_PRODUCE_END;
  if (rc == HCS_PRODUCE_PENDING && q.fail)
    rc = HCS_EIO;
  pthread_mutex_unlock(&q.lock);
  if (rc != HCS_PRODUCE_PENDING)
    atomic_store(&q.ended, 1);
  return rc;
}

static void on_close_queue(hcs_response_t *res, hcs_close_reason_t why,
                           void *ud) {
  (void)res;
  (void)ud;
  atomic_store(&q.ended, 1);
  if (why >= 0 && why < 4)
    atomic_fetch_add(&reason_count[why], 1);
  atomic_store(&last_reason, (int)why);
  atomic_fetch_add(&closes, 1);
}

/* GET /queue: a producer fed by queue q. */
static hcs_response_t *h_queue(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  atomic_fetch_add(&handler_calls, 1);
  hcs_response_t *res;
  if (hcs_response_new(&res, 200) < 0)
    return NULL;
  if (hcs_response_set_producer(res, produce_queue, on_close_queue, NULL) <
      0) {
    hcs_response_free(res);
    return NULL;
  }
  hcs_response_set_flush_headers(res, atomic_load(&q.flush) != 0);
  q.waker = hcs_response_waker(res);
  atomic_store(&q.ready, 1);
  return res;
}

/* Wait for the /queue handler, then return its waker (owned by the test). */
static hcs_waker_t *queue_waker(void) {
  TN_WAIT_UNTIL(atomic_load(&q.ready) == 1, TN_WAIT_MS);
  assert_int_equal(atomic_load(&q.ready), 1);
  assert_non_null(q.waker);
  return q.waker;
}

/* ---- an endless producer ------------------------------------------------- */

static int produce_endless(hcs_response_t *res, void *ud) {
  (void)ud;
  static const char block[16384] = {'e'};
  if (hcs_response_write(res, block, sizeof(block)) < 0)
    return HCS_ENOMEM;
  return HCS_PRODUCE_MORE;
}

static void on_close_plain(hcs_response_t *res, hcs_close_reason_t why,
                           void *ud) {
  (void)res;
  (void)ud;
  if (why >= 0 && why < 4)
    atomic_fetch_add(&reason_count[why], 1);
  atomic_store(&last_reason, (int)why);
  atomic_fetch_add(&closes, 1);
}

/* GET /endless: 16 KiB per pull, forever. */
static hcs_response_t *h_endless(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  atomic_fetch_add(&handler_calls, 1);
  hcs_response_t *res;
  if (hcs_response_new(&res, 200) < 0)
    return NULL;
  if (hcs_response_set_producer(res, produce_endless, on_close_plain, NULL) <
      0) {
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

/* ---- a large body -------------------------------------------------------- */

#define BIG_TOTAL (16u << 20) /* 16 MiB */
#define BIG_WRITE (64u << 10) /* 64 KiB per pull */
#define BIG_UNSENT (256u << 10)

static atomic_size_t big_produced;

static unsigned char big_byte(size_t i) {
  return (unsigned char)(i * 7 + (i >> 16) * 13);
}

typedef struct {
  size_t sent;
  unsigned char block[BIG_WRITE];
} big_t;

static int produce_big(hcs_response_t *res, void *ud) {
  big_t *b = ud;
  if (b->sent >= BIG_TOTAL) {
    atomic_fetch_add(&bad_calls, 1);
    return HCS_PRODUCE_END;
  }
  for (size_t i = 0; i < BIG_WRITE; i++)
    b->block[i] = big_byte(b->sent + i);
  if (hcs_response_write(res, b->block, BIG_WRITE) < 0)
    return HCS_ENOMEM;
  b->sent += BIG_WRITE;
  atomic_store(&big_produced, b->sent);
  return b->sent >= BIG_TOTAL ? HCS_PRODUCE_END : HCS_PRODUCE_MORE;
}

/* GET /big: BIG_TOTAL bytes in BIG_WRITE writes. */
static hcs_response_t *h_big(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  big_t *b = calloc(1, sizeof(*b));
  hcs_response_t *res;
  if (b == NULL || hcs_response_new(&res, 200) < 0) {
    free(b);
    return NULL;
  }
  if (hcs_response_set_producer(res, produce_big, on_close_counter, b) < 0) {
    free(b);
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

/* ---- shared buffers ------------------------------------------------------ */

static hcs_buf_t *shared; /* created by the test; refs checked at the end */
#define SHARED_LEN 10000
#define SHARED_PULLS 3

static int produce_shared(hcs_response_t *res, void *ud) {
  counter_t *c = ud;
  if (hcs_response_write_buf(res, shared) < 0)
    return HCS_ENOMEM;
  return ++c->i >= SHARED_PULLS ? HCS_PRODUCE_END : HCS_PRODUCE_MORE;
}

/* GET /shared: the shared buffer, SHARED_PULLS times, by reference. */
static hcs_response_t *h_shared(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  counter_t *c = calloc(1, sizeof(*c));
  hcs_response_t *res;
  if (c == NULL || hcs_response_new(&res, 200) < 0) {
    free(c);
    return NULL;
  }
  if (hcs_response_set_producer(res, produce_shared, on_close_counter, c) <
      0) {
    free(c);
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

/* GET /shared-body: the shared buffer as a fixed body. */
static hcs_response_t *h_shared_body(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  hcs_response_t *res;
  if (hcs_response_new(&res, 200) < 0)
    return NULL;
  if (hcs_response_set_body_buf(res, shared) < 0) {
    hcs_response_free(res);
    return NULL;
  }
  return res;
}

/* ---- a handler that blocks until the test has called stop ---------------- */

static atomic_int slow_entered, slow_release;

static hcs_response_t *h_slow(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  atomic_store(&slow_entered, 1);
  /* Bounded: never hang a worker if the test failed. */
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  while (!atomic_load(&slow_release) && tn_now_ms() < deadline)
    tn_sleep_ms(1);
  return tn_text(200, "finished", 8);
}

static const tn_route_t routes[] = {
    {"GET", "/chunks", 0, h_chunks, NULL},
    {"GET", "/hello", 0, h_hello, NULL},
    {"GET", "/queue", 0, h_queue, NULL},
    {"GET", "/endless", 0, h_endless, NULL},
    {"GET", "/big", 0, h_big, NULL},
    {"GET", "/shared", 0, h_shared, NULL},
    {"GET", "/shared-body", 0, h_shared_body, NULL},
    {"GET", "/slow", 0, h_slow, NULL},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- fixture ------------------------------------------------------------- */

static tn_server_t server;

static int start_with(const hcs_server_config_t *cfg) {
  reset_counters();
  queue_reset();
  atomic_store(&big_produced, 0);
  atomic_store(&slow_entered, 0);
  atomic_store(&slow_release, 0);
  int rc = tn_server_start(&server, cfg, routes, NROUTES);
  if (rc < 0)
    fprintf(stderr, "server start: %s\n", hcs_strerror(rc));
  return rc;
}

static int setup(void **state) {
  if (start_with(NULL) < 0)
    return -1;
  *state = &server;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  atomic_store(&slow_release, 1);
  int rc = tn_server_free(&server, TN_WAIT_MS * 2);
  tn_cleanup();
  if (q.waker) {
    hcs_waker_unref(q.waker);
    q.waker = NULL;
  }
  queue_reset();
  if (shared) {
    hcs_buf_unref(shared);
    shared = NULL;
  }
  return rc;
}

/* ---- helpers ------------------------------------------------------------- */

static void expect_response(tn_conn_t *c, tn_response_t *r, unsigned flags,
                            int status) {
  int rc = tn_read_response(c, r, flags, TN_WAIT_MS);
  if (rc != 0)
    print_error("read_response: %d; head so far: %s; body so far (%zu): %.200s\n",
                rc, r->head ? r->head : "(none)", r->body_len,
                r->body ? r->body : "");
  assert_int_equal(rc, 0);
  if (r->status != status)
    print_error("unexpected response head:\n%s\n", r->head);
  assert_int_equal(r->status, status);
}

static void expect_hello(tn_conn_t *c) {
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_string_equal(r.body, "hello");
  tn_response_free(&r);
}

/* "chunk-0;chunk-1;...chunk-<n-1>;" */
static char *chunks_body(int n) {
  char *s = malloc((size_t)n * 16 + 1);
  size_t len = 0;
  s[0] = '\0';
  for (int i = 0; i < n; i++)
    len += (size_t)sprintf(s + len, "chunk-%d;", i);
  return s;
}

static void wait_closes(int n) {
  TN_WAIT_UNTIL(atomic_load(&closes) >= n, TN_WAIT_MS);
  assert_int_equal(atomic_load(&closes), n);
}

/* ---- cases: producers ---------------------------------------------------- */

static void stream_chunks_finished(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(
      tn_send_str(c, "GET /chunks?n=20 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_int_equal(r.framing, TN_BODY_CHUNKED);
  assert_true(r.last_chunk);
  assert_null(tn_header(&r, "Content-Length"));
  assert_string_equal(tn_header(&r, "Content-Type"), "text/plain");
  assert_true(tn_is_http_date(tn_header(&r, "Date")));
  assert_non_null(tn_header(&r, "Server"));
  char *want = chunks_body(20);
  assert_string_equal(r.body, want);
  free(want);
  /* Bytes written by one pull leave as one chunk. */
  assert_int_equal(r.nchunks, 20);
  for (size_t i = 0; i < r.nchunks; i++) {
    char line[32];
    assert_int_equal(r.chunk_sizes[i],
                     (size_t)snprintf(line, sizeof(line), "chunk-%zu;", i));
  }
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&reason_count[HCS_CLOSE_FINISHED]), 1);
  /* The connection is reusable. */
  expect_hello(c);
  assert_int_equal(
      tn_send_str(c, "GET /chunks?n=1 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  expect_response(c, &r, 0, 200);
  assert_string_equal(r.body, "chunk-0;");
  tn_response_free(&r);
  wait_closes(2);
  tn_close(c);
  assert_int_equal(tn_server_stop(ts, TN_WAIT_MS), 0);
  assert_int_equal(atomic_load(&closes), 2);
  assert_int_equal(atomic_load(&reason_count[HCS_CLOSE_FINISHED]), 2);
  assert_int_equal(atomic_load(&bad_calls), 0);
}

static void stream_empty_pulls_do_not_end_body(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  /* Odd pulls write nothing: no empty chunk (which would end the body). */
  assert_int_equal(tn_send_str(c, "GET /chunks?n=4&empty=1 HTTP/1.1\r\n"
                                  "Host: t\r\n\r\n"),
                   0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_true(r.last_chunk);
  assert_string_equal(r.body, "chunk-0;chunk-2;chunk-4;chunk-6;");
  assert_int_equal(r.nchunks, 4);
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_FINISHED);
  expect_hello(c);
  tn_close(c);
}

static void stream_pipelined_in_order(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /chunks?n=5 HTTP/1.1\r\nHost: t\r\n\r\n"
                                  "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                                  "GET /chunks?n=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                                  "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_string_equal(r.body, "chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  assert_string_equal(r.body, "hello");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  assert_string_equal(r.body, "chunk-0;chunk-1;");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  assert_string_equal(r.body, "hello");
  tn_response_free(&r);
  wait_closes(2);
  assert_int_equal(atomic_load(&reason_count[HCS_CLOSE_FINISHED]), 2);
  tn_close(c);
}

static void stream_head_request(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  /* A GET route answers HEAD without the body; the response still ends
   * (its close callback runs once) and the connection stays usable. */
  assert_int_equal(tn_send_str(c, "HEAD /chunks?n=3 HTTP/1.1\r\nHost: t\r\n\r\n"
                                  "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  tn_response_t r;
  expect_response(c, &r, TN_REQ_HEAD, 200);
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  assert_string_equal(r.body, "hello");
  tn_response_free(&r);
  wait_closes(1);
  tn_close(c);
  assert_int_equal(tn_server_stop(ts, TN_WAIT_MS), 0);
  assert_int_equal(atomic_load(&closes), 1);
}

static void stream_http10_close_delimited(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /chunks?n=7 HTTP/1.0\r\n\r\n"), 0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_int_equal(r.framing, TN_BODY_CLOSE);
  assert_null(tn_header(&r, "Transfer-Encoding"));
  assert_null(tn_header(&r, "Content-Length"));
  char *want = chunks_body(7);
  assert_string_equal(r.body, want);
  free(want);
  tn_response_free(&r);
  assert_true(c->eof);
  tn_close(c);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_FINISHED);

  /* Even with keep-alive asked for, a close-delimited body ends the
   * connection. */
  c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /chunks?n=2 HTTP/1.0\r\n"
                                  "Connection: keep-alive\r\n\r\n"),
                   0);
  expect_response(c, &r, 0, 200);
  assert_null(tn_header(&r, "Transfer-Encoding"));
  if (r.framing != TN_BODY_CLOSE)
    print_error("head:\n%s\n", r.head);
  assert_int_equal(r.framing, TN_BODY_CLOSE);
  assert_string_equal(r.body, "chunk-0;chunk-1;");
  tn_response_free(&r);
  tn_close(c);
  wait_closes(2);
  assert_int_equal(atomic_load(&reason_count[HCS_CLOSE_FINISHED]), 2);
}

static void stream_error_midway(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(
      tn_send_str(c, "GET /chunks?n=10&fail=2 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  /* The body ends cleanly with the last chunk after what was written. */
  assert_true(r.last_chunk);
  assert_string_equal(r.body, "chunk-0;chunk-1;");
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_ERROR);
  assert_int_equal(atomic_load(&reason_count[HCS_CLOSE_ERROR]), 1);
  /* Still usable. */
  expect_hello(c);
  /* An error on the very first pull: headers and an empty body. */
  assert_int_equal(
      tn_send_str(c, "GET /chunks?n=10&fail=0 HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  int rc = tn_read_response(c, &r, 0, TN_WAIT_MS);
  assert_int_equal(rc, 0);
  /* Nothing was sent yet, so an error status is as good as an empty 200. */
  if (r.status == 200) {
    assert_true(r.last_chunk);
    assert_int_equal(r.body_len, 0);
  } else {
    assert_int_equal(r.status, 500);
  }
  tn_response_free(&r);
  wait_closes(2);
  assert_int_equal(atomic_load(&reason_count[HCS_CLOSE_ERROR]), 2);
  if (!c->eof)
    expect_hello(c);
  tn_close(c);
  assert_int_equal(tn_server_stop(ts, TN_WAIT_MS), 0);
  assert_int_equal(atomic_load(&closes), 2);
  assert_int_equal(atomic_load(&bad_calls), 0);
}

/* ---- cases: wakers ------------------------------------------------------- */

static void stream_pending_then_wake(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /queue HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  hcs_waker_t *w = queue_waker();
  /* Each piece arrives after its wake, before the next is pushed. */
  const char *pieces[] = {"alpha|", "beta|", "gamma|"};
  for (int i = 0; i < 3; i++) {
    queue_push(pieces[i], strlen(pieces[i]));
    hcs_waker_wake(w);
    assert_int_equal(tn_wait_bytes(c, pieces[i], TN_WAIT_MS), 0);
  }
  assert_int_equal(atomic_load(&closes), 0);
  queue_finish(false);
  hcs_waker_wake(w);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_true(r.last_chunk);
  assert_string_equal(r.body, "alpha|beta|gamma|");
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_FINISHED);
  /* Waking after the end is a harmless no-op. */
  hcs_waker_wake(w);
  hcs_waker_wake(hcs_waker_ref(w));
  hcs_waker_unref(w);
  expect_hello(c);
  tn_close(c);
  assert_int_equal(tn_server_stop(ts, TN_WAIT_MS), 0);
  assert_int_equal(atomic_load(&closes), 1);
  assert_int_equal(atomic_load(&bad_calls), 0);
  /* One pull per wake at most, plus the first. */
  assert_true(atomic_load(&q.pulls) <= 1 + 4);
}

/* The waker outlives the response, so a thread may still hold one when the
 * server has stopped: waking it then must be a no-op too. (Last in the
 * list: a crash here ends the run.) */
static void waker_wake_after_server_stop(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /queue HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  hcs_waker_t *w = queue_waker();
  queue_push("x", 1);
  queue_finish(false);
  hcs_waker_wake(w);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_string_equal(r.body, "x");
  tn_response_free(&r);
  wait_closes(1);
  tn_close(c);
  assert_int_equal(tn_server_stop(ts, TN_WAIT_MS), 0);
  hcs_waker_wake(w);
  hcs_waker_wake(w);
  assert_int_equal(atomic_load(&closes), 1);
  assert_int_equal(atomic_load(&bad_calls), 0);
}

typedef struct {
  hcs_waker_t *w;
  int n;
  atomic_int *stop;
} waker_arg_t;

/* Push n numbered items, waking after each. */
static void *pusher_main(void *arg) {
  waker_arg_t *a = arg;
  for (int i = 0; i < a->n; i++) {
    char item[16];
    int len = snprintf(item, sizeof(item), "%d,", i);
    queue_push(item, (size_t)len);
    hcs_waker_wake(a->w);
  }
  return NULL;
}

/* Wake without pushing, until told to stop. */
static void *spurious_main(void *arg) {
  waker_arg_t *a = arg;
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  while (!atomic_load(a->stop) && tn_now_ms() < deadline)
    hcs_waker_wake(a->w);
  return NULL;
}

static void stream_many_wakes_coalesce(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /queue HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  hcs_waker_t *w = queue_waker();
  enum { N = 20000 };
  atomic_int stop = 0;
  waker_arg_t pa = {hcs_waker_ref(w), N, &stop};
  waker_arg_t sa[3];
  pthread_t pusher, spurious[3];
  for (int i = 0; i < 3; i++) {
    sa[i] = (waker_arg_t){hcs_waker_ref(w), 0, &stop};
    assert_int_equal(pthread_create(&spurious[i], NULL, spurious_main, &sa[i]),
                     0);
  }
  assert_int_equal(pthread_create(&pusher, NULL, pusher_main, &pa), 0);
  /* Drain while they run, so that writes and wakes interleave. */
  /* Items are pushed whole, so each lies inside one chunk; N - 1 is the
   * largest number, so this matches only the last item. */
  char last[16];
  snprintf(last, sizeof(last), "%d,", N - 1);
  int rc = tn_wait_bytes(c, last, TN_WAIT_MS);
  pthread_join(pusher, NULL);
  atomic_store(&stop, 1);
  for (int i = 0; i < 3; i++) {
    pthread_join(spurious[i], NULL);
    hcs_waker_unref(sa[i].w);
  }
  hcs_waker_unref(pa.w);
  assert_int_equal(rc, 0);
  queue_finish(false);
  hcs_waker_wake(w);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_true(r.last_chunk);
  /* Every item, in order. */
  char *p = r.body;
  for (int i = 0; i < N; i++) {
    char *end;
    long v = strtol(p, &end, 10);
    if (v != i || *end != ',') {
      print_error("item %d: got \"%.20s\"\n", i, p);
      fail();
    }
    p = end + 1;
  }
  assert_int_equal(*p, '\0');
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_FINISHED);
  assert_int_equal(atomic_load(&bad_calls), 0);
  expect_hello(c);
  tn_close(c);
}

static void stream_flush_headers_before_body(void **state) {
  tn_server_t *ts = *state;
  atomic_store(&q.flush, 1);
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /queue HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  hcs_waker_t *w = queue_waker();
  /* The producer is pending and has written nothing: the head arrives. */
  assert_int_equal(tn_wait_bytes(c, "\r\n\r\n", TN_WAIT_MS), 0);
  assert_true(strncmp(c->buf, "HTTP/1.1 200 ", 13) == 0);
  const char *end = strstr(c->buf, "\r\n\r\n") + 4;
  assert_int_equal((size_t)(end - c->buf), c->len); /* no body byte yet */
  assert_int_equal(atomic_load(&closes), 0);
  queue_push("late", 4);
  queue_finish(false);
  hcs_waker_wake(w);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_int_equal(r.framing, TN_BODY_CHUNKED);
  assert_string_equal(r.body, "late");
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_FINISHED);
  tn_close(c);
}

static void stream_queue_error(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /queue HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  hcs_waker_t *w = queue_waker();
  queue_push("partial", 7);
  hcs_waker_wake(w);
  assert_int_equal(tn_wait_bytes(c, "partial", TN_WAIT_MS), 0);
  queue_finish(true);
  hcs_waker_wake(w);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_true(r.last_chunk);
  assert_string_equal(r.body, "partial");
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_ERROR);
  expect_hello(c);
  tn_close(c);
}

/* ---- cases: the peer goes away ------------------------------------------- */

static void stream_peer_gone_while_pending(void **state) {
  tn_server_t *ts = *state;
  atomic_store(&q.write_first, 1);
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /queue HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  (void)queue_waker();
  assert_int_equal(tn_wait_bytes(c, "start", TN_WAIT_MS), 0);
  tn_close(c);
  /* Nothing is written while pending: the server must notice the close by
   * reading. */
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_PEER_GONE);
  TN_WAIT_UNTIL(tn_stats(ts).connections_open == 0, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).connections_open, 0);
  assert_int_equal(tn_stats(ts).streams_open, 0);
  assert_int_equal(tn_server_stop(ts, TN_WAIT_MS), 0);
  assert_int_equal(atomic_load(&closes), 1);
  assert_int_equal(atomic_load(&bad_calls), 0);
}

static void stream_peer_gone_while_writing(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /endless HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  /* Read some of it, then reset. */
  while (c->len < 100000 && !c->eof)
    assert_true(tn_fill(c, TN_WAIT_MS) > 0);
  tn_abort(c);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_PEER_GONE);
  /* And with a plain close (FIN) while the server is writing. */
  c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /endless HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  assert_true(tn_fill(c, TN_WAIT_MS) > 0);
  tn_close(c);
  wait_closes(2);
  assert_int_equal(atomic_load(&reason_count[HCS_CLOSE_PEER_GONE]), 2);
  TN_WAIT_UNTIL(tn_stats(ts).connections_open == 0, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).connections_open, 0);
  assert_int_equal(tn_server_stop(ts, TN_WAIT_MS), 0);
  assert_int_equal(atomic_load(&closes), 2);
}

/* ---- cases: shutdown ----------------------------------------------------- */

static void shutdown_with_pending_stream(void **state) {
  tn_server_t *ts = *state;
  atomic_store(&q.write_first, 1);
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /queue HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  (void)queue_waker();
  assert_int_equal(tn_wait_bytes(c, "start", TN_WAIT_MS), 0);
  assert_int_equal(tn_stats(ts).streams_open, 1);
  hcs_server_stop(ts->srv);
  /* The client sees the body end properly, then the connection close. */
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_true(r.last_chunk);
  assert_string_equal(r.body, "start");
  tn_response_free(&r);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  assert_int_equal(c->len, 0);
  tn_close(c);
  /* Bounded by the shutdown deadline (3 s) plus a margin. */
  assert_int_equal(tn_server_wait(ts, 3000 + 2000), 0);
  assert_int_equal(atomic_load(&closes), 1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_SHUTDOWN);
  assert_int_equal(atomic_load(&bad_calls), 0);
  /* No longer accepting. */
  assert_null(tn_connect(ts->port));
}

static void shutdown_deadline_with_stuck_reader(void **state) {
  (void)state;
  hcs_server_config_t cfg;
  tn_config(&cfg);
  cfg.shutdown_timeout_ms = 500;
  cfg.max_unsent_bytes = 64 << 10;
  assert_int_equal(start_with(&cfg), 0);
  tn_server_t *ts = &server;
  /* A small receive buffer that is never read: the server's writes stall. */
  tn_conn_t *c = tn_connect_rcvbuf(ts->port, 4096);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /endless HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  TN_WAIT_UNTIL(tn_stats(ts).streams_open == 1, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).streams_open, 1);
  hcs_server_stop(ts->srv);
  /* The deadline force-closes what is left; bounded with a margin. */
  assert_int_equal(tn_server_wait(ts, 500 + 4500), 0);
  assert_int_equal(atomic_load(&closes), 1);
  /* The stream was ended by the shutdown, even though its last bytes could
   * not be delivered. */
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_SHUTDOWN);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  tn_close(c);
}

static void shutdown_closes_idle_keepalive(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  expect_hello(c);
  tn_server_t *s = ts;
  hcs_server_stop(s->srv);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  assert_int_equal(c->len, 0);
  tn_close(c);
  assert_int_equal(tn_server_wait(s, 3000 + 2000), 0);
}

static void shutdown_lets_inflight_request_finish(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  TN_WAIT_UNTIL(atomic_load(&slow_entered) == 1, TN_WAIT_MS);
  assert_int_equal(atomic_load(&slow_entered), 1);
  /* Stop while the handler runs, then let it return. */
  hcs_server_stop(ts->srv);
  atomic_store(&slow_release, 1);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_string_equal(r.body, "finished");
  tn_response_free(&r);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  tn_close(c);
  assert_int_equal(tn_server_wait(ts, 3000 + 2000), 0);
}

/* ---- cases: volume ------------------------------------------------------- */

static size_t read_sysctl_max(const char *path, size_t dflt) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return dflt;
  unsigned long a, b, c;
  size_t v = dflt;
  if (fscanf(f, "%lu %lu %lu", &a, &b, &c) == 3)
    v = c;
  fclose(f);
  return v;
}

static void stream_large_body_backpressure(void **state) {
  (void)state;
  hcs_server_config_t cfg;
  tn_config(&cfg);
  cfg.max_unsent_bytes = BIG_UNSENT;
  assert_int_equal(start_with(&cfg), 0);
  tn_server_t *ts = &server;
  int rcvbuf = getenv("RB") ? atoi(getenv("RB")) : 64 << 10;
  tn_conn_t *c = tn_connect_rcvbuf(ts->port, rcvbuf);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  /*
   * The producer may run ahead of the reader by at most what the server
   * queues (max_unsent_bytes, plus one pull) and what the kernel buffers
   * (the server's send buffer at most tcp_wmem's maximum, our receive
   * buffer; the kernel doubles SO_RCVBUF). Without backpressure it would
   * produce all 16 MiB at once.
   */
  size_t bound = BIG_UNSENT + BIG_WRITE +
                 read_sysctl_max("/proc/sys/net/ipv4/tcp_wmem", 4u << 20) +
                 2 * (size_t)rcvbuf + (256u << 10);
  assert_true(bound < BIG_TOTAL / 2);
  size_t max_ahead = 0;
  int64_t deadline = tn_now_ms() + 60000;
  while (c->len < BIG_TOTAL && !c->eof && tn_now_ms() < deadline) {
    int n = tn_fill(c, TN_WAIT_MS);
    if (n <= 0)
      print_error("fill: %d after %zu bytes (produced %zu, eof %d)\n", n,
                  c->len, (size_t)atomic_load(&big_produced), c->eof);
    assert_true(n > 0);
    size_t produced = atomic_load(&big_produced);
    size_t ahead = produced > c->len ? produced - c->len : 0;
    if (ahead > max_ahead)
      max_ahead = ahead;
    tn_sleep_ms(1); /* a slow reader */
  }
  if (max_ahead > bound)
    print_error("producer ran %zu bytes ahead of the reader (bound %zu)\n",
                max_ahead, bound);
  assert_true(max_ahead <= bound);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_true(r.last_chunk);
  assert_int_equal(r.body_len, BIG_TOTAL);
  for (size_t i = 0; i < BIG_TOTAL; i++) {
    if ((unsigned char)r.body[i] != big_byte(i)) {
      print_error("byte %zu: 0x%02x, want 0x%02x\n", i,
                  (unsigned char)r.body[i], big_byte(i));
      fail();
    }
  }
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_FINISHED);
  assert_int_equal(atomic_load(&bad_calls), 0);
  expect_hello(c);
  tn_close(c);
}

static void stream_shared_buffer(void **state) {
  tn_server_t *ts = *state;
  char *pattern = malloc(SHARED_LEN);
  assert_non_null(pattern);
  for (size_t i = 0; i < SHARED_LEN; i++)
    pattern[i] = (char)('A' + i % 26);
  assert_int_equal(hcs_buf_copy(&shared, pattern, SHARED_LEN), 0);
  /* Several responses at once, on separate connections and workers. */
  enum { CONNS = 4 };
  tn_conn_t *cs[CONNS];
  for (int i = 0; i < CONNS; i++) {
    cs[i] = tn_connect(ts->port);
    assert_non_null(cs[i]);
    assert_int_equal(tn_send_str(cs[i], "GET /shared HTTP/1.1\r\nHost: t\r\n\r\n"
                                        "GET /shared-body HTTP/1.1\r\n"
                                        "Host: t\r\n\r\n"),
                     0);
  }
  for (int i = 0; i < CONNS; i++) {
    tn_response_t r;
    expect_response(cs[i], &r, 0, 200);
    assert_true(r.last_chunk);
    assert_int_equal(r.body_len, SHARED_LEN * SHARED_PULLS);
    for (int k = 0; k < SHARED_PULLS; k++)
      assert_memory_equal(r.body + (size_t)k * SHARED_LEN, pattern, SHARED_LEN);
    tn_response_free(&r);
    expect_response(cs[i], &r, 0, 200);
    assert_int_equal(r.framing, TN_BODY_LENGTH);
    assert_int_equal(r.body_len, SHARED_LEN);
    assert_memory_equal(r.body, pattern, SHARED_LEN);
    tn_response_free(&r);
    tn_close(cs[i]);
  }
  free(pattern);
  wait_closes(CONNS);
  assert_int_equal(atomic_load(&reason_count[HCS_CLOSE_FINISHED]), CONNS);
  /* Every reference the server took is dropped: only ours is left. */
  assert_int_equal(tn_server_stop(ts, TN_WAIT_MS), 0);
  assert_int_equal(atomic_load(&shared->refs), 1);
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TC(fn) cmocka_unit_test_teardown(fn, teardown)
  const struct CMUnitTest tests[] = {
      T(stream_chunks_finished),
      T(stream_empty_pulls_do_not_end_body),
      T(stream_pipelined_in_order),
      T(stream_head_request),
      T(stream_http10_close_delimited),
      T(stream_error_midway),
      T(stream_pending_then_wake),
      T(stream_many_wakes_coalesce),
      T(stream_flush_headers_before_body),
      T(stream_queue_error),
      T(stream_peer_gone_while_pending),
      T(stream_peer_gone_while_writing),
      T(shutdown_with_pending_stream),
      TC(shutdown_deadline_with_stuck_reader),
      T(shutdown_closes_idle_keepalive),
      T(shutdown_lets_inflight_request_finish),
      TC(stream_large_body_backpressure),
      T(stream_shared_buffer),
      T(waker_wake_after_server_stop),
  };
#undef T
#undef TC
  return cmocka_run_group_tests(tests, NULL, NULL);
}
