/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_hive_sse.c: hive_sse_respond (hive/sse.h) over real
 * sockets. Published messages arrive as exact SSE bytes, in order, on many
 * connections spread over both workers; Last-Event-ID resumes from the
 * topic's history; a client that goes away is unsubscribed (one close
 * callback); a stalled client under HIVE_SLOW_CLOSE is closed and counted
 * while another client on the topic receives everything, and under
 * HIVE_SLOW_DROP_OLDEST stays open, loses exactly the counted drops and
 * reads the rest in order; a replay larger than the queue bound; filters and
 * replay_all; failing hive_sse_respond calls leave nothing subscribed and
 * never call on_close; stopping the server ends every stream before
 * hive_bus_free.
 *
 * Routes: GET /events?topic=T (defaults: 1 MiB queue, close when slow) and
 * GET /slow?topic=T[&policy=drop] (64 KiB queue), both without heartbeat,
 * passing the request's Last-Event-ID header as last_event_id. The server
 * keeps at most 64 KiB unsent per connection, so a stalled reader (4 KiB
 * receive buffer) reaches the hive queue bound once the sockets' buffers are
 * full: a few MiB on loopback, well within the flood's bound of 20000 1 KiB
 * messages.
 *
 * The client side de-chunks the HTTP/1.1 body itself (sse_t below) and
 * compares bytes. Handlers share what the test needs through atomics.
 * Run one case: ./test_hive_sse <case-name-glob>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hive/pubsub.h"
#include "hive/sse.h"
#include "testnet.h"

/* ---- routes --------------------------------------------------------------- */

#define SLOW_QUEUE (64u << 10)
#define MAX_UNSENT (64u << 10)

typedef struct {
  bool slow;                /* the /slow variant */
  atomic_int opened, closes, respond_errors;
  atomic_int reasons[4];    /* close callbacks per hcs_close_reason_t */
  atomic_int last_found;    /* last_event_id_found of the latest request */
  atomic_llong subs_at_close; /* bus subscribers seen by the last on_close */
} route_t;

static route_t events_route, slow_route = {.slow = true}, bad_route;
static _Atomic(hive_bus_t *) the_bus;
static atomic_uint workers_seen; /* bit per worker index */

static void route_reset(route_t *r) {
  atomic_store(&r->opened, 0);
  atomic_store(&r->closes, 0);
  atomic_store(&r->respond_errors, 0);
  for (int i = 0; i < 4; i++)
    atomic_store(&r->reasons[i], 0);
  atomic_store(&r->last_found, -1);
  atomic_store(&r->subs_at_close, -1);
}

static void on_close(hcs_response_t *res, hcs_close_reason_t why, void *ud) {
  (void)res;
  route_t *r = ud;
  /* The response's subscriptions have ended before this runs. */
  hive_stats_t st;
  hive_bus_stats(atomic_load(&the_bus), &st);
  atomic_store(&r->subs_at_close, (long long)st.subscribers);
  if ((unsigned)why < 4)
    atomic_fetch_add(&r->reasons[why], 1);
  atomic_fetch_add(&r->closes, 1);
}

static bool copy_str(char *dst, size_t cap, hcs_str_t v) {
  if (v.len >= cap)
    return false;
  memcpy(dst, v.base, v.len);
  dst[v.len] = '\0';
  return true;
}

/* ?filter=1: only messages whose payload starts with "keep". */
static bool keep_filter(const hive_message_t *m, void *ud) {
  (void)ud;
  return m->payload.len >= 4 && memcmp(m->payload.base, "keep", 4) == 0;
}

static hcs_response_t *h_events(hcs_request_t *req, void *ud) {
  route_t *r = ud;
  char topic[128], last_id[128];
  hcs_str_t v;
  if (hcs_request_query_param(req, "topic", &v) != 0 || v.len == 0 ||
      !copy_str(topic, sizeof topic, v))
    return tn_text(400, "topic?", 6);
  hive_sse_options_t o;
  hive_sse_options_init(&o);
  o.heartbeat_interval = 0;
  o.sse.on_close = on_close;
  o.sse.ud = r;
  if (hcs_request_header(req, "Last-Event-ID", &v) == 0) {
    if (!copy_str(last_id, sizeof last_id, v))
      return tn_text(400, "id?", 3);
    o.last_event_id = last_id;
  }
  if (hcs_request_query_param(req, "all", &v) == 0)
    o.replay_all = true;
  if (hcs_request_query_param(req, "filter", &v) == 0)
    o.filter = keep_filter;
  if (r->slow) {
    o.max_queued_bytes = SLOW_QUEUE;
    if (hcs_request_query_param(req, "policy", &v) == 0 &&
        hcs_str_eq(v, "drop"))
      o.slow_policy = HIVE_SLOW_DROP_OLDEST;
  }
  bool found = false;
  o.last_event_id_found = &found;
  const char *topics[] = {topic};
  hcs_response_t *res;
  int rc = hive_sse_respond(&res, atomic_load(&the_bus), topics, 1, &o);
  if (rc < 0) {
    atomic_fetch_add(&r->respond_errors, 1);
    return NULL;
  }
  atomic_store(&r->last_found, found ? 1 : 0);
  atomic_fetch_or(&workers_seen, 1u << hcs_worker_index());
  atomic_fetch_add(&r->opened, 1);
  return res;
}

