/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_sse_respond.c: the hcs_sse_respond* responses over
 * real sockets. Generators that yield events, end, fail, return invalid
 * events or wait for a wake; raw generators and shared buffers; streams that
 * close and drain, or are cancelled while another thread feeds them (client
 * gone, server stopping) with exactly one close callback; heartbeats driven
 * by a manual clock; the SSE headers on HTTP/1.1 and HTTP/1.0.
 *
 * Handlers run on worker threads and hand the test what it needs (the
 * response's stream, its waker) through atomics; per-response state lives
 * until the close callback, which records the reason.
 * Run one case: ./test_sse_respond <case-name-glob>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hcs/sse.h"
#include "testnet.h"

/* ---- shared state -------------------------------------------------------- */

static atomic_int closes, last_reason, bad_pulls;
static _Atomic(hcs_stream_t *) handed_stream; /* the latest stream response's */
static _Atomic(hcs_waker_t *) handed_waker;   /* the pending generator's */
static atomic_int gen_release;                /* lets the pending generator go */
static hcs_clock_t *manual_clock;
static hcs_buf_t *shared_raw;

static void reset(void) {
  atomic_store(&closes, 0);
  atomic_store(&last_reason, -1);
  atomic_store(&bad_pulls, 0);
  atomic_store(&gen_release, 0);
  hcs_stream_unref(atomic_exchange(&handed_stream, NULL));
  hcs_waker_unref(atomic_exchange(&handed_waker, NULL));
}

static void on_close(hcs_response_t *res, hcs_close_reason_t why, void *ud) {
  (void)res;
  free(ud);
  atomic_store(&last_reason, (int)why);
  atomic_fetch_add(&closes, 1);
}

static void wait_closes(int n) {
  TN_WAIT_UNTIL(atomic_load(&closes) >= n, TN_WAIT_MS);
  assert_int_equal(atomic_load(&closes), n);
}

/* ---- generators ----------------------------------------------------------- */

typedef struct {
  int i;       /* pulls so far */
  int mode;    /* what the generator does, see gen() */
  bool ended;  /* returned END or an error */
} gen_state_t;

enum { GEN_THREE, GEN_FAIL, GEN_INVALID, GEN_PENDING };

/* GEN_THREE: three events, then END. GEN_FAIL: one event, then HCS_EIO.
 * GEN_INVALID: one event, then one with a newline in its id.
 * GEN_PENDING: PENDING (handing out a waker) until released, then one event
 * and END. */
static int gen(hcs_response_t *res, hcs_sse_event_t *out, void *ud) {
  gen_state_t *g = ud;
  if (g->ended)
    atomic_fetch_add(&bad_pulls, 1);
  int i = g->i++;
  if (g->mode == GEN_PENDING) {
    if (!atomic_load(&gen_release)) {
      if (atomic_load(&handed_waker) == NULL)
        atomic_store(&handed_waker, hcs_response_waker(res));
      return HCS_SSE_PENDING;
    }
    if (atomic_load(&gen_release) == 1) {
      atomic_store(&gen_release, 2);
      out->data = hcs_str_c("released");
      return HCS_SSE_NEXT;
    }
    g->ended = true;
    return HCS_SSE_END;
  }
  if (i == 0) {
    out->event_type = hcs_str_c("add");
    out->id = hcs_str_c("1");
    out->retry = 2500;
    out->data = hcs_str_c("a\nb");
    return HCS_SSE_NEXT;
  }
  if (g->mode == GEN_FAIL) {
    g->ended = true;
    return HCS_EIO;
  }
  if (g->mode == GEN_INVALID) {
    out->id = hcs_str_c("2\nevent: evil");
    out->data = hcs_str_c("never");
    g->ended = true; /* the library must not pull after this */
    return HCS_SSE_NEXT;
  }
  if (i < 3) {
    out->data = i == 1 ? hcs_str_c("") : hcs_str_c("x\r\ny");
    return HCS_SSE_NEXT;
  }
  g->ended = true;
  return HCS_SSE_END;
}

static const char three_events[] = "event: add\nid: 1\nretry: 2500\n"
                                   "data: a\ndata: b\n\n"
                                   "data: \n\n"
                                   "data: x\ndata: y\n\n";

/* GET /gen?mode=N[&flush=1] */
static hcs_response_t *h_gen(hcs_request_t *req, void *ud) {
  (void)ud;
  hcs_str_t mode = {0}, flush = {0};
  (void)hcs_request_query_param(req, "mode", &mode);
  (void)hcs_request_query_param(req, "flush", &flush);
  gen_state_t *g = calloc(1, sizeof(*g));
  if (g == NULL)
    return NULL;
  g->mode = mode.len ? mode.base[0] - '0' : GEN_THREE;
  hcs_sse_options_t o = {.flush_headers_immediately = flush.len > 0,
                         .on_close = on_close,
                         .ud = g};
  hcs_response_t *res;
  if (hcs_sse_respond(&res, &o, gen) < 0) {
    free(g);
    return NULL;
  }
  return res;
}

/* Raw: "id: 5\n\n" (a block without data), the shared buffer three times,
 * then END. */
static int raw_gen(hcs_response_t *res, hcs_buf_t **out, void *ud) {
  (void)res;
  int *i = ud;
  int n = (*i)++;
  if (n == 0)
    return hcs_buf_copy(out, "id: 5\n\n", 7) < 0 ? HCS_ENOMEM : HCS_SSE_NEXT;
  if (n <= 3) {
    *out = hcs_buf_ref(shared_raw);
    return HCS_SSE_NEXT;
  }
  return HCS_SSE_END;
}

static hcs_response_t *h_raw(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  int *i = calloc(1, sizeof(*i));
  hcs_sse_options_t o = {.on_close = on_close, .ud = i};
  hcs_response_t *res;
  if (i == NULL || hcs_sse_respond_raw(&res, &o, raw_gen) < 0) {
    free(i);
    return NULL;
  }
  return res;
}

/* GET /stream[?raw=1|heartbeat=1]: a stream of capacity 4, handed out. */
static hcs_response_t *h_stream(hcs_request_t *req, void *ud) {
  (void)ud;
  hcs_str_t raw = {0}, hb = {0};
  (void)hcs_request_query_param(req, "raw", &raw);
  (void)hcs_request_query_param(req, "heartbeat", &hb);
  hcs_stream_t *s;
  if (hcs_stream_new(&s, 4,
                     raw.len ? hcs_buf_unref_item : hcs_sse_event_free_item) < 0)
    return NULL;
  hcs_sse_options_t o = {.flush_headers_immediately = true,
                         .on_close = on_close};
  hcs_response_t *res = NULL;
  int err;
  if (raw.len)
    err = hcs_sse_respond_raw_stream(&res, &o, s);
  else if (hb.len)
    err = hcs_sse_respond_with_heartbeat(&res, &o, manual_clock, 15.0, s);
  else
    err = hcs_sse_respond_with_stream(&res, &o, s);
  if (err < 0) {
    hcs_stream_unref(s);
    return NULL;
  }
  hcs_stream_unref(atomic_exchange(&handed_stream, s)); /* ours passes on */
  return res;
}

static hcs_response_t *h_hello(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  return tn_text(200, "hello", 5);
}

static const tn_route_t routes[] = {
    {"GET", "/gen", 0, h_gen, NULL},
    {"GET", "/raw", 0, h_raw, NULL},
    {"GET", "/stream", 0, h_stream, NULL},
    {"GET", "/hello", 0, h_hello, NULL},
};

/* ---- fixture ------------------------------------------------------------- */

static tn_server_t server;

static int setup(void **state) {
  reset();
  if (hcs_clock_manual_new(&manual_clock, 1000.0) < 0)
    return -1;
  if (tn_server_start(&server, NULL, routes, sizeof routes / sizeof *routes) <
      0)
    return -1;
  *state = &server;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  atomic_store(&gen_release, 1);
  hcs_waker_t *w = atomic_load(&handed_waker);
  if (w)
    hcs_waker_wake(w);
  int rc = tn_server_free(&server, TN_WAIT_MS * 2);
  tn_cleanup();
  reset();
  hcs_clock_free(manual_clock);
  manual_clock = NULL;
  return rc;
}

/* ---- helpers -------------------------------------------------------------- */

static tn_conn_t *get(int port, const char *target) {
  tn_conn_t *c = tn_connect(port);
  assert_non_null(c);
  assert_int_equal(
      tn_sendf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", target), 0);
  return c;
}

static void expect_sse_head(const tn_response_t *r) {
  assert_int_equal(r->status, 200);
  assert_string_equal(tn_header(r, "Content-Type"), "text/event-stream");
  assert_string_equal(tn_header(r, "Cache-Control"), "no-cache");
  assert_string_equal(tn_header(r, "X-Accel-Buffering"), "no");
  assert_null(tn_header(r, "Content-Length"));
  assert_null(tn_header(r, "Content-Encoding"));
}

static void read_full(tn_conn_t *c, tn_response_t *r) {
  int rc = tn_read_response(c, r, 0, TN_WAIT_MS);
  if (rc != 0)
    print_error("read_response: %d; body so far: %.300s\n", rc,
                r->body ? r->body : "");
  assert_int_equal(rc, 0);
  expect_sse_head(r);
}

/* The connection still serves a plain request afterwards. */
static void expect_reusable(tn_conn_t *c) {
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  tn_response_t r;
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_string_equal(r.body, "hello");
  tn_response_free(&r);
}

/* Wait until the handler handed out its stream, and take a reference. */
static hcs_stream_t *stream_of_handler(void) {
  TN_WAIT_UNTIL(atomic_load(&handed_stream) != NULL, TN_WAIT_MS);
  hcs_stream_t *s = atomic_exchange(&handed_stream, NULL);
  assert_non_null(s);
  return s;
}

static void push_event(hcs_stream_t *s, const char *data) {
  hcs_sse_event_t *ev;
  assert_int_equal(hcs_sse_event(&ev, data, strlen(data)), 0);
  assert_int_equal(hcs_stream_try_push(s, ev), 0);
}

/* Read until `needle` is in the buffer and return the bytes up to its end,
 * consuming them. Fails on timeout. */
static void expect_bytes(tn_conn_t *c, const char *needle) {
  int rc = tn_wait_bytes(c, needle, TN_WAIT_MS);
  if (rc != 0)
    print_error("waiting for \"%s\": %d; have %zu bytes: %.200s\n", needle, rc,
                c->len, c->buf ? c->buf : "");
  assert_int_equal(rc, 0);
  char *at = memmem(c->buf, c->len, needle, strlen(needle));
  tn_consume(c, (size_t)(at - c->buf) + strlen(needle));
}

/* Nothing arrives for 200 ms. (It cannot make a correct server fail.) */
static void expect_silence(tn_conn_t *c) {
  size_t before = c->len;
  assert_int_equal(tn_fill(c, 200), -ETIMEDOUT);
  assert_int_equal(c->len, before);
}

/* ---- cases: generators --------------------------------------------------- */

static void gen_events_then_end(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = get(ts->port, "/gen");
  tn_response_t r;
  read_full(c, &r);
  assert_int_equal(r.framing, TN_BODY_CHUNKED);
  assert_true(r.last_chunk);
  assert_string_equal(tn_header(&r, "Connection"), "keep-alive");
  assert_int_equal(r.body_len, sizeof three_events - 1);
  assert_memory_equal(r.body, three_events, sizeof three_events - 1);
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_FINISHED);
  expect_reusable(c);
  assert_int_equal(atomic_load(&bad_pulls), 0);
  tn_close(c);
}

static void gen_error_ends_cleanly(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = get(ts->port, "/gen?mode=1");
  tn_response_t r;
  read_full(c, &r);
  assert_true(r.last_chunk);
  assert_string_equal(r.body, "event: add\nid: 1\nretry: 2500\n"
                              "data: a\ndata: b\n\n");
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_ERROR);
  expect_reusable(c);
  assert_int_equal(atomic_load(&bad_pulls), 0);
  tn_close(c);
}

