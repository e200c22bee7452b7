/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_abuse_http.c: hostile clients against a real hcs
 * server (in-process, 2 workers, loopback), beyond the single-connection
 * cases of test_http_limits.c:
 *
 *  - slowloris: 500 connections trickle a request head a byte at a time
 *    and 100 more send nothing; every one is answered 408 and closed at the
 *    header timeout (not before), counted in the stats, while a normal
 *    client keeps being served during the attack;
 *  - slow body ("R-U-Dead-Yet"): 200 connections send a complete head and
 *    then trickle the body; all are closed within a bounded wait while a
 *    normal client is served;
 *  - request smuggling: framing tricks test_http_limits.c does not try
 *    (transfer-coding lists and lines, Content-Length overflow and
 *    garbage, chunk-size and trailer tricks, NUL and high bytes, duplicate
 *    Host, pipelining after an error or after "Connection: close"), each
 *    sent three ways: in one write, a byte per write, and behind a good
 *    request on the same connection. Routes count their calls, so "no
 *    second request was processed from the smuggled bytes" is an exact
 *    count, not an inference from the bytes on the wire. Positive controls
 *    show the same bytes carried legitimately as a body are a body.
 *
 * Every wait is bounded; the timeouts configured are small so the cases
 * stay fast, and they are used as upper bounds for waiting, except the
 * slowloris lower bound (a connection must not be cut before its
 * deadline). Run one case: ./test_abuse_http <case-name-glob>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testnet.h"

#define MAX_HEADER 4096
#define MAX_BODY 4096

/* ---- handlers ------------------------------------------------------------ */

static atomic_int hello_calls;
static atomic_int secret_calls; /* GET or POST /secret: the smuggled one */
static atomic_int echo_calls;

static hcs_response_t *h_hello(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  atomic_fetch_add(&hello_calls, 1);
  return tn_text(200, "hello", 5);
}

static hcs_response_t *h_secret(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  atomic_fetch_add(&secret_calls, 1);
  return tn_text(200, "SECRET", 6);
}

static hcs_response_t *h_echo(hcs_request_t *req, void *ud) {
  (void)ud;
  atomic_fetch_add(&echo_calls, 1);
  hcs_str_t body = hcs_request_body(req);
  return tn_text(200, body.base, body.len);
}