/* GET /bad: hive_sse_respond calls that must fail, leaving nothing behind. */
enum { BAD_CALLS = 5 };
static atomic_int bad_rc[BAD_CALLS];
static atomic_llong bad_subs_after;

static hcs_response_t *h_bad(hcs_request_t *req, void *ud) {
  (void)req;
  route_t *r = ud;
  hive_bus_t *b = atomic_load(&the_bus);
  hive_sse_options_t o;
  hive_sse_options_init(&o);
  o.heartbeat_interval = 0;
  o.sse.on_close = on_close;
  o.sse.ud = r;
  const char *one[] = {"okA"}, *empty[] = {""}, *mixed[] = {"okA", ""};
  hcs_response_t *res = NULL;
  atomic_store(&bad_rc[0], hive_sse_respond(&res, b, one, 0, &o));
  atomic_store(&bad_rc[1], hive_sse_respond(&res, b, NULL, 1, &o));
  atomic_store(&bad_rc[2], hive_sse_respond(&res, b, empty, 1, &o));
  atomic_store(&bad_rc[3], hive_sse_respond(&res, b, mixed, 2, &o));
  o.max_queued_bytes = 0;
  atomic_store(&bad_rc[4], hive_sse_respond(&res, b, one, 1, &o));
  hive_stats_t st;
  hive_bus_stats(b, &st);
  atomic_store(&bad_subs_after, (long long)st.subscribers);
  return res ? NULL : tn_text(200, "ok", 2); /* res stays NULL */
}

static const tn_route_t routes[] = {
    {"GET", "/events", 0, h_events, &events_route},
    {"GET", "/slow", 0, h_events, &slow_route},
    {"GET", "/bad", 0, h_bad, &bad_route},
};

/* ---- fixture ------------------------------------------------------------- */

static tn_server_t server;
static hive_bus_t *bus;

static int setup(void **state) {
  (void)state;
  route_reset(&events_route);
  route_reset(&slow_route);
  route_reset(&bad_route);
  atomic_store(&workers_seen, 0);
  hcs_server_config_t cfg;
  tn_config(&cfg);
  cfg.max_unsent_bytes = MAX_UNSENT;
  if (tn_server_start(&server, &cfg, routes, sizeof routes / sizeof *routes) <
      0)
    return -1;
  hive_bus_config_t bc;
  hive_bus_config_init(&bc);
  bc.history_count = 16;
  if (hive_bus_new(&bus, server.srv, &bc) < 0)
    return -1;
  atomic_store(&the_bus, bus);
  return 0;
}

static void free_clients(void);

/* Stop the server (ending every stream, which unsubscribes), then free the
 * bus, then the server. */
static int teardown(void **state) {
  (void)state;
  free_clients(); /* a failed test's */
  int rc = 0;
  if (server.srv && !server.hung && !server.stopped)
    rc = tn_server_stop(&server, TN_WAIT_MS * 2);
  if (rc == 0)
    hive_bus_free(bus); /* else the server hung: its workers may use it */
  bus = NULL;
  atomic_store(&the_bus, NULL);
  tn_cleanup(); /* clients first: the server is stopped already */
  int rc2 = tn_server_free(&server, TN_WAIT_MS);
  return rc < 0 ? rc : rc2;
}

static hive_stats_t stats(void) {
  hive_stats_t st;
  memset(&st, 0xff, sizeof st);
  hive_bus_stats(bus, &st);
  return st;
}

static void wait_subscribers(uint64_t n) {
  TN_WAIT_UNTIL(stats().subscribers == n, TN_WAIT_MS);
  assert_int_equal(stats().subscribers, n);
}

static void wait_closes(route_t *r, int n) {
  TN_WAIT_UNTIL(atomic_load(&r->closes) >= n, TN_WAIT_MS);
  assert_int_equal(atomic_load(&r->closes), n);
}

/* ---- an SSE client: head, then the de-chunked body ------------------------ */