static void gen_invalid_event_never_reaches_wire(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = get(ts->port, "/gen?mode=2");
  tn_response_t r;
  read_full(c, &r);
  assert_true(r.last_chunk);
  assert_null(strstr(r.body, "evil"));
  assert_null(strstr(r.body, "never"));
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_ERROR);
  expect_reusable(c);
  assert_int_equal(atomic_load(&bad_pulls), 0);
  tn_close(c);
}

static void gen_pending_until_woken(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = get(ts->port, "/gen?mode=3&flush=1");
  /* flush_headers_immediately: the head arrives while the generator waits. */
  expect_bytes(c, "\r\n\r\n");
  TN_WAIT_UNTIL(atomic_load(&handed_waker) != NULL, TN_WAIT_MS);
  assert_non_null(atomic_load(&handed_waker));
  assert_int_equal(atomic_load(&closes), 0);
  atomic_store(&gen_release, 1);
  hcs_waker_wake(atomic_load(&handed_waker));
  expect_bytes(c, "data: released\n\n");
  expect_bytes(c, "0\r\n\r\n");
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_FINISHED);
  tn_close(c);
}

static void gen_head_waits_for_first_event_by_default(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = get(ts->port, "/gen?mode=3");
  TN_WAIT_UNTIL(atomic_load(&handed_waker) != NULL, TN_WAIT_MS);
  assert_non_null(atomic_load(&handed_waker));
  /* The generator is pending and nothing was flushed: no bytes yet. */
  expect_silence(c);
  assert_int_equal(c->len, 0);
  atomic_store(&gen_release, 1);
  hcs_waker_wake(atomic_load(&handed_waker));
  tn_response_t r;
  read_full(c, &r);
  assert_string_equal(r.body, "data: released\n\n");
  tn_response_free(&r);
  tn_close(c);
}

