/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_http_basic.c: the HTTP/1.1 happy paths of a real
 * hcs server over loopback, with raw sockets and curl: fixed bodies and the
 * Date/Server/Content-Length fields, 404/405/501 routing answers, HEAD,
 * request bodies (Content-Length and chunked), keep-alive on HTTP/1.1 and
 * HTTP/1.0, pipelining order, Expect: 100-continue, query and path decoding,
 * requests split into 1-byte writes.
 *
 * Each case starts its own server (2 workers) on an ephemeral port; the
 * handlers run on the workers and only touch atomics.
 * Run one case: ./test_http_basic <case-name-glob>
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
#include <unistd.h>

#include "testnet.h"

/* ---- handlers ------------------------------------------------------------ */

static atomic_int echo_calls; /* POST /echo handler runs */

/* A small string builder for handler output. */
typedef struct {
  char buf[4096];
  size_t len;
} sb_t;

static void sb_addn(sb_t *sb, const char *s, size_t n) {
  if (n > sizeof(sb->buf) - 1 - sb->len)
    n = sizeof(sb->buf) - 1 - sb->len;
  if (n)
    memcpy(sb->buf + sb->len, s, n);
  sb->len += n;
  sb->buf[sb->len] = '\0';
}

static void sb_add(sb_t *sb, const char *s) {
  sb_addn(sb, s, strlen(s));
}

static void sb_str(sb_t *sb, hcs_str_t s) {
  sb_addn(sb, s.base, s.len);
}

static hcs_response_t *h_hello(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  return tn_text(200, "Hello, world!\n", 14);
}

static hcs_response_t *h_echo(hcs_request_t *req, void *ud) {
  (void)ud;
  atomic_fetch_add(&echo_calls, 1);
  hcs_str_t body = hcs_request_body(req);
  return tn_text(200, body.base, body.len);
}

/* Reply with a fixed string given as ud. */
static hcs_response_t *h_const(hcs_request_t *req, void *ud) {
  (void)req;
  return tn_text(200, ud, strlen(ud));
}

/* Reply with the method, decoded path and raw target. */
static hcs_response_t *h_where(hcs_request_t *req, void *ud) {
  (void)ud;
  sb_t sb = {.len = 0};
  sb_add(&sb, "method=");
  sb_str(&sb, hcs_request_method(req));
  sb_add(&sb, " path=");
  sb_str(&sb, hcs_request_path(req));
  sb_add(&sb, " target=");
  sb_str(&sb, hcs_request_target(req));
  return tn_text(200, sb.buf, sb.len);
}

/* Reply with q (first), every x, and the raw query. */
static hcs_response_t *h_query(hcs_request_t *req, void *ud) {
  (void)ud;
  sb_t sb = {.len = 0};
  hcs_str_t v;
  sb_add(&sb, "q=");
  if (hcs_request_query_param(req, "q", &v) == 0) {
    sb_add(&sb, "[");
    sb_str(&sb, v);
    sb_add(&sb, "]");
  } else {
    sb_add(&sb, "none");
  }
  sb_add(&sb, " x=");
  size_t it = 0;
  while (hcs_request_query_next(req, "x", &it, &v) == 0) {
    sb_add(&sb, "[");
    sb_str(&sb, v);
    sb_add(&sb, "]");
  }
  sb_add(&sb, " raw=");
  sb_str(&sb, hcs_request_query(req));
  return tn_text(200, sb.buf, sb.len);
}

/* Reply with the X-Test field, the field count, the first field and the
 * minor version. */