typedef struct {
  tn_conn_t *c;
  bool head_done, ended; /* ended: the last chunk arrived */
  int status;
  bool event_stream, chunked;
  char *body; /* de-chunked bytes not consumed yet, NUL-terminated */
  size_t len, cap;
  int state; /* CH_* */
  uint64_t left;
  int err; /* -EPROTO on bad framing */
} sse_t;

enum { CH_SIZE, CH_DATA, CH_CRLF, CH_TRAILER };

static void sse_append(sse_t *s, const char *p, size_t n) {
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 65536;
    while (cap < s->len + n + 1)
      cap *= 2;
    char *b = realloc(s->body, cap);
    assert_non_null(b);
    s->body = b;
    s->cap = cap;
  }
  memcpy(s->body + s->len, p, n);
  s->len += n;
  s->body[s->len] = '\0';
}

static void sse_consume(sse_t *s, size_t n) {
  memmove(s->body, s->body + n, s->len - n);
  s->len -= n;
  s->body[s->len] = '\0';
}

/* Parse what the connection buffered: head, then chunks into s->body. */
static void sse_pump(sse_t *s) {
  tn_conn_t *c = s->c;
  if (!s->head_done) {
    char *end = c->buf ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
    if (end == NULL)
      return;
    *end = '\0';
    int minor;
    if (sscanf(c->buf, "HTTP/1.%d %d", &minor, &s->status) != 2)
      s->err = -EPROTO;
    for (char *p = c->buf; *p; p++)
      *p = (char)tolower((unsigned char)*p);
    s->event_stream = strstr(c->buf, "\r\ncontent-type: text/event-stream") != NULL;
    s->chunked = strstr(c->buf, "\r\ntransfer-encoding: chunked") != NULL;
    s->head_done = true;
    tn_consume(c, (size_t)(end - c->buf) + 4);
    if (s->body == NULL)
      sse_append(s, "", 0);
  }
  size_t pos = 0;
  while (s->err == 0 && !s->ended && pos < c->len) {
    if (s->state == CH_SIZE || s->state == CH_TRAILER) {
      char *eol = memmem(c->buf + pos, c->len - pos, "\r\n", 2);
      if (eol == NULL)
        break;
      if (s->state == CH_TRAILER) {
        if (eol == c->buf + pos)
          s->ended = true;
        pos = (size_t)(eol - c->buf) + 2;
        continue;
      }
      char *q;
      unsigned long long size = strtoull(c->buf + pos, &q, 16);
      if (q == c->buf + pos || (q != eol && *q != ';')) {
        s->err = -EPROTO;
        break;
      }
      pos = (size_t)(eol - c->buf) + 2;
      s->left = size;
      s->state = size ? CH_DATA : CH_TRAILER;
    } else if (s->state == CH_DATA) {
      size_t take = c->len - pos < s->left ? c->len - pos : (size_t)s->left;
      sse_append(s, c->buf + pos, take);
      pos += take;
      s->left -= take;
      if (s->left == 0)
        s->state = CH_CRLF;
    } else { /* CH_CRLF */
      if (c->len - pos < 2)
        break;
      if (memcmp(c->buf + pos, "\r\n", 2) != 0) {
        s->err = -EPROTO;
        break;
      }
      pos += 2;
      s->state = CH_SIZE;
    }
  }
  tn_consume(c, pos);
}

/* Receive once (at most timeout_ms) and parse. Returns as tn_fill. */
static int sse_fill(sse_t *s, int timeout_ms) {
  int rc = tn_fill(s->c, timeout_ms);
  sse_pump(s);
  return rc;
}

/* Open clients, so that a failed test's are freed by the teardown. */
#define MAX_CLIENTS 64
static sse_t *clients[MAX_CLIENTS];

static sse_t *sse_open(int port, const char *target, const char *last_id,
                       int rcvbuf) {
  sse_t *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  int slot = 0;
  while (slot < MAX_CLIENTS && clients[slot])
    slot++;
  if (slot == MAX_CLIENTS) {
    free(s);
    fail_msg("too many clients");
  }
  clients[slot] = s;
  s->c = tn_connect_rcvbuf(port, rcvbuf);
  assert_non_null(s->c);
  char extra[160] = "";
  if (last_id)
    snprintf(extra, sizeof extra, "Last-Event-ID: %s\r\n", last_id);
  assert_int_equal(tn_sendf(s->c, "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n",
                            target, extra),
                   0);
  return s;
}

/* Wait for the head (flushed at once by default) and check it. */
static void sse_expect_head(sse_t *s) {
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  while (!s->head_done && !s->c->eof && tn_now_ms() < deadline)
    (void)sse_fill(s, (int)(deadline - tn_now_ms()));
  assert_true(s->head_done);
  assert_int_equal(s->err, 0);
  assert_int_equal(s->status, 200);
  assert_true(s->event_stream);
  assert_true(s->chunked);
}