static const tn_route_t routes[] = {
    {"GET", "/hello", 0, h_hello, NULL},
    {"GET", "/secret", 0, h_secret, NULL},
    {"POST", "/secret", 0, h_secret, NULL},
    {"POST", "/echo", 0, h_echo, NULL},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- fixture ------------------------------------------------------------- */

static tn_server_t server;

static void abuse_config(hcs_server_config_t *cfg) {
  tn_config(cfg);
  cfg->max_header_bytes = MAX_HEADER;
  cfg->max_body_bytes = MAX_BODY;
}

static int start_with(const hcs_server_config_t *cfg) {
  atomic_store(&hello_calls, 0);
  atomic_store(&secret_calls, 0);
  atomic_store(&echo_calls, 0);
  int rc = tn_server_start(&server, cfg, routes, NROUTES);
  if (rc < 0)
    fprintf(stderr, "server start: %s\n", hcs_strerror(rc));
  return rc;
}

static int setup(void **state) {
  hcs_server_config_t cfg;
  abuse_config(&cfg);
  if (start_with(&cfg) < 0)
    return -1;
  *state = &server;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tn_cleanup(); /* connections first: a stop waits for them otherwise */
  int rc = tn_server_free(&server, TN_WAIT_MS);
  return rc;
}

/* ---- helpers ------------------------------------------------------------- */

static void print_bytes(const char *label, const char *p, size_t n) {
  char out[600];
  size_t o = 0;
  for (size_t i = 0; i < n && o < sizeof(out) - 8; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch == '\r') {
      out[o++] = '\\';
      out[o++] = 'r';
    } else if (ch == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else if (ch < 32 || ch > 126) {
      o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", ch);
    } else {
      out[o++] = (char)ch;
    }
  }
  out[o] = '\0';
  print_message("%s: \"%s\"%s\n", label, out,
                o >= sizeof(out) - 8 ? "..." : "");
}

/* A good request on a fresh connection is answered 200 "hello". Returns
 * true when it was (no assertion: the slowloris loop counts). */
static bool serves_hello(int port) {
  tn_response_t r;
  int rc = tn_roundtrip(port, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r);
  bool ok = rc == 0 && r.status == 200 && r.body_len == 5 &&
            memcmp(r.body, "hello", 5) == 0;
  if (!ok)
    print_message("normal request: rc %d, status %d\n", rc, r.status);
  tn_response_free(&r);
  return ok;
}

/* ---- slowloris ----------------------------------------------------------- */

#define LORIS 500  /* connections trickling a head */
#define SILENT 100 /* connections that send nothing */
#define LORIS_TIMEOUT 1000
#define LORIS_BOUND_MS 15000 /* generous bound for all of them to end */

typedef struct {
  tn_conn_t *c;
  int64_t connected_ms;
  int64_t ended_ms; /* 0 while open */
  size_t sent;
  int status; /* the response's status, 0 if none */
} loris_t;

/* Read what arrived on l without waiting; note a response and the end. */
static void loris_poll(loris_t *l) {
  if (l->ended_ms)
    return;
  int rc;
  while ((rc = tn_fill(l->c, 0)) > 0) {
  }
  if (l->status == 0 && l->c->len >= 12 &&
      strncmp(l->c->buf, "HTTP/1.1 ", 9) == 0)
    l->status = atoi(l->c->buf + 9);
  if (l->c->eof)
    l->ended_ms = tn_now_ms();
}

static void slowloris_closed_at_header_timeout(void **state) {
  (void)state;
  hcs_server_config_t cfg;
  abuse_config(&cfg);
  cfg.header_timeout_ms = LORIS_TIMEOUT;
  assert_int_equal(start_with(&cfg), 0);
  tn_server_t *ts = &server;

  static loris_t conns[LORIS + SILENT];
  memset(conns, 0, sizeof(conns));
  /* A head that never ends: the X-Slow value grows forever. */
  static const char head[] = "GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: ";
  for (int i = 0; i < LORIS + SILENT; i++) {
    conns[i].c = tn_connect(ts->port);
    if (conns[i].c == NULL)
      print_message("connect %d: %s\n", i, strerror(errno));
    assert_non_null(conns[i].c);
    conns[i].connected_ms = tn_now_ms();
  }

  int64_t start = tn_now_ms(), last_normal = 0;
  int normal_ok = 0, normal_bad = 0, open = LORIS + SILENT;
  int normal_under_full_attack = 0; /* served while no attacker had ended */
  while (open > 0 && tn_now_ms() - start < LORIS_BOUND_MS) {
    /* One more byte on each trickling connection still open. */
    for (int i = 0; i < LORIS; i++) {
      loris_t *l = &conns[i];
      if (l->ended_ms)
        continue;
      char ch = l->sent < sizeof(head) - 1 ? head[l->sent] : 's';
      if (tn_send(l->c, &ch, 1) == 0)
        l->sent++;
    }
    open = 0;
    for (int i = 0; i < LORIS + SILENT; i++) {
      loris_poll(&conns[i]);
      open += conns[i].ended_ms == 0;
    }
    /* A normal client, every 100 ms, during the attack. */
    if (open > 0 && tn_now_ms() - last_normal >= 100) {
      if (serves_hello(ts->port)) {
        normal_ok++;
        normal_under_full_attack += open == LORIS + SILENT;
      } else {
        normal_bad++;
      }
      last_normal = tn_now_ms();
    }
    tn_sleep_ms(20);
  }

  int early = 0, no_408 = 0, still_open = 0;
  size_t min_sent = SIZE_MAX;
  for (int i = 0; i < LORIS + SILENT; i++) {
    loris_t *l = &conns[i];
    if (l->ended_ms == 0) {
      still_open++;
      continue;
    }
    /* The deadline runs from the accept, which follows the connect: an end
     * earlier than the timeout (less 10% for the loop's cached clock) is a
     * connection cut before its time. */
    if (l->ended_ms - l->connected_ms < LORIS_TIMEOUT - 100)
      early++;
    if (l->status != 408)
      no_408++;
    if (i < LORIS && l->sent < min_sent)
      min_sent = l->sent;
  }
  print_message("slowloris: %d of %d connections still open at the end "
                "(bound %d ms); %d ended before the timeout; %d without a 408; "
                "fewest bytes trickled %zu; normal requests during the attack: "
                "%d ok (%d with every attacker connected), %d failed\n",
                still_open, LORIS + SILENT, LORIS_BOUND_MS, early, no_408,
                min_sent, normal_ok, normal_under_full_attack, normal_bad);
  assert_int_equal(still_open, 0);
  assert_int_equal(early, 0);
  assert_int_equal(no_408, 0);
  assert_int_equal(normal_bad, 0);
  assert_true(normal_under_full_attack >= 1);
  /* Each trickled well past the moment the head could have completed. */
  assert_true(min_sent > 10);
  assert_int_equal(atomic_load(&hello_calls), normal_ok);
  hcs_server_stats_t st = tn_stats(ts);
  assert_int_equal(st.timeouts, LORIS + SILENT);
  TN_WAIT_UNTIL(tn_stats(ts).connections_open == 0, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).connections_open, 0);
  for (int i = 0; i < LORIS + SILENT; i++)
    tn_close(conns[i].c);
  assert_true(serves_hello(ts->port));
}

