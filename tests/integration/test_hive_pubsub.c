/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_hive_pubsub.c: hive's bus (hive/pubsub.h) on a real
 * hcs server, without HTTP: subscriptions are made and ended by tasks posted
 * to the workers (hcs_server_post), publishers are plain threads.
 *
 * Cases: per-topic order with four publisher threads and subscribers on
 * both workers (same seq -> payload mapping everywhere, wire bytes, exact
 * counters); unsubscribing inside callbacks (itself, another subscription
 * before or after it in the walk, twice); churn of subscriptions on both
 * workers, from tasks and callbacks, while three threads publish; history
 * replay at its edges (newest id, evicted id, unknown id, NULL = all, bounded
 * by count and by bytes, a message too big to keep, custom ids, unsubscribe
 * during the replay) and the no-gap/no-duplicate join, both with deliveries
 * of earlier messages still queued behind the subscribing task and under a
 * concurrent publisher; publishing from callbacks; many topics; argument and
 * thread errors; event fields, routing payloads and empty payloads;
 * subscriptions left at shutdown, freed by hive_bus_free.
 *
 * Callbacks run on worker threads: they record into per-subscription state
 * owned by that worker and publish progress through atomics; the test reads
 * the state after an atomic load (or after a barrier task on the worker),
 * which orders it after the worker's writes. Checks made inside callbacks
 * count failures in `failures` and keep the first message for the report.
 * Run one case: ./test_hive_pubsub <case-name-glob>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive/pubsub.h"
#include "testnet.h"

/* ---- fixture ------------------------------------------------------------- */

static tn_server_t server;
static hive_bus_t *bus;

static atomic_int failures;
static atomic_int first_failure_ready;
static char first_failure[512];

/* A check made on a worker thread: counted, the first one kept. */
static void fail_async(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void fail_async(const char *fmt, ...) {
  if (atomic_fetch_add(&failures, 1) == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(first_failure, sizeof first_failure, fmt, ap);
    va_end(ap);
    atomic_store(&first_failure_ready, 1);
  }
}

#define CHECK(cond, ...)                                                      \
  do {                                                                        \
    if (!(cond))                                                              \
      fail_async(__VA_ARGS__);                                                \
  } while (0)

static void expect_no_failures(void) {
  int n = atomic_load(&failures);
  if (n && atomic_load(&first_failure_ready))
    print_error("%d failed checks on workers; first: %s\n", n, first_failure);
  assert_int_equal(n, 0);
}

static int start_with(const hive_bus_config_t *cfg) {
  atomic_store(&failures, 0);
  atomic_store(&first_failure_ready, 0);
  first_failure[0] = '\0';
  if (tn_server_start(&server, NULL, NULL, 0) < 0)
    return -1;
  if (hcs_server_worker_count(server.srv) != 2)
    return -1;
  if (hive_bus_new(&bus, server.srv, cfg) < 0)
    return -1;
  return 0;
}

static int setup(void **state) {
  (void)state;
  return start_with(NULL);
}

/* History: 5 messages, plenty of bytes. */
static int setup_history(void **state) {
  (void)state;
  hive_bus_config_t cfg;
  hive_bus_config_init(&cfg);
  cfg.history_count = 5;
  cfg.history_bytes = 1u << 20;
  return start_with(&cfg);
}

/* History: many slots, 100 bytes. */
static int setup_history_bytes(void **state) {
  (void)state;
  hive_bus_config_t cfg;
  hive_bus_config_init(&cfg);
  cfg.history_count = 100;
  cfg.history_bytes = 100;
  return start_with(&cfg);
}

/* History large enough that the join test never evicts. */
#define JOIN_MAX_MESSAGES 40000
static int setup_history_join(void **state) {
  (void)state;
  hive_bus_config_t cfg;
  hive_bus_config_init(&cfg);
  cfg.history_count = 65536;
  cfg.history_bytes = 64u << 20;
  return start_with(&cfg);
}

/* The server stops first: no callback runs during hive_bus_free, which
 * also frees whatever subscriptions a test left behind. */
static int teardown(void **state) {
  (void)state;
  int rc = 0;
  /* (Not hcs_server_stop again once stopped: see leftovers_freed_by_bus_free.) */
  if (server.srv && !server.hung && !server.stopped)
    rc = tn_server_stop(&server, TN_WAIT_MS * 2);
  if (rc == 0) {
    hive_bus_free(bus);
  } /* else: the server hung; leave the bus, its workers may still use it */
  bus = NULL;
  int rc2 = tn_server_free(&server, TN_WAIT_MS);
  tn_cleanup();
  return rc < 0 ? rc : rc2;
}

static hive_stats_t stats(void) {
  hive_stats_t st;
  memset(&st, 0xff, sizeof st);
  hive_bus_stats(bus, &st);
  return st;
}

/* ---- running code on a worker ------------------------------------------- */

typedef void (*work_fn)(void *arg);

typedef struct {
  work_fn fn;
  void *arg;
  atomic_int state; /* 0 pending, 1 ran, 2 cancelled */
} work_t;

static void work_task(void *arg, int status) {
  work_t *w = arg;
  if (status == 0 && w->fn)
    w->fn(w->arg);
  atomic_store(&w->state, status == 0 ? 1 : 2);
}

/* Run fn(arg) on worker `worker` and wait for it (bounded). Since tasks and
 * hive deliveries share each worker's FIFO queue, this is also a barrier:
 * every delivery posted before it has run when it returns. */
static void run_on(unsigned worker, work_fn fn, void *arg) {
  work_t *w = calloc(1, sizeof(*w));
  assert_non_null(w);
  w->fn = fn;
  w->arg = arg;
  assert_int_equal(hcs_server_post(server.srv, worker, work_task, w), 0);
  TN_WAIT_UNTIL(atomic_load(&w->state) != 0, TN_WAIT_MS);
  int st = atomic_load(&w->state);
  if (st == 0)
    fail_msg("task on worker %u did not run within %d ms", worker, TN_WAIT_MS);
  /* (On that failure w is leaked on purpose: the task may still run.) */
  free(w);
  assert_int_equal(st, 1);
}

static void barrier(void) {
  run_on(0, NULL, NULL);
  run_on(1, NULL, NULL);
}

/* ---- a recording subscriber ---------------------------------------------- */

#define REC_MAX 512

enum { ACT_NONE, ACT_UNSUB_SELF, ACT_UNSUB_OTHERS };

typedef struct rec_s {
  hive_sub_t *sub;         /* hive_subscribe's *out */
  int worker;              /* where callbacks must run */
  const char *topic;
  bool custom_ids;         /* ids are not the decimal seq */
  int action;              /* on the first message */
  struct rec_s *others[4]; /* ACT_UNSUB_OTHERS: these, same worker */
  uint64_t seqs[REC_MAX];  /* worker-owned */
  char payloads[REC_MAX][24];
  size_t n;                /* worker-owned */
  atomic_size_t count;     /* == n, for the test thread */
} rec_t;

static void rec_init(rec_t *r, int worker, const char *topic) {
  memset(r, 0, sizeof(*r));
  r->worker = worker;
  r->topic = topic;
}

/* The SSE form of a plain message: "id: <id>\ndata: <payload>\n\n" (the
 * payloads used with it hold no line breaks). */
static bool wire_is(const hive_message_t *m) {
  char want[256];
  int n = snprintf(want, sizeof want, "id: %.*s\ndata: %.*s\n\n",
                   (int)m->id.len, m->id.base, (int)m->payload.len,
                   m->payload.base);
  return n > 0 && (size_t)n < sizeof want && m->wire != NULL &&
         m->wire->len == (size_t)n && memcmp(m->wire->data, want, n) == 0;
}

static void rec_cb(hive_sub_t *sub, const hive_message_t *m, void *ud) {
  rec_t *r = ud;
  CHECK(hcs_worker_index() == r->worker, "callback on worker %d, want %d",
        hcs_worker_index(), r->worker);
  /* *out is set before any callback (replays included), and a callback for
   * an ended subscription (r->sub NULL) must never come. */
  CHECK(r->sub == sub, "callback for sub %p, recorder holds %p (seq %" PRIu64
        ")", (void *)sub, (void *)r->sub, m->seq);
  CHECK(hcs_str_eq(m->topic, r->topic), "topic %.*s, want %s",
        (int)m->topic.len, m->topic.base, r->topic);
  if (!r->custom_ids) {
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, m->seq);
    CHECK(hcs_str_eq(m->id, id), "id %.*s for seq %" PRIu64, (int)m->id.len,
          m->id.base, m->seq);
    CHECK(wire_is(m), "wire bytes of seq %" PRIu64 ": %.*s", m->seq,
          m->wire ? (int)m->wire->len : 0, m->wire ? m->wire->data : "");
  }
  if (r->n < REC_MAX) {
    r->seqs[r->n] = m->seq;
    snprintf(r->payloads[r->n], sizeof r->payloads[0], "%.*s",
             (int)m->payload.len, m->payload.base);
  }
  r->n++;
  if (r->n == 1 && r->action == ACT_UNSUB_SELF) {
    hive_unsubscribe(&r->sub);
    CHECK(r->sub == NULL, "unsubscribe left the pointer set");
    hive_unsubscribe(&r->sub); /* twice: a no-op */
  } else if (r->n == 1 && r->action == ACT_UNSUB_OTHERS) {
    for (int i = 0; i < 4 && r->others[i]; i++) {
      hive_unsubscribe(&r->others[i]->sub);
      CHECK(r->others[i]->sub == NULL, "unsubscribe left the pointer set");
    }
  }
  atomic_store(&r->count, r->n);
}

