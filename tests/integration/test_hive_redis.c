/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_hive_redis.c: hive's Redis backend (hive/redis.h)
 * through the hive API, against a real redis-server that this test starts
 * on a free loopback port with a temporary directory and no persistence.
 *
 * Cases: URL parsing (forms accepted, errors named, rediss:// refused); a
 * bus cannot be made when Redis is unreachable or refuses AUTH, and says
 * why; two buses (two servers in one process, as two hubs) share one
 * stream: everything published on either reaches the subscribers of both,
 * in one order, exactly once, with every event field and a binary routing
 * payload intact, and an event without an id gets its stream entry id; a
 * bus made later fills its history from the stream (backfill) so replay
 * after an id works there; Redis killed and restarted: publishes fail fast
 * with HCS_EAGAIN while it is away, the backend reconnects by itself
 * (counted), and the subscribers then get every later update exactly once.
 *
 * Subscriptions are made on a worker (hcs_server_post); the test thread is
 * not a worker, so publish callbacks run on the backend's thread and report
 * through atomics. Every wait is bounded.
 * Run one case: ./test_hive_redis <case-name-glob>
 */
/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "hive/pubsub.h"
#include "hive/redis.h"
#include "testnet.h"

/* ---- redis-server -----------------------------------------------------------
 */

static char redis_dir[256];
static int redis_port;
static pid_t redis_pid = -1;

/* A loopback TCP port nobody listens on now (racy, retried by the caller). */
static int pick_port(void) {
  for (int i = 0; i < 200; i++) {
    int port = 20000 + (int)((unsigned)rand() % 30000);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
      return -1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    if (ok)
      return port;
  }
  return -1;
}

/* A synchronous client for the test's own checks, or NULL. */
static redisContext *redis_client(void) {
  struct timeval tv = {0, 300000};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
  if (c && c->err) {
    redisFree(c);
    return NULL;
  }
  return c;
}

static bool redis_ping(void) {
  redisContext *c = redis_client();
  if (c == NULL)
    return false;
  redisReply *r = redisCommand(c, "PING");
  bool ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
  if (r)
    freeReplyObject(r);
  redisFree(c);
  return ok;
}

/* Start redis-server on redis_port; wait (5 s at most) until it answers. */
static int redis_spawn(void) {
  char port[16], log[300];
  snprintf(port, sizeof port, "%d", redis_port);
  snprintf(log, sizeof log, "%s/redis.log", redis_dir);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execlp("redis-server", "redis-server", "--port", port, "--bind",
           "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", redis_dir,
           (char *)NULL);
    _exit(127);
  }
  redis_pid = pid;
  int64_t deadline = tn_now_ms() + 5000;
  while (tn_now_ms() < deadline) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      redis_pid = -1;
      return -1; /* exited: port taken, or not installed */
    }
    if (redis_ping())
      return 0;
    tn_sleep_ms(20);
  }
  return -1;
}

static void redis_kill(void) {
  if (redis_pid > 0) {
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, NULL, 0);
    redis_pid = -1;
  }
}