static hcs_response_t *h_headers(hcs_request_t *req, void *ud) {
  (void)ud;
  sb_t sb = {.len = 0};
  hcs_str_t v, name;
  sb_add(&sb, "x-test=");
  if (hcs_request_header(req, "x-TEST", &v) == 0) {
    sb_add(&sb, "[");
    sb_str(&sb, v);
    sb_add(&sb, "]");
  } else {
    sb_add(&sb, "none");
  }
  char tmp[64];
  snprintf(tmp, sizeof(tmp), " count=%zu minor=%d first=",
           hcs_request_header_count(req), hcs_request_minor_version(req));
  sb_add(&sb, tmp);
  if (hcs_request_header_at(req, 0, &name, &v) == 0) {
    sb_str(&sb, name);
    sb_add(&sb, ":");
    sb_str(&sb, v);
  }
  sb_add(&sb, " past-end=");
  size_t n = hcs_request_header_count(req);
  sb_add(&sb, hcs_request_header_at(req, n, &name, &v) == HCS_ERANGE ? "ERANGE"
                                                                      : "other");
  return tn_text(200, sb.buf, sb.len);
}

static hcs_response_t *h_null(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  return NULL;
}

static hcs_response_t *h_close(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  hcs_response_t *res = tn_text(200, "bye", 3);
  if (res)
    hcs_response_set_close(res);
  return res;
}

static hcs_response_t *h_nocontent(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
  hcs_response_t *res;
  return hcs_response_new(&res, 204) < 0 ? NULL : res;
}

static const tn_route_t routes[] = {
    {"GET", "/hello", 0, h_hello, NULL},
    {"POST", "/echo", 0, h_echo, NULL},
    {"GET", "/thing", 0, h_const, "get-thing"},
    {"PUT", "/thing", 0, h_const, "put-thing"},
    {"GET", "/query", 0, h_query, NULL},
    {"GET", "/headers", 0, h_headers, NULL},
    {"GET", "/a b/c", 0, h_where, NULL},
    {"GET", "/static/", HCS_ROUTE_PREFIX, h_where, NULL},
    {NULL, "/any", 0, h_where, NULL},
    {"BREW", "/coffee", 0, h_const, "brewed"},
    {"GET", "/null", 0, h_null, NULL},
    {"GET", "/close", 0, h_close, NULL},
    {"GET", "/nocontent", 0, h_nocontent, NULL},
};

/* ---- fixture ------------------------------------------------------------- */

static tn_server_t server;

static int setup(void **state) {
  atomic_store(&echo_calls, 0);
  int rc = tn_server_start(&server, NULL, routes,
                           sizeof(routes) / sizeof(routes[0]));
  if (rc < 0) {
    fprintf(stderr, "server start: %s\n", hcs_strerror(rc));
    return -1;
  }
  *state = &server;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int rc = tn_server_free(&server, TN_WAIT_MS);
  tn_cleanup();
  return rc;
}

/* Read one response and check its status; r is left for more checks. */
static void expect_response(tn_conn_t *c, tn_response_t *r, unsigned flags,
                            int status) {
  int rc = tn_read_response(c, r, flags, TN_WAIT_MS);
  if (rc != 0)
    print_error("read_response: %d (%s); head so far: %s\n", rc,
                hcs_err_name(rc), r->head ? r->head : "(none)");
  assert_int_equal(rc, 0);
  if (r->status != status)
    print_error("unexpected response head:\n%s\n", r->head);
  assert_int_equal(r->status, status);
}

static void expect_body(const tn_response_t *r, const char *body) {
  assert_int_equal(r->body_len, strlen(body));
  assert_string_equal(r->body, body);
}

/* A fresh connection: GET path, expect status and body (body may be NULL). */
static void check_get(int port, const char *path, int status,
                      const char *body) {
  tn_conn_t *c = tn_connect(port);
  assert_non_null(c);
  assert_int_equal(tn_sendf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path), 0);
  tn_response_t r;
  expect_response(c, &r, 0, status);
  if (body)
    expect_body(&r, body);
  tn_response_free(&r);
  tn_close(c);
}

/* ---- cases --------------------------------------------------------------- */