/* Wait until the body holds at least n bytes (or the stream ended). */
static void sse_wait_len(sse_t *s, size_t n) {
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  while (s->len < n && !s->c->eof && !s->ended && s->err == 0 &&
         tn_now_ms() < deadline)
    (void)sse_fill(s, (int)(deadline - tn_now_ms()));
}

/* The body is exactly `want` (after waiting for that many bytes); consumed. */
static void sse_expect_body(sse_t *s, const char *want) {
  size_t n = strlen(want);
  sse_wait_len(s, n);
  if (s->len != n || memcmp(s->body, want, n) != 0)
    print_error("body (%zu bytes): \"%.300s\"\nwant (%zu bytes): \"%.300s\"\n",
                s->len, s->body ? s->body : "", n, want);
  assert_int_equal(s->err, 0);
  assert_int_equal(s->len, n);
  assert_memory_equal(s->body, want, n);
  sse_consume(s, n);
}

/* Nothing more arrives for 100 ms (cannot make a correct server fail). */
static void sse_expect_silence(sse_t *s) {
  assert_int_equal(sse_fill(s, 100), -ETIMEDOUT);
  assert_int_equal(s->len, 0);
}

static void sse_free(sse_t *s) {
  if (s == NULL)
    return;
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i] == s)
      clients[i] = NULL;
  tn_close(s->c);
  free(s->body);
  free(s);
}

static void free_clients(void) {
  for (int i = 0; i < MAX_CLIENTS; i++)
    sse_free(clients[i]);
}

static void sse_abort(sse_t *s) {
  tn_abort(s->c);
  s->c = NULL;
  sse_free(s);
}

/* "id: <i>\ndata: <prefix><i>\n\n" for i in from..to. */
static char *events_text(const char *prefix, int from, int to) {
  size_t cap = (size_t)(to - from + 1) * (48 + strlen(prefix)) + 1, len = 0;
  char *s = malloc(cap);
  assert_non_null(s);
  s[0] = '\0';
  for (int i = from; i <= to; i++)
    len += (size_t)snprintf(s + len, cap - len, "id: %d\ndata: %s%d\n\n", i,
                            prefix, i);
  return s;
}

static void publish_range(const char *topic, const char *prefix, int from,
                          int to) {
  for (int i = from; i <= to; i++) {
    char p[64];
    int n = snprintf(p, sizeof p, "%s%d", prefix, i);
    assert_int_equal(hive_publish(bus, topic, p, (size_t)n), 0);
  }
}

/* ---- cases ------------------------------------------------------------------ */

static void events_in_order_on_many_connections(void **state) {
  (void)state;
  enum { MAXC = 24, N = 100 };
  sse_t *cs[MAXC];
  int n = 0;
  /* Connections go to workers by the kernel's hash: open until both
   * workers have streams (and at least 4). */
  while (n < MAXC && (n < 4 || atomic_load(&workers_seen) != 3u)) {
    cs[n] = sse_open(server.port, "/events?topic=multi", NULL, 0);
    sse_expect_head(cs[n]);
    n++;
  }
  assert_int_equal(atomic_load(&workers_seen), 3u);
  wait_subscribers((uint64_t)n);
  assert_int_equal(stats().topics, 1);
  publish_range("multi", "x", 1, N);
  char *want = events_text("x", 1, N);
  for (int i = 0; i < n; i++)
    sse_expect_body(cs[i], want);
  free(want);
  hive_stats_t st = stats();
  assert_int_equal(st.published, N);
  assert_int_equal(st.deliveries, (uint64_t)N * (uint64_t)n);
  assert_int_equal(st.drops, 0);
  assert_int_equal(st.slow_closes, 0);
  assert_int_equal(atomic_load(&events_route.closes), 0);
  for (int i = 0; i < n; i++)
    sse_free(cs[i]);
  wait_closes(&events_route, n);
  wait_subscribers(0);
  assert_int_equal(atomic_load(&events_route.reasons[HCS_CLOSE_PEER_GONE]), n);
  assert_int_equal(atomic_load(&events_route.respond_errors), 0);
}

