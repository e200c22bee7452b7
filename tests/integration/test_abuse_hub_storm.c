/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_abuse_hub_storm.c: thousands of subscribers of the
 * hcs-hub binary at once, from several loopback sources (127.0.0.2-9).
 *
 *  - disconnect_storm: ROUNDS rounds of N subscribers. Each round, a tenth
 *    of them reset right after sending their request (before or while the
 *    hub answers); the others open their stream, receive the updates
 *    published so far (they are mid-stream), then vanish while updates keep
 *    flowing: half with a reset (SO_LINGER 0), half with a FIN
 *    (shutdown(SHUT_WR)). After each round hcs_hub_subscribers returns to 0
 *    and hcs_hub_connections to 1 (the /metrics request itself) within a
 *    bounded wait. At the end the hub is alive and exits 0 on SIGTERM: in
 *    the ASan build, that exit code also says LeakSanitizer found nothing
 *    (the log is checked for any sanitizer report too).
 *  - vanish_after_unsolicited_bytes: subscribers that send more than the
 *    head limit after their request, then vanish (reset or FIN) on a quiet
 *    topic with --heartbeat 0: the counters must return to zero all the
 *    same (the hub must not lose sight of a peer it stopped reading);
 *  - shutdown_under_load: N open streams that have received an update, then
 *    SIGTERM: every stream ends cleanly (the last chunk, then the close) and
 *    the hub exits 0 within its shutdown deadline (10 s, the library's
 *    default) plus a margin.
 *
 * Run one case: ./test_abuse_hub_storm <case-name-glob>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "testhub.h"

#define N 2000
#define ROUNDS 3
#define SOURCES 8
#define DEADLINE_MS 20000 /* bound for one phase over all N clients */
#define SHUTDOWN_MS 10000 /* the library's default shutdown deadline */
#define STOP_MS 20000

static th_hub_t hub;
static char token[1024];

typedef struct {
  tn_conn_t *c;
  th_sse_t s;
  unsigned seen; /* updates received */
  bool gone;     /* closed by the test */
  bool fin;      /* half-closed by the test (FIN), fd still held */
} client_t;

static client_t clients[N];

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < N; i++)
    th_sse_free(&clients[i].s);
  memset(clients, 0, sizeof(clients));
  tn_cleanup();
  th_hub_cleanup(&hub);
  return 0;
}

static void start(const char *heartbeat) {
  const char *args[] = {"--dev",   "--workers", "2", "--heartbeat",
                        heartbeat, "--history", "0", NULL};
  assert_int_equal(th_hub_startv(&hub, 0, args), 0);
  assert_int_equal(th_dev_token(hub.port, token, sizeof token), 0);
}

static const char *source(int i) {
  static char src[SOURCES][16];
  int k = i % SOURCES;
  snprintf(src[k], sizeof src[k], "127.0.0.%d", 2 + k);
  return src[k];
}

/* Connect and send the subscription of clients[from, to). Returns how many
 * connected. */
static int connect_all(int from, int to, const char *topic) {
  char q[64];
  snprintf(q, sizeof q, "topic=%s", topic);
  int ok = 0;
  for (int i = from; i < to; i++) {
    client_t *cl = &clients[i];
    memset(cl, 0, sizeof(*cl));
    cl->c = tn_connect_from(source(i), hub.port, 0);
    if (cl->c == NULL) {
      print_message("client %d: connect from %s: %s\n", i, source(i),
                    strerror(errno));
      continue;
    }
    th_sse_init(&cl->s, cl->c);
    if (th_subscribe_send(cl->c, q) == 0)
      ok++;
  }
  return ok;
}

/* Wait until every live client has its head (200). Returns how many. */
static int wait_heads(int from, int to) {
  int64_t deadline = tn_now_ms() + DEADLINE_MS;
  int ok = 0, bad = 0;
  for (int i = from; i < to; i++) {
    client_t *cl = &clients[i];
    if (cl->gone || cl->c == NULL)
      continue;
    int left = (int)(deadline - tn_now_ms());
    int rc = th_sse_wait_head(&cl->s, left > 0 ? left : 0);
    if (rc == 0 && cl->s.status == 200)
      ok++;
    else if (bad++ < 5) /* print the first few only */
      print_message("client %d: head rc %d status %d\n", i, rc, cl->s.status);
  }
  return ok;
}