/* ---- slow body ----------------------------------------------------------- */

#define RUDY 200

static void slow_body_is_cut(void **state) {
  (void)state;
  hcs_server_config_t cfg;
  abuse_config(&cfg);
  cfg.header_timeout_ms = LORIS_TIMEOUT;
  assert_int_equal(start_with(&cfg), 0);
  tn_server_t *ts = &server;

  static loris_t conns[RUDY];
  memset(conns, 0, sizeof(conns));
  for (int i = 0; i < RUDY; i++) {
    conns[i].c = tn_connect(ts->port);
    assert_non_null(conns[i].c);
    conns[i].connected_ms = tn_now_ms();
    /* A complete head announcing a body that arrives a byte at a time. */
    assert_int_equal(tn_send_str(conns[i].c,
                                 "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                 "Content-Length: 4000\r\n\r\n"),
                     0);
  }
  int64_t start = tn_now_ms(), last_normal = 0;
  int normal_ok = 0, normal_bad = 0, open = RUDY;
  while (open > 0 && tn_now_ms() - start < LORIS_BOUND_MS) {
    for (int i = 0; i < RUDY; i++) {
      if (conns[i].ended_ms == 0 && tn_send(conns[i].c, "b", 1) == 0)
        conns[i].sent++;
    }
    open = 0;
    for (int i = 0; i < RUDY; i++) {
      loris_poll(&conns[i]);
      open += conns[i].ended_ms == 0;
    }
    if (open > 0 && tn_now_ms() - last_normal >= 100) {
      if (serves_hello(ts->port))
        normal_ok++;
      else
        normal_bad++;
      last_normal = tn_now_ms();
    }
    tn_sleep_ms(20);
  }
  int still_open = 0, answered_200 = 0;
  for (int i = 0; i < RUDY; i++) {
    still_open += conns[i].ended_ms == 0;
    answered_200 += conns[i].status == 200;
  }
  print_message("slow body: %d of %d still open at the end (bound %d ms), %d "
                "answered 200 "
                "(status of the first: %d); normal requests: %d ok, %d "
                "failed\n",
                still_open, RUDY, LORIS_BOUND_MS, answered_200, conns[0].status,
                normal_ok, normal_bad);
  assert_int_equal(still_open, 0);
  assert_int_equal(answered_200, 0);
  assert_int_equal(atomic_load(&echo_calls), 0);
  assert_int_equal(normal_bad, 0);
  assert_true(normal_ok >= 1);
  TN_WAIT_UNTIL(tn_stats(ts).connections_open == 0, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).connections_open, 0);
  assert_true(serves_hello(ts->port));
}