static void get_hello_with_headers(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  assert_int_equal(r.minor, 1);
  assert_int_equal(r.framing, TN_BODY_LENGTH);
  expect_body(&r, "Hello, world!\n");
  assert_int_equal(tn_header_count(&r, "Content-Length"), 1);
  assert_string_equal(tn_header(&r, "Content-Length"), "14");
  assert_int_equal(tn_header_count(&r, "Date"), 1);
  if (!tn_is_http_date(tn_header(&r, "Date")))
    print_error("Date: %s\n", tn_header(&r, "Date"));
  assert_true(tn_is_http_date(tn_header(&r, "Date")));
  assert_int_equal(tn_header_count(&r, "Server"), 1);
  assert_true(strlen(tn_header(&r, "Server")) > 0);
  assert_string_equal(tn_header(&r, "Content-Type"), "text/plain");
  assert_null(tn_header(&r, "Transfer-Encoding"));
  tn_response_free(&r);
  tn_close(c);
}

static void not_found_keeps_connection(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  tn_response_t r;
  /* Near misses: a prefix, an extension, a case change. */
  const char *paths[] = {"/nope", "/hell", "/hello/x", "/HELLO", "/"};
  for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    assert_int_equal(tn_sendf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", paths[i]),
                     0);
    expect_response(c, &r, 0, 404);
    assert_true(tn_is_http_date(tn_header(&r, "Date")));
    tn_response_free(&r);
  }
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "Hello, world!\n");
  tn_response_free(&r);
  tn_close(c);
}