/* Read every live client until it has seen `want` updates. Returns how
 * many have. */
static int wait_updates(int from, int to, unsigned want) {
  int64_t deadline = tn_now_ms() + DEADLINE_MS;
  int ok = 0;
  for (int i = from; i < to; i++) {
    client_t *cl = &clients[i];
    if (cl->gone || cl->c == NULL)
      continue;
    th_event_t ev;
    while (cl->seen < want) {
      while (cl->seen < want && th_sse_next(&cl->s, &ev))
        cl->seen += !ev.comment;
      if (cl->seen >= want)
        break;
      int left = (int)(deadline - tn_now_ms());
      if (left <= 0)
        break;
      int rc = th_sse_pump(&cl->s, left);
      if (rc == 0 || rc == -EPROTO)
        break;
    }
    ok += cl->seen >= want;
  }
  return ok;
}

static int publish(tn_conn_t *pub, const char *topic, unsigned n) {
  char id[64];
  snprintf(id, sizeof id, "%s-%u", topic, n);
  int rc = th_publish_send(pub, token, topic, id, "storm", 5);
  return rc < 0 ? rc : th_publish_read(pub);
}

static void assert_clean_exit(void) {
  int rc = th_hub_stop(&hub, STOP_MS);
  if (rc != 0 || th_hub_log_has(&hub, "Sanitizer")) {
    print_message("hub exit: %d\n", rc);
    th_hub_print_log(&hub, 60);
  }
  assert_int_equal(rc, 0);
  assert_false(th_hub_log_has(&hub, "Sanitizer"));
}

/* ---- disconnect storm ---------------------------------------------------- */