/* ---- smuggling ----------------------------------------------------------- */

#define SMUGGLED "GET /secret HTTP/1.1\r\nHost: t\r\n\r\n"
#define SMUGGLED_LEN "33" /* strlen(SMUGGLED) */

typedef struct {
  const char *name;
  const char *req;
  size_t len; /* the literal's length: it may hold NUL bytes */
  int status; /* the one response expected */
  bool close; /* the connection must close after it */
} vector_t;

#define V(name, lit, status, close)                                            \
  { name, lit, sizeof(lit) - 1, status, close }

#define POST_ECHO "POST /echo HTTP/1.1\r\nHost: t\r\n"
#define TE_CHUNKED_BODY "0\r\n\r\n"

/* Rejected: one error response, then the close; nothing reaches a route. */
static const vector_t rejected[] = {
    V("TE chunked, identity",
      POST_ECHO
      "Transfer-Encoding: chunked, identity\r\n\r\n" TE_CHUNKED_BODY SMUGGLED,
      400, true),
    V("TE chunked + identity lines",
      POST_ECHO "Transfer-Encoding: chunked\r\nTransfer-Encoding: "
                "identity\r\n\r\n" TE_CHUNKED_BODY SMUGGLED,
      400, true),
    V("TE chunked, chunked",
      POST_ECHO
      "Transfer-Encoding: chunked, chunked\r\n\r\n" TE_CHUNKED_BODY SMUGGLED,
      501, true),
    V("TE gzip + chunked lines",
      POST_ECHO "Transfer-Encoding: gzip\r\nTransfer-Encoding: "
                "chunked\r\n\r\n" TE_CHUNKED_BODY SMUGGLED,
      501, true),
    V("TE xchunked",
      POST_ECHO "Transfer-Encoding: xchunked\r\n\r\n" TE_CHUNKED_BODY SMUGGLED,
      400, true),
    V("TE chunked with parameter",
      POST_ECHO
      "Transfer-Encoding: chunked;q=1\r\n\r\n" TE_CHUNKED_BODY SMUGGLED,
      400, true),
    V("TE empty list element",
      POST_ECHO "Transfer-Encoding: ,chunked\r\n\r\n" TE_CHUNKED_BODY SMUGGLED,
      400, true),
    V("TE empty value",
      POST_ECHO
      "Transfer-Encoding: \r\nContent-Length: 5\r\n\r\n" TE_CHUNKED_BODY
          SMUGGLED,
      400, true),
    V("TE vertical tab",
      POST_ECHO "Transfer-Encoding:\x0b"
                "chunked\r\n\r\n" TE_CHUNKED_BODY SMUGGLED,
      400, true),
    V("TE name with trailing tab",
      POST_ECHO "Transfer-Encoding\t: chunked\r\n\r\n" TE_CHUNKED_BODY SMUGGLED,
      400, true),
    V("TE in HTTP/1.0",
      "POST /echo HTTP/1.0\r\nTransfer-Encoding: "
      "chunked\r\n\r\n" TE_CHUNKED_BODY SMUGGLED,
      400, true),
    V("CL wraps 2^64",
      POST_ECHO "Content-Length: 18446744073709551617\r\n\r\n"
                "x" SMUGGLED,
      400, true),
    V("CL over INT64_MAX",
      POST_ECHO "Content-Length: 9223372036854775808\r\n\r\n" SMUGGLED, 400,
      true),
    V("CL empty list element", POST_ECHO "Content-Length: 0,\r\n\r\n" SMUGGLED,
      400, true),
    V("CL trailing garbage", POST_ECHO "Content-Length: 0x\r\n\r\n" SMUGGLED,
      400, true),
    V("CL inner space", POST_ECHO "Content-Length: 3 3\r\n\r\n" SMUGGLED, 400,
      true),
    V("CL empty", POST_ECHO "Content-Length: \r\n\r\n" SMUGGLED, 400, true),
    V("CL twice differing (0, 33) lines",
      POST_ECHO "Content-Length: 33\r\nContent-Length: 0\r\n\r\n" SMUGGLED, 400,
      true),
    V("chunk size with leading space",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                " 0\r\n\r\n" SMUGGLED,
      400, true),
    V("chunk size negative",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "-1\r\n\r\n" SMUGGLED,
      400, true),
    V("chunk size line bare LF",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "5\nhello\r\n0\r\n\r\n" SMUGGLED,
      400, true),
    V("chunk data too long",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "2\r\nhello\r\n0\r\n\r\n" SMUGGLED,
      400, true),
    V("chunk data end bare LF",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\n0\r\n\r\n" SMUGGLED,
      400, true),
    V("last chunk bare LF",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "0\n\n" SMUGGLED,
      400, true),
    V("trailer holds the request",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "0\r\n" SMUGGLED,
      400, true),
    V("trailer obs-fold",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "0\r\nX: a\r\n b\r\n\r\n" SMUGGLED,
      400, true),
    V("chunk extension bare LF",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "5;a=b\nhello\r\n0\r\n\r\n" SMUGGLED,
      400, true),
    V("chunk extension NUL",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "5;a=\0\r\nhello\r\n0\r\n\r\n" SMUGGLED,
      400, true),
    V("chunk size 2^64+5",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "10000000000000005\r\nhello\r\n0\r\n\r\n" SMUGGLED,
      400, true),
    V("NUL in field name",
      "GET /hello HTTP/1.1\r\nHost: t\r\nX-\0A: v\r\n\r\n" SMUGGLED, 400, true),
    V("NUL in target", "GET /hel\0lo HTTP/1.1\r\nHost: t\r\n\r\n" SMUGGLED, 400,
      true),
    V("high byte in field name",
      "GET /hello HTTP/1.1\r\nHost: t\r\nX\x80: v\r\n\r\n" SMUGGLED, 400, true),
    V("duplicate Host",
      "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" SMUGGLED, 400, true),
    V("Host with space", "GET /hello HTTP/1.1\r\nHost: a b\r\n\r\n" SMUGGLED,
      400, true),
    V("double space in request line",
      "GET  /hello HTTP/1.1\r\nHost: t\r\n\r\n" SMUGGLED, 400, true),
    V("tab in request line", "GET\t/hello HTTP/1.1\r\nHost: t\r\n\r\n" SMUGGLED,
      400, true),
    V("space before method", " GET /hello HTTP/1.1\r\nHost: t\r\n\r\n" SMUGGLED,
      400, true),
    V("bad Connection syntax",
      "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: clo se\r\n\r\n" SMUGGLED,
      400, true),
    V("over max body, then request",
      POST_ECHO "Content-Length: 99999\r\n\r\n" SMUGGLED, 413, true),
};