/* Subscribe recorders in order (a task). */
typedef struct {
  rec_t **recs;
  size_t n;
  int rc[8];
} sub_batch_t;

static void do_subscribe(void *arg) {
  sub_batch_t *b = arg;
  for (size_t i = 0; i < b->n; i++)
    b->rc[i] = hive_subscribe(&b->recs[i]->sub, bus, b->recs[i]->topic,
                              rec_cb, b->recs[i]);
}

static void do_unsubscribe(void *arg) {
  sub_batch_t *b = arg;
  for (size_t i = 0; i < b->n; i++)
    hive_unsubscribe(&b->recs[i]->sub);
}

static void subscribe_on(unsigned worker, rec_t **recs, size_t n) {
  sub_batch_t b = {recs, n, {0}};
  assert_true(n <= 8);
  run_on(worker, do_subscribe, &b);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(b.rc[i], 0);
    assert_non_null(recs[i]->sub);
  }
}

static void unsubscribe_on(unsigned worker, rec_t **recs, size_t n) {
  sub_batch_t b = {recs, n, {0}};
  run_on(worker, do_unsubscribe, &b);
  for (size_t i = 0; i < n; i++)
    assert_null(recs[i]->sub);
}

static void publish_str(const char *topic, const char *s) {
  assert_int_equal(hive_publish(bus, topic, s, strlen(s)), 0);
}

static void publish_range(const char *topic, int from, int to) {
  for (int i = from; i <= to; i++) {
    char p[24];
    snprintf(p, sizeof p, "m%d", i);
    publish_str(topic, p);
  }
}

/* r holds exactly seqs from..to, with payloads "m<seq>". */
static void expect_seqs(const rec_t *r, uint64_t from, uint64_t to) {
  size_t want = to >= from ? (size_t)(to - from + 1) : 0;
  if (r->n != want)
    print_error("recorder on %s: %zu messages, want %zu (%" PRIu64
                "..%" PRIu64 ")\n",
                r->topic, r->n, want, from, to);
  assert_int_equal(r->n, want);
  for (size_t i = 0; i < want; i++) {
    assert_int_equal(r->seqs[i], from + i);
    char p[24];
    snprintf(p, sizeof p, "m%" PRIu64, from + i);
    assert_string_equal(r->payloads[i], p);
  }
}

/* ---- ordering ------------------------------------------------------------- */

#define NPUB 4
#define PER_PUB 2500
#define TOTAL (NPUB * PER_PUB)
#define K_PER_WORKER 3

typedef struct {
  hive_sub_t *sub;
  int worker;
  uint64_t next_seq;     /* worker-owned */
  int last[NPUB];        /* last counter seen per publisher */
  uint32_t *map;         /* [TOTAL + 1]: seq -> pub * PER_PUB + counter */
  atomic_uint_fast64_t got;
} osub_t;

static void order_cb(hive_sub_t *sub, const hive_message_t *m, void *ud) {
  osub_t *o = ud;
  CHECK(o->sub == sub, "ordering: stray callback");
  CHECK(hcs_worker_index() == o->worker, "ordering: wrong worker");
  CHECK(hcs_str_eq(m->topic, "order"), "ordering: topic");
  CHECK(m->seq == o->next_seq, "ordering: seq %" PRIu64 ", want %" PRIu64,
        m->seq, o->next_seq);
  o->next_seq = m->seq + 1;
  char id[24];
  snprintf(id, sizeof id, "%" PRIu64, m->seq);
  CHECK(hcs_str_eq(m->id, id), "ordering: id %.*s for seq %" PRIu64,
        (int)m->id.len, m->id.base, m->seq);
  CHECK(wire_is(m), "ordering: wire of seq %" PRIu64, m->seq);
  unsigned pub = 0, ctr = 0;
  char buf[32];
  snprintf(buf, sizeof buf, "%.*s", (int)m->payload.len, m->payload.base);
  if (sscanf(buf, "p%u:%u", &pub, &ctr) != 2 || pub >= NPUB ||
      ctr >= PER_PUB) {
    fail_async("ordering: payload %s", buf);
    return;
  }
  CHECK((int)ctr == o->last[pub] + 1,
        "ordering: publisher %u counter %u after %d", pub, ctr, o->last[pub]);
  o->last[pub] = (int)ctr;
  if (m->seq >= 1 && m->seq <= TOTAL)
    o->map[m->seq] = pub * PER_PUB + ctr;
  atomic_fetch_add(&o->got, 1);
}

typedef struct {
  osub_t *subs;
  size_t n;
  int rc;
} osub_batch_t;

static void do_order_subscribe(void *arg) {
  osub_batch_t *b = arg;
  for (size_t i = 0; i < b->n && b->rc == 0; i++)
    b->rc = hive_subscribe(&b->subs[i].sub, bus, "order", order_cb, &b->subs[i]);
}

static void do_order_unsubscribe(void *arg) {
  osub_batch_t *b = arg;
  for (size_t i = 0; i < b->n; i++)
    hive_unsubscribe(&b->subs[i].sub);
}

typedef struct {
  unsigned id;
  int errors;
} publisher_t;

static void *order_publisher(void *arg) {
  publisher_t *p = arg;
  for (unsigned i = 0; i < PER_PUB; i++) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "p%u:%u", p->id, i);
    if (hive_publish(bus, "order", buf, (size_t)n) != 0)
      p->errors++;
  }
  return NULL;
}

static void ordering_many_publishers(void **state) {
  (void)state;
  osub_t subs[2][K_PER_WORKER];
  memset(subs, 0, sizeof subs);
  for (int w = 0; w < 2; w++) {
    for (int k = 0; k < K_PER_WORKER; k++) {
      osub_t *o = &subs[w][k];
      o->worker = w;
      o->next_seq = 1;
      for (int p = 0; p < NPUB; p++)
        o->last[p] = -1;
      o->map = calloc(TOTAL + 1, sizeof(uint32_t));
      assert_non_null(o->map);
    }
    osub_batch_t b = {subs[w], K_PER_WORKER, 0};
    run_on((unsigned)w, do_order_subscribe, &b);
    assert_int_equal(b.rc, 0);
  }
  hive_stats_t st = stats();
  assert_int_equal(st.subscribers, 2 * K_PER_WORKER);
  assert_int_equal(st.topics, 1);

  pthread_t th[NPUB];
  publisher_t pubs[NPUB];
  for (unsigned p = 0; p < NPUB; p++) {
    pubs[p] = (publisher_t){p, 0};
    assert_int_equal(pthread_create(&th[p], NULL, order_publisher, &pubs[p]),
                     0);
  }
  for (unsigned p = 0; p < NPUB; p++) {
    pthread_join(th[p], NULL);
    assert_int_equal(pubs[p].errors, 0);
  }
  for (int w = 0; w < 2; w++)
    for (int k = 0; k < K_PER_WORKER; k++)
      TN_WAIT_UNTIL(atomic_load(&subs[w][k].got) >= TOTAL, TN_WAIT_MS);
  barrier();
  expect_no_failures();
  for (int w = 0; w < 2; w++) {
    for (int k = 0; k < K_PER_WORKER; k++) {
      osub_t *o = &subs[w][k];
      assert_int_equal(atomic_load(&o->got), TOTAL);
      assert_int_equal(o->next_seq, TOTAL + 1);
      for (int p = 0; p < NPUB; p++)
        assert_int_equal(o->last[p], PER_PUB - 1);
      /* The same seq -> payload mapping on every subscriber. */
      assert_memory_equal(o->map, subs[0][0].map,
                          (TOTAL + 1) * sizeof(uint32_t));
    }
  }
  st = stats();
  assert_int_equal(st.published, TOTAL);
  assert_int_equal(st.deliveries, (uint64_t)TOTAL * 2 * K_PER_WORKER);
  assert_int_equal(st.drops, 0);
  assert_int_equal(st.slow_closes, 0);
  for (int w = 0; w < 2; w++) {
    osub_batch_t b = {subs[w], K_PER_WORKER, 0};
    run_on((unsigned)w, do_order_unsubscribe, &b);
    for (int k = 0; k < K_PER_WORKER; k++) {
      assert_null(subs[w][k].sub);
      free(subs[w][k].map);
    }
  }
  st = stats();
  assert_int_equal(st.subscribers, 0);
  assert_int_equal(st.topics, 0);
}

