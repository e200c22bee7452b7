/* SPDX-License-Identifier: MIT */
/*
 * tests/integration/test_http_limits.c: bad and hostile input over the wire
 * against a real hcs server: malformed requests (400 and close), request
 * smuggling shapes (400 and close, and the smuggled request is never
 * answered), unsupported framing/expectations/versions (501/417/505), size
 * limits (414, 431, 413), the header-read timeout (408 and close), the idle
 * keep-alive timeout, and max_connections. After every bad input a good
 * request on a fresh connection must still be served.
 *
 * Servers run with small limits (max_header_bytes 4096, max_body_bytes 1024)
 * so that the cases stay fast; timeouts are configured small where a case
 * needs one and used only as upper bounds for waiting.
 * Run one case: ./test_http_limits <case-name-glob>
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

#include "testnet.h"

#define MAX_HEADER 4096
#define MAX_BODY 1024

/* ---- handlers ------------------------------------------------------------ */

static atomic_int secret_calls; /* GET /secret: the smuggled request */
static atomic_int echo_calls;

static hcs_response_t *h_hello(hcs_request_t *req, void *ud) {
  (void)req;
  (void)ud;
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
    {"POST", "/echo", 0, h_echo, NULL},
    {"POST", "/secret", 0, h_secret, NULL},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- fixture ------------------------------------------------------------- */

static tn_server_t server;

static void limits_config(hcs_server_config_t *cfg) {
  tn_config(cfg);
  cfg->max_header_bytes = MAX_HEADER;
  cfg->max_body_bytes = MAX_BODY;
  cfg->header_timeout_ms = 3000;
}

static int start_with(const hcs_server_config_t *cfg) {
  atomic_store(&secret_calls, 0);
  atomic_store(&echo_calls, 0);
  int rc = tn_server_start(&server, cfg, routes, NROUTES);
  if (rc < 0)
    fprintf(stderr, "server start: %s\n", hcs_strerror(rc));
  return rc;
}

static int setup(void **state) {
  hcs_server_config_t cfg;
  limits_config(&cfg);
  if (start_with(&cfg) < 0)
    return -1;
  *state = &server;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int rc = tn_server_free(&server, TN_WAIT_MS);
  tn_cleanup();
  return rc;
}

/* ---- helpers ------------------------------------------------------------- */

/* A good request on a fresh connection is still served. */
static void check_serving(int port) {
  tn_response_t r;
  int rc = tn_roundtrip(port, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", &r);
  assert_int_equal(rc, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "hello");
  tn_response_free(&r);
}

static void print_bytes(const char *label, const char *p, size_t n) {
  char out[400];
  size_t o = 0;
  for (size_t i = 0; i < n && o < sizeof(out) - 5; i++) {
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
  print_message("%s: \"%s\"%s\n", label, out, n * 4 > sizeof(out) ? "..." : "");
}

/*
 * Send `req` (len bytes) on a fresh connection and expect exactly one
 * response with `status`; with `must_close`, the server must then close
 * without sending anything else. Returns nothing; asserts.
 */
static void expect_rejected(int port, const char *req, size_t len, int status,
                            bool must_close) {
  tn_conn_t *c = tn_connect(port);
  assert_non_null(c);
  /* The server may close before reading it all; a failed send is fine. */
  (void)tn_send(c, req, len);
  tn_response_t r;
  int rc = tn_read_response(c, &r, 0, TN_WAIT_MS);
  if (rc != 0 || r.status != status) {
    print_bytes("request", req, len);
    print_message("read_response: %d, head: %s\n", rc,
                  r.head ? r.head : "(none)");
  }
  assert_int_equal(rc, 0);
  assert_int_equal(r.status, status);
  tn_response_free(&r);
  if (must_close) {
    rc = tn_read_eof(c, TN_WAIT_MS);
    if (rc != 0)
      print_bytes("request (connection left open)", req, len);
    assert_int_equal(rc, 0);
    /* Nothing after the error response: no second answer. */
    if (c->len) {
      print_bytes("request", req, len);
      print_bytes("bytes after the error response", c->buf, c->len);
    }
    assert_int_equal(c->len, 0);
  }
  tn_close(c);
}

#define REJECT(port, lit, status, close)                                      \
  expect_rejected(port, lit, sizeof(lit) - 1, status, close)

/* ---- malformed and smuggling --------------------------------------------- */

typedef struct {
  const char *name;
  const char *req;
  size_t len; /* the literal's length: it may hold NUL bytes */
} bad_case_t;

#define BC(name, lit) {name, lit, sizeof(lit) - 1}

#define SMUGGLED "GET /secret HTTP/1.1\r\nHost: t\r\n\r\n"

static const bad_case_t malformed[] = {
    BC("garbage", "GARBAGE\r\n\r\n"),
    BC("no version", "GET /hello\r\nHost: t\r\n\r\n"),
    BC("bad version", "GET /hello HTTP/1.x\r\nHost: t\r\n\r\n"),
    BC("lowercase version", "GET /hello http/1.1\r\nHost: t\r\n\r\n"),
    BC("extra token", "GET /hello HTTP/1.1 x\r\nHost: t\r\n\r\n"),
    BC("target without slash", "GET hello HTTP/1.1\r\nHost: t\r\n\r\n"),
    BC("field without colon", "GET /hello HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n"),
    BC("empty field name", "GET /hello HTTP/1.1\r\nHost: t\r\n: v\r\n\r\n"),
    BC("bare LF request", "GET /hello HTTP/1.1\nHost: t\n\n"),
    BC("bare CR", "GET /hello HTTP/1.1\rHost: t\r\n\r\n"),
    BC("TLS client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    BC("NUL in method", "G\0T /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
    BC("missing Host", "GET /hello HTTP/1.1\r\n\r\n"),
    BC("bad chunk size",
     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
     "zz\r\nhello\r\n0\r\n\r\n"),
    BC("chunk without CRLF",
     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
     "3\r\nabcX\r\n0\r\n\r\n"),
    BC("negative Content-Length",
     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n"),
    BC("non-numeric Content-Length",
     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1e2\r\n\r\n"),
};

static void malformed_is_400_and_close(void **state) {
  tn_server_t *ts = *state;
  size_t n = sizeof(malformed) / sizeof(malformed[0]);
  for (size_t i = 0; i < n; i++) {
    const bad_case_t *bc = &malformed[i];
    print_message("case: %s\n", bc->name);
    expect_rejected(ts->port, bc->req, bc->len,
                    400, true);
    check_serving(ts->port);
  }
  assert_int_equal(atomic_load(&echo_calls), 0);
  TN_WAIT_UNTIL(tn_stats(ts).bad_requests == n, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).bad_requests, n);
}

/* Each carries a second request that a lenient parser would answer. */
static const bad_case_t smuggling[] = {
    BC("CL then TE",
     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED),
    BC("TE then CL",
     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 40\r\n\r\n0\r\n\r\n" SMUGGLED),
    BC("differing duplicate CL",
     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
     "Content-Length: 34\r\n\r\n" SMUGGLED),
    BC("differing CL list",
     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0, 34\r\n\r\n" SMUGGLED),
    BC("CL with plus sign",
     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +0\r\n\r\n" SMUGGLED),
    BC("CL hex", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0x0\r\n\r\n" SMUGGLED),
    BC("obs-fold",
     "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nX-A: a\r\n"
     " Transfer-Encoding: chunked\r\n\r\n" SMUGGLED),
    BC("obs-fold tab",
     "POST /echo HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tb\r\n"
     "Content-Length: 0\r\n\r\n" SMUGGLED),
    BC("space before colon",
     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n"
     "Content-Length: 34\r\n\r\n" SMUGGLED),
    BC("whitespace before first field",
     "POST /echo HTTP/1.1\r\n Content-Length: 34\r\nHost: t\r\n\r\n" SMUGGLED),
    BC("bad method token", "G(T /hello HTTP/1.1\r\nHost: t\r\n\r\n" SMUGGLED),
    BC("bad field name token",
     "GET /hello HTTP/1.1\r\nHost: t\r\nBad[Name]: v\r\n\r\n" SMUGGLED),
    BC("NUL in field value",
     "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n" SMUGGLED),
    BC("CR in field value",
     "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n" SMUGGLED),
    BC("bare LF in fields",
     "POST /echo HTTP/1.1\r\nHost: t\nContent-Length: 34\r\n\r\n" SMUGGLED),
    BC("LF-only end of head",
     "GET /hello HTTP/1.1\r\nHost: t\n\n" SMUGGLED),
    BC("no Host (HTTP/1.1)", "GET /hello HTTP/1.1\r\nX: y\r\n\r\n" SMUGGLED),
    BC("chunk size overflow",
     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
     "10000000000000000000001\r\n0\r\n\r\n" SMUGGLED),
    BC("chunk size with junk",
     "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0x0\r\n\r\n" SMUGGLED),
};

static void smuggling_is_400_and_close(void **state) {
  tn_server_t *ts = *state;
  size_t n = sizeof(smuggling) / sizeof(smuggling[0]);
  for (size_t i = 0; i < n; i++) {
    const bad_case_t *bc = &smuggling[i];
    print_message("case: %s\n", bc->name);
    expect_rejected(ts->port, bc->req, bc->len,
                    400, true);
    check_serving(ts->port);
  }
  /* No smuggled request ever reached a handler, and no body was echoed. */
  assert_int_equal(atomic_load(&secret_calls), 0);
  assert_int_equal(atomic_load(&echo_calls), 0);
  TN_WAIT_UNTIL(tn_stats(ts).bad_requests == n, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).bad_requests, n);
}

/* A bad request in the middle of a pipeline: the one before it is answered,
 * nothing after it is. */
static void pipelined_bad_request_stops_pipeline(void **state) {
  tn_server_t *ts = *state;
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                                  "GET /hello HTTP/1.1\r\nHost: t\r\n"
                                  "X: a\r\n b\r\n\r\n" SMUGGLED),
                   0);
  tn_response_t r;
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "hello");
  tn_response_free(&r);
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 400);
  tn_response_free(&r);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  assert_int_equal(c->len, 0);
  assert_int_equal(atomic_load(&secret_calls), 0);
  tn_close(c);
  check_serving(ts->port);
}

static void bad_path_is_400(void **state) {
  tn_server_t *ts = *state;
  REJECT(ts->port, "GET /../hello HTTP/1.1\r\nHost: t\r\n\r\n", 400, false);
  check_serving(ts->port);
  REJECT(ts->port, "GET /a/../../hello HTTP/1.1\r\nHost: t\r\n\r\n", 400, false);
  check_serving(ts->port);
  REJECT(ts->port, "GET /hel%zzlo HTTP/1.1\r\nHost: t\r\n\r\n", 400, false);
  check_serving(ts->port);
  REJECT(ts->port, "GET /hello%00 HTTP/1.1\r\nHost: t\r\n\r\n", 400, false);
  check_serving(ts->port);
  REJECT(ts->port, "GET /hel%2 HTTP/1.1\r\nHost: t\r\n\r\n", 400, false);
  check_serving(ts->port);
  assert_int_equal(atomic_load(&secret_calls), 0);
}

/* ---- unsupported framing, expectation, version --------------------------- */

static void unknown_transfer_coding_is_501(void **state) {
  tn_server_t *ts = *state;
  /* A coding we do not implement, before a final chunked: 501 (RFC 9112
   * §6.1). The server must not read on. */
  REJECT(ts->port,
         "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
         "0\r\n\r\n" SMUGGLED,
         501, true);
  check_serving(ts->port);
  /* chunked is not the final coding: the length cannot be known, and RFC
   * 9112 §6.3 requires 400 and close. */
  REJECT(ts->port,
         "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"
         "0\r\n\r\n" SMUGGLED,
         400, true);
  check_serving(ts->port);
  REJECT(ts->port,
         "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n"
         SMUGGLED,
         400, true);
  check_serving(ts->port);
  assert_int_equal(atomic_load(&secret_calls), 0);
  assert_int_equal(atomic_load(&echo_calls), 0);
}

static void unknown_expectation_is_417(void **state) {
  tn_server_t *ts = *state;
  REJECT(ts->port,
         "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n"
         "Content-Length: 2\r\n\r\nhi",
         417, false);
  check_serving(ts->port);
  assert_int_equal(atomic_load(&echo_calls), 0);
}

static void unsupported_version_is_505(void **state) {
  tn_server_t *ts = *state;
  REJECT(ts->port, "GET /hello HTTP/3.0\r\nHost: t\r\n\r\n", 505, false);
  check_serving(ts->port);
  REJECT(ts->port, "GET /hello HTTP/0.9\r\nHost: t\r\n\r\n", 505, false);
  check_serving(ts->port);
}

/* ---- size limits --------------------------------------------------------- */

static void target_too_long_is_414(void **state) {
  tn_server_t *ts = *state;
  size_t n = MAX_HEADER + 1000;
  char *req = malloc(n + 64);
  assert_non_null(req);
  size_t len = (size_t)sprintf(req, "GET /");
  memset(req + len, 'a', n);
  len += n;
  len += (size_t)sprintf(req + len, " HTTP/1.1\r\nHost: t\r\n\r\n");
  expect_rejected(ts->port, req, len, 414, true);
  free(req);
  check_serving(ts->port);
}

static void header_too_large_is_431(void **state) {
  tn_server_t *ts = *state;
  size_t n = MAX_HEADER + 100;
  char *req = malloc(n + 128);
  assert_non_null(req);
  size_t len = (size_t)sprintf(req, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
  memset(req + len, 'b', n);
  len += n;
  len += (size_t)sprintf(req + len, "\r\n\r\n");
  expect_rejected(ts->port, req, len, 431, true);
  check_serving(ts->port);
  /* The same, never finished: the size alone decides. */
  len = (size_t)sprintf(req, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
  memset(req + len, 'b', n);
  len += n;
  expect_rejected(ts->port, req, len, 431, true);
  free(req);
  check_serving(ts->port);
}

static void header_under_limit_is_fine(void **state) {
  tn_server_t *ts = *state;
  /* A head well under max_header_bytes passes. */
  size_t n = MAX_HEADER - 200;
  char *req = malloc(n + 128);
  assert_non_null(req);
  size_t len = (size_t)sprintf(req, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
  memset(req + len, 'b', n);
  len += n;
  len += (size_t)sprintf(req + len, "\r\n\r\n");
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send(c, req, len), 0);
  free(req);
  tn_response_t r;
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 200);
  tn_response_free(&r);
  tn_close(c);
}

static void too_many_fields_is_431(void **state) {
  tn_server_t *ts = *state;
  /* 150 short fields: about 1.5 KB, under max_header_bytes. */
  char req[4096];
  size_t len = (size_t)sprintf(req, "GET /hello HTTP/1.1\r\nHost: t\r\n");
  for (int i = 0; i < 150; i++)
    len += (size_t)sprintf(req + len, "X%d: v\r\n", i);
  len += (size_t)sprintf(req + len, "\r\n");
  assert_true(len < MAX_HEADER);
  expect_rejected(ts->port, req, len, 431, true);
  check_serving(ts->port);
}

static void body_too_large_content_length_is_413(void **state) {
  tn_server_t *ts = *state;
  /* Exactly the limit passes. */
  char *body = malloc(MAX_BODY + 1);
  assert_non_null(body);
  memset(body, 'x', MAX_BODY + 1);
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_sendf(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                               "Content-Length: %d\r\n\r\n",
                            MAX_BODY),
                   0);
  assert_int_equal(tn_send(c, body, MAX_BODY), 0);
  tn_response_t r;
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, MAX_BODY);
  tn_response_free(&r);
  tn_close(c);
  /* One byte more does not reach the handler. */
  c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_sendf(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                               "Content-Length: %d\r\n\r\n",
                            MAX_BODY + 1),
                   0);
  (void)tn_send(c, body, MAX_BODY + 1);
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 413);
  tn_response_free(&r);
  tn_close(c);
  /* A huge declared length, body never sent. */
  REJECT(ts->port,
         "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999\r\n\r\n",
         413, false);
  free(body);
  assert_int_equal(atomic_load(&echo_calls), 1);
  check_serving(ts->port);
}

static void body_too_large_chunked_is_413(void **state) {
  tn_server_t *ts = *state;
  /* MAX_BODY bytes in two chunks pass. */
  char *body = malloc(MAX_BODY + 1);
  assert_non_null(body);
  memset(body, 'y', MAX_BODY + 1);
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_sendf(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n%x\r\n",
                            MAX_BODY / 2),
                   0);
  assert_int_equal(tn_send(c, body, MAX_BODY / 2), 0);
  assert_int_equal(tn_sendf(c, "\r\n%x\r\n", MAX_BODY / 2), 0);
  assert_int_equal(tn_send(c, body, MAX_BODY / 2), 0);
  assert_int_equal(tn_send_str(c, "\r\n0\r\n\r\n"), 0);
  tn_response_t r;
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, MAX_BODY);
  tn_response_free(&r);
  tn_close(c);
  /* One byte more, spread over chunks. */
  c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_sendf(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n%x\r\n",
                            MAX_BODY / 2),
                   0);
  (void)tn_send(c, body, MAX_BODY / 2);
  (void)tn_sendf(c, "\r\n%x\r\n", MAX_BODY / 2 + 1);
  (void)tn_send(c, body, MAX_BODY / 2 + 1);
  (void)tn_send_str(c, "\r\n0\r\n\r\n");
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 413);
  tn_response_free(&r);
  tn_close(c);
  /* One huge chunk, of which more than the limit is sent (not all). */
  c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n"
                                  "100000\r\n"),
                   0);
  (void)tn_send(c, body, MAX_BODY + 1);
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 413);
  tn_response_free(&r);
  tn_close(c);
  free(body);
  assert_int_equal(atomic_load(&echo_calls), 1);
  check_serving(ts->port);
}