static void method_not_allowed_lists_allow(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  tn_response_t r;
  assert_int_equal(
      tn_send_str(c, "DELETE /thing HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  expect_response(c, &r, 0, 405);
  if (!tn_header(&r, "Allow"))
    print_error("no Allow in:\n%s\n", r.head);
  assert_non_null(tn_header(&r, "Allow"));
  assert_true(tn_header_has_token(&r, "Allow", "GET"));
  assert_true(tn_header_has_token(&r, "Allow", "PUT"));
  assert_false(tn_header_has_token(&r, "Allow", "DELETE"));
  assert_false(tn_header_has_token(&r, "Allow", "POST"));
  tn_response_free(&r);
  /* The same path with the right methods still works on this connection. */
  assert_int_equal(tn_send_str(c, "GET /thing HTTP/1.1\r\nHost: t\r\n\r\n"
                                  "PUT /thing HTTP/1.1\r\nHost: t\r\n"
                                  "Content-Length: 0\r\n\r\n"),
                   0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "get-thing");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "put-thing");
  tn_response_free(&r);
  tn_close(c);
}

static void unknown_method_is_501(void **state) {
  tn_server_t *ts = *state;
  tn_response_t r;
  assert_int_equal(
      tn_roundtrip(ts->port, "FROB /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
  if (r.status != 501)
    print_error("head:\n%s\n", r.head);
  assert_int_equal(r.status, 501);
  tn_response_free(&r);
  check_get(ts->port, "/hello", 200, "Hello, world!\n");
}

static void custom_method_route(void **state) {
  tn_server_t *ts = *state;
  tn_response_t r;
  assert_int_equal(
      tn_roundtrip(ts->port, "BREW /coffee HTTP/1.1\r\nHost: t\r\n\r\n", &r),
      0);
  if (r.status != 200)
    print_error("head:\n%s\n", r.head);
  assert_int_equal(r.status, 200);
  expect_body(&r, "brewed");
  tn_response_free(&r);
}

static void any_method_route(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  tn_response_t r;
  assert_int_equal(tn_send_str(c, "DELETE /any HTTP/1.1\r\nHost: t\r\n\r\n"
                                  "POST /any HTTP/1.1\r\nHost: t\r\n"
                                  "Content-Length: 2\r\n\r\nhi"
                                  "GET /any HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "method=DELETE path=/any target=/any");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "method=POST path=/any target=/any");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "method=GET path=/any target=/any");
  tn_response_free(&r);
  tn_close(c);
}

static void head_has_length_but_no_body(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  tn_response_t r;
  assert_int_equal(tn_send_str(c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  expect_response(c, &r, TN_REQ_HEAD, 200);
  assert_string_equal(tn_header(&r, "Content-Length"), "14");
  assert_true(tn_is_http_date(tn_header(&r, "Date")));
  tn_response_free(&r);
  /* No body bytes may follow: the next response must start right here. */
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "Hello, world!\n");
  tn_response_free(&r);
  /* A HEAD to a path without a route is still answered without a body. */
  assert_int_equal(tn_send_str(c, "HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                                  "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  expect_response(c, &r, TN_REQ_HEAD, 404);
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "Hello, world!\n");
  tn_response_free(&r);
  assert_int_equal(c->len, 0);
  tn_close(c);
}

static void post_content_length_echo(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  tn_response_t r;
  assert_int_equal(tn_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                  "Content-Length: 11\r\n\r\nhello world"),
                   0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "hello world");
  assert_string_equal(tn_header(&r, "Content-Length"), "11");
  tn_response_free(&r);
  /* Empty body, then a body that holds CRLFs and bytes that look like a
   * request: they are body, not a second request. */
  assert_int_equal(
      tn_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 32\r\n\r\n"
                     "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
      0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  tn_response_free(&r);
  /* A binary body with NUL bytes survives. */
  static const char bin[] = "a\0b\r\n\0\xff";
  assert_int_equal(tn_sendf(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                               "Content-Length: %zu\r\n\r\n",
                            sizeof(bin) - 1),
                   0);
  assert_int_equal(tn_send(c, bin, sizeof(bin) - 1), 0);
  expect_response(c, &r, 0, 200);
  assert_int_equal(r.body_len, sizeof(bin) - 1);
  assert_memory_equal(r.body, bin, sizeof(bin) - 1);
  tn_response_free(&r);
  assert_int_equal(atomic_load(&echo_calls), 4);
  tn_close(c);
}

static void post_chunked_echo(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  tn_response_t r;
  assert_int_equal(tn_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n"
                                  "5\r\nhello\r\n"
                                  "6\r\n world\r\n"
                                  "0\r\n\r\n"),
                   0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "hello world");
  tn_response_free(&r);
  /* Extensions, upper-case hex, a trailer field; then the next request. */
  assert_int_equal(tn_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n"
                                  "3;name=value\r\nabc\r\n"
                                  "A\r\n0123456789\r\n"
                                  "0\r\nX-Trailer: yes\r\n\r\n"
                                  "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "abc0123456789");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "Hello, world!\n");
  tn_response_free(&r);
  /* Only the last chunk: an empty body. */
  assert_int_equal(tn_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                   0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "");
  tn_response_free(&r);
  tn_close(c);
}

static void keepalive_many_requests(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
                     0);
    tn_response_t r;
    expect_response(c, &r, 0, 200);
    expect_body(&r, "Hello, world!\n");
    const char *conn = tn_header(&r, "Connection");
    assert_true(conn == NULL || !tn_header_has_token(&r, "Connection", "close"));
    tn_response_free(&r);
    assert_false(c->eof);
  }
  hcs_server_stats_t st = tn_stats(ts);
  assert_int_equal(st.connections_accepted, 1);
  assert_int_equal(st.connections_open, 1);
  TN_WAIT_UNTIL(tn_stats(ts).requests == 5, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).requests, 5);
  tn_close(c);
  TN_WAIT_UNTIL(tn_stats(ts).connections_open == 0, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).connections_open, 0);
}

static void http10_closes_after_response(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.0\r\n\r\n"), 0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  expect_body(&r, "Hello, world!\n");
  assert_null(tn_header(&r, "Transfer-Encoding"));
  tn_response_free(&r);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  assert_int_equal(c->len, 0);
  tn_close(c);
}

static void http10_keepalive_stays_open(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  tn_response_t r;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(
        tn_send_str(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
        0);
    expect_response(c, &r, 0, 200);
    expect_body(&r, "Hello, world!\n");
    assert_false(tn_header_has_token(&r, "Connection", "close"));
    tn_response_free(&r);
  }
  /* The last one without keep-alive: then the server closes. */
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.0\r\n\r\n"), 0);
  expect_response(c, &r, 0, 200);
  tn_response_free(&r);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  assert_int_equal(tn_stats(ts).connections_accepted, 1);
  tn_close(c);
}

static void connection_close_request(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  /* The request after "Connection: close" must not be answered. */
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n"
                                  "Connection: close\r\n\r\n"
                                  "GET /thing HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  expect_body(&r, "Hello, world!\n");
  assert_true(tn_header_has_token(&r, "Connection", "close"));
  tn_response_free(&r);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  if (c->len)
    print_error("bytes after the close response: %s\n", c->buf);
  assert_int_equal(c->len, 0);
  tn_close(c);
}

static void pipelined_responses_in_order(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(
      tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                     "GET /query?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                     "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nHost: t\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
                     "GET /thing HTTP/1.1\r\nHost: t\r\n\r\n"),
      0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  expect_body(&r, "Hello, world!\n");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "abc");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "q=none x=[1] raw=x=1");
  tn_response_free(&r);
  expect_response(c, &r, 0, 404);
  tn_response_free(&r);
  expect_response(c, &r, TN_REQ_HEAD, 200);
  assert_string_equal(tn_header(&r, "Content-Length"), "14");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "xy");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "get-thing");
  tn_response_free(&r);
  assert_int_equal(c->len, 0);
  tn_close(c);
}