static int group_setup(void **state) {
  (void)state;
  srand((unsigned)(getpid() ^ tn_now_ms()));
  snprintf(redis_dir, sizeof redis_dir, "%s/hcs-test-redis.XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(redis_dir) == NULL)
    return -1;
  for (int tries = 0; tries < 10; tries++) {
    if ((redis_port = pick_port()) < 0)
      break;
    if (redis_spawn() == 0)
      return 0;
    redis_kill();
  }
  fprintf(stderr,
          "cannot start redis-server (is it installed? scripts/deps "
          "installs it); its log is in %s\n",
          redis_dir);
  return -1;
}

static int group_teardown(void **state) {
  (void)state;
  redis_kill();
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", redis_dir);
  if (system(cmd) != 0)
    return -1;
  return 0;
}

/* ---- a hub-like node: a server and a bus on Redis
 * ---------------------------- */

typedef struct {
  tn_server_t ts;
  hive_bus_t *bus;
  hive_backend_t *be;
} node_t;

static char stream_key[64];
static int key_serial;

/* A stream of this test's own. */
static void new_stream_key(const char *name) {
  snprintf(stream_key, sizeof stream_key, "test:%s:%d:%d", name, (int)getpid(),
           key_serial++);
}

static void redis_url(char *out, size_t cap) {
  snprintf(out, cap, "redis://127.0.0.1:%d/0", redis_port);
}

static void options(hive_redis_options_t *o, size_t backfill) {
  hive_redis_options_init(o);
  o->stream_key = stream_key;
  o->backfill = backfill;
  o->connect_timeout_ms = 1000;
  o->reconnect_min_ms = 20;
  o->reconnect_max_ms = 300;
}

/* Start a server and a bus on Redis (history slots: history). */
static void node_start(node_t *n, size_t history, size_t backfill) {
  memset(n, 0, sizeof(*n));
  assert_int_equal(tn_server_start(&n->ts, NULL, NULL, 0), 0);
  char url[128];
  redis_url(url, sizeof url);
  hive_redis_options_t o;
  options(&o, backfill);
  const char *why = NULL;
  assert_int_equal(hive_backend_redis_new(&n->be, url, &o, &why), 0);
  hive_bus_config_t cfg;
  hive_bus_config_init(&cfg);
  cfg.history_count = history;
  cfg.backend = n->be;
  int err = hive_bus_new(&n->bus, n->ts.srv, &cfg);
  if (err < 0)
    fail_msg("hive_bus_new on Redis: %s (%s)", hcs_strerror(err),
             hive_backend_redis_error(n->be));
}

static void node_stop(node_t *n) {
  assert_int_equal(tn_server_stop(&n->ts, TN_WAIT_MS), 0);
  hive_bus_free(n->bus); /* frees the backend */
  assert_int_equal(tn_server_free(&n->ts, TN_WAIT_MS), 0);
}

static hive_backend_stats_t node_stats(node_t *n) {
  hive_backend_stats_t s;
  hive_bus_backend_stats(n->bus, &s);
  return s;
}

/* ---- running code on a worker
 * ------------------------------------------------ */

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

/* Run fn(arg) on worker 0 of n and wait; also a barrier for deliveries
 * already posted to that worker. */
static void run_on(node_t *n, work_fn fn, void *arg) {
  work_t *w = calloc(1, sizeof(*w));
  assert_non_null(w);
  w->fn = fn;
  w->arg = arg;
  assert_int_equal(hcs_server_post(n->ts.srv, 0, work_task, w), 0);
  TN_WAIT_UNTIL(atomic_load(&w->state) != 0, TN_WAIT_MS);
  int st = atomic_load(&w->state);
  if (st == 0)
    fail_msg("task did not run within %d ms", TN_WAIT_MS); /* w leaked */
  free(w);
  assert_int_equal(st, 1);
}

/* ---- a recording subscriber
 * --------------------------------------------------- */

#define REC_MAX 512

typedef struct {
  char id[64];
  char type[32];
  bool has_type;
  char payload[64];
  size_t payload_len;
  char wire[256];
  size_t wire_len;
} got_t;

typedef struct {
  node_t *node;
  const char *topic;
  const char *after; /* hive_subscribe_after's last_id, or NULL: live */
  int sub_rc;
  hive_sub_t *sub;
  atomic_int count; /* messages recorded (entries written before) */
  atomic_int overflow;
  got_t got[REC_MAX];
} rec_t;

static void on_msg(hive_sub_t *sub, const hive_message_t *m, void *ud) {
  (void)sub;
  rec_t *r = ud;
  int i = atomic_load(&r->count);
  if (i >= REC_MAX) {
    atomic_fetch_add(&r->overflow, 1);
    return;
  }
  got_t *g = &r->got[i];
  snprintf(g->id, sizeof g->id, "%.*s", (int)m->id.len, m->id.base);
  g->has_type = m->event_type.base != NULL;
  if (g->has_type)
    snprintf(g->type, sizeof g->type, "%.*s", (int)m->event_type.len,
             m->event_type.base);
  g->payload_len =
      m->payload.len < sizeof g->payload ? m->payload.len : sizeof g->payload;
  memcpy(g->payload, m->payload.base, g->payload_len);
  g->wire_len = m->wire->len < sizeof g->wire ? m->wire->len : sizeof g->wire;
  memcpy(g->wire, m->wire->data, g->wire_len);
  atomic_store(&r->count, i + 1);
}

static void do_subscribe(void *arg) {
  rec_t *r = arg;
  r->sub_rc = r->after
                  ? hive_subscribe_after(&r->sub, r->node->bus, r->topic,
                                         r->after, on_msg, r)
                  : hive_subscribe(&r->sub, r->node->bus, r->topic, on_msg, r);
}

static void do_unsubscribe(void *arg) {
  rec_t *r = arg;
  hive_unsubscribe(&r->sub);
}

static rec_t *subscribe(node_t *n, const char *topic, const char *after) {
  rec_t *r = calloc(1, sizeof(*r));
  assert_non_null(r);
  r->node = n;
  r->topic = topic;
  r->after = after;
  run_on(n, do_subscribe, r);
  return r;
}

static void unsubscribe(rec_t *r) {
  run_on(r->node, do_unsubscribe, r);
  assert_int_equal(atomic_load(&r->overflow), 0);
  free(r);
}

/* ---- publishing and waiting for the answer
 * ------------------------------------ */

typedef struct {
  atomic_int done;
  int status;
  char id[64];
} answer_t;

static void on_answer(int status, const char *id, size_t len, void *ud) {
  answer_t *a = ud;
  a->status = status;
  snprintf(a->id, sizeof a->id, "%.*s", (int)len, id);
  atomic_store(&a->done, 1);
}

/* Publish and wait for the answer; returns its status, id in id_out. */
static int publish(node_t *n, const char *topic, const hcs_sse_event_t *ev,
                   const void *payload, size_t len, char *id_out) {
  answer_t a = {0};
  int err = hive_publish_async(n->bus, topic, ev, payload, len, on_answer, &a);
  assert_int_equal(err, 0);
  TN_WAIT_UNTIL(atomic_load(&a.done), TN_WAIT_MS);
  assert_true(atomic_load(&a.done));
  if (id_out)
    strcpy(id_out, a.id);
  return a.status;
}

static int publish_text(node_t *n, const char *topic, const char *id,
                        const char *data) {
  hcs_sse_event_t ev = {
      {NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY, hcs_str_c(data)};
  if (id)
    ev.id = hcs_str_c(id);
  return publish(n, topic, &ev, data, strlen(data), NULL);
}

/* ---- cases
 * ------------------------------------------------------------------- */

static void url_forms(void **state) {
  (void)state;
  static const struct {
    const char *url, *error; /* error: a substring of the message, or NULL */
  } cases[] = {
      {"redis://127.0.0.1", NULL},
      {"redis://localhost:6380/3", NULL},
      {"redis://:s%40cret@[::1]:6379/0", NULL},
      {"redis://user:pa%3Ass@host/", NULL},
      {"redis://h:1/2?stream=my%3Astream&maxlen=0", NULL},
      {"rediss://127.0.0.1:6380", "TLS"},
      {"rediss://127.0.0.1:6380", "stunnel"},
      {"http://127.0.0.1", "redis://"},
      {"redis://", "no host"},
      {"redis://:6379", "no host"},
      {"redis://h:0", "port"},
      {"redis://h:65536", "port"},
      {"redis://h:x", "port"},
      {"redis://h/db", "database"},
      {"redis://secret@h", "password"},
      {"redis://:%zz@h", "escape"},
      {"redis://[::1", "IPv6"},
      {"redis://h?stream=", "empty"},
      {"redis://h?color=red", "query"},
      {"redis://h?maxlen=-1", "maxlen"},
      {"redis://h#x", "fragment"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    hive_backend_t *be = NULL;
    const char *why = NULL;
    int err = hive_backend_redis_new(&be, cases[i].url, NULL, &why);
    if (cases[i].error == NULL) {
      if (err != 0)
        fail_msg("%s: refused: %s", cases[i].url, why ? why : "?");
      hive_backend_free(be);
      continue;
    }
    if (err != HCS_EINVAL || why == NULL || strstr(why, cases[i].error) == NULL)
      fail_msg("%s: got %d \"%s\", expected HCS_EINVAL mentioning \"%s\"",
               cases[i].url, err, why ? why : "(none)", cases[i].error);
    assert_null(be);
  }
  /* Options are checked too. */
  hive_redis_options_t o;
  hive_redis_options_init(&o);
  o.stream_key = "";
  hive_backend_t *be = NULL;
  const char *why = NULL;
  assert_int_equal(hive_backend_redis_new(&be, "redis://h", &o, &why),
                   HCS_EINVAL);
  assert_non_null(why);
  /* Never started: freeing is all there is to do. */
  assert_int_equal(hive_backend_redis_new(&be, "redis://h", NULL, NULL), 0);
  hive_backend_free(be);
  hive_backend_free(NULL);
}

/* A bus on an unreachable Redis is not made, and the backend says why. */
static void unreachable_at_start(void **state) {
  (void)state;
  tn_server_t ts = {0};
  assert_int_equal(tn_server_start(&ts, NULL, NULL, 0), 0);
  int port = pick_port(); /* nobody listens there */
  assert_true(port > 0);
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  hive_backend_t *be;
  assert_int_equal(hive_backend_redis_new(&be, url, NULL, NULL), 0);
  hive_bus_config_t cfg;
  hive_bus_config_init(&cfg);
  cfg.backend = be;
  hive_bus_t *bus = NULL;
  int64_t t0 = tn_now_ms();
  int err = hive_bus_new(&bus, ts.srv, &cfg);
  int64_t took = tn_now_ms() - t0;
  assert_true(err < 0);
  assert_null(bus);
  const char *why = hive_backend_redis_error(be);
  if (strstr(why, "Connection refused") == NULL || strstr(why, url + 8) == NULL)
    fail_msg("error text: \"%s\"", why);
  assert_true(took < 2000); /* refused at once, not after the timeout */
  hive_backend_free(be);

  /* AUTH that the server refuses (it has no password) fails the start. */
  char url2[128];
  snprintf(url2, sizeof url2, "redis://:nope@127.0.0.1:%d", redis_port);
  assert_int_equal(hive_backend_redis_new(&be, url2, NULL, NULL), 0);
  cfg.backend = be;
  assert_true(hive_bus_new(&bus, ts.srv, &cfg) < 0);
  why = hive_backend_redis_error(be);
  if (strstr(why, "refused AUTH") == NULL)
    fail_msg("error text: \"%s\"", why);
  hive_backend_free(be);
  assert_int_equal(tn_server_free(&ts, TN_WAIT_MS), 0);
}

/* Two buses, one stream: one order everywhere, fields intact. */
static void two_buses_share_one_stream(void **state) {
  (void)state;
  new_stream_key("share");
  node_t a, b;
  node_start(&a, 100, 100);
  node_start(&b, 100, 100);
  rec_t *ra = subscribe(&a, "t", NULL), *rb = subscribe(&b, "t", NULL);
  rec_t *other = subscribe(&b, "u", NULL);
  assert_int_equal(ra->sub_rc, 0);
  assert_int_equal(rb->sub_rc, 0);

  /* 1: every field, a binary payload distinct from the data */
  static const char bin[] = {'r', 0, 1, (char)0xff, 'x'};
  hcs_sse_event_t ev = {hcs_str_c("kind"), hcs_str_c("id-1"), 1500,
                        hcs_str_c("line1\nline2")};
  char id[64];
  assert_int_equal(publish(&a, "t", &ev, bin, sizeof bin, id), 0);
  assert_string_equal(id, "id-1");
  /* 2: no id: the stream's entry id becomes it, here and there */
  hcs_sse_event_t ev2 = {
      {NULL, 0}, {NULL, 0}, HCS_SSE_NO_RETRY, hcs_str_c("two")};
  char entry_id[64];
  assert_int_equal(publish(&b, "t", &ev2, "two", 3, entry_id), 0);
  unsigned long long ms, seq;
  assert_int_equal(sscanf(entry_id, "%llu-%llu", &ms, &seq), 2);
  /* 3..40: alternate publishers; one order for all */
  char ids[40][16];
  for (int i = 2; i < 40; i++) {
    snprintf(ids[i], sizeof ids[i], "m%d", i);
    assert_int_equal(publish_text(i % 2 ? &a : &b, "t", ids[i], ids[i]), 0);
  }
  assert_int_equal(publish_text(&a, "u", "u1", "other topic"), 0);
  TN_WAIT_UNTIL(atomic_load(&ra->count) >= 40 &&
                    atomic_load(&rb->count) >= 40 &&
                    atomic_load(&other->count) >= 1,
                TN_WAIT_MS);
  tn_sleep_ms(50); /* nothing more may come */
  run_on(&a, NULL, NULL);
  run_on(&b, NULL, NULL);
  assert_int_equal(atomic_load(&ra->count), 40);
  assert_int_equal(atomic_load(&rb->count), 40);
  assert_int_equal(atomic_load(&other->count), 1);
  rec_t *rs[] = {ra, rb};
  for (int k = 0; k < 2; k++) {
    got_t *g = rs[k]->got;
    assert_string_equal(g[0].id, "id-1");
    assert_true(g[0].has_type);
    assert_string_equal(g[0].type, "kind");
    assert_int_equal(g[0].payload_len, sizeof bin);
    assert_memory_equal(g[0].payload, bin, sizeof bin);
    static const char wire0[] =
        "event: kind\nid: id-1\nretry: 1500\ndata: line1\ndata: line2\n\n";
    if (g[0].wire_len != sizeof wire0 - 1 ||
        memcmp(g[0].wire, wire0, g[0].wire_len) != 0)
      fail_msg("wire: %.*s", (int)g[0].wire_len, g[0].wire);
    assert_string_equal(g[1].id, entry_id);
    assert_false(g[1].has_type);
    assert_int_equal(g[1].payload_len, 3);
    assert_memory_equal(g[1].payload, "two", 3);
    for (int i = 2; i < 40; i++)
      assert_string_equal(g[i].id, ids[i]);
  }
  hive_backend_stats_t s = node_stats(&a);
  assert_string_equal(s.name, "redis");
  assert_true(s.connected);
  assert_int_equal(s.reconnects, 0);
  assert_int_equal(s.publish_errors, 0);
  assert_true(s.publish_ms > 0);
  unsubscribe(ra);
  unsubscribe(rb);
  unsubscribe(other);
  node_stop(&a);
  node_stop(&b);
}

/* A bus started later fills its history from the stream. */
static void backfill_makes_replay_work_on_a_new_bus(void **state) {
  (void)state;
  new_stream_key("backfill");
  node_t a;
  node_start(&a, 100, 100);
  for (int i = 1; i <= 10; i++) {
    char id[16];
    snprintf(id, sizeof id, "b%d", i);
    assert_int_equal(publish_text(&a, "t", id, id), 0);
  }
  node_t c;
  node_start(&c, 100, 5); /* reads the newest 5: b6..b10 */
  rec_t *r = subscribe(&c, "t", "b7");
  assert_int_equal(r->sub_rc, 0);
  assert_int_equal(atomic_load(&r->count), 3); /* replayed during subscribe */
  assert_string_equal(r->got[0].id, "b8");
  assert_string_equal(r->got[2].id, "b10");
  rec_t *r2 = subscribe(&c, "t", "b3"); /* older than the backfill */
  assert_int_equal(r2->sub_rc, HCS_ENOENT);
  /* Live updates continue after the replay, once each. */
  assert_int_equal(publish_text(&a, "t", "b11", "b11"), 0);
  TN_WAIT_UNTIL(atomic_load(&r->count) >= 4, TN_WAIT_MS);
  tn_sleep_ms(30);
  run_on(&c, NULL, NULL);
  assert_int_equal(atomic_load(&r->count), 4);
  assert_string_equal(r->got[3].id, "b11");
  assert_int_equal(atomic_load(&r2->count), 1);
  unsubscribe(r);
  unsubscribe(r2);
  node_stop(&c);
  node_stop(&a);
}

/* Redis killed and restarted under two buses. */
static void redis_restart(void **state) {
  (void)state;
  new_stream_key("restart");
  node_t a, b;
  node_start(&a, 1000, 100);
  node_start(&b, 1000, 100);
  rec_t *ra = subscribe(&a, "t", NULL), *rb = subscribe(&b, "t", NULL);
  char id[32];
  int ok = 0;
  for (int i = 0; i < 20; i++) {
    snprintf(id, sizeof id, "r%d", ok);
    assert_int_equal(publish_text(i % 2 ? &a : &b, "t", id, id), 0);
    ok++;
  }
  TN_WAIT_UNTIL(atomic_load(&ra->count) == 20 && atomic_load(&rb->count) == 20,
                TN_WAIT_MS);

  redis_kill();
  TN_WAIT_UNTIL(!node_stats(&a).connected && !node_stats(&b).connected,
                TN_WAIT_MS);
  assert_false(node_stats(&a).connected);
  /* Refused at once, not queued. */
  int64_t t0 = tn_now_ms();
  assert_int_equal(publish_text(&a, "t", "lost1", "lost1"), HCS_EAGAIN);
  assert_int_equal(publish_text(&b, "t", "lost2", "lost2"), HCS_EAGAIN);
  assert_true(tn_now_ms() - t0 < 500);
  assert_true(node_stats(&a).publish_errors >= 1);

  /* Back on the same port (a new, empty server: no persistence). */
  tn_sleep_ms(200);
  assert_int_equal(redis_spawn(), 0);
  TN_WAIT_UNTIL(node_stats(&a).connected && node_stats(&b).connected, 5000);
  assert_true(node_stats(&a).connected);
  for (int i = 0; i < 20; i++) {
    snprintf(id, sizeof id, "r%d", ok);
    int rc = publish_text(i % 2 ? &a : &b, "t", id, id);
    if (rc == HCS_EAGAIN) { /* the reader side may still be coming back */
      tn_sleep_ms(50);
      i--;
      continue;
    }
    assert_int_equal(rc, 0);
    ok++;
  }
  TN_WAIT_UNTIL(atomic_load(&ra->count) >= ok && atomic_load(&rb->count) >= ok,
                5000);
  tn_sleep_ms(50);
  run_on(&a, NULL, NULL);
  run_on(&b, NULL, NULL);
  rec_t *rs[] = {ra, rb};
  for (int k = 0; k < 2; k++) {
    assert_int_equal(atomic_load(&rs[k]->count), ok);
    for (int i = 0; i < ok; i++) {
      snprintf(id, sizeof id, "r%d", i);
      assert_string_equal(rs[k]->got[i].id, id);
    }
  }
  assert_true(node_stats(&a).reconnects >= 2); /* both links came back */
  assert_true(node_stats(&b).reconnects >= 2);
  unsubscribe(ra);
  unsubscribe(rb);
  node_stop(&a);
  node_stop(&b);
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(url_forms),
      cmocka_unit_test(unreachable_at_start),
      cmocka_unit_test(two_buses_share_one_stream),
      cmocka_unit_test(backfill_makes_replay_work_on_a_new_bus),
      cmocka_unit_test(redis_restart),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