static void last_event_id_replays_history(void **state) {
  (void)state;
  sse_t *a = sse_open(server.port, "/events?topic=r", NULL, 0);
  sse_expect_head(a);
  wait_subscribers(1);
  publish_range("r", "r", 1, 5);
  char *want = events_text("r", 1, 5);
  sse_expect_body(a, want);
  free(want);
  sse_free(a);
  wait_closes(&events_route, 1);
  wait_subscribers(0);

  /* Published while nobody listens: kept in the history (16 messages). */
  publish_range("r", "r", 6, 7);
  sse_t *b = sse_open(server.port, "/events?topic=r", "5", 0);
  sse_expect_head(b);
  assert_int_equal(atomic_load(&events_route.last_found), 1);
  sse_expect_body(b, "id: 6\ndata: r6\n\nid: 7\ndata: r7\n\n");
  publish_range("r", "r", 8, 8);
  sse_expect_body(b, "id: 8\ndata: r8\n\n");

  /* The newest id: nothing replayed, found. */
  sse_t *c = sse_open(server.port, "/events?topic=r", "8", 0);
  sse_expect_head(c);
  assert_int_equal(atomic_load(&events_route.last_found), 1);
  /* An unknown id: nothing replayed, live only, reported not found. */
  sse_t *d = sse_open(server.port, "/events?topic=r", "999", 0);
  sse_expect_head(d);
  assert_int_equal(atomic_load(&events_route.last_found), 0);
  wait_subscribers(3);
  sse_expect_silence(c);
  sse_expect_silence(d);
  publish_range("r", "r", 9, 9);
  sse_expect_body(b, "id: 9\ndata: r9\n\n");
  sse_expect_body(c, "id: 9\ndata: r9\n\n");
  sse_expect_body(d, "id: 9\ndata: r9\n\n");
  sse_free(b);
  sse_free(c);
  sse_free(d);
  wait_closes(&events_route, 4);
  wait_subscribers(0);
  assert_int_equal(stats().topics, 1); /* its history keeps it */
}

static void disconnect_unsubscribes(void **state) {
  (void)state;
  /* A reset mid-stream. */
  sse_t *a = sse_open(server.port, "/events?topic=d", NULL, 0);
  sse_expect_head(a);
  wait_subscribers(1);
  publish_range("d", "d", 1, 3);
  char *want = events_text("d", 1, 3);
  sse_expect_body(a, want);
  free(want);
  sse_abort(a);
  wait_closes(&events_route, 1);
  wait_subscribers(0);
  assert_int_equal(atomic_load(&events_route.reasons[HCS_CLOSE_PEER_GONE]), 1);
  assert_int_equal(atomic_load(&events_route.subs_at_close), 0);
  publish_range("d", "d", 4, 6); /* nobody left: no delivery */
  tn_sleep_ms(50);
  assert_int_equal(atomic_load(&events_route.closes), 1); /* exactly once */
  assert_int_equal(stats().deliveries, 3);

  /* A plain close (FIN) while idle: noticed without any write. */
  sse_t *b = sse_open(server.port, "/events?topic=d", NULL, 0);
  sse_expect_head(b);
  wait_subscribers(1);
  sse_free(b);
  wait_closes(&events_route, 2);
  wait_subscribers(0);
  tn_sleep_ms(50);
  assert_int_equal(atomic_load(&events_route.closes), 2);
  assert_int_equal(atomic_load(&events_route.reasons[HCS_CLOSE_PEER_GONE]), 2);
  assert_int_equal(stats().slow_closes, 0);
}

/* ---- slow consumers ----------------------------------------------------------- */

#define BIG 1024
#define FLOOD_MAX 20000
#define BATCH 32

static void big_payload(char *p, unsigned i) {
  char head[16];
  snprintf(head, sizeof head, "%08u", i);
  memset(p, 'a' + (int)(i % 26), BIG);
  memcpy(p, head, 8);
}

/*
 * Take the complete events at the front of s->body: each must be exactly
 * "id: <i>\ndata: <big_payload(i)>\n\n". Calls check(i) for each; returns
 * false on a malformed event.
 */
typedef struct {
  unsigned last; /* last id taken (0: none) */
  unsigned count;
  bool strict;   /* ids must be last + 1 (else only increasing) */
  bool bad;
  char why[160];
} taker_t;

static void take_events(sse_t *s, taker_t *t) {
  char want[BIG];
  while (!t->bad) {
    char *nl = memchr(s->body, '\n', s->len);
    if (nl == NULL)
      return;
    unsigned id;
    if (sscanf(s->body, "id: %u\n", &id) != 1 ||
        strncmp(s->body, "id: ", 4) != 0) {
      t->bad = true;
      snprintf(t->why, sizeof t->why, "not an id line: %.40s", s->body);
      return;
    }
    size_t head = (size_t)(nl - s->body) + 1;
    size_t total = head + 6 + BIG + 2;
    if (s->len < total)
      return;
    big_payload(want, id);
    if (memcmp(s->body + head, "data: ", 6) != 0 ||
        memcmp(s->body + head + 6, want, BIG) != 0 ||
        memcmp(s->body + head + 6 + BIG, "\n\n", 2) != 0) {
      t->bad = true;
      snprintf(t->why, sizeof t->why, "event %u is not exact", id);
      return;
    }
    if (t->strict ? id != t->last + 1 : id <= t->last) {
      t->bad = true;
      snprintf(t->why, sizeof t->why, "id %u after %u", id, t->last);
      return;
    }
    t->last = id;
    t->count++;
    sse_consume(s, total);
  }
}