static void raw_generator_passthrough_shared(void **state) {
  tn_server_t *ts = *state;
  static const char msg[] = "event: tick\ndata: shared\n\n";
  assert_int_equal(hcs_buf_copy(&shared_raw, msg, sizeof msg - 1), 0);
  enum { N = 3 };
  tn_conn_t *cs[N];
  for (int i = 0; i < N; i++)
    cs[i] = get(ts->port, "/raw");
  for (int i = 0; i < N; i++) {
    tn_response_t r;
    read_full(cs[i], &r);
    assert_true(r.last_chunk);
    char want[256];
    snprintf(want, sizeof want, "id: 5\n\n%s%s%s", msg, msg, msg);
    assert_string_equal(r.body, want);
    tn_response_free(&r);
    tn_close(cs[i]);
  }
  wait_closes(N);
  /* Every reference the responses took is gone again. */
  TN_WAIT_UNTIL(atomic_load(&shared_raw->refs) == 1, TN_WAIT_MS);
  assert_int_equal(atomic_load(&shared_raw->refs), 1);
  hcs_buf_unref(shared_raw);
  shared_raw = NULL;
}

/* ---- cases: streams ------------------------------------------------------ */

static void stream_close_drains_then_ends(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = get(ts->port, "/stream");
  hcs_stream_t *s = stream_of_handler();
  push_event(s, "one");
  push_event(s, "two");
  push_event(s, "three");
  hcs_stream_close(s);
  hcs_sse_event_t *late;
  assert_int_equal(hcs_sse_event(&late, "late", 4), 0);
  assert_int_equal(hcs_stream_try_push(s, late), HCS_ECLOSED);
  hcs_sse_event_free(late);
  tn_response_t r;
  read_full(c, &r);
  assert_true(r.last_chunk);
  assert_string_equal(r.body, "data: one\n\ndata: two\n\ndata: three\n\n");
  tn_response_free(&r);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_FINISHED);
  assert_false(hcs_stream_cancelled(s));
  expect_reusable(c);
  hcs_stream_unref(s);
  tn_close(c);
}

