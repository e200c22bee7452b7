/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_server_post.c: hcs_server_post (tasks run on a
 * worker's loop thread, in order, exactly once; refused once the worker is
 * gone) and wakes made on a worker's own thread (a task on the response's
 * worker pushes into its stream: the response must resume without the
 * cross-thread path).
 * Run one case: ./test_server_post <case-name-glob>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hcs/sse.h"
#include "testnet.h"

#define TASKS 1000

static atomic_int ran, wrong_thread, out_of_order, cancelled;
static int next_expected[8]; /* per worker: the sequence number due next */
static _Atomic(hcs_stream_t *) handed_stream;
static atomic_int handed_worker = -1;

typedef struct {
  int worker, seq;
} task_arg_t;

static void task(void *arg, int status) {
  task_arg_t *a = arg;
  if (status == HCS_ECANCELED) {
    atomic_fetch_add(&cancelled, 1);
  } else {
    if (hcs_worker_index() != a->worker)
      atomic_fetch_add(&wrong_thread, 1);
    /* Only this worker's thread touches its slot. */
    if (next_expected[a->worker] != a->seq)
      atomic_fetch_add(&out_of_order, 1);
    next_expected[a->worker] = a->seq + 1;
    atomic_fetch_add(&ran, 1);
  }
  free(a);
}

/* GET /stream: an event stream whose stream and worker are handed out. */
static hcs_response_t *h_stream(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  hcs_stream_t *s;
  if (hcs_stream_new(&s, 8, hcs_sse_event_free_item) < 0)
    return NULL;
  hcs_response_t *res;
  if (hcs_sse_respond_with_stream(&res, NULL, s) < 0) {
    hcs_stream_unref(s);
    return NULL;
  }
  atomic_store(&handed_worker, hcs_worker_index());
  atomic_store(&handed_stream, s);
  return res;
}

static const tn_route_t routes[] = {{"GET", "/stream", 0, h_stream, NULL}};

static tn_server_t server;

static int setup(void **state) {
  atomic_store(&ran, 0);
  atomic_store(&wrong_thread, 0);
  atomic_store(&out_of_order, 0);
  atomic_store(&cancelled, 0);
  atomic_store(&handed_worker, -1);
  memset(next_expected, 0, sizeof next_expected);
  if (tn_server_start(&server, NULL, routes, 1) < 0)
    return -1;
  *state = &server;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int rc = tn_server_free(&server, TN_WAIT_MS * 2);
  tn_cleanup();
  hcs_stream_unref(atomic_exchange(&handed_stream, NULL));
  return rc;
}

static void tasks_run_in_order_on_their_worker(void **state) {
  tn_server_t *ts = *state;
  unsigned n = hcs_server_worker_count(ts->srv);
  assert_true(n >= 1 && n <= 8);
  assert_int_equal(hcs_worker_index(), -1); /* the test thread is not one */
  for (int i = 0; i < TASKS; i++) {
    task_arg_t *a = malloc(sizeof(*a));
    assert_non_null(a);
    a->worker = i % (int)n;
    a->seq = i / (int)n;
    assert_int_equal(hcs_server_post(ts->srv, (unsigned)a->worker, task, a),
                     0);
  }
  TN_WAIT_UNTIL(atomic_load(&ran) == TASKS, TN_WAIT_MS);
  assert_int_equal(atomic_load(&ran), TASKS);
  assert_int_equal(atomic_load(&wrong_thread), 0);
  assert_int_equal(atomic_load(&out_of_order), 0);
  assert_int_equal(hcs_server_post(ts->srv, n, task, NULL), HCS_EINVAL);
  assert_int_equal(hcs_server_post(ts->srv, 0, NULL, NULL), HCS_EINVAL);
}

static void post_after_stop_is_refused(void **state) {
  tn_server_t *ts = *state;
  assert_int_equal(tn_server_stop(ts, TN_WAIT_MS), 0);
  task_arg_t a = {0, 0};
  assert_int_equal(hcs_server_post(ts->srv, 0, task, &a), HCS_ECLOSED);
  assert_int_equal(atomic_load(&ran), 0);
}

/* Push one event from a task on the stream's own worker. */
static void push_here(void *arg, int status) {
  hcs_stream_t *s = arg;
  if (status == 0) {
    hcs_sse_event_t *ev;
    if (hcs_sse_event(&ev, "local", 5) == 0 && hcs_stream_try_push(s, ev) < 0)
      hcs_sse_event_free(ev);
    if (hcs_worker_index() == atomic_load(&handed_worker))
      atomic_fetch_add(&ran, 1);
  }
  hcs_stream_unref(s);
}

static void wake_from_own_worker_resumes_stream(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  TN_WAIT_UNTIL(atomic_load(&handed_stream) != NULL, TN_WAIT_MS);
  hcs_stream_t *s = atomic_load(&handed_stream);
  assert_non_null(s);
  int w = atomic_load(&handed_worker);
  assert_true(w >= 0);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(
        hcs_server_post(ts->srv, (unsigned)w, push_here, hcs_stream_ref(s)), 0);
    char want[32];
    snprintf(want, sizeof want, "data: local\n\n");
    assert_int_equal(tn_wait_bytes(c, want, TN_WAIT_MS), 0);
    tn_consume(c, c->len);
  }
  assert_int_equal(atomic_load(&ran), 3);
  tn_close(c);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(tasks_run_in_order_on_their_worker),
      T(post_after_stop_is_refused),
      T(wake_from_own_worker_resumes_stream),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