/* ---- unsubscribing inside callbacks --------------------------------------- */

static void do_check_sub_bus(void *arg) {
  rec_t *r = arg;
  CHECK(hive_sub_bus(r->sub) == bus, "hive_sub_bus");
  hive_unsubscribe(NULL); /* no-op */
  hive_sub_t *none = NULL;
  hive_unsubscribe(&none); /* no-op */
}

static void unsubscribe_inside_callbacks(void **state) {
  (void)state;
  enum { N = 50 };
  static rec_t x, a, b, c, y, z;
  rec_init(&x, 0, "u");
  rec_init(&a, 0, "u");
  rec_init(&b, 0, "u");
  rec_init(&c, 0, "u");
  rec_init(&y, 0, "u");
  rec_init(&z, 1, "u");
  a.action = ACT_UNSUB_SELF;
  b.action = ACT_UNSUB_OTHERS;
  b.others[0] = &c; /* after b in the walk: must miss the message in hand */
  b.others[1] = &x; /* before b: already had it */
  rec_t *w0[] = {&x, &a, &b, &c, &y};
  subscribe_on(0, w0, 5);
  rec_t *w1[] = {&z};
  subscribe_on(1, w1, 1);
  run_on(0, do_check_sub_bus, &x);
  assert_int_equal(stats().subscribers, 6);

  /* Published back to back: deliveries 2..N are queued while the first
   * one's callbacks unsubscribe, and must find them gone. */
  publish_range("u", 1, N);
  TN_WAIT_UNTIL(atomic_load(&y.count) >= N && atomic_load(&z.count) >= N,
                TN_WAIT_MS);
  barrier();
  expect_no_failures();
  expect_seqs(&x, 1, 1);
  expect_seqs(&a, 1, 1);
  expect_seqs(&b, 1, N);
  expect_seqs(&c, 1, 0);
  expect_seqs(&y, 1, N);
  expect_seqs(&z, 1, N);
  assert_null(a.sub);
  assert_null(c.sub);
  assert_null(x.sub);
  hive_stats_t st = stats();
  assert_int_equal(st.subscribers, 3);
  assert_int_equal(st.published, N);
  assert_int_equal(st.deliveries, 1 + 1 + N + 0 + N + N);

  /* Ending the rest twice: the second time is a no-op. */
  rec_t *rest0[] = {&b, &y};
  unsubscribe_on(0, rest0, 2);
  unsubscribe_on(0, rest0, 2);
  unsubscribe_on(1, w1, 1);
  unsubscribe_on(1, w1, 1);
  st = stats();
  assert_int_equal(st.subscribers, 0);
  assert_int_equal(st.topics, 0);
  /* Nothing is delivered any more. */
  publish_range("u", N + 1, N + 5);
  barrier();
  assert_int_equal(stats().deliveries, 1 + 1 + N + 0 + N + N);
  assert_int_equal(b.n, N);
  assert_int_equal(z.n, N);
  expect_no_failures();
}

/* ---- churn ----------------------------------------------------------------- */

#define CHURN_SLOTS 32
#define CHURN_TOPICS 3
#define CHURN_PUBS 3
#define CHURN_MAX_PER_PUB 20000
#define CHURN_MS 800

static const char *const churn_topics[CHURN_TOPICS] = {"c0", "c1", "c2"};
static atomic_bool churn_stop;

typedef struct churn_worker_s churn_worker_t;

typedef struct {
  hive_sub_t *sub;
  uint64_t last_seq;
  unsigned topic;
  churn_worker_t *cw;
} churn_slot_t;

struct churn_worker_s {
  unsigned index;
  uint64_t rng;
  churn_slot_t slots[CHURN_SLOTS];
  /* Worker-owned counters, read by the test after a barrier. */
  uint64_t subs, subs_in_cb, unsubs, unsubs_in_cb, deliveries;
  atomic_int done;
};

static churn_worker_t churn_workers[2];

static uint64_t churn_rand(churn_worker_t *cw) {
  uint64_t x = cw->rng; /* xorshift64 */
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return cw->rng = x;
}

static void churn_cb(hive_sub_t *sub, const hive_message_t *m, void *ud);

static bool churn_subscribe(churn_worker_t *cw, churn_slot_t *s) {
  s->topic = (unsigned)(churn_rand(cw) % CHURN_TOPICS);
  s->last_seq = 0;
  s->cw = cw;
  int rc = hive_subscribe(&s->sub, bus, churn_topics[s->topic], churn_cb, s);
  CHECK(rc == 0, "churn: subscribe returned %d", rc);
  return rc == 0;
}

static void churn_cb(hive_sub_t *sub, const hive_message_t *m, void *ud) {
  churn_slot_t *s = ud;
  churn_worker_t *cw = s->cw;
  CHECK(hcs_worker_index() == (int)cw->index, "churn: wrong worker");
  if (s->sub != sub) {
    fail_async("churn: callback for an ended subscription (seq %" PRIu64 ")",
               m->seq);
    return;
  }
  CHECK(hcs_str_eq(m->topic, churn_topics[s->topic]), "churn: topic");
  CHECK(s->last_seq == 0 || m->seq == s->last_seq + 1,
        "churn: seq %" PRIu64 " after %" PRIu64, m->seq, s->last_seq);
  s->last_seq = m->seq;
  cw->deliveries++;
  uint64_t r = churn_rand(cw) % 16;
  if (r == 0) {
    hive_unsubscribe(&s->sub);
    cw->unsubs_in_cb++;
  } else if (r == 1) {
    churn_slot_t *o = &cw->slots[churn_rand(cw) % CHURN_SLOTS];
    if (o->sub) {
      hive_unsubscribe(&o->sub);
      cw->unsubs_in_cb++;
    }
  } else if (r == 2 && !atomic_load(&churn_stop)) {
    churn_slot_t *o = &cw->slots[churn_rand(cw) % CHURN_SLOTS];
    if (o->sub == NULL && churn_subscribe(cw, o))
      cw->subs_in_cb++;
  }
}

static void churn_task(void *arg, int status) {
  churn_worker_t *cw = arg;
  if (status != 0 || atomic_load(&churn_stop)) {
    atomic_store(&cw->done, 1);
    return;
  }
  for (int i = 0; i < 8; i++) {
    churn_slot_t *s = &cw->slots[churn_rand(cw) % CHURN_SLOTS];
    if (s->sub) {
      hive_unsubscribe(&s->sub);
      cw->unsubs++;
    } else if (churn_subscribe(cw, s)) {
      cw->subs++;
    }
  }
  if (hcs_server_post(server.srv, cw->index, churn_task, cw) != 0)
    atomic_store(&cw->done, 1);
}

static void churn_unsubscribe_all(void *arg) {
  churn_worker_t *cw = arg;
  for (int i = 0; i < CHURN_SLOTS; i++)
    if (cw->slots[i].sub) {
      hive_unsubscribe(&cw->slots[i].sub);
      cw->unsubs++;
    }
}

typedef struct {
  unsigned id;
  uint64_t published;
  int errors;
} churn_pub_t;