/* Many connections send seeded random bytes; none may crash the server. */
static void random_garbage(void **state) {
  tn_server_t *ts = *state;
  uint32_t seed = 12345;
  for (int i = 0; i < 20; i++) {
    char junk[256];
    for (size_t j = 0; j < sizeof(junk); j++) {
      seed = seed * 1103515245u + 12345u;
      junk[j] = (char)(seed >> 16);
    }
    /* Start with a non-token byte so the request line is invalid at once. */
    junk[0] = (char)0x80;
    tn_conn_t *c = tn_connect(ts->port);
    assert_non_null(c);
    (void)tn_send(c, junk, sizeof(junk));
    assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
    assert_int_equal(tn_count(c->buf, c->len, " 200 "), 0);
    tn_close(c);
  }
  check_serving(ts->port);
}

/* ---- timeouts ------------------------------------------------------------ */

static void header_timeout_is_408_and_close(void **state) {
  (void)state;
  hcs_server_config_t cfg;
  limits_config(&cfg);
  cfg.header_timeout_ms = 300;
  tn_server_t *ts = &server;
  assert_int_equal(start_with(&cfg), 0);
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n"), 0);
  tn_response_t r;
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 408);
  tn_response_free(&r);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  assert_int_equal(c->len, 0);
  tn_close(c);
  assert_int_equal(tn_stats(ts).timeouts, 1);
  check_serving(ts->port);
}