static void pipelined_many(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  /* 200 requests in one write, each with a distinct body. */
  enum { N = 200 };
  size_t cap = N * 96, len = 0;
  char *all = malloc(cap);
  assert_non_null(all);
  for (int i = 0; i < N; i++)
    len += (size_t)snprintf(all + len, cap - len,
                            "POST /echo HTTP/1.1\r\nHost: t\r\n"
                            "Content-Length: %d\r\n\r\nreq-%03d",
                            7, i);
  assert_int_equal(tn_send(c, all, len), 0);
  free(all);
  for (int i = 0; i < N; i++) {
    tn_response_t r;
    char want[16];
    snprintf(want, sizeof(want), "req-%03d", i);
    expect_response(c, &r, 0, 200);
    expect_body(&r, want);
    tn_response_free(&r);
  }
  tn_close(c);
}

static void expect_continue_interim_first(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                  "Content-Length: 5\r\n"
                                  "Expect: 100-continue\r\n\r\n"),
                   0);
  /* The body is not sent yet: the 100 must come on its own. */
  tn_response_t r;
  expect_response(c, &r, 0, 100);
  assert_int_equal(r.framing, TN_BODY_NONE);
  tn_response_free(&r);
  assert_int_equal(atomic_load(&echo_calls), 0);
  assert_int_equal(tn_send_str(c, "hello"), 0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "hello");
  tn_response_free(&r);
  /* Chunked with Expect, then a plain request on the same connection. */
  assert_int_equal(tn_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                  "Transfer-Encoding: chunked\r\n"
                                  "Expect: 100-continue\r\n\r\n"),
                   0);
  expect_response(c, &r, 0, 100);
  tn_response_free(&r);
  assert_int_equal(tn_send_str(c, "3\r\nabc\r\n0\r\n\r\n"
                                  "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "abc");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "Hello, world!\n");
  tn_response_free(&r);
  tn_close(c);
}

static void expect_continue_body_sent_early(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  /* Clients may send the body without waiting for the 100. */
  assert_int_equal(tn_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                  "Content-Length: 5\r\n"
                                  "Expect: 100-continue\r\n\r\nhello"
                                  "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  tn_response_t r;
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  if (r.status == 100) {
    tn_response_free(&r);
    expect_response(c, &r, 0, 200);
  }
  assert_int_equal(r.status, 200);
  expect_body(&r, "hello");
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "Hello, world!\n");
  tn_response_free(&r);
  tn_close(c);
}

static void expect_continue_too_large_is_413(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  /* The default max_body_bytes is 1 MiB. */
  assert_int_equal(tn_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                  "Content-Length: 10485760\r\n"
                                  "Expect: 100-continue\r\n\r\n"),
                   0);
  tn_response_t r;
  /* The first response is the final 413: no 100 before it. */
  expect_response(c, &r, 0, 413);
  tn_response_free(&r);
  assert_int_equal(atomic_load(&echo_calls), 0);
  tn_close(c);
  check_get(ts->port, "/hello", 200, "Hello, world!\n");
}