/* Read s until its taker has reached id `upto` (bounded). */
static void read_upto(sse_t *s, taker_t *t, unsigned upto) {
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  take_events(s, t);
  while (t->last < upto && !t->bad && !s->c->eof && s->err == 0 &&
         tn_now_ms() < deadline) {
    (void)sse_fill(s, (int)(deadline - tn_now_ms()));
    take_events(s, t);
  }
  if (t->bad)
    print_error("%s\n", t->why);
  assert_false(t->bad);
  assert_int_equal(s->err, 0);
  assert_int_equal(t->last, upto);
}

/*
 * Flood topic with 1 KiB messages in batches, reading `good` up to date after
 * each batch, until `fired` says the policy acted, then two more batches.
 * Returns the number published (bounded by FLOOD_MAX).
 */
static unsigned flood(const char *topic, sse_t *good, taker_t *gt,
                      bool (*fired)(void)) {
  char p[BIG];
  unsigned i = 0, extra = 0;
  while (i < FLOOD_MAX && extra < 2) {
    for (int k = 0; k < BATCH; k++) {
      big_payload(p, ++i);
      assert_int_equal(hive_publish(bus, topic, p, BIG), 0);
    }
    read_upto(good, gt, i);
    if (fired())
      extra++;
  }
  if (getenv("HIVE_TEST_VERBOSE"))
    print_message("flood: %u messages, drops %" PRIu64 ", slow closes %" PRIu64
                  "\n",
                  i, stats().drops, stats().slow_closes);
  return i;
}

static bool slow_closed(void) {
  return stats().slow_closes > 0;
}

static bool dropped(void) {
  return stats().drops > 0;
}

static void slow_consumer_is_closed(void **state) {
  (void)state;
  sse_t *slow = sse_open(server.port, "/slow?topic=f", NULL, 4096);
  sse_expect_head(slow);
  sse_t *good = sse_open(server.port, "/events?topic=f", NULL, 0);
  sse_expect_head(good);
  wait_subscribers(2);

  taker_t gt = {.strict = true};
  unsigned n = flood("f", good, &gt, slow_closed);
  assert_true(n < FLOOD_MAX); /* the policy fired */
  hive_stats_t st = stats();
  assert_int_equal(st.slow_closes, 1);
  assert_int_equal(st.drops, 0);
  assert_int_equal(gt.count, n); /* every message, in order, exact */

  wait_closes(&slow_route, 1);
  assert_int_equal(atomic_load(&slow_route.reasons[HCS_CLOSE_ERROR]), 1);
  wait_subscribers(1);
  /* The slow client, reading again, finds a prefix of the stream and then
   * the end of the connection (FIN or reset), within the bound. */
  taker_t st_slow = {.strict = true};
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  while (!slow->c->eof && tn_now_ms() < deadline) {
    (void)sse_fill(slow, (int)(deadline - tn_now_ms()));
    take_events(slow, &st_slow);
  }
  assert_true(slow->c->eof);
  assert_false(st_slow.bad);
  assert_true(st_slow.count < n);
  assert_false(slow->ended); /* cut, not ended normally */

  /* The other subscriber is unaffected. */
  char p[BIG];
  big_payload(p, n + 1);
  assert_int_equal(hive_publish(bus, "f", p, BIG), 0);
  read_upto(good, &gt, n + 1);
  tn_sleep_ms(20);
  assert_int_equal(atomic_load(&slow_route.closes), 1);
  assert_int_equal(atomic_load(&events_route.closes), 0);
  assert_int_equal(stats().slow_closes, 1);
  sse_free(slow);
  sse_free(good);
}