static void raw_stream_shares_buffers(void **state) {
  tn_server_t *ts = *state;
  hcs_buf_t *b;
  assert_int_equal(hcs_buf_copy(&b, "data: x\n\n", 9), 0);
  tn_conn_t *c = get(ts->port, "/stream?raw=1");
  hcs_stream_t *s = stream_of_handler();
  for (int i = 0; i < 3; i++)
    assert_int_equal(hcs_stream_try_push(s, hcs_buf_ref(b)), 0);
  hcs_stream_close(s);
  tn_response_t r;
  read_full(c, &r);
  assert_string_equal(r.body, "data: x\n\ndata: x\n\ndata: x\n\n");
  tn_response_free(&r);
  wait_closes(1);
  TN_WAIT_UNTIL(atomic_load(&b->refs) == 1, TN_WAIT_MS);
  assert_int_equal(atomic_load(&b->refs), 1);
  hcs_buf_unref(b);
  hcs_stream_unref(s);
  tn_close(c);
}

static void stream_delivers_every_accepted_event(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = get(ts->port, "/stream");
  hcs_stream_t *s = stream_of_handler();
  /* Push until the stream is full (or 1000 times): what was accepted is
   * exactly what arrives, and the queue never exceeds its capacity. */
  assert_int_equal(hcs_stream_capacity(s), 4);
  int accepted = 0, full = 0;
  for (int i = 0; i < 1000 && full == 0; i++) {
    hcs_sse_event_t *ev;
    assert_int_equal(hcs_sse_event(&ev, "f", 1), 0);
    int rc = hcs_stream_try_push(s, ev);
    if (rc == HCS_EAGAIN) {
      full++;
      hcs_sse_event_free(ev); /* still ours */
    } else {
      assert_int_equal(rc, 0);
      accepted++;
    }
    assert_true(hcs_stream_length(s) <= 4);
  }
  hcs_stream_close(s);
  tn_response_t r;
  read_full(c, &r);
  assert_int_equal(tn_count(r.body, r.body_len, "data: f\n\n"),
                   (size_t)accepted);
  tn_response_free(&r);
  hcs_stream_unref(s);
  tn_close(c);
}

