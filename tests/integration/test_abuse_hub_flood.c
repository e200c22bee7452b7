/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_abuse_hub_flood.c: a publisher floods the hcs-hub
 * binary while most subscribers have stopped reading.
 *
 * FAST subscribers read everything; SLOW subscribers (SO_RCVBUF 4 KiB) join
 * one after another during the first half of the flood, read their
 * response head and then nothing, so each stalls at a different point and
 * their queues share no update (the worst case for memory). The publisher
 * sends updates of MSG bytes in pipelined batches and, after each batch,
 * the fast subscribers are read up to date. Per policy
 * (--slow-consumer-policy):
 *
 *  - close: every slow subscriber is closed and counted exactly once in
 *    hcs_hub_slow_consumer_closes_total; none of its updates is counted as
 *    dropped; hcs_hub_subscribers falls to FAST;
 *  - drop: every slow subscriber stays; hcs_hub_dropped_total moves; a slow
 *    subscriber that reads at last gets increasing ids ending with the last
 *    update (the oldest were dropped, not the newest);
 *
 * and in both, the fast subscribers receive every update, in order, intact,
 * and the hub's peak RSS (VmHWM) stays under
 *
 *   RSS before the flood
 *   + (SLOW + FAST) x (max_unsent_bytes + 64 KiB + slow-consumer-bytes
 *                      + 2 x one update's wire size)
 *   + 8 MiB (allocator slack, the publisher's request buffers)
 *
 * the bound docs/security.md states: the write queue stops pulling at
 * max_unsent_bytes (the library's default, 1 MiB: the hub does not change
 * it) and one pull adds at most 64 KiB and an event; the subscriber's queue
 * holds at most --slow-consumer-bytes, or one update when empty; --history 0
 * keeps no history. Socket buffers are kernel memory, not in RSS. The flood is
 * several times that bound, so a hub that queued without limit for its
 * stalled subscribers would exceed it. Under sanitizers the RSS bound is
 * not checked (their allocators inflate RSS) and the flood is smaller.
 *
 * Run one case: ./test_abuse_hub_flood <case-name-glob>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testhub.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define SLOW 16
#define FAST 2
#define MSG 16384              /* data bytes per update */
#define SLOW_BYTES 65536       /* --slow-consumer-bytes */
#define MAX_UNSENT (1u << 20)  /* the library's default max_unsent_bytes */
#define PULL_BYTES (64u << 10) /* what one SSE pull may add past it */
/* Updates per pipelined batch: a batch is delivered to a subscriber in one
 * loop turn, so it stays within SLOW_BYTES here; the burst case below shows
 * what happens past it. */
#define BATCH 2
#define BURST 8 /* updates per burst: 128 KiB, twice SLOW_BYTES */
#define FLOOD_BYTES (SANITIZED ? (16u << 20) : (64u << 20))
#define UPDATES (FLOOD_BYTES / MSG)
#define STOP_MS 20000

static th_hub_t hub;
static char token[1024];

static int teardown(void **state) {
  (void)state;
  tn_cleanup();
  th_hub_cleanup(&hub);
  return 0;
}

typedef struct {
  tn_conn_t *c;
  th_sse_t s;
  unsigned next; /* the next update expected (fast ones) */
  bool broken;
} sub_t;

static sub_t fast[FAST], slow[SLOW];

static void open_sub(sub_t *sub, int rcvbuf) {
  memset(sub, 0, sizeof(*sub));
  sub->c = tn_connect_rcvbuf(hub.port, rcvbuf);
  assert_non_null(sub->c);
  th_sse_init(&sub->s, sub->c);
  assert_int_equal(th_subscribe_send(sub->c, "topic=flood"), 0);
  assert_int_equal(th_sse_wait_head(&sub->s, TN_WAIT_MS), 0);
  assert_int_equal(sub->s.status, 200);
}

static char letter(unsigned i) {
  return (char)('a' + i % 26);
}

/* Read a fast subscriber until it has update `upto` - 1, checking each:
 * id "f<i>" in order, MSG bytes of letter(i). */
static void read_fast(sub_t *sub, unsigned upto) {
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  while (sub->next < upto && !sub->broken) {
    th_event_t ev;
    while (sub->next < upto && th_sse_next(&sub->s, &ev)) {
      if (ev.comment)
        continue;
      char want[32];
      snprintf(want, sizeof want, "f%u", sub->next);
      if (strcmp(ev.id, want) != 0 || ev.data_len != MSG ||
          ev.data[0] != letter(sub->next) ||
          ev.data[MSG - 1] != letter(sub->next)) {
        print_message("fast subscriber: expected %s (%d bytes of '%c'), got id "
                      "\"%s\" with %zu bytes\n",
                      want, MSG, letter(sub->next), ev.id, ev.data_len);
        sub->broken = true;
        return;
      }
      sub->next++;
    }
    if (sub->next >= upto)
      return;
    int left = (int)(deadline - tn_now_ms());
    if (left <= 0) {
      print_message("fast subscriber: waited for f%u in vain\n", sub->next);
      sub->broken = true;
      return;
    }
    int rc = th_sse_pump(&sub->s, left);
    if (rc == 0 || rc == -EPROTO) {
      print_message("fast subscriber: stream ended (%d) before f%u\n", rc,
                    sub->next);
      sub->broken = true;
    }
  }
}

static void flood(const char *policy) {
  char slow_bytes[32];
  snprintf(slow_bytes, sizeof slow_bytes, "%d", SLOW_BYTES);
  const char *args[] = {"--dev",    "--workers",
                        "2",        "--heartbeat",
                        "0",        "--history",
                        "0",        "--slow-consumer-bytes",
                        slow_bytes, "--slow-consumer-policy",
                        policy,     NULL};
  assert_int_equal(th_hub_startv(&hub, 0, args), 0);
  assert_int_equal(th_dev_token(hub.port, token, sizeof token), 0);

  for (int i = 0; i < FAST; i++)
    open_sub(&fast[i], 0);
  uint64_t v;
  assert_int_equal(
      th_metric_wait(hub.port, "hcs_hub_subscribers", FAST, TN_WAIT_MS, &v), 0);
  tn_sleep_ms(100);
  long rss0 = th_proc_kib(hub.pid, "VmRSS");
  assert_true(rss0 > 0);
  /* The stalled subscribers join one after another during the first half
   * of the flood, so that each stalls at a different point and holds
   * updates of its own: the worst case for memory, where nothing is
   * shared between their queues. */
  int joined = 0;
  const unsigned join_every = (UPDATES / 2 / SLOW) / BATCH * BATCH;

  char *data = malloc(MSG);
  assert_non_null(data);
  tn_conn_t *pub = tn_connect(hub.port);
  assert_non_null(pub);
  long rss_max = rss0;
  int64_t t0 = tn_now_ms();
  for (unsigned b = 0; b < UPDATES; b += BATCH) {
    if (joined < SLOW && b == (unsigned)joined * join_every)
      open_sub(&slow[joined++], 4096);
    for (unsigned i = b; i < b + BATCH; i++) {
      char id[32];
      snprintf(id, sizeof id, "f%u", i);
      memset(data, letter(i), MSG);
      assert_int_equal(th_publish_send(pub, token, "flood", id, data, MSG), 0);
    }
    for (unsigned i = b; i < b + BATCH; i++) {
      int st = th_publish_read(pub);
      if (st != 200)
        print_message("publish f%u: %d\n", i, st);
      assert_int_equal(st, 200);
    }
    for (int k = 0; k < FAST; k++) {
      read_fast(&fast[k], b + BATCH);
      assert_false(fast[k].broken);
    }
    long rss = th_proc_kib(hub.pid, "VmRSS");
    if (rss > rss_max)
      rss_max = rss;
  }
  int64_t t1 = tn_now_ms();
  free(data);
  long hwm = th_proc_kib(hub.pid, "VmHWM");
  long wire = MSG + 64; /* "id: fN\ndata: ...\n\n" */
  long bound = rss0 +
               (long)(SLOW + FAST) *
                   (long)(MAX_UNSENT + PULL_BYTES + SLOW_BYTES + 2 * wire) /
                   1024 +
               8 * 1024;
  uint64_t closes = 0, drops = 0, subs = 0;
  assert_int_equal(
      th_metric(hub.port, "hcs_hub_slow_consumer_closes_total", &closes), 0);
  assert_int_equal(th_metric(hub.port, "hcs_hub_dropped_total", &drops), 0);
  assert_int_equal(th_metric(hub.port, "hcs_hub_subscribers", &subs), 0);
  print_message("policy %s: %u updates of %d bytes (%u MiB) in %.2f s to %d "
                "fast and %d stalled subscribers; VmRSS %ld KiB before, max "
                "sampled %ld KiB, VmHWM %ld KiB, bound %ld KiB%s; metrics: "
                "slow closes %llu, dropped %llu, subscribers %llu\n",
                policy, (unsigned)UPDATES, MSG, FLOOD_BYTES >> 20,
                (double)(t1 - t0) / 1000.0, FAST, SLOW, rss0, rss_max, hwm,
                bound, SANITIZED ? " (not checked: sanitizer build)" : "",
                (unsigned long long)closes, (unsigned long long)drops,
                (unsigned long long)subs);
  assert_int_equal(joined, SLOW);
  for (int k = 0; k < FAST; k++)
    assert_int_equal(fast[k].next, UPDATES);
  if (!SANITIZED)
    assert_true(hwm <= bound);
  tn_close(pub);
}

static void slow_consumers_closed(void **state) {
  (void)state;
  flood("close");
  uint64_t v;
  int rc = th_metric_wait(hub.port, "hcs_hub_slow_consumer_closes_total", SLOW,
                          TN_WAIT_MS, &v);
  if (rc)
    print_message("hcs_hub_slow_consumer_closes_total: %llu, expected %d\n",
                  (unsigned long long)v, SLOW);
  assert_int_equal(rc, 0);
  assert_int_equal(
      th_metric_wait(hub.port, "hcs_hub_subscribers", FAST, TN_WAIT_MS, &v), 0);
  assert_int_equal(th_metric(hub.port, "hcs_hub_dropped_total", &v), 0);
  assert_int_equal(v, 0);
  /* The fast ones are still subscribed and get one more. */
  tn_conn_t *pub = tn_connect(hub.port);
  assert_non_null(pub);
  char data[MSG];
  memset(data, letter(UPDATES), MSG);
  char id[32];
  snprintf(id, sizeof id, "f%u", (unsigned)UPDATES);
  assert_int_equal(th_publish_send(pub, token, "flood", id, data, MSG), 0);
  assert_int_equal(th_publish_read(pub), 200);
  tn_close(pub);
  for (int k = 0; k < FAST; k++) {
    read_fast(&fast[k], UPDATES + 1);
    assert_false(fast[k].broken);
  }
  for (int k = 0; k < FAST; k++)
    th_sse_free(&fast[k].s);
  for (int k = 0; k < SLOW; k++)
    th_sse_free(&slow[k].s);
  tn_cleanup();
  assert_int_equal(
      th_metric_wait(hub.port, "hcs_hub_connections", 1, TN_WAIT_MS, &v), 0);
  int code = th_hub_stop(&hub, STOP_MS);
  assert_int_equal(code, 0);
  assert_false(th_hub_log_has(&hub, "Sanitizer"));
}

static void slow_consumers_dropped(void **state) {
  (void)state;
  flood("drop");
  uint64_t closes = 0, drops = 0, subs = 0;
  assert_int_equal(
      th_metric(hub.port, "hcs_hub_slow_consumer_closes_total", &closes), 0);
  assert_int_equal(th_metric(hub.port, "hcs_hub_dropped_total", &drops), 0);
  assert_int_equal(th_metric(hub.port, "hcs_hub_subscribers", &subs), 0);
  assert_int_equal(closes, 0);
  assert_true(drops > 0);
  assert_int_equal(subs, SLOW + FAST);

  /* One stalled subscriber reads at last: increasing ids, gaps where the
   * oldest were dropped, and the newest update at the end. */
  sub_t *s = &slow[0];
  unsigned got = 0, last = 0;
  bool increasing = true, intact = true;
  char want_last[32];
  snprintf(want_last, sizeof want_last, "f%u", (unsigned)UPDATES - 1);
  int64_t deadline = tn_now_ms() + 3 * TN_WAIT_MS;
  bool done = false;
  while (!done && tn_now_ms() < deadline) {
    th_event_t ev;
    while (th_sse_next(&s->s, &ev)) {
      if (ev.comment)
        continue;
      unsigned i = (unsigned)strtoul(ev.id + 1, NULL, 10);
      if (got > 0 && i <= last)
        increasing = false;
      if (ev.data_len != MSG || ev.data[0] != letter(i))
        intact = false;
      last = i;
      got++;
      done = strcmp(ev.id, want_last) == 0;
    }
    if (!done && th_sse_pump(&s->s, 200) == 0)
      break;
  }
  print_message("the stalled subscriber read %u of %u updates at last; the "
                "last was f%u; in order: %s; intact: %s\n",
                got, (unsigned)UPDATES, last, increasing ? "yes" : "no",
                intact ? "yes" : "no");
  assert_true(done);
  assert_true(increasing);
  assert_true(intact);
  assert_true(got < UPDATES);
  for (int k = 0; k < FAST; k++)
    th_sse_free(&fast[k].s);
  for (int k = 0; k < SLOW; k++)
    th_sse_free(&slow[k].s);
  tn_cleanup();
  uint64_t v;
  assert_int_equal(
      th_metric_wait(hub.port, "hcs_hub_subscribers", 0, TN_WAIT_MS, &v), 0);
  int code = th_hub_stop(&hub, STOP_MS);
  assert_int_equal(code, 0);
  assert_false(th_hub_log_has(&hub, "Sanitizer"));
}

/*
 * A burst bigger than --slow-consumer-bytes, sent while every subscriber
 * is reading and its socket is empty: the subscribers are not slow, so
 * each must receive the whole burst and nobody is closed. (The queue bound
 * is on what piles up behind a slow reader; the library's docs add
 * max_unsent_bytes, 1 MiB, for what the socket has not taken yet.)
 */
static void burst_reaches_fast_subscribers(void **state) {
  (void)state;
  char slow_bytes[32];
  snprintf(slow_bytes, sizeof slow_bytes, "%d", SLOW_BYTES);
  const char *args[] = {"--dev",    "--workers",
                        "2",        "--heartbeat",
                        "0",        "--history",
                        "0",        "--slow-consumer-bytes",
                        slow_bytes, "--slow-consumer-policy",
                        "close",    NULL};
  assert_int_equal(th_hub_startv(&hub, 0, args), 0);
  assert_int_equal(th_dev_token(hub.port, token, sizeof token), 0);
  /* Several subscribers, so that some share the publisher's worker. */
  static sub_t readers[4];
  for (int i = 0; i < 4; i++)
    open_sub(&readers[i], 0);
  uint64_t v;
  assert_int_equal(
      th_metric_wait(hub.port, "hcs_hub_subscribers", 4, TN_WAIT_MS, &v), 0);
  char *data = malloc(MSG);
  assert_non_null(data);
  tn_conn_t *pub = tn_connect(hub.port);
  assert_non_null(pub);
  unsigned sent = 0;
  for (int burst = 0; burst < 4; burst++) {
    for (int i = 0; i < BURST; i++, sent++) {
      char id[32];
      snprintf(id, sizeof id, "f%u", sent);
      memset(data, letter(sent), MSG);
      assert_int_equal(th_publish_send(pub, token, "flood", id, data, MSG), 0);
    }
    for (int i = 0; i < BURST; i++)
      assert_int_equal(th_publish_read(pub), 200);
    for (int k = 0; k < 4; k++)
      read_fast(&readers[k], sent);
  }
  free(data);
  tn_close(pub);
  uint64_t closes = 0;
  assert_int_equal(
      th_metric(hub.port, "hcs_hub_slow_consumer_closes_total", &closes), 0);
  int complete = 0;
  for (int k = 0; k < 4; k++)
    complete += readers[k].next == sent;
  print_message("bursts of %d x %d bytes (%d KiB, --slow-consumer-bytes %d): "
                "%d of 4 reading subscribers received all %u updates; "
                "hcs_hub_slow_consumer_closes_total %llu\n",
                BURST, MSG, BURST * MSG / 1024, SLOW_BYTES, complete, sent,
                (unsigned long long)closes);
  for (int k = 0; k < 4; k++)
    th_sse_free(&readers[k].s);
  assert_int_equal(closes, 0);
  assert_int_equal(complete, 4);
  tn_cleanup();
  assert_int_equal(th_hub_stop(&hub, STOP_MS), 0);
  assert_false(th_hub_log_has(&hub, "Sanitizer"));
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
#define T(fn) cmocka_unit_test_teardown(fn, teardown)
  const struct CMUnitTest tests[] = {
      T(slow_consumers_closed),
      T(slow_consumers_dropped),
      T(burst_reaches_fast_subscribers),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