static void *churn_publisher(void *arg) {
  churn_pub_t *p = arg;
  int64_t end = tn_now_ms() + CHURN_MS;
  for (unsigned i = 0; i < CHURN_MAX_PER_PUB && !atomic_load(&churn_stop);
       i++) {
    if ((i & 63) == 0 && tn_now_ms() >= end)
      break;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "p%u:%u", p->id, i);
    if (hive_publish(bus, churn_topics[(i + p->id) % CHURN_TOPICS], buf,
                     (size_t)n) == 0)
      p->published++;
    else
      p->errors++;
  }
  return NULL;
}

static void churn_while_publishing(void **state) {
  (void)state;
  atomic_store(&churn_stop, false);
  memset(churn_workers, 0, sizeof churn_workers);
  for (unsigned w = 0; w < 2; w++) {
    churn_workers[w].index = w;
    churn_workers[w].rng = 0x9e3779b97f4a7c15ull * (w + 1);
  }
  pthread_t th[CHURN_PUBS];
  churn_pub_t pubs[CHURN_PUBS];
  for (unsigned p = 0; p < CHURN_PUBS; p++) {
    pubs[p] = (churn_pub_t){p, 0, 0};
    assert_int_equal(pthread_create(&th[p], NULL, churn_publisher, &pubs[p]),
                     0);
  }
  for (unsigned w = 0; w < 2; w++)
    assert_int_equal(
        hcs_server_post(server.srv, w, churn_task, &churn_workers[w]), 0);
  uint64_t published = 0;
  for (unsigned p = 0; p < CHURN_PUBS; p++) {
    pthread_join(th[p], NULL);
    assert_int_equal(pubs[p].errors, 0);
    published += pubs[p].published;
  }
  atomic_store(&churn_stop, true);
  for (unsigned w = 0; w < 2; w++) {
    TN_WAIT_UNTIL(atomic_load(&churn_workers[w].done), TN_WAIT_MS);
    assert_true(atomic_load(&churn_workers[w].done));
  }
  /* Every delivery was posted before these tasks: they run after them. */
  for (unsigned w = 0; w < 2; w++)
    run_on(w, churn_unsubscribe_all, &churn_workers[w]);
  barrier();
  expect_no_failures();

  hive_stats_t st = stats();
  assert_int_equal(st.subscribers, 0);
  assert_int_equal(st.topics, 0);
  assert_int_equal(st.published, published);
  uint64_t deliveries = 0;
  for (unsigned w = 0; w < 2; w++) {
    churn_worker_t *cw = &churn_workers[w];
    deliveries += cw->deliveries;
    /* Every subscription made was ended exactly once. */
    assert_int_equal(cw->subs + cw->subs_in_cb, cw->unsubs + cw->unsubs_in_cb);
    assert_true(cw->subs > 0);
    for (int i = 0; i < CHURN_SLOTS; i++)
      assert_null(cw->slots[i].sub);
  }
  assert_int_equal(st.deliveries, deliveries);
  if (getenv("HIVE_TEST_VERBOSE"))
    print_message("churn: %" PRIu64 " published, %" PRIu64
                  " deliveries, subs %" PRIu64 "+%" PRIu64 "/%" PRIu64
                  "+%" PRIu64 ", unsubs in callbacks %" PRIu64 "/%" PRIu64
                  "\n",
                  published, deliveries, churn_workers[0].subs,
                  churn_workers[0].subs_in_cb, churn_workers[1].subs,
                  churn_workers[1].subs_in_cb, churn_workers[0].unsubs_in_cb,
                  churn_workers[1].unsubs_in_cb);
  /* The run exercised what it is meant to (not a timing assertion: with any
   * progress at all these paths are taken). */
  assert_true(published > 0);
  assert_true(deliveries > 0);
  assert_true(churn_workers[0].unsubs_in_cb + churn_workers[1].unsubs_in_cb >
              0);
}

/* ---- history -------------------------------------------------------------- */

typedef struct {
  rec_t *rec;
  const char *last_id; /* NULL: plain subscribe */
  int rc;
  size_t seen_at_return;
} after_t;

static void do_subscribe_after(void *arg) {
  after_t *a = arg;
  if (a->last_id)
    a->rc = hive_subscribe_after(&a->rec->sub, bus, a->rec->topic, a->last_id,
                                 rec_cb, a->rec);
  else
    a->rc = hive_subscribe(&a->rec->sub, bus, a->rec->topic, rec_cb, a->rec);
  a->seen_at_return = a->rec->n;
}

static int subscribe_after_on(unsigned worker, rec_t *r, const char *last_id,
                              size_t *seen_at_return) {
  after_t a = {r, last_id, 1, 0};
  run_on(worker, do_subscribe_after, &a);
  if (seen_at_return)
    *seen_at_return = a.seen_at_return;
  return a.rc;
}

static void history_replay_edges(void **state) {
  (void)state;
  publish_range("h", 1, 10);
  hive_stats_t st = stats();
  assert_int_equal(st.topics, 1); /* kept for its history */
  assert_int_equal(st.published, 10);
  assert_int_equal(st.subscribers, 0);

  /* After 7: 8, 9, 10 are replayed before hive_subscribe_after returns. */
  static rec_t r7, r10, r3, rnope;
  size_t seen;
  rec_init(&r7, 0, "h");
  assert_int_equal(subscribe_after_on(0, &r7, "7", &seen), 0);
  assert_int_equal(seen, 3);
  expect_seqs(&r7, 8, 10);
  assert_int_equal(stats().deliveries, 3);

  /* The newest id replays nothing. */
  rec_init(&r10, 1, "h");
  assert_int_equal(subscribe_after_on(1, &r10, "10", &seen), 0);
  assert_int_equal(seen, 0);

  /* Live messages follow, on both. */
  publish_range("h", 11, 12);
  TN_WAIT_UNTIL(atomic_load(&r7.count) >= 5 && atomic_load(&r10.count) >= 2,
                TN_WAIT_MS);
  barrier();
  expect_seqs(&r7, 8, 12);
  expect_seqs(&r10, 11, 12);

  /* History is now 8..12: 3 was evicted; "nope" was never an id. Both are
   * HCS_ENOENT, with a live subscription all the same. */
  rec_init(&r3, 0, "h");
  assert_int_equal(subscribe_after_on(0, &r3, "3", &seen), HCS_ENOENT);
  assert_non_null(r3.sub);
  assert_int_equal(seen, 0);
  rec_init(&rnope, 1, "h");
  assert_int_equal(subscribe_after_on(1, &rnope, "nope", &seen), HCS_ENOENT);
  assert_non_null(rnope.sub);
  assert_int_equal(seen, 0);
  /* 7 is evicted too by now (history 8..12). */
  static rec_t r7b;
  rec_init(&r7b, 0, "h");
  assert_int_equal(subscribe_after_on(0, &r7b, "7", &seen), HCS_ENOENT);
  /* 8 is the oldest kept: 9..12 replayed. */
  static rec_t r8;
  rec_init(&r8, 1, "h");
  assert_int_equal(subscribe_after_on(1, &r8, "8", &seen), 0);
  assert_int_equal(seen, 4);

  publish_range("h", 13, 13);
  TN_WAIT_UNTIL(atomic_load(&r3.count) >= 1 && atomic_load(&rnope.count) >= 1 &&
                    atomic_load(&r7b.count) >= 1 && atomic_load(&r8.count) >= 5,
                TN_WAIT_MS);
  barrier();
  expect_no_failures();
  expect_seqs(&r3, 13, 13);
  expect_seqs(&rnope, 13, 13);
  expect_seqs(&r7b, 13, 13);
  expect_seqs(&r8, 9, 13);
  expect_seqs(&r7, 8, 13);
  expect_seqs(&r10, 11, 13);
  st = stats();
  assert_int_equal(st.published, 13);
  assert_int_equal(st.deliveries, 3 + 4 + 6 * 1 /* 13 */ + 2 * 2 /* 11, 12 */);
  assert_int_equal(st.subscribers, 6);

  rec_t *on0[] = {&r7, &r3, &r7b};
  rec_t *on1[] = {&r10, &rnope, &r8};
  unsubscribe_on(0, on0, 3);
  unsubscribe_on(1, on1, 3);
  st = stats();
  assert_int_equal(st.subscribers, 0);
  assert_int_equal(st.topics, 1); /* the history keeps it */
}

static void do_subscribe_after_null(void *arg) {
  after_t *a = arg;
  a->rc = hive_subscribe_after(&a->rec->sub, bus, a->rec->topic, NULL, rec_cb,
                               a->rec);
  a->seen_at_return = a->rec->n;
}