/* A feeder thread pushes numbered events until its stream refuses them. */
typedef struct {
  hcs_stream_t *s;
  atomic_int pushed, stop_rc;
} feeder_t;

static void *feeder_main(void *arg) {
  feeder_t *f = arg;
  int64_t deadline = tn_now_ms() + 2 * TN_WAIT_MS;
  for (int i = 0; tn_now_ms() < deadline; i++) {
    char data[32];
    int n = snprintf(data, sizeof data, "n%d", i);
    hcs_sse_event_t *ev;
    if (hcs_sse_event(&ev, data, (size_t)n) < 0)
      break;
    int rc = hcs_stream_push(f->s, ev); /* waits for room: not a loop thread */
    if (rc < 0) {
      hcs_sse_event_free(ev);
      atomic_store(&f->stop_rc, rc);
      return NULL;
    }
    atomic_fetch_add(&f->pushed, 1);
  }
  return NULL;
}

static void stream_cancel_on_disconnect_while_fed(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = get(ts->port, "/stream");
  feeder_t f = {.s = stream_of_handler()};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, feeder_main, &f), 0);
  expect_bytes(c, "data: n10\n\n");
  tn_abort(c); /* reset: the client is gone mid-stream */
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_PEER_GONE);
  pthread_join(t, NULL);
  assert_int_equal(atomic_load(&f.stop_rc), HCS_ECLOSED);
  assert_true(hcs_stream_cancelled(f.s));
  assert_int_equal(hcs_stream_length(f.s), 0);
  hcs_stream_unref(f.s);
  tn_sleep_ms(50);
  assert_int_equal(atomic_load(&closes), 1); /* exactly once */
}