static void slow_consumer_drops_oldest(void **state) {
  (void)state;
  sse_t *slow = sse_open(server.port, "/slow?topic=g&policy=drop", NULL, 4096);
  sse_expect_head(slow);
  sse_t *good = sse_open(server.port, "/events?topic=g", NULL, 0);
  sse_expect_head(good);
  wait_subscribers(2);

  taker_t gt = {.strict = true};
  unsigned n = flood("g", good, &gt, dropped);
  assert_true(n < FLOOD_MAX);
  assert_int_equal(gt.count, n);
  hive_stats_t st = stats();
  assert_true(st.drops > 0);
  assert_int_equal(st.slow_closes, 0);
  assert_int_equal(st.subscribers, 2);

  /* Resumed, the slow client reads what was kept, oldest first, up to the
   * newest message: each event whole, ids increasing, and exactly the
   * dropped ones missing. */
  taker_t ts = {.strict = false};
  read_upto(slow, &ts, n);
  st = stats();
  if (ts.count + st.drops != n)
    print_error("slow client read %u of %u, drops %" PRIu64 "\n", ts.count, n,
                st.drops);
  assert_int_equal(ts.count + st.drops, n);
  assert_true(ts.count < n);

  /* Still open, still subscribed: the next message arrives. */
  char p[BIG];
  big_payload(p, n + 1);
  assert_int_equal(hive_publish(bus, "g", p, BIG), 0);
  read_upto(slow, &ts, n + 1);
  read_upto(good, &gt, n + 1);
  assert_int_equal(atomic_load(&slow_route.closes), 0);
  assert_int_equal(stats().subscribers, 2);
  assert_int_equal(stats().drops, st.drops);
  sse_free(slow);
  sse_free(good);
  wait_closes(&slow_route, 1);
  wait_closes(&events_route, 1);
}

/* ---- options and errors --------------------------------------------------------- */

static void filter_and_replay_all(void **state) {
  (void)state;
  publish_range("fa", "drop", 1, 2);
  publish_range("fa", "keep", 3, 4);
  /* replay_all without Last-Event-ID: the whole history, then live. */
  sse_t *all = sse_open(server.port, "/events?topic=fa&all=1", NULL, 0);
  sse_expect_head(all);
  sse_expect_body(all, "id: 1\ndata: drop1\n\nid: 2\ndata: drop2\n\n"
                       "id: 3\ndata: keep3\n\nid: 4\ndata: keep4\n\n");
  /* A filter applies to replayed and live messages alike. */
  sse_t *f = sse_open(server.port, "/events?topic=fa&all=1&filter=1", NULL, 0);
  sse_expect_head(f);
  sse_expect_body(f, "id: 3\ndata: keep3\n\nid: 4\ndata: keep4\n\n");
  sse_t *fl = sse_open(server.port, "/events?topic=fa&filter=1", "3", 0);
  sse_expect_head(fl);
  sse_expect_body(fl, "id: 4\ndata: keep4\n\n");
  wait_subscribers(3);
  publish_range("fa", "drop", 5, 5);
  publish_range("fa", "keep", 6, 6);
  sse_expect_body(all, "id: 5\ndata: drop5\n\nid: 6\ndata: keep6\n\n");
  sse_expect_body(f, "id: 6\ndata: keep6\n\n");
  sse_expect_body(fl, "id: 6\ndata: keep6\n\n");
  sse_free(all);
  sse_free(f);
  sse_free(fl);
  wait_closes(&events_route, 3);
  wait_subscribers(0);
}

static void respond_errors_leave_nothing(void **state) {
  (void)state;
  tn_response_t r;
  assert_int_equal(tn_roundtrip(server.port, "GET /bad HTTP/1.1\r\nHost: t\r\n\r\n",
                                &r),
                   0);
  assert_int_equal(r.status, 200);
  tn_response_free(&r);
  for (int i = 0; i < BAD_CALLS; i++) {
    if (atomic_load(&bad_rc[i]) != HCS_EINVAL)
      print_error("bad call %d returned %d\n", i, atomic_load(&bad_rc[i]));
    assert_int_equal(atomic_load(&bad_rc[i]), HCS_EINVAL);
  }
  assert_int_equal(atomic_load(&bad_subs_after), 0);
  /* Not on a worker thread. */
  hive_sse_options_t o;
  hive_sse_options_init(&o);
  o.sse.on_close = on_close;
  o.sse.ud = &bad_route;
  const char *one[] = {"okA"};
  hcs_response_t *res = NULL;
  assert_int_equal(hive_sse_respond(&res, bus, one, 1, &o), HCS_ESTATE);
  assert_null(res);
  tn_sleep_ms(50);
  assert_int_equal(atomic_load(&bad_route.closes), 0); /* never on failure */
  hive_stats_t st = stats();
  assert_int_equal(st.subscribers, 0);
  assert_int_equal(st.topics, 0);
}

/*
 * A replay larger than the queue bound allows a burst (8 times the bound
 * while the socket keeps up), under HIVE_SLOW_CLOSE: the policy fires while
 * the handler is still running; it is counted once, the subscription ends
 * and the client's stream ends.
 */