static void history_replay_all_and_self_unsubscribe(void **state) {
  (void)state;
  publish_range("ha", 1, 7); /* history keeps 3..7 */
  static rec_t all, quitter, none;
  rec_init(&all, 0, "ha");
  after_t a = {&all, NULL, 1, 0};
  run_on(0, do_subscribe_after_null, &a);
  assert_int_equal(a.rc, 0);
  assert_int_equal(a.seen_at_return, 5);
  expect_seqs(&all, 3, 7);

  /* Unsubscribing itself during the replay stops the replay. */
  rec_init(&quitter, 1, "ha");
  quitter.action = ACT_UNSUB_SELF;
  size_t seen;
  assert_int_equal(subscribe_after_on(1, &quitter, "4", &seen), 0);
  assert_int_equal(seen, 1);
  expect_seqs(&quitter, 5, 5);
  assert_null(quitter.sub);

  /* A topic without any history: NULL replays nothing, an id is unknown. */
  rec_init(&none, 1, "ha-empty");
  after_t b = {&none, NULL, 1, 0};
  run_on(1, do_subscribe_after_null, &b);
  assert_int_equal(b.rc, 0);
  assert_int_equal(b.seen_at_return, 0);
  rec_t *nn[] = {&none};
  unsubscribe_on(1, nn, 1);
  static rec_t none2;
  rec_init(&none2, 1, "ha-empty");
  assert_int_equal(subscribe_after_on(1, &none2, "1", &seen), HCS_ENOENT);
  rec_t *nn2[] = {&none2};
  unsubscribe_on(1, nn2, 1);

  publish_range("ha", 8, 8);
  TN_WAIT_UNTIL(atomic_load(&all.count) >= 6, TN_WAIT_MS);
  barrier();
  expect_no_failures();
  expect_seqs(&all, 3, 8);
  expect_seqs(&quitter, 5, 5);
  hive_stats_t st = stats();
  assert_int_equal(st.deliveries, 5 + 1 + 1);
  assert_int_equal(st.subscribers, 1);
  assert_int_equal(st.topics, 1); /* "ha-empty" had no history: gone */
  rec_t *aa[] = {&all};
  unsubscribe_on(0, aa, 1);
}

/* 30-byte wire form: "id: N\ndata: " + 16 bytes + "\n\n" for one-digit N;
 * 100 history bytes keep three of them. */
static void publish_fixed(int i) {
  char p[16];
  memset(p, '.', sizeof p);
  p[0] = 'm';
  p[1] = (char)('0' + i);
  assert_int_equal(hive_publish(bus, "hb", p, sizeof p), 0);
}

static void history_bounded_by_bytes(void **state) {
  (void)state;
  for (int i = 1; i <= 9; i++)
    publish_fixed(i);
  static rec_t r6, r7;
  rec_init(&r6, 0, "hb");
  r6.custom_ids = true; /* payloads are not "m<seq>": checked below */
  rec_init(&r7, 1, "hb");
  r7.custom_ids = true;
  size_t seen;
  /* 7, 8, 9 fit in 100 bytes; 6 was evicted by bytes, not by count. */
  assert_int_equal(subscribe_after_on(0, &r6, "6", &seen), HCS_ENOENT);
  assert_int_equal(seen, 0);
  assert_int_equal(subscribe_after_on(1, &r7, "7", &seen), 0);
  assert_int_equal(seen, 2);
  assert_int_equal(r7.seqs[0], 8);
  assert_int_equal(r7.seqs[1], 9);
  assert_memory_equal(r7.payloads[0], "m8..", 4);
  expect_no_failures();
  rec_t *a[] = {&r6};
  rec_t *b[] = {&r7};
  unsubscribe_on(0, a, 1);
  unsubscribe_on(1, b, 1);
}

/*
 * A message too big for history_bytes cannot be kept. Whatever hive does
 * with it, a client resuming from an id before it must not silently miss it:
 * either it is replayed, or the lookup says HCS_ENOENT (resynchronise).
 */
static void history_oversized_message_no_silent_gap(void **state) {
  (void)state;
  for (int i = 1; i <= 3; i++)
    publish_fixed(i);
  char big[200];
  memset(big, 'B', sizeof big);
  assert_int_equal(hive_publish(bus, "hb", big, sizeof big), 0); /* seq 4 */
  static rec_t r;
  rec_init(&r, 0, "hb");
  r.custom_ids = true;
  size_t seen;
  int rc = subscribe_after_on(0, &r, "3", &seen);
  if (rc == 0) {
    if (seen != 1 || r.seqs[0] != 4)
      print_error("subscribe_after(\"3\") returned 0 with %zu replayed "
                  "(first seq %" PRIu64 "): message 4 is lost\n",
                  seen, seen ? r.seqs[0] : 0);
    assert_int_equal(seen, 1);
    assert_int_equal(r.seqs[0], 4);
  } else {
    assert_int_equal(rc, HCS_ENOENT);
  }
  rec_t *a[] = {&r};
  unsubscribe_on(0, a, 1);
}

/*
 * Subscribing while deliveries of earlier messages are still queued on the
 * same worker (behind the subscribing task): they must not reach the new
 * subscriptions, whose replay already covered them.
 */
static atomic_int gate_started, gate_go;
static rec_t gate_existing, gate_after, gate_plain, gate_all;
static after_t gate_a, gate_p, gate_n;

static void gate_fn(void *arg) {
  (void)arg;
  atomic_store(&gate_started, 1);
  /* Hold the loop until the test has published (bounded). */
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  while (!atomic_load(&gate_go) && tn_now_ms() < deadline)
    tn_sleep_ms(1);
  do_subscribe_after(&gate_a);
  do_subscribe_after(&gate_p);
  do_subscribe_after_null(&gate_n);
}

static void history_join_with_deliveries_queued(void **state) {
  (void)state;
  atomic_store(&gate_started, 0);
  atomic_store(&gate_go, 0);
  rec_init(&gate_existing, 0, "q");
  rec_t *ex[] = {&gate_existing};
  subscribe_on(0, ex, 1); /* so that deliveries are posted to worker 0 */
  rec_init(&gate_after, 0, "q");
  rec_init(&gate_plain, 0, "q");
  rec_init(&gate_all, 0, "q");
  gate_a = (after_t){&gate_after, "3", 1, 0};
  gate_p = (after_t){&gate_plain, NULL, 1, 0};
  gate_n = (after_t){&gate_all, NULL, 1, 0};

  work_t *w = calloc(1, sizeof(*w));
  assert_non_null(w);
  w->fn = gate_fn;
  assert_int_equal(hcs_server_post(server.srv, 0, work_task, w), 0);
  TN_WAIT_UNTIL(atomic_load(&gate_started), TN_WAIT_MS);
  assert_int_equal(atomic_load(&gate_started), 1);
  publish_range("q", 1, 5); /* queued on worker 0 behind the gate */
  atomic_store(&gate_go, 1);
  TN_WAIT_UNTIL(atomic_load(&w->state) != 0, TN_WAIT_MS);
  assert_int_equal(atomic_load(&w->state), 1);
  free(w);
  assert_int_equal(gate_a.rc, 0);
  assert_int_equal(gate_a.seen_at_return, 2);
  assert_int_equal(gate_p.rc, 0);
  assert_int_equal(gate_p.seen_at_return, 0);
  assert_int_equal(gate_n.rc, 0);
  assert_int_equal(gate_n.seen_at_return, 5);
  publish_range("q", 6, 6);
  TN_WAIT_UNTIL(atomic_load(&gate_plain.count) >= 1, TN_WAIT_MS);
  barrier();
  expect_no_failures();
  expect_seqs(&gate_existing, 1, 6);
  expect_seqs(&gate_after, 4, 6);
  expect_seqs(&gate_plain, 6, 6);
  expect_seqs(&gate_all, 1, 6);
  rec_t *all[] = {&gate_existing, &gate_after, &gate_plain, &gate_all};
  unsubscribe_on(0, all, 4);
}

/* ---- the no-gap/no-duplicate join ------------------------------------------ */

#define JOINS 6

typedef struct {
  hive_sub_t *sub;
  int worker;
  uint64_t first, last, n; /* worker-owned */
  atomic_uint_fast64_t last_seen;
} jsub_t;