/* Slowloris: a byte every 20 ms keeps the head incomplete far longer than
 * header_timeout_ms; steady trickling must not extend the deadline. */
static void header_timeout_slow_drip(void **state) {
  (void)state;
  hcs_server_config_t cfg;
  limits_config(&cfg);
  cfg.header_timeout_ms = 300;
  tn_server_t *ts = &server;
  assert_int_equal(start_with(&cfg), 0);
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  char head[1200];
  size_t len = (size_t)sprintf(head, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: ");
  memset(head + len, 's', sizeof(head) - len - 1);
  head[sizeof(head) - 1] = '\0';
  /* At most ~24 s of dripping (the test fails long before if no 408). */
  for (size_t i = 0; i < sizeof(head) - 1 && !c->eof && c->len == 0; i++) {
    if (tn_send(c, head + i, 1) < 0)
      break;
    int rc = tn_fill(c, 20);
    assert_true(rc >= 0 || rc == -ETIMEDOUT);
  }
  assert_true(c->eof || c->len > 0);
  tn_response_t r;
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 408);
  tn_response_free(&r);
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  tn_close(c);
  assert_int_equal(tn_stats(ts).timeouts, 1);
  check_serving(ts->port);
}

static void idle_keepalive_timeout_closes(void **state) {
  (void)state;
  hcs_server_config_t cfg;
  limits_config(&cfg);
  cfg.keepalive_timeout_ms = 300;
  tn_server_t *ts = &server;
  assert_int_equal(start_with(&cfg), 0);
  tn_conn_t *c = tn_connect(ts->port);
  assert_non_null(c);
  assert_int_equal(tn_send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  tn_response_t r;
  assert_int_equal(tn_read_response(c, &r, 0, TN_WAIT_MS), 0);
  assert_int_equal(r.status, 200);
  tn_response_free(&r);
  /* Idle now: the server closes. A 408 may come first; nothing else. */
  assert_int_equal(tn_read_eof(c, TN_WAIT_MS), 0);
  if (c->len > 0) {
    print_bytes("bytes before idle close", c->buf, c->len);
    assert_int_equal(tn_count(c->buf, c->len, "HTTP/1.1 408 "), 1);
    assert_true(strncmp(c->buf, "HTTP/1.1 408 ", 13) == 0);
  }
  tn_close(c);
  TN_WAIT_UNTIL(tn_stats(ts).connections_open == 0, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).connections_open, 0);
  assert_int_equal(tn_stats(ts).timeouts, 1);
  check_serving(ts->port);
}