static void query_params_decoded(void **state) {
  tn_server_t *ts = *state;
  tn_response_t r;
  assert_int_equal(
      tn_roundtrip(ts->port,
                   "GET /query?q=a+b%21%2b&x=1&x=%zz&y=2&x=2&x=%26%3D&q=second"
                   " HTTP/1.1\r\nHost: t\r\n\r\n",
                   &r),
      0);
  assert_int_equal(r.status, 200);
  expect_body(&r, "q=[a b!+] x=[1][2][&=] "
                  "raw=q=a+b%21%2b&x=1&x=%zz&y=2&x=2&x=%26%3D&q=second");
  tn_response_free(&r);
  /* No query at all; an empty one; a name without '='. */
  assert_int_equal(
      tn_roundtrip(ts->port, "GET /query HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
  expect_body(&r, "q=none x= raw=");
  tn_response_free(&r);
  assert_int_equal(
      tn_roundtrip(ts->port, "GET /query? HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
  expect_body(&r, "q=none x= raw=");
  tn_response_free(&r);
  assert_int_equal(tn_roundtrip(ts->port,
                                "GET /query?q=&x HTTP/1.1\r\nHost: t\r\n\r\n",
                                &r),
                   0);
  assert_int_equal(r.status, 200);
  assert_memory_equal(r.body, "q=[] x=", 7);
  tn_response_free(&r);
}

static void path_decoded_and_normalized(void **state) {
  tn_server_t *ts = *state;
  tn_response_t r;
  assert_int_equal(tn_roundtrip(ts->port,
                                "GET /x/../a%20b/./c HTTP/1.1\r\nHost: t\r\n\r\n",
                                &r),
                   0);
  if (r.status != 200)
    print_error("head:\n%s\n", r.head);
  assert_int_equal(r.status, 200);
  expect_body(&r, "method=GET path=/a b/c target=/x/../a%20b/./c");
  tn_response_free(&r);
  assert_int_equal(
      tn_roundtrip(ts->port,
                   "GET /static/%41bc/../d%2Fe?k=v HTTP/1.1\r\nHost: t\r\n\r\n",
                   &r),
      0);
  assert_int_equal(r.status, 200);
  expect_body(&r, "method=GET path=/static/d/e target=/static/%41bc/../d%2Fe?k=v");
  tn_response_free(&r);
  /* Normalisation happens before routing: this is /hello. */
  assert_int_equal(tn_roundtrip(ts->port,
                                "GET /static/../%68ello HTTP/1.1\r\nHost: t\r\n\r\n",
                                &r),
                   0);
  assert_int_equal(r.status, 200);
  expect_body(&r, "Hello, world!\n");
  tn_response_free(&r);
}

static void request_header_access(void **state) {
  tn_server_t *ts = *state;
  tn_response_t r;
  assert_int_equal(tn_roundtrip(ts->port,
                                "GET /headers HTTP/1.1\r\nHost: example\r\n"
                                "X-Other: 1\r\nX-Test: \t spaced  value \t\r\n"
                                "x-test: second\r\n\r\n",
                                &r),
                   0);
  assert_int_equal(r.status, 200);
  expect_body(&r, "x-test=[spaced  value] count=4 minor=1 first=Host:example "
                  "past-end=ERANGE");
  tn_response_free(&r);
  assert_int_equal(
      tn_roundtrip(ts->port, "GET /headers HTTP/1.0\r\n\r\n", &r), 0);
  expect_body(&r, "x-test=none count=0 minor=0 first= past-end=ERANGE");
  tn_response_free(&r);
}

static void null_handler_is_500(void **state) {
  tn_server_t *ts = *state;
  tn_response_t r;
  assert_int_equal(
      tn_roundtrip(ts->port, "GET /null HTTP/1.1\r\nHost: t\r\n\r\n", &r), 0);
  assert_int_equal(r.status, 500);
  tn_response_free(&r);
  check_get(ts->port, "/hello", 200, "Hello, world!\n");
}

static void response_set_close(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /close HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  tn_response_t r;
  expect_response(c, &r, 0, 200);
  expect_body(&r, "bye");
  assert_true(tn_header_has_token(&r, "Connection", "close"));
  tn_response_free(&r);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  tn_close(c);
}

static void no_content_204(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /nocontent HTTP/1.1\r\nHost: t\r\n\r\n"
                                  "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
                   0);
  tn_response_t r;
  expect_response(c, &r, 0, 204);
  assert_null(tn_header(&r, "Transfer-Encoding"));
  tn_response_free(&r);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "Hello, world!\n");
  tn_response_free(&r);
  tn_close(c);
}

static void bytewise_requests(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  tn_response_t r;
  assert_int_equal(
      tn_send_bytewise(c, "GET /query?q=%41+b HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "q=[A b] x= raw=q=%41+b");
  tn_response_free(&r);
  assert_int_equal(tn_send_bytewise(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                       "Content-Length: 5\r\n\r\nhello"),
                   0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "hello");
  tn_response_free(&r);
  assert_int_equal(tn_send_bytewise(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\n"
                                       "4;x=y\r\nwiki\r\n5\r\npedia\r\n"
                                       "0\r\nT: v\r\n\r\n"),
                   0);
  expect_response(c, &r, 0, 200);
  expect_body(&r, "wikipedia");
  tn_response_free(&r);
  tn_close(c);
}

/* ---- curl ---------------------------------------------------------------- */

static void curl_get(void **state) {
  tn_server_t *ts = *state;
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", ts->port);
  tn_curl_t res;
  assert_int_equal(tn_curl(&res, TN_WAIT_MS, url, (char *)NULL), 0);
  if (res.exit_code != 0)
    print_error("curl stderr: %s\n", res.err);
  assert_int_equal(res.exit_code, 0);
  assert_string_equal(res.out, "Hello, world!\n");
  tn_curl_free(&res);
  /* -f fails on >= 400: a 404 is exit code 22. */
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", ts->port);
  assert_int_equal(tn_curl(&res, TN_WAIT_MS, "-f", url, (char *)NULL), 0);
  assert_int_equal(res.exit_code, 22);
  tn_curl_free(&res);
  /* Two URLs: curl reuses the connection. */
  char url2[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", ts->port);
  snprintf(url2, sizeof(url2), "http://127.0.0.1:%d/thing", ts->port);
  assert_int_equal(tn_curl(&res, TN_WAIT_MS, url, url2, (char *)NULL), 0);
  assert_int_equal(res.exit_code, 0);
  assert_string_equal(res.out, "Hello, world!\nget-thing");
  tn_curl_free(&res);
  assert_int_equal(tn_stats(ts).connections_accepted, 3);
}

static void curl_post(void **state) {
  tn_server_t *ts = *state;
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", ts->port);
  tn_curl_t res;
  assert_int_equal(tn_curl(&res, TN_WAIT_MS, "--data", "a=1&b=two", url,
                           (char *)NULL),
                   0);
  assert_int_equal(res.exit_code, 0);
  assert_string_equal(res.out, "a=1&b=two");
  tn_curl_free(&res);

  /* A 200 KiB body from a file, with Expect: 100-continue. */
  char path[] = "/tmp/hcs-itest-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  enum { SIZE = 200 * 1024 };
  char *data = malloc(SIZE);
  assert_non_null(data);
  for (size_t i = 0; i < SIZE; i++)
    data[i] = (char)('a' + (i * 7 + i / 1000) % 26);
  assert_int_equal(write(fd, data, SIZE), SIZE);
  close(fd);
  char at[64];
  snprintf(at, sizeof(at), "@%s", path);
  assert_int_equal(tn_curl(&res, TN_WAIT_MS, "--data-binary", at, "-H",
                           "Expect: 100-continue", url, (char *)NULL),
                   0);
  unlink(path);
  if (res.exit_code != 0)
    print_error("curl stderr: %s\n", res.err);
  assert_int_equal(res.exit_code, 0);
  assert_int_equal(res.out_len, SIZE);
  assert_memory_equal(res.out, data, SIZE);
  free(data);
  tn_curl_free(&res);

  /* Chunked upload. */
  assert_int_equal(tn_curl(&res, TN_WAIT_MS, "-H", "Transfer-Encoding: chunked",
                           "--data-binary", "chunky", url, (char *)NULL),
                   0);
  assert_int_equal(res.exit_code, 0);
  assert_string_equal(res.out, "chunky");
  tn_curl_free(&res);
}

static void curl_http10(void **state) {
  tn_server_t *ts = *state;
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", ts->port);
  tn_curl_t res;
  assert_int_equal(tn_curl(&res, TN_WAIT_MS, "--http1.0", "-i", url,
                           (char *)NULL),
                   0);
  assert_int_equal(res.exit_code, 0);
  assert_true(strncmp(res.out, "HTTP/1.", 7) == 0);
  assert_non_null(strstr(res.out, " 200 "));
  size_t n = strlen(res.out);
  assert_true(n > 14);
  assert_string_equal(res.out + n - 14, "Hello, world!\n");
  tn_curl_free(&res);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", ts->port);
  assert_int_equal(tn_curl(&res, TN_WAIT_MS, "--http1.0", "--data", "old",
                           url, (char *)NULL),
                   0);
  assert_int_equal(res.exit_code, 0);
  assert_string_equal(res.out, "old");
  tn_curl_free(&res);
}

static void curl_head(void **state) {
  tn_server_t *ts = *state;
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", ts->port);
  tn_curl_t res;
  assert_int_equal(tn_curl(&res, TN_WAIT_MS, "-I", url, (char *)NULL), 0);
  assert_int_equal(res.exit_code, 0);
  assert_true(strncmp(res.out, "HTTP/1.1 200", 12) == 0);
  assert_non_null(strcasestr(res.out, "\r\ncontent-length: 14\r\n"));
  tn_curl_free(&res);
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(get_hello_with_headers),
      T(not_found_keeps_connection),
      T(method_not_allowed_lists_allow),
      T(unknown_method_is_501),
      T(custom_method_route),
      T(any_method_route),
      T(head_has_length_but_no_body),
      T(post_content_length_echo),
      T(post_chunked_echo),
      T(keepalive_many_requests),
      T(http10_closes_after_response),
      T(http10_keepalive_stays_open),
      T(connection_close_request),
      T(pipelined_responses_in_order),
      T(pipelined_many),
      T(expect_continue_interim_first),
      T(expect_continue_body_sent_early),
      T(expect_continue_too_large_is_413),
      T(query_params_decoded),
      T(path_decoded_and_normalized),
      T(request_header_access),
      T(null_handler_is_500),
      T(response_set_close),
      T(no_content_204),
      T(bytewise_requests),
      T(curl_get),
      T(curl_post),
      T(curl_http10),
      T(curl_head),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