static jsub_t join_live, joiners[JOINS];
static char join_ids[JOINS][24];
static int join_rc[JOINS];
static atomic_bool join_all_done;

static void join_cb(hive_sub_t *sub, const hive_message_t *m, void *ud) {
  jsub_t *j = ud;
  CHECK(j->sub == sub, "join: stray callback");
  CHECK(hcs_worker_index() == j->worker, "join: wrong worker");
  if (j->n == 0)
    j->first = m->seq;
  else
    CHECK(m->seq == j->last + 1,
          "join: seq %" PRIu64 " after %" PRIu64 " (first %" PRIu64 ")",
          m->seq, j->last, j->first);
  char want[24];
  snprintf(want, sizeof want, "j%" PRIu64, m->seq);
  CHECK(hcs_str_eq(m->payload, want), "join: payload of %" PRIu64, m->seq);
  j->last = m->seq;
  j->n++;
  atomic_store(&j->last_seen, m->seq);
}

static void do_join_live(void *arg) {
  (void)arg;
  int rc = hive_subscribe(&join_live.sub, bus, "j", join_cb, &join_live);
  CHECK(rc == 0, "join: live subscribe %d", rc);
}

static void do_join(void *arg) {
  intptr_t i = (intptr_t)arg;
  join_rc[i] = hive_subscribe_after(&joiners[i].sub, bus, "j", join_ids[i],
                                    join_cb, &joiners[i]);
}

typedef struct {
  uint64_t published, after_done;
  int errors;
} join_pub_t;

static void *join_publisher(void *arg) {
  join_pub_t *p = arg;
  int64_t end = tn_now_ms() + 3000;
  while (p->published < JOIN_MAX_MESSAGES && tn_now_ms() < end) {
    if (atomic_load(&join_all_done) && p->after_done++ >= 500)
      break;
    char buf[24];
    int n = snprintf(buf, sizeof buf, "j%" PRIu64, p->published + 1);
    if (hive_publish(bus, "j", buf, (size_t)n) != 0) {
      p->errors++;
      break;
    }
    p->published++;
    if (p->published % 64 == 0)
      tn_sleep_ms(1); /* pace it: the joins happen mid-stream */
  }
  return NULL;
}

static void history_join_without_gap_or_duplicate(void **state) {
  (void)state;
  memset(&join_live, 0, sizeof join_live);
  memset(joiners, 0, sizeof joiners);
  atomic_store(&join_all_done, false);
  join_live.worker = 1;
  run_on(1, do_join_live, NULL);
  assert_non_null(join_live.sub);

  join_pub_t pub = {0, 0, 0};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, join_publisher, &pub), 0);
  uint64_t prev = 0;
  for (intptr_t i = 0; i < JOINS; i++) {
    /* Wait for progress, then join after the newest id seen so far. */
    TN_WAIT_UNTIL(atomic_load(&join_live.last_seen) >= prev + 200, TN_WAIT_MS);
    prev = atomic_load(&join_live.last_seen);
    assert_true(prev > 0);
    snprintf(join_ids[i], sizeof join_ids[i], "%" PRIu64, prev);
    joiners[i].worker = (int)(i % 2);
    run_on((unsigned)(i % 2), do_join, (void *)i);
  }
  atomic_store(&join_all_done, true);
  pthread_join(th, NULL);
  assert_int_equal(pub.errors, 0);
  assert_true(pub.published < JOIN_MAX_MESSAGES); /* the joins all ran */
  TN_WAIT_UNTIL(atomic_load(&join_live.last_seen) == pub.published, TN_WAIT_MS);
  barrier();
  expect_no_failures();
  assert_int_equal(join_live.first, 1);
  assert_int_equal(join_live.last, pub.published);
  assert_int_equal(join_live.n, pub.published);
  for (int i = 0; i < JOINS; i++) {
    jsub_t *j = &joiners[i];
    uint64_t after = strtoull(join_ids[i], NULL, 10);
    assert_int_equal(join_rc[i], 0);
    /* Exactly after+1 .. published: consecutive (checked per message), no
     * duplicate, no gap at the join. */
    assert_int_equal(j->first, after + 1);
    assert_int_equal(j->last, pub.published);
    assert_int_equal(j->n, pub.published - after);
  }
  hive_stats_t st = stats();
  assert_int_equal(st.published, pub.published);
  assert_int_equal(st.subscribers, JOINS + 1);
}

/* ---- errors ----------------------------------------------------------------- */

static void noop_cb(hive_sub_t *sub, const hive_message_t *m, void *ud) {
  (void)sub;
  (void)m;
  atomic_fetch_add((atomic_int *)ud, 1);
}

/* A recognisable *out that failing calls must leave alone. */
static char sentinel_storage;
#define SENTINEL ((hive_sub_t *)(void *)&sentinel_storage)

typedef struct {
  int empty, too_long, max_len, null_cb, after_empty, after_too_long;
  hive_sub_t *out_empty, *out_too_long, *out_null_cb, *out_after;
  hive_sub_t *max_sub;
  atomic_int calls;
} bad_args_t;

static void do_bad_args(void *arg) {
  bad_args_t *b = arg;
  char *longest = malloc(HIVE_TOPIC_MAX + 2);
  if (longest == NULL) {
    fail_async("malloc");
    return;
  }
  memset(longest, 't', HIVE_TOPIC_MAX + 1);
  longest[HIVE_TOPIC_MAX + 1] = '\0';
  b->out_empty = b->out_too_long = b->out_null_cb = b->out_after = SENTINEL;
  b->empty = hive_subscribe(&b->out_empty, bus, "", noop_cb, &b->calls);
  b->too_long =
      hive_subscribe(&b->out_too_long, bus, longest, noop_cb, &b->calls);
  b->null_cb = hive_subscribe(&b->out_null_cb, bus, "t", NULL, NULL);
  b->after_empty =
      hive_subscribe_after(&b->out_after, bus, "", "1", noop_cb, &b->calls);
  b->after_too_long =
      hive_subscribe_after(&b->out_after, bus, longest, "1", noop_cb, &b->calls);
  longest[HIVE_TOPIC_MAX] = '\0'; /* exactly the limit: accepted */
  b->max_len = hive_subscribe(&b->max_sub, bus, longest, noop_cb, &b->calls);
  hive_unsubscribe(&b->max_sub);
  free(longest);
}

typedef struct {
  hive_bus_t *bus;
  int rc;
  hive_sub_t *out;
  atomic_int done;
} foreign_t;

/* On a worker of another server. */
static void foreign_task(void *arg, int status) {
  foreign_t *f = arg;
  f->out = SENTINEL;
  if (status == 0)
    f->rc = hive_subscribe(&f->out, f->bus, "t", noop_cb, NULL);
  else
    f->rc = 12345;
  atomic_store(&f->done, 1);
}