static void replay_over_bound_is_slow(void **state) {
  (void)state;
  enum { BIG8 = 40 * 1024 };
  char *p = malloc(BIG8);
  assert_non_null(p);
  memset(p, 'z', BIG8);
  for (int i = 0; i < 16; i++)
    assert_int_equal(hive_publish(bus, "ro", p, BIG8), 0);
  free(p);
  /* After id 1: 15 x 40 KiB = 600 KiB > 8 x the 64 KiB bound of /slow. */
  sse_t *s = sse_open(server.port, "/slow?topic=ro", "1", 0);
  int64_t deadline = tn_now_ms() + TN_WAIT_MS;
  while (!s->c->eof && !s->ended && tn_now_ms() < deadline)
    (void)sse_fill(s, (int)(deadline - tn_now_ms()));
  assert_true(s->c->eof || s->ended);
  assert_int_equal(stats().slow_closes, 1);
  wait_closes(&slow_route, 1);
  wait_subscribers(0);
  if (atomic_load(&slow_route.reasons[HCS_CLOSE_ERROR]) != 1)
    print_error("close reasons: finished %d, peer gone %d, shutdown %d, "
                "error %d; client: eof %d, last chunk %d, %zu body bytes\n",
                atomic_load(&slow_route.reasons[0]),
                atomic_load(&slow_route.reasons[1]),
                atomic_load(&slow_route.reasons[2]),
                atomic_load(&slow_route.reasons[3]), s->c->eof, s->ended,
                s->len);
  /* "closes the connection at once": the connection, not just the stream. */
  assert_int_equal(atomic_load(&slow_route.reasons[HCS_CLOSE_ERROR]), 1);
  assert_true(s->c->eof);
  assert_false(s->ended);
  sse_free(s);
}

/* ---- shutdown --------------------------------------------------------------------- */

static void shutdown_ends_streams(void **state) {
  (void)state;
  enum { N = 3 };
  sse_t *cs[N + 1];
  for (int i = 0; i < N; i++) {
    cs[i] = sse_open(server.port, "/events?topic=s", NULL, 0);
    sse_expect_head(cs[i]);
  }
  cs[N] = sse_open(server.port, "/slow?topic=s2&policy=drop", NULL, 0);
  sse_expect_head(cs[N]);
  wait_subscribers(N + 1);
  publish_range("s", "s", 1, 2);
  publish_range("s2", "t", 1, 1);
  for (int i = 0; i < N; i++)
    sse_expect_body(cs[i], "id: 1\ndata: s1\n\nid: 2\ndata: s2\n\n");
  sse_expect_body(cs[N], "id: 1\ndata: t1\n\n");

  hcs_server_stop(server.srv);
  /* Clients see each stream end (last chunk), then the connection's end;
   * closing then lets the server finish without its lingering delay. */
  for (int i = 0; i <= N; i++) {
    int64_t deadline = tn_now_ms() + TN_WAIT_MS;
    while (!cs[i]->c->eof && tn_now_ms() < deadline)
      (void)sse_fill(cs[i], (int)(deadline - tn_now_ms()));
    assert_true(cs[i]->c->eof);
    assert_int_equal(cs[i]->err, 0);
    assert_true(cs[i]->ended);
    assert_int_equal(cs[i]->len, 0); /* nothing after the messages */
    sse_free(cs[i]);
  }
  assert_int_equal(tn_server_wait(&server, TN_WAIT_MS), 0);
  /* Every stream ended with its close callback before the workers
   * stopped; nothing is subscribed any more. */
  assert_int_equal(atomic_load(&events_route.closes), N);
  assert_int_equal(atomic_load(&slow_route.closes), 1);
  assert_int_equal(atomic_load(&events_route.reasons[HCS_CLOSE_SHUTDOWN]), N);
  assert_int_equal(atomic_load(&slow_route.reasons[HCS_CLOSE_SHUTDOWN]), 1);
  hive_stats_t st = stats();
  assert_int_equal(st.subscribers, 0);
  assert_int_equal(st.topics, 2); /* kept for their history */
  /* Publishing after the stop is harmless (history only). */
  publish_range("s", "s", 3, 3);
  assert_int_equal(stats().deliveries, st.deliveries);
  /* teardown: hive_bus_free after the stop, then the server. */
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(events_in_order_on_many_connections),
      T(last_event_id_replays_history),
      T(disconnect_unsubscribes),
      T(slow_consumer_is_closed),
      T(slow_consumer_drops_oldest),
      T(filter_and_replay_all),
      T(respond_errors_leave_nothing),
      T(replay_over_bound_is_slow),
      T(shutdown_ends_streams),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