static void disconnect_storm(void **state) {
  (void)state;
  start("0.25"); /* heartbeats also go to clients that have vanished */
  long rss_first = 0;
  for (int round = 0; round < ROUNDS; round++) {
    char topic[32];
    snprintf(topic, sizeof topic, "storm%d", round);
    int64_t t0 = tn_now_ms();
    int connected = connect_all(0, N, topic);
    assert_int_equal(connected, N);
    /* A tenth vanish at once, their request sent: a reset that races with
     * the hub's answer. */
    int early = 0;
    for (int i = 0; i < N; i += 10) {
      th_sse_free(&clients[i].s);
      tn_abort(clients[i].c);
      clients[i].c = NULL;
      clients[i].gone = true;
      early++;
    }
    int64_t t_conn = tn_now_ms();
    int heads = wait_heads(0, N);
    int64_t t_heads = tn_now_ms();
    assert_int_equal(heads, N - early);
    uint64_t subs = 0;
    int rc = th_metric_wait(hub.port, "hcs_hub_subscribers",
                            (uint64_t)(N - early), DEADLINE_MS, &subs);
    if (rc)
      print_message("round %d: hcs_hub_subscribers %llu, expected %d\n", round,
                    (unsigned long long)subs, N - early);
    assert_int_equal(rc, 0);

    /* Updates flow; everyone is mid-stream. */
    tn_conn_t *pub = tn_connect(hub.port);
    assert_non_null(pub);
    unsigned published = 0;
    for (; published < 3; published++)
      assert_int_equal(publish(pub, topic, published), 200);
    int mid = wait_updates(0, N, published);
    assert_int_equal(mid, N - early);

    /* Vanish, with an update after every 100. */
    int resets = 0, fins = 0;
    for (int i = 0; i < N; i++) {
      client_t *cl = &clients[i];
      if (cl->gone)
        continue;
      if (i % 2) {
        th_sse_free(&cl->s);
        tn_abort(cl->c);
        cl->c = NULL;
        cl->gone = true;
        resets++;
      } else {
        shutdown(cl->c->fd, SHUT_WR);
        cl->fin = true;
        fins++;
      }
      if ((resets + fins) % 100 == 0)
        assert_int_equal(publish(pub, topic, published++), 200);
    }
    tn_close(pub);

    /* Counters return to zero: nobody subscribed, only /metrics connected. */
    rc = th_metric_wait(hub.port, "hcs_hub_subscribers", 0, DEADLINE_MS, &subs);
    uint64_t conns = 0;
    int rc2 =
        th_metric_wait(hub.port, "hcs_hub_connections", 1, DEADLINE_MS, &conns);
    /* The half-closed clients: the hub has closed them, so they read EOF. */
    int fin_closed = 0;
    int64_t fin_deadline = tn_now_ms() + DEADLINE_MS;
    for (int i = 0; i < N; i++) {
      client_t *cl = &clients[i];
      if (!cl->fin)
        continue;
      int left = (int)(fin_deadline - tn_now_ms());
      if (tn_read_eof(cl->c, left > 0 ? left : 0) == 0)
        fin_closed++;
      th_sse_free(&cl->s);
      tn_close(cl->c);
      cl->c = NULL;
      cl->gone = true;
    }
    long rss = th_proc_kib(hub.pid, "VmRSS");
    if (round == 0)
      rss_first = rss;
    print_message("round %d: %d subscribers (%d reset at once), %d updates, "
                  "then %d resets and %d FINs (%d of them closed by the hub); "
                  "subscribers %llu, connections %llu; VmRSS %ld KiB; %.1f s "
                  "(connect %.1f s, heads %.1f s)\n",
                  round, N, early, published, resets, fins, fin_closed,
                  (unsigned long long)subs, (unsigned long long)conns, rss,
                  (double)(tn_now_ms() - t0) / 1000.0,
                  (double)(t_conn - t0) / 1000.0,
                  (double)(t_heads - t_conn) / 1000.0);
    assert_int_equal(rc, 0);
    assert_int_equal(rc2, 0);
    assert_int_equal(fin_closed, fins);
    assert_true(th_hub_alive(&hub));
  }
  print_message("VmRSS after the first round %ld KiB, after the last %ld KiB\n",
                rss_first, th_proc_kib(hub.pid, "VmRSS"));
  assert_int_equal(th_get_status(hub.port, "/healthz", NULL), 200);
  assert_clean_exit();
}

/* ---- vanishing after unsolicited bytes
 * --------------------------------------- */

#define PIPELINERS 40
#define UNSOLICITED 20000 /* more than the hub's head limit (16 KiB) */

/*
 * Subscribers that send bytes after their request (a pipelined request, or
 * junk; SSE clients send nothing) and then vanish, half with a reset, half
 * with a FIN, on a quiet topic with --heartbeat 0: the hub must still notice
 * that they are gone. Counters must return to zero as in the storm.
 */
static void vanish_after_unsolicited_bytes(void **state) {
  (void)state;
  start("0");
  static char junk[UNSOLICITED];
  memset(junk, 'x', sizeof junk);
  assert_int_equal(connect_all(0, PIPELINERS, "quiet"), PIPELINERS);
  assert_int_equal(wait_heads(0, PIPELINERS), PIPELINERS);
  uint64_t v;
  assert_int_equal(th_metric_wait(hub.port, "hcs_hub_subscribers", PIPELINERS,
                                  TN_WAIT_MS, &v),
                   0);
  for (int i = 0; i < PIPELINERS; i++)
    (void)tn_send(clients[i].c, junk, sizeof junk);
  tn_sleep_ms(200); /* let the hub read what it will */
  for (int i = 0; i < PIPELINERS; i++) {
    client_t *cl = &clients[i];
    th_sse_free(&cl->s);
    if (i % 2) {
      tn_abort(cl->c);
    } else {
      shutdown(cl->c->fd, SHUT_WR);
      cl->fin = true;
      continue;
    }
    cl->c = NULL;
    cl->gone = true;
  }
  uint64_t subs = 0, conns = 0;
  int64_t t0 = tn_now_ms();
  int rc =
      th_metric_wait(hub.port, "hcs_hub_subscribers", 0, TN_WAIT_MS, &subs);
  int left = (int)(t0 + TN_WAIT_MS - tn_now_ms());
  int rc2 = th_metric_wait(hub.port, "hcs_hub_connections", 1,
                           left > 0 ? left : 0, &conns);
  print_message(
      "%d subscribers sent %d bytes each after their request, then "
      "vanished (%d resets, %d FINs): after %d ms, hcs_hub_subscribers "
      "%llu, hcs_hub_connections %llu (expected 0 and 1)\n",
      PIPELINERS, UNSOLICITED, PIPELINERS / 2, PIPELINERS / 2, TN_WAIT_MS,
      (unsigned long long)subs, (unsigned long long)conns);
  for (int i = 0; i < PIPELINERS; i++)
    if (clients[i].fin) {
      tn_close(clients[i].c);
      clients[i].c = NULL;
    }
  assert_int_equal(rc, 0);
  assert_int_equal(rc2, 0);
  assert_clean_exit();
}