static void errors_are_reported(void **state) {
  (void)state;
  atomic_int calls = 0;
  /* Not on a worker thread. */
  hive_sub_t *out = SENTINEL;
  assert_int_equal(hive_subscribe(&out, bus, "t", noop_cb, &calls),
                   HCS_ESTATE);
  assert_ptr_equal(out, SENTINEL);
  assert_int_equal(hive_subscribe_after(&out, bus, "t", "1", noop_cb, &calls),
                   HCS_ESTATE);
  assert_ptr_equal(out, SENTINEL);

  /* On a worker of another server. */
  tn_server_t other;
  assert_int_equal(tn_server_start(&other, NULL, NULL, 0), 0);
  static foreign_t fo;
  memset(&fo, 0, sizeof fo);
  fo.bus = bus;
  assert_int_equal(hcs_server_post(other.srv, 0, foreign_task, &fo), 0);
  TN_WAIT_UNTIL(atomic_load(&fo.done), TN_WAIT_MS);
  assert_int_equal(atomic_load(&fo.done), 1);
  assert_int_equal(tn_server_free(&other, TN_WAIT_MS), 0);
  assert_int_equal(fo.rc, HCS_ESTATE);
  assert_ptr_equal(fo.out, SENTINEL);

  /* Bad arguments on a worker. */
  static bad_args_t b;
  memset(&b, 0, sizeof b);
  run_on(0, do_bad_args, &b);
  expect_no_failures();
  assert_int_equal(b.empty, HCS_EINVAL);
  assert_int_equal(b.too_long, HCS_EINVAL);
  assert_int_equal(b.null_cb, HCS_EINVAL);
  assert_int_equal(b.after_empty, HCS_EINVAL);
  assert_int_equal(b.after_too_long, HCS_EINVAL);
  assert_ptr_equal(b.out_empty, SENTINEL);
  assert_ptr_equal(b.out_too_long, SENTINEL);
  assert_ptr_equal(b.out_null_cb, SENTINEL);
  assert_ptr_equal(b.out_after, SENTINEL);
  assert_int_equal(b.max_len, 0);
  assert_null(b.max_sub);

  /* Publishing. */
  char *longest = malloc(HIVE_TOPIC_MAX + 2);
  assert_non_null(longest);
  memset(longest, 't', HIVE_TOPIC_MAX + 1);
  longest[HIVE_TOPIC_MAX + 1] = '\0';
  assert_int_equal(hive_publish(bus, "", "x", 1), HCS_EINVAL);
  assert_int_equal(hive_publish(bus, longest, "x", 1), HCS_EINVAL);
  free(longest);
  hcs_sse_event_t ev = {{NULL, 0}, hcs_str_c("1\n2"), HCS_SSE_NO_RETRY, hcs_str_c("x")};
  assert_int_equal(hive_publish_event(bus, "t", &ev), HCS_EINVAL);
  ev.id = hcs_str_c("ok");
  ev.event_type = hcs_str_c("a\rb");
  assert_int_equal(hive_publish_event(bus, "t", &ev), HCS_EINVAL);
  ev.event_type = (hcs_str_t){NULL, 0};
  ev.retry = (int64_t)HCS_SSE_RETRY_MAX + 1;
  assert_int_equal(hive_publish_event(bus, "t", &ev), HCS_EINVAL);

  /* No subscribers, no history: accepted, counted, nothing kept. */
  assert_int_equal(hive_publish(bus, "nobody", "x", 1), 0);
  ev.retry = HCS_SSE_NO_RETRY;
  assert_int_equal(hive_publish_event(bus, "nobody", &ev), 0);
  hive_stats_t st = stats();
  assert_int_equal(st.topics, 0);
  assert_int_equal(st.subscribers, 0);
  assert_int_equal(st.published, 2);
  assert_int_equal(st.deliveries, 0);
  assert_int_equal(atomic_load(&calls), 0);
  assert_int_equal(atomic_load(&b.calls), 0);
}

/* ---- event fields ------------------------------------------------------------ */