static void stream_cancel_on_shutdown(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = get(ts->port, "/stream");
  hcs_stream_t *s = stream_of_handler();
  push_event(s, "before");
  expect_bytes(c, "data: before\n\n");
  push_event(s, "queued"); /* may or may not be sent before the stop */
  assert_int_equal(tn_server_stop(ts, TN_WAIT_MS), 0);
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_SHUTDOWN);
  hcs_sse_event_t *ev;
  assert_int_equal(hcs_sse_event(&ev, "after", 5), 0);
  assert_int_equal(hcs_stream_try_push(s, ev), HCS_ECLOSED);
  hcs_sse_event_free(ev);
  hcs_stream_unref(s);
  tn_close(c);
}

/* ---- cases: heartbeat ---------------------------------------------------- */

static void heartbeat_follows_manual_clock(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = get(ts->port, "/stream?heartbeat=1");
  hcs_stream_t *s = stream_of_handler();
  expect_bytes(c, "\r\n\r\n"); /* flushed head */
  /* The response has been pulled once (it flushed), so its alarm is set. */
  assert_int_equal(hcs_clock_manual_advance(manual_clock, 14.0), 0);
  expect_silence(c); /* not yet: nothing arrives */
  assert_int_equal(hcs_clock_manual_advance(manual_clock, 1.0), 0);
  expect_bytes(c, "3\r\n:\n\n\r\n"); /* one chunk holding ":\n\n" */
  /* An event resets the idle time. */
  push_event(s, "tick");
  expect_bytes(c, "data: tick\n\n");
  assert_int_equal(hcs_clock_manual_advance(manual_clock, 10.0), 0);
  expect_silence(c);
  assert_int_equal(hcs_clock_manual_advance(manual_clock, 5.0), 0);
  expect_bytes(c, ":\n\n");
  /* Another full interval, another heartbeat. */
  assert_int_equal(hcs_clock_manual_advance(manual_clock, 15.0), 0);
  expect_bytes(c, ":\n\n");
  assert_int_equal(atomic_load(&closes), 0);
  hcs_stream_close(s);
  expect_bytes(c, "0\r\n\r\n");
  wait_closes(1);
  assert_int_equal(atomic_load(&last_reason), HCS_CLOSE_FINISHED);
  hcs_stream_unref(s);
  tn_close(c);
}

/* ---- cases: HTTP/1.0 -------------------------------------------------------- */

static void http10_close_delimited_without_keepalive(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /gen HTTP/1.0\r\n\r\n"), 0);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  char *body = strstr(c->buf, "\r\n\r\n");
  assert_non_null(body);
  *body = '\0';
  assert_non_null(strstr(c->buf, "Content-Type: text/event-stream\r\n"));
  assert_null(strstr(c->buf, "keep-alive"));
  assert_null(strstr(c->buf, "Transfer-Encoding"));
  assert_string_equal(body + 4, three_events);
  wait_closes(1);
  tn_close(c);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(gen_events_then_end),
      T(gen_error_ends_cleanly),
      T(gen_invalid_event_never_reaches_wire),
      T(gen_pending_until_woken),
      T(gen_head_waits_for_first_event_by_default),
      T(raw_generator_passthrough_shared),
      T(stream_close_drains_then_ends),
      T(raw_stream_shares_buffers),
      T(stream_delivers_every_accepted_event),
      T(stream_cancel_on_disconnect_while_fed),
      T(stream_cancel_on_shutdown),
      T(heartbeat_follows_manual_clock),
      T(http10_close_delimited_without_keepalive),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