/* ---- graceful shutdown under load ---------------------------------------- */

static void shutdown_under_load(void **state) {
  (void)state;
  start("0");
  assert_int_equal(connect_all(0, N, "bye"), N);
  assert_int_equal(wait_heads(0, N), N);
  uint64_t subs;
  assert_int_equal(
      th_metric_wait(hub.port, "hcs_hub_subscribers", N, DEADLINE_MS, &subs),
      0);
  tn_conn_t *pub = tn_connect(hub.port);
  assert_non_null(pub);
  assert_int_equal(publish(pub, "bye", 0), 200);
  tn_close(pub);
  assert_int_equal(wait_updates(0, N, 1), N);

  int64_t t0 = tn_now_ms();
  assert_int_equal(kill(hub.pid, SIGTERM), 0);
  /* Every stream ends: the last chunk, then the close. */
  int64_t deadline = t0 + SHUTDOWN_MS + 5000;
  int clean = 0, cut = 0, hung = 0;
  for (int i = 0; i < N; i++) {
    client_t *cl = &clients[i];
    while (!cl->c->eof && !cl->s.bad && tn_now_ms() < deadline)
      (void)th_sse_pump(&cl->s, (int)(deadline - tn_now_ms()));
    (void)th_sse_parse(&cl->s);
    if (!cl->c->eof)
      hung++;
    else if (cl->s.last_chunk && !cl->s.bad && cl->c->len == 0)
      clean++;
    else if (cut++ < 5)
      print_message("client %d: ended without the last chunk (bad %d, %zu "
                    "bytes left)\n",
                    i, cl->s.bad, cl->c->len);
    th_sse_free(&cl->s);
    tn_close(cl->c);
    cl->c = NULL;
  }
  int rc = th_hub_signal_wait(&hub, 0, (int)(deadline - tn_now_ms()));
  int64_t t1 = tn_now_ms();
  print_message("SIGTERM with %d open streams: %d ended cleanly, %d cut, %d "
                "still open; the hub %s after %.2f s (exit %d)\n",
                N, clean, cut, hung, rc == 0 ? "exited" : "still ran",
                (double)(t1 - t0) / 1000.0,
                rc == 0 && WIFEXITED(hub.status) ? WEXITSTATUS(hub.status)
                                                 : -1);
  assert_int_equal(clean, N);
  assert_int_equal(rc, 0);
  assert_true(WIFEXITED(hub.status));
  assert_int_equal(WEXITSTATUS(hub.status), 0);
  assert_true(t1 - t0 < SHUTDOWN_MS + 5000);
  if (th_hub_log_has(&hub, "Sanitizer"))
    th_hub_print_log(&hub, 60);
  assert_false(th_hub_log_has(&hub, "Sanitizer"));
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
#define T(fn) cmocka_unit_test_teardown(fn, teardown)
  const struct CMUnitTest tests[] = {
      T(disconnect_storm),
      T(vanish_after_unsolicited_bytes),
      T(shutdown_under_load),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
