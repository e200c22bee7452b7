/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_hive_coalesce.c: messages queued for one
 * subscriber leave together. A task on the worker publishes a burst; the
 * deliveries all run in one turn of the loop, the subscriber's response is
 * woken once, and the burst goes out in a handful of writev calls instead
 * of one per message (counted by the server's `writes` statistic).
 * Run one case: ./test_hive_coalesce <case-name-glob>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "hive/pubsub.h"
#include "hive/sse.h"
#include "testnet.h"

#define BURST 200

static hive_bus_t *bus;
static atomic_int subscribed;

static hcs_response_t *h_events(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  hive_sse_options_t o;
  hive_sse_options_init(&o);
  o.heartbeat_interval = 0;
  const char *topic = "t";
  hcs_response_t *res;
  if (hive_sse_respond(&res, bus, &topic, 1, &o) < 0)
    return NULL;
  atomic_store(&subscribed, 1);
  return res;
}

static const tn_route_t routes[] = {{"GET", "/events", 0, h_events, NULL}};

static tn_server_t server;

static int setup(void **state) {
  hcs_server_config_t cfg;
  tn_config(&cfg);
  cfg.workers = 1;
  atomic_store(&subscribed, 0);
  if (tn_server_start(&server, &cfg, routes, 1) < 0 ||
      hive_bus_new(&bus, server.srv, NULL) < 0)
    return -1;
  *state = &server;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int rc = tn_server_stop(&server, TN_WAIT_MS);
  hive_bus_free(bus);
  bus = NULL;
  rc |= tn_server_free(&server, TN_WAIT_MS);
  tn_cleanup();
  return rc;
}

/* Publish the burst from the worker itself, inside one task. */
static void publish_burst(void *arg, int status) {
  (void)arg;
  if (status != 0)
    return;
  for (int i = 0; i < BURST; i++) {
    char data[32];
    int n = snprintf(data, sizeof data, "m%d", i);
    if (hive_publish(bus, "t", data, (size_t)n) < 0)
      return;
  }
}

static void burst_leaves_in_few_writes(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /events HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  assert_int_equal(tn_wait_bytes(c, "\r\n\r\n", TN_WAIT_MS), 0); /* the head */
  TN_WAIT_UNTIL(atomic_load(&subscribed), TN_WAIT_MS);
  tn_consume(c, c->len);
  uint64_t before = tn_stats(ts).writes;

  assert_int_equal(hcs_server_post(ts->srv, 0, publish_burst, NULL), 0);
  char last[32];
  snprintf(last, sizeof last, "data: m%d\n\n", BURST - 1);
  assert_int_equal(tn_wait_bytes(c, last, TN_WAIT_MS), 0);
  uint64_t writes = tn_stats(ts).writes - before;
  /* Every event arrived, in order, ... */
  for (int i = 0; i < BURST; i++) {
    char want[48];
    snprintf(want, sizeof want, "id: %d\ndata: m%d\n\n", i + 1, i);
    assert_non_null(memmem(c->buf, c->len, want, strlen(want)));
  }
  /* ... in a few writes: one pull takes up to 64 events, and a turn up to
   * 1 MiB, so 200 small events need about 4 chunks and 1-2 writev calls. */
  print_message("%d events in %llu write calls\n", BURST,
                (unsigned long long)writes);
  assert_true(writes >= 1);
  assert_true(writes <= 8);
  tn_close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(burst_leaves_in_few_writes, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