static void publish_event_fields(void **state) {
  (void)state;
  static rec_t r;
  rec_init(&r, 1, "ev");
  r.custom_ids = true;
  rec_t *rs[] = {&r};
  subscribe_on(1, rs, 1);
  hcs_sse_event_t ev = {hcs_str_c("tick"), hcs_str_c("abc"), 1000,
                        hcs_str_c("a\nb")};
  assert_int_equal(hive_publish_event(bus, "ev", &ev), 0);
  ev = (hcs_sse_event_t){{NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY,
                         hcs_str_c("plain")};
  assert_int_equal(hive_publish_event(bus, "ev", &ev), 0); /* id: seq */
  TN_WAIT_UNTIL(atomic_load(&r.count) >= 2, TN_WAIT_MS);
  barrier();
  expect_no_failures();
  assert_int_equal(r.n, 2);
  assert_int_equal(r.seqs[0], 1);
  assert_int_equal(r.seqs[1], 2);
  assert_string_equal(r.payloads[0], "a\nb");
  assert_string_equal(r.payloads[1], "plain");
  unsubscribe_on(1, rs, 1);
}

/* The message view: id, wire and payload of a custom event (checked on the
 * worker, where the view is valid). */
typedef struct {
  hive_sub_t *sub;
  int mode; /* 0: the custom event; 1: routing payload, then empty payload */
  atomic_int seen;
  int ok;
} view_t;

static void view_cb(hive_sub_t *sub, const hive_message_t *m, void *ud) {
  (void)sub;
  view_t *v = ud;
  if (v->mode == 0) {
    static const char want[] = "event: tick\nid: abc\nretry: 1000\n"
                               "data: a\ndata: b\n\n";
    CHECK(hcs_str_eq(m->id, "abc"), "view: id %.*s", (int)m->id.len,
          m->id.base);
    CHECK(m->wire->len == sizeof want - 1 &&
              memcmp(m->wire->data, want, sizeof want - 1) == 0,
          "view: wire %.*s", (int)m->wire->len, m->wire->data);
    CHECK(hcs_str_eq(m->payload, "a\nb"), "view: payload");
    CHECK(m->seq == 1, "view: seq %" PRIu64, m->seq);
  } else if (m->seq == 1) {
    /* Subscribers see the routing payload; the wire has the event. */
    static const char want[] = "id: 1\ndata: on the wire\n\n";
    CHECK(hcs_str_eq(m->payload, "route"), "with: payload %.*s",
          (int)m->payload.len, m->payload.base);
    CHECK(m->wire->len == sizeof want - 1 &&
              memcmp(m->wire->data, want, sizeof want - 1) == 0,
          "with: wire %.*s", (int)m->wire->len, m->wire->data);
  } else {
    static const char want[] = "id: 2\ndata: \n\n";
    CHECK(m->seq == 2 && m->payload.len == 0, "empty: seq %" PRIu64
          ", %zu bytes", m->seq, m->payload.len);
    CHECK(m->wire->len == sizeof want - 1 &&
              memcmp(m->wire->data, want, sizeof want - 1) == 0,
          "empty: wire %.*s", (int)m->wire->len, m->wire->data);
  }
  v->ok++;
  atomic_fetch_add(&v->seen, 1);
}

static void do_view_subscribe(void *arg) {
  view_t *v = arg;
  CHECK(hive_subscribe(&v->sub, bus, "view", view_cb, v) == 0, "view: sub");
}

static void do_view_unsubscribe(void *arg) {
  view_t *v = arg;
  hive_unsubscribe(&v->sub);
}

static void publish_event_view(void **state) {
  (void)state;
  static view_t v;
  memset(&v, 0, sizeof v);
  run_on(0, do_view_subscribe, &v);
  hcs_sse_event_t ev = {hcs_str_c("tick"), hcs_str_c("abc"), 1000,
                        hcs_str_c("a\nb")};
  assert_int_equal(hive_publish_event(bus, "view", &ev), 0);
  TN_WAIT_UNTIL(atomic_load(&v.seen), TN_WAIT_MS);
  barrier();
  assert_int_equal(atomic_load(&v.seen), 1);
  expect_no_failures();
  assert_int_equal(v.ok, 1);
  run_on(0, do_view_unsubscribe, &v);
}

/* ---- publishing from callbacks ------------------------------------------------ */

#define ECHO_N 200

typedef struct {
  hive_sub_t *sub;
  int worker;
  const char *topic, *next_topic; /* publish the next message there */
  uint64_t n;                     /* worker-owned */
  atomic_uint_fast64_t count;
} echo_t;

static echo_t ping, pong, echo;

/* Republish from inside the callback (a worker thread) until ECHO_N. */
static void echo_cb(hive_sub_t *sub, const hive_message_t *m, void *ud) {
  echo_t *e = ud;
  CHECK(e->sub == sub && hcs_worker_index() == e->worker, "echo: where");
  unsigned v = 0;
  char buf[24];
  snprintf(buf, sizeof buf, "%.*s", (int)m->payload.len, m->payload.base);
  CHECK(sscanf(buf, "%u", &v) == 1, "echo: payload %s", buf);
  e->n++;
  if (v < ECHO_N) {
    char next[24];
    int len = snprintf(next, sizeof next, "%u", v + 1);
    int rc = hive_publish(bus, e->next_topic, next, (size_t)len);
    CHECK(rc == 0, "echo: publish from a callback returned %d", rc);
  }
  atomic_store(&e->count, e->n);
}

static void do_echo_subscribe(void *arg) {
  echo_t *e = arg;
  CHECK(hive_subscribe(&e->sub, bus, e->topic, echo_cb, e) == 0, "echo: sub");
}

static void do_echo_unsubscribe(void *arg) {
  echo_t *e = arg;
  hive_unsubscribe(&e->sub);
}

static void publish_from_callbacks(void **state) {
  (void)state;
  /* Ping on worker 0 answers on "pong", pong on worker 1 answers on "ping";
   * echo on worker 0 answers on its own topic. */
  ping = (echo_t){.worker = 0, .topic = "ping", .next_topic = "pong"};
  pong = (echo_t){.worker = 1, .topic = "pong", .next_topic = "ping"};
  echo = (echo_t){.worker = 0, .topic = "echo", .next_topic = "echo"};
  run_on(0, do_echo_subscribe, &ping);
  run_on(1, do_echo_subscribe, &pong);
  run_on(0, do_echo_subscribe, &echo);
  publish_str("ping", "1");
  publish_str("echo", "1");
  TN_WAIT_UNTIL(atomic_load(&ping.count) + atomic_load(&pong.count) >= ECHO_N &&
                    atomic_load(&echo.count) >= ECHO_N,
                TN_WAIT_MS);
  barrier();
  expect_no_failures();
  assert_int_equal(atomic_load(&ping.count), ECHO_N / 2);
  assert_int_equal(atomic_load(&pong.count), ECHO_N / 2);
  assert_int_equal(atomic_load(&echo.count), ECHO_N);
  hive_stats_t st = stats();
  assert_int_equal(st.published, 2 * ECHO_N);
  assert_int_equal(st.deliveries, 2 * ECHO_N);
  run_on(0, do_echo_unsubscribe, &ping);
  run_on(1, do_echo_unsubscribe, &pong);
  run_on(0, do_echo_unsubscribe, &echo);
  assert_int_equal(stats().topics, 0);
}

/* ---- many topics ------------------------------------------------------------------ */

#define MANY 300

static hive_sub_t *many_subs[2][MANY];
static atomic_int many_calls[2][MANY];

static void many_cb(hive_sub_t *sub, const hive_message_t *m, void *ud) {
  intptr_t i = (intptr_t)ud;
  int w = hcs_worker_index();
  CHECK(w == 0 || w == 1, "many: worker %d", w);
  if (w != 0 && w != 1)
    return;
  CHECK(many_subs[w][i] == sub, "many: stray callback");
  char want[24];
  snprintf(want, sizeof want, "t%d", (int)i);
  CHECK(hcs_str_eq(m->topic, want), "many: topic %.*s for %s",
        (int)m->topic.len, m->topic.base, want);
  CHECK(hcs_str_eq(m->payload, want), "many: payload");
  CHECK(m->seq == 1, "many: seq %" PRIu64, m->seq);
  atomic_fetch_add(&many_calls[w][i], 1);
}

static void do_many_subscribe(void *arg) {
  (void)arg;
  int w = hcs_worker_index();
  for (intptr_t i = 0; i < MANY; i++) {
    char t[24];
    snprintf(t, sizeof t, "t%d", (int)i);
    int rc = hive_subscribe(&many_subs[w][i], bus, t, many_cb, (void *)i);
    CHECK(rc == 0, "many: subscribe %s: %d", t, rc);
  }
}

static void do_many_unsubscribe(void *arg) {
  (void)arg;
  int w = hcs_worker_index();
  for (int i = 0; i < MANY; i++)
    hive_unsubscribe(&many_subs[w][i]);
}

static void many_topics(void **state) {
  (void)state;
  memset(many_subs, 0, sizeof many_subs);
  for (int w = 0; w < 2; w++)
    for (int i = 0; i < MANY; i++)
      atomic_store(&many_calls[w][i], 0);
  run_on(0, do_many_subscribe, NULL);
  run_on(1, do_many_subscribe, NULL);
  expect_no_failures();
  hive_stats_t st = stats();
  assert_int_equal(st.topics, MANY);
  assert_int_equal(st.subscribers, 2 * MANY);
  for (int i = 0; i < MANY; i++) {
    char t[24];
    snprintf(t, sizeof t, "t%d", i);
    publish_str(t, t);
  }
  TN_WAIT_UNTIL(stats().deliveries >= 2 * MANY, TN_WAIT_MS);
  barrier();
  expect_no_failures();
  for (int w = 0; w < 2; w++)
    for (int i = 0; i < MANY; i++)
      assert_int_equal(atomic_load(&many_calls[w][i]), 1);
  assert_int_equal(stats().deliveries, 2 * MANY);
  run_on(0, do_many_unsubscribe, NULL);
  assert_int_equal(stats().topics, MANY); /* worker 1 still holds them */
  run_on(1, do_many_unsubscribe, NULL);
  st = stats();
  assert_int_equal(st.topics, 0);
  assert_int_equal(st.subscribers, 0);
}

/* ---- a routing payload, an empty payload ------------------------------------------- */

static void publish_with_payload_and_empty(void **state) {
  (void)state;
  static view_t v;
  memset(&v, 0, sizeof v);
  v.mode = 1;
  run_on(1, do_view_subscribe, &v);
  hcs_sse_event_t ev = {{NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY,
                        hcs_str_c("on the wire")};
  assert_int_equal(hive_publish_event_with(bus, "view", &ev, "route", 5), 0);
  assert_int_equal(hive_publish(bus, "view", NULL, 0), 0);
  assert_int_equal(hive_publish_event_with(bus, "view", &ev, NULL, 1),
                   HCS_EINVAL);
  TN_WAIT_UNTIL(atomic_load(&v.seen) >= 2, TN_WAIT_MS);
  barrier();
  expect_no_failures();
  assert_int_equal(atomic_load(&v.seen), 2);
  assert_int_equal(v.ok, 2);
  run_on(1, do_view_unsubscribe, &v);
}

/* Custom ids work as history positions too. */
static void history_custom_ids(void **state) {
  (void)state;
  const char *ids[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    hcs_sse_event_t ev = {{NULL, 0}, hcs_str_c(ids[i]), HCS_SSE_NO_RETRY,
                          hcs_str_c(ids[i])};
    assert_int_equal(hive_publish_event(bus, "hc", &ev), 0);
  }
  static rec_t r;
  rec_init(&r, 0, "hc");
  r.custom_ids = true;
  size_t seen;
  assert_int_equal(subscribe_after_on(0, &r, "a", &seen), 0);
  assert_int_equal(seen, 2);
  assert_string_equal(r.payloads[0], "b");
  assert_string_equal(r.payloads[1], "c");
  assert_int_equal(r.seqs[0], 2);
  assert_int_equal(r.seqs[1], 3);
  expect_no_failures();
  rec_t *rs[] = {&r};
  unsubscribe_on(0, rs, 1);
}

/* Subscriptions still open when the server stops are freed by
 * hive_bus_free; publishing to them after the stop is harmless. */
static void leftovers_freed_by_bus_free(void **state) {
  (void)state;
  static rec_t r0, r1;
  rec_init(&r0, 0, "left");
  rec_init(&r1, 1, "left");
  rec_t *a[] = {&r0};
  rec_t *b[] = {&r1};
  subscribe_on(0, a, 1);
  subscribe_on(1, b, 1);
  publish_range("left", 1, 3);
  TN_WAIT_UNTIL(atomic_load(&r0.count) >= 3 && atomic_load(&r1.count) >= 3,
                TN_WAIT_MS);
  assert_int_equal(tn_server_stop(&server, TN_WAIT_MS), 0);
  /* The workers are gone: delivery is refused, the message is dropped. */
  assert_int_equal(hive_publish(bus, "left", "late", 4), 0);
  hive_stats_t st = stats();
  assert_int_equal(st.subscribers, 2);
  assert_int_equal(st.deliveries, 6);
  assert_int_equal(st.published, 4);
  expect_no_failures();
  /* teardown: hive_bus_free with both still subscribed (LSan checks). */
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TH(name, s) cmocka_unit_test_setup_teardown(name, s, teardown)
  const struct CMUnitTest tests[] = {
      T(ordering_many_publishers),
      T(unsubscribe_inside_callbacks),
      T(churn_while_publishing),
      TH(history_replay_edges, setup_history),
      TH(history_bounded_by_bytes, setup_history_bytes),
      TH(history_oversized_message_no_silent_gap, setup_history_bytes),
      TH(history_join_with_deliveries_queued, setup_history),
      TH(history_join_without_gap_or_duplicate, setup_history_join),
      TH(history_custom_ids, setup_history),
      TH(history_replay_all_and_self_unsubscribe, setup_history),
      T(publish_from_callbacks),
      T(many_topics),
      T(publish_with_payload_and_empty),
      T(errors_are_reported),
      T(publish_event_fields),
      T(publish_event_view),
      T(leftovers_freed_by_bus_free),
  };
#undef T
#undef TH
  return cmocka_run_group_tests(tests, NULL, NULL);
}