/* ---- max_connections ----------------------------------------------------- */

static void max_connections_refuses_extra(void **state) {
  (void)state;
  hcs_server_config_t cfg;
  limits_config(&cfg);
  cfg.max_connections = 4;
  tn_server_t *ts = &server;
  assert_int_equal(start_with(&cfg), 0);

  tn_conn_t *held[4];
  tn_response_t r;
  for (int i = 0; i < 4; i++) {
    held[i] = tn_connect(ts->port);
    assert_non_null(held[i]);
    assert_int_equal(
        tn_send_str(held[i], "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    assert_int_equal(tn_read_response(held[i], &r, 0, TN_WAIT_MS), 0);
    assert_int_equal(r.status, 200);
    tn_response_free(&r);
  }
  assert_int_equal(tn_stats(ts).connections_open, 4);

  /* The fifth ends without a 200: a 503 and close, or just a close. */
  tn_conn_t *extra = tn_connect(ts->port);
  if (extra != NULL) {
    (void)tn_send_str(extra, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(tn_read_eof(extra, TN_WAIT_MS), 0);
    if (extra->len > 0 && strncmp(extra->buf, "HTTP/1.1 503 ", 13) != 0) {
      print_bytes("refused connection got", extra->buf, extra->len);
      fail();
    }
    assert_int_equal(tn_count(extra->buf, extra->len, " 200 "), 0);
    tn_close(extra);
  }
  TN_WAIT_UNTIL(tn_stats(ts).connections_refused == 1, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).connections_refused, 1);

  /* The held ones still work. */
  for (int i = 0; i < 4; i++) {
    assert_int_equal(
        tn_send_str(held[i], "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    assert_int_equal(tn_read_response(held[i], &r, 0, TN_WAIT_MS), 0);
    assert_int_equal(r.status, 200);
    tn_response_free(&r);
  }

  /* Free a slot: once the server has seen the close, a new one works. */
  tn_close(held[0]);
  held[0] = NULL;
  TN_WAIT_UNTIL(tn_stats(ts).connections_open == 3, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).connections_open, 3);
  check_serving(ts->port);
  assert_int_equal(tn_stats(ts).connections_refused, 1);
  for (int i = 1; i < 4; i++)
    tn_close(held[i]);
  TN_WAIT_UNTIL(tn_stats(ts).connections_open == 0, TN_WAIT_MS);
  assert_int_equal(tn_stats(ts).connections_open, 0);
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  /* Cases that need their own config start the server themselves. */
#define TC(fn) cmocka_unit_test_teardown(fn, teardown)
  const struct CMUnitTest tests[] = {
      T(malformed_is_400_and_close),
      T(smuggling_is_400_and_close),
      T(pipelined_bad_request_stops_pipeline),
      T(bad_path_is_400),
      T(unknown_transfer_coding_is_501),
      T(unknown_expectation_is_417),
      T(unsupported_version_is_505),
      T(target_too_long_is_414),
      T(header_too_large_is_431),
      T(header_under_limit_is_fine),
      T(too_many_fields_is_431),
      T(body_too_large_content_length_is_413),
      T(body_too_large_chunked_is_413),
      T(random_garbage),
      TC(header_timeout_is_408_and_close),
      TC(header_timeout_slow_drip),
      TC(idle_keepalive_timeout_closes),
      TC(max_connections_refuses_extra),
  };
#undef T
#undef TC
  return cmocka_run_group_tests(tests, NULL, NULL);
}