/* Accepted: the smuggled bytes are a body or come after a response that
 * ends the connection; `status` is the first response, and /secret must
 * never run. */
typedef struct {
  const char *name;
  const char *req;
  size_t len;
  int status;
  int hello, echo;  /* calls expected */
  const char *body; /* expected body of the first response, or NULL */
  bool close;       /* the server must close after the first response */
} control_t;

#define C(name, lit, status, hello, echo, body, close)                         \
  { name, lit, sizeof(lit) - 1, status, hello, echo, body, close }

static const control_t controls[] = {
    C("GET with a body",
      "GET /hello HTTP/1.1\r\nHost: t\r\nContent-Length: " SMUGGLED_LEN
      "\r\n\r\n" SMUGGLED,
      200, 1, 0, "hello", false),
    C("body is a request",
      POST_ECHO "Content-Length: " SMUGGLED_LEN "\r\n\r\n" SMUGGLED, 200, 0, 1,
      SMUGGLED, false),
    C("chunked body is a request",
      POST_ECHO "Transfer-Encoding: chunked\r\n\r\n"
                "21\r\n" SMUGGLED "\r\n0\r\n\r\n",
      200, 0, 1, SMUGGLED, false),
    C("equal CL lines",
      POST_ECHO "Content-Length: 033\r\nContent-Length: 33\r\n\r\n" SMUGGLED,
      200, 0, 1, SMUGGLED, false),
    C("pipelined after Connection: close",
      "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" SMUGGLED,
      200, 1, 0, "hello", true),
    C("pipelined after HTTP/1.0", "GET /hello HTTP/1.0\r\n\r\n" SMUGGLED, 200,
      1, 0, "hello", true),
};

typedef enum { WHOLE, BYTEWISE, BEHIND_GOOD } delivery_t;
static const char *const delivery_name[] = {"in one write", "a byte per write",
                                            "behind a good request"};

/* Send req one way; a failed send (the server closed early) is fine. */
static void deliver(tn_conn_t *c, const char *req, size_t len, delivery_t how) {
  if (how == BEHIND_GOOD)
    (void)tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  if (how != BYTEWISE) {
    (void)tn_send(c, req, len);
    return;
  }
  for (size_t i = 0; i < len; i++) {
    if (tn_send(c, req + i, 1) < 0)
      return;
    /* Let the server see the bytes one by one, now and then. */
    if (i % 16 == 0)
      (void)tn_fill(c, 0);
  }
}

/* Expect exactly one response with `status` (after the good request's 200
 * when BEHIND_GOOD), then, with must_close, the close with nothing after.
 * body (may be NULL) is the expected body. Returns true when it matched. */
static bool expect(tn_conn_t *c, delivery_t how, int status, const char *body,
                   bool must_close, const char *name, const char *req,
                   size_t len) {
  tn_response_t r;
  int rc;
  if (how == BEHIND_GOOD) {
    rc = tn_read_response(c, &r, 0, TN_WAIT_MS);
    bool ok = rc == 0 && r.status == 200 && strcmp(r.body, "hello") == 0;
    tn_response_free(&r);
    if (!ok) {
      print_message("%s (%s): the good request before it was not answered "
                    "200 (rc %d)\n",
                    name, delivery_name[how], rc);
      return false;
    }
  }
  rc = tn_read_response(c, &r, 0, TN_WAIT_MS);
  bool ok = rc == 0 && r.status == status &&
            (body == NULL || (r.body_len == strlen(body) &&
                              memcmp(r.body, body, r.body_len) == 0));
  if (!ok) {
    print_message("%s (%s): expected %d, got rc %d status %d\n", name,
                  delivery_name[how], status, rc, r.status);
    print_bytes("  request", req, len);
    if (r.head)
      print_bytes("  response head", r.head, strlen(r.head));
    if (r.body)
      print_bytes("  response body", r.body, r.body_len);
  }
  tn_response_free(&r);
  if (!ok)
    return false;
  if (must_close) {
    rc = tn_read_eof(c, TN_WAIT_MS);
    if (rc != 0 || c->len != 0) {
      print_message("%s (%s): after the %d: %s\n", name, delivery_name[how],
                    status,
                    rc != 0 ? "the connection stayed open" : "more bytes");
      if (c->len)
        print_bytes("  bytes after the response", c->buf, c->len);
      return false;
    }
  } else {
    /* Kept open: the next response is the one to the next request, so
     * nothing was answered in between (the smuggled bytes were a body). */
    (void)tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    rc = tn_read_response(c, &r, 0, TN_WAIT_MS);
    ok = rc == 0 && r.status == 200 && strcmp(r.body, "hello") == 0;
    if (!ok) {
      print_message("%s (%s): the next request got rc %d status %d\n", name,
                    delivery_name[how], rc, r.status);
      if (r.body)
        print_bytes("  its body", r.body, r.body_len);
    }
    tn_response_free(&r);
    return ok;
  }
  return true;
}

static void smuggling_vectors_rejected(void **state) {
  tn_server_t *ts = *state;
  size_t n = sizeof(rejected) / sizeof(rejected[0]);
  int failures = 0, runs = 0;
  for (size_t i = 0; i < n; i++) {
    const vector_t *v = &rejected[i];
    for (int how = WHOLE; how <= BEHIND_GOOD; how++) {
      tn_conn_t *c = tn_connect(ts->port);
      assert_non_null(c);
      deliver(c, v->req, v->len, (delivery_t)how);
      if (!expect(c, (delivery_t)how, v->status, NULL, v->close, v->name,
                  v->req, v->len))
        failures++;
      tn_close(c);
      runs++;
      if (!serves_hello(ts->port))
        failures++;
    }
  }
  int hello_expected = runs /* serves_hello */ + (int)n /* BEHIND_GOOD */;
  print_message("%zu vectors x 3 deliveries: %d failures; /secret ran %d "
                "times, /echo %d, /hello %d (expected %d)\n",
                n, failures, atomic_load(&secret_calls),
                atomic_load(&echo_calls), atomic_load(&hello_calls),
                hello_expected);
  assert_int_equal(failures, 0);
  assert_int_equal(atomic_load(&secret_calls), 0);
  assert_int_equal(atomic_load(&echo_calls), 0);
  assert_int_equal(atomic_load(&hello_calls), hello_expected);
  TN_WAIT_UNTIL(tn_stats(ts).bad_requests == (uint64_t)runs, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).bad_requests, runs);
}

static void smuggled_bytes_stay_a_body(void **state) {
  tn_server_t *ts = *state;
  size_t n = sizeof(controls) / sizeof(controls[0]);
  int failures = 0, hello = 0, echo = 0;
  for (size_t i = 0; i < n; i++) {
    const control_t *v = &controls[i];
    for (int how = WHOLE; how <= BEHIND_GOOD; how++) {
      tn_conn_t *c = tn_connect(ts->port);
      assert_non_null(c);
      deliver(c, v->req, v->len, (delivery_t)how);
      if (!expect(c, (delivery_t)how, v->status, v->body, v->close, v->name,
                  v->req, v->len))
        failures++;
      tn_close(c);
      hello += v->hello + (how == BEHIND_GOOD) + !v->close;
      echo += v->echo;
    }
  }
  print_message("%zu controls x 3 deliveries: %d failures; /secret ran %d "
                "times; /hello %d (expected %d), /echo %d (expected %d)\n",
                n, failures, atomic_load(&secret_calls),
                atomic_load(&hello_calls), hello, atomic_load(&echo_calls),
                echo);
  assert_int_equal(failures, 0);
  assert_int_equal(atomic_load(&secret_calls), 0);
  assert_int_equal(atomic_load(&hello_calls), hello);
  assert_int_equal(atomic_load(&echo_calls), echo);
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TC(fn) cmocka_unit_test_teardown(fn, teardown)
  const struct CMUnitTest tests[] = {
      TC(slowloris_closed_at_header_timeout),
      TC(slow_body_is_cut),
      T(smuggling_vectors_rejected),
      T(smuggled_bytes_stay_a_body),
  };
#undef T
#undef TC
  return cmocka_run_group_tests(tests, NULL, NULL);
}
